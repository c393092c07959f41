"""``call-monitor alerts --outcomes``: how detection did on the site's own live calls, by the agents' words
on its alerts (handled, false alarm, none said), per agent, kind and severity; the supervisor console's
``GET /api/outcomes`` sums up the words posted to it alike.

Real SQLite databases written by the real store, the real command line, a real console on 127.0.0.1
fed by the real webhook sender.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from console_proc import ConsoleProcess, alert_body, post_word
from conftest import wait_for
from test_store import V2_SCHEMA

from monitor import cli
from monitor.delivery.sinks.webhook import Sender, WebhookSink
from monitor.delivery.store import Store
from monitor.events import AlertEvent
from monitor.supervisor.store import ConsoleStore, IncomingAlert

LIVE = "live:caller=softphone.monitor"
HOUR, DAY = 3600.0, 86400.0


def _alert(store: Store, call: int, kind: str, severity: str, at: float, word: str | None = None,
           note: str = "") -> AlertEvent:
    """An alert of ``call`` raised at ``at`` (unix seconds: as far into the call), with the agent's ``word``
    on it (None: none said)."""
    started = store.get_call(call).started_at
    alert = store.add_alert(call, AlertEvent(t=at - started, kind=kind, severity=severity, message="several cues agree",
                                             evidence={"x": 1}, actions=("Keep the caller on the line",)),
                            created_at=at)
    if word is not None:
        store.set_word(alert.alert_id, word, note, at + 60)
    return alert


def _call(store: Store, agent: str | None, started: float, duration_s: float | None, source: str = LIVE) -> int:
    call = store.start_call(source, started, agent=agent)
    if duration_s is not None:
        store.end_call(call, duration_s)
    return call


@pytest.fixture
def site(tmp_path) -> Path:
    """A day of two agents' live calls, a replayed call and an older call of alice's:

    - alice, two calls of 30 min: possible_emergency handled (called an ambulance) and a false alarm
      (caller was eating); long_pauses a false alarm (caller was eating) and one no word was said on;
      slow_speech a false alarm without a note;
    - bob, a call of an hour: possible_emergency handled; and his call running now (no duration yet);
    - a recording replayed into the database: possible_emergency, said a false alarm (not a live call);
    - three days ago, alice's call of 10 min: possible_emergency, a false alarm (dog barking).
    """
    now, db = time.time(), tmp_path / "events.db"
    with Store.open(db) as store:
        first = _call(store, "alice", now - 8 * HOUR, 0.5 * HOUR)
        _alert(store, first, "possible_emergency", "critical", now - 8 * HOUR + 60, "handled", "called an ambulance")
        _alert(store, first, "long_pauses", "warning", now - 8 * HOUR + 120, "false_alarm", "caller was eating")
        _alert(store, first, "long_pauses", "warning", now - 8 * HOUR + 180)
        second = _call(store, "alice", now - 6 * HOUR, 0.5 * HOUR)
        _alert(store, second, "possible_emergency", "critical", now - 6 * HOUR + 60, "false_alarm", "caller was eating")
        _alert(store, second, "slow_speech", "warning", now - 6 * HOUR + 120, "false_alarm")
        bobs = _call(store, "bob", now - 4 * HOUR, HOUR)
        _alert(store, bobs, "possible_emergency", "critical", now - 4 * HOUR + 60, "handled")
        replayed = _call(store, None, now - 2 * HOUR, 60.0, source="/qa/call.wav")
        _alert(store, replayed, "possible_emergency", "critical", now - 2 * HOUR + 30, "false_alarm")
        _call(store, "bob", now - 600, None)
        older = _call(store, "alice", now - 3 * DAY, 600.0)
        _alert(store, older, "possible_emergency", "critical", now - 3 * DAY + 60, "false_alarm", "dog barking")
    return db


def _run(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(["alerts", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def _summary(capsys, db: Path, *args: str) -> dict:
    status, out, err = _run(capsys, "--outcomes", "--jsonl", "--db", str(db), *args)
    assert status == 0 and err == "", err
    (line,) = out.splitlines()
    return json.loads(line)


def _rows(scope: dict) -> list[tuple]:
    """A summary's rows and total as (severity, kind, alerts, handled, false alarm, none said, share)."""
    return [(r["severity"], r["kind"], r["alerts"], r["handled"], r["false_alarm"], r["unsaid"], r["false_alarm_share"])
            for r in [*scope["rows"], scope["total"]]]


