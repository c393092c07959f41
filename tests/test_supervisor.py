"""The supervisor's console as a real ``call-monitor supervisor`` process on 127.0.0.1.

Real daemons' alerts (``call-monitor replay --webhook``) are stored once each, through a console
restart and a full redelivery of the daemon's outbox; requests without the token, oversized or
malformed ones are refused with the right status and store nothing; a live daemon
(``call-monitor run`` on a private PulseAudio server) shows up through its heartbeats.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import http.client
import json
import os
import re
import signal
import sqlite3
import socket
import subprocess
import time
from pathlib import Path

import pytest

from a11y import audit
from console_proc import ROOT, ConsoleProcess, alert_body, stored_alerts
from pulse import have_pulse

from conftest import (CALLS, PY, call_monitor, call_monitor_here, db_tables, fifo_writer, made_in,
                      rolled_back_as_documented, stopped_at, wait_for)

from monitor.commands.supervisor import TLS_UNUSABLE, is_loopback, new_token_line
from monitor.config.listen import host_of, parse_listen
from monitor.config.tokens import parse_agent_tokens
from monitor.release import RELEASE
from monitor.supervisor.auth import Auth, load_or_create_token
from monitor.supervisor.store import (SCHEMA_VERSION, ConsoleStore, ConsoleStoreError, DaemonIdTaken, Heartbeat,
                                      IncomingAlert)


CONSOLE_SCHEMA_1 = """
    CREATE TABLE alerts (id INTEGER PRIMARY KEY, daemon_id TEXT NOT NULL, alert_id INTEGER NOT NULL,
        agent TEXT NOT NULL, call_id INTEGER, call_started_at REAL, at REAL, t REAL NOT NULL, kind TEXT NOT NULL,
        severity TEXT NOT NULL, message TEXT NOT NULL, evidence TEXT NOT NULL, actions TEXT NOT NULL,
        received_at REAL NOT NULL, acked_by TEXT, acked_at REAL, UNIQUE (daemon_id, alert_id));
    CREATE INDEX alerts_open ON alerts(acked_at, severity, received_at);
    CREATE TABLE agents (daemon_id TEXT PRIMARY KEY, agent TEXT NOT NULL, first_seen REAL NOT NULL,
        last_seen REAL NOT NULL, every_s REAL, status TEXT NOT NULL, remote TEXT);
    CREATE TABLE reports (daemon_id TEXT NOT NULL, call_id INTEGER NOT NULL, url TEXT NOT NULL,
        PRIMARY KEY (daemon_id, call_id));
    PRAGMA application_id = 1129141078;
    PRAGMA user_version = 1
"""
"""The console's database as its first release made it."""

CONSOLE_SCHEMA_2 = CONSOLE_SCHEMA_1.replace(", UNIQUE (daemon_id, alert_id));", ");").replace(
    "alerts(acked_at, severity, received_at);", "alerts(acked_at, severity, received_at);\n"
    "    CREATE INDEX alerts_of_daemon ON alerts(daemon_id, alert_id);").replace(
    "PRAGMA user_version = 1", "PRAGMA user_version = 2")
"""The console's database as its second release made it: the first's, its alerts indexed by daemon and
alert id rather than unique in them (before alerts named their recording)."""

CONSOLE_SCHEMA_3 = CONSOLE_SCHEMA_2.replace("acked_by TEXT, acked_at REAL);", "acked_by TEXT, acked_at REAL, recording TEXT);"
                                            ).replace("PRAGMA user_version = 2", "PRAGMA user_version = 3")
"""The console's database as its third release made it (before a supervisor could forget an agent)."""

CONSOLE_SCHEMA_4 = CONSOLE_SCHEMA_3.replace("PRAGMA user_version = 3", """CREATE TABLE forgotten (daemon_id TEXT PRIMARY KEY,
        agent TEXT NOT NULL, at REAL NOT NULL);
    PRAGMA user_version = 4""")
"""The console's database as 0.2.0 to 0.3.1 made it (before the agent's word on an alert)."""

CONSOLE_SCHEMA_5 = CONSOLE_SCHEMA_4.replace("recording TEXT);", "recording TEXT, agent_word TEXT, agent_note TEXT, "
                                            "agent_word_at REAL);").replace("PRAGMA user_version = 4",
                                                                            "PRAGMA user_version = 5")
"""The console's database as 0.4.0 made it (before an alert named the agent's file of a call of two files)."""


def _env(tmp: Path) -> dict:
    return {**os.environ, "HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp / "cfg"), "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> Path:
    """A folder of the fixture calls these tests replay, cut short under the same names: the
    deteriorating calls' first 100 s (their critical at 92 s and a warning at 97 s, as in the
    whole calls), the normal call's first 10 s (a call without alerts, as the whole one)."""
    import soundfile as sf
    folder = tmp_path_factory.mktemp("calls")
    for name, seconds in (("deteriorating_16k.wav", 100), ("deteriorating_8k.wav", 100), ("normal_8k.wav", 10)):
        info = sf.info(CALLS / name)
        x, rate = sf.read(CALLS / name, frames=int(info.samplerate * seconds), dtype="int16")
        sf.write(folder / name, x, rate, subtype=info.subtype)
    return folder


def _replay(tmp: Path, console: ConsoleProcess, wav: Path, db: Path, *extra: str, url: str | None = None,
            process: bool = False):
    """``replay --jsonl`` of ``wav`` into ``db``, posting to ``console``: in this process
    (:func:`call_monitor_here`; what it prints and posts is the claim), or with ``process`` as a
    process of its own. Its result, and the alerts it printed."""
    args = ["replay", str(wav), "--no-transcribe", "--jsonl", "--db", str(db), "--webhook", url or console.webhook,
            "--webhook-token-file", str(console.token_file), *extra]
    r = subprocess.run([PY, "-m", "monitor.cli", *args], cwd=ROOT, env=_env(tmp), capture_output=True, text=True,
                       timeout=300) if process else call_monitor_here(*args, env=_env(tmp))
    alerts = [json.loads(line) for line in r.stdout.splitlines() if '"type": "alert"' in line]
    return r, alerts


def _daemon_alerts(db: Path) -> set[int]:
    with sqlite3.connect(db) as con:
        return {r[0] for r in con.execute("SELECT id FROM alerts")}


def test_replayed_alerts_are_stored_once_through_a_restart_and_retries(tmp_path, calls):
    console = ConsoleProcess(tmp_path / "console")
    daemon_db = tmp_path / "agent" / "events.db"
    try:
        r, printed = _replay(tmp_path, console, calls / "deteriorating_16k.wav", daemon_db)
        assert r.returncode == 0, r.stderr
        assert any(a["severity"] == "critical" for a in printed)
        state = console.state()
        got = {a["alert_id"]: a for a in state["alerts"]}
        assert sorted(got) == sorted(a["alert_id"] for a in printed)
        with sqlite3.connect(daemon_db) as con:
            (daemon_id,), = con.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchall()
            (started,), = con.execute("SELECT started_at FROM calls").fetchall()
        for a in printed:
            stored = got[a["alert_id"]]
            assert stored["daemon_id"] == daemon_id and "@" in stored["agent"]  # user@host by default
            assert stored["kind"] == a["kind"] and stored["severity"] == a["severity"] and stored["t"] == a["t"]
            assert stored["evidence"] == a["evidence"] and stored["actions"] == a["actions"]
            assert stored["call_id"] == a["call_id"] and stored["recording"] == "deteriorating_16k.wav"
            assert stored["call_started_at"] == pytest.approx(started, abs=0.01)
            assert started <= stored["at"] <= min(started + a["t"], time.time())  # replayed faster than spoken
        first = len(printed)

        # the console goes down: a second call's alerts wait in the daemon's outbox
        port = console.port
        assert console.stop() == 0
        assert any("console stopped" in e for e in console.err)
        r, printed2 = _replay(tmp_path, console, calls / "deteriorating_8k.wav", daemon_db, "--webhook-wait", "0")
        assert r.returncode == 0 and printed2
        assert f"{len(printed2)} alert(s) not delivered yet" in r.stderr
        # ... it comes back on the same address with the same database
        console = ConsoleProcess(tmp_path / "console", port=port)
        assert len(console.state()["alerts"]) == first
        # every delivery retried, as after responses lost in transit: nothing shows twice
        with sqlite3.connect(daemon_db) as con:
            con.execute("UPDATE deliveries SET status = 'pending', next_attempt_at = 0")
        r, printed3 = _replay(tmp_path, console, calls / "normal_8k.wav", daemon_db)
        assert r.returncode == 0, r.stderr
        alerts = console.state()["alerts"]
        ids = [a["alert_id"] for a in alerts]
        assert len(ids) == len(set(ids)) == first + len(printed2) + len(printed3)
        assert set(ids) == _daemon_alerts(daemon_db)
        with sqlite3.connect(daemon_db) as con:
            assert {s for (s,) in con.execute("SELECT status FROM deliveries")} == {"delivered"}
        with sqlite3.connect(console.db) as con:
            assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] == len(ids)
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert os.stat(console.db).st_mode & 0o777 == 0o600
        assert os.stat(console.token_file).st_mode & 0o777 == 0o600
    finally:
        console.kill()


