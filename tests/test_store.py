"""The SQLite store: durable alerts, private files, downsampled cues and a webhook outbox."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import PERMISSIONS_BIND, ROOT, call_monitor, stored_alert

from monitor.events import AlertClearedEvent, AlertEvent, CuesEvent, Word, WordsEvent
from monitor.delivery import store_schema
from monitor.delivery.store import Store
from monitor.delivery.store_errors import StoreError
from monitor.delivery.store_files import others_may_read_database
from monitor.delivery.store_rows import Ack
from monitor.delivery.store_schema import SCHEMA_VERSION



def alert(t: float, kind: str = "slow_speech", severity: str = "warning") -> AlertEvent:
    return AlertEvent(t=t, kind=kind, severity=severity, message=f"{kind} at {t}",
                      evidence={"cue": "speech_rate_sps", "value": 2.1, "baseline": 3.4,
                                "threshold": 2.55, "since": t - 6, "until": t},
                      actions=("Check in with the caller",))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "callmonitor" / "events.db"


def test_creates_a_private_wal_database(db):
    with Store.open(db) as store:
        assert store.journal_mode() == "wal"
        store.start_call("call.wav", 1000.0)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"calls", "alerts", "alert_clears", "cue_snapshots", "transcript",
            "deliveries"} <= tables


def test_calls_alerts_and_clears_round_trip(db):
    with Store.open(db, clock=lambda: 5000.0) as store:
        call = store.start_call("/calls/a.wav", 1000.0)
        stored = store.add_alert(call, alert(42.0))
        assert stored.alert_id is not None and stored.call_id == call
        assert stored.kind == "slow_speech" and stored.evidence["value"] == 2.1
        store.add_clear(call, AlertClearedEvent(t=60.0, kind="slow_speech"))
        store.add_clear(call, AlertClearedEvent(t=180.0, kind="slow_speech", reason="call_ended"))
        store.set_baseline(call, {"speech_rate_sps": {"median": 3.4, "mad": 0.2}})
        store.end_call(call, 180.0, {"alerts": 1}, ended_at=1180.0)
        other = store.start_call("/calls/b.wav", 2000.0)
        store.add_alert(other, alert(5.0, "possible_emergency", "critical"))

    with Store.open(db) as store:
        rec = store.get_call(call)
        assert rec is not None and rec.source == "/calls/a.wav" and rec.started_at == 1000.0
        assert rec.duration_s == 180.0 and rec.ended_at == 1180.0
        assert rec.summary == {"alerts": 1}
        assert rec.baseline == {"speech_rate_sps": {"median": 3.4, "mad": 0.2}}
        assert [c.id for c in store.list_calls()] == [other, call]
        assert store.get_call(999) is None
        assert [a.event for a in store.list_alerts(call_id=call)] == [stored]
        assert [a.event.kind for a in store.list_alerts()] == ["slow_speech",
                                                               "possible_emergency"]
        # stored when the clock read 5000, kept at its call's start plus its call time: the moment it was raised at
        assert [a.created_at for a in store.list_alerts()] == [1042.0, 2005.0]
        assert store.list_alerts(since=2005.0)[0].created_at == 2005.0
        assert store.list_alerts(since=2005.001) == []
        assert store.list_clears(call) == [
            AlertClearedEvent(t=60.0, kind="slow_speech", call_id=call, reason="recovered"),
            AlertClearedEvent(t=180.0, kind="slow_speech", call_id=call, reason="call_ended")]


V1_TABLES = """
    CREATE TABLE calls (id INTEGER PRIMARY KEY, started_at REAL NOT NULL, source TEXT NOT NULL,
        ended_at REAL, duration_s REAL, baseline TEXT, summary TEXT);
    CREATE TABLE alerts (id INTEGER PRIMARY KEY, call_id INTEGER NOT NULL REFERENCES calls(id),
        t REAL NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL,
        evidence TEXT NOT NULL, actions TEXT NOT NULL, created_at REAL NOT NULL);
    CREATE TABLE alert_clears (id INTEGER PRIMARY KEY, call_id INTEGER NOT NULL REFERENCES calls(id),
        t REAL NOT NULL, kind TEXT NOT NULL, alert_id INTEGER REFERENCES alerts(id),
        created_at REAL NOT NULL);
    CREATE TABLE cue_snapshots (id INTEGER PRIMARY KEY, call_id INTEGER NOT NULL, channel TEXT NOT NULL,
        t REAL NOT NULL, cues TEXT NOT NULL);
    CREATE TABLE transcript (id INTEGER PRIMARY KEY, call_id INTEGER NOT NULL, channel TEXT NOT NULL,
        t REAL NOT NULL, start REAL, "end" REAL, text TEXT NOT NULL, words TEXT NOT NULL);
    CREATE TABLE deliveries (id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, target TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL, last_error TEXT, created_at REAL NOT NULL, delivered_at REAL,
        UNIQUE (alert_id, target));
"""
"""The tables of schema version 1, the first release (alert_clears had no reason column), empty."""


def test_a_first_release_database_is_migrated_in_place_and_keeps_its_records(tmp_path):
    p = tmp_path / "v1.db"
    conn = sqlite3.connect(p)
    conn.executescript(V1_TABLES + """
        INSERT INTO calls VALUES (1, 1000.0, 'old.wav', 1100.0, 100.0, NULL, NULL);
        INSERT INTO alerts VALUES (1, 1, 40.0, 'slow_speech', 'warning', 'Slow speech', '{}', '[]', 1040.0);
        INSERT INTO alert_clears VALUES (1, 1, 70.0, 'slow_speech', 1, 1070.0);
        INSERT INTO alerts VALUES (2, 1, 80.0, 'weak_voice', 'warning', 'Weak voice', '{}', '[]', 1080.0);
        INSERT INTO alert_clears VALUES (2, 1, 100.0, 'weak_voice', 2, 1100.0);
        PRAGMA user_version = 1;
    """)
    conn.close()
    with Store.open(p) as store:
        assert [a.event.kind for a in store.list_alerts(call_id=1)] == ["slow_speech", "weak_voice"]
        # version 1 ended every raised alert at the call's end: those clears are call ends
        assert store.list_clears(1) == [
            AlertClearedEvent(t=70.0, kind="slow_speech", call_id=1, reason="recovered"),
            AlertClearedEvent(t=100.0, kind="weak_voice", call_id=1, reason="call_ended")]
        store.add_clear(1, AlertClearedEvent(t=99.0, kind="slow_speech", reason="call_ended"))
        assert store.list_clears(1)[-1].reason == "call_ended"
        assert store.add_ack(2, 1, "Dana", 1200.0)  # every version on the way: the acknowledgements' too
        assert store.acks_of([1, 2]) == {2: Ack("Dana", 1200.0)}
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


V2_SCHEMA = V1_TABLES + """
    ALTER TABLE alert_clears ADD COLUMN reason TEXT NOT NULL DEFAULT 'recovered';
    INSERT INTO calls VALUES (1, 1000.0, '/calls/old.wav', 1100.0, 100.0, '{"end_t": 30.0}', '{"alerts": 1}');
    INSERT INTO alerts VALUES (1, 1, 40.0, 'slow_speech', 'warning', 'Slow speech', '{}', '[]', 1040.0);
    INSERT INTO alert_clears VALUES (1, 1, 100.0, 'slow_speech', 1, 1100.0, 'call_ended');
    PRAGMA user_version = 2;
