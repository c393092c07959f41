"""Work a call does not need is not done, and the results stay the same.

* The agent's leg feeds the cue windows only through its speech mask: its analyzer
  (``VOICE_ONLY``) measures what voice activity needs and skips the cepstrum and the nuclei.
* Acoustic-only replay reads the file in larger blocks than replay with transcription; the
  events do not depend on the block length.
* The agent's leg gets a recognizer only when ``transcription.agent`` asks for it.
* The cue tracker measures each response latency once it is settled, not at every hop.
"""
from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT

from monitor.analysis.analyzer import VOICE_ONLY, AnalyzerConfig, StreamingAnalyzer, analyze_signal
from monitor.config import AnalysisConfig, load_config
from monitor.analysis.cue_windows import CueTracker
from monitor.analysis.frame_features import HOP_S, Frames
from monitor.analysis.span_measures import response_latencies
from monitor.pipeline import CallPipeline, run_source
from monitor.capture.sources import FileSource, replay_block_s
from monitor.transcription.setup import TranscriptionSetup

CALL = ROOT / "audio_fixtures" / "calls" / "deteriorating_16k.wav"
VOICE_COLUMNS = ("t", "energy_db", "floor_db", "speech", "voiced", "f0_hz", "hnr_db", "intensity_db", "sound")


@pytest.fixture(scope="module")
def agent_leg() -> tuple[np.ndarray, int]:
    """The first 60 s of a fixture call's agent channel (left)."""
    x, rate = sf.read(str(CALL), dtype="float32", frames=60 * 16000)
    return x[:, 0].copy(), rate


def stream(x: np.ndarray, rate: int, cfg: AnalyzerConfig, chunk_s: float):
    an = StreamingAnalyzer(rate, cfg)
    step = int(chunk_s * rate)
    parts = [an.feed(x[i:i + step]) for i in range(0, len(x), step)] + [an.flush()]
    return {name: np.concatenate([getattr(p, name) for p in parts]) for name in VOICE_COLUMNS + ("cpps_db",)}


def test_voice_only_frames_have_the_full_analyzers_speech_mask_voicing_and_levels(agent_leg):
    x, rate = agent_leg
    full, light = analyze_signal(x, rate), analyze_signal(x, rate, VOICE_ONLY)
    assert full.speech.any() and full.voiced.any()
    for name in VOICE_COLUMNS:
        np.testing.assert_array_equal(getattr(light, name), getattr(full, name), err_msg=name)


def test_voice_only_frames_have_no_cepstral_features_and_no_nuclei(agent_leg):
    x, rate = agent_leg
    light = analyze_signal(x, rate, VOICE_ONLY)
    assert np.isnan(light.cpps_db).all() and np.isnan(light.slope_db_khz).all()
    assert not light.nucleus.any()


@pytest.mark.parametrize("chunk_s", [0.02, 1.0, 7.3])
def test_voice_only_streaming_equals_the_whole_signal(agent_leg, chunk_s):
    x, rate = agent_leg
    whole = analyze_signal(x, rate, VOICE_ONLY)
    streamed = stream(x, rate, VOICE_ONLY, chunk_s)
    for name in VOICE_COLUMNS + ("cpps_db",):
        np.testing.assert_array_equal(streamed[name], getattr(whole, name), err_msg=name)


def test_the_pipeline_analyses_the_caller_fully_and_the_agent_for_its_speech_only():
    cfg = load_config(user_config=False)
    pipe = CallPipeline(cfg, 16000, ("caller", "agent"))
    assert pipe.analyzers["caller"].cfg == AnalyzerConfig()
    assert pipe.analyzers["agent"].cfg.voice_only


def replay_events(block_s: float) -> list[dict]:
    cfg = load_config(user_config=False)
    src = FileSource(CALL, block_s=block_s)
    pipe = CallPipeline(cfg, src.rate, src.legs)
    return [e.to_dict() for e in run_source(pipe, src.chunks(), [])]


