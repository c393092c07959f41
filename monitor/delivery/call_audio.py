"""A live call's audio file (``daemon.write_audio``), written as it comes, and what a disk that stops
taking it (full, read-only, failing) leaves of it.

The file is a 16-bit PCM WAV, written here through the descriptor of the new private file made for
it (:func:`~monitor.delivery.call_files.new_audio_file`): each chunk's samples as :func:`pcm16`
makes them, then the header's lengths (RIFF and data) brought up to date, so that whatever stops
the writing (the disk, a kill, a power loss) the header says the audio the file holds; a write the
disk takes in part leaves the file's whole frames, and its header says them. A write or an
opening that fails is a :class:`CallAudioError` whose message names the file and the system's
reason (``No space left on device``); an opening that fails leaves no empty file behind. The file
is put on the disk (fsync) at its close, once: a disk that took the bytes and failed to store them,
then or earlier as the kernel wrote them back, says so there (the system tells that failure to
one fsync only).

A WAV holds no more than 4 GiB (:data:`WAV_MAX_DATA_BYTES`: 18.6 h of a call's two legs at 16 kHz,
37.3 h at 8 kHz): a call that reaches it keeps its audio up to there, and the write that reaches it
is a :class:`CallAudioError` saying so, rather than a file whose lengths no longer fit its header.
"""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path

import numpy as np

from .call_files import new_audio_file

HEADER_BYTES = 44
"""A call audio file's header: the RIFF chunk's start, the fmt chunk (PCM, 16 bits), the data chunk's start."""
WAV_MAX_DATA_BYTES = 0xFFFFFFFF - (HEADER_BYTES - 8)
"""The most audio a WAV holds, in bytes: its RIFF length, the data's and the 36 header bytes after the
length, is 32 bits (4 GiB)."""


