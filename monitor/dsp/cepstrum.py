"""Cepstral peak prominence (CPP, smoothed: CPPS) and spectral slope.

Mirrors Praat's ``Sound: To PowerCepstrogram`` followed by ``PowerCepstrogram:
Get CPPS`` (subtract tilt before smoothing, "Exponential decay" trend line,
"Robust" fit), computed on the analyzer's native-rate frames:

1. per frame: a Gaussian window of physical width ``window_s`` (Praat:
   2 x 3 / pitch floor, ``exp(-48 x^2)``, edges at ``exp(-12)``), the power
   spectrum up to ``f_max`` of the pre-emphasised (50 Hz), mean-subtracted
   frame, its natural log, the inverse FFT and its square: the power
   cepstrum;
2. the trend of the cepstrum in dB against ln(quefrency) between
   ``trend_q_min`` and ``trend_q_max`` is fitted robustly (Theil's incomplete
   method: median of pairwise slopes, median intercept), subtracted, the
   result clipped at 0 dB and turned back into power ("flattened");
3. smoothing in the power domain over time (Praat's 0.02 s window at a 10 ms
   step acts as the kernel [1/4, 1/2, 1/4] over neighbouring frames) and over
   quefrency (a 0.0005 s box over the linearly interpolated cepstrum);
4. the trend is fitted again on the smoothed cepstrum in dB and the CPPS is
   the parabolically interpolated peak between ``1/peak_f_max`` and
   ``1/peak_f_min`` minus that trend at the peak's quefrency.

Praat's Get CPPS is the mean of the per-frame values over all frames
(silence included). The quefrency step is ``1 / (2 f_max)`` at 16 kHz (as
after Praat's resampling to ``2 f_max``) and ``1 / rate`` at 8 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import fft as sfft
from .framing import gaussian, strided_view
from .peaks import parabolic_at

_CHUNK = 64     # frames per piece of work (keeps the arrays in cache)


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
    time_smooth_s: float = 0.02    # Praat's time averaging window (frames 10 ms apart)
    quefrency_smooth_s: float = 0.0005
    min_df_hz: float = 8.0         # spectrum bin spacing at most this: the cepstrum then reaches 1 / (2 df) > trend_q_max
    robust_stride: int = 4         # Theil fit on every n-th quefrency bin of the trend range
    slope_f_min: float = 100.0
    slope_f_max: float = 4000.0


@dataclass(frozen=True)
class CepstrumPlan:
    """Precomputed axes and projections for one sample rate (derived from params)."""

    rate: int
    frame_length: int
    nfft: int
    n_bins: int             # spectrum bins kept (0 .. f_max)
    window: np.ndarray      # (frame_length,) float32
    preemph: np.float32     # pre-emphasis coefficient exp(-2 pi f_pre / rate)
    n_q: int                # length of the cepstrum (inverse FFT of n_bins bins)
    q_step: float           # seconds per quefrency bin
    q_lo: int               # first cepstrum bin kept in the residual
    q_hi: int               # one past the last
    fit_idx: np.ndarray     # bins (relative to q_lo) used by the robust trend fits
    fit_x: np.ndarray       # ln(quefrency) of those bins
    pair_inv_dx: np.ndarray  # 1 / (x[n2 + i] - x[i]) for Theil's incomplete method
    x_kept: np.ndarray      # ln(quefrency) of the kept bins, (q_hi - q_lo,), bin 0 at dq/2
    peak_lo: int            # peak search range in kept-bin coordinates: peak_lo .. peak_hi
    peak_hi: int
    q_kernel: np.ndarray    # quefrency smoothing kernel (odd length)
    t_kernel: np.ndarray    # time smoothing kernel (length 3)
    slope_bins: tuple[int, int]  # spectrum bins of the slope fit
    slope_proj: np.ndarray  # (slope_bins[1] - slope_bins[0],) projection of ln power giving dB per kHz


def _box_over_linear(width: float) -> np.ndarray:
    """Weights of a box ``width`` bins wide over the linear interpolation of samples (odd length)."""
    half = width / 2.0
    k = int(np.ceil(half)) + 1
    d = np.arange(-k, k + 1, dtype=np.float64)

    def hat_integral(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # integral of max(0, 1 - |t|) over [a, b]
        def cum(t: np.ndarray) -> np.ndarray:
            t = np.clip(t, -1.0, 1.0)
            return np.where(t < 0, 0.5 * (t + 1) ** 2, 1.0 - 0.5 * (1 - t) ** 2)
        return cum(b) - cum(a)

    w = hat_integral(-half - d, half - d)
    w = w[w > 1e-12]
    return (w / w.sum()).astype(np.float32)


def _time_kernel(time_smooth_s: float, hop_s: float = 0.01) -> np.ndarray:
    """Praat's moving average of ``time_smooth_s`` over the interpolated frame sequence, 3 taps."""
    w = _box_over_linear(max(time_smooth_s / hop_s, 1.0))
    if len(w) > 3:  # wider windows are not supported by the one-frame context: renormalised centre
        c = len(w) // 2
        w = w[c - 1:c + 2] / w[c - 1:c + 2].sum()
    if len(w) == 1:
        w = np.array([0.0, 1.0, 0.0], np.float32)
    return w.astype(np.float32)


