"""A broken database never costs an alert: disk full, damaged pages, a held lock, a closed
file, two daemons, a crash mid-call, a read-only filesystem.

Disk-full cases run on a real small tmpfs (skipped with the reason where mounting is not
allowed); everything else on real SQLite files.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from conftest import (ALERTING_CALL as CALL, PERMISSIONS_BIND, PY, ROOT, bare_sqlite_file, call_monitor, call_monitor_here, fifo_writer,
                      fill, opener_taking_the_lock, replayed_under_a_lock, stopped_at, wait_for)

from monitor.config import load_config
from monitor.delivery.call_files import replayed_series_name
from monitor.delivery.dblock import DatabaseInUse, DatabaseLock
from monitor.events import AlertAckedEvent, AlertEvent, CuesEvent
from monitor.pipeline import CallPipeline, run_source
from monitor.capture.sources import FileSource
from monitor.delivery.store import Store
from monitor.delivery.store_errors import StoreError
from monitor.delivery.store_guard import StoreGuard
from monitor.delivery.sinks.webhook import MEMORY_ID_BASE, WebhookSink


def cli(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """``call-monitor ARGS``: a database problem is said within two minutes."""
    return call_monitor(*args, timeout=timeout, **kw)


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr


# --------------------------------------------------------------------------- disk full


def test_a_full_disk_mid_call_loses_no_alert_and_writes_them_when_space_returns(tmpfs, reference_alerts,
                                                                               monitor_logs):
    cfg = load_config(None, user_config=False)
    logs = monitor_logs
    store = Store.open(tmpfs / "e.db")
    guard = StoreGuard(store, retry_s=0.0)
    src = FileSource(CALL, block_s=2.0)
    pipeline = CallPipeline(cfg, src.rate, src.legs, store=guard, source="call")
    state = {}

    def disk_fills_then_frees(event) -> None:
        if event.type == "cues" and event.t >= 60 and "filler" not in state:
            state["filler"] = fill(tmpfs)
        if event.type == "cues" and event.t >= 150 and "freed" not in state:
            state["freed"] = True
            state["held_at_free"] = guard.held
            state["filler"].unlink()

    events = run_source(pipeline, src.chunks(), [disk_fills_then_frees])
    alerts = [e for e in events if e.type == "alert"]
    assert [(a.kind, a.t) for a in alerts] == reference_alerts
    unstored = [a for a in alerts if not a.stored]
    assert unstored and all(60 <= a.t <= 150 for a in unstored)
    errors = [m for level, m in logs if level == "error"]
    assert len(errors) == 1 and "the disk is full" in errors[0] and "\n" not in errors[0]
    assert state["held_at_free"] >= len(unstored)
    assert guard.held == 0 and any("works again" in m for _, m in logs)
    stored = [(a.event.kind, a.event.t) for a in store.list_alerts()]
    assert stored == reference_alerts, "what was held is written once the disk has room"
    assert store.get_call(pipeline.call_id).ended_at is not None
    store.close()


def test_alerts_held_through_a_full_disk_keep_the_time_they_were_raised_and_the_recovery_is_said(
        tmpfs, monitor_logs):
    """An alert and its clear held while the disk was full are stored with the times they were raised,
    not the time the database took them (`alerts` lists an incident's alerts when they happened, however
    long the disk stayed full); the database working again is a warning line, as its failure was an
    error line, so that the journal of a daemon run without -v does not end on the failure."""
    from monitor.events import AlertClearedEvent
    store = Store.open(tmpfs / "e.db")
    guard = StoreGuard(store, retry_s=0.0)
    call = guard.start_call("live:softphone.monitor", time.time())
    filler = fill(tmpfs)
    raised = time.time()
    alert = guard.add_alert(call, AlertEvent(t=15.0, kind="slow_response", message="m"))
    guard.add_clear(call, AlertClearedEvent(t=40.0, kind="slow_response", reason="recovered"))
    assert alert.stored is False and guard.held == 2
    time.sleep(1.5)  # the disk stays full a while
    filler.unlink()
    assert guard.retry(force=True) and guard.held == 0
    (stored,) = store.list_alerts()
    assert stored.created_at == pytest.approx(raised, abs=0.5)
    store.close()
    with sqlite3.connect(tmpfs / "e.db") as conn:
        (cleared_at,) = conn.execute("SELECT created_at FROM alert_clears").fetchone()
    conn.close()
    assert cleared_at == pytest.approx(raised, abs=0.5)
    assert [level for level, m in monitor_logs if "held record(s) written" in m] == ["warning"]


def test_replay_onto_a_full_disk_prints_every_alert_with_one_error_line(tmpfs, reference_alerts):
    """The disk fills while the database is in use (another connection keeps its files open)."""
    db = tmpfs / "e.db"
    in_use = Store.open(db)
    fill(tmpfs)
    try:
        r = cli("replay", "--jsonl", "--no-transcribe", "--db", str(db), str(CALL))
    finally:
        in_use.close()
    no_traceback(r)
    alerts = [json.loads(line) for line in r.stdout.splitlines() if '"alert"' in line]
    alerts = [a for a in alerts if a["type"] == "alert"]
    assert [(a["kind"], a["t"]) for a in alerts] == reference_alerts
    assert all(a["stored"] is False for a in alerts)
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert r.returncode == 1 and len(errors) == 1, r.stderr  # the failure, with what stayed unwritten
    assert "the disk is full" in errors[0] and "could not be written" in errors[0]


# --------------------------------------------------------------------------- damaged, locked, closed


@dataclass(frozen=True)
class Replayed:
    """A replay that went well: the database it wrote and what it printed."""
    db: Path
    stdout: str

    def copy(self, db: Path) -> Path:
        """A copy at ``db`` of the database, as the replay left it."""
        db.write_bytes(self.db.read_bytes())
        return db


@pytest.fixture(scope="module")
def alerting_replay(tmp_path_factory) -> Replayed:
    """The alerting call replayed once (``--jsonl``) into a database of its own (call 1), its
    write-ahead log folded into the file: read by the tests, which change only copies of it."""
    db = tmp_path_factory.mktemp("alerting") / "e.db"
    r = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", str(db), str(CALL))
    assert r.returncode == 0, r.stderr
    c = sqlite3.connect(db)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    assert sorted(p.name for p in db.parent.iterdir()) == sorted([replayed_series_name(1, db), "e.db"])  # and what its report draws
    return Replayed(db, r.stdout)


@pytest.fixture
def recorded_db(alerting_replay, tmp_path) -> Path:
    """A database of the test's own, holding the alerting call replayed."""
    return alerting_replay.copy(tmp_path / "e.db")


def test_damaged_pages_behind_a_valid_header_are_one_line_in_every_command(recorded_db, tmp_path):
    """Every page but the header's overwritten: each command says in one line naming the file that it
    is damaged (not that it is no callmonitor database) and exits non-zero; replay finds it as it
    opens the database, before any audio, and replays nothing."""
    raw = bytearray(recorded_db.read_bytes())
    page = 4096
    assert len(raw) > 4 * page
    rng = np.random.default_rng(7)
    raw[page:len(raw)] = rng.bytes(len(raw) - page)  # the header page stays valid
    recorded_db.write_bytes(bytes(raw))
    for args in (["alerts", "--db", str(recorded_db)],
                 ["replay", "--jsonl", "--no-transcribe", "--db", str(recorded_db), str(CALL)],
                 ["purge", "--older-than", "1d", "--db", str(recorded_db)],
                 ["report", "1", "--db", str(recorded_db), "-o", str(tmp_path / "r.html")]):
        r = cli(*args)
        no_traceback(r)
        errors = [line for line in r.stderr.splitlines() if line.startswith("call-monitor: error:")]
        assert r.returncode != 0 and errors, (args, r.stderr)
        assert all(str(recorded_db) in line for line in errors), r.stderr
        assert all("damaged" in line for line in errors), r.stderr
        if args[0] == "replay":  # found at the open, before anything was replayed
            assert errors[0].endswith(": nothing was replayed") and not r.stdout, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


FOREIGN_ROWS = {
    "alert evidence": ("INSERT INTO alerts (call_id, t, kind, severity, message, evidence, actions, created_at) "
                       "VALUES (1, 12.5, 'custom_kind', 'info', 'x', 'not json', '[]', 1.7e9)",
                       "alert {id}: evidence is not JSON"),
    "alert time": ("INSERT INTO alerts (call_id, t, kind, severity, message, evidence, actions, created_at) "
                   "VALUES (1, 'abc', 'custom_kind', 'info', 'x', '{}', '[]', 1.7e9)",
                   "alert {id}: t is not a number ('abc')"),
    "alert evidence a list": ("INSERT INTO alerts (call_id, t, kind, severity, message, evidence, actions, "
                              "created_at) VALUES (1, 1.0, 'k', 'info', 'x', '[1]', '[]', 1.7e9)",
                              "alert {id}: evidence is not a JSON object"),
    "alert actions": ("INSERT INTO alerts (call_id, t, kind, severity, message, evidence, actions, created_at) "
                      "VALUES (1, 1.0, 'k', 'info', 'x', '{}', '{}', 1.7e9)",
                      "alert {id}: actions is not a JSON list"),
    "alert message": ("INSERT INTO alerts (call_id, t, kind, severity, message, evidence, actions, created_at) "
                      "VALUES (1, 1.0, 'k', 'info', X'6869', '{}', '[]', 1.7e9)",
                      "alert {id}: message is not text (b'hi')"),
    "alert raised when": ("INSERT INTO alerts (call_id, t, kind, severity, message, evidence, actions, created_at) "
                          "VALUES (1, 1.0, 'k', 'info', 'x', '{}', '[]', 'yesterday')",
                          "alert {id}: created_at is not a number ('yesterday')"),
    "outbox attempts": ("INSERT INTO deliveries (alert_id, target, attempts, next_attempt_at, created_at) "
                        "VALUES (1, 'http://127.0.0.1:9/hook', 'many', 0, 0)",
                        "outbox row {id}: attempts is not a number ('many')"),
    "call summary": ("UPDATE calls SET summary = '{aborted}' WHERE id = 1", "call 1: summary is not JSON"),
    "call duration": ("UPDATE calls SET duration_s = 'long' WHERE id = 1", "call 1: duration_s is not a number ('long')"),
    "cue snapshot": ("INSERT INTO cue_snapshots (call_id, channel, t, cues) VALUES (1, 'caller', 7.0, "
                     "'{\"t\": \"seven\", \"channel\": \"caller\"}')",
                     "cue snapshot {id}: cues' t is not a number ('seven')"),
    "transcript line": ("INSERT INTO transcript (call_id, channel, t, text, words) VALUES (1, 'caller', 3.0, "
                        "'help', 'help')", "transcript line {id}: words is not JSON"),
}
"""Rows another program (or a hand with the sqlite3 shell) wrote into a callmonitor database, and
what is said of each: the row and its problem."""


