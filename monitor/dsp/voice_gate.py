"""Speech runs too faint to be the speaker's own voice: background talk taken for speech.

A caller's own words reach the microphone at the caller's speaking level; other people talking
in the background (babble, a television, an office) reach it far below that level, and the
voice activity detector can take them for speech all the same: during a hold, in the gaps
between turns and in the pauses inside them. A run of speech frames whose loudest frame stays
more than ``gate_db`` below the speaker's level (a high quantile of their speech frames' energy)
is such background talk. The test is per run, not per frame, so that the quiet onsets and
endings of the speaker's own words are kept with the words they belong to.

Over a hold neither party speaks, and talk in the background can pass that level test all the
same (babble a few dB louder than usual). A speaker's own words, however weak, answer the other
party or go on from their own clearer words within seconds; talk that starts after a long
silence of both parties and stays faint is the room, not the speaker (:func:`hold_talk`).
"""

from __future__ import annotations

import numpy as np

from .quantile import quantile_linear
from .runs import runs, runs_to_mask


def speaker_level_db(energy_db: np.ndarray, speech: np.ndarray, quantile: float = 0.9) -> float | None:
    """The speaker's level: the ``quantile`` of the speech frames' energy (None without speech).

    Parameters
    ----------
    energy_db : np.ndarray [shape=(n,)]  frame energy, dB
    speech : np.ndarray [shape=(n,)], bool
    quantile : float in [0, 1]

    Returns
    -------
    level_db : float or None
    """
    e = np.asarray(energy_db, dtype=np.float64)[np.asarray(speech, dtype=bool)]
    e = e[np.isfinite(e)]
    return quantile_linear(e, quantile) if len(e) else None  # np.quantile's number, without its overhead


def held_level_db(held_db: float | None, now_db: float | None, decay_db: float) -> float | None:
    """The speaker's level carried from one step to the next: the level measured now, or the
    level held before less ``decay_db``, whichever is higher. Over a long stretch without the
    speaker (a hold with background talk), the frames kept hold only the talk, and the level
    measured on them alone would let the talk through; the held level falls slowly instead.

    Parameters
    ----------
    held_db : float or None  the level held at the previous step (None: none yet)
    now_db : float or None  the level measured now (None: no speech kept)
    decay_db : float >= 0  how far the held level may fall in one step

    Returns
    -------
    level_db : float or None
    """
    if held_db is None:
        return now_db
    fallen = held_db - decay_db
    return fallen if now_db is None else max(now_db, fallen)


def own_voice(energy_db: np.ndarray, speech: np.ndarray, gate_db: float,
              level_db: float | None = None, known: RunPeaks | None = None) -> np.ndarray:
    """The speech frames that belong to runs within ``gate_db`` of the speaker's level.

    Parameters
    ----------
    energy_db : np.ndarray [shape=(n,)]  frame energy, dB
    speech : np.ndarray [shape=(n,)], bool
    gate_db : float  a run whose loudest frame is further below the level is not the speaker's
        (<= 0: every speech frame is kept)
    level_db : float, optional  the speaker's level (default :func:`speaker_level_db`)
    known : RunPeaks, optional  :func:`run_peaks` of ``energy_db`` and ``speech``, when known

    Returns
    -------
    voice : np.ndarray [shape=(n,)], bool  ``speech`` without the faint runs
    """
    speech = np.asarray(speech, dtype=bool)
    level = speaker_level_db(energy_db, speech) if level_db is None else level_db
    if gate_db <= 0 or level is None or not speech.any():
        return speech.copy()
    starts, ends, peaks = run_peaks(energy_db, speech) if known is None else known
    loud = peaks >= level - gate_db
    return runs_to_mask(starts[loud], ends[loud], len(speech))


RunPeaks = tuple[np.ndarray, np.ndarray, np.ndarray]
"""The runs of a speaker's speech frames (starts, ends) and each run's loudest frame, as
:func:`run_peaks` gives them: shapes (k,), (k,), (k,). The gates of one step read the same runs,
so a caller that runs several of them finds them once and hands them in (``known``)."""

