"""Call-progress tones (ringback, busy and dial tones) are not the caller's speech.

A softphone plays its ringback into the leg the daemon hears as the caller's, and recorded calls
often begin with it: its seconds must not enter the caller's early-call baseline.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS, call_monitor_here
from monitor.analysis.analyzer import AnalyzerConfig, StreamingAnalyzer, analyze_signal
from monitor.analysis.frame_features import Frames
from monitor.dsp.tones import ToneParams

TONES = {  # (frequencies Hz, seconds on, seconds off): national ringback, busy and dial tones, a DTMF digit
    "ringback_us": ((440.0, 480.0), 2.0, 4.0),
    "ringback_eu": ((425.0,), 1.0, 4.0),
    "ringback_uk": ((400.0, 450.0), 0.4, 0.2),
    "busy_us": ((480.0, 620.0), 0.5, 0.5),
    "dial_us": ((350.0, 440.0), 10.0, 0.0),
    "dtmf_5": ((770.0, 1336.0), 0.1, 0.1),
}
LEAD_S = 8.0
"""Seconds of ringback before the caller answers."""


def tone(freqs: tuple[float, ...], on_s: float, off_s: float, seconds: float, rate: int,
         level: float = 0.1) -> np.ndarray:
    """Sinusoids of ``freqs`` (equal levels, peak ``level``), on ``on_s`` and off ``off_s`` in turn."""
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs) * (level / len(freqs))
    return (x * ((t % (on_s + off_s)) < on_s)).astype(np.float32)


def g711(x: np.ndarray) -> np.ndarray:
    """``x`` through mu-law (G.711) coding and back."""
    mu = 255.0
    code = np.round(np.sign(x) * np.log1p(mu * np.minimum(np.abs(x), 1.0)) / np.log1p(mu) * 127.0) / 127.0
    return (np.sign(code) * np.expm1(np.abs(code) * np.log1p(mu)) / mu).astype(np.float32)


def noisy(x: np.ndarray, snr_db: float = 20.0, seed: int = 0) -> np.ndarray:
    """``x`` with white noise ``snr_db`` under the tone's level."""
    power = float(np.mean(x[x != 0] ** 2))
    noise = np.random.default_rng(seed).normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(x))
    return (x + noise).astype(np.float32)


@pytest.mark.parametrize("rate", (16000, 8000))
@pytest.mark.parametrize("name", sorted(TONES))
@pytest.mark.parametrize("line", ("clean", "g711"))
def test_call_progress_tones_hold_no_speech(name, rate, line):
    x = tone(*TONES[name], 10.0, rate)
    frames = analyze_signal(g711(x) if line == "g711" else x, rate)
    assert frames.speech.sum() == 0 and frames.nucleus.sum() == 0
    # as before the tone test, the sound class alone took the tone for speech
    assert analyze_signal(x, rate, AnalyzerConfig(tones=ToneParams(enabled=False))).speech.mean() > 0.15


@pytest.mark.parametrize("rate", (16000, 8000))
@pytest.mark.parametrize("name", ("ringback_eu", "dial_us", "busy_us"))
def test_tones_under_line_noise_hold_little_speech(name, rate):
    # 20 dB under the tone: the tones whose lines lie far apart keep their frequency to 0.1 %
    frames = analyze_signal(noisy(tone(*TONES[name], 10.0, rate)), rate)
    assert frames.speech.mean() <= 0.02


def test_a_steady_harmonic_voice_is_not_a_tone():
    # a held vowel's harmonics are more than three lines, however steady its F0
    rate = 8000
    t = np.arange(2 * rate) / rate
    x = sum(10 ** (-12 * np.log2(k) / 20) * np.sin(2 * np.pi * 140.0 * k * t) for k in range(1, 25))
    x = (0.3 * x / np.max(np.abs(x))).astype(np.float32)
    assert analyze_signal(x, rate).speech.mean() > 0.9