"""
"""A database as the version 2 releases left it (version 1's tables, the clears with their reason): a
call and its alert, cleared at the call's end."""


def test_the_calls_keep_the_recording_s_channel_of_each_leg(db):
    with Store.open(db) as store:
        left = store.start_call("/calls/left.wav", 1000.0, {"caller": 0, "agent": 1})
        alone = store.start_call("/calls/mono.wav", 1000.0, {"caller": 0})
        live = store.start_call("live:caller=softphone.monitor", 1000.0)
    with Store.open_readonly(db) as store:
        assert store.get_call(left).channels == {"caller": 0, "agent": 1}
        assert store.get_call(alone).channels == {"caller": 0}
        assert store.get_call(live).channels is None


def test_a_version_2_database_is_migrated_in_place_and_keeps_its_calls(tmp_path):
    p = tmp_path / "v2.db"
    conn = sqlite3.connect(p)  # schema version 2: the calls did not keep their channels
    conn.executescript(V2_SCHEMA)
    conn.close()
    with Store.open_readonly(p) as store:  # read as it is, before any migration
        (old,) = store.list_calls()
        assert old.source == "/calls/old.wav" and old.channels is None
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == 2
    with Store.open(p) as store:
        (kept,) = store.list_calls()
        assert kept == old  # the same call: source, times, baseline, summary; no channels known
        assert kept.summary == {"alerts": 1} and kept.baseline == {"end_t": 30.0}
        assert [a.event.kind for a in store.list_alerts(call_id=1)] == ["slow_speech"]
        assert store.list_clears(1)[0].reason == "call_ended"
        new = store.start_call("/calls/new.wav", 2000.0, {"caller": 0, "agent": 1})
        assert store.get_call(new).channels == {"caller": 0, "agent": 1}
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_live_call_keeps_its_agent_and_a_version_3_database_gains_the_column_last(tmp_path):
    """The agent is kept with each live call; a version 3 database made before gains the column
    when opened (its calls have no agent), last, where releases that read a call's first eight
    columns by position leave it (the column came without a version of its own: version 3
    databases with and without it were written)."""
    p = tmp_path / "v3.db"
    conn = sqlite3.connect(p)
    conn.executescript(V2_SCHEMA.replace("PRAGMA user_version = 2", "ALTER TABLE calls ADD COLUMN channels TEXT; "
                                                                     "PRAGMA user_version = 3"))
    conn.close()
    with Store.open_readonly(p) as store:  # read as it is
        assert store.get_call(1).agent is None
    with Store.open(p) as store:
        assert store.get_call(1).agent is None and store.get_call(1).source == "/calls/old.wav"
        live = store.start_call("live:caller=softphone.monitor", 2000.0, {"caller": 0}, agent="Alice (desk 4)")
        replayed = store.start_call("/calls/new.wav", 2000.0, {"caller": 1, "agent": 0})
    with Store.open_readonly(p) as store:
        assert store.get_call(live).agent == "Alice (desk 4)" and store.get_call(replayed).agent is None
    conn = sqlite3.connect(p)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = [r[1] for r in conn.execute("PRAGMA table_info(calls)")]
    assert columns == ["id", "started_at", "source", "ended_at", "duration_s", "baseline", "summary", "channels",
                       "agent"]
    with Store.open(p):  # opened again: nothing more to add
        pass


V3_SCHEMA = V2_SCHEMA.replace("PRAGMA user_version = 2", """ALTER TABLE calls ADD COLUMN channels TEXT;
    ALTER TABLE calls ADD COLUMN agent TEXT;
    INSERT INTO deliveries VALUES (1, 1, 'http://127.0.0.1:9/webhook', 'delivered', 1, 1040.0, NULL, 1040.0, 1041.0);
    PRAGMA user_version = 3""")
"""A database as the version 3 releases left it: a call, its alert, delivered to a webhook."""


def test_a_version_3_database_is_migrated_in_place_and_its_outbox_rows_keep_their_ids(tmp_path):
    """Version 4 keeps the id an alert was posted under when it is not the alert's own (posted from
    memory while the database failed): a version 3 database read as it is has none, and once opened
    gains the column, its rows posted under their alerts' ids as before; a row keeps the first
    posted id it is given, which only the largest ids SQLite keeps hold exactly."""
    p = tmp_path / "v3.db"
    conn = sqlite3.connect(p)
    conn.executescript(V3_SCHEMA)
    conn.close()
    with Store.open_readonly(p) as store:  # read as it is, before any migration
        (old,) = store.deliveries()
        assert (old.alert_id, old.status, old.posted_id, old.posts_as) == (1, "delivered", None, 1)
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == 3
    memory_id = (1 << 62) + (1 << 59) + 12345  # beyond a float's 53 bits
    with Store.open(p) as store:
        assert store.deliveries() == [old]
        call = store.start_call("live:caller=softphone.monitor", 2000.0)
        raised = store.add_alert(call, alert(5.0, "possible_emergency", "critical"))
        row = store.enqueue_delivery(raised.alert_id, "http://127.0.0.1:9/webhook", posted_id=memory_id)
        assert store.enqueue_delivery(raised.alert_id, "http://127.0.0.1:9/webhook", posted_id=memory_id + 1) == row
        assert store.enqueue_delivery(raised.alert_id, "http://127.0.0.1:9/webhook") == row
    with Store.open_readonly(p) as store:
        assert [(d.alert_id, d.posted_id, d.posts_as) for d in store.deliveries()] == [
            (1, None, 1), (raised.alert_id, memory_id, memory_id)]
    conn = sqlite3.connect(p)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [r[1] for r in conn.execute("PRAGMA table_info(deliveries)")][-2:] == ["posted_id", "posted_by"]


def test_a_version_6_database_without_the_outbox_s_posted_by_gains_it_its_delivered_rows_none(tmp_path):
    """``deliveries.posted_by`` (the daemon id a delivered post went under) came without a schema
    version: a database of the release before gains it when opened, its delivered rows keep none
    (the id the database posts under is given for them), and read as it is, it is read as none."""
    p = tmp_path / "e.db"
    with Store.open(p) as store:
        store.mark_delivered(store.enqueue_delivery(stored_alert(store).alert_id, "http://127.0.0.1:9/hook"))
    conn = sqlite3.connect(p)
    conn.execute("ALTER TABLE deliveries DROP COLUMN posted_by")
    conn.commit()
    conn.close()
    with Store.open_readonly(p) as store:
        assert [(d.status, d.posted_by) for d in store.deliveries()] == [("delivered", None)]
    with Store.open(p) as store:
        assert [(d.status, d.posted_by) for d in store.deliveries()] == [("delivered", None)]
        store.mark_delivered(store.enqueue_delivery(stored_alert(store).alert_id, "http://127.0.0.1:9/hook"),
                             "unopened-5e1f")
        assert [d.posted_by for d in store.deliveries()] == [None, "unopened-5e1f"]
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_an_alert_moved_to_a_new_url_where_it_has_a_row_already_keeps_the_id_it_was_posted_under(db):
    """The webhook URL changed (the same supervisor): an alert pending for the old URL under the id it
    was posted from memory with, given up at the new one before, is posted there again under that id."""
    with Store.open(db) as store:
        call = store.start_call("live:caller=softphone.monitor", 1000.0)
        raised = store.add_alert(call, alert(5.0, "possible_emergency", "critical"))
        memory_id = (1 << 62) + 7
        store.enqueue_delivery(raised.alert_id, "http://127.0.0.1:9/old", posted_id=memory_id)
        store.mark_failed(store.enqueue_delivery(raised.alert_id, "http://127.0.0.1:9/new"), None, "HTTP 503")
        assert store.retarget_pending("http://127.0.0.1:9/new") == 1
        assert [(d.target, d.status, d.posts_as) for d in store.deliveries()] == [
            ("http://127.0.0.1:9/old", "failed", memory_id), ("http://127.0.0.1:9/new", "pending", memory_id)]


V4_SCHEMA = V3_SCHEMA.replace("PRAGMA user_version = 3", """ALTER TABLE deliveries ADD COLUMN posted_id INTEGER;
    PRAGMA user_version = 4""")
"""A database as the version 4 releases left it: a call, its alert, delivered to a webhook."""


def test_a_version_4_database_is_migrated_in_place_keeps_its_records_and_then_keeps_acknowledgements(tmp_path):
    """Version 5 keeps the supervisors' acknowledgements: a version 4 database read as it is has none
    (and is left as it is); once opened it gains the table, its calls, alerts and outbox rows kept."""
    p = tmp_path / "v4.db"
    conn = sqlite3.connect(p)
    conn.executescript(V4_SCHEMA)
    conn.close()
    with Store.open_readonly(p) as store:  # read as it is, before any migration
        assert store.acks_of([1]) == {} and [d.alert_id for d in store.deliveries()] == [1]
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == 4
    with Store.open(p) as store:
        assert [c.source for c in store.list_calls()] == ["/calls/old.wav"]
        assert [a.event.kind for a in store.list_alerts()] == ["slow_speech"]
        assert [(d.alert_id, d.status) for d in store.deliveries()] == [(1, "delivered")]
        assert store.acks_of([1]) == {}
        assert store.add_ack(1, 1, "Dana", 1050.0)
    with Store.open_readonly(p) as store:
        assert store.acks_of([1]) == {1: Ack("Dana", 1050.0)}
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6


@pytest.mark.parametrize("older, version, table, extra", [
    ("V3_SCHEMA", 3, "deliveries", "ALTER TABLE deliveries ADD COLUMN posted_id INTEGER"),
    ("V4_SCHEMA", 4, "alert_acks", "CREATE TABLE alert_acks (alert_id INTEGER PRIMARY KEY)"),
], ids=["v3 outbox with posted_id", "v4 with alert_acks"])
def test_a_database_holding_the_next_versions_column_or_table_is_refused_as_damaged_and_left_as_it_was(
        tmp_path, older, version, table, extra):
    p = tmp_path / "odd.db"
    conn = sqlite3.connect(p)
    conn.executescript(globals()[older] + "; " + extra)
    conn.close()
    with pytest.raises(StoreError, match=f"damaged callmonitor database .schema version {version} with a version "
                                         f"{version + 1} {table}"):
        Store.open(p)
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == version


def test_a_version_5_database_without_the_acknowledgements_table_is_refused_as_damaged(db):
    with Store.open(db):
        pass
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE alert_acks")
    conn.close()
    with pytest.raises(StoreError, match=r"damaged callmonitor database \(missing tables: alert_acks\)"):
        Store.open_readonly(db)


def test_an_acknowledgement_is_kept_under_the_id_the_console_knows_and_the_first_one_stands(db):
    """The console names an alert by the id it was posted under: the database's, or (posted from
    memory while the database failed) the outbox row's ``posted_id``, which may be written after the
    acknowledgement came; either way it is the alert's. A second acknowledgement (a console
    restarted tells it again, another supervisor) leaves the first."""
    memory_id = (1 << 62) + (1 << 59) + 12345
    with Store.open(db) as store:
        call = store.start_call("live:caller=softphone.monitor", 1000.0)
        own, posted, unacked = (store.add_alert(call, alert(t)) for t in (5.0, 6.0, 7.0))
        store.enqueue_delivery(own.alert_id, "http://127.0.0.1:9/webhook")
        assert store.add_ack(own.alert_id, call, "Dana", 1010.0)
        assert not store.add_ack(own.alert_id, call, "Eve", 1011.0)
        assert store.add_ack(memory_id, None, "Eve", 1012.0)
        assert store.acks_of([posted.alert_id]) == {}  # its outbox row is not written yet
        store.enqueue_delivery(posted.alert_id, "http://127.0.0.1:9/webhook", posted_id=memory_id)
    with Store.open_readonly(db) as store:
        assert store.acks_of([own.alert_id, posted.alert_id, unacked.alert_id]) == {
            own.alert_id: Ack("Dana", 1010.0), posted.alert_id: Ack("Eve", 1012.0)}


def test_a_purge_deletes_the_acknowledgements_of_the_calls_it_deletes_and_keeps_the_others(db):
    """With their call go its alerts' acknowledgements, by their own id or the id they were posted
    under, and one of no alert in the database (posted from memory, never written) acknowledged
    before the cutoff; a kept call's stay."""
    with Store.open(db) as store:
        old_call, old_alert, _ = ended_call_with_a_critical(store, "live:old")
        old_posted = store.add_alert(old_call, alert(50.0, "possible_emergency", "critical")).alert_id
        store.enqueue_delivery(old_posted, "http://127.0.0.1:9/webhook", posted_id=(1 << 62) + 1)
        kept = store.start_call("live:recent", 5000.0)
        recent = store.add_alert(kept, alert(5.0, "possible_emergency", "critical")).alert_id
        for alert_id, call_id, at in ((old_alert, old_call, 1050.0), ((1 << 62) + 1, old_call, 1051.0),
                                      ((1 << 62) + 2, None, 1052.0), ((1 << 62) + 3, None, 5010.0),
                                      (recent, kept, 5011.0)):
            assert store.add_ack(alert_id, call_id, "Dana", at)
        assert store.purge(2000.0)["alert_acks"] == 3
        assert store.acks_of([recent]) == {recent: Ack("Dana", 5011.0)}
    left = sqlite3.connect(db).execute("SELECT alert_id FROM alert_acks ORDER BY alert_id").fetchall()
    assert left == [(recent,), ((1 << 62) + 3,)]


AGENT_WRITER = """
import sys
from monitor.delivery.store import Store
print("ready", flush=True)
sys.stdin.readline()
with Store.open(sys.argv[1]) as store:
    store.start_call("live:caller=softphone.monitor", 3000.0, {"caller": 0}, agent=sys.argv[2])
"""
"""A daemon of this release starting on a database: it opens it (adding ``calls.agent`` when it
lacks it) and keeps a live call with its agent, once a line on its stdin says go (it says when it
is ready for that)."""


def test_daemons_starting_together_on_a_version_3_database_add_the_agent_column_once_and_each_keeps_its_call(
        tmp_path):
    """The database as the release before made it (in WAL mode, without the column)."""
    p = tmp_path / "v3.db"
    conn = sqlite3.connect(p)
    conn.executescript("PRAGMA journal_mode = WAL;" + V2_SCHEMA.replace(
        "PRAGMA user_version = 2", "ALTER TABLE calls ADD COLUMN channels TEXT; PRAGMA user_version = 3"))
    conn.close()
    names = [f"agent {i}" for i in range(4)]
    daemons = [subprocess.Popen([sys.executable, "-c", AGENT_WRITER, str(p), name], cwd=ROOT, text=True,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name in names]
    assert [d.stdout.readline() for d in daemons] == ["ready\n"] * len(names)
    for d in daemons:  # all at once: each opens the database while the others do
        d.stdin.write("go\n")
        d.stdin.flush()
    outcomes = [d.communicate(timeout=60) for d in daemons]
    assert [d.returncode for d in daemons] == [0] * len(names), outcomes
    with Store.open_readonly(p) as store:
        assert sorted(c.agent for c in store.list_calls() if c.agent) == names
    columns = [r[1] for r in sqlite3.connect(p).execute("PRAGMA table_info(calls)")]
    assert columns.count("agent") == 1 and columns[-1] == "agent"


def test_a_damaged_first_release_database_is_refused_and_left_as_it_was(tmp_path):
    p = tmp_path / "odd.db"
    with Store.open(p):
        pass
    conn = sqlite3.connect(p)  # a version 2 layout that claims to be version 1
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="damaged callmonitor database"):
        Store.open(p)
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_calls_duration_is_stored_to_the_millisecond_without_float_noise(db):
    """A live call's duration, a sum of its chunks' seconds, came as 60.800000000000004: it is kept
    to the millisecond, as the other times of a call are."""
    with Store.open(db) as store:
        call = store.start_call("live:caller=softphone.monitor", 1000.0)
        store.end_call(call, 0.1 * 608, ended_at=1060.8)
        other = store.start_call("live:caller=softphone.monitor", 2000.0)
        store.end_call(other, 5.190188, ended_at=2005.19)
    with Store.open(db) as store:
        assert store.get_call(call).duration_s == 60.8
        assert store.get_call(other).duration_s == 5.19
    assert [r[0] for r in sqlite3.connect(db).execute("SELECT duration_s FROM calls ORDER BY id")] == [60.8, 5.19]


def ended_call_with_a_critical(store: Store, source: str, webhook: str = "http://127.0.0.1:9/webhook") -> tuple[int, int, int]:
    """A call that ended with a critical alert queued for ``webhook``: its (call, alert, delivery) ids."""
    call = store.start_call(source, 1000.0)
    raised = store.add_alert(call, alert(40.0, "possible_emergency", "critical"))
    delivery = store.enqueue_delivery(raised.alert_id, webhook)
    store.end_call(call, 60.0, ended_at=1060.0)
    return call, raised.alert_id, delivery


def test_a_purge_that_deletes_every_call_gives_none_of_their_ids_again(db):
    """Call ids name the daemon's call files and reports, alert ids key the supervisor console's
    alerts, delivery ids go out with each post: after a purge, however many rows it deleted, a new
    call, alert and delivery each take an id above every one given before."""
    with Store.open(db) as store:
        before = [ended_call_with_a_critical(store, f"live:call {i}") for i in range(3)]
        assert store.purge(2000.0)["calls"] == 3 and store.list_calls() == []
    with Store.open(db) as store:  # and opened again: the ids are kept in the database
        after = ended_call_with_a_critical(store, "live:after the purge")
    assert all(new > max(old) for new, old in zip(after, zip(*before))), (before, after)


def test_a_purged_calls_words_are_gone_from_the_files_bytes_not_only_from_its_tables(db):
    """A purge overwrites what it deletes (SQLite's secure_delete): the words of a purged call are
    nowhere in the database file or its write-ahead log, while a kept call's are."""
    with Store.open(db) as store:
        for source, started, said in (("old", 1000.0, "PURGED-WORDS"), ("new", 5000.0, "KEPT-WORDS")):
            call = store.start_call(source, started)
            for i in range(40):
                store.add_words(call, WordsEvent(t=float(i), final=True, text=f"{said} {i} the caller said"))
            store.end_call(call, 60.0, ended_at=started + 60)
        assert store.purge(2000.0)["transcript"] == 40
        kept = b"".join(path.read_bytes() for path in db.parent.glob(db.name + "*"))
    assert b"PURGED-WORDS" not in kept and b"KEPT-WORDS" in kept


def test_a_purge_of_the_highest_ids_gives_none_of_them_again(db):
    """SQLite gives the highest id left plus one: a purge of the newest alert's call (its other
    calls without alerts kept) would give that alert's id again."""
    with Store.open(db) as store:
        _, raised, _ = ended_call_with_a_critical(store, "live:old")
        kept = store.start_call("live:recent", 5000.0)
        assert store.purge(2000.0)["alerts"] == 1
        again = store.add_alert(kept, alert(5.0, "possible_emergency", "critical"))
        assert again.alert_id > raised


PREVIOUS_SCHEMA = "\n".join(line for line in re.sub(r"CREATE TABLE alert_(acks|words) \(.*?\);", "", store_schema._SCHEMA,
                                                   flags=re.S).replace(" AUTOINCREMENT", "").splitlines()
                            if "posted_id" not in line)
"""The tables as the version 3 releases before made them: the same, whose ids SQLite gave again after a
purge, without the outbox's ``posted_id`` (schema version 4) and the acknowledgements (version 5)."""


def test_a_database_made_before_keeps_its_records_and_gives_no_id_twice_once_opened(tmp_path):
    """A database an earlier release made (schema version 3, the agent column) is made to keep its
    ids when opened: its rows, ids, indexes and columns (in their order, which older releases read
    by position) stay, its version too, and the ids go on above the highest there; an older
    release writing to it (rows inserted without ids) gets higher ones too. Ids a purge deleted
    before that may have come back: the database takes a new daemon id, which the supervisor
    console keys alerts by."""
    p = tmp_path / "earlier.db"
    conn = sqlite3.connect(p)
    conn.executescript(PREVIOUS_SCHEMA + """;
        INSERT INTO calls (id, started_at, source, ended_at, duration_s) VALUES (7, 1000.0, 'live:a', 1060.0, 60.0);
        INSERT INTO alerts VALUES (11, 7, 40.0, 'possible_emergency', 'critical', 'Possible emergency', '{}', '[]', 1040.0);
        INSERT INTO deliveries (id, alert_id, target, next_attempt_at, created_at) VALUES (3, 11, 'http://h/webhook', 0, 0);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('instance_id', 'the-daemon-before');
        PRAGMA user_version = 3;""")
    conn.close()
    columns = {t: [r[1] for r in sqlite3.connect(p).execute(f"PRAGMA table_info({t})")] for t in ("calls", "alerts")}
    with Store.open(p) as store:
        assert [(c.id, c.source) for c in store.list_calls()] == [(7, "live:a")]
        assert [(d.id, d.alert_id, d.alert.kind) for d in store.deliveries()] == [(3, 11, "possible_emergency")]
        assert store.instance_id() != "the-daemon-before"
        assert store.purge(2000.0)["calls"] == 1
        call, raised, delivery = ended_call_with_a_critical(store, "live:b")
        assert call > 7 and raised > 11 and delivery > 3
        daemon_id = store.instance_id()
        assert store.purge(2000.0)["calls"] == 1
    conn = sqlite3.connect(p)
    conn.execute("INSERT INTO calls (started_at, source) VALUES (3000.0, 'live:an older release')")
    conn.commit()
    assert conn.execute("SELECT max(id) FROM calls").fetchone()[0] == call + 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in columns} == columns
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    assert {"alerts_call", "alerts_created", "deliveries_due", "cue_snapshots_call", "transcript_call"} <= indexes
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    with Store.open(p) as store:  # opened again: nothing more to do, the daemon id kept
        assert store.instance_id() == daemon_id


