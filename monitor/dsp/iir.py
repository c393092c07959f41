"""The first-order recurrence ``y[n] = a * y[n-1] + u[n]``, sample by sample in compiled code.

The edge's high-pass runs this recurrence over every sample of every recording, so its cost
is a large share of a replay. numpy has no recursive filter, and ``scipy.signal`` costs about
half a second to import; its compiled core ``scipy.signal._sigtools`` imports nothing but
numpy, so it is loaded straight from scipy's installation (:mod:`monitor.dsp.scipy_core`, as
pocketfft is) and its ``_linear_filter`` (the loop behind ``scipy.signal.lfilter``) is called
with the one-pole filter ``1 / (1 - a z^-1)``. That is the recurrence itself, in the order of
its definition: one rounding per multiplication and per addition, so any split of a stream
into blocks, with the state carried, gives the samples of the whole bit for bit. Should the
module not be found, a block-matrix form in numpy gives the same to rounding (1e-15).
"""

from __future__ import annotations

import functools
from types import ModuleType

import numpy as np

from . import scipy_core

BLOCK = 64
"""Samples per block of the block-matrix fallback."""


@functools.lru_cache(maxsize=1)
def _sigtools() -> ModuleType | None:
    """scipy's compiled ``_sigtools`` module, loaded without ``scipy.signal``, or None if it is not
    found or its ``_linear_filter`` does not give :func:`block_recurrence`'s numbers on a probe: its
    arguments are private to scipy, and another version may change them. Probed once per process
    (the answer is cached)."""
    st = scipy_core.compiled("signal", "_sigtools", "_linear_filter")
    if st is None:
        return None
    probe = np.linspace(-1.0, 1.0, 2 * BLOCK + 3).reshape(1, -1)
    y0 = np.array([0.25])
    try:
        got, _ = st._linear_filter(np.ones(1), np.array([1.0, -0.9]), probe, -1, (0.9 * y0).reshape(-1, 1))
    except (TypeError, ValueError, RuntimeError):
        return None
    want = block_recurrence(probe.T, 0.9, y0).T
    return st if got.shape == want.shape and np.allclose(got, want, rtol=0.0, atol=1e-12) else None


def first_order_recurrence(u: np.ndarray, a: float, y0: np.ndarray) -> np.ndarray:
    """``y[n] = a * y[n-1] + u[n]`` along axis 0, with ``y[-1] = y0``.

    Parameters
    ----------
    u : np.ndarray [shape=(n, channels)], float64
    a : float, |a| < 1
    y0 : np.ndarray [shape=(channels,)]

    Returns
    -------
    y : np.ndarray [shape=(n, channels)], float64
    """
    return recurrence_rows(np.ascontiguousarray(np.asarray(u).T, dtype=np.float64), a, y0).T


def recurrence_rows(u: np.ndarray, a: float, y0: np.ndarray) -> np.ndarray:
    """:func:`first_order_recurrence` along the last axis of channel rows.

    Parameters
    ----------
    u : np.ndarray [shape=(channels, n)], float64, C-contiguous
    a : float, |a| < 1
    y0 : np.ndarray [shape=(channels,)]

    Returns
    -------
    y : np.ndarray [shape=(channels, n)], float64
    """
    if u.shape[-1] == 0:
        return u.copy()
    st = _sigtools()
    if st is None:
        return block_recurrence(u.T, a, np.asarray(y0, np.float64)).T
    zi = (a * np.asarray(y0, np.float64)).reshape(-1, 1)  # the state entering y[0] = u[0] + a * y[-1]
    y, _ = st._linear_filter(np.ones(1), np.array([1.0, -a]), u, -1, zi)
    return y


@functools.lru_cache(maxsize=32)
def _recurrence_matrices(a: float) -> tuple[np.ndarray, np.ndarray, float]:
    """For blocks of ``BLOCK``: ``m[j, k] = a**(k - j)`` (k >= j, else 0), the carry of the entering
    state ``a**(k + 1)`` and ``a**BLOCK``."""
    k = np.arange(BLOCK)
    lag = k[None, :] - k[:, None]
    with np.errstate(under="ignore"):
        m = np.where(lag >= 0, a ** np.maximum(lag, 0), 0.0)
        carry = a ** (k + 1)
    m.flags.writeable = carry.flags.writeable = False  # shared by every caller of the cache
    return m, carry, float(a ** BLOCK)


def block_recurrence(u: np.ndarray, a: float, y0: np.ndarray) -> np.ndarray:
    """:func:`first_order_recurrence` without a loop over samples, in numpy alone.

    The samples are cut in blocks of ``BLOCK``: one matrix product gives every block's response
    from a zero state, and the states the blocks hand on are the same recurrence over the block
    ends with coefficient ``a ** BLOCK`` (solved the same way, so the depth is the logarithm of
    the length). Equal to the sequential recurrence to rounding (1e-15).

    Parameters
    ----------
    u : np.ndarray [shape=(n, channels)], float64
    a : float, |a| < 1
    y0 : np.ndarray [shape=(channels,)]

    Returns
    -------
    y : np.ndarray [shape=(n, channels)]
    """
    n, channels = u.shape
    if n == 0:
        return u.copy()
    nb = -(-n // BLOCK)
    blocks = np.concatenate([u, np.zeros((nb * BLOCK - n, channels))]).reshape(nb, BLOCK, channels)
    m, carry, a_block = _recurrence_matrices(a)
    # one matrix product over every (block, channel) row: a single BLAS call, not one per block
    rows = np.ascontiguousarray(blocks.transpose(0, 2, 1)).reshape(nb * channels, BLOCK)
    zero_state = (rows @ m).reshape(nb, channels, BLOCK).transpose(0, 2, 1)  # (nb, BLOCK, channels)
    ends = block_recurrence(zero_state[:, -1, :], a_block, y0) if nb > 1 else None
    entering = y0[None, :] if ends is None else np.concatenate([y0[None, :], ends[:-1]])
    y = zero_state + entering[:, None, :] * carry[None, :, None]
    return y.reshape(nb * BLOCK, channels)[:n]
