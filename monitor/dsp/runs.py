"""Run-length helpers on boolean masks (speech runs, pauses, phrases)."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in ``mask``.

    Parameters
    ----------
    mask : np.ndarray [shape=(n,)], bool

    Returns
    -------
    starts, ends : np.ndarray [shape=(k,)], int
    """
    padded = np.zeros(len(mask) + 2, np.int8)  # False before and after: every run starts and ends
    padded[1:-1] = np.asarray(mask, dtype=bool)
    edges = (padded[1:] != padded[:-1]).nonzero()[0]  # starts and ends alternate
    return edges[::2], edges[1::2]


def runs_to_mask(starts: np.ndarray, ends: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of length ``n`` that is True on ``[starts[i], ends[i])`` for every i.

    Parameters
    ----------
    starts, ends : np.ndarray [shape=(k,)], int, 0 <= start <= end <= n
    n : int

    Returns
    -------
    mask : np.ndarray [shape=(n,)], bool
    """
    edges = np.bincount(starts, minlength=n + 1) - np.bincount(ends, minlength=n + 1)
    return np.cumsum(edges[:n]) > 0


def apart_runs_to_mask(starts: np.ndarray, ends: np.ndarray, n: int) -> np.ndarray:
    """:func:`runs_to_mask` of runs as :func:`runs` gives them, or any subset of those: in
    order, non-empty and apart (each ends before the next starts). Every start and end toggles
    the mask once. Shapes (k,), (k,) -> (n,), bool."""
    toggle = np.zeros(n + 1, bool)
    toggle[starts] = True
    toggle[ends] = True
    return np.logical_xor.accumulate(toggle[:n])


def close_gaps(mask: np.ndarray, min_gap: int) -> np.ndarray:
    """Fill runs of False shorter than ``min_gap`` that lie between two runs of True.

    Parameters
    ----------
    mask : np.ndarray [shape=(n,)], bool
    min_gap : int, frames

    Returns
    -------
    closed : np.ndarray [shape=(n,)], bool (a new array)
    """
    out = np.asarray(mask, dtype=bool).copy()
    s, e = runs(~out)
    inner = (s > 0) & (e < len(out)) & (e - s < min_gap)
    if np.count_nonzero(inner):  # faster than .any()
        out |= runs_to_mask(s[inner], e[inner], len(out))
    return out


def drop_short(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Remove runs of True shorter than ``min_len``.

    Parameters
    ----------
    mask : np.ndarray [shape=(n,)], bool
    min_len : int, frames

    Returns
    -------
    kept : np.ndarray [shape=(n,)], bool (a new array)
    """
    out = np.asarray(mask, dtype=bool).copy()
    s, e = runs(out)
    short = e - s < min_len
    if np.count_nonzero(short):
        out &= ~runs_to_mask(s[short], e[short], len(out))
    return out


def bridged_runs(mask: np.ndarray, min_gap: int, min_len: int) -> np.ndarray:
    """``drop_short(close_gaps(mask, min_gap), min_len)`` from one pass over the runs: runs of True
    closer than ``min_gap`` are joined, then joined runs shorter than ``min_len`` dropped.
    Shape (n,) -> (n,), bool."""
    found = runs(mask)
    starts, ends = _joined(*found, min_gap)
    long = ends - starts >= min_len
    if starts is found[0] and np.count_nonzero(long) == len(long):  # nothing bridged or dropped: the mask as it is
        return np.array(mask, dtype=bool)
    return apart_runs_to_mask(starts[long], ends[long], len(mask))


def _joined(starts: np.ndarray, ends: np.ndarray, min_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs (in order, apart) with the gaps shorter than ``min_gap`` between them closed.
    Shapes (k,), (k,) -> (j,), (j,)."""
    if len(starts) < 2:
        return starts, ends
    apart = np.empty(len(starts) + 1, bool)  # apart[i]: a gap of min_gap or more before run i
    np.greater_equal(starts[1:] - ends[:-1], min_gap, out=apart[1:-1])
    if np.count_nonzero(apart[1:-1]) == len(starts) - 1:
        return starts, ends
    apart[0] = apart[-1] = True
    return starts[apart[:-1]], ends[apart[1:]]


def open_then_close(mask: np.ndarray, open_size: int, close_size: int) -> np.ndarray:
    """A morphological opening (``open_size`` frames) then closing (``close_size`` frames) with
    centred windows, the ends repeated beyond the edges (``scipy.ndimage``'s "nearest"), from
    the runs (equal to ``dilate(erode(mask))`` then ``erode(dilate(...))`` with those windows).

    The opening keeps the runs of at least ``open_size`` frames, and those of more than
    ``open_size // 2`` that touch an end; the closing fills the gaps shorter than ``close_size``
    between two runs, and those of at most ``close_size // 2`` frames at an end.

    Parameters
    ----------
    mask : np.ndarray [shape=(n,)], bool
    open_size, close_size : int, odd

    Returns
    -------
    mask : np.ndarray [shape=(n,)], bool
    """
    n = len(mask)
    starts, ends = runs(mask)
    length = ends - starts
    keep = length >= open_size
    if len(starts):  # a run at an end has its erosion's window cut short there
        if starts[0] == 0:
            keep[0] = length[0] > open_size // 2 or ends[0] == n
        if ends[-1] == n:
            keep[-1] = length[-1] > open_size // 2 or starts[-1] == 0
    if not np.count_nonzero(keep):  # nothing to close
        return np.zeros(n, bool)
    starts, ends = _joined(starts[keep], ends[keep], close_size)
    if len(starts):
        if starts[0] <= close_size // 2:
            starts[0] = 0
        if n - ends[-1] <= close_size // 2:
            ends[-1] = n
    return apart_runs_to_mask(starts, ends, n)
