"""A live call whose caller's source gave no input for a while (its sink unloaded, a headset
unplugged): the capture fills that time with silence and marks it as not heard
(``Chunk.unheard``). The analysis takes it for no silence of the caller's: no pause, no slow
answer, and the call goes on against the same baseline once the caller is heard again.

The call is the healthy fixture ``normal`` (no alert of any kind); the gap comes right after the
agent's question at 106.5 s (the caller's baseline froze at 68 s), or over the caller's own words."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS
from monitor.alerts.evidence import evidence_lines
from monitor.capture.sources import Chunk
from monitor.config import load_config
from monitor.pipeline import CallPipeline, run_source, stored_notes

QUESTION_END_S = 106.55
"""The agent's question ends ("... while we're talking."), the caller answers 0.6 s later."""


def _call() -> tuple[np.ndarray, int]:
    """The fixture's legs, caller first (shape (n, 2)), and its rate."""
    x, rate = sf.read(CALLS / "normal_8k.wav", dtype="float32")
    return x[:, [1, 0]], rate


def _gap_after_the_question(gap_s: float) -> tuple[np.ndarray, int, tuple[int, int]]:
    """The call with ``gap_s`` seconds of the caller's leg silent inserted after the agent's question
    (the agent's line quiet meanwhile): its samples, rate and the gap's samples."""
    x, rate = _call()
    at, n = int(QUESTION_END_S * rate), int(gap_s * rate)
    quiet_line = np.resize(x[int(107.2 * rate):int(116.0 * rate), 1], n)  # the agent listening to the caller
    gap = np.stack([np.zeros(n, np.float32), quiet_line], axis=1)
    return np.concatenate([x[:at], gap, x[at:]]), rate, (at, at + n)


def _judged(x: np.ndarray, rate: int, gap: tuple[int, int] | None, chunk_s: float = 0.5):
    """The call fed in ``chunk_s`` chunks, the caller's samples ``gap`` marked as not heard (None:
    heard, a caller silent then): its pipeline and events."""
    step = int(chunk_s * rate)

    def chunks():
        for s in range(0, len(x), step):
            e = min(len(x), s + step)
            inside = gap is not None and gap[0] < e and gap[1] > s
            yield Chunk(s / rate, x[s:e], unheard=((0, max(gap[0], s) - s, min(gap[1], e) - s),) if inside else ())

    pipeline = CallPipeline(load_config(None, user_config=False), rate, ("caller", "agent"))
    return pipeline, run_source(pipeline, chunks(), [])


def _labored_with_a_loss():
    """The first minute of a caller labored from the first word, their source giving no input for
    10 s from 24 s (the softphone's sink unloaded): its events."""
    x, rate = sf.read(CALLS / "labored_start_8k.wav", dtype="float32")
    x = x[:int(60 * rate), [1, 0]]
    at, n = int(24.0 * rate), int(10.0 * rate)
    x = np.concatenate([x[:at], np.zeros((n, 2), np.float32), x[at:]])
    return _judged(x, rate, (at, at + n))[1]


def _alerts(events) -> list[str]:
    return [e.kind for e in events if e.type == "alert"]


@pytest.mark.parametrize("gap_s", [3.0, 6.0])
def test_a_caller_not_heard_after_the_agents_question_is_no_slow_answer(gap_s):
    """The caller's source gives no input for a few seconds right after the agent's question: the
    call raises nothing (the caller may have answered unheard), where the same seconds heard, a
    caller silent, make a slow response."""
    x, rate, gap = _gap_after_the_question(gap_s)
    assert "slow_response" in _alerts(_judged(x, rate, None)[1])
    pipeline, events = _judged(x, rate, gap)
    assert _alerts(events) == []
    latencies = [e.response_latency_s for e in events if e.type == "cues" and e.response_latency_s is not None]
    assert max(latencies) < 1.5, "no answer across the gap has a latency"
    ((a, b),) = pipeline.unheard
    assert (a, b) == (pytest.approx(gap[0] / rate), pytest.approx(gap[1] / rate))


def test_a_caller_not_heard_in_the_middle_of_their_answer_makes_no_pause():
    """The caller's source gives no input for 3 s while they speak: no long pauses, the pause ratio
    as in the rest of the call, where the same seconds heard as silence raise long pauses."""
    x, rate = _call()
    gap = (int(110.0 * rate), int(113.0 * rate))
    x[gap[0]:gap[1], 0] = 0.0
    assert "long_pauses" in _alerts(_judged(x, rate, None)[1])
    _, events = _judged(x, rate, gap)
    assert _alerts(events) == []
    ratios = [e.pause_ratio for e in events if e.type == "cues" and 110.0 <= e.t <= 143.0 and e.pause_ratio]
    assert max(ratios) < 0.25


