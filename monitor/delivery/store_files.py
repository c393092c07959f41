"""What is wrong with a database file, found without changing it: a folder, no SQLite file, an empty one,
a supervisor console's database, a newer callmonitor's schema, one that cannot be reached, made or
written here; the one line a command says of each; a database other users may read (its -wal and -shm
too); reading a database creating nothing beside it (read-only media, a writer's -wal); and sqlite3's
errors as short phrases.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..console import first_line
from ..files import cannot_make_in, cannot_open_to_write, not_entered, others_may_read
from .sqlite_file import planted_beside
from .store_errors import StoreError
from .store_schema import _TABLES, _TABLES_FROM, SCHEMA_VERSION, _too_new

BUSY_TIMEOUT_S = 2.0
"""How long a statement waits for another writer's lock before it fails (and the alert goes
out marked as not stored instead of waiting)."""


def is_damage(exc: BaseException) -> bool:
    """Whether sqlite3's error says the pages of an SQLite file are damaged (malformed, corrupt)."""
    low = first_line(exc).lower()
    return "malformed" in low or "corrupt" in low


def unusable(p: str | os.PathLike[str], exc: sqlite3.DatabaseError) -> str:
    """The line for a database whose reading failed with ``exc``: damaged (its pages), or no callmonitor
    database at all."""
    return f"{os.fspath(p)}: {_describe(exc, p)}" if is_damage(exc) else f"{os.fspath(p)}: not a callmonitor database ({exc})"


