"""The alert engine and the caller's baseline, driven by synthetic cue sequences.

A "normal" caller here speaks ~3.5 syllables/s with a pause ratio of 0.2, 2.8 s phrases,
CPPS 12 dB, HNR 14 dB, -25 dBFS and quick replies; windows come once a second.

The tests specify the engine, not the tuned defaults: every threshold they depend on is
stated below in ``RULES_TOML`` (the defaults in ``monitor.config`` may be retuned freely).
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

import pytest

from monitor.analysis.baseline import Baseline, BaselineBuilder
from monitor.config import Config, load_config
from monitor.events import AlertClearedEvent, AlertEvent, CuesEvent, Event, Word, WordsEvent
from monitor.alerts.evidence import evidence_lines
from monitor.alerts.rules import AlertEngine, judge, net_of_pauses
from monitor.transcription.phrases import PhraseSpotter

# The thresholds these tests are written against, independent of the tuned defaults.
_TIMING = dict(enabled=True, mad_k=2.0, severity="warning", persist_s=6.0, clear_s=10.0, short_window=True,
               cooldown_s=60.0, absolute_min_change=0.0, corroborate=[], absolute_corroborate=[],
               absolute_alone_grade=0.0, corroborate_s=5.0, absolute_grade_min_change=0.0,
               short_corroborate=[], short_corroborate_grade=1.0)
TEST_RULES: dict[str, dict[str, object]] = {
    # false = no such test (the TOML spelling of None)
    "slow_speech": dict(_TIMING, cue="speech_rate_sps", direction="below", relative_change=-0.25,
                        delta=False, gate=False, absolute=1.5, min_speech_s=6.0, net_of_pauses=0.0),
    "long_pauses": dict(_TIMING, cue="pause_ratio", direction="above", relative_change=0.6,
                        delta=False, gate=0.25, absolute=0.45, min_speech_s=6.0),
    "slow_response": dict(_TIMING, cue="response_latency_s", direction="above",
                          relative_change=1.0, delta=False, gate=2.0, absolute=4.0,
                          min_speech_s=0.0),
    "short_phrases": dict(_TIMING, cue="mean_phrase_s", direction="below", relative_change=-0.35,
                          delta=False, gate=False, absolute=1.0, min_speech_s=6.0),
    "breathy_voice": dict(_TIMING, cue="hnr_db", direction="below", relative_change=False,
                          delta=-3.0, gate=False, absolute=4.0, min_speech_s=3.0, persist_s=8.0),
    "weak_voice": dict(_TIMING, cue="loudness_dbfs", direction="below", relative_change=False,
                       delta=-6.0, gate=False, absolute=False, min_speech_s=3.0, persist_s=8.0),
    # fusion: each family accumulates (grade - 0.5) per second while the caller takes part; at
    # 3 it agrees (level 1), levels are capped at 2; two families at a summed level of 2.8 raise
    # it; one family alone never does (single_family = 0)
    "possible_emergency": dict(enabled=True, min_score=2.8, min_families=2, max_grade=2.0,
                               smooth_s=0.0, drift=0.5, evidence_s=3.0, single_family=0.0,
                               short_drift=1.0, short_absolute=True,
                               stale_s=10.0, with_phrase=True, phrase_min_families=1,
                               severity="critical", persist_s=0.0, clear_s=15.0,
                               cooldown_s=120.0,
                               kinds=["slow_speech", "long_pauses", "slow_response",
                                      "short_phrases", "breathy_voice", "weak_voice"]),
    "distress_phrase": dict(enabled=True, severity="warning", escalate_within_s=120.0,
                            cooldown_s=30.0),
}
TEST_ANALYSIS = dict(window_speech_s=8.0, window_max_s=90.0, short_speech_s=3.0, short_max_s=30.0, hop_s=1.0,
                     baseline_min_speech_s=30.0, baseline_max_s=60.0,
                     baseline_min_window_speech_s=5.0, baseline_min_windows=10,
                     tone_max_articulation_sps=0.5, tone_min_hnr_db=15.0)


def config(**overrides: object) -> Config:
    """The test thresholds above, then ``overrides`` (dotted keys without "rules.", e.g.
    ``config(**{"slow_speech.enabled": False})``)."""
    flat = {f"rules.{kind}.{k}": v for kind, table in TEST_RULES.items() for k, v in table.items()}
    flat.update({f"analysis.{k}": v for k, v in TEST_ANALYSIS.items()})
    flat.update({f"rules.{k}": v for k, v in overrides.items()})
    return load_config(overrides=flat, user_config=False)

NORMAL = dict(speech_rate_sps=3.5, articulation_rate_sps=4.4, pause_ratio=0.2, mean_pause_s=0.5,
              mean_phrase_s=2.8, hnr_db=14.0, cpps_db=12.0, loudness_dbfs=-25.0,
              response_latency_s=0.6, speech_s=10.0)
SLOW = 2.2  # 37 % below the normal speech rate, but above the absolute floor (1.5)


def cues(t: float, **changes: float | None) -> CuesEvent:
    """Cues at call time ``t`` of a caller who has spoken half the call so far (unless changed)."""
    return CuesEvent(t=float(t), **{**NORMAL, "call_speech_s": 0.5 * t, **changes})


def normal_baseline(cfg: Config | None = None) -> Baseline:
    """A frozen baseline from a real builder fed 60 s of a normal caller (with small jitter)."""
    builder = BaselineBuilder((cfg or config()).analysis)
    for t in range(1, 61):
        jitter = (t % 5 - 2) * 0.05
        builder.add(cues(t, speech_rate_sps=3.5 + jitter, mean_phrase_s=2.8 + jitter))
    assert builder.baseline is not None
    return builder.baseline


def run(engine: AlertEngine, seq: Iterable[CuesEvent], baseline: Baseline | None) -> list[Event]:
    out: list[Event] = []
    for c in seq:
        out.extend(engine.update(c, baseline))
    return out


def alerts(events: list[Event], kind: str | None = None) -> list[AlertEvent]:
    return [e for e in events if isinstance(e, AlertEvent) and (kind is None or e.kind == kind)]


def clears(events: list[Event], kind: str | None = None) -> list[AlertClearedEvent]:
    return [e for e in events if isinstance(e, AlertClearedEvent)
            and (kind is None or e.kind == kind)]


@pytest.fixture
def base() -> Baseline:
    return normal_baseline()


# --------------------------------------------------------------------------- hysteresis


def test_a_normal_caller_raises_nothing(base):
    engine = AlertEngine(config())
    assert run(engine, (cues(t) for t in range(61, 400)), base) == []


def test_a_cue_beyond_threshold_for_less_than_persist_s_raises_nothing(base):
    engine = AlertEngine(config())  # slow_speech persist_s = 6
    seq = [cues(t) for t in range(100, 110)]
    seq += [cues(t, speech_rate_sps=SLOW) for t in range(110, 116)]   # 5 s beyond (6 hops)
    seq += [cues(t) for t in range(116, 140)]
    assert run(engine, seq, base) == []


def test_a_cue_that_persists_raises_once_with_its_evidence(base):
    engine = AlertEngine(config())
    seq = [cues(t, speech_rate_sps=SLOW, window_s=24.0) for t in range(100, 200)]
    events = run(engine, seq, base)
    [alert] = alerts(events)
    assert alert.kind == "slow_speech" and alert.severity == "warning"
    assert alert.t == 106.0  # first beyond at 100, held 6 s
    ev = alert.evidence
    assert ev["cue"] == "speech_rate_sps" and ev["value"] == SLOW
    assert ev["baseline"] == pytest.approx(3.5)
    assert ev["threshold"] == pytest.approx(3.5 * 0.75)
    assert ev["relative_change"] == pytest.approx((SLOW - 3.5) / 3.5)
    assert (ev["since"], ev["until"], ev["window_s"]) == (100.0, 106.0, 24.0)
    assert ev["basis"] == "baseline"
    assert "speech rate 2.20" in alert.message and "below the caller's baseline" in alert.message
    assert alert.actions == config().actions.warning
    assert not any(a.severity == "critical" for a in alerts(events))


def test_recovery_clears_after_clear_s_and_a_short_recovery_does_not(base):
    engine = AlertEngine(config())  # clear_s = 10
    seq = [cues(t, speech_rate_sps=SLOW) for t in range(100, 110)]
    seq += [cues(t) for t in range(110, 115)]                       # 4 s recovered: not enough
    seq += [cues(t, speech_rate_sps=SLOW) for t in range(115, 120)]
    seq += [cues(t) for t in range(120, 140)]
    events = run(engine, seq, base)
    assert [(type(e).__name__, e.kind, e.t) for e in events] == [
        ("AlertEvent", "slow_speech", 106.0),
        ("AlertClearedEvent", "slow_speech", 130.0),
    ]
    assert events[-1].reason == "recovered"


def test_cooldown_prevents_repeats_of_the_same_kind(base):
    cfg = config()
    engine = AlertEngine(cfg)  # slow_speech cooldown_s = 60, clear_s = 10
    slow = lambda a, b: [cues(t, speech_rate_sps=SLOW) for t in range(a, b)]  # noqa: E731
    ok = lambda a, b: [cues(t) for t in range(a, b)]  # noqa: E731
    events = run(engine, slow(100, 110) + ok(110, 125) + slow(125, 140) + ok(140, 155)
                 + slow(155, 175), base)
    raised = [a.t for a in alerts(events, "slow_speech")]
    # raised at 106 (cleared at 120); the second episode (125-139) falls within the cooldown
    # and raises nothing; the third starts at 155, is held long enough at 161, but must wait
    # for the cooldown to end at 166.
    assert raised == [106.0, 166.0]
    assert [c.t for c in clears(events, "slow_speech")] == [120.0]


def test_missing_values_neither_raise_nor_clear_nor_count_time(base):
    engine = AlertEngine(config())
    seq = [cues(t, speech_rate_sps=SLOW) for t in range(100, 104)]
    seq += [cues(t, speech_rate_sps=None) for t in range(104, 130)]  # 26 s without a value
    events = run(engine, seq, base)
    assert events == []                                               # a pending run stays pending
    # held 3 s before the gap, 2 s after it: the 26 s without a value do not count
    seq = [cues(t, speech_rate_sps=SLOW) for t in range(130, 132)]
    assert alerts(run(engine, seq, base)) == []
    events = run(engine, [cues(132, speech_rate_sps=SLOW)], base)
    assert [a.kind for a in alerts(events)] == ["slow_speech"]
    # an active alert is not cleared by missing values, however long
    quiet = [CuesEvent(t=float(t)) for t in range(133, 300)]
    assert run(engine, quiet, base) == []
    assert engine.active_kinds == ("slow_speech",)


def test_windows_where_the_caller_hardly_spoke_are_missing_values(base):
    engine = AlertEngine(config())  # slow_speech needs 6 s of speech in the window
    seq = [cues(t, speech_rate_sps=0.4, speech_s=2.0) for t in range(100, 200)]
    assert run(engine, seq, base) == []


def test_other_channels_are_ignored(base):
    engine = AlertEngine(config())
    seq = [dataclasses.replace(cues(t, speech_rate_sps=1.0), channel="agent")
           for t in range(100, 200)]
    assert run(engine, seq, base) == []


# --------------------------------------------------------------------------- thresholds


def test_an_absolute_floor_raises_without_a_baseline():
    engine = AlertEngine(config())
    # 37 % slower than normal is nothing to judge without a baseline ...
    assert run(engine, [cues(t, speech_rate_sps=SLOW) for t in range(1, 60)], None) == []
    # ... but a caller below the absolute floor (1.5 syll/s) alerts from the start
    events = run(engine, [cues(t, speech_rate_sps=1.2) for t in range(60, 80)], None)
    [alert] = alerts(events)
    assert alert.kind == "slow_speech" and alert.evidence["basis"] == "absolute"
    assert alert.evidence["baseline"] is None and alert.evidence["threshold"] == 1.5
    assert "absolute floor 1.50" in alert.message


def test_a_caller_already_in_trouble_raises_possible_emergency_without_a_baseline():
    engine = AlertEngine(config())
    labored = dict(speech_rate_sps=1.2, pause_ratio=0.55, mean_phrase_s=0.8,
                   response_latency_s=5.0)
    events = run(engine, [cues(t, **labored) for t in range(1, 30)], None)
    assert {a.kind for a in alerts(events)} == {"slow_speech", "long_pauses", "short_phrases",
                                                 "slow_response", "possible_emergency"}
    [critical] = alerts(events, "possible_emergency")
    assert critical.severity == "critical" and critical.t <= 10.0


def test_dB_cues_use_a_difference_from_the_baseline(base):
    cfg = config()  # breathy_voice: HNR 3 dB below baseline (14 dB), held 8 s
    engine = AlertEngine(cfg)
    assert run(engine, [cues(t, hnr_db=12.0) for t in range(100, 200)], base) == []  # -2 dB
    events = run(engine, [cues(t, hnr_db=10.5) for t in range(200, 220)], base)      # -3.5 dB
    [alert] = alerts(events)
    assert alert.kind == "breathy_voice" and alert.t == 208.0
    assert alert.evidence["cue"] == "hnr_db"
    assert alert.evidence["threshold"] == pytest.approx(11.0)
    assert alert.evidence["change"] == pytest.approx(-3.5)
    assert "3.5 dB below the caller's baseline 14.00 dB" in alert.message
    engine2 = AlertEngine(cfg)
    events = run(engine2, [cues(t, loudness_dbfs=-33.0) for t in range(100, 120)], base)
    assert [a.kind for a in alerts(events)] == ["weak_voice"]


def test_a_gate_keeps_quick_replies_from_counting_as_slow(base):
    # the baseline latency is 0.6 s: 1.8 s is three times it, but still a normal reply (< 2 s)
    engine = AlertEngine(config())
    assert run(engine, [cues(t, response_latency_s=1.8) for t in range(100, 200)], base) == []
    events = run(engine, [cues(t, response_latency_s=2.5) for t in range(200, 220)], base)
    assert [a.kind for a in alerts(events)] == ["slow_response"]


def test_a_caller_whose_baseline_varied_needs_a_larger_change():
    cfg = config()
    builder = BaselineBuilder(cfg.analysis)
    for t in range(1, 61):  # speech rate wandering between 2.7 and 4.3 (MAD 0.4)
        builder.add(cues(t, speech_rate_sps=(2.7, 3.1, 3.5, 3.9, 4.3)[t % 5]))
    varied = builder.baseline
    assert varied is not None
    # 2.6 is 26 % below the median 3.5 (past the -25 % ratio), yet within 2 robust SDs
    engine = AlertEngine(cfg)
    assert run(engine, [cues(t, speech_rate_sps=2.6) for t in range(100, 200)], varied) == []
    assert alerts(run(AlertEngine(cfg), [cues(t, speech_rate_sps=2.6) for t in range(100, 200)],
                      normal_baseline())) != []


def test_a_disabled_rule_never_fires(base):
    cfg = config(**{"slow_speech.enabled": False})
    engine = AlertEngine(cfg)
    assert run(engine, [cues(t, speech_rate_sps=1.0) for t in range(100, 200)], base) == []


# --------------------------------------------------------------------------- what counts for a warning


def breathy_from_the_start() -> Baseline:
    """The baseline of a caller whose HNR sits at 4.2 dB from the first word, just short of the
    test's 4 dB floor: their threshold is 3 dB below it, 1.2 dB."""
    builder = BaselineBuilder(config().analysis)
    for t in range(1, 61):
        builder.add(cues(t, hnr_db=4.2 + (t % 3 - 1) * 0.05))
    assert builder.baseline is not None
    return builder.baseline


