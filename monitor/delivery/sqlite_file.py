"""Opening a private SQLite file: the alert store and the supervisor's console store both keep call
content, so the folder is created 0700 and the file 0600 before SQLite sees it; one of another user's
is said in a warning."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Callable, Iterator

from ..files import another_user, in_own_folder, make_private_folder, new_file_beside, user_name

log = logging.getLogger(__name__)


def connect_private(p: Path, timeout_s: float) -> sqlite3.Connection:
    """A connection to the database file ``p`` (autocommit, usable from any thread), creating its
    folder (0700) and the file (0600) if missing. What it deletes is overwritten with zeros
    (``secure_delete``): a purged call's words and alerts are not left in the file's free space,
    whatever SQLite's build does by default (Debian's does so already).

    Raises ``PermissionError`` when the file cannot be created or written, another ``OSError`` when
    it cannot be opened (a link or another kind of file where SQLite keeps the database's log:
    :func:`planted_beside`), ``sqlite3.Error`` when SQLite cannot. A file of another user is opened
    with a warning (:func:`another_users`)."""
    if not p.parent.exists():  # a file in its place is left for os.open to name (not a directory)
        make_private_folder(p.parent)
    if (planted := planted_beside(p)) is not None:
        raise OSError(errno.ELOOP, planted, p)
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _warn_of_owner(p, os.fstat(fd))
    finally:
        os.close(fd)
    if not os.access(p, os.W_OK):
        raise PermissionError(f"{p}: not writable")
    conn = sqlite3.connect(p, check_same_thread=False, isolation_level=None, timeout=timeout_s)
    conn.execute("PRAGMA secure_delete = ON")
    return conn


BESIDE = (("-wal", "write-ahead log"), ("-shm", "shared-memory index"), ("-journal", "rollback journal"))
"""The files SQLite keeps beside a database file (its name and these endings), and what each is."""


def planted_beside(p: Path) -> str | None:
    """A symbolic link, another kind of file than a regular one, or a file of another user's
    (:func:`not_trusted`) other than the database's owner (whose database is warned of), at the name
    of a file SQLite keeps beside the database ``p`` (:data:`BESIDE`, beside the file a link at ``p``
    points to), and whose it is, in one phrase naming it and the fix; None when there is none. Put there by another user of a folder they may write
    (``ln -s /etc/hostname r.db-wal``), a link is never followed, and SQLite's own refusal names
    neither the file nor why ("unable to open database file"); an empty file of theirs
    (``umask 000; : > r.db-wal``) would be written the call's words, which they may read: it is named
    as the lock file's is."""
    real = os.path.realpath(p)
    for ending, what in BESIDE:
        side = real + ending
        try:
            st = os.lstat(side)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (not_trusted(Path(real), st.st_uid) and st.st_uid != _owner(real)):
            kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else
                    "a file" if stat.S_ISREG(st.st_mode) else "not a file")
            whose = "" if st.st_uid == os.geteuid() else f" of another user, {user_name(st.st_uid)},"
            return f"{side}: {kind}{whose} where the database's {what} belongs: remove it"
    return None


def _owner(path: str) -> int | None:
    """The owner of the file at ``path``; None when there is none."""
    try:
        return os.stat(path).st_uid
    except OSError:
        return None


def not_trusted(p: Path, uid: int) -> bool:
    """Whether the database ``p``, or a file beside it, of the user ``uid`` is another user's, who
    may read what is written to it and change or replace it: neither this user nor root, nor, for
    root, the user who owns its folder too (root writing into a user's own database, in their home:
    an administrator's common case)."""
    return another_user(uid) and not (os.geteuid() == 0 and in_own_folder(p, uid))


_OWNERS_SAID: set[tuple[str, int]] = set()
"""The databases (a resolved path, its owner) whose owner :func:`_warn_of_owner` has warned of:
once each in a process, however often a daemon opens its database again."""


def another_users(p: Path, st: os.stat_result) -> str | None:
    """Why the database file ``p`` (``st``: its status) is not this user's to write calls into: it
    belongs to another user, who may read every call written to it and change or replace it (and
    whom no ``chmod`` of this user's reaches), in one line naming them; None when it is not
    (:func:`not_trusted`)."""
    owner = st.st_uid
    if not not_trusted(p, owner):
        return None
    return (f"{p}: the database belongs to another user, {user_name(owner)}, who may read every call "
            f"written to it, and change or replace it; keep the database in a folder of your own "
            f"(storage.db, --db)")


def _warn_of_owner(p: Path, st: os.stat_result) -> None:
    """Warn once (:data:`_OWNERS_SAID`) of a database file that is another user's (:func:`another_users`)."""
    said = (os.path.realpath(p), st.st_uid)
    if said not in _OWNERS_SAID and (why := another_users(p, st)) is not None:
        _OWNERS_SAID.add(said)
        log.warning("%s", why)