def test_a_critical_of_a_call_after_a_purge_reaches_the_console(tmp_path, calls):
    """The console keeps each (daemon id, alert id) once: a purge that emptied the daemon's
    database must not let its next call's alerts take the ids of alerts the console has."""
    console = ConsoleProcess(tmp_path / "console")
    daemon_db = tmp_path / "agent" / "events.db"
    try:
        r, before = _replay(tmp_path, console, calls / "deteriorating_8k.wav", daemon_db)
        assert r.returncode == 0 and len(console.state()["alerts"]) == len(before), r.stderr
        purged = subprocess.run([PY, "-m", "monitor.cli", "purge", "--db", str(daemon_db), "--older-than", "0s"],
                                cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert purged.returncode == 0 and "purged 1 call(s)" in purged.stderr, purged.stderr
        r, after = _replay(tmp_path, console, calls / "deteriorating_16k.wav", daemon_db)
        assert r.returncode == 0 and any(a["severity"] == "critical" for a in after), r.stderr
        assert min(a["alert_id"] for a in after) > max(a["alert_id"] for a in before)
        assert {a["call_id"] for a in after} == {2}
        shown = {(a["call_id"], a["alert_id"]) for a in console.state()["alerts"]}
        assert shown == {(a["call_id"], a["alert_id"]) for a in before + after}
    finally:
        console.kill()


def test_an_alert_id_a_daemon_of_an_earlier_release_gives_again_for_another_call_is_a_new_alert(tmp_path):
    """Such a daemon gave an alert id again after a purge: the console tells its alerts apart by the
    call's start, so the new critical shows; a retried post of either (or one that did not say
    when its call started) is still one alert."""
    console = ConsoleProcess(tmp_path)
    try:
        first = alert_body(1, call_id=1, t=95.0)
        again = alert_body(1, call_id=1, t=40.0, call_started_at=first["call_started_at"] + 86400 * 31)
        assert [console.post(b)[0] for b in (first, again)] == [201, 201]
        assert [console.post(b)[1]["stored"] for b in (first, again)] == ["duplicate", "duplicate"]
        assert console.post({**again, "call_started_at": None})[1]["stored"] == "duplicate"
        shown = sorted((a["alert_id"], a["t"]) for a in console.state()["alerts"])
        assert shown == [(1, 40.0), (1, 95.0)]
    finally:
        console.kill()


def _earlier_console_db(db: Path, schema: str) -> sqlite3.Connection:
    """A console database made with an earlier release's ``schema``, holding one acknowledged
    critical alert (console id 5, daemon ``d-old``, agent alice, acknowledged by Dana), received a day
    ago (within ``supervisor.retention_days``); still open."""
    conn = sqlite3.connect(db)
    received = time.time() - 86400
    conn.executescript(schema + f""";
        INSERT INTO alerts (id, daemon_id, alert_id, agent, call_id, call_started_at, at, t, kind, severity,
            message, evidence, actions, received_at, acked_by, acked_at)
            VALUES (5, 'd-old', 1, 'alice', 1, 1000.0, 1095.0, 95.0, 'possible_emergency', 'critical', 'm', '{{}}',
                    '[]', {received}, 'Dana', {received + 4});""")
    return conn


@pytest.mark.parametrize("schema", [CONSOLE_SCHEMA_1, CONSOLE_SCHEMA_2, CONSOLE_SCHEMA_3, CONSOLE_SCHEMA_4,
                                    CONSOLE_SCHEMA_5],
                         ids=["first-release", "second-release", "third-release", "0.2.0-to-0.3.1", "0.4.0"])
def test_an_earlier_release_console_database_keeps_its_alerts_and_acknowledgements(tmp_path, schema):
    """Brought to this schema when opened (the first release's made again without its UNIQUE
    (daemon_id, alert_id); the recording column added; the table of forgotten agents made): the
    alerts, their console ids (which acknowledgements name) and acknowledgements stay, with no
    recording named; retried posts are still no-ops, a new alert keeps its recording (and the agent's
    file beside it), and its agent can be forgotten, its alerts kept."""
    db = tmp_path / "supervisor.db"
    conn = _earlier_console_db(db, schema)
    earlier = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    store = ConsoleStore.open(db)
    try:
        assert store.migrated_from == earlier  # which the console's start says in a line
        (kept,) = store.alerts()
        assert (kept["id"], kept["acked_by"], kept["call_started_at"], kept["recording"]) == (5, "Dana", 1000.0, None)
        old = IncomingAlert(daemon_id="d-old", alert_id=1, agent="alice", kind="possible_emergency",
                            severity="critical", message="m", t=95.0, evidence={}, actions=(), call_id=1,
                            call_started_at=1000.0)
        assert store.add_alert(old)[1] is False
        new, stored = store.add_alert(dataclasses.replace(old, call_started_at=2000.0, recording="call-0417.wav",
                                                          agent_recording="agent-0417.wav"))
        assert stored and (new["recording"], new["agent_recording"]) == ("call-0417.wav", "agent-0417.wav")
        assert store.count_alerts() == 2
        store.heartbeat(Heartbeat(daemon_id="d-old", agent="alice", every_s=30.0, status={"stopped": True}))
        assert store.forget("alice") == ["d-old"] and store.count_alerts() == 2
    finally:
        store.close()
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store = ConsoleStore.open(db)  # opened again: as it is now
    try:
        assert store.migrated_from is None
        assert [(a["recording"], a["agent_recording"]) for a in store.alerts()] == [
            ("call-0417.wav", "agent-0417.wav"), (None, None)]
        assert store.agents() == [] and [f["daemon_id"] for f in store.forgotten()] == ["d-old"]
    finally:
        store.close()


def test_an_agent_heard_before_the_consoles_clock_stepped_back_is_silent_its_limit_after_the_step(tmp_path):
    """The console judges an agent silent by its last heartbeat on the console's own clock. Stepped
    back an hour (NTP, a hand), that clock would keep a daemon that stopped beating just before the
    step shown as heard for the hour; its last heartbeat is taken as the step's time instead, and
    the agents heard since are left as they are."""
    store = ConsoleStore.open(tmp_path / "console.db")
    before = time.time()
    store.heartbeat(Heartbeat("d-dead", "alice", 30.0, {}), now=before)  # alice's desktop crashes
    store.heartbeat(Heartbeat("d-live", "bob", 30.0, {}), now=before)
    stepped = before - 3600.0
    assert store.heard_later(now=before) == []  # no step: nothing moves
    assert [g["daemon_id"] for g in store.heard_later(now=stepped)] == ["d-dead", "d-live"]
    store.heartbeat(Heartbeat("d-live", "bob", 30.0, {}), now=stepped + 30.0)
    assert store.heard_later(now=stepped + 60.0) == []
    assert {g["daemon_id"]: g["last_seen"] for g in store.agents()} == {"d-dead": stepped, "d-live": stepped + 30.0}
    store.close()


def test_the_console_takes_an_agent_heard_later_than_its_clock_says_now_as_heard_when_a_beat_comes(tmp_path):
    """A heartbeat of any agent tells the console's page of the agents heard 'in the future' (before
    the console's clock stepped back), heard now from then on."""
    store = ConsoleStore.open(tmp_path / "console.db")
    store.heartbeat(Heartbeat("d-dead", "alice", 30.0, {}), now=time.time() + 3600.0)
    store.close()
    console = ConsoleProcess(tmp_path)
    try:
        assert console.state()["agents"][0]["last_seen"] > time.time() + 3000.0
        assert console.post({"type": "heartbeat", "daemon_id": "d-live", "agent": "bob", "every_s": 30,
                             "status": {}})[0] == 200
        state = console.state()
        assert {g["daemon_id"]: g["last_seen"] <= state["now"] for g in state["agents"]} == {"d-dead": True,
                                                                                            "d-live": True}
    finally:
        console.kill()


def test_the_console_keeps_alerts_and_agents_only_for_its_retention_period(tmp_path):
    """With ``supervisor.retention_days``, the console deletes at its start (then hourly) the alerts it
    received longer ago, acknowledged or not, with their call report links, and the agents last heard
    from before then, in one line, their words gone from the database's bytes too (and that one of them
    was forgotten); what is newer stays."""
    old, now = time.time() - 31 * 86400, time.time()
    store = ConsoleStore.open(tmp_path / "console.db")
    for daemon, seen in (("d-old", old), ("d-new", now)):
        alert = IncomingAlert(daemon_id=daemon, alert_id=1, agent=daemon, kind="possible_emergency",
                              severity="critical", message=f"words of {daemon}", t=9.0, evidence={}, actions=(),
                              call_id=4)
        store.acknowledge(store.add_alert(alert, now=seen)[0]["id"], "Dana", now=seen)
        store.heartbeat(Heartbeat(daemon, daemon, 30.0, {}, reports=((4, "https://r.example/4.html"),)), now=seen)
    store.forget("d-old", now=old)  # its heartbeats' row deleted then, its alert left to the retention
    store.heartbeat(Heartbeat("d-gone", "erin", 30.0, {}), now=old)  # a desktop long silent, not forgotten
    store.close()
    cfg = tmp_path / "console.toml"
    cfg.write_text("[supervisor]\nretention_days = 30\n")
    console = ConsoleProcess(tmp_path, extra=("--config", str(cfg)))
    try:
        assert wait_for(lambda: any("retention (30 days): 1 alert(s) and 1 agent(s) deleted" in e
                                    for e in console.err), 5), console.err
        state = console.state()
        assert [(a["daemon_id"], a["report_url"]) for a in state["alerts"]] == [("d-new", "https://r.example/4.html")]
        assert [g["daemon_id"] for g in state["agents"]] == ["d-new"]
        kept = b"".join(path.read_bytes() for path in tmp_path.glob("console.db*"))  # the file and its log
        assert b"words of d-old" not in kept and b"words of d-new" in kept
    finally:
        console.kill()
    store = ConsoleStore.open(tmp_path / "console.db")
    assert store.purge(before=0.0) == (0, 0)
    assert store.forgotten() == []  # nothing of d-old is left to leave out
    store.close()
    assert sqlite3.connect(tmp_path / "console.db").execute("SELECT count(*) FROM reports").fetchone() == (1,)


def test_forgetting_an_agent_again_keeps_the_time_it_was_first_forgotten_for_the_retention(tmp_path):
    """The note that a daemon was forgotten keeps its id the agent's until ``supervisor.retention_days``
    after it was forgotten; a supervisor pressing "Forget" again (or ``forget-agent`` run twice) does not
    put that off: the note keeps the first forget's time, and the retention deletes it then."""
    first = time.time() - 31 * 86400
    store = ConsoleStore.open(tmp_path / "console.db")
    store.heartbeat(Heartbeat("d-old", "alice", 30.0, {}), now=first)
    assert store.forget("alice", now=first) == ["d-old"]
    assert store.forget("alice", now=time.time()) == ["d-old"]
    assert [(f["daemon_id"], f["agent"], f["at"]) for f in store.forgotten()] == [("d-old", "alice", first)]
    store.purge(before=time.time() - 30 * 86400)
    assert store.forgotten() == []
    store.close()


def test_an_upgraded_console_keeps_thirty_days_of_alerts_by_default_and_every_one_with_0(tmp_path):
    """``supervisor.retention_days`` unset: a console started on the database of an earlier release
    (which kept everything) deletes the alerts it received more than 30 days ago, as the desktops'
    ``storage.retention_days`` does their calls, said in one line with how many, and keeps the younger
    ones; set to 0, it keeps every alert and says nothing of retention."""
    def earlier(folder: Path) -> Path:
        folder.mkdir()
        conn = _earlier_console_db(folder / "console.db", CONSOLE_SCHEMA_3)  # alert 5, a day old
        for pk, days in ((6, 31), (7, 29)):
            conn.execute("INSERT INTO alerts (id, daemon_id, alert_id, agent, t, kind, severity, message, evidence, "
                         "actions, received_at) VALUES (?, 'd-old', ?, 'alice', 9.0, 'slow_speech', 'warning', 'm', "
                         "'{}', '[]', ?)", (pk, pk, time.time() - days * 86400))
        conn.commit()
        conn.close()
        return folder

    default = ConsoleProcess(earlier(tmp_path / "default"))
    try:
        assert wait_for(lambda: any("retention (" in e for e in default.err), 30), default.err
        assert sorted(a["id"] for a in default.state()["alerts"]) == [5, 7]
    finally:
        default.kill()
    assert [e for e in default.err if "retention (" in e] == [
        "call-monitor: retention (30 days): 1 alert(s) and 0 agent(s) deleted (supervisor.retention_days; 0 keeps "
        "everything)"]
    cfg = tmp_path / "keep.toml"
    cfg.write_text("[supervisor]\nretention_days = 0\n")
    kept = ConsoleProcess(earlier(tmp_path / "kept"), extra=("--config", str(cfg)))
    try:
        assert sorted(a["id"] for a in kept.state()["alerts"]) == [5, 6, 7]
        assert kept.stop() == 0
    finally:
        kept.kill()
    assert not [e for e in kept.err if "retention (" in e]


def test_a_console_upgraded_says_its_database_was_brought_to_this_schema_and_rolls_back_as_the_docs_say(tmp_path):
    """The start on a database of 0.1.0 (schema 3) says in one line that it was brought to this
    schema, what was kept, and that an earlier console refuses it now; a start on it again says
    nothing of it. Rolled back as docs/deployment.md says (the console stopped), the file is again
    one of schema 3, its tables and columns as 0.1.0 made them, its alerts and acknowledgements
    kept, and upgraded again it keeps them too."""
    db = tmp_path / "console.db"
    conn = _earlier_console_db(db, CONSOLE_SCHEMA_3)
    conn.close()
    made_by_0_1_0 = db_tables(db)
    said = (f"call-monitor: {db}: console database brought from schema 3 to {SCHEMA_VERSION}, its alerts, "
            f"acknowledgements and agents kept; an earlier call-monitor refuses it from now on (rolling back: "
            f"callmonitor-{RELEASE}.tar.gz's docs/deployment.md, \"Upgrading a site\")")
    for start in ("upgrade", "again", "upgrade after a rollback"):
        console = ConsoleProcess(tmp_path)
        try:
            assert [(a["id"], a["acked_by"]) for a in console.state()["alerts"]] == [(5, "Dana")]
            assert console.stop() == 0
        finally:
            console.kill()
        assert [ln for ln in console.err if "brought from" in ln] == ([] if start == "again" else [said]), start
        if start == "again":
            rolled_back_as_documented(db, 5, of="supervisor.db")  # the agent's file's column first, as the docs say
            rolled_back_as_documented(db, 4)  # then the columns of the agent's word
            rolled_back_as_documented(db, 3)
            assert db_tables(db) == made_by_0_1_0
            assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 3


def test_a_console_database_rolled_back_to_schema_4_as_the_docs_say_is_as_0_3_made_it_its_alerts_kept(tmp_path):
    db = tmp_path / "console.db"
    _earlier_console_db(db, CONSOLE_SCHEMA_4).close()
    made_by_0_3 = db_tables(db)
    ConsoleStore.open(db).close()
    assert db_tables(db) != made_by_0_3
    rolled_back_as_documented(db, 5, of="supervisor.db")
    rolled_back_as_documented(db, 4)
    assert db_tables(db) == made_by_0_3 and sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 4
    store = ConsoleStore.open(db)  # upgraded again
    try:
        assert [(a["id"], a["acked_by"], a["agent_word"]) for a in store.alerts()] == [(5, "Dana", None)]
    finally:
        store.close()


def test_a_console_database_rolled_back_to_schema_5_as_the_docs_say_is_as_0_4_0_made_it_its_alerts_kept(tmp_path):
    db = tmp_path / "console.db"
    _earlier_console_db(db, CONSOLE_SCHEMA_5).close()
    made_by_0_4_0 = db_tables(db)
    ConsoleStore.open(db).close()
    assert db_tables(db) != made_by_0_4_0
    rolled_back_as_documented(db, 5, of="supervisor.db")
    assert db_tables(db) == made_by_0_4_0 and sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 5
    store = ConsoleStore.open(db)  # upgraded again
    try:
        assert [(a["id"], a["acked_by"], a["agent_recording"]) for a in store.alerts()] == [(5, "Dana", None)]
    finally:
        store.close()


def test_a_console_database_of_a_later_release_is_refused_in_one_line_saying_how_to_roll_back(tmp_path):
    """A console rolled back onto the database a later release brought to its schema: one line
    naming the file, its schema and this one's, and the two ways on (the later release, or the file
    taken back as the docs say); exit 2, the file left byte for byte as it was, and nothing written
    before the refusal: no token file made (a first start on a copied database), as none is for a
    daemon's database given as the console's. A token file that cannot be made leaves no database."""
    db = tmp_path / "console.db"
    conn = sqlite3.connect(db)
    conn.executescript(CONSOLE_SCHEMA_3.replace("PRAGMA user_version = 3", f"PRAGMA user_version = {SCHEMA_VERSION + 1}"))
    conn.close()
    before = db.read_bytes()

    def started(db: Path, token: Path) -> subprocess.CompletedProcess:
        return subprocess.run([PY, "-m", "monitor.cli", "supervisor", "--listen", "127.0.0.1:0", "--db", str(db),
                               "--token-file", str(token)], cwd=ROOT, env=_env(tmp_path), capture_output=True,
                              text=True, timeout=60)
    r = started(db, tmp_path / "secrets" / "console.token")
    assert (r.returncode, r.stderr.splitlines()) == (2, [
        f"call-monitor: error: {db}: console database schema {SCHEMA_VERSION + 1} is newer than this call-monitor "
        f"understands ({SCHEMA_VERSION}); upgrade call-monitor, or, rolling back, take the file back to schema "
        f"{SCHEMA_VERSION} as callmonitor-{RELEASE}.tar.gz's docs/deployment.md, \"Upgrading a site\" says (the file is "
        "left as it is)"])
    assert db.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["console.db"]
    from monitor.delivery.store import Store
    Store.open(tmp_path / "events.db").close()
    made = sorted(os.listdir(tmp_path))
    r = started(tmp_path / "events.db", tmp_path / "console.token")
    assert r.returncode == 2 and "not a callmonitor console database" in r.stderr
    assert sorted(os.listdir(tmp_path)) == made
    (tmp_path / "a-file").write_text("")
    r = started(tmp_path / "new.db", tmp_path / "a-file" / "console.token")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "a-file" in r.stderr, r.stderr
    assert not (tmp_path / "new.db").exists()


def test_refused_requests_store_nothing_and_the_console_keeps_running(tmp_path):
    agent_token = "alice-token-0123456789"
    cfg = tmp_path / "console.toml"
    cfg.write_text(f'[supervisor]\nagent_tokens = ["alice:{agent_token}"]\n')
    cfg.chmod(0o600)
    console = ConsoleProcess(tmp_path, extra=("--config", str(cfg)))
    try:
        marker = "BODY-MARKER-4711"
        good = alert_body(1, message=marker)
        assert console.post(good, token=None)[0] == 401
        assert console.post(good, token="not-the-token-at-all")[0] == 401
        status, body = console.request("POST", "/webhook", json.dumps(good).encode(), token=None,
                                       headers={"Authorization": "Basic eDp5"})
        assert status == 401
        big = alert_body(2, message="x" * 70_000)
        assert console.post(big)[0] == 413
        assert console.request("POST", "/webhook", b'{"type": "alert", "alert_id": ')[0] == 400
        assert console.request("POST", "/webhook", b"\xff\xfe not json")[0] == 400
        assert console.post([1, 2, 3])[0] == 400
        assert console.post({**good, "severity": "apocalyptic"})[0] == 422
        assert console.post({**good, "alert_id": "one"})[0] == 422
        assert console.post({**good, "type": "words"})[0] == 422
        for key in ("recording", "agent_recording"):
            for recording in (17, "", "x" * 1001):
                status, said = console.post({**good, key: recording})
                assert (status, said["error"]) == (422, f"{key}: expected a non-empty string of at most 1000 "
                                                        "characters"), (key, recording)
        assert console.post({**good, "agent": "bob"}, token=agent_token)[0] == 403  # an agent posts as itself only
        # the page, its event stream and acknowledgements need the token too
        status, page = console.request("GET", "/", token=None)
        assert status == 401 and b"token" in page
        assert audit(page.decode()) == []  # language, title, main landmark, heading
        assert console.request("GET", "/?token=wrong-token-wrong-token", token=None)[0] == 401
        assert console.request("GET", "/events", token=None)[0] == 401
        # agents post, supervisors read, acknowledge and forget agents: an agent's token is known, and refused
        # there saying so
        for method, path, body in (("GET", "/api/state", None), ("GET", "/events", None), ("GET", "/api/alerts", None),
                                   ("GET", "/api/outcomes", None), ("POST", "/api/alerts/1/ack", b'{"by": "eve"}'),
                                   ("POST", "/api/agents/forget", b'{"agent": "bob"}')):
            status, said = console.request(method, path, body, token=agent_token)
            assert status == 403 and "agent 'alice'" in json.loads(said)["error"], (path, status, said)
        status, said = console.request("GET", "/api/state", token="not-the-token-at-all")
        assert status == 401 and json.loads(said)["error"] == "wrong token: none of this console's"
        assert console.request("POST", "/api/alerts/1/ack", b'{"by": "eve"}', token=None)[0] == 401
        assert console.request("POST", "/api/agents/forget", b'{"agent": "bob"}', token=None)[0] == 401
        assert console.request("POST", "/api/agents/forget", b'{"agent": "bob"}',
                               headers={"Content-Type": "application/x-www-form-urlencoded"})[0] == 415
        for body in (b'{"agent": ""}', b'{"agent": 7}', b'{}'):
            status, said = console.request("POST", "/api/agents/forget", body)
            assert (status, json.loads(said)["error"]) == (422, "agent: expected an agent's name, as the page lists it")
        assert console.state()["alerts"] == []
        assert console.alive()
        # still serving: a good post from the agent's own token is stored
        status, body = console.post(good, token=agent_token)
        assert status == 201 and body["stored"] == "new"
        assert console.post(good)[1]["stored"] == "duplicate"
        (stored,) = console.state()["alerts"]
        assert stored["message"] == marker and stored["agent"] == "alice"
        def refused(said: str) -> bool:
            return any(e.startswith("call-monitor: warning: 4") and said in e for e in console.err)
        assert wait_for(lambda: all(refused(said) for said in ("401 POST /webhook from 127.0.0.1", "413 POST /webhook",
                                                               "400 POST /webhook")), 5), console.err  # as read
        assert not any(marker in e for e in console.err)  # logged without their bodies
        # made: said, the token itself shown on a terminal only, never into a log (the journal, a pipe)
        assert not any(console.token in e for e in console.err)
        assert console.err[0] == (f"call-monitor: new token written to {console.token_file} (mode 0600; shown on a "
                                  "terminal only, not in a log: read it there)")
        assert new_token_line("t.token", "s3cret-token", on_terminal=True).endswith("(mode 0600): s3cret-token")
    finally:
        console.kill()


MALFORMED_STATUSES = [
    ({"devices_open": True, "devices": {"caller": None}}, "status.devices.caller: expected an object"),
    ({"in_call": True, "call": {"call_id": 3, "t": 12.0, "active_alerts": "slow_speech"}},
     "status.call.active_alerts: expected a list"),
    ({"call": {"call_id": 3, "active_alerts": ["slow_speech", None]}}, "status.call.active_alerts[1]: expected a string"),
    ({"devices": {"caller": {"state": 1}}}, "status.devices.caller.state: expected a string"),
    ({"transcription_off": ["no model"]}, "status.transcription_off: expected a string"),
    ({"version": 2}, "status.version: expected a string"),
    ({"devices": ["caller"]}, "status.devices: expected an object"),
    ({"devices": {"caller\nagent: running": "up"}}, 'status.devices."caller\\nagent: running": expected an object'),
    ({"stopped": "yes"}, "status.stopped: expected true or false"),
    ({"call": {"call_id": -1}}, "status.call.call_id: expected a non-negative integer"),
    ({"last_error": "disk full"}, "status.last_error: expected an object"),
    ({"reports": 5}, "status.reports: expected a list"),
    ({"reports": [{"call_id": 7, "url": ["https://reports.example/7.html"]}]}, "status.reports[0].url: expected a string"),
    ("running", "status: expected an object"),
]
"""Heartbeat statuses the page could not draw, and the one line that refuses each."""


def test_a_malformed_heartbeat_is_refused_naming_the_field_and_stores_nothing(tmp_path):
    """Any agent's own token posts heartbeats: a status of another shape than a daemon's (a device
    that is null, active alerts as one string) is refused with 422 and the field it is about, in one
    line, and stores nothing the page would have to draw."""
    token = "erin-token-0123456789"
    cfg = tmp_path / "console.toml"
    cfg.write_text(f'[supervisor]\nagent_tokens = ["erin:{token}"]\n')
    console = ConsoleProcess(tmp_path, extra=("--config", str(cfg)))
    try:
        for status, said in MALFORMED_STATUSES:
            body = {"type": "heartbeat", "daemon_id": "bad3", "agent": "erin", "every_s": 30, "status": status}
            assert console.post(body, token=token) == (422, {"error": said}), status
        assert console.state()["agents"] == []
        def refused() -> list[str]:
            return [e for e in console.err if e.startswith("call-monitor: warning: 422 POST /webhook from 127.0.0.1: ")]
        assert wait_for(lambda: len(refused()) == len(MALFORMED_STATUSES), 30), console.err  # a line each
        assert [e.split("127.0.0.1: ", 1)[1] for e in refused()] == [said for _, said in MALFORMED_STATUSES]
        assert console.alive()
    finally:
        console.kill()


def _over(n: int) -> str:
    return f"the string has {n} characters; expected at most"


OVERLONG_STATUSES = [
    ({"devices": {"caller": {"state": "running", "label": "m" * 61440}}},
     f"status.devices.caller.label: {_over(61440)} 200"),
    ({"devices": {"c" * 101: {"state": "running"}}},
     f'status.devices."{"c" * 40}": the name has 101 characters; expected at most 100'),
    ({"devices": {"caller": {"state": "s" * 101}}}, f"status.devices.caller.state: {_over(101)} 100"),
    ({"version": "v" * 101}, f"status.version: {_over(101)} 100"),
    ({"call": {"call_id": 3, "active_alerts": ["slow_speech", "k" * 101]}},
     f"status.call.active_alerts[1]: {_over(101)} 100"),
    ({"last_error": {"level": "l" * 101}}, f"status.last_error.level: {_over(101)} 100"),
    ({"last_error": {"source": "s" * 101}}, f"status.last_error.source: {_over(101)} 100"),
    ({"last_error": {"message": "m" * 2001}}, f"status.last_error.message: {_over(2001)} 2000"),
    ({"last_error": {"resolved": "r" * 2001}}, f"status.last_error.resolved: {_over(2001)} 2000"),
    ({"transcription_off": "t" * 2001}, f"status.transcription_off: {_over(2001)} 2000"),
    ({"reports": [{"call_id": 7, "url": "https://reports.example/" + "r" * 1977 + ".html"}]},
     f"status.reports[0].url: {_over(2006)} 2000"),
]
"""Heartbeat statuses with a string longer than the console keeps, and the one line that refuses each."""


def test_a_heartbeat_whose_status_holds_a_string_too_long_to_draw_is_refused_naming_the_field(tmp_path):
    """A device label of 60 KB (under the 64 KB body) was stored and drawn on every page. Each string of
    a status is bounded by its kind (a word 100 characters, a device's label 200, a line or a link
    2000): one over is refused with 422 naming the field and its length, in one line, storing
    nothing; a status with every string at its bound is taken and kept as sent."""
    console = ConsoleProcess(tmp_path)
    try:
        for status, said in OVERLONG_STATUSES:
            body = {"type": "heartbeat", "daemon_id": "long1", "agent": "erin", "every_s": 30, "status": status}
            assert console.post(body) == (422, {"error": said}), said
        assert console.state()["agents"] == []
        at_bounds = {"version": "v" * 100, "devices": {"c" * 100: {"state": "s" * 100, "label": "m" * 200}},
                     "call": {"call_id": 3, "active_alerts": ["k" * 100]},
                     "last_error": {"level": "l" * 100, "source": "s" * 100, "message": "m" * 2000,
                                    "resolved": "r" * 2000},
                     "transcription_off": "t" * 2000,
                     "reports": [{"call_id": 7, "url": "https://reports.example/" + "r" * 1957 + "/call-7-report.html"}]}
        body = {"type": "heartbeat", "daemon_id": "long1", "agent": "erin", "every_s": 30, "status": at_bounds}
        assert console.post(body) == (200, {"ok": True})
        assert [g["status"] for g in console.state()["agents"]] == [at_bounds]
    finally:
        console.kill()


BAD_REPORT_LINKS = [
    ("javascript:alert(document.cookie)//call-8-report.html",
     "expected an http://, https:// or file:/// link to the call's report"),
    ("data:text/html,<script>alert(1)</script>", "expected an http://, https:// or file:/// link to the call's report"),
    ("https://reports.example/desk 4\n/call-8-report.html", "a link holds no spaces or control characters"),
    ("https://phish.example/sign-in", "expected a link to call 8's report, ending in /call-8-report.html"),
    ("https://reports.example/desk-4/call-9-report.html",
     "expected a link to call 8's report, ending in /call-8-report.html"),
    ("file://fileserver/share/call-8-report.html",
     "a file link names no host (a daemon links its report as file:///PATH on its own desktop)"),
    ("https://alice:pw@reports.example/call-8-report.html",
     "expected an http(s) link with a host and without credentials"),
]
"""Call report links no daemon makes (of call 8), and the reason that refuses each."""


def _beat(in_call: bool, links: dict) -> dict:
    """A heartbeat of agent alice naming these call report links (call id: link)."""
    return {"type": "heartbeat", "daemon_id": "d-test", "agent": "alice", "every_s": 30,
            "status": {"in_call": in_call, "reports": [{"call_id": c, "url": u} for c, u in links.items()]}}


def test_a_call_report_link_is_one_a_daemon_makes_and_another_is_left_out_the_beat_taken(tmp_path):
    """A daemon links a call's report as ``delivery.report_url_base`` plus the report's name, or as a
    file:/// path on its desktop, and the page shows the link on that call's alerts. A link no daemon
    makes (another scheme, another page than the call's report, a file on another host, credentials)
    is left out of its heartbeat, which is taken all the same: the agent is heard (not silent, its
    status the new one) and its other links shown; the answer (200) names each link left out and
    why, and the console says it in one warning line per agent a minute, not one per beat."""
    console = ConsoleProcess(tmp_path)
    good = {7: "file:///home/alice/.local/share/callmonitor/reports/call-7-report.html",
            8: "https://reports.example/desk-4/call-8-report.html"}
    try:
        for call_id in good:
            assert console.post(alert_body(call_id, call_id=call_id))[0] == 201
        for url, why in BAD_REPORT_LINKS:
            left_out = [{"call_id": 8, "url": url, "error": f"status.reports[1].url: {why}"}]
            assert console.post(_beat(True, {7: good[7], 8: url})) == (200, {"ok": True, "refused_reports": left_out})
        state = console.state()
        assert {a["call_id"]: a["report_url"] for a in state["alerts"]} == {7: good[7], 8: None}
        assert [(g["daemon_id"], g["status"]) for g in state["agents"]] == [
            ("d-test", {"in_call": True, "reports": [{"call_id": 7, "url": good[7]}]})]
        assert console.post({"type": "heartbeat"})[0] == 422  # a line said after the beats' own
        assert wait_for(lambda: any("422 POST /webhook" in e for e in console.err), 30)
        said = [e for e in console.err if "call report link" in e]
        assert len(said) == 1 and "warning: " in said[0] and "'alice'" in said[0], said
        assert f"status.reports[1].url: {BAD_REPORT_LINKS[0][1]}" in said[0]
        assert console.post(_beat(False, good)) == (200, {"ok": True})
        assert {a["call_id"]: a["report_url"] for a in console.state()["alerts"]} == good
    finally:
        console.kill()


def test_every_link_a_daemon_makes_to_a_call_report_is_one_the_console_takes(tmp_path):
    """``delivery.report_url_base`` plus the report's name, or a file:/// URL of the report on the
    desktop (a folder with a space in its name too): the console refuses none of them."""
    from monitor.commands.run import report_link
    from monitor.delivery.call_files import report_name
    from monitor.supervisor.heartbeat import report_link_problem
    path = str(tmp_path / "call reports" / report_name(12))
    from monitor.config.urls import url_problem
    for base in ("", "https://reports.example/desk-4/", "http://10.0.0.5:8080", "https://share.example/r?desk=4",
                 "HTTPS://Reports.example/desk-4/"):  # a scheme in capitals, as the configuration takes it
        assert not (base and url_problem(base)) and report_link_problem(report_link(base)(path), 12) is None, base


def test_a_heartbeat_of_an_earlier_release_or_a_partial_one_is_kept_as_sent(tmp_path):
    """Every field of a status may be missing or null: an empty status, a daemon of an earlier
    release (its last problem without the source or its resolution, no report links), a field the
    console does not read (a later release's) are stored as they came."""
    console = ConsoleProcess(tmp_path)
    statuses = {"d-empty": {},
                "d-earlier": {"devices": {"caller": {"state": "running", "label": None}}, "devices_open": True,
                              "in_call": False, "call": None, "calls": 4, "alerts": 2, "uptime_s": 3600.5,
                              "last_error": {"level": "warning", "message": "webhook: HTTP 503", "at": 1.7e9}},
                "d-later": {"devices_open": None, "queue": {"held": [1, "two"]}}}
    try:
        for daemon_id, status in statuses.items():
            body = {"type": "heartbeat", "daemon_id": daemon_id, "agent": "alice", "every_s": 30, "status": status}
            assert console.post(body) == (200, {"ok": True}), status
        assert {g["daemon_id"]: g["status"] for g in console.state()["agents"]} == statuses
    finally:
        console.kill()


def test_a_daemons_heartbeat_in_a_call_with_alerts_raised_is_taken(tmp_path):
    """A daemon's own heartbeat, beaten as its alerts are raised in a call (the call, its time and
    its active alert kinds), reaches the console and reads there as sent, naming the daemon's
    release (the number ``call-monitor --version`` says)."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    from monitor.delivery.store import Store

    console = ConsoleProcess(tmp_path / "console")
    beats: list[bool] = []
    try:
        cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
        with Store.open(tmp_path / "e.db") as store:
            daemon = Daemon(cfg, FileSource(CALLS / "deteriorating_16k.wav"), store, {})
            heartbeat = Heartbeat(console.webhook, Identity("Alice (desk 4)", store.instance_id()),
                                  daemon.heartbeat_status, every_s=30.0, token=console.token)

            def beat_at_the_first_alert(ev) -> None:
                if ev.type == "alert" and not beats:
                    beats.append(heartbeat.beat())
                    daemon.request_stop("the heartbeat is sent")

            daemon.sinks["beat"] = beat_at_the_first_alert
            assert daemon.run() == 0
        assert beats == [True], heartbeat.last_error
        (agent,) = console.state()["agents"]
        call = agent["status"]["call"]
        assert agent["status"]["in_call"] is True and call["t"] > 0 and call["active_alerts"]
        assert agent["status"]["version"] == RELEASE
        assert all(isinstance(kind, str) for kind in call["active_alerts"])
    finally:
        console.kill()


def test_a_daemon_without_its_model_for_a_long_path_sends_why_cut_so_the_console_takes_its_beats(tmp_path):
    """Why transcription is off names the model's folder: a path of thousands of characters is
    sent cut to the console's longest line with "...", as the last problem is, and the beat is taken."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.store import Store
    from monitor.supervisor.heartbeat import LINE_CHARS, status_problem

    off = f"transcription off: /models/{'x' * 3000}: no such folder; running acoustic-only until a start loads a model"
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        status = Daemon(cfg, FileSource(CALLS / "normal_16k.wav"), store, {}, transcription_off=off).heartbeat_status()
    said = status["transcription_off"]
    assert len(said) == LINE_CHARS and said.startswith("transcription off: /models/xxx") and said.endswith("...")
    assert status_problem(status) is None


def _open_stream(console: ConsoleProcess, headers: dict) -> http.client.HTTPResponse:
    """The console's event stream opened with ``headers`` (a session cookie, a bearer token), its
    answer's head read."""
    con = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    con.request("GET", "/events", headers=headers)
    answer = con.getresponse()
    assert answer.status == 200
    return answer


def test_sighup_reloads_the_tokens_and_a_bad_configuration_leaves_them_as_they_were(tmp_path):
    """As the daemon does: SIGHUP reads the configuration and the token file again, says so in one
    line and keeps serving from the same database; a configuration it cannot use changes nothing."""
    alice, bob = "alice-token-0123456789", "bob-token-0123456789ab"
    cfg = tmp_path / "console.toml"
    cfg.write_text(f'[supervisor]\nagent_tokens = ["alice:{alice}"]\n')
    cfg.chmod(0o644)  # another user could post as alice: said at the start, not once it is private
    console = ConsoleProcess(tmp_path, extra=("--config", str(cfg)))
    exposed = (f"call-monitor: warning: {cfg}: this configuration, which holds supervisor.agent_tokens, may be read "
               f"by every user (mode 0644); make it private: chmod 600 {cfg}")
    try:
        assert console.err[0] == exposed
        assert console.post(alert_body(1, agent="alice"), token=alice)[0] == 201
        assert console.post(alert_body(1, agent="bob", daemon_id="d-bob"), token=bob)[0] == 401
        cfg.chmod(0o600)
        console.token_file.chmod(0o640)  # the shared token reads every agent's alerts: said, still taken
        cfg.write_text(f'[supervisor]\nagent_tokens = ["alice:{alice}", "bob:{bob}"]\n')
        console.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: any("configuration reloaded" in e for e in console.err), 30), console.err
        assert console.err[-2:] == [
            f"call-monitor: warning: {console.token_file}: the token file may be read by its group (mode 0640); "
            f"make it private: chmod 600 {console.token_file}",
            "call-monitor: configuration reloaded (tokens: the shared one and 2 agent(s))"]
        assert console.err.count(exposed) == 1
        console.token_file.chmod(0o600)
        assert console.post(alert_body(1, agent="bob", daemon_id="d-bob"), token=bob)[0] == 201
        cfg.write_text('[supervisor]\nagent_tokens = ["carol:short"]\n')
        console.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: any("not reloaded" in e for e in console.err), 30), console.err
        assert console.err[-1] == ("call-monitor: warning: configuration not reloaded, the console goes on with the "
                                   f"one it had: {cfg}: supervisor.agent_tokens: carol: expected \"NAME:TOKEN\" with "
                                   "a token of at least 16 characters")
        assert console.post(alert_body(2, agent="bob", daemon_id="d-bob"), token=bob)[0] == 201
        assert console.alive() and len(console.state()["alerts"]) == 3
        cfg.write_text(f'[supervisor]\nagent_tokens = ["alice:{alice}"]\n')
        console.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: console.err[-1] == "call-monitor: configuration reloaded (tokens: the shared one "
                                                  "and 1 agent(s))", 10), console.err
        assert console.post(alert_body(3, agent="bob", daemon_id="d-bob"), token=bob)[0] == 401
        # a new shared token: the streams the old one or its session opened end, given nothing after it
        streams = [_open_stream(console, {"Cookie": console.session_cookie()}),
                   _open_stream(console, {"Authorization": f"Bearer {console.token}"})]
        console.token_file.write_text("a-new-shared-token-0123456789\n")
        console.proc.send_signal(signal.SIGHUP)
        reloaded = "call-monitor: configuration reloaded (tokens: the shared one and 1 agent(s))"
        assert wait_for(lambda: console.err.count(reloaded) == 2, 30), console.err
        assert console.post(alert_body(4, message="AFTER-THE-NEW-TOKEN"), token="a-new-shared-token-0123456789")[0] == 201
        for stream in streams:
            said = stream.read()  # to its end, which the next message brings
            assert b"event: state" in said and b"AFTER-THE-NEW-TOKEN" not in said, said[-300:]
        assert console.stop() == 0
    finally:
        console.kill()