def test_past_the_absolute_limit_alone_a_caller_with_a_baseline_must_also_have_moved_from_it():
    own = breathy_from_the_start()
    cfg = config(**{"breathy_voice.absolute_min_change": 0.75})
    # 3.8 dB is past the 4 dB floor but hardly moved from the caller's own 4.2 (grade 0.13) ...
    assert run(AlertEngine(cfg), [cues(t, hnr_db=3.8) for t in range(100, 200)], own) == []
    # ... the same value warns without the test, and before there is a baseline at all
    assert [a.kind for a in alerts(run(AlertEngine(config()), [cues(t, hnr_db=3.8) for t in range(100, 120)], own))] \
        == ["breathy_voice"]
    assert [a.kind for a in alerts(run(AlertEngine(cfg), [cues(t, hnr_db=3.8) for t in range(1, 20)], None))] \
        == ["breathy_voice"]
    # 1.9 dB is three quarters of the way to the caller's threshold (1.2 dB): it warns
    [alert] = alerts(run(AlertEngine(cfg), [cues(t, hnr_db=1.9) for t in range(100, 120)], own))
    assert alert.evidence["basis"] == "absolute" and alert.evidence["baseline_threshold"] == pytest.approx(1.2)


def test_past_the_absolute_limit_alone_a_caller_with_a_baseline_adds_evidence_only_if_they_also_moved():
    own = breathy_from_the_start()
    cfg = config(**{"breathy_voice.absolute_grade_min_change": 0.75})
    rule = cfg.rules.rule("breathy_voice")
    # 3.8 dB is past the 4 dB floor but hardly moved from the caller's own 4.2: graded on that change
    stays = judge(rule, 3.8, own)
    assert stays.beyond and stays.grade == pytest.approx(stays.change) and stays.grade < 0.2
    # ... without the test, and before there is a baseline, graded from the typical 10 dB (past 1)
    assert judge(config().rules.rule("breathy_voice"), 3.8, own).grade > 1.0
    assert judge(rule, 3.8, None).grade > 1.0
    # 1.9 dB is three quarters of the way to the caller's threshold (1.2 dB): the floor's grade counts
    assert judge(rule, 1.9, own).grade == pytest.approx((1.9 - 10.0) / (4.0 - 10.0))


def test_a_voice_breathy_from_the_first_word_does_not_make_a_brief_slowing_critical():
    own = breathy_from_the_start()
    # the caller stays as breathy as their baseline, then slows by 31 % for 15 s (a spelled name)
    seq = [cues(t, hnr_db=3.8) for t in range(100, 200)]
    seq += [cues(t, hnr_db=3.8, speech_rate_sps=2.4) for t in range(200, 215)]
    graded = config(**{"breathy_voice.absolute_grade_min_change": 0.75})
    assert alerts(run(AlertEngine(graded), seq, own), "possible_emergency") == []
    # graded from the floor the voice family agrees all along, and the slowing alone makes it critical
    [critical] = alerts(run(AlertEngine(config()), seq, own), "possible_emergency")
    assert set(critical.evidence["families"]) == {"voice", "tempo"}


