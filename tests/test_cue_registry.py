"""Each cue is declared once, in monitor.cue_registry, and every part of the monitor reads it."""

from __future__ import annotations

from dataclasses import fields

from monitor.config import DEFAULT_RULES, Config
from monitor.cue_registry import ALL_CUES, CUES, FAMILIES, SPEECH_CUES, WORD_CUES, cue, panels
from monitor.events import CuesEvent
from monitor.alerts.rules import AlertEngine, judge

_NOT_CUES = {"t", "channel", "speech_s", "window_s", "turn_s", "call_speech_s", "hold_since", "quiet_since",
             "baseline_ready",
             "short"}  # the short window's cues, a mapping keyed by cue name


def test_every_cue_is_a_field_of_the_cues_event_and_every_measure_is_a_cue():
    event_fields = {f.name for f in fields(CuesEvent)} - _NOT_CUES
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
