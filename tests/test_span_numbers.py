"""The span measures' own mean and median give numpy's numbers, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis.span_measures import _mean, _mean_as, _median


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_median_is_numpys_for_odd_and_even_lengths(dtype):
    rng = np.random.default_rng(11)
    for n in range(1, 300):
        x = (rng.standard_normal(n) * 40 + 150).astype(dtype)
        got, want = _median(x), np.median(x)
        assert got == want and type(got) is type(want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_mean_in_the_arrays_precision_is_numpys(dtype):
    rng = np.random.default_rng(12)
    for n in range(1, 2000, 7):
        x = (rng.standard_normal(n) * 9 + 5).astype(dtype)
        got, want = _mean_as(x), np.mean(x)
        assert got == want and type(got) is type(want)


def test_the_mean_in_double_precision_is_numpys_for_floats_integers_and_masks():
    rng = np.random.default_rng(13)
    for n in range(1, 2000, 7):
        for x in (rng.standard_normal(n) * 3, rng.integers(0, 9, n), rng.random(n) < 0.3):
            assert _mean(x) == float(np.mean(x))