def test_before_a_baseline_the_absolute_limit_alone_warns_with_a_family_it_names_past_too():
    cfg = config(**{"breathy_voice.absolute_corroborate": ["pausing"]})
    # a caller breathy from the first word (3 dB, past the 4 dB floor), nothing else past: no warning
    assert alerts(run(AlertEngine(cfg), [cues(t, hnr_db=3.0) for t in range(1, 60)], None)) == []
    # breathy with long pauses (0.5, past their 0.45 limit) from the first word: warned as before
    seq = [cues(t, hnr_db=3.0, pause_ratio=0.5) for t in range(1, 20)]
    warning = next(a for a in alerts(run(AlertEngine(cfg), seq, None)) if a.kind == "breathy_voice")
    assert warning.t == 9.0 and warning.evidence["corroborated_by"] == ["long_pauses"]
    assert warning.message.endswith(", with long pauses")
    # without the key the absolute limit alone suffices
    assert [a.kind for a in alerts(run(AlertEngine(config()), [cues(t, hnr_db=3.0) for t in range(1, 20)],
                                       None))] == ["breathy_voice"]


def test_before_a_baseline_a_value_far_past_the_absolute_limit_warns_alone_from_absolute_alone_grade():
    # HNR is graded from its typical 10 dB: 1 at the 4 dB floor, 1.5 at 1 dB
    cfg = config(**{"breathy_voice.absolute_corroborate": ["pausing"], "breathy_voice.absolute_alone_grade": 1.5})
    assert alerts(run(AlertEngine(cfg), [cues(t, hnr_db=1.3) for t in range(1, 60)], None)) == []
    [warning] = alerts(run(AlertEngine(cfg), [cues(t, hnr_db=1.0) for t in range(1, 20)], None))
    assert warning.evidence["basis"] == "absolute" and warning.evidence["corroborated_by"] == []


def test_once_a_baseline_gives_a_threshold_absolute_corroborate_no_longer_applies(base):
    cfg = config(**{"breathy_voice.absolute_corroborate": ["pausing"]})
    # HNR 9 dB below the caller's baseline is past the threshold and the floor: it warns alone
    [warning] = alerts(run(AlertEngine(cfg), [cues(t, hnr_db=3.0) for t in range(100, 120)], base))
    assert warning.evidence["basis"] == "baseline+absolute" and warning.evidence["corroborated_by"] == []


def test_a_rule_that_needs_corroboration_warns_only_with_another_family_past(base):
    cfg = config(**{"weak_voice.corroborate": ["pausing", "tempo"]})
    # a voice 8 dB quieter than the baseline, alone: not a warning
    assert run(AlertEngine(cfg), [cues(t, loudness_dbfs=-33.0) for t in range(100, 200)], base) == []
    # with the pauses past their threshold (0.45 ratio) as well, it is
    events = run(AlertEngine(cfg), [cues(t, loudness_dbfs=-33.0, pause_ratio=0.5) for t in range(100, 120)], base)
    warning = next(a for a in alerts(events) if a.kind == "weak_voice")
    assert warning.t == 108.0 and warning.evidence["corroborated_by"] == ["long_pauses"]
    assert warning.message.endswith(", with long pauses")


def test_corroboration_outlasts_a_flicker_of_the_other_cue_by_corroborate_s(base):
    cfg = config(**{"weak_voice.corroborate": ["pausing"], "weak_voice.corroborate_s": 3.0,
                    "long_pauses.persist_s": 100.0})
    # the pause ratio is past its threshold every fourth second: within 3 s, it corroborates
    flicker = [cues(t, loudness_dbfs=-33.0, pause_ratio=0.5 if t % 4 == 0 else 0.2) for t in range(100, 120)]
    assert len(alerts(run(AlertEngine(cfg), flicker, base), "weak_voice")) == 1
    # every sixth second is too seldom
    sparse = [cues(t, loudness_dbfs=-33.0, pause_ratio=0.5 if t % 6 == 0 else 0.2) for t in range(100, 200)]
    assert alerts(run(AlertEngine(cfg), sparse, base), "weak_voice") == []


def test_a_corroborated_warning_holds_while_corroborated_and_clears_once_it_is_not(base):
    cfg = config(**{"weak_voice.corroborate": ["pausing"], "long_pauses.persist_s": 100.0})
    engine = AlertEngine(cfg)
    # a weak voice with long pauses until 130 s, then the weak voice alone
    seq = [cues(t, loudness_dbfs=-33.0, pause_ratio=0.5 if t < 130 else 0.2) for t in range(100, 200)]
    events = run(engine, seq, base)
    [raised], [ended] = alerts(events, "weak_voice"), clears(events, "weak_voice")
    assert raised.t == 108.0
    # counted until 134 s (the pauses last past at 129 s, within corroborate_s), clear_s (10 s) later
    assert ended.t == 145.0 and ended.reason == "recovered"
    # with the pauses past again it warns anew: persist_s (8 s) counted from scratch
    more = [cues(t, loudness_dbfs=-33.0, pause_ratio=0.5) for t in range(200, 240)]
    assert [a.t for a in alerts(run(engine, more, base), "weak_voice")] == [208.0]


def test_reconfiguring_corroboration_mid_call_takes_the_new_families_at_the_next_hop(base):
    engine = AlertEngine(config(**{"weak_voice.corroborate": ["tempo"]}))
    seq = [cues(t, loudness_dbfs=-33.0, pause_ratio=0.5) for t in range(100, 120)]
    assert alerts(run(engine, seq, base), "weak_voice") == []  # the pauses are not its corroboration
    assert engine.reconfigure(config(**{"weak_voice.corroborate": ["pausing"]})) == []
    [warning] = alerts(run(engine, [cues(t, loudness_dbfs=-33.0, pause_ratio=0.5) for t in range(120, 140)],
                           base), "weak_voice")
    assert warning.t == 128.0 and warning.evidence["corroborated_by"] == ["long_pauses"]


def test_corroboration_leaves_the_emergency_grades_as_they_were(base):
    plain = config()
    corroborated = config(**{"weak_voice.corroborate": ["voice"], "weak_voice.absolute_min_change": 1.0})
    seq = [cues(t, loudness_dbfs=-36.0, speech_rate_sps=1.8) for t in range(100, 160)]
    e1, e2 = AlertEngine(plain), AlertEngine(corroborated)
    run(e1, seq, base), run(e2, seq, base)
    assert e1.fusion.evidence == e2.fusion.evidence and e1.fusion.grade == e2.fusion.grade


# --------------------------------------------------------------------------- emergencies


def deteriorating(t0: int, t1: int, **extra: float) -> list[CuesEvent]:
    bad = dict(speech_rate_sps=SLOW, pause_ratio=0.38, mean_phrase_s=1.5, **extra)
    return [cues(t, **bad) for t in range(t0, t1)]


def test_two_families_well_beyond_their_thresholds_raise_one_critical_possible_emergency(base):
    cfg = config()
    engine = AlertEngine(cfg)
    events = run(engine, [cues(t) for t in range(61, 100)] + deteriorating(100, 180), base)
    # tempo (speech rate 37 % down: grade 1.49) and pausing (pause ratio 0.38: grade 1.5) each
    # accumulate about 1.0 a second; after 5 s both stand near level 5/3 (score 3.3 >= 2.8),
    # before each warning's 6 s of persistence
    kinds = [a.kind for a in alerts(events)]
    assert kinds == ["possible_emergency", "slow_speech", "long_pauses", "short_phrases"]
    [critical] = alerts(events, "possible_emergency")
    assert critical.severity == "critical" and critical.t == 104.0
    assert critical.actions == cfg.actions.critical
    text = " ".join(critical.actions).lower()
    for needed in ("how they feel", "location", "emergency services", "on the line",
                   "supervisor"):
        assert needed in text
    ev = critical.evidence
    assert set(ev["families"]) == {"tempo", "pausing"} and ev["count"] == 2
    assert ev["score"] >= 2.8 and ev["min_score"] == 2.8
    assert set(ev["kinds"]) == {"slow_speech", "long_pauses"}  # the strongest cue of each family
    assert ev["cues"]["slow_speech"]["baseline"] == pytest.approx(3.5)
    assert ev["cues"]["slow_speech"]["grade"] == pytest.approx(1.3 / 0.875)
    assert "slow speech" in critical.message and "long pauses" in critical.message
    # what accumulated, since when, over how long
    acc = ev["accumulated"]
    assert set(acc) == {"tempo", "pausing"}
    assert acc["tempo"]["evidence"] == pytest.approx(5 * (1.3 / 0.875 - 0.5), abs=1e-3)
    assert acc["tempo"]["since"] == 100.0 and acc["tempo"]["held_s"] == pytest.approx(5.0)
    assert ev["single_family"] is None
    # recovery clears the kinds and then the emergency
    events = run(engine, [cues(t) for t in range(180, 230)], base)
    assert [c.kind for c in clears(events)] == ["slow_speech", "long_pauses", "short_phrases",
                                                "possible_emergency"]