def test_the_summary_counts_per_kind_and_severity_the_live_calls_alerts_and_the_agents_words_on_them(site, capsys):
    """Critical first; a share of false alarms is of the alerts with a word only (None where none has one);
    the replayed call's alert is left out and counted as such; the critical alerts per hour rest on the
    call time of the calls that have a duration (the running call is counted apart)."""
    s = _summary(capsys, site, "--since", "1d")
    assert _rows(s["all"]) == [("critical", "possible_emergency", 3, 2, 1, 0, 1 / 3),
                               ("warning", "long_pauses", 2, 0, 1, 1, 1.0),
                               ("warning", "slow_speech", 1, 0, 1, 0, 1.0),
                               ("all", "all", 6, 2, 3, 1, 3 / 5)]
    assert s["replayed_alerts_left_out"] == 1
    assert s["all"]["false_alarm_notes"] == [{"note": "caller was eating", "count": 2}, {"note": "", "count": 1}]
    assert {k: s["all"][k] for k in ("criticals", "calls", "call_time_s", "open_calls", "critical_per_hour")} == {
        "criticals": 3, "calls": 4, "call_time_s": 2 * HOUR, "open_calls": 1, "critical_per_hour": 1.5}
    alice, bob = s["agents"]
    assert (alice["agent"], bob["agent"]) == ("alice", "bob")
    assert _rows(alice)[-1] == ("all", "all", 5, 1, 3, 1, 3 / 4) and alice["critical_per_hour"] == 2.0
    assert _rows(bob) == [("critical", "possible_emergency", 1, 1, 0, 0, 0.0), ("all", "all", 1, 1, 0, 0, 0.0)]
    assert (bob["calls"], bob["open_calls"], bob["false_alarm_notes"]) == (2, 1, [])


def test_the_text_says_each_share_with_the_count_it_rests_on_per_agent_then_for_all_agents(site, capsys):
    status, out, err = _run(capsys, "--outcomes", "--since", "1d", "--db", str(site))
    assert status == 0 and err == ""
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert lines[0].startswith("alerts of live calls since ") and lines[0].endswith(
        f" in {site} (1 alert(s) of replayed calls left out), by the agents' words")
    assert [line for line in lines if line.startswith("agent") or line == "all agents"] == [
        "agent alice", "agent bob", "all agents"]
    everyone = lines[lines.index("all agents"):]
    assert everyone[1] == "alerts handled false alarm none said false alarms among the alerts with a word"
    assert everyone[2:6] == ["CRITICAL possible_emergency 3 2 1 0 1 of 3 (33 %)",
                             "warning long_pauses 2 0 1 1 1 of 1 (100 %)",
                             "warning slow_speech 1 0 1 0 1 of 1 (100 %)",
                             "all 6 2 3 1 3 of 5 (60 %)"]
    assert everyone[6] == ("critical alerts per hour of monitored call time: 3 in 2.0 h (4 call(s); 1 still open "
                           "or without a duration, not counted): 1.5 per hour")
    assert everyone[7:] == ["false alarms' notes (3):", "2 × caller was eating", "1 × (no note)"]


def test_a_kind_no_agent_said_a_word_on_has_no_share_rather_than_a_share_of_nothing(tmp_path, capsys):
    db = tmp_path / "events.db"
    with Store.open(db) as store:
        call = _call(store, "alice", time.time() - HOUR, 600.0)
        _alert(store, call, "long_pauses", "warning", time.time() - HOUR + 60)
    _, out, _ = _run(capsys, "--outcomes", "--db", str(db))
    assert re.search(r"warning +long_pauses +1 +0 +0 +1 +no word said$", out, re.M), out
    assert _summary(capsys, db)["all"]["total"]["false_alarm_share"] is None


def test_since_and_until_bound_the_period_as_alerts_reads_them(site, capsys):
    """An older period holds alice's call of three days ago alone; ``alerts`` lists by the same bounds;
    a period with nothing in it is said in one line, exit 0."""
    s = _summary(capsys, site, "--since", "5d", "--until", "2d")
    assert _rows(s["all"]) == [("critical", "possible_emergency", 1, 0, 1, 0, 1.0), ("all", "all", 1, 0, 1, 0, 1.0)]
    assert (s["all"]["false_alarm_notes"], s["all"]["call_time_s"]) == ([{"note": "dog barking", "count": 1}], 600.0)
    status, out, _ = _run(capsys, "--until", "2d", "--db", str(site))
    assert status == 0 and len(out.splitlines()) == 1 and "possible_emergency" in out
    status, out, err = _run(capsys, "--outcomes", "--since", "2026-01-01", "--until", "2026-01-02", "--db", str(site))
    assert (status, out) == (0, "")
    assert err == f"call-monitor: no alerts of live calls since 2026-01-01 00:00 until 2026-01-02 00:00 in {site}\n"


