"""Delivery after an outage: a critical alert reaches the supervisor within seconds of the
endpoint's return, however long the outage grew the backoff; an alert the database could not
store is delivered from memory; the caller's words stay out of the webhook when asked.

A real HTTP server on 127.0.0.1 and a real SQLite outbox.
"""

from __future__ import annotations

import time

import pytest

from conftest import Hook, stored_alert, until, wait_for

from monitor.events import AlertEvent
from monitor.delivery.sinks.webhook import CRITICAL_RETRY_S, WebhookSink
from monitor.delivery.store import Store


def test_pending_criticals_arrive_within_10_s_of_the_endpoints_return(tmp_path, monitor_logs):
    """A 25 s outage with the default backoff (2 s doubling, up to 300 s): without a cap the next
    retry would come 30 s or more after the first failure; the criticals and the warning that
    waited with them arrive within 10 s of the endpoint coming back."""
    hook = Hook()
    hook.up = False
    store = Store.open(tmp_path / "e.db")
    logs = monitor_logs
    sink = WebhookSink(store, hook.url).start()
    try:
        alerts = [stored_alert(store, t=10.0), stored_alert(store, kind="slow_speech", severity="warning", t=11.0),
                  stored_alert(store, t=30.0)]
        for a in alerts:
            sink(a)
        time.sleep(25.0)
        assert hook.received == []
        back = time.monotonic()
        hook.up = True
        assert wait_for(lambda: len(hook.received) == 3, 10.0), (hook.received, logs)
        delays = [t - back for t, _ in hook.received]
        assert max(delays) < 10.0
        crit = [t - back for t, body in hook.received if body["severity"] == "critical"]
        assert max(crit) <= CRITICAL_RETRY_S + 1.0
        assert sorted(b["alert_id"] for _, b in hook.received) == sorted(a.alert_id for a in alerts)
        # the hook records a body before it answers; the sink marks it delivered after the answer
        until(lambda: store.deliveries("pending") == [],
              lambda: f"the deliveries marked delivered; still pending: {store.deliveries('pending')}")
    finally:
        sink.close()
        hook.close()
        store.close()


def test_an_alert_the_database_could_not_store_is_delivered_from_memory(tmp_path):
    hook = Hook()
    hook.up = False
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05).start()
    try:
        store.close()  # the database is gone
        sink(AlertEvent(t=5.0, kind="possible_emergency", severity="critical", message="m", stored=False))
        time.sleep(2.0)
        hook.up = True
        until(lambda: len(hook.received) == 1, lambda: f"the alert held in memory delivered; received {hook.received}")
        body = hook.received[0][1]
        assert body["kind"] == "possible_emergency" and body["stored"] is False
        until(lambda: sink.pending() == 0,  # the post is received before its answer is back
              lambda: f"the delivered alert out of memory; {sink.pending()} still pending")
    finally:
        sink.close()
        hook.close()


def test_the_alerts_held_in_memory_go_due_criticals_first_as_the_outbox_s_do(tmp_path):
    """While the database fails the alerts wait in memory: once the receiver is back, a critical
    alert raised after a warning is posted before it, as the outbox orders its rows."""
    hook = Hook()
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url)  # not started: each pass over memory is the test's
    try:
        store.close()  # the database is gone
        for t, kind, severity in ((5.0, "slow_speech", "warning"), (6.0, "long_pauses", "warning"),
                                  (7.0, "possible_emergency", "critical")):
            sink(AlertEvent(t=t, kind=kind, severity=severity, message="m", stored=False))
        assert sink.deliver_memory() == 3
        assert [b["kind"] for _, b in hook.received] == ["possible_emergency", "slow_speech", "long_pauses"]
    finally:
        sink.close()
        hook.close()


def test_the_callers_words_stay_out_of_the_webhook_when_asked(tmp_path):
    hook = Hook()
    store = Store.open(tmp_path / "e.db")
    call = store.start_call("test", time.time())
    words = "oh god i cant breathe please"
    alert = store.add_alert(call, AlertEvent(
        t=3.0, kind="distress_phrase", message=f'Distress phrase: the caller said "{words}"',
        evidence={"phrase": "i can't breathe", "excerpt": words, "since": 3.0, "until": 3.0}))
    sink = WebhookSink(store, hook.url, include_phrase_text=False, poll_s=0.05).start()
    try:
        sink(alert)
        until(lambda: len(hook.received) == 1, lambda: f"the alert posted; received {hook.received}")
        raw = str(hook.received[0][1])
        assert words not in raw and "breathe please" not in raw
        assert "i can't breathe" in hook.received[0][1]["message"]  # which listed phrase matched
        assert store.list_alerts()[0].event.evidence["excerpt"] == words  # the database keeps them
    finally:
        sink.close()
        hook.close()
        store.close()