FaintRuns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""The runs, which of them are clear and the talk that ends a silence, as :func:`faint_runs` gives them."""


def run_peaks(energy_db: np.ndarray, speech: np.ndarray) -> RunPeaks:
    """The runs of ``speech`` (starts, ends) and each run's loudest frame (dB; NaN counts as
    -inf). Shapes (n,), (n,) bool with a True -> (k,), (k,), (k,)."""
    starts, ends = runs(speech)
    e = np.asarray(energy_db)
    # reduceat reaches from one run's start to the next's: the silence between is left out; the
    # maxima in the level's own type, then widened (exactly: the same numbers as widening first)
    heard = np.where(speech & ~np.isnan(e), e, -np.inf)
    return starts, ends, np.maximum.reduceat(heard, starts).astype(np.float64)


def seconds_since(talk: np.ndarray, starts: np.ndarray, hop_s: float) -> np.ndarray:
    """For each run start, the time back to the last frame of ``talk`` before it.

    What came before the frames given is not known: it counts as talk, so a run with no talk
    before it measures the time from the first frame.

    Parameters
    ----------
    talk : np.ndarray [shape=(n,)], bool
    starts : np.ndarray [shape=(k,)], int  frame indices
    hop_s : float  seconds per frame

    Returns
    -------
    since_s : np.ndarray [shape=(k,)]  seconds from the end of the last talk to each start
    """
    last = np.maximum.accumulate(np.where(np.asarray(talk, dtype=bool), np.arange(len(talk)), -1))
    before = np.where(starts > 0, last[np.maximum(starts - 1, 0)], -1)
    return (starts - before - 1) * hop_s


def hold_talk(energy_db: np.ndarray, speech: np.ndarray, other: np.ndarray, level_db: float | None,
              gate_db: float, quiet_s: float, hop_s: float, faint: FaintRuns | None = None) -> np.ndarray:
    """The speech frames of faint runs that begin after a long silence of both parties: talk in
    the background over a hold.

    A run is faint when its loudest frame stays more than ``gate_db`` below the speaker's level;
    the silence before it is the time back to the other party's last speech frame or the
    speaker's last run that is not faint, whichever is later. Faint runs do not end the silence,
    so a stretch of babble stays background as long as it stays ``gate_db`` below ``level_db``.
    The test looks only back in time: for a given level, a run's verdict depends on nothing
    after its end. (A caller of this function that holds the level from step to step and drops
    old frames sees a verdict change when the level moves past the run's peak; what came before
    the first frame counts as talk, see :func:`seconds_since`.)

    Parameters
    ----------
    energy_db : np.ndarray [shape=(n,)]  the speaker's frame energy, dB
    speech : np.ndarray [shape=(n,)], bool  the speaker's speech frames
    other : np.ndarray [shape=(n,)], bool  the other party's speech frames, on the same clock
    level_db : float or None  the speaker's level (None: nothing is dropped)
    gate_db : float  how far below the level a run is faint (<= 0: off)
    quiet_s : float  a faint run beginning more than this after both parties last spoke is
        background talk (<= 0: off)
    hop_s : float  seconds per frame
    faint : FaintRuns, optional  :func:`faint_runs` of these arguments, when known

    Returns
    -------
    held : np.ndarray [shape=(n,)], bool  the frames of those runs
    """
    speech = np.asarray(speech, dtype=bool)
    if gate_db <= 0 or quiet_s <= 0 or level_db is None or not speech.any():
        return np.zeros(len(speech), dtype=bool)
    starts, ends, clear, talk = faint_runs(energy_db, speech, other, level_db, gate_db) if faint is None else faint
    held = ~clear & (seconds_since(talk, starts, hop_s) > quiet_s)
    return runs_to_mask(starts[held], ends[held], len(speech))


def faint_runs(energy_db: np.ndarray, speech: np.ndarray, other: np.ndarray, level_db: float,
               gate_db: float, known: RunPeaks | None = None) -> FaintRuns:
    """The speaker's runs of ``speech`` (starts, ends), which of them are clear (their loudest
    frame within ``gate_db`` of ``level_db``; the others are faint) and the talk that ends a
    silence (the clear runs' frames and the other party's speech); ``known``: :func:`run_peaks`
    of ``energy_db`` and ``speech``, when known.
    Shapes (n,), (n,) bool with a True, (n,) bool -> (k,), (k,), (k,) bool, (n,) bool."""
    starts, ends, peaks = run_peaks(energy_db, speech) if known is None else known
    clear = peaks >= level_db - gate_db
    talk = runs_to_mask(starts[clear], ends[clear], len(speech)) | np.asarray(other, dtype=bool)
    return starts, ends, clear, talk
