"""The console's own SQLite database: alerts from every daemon, acknowledgements, agents.

One file in WAL mode with ``synchronous=FULL``, created mode 0600 (folder 0700). An alert is
committed before the webhook answers; one already stored under the daemon's id and alert id, of a
call that started at the same time, makes a retried post a no-op (:meth:`ConsoleStore.add_alert`),
so delivery stays at-least-once on the daemon's side and each alert is shown once.
Thread-safe: every statement runs under one lock (the ASGI handlers call it from worker threads), its
wait for the database :data:`BUSY_S` at most.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..delivery.outcomes import Labelled
from ..delivery.sqlite_file import closed_on_failure, connect_private, empty_log, remake_table, statements, transaction
from ..delivery.store_files import CONSOLE_APPLICATION_ID, a_folder, unreachable
from ..alerts.evidence import evidence_lines
from ..installing import in_docs
from .heartbeat import machine_of, plain_address

SCHEMA_VERSION = 6
"""1: first release, ``UNIQUE (daemon_id, alert_id)``. 2: an alert id of a daemon is kept once per
call start (a daemon of an earlier release gives an alert id again after a purge): migrated in
place, the table made again without the constraint, its rows and ids kept. 3: an alert keeps the
``recording`` a replayed call came from: a column added (null for the alerts stored before). 4: the
daemons a supervisor forgot (:meth:`ConsoleStore.forget`): a table added. 5: the agent's word on an
alert (``agent_word``, ``agent_note``, ``agent_word_at``: :meth:`ConsoleStore.set_word`): columns added
(null for the alerts stored before). 6: an alert of a call of two files keeps the ``agent_recording``
beside its ``recording``: a column added (null for the alerts stored before)."""

BUSY_S = 2.0
"""The longest a statement waits for the database, for the console's statement before it and then for
a lock another program holds on the file, before it fails ("database is locked") and its request is
answered 503 with that reason: well within a daemon's ``delivery.timeout_s`` (5 s by default), which
would end its wait first and say "timed out" rather than the console's reason."""

SAME_CALL_S = 0.002
"""Two posts of one alert id whose call starts are this close are one alert (daemons send the start
rounded to the millisecond)."""
CLOCK_STEP_S = 5.0
"""An agent last heard later than now by more than this was heard before the console's clock stepped back
(:meth:`ConsoleStore.heard_later`): more than a request's own time between its clock reading and its write."""
ACKS_LOOKED_AT = 200
"""The most acknowledgements of one daemon's alerts a heartbeat's answer looks at (:meth:`ConsoleStore.acks_of`)."""
ACKED_LISTED = 500
"""The most acknowledged alerts the console's state lists, the latest acknowledged (``acked_total`` counts them all)."""
ACKED_ORDER = "a.acked_at DESC, a.id DESC"
"""The acknowledged alerts' own order, wherever they are listed: the latest acknowledged first, whenever
each was received (a critical alert acknowledged after the later warnings of its call comes before them)."""
OPEN_WARNINGS_LISTED = 1000
"""The most open warnings the console's state lists, the newest (a site that never acknowledges its
warnings would otherwise send every one to each page that opens); every open critical alert is listed."""
APPLICATION_ID = CONSOLE_APPLICATION_ID  # tells the console's database from the daemon's

_SCHEMA = """
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    daemon_id TEXT NOT NULL,           -- the posting daemon's database id
    alert_id INTEGER NOT NULL,         -- the alert's id in that database
    agent TEXT NOT NULL,
    call_id INTEGER,
    call_started_at REAL,              -- unix seconds (daemon clock)
    at REAL,                           -- the alert's wall-clock time (daemon clock)
    t REAL NOT NULL,                   -- seconds into the call
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    evidence TEXT NOT NULL,            -- JSON
    actions TEXT NOT NULL,             -- JSON list
    received_at REAL NOT NULL,
    acked_by TEXT,
    acked_at REAL,
    recording TEXT,                    -- the file name of a replayed call's recording (null: a live call)
    agent_word TEXT,                   -- the agent's word on it: handled or false_alarm (null: none yet)
    agent_note TEXT,                   -- the agent's note with it ('' for none)
    agent_word_at REAL,                -- when the agent said it (daemon clock)
    agent_recording TEXT               -- of a call of two files, the agent's leg's file name (null: none)
);
CREATE INDEX alerts_open ON alerts(acked_at, severity, received_at);
CREATE INDEX alerts_of_daemon ON alerts(daemon_id, alert_id);
CREATE TABLE agents (
    daemon_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    every_s REAL,
    status TEXT NOT NULL,              -- JSON of the last heartbeat's status
    remote TEXT
);
CREATE TABLE reports (
    daemon_id TEXT NOT NULL,
    call_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (daemon_id, call_id)
);
CREATE TABLE forgotten (               -- daemons left out of the agents until they post again
    daemon_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    at REAL NOT NULL                   -- when a supervisor forgot it (console clock)
);
"""

