"""A purge of thousands of old calls (a retention lowered, a daemon off for weeks) goes a few calls
at a time, each few in a transaction of a fraction of a second: the daemon's own purge runs in a
thread of its own beside a live call, which loses no audio to it; a writer beside ``call-monitor
purge`` waits one transaction at most; the write-ahead log stays small; a second Ctrl-C stops the
purge between two transactions, what was committed purged and said; and the space the purge left
free inside the database file is said, with how to give it back.

The databases are made with SQL (thousands of calls, each with its cue snapshots), the daemon and the command run as processes on real files and a
real PulseAudio server.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import soundfile as sf

from conftest import CALLS, PY, ROOT, call_monitor, start_daemon, stop_daemon, wait_for
from monitor.delivery.store import Store

OLD_CALLS = 4000
"""How many old calls the databases hold: a purge of them takes seconds here."""
CUES = '{"note": "' + "x" * 600 + '", "f0_mean": 123.4, "pause_ratio": 0.25, "speech_rate": 3.2}'
"""A cue snapshot's row, as big as a real one."""


def old_calls_db(path: Path, calls: int = OLD_CALLS, snapshots: int = 40, days_ago: float = 40.0) -> Path:
    """A database at ``path`` of ``calls`` live calls of a minute that ended ``days_ago`` days ago,
    each with ``snapshots`` cue snapshots and an alert, made with SQL in a second, the rows in the
    order a daemon writes them (a call's snapshots together, the oldest calls first)."""
    Store.open(path).close()
    began = time.time() - days_ago * 86400
    con = sqlite3.connect(path)
    with con:
        con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) INSERT INTO calls "
                    "(id, started_at, source, ended_at, duration_s, summary) SELECT i, ? + i, 'live:caller', "
                    "? + i + 60, 60, '{}' FROM n", (calls, began, began))
        con.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1) INSERT INTO "
                    "cue_snapshots (call_id, channel, t, cues) SELECT c.id, 'caller', n.i * 2.0, ? FROM calls c, n "
                    "ORDER BY c.id, n.i",
                    (snapshots, CUES))
        con.execute("INSERT INTO alerts (call_id, t, kind, severity, message, evidence, actions, created_at) SELECT "
                    "id, 30, 'long_pauses', 'warning', 'Long pauses', '{}', '[]', started_at + 30 FROM calls")
    con.close()
    return path


def calls_left(db: Path) -> int:
    con = sqlite3.connect(db, timeout=30)
    try:
        return int(con.execute("SELECT count(*) FROM calls").fetchone()[0])
    finally:
        con.close()


