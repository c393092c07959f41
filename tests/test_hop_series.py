"""A call's per-hop series as the call pipeline gathers them, chunk by chunk."""

from __future__ import annotations

import tracemalloc

import numpy as np

from monitor.analysis.analyzer import frame_times
from monitor.analysis.frame_features import Frames
from monitor.analysis.hop_series import HopSeries

RATE = 16000
BLOCK = 1600
"""A live daemon's chunk: 0.1 s."""


def _frames(first: int, sound: np.ndarray, window_s: float) -> Frames:
    """The frames ``first ..`` of a leg, of the sound classes ``sound``, as the analyzer emits them."""
    t = frame_times(RATE, first, first + len(sound), window_s)
    nan = np.full(len(sound), np.nan, np.float32)
    return Frames(t=t, energy_db=nan, floor_db=nan, speech=sound == 1, voiced=sound == 1, f0_hz=nan, hnr_db=nan,
                  cpps_db=nan, slope_db_khz=nan, intensity_db=nan, nucleus=np.zeros(len(sound), bool), sound=sound)


def test_a_long_live_call_s_series_hold_little_more_than_their_data_and_equal_the_whole_call_s():
    """A live call comes in 0.1 s chunks (10 peaks a leg) and its frames every 0.5 s: the series of
    a call of hours are held in memory until its end, at the size of what they say, not of the
    thousands of pieces they came in."""
    chunks, rng = 6000, np.random.default_rng(7)  # 10 minutes
    block = rng.standard_normal((BLOCK, 2)).astype(np.float32)
    sound = rng.integers(0, 4, 50).astype(np.uint8)
    series = HopSeries(RATE, ("caller", "agent"))
    tracemalloc.start()
    try:
        for i in range(chunks):
            series.chunk(block)
            if i % 5 == 4:
                for leg in series.legs:
                    series.frames(leg, _frames(10 * (i - 4), sound, series.window_s))
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    data = 2 * chunks * 10 * (4 + 1)  # per leg: a float32 peak and a uint8 sound class every 10 ms
    assert held < 1.3 * data, (held, data)
    whole = series.series(chunks * 0.1)
    peak = np.abs(block).reshape(10, 160, 2).max(axis=1)
    assert series.regular and np.array_equal(whole.legs["agent"].peak, np.tile(peak[:, 1], chunks))
    assert np.array_equal(whole.legs["caller"].sound, np.tile(sound, chunks // 5))


def test_a_long_replay_s_series_are_held_in_a_few_blocks_filled_in_place_not_a_piece_per_chunk():
    """A replay without words comes in 10 s chunks (1000 peaks a leg, as many frames): the series of
    a 41 min call are held in blocks made as they fill, each written in place, not in the
    hundreds of pieces they came in. Each piece was an allocation of its own kept for the whole call
    among the analysis's passing ones, over a heap that could then be neither reused whole nor given
    back (a replay grew 6-10 MB over 31 min of call for 1.9 MB of series); and the whole call's series
    are the same."""
    chunks, rng = 246, np.random.default_rng(11)  # 41 minutes
    block = rng.standard_normal((10 * RATE, 2)).astype(np.float32)
    sound = rng.integers(0, 4, 1000).astype(np.uint8)
    series = HopSeries(RATE, ("caller", "agent"))
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(chunks):
            series.chunk(block)
            for leg in series.legs:
                series.frames(leg, _frames(1000 * i, sound.copy(), series.window_s))  # the analyzer's own
        grown = tracemalloc.take_snapshot().compare_to(before, "filename")
    finally:
        tracemalloc.stop()
    allocations = sum(s.count_diff for s in grown)
    held = sum(s.size_diff for s in grown)
    data = 2 * chunks * 1000 * (4 + 1)
    assert allocations < chunks, "fewer than one a chunk (pieces kept apart were a dozen a chunk)"
    assert held < 1.3 * data, (held, data)
    whole = series.series(chunks * 10.0)
    peak = np.abs(block).reshape(1000, 160, 2).max(axis=1)
    assert series.regular and np.array_equal(whole.legs["caller"].peak, np.tile(peak[:, 0], chunks))
    assert np.array_equal(whole.legs["agent"].sound, np.tile(sound, chunks))