_ALERT_COLUMNS = ("id", "daemon_id", "alert_id", "agent", "call_id", "call_started_at", "at", "t", "kind",
                  "severity", "message", "evidence", "actions", "received_at", "acked_by", "acked_at", "recording",
                  "agent_word", "agent_note", "agent_word_at", "agent_recording")


def _worded(evidence: Any) -> list[dict[str, Any]]:
    """The page's evidence: the alert's in words, as the call report says it."""
    return [x.as_json() for x in evidence_lines(evidence)] if isinstance(evidence, Mapping) else []


def _finite_or_null(text: str) -> float | None:
    return value if math.isfinite(value := float(text)) else None


def _answerable(stored: str) -> Any:
    """Stored JSON as the console answers it: an older console stored NaN and Infinity, which JSON
    has not (every answer holding one would fail), so such a number is read as null."""
    return json.loads(stored, parse_constant=lambda _: None, parse_float=_finite_or_null)


def _agent(daemon_id: str, agent: str, first_seen: float, last_seen: float, every_s: float | None, status: str,
           remote: str | None) -> dict[str, Any]:
    """A daemon's row as the console answers it: its last heartbeat's ``status``, the address it came
    from (an IPv4-mapped IPv6 one as its IPv4 address) and its ``machine``
    (:func:`~monitor.supervisor.heartbeat.machine_of`)."""
    said = _answerable(status)
    return {"daemon_id": daemon_id, "agent": agent, "first_seen": first_seen, "last_seen": last_seen,
            "every_s": every_s, "status": said, "remote": plain_address(remote), "machine": machine_of(said, remote)}


class ConsoleStoreError(RuntimeError):
    """The database cannot be used; the message names the file and the problem."""


class AmbiguousDaemon(Exception):
    """A daemon id given in part (:meth:`ConsoleStore.forget`'s) that begins or ends more than one
    daemon of the agent: nothing is forgotten."""

    def __init__(self, given: str, agent: str, ids: list[str]) -> None:
        super().__init__(f"daemon {given!r} begins or ends {len(ids)} daemons of agent {agent!r}: {', '.join(ids)}; "
                         f"give more of its id")
        self.ids = ids


def daemons_named(given: str, ids: list[str]) -> list[str]:
    """Of ``ids``, an agent's daemons', those ``given`` names: the one whose whole id it is, else each
    whose id it ends or begins (the page shows an id's last 8 characters)."""
    if given in ids:
        return [given]
    return [d for d in ids if d.endswith(given) or d.startswith(given)]


class DaemonIdTaken(Exception):
    """A post under a daemon id the console knows as another agent's, by an agent's own token (which
    would take over that agent's row and acknowledgements): nothing of it is stored."""


@dataclass(frozen=True)
class IncomingAlert:
    """A validated webhook alert (only these fields are kept)."""

    daemon_id: str
    alert_id: int
    agent: str
    kind: str
    severity: str
    message: str
    t: float
    evidence: Mapping[str, Any]
    actions: tuple[str, ...]
    call_id: int | None = None
    call_started_at: float | None = None
    at: float | None = None
    recording: str | None = None
    """The recording a replayed call came from, as its daemon names it (its file name); None for a live call."""
    agent_recording: str | None = None
    """Of a call of two files, the agent's leg's own recording (its file name); None for any other call."""


@dataclass(frozen=True)
class IncomingWord:
    """A validated webhook post of the agent's word on one of its daemon's alerts."""

    daemon_id: str
    alert_id: int
    agent: str
    word: str
    note: str
    said_at: float
    call_started_at: float | None = None


