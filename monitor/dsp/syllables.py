"""Syllable nuclei: intensity peaks with a dip on both sides, voiced only (de Jong & Wempe 2009)."""

from __future__ import annotations

import math
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
    max_vowel_lean: float = -1.0    # how far the model may lean to breath or cough over the vowel of a
                                    # peak that stands alone (its mean score margin over the periodic
                                    # frames of that stretch; negative: it must lean to speech by as
                                    # much); inf: no such test. -1 (was 0): shallow breathing's
                                    # syllables 5.4 -> 4.0 a minute (training side), real speech's
                                    # vowels lean to speech by 2.4 or more in 95 of 100
    alone_frames: int = 95          # half-width of the stretch around a peak where running speech is sought
    alone_periodic_frames: int = 50  # a peak with fewer periodic frames within it stands alone (500 ms)
    running_vowel_lean: float = 1.0  # as max_vowel_lean, for a peak in running speech (inf: no such test)
    running_above_floor_db: float = 20.0  # ... whose intensity stands this far above the noise floor (a
                                    # clean line: over hum or babble the model leans to breath on
                                    # many a vowel). 1 / 20: coughs' syllables 3.4 -> 1.1 a minute,
                                    # deep breathing's 2.6 -> 2.3 (training side); real speech, clean
                                    # or over the noisy lines at 5-20 dB, keeps every syllable

    def __post_init__(self) -> None:
        if self.support_frames < 0 or not 0 <= self.min_support_frames <= 2 * self.support_frames + 1:
            raise ValueError(f"support_frames >= 0 and min_support_frames from 0 (no support test) to the "
                             f"stretch's 2 * support_frames + 1 frames, got {self.support_frames} and "
                             f"{self.min_support_frames}")
        if self.alone_frames < 0 or not 0 <= self.alone_periodic_frames <= 2 * self.alone_frames + 1:
            raise ValueError(f"alone_frames >= 0 and alone_periodic_frames from 0 to the stretch's "
                             f"2 * alone_frames + 1 frames, got {self.alone_frames} and {self.alone_periodic_frames}")
        if not self.running_vowel_lean > -math.inf:
            raise ValueError(f"running_vowel_lean: a number or inf (no such test), got {self.running_vowel_lean}")
        if not self.max_vowel_lean > -math.inf:  # NaN or -inf would turn the test off unsaid
            raise ValueError(f"max_vowel_lean: a number or inf (no such test), got {self.max_vowel_lean}")


def intensity_db(energy_db: np.ndarray, params: SyllableParams) -> np.ndarray:
    """Smoothed intensity contour in dB. Shape (n,) -> (n,)."""
    return smooth_db(energy_db, params.smooth_frames)