def test_a_console_database_others_may_read_is_said_at_the_start_with_the_fix(tmp_path):
    """The console makes its database 0600; one restored from a backup or copied keeps its mode, and
    it holds every agent's alerts (a caller's words in a distress phrase's): the start says so, as the
    daemon says it of its own database, and serves all the same. The fix names the -wal and -shm
    SQLite made beside it with its mode, which the console holds open: run as said, none of the three
    is left readable by another user."""
    ConsoleStore.open(tmp_path / "console.db").close()  # as a console made it, then copied
    (tmp_path / "console.db").chmod(0o644)
    console = ConsoleProcess(tmp_path)
    try:
        fix = f"chmod 600 {console.db} {console.db}-wal {console.db}-shm"
        assert console.err[0] == (f"call-monitor: warning: {console.db}: the console's database, which holds every "
                                  f"agent's alerts, may be read by every user (mode 0644); make it private: {fix}")
        subprocess.run(fix.split(), check=True)
        assert [os.stat(f"{console.db}{end}").st_mode & 0o777 for end in ("", "-wal", "-shm")] == [0o600] * 3
        assert console.post(alert_body(1))[0] == 201
    finally:
        console.kill()


def test_a_reload_reads_no_pipe_again_the_start_s_token_pipe_keeps_its_token(tmp_path, monitor_logs):
    """A token or configuration handed over in a pipe (``<(pass show ...)``, a named pipe) is read
    once, at the start: a reload read it again and waited, every later reload held, for a writer
    that never came. The start's token pipe keeps its token; a configuration pipe is refused in
    one line, as the daemon refuses it."""
    import threading
    from monitor.cli import build_parser
    from monitor.commands.common import config_from_args
    from monitor.commands.supervisor import _overrides, _Reload, _server_config
    from monitor.supervisor.app import create_app

    token_pipe, config_pipe = tmp_path / "token", tmp_path / "console.toml"
    for pipe in (token_pipe, config_pipe):
        os.mkfifo(pipe)
    token = "piped-shared-token-0123456789"  # what the start read from the pipe
    store = ConsoleStore.open(tmp_path / "console.db")
    try:
        app = create_app(store, Auth(token))
        for extra in ([], ["--config", str(config_pipe)]):
            args = build_parser().parse_args(["supervisor", "--token-file", str(token_pipe),
                                              "--db", str(tmp_path / "console.db"), *extra])
            cfg = config_from_args(build_parser().parse_args(["supervisor", "--token-file", str(token_pipe)]),
                                   _overrides(args))
            served = _server_config(args, app, cfg.supervisor)
            reload = threading.Thread(target=_Reload(args, cfg, served, False, token), daemon=True)
            reload.start()
            reload.join(30)
            assert not reload.is_alive(), "the reload waits on a pipe"
    finally:
        store.close()
    assert [m for _, m in monitor_logs if "reloaded" in m] == [
        "configuration reloaded (tokens: the shared one and 0 agent(s))",
        f"configuration not reloaded, the console goes on with the one it had: {config_pipe}: a pipe, read once "
        "at the start; a reload reads a configuration file only"]


def test_a_reload_that_edits_the_key_of_an_option_given_says_the_option_s_value_wins(tmp_path, monitor_logs):
    """`supervisor --db console.db --config console.toml`: a database named in console.toml and
    edited there does not apply, the option's does; the reload says so in one warning line
    naming the key, the option and the file, rather than nothing at all."""
    from monitor.cli import build_parser
    from monitor.commands.common import config_from_args
    from monitor.commands.supervisor import _overrides, _Reload, _server_config
    from monitor.supervisor.connections import limit_concurrency
    from monitor.supervisor.app import create_app

    conf = tmp_path / "console.toml"
    conf.write_text(f'[supervisor]\ndb = "{tmp_path / "old.db"}"\n')
    (tmp_path / "token").write_text("shared-token-0123456789\n")
    args = build_parser().parse_args(["supervisor", "--db", str(tmp_path / "console.db"), "--config", str(conf),
                                      "--token-file", str(tmp_path / "token")])
    cfg = config_from_args(args, _overrides(args))
    store = ConsoleStore.open(cfg.supervisor.db)
    try:
        app = create_app(store, Auth("shared-token-0123456789"))
        reload = _Reload(args, cfg, _server_config(args, app, cfg.supervisor), False, "shared-token-0123456789")
        conf.write_text(f'[supervisor]\ndb = "{tmp_path / "new.db"}"\nsilent_after_s = 30\nmax_connections = 7\n')
        reload()
        reload()  # nothing edited since: nothing said of it
    finally:
        store.close()
    assert [(level, m) for level, m in monitor_logs if "supervisor.db" in m or "reloaded" in m] == [
        ("info", "configuration reloaded (tokens: the shared one and 0 agent(s))"),
        ("warning", "the command line's value wins over the configuration's edit of supervisor.db (--db; edited in "
                    f"{conf})"),
        ("info", "configuration reloaded (tokens: the shared one and 0 agent(s))")]
    assert reload.cfg.supervisor.db == str(tmp_path / "console.db") and reload.cfg.supervisor.silent_after_s == 30
    assert reload.server_config.limit_concurrency == limit_concurrency(7)  # the connections opened from now on


def test_a_token_file_named_in_the_configuration_that_cannot_be_read_is_said_with_the_key_and_that_file(
        tmp_path, monitor_logs):
    """console.toml names a shared token file that is gone at a reload: the one warning line names
    console.toml and supervisor.token_file as well as the token file, and the console goes on."""
    from monitor.cli import build_parser
    from monitor.commands.common import config_from_args
    from monitor.commands.supervisor import _overrides, _Reload, _server_config
    from monitor.supervisor.app import create_app

    token = tmp_path / "shared.token"
    token.write_text("shared-token-0123456789\n")
    conf = tmp_path / "console.toml"
    conf.write_text(f'[supervisor]\ntoken_file = "{token}"\n')
    args = build_parser().parse_args(["supervisor", "--db", str(tmp_path / "console.db"), "--config", str(conf)])
    cfg = config_from_args(args, _overrides(args))
    store = ConsoleStore.open(cfg.supervisor.db)
    try:
        token.unlink()
        app = create_app(store, Auth("shared-token-0123456789"))
        _Reload(args, cfg, _server_config(args, app, cfg.supervisor), False, "shared-token-0123456789")()
    finally:
        store.close()
    assert [(level, m) for level, m in monitor_logs if "reloaded" in m] == [
        ("warning", f"configuration not reloaded, the console goes on with the one it had: {conf}: "
                    f"supervisor.token_file: {token}: no such token file")]


def test_a_storm_of_sighups_neither_stops_nor_hangs_the_console(tmp_path):
    """SIGHUP after SIGHUP, some arriving while the last one's handler still runs: the console
    reloads one at a time and goes on serving (a handler that started a thread died in
    threading's own locks)."""
    console = ConsoleProcess(tmp_path)
    try:
        until = time.monotonic() + 3.0
        while time.monotonic() < until and console.alive():
            os.kill(console.proc.pid, signal.SIGHUP)
            time.sleep(0.0002)
        assert console.alive(), "\n".join(console.err[-20:])
        assert wait_for(lambda: console.post(alert_body(1))[0] == 201, 30)
        assert not any("Traceback" in e for e in console.err)
        assert console.stop() == 0
    finally:
        console.kill()


def test_a_reload_names_what_applies_only_at_the_next_start(tmp_path):
    cfg = tmp_path / "console.toml"
    cfg.write_text('[supervisor]\nlisten = "127.0.0.1:0"\n')
    console = ConsoleProcess(tmp_path, port=None, extra=("--config", str(cfg)))
    try:
        cfg.write_text('[supervisor]\nlisten = "127.0.0.1:1"\nsilent_after_s = 30\n')
        console.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reloaded" in console.err[-1], 30), console.err
        assert console.err[-1] == ("call-monitor: warning: configuration reloaded, except what applies at the next "
                                   "start: supervisor.listen")
        assert console.state()["silent_after_s"] == 30  # the rest applies at once, on the same address
    finally:
        console.kill()


