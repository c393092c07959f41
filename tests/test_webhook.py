"""Webhook delivery from the SQLite outbox against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import Daemon, Hook, call_monitor, stop_daemon, stored_alert, wait_for

from monitor.events import AlertEvent
from monitor.delivery.sinks import webhook
from monitor.config.tokens import read_token_file
from monitor.delivery.sinks.webhook import CUT_SHORT, WebhookSink
from monitor.delivery.store import Store


def test_down_then_back_delivers_once_and_logs_failures(tmp_path, monitor_logs, hook):
    hook.up = False
    logs = monitor_logs
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, backoff_s=0.2, max_backoff_s=0.4, timeout_s=2, poll_s=0.05).start()
    try:
        ev = stored_alert(store)
        sink(ev)
        assert wait_for(lambda: sink.failures >= 2, 30)
        assert all("HTTP 503" in m for lvl, m in logs)
        assert [lvl for lvl, m in logs if lvl != "debug"] == ["warning"]  # once, not once per retry
        assert not hook.received
        hook.up = True
        assert wait_for(lambda: hook.received, 30)
        # the hook records a body before it answers; the sink marks it delivered after the answer
        assert wait_for(lambda: store.deliveries("pending") == [], 30), store.deliveries()
        time.sleep(1.0)  # no second delivery
        assert len(hook.received) == 1
        body = hook.received[0][1]
        assert body["type"] == "alert" and body["kind"] == "possible_emergency" and body["alert_id"] == ev.alert_id
        assert body["actions"] == ["Keep the caller on the line"]
        (d,) = store.deliveries()
        assert d.status == "delivered" and d.attempts >= 3
        assert any("delivered after" in m for _, m in logs)
    finally:
        sink.close()
        store.close()


def test_a_stop_while_replay_waits_for_its_outbox_ends_the_wait_saying_what_stays_there(tmp_path, hook, capsys):
    """SIGTERM (or Ctrl-C) while replay gives its outbox the --webhook-wait seconds, the receiver
    down: the wait ends, the alerts not delivered are said to stay in the outbox for the next run,
    then the stop ends the command (it ended it without a word)."""
    import os
    import signal
    import threading

    from monitor.stops import Terminated, sigterm_as_interrupt
    from monitor.commands.replay import _drain
    hook.up = False
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05).start()
    try:
        sink(stored_alert(store))
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
        with pytest.raises(Terminated):
            sigterm_as_interrupt(lambda: _drain(sink, 60.0, store.path))
    finally:
        sink.close()
        store.close()
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"call-monitor: warning: {hook.url}: 1 alert(s) not delivered yet; they stay in the outbox of {store.path} "
        "for the next run")


@pytest.mark.parametrize("receiver", ["silent", "trickler"])
def test_replay_waits_for_its_outbox_no_longer_than_webhook_wait_however_long_a_post_would_take(
        tmp_path, capsys, request, receiver):
    """A receiver that takes each post and never answers (or answers a byte at a time, a minute
    long): replay's --webhook-wait 1 took 2 s and more (the post on its way, begun before the wait
    and given the 5 s of delivery.timeout_s, was waited for after it), and its worker was left
    posting. The post ends at the wait's end, as one timing out does: the whole takes the wait and a
    little more, the worker has ended, the alert stays pending for the next run, and it is said so."""
    trickler = request.getfixturevalue(receiver)
    from monitor.commands.replay import _drain
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, trickler.url, timeout_s=5.0, poll_s=0.05).start()
        sink(stored_alert(store))
        assert wait_for(lambda: trickler.posts, 10)
        began = time.monotonic()
        _drain(sink, 1.0, store.path)
        took = time.monotonic() - began
        (d,) = store.deliveries()
    assert took < 4.0, f"the wait took {took:.2f} s"  # not the post's 5 s: cut at the wait's end (a bound, not a benchmark)
    assert not sink._thread.is_alive()
    assert (d.status, d.attempts, d.last_error) == ("pending", 0, CUT_SHORT)  # the run's end, not the receiver's failure
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"call-monitor: warning: {trickler.url}: 1 alert(s) not delivered yet; they stay in the outbox of "
        f"{store.path} for the next run")


@pytest.mark.parametrize("receiver", ["unaccepting", "mute"])
def test_replays_wait_cuts_a_post_still_connecting_or_in_its_tls_handshake_as_it_cuts_one_awaiting_its_answer(
        tmp_path, capsys, request, receiver):
    """A receiver that takes no connection (its SYN dropped), or one that takes it and never answers
    the TLS handshake of an https:// URL: replay's --webhook-wait cut only the wait for an answer, so
    a post still connecting or in its handshake when the wait began went on for the 60 s of its
    timeout_s, past the wait and the worker's join, its alert left as it was. The wait's end bounds
    the connect and the handshake too: the post is cut there, counted as cut short (no attempt that
    failed, no failing), the worker has ended, and the alert is said to stay in the outbox."""
    from monitor.commands.replay import _drain
    listener = request.getfixturevalue(receiver)
    url = listener.url if receiver == "unaccepting" else listener.url.replace("http://", "https://")
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, url, timeout_s=60.0, poll_s=0.05).start()
        sink(stored_alert(store))
        assert wait_for(lambda: listener.connecting() if receiver == "unaccepting" else listener.taken, 10)
        _drain(sink, 1.0, store.path)
        alive = sink._thread.is_alive()
        (d,) = store.deliveries()
    assert not alive
    assert (d.status, d.attempts, d.last_error) == ("pending", 0, CUT_SHORT)
    assert (sink.failures, sink.failing) == (0, False)
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"call-monitor: warning: {url}: 1 alert(s) not delivered yet; they stay in the outbox of {store.path} for "
        "the next run")


def test_replay_to_a_receiver_that_takes_no_connection_ends_at_its_webhook_wait_its_alerts_cut_short(
        tmp_path, unaccepting):
    """The command as a user runs it: `replay --webhook-wait 2` to such a receiver, with a minute's
    delivery.timeout_s, ends (exit 0, not after the minute), each alert it posted pending, cut
    short, no attempt counted, and said to stay in the outbox."""
    from conftest import CALLS, call_monitor
    db, config = tmp_path / "e.db", tmp_path / "c.toml"
    config.write_text("[delivery]\ntimeout_s = 60.0\n")
    done = call_monitor("replay", CALLS / "deteriorating_8k.wav", "--no-transcribe", "--jsonl", "--db", db,
                        "--config", config, "--webhook", unaccepting.url, "--webhook-wait", "2", timeout=50)
    assert done.returncode == 0, done.stderr
    assert f"call-monitor: warning: {unaccepting.url}: " in done.stderr and "not delivered yet" in done.stderr
    with Store.open(db) as store:
        rows = store.deliveries()
    assert rows and {(d.status, d.attempts) for d in rows} == {("pending", 0)}
    assert CUT_SHORT in {d.last_error for d in rows}


def test_posts_cut_by_replays_waits_count_no_attempt_so_delivery_retries_never_gives_the_alert_up(tmp_path, silent):
    """Two replays in a row, each giving its outbox --webhook-wait 1 s, to a receiver that takes the post
    and never answers, with ``delivery.retries`` 1: the cut posts counted as failed attempts, and the
    second replay gave the alert up for good (``failed``) although the receiver never refused it. A
    post cut by the run's end is no failure of the receiver's: the alert stays pending, due at the next
    run, its attempts untouched, and no outage is said."""
    from monitor.commands.replay import _drain
    with Store.open(tmp_path / "e.db") as store:
        alert = stored_alert(store)
        for run in (1, 2):  # the second run posts what the first left in the outbox
            sink = WebhookSink(store, silent.url, timeout_s=5.0, retries=1, poll_s=0.05).start()
            if run == 1:
                sink(alert)
            assert wait_for(lambda: silent.posts >= run, 10), silent.posts
            _drain(sink, 1.0, store.path)
            assert (sink.failures, sink.failing) == (0, False)
        (d,) = store.deliveries()
    assert (d.status, d.attempts, d.last_error) == ("pending", 0, CUT_SHORT)


def _queue_around_a_foreign_row(db, url: str, foreign: str) -> tuple[int, int, int, int, str]:
    """Three alerts queued for ``url`` in the outbox of ``db``, the middle one's rows as another
    program wrote them (``foreign``: ``evidence``, an alert whose evidence is no JSON; ``attempts``,
    an outbox row whose attempts are a word). Returns the alert ids, the middle one's outbox row and
    what is said of it."""
    with Store.open(db) as store:
        before = stored_alert(store).alert_id
        store.enqueue_delivery(before, url)
        con = sqlite3.connect(db)
        middle = con.execute("INSERT INTO alerts (call_id, t, kind, severity, message, evidence, actions, created_at) "
                             "VALUES (1, 13.0, 'custom_kind', 'warning', 'x', ?, '[]', 1.7e9)",
                             ("not json" if foreign == "evidence" else "{}",)).lastrowid
        row = con.execute("INSERT INTO deliveries (alert_id, target, attempts, next_attempt_at, created_at) "
                          "VALUES (?, ?, ?, 0, 0)", (middle, url, "many" if foreign == "attempts" else 0)).lastrowid
        con.commit()
        con.close()
        after = stored_alert(store).alert_id
        store.enqueue_delivery(after, url)
    problem = (f"alert {middle}: evidence is not JSON" if foreign == "evidence"
               else f"outbox row {row}: attempts is not a number ('many')")
    return before, middle, after, row, f"{db}: damaged callmonitor database ({problem})"


@pytest.mark.parametrize("foreign", ["evidence", "attempts"])
def test_an_outbox_row_another_program_wrote_is_said_once_given_up_and_the_alerts_around_it_delivered(
        tmp_path, monitor_logs, hook, foreign):
    """An alert queued in the outbox whose rows hold what callmonitor never writes (another program
    wrote them) can never be posted. It kept every alert queued with it from the supervisor (each
    pass over the outbox failed on it, with a line each time); it is said in one warning line naming
    the database and the row, marked failed for good, and the alerts queued before and after it are
    delivered. The next daemon on that database says nothing of it again."""
    db = tmp_path / "e.db"
    before, middle, after, row, damaged = _queue_around_a_foreign_row(db, hook.url, foreign)
    store = Store.open(db)
    sink = WebhookSink(store, hook.url, timeout_s=2, poll_s=0.05).start()
    try:
        assert wait_for(lambda: len(hook.received) == 2, 30), monitor_logs
        assert sink.wait_delivered(30) == 0
        time.sleep(0.5)  # ten passes over the outbox more
        assert [p["alert_id"] for _, p in hook.received] == [before, after]
        assert [(lvl, m) for lvl, m in monitor_logs if lvl != "debug"] == [
            ("warning", f"webhook {hook.url}: outbox row {row} is not delivered, now or later: {damaged}")]
    finally:
        sink.close()
    con = sqlite3.connect(db)
    assert con.execute("SELECT alert_id, status, last_error FROM deliveries ORDER BY id").fetchall() == [
        (before, "delivered", None), (middle, "failed", damaged), (after, "delivered", None)]
    con.close()
    monitor_logs.clear()
    sink = WebhookSink(store, hook.url, poll_s=0.05).start()  # the daemon started again
    try:
        time.sleep(0.5)
        assert len(hook.received) == 2 and not [m for lvl, m in monitor_logs if lvl != "debug"]
    finally:
        sink.close()
        store.close()


def test_a_daemon_delivers_the_alerts_queued_around_a_row_another_program_wrote_and_runs_on(env, tmp_path, hook):
    """The live daemon started on a database whose outbox holds such a row: the alerts queued around
    it reach the supervisor, the row is one warning line, and the daemon captures on and stops cleanly."""
    db = tmp_path / "e.db"
    before, _, after, row, damaged = _queue_around_a_foreign_row(db, hook.url, "evidence")
    daemon = Daemon(["--caller", "softphone.monitor", "--jsonl", "--db", str(db), "--webhook", hook.url,
                     "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        daemon.wait_running(env, timeout=20)
        assert wait_for(lambda: len(hook.received) == 2, 30), daemon.err
        time.sleep(1.0)
        assert [p["alert_id"] for _, p in hook.received] == [before, after]
        assert [line for line in daemon.err if "outbox" in line or "webhook worker" in line] == [
            f"call-monitor: warning: webhook {hook.url}: outbox row {row} is not delivered, now or later: {damaged}"]
        assert all(leg["state"] == "running" for leg in daemon.status(env)["legs"].values())
        stop_daemon(daemon)
    finally:
        daemon.kill()


def test_delivered_after_restart_when_endpoint_returns(tmp_path, monitor_logs):
    hook = Hook()
    port = hook.server.server_address[1]
    url = hook.url
    hook.close()  # nothing listens: connection refused
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, url, backoff_s=0.1, max_backoff_s=0.2, timeout_s=1, poll_s=0.05).start()
    ev = stored_alert(store)
    sink(ev)
    assert wait_for(lambda: monitor_logs, 30)  # the failure is said after it is counted
    assert "refused" in monitor_logs[0][1].lower()
    sink.close()
    store.close()  # the daemon stops with the alert undelivered
    hook2 = Hook(port)  # the endpoint comes back
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, url, backoff_s=0.1, poll_s=0.05).start()
    try:
        assert wait_for(lambda: hook2.received, 30)
        assert wait_for(lambda: store.deliveries("pending") == [], 30), store.deliveries()  # marked once answered
        assert [p["alert_id"] for _, p in hook2.received] == [ev.alert_id]
        # a third start delivers nothing again
        sink.close()
        sink = WebhookSink(store, url, poll_s=0.05).start()
        time.sleep(0.5)
        assert len(hook2.received) == 1
    finally:
        sink.close()
        store.close()
        hook2.close()


def test_gives_up_after_retries(tmp_path, monitor_logs, hook):
    hook.up = False
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, retries=2, backoff_s=0.05, max_backoff_s=0.1, poll_s=0.05).start()
    try:
        sink(stored_alert(store))
        assert wait_for(lambda: store.deliveries("failed"), 30)
        assert sink.failures == 3 and "giving up" in monitor_logs[-1][1]
    finally:
        sink.close()
        store.close()


def test_waits_a_receiver_asked_for_are_no_attempts_the_retries_give_up_after(tmp_path, hook):
    """delivery.retries counts the posts that failed, not those a receiver asked to wait (429 with
    Retry-After: the console pacing an agent's outbox): an alert paced so, then failing once, is
    retried as any alert failing once, and delivered."""
    answers = iter([429, 429, 429, 500])
    hook.retry_after = "0"
    hook.refuses = lambda post: next(answers, None)
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, retries=1, backoff_s=0.1, max_backoff_s=0.1, poll_s=0.02).start()
    try:
        sink(stored_alert(store))
        assert wait_for(lambda: store.deliveries("delivered") or store.deliveries("failed"), 30)
        assert [d.status for d in store.deliveries()] == ["delivered"] and len(hook.received) == 1
    finally:
        sink.close()
        store.close()


def test_a_new_url_takes_the_alerts_pending_for_the_old_one(tmp_path, monitor_logs, hook):
    """The supervisor's address changed: the alert that kept failing at the old URL is delivered
    at the new one, at once and once, and the outbox says where it went."""
    old = Hook()
    old.close()  # nothing listens there: connection refused
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, old.url, backoff_s=5.0, timeout_s=1, poll_s=0.05).start()
    try:
        ev = stored_alert(store)
        sink(ev)
        assert wait_for(lambda: sink.failures >= 1, 30)
        sink.retarget(hook.url, None)
        assert wait_for(lambda: hook.received, 3), "waited for the old URL's backoff"
        assert wait_for(lambda: store.deliveries("pending") == [], 30), store.deliveries()  # marked once answered
        assert [p["alert_id"] for _, p in hook.received] == [ev.alert_id]
        (d,) = store.deliveries()
        assert (d.target, d.status) == (hook.url, "delivered")
    finally:
        sink.close()
        store.close()


def test_alerts_an_outage_held_back_and_a_reload_moved_to_a_new_url_are_said_delivered_there(
        tmp_path, monitor_logs, hook):
    """The old URL is down (its outage said once: "no more is said until it delivers again") with
    five alerts waiting; a reload moves them to a console that answers. The first delivered there
    says, at warning level as the outage was, that what the old URL held back is delivered here and
    how many more go now: the outage is not the last word of the log (nor the status's last warning,
    which is the last warning logged). Nothing more is said of the others."""
    old = Hook()
    old.close()  # nothing listens there: connection refused
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, old.url, backoff_s=0.2, max_backoff_s=0.4, timeout_s=1, poll_s=0.05).start()
    try:
        alerts = [stored_alert(store) for _ in range(5)]
        for ev in alerts:
            sink(ev)
        assert wait_for(lambda: sink.failures >= 10, 30), sink.failures
        sink.retarget(hook.url, None)
        assert wait_for(lambda: len(store.deliveries("delivered")) == 5, 30), store.deliveries()
        time.sleep(0.3)  # nothing more said after the last delivery
    finally:
        sink.close()
        store.close()
    assert sorted(p["alert_id"] for _, p in hook.received) == [ev.alert_id for ev in alerts]
    warnings = [m for level, m in monitor_logs if level == "warning"]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith(f"webhook {old.url}: alert {alerts[0].alert_id} not delivered (")
    first = min(p["alert_id"] for _, p in hook.received)
    assert warnings[1] == (f"webhook {hook.url}: delivering the alerts held back while {old.url} was down "
                           f"(alert {first} delivered here); the 4 other alert(s) waiting go here now")


def test_an_alert_fetched_for_the_old_url_is_posted_after_a_reload_under_the_new_url_it_went_to(tmp_path, hook):
    """Two alerts due for the old URL; while the first is on its way there, a reload changes the
    URL. The first went to the old URL and says so; the second goes to the new one and its outbox
    row says the new one (what `alerts --jsonl` shows), not the URL it was fetched for."""
    old = Hook()
    store = Store.open(tmp_path / "e.db")
    first, second = stored_alert(store), stored_alert(store)
    for ev in (first, second):
        store.enqueue_delivery(ev.alert_id, old.url)
    sink = WebhookSink(store, old.url, timeout_s=2, poll_s=0.05)
    old.on_post = lambda post: sink.retarget(hook.url, None)  # the reload, while the post is on its way
    sink.start()
    try:
        assert wait_for(lambda: len(store.deliveries("delivered")) == 2, 30), store.deliveries()
        assert [p["alert_id"] for _, p in old.received] == [first.alert_id]
        assert [p["alert_id"] for _, p in hook.received] == [second.alert_id]
        assert {d.alert_id: d.target for d in store.deliveries()} == {first.alert_id: old.url,
                                                                       second.alert_id: hook.url}
    finally:
        sink.close()
        store.close()
        old.close()


def test_a_start_with_another_url_delivers_what_an_earlier_url_left_pending(tmp_path, hook):
    store = Store.open(tmp_path / "e.db")
    try:
        ev = stored_alert(store)
        store.enqueue_delivery(ev.alert_id, "http://127.0.0.1:9/old-hook")  # left by an earlier daemon
        sink = WebhookSink(store, hook.url, poll_s=0.05).start()
        try:
            assert wait_for(lambda: hook.received, 30)
            assert [p["alert_id"] for _, p in hook.received] == [ev.alert_id]
        finally:
            sink.close()
    finally:
        store.close()


def test_an_alert_queued_for_both_urls_is_delivered_once_at_the_new_one(tmp_path):
    store = Store.open(tmp_path / "e.db")
    try:
        ev = stored_alert(store)
        store.enqueue_delivery(ev.alert_id, "http://new/hook")
        store.mark_failed(store.deliveries()[0].id, None, "gave up")
        store.enqueue_delivery(ev.alert_id, "http://old/hook")
        assert store.retarget_pending("http://new/hook") == 1
        rows = {d.target: d.status for d in store.deliveries()}
        assert rows == {"http://new/hook": "pending", "http://old/hook": "failed"}
    finally:
        store.close()


def test_a_refused_token_is_said_with_the_way_to_give_the_right_one(tmp_path, monitor_logs, hook):
    hook.refuse = 401
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, backoff_s=0.2, poll_s=0.05).start()
    try:
        sink(stored_alert(store))
        assert wait_for(lambda: any(lvl == "warning" for lvl, _ in monitor_logs), 30)  # said after the count
        (said,) = [m for lvl, m in monitor_logs if lvl == "warning"]
        assert "HTTP 401" in said and "no token was sent" in said and "--webhook-token-file" in said
    finally:
        sink.close()
        store.close()


def test_a_url_that_takes_no_posts_is_said_with_the_consoles_webhook_path(tmp_path, monitor_logs, hook):
    """``delivery.webhook_url = "http://sup:8640"`` posts to the console's page, which answers 405: the
    one warning says that the URL takes no alerts and where the console takes them; the alert waits
    in the outbox for a URL that does, as through any outage."""
    hook.refuse = 405
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, backoff_s=0.2, poll_s=0.05).start()
    try:
        sink(stored_alert(store))
        assert wait_for(lambda: sink.failures >= 2, 30)
        (said,) = [m for lvl, m in monitor_logs if lvl == "warning"]
        assert "HTTP 405" in said and "no alerts are taken at this URL" in said and "/webhook" in said, said
        assert [d.status for d in store.deliveries()] == ["pending"]
    finally:
        sink.close()
        store.close()


def test_a_url_at_slash_webhook_that_takes_no_posts_is_not_told_to_post_at_slash_webhook(tmp_path, monitor_logs, hook):
    """A receiver answering 404 at a URL that already ends in ``/webhook`` (another program on the
    console's port, a proxy that does not pass the path on): the hint to post at /webhook would send
    the person round in a circle; the one warning says what is true, that what answers there is no
    console taking posts at that path."""
    hook.refuse = 404
    url = hook.url.removesuffix("/hook") + "/webhook"
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, url, backoff_s=0.2, poll_s=0.05).start()
    try:
        sink(stored_alert(store))
        assert wait_for(lambda: sink.failures >= 2, 30)
        (said,) = [m for lvl, m in monitor_logs if lvl == "warning"]
        assert ("HTTP 404 Not Found: no alerts are taken at this URL (what answers there is no supervisor console, "
                "which takes them at /webhook: another program listens at that address, or a proxy before the "
                "console does not pass /webhook on)") in said, said
        assert [d.status for d in store.deliveries()] == ["pending"]
    finally:
        sink.close()
        store.close()


def test_a_redirect_is_not_followed_so_the_token_goes_nowhere_else_and_the_alert_waits(tmp_path, monitor_logs,
                                                                                        hook):
    """A receiver that answers a post with a redirect (a proxy sending http to https, a moved console,
    one that is not the console at all) is an outage: the redirect is not followed, so the bearer token
    goes to no other address and the alert is not taken for delivered by a GET's answer there; the one
    warning names where it points, its query's values hidden, never the token."""
    elsewhere = Hook()
    hook.redirect = elsewhere.url.replace("/hook", "/moved?key=s3cret")
    store = Store.open(tmp_path / "e.db")
    token = "agent-token-0123456789"
    sink = WebhookSink(store, hook.url, backoff_s=0.2, poll_s=0.05, token=token).start()
    try:
        sink(stored_alert(store))
        assert wait_for(lambda: sink.failures >= 2, 30)
        assert elsewhere.paths == [] and hook.authorizations[0] == f"Bearer {token}"
        assert [d.status for d in store.deliveries()] == ["pending"]
        (said,) = [m for lvl, m in monitor_logs if lvl == "warning"]
        assert "HTTP 302" in said and "/moved?key=***" in said and "not followed" in said, said
        assert "s3cret" not in said and token not in said
    finally:
        sink.close()
        store.close()
        elsewhere.close()


def test_a_receivers_reason_is_said_on_the_warnings_one_line(tmp_path, monitor_logs, hook):
    """A refusal's ``{"error": ...}`` is quoted, its line breaks and all, on one line; a receiver
    that is not the supervisor console (no ``code`` saying the agent is wrong) gets the token hint."""
    hook.refuse, hook.refusal = 403, {"error": "agent 'bob' may not post here\ncall-monitor: error: forged line"}
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, backoff_s=0.2, poll_s=0.05, token="bob-token-0123456789").start()
    try:
        sink(stored_alert(store))
        assert wait_for(lambda: any(lvl == "warning" for lvl, _ in monitor_logs), 30)  # said after the count
        (said,) = [m for lvl, m in monitor_logs if lvl == "warning"]
        assert "HTTP 403" in said and "agent 'bob' may not post here call-monitor: error: forged line" in said
        assert "the token sent was refused" in said and "--webhook-token-file" in said, said
        assert "delivery.agent_name" not in said
        assert "\n" not in said and "\n" not in sink.last_error
    finally:
        sink.close()
        store.close()


def test_a_receivers_control_characters_are_written_as_python_writes_them_in_the_log_alerts_and_status(
        tmp_path, monitor_logs, hook):
    """A receiver's refusal whose reason holds an escape sequence (``nope\\x1b[31m red``) reached the
    agent's terminal raw in ``alerts`` and ``status`` (only its line break was flattened), though the
    log wrote it ``\\x1b``: the reason is written so where it is made, and the log line, the webhook's
    last error (the daemon's status, its JSON too), the outbox row and ``alerts`` (its --jsonl too)
    say the same words."""
    import json

    from conftest import call_monitor
    from monitor.commands.status import render
    from test_status_text import STATE

    hook.refuse, hook.refusal = 401, {"error": "nope\u001b[31m red\nsecond"}
    shown = "HTTP 401 Unauthorized: nope\\x1b[31m red second; no token was sent"
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, backoff_s=60.0, poll_s=0.05).start()
        try:
            sink(stored_alert(store))
            assert wait_for(lambda: store.deliveries()[0].attempts, 30)
        finally:
            sink.close()
    assert sink.last_error.startswith(shown)
    (said,) = [m for lvl, m in monitor_logs if lvl == "warning"]
    assert shown in said
    status = render(dict(STATE, webhook={"url": hook.url, "delivered": 0, "failures": sink.failures,
                                         "last_error": sink.last_error, "failing": sink.failing,
                                         "last_failure_at": sink.last_failure_at, "heartbeat": None}))
    listed = call_monitor("alerts", "--db", tmp_path / "e.db", timeout=60)
    rows = call_monitor("alerts", "--db", tmp_path / "e.db", "--jsonl", timeout=60)
    assert listed.returncode == 0 and rows.returncode == 0, listed.stderr + rows.stderr
    assert f"failing now: {shown}" in status and f"1 attempt failed ({shown}" in listed.stdout, listed.stdout
    assert json.loads(rows.stdout)["deliveries"][0]["last_error"] == sink.last_error
    assert not any("\x1b" in text for text in (status, listed.stdout, rows.stdout, said))