def test_a_database_copied_to_another_machine_and_read_there_gives_the_id_it_posted_under_on_the_first(tmp_path):
    """``alerts --jsonl`` of a database copied to another machine (to look into a desktop's alerts):
    its alerts went under the id made on the machine it came from, which it holds, so that is the id
    it is read to post under, until a daemon there makes the copy's own."""
    with Store.open(tmp_path / "e.db") as store:
        first = store.instance_id("desk-7")
    with Store.open_readonly(tmp_path / "e.db") as store:
        assert (store.posting_id("desk-7"), store.posting_id("laptop")) == (first, first)
    with Store.open(tmp_path / "e.db") as store:
        own = store.instance_id("laptop")
        assert own != first and (store.posting_id("laptop"), store.posting_id("desk-7")) == (own, first)
    with Store.open(tmp_path / "fresh.db") as store:
        assert store.posting_id("laptop") is None  # no id made: nothing was posted from it


def test_the_daemon_id_is_bound_to_its_machine_so_a_database_copied_to_another_takes_its_own(tmp_path, monitor_logs):
    """A desktop image cloned with its database: on the machine the id was made on, the daemon keeps
    it through restarts; on another (another machine id) the copy takes an id of its own, said in one
    info line naming the file, and keeps that one. A database of an earlier release, which bound its
    id to no machine, keeps its id where it is (an upgrade; the console's history stays one agent),
    bound to that machine from then on. An id a console refused is made anew on that machine alone,
    once however many posts were refused under it."""
    import shutil
    desk1 = tmp_path / "desk1.db"
    with Store.open(desk1) as store:
        first = store.instance_id(machine="desk-1")
    with Store.open(desk1) as store:
        assert store.instance_id(machine="desk-1") == first
    desk2 = tmp_path / "desk2.db"
    shutil.copy(desk1, desk2)
    with Store.open(desk2) as store:
        second = store.instance_id(machine="desk-2")
        assert second != first and store.instance_id(machine="desk-2") == second
    said = [(lvl, m) for lvl, m in monitor_logs if "made on another machine" in m]
    assert said == [("info", f"{desk2}: this database's daemon id was made on another machine (a copied desktop image "
                             f"or database): on this one the daemon posts to the supervisor as a new daemon, {second}")]
    with Store.open(desk1) as store:
        assert store.instance_id(machine="desk-1") == first

    earlier = tmp_path / "earlier.db"
    with Store.open(earlier) as store:
        kept = store.instance_id(machine="desk-3")
    with sqlite3.connect(earlier) as conn:  # as a release before ids were bound left it
        conn.execute("DELETE FROM meta WHERE key = 'instance_machine'")
    with Store.open(earlier) as store:
        assert store.instance_id(machine="desk-4") == kept  # upgraded where it is: the same daemon
        assert store.instance_id(machine="desk-5") != kept  # and bound to that machine from then on

    with Store.open(desk2) as store:
        renewed = store.renew_instance_id(second, machine="desk-2")
        assert renewed not in (first, second) and store.instance_id(machine="desk-2") == renewed
        assert store.renew_instance_id(second, machine="desk-2") == renewed  # refused again: made anew once
        assert store.instance_id(machine="desk-1") == first


