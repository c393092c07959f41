"""A supervisor's acknowledgement on the console reaches the agent whose daemon raised the alert.

The daemon listens on no port: the console tells it in the answer to its heartbeat. Real console
processes on 127.0.0.1, the real heartbeat, and a real daemon replaying a fixture call through its
real webhook sink.
"""

from __future__ import annotations

import contextlib
import io
import json
import time

import pytest

from console_proc import ConsoleProcess, alert_body

from conftest import CALLS, wait_for

from monitor import cli
from monitor.delivery.acks import ACKS_PER_ANSWER, acked_events


def _beat(daemon_id: str = "d-test", agent: str = "alice", taken: tuple[int, ...] = ()) -> dict:
    """A daemon's heartbeat; ``taken``: the alert ids it took from the last answer."""
    return {"type": "heartbeat", "source": "call-monitor", "daemon_id": daemon_id, "agent": agent, "every_s": 5,
            "status": {}, **({"acks_taken": list(taken)} if taken else {})}


def _ack(console: ConsoleProcess, alert_id: int, by: str = "Dana", **extra) -> int:
    """Post alert ``alert_id`` (of daemon d-test) and acknowledge it as ``by``: its console id."""
    status, body = console.post(alert_body(alert_id, **extra))
    assert status == 201, body
    assert console.request("POST", f"/api/alerts/{body['id']}/ack", json.dumps({"by": by}).encode())[0] == 200
    return body["id"]


@pytest.fixture
def console(tmp_path):
    c = ConsoleProcess(tmp_path / "console")
    yield c
    c.kill()


FORWARDED_HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "X-Forwarded-Host": "console.example"}
"""What a client may claim of a proxy in front ending TLS: never read."""


def test_a_console_behind_a_proxy_that_ends_tls_marks_its_session_cookie_secure_only_when_told(tmp_path):
    """Behind a proxy that ends TLS the console serves plain HTTP: ``--public-url https://...``
    (``supervisor.public_url``) marks the session cookie Secure, and a browser's request from that
    origin, or https and the host asked for, that sends no ``Sec-Fetch-Site``, is the page's own;
    another origin is still refused. Without it, neither (whatever ``X-Forwarded-*`` headers a client
    sends: :func:`test_a_page_of_another_origin_cannot_acknowledge_or_read_with_the_supervisors_session`)."""
    proxied = ConsoleProcess(tmp_path / "proxied", extra=("--public-url", "HTTPS://Console.Example:443/"))
    try:
        assert "; Secure" in proxied.set_cookie() and "HttpOnly" in proxied.set_cookie()
        cookie = proxied.session_cookie()
        for origin in ("https://console.example", proxied.base.replace("http://", "https://"), proxied.base):
            assert proxied.request("GET", "/api/state", token=None, headers={"Cookie": cookie, "Origin": origin})[0] \
                == 200, origin
        for origin in ("http://console.example", "https://console.example:8443", "https://evil.example"):
            status, said = proxied.request("GET", "/api/state", token=None, headers={"Cookie": cookie, "Origin": origin})
            assert (status, json.loads(said)["code"]) == (403, "cross_origin"), origin
    finally:
        proxied.kill()


def test_a_heartbeat_is_answered_with_the_acknowledgement_of_its_daemons_alert(console):
    _ack(console, 4, t=95.0, call_id=7)
    status, answer = console.post(_beat())
    assert status == 200
    (ack,) = answer["acks"]
    assert {k: ack[k] for k in ("alert_id", "call_id", "t", "kind", "severity", "by")} == {
        "alert_id": 4, "call_id": 7, "t": 95.0, "kind": "possible_emergency", "severity": "critical", "by": "Dana"}
    assert abs(ack["at"] - time.time()) < 60


