"""SQLite store: calls, alerts, cue snapshots, transcript and the webhook outbox.

One file in WAL mode with ``synchronous=FULL``: :meth:`Store.add_alert` commits before it
returns, so an alert that any sink has seen survives a SIGKILL or a power cut.  Cue
snapshots and transcript lines are batched and committed at most a second later (or with
the next alert).  The file is created mode 0600 in a directory created 0700, made whole beside
it and put in place: a stop while it is made leaves no database, rather than an empty one.

Thread-safe for one writer thread plus readers: every statement runs under one lock on a
connection opened with ``check_same_thread=False``.  Other processes (``call-monitor
alerts`` while the daemon runs) read concurrently thanks to WAL.

What :class:`Store` stands on is beside it: the schema and its migrations (``store_schema``), what
is wrong with a database file and the line said of it (``store_files``), the records it hands out
and the checks of a damaged row (``store_rows``), and its errors (``store_errors``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..config import StorageConfig
from ..config.urls import redact_url
from ..events import AGENT_RECORDING, AlertClearedEvent, AlertEvent, CuesEvent, Word, WordsEvent
from ..files import bytes_not_utf8, random_hex
from .outcomes import Labelled, Monitored
from .sqlite_file import closed_on_failure, connect_private, empty_log, lock_waits, made_whole
from .store_errors import StoreError
from .store_files import (BUSY_TIMEOUT_S, CONSOLE_APPLICATION_ID, IMMUTABLE_READS, FileState, _console_error,
                          _describe, _not_sqlite, unusable, _open_to_read, _refusal, _tables_problem, a_folder, an_empty_file,
                          file_state, is_bare_sqlite_file, is_empty_file, kept_changing, lock_wait_s, no_database,
                          no_tables, unreachable, wal_beside)
from .store_rows import (DUE_ORDER_SQL, DUE_SQL, LIVE_SOURCE, MEMORY_ID_BASE, Ack, AgentWord, CallRecord, Delivery,
                         StoredAlert, _json, _json_of, _number, _text, _whole, beyond_wait, damaged_row, raised_at)
from .store_schema import SCHEMA_VERSION, _too_new, make_or_upgrade, this_machine

log = logging.getLogger(__name__)

_CUE_FIELDS = frozenset(f.name for f in fields(CuesEvent)) - {"t", "channel", "call_id"}
"""The cue snapshot's measures (its row names its call)."""
_CUE_NUMBERS = frozenset(f.name for f in fields(CuesEvent)
                         if f.name in _CUE_FIELDS and f.type in ("float | None", "int | None"))
"""The cue snapshot's fields that are numbers (or null)."""
SNAPSHOT_EVERY_S: float = StorageConfig.snapshot_every_s
"""How far apart a leg's cue snapshots are kept where no configuration says (``storage.snapshot_every_s``'s default)."""
_CALL_TABLES = ("alert_clears", "alerts", "cue_snapshots", "transcript")
"""The store's own tables besides ``calls`` whose rows are of one call (its ``call_id``)."""
PURGE_STEP_S = 0.2
"""How long one transaction of a purge takes, about (:meth:`Store.purge`): what a writer beside it
(the daemon's live call) waits at most, and how far a second Ctrl-C may have to wait."""
PURGE_FIRST_CALLS, PURGE_MOST_CALLS = 20, 2000
"""How many calls a purge's first transaction deletes, and the most any does: the others as many as
took about :data:`PURGE_STEP_S` and wrote about :data:`PURGE_LOG_BYTES` in the one before, at most
twice as many (the calls of one month may hold much more than those of the month before)."""
PURGE_PAUSE_S = 0.1
"""A purge's pause between two of its transactions, in which a writer waiting for the database gets
it: SQLite's busy wait (another program's) tries again every 100 ms at most, and a thread of this
process waits for the store's lock, which the purge would otherwise take again at once."""
PURGE_LOG_BYTES = 4 * 1024 * 1024
"""About the most one transaction of a purge writes to the write-ahead log, which is checkpointed
into the database (and emptied) after each: the log stays a few MB however much is purged."""
_WORD_UNSENT_SQL = ("UPDATE alert_words SET status = 'unsent' WHERE status = 'pending' AND alert_id = (SELECT alert_id "
                    "FROM deliveries WHERE id = ?) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = "
                    "alert_words.alert_id AND d.status IN ('pending', 'delivered'))")
"""The agent's word waiting on the alert of outbox row ``?`` made unsent, once that row gave up and no
other row of the alert is on its way (the word is posted once its alert was: it never will be)."""


def snapshot_due(last_t: float | None, t: float, every_s: float) -> bool:
    """Whether a leg's cue snapshot at call time ``t`` is kept, its last one kept at ``last_t`` (None:
    none yet): one every ``every_s`` (``storage.snapshot_every_s``), to within a nanosecond, so that
    snapshots on the cue windows' grid, whose steps add up to ``every_s`` give or take a rounding,
    are kept at every ``every_s``."""
    return last_t is None or t - last_t >= every_s - 1e-9


def words_kept(words: WordsEvent) -> bool:
    """Whether the database keeps ``words``: a recognizer's final result that has words (a partial one,
    or a final one that heard none, is not kept)."""
    return bool(words.final and (words.text or words.words))


def _agent_file_of(summary: str | None) -> dict[str, Any]:
    """Of a call's stored summary (JSON text, or NULL), what a call left open keeps when it is closed:
    the agent's file of a call of two files (:data:`AGENT_RECORDING`), kept from its start; {} for none
    (or a summary no release writes: the close replaces it as before)."""
    try:
        kept = json.loads(summary) if summary else {}
    except ValueError:
        return {}
    agent_file = kept.get(AGENT_RECORDING) if isinstance(kept, dict) else None
    return {AGENT_RECORDING: agent_file} if isinstance(agent_file, str) else {}


FREE_SAID_BYTES = 64 * 1024 * 1024
"""Free space inside a database file from this much on is said after a purge (:func:`free_inside`)."""


def free_inside(store: "Store") -> str:
    """What a purge's line adds of the space its deletions left free inside the database file
    (SQLite reuses it for new rows, the file never shrinks by itself): from
    :data:`FREE_SAID_BYTES` on, how much and how to give it back; "" below it, or unread."""
    try:
        free = store.free_bytes()
    except StoreError:
        return ""
    if free < FREE_SAID_BYTES:
        return ""
    return (f"; {free / 1e6:.0f} MB of the database file are free inside it, for new calls: `sqlite3 "
            f"{store.path} VACUUM` gives them back to the disk while no daemon runs (it needs free disk "
            "the size of the database)")


