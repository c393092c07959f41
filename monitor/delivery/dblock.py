"""One daemon per database: an exclusive lock on ``<database>.lock`` (beside the file a symlink
names); one batch per database at a time, the same kind of lock on ``<database>.batch.lock``
(:class:`~monitor.batch.ledger.BatchLock`).

Two daemons recording into one database would record the same audio as two calls and post
every alert twice. The lock is an ``flock`` on a file beside the database (mode 0600) that
holds the owner's pid; the kernel drops it when the process ends, however it ends, so a
crash never leaves a stale lock behind (the file a crash leaves is locked by the next daemon as
any other). A daemon that stops removes its lock file (:meth:`DatabaseLock.release`); one whose start
fails or is stopped (Ctrl-C, SIGTERM) takes back what the lock made (with ``discard``: a database
there before gets no lock file it did not have); a lock taken on a file removed meanwhile is
taken again on the file there now, so that this removal never lets two daemons hold it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from pathlib import Path

from ..files import make_private_folder
from .store_errors import StoreError


class DatabaseInUse(StoreError):
    """Another daemon (or batch, for a :class:`~monitor.batch.ledger.BatchLock`) holds the
    database's lock."""


HOLDER_WAIT_S = 1.0
"""How long a start refused waits for the holder's pid: a daemon that took the lock an instant
before writes it just after (two started at once)."""


def held_now(db: str | os.PathLike[str]) -> bool:
    """Whether a daemon holds the lock of database ``db`` now, as the kernel's list of locks
    (``/proc/locks``, each lock's file as ``major:minor:inode``) says: without taking the lock, which
    would refuse a daemon starting at that instant. The lock file's inode is looked for on any device
    (btrfs lists a subvolume's files under another device than ``stat`` gives). False where there is
    no lock file or no such list."""
    real = Path(os.path.realpath(Path(db).expanduser()))
    try:
        inode = str(os.stat(real.with_name(real.name + DatabaseLock.SUFFIX)).st_ino)
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            listed = f.read().split()
    except OSError:
        return False
    return any(word.count(":") == 2 and word.rsplit(":", 1)[1] == inode for word in listed)


def locked_by(pid: int) -> str | None:
    """The database whose daemon lock process ``pid`` holds (its path as the lock file's, without
    :attr:`DatabaseLock.SUFFIX`), as the kernel's list of locks (``/proc/locks``: each ``flock``'s
    holder and file, as ``major:minor:inode``) and the process's open files say; None when it holds
    none, or neither can be read (a process of another user, one gone meanwhile)."""
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            held = {words[5].rsplit(":", 1)[1] for words in map(str.split, f)
                    if len(words) > 5 and words[1] == "FLOCK" and words[4] == str(pid)}
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        with contextlib.suppress(OSError):  # a file it closes as it is looked at
            path = os.readlink(f"/proc/{pid}/fd/{fd}")
            if path.endswith(DatabaseLock.SUFFIX) and str(os.stat(f"/proc/{pid}/fd/{fd}").st_ino) in held:
                return path.removesuffix(DatabaseLock.SUFFIX)
    return None


NOT_A_FILE = "not a regular file: remove it"
"""Why a FIFO, a socket or a device at the lock's path is no lock file."""


def _tell_pid(fd: int) -> None:
    """Write this process's pid into the lock file ``fd``, which a daemon refused names. A disk that
    takes no byte (full) leaves it empty: the lock, the kernel's, is held all the same (a daemon
    refused then says ``pid ?``), and the daemon monitors on its full disk."""
    pid = f"{os.getpid()}\n".encode()
    try:
        os.pwrite(fd, pid, 0)  # then cut: the file is never empty while the lock is held
        os.ftruncate(fd, len(pid))
    except OSError:  # no room: not an earlier daemon's pid either
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)


