"""Cue windows over the caller's own speaking time.

Frames here are built by hand (10 ms hops, speech where a party talks, a syllable nucleus every
quarter second of speech), so every expected number can be worked out on paper.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from monitor.config import AnalysisConfig
from monitor.analysis.cue_windows import (CueTracker, GateRuns, SettledHum, background_talk, floor_hum, inside_holds,
                                         long_hold_talk, other_speech, own_speech, run_quantiles, window_start,
                                         with_hold)
from monitor.analysis.frame_features import HOP_S, Frames
from monitor.cue_registry import SPEECH_CUES
from monitor.dsp.runs import runs
from monitor.dsp.voice_gate import hold_talk, own_voice, speaker_level_db

CFG = AnalysisConfig(window_speech_s=8.0, window_max_s=90.0, latency_turns=3, hop_s=1.0)


def frames(speech: np.ndarray, t0: float = 0.0) -> Frames:
    """Frames from a speech mask: 4 syllable nuclei per second of speech, voiced speech."""
    n = len(speech)
    t = t0 + (np.arange(n) + 0.5) * HOP_S
    run_pos = np.arange(n) % 25
    cols = {f.name: np.zeros(n, dtype=getattr(Frames.empty(), f.name).dtype) for f in fields(Frames)}
    cols.update(t=t, speech=speech, voiced=speech, nucleus=speech & (run_pos == 12),
                energy_db=np.where(speech, -25.0, -70.0).astype(np.float32),
                hnr_db=np.full(n, 12.0, np.float32), cpps_db=np.full(n, 10.0, np.float32),
                f0_hz=np.full(n, 120.0, np.float32))
    return Frames(**cols)


def timeline(duration_s: float, spans: list[tuple[float, float]]) -> np.ndarray:
    """A speech mask with speech in each (start, end) span, in seconds."""
    mask = np.zeros(int(round(duration_s / HOP_S)), dtype=bool)
    for a, b in spans:
        mask[int(round(a / HOP_S)):int(round(b / HOP_S))] = True
    return mask


def dialogue(turns: int, agent_s: float, gap_s: float, answer_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The agent asks for ``agent_s``, the caller answers ``answer_s`` after ``gap_s``; repeat."""
    period = agent_s + 2 * gap_s + answer_s
    agent = [(k * period, k * period + agent_s) for k in range(turns)]
    caller = [(k * period + agent_s + gap_s, k * period + agent_s + gap_s + answer_s) for k in range(turns)]
    total = turns * period
    return timeline(total, agent), timeline(total, caller)


def track(agent: np.ndarray, caller: np.ndarray, cfg: AnalysisConfig = CFG) -> list:
    tracker = CueTracker(cfg, ("agent", "caller"))
    tracker.add("agent", frames(agent))
    tracker.add("caller", frames(caller))
    return tracker.due(final=True)


def quieter_from(caller: np.ndarray, from_s: float, level_db: float) -> Frames:
    """Frames of ``caller`` (speech at -25 dB) whose speech from ``from_s`` on is at ``level_db``."""
    fr = frames(caller)
    i = int(round(from_s / HOP_S))
    fr.energy_db[i:] = np.where(caller[i:], level_db, -70.0)
    return fr


def track_caller(caller: Frames, cfg: AnalysisConfig = CFG) -> list:
    """Every cue event of a call whose agent stays silent."""
    tracker = CueTracker(cfg, ("agent", "caller"))
    tracker.add("agent", frames(np.zeros(len(caller), dtype=bool)))
    tracker.add("caller", caller)
    return tracker.due(final=True)


@pytest.mark.parametrize("offset, gap", [(0, None), (37, None), (-25, None), (0, (300, 340)), (12, (5, 6))])
def test_the_other_partys_speech_is_read_at_the_same_frame_time_on_the_callers_clock(offset, gap):
    """The agent's speech frame at each of the caller's frame times (none where the agent's leg has
    no frame), the legs offset by ``offset`` frames, the agent's leg with a ``gap`` of frames lost."""
    rng = np.random.default_rng(offset + 100)
    agent = frames(rng.random(900) < 0.4, t0=max(offset, 0) * HOP_S)
    caller = frames(rng.random(700) < 0.4, t0=max(-offset, 0) * HOP_S)
    if gap is not None:
        agent = Frames.concat([agent[:gap[0]], agent[gap[1]:]])
    near = np.abs(agent.t[:, None] - caller.t[None, :]) < HOP_S / 2  # (agent, caller): the same frame time
    expected = (near & agent.speech[:, None]).any(axis=0)
    assert np.array_equal(other_speech(caller, agent), expected)


def test_the_window_reaches_back_until_it_holds_the_speech_it_needs():
    speech = timeline(100.0, [(10.0, 14.0), (50.0, 53.0), (80.0, 82.0)])
    t = (np.arange(len(speech)) + 0.5) * HOP_S
    # 8 s of speech: 2 s at 80, 3 s at 50 and the last 3 s of the turn at 10-14
    assert window_start(t, speech, 100.0, 8.0, 90.0) == pytest.approx(11.0)
    # a cap of 60 s stops it at 40 s: old speech ages out
    assert window_start(t, speech, 100.0, 8.0, 60.0) == pytest.approx(40.0)
    # not enough speech at all: the whole capped span
    assert window_start(t, speech, 30.0, 8.0, 90.0) == 0.0


def test_a_talkative_caller_is_judged_on_the_last_few_seconds_of_the_call():
    agent, caller = dialogue(turns=6, agent_s=3.0, gap_s=0.5, answer_s=12.0)
    late = [c for c in track(agent, caller) if c.t >= 60][0]
    assert late.speech_s == pytest.approx(8.0, abs=0.02)
    assert late.window_s < 20.0


def test_a_caller_who_says_little_is_judged_later_rather_than_never():
    # two seconds of answer after every 8 s question: 2 s of speech per 12 s of call
    agent, caller = dialogue(turns=12, agent_s=8.0, gap_s=1.0, answer_s=2.0)
    events = track(agent, caller)
    judged = [c for c in events if (c.speech_s or 0) >= 8.0 - 1e-6]
    assert judged, "the window never held 8 s of caller speech"
    first = judged[0]
    assert 40.0 <= first.t <= 60.0 and first.window_s >= 36.0
    # the agent's questions and the turn gaps are not the caller's time: 4 syllables/s of speech
    # with no pauses inside the answers is 4 syllables per second of turn time
    assert first.turn_s == pytest.approx(8.0, abs=0.05)
    assert first.speech_rate_sps == pytest.approx(4.0, abs=0.15)
    assert first.pause_ratio == pytest.approx(0.0, abs=0.01)


def test_pauses_inside_the_callers_turns_count_and_turn_gaps_do_not():
    # each answer: 1 s of speech, a 1 s pause, 1 s of speech
    period, n = 12.0, 10
    agent = timeline(period * n, [(k * period, k * period + 6.0) for k in range(n)])
    caller = timeline(period * n, [span for k in range(n) for span in
                                   ((k * period + 8.0, k * period + 9.0), (k * period + 10.0, k * period + 11.0))])
    late = track(agent, caller)[-1]
    assert late.pause_ratio == pytest.approx(1 / 3, abs=0.02)
    assert late.mean_pause_s == pytest.approx(1.0, abs=0.02)
    assert late.mean_phrase_s == pytest.approx(1.0, abs=0.02)


