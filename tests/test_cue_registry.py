"""Each cue is declared once, in monitor.cue_registry, and every part of the monitor reads it."""

from __future__ import annotations

from dataclasses import fields

from monitor.config import DEFAULT_RULES, Config
from monitor.cue_registry import ALL_CUES, CUES, FAMILIES, SPEECH_CUES, WORD_CUES, cue, panels
from monitor.events import CuesEvent, Event
from monitor.alerts.rules import AlertEngine, judge

_NOT_CUES = {"t", "channel", "speech_s", "window_s", "turn_s", "call_speech_s", "hold_since", "quiet_since",
             "baseline_ready",
             "short"}  # the short window's cues, a mapping keyed by cue name


def test_every_cue_is_a_field_of_the_cues_event_and_every_measure_is_a_cue():
    event_fields = {f.name for f in fields(CuesEvent)} - {f.name for f in fields(Event)} - _NOT_CUES
    assert event_fields == set(ALL_CUES)
    assert len(ALL_CUES) == len(set(ALL_CUES))


def test_every_cue_has_a_known_family_direction_and_label():
    for c in CUES:
        assert c.family in FAMILIES and c.trouble in ("below", "above") and c.label


def test_every_default_rule_watches_a_registered_cue_in_its_direction():
    for rule in DEFAULT_RULES:
        assert rule.direction == cue(rule.cue).trouble, rule.kind


def test_the_alert_message_and_the_report_use_the_registrys_label_and_unit():
    engine = AlertEngine(Config())
    rule = next(r for r in DEFAULT_RULES if r.kind == "slow_response")
    message = engine._message(rule, judge(rule, 5.0, None), 6.0)
    assert "response latency 5.00 s" in message


def test_the_report_panels_come_from_the_registry():
    titles = [title for title, _ in panels()]
    assert titles[0] == "Speech rate" and "Voice quality" in titles
    drawn = {c.name for _, series in panels() for c in series}
    assert {"speech_rate_sps", "pause_ratio", "hnr_db", "loudness_dbfs"} <= drawn


def test_the_cues_over_the_windows_speech_are_all_but_latency_and_the_transcripts():
    assert SPEECH_CUES == set(ALL_CUES) - {"response_latency_s"} - set(WORD_CUES)


def test_a_windows_speech_cues_are_shown_only_once_it_holds_enough_of_the_callers_speech():
    """Over 0.1 s of the caller's phrases a breath rate is 642/min and the HNR 0 dB (no voiced frame):
    no measurement. Below half the speech a window reaches for (at least 2 s) the cues of the
    caller's speech are shown as not measured (None); the turn timing's latency and the window's
    own bookkeeping stay; from there on every value is shown as measured."""
    from monitor.cue_registry import shown_cues, shown_min_speech_s

    assert [shown_min_speech_s(w) for w in (8.0, 3.0, 20.0)] == [4.0, 2.0, 10.0]
    early = CuesEvent(t=12.0, speech_s=0.1, window_s=12.0, breaths_per_min=642.9, hnr_db=0.0,
                      speech_rate_sps=9.0, response_latency_s=0.8).to_dict()
    shown = shown_cues(early, 8.0)
    assert all(shown[name] is None for name in SPEECH_CUES)
    assert (shown["response_latency_s"], shown["speech_s"], shown["window_s"]) == (0.8, 0.1, 12.0)
    later = dict(early, speech_s=4.0)
    assert shown_cues(later, 8.0) == later
