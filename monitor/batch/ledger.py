"""The client's store for a batch: each scored call written in one transaction with its ledger row.

:class:`BatchStore` is the ordinary :class:`~monitor.delivery.store.Store` (the calls, alerts, clears,
cue snapshots, transcript and summary go in exactly as ``replay`` writes them) plus a
``batch_calls`` ledger: which file content was scored with which configuration, into which
stored call, and the call's row of the per-call table. A call and its ledger row are committed
together, so a batch killed at any point leaves every call either complete and recorded, or
absent: a rerun with ``--resume`` neither loses nor duplicates one.

A ledger row is keyed on the legs the call was scored from (:meth:`CallJob.legs`: a mono
recording's caller is channel 0 and it has no agent, whatever legs were asked). Earlier releases
keyed a mono recording's row on the legs asked; :data:`_REKEY_MONO` moves such rows to the
key they are looked up by when the ledger is opened. A call of two files (:attr:`CallJob.agent_path`)
is keyed on both: its ``agent_path``, and a content hash of both files' (a changed agent's file is
new content, scored again by ``--resume``). A ledger of an earlier release, without ``agent_path``,
is made again with it when opened (:func:`_add_key_columns`), its rows kept as calls of one recording.
A call is keyed on its holds too (a manifest's ``hold``, as :func:`~monitor.capture.holds.holds_text`
writes them, '' for none): a call whose holds changed is scored again by ``--resume``, and one with
none keeps the key of a ledger written before holds were kept, to which the column is added ('').
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator, Sequence

from ..events import AlertClearedEvent, AlertEvent, CallSummaryEvent, CuesEvent, Event, WordsEvent
from ..capture.holds import holds_text
from ..capture.sources import RecordingFlaws, leg_channels
from ..delivery.dblock import DatabaseLock
from ..delivery.store import Store
from ..delivery.sqlite_file import empty_log, remake_table, statements, transaction
from ..delivery.store_errors import StoreError
from ..config import StorageConfig
from ..pipeline import stored_notes, words_stored
from .inputs import CallJob
from .table import legs_same_of, legs_swapped_of, quiet_legs_of

_LEDGER = """
CREATE TABLE IF NOT EXISTS batch_calls (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    caller_channel INTEGER NOT NULL,
    agent_channel INTEGER NOT NULL,    -- -1: no agent leg
    content_hash TEXT NOT NULL,        -- BLAKE2b-128 of the file's bytes (two files: the caller's+the agent's)
    config_hash TEXT NOT NULL,         -- of the effective configuration that scores a call
    call_id INTEGER NOT NULL REFERENCES calls(id),
    row TEXT NOT NULL,                 -- JSON: the call's row of the per-call table
    scored_at REAL NOT NULL,
    agent_path TEXT NOT NULL DEFAULT '',  -- the agent's leg's own file, '' for a call of one recording
    holds TEXT NOT NULL DEFAULT '',       -- the caller's holds scored (as the table's hold column), '' for none
    UNIQUE (path, agent_path, caller_channel, agent_channel, holds, content_hash, config_hash)
);
CREATE INDEX IF NOT EXISTS batch_calls_path ON batch_calls(path, config_hash)
"""

_REKEY_MONO = """
UPDATE OR IGNORE batch_calls SET caller_channel = 0, agent_channel = -1
WHERE json_extract(row, '$.channels') = 1 AND NOT (caller_channel = 0 AND agent_channel = -1)
"""
"""Rows of mono recordings keyed on the legs asked (as earlier releases wrote them) moved to the
legs scored. A row whose new key another row already holds (the same content scored again under
the new key) is left as it is: its call is still stored, and a purge still deletes the two together."""


def _add_key_columns(conn: sqlite3.Connection) -> None:
    """A ledger of an earlier release, keyed without ``agent_path`` or ``holds``, made again with
    them (SQLite changes a table's key by making it again:
    :func:`~monitor.delivery.sqlite_file.remake_table`), its rows kept, as calls of one recording
    (``agent_path`` '') with no holds (``holds`` ''); nothing when it has the columns."""
    if not {"agent_path", "holds"} <= {r[1] for r in conn.execute("PRAGMA table_info(batch_calls)")}:
        remake_table(conn, _LEDGER.replace(" IF NOT EXISTS", ""), "batch_calls")


class BatchLock(DatabaseLock):
    """One batch per database at a time: the daemon's kind of lock (an ``flock`` the kernel drops
    however the batch ends, its pid in the file), on ``<database>.batch.lock``, which a daemon
    recording into the same database does not take. Two batches storing into one database at once
    each scored what the other was scoring (the ledger ``--resume`` reads said neither scored yet):
    every call stored twice, with no warning, the ledger naming the last one's calls alone."""

    SUFFIX = ".batch.lock"
    NAME = "batch lock"

    def in_use(self, holder: str) -> str:
        return (f"{self.db}: another call-monitor batch is storing its calls in it (pid {holder}); one batch per "
                "database at a time: once it has ended, the same command with --resume skips the calls it scored "
                "(or give this one another --db)")


