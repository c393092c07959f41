"""Speech runs too faint to be the speaker's own voice: background talk taken for speech.

A caller's own words reach the microphone at the caller's speaking level; other people talking
in the background (babble, a television, an office) reach it far below that level, and the
voice activity detector can take them for speech all the same: during a hold, in the gaps
between turns and in the pauses inside them. A run of speech frames whose loudest frame stays
more than ``gate_db`` below the speaker's level (a high quantile of their speech frames' energy)
is such background talk. The test is per run, not per frame, so that the quiet onsets and
endings of the speaker's own words are kept with the words they belong to.
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
              level_db: float | None = None) -> np.ndarray:
    """The speech frames that belong to runs within ``gate_db`` of the speaker's level.

    Parameters
    ----------
    energy_db : np.ndarray [shape=(n,)]  frame energy, dB
    speech : np.ndarray [shape=(n,)], bool
    gate_db : float  a run whose loudest frame is further below the level is not the speaker's
        (<= 0: every speech frame is kept)
    level_db : float, optional  the speaker's level (default :func:`speaker_level_db`)

    Returns
    -------
    voice : np.ndarray [shape=(n,)], bool  ``speech`` without the faint runs
    """
    speech = np.asarray(speech, dtype=bool)
    level = speaker_level_db(energy_db, speech) if level_db is None else level_db
    if gate_db <= 0 or level is None or not speech.any():
        return speech.copy()
    starts, ends = runs(speech)
    e = np.nan_to_num(np.asarray(energy_db, dtype=np.float64), nan=-np.inf)
    # reduceat reaches from one run's start to the next's: the silence between is left out
    peaks = np.maximum.reduceat(np.where(speech, e, -np.inf), starts)
    loud = peaks >= level - gate_db
    return runs_to_mask(starts[loud], ends[loud], len(speech))