class CallAudioError(Exception):
    """Writing a call's audio failed; ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def pcm16(samples: np.ndarray) -> np.ndarray:
    """``samples`` (frames, channels), float (full scale 1.0) or int16, as 16-bit little-endian
    samples (frames, channels), the same as libsndfile writes them: a float scaled by 2**31,
    rounded, its low 16 bits dropped (a floor), clipped to full scale; NaN as -32768. int16 as it is."""
    x = np.asarray(samples)
    if x.dtype.kind == "i" and x.dtype.itemsize == 2:
        return x.astype("<i2", copy=False)
    if x.dtype.kind != "f":
        raise ValueError(f"call audio is float or int16 samples, not {x.dtype}")
    x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
    with np.errstate(over="ignore"):
        y = x * x.dtype.type(2.0 ** 31)
    np.rint(y, out=y)
    y *= 2.0 ** -16
    np.floor(y, out=y)
    np.fmax(y, -32768, out=y)  # NaN too
    np.fmin(y, 32767, out=y)
    return y.astype("<i2")


def wav_header(rate: int, channels: int, data_bytes: int) -> bytes:
    """The :data:`HEADER_BYTES` of a 16-bit PCM WAV of ``channels`` at ``rate`` Hz whose data chunk
    holds ``data_bytes``, as libsndfile writes them."""
    block = 2 * channels
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", HEADER_BYTES - 8 + data_bytes, b"WAVE", b"fmt ", 16, 1,
                       channels, rate, rate * block, block, 16, b"data", data_bytes)


def _written(fd: int, data: memoryview) -> tuple[int, OSError | None]:
    """Write ``data`` (bytes) at ``fd``'s position, in as many writes as the system takes: how many
    bytes it took, and the error that stopped it before the end (None: all written)."""
    done = 0
    while done < len(data):
        try:
            done += os.write(fd, data[done:])
        except OSError as err:
            return done, err
    return done, None


def _reason(err: OSError) -> str:
    """Why the system failed, in its words (``No space left on device``, ``Read-only file system``)."""
    return err.strerror or str(err)


class CallAudio:
    """The audio of one call being written: :meth:`create` it, :meth:`write` each chunk,
    :meth:`close` it once."""

    def __init__(self, path: Path, fd: int, rate: int, channels: int, max_data_bytes: int) -> None:
        self.path, self._fd, self.rate, self.channels = path, fd, rate, channels
        self.frames = 0
        """Frames written whole so far, which the file's header says."""
        self._max_frames = max_data_bytes // (2 * channels)

    @classmethod
    def create(cls, folder: Path, call_id: int | None, started_at: float, rate: int, channels: int, *,
               max_data_bytes: int = WAV_MAX_DATA_BYTES) -> CallAudio:
        """A new 16-bit WAV file for a call's audio (named as :func:`new_audio_file` names it),
        holding at most ``max_data_bytes`` of audio. Raises :class:`CallAudioError` naming the folder
        or file that failed; a file whose header could not be written is removed."""
        if rate <= 0 or channels <= 0:
            raise ValueError(f"call audio of {channels} channel(s) at {rate} Hz")
        try:
            path, fd = new_audio_file(folder, call_id, started_at)
        except OSError as err:
            raise CallAudioError(Path(os.fsdecode(err.filename)) if err.filename else folder, _reason(err)) from None
        try:
            _, failed = _written(fd, memoryview(wav_header(rate, channels, 0)))
        except BaseException:
            os.close(fd)
            raise
        if failed is not None:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise CallAudioError(path, _reason(failed))
        return cls(path, fd, rate, channels, max_data_bytes)

    @property
    def seconds(self) -> float:
        """The seconds of audio written whole so far."""
        return self.frames / self.rate

    def write(self, samples: np.ndarray) -> None:
        """Append ``samples`` (frames, channels; (frames,) of one channel) as :func:`pcm16` makes
        them, then bring the header up to date. Raises :class:`CallAudioError` (``path: reason``) when
        the system takes them in part or not at all, or the file is full (:data:`WAV_MAX_DATA_BYTES`):
        the file and its header keep the frames it took whole, or the file is closed. Samples of another
        type or number of channels are a ValueError (``path: problem``), nothing written."""
        if self._fd < 0:
            raise CallAudioError(self.path, "the file is closed")
        try:
            pcm = pcm16(samples)
        except ValueError as err:
            raise ValueError(f"{self.path}: {err}") from None
        pcm = pcm[:, None] if pcm.ndim == 1 else pcm
        if pcm.ndim != 2 or pcm.shape[1] != self.channels:
            raise ValueError(f"{self.path}: samples {pcm.shape} for a file of {self.channels} channel(s)")
        room = self._max_frames - self.frames
        done, failed = _written(self._fd, np.ascontiguousarray(pcm[:room]).reshape(-1).view(np.uint8).data)
        kept, part = divmod(done, 2 * self.channels)
        if part:
            self._drop_bytes(part)
        if kept:
            try:
                os.pwrite(self._fd, wav_header(self.rate, self.channels, 2 * self.channels * (self.frames + kept)), 0)
            except OSError as err:
                failed = failed or err
            else:
                self.frames += kept
        if failed is not None:
            raise CallAudioError(self.path, _reason(failed))
        if len(pcm) > room:
            raise CallAudioError(self.path, self._full())

    def _drop_bytes(self, count: int) -> None:
        """Take the last ``count`` bytes written off the file (a frame the system took in part), as far
        as the disk lets it: the next write goes where they were."""
        with contextlib.suppress(OSError):
            end = os.lseek(self._fd, -count, os.SEEK_CUR)
            os.ftruncate(self._fd, end)

    def _full(self) -> str:
        """Why a full file takes no more audio, in one line."""
        most = 2 * self.channels * self._max_frames
        return (f"the file is full: a WAV file holds {most / 2 ** 30:.3g} GiB of audio at most "
                f"({self._max_frames / self.rate / 3600:.1f} h of {self.channels} channel(s) at {self.rate} Hz)")

    def close(self) -> None:
        """Put the file on the disk (fsync; its header is up to date) and close it, the descriptor
        closed however that goes. Raises :class:`CallAudioError` when the disk took the
        audio and failed to store it (thin-provisioned past its room, failing: ``No space left on
        device``, ``Input/output error``, which no write said). Once closed, a close does nothing and a
        write is a :class:`CallAudioError` (the descriptor's number may be another file's by then)."""
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        try:
            try:  # the system tells a failure to store the file once, to the first fsync
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            raise CallAudioError(self.path, _reason(err)) from None