def test_an_alert_is_stamped_when_it_happened_and_never_ahead_of_its_posting(tmp_path, hook):
    """``at`` is the call's start plus the alert's call time; a call replayed faster than it was
    spoken reaches its 12th second at once, so its alert is stamped with the time it was raised.
    A replayed call's alert names its recording by the file name (the folder is the replaying
    machine's own), even with the caller's words withheld; a live call's names none."""
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05, include_phrase_text=False).start()
    try:
        live_start = time.time() - 60
        sink(stored_alert(store, started_at=live_start, source="live:caller=softphone.monitor"))
        before = time.time()
        sink(stored_alert(store, source="/home/qa/recordings/queue 3/call-0417 <b>.wav"))
        assert wait_for(lambda: len(hook.received) == 2, 30)
        after = time.time()
        live, replayed = (p for _, p in hook.received)
        assert abs(live["at"] - (live_start + 12.0)) < 0.01
        assert before - 0.01 <= replayed["at"] <= after + 0.01
        assert "recording" not in live and replayed["recording"] == "call-0417 <b>.wav"
    finally:
        sink.close()
        store.close()


def test_an_alert_has_one_time_the_post_says_and_alerts_lists_its_call_start_plus_its_call_time(tmp_path, hook):
    """A live call's alert is raised a little after its call time (the analyzer looks ahead), and
    stored then: its row keeps its call's start plus its call time, the moment of the call it was
    raised at, as its post's ``at`` says it, so that ``alerts`` (its ``created_at``, its line's time
    of day) and the console show one time, and ``--since`` takes it by that time. A call replayed
    faster than it was spoken keeps the time it was stored, as its post says it."""
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05).start()
    try:
        live_start = time.time() - 13.2  # raised 12 s into the call, stored 1.2 s later
        live = stored_alert(store, started_at=live_start, source="live:caller=softphone.monitor")
        replayed = stored_alert(store, source="call-0417.wav", t=600.0)
        for alert in (live, replayed):
            sink(alert)
        assert wait_for(lambda: len(hook.received) == 2, 30)
    finally:
        sink.close()
        store.close()
    posted = {p["alert_id"]: p["at"] for _, p in hook.received}
    assert posted[live.alert_id] == round(live_start + 12.0, 3)
    rows = call_monitor("alerts", "--db", tmp_path / "e.db", "--jsonl", timeout=60)
    assert rows.returncode == 0, rows.stderr
    listed = {r["alert_id"]: r["created_at"] for r in map(json.loads, rows.stdout.splitlines())}
    assert listed == posted
    since = datetime.fromtimestamp(live_start + 12.5).isoformat(timespec="milliseconds")  # before it was stored
    later = call_monitor("alerts", "--db", tmp_path / "e.db", "--jsonl", "--since", since, timeout=60)
    assert [json.loads(r)["alert_id"] for r in later.stdout.splitlines()] == [replayed.alert_id], later.stderr


