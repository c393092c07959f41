"""Long, deterministic real-speech signals for benchmarks.

``long_speech(seconds, rate)`` concatenates the 61 real utterances of
audio_fixtures/real (in manifest order, repeated as needed), each resampled to
``rate`` with scipy.signal.resample_poly, separated by silences of 0.25-0.85 s
(a fixed cycle), over a quiet noise floor (-70 dBFS, fixed seed), cut to exactly
``seconds``. Same arguments, same samples.
"""
from __future__ import annotations

import csv
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

REAL = Path(__file__).resolve().parents[1] / "audio_fixtures" / "real"
GAPS_S = (0.25, 0.4, 0.6, 0.85, 0.3, 0.5)
NOISE_DBFS = -70.0


@lru_cache(maxsize=4)
def utterances(rate: int) -> tuple[np.ndarray, ...]:
    """The 61 real utterances as float32 mono at ``rate`` (manifest order)."""
    with open(REAL / "manifest.csv", newline="") as fh:
        paths = [REAL / r["path"] for r in csv.DictReader(fh)]
    out = []
    for p in paths:
        x, sr = sf.read(str(p), dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        if sr != rate:
            f = Fraction(rate, sr)
            x = resample_poly(x, f.numerator, f.denominator).astype(np.float32)
        out.append(x)
    return tuple(out)


def long_speech(seconds: float, rate: int = 16000) -> np.ndarray:
    """``seconds`` of concatenated real speech at ``rate`` Hz, float32 mono."""
    n = int(round(seconds * rate))
    utts = utterances(rate)
    pieces, total, i = [], 0, 0
    while total < n:
        gap = np.zeros(int(GAPS_S[i % len(GAPS_S)] * rate), np.float32)
        for piece in (utts[i % len(utts)], gap):
            pieces.append(piece)
            total += len(piece)
        i += 1
    x = np.concatenate(pieces)[:n]
    rng = np.random.default_rng(20240601)
    x += (10 ** (NOISE_DBFS / 20) * rng.standard_normal(n)).astype(np.float32)
    return np.clip(x, -1.0, 1.0, out=x)