def test_a_page_of_another_origin_cannot_acknowledge_or_read_with_the_supervisors_session(console):
    """A browser sends the console's session cookie from a page of another port of this host (the
    same site, to SameSite=Strict) too: a request whose ``Origin`` is not the console's, or that the
    browser marks cross-site or same-site, is refused (403, ``cross_origin``) and acknowledges nothing;
    the console's own page, and an API client's bearer token, are served. A console on 127.0.0.1
    answers 421 to a request addressed to another name (DNS rebinding), whatever its token. Every
    answer is marked not to be sniffed, cached or framed, and names no referrer."""
    status, posted = console.post(alert_body(1))
    cookie = console.session_cookie()
    ack = json.dumps({"by": "Mallory"}).encode()
    for foreign in ({"Origin": "http://127.0.0.1:9"}, {"Origin": "null"}, {"Sec-Fetch-Site": "same-site"},
                    {"Sec-Fetch-Site": "cross-site", "Origin": console.base}):
        for method, path, body in (("POST", f"/api/alerts/{posted['id']}/ack", ack), ("GET", "/api/state", None)):
            status, said = console.request(method, path, body, token=None, headers={"Cookie": cookie, **foreign})
            assert (status, json.loads(said)["code"]) == (403, "cross_origin"), (foreign, path, said)
    assert console.state()["alerts"][0]["acked_by"] is None
    assert console.request("GET", "/api/state", token=None, headers={"Cookie": cookie, "Origin": console.base})[0] == 200
    # a browser that sends no Sec-Fetch-Site: https and this host, or a proxy's name, is the console's own
    # page only behind a proxy that ends TLS, which supervisor.public_url declares, whatever X-Forwarded-*
    # headers claim (test_a_console_behind_a_proxy_that_ends_tls_...); nor is the cookie Secure
    for origin in (console.base.replace("http://", "https://"), "https://console.example"):
        status, said = console.request("GET", "/api/state", token=None,
                                       headers={"Cookie": cookie, "Origin": origin, **FORWARDED_HTTPS})
        assert (status, json.loads(said)["code"]) == (403, "cross_origin"), origin
    assert "Secure" not in console.set_cookie() and "Secure" not in console.set_cookie(FORWARDED_HTTPS)
    # its own page, behind a proxy too (another scheme and host in Origin), the browser says same-origin
    own = {"Cookie": cookie, "Origin": "https://console.example", "Sec-Fetch-Site": "same-origin"}
    status, headers, said = console.exchange("POST", f"/api/alerts/{posted['id']}/ack", b'{"by": "Dana"}',
                                             token=None, headers=own)
    assert (status, json.loads(said)["acked_by"]) == (200, "Dana")
    assert console.request("GET", "/api/state", token="", headers={"Origin": "http://127.0.0.1:9"})[0] == 200
    # listening on 127.0.0.1, it answers requests addressed to loopback only: a rebound name reaches nothing
    for host in ("evil.example", f"evil.example:{console.port}", "127.0.0.1.nip.io", "[2001:db8::1]:80"):
        status, said = console.request("GET", "/api/state", headers={"Host": host})
        assert status == 421 and "loopback" in json.loads(said)["error"], host
    for host in (f"localhost:{console.port}", f"[::1]:{console.port}", "127.0.0.1"):
        assert console.request("GET", "/api/state", headers={"Host": host})[0] == 200, host
    for method, path in (("POST", f"/api/alerts/{posted['id']}/ack"), ("GET", "/no-such-page"), ("GET", "/api/state")):
        status, headers, _ = console.exchange(method, path, b'{"by": "Dana"}' if method == "POST" else None)
        assert (headers["X-Content-Type-Options"], headers["Cache-Control"], headers["Referrer-Policy"],
                headers["X-Frame-Options"]) == ("nosniff", "no-store", "no-referrer", "DENY"), (path, status)


def test_an_acknowledgement_is_told_no_more_once_the_daemons_next_heartbeat_says_it_took_it(console):
    _ack(console, 4)
    assert "acks" in console.post(_beat())[1]
    assert console.post(_beat(taken=(4,)))[1] == {"ok": True}  # the answer an earlier release's daemon reads
    assert console.post(_beat())[1] == {"ok": True}


def test_an_acknowledgement_the_daemon_did_not_say_it_took_is_told_again(console):
    """An answer lost on its way (the beat timed out after the console answered) is not the end of it."""
    _ack(console, 4)
    assert [a["alert_id"] for a in console.post(_beat())[1]["acks"]] == [4]
    assert [a["alert_id"] for a in console.post(_beat())[1]["acks"]] == [4]


