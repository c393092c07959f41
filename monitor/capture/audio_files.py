"""Reading recordings at the edge: validation, blocks, conversion to 8/16 kHz float32.

Every problem with a file becomes an :class:`AudioFileError` whose message
names the file and the problem in one line. A recording cut short (a crash
while it was written) is read as far as it goes and flagged ``truncated``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import soundfile as sf

from ..dsp.resample import Resampler


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