def test_an_alert_of_a_call_begun_before_the_period_counts_and_that_calls_time_does_not(tmp_path, capsys):
    """The alerts are of the period by when they were raised, the call time by when the calls began."""
    db, now = tmp_path / "events.db", time.time()
    with Store.open(db) as store:
        begun_before = _call(store, "alice", now - 2 * HOUR - 60, HOUR)
        _alert(store, begun_before, "possible_emergency", "critical", now - 2 * HOUR + 60, "handled")
        _call(store, "alice", now - HOUR, HOUR)
    s = _summary(capsys, db, "--since", "2h")["all"]
    assert (s["total"]["alerts"], s["total"]["handled"], s["calls"], s["call_time_s"]) == (1, 1, 1, HOUR)


def test_the_critical_alerts_per_hour_are_those_of_the_calls_whose_time_is_counted(tmp_path, capsys):
    """A call of an hour with a critical alert, a call still running with two and one begun before the
    period with one: the rate is the timed call's one alert in its hour, not four alerts over that hour;
    the alerts left out of it are said."""
    db, now = tmp_path / "events.db", time.time()
    with Store.open(db) as store:
        _alert(store, _call(store, "alice", now - 3 * HOUR, HOUR), "possible_emergency", "critical", now - 3 * HOUR + 60)
        running = _call(store, "alice", now - 1800, None)
        for at in (now - 1200, now - 600):
            _alert(store, running, "possible_emergency", "critical", at)
        before = _call(store, "alice", now - 4 * HOUR - 60, HOUR)
        _alert(store, before, "possible_emergency", "critical", now - 4 * HOUR + 60)
    s = _summary(capsys, db, "--since", "4h")["all"]
    assert {k: s[k] for k in ("criticals", "timed_criticals", "calls", "open_calls", "critical_per_hour")} == {
        "criticals": 4, "timed_criticals": 1, "calls": 2, "open_calls": 1, "critical_per_hour": 1.0}
    _, out, _ = _run(capsys, "--outcomes", "--since", "4h", "--db", str(db))
    assert ("critical alerts per hour of monitored call time: 1 in 1.0 h (2 call(s); 1 still open or without a "
            "duration, not counted; 3 critical alert(s) of calls not timed left out): 1 per hour") in out, out


def test_call_time_under_an_hour_is_said_in_minutes_or_seconds_never_as_0_0_h(tmp_path, capsys):
    """One critical alert in a call of 145.5 s read "1 in 0.0 h (1 call(s)): 24.7 per hour": the
    time it rests on is said in minutes under an hour, in seconds under a minute."""
    db, now = tmp_path / "events.db", time.time()
    with Store.open(db) as store:
        short = _call(store, "alice", now - 600, 145.5)
        _alert(store, short, "possible_emergency", "critical", now - 580)
        shorter = _call(store, "bob", now - 300, 40.0)
        _alert(store, shorter, "possible_emergency", "critical", now - 280)
    _, out, _ = _run(capsys, "--outcomes", "--call", str(short), "--db", str(db))
    assert "critical alerts per hour of monitored call time: 1 in 2.4 min (1 call(s)): 24.7 per hour" in out, out
    _, out, _ = _run(capsys, "--outcomes", "--call", str(shorter), "--db", str(db))
    assert "critical alerts per hour of monitored call time: 1 in 40 s (1 call(s)): 90 per hour" in out, out


def test_a_database_from_before_the_calls_kept_their_agent_is_summed_up_as_it_is(tmp_path, capsys):
    """A version 2 database (an earlier release's, read as it is: never migrated here): its live call's
    alert is summed up under no agent, its call time counted, the file left as it was."""
    db = tmp_path / "v2.db"
    with closing(sqlite3.connect(db)) as con:
        con.executescript(V2_SCHEMA.replace("/calls/old.wav", LIVE))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    (agent,) = _summary(capsys, db)["agents"]
    assert (agent["agent"], _rows(agent)[-1], agent["calls"], agent["call_time_s"]) == (
        None, ("all", "all", 1, 0, 0, 1, None), 1, 100.0)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_the_alerts_calls_are_read_together_not_one_statement_each(tmp_path):
    """60 live calls with an alert each: their agents are read together (a statement per 500 calls)."""
    db, now = tmp_path / "events.db", time.time()
    with Store.open(db) as store:
        for i in range(60):
            _alert(store, _call(store, f"agent {i % 3}", now - HOUR + i, 1.0), "long_pauses", "warning", now - 60)
    statements: list[str] = []
    with Store.open_readonly(db) as store:
        store._conn.set_trace_callback(statements.append)
        alerts, replayed = store.labelled(now - HOUR, None)
    assert (len(alerts), replayed, {a.agent for a in alerts}) == (60, 0, {"agent 0", "agent 1", "agent 2"})
    assert sum(" FROM calls " in s for s in statements) <= 3, statements[:5]


