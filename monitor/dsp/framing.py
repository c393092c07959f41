"""Framing of a signal into overlapping windows as strided views."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def n_frames(n_samples: int, frame_length: int, hop_length: int) -> int:
    """Number of complete frames of ``frame_length`` every ``hop_length`` samples."""
    if n_samples < frame_length:
        return 0
    return 1 + (n_samples - frame_length) // hop_length


def frames_touching(spans: np.ndarray, first: int, count: int, frame_length: int, hop_length: int) -> np.ndarray:
    """Which of frames ``first .. first + count`` (frame ``i``: samples ``i hop .. i hop + length``)
    hold a sample of any of ``spans`` (shape (k, 2): ``[start, end)`` sample ranges).
    Shape -> (count,), bool."""
    spans = np.asarray(spans, np.int64).reshape(-1, 2)
    lo = np.clip((spans[:, 0] - frame_length) // hop_length + 1 - first, 0, count)
    hi = np.clip((spans[:, 1] - 1) // hop_length + 1 - first, 0, count)
    edges = np.zeros(count + 1, np.int64)
    np.add.at(edges, lo[hi > lo], 1)
    np.add.at(edges, hi[hi > lo], -1)
    return np.cumsum(edges[:count]) > 0


def frame_signal(x: np.ndarray, frame_length: int, hop_length: int, offset: int = 0,
                 count: int | None = None) -> np.ndarray:
    """Frames of ``x`` as a read-only strided view (no copy).

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
    frame_length, hop_length : int, samples
    offset : int
        Sample index where frame 0 starts.
    count : int or None
        Number of frames wanted (default: every complete frame).

    Returns
    -------
    frames : np.ndarray [shape=(count, frame_length)]
        ``frames[i] = x[offset + i*hop_length : offset + i*hop_length + frame_length]``
    """
    avail = n_frames(len(x) - offset, frame_length, hop_length)
    if count is None:
        count = avail
    if count > avail:
        raise ValueError(f"asked for {count} frames, signal holds {avail}")
    if count == 0:
        return np.zeros((0, frame_length), dtype=x.dtype)
    return strided_view(x[offset:], (count, frame_length), (hop_length, 1))


def strided_view(x: np.ndarray, shape: tuple[int, ...], steps: tuple[int, ...]) -> np.ndarray:
    """Read-only view of 1-D ``x`` with ``shape``, each axis advancing ``steps`` elements.

    Every element of the view must lie inside ``x`` (else ValueError).
    This is ``as_strided`` / ``sliding_window_view`` without most of their
    per-call overhead (about 4 us instead of 5-20 us, which matters for the
    streaming analyzer's small batches).

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
    shape, steps : tuple of int, one per axis of the view

    Returns
    -------
    view : np.ndarray [shape=shape]
    """
    # (min and lists rather than generators: a stream's batch makes six views)
    if min(shape, default=0) < 0 or min(steps, default=0) < 0:
        raise ValueError(f"strided view {shape} / {steps}: negative sizes or steps")
    if 0 not in shape and sum([(n - 1) * st for n, st in zip(shape, steps)]) >= len(x):
        raise ValueError(f"strided view {shape} / {steps} reaches past {len(x)} samples")
    step = x.strides[0]
    strides = tuple([s * step for s in steps])
    if not x.flags.c_contiguous:
        return as_strided(x, shape=shape, strides=strides, writeable=False)
    # over a read-only buffer, so that the view can never be made writeable again
    frozen = np.frombuffer(x.data.toreadonly(), x.dtype)
    return np.ndarray(shape, x.dtype, buffer=frozen, strides=strides)


def gaussian(n: int) -> np.ndarray:
    """Praat's Gaussian window (``Sound_createGaussian``), float32, shape (n,).

    ``(exp(-48 x^2) - exp(-12)) / (1 - exp(-12))`` with ``x = (i - (n + 1) / 2) / n``,
    i = 1 .. n: a Gaussian whose physical width ``n`` is twice its effective width.
    """
    x = (np.arange(1, n + 1) - 0.5 * (n + 1)) / n
    edge = np.exp(-12.0)
    return ((np.exp(-48.0 * x * x) - edge) / (1.0 - edge)).astype(np.float32)
