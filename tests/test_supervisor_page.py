"""The console's page in headless Chromium (Debian's ``chromium``, over the DevTools protocol).

Two pages are open on a real ``call-monitor supervisor`` process: a laptop-sized one and a
phone-sized one. A critical alert posted to the webhook appears on both within 2 s without a
reload, with the agent, the call time, the evidence and the actions; acknowledging it on one page
moves it to "Acknowledged" on the other. Screenshots are kept as test artefacts in
``tests/artifacts/`` (and the test's tmp folder).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from a11y import contrast, new_tab_unsaid
from cdp import CHROMIUM
from console_proc import ConsoleProcess, alert_body, post_word, stored_alerts

from monitor.alerts.meaning import kind_name
from monitor.config import ACOUSTIC_KINDS
from monitor.release import RELEASE
from monitor.supervisor.store import ConsoleStore, Heartbeat, IncomingAlert

ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make setup installs it)")


BEEPS_COUNTED = """
window.beeps = 0;
const make = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () { window.beeps += 1; return make.call(this); };
"""
"""The page's beeps counted in ``window.beeps`` (each is one oscillator of the page's AudioContext,
made and played as before)."""


def _keep(path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)


def _heartbeat(console: ConsoleProcess, agent: str, daemon_id: str, in_call: bool, stopped: bool = False,
               last_error: dict | None = None, transcription_off: str | None = None, every_s: float = 30,
               next_beat_s: float | None = None, version: str | None = RELEASE, source: str | None = None,
               machine: str | None = None) -> None:
    """A heartbeat of ``daemon_id`` as ``agent``, from ``source`` (a loopback address: another machine)
    where given, naming its ``machine`` (a hash) where given."""
    post = console.post if source is None else (lambda obj: console.post_from(source, obj))
    status, body = post({"type": "heartbeat", "agent": agent, "daemon_id": daemon_id, "at": time.time(),
                                 "every_s": every_s, "status": {"version": version, "stopped": stopped, "transcription_off": transcription_off,
                                     "next_beat_s": next_beat_s, "machine": machine,
                                     "devices": {"caller": {"state": "running", "label": "softphone.monitor"}},
                                     "devices_open": True, "in_call": in_call,
                                     "call": {"call_id": 7, "t": 96.0, "active_alerts": ["possible_emergency"]}
                                     if in_call else None, "last_error": last_error,
                                     "reports": [{"call_id": 7, "url": "https://reports.example/call-7-report.html"}]
                                     if in_call else []}})
    assert status == 200, body


def test_an_alert_of_a_call_of_two_files_names_the_agents_recording_beside_the_callers(
        console_pages):
    """A call of two files (``replay CALLER --agent AGENT --webhook``): the card names the caller's
    recording and the agent's beside it, as text; the console's state gives ``agent_recording``, which
    a page opened later draws too."""
    console = console_pages.console
    page = console_pages.open()
    name = "<img src=x onerror=window.pwned=3>agent-17.wav"
    status, body = console.post(alert_body(3, recording="caller-17.wav", agent_recording=name))
    assert status == 201
    card = f"document.querySelector('#critical article[data-id=\"{body['id']}\"]')"
    page.wait(f"{card} !== null")
    assert page.eval(f"[...{card}.querySelectorAll('.recording')].map(e => e.textContent)") == [
        "recording caller-17.wav", f"agent's recording {name}"]
    assert page.eval(f"{card}.querySelector('.agentrecording').title") == name
    assert page.eval(f"{card}.querySelector('img') === null && window.pwned === undefined")
    (shown,) = console.state()["alerts"]
    assert (shown["recording"], shown["agent_recording"]) == ("caller-17.wav", name)
    again = console_pages.open()
    again.wait(f"{card} !== null && {card}.querySelector('.agentrecording') !== null")


def test_live_page_shows_new_critical_alert_and_shares_acknowledgements(tmp_path, console_pages):
    console = console_pages.console
    laptop, phone = console_pages.open(), console_pages.open(width=390, height=844, mobile=True)
    for page in (laptop, phone):
        assert page.eval("location.pathname + location.search") == "/"  # the token left the address bar
        assert "cm_session" not in page.eval("document.cookie")  # HttpOnly
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=True)
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False)
    slow = "Slow speech: speech rate 2.40 syll/s, 39 % below the caller's baseline <img src=x onerror=window.pwned=2>"
    name = "<img src=x onerror=window.pwned=1>queue-3_agent-17_2026-12-04T09-41-07_caller-withheld_take-2.wav"
    recording = "/srv/qa/2026-12/" + name  # a path, from another program than call-monitor (which sends the name)
    assert console.post(alert_body(1, daemon_id="d-bob", agent="Bob (desk 9)", severity="warning",
                                   kind="slow_speech", call_id=3, message=slow, recording=recording))[0] == 201
    laptop.wait("document.querySelectorAll('#warning article').length === 1")
    # the recording as text, its folders left out and cut in the middle; the whole of it is the tooltip
    shown = "document.querySelector('#warning article .recording')"
    assert laptop.eval(f"{shown}.textContent") == "recording …/" + name[:38] + "…" + name[-21:]
    assert laptop.eval(f"{shown}.title") == recording
    assert laptop.eval("document.querySelector('#warning article img') === null && window.pwned === undefined")
    assert laptop.eval("document.querySelector('#warning article').textContent").count("onerror=window.pwned") == 2

    t0 = time.monotonic()
    status, body = console.post(alert_body(2, daemon_id="d-alice", agent="Alice (desk 4)"))
    assert status == 201
    pk = body["id"]
    card = f"document.querySelector('#critical article[data-id=\"{pk}\"]')"
    laptop.wait(f"{card} !== null")
    phone.wait(f"{card} !== null")
    appeared = time.monotonic() - t0
    assert appeared < 2.0, f"the critical alert took {appeared:.2f} s to appear"
    text = laptop.eval(f"{card}.innerText")
    for part in ("CRITICAL", "Alice (desk 4)", "into the call", "Possible emergency", "score",
                 "Keep the caller on the line", "Acknowledge", "Call report"):
        assert part.lower() in text.lower(), (part, text)
    assert laptop.eval(f"{card}.querySelector('a.report').href") == "https://reports.example/call-7-report.html"
    assert laptop.eval(f"{card}.querySelector('.recording') === null")  # a live call's: no recording
    # the agent's heartbeat is in that call: live; Bob's last one came before his alert: not told
    assert laptop.eval(f"{card}.querySelector('.callnow').textContent") == "call live"
    bobs = "document.querySelector('#warning article')"
    assert laptop.eval(f"{bobs}.querySelector('.callnow') === null")
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False)  # since his alert, in no call: it ended
    laptop.wait(f"{bobs}.querySelector('.callnow') !== null")
    assert laptop.eval(f"{bobs}.querySelector('.callnow').textContent") == "call ended"
    assert laptop.eval("document.body.classList.contains('flash')")  # the visible alarm
    assert laptop.eval("getComputedStyle(document.getElementById('banner')).display") == "block"
    assert laptop.eval("document.querySelector('#agents [data-daemon=\"d-alice\"]').dataset.state") == "in-call"
    assert laptop.eval("document.querySelector('#agents [data-daemon=\"d-bob\"]').dataset.state") == "connected"
    assert laptop.eval("performance.getEntriesByType('resource').every(e => e.name.startsWith(location.origin))")
    assert phone.eval("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    shot = laptop.screenshot(tmp_path / "console-laptop-critical.png")
    _keep(shot)

    laptop.eval("document.getElementById('who').value = 'Dana'; "
                "document.getElementById('who').dispatchEvent(new Event('change'))")
    t1 = time.monotonic()
    laptop.eval(f"{card}.querySelector('button.ack').click()")
    acked = f"document.querySelector('#acked article[data-id=\"{pk}\"] .ackinfo')"
    info, _ = phone.wait(f"{acked} && {acked}.textContent")
    shared = time.monotonic() - t1
    assert "Acknowledged by Dana" in info
    assert shared < 2.0, f"the acknowledgement took {shared:.2f} s to reach the other page"
    assert phone.eval(f"{card} === null")  # no longer among the open critical alerts
    stored = next(a for a in console.state()["alerts"] if a["id"] == pk)
    assert stored["acked_by"] == "Dana" and stored["acked_at"] is not None
    _keep(phone.screenshot(tmp_path / "console-phone-acknowledged.png"))
    print(f"\nconsole page: critical alert on both pages {appeared:.2f} s after the POST; acknowledgement "
          f"on the other page after {shared:.2f} s; screenshots in {ARTIFACTS}")
    answered = {a["agent"]: a for a in json.loads(console.request("GET", "/api/state")[1])["alerts"]}
    assert answered["Bob (desk 9)"]["recording"] == recording and answered["Alice (desk 4)"]["recording"] is None


def test_a_critical_alerts_evidence_says_per_family_its_level_and_the_window_that_made_it(console_pages):
    """As the call report says it, in words: each agreeing family's level, from which window's sum and
    since when in the call, each cue by name with its window, the score against the score that raises
    it, and the alert's times as call times; no internal key (``min_families``, ``short_drift``)."""
    console = console_pages.console
    page = console_pages.open()
    evidence = {"score": 3.64, "min_score": 3.0, "families": {"latency": 2.01, "pausing": 1.63}, "count": 2,
                "min_families": 2, "evidence_s": 0.5, "drift": 1.0, "short_drift": 1.2,
                "kinds": ["slow_response"], "since": 92.0, "until": 92.0, "window_s": 17.4,
                "accumulated": {
                    "latency": {"evidence": 0.0, "short_evidence": 1.005, "window": "short", "level": 2.01,
                                "since": 89.0, "held_s": 4.0},
                    "pausing": {"evidence": 0.814, "short_evidence": 0.0, "window": "long", "level": 1.627,
                                "since": 91.0, "held_s": 2.0}},
                "cues": {"slow_response": {"cue": "response_latency_s", "value": 2.01, "baseline": 0.82,
                                           "threshold": 1.64, "window": "short"}}}
    status, body = console.post(alert_body(1, t=92.0, evidence=evidence))
    assert status == 201
    card = f"document.querySelector('#critical article[data-id=\"{body['id']}\"]')"
    page.wait(f"{card} !== null")
    text = page.eval(f"{card}.querySelector('dl').innerText")
    for part in ("level 2.01 from the short window's sum, accumulating since 1:29 (4 s)",
                 "level 1.63 from the long window's sum, accumulating since 1:31 (2 s)",
                 "response latency (s) 2.01, baseline 0.82, threshold 1.64, short window",
                 "1:32 into the call", "3.64 (raised at 3)", "2 (2 needed)"):
        assert part in text, (part, text)
    for key in ("short_evidence", "min_score", "min_families", "evidence_s", "drift", "kinds", "window_s"):
        assert key not in text, (key, text)
    state = json.loads(console.request("GET", "/api/state")[1])
    assert state["alerts"][0]["evidence"] == evidence  # the API keeps the alert's own evidence


def test_heartbeats_an_earlier_console_stored_unchecked_keep_neither_the_alarm_nor_any_agent_from_showing(
        console_pages):
    """An earlier console stored any heartbeat whose status was an object (a device that is null,
    active alerts as one string), and a status may be put in the console's database by hand: the
    page opened on them lists every agent, those too, and a new critical alert flashes the banner
    and beeps before anything is drawn."""
    console = console_pages.console
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=True)
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False)
    store = ConsoleStore.open(console.db)
    try:
        store.heartbeat(Heartbeat("d-erin", "erin", 30.0, {"devices_open": True, "devices": {"caller": None}}))
        store.heartbeat(Heartbeat("d-frank", "frank", 30.0, {"devices_open": True, "in_call": True, "call": {
            "call_id": 3, "t": 12.0, "active_alerts": "slow_speech"}}))
    finally:
        store.close()
    with sqlite3.connect(console.db) as con:
        con.execute("INSERT INTO agents (daemon_id, agent, first_seen, last_seen, status) VALUES "
                    "('d-gus', 'gus', ?1, ?1, '\"devices open\"')", (time.time(),))
    page = console_pages.open()
    page.eval(BEEPS_COUNTED)
    page.eval("document.getElementById('sound').click()")  # "Sound: on" beeps once
    assert page.eval("window.beeps") == 1
    rows = "Object.fromEntries([...document.querySelectorAll('#agents .agentrow')].map(r => [r.dataset.daemon, " \
           "[r.dataset.state, r.innerText]]))"
    assert console.post(alert_body(1, daemon_id="d-alice", agent="Alice (desk 4)"))[0] == 201
    page.wait("document.body.classList.contains('flash') && window.beeps === 2")
    assert page.eval("getComputedStyle(document.getElementById('banner')).display") == "block"
    assert page.eval("document.querySelectorAll('#critical article').length") == 1
    shown = page.eval(rows)
    assert {d: state for d, (state, _) in shown.items()} == {
        "d-alice": "in-call", "d-bob": "connected", "d-erin": "connected", "d-frank": "in-call", "d-gus": "devices-down"}
    assert "caller: ?" in shown["d-erin"][1] and "call 3, 0:12 · last heard" in shown["d-frank"][1]