def test_an_alert_of_a_call_of_two_files_names_the_agents_file_beside_the_callers_while_the_call_runs(
        tmp_path, hook, leg_files):
    """A call whose legs are two files (``replay CALLER --agent AGENT --webhook``): its alerts' posts
    name the caller's file as ``recording``, as a call of one recording's do, and the agent's beside
    it as ``agent_recording``, from the first alert on (the call kept the agent's file from its start,
    not only in its summary at its end); a call of one recording names none."""
    from monitor.config import load_config
    from monitor.pipeline import CallPipeline

    _, caller, agent = leg_files
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05).start()
    try:
        cfg = load_config(user_config=False)
        call = CallPipeline(cfg, 8000, ("caller", "agent"), store=store, source=str(caller), agent_file=str(agent))
        assert call.call_id is not None and store.get_call(call.call_id).ended_at is None  # still running
        sink(store.add_alert(call.call_id, AlertEvent(t=12.0, kind="slow_speech", severity="warning", message="m")))
        sink(stored_alert(store, source=str(caller)))
        assert wait_for(lambda: len(hook.received) == 2, 30)
        (_, of_two), (_, of_one) = sorted(hook.received, key=lambda r: r[1]["alert_id"])
        assert (of_two["recording"], of_two["agent_recording"]) == ("caller.wav", "agent.wav")
        assert of_one["recording"] == "caller.wav" and "agent_recording" not in of_one
    finally:
        sink.close()
        store.close()


