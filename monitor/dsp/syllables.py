"""Syllable nuclei: intensity peaks with a dip on both sides, voiced only (de Jong & Wempe 2009)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from .energy import smooth_db, trailing_max
from .peaks import find_peaks


@dataclass(frozen=True)
class SyllableParams:
    """Nucleus detection settings; frame counts at the 10 ms hop."""

    smooth_frames: int = 3          # intensity smoothing (power average, 30 ms)
    below_peak_db: float = 25.0     # de Jong's silence threshold: peaks within 25 dB of the level
    min_dip_db: float = 2.5         # de Jong's minimum dip
    prominence_window: int = 41     # frames over which a dip is sought (both sides)
    min_distance: int = 5           # two nuclei at least 50 ms apart
    level_window_frames: int = 1000
    min_strength: float = 0.45       # periodicity a nucleus needs (breathy vowels stay below
                                    # the 0.45 voicing threshold but are still syllables)


def intensity_db(energy_db: np.ndarray, params: SyllableParams) -> np.ndarray:
    """Smoothed intensity contour in dB. Shape (n,) -> (n,)."""
    return smooth_db(energy_db, params.smooth_frames)


def nuclei(intensity: np.ndarray, voiced: np.ndarray, speech: np.ndarray,
           params: SyllableParams, level_db: np.ndarray | None = None) -> np.ndarray:
    """Syllable nuclei as a boolean mask over frames.

    Parameters
    ----------
    intensity : np.ndarray [shape=(n,)]  smoothed intensity in dB
    voiced, speech : np.ndarray [shape=(n,)], bool
    level_db : np.ndarray [shape=(n,)], optional
        Trailing peak of ``intensity``, if the caller has it already.

    Returns
    -------
    nucleus : np.ndarray [shape=(n,)], bool
        Local maxima standing ``min_dip_db`` above the dips on both sides
        (within ``prominence_window``), within ``below_peak_db`` of the
        recent peak level, in voiced speech.
    """
    out = np.zeros(len(intensity), dtype=bool)
    if len(intensity) < 3:
        return out
    level = trailing_max(intensity, params.level_window_frames) if level_db is None else level_db
    peaks = find_peaks(intensity, params.min_dip_db, params.prominence_window, params.min_distance)
    keep = peaks[(intensity[peaks] > level[peaks] - params.below_peak_db) & voiced[peaks] & speech[peaks]]
    out[keep] = True
    return out
