"""Transcription: Vosk models, the per-leg recognizer, its setup from the configuration, and\ndistress-phrase spotting in the words."""
