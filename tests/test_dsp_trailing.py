"""Trailing extrema over part of a signal equal the same outputs of the whole signal's."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.dsp import filters


def random_signals(seed: int, shortest: int):
    """500 random float32 signals of ``shortest`` to 299 samples, each with a window of 1-119
    samples, and the generator, for the test's own further draws: (rng, x, window)."""
    rng = np.random.default_rng(seed)
    for _ in range(500):
        n = int(rng.integers(shortest, 300))
        window = int(rng.integers(1, 120))
        yield rng, rng.standard_normal(n).astype(np.float32), window


@pytest.mark.parametrize("name", ["max", "min"])
def test_a_trailing_extremum_between_two_indices_is_that_slice_of_the_whole_signals(name):
    whole = getattr(filters, f"trailing_{name}")
    between = getattr(filters, f"trailing_{name}_between")
    for rng, x, window in random_signals(7, 0):
        n = len(x)
        start = int(rng.integers(0, n + 1))
        stop = int(rng.integers(start, n + 1))
        got = between(x, window, start, stop)
        assert got.dtype == x.dtype
        assert np.array_equal(got, whole(x, window)[start:stop])


def test_a_window_longer_than_the_signal_reaches_back_to_its_first_sample():
    x = np.array([3.0, 1.0, 2.0, 0.5], np.float32)
    assert filters.trailing_min_between(x, 1000, 1, 4).tolist() == [1.0, 1.0, 0.5]
    assert filters.trailing_max_between(x, 1000, 2, 4).tolist() == [3.0, 3.0]


@pytest.mark.parametrize("name", ["max", "min"])
def test_a_trailing_extremum_carried_on_from_the_samples_before_equals_the_whole_signals(name):
    whole = getattr(filters, f"trailing_{name}")
    reduce = np.maximum if name == "max" else np.minimum
    for rng, x, window in random_signals(11, 1):
        split = int(rng.integers(0, len(x) + 1))
        history = x[max(0, split - (window - 1)):split]  # all the windows reach back, or all there is
        assert np.array_equal(filters.trailing_after(history, x[split:], window, reduce), whole(x, window)[split:])


def test_running_sums_carried_on_from_a_window_equal_one_pass_over_the_whole_row():
    rng = np.random.default_rng(5)
    for _ in range(300):
        n, size = int(rng.integers(2, 200)), int(rng.integers(1, 12))
        e = (rng.random(n + size).astype(np.float32) ** 8).astype(np.float64)  # wide range: sums round
        whole = filters.moving_average(e, size, origin=-(size // 2), count=n)  # window e[i:i + size]
        first = np.cumsum(e[:size])[-1]
        split = int(rng.integers(1, n))
        head = filters.running_sums_after(e, size, first, split - 1)
        tail = filters.running_sums_after(e[split - 1:], size, head[-1] if split > 1 else first, n - split)
        assert np.array_equal(np.concatenate([[first], head, tail]) / size, whole)