def test_a_report_link_an_earlier_console_stored_is_drawn_only_as_an_http_or_file_link(console_pages):
    """An earlier console stored any link that began http://, https:// or file://, and a link may be put
    in the console's database by hand: the page draws a call's report link only where it is an
    http(s) or file link; a javascript: or data: one is no link at all (and runs nothing)."""
    console = console_pages.console
    links = {3: "javascript:window.pwned=1", 4: "data:text/html,<script>window.pwned=2</script>",
             5: "file:///home/carol/.local/share/callmonitor/reports/call-5-report.html"}
    for call_id in links:
        assert console.post(alert_body(call_id, daemon_id=f"d-{call_id}", agent=f"agent {call_id}",
                                       call_id=call_id))[0] == 201
    store = ConsoleStore.open(console.db)
    try:
        for call_id, url in links.items():
            store.heartbeat(Heartbeat(f"d-{call_id}", f"agent {call_id}", 30.0, {}, reports=((call_id, url),)))
    finally:
        store.close()
    page = console_pages.open()
    page.wait("document.querySelectorAll('#critical article').length === 3")
    drawn = {call_id: page.eval(f"[...document.querySelectorAll('#critical article')].find(a => "
                                f"a.textContent.includes('agent {call_id}'))?.querySelector('a.report')?.href ?? null")
             for call_id in links}
    assert drawn == {3: None, 4: None, 5: links[5]}
    assert page.eval("window.pwned === undefined")


def test_the_agents_panel_lists_who_sent_alerts_without_a_heartbeat_as_such(console_pages):
    """``replay --webhook`` sends alerts and no heartbeat: the panel does not say nobody reported
    while its alerts show; it lists the sender as "alerts only, no heartbeat" beside the live ones,
    and with nothing at all it says no daemon has sent a heartbeat."""
    console = console_pages.console
    page = console_pages.open()
    assert page.eval("document.getElementById('agents').innerText.trim()") == "No daemon has sent a heartbeat yet."
    assert console.post(alert_body(1, daemon_id="d-replay", agent="qa@laptop"))[0] == 201
    row = "document.querySelector('#agents [data-daemon=\"d-replay\"]')"
    page.wait(f"{row} !== null")
    assert page.eval(f"{row}.dataset.state") == "alerts-only"
    text = page.eval(f"{row}.innerText")
    assert "qa@laptop" in text and "alerts only, no heartbeat" in text and "last alert" in text
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=False)
    page.wait("document.querySelector('#agents [data-daemon=\"d-alice\"]') !== null")
    assert page.eval("[...document.querySelectorAll('#agents .agentrow')].map(r => r.dataset.state)") == \
        ["connected", "alerts-only"]  # by name: Alice, then qa@laptop
    assert page.eval(f"{row}.querySelector('.agent').textContent") == "qa@laptop"  # one sender of the name
    assert console.post(alert_body(2, daemon_id="d-replay-two", agent="qa@laptop"))[0] == 201  # another database
    other = "document.querySelector('#agents [data-daemon=\"d-replay-two\"]')"
    page.wait(f"{other} !== null")
    assert page.eval(f"{row}.querySelector('.agent').textContent") == "qa@laptop (daemon d-replay)"
    assert page.eval(f"{other}.querySelector('.agent').textContent") == "qa@laptop (daemon play-two)"
    _heartbeat(console, "qa@laptop", "d-replay", in_call=False)  # the same sender, live now
    page.wait(f"{row}.dataset.state === 'connected'")
    # Alice, qa@laptop live, and its other database's replay
    assert page.eval("document.querySelectorAll('#agents .agentrow').length") == 3


def test_an_agent_is_one_row_whose_daemon_was_replaced_and_two_daemons_posting_as_one_agent_say_so(console_pages):
    """An agent whose daemon started again on a new database (a reinstall: a new daemon id) is one
    row, the daemon posting now, not a row stopped beside it; two daemons posting under one name at
    once (two machines, a copied configuration) are both listed, each saying so and which it is.
    The API keeps every daemon."""
    console, page = console_pages.console, console_pages.open()
    rows = "[...document.querySelectorAll('#agents .agentrow')].map(r => [r.dataset.daemon, r.dataset.state])"
    _heartbeat(console, "Alice (desk 4)", "d-old", in_call=False)
    page.wait(f"JSON.stringify({rows}) === JSON.stringify([['d-old', 'connected']])")
    _heartbeat(console, "Alice (desk 4)", "d-old", in_call=False, stopped=True)
    page.wait(f"JSON.stringify({rows}) === JSON.stringify([['d-old', 'stopped']])")
    _heartbeat(console, "Alice (desk 4)", "d-new", in_call=True)
    page.wait(f"JSON.stringify({rows}) === JSON.stringify([['d-new', 'in-call']])")
    assert page.eval("document.querySelector('#agents .namesakes')") is None
    _heartbeat(console, "Alice (desk 4)", "d-laptop", in_call=False)
    page.wait(f"{rows}.length === 2")
    assert sorted(page.eval(rows)) == [["d-laptop", "connected"], ["d-new", "in-call"]]
    said = page.eval("[...document.querySelectorAll('#agents .namesakes')].map(n => n.textContent)")
    assert sorted(said) == [f"2 daemons post as Alice (desk 4) now; this one is daemon {d} at 127.0.0.1 (give each its "
                    "own delivery.agent_name)" for d in ("d-laptop", "d-new")]
    assert sorted(g["daemon_id"] for g in console.state()["agents"]) == ["d-laptop", "d-new", "d-old"]


def test_an_agent_silent_at_one_desk_stays_listed_beside_one_of_her_name_posting_at_another(tmp_path, chromium):
    """Two agents called Anna at two desks (two machines: two addresses): desk 7's daemon killed (no
    heartbeat since, silent) or stopped while desk 1's posts is not taken as replaced, which only a
    daemon of the name posting from the same machine makes it: its row stays, silent, named with its
    daemon, counted, said apart in the releases line. Its "Forget" forgets that daemon alone: desk
    1's Anna stays listed, and in /api/state."""
    from conftest import ConsolePages
    config = tmp_path / "console.toml"
    config.write_text("[supervisor]\nsilent_after_s = 2\n", encoding="utf-8")
    pages = ConsolePages(tmp_path, chromium, extra=("--config", str(config)))
    try:
        console, page = pages.console, pages.open()
        rows = "[...document.querySelectorAll('#agents .agentrow')].map(r => [r.dataset.daemon, r.dataset.state])"
        _heartbeat(console, "Anna", "d-desk7", in_call=True, every_s=0.5, source="127.0.0.2", version="9.0.0")
        page.wait(f"{rows}.length === 1")
        time.sleep(2.2)  # desk 7's daemon killed: silent; desk 1's beat draws the rows again
        _heartbeat(console, "Anna", "d-desk1", in_call=False, every_s=120)
        page.wait(f"JSON.stringify({rows}) === JSON.stringify([['d-desk1', 'connected'], ['d-desk7', 'silent']])",
                  timeout=10)
        desk7 = "document.querySelector('#agents [data-daemon=\"d-desk7\"]')"
        assert page.eval(f"{desk7}.querySelector('.agent').textContent") == "Anna (daemon d-desk7 at 127.0.0.2)"
        assert page.eval("document.getElementById('agents-count').textContent") == "(2)"
        assert page.eval("document.getElementById('releases').textContent").startswith(
            f"Every agent running runs {RELEASE}. Stopped or silent, with the release each last told: 9.0.0 "
            "(Anna (daemon d-desk7 at 127.0.0.2)).")
        _heartbeat(console, "Anna", "d-desk7", in_call=False, stopped=True, source="127.0.0.2")
        page.wait(f"{desk7}.dataset.state === 'stopped'")
        _heartbeat(console, "Anna", "d-desk1", in_call=False, stopped=True)
        _heartbeat(console, "Anna", "d-new1", in_call=False)  # desk 1 reinstalled: its old daemon replaced
        page.wait(f"JSON.stringify({rows}) === JSON.stringify([['d-new1', 'connected'], ['d-desk7', 'stopped']])")
        page.eval("window.confirm = () => true")
        page.eval(f"{desk7}.querySelector('button.forget').click()")
        page.wait(f"{desk7} === null")
        assert [g["daemon_id"] for g in console.state()["agents"]] == ["d-desk1", "d-new1"]
        assert [f["daemon_id"] for f in console.state()["forgotten"]] == ["d-desk7"]
    finally:
        pages.close()


def test_two_agents_of_one_name_behind_one_address_are_both_listed_and_one_stopping_shows_stopped(console_pages):
    """Desk 7's and desk 8's Anna post through one NAT (one address), each naming its own machine:
    both are listed, each saying two daemons post as Anna; desk 7's daemon stopping mid-call leaves
    its row listed, stopped, not taken as replaced by desk 8's. Desk 8's database made anew (a new
    daemon id, the same machine) replaces its old daemon as before: one row for desk 8."""
    console, page = console_pages.console, console_pages.open()
    desk7, desk8 = "7" * 32, "8" * 32
    rows = "[...document.querySelectorAll('#agents .agentrow')].map(r => [r.dataset.daemon, r.dataset.state])"
    _heartbeat(console, "Anna", "d-desk7", in_call=True, source="127.0.0.2", machine=desk7)
    _heartbeat(console, "Anna", "d-desk8", in_call=False, source="127.0.0.2", machine=desk8)
    page.wait(f"JSON.stringify({rows}) === JSON.stringify([['d-desk7', 'in-call'], ['d-desk8', 'connected']])")
    _heartbeat(console, "Anna", "d-desk7", in_call=True, stopped=True, source="127.0.0.2", machine=desk7)
    page.wait(f"JSON.stringify({rows}) === JSON.stringify([['d-desk8', 'connected'], ['d-desk7', 'stopped']])")
    assert page.eval("document.getElementById('agents-count').textContent") == "(2)"
    _heartbeat(console, "Anna", "d-desk8", in_call=False, stopped=True, source="127.0.0.2", machine=desk8)
    _heartbeat(console, "Anna", "d-desk8-new", in_call=False, source="127.0.0.2", machine=desk8)
    page.wait(f"JSON.stringify({rows}) === JSON.stringify([['d-desk8-new', 'connected'], ['d-desk7', 'stopped']])")


def test_an_agent_stopped_at_one_desk_is_not_said_to_post_beside_two_of_her_name_posting(console_pages):
    """Desk 7's Anna stopped while two daemons post as Anna at two other desks: those two each say that
    two daemons post under the name; desk 7's row, posting no more, says nothing of the kind."""
    console, page = console_pages.console, console_pages.open()
    _heartbeat(console, "Anna", "d-desk7", in_call=False, stopped=True, source="127.0.0.2")
    _heartbeat(console, "Anna", "d-desk1", in_call=False)
    _heartbeat(console, "Anna", "d-desk2", in_call=False, source="127.0.0.3")
    rows = "[...document.querySelectorAll('#agents .agentrow')].map(r => [r.dataset.daemon, r.dataset.namesakes || ''])"
    page.wait(f"JSON.stringify({rows}) === JSON.stringify([['d-desk1', '2'], ['d-desk2', '2'], ['d-desk7', '']])")
    assert page.eval("document.querySelector('#agents [data-daemon=\"d-desk7\"] .namesakes')") is None


def test_each_agent_says_its_release_and_the_page_says_when_agents_run_different_ones(console_pages):
    """An upgrade done on some desktops and not yet on others: each row names its daemon's release
    (a daemon of a release before the first to send it says none), and above the rows the page says
    which agents run which release, until they agree again; an agent stopped or silent is said apart,
    with the release it last told and how to forget it, a desktop taken out of service, which then no
    longer counts. /api/state has it in each status."""
    console, page = console_pages.console, console_pages.open()
    row, note = "document.querySelector('#agents [data-daemon=\"%s\"]').innerText", "document.getElementById('releases')"
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=False)
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False, stopped=True)
    page.wait("document.querySelectorAll('#agents .agentrow').length === 2")
    assert f"release {RELEASE}" in page.eval(row % "d-bob") and page.eval(f"{note}.hidden")
    _heartbeat(console, "Carol (desk 2)", "d-carol", in_call=False, version="9.0.0")
    _heartbeat(console, "Dan (desk 1)", "d-dan", in_call=False, version=None)  # an earlier release's daemon
    page.wait(f"!{note}.hidden && {note}.textContent.includes('Dan')")
    forget = ("Forget one taken out of service (its row's \"Forget\") and it no longer counts.")
    assert page.eval(f"{note}.textContent") == (f"Agents run different releases: {RELEASE} (Alice (desk 4)); "
                                                "9.0.0 (Carol (desk 2)); before 0.2.0 (Dan (desk 1)). Stopped or "
                                                f"silent, with the release each last told: {RELEASE} (Bob (desk 9)). "
                                                + forget)
    assert "release before 0.2.0" in page.eval(row % "d-dan") and "release 9.0.0" in page.eval(row % "d-carol")
    assert {g["agent"]: g["status"]["version"] for g in console.state()["agents"]} == {
        "Alice (desk 4)": RELEASE, "Bob (desk 9)": RELEASE, "Carol (desk 2)": "9.0.0", "Dan (desk 1)": None}
    _heartbeat(console, "Carol (desk 2)", "d-carol", in_call=False)
    _heartbeat(console, "Dan (desk 1)", "d-dan", in_call=False)
    page.wait(f"{note}.hidden")
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False, stopped=True, version=None)  # left behind, off
    page.wait(f"!{note}.hidden")
    assert page.eval(f"{note}.textContent") == (f"Every agent running runs {RELEASE}. Stopped or silent, with the "
                                                f"release each last told: before 0.2.0 (Bob (desk 9)). " + forget)
    assert console.request("POST", "/api/agents/forget", json.dumps({"agent": "Bob (desk 9)"}).encode())[0] == 200
    page.wait(f"{note}.hidden")