def make_plan(rate: int, params: CepstrumParams) -> CepstrumPlan:
    """Build the :class:`CepstrumPlan` for ``rate``: the frame and spectrum sizes, the quefrency
    axis (:func:`_quefrency_fields`), the time kernel and the slope's projection (:func:`_slope_fields`)."""
    frame_length = int(round(params.window_s * rate))
    f_top = min(params.f_max, rate / 2)
    nfft, df, n_bins = _spectrum_grid(rate, frame_length, f_top, params.min_df_hz)
    n_q = 2 * (n_bins - 1)
    q_step = 1.0 / (n_q * df)
    a = float(np.exp(-2 * np.pi * params.preemphasis_hz / rate))
    return CepstrumPlan(
        rate=rate, frame_length=frame_length, nfft=nfft, n_bins=n_bins, window=gaussian(frame_length),
        preemph=np.float32(a), n_q=n_q, q_step=q_step, **_quefrency_fields(n_q, q_step, params),
        t_kernel=_time_kernel(params.time_smooth_s), **_slope_fields(n_bins, df, f_top, params),
    )


def _spectrum_grid(rate: int, frame_length: int, f_top: float, min_df_hz: float) -> tuple[int, float, int]:
    """The FFT length (at least ``frame_length``, bins at most ``min_df_hz`` apart), its bin spacing
    in Hz and the number of bins kept, 0 .. ``f_top``."""
    # the cepstrum (length 2 (n_bins - 1)) must reach well beyond trend_q_max:
    # spectrum bins at most ~1 / (2.4 trend_q_max) apart
    nfft = sfft.next_fast_len(max(frame_length, int(np.ceil(rate / min_df_hz))), real=True)
    df = rate / nfft
    n_bins = int(np.floor(f_top / df + 1e-9)) + 1
    return nfft, df, n_bins