class Store:
    """Use :meth:`open`; close with :meth:`close` or a ``with`` block."""

    COMMIT_EVERY_S = 1.0
    """Longest delay before batched cue snapshots and transcript lines are committed."""

    def __init__(self, conn: sqlite3.Connection, path: Path, snapshot_every_s: float,
                 clock: Callable[[], float]) -> None:
        self._conn = conn
        self.path = path
        self.snapshot_every_s = snapshot_every_s
        self._clock = clock
        self._lock = threading.RLock()
        self._last_commit = time.monotonic()
        self._last_snapshot: dict[tuple[int, str], float] = {}
        self._read_state: FileState | None = None
        self._posted_columns: str | None = None  # how :attr:`_delivery_select` reads ``posted_id``, ``posted_by``
        self._has_acks: bool | None = None  # whether table ``alert_acks`` is there (read as it is: maybe not), once known
        self._waits = True  # whether a statement waits the busy timeout for another program's lock (:meth:`wait_for_locks`)
        """A connection reading the file as immutable: the file's state from before it was opened
        (see :func:`_open_to_read`); None for any other."""

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, snapshot_every_s: float = SNAPSHOT_EVERY_S,
             clock: Callable[[], float] = time.time) -> "Store":
        """The database at ``path`` to write, made there when there is none (or only an empty file):
        made whole in a file beside it and put in place (:func:`made_whole`), so a stop or a failure
        while it is made leaves nothing there, never a file with no tables; one of an older release
        is upgraded in place. Raises StoreError."""
        p = Path(path).expanduser()
        if (why := unreachable(p)) is not None:
            raise StoreError(why)
        if p.is_dir():
            raise StoreError(a_folder(p))
        try:
            made_whole(p, lambda new: make_or_upgrade(new, p, 0))
            conn = connect_private(p, BUSY_TIMEOUT_S)
        except PermissionError:
            raise StoreError(f"{p}: cannot create or write the database (permission denied)") \
                from None
        except OSError as exc:
            raise StoreError(f"{p}: cannot open the database ({exc.strerror or exc})") from None
        except sqlite3.Error as exc:
            raise StoreError(f"{p}: cannot open the database ({exc})") from None
        try:
            with closed_on_failure(conn):
                cls._prepare(conn, p)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{p}: cannot open the database: {_describe(exc, p)}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(unusable(p, exc)) from None
        return cls(conn, p, snapshot_every_s, clock)

    @classmethod
    def open_to_read(cls, path: str | os.PathLike[str], *, snapshot_every_s: float = SNAPSHOT_EVERY_S) -> "Store":
        """An existing database for a command that only reads it (a report): opened as by
        :meth:`open` (an older one upgraded in place) when it and its folder can be written, else
        read as it is (:meth:`open_readonly`: a read-only copy, folder or filesystem, another
        user's database). The folder is the real file's, a symlink's resolved: SQLite writes the
        journal and -wal beside the file a link points to. An empty file is no database to read
        (:meth:`open` would make one in it), nor is an SQLite file with no tables
        (:func:`is_bare_sqlite_file`): both are refused as :meth:`open_readonly` refuses them, left
        as they were, and one behind a folder this user may not enter is refused by :meth:`open_readonly`.
        Raises StoreError."""
        p = Path(path).expanduser()
        if (os.path.isfile(p) and not is_empty_file(p) and not is_bare_sqlite_file(p) and os.access(p, os.W_OK)
                and os.access(p.resolve().parent, os.W_OK | os.X_OK)):
            return cls.open(p, snapshot_every_s=snapshot_every_s)
        return cls.open_readonly(p, snapshot_every_s=snapshot_every_s)

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str], *, snapshot_every_s: float = SNAPSHOT_EVERY_S) -> "Store":
        """Open an existing database for reading only: nothing is created or changed, and a
        database on a read-only filesystem is read as it is. Raises StoreError."""
        p = Path(path).expanduser()
        if (why := unreachable(p)) is not None:
            raise StoreError(why)
        if not p.exists():
            raise StoreError(no_database(p))
        if p.is_dir():
            raise StoreError(a_folder(p))
        if not os.access(p, os.R_OK):
            raise StoreError(f"{p}: cannot read the database (permission denied)")
        if _not_sqlite(p):  # a recording or a text file given as --db: no database, rather than a damaged one
            raise StoreError(f"{p}: not a callmonitor database (file is not a database)")
        try:
            conn, state = _open_to_read(p)
        except sqlite3.Error as exc:
            raise StoreError(f"{p}: cannot read the database: {_describe(exc, p)}") from None
        store = cls(conn, p, snapshot_every_s, time.time)
        store._read_state = state
        try:
            store._check_readable()
        except StoreError:
            store.close()
            raise
        return store

    def _check_readable(self) -> None:
        """Raise the StoreError of a database :meth:`open_readonly` does not read: the supervisor
        console's, a newer callmonitor's, not a callmonitor database."""
        version = self._read("PRAGMA user_version")[0][0]
        application = self._read("PRAGMA application_id")[0][0]
        tables = {r[0] for r in self._read("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if application == CONSOLE_APPLICATION_ID:
            raise _console_error(self.path)
        if version > SCHEMA_VERSION:
            raise _too_new(self.path, version)
        if (problem := _tables_problem(self.path, version, tables)) is not None:
            raise StoreError(problem)
        if version == 0:  # no tables: nothing written into it yet
            raise StoreError(an_empty_file(self.path) if is_empty_file(self.path) else no_tables(self.path))

    @staticmethod
    def _prepare(conn: sqlite3.Connection, p: Path) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if (refused := _refusal(conn, p)) is not None:
            raise refused
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{p}: cannot switch the database to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        make_or_upgrade(conn, p, version)
        conn.execute("PRAGMA foreign_keys = ON")  # after make_or_upgrade, whose _keep_ids drops tables others reference

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            try:
                self._commit()
            finally:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")

    def _commit(self) -> None:
        if self._conn is None:
            raise StoreError(f"{self.path}: the database is closed")
        if self._conn.in_transaction:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise self._failed(exc) from None
        self._last_commit = time.monotonic()

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        """The error of a statement of this store's connection that failed with ``exc``: a lock said
        with the wait the connection gave it then (:func:`lock_wait_s`: none while the store guard
        knows the database fails, where only its attempt that found it failing waited)."""
        return StoreError(f"{self.path}: {_describe(exc, self.path, lock_wait_s(self._conn))}")

    def _rollback(self) -> None:
        try:
            if self._conn is not None and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _write(self, sql: str, args: tuple[Any, ...], *, commit: bool) -> int:
        with self._lock:
            if self._conn is None:
                raise StoreError(f"{self.path}: the database is closed")
            try:
                self._begin()
                cur = self._conn.execute(sql, args)
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"{self.path}: {exc}") from None
            except sqlite3.Error as exc:  # full, locked past the busy timeout, damaged, gone
                self._rollback()
                raise self._failed(exc) from None
            if commit or time.monotonic() - self._last_commit >= self.COMMIT_EVERY_S:
                self._commit()
            return int(cur.lastrowid or 0)

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """The rows of ``sql``; on a connection reading the file as immutable, made again on a
        fresh connection when the file changed since it was opened (:func:`_open_to_read`), since
        what it read may be stale or torn."""
        with self._lock:
            if self._conn is None:
                raise StoreError(f"{self.path}: the database is closed")
            for _ in range(IMMUTABLE_READS):
                try:
                    rows, failure = self._conn.execute(sql, args).fetchall(), None
                except sqlite3.Error as exc:
                    rows, failure = [], exc
                if self._read_state is None or file_state(self.path) == self._read_state:
                    break
                self._reopen_to_read()
            else:
                raise StoreError(kept_changing(self.path))
            if failure is not None:
                raise self._failed(failure) from None
            return rows

    def _reopen_to_read(self) -> None:
        """A fresh connection as :meth:`open_readonly` makes one, in place of one whose file changed."""
        self._conn.close()
        try:
            self._conn, self._read_state = _open_to_read(self.path)
        except sqlite3.Error as exc:
            self._conn = None  # type: ignore[assignment]
            raise StoreError(f"{self.path}: cannot read the database: {_describe(exc, self.path)}") from None

    def wait_for_locks(self, waits: bool) -> None:
        """Whether a statement waits up to the busy timeout (``BUSY_TIMEOUT_S``) for a lock another
        program holds, as it does from the opening on, or fails at once: a database known to fail is
        tried again without waiting (:class:`~monitor.delivery.store_guard.StoreGuard`), so that the
        pipeline's thread, which writes, is not held up at each attempt while another program keeps
        the database locked."""
        with self._lock:
            if self._conn is None or waits == self._waits:
                return
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000) if waits else 0}")
            self._waits = waits

    def flush(self) -> None:
        """Commit batched cue snapshots and transcript lines now."""
        with self._lock:
            self._commit()

    def commit_due(self) -> None:
        """Commit batched cue snapshots and transcript lines once :attr:`COMMIT_EVERY_S` passed since
        the last commit, with no later write to take them: a write batched just after a commit (the
        call's first snapshot beside its row) held the database's write lock, and stayed out of a
        crash's reach, until the next write, a snapshot interval later. The pipeline asks it of
        each chunk."""
        with self._lock:
            if (self._conn is not None and self._conn.in_transaction
                    and time.monotonic() - self._last_commit >= self.COMMIT_EVERY_S):
                self._commit()

    # ------------------------------------------------------------------ calls

    def start_call(self, source: str, started_at: float | None = None,
                   channels: Mapping[str, int] | None = None, agent: str | None = None,
                   agent_file: str | None = None) -> int:
        """A new call from ``source``; ``channels``: the recording's channel of each leg, or a live
        call's legs (see :attr:`CallRecord.channels`); ``agent``: a live call's agent; ``agent_file``:
        the agent's leg's own recording of a call of two files, kept in its summary from the start
        (:attr:`CallRecord.agent_file`: an alert's post names it while the call runs)."""
        at = self._clock() if started_at is None else started_at
        begun = None if agent_file is None else _json({AGENT_RECORDING: agent_file})
        return self._write("INSERT INTO calls (started_at, source, channels, agent, summary) VALUES (?, ?, ?, ?, ?)",
                           (at, str(source), None if channels is None else _json(dict(channels)), agent, begun),
                           commit=True)

    def end_call(self, call_id: int, duration_s: float, summary: Any = None,
                 ended_at: float | None = None) -> None:
        at = self._clock() if ended_at is None else ended_at
        with self._lock:  # its snapshots' pace is no longer needed (a daemon runs through thousands of calls)
            for key in [k for k in self._last_snapshot if k[0] == call_id]:
                del self._last_snapshot[key]
        self._write("UPDATE calls SET ended_at = ?, duration_s = ?, summary = ? WHERE id = ?",
                    (at, round(float(duration_s), 3), None if summary is None else _json(summary),
                     call_id), commit=True)

    def set_baseline(self, call_id: int, baseline: Any) -> None:
        self._write("UPDATE calls SET baseline = ? WHERE id = ?", (_json(baseline), call_id),
                    commit=True)

    def get_call(self, call_id: int) -> CallRecord | None:
        rows = self._read("SELECT * FROM calls WHERE id = ?", (call_id,))
        return self._call(rows[0]) if rows else None

    def existing_calls(self, call_ids: Iterable[int]) -> set[int]:
        """Those of ``call_ids`` the database still holds: a purge (this process's or another's)
        deleted the others."""
        ids = tuple(sorted(set(call_ids)))
        if not ids:
            return set()
        return {int(r[0]) for r in self._read(f"SELECT id FROM calls WHERE id IN ({', '.join('?' * len(ids))})", ids)}

    def list_calls(self, limit: int | None = None) -> list[CallRecord]:
        sql = "SELECT * FROM calls ORDER BY id DESC"
        rows = self._read(sql + " LIMIT ?", (limit,)) if limit else self._read(sql)
        return [self._call(r) for r in rows]

    def monitored_calls(self, since: float | None, until: float | None, call_id: int | None = None) -> list[Monitored]:
        """The live calls started from ``since`` on and before ``until`` (unix seconds, None: no bound;
        of ``call_id`` alone where given), each with its agent and duration (None: still open), as the
        agents' words are summed up with them (:mod:`.outcomes`)."""
        where: list[str] = ["source LIKE ?"]
        args: list[object] = [LIVE_SOURCE + "%"]
        for column, test, value in (("started_at", ">=", since), ("started_at", "<", until), ("id", "=", call_id)):
            if value is not None:
                where.append(f"{column} {test} ?")
                args.append(value)
        rows = self._read(f"SELECT id, {self._agent_column()}, duration_s FROM calls WHERE {' AND '.join(where)} "
                          "ORDER BY id", tuple(args))
        return [Monitored(self._agent(r[0], r[1]), _number(self.path, f"call {r[0]}", "duration_s", r[2], null=True),
                          r[0]) for r in rows]

    def labelled(self, since: float | None, until: float | None,
                 call_id: int | None = None) -> tuple[list[Labelled], int]:
        """The alerts of live calls raised from ``since`` on and before ``until`` (unix seconds, None: no
        bound; of call ``call_id`` alone where given) with the agents' words on them, as the outcome
        summary reads them (:mod:`.outcomes`), and how many alerts of other calls (replayed) the period
        held besides. Their calls are read a statement per 500, not one each."""
        stored = self.list_alerts(since=since, call_id=call_id, until=until)
        words = self.words_of([a.alert_id for a in stored])
        agents = self._live_agents({a.event.call_id for a in stored if a.event.call_id is not None})
        alerts = [Labelled(agents[a.event.call_id], a.event.kind, a.event.severity, w.word if w else None,
                           w.note if w else "", a.event.call_id)
                  for a in stored if a.event.call_id in agents for w in [words.get(a.alert_id)]]
        return alerts, len(stored) - len(alerts)

    def _live_agents(self, call_ids: set[int]) -> dict[int, str | None]:
        """The live calls among ``call_ids``, each with its agent (None: not kept), by id."""
        ids = sorted(call_ids)
        out: dict[int, str | None] = {}
        for i in range(0, len(ids), 500):
            part = tuple(ids[i:i + 500])
            rows = self._read(f"SELECT id, {self._agent_column()} FROM calls WHERE source LIKE ? AND id IN "
                              f"({','.join('?' * len(part))})", (LIVE_SOURCE + "%", *part))
            out.update((r[0], self._agent(r[0], r[1])) for r in rows)
        return out

    def _agent_column(self) -> str:
        """``agent``, what a live call's agent is read from; ``NULL`` in a database read as it is from
        before the calls kept it (schema version 3 and earlier: :meth:`open_readonly` migrates nothing)."""
        columns = {r[1] for r in self._read("PRAGMA table_info(calls)")}
        return "agent" if "agent" in columns else "NULL"

    def _agent(self, call: int, value: object) -> str | None:
        """A call's ``agent`` as read: its text, or None where it kept none."""
        return None if value is None else _text(self.path, f"call {call}", "agent", value)

    def _call(self, r: sqlite3.Row) -> CallRecord:
        """A ``calls`` row; :func:`damaged_row` for one holding what no release writes."""
        p, row = self.path, f"call {r[0]}"
        # a version 2 database read as it is (open_readonly migrates nothing) has no channels column
        return CallRecord(id=r[0], started_at=_number(p, row, "started_at", r[1]), source=_text(p, row, "source", r[2]),
                          ended_at=_number(p, row, "ended_at", r[3], null=True),
                          duration_s=_number(p, row, "duration_s", r[4], null=True),
                          baseline=_json_of(p, row, "baseline", r[5], dict, null=True),
                          summary=_json_of(p, row, "summary", r[6], dict, null=True),
                          channels=_json_of(p, row, "channels", r[7], dict, null=True) if len(r) > 7 else None,
                          agent=r[8] if len(r) > 8 else None)

    # ------------------------------------------------------------------ alerts

    def add_alert(self, call_id: int, alert: AlertEvent, created_at: float | None = None) -> AlertEvent:
        """Store and commit ``alert``, raised at ``created_at`` (unix time; default now: one written
        late, held while the database failed, keeps its own), kept as :func:`raised_at` of it and of
        the call's start; returns it with ``alert_id`` and ``call_id`` set."""
        when = raised_at(self._started_at(call_id), float(alert.t), self._clock() if created_at is None else created_at)
        alert_id = self._write(
            "INSERT INTO alerts (call_id, t, kind, severity, message, evidence, actions, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (call_id, float(alert.t), alert.kind, alert.severity, alert.message,
             _json(dict(alert.evidence)), _json(list(alert.actions)), when),
            commit=True)
        return AlertEvent(t=alert.t, kind=alert.kind, severity=alert.severity,
                          message=alert.message, evidence=alert.evidence, actions=alert.actions,
                          call_id=call_id, alert_id=alert_id)

    def _started_at(self, call_id: int) -> float | None:
        """When call ``call_id`` started, None when the database has no such call or its start is no
        number (a damaged row: its alert is stored all the same, at the time it was raised)."""
        started = self._read("SELECT started_at FROM calls WHERE id = ?", (call_id,))
        value = started[0][0] if started else None
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def add_clear(self, call_id: int, cleared: AlertClearedEvent, created_at: float | None = None) -> int:
        """Store and commit ``cleared``, at ``created_at`` as :meth:`add_alert` does."""
        rows = self._read("SELECT id FROM alerts WHERE call_id = ? AND kind = ? "
                          "ORDER BY id DESC LIMIT 1", (call_id, cleared.kind))
        return self._write("INSERT INTO alert_clears (call_id, t, kind, alert_id, created_at, reason) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (call_id, float(cleared.t), cleared.kind, rows[0][0] if rows else None,
                            self._clock() if created_at is None else created_at, cleared.reason), commit=True)

    def list_alerts(self, since: float | None = None, call_id: int | None = None,
                    until: float | None = None) -> list[StoredAlert]:
        """Alerts in commit order; ``since`` and ``until`` are unix times compared with ``created_at``
        (from ``since`` on, before ``until``)."""
        where, args = [], []
        if since is not None:
            where.append("created_at >= ?")
            args.append(float(since))
        if until is not None:
            where.append("created_at < ?")
            args.append(float(until))
        if call_id is not None:
            where.append("call_id = ?")
            args.append(call_id)
        sql = "SELECT * FROM alerts" + (" WHERE " + " AND ".join(where) if where else "")
        return [StoredAlert(self._alert(r), _number(self.path, f"alert {r[0]}", "created_at", r[8]))
                for r in self._read(sql + " ORDER BY id", tuple(args))]

    def latest_alerts(self, since: float, limit: int, source_prefix: str = LIVE_SOURCE) -> list[StoredAlert]:
        """The last ``limit`` alerts raised since ``since`` (unix seconds, compared with
        ``created_at``) in the calls of ``source_prefix`` (the live daemon's), oldest first."""
        rows = self._read("SELECT a.* FROM alerts a JOIN calls c ON c.id = a.call_id WHERE a.created_at >= ? "
                          "AND c.source LIKE ? ORDER BY a.id DESC LIMIT ?",
                          (float(since), source_prefix + "%", max(0, int(limit))))
        return [StoredAlert(self._alert(r), _number(self.path, f"alert {r[0]}", "created_at", r[8]))
                for r in reversed(rows)]

    def list_clears(self, call_id: int) -> list[AlertClearedEvent]:
        rows = self._read("SELECT t, kind, reason FROM alert_clears WHERE call_id = ? ORDER BY id",
                          (call_id,))
        return [AlertClearedEvent(t=r[0], kind=r[1], call_id=call_id, reason=r[2]) for r in rows]

    def _alert(self, r: sqlite3.Row | tuple[Any, ...]) -> AlertEvent:
        """An ``alerts`` row as the event; :func:`damaged_row` for one holding what no release writes."""
        p, row = self.path, f"alert {r[0]}"
        return AlertEvent(t=_number(p, row, "t", r[2]), kind=_text(p, row, "kind", r[3]),
                          severity=_text(p, row, "severity", r[4]), message=_text(p, row, "message", r[5]),
                          evidence=_json_of(p, row, "evidence", r[6], dict),
                          actions=tuple(_json_of(p, row, "actions", r[7], list)), call_id=r[1], alert_id=r[0])

    # ------------------------------------------------------------------ cues and words

    def add_cues(self, call_id: int, cues: CuesEvent) -> bool:
        """Keep one snapshot per channel every ``snapshot_every_s``; True if this one was kept."""
        key = (call_id, cues.channel)
        with self._lock:
            if not snapshot_due(self._last_snapshot.get(key), cues.t, self.snapshot_every_s):
                return False
            self._last_snapshot[key] = cues.t
            self._write("INSERT INTO cue_snapshots (call_id, channel, t, cues) VALUES (?,?,?,?)",
                        (call_id, cues.channel, float(cues.t),
                         _json({k: v for k, v in cues.to_dict().items() if k != "call_id"})), commit=False)
            return True

    def cue_snapshots(self, call_id: int, channel: str | None = None) -> list[CuesEvent]:
        sql = "SELECT id, cues FROM cue_snapshots WHERE call_id = ?"
        args: tuple[Any, ...] = (call_id,)
        if channel is not None:
            sql += " AND channel = ?"
            args += (channel,)
        return [self._cues(f"cue snapshot {i}", text, call_id)
                for i, text in self._read(sql + " ORDER BY t, id", args)]

    def _cues(self, row: str, text: Any, call_id: int) -> CuesEvent:
        """A cue snapshot's JSON as the event; :func:`damaged_row` for one no release writes."""
        d = _json_of(self.path, row, "cues", text, dict)
        short = d.get("short", {})
        if not isinstance(short, dict):
            raise damaged_row(self.path, row, "cues' short is not a JSON object")
        numbers = [("t", d.get("t")), *((k, d[k]) for k in _CUE_NUMBERS if d.get(k) is not None),
                   *((f"short {k}", v) for k, v in short.items() if v is not None)]
        for name, value in numbers:
            _number(self.path, row, f"cues' {name}", value)
        return CuesEvent(t=d["t"], channel=_text(self.path, row, "cues' channel", d.get("channel")),
                         call_id=call_id, **{k: v for k, v in d.items() if k in _CUE_FIELDS})

    def add_words(self, call_id: int, words: WordsEvent) -> bool:
        """Store a final recognition result (partials are ignored); True if stored."""
        if not words_kept(words):
            return False
        start = min((w.start for w in words.words), default=None)
        end = max((w.end for w in words.words), default=None)
        self._write('INSERT INTO transcript (call_id, channel, t, start, "end", text, words) '
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (call_id, words.channel, float(words.t), start, end, words.text,
                     _json([w.to_dict() for w in words.words])), commit=False)
        return True

    def transcript(self, call_id: int) -> list[WordsEvent]:
        rows = self._read('SELECT id, channel, t, text, words FROM transcript WHERE call_id = ? '
                          "ORDER BY COALESCE(start, t), id", (call_id,))
        return [self._line(r, call_id) for r in rows]

    def _line(self, r: sqlite3.Row, call_id: int) -> WordsEvent:
        """A ``transcript`` row (id, channel, t, text, words) as the event; :func:`damaged_row` for
        one no release writes."""
        p, row = self.path, f"transcript line {r[0]}"
        words = _json_of(p, row, "words", r[4], list)
        try:
            parsed = tuple(Word(_text(p, row, "a word", w["word"]), *(float(w[k]) for k in ("start", "end", "conf")))
                           for w in words)
        except (KeyError, TypeError, ValueError):
            raise damaged_row(p, row, "words is not a JSON list of words (word, start, end, conf)") from None
        return WordsEvent(t=_number(p, row, "t", r[2]), channel=_text(p, row, "channel", r[1]), final=True,
                          text=_text(p, row, "text", r[3]), words=parsed, call_id=call_id)

    # ------------------------------------------------------------------ webhook outbox

    def enqueue_delivery(self, alert_id: int, target: str, next_attempt_at: float | None = None,
                         posted_id: int | None = None) -> int:
        """Queue ``alert_id`` for ``target`` (idempotent: one row per alert and target), posted under
        ``posted_id`` when given (:attr:`Delivery.posted_id`; a row that has one keeps it). An agent's
        word kept on it unsent (said before the row was written: an alert the database wrote late) is
        to post from then on."""
        at = self._clock() if next_attempt_at is None else next_attempt_at
        posted = None if posted_id == alert_id else posted_id
        with self._lock:
            self._write("INSERT INTO deliveries (alert_id, target, next_attempt_at, created_at, posted_id) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (alert_id, target) DO UPDATE SET "
                        "posted_id = COALESCE(deliveries.posted_id, excluded.posted_id)",
                        (alert_id, target, at, self._clock(), posted), commit=False)
            self._write("UPDATE alert_words SET status = 'pending', next_attempt_at = ?1 WHERE alert_id = ?2 AND "
                        "status = 'unsent' AND EXISTS (SELECT 1 FROM deliveries WHERE alert_id = ?2 AND status IN "
                        "('pending', 'delivered'))", (self._clock(), alert_id), commit=True)
            return int(self._read("SELECT id FROM deliveries WHERE alert_id = ? AND target = ?",
                                  (alert_id, target))[0][0])

    @property
    def _delivery_select(self) -> str:
        """The outbox rows with their alerts; ``posted_id`` NULL in a database read as it is from
        before schema version 4, ``posted_by`` in one from before it came (:meth:`open_readonly`
        migrates nothing)."""
        if self._posted_columns is None:
            columns = {r[1] for r in self._read("PRAGMA table_info(deliveries)")}
            self._posted_columns = ", ".join(f"d.{c}" if c in columns else "NULL" for c in ("posted_id", "posted_by"))
        return ("SELECT d.id, d.alert_id, d.target, d.status, d.attempts, d.next_attempt_at, d.last_error, "
                f"d.delivered_at, {self._posted_columns}, a.* FROM deliveries d JOIN alerts a ON a.id = d.alert_id")

    def due_deliveries(self, now: float | None = None, limit: int = 100, target: str | None = None,
                       damaged: Callable[[int, StoreError], None] | None = None,
                       longest_wait_s: float | None = None) -> list[Delivery]:
        """Pending deliveries whose next attempt is due (for ``target`` only, if given), the critical
        alerts' first (a receiver pacing the outbox, the console's limit, posts them next), then oldest first.
        With ``longest_wait_s`` (the longest wait its sender sets), a row due further ahead than that is
        due now, as :func:`is_due` says: the wall clock has stepped back since its time was set.
        A row holding what no release writes (its own or its alert's: :func:`damaged_row`) raises
        that error, or with ``damaged`` is left out and given to it (the row's id and the error)."""
        now = self._clock() if now is None else now
        where = "d.status = 'pending' AND d.next_attempt_at <= ?"
        args: list[float | str] = [now]
        if longest_wait_s is not None:
            where, args = f"d.status = 'pending' AND {DUE_SQL}", [now, beyond_wait(now, longest_wait_s)]
        if target is not None:
            where += " AND d.target = ?"
            args.append(target)
        rows = self._read(f"{self._delivery_select} WHERE {where} ORDER BY {DUE_ORDER_SQL} LIMIT ?",
                          (*args, limit))
        due = []
        for r in rows:
            try:
                due.append(self._delivery(r))
            except StoreError as err:
                if damaged is None:
                    raise
                damaged(r[0], err)
        return due

    def count_pending(self, target: str) -> int:
        """How many deliveries to ``target`` wait, due or not (their rows not read: one holding what
        no release writes counts until it is marked failed)."""
        return int(self._read("SELECT COUNT(*) FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
                              "WHERE d.status = 'pending' AND d.target = ?", (target,))[0][0])

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        """Every delivery (or those with ``status``), in order."""
        rows = (self._read(self._delivery_select + " WHERE d.status = ? ORDER BY d.id", (status,)) if status
                else self._read(self._delivery_select + " ORDER BY d.id"))
        return [self._delivery(r) for r in rows]

    def deliveries_of(self, alert_ids: Sequence[int]) -> dict[int, list[Delivery]]:
        """The outbox rows of ``alert_ids`` (an alert queued for two URLs has two), by alert id;
        an alert never queued (no webhook then) has none."""
        out: dict[int, list[Delivery]] = {}
        ids = list(alert_ids)
        for i in range(0, len(ids), 500):  # SQLite's limit on the variables of one statement
            part = ids[i:i + 500]
            rows = self._read(f"{self._delivery_select} WHERE d.alert_id IN ({','.join('?' * len(part))}) "
                              "ORDER BY d.id", tuple(part))
            for r in rows:
                d = self._delivery(r)
                out.setdefault(d.alert_id, []).append(d)
        return out

    def mark_delivered(self, delivery_id: int, posted_by: str | None = None) -> None:
        """Record the post that delivered the row, made under the daemon id ``posted_by``
        (:attr:`Delivery.posted_by`)."""
        self._write("UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, "
                    "delivered_at = ?, last_error = NULL, posted_by = ? WHERE id = ?",
                    (self._clock(), posted_by, delivery_id), commit=True)

    def mark_failed(self, delivery_id: int, next_attempt_at: float | None, error: str, tries: int = 1) -> None:
        """Record ``tries`` failed attempts (more than one: made from memory before the row was
        written); retry at ``next_attempt_at``, or give up when it is None."""
        if next_attempt_at is None:
            with self._lock:
                self._write("UPDATE deliveries SET status = 'failed', attempts = attempts + ?, "
                            "last_error = ? WHERE id = ?", (tries, error, delivery_id), commit=False)
                self._write(_WORD_UNSENT_SQL, (delivery_id,), commit=True)
        else:
            self._write("UPDATE deliveries SET attempts = attempts + ?, next_attempt_at = ?, "
                        "last_error = ? WHERE id = ?", (tries, next_attempt_at, error, delivery_id),
                        commit=True)

    def reschedule_pending(self, target: str, at: float) -> None:
        """Make every pending delivery to ``target`` due at ``at`` (the endpoint is back)."""
        self._write("UPDATE deliveries SET next_attempt_at = ? WHERE status = 'pending' AND target = ? "
                    "AND next_attempt_at > ?", (at, target, at), commit=True)

    def retarget_pending(self, target: str, now: float | None = None) -> int:
        """Every pending delivery to another target goes to ``target`` instead, due at ``now`` with
        its attempts counted anew (the webhook URL changed: the same alerts for the same
        supervisor); returns how many. An alert that has a row for ``target`` already keeps that one
        (pending again if it had given up, and posted under the other row's :attr:`Delivery.posted_id`
        if it has none) and its row for the other target is closed as failed."""
        at = self._clock() if now is None else now
        with self._lock:
            n = int(self._read("SELECT COUNT(*) FROM deliveries WHERE status = 'pending' AND target != ?",
                               (target,))[0][0])
            if not n:
                return 0
            moving = "deliveries WHERE status = 'pending' AND target != ?1 AND posted_id IS NOT NULL"
            self._write(f"UPDATE deliveries AS d SET posted_id = (SELECT posted_id FROM {moving} AND alert_id = "
                        f"d.alert_id) WHERE target = ?1 AND posted_id IS NULL AND alert_id IN (SELECT alert_id FROM "
                        f"{moving})", (target,), commit=False)
            self._write("UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ? "
                        "WHERE target = ? AND status = 'failed' AND alert_id IN (SELECT alert_id FROM "
                        "deliveries WHERE status = 'pending' AND target != ?)", (at, target, target), commit=False)
            self._write("UPDATE OR IGNORE deliveries SET target = ?, attempts = 0, next_attempt_at = ?, "
                        "last_error = NULL WHERE status = 'pending' AND target != ?", (target, at, target),
                        commit=False)
            self._write("UPDATE deliveries SET status = 'failed', last_error = ? WHERE status = 'pending' "
                        "AND target != ?", (f"delivered to {redact_url(target)} instead", target), commit=True)
        return n

    def _delivery(self, r: sqlite3.Row) -> Delivery:
        """An outbox row with its alert; :func:`damaged_row` for one holding what no release writes."""
        p, row = self.path, f"outbox row {r[0]}"
        return Delivery(id=r[0], alert_id=r[1], target=r[2], status=r[3],
                        attempts=int(_number(p, row, "attempts", r[4])),
                        next_attempt_at=_number(p, row, "next_attempt_at", r[5]), last_error=r[6],
                        delivered_at=_number(p, row, "delivered_at", r[7], null=True),
                        posted_id=_whole(p, row, "posted_id", r[8]), posted_by=r[9] if isinstance(r[9], str) else None,
                        raised_at=_number(p, f"alert {r[10]}", "created_at", r[18], null=True),
                        alert=self._alert(r[10:]))

    # ------------------------------------------------------------------ acknowledgements

    def add_ack(self, alert_id: int, call_id: int | None, by: str, acked_at: float) -> bool:
        """Keep a supervisor's acknowledgement of the alert the console knows as ``alert_id`` of call
        ``call_id`` (the alert's own id, or the :attr:`Delivery.posted_id` it was posted under from
        memory: it is read back through either, :meth:`acks_of`, even when its outbox row is written
        later); the first one stands. Only an alert this database holds is acknowledged
        (:meth:`_holds_alert`): one of a call purged since (what is purged is gone), of another call,
        or never raised here is left out, in a debug line. True when kept, False when left out or
        when the alert had one already."""
        with self._lock:
            if not self._holds_alert(alert_id, call_id):
                log.debug("the acknowledgement by %r of alert %s of call %s is left out: the database holds no "
                          "such alert (of a call purged since, or none this daemon raised)", by, alert_id, call_id)
                return False
            if self._read("SELECT 1 FROM alert_acks WHERE alert_id = ?", (alert_id,)):
                return False
            self._write("INSERT INTO alert_acks (alert_id, acked_by, acked_at, taken_at) VALUES (?, ?, ?, ?)",
                        (alert_id, by, float(acked_at), self._clock()), commit=True)
            return True

    def _holds_alert(self, alert_id: int, call_id: int | None) -> bool:
        """Whether the alert the console knows as ``alert_id`` of call ``call_id`` is one this database
        holds: an alert of that id and call, or, for an id posted from memory (:data:`MEMORY_ID_BASE`
        or above), the alert its outbox rows are posted under it, of that call if the post named one.
        Such an id no outbox row is posted under yet counts as held: its row is written once the
        webhook takes the alert from memory, which may be after the acknowledgement comes (and a
        purge deletes the acknowledgement if no row ever is)."""
        if alert_id < MEMORY_ID_BASE:
            rows = self._read("SELECT call_id FROM alerts WHERE id = ?", (alert_id,))
            return bool(rows) and rows[0][0] == call_id
        rows = self._read("SELECT a.call_id FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
                          "WHERE d.posted_id = ? LIMIT 1", (alert_id,))
        return not rows or call_id is None or rows[0][0] == call_id

    def posted_under(self, posted_id: int) -> int | None:
        """The database id of the alert whose outbox rows are posted under ``posted_id`` (an id of its
        own, posted from memory first: :attr:`Delivery.posted_id`), None if none is (a database opened
        to write has the column: :meth:`open` migrates it)."""
        rows = self._read("SELECT alert_id FROM deliveries WHERE posted_id = ? LIMIT 1", (posted_id,))
        return rows[0][0] if rows else None

    def acks_of(self, alert_ids: Sequence[int]) -> dict[int, Ack]:
        """The acknowledgements of ``alert_ids`` (database ids), by alert id, each found by the alert's
        own id or by the id its outbox rows were posted under; none in a database read as it is from
        before schema version 5 (:meth:`open_readonly` migrates nothing)."""
        if self._has_acks is None:
            self._has_acks = bool(self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_acks'"))
        out: dict[int, Ack] = {}
        ids = list(alert_ids)
        for i in range(0, len(ids) if self._has_acks else 0, 250):  # each twice: within SQLite's 999 variables
            part = tuple(ids[i:i + 250])
            marks = ",".join("?" * len(part))
            rows = self._read(
                f"SELECT a.id, k.acked_by, k.acked_at FROM alerts a JOIN alert_acks k ON k.alert_id = a.id "
                f"WHERE a.id IN ({marks}) UNION ALL SELECT d.alert_id, k.acked_by, k.acked_at FROM deliveries d "
                f"JOIN alert_acks k ON k.alert_id = d.posted_id WHERE d.alert_id IN ({marks}) ORDER BY 3",
                part + part)
            for alert_id, by, at in rows:
                row = f"acknowledgement of alert {alert_id}"
                out.setdefault(alert_id, Ack(_text(self.path, row, "acked_by", by),
                                             _number(self.path, row, "acked_at", at)))
        return out

    # ------------------------------------------------------------------ the agent's word

    def alert(self, alert_id: int) -> StoredAlert | None:
        """The stored alert ``alert_id``, None when there is none."""
        rows = self._read("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return StoredAlert(self._alert(rows[0]), _number(self.path, f"alert {alert_id}", "created_at", rows[0][8])) \
            if rows else None

    def latest_alert(self) -> StoredAlert | None:
        """The alert raised last (of the running call, or of the last call that raised one), None when none was."""
        rows = self._read("SELECT MAX(id) FROM alerts")
        return None if rows[0][0] is None else self.alert(int(rows[0][0]))

    def set_word(self, alert_id: int, word: str, note: str, said_at: float,
                 replace: bool = True) -> AgentWord | None:
        """Keep the agent's ``word`` on alert ``alert_id`` (with ``note``, said at ``said_at``), in place of
        the one it had (without ``replace``: none kept where it had one, another process's written
        meanwhile too), to be posted (pending) where the alert is on its way to a webhook or reached it,
        else unsent (never queued for one, or its delivery failed for good: the word would wait for it
        for ever); returns the word it replaces (None: the first), or without ``replace`` the one it kept."""
        with self._lock:
            before = self.words_of([alert_id]).get(alert_id)
            if before is not None and not replace:
                return before
            queued = bool(self._read("SELECT 1 FROM deliveries WHERE alert_id = ? AND status IN ('pending', "
                                     "'delivered') LIMIT 1", (alert_id,)))
            self._write(f"INSERT OR {'REPLACE' if replace else 'IGNORE'} INTO alert_words (alert_id, word, note, "
                        "said_at, status, attempts, next_attempt_at, last_error, delivered_at) "
                        "VALUES (?, ?, ?, ?, ?, 0, ?, NULL, NULL)",
                        (alert_id, word, note, float(said_at), "pending" if queued else "unsent", self._clock()),
                        commit=True)
            if not replace and not self._read("SELECT changes()")[0][0]:
                return self.words_of([alert_id]).get(alert_id)  # another process's, written since it was read
            return before

    def words_of(self, alert_ids: Sequence[int]) -> dict[int, AgentWord]:
        """The agent's words on ``alert_ids``, by alert id; none in a database read as it is from before
        schema version 6 (:meth:`open_readonly` migrates nothing)."""
        if not self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_words'"):
            return {}
        out: dict[int, AgentWord] = {}
        ids = list(alert_ids)
        for i in range(0, len(ids), 500):
            part = tuple(ids[i:i + 500])
            for r in self._read("SELECT alert_id, word, note, said_at, status, attempts, last_error, delivered_at "
                                f"FROM alert_words WHERE alert_id IN ({','.join('?' * len(part))})", part):
                out[r[0]] = self._word(r)
        return out

    def _word(self, r: sqlite3.Row | tuple[Any, ...]) -> AgentWord:
        p, row = self.path, f"agent's word on alert {r[0]}"
        return AgentWord(alert_id=r[0], word=_text(p, row, "word", r[1]), note=_text(p, row, "note", r[2]),
                         said_at=_number(p, row, "said_at", r[3]), status=_text(p, row, "status", r[4]),
                         attempts=int(_number(p, row, "attempts", r[5])), last_error=r[6],
                         delivered_at=_number(p, row, "delivered_at", r[7], null=True))

    def due_words(self, now: float | None = None, longest_wait_s: float | None = None,
                  limit: int = 100) -> list[tuple[AgentWord, Delivery]]:
        """The pending words due to post (as :meth:`due_deliveries` says of a row), each with its alert's
        delivered outbox row (the id the receiver knows the alert by, its call): a word waits for its
        alert to reach the receiver first."""
        now = self._clock() if now is None else now
        due = "w.next_attempt_at <= ?" if longest_wait_s is None else \
            "(w.next_attempt_at <= ? OR w.next_attempt_at > ?)"
        args = (now,) if longest_wait_s is None else (now, beyond_wait(now, longest_wait_s))
        rows = self._read("SELECT * FROM (SELECT w.alert_id, w.word, w.note, w.said_at, w.status, w.attempts, "
                          "w.last_error, w.delivered_at, (SELECT MAX(d.id) FROM deliveries d WHERE d.alert_id = "
                          f"w.alert_id AND d.status = 'delivered') AS sent FROM alert_words w WHERE w.status = "
                          f"'pending' AND {due} ORDER BY w.said_at) WHERE sent IS NOT NULL LIMIT ?", (*args, limit))
        return [(self._word(r), self._delivery(self._read(f"{self._delivery_select} WHERE d.id = ?", (r[8],))[0]))
                for r in rows]

    def mark_word_delivered(self, word: AgentWord) -> None:
        """``word`` reached the receiver (unless the agent said another since: that one is still to post)."""
        self._write("UPDATE alert_words SET status = 'delivered', delivered_at = ?, last_error = NULL "
                    "WHERE alert_id = ? AND said_at = ?", (self._clock(), word.alert_id, word.said_at), commit=True)

    def mark_word_failed(self, word: AgentWord, next_attempt_at: float | None, error: str, tries: int = 1) -> None:
        """A post of ``word`` failed with ``error``, counted as ``tries`` failed attempts (0: a wait the
        receiver asked for, or a post cut short, which are none): tried again at ``next_attempt_at``, or
        given up (None)."""
        status = "failed" if next_attempt_at is None else "pending"
        self._write("UPDATE alert_words SET status = ?, attempts = attempts + ?, next_attempt_at = ?, last_error = ? "
                    "WHERE alert_id = ? AND said_at = ?",
                    (status, tries, next_attempt_at or self._clock(), error, word.alert_id, word.said_at), commit=True)

    # ------------------------------------------------------------------ misc

    def close_interrupted(self, source_prefix: str = LIVE_SOURCE, now: float | None = None,
                          idle_before: float | None = None, but_live: bool = False, *, waits: bool = True) -> list[int]:
        """Close the calls of ``source_prefix`` left open by a crash: ``ended_at`` becomes the last
        thing recorded for the call, the summary ``{"interrupted": true}`` (with the agent's file of a
        call of two files, kept from its start). With ``idle_before``
        (unix seconds), only those whose last record is older (a running call records its cues
        every few seconds); ``but_live``: not the daemon's (it runs: its open call is its own).
        Without ``waits`` it fails at once on another program's lock, as :meth:`purge` does (the
        daemon's start, which the capture does not wait for). Returns their ids."""
        with self._lock, lock_waits(self._conn, waits):
            return self._close_interrupted(source_prefix, idle_before, but_live)

    def _close_interrupted(self, source_prefix: str, idle_before: float | None, but_live: bool) -> list[int]:
        live = " AND source NOT LIKE ?" if but_live else ""
        ids = [r[0] for r in self._read(f"SELECT id FROM calls WHERE ended_at IS NULL AND source LIKE ?{live}",
                                        (source_prefix + "%", *([LIVE_SOURCE + "%"] if but_live else [])))]
        closed = []
        for call_id in ids:
            last = self._read(
                "SELECT MAX(x) FROM (SELECT MAX(created_at) AS x FROM alerts WHERE call_id = ?1 "
                "UNION ALL SELECT MAX(created_at) FROM alert_clears WHERE call_id = ?1 "
                "UNION ALL SELECT started_at + MAX(t) FROM cue_snapshots c JOIN calls k ON k.id = c.call_id "
                "WHERE call_id = ?1 UNION ALL SELECT started_at FROM calls WHERE id = ?1)", (call_id,))[0][0]
            started, begun = self._read("SELECT started_at, summary FROM calls WHERE id = ?", (call_id,))[0]
            ended = float(last if last is not None else started)
            if idle_before is not None and ended >= idle_before:
                continue
            summary = _agent_file_of(begun) | {"interrupted": True}
            self._write("UPDATE calls SET ended_at = ?, duration_s = ?, summary = ? WHERE id = ?",
                        (ended, max(0.0, ended - started), _json(summary), call_id), commit=True)
            closed.append(call_id)
        return closed

    def purge(self, before: float, first: Callable[[list[tuple[int, float, float, str]]], None] | None = None,
              *, waits: bool = True, wait_s: float | None = None, stop: Callable[[], bool] | None = None,
              counts: dict[str, int] | None = None) -> dict[str, int]:
        """Delete the calls that started before ``before`` (unix seconds) with everything they hold;
        returns the rows deleted per table, overwritten in the file (``secure_delete``) and gone from
        its write-ahead log (emptied once they are out of it). Undelivered webhook rows of those calls go too, and the
        supervisors' acknowledgements of their alerts (with those of no alert here, acknowledged
        before ``before``: of an alert posted from memory that was never written).

        The calls go a few at a time, oldest first, each few in a transaction of its own of about
        :data:`PURGE_STEP_S` and :data:`PURGE_LOG_BYTES` (:meth:`_purge_some`), the log checkpointed
        after each and :data:`PURGE_PAUSE_S` between two: a writer waits at most about one of them
        (the daemon's cue snapshots and alerts while a purge of months runs beside it), the log
        stays small, and ``stop`` (asked before each) ends the purge between
        two, what was committed purged. ``counts``, when given, is filled in as each commits (how
        far a purge that failed or was stopped got).
        ``first`` is handed each transaction's calls' (id, started_at, ended_at, source) in it,
        before their rows go (to delete their files while no new call can take their ids). Without
        ``waits`` it fails at once on another program's lock, as it finds it, where it would wait the
        busy timeout (the daemon's purge at its start, which the capture does not wait for), or
        ``wait_s`` where given (``call-monitor purge``, which a daemon's batch of cue snapshots,
        committed with its next write, may hold up for a few seconds)."""
        counts = {} if counts is None else counts
        size = PURGE_FIRST_CALLS
        try:
            while stop is None or not stop():
                began = time.monotonic()
                done, logged = self._purge_some(before, size, first, (waits, wait_s), counts)
                if done < size:
                    break
                took = max(time.monotonic() - began, 1e-3)
                size = max(1, min(PURGE_MOST_CALLS, 2 * size, int(size * PURGE_STEP_S / took),
                                  int(size * PURGE_LOG_BYTES / max(logged, 1))))
                time.sleep(PURGE_PAUSE_S)
        finally:  # the deleted rows' frames leave the log, however the purge ended
            with self._lock:
                if self._conn is not None and not self._conn.in_transaction:
                    empty_log(self._conn)
        return counts

    def _purge_some(self, before: float, size: int, first: Callable[[list[tuple[int, float, float, str]]], None] | None,
                    waits: tuple[bool, float | None], counts: dict[str, int]) -> tuple[int, int]:
        """One transaction of :meth:`purge`: the ``size`` oldest calls that started before ``before``
        and have ended, their rows added to ``counts`` once committed; with fewer left (the last),
        the acknowledgements of no alert here too; the log checkpointed into the database after it.
        Returns how many calls it deleted, and the bytes it wrote to the log."""
        with self._lock, lock_waits(self._conn, *waits):
            try:
                self._commit()
                self._conn.execute("BEGIN IMMEDIATE")
                calls = [(int(i), float(a), float(b), str(src)) for i, a, b, src in self._conn.execute(
                    "SELECT id, started_at, ended_at, source FROM calls WHERE started_at < ? AND ended_at IS NOT "
                    "NULL ORDER BY id LIMIT ?", (before, size))]
                if first is not None:
                    first(calls)
                done = self._delete_calls([c[0] for c in calls], before if len(calls) < size else None)
                self._conn.execute("COMMIT")
                for table, n in done.items():
                    counts[table] = counts.get(table, 0) + n
                logged = self._log_bytes()
                empty_log(self._conn)  # the deleted rows' frames left the log
            except sqlite3.Error as exc:
                self._rollback()
                raise self._failed(exc) from None
            except BaseException:  # from ``first``, or a stop: the transaction does not stay open
                self._rollback()
                raise
        return len(calls), logged

    def _delete_calls(self, ids: list[int], acked_before: float | None) -> dict[str, int]:
        """In the open transaction, the rows of the calls ``ids`` deleted, and with ``acked_before``
        the acknowledgements acknowledged before it of no alert here; returns the rows deleted per table."""
        old = ",".join(map(str, ids))
        of_old = f"SELECT id FROM alerts WHERE call_id IN ({old})"
        orphans = (" OR (acked_at < ? AND alert_id NOT IN (SELECT id FROM alerts) AND alert_id NOT IN "
                   "(SELECT posted_id FROM deliveries WHERE posted_id IS NOT NULL))")
        counts = {"alert_acks": self._conn.execute(
            f"DELETE FROM alert_acks WHERE alert_id IN ({of_old}) OR alert_id IN (SELECT posted_id FROM "
            f"deliveries WHERE alert_id IN ({of_old})){orphans if acked_before is not None else ''}",
            () if acked_before is None else (acked_before,)).rowcount}
        if not ids:
            return counts
        counts["alert_words"] = self._conn.execute(f"DELETE FROM alert_words WHERE alert_id IN ({of_old})").rowcount
        counts["deliveries"] = self._conn.execute(f"DELETE FROM deliveries WHERE alert_id IN ({of_old})").rowcount
        for table in (*_CALL_TABLES, *self._other_tables_of_calls(_CALL_TABLES)):
            counts[table] = self._conn.execute(f"DELETE FROM {table} WHERE call_id IN ({old})").rowcount
        counts["calls"] = self._conn.execute(f"DELETE FROM calls WHERE id IN ({old})").rowcount
        return counts

    def _log_bytes(self) -> int:
        """The size of the database's write-ahead log file (0 where there is none)."""
        try:
            return wal_beside(Path(self.path)).stat().st_size
        except OSError:
            return 0

    def free_bytes(self) -> int:
        """The bytes of the database file that hold no row (its free pages: what a purge deleted)."""
        return int(self._read("PRAGMA freelist_count")[0][0]) * int(self._read("PRAGMA page_size")[0][0])

    def _other_tables_of_calls(self, own: tuple[str, ...]) -> list[str]:
        """The tables besides ``own`` whose ``call_id`` references ``calls`` (a batch's ledger, which
        the store does not make): their rows of a purged call go with it, or its foreign key would
        refuse the purge. Read as every read is (:meth:`_read`)."""
        tables = [r[0] for r in self._read("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [t for t in tables if t not in own and any(
            fk[2] == "calls" and fk[3] == "call_id"
            for fk in self._read("SELECT * FROM pragma_foreign_key_list(?)", (t,)))]

    def in_other_tables(self, call_id: int) -> bool:
        """Whether a table the store does not make (a batch's ledger) holds a row of call
        ``call_id``: a call scored by ``batch``, whose worker writes no series file of it."""
        tables = self._other_tables_of_calls(_CALL_TABLES)
        return any(self._read(f"SELECT 1 FROM {table} WHERE call_id = ? LIMIT 1", (call_id,)) for table in tables)

    def note_call_folder(self, folder: str | os.PathLike[str]) -> None:
        """Keep ``folder`` (made absolute) as one the daemon wrote this database's call files to, its
        audio or its reports, or replay its calls' series (table ``call_folders``, made when first
        needed): a purge finds the files of the calls it deletes there whatever configuration it
        runs with (none). A folder whose name is not UTF-8 (a Latin-1 ``d\xff``, which Python holds
        as surrogates, which no SQLite text takes) is kept as its bytes, and read back as the same name."""
        folder = os.path.abspath(folder)
        kept: str | bytes = folder if bytes_not_utf8(folder) is None else os.fsencode(folder)
        with self._lock:
            self._write("CREATE TABLE IF NOT EXISTS call_folders (folder TEXT PRIMARY KEY)", (), commit=False)
            self._write("INSERT OR IGNORE INTO call_folders (folder) VALUES (?)", (kept,), commit=True)

    def call_folders(self) -> list[str]:
        """The folders :meth:`note_call_folder` kept (none in a database no daemon of this release wrote
        call files of), one whose name is not UTF-8 as Python names it."""
        if not self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'call_folders'"):
            return []
        return [os.fsdecode(r[0]) if isinstance(r[0], bytes) else str(r[0])
                for r in self._read("SELECT folder FROM call_folders ORDER BY folder")]

    def instance_id(self, machine: str | None = None) -> str:
        """The daemon's id on this machine: a random id made for this database and kept in it (table
        ``meta``), which names the daemon to a supervisor console; the console tells alerts apart by
        (daemon id, alert id), so a new database never reuses the identity whose alert ids it would
        repeat. The id is bound to the machine it was made on (``machine``, default
        :func:`this_machine`): a database copied to another machine (a cloned desktop image) gets
        an id of its own there, said in one line, while the first machine keeps its id, as a
        database of an earlier release, which bound none, keeps its id on the machine it is on."""
        machine = this_machine() if machine is None else machine
        with self._lock:
            self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            made = {str(k): str(v) for k, v in self._read(
                "SELECT key, value FROM meta WHERE key IN ('instance_id', 'instance_machine')")}
            if "instance_id" not in made or "instance_machine" not in made:  # new, or of an earlier release
                self._write("INSERT OR IGNORE INTO meta (key, value) VALUES ('instance_id', ?), "
                            "('instance_machine', ?)", (random_hex(), machine), commit=True)
                return self._meta("instance_id")
            key = self._id_key(made["instance_machine"], machine)
            if key != "instance_id" and not self._read("SELECT 1 FROM meta WHERE key = ?", (key,)):
                self._write("INSERT INTO meta (key, value) VALUES (?, ?)", (key, random_hex()), commit=True)
                log.info("%s: this database's daemon id was made on another machine (a copied desktop image or "
                         "database): on this one the daemon posts to the supervisor as a new daemon, %s",
                         self.path, self._meta(key))
            return self._meta(key)

    def posting_id(self, machine: str | None = None) -> str | None:
        """The daemon id this database posts under on this machine (``machine``, default
        :func:`this_machine`), as :meth:`instance_id` gives it, read without writing (a database
        opened read-only); where none was made for this machine, the id it posted under on the
        machine it was first used on (a database copied here and read, say: its alerts went under
        that id); None while the database has no id (no daemon or replay with a webhook used it)."""
        machine = this_machine() if machine is None else machine
        with self._lock:
            if not self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"):
                return None
            made = {str(k): str(v) for k, v in self._read("SELECT key, value FROM meta WHERE key LIKE 'instance_%'")}
            if "instance_id" not in made or "instance_machine" not in made:
                return made.get("instance_id")  # an earlier release's id, which this machine keeps
            return made.get(self._id_key(made["instance_machine"], machine), made["instance_id"])

    def renew_instance_id(self, refused: str, machine: str | None = None) -> str:
        """A new id in place of ``refused``, this machine's id, which a supervisor console refused as
        another agent's (a database copied from another desktop before ids were bound to machines);
        the id as it is when ``refused`` is not this machine's id (made anew already)."""
        machine = this_machine() if machine is None else machine
        with self._lock:
            current = self.instance_id(machine)
            if current == refused:
                key = self._id_key(self._meta("instance_machine"), machine)
                self._write("UPDATE meta SET value = ? WHERE key = ?", (random_hex(), key), commit=True)
            return self._meta(self._id_key(self._meta("instance_machine"), machine))

    @staticmethod
    def _id_key(first: str, machine: str) -> str:
        """The ``meta`` key of the daemon id of ``machine`` in a database first used on ``first``."""
        return "instance_id" if machine == first else f"instance_id@{machine}"

    def _meta(self, key: str) -> str:
        return str(self._read("SELECT value FROM meta WHERE key = ?", (key,))[0][0])

    def journal_mode(self) -> str:
        return str(self._read("PRAGMA journal_mode")[0][0])