@pytest.mark.parametrize("rate", (16000, 8000))
def test_streaming_gives_the_whole_signals_tone_decisions(rate):
    x = np.concatenate([tone(*TONES["ringback_us"], 7.0, rate), tone(*TONES["busy_us"], 3.0, rate)])
    whole = analyze_signal(x, rate)
    for chunk_s in (0.02, 0.37, 1.0):
        an = StreamingAnalyzer(rate)
        step = int(chunk_s * rate)
        streamed = Frames.concat([an.feed(x[i:i + step]) for i in range(0, len(x), step)] + [an.flush()])
        assert np.array_equal(streamed.sound, whole.sound)


def _with_lead(call: Path, lead: np.ndarray, out: Path) -> Path:
    """The stereo ``call`` after ``lead`` on the caller's channel (1) and silence on the agent's."""
    y, rate = sf.read(str(call), dtype="float32", always_2d=True)
    head = np.zeros((len(lead), 2), np.float32)
    head[:, 1] = lead
    sf.write(str(out), np.concatenate([head, y]), rate, subtype="PCM_16")
    return out


@pytest.fixture(scope="module")
def replayed_after_ringback(tmp_path_factory) -> dict:
    """The labored fixture call at 8 kHz replayed after 8 s of US ringback on the caller's leg,
    and after 8 s of silence, into one database."""
    tmp = tmp_path_factory.mktemp("ringback")
    call = CALLS / "deteriorating_8k.wav"
    rate = sf.info(str(call)).samplerate
    files = {"ringback": _with_lead(call, tone(*TONES["ringback_us"], LEAD_S, rate), tmp / "ringback.wav"),
             "silence": _with_lead(call, np.zeros(int(LEAD_S * rate), np.float32), tmp / "silence.wav")}
    db = tmp / "events.db"
    done = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", str(db), *map(str, files.values()))
    assert done.returncode == 0, done.stderr
    summaries = {Path(ev["file"]).stem: ev for ev in map(json.loads, done.stdout.splitlines())
                 if ev["type"] == "call_summary"}
    con = sqlite3.connect(db)
    try:
        stored = con.execute("SELECT call_id, t, kind, severity FROM alerts ORDER BY id").fetchall()
    finally:
        con.close()
    return {"summaries": summaries, "stored": stored,
            "ids": {name: summaries[name]["call_id"] for name in files}}


def test_ringback_before_the_answer_leaves_the_callers_baseline_as_silence_does(replayed_after_ringback):
    # Not bit for bit: the tone still raises the leg's recent peak level and noise floor for the
    # seconds after it (trailing windows), which moves a frame at the edge of a word. Measured:
    # 0.01 s of 31.8 s of baseline speech, speech rate 0.13 %, response latency 5 ms; before the
    # tone test the ringback cut the baseline to 28.0 s, moved its articulation rate by 2 % and
    # raised a false possible_emergency 20 s into the call.
    ringback, silence = (replayed_after_ringback["summaries"][k]["baseline"] for k in ("ringback", "silence"))
    assert (ringback["start_t"], ringback["end_t"]) == (silence["start_t"], silence["end_t"])
    assert abs(ringback["speech_s"] - silence["speech_s"]) <= 0.05
    assert ringback["cues"].keys() == silence["cues"].keys()
    for cue, stats in silence["cues"].items():
        assert np.isclose(ringback["cues"][cue]["median"], stats["median"], rtol=0.01, atol=0.01), cue


def test_ringback_before_the_answer_stores_the_alerts_silence_does(replayed_after_ringback):
    stored, ids = replayed_after_ringback["stored"], replayed_after_ringback["ids"]
    by_call = {name: [(t, kind, severity) for cid, t, kind, severity in stored if cid == i] for name, i in ids.items()}
    assert by_call["silence"], "the labored call raises alerts"
    assert by_call["ringback"] == by_call["silence"]