@pytest.mark.parametrize("case", list(FOREIGN_ROWS))
def test_a_row_holding_what_callmonitor_never_writes_is_one_line_naming_the_database_and_the_row(
        alerting_replay, tmp_path, case):
    """A value no release writes (JSON that is none, a time that is text) makes the database a
    damaged callmonitor database to every command that reads the row, as missing tables do: one
    line naming the database, the row and the problem, exit 2, no traceback, the database as it was."""
    db = alerting_replay.copy(tmp_path / "e.db")
    sql, said = FOREIGN_ROWS[case]
    con = sqlite3.connect(db)
    row_id = con.execute(sql).lastrowid
    con.commit()
    con.close()
    before = db.read_bytes()
    commands = [("report", "1", "-o", str(tmp_path / "r.html"))]
    if not case.startswith(("cue", "transcript")):  # the rows `alerts` reads: the alerts and their calls
        commands.append(("alerts",))
    for command in commands:
        r = cli(*command, "--db", str(db))
        no_traceback(r)
        assert r.returncode == 2, (command, r.stderr)
        assert r.stderr == f"call-monitor: error: {db}: damaged callmonitor database ({said.format(id=row_id)})\n"
        assert db.read_bytes() == before and not (tmp_path / "r.html").exists()


def test_a_database_locked_by_another_writer_is_one_line_within_seconds(recorded_db):
    """replay still prints the call's alerts (marked as not stored), with one error line."""
    holder = sqlite3.connect(recorded_db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO calls (started_at, source) VALUES (0, 'holder')")
    try:
        t0 = time.monotonic()
        r = cli("replay", "--no-transcribe", "--db", str(recorded_db), str(CALL))
        took = time.monotonic() - t0
        no_traceback(r)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and "locked" in lines[0], r.stderr
        assert "[not stored: database failing]" in r.stdout
        assert took < 60
        r = cli("alerts", "--db", str(recorded_db))
        no_traceback(r)
        assert r.returncode in (0, 2) and len(r.stderr.strip().splitlines()) <= 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_database_another_program_locks_mid_call_holds_the_analysis_up_once_not_at_each_attempt(
        tmp_path, reference_alerts, monitor_logs):
    """Another program takes the database's write lock at 80 s of the call and keeps it past 160 s
    (``BEGIN EXCLUSIVE``, a real SQLite lock of another connection). Only the write that finds it
    locked waits SQLite's busy timeout (2 s): the guard's retries, once a second, and the writes of
    cue snapshots fail at once while it stays locked, so the analysis goes on at its pace. Each of
    them waited 2 s in turn: the live daemon fell behind the capture by a second each second the
    lock was held, dropped the audio and raised a critical 26 s late. The alerts raised meanwhile
    reach the sinks (not stored), and are written once the lock is released."""
    from monitor.delivery.store_files import BUSY_TIMEOUT_S
    cfg = load_config(None, user_config=False)
    store = Store.open(tmp_path / "e.db")
    guard = StoreGuard(store)  # retried once a second, as the daemon's
    src = FileSource(CALL, block_s=2.0)
    holder = sqlite3.connect(tmp_path / "e.db", isolation_level=None)
    held: dict = {"waits": 0, "last": None}

    def lock_from_80_s_to_160_s(event) -> None:
        now = time.monotonic()
        if held["last"] is not None and now - held["last"] >= BUSY_TIMEOUT_S * 0.75:
            held["waits"] += 1  # the pipeline waited out the busy timeout between two events
        if event.type == "cues" and event.t >= 80 and "since" not in held:
            store.flush()  # the snapshots batched so far committed: another program takes the lock between
            holder.execute("BEGIN EXCLUSIVE")
            held["since"] = event.t
        if "since" in held and "until" not in held:
            held["last"] = now
            if event.type == "cues" and event.t >= 160 or held["waits"] > 1:  # more: the test fails at once
                holder.execute("ROLLBACK")
                held["until"], held["last"] = event.t, None

    try:
        events = run_source(CallPipeline(cfg, src.rate, src.legs, store=guard, source="call"), src.chunks(),
                            [lock_from_80_s_to_160_s])
    finally:
        holder.close()
    alerts = [e for e in events if e.type == "alert"]
    assert held["waits"] == 1 and held["until"] >= 160, held
    assert [(a.kind, a.t) for a in alerts] == reference_alerts
    unstored = [(a.kind, a.t) for a in alerts if not a.stored]  # and those raised before the next retry after 160 s
    assert set(unstored) >= {(k, t) for k, t in reference_alerts if 80 <= t <= 160} and min(t for _, t in unstored) >= 80
    assert guard.held == 0 and [(a.event.kind, a.event.t) for a in store.list_alerts()] == reference_alerts
    errors = [m for level, m in monitor_logs if level == "error"]
    assert len(errors) == 1 and "locked by another program" in errors[0]
    assert any("the database works again" in m for _, m in monitor_logs)
    store.close()


def test_once_a_locked_database_works_again_the_writes_made_without_the_guard_wait_for_a_lock_again(tmp_path):
    """While the database fails, the guard's attempts fail at once, without waiting for another
    program's lock; the store has one connection, which the writes made without the guard share (the
    webhook's deliveries, the agent's words, the retention's purge). Once the held records are
    written, a write under another program's new lock, released well within the busy timeout, waits
    for it and goes through. The attempt that wrote them left the connection not waiting: every write
    failed at once on any lock, still saying "(waited 2 s)", until the database failed again."""
    import threading
    store = Store.open(tmp_path / "e.db")
    guard = StoreGuard(store, retry_s=0.0)
    call = guard.start_call("live:test", time.time())
    holder = sqlite3.connect(tmp_path / "e.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    guard.add_alert(call, AlertEvent(t=1.0, kind="k", severity="warning", message="m"))  # waits, then fails
    guard.add_alert(call, AlertEvent(t=2.0, kind="k", severity="warning", message="m"))  # held at once
    assert guard.failing and guard.held == 2
    holder.execute("COMMIT")
    assert guard.retry(force=True) and not guard.failing and len(store.list_alerts()) == 2

    def lock_for_a_moment() -> None:
        holder.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(0.3)
        holder.execute("COMMIT")

    for write in (lambda: store.end_call(call, 1.0, {}, time.time()),  # without the guard
                  lambda: guard.add_alert(call, AlertEvent(t=3.0, kind="k", severity="warning", message="m"))):
        taken = threading.Event()
        other = threading.Thread(target=lock_for_a_moment)
        other.start()
        taken.wait(10)
        try:
            write()
        finally:
            other.join()
        assert not guard.failing
    assert store.get_call(call).ended_at is not None and len(store.list_alerts()) == 3
    holder.close()
    store.close()


@contextlib.contextmanager
def locked_by_sqlite3(db: Path) -> Iterator[None]:
    """Inside the block, the database ``db`` held by another program: ``sqlite3 DB "BEGIN EXCLUSIVE;"``,
    its shell left open (SQLite's own lock, taken before the block begins)."""
    holder = subprocess.Popen(["sqlite3", str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("BEGIN EXCLUSIVE;\nSELECT 'held';\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.kill()
        holder.wait()


def test_the_writes_made_around_the_guard_while_a_locked_database_fails_say_they_did_not_wait_for_the_lock(
        tmp_path, monitor_logs):
    """Another program holds the database (``sqlite3 DB "BEGIN EXCLUSIVE;"``): the guard's write that
    finds it failing waits the busy timeout for the lock, and says "(waited 2 s)"; then the store's
    connection waits no more while the guard knows it fails, and the writes made without the guard
    (the agent's word, the webhook's delivery marks, the retention's purge) fail at once. They said
    "(waited 2 s)" all the same; now they say that they did not wait. (Made before the guard's next
    attempt, they still waited the 2 s each: its failure now stops the connection waiting.)"""
    from monitor.delivery.words import keep_word
    db = tmp_path / "e.db"
    store = Store.open(db)
    guard = StoreGuard(store, retry_s=0.0)
    call = guard.start_call("live:test", time.time())
    alert = guard.add_alert(call, AlertEvent(t=1.0, kind="k", severity="warning", message="m"))
    delivery = store.enqueue_delivery(alert.alert_id, "webhook")
    said = []
    with locked_by_sqlite3(db):
        t0 = time.monotonic()
        guard.add_alert(call, AlertEvent(t=2.0, kind="k", severity="warning", message="m"))
        waited = time.monotonic() - t0
        for write in (lambda: keep_word(store, alert.alert_id, "handled", "", time.time()),
                      lambda: store.mark_delivered(delivery),
                      lambda: store.purge(time.time())):
            t0 = time.monotonic()
            with pytest.raises(StoreError) as failed:
                write()
            said.append((str(failed.value), time.monotonic() - t0))
    errors = [m for level, m in monitor_logs if level == "error"]
    assert guard.failing and waited >= 1.9 and len(errors) == 1, (waited, errors)
    assert errors[0].startswith(f"{db}: the database is locked by another program (waited 2 s); "), errors
    for error, took in said:
        assert error == f"{db}: the database is locked by another program (not waited for)" and took < 0.5, said
    store.close()


def test_a_purge_that_does_not_wait_and_the_emptying_of_the_log_fail_at_once_on_a_lock_and_then_wait_as_before(
        tmp_path):
    """Both go through one declaration of a block that waits for no lock (the daemon's purge at its
    start, and the checkpoint a deletion ends with, which must not hold up alerts): under another
    program's lock neither waits, and after them the connection waits the busy timeout again, as it
    did before them, or waits none while the store guard has it wait none."""
    from monitor.delivery.sqlite_file import empty_log
    from monitor.delivery.store_files import BUSY_TIMEOUT_S, lock_wait_s
    db = tmp_path / "e.db"
    store = Store.open(db)
    for waits in (True, False):
        store.wait_for_locks(waits)
        with locked_by_sqlite3(db):
            t0 = time.monotonic()
            with pytest.raises(StoreError, match="not waited for"):
                store.purge(time.time(), waits=False)
            empty_log(store._conn)
            assert time.monotonic() - t0 < 0.5
        assert lock_wait_s(store._conn) == (BUSY_TIMEOUT_S if waits else 0)
    store.close()


def test_the_cue_snapshots_a_failing_database_does_not_keep_are_said_as_it_fails_and_counted_once_it_works(
        tmp_path, monitor_logs):
    """They are not held, as alerts are: the one line saying the database fails says so; the line
    saying it works again counts them (one per leg every ``storage.snapshot_every_s``, as the
    database keeps them, not one per cue window). Both were silent: the snapshots of 80 s were gone
    unsaid behind "7 held record(s) written"."""
    import re
    cfg = load_config(None, user_config=False)
    store = Store.open(tmp_path / "e.db")
    guard = StoreGuard(store, retry_s=0.0)
    replayed_under_a_lock(CALL, store, guard, cfg=cfg)
    said = [(level, m) for level, m in monitor_logs if "not kept" in m]
    assert said[0] == ("error", f"{store.path}: the database is locked by another program (waited 2 s); alerts go on, "
                                "marked as not stored, and are written when the database works again; cue snapshots "
                                "and transcript lines are not kept meanwhile (a call's report shows the gap)"), said
    (again,) = [m for _, m in said if ": the database works again" in m]
    dropped = int(re.search(r"held record\(s\) written; (\d+) cue snapshot\(s\) not kept while it failed$", again)[1])
    assert dropped == guard.dropped == guard.dropped_of["add_cues"] and len(said) == 2
    kept = {(ch, t) for ch, t in sqlite3.connect(tmp_path / "e.db").execute("SELECT channel, t FROM cue_snapshots")}
    assert not any(80 < t < 160 for _, t in kept)
    legs = len({ch for ch, _ in kept})
    assert abs(dropped - legs * (160 - 80) / store.snapshot_every_s) <= legs  # each leg's, one every 5 s
    store.close()


def test_a_store_that_fails_mid_call_still_delivers_every_alert_to_every_sink(tmp_path, reference_alerts, monitor_logs):
    """The database file is closed under a running call (gone): every alert reaches the sinks,
    marked as not stored; one error line."""
    cfg = load_config(None, user_config=False)
    store = Store.open(tmp_path / "e.db")
    logs = monitor_logs
    guard = StoreGuard(store)
    src = FileSource(CALL, block_s=2.0)
    seen: list = []

    def sink(ev) -> None:
        if ev.type == "cues" and ev.t >= 30 and store._conn is not None:
            store.close()
        if ev.type == "alert":
            seen.append(ev)

    run_source(CallPipeline(cfg, src.rate, src.legs, store=guard, source="call"), src.chunks(), [sink])
    assert [(a.kind, a.t) for a in seen] == reference_alerts
    assert all(not a.stored for a in seen)
    assert len([m for level, m in logs if level == "error"]) == 1


def test_alert_cleared_events_carry_the_call_id(alerting_replay):
    clears = [json.loads(x) for x in alerting_replay.stdout.splitlines() if '"alert_cleared"' in x]
    assert clears and all(c["call_id"] == 1 for c in clears)


# --------------------------------------------------------------------------- alerts reads only


def test_alerts_never_creates_a_database(tmp_path):
    db = tmp_path / "new.db"
    r = cli("alerts", "--db", str(db))
    assert r.returncode == 2 and not db.exists()
    assert r.stderr.strip() == f"call-monitor: error: {db}: no database there (nothing has been recorded to it yet)"


def test_alerts_says_when_there_are_none_and_names_a_call_that_is_not_there(tmp_path):
    db = tmp_path / "e.db"
    store = Store.open(db)
    quiet = store.start_call("quiet.wav", time.time() - 60)
    store.end_call(quiet, 10.0)
    store.close()
    r = cli("alerts", "--db", str(db))
    assert r.returncode == 0 and r.stdout == "" and r.stderr == f"call-monitor: no alerts in {db}\n"
    r = cli("alerts", "--db", str(db), "--call", str(quiet), "--since", "2h")
    assert r.returncode == 0 and r.stderr == f"call-monitor: no alerts in call {quiet} since 2h in {db}\n"
    r = cli("alerts", "--db", str(db), "--jsonl")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""  # an empty stream is the answer
    r = cli("alerts", "--db", str(db), "--call", "99")
    assert r.returncode == 1 and r.stderr == f"call-monitor: error: call 99: no such call in {db}\n"


@pytest.mark.parametrize("number", ["9223372036854775808", "1" + "0" * 5000, "-1"],
                         ids=["past SQLite's integers", "more digits than int() reads", "negative"])
def test_alerts_refuses_a_call_id_no_call_can_have_as_the_options_error_not_a_traceback(tmp_path, number):
    """``--call`` takes 1 to SQLite's largest integer (a larger one cannot even be asked for), with the
    alerts and with their outcomes."""
    db = tmp_path / "e.db"
    Store.open(db).close()
    for asked in ((), ("--outcomes",)):
        r = call_monitor_here("alerts", *asked, "--call", number, "--db", db)
        assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.splitlines()[-1] == (f"call-monitor alerts: error: argument --call: {number!r} is no call id: "
                                             "give the call's id `call-monitor alerts` shows (a whole number from 1 "
                                             "to 9223372036854775807)")


def test_alerts_with_a_configuration_broken_elsewhere_lists_them_with_one_warning_and_refuses_one_that_may_name_the_database(
        recorded_db, tmp_path):
    """A configuration that cannot be loaded (a value a reload refused) stopped `alerts` too, which
    needs only the database. It lists them, from the database the broken file still names, after
    one warning line naming the file and its problem (exit 0). A file that is no TOML at all may be
    what names the database: without --db that stays one error line, exit 2; with --db it is the
    warning, and the alerts."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[storage]\ndb = "{recorded_db}"\n')
    listed = cli("alerts", "--config", cfg, env=env)
    assert listed.returncode == 0 and listed.stdout.count("\n") >= 1 and listed.stderr == "", listed.stderr
    cfg.write_text(f'[storage]\ndb = "{recorded_db}"\n[delivery]\nbell = 3\n')
    broken = cli("alerts", "--config", cfg, env=env)
    assert (broken.returncode, broken.stdout) == (0, listed.stdout)
    assert broken.stderr.splitlines() == [
        f"call-monitor: warning: configuration not loaded: {cfg}: delivery.bell: must be true or false, got 3; "
        f"the alerts are read from {recorded_db} (a reload or a start would refuse this configuration)"]
    cfg.write_text(f'[storage]\ndb = "{recorded_db}"\n[delivery\n')
    unread = cli("alerts", "--config", cfg, env=env)
    assert (unread.returncode, unread.stdout) == (2, "")
    (line,) = unread.stderr.splitlines()
    assert line.startswith(f"call-monitor: error: {cfg}: invalid TOML (")
    given = cli("alerts", "--config", cfg, "--db", recorded_db, env=env)
    assert (given.returncode, given.stdout) == (0, listed.stdout)
    (line,) = given.stderr.splitlines()
    assert line.startswith(f"call-monitor: warning: configuration not loaded: {cfg}: invalid TOML (")
    assert line.endswith(f"; the alerts are read from {recorded_db} (a reload or a start would refuse this "
                         "configuration)")


def test_alerts_with_a_status_socket_it_cannot_load_lists_them_and_says_no_daemon_is_asked(recorded_db, tmp_path):
    """`alerts` needs only where the database is, yet a `daemon.status_socket` that cannot be loaded
    refused it, with --db too (exit 2). It lists the alerts after one warning line naming the file
    and its problem, and saying that no daemon is asked where it records (the hint when a database
    has no alerts): the socket it would be asked at is what cannot be loaded."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    listed = cli("alerts", "--db", recorded_db, env=env)
    assert listed.returncode == 0 and listed.stdout.count("\n") >= 1 and listed.stderr == "", listed.stderr
    cfg = tmp_path / "c.toml"
    for named in ("", f'[storage]\ndb = "{recorded_db}"\n'):  # the database given by --db, or by the file
        cfg.write_text(f"{named}[daemon]\nstatus_socket = 5\n")
        given = ("--db", recorded_db) if not named else ()
        done = cli("alerts", "--config", cfg, *given, env=env)
        assert (done.returncode, done.stdout) == (0, listed.stdout), done.stderr
        assert done.stderr.splitlines() == [
            f"call-monitor: warning: configuration not loaded: {cfg}: daemon.status_socket: must be a string, got 5; "
            f"the alerts are read from {recorded_db} (a reload or a start would refuse this configuration; no daemon "
            "asked where it records: daemon.status_socket cannot be loaded)"]


def test_alerts_reads_a_database_on_a_read_only_filesystem(tmpfs, alerting_replay):
    db = alerting_replay.copy(tmpfs / "e.db")
    n = sum(1 for x in alerting_replay.stdout.splitlines() if '"type": "alert"' in x)
    ro = subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], capture_output=True, text=True)
    if ro.returncode != 0:
        pytest.skip(f"cannot remount read-only: {ro.stderr.strip()}")
    r = cli("alerts", "--jsonl", "--db", str(db))
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == n


# --------------------------------------------------------------------------- one daemon per database


def test_a_second_daemon_on_the_same_database_is_refused(tmp_path):
    db = tmp_path / "e.db"
    with DatabaseLock(db):
        r = cli("run", "--caller", "whatever", "--db", str(db), "--socket", str(tmp_path / "s2"), timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"call-monitor: error: {db}: already used by another call-monitor daemon "
                                f"(pid {os.getpid()}); one daemon per database (give this one another --db and --socket)")
    with DatabaseLock(db):  # released: it can be taken again
        pass


def test_a_link_planted_where_the_lock_file_belongs_is_refused_never_written_through(tmp_path, monkeypatch):
    """In a folder another user may write (a group's shared folder), a symbolic link put at
    ``FILE.lock`` would have the daemon write its pid over the file it points to (one of the agent's
    own); the lock is refused in one line naming the link, the file it points to left as it was.
    A FIFO or a socket there is no lock file either."""
    from monitor.delivery.store_errors import StoreError
    db, own = tmp_path / "e.db", tmp_path / "notes.txt"
    own.write_text("the agent's own file\n")
    (tmp_path / "e.db.lock").symlink_to(own)
    with pytest.raises(StoreError) as refused:
        DatabaseLock(db).acquire()
    assert str(refused.value) == (f"{tmp_path / 'e.db.lock'}: cannot create the daemon lock (a symbolic link, "
                                  "not a lock file: remove it)")
    assert own.read_text() == "the agent's own file\n"
    (tmp_path / "e.db.lock").unlink()
    os.mkfifo(tmp_path / "e.db.lock")
    with pytest.raises(StoreError, match="not a regular file: remove it"):
        DatabaseLock(db).acquire()
    (tmp_path / "e.db.lock").unlink()
    monkeypatch.chdir(tmp_path)  # a socket's path is short: its name alone
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind("e.db.lock")
        with pytest.raises(StoreError) as refused:
            DatabaseLock(db).acquire()
    assert str(refused.value) == f"{tmp_path / 'e.db.lock'}: cannot create the daemon lock (not a regular file: remove it)"


def test_a_second_daemon_given_a_symlink_to_the_database_is_refused(tmp_path):
    """The lock is the database file's, whichever path names it: a daemon given a symlink to a
    database another daemon records into is refused, and one given the database itself while a
    daemon runs on the symlink is too."""
    real, link = tmp_path / "data" / "e.db", tmp_path / "link.db"
    real.parent.mkdir()
    link.symlink_to(real)
    for held, given in ((real, link), (link, real)):
        with DatabaseLock(held):
            r = cli("run", "--caller", "whatever", "--db", str(given), "--socket", str(tmp_path / "s2"), timeout=30)
        assert r.returncode == 2
        assert r.stderr.strip() == (f"call-monitor: error: {given}: already used by another call-monitor daemon "
                                    f"(pid {os.getpid()}); one daemon per database (give this one another --db and "
                                    "--socket)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "link.db"]  # one lock file, beside the file


def test_a_daemon_start_that_fails_leaves_no_lock_file_nor_folder_and_a_database_there_as_it_was(
        tmp_path, alerting_replay):
    """`run` refused (a token file that is not there, a caller source that is not there): one
    line, exit 2, and nothing of its daemon lock left, neither the lock file nor the folders made
    for the database; a database there before stays byte for byte, with no lock file beside it."""
    new = tmp_path / "new" / "deeper" / "e.db"
    kept = tmp_path / "kept" / "e.db"
    kept.parent.mkdir()
    before = alerting_replay.copy(kept).read_bytes()
    for problem, options in (("/nope: no such token file", ["--webhook", "http://127.0.0.1:9/hook",
                                                            "--webhook-token-file", "/nope"]),
                             ("no input device or source named 'nowhere'", ["--no-wait-for-source"])):
        for db in (new, kept):
            r = cli("run", "--caller", "nowhere", "--no-transcribe", "--db", str(db), "--socket",
                    str(tmp_path / "s"), *options, timeout=30)
            assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and problem in r.stderr, r.stderr
            assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
            assert sorted(p.name for p in kept.parent.iterdir()) == ["e.db"] and kept.read_bytes() == before


@pytest.mark.parametrize("stop, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["Ctrl-C", "SIGTERM"])
def test_a_daemon_start_stopped_before_its_database_is_made_leaves_no_lock_file_nor_folder(tmp_path, stop, status):
    """Ctrl-C or SIGTERM while `run` starts (held here reading its webhook token file, a pipe nobody
    writes to, which comes before its database): the signal's exit status, one line saying the
    daemon never ran, no traceback and, as after a start that fails, nothing of its daemon lock
    left, neither the lock file nor the folders made for the database."""
    db = tmp_path / "new" / "deeper" / "e.db"
    token = tmp_path / "token"
    os.mkfifo(token)
    daemon = subprocess.Popen([PY, "-m", "monitor.cli", "run", "--caller", "nowhere", "--no-transcribe", "--db",
                               str(db), "--socket", str(tmp_path / "s"), "--webhook", "http://127.0.0.1:9/hook",
                               "--webhook-token-file", str(token)], cwd=ROOT, text=True,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.PIPE)
    try:
        held = fifo_writer(token)  # the start waits for the token
        assert db.with_name("e.db.lock").exists() and not db.exists()  # the lock is taken first
        daemon.send_signal(stop)
        said = daemon.communicate(timeout=60)[1]
        os.close(held)
    finally:
        daemon.kill()
    assert daemon.wait() == status, said
    assert "Traceback" not in said and "Exception ignored" not in said, said
    stopped = "interrupted" if stop == signal.SIGINT else "stopped by SIGTERM"
    assert said.splitlines()[-1] == (f"call-monitor: error: {stopped} while the daemon was starting: nothing was "
                                     "monitored or stored"), said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token"]


def test_a_stop_as_the_daemon_takes_its_lock_leaves_no_lock_file_nor_folder(tmp_path):
    """SIGTERM as `run` locks its new lock file (made, not yet locked): said as any stop while it
    starts, and nothing of the lock is left, as when it comes later."""
    done = stopped_at("fcntl:flock", "SIGTERM", "run", "--caller", "nowhere", "--no-transcribe", "--db",
                      tmp_path / "new" / "e.db", "--socket", tmp_path / "s")
    assert done.returncode == 143 and done.stderr == ("call-monitor: error: stopped by SIGTERM while the daemon was "
                                                      "starting: nothing was monitored or stored\n"), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_database_another_daemon_locked_while_this_one_started_stops_the_start(tmp_path):
    """A daemon that could not take the database's lock at start (its folder being made or
    removed meanwhile) takes it once the database opens: another daemon holding it by then stops
    this start, rather than this daemon running beside it with its alerts held as not stored."""
    from monitor.delivery.store_guard import open_or_pending
    db = tmp_path / "e.db"
    with DatabaseLock(db), pytest.raises(DatabaseInUse, match="already used by another call-monitor daemon"):
        open_or_pending(opener_taking_the_lock(db), db)


def test_a_daemon_started_at_the_same_moment_as_another_names_the_pid_of_the_one_holding_the_database(tmp_path):
    """Two daemons started at once on one database: the second found the lock taken an instant
    before the first wrote its pid in it, and said `(pid ?)`. It waits for the pid."""
    import fcntl
    import threading
    fd = os.open(tmp_path / "e.db.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # taken, the holder's pid not written yet
    writer = threading.Timer(0.1, os.pwrite, (fd, b"4242\n", 0))
    writer.start()
    try:
        with pytest.raises(DatabaseInUse, match=r"already used by another call-monitor daemon \(pid 4242\)"):
            DatabaseLock(tmp_path / "e.db").acquire()
    finally:
        writer.join()
        os.close(fd)


def test_the_lock_dies_with_its_process(tmp_path):
    db = tmp_path / "e.db"
    holder = subprocess.Popen([PY, "-c", "import sys, time; from monitor.delivery.dblock import DatabaseLock; "
                               f"DatabaseLock({str(db)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=f"pid {holder.pid}"):
            DatabaseLock(db).acquire()
    finally:
        holder.kill()
        holder.wait(5)
    lock_file = db.with_name("e.db.lock")
    assert lock_file.read_text() == f"{holder.pid}\n"  # a killed daemon's lock file stays, its lock gone
    taken = DatabaseLock(db).acquire()  # taken over, as any lock file nobody holds
    assert lock_file.read_text() == f"{os.getpid()}\n"
    taken.release()
    assert not lock_file.exists()


def test_a_lock_released_removes_its_file_but_never_one_put_in_its_place(tmp_path):
    """A daemon that stops leaves no lock file; should its file have been removed and another
    daemon have locked a new one meanwhile, the stop leaves that one, and its lock, alone."""
    db = tmp_path / "e.db"
    lock_file = db.with_name("e.db.lock")
    DatabaseLock(db).acquire().release()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    first = DatabaseLock(db).acquire()
    lock_file.unlink()  # removed by hand while the first daemon runs
    second = DatabaseLock(db).acquire()
    first.release()
    assert lock_file.read_text() == f"{os.getpid()}\n"
    with pytest.raises(DatabaseInUse):
        DatabaseLock(db).acquire()
    second.release()
    assert not lock_file.exists()


# --------------------------------------------------------------------------- interrupted calls


def test_calls_left_open_by_a_crash_are_closed_as_interrupted_on_the_next_start(tmp_path, monitor_logs):
    from monitor.daemon import Daemon

    store = Store.open(tmp_path / "e.db")
    crashed = store.start_call("live:caller=softphone.monitor", time.time() - 100)
    store.add_alert(crashed, AlertEvent(t=40.0, kind="slow_speech", message="m"))
    replayed = store.start_call("/some/file.wav", time.time() - 50)  # a replay's call is left alone

    class Silence:
        rate, legs = 8000, ("caller",)

        def chunks(self):
            from monitor.capture.sources import Chunk
            for i in range(3):
                yield Chunk(i * 1.0, np.zeros((8000, 1), np.float32))

        def stop(self):
            pass

    logs = monitor_logs
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    Daemon(cfg, Silence(), store, {}).run()
    call = store.get_call(crashed)
    assert call.ended_at is not None and call.summary == {"interrupted": True}
    assert call.ended_at >= call.started_at
    assert store.get_call(replayed).ended_at is None
    assert any(f"call {crashed}" in m and "interrupted" in m for _, m in logs)
    store.close()


def test_calls_left_open_are_closed_once_the_database_works_again_not_only_at_the_next_start(tmp_path, monitor_logs):
    """The daemon starts on a database another program keeps locked (a call an earlier stop left
    open in it): the closing fails, said in the database's one error line, and is tried again as
    what the guard holds is: once the lock goes, the call is closed as interrupted while the daemon
    listens, with its line. It was given up: closed only by the start after."""
    from monitor.daemon import Daemon
    from monitor.capture.sources import Chunk
    db = tmp_path / "e.db"
    store = Store.open(db)
    left_open = store.start_call("live:caller=softphone.monitor", time.time() - 100)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    seen: dict = {}

    def closed() -> bool:
        with sqlite3.connect(db) as reader:
            return reader.execute("SELECT ended_at FROM calls WHERE id = ?", (left_open,)).fetchone()[0] is not None

    class Silence:
        rate, legs = 8000, ("caller",)

        def chunks(self):
            for i in range(200):
                if i == 3:
                    seen["open while locked"] = not closed()
                    holder.execute("ROLLBACK")  # the other program is done
                if i > 3 and closed():
                    seen["closed while listening"] = True
                    return
                time.sleep(0.05)
                yield Chunk(i * 1.0, np.zeros((8000, 1), np.float32))

        def stop(self):
            pass

    cfg = load_config(overrides={"storage.db": str(db)}, user_config=False)
    try:
        Daemon(cfg, Silence(), store, {}).run()
    finally:
        holder.close()
    assert seen == {"open while locked": True, "closed while listening": True}
    assert store.get_call(left_open).summary == {"interrupted": True}
    errors = [m for level, m in monitor_logs if level == "error"]
    assert len(errors) == 1 and "locked by another program" in errors[0], errors
    assert [m for _, m in monitor_logs if "left open" in m] == [
        f"closed 1 call(s) left open by an earlier stop as interrupted (call {left_open})"]
    store.close()


# --------------------------------------------------------------------------- retention


def started_under_a_lock(db: Path, store: Store) -> tuple[Any, float]:
    """A daemon on ``store`` (at ``db``) run over 3 s of silence while another program holds the
    database (``sqlite3 DB "BEGIN EXCLUSIVE;"``), and how long after its start its capture took the
    first audio."""
    from monitor.capture.sources import Chunk
    from monitor.daemon import Daemon
    seen: dict = {}

    class Silence:
        rate, legs = 8000, ("caller",)

        def chunks(self):
            seen["listening after"] = time.monotonic() - seen["started"]
            for i in range(3):
                yield Chunk(i * 1.0, np.zeros((8000, 1), np.float32))

        def stop(self):
            pass

    daemon = Daemon(load_config(overrides={"storage.db": str(db)}, user_config=False), Silence(), store, {})
    with locked_by_sqlite3(db):
        seen["started"] = time.monotonic()
        daemon.run()
    return daemon, seen["listening after"]


def test_a_daemon_started_on_a_locked_database_listens_at_once_and_leaves_its_purge_to_the_next(
        tmp_path, monitor_logs):
    """The daemon starts on a database another program holds (``sqlite3 DB "BEGIN EXCLUSIVE;"``), a call
    older than ``storage.retention_days`` in it: its purge at the start waited SQLite's 2 s for the
    lock before the capture loop took its first audio. It now tries without waiting, says in one line
    that the old calls are not purged and that the next purge (a day later) tries again, and listens
    at once; the old call stays meanwhile."""
    from monitor.daemon_recent import PURGE_EVERY_S
    db = tmp_path / "e.db"
    store = Store.open(db)
    old = store.start_call("live:caller=softphone.monitor", time.time() - 40 * 86400)
    store.end_call(old, 60.0, {}, time.time() - 40 * 86400 + 60)
    daemon, listening_after = started_under_a_lock(db, store)
    assert listening_after < 1.0
    said = [(level, m) for level, m in monitor_logs if "purge" in m]
    assert said == [("warning", f"old calls not purged: {db}: the database is locked by another program (not waited "
                                "for); the next purge (at the next start, or in 24 h) tries again")], said
    assert store.get_call(old) is not None
    daemon.recent.purge_old(time.time() + PURGE_EVERY_S)  # the next, a day later
    assert store.get_call(old) is None
    store.close()


def test_a_daemon_started_after_a_crash_on_a_locked_database_listens_at_once_and_closes_the_calls_left_open_later(
        tmp_path, monitor_logs):
    """docs/configuration.md: the start waits for no lock, so that the capture starts at once. After a
    crash that left a call open, the daemon's close of it at the start went through the store guard's
    first attempt, which waited SQLite's 2 s for another program's lock before the capture took its
    first audio. It now fails at once (one error line, saying it did not wait), the capture listens at
    once, and the call is closed as interrupted once the database works again."""
    db = tmp_path / "e.db"
    store = Store.open(db)
    left_open = store.start_call("live:caller=softphone.monitor", time.time() - 600)
    daemon, listening_after = started_under_a_lock(db, store)
    assert listening_after < 1.0
    errors = [m for level, m in monitor_logs if level == "error"]
    assert errors and errors[0].startswith(f"{db}: the database is locked by another program (not waited for); "), \
        errors
    assert store.get_call(left_open).ended_at is None
    daemon.guard.retry_s = 0.0
    daemon.close_interrupted()  # as between calls, once the database works again
    assert store.get_call(left_open).summary == {"interrupted": True}
    store.close()


def test_purge_of_a_database_that_is_not_there_is_one_line_and_exit_2_and_makes_none(tmp_path):
    """A mistyped --db reads as every command that reads a database reads it, not as a purge done."""
    db = tmp_path / "typo.db"
    r = cli("purge", "--db", str(db), "--older-than", "30d")
    assert r.returncode == 2 and not db.exists()
    assert r.stderr == (f"call-monitor: error: {db}: no database there (nothing has been recorded to it yet): "
                        "nothing to purge\n")
    db.mkdir()  # a folder given where the file belongs: said as `alerts` says it
    r = cli("purge", "--db", str(db), "--older-than", "30d")
    assert r.returncode == 2 and r.stderr == f"call-monitor: error: {db}: is a directory, not a database file: nothing to purge\n"


def cron_purge_line() -> str:
    """The shell line docs/configuration.md gives a cron job that runs ``purge``."""
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return next(line for line in text.splitlines() if line.startswith("call-monitor purge"))


@pytest.mark.parametrize("where", ["none there yet", "a database there", "behind a folder it may not enter"])
def test_the_cron_line_the_docs_give_is_quiet_before_the_first_call_and_says_a_database_it_cannot_reach(
        tmp_path, where):
    """The documented cron line (``purge --missing-ok``) lets purge find its database (the configuration's,
    under the cron user's home): exit 0, quiet where none has been recorded yet; a database behind a
    folder that user may not enter, which ``test -e`` takes for a missing file, is said in purge's one
    line, exit 2, so that calls kept past their retention do not go unseen."""
    (tmp_path / "bin").mkdir()
    (launcher := tmp_path / "bin" / "call-monitor").write_text(f'#!/bin/sh\nexec {PY} -m monitor.cli "$@"\n')
    launcher.chmod(0o755)
    home = tmp_path / "home"
    db = home / ".local" / "share" / "callmonitor" / "events.db"
    db.parent.mkdir(parents=True)
    if where != "none there yet":
        Store.open(db).close()
    shut = home / ".local"
    if where == "behind a folder it may not enter":
        shut.chmod(0)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "HOME": str(home), "PYTHONPATH": str(ROOT)}
    try:
        r = subprocess.run([*PERMISSIONS_BIND, "sh", "-c", cron_purge_line()], env=env, capture_output=True,
                           text=True, timeout=120)
    finally:
        shut.chmod(0o755)
    if where == "behind a folder it may not enter":
        assert (r.returncode, r.stdout, r.stderr) == (
            2, "", f"call-monitor: error: {db}: cannot reach the database (the folder {shut} cannot be entered: "
                   "permission denied): nothing to purge\n")
    elif where == "none there yet":
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    else:
        assert (r.returncode, r.stdout) == (0, "") and r.stderr.startswith("call-monitor: purged 0 call(s)")
    assert db.exists() == (where != "none there yet")


@pytest.mark.parametrize("there", ["a folder", "an empty file", "a link to nothing"])
def test_purge_missing_ok_still_says_what_is_there_where_the_database_belongs(tmp_path, there):
    """``--missing-ok`` passes over only a database not there yet: a folder, an empty file or a link
    to nothing where it belongs is still one line, exit 2, saying what is there (never the "no
    database there yet" the option passes over), and is left as it was."""
    db = tmp_path / "events.db"
    if there == "a link to nothing":
        db.symlink_to(tmp_path / "gone" / "events.db")
    else:
        db.mkdir() if there == "a folder" else db.touch()
    r = call_monitor("purge", "--missing-ok", "--db", str(db))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and str(db) in r.stderr
    assert "nothing has been recorded to it yet" not in r.stderr
    if there == "a link to nothing":
        assert r.stderr == (f"call-monitor: error: {db}: a link to {tmp_path / 'gone' / 'events.db'}, which is not "
                            "there (no database there): nothing to purge\n")
    assert db.is_symlink() if there == "a link to nothing" else db.is_dir() if there == "a folder" \
        else db.stat().st_size == 0


def test_purge_of_an_empty_file_is_one_line_and_exit_2_and_leaves_it_empty(tmp_path):
    """An empty file (a --db given the wrong file, one made by touch) is no database to purge:
    it is said as `alerts` says it, not made a database."""
    db = tmp_path / "empty.db"
    db.write_bytes(b"")
    r = cli("purge", "--db", str(db), "--older-than", "30d")
    assert r.returncode == 2 and db.read_bytes() == b""
    assert r.stderr == f"call-monitor: error: {db}: not a callmonitor database (an empty file): nothing to purge\n"
    r = cli("alerts", "--db", str(db))
    assert r.returncode == 2 and db.read_bytes() == b""
    assert r.stderr == f"call-monitor: error: {db}: not a callmonitor database (an empty file)\n"


@pytest.mark.parametrize("where, sig, status, said", [
    ("sqlite3:connect", "SIGINT", 130, "interrupted"),
    ("monitor.delivery.store:make_or_upgrade", "SIGTERM", 143, "stopped by SIGTERM")])
def test_a_stop_while_a_new_database_is_made_leaves_nothing_there(tmp_path, where, sig, status, said):
    """Ctrl-C or SIGTERM as a command makes its database (SQLite opening the new file, or its
    tables being made): the stop's one line, and no file left, neither an empty one nor an SQLite
    file with no tables, which a command that reads the database would refuse; the database is made
    whole beside it and put in place, or not at all."""
    db = tmp_path / "e.db"
    done = stopped_at(where, sig, "replay", "--no-transcribe", "--db", db, CALL)
    assert done.returncode == status
    assert done.stderr == f"call-monitor: error: {said} while the database opened: nothing was replayed or stored\n"
    assert list(tmp_path.iterdir()) == []


def test_a_writer_makes_its_database_whole_over_an_empty_file_or_leaves_the_file_empty(tmp_path):
    """An empty file where the database belongs (what a stopped creation of an earlier release left,
    or touch) is where a writer makes its database: a stop while it is made leaves the file empty
    as it was, not half made; an open that is not stopped puts a whole database there."""
    db = tmp_path / "e.db"
    db.write_bytes(b"")
    os.utime(db, (time.time() - 60, time.time() - 60))  # left there, not being made this moment
    done = stopped_at("monitor.delivery.store:make_or_upgrade", "SIGINT", "replay", "--no-transcribe", "--db", db,
                      CALL)
    assert done.returncode == 130 and [p.name for p in tmp_path.iterdir()] == ["e.db"] and db.read_bytes() == b""
    with Store.open(db) as store:
        assert store.start_call("/a/call.wav") == 1
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    with Store.open_readonly(db) as store:
        assert [c.source for c in store.list_calls()] == ["/a/call.wav"]


def test_an_empty_file_just_made_is_opened_where_it_is_another_process_may_be_making_it(tmp_path):
    """An empty database file younger than a few seconds may be one another process makes in place
    this moment (a filesystem without hard links): it is made there, not replaced by a file whose
    writes the other process would not see."""
    db = tmp_path / "e.db"
    db.write_bytes(b"")
    inode = db.stat().st_ino
    with Store.open(db) as store:
        assert store.start_call("/a/call.wav") == 1
    assert db.stat().st_ino == inode


def test_a_loop_of_symbolic_links_where_the_database_belongs_is_one_line(tmp_path):
    """`--db` naming a symbolic link that points to itself: the replay's one error line names it and
    says why, as for any database it cannot open (its alerts printed, not stored: exit 1)."""
    db = tmp_path / "loop.db"
    db.symlink_to(db)
    r = cli("replay", "--no-transcribe", "--db", str(db), CALL)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"call-monitor: error: {db}: cannot open the database (Too many levels of symbolic "
                               "links)"), r.stderr


def test_an_sqlite_file_with_no_tables_is_not_said_to_be_empty(tmp_path):
    """A file SQLite made and nothing else (4 KB, no table) is no callmonitor database, but not an
    empty file either: `alerts` says which."""
    db = tmp_path / "bare.db"
    sqlite3.connect(db).execute("VACUUM").connection.close()
    r = cli("alerts", "--db", str(db))
    assert r.returncode == 2
    assert r.stderr == f"call-monitor: error: {db}: not a callmonitor database (an SQLite file with no tables)\n"


@pytest.mark.parametrize("command", [("alerts",), ("report", "1", "-o", "report.html"),
                                     ("purge", "--older-than", "30d")])
def test_a_callmonitor_schema_version_with_no_tables_is_one_damaged_database_to_every_command(tmp_path, command):
    """A file marked with callmonitor's schema version whose tables are gone was a callmonitor
    database: the commands that read it say the one line a writer's open says of it (not that
    it is an SQLite file with no tables, which a writer would make its database in), exit 2, and
    leave it byte for byte."""
    db = tmp_path / "marked.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    before = db.read_bytes()
    r = cli(*command, "--db", str(db), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == (f"call-monitor: error: {db}: damaged callmonitor database (missing tables: alert_clears, "
                        "alerts, calls, cue_snapshots, deliveries, transcript)\n")
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["marked.db"]


@pytest.mark.parametrize("command, said", [
    (("alerts",), ""),
    (("report", "1", "-o", "report.html"), ""),
    (("purge", "--older-than", "30d"), ": nothing to purge"),
])
def test_an_sqlite_file_with_no_tables_is_refused_by_a_command_that_reads_it_and_left_byte_for_byte(
        tmp_path, command, said):
    """A --db naming an SQLite file nothing has written into (not empty: 8 KB) is no database to
    read, report or purge: one line, exit 2, and the file as it was (``report`` and ``purge`` had
    made the callmonitor schema in it)."""
    db = bare_sqlite_file(tmp_path / "bare.db")
    before = db.read_bytes()
    r = cli(*command, "--db", str(db), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == f"call-monitor: error: {db}: not a callmonitor database (an SQLite file with no tables){said}\n"
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["bare.db"]


def test_a_command_that_writes_makes_its_database_in_an_sqlite_file_with_no_tables(tmp_path):
    """As in an empty file or none, replay (batch and the daemon open theirs as it does) makes the
    callmonitor schema there and stores its call, which the commands that read it then read."""
    db = bare_sqlite_file(tmp_path / "bare.db")
    r = call_monitor_here("replay", "--no-transcribe", "--db", str(db), str(CALL))
    assert r.returncode == 0, r.stderr
    r = cli("alerts", "--db", str(db), "--call", "1")
    assert r.returncode == 0 and "possible_emergency" in r.stdout, r.stderr


def test_purge_deletes_old_calls_with_everything_they_hold(tmp_path):
    db = tmp_path / "e.db"
    store = Store.open(db)
    now = time.time()
    old = store.start_call("old", now - 40 * 86400)
    a = store.add_alert(old, AlertEvent(t=1.0, kind="slow_speech", message="m"))
    store.enqueue_delivery(a.alert_id, "http://127.0.0.1:9/hook")
    store.end_call(old, 10.0, ended_at=now - 40 * 86400 + 10)
    recent = store.start_call("recent", now - 86400)
    store.add_alert(recent, AlertEvent(t=1.0, kind="slow_speech", message="m"))
    store.end_call(recent, 10.0)
    store.close()
    r = cli("purge", "--db", str(db))  # default: storage.retention_days = 30
    assert r.returncode == 0, r.stderr
    assert "purged 1 call(s) older than 30 days" in r.stderr
    store = Store.open(db)
    assert [c.source for c in store.list_calls()] == ["recent"]
    assert len(store.list_alerts()) == 1 and store.deliveries() == []
    store.close()
    r = cli("purge", "--older-than", "soon", "--db", str(db))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--older-than 'soon'" in r.stderr


@pytest.mark.parametrize("sig, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stop_while_purge_deletes_waits_until_the_purge_is_done_and_said(tmp_path, sig, status):
    """Ctrl-C or SIGTERM as the purge's rows go: the purge is done whole and says what it deleted
    (the calls, their audio) before the stop ends it, rather than ending without a word with the
    calls gone; exit 130 or 143, no traceback."""
    db, audio = tmp_path / "e.db", tmp_path / "audio"
    audio.mkdir()
    with Store.open(db) as store:
        call = store.start_call("live:caller=softphone.monitor", time.time() - 60)
        store.end_call(call, 60.0)
        store.note_call_folder(audio)
    (audio / f"call-{call}.wav").write_bytes(b"")
    done = stopped_at("monitor.delivery.store:empty_log", sig, "purge", "--older-than", "0d", "--db", db)
    assert done.returncode == status, done.stderr
    assert done.stderr == "call-monitor: purged 1 call(s) older than 0d (1 file(s) of call audio, reports and series)\n"
    assert sqlite3.connect(db).execute("SELECT count(*) FROM calls").fetchone() == (0,)
    assert list(audio.iterdir()) == []


def test_purge_hands_over_the_calls_it_deletes_while_no_new_call_can_take_their_ids(tmp_path):
    """The purge deletes the calls' files (their audio, named by call id) before their rows, in
    the same transaction: a call that ended meanwhile has its files deleted too, and a new call of
    a daemon writing to the database cannot take a purged id (nor can it after: ids are never given
    twice) and have its new audio deleted as the old call's."""
    store = Store.open(tmp_path / "e.db")
    now = time.time()
    ended = store.start_call("live:a", now - 60)
    store.end_call(ended, 50.0, ended_at=now - 10)
    running = store.start_call("live:b", now - 5)
    handed = []

    def first(calls):
        handed.extend(calls)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(tmp_path / "e.db", timeout=0.1).execute(
                "INSERT INTO calls (started_at, source) VALUES (?, 'live:c')", (now,))

    assert store.purge(now, first=first)["calls"] == 1
    assert handed == [(ended, now - 60, now - 10, "live:a")]
    assert [c.id for c in store.list_calls()] == [running]
    with pytest.raises(ZeroDivisionError):  # a failing ``first``: nothing deleted, the database usable
        store.purge(now + 10, first=lambda calls: 1 / 0)
    assert [c.id for c in store.list_calls()] == [running]
    store.end_call(running, 5.0)
    store.close()


def one_call_db(path: Path, days_ago: float, now: float | None = None) -> Path:
    """A database at ``path`` holding one call of 10 s (source "old") that began ``days_ago`` days
    before ``now``, with one slow_speech alert stored 1 s into it: what ``alerts --since`` and
    ``purge --older-than`` are given times against."""
    began = (time.time() if now is None else now) - days_ago * 86400
    store = Store.open(path, clock=lambda: began + 1)
    call = store.start_call("old", began)
    store.add_alert(call, AlertEvent(t=1.0, kind="slow_speech", message="m"))
    store.end_call(call, 10.0, ended_at=began + 10)
    store.close()
    return path


def test_alerts_since_and_purge_older_than_read_the_same_durations_and_dates(tmp_path):
    """Seconds to weeks, or an ISO date, in both; a bad value is one line naming the option (exit 2)."""
    now = time.time()
    db = one_call_db(tmp_path / "e.db", 2, now)
    yesterday = datetime.fromtimestamp(now - 86400).isoformat(timespec="minutes")
    three_days_ago = datetime.fromtimestamp(now - 3 * 86400).isoformat(timespec="minutes")
    for when in ("259200s", "4320m", "72h", "3d", "1w", three_days_ago):
        assert len(call_monitor_here("alerts", "--db", str(db), "--since", when).stdout.splitlines()) == 1, when
    for when in ("86400s", "1440m", "24h", "1d", "0.1w", yesterday):
        r = call_monitor_here("alerts", "--db", str(db), "--since", when)
        assert r.returncode == 0 and r.stdout == "" and "no alerts since" in r.stderr, when
    for when in ("259200s", "4320m", "72h", "3d", "1w", three_days_ago):
        r = call_monitor_here("purge", "--db", str(db), "--older-than", when)
        assert r.returncode == 0 and "purged 0 call(s)" in r.stderr, (when, r.stderr)
        assert r.stderr.strip().endswith(f"older than {when}" if when[-1].isalpha() else f"started before {when}")
    r = call_monitor_here("purge", "--db", str(db), "--older-than", yesterday)
    assert r.stderr.strip() == f"call-monitor: purged 1 call(s) started before {yesterday} (1 alert(s))"
    for command, option in (("alerts", "--since"), ("purge", "--older-than")):
        r = call_monitor_here(command, "--db", str(db), option, "3 months")
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr == (f"call-monitor: error: {option} '3 months': expected a duration (a number and s, m, h, "
                            f"d or w: 90s, 30m, 12h, 7d, 2w) or an ISO date like 2026-11-22T10:00\n")


@pytest.mark.parametrize("command, option, given", [("alerts", "--since", "1h"), ("purge", "--older-than", "30d")])
def test_a_duration_with_a_minus_sign_is_one_line_saying_to_give_it_without(tmp_path, command, option, given):
    """``--since -1h`` (the last hour, as a person may write it) got argparse's "argument --since:
    expected one argument" under a usage, the value taken for an option; ``--since=-1h`` that it was
    no duration. Both, and a plus sign, are one line saying what the duration means without its
    sign, exit 2, the database as it was. A beginning of the option (``--sin -1h``) is no option
    of the command, refused with the option it is close to."""
    db = one_call_db(tmp_path / "e.db", 40)
    before = db.read_bytes()
    for argv, value in (([option, f"-{given}"], f"-{given}"), ([f"{option}=-{given}"], f"-{given}"),
                        ([option, f"+{given}"], f"+{given}")):
        r = call_monitor_here(command, "--db", str(db), *argv)
        assert (r.returncode, r.stdout) == (2, ""), argv
        assert r.stderr == (f"call-monitor: error: {option} '{value}': a duration counts back from now and takes no "
                            f"sign: {option} {given} means {given} ago\n"), argv
    r = call_monitor_here(command, "--db", str(db), option[:5], f"-{given}")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines()[-1] == (f"call-monitor {command}: error: unrecognized arguments: {option[:5]} "
                                         f"-{given} (did you mean {option}?)"), r.stderr
    assert db.read_bytes() == before


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12"])
def test_the_calendars_first_and_last_days_and_endless_durations_are_times_like_any_other(tmp_path, tz):
    """0001-01-01T00:00 in local time cannot be turned into unix seconds (Python's conversion
    overflows: "year 0 is out of range"), and was refused as if it were no ISO date at all. The
    calendar's first and last days, with or without a UTC offset, in the zones furthest east and
    west, and durations longer than time, are times: before or after every call there is; the
    alerts' summary says its period with them too (it wrote them as local times, which overflowed)."""
    db = one_call_db(tmp_path / "e.db", 2)
    env = dict(os.environ, TZ=tz)  # the commands' local time the zone's
    endless = "9" * 400 + "w"
    for first in ("0001-01-01T00:00", "0001-01-01", "0001-01-01T00:00+14:00", "0001-01-01T00:00-12:00", endless):
        listed = call_monitor_here("alerts", "--db", str(db), "--since", first, env=env)
        assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 1, (first, listed.stderr)
        kept = call_monitor_here("purge", "--db", str(db), "--older-than", first, env=env)
        older = f"older than {first}" if first == endless else f"started before {first}"
        assert kept.returncode == 0 and kept.stderr == f"call-monitor: purged 0 call(s) {older}\n", kept.stderr
        summed = call_monitor_here("alerts", "--outcomes", "--db", str(db), "--since", first, "--until", "2000-01-01", env=env)
        assert (summed.returncode, summed.stdout) == (0, ""), (first, summed.stderr)
        assert summed.stderr.startswith("call-monitor: no alerts of live calls since 0001-01-0"), summed.stderr
    for last in ("9999-12-31T23:59", "9999-12-31T23:59:59.999999-12:00"):
        listed = call_monitor_here("alerts", "--db", str(db), "--since", last, env=env)
        assert listed.returncode == 0 and listed.stdout == "" and f"no alerts since {last}" in listed.stderr
        summed = call_monitor_here("alerts", "--outcomes", "--db", str(db), "--since", last, env=env)
        assert (summed.returncode, summed.stdout) == (0, ""), (last, summed.stderr)
        assert summed.stderr.startswith("call-monitor: no alerts of live calls since 9999-12-3"), summed.stderr
    purged = call_monitor_here("purge", "--db", str(db), "--older-than", "9999-12-31T23:59", env=env)
    assert purged.stderr == "call-monitor: purged 1 call(s) started before 9999-12-31T23:59 (1 alert(s))\n"


BERLIN = dict(os.environ, TZ="Europe/Berlin")
"""The environment of a command whose local time is Berlin's: on 2026-10-25 its clocks read 02:00 to
03:00 twice (+02:00, then +01:00), on 2026-03-29 never."""


@pytest.mark.parametrize("command, option", [("alerts", "--since"), ("alerts", "--until"), ("purge", "--older-than")])
def test_a_local_time_a_change_of_daylight_saving_time_repeats_or_skips_is_refused_naming_its_offsets(
        tmp_path, command, option):
    """``--since 2026-10-25T02:30`` in Berlin names two instants an hour apart and was taken for the
    first in silence; ``2026-03-29T02:30`` names none and was taken all the same. Each is one line
    naming the zone and its offsets (exit 2, the database as it was); the time with either offset,
    and a time of the day outside the hour, are taken."""
    db = one_call_db(tmp_path / "e.db", 0, datetime.fromisoformat("2026-10-25T00:30+00:00").timestamp())
    before = db.read_bytes()
    twice = call_monitor_here(command, "--db", str(db), option, "2026-10-25T02:30", env=BERLIN)
    assert (twice.returncode, twice.stdout) == (2, "")
    assert twice.stderr == (f"call-monitor: error: {option} '2026-10-25T02:30' happens twice in Europe/Berlin (+02:00 "
                            f"and +01:00): give the offset, 2026-10-25T02:30+02:00 or 2026-10-25T02:30+01:00\n")
    never = call_monitor_here(command, "--db", str(db), option, "2026-03-29T02:30:15", env=BERLIN)
    assert (never.returncode, never.stdout) == (2, "")
    assert never.stderr == (f"call-monitor: error: {option} '2026-03-29T02:30:15' does not exist in Europe/Berlin: its "
                            f"clocks went from 02:00 to 03:00 that day (+01:00 to +02:00); give a time outside the "
                            f"gap, or an offset\n")
    assert db.read_bytes() == before
    for given in ("2026-10-25T02:30+02:00", "2026-10-25T02:30+01:00", "2026-10-25T03:30", "2026-03-29T03:30"):
        assert call_monitor_here(command, "--db", str(db), option, given, env=BERLIN).returncode == 0, given


def test_a_date_alone_whose_midnight_a_change_of_daylight_saving_time_skips_is_the_first_instant_of_that_day(
        monkeypatch):
    """Santiago's clocks go from 00:00 to 01:00 on 2026-09-06: ``--since 2026-09-06``, a date alone, names
    no time the user could give an offset to, and is the day's first instant (01:00 there), not refused
    as a midnight that does not exist; the same midnight written out as a time still is."""
    from monitor.commands.common import parse_when
    monkeypatch.setenv("TZ", "America/Santiago")
    time.tzset()
    try:
        assert parse_when("2026-09-06", "--since") == datetime.fromisoformat("2026-09-06T01:00-03:00").timestamp()
        with pytest.raises(ValueError, match="does not exist in America/Santiago"):
            parse_when("2026-09-06T00:30", "--since")
    finally:
        monkeypatch.undo()
        time.tzset()


def test_alerts_in_the_hour_a_change_of_daylight_saving_time_repeats_are_listed_with_their_zone(tmp_path):
    """Alerts of 00:30 and 01:30 UTC on 2026-10-25 were both listed at ``2026-10-25 02:30:01`` in
    Berlin, no zone said. A time in the repeated hour says its zone's abbreviation (CEST, then CET),
    the times of a listing padded alike so that its columns line up, and an hour before it is as it
    was; the alerts' summary says the period it was given so, and ``--since`` with an offset takes
    the second alone. An acknowledgement's time is said so too."""
    db, store = tmp_path / "e.db", None
    for hour in ("23:30", "00:30", "01:30"):
        day = "2026-10-24" if hour == "23:30" else "2026-10-25"
        began = datetime.fromisoformat(f"{day}T{hour}+00:00").timestamp()
        store = Store.open(db, clock=lambda: began + 1)
        call = store.start_call("live:caller", began)
        alert = store.add_alert(call, AlertEvent(t=1.0, kind="slow_speech", message="m"))
        if hour == "23:30":  # acknowledged an hour later, in the repeated hour
            store.add_ack(alert.alert_id, call, "anna", began + 3600 + 30)
        store.end_call(call, 10.0, ended_at=began + 10)
        store.close()
    listed = call_monitor_here("alerts", "--db", str(db), env=BERLIN)
    assert listed.stdout.splitlines()[0].endswith("[acknowledged by supervisor anna at 02:30:30 CEST]")
    assert listed.returncode == 0, listed.stderr
    assert [line[:37] for line in listed.stdout.splitlines()] == [
        "warning  2026-10-25 01:30:01       #1",
        "warning  2026-10-25 02:30:01 CEST  #2",
        "warning  2026-10-25 02:30:01 CET   #3"]
    assert len({line.index("call ") for line in listed.stdout.splitlines()}) == 1
    later = call_monitor_here("alerts", "--db", str(db), "--since", "2026-10-25T02:30+01:00", env=BERLIN)
    assert [line[:37] for line in later.stdout.splitlines()] == ["warning  2026-10-25 02:30:01 CET  #3 "]
    summed = call_monitor_here("alerts", "--outcomes", "--db", str(db), "--since", "2026-10-25T02:30+01:00", env=BERLIN)
    assert "live calls since 2026-10-25 02:30 CET in" in summed.stdout, summed.stdout
    utc = call_monitor_here("alerts", "--db", str(db), env=dict(os.environ, TZ="UTC"))
    assert [line[:28] for line in utc.stdout.splitlines()] == [
        "warning  2026-10-24 23:30:01", "warning  2026-10-25 00:30:01", "warning  2026-10-25 01:30:01"]


@pytest.mark.parametrize("command, option", [("alerts", "--since"), ("purge", "--older-than")])
@pytest.mark.parametrize("empty", ["", " "])
def test_an_empty_time_is_refused_not_taken_for_the_option_left_out(tmp_path, command, option, empty):
    """``--older-than "$AGE"`` with AGE unset would purge with the retention period (every call of a
    database kept with retention_days = 0 is kept, 30 days' otherwise), ``--since ""`` list every
    alert: one line naming the option, exit 2, and the database as it was."""
    db = one_call_db(tmp_path / "e.db", 40)
    r = call_monitor_here(command, "--db", str(db), option, empty)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == (f"call-monitor: error: {option} \"\": an empty time; give a duration (a number and s, m, h, "
                        f"d or w: 90s, 30m, 12h, 7d, 2w) or an ISO date like 2026-11-22T10:00\n")
    store = Store.open(db)
    assert [c.source for c in store.list_calls()] == ["old"] and len(store.list_alerts()) == 1
    store.close()


def test_purge_deletes_an_old_call_a_killed_replay_left_open_and_keeps_a_running_one(tmp_path):
    """A replay killed mid-call (SIGKILL, power loss) leaves its call open; retention still applies."""
    db = tmp_path / "e.db"
    now = time.time()
    store = Store.open(db, clock=lambda: now - 3 * 86400 + 20)  # the alert was stored three days ago
    killed = store.start_call("calls/killed.wav", now - 3 * 86400)
    store.add_alert(killed, AlertEvent(t=20.0, kind="slow_speech", message="m"))
    store.add_cues(killed, CuesEvent(t=25.0, speech_rate_sps=3.0))
    running = store.start_call("calls/running.wav", now - 2 * 86400)  # a long --realtime replay, say
    store.add_cues(running, CuesEvent(t=2 * 86400 - 5.0, speech_rate_sps=3.0))
    store.close()
    r = cli("purge", "--older-than", "1d", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        f"call-monitor: closed 1 call(s) left open by a crash or a kill, nothing recorded for 1 h, as interrupted "
        f"(call {killed})",
        "call-monitor: purged 1 call(s) older than 1d (1 alert(s))"]  # its cue snapshots unsaid
    store = Store.open(db)
    assert [c.source for c in store.list_calls()] == ["calls/running.wav"] and store.list_alerts() == []
    store.close()


def test_purge_leaves_the_running_daemons_call_to_it_though_the_wall_clock_stepped_forward_past_the_hour(tmp_path):
    """A live call's last record is its start and its call time: once the wall clock has stepped
    forward by more than an hour (NTP, a hand), the call the daemon runs looks as one a crash left
    open, nothing recorded for an hour. While a daemon holds the database a purge leaves its live
    calls to it (it closes those a crash left when it starts)."""
    db = tmp_path / "e.db"
    store = Store.open(db)
    running = store.start_call("live:softphone.monitor", time.time() - 3 * 3600)  # 20 min ago, the clock then 2 h 40 min behind
    store.add_cues(running, CuesEvent(t=1200.0, speech_rate_sps=3.0))  # 20 min into the call, just now
    store.close()
    lock = DatabaseLock(db).acquire()  # the daemon recording it
    try:
        r = cli("purge", "--db", str(db))
        assert r.returncode == 0, r.stderr
        assert r.stderr == "call-monitor: purged 0 call(s) older than 30 days\n"
    finally:
        lock.release()
    store = Store.open(db)
    assert store.get_call(running).ended_at is None
    assert store.close_interrupted(source_prefix="", idle_before=time.time() - 3600) == [running]  # as a crash's
    store.close()


def test_purge_older_than_zero_deletes_every_ended_call_and_keeps_an_open_one(tmp_path):
    db = tmp_path / "e.db"
    store = Store.open(db)
    ended = store.start_call("ended", time.time() - 60)
    store.add_alert(ended, AlertEvent(t=1.0, kind="slow_speech", message="m"))
    store.end_call(ended, 10.0)
    store.start_call("open", time.time() - 30)
    store.close()
    r = cli("purge", "--older-than", "0d", "--db", str(db))
    assert r.returncode == 0 and r.stderr.startswith("call-monitor: purged 1 call(s) older than 0d"), r.stderr
    store = Store.open(db)
    assert [c.source for c in store.list_calls()] == ["open"] and store.list_alerts() == []
    store.close()
    keep = tmp_path / "keep.toml"
    keep.write_text("[storage]\nretention_days = 0\n")
    r = cli("purge", "--config", str(keep), "--db", str(db))
    assert r.returncode == 0 and "keep forever" in r.stderr


def test_the_daemon_elsewhere_is_asked_on_the_socket_a_piped_configuration_names(tmp_path):
    """``alerts --config /dev/stdin`` (a pipe) finding no database points to the running daemon's
    database, asked on the status socket that configuration names: the hint read the configuration
    a second time, empty from the pipe, and asked the session's default socket instead."""
    from monitor.delivery.status_socket import StatusServer
    sock = tmp_path / "d.sock"
    server = StatusServer(str(sock), state=lambda: {"state": "listening", "pid": 1, "uptime_s": 5.0, "legs": {},
                                                    "calls": 0, "alerts": 0, "overflows": 0,
                                                    "db": "/srv/elsewhere.db"})
    (tmp_path / "run").mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_RUNTIME_DIR=str(tmp_path / "run"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    try:
        r = call_monitor("alerts", "--config", "/dev/stdin", input=f'[daemon]\nstatus_socket = "{sock}"\n',
                         env=env, timeout=60)
    finally:
        server.close()
    assert r.returncode == 2 and r.stderr.endswith(
        "; the daemon running now records to /srv/elsewhere.db (give --db /srv/elsewhere.db)\n"), r.stderr


def test_alerts_held_through_a_full_disk_get_their_webhook_state_once_written_and_none_is_posted_twice(tmpfs, hook):
    """The webhook delivers alerts the database could not store from memory; once the store guard
    writes them, their outbox rows say so: one delivered from memory is recorded as delivered and
    not posted again, one not delivered yet is queued, so a later run sends it if this one stops
    first, under the id its failed post from memory carried (which the receiver may have taken)."""
    store = Store.open(tmpfs / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05, backoff_s=0.1).start()
    guard = StoreGuard(store, retry_s=0.0, written=[sink.written])  # as the daemon makes them
    call = guard.start_call("live:softphone.monitor", time.time())
    filler = fill(tmpfs)
    delivered = guard.add_alert(call, AlertEvent(t=5.0, kind="possible_emergency", severity="critical", message="m"))
    sink(delivered)
    assert wait_for(lambda: len(hook.received) == 1, 30)
    hook.up = False
    waiting = guard.add_alert(call, AlertEvent(t=9.0, kind="slow_response", message="m"))
    sink(waiting)
    assert wait_for(lambda: sink.failures >= 1, 30) and not delivered.stored and not waiting.stored
    filler.unlink()
    assert guard.retry(force=True)
    first, second = (a.event.alert_id for a in store.list_alerts())
    assert wait_for(lambda: [d.status for d in store.deliveries()] == ["delivered", "pending"], 30), store.deliveries()
    assert [d.alert_id for d in store.deliveries()] == [first, second]
    filler = fill(tmpfs)  # full again: an alert written (with the next) before the sinks are given it
    same_batch = guard.add_alert(call, AlertEvent(t=12.0, kind="slow_speech", message="m"))
    filler.unlink()
    assert guard.retry(force=True)
    sink(same_batch)
    assert wait_for(lambda: len(store.deliveries()) == 3 and sink.pending() == 2, 30), store.deliveries()
    sink.close()  # the daemon stops before the supervisor is back
    hook.up = True
    later = WebhookSink(store, hook.url, poll_s=0.05).start()
    try:
        assert wait_for(lambda: [d.status for d in store.deliveries()] == ["delivered"] * 3, 30)
        time.sleep(0.3)
        rows = store.deliveries()
        assert sorted((b["kind"], b["alert_id"]) for _, b in hook.received) == sorted(
            (d.alert.kind, d.posts_as) for d in rows), "each alert is posted once, under the id its row keeps"
        # the two posted from memory keep the ids posted there; the one never posted, the database's
        assert [d.posted_id is not None for d in rows] == [True, True, False]
    finally:
        later.close()
        store.close()


def test_an_alert_whose_post_from_memory_failed_keeps_its_id_once_written(tmpfs, hook):
    """A post that failed may have reached the receiver all the same (its answer lost): an alert the
    webhook tried to post from memory is posted under that id again once it is written, not under the
    database's, so that a receiver de-duplicating by (daemon, alert id), as the console does, keeps it
    once: its outbox row keeps that id, and the outbox posts it under it."""
    store = Store.open(tmpfs / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05, backoff_s=0.1).start()
    guard = StoreGuard(store, retry_s=0.0, written=[sink.written])
    tried = []
    hook.refuses = lambda post: tried.append(post["alert_id"]) or 503
    try:
        call = guard.start_call("live:softphone.monitor", time.time())
        filler = fill(tmpfs)
        sink(guard.add_alert(call, AlertEvent(t=5.0, kind="possible_emergency", severity="critical", message="m")))
        assert wait_for(lambda: tried, 30)
        filler.unlink()
        assert guard.retry(force=True)
        assert wait_for(lambda: [d.status for d in store.deliveries()] == ["pending"], 30)
        assert sink.pending() == 1 and store.deliveries()[0].posted_id == tried[0]
        hook.refuses = None
        assert wait_for(lambda: [d.status for d in store.deliveries()] == ["delivered"], 30)
        time.sleep(0.3)
        assert [b["alert_id"] for _, b in hook.received] == [tried[0]], "posted once, under the id it was tried with"
    finally:
        sink.close()
        store.close()


def test_an_alert_posted_in_vain_from_memory_is_posted_under_the_same_id_by_a_later_run_and_alerts_names_it(
        tmpfs, hook, capsys):
    """The daemon stops after the alert is written but before the supervisor takes it: the next run
    posts it under the id its post from memory carried (the receiver may have taken that one, its
    answer lost), not under the database's, so the console keeps it once; and that post names the
    call, whose row was not written when the alert was first posted. ``alerts`` says the id the
    supervisor knows it by: ``posted as alert ID`` in its line, ``posted_id`` in ``--jsonl``. A
    supervisor's acknowledgement of it under that id, told while the database failed, is held and
    written with it, and ``alerts`` shows it on the alert."""
    from monitor import cli as command

    store = Store.open(tmpfs / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05, backoff_s=0.1).start()
    guard = StoreGuard(store, retry_s=0.0, written=[sink.written])
    tried = []
    hook.refuses = lambda post: tried.append(post) or 503
    filler = fill(tmpfs)
    call = guard.start_call("live:softphone.monitor", time.time())  # not written either
    sink(guard.add_alert(call, AlertEvent(t=5.0, kind="possible_emergency", severity="critical", message="m")))
    assert wait_for(lambda: tried, 30)
    assert tried[0]["call_id"] is None and tried[0]["alert_id"] >= MEMORY_ID_BASE
    acked_at = time.time()
    guard.add_ack(AlertAckedEvent(t=5.0, kind="possible_emergency", severity="critical",
                                  alert_id=tried[0]["alert_id"], by="Dana", acked_at=acked_at))
    assert guard.held == 3  # the call, its alert and the acknowledgement
    filler.unlink()
    assert guard.retry(force=True)
    assert wait_for(lambda: [d.posted_id for d in store.deliveries()] == [tried[0]["alert_id"]], 30)
    sink.close()  # the daemon stops before the supervisor takes it
    hook.refuses = None
    later = WebhookSink(store, hook.url, poll_s=0.05).start()
    try:
        assert wait_for(lambda: [d.status for d in store.deliveries()] == ["delivered"], 30)
    finally:
        later.close()
    (stored,) = store.list_alerts()
    store.close()
    (_, post), = hook.received
    assert (post["alert_id"], post["call_id"]) == (tried[0]["alert_id"], stored.event.call_id), "one alert, its call named"
    assert stored.event.alert_id != post["alert_id"]
    capsys.readouterr()
    assert command.main(["alerts", "--db", str(tmpfs / "e.db"), "--jsonl"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    row = json.loads(line)
    assert (row["alert_id"], row["posted_id"]) == (stored.event.alert_id, post["alert_id"])
    assert (row["acked_by"], row["acked_at"]) == ("Dana", acked_at)
    assert command.main(["alerts", "--db", str(tmpfs / "e.db")]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith(f"; posted as alert {post['alert_id']}, from memory while the database failed; "
                         f"acknowledged by supervisor Dana at {datetime.fromtimestamp(acked_at):%H:%M:%S}]"), line
