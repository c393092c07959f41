"""The SQLite store's schema: its version, its tables, making them in a new database and migrating an
older one in place; and the machine a daemon's id is bound to.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from types import MappingProxyType
from typing import Sequence

from .machine import MACHINE_ID_FILES, machine_id
from .sqlite_file import remake_table, statements, transaction
from .store_errors import SchemaTooNew, StoreError


def this_machine(files: Sequence[str] = MACHINE_ID_FILES) -> str:
    """This machine, as a daemon's id is bound to it (:meth:`~monitor.delivery.store.Store.instance_id`): a
    hash of its machine id (:func:`~monitor.delivery.machine.machine_id`; the id itself is not kept: it is
    meant to stay on the machine); "" when it has none."""
    text = machine_id(files)
    return hashlib.sha256(b"callmonitor daemon id\0" + text.encode()).hexdigest()[:32] if text else ""


SCHEMA_VERSION = 6
"""1: first release. 2: ``alert_clears.reason`` (migrated in place: version 1's clears at a call's
end become 'call_ended', the others 'recovered'). 3: ``calls.channels``, the recording's channel of
each leg (migrated in place: the calls stored before have none, NULL). 4: ``deliveries.posted_id``,
the alert id a webhook delivery is posted under when it is not the alert's own (an alert the
database could not store when it was raised, posted from memory under an id of its own: see
:attr:`~monitor.delivery.store_rows.Delivery.posted_id`; migrated in place: the rows stored before have
none, NULL). Its version keeps an older release from opening the database: it would post such a row
under the alert's own id, which a supervisor console would store as a second alert. 5: table
``alert_acks``, the supervisors' acknowledgements the console told the daemon (migrated in place: the
table made empty). Its version keeps an older release from opening the database: its purge would
leave the acknowledgements of the calls it deletes, and the names in them. 6: table
``alert_words``, the agent's word on an alert (``call-monitor outcome``: handled or a false alarm,
a note, and its delivery to the webhook; migrated in place: the table made empty). Its version keeps
an older release from opening the database: its purge would fail on the rows that reference the
alerts it deletes.

``calls.agent`` (the live daemon's ``delivery.agent_name``) came without a version: a version 3
database without it gains it when opened here (the calls stored before have none, NULL), and
older releases still open one with it, since they read a call's columns by position (the first
eight). A version for it would make them refuse the database ("of a newer callmonitor") for one
name. ``deliveries.posted_by`` (the daemon id a delivered post went under: one made at a start
the database could not be opened, ``unopened-...``, or the id before a console refused it) came
the same way: the rows delivered before have none, NULL, and older releases name the outbox's
columns they read.