@dataclass(frozen=True)
class Heartbeat:
    """A validated heartbeat."""

    daemon_id: str
    agent: str
    every_s: float | None
    status: Mapping[str, Any]
    reports: tuple[tuple[int, str], ...] = ()
    acks_taken: frozenset[int] = frozenset()
    """The alert ids whose acknowledgements the daemon took from the last answer (:mod:`monitor.delivery.acks`)."""


@dataclass(frozen=True)
class Listing:
    """What the console's state lists of the alerts (:meth:`ConsoleStore.listing`)."""
    alerts: list[dict[str, Any]]
    acked_total: int
    """How many alerts are acknowledged, all of them (``alerts`` lists the latest)."""
    open_warnings_left_out: int
    """How many open warnings ``alerts`` leaves out, the older ones."""


class ConsoleStore:
    """Use :meth:`open`; close with :meth:`close`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, migrated_from: int | None = None) -> None:
        self._conn = conn
        self.path = path
        self.migrated_from = migrated_from
        """The schema the file had, where this open brought it to :data:`SCHEMA_VERSION` (an upgrade); else None."""
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "ConsoleStore":
        p = Path(path).expanduser()
        if (why := unreachable(p)) is not None:
            raise ConsoleStoreError(why)
        if p.is_dir():
            raise ConsoleStoreError(a_folder(p))
        try:
            conn = connect_private(p, BUSY_S)
        except (OSError, sqlite3.Error) as err:
            raise ConsoleStoreError(f"{p}: cannot open the database ({getattr(err, 'strerror', None) or err})") \
                from None
        try:
            with closed_on_failure(conn):
                migrated_from = cls._prepare(conn, p)
        except sqlite3.DatabaseError as err:
            raise ConsoleStoreError(f"{p}: not a callmonitor console database ({err})") from None
        return cls(conn, p, migrated_from)

    @staticmethod
    def _prepare(conn: sqlite3.Connection, p: Path) -> int | None:
        """The file made, or brought to this schema; returns the schema it was brought from (None: it
        was new, or of this schema already)."""
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if (tables or version) and app_id != APPLICATION_ID:
            raise ConsoleStoreError(f"{p}: not a callmonitor console database (a daemon's events database "
                                    f"or another file)")
        if version > SCHEMA_VERSION:
            raise ConsoleStoreError(f"{p}: console database schema {version} is newer than this "
                                    f"call-monitor understands ({SCHEMA_VERSION}); upgrade call-monitor, or, rolling "
                                    f"back, take the file back to schema {SCHEMA_VERSION} as "
                                    f"{in_docs('deployment.md', 'Upgrading a site')} says (the file is left as it is)")
        if str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() != "wal":
            raise ConsoleStoreError(f"{p}: cannot switch the database to WAL mode")
        conn.execute("PRAGMA synchronous = FULL")
        if version >= SCHEMA_VERSION:
            return None
        with transaction(conn, "BEGIN IMMEDIATE"):
            now = conn.execute("PRAGMA user_version").fetchone()[0]  # another console may have made it
            if now == 0:
                for statement in statements(_SCHEMA):
                    conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            elif now < SCHEMA_VERSION:
                ConsoleStore._migrate(conn, now)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return now if 0 < now < SCHEMA_VERSION else None

    @staticmethod
    def _migrate(conn: sqlite3.Connection, version: int) -> None:
        """A database of schema ``version`` brought to this one. From 1, the alerts table made again
        as this schema makes it (SQLite's way to change a table): without ``UNIQUE (daemon_id,
        alert_id)`` and with the ``recording`` column, its rows and console ids (which
        acknowledgements name) kept. From 2, the ``recording`` column added. Before 4, the
        ``forgotten`` table made (no daemon forgotten). From 2 on, the agent's word's columns added
        (from 1 the table made again has them), before 6 the ``agent_recording`` column."""
        if version == 1:
            remake_table(conn, _SCHEMA, "alerts")
        elif version == 2:
            conn.execute("ALTER TABLE alerts ADD COLUMN recording TEXT")
        if version < 4:
            conn.execute(next(s for s in statements(_SCHEMA) if s.startswith("CREATE TABLE forgotten (")))
        if 1 < version < 5:
            for column in ("agent_word TEXT", "agent_note TEXT", "agent_word_at REAL"):
                conn.execute(f"ALTER TABLE alerts ADD COLUMN {column}")
        if version > 1:
            conn.execute("ALTER TABLE alerts ADD COLUMN agent_recording TEXT")

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        """The store's lock for one use of the connection, its whole wait for the database (the lock,
        then SQLite's for another program's) at most :data:`BUSY_S`; raises ``sqlite3.OperationalError``
        ("database is locked") past it, as SQLite does. Without the bound, requests queued behind one
        that waits for another program's lock would each wait their turn and then :data:`BUSY_S` more."""
        deadline = time.monotonic() + BUSY_S
        if not self._lock.acquire(timeout=BUSY_S):
            raise sqlite3.OperationalError("database is locked")
        try:
            left_ms = max(1, int((deadline - time.monotonic()) * 1000))
            self._conn.execute(f"PRAGMA busy_timeout = {left_ms}")
            yield
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:  # held: closing waits for a statement under way
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    def journal_mode(self) -> str:
        with self._held():
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    # ------------------------------------------------------------------ alerts

    def add_alert(self, a: IncomingAlert, now: float | None = None, *,
                  own_id_only: bool = False) -> tuple[dict[str, Any], bool]:
        """Store ``a`` (committed on return) unless it is stored already (:meth:`_stored_as`);
        returns (the stored alert, whether it is new). ``own_id_only``: an agent's own token posts it,
        refused (:class:`DaemonIdTaken`) under another agent's daemon id (:meth:`_claim`)."""
        now = time.time() if now is None else now
        with self._held():
            with transaction(self._conn, "BEGIN IMMEDIATE"):
                self._claim(a.daemon_id, a.agent, own_id_only)
                pk = known = self._stored_as(a)
                if known is None:
                    pk = self._conn.execute(
                        "INSERT INTO alerts (daemon_id, alert_id, agent, call_id, call_started_at, at, t, kind, "
                        "severity, message, evidence, actions, received_at, recording, agent_recording) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (a.daemon_id, a.alert_id, a.agent, a.call_id, a.call_started_at, a.at, a.t, a.kind,
                         a.severity, a.message, json.dumps(a.evidence, ensure_ascii=False),
                         json.dumps(list(a.actions)), now, a.recording, a.agent_recording)).lastrowid
                    self._conn.execute("DELETE FROM forgotten WHERE daemon_id = ?", (a.daemon_id,))  # heard again
            return self._select_alerts("a.id = ?", (pk,))[0], known is None

    def fill_call(self, alert_pk: int, a: IncomingAlert) -> dict[str, Any] | None:
        """The stored alert ``alert_pk`` with the call of ``a``, a post of it again, where its first post
        named none (a daemon whose database failed posts an alert before its call's row is written,
        then once more, under the same id, with its call); None when it names one already."""
        with self._held():
            cur = self._conn.execute("UPDATE alerts SET call_id = ?, call_started_at = COALESCE(call_started_at, ?), "
                                     "at = COALESCE(at, ?) WHERE id = ? AND call_id IS NULL",
                                     (a.call_id, a.call_started_at, a.at, alert_pk))
            return self._select_alerts("a.id = ?", (alert_pk,))[0] if cur.rowcount else None

    def _stored_as(self, a: IncomingAlert | IncomingWord) -> int | None:
        """The console id of ``a`` (or of the alert a word is on) if it is stored already: the daemon's
        alert id, of a call that started at the same time (or of a post that did not say when: a retry of
        the same alert). A daemon of an earlier release gives an alert id again after a purge, for
        another call's alert, which is a new one."""
        for pk, started in self._conn.execute("SELECT id, call_started_at FROM alerts WHERE daemon_id = ? AND "
                                              "alert_id = ? ORDER BY id", (a.daemon_id, a.alert_id)):
            if started is None or a.call_started_at is None or abs(started - a.call_started_at) < SAME_CALL_S:
                return int(pk)
        return None

    def set_word(self, w: IncomingWord, *, own_id_only: bool = False) -> dict[str, Any] | None:
        """Keep the agent's word ``w`` on its alert, in place of one said before it (a word said earlier,
        come late, changes nothing); returns the alert, None when the console has no such alert of that
        daemon. ``own_id_only``: as :meth:`add_alert`'s."""
        with self._held():
            with transaction(self._conn, "BEGIN IMMEDIATE"):
                self._claim(w.daemon_id, w.agent, own_id_only)
                pk = self._stored_as(w)
                if pk is None:
                    return None
                self._conn.execute("UPDATE alerts SET agent_word = ?, agent_note = ?, agent_word_at = ? WHERE id = ? "
                                   "AND (agent_word_at IS NULL OR agent_word_at <= ?)",
                                   (w.word, w.note, w.said_at, pk, w.said_at))
            return self._select_alerts("a.id = ?", (pk,))[0]

    def _of_another(self, daemon_id: str, agent: str) -> bool:
        """Whether daemon ``daemon_id`` posted as another agent than ``agent`` (a heartbeat's row, an
        alert kept, the note that it was forgotten): its id is that agent's, which an agent's own token may not post under. In the
        caller's transaction, under the lock."""
        return self._conn.execute(
            "SELECT 1 FROM agents WHERE daemon_id = ? AND agent != ? UNION ALL "
            "SELECT 1 FROM alerts WHERE daemon_id = ? AND agent != ? UNION ALL "
            "SELECT 1 FROM forgotten WHERE daemon_id = ? AND agent != ? LIMIT 1",
            (daemon_id, agent, daemon_id, agent, daemon_id, agent)).fetchone() is not None

    def _claim(self, daemon_id: str, agent: str, own_id_only: bool) -> None:
        """Raises :class:`DaemonIdTaken` when ``own_id_only`` (an agent's own token posts) and
        ``daemon_id`` is another agent's: checked in the transaction that then writes, so two agents
        posting under one new id at the same moment cannot both take it."""
        if own_id_only and self._of_another(daemon_id, agent):
            raise DaemonIdTaken(daemon_id)

    def acknowledge(self, alert_pk: int, by: str, now: float | None = None) -> tuple[dict[str, Any] | None, bool]:
        """Acknowledge alert ``alert_pk`` (the first acknowledgement stands): (the alert, None if there
        is no such alert; whether this acknowledgement is the one stored)."""
        now = time.time() if now is None else now
        with self._held():
            cur = self._conn.execute("UPDATE alerts SET acked_by = ?, acked_at = ? WHERE id = ? AND acked_at IS NULL",
                                     (by, now, alert_pk))
            rows = self._select_alerts("a.id = ?", (alert_pk,))
            return (rows[0] if rows else None), cur.rowcount == 1

    def acks_of(self, daemon_id: str, since: float, limit: int = ACKS_LOOKED_AT) -> list[dict[str, Any]]:
        """The alerts of daemon ``daemon_id`` acknowledged at ``since`` or later (console clock), the
        earliest acknowledgement first, at most ``limit``: what its heartbeats' answers tell it."""
        with self._held():
            rows = self._conn.execute(
                "SELECT id, alert_id, call_id, call_started_at, t, kind, severity, acked_by, acked_at FROM alerts "
                "WHERE daemon_id = ? AND acked_at >= ? ORDER BY acked_at, id LIMIT ?",
                (daemon_id, since, limit)).fetchall()
        keys = ("id", "alert_id", "call_id", "call_started_at", "t", "kind", "severity", "acked_by", "acked_at")
        return [dict(zip(keys, r)) for r in rows]

    def alerts(self, acked: int = ACKED_LISTED, warnings: int = OPEN_WARNINGS_LISTED) -> list[dict[str, Any]]:
        """Every open critical alert, the newest ``warnings`` open warnings (newest first, together),
        then the latest ``acked`` acknowledged alerts (the latest acknowledged first,
        :data:`ACKED_ORDER`): what the console's state lists."""
        with self._held():
            return self._listed(acked, warnings)

    def listing(self, acked: int = ACKED_LISTED, warnings: int = OPEN_WARNINGS_LISTED) -> Listing:
        """:meth:`alerts` and the counts of those it leaves out, read in one read transaction: an alert
        stored meanwhile (by this console or another process) is in both or in neither."""
        with self._held(), transaction(self._conn):
            alerts = self._listed(acked, warnings)
            counted = self._conn.execute(
                "SELECT count(*) FILTER (WHERE acked_at IS NOT NULL), "
                "count(*) FILTER (WHERE acked_at IS NULL AND severity != 'critical') FROM alerts").fetchone()
        listed = sum(1 for a in alerts if a["acked_at"] is None and a["severity"] != "critical")
        return Listing(alerts, acked_total=int(counted[0]), open_warnings_left_out=int(counted[1]) - listed)

    def _listed(self, acked: int, warnings: int) -> list[dict[str, Any]]:
        open_ = (self._select_alerts("a.acked_at IS NULL AND a.severity = 'critical'", ()) +
                 self._select_alerts("a.acked_at IS NULL AND a.severity != 'critical'", (), limit=warnings))
        open_.sort(key=lambda a: (a["received_at"], a["id"]), reverse=True)
        return open_ + self._select_alerts("a.acked_at IS NOT NULL", (), limit=acked, order=ACKED_ORDER)

    def alerts_before(self, before: int | None, limit: int,
                      acked: bool | None = None) -> tuple[list[dict[str, Any]], bool]:
        """A page of alerts: those whose console id is below ``before`` (None: any), the highest id
        (the latest received) first, at most ``limit``; ``acked`` True: acknowledged ones only, False:
        open ones only. Returns (the page, whether more alerts follow it)."""
        where = ["a.id < ?"] if before is not None else []
        if acked is not None:
            where.append("a.acked_at IS NOT NULL" if acked else "a.acked_at IS NULL")
        with self._held():
            rows = self._select_alerts(" AND ".join(where) or "1", (before,) if before is not None else (),
                                       limit=limit + 1, order="a.id DESC")
        return rows[:limit], len(rows) > limit

    def acked_before(self, before: int | None, limit: int,
                     acked_at: float | None = None) -> tuple[list[dict[str, Any]], bool] | str:
        """A page of the acknowledged alerts in their own order (:data:`ACKED_ORDER`, as the console's
        state lists them): those acknowledged before alert ``before`` was (None: from the latest
        acknowledged), at most ``limit``. Returns (the page, whether more follow it). ``acked_at``, when
        alert ``before`` was acknowledged, places the page without looking that alert up, so it pages on
        from an alert the retention has deleted since; without it, when ``before`` is no acknowledged
        alert the console keeps, the answer is why, in words (not acknowledged yet, or none kept by that id)."""
        args: tuple[Any, ...]
        with self._held(), transaction(self._conn):
            where, args = "a.acked_at IS NOT NULL", ()
            if before is not None:
                cursor = self._acked_at(before) if acked_at is None else acked_at
                if isinstance(cursor, str):
                    return cursor
                where, args = "(a.acked_at, a.id) < (?, ?)", (cursor, before)
            rows = self._select_alerts(where, args, limit=limit + 1, order=ACKED_ORDER)
        return rows[:limit], len(rows) > limit

    def _acked_at(self, pk: int) -> float | str:
        """When alert ``pk`` was acknowledged, or why there is no such time, in words."""
        cursor = self._conn.execute("SELECT acked_at FROM alerts WHERE id = ? AND acked_at IS NOT NULL",
                                    (pk,)).fetchone()
        if cursor is not None:
            return float(cursor[0])
        kept = self._conn.execute("SELECT 1 FROM alerts WHERE id = ?", (pk,)).fetchone()
        return (f"alert {pk} is not acknowledged" if kept else
                f"no alert {pk} is kept (none received by that id, or deleted since by the retention)")

    def labelled(self, since: float | None, until: float | None) -> tuple[list[Labelled], int]:
        """The alerts of live calls (no ``recording``) received from ``since`` on and before ``until``
        (unix seconds, None: no bound) as the outcome summary reads them (:mod:`monitor.delivery.outcomes`),
        each with the daemon that posted it, and how many alerts of replayed calls the period held besides.
        A period is of ``received_at``, the console's own clock, as :meth:`purge` deletes by it: a period
        reaching back to the retention's cut holds every alert kept, and a desktop's clock set wrong moves
        none of its alerts out of the period they came in (one that came late, a desktop offline for
        hours, counts when it came)."""
        where, args = [], []
        for bound, test in ((since, ">="), (until, "<")):
            if bound is not None:
                where.append(f"received_at {test} ?")
                args.append(bound)
        with self._held():
            rows = self._conn.execute("SELECT agent, kind, severity, agent_word, agent_note, recording, daemon_id "
                                      f"FROM alerts WHERE {' AND '.join(where) or '1'} ORDER BY id", args).fetchall()
        live = [Labelled(r[0], r[1], r[2], r[3], r[4] or "", daemon_id=r[6]) for r in rows if r[5] is None]
        return live, len(rows) - len(live)

    def count_alerts(self) -> int:
        with self._held():
            return int(self._conn.execute("SELECT count(*) FROM alerts").fetchone()[0])

    def _select_alerts(self, where: str, args: tuple[Any, ...], limit: int = -1,
                       order: str = "a.received_at DESC, a.id DESC") -> list[dict[str, Any]]:
        cols = ", ".join(f"a.{c}" for c in _ALERT_COLUMNS)
        rows = self._conn.execute(
            f"SELECT {cols}, r.url FROM alerts a LEFT JOIN reports r ON r.daemon_id = a.daemon_id AND "
            f"r.call_id = a.call_id WHERE {where} ORDER BY {order} LIMIT ?",
            (*args, limit)).fetchall()
        out = []
        for r in rows:
            d = dict(zip(_ALERT_COLUMNS, r[:-1]))
            d["evidence_lines"] = _worded(json.loads(d["evidence"]))  # the words say a stored Infinity
            d["evidence"], d["actions"], d["report_url"] = _answerable(d["evidence"]), _answerable(d["actions"]), r[-1]
            out.append(d)
        return out

    def purge(self, before: float) -> tuple[int, int]:
        """Delete the alerts received before ``before`` (unix seconds; their acknowledgements with
        them), the agents last heard from before then (and the note that one was forgotten before then, once
        nothing else of it is left), and the call report links of calls no alert is left of, overwritten in the file
        and gone from its write-ahead log; returns (alerts, agents) deleted."""
        with self._held():
            with transaction(self._conn):
                alerts = self._conn.execute("DELETE FROM alerts WHERE received_at < ?", (before,)).rowcount
                agents = self._conn.execute("DELETE FROM agents WHERE last_seen < ?", (before,)).rowcount
                self._conn.execute("DELETE FROM reports WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE "
                                   "a.daemon_id = reports.daemon_id AND a.call_id = reports.call_id)")
                self._conn.execute("DELETE FROM forgotten WHERE at < ? AND daemon_id NOT IN (SELECT daemon_id FROM "
                                   "agents) AND daemon_id NOT IN (SELECT daemon_id FROM alerts)",
                                   (before,))  # nothing left to hide
            empty_log(self._conn)  # the deleted rows' frames left the log
            return alerts, agents

    # ------------------------------------------------------------------ agents

    def heartbeat(self, hb: Heartbeat, remote: str | None = None, now: float | None = None, *,
                  own_id_only: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Record a heartbeat; returns (the agent, the call reports it names that were not known).
        ``own_id_only``: as :meth:`add_alert`'s."""
        now = time.time() if now is None else now
        with self._held():
            with transaction(self._conn, "BEGIN IMMEDIATE"):
                self._claim(hb.daemon_id, hb.agent, own_id_only)
                self._conn.execute(
                    "INSERT INTO agents (daemon_id, agent, first_seen, last_seen, every_s, status, remote) "
                    "VALUES (?,?,?,?,?,?,?) ON CONFLICT (daemon_id) DO UPDATE SET agent = excluded.agent, "
                    "last_seen = excluded.last_seen, every_s = excluded.every_s, status = excluded.status, "
                    "remote = excluded.remote",
                    (hb.daemon_id, hb.agent, now, now, hb.every_s, json.dumps(hb.status, ensure_ascii=False),
                     remote))
                self._conn.execute("DELETE FROM forgotten WHERE daemon_id = ?", (hb.daemon_id,))  # heard again
                new = []
                for call_id, url in hb.reports:
                    cur = self._conn.execute("INSERT OR IGNORE INTO reports (daemon_id, call_id, url) VALUES (?,?,?)",
                                             (hb.daemon_id, call_id, url))
                    if cur.rowcount == 1:
                        new.append({"daemon_id": hb.daemon_id, "call_id": call_id, "url": url})
            return self._agents("daemon_id = ?", (hb.daemon_id,))[0], new

    def heard_later(self, now: float | None = None) -> list[dict[str, Any]]:
        """The agents last heard later than ``now`` (by more than :data:`CLOCK_STEP_S`), which only the
        console's clock stepping back since makes them (NTP stepping it, a hand setting it): their last
        heartbeat becomes ``now``, so that one whose daemon has stopped beating is silent its limit
        after the step, not the step later. The agents so moved but those forgotten (none while the clock went forward)."""
        now = time.time() if now is None else now
        with self._held():
            if not self._conn.execute("SELECT 1 FROM agents WHERE last_seen > ? LIMIT 1",
                                      (now + CLOCK_STEP_S,)).fetchone():
                return []
            with transaction(self._conn, "BEGIN IMMEDIATE"):
                ids = [r[0] for r in self._conn.execute("SELECT daemon_id FROM agents WHERE last_seen > ?",
                                                        (now + CLOCK_STEP_S,))]
                self._conn.executemany("UPDATE agents SET last_seen = ? WHERE daemon_id = ?", [(now, d) for d in ids])
            return self._agents(f"daemon_id IN ({','.join('?' * len(ids))}) AND daemon_id NOT IN "
                                "(SELECT daemon_id FROM forgotten)", tuple(ids))

    def agents(self) -> list[dict[str, Any]]:
        """Every daemon that sent a heartbeat, but those forgotten since (:meth:`forget`)."""
        with self._held():
            return self._agents("daemon_id NOT IN (SELECT daemon_id FROM forgotten)", ())

    def forget(self, agent: str, now: float | None = None, *, daemon_id: str | None = None) -> list[str]:
        """Leave agent ``agent`` out of the agents (a desktop removed from service): each of its
        daemons, those that sent heartbeats, those that only sent alerts and those forgotten before, or
        the one ``daemon_id`` names alone (one of two agents of one name: its whole id, or its end or
        start, :func:`daemons_named`), until it posts again (a heartbeat, a new alert). Its heartbeats'
        row (its last status, the address it posted from) is deleted, from the file's log too; its alerts
        are kept, and the note that it was forgotten keeps its id the agent's (:meth:`_of_another`), with
        the time it was first forgotten (a second forget does not put off the retention's end of it).
        Returns the daemon ids forgotten (none: no such agent was ever heard, or none of its daemons is
        that one); raises :class:`AmbiguousDaemon` for a part of an id that names more than one."""
        now = time.time() if now is None else now
        with self._held():
            with transaction(self._conn, "BEGIN IMMEDIATE"):
                ids = [r[0] for r in self._conn.execute(
                    "SELECT daemon_id FROM agents WHERE agent = ? UNION SELECT daemon_id FROM alerts WHERE "
                    "agent = ? UNION SELECT daemon_id FROM forgotten WHERE agent = ? ORDER BY 1",
                    (agent, agent, agent))]
                if daemon_id is not None and len(ids := daemons_named(daemon_id, ids)) > 1:
                    raise AmbiguousDaemon(daemon_id, agent, ids)
                self._conn.executemany("INSERT INTO forgotten (daemon_id, agent, at) VALUES (?,?,?) ON CONFLICT "
                                       "(daemon_id) DO UPDATE SET agent = excluded.agent",  # forgotten since then
                                       [(d, agent, now) for d in ids])
                self._conn.executemany("DELETE FROM agents WHERE daemon_id = ?", [(d,) for d in ids])
            empty_log(self._conn)  # the deleted rows' frames left the log
            return ids

    def forgotten(self) -> list[dict[str, Any]]:
        """The daemons forgotten and not heard since: ``daemon_id``, ``agent``, ``at``."""
        with self._held():
            rows = self._conn.execute("SELECT daemon_id, agent, at FROM forgotten ORDER BY agent, daemon_id")
            return [{"daemon_id": r[0], "agent": r[1], "at": r[2]} for r in rows]

    def _agents(self, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        rows = self._conn.execute(f"SELECT daemon_id, agent, first_seen, last_seen, every_s, status, remote "
                                  f"FROM agents WHERE {where} ORDER BY agent, daemon_id", args).fetchall()
        return [_agent(*r) for r in rows]