class BatchStore(Store):
    """A :class:`Store` whose writes can be grouped into one transaction (:meth:`atomic`)."""

    _deferred = False

    @classmethod
    def open(cls, path: Any, **kw: Any) -> "BatchStore":  # type: ignore[override]
        store = super().open(path, **kw)
        try:
            with store._lock, transaction(store._conn, "BEGIN IMMEDIATE"):
                for statement in statements(_LEDGER):
                    store._conn.execute(statement)
                _add_key_columns(store._conn)
                store._conn.execute(_REKEY_MONO)
        except Exception as exc:
            store.close()
            raise StoreError(f"{path}: cannot add the batch ledger ({exc})") from None
        return store  # type: ignore[return-value]

    def _commit(self) -> None:
        if not self._deferred:
            super()._commit()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Every write inside the block is committed at its end, or none is (on an exception)."""
        with self._lock:
            self._commit()
            self._deferred = True
            try:
                yield
            except BaseException:
                self._deferred = False
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._deferred = False
            self._commit()

    # ------------------------------------------------------------------ the ledger

    def known_hashes(self, job: CallJob, config_hash: str) -> dict[tuple[int, int], str]:
        """The content hash this path was last scored with under ``config_hash``, for each pair of
        legs it may be scored on (:meth:`CallJob.legs`: the asked ones, or a mono recording's);
        the worker, which reads the recording's channel count, takes the one of its legs."""
        known = {}
        for legs in {job.legs(2), job.legs(1)}:
            rows = self._read("SELECT content_hash FROM batch_calls WHERE path = ? AND agent_path = ? AND "
                              "caller_channel = ? AND agent_channel = ? AND holds = ? AND config_hash = ? "
                              "ORDER BY id DESC LIMIT 1", (job.path, job.agent_path, *legs, holds_text(job.holds),
                                                           config_hash))
            if rows:
                known[legs] = rows[0][0]
        return known

    def scored_row(self, job: CallJob, channels: int, content_hash: str,
                   config_hash: str) -> dict[str, Any] | None:
        """The table row stored with the call of ``job`` scored from this content under
        ``config_hash`` in a recording of ``channels`` channels, or None."""
        rows = self._read("SELECT row FROM batch_calls WHERE path = ? AND agent_path = ? AND caller_channel = ? AND "
                          "agent_channel = ? AND holds = ? AND content_hash = ? AND config_hash = ?",
                          (job.path, job.agent_path, *job.legs(channels), holds_text(job.holds), content_hash,
                           config_hash))
        return json.loads(rows[0][0]) if rows else None

    def forget_words(self, job: CallJob) -> int:
        """Delete the words of every call the ledger names for ``job``'s files (its recording, and
        its agent's of a call of two files), whatever the content, legs, holds and configuration
        they were scored with (a call scored under ``storage.transcripts``, and a ``--resume`` under
        false now), gone from the write-ahead log too; the number of calls that held any."""
        calls = "SELECT call_id FROM batch_calls WHERE path = ? AND agent_path = ?"
        with self.atomic():
            held = int(self._read(f"SELECT COUNT(DISTINCT call_id) FROM transcript WHERE call_id IN ({calls})",
                                  (job.path, job.agent_path))[0][0])
            if held:
                self._write(f"DELETE FROM transcript WHERE call_id IN ({calls})", (job.path, job.agent_path),
                            commit=True)
        if held:
            with self._lock:
                empty_log(self._conn)  # the deleted rows' frames left the log
        return held

    def ledger_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM batch_calls")[0][0])

    def store_call(self, job: CallJob, events: Sequence[Event], row: dict[str, Any], fingerprint: str = "", *,
                   storage: StorageConfig) -> int:
        """Write one scored call as ``replay`` writes it under ``storage`` (its words only under
        ``storage.transcripts``), with the recording's ``fingerprint`` and its flaws
        (:func:`flaws_of_row`), and its ledger row, in one transaction. Returns the stored call's id
        (also set as the row's ``db_call_id``)."""
        with self.atomic():
            call_id = self.start_call(job.path, channels=leg_channels(row["channels"], job.caller_channel,
                                                                    job.agent_channel))
            self._replay_writes(call_id, events, stored_notes(fingerprint=fingerprint or None,
                                                              flaws=flaws_of_row(row)), storage)
            row = dict(row, db_call_id=call_id)
            self._write("INSERT OR REPLACE INTO batch_calls (path, agent_path, caller_channel, agent_channel, holds, "
                        "content_hash, config_hash, call_id, row, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (job.path, job.agent_path, *job.legs(row["channels"]), holds_text(job.holds),
                         row["content_hash"], row["config_hash"], call_id, json.dumps(row), time.time()), commit=True)
        return call_id

    def _replay_writes(self, call_id: int, events: Sequence[Event], notes: dict[str, Any],
                       storage: StorageConfig) -> None:
        """The store calls :class:`~monitor.pipeline.CallPipeline` makes during a replay under
        ``storage``, in its order, ``notes`` kept with the summary (:func:`~monitor.pipeline.stored_notes`)."""
        baseline_stored = False
        for ev in events:
            if isinstance(ev, CuesEvent):
                if ev.baseline_ready and not baseline_stored:
                    self.set_baseline(call_id, _summary(events).baseline)
                    baseline_stored = True
                self.add_cues(call_id, ev)
            elif isinstance(ev, AlertEvent):
                self.add_alert(call_id, ev)
            elif isinstance(ev, AlertClearedEvent):
                self.add_clear(call_id, ev)
            elif isinstance(ev, WordsEvent) and words_stored(storage, ev):
                self.add_words(call_id, ev)
            elif isinstance(ev, CallSummaryEvent):
                self.end_call(call_id, ev.duration_s, replace(ev, call_id=call_id).to_dict() | notes)


def flaws_of_row(row: dict[str, Any]) -> RecordingFlaws:
    """A scored call's recording flaws from its row of the table: broken off where its audio ends
    (the call's length, as the batch's warning says it), what was wrong with its samples, its two
    legs the same audio, its legs read the wrong way round, each leg too quiet to measure."""
    return RecordingFlaws(row["duration_s"] if row.get("truncated") else None, row.get("problems") or "",
                          legs_swapped_of(row), quiet_legs_of(row), legs_same_of(row))


def _summary(events: Sequence[Event]) -> CallSummaryEvent:
    return next(e for e in reversed(events) if isinstance(e, CallSummaryEvent))