def test_one_family_alone_however_strong_is_not_an_emergency(base):
    engine = AlertEngine(config())  # a grade counts at most 2 (max_grade) of the 2.8 needed
    events = run(engine, [cues(t, speech_rate_sps=0.4) for t in range(100, 300)], base)
    assert [a.kind for a in alerts(events)] == ["slow_speech"]
    assert engine.fusion.agreeing() == {"tempo": pytest.approx(2.0)}


def test_two_families_within_the_drift_of_their_thresholds_never_accumulate(base):
    engine = AlertEngine(config())  # voice 1 dB and loudness 2 dB down: grades 0.33 < drift 0.5
    seq = [cues(t, hnr_db=13.0, loudness_dbfs=-27.0) for t in range(100, 400)]
    assert run(engine, seq, base) == []
    assert engine.fusion.score() == 0.0 and not any(engine.fusion.evidence.values())


# --------------------------------------------------------------------------- pauses counted once

# The test caller's baseline pauses 0.2 of their turn time and articulates 4.4 syll/s (speech rate
# 3.5). A caller looking for a number pauses 0.45 of it and articulates as before: the speech rate
# falls to 4.4 x 0.55 = 2.42 syll/s (31 % down) on the pauses alone. (A new hesitant caller of the
# research corpus at its false critical: pause ratio 0.44 against 0.08, speech rate 2.73 against
# 4.30, articulation rate 4.86 against 4.58.)
HESITANT = dict(pause_ratio=0.45, speech_rate_sps=4.4 * 0.55, articulation_rate_sps=4.4)
NET = {"slow_speech.net_of_pauses": 1.0, "slow_speech.net_breath_share": 0.0}


def test_a_caller_who_only_pauses_longer_moves_the_pausing_family_not_tempo_too(base):
    engine = AlertEngine(config(**NET))
    events = run(engine, [cues(t, **HESITANT) for t in range(100, 300)], base)
    assert [a.kind for a in alerts(events)] == ["long_pauses"]
    assert set(engine.fusion.agreeing()) == {"pausing"}
    # judged as the rate of a caller pausing as in their baseline: 2.42 x 0.8 / 0.55 = 3.52
    assert engine.judge_long(cues(300, **HESITANT), base)["slow_speech"].grade == 0.0


def test_without_net_of_pauses_the_same_pauses_count_in_tempo_and_pausing_and_are_critical(base):
    engine = AlertEngine(config(**{**NET, "slow_speech.net_of_pauses": 0.0}))
    events = run(engine, [cues(t, **HESITANT) for t in range(100, 300)], base)
    assert "possible_emergency" in [a.kind for a in alerts(events)]
    assert set(alerts(events, "possible_emergency")[0].evidence["families"]) == {"tempo", "pausing"}


def test_pauses_that_hold_audible_breaths_slow_the_tempo_too(base):
    engine = AlertEngine(config(**NET))  # a third of the pauses hold a breath: a breathless caller's
    events = run(engine, [cues(t, paused_breath_share=0.3, **HESITANT) for t in range(100, 300)], base)
    [critical] = alerts(events, "possible_emergency")
    assert set(critical.evidence["families"]) == {"tempo", "pausing"}


def test_net_breath_share_sets_how_many_pauses_must_hold_a_breath(base):
    engine = AlertEngine(config(**{**NET, "slow_speech.net_breath_share": 0.5}))
    events = run(engine, [cues(t, paused_breath_share=0.3, **HESITANT) for t in range(100, 300)], base)
    assert alerts(events, "possible_emergency") == []


def test_a_caller_who_also_articulates_slower_still_moves_tempo(base):
    engine = AlertEngine(config(**NET))  # 4.4 -> 3.0 syll/s of speech: net of the pauses 2.4 syll/s
    slower = dict(HESITANT, articulation_rate_sps=3.0, speech_rate_sps=3.0 * 0.55)
    events = run(engine, [cues(t, **slower) for t in range(100, 300)], base)
    [critical] = alerts(events, "possible_emergency")
    assert set(critical.evidence["families"]) == {"tempo", "pausing"}
    assert critical.evidence["cues"]["slow_speech"]["value"] == pytest.approx(3.0 * 0.8)
    assert critical.evidence["cues"]["slow_speech"]["measured"] == pytest.approx(3.0 * 0.55)
    [warning] = alerts(events, "slow_speech")
    assert "2.40 syll/s net of the longer silent pauses (measured 1.65 syll/s)" in warning.message


def test_net_of_pauses_takes_nothing_out_before_a_baseline_or_when_the_caller_pauses_less():
    rule = config(**NET).rules.rule("slow_speech")
    stats = normal_baseline().stats("pause_ratio")
    assert net_of_pauses(rule, 2.0, 0.45, 0.0, None) == 2.0
    assert net_of_pauses(rule, 4.0, 0.1, 0.0, stats) == 4.0
    assert net_of_pauses(rule, 2.2, 0.45, 0.0, stats) == pytest.approx(2.2 * 0.8 / 0.55)
    assert net_of_pauses(replace_rule(rule, net_of_pauses=0.5), 2.2, 0.45, 0.0, stats) == \
        pytest.approx(2.2 * (0.8 / 0.55) ** 0.5)


def replace_rule(rule, **changes):
    return dataclasses.replace(rule, **changes)


# --------------------------------------------------------------------------- a tone taken for speech

# mains hum that the voice activity detector took for a monologue: 8 s of "speech" without a
# syllable in it, far more harmonic than a voice, and (read as speech) slow, unbroken and quiet
HUM = dict(articulation_rate_sps=0.0, speech_rate_sps=0.0, pause_ratio=0.0, mean_phrase_s=8.0,
           hnr_db=34.0, loudness_dbfs=-40.0, speech_s=8.0)


def test_a_window_of_steady_harmonic_sound_without_syllables_is_not_judged(base):
    engine = AlertEngine(config())
    assert run(engine, [cues(t, **HUM) for t in range(100, 300)], base) == []
    assert not any(engine.fusion.evidence.values())


def test_response_latency_is_still_judged_over_a_tone(base):
    engine = AlertEngine(config())
    events = run(engine, [cues(t, **HUM, response_latency_s=5.0) for t in range(100, 120)], base)
    assert [a.kind for a in alerts(events)] == ["slow_response"]


def test_a_whispered_callers_syllable_less_speech_is_judged_as_usual(base):
    # no syllable nuclei either, but no harmonics: a whisper or an aphonic caller, not a tone
    whisper = dict(HUM, hnr_db=0.5)
    events = run(AlertEngine(config()), [cues(t, **whisper) for t in range(100, 140)], base)
    assert {"slow_speech", "breathy_voice", "weak_voice"} <= {a.kind for a in alerts(events)}
    assert "possible_emergency" in {a.kind for a in alerts(events)}


def test_speech_that_has_syllables_is_judged_however_harmonic(base):
    clear_voice = dict(HUM, articulation_rate_sps=4.4)
    events = run(AlertEngine(config()), [cues(t, **clear_voice) for t in range(100, 140)], base)
    assert "possible_emergency" in {a.kind for a in alerts(events)}


def test_the_tone_check_can_be_switched_off(base):
    cfg = config()
    engine = AlertEngine(dataclasses.replace(
        cfg, analysis=dataclasses.replace(cfg.analysis, tone_max_articulation_sps=0.0)))
    events = run(engine, [cues(t, **HUM) for t in range(100, 140)], base)
    assert "possible_emergency" in {a.kind for a in alerts(events)}


def test_a_short_window_of_a_tone_is_not_judged(short_base):
    engine = AlertEngine(config())
    run(engine, [short_cues(t) for t in range(61, 100)], short_base)
    whisper = {"articulation_rate_sps": 0.0, "hnr_db": 1.0, "speech_rate_sps": 1.2}
    assert {"slow_speech", "breathy_voice"} <= set(engine.judge_short(short_cues(100, whisper), short_base))
    hum = dict(whisper, hnr_db=34.0)
    assert set(engine.judge_short(short_cues(100, hum), short_base)) == {"slow_response"}


def first_critical(seq: list[CuesEvent], base: Baseline) -> float | None:
    return next((a.t for a in alerts(run(AlertEngine(config()), seq, base))
                 if a.kind == "possible_emergency"), None)


def test_a_severe_change_is_critical_within_seconds_a_milder_one_later(base):
    # voice and loudness: 3.5 dB and 7 dB down (grades 1.17) accumulate 0.67 a second and reach
    # a summed level of 2.8 after 7 s; 6 dB and 12 dB down (grades 2) accumulate 1.5 a second
    # and reach it after 3 s
    mild = [cues(t, hnr_db=10.5, loudness_dbfs=-32.0) for t in range(100, 200)]
    severe = [cues(t, hnr_db=8.0, loudness_dbfs=-37.0) for t in range(100, 200)]
    assert first_critical(severe, base) == 102.0
    assert first_critical(mild, base) == 106.0


