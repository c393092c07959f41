"""Streaming rate conversion: a stream cut in blocks anywhere resamples as the whole would."""

from __future__ import annotations

from math import gcd

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .filters import kaiser_lowpass


POLY_OUT = 4096
"""Output samples :meth:`Resampler._polyphase` computes at a time (in whole periods): the windows
it copies for them are that many times the taps (57 for 44.1 to 16 kHz) and the channels, a few MB
at most."""


def _phases(h: np.ndarray, up: int) -> tuple[np.ndarray, int]:
    """A symmetric FIR ``h`` (odd length, its centre the output's instant) cut in its ``up``
    phases: (taps (up, k), first), such that an output ``r`` up-th of a sample after input sample
    ``q`` is ``sum(taps[r] * x[q + first:q + first + k])`` (``resample_poly``'s sum of the
    upsampled input and ``h``); taps that fall outside ``h`` are 0."""
    half = len(h) // 2
    offsets = np.arange(-(half // up), -((half + up - 1) // -up) + 1)  # of the samples from q
    k = half + np.arange(up)[:, None] - offsets[None, :] * up
    taps = np.where((k >= 0) & (k < len(h)), h[np.clip(k, 0, len(h) - 1)], 0.0)
    return taps, int(offsets[0])


class Resampler:
    """Block-wise polyphase resampling of a stream to ``rate_out``, exact across blocks.

    Each call receives any number of frames (n, channels) and returns the
    output samples they complete. Internally the input is cut in segments of
    whole resampling periods with enough context on both sides that the
    result equals ``resample_poly`` of the whole stream (up to the edges).
    Integer decimation (``up == 1``, e.g. 16 to 8 kHz) runs its own tap-pair
    sums instead: the same filter, within 1e-6 of ``resample_poly``, and
    bit-identical for any split of the stream into blocks. Other ratios (44.1
    to 16 kHz) run the same filter cut in its ``up`` phases, one product of
    taps and samples per :data:`POLY_OUT` output samples (:meth:`_polyphase`), without
    ``scipy.signal`` (importing it costs about a second and 70 MB, which a
    daemon capturing a 44.1 kHz source would carry for nothing).
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int) -> None:
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.channels = channels
        half = 10 * max(self.up, self.down) // self.up + 2  # filter half-length in input samples
        self.ctx = int(np.ceil(half / self.down)) * self.down
        # resample_poly's own default filter (scipy's firwin, which kaiser_lowpass gives within a
        # few 1e-18), designed once instead of on every call
        max_rate = max(self.up, self.down)
        self._filter: np.ndarray | None = None
        if max_rate > 1:
            self._filter = kaiser_lowpass(2 * 10 * max_rate + 1, 1.0 / max_rate, 5.0)
        if self.up > 1 and self._filter is not None:  # (up > 1 makes max_rate > 1) a period's outputs:
            # their taps and the offsets of the samples they weigh
            taps, first = _phases(self._filter * self.up, self.up)
            q, r = np.divmod(np.arange(self.up) * self.down, self.up)
            self._period_taps, self._period_first = taps[r], q + first
        if self.up == 1 and self._filter is not None:  # pairs of equal taps around the centre for _decimate
            h = self._filter.astype(np.float32)
            c = len(h) // 2
            offsets = [j for j in range(1, c + 1) if abs(h[c + j]) > 1e-7 * abs(h[c])]
            self._offsets = offsets
            self._taps = np.array([h[c]] + [h[c + j] for j in offsets], np.float32)
        self._buf = np.zeros((self.ctx, channels), np.float32)  # left context (zeros = stream start)
        self._next = self.ctx  # index in _buf of the first input not yet resampled
        self._n_in = 0
        self._n_out = 0

    @property
    def identity(self) -> bool:
        return self.up == self.down

    def _decimate(self, seg: np.ndarray, n: int) -> np.ndarray:
        """Integer decimation (``up == 1``) of ``seg[ctx:ctx + n]``, shape (n // down, channels).

        The filter is symmetric and nearly every ``down``-th tap is zero, so
        each output is the centre tap times its sample plus, per remaining tap
        pair, one strided slice sum: a loop over the few taps, never over
        samples, and the same operations for a sample whatever the block.
        """
        d, ctx = self.down, self.ctx
        m = n // d
        # the samples of each phase (index modulo d) side by side: the tap slices become contiguous
        phases = [np.ascontiguousarray(seg[p::d]) for p in range(d)]

        def taken(i: int) -> np.ndarray:  # seg[i:i + n:d]
            return phases[i % d][i // d:i // d + m]

        out = self._taps[0] * taken(ctx)
        for j, w in zip(self._offsets, self._taps[1:]):
            out += w * (taken(ctx - j) + taken(ctx + j))
        return out

    def _polyphase(self, seg: np.ndarray, n: int) -> np.ndarray:
        """Rational resampling (``up > 1``) of ``seg[ctx:ctx + n]`` (``n`` a multiple of ``down``),
        shape (n * up // down, channels): output ``j`` lies at input ``j * down / up``, and is its
        phase's taps times the samples around it (``resample_poly``'s sum, in double precision).
        The outputs come in periods of ``up``, each ``down`` inputs after the one before, with the
        same phases in the same order (``_period_taps``, from ``_period_first``): the samples each
        weighs are a window of ``seg`` (a view), :data:`POLY_OUT` outputs' windows copied at a time."""
        periods = n // self.down
        out = np.empty((periods, self.up, self.channels), np.float32)
        windows = sliding_window_view(seg, self._period_taps.shape[1], axis=0)  # (len, channels, taps)
        step = max(1, POLY_OUT // self.up)
        for first in range(0, periods, step):
            starts = self.ctx + self.down * np.arange(first, min(periods, first + step))
            around = windows[starts[:, None] + self._period_first[None, :]]  # (periods, up, channels, taps)
            out[first:first + len(starts)] = np.einsum("pjct,jt->pjc", around, self._period_taps)
        return out.reshape(-1, self.channels)

    def process(self, x: np.ndarray, final: bool = False) -> np.ndarray:
        """Resample the next block (n, channels); ``final`` flushes the tail."""
        if self.identity:
            return x
        self._buf = np.concatenate([self._buf, x.astype(np.float32, copy=False)])
        self._n_in += len(x)
        if final:
            self._buf = np.concatenate([self._buf, np.zeros((self.ctx + self.down, self.channels), np.float32)])
        avail = len(self._buf) - self._next - self.ctx
        n = (avail // self.down) * self.down
        if n <= 0:
            return np.zeros((0, self.channels), np.float32)
        seg = self._buf[self._next - self.ctx:self._next + n + self.ctx]
        out = self._decimate(seg, n) if self.up == 1 else self._polyphase(seg, n)
        if final:  # the zero tail only completes the last real samples
            out = out[:max(0, -(-self._n_in * self.up // self.down) - self._n_out)]
        self._n_out += len(out)
        self._next += n
        drop = self._next - self.ctx
        self._buf = self._buf[drop:]
        self._next -= drop
        return out