def test_a_supervisor_forgets_an_agent_taken_out_of_service_and_its_alerts_stay(console_pages):
    """A desktop removed from service stays "stopped" (or silent) for ever: its row, and a replay's
    "alerts only" row, have a Forget button (asked to confirm), which takes the agent off the list
    on every page, through a reload, while its alerts stay on the page and in /api/state. A running
    agent has none. An agent forgotten whose daemon posts again is listed again."""
    console, page = console_pages.console, console_pages.open()
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=False, stopped=True)
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False)
    assert console.post(alert_body(1, daemon_id="d-alice", agent="Alice (desk 4)"))[0] == 201
    assert console.post(alert_body(1, daemon_id="d-replay", agent="qa@laptop", severity="warning",
                                   kind="slow_speech"))[0] == 201
    rows = "[...document.querySelectorAll('#agents .agentrow')].map(r => r.dataset.daemon)"
    forget = "document.querySelector('#agents [data-daemon=\"%s\"] button.forget')"
    page.wait(f"{rows}.length === 3 && document.querySelectorAll('article').length === 2")
    assert page.eval(f"{forget % 'd-bob'} === null")
    assert page.eval(f"{forget % 'd-alice'}.getAttribute('aria-label')") == \
        "Forget: agent Alice (desk 4): remove it from this list, its alerts stay"
    page.eval("window.confirm = () => false")  # asked, and not confirmed: nothing forgotten
    page.eval(f"{forget % 'd-alice'}.click()")
    page.eval("window.confirm = () => true")
    page.eval(f"{forget % 'd-alice'}.click()")
    page.wait(f"JSON.stringify({rows}) === JSON.stringify(['d-bob', 'd-replay'])")
    assert page.eval("document.activeElement.id") == "h-agents"
    assert page.eval("document.querySelectorAll('article').length") == 2  # Alice's alert stays, without her row
    state = console.state()
    assert [g["daemon_id"] for g in state["agents"]] == ["d-bob"]
    assert [(f["daemon_id"], f["agent"]) for f in state["forgotten"]] == [("d-alice", "Alice (desk 4)")]
    assert sorted(a["daemon_id"] for a in state["alerts"]) == ["d-alice", "d-replay"]
    status, said = console.request("POST", "/api/agents/forget", json.dumps({"agent": "qa@laptop"}).encode())
    assert (status, json.loads(said)) == (200, {"agent": "qa@laptop", "daemon_ids": ["d-replay"]})
    page.wait(f"JSON.stringify({rows}) === JSON.stringify(['d-bob'])")  # told to every open page
    assert console.request("POST", "/api/agents/forget", json.dumps({"agent": "Zoe"}).encode())[0] == 404
    again = console_pages.open()
    assert again.eval(f"JSON.stringify({rows})") == '["d-bob"]'
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=False)  # the desktop back in service
    again.wait(f"JSON.stringify({rows}) === JSON.stringify(['d-alice', 'd-bob'])")


def test_a_stopped_or_silent_agents_devices_are_not_shown_running(tmp_path, chromium):
    """The last heartbeat of a daemon that stopped said its devices were running: the row says they
    are closed; a daemon no longer heard may have lost them, so its row names no device state, and
    the call it was in is said as its last heartbeat's, not as running now. A daemon that beats
    less often than ``silent_after_s`` (its ``delivery.heartbeat_s``, sent as ``every_s``) is silent
    only after three of its beats, not between two."""
    from conftest import ConsolePages
    config = tmp_path / "console.toml"
    config.write_text("[supervisor]\nsilent_after_s = 2\n", encoding="utf-8")
    pages = ConsolePages(tmp_path, chromium, extra=("--config", str(config)))
    try:
        console, page = pages.console, pages.open()
        row = "document.querySelector('#agents [data-daemon=\"%s\"]')"
        _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=True, every_s=0.5)
        _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False)
        _heartbeat(console, "Carol (desk 2)", "d-carol", in_call=True, every_s=120)
        page.wait(f"{row % 'd-bob'} !== null && {row % 'd-alice'} !== null")
        assert "caller: running" in page.eval(f"{row % 'd-alice'}.innerText")
        _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False, stopped=True)
        page.wait(f"{row % 'd-bob'}.dataset.state === 'stopped'")
        bob = page.eval(f"{row % 'd-bob'}.innerText")
        assert "devices closed" in bob and "running" not in bob, bob
        page.wait(f"{row % 'd-alice'}.dataset.state === 'silent'", timeout=10)
        alice = page.eval(f"{row % 'd-alice'}.innerText")
        assert "caller:" not in alice and "running" not in alice and "last heard" in alice, alice
        assert "when last heard: call 7, 1:36" in alice, alice
        assert page.eval(f"{row % 'd-carol'}.dataset.state") == "in-call"  # its next beat is not due yet
    finally:
        pages.close()


def test_an_agent_beating_fast_while_its_critical_alert_stands_is_silent_after_three_of_those_beats(console_pages):
    """A daemon beats every 5 s while a critical alert of its call awaits acknowledgement, and says
    so (``next_beat_s``): killed then, it is silent 15 s after its last beat, its call no longer
    shown live, not after ``silent_after_s`` (90 s); one at its usual 30 s beats is not silent then.
    The page's clock is moved on (``S.skew``) as if no beat had come since."""
    console, page = console_pages.console, console_pages.open()
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=True, next_beat_s=5)
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=True, next_beat_s=30)
    pk = console.post(alert_body(2, daemon_id="d-alice", agent="Alice (desk 4)"))[1]["id"]
    card, row = f"document.querySelector('#critical article[data-id=\"{pk}\"]')", \
        "document.querySelector('#agents [data-daemon=\"%s\"]').dataset.state"
    page.wait(f"{card} !== null && {card}.querySelector('.callnow').textContent === 'call live'")

    def after(seconds: float) -> tuple[str, str, bool]:
        page.eval(f"S.skew += {seconds} - (now() - S.agents.get('d-alice').last_seen); renderOnHeartbeat()")
        return page.eval(row % "d-alice"), page.eval(row % "d-bob"), page.eval(f"{card}.querySelector('.callnow') !== null")

    assert after(14) == ("in-call", "in-call", True)  # two beats missed, and a third not quite
    assert after(16) == ("silent", "in-call", False)
    assert after(91) == ("silent", "silent", False)


def test_the_page_names_the_time_zone_of_its_times_once_in_its_header(console_pages):
    """The times on the page are the browser's clock's: the header says in which zone, once (its
    offset from UTC and its name), for a supervisor in another office or a screenshot read later."""
    console, page = console_pages.console, console_pages.open()
    page.send("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"})
    page.eval("window.reloading = true; location.reload()")
    page.wait(f"window.reloading === undefined && {console_pages.LIVE}")
    assert page.eval("document.getElementById('zone').textContent") == "times in UTC+09:00 (Asia/Tokyo)"
    assert page.eval("document.querySelector('header').innerText").count("UTC") == 1
    page.send("Emulation.setTimezoneOverride", {"timezoneId": "America/Sao_Paulo"})  # said again as the page redraws
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=False)
    page.wait("document.getElementById('zone').textContent === 'times in UTC-03:00 (America/Sao_Paulo)'")


def test_the_page_shows_one_agent_alone_when_asked_and_keeps_it_through_a_reload(console_pages, tmp_path):
    """With a shift of agents, one agent is looked at alone (chosen in the header, or ``?agent=NAME``
    in the address, which the token's sign-in keeps and a reload keeps): only that agent's alerts and
    row are drawn, each heading counting that agent's of all (``(1 of 2)``); "All agents" draws them all again."""
    from urllib.parse import quote
    console = console_pages.console
    for i, name in enumerate(("Alice (desk 4)", "Bob (desk 9)", "Carol (desk 2)")):
        _heartbeat(console, name, f"d-{i}", in_call=True)
        console.post(alert_body(1, daemon_id=f"d-{i}", agent=name))
    console.post(alert_body(2, daemon_id="d-0", agent="Alice (desk 4)", severity="warning", kind="slow_speech"))
    page = console_pages.browser.new_page(f"{console.base}/?token={console.token}&agent={quote('Bob (desk 9)')}")
    page.wait(console_pages.LIVE, timeout=30)
    counts = ("[...document.querySelectorAll('h2 .count')].map(c => c.textContent).join(' ') + ' | ' + "
              "[...document.querySelectorAll('article, .agentrow')].map(e => e.querySelector('.agent').textContent)"
              ".join(', ')")
    assert page.eval("new URLSearchParams(location.search).get('agent')") == "Bob (desk 9)"
    assert page.eval("location.search.includes('token')") is False
    assert page.eval(counts) == "(1 of 3) (0 of 1) (0 of 0) (1 of 3) | Bob (desk 9), Bob (desk 9)"
    assert page.eval("document.getElementById('warning').innerText") == "None open of Bob (desk 9)."
    choose = "{ const f = document.getElementById('agent-filter'); f.value = '%s'; f.dispatchEvent(new Event('change')); }"
    page.eval(choose % "Alice (desk 4)")
    assert page.eval(counts) == ("(1 of 3) (1 of 1) (0 of 0) (1 of 3) | Alice (desk 4), Alice (desk 4), "
                                 "Alice (desk 4)")
    page.eval("window.reloading = true; location.reload()")
    page.wait(f"window.reloading === undefined && {console_pages.LIVE}")
    assert page.eval("document.getElementById('agent-filter').value") == "Alice (desk 4)"
    assert page.eval(counts).startswith("(1 of 3) (1 of 1) (0 of 0) (1 of 3) |")
    _keep(page.screenshot(tmp_path / "console-one-agent.png"))
    # another agent's new critical alert: its banner, clicked, shows every agent again to bring its card into view
    carol = console.post(alert_body(3, daemon_id="d-2", agent="Carol (desk 2)"))[1]["id"]
    page.wait("document.body.classList.contains('flash')")
    page.eval("document.getElementById('banner').click()")
    assert page.eval(f"document.querySelector('#critical article[data-id=\"{carol}\"]') !== null")
    assert page.eval(counts).startswith("(4) (1)  (3) |") and page.eval("location.search") == ""
    page.eval(choose % "Carol (desk 2)")
    assert page.eval(counts).startswith("(2 of 4) (0 of 1) (0 of 0) (1 of 3) |")
    page.eval(choose % "")
    assert page.eval(counts).startswith("(4) (1)  (3) |") and page.eval("location.search") == ""


def test_an_agent_whose_daemon_runs_without_its_speech_model_says_so_whatever_its_last_problem(console_pages):
    """A daemon that found no speech model runs on acoustic cues alone until a restart: its row
    says so beside its last problem (a webhook outage since), which no longer is that one."""
    console, page = console_pages.console, console_pages.open()
    off = "transcription off: no speech model for language 'en'; running acoustic-only until a start loads a model"
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=False, transcription_off=off,
               last_error={"level": "warning", "message": "webhook: HTTP 503", "at": time.time()})
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False)
    row = "document.querySelector('#agents [data-daemon=\"%s\"]')"
    page.wait(f"{row % 'd-alice'} !== null && {row % 'd-bob'} !== null")
    alice = page.eval(f"{row % 'd-alice'}.innerText").splitlines()
    assert off in alice and "last problem: webhook: HTTP 503" in alice, alice
    assert "transcription" not in page.eval(f"{row % 'd-bob'}.innerText")


def test_two_daemons_posting_as_one_agent_before_their_databases_open_each_say_which_they_are(console_pages):
    """A daemon whose database has not opened yet posts under an id made for its process
    (``unopened-`` and a random part): two such daemons of one name on one machine each name
    themselves apart, not both by that word."""
    import uuid
    console, page = console_pages.console, console_pages.open()
    ids = [f"unopened-{uuid.uuid4().hex}" for _ in range(2)]
    for daemon_id in ids:
        _heartbeat(console, "Alice (desk 4)", daemon_id, in_call=False)
    said = "[...document.querySelectorAll('#agents .namesakes')].map(n => n.textContent)"
    page.wait(f"{said}.length === 2")
    assert len(set(page.eval(said))) == 2, page.eval(said)