def test_response_latency_is_the_mean_of_the_last_answers():
    period = 10.0
    gaps = [0.5, 0.5, 0.5, 3.0, 3.0, 3.0]
    agent, caller = [], []
    for k, gap in enumerate(gaps):
        agent.append((k * period, k * period + 4.0))
        caller.append((k * period + 4.0 + gap, k * period + 4.0 + gap + 2.0))
    events = track(timeline(60.0, agent), timeline(60.0, caller))
    by_t = {c.t: c for c in events}
    assert by_t[20.0].response_latency_s == pytest.approx(0.5, abs=0.02)
    assert by_t[45.0].response_latency_s == pytest.approx((0.5 + 0.5 + 3.0) / 3, abs=0.02)
    assert by_t[55.0].response_latency_s == pytest.approx((0.5 + 3.0 + 3.0) / 3, abs=0.02)
    assert by_t[60.0].response_latency_s == pytest.approx(3.0, abs=0.02)


def test_a_caller_talking_through_the_agent_s_last_word_has_not_answered_it():
    # the caller's line carries talk all through the agent's turn (4.0-4.2 s: a pause shorter
    # than the 0.25 s that bridges a turn); their next run after a real silence is not an answer
    # given 5 s after the agent stopped
    from monitor.analysis.span_measures import response_latencies
    agent = frames(timeline(20.0, [(0.0, 4.1)]))
    caller = frames(timeline(20.0, [(1.0, 4.0), (4.2, 7.0), (9.1, 11.0)]))
    onsets, latencies = response_latencies(caller, agent)
    assert len(latencies) == 0
    # with a real silence at the offset, the next run is the answer
    quiet = frames(timeline(20.0, [(1.0, 3.5), (4.6, 7.0)]))
    onsets, latencies = response_latencies(quiet, agent)
    assert latencies == pytest.approx([0.5], abs=0.02)


def talk_through_dialogue(seed: int, duration_s: float = 150.0) -> tuple[np.ndarray, np.ndarray]:
    """Agent turns of 2-5 s; after each, the caller either answers after 0.1-3 s or was already
    talking across the agent's last word, pausing 0.1-0.4 s around it (bridged or not by the
    0.25 s turn gap); now and then the caller starts a word in a pause of the agent's shorter than
    that gap (no offset, no answer). Offsets anywhere between two hops."""
    rng = np.random.default_rng(seed)
    agent, caller, t = [], [], 0.3
    while t < duration_s - 12.0:
        end = t + rng.uniform(2.0, 5.0)
        if rng.random() < 0.3:
            caller.append((end + rng.uniform(0.02, 0.08), end + 0.5))
            agent.append((t, end))
            t, end = end + rng.uniform(0.15, 0.24), end + rng.uniform(1.0, 2.0)
        agent.append((t, end))
        if rng.random() < 0.5:
            before = rng.uniform(0.0, 0.2)
            caller += [(end - 1.0, end - before), (end - before + rng.uniform(0.1, 0.4), end + 1.5)]
        answer = end + 1.5 + rng.uniform(0.3, 1.0) if caller and caller[-1][1] > end else end + rng.uniform(0.1, 3.0)
        caller.append((answer, answer + rng.uniform(1.0, 3.0)))
        t = caller[-1][1] + rng.uniform(0.1, 1.5)
    return timeline(duration_s, agent), timeline(duration_s, caller)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streamed_latency_at_every_hop_is_the_latency_of_all_frames_up_to_it(seed):
    # the caller's pauses around the agent's last word are bridged on both sides of the hop that
    # cuts them; answers measured once and kept equal answers measured again over every frame
    from monitor.analysis.span_measures import response_latencies
    agent, caller = talk_through_dialogue(seed)
    a_fr, c_fr = frames(agent), frames(caller)
    for step in (1, 37, 518):
        streamed, got = CueTracker(CFG, ("agent", "caller")), []
        for a in range(0, len(caller), step):
            streamed.add("agent", a_fr[a:a + step])
            streamed.add("caller", c_fr[a:a + step])
            got.extend(streamed.due())
        got.extend(streamed.due(final=True))
        for e in got:
            n = int(round(e.t / HOP_S))
            onset, lat = response_latencies(c_fr[:n], a_fr[:n])
            last = lat[onset >= e.t - CFG.window_max_s][-CFG.latency_turns:]
            expected = float(np.mean(last)) if len(last) else None
            assert e.response_latency_s == pytest.approx(expected, abs=1e-9), (step, e.t)
    # the dialogue has both: turns the caller talked across (no answer) and answers
    onset, lat = response_latencies(c_fr, a_fr)
    assert 5 <= len(lat) <= len(runs(agent)[0]) - 2


def test_memory_and_work_per_hop_do_not_grow_with_the_call():
    tracker = CueTracker(CFG, ("agent", "caller"))
    agent, caller = dialogue(turns=1, agent_s=4.0, gap_s=0.5, answer_s=5.0)
    period = len(agent) * HOP_S
    for k in range(120):  # 20 minutes
        tracker.add("agent", frames(agent, t0=k * period))
        tracker.add("caller", frames(caller, t0=k * period))
        events = tracker.due()
    kept = len(tracker.frames("caller")) * HOP_S
    assert kept <= CFG.window_max_s + 25.0
    # the call's total speech is still counted after old frames are dropped
    assert events[-1].call_speech_s == pytest.approx(5.0 * 120, abs=6.0)


def test_a_mono_call_measures_over_the_callers_turn_time_too():
    caller = timeline(60.0, [(k * 10.0, k * 10.0 + 3.0) for k in range(6)])  # 7 s silences
    tracker = CueTracker(CFG, ("caller",))
    tracker.add("caller", frames(caller))
    late = tracker.due(final=True)[-1]
    # silences longer than max_pause_s (5 s) are the caller stopping, not pauses
    assert late.speech_rate_sps == pytest.approx(4.0, abs=0.15)
    assert late.response_latency_s is None


def test_audible_breaths_in_the_pauses_are_counted_per_minute_of_turn_time():
    # answers of 1 s speech, 1 s pause holding a 0.4 s audible breath, 1 s speech
    period, n = 12.0, 10
    agent = timeline(period * n, [(k * period, k * period + 6.0) for k in range(n)])
    caller = timeline(period * n, [span for k in range(n) for span in
                                   ((k * period + 8.0, k * period + 9.0), (k * period + 10.0, k * period + 11.0))])
    breath = timeline(period * n, [(k * period + 9.3, k * period + 9.7) for k in range(n)])
    tracker = CueTracker(CFG, ("agent", "caller"))
    tracker.add("agent", frames(agent))
    fr = frames(caller)
    tracker.add("caller", Frames(**{**{f.name: getattr(fr, f.name) for f in fields(Frames)},
                                    "sound": np.where(caller, 1, np.where(breath, 2, 0)).astype(np.uint8)}))
    late = tracker.due(final=True)[-1]
    # 8 s of speech = 4 answers = 12 s of turn time holding 4 breaths: 20 a minute
    assert late.breaths_per_min == pytest.approx(20.0, abs=1.0)
    assert late.paused_breath_share == pytest.approx(1.0)
    assert late.mean_breath_s == pytest.approx(0.4, abs=0.02)
    assert late.coughs_per_min == 0.0


SHORT = AnalysisConfig(window_speech_s=8.0, window_max_s=90.0, latency_turns=3, hop_s=1.0,
                       short_speech_s=3.0, short_max_s=30.0)