def test_this_machine_is_a_hash_of_its_machine_id_never_the_id_itself(tmp_path):
    from monitor.delivery.store_schema import this_machine
    empty, made = tmp_path / "empty", tmp_path / "machine-id"
    empty.write_text("\n")
    made.write_text("3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    seen = this_machine((str(tmp_path / "none"), str(empty), str(made)))
    assert len(seen) == 32 and "3d1219c7" not in seen and seen == this_machine((str(made),))
    assert this_machine((str(tmp_path / "none"), str(empty))) == ""


def test_cue_snapshots_are_downsampled_per_channel_and_the_pace_is_forgotten_when_the_call_ends(db):
    """... so that a daemon running through thousands of calls keeps nothing in memory per call."""
    with Store.open(db, snapshot_every_s=5.0) as store:
        call = store.start_call("dev", 0.0)
        kept = [store.add_cues(call, CuesEvent(t=float(t), channel=ch, speech_rate_sps=3.0,
                                               hnr_db=None))
                for t in range(1, 21) for ch in ("caller", "agent")]
        assert sum(kept) == 8  # t = 1, 6, 11, 16 on each channel
        snaps = store.cue_snapshots(call, "caller")
        assert [s.t for s in snaps] == [1.0, 6.0, 11.0, 16.0]
        assert snaps[0].speech_rate_sps == 3.0 and snaps[0].hnr_db is None
        store.end_call(call, 20.0)
        assert store._last_snapshot == {}


def test_transcript_keeps_final_results_in_time_order(db):
    words = (Word("my", 10.0, 10.2, 0.9), Word("chest", 10.3, 10.7, 0.8))
    with Store.open(db) as store:
        call = store.start_call("dev", 0.0)
        assert not store.add_words(call, WordsEvent(t=9.0, words=words[:1], text="my"))
        assert store.add_words(call, WordsEvent(t=11.0, final=True, words=words,
                                                text="my chest"))
        store.add_words(call, WordsEvent(t=4.0, channel="agent", final=True,
                                         words=(Word("hello", 3.0, 3.4, 1.0),), text="hello"))
    with Store.open(db) as store:
        lines = store.transcript(call)
        assert [(w.channel, w.text) for w in lines] == [("agent", "hello"),
                                                        ("caller", "my chest")]
        assert lines[1].words == words and lines[1].final


def test_outbox_survives_reopen_until_delivered(db):
    with Store.open(db, clock=lambda: 100.0) as store:
        call = store.start_call("dev", 0.0)
        a = store.add_alert(call, alert(30.0, "possible_emergency", "critical"))
        d = store.enqueue_delivery(a.alert_id, "http://127.0.0.1:9/hook")
        assert store.enqueue_delivery(a.alert_id, "http://127.0.0.1:9/hook") == d  # idempotent
        [due] = store.due_deliveries(now=100.0)
        store.mark_failed(due.id, next_attempt_at=160.0, error="connection refused")
        assert store.due_deliveries(now=150.0) == []

    with Store.open(db) as store:  # "after a restart"
        [due] = store.due_deliveries(now=160.0)
        assert due.alert == a and due.attempts == 1 and due.last_error == "connection refused"
        store.mark_delivered(due.id)
        assert store.due_deliveries(now=10_000.0) == []
        [done] = store.deliveries("delivered")
        assert done.attempts == 2 and done.last_error is None


def test_a_delivery_can_be_given_up(db):
    with Store.open(db) as store:
        call = store.start_call("dev", 0.0)
        a = store.add_alert(call, alert(1.0))
        d = store.enqueue_delivery(a.alert_id, "http://x/", next_attempt_at=0.0)
        store.mark_failed(d, None, "HTTP 410")
        assert store.due_deliveries(now=1e12) == []
        assert [x.status for x in store.deliveries()] == ["failed"]


def test_readers_in_other_threads_see_committed_alerts(db):
    with Store.open(db) as store:
        call = store.start_call("dev", 0.0)
        seen: list[list[int]] = [[], []]

        def reader(mine: list[int]) -> None:
            for _ in range(50):
                mine.append(len(store.list_alerts(call_id=call)))

        threads = [threading.Thread(target=reader, args=(mine,)) for mine in seen]
        for th in threads:
            th.start()
        for i in range(50):
            store.add_alert(call, alert(float(i)))
            store.add_cues(call, CuesEvent(t=float(i) * 10, speech_rate_sps=3.0))
        for th in threads:
            th.join()
        assert len(store.list_alerts(call_id=call)) == 50
        for mine in seen:  # each reader sees the count only grow (what it saw stays committed)
            assert mine == sorted(mine)


def test_another_process_reads_while_the_writer_is_open(db):
    with Store.open(db) as store:
        call = store.start_call("dev", 0.0)
        store.add_alert(call, alert(3.0))
        with Store.open(db) as reader:
            assert len(reader.list_alerts()) == 1


def beside(db: Path) -> list[str]:
    """The files in the database's folder."""
    return sorted(p.name for p in db.parent.iterdir())


def test_reading_only_creates_nothing_beside_the_database_and_sees_what_a_running_writer_stored(db):
    with Store.open(db) as store:
        store.add_alert(store.start_call("dev", 0.0), alert(3.0))
    assert beside(db) == ["events.db"]  # the writer, closed, took its -wal and -shm away
    with Store.open_readonly(db) as reader:
        assert len(reader.list_alerts()) == 1
    assert call_monitor("alerts", "--db", db, timeout=60).returncode == 0
    assert beside(db) == ["events.db"]  # a reader makes no -wal or -shm, which only a writer removes
    with Store.open(db) as writer:
        writer.add_alert(1, alert(9.0))  # in the writer's -wal, not yet in the database file
        with Store.open_readonly(db) as reader:
            assert [a.event.t for a in reader.list_alerts()] == [3.0, 9.0]


STARTING_WRITER = """
import sys
from monitor.delivery.store import Store
store = Store.open(sys.argv[1])
for i in range(int(sys.argv[2])):
    store.start_call(f"/calls/{i}.wav", 2000.0 + i, {"caller": 1, "agent": 0})
store.flush()
print("written", flush=True)
sys.stdin.readline()
store.close()
"""
"""A daemon's start, as the database sees it: a process opens it, writes calls into its -wal, and
when told (a line on its stdin) closes, checkpointing them into the file and removing the -wal."""


def start_writer(db: Path, calls: int) -> subprocess.Popen:
    """:data:`STARTING_WRITER` on ``db``, once it has written ``calls`` calls into its -wal."""
    writer = subprocess.Popen([sys.executable, "-c", STARTING_WRITER, str(db), str(calls)], cwd=ROOT, text=True,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    assert writer.stdout.readline() == "written\n"
    return writer


def test_a_reader_opened_with_no_writer_reads_afresh_after_a_writer_came_and_went_between_two_reads(db):
    """A reader opened while no writer has the database reads it as an immutable file (creating
    nothing beside it), where SQLite looks for no change: a writer that starts, writes 300 calls
    and stops between two of its reads rewrote the file under it (its checkpoint). The second read
    sees the file as it is now, not a stale or torn one."""
    with Store.open(db) as store:
        store.start_call("/calls/first.wav", 1000.0)
    with Store.open_readonly(db) as reader:
        assert [c.source for c in reader.list_calls()] == ["/calls/first.wav"]
        start_writer(db, 300).communicate("close\n", timeout=60)
        assert beside(db) == ["events.db"]  # the writer checkpointed into the file and went
        calls = reader.list_calls()
        assert len(calls) == 301 and calls[0].source == "/calls/299.wav"
    assert beside(db) == ["events.db"]


def test_a_reader_opened_with_no_writer_reads_a_writer_that_came_since_through_its_wal(db):
    """A writer that started after the reader opened the database (its -wal appeared) is read
    under SQLite's locks, its -wal with it, from the reader's next read on."""
    with Store.open(db) as store:
        store.start_call("/calls/first.wav", 1000.0)
    with Store.open_readonly(db) as reader:
        assert len(reader.list_calls()) == 1
        writer = start_writer(db, 100)
        try:
            assert len(reader.list_calls()) == 101
            assert len(reader.list_calls()) == 101
        finally:
            writer.communicate("close\n", timeout=60)
    with Store.open(db) as store:
        assert len(store.list_calls()) == 101


def test_a_reader_through_a_symlink_finds_the_running_writers_wal_beside_the_real_file(db, tmp_path):
    """SQLite keeps a database's -wal beside the file a symlink points to, not beside the link: a
    reader given the link (a database linked into another folder) reads a running writer's calls
    from that -wal, and one that opened before the writer came reads them from its next read on."""
    with Store.open(db) as store:
        store.start_call("/calls/first.wav", 1000.0)
    link = tmp_path / "elsewhere" / "events.db"
    link.parent.mkdir()
    link.symlink_to(db)
    with Store.open_readonly(link) as early:
        assert len(early.list_calls()) == 1
        writer = start_writer(link, 10)
        try:
            with Store.open_readonly(link) as late:
                assert len(late.list_calls()) == 11
            assert len(early.list_calls()) == 11
        finally:
            writer.communicate("close\n", timeout=60)
    assert beside(link) == ["events.db"]


def test_reading_a_rollback_journal_database_only_creates_nothing_beside_it(tmp_path):
    p = tmp_path / "v2.db"
    conn = sqlite3.connect(p)
    conn.executescript(V2_SCHEMA)
    conn.close()
    with Store.open_readonly(p) as store:
        assert len(store.list_calls()) == 1
    assert beside(p) == ["v2.db"]


@pytest.mark.parametrize("setup, message", [
    (lambda p: p.mkdir(parents=True), "is a directory"),
    (lambda p: (p.parent.mkdir(parents=True), p.write_bytes(b"RIFF....WAVEfmt " * 200)),
     "not a callmonitor database (file is not a database)"),
    (lambda p: (p.parent.mkdir(parents=True),
                sqlite3.connect(p).execute("CREATE TABLE songs (x)").connection.commit()),
     "not a callmonitor database (it holds other tables: songs)"),
    (lambda p: (p.parent.mkdir(parents=True),
                sqlite3.connect(p).execute("PRAGMA user_version = 99").connection.commit()),
     f"schema version 99 is newer than this callmonitor understands ({SCHEMA_VERSION}); upgrade call-monitor"),
])
def test_unusable_files_give_one_clear_line(db, setup, message):
    setup(db)
    with pytest.raises(StoreError) as err:
        Store.open(db)
    assert str(err.value).startswith(f"{db}: ") and message in str(err.value), str(err.value)


@pytest.mark.parametrize("command", [["alerts"], ["purge"], ["report", "1", "-o", "r.html"]])
@pytest.mark.parametrize("content", [b"RIFF....WAVEfmt " * 200, b"hello there\n"], ids=["a recording", "a note"])
def test_a_file_that_is_no_database_is_said_so_alike_by_every_command_that_reads_one(tmp_path, command, content):
    """A recording or a text file given as --db is no database (not a damaged one), in the words of
    a command that writes one; one line, exit 2, the file left as it was."""
    given = tmp_path / "call.wav"
    given.write_bytes(content)
    r = call_monitor(*command, "--db", given, cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    assert r.stderr == f"call-monitor: error: {given}: not a callmonitor database (file is not a database)\n"
    assert given.read_bytes() == content and sorted(os.listdir(tmp_path)) == ["call.wav"]


@pytest.mark.parametrize("command, before, after", [
    (["alerts"], "", ""), (["alerts", "--outcomes"], "", ""), (["purge"], "", ": nothing to purge"),
    (["outcome", "last", "handled"], "outcome: ", ", and no daemon answers: nothing kept"),
    (["report", "1", "-o", "r.html"], "", "")], ids=["alerts", "alerts --outcomes", "purge", "outcome", "report"])
@pytest.mark.parametrize("where", ["a database there", "none there, a folder further in", "a link to one there"])
def test_a_database_behind_a_folder_the_user_may_not_enter_is_said_so_alike_by_every_command_that_reads_one(
        tmp_path, command, before, after, where):
    """A database in a folder this user may not enter (another user's home, one made mode 000):
    whether one is there cannot be told (its stat is refused), so every command that reads one
    says that, in one line naming the file (a link to it: the link) and the folder, exit 2, whether
    one is there or not:
    not a traceback (alerts) nor "no database there" (purge, outcome, report), and nothing made."""
    shut = tmp_path / "shut"
    (shut / "calls").mkdir(parents=True)
    if where == "none there, a folder further in":
        db = shut / "calls" / "events.db"
    else:
        db = shut / "events.db"
        with Store.open(db) as store:
            store.start_call("call.wav", 1000.0)
    if where == "a link to one there":
        (tmp_path / "events.db").symlink_to(db)
        db = tmp_path / "events.db"
    files = sorted(os.listdir(shut))
    shut.chmod(0)
    try:
        r = call_monitor(*command, "--db", db, cwd=tmp_path, timeout=60, permissions_bind=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path),
                                  XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_RUNTIME_DIR=str(tmp_path / "run")))
    finally:
        shut.chmod(0o700)
    said = f"{db}: cannot reach the database (the folder {shut} cannot be entered: permission denied)"
    assert (r.returncode, r.stdout) == (2, ""), r.stderr
    assert r.stderr == f"call-monitor: error: {before}{said}{after}\n"
    assert sorted(os.listdir(shut)) == files and not (tmp_path / "r.html").exists()


def test_a_private_database_whose_wal_and_shm_others_may_read_is_said_with_the_fix_of_those_alone(tmp_path):
    """SQLite makes a database's -wal and -shm with the database file's mode, and its writer keeps
    them, mode and all, while it runs (a writer killed leaves them to the next): a database of mode
    0644 made private while its writer runs is private in its file alone. The line says so of the
    -wal, and its fix names the two files; run, nothing is left to say."""
    db = tmp_path / "events.db"
    Store.open(db).close()
    db.chmod(0o644)
    with Store.open(db) as store:
        store.start_call("call.wav", 1000.0)
        db.chmod(0o600)
        said = others_may_read_database(db, "the database")
        assert said == (f"{db}: the database may be read by every user ({db}-wal: mode 0644); make it private: "
                        f"chmod 600 {db}-wal {db}-shm")
        subprocess.run(said.split("; make it private: ")[1].split(), check=True)
        assert others_may_read_database(db, "the database") is None
        store.start_call("call.wav", 1001.0)


def test_a_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match=r"file/events.db: cannot open the database"):
        Store.open(tmp_path / "file" / "events.db")


