"""The console's limits: at most ``supervisor.max_connections`` connections served at once, and each
agent's posts of a kind no faster than ``agent_posts_per_s`` past ``agent_post_burst``; a daemon
refused for posting too fast keeps its alert and delivers it once the console's ``Retry-After`` is over.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import pytest

from conftest import wait_for
from console_proc import ConsoleProcess, alert_body

from monitor.supervisor.limits import MAX_BUCKETS, PostLimits


def _console(tmp: Path, settings: str) -> ConsoleProcess:
    config = tmp / "console.toml"
    config.write_text(f"[supervisor]\n{settings}", encoding="utf-8")
    return ConsoleProcess(tmp / "console", extra=("--config", str(config)))


@pytest.fixture(scope="module")
def limited_console(tmp_path_factory):
    """A real console taking 2 posts of each kind at once from each agent, then one a second (its
    tests post as agents of their own)."""
    console = _console(tmp_path_factory.mktemp("limited"), "agent_posts_per_s = 1\nagent_post_burst = 2\n")
    yield console
    console.kill()


def _event_stream(console: ConsoleProcess) -> http.client.HTTPConnection:
    """A page's event stream held open, as a browser's (its first event read)."""
    con = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    con.request("GET", "/events", headers={"Authorization": f"Bearer {console.token}"})
    answer = con.getresponse()
    assert answer.status == 200
    assert answer.readline() == b"retry: 1000\n"
    return con


def test_a_connection_past_max_connections_is_answered_503_and_one_is_served_again_once_another_closes(tmp_path):
    console = _console(tmp_path, "max_connections = 2\n")
    streams = [_event_stream(console), _event_stream(console)]
    try:
        status, headers, said = console.exchange("GET", "/api/state")
        assert (status, headers["Retry-After"]) == (503, "1"), said  # a daemon posts again then, no attempt lost
        assert (headers["Content-Type"], json.loads(said)) == (  # as the console's other refusals, for a daemon to say
            "application/json", {"error": "this console serves at most 2 connections at once "
                                          "(supervisor.max_connections): try again in 1 s"})
        assert console.request("GET", "/api/state")[0] == 503  # said once, not once a connection
        streams.pop().close()  # a page closed
        assert wait_for(lambda: console.request("GET", "/api/state")[0] == 200, 30)
        said = ("call-monitor: warning: a connection from 127.0.0.1 came with 2 open, supervisor.max_connections: its "
                "request is answered 503 unless one closes first (said again at most every 60 s)")
        assert wait_for(lambda: [line for line in console.err if "max_connections" in line] == [said], 30), console.err
        assert [line for line in console.err if "warning" in line.lower()] == [said]  # uvicorn's own line a request neither
    finally:
        for con in streams:
            con.close()
        console.kill()


def test_an_agent_posting_faster_than_its_rate_gets_429_with_retry_after_and_another_agent_is_unaffected(tmp_path):
    """Its bucket refills one post in 100 s, so that however slow the machine the posts past its
    burst find it empty, and Retry-After says the seconds left of those 100."""
    console = _console(tmp_path, "agent_posts_per_s = 0.01\nagent_post_burst = 2\n")
    try:
        for alert_id in (1, 2):
            assert console.post(alert_body(alert_id, agent="alice", daemon_id="d-alice"))[0] == 201
        for alert_id in (3, 4, 5):  # past the burst
            status, headers, said = console.exchange("POST", "/webhook", json.dumps(
                alert_body(alert_id, agent="alice", daemon_id="d-alice")).encode())
            assert status == 429 and 50 <= int(headers["Retry-After"]) <= 100, said
            assert "alice" in json.loads(said)["error"]
        assert console.post(alert_body(1, agent="bob", daemon_id="d-bob"))[0] == 201
        beat = {"type": "heartbeat", "daemon_id": "d-alice", "agent": "alice", "every_s": 30, "status": {}}
        assert console.post(beat) == (200, {"ok": True})  # its beats are a bucket of their own
        stored = [(a["agent"], a["alert_id"]) for a in console.state()["alerts"]]
        assert sorted(stored) == [("alice", 1), ("alice", 2), ("bob", 1)]
        assert wait_for(lambda: any("429: " in line for line in console.err), 30), console.err  # read as it comes
        refusals = [line for line in console.err if "429: " in line]
        assert len(refusals) == 1 and "agent 'alice' posts alerts faster" in refusals[0], refusals  # not one a post
    finally:
        console.kill()


def test_a_daemon_whose_alert_got_429_keeps_it_in_its_outbox_and_delivers_it_after_retry_after(
        tmp_path, monitor_logs):
    """Its backoff (60 s) is not what it waits: the console's Retry-After (4 s, a post refilled in
    that time: the three posts need not come within a second of each other on a busy machine) is."""
    from monitor.delivery.sinks.webhook import Identity, WebhookSink
    from monitor.delivery.store import Store
    from monitor.events import AlertEvent
    console = _console(tmp_path, "agent_posts_per_s = 0.25\nagent_post_burst = 2\n")
    store = Store.open(tmp_path / "events.db")
    sink = WebhookSink(store, console.webhook, backoff_s=60.0, poll_s=0.05, token=console.token,
                       identity=Identity("carol", "d-carol"))
    try:
        call = store.start_call("test", time.time())
        for t in (10.0, 20.0, 30.0):  # queued before the sink starts: posted at once, one after another
            sink(store.add_alert(call, AlertEvent(t=t, kind="slow_speech", severity="warning", message="slow")))
        sink.start()
        assert wait_for(lambda: [d.status for d in store.deliveries()] == ["delivered"] * 3, 30), store.deliveries()
        assert [d.attempts for d in store.deliveries()] == [1, 1, 1]  # the third refused once (no failed attempt), kept, posted again
        assert sum(a["agent"] == "carol" for a in console.state()["alerts"]) == 3
        refused = [m for level, m in monitor_logs if level == "warning" and "HTTP 429" in m]
        said = "alert 3 waits in the outbox for 4.0 s, as the receiver asks (HTTP 429"
        assert len(refused) == 1 and said in refused[0], refused
    finally:
        sink.close()
        store.close()
        console.kill()


def test_a_wait_the_console_asks_for_is_no_failure_of_the_webhook_and_its_status_says_it_as_a_wait(tmp_path):
    """The console's per-agent limit (2 posts at once, then one every 10 s) refusing a daemon's third
    alert with 429 and Retry-After: the daemon's status said "failing now: HTTP 429 Too Many
    Requests ... (14 failure(s))", an outage, though docs/daemon.md says a wait is no failed attempt
    and no outage. The webhook counts no failure and does not fail now; its status line says it
    waits, for how long and why, while the wait lasts."""
    from monitor.commands.status import render
    from monitor.daemon_status import webhook_state
    from monitor.delivery.sinks.webhook import Identity, WebhookSink
    from monitor.delivery.store import Store
    from monitor.events import AlertEvent
    from test_status_text import STATE
    console = _console(tmp_path, "agent_posts_per_s = 0.1\nagent_post_burst = 2\n")
    store = Store.open(tmp_path / "events.db")
    sink = WebhookSink(store, console.webhook, poll_s=0.05, token=console.token, identity=Identity("erin", "d-erin"))
    try:
        call = store.start_call("test", time.time())
        for t in (10.0, 20.0, 30.0):
            sink(store.add_alert(call, AlertEvent(t=t, kind="slow_speech", severity="warning", message="slow")))
        sink.start()
        assert wait_for(lambda: sink.waiting() is not None, 30), store.deliveries()
        state = webhook_state(sink, None)
        line = next(line for line in render(dict(STATE, webhook=state)).splitlines() if "webhook" in line)
    finally:
        sink.close()
        store.close()
        console.kill()
    assert (state["delivered"], state["failures"], state["failing"], state["last_error"]) == (2, 0, False, "")
    assert 0 < state["waiting"]["for_s"] <= 10.0
    assert state["waiting"]["reason"].startswith("HTTP 429 Too Many Requests: agent 'erin' posts alerts faster ")
    assert line.startswith(f"  webhook {console.webhook}: delivered 2, failures 0, waiting "), line
    assert line.endswith(f" s as the receiver asks ({state['waiting']['reason']})"), line


def _status_line(webhook_state: dict) -> str:
    """The webhook's line of ``call-monitor status`` for that part of a daemon's status."""
    from monitor.commands.status import render
    from test_status_text import STATE
    return next(line for line in render(dict(STATE, webhook=webhook_state)).splitlines() if "webhook" in line)


def test_a_heartbeat_the_console_refuses_with_429_waits_as_asked_counts_no_failure_and_its_status_says_it_as_a_wait(
        tmp_path):
    """The console's per-agent limit (2 beats at once, then one every 10 s: heartbeats have a bucket
    of their own, at the same agent_posts_per_s and agent_post_burst as alerts) refusing a daemon's
    third beat with 429 and Retry-After: the heartbeat counted a failed beat at every refusal and the
    status said "heartbeats sent 2, failing (HTTP 429 ...)". It counts no failure, says the wait as
    the webhook's posts do, and beats again once the wait is over (not every_s later: a refused
    change of the devices reaches the console then)."""
    from monitor.daemon_status import webhook_state
    from monitor.delivery.sinks.webhook import Heartbeat, Identity, WebhookSink
    from monitor.delivery.store import Store
    console = _console(tmp_path, "agent_posts_per_s = 0.1\nagent_post_burst = 2\n")
    store = Store.open(tmp_path / "events.db")
    sink = WebhookSink(store, console.webhook, token=console.token, identity=Identity("erin", "d-erin"))  # not started
    heartbeat = Heartbeat(console.webhook, sink.sender, lambda: {}, every_s=0.2, token=console.token, watch_s=0.05)
    try:
        heartbeat.start()
        assert wait_for(lambda: heartbeat.state()["waiting"] is not None, 30), heartbeat.state()
        state = webhook_state(sink, heartbeat)
        line = _status_line(state)
        assert wait_for(lambda: heartbeat.sent == 3, 60), heartbeat.state()  # the wait over (10 s)
        after = heartbeat.state()
    finally:
        heartbeat.close()
        store.close()
        console.kill()
    beats = state["heartbeat"]
    assert (beats["sent"], beats["failures"], beats["failing"], beats["last_error"]) == (2, 0, False, "")
    assert 0 < beats["waiting"]["for_s"] <= 10.0
    assert beats["waiting"]["reason"].startswith("HTTP 429 Too Many Requests: agent 'erin' posts heartbeats faster ")
    assert state["waiting"] is None  # the alerts' own wait: none (their bucket is another)
    assert line.endswith(f"; heartbeats sent 2, waiting {beats['waiting']['for_s']:.1f} s as the receiver asks "
                         f"({beats['waiting']['reason']})"), line
    assert (after["failures"], after["failing"]) == (0, False)


def test_a_heartbeat_answered_503_at_max_connections_waits_the_second_asked_and_beats_once_a_connection_closes(
        tmp_path):
    """The console at supervisor.max_connections answers 503 with Retry-After: 1, a wait as the
    429 is: no failed beat; the beat goes again a second later, and is taken once a page closes,
    not an every_s (here an hour) later."""
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    console = _console(tmp_path, "max_connections = 2\n")
    streams = [_event_stream(console), _event_stream(console)]
    heartbeat = Heartbeat(console.webhook, Identity("frank", "d-frank"), lambda: {}, every_s=3600.0,
                          token=console.token)
    try:
        heartbeat.start()
        assert wait_for(lambda: heartbeat.state()["waiting"] is not None, 30), heartbeat.state()
        waiting = heartbeat.state()
        streams.pop().close()  # a page closed
        assert wait_for(lambda: heartbeat.sent == 1, 30), heartbeat.state()
        after = heartbeat.state()
    finally:
        heartbeat.close()
        for con in streams:
            con.close()
        console.kill()
    assert (waiting["sent"], waiting["failures"], waiting["failing"]) == (0, 0, False)
    assert waiting["waiting"]["reason"] == ("HTTP 503 Service Unavailable: this console serves at most 2 connections "
                                            "at once (supervisor.max_connections): try again in 1 s")
    assert (after["failures"], after["failing"], after["waiting"]) == (0, False, None)


def test_a_critical_alert_raised_while_the_console_paces_an_outbox_goes_before_the_warnings_waiting(
        limited_console, tmp_path):
    """An outbox past the burst goes as Retry-After paces it, a post a second: a critical alert
    queued meanwhile is the next posted, not the last of the warnings queued before it. The critical
    is queued while the daemon's sink is stopped (restarted, as a daemon is, once it is in the outbox),
    so that no pass over the outbox already under way when it came can post a warning first."""
    from monitor.delivery.sinks.webhook import Identity, WebhookSink
    from monitor.delivery.store import Store
    from monitor.events import AlertEvent
    console = limited_console

    def sink_of(store: Store) -> WebhookSink:
        return WebhookSink(store, console.webhook, poll_s=0.05, token=console.token,
                           identity=Identity("dave", "d-dave"))

    store = Store.open(tmp_path / "events.db")
    sink = sink_of(store)
    try:
        call = store.start_call("test", time.time())
        for t in (10.0, 20.0, 30.0, 40.0, 50.0):  # the outbox after an outage: 2 go at once, then 1 a second
            sink(store.add_alert(call, AlertEvent(t=t, kind="slow_speech", severity="warning", message="slow")))
        sink.start()
        assert wait_for(lambda: any("429" in (d.last_error or "") for d in store.deliveries("pending")), 30)
        sink.close()
        waiting = {d.alert_id for d in store.deliveries("pending")}
        assert waiting  # paced: warnings still wait
        sink = sink_of(store)
        critical = store.add_alert(call, AlertEvent(t=60.0, kind="possible_emergency", severity="critical",
                                                    message="several cues agree"))
        sink(critical)
        sink.start()
        assert wait_for(lambda: any(a["agent"] == "dave" and a["severity"] == "critical"
                                    for a in console.state()["alerts"]), 10)
        delivered = {d.alert_id: d.delivered_at for d in store.deliveries("delivered")}
        ahead = [i for i in waiting if i in delivered and delivered[i] <= delivered[critical.alert_id]]
        assert ahead == [], delivered  # the critical posted as soon as the console took one more
    finally:
        sink.close()
        store.close()


def test_the_buckets_of_agents_are_bounded_and_a_full_one_is_forgotten():
    quick, slow = PostLimits(), PostLimits()
    for n in range(MAX_BUCKETS + 500):
        assert quick.take("alert", f"agent {n}", rate=1e9, burst=1) is None  # full again at once: the same as new
        assert slow.take("alert", f"agent {n}", rate=1e-6, burst=1) is None
    assert len(quick) <= 2
    assert len(slow) == MAX_BUCKETS  # the least recently used go


@pytest.mark.parametrize("status, said, wait", [
    (429, "7", 7.0), (503, "120", 120.0), (429, "Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
    (429, "Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # a date gone: at once
    (429, "soon", None), (429, "\u00b2", None), (429, None, None), (500, "7", None)])
def test_a_retry_after_is_read_in_seconds_or_as_a_date_and_only_from_a_429_or_503(status, said, wait):
    import email.message
    import email.utils
    import urllib.error
    from monitor.delivery.sinks.webhook import retry_after
    headers = email.message.Message()
    if said is not None:
        headers["Retry-After"] = said
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    err = urllib.error.HTTPError("http://127.0.0.1/webhook", status, "refused", headers, None)
    assert retry_after(err, now=now) == wait