def test_a_critical_alert_a_phrase_joined_withholds_the_callers_words_and_says_the_phrase_alone(tmp_path):
    """``include_phrase_text = false``: the possible emergency a distress phrase raised with other cues
    is posted without the caller's words, in its message and its evidence, and its evidence in words
    (as the console and a report say it) names the listed phrase, not a quote of nothing ("None")."""
    from monitor.alerts.evidence import evidence_lines
    hook = Hook()
    store = Store.open(tmp_path / "e.db")
    call = store.start_call("test", time.time())
    words = "oh god i cant breathe please"
    alert = store.add_alert(call, AlertEvent(
        t=40.0, kind="possible_emergency", severity="critical",
        message=f'Possible emergency: slow speech and the caller said "{words}"',
        evidence={"score": 2.0, "phrase": {"t": 38.0, "phrase": "i can't breathe", "excerpt": words,
                                           "since": 36.5, "until": 38.0}}))
    sink = WebhookSink(store, hook.url, include_phrase_text=False, poll_s=0.05).start()
    try:
        sink(alert)
        until(lambda: len(hook.received) == 1, lambda: f"the alert posted; received {hook.received}")
        posted = hook.received[0][1]
        assert words not in str(posted) and "breathe please" not in str(posted)
        said = [(line.label, line.text) for line in evidence_lines(posted["evidence"])]
        assert ("distress phrase", "\"i can't breathe\", 0:36 to 0:38 into the call") in said, said
        assert not any("None" in text for _, text in said), said
    finally:
        sink.close()
        hook.close()
        store.close()


def test_an_outage_is_one_warning_however_many_alerts_and_retries_and_one_line_when_it_delivers_again(
        tmp_path, monitor_logs):
    """A critical alert is retried every few seconds while the supervisor is down: an hour of outage
    would be a thousand lines per alert, and a line per alert would interleave with every alert the
    agent reads. The outage's first failure is said once, and once that it delivers again, with how
    many alerts it held back meanwhile."""
    hook = Hook()
    hook.up = False
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, backoff_s=0.1, max_backoff_s=0.2, poll_s=0.05).start()
    try:
        alerts = [stored_alert(store, t=10.0), stored_alert(store, kind="slow_speech", severity="warning", t=11.0)]
        for a in alerts:
            sink(a)
        until(lambda: sink.failures >= 10, lambda: f"ten failed posts (five retries each); {sink.failures}")
        hook.up = True
        until(lambda: store.deliveries("pending") == [],
              lambda: f"the alerts delivered once it is back; pending {store.deliveries('pending')}")
        warnings = [m for level, m in monitor_logs if level == "warning"]
        assert len(warnings) == 2, warnings
        assert f"alert {alerts[0].alert_id} not delivered (" in warnings[0]
        assert "no more is said until it delivers again" in warnings[0]
        assert "delivering again" in warnings[1]
        assert "the 1 other alert(s) held back while it was down go now" in warnings[1]
    finally:
        sink.close()
        hook.close()
        store.close()


@pytest.fixture
def refusing(tmp_path):
    """A console that refuses critical alerts' bodies (422: a kind it does not know) and takes the
    rest, a sink posting to it (a short backoff), and a critical alert it has refused once: (hook,
    store, sink, that alert)."""
    hook = Hook()
    hook.refuses = lambda post: 422 if post.get("severity") == "critical" else None
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, backoff_s=0.1, max_backoff_s=0.2, poll_s=0.05).start()
    try:
        refused = stored_alert(store)
        sink(refused)
        until(lambda: sink.failures >= 1, "the critical alert refused once")
        yield hook, store, sink, refused
    finally:
        sink.close()
        store.close()
        hook.close()


def test_an_alert_the_endpoint_refuses_while_it_takes_others_is_said_once_not_at_each_other_delivery(
        refusing, monitor_logs):
    """The console refuses one alert's body (413 over its size, 422 a kind it does not know) and
    takes every other: that is no outage. Each alert delivered meanwhile made a "delivering again"
    line and the refused alert's next failure a new outage's line: two warnings per alert."""
    hook, store, sink, refused = refusing
    others = [stored_alert(store, kind="slow_speech", severity="warning", t=20.0 + i) for i in range(4)]
    for a in others:
        sink(a)
        until(lambda: sink.delivered >= others.index(a) + 1,
              lambda: f"warning {others.index(a) + 1} delivered; {sink.delivered} delivered")
        time.sleep(0.3)  # the refused alert retried meanwhile
    warnings = [m for level, m in monitor_logs if level == "warning"]
    assert len(warnings) <= 3, warnings
    assert all(f"alert {refused.alert_id} not delivered" in m or "delivering again" in m for m in warnings)
    assert [d.alert_id for d in store.deliveries("pending")] == [refused.alert_id]


