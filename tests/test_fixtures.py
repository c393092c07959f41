"""The fixture generator (tools/make_fixtures.py) and what it promises about its outputs.

The calls are what the alert tests replay, so their labels must tell the truth about
the audio: these tests measure the audio against the labels, by construction only
(levels, timing, which channel speaks), never with the project's analyzer.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT, fixture_label as label

FIXTURES = ROOT / "audio_fixtures"
CALLS = FIXTURES / "calls"
SPEECH = FIXTURES / "generated" / "speech"
GENERATOR = ROOT / "tools" / "make_fixtures.py"

SCENARIOS = ("normal", "deteriorating", "deteriorating_female", "deteriorating_holdout", "labored_start", "breathy_normal", "slow_talker", "noisy_line", "real_caller")
KINDS = {"slow_speech", "long_pauses", "slow_response", "short_phrases", "breathy_voice", "weak_voice",
         "possible_emergency", "distress_phrase"}
LABEL_KEYS = {"scenario", "description", "files", "sample_rates", "channels", "duration_s", "trouble_onset_s",
              "expected_alerts", "forbidden_alerts", "max_severity", "turns", "generator"}


def run_generator(out: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, str(GENERATOR), str(out), *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def up_to_date() -> dict[str, tuple[float, str]]:
    """Make sure the fixtures exist (quick when they do) and note each file's mtime and hash."""
    run_generator(FIXTURES)
    files = sorted(CALLS.glob("*.wav")) + sorted(CALLS.glob("*.json")) + sorted(SPEECH.glob("*"))
    return {str(p): (p.stat().st_mtime_ns, digest(p)) for p in files}


def call_audio(name: str, rate: int = 16000) -> np.ndarray:
    x, sr = sf.read(CALLS / f"{name}_{rate // 1000}k.wav", dtype="float64")
    assert sr == rate
    return x


def caller_turns(lab: dict) -> list[dict]:
    return [t for t in lab["turns"] if t["speaker"] == "caller"]


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12))


def phrase_audio(x: np.ndarray, turn: dict, channel: int, sr: int = 16000) -> np.ndarray:
    return np.concatenate([x[int(p["start_s"] * sr):int(p["end_s"] * sr), channel] for p in turn["phrases"]])


# ------------------------------------------------------------------ generator behaviour


def test_second_run_skips_everything_and_changes_nothing(up_to_date):
    out = run_generator(FIXTURES)
    assert " 0 file(s) written" in out
    for path, (mtime, sha) in up_to_date.items():
        p = Path(path)
        assert p.stat().st_mtime_ns == mtime, f"{p.name} was rewritten"
        assert digest(p) == sha


def test_generation_is_deterministic(up_to_date, tmp_path):
    """A fresh generation elsewhere gives byte-identical audio and labels."""
    run_generator(tmp_path, "--only", "breathy_normal")
    for name in ("breathy_normal_16k.wav", "breathy_normal_8k.wav", "breathy_normal.json"):
        assert digest(tmp_path / "calls" / name) == digest(CALLS / name), name