def _quefrency_fields(n_q: int, q_step: float, params: CepstrumParams) -> dict[str, Any]:
    """The plan's quefrency fields for a cepstrum of ``n_q`` bins ``q_step`` s apart: the smoothing
    kernel, the bins kept (the trend's range widened by half the kernel) with their ln(quefrency), the
    trend fits' bins (:func:`_trend_fit`) and the peak's search range, in kept-bin coordinates."""
    q_kernel = _box_over_linear(params.quefrency_smooth_s / q_step)
    kh = len(q_kernel) // 2
    t0 = int(np.ceil(params.trend_q_min / q_step - 1e-9))
    t1 = min(n_q // 2, int(np.floor(params.trend_q_max / q_step + 1e-9)))
    q_lo = max(0, t0 - kh)
    q_hi = min(n_q, t1 + kh + 1)  # bins past n_q / 2 mirror those below
    q_kept = np.arange(q_lo, q_hi) * q_step
    q_kept[q_kept == 0] = 0.5 * q_step
    x_kept = np.log(q_kept)
    fit_idx, fit_x, pair_inv_dx = _trend_fit(x_kept, t0, t1, q_lo, params.robust_stride)
    p0 = int(np.ceil(1.0 / params.peak_f_max / q_step - 1e-9))
    p1 = int(np.floor(1.0 / params.peak_f_min / q_step + 1e-9))
    return dict(q_lo=q_lo, q_hi=q_hi, fit_idx=fit_idx, fit_x=fit_x.astype(np.float32),
                pair_inv_dx=pair_inv_dx.astype(np.float32), x_kept=x_kept.astype(np.float32),
                peak_lo=p0 - q_lo, peak_hi=p1 - q_lo, q_kernel=q_kernel)


def _trend_fit(x_kept: np.ndarray, t0: int, t1: int, q_lo: int,
               stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The robust trend fits' cepstrum bins ``t0 .. t1``, every ``stride``-th, as indices into the kept
    bins (which start at bin ``q_lo``; ``x_kept``: their ln(quefrency), float64): the indices (m,),
    their ln(quefrency) (m,) and Theil's incomplete method's ``1 / (x[n2 + i] - x[i])`` (m // 2,)."""
    fit_idx = np.arange(t0, t1 + 1, max(1, stride)) - q_lo
    fit_x = x_kept[fit_idx]
    m = len(fit_idx)
    h = m // 2
    n2 = h + (m % 2)
    pair_inv_dx = 1.0 / (fit_x[n2:n2 + h] - fit_x[:h])
    return fit_idx, fit_x, pair_inv_dx


def _slope_fields(n_bins: int, df: float, f_top: float, params: CepstrumParams) -> dict[str, Any]:
    """The plan's spectral slope fields for ``n_bins`` bins ``df`` Hz apart: the bins between
    ``slope_f_min`` and ``slope_f_max`` (at most ``f_top``) and the projection of their ln power
    giving dB per kHz (the least-squares slope over centred kHz), float32 (bins,)."""
    freqs = np.arange(n_bins) * df
    sel = (freqs >= params.slope_f_min) & (freqs <= min(params.slope_f_max, f_top))
    fk = freqs[sel] / 1000.0
    fk = fk - fk.mean()
    slope_proj = sfft.LN_POWER_TO_DB * fk / np.sum(fk ** 2)
    sel_idx = np.nonzero(sel)[0]
    return dict(slope_bins=(int(sel_idx[0]), int(sel_idx[-1]) + 1), slope_proj=slope_proj.astype(np.float32))


def sparse_plan(plan: CepstrumPlan, every: int) -> CepstrumPlan:
    """The plan's 3-tap time smoothing when only every ``every``-th frame has a cepstrum and the
    frames between are linear interpolations of their neighbours: a frame next to one with a
    cepstrum is ``(every - 1) / every`` of it and ``1 / every`` of the next such frame."""
    if every == 1:
        return plan
    k0, k1, k2 = (float(k) for k in plan.t_kernel)
    kernel = np.array([k0 / every, k1 + (k0 + k2) * (every - 1) / every, k2 / every], np.float32)
    return replace(plan, t_kernel=kernel)


def _median(a: np.ndarray) -> np.ndarray:
    """Median along axis 1 (upper median for even counts), shape (n,); ``a`` (a temporary of the
    caller's) is sorted in place: ``np.sort``'s numbers without its wrapper and copy."""
    a.sort(axis=1)  # for rows this short, faster than np.partition
    return a[:, a.shape[1] // 2]


def robust_trend(y: np.ndarray, plan: CepstrumPlan, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Theil's incomplete robust line fit of each row against ln(quefrency).

    Parameters
    ----------
    y : np.ndarray [shape=(n, m)]
        Log power cepstrum (any log unit) of kept bins ``offset .. offset + m``
        (``m`` must cover the trend range).
    plan : CepstrumPlan
    offset : int
        Kept bin of ``y[:, 0]``.

    Returns
    -------
    slope, intercept : np.ndarray [shape=(n,)]
        ``y ~ slope * ln(q) + intercept`` over the trend range.
    """
    i = plan.fit_idx
    v = y[:, i[0] - offset:i[-1] - offset + 1:i[1] - i[0] if len(i) > 1 else 1]
    h = len(plan.pair_inv_dx)
    n2 = v.shape[1] - h
    slope = _median((v[:, n2:] - v[:, :h]) * plan.pair_inv_dx)
    intercept = _median(v - slope[:, None] * plan.fit_x)
    return slope, intercept


def _preemphasised(frames: np.ndarray, a: np.float32) -> np.ndarray:
    """``frames[:, 1:] - a * frames[:, :-1]``, shape (n, L), float32.

    When ``frames`` is a strided view of one signal (overlapping rows), the
    filter runs once over the underlying samples and the result is re-framed.
    """
    n, m = frames.shape
    it = frames.itemsize
    s0, s1 = frames.strides
    if frames.dtype == np.float32 and n > 1 and s1 == it and s0 > 0 and s0 % it == 0 and s0 // it <= m:
        hop = s0 // it
        sig = as_strided(frames, shape=((n - 1) * hop + m,), strides=(it,), writeable=False)
        e = sig[1:] - a * sig[:-1]
        return strided_view(e, (n, m - 1), (hop, 1))
    f = frames.astype(np.float32, copy=False)
    return f[:, 1:] - a * f[:, :-1]


def cepstral_residuals(frames: np.ndarray, plan: CepstrumPlan) -> tuple[np.ndarray, np.ndarray]:
    """Tilt-flattened power cepstrum of each frame, and spectral slope.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, plan.frame_length + 1)]
        Frames centred on the analysis instants (the leading sample is unused).
    plan : CepstrumPlan

    Returns
    -------
    residual : np.ndarray [shape=(n, plan.q_hi - plan.q_lo)], float32
        Power cepstrum divided by its robust trend line (Praat's "subtract
        tilt"), clipped below at 1 (0 dB), quefrency bins ``q_lo .. q_hi``.
    slope : np.ndarray [shape=(n,)]
        Spectral slope of the pre-emphasised spectrum in dB per kHz between
        ``slope_f_min`` and ``slope_f_max``.
    """
    n = frames.shape[0]
    if n > _CHUNK:  # cache-sized pieces; every frame is computed on its own
        parts = [cepstral_residuals(frames[i:i + _CHUNK], plan) for i in range(0, n, _CHUNK)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if n == 0:
        return np.zeros((0, plan.q_hi - plan.q_lo), np.float32), np.zeros(0, np.float32)
    lnp = _log_power_spectrum(frames, plan)
    lo, hi = plan.slope_bins
    slope = np.add.reduce(lnp[:, lo:hi] * plan.slope_proj, axis=1)  # not BLAS: equal for any batch
    flat = _flattened_cepstrum(lnp, plan)
    return flat.astype(np.float32, copy=False), slope.astype(np.float32)


def _log_power_spectrum(frames: np.ndarray, plan: CepstrumPlan) -> np.ndarray:
    """Natural log of the power spectrum of each pre-emphasised, mean-removed, windowed frame
    (power floored at 1e-30).

    Parameters
    ----------
    frames : np.ndarray [shape=(n, plan.frame_length + 1)], n >= 1
    plan : CepstrumPlan

    Returns
    -------
    lnp : np.ndarray [shape=(n, plan.n_bins)], float32
    """
    n = frames.shape[0]
    length = plan.frame_length
    y = _preemphasised(frames, plan.preemph)
    mean = np.add.reduce(y, axis=1, dtype=np.float32) / np.float32(length)
    x = np.empty((n, plan.nfft), np.float32)
    x[:, length:] = 0.0
    np.subtract(y, mean[:, None], out=x[:, :length])
    x[:, :length] *= plan.window
    spec = sfft.rfft(x, plan.nfft)[:, :plan.n_bins]
    power = sfft.power_in_place(spec)
    np.maximum(power, 1e-30, out=power)
    return np.log(power, out=power)


def _flattened_cepstrum(lnp: np.ndarray, plan: CepstrumPlan) -> np.ndarray:
    """The power cepstrum of each log spectrum over quefrency bins ``q_lo .. q_hi``, divided by
    its robust trend line and clipped below at 1 (0 dB).

    Parameters
    ----------
    lnp : np.ndarray [shape=(n, plan.n_bins)]  :func:`_log_power_spectrum`
    plan : CepstrumPlan

    Returns
    -------
    flat : np.ndarray [shape=(n, plan.q_hi - plan.q_lo)]
    """
    ceps = sfft.irfft(lnp, plan.n_q)[:, plan.q_lo:plan.q_hi]
    c2 = ceps * ceps
    np.maximum(c2, 1e-30, out=c2)
    lc = np.log(c2)
    s, b = robust_trend(lc, plan)
    lc -= s[:, None] * plan.x_kept
    lc -= b[:, None]
    np.clip(lc, 0.0, 80.0, out=lc)
    return np.exp(lc, out=lc)


def cpps(residual: np.ndarray, plan: CepstrumPlan, params: CepstrumParams) -> np.ndarray:
    """Smoothed cepstral peak prominence (dB) of each frame.

    Parameters
    ----------
    residual : np.ndarray [shape=(n, q)]
        Output of :func:`cepstral_residuals` for consecutive frames; each
        frame's value uses its two neighbours (the ends repeat themselves).
    plan : CepstrumPlan
    params : CepstrumParams

    Returns
    -------
    cpps_db : np.ndarray [shape=(n,)], float32
        Peak of the time- and quefrency-smoothed flattened cepstrum within
        ``1/peak_f_max .. 1/peak_f_min`` seconds (parabolic interpolation)
        above its robust trend line at the peak.
    """
    n = residual.shape[0]
    if 0 < n <= _CHUNK:  # (a stream's batch: one piece, no copy)
        return _cpps_block(residual, plan, True, True)
    out = np.empty(n, np.float32)
    for i in range(0, n, _CHUNK):  # cache-sized pieces with one frame of context on each side
        lo, hi = max(0, i - 1), min(n, i + _CHUNK + 1)
        part = _cpps_block(residual[lo:hi], plan, lo == 0, hi == n)
        out[i:i + _CHUNK] = part[i - lo:i - lo + min(_CHUNK, n - i)]
    return out


def _cpps_block(r: np.ndarray, plan: CepstrumPlan, first: bool, last: bool) -> np.ndarray:
    """:func:`cpps` of rows of ``r``; ``first``/``last``: the rows at the ends are the signal's ends."""
    n = r.shape[0]
    k0, k1, k2 = plan.t_kernel
    sm = k1 * r
    if n > 1:
        sm[1:] += k0 * r[:-1]
        sm[:-1] += k2 * r[1:]
    if first:
        sm[0] += k0 * r[0]
    if last:
        sm[-1] += k2 * r[-1]
    kq = plan.q_kernel
    kh = len(kq) // 2
    w = sm.shape[1]
    qs = kq[kh] * sm[:, kh:w - kh]
    for j in range(len(kq)):
        if j != kh:
            qs += kq[j] * sm[:, j:w - 2 * kh + j]
    ln = np.log(qs, out=qs)  # kept bins kh .. w - kh - 1
    s, b = robust_trend(ln, plan, kh)
    p0, p1 = plan.peak_lo - kh, plan.peak_hi - kh
    best = ln[:, p0:p1 + 1].argmax(axis=1) + p0
    delta, peak = parabolic_at(ln, best)
    q = (plan.q_lo + kh + best + delta) * plan.q_step
    trend = s * np.log(q) + b
    return (sfft.LN_POWER_TO_DB * (peak - trend)).astype(np.float32)