class DatabaseLock:
    """``DatabaseLock(db).acquire()`` or raise StoreError naming the holder; ``release()``."""

    ATTEMPTS = 5
    """How often :meth:`acquire` takes the lock again when the file it locked was removed meanwhile."""
    SUFFIX = ".lock"
    """What the lock file's name adds to the database's."""
    NAME = "daemon lock"
    """What the lock is called in the lines that say its file cannot be made."""

    def __init__(self, db: str | os.PathLike[str]) -> None:
        self.db = Path(db).expanduser()
        real = Path(os.path.realpath(self.db))  # a symlink's target: one lock whichever path names it
        self.path = real.with_name(real.name + self.SUFFIX)
        self._fd: int | None = None
        self._made: list[Path] = []  # the folders and the lock file acquire made, the deepest last

    def acquire(self) -> "DatabaseLock":
        for _ in range(self.ATTEMPTS):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                os.close(fd)
                raise DatabaseInUse(self.in_use(holder)) from None
            if self._still_there(fd):
                self._fd = fd
                _tell_pid(fd)
                return self
            os.close(fd)  # a start that failed removed the file it had locked: lock the one there now
        raise StoreError(f"{self.path}: the {self.NAME} file keeps being removed; try again")

    def in_use(self, holder: str) -> str:
        """The line that refuses the lock held by the process ``holder`` (its pid, or "?")."""
        return (f"{self.db}: already used by another call-monitor daemon (pid {holder}); one daemon per database "
                "(give this one another --db and --socket)")

    def _holder(self, fd: int) -> str:
        """The pid the lock file ``fd`` holds, waited for while it is empty; "?" if none comes."""
        deadline = time.monotonic() + HOLDER_WAIT_S
        while True:
            said = os.pread(fd, 32, 0).decode("ascii", "replace").split()
            if said or time.monotonic() > deadline:
                return said[0] if said else "?"
            time.sleep(0.01)

    def _open(self) -> int:
        """The lock file, opened (made, with its folders, where it is not there: noted in ``_made``).
        A symbolic link or another kind of file at its path (put there by another user of a folder
        they may write) is refused, never followed: the pid written into the lock would overwrite
        the file it points to."""
        folder = self.path.parent
        # os.path's check: one behind a folder this user may not enter is not seen (Path's raises), nor made below
        missing = [d for d in (folder, *folder.parents) if not os.path.exists(d)][::-1]
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            make_private_folder(folder)
            try:
                fd, self._made = os.open(self.path, flags | os.O_EXCL, 0o600), [*missing, self.path]
            except FileExistsError:
                fd, self._made = os.open(self.path, flags, 0o600), []
        except OSError as exc:
            why = ("a symbolic link, not a lock file: remove it" if exc.errno == errno.ELOOP
                   else NOT_A_FILE if exc.errno == errno.ENXIO  # a socket, which open() calls "no such device"
                   else exc.strerror or str(exc))
            raise StoreError(f"{self.path}: cannot create the {self.NAME} ({why})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StoreError(f"{self.path}: cannot create the {self.NAME} ({NOT_A_FILE})")
        return fd

    def _still_there(self, fd: int) -> bool:
        """Whether the file ``fd`` locked is still the one at :attr:`path`."""
        try:
            return os.path.samestat(os.stat(self.path), os.fstat(fd))
        except FileNotFoundError:
            return False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self, discard: bool = False) -> None:
        """Drop the lock and remove its file (a clean stop leaves no lock file behind), when the file
        there is still the one this lock holds (one put in its place meanwhile, which another daemon
        may hold, stays); with ``discard`` (a start that failed), remove instead what :meth:`acquire`
        made, the lock file and the folders (a folder holding anything else stays), and keep a lock
        file that was there before, as it was. Removed while still locked: a daemon that locks the
        file meanwhile takes the lock again on the file there next (:meth:`_still_there`)."""
        if self._fd is None:
            return
        ours = self._still_there(self._fd)
        for made in reversed(self._made) if discard else [self.path]:
            with contextlib.suppress(OSError):  # a folder something else was put in stays
                if made != self.path:
                    made.rmdir()
                elif ours:
                    made.unlink()
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self) -> "DatabaseLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
