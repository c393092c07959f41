"""The console's page on a floor supervisor's phone or tablet, in headless Chromium emulating one.

A supervisor walking the floor holds a touch screen 360 px wide whose tab sleeps while the screen is
locked and whose Wi-Fi drops and comes back: every control is a finger's target (44 px), nothing scrolls
sideways and an alert's evidence reads across the card; a network gone is said at once, an acknowledgement
then fails on its button, and once the page is connected again (the device online, the tab awake) it
catches up by itself with what it missed and says from when to when it was not connected; a critical alert
that came while the page was hidden flashes, beeps and buzzes again as it is shown, and one that came while
it slept beeps though the tab's audio was suspended.
"""

from __future__ import annotations

import json
import time

import pytest

from cdp import CHROMIUM
from console_proc import alert_body, stored_alerts

from monitor.supervisor.store import OPEN_WARNINGS_LISTED

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make setup installs it)")

PHONE = {"width": 360, "height": 740, "mobile": True}
SAID = "[...document.getElementById('say').children].map(p => p.textContent)"
ONLINE = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


def _touch(page):
    """``page`` on a touch screen (a coarse pointer)."""
    page.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    page.wait("matchMedia('(pointer: coarse)').matches")
    return page


def _phone(console_pages):
    """The console's page on a phone: 360 × 740, a touch screen, live."""
    return _touch(console_pages.open(**PHONE))


EVIDENCE = {"score": 3.64, "min_score": 3.0, "families": {"latency": 2.01, "pausing": 1.63}, "count": 2, "min_families": 2,
            "since": 92.0, "until": 92.0,
            "accumulated": {"latency": {"evidence": 0.0, "short_evidence": 1.005, "window": "short", "level": 2.01,
                                        "since": 89.0, "held_s": 4.0}},
            "cues": {"slow_response": {"cue": "response_latency_s", "value": 2.01, "baseline": 0.82, "threshold": 1.64,
                                       "window": "short"}}}
"""A possible emergency's evidence, as a daemon sends it: its words have long labels ("what each family accumulated")."""
TARGETS = ("[...document.querySelectorAll('button, a, input, select, summary')].filter(e => e.getClientRects().length)"
           ".map(e => (r => [e.id || e.className || e.tagName, r.width, r.height])(e.getBoundingClientRect()))")
"""Each control drawn: its id (else its class, else its tag), width and height."""


def test_on_a_phone_every_control_is_a_finger_s_target_and_nothing_scrolls_sideways(console_pages):
    """At 360 px on a touch screen, each control (the sign-in form's, the header's, the banner, a card's
    Evidence, Acknowledge, "Acknowledge all" and call report, "Show 50 older", an agent's Forget) is at least
    44 × 44 px, and the page, long names and all, is no wider than the screen. The header's fields say their
    text at 16 px at least, which iOS Safari does not zoom into as they take the focus."""
    console = console_pages.console
    signin = _touch(console_pages.browser.new_page(console.base + "/", **PHONE))
    signin.wait("document.getElementById('token') !== null")
    assert [s for s in signin.eval(TARGETS) if s[1] < 44 or s[2] < 44] == []
    stored_alerts(console, 51, acked=51)
    long = "Alice Featherstonehaugh-Worthington (desk 4, second floor by the window)"
    assert console.post({"type": "heartbeat", "agent": long, "daemon_id": "d-alice", "every_s": 30, "status": {
        "devices_open": True, "in_call": True, "call": {"call_id": 7, "t": 96.0, "active_alerts": ["possible_emergency"]},
        "reports": [{"call_id": 7, "url": "https://reports.example/call-7-report.html"}]}})[0] == 200
    assert console.post({"type": "heartbeat", "agent": "bob", "daemon_id": "d-bob", "every_s": 30,
                         "status": {"stopped": True}})[0] == 200
    first = alert_body(1, daemon_id="d-alice", agent=long, severity="warning", kind="slow_speech")
    console.post(first)
    page = _phone(console_pages)
    console.post(alert_body(2, daemon_id="d-alice", agent=long, call_started_at=first["call_started_at"],
                            evidence=EVIDENCE))
    page.wait("document.body.classList.contains('flash') && document.querySelector('#critical a.report') !== null")
    sizes = page.eval(TARGETS)
    assert {"agent-filter", "who", "sound", "banner", "ack", "ackcall", "report", "SUMMARY", "older", "forget"} <= \
        {name for name, _, _ in sizes}, sizes
    assert [s for s in sizes if s[1] < 44 or s[2] < 44] == []
    assert page.eval("document.documentElement.scrollWidth <= innerWidth")
    # the evidence's words read across the card, not down a narrow column beside its longest label
    widths = page.eval("[...document.querySelectorAll('#critical dd')].map(d => d.getBoundingClientRect().width / "
                       "d.parentElement.getBoundingClientRect().width)")
    assert len(widths) > 5 and min(widths) > 0.8, widths
    assert page.eval("['who', 'agent-filter'].map(id => parseFloat(getComputedStyle(document.getElementById(id)).fontSize))") \
        == [16, 16]