def test_a_sink_running_for_weeks_keeps_what_it_posts_of_the_last_calls_only(tmp_path, hook, monkeypatch):
    """What a post says of its call (the start, the recording) is kept for the last
    :data:`CALLS_KEPT` calls posted for, not for every call since the daemon started; an alert of a
    call no longer kept is posted with its call's start all the same (read from the store again)."""
    monkeypatch.setattr(webhook, "CALLS_KEPT", 2)
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05).start()
    try:
        starts = [time.time() - 600 + 60 * i for i in range(3)]
        first, *later = [stored_alert(store, started_at=t, source="live:caller=softphone.monitor") for t in starts]
        for alert in (first, *later):
            sink(alert)
        assert wait_for(lambda: len(hook.received) == 3, 30)
        assert list(sink._calls) == [a.call_id for a in later]
        sink(store.add_alert(first.call_id, AlertEvent(t=20.0, kind="slow_speech", severity="warning", message="m")))
        assert wait_for(lambda: len(hook.received) == 4, 30)
        assert abs(hook.received[-1][1]["at"] - (starts[0] + 20.0)) < 0.01
        assert len(sink._calls) == 2
    finally:
        sink.close()
        store.close()


def test_a_reload_reads_the_token_file_again(tmp_path, hook):
    """The supervisor's token was rotated: the agent writes the new one into the same token file
    and reloads (SIGHUP); what the daemon posts from then on carries it, not the one the console
    now refuses."""
    import numpy as np
    import soundfile as sf
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon

    token_file = tmp_path / "token"
    token_file.write_text("old-token-" + "a" * 32 + "\n")
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros((16000 * 2, 2), np.float32), 16000)
    overrides = {"storage.db": str(tmp_path / "e.db"), "delivery.webhook_url": hook.url,
                 "delivery.webhook_token_file": str(token_file)}
    cfg = load_config(overrides=overrides, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, token=read_token_file(str(token_file)), poll_s=0.05).start()
        try:
            daemon = Daemon(cfg, FileSource(silence), store, {}, webhook=sink,
                            reload=lambda: load_config(overrides=overrides, user_config=False))
            token_file.write_text("new-token-" + "b" * 32 + "\n")
            daemon.request_reload()
            assert daemon.run() == 0
            sink(stored_alert(store))
            assert wait_for(lambda: hook.received, 30)
            assert hook.authorizations == ["Bearer new-token-" + "b" * 32]
        finally:
            sink.close()