def test_evidence_holds_still_while_the_caller_is_silent(base):
    cfg = config(**{"possible_emergency.stale_s": 3.0})
    engine = AlertEngine(cfg)
    run(engine, [cues(t) for t in range(61, 100)], base)  # the caller has spoken 49.5 s by 99 s
    bad = dict(speech_rate_sps=SLOW, pause_ratio=0.38, mean_phrase_s=1.5)
    # the caller's last words come at 100 s, then a hold: the last window's cues stay as they were
    silent = [cues(t, call_speech_s=50.0, **bad) for t in range(100, 160)]
    assert alerts(run(engine, silent, base), "possible_emergency") == []
    # 100..103 s count (stale_s = 3), then nothing more: both families hold at 4 x 0.99
    held = {f: v for f, v in engine.fusion.evidence.items() if v > 0}
    assert held == {"tempo": pytest.approx(4 * 0.9857, abs=1e-3), "pausing": pytest.approx(4.0)}
    # the caller speaks again: the next hop adds to what was held
    back = [cues(t, call_speech_s=50.0 + (t - 159), **bad) for t in range(160, 170)]
    [critical] = alerts(run(engine, back, base), "possible_emergency")
    assert critical.t == 160.0


def hold_babble(start: int, stop: int, known_from: int) -> list[CuesEvent]:
    """A hold from ``start`` to ``stop`` s whose babble reads as a quiet, halting caller (loudness
    8 dB down: grade 1.33; pause ratio 0.38: grade 1.5), found for a hold from ``known_from`` on
    (the cue events then say when it began)."""
    bad = dict(loudness_dbfs=-33.0, pause_ratio=0.38)
    return [cues(t, hold_since=float(start) if t >= known_from else None, **bad) for t in range(start, stop)]


def test_over_a_hold_the_hold_families_rest_and_their_evidence_since_it_began_is_undone(base):
    engine = AlertEngine(config(**{"possible_emergency.hold_families": ["loudness"]}))
    run(engine, [cues(t) for t in range(61, 100)], base)
    # two hops of the hold's babble before it is known for one: the loudness family gathers
    events = run(engine, hold_babble(100, 102, known_from=102), base)
    assert engine.fusion.evidence["loudness"] > 1.0
    # once it is, the loudness family goes back to what it was when the hold began, and rests;
    # the pausing family goes on alone, and one family is no emergency
    events += run(engine, hold_babble(100, 130, known_from=102)[2:], base)
    assert engine.fusion.evidence["loudness"] == 0.0
    assert engine.fusion.evidence["pausing"] > 3.0
    assert alerts(events, "possible_emergency") == []


def test_without_a_hold_or_with_no_hold_families_the_same_cues_are_critical(base):
    no_hold = AlertEngine(config(**{"possible_emergency.hold_families": ["loudness"]}))
    run(no_hold, [cues(t) for t in range(61, 100)], base)
    weaker = [dataclasses.replace(c, hold_since=None) for c in hold_babble(100, 130, known_from=102)]
    [critical] = alerts(run(no_hold, weaker, base), "possible_emergency")
    assert critical.t == 104.0
    none_rest = AlertEngine(config(**{"possible_emergency.hold_families": []}))
    run(none_rest, [cues(t) for t in range(61, 100)], base)
    [critical] = alerts(run(none_rest, hold_babble(100, 130, known_from=102), base), "possible_emergency")
    assert critical.t == 104.0


def quiet_babble(start: int, stop: int, hold_from: int | None = None, clear_from: int | None = None) -> list[CuesEvent]:
    """:func:`hold_babble`'s cues from ``start`` to ``stop`` s heard in a silence of both parties'
    clear talk from ``start`` on (``quiet_since``), found for a hold from ``hold_from`` on, or ended
    by the caller's clear words at ``clear_from``."""
    out = []
    for c in hold_babble(start, stop, known_from=stop):
        held = hold_from is not None and c.t >= hold_from
        quiet = clear_from is None or c.t < clear_from
        out.append(dataclasses.replace(c, hold_since=float(start) if held else None,
                                       quiet_since=float(start) if quiet else None))
    return out


WAITING = {"possible_emergency.hold_families": ["loudness"], "possible_emergency.quiet_wait_s": 2.0}


def test_no_critical_is_raised_in_a_silence_the_hold_test_has_not_decided_on(base):
    # the babble of a hold's first seconds reads as a quiet, halting caller: critical at 104 s
    # without the wait (above); with it, nothing is raised 2 s and more into the silence, and once
    # the silence is a hold (105 s) the loudness's evidence is undone and rests
    engine = AlertEngine(config(**WAITING))
    run(engine, [cues(t) for t in range(61, 100)], base)
    assert alerts(run(engine, quiet_babble(100, 130, hold_from=105), base), "possible_emergency") == []
    unwaiting = AlertEngine(config(**{**WAITING, "possible_emergency.quiet_wait_s": 0.0}))
    run(unwaiting, [cues(t) for t in range(61, 100)], base)
    [critical] = alerts(run(unwaiting, quiet_babble(100, 130, hold_from=105), base), "possible_emergency")
    assert critical.t == 104.0


def test_a_critical_waited_for_is_raised_when_clear_talk_ends_the_silence(base):
    # the same cues in a silence the caller's clear words end at 106 s: no hold, raised then
    engine = AlertEngine(config(**WAITING))
    run(engine, [cues(t) for t in range(61, 100)], base)
    [critical] = alerts(run(engine, quiet_babble(100, 130, clear_from=106), base), "possible_emergency")
    assert critical.t == 106.0
    # a silence ended (103 s) before the critical was due is no wait: raised at 104 s as without it
    early = AlertEngine(config(**WAITING))
    run(early, [cues(t) for t in range(61, 100)], base)
    [critical] = alerts(run(early, quiet_babble(100, 130, clear_from=103), base), "possible_emergency")
    assert critical.t == 104.0


def test_a_caller_who_falls_silent_waits_only_until_the_hold_test_decides(base):
    # a caller in trouble falls silent with the agent (no hold_families here: the evidence is of
    # families that do not rest): the critical due at 104 s is raised once the silence is a hold
    # (105 s, analysis.hold_rest_quiet_s into it), never later than that
    engine = AlertEngine(config(**{**WAITING, "possible_emergency.hold_families": []}))
    run(engine, [cues(t) for t in range(61, 100)], base)
    [critical] = alerts(run(engine, quiet_babble(100, 130, hold_from=105), base), "possible_emergency")
    assert critical.t == 105.0


def test_a_warning_due_in_a_silence_or_a_hold_waits_for_the_callers_next_clear_talk(base):
    # a weak voice from 100 s (persist_s 8 s: due at 108 s); the caller and the agent fall silent at
    # 102 s, found for a hold from 107 s: nothing is raised in the silence, the run goes on through
    # it, and the warning is raised with the caller's first words after it (130 s), not before
    weak = dict(loudness_dbfs=-33.0)
    quiet = [cues(t, quiet_since=102.0 if t >= 102 else None, hold_since=102.0 if t >= 107 else None, **weak)
             for t in range(100, 130)]
    engine = AlertEngine(config(**WAITING))
    run(engine, [cues(t) for t in range(61, 100)], base)
    assert alerts(run(engine, quiet, base), "weak_voice") == []
    [raised] = alerts(run(engine, [cues(t, **weak) for t in range(130, 135)], base), "weak_voice")
    assert raised.t == 130.0
    # a call that ends in the silence (the caller's last words, then nothing) raises nothing
    ended = AlertEngine(config(**WAITING))
    run(ended, [cues(t) for t in range(61, 100)], base)
    assert alerts(run(ended, quiet, base)) == []
    # the same weak voice with clear talk throughout: raised when due
    talking = AlertEngine(config(**WAITING))
    run(talking, [cues(t) for t in range(61, 100)], base)
    assert [a.t for a in alerts(run(talking, [cues(t, **weak) for t in range(100, 130)], base), "weak_voice")] == [108.0]


def test_over_a_hold_a_hold_family_does_not_go_alone_either(base):
    # the hold's babble reads as a voice 8 dB down (the loudness's change grade 1.33) for 30 s,
    # found for a hold from 102 s on: one family alone would be critical once 4 x 3 of its change
    # from the baseline has accumulated
    alone = {"possible_emergency.hold_families": ["loudness"], "possible_emergency.single_family": 4.0}
    quiet = [cues(t, loudness_dbfs=-33.0, hold_since=100.0 if t >= 102 else None) for t in range(100, 130)]
    no_hold = AlertEngine(config(**alone))
    run(no_hold, [cues(t) for t in range(61, 100)], base)
    [critical] = alerts(run(no_hold, [dataclasses.replace(c, hold_since=None) for c in quiet], base),
                        "possible_emergency")
    assert critical.evidence["single_family"] == "loudness"
    held = AlertEngine(config(**alone))
    run(held, [cues(t) for t in range(61, 100)], base)
    assert alerts(run(held, quiet, base), "possible_emergency") == []
    assert held.fusion.change.get("loudness", 0.0) == 0.0  # the two hops before it was found undone