def test_call_sums_up_one_call_and_a_call_the_database_has_not_is_one_line(site, capsys):
    s = _summary(capsys, site, "--call", "3")
    assert [a["agent"] for a in s["agents"]] == ["bob"] and s["all"]["calls"] == 1
    status, out, err = _run(capsys, "--outcomes", "--call", "99", "--db", str(site))
    assert (status, out) == (1, "") and err == f"call-monitor: error: call 99: no such call in {site}\n"


def _another_programs(db: Path) -> None:
    with closing(sqlite3.connect(db)) as con, con:
        con.execute("CREATE TABLE notes (text TEXT)")


def _damaged(db: Path) -> None:
    """A word whose time another program overwrote with text."""
    with closing(sqlite3.connect(db)) as con, con:
        con.execute("UPDATE alert_words SET said_at = 'soon' WHERE alert_id = 2")


BAD = {
    "a date that does not read": (["--since", "yesterday-ish"], None, "--since 'yesterday-ish': expected a duration"),
    "until not after since": (["--since", "1d", "--until", "2d"], None, "--until '2d' is not after --since '1d'"),
    "until empty": (["--until", ""], None, '--until "": an empty time'),
    "no database": ([], lambda db: db.unlink(), "no database there"),
    "a folder": ([], lambda db: (db.unlink(), db.mkdir()), "is a directory, not a database file"),
    "another program's database": ([], lambda db: (db.unlink(), _another_programs(db)),
                                   "not a callmonitor database (it holds other tables: notes)"),
    "garbage": ([], lambda db: db.write_bytes(bytes(range(256)) * 40), "not a callmonitor database"),
    "the console's database": ([], lambda db: (db.unlink(), ConsoleStore.open(db).close()), "console"),
    "a damaged row": ([], _damaged, "damaged callmonitor database (agent's word on alert 2: said_at is not a number"),
}


