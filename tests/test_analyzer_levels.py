"""The level columns a stream keeps frame by frame are those of the whole signal, bit for bit."""

from __future__ import annotations

import numpy as np

from monitor.analysis.analyzer import CONTEXT_LEFT, _levels, AnalyzerConfig
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
            got = cols.update(energy[first:end], np.zeros(end - first, bool), final=end == len(energy))
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
    cols.update(energy[:100], np.zeros(100, bool), final=False)
    with pytest.raises(ValueError, match="cannot drop"):
        cols.cut(95)  # 100 frames, the last few not final yet: the smoothing still reads the frames before them
    cols.cut(70)
    got = cols.update(energy[70:200], np.zeros(130, bool), final=True)
    assert np.array_equal(got[0], intensity_db(energy, syl)[70:])


def test_the_columns_handed_out_are_read_only_as_the_kept_frames_are_their_start():
    import pytest
    cols, energy = LevelColumns(SyllableParams(), VadParams()), _energy(300, 2)
    for end in (100, 100, 300):  # new frames, none, the last
        for column in cols.update(energy[:end], np.zeros(end, bool), final=end == 300):
            with pytest.raises(ValueError, match="read-only"):
                column[0] = 0.0


def test_without_the_steady_margin_the_floor_stands_in_for_the_slow_floor():
    energy = _energy(600, 3)
    intensity, floor, level, slow = LevelColumns(SyllableParams(), VadParams()).update(energy, np.zeros(600, bool), final=True)
    assert slow is floor


def _marked(n: int, seed: int) -> np.ndarray:
    """Frames the capture marked as not heard: a few runs of 1 to 600 frames."""
    rng = np.random.default_rng(seed)
    unheard = np.zeros(n, bool)
    for start in rng.integers(0, n, 3):
        unheard[start:start + int(rng.integers(1, 600))] = True
    return unheard


def test_with_frames_marked_not_heard_the_columns_fed_in_pieces_equal_the_whole_signals():
    cfg = AnalyzerConfig(vad=VadParams(steady_margin_db=3.0))
    for seed in range(6):
        energy, unheard = _energy(4000, seed), _marked(4000, seed)
        want = _levels(energy, unheard, cfg)
        rng = np.random.default_rng(seed)
        cols, first, end = LevelColumns(cfg.syllables, cfg.vad), 0, 0
        while end < len(energy):
            end = min(len(energy), end + int(rng.integers(1, 400)))
            got = cols.update(energy[first:end], unheard[first:end], final=end == len(energy))
            final = end if end == len(energy) else end - cfg.vad.spread_smooth_frames // 2
            for g, w in zip(got, want):
                assert np.array_equal(g[:final - first], w[first:final])
            cut = max(0, end - CONTEXT_LEFT - first)
            cols.cut(cut)
            first += cut


def test_the_floor_and_the_peak_hold_through_the_marked_frames_and_go_on_from_where_they_were():
    """Line noise at -50 dB, a burst of speech at -20 dB, then 10 s marked not heard (exact zeros,
    -100 dB): the floor and the peak stay at the line's and the burst's through the marks and after
    them, as if the marked frames had never been."""
    cfg = AnalyzerConfig()
    rng = np.random.default_rng(0)
    line = (-50.0 + rng.normal(0.0, 1.0, 3000)).astype(np.float32)
    line[200:260] = -20.0
    energy, unheard = line.copy(), np.zeros(3000, bool)
    energy[1000:2000], unheard[1000:2000] = -100.0, True
    _, floor, level, _ = _levels(energy, unheard, cfg)
    _, floor_heard, level_heard, _ = _levels(np.delete(line, np.s_[1000:2000]), np.zeros(2000, bool), cfg)
    assert floor.min() > -56.0 and level[1000:2000].min() > -21.0
    after = slice(2010, 3000)  # past the frames whose smoothing reads a marked one
    for held, heard in ((floor, floor_heard), (level, level_heard)):  # the windows' ends within a few frames
        assert np.count_nonzero(np.abs(held[after] - heard[1010:]) > 1.0) <= 5
