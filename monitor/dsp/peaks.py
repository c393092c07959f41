"""Parabolic interpolation of a sampled maximum."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def parabolic(y0: np.ndarray, y1: np.ndarray, y2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex of the parabola through three equally spaced samples around a maximum.

    Parameters
    ----------
    y0, y1, y2 : np.ndarray [shape=(n,)]
        Values left of, at and right of each sampled maximum, of one float dtype (``delta``
        has ``y0 - y2``'s: a wider ``y1`` would be cut to it).

    Returns
    -------
    delta : np.ndarray [shape=(n,)]
        Offset of the vertex from the middle sample, in samples, within [-0.5, 0.5]
        (0 where the three points are not concave).
    peak : np.ndarray [shape=(n,)]
        The parabola's value at the vertex.
    """
    den = y0 - 2 * y1 + y2
    d = y0 - y2
    delta = np.zeros(d.shape, d.dtype)  # 0 where not concave (np.zeros_like without its wrapper)
    np.divide(0.5 * d, den, out=delta, where=den < 0)
    delta = np.minimum(np.maximum(delta, -0.5, out=delta), 0.5, out=delta)  # np.clip without its wrapper
    return delta, y1 - 0.25 * d * delta


def parabolic_at(a: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parabolic` through the columns ``col[i] - 1 .. col[i] + 1`` of each row ``i`` of
    ``a`` (0 < col < m - 1). Shapes (n, m), (n,) -> (n,), (n,)."""
    flat, at = a.ravel(), _flat_index(a, col)
    return parabolic(flat.take(at - 1), flat.take(at), flat.take(at + 1))


def row_values(a: np.ndarray, col: np.ndarray) -> np.ndarray:
    """``a[i, col[i]]`` for each row ``i``. Shapes (n, m), (n,) -> (n,)."""
    return a.ravel().take(_flat_index(a, col))


def _flat_index(a: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Where ``a[i, col[i]]`` lies in ``a.ravel()`` (a view of a C-contiguous ``a``): one take
    from it costs less than ``a[np.arange(n), col]``. Shapes (n, m), (n,) -> (n,)."""
    return np.arange(0, a.size, a.shape[1]) + col


def local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of the local maxima of ``x`` (``scipy.signal.find_peaks`` without conditions).

    A maximum is a sample, or a run of equal samples (a plateau), higher than
    its neighbours on both sides; a plateau is reported at its middle
    (the lower middle for an even length). The first and last samples never are.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]

    Returns
    -------
    peaks : np.ndarray [shape=(k,)], int, increasing
    """
    if len(x) < 3:
        return np.zeros(0, np.intp)
    last = (x[1:] != x[:-1]).nonzero()[0]  # the last sample of every run of equal values but the last run
    if len(last) < 2:  # no run with a run on both sides
        return np.zeros(0, np.intp)
    value = x[last]       # the runs' values (all but the last run)
    after = x[last + 1]   # the values of the runs after them
    # the inner runs: run k + 1 spans last[k] + 1 .. last[k + 1]
    peak = (value[:-1] < value[1:]) & (after[1:] < value[1:])
    return ((last[:-1] + 1 + last[1:]) // 2)[peak]


def _by_distance(peaks: np.ndarray, height: np.ndarray, distance: int) -> np.ndarray:
    """Keep-mask of ``peaks``: from the highest down, a peak removes the others closer than ``distance``.

    This is ``find_peaks``' greedy rule in its order (``np.argsort`` of the heights); only
    peaks that have a neighbour closer than ``distance`` take part in the loop, which runs
    over those few peaks, never over samples.
    """
    keep = np.ones(len(peaks), bool)
    close = peaks[1:] - peaks[:-1] < distance
    if not np.count_nonzero(close):
        return keep
    order = np.argsort(height)
    involved = np.zeros(len(peaks), bool)
    involved[:-1] |= close
    involved[1:] |= close
    at = peaks.tolist()
    for j in order[involved[order]][::-1].tolist():  # the involved peaks, highest first
        if not keep[j]:
            continue
        k = j - 1
        while k >= 0 and at[j] - at[k] < distance:
            keep[k] = False
            k -= 1
        k = j + 1
        while k < len(at) and at[k] - at[j] < distance:
            keep[k] = False
            k += 1
    return keep


def prominences(x: np.ndarray, peaks: np.ndarray, wlen: int) -> np.ndarray:
    """Prominence of each peak within a window of ``wlen`` samples (``scipy.signal.peak_prominences``).

    On each side, from the peak outwards while the samples are no higher than
    the peak (and within ``wlen // 2``), the lowest sample is the base; the
    prominence is the peak's height above the higher of the two bases.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)], float64
    peaks : np.ndarray [shape=(k,)], int
    wlen : int, >= 2

    Returns
    -------
    prominence : np.ndarray [shape=(k,)], float64
    """
    half = int(wlen) // 2
    top = x[peaks]
    # both sides at once, over x padded with +inf (a sample beyond the ends stops the walk outwards)
    padded = np.full(len(x) + 2 * half, np.inf, x.dtype)
    padded[half:half + len(x)] = x
    idx = (peaks + half)[:, None, None] + _walks(half)  # (k, 2, half + 1)
    v = padded[idx]
    reach = np.logical_and.accumulate(v <= top[:, None, None], axis=2)
    base = np.where(reach, v, np.inf).min(axis=2)  # (k, 2)
    return top - np.maximum(base[:, 0], base[:, 1])


@lru_cache(maxsize=4)
def _walks(half: int) -> np.ndarray:
    """The offsets of the walks to the left and to the right of a peak, ``half`` samples each
    (read only). Shape (2, half + 1)."""
    walks = np.array([-1, 1])[:, None] * np.arange(half + 1)
    walks.flags.writeable = False  # shared by every caller of the cache
    return walks


def find_peaks(x: np.ndarray, prominence: float, wlen: int, distance: int) -> np.ndarray:
    """``scipy.signal.find_peaks(x, prominence=prominence, wlen=wlen, distance=distance)[0]``.

    Local maxima (:func:`local_maxima`), thinned to at least ``distance`` samples
    apart from the highest down, then kept if their prominence within ``wlen``
    samples is at least ``prominence``.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)], compared in float64 as scipy does

    Returns
    -------
    peaks : np.ndarray [shape=(k,)], int
    """
    x = np.asarray(x, np.float64)
    peaks = local_maxima(x)
    if len(peaks) == 0:
        return peaks
    peaks = peaks[_by_distance(peaks, x[peaks], math.ceil(distance))]
    return peaks[prominences(x, peaks, wlen) >= prominence]