@pytest.mark.parametrize("args, spoil, said", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_exit_2_and_the_database_is_left_as_it_was(site, capsys, args, spoil, said):
    if spoil is not None:
        spoil(site)
    before = hashlib.sha256(site.read_bytes()).hexdigest() if site.is_file() else None
    for jsonl in ([], ["--jsonl"]):
        status, out, err = _run(capsys, "--outcomes", *jsonl, "--db", str(site), *args)
        assert (status, out) == (2, ""), err
        assert err.startswith("call-monitor: error: ") and err.count("\n") == 1 and said in err, err
    assert (hashlib.sha256(site.read_bytes()).hexdigest() if site.is_file() else None) == before


def test_the_console_sums_up_the_words_posted_to_it_across_agents_as_the_daemons_database_does(tmp_path, capsys):
    """Each agent's daemon posts its alerts and words to one console: ``GET /api/outcomes`` gives each
    agent's rows, totals and notes as ``alerts --outcomes --jsonl`` gives them from that agent's
    database, all agents' together, and no call time (the console has no call durations). A query it
    does not take is 400, one line naming the parameter."""
    console = ConsoleProcess(tmp_path / "console")
    now, sinks, stores = time.time(), [], []
    try:
        for agent, words in (("alice", ["handled", "false_alarm", None]), ("bob", ["false_alarm"])):
            store = Store.open(tmp_path / f"{agent}.db")
            stores.append(store)
            sink = WebhookSink(store, console.webhook, token=console.token, retries=0, backoff_s=0.05,
                               max_backoff_s=0.1, poll_s=0.05, identity=Sender.of(store, agent)).start()
            sinks.append(sink)
            call = _call(store, agent, now - HOUR, 600.0)
            replayed = _call(store, None, now - HOUR, 60.0, source=str(tmp_path / "call.wav"))
            raised = [_alert(store, call, ("possible_emergency", "slow_speech")[i % 2], ("critical", "warning")[i % 2],
                             now - HOUR + i) for i in range(len(words))]
            raised.append(_alert(store, replayed, "slow_speech", "warning", now - HOUR))
            for alert, word in zip(raised, [*words, "false_alarm"]):
                sink(alert)  # queued for the webhook, then the word said on it
                if word is not None:
                    store.set_word(alert.alert_id, word, "caller was eating", now)
            sink.wake()
        assert wait_for(lambda: all(w.status == "delivered" for s in stores
                                    for w in s.words_of(range(1, 9)).values()), 10)
        status, body = console.request("GET", f"/api/outcomes?since={now - DAY}")
        assert status == 200, body
        answer = json.loads(body)
        refused = {query: console.request("GET", f"/api/outcomes?{query}") for query in REFUSED}
    finally:
        for sink in sinks:
            sink.close()
        for store in stores:
            store.close()
        console.kill()
    for agent, theirs in zip(("alice", "bob"), answer["agents"]):
        ours = _summary(capsys, tmp_path / f"{agent}.db", "--since", "1d")["all"]
        assert theirs["agent"] == agent and _rows(theirs) == _rows(ours)
        assert theirs["false_alarm_notes"] == ours["false_alarm_notes"]
        assert (theirs["calls"], theirs["critical_per_hour"]) == (None, None)
    assert _rows(answer["all"])[-1] == ("all", "all", 4, 1, 2, 1, 2 / 3)
    assert answer["replayed_alerts_left_out"] == 2
    assert {q: (status, json.loads(body)["error"]) for q, (status, body) in refused.items()} == {
        q: (400, said) for q, said in REFUSED.items()}


def test_two_agents_of_one_name_at_two_desks_are_summed_up_apart_each_by_its_daemon(tmp_path):
    """Two agents named Anna, each her desktop's daemon posting to one console: ``GET /api/outcomes``
    gives each her own rows, told apart by ``daemon_id`` as the console's agents are, never one Anna of
    both; every agent's together counts both."""
    console = ConsoleProcess(tmp_path / "console")
    try:
        said = [(alert_body(1, daemon_id="d-desk-1", agent="Anna"), "false_alarm"),
                (alert_body(2, daemon_id="d-desk-1", agent="Anna"), "false_alarm"),
                (alert_body(1, daemon_id="d-desk-7", agent="Anna"), "handled")]
        for alert, word in said:
            assert console.post(alert)[0] == 201
            post_word(console, alert, word)
        status, body = console.request("GET", "/api/outcomes")
    finally:
        console.kill()
    assert status == 200, body
    answer = json.loads(body)
    assert [(a["agent"], a["daemon_id"], a["total"]["handled"], a["total"]["false_alarm"]) for a in answer["agents"]] == [
        ("Anna", "d-desk-1", 0, 2), ("Anna", "d-desk-7", 1, 0)]
    assert (answer["all"]["agent"], answer["all"]["daemon_id"], answer["all"]["total"]["alerts"]) == (None, None, 3)


def test_the_consoles_period_is_of_when_it_received_the_alerts_as_its_retention_deletes_by(tmp_path):
    """A period reaching back to the retention's cut counts the same alerts before and after the purge
    at that cut: those the console received from then on, whatever time their daemons' clocks gave them
    (one slow, one fast by seconds, at the edge)."""
    cut = 1_800_000_000.0
    received_at = {1: (cut - 1, cut + 5), 2: (cut + 1, cut - 5), 3: (cut + 60, cut + 60), 4: (cut - 60, None)}
    store = ConsoleStore.open(tmp_path / "console.db")
    try:
        for alert_id, (received, at) in received_at.items():
            store.add_alert(IncomingAlert(daemon_id="d-anna", alert_id=alert_id, agent="Anna", kind="slow_speech",
                                          severity="warning", message="slow", t=30.0, evidence={}, actions=(),
                                          call_id=alert_id, at=at), now=received)
        counted = len(store.labelled(cut, None)[0])
        assert store.purge(cut) == (2, 0)
        kept, counted_after = store.count_alerts(), len(store.labelled(cut, None)[0])
    finally:
        store.close()
    assert counted == counted_after == kept == 2


REFUSED = {"since=yesterday": "since: expected a time in unix seconds (a number, 0 or more), got 'yesterday'",
           "since=nan": "since: expected a time in unix seconds (a number, 0 or more), got 'nan'",
           "since=1_000": "since: expected a time in unix seconds (a number, 0 or more), got '1_000'",
           "since=%201": "since: expected a time in unix seconds (a number, 0 or more), got ' 1'",
           "until=5%0A": "until: expected a time in unix seconds (a number, 0 or more), got '5\\n'",
           "since=%2B1": "since: expected a time in unix seconds (a number, 0 or more), got '+1'",
           "since=1.": "since: expected a time in unix seconds (a number, 0 or more), got '1.'",
           "since=20&until=10": "until: '10' is not after since '20'",
           "since=1&since=2": "since: given twice",
           "limit=5": "limit: no such parameter; expected since, until"}
"""Queries ``GET /api/outcomes`` refuses, and the line it says of each: a time is a plain number,
digits with a fraction or an exponent, not what Python's float() reads besides (1_000, spaces, a sign)."""