def test_with_min_turns_two_the_families_agree_only_once_a_second_turn_adds_to_them(base):
    engine = AlertEngine(config(**{"possible_emergency.min_turns": 2,
                                   "possible_emergency.turn_gap_s": 2.0}))
    run(engine, [cues(t) for t in range(61, 100)], base)
    bad = dict(hnr_db=8.0, loudness_dbfs=-37.0)  # critical after 3 s in one turn (test above)
    # one answer of 10 s, spoken without a gap: one turn, however severe
    answer = [cues(t, call_speech_s=50.0 + (t - 99), **bad) for t in range(100, 110)]
    assert alerts(run(engine, answer, base), "possible_emergency") == []
    # 4 s without speech, then the caller answers again as labored: the second turn agrees
    gap = [cues(t, call_speech_s=60.0, **bad) for t in range(110, 114)]
    again = [cues(t, call_speech_s=60.0 + (t - 113), **bad) for t in range(114, 120)]
    assert alerts(run(engine, gap, base), "possible_emergency") == []
    [critical] = alerts(run(engine, again, base), "possible_emergency")
    assert critical.t == 114.0


def test_one_family_far_beyond_the_callers_own_baseline_is_critical_when_configured(base):
    engine = AlertEngine(config(**{"possible_emergency.single_family": 4.0}))
    # speech rate 0.4 syll/s against a baseline of 3.5: change grade capped at 2, 1.5 a second;
    # 4 x 3 = 12 of change accumulated after 8 s
    events = run(engine, [cues(t, speech_rate_sps=0.4) for t in range(100, 140)], base)
    [critical] = alerts(events, "possible_emergency")
    assert critical.t == 107.0
    assert critical.evidence["single_family"] == "tempo"
    assert critical.evidence["accumulated"]["tempo"]["change_evidence"] == pytest.approx(12.0)
    assert "far beyond the caller's own baseline" in critical.message


def test_only_the_families_named_in_single_families_raise_it_alone(base):
    latency_alone = config(**{"possible_emergency.single_family": 4.0,
                              "possible_emergency.single_families": ["latency"]})
    # the tempo as far beyond the baseline as above: not a family that may go alone
    events = run(AlertEngine(latency_alone), [cues(t, speech_rate_sps=0.4) for t in range(100, 140)], base)
    assert alerts(events, "possible_emergency") == []
    # answers after 4 s against a baseline of 0.6 s: the latency alone is critical
    events = run(AlertEngine(latency_alone), [cues(t, response_latency_s=4.0) for t in range(100, 140)], base)
    [critical] = alerts(events, "possible_emergency")
    assert critical.evidence["single_family"] == "latency"


# A tempo-only labored caller against a healthy caller's slower stretch: both speak far slower than
# their baseline (0.4 syll/s: the tempo's change grade at its cap, 2), but the labored caller's
# pauses have grown with it (pause ratio 0.3 against 0.2: 0.83 of the way to the long pauses'
# threshold of 0.32, short of it), where the healthy one's (short answers, hum read as speech in
# the pauses) are as in their baseline. With a drift of 1 the pauses never accumulate on their own.
TEMPO_ALONE = {"possible_emergency.drift": 1.0, "possible_emergency.single_family": 4.0,
               "possible_emergency.single_families": ["tempo"], "possible_emergency.single_support": 0.75}


def test_with_single_support_the_tempo_alone_is_critical_once_the_pauses_have_grown_too(base):
    engine = AlertEngine(config(**TEMPO_ALONE))
    slower = [cues(t, speech_rate_sps=0.4, pause_ratio=0.3) for t in range(100, 140)]
    [critical] = alerts(run(engine, slower, base), "possible_emergency")
    # (2 - 1) a second from 100 s: the 4 x 3 = 12 of change needed at 111 s
    assert critical.t == 111.0 and critical.evidence["single_family"] == "tempo"
    assert list(engine.fusion.agreeing()) == ["tempo"]  # the pauses alone never agree


def test_with_single_support_a_slowing_whose_pauses_stay_as_they_were_is_not_critical(base):
    engine = AlertEngine(config(**TEMPO_ALONE))
    slower = [cues(t, speech_rate_sps=0.4) for t in range(100, 200)]
    assert alerts(run(engine, slower, base), "possible_emergency") == []
    assert engine.fusion.change.get("tempo", 0.0) == 0.0
    # without the condition the same slowing is critical, as a family alone always was
    alone = AlertEngine(config(**{**TEMPO_ALONE, "possible_emergency.single_support": 0.0}))
    [critical] = alerts(run(alone, slower, base), "possible_emergency")
    assert critical.t == 111.0


def test_a_family_alone_does_not_widen_the_cap_of_the_families_sums(base):
    # the tempo at its cap for 100 s: its sum stops at 1.5 x max_grade x evidence_s = 9 whatever
    # single_family is; the change sum of the family alone at 1.5 x single_family x evidence_s
    slower = [cues(t, speech_rate_sps=0.4) for t in range(100, 200)]
    for single in (0.0, 8.0):
        engine = AlertEngine(config(**{"possible_emergency.drift": 1.0,
                                       "possible_emergency.single_family": single}))
        run(engine, slower, base)
        assert engine.fusion.evidence["tempo"] == pytest.approx(9.0)
        assert engine.fusion.change["tempo"] == pytest.approx(1.5 * max(2.0, single) * 3.0)


# A caller labored from the first word, short of every absolute limit: answers after 3.4 s (latency
# graded 0.82 from its typical 0.7 s towards the limit of 4 s) and a pause ratio of 0.4 (0.83 towards
# 0.45). With a drift of 1 neither family accumulates; paired_grade lets the pair raise it.
NEAR_LIMITS = dict(response_latency_s=3.4, pause_ratio=0.4)
PAIRED = {"possible_emergency.drift": 1.0, "possible_emergency.paired_grade": 0.8,
          "possible_emergency.paired_count": 2, "possible_emergency.paired_s": 3.0}
# The same caller also slow (1.9 syll/s: 0.8 towards the floor of 1.5) and breathy (HNR 5.5 dB: 0.75
# towards the limit of 4 dB from its typical 10 dB): four families lean towards their limits at once.
FOUR_NEAR_LIMITS = dict(NEAR_LIMITS, speech_rate_sps=1.9, hnr_db=5.5)


def test_two_families_near_their_absolute_limits_together_are_not_critical_by_default():
    engine = AlertEngine(config(**{"possible_emergency.drift": 1.0}))
    assert alerts(run(engine, [cues(t, **NEAR_LIMITS) for t in range(1, 120)], None)) == []


def test_four_families_leaning_towards_their_absolute_limits_together_are_critical_by_default():
    engine = AlertEngine(config(**{"possible_emergency.drift": 1.0}))
    events = run(engine, [cues(t, **FOUR_NEAR_LIMITS) for t in range(1, 120)], None)
    [critical] = [a for a in alerts(events) if a.kind == "possible_emergency"]
    assert critical.severity == "critical" and critical.t == 3.0  # paired_s: 3 s of the caller's speech
    assert critical.evidence["paired"]["families"] == {
        "latency": pytest.approx(0.818, abs=1e-3), "pausing": pytest.approx(0.833, abs=1e-3),
        "tempo": pytest.approx(0.8, abs=1e-3), "voice": pytest.approx(0.75, abs=1e-3)}
    assert "past 0.6 of their absolute limits together for 3 s" in critical.message


def test_three_families_leaning_or_four_without_the_latency_are_not_critical():
    three = dict(FOUR_NEAR_LIMITS, hnr_db=10.0)  # a modal voice
    quick = dict(FOUR_NEAR_LIMITS, response_latency_s=0.7, mean_phrase_s=0.9)  # quick answers, short phrases
    for leaning in (three, quick):
        engine = AlertEngine(config(**{"possible_emergency.drift": 1.0}))
        events = run(engine, [cues(t, **leaning) for t in range(1, 120)], None)
        assert [a for a in alerts(events) if a.kind == "possible_emergency"] == [], leaning


def test_the_latency_and_another_family_near_their_absolute_limits_for_paired_s_are_critical():
    engine = AlertEngine(config(**PAIRED))
    [critical] = alerts(run(engine, [cues(t, **NEAR_LIMITS) for t in range(1, 120)], None))
    assert critical.kind == "possible_emergency" and critical.t == 3.0  # 3 s of the caller's speech
    assert critical.evidence["paired"]["families"] == {"latency": pytest.approx(0.818, abs=1e-3),
                                                       "pausing": pytest.approx(0.833, abs=1e-3)}
    assert "past 0.8 of their absolute limits together for 3 s" in critical.message


def test_a_pair_needs_one_of_the_paired_families_and_paired_s_without_a_break():
    # the same pause ratio with slow speech (1.9 syll/s: 0.8 towards the floor of 1.5) but quick
    # answers: no family of paired_families (the latency) is in the pair
    slow = dict(pause_ratio=0.4, speech_rate_sps=1.9)
    assert alerts(run(AlertEngine(config(**PAIRED)), [cues(t, **slow) for t in range(1, 120)], None)) == []
    # 2 s of the pair, one quick answer (the count starts again), then 3 s more
    seq = ([cues(t, **NEAR_LIMITS) for t in (1, 2)] + [cues(3, pause_ratio=0.4)]
           + [cues(t, **NEAR_LIMITS) for t in range(4, 20)])
    [critical] = alerts(run(AlertEngine(config(**PAIRED)), seq, None))
    assert critical.t == 6.0


def test_one_family_on_an_absolute_limit_alone_is_not_critical():
    # a hesitant caller who pauses a lot from the first word: no baseline shows a change, so
    # the absolute limit alone (pause ratio 0.6) is not enough for one family
    engine = AlertEngine(config(**{"possible_emergency.single_family": 4.0}))
    events = run(engine, [cues(t, pause_ratio=0.6) for t in range(1, 200)], None)
    assert [a.kind for a in alerts(events)] == ["long_pauses"]
    assert engine.fusion.agreeing() == {"pausing": pytest.approx(2.0)}