def test_a_page_whose_session_ended_says_so_and_is_live_again_once_signed_in(tmp_path, console_pages):
    """The console restarted with a new shared token (the sessions it signed end): the open page's
    event stream is refused (401), which a browser does not retry. The page says it is signed out,
    not "reconnecting" for ever while no alert reaches it, and once this browser has a session
    again (the new address opened in another tab) it is live again and shows the new alerts; to a
    screen reader too, each change once. A critical alert that came meanwhile flashes the banner
    and is said once the page is live again."""
    from console_proc import ConsoleProcess
    console, page = console_pages.console, console_pages.open()
    port = console.port
    tally = "[document.getElementById('tally').textContent, document.title]"
    assert page.eval(tally) == ["no critical open", "call-monitor: supervisor"]
    assert console.stop() == 0
    console.token_file.write_text("a-new-shared-token-of-enough-characters\n")
    again = ConsoleProcess(console.tmp, port=port)
    try:
        page.wait("document.getElementById('conn').textContent.startsWith('signed out')", timeout=20)
        assert again.post(alert_body(1))[0] == 201
        # the header read from across the room says no count it no longer knows: not "no critical open"
        assert page.eval(tally) == ["no count: not connected", "(not connected) call-monitor: supervisor"]
        console_pages.browser.new_page(f"{again.base}/?token={again.token}")  # a new session in this browser
        page.wait("document.querySelectorAll('#critical article').length === 1", timeout=20)
        assert page.eval("document.getElementById('conn').textContent") == "live"
        assert page.eval(tally) == ["1 critical open", "(1 critical) call-monitor: supervisor"]
        # a screen reader is told each change once, though the page tried again and again meanwhile
        assert [m.split(":")[0] for m in page.eval("[...document.getElementById('say').children].map(p => p.textContent)")] \
            == ["Connection to the console lost", "Signed out", "Connected again"]
        # the critical alert that came meanwhile flashes the banner and is said, as it would have live
        assert page.eval("document.body.classList.contains('flash')")
        assert page.eval("document.getElementById('say-critical').textContent").startswith(
            "New critical alert: alice, possible emergency (call 7)")
    finally:
        again.kill()


def test_a_time_of_another_day_says_its_date_and_todays_its_time_alone(console_pages):
    """An alert left open overnight, or posted late from a daemon's outbox, happened on another day:
    its card says that day's date with the time, where one of today says the time alone, so that
    yesterday's 02:27 does not read as today's."""
    console, page = console_pages.console, console_pages.open()
    two_days = 2 * 86400
    old = alert_body(1, severity="warning", kind="slow_speech", call_id=3)
    old["call_started_at"] -= two_days
    old["at"] -= two_days
    assert console.post(old)[0] == 201
    assert console.post(alert_body(2, severity="warning", kind="slow_speech", call_id=4))[0] == 201
    page.wait("document.querySelectorAll('#warning article').length === 2")
    when = "document.querySelector('#warning article[data-id=\"%d\"] .when').textContent"
    started, date = (page.eval(f"new Date({t} * 1000).toLocaleDateString([], "
                               "{year: 'numeric', month: 'short', day: 'numeric'})")
                     for t in (old["call_started_at"], old["at"]))  # two dates where the call spans midnight
    said = page.eval(when % 1)
    opening = f"call 3 started {started} "
    assert said.startswith(opening) and date in said[len(opening):], said  # the start and the alert
    today = page.eval("new Date().toLocaleDateString([], {year: 'numeric', month: 'short', day: 'numeric'})")
    assert today not in page.eval(when % 2) and date not in page.eval(when % 2)


def test_each_list_counts_its_alerts_and_says_how_many_of_them_it_shows(console_pages):
    """The page draws the newest 50 acknowledged alerts (and at most 1000 open ones of each
    severity): each list's heading counts all of them, and a list that draws fewer says so, so a
    supervisor knows how many there are. The API's ``acked_total`` counts every acknowledged alert,
    beyond the latest 500 it lists; an acknowledgement on the page counts once."""
    console, page = console_pages.console, console_pages.open()
    ids = [console.post(alert_body(i, severity="warning", kind="slow_speech", call_id=i))[1]["id"]
           for i in range(1, 56)]
    for pk in ids[:52]:
        assert console.request("POST", f"/api/alerts/{pk}/ack", json.dumps({"by": "Dana"}).encode())[0] == 200
    assert console.post(alert_body(99))[0] == 201
    count = "document.getElementById('%s-count').textContent"
    page.wait(f"{count % 'acked'} === '(52)' && {count % 'warning'} === '(3)' && {count % 'critical'} === '(1)'")
    assert page.eval("document.querySelectorAll('#acked article').length") == 50
    assert page.eval("document.querySelector('#acked .more').textContent") == "The newest 50 of 52 shown."
    assert page.eval("document.querySelector('#warning .more')") is None
    page.eval("document.getElementById('who').value = 'Dana'")
    page.eval("document.querySelector('#warning article button.ack').click()")
    page.wait(f"{count % 'acked'} === '(53)' && {count % 'warning'} === '(2)'")
    assert console.state()["acked_total"] == 53
    page.eval("document.querySelector('#critical article button.ack').click()")
    page.wait(f"{count % 'critical'} === '' && {count % 'acked'} === '(54)'")
    assert page.eval("document.querySelector('#critical .empty').textContent") == "None open."


def test_a_new_critical_alert_s_banner_shows_however_far_the_page_is_scrolled_and_leads_to_its_card(console_pages):
    """A supervisor reading down a long list of warnings sees the banner of a new critical alert where
    they are (it stays with the header), saying whose alert and what; clicking it brings the alert's
    card into view."""
    console, page = console_pages.console, console_pages.open(height=400)
    for i in range(1, 9):
        assert console.post(alert_body(i, severity="warning", kind="slow_speech", call_id=i))[0] == 201
    page.wait("document.querySelectorAll('#warning article').length === 8")
    page.eval("window.scrollTo(0, document.body.scrollHeight)")
    page.wait("window.scrollY > 800")
    status, body = console.post(alert_body(20, agent="Alice (desk 4)", call_id=12))
    assert status == 201
    page.wait("document.body.classList.contains('flash')")
    banner = page.eval("(() => { const r = document.getElementById('banner').getBoundingClientRect(); "
                       "return [r.top, r.bottom, innerHeight]; })()")
    assert 0 <= banner[0] and banner[1] <= banner[2], banner  # in sight, not at the page's top
    assert page.eval("document.getElementById('banner').textContent") == \
        "New critical alert: Alice (desk 4), possible emergency (call 12): click to show it"
    page.eval("document.getElementById('banner').click()")
    card = f"document.querySelector('#critical article[data-id=\"{body['id']}\"]').getBoundingClientRect()"
    page.wait(f"{card}.top >= 0 && {card}.top < innerHeight")


def test_an_acknowledgement_asks_for_the_supervisor_s_name_rather_than_storing_none(console_pages):
    """The agent reads who acknowledged ("acknowledged by supervisor Dana"): with "Your name" left
    empty the button asks for it and stores nothing; once it is typed, the alert is acknowledged
    under it."""
    console, page = console_pages.console, console_pages.open()
    status, body = console.post(alert_body(1))
    assert status == 201
    button = f"document.querySelector('#critical article[data-id=\"{body['id']}\"] button.ack')"
    page.wait(f"{button} !== null")
    page.eval(f"{button}.click()")
    page.wait(f"{button}.textContent === 'Acknowledge (type your name above first)'")
    assert page.eval("document.activeElement.id") == "who"
    assert console.state()["alerts"][0]["acked_at"] is None
    page.eval("document.getElementById('who').value = 'Dana'")
    page.eval(f"{button}.click()")
    page.wait("document.querySelectorAll('#acked article').length === 1")
    assert console.state()["alerts"][0]["acked_by"] == "Dana"


def test_one_click_acknowledges_every_open_alert_of_a_call_and_each_reaches_its_daemon(console_pages):
    """A call that went bad raises a critical alert and several warnings: its cards offer to
    acknowledge all of its open alerts at once, each stored (and told to its daemon) as one
    acknowledged alone is; another call's alerts, of the same agent too, stay open."""
    console, page = console_pages.console, console_pages.open()
    started = time.time() - 120
    ours = [console.post(alert_body(i, kind=kind, severity=severity, call_id=7, call_started_at=started))[1]["id"]
            for i, (kind, severity) in enumerate((("slow_speech", "warning"), ("possible_emergency", "critical"),
                                                 ("long_pauses", "warning")), start=1)]
    other = console.post(alert_body(4, kind="slow_speech", severity="warning", call_id=8))[1]["id"]
    card = "document.querySelector('#%s article[data-id=\"%d\"]')"
    page.wait(f"{card % ('critical', ours[1])} !== null && {card % ('warning', other)} !== null")
    assert page.eval(f"{card % ('critical', ours[1])}.querySelector('button.ackcall').textContent") == \
        "Acknowledge all 3 of this call"
    assert page.eval(f"{card % ('warning', other)}.querySelector('button.ackcall')") is None  # its call's only one
    page.eval("document.getElementById('who').value = 'Dana'")
    page.eval(f"{card % ('critical', ours[1])}.querySelector('button.ackcall').click()")
    page.wait("document.querySelectorAll('#acked article').length === 3")
    state = {a["id"]: a["acked_by"] for a in console.state()["alerts"]}
    assert state == {**{pk: "Dana" for pk in ours}, other: None}
    status, said = console.post({"type": "heartbeat", "agent": "alice", "daemon_id": "d-test", "every_s": 30,
                                 "status": {"devices_open": True}})
    assert status == 200 and sorted(a["alert_id"] for a in said["acks"]) == [1, 2, 3]


def test_a_reloaded_silent_after_s_applies_at_once_on_the_pages_already_open(tmp_path, chromium):
    """``supervisor.silent_after_s`` applies at a reload (SIGHUP) on the pages open then too, not
    only on those opened after: an agent no longer heard for longer than the new setting turns silent."""
    import signal
    from conftest import ConsolePages
    config = tmp_path / "console.toml"
    config.write_text("[supervisor]\nsilent_after_s = 600\n", encoding="utf-8")
    pages = ConsolePages(tmp_path, chromium, extra=("--config", str(config)))
    try:
        console, page = pages.console, pages.open()
        _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=False, every_s=0.2)
        row = "document.querySelector('#agents [data-daemon=\"d-alice\"]')"
        page.wait(f"{row} !== null && {row}.dataset.state === 'connected'")
        time.sleep(1)  # not heard for 1 s: silent by the new setting, not by the one the page had
        assert page.eval(f"{row}.dataset.state") == "connected"
        config.write_text("[supervisor]\nsilent_after_s = 0.5\n", encoding="utf-8")
        console.proc.send_signal(signal.SIGHUP)
        page.wait(f"{row}.dataset.state === 'silent' && S.silentAfter === 0.5", timeout=2)  # not at the next 5 s redraw
    finally:
        pages.close()


TEXT_DRAWN = """(() => {
  const rgba = (c) => { const m = c.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const over = (f, b) => [0, 1, 2].map((i) => f[i] * f[3] + b[i] * (1 - f[3])).concat(1);
  const hex = (c) => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
  const opacity = (e) => { let o = 1; for (let n = e; n; n = n.parentElement) o *= +getComputedStyle(n).opacity; return o; };
  const behind = (e) => { const layers = [];
    for (let n = e; n; n = n.parentElement) { const c = rgba(getComputedStyle(n).backgroundColor), o = opacity(n);
      if (c[3] > 0) layers.push([c[0], c[1], c[2], c[3] * o]); if (c[3] * o === 1) break; }
    return layers.reduceRight((b, f) => over(f, b), [255, 255, 255, 1]); };
  const drawn = [];
  for (const e of document.querySelectorAll('body *')) {
    if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    if (!e.getClientRects().length || e.closest('.sr, script, option')) continue;
    const st = getComputedStyle(e), bg = behind(e), fg = rgba(st.color);
    drawn.push([e.tagName + '.' + e.className + ' "' + e.textContent.trim().slice(0, 30) + '"',
                hex(over([fg[0], fg[1], fg[2], fg[3] * opacity(e)], bg)), hex(bg), parseFloat(st.fontSize), +st.fontWeight]);
  }
  return drawn;
})()"""
"""Every text drawn on the page: where it is, its colour and the colour behind it (``#rrggbb``, what is
translucent laid over what is under it), its size in pixels and its weight."""


def _low_contrast(page) -> list[str]:
    """Every text drawn on ``page`` whose contrast with what is behind it is under WCAG AA's (4.5:1,
    3:1 for large text: 24 px, or 18.66 px bold), computed over the colours read from the page."""
    low = []
    for where, fg, bg, px, weight in page.eval(TEXT_DRAWN):
        large = px >= 24 or (px >= 18.66 and weight >= 700)
        if (ratio := contrast(fg, bg)) < (3 if large else 4.5):
            low.append(f"{where}: {fg} on {bg} is {ratio:.2f}:1")
    return low