The ids of :data:`_IDS_KEPT` (calls, alerts, webhook deliveries) came the same way: each is given
once in a database, never again after a purge deletes its row (SQLite's ``AUTOINCREMENT``; without
it, a purge that deletes the highest ids, or every row, lets them come back). A database made
before gains it when opened (:func:`_keep_ids`), its schema version kept: SQLite keeps the
ids for older releases too."""

_SCHEMA = """
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,          -- wall clock, unix seconds
    source TEXT NOT NULL,              -- file path or device
    ended_at REAL,
    duration_s REAL,
    baseline TEXT,                     -- JSON
    summary TEXT,                      -- JSON
    channels TEXT,                     -- JSON {leg: channel of the recording, or of a live call's audio}
    agent TEXT                         -- a live call's agent (delivery.agent_name), NULL for a replay
);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id INTEGER NOT NULL REFERENCES calls(id),
    t REAL NOT NULL,                   -- seconds into the call
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    evidence TEXT NOT NULL,            -- JSON
    actions TEXT NOT NULL,             -- JSON list
    created_at REAL NOT NULL
);
CREATE INDEX alerts_call ON alerts(call_id, t);
CREATE INDEX alerts_created ON alerts(created_at);
CREATE TABLE alert_clears (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls(id),
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    alert_id INTEGER REFERENCES alerts(id),
    created_at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT 'recovered'   -- events.CLEAR_REASONS
);
CREATE TABLE cue_snapshots (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls(id),
    channel TEXT NOT NULL,
    t REAL NOT NULL,
    cues TEXT NOT NULL                 -- JSON of the CuesEvent
);
CREATE INDEX cue_snapshots_call ON cue_snapshots(call_id, channel, t);
CREATE TABLE transcript (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls(id),
    channel TEXT NOT NULL,
    t REAL NOT NULL,
    start REAL,
    "end" REAL,
    text TEXT NOT NULL,
    words TEXT NOT NULL                -- JSON list of {word, start, end, conf}
);
CREATE INDEX transcript_call ON transcript(call_id, start);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    target TEXT NOT NULL,              -- e.g. the webhook URL
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL,
    posted_id INTEGER,                 -- the alert id posted when not alert_id (posted from memory first)
    posted_by TEXT,                    -- the daemon id the delivering post went under, NULL before it
    UNIQUE (alert_id, target)
);
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE TABLE alert_acks (
    alert_id INTEGER PRIMARY KEY,      -- the id the console knows the alert by: alerts.id, or deliveries.posted_id
    acked_by TEXT NOT NULL,            -- the name the supervisor gave on the console
    acked_at REAL NOT NULL,            -- when (unix seconds, the console's clock)
    taken_at REAL NOT NULL             -- when the daemon took it (unix seconds)
);
CREATE TABLE alert_words (
    alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),
    word TEXT NOT NULL CHECK (word IN ('handled', 'false_alarm')),
    note TEXT NOT NULL DEFAULT '',     -- the agent's short note ('' for none)
    said_at REAL NOT NULL,             -- when the agent said it (unix seconds): a later word replaces it
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'unsent')),
    attempts INTEGER NOT NULL DEFAULT 0,   -- posts of this word to the webhook that failed
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    delivered_at REAL
);
"""

_TABLES = frozenset({"calls", "alerts", "alert_clears", "cue_snapshots", "transcript", "deliveries"})
"""The tables every schema version has."""
_TABLES_FROM = MappingProxyType({"alert_acks": 5, "alert_words": 6})
"""The tables a later schema version added, with the version that did."""
_IDS_KEPT = ("calls", "alerts", "deliveries")
"""The tables whose ids leave the database: call ids name the daemon's call files, the reports and a
batch table's ``db_call_id``; alert ids key the supervisor console's alerts; delivery ids go out
with each webhook post. None is ever given twice (:data:`SCHEMA_VERSION`)."""


def _keeps_ids(conn: sqlite3.Connection, table: str) -> bool:
    """Whether ``table`` never gives an id twice (made with ``AUTOINCREMENT``), or is not there (a
    database not made yet)."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return row is None or "AUTOINCREMENT" in str(row[0]).upper()


def _ids_given_again(conn: sqlite3.Connection) -> bool:
    """Whether a table of :data:`_IDS_KEPT` may give an id again (one made before ``AUTOINCREMENT``)."""
    return not all(_keeps_ids(conn, table) for table in _IDS_KEPT)


def _too_new(p: Path, version: int) -> SchemaTooNew:
    return SchemaTooNew(f"{p}: database schema version {version} is newer than this callmonitor "
                      f"understands ({SCHEMA_VERSION}); upgrade call-monitor")


def make_or_upgrade(conn: sqlite3.Connection, p: Path, version: int) -> None:
    """Make callmonitor's tables in the database on ``conn`` (read at schema ``version``) when it has none,
    or bring one of an older release up to :data:`SCHEMA_VERSION` in place (``calls.agent`` and the ids
    of :data:`_IDS_KEPT` too), in one write transaction; nothing when it is up to date."""
    if version < SCHEMA_VERSION or not _has_agent(conn) or _ids_given_again(conn):
        with transaction(conn, "BEGIN IMMEDIATE"):
            # re-check inside the write lock: another process may have just created or migrated it
            now = conn.execute("PRAGMA user_version").fetchone()[0]
            if now > SCHEMA_VERSION:
                raise _too_new(p, now)
            if now == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            elif now < SCHEMA_VERSION:
                if now < 2:
                    _migrate_1_to_2(conn, p)
                if now < 3:
                    _migrate_2_to_3(conn, p)
                if now < 4:
                    _migrate_3_to_4(conn, p)
                if now < 5:
                    _migrate_4_to_5(conn, p)
                _migrate_5_to_6(conn, p)
            if now < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            _add_agent(conn)
            _keep_ids(conn)


