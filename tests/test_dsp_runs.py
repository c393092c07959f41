"""Runs of a boolean mask: bridging short gaps and dropping short runs in one pass."""

from __future__ import annotations

import numpy as np

from monitor.dsp.runs import bridged_runs, close_gaps, drop_short


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