@pytest.mark.parametrize("renamed", [False, True], ids=["same_file", "another_file"])
def test_a_reload_whose_token_is_refused_is_the_reloads_problem_until_a_reload_applies_all_of_it(
        tmp_path, hook, monitor_logs, renamed):
    """A reload whose token file holds a token it refuses said `configuration reloaded` after its
    warning, and the reload that fixed it left the warning as `status`'s current problem for good. Now
    the warning is the reload's outcome, and the next reload applying all of it resolves it; a
    reload naming another token file, refused, does not say that file applies at the next start
    either (the next start would refuse it too)."""
    import soundfile as sf
    from conftest import CALLS
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon

    token_file = tmp_path / "token"
    token_file.write_text("shared-token-0123456789\n")
    x, sr = sf.read(CALLS / "normal_16k.wav", frames=16000 * 8, dtype="float32")
    sf.write(tmp_path / "call.wav", x, sr)
    overrides = {"storage.db": str(tmp_path / "e.db"), "delivery.webhook_url": hook.url,
                 "delivery.webhook_token_file": str(token_file)}
    written = iter(["shared-token-0123\u201d456789\n", "shared-token-0123456789\n"])
    reloaded_file = tmp_path / "token2" if renamed else token_file

    def reload():
        reloaded_file.write_text(next(written))
        return load_config(overrides=overrides | {"delivery.webhook_token_file": str(reloaded_file)},
                           user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, token=read_token_file(str(token_file)), poll_s=0.05).start()
        try:
            daemon = Daemon(load_config(overrides=overrides, user_config=False), FileSource(tmp_path / "call.wav"),
                            store, {}, webhook=sink, reload=reload)
            daemon.sinks["sighup"] = lambda ev: ev.type == "cues" and ev.t in (3.0, 5.0) and daemon.request_reload()
            assert daemon.run() == 0
        finally:
            sink.close()
    refused = (f"webhook not changed: {reloaded_file}: the token holds U+201D (character 18), which an HTTP header "
               "cannot carry: write the token alone, as ASCII text")
    assert [(level, m) for level, m in monitor_logs if "reloaded" in m or "webhook not" in m] == [
        ("warning", refused), ("info", "configuration reloaded")]
    shown = daemon.state()["last_problem"]
    assert (shown["message"], shown["resolved"]) == (refused, "configuration reloaded")


def test_a_reload_does_not_wait_on_a_token_pipe_the_start_read_and_refuses_another(tmp_path, hook, monitor_logs):
    """A token handed over in a pipe (``--webhook-token-file <(pass show ...)``, a named pipe) is
    read once, at the start: a reload read it again and the monitor waited for a writer that
    never came. The same pipe keeps the token the start read; another pipe is refused in one
    warning line, URL and token as they were."""
    import os
    import threading
    import numpy as np
    import soundfile as sf
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon

    pipes = [tmp_path / "token", tmp_path / "other"]
    for pipe in pipes:
        os.mkfifo(pipe)
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros((16000 * 2, 2), np.float32), 16000)
    overrides = {"storage.db": str(tmp_path / "e.db"), "delivery.webhook_url": hook.url,
                 "delivery.webhook_token_file": str(pipes[0])}
    token = "piped-token-" + "c" * 32  # what the start read from the pipe
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, token=token, poll_s=0.05).start()
        try:
            for reloaded in (overrides, overrides | {"delivery.webhook_token_file": str(pipes[1])}):
                daemon = Daemon(load_config(overrides=overrides, user_config=False), FileSource(silence), store, {},
                                webhook=sink, reload=lambda r=reloaded: load_config(overrides=r, user_config=False))
                daemon.request_reload()
                run = threading.Thread(target=daemon.run, daemon=True)
                run.start()
                run.join(30)
                assert not run.is_alive(), "the reload waits on the pipe"
            sink(stored_alert(store))
            assert wait_for(lambda: hook.received, 30)
            assert hook.authorizations == [f"Bearer {token}"]
        finally:
            sink.close()
    assert ("warning", f"webhook not changed: {pipes[1]}: a pipe: a reload reads a token from a file only (the "
                       "start reads one from a pipe)") in monitor_logs


def test_a_reload_while_a_heartbeat_is_being_built_sends_it_to_one_receiver_with_its_own_token(tmp_path, hook):
    """The supervisor moved (a new URL and its own token) and the daemon reloads while a heartbeat
    gathers the daemon's status: the beat goes to the new URL with the new token, never the new
    token to the old receiver (URL and token were read apart, around the status) nor, once the
    reload is done, anything to the old URL."""
    import numpy as np
    import soundfile as sf
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.sinks.webhook import Heartbeat, Identity

    moved = Hook()
    tokens = {}
    for name in ("old", "new"):
        tokens[name] = tmp_path / name
        tokens[name].write_text(f"{name}-token-" + "c" * 32 + "\n")
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros((16000, 2), np.float32), 16000)
    before = {"storage.db": str(tmp_path / "e.db"), "delivery.webhook_url": hook.url,
              "delivery.webhook_token_file": str(tokens["old"])}
    after = before | {"delivery.webhook_url": moved.url, "delivery.webhook_token_file": str(tokens["new"])}
    cfg = load_config(overrides=before, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, token=read_token_file(str(tokens["old"])), poll_s=0.05).start()
        try:
            daemon = Daemon(cfg, FileSource(silence), store, {}, webhook=sink,
                            reload=lambda: load_config(overrides=after, user_config=False))

            def status_during_a_reload():
                daemon.request_reload()
                assert daemon.run() == 0  # the capture loop reloads meanwhile
                return daemon.heartbeat_status()

            daemon.heartbeat = Heartbeat(hook.url, Identity("agent", store.instance_id()), status_during_a_reload,
                                         every_s=3600.0, token=read_token_file(str(tokens["old"])))
            assert daemon.heartbeat.beat()
            assert (hook.heartbeats, hook.authorizations) == ([], [])
            assert len(moved.heartbeats) == 1 and moved.authorizations == ["Bearer new-token-" + "c" * 32]
        finally:
            sink.close()
            moved.close()


def test_the_alerts_command_says_where_each_alert_got_to(tmp_path, hook):
    """`call-monitor alerts` tells an operator whether each alert reached the supervisor: delivered
    (when), still queued (the failed attempts, why, the next try), failed for good, or never sent
    (raised with no webhook: none set, or a batch or replay); `--jsonl` gives the outbox rows themselves.
    A next try to come is made by its sender if it still runs (a replay with --webhook may have
    ended), else by the next daemon or replay --webhook to open the database."""
    import json

    from conftest import call_monitor

    store = Store.open(tmp_path / "e.db")
    try:
        unsent = stored_alert(store)  # raised before any webhook was configured
        delivered, gave_up, queued = stored_alert(store), stored_alert(store), stored_alert(store)
        sink = WebhookSink(store, hook.url, poll_s=0.05).start()
        sink(delivered)
        assert wait_for(lambda: store.deliveries("delivered"), 30)
        sink.close()
        hook.up = False  # 503 from now on
        sink = WebhookSink(store, hook.url, retries=1, backoff_s=0.05, poll_s=0.05).start()
        sink(gave_up)
        assert wait_for(lambda: store.deliveries("failed"), 30)
        sink.close()
        sink = WebhookSink(store, hook.url, backoff_s=600.0, poll_s=0.05).start()
        sink(queued)
        assert wait_for(lambda: sink.failures >= 1 and store.deliveries("pending")[0].attempts, 30)
        sink.close()
    finally:
        store.close()
    done = call_monitor("alerts", "--db", tmp_path / "e.db", timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].endswith("[webhook: not sent (raised with no webhook: none set, or a batch or replay)]")
    assert re.search(r"\[webhook: delivered \d\d:\d\d:\d\d\]$", lines[1]), lines[1]
    assert lines[2].endswith("[webhook: failed for good after 2 attempts (HTTP 503 Service Unavailable)]")
    assert re.search(r"\[webhook: queued, 1 attempt failed \(HTTP 503 Service Unavailable\), next try "
                     r"\d\d:\d\d:\d\d if its sender still runs, else when a daemon or a replay --webhook opens "
                     r"this database\]$", lines[3]), lines[3]
    done = call_monitor("alerts", "--db", tmp_path / "e.db", "--jsonl", timeout=60)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["alert_id"] for r in rows] == [a.alert_id for a in (unsent, delivered, gave_up, queued)]
    assert [[d["status"] for d in r["deliveries"]] for r in rows] == [[], ["delivered"], ["failed"], ["pending"]]
    assert [r["posted_id"] for r in rows] == [None, delivered.alert_id, gave_up.alert_id, queued.alert_id]
    assert rows[1]["deliveries"][0]["target"] == hook.url and rows[1]["deliveries"][0]["delivered_at"]
    assert rows[3]["deliveries"][0]["next_attempt_at"] and rows[1]["deliveries"][0]["next_attempt_at"] is None


