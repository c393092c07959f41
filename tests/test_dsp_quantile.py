"""A quantile of one array is numpy's own number (method "linear"), bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.dsp.quantile import quantile_linear


@pytest.mark.parametrize("q", [0.0, 0.1, 0.25, 0.5, 0.9, 0.95, 0.999, 1.0])
def test_a_quantile_equals_numpys_for_any_length_with_and_without_ties(q):
    rng = np.random.default_rng(21)
    for n in list(range(1, 60)) + [257, 1000, 4097]:
        for x in (rng.normal(-40.0, 12.0, n),                       # frame energies in dB
                  np.round(rng.normal(-40.0, 12.0, n), 1),          # many ties
                  np.full(n, -23.5)):                                # all equal
            assert quantile_linear(x, q) == float(np.quantile(x, q))


def test_random_quantiles_equal_numpys():
    rng = np.random.default_rng(22)
    for _ in range(2000):
        x = rng.normal(0.0, 1.0, int(rng.integers(1, 300))) * 10 ** rng.uniform(-3, 3)
        q = float(rng.random())
        assert quantile_linear(x, q) == float(np.quantile(x, q))


def test_a_quantile_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="outside"):
        quantile_linear(np.zeros(3), 1.5)
