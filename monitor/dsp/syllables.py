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
    support_frames: int = 25        # half-width of the stretch around a peak where its vowel is sought
                                    # (within the context a batch holds: AnalyzerConfig checks)
    min_support_frames: int = 15    # periodic frames (``min_strength``) within that stretch that a
                                    # nucleus the sound-class model leans to breath or cough for
                                    # needs: 150 ms of vowel (0: no such test)

    def __post_init__(self) -> None:
        if self.support_frames < 0 or not 0 <= self.min_support_frames <= 2 * self.support_frames + 1:
            raise ValueError(f"support_frames >= 0 and min_support_frames from 0 (no support test) to the "
                             f"stretch's 2 * support_frames + 1 frames, got {self.support_frames} and "
                             f"{self.min_support_frames}")


def intensity_db(energy_db: np.ndarray, params: SyllableParams) -> np.ndarray:
    """Smoothed intensity contour in dB. Shape (n,) -> (n,)."""
    return smooth_db(energy_db, params.smooth_frames)


def nuclei(intensity: np.ndarray, voiced: np.ndarray, speech: np.ndarray,
           params: SyllableParams, level_db: np.ndarray | None = None,
           strength: np.ndarray | None = None, scores: np.ndarray | None = None) -> np.ndarray:
    """Syllable nuclei as a boolean mask over frames.

    Parameters
    ----------
    intensity : np.ndarray [shape=(n,)]  smoothed intensity in dB
    voiced, speech : np.ndarray [shape=(n,)], bool
    level_db : np.ndarray [shape=(n,)], optional
        Trailing peak of ``intensity``, if the caller has it already.
    strength : np.ndarray [shape=(n,)], optional
    scores : np.ndarray [shape=(n, 3)], optional
        Periodicity (normalised autocorrelation peak) and sound-class scores (speech, breath,
        cough) of each frame, for the support test (:func:`supported`); without them (the class
        disabled) that test is skipped.

    Returns
    -------
    nucleus : np.ndarray [shape=(n,)], bool
        Local maxima standing ``min_dip_db`` above the dips on both sides
        (within ``prominence_window``), within ``below_peak_db`` of the
        recent peak level, in voiced speech, and supported (:func:`supported`).
    """
    out = np.zeros(len(intensity), dtype=bool)
    if len(intensity) < 3:
        return out
    level = trailing_max(intensity, params.level_window_frames) if level_db is None else level_db
    peaks = find_peaks(intensity, params.min_dip_db, params.prominence_window, params.min_distance)
    keep = peaks[(intensity[peaks] > level[peaks] - params.below_peak_db) & voiced[peaks] & speech[peaks]]
    if strength is not None and scores is not None and params.min_support_frames > 0 and len(keep):
        keep = keep[supported(keep, strength, scores, params)]
    out[keep] = True
    return out


def supported(peaks: np.ndarray, strength: np.ndarray, scores: np.ndarray, params: SyllableParams) -> np.ndarray:
    """Which peaks (all in speech) sit on a vowel rather than on a breath's or a cough's stray
    periodic frames: those where the sound-class model scores speech at least as high as breath
    and cough (the class rules keep many a frame the model leans against as speech), and those
    with at least ``min_support_frames`` periodic frames (``strength`` at least ``min_strength``)
    within ``support_frames`` each side (frames beyond the ends count as not periodic). A short
    word the model takes for speech keeps its syllable; a voiced blip in a breath, which it does
    not, needs a vowel around it. The periodic frames are counted only around the other peaks.

    Periodicity is a raw feature and a frame's scores are final once the frames its features
    reach are there, so the test needs no more context than the peak's own class.

    Shapes: peaks (k,), int; strength (n,); scores (n, 3) -> (k,), bool.
    """
    at = scores[peaks]
    speechlike = at[:, 0] >= np.maximum(at[:, 1], at[:, 2])
    if np.count_nonzero(speechlike) == len(peaks):  # every peak on a frame the model takes for speech
        return speechlike
    n, reach = len(strength), params.support_frames
    count = np.zeros(n + 1, np.intp)  # count[j]: periodic frames before frame j
    np.add.accumulate(strength >= params.min_strength, out=count[1:], dtype=np.intp)
    lo = np.maximum(peaks - reach, 0)
    hi = np.minimum(peaks + reach + 1, n)
    return speechlike | (count[hi] - count[lo] >= params.min_support_frames)