def test_an_outage_that_begins_while_an_alert_is_refused_is_said_as_an_outage(refusing, monitor_logs):
    """An alert the console refuses (422) is retried while it delivers others; then the console
    goes down (503 for every post). The refused alert's retry is the outage's first failure: it is
    said as an outage ("no more is said until it delivers again"), not as one alert not delivered
    "while others are" (none is), and the outage's end is said once it delivers again."""
    hook, store, sink, refused = refusing
    sink(stored_alert(store, kind="slow_speech", severity="warning", t=20.0))
    until(lambda: sink.delivered >= 1, "the warning delivered")
    until(lambda: any("while others are" in m for _, m in monitor_logs),
          lambda: f"the refusal said 'while others are' delivered; logs {monitor_logs}")
    said = len(monitor_logs)
    hook.up = False  # 503 for every post
    failures = sink.failures
    until(lambda: sink.failures >= failures + 3,
          lambda: f"three failed posts in the outage; {sink.failures - failures}")
    hook.up = True
    later = stored_alert(store, kind="slow_speech", severity="warning", t=40.0)
    sink(later)
    until(lambda: sink.delivered >= 2, lambda: f"the later warning delivered; {sink.delivered} delivered")
    warnings = [m for level, m in monitor_logs[said:] if level == "warning"]
    assert warnings and "HTTP 503" in warnings[0], warnings
    assert "no more is said until it delivers again" in warnings[0], warnings
    assert not any("503" in m and "while others are" in m for m in warnings), warnings
    assert any("delivering again" in m for m in warnings), warnings


class SteppedWallClock:
    """The wall clock from the real time on, stepped by the test as NTP steps it (or a hand sets it)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def step(self, seconds: float) -> None:
        self.offset += seconds


def test_a_wall_clock_stepped_back_an_hour_in_an_outage_holds_no_alert_back_for_the_hour(tmp_path):
    """The outbox keeps each next try in wall-clock time (it outlives the process): a try set 2 s
    ahead lies an hour and 2 s ahead once the clock steps back an hour. Further ahead than any wait
    the sender sets, it is due now: the critical alert goes as soon as the endpoint is back."""
    wall = SteppedWallClock()
    hook = Hook()
    hook.up = False
    store = Store.open(tmp_path / "e.db", clock=wall)
    sink = WebhookSink(store, hook.url, clock=wall)  # not started: each pass over the outbox is the test's
    try:
        sink(stored_alert(store))
        assert sink.deliver_due() == 0  # the endpoint is down: the next try 2 s ahead
        wall.step(-3600.0)
        hook.up = True
        assert sink.deliver_due() == 1
        assert [b["kind"] for _, b in hook.received] == ["possible_emergency"]
    finally:
        sink.close()
        hook.close()
        store.close()


def test_an_alert_held_in_memory_is_not_held_back_by_the_wall_clock_stepping_back_either(tmp_path):
    wall = SteppedWallClock()
    hook = Hook()
    hook.up = False
    store = Store.open(tmp_path / "e.db", clock=wall)
    sink = WebhookSink(store, hook.url, clock=wall)  # not started: each pass over memory is the test's
    try:
        store.close()  # the database is gone
        sink(AlertEvent(t=7.0, kind="possible_emergency", severity="critical", message="m", stored=False))
        assert sink.deliver_memory() == 0
        wall.step(-3600.0)
        hook.up = True
        assert sink.deliver_memory() == 1
    finally:
        sink.close()
        hook.close()


def test_a_daemon_started_again_tries_at_once_what_an_earlier_one_left_on_a_long_backoff(tmp_path):
    """A daemon killed in a long outage leaves a warning whose next try is minutes ahead (the
    backoff doubles up to 300 s); started again, once the endpoint is back, it does not wait them out."""
    hook = Hook()
    store = Store.open(tmp_path / "e.db")
    alert = stored_alert(store, kind="slow_speech", severity="warning")
    row = store.enqueue_delivery(alert.alert_id, hook.url)
    store.mark_failed(row, time.time() + 250.0, "Connection refused")  # the killed daemon's: 250 s to wait
    sink = WebhookSink(store, hook.url, poll_s=0.05).start()
    try:
        until(lambda: len(hook.received) == 1,  # not the 250 s left to wait
              lambda: f"the alert tried at once; outbox {store.deliveries()}")
        assert hook.received[0][1]["alert_id"] == alert.alert_id
    finally:
        sink.close()
        hook.close()
        store.close()