def test_the_state_counts_the_warnings_it_leaves_out_as_of_its_listing(tmp_path):
    """A warning stored (here by another process's connection) while the console reads its state is
    in both its list and its count of open warnings left out, or in neither: never counted as an
    older open warning that the list, read a moment before, does not hold."""
    from monitor.supervisor.app import create_app

    store, other = ConsoleStore.open(tmp_path / "console.db"), ConsoleStore.open(tmp_path / "console.db")
    warning = IncomingAlert(daemon_id="d-1", alert_id=1, agent="alice", kind="rising_tension",
                            severity="warning", message="tension", t=9.0, evidence={}, actions=())
    try:
        def store_the_warning_as_the_count_begins(sql: str) -> None:
            if "count(" in sql and not other.alerts():
                other.add_alert(warning)

        store._conn.set_trace_callback(store_the_warning_as_the_count_begins)
        state = create_app(store, Auth("shared-token-0123456789")).state.console.snapshot()
        assert other.alerts(), "the warning was stored while the state was read"
        assert (len(state["alerts"]), state["open_warnings_left_out"]) in ((0, 0), (1, 0))
    finally:
        store.close()
        other.close()


def test_acknowledgement_is_stored_with_who_and_when(tmp_path):
    """The first acknowledgement stands; the console's log says who acknowledged an alert, and of a
    later one that it was not stored (not the first one's name again, as if acknowledged now)."""
    console = ConsoleProcess(tmp_path)
    try:
        status, body = console.post(alert_body(1))
        assert status == 201
        pk = body["id"]
        t0 = time.time()
        status, raw = console.request("POST", f"/api/alerts/{pk}/ack", b'{"by": "Dana"}')
        assert status == 200
        again = console.request("POST", f"/api/alerts/{pk}/ack", b'{"by": "Eve"}')
        assert json.loads(again[1])["acked_by"] == "Dana"  # the first acknowledgement stands
        assert console.request("POST", "/api/alerts/999/ack", b'{"by": "Dana"}')[0] == 404
        assert console.request("POST", "/api/alerts/" + "9" * 30 + "/ack", b'{"by": "Dana"}')[0] == 404  # no 500
        beyond = console.request("POST", "/api/alerts/" + "9" * 5000 + "/ack", b'{"by": "Dana"}')  # int() reads
        assert beyond == (404, b'{"error":"no such alert"}')  # 4300 digits at most: no 500 with a traceback
        zeros = console.request("POST", "/api/alerts/" + "0" * 5000 + f"{pk}/ack", b'{"by": "Eve"}')
        assert zeros[0] == 200 and json.loads(zeros[1])["acked_by"] == "Dana"  # leading zeros read as ever
        (a,) = console.state()["alerts"]
        assert a["acked_by"] == "Dana" and t0 - 1 < a["acked_at"] < time.time() + 1
        assert console.stop() == 0
        said = [line for line in console.err if f"alert {pk} " in line and "acknowledged" in line]
        assert said == [f"call-monitor: alert {pk} acknowledged by Dana",
                        *[f"call-monitor: alert {pk} was acknowledged already by Dana; Eve's acknowledgement is not "
                          "stored"] * 2], console.err
    finally:
        console.kill()


def test_the_state_lists_every_open_critical_and_the_newest_open_warnings_counting_those_left_out(tmp_path):
    """A site that never acknowledges its warnings: the state lists the newest 1000 open warnings and
    counts the older ones (``open_warnings_left_out``), but every open critical alert, however old; its
    other fields are as before, the open alerts still newest first, then the acknowledged."""
    console = ConsoleProcess(tmp_path)
    try:
        stored_alerts(console, 1105, acked=100, critical={101, 102})  # the two oldest open alerts are critical
        state = console.state()
        assert {"now", "silent_after_s", "alerts", "acked_total", "agents", "forgotten"} <= set(state)
        ids = [a["id"] for a in state["alerts"]]
        assert ids == [*range(1105, 105, -1), 102, 101, *range(100, 0, -1)]  # the open warnings 103 to 105 left out
        assert state["open_warnings_left_out"] == 3 and state["acked_total"] == 100
        assert console.request("POST", "/api/alerts/1105/ack", b'{"by": "Dana"}')[0] == 200
        assert console.state()["open_warnings_left_out"] == 2  # 105 listed now
    finally:
        console.kill()


def test_older_alerts_come_in_pages_asked_for_with_the_token_and_a_bad_query_is_refused_in_one_line(tmp_path):
    """``GET /api/alerts`` pages back through the alerts, the latest first: ``before`` an alert's id,
    at most ``limit`` (50 unless asked, 500 at most), ``acked`` true or false for those acknowledged or
    open only, ``more`` saying whether older ones follow. It needs the token as the rest of the API does;
    a parameter it does not take, or a value out of bounds, is a 400 naming the parameter."""
    console = ConsoleProcess(tmp_path)
    try:
        stored_alerts(console, 130, acked=120)

        def page(query: str) -> tuple[list[int], bool]:
            status, body = console.request("GET", "/api/alerts?" + query)
            assert status == 200, body
            said = json.loads(body)
            return [a["id"] for a in said["alerts"]], said["more"]

        assert page("acked=true") == ([*range(120, 70, -1)], True)
        assert page("acked=true&before=71&limit=40") == ([*range(70, 30, -1)], True)
        assert page("acked=true&before=31&limit=40") == ([*range(30, 0, -1)], False)
        assert page("acked=false&limit=3") == ([130, 129, 128], True)
        assert page("before=123&limit=4") == ([122, 121, 120, 119], True)
        assert page("limit=500")[0] == [*range(130, 0, -1)]
        status, body = console.request("GET", "/api/alerts?before=2&limit=1")
        (alert,) = json.loads(body)["alerts"]
        assert alert["acked_by"] == "Dana" and alert["evidence_lines"] and alert["kind"] == "slow_speech"
        for query, said in (("limit=0", "limit: expected a whole number from 1 to 500, got '0'"),
                            ("limit=501", "limit: expected a whole number from 1 to 500, got '501'"),
                            ("limit=ten", "limit: expected a whole number from 1 to 500, got 'ten'"),
                            ("limit=1_0", "limit: expected a whole number from 1 to 500, got '1_0'"),
                            ("limit=%2010", "limit: expected a whole number from 1 to 500, got ' 10'"),
                            ("before=%2B5", "before: expected a whole number from 1 to 9223372036854775807, got '+5'"),
                            ("before=-1", "before: expected a whole number from 1 to 9223372036854775807, got '-1'"),
                            ("before=" + "9" * 30, "before: expected a whole number from 1 to 9223372036854775807, "
                                                   "got '99999999999999999999'"),
                            ("limit=" + "9" * 5000, "limit: expected a whole number from 1 to 500, "
                                                  "got '99999999999999999999'"),
                            ("acked=yes", "acked: expected true or false, got 'yes'"),
                            ("limit=1&limit=2", "limit: given twice"),
                            ("order=ack", "order: expected received or acked, got 'ack'"),
                            ("order=acked&acked=false",
                             "order: acked lists the acknowledged alerts only, which acked=false leaves out"),
                            ("order=acked&before=3&acked_at=soon",
                             "acked_at: expected a time in unix seconds (a number, 0 or more), got 'soon'"),
                            ("order=acked&before=3&acked_at=inf",
                             "acked_at: expected a time in unix seconds (a number, 0 or more), got 'inf'"),
                            ("order=acked&acked_at=5",
                             "acked_at: only with order=acked and before, as the time that alert was acknowledged"),
                            ("before=3&acked_at=5",
                             "acked_at: only with order=acked and before, as the time that alert was acknowledged"),
                            ("page=2", "page: no such parameter; expected before, acked_at, limit, acked, order")):
            status, body = console.request("GET", "/api/alerts?" + query)
            assert (status, json.loads(body)) == (400, {"error": said}), query
        status, body = console.request("GET", "/api/alerts", token=None)
        assert (status, json.loads(body)["code"]) == (401, "missing_token")
        assert console.request("GET", "/api/alerts", token="not-the-token-at-all")[0] == 401
        assert console.alive() and not any("Traceback" in e for e in console.err)
        assert "call-monitor: warning: 400 GET /api/alerts from 127.0.0.1: acked: expected true or false, got 'yes'" \
            in console.err
    finally:
        console.kill()


def test_the_acknowledged_alerts_are_listed_and_paged_the_latest_acknowledged_first_whenever_received(tmp_path):
    """A call's critical alert acknowledged after its later warnings: the state lists it first among the
    acknowledged (the latest acknowledged first, not the latest received), and one acknowledged now is
    listed however many were acknowledged before it (not left beyond the 500 listed for being received
    long ago). ``GET /api/alerts?order=acked`` pages back in that same order, ``before`` the last one's
    id; an id that is no acknowledged alert kept is a 404 saying so. Without ``order``, pages stay by id."""
    console = ConsoleProcess(tmp_path)
    try:
        for i in range(1, 52):  # the critical first, then its call's warnings
            severity, kind = ("critical", "possible_emergency") if i == 1 else ("warning", "long_pauses")
            assert console.post(alert_body(i, severity=severity, kind=kind, t=float(i)))[0] == 201
        for pk in [*range(2, 52), 1]:  # the warnings, then the critical
            assert console.request("POST", f"/api/alerts/{pk}/ack", b'{"by": "Dana"}')[0] == 200
        listed = [a["id"] for a in console.state()["alerts"] if a["acked_by"]]
        assert listed == [1, *range(51, 1, -1)]

        def page(query: str) -> tuple[list[int], bool]:
            status, body = console.request("GET", "/api/alerts?" + query)
            assert status == 200, body
            said = json.loads(body)
            return [a["id"] for a in said["alerts"]], said["more"]

        assert page("order=acked&limit=20") == ([1, *range(51, 32, -1)], True)
        assert page("order=acked&acked=true&before=33&limit=20") == ([*range(32, 12, -1)], True)
        assert page("order=acked&before=13&limit=20") == ([*range(12, 1, -1)], False)
        assert page("order=acked&before=2") == ([], False)
        assert page("acked=true&limit=3") == ([51, 50, 49], True)  # by id, as before
        assert page("order=received&acked=true&before=2") == ([1], False)
        assert console.post(alert_body(52, severity="warning", kind="long_pauses"))[0] == 201
        for pk, why in ((52, "alert 52 is not acknowledged"),
                        (999, "no alert 999 is kept (none received by that id, or deleted since by the retention)")):
            status, body = console.request("GET", f"/api/alerts?order=acked&before={pk}")
            assert (status, json.loads(body)) == (404, {"error": f"before: {why}"})
    finally:
        console.kill()


def test_the_acknowledged_alerts_page_on_from_an_alert_the_retention_deleted_given_when_it_was_acknowledged(
        tmp_path):
    """A page holds the state's acknowledged alerts, the earliest acknowledged of them received 31 days ago,
    then the console's retention (30 days, set at a reload) deletes it. ``GET /api/alerts?order=acked``
    with that alert's id as ``before`` and its ``acked_at`` as the state gave it pages on from it all the
    same, to the alerts acknowledged before it that are kept; ``before`` alone still looks the alert up and
    is a 404 saying it is no longer kept."""
    now, day = time.time(), 86400.0
    store = ConsoleStore.open(tmp_path / "console.db")
    for i, (received, acked) in enumerate(((31, 2), (20, 3), (31, 4), (1, 1)), start=1):  # days ago
        alert = IncomingAlert(daemon_id="d-test", alert_id=i, agent="alice", kind="slow_speech", severity="warning",
                              message="Slow speech", t=9.0, evidence={}, actions=(), call_id=i)
        store.acknowledge(store.add_alert(alert, now=now - received * day)[0]["id"], "Dana", now=now - acked * day)
    store.close()
    cfg = tmp_path / "console.toml"
    cfg.write_text("[supervisor]\nretention_days = 0\n")
    console = ConsoleProcess(tmp_path, extra=("--config", str(cfg)))
    try:
        held = {a["id"]: a["acked_at"] for a in console.state()["alerts"]}
        assert list(held) == [4, 1, 2, 3]
        cfg.write_text("[supervisor]\nretention_days = 30\n")
        console.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: any("retention (30 days): 2 alert(s)" in e for e in console.err), 30), console.err
        assert [a["id"] for a in console.state()["alerts"]] == [4, 2]

        def page(query: str) -> tuple[int, object]:
            status, body = console.request("GET", "/api/alerts?order=acked&" + query)
            said = json.loads(body)
            return status, ([a["id"] for a in said["alerts"]], said["more"]) if status == 200 else said

        assert page(f"before=1&acked_at={held[1]!r}") == (200, ([2], False))
        assert page(f"before=1&acked_at={held[1]!r}&limit=1") == (200, ([2], False))
        assert page(f"before=4&acked_at={held[4]!r}&limit=1") == (200, ([2], False))
        assert page("before=4&limit=1") == (200, ([2], False))
        assert page("before=1") == (404, {"error": "before: no alert 1 is kept (none received by that id, or "
                                                    "deleted since by the retention)"})
    finally:
        console.kill()


def test_an_old_alert_acknowledged_after_500_others_is_the_first_the_state_lists(tmp_path):
    """600 alerts acknowledged, then the oldest received of the alerts, open until now, acknowledged: the
    state's 500 acknowledged begin with it, where it was left out for having been received first."""
    console = ConsoleProcess(tmp_path)
    try:
        stored_alerts(console, 601, acked=601)
        with sqlite3.connect(console.db) as con:
            con.execute("UPDATE alerts SET acked_by = NULL, acked_at = NULL WHERE id = 1")
        assert console.request("POST", "/api/alerts/1/ack", b'{"by": "Eve"}')[0] == 200
        state = console.state()
        ids = [a["id"] for a in state["alerts"] if a["acked_by"]]
        assert ids == [1, *range(601, 102, -1)] and state["acked_total"] == 601
        assert state["alerts"][0]["acked_by"] == "Eve"
    finally:
        console.kill()


def test_an_alert_whose_evidence_the_rules_never_make_is_shown_and_breaks_no_ones_page(tmp_path):
    """The console words any agent's evidence (an older or a foreign daemon's): odd values in keys
    it words itself (a number where the rules put a list, a text where they put a time) are said as
    they are or left out, and the page's state, with every other alert, stays readable; NaN and Infinity, which
    JSON does not have (a daemon sends null), and numbers beyond a double or SQLite's integers are
    refused as malformed and store nothing."""
    console = ConsoleProcess(tmp_path)
    try:
        odd = [{"kinds": 5}, {"corroborated_by": 3}, {"since": "soon", "until": [1]},
               {"phrase": {"t": "x", "excerpt": "help"}}, {"accumulated": {"latency": {"since": "x", "held_s": 2}}},
               {"window_s": True, "score": None, "paired": {"held_s": "long"}}]
        for i, evidence in enumerate(odd, start=1):
            assert console.post(alert_body(i, evidence=evidence))[0] == 201, evidence
        for constant in ("Infinity", "-Infinity", "NaN", "1e400", "-1e400", "1" + "0" * 400):
            body = json.dumps(alert_body(99)).replace('"t": 95.0', f'"t": 95.0, "x": {constant}').encode()
            status, said = console.request("POST", "/webhook", body)
            assert status == 400 and "malformed JSON" in json.loads(said)["error"], (constant, status, said)
        assert console.post(alert_body(1 << 64))[0] == 400  # beyond SQLite's integers
        # nested deeper than any daemon's: refused before it is stored, where wording it would fail every answer
        for depth in (17, 900, 30_000):
            deep = "[" * depth + "]" * depth
            for path, body in (("/webhook", json.dumps(alert_body(98)).replace('"t": 95.0', f'"t": 95.0, "x": {deep}')),
                               ("/api/alerts/1/ack", f'{{"by": {deep}}}')):
                status, said = console.request("POST", path, body.encode())
                assert (status, json.loads(said)["error"]) == (400, "malformed JSON (nested more than 16 deep)"), depth
        assert console.post(alert_body(97, evidence={"a": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}))[0] == 201  # 16 deep
        assert not any("Traceback" in e for e in console.err)
        assert console.post(alert_body(1 << 62))[0] == 201  # a daemon's id of an alert it could not store
        status, body = console.request("GET", "/api/state")
        assert status == 200, body
        alerts = json.loads(body)["alerts"]
        assert len(alerts) == len(odd) + 2
        lines = {x["label"]: x["text"] for a in alerts for x in a["evidence_lines"]}
        assert lines["alerts behind it"] == "5" and lines["corroborated by"] == "3"
    finally:
        console.kill()


def test_an_infinity_an_older_console_stored_is_answered_as_null_and_said_in_words(tmp_path):
    """An older console accepted NaN and Infinity and stored them as Python's json writes them: the
    state answer, which JSON must carry, has null there (the words still say the number), and every
    other alert stays readable."""
    console = ConsoleProcess(tmp_path)
    try:
        assert console.post(alert_body(1, evidence={"ratio": 2.5}))[0] == 201
        assert console.post(alert_body(2, evidence={"ratio": 1.5}))[0] == 201
    finally:
        assert console.stop() == 0
    with sqlite3.connect(console.db) as con:  # as the older console's json.dumps wrote it
        con.execute("UPDATE alerts SET evidence = ? WHERE alert_id = 1",
                    (json.dumps({"ratio": float("inf"), "spread": [float("nan"), -float("inf"), 1.0]}),))
    console = ConsoleProcess(tmp_path)
    try:
        status, body = console.request("GET", "/api/state")
        assert status == 200, body
        alerts = {a["alert_id"]: a for a in json.loads(body)["alerts"]}
        assert alerts[1]["evidence"] == {"ratio": None, "spread": [None, None, 1.0]}
        assert {x["label"]: x["text"] for x in alerts[1]["evidence_lines"]}["ratio"] == "inf"
        assert alerts[2]["evidence"] == {"ratio": 1.5}
    finally:
        console.kill()