def test_a_distress_phrase_alone_is_a_warning(base):
    cfg = config()
    engine = AlertEngine(cfg)
    run(engine, [cues(t) for t in range(61, 100)], base)
    [alert] = engine.on_phrase(99.0, "chest pain", "i have chest pain")
    assert alert.kind == "distress_phrase" and alert.severity == "warning"
    assert alert.evidence["excerpt"] == "i have chest pain"
    assert alert.actions == cfg.actions.distress_phrase
    assert engine.on_phrase(105.0, "chest pain", "chest pain") == []  # cooldown per phrase
    assert [a.kind for a in engine.on_phrase(106.0, "i can't breathe", "i can't breathe")] == [
        "distress_phrase"]


def test_a_distress_phrase_s_evidence_spans_the_words_that_matched_and_it_is_raised_at_their_end(english):
    """The spotter's hit of words said 11.10-11.76 s: the alert is raised at 11.76 s, when the last
    word is heard, and its evidence spans the words, said as such; a repeat is judged on the raise
    time, so words said again within the cooldown raise nothing, however long they take."""
    said = (Word("i", 11.10, 11.20, 0.9), Word("can't", 11.25, 11.50, 0.9), Word("breathe", 11.55, 11.76, 0.9))
    [hit] = PhraseSpotter(english).push(WordsEvent(t=12.0, final=True, words=said, text="i can't breathe"))
    engine = AlertEngine(config())
    [alert] = engine.on_phrase(hit.t, hit.match.phrase, hit.match.excerpt, since=hit.start_s)
    assert alert.t == pytest.approx(11.76)
    assert (alert.evidence["since"], alert.evidence["until"]) == (pytest.approx(11.10), pytest.approx(11.76))
    assert ("when", "0:11 to 0:12 into the call") in [(x.label, x.text) for x in evidence_lines(alert.evidence)]
    assert engine.on_phrase(20.0, "i can't breathe", "i can't breathe", since=5.0) == []


def test_a_distress_phrase_within_one_second_of_the_clock_is_said_at_that_second():
    engine = AlertEngine(config())
    [alert] = engine.on_phrase(11.4, "chest pain", "chest pain", since=11.1)
    assert ("when", "0:11 into the call") in [(x.label, x.text) for x in evidence_lines(alert.evidence)]


def test_a_distress_phrase_with_an_active_acoustic_alert_is_a_possible_emergency(base):
    engine = AlertEngine(config())
    events = run(engine, [cues(t, speech_rate_sps=SLOW) for t in range(100, 120)], base)
    assert [a.kind for a in alerts(events)] == ["slow_speech"]
    events = engine.on_phrase(118.5, "i can't breathe", "i cant breathe")
    assert [(a.kind, a.severity) for a in alerts(events)] == [("distress_phrase", "warning"),
                                                               ("possible_emergency", "critical")]
    critical = alerts(events, "possible_emergency")[0]
    assert critical.evidence["phrase"]["excerpt"] == "i cant breathe"
    assert critical.evidence["kinds"] == ["slow_speech"]
    assert "the caller said" in critical.message


def test_a_possible_emergency_s_phrase_evidence_spans_the_words_that_matched(base):
    """The distress phrase behind a possible emergency is said as the distress phrase's own alert
    says it: the span of the words that matched, first word's start to last word's end."""
    engine = AlertEngine(config())
    run(engine, [cues(t, speech_rate_sps=SLOW) for t in range(100, 120)], base)
    critical = alerts(engine.on_phrase(118.5, "i can't breathe", "i cant breathe", since=115.2), "possible_emergency")[0]
    assert (critical.evidence["phrase"]["since"], critical.evidence["phrase"]["until"]) == (115.2, 118.5)
    assert ("the caller said", "\"i cant breathe\", 1:55 to 1:58 into the call (distress phrase \"i can't breathe\")") \
        in [(x.label, x.text) for x in evidence_lines(critical.evidence)]


def test_an_emergency_that_stood_on_a_phrase_ends_as_phrase_expired_not_recovered(base):
    engine = AlertEngine(config())  # escalate_within_s = 120
    run(engine, [cues(t, speech_rate_sps=SLOW) for t in range(100, 120)], base)
    engine.on_phrase(118.5, "i can't breathe", "i cant breathe")
    events = run(engine, [cues(t, speech_rate_sps=SLOW) for t in range(120, 280)], base)
    [ended] = [e for e in events if isinstance(e, AlertClearedEvent)]
    assert ended.kind == "possible_emergency" and ended.reason == "phrase_expired"
    assert engine.active_kinds == ("slow_speech",)  # the caller is still slow


def test_an_emergency_whose_kinds_lose_their_rules_ends_as_rule_disabled(base):
    engine = AlertEngine(config())
    run(engine, deteriorating(100, 130), base)
    assert "possible_emergency" in engine.active_kinds
    ended = engine.reconfigure(config(**{"long_pauses.enabled": False, "short_phrases.enabled": False,
                                         "audible_breathing.corroborate": []}))  # else never warns
    assert [(c.kind, c.reason) for c in ended] == [("long_pauses", "rule_disabled"),
                                                   ("short_phrases", "rule_disabled"),
                                                   ("possible_emergency", "rule_disabled")]
    events = run(engine, deteriorating(130, 200), base)
    assert not [e for e in events if isinstance(e, AlertClearedEvent)]  # nothing "recovers" later
    assert engine.active_kinds == ("slow_speech",)


def test_an_acoustic_alert_soon_after_a_phrase_escalates_too(base):
    engine = AlertEngine(config())
    run(engine, [cues(t) for t in range(61, 100)], base)
    assert [a.kind for a in engine.on_phrase(100.0, "chest pain", "chest pain")] == [
        "distress_phrase"]
    events = run(engine, [cues(t, speech_rate_sps=SLOW) for t in range(101, 120)], base)
    # tempo (grade 1.49) agrees (level 1: 3 accumulated) after 4 s, sooner than slow_speech's
    # 6 s of persistence
    assert [(a.kind, a.t) for a in alerts(events)] == [("possible_emergency", 104.0),
                                                        ("slow_speech", 107.0)]


def test_a_phrase_long_ago_does_not_escalate(base):
    engine = AlertEngine(config())  # escalate_within_s = 120
    engine.on_phrase(10.0, "chest pain", "chest pain")
    events = run(engine, [cues(t, speech_rate_sps=SLOW) for t in range(200, 220)], base)
    assert [a.kind for a in alerts(events)] == ["slow_speech"]


def test_close_ends_what_is_active_as_call_ended_not_recovered(base):
    engine = AlertEngine(config())
    run(engine, deteriorating(100, 130), base)
    ended = engine.close(130.0)
    assert [c.kind for c in ended] == ["slow_speech", "long_pauses", "short_phrases", "possible_emergency"]
    assert {c.reason for c in ended} == {"call_ended"}  # the caller did not get better
    assert engine.active_kinds == ()


def test_new_thresholds_mid_call_keep_the_state(base):
    engine = AlertEngine(config(**{"possible_emergency.enabled": False}))
    run(engine, [cues(t, speech_rate_sps=SLOW, hnr_db=10.0) for t in range(100, 107)], base)
    assert engine.active_kinds == ("slow_speech",)  # breathy_voice needs 8 s: pending
    cfg = config(**{"slow_speech.enabled": False, "breathy_voice.persist_s": 20,
                    "possible_emergency.enabled": False})
    assert [(c.kind, c.reason) for c in engine.reconfigure(cfg)] == [("slow_speech", "rule_disabled")]
    events = run(engine, [cues(t, speech_rate_sps=SLOW, hnr_db=10.0) for t in range(107, 125)],
                 base)
    assert [(a.kind, a.t) for a in alerts(events)] == [("breathy_voice", 120.0)]


def test_the_engine_is_deterministic(base):
    seq = [cues(t) for t in range(61, 100)] + deteriorating(100, 150) + \
        [cues(t) for t in range(150, 200)]
    a = [e.to_dict() for e in run(AlertEngine(config()), seq, base)]
    b = [e.to_dict() for e in run(AlertEngine(config()), seq, base)]
    assert a == b and a


# --------------------------------------------------------------------------- baseline


def test_the_baseline_freezes_after_30_s_of_caller_speech():
    cfg = config()
    builder = BaselineBuilder(cfg.analysis)
    frozen_at = None
    for t in range(1, 200):
        # the caller speaks half of the time: 0.5 s of speech per second of call
        b = builder.add(cues(t, speech_s=min(t, 20) * 0.5))
        if b is not None and frozen_at is None:
            frozen_at = t
    assert frozen_at is not None and 55 <= frozen_at <= 65
    assert builder.baseline is not None and builder.baseline.speech_s == pytest.approx(30, abs=1)


