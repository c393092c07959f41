"""Looped sounds (ringtones, call-waiting beeps, alert jingles): not the caller's speech.

A softphone plays its ringtone into the leg the analyzer hears as the caller's until the call is
answered. A ringtone is a melody (notes of changing pitch, with harmonics, gliding and decaying),
which the tone test (:mod:`monitor.dsp.tones`: a few steady lines) does not catch, and whose
notes are as harmonic as vowels. What no caller does is repeat a second of sound exactly: a
ringtone is a recording played again and again, so its level contour comes back, to a fraction of
a decibel, one loop later. Speech never does (a word said twice differs by decibels frame to
frame), and a held vowel, whose level is flat, is no contour to repeat (its level varies too
little for a match to mean anything).

Two vectorised stages, on blocks of ``block_frames`` frames (by absolute index: the block means
of the level, smoothed over 3 frames, and of the F0 in semitones), counts given in frames:

1. :func:`loop_matches`: a block is a match where the stretch of ``reach_frames`` each side of it
   comes back one lag earlier, for some lag of ``min_lag_frames .. max_lag_frames`` in steps of
   ``lag_step`` blocks (a half lag compares with the mean of the two blocks it falls between: a
   loop is seldom a whole number of blocks): over at least ``min_heard_frames`` heard in either,
   the mean absolute level difference is at most ``max_mismatch_db``; where both are voiced over
   ``min_pitched_frames``, the F0 differs by at most ``max_mismatch_semitones``; and the level (its
   spread at least ``min_spread_db``) or the F0 (at least ``min_spread_semitones``) comes back within
   ``max_mismatch_ratio`` of its spread;
2. :func:`looped_frames`: a block is looped where at least ``min_share`` of the blocks within
   ``reach_frames`` each side are matches; a frame is looped where its block is.

The first play of a ringtone is heard as it was (nothing earlier to match, and a frame is final
before the second play comes); the later plays are silence. Measured in research/tones/README.md:
baresip's ringtone played four times, 4.0 -> 1.4 s of speech; held vowels and the shared real
speech unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

CHUNK_FRAMES = 1000  # centres per 2-D block (lags x frames): memory bounded on long calls


@dataclass(frozen=True)
class LoopParams:
    """Settings of the loop test; frame counts at the 10 ms hop."""

    enabled: bool = True
    until_frame: int = 6000          # only the call's first 60 s: a ringtone plays before the answer
                                     # (and the test costs nothing after it)
    block_frames: int = 2            # the test runs on the level and F0 of blocks of this many frames
                                     # (by absolute index; 20 ms: a quarter of the cost of frames)
    min_lag_frames: int = 20         # loops of 0.2 s (a two-note trill) ...
    max_lag_frames: int = 400        # ... to 4 s (a ringtone's melody and its pause)
    lag_step: float = 0.5            # lags in half blocks: a loop is seldom a whole number of blocks
    reach_frames: int = 30           # a stretch of this many frames each side of a frame is compared
    min_level_db: float = -60.0      # frames under this level in both stretches are not compared
    min_heard_frames: int = 20       # ... and at least this many are (frames over that level in either)
    min_spread_db: float = 3.0       # the stretch's level varies by at least this much (std), or ...
    min_spread_semitones: float = 0.8  # ... its F0 by this much over at least min_pitched_frames
    min_pitched_frames: int = 10     # (a melody; a held vowel's level and F0 do not): a contour
    max_mismatch_db: float = 1.0     # the level comes back within this mean absolute difference, and
    max_mismatch_ratio: float = 0.08  # the level or F0 contour within this share of its spread, and
    max_mismatch_semitones: float = 0.5  # the F0 within this (where both have min_pitched_frames)
    min_share: float = 0.7           # a frame is looped where this share of frames within reach match

    def __post_init__(self) -> None:
        if not (1 <= self.min_lag_frames <= self.max_lag_frames and self.lag_step in (0.5, 1)
                and self.block_frames >= 1):
            raise ValueError(f"loops: lags {self.min_lag_frames}..{self.max_lag_frames} in steps of a "
                             f"whole or half block, got step {self.lag_step}")

    @property
    def left_frames(self) -> int:
        """Frames left of a frame that its loop decision depends on."""
        return self.max_lag_frames + 2 * self.reach_frames + 3 * self.block_frames

    @property
    def right_frames(self) -> int:
        """Frames right of a frame that its loop decision depends on."""
        return 2 * self.reach_frames + 3 * self.block_frames

    def in_blocks(self) -> "LoopParams":
        """These settings with frame counts in blocks (``block_frames`` 1)."""
        b = self.block_frames
        return replace(self, block_frames=1, min_lag_frames=max(1, self.min_lag_frames // b),
                       max_lag_frames=-(-self.max_lag_frames // b), reach_frames=max(1, round(self.reach_frames / b)),
                       min_heard_frames=max(1, round(self.min_heard_frames / b)),
                       min_pitched_frames=max(1, round(self.min_pitched_frames / b)))


def smooth_level(energy_db: np.ndarray, min_level_db: float) -> np.ndarray:
    """The frame level (shape (n,), dBFS) floored 10 dB under ``min_level_db`` and smoothed over
    3 frames (1/4, 1/2, 1/4; the ends repeated): a loop shifted by part of a frame still matches.
    Shape (n,), float64."""
    e = np.maximum(energy_db.astype(np.float64), min_level_db - 10.0)
    p = np.concatenate([e[:1], e, e[-1:]])
    return 0.25 * p[:-2] + 0.5 * p[1:-1] + 0.25 * p[2:]


def blocks(values: np.ndarray, first: int, size: int) -> tuple[np.ndarray, int]:
    """Means of ``values`` (shape (n,), NaN: none) over blocks of ``size`` frames by absolute index
    (``first``: the absolute index of ``values[0]``; a block partly outside ``values`` is left out),
    NaN where under half the block has a value; and the absolute index of the first block's first
    frame. Shape (n // size or so,)."""
    skip = (-first) % size
    m = (len(values) - skip) // size
    v = values[skip:skip + m * size].reshape(m, size)
    have = np.isfinite(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(have, v, 0.0).sum(axis=1) / have.sum(axis=1)
    return np.where(2 * have.sum(axis=1) >= size, mean, np.nan), first + skip


def semitones(f0_hz: np.ndarray) -> np.ndarray:
    """F0 (shape (n,), Hz, NaN: none) in semitones above 100 Hz (NaN: none). Shape (n,), float64."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 12.0 * np.log2(f0_hz.astype(np.float64) / 100.0)


def _window_sums(x: np.ndarray, reach: int, c0: int, c1: int, u0: int) -> np.ndarray:
    """Sums of the columns of ``x`` (shape (k, m), column j is frame u0 + j) over the frames within
    ``reach`` of each of frames c0 .. c1 (those inside ``x``). Shape (k, c1 - c0)."""
    m = x.shape[1]
    cs = np.zeros((x.shape[0], m + 1))
    np.cumsum(x, axis=1, out=cs[:, 1:])
    t = np.arange(c0, c1) - u0
    return cs[:, np.minimum(t + reach + 1, m)] - cs[:, np.maximum(t - reach, 0)]


def loop_matches(level: np.ndarray, pitch: np.ndarray, c0: int, c1: int, params: LoopParams) -> np.ndarray:
    """Whether the stretch around each of frames ``c0 .. c1`` repeats one a lag earlier.

    Parameters
    ----------
    level : np.ndarray [shape=(n,)]  :func:`smooth_level` of the frames
    pitch : np.ndarray [shape=(n,)]  :func:`semitones` of their F0 (NaN: none)
    c0, c1 : int  the frames to decide (0 <= c0 <= c1 <= n)

    Returns
    -------
    match : np.ndarray [shape=(c1 - c0,)], bool
    """
    out = np.zeros(c1 - c0, bool)
    for s in range(c0, c1, CHUNK_FRAMES):
        out[s - c0:min(c1, s + CHUNK_FRAMES) - c0] = _matches(level, pitch, s, min(c1, s + CHUNK_FRAMES), params)
    return out


def _earlier(values: np.ndarray, u0: int, u1: int, p: LoopParams) -> np.ndarray:
    """``values`` of frames ``u0 .. u1`` a lag earlier, one row per lag (``min_lag_frames ..
    max_lag_frames``, then the half lags between, if ``lag_step`` is 0.5); NaN where that is before
    the first frame. Shape (k, u1 - u0)."""
    lo, hi = p.min_lag_frames, p.max_lag_frames
    padded = np.concatenate([np.full(hi, np.nan), values])  # frame i is padded[i + hi]
    view = np.lib.stride_tricks.sliding_window_view(padded, u1 - u0)  # row q: frames q - hi ..
    whole = view[u0:u0 + hi - lo + 1][::-1]  # lags lo .. hi (a view)
    if p.lag_step == 1:
        return whole
    return np.concatenate([whole, 0.5 * (whole[:-1] + whole[1:])])


def _matches(level: np.ndarray, pitch: np.ndarray, c0: int, c1: int, p: LoopParams) -> np.ndarray:
    """:func:`loop_matches` of one block of at most :data:`CHUNK_FRAMES` frames."""
    r = p.reach_frames
    u0, u1 = max(0, c0 - r), min(len(level), c1 + r)
    e, s = level[u0:u1], pitch[u0:u1]
    level_spread = _spread(e, np.ones(len(e), bool), r, c0, c1, u0)
    pitched = np.isfinite(s)
    pitch_spread = _spread(np.where(pitched, s, 0.0), pitched, r, c0, c1, u0)
    n_pitched = _window_sums(pitched[None].astype(np.float64), r, c0, c1, u0)[0]
    contour_level = level_spread >= p.min_spread_db
    contour_pitch = (pitch_spread >= p.min_spread_semitones) & (n_pitched >= p.min_pitched_frames)
    if not (contour_level | contour_pitch).any():
        return np.zeros(c1 - c0, bool)
    earlier = _earlier(level, u0, u1, p)
    heard = e > p.min_level_db
    with np.errstate(invalid="ignore"):
        use = np.isfinite(earlier) & (heard | (earlier > p.min_level_db))
    level_mismatch, n_heard = _mismatch(e, earlier, use, r, c0, c1, u0)
    alike = (n_heard >= p.min_heard_frames) & (level_mismatch <= p.max_mismatch_db)
    rows = np.flatnonzero(alike.any(axis=1))  # the lags whose level comes back somewhere (few, in speech)
    if not len(rows):
        return np.zeros(c1 - c0, bool)
    alike, level_mismatch = alike[rows], level_mismatch[rows]
    before = _earlier(pitch, u0, u1, p)[rows]
    pitch_mismatch, n_both = _mismatch(s, before, pitched & np.isfinite(before), r, c0, c1, u0)
    pitch_alike = (n_both < p.min_pitched_frames) | (pitch_mismatch <= p.max_mismatch_semitones)
    by_level = contour_level & (level_mismatch <= p.max_mismatch_ratio * level_spread)
    by_pitch = (contour_pitch & (n_both >= p.min_pitched_frames)
                & (pitch_mismatch <= p.max_mismatch_ratio * pitch_spread))
    return (alike & pitch_alike & (by_level | by_pitch)).any(axis=0)


def _spread(x: np.ndarray, use: np.ndarray, reach: int, c0: int, c1: int, u0: int) -> np.ndarray:
    """Standard deviation of ``x`` over the frames ``use`` within ``reach`` of each of frames
    c0 .. c1 (``x``, ``use``: shape (m,), frame u0 first). Shape (c1 - c0,); 0 where none."""
    w = use.astype(np.float64)
    n, s1, s2 = (_window_sums(v[None], reach, c0, c1, u0)[0] for v in (w, x * w, x * x * w))
    n = np.maximum(n, 1.0)
    return np.sqrt(np.maximum(s2 / n - (s1 / n) ** 2, 0.0))


def _mismatch(x: np.ndarray, earlier: np.ndarray, use: np.ndarray, reach: int, c0: int, c1: int, u0: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute difference of ``x`` (shape (m,)) and each lag's ``earlier`` (shape (k, m)) over
    the frames ``use`` (shape (k, m)) within ``reach`` of each of frames c0 .. c1, and how many they
    are. Shapes (k, c1 - c0) each (the mean is infinite where there are none)."""
    n = _window_sums(use.astype(np.float64), reach, c0, c1, u0)
    total = _window_sums(np.where(use, np.abs(x - earlier), 0.0), reach, c0, c1, u0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1.0), np.inf), n


def looped_frames(match: np.ndarray, first: int, count: int, reach: int, min_share: float) -> np.ndarray:
    """Frames where at least ``min_share`` of the ``2 * reach + 1`` frames within ``reach`` each side
    are matches (those outside ``match`` are none).

    Parameters
    ----------
    match : np.ndarray [shape=(m,)], bool  :func:`loop_matches`
    first, count : int  the frames to decide: ``match[first:first + count]``

    Returns
    -------
    looped : np.ndarray [shape=(count,)], bool
    """
    cs = np.concatenate([[0], np.cumsum(match)])
    t = np.arange(first, first + count)
    hits = cs[np.clip(t + reach + 1, 0, len(match))] - cs[np.clip(t - reach, 0, len(match))]
    return hits >= min_share * (2 * reach + 1)
