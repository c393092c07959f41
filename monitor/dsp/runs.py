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
    edges = np.flatnonzero(padded[1:] != padded[:-1])  # starts and ends alternate
    return edges[::2], edges[1::2]


def runs_to_mask(starts: np.ndarray, ends: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of length ``n`` that is True on ``[starts[i], ends[i])`` for every i."""
    edges = np.bincount(starts, minlength=n + 1) - np.bincount(ends, minlength=n + 1)
    return np.cumsum(edges[:n]) > 0


def close_gaps(mask: np.ndarray, min_gap: int) -> np.ndarray:
    """Fill runs of False shorter than ``min_gap`` that lie between two runs of True."""
    out = np.asarray(mask, dtype=bool).copy()
    s, e = runs(~out)
    inner = (s > 0) & (e < len(out)) & (e - s < min_gap)
    if inner.any():
        out |= runs_to_mask(s[inner], e[inner], len(out))
    return out


def drop_short(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Remove runs of True shorter than ``min_len``."""
    out = np.asarray(mask, dtype=bool).copy()
    s, e = runs(out)
    short = e - s < min_len
    if short.any():
        out &= ~runs_to_mask(s[short], e[short], len(out))
    return out


def bridged_runs(mask: np.ndarray, min_gap: int, min_len: int) -> np.ndarray:
    """``drop_short(close_gaps(mask, min_gap), min_len)`` from one pass over the runs: runs of True
    closer than ``min_gap`` are joined, then joined runs shorter than ``min_len`` dropped.
    Shape (n,) -> (n,), bool."""
    starts, ends = runs(mask)
    if len(starts) > 1:
        join = starts[1:] - ends[:-1] < min_gap
        if join.any():
            starts, ends = starts[np.concatenate([[True], ~join])], ends[np.concatenate([~join, [True]])]
    long = ends - starts >= min_len
    return runs_to_mask(starts[long], ends[long], len(mask))