def _press(page, key: str) -> None:
    """A key pressed and let go, as the keyboard does it (Tab, Enter, Space, Escape)."""
    code, vk, text = {"Tab": ("Tab", 9, ""), "Enter": ("Enter", 13, "\r"), " ": ("Space", 32, " "),
                      "Escape": ("Escape", 27, "")}[key]
    down = {"key": key, "code": code, "windowsVirtualKeyCode": vk}
    page.send("Input.dispatchKeyEvent", {"type": "keyDown", **down, **({"text": text} if text else {})})
    page.send("Input.dispatchKeyEvent", {"type": "keyUp", **down})


def _accessibility_tree(page, until: tuple[str, str], timeout: float = 30.0) -> tuple[list, list, list]:
    """The page's accessibility tree as a screen reader gets it (its nodes not ignored, their roles and
    names, and the controls' among them), asked again until it holds ``until`` (a role and a name) or
    ``timeout`` seconds pass: the browser builds it as it goes, and on a loaded machine a first answer
    can lack a card's last control."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = [n for n in page.send("Accessibility.getFullAXTree")["nodes"] if not n.get("ignored")]
        named = [(n["role"]["value"], n.get("name", {}).get("value", "")) for n in nodes]
        controls = [(role, name) for role, name in named if role in ("button", "link", "textbox", "combobox",
                                                                      "DisclosureTriangle", "article")]
        if until in controls or time.monotonic() > deadline:
            return nodes, named, controls
        time.sleep(0.2)


def test_a_supervisor_on_a_screen_reader_and_the_keyboard_hears_each_new_alert_once_and_reaches_every_control(
        console_pages):
    """A new critical alert is said at once (an assertive live region), a warning or an acknowledgement
    when the screen reader is done speaking (a polite one), each once: a redraw says nothing. Every
    control has a name that says which alert it is about; the page has landmarks, each list a region
    and each card a heading. The keyboard reaches the banner (Tab) and, pressed (Enter), the alert's
    card; Space acknowledges; a focus is drawn; an alert or heartbeat arriving keeps the focus where it
    is, and a card acknowledged leaves it on its list. Every text is at least WCAG AA's contrast in the
    normal and the critical styles, and the banner and new cards do not flash or pulse when the
    system asks for less motion."""
    console = console_pages.console
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=True)
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False, stopped=True)
    acked = console.post(alert_body(1, daemon_id="d-bob", agent="Bob (desk 9)", severity="warning", kind="weak_voice",
                                    call_id=3))[1]["id"]
    assert console.request("POST", f"/api/alerts/{acked}/ack", json.dumps({"by": "Dana"}).encode())[0] == 200
    page = console_pages.open()
    said = "[...document.getElementById('%s').children].map(p => p.textContent)"
    assert page.eval(said % "say") == [] and page.eval(said % "say-critical") == []  # the page's first state: nothing
    assert console.post(alert_body(2, severity="warning", kind="slow_speech", call_id=4))[0] == 201
    page.wait(f"{said % 'say'}.length === 1")
    pk = console.post(alert_body(3, daemon_id="d-alice", agent="Alice (desk 4)"))[1]["id"]
    page.wait(f"{said % 'say-critical'}.length === 1")
    assert page.eval(said % "say") == ["New warning: alice, slow speech (call 4)."]
    assert page.eval(said % "say-critical") == ["New critical alert: Alice (desk 4), possible emergency (call 7), 1:35 "
                                                "into the call. " + alert_body()["message"]]
    assert page.eval("[...document.querySelectorAll('[aria-live], [role=alert], [role=status], [role=log]')]"
                     ".map(e => e.id + ' ' + e.getAttribute('aria-live'))") == ["say-critical assertive", "say polite"]
    assert page.eval("getComputedStyle(document.getElementById('banner')).animationName") == "blink"
    assert _low_contrast(page) == []  # the critical card, the banner, every agent's state, an acknowledged card

    page.send("Accessibility.enable")
    report_link = ("link", "Call report (opens in a new tab): Alice (desk 4), possible emergency (call 7)")
    nodes, named, controls = _accessibility_tree(page, until=report_link)
    assert all(name for _, name in controls), controls
    assert ("button", "Acknowledge: critical alert Alice (desk 4), possible emergency (call 7)") in controls
    assert ("DisclosureTriangle", "Evidence: critical alert Alice (desk 4), possible emergency (call 7)") in controls
    # the call report opens in a new tab, which its link says (WCAG 3.2.5), as the parser checks every page
    assert report_link in controls
    assert page.eval("document.querySelectorAll('a[target]').length") == 1
    assert new_tab_unsaid(page.eval("document.documentElement.outerHTML")) == []
    # an alert kind reads as words wherever it shows, the card's data keeping its key; as the report says it
    assert "active: possible emergency" in page.eval("document.querySelector('#agents [data-daemon=\"d-alice\"]').textContent")
    assert page.eval(f"document.querySelector('#critical article[data-id=\"{pk}\"]').dataset.kind") == "possible_emergency"
    kinds = [*ACOUSTIC_KINDS, "possible_emergency", "distress_phrase", "a_rule_of_its_own"]
    assert page.eval(f"{json.dumps(kinds)}.map(kindName)") == [kind_name(k) for k in kinds]
    assert sorted(role for role, _ in named if role in ("banner", "main", "region")) == ["banner", "main"] + ["region"] * 4
    levels = sorted(next(p["value"]["value"] for p in n["properties"] if p["name"] == "level")
                    for n in nodes if n["role"]["value"] == "heading")
    assert levels == [1, 2, 2, 2, 2, 3, 3, 3], levels  # the page, its four lists, each card
    # a card's heading and an agent's name and state read as words without the styles too
    assert page.eval(f"document.getElementById('title-{pk}').textContent") == "critical Alice (desk 4) possible emergency"
    assert page.eval("document.querySelector('#agents [data-daemon=\"d-bob\"] .head').textContent") == "Bob (desk 9) stopped"

    focused = "(e => e.id || e.className)(document.activeElement)"
    went = []
    for _ in range(5):
        _press(page, "Tab")
        went.append(page.eval(focused))
    assert went == ["agent-filter", "who", "sound", "outcomes-open", "banner"], went
    assert page.eval("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    _press(page, "Enter")
    assert page.eval("document.activeElement.dataset.id") == str(pk)  # the alert's card
    _press(page, "Tab")
    _press(page, "Tab")
    assert page.eval(focused) == "ack"
    _press(page, " ")  # no name typed: it asks for one
    assert page.eval(focused) == "who" and page.eval(said % "say")[-1].startswith("Type your name")
    page.send("Input.insertText", {"text": "Dana"})
    for _ in range(6):
        _press(page, "Tab")
        if page.eval("document.activeElement.matches('#critical button.ack')"):
            break
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=False)  # its card drawn again: "call ended"
    page.wait("document.querySelector('#critical .callnow').textContent === 'call ended'")
    assert page.eval(f"document.activeElement.matches('#critical article[data-id=\"{pk}\"] button.ack')")
    page.eval("window.was = document.activeElement")
    assert console.post(alert_body(4, severity="warning", kind="long_pauses", call_id=5))[0] == 201
    page.wait(f"{said % 'say'}.length === 3")
    assert page.eval("document.activeElement === window.was")  # its card, unchanged, was not drawn again
    _press(page, "Enter")
    page.wait("document.querySelector('#critical article') === null")
    assert page.eval(focused) == "h-critical"  # none left in its list: the list's heading
    page.wait(f"{said % 'say'}.length === 4")
    assert page.eval(said % "say")[-1] == "Acknowledged by Dana: critical alert Alice (desk 4), possible emergency (call 7)."
    assert len(page.eval(said % "say-critical")) == 1  # said once, whatever was redrawn since

    page.send("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
    pk = console.post(alert_body(5, daemon_id="d-alice", agent="Alice (desk 4)", call_id=8))[1]["id"]
    page.wait(f"document.querySelector('#critical article[data-id=\"{pk}\"]') !== null")
    assert page.eval("getComputedStyle(document.getElementById('banner')).display") == "block"
    assert page.eval(f"[getComputedStyle(document.getElementById('banner')).animationName, getComputedStyle("
                     f"document.querySelector('#critical article[data-id=\"{pk}\"]')).animationName]") == ["none", "none"]
    assert _low_contrast(page) == []


def _hex(css: str) -> str:
    """``rgb(r, g, b)`` (a computed colour, opaque) as ``#rrggbb``, which :func:`a11y.contrast` reads."""
    r, g, b = (int(float(v)) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def test_the_header_counts_every_agents_open_critical_alerts_in_words_for_a_glance_and_so_does_the_title(
        console_pages):
    """From across the room, the header that stays in sight says how many critical alerts are open, in
    words and large, white on the critical red (at least 4.5:1); a page in a background tab says it in its
    title. Both count every agent's, whichever agent the page shows alone."""
    console, page = console_pages.console, console_pages.open()
    tally = "document.getElementById('tally')"
    served = console.request("GET", "/")[1].decode()
    assert '<span id="tally" hidden></span>' in served  # before the console has sent what is open: no count at all
    assert page.eval(f"[{tally}.textContent, document.title]") == ["no critical open", "call-monitor: supervisor"]
    console.post(alert_body(1, daemon_id="d-alice", agent="Alice (desk 4)"))
    console.post(alert_body(1, daemon_id="d-bob", agent="Bob (desk 9)", call_id=3))
    console.post(alert_body(2, daemon_id="d-bob", agent="Bob (desk 9)", severity="warning", kind="slow_speech"))
    page.wait(f"{tally}.textContent === '2 critical open'")
    assert page.eval("document.title") == "(2 critical) call-monitor: supervisor"
    look = page.eval(f"(s => [s.color, s.backgroundColor, parseFloat(s.fontSize), s.fontWeight])(getComputedStyle({tally}))")
    assert contrast(_hex(look[0]), _hex(look[1])) >= 4.5 and _hex(look[1]) == "#b00020", look
    body_px = page.eval("parseFloat(getComputedStyle(document.querySelector('#critical .msg')).fontSize)")
    assert look[2] >= 1.2 * body_px and int(look[3]) >= 700, look
    page.eval("{ const f = document.getElementById('agent-filter'); f.value = 'Alice (desk 4)'; "
              "f.dispatchEvent(new Event('change')); }")
    assert page.eval(f"[{tally}.textContent, document.title]") == ["2 critical open",
                                                                   "(2 critical) call-monitor: supervisor"]
    pk = next(a["id"] for a in console.state()["alerts"] if a["agent"] == "Bob (desk 9)" and a["severity"] == "critical")
    assert console.request("POST", f"/api/alerts/{pk}/ack", json.dumps({"by": "Dana"}).encode())[0] == 200
    page.wait(f"{tally}.textContent === '1 critical open' && document.title === '(1 critical) call-monitor: supervisor'")


def test_the_header_says_no_count_while_not_connected_however_the_page_is_drawn_meanwhile(console_pages):
    """The connection lost, the count said before may be wrong (a critical alert posted meanwhile
    reaches no page): the page drawn again meanwhile (another agent chosen, an agent turning silent,
    midnight) says no count still, in the header and the title, not the last one again."""
    console, page = console_pages.console, console_pages.open()
    tally = "[document.getElementById('tally').textContent, document.title]"
    console.post(alert_body(1))
    page.wait("document.getElementById('tally').textContent === '1 critical open'")
    console.kill()
    page.wait("document.getElementById('tally').textContent === 'no count: not connected'")
    page.eval("{ const f = document.getElementById('agent-filter'); f.value = 'alice'; "
              "f.dispatchEvent(new Event('change')); }")
    assert page.eval("document.querySelectorAll('#critical article').length") == 1  # drawn again, alice's alone
    assert page.eval(tally) == ["no count: not connected", "(not connected) call-monitor: supervisor"]


FOCUS_SEEN = """(e => {
  const s = getComputedStyle(e), offset = parseFloat(s.outlineOffset);
  const opaque = (n) => { for (; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor;
    if (!/rgba\\(.*, 0\\)$/.test(c) && c !== 'transparent') return c; } return 'rgb(255, 255, 255)'; };
  return [e.id || e.className || e.tagName, s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor,
          opaque(offset < 0 ? e : e.parentElement)];
})(document.activeElement)"""
"""The focused control's name, its outline's style, width and colour, and the colour the outline is drawn
on: the control's own background when drawn inside it (a negative offset), else what is behind the control."""


def test_every_control_the_keyboard_reaches_shows_a_focus_ring_of_3_to_1_against_what_it_is_drawn_on(console_pages):
    """Tab goes through every control of the page (the header's, the banner, a card's Evidence,
    Acknowledge, "Acknowledge all" and call report, an agent's Forget, and once "Outcomes" is pressed the
    outcomes view's period, Refresh and Close), and each shows a solid ring of 2 px at least whose colour is
    at least 3:1 against what it is drawn on (WCAG 1.4.11 and 2.4.7): in the dark header around its white
    controls, not on them."""
    console = console_pages.console
    _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=True)
    _heartbeat(console, "Bob (desk 9)", "d-bob", in_call=False, stopped=True)
    call = alert_body(1, daemon_id="d-alice", agent="Alice (desk 4)", severity="warning", kind="slow_speech")
    console.post(call)
    page = console_pages.open()
    console.post(alert_body(2, daemon_id="d-alice", agent="Alice (desk 4)", call_started_at=call["call_started_at"]))
    page.wait("document.body.classList.contains('flash')")  # the banner shows for 8 s, or while it has the focus
    rings = []
    for _ in range(20):
        _press(page, "Tab")
        if page.eval("document.activeElement === document.body"):
            break
        rings.append(page.eval(FOCUS_SEEN))
        if rings[-1][0] == "banner":  # held by its focus: the card's report link may come later
            page.wait("document.querySelector('#critical a.report') !== null")
    reached = [name for name, *_ in rings]
    assert reached[:5] == ["agent-filter", "who", "sound", "outcomes-open", "banner"], reached
    assert {"ack", "ackcall", "report", "forget", "SUMMARY"} <= set(reached), reached
    page.eval("document.getElementById('outcomes-open').focus()")
    _press(page, "Enter")  # the view opened, the focus on its heading: its controls follow
    for _ in range(3):
        _press(page, "Tab")
        rings.append(page.eval(FOCUS_SEEN))
    assert [name for name, *_ in rings[-3:]] == ["outcomes-period", "outcomes-refresh", "outcomes-close"]
    weak = [(name, style, width, colour, on, round(contrast(_hex(colour), _hex(on)), 2))
            for name, style, width, colour, on in rings
            if style != "solid" or width < 2 or contrast(_hex(colour), _hex(on)) < 3]
    assert weak == []