def test_unknown_item_is_a_clear_error(tmp_path):
    done = subprocess.run([sys.executable, str(GENERATOR), str(tmp_path), "--only", "no_such_call"],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "no_such_call" in done.stderr and "Traceback" not in done.stderr


def test_project_voice_variants_are_committed_files():
    for name in ("cmbreathy", "cmlabored", "cmnormalf", "cmbreathyf", "cmlaboredf"):
        text = (FIXTURES / "espeak" / name).read_text()
        assert "language variant" in text and f"name {name}" in text
    assert (FIXTURES / "generated" / "espeak-ng-data" / "voices" / "!v" / "cmbreathy").is_file()


def test_degraded_callers_speak_with_the_evaluation_corpus_voices():
    """The fixture calls' breathy and labored callers are their variant with voices.json's phonation
    lines (voiced and breathy), not the project's cmbreathy / cmlabored variants (a whisper)."""
    voices = FIXTURES / "generated" / "espeak-ng-data" / "voices" / "!v"
    for name in ("ev_none_breathy", "ev_none_labored", "ev_cmnormalf_breathy", "ev_cmnormalf_labored"):
        assert "voicing 100" in (voices / name).read_text().splitlines()
    degraded = [t["voice"] for name in ("deteriorating", "deteriorating_female", "labored_start", "breathy_normal")
                for t in caller_turns(label(name)) if t["voice"].endswith(("_breathy", "_labored"))]
    assert degraded and all("+ev_" in v for v in degraded)


# ------------------------------------------------------------------ call files and labels


@pytest.mark.parametrize("name", SCENARIOS)
def test_call_files_are_stereo_16k_and_8k_with_a_complete_label(up_to_date, name):
    lab = label(name)
    assert LABEL_KEYS <= set(lab)
    assert lab["scenario"] == name
    assert lab["sample_rates"] == [16000, 8000]
    assert lab["channels"]["agent"] == 0 and lab["channels"]["caller"] == 1
    assert set(lab["expected_alerts"]) <= KINDS and set(lab["forbidden_alerts"]) <= KINDS
    assert not set(lab["expected_alerts"]) & set(lab["forbidden_alerts"])
    assert lab["max_severity"] in ("none", "warning", "critical")
    assert 150 <= lab["duration_s"] <= 240, "calls last 2.5 to 4 minutes"
    for rate in (16000, 8000):
        info = sf.info(CALLS / f"{name}_{rate // 1000}k.wav")
        assert (info.samplerate, info.channels, info.subtype) == (rate, 2, "PCM_16")
        assert info.duration == pytest.approx(lab["duration_s"], abs=0.01)
    x = call_audio(name)
    assert np.abs(x).max() < 0.95, "nothing clips"


@pytest.mark.parametrize("name", SCENARIOS)
def test_turns_alternate_with_realistic_gaps(name):
    lab = label(name)
    turns = [t for t in lab["turns"] if not t["backchannel"]]
    assert turns[0]["speaker"] == "agent"
    assert all(a["speaker"] != b["speaker"] for a, b in zip(turns, turns[1:]))
    assert all(b["start_s"] > a["end_s"] for a, b in zip(turns, turns[1:])), "no overlap between turns"
    for t in turns:
        assert t["text"] and t["phrases"] and t["end_s"] <= lab["duration_s"]
        assert t["phrases"][0]["start_s"] == pytest.approx(t["start_s"], abs=0.002)
    healthy = [t for t in caller_turns(lab) if t["severity"] == 0]
    assert all(0.3 <= t["response_gap_s"] <= 1.0 for t in healthy)
    assert len(caller_turns(lab)) >= 8
    assert np.median([len(t["phrases"]) for t in caller_turns(lab)]) >= 2, "callers say several sentences"


@pytest.mark.parametrize("name", SCENARIOS)
def test_agent_channel_is_quiet_while_the_caller_speaks(name):
    lab, x = label(name), call_audio(name)
    frame = 320  # 20 ms
    agent_spans = [(p["start_s"], p["end_s"]) for t in lab["turns"] if t["speaker"] == "agent" for p in t["phrases"]]
    quiet = total = 0
    for t in caller_turns(lab):
        for p in t["phrases"]:
            for i in range(int(p["start_s"] * 16000), int(p["end_s"] * 16000) - frame, frame):
                s = i / 16000
                if any(a <= s <= b for a, b in agent_spans):
                    continue  # a labelled backchannel
                total += 1
                quiet += rms_db(x[i:i + frame, 0]) < -50
    assert total > 0 and quiet / total > 0.97
    # and the caller's channel carries the caller: louder during caller phrases than during agent phrases
    caller_in_own = np.mean([rms_db(phrase_audio(x, t, 1)) for t in caller_turns(lab)])
    agent_turns = [t for t in lab["turns"] if t["speaker"] == "agent"]
    caller_in_agent = np.mean([rms_db(phrase_audio(x, t, 1)) for t in agent_turns])
    assert caller_in_own > caller_in_agent + 10


# ------------------------------------------------------------------ scenarios by construction


def test_healthy_calls_have_no_trouble_and_allow_no_alert():
    for name in ("normal", "noisy_line", "real_caller"):
        lab = label(name)
        assert lab["trouble_onset_s"] is None and lab["expected_alerts"] == []
        assert set(lab["forbidden_alerts"]) == KINDS and lab["max_severity"] == "none"
        assert all(t["severity"] == 0 and not t["inhalations"] for t in lab["turns"])
    assert label("normal")["duration_s"] >= 175, "a three-minute healthy call"


@pytest.mark.parametrize("name", ["deteriorating", "deteriorating_female", "deteriorating_holdout"])
def test_deteriorating_call_gets_slower_quieter_and_breathier_after_its_onset(name):
    lab, x = label(name), call_audio(name)
    onset = lab["trouble_onset_s"]
    assert 60 <= onset <= 90
    assert lab["expected_alerts"] == ["possible_emergency"] and lab["max_severity"] == "critical"
    turns = caller_turns(lab)
    before = [t for t in turns if t["start_s"] < onset]
    after = [t for t in turns if t["start_s"] >= onset]
    assert after[0]["start_s"] == onset and after[0]["severity"] > 0
    assert all(t["severity"] == 0 for t in before)
    assert [t["severity"] for t in after] == sorted(t["severity"] for t in after), "progressive"
    early, late = turns[:3], [t for t in turns if t["severity"] >= 0.85]
    assert len(late) >= 3

    def words_per_s(t):  # over the whole turn, pauses included
        return len(t["text"].split()) / (t["end_s"] - t["start_s"])

    assert np.mean([words_per_s(t) for t in late]) < 0.5 * np.mean([words_per_s(t) for t in early])
    assert max(rms_db(phrase_audio(x, t, 1)) for t in late) < min(rms_db(phrase_audio(x, t, 1)) for t in early) - 6
    assert all(t["response_gap_s"] < 1.0 for t in early) and all(2.0 <= t["response_gap_s"] <= 4.0 for t in late)
    assert all(t["rate_wpm"] >= 150 for t in before) and all(t["rate_wpm"] <= 110 for t in late)
    assert all(t["voice"].endswith("_labored") for t in late)
    assert not any(t["voice"].endswith(("_breathy", "_labored")) for t in before)
    pauses = [b["start_s"] - a["end_s"] for t in late for a, b in zip(t["phrases"], t["phrases"][1:])]
    assert min(pauses) >= 0.8 and max(pauses) <= 2.5
    assert not any(t["inhalations"] for t in before) and sum(len(t["inhalations"]) for t in late) >= 6
    assert np.mean([len(p["text"].split()) for t in late for p in t["phrases"]]) <= 4, "short phrases"
    for t in turns:  # each labelled inhalation is audible noise inside the caller's channel, not speech
        for h in t["inhalations"]:
            seg = x[int(h["start_s"] * 16000):int(h["end_s"] * 16000), 1]
            assert -60 < rms_db(seg) < rms_db(phrase_audio(x, t, 1))
            assert not any(p["start_s"] < h["end_s"] and h["start_s"] < p["end_s"] for p in t["phrases"])
    assert any("chest" in d["text"] for d in lab["distress_phrases"])
    assert any("breathe" in d["text"] for d in lab["distress_phrases"])


def test_labored_call_is_labored_from_its_first_word_for_at_least_90_s():
    lab = label("labored_start")
    turns = caller_turns(lab)
    assert lab["trouble_onset_s"] == turns[0]["start_s"]
    assert all(t["severity"] >= 0.8 and t["voice"].endswith("_labored") for t in turns)
    assert sum(t["end_s"] - t["start_s"] for t in turns) >= 90
    assert all(t["response_gap_s"] >= 2.0 for t in turns)
    assert lab["expected_alerts"] == ["possible_emergency"] and lab["max_severity"] == "critical"


def test_breathy_caller_is_otherwise_normal():
    lab = label("breathy_normal")
    # breathy from the first word with nothing else past: a breathy_voice warning is allowed, not expected
    assert lab["expected_alerts"] == [] and lab["max_severity"] == "warning"
    assert "breathy_voice" not in lab["forbidden_alerts"]
    assert "possible_emergency" in lab["forbidden_alerts"] and lab["trouble_onset_s"] is None
    for t in caller_turns(lab):
        assert t["voice"].endswith("_breathy") and t["rate_wpm"] >= 150 and t["gain_db"] == 0
        assert t["response_gap_s"] <= 1.0 and not t["inhalations"]


def test_slow_talker_is_slow_and_steady_from_the_start():
    lab = label("slow_talker")
    assert "possible_emergency" in lab["forbidden_alerts"] and lab["max_severity"] != "critical"
    assert {t["rate_wpm"] for t in caller_turns(lab)} == {115}
    assert all(t["gain_db"] == 0 and "+cm" not in t["voice"] for t in caller_turns(lab))


def test_noisy_line_carries_continuous_noise_at_the_labelled_snr():
    lab, x = label("noisy_line"), call_audio("noisy_line")
    assert 15 <= lab["line"]["snr_db"] <= 20
    speech = np.concatenate([phrase_audio(x, t, 1) for t in caller_turns(lab)])
    agent_only = np.concatenate([phrase_audio(x, t, 1) for t in lab["turns"] if t["speaker"] == "agent"])
    snr = 10 * np.log10(np.mean(speech**2) / np.mean(agent_only**2) - 1)
    assert snr == pytest.approx(lab["line"]["snr_db"], abs=2.5)
    agent_speaks = np.zeros(len(x), bool)
    for t in lab["turns"]:
        if t["speaker"] == "agent":
            agent_speaks[int(t["start_s"] * 16000):int(t["end_s"] * 16000)] = True
    assert rms_db(x[~agent_speaks, 0]) < -55, "the agent's channel carries no line noise"


def test_real_caller_is_cut_from_real_recordings():
    lab = label("real_caller")
    turns = caller_turns(lab)
    assert all(t["source"] == "real" and t["clips"] for t in turns)
    assert all(t["source"] == "espeak-ng" for t in lab["turns"] if t["speaker"] == "agent")
    clips = [c for t in turns for c in t["clips"]]
    assert len(clips) == len(set(clips)) >= 15
    assert sum(t["end_s"] - t["start_s"] for t in turns) >= 90


def test_several_voices_across_the_calls():
    callers = {t["voice"] for n in SCENARIOS for t in caller_turns(label(n)) if t["voice"]}
    agents = {t["voice"] for n in SCENARIOS for t in label(n)["turns"] if t["speaker"] == "agent"}
    assert len({v.split("+")[0] for v in callers}) >= 3 and len(agents) >= 5


# ------------------------------------------------------------------ mono utterances


def test_speech_set_has_rate_and_voice_pairs_on_the_same_text(up_to_date):
    index = json.loads((SPEECH / "index.json").read_text(encoding="utf-8"))["files"]
    for name, entry in index.items():
        info = sf.info(SPEECH / name)
        assert (info.samplerate, info.channels) == (16000, 1)
        assert info.duration == pytest.approx(entry["duration_s"], abs=0.01)
        assert entry["text"] and entry["wpm"] and entry["voice"]
    for voice in ("us", "f"):
        fast, slow = index[f"en_{voice}_s175.wav"], index[f"en_{voice}_s90.wav"]
        assert fast["text"] == slow["text"] and 12 <= fast["duration_s"] <= 20
        assert slow["duration_s"] > 1.6 * fast["duration_s"]
        trio = [index[f"en_{voice}_{kind}_a40.wav"] for kind in ("normal", "breathy", "labored")]
        assert len({e["text"] for e in trio}) == 1 and {e["amplitude"] for e in trio} == {40}
        assert len({e["voice"] for e in trio}) == 3


def test_korean_utterances_for_transcription(up_to_date):
    index = json.loads((SPEECH / "index.json").read_text(encoding="utf-8"))["files"]
    passage, distress = index["ko_passage.wav"], index["ko_distress.wav"]
    assert passage["language"] == distress["language"] == "ko"
    assert 35 <= passage["duration_s"] <= 50 and len(passage["segments"]) >= 6
    gaps = [b["start_s"] - a["end_s"] for a, b in zip(passage["segments"], passage["segments"][1:])]
    assert min(gaps) >= 1.0
    spoken = [s["text"] for s in distress["segments"] if s["distress"]]
    assert "숨을 쉴 수가 없어요." in spoken and "가슴이 아파요." in spoken
    assert not distress["segments"][0]["distress"] and not distress["segments"][-1]["distress"]


def test_a_call_whose_audio_was_cut_short_is_not_up_to_date(tmp_path):
    """A call is skipped only when its audio is whole, whatever its label and stamp say: a file cut
    short (a run killed while it wrote, a full disk) is as long as the label says no more, and is
    made again; so is one whose header is whole and whose samples stop (its last one does not decode)."""
    from tools.make_fixtures import call_up_to_date
    x = np.zeros((16000 * 2, 2), dtype="float32")
    (tmp_path / "c.json").write_text(json.dumps({"duration_s": 2.0, "generator": {"params_sha256": "h"}}))
    (tmp_path / "c.made").write_text("h\n")
    sf.write(tmp_path / "c_16k.wav", x, 16000, subtype="PCM_16")
    sf.write(tmp_path / "c_8k.wav", x[::2], 8000, subtype="PCM_16")
    assert call_up_to_date(tmp_path, "c", "h") and not call_up_to_date(tmp_path, "c", "other")
    whole = (tmp_path / "c_8k.wav").read_bytes()
    (tmp_path / "c_8k.wav").write_bytes(whole[:5000])
    assert not call_up_to_date(tmp_path, "c", "h")
    sf.write(tmp_path / "c_8k.flac", x[::2], 8000, subtype="PCM_16")  # a FLAC's header promises its length
    (tmp_path / "c_8k.wav").write_bytes(whole[:-1000])
    assert not call_up_to_date(tmp_path, "c", "h")


def test_the_calls_readme_describes_every_fixture_call_the_generator_makes():
    names = json.loads((ROOT / "tools" / "fixture_data" / "index.json").read_text())
    names = names.get("calls", names) if isinstance(names, dict) else names
    table = (CALLS / "README.md").read_text()
    assert [n for n in names if f"| `{n}` |" not in table] == []