def test_the_alerts_command_dates_a_delivery_of_another_day_and_a_due_retry_waits_for_the_daemon(tmp_path):
    """An alert raised two days ago and delivered today says the day it was delivered, not a time
    that reads as the alert's day; an alert whose retry came due while no daemon ran says it is
    due now, tried when a daemon or a replay with --webhook opens the database, not a time already
    past; so does one whose retry lies further ahead than delivery.max_backoff_s (300 s), which only
    a wall clock stepped back makes and the sender takes as due at once; one within it says its time."""
    import sqlite3

    from conftest import call_monitor

    with Store.open(tmp_path / "e.db") as store:
        late, waiting = stored_alert(store), stored_alert(store)
        store.mark_delivered(store.enqueue_delivery(late.alert_id, "http://127.0.0.1:9/hook"))
        queued = store.enqueue_delivery(waiting.alert_id, "http://127.0.0.1:9/hook")
        store.mark_failed(queued, time.time() - 3600, "Connection refused")  # the daemon stopped an hour ago
        for ahead_s in (3000.0, 100.0):  # the clock stepped back by an hour since; a retry within the longest wait
            store.mark_failed(store.enqueue_delivery(stored_alert(store).alert_id, "http://127.0.0.1:9/hook"),
                              time.time() + ahead_s, "Connection refused")
    conn = sqlite3.connect(tmp_path / "e.db")
    conn.execute("UPDATE alerts SET created_at = created_at - 2 * 86400 WHERE id = ?", (late.alert_id,))
    conn.commit()
    conn.close()
    done = call_monitor("alerts", "--db", tmp_path / "e.db", timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    today = time.strftime("%Y-%m-%d")
    assert re.search(rf"\[webhook: delivered {today} \d\d:\d\d:\d\d\]$", lines[0]), lines[0]
    due_now = ("[webhook: queued, 1 attempt failed (Connection refused), next try due now, when a daemon or a "
               "replay --webhook opens this database]")
    assert lines[1].endswith(due_now) and lines[2].endswith(due_now), lines[1:3]
    assert re.search(r"next try (\S+ )?\d\d:\d\d:\d\d if its sender still runs, else when a daemon", lines[3]), lines[3]


def test_alerts_of_a_database_no_webhook_ever_took_have_no_delivery_column(tmp_path):
    from conftest import call_monitor

    with Store.open(tmp_path / "e.db") as store:
        stored_alert(store)
    done = call_monitor("alerts", "--db", tmp_path / "e.db", timeout=60)
    assert done.returncode == 0 and done.stdout.rstrip().endswith("possible_emergency: several cues agree")


def test_a_stopping_daemons_last_beat_reaches_the_console_after_one_still_on_its_way(tmp_path):
    """The console is slow (it takes 1.5 s to store a beat) and the daemon stops while a beat is
    still on its way: the stopped beat is posted after that one is answered, so the console's last
    word on the daemon is that it stopped, never the running beat stored over it."""
    import http.server
    import json
    import threading

    from monitor.delivery.sinks.webhook import Heartbeat, Identity

    stored, first_in = [], threading.Event()

    class SlowConsole(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            beat = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if not beat["status"].get("stopped"):
                first_in.set()
                time.sleep(1.5)
            stored.append(beat["status"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowConsole)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        heartbeat = Heartbeat(f"http://127.0.0.1:{server.server_address[1]}/hook", Identity("agent", "d1"),
                              lambda: {"call": None}, every_s=3600.0).start()
        assert first_in.wait(20)
        heartbeat.close()
        assert stored == [{"call": None, "next_beat_s": 3600.0}, {"call": None, "next_beat_s": 3600.0, "stopped": True}]
    finally:
        server.shutdown()
        server.server_close()


def test_a_heartbeat_or_webhook_that_delivers_again_leaves_its_failure_resolved_in_the_daemons_last_problem(
        tmp_path, hook):
    """The console down, then up: the heartbeat's failure (a warning) stays the daemon's last problem,
    now marked resolved by its "delivered again" (an info line), not current; the webhook's outage
    alike, and the sink says it fails no more while keeping the failures earlier and their error."""
    import logging

    from monitor.daemon_status import LastProblem
    from monitor.delivery.sinks.webhook import Heartbeat, Identity

    problems = LastProblem()
    logger = logging.getLogger("monitor")
    logger.addHandler(problems)
    level = logger.level
    logger.setLevel(logging.INFO)
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, backoff_s=0.2, max_backoff_s=0.4, timeout_s=2, poll_s=0.05)
    try:
        heartbeat = Heartbeat(hook.url, Identity("agent", "d1"), lambda: {"call": None}, every_s=3600.0)
        hook.up = False
        assert not heartbeat.beat()
        failed = problems.problem
        assert failed["source"] == "heartbeat" and "resolved_at" not in failed
        hook.up = True
        assert heartbeat.beat()
        assert problems.problem == failed | {"resolved_at": problems.problem["resolved_at"],
                                             "resolved": f"heartbeat {hook.url}: delivered again"}

        hook.up = False
        sink.start()
        sink(stored_alert(store))
        assert wait_for(lambda: sink.failures >= 2, 30) and sink.failing
        assert problems.problem["source"] == "webhook" and "resolved_at" not in problems.problem
        hook.up = True
        assert wait_for(lambda: len(hook.received) == 1, 30)
        assert wait_for(lambda: "resolved_at" in problems.problem, 30), problems.problem
        assert not sink.failing and sink.failures >= 2 and "503" in sink.last_error
        assert problems.problem["resolved"].startswith(f"webhook {hook.url}: delivering again (alert 1 delivered")
    finally:
        sink.close()
        store.close()
        logger.removeHandler(problems)
        logger.setLevel(level)


def test_a_heartbeat_asked_to_wait_posts_nothing_before_then_however_its_devices_change_and_beats_once_it_is_over(
        hook, monitor_logs):
    """A receiver answering a beat 429 with Retry-After: 3: the next beat is not posted before those
    3 s (a change of what is watched, which beats at once, neither: here it changes at every look),
    nor an every_s (an hour) later, but as the wait ends; no failed beat is counted, one warning line
    says the wait and one info line the beat delivered after it."""
    import itertools

    from monitor.delivery.sinks.webhook import Heartbeat, Identity

    hook.refuse, hook.retry_after = 429, "3"
    changes = itertools.count()
    heartbeat = Heartbeat(hook.url, Identity("agent", "d1"), lambda: {"call": None}, every_s=3600.0,
                          watch=lambda: next(changes), watch_s=0.05).start()
    try:
        assert wait_for(lambda: hook.refused_at, 30)
        waiting = heartbeat.state()
        hook.refuse = None
        assert wait_for(lambda: hook.heartbeats, 30)
        assert wait_for(lambda: heartbeat.sent, 30)  # its answer read
        after = heartbeat.state()
    finally:
        heartbeat.close()
    assert len(hook.refused_at) == 1, hook.refused_at  # not once a change of the devices
    assert hook.heartbeats[0][0] - hook.refused_at[0] >= 3.0
    assert (waiting["failures"], waiting["failing"], waiting["waiting"]["reason"]) == (0, False,
                                                                                      "HTTP 429 Too Many Requests")
    assert (after["sent"], after["failures"], after["failing"], after["waiting"]) == (1, 0, False, None)
    said = [(level, m) for level, m in monitor_logs if level != "debug"]
    assert said == [("warning", f"heartbeat {hook.url}: the next beat waits 3.0 s, as the receiver asks (HTTP 429 "
                                "Too Many Requests); said again at most every 60 s"),
                    ("info", f"heartbeat {hook.url}: delivered after the wait the receiver asked for")], said


def test_a_wait_the_receiver_asks_after_a_failure_shows_the_failure_as_past_beside_the_wait_not_failing_now(
        hook, tmp_path, monitor_logs):
    """A receiver that failed a post (500), then answered the next ones 503 with Retry-After: the
    daemon's status said "failing now: HTTP 500 ... (1 failure(s)), waiting 1.0 s as the receiver
    asks (HTTP 503 ...)", and of the heartbeats "failing (HTTP 500 ...), waiting ...": a failure the
    receiver's answer ended, shown as current beside it. The webhook's line says the wait, and the
    failure as earlier, with its time and why; once the receiver takes the posts, that it delivers.
    The heartbeat's failure said is still said over by the beat delivered."""
    from monitor.commands.status import render
    from monitor.daemon_status import webhook_state
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    from test_status_text import STATE

    def line() -> str:
        shown = render(dict(STATE, webhook=webhook_state(sink, heartbeat)))
        return next(ln for ln in shown.splitlines() if ln.startswith("  webhook "))

    hook.refuse = 500
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, backoff_s=0.2, max_backoff_s=0.4, poll_s=0.05)
    heartbeat = Heartbeat(hook.url, Identity("agent", "d1"), lambda: {"call": None}, every_s=3600.0)
    try:
        sink.start()
        sink(stored_alert(store))
        assert wait_for(lambda: sink.failures, 30) and not heartbeat.beat()
        assert line().startswith(f"  webhook {hook.url}: delivered 0, failing now: HTTP 500 Internal Server Error")
        hook.refuse, hook.retry_after = 503, "1"
        assert wait_for(lambda: sink.waiting() is not None, 30) and not heartbeat.beat()
        waiting, state = line(), webhook_state(sink, heartbeat)
        hook.refuse = None
        assert wait_for(lambda: hook.received, 30) and wait_for(lambda: heartbeat.state()["waiting"] is None, 30)
        assert heartbeat.beat()
        delivered = line()
    finally:
        sink.close()
        store.close()
    assert (state["failures"], state["failing"], state["heartbeat"]["failures"], state["heartbeat"]["failing"]) == \
        (1, False, 1, False)
    earlier = (f"1 failure(s) earlier, the last at {time.strftime('%H:%M:%S', time.localtime(sink.last_failure_at))}: "
               "HTTP 500 Internal Server Error")
    assert waiting.startswith(f"  webhook {hook.url}: delivered 0, {earlier}, waiting "), waiting
    assert "failing" not in waiting and waiting.count("s as the receiver asks (HTTP 503 Service Unavailable)") == 2
    assert delivered == f"  webhook {hook.url}: delivered 1, delivering; {earlier}; heartbeats sent 1", delivered
    assert ("info", f"heartbeat {hook.url}: delivered again") in monitor_logs


@pytest.mark.parametrize("asked", ["0", "Wed, 21 Oct 2015 07:27:00 GMT"], ids=["no time", "a date gone by"])
def test_a_heartbeat_asked_to_wait_no_time_waits_a_second_not_posting_again_and_again(hook, asked):
    """A receiver (a proxy before the console, a clock behind) asking for a wait of no time: the
    heartbeat, which has no pause of its own between posts, posted again at once, some 1,500 times in
    2 s, to a receiver saying it has too many. It waits a second between them."""
    from monitor.delivery.sinks.webhook import MIN_ASKED_WAIT_S, Heartbeat, Identity

    hook.refuse, hook.retry_after = 429, asked
    heartbeat = Heartbeat(hook.url, Identity("agent", "d1"), lambda: {"call": None}, every_s=3600.0,
                          watch_s=0.05).start()
    try:
        assert wait_for(lambda: len(hook.refused_at) >= 3, 30)
    finally:
        heartbeat.close()
    refused = list(hook.refused_at)
    gaps = [b - a for a, b in zip(refused, refused[1:])]
    assert min(gaps) >= MIN_ASKED_WAIT_S - 0.05, gaps
    assert heartbeat.failures == 0


def test_a_heartbeat_waiting_as_one_receiver_asks_beats_at_once_to_the_new_url_a_reload_gives(hook):
    """The old receiver's wait (60 s) is not the new one's: a reload's new URL gets the next beat at
    once, as the webhook's alerts go there at once."""
    from monitor.delivery.sinks.webhook import Heartbeat, Identity

    hook.refuse, hook.retry_after = 429, "60"
    new = Hook()
    heartbeat = Heartbeat(hook.url, Identity("agent", "d1"), lambda: {"call": None}, every_s=3600.0,
                          watch_s=0.05).start()
    try:
        assert wait_for(lambda: heartbeat.state()["waiting"], 30)
        heartbeat.retarget(new.url, None)
        assert wait_for(lambda: new.heartbeats, 30)
        assert wait_for(lambda: heartbeat.sent == 1, 30)
        state = heartbeat.state()
    finally:
        heartbeat.close()
        new.close()
    assert (len(hook.refused_at), state["failures"], state["waiting"]) == (1, 0, None)


def test_a_daemon_stopping_while_the_receiver_asks_its_heartbeat_to_wait_posts_no_stopped_beat_and_says_why(
        hook, monitor_logs):
    """The receiver would refuse the stopped beat alike (the console's bucket is empty until the
    wait ends), and the daemon does not stay to wait: no post, one line saying the console will show
    the daemon silent rather than stopped."""
    from monitor.delivery.sinks.webhook import Heartbeat, Identity

    hook.refuse, hook.retry_after = 429, "60"
    heartbeat = Heartbeat(hook.url, Identity("agent", "d1"), lambda: {"call": None}, every_s=3600.0).start()
    try:
        assert wait_for(lambda: heartbeat.state()["waiting"], 30)
    finally:
        heartbeat.close()
    assert (len(hook.refused_at), hook.heartbeats, heartbeat.failures) == (1, [], 0)
    said = [m for level, m in monitor_logs if level == "info"]
    assert len(said) == 1 and said[0].startswith(f"heartbeat {hook.url}: the stopped beat is not posted: the "
                                                 "receiver asked to wait "), said


def test_a_daemon_s_problem_longer_than_the_console_takes_is_sent_cut_with_an_ellipsis(tmp_path):
    """A warning of 5000 characters (a long path in an error): the daemon's last problem carries it
    cut to the console's longest line with "...", so its heartbeats stay ones the console takes."""
    import logging

    from monitor.daemon_status import LastProblem
    from monitor.supervisor.heartbeat import LINE_CHARS, status_problem

    problems = LastProblem()
    long_path = "/data/" + "x" * 5000
    problems.emit(logging.LogRecord("monitor", logging.WARNING, __file__, 1, "store %s: disk full", (long_path,), None))
    said = problems.problem["message"]
    assert len(said) == LINE_CHARS and said.startswith("store /data/xxx") and said.endswith("...")
    assert status_problem({"last_error": problems.problem}) is None


def test_a_missing_token_file_named_in_the_configuration_is_said_with_the_key_and_the_file_that_named_it(
        tmp_path, hook, capsys, monitor_logs):
    """`delivery.webhook_token_file` in config.toml names a file that is not there: one line naming
    the configuration file and the key as well as the token file, exit 2, nothing replayed or
    made, and no traceback; given by `--webhook-token-file` it names the file the option gave. A
    reload that names such a file keeps the webhook as it was, said in one warning line naming them."""
    import threading

    import numpy as np
    import soundfile as sf
    from monitor import cli
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon

    missing = tmp_path / "missing.token"
    conf = tmp_path / "config.toml"
    conf.write_text(f'[delivery]\nwebhook_token_file = "{missing}"\n')
    call = tmp_path / "call.wav"
    sf.write(call, np.zeros((8000 * 2, 2), np.float32), 8000)
    db = tmp_path / "e.db"
    live = tmp_path / "live.db"
    (tmp_path / "token").write_text("a-token-0123456789\n")
    overrides = {"storage.db": str(live), "delivery.webhook_url": hook.url,
                 "delivery.webhook_token_file": str(tmp_path / "token")}
    with Store.open(live) as store:
        sink = WebhookSink(store, hook.url, token="a-token-0123456789", poll_s=0.05).start()
        try:
            daemon = Daemon(load_config(overrides=overrides, user_config=False), FileSource(call), store, {},
                            webhook=sink, reload=lambda: load_config(conf, {"storage.db": str(live),
                                                                            "delivery.webhook_url": hook.url},
                                                                     user_config=False))
            daemon.request_reload()
            run = threading.Thread(target=daemon.run, daemon=True)
            run.start()
            run.join(30)
            assert not run.is_alive()
        finally:
            sink.close()
    assert ("warning", f"webhook not changed: {conf}: delivery.webhook_token_file: {missing}: no such token "
                       "file") in monitor_logs
    capsys.readouterr()  # what the daemon said (on stderr too once a command set up its logging)
    assert cli.main(["replay", "--no-transcribe", "--db", str(db), "--config", str(conf), "--webhook", hook.url,
                     str(call)]) == 2
    assert capsys.readouterr().err == \
        f"call-monitor: error: {conf}: delivery.webhook_token_file: {missing}: no such token file\n"
    assert cli.main(["replay", "--no-transcribe", "--db", str(db), "--webhook", hook.url,
                     "--webhook-token-file", str(missing), str(call)]) == 2
    assert capsys.readouterr().err == f"call-monitor: error: {missing}: no such token file\n"
    assert not db.exists()


class Trickler:
    """A receiver on 127.0.0.1 that reads each post whole, then answers it a byte every 0.1 s: a
    204 whose headers would take a minute to come, each byte well within any socket timeout;
    ``silent``, one that never answers (nor closes the connection) at all."""

    ANSWER = b"HTTP/1.1 204 No Content\r\nX-Padding: " + b"." * 600 + b"\r\n\r\n"

    def __init__(self, silent: bool = False) -> None:
        import socket
        import threading
        self.silent = silent
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.posts = 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import threading
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096) or b"\r\n\r\n"
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            body = head.partition(b"\r\n\r\n")[2]
            while len(body) < length:
                body += conn.recv(4096) or b" " * length
            self.posts += 1
            if self.silent:
                self.stop.wait()
                return
            for i in range(len(self.ANSWER)):
                if self.stop.wait(0.1):
                    return
                try:
                    conn.sendall(self.ANSWER[i:i + 1])
                except OSError:  # the poster gave up
                    return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def trickler():
    receiver = Trickler()
    yield receiver
    receiver.close()