def test_listening_windows_do_not_count_and_later_trouble_does_not_leak_in():
    builder = BaselineBuilder(config().analysis)
    for t in range(1, 40):  # the agent talks, the caller listens
        builder.add(cues(t, speech_rate_sps=0.3, speech_s=1.0))
    assert builder.baseline is None and builder.current() is None
    for t in range(40, 120):
        builder.add(cues(t, speech_rate_sps=3.5))
    for t in range(120, 400):
        builder.add(cues(t, speech_rate_sps=1.0))
    b = builder.baseline
    assert b is not None and b.median("speech_rate_sps") == pytest.approx(3.5)
    assert b.start_t == 40.0 and b.end_t < 120.0


def test_a_terse_caller_gets_a_baseline_after_baseline_max_s():
    builder = BaselineBuilder(config().analysis)
    for t in range(1, 200):  # 6 s of speech per 20 s window: 0.3 s per second
        builder.add(cues(t, speech_s=6.0, call_speech_s=0.3 * t))
        if builder.ready:
            break
    assert builder.ready and t == 61  # first speech at 1, + 60 s


def test_a_terse_callers_wait_for_a_baseline_leaves_out_a_hold():
    # on hold (20-50 s: hold_since set) the window holds the caller's words from before it, hop
    # after hop: those windows do not count, and the 60 s are waited for outside the hold
    def first_ready(cfg: Config) -> int:
        builder = BaselineBuilder(cfg.analysis)
        for t in range(1, 200):
            held = 20.0 if 20 <= t < 50 else None
            builder.add(cues(t, speech_s=6.0, call_speech_s=0.3 * t, hold_since=held))
            if builder.ready:
                return t
        return -1
    assert first_ready(config()) == 91  # first speech at 1, + 60 s + the 30 s on hold
    read = config()
    read = dataclasses.replace(read, analysis=dataclasses.replace(read.analysis, hold_rest_skip=False))
    assert first_ready(read) == 61  # the hold's talk read as the caller's: its windows count


def test_a_hold_before_the_callers_first_words_does_not_lengthen_their_wait_for_a_baseline():
    # a queue's hold (1-40 s: hold_since set) before the caller says a word: their 60 s are
    # waited for from their first words (at 41 s), the hold before them not taken off again
    builder = BaselineBuilder(config().analysis)
    for t in range(1, 300):
        held = 1.0 if t < 41 else None
        builder.add(cues(t, speech_s=0.0 if t < 41 else 6.0, call_speech_s=0.3 * max(0, t - 40), hold_since=held))
        if builder.ready:
            break
    assert builder.ready and t == 101  # first speech at 41, + 60 s


def test_baseline_statistics_are_robust_and_round_trip():
    builder = BaselineBuilder(config().analysis)
    for t in range(1, 80):
        builder.add(cues(t, hnr_db=40.0 if t == 5 else 14.0, response_latency_s=None))
    b = builder.baseline
    assert b is not None
    assert b.median("hnr_db") == 14.0 and b.stats("hnr_db").mad == 0.0  # one outlier ignored
    assert b.stats("response_latency_s") is None                          # never measured
    assert Baseline.from_dict(b.to_dict()) == b


# --------------------------------------------------------------------------- short window

SHORT_NORMAL = {k: v for k, v in NORMAL.items() if k != "speech_s"}


def short_cues(t: float, short: dict[str, float] | None = None, **changes: float | None) -> CuesEvent:
    """Cues whose short window (3 s of speech) holds ``short``'s values over the normal caller's."""
    window = {**SHORT_NORMAL, "speech_s": 3.0, "window_s": 5.0, **(short or {})}
    return dataclasses.replace(cues(t, **changes), short=window)


@pytest.fixture
def short_base() -> Baseline:
    """A baseline whose short windows vary twice as much as its long ones."""
    builder = BaselineBuilder(config().analysis)
    for t in range(1, 61):
        jitter = (t % 5 - 2) * 0.05
        builder.add(short_cues(t, {"speech_rate_sps": 3.5 + 2 * jitter, "mean_phrase_s": 2.8 + 2 * jitter},
                               speech_rate_sps=3.5 + jitter, mean_phrase_s=2.8 + jitter))
    assert builder.baseline is not None
    return builder.baseline


def test_the_baseline_keeps_the_short_windows_spread_apart(short_base):
    long, short = short_base.stats("speech_rate_sps"), short_base.stats("speech_rate_sps", short=True)
    assert long.median == pytest.approx(3.5) and short.median == pytest.approx(3.5)
    assert short.spread == pytest.approx(2 * long.spread)
    restored = Baseline.from_dict(short_base.to_dict())
    assert restored.stats("speech_rate_sps", short=True) == short


def test_a_severe_change_in_the_callers_last_seconds_is_critical_before_the_long_window_shows_it(short_base):
    engine = AlertEngine(config())
    run(engine, [short_cues(t) for t in range(61, 100)], short_base)
    # the last 3 s of speech: a third of the speech rate and a 0.9 s phrase (grades 2 capped, 1.94);
    # the long window still holds the caller's normal manner
    bad = {"speech_rate_sps": 1.2, "mean_phrase_s": 0.9}
    events = run(engine, [short_cues(t, bad) for t in range(100, 130)], short_base)
    [critical] = alerts(events)
    # the two families gain about 1 a second from the short window: a summed level of 2.8 after 5 s
    assert critical.kind == "possible_emergency" and critical.t == 104.0
    ev = critical.evidence
    assert {c["window"] for c in ev["cues"].values()} == {"short"}
    assert ev["accumulated"]["tempo"]["window"] == "short"
    assert ev["accumulated"]["tempo"]["short_evidence"] == pytest.approx(5.0)
    assert ev["accumulated"]["tempo"]["evidence"] == 0.0
    assert ev["short_drift"] == 1.0


def test_each_cue_of_a_critical_carries_the_span_of_the_window_it_was_judged_on(short_base):
    """A cue judged on the short window gives the short window's span, not the long one's; the
    alert's own span is the longest of its cues' (the span all its evidence lies in)."""
    engine = AlertEngine(config())
    run(engine, [short_cues(t, window_s=24.0) for t in range(61, 100)], short_base)
    bad = {"speech_rate_sps": 1.2, "mean_phrase_s": 0.9, "window_s": 5.0}
    [critical] = alerts(run(engine, [short_cues(t, bad, window_s=24.0) for t in range(100, 130)], short_base))
    ev = critical.evidence
    assert {(c["window"], c["window_s"]) for c in ev["cues"].values()} == {("short", 5.0)}
    assert ev["window_s"] == 5.0
    # the long window's cues give its span
    engine = AlertEngine(config())
    slow = [short_cues(t, speech_rate_sps=SLOW, mean_phrase_s=1.2, window_s=24.0) for t in range(61, 200)]
    critical = next(a for a in alerts(run(engine, slow, short_base)) if a.kind == "possible_emergency")
    assert {(c["window"], c["window_s"]) for c in critical.evidence["cues"].values()} == {("long", 24.0)}
    assert critical.evidence["window_s"] == 24.0


def test_short_windows_within_their_drift_never_accumulate(short_base):
    # the short window's grades stay at 0.75 (under the short drift of 1.0) for minutes
    engine = AlertEngine(config())
    mild = {"speech_rate_sps": 3.5 - 0.75 * 0.875, "mean_phrase_s": 2.8 - 0.75 * 0.98}
    assert run(engine, [short_cues(t, mild) for t in range(61, 400)], short_base) == []
    assert not any(engine.fusion.short_evidence.values())


def test_a_short_window_not_yet_full_of_speech_is_not_judged(short_base):
    engine = AlertEngine(config())
    bad = {"speech_rate_sps": 1.2, "mean_phrase_s": 0.9, "speech_s": 1.5}
    assert run(engine, [short_cues(t, bad) for t in range(61, 200)], short_base) == []
    assert engine.fusion.short_evidence == {}


def test_a_rule_whose_short_window_is_off_counts_its_long_window_only(short_base):
    engine = AlertEngine(config(**{"slow_speech.short_window": False}))
    bad = {"speech_rate_sps": 1.2, "mean_phrase_s": 0.9}
    assert run(engine, [short_cues(t, bad) for t in range(61, 200)], short_base) == []
    assert {f for f, v in engine.fusion.short_evidence.items() if v > 0} == {"pausing"}


def test_a_short_window_that_names_families_to_corroborate_counts_only_while_one_of_them_is_past_too(short_base):
    # the last 3 s of speech: 12 dB quieter (weak_voice's grade 2) with 0.9 s phrases (pausing)
    quieter = {"loudness_dbfs": -37.0, "mean_phrase_s": 0.9}
    alone = AlertEngine(config())
    [critical] = alerts(run(alone, [short_cues(t, quieter) for t in range(61, 100)], short_base))
    assert critical.kind == "possible_emergency"
    # the loudness's short window counts only while the voice quality's is past its threshold too
    named = {"weak_voice.short_corroborate": ["voice"], "weak_voice.short_corroborate_grade": 1.0}
    engine = AlertEngine(config(**named))
    assert run(engine, [short_cues(t, quieter) for t in range(61, 100)], short_base) == []
    assert engine.fusion.short_evidence.get("loudness", 0.0) == 0.0
    # quieter and breathier together (HNR 4 dB down, past its 3 dB: grade 1.33): both count
    breathier = AlertEngine(config(**named))
    run(breathier, [short_cues(t, {**quieter, "hnr_db": 10.0}) for t in range(61, 100)], short_base)
    assert breathier.fusion.short_evidence["loudness"] > 0.0