def test_a_network_drop_or_a_sleep_is_said_an_acknowledgement_then_fails_and_the_page_catches_up_by_itself(
        console_pages):
    """The device offline, the page says so at once (not "live" while nothing can reach it) and counts
    nothing in its header; an acknowledgement fails on its button, saying why, rather than silently, and so
    does one the console never answers. Online again, it is live with no reload: the critical alert posted
    meanwhile flashes the banner and counts, the alert acknowledged elsewhere meanwhile is among the
    acknowledged, and the header says from when to when it was not connected and what came meanwhile.

    Then the phone's screen locks: the tab hidden, then frozen, its audio suspended by the browser. The
    stream it held may be dead without a word (a Wi-Fi that came back under it): a page that heard nothing
    from the console for longer than it may (the console ticks every 15 s; the test shortens the page's
    limit) opens its stream again as it wakes, catches up with the critical alert that came meanwhile, says
    it was not connected, and beeps, its audio resumed."""
    console = console_pages.console
    mine = console.post(alert_body(1))[1]["id"]
    elsewhere = console.post(alert_body(2, severity="warning", kind="slow_speech", call_id=3))[1]["id"]
    slow = console.post(alert_body(4, severity="warning", kind="long_pauses", call_id=4))[1]["id"]
    page = _phone(console_pages)
    page.eval("document.getElementById('who').value = 'Dana'")
    page.send("Network.enable")
    # a Wi-Fi that takes the request and answers nothing (the request held by the browser): the button says
    # it is sending, then that no answer came (the page's 15 s shortened here)
    page.send("Fetch.enable", {"patterns": [{"urlPattern": "*/ack"}]})
    page.eval("S.answerWithin = 0.2")
    button = f"document.querySelector('#warning article[data-id=\"{slow}\"] button.ack')"
    page.eval(f"{button}.click()")
    assert page.eval(f"{button}.textContent") == "Acknowledge (sending…)"
    page.wait(f"{button}.textContent === 'Acknowledge (failed: no answer within 0.2 s, retry)'", timeout=3)
    page.send("Fetch.disable")
    page.send("Network.emulateNetworkConditions", {**ONLINE, "offline": True})
    page.wait("document.getElementById('conn').textContent === 'offline: no network'", timeout=3)
    assert page.eval("[document.getElementById('tally').textContent, document.title]") == \
        ["no count: not connected", "(not connected) call-monitor: supervisor"]
    assert page.eval(SAID)[-1].startswith("Connection to the console lost")
    button = f"document.querySelector('#critical article[data-id=\"{mine}\"] button.ack')"
    page.eval(f"{button}.click()")
    page.wait(f"{button}.textContent === 'Acknowledge (failed: no network, retry)'", timeout=3)
    new = console.post(alert_body(3, call_id=9))[1]["id"]
    assert console.request("POST", f"/api/alerts/{elsewhere}/ack", json.dumps({"by": "Eve"}).encode())[0] == 200

    page.send("Network.emulateNetworkConditions", ONLINE)
    page.wait(f"document.querySelector('#critical article[data-id=\"{new}\"]') !== null", timeout=5)
    page.wait("document.getElementById('conn').textContent === 'live'")
    assert page.eval("document.body.classList.contains('flash')")
    assert page.eval("document.getElementById('tally').textContent") == "2 critical open"
    assert page.eval(f"document.querySelector('#acked article[data-id=\"{elsewhere}\"] .ackinfo').textContent") \
        .startswith("Acknowledged by Eve at ")
    gap = page.eval("(g => [g.hidden, g.textContent, g.querySelectorAll('time').length])(document.getElementById('gap'))")
    assert gap[0] is False and gap[1].startswith("not connected from ") and gap[2] == 2, gap
    assert gap[1].endswith(", caught up: 1 new critical"), gap
    assert page.eval(SAID)[-1] == "Connected again: new alerts reach this page."
    assert next(a for a in console.state()["alerts"] if a["id"] == mine)["acked_at"] is None

    page.eval("document.getElementById('banner').click()")  # seen: the banner goes
    page.eval("window.buzzes = 0; navigator.vibrate = () => { window.buzzes += 1; return true; }; true")
    page.eval("document.getElementById('sound').click()")  # "Sound: on" beeps, and buzzes where the device can
    page.wait("S.audio && S.audio.state === 'running' && window.buzzes === 1")
    # a critical alert while the screen is locked (another tab in front hides the page): flashed and beeped
    # unseen, it is flashed and beeped again as the page is shown
    tab = page.send("Target.getTargetInfo")["targetInfo"]["targetId"]
    front = console_pages.browser.new_page("about:blank", **PHONE)
    page.wait("document.hidden")
    unseen = console.post(alert_body(5, call_id=10))[1]["id"]
    page.wait(f"S.alerts.has({unseen}) && window.buzzes === 2")
    page.browser.send("Target.activateTarget", {"targetId": tab})
    page.wait(f"window.buzzes === 3 && document.getElementById('banner').dataset.id === '{unseen}'")
    assert page.eval("document.body.classList.contains('flash')")
    page.eval("document.getElementById('banner').click()")

    page.eval("S.audio.suspend().then(() => true)")
    page.eval("S.quietAfter = 0.8")
    front.browser.send("Target.activateTarget", {"targetId": front.send("Target.getTargetInfo")["targetInfo"]["targetId"]})
    page.wait("document.hidden")
    page.send("Page.setWebLifecycleState", {"state": "frozen"})
    slept = console.post(alert_body(6, call_id=11))[1]["id"]
    time.sleep(1.0)
    page.send("Page.setWebLifecycleState", {"state": "active"})
    page.browser.send("Target.activateTarget", {"targetId": tab})
    page.wait("!document.hidden")
    page.wait(f"document.querySelector('#critical article[data-id=\"{slept}\"]') !== null", timeout=5)
    assert page.eval("document.body.classList.contains('flash')")
    page.wait("S.audio.state === 'running'", timeout=3)
    page.wait(f"{SAID}.filter(m => m === 'Connected again: new alerts reach this page.').length === 2", timeout=5)
    page.eval("S.quietAfter = 40")
    assert page.eval("document.getElementById('gap').textContent").startswith("not connected from ")
    assert page.eval("document.getElementById('tally').textContent") == "4 critical open"


