"""F0, voicing and HNR from the normalised cross-correlation (Boersma 1993; Praat's "cc").

For each frame a reference window of one period of the lowest pitch is
correlated with the same signal at lags up to that period; the correlation is
normalised by the energies of both windows, so a perfectly periodic frame
gives r = 1 at its period. HNR follows as ``10 log10(r / (1 - r))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import fft as sfft
from .filters import CONSTANT, compiled_mean, moving_average
from .framing import strided_view
from .peaks import parabolic, parabolic_at, row_values


_AROUND = np.arange(3)  # the lags k - 1, k, k + 1 as steps from k - 1
_AROUND.flags.writeable = False


@dataclass(frozen=True)
class PitchParams:
    """Settings of the cross-correlation pitch tracker."""

    f0_min: float = 60.0
    f0_max: float = 400.0
    voicing_threshold: float = 0.45
    octave_cost: float = 0.03  # per octave: favours the shorter of near-equal lags
    ac_window_s: float = 0.04  # >0: confirm F0 with Praat's ac strength over a Hanning window this long
    ac_threshold: float = 0.55
    f0_report_min: float = 0.0  # F0 below this is reported as NaN (only with ac_window_s > 0)


def _cc_length(rate: int, params: PitchParams) -> int:
    return 2 * int(np.ceil(rate / params.f0_min)) + 1


def segment_length(rate: int, params: PitchParams) -> int:
    """Samples each frame needs: reference window plus the longest lag (and the ac window)."""
    n = _cc_length(rate, params)
    if params.ac_window_s > 0:
        n = max(n, int(round(params.ac_window_s * rate)))
    return n


def normalized_cross_correlation(segments: np.ndarray, ref_length: int, max_lag: int) -> np.ndarray:
    """Normalised cross-correlation of each segment's head with itself at every lag.

    Parameters
    ----------
    segments : np.ndarray [shape=(n, L)], L >= ref_length + max_lag
    ref_length : int
        Length of the reference window (samples).
    max_lag : int

    Returns
    -------
    r : np.ndarray [shape=(n, max_lag + 1)]
        ``r[i, k] = sum_t s[t] s[t+k] / sqrt(sum_t s[t]^2 * sum_t s[t+k]^2)``, t < ref_length.
    """
    n, length = segments.shape
    if length < ref_length + max_lag:
        raise ValueError(f"segments of {length} samples are shorter than ref_length + max_lag "
                         f"({ref_length} + {max_lag})")
    s = (segments - _row_means(segments)).astype(np.float32, copy=False)
    nfft = sfft.next_fast_len(length, real=True)
    spec = sfft.rfft(s, nfft)
    ref = sfft.rfft(s[:, :ref_length], nfft)
    c = sfft.irfft(np.conj(ref) * spec, nfft)[:, :max_lag + 1]
    # energy of the window at each lag: a moving sum of squares (accumulated in double)
    e_lag = _window_energies(s, ref_length, max_lag + 1)
    e_ref = e_lag[:, :1]
    r = c / np.sqrt(np.maximum(e_ref * e_lag, np.float32(1e-30)))
    silent = e_ref[:, 0] <= 1e-20
    if np.count_nonzero(silent):  # (faster than .any())
        r[silent] = 0.0
    return np.clip(r, -1.0, 1.0, out=r)


def _row_means(x: np.ndarray) -> np.ndarray:
    """``x.mean(axis=1, keepdims=True)`` without its wrapper: ``np.mean``'s sum and division (by
    the count as an intp, as it divides), the same numbers. Shape (n, m) -> (n, 1)."""
    sums = np.add.reduce(x, axis=1, keepdims=True)
    return np.true_divide(sums, np.intp(x.shape[1]), out=sums, casting="unsafe")


def _window_energies(s: np.ndarray, length: int, count: int) -> np.ndarray:
    """Sums of squares of ``s[:, k:k + length]`` for k < ``count``, shape (n, count), float32: the
    moving average of the squares (its running sum in double) times ``length``.

    The moving average is scipy's compiled ``uniform_filter1d`` loop (the same numbers as
    :func:`moving_average`) when :func:`~.filters.compiled_mean` finds it: a third faster.
    """
    sq = np.square(s[:, :count - 1 + length])
    loop = compiled_mean()
    if loop is None:
        box = moving_average(sq, length, mode="constant", origin=-(length // 2), count=count)
    else:
        box = np.empty_like(sq)
        loop(sq, length, 1, box, CONSTANT, 0.0, -(length // 2))
        box = box[:, :count]
    return box * np.float32(length)


def pitch_from_correlation(r: np.ndarray, rate: int, params: PitchParams) -> tuple[np.ndarray, np.ndarray]:
    """Best pitch candidate of each frame from its correlation curve.

    Parameters
    ----------
    r : np.ndarray [shape=(n, max_lag + 1)]
    rate : int
    params : PitchParams

    Returns
    -------
    f0 : np.ndarray [shape=(n,)]  Hz of the best local maximum (parabolic interpolation)
    strength : np.ndarray [shape=(n,)]  interpolated correlation at that lag (0 if none)
    """
    m = r.shape[1]
    lo = max(2, int(np.floor(rate / params.f0_max)))
    hi = min(m - 2, int(np.ceil(rate / params.f0_min)))
    mid = r[:, lo:hi + 1]
    left = r[:, lo - 1:hi]
    right = r[:, lo + 1:hi + 2]
    is_peak = (mid >= left) & (mid > right) & (mid > 0)
    # Praat's candidate strength: r - octave_cost * log2(f_min / f)
    score = np.where(is_peak, mid - _octave_penalty(lo, hi, rate, params.f0_min, params.octave_cost), -np.inf)
    best = score.argmax(axis=1)
    found = np.isfinite(row_values(score, best))
    delta, peak = parabolic_at(r, best + lo)
    lag = (best + lo) + delta
    f0 = np.where(found, rate / lag, np.nan)
    strength = np.where(found, np.minimum(np.maximum(peak, 0.0), 1.0), 0.0)
    return f0, strength


@lru_cache(maxsize=8)
def _octave_penalty(lo: int, hi: int, rate: int, f0_min: float, octave_cost: float) -> np.ndarray:
    """``octave_cost * log2(f0_min * lag / rate)`` at lags ``lo .. hi``, float64, shape (hi - lo + 1,)."""
    penalty = octave_cost * np.log2(f0_min * np.arange(lo, hi + 1) / rate)
    penalty.flags.writeable = False
    return penalty


def hnr_from_strength(strength: np.ndarray) -> np.ndarray:
    """Harmonics-to-noise ratio in dB, ``10 log10(r / (1 - r))``, r clipped to [1e-4, 1 - 1e-4].

    Parameters
    ----------
    strength : np.ndarray [shape=(n,)]

    Returns
    -------
    hnr_db : np.ndarray [shape=(n,)]
    """
    r = np.clip(strength, 1e-4, 1 - 1e-4)
    return 10.0 * np.log10(r / (1.0 - r))


def pitch_frames(segments: np.ndarray, rate: int, params: PitchParams) -> tuple[np.ndarray, np.ndarray]:
    """F0 and correlation strength for frames of ``segment_length(rate, params)`` samples.

    Parameters
    ----------
    segments : np.ndarray [shape=(n, segment_length)]

    Returns
    -------
    f0 : np.ndarray [shape=(n,)], strength : np.ndarray [shape=(n,)]
    """
    ref = int(np.ceil(rate / params.f0_min))
    m = _cc_length(rate, params)
    off = segments.shape[1] // 2 - m // 2
    r = normalized_cross_correlation(segments[:, off:off + m], ref, ref)
    f0, strength = pitch_from_correlation(r, rate, params)
    if params.ac_window_s > 0:
        # only frames strong enough to be voiced can report an F0: check just those
        need = strength >= params.voicing_threshold
        ac = np.zeros(len(f0), np.float32)
        if np.count_nonzero(need):
            ac[need] = ac_strength(segments[need], rate / f0[need], int(round(params.ac_window_s * rate)))
        f0 = np.where(need & (ac >= params.ac_threshold) & (f0 >= params.f0_report_min), f0, np.nan)
    return f0, strength


def ac_strength(segments: np.ndarray, lag: np.ndarray, n_win: int) -> np.ndarray:
    """Praat's windowed-autocorrelation strength ("ac" method) near a given lag of each frame.

    Parameters
    ----------
    segments : np.ndarray [shape=(n, L)]
        Frames centred on the analysis instants; ``L >= n_win``.
    lag : np.ndarray [shape=(n,)]
        Lag in samples (fractional; NaN where there is none), below ``n_win - 1``.
    n_win : int
        Length of the Hanning window (centred in the segment).

    Returns
    -------
    r : np.ndarray [shape=(n,)]
        ``r_xw(k) / r_xw(0) / r_w(k)`` of the mean-free, Hanning-windowed
        frame ``xw`` (Boersma 1993), the peak of a parabola through the
        integer lags around ``lag``; 0 where ``lag`` is NaN or the frame silent.
    """
    n, length = segments.shape
    if n == 0:
        return np.zeros(0, np.float32)
    ok = np.isfinite(lag)
    k = np.rint(np.where(ok, lag, 2.0)).astype(np.int64)
    k = np.minimum(np.maximum(k, 2, out=k), n_win - 3, out=k)
    w = _hanning(n_win)
    start = length // 2 - n_win // 2
    x = segments[:, start:start + n_win].astype(np.float32, copy=False)
    xw = np.empty((n, 2 * n_win), np.float32)
    xw[:, n_win:] = 0.0  # zero beyond the window
    np.subtract(x, _row_means(x), out=xw[:, :n_win])
    xw[:, :n_win] *= w
    head = xw[:, :n_win]
    e0 = np.add.reduce(head * head, axis=1)
    # the window shifted by k - 1, k, k + 1: whole rows of a strided view of every start, gathered
    shifts = (k - 1)[:, None] + _AROUND  # (n, 3)
    view = strided_view(xw.ravel(), (xw.size - n_win + 1, n_win), (1, 1))
    shifted = view[shifts + np.arange(0, xw.size, 2 * n_win)[:, None]]  # (n, 3, n_win), a copy
    acf = np.add.reduce(np.multiply(head[:, None, :], shifted, out=shifted), axis=2)  # (n, 3)
    r = acf / np.maximum(e0, 1e-30)[:, None] / _window_acf(n_win).take(shifts)
    _, peak = parabolic(r[:, 0], r[:, 1], r[:, 2])
    return np.where(ok & (e0 > 1e-20), peak, 0.0).astype(np.float32)


@lru_cache(maxsize=8)
def _hanning(n: int) -> np.ndarray:
    """Hanning window of n samples without zero ends, float32."""
    w = (0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(n) + 1) / (n + 1))).astype(np.float32)
    w.flags.writeable = False  # shared by every caller of the cache
    return w


@lru_cache(maxsize=8)
def _window_acf(n: int) -> np.ndarray:
    """Normalised autocorrelation of :func:`_hanning` at lags 0 .. n - 1, float32."""
    w = _hanning(n).astype(np.float64)
    full = np.correlate(w, w, mode="full")[n - 1:]
    acf = (full / full[0]).astype(np.float32)
    acf.flags.writeable = False  # shared by every caller of the cache
    return acf
