"""What a receiver of another program (a ticketing or paging service) gets from the daemon's webhook,
and how each of its answers is taken: a real HTTP server on 127.0.0.1 receiving real posts."""

from __future__ import annotations

import re
import time

from conftest import ROOT, stored_alert, wait_for

from monitor.delivery.sinks.webhook import CRITICAL_RETRY_S, Identity, WebhookSink
from monitor.delivery.store import Store
from monitor.release import RELEASE


def documented_alert_fields() -> set[str]:
    """The fields of an alert's post as docs/daemon.md's table of them names them."""
    text = (ROOT / "docs" / "daemon.md").read_text(encoding="utf-8")
    table = text.split("### What a webhook receiver gets", 1)[1].split("| field |", 1)[1].split("\n\n", 1)[0]
    return {name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_an_alerts_post_carries_the_fields_the_documentation_lists_and_no_others(tmp_path, hook):
    """A receiver reads the fields the table gives, each of its JSON type: an alert of a replayed call
    of two files carries every one of them (a live call's has no ``recording``, a call of one file no
    ``agent_recording``), and nothing the table leaves out;
    its ``User-Agent`` names the release that sent it, by which the receiver knows the post's shape."""
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, poll_s=0.05, identity=Identity.of(store, "alice")).start()
        try:
            sink(stored_alert(store, source="/calls/call-0417.wav", agent_file="/calls/call-0417-agent.wav"))
            assert wait_for(lambda: hook.received, 30)
        finally:
            sink.close()
    ((_, post),) = hook.received
    (headers,) = hook.headers
    assert (headers["Content-Type"], headers["User-Agent"]) == ("application/json", f"call-monitor/{RELEASE}")
    assert headers["X-Callmonitor-Delivery"] == "1"  # the outbox row's number
    assert set(post) == documented_alert_fields()
    kinds = {"type": str, "source": str, "daemon_id": str, "alert_id": int, "agent": str, "call_id": int,
             "kind": str, "severity": str, "message": str, "evidence": dict, "actions": list, "t": float,
             "call_started_at": float, "at": float, "recording": str, "agent_recording": str, "stored": bool}
    assert {k: type(v) for k, v in post.items()} == {k: kinds[k] for k in post}
    assert (post["type"], post["source"], post["agent"], post["recording"], post["agent_recording"]) == (
        "alert", "call-monitor", "alice", "call-0417.wav", "call-0417-agent.wav")
    assert post["call_started_at"] <= post["at"] <= post["call_started_at"] + post["t"]  # replayed: posted sooner


def _critical_tried_once(tmp_path, hook):
    """A critical alert's outbox row once the sink (backoff 30 s, at most 300 s) has tried it once."""
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, backoff_s=30.0, max_backoff_s=300.0, poll_s=0.05).start()
        try:
            sink(stored_alert(store, severity="critical"))
            assert wait_for(lambda: store.deliveries()[0].attempts >= 1, 30)
            (d,) = store.deliveries()
        finally:
            sink.close()
    return d


def test_a_critical_alert_the_receiver_refuses_waits_the_backoff_not_a_few_seconds(tmp_path, hook):
    """A receiver that refuses an alert's body (400, 413, 422: the alert, not the receiver, is at
    fault) would refuse it again at once: a critical one is retried at the backoff as a warning is,
    not every few seconds for ever as in an outage, where the receiver's return is waited for."""
    hook.refuses = lambda post: 422
    d = _critical_tried_once(tmp_path, hook)
    assert d.status == "pending" and d.last_error.startswith("HTTP 422")
    assert d.next_attempt_at - time.time() > 20  # the backoff's 30 s, not CRITICAL_RETRY_S


def test_a_critical_alert_in_an_outage_is_still_retried_every_few_seconds(tmp_path, hook):
    hook.up = False  # 503 without Retry-After: the receiver is down
    d = _critical_tried_once(tmp_path, hook)
    assert d.status == "pending" and d.next_attempt_at - time.time() <= CRITICAL_RETRY_S