def test_the_short_window_holds_the_callers_last_seconds_of_speech_and_their_last_answer():
    period = 10.0
    gaps = [0.5, 0.5, 0.5, 3.0, 3.0, 1.0]
    agent = [(k * period, k * period + 4.0) for k in range(len(gaps))]
    caller = [(k * period + 4.0 + g, k * period + 4.0 + g + 2.0) for k, g in enumerate(gaps)]
    by_t = {c.t: c for c in track(timeline(60.0, agent), timeline(60.0, caller), SHORT)}
    late = by_t[58.0]  # answers end at 53.0 and 57.0
    assert late.short["speech_s"] == pytest.approx(3.0, abs=0.02)
    assert late.speech_s == pytest.approx(8.0, abs=0.02)
    assert late.short["window_s"] < late.window_s
    # the long window averages the last three answers, the short one reports the last alone
    assert late.response_latency_s == pytest.approx((3.0 + 3.0 + 1.0) / 3, abs=0.02)
    assert late.short["response_latency_s"] == pytest.approx(1.0, abs=0.02)
    assert late.short["speech_rate_sps"] == pytest.approx(4.0, abs=0.5)


def test_a_change_in_the_callers_manner_fills_the_short_window_first():
    # 3 s answers without pauses, then from 60 s answers of 1 s speech, 1 s pause, 1 s speech
    period, n = 12.0, 10
    agent = timeline(period * n, [(k * period, k * period + 6.0) for k in range(n)])
    spans = [(k * period + 8.0, k * period + 11.0) for k in range(5)]
    spans += [s for k in range(5, n) for s in ((k * period + 8.0, k * period + 9.0),
                                                (k * period + 10.0, k * period + 11.0))]
    caller = timeline(period * n, spans)
    first = next(c for c in track(agent, caller, SHORT) if c.t >= 72.0)  # one changed answer
    # short: 58-59 s (the old answer's last second), 68-69 and 70-71 s; one pause in 3 s of speech
    assert first.short["mean_phrase_s"] == pytest.approx(1.0, abs=0.02)
    assert first.short["pause_ratio"] == pytest.approx(0.25, abs=0.02)
    # long: two old 3 s answers still fill most of its 8 s of speech
    assert first.mean_phrase_s == pytest.approx(2.0, abs=0.02)
    assert first.pause_ratio == pytest.approx(1 / 9, abs=0.02)


def test_the_long_and_the_short_window_take_every_cue_of_the_callers_speech_alike():
    """Each cue the registry measures over the caller's speech (its span measures and breath cues)
    is in both windows: a short window as long as the long one measures the same value for each."""
    agent, caller = dialogue(turns=6, agent_s=3.0, gap_s=0.6, answer_s=4.0)
    alike = replace(CFG, short_speech_s=CFG.window_speech_s, short_max_s=CFG.window_max_s)
    measured = [c for c in track(agent, caller, alike) if c.speech_s]
    assert measured and measured[-1].value("hnr_db") is not None
    for c in measured:
        assert {name: c.value(name) for name in SPEECH_CUES} == {name: c.short_value(name) for name in SPEECH_CUES}, c.t


def test_without_a_short_window_the_event_carries_none():
    agent, caller = dialogue(turns=4, agent_s=3.0, gap_s=0.5, answer_s=4.0)
    off = AnalysisConfig(window_speech_s=8.0, short_speech_s=0.0)
    assert all(c.short == {} for c in track(agent, caller, off))


def test_background_talk_over_a_hold_is_not_the_callers_speech():
    # the caller answers for 20 s at -25 dB; over a 30 s hold the line carries talk at -50 dB
    fr = quieter_from(timeline(60.0, [(0.0, 20.0), (30.0, 60.0)]), 30.0, -50.0)
    gated = track_caller(fr)[-1]
    assert gated.call_speech_s == pytest.approx(20.0, abs=0.05)
    assert gated.speech_s == pytest.approx(8.0, abs=0.05)  # the window reaches back to the answer
    ungated = track_caller(fr, AnalysisConfig(window_speech_s=8.0, window_max_s=90.0, latency_turns=3,
                                              hop_s=1.0, voice_gate_db=0.0))[-1]
    assert ungated.call_speech_s == pytest.approx(50.0, abs=0.05)


def test_streaming_in_chunks_equals_the_whole_call_with_background_talk_and_trimming():
    # 240 s (frames older than the caps are dropped on the way); talk at -50 dB between turns
    agent, caller = dialogue(turns=16, agent_s=6.0, gap_s=2.0, answer_s=5.0)
    near = np.convolve((agent | caller).astype(float), np.ones(41), mode="same") > 0  # 0.2 s apart
    talk = ~near & (np.arange(len(caller)) % 300 < 120)
    fr = frames(caller | talk)
    fr.energy_db[talk] = -50.0
    whole = CueTracker(CFG, ("agent", "caller"))
    whole.add("agent", frames(agent))
    whole.add("caller", fr)
    expected = whole.due(final=True)
    streamed = CueTracker(CFG, ("agent", "caller"))
    got = []
    step = 37  # 0.37 s of frames at a time, off the hop grid
    for a in range(0, len(caller), step):
        streamed.add("agent", frames(agent)[a:a + step])
        streamed.add("caller", fr[a:a + step])
        got.extend(streamed.due())
    got.extend(streamed.due(final=True))
    assert [repr(e) for e in got] == [repr(e) for e in expected]
    # the talk is not the caller, once the caller has spoken (before it, it is all there is to hear)
    before_first_word = talk[:int(np.argmax(caller))].sum() * HOP_S
    assert expected[-1].call_speech_s == pytest.approx(16 * 5.0 + before_first_word, abs=0.05)


def test_background_talk_over_a_hold_longer_than_the_frames_kept_is_still_not_the_caller():
    # the caller answers for 20 s at -25 dB, then a 200 s hold carries talk at -50 dB: once the
    # caller's words have left the frames kept, the talk alone would set the caller's level
    events = track_caller(quieter_from(timeline(220.0, [(0.0, 20.0), (30.0, 220.0)]), 30.0, -50.0))
    assert max(e.call_speech_s for e in events) == pytest.approx(20.0, abs=0.05)
    assert events[-1].speech_s == 0.0  # nothing of the caller in the last 90 s


def test_a_caller_whose_voice_weakens_for_good_is_heard_again_at_the_new_level():
    # 20 s at -25 dB, then answers 22 dB weaker (beyond the 18 dB gate) to the agent's questions
    # for 5 minutes
    spans = [(0.0, 20.0)] + [(25.0 + 10 * k, 30.0 + 10 * k) for k in range(30)]
    questions = timeline(330.0, [(20.0 + 10 * k, 25.0 + 10 * k) for k in range(30)])
    tracker = CueTracker(CFG, ("agent", "caller"))
    tracker.add("agent", frames(questions))
    tracker.add("caller", quieter_from(timeline(330.0, spans), 22.0, -47.0))
    events = tracker.due(final=True)
    heard_from = next(e.t for e in events if e.call_speech_s > 20.5)
    assert 60.0 < heard_from < 260.0  # not while the healthy words set the level; not never
    assert events[-1].speech_s >= 8.0


