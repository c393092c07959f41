"""Runs of a boolean mask: bridging short gaps and dropping short runs in one pass."""

from __future__ import annotations

import numpy as np

from monitor.dsp.filters import window_counts
from monitor.dsp.runs import apart_runs_to_mask, bridged_runs, close_gaps, drop_short, open_then_close, runs, runs_to_mask


def test_bridged_runs_equal_closing_the_gaps_then_dropping_the_short_runs():
    rng = np.random.default_rng(11)
    for _ in range(3000):
        n = int(rng.integers(0, 120))
        mask = rng.random(n) < rng.uniform(0.1, 0.9)
        gap, length = int(rng.integers(0, 12)), int(rng.integers(0, 12))
        assert np.array_equal(bridged_runs(mask, gap, length), drop_short(close_gaps(mask, gap), length))


def test_a_gap_shorter_than_the_bridge_joins_two_runs_into_one_long_enough_to_keep():
    mask = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0], bool)
    assert bridged_runs(mask, 3, 5).astype(int).tolist() == [0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]


def test_bridged_runs_hand_out_a_new_mask_even_when_nothing_is_bridged_or_dropped():
    mask = np.array([0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0], bool)
    mask.flags.writeable = False
    for gap, length in ((2, 3), (5, 3), (2, 4)):  # as it is, bridged, one run dropped
        out = bridged_runs(mask, gap, length)
        assert out.flags.writeable and not np.shares_memory(out, mask)
    assert bridged_runs(mask, 2, 3).tolist() == mask.tolist()


def test_the_mask_of_runs_apart_equals_the_mask_of_any_runs():
    rng = np.random.default_rng(12)
    for _ in range(2000):
        n = int(rng.integers(0, 80))
        s, e = runs(rng.random(n) < rng.uniform(0.1, 0.9))
        some = rng.random(len(s)) < 0.6
        assert np.array_equal(apart_runs_to_mask(s[some], e[some], n), runs_to_mask(s[some], e[some], n))


def test_opening_then_closing_from_the_runs_equals_the_running_counts():
    rng = np.random.default_rng(13)
    for _ in range(4000):
        n = int(rng.integers(0, 70))
        mask = rng.random(n) < rng.uniform(0.05, 0.95)
        o, c = 2 * int(rng.integers(0, 9)) + 1, 2 * int(rng.integers(0, 9)) + 1
        opened = window_counts(window_counts(mask, o) == o, o) > 0
        closed = window_counts(window_counts(opened, c) > 0, c) == c
        assert np.array_equal(open_then_close(mask, o, c), closed)


def test_counting_several_masks_at_once_equals_counting_each_alone():
    rng = np.random.default_rng(14)
    for n in (0, 1, 2, 9, 60):
        masks = rng.random((n, 3)) < 0.5
        for size in (1, 3, 31):
            together = window_counts(masks, size)
            assert together.shape == (n, 3)
            for k in range(3):
                assert np.array_equal(together[:, k], window_counts(masks[:, k], size))
