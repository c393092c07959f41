"""Streaming rate conversion: a stream cut in blocks anywhere resamples as the whole would."""

from __future__ import annotations

from math import gcd

import numpy as np

from .filters import kaiser_lowpass


class Resampler:
    """Block-wise polyphase resampling of a stream to ``rate_out``, exact across blocks.

    Each call receives any number of frames (n, channels) and returns the
    output samples they complete. Internally the input is cut in segments of
    whole resampling periods with enough context on both sides that the
    result equals ``resample_poly`` of the whole stream (up to the edges).
    Integer decimation (``up == 1``, e.g. 16 to 8 kHz) runs its own tap-pair
    sums instead: the same filter, within 1e-6 of ``resample_poly``, and
    bit-identical for any split of the stream into blocks.
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int) -> None:
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.channels = channels
        half = 10 * max(self.up, self.down) // self.up + 2  # filter half-length in input samples
        self.ctx = int(np.ceil(half / self.down)) * self.down
        # resample_poly's own default filter, designed once instead of on every call: scipy's
        # firwin for resample_poly itself; for integer decimation its float32 taps, which
        # kaiser_lowpass gives exactly without importing scipy.signal
        max_rate = max(self.up, self.down)
        self._filter = None
        if max_rate > 1 and self.up == 1:
            self._filter = kaiser_lowpass(2 * 10 * max_rate + 1, 1.0 / max_rate, 5.0)
        elif max_rate > 1:
            from scipy.signal import firwin
            self._filter = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
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
        if self.up == 1:
            out = self._decimate(seg, n)
        else:
            from scipy.signal import resample_poly  # only for rational ratios (44.1 kHz files)
            y = resample_poly(seg, self.up, self.down, axis=0, window=self._filter)
            a = self.ctx * self.up // self.down
            out = y[a:a + n * self.up // self.down].astype(np.float32)
        if final:  # the zero tail only completes the last real samples
            out = out[:max(0, -(-self._n_in * self.up // self.down) - self._n_out)]
        self._n_out += len(out)
        self._next += n
        drop = self._next - self.ctx
        self._buf = self._buf[drop:]
        self._next -= drop
        return out