def hold_legs(talk_db: float, hold: tuple[float, float] = (30.0, 60.0),
              duration_s: float = 90.0) -> tuple[Frames, Frames]:
    """The agent's and the caller's frames: they talk in turns (5 s each at -25 dB); over ``hold``
    neither does, and the caller's line carries talk at ``talk_db`` in 1 s bursts every 2 s."""
    turns = range(int(duration_s // 10))
    agent = timeline(duration_s, [(10.0 * k, 10.0 * k + 5.0) for k in turns if not hold[0] <= 10.0 * k < hold[1]])
    caller = timeline(duration_s, [(10.0 * k + 5.0, 10.0 * k + 10.0) for k in turns
                                   if not hold[0] <= 10.0 * k + 5.0 < hold[1]])
    burst = timeline(duration_s, [(t, t + 1.0) for t in np.arange(hold[0] + 0.5, hold[1] - 1.0, 2.0)])
    fr = frames(caller | burst)
    fr.energy_db[burst] = talk_db
    return frames(agent), fr


def hold_call(talk_db: float, hold: tuple[float, float] = (30.0, 60.0), cfg: AnalysisConfig = CFG,
              duration_s: float = 90.0) -> list:
    """Every cue event of :func:`hold_legs`' call."""
    agent, caller = hold_legs(talk_db, hold, duration_s)
    tracker = CueTracker(cfg, ("agent", "caller"))
    tracker.add("agent", agent)
    tracker.add("caller", caller)
    return tracker.due(final=True)


@pytest.mark.parametrize("talk_db", [-37.0, -45.0, -60.0])
def test_the_voice_gates_judge_the_same_on_runs_found_once_for_all_of_them(talk_db):
    """The cue windows find the caller's runs, their peaks and their share under the agent once a
    hop and hand them to every gate: the caller's own speech is what the gates give each finding
    them itself (own voice, hold talk, long-hold talk, background talk, one after another)."""
    agent, caller = hold_legs(talk_db)
    c = CFG
    found = own_speech(caller, c.voice_gate_db, None, agent, c.voice_hold_gate_db, c.voice_hold_quiet_s,
                       c.voice_hold_long_s, c.voice_background_margin_db, c.voice_background_below_db,
                       c.voice_background_min_s, c.voice_background_near_s, found=GateRuns.of(caller, agent))
    e, speech, theirs = caller.energy_db, caller.speech, other_speech(caller, agent)
    level = speaker_level_db(e, speech)
    each = (own_voice(e, speech, c.voice_gate_db, level)
            & ~hold_talk(e, speech, theirs, level, c.voice_hold_gate_db, c.voice_hold_quiet_s, HOP_S)
            & ~long_hold_talk(e, speech, theirs, level, c.voice_hold_gate_db, c.voice_hold_long_s, HOP_S)
            & ~background_talk(e, speech, theirs, level, c.voice_background_margin_db, c.voice_background_below_db,
                               c.voice_background_min_s, HOP_S, c.voice_background_near_s))
    assert np.array_equal(found.speech, each)
    assert each.sum() < speech.sum()  # (the gates dropped talk: there was something to judge)


def test_faint_talk_that_goes_on_over_a_hold_is_not_the_caller_after_ten_quiet_seconds():
    # talk 12 dB under the caller passes the 18 dB gate; over a 30 s hold (nobody speaks) the
    # bursts that begin more than 10 s after the agent's or the caller's last clear words go
    events = hold_call(-37.0)
    at = {e.t: e.call_speech_s for e in events}
    heard = at[60.0] - at[30.0]  # caller speech counted over the hold
    assert heard == pytest.approx(5.0, abs=0.05)  # the bursts at 30.5-39.5 s (5 of them, 1 s each)
    assert at[90.0] - at[60.0] == pytest.approx(15.0, abs=0.05)  # the caller's answers after it


def test_talk_nearly_as_loud_as_the_caller_over_a_hold_is_still_heard():
    # within 10 dB of the caller's level a run is the caller's, whatever came before it
    events = hold_call(-30.0)
    at = {e.t: e.call_speech_s for e in events}
    assert at[60.0] - at[30.0] == pytest.approx(15.0, abs=0.05)


def test_without_the_hold_test_the_faint_talk_over_a_hold_reads_as_the_caller():
    off = AnalysisConfig(window_speech_s=8.0, window_max_s=90.0, latency_turns=3, hop_s=1.0,
                         voice_hold_quiet_s=0.0)
    at = {e.t: e.call_speech_s for e in hold_call(-37.0, cfg=off)}
    assert at[60.0] - at[30.0] == pytest.approx(15.0, abs=0.05)  # all 15 bursts


def test_the_hold_test_does_not_depend_on_the_level_gate():
    no_level_gate = AnalysisConfig(window_speech_s=8.0, window_max_s=90.0, latency_turns=3, hop_s=1.0,
                                   voice_gate_db=0.0)
    at = {e.t: e.call_speech_s for e in hold_call(-37.0, cfg=no_level_gate)}
    assert at[60.0] - at[30.0] == pytest.approx(5.0, abs=0.05)  # as with it: 5 bursts before 40 s


def test_streaming_in_chunks_equals_the_whole_call_over_a_hold_longer_than_the_frames_kept():
    agent, caller = hold_legs(-37.0, hold=(30.0, 200.0), duration_s=240.0)
    expected = hold_call(-37.0, hold=(30.0, 200.0), duration_s=240.0)
    streamed = CueTracker(CFG, ("agent", "caller"))
    got = []
    for a in range(0, len(caller), 37):  # the caller's leg 0.37 s at a time, the agent's 5.18 s ahead
        if a % 518 == 0:
            streamed.add("agent", agent[a:a + 518])
        streamed.add("caller", caller[a:a + 37])
        got.extend(streamed.due())
    got.extend(streamed.due(final=True))
    assert [repr(e) for e in got] == [repr(e) for e in expected]


def test_faint_talk_over_a_long_hold_is_heard_again_once_the_held_level_comes_within_the_gate():
    # the hold test measures faintness against the held level, which falls 3 dB a minute once the
    # caller's words have left the frames kept (about 106 s with the default windows): talk 12 dB
    # under the caller is background for about 2 minutes of a hold, not for ever
    events = hold_call(-37.0, hold=(30.0, 400.0), cfg=AnalysisConfig(), duration_s=430.0)
    at = {round(e.t, 3): e.call_speech_s for e in events}
    assert at[120.0] - at[30.0] == pytest.approx(5.0, abs=0.05)
    heard_again = next(t for t in sorted(at) if t > 41.0 and at[t] - at[t - 1.0] > 0.05)
    assert 140.0 < heard_again < 200.0


SHORT_HOLD = AnalysisConfig(window_speech_s=8.0, window_max_s=90.0, latency_turns=3, hop_s=1.0,
                            voice_hold_long_s=0.0)
"""CFG without the long-hold test (``voice_hold_long_s`` 15 s by default)."""


def test_once_a_hold_has_gone_on_its_first_seconds_of_faint_talk_are_background_too():
    # talk 12 dB under the caller over a 30 s hold: the hold test drops the bursts that begin more
    # than 10 s into it, and keeps the first five (30.5-39.5 s) as the caller's quiet speech
    plain = {e.t: e for e in hold_call(-37.0, cfg=SHORT_HOLD)}
    assert plain[50.0].loudness_dbfs < -27.0  # the window reaches back over the first five bursts
    # once a burst begins more than 15 s into the silence (46.5 s), the five are background too
    wide = {e.t: e for e in hold_call(-37.0)}
    assert wide[46.0].loudness_dbfs == plain[46.0].loudness_dbfs  # not yet
    assert wide[50.0].loudness_dbfs == pytest.approx(-25.0, abs=1e-3)  # the caller's words alone
    assert wide[50.0].speech_s == pytest.approx(8.0, abs=0.05)
    # what the cue windows saw before stays counted: the call's speech counts each frame once
    assert wide[60.0].call_speech_s == plain[60.0].call_speech_s


def test_a_faint_answer_that_the_agent_follows_within_the_long_hold_time_is_kept():
    # the caller speaks (0-10 s), the agent asks (10-15 s), the caller answers faintly (-37 dB) in
    # 1 s bursts from 16 s to 27 s and the agent speaks again at 29 s: a silence of 14 s, shorter
    # than a long hold's 15 s, so nothing the hold test kept is taken back
    agent = frames(timeline(60.0, [(10.0, 15.0), (29.0, 34.0)]))
    burst = timeline(60.0, [(t, t + 1.0) for t in np.arange(16.0, 28.0, 2.0)])
    caller = frames(timeline(60.0, [(0.0, 10.0), (35.0, 60.0)]) | burst)
    caller.energy_db[burst] = -37.0

    def events(cfg: AnalysisConfig) -> list:
        tracker = CueTracker(cfg, ("agent", "caller"))
        tracker.add("agent", agent)
        tracker.add("caller", caller)
        return tracker.due(final=True)
    plain, wide = events(SHORT_HOLD), events(CFG)
    assert {e.t: e.call_speech_s for e in plain}[29.0] == pytest.approx(15.0, abs=0.05)  # 5 bursts kept
    assert [repr(e) for e in wide] == [repr(e) for e in plain]


def babble_call(duration_turns: int = 12) -> tuple[np.ndarray, Frames]:
    """The agent asks for 6 s, the caller answers for 4 s at -25 dB 3 s later; the caller's line
    carries talk 13 dB under the caller (bursts of 1.2 s, 0.3 s apart; it passes the 18 dB gate)
    under the agent's turns and in the gaps, never within 1.2 s of the caller's answers."""
    agent, caller = dialogue(turns=duration_turns, agent_s=6.0, gap_s=3.0, answer_s=4.0)
    return agent, with_talk(caller)


def with_talk(caller: np.ndarray, talk_db: float = -38.0) -> Frames:
    """The caller's frames (speech at -25 dB) with :func:`babble_call`'s talk at ``talk_db`` (13 dB
    under them by default), everywhere but within 1.2 s of the caller's speech."""
    near = np.convolve(caller.astype(float), np.ones(241), mode="same") > 0
    talk = ~near & (np.arange(len(caller)) % 150 < 120)
    fr = frames(caller | talk)
    fr.energy_db[talk] = talk_db
    return fr


def test_talk_heard_under_the_agents_turns_is_background_there_and_in_the_gaps():
    agent, fr = babble_call()
    answers = 12 * 4.0
    gated = track_caller_with(agent, fr, CFG)[-1]
    plain = track_caller_with(agent, fr, replace(CFG, voice_background_margin_db=0.0))[-1]
    assert plain.call_speech_s > answers + 60.0  # without the test the talk reads as the caller
    # with it, only the talk before the line has shown 5 s of it under the agent stays counted
    assert answers <= gated.call_speech_s < answers + 8.0
    assert gated.speech_s == pytest.approx(8.0, abs=0.05)  # the window holds the caller's answers


def test_streaming_in_chunks_equals_the_whole_call_with_talk_under_the_agents_turns():
    agent, fr = babble_call()
    expected = track_caller_with(agent, fr, CFG)
    assert [repr(e) for e in streamed_in_chunks(frames(agent), fr, CFG)] == [repr(e) for e in expected]


def babble_over_a_hold(hold_s: float, talk_db: float = -38.0) -> tuple[np.ndarray, Frames]:
    """:func:`babble_call`'s dialogue, 10 turns (the last answer ends at 157 s), then a hold of
    ``hold_s`` from 160 s on (neither party speaks; the talk at ``talk_db``, 13 dB under the caller
    by default, goes on), then 5 turns more."""
    agent, caller = dialogue(turns=15, agent_s=6.0, gap_s=3.0, answer_s=4.0)
    i = int(round(160.0 / HOP_S))
    pause = np.zeros(int(round(hold_s / HOP_S)), dtype=bool)
    agent, caller = (np.concatenate([leg[:i], pause, leg[i:]]) for leg in (agent, caller))
    return agent, with_talk(caller, talk_db)


def test_a_hold_longer_than_the_frames_kept_is_one_hold_until_the_agent_speaks_again():
    # 150 s of talk over a hold: the talk heard under the agent's last words leaves the frames kept
    # (90 + 15 s) long before the hold ends, and is still the reference the talk is measured against
    agent, fr = babble_over_a_hold(150.0)
    events = track_caller_with(agent, fr, CFG)
    found = {e.t: e.hold_since for e in events if e.hold_since is not None and e.t > 100.0}
    assert set(found) == set(np.arange(162.0, 320.0 + 1.0))  # 5 s into it, to 10 s past its end (310 s)
    assert all(since == pytest.approx(157.0) for since in found.values())  # the last answer's end
    assert [repr(e) for e in streamed_in_chunks(frames(agent), fr, CFG)] == [repr(e) for e in events]


def test_the_cue_events_say_since_when_neither_party_has_spoken_clear_of_the_talk():
    # the caller's last answer ends at 157 s; the talk over the hold that follows ends nothing:
    # a silence since 157 s, a hold from 162 s (5 s into it)
    agent, fr = babble_over_a_hold(150.0)
    events = {e.t: e for e in track_caller_with(agent, fr, CFG)}
    assert events[156.0].quiet_since is None  # the caller speaking
    assert events[159.0].quiet_since == pytest.approx(157.0) and events[159.0].hold_since is None
    assert events[162.0].quiet_since == events[162.0].hold_since == pytest.approx(157.0)


def test_a_runs_energy_quantile_is_that_of_its_own_frames():
    energy = np.array([-30.0, -20.0, -25.0, -70.0, -40.0, np.nan, -10.0, -35.0])
    starts, ends = runs(energy > -60.0)  # NaN is no speech here: runs [0, 3) and [4, 5), [6, 8)
    assert run_quantiles(energy, starts, ends, 1.0).tolist() == [-20.0, -40.0, -10.0]
    assert run_quantiles(energy, starts, ends, 0.5).tolist() == [-25.0, -40.0, -35.0]
    assert run_quantiles(energy, starts, ends, 0.0).tolist() == [-30.0, -40.0, -35.0]


def test_only_the_runs_wholly_inside_a_hold_are_its_talk():
    t = (np.arange(1000) + 0.5) * HOP_S  # 10 s
    speech = timeline(10.0, [(1.0, 2.0), (3.0, 4.0), (5.5, 6.5), (8.0, 9.0)])
    holds = np.array([[0.5, 4.0], [6.0, 9.5]])  # the run at 5.5-6.5 s began before the second
    inside = inside_holds(t, speech, holds)
    assert inside.tolist() == timeline(10.0, [(1.0, 2.0), (3.0, 4.0), (8.0, 9.0)]).tolist()


def test_each_hold_skips_the_runs_under_its_own_ceiling():
    t = (np.arange(1000) + 0.5) * HOP_S  # 10 s
    speech = timeline(10.0, [(1.0, 2.0), (3.0, 4.0), (6.5, 7.5), (8.0, 9.0)])
    energy = np.where(speech, -25.0, -70.0)
    holds = np.array([[0.5, 4.5], [6.0, 9.5]])
    inside = inside_holds(t, speech, holds, energy, np.array([np.inf, -28.0]))  # the second: 3 dB under -25
    assert inside.tolist() == timeline(10.0, [(1.0, 2.0), (3.0, 4.0)]).tolist()


def test_a_hold_that_reaches_back_over_the_holds_kept_absorbs_every_one_it_meets():
    holds = [(10.0, 20.0), (30.0, 40.0), (50.0, 60.0)]
    assert with_hold(holds, 55.0, 65.0) == [(10.0, 20.0), (30.0, 40.0), (50.0, 65.0)]  # the last, going on
    assert with_hold(holds, 70.0, 75.0) == [*holds, (70.0, 75.0)]  # a new one
    assert with_hold(holds, 15.0, 65.0) == [(10.0, 65.0)]  # its start within the first: all three
    assert with_hold(holds, 25.0, 65.0) == [(10.0, 20.0), (25.0, 65.0)]
    assert with_hold(holds, 5.0, 65.0) == [(5.0, 65.0)]
    assert with_hold([], 5.0, 10.0) == [(5.0, 10.0)]


UNSKIPPED = replace(CFG, hold_rest_skip=False)
"""CFG with a hold's talk read as the caller's (``hold_rest_skip`` off; on by default)."""


def queue_hold_call(talk_db: float = -31.0) -> tuple[np.ndarray, Frames]:
    """The agent greets for 3 s, then a queue hold of 120 s (nobody speaks; :func:`with_talk`'s
    talk at ``talk_db``, 6 dB under the caller by default, goes on), then :func:`dialogue`'s 10
    turns from 123 s (the caller's first answer at 132 s). The caller's level is the talk's own
    until then: the caller has said nothing."""
    agent, caller = dialogue(turns=10, agent_s=6.0, gap_s=3.0, answer_s=4.0)
    greeting, hold = np.ones(int(round(3.0 / HOP_S)), bool), np.zeros(int(round(120.0 / HOP_S)), bool)
    agent = np.concatenate([greeting, hold, agent])
    caller = np.concatenate([np.zeros_like(greeting), hold, caller])
    return agent, with_talk(caller, talk_db)


def test_talk_over_a_queue_hold_before_the_caller_has_spoken_is_not_their_speech():
    # no ceiling under the caller's level while the caller has not spoken clear of the background:
    # their level is the hold's talk itself, and 3 dB under it would keep the talk's every peak
    agent, fr = queue_hold_call()
    plain = {e.t: e for e in track_caller_with(agent, fr, UNSKIPPED)}
    skipped = {e.t: e for e in track_caller_with(agent, fr, CFG)}
    assert skipped[8.0].hold_since == pytest.approx(3.0)  # found 5 s after the greeting
    assert plain[122.0].call_speech_s > 90.0  # read as the caller
    # counted: the talk under the greeting and of the hold's first 10 s, heard before then
    assert skipped[122.0].call_speech_s == skipped[13.0].call_speech_s < 12.0
    assert skipped[122.0].speech_s == 0.0
    # after the hold (the agent speaks again at 123 s) the window holds only what came after it
    assert skipped[130.0].speech_s == pytest.approx(5.8, abs=0.05) and plain[130.0].speech_s == 8.0
    assert skipped[130.0].loudness_dbfs == pytest.approx(-31.0, abs=0.05)  # the talk under the agent
    # and from the caller's first answer on, the windows and the speech counted are the same
    assert all(skipped[t].speech_s == plain[t].speech_s and skipped[t].loudness_dbfs == plain[t].loudness_dbfs
               for t in np.arange(136.0, 223.0))
    assert skipped[222.0].call_speech_s - skipped[136.0].call_speech_s == pytest.approx(
        plain[222.0].call_speech_s - plain[136.0].call_speech_s, abs=0.05)
    assert [repr(e) for e in streamed_in_chunks(frames(agent), fr, CFG)] == [repr(skipped[t]) for t in skipped]


def test_the_holds_kept_stay_few_sorted_and_apart_over_a_long_call_of_holds():
    # 20 rounds of 3 turns and a 40 s hold of talk (23 minutes): the work per hop stays flat
    agent, caller = dialogue(turns=3, agent_s=6.0, gap_s=3.0, answer_s=4.0)
    pause = np.zeros(int(round(40.0 / HOP_S)), bool)
    agent, caller = np.concatenate([agent, pause]), np.concatenate([caller, pause])
    talk = with_talk(caller, -31.0)
    tracker = CueTracker(CFG, ("agent", "caller"))
    for k in range(20):
        t0 = k * len(agent) * HOP_S
        tracker.add("agent", frames(agent, t0=t0))
        tracker.add("caller", replace(talk, t=talk.t + t0))
        tracker.due()
        holds = tracker.holds
        assert 1 <= len(holds) <= 3
        assert all(a[1] < b[0] for a, b in zip(holds, holds[1:]))
    assert len(tracker.frames("caller")) * HOP_S <= CFG.window_max_s + 25.0


def test_talk_within_a_few_db_of_the_caller_over_a_hold_is_not_their_speech_once_the_hold_is_found():
    # talk 6 dB under the caller passes every level test; the hold is found 5 s after the caller's
    # last answer (157 s), and from then on the talk over it is silence for the cue windows
    agent, fr = babble_over_a_hold(150.0, talk_db=-31.0)
    plain = {e.t: e for e in track_caller_with(agent, fr, UNSKIPPED)}
    skipped = {e.t: e for e in track_caller_with(agent, fr, CFG)}
    assert plain[300.0].call_speech_s - plain[160.0].call_speech_s > 100.0  # read as the caller
    # counted: only the talk of the hold's first 10 s (hold_rest_skip_min_s), heard before then
    assert skipped[300.0].call_speech_s - skipped[157.0].call_speech_s < 8.0
    assert skipped[300.0].call_speech_s == skipped[168.0].call_speech_s
    # the window over the hold holds the caller's answers from before it (louder than the talk),
    # then nothing
    assert plain[200.0].loudness_dbfs == pytest.approx(-31.0, abs=1e-3)
    assert skipped[200.0].loudness_dbfs > -28.0 and skipped[200.0].speech_s == pytest.approx(8.0, abs=0.05)
    assert skipped[300.0].speech_s == 0.0
    # nothing changes before the hold, nor what is heard after it
    assert (skipped[380.0].call_speech_s - skipped[310.0].call_speech_s
            == pytest.approx(plain[380.0].call_speech_s - plain[310.0].call_speech_s, abs=0.05))
    assert [repr(skipped[t]) for t in skipped if t < 162.0] == [repr(plain[t]) for t in plain if t < 162.0]
    assert [repr(e) for e in streamed_in_chunks(frames(agent), fr, CFG)] == [repr(skipped[t]) for t in skipped]


def test_talk_over_a_hold_within_the_skips_margin_of_the_callers_level_is_still_heard():
    # talk 1 dB under the caller (hold_rest_skip_below_db: 3 dB) may be the caller, whatever the
    # hold, once the caller has spoken clear of the background: here the line carries no talk
    # before 20 s, and the caller's first answer (9-13 s) is theirs
    agent, fr = babble_over_a_hold(150.0, talk_db=-26.0)
    quiet = (fr.t < 20.0) & (fr.energy_db == -26.0)
    fr.speech[quiet], fr.energy_db[quiet] = False, -70.0
    plain = {e.t: e.call_speech_s for e in track_caller_with(agent, fr, UNSKIPPED)}
    skipped = {e.t: e.call_speech_s for e in track_caller_with(agent, fr, CFG)}
    assert skipped[300.0] - skipped[160.0] == pytest.approx(plain[300.0] - plain[160.0], abs=0.05)
    assert skipped[300.0] - skipped[160.0] > 100.0


def test_a_hold_shorter_than_the_skips_time_keeps_its_talk():
    # a "hold" of a few seconds may be a caller's quiet turn: its talk is skipped only once the
    # hold has lasted hold_rest_skip_min_s (10 s)
    agent, fr = babble_over_a_hold(5.0, talk_db=-31.0)  # 157 s to 165 s: 8 s of silence, found at 162 s
    plain = {e.t: e.call_speech_s for e in track_caller_with(agent, fr, UNSKIPPED)}
    skipped = {e.t: e.call_speech_s for e in track_caller_with(agent, fr, CFG)}
    longer = {e.t: e.call_speech_s for e in track_caller_with(agent, fr, replace(CFG, hold_rest_skip_min_s=5.0))}
    assert skipped[172.0] == pytest.approx(plain[172.0], abs=0.05)
    assert longer[172.0] < plain[172.0] - 0.5


def test_a_long_run_of_talk_with_one_louder_instant_does_not_end_a_hold():
    # a 5 s run of the talk from 200 s on, one 50 ms instant of it 7 dB louder: its loudest frame
    # stands clear of the talk heard under the agent, its 0.97 quantile (hold_rest_run_quantile) does not
    agent, fr = babble_over_a_hold(150.0, talk_db=-31.0)
    run = slice(int(round(200.0 / HOP_S)), int(round(205.0 / HOP_S)))
    fr.speech[run], fr.energy_db[run] = True, -31.0
    fr.energy_db[int(round(202.0 / HOP_S)):int(round(202.05 / HOP_S))] = -24.0
    by_peak = {e.t: e.hold_since for e in track_caller_with(agent, fr, replace(CFG, hold_rest_run_quantile=1.0))}
    by_bulk = {e.t: e.hold_since for e in track_caller_with(agent, fr, CFG)}
    assert by_peak[200.0] == by_bulk[200.0] == pytest.approx(157.0)
    assert by_peak[211.0] == pytest.approx(205.0, abs=0.3)  # ended; a new hold found 5 s on
    assert all(by_bulk[float(t)] == pytest.approx(157.0) for t in range(162, 321))


def test_a_short_answer_at_the_callers_level_ends_a_hold_whether_its_peak_or_its_quantile_is_judged():
    agent, fr = babble_over_a_hold(150.0, talk_db=-31.0)
    word = slice(int(round(200.0 / HOP_S)), int(round(200.5 / HOP_S)))
    fr.speech[word], fr.energy_db[word] = True, -25.0
    for cfg in (replace(CFG, hold_rest_run_quantile=1.0), CFG):
        since = {e.t: e.hold_since for e in track_caller_with(agent, fr, cfg)}
        assert since[200.0] == pytest.approx(157.0)
        assert since[206.0] == pytest.approx(200.5, abs=0.3)  # a new hold, found 5 s after the word


def test_the_callers_level_holds_still_over_a_hold_whose_talk_is_skipped():
    # after a 300 s hold the caller's held level has fallen 3 dB a minute from when their words
    # left the frames kept, and talk 20 dB under them under the agent's turns passes the 18 dB gate;
    # with the hold skipped their level held still over it, and the talk stays under the gate
    agent, fr = babble_over_a_hold(300.0, talk_db=-45.0)
    no_hold_tests = dict(voice_hold_quiet_s=0.0, voice_background_margin_db=0.0)
    plain = {e.t: e for e in track_caller_with(agent, fr, replace(UNSKIPPED, **no_hold_tests))}
    skipped = {e.t: e for e in track_caller_with(agent, fr, replace(CFG, **no_hold_tests))}
    answers = 2 * 4.0  # the caller's answers from the hold's end (460 s) to 496 s
    assert plain[496.0].call_speech_s - plain[460.0].call_speech_s > answers + 5.0
    assert skipped[496.0].call_speech_s - skipped[460.0].call_speech_s == pytest.approx(answers, abs=0.05)


def streamed_in_chunks(agent: Frames, caller: Frames, cfg: AnalysisConfig) -> list:
    """The cue events of a call whose legs' frames come 0.37 s at a time, off the hop grid."""
    streamed = CueTracker(cfg, ("agent", "caller"))
    got = []
    for a in range(0, len(caller), 37):
        streamed.add("agent", agent[a:a + 37])
        streamed.add("caller", caller[a:a + 37])
        got.extend(streamed.due())
    return got + streamed.due(final=True)


def track_caller_with(agent: np.ndarray, caller: Frames, cfg: AnalysisConfig) -> list:
    """The cue events of a whole call: the agent's speech mask and the caller's frames."""
    tracker = CueTracker(cfg, ("agent", "caller"))
    tracker.add("agent", frames(agent))
    tracker.add("caller", caller)
    return tracker.due(final=True)


def hum_call(hum_db: float = -32.0) -> tuple[np.ndarray, Frames]:
    """A dialogue over mains hum: the agent asks for 4 s, the caller answers 1.5 s later for 4 s at
    -25 dB. The hum, 7 dB under the caller and steady within 0.2 dB, is on the caller's line all
    the time and sets its noise floor; the detector takes it for speech (it is periodic), so the
    caller's leg is one run of speech through the whole call, with syllables only in the answers."""
    agent, caller = dialogue(turns=12, agent_s=4.0, gap_s=1.5, answer_s=4.0)
    return agent, over_hum(caller, hum_db)


def over_hum(speech: np.ndarray, hum_db: float = -32.0) -> Frames:
    """A leg's frames over mains hum at ``hum_db``, steady within 0.2 dB, which sets the noise floor
    and which the detector takes for speech: one run of speech through the whole call, with
    syllables only where ``speech`` (shape (n,), bool) has them."""
    fr = frames(np.ones(len(speech), dtype=bool))
    hum = ~speech
    fr.energy_db[hum] = hum_db + 0.2 * np.sin(0.3 * np.arange(int(hum.sum())))
    fr.floor_db[:] = hum_db - 0.3
    fr.nucleus[hum] = False
    return fr


def test_mains_hum_at_the_noise_floor_is_not_the_callers_speech():
    agent, fr = hum_call()
    answers = 12 * 4.0
    heard = track_caller_with(agent, fr, CFG)[-1]
    plain = track_caller_with(agent, fr, replace(CFG, voice_hum_floor_db=0.0))[-1]
    # without the test the hum, within every gate's reach of the caller's level, reads as a caller
    # who talks all the time, slowly and quietly
    assert plain.call_speech_s > answers + 60.0
    assert plain.articulation_rate_sps < 3.0
    assert heard.call_speech_s == pytest.approx(answers, abs=0.05)
    assert heard.articulation_rate_sps == pytest.approx(4.0, abs=0.2)
    assert heard.loudness_dbfs == pytest.approx(-25.0, abs=0.1)
    assert heard.pause_ratio == 0.0  # the hum between the answers is no pause of the caller's either


def test_streaming_in_chunks_equals_the_whole_call_over_mains_hum():
    agent, fr = hum_call()
    expected = track_caller_with(agent, fr, CFG)
    assert [repr(e) for e in streamed_in_chunks(frames(agent), fr, CFG)] == [repr(e) for e in expected]


def at_floor(speech: np.ndarray, floor_db: float = -40.5) -> Frames:
    """Frames whose speech stands 0.2 dB over a noise floor of ``floor_db``, without syllables."""
    fr = frames(speech)
    fr.floor_db[:] = floor_db
    fr.energy_db[:] = np.where(speech, floor_db + 0.2, floor_db - 10.0)
    fr.nucleus[:] = False
    return fr


def test_the_hum_test_takes_steady_stretches_at_the_floor_without_a_syllable():
    fr = at_floor(timeline(3.0, [(0.5, 2.5)]))
    assert np.array_equal(floor_hum(fr, 3.0, 0.2, 1.0), fr.speech)
    assert not floor_hum(fr, 0.0, 0.2, 1.0).any()  # any setting at 0 turns the test off
    assert not floor_hum(fr, 3.0, 0.2, 0.0).any()


def test_the_hum_test_keeps_a_syllable_and_speech_that_varies():
    fr = at_floor(timeline(3.0, [(0.5, 2.5)]))
    word = fr.nucleus.copy()
    word[150] = True  # a quiet word at the floor has a syllable
    assert not floor_hum(replace(fr, nucleus=word), 3.0, 0.2, 1.0).any()
    babble = fr.energy_db + np.where(np.arange(len(fr)) % 20 < 10, 2.5, -2.5).astype(np.float32)
    assert not floor_hum(replace(fr, energy_db=babble), 3.0, 0.2, 1.0).any()  # varies by 2.5 dB
    assert not floor_hum(replace(fr, energy_db=fr.energy_db + 4.0), 3.0, 0.2, 1.0).any()  # above the floor


def test_a_short_stretch_at_the_floor_is_hum_only_as_a_run_of_its_own():
    # 0.1 s at the floor: alone between silences it is taken; at the edge of a louder word it is
    # the word's quiet onset and stays
    alone = at_floor(timeline(2.0, [(0.5, 0.6)]))
    assert floor_hum(alone, 3.0, 0.2, 1.0).sum() == 10
    onset = at_floor(timeline(2.0, [(0.5, 1.0)]))
    onset.energy_db[60:100] = -25.0
    assert not floor_hum(onset, 3.0, 0.2, 1.0).any()


def test_the_hum_judged_hop_by_hop_is_the_test_over_each_hops_whole_prefix():
    """Each hop judges only the stretch still open and the frames after it; the verdicts are the
    test's over everything kept up to the hop, at every hop (hops of 1 s and of 0.37 s), and the
    frames trimmed from the front take theirs with them."""
    agent, fr = hum_call()
    fr.energy_db[2000:2600] += np.where(np.arange(600) % 20 < 10, 2.5, -2.5).astype(np.float32)  # babble-like
    fr.speech[3000:3040] = False  # a gap: runs of their own around it
    for hop in (100, 37):
        settled = SettledHum(3.0, 0.2, 1.0)
        for end in range(hop, len(fr) + hop, hop):
            assert np.array_equal(settled.mask(fr[:end]), floor_hum(fr[:end], 3.0, 0.2, 1.0)), end
    assert floor_hum(fr, 3.0, 0.2, 1.0)[:2000].any() and not floor_hum(fr, 3.0, 0.2, 1.0)[2000:2600].any()
    settled = SettledHum(3.0, 0.2, 1.0)
    for end in range(500, len(fr) + 500, 500):
        front = max(0, end - 3000)  # the kept frames: the last 30 s
        assert np.array_equal(settled.mask(fr[front:end]), floor_hum(fr[:end], 3.0, 0.2, 1.0)[front:]), end


def test_the_hum_judged_hop_by_hop_when_the_trim_cuts_the_open_stretch_an_empty_leg_or_the_test_off():
    """Hum longer than the kept frames (no silence for 60 s): the stretch still open is judged
    again over what is kept, as the test over the kept frames judges it; a leg with no frames yet
    has none; with the test off (0) no frame is hum."""
    fr = over_hum(np.zeros(6000, dtype=bool))  # a minute of hum alone: one stretch, never closed
    settled = SettledHum(3.0, 0.2, 1.0)
    assert len(settled.mask(fr[:0])) == 0
    for end in range(37, len(fr), 37):
        front = max(0, end - 3000)
        assert np.array_equal(settled.mask(fr[front:end]), floor_hum(fr[front:end], 3.0, 0.2, 1.0)), end
    assert settled.mask(fr[3000:]).all()
    off = SettledHum(0.0, 0.2, 1.0)
    assert [off.mask(fr[:end]).any() for end in (0, 50, 3000)] == [False] * 3


def answers_with_a_pause(turns: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """The agent asks for 4 s; 1.5 s later the caller answers for 4 s with a pause of 0.6 s in the middle."""
    agent = [(11.0 * k, 11.0 * k + 4.0) for k in range(turns)]
    caller = [(11.0 * k + a, 11.0 * k + b) for k in range(turns) for a, b in ((5.5, 7.2), (7.8, 9.5))]
    return timeline(11.0 * turns, agent), timeline(11.0 * turns, caller)


def test_mains_hum_on_the_agents_line_is_not_the_agents_speech():
    """Hum on the agent's line (a headset's ground loop) is one run of "speech" through the call on
    the agent's leg: without the hum test there, the caller never answers (no latency) and their
    pauses lie under the agent's "speech" (no pauses)."""
    agent, caller = answers_with_a_pause()
    clean = track(agent, caller)[-1]

    def heard(cfg: AnalysisConfig):
        tracker = CueTracker(cfg, ("agent", "caller"))
        tracker.add("agent", over_hum(agent))
        tracker.add("caller", frames(caller))
        return tracker.due(final=True)[-1]

    plain = heard(replace(CFG, voice_hum_floor_db=0.0))
    assert plain.response_latency_s is None and plain.pause_ratio == 0.0
    got = heard(CFG)
    assert clean.response_latency_s == pytest.approx(1.5, abs=0.05) and clean.pause_ratio > 0.1
    assert got.response_latency_s == pytest.approx(clean.response_latency_s)
    assert (got.turn_s, got.speech_s, got.pause_ratio) == (clean.turn_s, clean.speech_s, clean.pause_ratio)


def test_streaming_in_chunks_equals_the_whole_call_over_hum_on_the_agents_line():
    # the agent's turns end 0.07 s before a hop, the caller's answers begin under their last word:
    # at the hop, the hum after the agent's turn is too short to be told from the agent's speech
    agent = timeline(132.0, [(11.0 * k, 11.0 * k + 3.93) for k in range(12)])
    caller = timeline(132.0, [(11.0 * k + 3.9, 11.0 * k + 9.5) for k in range(12)])
    ag, fr = over_hum(agent), frames(caller)
    whole = CueTracker(CFG, ("agent", "caller"))
    whole.add("agent", ag)
    whole.add("caller", fr)
    expected = whole.due(final=True)
    assert [repr(e) for e in streamed_in_chunks(ag, fr, CFG)] == [repr(e) for e in expected]


def test_the_word_cues_of_a_window_that_began_before_the_words_did_are_unknown():
    """Recognizers that joined a call under way (the live daemon's speech model ready mid-call): a
    window that began before the words did has them unknown, not a caller who said fewer words; a
    window that began with them or after has them."""
    from monitor.events import Word, WordsEvent
    tracker = CueTracker(CFG, ("agent", "caller"))
    tracker.words_from(10.0)
    tracker.add_words(WordsEvent(t=12.0, final=True, words=tuple(Word("word", s, s + 0.3, 1.0)
                                                                 for s in np.arange(10.5, 12.0, 0.4))))
    assert tracker.word_cues(5.0, 20.0, turn_s=10.0) == {}
    assert tracker.word_cues(10.0, 20.0, turn_s=6.0) == {"words_per_min": 40.0, "mean_word_gap_s": pytest.approx(0.1),
                                                         "long_word_gaps": 0}
