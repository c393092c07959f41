"""Cepstral peak prominence (CPP, smoothed: CPPS) and spectral slope.

Follows Hillenbrand's CPPS as Praat computes it from a PowerCepstrogram: per
frame a pre-emphasised, windowed power spectrum up to ``f_max`` in dB, its
power cepstrum in dB, the tilt (trend line) subtracted, smoothing over time
and quefrency, then the peak in the pitch range measured above the trend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy.ndimage import uniform_filter1d

from .framing import gaussian


@dataclass(frozen=True)
class CepstrumParams:
    """Settings of the cepstral analysis (defaults after Praat's PowerCepstrogram/CPPS)."""

    window_s: float = 0.100        # physical width of the Gaussian window (Praat: 2 x 3 / 60 Hz)
    f_max: float = 5000.0
    preemphasis_hz: float = 50.0
    peak_f_min: float = 60.0
    peak_f_max: float = 330.0
    trend_q_min: float = 0.001
    trend_q_max: float = 0.05
    time_smooth_frames: int = 3
    quefrency_smooth_s: float = 0.0005
    slope_f_min: float = 100.0
    slope_f_max: float = 4000.0


@dataclass(frozen=True)
class CepstrumPlan:
    """Precomputed axes and projections for one sample rate (derived from params)."""

    rate: int
    frame_length: int
    nfft: int
    n_bins: int            # spectrum bins kept (0 .. f_max)
    window: np.ndarray     # (frame_length,)
    q_lo: int              # first quefrency bin kept for the peak search (with smoothing margin)
    q_hi: int              # one past the last
    q_step: float          # seconds per quefrency bin
    trend_idx: np.ndarray  # quefrency bins of the trend fit
    trend_proj: np.ndarray  # (2, len(trend_idx)) least-squares projection onto [slope, intercept]
    trend_x_kept: np.ndarray  # log-quefrency of the kept bins, (q_hi - q_lo,)
    slope_proj: np.ndarray  # (n_bins,) projection giving dB per kHz
    preemph: float
    margin: int


def make_plan(rate: int, params: CepstrumParams) -> CepstrumPlan:
    """Build the :class:`CepstrumPlan` for ``rate``."""
    frame_length = int(round(params.window_s * rate))
    # zero-pad so that the quefrency axis reaches the top of the trend range
    nfft = sfft.next_fast_len(max(frame_length, int(np.ceil(2 * params.trend_q_max * rate))), real=True)
    nfft = int(2 ** int(np.ceil(np.log2(nfft))))
    df = rate / nfft
    f_top = min(params.f_max, rate / 2)
    n_bins = int(np.floor(f_top / df)) + 1
    n_q = 2 * (n_bins - 1)
    q_step = 1.0 / (n_q * df)
    margin = max(1, int(round(params.quefrency_smooth_s / q_step / 2)))
    q_lo = max(1, int(np.floor(1.0 / params.peak_f_max / q_step)) - margin - 1)
    q_hi = min(n_q // 2, int(np.ceil(1.0 / params.peak_f_min / q_step)) + margin + 2)
    q_axis = np.arange(n_q // 2 + 1) * q_step
    trend_idx = np.nonzero((q_axis >= params.trend_q_min) & (q_axis <= params.trend_q_max))[0]
    x = np.log(q_axis[trend_idx])
    design = np.stack([x, np.ones_like(x)], axis=1)
    trend_proj = np.linalg.pinv(design)
    freqs = np.arange(n_bins) * df
    sel = (freqs >= params.slope_f_min) & (freqs <= min(params.slope_f_max, f_top))
    fk = freqs / 1000.0
    fk_sel = fk[sel] - fk[sel].mean()
    slope_proj = np.zeros(n_bins)
    slope_proj[sel] = fk_sel / np.sum(fk_sel ** 2)
    return CepstrumPlan(
        rate=rate, frame_length=frame_length, nfft=nfft, n_bins=n_bins, window=gaussian(frame_length),
        q_lo=q_lo, q_hi=q_hi, q_step=q_step, trend_idx=trend_idx, trend_proj=trend_proj,
        trend_x_kept=np.log(np.maximum(q_axis[q_lo:q_hi], q_step)), slope_proj=slope_proj,
        preemph=float(np.exp(-2 * np.pi * params.preemphasis_hz / rate)), margin=margin,
    )


def cepstral_residuals(frames: np.ndarray, plan: CepstrumPlan) -> tuple[np.ndarray, np.ndarray]:
    """Tilt-subtracted power cepstrum (dB) near the pitch range, and spectral slope.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, plan.frame_length + 1)]
        One extra leading sample per frame feeds the pre-emphasis.
    plan : CepstrumPlan

    Returns
    -------
    residual : np.ndarray [shape=(n, plan.q_hi - plan.q_lo)], float32
        Cepstrum in dB minus its trend line, quefrency bins ``q_lo .. q_hi``.
    slope : np.ndarray [shape=(n,)]
        Spectral slope in dB per kHz between ``slope_f_min`` and ``slope_f_max``.
    """
    x = frames[:, 1:] - plan.preemph * frames[:, :-1]
    spec = sfft.rfft(x * plan.window, plan.nfft, axis=1)[:, :plan.n_bins]
    power = spec.real ** 2 + spec.imag ** 2
    db = 10.0 * np.log10(power + 1e-12)
    slope = db @ plan.slope_proj
    ceps = sfft.irfft(db, axis=1)
    half = ceps.shape[1] // 2 + 1
    ceps_db = 10.0 * np.log10(ceps[:, :half] ** 2 + 1e-12)
    coef = ceps_db[:, plan.trend_idx] @ plan.trend_proj.T  # (n, 2): slope, intercept in log-quefrency
    kept = ceps_db[:, plan.q_lo:plan.q_hi]
    trend = coef[:, :1] * plan.trend_x_kept[None, :] + coef[:, 1:2]
    return (kept - trend).astype(np.float32), slope.astype(np.float32)


def cpps(residual: np.ndarray, plan: CepstrumPlan, params: CepstrumParams) -> np.ndarray:
    """Smoothed cepstral peak prominence of each frame.

    Parameters
    ----------
    residual : np.ndarray [shape=(n, q)]
        Output of :func:`cepstral_residuals` for consecutive frames.

    Returns
    -------
    cpps_db : np.ndarray [shape=(n,)]
        Peak of the time- and quefrency-smoothed residual within
        ``1/peak_f_max .. 1/peak_f_min`` seconds (parabolic interpolation).
    """
    if residual.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    sm = uniform_filter1d(residual, params.time_smooth_frames, axis=0, mode="nearest")
    sm = uniform_filter1d(sm, 2 * plan.margin + 1, axis=1, mode="nearest")
    q = (np.arange(plan.q_lo, plan.q_hi)) * plan.q_step
    inside = (q >= 1.0 / params.peak_f_max) & (q <= 1.0 / params.peak_f_min)
    idx = np.nonzero(inside)[0]
    sub = sm[:, idx[0]:idx[-1] + 1]
    best = np.argmax(sub, axis=1) + idx[0]
    rows = np.arange(sm.shape[0])
    b = np.clip(best, 1, sm.shape[1] - 2)
    y0, y1, y2 = sm[rows, b - 1], sm[rows, b], sm[rows, b + 1]
    denom = y0 - 2 * y1 + y2
    delta = np.where(denom < 0, 0.5 * (y0 - y2) / np.where(denom == 0, -1, denom), 0.0)
    return (y1 - 0.25 * (y0 - y2) * np.clip(delta, -0.5, 0.5)).astype(np.float32)