@contextlib.contextmanager
def closed_on_failure(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``conn`` for a block that prepares it (checks or upgrades its schema): closed when the block
    raises, the exception going on, so that no failed open leaves a connection behind."""
    try:
        yield conn
    except BaseException:
        conn.close()
        raise


def made_whole(p: Path, make: Callable[[sqlite3.Connection], None]) -> None:
    """A new database at ``p``, made whole or not at all: ``make`` builds it on a connection to a
    temporary file beside it (mode 0600, in rollback-journal mode), which is then linked into place
    when nothing is there, or put over an empty file there (one an interrupted creation of an earlier
    release left: unchanged for :data:`EMPTY_LEFT_S`) that this user may write and that is still the
    same empty file. A stop or an error while it is made removes the temporary file; a database
    another process made at ``p`` meanwhile is left as it is (its own link comes first). Nothing is
    done when ``p`` is there and not empty, is a folder, or is an empty file younger than that (one
    another process may be making in place): the caller opens what is there, and makes it there,
    as an empty file, when the filesystem takes no hard link. Through a symlink, the file it points
    to is made.

    Raises ``PermissionError`` when the folder takes no new file, another ``OSError`` (a symbolic
    link's loop among them), ``sqlite3.Error``."""
    real = Path(os.path.realpath(p))  # a loop of links: os.stat says so below, as an OSError
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    if st is not None and not _left_empty(real, st):
        return
    if not real.parent.exists():
        make_private_folder(real.parent)
    with new_file_beside(real.parent, f".{real.name}.", ".new") as tmp:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            make(conn)
        finally:
            conn.close()
        _put_in_place(tmp, real, st)


EMPTY_LEFT_S = 10.0
"""How long an empty file where a database belongs must have been left unchanged to be one an
interrupted creation left, which a new database is put over: a younger one may be one another
process makes in place this moment (on a filesystem without hard links, or by an earlier release),
whose writes would go to a file no longer there."""


def _left_empty(p: Path, st: os.stat_result) -> bool:
    """Whether ``p`` (``st``: its status) is an empty file this user may write, left so for
    :data:`EMPTY_LEFT_S`."""
    return (stat.S_ISREG(st.st_mode) and st.st_size == 0 and os.access(p, os.W_OK)
            and time.time() - st.st_mtime >= EMPTY_LEFT_S)


def _put_in_place(tmp: str, real: Path, empty: os.stat_result | None) -> None:
    """Link the database ``tmp`` made at ``real`` when nothing is there (something there now, made
    by another process meanwhile, is kept), or rename it over the ``empty`` file there when it still
    is that empty file."""
    if empty is None:
        try:
            os.link(tmp, real)
        except FileExistsError:
            pass
        except OSError as exc:  # a filesystem without hard links (FAT, some network mounts): made in place
            log.debug("%s: database not linked into place (%s); it is made there", real, exc.strerror or exc)
        return
    with contextlib.suppress(FileNotFoundError):
        now = os.stat(real)
        if (now.st_ino, now.st_dev, now.st_size) == (empty.st_ino, empty.st_dev, 0):
            os.replace(tmp, real)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[sqlite3.Connection]:
    """``conn`` inside one transaction (``begin``: ``BEGIN``, or ``BEGIN IMMEDIATE`` to take the write
    lock before reading), committed when the block ends, rolled back when it raises (unless SQLite
    rolled it back itself, as on some errors: a full disk)."""
    conn.execute(begin)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def lock_waits(conn: sqlite3.Connection | None, waits: bool, wait_s: float | None = None) -> Iterator[None]:
    """Inside the block, ``conn`` waits for another program's lock only if ``waits`` (else its busy
    timeout is 0: a statement fails at once on a lock), ``wait_s`` seconds where given (else its
    busy timeout); after it, as it waited before."""
    if waits and wait_s is None or conn is None:
        yield
        return
    before = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000) if waits and wait_s is not None else 0}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA busy_timeout = {before}")


def empty_log(conn: sqlite3.Connection) -> None:
    """Checkpoint the write-ahead log into the database and truncate it, so that rows deleted (and
    overwritten, ``secure_delete``) leave no copy there; without waiting for a reader still in it
    (then the log stays as it is, until the next time): a purge must not hold up alerts."""
    with lock_waits(conn, False), contextlib.suppress(sqlite3.Error):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def statements(schema: str) -> list[str]:
    """The statements of the SQL script ``schema`` (separated by ``;``), stripped, none empty."""
    return [s.strip() for s in schema.split(";") if s.strip()]


def remake_table(conn: sqlite3.Connection, schema: str, table: str) -> None:
    """Make ``table`` again as ``schema`` makes it, with its rows (their ids kept) and the indexes
    ``schema`` puts on it: SQLite's way to change a table's definition. In the caller's
    transaction, with foreign keys off (other tables reference ``table`` by name)."""
    made = statements(schema)
    create = next(s for s in made if s.startswith(f"CREATE TABLE {table} ("))
    columns = ", ".join(f'"{r[1]}"' for r in conn.execute(f"PRAGMA table_info({table})"))
    conn.execute(create.replace(f"CREATE TABLE {table} (", f"CREATE TABLE new_{table} (", 1))
    conn.execute(f"INSERT INTO new_{table} ({columns}) SELECT {columns} FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE new_{table} RENAME TO {table}")
    for index in (s for s in made if s.startswith("CREATE INDEX") and f" ON {table}(" in s):
        conn.execute(index)