@pytest.fixture
def silent():
    """A receiver that takes each post and never answers."""
    receiver = Trickler(silent=True)
    yield receiver
    receiver.close()


class Unaccepting:
    """A listener on 127.0.0.1 that takes no connection: its backlog of none is held full by one
    connection of its own, so that the system drops the next one's SYN and that connection stays
    connecting (as a receiver behind a firewall that drops, or a server too busy to take any)."""

    def __init__(self) -> None:
        import socket
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.held = socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def connecting(self) -> int:
        """How many connections to it are still connecting (SYN_SENT in /proc/net/tcp)."""
        rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        return sum(row[2] == f"0100007F:{self.port:04X}" and row[3] == "02" for row in rows)

    def close(self) -> None:
        self.held.close()
        self.listener.close()


class Mute:
    """A listener on 127.0.0.1 that takes each connection and says nothing on it (no TLS handshake
    for an https:// post, no answer), holding it open; ``taken`` counts them."""

    def __init__(self) -> None:
        import socket
        import threading
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.held: list = []
        threading.Thread(target=self._take, daemon=True).start()

    @property
    def taken(self) -> int:
        return len(self.held)

    def _take(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:  # closed
                return

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def mute():
    receiver = Mute()
    yield receiver
    receiver.close()


@pytest.fixture
def unaccepting():
    receiver = Unaccepting()
    yield receiver
    receiver.close()


def test_a_receiver_that_trickles_its_answer_is_given_up_at_the_timeout_and_the_alert_waits_in_the_outbox(
        tmp_path, monitor_logs, trickler):
    """``timeout_s`` bounds the whole post, not each wait for the next byte: a receiver answering a
    byte at a time is given up (``timed out``, as one that does not answer), the alert stays pending
    for the next try, and what waits behind it is not held for the minute the answer would take."""
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, trickler.url, backoff_s=30.0, timeout_s=0.5, poll_s=0.05).start()
        try:
            sink(stored_alert(store))
            assert wait_for(lambda: sink.failures >= 1, 20), "the post is still held by the trickled answer"
            (d,) = store.deliveries()
        finally:
            sink.close()
    assert trickler.posts == 1
    assert (d.status, d.attempts, d.last_error) == ("pending", 1, "timed out")
    assert any(lvl == "warning" and "alert 1 not delivered" in m and "timed out" in m for lvl, m in monitor_logs)