def test_another_daemons_heartbeat_is_not_told_of_the_acknowledgement(console):
    _ack(console, 4)
    assert console.post(_beat("d-other", "bob"))[1] == {"ok": True}
    assert [a["alert_id"] for a in console.post(_beat())[1]["acks"]] == [4]


def test_an_answer_carries_a_bounded_number_of_acknowledgements_the_rest_with_the_next_beat(console):
    for alert_id in range(1, ACKS_PER_ANSWER + 4):
        _ack(console, alert_id)
    first = [a["alert_id"] for a in console.post(_beat())[1]["acks"]]
    second = [a["alert_id"] for a in console.post(_beat(taken=tuple(first)))[1]["acks"]]
    assert first == list(range(1, ACKS_PER_ANSWER + 1))  # the earliest acknowledgements first
    assert second == list(range(ACKS_PER_ANSWER + 1, ACKS_PER_ANSWER + 4))


def test_the_daemons_heartbeat_says_it_took_the_acknowledgement_and_is_told_it_no_more(console):
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    _ack(console, 4)
    taken = []
    heartbeat = Heartbeat(console.webhook, Identity("alice", "d-test"), lambda: {}, every_s=3600.0,
                          token=console.token, acked=taken.append)
    assert heartbeat.beat() and heartbeat.beat()
    assert console.post(_beat())[1] == {"ok": True} and len(taken) == 1


def test_heartbeats_come_every_few_seconds_while_a_critical_alert_awaits_its_acknowledgement(console):
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    heartbeat = Heartbeat(console.webhook, Identity("alice", "d-test"), lambda: {}, every_s=3600.0,
                          token=console.token, watch_s=0.05, awaits_ack=lambda: True, awaiting_s=0.2).start()
    try:
        assert wait_for(lambda: heartbeat.sent >= 3, 30)  # every_s is an hour
    finally:
        heartbeat.close()


def test_a_heartbeat_says_its_pace_and_beats_at_once_when_it_changes(console):
    """Each beat's status says within how long the next comes (``next_beat_s``): ``every_s``, or
    ``awaiting_s`` while a critical alert awaits acknowledgement. The pace changing beats at once (an
    acknowledgement taken, a critical raised), so the console never judges a daemon gone back to its
    30 s beats by the 5 s ones (it would show it silent between two)."""
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    awaits = [True]
    heartbeat = Heartbeat(console.webhook, Identity("alice", "d-pace"), lambda: {}, every_s=3600.0, token=console.token,
                          watch_s=0.05, awaits_ack=lambda: awaits[0], awaiting_s=1.0).start()
    pace = lambda: next((g["status"].get("next_beat_s") for g in console.state()["agents"]  # noqa: E731
                         if g["daemon_id"] == "d-pace"), None)
    try:
        assert wait_for(lambda: pace() == 1.0, 30)
        awaits[0] = False
        assert wait_for(lambda: pace() == 3600.0, 0.5)  # at once, not an hour after
        awaits[0] = True
        assert wait_for(lambda: pace() == 1.0, 0.5)
    finally:
        heartbeat.close()


def test_the_daemons_heartbeat_hands_each_acknowledgement_to_the_daemon_once_through_a_console_restart(tmp_path):
    """A console started again forgets what was taken and tells it again: the daemon takes it once."""
    from monitor.delivery.sinks.webhook import Heartbeat, Identity

    console = ConsoleProcess(tmp_path / "console")
    taken = []
    try:
        _ack(console, 4)
        heartbeat = Heartbeat(console.webhook, Identity("alice", "d-test"), lambda: {}, every_s=3600.0,
                              token=console.token, acked=taken.append)
        assert heartbeat.beat() and heartbeat.beat()
        port = console.port
        assert console.stop() == 0
        console = ConsoleProcess(tmp_path / "console", port=port)
        assert heartbeat.beat()
        assert [(ev.alert_id, ev.kind, ev.severity, ev.by) for ev in taken] == [
            (4, "possible_emergency", "critical", "Dana")]
    finally:
        console.kill()