def lock_wait_s(conn: sqlite3.Connection | None) -> float:
    """How long a statement of ``conn`` waits now for another program's lock (its busy timeout), in
    seconds: 0 while the store guard knows the database fails (:meth:`Store.wait_for_locks`), and in
    a purge that does not wait (the daemon's at its start); :data:`BUSY_TIMEOUT_S`, which every
    connection is opened with, where it cannot be asked (closed)."""
    try:
        return int(conn.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000 if conn is not None else BUSY_TIMEOUT_S
    except sqlite3.Error:
        return BUSY_TIMEOUT_S


def _describe(exc: BaseException, path: str | os.PathLike[str] | None = None,
              waited_s: float = BUSY_TIMEOUT_S) -> str:
    """sqlite3's error as a short phrase a person can act on; an I/O error with what the file system
    of the database at ``path`` says of it (full, read-only), which SQLite does not: a database
    opened on a full disk, whose -shm file cannot be given its size, is "disk I/O error" alone. A
    lock is said with how long the statement waited for it, ``waited_s`` (:func:`lock_wait_s` of its
    connection as it failed)."""
    text = first_line(exc)
    low = text.lower()
    if "full" in low:
        return "the disk is full"
    if "locked" in low or "busy" in low:
        return "the database is locked by another program " + (f"(waited {waited_s:g} s)" if waited_s > 0 else
                                                               "(not waited for)")
    if is_damage(exc) or "not a database" in low:
        return f"the database file is damaged ({text})"
    if "readonly" in low or "read-only" in low:
        return "the database cannot be written (read-only)"
    if "disk i/o" in low:
        return "disk I/O error" + (_disk_state(path) if path is not None else "")
    return text


def _disk_state(path: str | os.PathLike[str]) -> str:
    """What the file system holding the database at ``path`` says that explains an I/O error, as
    ``" (...)"``: the disk is full, or read-only; "" when it says neither or cannot be asked."""
    try:
        fs = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return ""
    if fs.f_flag & os.ST_RDONLY:
        return " (a read-only filesystem)"
    return " (the disk is full)" if fs.f_bavail == 0 else ""


CONSOLE_APPLICATION_ID = 0x434D5356
"""SQLite's application id of the supervisor console's database ("CMSV"): tells it from a
daemon's events database, which a daemon's commands refuse by name."""


def _console_database(conn: sqlite3.Connection, p: Path) -> StoreError | None:
    """The error for the supervisor console's database (told by its application id) given where
    a daemon's events database belongs, else None."""
    if conn.execute("PRAGMA application_id").fetchone()[0] != CONSOLE_APPLICATION_ID:
        return None
    return _console_error(p)


def _console_error(p: Path) -> StoreError:
    return StoreError(f"{p}: the supervisor console's database (call-monitor supervisor --db), not a "
                      f"daemon's events database")


def unreachable(path: str | os.PathLike[str]) -> str | None:
    """The line for a database at ``path`` behind a folder this user may not enter
    (:func:`~monitor.files.not_entered`, in its words), where whether one is there cannot be told: said by
    every command that opens or looks for a database before anything else, rather than "no database
    there" (:func:`os.path.exists` says False) or a traceback (Path's checks raise); None when it can."""
    p = os.path.expanduser(path)
    return None if (why := not_entered(p)) is None else f"{p}: cannot reach the database ({why})"


def no_database(path: str | os.PathLike[str]) -> str:
    """The line for a command that needs a database where none has been made yet."""
    return f"{os.fspath(path)}: no database there (nothing has been recorded to it yet)"


def is_empty_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file with nothing in it: no database to read yet (a writer makes one
    there; :func:`an_empty_file` says it to a command that reads one)."""
    p = os.path.expanduser(path)
    return os.path.isfile(p) and os.path.getsize(p) == 0


def an_empty_file(path: str | os.PathLike[str]) -> str:
    """The line for an empty file given to a command that reads a database (a writer makes one there)."""
    return f"{os.fspath(path)}: not a callmonitor database (an empty file)"


def no_tables(path: str | os.PathLike[str]) -> str:
    """The line for an SQLite file nothing has written into (no table, schema version 0) given to a
    command that reads a database; a callmonitor schema version with no tables is a damaged
    database (:func:`_tables_problem`)."""
    return f"{os.fspath(path)}: not a callmonitor database (an SQLite file with no tables)"


def is_bare_sqlite_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an SQLite file nothing has written into: no table, schema version and
    application id 0 (``sqlite3 FILE 'VACUUM'`` makes one). A writer makes its database there, as
    in an empty file; a command that reads one has none to read (:func:`no_tables`). Read creating
    nothing beside it; False when it cannot be read (the command's own open says why)."""
    p = Path(path).expanduser()
    try:
        with open(p, "rb") as fh:
            if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return False
        conn, _ = _open_to_read(p)
    except (OSError, sqlite3.Error):
        return False
    try:
        return (conn.execute("PRAGMA user_version").fetchone()[0] == 0
                and conn.execute("PRAGMA application_id").fetchone()[0] == 0
                and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0)
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _not_sqlite(p: Path) -> bool:
    """Whether ``p`` holds something other than an SQLite file: not empty, without SQLite's header
    (an empty file is no database yet; one that cannot be read is said by its own open)."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError:
        return False
    return bool(head) and head != SQLITE_HEADER


def a_folder(path: str | os.PathLike[str]) -> str:
    """The line for a folder given where a database file belongs."""
    return f"{os.fspath(path)}: is a directory, not a database file"


def no_database_there(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` holds no database, in the words of the commands that read one (not there yet, a
    folder, an empty file, an SQLite file with no tables, which a writer would make its database in), or
    cannot be reached (:func:`unreachable`), or None: found without creating or changing anything, for a
    command that must not make a database there (it reads one, or writes only into one there: the
    agent's word)."""
    db = os.path.expanduser(path)
    if (why := unreachable(db)) is not None:
        return why
    if os.path.isdir(db):
        return a_folder(db)
    if os.path.islink(db) and not os.path.exists(db):
        return f"{db}: a link to {os.readlink(db)}, which is not there (no database there)"
    if not os.path.isfile(db):
        return no_database(db)
    if is_empty_file(db):
        return an_empty_file(db)
    return no_tables(db) if is_bare_sqlite_file(db) else None


def not_there_yet(path: str | os.PathLike[str]) -> bool:
    """Whether nothing at all is at ``path`` (not even a broken link), in a folder this user may
    enter: no database has been recorded there yet, as opposed to one that cannot be reached or a
    file or folder that is not one (:func:`no_database_there`)."""
    db = os.path.expanduser(path)
    return unreachable(db) is None and not os.path.lexists(db)


SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""


def wal_beside(p: Path) -> Path:
    """Where a writer of the database at ``p`` keeps its -wal: beside the file itself, which SQLite
    reaches through any symlink on the way (as the connections here do, by its resolved path)."""
    real = p.resolve()
    return real.with_name(real.name + "-wal")


def others_may_read_database(path: str | os.PathLike[str], what: str) -> str | None:
    """Why the database at ``path`` (``what``, in the words of the line) is not private
    (:func:`~monitor.files.others_may_read`), looking at the -wal and -shm that SQLite keeps beside it
    too: it makes them with the database file's mode, and a writer keeps them open, mode and all,
    while it runs (a daemon: a ``chmod`` of the file alone leaves its words readable in them until it
    stops), and one killed leaves them to the next. A link at their names is not looked through (a
    ``chmod`` of it would change the file it points to): :func:`~monitor.delivery.sqlite_file.planted_beside`
    names it."""
    p = Path(path).expanduser()
    wal = wal_beside(p)
    # os.path.islink: False where the folder may not be entered (Path.is_symlink raises there)
    beside = [f for f in (wal, wal.with_name(wal.name.removesuffix("-wal") + "-shm")) if not os.path.islink(f)]
    return others_may_read(p, what, beside=beside)


def read_only_mode(p: Path) -> str:
    """The SQLite URI parameter that reads the database at ``p`` creating nothing beside it. Even
    read-only, SQLite makes a WAL database's -wal and -shm, which only a writer removes: a WAL
    database with no -wal has no writer and holds everything in its file, so it is read as it is
    (``immutable=1``); one whose -wal a writer has open (or left) is read with it (``mode=ro``), as
    is a rollback-journal database, which makes nothing when read."""
    try:
        with open(p, "rb") as fh:
            wal = fh.read(20)[18:20] == b"\x02\x02"  # the file format's write and read versions: 2 is WAL
    except OSError:
        wal = False
    return "immutable=1" if wal and not wal_beside(p).exists() else "mode=ro"


@dataclass(frozen=True)
class FileState:
    """What changes when anything writes a database file or a writer comes to it: the file's inode,
    size, modification and change times, and whether a -wal is beside it."""

    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    wal: bool


def file_state(p: Path) -> FileState | None:
    """The :class:`FileState` of the database at ``p`` now (None: not there)."""
    try:
        st = os.stat(p)
    except OSError:
        return None
    return FileState(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, wal_beside(p).exists())


IMMUTABLE_READS = 3
"""How many times a read of a database file opened as immutable is made before giving up when the
file changes under every one of them (a writer starting and stopping again and again)."""


def kept_changing(p: Path) -> str:
    """The line for a database that changed under every read of it as immutable."""
    return f"{p}: cannot read the database: it changed under each of {IMMUTABLE_READS} reads (writers coming and going)"


def _open_to_read(p: Path) -> tuple[sqlite3.Connection, FileState | None]:
    """A connection that reads the database at ``p`` creating nothing beside it (:func:`read_only_mode`;
    else ``immutable=1``: read-only media, where ``mode=ro`` cannot make the -shm of a -wal left
    there), and, when it reads the file as immutable, the file's state from before it was opened
    (None: SQLite's locks keep each read whole). Raises the last sqlite3.Error.

    SQLite takes no lock on an immutable file and does not look for changes to it: a file changed
    anyway may give wrong results or SQLITE_CORRUPT. A writer changes a WAL database's file only
    by a checkpoint from its -wal, which is there from its first connection until its last closes,
    and a checkpoint writes the file: a read of an immutable connection is therefore trusted only
    when the file's :class:`FileState` after it is the one from before the connection was opened
    (what :meth:`~monitor.delivery.store.Store._read` checks). A change within one tick of the file
    system's clock after the last one before that is missed; a writer's start (a process that opens the database, writes
    its -wal and checkpoints it) takes far longer."""
    before = file_state(p)
    last: sqlite3.Error | None = None
    for flags in dict.fromkeys((read_only_mode(p), "immutable=1")):
        conn = None
        try:
            conn = sqlite3.connect(f"{p.resolve().as_uri()}?{flags}", uri=True, check_same_thread=False,
                                   isolation_level=None, timeout=BUSY_TIMEOUT_S)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA user_version").fetchone()  # mode=ro without the -shm it cannot make fails here
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            last = exc
            continue
        return conn, before if flags == "immutable=1" else None
    assert last is not None
    raise last


def lasting_problem(path: str | os.PathLike[str]) -> str | None:
    """What keeps the database at ``path`` from ever being written, found without creating or
    changing anything: a folder, a file that is no SQLite database or is damaged, one
    :meth:`~monitor.delivery.store.Store.open` refuses (:func:`_refusal`). None for a database not made yet
    or an empty file (SQLite makes one there), a usable one, and one only locked or unreadable now (a
    daemon retries those)."""
    p = Path(path).expanduser()
    if os.path.isdir(p):  # False, not PermissionError, behind a folder this user may not enter
        return a_folder(p)
    try:
        with open(p, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError:
        return None
    if not head:
        return None
    if head != SQLITE_HEADER:
        return f"{p}: not a callmonitor database (not an SQLite file)"
    for _ in range(IMMUTABLE_READS):
        before, flags = file_state(p), read_only_mode(p)
        refused = _refusal_read(p, flags)
        if flags != "immutable=1" or file_state(p) == before:  # else it may have read a torn file: again
            return refused
    return None  # writers at work: nothing lasting said


def making_problem(path: str | os.PathLike[str]) -> str | None:
    """What keeps this user from making the database at ``path``, not there yet, found without
    making it: a file where a folder of its path belongs, or the nearest folder of it that is there
    taking no new file (its permissions, a read-only filesystem, a file system that takes none
    whatever its permissions say: :func:`~monitor.files.cannot_make_in`, which leaves nothing there).
    None when something is at ``path`` already (:func:`lasting_problem` judges it) or the database
    can be made."""
    p = Path(path).expanduser()
    if os.path.lexists(p):
        return None
    folder = p.absolute().parent
    # os.path's checks: a folder behind one this user may not enter is not seen there (Path's raise)
    there = next(d for d in (folder, *folder.parents) if os.path.exists(d))
    if not os.path.isdir(there):
        return f"{p}: cannot make the database there ({there} is a file, not a folder)"
    if why := cannot_make_in(there):
        return f"{p}: cannot make the database there ({there}: {why})"
    return None


def writing_problem(path: str | os.PathLike[str]) -> str | None:
    """What keeps this user from writing the database file at ``path``, there already, found without
    changing it: the file, or the folder SQLite makes its ``-wal`` and ``-shm`` files in (none there
    yet), taking no write (its permissions, a read-only filesystem, an immutable file), as the system
    answers when asked (:func:`~monitor.files.cannot_open_to_write`, :func:`~monitor.files.cannot_make_in`).
    For a command that writes and ends (``replay``, ``batch``), which cannot wait for that to change
    as a daemon does. None when no file is there (:func:`making_problem` judges that) or it can be
    written."""
    p = Path(path).expanduser()
    if not os.path.isfile(p):
        return None
    if why := cannot_open_to_write(p):
        return f"{p}: cannot write the database ({why})"
    folder = p.resolve().parent
    if not os.path.exists(f"{p.resolve()}-wal") and (why := cannot_make_in(folder)):
        return f"{p}: cannot write the database (its folder {folder}: {why})"
    return None


def never_writable(path: str | os.PathLike[str]) -> str | None:
    """What keeps this user from ever writing the database at ``path``, found before anything is
    written there: what is there already (:func:`lasting_problem`), or a database that cannot be
    made there (:func:`making_problem`) or written (:func:`writing_problem`), a link planted beside it
    (:func:`planted_problem`). The one check of the
    commands that write and end (``replay``, ``batch``) and of ``install-service``, whose daemon
    would store no call; None when the database can be written (or is only locked or unreadable now).
    A database behind a folder this user may not enter is said as every command says it
    (:func:`unreachable`), not as one that cannot be made there: the folder may well hold it."""
    return unreachable(path) or planted_problem(path) or lasting_problem(path) or making_problem(path) \
        or writing_problem(path)


def planted_problem(path: str | os.PathLike[str]) -> str | None:
    """The line for a database at ``path`` (there or not yet) beside which a link or another kind of
    file is where SQLite keeps its log (:func:`~monitor.delivery.sqlite_file.planted_beside`), which
    every opening to write refuses; None when there is none."""
    p = Path(path).expanduser()
    planted = planted_beside(p)
    return None if planted is None else f"{p}: cannot write the database ({planted})"


def _refusal_read(p: Path, flags: str) -> str | None:
    """:func:`_refusal` of the database at ``p`` read with ``flags``, as a line; None also when it is
    locked or unreadable now."""
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?{flags}", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error:
        return None
    try:
        refused = _refusal(conn, p)
    except sqlite3.OperationalError:  # locked or unreadable now
        return None
    except sqlite3.DatabaseError as exc:
        return unusable(p, exc)
    finally:
        conn.close()
    return None if refused is None else str(refused)


def _refusal(conn: sqlite3.Connection, p: Path) -> StoreError | None:
    """Why :meth:`~monitor.delivery.store.Store.open` refuses the database on ``conn`` whatever it retries,
    read without writing: the supervisor console's, a newer callmonitor's, another program's tables, a
    callmonitor database missing tables. None when it can use it (or make it there)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if (console := _console_database(conn, p)) is not None:
        return console
    if version > SCHEMA_VERSION:
        return _too_new(p, version)
    problem = _tables_problem(p, version, tables)
    return None if problem is None else StoreError(problem)


def _tables_problem(p: Path, version: int, tables: set[str]) -> str | None:
    """The line for a database whose tables are not callmonitor's, said alike by every command
    (one that writes and one that only reads): another program's tables (schema version 0), or a
    callmonitor schema version with tables missing (all of them too: it was one and is damaged).
    None for a whole callmonitor database, and for an SQLite file with no tables and version 0,
    which a writer makes its database in (a reader says :func:`no_tables`)."""
    if version == 0 and tables:
        return f"{p}: not a callmonitor database (it holds other tables: {', '.join(sorted(tables)[:5])})"
    needed = _TABLES | {t for t, since in _TABLES_FROM.items() if version >= since}
    if version >= 1 and not needed <= tables:
        return f"{p}: damaged callmonitor database (missing tables: {', '.join(sorted(needed - tables))})"
    return None

