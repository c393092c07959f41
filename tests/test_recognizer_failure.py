"""A speech recogniser that fails mid-call: the call goes on acoustically, is closed properly, and
replay and the live daemon say so in one line and go on.

The failure is real: the packaged Korean Vosk model with an endpointing setting Kaldi cannot read
(``--endpoint.silence-phones`` in its ``conf/model.conf``). Vosk loads that model and starts
recognizers with it; Kaldi rejects the setting on the first audio it decodes, so the recognizer's
worker fails and :class:`~monitor.transcription.recognizer.TranscriberError` reaches the pipeline.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import ALERTING_CALL, CALLS, PY, ROOT, wait_for
from monitor.capture.sources import FileSource
from monitor.config import load_config
from monitor.delivery.store import Store
from monitor.pipeline import CallPipeline, run_source
from monitor.transcription.recognizer import Transcriber, TranscriberError
from monitor.transcription.loading import ModelLoading
from monitor.transcription.setup import TranscriptionSetup
from monitor.transcription.vosk_models import packaged_model_dirs, resolve_model

FAILURE = "speech recognition failed"


def edited_model(tmp_path_factory, conf_file: str, setting: str, edited: str) -> Path:
    """A copy of the packaged Korean model (links to its files) with one setting of
    ``conf/<conf_file>`` edited."""
    packaged = packaged_model_dirs(tmp_path_factory.mktemp("models")) / "vosk-model-small-ko"
    folder = tmp_path_factory.mktemp("edited") / "vosk-model-small-ko"
    folder.mkdir()
    for part in packaged.iterdir():
        if part.name != "conf":
            (folder / part.name).symlink_to(part.resolve(), target_is_directory=part.is_dir())
    shutil.copytree(packaged / "conf", folder / "conf")
    conf = folder / "conf" / conf_file
    text = conf.read_text(encoding="utf-8")
    assert setting in text
    conf.write_text(text.replace(setting, edited), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def failing_model(tmp_path_factory) -> Path:
    """The packaged Korean model with an unreadable list of silence phones for endpointing."""
    return edited_model(tmp_path_factory, "model.conf", "--endpoint.silence-phones=1:2:3:4:5:6:7:8:9:10",
                        "--endpoint.silence-phones=1:2:x")


@pytest.fixture(scope="module")
def failing_setup(failing_model) -> TranscriptionSetup:
    """Transcription as replay opens it, with the failing model."""
    setup = TranscriptionSetup.create(load_config(None, user_config=False), str(failing_model))
    assert setup is not None
    return setup


def _warnings(logs: list[tuple[str, str]]) -> list[str]:
    return [msg for level, msg in logs if level == "warning" and FAILURE in msg]


def test_the_model_really_fails_on_speech(failing_setup):
    x, sr = sf.read(ALERTING_CALL, frames=8000 * 5, dtype="float32")
    tr = Transcriber(failing_setup.model, "caller", sr, gate=False, on_full="block")
    tr.feed(0.0, x[:, 1])
    with pytest.raises(TranscriberError, match="caller"):
        tr.wait_idle(timeout=30)


def test_the_call_goes_on_acoustically_and_is_closed_with_its_summary(failing_setup, reference_alerts, tmp_path,
                                                                      monitor_logs):
    cfg = load_config(None, user_config=False)
    src = FileSource(ALERTING_CALL, block_s=2.0)
    with Store.open(tmp_path / "events.db") as store:
        pipeline = CallPipeline(cfg, src.rate, src.legs, store=store, source=str(ALERTING_CALL),
                                **failing_setup.for_call(src.rate, src.legs))
        events = run_source(pipeline, src.chunks(), [])
        call = store.get_call(pipeline.call_id)
    assert [(e.kind, e.t) for e in events if e.type == "alert"] == reference_alerts, \
        "the acoustic alerts come as without transcription"
    assert all(e.words_per_min is None for e in events if e.type == "cues"), "word cues unknown, not zero"
    assert call.ended_at is not None and call.summary["alerts"] == len(reference_alerts)
    warned = _warnings(monitor_logs)
    assert len(warned) == 1 and str(ALERTING_CALL) in warned[0]


def test_aborting_a_call_whose_recognizer_failed_still_closes_it(failing_setup, tmp_path, monitor_logs):
    cfg = load_config(None, user_config=False)
    x, sr = sf.read(ALERTING_CALL, frames=8000 * 5, dtype="float32")
    with Store.open(tmp_path / "events.db") as store:
        pipeline = CallPipeline(cfg, sr, ("agent", "caller"), store=store, source="call.wav",
                                **failing_setup.for_call(sr, ("agent", "caller")))
        failed = pipeline.transcribers["caller"]
        failed.feed(0.0, x[:, 1])
        with pytest.raises(TranscriberError):
            failed.wait_idle(timeout=30)
        assert pipeline.abort() == []
        assert store.get_call(pipeline.call_id).summary == {"aborted": True}
    assert len(_warnings(monitor_logs)) == 1


def test_replay_says_it_in_one_line_per_file_and_goes_on_with_the_next(failing_model, tmp_path):
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 25)
    files = [tmp_path / "first.wav", tmp_path / "second.wav"]
    for f in files:
        sf.write(f, x, sr)
    done = subprocess.run([PY, "-m", "monitor.cli", "replay", "--jsonl", "--model", str(failing_model),
                           "--db", str(tmp_path / "e.db"), *map(str, files)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if FAILURE in line]
    assert len(lines) == 2 and all(str(f) in line for f, line in zip(files, lines)), done.stderr
    summaries = [e for e in map(json.loads, done.stdout.splitlines()) if e["type"] == "call_summary"]
    assert [s["file"] for s in summaries] == list(map(str, files))
    with Store.open(tmp_path / "e.db") as store:
        assert all(c.ended_at is not None and c.summary for c in store.list_calls())


def test_the_daemon_monitors_the_call_without_words_and_keeps_running(failing_model, tmp_path, monitor_logs):
    from monitor.daemon import Daemon

    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 25, dtype="float32")
    gap = np.zeros((8000 * 10, 2), np.float32)
    call = tmp_path / "call.wav"
    sf.write(call, np.concatenate([gap, x, gap]), sr)
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db"), "daemon.call_end_silence_s": 6.0},
                      user_config=False)
    live = TranscriptionSetup.create(cfg, str(failing_model), live=True)
    with Store.open(tmp_path / "e.db") as store:
        daemon = Daemon(cfg, FileSource(call), store, {}, transcription=live)
        assert daemon.run() == 0
        calls = store.list_calls()
    assert daemon.calls == 1
    assert [c.summary.get("aborted") for c in calls] == [None] and calls[0].ended_at is not None
    assert len(_warnings(monitor_logs)) == 1
    assert not [msg for level, msg in monitor_logs if level == "error"]


def test_a_model_vosk_loads_but_cannot_start_a_recognizer_with_is_refused_at_start(tmp_path_factory, tmp_path):
    """Feature sizes the model's network does not fit: Vosk loads the model, and fails only when a
    recognizer starts. That is found when the model is loaded: one line naming it, exit 2."""
    misfit = edited_model(tmp_path_factory, "mfcc.conf", "--num-ceps=40", "--num-ceps=13")
    done = subprocess.run([PY, "-m", "monitor.cli", "replay", "--model", str(misfit), "--db", str(tmp_path / "e.db"),
                           str(CALLS / "normal_8k.wav")], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(misfit) in lines[0] and "cannot start a recognizer" in lines[0], done.stderr


def test_a_transcribed_batch_says_which_calls_it_scored_without_their_words(failing_model, tmp_path):
    """Scored acoustically as replay goes on, but never passed off as transcribed: the row's error,
    one line each, exit 1; and ``--resume`` scores such a call again."""
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20)
    call = tmp_path / "call.wav"
    sf.write(call, x, sr)
    db, out = tmp_path / "batch.db", tmp_path / "table.csv"
    args = ["batch", "--transcribe", "--model", str(failing_model), str(call), "--workers", "1", "--db", str(db),
            "--out", str(out)]
    for run in ("first", "resumed"):
        done = subprocess.run([PY, "-m", "monitor.cli", *args, *(["--resume"] if run == "resumed" else [])],
                              capture_output=True, text=True, cwd=ROOT, timeout=600,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if FAILURE in line]
        assert len(lines) == 1 and str(call) in lines[0] and "scored without its words" in lines[0], done.stderr
        assert "1 scored (1 without their words), 0 already scored, 0 failed" in done.stderr, run
        with open(out, newline="") as fh:
            (row,) = list(csv.DictReader(fh))
        assert row["status"] == "scored" and FAILURE in row["error"] and row["db_call_id"]
    with Store.open(db) as store:
        calls = store.list_calls()
    assert len(calls) == 2 and all(c.ended_at is not None and c.summary for c in calls), "nothing scored is lost"


def test_the_daemon_refuses_such_a_model_in_its_crash_guard_and_its_own_load_starts_no_recognizer(
        tmp_path_factory):
    """The live daemon loads its model twice: in the crash guard's child, which starts a recognizer
    with it (such a model is refused there: one line, acoustic-only), and then in its own process,
    which starts none (the one it freed kept 5-6 MB between calls, research/live_memory): given
    the misfit model, that load loads it."""
    misfit = edited_model(tmp_path_factory, "mfcc.conf", "--num-ceps=40", "--num-ceps=13")
    cfg = load_config(user_config=False)
    info = resolve_model(misfit, None)
    loading = ModelLoading(cfg, info).start()
    assert wait_for(lambda: loading.done, timeout=120)
    setup, off = loading.outcome()
    assert setup is None and off is not None and "cannot start a recognizer" in off and str(misfit) in off
    assert TranscriptionSetup.load(cfg, info, live=True, checked=True).model is not None