def test_acoustic_only_replay_gives_the_same_events_in_10_s_blocks_as_in_2_s_blocks():
    small, large = replay_events(2.0), replay_events(10.0)
    assert any(e["type"] == "alert" for e in small)
    assert large == small


def test_replay_block_length_is_live_sized_in_real_time_and_largest_without_words():
    assert replay_block_s(realtime=True, transcribe=False) == 0.5
    assert replay_block_s(realtime=True, transcribe=True) == 0.5
    assert replay_block_s(realtime=False, transcribe=True) == 2.0
    assert replay_block_s(realtime=False, transcribe=False) == 10.0


def setup_with(agent: bool) -> TranscriptionSetup:
    """A setup without a loaded model: which legs get a recognizer depends only on the flag."""
    return TranscriptionSetup(info=None, model=None, matcher=None, language="ko", agent=agent)


def test_only_the_callers_leg_is_transcribed_by_default():
    cfg = load_config(user_config=False)
    assert cfg.transcription.agent is False
    assert setup_with(cfg.transcription.agent).transcribed_legs(("caller", "agent")) == ("caller",)


def test_transcription_agent_adds_the_agents_leg():
    cfg = load_config(None, {"transcription.agent": True})
    assert setup_with(cfg.transcription.agent).transcribed_legs(("caller", "agent")) == ("caller", "agent")
    assert setup_with(True).transcribed_legs(("caller",)) == ("caller",)


def random_dialogue(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Speech masks of two parties taking turns at random, with overlaps, quick answers (some
    within the 0.25 s gap bridging), long silences and answers later than the 10 s cap."""
    rng = np.random.default_rng(seed)
    n = int(seconds / HOP_S)
    agent, caller = np.zeros(n, bool), np.zeros(n, bool)
    i, who = 0, agent
    while i < n:
        talk = int(rng.uniform(0.1, 6.0) / HOP_S)
        who[i:i + talk] = True
        i += talk + int(rng.choice([rng.uniform(0.0, 0.4), rng.uniform(0.3, 3.0), rng.uniform(8.0, 14.0)]) / HOP_S)
        if rng.random() < 0.1:
            i -= talk // 2  # the next speaker cuts in
        who = caller if who is agent else agent
    return agent, caller


def hand_frames(speech: np.ndarray) -> Frames:
    n = len(speech)
    cols = {f.name: np.zeros(n, dtype=getattr(Frames.empty(), f.name).dtype) for f in fields(Frames)}
    cols.update(t=(np.arange(n) + 0.5) * HOP_S, speech=speech, voiced=speech,
                energy_db=np.where(speech, -25.0, -70.0).astype(np.float32))
    return Frames(**cols)


@pytest.mark.parametrize("seed", range(4))
def test_the_trackers_response_latency_equals_measuring_every_kept_frame_at_every_hop(seed):
    """The tracker keeps settled answers instead of measuring them again; the figure is the
    mean over the caller's last answers within window_max_s, measured over all frames so far."""
    analysis = AnalysisConfig(window_max_s=30.0, latency_turns=3, hop_s=1.0)
    agent, caller = random_dialogue(400.0, seed)
    tracker = CueTracker(analysis, ("caller", "agent"))
    got = []
    step = 137  # frames per batch, out of step with the hops
    for i in range(0, len(agent), step):
        tracker.add("caller", hand_frames(caller)[i:i + step])
        tracker.add("agent", hand_frames(agent)[i:i + step])
        got += [(e.t, e.response_latency_s) for e in tracker.due()]
    me, other = hand_frames(caller), hand_frames(agent)
    expected = []
    for t, _ in got:
        upto = int(np.searchsorted(me.t, t))
        onset, lat = response_latencies(me[:upto], other[:upto])
        recent = lat[onset >= t - analysis.window_max_s][-analysis.latency_turns:]
        expected.append((t, float(np.mean(recent)) if len(recent) else None))
    assert len(got) > 350 and sum(v is not None for _, v in got) > 200
    assert got == expected