def test_every_refusal_of_a_token_carries_its_stable_code_beside_its_words(tmp_path):
    """A client acts on the ``code`` of a 401 or 403, not on the words: no token (or ``Bearer``
    with none after it), an ``Authorization`` of another scheme, a token that is none of the
    console's, an agent's token posting as another agent, and an agent's token reading or
    acknowledging each answer with the code and status the console's list gives them, on every
    endpoint, with the ``WWW-Authenticate`` challenge RFC 6750 gives them (an error code for a
    bearer token refused, none when no bearer token came); every code of the list is answered."""
    from monitor.delivery.sinks.webhook import (AGENT_MISMATCH, AGENT_TOKEN_POSTS_ONLY, DAEMON_ID_TAKEN, MISSING_TOKEN,
                                                REFUSALS, WRONG_SCHEME, WRONG_TOKEN)
    agent_token = "alice-token-0123456789"
    cfg = tmp_path / "console.toml"
    cfg.write_text(f'[supervisor]\nagent_tokens = ["alice:{agent_token}"]\n')
    console = ConsoleProcess(tmp_path, extra=("--config", str(cfg)))
    requests = [("POST", "/webhook", json.dumps(alert_body(1)).encode()), ("GET", "/api/state", None),
                ("GET", "/events", None), ("POST", "/api/alerts/1/ack", b'{"by": "eve"}')]
    answered = set()
    try:
        for token, headers, refusal in ((None, {}, MISSING_TOKEN), (None, {"Authorization": "Bearer"}, MISSING_TOKEN),
                                        ("not-the-token-at-all", {}, WRONG_TOKEN),
                                        (None, {"Authorization": "Basic eDp5"}, WRONG_SCHEME),
                                        (agent_token, {}, AGENT_TOKEN_POSTS_ONLY)):
            for method, path, body in requests[1:] if refusal is AGENT_TOKEN_POSTS_ONLY else requests:
                status, answer, said = console.exchange(method, path, body, token=token, headers=headers)
                assert (status, json.loads(said)["code"]) == (refusal.status, refusal.code), (path, said)
                assert answer.get_all("WWW-Authenticate") == [refusal.challenge], (path, headers)
                answered.add(refusal)
        status, answer, said = console.exchange("POST", "/webhook", json.dumps({**alert_body(2), "agent": "bob"}).encode(),
                                                token=agent_token)
        assert (status, json.loads(said)["code"]) == (AGENT_MISMATCH.status, AGENT_MISMATCH.code)
        assert answer.get_all("WWW-Authenticate") == ['Bearer error="insufficient_scope"']
        answered.add(AGENT_MISMATCH)
        beat = {"type": "heartbeat", "daemon_id": "d-bob", "agent": "bob", "every_s": 30, "status": {}}
        assert console.post(beat)[0] == 200  # d-bob is bob's: alice's token may not post under it
        status, answer, said = console.exchange("POST", "/webhook", json.dumps(alert_body(3, daemon_id="d-bob")).encode(),
                                                token=agent_token)
        assert (status, json.loads(said)["code"]) == (DAEMON_ID_TAKEN.status, DAEMON_ID_TAKEN.code)
        assert answer.get_all("WWW-Authenticate") == ['Bearer error="insufficient_scope"']
        answered.add(DAEMON_ID_TAKEN)
        assert answered == set(REFUSALS) and len({r.code for r in REFUSALS}) == len(REFUSALS)
        assert [r.challenge for r in (MISSING_TOKEN, WRONG_SCHEME, WRONG_TOKEN)] == [
            "Bearer", "Bearer", 'Bearer error="invalid_token"']
        for page, refusal in (("/", MISSING_TOKEN), ("/?token=not-the-token-at-all", WRONG_TOKEN),
                              (f"/?token={agent_token}", AGENT_TOKEN_POSTS_ONLY)):  # the page asking for it
            status, answer, said = console.exchange("GET", page, token=None)
            assert (status, answer.get_all("WWW-Authenticate")) == (refusal.status, [refusal.challenge]), page
            assert answer.get_all("Set-Cookie") is None, page  # no session
        # an agent's own token in the page's address is one, but only posts: said so, not "not this console's"
        assert ("The token in this address is agent alice's own, which only posts that agent's "
                "alerts: the page needs the console's shared token.") in said.decode()
        assert console.state()["alerts"] == []
    finally:
        console.kill()


def test_a_request_with_another_scheme_than_bearer_is_told_the_console_expects_a_bearer_token(tmp_path):
    """``curl -u`` or a proxy's Basic authentication is not a wrong token: the answer (401,
    ``wrong_scheme``) and the console's log line name the scheme it got (spelled as the console
    spells it; a word that is no known scheme, perhaps a token sent without ``Bearer``, is not
    echoed) and the header it reads, and nothing of the credentials sent."""
    console = ConsoleProcess(tmp_path)
    try:
        done = subprocess.run(["curl", "-sS", "-u", "eve:SECRET-PASSWORD", "-D", "-", f"{console.base}/api/state"],
                              capture_output=True, text=True, timeout=30)
        head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
        status_line, *lines = head.splitlines()
        fields = [[part.strip() for part in line.split(":", 1)] for line in lines]
        assert status_line.startswith("HTTP/1.1 401"), done.stdout
        assert [value for name, value in fields if name.lower() == "www-authenticate"] == ["Bearer"], head
        assert json.loads(body) == {"code": "wrong_scheme", "error": "Basic authorization is not read here: this "
                                    "console expects its token as 'Authorization: Bearer TOKEN'"}
        sent_named = (("Negotiate YIIC", "Negotiate"), ("negotiate YIIC", "Negotiate"),
                      ("Sch\u00e9ma abc", "an unknown scheme"),
                      ("BARE-TOKEN-0123456789", "an unknown scheme"))  # a token sent without 'Bearer ' before it
        for sent, named in sent_named:
            status, said = console.request("POST", "/webhook", json.dumps(alert_body(1)).encode(), token=None,
                                           headers={"Authorization": sent})
            assert status == 401 and json.loads(said)["error"].startswith(f"{named} authorization is not read here")
            assert "YIIC" not in said.decode() and "BARE" not in said.decode()

        def logged() -> list[str]:
            return [e for e in console.err if "authorization is not read here" in e]
        assert wait_for(lambda: len(logged()) == 1 + len(sent_named), 30), console.err  # each refusal's line
        assert "401 GET /api/state from 127.0.0.1: Basic authorization is not read here" in logged()[0], logged()
        assert not any("SECRET" in e or "ZXZl" in e or "YIIC" in e or "BARE" in e for e in console.err)
        assert console.state()["alerts"] == [] and console.alive()
    finally:
        console.kill()


def test_a_daemon_posting_as_another_agent_than_its_tokens_is_told_the_consoles_reason(tmp_path, monitor_logs):
    """A daemon given alice's token whose delivery.agent_name is another: its warning says what
    the console said (the token may post only as alice) and where its own name comes from, not
    that the token was refused."""
    from monitor.delivery.sinks.webhook import Identity, WebhookSink
    from monitor.delivery.store import Store
    from monitor.events import AlertEvent
    agent_token = "alice-token-0123456789"
    cfg = tmp_path / "console.toml"
    cfg.write_text(f'[supervisor]\nagent_tokens = ["alice:{agent_token}"]\n')
    console = ConsoleProcess(tmp_path / "console", extra=("--config", str(cfg)))
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, console.webhook, backoff_s=0.2, poll_s=0.05, token=agent_token,
                       identity=Identity("carol", "d-carol")).start()
    try:
        call = store.start_call("test", time.time())
        sink(store.add_alert(call, AlertEvent(t=12.0, kind="slow_speech", severity="warning", message="slow",
                                              evidence={}, actions=())))
        assert wait_for(lambda: any(lvl == "warning" for lvl, _ in monitor_logs), 30)  # said after the count
        said = [m for lvl, m in monitor_logs if lvl == "warning"][0]
        assert "HTTP 403" in said and "this token may post only as agent 'alice'" in said, said
        assert "this daemon posts as 'carol' (delivery.agent_name)" in said and "refused" not in said
        status, body = console.post({**alert_body(7), "agent": "carol"}, token=agent_token)
        assert status == 403 and body["code"] == "agent_mismatch"  # what the daemon reads, from the console's list
    finally:
        sink.close()
        store.close()
        console.kill()


def test_an_agents_token_cannot_post_under_another_agents_daemon_id_and_a_copied_database_takes_a_new_one(
        tmp_path, monitor_logs):
    """Bob's own token posting under alice's daemon id (to take over her row and acknowledgements) is
    refused, 403 ``daemon_id_taken``, for an alert and a heartbeat alike, and nothing of alice's
    changes. A desktop cloned with a database of a release before ids were bound to machines posts
    under alice's id too, but as bob: its daemon, refused, takes a new id in one warning line and posts
    again at once, so bob's alerts and beats arrive, under bob's own id, beside alice's. A daemon that
    cannot make a new id says what to do."""
    import shutil
    from monitor.delivery.sinks.webhook import Heartbeat as Beats, Identity, Sender, WebhookSink
    from monitor.delivery.store import Store
    from monitor.events import AlertEvent
    alice_token, bob_token = "alice-token-0123456789", "bob-token-0123456789"
    cfg = tmp_path / "console.toml"
    cfg.write_text(f'[supervisor]\nagent_tokens = ["alice:{alice_token}", "bob:{bob_token}"]\n')
    console = ConsoleProcess(tmp_path / "console", extra=("--config", str(cfg)))
    with Store.open(tmp_path / "alice.db") as store:
        alice_id = store.instance_id(machine="desk-1")
    conn = sqlite3.connect(tmp_path / "alice.db")  # as a release before ids were bound left it
    conn.execute("DELETE FROM meta WHERE key = 'instance_machine'")
    conn.commit()
    conn.close()
    shutil.copy(tmp_path / "alice.db", tmp_path / "bob.db")  # the image cloned
    bob_store = Store.open(tmp_path / "bob.db")
    sink = None
    try:
        assert console.post(alert_body(1, daemon_id=alice_id), token=alice_token)[0] == 201
        beat = {"type": "heartbeat", "daemon_id": alice_id, "agent": "alice", "every_s": 30, "status": {}}
        assert console.post(beat, token=alice_token)[0] == 200
        for body in (alert_body(2, daemon_id=alice_id, agent="bob"), {**beat, "agent": "bob"}):
            status, said = console.post(body, token=bob_token)
            assert (status, said["code"]) == (403, "daemon_id_taken") and alice_id in said["error"], said
        state = console.state()
        assert [(a["daemon_id"], a["agent"]) for a in state["agents"]] == [(alice_id, "alice")]
        assert [(a["alert_id"], a["agent"]) for a in state["alerts"]] == [(1, "alice")]

        stuck = Beats(console.webhook, Identity("bob", alice_id), dict, every_s=30, token=bob_token)
        assert not stuck.beat() and "give this desktop a database of its own, storage.db" in stuck.last_error

        assert bob_store.instance_id(machine="desk-2") == alice_id  # bound to no machine: kept where it is
        sender = Sender(Identity("bob", alice_id), lambda refused: bob_store.renew_instance_id(refused, "desk-2"))
        beats = Beats(console.webhook, sender, dict, every_s=30, token=bob_token)
        assert beats.beat() and sender.identity.daemon_id not in ("", alice_id)
        sink = WebhookSink(bob_store, console.webhook, poll_s=0.05, token=bob_token, identity=sender).start()
        call = bob_store.start_call("test", time.time())
        sink(bob_store.add_alert(call, AlertEvent(t=12.0, kind="slow_speech", severity="warning", message="slow",
                                                  evidence={}, actions=())))
        assert sink.wait_delivered(30) == 0
        state = console.state()
        assert sorted((a["agent"], a["daemon_id"]) for a in state["agents"]) == [
            ("alice", alice_id), ("bob", sender.identity.daemon_id)]
        assert {(a["agent"], a["daemon_id"]) for a in state["alerts"]} == {
            ("alice", alice_id), ("bob", sender.identity.daemon_id)}
        warned = [m for lvl, m in monitor_logs if lvl == "warning" and "as another agent's" in m]
        assert warned == [f"webhook: the supervisor console knows daemon id {alice_id} as another agent's (this "
                          f"desktop's database was copied from another desktop's): this daemon posts as a new one, "
                          f"{sender.identity.daemon_id}, from now on; nothing to do here, but a desktop image to clone "
                          f"should be made without its callmonitor database"]
        assert bob_store.instance_id(machine="desk-2") == sender.identity.daemon_id  # kept for its next start
    finally:
        if sink is not None:
            sink.close()
        bob_store.close()
        console.kill()


