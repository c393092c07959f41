"""Keeping native libraries' own chatter off stderr.

libsndfile (through libmpg123), ALSA, JACK and PortAudio print to file descriptor 2 directly,
past Python's ``sys.stderr``. The monitor's own messages are one line each (``console``), so
those libraries are silenced at the descriptor level:

* :func:`native_stderr_silenced` for a short call (probing a file): descriptor 2 points at
  ``/dev/null`` for its duration;
* :func:`native_stderr_captured` for a short call whose failure the libraries explain there
  (loading a speech model): descriptor 2 goes to a temporary file, whose lines an error quotes;
* :class:`NativeStderrDivert` for the daemon's whole run: Python's ``sys.stderr`` keeps the
  real terminal (a duplicate of descriptor 2), while descriptor 2 itself goes to a pipe whose
  lines are counted and logged at debug level (``logging`` name ``monitor.native``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import threading
from typing import Iterator

_LOCK = threading.Lock()
LOG = logging.getLogger("monitor.native")


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Descriptor 2 points at /dev/null inside the block (Python's own writes are flushed first)."""
    with _LOCK:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


@contextlib.contextmanager
def native_stderr_captured(lines: list[str]) -> Iterator[None]:
    """Descriptor 2 goes to a temporary file inside the block; after it (however it ends) ``lines``
    holds the non-empty lines written there, stripped."""
    with _LOCK, tempfile.TemporaryFile() as held:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        saved = os.dup(2)
        try:
            os.dup2(held.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
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
        self._saved_stderr = None
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
