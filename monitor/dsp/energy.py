"""Frame energy, an adaptive noise floor and voice activity."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import filters
from .runs import bridged_runs

FLOOR_DB = -100.0
DIGITAL_SILENCE_DB = FLOOR_DB + 0.1  # a frame at the energy's bottom: exact zeros (mean square under ~2e-12)
EDGE_FRAMES = 1  # the frame before a run of digital silence: its window may hold nearly only the run's zeros
OPENING_BLOCK = 16384  # samples :func:`opening_zeros` reads at a time
UNKNOWN_FLOOR_DB = 0.0
"""The noise floor before any frame was heard (the capture filled the first frames in, or the
signal opens in zeros): full scale, which no level stands above, so that until the floor is
learned only clearly periodic frames are speech (see :func:`voice_activity`)."""


@dataclass(frozen=True)
class VadParams:
    """Voice-activity settings; durations in frames of the analysis hop (10 ms)."""

    smooth_frames: int = 9          # power averaging before the floor tracker
    floor_window_frames: int = 400  # trailing minimum over 4 s
    level_window_frames: int = 1000  # trailing peak level over 10 s
    floor_margin_db: float = 6.0    # speech must stand this far above a fluctuating noise floor (babble) ...
    steady_margin_db: float = 6.0   # ... and this far above a steady one (white, pink, hum); 6: the same (off)
    spread_smooth_frames: int = 25  # the slower smoothing whose floor, against the floor, is the noise's spread
    spread_gain: float = 4.0        # margin = spread_gain * spread, between the two margins above
    below_peak_db: float = 30.0     # ... and be no more than this below the recent peak level
    absolute_min_db: float = -65.0  # never speech below this (dBFS)
    min_gap_frames: int = 8         # gaps shorter than 80 ms are bridged (stop closures)
    min_speech_frames: int = 5      # bursts shorter than 50 ms are dropped (clicks)
    periodic_strength: float = 0.6  # clearly periodic frames count as speech even before a floor is known
    periodic_below_peak_db: float = 25.0
    line_noise_db: float = -60.0    # digital silence is held through where the line stood above this ...
    line_noise_frames: int = 30     # ... over these frames before it (see line_silence)

    def __post_init__(self) -> None:
        for name in ("steady_margin_db", "spread_gain"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"vad.{name}: a finite number, got {getattr(self, name)!r}")
        if self.steady_margin_db < 0:
            raise ValueError(f"vad.steady_margin_db: 0 dB or more (a margin above the floor), "
                             f"got {self.steady_margin_db!r}")
        if self.spread_gain <= 0:
            raise ValueError(f"vad.spread_gain: more than 0 (the margin grows with the noise's spread), "
                             f"got {self.spread_gain!r}")
        if not math.isfinite(self.line_noise_db):
            raise ValueError(f"vad.line_noise_db: a finite number, got {self.line_noise_db!r}")
        if not (isinstance(self.line_noise_frames, int) and self.line_noise_frames >= 1):
            raise ValueError(f"vad.line_noise_frames: a whole number of frames, 1 or more, "
                             f"got {self.line_noise_frames!r}")
        if not (isinstance(self.spread_smooth_frames, int) and self.spread_smooth_frames >= 1):
            raise ValueError(f"vad.spread_smooth_frames: a whole number of frames, 1 or more, "
                             f"got {self.spread_smooth_frames!r}")

    @property
    def steady_margin(self) -> bool:
        """Whether a steady noise floor gets a smaller margin (:func:`floor_margin_db`). Off by
        default: measured on the evaluation corpus, a 3 dB margin heard more of the callers' speech
        over white and pink noise but found no more labored calls and cost false alarms
        (a ``steady_margin_db`` at or above ``floor_margin_db`` is off, as the default)."""
        return self.steady_margin_db < self.floor_margin_db


def frame_energy_db(frames: np.ndarray) -> np.ndarray:
    """Mean-square level of each frame in dBFS.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, frame_length)]

    Returns
    -------
    energy_db : np.ndarray [shape=(n,)], >= -100 dB
    """
    ms = np.add.reduce(np.square(frames, dtype=np.float32), axis=1)
    np.true_divide(ms, np.intp(frames.shape[1]), out=ms, casting="unsafe")  # np.mean's division, without its wrapper
    return np.maximum(10.0 * np.log10(ms + 1e-10), FLOOR_DB).astype(np.float32)


def smooth_db(energy_db: np.ndarray, frames: int) -> np.ndarray:
    """Centred moving average of power (not of dB), returned in dB. Shape (n,) -> (n,)."""
    power = np.power(10.0, energy_db / 10.0)
    return (10.0 * np.log10(filters.moving_average(power, frames, mode="nearest") + 1e-10)).astype(np.float32)


def trailing_min(x: np.ndarray, window: int) -> np.ndarray:
    """``out[i] = min(x[max(0, i-window+1) : i+1])``. Shape (n,) -> (n,)."""
    return filters.trailing_min(x, window)


def trailing_max(x: np.ndarray, window: int) -> np.ndarray:
    """``out[i] = max(x[max(0, i-window+1) : i+1])``. Shape (n,) -> (n,)."""
    return filters.trailing_max(x, window)


def heard_frames(unheard: np.ndarray, reach: int, lo: int = 0) -> np.ndarray:
    """Frames ``lo ..`` with no frame marked not heard (``unheard``: the capture filled their
    samples in, no audio having come) among them and the ``reach`` frames each side (those a centred
    smoothing over ``2 reach + 1`` frames reads), reading only the marks from ``lo - reach``.
    Shape (n,) bool -> (n - lo,), bool."""
    start = max(0, lo - reach)
    marked = unheard[start:]
    if not np.count_nonzero(marked):
        return np.ones(len(unheard) - lo, bool)
    count = np.concatenate([[0], np.cumsum(marked)])
    at = np.arange(lo - start, len(marked))
    return count[np.minimum(at + reach + 1, len(marked))] == count[np.maximum(at - reach, 0)]


def line_silence(energy_db: np.ndarray, params: VadParams, lo: int = 0, open_run: bool = False) -> np.ndarray:
    """Frames ``lo ..`` of digital silence (at most :data:`DIGITAL_SILENCE_DB`) that fell into a
    line's noise: the frames of a run of them whose ``line_noise_frames`` frames before it (less the
    :data:`EDGE_FRAMES` next to it, whose windows may hold its zeros) all stand above
    ``line_noise_db`` (the next two windows hold at most 15 and 5 ms of its zeros of 25 ms: the
    line's level less 4 dB at worst). A softphone's silence suppression (DTX without comfort noise) or a lost
    packet leaves such runs in a noisy line's pauses; a gated recording's zeros (its sounds fade
    into them, or its earlier zeros lie within those frames) and a run with too little before it
    (a signal opening in silence) are not. Only the frames before a run decide it (a stream marks
    each frame as it comes); frames before ``lo`` are context, and a run open at ``lo`` that started
    before it takes ``open_run`` (the mark of frame ``lo - 1``). Shape (n,) -> (n - lo,), bool."""
    silent = energy_db <= DIGITAL_SILENCE_DB
    n, reach = len(energy_db), params.line_noise_frames + EDGE_FRAMES
    if not np.count_nonzero(silent[lo:]):
        return np.zeros(n - lo, bool)
    starts = silent.copy()
    starts[1:] &= ~silent[:-1]
    starts[:lo] = False
    if lo and silent[lo - 1]:
        starts[lo] = False  # the run open at lo: open_run
    at = np.flatnonzero(starts)
    ok = np.zeros(len(at), bool)
    full = at >= reach  # the line's frames all there to see
    if np.count_nonzero(full):
        lowest = trailing_min(energy_db[:max(at[full]) - EDGE_FRAMES], params.line_noise_frames)
        ok[full] = lowest[at[full] - EDGE_FRAMES - 1] > params.line_noise_db
    # each frame's run: the last start up to it (-1: the run open at lo)
    run = np.maximum.accumulate(np.where(starts, np.arange(n), -1)[lo:])
    decided = np.zeros(n + 1, bool)
    decided[at] = ok
    decided[-1] = open_run
    return silent[lo:] & decided[run]


def opening_zeros(x: np.ndarray) -> int:
    """How many samples of exact zeros the signal opens with (a softphone's sink monitor reads
    zeros until the call plays into it; a gated recording opens in the silence its pauses hold).
    The frames that hold both the last of them and the first sound are not heard, so the level
    trackers learn nothing from them nor from the frames whose smoothing reaches them: such a
    window mixes the zeros with a line's noise and reads a level a few dB below the noise, a floor
    that the noise then rises above as if it were speech, for as long as the floor remembers it.
    The zeros themselves are the line's silence, as a gated recording's are. Shape (n,) -> int,
    ``n`` when all are zeros. Read a block at a time, as far as the zeros go (a long signal is not
    copied whole)."""
    for at in range(0, len(x), OPENING_BLOCK):
        sound = np.flatnonzero(x[at:at + OPENING_BLOCK])
        if len(sound):
            return at + int(sound[0])
    return len(x)


def held(extreme: np.ndarray, heard: np.ndarray, before: float | np.floating = FLOOR_DB) -> np.ndarray:
    """Per frame, the value ``extreme`` has at the last heard frame up to it (``before`` until the
    first): ``extreme`` (shape (k,)) holds one value per heard frame of ``heard`` (shape (n,), bool,
    k of them True). Shape -> (n,), float32."""
    last = np.cumsum(heard) - 1
    if not len(extreme):
        return np.full(len(heard), before, np.float32)
    return np.where(last >= 0, extreme[np.maximum(last, 0)], np.float32(before)).astype(np.float32, copy=False)


def heard_extremum(values: np.ndarray, heard: np.ndarray, window: int, reduce: np.ufunc) -> np.ndarray:
    """``reduce`` (``np.minimum``: a floor, ``np.maximum``: a peak) of ``values`` over the last
    ``window`` heard frames (:func:`heard_frames`), at a frame not heard the value of the last heard
    one (before any, :data:`UNKNOWN_FLOOR_DB` for a floor, :data:`FLOOR_DB` for a peak): a tracker
    that learns nothing from the time the capture marked as not heard and goes on after it from
    where it was. All heard: the trailing extremum over
    ``window`` frames. Shapes (n,), (n,) -> (n,)."""
    trail = trailing_min if reduce is np.minimum else trailing_max
    if np.count_nonzero(heard) == len(heard):
        return trail(values, window)
    return held(trail(values[heard], window), heard, unheard_extremum(reduce))


def unheard_extremum(reduce: np.ufunc) -> float:
    """What a tracker's extremum (``np.minimum``: a floor, ``np.maximum``: a peak) is before any
    frame was heard: a floor not known yet, a peak at the energy's bottom."""
    return UNKNOWN_FLOOR_DB if reduce is np.minimum else FLOOR_DB


def noise_floor_db(energy_db: np.ndarray, params: VadParams) -> np.ndarray:
    """Adaptive noise floor: trailing minimum of the smoothed level. Shape (n,) -> (n,)."""
    return trailing_min(smooth_db(energy_db, params.smooth_frames), params.floor_window_frames)


def noise_floor_db_from(energy_db: np.ndarray, lo: int, params: VadParams) -> np.ndarray:
    """``noise_floor_db(energy_db, params)[lo:]``, reading only the frames its trailing minimum
    and its smoothing reach before ``lo``. Shape (n,) -> (n - lo,)."""
    return _floor_from(energy_db, lo, params.smooth_frames, params.floor_window_frames)


def slow_floor_db_from(energy_db: np.ndarray, lo: int, params: VadParams) -> np.ndarray:
    """The floor of the level smoothed over ``spread_smooth_frames`` (a trailing minimum over
    ``floor_window_frames``, as :func:`noise_floor_db_from`), frames ``lo ..``. Shape (n,) -> (n - lo,)."""
    return _floor_from(energy_db, lo, params.spread_smooth_frames, params.floor_window_frames)


def heard_floor_db(energy_db: np.ndarray, unheard: np.ndarray, smooth: int, window: int) -> np.ndarray:
    """The floor of :func:`noise_floor_db_from` (level smoothed over ``smooth`` frames, trailing
    minimum over ``window``) of a whole signal, over its heard frames only (:func:`heard_extremum`;
    ``unheard`` shape (n,), bool: the frames the capture marked). Shape (n,) -> (n,)."""
    return heard_extremum(smooth_db(energy_db, smooth), heard_frames(unheard, smooth // 2), window, np.minimum)


def _floor_from(energy_db: np.ndarray, lo: int, smooth: int, window: int) -> np.ndarray:
    """Trailing minimum over ``window`` frames of the level smoothed over ``smooth`` frames, frames
    ``lo ..``, reading only the frames both reach before ``lo``. Shape (n,) -> (n - lo,)."""
    start = max(0, lo - (window - 1) - smooth // 2)
    return filters.trailing_min_between(smooth_db(energy_db[start:], smooth), window, lo - start,
                                        len(energy_db) - start)


def floor_margin_db(floor_db: np.ndarray, slow_floor_db: np.ndarray, params: VadParams) -> np.ndarray:
    """How far speech must stand above the noise floor, frame by frame.

    The floor is the quietest 90 ms of the last 4 s; the same minimum over 250 ms averages
    (``slow_floor_db``) lies within a fraction of a dB of it over a steady noise (white, pink,
    mains hum, a line's hiss: the level of 90 ms of it hardly varies) and several dB above it over
    talk in the background, whose level dips between its syllables. That spread, times
    ``spread_gain``, is the margin, between ``steady_margin_db`` (a steady noise: a weak voice a
    few dB above it is already audible) and ``floor_margin_db`` (talk: its louder moments must
    not pass for speech).

    Parameters
    ----------
    floor_db, slow_floor_db : np.ndarray [shape=(n,)]

    Returns
    -------
    margin_db : np.ndarray [shape=(n,)], float32
    """
    spread = np.subtract(slow_floor_db, floor_db, dtype=np.float32)
    return np.clip(spread * np.float32(params.spread_gain), params.steady_margin_db,
                   params.floor_margin_db).astype(np.float32, copy=False)


def peak_level(energy_db: np.ndarray, params: VadParams, unheard: np.ndarray | None = None) -> np.ndarray:
    """Recent peak level: trailing maximum of the 30 ms smoothed level, over the heard frames only
    when some are marked ``unheard`` (shape (n,), bool; :func:`heard_extremum`). Shape (n,) -> (n,)."""
    smooth = smooth_db(energy_db, 3)
    if unheard is None:
        return trailing_max(smooth, params.level_window_frames)
    return heard_extremum(smooth, heard_frames(unheard, 1), params.level_window_frames, np.maximum)


def voice_activity(energy_db: np.ndarray, floor_db: np.ndarray, strength: np.ndarray,
                   params: VadParams, level_db: np.ndarray | None = None,
                   margin_db: np.ndarray | None = None) -> np.ndarray:
    """Speech (True) or not for each frame.

    A frame is speech when its level stands ``margin_db`` (:func:`floor_margin_db`; by default
    ``floor_margin_db``) above the noise floor, within ``below_peak_db`` of the recent peak level and above
    ``absolute_min_db``. A clearly periodic frame (correlation strength
    ``periodic_strength``) within ``periodic_below_peak_db`` of the peak level
    is speech too: the floor tracker cannot know the floor while a stream
    opens in the middle of speech. Short gaps are bridged and short bursts
    dropped.

    Parameters
    ----------
    energy_db, floor_db, strength : np.ndarray [shape=(n,)]
    level_db : np.ndarray [shape=(n,)], optional
        The recent peak level, if the caller has it already
        (default: :func:`peak_level` of ``energy_db``).
    margin_db : np.ndarray [shape=(n,)], optional
        The floor's margin per frame (default: ``floor_margin_db`` everywhere).

    Returns
    -------
    speech : np.ndarray [shape=(n,)], bool
    """
    level = peak_level(energy_db, params) if level_db is None else level_db
    # above each bound is above the highest (np.maximum keeps a NaN, which no level is above)
    margin = params.floor_margin_db if margin_db is None else margin_db
    raw = energy_db > np.maximum(np.maximum(floor_db + margin, level - params.below_peak_db),
                                 params.absolute_min_db)
    raw |= (strength >= params.periodic_strength) & (
        energy_db > np.maximum(level - params.periodic_below_peak_db, params.absolute_min_db))
    return bridged_runs(raw, params.min_gap_frames, params.min_speech_frames)
