"""A quantile of one array as ``np.quantile`` gives it (method "linear"), without its overhead.

``np.quantile`` of a single value goes through generic machinery (axis moves, index arrays,
masked interpolation) that costs about 0.1 ms whatever the array; the cue windows ask for one
quantile of a few thousand frames every hop. :func:`quantile_linear` takes the two order
statistics around the quantile's position with one partition and interpolates them with the
same double-precision operations as numpy's ``_lerp``, so the result is the same number
(tests/test_dsp_quantile.py compares them bit for bit).
"""

from __future__ import annotations

import math

import numpy as np


def quantile_linear(x: np.ndarray, q: float) -> float:
    """``float(np.quantile(x, q))`` of a non-empty array without NaN.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)], float64, n >= 1, no NaN
    q : float in [0, 1]

    Returns
    -------
    value : float
        The order statistics ``lo = x_(k)`` and ``hi = x_(k+1)`` around the position
        ``v = (n - 1) q`` (k = floor(v)), interpolated as ``lo + (hi - lo) g`` for ``g = v - k``
        below 0.5 and ``hi - (hi - lo)(1 - g)`` from 0.5 on; the largest value when ``v`` reaches
        ``n - 1``.
    """
    n = len(x)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} outside [0, 1]")
    v = (n - 1) * float(q)
    if v >= n - 1:
        return float(np.max(x))
    k = math.floor(v)
    part = np.partition(x, (k, k + 1))
    lo, hi = float(part[k]), float(part[k + 1])
    g = v - k
    diff = hi - lo
    return hi - diff * (1.0 - g) if g >= 0.5 else lo + diff * g
