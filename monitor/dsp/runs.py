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
    m = np.asarray(mask, dtype=np.int8)
    d = np.diff(np.concatenate([[0], m, [0]]))
    return np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]


def close_gaps(mask: np.ndarray, min_gap: int) -> np.ndarray:
    """Fill runs of False shorter than ``min_gap`` that lie between two runs of True."""
    out = np.asarray(mask, dtype=bool).copy()
    s, e = runs(~out)
    inner = (s > 0) & (e < len(out)) & (e - s < min_gap)
    if inner.any():
        fill = np.zeros(len(out) + 1, dtype=np.int32)
        np.add.at(fill, s[inner], 1)
        np.add.at(fill, e[inner], -1)
        out |= np.cumsum(fill[:-1]) > 0
    return out


def drop_short(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Remove runs of True shorter than ``min_len``."""
    out = np.asarray(mask, dtype=bool).copy()
    s, e = runs(out)
    short = e - s < min_len
    if short.any():
        cut = np.zeros(len(out) + 1, dtype=np.int32)
        np.add.at(cut, s[short], 1)
        np.add.at(cut, e[short], -1)
        out &= ~(np.cumsum(cut[:-1]) > 0)
    return out