def test_the_cues_after_a_gap_go_on_against_the_same_baseline():
    """Once the caller is heard again the call goes on with the baseline it had (frozen before the
    gap), every cue judged against it."""
    x, rate = _call()
    before, _ = _judged(x, rate, None)
    x, rate, gap = _gap_after_the_question(6.0)
    after, events = _judged(x, rate, gap)
    assert after.baseline.baseline == before.baseline.baseline
    later = [e for e in events if e.type == "cues" and e.t > gap[1] / rate]
    assert later and all(e.baseline_ready for e in later)
    assert max(e.speech_s for e in later) > 5.0, "the caller is heard again"


def test_a_call_with_a_gap_is_judged_the_same_whatever_its_chunks():
    """The gap split across chunks of 0.5 s or lying inside chunks of 7.3 s: the same cues."""
    x, rate, gap = _gap_after_the_question(6.0)
    small = [e.to_dict() for e in _judged(x, rate, gap, 0.5)[1] if e.type == "cues"]
    large = [e.to_dict() for e in _judged(x, rate, gap, 7.3)[1] if e.type == "cues"]
    assert small == large


def test_no_warning_comes_of_time_the_caller_was_not_heard():
    """A caller labored from the first word; their source gives no input for 10 s from 24 s (the
    softphone's sink unloaded). The cues are those of the caller heard before, unchanged meanwhile:
    a warning whose persistence ran on over that time was raised while nothing of the caller was
    heard ("long pauses ... for 6 s" at 28 s, 2.5 s into the loss; "slow speech ... for 15 s" of which 10
    unheard). Unheard time counts towards no alert: none is raised inside it, and each comes after
    it at least as late as its persistence, counted on the time heard, allows."""
    events = _labored_with_a_loss()
    raised = {e.kind: e.t for e in events if e.type == "alert"}
    assert raised and not [t for t in raised.values() if 24.0 < t <= 34.0], raised
    for e in (e for e in events if e.type == "alert" and e.t > 34.0 and e.severity == "warning"):
        assert e.evidence["since"] <= 24.0 or e.evidence["since"] >= 34.0
        heard_s = e.t - e.evidence["since"] - (10.0 if e.evidence["since"] <= 24.0 else 0.0)
        persist_s = load_config(None, user_config=False).rules.rule(e.kind).persist_s
        assert heard_s >= persist_s - 1e-6, (e.kind, e.t, e.evidence["since"])


def test_a_warning_says_how_much_of_its_time_past_threshold_was_not_heard():
    """A warning whose cue went past its threshold before the loss and is raised after it says the
    time since then and how much of it was not heard, in its message and in its evidence's "when"
    (the call report's and the console's words); one raised before the loss says nothing of it."""
    alerts = [e for e in _labored_with_a_loss() if e.type == "alert"]
    across = [e for e in alerts if e.severity == "warning" and e.evidence["since"] <= 24.0 < 34.0 <= e.t]
    assert across, [(e.kind, e.t, e.evidence["since"]) for e in alerts]
    for e in across:
        held = e.t - e.evidence["since"]
        assert e.evidence["unheard_s"] == pytest.approx(10.0, abs=0.01)
        assert e.message.endswith(f"for {held:.0f} s (10 s of it not heard)") or \
            f"for {held:.0f} s (10 s of it not heard), with " in e.message, e.message
        when = {x.label: x.text for x in evidence_lines(e.evidence)}["when"]
        assert when.endswith("into the call, 10 s of it not heard"), when
    for e in (e for e in alerts if e.t <= 24.0):
        assert "not heard" not in e.message and e.evidence["unheard_s"] == 0.0
        assert "not heard" not in {x.label: x.text for x in evidence_lines(e.evidence)}.get("when", "")


def _agent_missing_from_the_start(missing_s: float, chunk_s: float) -> list[dict]:
    """The first 40 s of the call whose agent's leg was missing (silence, not heard) for its first
    ``missing_s`` seconds (a headset plugged in after the call began), fed in ``chunk_s`` chunks: its cues."""
    x, rate = _call()
    x, n, step = x[:int(40 * rate)].copy(), int(missing_s * rate), int(chunk_s * rate)
    x[:n, 1] = 0.0
    chunks = (Chunk(s / rate, x[s:s + step], unheard=((1, 0, min(step, n - s)),) if s < n else ())
              for s in range(0, len(x), step))
    pipeline = CallPipeline(load_config(None, user_config=False), rate, ("caller", "agent"))
    return [e.to_dict() for e in run_source(pipeline, chunks, []) if e.type == "cues"]