def test_the_receivers_reason_for_refusing_an_alert_is_said_in_the_warning(tmp_path, monitor_logs, hook):
    """A receiver's 400 or 422 says why in ``{"error": ...}``, as the console's does: the warning
    quotes it, so the administrator learns which field to fix, not only the status."""
    hook.refuses, hook.refusal = (lambda post: 422), {"error": "severity: expected low, high or urgent"}
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, backoff_s=30.0, poll_s=0.05).start()
        try:
            sink(stored_alert(store, severity="warning"))
            assert wait_for(lambda: any(lvl == "warning" for lvl, _ in monitor_logs), 30)
        finally:
            sink.close()
    (said,) = [m for lvl, m in monitor_logs if lvl == "warning"]
    assert "HTTP 422 Unprocessable Entity: severity: expected low, high or urgent" in said, said


def test_an_alert_posted_again_after_a_timeout_and_a_restart_carries_the_same_key(tmp_path, hook):
    """The receiver took the first post but answered after the daemon's timeout: the alert stays in
    the outbox, and the next daemon of the database posts it again under the same (``daemon_id``,
    ``alert_id``), by which the receiver keeps it once; the post is the same, its ``at`` too."""
    answered_late: list[dict] = []

    def answer_the_first_late(post: dict) -> None:
        if not answered_late:
            answered_late.append(post)
            time.sleep(0.6)

    hook.on_post = answer_the_first_late
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, timeout_s=0.3, backoff_s=30.0, poll_s=0.05,
                           identity=Identity.of(store)).start()
        try:
            sink(stored_alert(store, severity="warning"))
            assert wait_for(lambda: store.deliveries()[0].attempts >= 1, 30)
        finally:
            sink.close()
    with Store.open(tmp_path / "e.db") as store:  # the daemon started again
        sink = WebhookSink(store, hook.url, timeout_s=0.3, poll_s=0.05, identity=Identity.of(store)).start()
        try:
            assert wait_for(lambda: store.deliveries()[0].status == "delivered", 30)
        finally:
            sink.close()
    first, again = (post for _, post in hook.received)
    assert (again["daemon_id"], again["alert_id"]) == (first["daemon_id"], first["alert_id"])
    assert again == first  # the same post: its time too, though the call replayed is posted ahead of its time


def test_an_alert_the_receiver_asked_to_wait_for_is_listed_with_its_answer_not_as_never_tried(tmp_path, hook):
    """429 or 503 with ``Retry-After`` counts no failed attempt, but the alert was posted: ``alerts``
    says it waits with the receiver's answer, not "not tried yet", which would send the receiver's
    administrator looking for a post that never came."""
    from monitor.delivery.delivered import delivery_text
    hook.refuses, hook.retry_after = (lambda post: 429), "60"
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, poll_s=0.05).start()
        try:
            alert = stored_alert(store)
            sink(alert)
            assert wait_for(lambda: store.deliveries()[0].last_error, 30)
        finally:
            sink.close()
        said = delivery_text(store.deliveries(), time.time(), 300.0)
    assert said.startswith("webhook: queued, not delivered yet (HTTP 429 Too Many Requests), next try "), said


def test_an_alert_held_in_memory_the_receiver_asked_to_wait_for_is_listed_with_its_answer_once_written(tmp_path,
                                                                                                    hook):
    """An alert posted from memory while the database failed, which the receiver asked to wait for, keeps
    its answer in its outbox row once the database writes it: ``alerts`` says it was posted and waits,
    not "not tried yet"."""
    from monitor.delivery.delivered import delivery_text
    from monitor.events import AlertEvent
    hook.refuses, hook.retry_after = (lambda post: 429), "60"
    with Store.open(tmp_path / "e.db") as store:
        call = store.start_call("test", time.time())
        held = AlertEvent(t=12.0, kind="possible_emergency", severity="critical", message="m", call_id=call,
                          stored=False)
        sink = WebhookSink(store, hook.url, poll_s=0.05).start()
        try:
            sink(held)
            assert wait_for(lambda: sink.waiting(), 30)
            sink.written(held, store.add_alert(call, held))
            assert wait_for(lambda: store.deliveries(), 30)
        finally:
            sink.close()
        said = delivery_text(store.deliveries(), time.time(), 300.0)
    assert said.startswith("webhook: queued, not delivered yet (HTTP 429 Too Many Requests), next try "), said
