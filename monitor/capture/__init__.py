"""Capture: reading call audio from files and live devices into timed chunks per leg, and cutting\na device stream into calls."""