def test_two_agents_posting_at_once_under_one_new_daemon_id_one_gets_it_and_the_other_daemon_id_taken(tmp_path):
    """Alice's and bob's own tokens posting at the same moment under one daemon id the console does
    not know yet (a desktop image cloned with its database, both started at once): the check that the
    id is no other agent's and the write of the row are one transaction, so exactly one of them gets
    the id and the other is refused, 403 ``daemon_id_taken``; the id's row and alerts are the winner's
    alone. Heartbeats and alerts alike, several ids, each pair posted by two threads at once."""
    import threading
    tokens = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789"}
    cfg = tmp_path / "console.toml"
    cfg.write_text(f'[supervisor]\nagent_tokens = {json.dumps([f"{a}:{t}" for a, t in tokens.items()])}\n')
    console = ConsoleProcess(tmp_path / "console", extra=("--config", str(cfg)))

    def at_once(bodies: dict[str, dict]) -> dict[str, tuple[int, dict]]:
        start, answers = threading.Barrier(len(bodies)), {}

        def post(agent: str) -> None:
            start.wait()
            answers[agent] = console.post(bodies[agent], token=tokens[agent])
        threads = [threading.Thread(target=post, args=(a,)) for a in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return answers

    try:
        winners = {}
        for n in range(12):
            daemon_id = f"cloned-{n}"
            if n % 2:
                bodies = {a: {"type": "heartbeat", "daemon_id": daemon_id, "agent": a, "every_s": 30, "status": {}}
                          for a in tokens}
            else:
                bodies = {a: alert_body(1, daemon_id=daemon_id, agent=a) for a in tokens}
            answers = at_once(bodies)
            won = [a for a, (status, _) in answers.items() if status in (200, 201)]
            lost = [(status, said.get("code")) for a, (status, said) in answers.items() if a not in won]
            assert len(won) == 1 and lost == [(403, "daemon_id_taken")], (daemon_id, answers)
            winners[daemon_id] = won[0]
        state = console.state()
        assert {a["daemon_id"]: a["agent"] for a in state["agents"]} == {
            d: a for d, a in winners.items() if int(d.rsplit("-", 1)[1]) % 2}
        assert {a["daemon_id"]: a["agent"] for a in state["alerts"]} == {
            d: a for d, a in winners.items() if not int(d.rsplit("-", 1)[1]) % 2}
    finally:
        console.kill()


def test_a_body_whose_string_holds_a_lone_surrogate_is_refused_400_in_one_line_on_every_write_path(tmp_path):
    """JSON may escape half of a UTF-16 pair alone (``"\\ud800"``), which is no character: such a body is
    not text, so every route that reads a body refuses it 400 with its one-line ``{"error": ...}``
    (an alert's message, agent or evidence, a heartbeat's last error, an agent's word's note, an
    acknowledgement's name, an agent forgotten, an object's key), stores nothing and logs no
    traceback; it was 500 and a traceback from the database. A whole pair escaped (an emoji) is taken."""
    console = ConsoleProcess(tmp_path)
    said = "malformed JSON (a string holds \\ud800, half of a UTF-16 pair alone: no character, so not text)"
    lone = "\ud800"
    alert = alert_body(1, daemon_id="d-alice")
    word = {"type": "agent_word", "alert_id": 1, "call_id": alert["call_id"], "call_started_at": alert["call_started_at"],
            "kind": alert["kind"], "severity": alert["severity"], "t": alert["t"], "word": "handled",
            "said_at": time.time(), "agent": "alice", "daemon_id": "d-alice"}
    beat = {"type": "heartbeat", "daemon_id": "d-alice", "agent": "alice", "every_s": 30, "status": {"stopped": True}}
    bodies = [("/webhook", alert_body(2, message=lone)), ("/webhook", alert_body(2, agent=lone)),
              ("/webhook", alert_body(2, evidence={"score": 3.4, "phrase": lone})),
              ("/webhook", alert_body(2, evidence={lone: 1})),
              ("/webhook", {**beat, "status": {"last_error": {"level": "error", "message": lone}}}),
              ("/webhook", {**word, "note": "a" + lone}), ("/api/alerts/1/ack", {"by": lone}),
              ("/api/agents/forget", {"agent": lone})]
    try:
        assert console.post(alert)[0] == 201 and console.post(beat)[0] == 200
        for path, body in bodies:
            status, answer = console.request("POST", path, json.dumps(body).encode())
            assert (status, json.loads(answer)) == (400, {"error": said}), (path, body)
        pair = json.dumps(alert_body(3, message="help \U0001f600")).encode()
        assert b'"help \\ud83d\\ude00"' in pair and console.request("POST", "/webhook", pair)[0] == 201
        state = console.state()
        assert [(a["alert_id"], a["agent"], a["acked_by"]) for a in state["alerts"]] == [
            (3, "alice", None), (1, "alice", None)]  # the refused ones stored nothing
        assert state["alerts"][0]["message"] == "help \U0001f600"
        assert [g["agent"] for g in state["agents"]] == ["alice"] and state["agents"][0]["status"] == {"stopped": True}
        assert state["alerts"][1]["agent_word"] is None
    finally:
        console.stop()
    assert not any("Traceback" in e or "UnicodeEncodeError" in e for e in console.err), console.err
    assert sum("400 POST" in e and said in e for e in console.err) == len(bodies)


def test_forget_agent_refuses_a_name_that_is_not_text_in_one_line_before_it_asks_the_console(tmp_path):
    """A name or daemon id whose bytes are not UTF-8 (a Latin-1 terminal's ``\\xff``, which Python holds
    as a surrogate) is no agent's the console could know: `forget-agent` says so in one line, the
    byte written as ``\\xff``, exit 2 as for an empty name, before it reads a token or asks the
    console (it was the console's 500, exit 1)."""
    for args, said in ((["caf\udce9"], "NAME 'caf\\xe9': not valid text (byte 0xe9 is not UTF-8); give the "
                                       "agent's name as the console's page lists it"),
                       (["alice", "--daemon", "d-\udcff"], "--daemon 'd-\\xff': not valid text (byte 0xff is not "
                                                           "UTF-8); give the daemon's id as /api/state lists it")):
        r = call_monitor("forget-agent", *args, "--console", "http://127.0.0.1:9", "--token-file", tmp_path / "none",
                         env=_env(tmp_path), timeout=60)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", f"call-monitor: error: {said}\n"), args


def test_forget_agent_forgets_an_agent_at_the_console_and_says_each_refusal_in_one_line(tmp_path, monkeypatch, capsys):
    """`call-monitor forget-agent NAME` does what the row's "Forget" button does, at the console
    `supervisor.listen` and `supervisor.token_file` name (or `--console`, `--token-file`): alice is off
    the agents list, her alert kept. An agent the console never heard (exit 1), a token that is not the
    console's shared one (an agent's own, a wrong one: exit 2), a token file that is not there (2) and
    a console not running (1) are each one error line, no traceback."""
    from monitor import cli
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    cfg = tmp_path / "console.toml"
    cfg.write_text('[supervisor]\nagent_tokens = ["alice:alice-token-0123456789"]\n')
    console = ConsoleProcess(tmp_path / "console", extra=("--config", str(cfg)))
    mine = tmp_path / "mine.toml"  # the console's own address and token, as on its machine
    mine.write_text(f'[supervisor]\nlisten = "0.0.0.0:{console.port}"\ntoken_file = "{console.token_file}"\n')
    (tmp_path / "agent.token").write_text("alice-token-0123456789\n")
    (tmp_path / "wrong.token").write_text("not-the-consoles-token-0123\n")

    def forget(*args: str) -> tuple[int, list[str], list[str]]:
        status = cli.main(["forget-agent", *args])
        said = capsys.readouterr()
        return status, said.out.splitlines(), said.err.splitlines()

    try:
        assert console.post(alert_body(1, daemon_id="d-alice"))[0] == 201
        assert console.post({"type": "heartbeat", "daemon_id": "d-alice", "agent": "alice", "every_s": 30,
                             "status": {"stopped": True}})[0] == 200
        assert forget("alice", "--config", str(mine)) == (0, [
            f"agent 'alice' forgotten at http://127.0.0.1:{console.port} (daemon d-alice): off its agents list "
            f"until it posts again; its alerts are kept"], [])
        state = console.state()
        assert state["agents"] == [] and [f["agent"] for f in state["forgotten"]] == ["alice"]
        assert [a["agent"] for a in state["alerts"]] == ["alice"]

        there = ("--console", f"{console.base}/?agent=alice")  # the page's address pasted: its path left out
        assert forget("zoe", *there, "--token-file", str(console.token_file)) == (1, [], [
            f"call-monitor: error: no agent named 'zoe' at the console {console.base} (its page lists the agents by "
            f"name)"])
        status, out, err = forget("alice", *there, "--token-file", str(tmp_path / "agent.token"))
        assert (status, out, len(err)) == (2, [], 1)
        assert err[0].startswith(f"call-monitor: error: the console at {console.base} refused the token of "
                                 f"{tmp_path / 'agent.token'}: this token belongs to agent 'alice' and only posts ")
        assert err[0].endswith("(give the console's shared token: --token-file, supervisor.token_file)")
        assert forget("alice", *there, "--token-file", str(tmp_path / "wrong.token")) == (2, [], [
            f"call-monitor: error: the console at {console.base} refused the token of {tmp_path / 'wrong.token'}: "
            f"wrong token: none of this console's (give the console's shared token: --token-file, "
            f"supervisor.token_file)"])
        assert forget("alice", *there, "--token-file", str(tmp_path / "none.token")) == (2, [], [
            f"call-monitor: error: {tmp_path / 'none.token'}: no such token file"])
        assert forget("", *there) == (2, [], [
            "call-monitor: error: NAME \"\": an empty name; give the agent's name as the console's page lists it"])
        assert forget("alice", "--console", "", "--config", str(mine)) == (2, [], [
            "call-monitor: error: --console \"\": an empty address; give the console's, as `call-monitor supervisor` "
            "prints it (http://HOST:PORT), or leave the option out for supervisor.listen on this machine"])
    finally:
        console.stop()
    status, out, err = forget("alice", "--config", str(mine))
    assert (status, out) == (1, []) and err == [
        f"call-monitor: error: cannot reach the console at http://127.0.0.1:{console.port} (Connection refused): is "
        f"`call-monitor supervisor` running there? (--console gives its address, https:// for one with TLS)"]


def test_forgetting_one_daemon_of_a_name_leaves_an_agent_of_that_name_at_another_desk_listed(tmp_path, capsys):
    """Two agents called Anna at two desks: the console keeps each daemon's address (of its last
    heartbeat, the machine it posts from). Forgetting one daemon (`{"agent": NAME, "daemon_id": ID}`,
    a row's "Forget"; `call-monitor forget-agent NAME --daemon ID`) forgets that one alone, its
    alerts kept; the other Anna stays listed. A daemon not of that name is 404, an id that is no
    string 422; the name alone still forgets each daemon of the name."""
    from monitor import cli
    console = ConsoleProcess(tmp_path / "console")
    forget = "/api/agents/forget"
    try:
        beat = {"type": "heartbeat", "agent": "Anna", "every_s": 30, "status": {"stopped": True}}
        assert console.post({**beat, "daemon_id": "d-desk1"})[0] == 200
        assert console.post_from("127.0.0.2", {**beat, "daemon_id": "d-desk7"})[0] == 200
        assert console.post_from("127.0.0.2", alert_body(1, daemon_id="d-desk7", agent="Anna"))[0] == 201
        assert console.post({**beat, "daemon_id": "d-bob", "agent": "Bob"})[0] == 200
        assert {g["daemon_id"]: g["remote"] for g in console.state()["agents"]} == {
            "d-bob": "127.0.0.1", "d-desk1": "127.0.0.1", "d-desk7": "127.0.0.2"}
        status, said = console.request("POST", forget, json.dumps({"agent": "Anna", "daemon_id": "d-desk7"}).encode())
        assert (status, json.loads(said)) == (200, {"agent": "Anna", "daemon_ids": ["d-desk7"]})
        state = console.state()
        assert [g["daemon_id"] for g in state["agents"]] == ["d-desk1", "d-bob"]
        assert [f["daemon_id"] for f in state["forgotten"]] == ["d-desk7"]
        assert [a["daemon_id"] for a in state["alerts"]] == ["d-desk7"]
        status, said = console.request("POST", forget, json.dumps({"agent": "Anna", "daemon_id": "d-bob"}).encode())
        assert (status, json.loads(said)) == (404, {"error": "no agent named 'Anna' with daemon 'd-bob'"})
        status, said = console.request("POST", forget, json.dumps({"agent": "Anna", "daemon_id": 7}).encode())
        assert (status, json.loads(said)["error"]) == (422, "daemon_id: expected a daemon's id, as /api/state lists it")
        assert cli.main(["forget-agent", "Anna", "--daemon", "d-desk1", "--console", console.base,
                         "--token-file", str(console.token_file)]) == 0
        assert capsys.readouterr().out == (f"agent 'Anna' forgotten at {console.base} (daemon d-desk1): off its "
                                           "agents list until it posts again; its alerts are kept\n")
        assert [g["daemon_id"] for g in console.state()["agents"]] == ["d-bob"]
        status, said = console.request("POST", forget, b'{"agent": "Anna"}')  # the name: each daemon of it
        assert (status, json.loads(said)) == (200, {"agent": "Anna", "daemon_ids": ["d-desk1", "d-desk7"]})
        assert cli.main(["forget-agent", "Anna", "--daemon", " ", "--console", console.base]) == 2
        assert capsys.readouterr().err.splitlines() == [
            "call-monitor: error: --daemon \" \": an empty id; give the daemon's id as /api/state lists it, or leave "
            "the option out"]
    finally:
        console.stop()


def test_forgetting_an_agent_deletes_its_heartbeats_row_and_keeps_its_alerts_and_its_id_as_its_own(tmp_path):
    """A desktop taken out of service and forgotten: the console deletes what it kept of the daemon's
    heartbeats (its last status, the address it posted from), from the database's bytes too, rather than
    keeping it hidden until the retention. Its alerts and their report links stay (the console's record
    of what was raised), and so does the note that it was forgotten (its id, name and when): a second
    forget answers as the first, another agent's own token still may not post under its id, and its
    own posting again lists it again. The note goes with the retention, once nothing else of it is left."""
    db = tmp_path / "console.db"
    store = ConsoleStore.open(db)
    try:
        store.heartbeat(Heartbeat("d-alice", "alice", 30.0, {"machine": "desk-alice-0417", "stopped": True},
                                  reports=((4, "https://r.example/4.html"),)), remote="10.0.0.17")
        store.heartbeat(Heartbeat("d-quiet", "carol", 30.0, {"machine": "desk-carol-0923", "stopped": True}))
        alert = IncomingAlert(daemon_id="d-alice", alert_id=1, agent="alice", kind="possible_emergency",
                              severity="critical", message="m", t=9.0, evidence={}, actions=(), call_id=4)
        store.add_alert(alert)
        assert store.forget("alice") == ["d-alice"] and store.forget("carol") == ["d-quiet"]
        assert sqlite3.connect(db).execute("SELECT daemon_id FROM agents").fetchall() == []
        assert [(a["daemon_id"], a["report_url"]) for a in store.alerts()] == [("d-alice", "https://r.example/4.html")]
        assert store.agents() == [] and [f["daemon_id"] for f in store.forgotten()] == ["d-alice", "d-quiet"]
        assert store.forget("carol") == ["d-quiet"]  # heard of still: forgotten again, not "no agent named"
        with pytest.raises(DaemonIdTaken):
            store.heartbeat(Heartbeat("d-quiet", "mallory", 30.0, {}), own_id_only=True)
        store.heartbeat(Heartbeat("d-quiet", "carol", 30.0, {"stopped": False}), own_id_only=True)
        assert [g["daemon_id"] for g in store.agents()] == ["d-quiet"] and store.forget("carol") == ["d-quiet"]
        store.purge(before=time.time() - 86400.0)  # a day's retention: forgotten now, kept
        assert [f["daemon_id"] for f in store.forgotten()] == ["d-alice", "d-quiet"]
        assert store.purge(before=time.time() + 1.0) == (1, 0)
        assert store.forgotten() == []
    finally:
        store.close()
    kept = b"".join(path.read_bytes() for path in tmp_path.glob("console.db*"))  # the file and its log
    assert b"desk-alice-0417" not in kept and b"desk-carol-0923" not in kept and b"10.0.0.17" not in kept


def test_forget_agent_takes_a_daemons_id_as_the_page_shows_its_end_or_its_start_and_lists_those_a_part_names(
        tmp_path, capsys):
    """The page names each of two agents of one name by its daemon id's last 8 characters: `forget-agent
    NAME --daemon` takes those (or any end or start of the id), as ``POST /api/agents/forget`` does, and
    forgets the one daemon of that name it names; a part that begins or ends more than one of the name's
    daemons forgets none and is one line listing them (the API's 409, exit 2); another agent's daemons
    are not looked at."""
    from monitor import cli
    desk1, desk3, desk7 = ("5b0e6c1d9a2f4e37b8c01111c6598bb8", "c6598bb8d9a2f4e37b8c0d1e2f3a3333",
                           "7777e6c1d9a2f4e37b8c0d1e2fa0b1c2")
    console = ConsoleProcess(tmp_path / "console")
    there = ("--console", console.base, "--token-file", str(console.token_file))

    def forget(*args: str) -> tuple[int, list[str], list[str]]:
        status = cli.main(["forget-agent", *args, *there])
        said = capsys.readouterr()
        return status, said.out.splitlines(), said.err.splitlines()

    try:
        beat = {"type": "heartbeat", "agent": "Anna", "every_s": 30, "status": {"stopped": True}}
        for daemon_id in (desk1, desk3, desk7):
            assert console.post({**beat, "daemon_id": daemon_id})[0] == 200
        bob = "0000000000000000000000000c6598bb8"  # ends as desk1's does
        assert console.post({**beat, "agent": "Bob", "daemon_id": bob})[0] == 200
        ambiguous = f"daemon 'c6598bb8' begins or ends 2 daemons of agent 'Anna': {desk1}, {desk3}; give more of its id"
        status, said = console.request("POST", "/api/agents/forget",
                                       json.dumps({"agent": "Anna", "daemon_id": "c6598bb8"}).encode())
        assert (status, json.loads(said)) == (409, {"error": ambiguous, "code": "ambiguous_daemon",
                                                    "daemon_ids": [desk1, desk3]})
        assert forget("Anna", "--daemon", "c6598bb8") == (2, [], [
            f"call-monitor: error: --daemon 'c6598bb8' at the console {console.base}: {ambiguous}"])
        assert console.state()["forgotten"] == []
        assert forget("Anna", "--daemon", "598bb8") == (0, [  # Bob's ends so too: not his
            f"agent 'Anna' forgotten at {console.base} (daemon {desk1}): off its agents list until it posts again; "
            "its alerts are kept"], [])
        status, said = console.request("POST", "/api/agents/forget",
                                       json.dumps({"agent": "Anna", "daemon_id": "7777"}).encode())
        assert (status, json.loads(said)) == (200, {"agent": "Anna", "daemon_ids": [desk7]})
        assert forget("Anna", "--daemon", "a0b1c2d3") == (1, [], [
            f"call-monitor: error: no agent named 'Anna' with daemon 'a0b1c2d3' at the console {console.base} (its "
            "page lists the agents by name, each daemon by its id's last 8 characters, which --daemon takes as its "
            "whole id does)"])
        assert [g["daemon_id"] for g in console.state()["agents"]] == [desk3, bob]
    finally:
        console.stop()


def _posting_daemon(pulse, tmp_path: Path, console: ConsoleProcess, *extra: str) -> tuple[subprocess.Popen, dict]:
    """``call-monitor run`` on the private sound server's softphone sink, acoustic-only, posting to
    ``console`` with its token (``extra``: more options), and its environment."""
    env = {**pulse.full_env(), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "PYTHONPATH": str(ROOT)}
    daemon = subprocess.Popen([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--no-notify",
                               "--no-transcribe", "--db", str(tmp_path / "agent.db"), *extra,
                               "--webhook", console.webhook, "--webhook-token-file", str(console.token_file)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return daemon, env


@pytest.mark.skipif(not have_pulse(), reason="pulseaudio not installed")
def test_a_live_daemon_shows_as_connected_then_stopped(pulse, tmp_path):
    console = ConsoleProcess(tmp_path / "console")
    cfg = tmp_path / "agent.toml"
    cfg.write_text('[delivery]\nheartbeat_s = 0.5\nagent_name = "Alice (desk 4)"\n')
    console.token_file.chmod(0o644)  # copied to the desktop as any file: said in the daemon's journal, still sent
    daemon, _ = _posting_daemon(pulse, tmp_path, console, "--config", str(cfg))
    try:
        def agent():
            agents = console.state()["agents"]
            return agents[0] if agents else None

        assert wait_for(lambda: (a := agent()) is not None and a["status"]["devices_open"], 20), \
            daemon.stderr.read() if daemon.poll() is not None else "no heartbeat"
        a = agent()
        assert a["agent"] == "Alice (desk 4)" and a["every_s"] == 0.5
        assert a["status"]["in_call"] is False and a["status"]["devices"]["caller"]["state"] == "running"
        seen = a["last_seen"]
        assert wait_for(lambda: agent()["last_seen"] > seen, 30)  # beats keep coming
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
        assert agent()["status"].get("stopped") is True
        assert (f"call-monitor: warning: {console.token_file}: the token file may be read by every user (mode 0644); "
                f"make it private: chmod 600 {console.token_file}\n") in daemon.stderr.read()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(5)
        console.kill()


@pytest.mark.skipif(not have_pulse(), reason="pulseaudio not installed")
def test_a_started_daemon_and_its_calls_show_on_the_console_at_once_not_a_heartbeat_later(pulse, tmp_path):
    """With the default 30 s between heartbeats, a daemon whose first beat left while its capture
    still opened was shown with its devices down for 30 s (every agent's row at a shift's start); a
    change of its devices' states or of its call is sent at once."""
    console = ConsoleProcess(tmp_path / "console")
    sock = tmp_path / "d.sock"
    daemon, env = _posting_daemon(pulse, tmp_path, console, "--socket", str(sock))
    try:
        def status():
            agents = console.state()["agents"]
            return agents[0]["status"] if agents else {}

        assert wait_for(lambda: status().get("devices_open"), 20), \
            daemon.stderr.read() if daemon.poll() is not None else status()
        assert console.state()["agents"][0]["every_s"] == 30.0 and status()["in_call"] is False
        subprocess.run([PY, "-m", "monitor.cli", "call", "start", "--socket", str(sock)], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=20)
        assert wait_for(lambda: status()["in_call"], 20), status()  # within the 30 s between beats
    finally:
        daemon.kill()
        daemon.wait(5)
        console.kill()


# ---------------------------------------------------------------------------- pieces


def test_tokens_are_made_private_and_compared_for_whom_they_belong(tmp_path):
    token, created = load_or_create_token(tmp_path / "sub" / "token")
    assert created and len(token) >= 40 and os.stat(tmp_path / "sub" / "token").st_mode & 0o777 == 0o600
    assert load_or_create_token(tmp_path / "sub" / "token") == (token, False)
    auth = Auth(token, parse_agent_tokens(("bob:bob-token-0123456789",)))
    assert auth.check(token).supervisor
    assert auth.check("bob-token-0123456789").name == "bob" and not auth.check("bob-token-0123456789").supervisor
    assert auth.check(token[:-1]) is None and auth.check("") is None and auth.check(None) is None
    assert auth.bearer(f"Bearer {token}").supervisor and auth.bearer(token) is None
    cookie = auth.new_session(now=1000.0)
    assert auth.check_session(cookie, now=1001.0)
    assert not auth.check_session(cookie, now=1000.0 + 13 * 3600)  # expired
    assert not auth.check_session(cookie[:-1] + ("0" if cookie[-1] != "0" else "1"), now=1001.0)
    assert not Auth("another-token-0123456789").check_session(cookie, now=1001.0)
    with pytest.raises(ValueError, match="NAME:TOKEN"):
        parse_agent_tokens(("carol:short",))


def test_an_agent_token_given_to_two_agents_is_refused_not_kept_for_the_last_one():
    """A copied line would otherwise make the first agent's posts refused (403) as another's."""
    assert parse_agent_tokens(("bob:bob-token-0123456789", "bob:bob-new-token-0123456789")) == {
        "bob-token-0123456789": "bob", "bob-new-token-0123456789": "bob"}  # a token changing hands
    with pytest.raises(ValueError, match="alice and bob have the same token; each agent needs its own"):
        parse_agent_tokens(("alice:same-token-0123456789", "bob:same-token-0123456789"))


@pytest.mark.parametrize("body, said", [
    (b'{"by": ""}', "by: the name is empty; expected the name of who acknowledges, at most 80 characters"),
    (b'{"by": "   "}', "by: the name is empty; expected the name of who acknowledges, at most 80 characters"),
    (json.dumps({"by": "D" * 81}).encode(), "by: the name has 81 characters; expected at most 80"),
    (b'{"who": "Dana"}', "by: expected a name of at most 80 characters"),
    (b'{"by": 7}', "by: expected a name of at most 80 characters"),
])
def test_an_acknowledgement_without_a_name_it_can_store_is_refused_saying_what_is_wrong(body, said):
    """The API's 422 says what is wrong with ``by``: empty, too long, or no name at all."""
    from monitor.supervisor.app import ack_name_problem
    assert ack_name_problem(json.loads(body).get("by")) == said


def test_acknowledgements_are_refused_with_their_reasons_and_leave_the_alert_unacknowledged(tmp_path):
    """Over HTTP: 415 for a body not sent as JSON, 422 for an empty name; the alert stays open."""
    console = ConsoleProcess(tmp_path)
    try:
        pk = console.post(alert_body(1))[1]["id"]
        status, said = console.request("POST", f"/api/alerts/{pk}/ack", b'{"by": "Dana"}',
                                       headers={"Content-Type": "text/plain"})
        assert (status, json.loads(said)) == (415, {"error": "expected application/json"})
        status, said = console.request("POST", f"/api/alerts/{pk}/ack", b'{"by": ""}')
        assert (status, json.loads(said)) == (422, {"error": "by: the name is empty; expected the name of who "
                                                             "acknowledges, at most 80 characters"})
        (a,) = console.state()["alerts"]
        assert a["acked_by"] is None
    finally:
        console.kill()


def test_a_script_is_told_in_json_of_a_path_or_a_method_the_console_does_not_serve(tmp_path):
    """A script reads every refusal as ``{"error": ...}``: a path no route serves (a typo, an API of
    another release; a served path with a trailing slash too, which was a 307 to the path without it)
    and a method a route does not take (an acknowledgement asked for with GET), with
    the methods it takes in ``Allow``; the error says what the console serves instead."""
    console = ConsoleProcess(tmp_path)
    try:
        status, answer, said = console.exchange("GET", "/api/alert")
        assert (status, answer["Content-Type"]) == (404, "application/json")
        assert json.loads(said) == {"error": "nothing is served at /api/alert (the API: /api/state, /api/alerts, "
                                             "/api/alerts/ID/ack, /api/outcomes, /api/agents/forget; daemons post to "
                                             "/webhook)"}
        for method, path in (("POST", "/webhook/"), ("GET", "/api/alerts/"), ("GET", "/api/state/"),
                             ("POST", "/api/alerts/1/ack/"), ("GET", "/events/")):
            status, answer, said = console.exchange(method, path, json.dumps(alert_body(1)).encode()
                                                    if method == "POST" else None)
            assert (status, answer["Location"], json.loads(said)["error"]) == (
                404, None, f"nothing is served at {path} (the API: /api/state, /api/alerts, /api/alerts/ID/ack, "
                           f"/api/outcomes, /api/agents/forget; daemons post to /webhook)"), (method, path)
        assert console.state()["alerts"] == []
        status, answer, said = console.exchange("GET", "/api/alerts/1/ack")
        assert (status, answer["Content-Type"], answer["Allow"]) == (405, "application/json", "POST")
        assert json.loads(said) == {"error": "GET is not taken at /api/alerts/1/ack; it takes POST"}
    finally:
        console.kill()


def test_listen_addresses():
    assert parse_listen("127.0.0.1:8640") == ("127.0.0.1", 8640)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    for bad in ("8640", "host:", ":80", "h:port"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(bad)
    with pytest.raises(ValueError, match=r"^port 99999 is out of range \(0 to 65535; 0 picks a free one\)$"):
        parse_listen("h:99999")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.7")
    assert is_loopback("app.localhost") and not is_loopback("localhost.example")
    assert [host_of(h) for h in ("127.0.0.1:8640", "[::1]:8640", "localhost", "::1")] == [
        "127.0.0.1", "::1", "localhost", "::1"]


def test_console_refuses_a_daemon_database(tmp_path):
    from monitor.delivery.store import Store
    Store.open(tmp_path / "events.db").close()
    with pytest.raises(ConsoleStoreError, match="not a callmonitor console database"):
        ConsoleStore.open(tmp_path / "events.db")


def test_the_daemons_database_refuses_the_consoles_by_name_not_as_damaged(tmp_path):
    """The console's database given as a daemon's (`replay --db`, `alerts --db`) is said to be
    the console's, in every way it is opened; it is neither damaged nor changed."""
    from monitor.delivery.store import Store
    from monitor.delivery.store_errors import StoreError
    ConsoleStore.open(tmp_path / "supervisor.db").close()
    before = (tmp_path / "supervisor.db").read_bytes()
    for opener in (Store.open, Store.open_readonly):
        with pytest.raises(StoreError, match="the supervisor console's database .*not a daemon's events database"):
            opener(tmp_path / "supervisor.db")
    assert (tmp_path / "supervisor.db").read_bytes() == before


def test_command_line_errors_are_one_line(tmp_path):
    def run(*args):
        return subprocess.run([PY, "-m", "monitor.cli", "supervisor", "--db", str(tmp_path / "c.db"),
                               "--token-file", str(tmp_path / "t"), *args], cwd=ROOT, env=_env(tmp_path),
                              capture_output=True, text=True, timeout=30)

    r = run("--listen", "nowhere")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "HOST:PORT" in r.stderr
    r = run("--listen", "127.0.0.1:0", "--tls-cert", str(tmp_path / "missing.pem"))
    assert r.returncode == 2 and "go together" in r.stderr
    (tmp_path / "not.pem").write_text("not a certificate\n")
    r = run("--listen", "127.0.0.1:0", "--tls-cert", str(tmp_path / "not.pem"), "--tls-key", str(tmp_path / "not.pem"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr  # said before any address is announced
    assert r.stderr.startswith(f"call-monitor: error: {tmp_path / 'not.pem'}: cannot use the TLS certificate and key")
    assert not (tmp_path / "t").exists(), "no token made for a console that cannot start"
    (tmp_path / "t").write_text("the-shared-token-0123456789\n")
    (tmp_path / "agents.toml").write_text('[supervisor]\nagent_tokens = ["alice:the-shared-token-0123456789"]\n')
    r = run("--listen", "127.0.0.1:0", "--config", str(tmp_path / "agents.toml"))
    assert r.returncode == 2 and r.stderr == (f"call-monitor: error: supervisor.agent_tokens: alice: that is the shared "
                                              f"token of {tmp_path / 't'}; an agent's token must be its own\n")
    (tmp_path / "empty").write_text("")
    r = subprocess.run([PY, "-m", "monitor.cli", "replay", str(CALLS / "normal_8k.wav"), "--webhook",
                        "http://127.0.0.1:9/webhook", "--webhook-token-file", str(tmp_path / "empty"),
                        "--db", str(tmp_path / "e.db")], cwd=ROOT, env=_env(tmp_path), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "the token file is empty" in r.stderr and "Traceback" not in r.stderr


def test_a_token_file_saved_on_windows_is_read_without_its_byte_order_mark_and_line_end(tmp_path):
    """A token file saved by Notepad (a byte order mark, CRLF): the console takes the token in it, and
    so does a client given the file (`forget-agent`, the daemon's webhook). The mark was taken for
    part of the token: the console kept a token no client sends, and a client failed in Python's
    words (`cannot reach the console ... (ordinal not in range(256))`)."""
    token = "shared-token-0123456789"
    saved = tmp_path / "console.token"
    saved.write_bytes(b"\xef\xbb\xbf" + token.encode() + b"\r\n")
    console = ConsoleProcess(tmp_path)
    try:
        assert console.request("GET", "/api/state", token=token)[0] == 200
        forgot = call_monitor("forget-agent", "zoe", "--console", console.base, "--token-file", saved,
                              env=_env(tmp_path), timeout=60)
    finally:
        console.stop()
    assert (forgot.returncode, forgot.stderr) == (1, f"call-monitor: error: no agent named 'zoe' at the console "
                                                     f"{console.base} (its page lists the agents by name)\n")


def test_a_token_no_http_header_can_carry_is_refused_in_one_line_by_the_console_and_its_clients(tmp_path):
    """A token with a curly quote in it (a word processor's copy): no client could ever send it, so
    the console refuses it at its start, and a client given it says so, each in one line naming the
    file, exit 2, nothing made."""
    curly = tmp_path / "curly.token"
    curly.write_text("shared-token-0123\u201d456789\n")
    said = (f"call-monitor: error: {curly}: the token holds U+201D (character 18), which an HTTP header "
            "cannot carry: write the token alone, as ASCII text\n")
    console = call_monitor("supervisor", "--listen", "127.0.0.1:0", "--db", tmp_path / "c.db", "--token-file",
                           curly, env=_env(tmp_path), timeout=60)
    client = call_monitor("forget-agent", "zoe", "--console", "http://127.0.0.1:9", "--token-file", curly,
                          env=_env(tmp_path), timeout=60)
    assert (console.returncode, console.stderr) == (client.returncode, client.stderr) == (2, said)
    assert not (tmp_path / "c.db").exists()
    latin = tmp_path / "latin.token"  # Latin-1 is what a header is sent in: such a token is carried, and taken
    latin.write_text("shared-token-café-0123456789\n")
    client = call_monitor("forget-agent", "zoe", "--console", "http://127.0.0.1:9", "--token-file", latin,
                          env=_env(tmp_path), timeout=60)
    assert "cannot carry" not in client.stderr and "127.0.0.1:9" in client.stderr, client.stderr


def test_an_address_in_use_is_one_line_and_makes_no_token_or_database(tmp_path):
    """A second console started on the first one's port (or any program's) is told so in one line,
    exit 2, and leaves nothing behind: no token file, no database."""
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = call_monitor("supervisor", "--db", tmp_path / "c.db", "--token-file", tmp_path / "t", "--listen",
                         f"127.0.0.1:{port}", env=_env(tmp_path), timeout=60)
    finally:
        taken.close()
    assert r.returncode == 2
    assert r.stderr == f"call-monitor: error: cannot listen on 127.0.0.1:{port} (Address already in use)\n"
    assert not (tmp_path / "t").exists() and not (tmp_path / "c.db").exists()


@pytest.mark.parametrize("where", ["a database there", "none there"])
def test_a_console_database_behind_a_folder_it_may_not_enter_is_one_line_and_makes_no_token(tmp_path, where):
    """The console's database in a folder this user may not enter (another user's home, one made
    mode 000), there or not (which cannot be told): one line naming the file and the folder, exit
    2, not a traceback; no token file made, nothing left in the folder."""
    shut = tmp_path / "shut"
    shut.mkdir()
    if where == "a database there":
        ConsoleStore.open(shut / "c.db").close()
    files = sorted(os.listdir(shut))
    shut.chmod(0)
    try:
        r = call_monitor("supervisor", "--db", shut / "c.db", "--token-file", tmp_path / "t", "--listen",
                         "127.0.0.1:0", env=_env(tmp_path), timeout=60, permissions_bind=True)
    finally:
        shut.chmod(0o700)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f"call-monitor: error: {shut / 'c.db'}: cannot reach the database (the folder {shut} "
                        "cannot be entered: permission denied)\n")
    assert not (tmp_path / "t").exists() and sorted(os.listdir(shut)) == files


def test_a_listen_address_from_the_configuration_is_said_with_its_file_not_as_an_option(tmp_path):
    """`supervisor.listen` set wrong in a configuration file names the file and the key: the person
    typed no --listen. Nothing is made. Given with --listen, it is said as the option."""
    config = tmp_path / "console.toml"
    config.write_text('[supervisor]\nlisten = "nowhere"\n')
    r = call_monitor("supervisor", "--config", config, "--db", tmp_path / "c.db", "--token-file", tmp_path / "t",
                     env=_env(tmp_path), timeout=60)
    assert r.returncode == 2
    assert r.stderr == (f"call-monitor: error: {config}: supervisor.listen: expected HOST:PORT (e.g. 127.0.0.1:8640), "
                        "got 'nowhere'\n")
    assert sorted(os.listdir(tmp_path)) == ["console.toml"]
    r = call_monitor("supervisor", "--listen", "h:99999", "--db", tmp_path / "c.db", "--token-file", tmp_path / "t",
                     env=_env(tmp_path), timeout=60)
    assert r.returncode == 2
    assert r.stderr == ("call-monitor: error: --listen (supervisor.listen): port 99999 is out of range (0 to 65535; 0 "
                        "picks a free one), got 'h:99999'\n")
    assert sorted(os.listdir(tmp_path)) == ["console.toml"]


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "console.crt", tmp / "console.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _bad_tls_files(tmp: Path) -> dict[str, tuple[Path, Path, str]]:
    """Each way a --tls-cert/--tls-key pair can be unusable: (cert, key, the problem its line says)."""
    cert, key = _self_signed(tmp)
    other = tmp / "other"
    other.mkdir()
    _, other_key = _self_signed(other)
    (tmp / "empty.pem").write_bytes(b"")
    (tmp / "notes.pem").write_text("not a certificate\n")
    (tmp / "private.key").write_bytes(key.read_bytes())
    (tmp / "private.key").chmod(0)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-out", str(tmp / "locked.key"), "-aes128", "-passout",
                    "pass:secret"], check=True, capture_output=True, timeout=60)
    return {"missing": (tmp / "missing.pem", key, f"{tmp / 'missing.pem'}: {{}}: no such file or directory"),
            "a folder": (cert, tmp, f"{tmp}: {{}}: is a directory"),
            "empty": (tmp / "empty.pem", key, f"{tmp / 'empty.pem'}: {{}}: an empty file"),
            "not PEM": (tmp / "notes.pem", key,
                        f"{tmp / 'notes.pem'}: {{}}: not a PEM certificate (no -----BEGIN CERTIFICATE----- line)"),
            "swapped": (key, cert, f"{key}: {{}}: not a PEM certificate (no -----BEGIN CERTIFICATE----- line)"),
            "unreadable": (cert, tmp / "private.key", f"{tmp / 'private.key'}: {{}}: permission denied"),
            "another's key": (cert, other_key, f"{cert}: {{}} (the key {other_key} is not this certificate's)"),
            "encrypted": (cert, tmp / "locked.key", f"{tmp / 'locked.key'}: {{}}: an encrypted private key (the "
                          "console takes no passphrase: write it decrypted, openssl pkey -in KEY -out DECRYPTED_KEY)")}


@pytest.mark.parametrize("case", ["missing", "a folder", "empty", "not PEM", "swapped", "unreadable", "another's key",
                                  "encrypted"])
def test_an_unusable_tls_file_is_one_line_naming_it_and_why_before_anything_starts(tmp_path, case):
    """Each is said in one line naming the file; an encrypted key too, without OpenSSL asking its
    passphrase (on the terminal, or on stderr where there is none: the daemon's journal)."""
    cert, key, said = _bad_tls_files(tmp_path)[case]
    r = call_monitor("supervisor", "--db", tmp_path / "c.db", "--token-file", tmp_path / "t", "--listen",
                     "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, env=_env(tmp_path), timeout=60,
                     permissions_bind=True)
    assert r.returncode == 2 and r.stderr == f"call-monitor: error: {said.format(TLS_UNUSABLE)}\n"
    assert not (tmp_path / "t").exists() and not (tmp_path / "c.db").exists()


def test_the_console_serves_https_with_a_secure_session_cookie(tmp_path, monkeypatch, capsys):
    """A console with --tls-cert/--tls-key serves https alone, with a Secure session cookie and HSTS;
    a client that does not trust its certificate, or speaks plain HTTP, gets nothing. `forget-agent`
    reaches it at its https:// address once told to trust its certificate (SSL_CERT_FILE), which its
    one error line says until then."""
    import http.client
    import ssl

    from monitor import cli

    cert, key = _self_signed(tmp_path)
    console = ConsoleProcess(tmp_path, extra=("--tls-cert", str(cert), "--tls-key", str(key)))
    try:
        assert console.base.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(cert))
        con = http.client.HTTPSConnection("127.0.0.1", console.port, context=trusted, timeout=10)
        con.request("GET", f"/?token={console.token}")
        r = con.getresponse()
        r.read()
        cookie = r.getheader("Set-Cookie") or ""
        assert r.status in (302, 303, 307) and "HttpOnly" in cookie and "Secure" in cookie
        assert r.getheader("Strict-Transport-Security") == "max-age=31536000"
        assert "SameSite=Strict" in cookie or "samesite=strict" in cookie.lower()
        con.request("POST", "/webhook", json.dumps(alert_body(1)),
                    {"Authorization": f"Bearer {console.token}", "Content-Type": "application/json"})
        r = con.getresponse()
        assert r.status == 201 and json.loads(r.read())["stored"] == "new"
        # a client that does not trust the certificate, or speaks plain HTTP, gets nothing
        with pytest.raises(ssl.SSLError):
            untrusted = http.client.HTTPSConnection("127.0.0.1", console.port, timeout=10,
                                                    context=ssl.create_default_context())
            untrusted.request("GET", "/")
        plain = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
        try:
            plain.request("GET", f"/?token={console.token}")
            refused = plain.getresponse().status >= 400
        except (http.client.HTTPException, OSError):
            refused = True
        assert refused, "plain HTTP was served on the TLS port"
        forget = ["forget-agent", "nobody", "--console", console.base, "--token-file", str(console.token_file)]
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        assert cli.main(forget) == 2 and capsys.readouterr().err == (
            f"call-monitor: error: the console at {console.base} has a certificate this machine does not trust "
            f"(self-signed certificate): for the console's own (its --tls-cert), give SSL_CERT_FILE=that "
            f"certificate's file\n")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert cli.main(forget) == 1 and capsys.readouterr().err.startswith(  # reached: it knows no such agent
            f"call-monitor: error: no agent named 'nobody' at the console {console.base} ")
        assert console.alive()
    finally:
        console.kill()


def test_a_daemon_not_trusting_the_consoles_own_certificate_is_told_how_to_and_then_delivers(
        tmp_path, monitor_logs, monkeypatch):
    """A console with a self-signed certificate: the daemon's outage warning says, beside OpenSSL's
    words, how to make it trust that certificate (SSL_CERT_FILE), and once given it delivers."""
    from monitor.delivery.sinks.webhook import Identity, WebhookSink
    from monitor.delivery.store import Store
    from monitor.events import AlertEvent
    cert, key = _self_signed(tmp_path)
    console = ConsoleProcess(tmp_path, extra=("--tls-cert", str(cert), "--tls-key", str(key)))
    store = Store.open(tmp_path / "e.db")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    sink = WebhookSink(store, console.webhook, backoff_s=0.2, poll_s=0.05, token=console.token,
                       identity=Identity("dana", "d-dana")).start()
    try:
        call = store.start_call("test", time.time())
        sink(store.add_alert(call, AlertEvent(t=12.0, kind="slow_speech", severity="warning", message="slow",
                                              evidence={}, actions=())))
        assert wait_for(lambda: any(lvl == "warning" for lvl, _ in monitor_logs), 30)
        said = [m for lvl, m in monitor_logs if lvl == "warning"][0]
        assert "CERTIFICATE_VERIFY_FAILED" in said and "give the daemon SSL_CERT_FILE=" in said, said
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert wait_for(lambda: len(console.state()["alerts"]) == 1, 30), monitor_logs
    finally:
        sink.close()
        store.close()
        console.kill()


def test_listening_beyond_loopback_without_tls_warns(tmp_path):
    r = subprocess.Popen([PY, "-m", "monitor.cli", "supervisor", "--listen", "0.0.0.0:0", "--db",
                          str(tmp_path / "c.db"), "--token-file", str(tmp_path / "t")], cwd=ROOT, env=_env(tmp_path),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("daemons: --webhook" in x for x in lines):
            lines.append(r.stderr.readline().rstrip("\n"))
        assert any("without TLS" in x and x.startswith("call-monitor: warning:") for x in lines), lines
        (address,) = [x for x in lines if "daemons: --webhook" in x]
        assert "0.0.0.0" not in address  # no address a daemon on another machine could post to
        assert f"--webhook http://{socket.gethostname()}:" in address, address
    finally:
        r.kill()
        r.wait(5)


def test_a_host_name_that_is_a_loopback_address_here_is_said_so_and_guarded_as_loopback(tmp_path):
    """`--listen HOSTNAME:PORT` where the machine's name is a loopback address (Debian's /etc/hosts
    gives it 127.0.1.1): only this machine reaches the console, which one warning line says, rather
    than that the alerts cross the network; and a request addressed to another host name is refused
    (421) as on 127.0.0.1, where the name let a web page's DNS rebinding through; the addresses its
    line prints, with that name, are served."""
    import http.client
    name = socket.gethostname()
    try:
        address = socket.gethostbyname(name)
    except OSError:
        pytest.skip(f"this machine's name {name} does not resolve")
    if not is_loopback(address):
        pytest.skip(f"this machine's name {name} is {address}, no loopback address")
    r = subprocess.Popen([PY, "-m", "monitor.cli", "supervisor", "--listen", f"{name}:0", "--db",
                          str(tmp_path / "c.db"), "--token-file", str(tmp_path / "t")], cwd=ROOT, env=_env(tmp_path),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = [r.stderr.readline().rstrip("\n") for _ in range(3)]
        port = int(re.search(rf"--webhook http://{re.escape(name)}:(\d+)/webhook", lines[2]).group(1))
        assert lines[1] == (f"call-monitor: warning: {name} is {address} here, a loopback address: only this machine "
                            f"reaches the console (for agents' desktops, listen on the network: 0.0.0.0:{port} with "
                            "--tls-cert and --tls-key)"), lines
        con = http.client.HTTPConnection(address, port, timeout=10)
        con.request("GET", "/", headers={"Host": f"rebound.example:{port}"})
        assert con.getresponse().status == 421
        con = http.client.HTTPConnection(address, port, timeout=10)
        con.request("GET", "/", headers={"Host": f"{name}:{port}"})  # the page's address the line prints
        assert con.getresponse().status != 421
    finally:
        r.kill()
        r.wait(5)


def test_a_failing_database_is_one_line_in_the_log_and_a_503_with_the_reason_until_it_works_again(tmp_path, calls):
    """The console's database failing (a full disk) is one error line naming the database and the
    problem, not a traceback per post and heartbeat; each post the database fails is answered 503 with
    the reason, which the daemon says, keeping its alerts to deliver once the database works again."""
    console = ConsoleProcess(tmp_path / "console")
    daemon_db = tmp_path / "agent" / "events.db"
    heartbeat = {"type": "heartbeat", "agent": "alice", "daemon_id": "d-test", "every_s": 30, "status": {}}
    try:
        assert console.post(alert_body(1))[0] == 201
        console.limit_file_size(1)  # from now on every write of the database fails

        answers = [console.post(alert_body(i)) for i in (2, 3)] + [console.post(heartbeat) for _ in range(3)]
        reason = answers[0][1]["error"]
        assert {status for status, _ in answers} == {503}
        assert all(said == {"error": reason} for _, said in answers)
        assert reason.startswith("the console's database failed (") and reason.endswith("); try again later")
        # a wait for the answers (none at all cuts the post under way, its answer's words unread)
        r, printed = _replay(tmp_path, console, calls / "deteriorating_8k.wav", daemon_db, "--webhook-wait", "2")
        assert r.returncode == 0 and printed
        assert f"{len(printed)} alert(s) not delivered yet" in r.stderr
        assert f"HTTP 503 Service Unavailable: {reason}" in r.stderr
        assert [a["alert_id"] for a in console.state()["alerts"]] == [1]  # what it holds is still shown

        said = [e for e in console.err if str(console.db) in e]
        problem = reason.removeprefix("the console's database failed (").removesuffix("); try again later")
        assert said == [f"call-monitor: error: database {console.db}: {problem}; the console answers 503 until "
                        f"it works again (daemons keep their alerts and post them again)"]

        console.limit_file_size(None)
        assert console.post(alert_body(2)) == (201, {"id": 2, "stored": "new"})
        r, _ = _replay(tmp_path, console, calls / "normal_8k.wav", daemon_db)  # the same daemon: its outbox goes now
        assert r.returncode == 0, r.stderr
        assert wait_for(lambda: len(console.state()["alerts"]) == 2 + len(printed), 30)
        assert console.stop() == 0
        said = [e for e in console.err if str(console.db) in e]
        assert said[1:] == [f"call-monitor: warning: database {console.db} works again (it failed: {problem})"]
        assert not any("Traceback" in e or "Exception in ASGI" in e for e in console.err), console.err
    finally:
        console.kill()


def test_a_database_locked_by_another_program_is_a_503_with_the_reason_before_a_daemon_stops_waiting(tmp_path, calls):
    """Another program holding the console's database (``BEGIN EXCLUSIVE``): each request that writes is
    answered 503 with the reason, eight at once too, before a daemon's 5 s ``delivery.timeout_s`` ends
    its wait (the console waits ``BUSY_S``, 2 s, in all), so the daemon's warning says the console's
    reason, not "timed out"; it held each for 10 s. Once the lock goes, posts are stored again."""
    console = ConsoleProcess(tmp_path / "console")
    daemon_db = tmp_path / "agent" / "events.db"
    reason = "the console's database failed (database is locked); try again later"
    try:
        assert console.post(alert_body(1))[0] == 201
        holder = sqlite3.connect(console.db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            assert console.post(alert_body(2)) == (503, {"error": reason})
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda i: console.post(alert_body(i)), range(10, 18)))
            assert answers == [(503, {"error": reason})] * 8, answers
            r, printed = _replay(tmp_path, console, calls / "deteriorating_8k.wav", daemon_db, "--webhook-wait", "6")
            assert r.returncode == 0 and printed
            # the first post's warning says the console's reason (the post under way as --webhook-wait ends is cut: timed out)
            assert f"alert 1 not delivered (HTTP 503 Service Unavailable: {reason})" in r.stderr.splitlines()[0], r.stderr
        finally:
            holder.rollback()
            holder.close()
        status, said = console.post(alert_body(2))  # its console id: after the replay's, which may come first
        assert (status, said["stored"]) == (201, "new")
        assert [a["alert_id"] for a in console.state()["alerts"] if a["daemon_id"] == "d-test"] == [2, 1]
    finally:
        console.stop()
    assert not any("Traceback" in e for e in console.err), console.err


def test_alerts_the_daemon_could_not_store_reach_the_console_once_each(tmp_path, calls):
    """The replay's database is locked by another program for the whole replay: every alert goes
    out not stored, and the console gets each once, under ids of its own."""
    from monitor.delivery.store import Store
    console = ConsoleProcess(tmp_path)
    locked = tmp_path / "events.db"
    Store.open(locked).close()
    holder = sqlite3.connect(locked, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        r, alerts = _replay(tmp_path, console, calls / "deteriorating_8k.wav", locked, process=True)  # another program's lock
        assert alerts and all(a.get("stored") is False for a in alerts), r.stderr
        assert wait_for(lambda: len(console.state()["alerts"]) >= len(alerts), 30), r.stderr
        stored = console.state()["alerts"]
        assert sorted((a["kind"], a["t"]) for a in stored) == sorted((a["kind"], a["t"]) for a in alerts)
        assert all(a["alert_id"] >= 1 << 62 for a in stored)  # not the database's ids: it had none
    finally:
        holder.close()
        console.kill()


def test_stopping_the_console_with_a_page_open_ends_its_event_stream_at_once_and_quietly(tmp_path):
    """A supervisor's page is open whenever the console runs: SIGTERM ends its event stream (the
    browser reconnects to the console started again) at once, exit 0, with no traceback; it waited
    2 s for the stream, cancelled it and logged "Exception in ASGI application". The stream's end is
    timed from the signal (not the process's exit, which a busy machine's teardown may delay): well
    under the server's 2 s wait for open connections."""
    import urllib.request
    console = ConsoleProcess(tmp_path)
    try:
        req = urllib.request.Request(console.base + "/events", headers={"Authorization": f"Bearer {console.token}"})
        stream = urllib.request.urlopen(req, timeout=10)
        assert stream.readline().startswith(b"retry:")  # the stream is open
        t0 = time.monotonic()
        console.proc.send_signal(signal.SIGTERM)
        rest = stream.read()  # its end, not a reset
        took = time.monotonic() - t0
        assert console.ended() == 0
        assert b"event: state" in rest
        assert took < 1.5, f"the event stream ended {took:.2f} s after the signal"
        assert not [e for e in console.err if "Traceback" in e or "ERROR" in e], console.err
        assert console.err[-1] == "call-monitor: console stopped"
    finally:
        console.kill()


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_stop_as_the_console_starts_stops_it_as_one_while_it_serves(tmp_path, own_home, sig):
    """SIGTERM (``systemctl stop`` just after a start) or Ctrl-C once the console has said its
    address, before its server takes the signals: it stops as it does while it serves, "console
    stopped" and exit 0; it ended with exit 143 or 130 and no word."""
    done = stopped_at("uvicorn:Config", sig, "supervisor", "--listen", "127.0.0.1:0", "--db", tmp_path / "c.db",
                      "--token-file", tmp_path / "token", env=own_home)
    assert done.returncode == 0, done.stderr
    assert "daemons: --webhook" in done.stderr and done.stderr.splitlines()[-1] == "call-monitor: console stopped"


def test_an_event_stream_opened_as_the_console_stops_ends_at_once():
    """A page's stream being opened while the console stops (after it ended the open ones) gets
    the end at once; it stayed open until the server cancelled it, with a traceback."""
    from monitor.supervisor.app import Hub
    hub = Hub()
    hub.close()
    late = hub.subscribe()
    assert late.queue.get_nowait() is None and len(hub) == 0


@pytest.mark.parametrize("cert, key", [("", ""), ("", "console.key"), ("console.crt", "")],
                         ids=["both empty", "the certificate empty", "the key empty"])
def test_an_empty_tls_certificate_or_key_is_refused_never_a_console_without_tls(tmp_path, own_home, cert, key):
    """`--tls-cert "$CERT" --tls-key "$KEY"` with the variables unset asked for TLS: the console
    never serves plain HTTP for it. One line naming the first option given empty, exit 2; nothing
    listened on, no token or database made (the defaults' places, in the home, included)."""
    _self_signed(tmp_path)
    r = call_monitor("supervisor", "--listen", "127.0.0.1:0", "--tls-cert", cert and tmp_path / cert,
                     "--tls-key", key and tmp_path / key, env=own_home, timeout=60)
    said = {"--tls-cert": "--tls-cert \"\": an empty path; give the certificate's file (PEM) with --tls-key, or "
                          "leave both options out for a console without TLS",
            "--tls-key": "--tls-key \"\": an empty path; give the private key's file (PEM) with --tls-cert, or "
                         "leave both options out for a console without TLS"}["--tls-cert" if not cert else "--tls-key"]
    assert r.returncode == 2 and r.stderr == f"call-monitor: error: {said}\n"
    assert made_in(tmp_path / "home") == ["run"]


def test_an_empty_listen_address_is_refused_naming_the_option(tmp_path, own_home):
    """`--listen "$ADDR"` with ADDR unset is said as the option given empty (not as the
    configuration's supervisor.listen, which the person did not write); nothing is made."""
    r = call_monitor("supervisor", "--listen", "", env=own_home, timeout=60)
    assert r.returncode == 2
    assert r.stderr == ('call-monitor: error: --listen "": an empty address; give HOST:PORT (e.g. 127.0.0.1:8640), '
                        "or leave the option out for the configured one\n")
    assert made_in(tmp_path / "home") == ["run"]


def test_an_alert_a_failing_database_held_is_one_alert_at_the_console_under_the_id_alerts_names_with_its_call(
        tmpfs, tmp_path, capsys):
    """A daemon whose database is full posts an alert from memory under an id of its own, before its
    call's row is written (the console shows ``call ?``); once the database is written the alert
    is posted once more under that id, with its call: the console fills in the call of the alert it
    has, stores no second one, and ``call-monitor alerts --jsonl`` gives the console's id as
    ``posted_id``."""
    from conftest import fill
    from monitor import cli as command
    from monitor.delivery.sinks.webhook import Identity, WebhookSink
    from monitor.delivery.store import Store
    from monitor.delivery.store_guard import StoreGuard
    from monitor.events import AlertEvent
    console = ConsoleProcess(tmp_path / "console")
    store = Store.open(tmpfs / "e.db")
    sink = WebhookSink(store, console.webhook, poll_s=0.05, token=console.token,
                       identity=Identity.of(store, "Alice (desk 4)")).start()
    guard = StoreGuard(store, retry_s=0.0, written=[sink.written])
    try:
        filler = fill(tmpfs)
        call = guard.start_call("live:softphone.monitor", time.time())
        sink(guard.add_alert(call, AlertEvent(t=5.0, kind="possible_emergency", severity="critical", message="m")))
        assert wait_for(lambda: console.state()["alerts"], 30)
        (first,) = console.state()["alerts"]
        assert first["call_id"] is None
        filler.unlink()
        assert guard.retry(force=True)
        assert wait_for(lambda: [d.status for d in store.deliveries()] == ["delivered"], 30)
        (stored,) = store.list_alerts()
        (shown,) = console.state()["alerts"]
        assert (shown["id"], shown["alert_id"], shown["call_id"]) == (first["id"], first["alert_id"],
                                                                      stored.event.call_id)
        assert shown["call_started_at"] is not None
    finally:
        sink.close()
        store.close()
        console.kill()
    capsys.readouterr()
    assert command.main(["alerts", "--db", str(tmpfs / "e.db"), "--jsonl"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["alert_id"], row["call_id"], row["posted_id"]) == (stored.event.alert_id, shown["call_id"],
                                                                  shown["alert_id"])
    assert row["alert_id"] != row["posted_id"]


def test_the_console_reads_its_token_from_a_pipe_once_its_writer_has_written_and_closed(tmp_path):
    """`supervisor --token-file <(pass show console-token)`: the token comes from a pipe, read in
    short waits (a Ctrl-C ends them) until its writer closes it."""
    import threading

    pipe = tmp_path / "token"
    os.mkfifo(pipe)
    token = "piped-console-token-0123456789"

    def write() -> None:
        fd = fifo_writer(pipe, timeout=10)
        os.write(fd, f"{token}\n".encode())
        os.close(fd)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert load_or_create_token(pipe) == (token, False)
    writer.join(10)


def test_an_alert_kind_holding_terminal_control_characters_is_logged_escaped_on_one_line(tmp_path):
    """An agent's post is another program's words in the console's log: a control character in it
    (an escape sequence that retitles or rewrites the terminal showing the log) is written as Python
    writes it in a string."""
    console = ConsoleProcess(tmp_path)
    try:
        assert console.post(alert_body(1, kind="k\x1b]0;owned\x07\x1b[2Jx\rfake line"))[0] == 201
        assert console.stop() == 0
    finally:
        console.kill()
    assert "call-monitor: alert 1 (k\\x1b]0;owned\\x07\\x1b[2Jx\\rfake line) from alice (daemon d-test), call 7" in console.err
    assert not [line for line in console.err if any(ord(c) < 0x20 and c != "\t" for c in line)]


def test_the_log_names_the_daemon_of_each_alert_two_agents_of_one_name_posting_alike(tmp_path):
    """Two desktops whose agents are both Anna, each raising an alert in her call 7 (each daemon numbers
    its own calls): the console's log line of each alert names its daemon, which tells the desks apart."""
    console = ConsoleProcess(tmp_path)
    try:
        for daemon_id in ("d-anna-desk1", "d-anna-desk7"):
            assert console.post(alert_body(1, daemon_id=daemon_id, agent="Anna"))[0] == 201
        assert console.stop() == 0
    finally:
        console.kill()
    assert [line.split("call-monitor: ", 1)[1] for line in console.err if "from Anna" in line] == [
        "alert 1 (possible_emergency) from Anna (daemon d-anna-desk1), call 7",
        "alert 2 (possible_emergency) from Anna (daemon d-anna-desk7), call 7"]


def test_the_peer_logged_and_shown_is_the_connections_own_whatever_forwarding_headers_say(tmp_path):
    """A client on the console's machine (every client of a console on loopback) naming another address
    in ``X-Forwarded-For`` is logged and listed by its own: the refusals' log and an agent's ``remote``
    say who connected."""
    console = ConsoleProcess(tmp_path)
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    try:
        heartbeat = {"type": "heartbeat", "agent": "alice", "daemon_id": "d-1", "status": {"in_call": False}}
        assert console.request("POST", "/webhook", json.dumps(heartbeat).encode(), headers=forged)[0] == 200
        assert console.request("GET", "/api/state", token=None, headers=forged)[0] == 401
        status, headers, body = console.exchange("GET", "/api/state", headers=forged)
        assert console.stop() == 0
    finally:
        console.kill()
    assert [a["remote"] for a in json.loads(body)["agents"]] == ["127.0.0.1"]
    assert headers.get("Strict-Transport-Security") is None  # no https but the console's own TLS
    assert "call-monitor: warning: 401 GET /api/state from 127.0.0.1: missing token" in console.err


def test_report_links_left_out_are_said_once_a_minute_per_agent_with_how_many_beats_meanwhile():
    """The console's line of an agent's report links left out comes at its first such beat, then at
    most once a minute with how many beats had one since; another agent's is said apart."""
    import logging

    from monitor.supervisor.heartbeat import LinkRefusals, RefusedLink

    now = [0.0]
    said: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())
    logger = logging.getLogger("monitor.supervisor")
    logger.addHandler(handler)
    refusals = LinkRefusals(clock=lambda: now[0])
    link = (RefusedLink(8, "data:,x", "status.reports[0].url: expected an http://, https:// or file:/// link"),)
    try:
        for t, agent in [(0, "alice"), (10, "alice"), (20, "bob"), (59, "alice"), (61, "alice"), (62, "alice")]:
            now[0] = float(t)
            refusals.refused(agent, link)
        refusals.refused("carol", ())
    finally:
        logger.removeHandler(handler)
    assert [(s.split(":")[0], s.endswith("since the last line")) for s in said] == [
        ("agent 'alice'", False), ("agent 'bob'", False), ("agent 'alice'", True)]
    assert said[2].endswith("; 2 more beats with one since the last line")


def test_two_desktops_alerts_are_told_apart_by_the_daemon_id_alerts_jsonl_gives_and_acknowledged_by_the_consoles_id(
        tmp_path, calls):
    """Two desktops' databases post to one console, each its alerts under the same alert ids (1, 2...).
    ``alerts --jsonl`` gave neither the daemon id nor the agent, and the docs called ``posted_id`` the id
    ``/api/state`` gives: an integrator acknowledging ``/api/alerts/POSTED_ID/ack`` acknowledged the
    other desktop's alert. Each line names the daemon id its alert was posted under (the same on every
    line of a database) beside ``posted_id``, which is the console's ``alert_id``; the console's own
    ``id`` of it is the one of its alert with that ``daemon_id`` and ``alert_id``, and acknowledging
    that ``id`` acknowledges this desktop's alert, and no other."""
    console = ConsoleProcess(tmp_path / "console")
    try:
        listed = {}
        for desk in ("first", "second"):
            db = tmp_path / desk / "events.db"
            r, printed = _replay(tmp_path, console, calls / "deteriorating_16k.wav", db)
            assert r.returncode == 0 and printed, r.stderr
            r = call_monitor_here("alerts", "--jsonl", "--db", str(db), env=_env(tmp_path))
            listed[desk] = [json.loads(line) for line in r.stdout.splitlines()]
            with sqlite3.connect(db) as con:
                (daemon_id,), = con.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchall()
            assert {row["daemon_id"] for row in listed[desk]} == {daemon_id}
            assert all(row["agent"] is None for row in listed[desk])  # a replayed call keeps no agent
        assert [r["posted_id"] for r in listed["first"]] == [r["posted_id"] for r in listed["second"]]
        shown = console.state()["alerts"]
        by_key = {(a["daemon_id"], a["alert_id"]): a for a in shown}
        row = listed["second"][0]
        theirs = by_key[(row["daemon_id"], row["posted_id"])]
        assert (theirs["kind"], theirs["t"]) == (row["kind"], row["t"]) and theirs["id"] != row["posted_id"]
        status, said = console.request("POST", f"/api/alerts/{theirs['id']}/ack", b'{"by": "Dana"}')
        assert status == 200, said
        acked = [(a["daemon_id"], a["alert_id"]) for a in console.state()["alerts"] if a["acked_by"] == "Dana"]
        assert acked == [(row["daemon_id"], row["posted_id"])]
    finally:
        console.kill()
