"""Babble over a hold, on a call made the way the evaluation corpus makes its calls: once the hold
has gone on, its first seconds of background talk are not the caller's speech either."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS, babble_call, call_monitor_here
from monitor.config import load_config
from monitor.events import AlertEvent
from tools import evaluate as ev
from tools.background_talk import gated_frames, label_spans, place_seconds

SEED = 7400
"""A seed the evaluation corpus never holds; the call is a hesitant caller's, 97 s long, with a
23.6 s hold from 37.6 s on."""


@pytest.fixture(scope="module")
def babble_hold_call(tmp_path_factory) -> tuple[ev.Job, dict]:
    """A short hesitant caller's call over babble at 20 dB SNR with a hold, at 16 kHz: its job and
    its label."""
    return babble_call(tmp_path_factory.mktemp("babble_hold"), SEED, "hesitant", 20.0, hold=True)


def test_the_holds_first_seconds_of_babble_are_not_the_callers_once_the_hold_has_gone_on(babble_hold_call):
    job, label = babble_hold_call
    assert [e for e in label["events"] if e["kind"] == "hold"]
    cfg = load_config(None, user_config=False)
    record = ev.replay_file(job, cfg)[1]
    spans = label_spans(label)
    unskipped = replace(cfg.analysis, hold_rest_skip=False)  # the long-hold test alone: the skip takes it all
    plain = place_seconds(gated_frames(record, replace(unskipped, voice_hold_long_s=0.0)), spans)
    long_hold = place_seconds(gated_frames(record, unskipped), spans)  # 15 s by default
    assert plain["hold"] > 2.0  # the hold test keeps the first 10 s of the hold's babble
    assert long_hold["hold"] < plain["hold"] - 1.0  # taken back once the hold has gone on 15 s
    # nothing else moves: the caller's own words, and the talk outside the hold
    assert long_hold["lost"] == plain["lost"]
    assert {k: long_hold[k] for k in ("agent", "gap", "inner")} == {k: plain[k] for k in ("agent", "gap", "inner")}
    # the hold found from the audio and skipped by the cue windows: none of its talk is kept
    assert place_seconds(gated_frames(record, cfg.analysis), spans)["hold"] == 0.0


def test_the_hold_is_found_from_the_audio_from_its_start_until_the_window_no_longer_holds_its_talk(babble_hold_call):
    job, label = babble_hold_call
    [hold] = [(e["start_s"], e["end_s"]) for e in label["events"] if e["kind"] == "hold"]
    cfg = load_config(None, user_config=False)
    quiet, after = cfg.analysis.hold_rest_quiet_s, cfg.analysis.hold_rest_after_s  # 5 s, 10 s by default
    stream = ev.replay_file(job, cfg)[2]
    found = {c.t: c.hold_since for c in stream.cues if c.channel == "caller" and c.hold_since is not None}
    # the babble over the hold does not end it: found once it has lasted quiet s, to after s past its end
    assert min(found) == pytest.approx(hold[0] + quiet, abs=1.0)
    assert max(found) == pytest.approx(hold[1] + after, abs=1.0)
    assert set(found) == set(range(int(min(found)), int(max(found)) + 1))
    # it began when the agent's last words before it ended (a louder burst of babble may restart it)
    assert found[min(found)] == pytest.approx(hold[0], abs=0.2)
    assert all(hold[0] - 0.2 <= since < hold[1] for since in found.values())
    # off, no hop says so
    off = ev.replay_file(job, load_config(None, user_config=False, overrides={"analysis.hold_rest_quiet_s": 0.0}))[2]
    assert all(c.hold_since is None for c in off.cues)


def test_a_call_whose_agent_leg_stays_silent_has_no_hold_though_the_caller_pauses_while_the_agent_talks(tmp_path):
    """A muted microphone: the agent's leg carries only its faint noise the whole call. The caller
    is silent for 5 s and more each time the agent talks, unheard; were those pauses holds, the
    loudness family would rest over more than half the call. With the agent's leg silent so far
    no hold is found."""
    x, rate = sf.read(CALLS / "normal_8k.wav", dtype="float32")
    x[:, 0] = np.random.default_rng(0).normal(0.0, 0.002, len(x))  # about -54 dBFS of noise
    muted = tmp_path / "muted_agent.wav"
    sf.write(muted, x, rate)
    done = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", tmp_path / "e.db", muted)
    assert done.returncode == 0, done.stderr
    cues = [e for e in map(json.loads, done.stdout.splitlines()) if e["type"] == "cues" and e["channel"] == "caller"]
    assert len(cues) > 180
    assert [c["t"] for c in cues if c["hold_since"] is not None] == []


LONG_SEED = 7604
"""A seed the evaluation corpus never holds; a hesitant caller's call, 171 s long, babble 12 dB under
the caller, and a 90 s hold from 41.7 s on."""


@pytest.fixture(scope="module")
def long_hold_call(tmp_path_factory) -> tuple[ev.Job, dict]:
    """:data:`LONG_SEED`'s call at 16 kHz: its job and its label."""
    return babble_call(tmp_path_factory.mktemp("babble_long_hold"), LONG_SEED, "hesitant", 12.0, hold=True,
                       hold_s=90.0)


def test_a_caller_on_a_long_hold_over_babble_does_not_page_the_supervisor(long_hold_call):
    job, label = long_hold_call
    [(start, end)] = [(e["start_s"], e["end_s"]) for e in label["events"] if e["kind"] == "hold"]
    assert end - start == pytest.approx(90.0)
    cfg = load_config(None, user_config=False)
    events, record, _ = ev.replay_file(job, cfg)
    assert not [e for e in events if isinstance(e, AlertEvent) and e.severity == "critical"]
    # the hold's babble read as the caller's speech (a louder instant of it ending the hold) did
    plain = load_config(None, user_config=False, overrides={"analysis.hold_rest_skip": False,
                                                            "analysis.hold_rest_run_quantile": 1.0})
    judged = ev.judge_cues(ev.track_cues(record, plain.analysis), plain)
    [first, *_] = [e.t for e in judged if isinstance(e, AlertEvent) and e.severity == "critical"]
    assert start < first < end