def purge_process(db: Path, *args: str) -> subprocess.Popen:
    """``call-monitor purge --db DB ARGS`` as a process, its output captured."""
    return subprocess.Popen([PY, "-m", "monitor.cli", "purge", "--db", str(db), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_daemons_purge_of_thousands_of_old_calls_runs_beside_a_live_call_which_loses_no_audio(
        pulse, env, tmp_path):
    """``storage.retention_days = 1`` on a database of thousands of old calls: the daemon listens at
    once and a call that comes starts while its purge runs (in a thread of its own, not on the
    analysis's path); the purge's line comes once it is done; nothing of the live call's audio is
    dropped and the analysis is never said to run behind (it did not: the daemon's own work is no
    busy machine); the live call's cue snapshots are kept and the old calls are gone."""
    db = old_calls_db(tmp_path / "e.db")
    cut = tmp_path / "call.wav"
    audio, rate = sf.read(CALLS / "normal_8k.wav", frames=25 * 8000)
    sf.write(cut, audio, rate)
    d = start_daemon(env, tmp_path, "[storage]\nretention_days = 1\n")
    try:
        player = pulse.play(cut)
        assert wait_for(lambda: any(e.get("type") == "status" and re.fullmatch(r"call \d+ started", e.get("message", ""))
                                    for _, e in d.lines), 30), d.err
        purged_by_then = [e for e in d.err if "purged" in e]
        assert d.wait_err(f"purged {OLD_CALLS} call(s) older than 1 days", 120), d.err
        assert player.wait(60) == 0
        stop_daemon(d)
    finally:
        d.kill()
    assert purged_by_then == [], "the call waited for the purge"
    assert not [e for e in d.err if "dropped" in e or "behind" in e or "too busy" in e], d.err
    con = sqlite3.connect(db)
    (call_id, snapshots), = con.execute("SELECT c.id, count(s.id) FROM calls c JOIN cue_snapshots s ON "
                                        "s.call_id = c.id GROUP BY c.id").fetchall()
    assert call_id > OLD_CALLS and snapshots >= 4  # one every storage.snapshot_every_s of its 25 s
    con.close()


def test_a_writer_beside_purge_waits_a_fraction_of_a_second_and_the_log_stays_small(tmp_path):
    """A program writing to the database while ``purge`` deletes thousands of calls (a daemon's
    live call) waits for one of its transactions at most, never for the whole purge; the
    write-ahead log is checkpointed as it goes and stays a few MB; the purge's line says how much
    of the file it left free inside it, and how to give it back to the disk."""
    db = old_calls_db(tmp_path / "e.db")
    purge = purge_process(db, "--older-than", "1d")
    con = sqlite3.connect(db, timeout=30, isolation_level=None)
    waits, log_bytes = [], 0
    while purge.poll() is None:
        began = time.monotonic()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO calls (started_at, source) VALUES (?, 'live:beside')", (time.time(),))
        con.execute("COMMIT")
        waits.append(time.monotonic() - began)
        log_bytes = max(log_bytes, (tmp_path / "e.db-wal").stat().st_size)
        time.sleep(0.05)
    con.close()
    out, err = purge.communicate()
    assert purge.returncode == 0, err
    print(f"\n{len(waits)} writes beside the purge, the longest waited {max(waits):.2f} s; log at most "
          f"{log_bytes / 1e6:.1f} MB")
    assert len(waits) >= 5 and max(waits) < 1.0
    assert log_bytes < 8e6
    said = re.fullmatch(rf"call-monitor: purged {OLD_CALLS} call\(s\) older than 1d \({OLD_CALLS} alert\(s\)\); "
                        rf"(\d+) MB of the database file are free inside it, for new calls: `sqlite3 {re.escape(str(db))} "
                        r"VACUUM` gives them back to the disk while no daemon runs \(it needs free disk the size of "
                        r"the database\)\n", err)
    assert said and int(said[1]) >= 64, err
    assert calls_left(db) == len(waits)  # the writer's own


def test_a_second_ctrl_c_stops_purge_between_two_transactions_and_says_how_far_it_got(tmp_path):
    """The first Ctrl-C is held (the purge goes on); the second stops it within a transaction, exit
    130: the calls it committed stay purged, the others stay whole, and its line says how many went."""
    db = old_calls_db(tmp_path / "e.db", calls=3 * OLD_CALLS)
    purge = purge_process(db, "--older-than", "1d")
    assert wait_for(lambda: calls_left(db) < 3 * OLD_CALLS, 60, 0.02)
    purge.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert purge.poll() is None  # the first is held
    second = time.monotonic()
    purge.send_signal(signal.SIGINT)
    out, err = purge.communicate(timeout=30)
    took = time.monotonic() - second
    print(f"\nstopped {took:.2f} s after the second Ctrl-C")
    assert purge.returncode == 130 and took < 1.5, err
    said = re.search(r"call-monitor: stopped: purged (\d+) call\(s\) older than 1d before the stop \((\d+) alert\(s\)\); "
                     r"the others are kept \(purge again to delete them\)\n", err)
    assert said and said[1] == said[2], err
    assert 0 < int(said[1]) < 3 * OLD_CALLS and calls_left(db) == 3 * OLD_CALLS - int(said[1])
    done = call_monitor("purge", "--db", db, "--older-than", "1d")  # the rest, by a purge again
    assert done.returncode == 0 and calls_left(db) == 0, done.stderr


def test_purge_waits_out_a_daemon_holding_the_database_a_few_seconds(tmp_path):
    """A running daemon holds the database for a few seconds at times (a batch of cue snapshots is
    committed with its next write): ``purge`` beside it waits that out, where SQLite's busy timeout
    of 2 s had it fail ('the database is locked by another program (waited 2 s)')."""
    db = old_calls_db(tmp_path / "e.db", calls=100)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO calls (started_at, source) VALUES (?, 'live:caller')", (time.time(),))
    purge = purge_process(db, "--older-than", "1d")
    time.sleep(4.0)
    assert purge.poll() is None
    con.execute("COMMIT")
    con.close()
    out, err = purge.communicate(timeout=60)
    assert purge.returncode == 0 and err == "call-monitor: purged 100 call(s) older than 1d (100 alert(s))\n", err
    assert calls_left(db) == 1
