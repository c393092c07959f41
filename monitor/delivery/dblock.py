"""One daemon per database: an exclusive lock on ``<database>.lock``.

Two daemons recording into one database would record the same audio as two calls and post
every alert twice. The lock is an ``flock`` on a file beside the database (mode 0600) that
holds the owner's pid; the kernel drops it when the process ends, however it ends, so a
crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .store import StoreError


class DatabaseInUse(StoreError):
    """Another daemon holds the database's lock."""


class DatabaseLock:
    """``DatabaseLock(db).acquire()`` or raise StoreError naming the holder; ``release()``."""

    def __init__(self, db: str | os.PathLike[str]) -> None:
        self.db = Path(db).expanduser()
        self.path = self.db.with_name(self.db.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> "DatabaseLock":
        try:
            self.db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the daemon lock ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise DatabaseInUse(f"{self.db}: already used by another call-monitor daemon (pid {holder}); "
                             "one daemon per database (give this one another --db and --socket)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> "DatabaseLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
