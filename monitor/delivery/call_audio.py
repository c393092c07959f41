"""A live call's audio file (``daemon.write_audio``), written as it comes, and what a disk that stops
taking it (full, read-only, failing) leaves of it.

The audio goes through the descriptor of the new private file made for it
(:func:`~monitor.delivery.call_files.new_audio_file`). libsndfile writes a WAV's lengths into its
header at the file's close and says nothing when that write fails (a disk gone read-only takes no
header then, and the file said it held no audio); here it brings them up to date after every write,
so that whatever stops the writing (the disk, a kill, a power loss) the header says the audio the
file holds. A write or an opening that fails is a :class:`CallAudioError` whose message names the
file and the system's reason (``No space left on device``); an opening that fails leaves no empty
file behind. The file is put on the disk (fsync) at its close, and only there (soundfile's close
syncs it too and would take the failure unsaid): a disk that took the bytes and failed to store
them, then or earlier as the kernel wrote them back, says so there.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from .call_files import new_audio_file

SFC_SET_UPDATE_HEADER_AUTO = 0x1061
"""libsndfile's command (``sndfile.h``) that rewrites a file's header after each write; soundfile
does not name it."""


class CallAudioError(Exception):
    """Writing a call's audio failed; ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def _reason(err: Exception, handle: object) -> str:
    """Why libsndfile failed, in the system's words (``No space left on device``,
    ``Read-only file system``) where it kept them, else its own message."""
    if isinstance(err, sf.LibsndfileError):
        text = sf._ffi.string(sf._snd.sf_strerror(handle)).decode("utf-8", "replace")  # noqa: SLF001
        said = text.split(" : ", 1)[-1].strip().rstrip(".")
        if said:
            return said
    return str(err).strip() or type(err).__name__


class CallAudio:
    """The audio of one call being written: :meth:`create` it, :meth:`write` each chunk,
    :meth:`close` it once."""

    def __init__(self, path: Path, fd: int, out: sf.SoundFile, rate: int) -> None:
        self.path, self._fd, self._out, self.rate = path, fd, out, rate
        self.frames = 0
        """Frames written whole so far."""

    @classmethod
    def create(cls, folder: Path, call_id: int | None, started_at: float, rate: int, channels: int) -> CallAudio:
        """A new 16-bit WAV file for a call's audio (named as :func:`new_audio_file` names it).
        Raises :class:`CallAudioError` naming the folder or file that failed; a file whose header
        could not be written is removed."""
        try:
            path, fd = new_audio_file(folder, call_id, started_at)
        except OSError as err:
            raise CallAudioError(Path(os.fsdecode(err.filename)) if err.filename else folder,
                                 err.strerror or str(err)) from None
        try:
            out = sf.SoundFile(fd, "w", samplerate=rate, channels=channels, subtype="PCM_16", format="WAV",
                               closefd=False)
        except (sf.LibsndfileError, RuntimeError) as err:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise CallAudioError(path, _reason(err, sf._ffi.NULL)) from None  # noqa: SLF001
        except BaseException:
            os.close(fd)
            raise
        sf._snd.sf_command(out._file, SFC_SET_UPDATE_HEADER_AUTO, sf._ffi.NULL, 1)  # noqa: SLF001
        return cls(path, fd, out, rate)

    @property
    def seconds(self) -> float:
        """The seconds of audio written whole so far."""
        return self.frames / self.rate

    def write(self, samples: np.ndarray) -> None:
        """Append ``samples`` (frames, channels). Raises :class:`CallAudioError`: ``path: reason``."""
        try:
            self._out.write(samples)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise CallAudioError(self.path, _reason(err, self._out._file)) from None  # noqa: SLF001
        self.frames += len(samples)

    def close(self) -> None:
        """Put the file on the disk (fsync; its header is up to date) and close it, the descriptor
        closed however that goes. Raises :class:`CallAudioError` when the disk took the
        audio and failed to store it (thin-provisioned past its room, failing: ``No space left on
        device``, ``Input/output error``, which no write said)."""
        try:
            try:  # first: the system tells a failure to store the file once, to the first fsync
                os.fsync(self._fd)
            finally:
                self._close_unsynced()
        except OSError as err:
            raise CallAudioError(self.path, err.strerror or str(err)) from None
        finally:
            os.close(self._fd)

    def _close_unsynced(self) -> None:
        """libsndfile's close (the header written once more, as it is), without the fsync soundfile
        runs before it, which would take a failure to store the file unsaid (and sync it twice)."""
        handle, self._out._file = self._out._file, None  # noqa: SLF001 - soundfile's close is flush + sf_close
        err = sf._snd.sf_close(handle)  # noqa: SLF001
        if err:
            raise CallAudioError(self.path, sf._ffi.string(sf._snd.sf_error_number(err)).decode(  # noqa: SLF001
                "utf-8", "replace").rstrip("."))