def test_an_answer_item_not_of_the_consoles_shape_is_left_out_and_the_others_taken():
    good = {"alert_id": 4, "call_id": 7, "call_started_at": 1.7e9, "t": 95.0, "kind": "possible_emergency",
            "severity": "critical", "by": "Dana", "at": 1.7e9 + 100}
    answer = {"ok": True, "acks": [good, "x", {**good, "by": ""}, {**good, "t": None}, {**good, "alert_id": -1},
                                   {**good, "at": "now"}, {**good, "alert_id": 5, "severity": "grave"}]}
    assert [ev.alert_id for ev in acked_events(answer)] == [4]
    assert acked_events({"ok": True}) == acked_events({"acks": "all"}) == acked_events([1]) == []


def test_an_answer_items_name_and_kind_reach_the_agents_terminal_without_their_control_characters():
    """The receiver's words are drawn on the agent's terminal (``acknowledged by supervisor ...``): an
    escape sequence in them (a receiver that is no console, a name typed through the API) is written
    as Python writes it in a string, and moves no cursor there."""
    item = {"alert_id": 4, "call_id": 7, "call_started_at": 1.7e9, "t": 95.0, "kind": "possible_emergency\x1b[2J",
            "severity": "critical", "by": "Dana\x1b]0;owned\x07\rfake line", "at": 1.7e9 + 100}
    [ev] = acked_events({"ok": True, "acks": [item]})
    assert (ev.by, ev.kind) == ("Dana\\x1b]0;owned\\x07\\rfake line", "possible_emergency\\x1b[2J")


# ---------------------------------------------------------------------------- a daemon's run


