"""The level columns a stream keeps frame by frame are those of the whole signal, bit for bit."""

from __future__ import annotations

import numpy as np

from monitor.analysis.analyzer import CONTEXT_LEFT
from monitor.analysis.level_columns import LevelColumns
from monitor.dsp.energy import VadParams, noise_floor_db, slow_floor_db_from
from monitor.dsp.filters import trailing_max
from monitor.dsp.syllables import SyllableParams, intensity_db


def _energy(n: int, seed: int) -> np.ndarray:
    """A level column with speech-like jumps (silence at -100 dB, bursts up to 0 dB)."""
    rng = np.random.default_rng(seed)
    e = np.repeat(rng.uniform(-100.0, 0.0, n // 7 + 1), 7)[:n] + rng.normal(0.0, 3.0, n)
    return np.clip(e, -100.0, 0.0).astype(np.float32)


def test_intensity_floor_peak_and_slow_floor_fed_in_pieces_with_the_buffer_cut_equal_the_whole_signals():
    syl, vad = SyllableParams(), VadParams(steady_margin_db=3.0)  # the slow floor is kept for the steady margin
    for seed in range(6):
        energy = _energy(4000, seed)
        want = (intensity_db(energy, syl), noise_floor_db(energy, vad),
                trailing_max(intensity_db(energy, syl), syl.level_window_frames), slow_floor_db_from(energy, 0, vad))
        rng = np.random.default_rng(seed)
        cols, first, end = LevelColumns(syl, vad), 0, 0
        while end < len(energy):
            end = min(len(energy), end + int(rng.integers(1, 400)))
            got = cols.update(energy[first:end], final=end == len(energy))
            # the rows no later frame changes (the slow floor's smoothing reaches furthest)
            final = end if end == len(energy) else end - vad.spread_smooth_frames // 2
            for g, w in zip(got, want):
                assert np.array_equal(g[:final - first], w[first:final])
            cut = max(0, end - CONTEXT_LEFT - first)  # as the analyzer cuts its raw buffer
            cols.cut(cut)
            first += cut


def test_the_frames_the_next_smoothing_window_reads_cannot_be_dropped():
    import pytest
    syl, vad = SyllableParams(), VadParams(steady_margin_db=3.0)
    cols = LevelColumns(syl, vad)
    energy = _energy(200, 1)
    cols.update(energy[:100], final=False)
    with pytest.raises(ValueError, match="cannot drop"):
        cols.cut(95)  # 100 frames, the last few not final yet: the smoothing still reads the frames before them
    cols.cut(70)
    got = cols.update(energy[70:200], final=True)
    assert np.array_equal(got[0], intensity_db(energy, syl)[70:])


def test_the_columns_handed_out_are_read_only_as_the_kept_frames_are_their_start():
    import pytest
    cols, energy = LevelColumns(SyllableParams(), VadParams()), _energy(300, 2)
    for end in (100, 100, 300):  # new frames, none, the last
        for column in cols.update(energy[:end], final=end == 300):
            with pytest.raises(ValueError, match="read-only"):
                column[0] = 0.0


def test_without_the_steady_margin_the_floor_stands_in_for_the_slow_floor():
    energy = _energy(600, 3)
    intensity, floor, level, slow = LevelColumns(SyllableParams(), VadParams()).update(energy, final=True)
    assert slow is floor
