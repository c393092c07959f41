"""Running filters on numpy arrays: moving average, running minimum and maximum, a low-pass FIR.

These replace the few ``scipy.ndimage`` and ``scipy.signal`` functions the
analyzer used, whose imports cost far more than the analysis of a short
recording. Each gives the same numbers as the scipy function it names
(tests/test_dsp_fast.py compares them bit for bit): the moving average
repeats ``scipy.ndimage.uniform_filter1d``'s running sum in double precision
(a sequential ``cumsum`` is the same additions in the same order), the
running extrema are exact whatever the algorithm (van Herk / Gil-Werman
blocks here), and the FIR is ``scipy.signal.firwin``'s Kaiser design, whose
single-precision taps it equals. The column means and maxima (and the pitch tracker's window
energies) call scipy's compiled loops themselves, loaded alone by :mod:`.scipy_core`, when a probe
finds them giving these numbers: one C call instead of a few numpy ones, which counts in the
streaming analyzer's small batches.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from . import scipy_core

NEAREST, CONSTANT = 0, 4
"""scipy.ndimage's codes of the modes "nearest" and "constant" (private to scipy: see :func:`compiled_mean`)."""


def _extend(x: np.ndarray, before: int, after: int, mode: str, cval: float) -> np.ndarray:
    """``x`` (shape (..., n)) extended along its last axis as ``scipy.ndimage`` does."""
    if mode == "nearest":  # np.pad(mode="edge") without its per-call bookkeeping
        n = x.shape[-1]
        out = np.empty(x.shape[:-1] + (n + before + after,), x.dtype)
        out[..., before:before + n] = x
        out[..., :before] = x[..., :1]
        out[..., before + n:] = x[..., n - 1:n]
        return out
    if mode == "constant":
        out = np.full(x.shape[:-1] + (x.shape[-1] + before + after,), cval, x.dtype)
        out[..., before:before + x.shape[-1]] = x
        return out
    raise ValueError(f"mode {mode!r}: only 'nearest' and 'constant' are supported")


def _margins(size: int, origin: int) -> tuple[int, int]:
    """Samples of the window left and right of the output sample (``scipy.ndimage``'s convention)."""
    before = size // 2 + origin
    after = size - 1 - before
    if before < 0 or after < 0:
        raise ValueError(f"origin {origin} outside a window of {size}")
    return before, after


