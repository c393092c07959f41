"""A web softphone in Chromium: its call audio's stream into the softphone's sink, paused between calls.

Chromium plays a page's audio through the sound server as a stream of its own, and when the page's
call audio is taken off its audio element it corks that stream (pauses it), keeps it about 4-5 s and
plays the next call's audio on it again, uncorked: a corked stream plays no call.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from cdp import CHROMIUM, Browser
from conftest import until
from monitor.release import RELEASE

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make setup installs it)")

TONE = """(() => {
  const rate = 16000, n = rate, data = new DataView(new ArrayBuffer(44 + 2 * n));
  const text = (at, s) => [...s].forEach((c, i) => data.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF"); data.setUint32(4, 36 + 2 * n, true); text(8, "WAVEfmt "); data.setUint32(16, 16, true);
  data.setUint16(20, 1, true); data.setUint16(22, 1, true); data.setUint32(24, rate, true);
  data.setUint32(28, 2 * rate, true); data.setUint16(32, 2, true); data.setUint16(34, 16, true);
  text(36, "data"); data.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) data.setInt16(44 + 2 * i, 8000 * Math.sin(2 * Math.PI * 440 * i / rate), true);
  window.tone = URL.createObjectURL(new Blob([data], {type: "audio/wav"}));
  window.call = new Audio(window.tone);
  window.call.loop = true;
  return window.call.play().then(() => true);
})()"""
HANG_UP = "window.call.pause(); window.call.removeAttribute('src'); window.call.load(); true"
"""The call's audio taken off the page's audio element, as a web softphone's hang-up takes the call's
media stream off it (a pause alone leaves Chromium's stream playing)."""
NEXT_CALL = "window.call.src = window.tone; window.call.play().then(() => true)"


def _chromium_inputs(env: dict) -> list[str]:
    """The `pactl list short sink-inputs` rows of the server's streams (Chromium's, here)."""
    return subprocess.run(["pactl", "list", "short", "sink-inputs"], env=env, capture_output=True, text=True,
                          timeout=5).stdout.splitlines()


def test_a_web_softphones_stream_paused_between_calls_plays_no_call_and_plays_the_next_one_again(pulse, tmp_path):
    """The page's call audio stops (the hang-up): Chromium corks its stream, which stays a stream of the
    sink for seconds; it is no call's stream then, from pactl's JSON and from the long listing alike, and
    is one again once the next call's audio plays on it."""
    from monitor.capture.streams import SinkInputs, sink_streams
    long_listing = SinkInputs()
    long_listing.json = False  # as before PulseAudio 16
    browser = Browser(tmp_path)  # on the test's server: Chromium reads PULSE_SERVER at its start
    try:
        page = browser.new_page("about:blank")
        assert page.eval(TONE)
        ids = until(lambda: sink_streams("softphone")[0], "the tone's stream into sink softphone")
        assert len(ids) == 1, ids
        page.eval(HANG_UP)
        until(lambda: sink_streams("softphone") == (frozenset(), ""),  # it lasts 4-5 s
              lambda: f"the corked stream no call's: {sink_streams('softphone')}", timeout=2.0)
        assert sink_streams("softphone", inputs=long_listing) == (frozenset(), "")
        assert len(_chromium_inputs(pulse.full_env())) == 1  # corked, not gone
        assert page.eval(NEXT_CALL)
        until(lambda: sink_streams("softphone") == (ids, ""),
              lambda: f"the stream a call's again: {sink_streams('softphone')}, not {ids}")
        assert sink_streams("softphone", inputs=long_listing) == (ids, "")
    finally:
        browser.close()


def test_two_tabs_playing_into_the_caller_s_sink_for_long_are_said_in_one_warning(pulse, tmp_path, monitor_logs):
    """Chromium's stream moved to the softphone's sink sends every tab there, so a training video or a
    CRM's chimes are taken for the caller. Streams of one application playing into the caller's sink
    together for long (here 1 s; by default 10 s, longer than a softphone's ringtone beside its call)
    are said in one warning line naming the application and what to do; one tab's call alone is not."""
    from monitor.capture.streams import SinkStreams
    browser = Browser(tmp_path)
    watcher = SinkStreams("softphone", lambda at, ids, why: None, poll_s=0.2, crowd_s=1.0).start()
    warned = lambda: [m for level, m in monitor_logs if level == "warning"]  # noqa: E731
    try:
        assert browser.new_page("about:blank").eval(TONE)
        until(lambda: len(_chromium_inputs(pulse.full_env())) == 1,
              lambda: f"the tab's stream alone: {_chromium_inputs(pulse.full_env())}")
        time.sleep(1.2)  # the call's tab alone, past the 1 s
        assert warned() == []
        assert browser.new_page("about:blank").eval(TONE)  # another tab
        until(warned, "the warning of two tabs playing into the sink")
        time.sleep(0.6)  # said once while they play on
        assert warned() == [
            "2 streams of Chromium have played into the caller's sink softphone at once for 1 s: Chromium as a "
            "whole may have been moved there (every tab or sound of it, not the call alone), its other sounds taken "
            "for the caller; set the softphone's own output device to softphone and move Chromium back to the "
            f"headset (callmonitor-{RELEASE}.tar.gz's docs/deployment.md, \"A softphone in the browser\")"]
    finally:
        watcher.stop()
        browser.close()


def test_a_browser_s_streams_are_said_once_each_time_they_play_together_for_long():
    """Two tabs for less than the time are nothing; a browser's streams together past it are said
    once, and again only after they stopped playing together; a desktop softphone's own streams
    together for long (a waiting call's ringtone beside the call, a conference: measured with baresip)
    are no crowd, nor are streams of different applications or that tell no application."""
    from monitor.capture.streams import Crowd
    crowd = Crowd(after_s=10.0)
    tabs = ["Google Chrome", "Google Chrome"]
    assert crowd.follow(tabs, 0.0) == [] and crowd.follow(tabs[:1], 4.0) == []
    assert crowd.follow(tabs, 5.0) == [] and crowd.follow(tabs, 14.9) == []
    assert crowd.follow(tabs * 2, 15.0) == [("Google Chrome", 4)]
    assert crowd.follow(tabs, 30.0) == []
    assert crowd.follow(tabs[:1], 31.0) == [] and crowd.follow(tabs, 32.0) == []
    assert crowd.follow(tabs, 42.0) == [("Google Chrome", 2)]
    assert crowd.follow(["Baresip", "Baresip"], 50.0) == [] and crowd.follow(["Baresip", "Baresip"], 70.0) == []
    assert crowd.follow(["Chromium", "Firefox", "", ""], 80.0) == [] and crowd.follow(["", ""], 100.0) == []


def test_a_look_at_the_streams_that_failed_neither_ends_a_crowd_nor_says_it_again():
    """A look at the server that got no answer (pactl timed out on a busy machine: None) says
    nothing of the streams: the applications playing together before it, said once, are not said
    again when the next look finds them still together, nor is their time together counted anew."""
    from monitor.capture.streams import Crowd
    crowd = Crowd(after_s=10.0)
    assert crowd.follow(["Chromium", "Chromium"], 0.0) == [] and crowd.follow(None, 6.0) == []
    assert crowd.follow(["Chromium", "Chromium"], 10.0) == [("Chromium", 2)]
    assert crowd.follow(None, 11.0) == [] and crowd.follow(["Chromium", "Chromium"], 21.0) == []
