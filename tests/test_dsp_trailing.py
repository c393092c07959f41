"""Trailing extrema over part of a signal equal the same outputs of the whole signal's."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.dsp import filters


@pytest.mark.parametrize("name", ["max", "min"])
def test_a_trailing_extremum_between_two_indices_is_that_slice_of_the_whole_signals(name):
    whole = getattr(filters, f"trailing_{name}")
    between = getattr(filters, f"trailing_{name}_between")
    rng = np.random.default_rng(7)
    for _ in range(500):
        n = int(rng.integers(0, 300))
        window = int(rng.integers(1, 120))
        x = rng.standard_normal(n).astype(np.float32)
        start = int(rng.integers(0, n + 1))
        stop = int(rng.integers(start, n + 1))
        got = between(x, window, start, stop)
        assert got.dtype == x.dtype
        assert np.array_equal(got, whole(x, window)[start:stop])


def test_a_window_longer_than_the_signal_reaches_back_to_its_first_sample():
    x = np.array([3.0, 1.0, 2.0, 0.5], np.float32)
    assert filters.trailing_min_between(x, 1000, 1, 4).tolist() == [1.0, 1.0, 0.5]
    assert filters.trailing_max_between(x, 1000, 2, 4).tolist() == [3.0, 3.0]