def test_a_warning_listed_again_after_a_reconnection_is_not_counted_as_new(console_pages):
    """The console lists its newest open warnings (OPEN_WARNINGS_LISTED): the oldest, left out of the page's
    first state, is listed once one of the newer ones is acknowledged while the page is offline. Caught up,
    the page counts what came meanwhile, nothing, not that older warning."""
    console = console_pages.console
    stored_alerts(console, OPEN_WARNINGS_LISTED + 1, acked=0)
    page = console_pages.open()
    page.wait("S.loaded && S.warningsLeftOut === 1")
    page.send("Network.enable")
    page.send("Network.emulateNetworkConditions", {**ONLINE, "offline": True})
    page.wait("document.getElementById('conn').textContent === 'offline: no network'", timeout=3)
    newest = OPEN_WARNINGS_LISTED + 1
    assert console.request("POST", f"/api/alerts/{newest}/ack", json.dumps({"by": "Eve"}).encode())[0] == 200
    page.send("Network.emulateNetworkConditions", ONLINE)
    page.wait("document.getElementById('gap').hidden === false", timeout=5)
    assert page.eval("document.getElementById('gap').textContent").endswith(", caught up: nothing new")
    assert [m for m in page.eval(SAID) if "came while the page was not connected" in m] == []
    assert page.eval("S.alerts.has(1) && !S.alerts.get(1)._new")


def test_a_stream_the_browser_opens_again_by_itself_is_judged_once_its_state_has_come(console_pages):
    """The browser reconnects a stream by itself (its error, then its open again): until the console's state
    has come on it (thousands of alerts over a slow Wi-Fi take their time) its silence is not judged, nor is
    the page's stream opened again under it; and the loss said in the header, once caught up, is from when
    the console was last heard, not from that open of a connection lost again before its state came."""
    page = console_pages.open()
    page.wait("S.loaded && S.stateCame && document.getElementById('conn').textContent === 'live'")
    page.eval("window.first = S.es; S.es.dispatchEvent(new Event('error')); window.since = S.lostSince; "
              "S.es.dispatchEvent(new Event('open')); S.quietAfter = 0.05; true")
    page.wait("quietFor() > 0.1")
    page.eval("checkStream(); S.es.dispatchEvent(new Event('error')); true")
    assert page.eval("[S.es === window.first, S.lostSince === window.since]") == [True, True]