def moving_average(x: np.ndarray, size: int, mode: str = "nearest", cval: float = 0.0,
                   origin: int = 0, count: int | None = None) -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d(x, size, axis=-1, mode=mode, cval=cval, origin=origin)``.

    Parameters
    ----------
    x : np.ndarray [shape=(..., n)], float
    size : int, window length
    mode : "nearest" (edge values repeated) or "constant" (``cval`` beyond the ends)
    origin : int, shift of the window (``size // 2 + origin`` samples lie left of the output sample)
    count : int, optional
        Only the first ``count`` outputs (the same values as those of the whole row).

    Returns
    -------
    mean : np.ndarray [shape=(..., count or n)], ``x``'s dtype
        Each row's running sum in double precision, updated sample by sample
        (add the entering sample, subtract the leaving one) and divided by ``size``.
    """
    n = x.shape[-1] if count is None else min(int(count), x.shape[-1])
    if n == 0:
        return x[..., :0].copy()
    before, after = _margins(size, origin)
    if before == 0 and n - 1 + size <= x.shape[-1]:  # the outputs wanted need no extension
        e = np.asarray(x[..., :n - 1 + size], np.float64)
    else:
        e = _extend(np.asarray(x, np.float64), before, after, mode, cval)
    total = _sum_chain(e, size, _sequential_sum(e[..., :size]), n - 1)
    total /= size
    return total.astype(x.dtype, copy=False)


def _sequential_sum(e: np.ndarray) -> np.ndarray:
    """Sum along the last axis, element after element (as ``cumsum(e)[..., -1]``, not numpy's
    pairwise ``sum``). Shape (..., m) -> (...).

    Rows are summed side by side: with the summed axis first and two or more rows contiguous,
    numpy adds one whole row of partial sums at a time, in the same order as the running sum.
    A single row would be summed pairwise: it takes the running sum itself.
    """
    if e.ndim == 1 or e.size < 2 * e.shape[-1]:
        return np.cumsum(e, axis=-1)[..., -1]
    return np.add.reduce(np.ascontiguousarray(np.moveaxis(e, -1, 0)), axis=0)


def _window_reduce(e: np.ndarray, size: int, reduce: np.ufunc, fill: float) -> np.ndarray:
    """``reduce`` over every window of ``size`` consecutive samples of the rows of ``e``.

    Van Herk / Gil-Werman: running ``reduce`` forwards and backwards within blocks of
    ``size``; each window spans at most two blocks. Shape (..., m) -> (..., m - size + 1).
    """
    m = e.shape[-1]
    n = m - size + 1
    total = -(-m // size) * size
    ext = np.full(e.shape[:-1] + (total,), fill, e.dtype)
    ext[..., :m] = e
    blocks = ext.reshape(e.shape[:-1] + (-1, size))
    prefix = reduce.accumulate(blocks, axis=-1).reshape(ext.shape)
    suffix = reduce.accumulate(blocks[..., ::-1], axis=-1)[..., ::-1].reshape(ext.shape)
    return reduce(suffix[..., :n], prefix[..., size - 1:size - 1 + n])


def trailing_min(x: np.ndarray, window: int) -> np.ndarray:
    """``out[i] = min(x[max(0, i-window+1) : i+1])``. Shape (n,) -> (n,)."""
    w = max(1, int(window))
    return _window_reduce(_extend(x, w - 1, 0, "constant", np.inf), w, np.minimum, np.inf) if len(x) else x.copy()


def trailing_max(x: np.ndarray, window: int) -> np.ndarray:
    """``out[i] = max(x[max(0, i-window+1) : i+1])``. Shape (n,) -> (n,)."""
    w = max(1, int(window))
    return _window_reduce(_extend(x, w - 1, 0, "constant", -np.inf), w, np.maximum, -np.inf) if len(x) else x.copy()


def trailing_max_between(x: np.ndarray, window: int, start: int, stop: int) -> np.ndarray:
    """``trailing_max(x, window)[start:stop]``, reading only the samples those outputs need.

    Shape (n,) -> (stop - start,), ``0 <= start <= stop <= n``.
    """
    return _trailing_between(x, window, start, stop, np.maximum, -np.inf)


def trailing_min_between(x: np.ndarray, window: int, start: int, stop: int) -> np.ndarray:
    """``trailing_min(x, window)[start:stop]``, reading only the samples those outputs need.

    Shape (n,) -> (stop - start,), ``0 <= start <= stop <= n``.
    """
    return _trailing_between(x, window, start, stop, np.minimum, np.inf)


def _trailing_between(x: np.ndarray, window: int, start: int, stop: int, reduce: np.ufunc,
                      fill: float) -> np.ndarray:
    w = max(1, int(window))
    if stop <= start:
        return x[:0].copy()
    lo = max(0, start - w + 1)
    ext = _extend(x[lo:stop], w - 1 - (start - lo), 0, "constant", fill)
    return _window_reduce(ext, w, reduce, fill)


def running_sums_after(e: np.ndarray, size: int, carry: float, count: int) -> np.ndarray:
    """The running sums :func:`moving_average` accumulates, continued: ``carry`` is the sum of the
    window ``e[0:size]`` as that chain reached it, and the next ``count`` windows
    ``e[i + 1:i + 1 + size]`` follow by the same additions (add the entering sample, subtract the
    leaving one), so their sums equal those of one chain over the whole row bit for bit.

    Shapes: ``e`` (m,), float64, ``m >= size + count`` -> (count,), float64 (undivided).
    """
    return _sum_chain(e, size, carry, count)[1:]


def _sum_chain(e: np.ndarray, size: int, first: np.ndarray | float, count: int) -> np.ndarray:
    """``first`` (the sum of each row's window ``e[..., 0:size]``) and the sums of the next
    ``count`` windows, each from the one before by adding the entering sample and subtracting the
    leaving one. Shapes: ``e`` (..., m), float64, ``m >= size + count`` -> (..., count + 1)."""
    out = np.empty(e.shape[:-1] + (count + 1,), np.float64)
    out[..., 0] = first
    np.subtract(e[..., size:size + count], e[..., :count], out=out[..., 1:])
    return np.add.accumulate(out, axis=-1, out=out)  # np.cumsum's additions, without its wrapper


def trailing_after(history: np.ndarray, new: np.ndarray, window: int, reduce: np.ufunc) -> np.ndarray:
    """``reduce`` (``np.maximum`` or ``np.minimum``) over the trailing ``window`` samples of
    ``concat(history, new)`` at each sample of ``new``: the running extremum of ``new`` met with
    the suffix extrema of ``history`` (exact, whatever the order).

    Shapes: ``history`` (h,), the samples just before ``new`` (all a window reaches, or all
    there are); ``new`` (m,) -> (m,).
    """
    w, h, m = max(1, int(window)), len(history), len(new)
    if m == 0:
        return new.copy()
    if m > w:  # windows that lie within ``new``: the blocks
        fill = np.inf if reduce is np.minimum else -np.inf
        return _trailing_between(np.concatenate([history, new]), w, h, h + m, reduce, fill)
    out = reduce.accumulate(new)
    lo, got = h - w + 1, min(m, w - 1)  # window k starts at history index lo + k; the first got reach back
    if h == 0 or got == 0:
        return out
    i0, i1 = max(0, lo), max(1, lo + got)  # the history indices those windows start at: i0 .. i1 (excl.)
    suffix = reduce.accumulate(history[i0:i1][::-1])[::-1]  # reduce(history[i:i1]) for i in i0 .. i1
    if i1 < h:
        suffix = reduce(suffix, reduce.reduce(history[i1:]))
    if lo < 0:  # the first windows start before the history: they all take its whole suffix
        suffix = suffix[np.maximum(np.arange(lo, lo + got), i0) - i0]
    reduce(out[:got], suffix, out=out[:got])
    return out


def _along(x: np.ndarray, axis: int, fn) -> np.ndarray:
    """``fn`` (working on the last axis) applied along ``axis``."""
    if axis in (-1, x.ndim - 1):
        return fn(x)
    return np.moveaxis(fn(np.moveaxis(x, axis, -1)), -1, axis)


def uniform_filter1d(x: np.ndarray, size: int, axis: int = -1, mode: str = "nearest", cval: float = 0.0,
                     origin: int = 0) -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d`` (modes "nearest" and "constant"): :func:`moving_average` along ``axis``.

    Parameters
    ----------
    x : np.ndarray [shape=(..., n, ...)], ``n`` along ``axis``
    size : int, samples averaged
    axis : int
    mode : "nearest" (edges repeated) or "constant" (``cval`` beyond the edges)
    origin : int, shift of the window's centre

    Returns
    -------
    y : np.ndarray [shape=x.shape]
    """
    x = np.asarray(x)
    if x.ndim == 2 and axis in (0, -2) and x.shape[0] and x.shape[1] >= 2:
        return _moving_average_down(x, size, mode, cval, origin)
    return _along(x, axis, lambda v: moving_average(v, size, mode, cval, origin))


def _moving_average_down(x: np.ndarray, size: int, mode: str, cval: float, origin: int) -> np.ndarray:
    """:func:`moving_average` of each column of a matrix, without moving its axes: the running
    sums of all columns advance one row at a time, each column's additions in the same order.

    Parameters
    ----------
    x : np.ndarray [shape=(n, c)], c >= 2 (a single column would be summed pairwise)

    Returns
    -------
    mean : np.ndarray [shape=(n, c)], ``x``'s dtype
    """
    n = x.shape[0]
    before, after = _margins(size, origin)
    if mode == "nearest" and origin == 0:
        return columns_mean(x, size)
    e = _extend(np.asarray(x, np.float64).T, before, after, mode, cval).T  # (n + size - 1, c), rows apart
    return _running_means_down(np.ascontiguousarray(e), n, size).astype(x.dtype, copy=False)


def _extremum_filter1d(x: np.ndarray, size: int, axis: int, mode: str, cval: float, origin: int,
                       reduce: np.ufunc, fill: float) -> np.ndarray:
    x = np.asarray(x)
    if x.shape[axis] == 0:
        return x.copy()
    before, after = _margins(size, origin)
    return _along(x, axis, lambda v: _window_reduce(_extend(v, before, after, mode, cval), size, reduce, fill))


def minimum_filter1d(x: np.ndarray, size: int, axis: int = -1, mode: str = "nearest", cval: float = 0.0,
                     origin: int = 0) -> np.ndarray:
    """``scipy.ndimage.minimum_filter1d`` (modes "nearest" and "constant"). Shape kept."""
    return _extremum_filter1d(x, size, axis, mode, cval, origin, np.minimum, np.inf)


def maximum_filter1d(x: np.ndarray, size: int, axis: int = -1, mode: str = "nearest", cval: float = 0.0,
                     origin: int = 0) -> np.ndarray:
    """``scipy.ndimage.maximum_filter1d`` (modes "nearest" and "constant"). Shape kept."""
    x = np.asarray(x)
    if x.ndim == 2 and axis in (0, -2) and mode == "nearest" and origin == 0:
        return columns_max(x, size)
    return _extremum_filter1d(x, size, axis, mode, cval, origin, np.maximum, -np.inf)


def kaiser_lowpass(numtaps: int, cutoff: float, beta: float) -> np.ndarray:
    """Windowed-sinc low-pass FIR: ``scipy.signal.firwin(numtaps, cutoff, window=("kaiser", beta))``.

    Parameters
    ----------
    numtaps : int, odd
    cutoff : float, fraction of the Nyquist frequency (0 < cutoff < 1)
    beta : float, Kaiser window shape

    Returns
    -------
    taps : np.ndarray [shape=(numtaps,)], float64, summing to 1
        Equal to firwin's within a few 1e-18, and exactly equal once cast to float32.
    """
    m = np.arange(numtaps) - 0.5 * (numtaps - 1)
    h = cutoff * np.sinc(cutoff * m)
    a = 0.5 * (numtaps - 1)
    h = h * (np.i0(beta * np.sqrt(1 - ((np.arange(numtaps) - a) / a) ** 2.0)) / np.i0(beta))
    return h / np.sum(h)


@lru_cache(maxsize=1)
def compiled_mean() -> Callable[..., None] | None:
    """scipy's compiled ``uniform_filter1d(input, size, axis, output, mode, cval, origin)`` (one C
    loop per row or column, the output cast to the output array's type), or None if it is not
    found or does not give :func:`moving_average`'s numbers on a probe in both modes the analyzer
    uses: its arguments and mode codes are private to scipy, and another version may change them.
    Probed once per process: the answer is cached (the module's only state; ``cache_clear`` probes
    again)."""
    nd = scipy_core.compiled("ndimage", "_nd_image", "uniform_filter1d")
    if nd is None:
        return None
    # in double precision and over 5 samples (not a power of two), so that a loop that divides
    # each step by the size (scipy before 1.0) rounds otherwise than the running sum
    probe = np.square(np.linspace(-1.0, 2.0, 26)).reshape(2, 13)
    for mode, code, origin in (("constant", CONSTANT, -2), ("nearest", NEAREST, 0)):
        got = np.empty_like(probe)
        try:
            nd.uniform_filter1d(probe, 5, 1, got, code, 0.0, origin)
        except (TypeError, ValueError, RuntimeError):
            return None
        if not np.array_equal(got, moving_average(probe, 5, mode=mode, origin=origin)):
            return None
    return nd.uniform_filter1d


def columns_mean(x: np.ndarray, size: int, out: np.ndarray | None = None) -> np.ndarray:
    """Centred moving average of each column (``scipy.ndimage.uniform_filter1d(x, size, axis=0,
    mode="nearest")``): the running sums of all columns advance one row at a time, in double
    precision, each column's additions in the same order (scipy's compiled loop when
    :func:`compiled_mean` finds it).

    Parameters
    ----------
    x : np.ndarray [shape=(n, c)]
    size : int
    out : np.ndarray [shape=(n, c)], optional  where to write the means (any strides)

    Returns
    -------
    means : np.ndarray [shape=(n, c)], ``x``'s dtype (``out``'s, if given)
    """
    if len(x) == 0:
        return x.copy() if out is None else out
    loop = compiled_mean()
    if loop is not None:
        out = np.empty(x.shape, x.dtype) if out is None else out
        loop(x, size, 0, out, NEAREST, 0.0, 0)
        return out
    means = _running_means_down(_nearest_rows(x, size, np.dtype(np.float64)), len(x), size)
    if out is None:
        return means.astype(x.dtype, copy=False)
    out[...] = means
    return out


def _nearest_rows(x: np.ndarray, size: int, dtype: np.dtype) -> np.ndarray:
    """``x`` (shape (n, c), n > 0) with its first and last rows repeated for a centred window of
    ``size`` rows (``scipy.ndimage``'s "nearest"): shape (n + size - 1, c), rows contiguous."""
    n, before = len(x), size // 2
    ext = np.empty((n + size - 1, x.shape[1]), dtype)
    ext[:before] = x[0]
    ext[before:before + n] = x
    ext[before + n:] = x[n - 1]
    return ext


def _running_means_down(e: np.ndarray, n: int, size: int) -> np.ndarray:
    """Means of every ``size`` consecutive rows of the extended matrix ``e`` (shape
    (n + size - 1, c), float64) -> (n, c) float64: the running sums of all columns advance one
    row at a time, each column's additions in the same order (a single column's first window
    by a running sum too: numpy's ``add.reduce`` of one contiguous column is pairwise)."""
    steps = np.empty((n, e.shape[1]), np.float64)
    steps[0] = _sequential_sum(e[:size].T)
    np.subtract(e[size:size + n - 1], e[:n - 1], out=steps[1:])
    np.add.accumulate(steps, axis=0, out=steps)  # np.cumsum's additions, without its wrapper
    steps /= size
    return steps


@lru_cache(maxsize=1)
def compiled_max() -> Callable[..., None] | None:
    """scipy's compiled ``min_or_max_filter1d(input, size, axis, output, mode, cval, origin,
    minimum)``, or None if it is not found or does not give :func:`columns_max`'s numbers on a
    probe (with plateaus and ties). Its comparisons treat a NaN otherwise than ``np.maximum``
    does: for finite values only. Probed once per process, as :func:`compiled_mean`."""
    nd = scipy_core.compiled("ndimage", "_nd_image", "min_or_max_filter1d")
    if nd is None:
        return None
    probe = np.round(np.sin(np.arange(26, dtype=np.float32)) * 3.0).reshape(13, 2)
    got = np.empty_like(probe)
    try:
        nd.min_or_max_filter1d(probe, 5, 0, got, NEAREST, 0.0, 0, 0)
    except (TypeError, ValueError, RuntimeError):
        return None
    return nd.min_or_max_filter1d if np.array_equal(got, columns_max(probe, 5)) else None


def columns_max(x: np.ndarray, size: int, finite: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """Centred running maximum of each column (``scipy.ndimage.maximum_filter1d(x, size, axis=0,
    mode="nearest")``).

    Parameters
    ----------
    x : np.ndarray [shape=(n, c)]
    size : int
    finite : bool  the caller knows every value is finite: scipy's compiled loop may serve
    out : np.ndarray [shape=(n, c)], optional  where to write the maxima (any strides)

    Returns
    -------
    maxima : np.ndarray [shape=(n, c)]  (``out``, if given)
    """
    n = len(x)
    if n == 0:
        return x.copy() if out is None else out
    loop = compiled_max() if finite else None
    if loop is not None:
        out = np.empty(x.shape, x.dtype) if out is None else out
        loop(x, size, 0, out, NEAREST, 0.0, 0, 0)
        return out
    span, top = 1, _nearest_rows(x, size, x.dtype)
    while 2 * span <= size:  # top[i]: the maximum of ext[i : i + span], span doubling
        top = np.maximum(top[:-span], top[span:])
        span *= 2
    return np.maximum(top[:n], top[size - span:size - span + n], out=out)


def window_counts(mask: np.ndarray, size: int) -> np.ndarray:
    """True frames of ``mask`` in the centred window of ``size`` (odd) frames around each frame,
    the ends repeated beyond the edges (``scipy.ndimage``'s "nearest"): ``> 0`` is the running
    maximum (a dilation), ``== size`` the running minimum (an erosion).

    Parameters
    ----------
    mask : np.ndarray [shape=(n,) or (n, k)], bool (k masks: each column counted down the frames)
    size : int, odd

    Returns
    -------
    counts : np.ndarray [shape=(n,) or (n, k)], int32
    """
    n, h = len(mask), size // 2
    if n == 0:
        return np.zeros(mask.shape, np.int32)
    ext = np.empty((n + size,) + mask.shape[1:], np.int32)
    ext[0] = 0
    ext[1:h + 1] = mask[0]
    ext[h + 1:h + 1 + n] = mask
    ext[h + 1 + n:] = mask[n - 1]
    total = np.add.accumulate(ext, axis=0, out=ext)
    return total[size:] - total[:n]
