"""Real FFTs of float32 frames: scipy's pocketfft, without importing ``scipy.fft``.

``scipy.fft`` pulls ``scipy.special`` and the array-API layer in on import
(about 0.2 s of CPU on a small machine, more than a whole ``call-monitor
analyze`` of a short file). The transforms themselves live in the small
compiled module ``scipy.fft._pocketfft.pypocketfft``, which imports nothing
else; it is loaded straight from scipy's installation (:mod:`.scipy_core`)
and called with the arguments ``scipy.fft.rfft``/``irfft`` pass it, so the
results are bit-identical to theirs (tests/test_dsp_fast.py checks it). Should the module
not be where it is expected, ``scipy.fft`` itself is used.
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType

import numpy as np

from . import scipy_core

LN_POWER_TO_DB = 10.0 / np.log(10.0)
"""dB per unit of a power's natural logarithm (10 / ln 10), a numpy double: what it scales is
scaled in double precision."""


def _pocketfft() -> ModuleType | None:
    """scipy's compiled pocketfft module, loaded without its parent packages (None if not found)."""
    return scipy_core.compiled("fft._pocketfft", "pypocketfft", "r2c")


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut or zero-padded to ``n`` along its last axis (as scipy.fft does it)."""
    if x.shape[-1] >= n:
        return x[..., :n]
    z = np.zeros(x.shape[:-1] + (n,), x.dtype)
    z[..., :x.shape[-1]] = x
    return z


def _native(x: np.ndarray) -> np.ndarray:
    """``x`` in native byte order and aligned, as pocketfft takes it: ``x`` itself when it is both
    already, else a copy (``np.asarray``, not numpy 2's ``copy=None``: numpy 1.24 is supported too).

    Parameters
    ----------
    x : np.ndarray [shape=(...)]

    Returns
    -------
    native : np.ndarray [shape=(...)], the same values
    """
    native = x.dtype.newbyteorder("=")
    return np.asarray(x, dtype=native) if x.flags.aligned else np.array(x, dtype=native)


def rfft(x: np.ndarray, n: int) -> np.ndarray:
    """``scipy.fft.rfft(x, n, axis=-1)`` of float32 or float64 rows.

    Parameters
    ----------
    x : np.ndarray [shape=(..., m)], float32 or float64
    n : int, transform length (``x`` is cut or zero-padded to it)

    Returns
    -------
    spectrum : np.ndarray [shape=(..., n // 2 + 1)], complex64 or complex128
    """
    pf = _pocketfft()
    if pf is None:
        import scipy.fft
        return scipy.fft.rfft(x, n, axis=-1)
    x = _native(x)
    return pf.r2c(_fit(x, n), (x.ndim - 1,), True, 0, None, 1)


def irfft(x: np.ndarray, n: int) -> np.ndarray:
    """``scipy.fft.irfft(x, n, axis=-1)``: the real signal of length ``n`` of half-spectra ``x``.

    Parameters
    ----------
    x : np.ndarray [shape=(..., k)], real or complex (real rows are taken as spectra with zero phase)
    n : int

    Returns
    -------
    signal : np.ndarray [shape=(..., n)], float32 for single-precision input
    """
    pf = _pocketfft()
    if pf is None:
        import scipy.fft
        return scipy.fft.irfft(x, n, axis=-1)
    x = _native(x)
    if x.dtype.kind != "c":
        x = x + 0.j
    return pf.c2r(_fit(x, n // 2 + 1), (x.ndim - 1,), n, False, 2, None, 1)


def power_in_place(spec: np.ndarray) -> np.ndarray:
    """``spec.real ** 2 + spec.imag ** 2`` of complex rows, the same numbers, with fewer passes:
    the real and imaginary parts are squared where they lie (``spec`` is consumed) and summed
    in pairs.

    Parameters
    ----------
    spec : np.ndarray [shape=(..., k)], complex64 or complex128, its last axis contiguous

    Returns
    -------
    power : np.ndarray [shape=(..., k)], float32 or float64
    """
    parts = spec.view(spec.real.dtype)  # (..., 2k): re, im, re, im, ...
    np.multiply(parts, parts, out=parts)
    return np.add(parts[..., 0::2], parts[..., 1::2])


@lru_cache(maxsize=64)
def next_fast_len(target: int, real: bool = True) -> int:
    """``scipy.fft.next_fast_len``: the smallest length >= ``target`` that pocketfft does fastest."""
    pf = _pocketfft()
    if pf is None:
        import scipy.fft
        return scipy.fft.next_fast_len(target, real=real)
    return int(pf.good_size(target, real))


def band_power(spec: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``|spec[..., lo:hi]|²``, the same numbers as :func:`power_in_place`, ``spec`` left as it
    is: the band's real and imaginary parts squared into one new contiguous array, then summed
    in pairs (for a band, whose rows are strided, faster than squaring in place).

    Parameters
    ----------
    spec : np.ndarray [shape=(..., k)], complex64 or complex128, its last axis contiguous
    lo, hi : int  the band's bins

    Returns
    -------
    power : np.ndarray [shape=(..., hi - lo)], float32 or float64
    """
    squares = np.square(spec[..., lo:hi].view(spec.real.dtype))  # re², im², ...
    return np.add(squares[..., 0::2], squares[..., 1::2])