def _migrate_1_to_2(conn: sqlite3.Connection, p: Path) -> None:
    """Add ``alert_clears.reason``. Version 1 wrote a clear for every alert still raised at the
    end of a call, so clears at (or after) the call's end become ``call_ended``."""
    _add_column(conn, p, 1, "alert_clears", "reason TEXT NOT NULL DEFAULT 'recovered'")
    conn.execute("UPDATE alert_clears SET reason = 'call_ended' WHERE t >= "
                 "(SELECT duration_s FROM calls WHERE calls.id = alert_clears.call_id) - 0.001")


def _migrate_2_to_3(conn: sqlite3.Connection, p: Path) -> None:
    """Add ``calls.channels``; the calls stored before keep NULL (their layout is not known)."""
    _add_column(conn, p, 2, "calls", "channels TEXT")


def _migrate_3_to_4(conn: sqlite3.Connection, p: Path) -> None:
    """Add ``deliveries.posted_id``; the rows stored before keep NULL (posted under their alert's id)."""
    _add_column(conn, p, 3, "deliveries", "posted_id INTEGER")


def _migrate_4_to_5(conn: sqlite3.Connection, p: Path) -> None:
    """Add table ``alert_acks``, empty (the daemon kept no acknowledgement before)."""
    _add_table(conn, p, 4, "alert_acks")


def _migrate_5_to_6(conn: sqlite3.Connection, p: Path) -> None:
    """Add table ``alert_words``, empty (no agent said a word on an alert before)."""
    _add_table(conn, p, 5, "alert_words")


def _add_table(conn: sqlite3.Connection, p: Path, version: int, table: str) -> None:
    """Make ``table`` as :data:`_SCHEMA` makes it in a database at schema ``version``; one that has
    it already is a damaged database (a version's tables with the next one's)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
        raise _next_versions(p, version, table)
    conn.execute(next(s for s in statements(_SCHEMA) if s.startswith(f"CREATE TABLE {table} (")))


def _add_column(conn: sqlite3.Connection, p: Path, version: int, table: str, column: str) -> None:
    """Add ``column`` (its name and type) to ``table`` of a database at schema ``version``; a
    table that has it already is a damaged database (a version's tables with the next one's)."""
    name = column.split()[0]
    if name in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
        raise _next_versions(p, version, table)
    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


def _next_versions(p: Path, version: int, table: str) -> StoreError:
    """A database at schema ``version`` holding the next version's ``table`` (or its column): damaged."""
    return StoreError(f"{p}: damaged callmonitor database (schema version {version} with a version "
                      f"{version + 1} {table} table)")


def _has_agent(conn: sqlite3.Connection) -> bool:
    """Whether the database has the columns that came without a version (:data:`SCHEMA_VERSION`):
    ``calls.agent`` and ``deliveries.posted_by``."""
    return ("agent" in {r[1] for r in conn.execute("PRAGMA table_info(calls)")}
            and "posted_by" in {r[1] for r in conn.execute("PRAGMA table_info(deliveries)")})


def _add_agent(conn: sqlite3.Connection) -> None:
    """Add ``calls.agent`` and ``deliveries.posted_by`` (see :data:`SCHEMA_VERSION`) unless there."""
    if "agent" not in {r[1] for r in conn.execute("PRAGMA table_info(calls)")}:
        conn.execute("ALTER TABLE calls ADD COLUMN agent TEXT")
    if "posted_by" not in {r[1] for r in conn.execute("PRAGMA table_info(deliveries)")}:
        conn.execute("ALTER TABLE deliveries ADD COLUMN posted_by TEXT")


def _keep_ids(conn: sqlite3.Connection) -> None:
    """Give the tables of :data:`_IDS_KEPT` made before ``AUTOINCREMENT`` (see
    :data:`SCHEMA_VERSION`) their ids for good: each is made again as :data:`_SCHEMA` makes it,
    with its rows, ids and indexes (SQLite's way to change a table, with foreign keys off; the
    other tables reference it by name). Their ids go on from the highest left; ids a purge
    deleted before may come back once, so the database takes a new
    :meth:`~monitor.delivery.store.Store.instance_id`: a supervisor console keys alerts by it and never
    takes a new alert for one it has."""
    remade = [table for table in _IDS_KEPT if not _keeps_ids(conn, table)]
    for table in remade:
        remake_table(conn, _SCHEMA, table)
    if remade and conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
        conn.execute("DELETE FROM meta WHERE key LIKE 'instance%'")
