"""Pure DSP functions on numpy arrays: no I/O, no state.

Modules: :mod:`framing` (strided frames), :mod:`energy` (levels, noise floor,
voice activity), :mod:`pitch` (normalised cross-correlation, F0, voicing, HNR),
:mod:`cepstrum` (CPP/CPPS, spectral slope), :mod:`syllables` (syllable nuclei),
:mod:`runs` (run-length helpers for pauses and phrases).
"""