def test_the_page_reads_at_200_and_400_percent_zoom_and_in_the_browser_s_larger_text_and_never_flashes_past_3_hz(
        console_pages):
    """A 1280 × 900 window at 200 % zoom (640 × 450 CSS pixels) shows one column without sideways
    scrolling, the header and the banner that stay in sight taking at most half its height; at 400 %
    (320 × 225), where the header alone would fill the window, the header scrolls away with the page and
    a new critical alert's banner stays in sight at the window's bottom, in at most half of it. The
    outcomes view's tables fit the width at both, their words wrapping. A larger
    text size set in the browser makes the page's text larger (its 15 px are the usual 16 px's 93.75 %);
    every animation (the banner's flash, a new card's pulse) repeats at most 3 times a second."""
    console = console_pages.console
    for i in range(4):  # a page longer than the window
        console.post(alert_body(10 + i, severity="warning", kind="slow_speech", call_id=10 + i))
    at_200, at_400 = (console_pages.browser.new_page(f"{console.base}/?token={console.token}", width=w, height=h)
                      for w, h in ((640, 450), (320, 225)))
    for page in (at_200, at_400):
        page.wait(console_pages.LIVE, timeout=30)
    console.post(alert_body(1, agent="Alice (desk 4) at the long desk by the window", kind="possible_emergency"))
    for page in (at_200, at_400):
        page.wait("document.body.classList.contains('flash') && document.querySelector('#critical article') !== null")
        assert page.eval("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.eval("getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length") == 1
        page.eval("window.scrollTo(0, document.body.scrollHeight)")
    assert at_200.eval("document.getElementById('top').getBoundingClientRect().bottom") <= 450 / 2
    header, banner = at_400.eval("['header', '#banner'].map((s) => (r => [r.top, r.bottom])("
                                 "document.querySelector(s).getBoundingClientRect()))")
    assert header[1] <= 0 and 225 / 2 <= banner[0] and banner[1] == 225, (header, banner)
    for page in (at_200, at_400):  # the outcomes view's table wraps its words in the window's width
        page.eval("document.getElementById('outcomes-open').click()")
        page.wait("document.querySelector('#outcomes-tables .outcome') !== null")
        assert page.eval("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.eval("[...document.querySelectorAll('.outcome')].map(b => b.scrollWidth - b.clientWidth).filter(Boolean)") == []
        page.send("Accessibility.enable")  # narrow, each row drawn as a block under its kind: still a table to a screen reader
        assert [n.get("name", {}).get("value") for n in page.send("Accessibility.getFullAXTree")["nodes"]
                if n["role"]["value"] == "table"][:1] == ["All agents: 5 alerts"]
    assert at_400.eval("getComputedStyle(document.querySelector('.outcome td'), '::before').content") == '"Alerts: " / ""'

    msg = "parseFloat(getComputedStyle(document.querySelector('#critical .msg')).fontSize)"
    assert at_200.eval(msg) == 15
    at_200.send("Page.setFontSizes", {"fontSizes": {"standard": 24}})
    at_200.wait(f"{msg} === 22.5")

    cycles = at_200.eval("[...document.styleSheets].flatMap((s) => [...s.cssRules]).flatMap((r) => r instanceof CSSMediaRule ? "
                       "[...r.cssRules] : [r]).filter((r) => r.style && r.style.animationName && "
                       "r.style.animationName !== 'none').map((r) => [r.selectorText, r.style.animationDuration])")
    assert sorted(name for name, _ in cycles) == [".alert.new", "body.flash #banner"], cycles
    assert all(float(d.rstrip("s")) >= 1 / 3 for _, d in cycles), cycles


def test_the_page_holds_the_latest_500_acknowledged_alerts_however_many_are_acknowledged_while_it_is_open(console_pages):
    """A shift acknowledges thousands of alerts on a page left open: the page lets go of those beyond
    the latest 500 acknowledged, as the console's state lists them, rather than holding every one for
    ever; the heading still counts them all."""
    console = console_pages.console
    stored_alerts(console, 505, acked=500)
    page = console_pages.open()
    assert page.eval("S.alerts.size") == 505
    for pk in range(501, 506):
        assert console.request("POST", f"/api/alerts/{pk}/ack", json.dumps({"by": "Dana"}).encode())[0] == 200
    page.wait("document.getElementById('acked-count').textContent === '(505)'")
    assert page.eval("S.alerts.size") == 500
    assert page.eval("[...S.alerts.keys()].sort((x, y) => x - y)[0]") == 6  # the oldest five let go
    assert page.eval("document.querySelector('#acked .more').textContent") == "The newest 50 of 505 shown."


def test_an_alert_makes_its_own_card_not_every_card_again(console_pages):
    """With hundreds of alerts open, a new one makes its card (and the agent's row its heartbeat
    changes), not the hundreds already drawn, which stay the same nodes: the page keeps up with a call
    centre's alerts arriving several a second."""
    console = console_pages.console
    stored_alerts(console, 300, acked=0)
    page = console_pages.open()
    assert page.eval("document.querySelectorAll('#warning article').length") == 300
    page.eval("window.made = 0; const make = document.createElement.bind(document); "
              "document.createElement = (tag) => { window.made += 1; return make(tag); }; "
              "window.first = document.querySelector('#warning article[data-id=\"1\"]'); true")
    assert console.post(alert_body(1000, severity="warning", kind="slow_speech", call_id=1000))[0] == 201
    page.wait("document.querySelectorAll('#warning article').length === 301")
    assert page.eval("document.querySelector('#warning article[data-id=\"1\"]') === window.first")
    assert page.eval("window.made") < 100, page.eval("window.made")  # one card's elements, not 301 cards'


def test_an_evidence_opened_after_the_state_is_sent_again_stays_open_as_alerts_come(console_pages):
    """A reconnection sends the whole state again, its alerts new objects drawn as they were: the
    cards on the page stay where they are, and an Evidence the supervisor opens on one afterwards
    stays open when the next alert is drawn (it was drawn back to the copy the page had set aside)."""
    console = console_pages.console
    assert console.post(alert_body(1, severity="warning", kind="slow_speech", call_id=1))[0] == 201
    page = console_pages.open()
    page.wait("document.querySelectorAll('#warning article').length === 1")
    page.eval("window.card = document.querySelector('#warning article'); "
              "window.was = S.alerts.get(Number(window.card.dataset.id)); connect(); true")
    page.wait("S.alerts.get(Number(window.card.dataset.id)) !== window.was")  # the state sent again, drawn
    assert page.eval("document.querySelector('#warning article') === window.card")
    page.eval("window.card.querySelector('details').open = true; true")
    assert console.post(alert_body(2, severity="warning", kind="long_pauses", call_id=1))[0] == 201
    page.wait("document.querySelectorAll('#warning article').length === 2")
    assert page.eval("window.card.isConnected && window.card.querySelector('details').open")


def test_show_older_draws_older_acknowledged_alerts_asking_the_console_for_those_the_page_does_not_hold(
        console_pages):
    """The page holds the latest 500 acknowledged alerts and draws 50: "Show older", a button the
    keyboard presses, draws 50 more at each press, those the page holds first, then older ones it asks
    the console for (``GET /api/alerts``) and holds from then on, each result said to a screen reader
    (a polite live region). Once none is older, the button goes and the focus is left on the list's
    heading."""
    console = console_pages.console
    stored_alerts(console, 560, acked=560)
    page = console_pages.open()
    cards = "document.querySelectorAll('#acked article').length"
    said = "[...document.getElementById('say').children].map(p => p.textContent)"
    assert page.eval(cards) == 50 and page.eval("document.getElementById('older').textContent") == "Show 50 older"
    page.eval("document.getElementById('older').focus()")
    _press(page, "Enter")
    page.wait(f"{cards} === 100")
    assert page.eval(said) == ["Showing 50 older acknowledged alerts: the newest 100 shown."]
    for shown in range(150, 551, 50):  # from 550 on, asked of the console
        _press(page, " " if shown % 100 else "Enter")
        page.wait(f"{cards} === {shown} && {said}.length && {said}.at(-1).includes('the newest {shown} shown')")
    assert page.eval("S.alerts.size") == 550 and page.eval("document.activeElement.id") == "older"
    _press(page, "Enter")
    page.wait(f"{cards} === 560 && document.getElementById('older').hidden")
    assert page.eval(said)[-1] == "Showing 10 older acknowledged alerts: the newest 560 shown."
    assert page.eval("document.activeElement.id") == "h-acked"
    assert page.eval("[...document.querySelectorAll('#acked article')].map(a => Number(a.dataset.id))") == \
        list(range(560, 0, -1))
    assert page.eval("document.getElementById('acked-count').textContent") == "(560)"
    # an acknowledgement coming in lets none of those asked for go
    pk = console.post(alert_body(1, severity="warning", kind="slow_speech"))[1]["id"]
    assert console.request("POST", f"/api/alerts/{pk}/ack", json.dumps({"by": "Dana"}).encode())[0] == 200
    page.wait("document.getElementById('acked-count').textContent === '(561)'")
    assert page.eval("S.alerts.size") == 561 and page.eval(cards) == 561


def test_show_older_with_one_agent_shown_looks_back_through_the_others_alerts_for_that_agent_s(console_pages):
    """One agent shown whose acknowledged alerts are all older than the latest 500 the page holds: its list
    is empty, and "Show older" asks the console for older ones until it finds that agent's, says how many
    it shows, and goes once none is older."""
    console = console_pages.console
    stored_alerts(console, 700, acked=700, bob=range(1, 31))
    page = console_pages.browser.new_page(f"{console.base}/?token={console.token}&agent=bob")
    page.wait(console_pages.LIVE, timeout=30)
    assert page.eval("document.querySelector('#acked .empty').textContent") == "None yet of bob."
    page.eval("document.getElementById('older').focus()")
    _press(page, "Enter")
    page.wait("document.querySelectorAll('#acked article').length === 30 && document.getElementById('older').hidden")
    assert page.eval("[...document.getElementById('say').children].at(-1).textContent") == \
        "Showing 30 older acknowledged alerts of bob: the newest 30 shown."
    assert page.eval("document.activeElement.id") == "h-acked"
    assert page.eval("document.getElementById('acked-count').textContent") == "(30 of 700)"


def test_a_critical_alert_acknowledged_after_its_calls_later_warnings_is_drawn_first_among_the_acknowledged(
        console_pages):
    """The usual order of a shift: a call's critical alert raised first, its 50 later warnings acknowledged,
    then the critical. Acknowledged while the page is open, it leaves the open critical alerts and is the
    first card of "Acknowledged" (the latest acknowledged first), not left undrawn beyond the 50 drawn for
    having been received first; a page opened afterwards draws it there too."""
    console = console_pages.console
    for i in range(1, 52):
        severity, kind = ("critical", "possible_emergency") if i == 1 else ("warning", "long_pauses")
        assert console.post(alert_body(i, severity=severity, kind=kind, t=float(i)))[0] == 201
    for pk in range(2, 52):
        assert console.request("POST", f"/api/alerts/{pk}/ack", json.dumps({"by": "Dana"}).encode())[0] == 200
    page = console_pages.open()
    drawn = "[...document.querySelectorAll('#acked article')].map(a => Number(a.dataset.id))"
    assert page.eval(drawn) == list(range(51, 1, -1))
    assert console.request("POST", "/api/alerts/1/ack", json.dumps({"by": "Dana"}).encode())[0] == 200
    page.wait("document.querySelectorAll('#critical article').length === 0")
    page.wait(f"{drawn}[0] === 1")
    assert page.eval(drawn) == [1, *range(51, 2, -1)]
    assert page.eval("document.getElementById('acked-count').textContent") == "(51)"
    assert console_pages.open().eval(drawn) == [1, *range(51, 2, -1)]


def test_show_older_pages_back_in_the_order_of_the_acknowledgements(console_pages):
    """560 alerts acknowledged, the oldest 60 received acknowledged last: the page holds the latest 500
    acknowledged (those 60, then the newest received down to 121), and "Show older" asks the console for
    those acknowledged before the earliest it holds (120 down to 61), not for those received before it
    (none), until every one is drawn, in the order they were acknowledged."""
    console = console_pages.console
    stored_alerts(console, 560, acked=560)
    with closing(sqlite3.connect(console.db)) as con, con:
        con.execute("UPDATE alerts SET acked_at = ? + id WHERE id <= 60", (time.time(),))
    page = console_pages.open()
    drawn = "[...document.querySelectorAll('#acked article')].map(a => Number(a.dataset.id))"
    assert page.eval(drawn) == list(range(60, 10, -1))
    page.eval("document.getElementById('older').focus()")
    for shown in range(100, 601, 50):
        _press(page, "Enter")
        page.wait(f"document.querySelectorAll('#acked article').length === {min(shown, 560)}")
    page.wait("document.getElementById('older').hidden")
    assert page.eval(drawn) == [*range(60, 0, -1), *range(560, 60, -1)]


def test_every_time_on_the_page_is_a_time_element_saying_it_in_iso_8601(console_pages):
    """Each time the page shows (a call's start, an alert's, an acknowledgement's, an agent last heard)
    is a ``<time>`` element whose ``datetime`` says it in ISO 8601, which assistive technology and
    programs read whatever the browser's language and zone; it reads as before."""
    console = console_pages.console
    _heartbeat(console, "alice", "d-test", in_call=False)
    body = alert_body(1, severity="warning", kind="slow_speech")
    pk = console.post(body)[1]["id"]
    assert console.request("POST", f"/api/alerts/{pk}/ack", json.dumps({"by": "Dana"}).encode())[0] == 200
    page = console_pages.open()
    page.wait("document.querySelectorAll('#acked article').length === 1")
    times = page.eval("[...document.querySelectorAll('main time')].map(t => [t.closest('[class]').className, "
                      "t.dateTime, t.textContent])")
    (alert,) = console.state()["alerts"]
    (agent,) = console.state()["agents"]
    iso = page.eval  # the browser's own ISO 8601 of a unix time
    expected = [(where, iso(f"new Date({unix} * 1000).toISOString()"))
                for where, unix in (("when", body["call_started_at"]), ("when", body["at"]),
                                    ("ackinfo", alert["acked_at"]), ("small", agent["last_seen"]))]
    assert [(cls, dt) for cls, dt, _ in times] == expected
    assert all(text == page.eval(f"clock(Date.parse('{dt}') / 1000)") for _, dt, text in times)
    assert page.eval("document.querySelector('#acked .ackinfo').textContent").startswith("Acknowledged by Dana at ")


def test_open_warnings_beyond_those_the_console_lists_are_counted_under_them_and_every_critical_shows(
        console_pages):
    """A site that never acknowledges its warnings: the console sends the newest 1000 open warnings and
    the count of the older ones, which the page says under them, while the oldest critical alert still
    shows and counts in the header."""
    console = console_pages.console
    stored_alerts(console, 2235, acked=0, critical={1})
    page = console_pages.open()
    assert page.eval("document.querySelectorAll('#critical article').length") == 1
    assert page.eval("document.getElementById('tally').textContent") == "1 critical open"
    assert page.eval("document.querySelectorAll('#warning article').length") == 1000
    assert page.eval("document.getElementById('warning-count').textContent") == "(2234)"
    assert page.eval("[...document.querySelectorAll('#warning .more')].map(p => p.className)") == ["more left-out"]
    assert page.eval("document.querySelector('#warning .left-out').textContent") == (
        "and 1,234 older open warnings, not listed here: acknowledge the warnings above, then reload the page, "
        "to list them.")


def test_show_older_failing_stays_said_on_its_button_as_alerts_come_until_a_press_succeeds(console_pages):
    """The console out of reach as "Show older" asks it (the request blocked by the browser): the button says
    the press failed, as the page's other buttons do, and keeps saying it while new alerts redraw the lists,
    until a press succeeds."""
    console = console_pages.console
    stored_alerts(console, 510, acked=510, bob=range(1, 3))
    page = console_pages.browser.new_page(f"{console.base}/?token={console.token}&agent=bob")
    page.wait(console_pages.LIVE, timeout=30)
    page.send("Network.enable")
    page.send("Network.setBlockedURLs", {"urls": ["*/api/alerts?*"]})
    page.eval("document.getElementById('older').focus()")
    _press(page, "Enter")
    failed = "Show 50 older (failed: Failed to fetch, retry)"
    page.wait(f"document.getElementById('older').textContent === {failed!r}")
    assert console.post(alert_body(1, severity="warning", kind="slow_speech"))[0] == 201
    page.wait("document.getElementById('warning-count').textContent === '(0 of 1)'")
    assert page.eval("document.getElementById('older').textContent") == failed
    page.send("Network.setBlockedURLs", {"urls": []})
    _press(page, "Enter")
    page.wait("document.querySelectorAll('#acked article').length === 2")
    assert page.eval("document.getElementById('older').textContent") == "Show 50 older"


def test_show_older_pages_on_from_the_earliest_alert_the_page_holds_once_the_console_keeps_it_no_longer(
        console_pages):
    """The earliest acknowledged alert the page holds deleted from the console's database without the page
    being sent the state again (as when the retention's deletion crosses the page's request): "Show older"
    names that alert with when it was acknowledged, and the console pages on from it to the older ones,
    where it answered 404 at every press."""
    console = console_pages.console
    stored_alerts(console, 510, acked=510, bob=range(1, 3))
    page = console_pages.browser.new_page(f"{console.base}/?token={console.token}&agent=bob")
    page.wait(console_pages.LIVE, timeout=30)
    earliest = "[...S.alerts.values()].filter((a) => a.acked_at).sort(byAck).at(-1).id"
    assert page.eval(earliest) == 11
    with closing(sqlite3.connect(console.db)) as con, con:
        con.execute("DELETE FROM alerts WHERE id = 11")
    page.eval("document.getElementById('older').focus()")
    _press(page, "Enter")
    page.wait("document.querySelectorAll('#acked article').length === 2 && document.getElementById('older').hidden")
    assert page.eval("[...document.getElementById('say').children].at(-1).textContent") == \
        "Showing 2 older acknowledged alerts of bob: the newest 2 shown."
    assert page.eval("[...document.querySelectorAll('#acked article')].map(a => Number(a.dataset.id))") == [2, 1]


OUTCOME_TABLES = """[...document.querySelectorAll('#outcomes-tables .outcome')].map(b => [
  b.querySelector('caption').textContent,
  [...b.querySelectorAll('tbody tr')].map(tr => [...tr.cells].map(c => c.textContent)),
  [...b.querySelectorAll('li')].map(li => li.textContent)])"""
"""The outcomes view as it reads: each table's caption, its rows' cells, and the false alarms' notes under it."""

OUTCOMES_ASKED = "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/outcomes')).length"
"""How many times the page asked the console for outcomes."""


def test_a_team_lead_reads_what_the_agents_said_of_each_kind_of_alert_over_a_period_chosen_within_the_retention(
        tmp_path, chromium):
    """"Outcomes" in the header opens a view of the agents' words on the alerts of live calls (``GET
    /api/outcomes``), asked for when opened, when the period is chosen (last 24 h, 7 days, and all the
    console keeps, ``supervisor.retention_days``, here 10 days) and when Refresh is pressed, never as alerts
    and heartbeats come. Every agent's table first, then each agent's: per severity and kind the alerts and
    how many were handled, false alarms or had no word, the false alarms' share beside the count it rests on
    ("1 of 1 (100 %)"), and the false alarms' notes, counted; names and notes drawn as text. One agent shown
    in the header, that agent's alone beside every agent's. Its text is at WCAG AA contrast and every control
    named. A request that fails says so, to retry; Close leaves the focus on the header's button."""
    import signal
    from conftest import ConsolePages
    config = tmp_path / "console.toml"
    config.write_text("[supervisor]\nretention_days = 10\n", encoding="utf-8")
    pages = ConsolePages(tmp_path, chromium, extra=("--config", str(config)))
    try:
        console = pages.console
        note = "<img src=x onerror=window.pwned=5>caller was eating"
        alice, bob = dict(daemon_id="d-alice", agent="Alice (desk 4)"), dict(daemon_id="d-bob", agent="Bob <b>(desk 9)</b>")
        days_ago = time.time() - 3 * 86400
        said = [(alert_body(1, call_id=1, **alice), "false_alarm", note),
                (alert_body(2, call_id=2, **alice), "false_alarm", note),
                (alert_body(3, call_id=3, **alice), "handled", ""),
                (alert_body(4, call_id=3, severity="warning", kind="slow_speech", **alice), None, ""),
                (alert_body(6, call_id=5, recording="call.wav", **alice), "false_alarm", "a replay"),
                (alert_body(1, call_id=1, **bob), "false_alarm", "")]
        for alert, word, why in said:
            assert console.post(alert)[0] == 201
            if word:
                post_word(console, alert, word, why)
        old = alert_body(5, call_id=4, call_started_at=days_ago, at=days_ago + 95, **alice)  # received 3 days ago
        with closing(ConsoleStore.open(console.db)) as store:
            fields = {k: v for k, v in old.items() if k not in ("type", "source", "actions")}
            store.add_alert(IncomingAlert(**fields, actions=tuple(old["actions"])), now=days_ago)
        post_word(console, old, "false_alarm")
        page = pages.open()
        assert page.eval("document.getElementById('outcomes').hidden") and page.eval(OUTCOMES_ASKED) == 0
        page.eval("document.getElementById('outcomes-open').focus()")
        _press(page, "Enter")
        page.wait("document.querySelectorAll('#outcomes-tables .outcome').length === 3")
        assert page.eval("[document.activeElement.id, document.getElementById('outcomes-open').ariaExpanded]") == \
            ["h-outcomes", "true"]
        assert page.eval("[...document.getElementById('outcomes-period').selectedOptions].map(o => o.text)") == ["last 7 days"]
        assert page.eval("[...document.getElementById('outcomes-period').options].map(o => o.text)") == [
            "last 24 h", "last 7 days", "last 10 days (all the console keeps)"]
        status = page.eval("document.getElementById('outcomes-status').textContent")
        assert status.startswith("The last 7 days, to ") and status.endswith(
            ": 6 alerts of live calls; 1 of replayed calls left out."), status
        assert page.eval("[...document.getElementById('say').children].at(-1).textContent") == status
        no_word, notes = ["warning slow speech", "1", "0", "0", "1", "no word said"], f"2 × {note}"
        assert page.eval(OUTCOME_TABLES) == [
            ["All agents: 6 alerts", [["critical possible emergency", "5", "1", "4", "0", "4 of 5 (80 %)"], no_word,
                                      ["All kinds", "6", "1", "4", "1", "4 of 5 (80 %)"]], [notes, "2 × (no note)"]],
            ["Alice (desk 4): 5 alerts", [["critical possible emergency", "4", "1", "3", "0", "3 of 4 (75 %)"], no_word,
                                          ["All kinds", "5", "1", "3", "1", "3 of 4 (75 %)"]], [notes, "1 × (no note)"]],
            ["Bob <b>(desk 9)</b>: 1 alert", [["critical possible emergency", "1", "0", "1", "0", "1 of 1 (100 %)"],
                                              ["All kinds", "1", "0", "1", "0", "1 of 1 (100 %)"]], ["1 × (no note)"]]]
        assert page.eval("document.querySelector('#outcomes img, #outcomes b') === null && window.pwned === undefined")
        assert _low_contrast(page) == []
        _keep(page.screenshot(tmp_path / "console-outcomes.png"))
        assert page.eval("[...document.querySelectorAll('#outcomes thead th')].slice(0, 6).map(t => t.textContent)") == [
            "Alert", "Alerts", "Handled", "False alarm", "No word", "False alarms among the alerts with a word"]
        page.send("Accessibility.enable")
        named = {(n["role"]["value"], n.get("name", {}).get("value", "").strip())  # Chromium 150: "Period "
                 for n in page.send("Accessibility.getFullAXTree")["nodes"] if not n.get("ignored")}
        assert {("button", "Outcomes"), ("combobox", "Period"), ("button", "Refresh the outcomes"),
                ("button", "Close the outcomes"), ("table", "All agents: 6 alerts"), ("table", "Alice (desk 4): 5 alerts"),
                ("region", "Outcomes: the agents' words on alerts".upper())} <= named  # headings are drawn in capitals

        # the live lists go on without asking again: an alert and a heartbeat drawn, no outcomes asked for
        late = alert_body(7, call_id=6, severity="warning", kind="slow_speech", **alice)
        assert console.post(late)[0] == 201
        post_word(console, late, "handled")
        _heartbeat(console, "Alice (desk 4)", "d-alice", in_call=False)
        page.wait("document.querySelectorAll('#warning article').length === 2 && "
                  "document.querySelector('#agents [data-daemon=\"d-alice\"]') !== null")
        assert page.eval(OUTCOMES_ASKED) == 1

        # the last 24 h, asked for as chosen: the alert received three days ago left out, the late one in
        page.eval("{ const p = document.getElementById('outcomes-period'); p.value = '1'; p.dispatchEvent(new Event('change')); }")
        page.wait("document.getElementById('outcomes-status').textContent.startsWith('The last 24 h')")
        assert page.eval(OUTCOME_TABLES)[0] == [
            "All agents: 6 alerts", [["critical possible emergency", "4", "1", "3", "0", "3 of 4 (75 %)"],
                                     ["warning slow speech", "2", "1", "0", "1", "0 of 1 (0 %)"],
                                     ["All kinds", "6", "2", "3", "1", "3 of 5 (60 %)"]], [notes, "1 × (no note)"]]
        page.eval("{ const f = document.getElementById('agent-filter'); f.value = 'Bob <b>(desk 9)</b>'; "
                  "f.dispatchEvent(new Event('change')); }")
        assert [caption for caption, *_ in page.eval(OUTCOME_TABLES)] == ["All agents: 6 alerts",
                                                                          "Bob <b>(desk 9)</b>: 1 alert"]
        assert page.eval(OUTCOMES_ASKED) == 2  # the agent shown drawn from the answer held

        page.send("Network.enable")
        page.send("Network.setBlockedURLs", {"urls": ["*/api/outcomes*"]})
        page.eval("document.getElementById('outcomes-refresh').focus()")
        _press(page, "Enter")
        failed = "Asking the console for the last 24 h failed: Failed to fetch. Press Refresh to retry."
        page.wait(f"document.getElementById('outcomes-status').textContent === {failed!r}")
        assert page.eval(OUTCOME_TABLES) == []  # no table of another period left to misread
        page.send("Network.setBlockedURLs", {"urls": []})

        config.write_text("[supervisor]\nretention_days = 0\n", encoding="utf-8")  # keeps every alert: on a reload
        console.proc.send_signal(signal.SIGHUP)
        page.wait("[...document.getElementById('outcomes-period').options].at(-1).text === 'everything the console keeps'")
        page.eval("document.getElementById('outcomes-close').focus()")
        _press(page, "Enter")
        assert page.eval("[document.getElementById('outcomes').hidden, document.activeElement.id, "
                         "document.getElementById('outcomes-open').ariaExpanded]") == [True, "outcomes-open", "false"]
    finally:
        pages.close()


def test_two_agents_of_one_name_have_a_table_each_named_as_the_agents_list_names_them(console_pages):
    """Two desktops whose agents are both named Anna: the Outcomes view gives each her own table, named
    with her daemon id's end and address as her row in the agents' list says them, never one Anna of both."""
    console = console_pages.console
    for daemon_id, words in (("d-anna-0000desk1", ["false_alarm", "false_alarm"]), ("d-anna-0000desk7", ["handled"])):
        _heartbeat(console, "Anna", daemon_id, in_call=False)
        for alert_id, word in enumerate(words, 1):
            alert = alert_body(alert_id, call_id=alert_id, daemon_id=daemon_id, agent="Anna")
            assert console.post(alert)[0] == 201
            post_word(console, alert, word)
    page = console_pages.open()
    page.eval("document.getElementById('outcomes-open').click()")
    page.wait("document.querySelectorAll('#outcomes-tables .outcome').length === 3")
    tables = [(caption, rows[-1]) for caption, rows, _ in page.eval(OUTCOME_TABLES)]
    assert tables == [("All agents: 3 alerts", ["All kinds", "3", "1", "2", "0", "2 of 3 (67 %)"]),
                      ("Anna (daemon 000desk1 at 127.0.0.1): 2 alerts", ["All kinds", "2", "0", "2", "0", "2 of 2 (100 %)"]),
                      ("Anna (daemon 000desk7 at 127.0.0.1): 1 alert", ["All kinds", "1", "1", "0", "0", "0 of 1 (0 %)"])]
    assert page.eval("[...document.querySelectorAll('#agents .namesakes')].map(e => e.textContent)") == [
        f"2 daemons post as Anna now; this one is daemon {end} at 127.0.0.1 (give each its own delivery.agent_name)"
        for end in ("000desk1", "000desk7")]


def test_two_agents_of_one_name_at_two_desks_are_told_apart_wherever_an_alert_names_its_agent(console_pages):
    """Two desktops whose agents are both Anna, each with a critical alert of her call 7: the cards, the
    banner, what a screen reader is told (the alert, its acknowledgement) and each control's name (Acknowledge,
    Evidence, the call report) name each Anna with her daemon id's end and address, as her row in the agents' list
    does, so a supervisor goes to the right desk; before the second Anna is heard, and for Bob alone, the name
    alone. "Show" offers both Annas and each apart, one shown alone (her cards, her row, her Outcomes table)
    kept in the address."""
    console, page = console_pages.console, console_pages.open()
    said = "[...document.getElementById('%s').children].map(p => p.textContent)"
    cards = "[...document.querySelectorAll('#critical article')].map(c => c.querySelector('.agent').textContent)"
    desk1, desk7 = "Anna (daemon 000desk1 at 127.0.0.1)", "Anna (daemon 000desk7 at 127.0.0.1)"
    _heartbeat(console, "Bob", "d-bob", in_call=False)
    _heartbeat(console, "Anna", "d-anna-0000desk1", in_call=True)
    assert console.post(alert_body(1, daemon_id="d-anna-0000desk1", agent="Anna"))[0] == 201
    page.wait(f"{cards}.length === 1")
    assert page.eval(cards) == ["Anna"]  # one Anna: her name alone
    _heartbeat(console, "Anna", "d-anna-0000desk7", in_call=True)  # a second Anna: the card standing names its desk
    page.wait(f"JSON.stringify({cards}) === JSON.stringify([{desk1!r}])")
    pk = console.post(alert_body(1, daemon_id="d-anna-0000desk7", agent="Anna"))[1]["id"]
    page.wait(f"{cards}.length === 2")
    assert page.eval(cards) == [desk7, desk1]
    assert page.eval("document.getElementById('banner').textContent") == \
        f"New critical alert: {desk7}, possible emergency (call 7): click to show it"
    assert page.eval(said % "say-critical")[-1].startswith(f"New critical alert: {desk7}, possible emergency (call 7), ")
    card = f"document.querySelector('#critical article[data-id=\"{pk}\"]')"
    assert page.eval(f"[...{card}.querySelectorAll('button, summary, a')].map(e => e.getAttribute('aria-label'))") == [
        f"Evidence: critical alert {desk7}, possible emergency (call 7)",
        f"Acknowledge: critical alert {desk7}, possible emergency (call 7)",
        f"Call report (opens in a new tab): {desk7}, possible emergency (call 7)"]
    assert page.eval("[...document.querySelectorAll('#agents .agent')].map(e => e.textContent)") == ["Anna (daemon "
        "000desk1 at 127.0.0.1)", desk7, "Bob"]
    assert console.request("POST", f"/api/alerts/{pk}/ack", json.dumps({"by": "Dana"}).encode())[0] == 200
    page.wait(f"{said % 'say'}.length === 1")
    assert page.eval(said % "say") == [f"Acknowledged by Dana: critical alert {desk7}, possible emergency (call 7)."]
    options = "[...document.getElementById('agent-filter').options].map(o => o.text)"
    assert page.eval(options) == ["All agents", "Anna (all 2 daemons of the name)", desk1, desk7, "Bob"]
    page.eval("{ const f = document.getElementById('agent-filter'); f.selectedIndex = 3; f.dispatchEvent(new Event('change')); }")
    assert page.eval("[new URLSearchParams(location.search).get('agent'), new URLSearchParams(location.search).get('daemon')]") \
        == ["Anna", "d-anna-0000desk7"]
    assert page.eval("[...document.querySelectorAll('article, .agentrow')].map(e => e.querySelector('.agent').textContent)") \
        == [desk7, desk7]  # her acknowledged alert and her row; not desk 1's open one
    assert page.eval("document.getElementById('critical').innerText") == f"None open of {desk7}."
    page.eval("document.getElementById('outcomes-open').click()")
    page.wait("document.querySelectorAll('#outcomes-tables .outcome').length === 2")
    assert [caption for caption, _, _ in page.eval(OUTCOME_TABLES)] == ["All agents: 2 alerts", f"{desk7}: 1 alert"]
    page.eval("window.reloading = true; location.reload()")
    page.wait(f"window.reloading === undefined && {console_pages.LIVE}")
    assert page.eval("document.getElementById('agent-filter').selectedOptions[0].text") == desk7


def test_escape_closes_the_outcomes_view_and_a_retention_cut_below_its_period_asks_for_the_one_offered(
        tmp_path, chromium):
    """Escape within the Outcomes view closes it as Close does, the focus back on the header's button.
    Open, its answer of the last 7 days: a reload that has the console keep 3 days offers "last 3 days
    (all the console keeps)" in its place and the view asks for that period, rather than showing
    7 days under a choice that says 3."""
    import signal
    from conftest import ConsolePages
    config = tmp_path / "console.toml"
    config.write_text("[supervisor]\nretention_days = 10\n", encoding="utf-8")
    pages = ConsolePages(tmp_path, chromium, extra=("--config", str(config)))
    try:
        page = pages.open()
        status = "document.getElementById('outcomes-status').textContent"
        page.eval("document.getElementById('outcomes-open').focus()")
        _press(page, "Enter")
        page.wait(f"{status}.startsWith('The last 7 days, to ')")
        _press(page, "Escape")
        assert page.eval("[document.getElementById('outcomes').hidden, document.activeElement.id, "
                         "document.getElementById('outcomes-open').ariaExpanded]") == [True, "outcomes-open", "false"]

        _press(page, "Enter")
        page.wait(f"{status}.startsWith('The last 7 days, to ') && {OUTCOMES_ASKED} === 2")
        config.write_text("[supervisor]\nretention_days = 3\n", encoding="utf-8")
        pages.console.proc.send_signal(signal.SIGHUP)
        page.wait(f"{status}.startsWith('The last 3 days (all the console keeps), to ')")
        assert page.eval("[...document.getElementById('outcomes-period').selectedOptions].map(o => o.text)") == [
            "last 3 days (all the console keeps)"]
        assert page.eval(OUTCOMES_ASKED) == 3
    finally:
        pages.close()


def test_an_outcomes_answer_that_comes_after_the_view_is_closed_is_neither_drawn_nor_said(console_pages):
    """The view closed while the console's answer is on its way (held back here until then): the
    answer is dropped, so a screen reader hears nothing of a view no longer there."""
    page = console_pages.open()
    # the answer held until window.answer(); window.handled once the page has read it and gone on (a task later)
    page.eval("{ const f = window.fetch; window.fetch = (url, o) => String(url).startsWith('/api/outcomes') ? "
              "new Promise((done) => { window.answer = () => done(f(url, o).then((r) => { const j = r.json.bind(r); "
              "r.json = () => j().then((v) => { setTimeout(() => { window.handled = true; }); return v; }); "
              "return r; })); }) : f(url, o); }")
    page.eval("document.getElementById('outcomes-open').click()")
    page.wait("typeof window.answer === 'function'")
    page.eval("document.getElementById('outcomes-close').click()")
    said = page.eval("document.getElementById('say').textContent")
    page.eval("window.answer()")
    page.wait("window.handled === true")
    assert page.eval("document.getElementById('say').textContent") == said
    assert page.eval("document.getElementById('outcomes-status').textContent").startswith("Asking the console")


def test_an_agent_asked_for_with_a_daemon_the_page_does_not_know_is_named_with_that_daemon(console_pages):
    """An address kept from when two Annas posted (``?agent=Anna&daemon=ID``) whose daemon no longer posts
    (its desktop's database made anew, the other Anna's desk alone now): the page shows that daemon's
    Anna alone, nothing of the Anna posting, and says so with the daemon's id, not as "Nothing heard of
    Anna." beside an "Anna" in the list that shows her."""
    console = console_pages.console
    _heartbeat(console, "Anna", "d-anna-0000desk1", in_call=True)
    assert console.post(alert_body(1, daemon_id="d-anna-0000desk1", agent="Anna"))[0] == 201
    page = console_pages.browser.new_page(f"{console.base}/?token={console.token}&agent=Anna&daemon=d-anna-0000desk7")
    page.wait(console_pages.LIVE, timeout=30)
    page.wait("document.querySelector('#agents .empty') !== null")
    assert page.eval("[...document.getElementById('agent-filter').options].map(o => o.text)") == [
        "All agents", "Anna", "Anna (daemon 000desk7)"]
    assert page.eval("document.getElementById('agent-filter').selectedOptions[0].text") == "Anna (daemon 000desk7)"
    assert page.eval("document.querySelector('#agents .empty').textContent") == "Nothing heard of Anna (daemon 000desk7)."
    assert page.eval("document.getElementById('critical').innerText") == "None open of Anna (daemon 000desk7)."
