"""F0, voicing and HNR from the normalised cross-correlation (Boersma 1993; Praat's "cc").

For each frame a reference window of one period of the lowest pitch is
correlated with the same signal at lags up to that period; the correlation is
normalised by the energies of both windows, so a perfectly periodic frame
gives r = 1 at its period. HNR follows as ``10 log10(r / (1 - r))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft


@dataclass(frozen=True)
class PitchParams:
    """Settings of the cross-correlation pitch tracker."""

    f0_min: float = 60.0
    f0_max: float = 400.0
    voicing_threshold: float = 0.45
    octave_cost: float = 0.03  # per octave: favours the shorter of near-equal lags


def segment_length(rate: int, params: PitchParams) -> int:
    """Samples each frame needs: reference window plus the longest lag."""
    return 2 * int(np.ceil(rate / params.f0_min)) + 1


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
    s = segments - segments.mean(axis=1, keepdims=True)
    nfft = sfft.next_fast_len(length, real=True)
    spec = sfft.rfft(s, nfft, axis=1)
    ref = sfft.rfft(s[:, :ref_length], nfft, axis=1)
    c = sfft.irfft(np.conj(ref) * spec, nfft, axis=1)[:, :max_lag + 1]
    sq = np.cumsum(np.square(s, dtype=np.float64), axis=1)
    sq = np.concatenate([np.zeros((n, 1)), sq], axis=1)
    lags = np.arange(max_lag + 1)
    e_lag = sq[:, lags + ref_length] - sq[:, lags]
    e_ref = e_lag[:, :1]
    denom = np.sqrt(np.maximum(e_ref * e_lag, 1e-30))
    r = c / denom
    r[(e_ref[:, 0] <= 1e-20)] = 0.0
    return np.clip(r, -1.0, 1.0)


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
    n, m = r.shape
    lo = max(2, int(np.floor(rate / params.f0_max)))
    hi = min(m - 2, int(np.ceil(rate / params.f0_min)))
    mid = r[:, lo:hi + 1]
    left = r[:, lo - 1:hi]
    right = r[:, lo + 1:hi + 2]
    is_peak = (mid >= left) & (mid > right) & (mid > 0)
    lags = np.arange(lo, hi + 1)
    # Praat's candidate strength: r - octave_cost * log2(f_min / f)
    score = mid - params.octave_cost * np.log2(params.f0_min * lags / rate)[None, :]
    score = np.where(is_peak, score, -np.inf)
    best = np.argmax(score, axis=1)
    rows = np.arange(n)
    found = np.isfinite(score[rows, best])
    y0, y1, y2 = left[rows, best], mid[rows, best], right[rows, best]
    denom = y0 - 2 * y1 + y2
    delta = np.where(np.abs(denom) > 1e-12, 0.5 * (y0 - y2) / np.where(denom == 0, 1, denom), 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    peak = y1 - 0.25 * (y0 - y2) * delta
    lag = lags[best] + delta
    f0 = np.where(found, rate / lag, np.nan)
    strength = np.where(found, np.clip(peak, 0.0, 1.0), 0.0)
    return f0, strength


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
    r = normalized_cross_correlation(segments, ref, ref)
    return pitch_from_correlation(r, rate, params)
