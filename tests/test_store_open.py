"""A database that cannot be opened when a command starts never silences an alert.

`replay` and the daemon start anyway: one error line names the database and the problem, every
alert reaches every sink marked as not stored, the database is tried again and what was held
back is written once it opens. A database of a newer schema and a second daemon on the same
database are still refused with one line, and so is, by `replay`, a path that can never hold a
database (a folder, a file that is none). Every unusable database here is a real file made
unusable: a directory where the file should be, a file of garbage, a read-only folder (or, as
root, a path under a file), a database another program holds an exclusive lock on.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from pulse import have_pulse

from conftest import (ALERTING_CALL as CALL, PERMISSIONS_BIND, PY, Daemon as DaemonProcess, call_monitor as cli,
                      call_monitor_here, mounted_tmpfs, opener_taking_the_lock)

from monitor.capture.sources import FileSource
from monitor.config import load_config
from monitor.console import severity_word
from monitor.daemon import Daemon
from monitor.delivery.dblock import DatabaseLock
from monitor.delivery.store import Store
from monitor.delivery.store_errors import SchemaTooNew, StoreError
from monitor.delivery.store_guard import PendingStore, StoreGuard, open_or_pending
from monitor.delivery.store_schema import SCHEMA_VERSION
from monitor.events import AlertEvent
from monitor.pipeline import CallPipeline, run_source

ERROR = "call-monitor: error: "
CRASHED = "live:caller=softphone.monitor"


def a_recorded_database(db: Path) -> Path:
    """A callmonitor database with a replayed call and a live call a crash left open."""
    with Store.open(db) as store:
        call = store.start_call("/earlier/call.wav", time.time() - 100)
        store.end_call(call, 10.0)
        store.start_call(CRASHED, time.time() - 50)
    return db


# --------------------------------------------------------------------------- unusable databases


def a_directory(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "events.db"
    db.mkdir()
    return db, "is a directory"


def garbage(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "events.db"
    db.write_bytes(np.random.default_rng(3).bytes(50_000))
    return db, "not a callmonitor database"


def a_read_only_folder(tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return folder / "events.db", "permission denied"


def a_read_only_database(tmp_path: Path) -> tuple[Path, str]:
    db = a_recorded_database(tmp_path / "events.db")
    db.chmod(stat.S_IRUSR)
    return db, "cannot write the database (permission denied)"


def under_a_file(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "plain").write_text("a file, not a folder\n")
    return tmp_path / "plain" / "events.db", "Not a directory"


UNUSABLE = [a_directory, garbage, a_read_only_folder, under_a_file]


@pytest.fixture
def held_lock(tmp_path):
    """A callmonitor database another program holds an exclusive lock on."""
    db = a_recorded_database(tmp_path / "events.db")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO calls (started_at, source) VALUES (0, 'holder')")
    yield db, holder
    holder.close()  # rolls back; closing twice is allowed


def one_error_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR), r.stderr
    return lines[0]


def printed_alerts(stdout: str) -> list[dict]:
    return [e for e in map(json.loads, stdout.splitlines()) if e["type"] == "alert"]


# --------------------------------------------------------------------------- replay


@pytest.mark.parametrize("unusable, problem", [(a_directory, None), (garbage, None),
                                               (a_read_only_folder, "cannot make the database there"),
                                               (under_a_file, "is a file, not a folder"),
                                               (a_read_only_database, None)],
                         ids=["a_directory", "garbage", "a_read_only_folder", "under_a_file", "a_read_only_database"])
def test_replay_refuses_a_path_that_can_never_hold_a_database_before_replaying(unusable, problem, tmp_path):
    """A folder, a file that is no database, a database not there that cannot be made (a folder
    this user may not write, a file where a folder belongs) or one there this user may not write
    would fail every call's storing: one line, exit 2, nothing replayed, the path left as it was
    (as batch refuses them), rather than every alert printed and then said not stored."""
    db, said = unusable(tmp_path)
    problem = problem or said
    before = sorted(os.listdir(tmp_path))
    r = cli("replay", "--jsonl", "--no-transcribe", "--db", str(db), str(CALL), permissions_bind=True)
    line = one_error_line(r)
    assert r.returncode == 2 and r.stdout == ""
    assert line.startswith(f"{ERROR}{db}: ") and problem in line and line.endswith(": nothing was replayed")
    assert sorted(os.listdir(tmp_path)) == before


def test_replay_refuses_a_database_on_a_read_only_filesystem_before_replaying(tmp_path):
    """A database on a read-only mount (a backup's, say), which no permission tells: refused as above,
    naming the cause, before a minute of audio is replayed to end on "not in the database"."""
    with contextlib.contextmanager(mounted_tmpfs)(tmp_path / "mnt", "size=1m") as mnt:
        db = a_recorded_database(mnt / "events.db")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        before = db.read_bytes()
        r = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", str(db), str(CALL))
        line = one_error_line(r)
        assert r.returncode == 2 and r.stdout == ""
        assert line == f"{ERROR}{db}: cannot write the database (a read-only filesystem): nothing was replayed"
        assert db.read_bytes() == before


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="no sysfs mounted on /sys")
def test_a_database_where_no_file_can_be_made_whatever_the_permissions_say_is_refused_by_replay_and_batch_alike():
    """sysfs (/sys) takes no new file, not even root's, whose permissions pass every folder: replay
    refuses a database there before it replays anything, in the line batch says, exit 2 (it replayed
    the whole call, every alert "not stored", and ended on exit 1, where batch refused it as it
    opened it), and nothing is left there."""
    db = "/sys/x.db"
    said = f"{ERROR}{db}: cannot make the database there (/sys: permission denied)"
    replayed = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", db, str(CALL))
    assert (replayed.returncode, replayed.stdout, replayed.stderr) == (2, "", f"{said}: nothing was replayed\n")
    scored = call_monitor_here("batch", "--workers", "1", "--db", db, str(CALL))
    assert (scored.returncode, scored.stdout, scored.stderr) == (2, "", f"{said}\n")
    assert not os.path.lexists(db)


@pytest.mark.parametrize("where", ["a database there", "none there, a folder further in"])
def test_a_database_behind_a_folder_it_may_not_enter_is_refused_by_replay_and_batch_as_every_command_says_it(
        tmp_path, where):
    """A database in a folder this user may not enter (another user's home, one made mode 000) may
    well be there: replay and batch refuse it before anything is replayed or scored, in the line
    every command that reads or opens one says ("cannot reach the database"), not as one that
    cannot be made there; exit 2, nothing made in the folder."""
    shut = tmp_path / "shut"
    (shut / "calls").mkdir(parents=True)
    db = shut / "events.db" if where == "a database there" else shut / "calls" / "events.db"
    if where == "a database there":
        a_recorded_database(db)
    files = sorted(os.listdir(shut))
    shut.chmod(0)
    try:
        replayed = cli("replay", "--jsonl", "--no-transcribe", "--db", db, CALL, cwd=tmp_path, permissions_bind=True)
        scored = cli("batch", "--workers", "1", "--db", db, CALL, cwd=tmp_path, permissions_bind=True)
    finally:
        shut.chmod(0o700)
    said = f"{ERROR}{db}: cannot reach the database (the folder {shut} cannot be entered: permission denied)"
    assert (replayed.returncode, replayed.stdout, replayed.stderr) == (2, "", f"{said}: nothing was replayed\n")
    assert (scored.returncode, scored.stdout, scored.stderr) == (2, "", f"{said}\n")
    assert sorted(os.listdir(shut)) == files


def test_replay_on_a_locked_database_prints_every_alert_with_one_error_line(held_lock, reference_alerts):
    db, _ = held_lock
    t0 = time.monotonic()
    r = cli("replay", "--jsonl", "--no-transcribe", "--db", str(db), str(CALL))
    line = one_error_line(r)
    assert [(a["kind"], a["t"]) for a in printed_alerts(r.stdout)] == reference_alerts
    assert all(a["stored"] is False for a in printed_alerts(r.stdout))
    assert r.returncode == 1 and str(db) in line and "locked" in line
    assert time.monotonic() - t0 < 60, "the lock is waited for a bounded time per attempt"


def test_replay_refuses_a_database_of_a_newer_schema(tmp_path):
    db = a_recorded_database(tmp_path / "events.db")
    with sqlite3.connect(db) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    r = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", str(db), str(CALL))
    line = one_error_line(r)
    assert r.returncode == 2 and r.stdout == ""
    assert str(db) in line and "upgrade call-monitor" in line


# --------------------------------------------------------------------------- the store that opens late


def test_a_database_that_cannot_be_opened_is_tried_again_and_gets_what_was_held(tmp_path, reference_alerts,
                                                                                monitor_logs):
    """The database is a directory at start; it is cleared mid-call. Alerts before that go out
    marked as not stored; once the database opens, the held call row and alerts are written,
    in order, and the later alerts are stored as they happen."""
    db = tmp_path / "events.db"
    db.mkdir()
    store = open_or_pending(lambda: Store.open(db), db, retry_s=0.0)
    assert isinstance(store, PendingStore) and "is a directory" in store.error
    logs = monitor_logs
    guard = StoreGuard(store, retry_s=0.0)
    src = FileSource(CALL, block_s=2.0)
    pipeline = CallPipeline(load_config(None, user_config=False), src.rate, src.legs, store=guard,
                            source="call")

    def clear_the_way(event) -> None:
        if event.type == "cues" and event.t >= 100 and db.is_dir():
            db.rmdir()
            wait_until_open(store)

    alerts = [e for e in run_source(pipeline, src.chunks(), [clear_the_way]) if e.type == "alert"]
    assert [(a.kind, a.t) for a in alerts] == reference_alerts
    before, after = [a for a in alerts if a.t < 100], [a for a in alerts if a.t > 102]
    assert before and all(not a.stored for a in before)
    assert after and all(a.stored and a.alert_id is not None for a in after)
    assert [m for level, m in logs if level == "error"] == [], "the opening failure is the command's line"
    assert any("works again" in m for _, m in logs) and guard.held == 0
    assert [(a.event.kind, a.event.t) for a in store.list_alerts()] == reference_alerts
    assert store.get_call(pipeline.call_id).ended_at is not None
    store.close()


def test_the_cue_snapshots_dropped_while_the_database_cannot_be_opened_are_counted_one_every_the_configured_interval(
        tmp_path):
    """``storage.snapshot_every_s = 2``, the database a directory: the guard counts a leg's snapshots
    dropped one every 2 s, as the store, once open, keeps them. The count took the key's default
    (5 s) for a database that could not be opened."""
    from monitor.commands.common import open_store_or_pending
    from monitor.events import CuesEvent
    db = tmp_path / "events.db"
    db.mkdir()
    cfg = load_config(overrides={"storage.db": str(db), "storage.snapshot_every_s": 2.0}, user_config=False)
    store = open_store_or_pending(cfg)
    assert isinstance(store, PendingStore)
    guard = StoreGuard(store, retry_s=3600.0)
    call = guard.start_call("live:caller=softphone.monitor", time.time())
    for t in range(20):  # a cue window a second, of each leg
        guard.add_cues(call, CuesEvent(t=float(t), channel="caller"))
        guard.add_cues(call, CuesEvent(t=float(t), channel="agent"))
    assert guard.dropped == guard.dropped_of["add_cues"] == 2 * 10  # at 0, 2, ..., 18 s
    store.close()


def wait_until_open(store: PendingStore, timeout: float = 20.0) -> None:
    """The monitor goes on while the store's background attempt runs: give it the time it needs."""
    deadline = time.monotonic() + timeout
    while store.try_open() is None:
        assert time.monotonic() < deadline, store.error
        time.sleep(0.05)
    time.sleep(1.1)  # the guard's next retry of what it holds is due


def test_a_newer_schema_is_raised_not_retried(tmp_path):
    db = a_recorded_database(tmp_path / "events.db")
    with sqlite3.connect(db) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match="upgrade call-monitor"):
        open_or_pending(lambda: Store.open(db), db)


def test_a_pending_store_fails_every_write_with_the_opening_problem(tmp_path):
    db, problem = garbage(tmp_path)
    store = open_or_pending(lambda: Store.open(db), db, retry_s=3600)
    with pytest.raises(StoreError, match=problem):
        store.start_call("call")
    assert store.due_deliveries() == [] and store.deliveries("pending") == []  # an outbox it cannot read
    assert store.instance_id() == store.instance_id() != ""
    store.close()


# --------------------------------------------------------------------------- the daemon (in process)


class RecordedLine:
    """A recorded call as the daemon's input, as fast as the daemon reads it."""

    def __init__(self, path: Path) -> None:
        self._file = FileSource(path, block_s=2.0)
        self.rate, self.legs = self._file.rate, self._file.legs

    def chunks(self):
        return self._file.chunks()

    def stop(self) -> None:
        pass


def test_the_daemon_on_a_locked_database_raises_every_alert_and_writes_them_once_the_lock_goes(
        held_lock, tmp_path, reference_alerts, monitor_logs):
    db, holder = held_lock
    cfg = load_config(overrides={"storage.db": str(db), "daemon.call_end_silence_s": 30.0}, user_config=False)
    store = open_or_pending(lambda: Store.open(db), db, retry_s=0.0)
    assert isinstance(store, PendingStore) and "locked" in store.error
    logs = monitor_logs
    seen: list = []
    released: list[float] = []  # the call time at which the lock went

    def sink(event) -> None:
        if event.type == "alert":
            seen.append(event)
        if event.type == "cues" and event.t >= 100 and not released:
            released.append(event.t)
            holder.close()  # the other program ends: its transaction is rolled back, the lock goes
            wait_until_open(store)

    daemon = Daemon(cfg, RecordedLine(CALL), store, {"sink": sink})
    assert daemon.run() == 0
    assert sorted(a.kind for a in seen) == sorted(k for k, _ in reference_alerts)
    before, after = [a for a in seen if a.t <= released[0]], [a for a in seen if a.t > released[0]]
    assert before and all(not a.stored and a.alert_id is None for a in before)
    assert after and all(a.stored and a.alert_id is not None for a in after)
    assert [m for level, m in logs if level == "error"] == []
    assert any("works again" in m for _, m in logs) and daemon.guard.held == 0
    stored = [(a.event.kind, a.event.t) for a in store.list_alerts()]
    assert stored == [(a.kind, a.t) for a in seen], "every alert is in the database at the end, in order"
    crashed, = [c for c in store.list_calls() if c.source == CRASHED]
    assert crashed.summary == {"interrupted": True}, "closed once the database opened"
    call, = [c for c in store.list_calls() if c.source.startswith("live:") and c.source != CRASHED]
    assert call.ended_at is not None and call.summary["alerts"] == len(reference_alerts)
    store.close()


def test_status_names_a_call_held_back_as_not_stored_yet_and_by_its_id_once_written(held_lock, tmp_path):
    """While the database is locked the running call and its alerts have no id: `status` says
    "call (not stored yet)", not Python's None; once the database takes them, the call and its
    recent alerts are named by the id they were stored under."""
    from monitor.commands.status import render
    db, holder = held_lock
    cfg = load_config(overrides={"storage.db": str(db), "daemon.call_end_silence_s": 30.0}, user_config=False)
    store = open_or_pending(lambda: Store.open(db), db, retry_s=0.0)
    seen: dict[str, dict] = {}

    def sink(event) -> None:
        if event.type == "alert" and "held" not in seen:
            seen["held"] = daemon.state()
            holder.close()
            wait_until_open(store)
        elif event.type == "cues" and "held" in seen and "written" not in seen and daemon.guard.held == 0:
            seen["written"] = daemon.state()

    daemon = Daemon(cfg, RecordedLine(CALL), store, {"sink": sink})
    assert daemon.run() == 0
    held, written = seen["held"], seen["written"]
    assert held["call"]["call_id"] is None and held["recent_alerts"][0]["call_id"] is None
    first = held["recent_alerts"][0]
    text = render(held)
    assert "None" not in text and "  call (not stored yet): " in text
    said = severity_word(first["severity"])
    assert re.search(rf"^    {said} \d\d:\d\d:\d\d call \(not stored yet\) {first['kind']} ", text, re.M), text
    call_id = written["call"]["call_id"]
    assert call_id is not None and written["recent_alerts"][0]["call_id"] == call_id
    assert "None" not in render(written) and re.search(
        rf"^    {said} \d\d:\d\d:\d\d call {call_id} {first['kind']} ", render(written), re.M), render(written)
    store.close()


def test_a_call_held_back_whole_is_never_logged_as_call_none_and_its_alerts_take_its_id_once_written(
        held_lock, monitor_logs):
    """The database stays locked for the whole call: its end is logged as "call (not stored yet)",
    not "call None"; once the lock goes and the call's row is written, every alert `status` lists
    is named by that id, those of the call's last cues too (raised once the call was no longer running)."""
    db, holder = held_lock
    cfg = load_config(overrides={"storage.db": str(db), "daemon.call_end_silence_s": 30.0}, user_config=False)
    store = open_or_pending(lambda: Store.open(db), db, retry_s=0.0)
    daemon = Daemon(cfg, RecordedLine(CALL), store, {"sink": lambda event: None})
    daemon.emit([AlertEvent(t=1.0, kind="slow_speech", message="m")], call_token=-1)  # as _end_call's last alerts
    held_back = daemon.state()["recent_alerts"]
    assert daemon.run() == 0
    assert not any("call None" in m for _, m in monitor_logs), [m for _, m in monitor_logs if "None" in m]
    assert any("call (not stored yet) ended" in m for _, m in monitor_logs)
    holder.close()
    wait_until_open(store)
    assert daemon.guard.retry(force=True) and daemon.guard.held == 0
    (call,) = [c.id for c in store.list_calls() if c.source.startswith("live:") and c.source != CRASHED]
    assert held_back[0]["call_id"] is None and daemon.state()["recent_alerts"][0]["call_id"] == call
    assert {a["call_id"] for a in daemon.state()["recent_alerts"]} == {call}
    store.close()


def test_a_daemon_whose_database_opens_only_once_another_daemon_holds_it_stops_saying_what_it_held(
        tmp_path, monitor_logs):
    """The daemon could neither open its database nor take its lock at the start (a file is where
    their folder should be). The way is cleared during a call, and another daemon takes the database
    first: when this daemon's next attempt opens it, it stops, as a start on a database another
    daemon holds is stopped, rather than run beside that daemon with every alert marked as not
    stored. One error line names the database and the other daemon, and says how many alerts it
    held, which are not stored; the call it ran is ended, and nothing of it goes into the other
    daemon's database."""
    db, problem = under_a_file(tmp_path)
    cfg = load_config(overrides={"storage.db": str(db)}, user_config=False)

    opener = opener_taking_the_lock(db)  # as `run` opens it: the lock it could not take at the start, after the database
    store = open_or_pending(opener, db, retry_s=3600.0)  # tried again when the test says so, below
    assert isinstance(store, PendingStore) and problem in store.error
    logs = monitor_logs
    other = DatabaseLock(db)
    seen: list = []

    def sink(event) -> None:
        if event.type != "alert":
            return
        seen.append(event)
        if not other.held:  # the way cleared, and another daemon takes the database first
            (tmp_path / "plain").unlink()
            (tmp_path / "plain").mkdir()
            other.acquire()
            assert store.try_open(force=True) is None and store.refused is not None, store.error  # the next attempt

    daemon = Daemon(cfg, RecordedLine(CALL), store, {"sink": sink})
    try:
        daemon.run()
        assert daemon.refused is not None and daemon.stop_reason == "another daemon holds the database"
        assert seen and all(not a.stored for a in seen)
        (line,) = [m for level, m in logs if level == "error"]
        assert line.startswith(f"{db}: already used by another call-monitor daemon (pid {os.getpid()}); one daemon "
                               "per database (give this one another --db and --socket); this daemon stops"), line
        assert f"; the {len(seen)} alert(s) and " in line and line.endswith(" it held are not stored"), line
        assert daemon.guard.held_alerts == len(seen)
        with Store.open(db) as theirs:
            assert theirs.list_calls() == []
    finally:
        other.release()


# --------------------------------------------------------------------------- the daemon (subprocess)


def start_daemon(db: Path, env: dict, tmp_path: Path) -> DaemonProcess:
    return DaemonProcess(["--caller", "softphone.monitor", "--jsonl", "--db", str(db), "--no-notify",
                          "--no-transcribe"], env, tmp_path)


@pytest.mark.skipif(not have_pulse(), reason="pulseaudio, pactl and paplay are needed")
@pytest.mark.parametrize("unusable", [garbage, under_a_file], ids=lambda f: f.__name__)
def test_the_daemon_starts_on_a_database_that_cannot_be_opened(unusable, env, tmp_path):
    db, problem = unusable(tmp_path)
    daemon = start_daemon(db, env, tmp_path)
    try:
        assert daemon.wait_err("listening", 30), daemon.err
        errors = [x for x in daemon.err if x.startswith(ERROR)]
        assert len(errors) == 1, daemon.err
        assert str(db) in errors[0] and problem in errors[0] and "alerts go on" in errors[0]
        r = subprocess.run([PY, "-m", "monitor.cli", "status", "--json"], env=env, capture_output=True,
                           text=True, timeout=10, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["running"] is True and json.loads(r.stdout)["store"]["failing"] is True
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.exited(10) == 0
        assert not any("Traceback" in line for line in daemon.err), daemon.err
    finally:
        daemon.kill()


@pytest.mark.skipif(not have_pulse(), reason="pulseaudio, pactl and paplay are needed")
@pytest.mark.parametrize("db_in", ["shut", "shut/calls"])
def test_the_daemon_starts_on_a_database_behind_a_folder_it_may_not_enter_and_makes_it_once_it_may(
        db_in, env, tmp_path):
    """A database (and its daemon lock beside it) in a folder this user may not enter, or in a
    folder further in, is said as a database file this user may not read is: one line naming the
    file and the folder, the daemon listening, its store failing (not a traceback from the lock or
    the database); once the folder may be entered, the database is made there and used."""
    shut = tmp_path / "shut"
    shut.mkdir(mode=0)
    db = tmp_path / db_in / "events.db"
    try:
        daemon = DaemonProcess(["--caller", "softphone.monitor", "--jsonl", "--db", str(db), "--no-notify",
                                "--no-transcribe"], env, tmp_path, prefix=PERMISSIONS_BIND)
        try:
            assert daemon.wait_err("listening", 30), daemon.err
            errors = [x for x in daemon.err if x.startswith(ERROR)]
            assert errors == [f"{ERROR}{db}: cannot reach the database (the folder {shut} cannot be entered: "
                              f"permission denied); alerts go on, marked as not stored; the database is tried "
                              f"again every 5 s and what was held back is written once it opens; cue snapshots and transcript lines "
                              "are not kept meanwhile (a call's report shows the gap)"], daemon.err
            assert _daemon_state(env, tmp_path)["store"]["failing"] is True
            shut.chmod(0o700)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _daemon_state(env, tmp_path, "call", "start")["store"]["failing"]:
                time.sleep(1)  # each call marked tries the database again (every 5 s at most)
            assert _daemon_state(env, tmp_path)["store"]["failing"] is False, daemon.err
            daemon.proc.send_signal(signal.SIGTERM)
            assert daemon.exited(10) == 0
            assert not any("Traceback" in line for line in daemon.err), daemon.err
        finally:
            daemon.kill()
    finally:
        shut.chmod(0o700)
    with Store.open_readonly(db) as store:
        assert [c.source for c in store.list_calls()][-1] == "live:caller=softphone.monitor"


def _daemon_state(env: dict, tmp_path: Path, *command: str) -> dict:
    """The running daemon's state, as `call-monitor status --json` prints it (``command``: another
    command of the daemon's, run first, `call start`)."""
    if command:
        told = subprocess.run([PY, "-m", "monitor.cli", *command], env=env, capture_output=True, text=True,
                              timeout=10, cwd=tmp_path)
        assert told.returncode == 0, told.stderr
    r = subprocess.run([PY, "-m", "monitor.cli", "status", "--json"], env=env, capture_output=True, text=True,
                       timeout=10, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.skipif(not have_pulse(), reason="pulseaudio, pactl and paplay are needed")
def test_the_daemon_refuses_a_database_of_a_newer_schema(env, tmp_path):
    db = a_recorded_database(tmp_path / "events.db")
    with sqlite3.connect(db) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--db", str(db),
                        "--no-notify", "--no-transcribe"], env=env, cwd=tmp_path, capture_output=True,
                       text=True, timeout=30)
    line = one_error_line(r)
    assert r.returncode == 2 and str(db) in line and "upgrade call-monitor" in line


@pytest.mark.skipif(not have_pulse(), reason="pulseaudio, pactl and paplay are needed")
def test_the_daemon_stops_when_its_database_opens_only_once_another_daemon_holds_it(env, tmp_path):
    """`run` started where neither its database nor its lock can be made (a file is where their
    folder should be): it listens, its alerts marked as not stored. The way is cleared, and another
    daemon takes the database before this one's next attempt (every 5 s) opens it: this daemon
    stops with one line naming the database and the other daemon, exit 2 as a start refused on
    it, no traceback."""
    db, problem = under_a_file(tmp_path)
    daemon = start_daemon(db, env, tmp_path)
    try:
        assert daemon.wait_err("listening", 30), daemon.err
        ready = tmp_path / "ready"
        ready.mkdir()
        with DatabaseLock(ready / db.name):  # the other daemon's lock, its folder put in the way's place at once
            (tmp_path / "plain").unlink()
            ready.rename(db.parent)
            assert daemon.exited(30) == 2, daemon.err
        assert not any("Traceback" in line for line in daemon.err), daemon.err
        opening, stop = [x for x in daemon.err if x.startswith(ERROR)]
        assert problem in opening and "alerts go on, marked as not stored" in opening
        assert stop == (f"{ERROR}{db}: already used by another call-monitor daemon (pid {os.getpid()}); one daemon "
                        "per database (give this one another --db and --socket); this daemon stops (it could not "
                        "open the database when it started, and another daemon took it since)"), daemon.err
    finally:
        daemon.kill()