def test_a_heartbeat_to_a_receiver_that_trickles_its_answer_is_given_up_at_the_timeout(trickler):
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    heartbeat = Heartbeat(trickler.url, Identity("agent", "d1"), lambda: {"call": None}, every_s=3600.0,
                          timeout_s=0.5).start()
    try:
        assert wait_for(lambda: heartbeat.failures >= 1, 20), "the beat is still held by the trickled answer"
        assert heartbeat.last_error == "timed out"
    finally:
        heartbeat.close()


def test_a_daemon_whose_report_link_the_console_leaves_out_says_so_once_and_beats_on(tmp_path):
    """Should a daemon make a call report link the console takes for none a daemon makes (they
    disagree: a console of another release), the console takes the beat without it and names it in
    its answer; the daemon says so in one warning line, the first time only, and its beats go on
    delivered."""
    import logging

    from console_proc import ConsoleProcess
    from monitor.delivery.sinks.webhook import Heartbeat, Identity

    reports = [{"call_id": 7, "url": "https://reports.example/call-7-report.html"},
               {"call_id": 8, "url": "https://reports.example/call-8-report.htm"}]
    said: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = said.append
    logger = logging.getLogger("monitor")
    logger.addHandler(handler)
    console = ConsoleProcess(tmp_path)
    try:
        heartbeat = Heartbeat(console.webhook, Identity("alice", "d-test"), lambda: {"reports": reports},
                              every_s=3600.0, token=console.token)
        assert heartbeat.beat() and heartbeat.beat()
        assert heartbeat.state()["failing"] is False
        lines = [r.getMessage() for r in said]
        assert len(lines) == 1 and "left out 1 call report link" in lines[0], lines
        assert reports[1]["url"] in lines[0] and "status.reports[1].url: expected a link to call 8's report" in lines[0]
        assert [g["status"]["reports"] for g in console.state()["agents"]] == [reports[:1]]
    finally:
        logger.removeHandler(handler)
        console.kill()


def test_alerts_jsonl_gives_each_delivered_alert_the_daemon_id_its_post_went_under_as_its_outbox_row_keeps_it(
        tmp_path, hook):
    """A daemon started while its database could not be opened posts its whole run under an id of
    its own (``unopened-...``), which the database does not hold as its id: the outbox row keeps the
    id the delivering post went under, and ``alerts --jsonl`` gives it, the key the receiver has the
    alert by; an alert not delivered yet is given the id the database posts under."""
    from monitor.delivery.sinks.webhook import Identity
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05, identity=Identity("alice", "unopened-5e1f")).start()
    try:
        posted = stored_alert(store)
        sink(posted)
        assert wait_for(lambda: [d.status for d in store.deliveries()] == ["delivered"], 30), store.deliveries()
    finally:
        sink.close()
    hook.up = False
    waiting = stored_alert(store)
    store.enqueue_delivery(waiting.alert_id, hook.url)
    daemon_id = store.instance_id()
    store.close()
    done = call_monitor("alerts", "--jsonl", "--db", tmp_path / "e.db")
    assert done.returncode == 0, done.stderr
    exported = {row["alert_id"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert hook.received[0][1]["daemon_id"] == "unopened-5e1f"
    assert (exported[posted.alert_id]["daemon_id"], exported[posted.alert_id]["posted_id"]) == (
        "unopened-5e1f", posted.alert_id)
    assert (exported[waiting.alert_id]["daemon_id"], exported[waiting.alert_id]["posted_id"]) == (
        daemon_id, waiting.alert_id)


def test_two_alerts_posted_from_memory_of_a_call_not_stored_each_carry_a_delivery_header_of_their_own(tmp_path, hook):
    """Two alerts of one kind at one second of a call the database could not store (no call id):
    each post carries its own ``X-Callmonitor-Delivery`` (a receiver taking a retried post once by it
    would drop the second alert), the same on every retry of it."""
    seen = []
    hook.refuses = lambda post: (seen.append((post["alert_id"], hook.headers[-1]["X-Callmonitor-Delivery"]))
                                 or (503 if len(seen) <= 2 else None))
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, poll_s=0.05, backoff_s=0.1, max_backoff_s=0.2).start()
    try:
        for _ in range(2):
            sink(AlertEvent(t=12.0, kind="long_pauses", severity="warning", message="m"))
        assert wait_for(lambda: len(hook.received) == 2, 30), seen
    finally:
        sink.close()
        store.close()
    tags = {alert_id: {tag for posted, tag in seen if posted == alert_id} for alert_id, _ in seen}
    assert len(seen) == 4 and len(tags) == 2, seen  # each refused once, then taken
    assert all(posted == {f"memory-{alert_id}"} for alert_id, posted in tags.items()), tags