def test_an_agent_leg_missing_from_the_call_s_start_is_judged_the_same_whatever_its_chunks():
    """The agent's leg missing from the start is no time not heard, up to its first sample heard: a
    chunk of 2 s in which it begins takes none of its time before that as the agent's not heard (as
    chunks of 0.25 s, which end there, do not)."""
    assert _agent_missing_from_the_start(9.5, 0.25) == _agent_missing_from_the_start(9.5, 2.0)


def test_the_stored_summary_keeps_each_legs_time_not_heard_but_no_span_that_rounds_to_nothing():
    """The spans of a call's time its caller's leg and its agent's were not heard are kept to the
    tenth of a second, with their sums (``caller_no_input``, ``agent_no_input``), and the caller's holds
    (``caller_on_hold``); a span shorter than that (a capture's first samples, before both legs delivered)
    is none."""
    notes = stored_notes(no_input=[(0.0, 0.004), (13.02, 30.0)], agent_no_input=[(0.0, 0.01), (2.0, 6.64)])
    assert notes == {"caller_no_input": [[13.0, 30.0]], "caller_no_input_s": 17.0,
                     "agent_no_input": [[2.0, 6.6]], "agent_no_input_s": 4.6}
    assert stored_notes(no_input=[(0.0, 0.004)], agent_no_input=[(59.97, 60.0)]) == {}
    assert stored_notes(no_input=[(20.0, 30.0)], on_hold=[(20.04, 29.96), (40.0, 40.03)]) == {
        "caller_no_input": [[20.0, 30.0]], "caller_no_input_s": 10.0, "caller_on_hold": [[20.0, 30.0]]}


def test_alerts_jsonl_gives_each_alerts_call_time_not_heard_of_either_leg_as_its_summary_keeps_it(
        tmp_path, capsys):
    """``alerts --jsonl`` gives, with each alert, the spans of its call the caller's and the agent's legs
    were not heard and their seconds, as the stored summary keeps them (and the report says them): []
    and 0 for a leg heard throughout, null while the call runs (not known yet) and for a call a crash left
    open (closed as interrupted: not known ever, never a leg heard throughout); docs/daemon.md names them."""
    import json
    from conftest import ROOT
    from monitor import cli
    from monitor.delivery.store import Store
    from monitor.events import AlertEvent
    alert = AlertEvent(t=30.0, kind="slow_speech", severity="warning", message="slow", evidence={}, actions=())
    with Store.open(tmp_path / "e.db") as store:
        lost = store.start_call("live:caller=softphone.monitor", 1000.0, agent="alice")
        heard = store.start_call("live:caller=softphone.monitor", 2000.0, agent="alice")
        crashed = store.start_call("live:caller=softphone.monitor", 3000.0, agent="alice")
        for call in (lost, heard, crashed):
            store.add_alert(call, alert, created_at=1000.0 * call + 30)
        store.end_call(lost, 60.0, stored_notes(no_input=[(13.0, 30.0)], agent_no_input=[(2.0, 6.6), (40.0, 41.0)],
                                                on_hold=[(20.0, 30.0)]))
        store.end_call(heard, 60.0, {"ended_by": "hang-up"})
    keys = ("caller_no_input", "caller_no_input_s", "agent_no_input", "agent_no_input_s", "caller_on_hold")

    def listed_by_call() -> list[tuple]:
        assert cli.main(["alerts", "--jsonl", "--db", str(tmp_path / "e.db")]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        return [tuple(r[k] for k in keys) for r in sorted(rows, key=lambda r: r["call_id"])]
    running = listed_by_call()
    assert running == [([[13.0, 30.0]], 17.0, [[2.0, 6.6], [40.0, 41.0]], 5.6, [[20.0, 30.0]]),
                       ([], 0.0, [], 0.0, []), (None, None, None, None, None)]
    with Store.open(tmp_path / "e.db") as store:
        assert store.close_interrupted() == [crashed]  # its daemon gone, the next one closes it
    assert listed_by_call() == running
    listed = (ROOT / "docs" / "daemon.md").read_text(encoding="utf-8").split("Each line gives:", 1)[1].split("###", 1)[0]
    assert all(f"`{k}`" in listed for k in keys)
