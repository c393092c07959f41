"""Keeping native libraries' own chatter off stderr.

libsndfile (through libmpg123), ALSA, JACK and PortAudio print to file descriptor 2 directly,
past Python's ``sys.stderr``. The monitor's own messages are one line each (``console``), so
those libraries are silenced at the descriptor level:

* :func:`native_stderr_silenced` for a short call (probing a file): descriptor 2 points at
  ``/dev/null`` for its duration;
* :func:`native_stderr_captured` for a short call whose failure the libraries explain there
  (loading a speech model): descriptor 2 goes to a temporary file, whose lines an error quotes;
* :class:`DecoderChatter` for each block a file's decoder reads: descriptor 2 goes to a temporary
  file for the call; the decoder's lines are counted, and any other line written meanwhile (Python's
  own, from another thread) is passed on to the real stderr;
* :class:`NativeStderrDivert` for the daemon's whole run: Python's ``sys.stderr`` keeps the
  real terminal (a duplicate of descriptor 2), while descriptor 2 itself goes to a pipe whose
  lines are counted and logged at debug level (``logging`` name ``monitor.native``).
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import tempfile
import threading
from typing import IO, Callable, TypeVar

_LOCK = threading.Lock()  # descriptor 2 is process-wide: one block points it elsewhere at a time
LOG = logging.getLogger("monitor.native")
T = TypeVar("T")

DECODER_LINE = re.compile(r"^(\[[\w./-]+:\w*\(\):\d+\] |Note: )")
"""A line a decoder library prints: libmpg123's "[src/libmpg123/layer3.c:INT123_do_layer3():1774]
error: part2_3_length (832) too large ..." and its "Note: Illegal Audio-MPEG-Header ..." ones."""


def _called_with_stderr_to(fd: int, call: Callable[[], T]) -> T:
    """``call()``, descriptor 2 pointing where ``fd`` does meanwhile (Python's own buffered writes
    are flushed first), one such call at a time in the process; back to what it was however the
    call ends. Put back in this function's own ``finally``, the first thing done there, and not in
    a context manager's exit: a stop (Ctrl-C, SIGTERM) that Python raises as such an exit begins
    skips it, and descriptor 2 stayed on ``/dev/null`` until the collector came, so that the stop's
    own line went there."""
    with _LOCK:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        saved = os.dup(2)
        try:
            os.dup2(fd, 2)
            return call()
        finally:
            try:
                os.dup2(saved, 2)
            finally:
                os.close(saved)


def native_stderr_silenced(call: Callable[[], T]) -> T:
    """``call()``, descriptor 2 pointing at /dev/null meanwhile."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        return _called_with_stderr_to(devnull, call)
    finally:
        os.close(devnull)


def native_stderr_captured(lines: list[str], call: Callable[[], T]) -> T:
    """``call()``, descriptor 2 going to a temporary file meanwhile; after it (however it ends)
    ``lines`` holds the non-empty lines written there, stripped."""
    with tempfile.TemporaryFile() as held:
        try:
            return _called_with_stderr_to(held.fileno(), call)
        finally:
            held.seek(0)
            lines.extend(line.strip() for line in held.read().decode("utf-8", "replace").splitlines()
                         if line.strip())


class NativeStderrDivert:
    """Route descriptor 2 to a pipe drained by a thread; ``sys.stderr`` keeps the terminal.

    ``lines`` counts what the native libraries printed. :meth:`close` restores everything.
    """

    def __init__(self) -> None:
        self.lines = 0
        self._saved_fd: int | None = None
        self._saved_stderr: IO[str] | None = None
        self._thread: threading.Thread | None = None
        self._read_fd: int | None = None

    def start(self) -> "NativeStderrDivert":
        sys.stderr.flush()
        self._saved_fd = os.dup(2)
        self._saved_stderr = sys.stderr
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(self._saved_fd), "wb", buffering=0),
                                      encoding=getattr(self._saved_stderr, "encoding", None) or "utf-8",
                                      errors="backslashreplace", line_buffering=True)
        r, w = os.pipe()
        os.dup2(w, 2)
        os.close(w)
        self._read_fd = r
        self._thread = threading.Thread(target=self._drain, name="native-stderr", daemon=True)
        self._thread.start()
        return self

    def _drain(self) -> None:
        with os.fdopen(self._read_fd, "rb") as fh:  # type: ignore[arg-type]
            for raw in fh:
                self.lines += 1
                LOG.debug("native library: %s", raw.decode("utf-8", "replace").rstrip())

    def close(self) -> None:
        if self._saved_fd is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved_fd, 2)  # closes the pipe's write end: the drain thread ends
        os.close(self._saved_fd)
        self._saved_fd = None
        replaced, sys.stderr = sys.stderr, self._saved_stderr
        try:
            replaced.close()
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(1.0)

    def __enter__(self) -> "NativeStderrDivert":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class DecoderChatter:
    """Keeps a file decoder's own lines off stderr, one decoder call at a time.

    During :meth:`call` descriptor 2 goes to a temporary file (Python's own buffered writes are
    flushed first); after it, the lines written there that a decoder prints (``DECODER_LINE``) are
    counted in ``lines`` and logged at debug level; any other line (Python's own, from another
    thread meanwhile) is written to the real descriptor 2, so nothing of the monitor's is lost. The
    cost per call is a few system calls while the decoder stays quiet. :meth:`close` removes the
    temporary file.

    No warning is made of the decoder's lines: libmpg123's "part2_3_length too large" errors on
    MPEG 2.5 files that libsndfile itself wrote come and go with the length of the blocks read
    (an 8 kHz call of 20 s: 69 of them in blocks of 0.1 s, 5 in blocks of 1 s, none read whole),
    and the samples decoded differ by less than -65 dB of full scale: they tell nothing of the file.
    """

    def __init__(self) -> None:
        self.lines = 0
        self._held: IO[bytes] | None = None

    def call(self, read: Callable[[], T]) -> T:
        """``read()`` (a decoder's call), its lines kept off stderr."""
        if self._held is None:
            try:
                self._held = tempfile.TemporaryFile()
            except OSError:  # no writable temporary folder: the decoder's lines show, the file is read
                return read()
        held = self._held
        try:
            return _called_with_stderr_to(held.fileno(), read)
        finally:
            if os.fstat(held.fileno()).st_size:
                self._sort(held)

    def _sort(self, held: IO[bytes]) -> None:
        """Count the decoder's lines held, pass the others on to descriptor 2, empty the file."""
        held.seek(0)
        passed = []
        for raw in held.read().splitlines(keepends=True):
            line = raw.decode("utf-8", "replace")
            if DECODER_LINE.match(line):
                self.lines += 1
                LOG.debug("decoder: %s", line.rstrip())
            else:
                passed.append(raw)
        held.seek(0)
        held.truncate()
        if passed:
            os.write(2, b"".join(passed))

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