@pytest.fixture(scope="module")
def acked_run(tmp_path_factory):
    """A daemon replaying a fixture call posts its first critical alert to a console; a supervisor
    acknowledges it there; the daemon's next heartbeat brings the acknowledgement back, and the
    daemon stops once its sinks had it. Returns (the JSON lines, the terminal's text, the
    daemon's status, the alert, whether the daemon awaited an acknowledgement as the alert came and
    as the acknowledgement came (with the pace its heartbeat said then), what ``call-monitor alerts --jsonl`` lists of its database then,
    and the alert as the console's state listed it)."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.sinks.terminal import HumanSink, JsonlSink
    from monitor.delivery.sinks.webhook import Heartbeat, Identity, WebhookSink
    from monitor.delivery.store import Store

    tmp = tmp_path_factory.mktemp("acked")
    console = ConsoleProcess(tmp / "console")
    jsonl, human = io.StringIO(), io.StringIO()
    try:
        cfg = load_config(overrides={"storage.db": str(tmp / "e.db")}, user_config=False)
        with Store.open(tmp / "e.db") as store:
            identity = Identity.of(store, "alice")
            webhook = WebhookSink(store, console.webhook, token=console.token, poll_s=0.05, identity=identity).start()
            daemon = Daemon(cfg, FileSource(CALLS / "deteriorating_16k.wav"), store,
                            {"jsonl": JsonlSink(jsonl), "terminal": HumanSink(human, name_calls=True),
                             "webhook": webhook}, webhook=webhook)
            heartbeat = Heartbeat(console.webhook, identity, daemon.heartbeat_status,
                                  every_s=3600.0, token=console.token, acked=daemon.acked, awaits_ack=daemon.awaits_ack)
            first: list = []
            on_console: list[dict] = []
            answered: list[dict] = []  # the console's answer to the acknowledgement
            awaits: list[tuple[bool, float]] = []
            pace = lambda: json.loads(heartbeat.body())["status"]["next_beat_s"]  # noqa: E731

            def ack_the_first_critical_alert(ev) -> None:
                if ev.type == "alert" and ev.severity == "critical" and not first:
                    first.append(ev)
                    awaits.append((daemon.awaits_ack(), pace()))
                    assert wait_for(lambda: any(a["alert_id"] == ev.alert_id for a in console.state()["alerts"]), 20)
                    (shown,) = [a for a in console.state()["alerts"] if a["alert_id"] == ev.alert_id]
                    on_console.append(shown)
                    pk = shown["id"]
                    answered.append(json.loads(console.request("POST", f"/api/alerts/{pk}/ack", b'{"by": "Dana"}')[1]))
                    assert heartbeat.beat()  # the daemon's next beat; what it brings goes out with the next chunk
                elif ev.type == "alert_acked":
                    awaits.append((daemon.awaits_ack(), pace()))
                    daemon.request_stop("the acknowledgement came")

            daemon.sinks["supervisor"] = ack_the_first_critical_alert
            assert daemon.run() == 0
            webhook.close()
            state = daemon.state()
        listed = io.StringIO()
        with contextlib.redirect_stdout(listed):
            assert cli.main(["alerts", "--db", str(tmp / "e.db"), "--jsonl"]) == 0
        (acked,) = [json.loads(line) for line in jsonl.getvalue().splitlines() if '"type": "alert_acked"' in line]
        pk = on_console[0]["id"]
        paged = tuple(json.loads(console.request("GET", f"/api/alerts?order=acked&before={before}"
                                                        f"&acked_at={acked['acked_at']!r}")[1])
                      for before in (pk + 1, pk))  # the page from just after the alert, and from the alert
        yield (jsonl.getvalue().splitlines(), human.getvalue(), state, first[0], awaits,
               [json.loads(line) for line in listed.getvalue().splitlines()], on_console[0], answered[0],
               identity, (console.state(), paged))
    finally:
        console.kill()


def test_the_acknowledgement_is_a_json_line_naming_the_alert_and_who_acknowledged_it(acked_run):
    lines, _, _, alert, *_ = acked_run
    (acked,) = [json.loads(line) for line in lines if '"type": "alert_acked"' in line]
    assert (acked["alert_id"], acked["call_id"], acked["kind"], acked["severity"], acked["by"]) == (
        alert.alert_id, alert.call_id, alert.kind, alert.severity, "Dana")
    assert acked["t"] == round(alert.t, 4) and abs(acked["acked_at"] - time.time()) < 300


def test_the_terminal_says_in_one_line_that_the_supervisor_has_seen_the_alert(acked_run):
    _, text, _, alert, *_ = acked_run
    (line,) = [line for line in text.splitlines() if "acknowledged" in line]
    assert line.startswith(f"[call {alert.call_id}, ") and f" acknowledged {alert.kind} ({alert.severity}) " \
        "by supervisor Dana at " in line and line.endswith(": the supervisor has seen this alert")


def test_the_status_shows_the_acknowledgement_on_the_alert_in_its_recent_alerts(acked_run):
    from monitor.commands.status import render
    _, _, state, alert, *_ = acked_run
    (recent,) = [a for a in state["recent_alerts"] if a["alert_id"] == alert.alert_id]
    assert recent["acked_by"] == "Dana" and abs(recent["acked_at"] - time.time()) < 300
    (line,) = [line for line in render(state).splitlines() if f" {alert.kind} at " in line and "acknowledged" in line]
    assert ", acknowledged by supervisor Dana at " in line


def test_the_daemon_awaits_an_acknowledgement_while_its_critical_alert_stands_until_it_comes(acked_run):
    _, _, _, alert, awaits, *_ = acked_run
    assert alert.severity == "critical" and awaits == [(True, 5.0), (False, 3600.0)]


def test_the_daemons_database_keeps_the_acknowledgement_and_alerts_lists_it_on_the_alert(acked_run):
    _, _, _, alert, _, listed, *_ = acked_run
    (row,) = [r for r in listed if r["alert_id"] == alert.alert_id]
    assert row["acked_by"] == "Dana" and abs(row["acked_at"] - time.time()) < 300
    assert all(r["acked_by"] is None and r["acked_at"] is None for r in listed if r["alert_id"] != alert.alert_id)


def test_the_alert_has_one_time_on_the_console_in_the_agents_alerts_and_in_its_status(acked_run):
    """The time the console shows an alert at (its post's ``at``) is the time ``alerts`` lists it at (its
    ``created_at``) and the daemon's status lists it at: its call's start plus its call time (or when it
    was raised, where that is sooner), one time, not the console's a second before the agent's."""
    _, _, state, alert, _, listed, shown, *_ = acked_run
    (row,) = [r for r in listed if r["alert_id"] == alert.alert_id]
    (recent,) = [a for a in state["recent_alerts"] if a["alert_id"] == alert.alert_id]
    assert shown["at"] == row["created_at"] == recent["at"]
    assert shown["at"] <= round(shown["call_started_at"] + shown["t"], 3)


def test_the_acknowledgements_time_is_one_number_in_the_json_lines_the_agents_alerts_its_status_and_the_console(
        acked_run):
    """``run --jsonl``'s ``alert_acked`` gave ``acked_at`` rounded to the ten-thousandth of a second, where
    ``alerts --jsonl``, the status and the console's ``/api/state`` give the time the console keeps: an
    integrator paging the console's acknowledged alerts by the JSON line's time (``order=acked&acked_at=T``)
    left the alert out of its own page. Every interface gives the number the console keeps, which pages."""
    lines, _, state, alert, _, listed, shown, answered, _, (end, paged) = acked_run
    (acked,) = [json.loads(line) for line in lines if '"type": "alert_acked"' in line]
    (row,) = [r for r in listed if r["alert_id"] == alert.alert_id]
    (recent,) = [a for a in state["recent_alerts"] if a["alert_id"] == alert.alert_id]
    (kept,) = [a for a in end["alerts"] if a["id"] == shown["id"]]
    assert acked["acked_at"] == row["acked_at"] == recent["acked_at"] == kept["acked_at"] == answered["acked_at"]
    before_it, after_it = paged
    assert [a["id"] for a in before_it["alerts"]] == [shown["id"]] and after_it["alerts"] == []


def test_the_daemons_status_and_its_alerts_name_the_daemon_id_the_console_keys_its_alerts_by(acked_run):
    """``status --json`` and ``alerts --jsonl`` name the daemon id the daemon posts under (and the status
    the agent's name it posts as): with an alert's ``posted_id`` the console's key of it, by which its
    ``/api/state`` lists the alert under the console's own ``id``, the one ``/api/alerts/ID/ack`` takes."""
    _, _, state, alert, _, listed, shown, _, identity, (end, _) = acked_run
    assert (state["daemon_id"], state["agent"]) == (identity.daemon_id, identity.agent)
    assert listed and all(r["daemon_id"] == identity.daemon_id for r in listed)
    keyed = {(a["daemon_id"], a["alert_id"]): a["id"] for a in end["alerts"]}
    assert {(r["daemon_id"], r["posted_id"]) for r in listed} == set(keyed)
    (row,) = [r for r in listed if r["alert_id"] == alert.alert_id]
    assert keyed[(row["daemon_id"], row["posted_id"])] == shown["id"]


def test_an_acknowledgement_the_daemons_database_holds_is_no_news_to_the_daemon_started_again(tmp_path):
    """The console tells the acknowledgements of its last 15 minutes again to a daemon started since
    (it forgets nothing its heartbeats did not say they took): one the daemon's database keeps
    already was shown before the restart, and is not shown again (no terminal line, no
    ``alert_acked`` event, no notification of an earlier call); a new one is."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.sinks.terminal import JsonlSink
    from monitor.delivery.store import Store
    from monitor.events import AlertAckedEvent

    from conftest import SPEECH, stored_alert

    jsonl = io.StringIO()
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        shown, new = (stored_alert(store, t=95.0, started_at=time.time() - 900) for _ in range(2))
        assert store.add_ack(shown.alert_id, shown.call_id, "Dana", time.time() - 300)  # shown before the restart
        daemon = Daemon(cfg, FileSource(SPEECH / "en_us_s175.wav"), store, {"jsonl": JsonlSink(jsonl)})
        for alert, by in ((shown, "Dana"), (new, "Eve")):  # what the console's answer tells the new daemon
            daemon.acked(AlertAckedEvent(t=95.0, kind="possible_emergency", severity="critical", call_id=alert.call_id,
                                         alert_id=alert.alert_id, call_started_at=time.time() - 900, by=by,
                                         acked_at=time.time() - 60))
        assert daemon.run() == 0
    acked = [json.loads(line) for line in jsonl.getvalue().splitlines() if '"type": "alert_acked"' in line]
    assert [(a["alert_id"], a["by"]) for a in acked] == [(new.alert_id, "Eve")]


def test_an_acknowledgement_of_an_alert_the_daemons_database_does_not_hold_is_neither_kept_nor_shown(
        tmp_path, hook, monitor_logs):
    """A receiver's answer tells acknowledgements: of an alert the daemon's database holds (kept,
    shown), of a call a purge deleted since (told again by a console restarted), of an alert never
    raised, and of a held alert under another call's id. Only the first is taken: the others are
    no alert of this database (what is purged is gone), neither stored nor drawn on the agent's
    terminal, each said in a debug line; the daemon's next beat names them all as taken, so that
    the console tells them no more."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.sinks.terminal import HumanSink, JsonlSink
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    from monitor.delivery.store import Store

    from conftest import SPEECH, db_rows, stored_alert

    db = tmp_path / "e.db"
    with Store.open(db) as store:
        purged = stored_alert(store, started_at=time.time() - 3600)
        store.end_call(purged.call_id, 120.0, {}, ended_at=time.time() - 3480)
        assert store.purge(time.time() - 1800)["alerts"] == 1
    jsonl, human = io.StringIO(), io.StringIO()
    cfg = load_config(overrides={"storage.db": str(db)}, user_config=False)
    with Store.open(db) as store:
        held = stored_alert(store, kind="long_pauses", severity="warning", t=5.0)
        assert purged.alert_id != held.alert_id and held.call_id != purged.call_id

        def ack(alert, alert_id: int, call_id: int, by: str) -> dict:
            return {"alert_id": alert_id, "call_id": call_id, "call_started_at": time.time() - 600,
                    "t": alert.t, "kind": alert.kind, "severity": alert.severity, "by": by,
                    "at": time.time() - 60}
        hook.answer = {"ok": True, "acks": [
            ack(purged, purged.alert_id, purged.call_id, "Dana"), ack(held, 77777, held.call_id, "Zoe"),
            ack(held, held.alert_id, held.call_id + 1, "Ann"), ack(held, held.alert_id, held.call_id, "Lee")]}
        daemon = Daemon(cfg, FileSource(SPEECH / "en_us_s175.wav"), store,
                        {"jsonl": JsonlSink(jsonl), "terminal": HumanSink(human, name_calls=True)})
        heartbeat = Heartbeat(hook.url, Identity("alice", "d-test"), lambda: {}, every_s=3600.0, acked=daemon.acked)
        assert heartbeat.beat()
        assert daemon.run() == 0
        hook.answer = {"ok": True}
        assert heartbeat.beat()
    acked = [json.loads(line) for line in jsonl.getvalue().splitlines() if '"type": "alert_acked"' in line]
    assert [(a["alert_id"], a["by"]) for a in acked] == [(held.alert_id, "Lee")]
    assert [line for line in human.getvalue().splitlines() if "acknowledged" in line] == [
        line for line in human.getvalue().splitlines() if "by supervisor Lee" in line] != []
    assert db_rows(db, "SELECT alert_id, acked_by FROM alert_acks") == [(held.alert_id, "Lee")]
    assert set(hook.heartbeats[-1][1]["acks_taken"]) == {purged.alert_id, 77777, held.alert_id}
    said = [m for level, m in monitor_logs if level == "debug" and "acknowledgement" in m and "left out" in m]
    assert len(said) == 3 and all("the database holds no such alert" in m for m in said), said


def test_an_acknowledgement_whose_time_no_clock_shows_is_left_out_of_the_answer_and_said(monitor_logs):
    """``at`` is when the supervisor acknowledged, drawn on the agent's terminal as a time of day:
    one before 1970 or past the calendar's end (a receiver that is no console) is left out of what
    the answer tells, as an item of another shape is, and said in a debug line."""
    good = {"alert_id": 4, "call_id": 7, "call_started_at": 1.7e9, "t": 95.0, "kind": "possible_emergency",
            "severity": "critical", "by": "Dana", "at": 1.7e9 + 100}
    answer = {"ok": True, "acks": [{**good, "alert_id": 1, "at": 1e300}, {**good, "alert_id": 2, "at": -5.0},
                                   {**good, "alert_id": 3, "at": 1e12}, good]}
    assert [ev.alert_id for ev in acked_events(answer)] == [4]
    said = [m for level, m in monitor_logs if level == "debug" and "left out" in m]
    assert len(said) == 3 and all("not of the console's shape" in m for m in said), said
