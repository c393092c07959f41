"""Reading recordings at the edge: validation, blocks, conversion to 8/16 kHz float32.

Every problem with a file becomes an :class:`AudioFileError` whose message
names the file and the problem in one line. A recording cut short (a crash
while it was written) is read as far as it goes and flagged ``truncated``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from math import gcd
from typing import Iterator

import numpy as np
import soundfile as sf

from ..analysis.dsp.filters import kaiser_lowpass


class AudioFileError(Exception):
    """A recording that cannot be read; ``str(err)`` is ``"<path>: <problem>"``."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class AudioInfo:
    """What a recording's header says."""

    path: str
    rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate if self.rate else 0.0


def analysis_rate(rate: int) -> int:
    """The analyzer rate for a source rate: 16 kHz from 16 kHz up, else 8 kHz."""
    return 16000 if rate >= 16000 else 8000


def _wav_declared_frames(path: str, info: sf._SoundFileInfo) -> int | None:
    """Frames the WAV header's data chunk declares (None if not a plain RIFF/WAVE)."""
    if info.format != "WAV":
        return None
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            ch = fh.read(8)
            if len(ch) < 8:
                return None
            cid, size = ch[:4], struct.unpack("<I", ch[4:])[0]
            if cid == b"fmt ":
                fmt = fh.read(size + (size & 1))
                block_align = struct.unpack("<H", fmt[12:14])[0]
                continue
            if cid == b"data":
                if not block_align or size == 0xFFFFFFFF:
                    return None
                return size // block_align
            fh.seek(size + (size & 1), os.SEEK_CUR)


def probe(path: str | os.PathLike) -> AudioInfo:
    """Check that ``path`` is a readable, non-empty recording and return its header.

    Raises
    ------
    AudioFileError
        missing, a directory, unreadable, empty, not audio, or no samples.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise AudioFileError(p, "no such file")
    if os.path.isdir(p):
        raise AudioFileError(p, "is a directory, not an audio file")
    if not os.access(p, os.R_OK):
        raise AudioFileError(p, "permission denied")
    if os.path.getsize(p) == 0:
        raise AudioFileError(p, "empty file (0 bytes)")
    try:
        info = sf.info(p)
    except (sf.LibsndfileError, RuntimeError) as err:
        text = str(err)
        if "Format not recognised" in text or "unknown format" in text.lower():
            raise AudioFileError(p, "not an audio file (format not recognised; WAV, FLAC or OGG expected)") from None
        raise AudioFileError(p, f"unreadable audio ({text.split(':')[-1].strip() or text})") from None
    if info.frames <= 0:
        raise AudioFileError(p, "contains no audio samples")
    return AudioInfo(p, int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)


@dataclass
class BlockReader:
    """Iterates a recording in blocks of float32 samples, shape (n, channels).

    After iteration, ``truncated`` tells whether the file ended before its
    header said it would (or its encoded stream broke off), and
    ``frames_read`` how many frames were delivered.
    """

    info: AudioInfo
    block_frames: int
    truncated: bool = False
    frames_read: int = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        declared = _wav_declared_frames(self.info.path, sf.info(self.info.path))
        try:
            with sf.SoundFile(self.info.path) as fh:
                while True:
                    try:
                        block = fh.read(self.block_frames, dtype="float32", always_2d=True)
                    except (sf.LibsndfileError, RuntimeError):
                        self.truncated = True
                        return
                    if len(block) == 0:
                        break
                    self.frames_read += len(block)
                    yield block
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioFileError(self.info.path, f"unreadable audio ({err})") from None
        expected = declared if declared is not None else self.info.frames
        if self.frames_read < expected:
            self.truncated = True


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
        out = self._taps[0] * seg[ctx:ctx + n:d]
        for j, w in zip(self._offsets, self._taps[1:]):
            out += w * (seg[ctx - j:ctx - j + n:d] + seg[ctx + j:ctx + j + n:d])
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


def read_all(path: str | os.PathLike) -> tuple[np.ndarray, int, bool]:
    """Whole recording at its own rate: (samples (n, channels) float32, rate, truncated)."""
    info = probe(path)
    reader = BlockReader(info, 1 << 16)
    blocks = list(reader)
    if not blocks:
        raise AudioFileError(info.path, "contains no audio samples")
    return np.concatenate(blocks), info.rate, reader.truncated


class AnalysisStream:
    """A recording as blocks at the analyzer rate: float32, shape (n, len(channels)).

    ``channels`` picks source channels (0-based); ``None`` mixes all down to
    one. Iterate once; afterwards ``truncated`` and ``duration_s`` (of what
    was read) are known.
    """

    def __init__(self, path: str | os.PathLike, channels: list[int] | None = None,
                 block_s: float = 1.0) -> None:
        self.info = probe(path)
        for c in channels or []:
            if not 0 <= c < self.info.channels:
                raise AudioFileError(self.info.path, f"has {self.info.channels} channel(s), channel {c} asked")
        self.channels = channels
        self.rate = analysis_rate(self.info.rate)
        self._reader = BlockReader(self.info, max(1, int(block_s * self.info.rate)))
        width = len(channels) if channels else 1
        self._resampler = Resampler(self.info.rate, self.rate, width)

    @property
    def truncated(self) -> bool:
        return self._reader.truncated

    @property
    def duration_s(self) -> float:
        return self._reader.frames_read / self.info.rate

    def _select(self, block: np.ndarray) -> np.ndarray:
        if self.channels is None:
            return block.mean(axis=1, keepdims=True) if block.shape[1] > 1 else block
        return block[:, self.channels]

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self._reader:
            out = self._resampler.process(self._select(block))
            if len(out):
                yield out
        tail = self._resampler.process(np.zeros((0, self._resampler.channels), np.float32), final=True)
        if len(tail):
            yield tail