def test_an_unwritable_directory_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code = ("import sys\nfrom monitor.delivery.store import Store\n"
            "from monitor.delivery.store_errors import StoreError\n"
            "try: Store.open(sys.argv[1])\nexcept StoreError as e: sys.exit(str(e))")
    r = subprocess.run([*PERMISSIONS_BIND, sys.executable, "-c", code, str(locked / "events.db")], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip() == f"{locked / 'events.db'}: cannot create or write the database (permission denied)"


WRITER = textwrap.dedent("""
    import sys
    from monitor.events import AlertEvent, CuesEvent
    from monitor.delivery.store import Store
    store = Store.open(sys.argv[1])
    call = store.start_call("live", 0.0)
    i = 0
    while True:
        i += 1
        store.add_cues(call, CuesEvent(t=float(i), speech_rate_sps=3.0))
        a = store.add_alert(call, AlertEvent(t=float(i), kind="slow_speech",
                                             severity="warning", message=str(i)))
        print(a.alert_id, flush=True)
""")


def test_committed_alerts_survive_sigkill(db):
    """A real writer process is killed mid-call; every alert it reported is on disk."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    reported = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            reported.append(int(line))
            if len(reported) >= 200:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL and len(reported) == 200
    with Store.open(db) as store:
        stored = {a.event.alert_id for a in store.list_alerts()}
        assert set(reported) <= stored
        assert [a.event.message for a in store.list_alerts()][:200] == [
            str(i) for i in range(1, 201)]


def test_a_reader_opened_with_no_writer_finds_a_ledger_table_written_since_in_its_calls_tables(db):
    """Whether another table (a batch's ledger) holds a row of a call is read as every other read
    of a reader opened with no writer: afresh when a writer came and went since, so a ledger table
    that writer made is found, not the file's tables as they were when the reader opened it."""
    with Store.open(db) as store:
        call = store.start_call("/calls/first.wav", 1000.0)
    with Store.open_readonly(db) as reader:
        assert not reader.in_other_tables(call)
        writer = sqlite3.connect(db)
        writer.execute("CREATE TABLE scored (call_id INTEGER NOT NULL REFERENCES calls(id))")
        writer.execute("INSERT INTO scored (call_id) VALUES (?)", (call,))
        writer.commit()
        writer.close()
        assert beside(db) == ["events.db"]  # the writer checkpointed into the file and went
        assert reader.in_other_tables(call)


def test_a_snapshot_batched_just_after_a_commit_is_committed_within_a_second_with_no_later_write(db):
    """The module's promise, "committed at most a second later": a snapshot written just after a
    commit (the call's row) waited for the next write, a snapshot interval later, holding the
    database's write lock the while (another program's write waited out its busy timeout) and out of
    a crash's reach. The pipeline asks ``commit_due`` of every chunk."""
    with Store.open(db) as store:
        other = sqlite3.connect(db, isolation_level=None, timeout=0)
        call = store.start_call("a.wav")
        store.add_cues(call, CuesEvent(t=5.0, speech_rate_sps=3.0))
        store.commit_due()  # not a second yet: still batched
        assert other.execute("SELECT COUNT(*) FROM cue_snapshots").fetchone()[0] == 0
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        time.sleep(Store.COMMIT_EVERY_S + 0.05)
        store.commit_due()
        assert other.execute("SELECT COUNT(*) FROM cue_snapshots").fetchone()[0] == 1
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    other.close()