def nuclei(intensity: np.ndarray, voiced: np.ndarray, speech: np.ndarray,
           params: SyllableParams, level_db: np.ndarray | None = None,
           strength: np.ndarray | None = None, scores: np.ndarray | None = None,
           floor_db: np.ndarray | None = None) -> np.ndarray:
    """Syllable nuclei as a boolean mask over frames.

    Parameters
    ----------
    intensity : np.ndarray [shape=(n,)]  smoothed intensity in dB
    voiced, speech : np.ndarray [shape=(n,)], bool
    level_db : np.ndarray [shape=(n,)], optional
        Trailing peak of ``intensity``, if the caller has it already.
    strength : np.ndarray [shape=(n,)], optional
    scores : np.ndarray [shape=(n, 3)], optional
    floor_db : np.ndarray [shape=(n,)], optional
        Periodicity (normalised autocorrelation peak) and sound-class scores (speech, breath,
        cough) of each frame, and the noise floor (dB), for the support test (:func:`supported`);
        without them (the class disabled) that test is skipped (without the floor, every peak in
        running speech counts as on a clean line).

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
    if strength is not None and scores is not None and len(keep):
        height = None if floor_db is None else intensity[keep] - floor_db[keep]
        keep = keep[supported(keep, strength, scores, params, height)]
    out[keep] = True
    return out


def supported(peaks: np.ndarray, strength: np.ndarray, scores: np.ndarray, params: SyllableParams,
              height_db: np.ndarray | None = None) -> np.ndarray:
    """Which peaks (all in speech) sit on a vowel rather than on a breath's or a cough's voicing.

    A peak's vowel is the periodic frames (``strength`` at least ``min_strength``) within
    ``support_frames`` each side (frames beyond the ends count as not periodic). Two tests:

    * a peak where the sound-class model scores breath or cough above speech (the class rules
      keep many a frame the model leans against as speech) needs at least ``min_support_frames``
      periodic frames in that stretch: a short word the model takes for speech keeps its
      syllable, a voiced blip in a breath needs a vowel around it (0: no such test);
    * a peak that stands alone (fewer than ``alone_periodic_frames`` periodic frames within
      ``alone_frames`` each side: no running speech around it) holds no syllable where, over its
      vowel, the model's speech score falls short of the better of breath and cough by more than
      ``max_vowel_lean`` on average: a breath or a cough voiced for a while (a moan, a cough's
      voiced tail), which the class rules keep as speech for its periodicity;
    * a peak in running speech whose intensity stands ``running_above_floor_db`` or more above the
      noise floor (``height_db``, a clean line) holds none where that lean falls short by more than
      ``running_vowel_lean``: a cough train voiced for long. Nearer the floor the lean decides
      nothing in running speech (over hum or babble the model leans to breath on many a vowel);
      without ``height_db`` every peak counts as clean.

    Periodicity is a raw feature and a frame's scores are final once the frames its features
    reach are there, so the tests need no more context than their stretches, and the lean the
    class features' reach beyond its own (:class:`AnalyzerConfig` checks both).

    Shapes: peaks (k,), int; strength (n,); scores (n, 3); height_db (k,) -> (k,), bool.
    """
    at = scores[peaks]
    speechlike = at[:, 0] >= np.maximum(at[:, 1], at[:, 2])
    lean_test = math.isfinite(params.max_vowel_lean)
    running_test = math.isfinite(params.running_vowel_lean) and (
        height_db is None or bool(np.count_nonzero(height_db >= params.running_above_floor_db) > 0))
    if not (lean_test or running_test) and (params.min_support_frames == 0
                                            or np.count_nonzero(speechlike) == len(peaks)):
        return speechlike | (params.min_support_frames == 0)
    periodic = strength >= params.min_strength
    if not running_test and np.count_nonzero(speechlike) == len(peaks) and _running(peaks, periodic, params):
        return speechlike  # every peak on a frame the model takes for speech, in running speech (the usual case)
    within = _periodic_within(peaks, periodic, params, lean_test or running_test)
    ok = speechlike | (within[:, 0] >= params.min_support_frames)
    if not (lean_test or running_test):
        return ok
    return _lean_kept(ok, peaks, periodic, scores, within, height_db, params, lean_test, running_test)


def _periodic_within(peaks: np.ndarray, periodic: np.ndarray, params: SyllableParams, alone: bool) -> np.ndarray:
    """How many periodic frames lie within ``support_frames`` of each peak, and within
    ``alone_frames`` (with ``alone``; else on the peak's own frame) for the test of a peak alone.

    Shapes: peaks (k,), int; periodic (n,), bool -> (k, 2), int.
    """
    n = len(periodic)
    count = np.zeros(n + 1, np.intp)  # count[j]: periodic frames before frame j
    np.add.accumulate(periodic, dtype=np.intp, out=count[1:])  # np.cumsum's additions, without its wrapper
    reach = np.array([params.support_frames, params.alone_frames if alone else 0])
    return count[np.minimum(peaks[:, None] + reach + 1, n)] - count[np.maximum(peaks[:, None] - reach, 0)]


def _lean_kept(ok: np.ndarray, peaks: np.ndarray, periodic: np.ndarray, scores: np.ndarray, within: np.ndarray,
               height_db: np.ndarray | None, params: SyllableParams, lean_test: bool,
               running_test: bool) -> np.ndarray:
    """``ok`` (changed in place) less the peaks whose vowel leans too far from speech: a peak
    alone (``max_vowel_lean``) or in running speech on a clean line (``running_vowel_lean``), as
    :func:`supported` says.

    Shapes: ok (k,), bool; peaks (k,), int; periodic (n,), bool; scores (n, 3);
    within (k, 2), int (:func:`_periodic_within`); height_db (k,) -> (k,), bool (``ok``).
    """
    alone = within[:, 1] < params.alone_periodic_frames
    # the lean's least value for each peak tested: alone, in running speech on a clean line, or none
    clean = ~alone if height_db is None else ~alone & (height_db >= params.running_above_floor_db)
    tested = (alone | clean) if lean_test and running_test else (alone if lean_test else clean)
    if np.count_nonzero(tested):  # (the lean of every peak: nearly all are tested, and they are few)
        least = np.where(alone, -params.max_vowel_lean, -params.running_vowel_lean)
        ok &= ~tested | (_vowel_lean(peaks, periodic, scores, params.support_frames, within[:, 0]) >= least)
    return ok


def _vowel_lean(peaks: np.ndarray, periodic: np.ndarray, scores: np.ndarray, reach: int,
                count: np.ndarray) -> np.ndarray:
    """The mean of speech's score less the better of breath's and cough's over the ``periodic``
    frames within ``reach`` each side of each peak (the peak's own among them; ``count``: how many
    they are). Each frame's lean is computed once, 0 where not periodic and beyond the ends; a
    peak's stretch is the same frames in the same order in any batch: the same sums. Shapes (k,),
    (n,), (n, 3), (k,) -> (k,)."""
    n = len(periodic)
    lean = np.zeros(n + 2 * reach, scores.dtype)
    np.subtract(scores[:, 0], np.maximum(scores[:, 1], scores[:, 2]), out=lean[reach:reach + n], where=periodic)
    at = peaks[:, None] + np.arange(2 * reach + 1)  # the stretches in the padded frames
    return lean[at].sum(axis=1, dtype=np.float64) / np.maximum(count, 1)


def _running(peaks: np.ndarray, periodic: np.ndarray, params: SyllableParams) -> bool:
    """Whether every peak has at least ``alone_periodic_frames`` ``periodic`` frames within
    ``alone_frames`` each side, by the stretch all those stretches share (one count: sufficient,
    not necessary). Shapes (k,), (n,)."""
    lo, hi = max(int(peaks.max()) - params.alone_frames, 0), int(peaks.min()) + params.alone_frames + 1
    return bool(np.count_nonzero(periodic[lo:hi]) >= params.alone_periodic_frames)
