"""`call-monitor batch`: an archive of recorded calls scored on a real Dask LocalCluster.

Every batch here runs the real command on real worker processes (one thread each) over fixture
calls, into a real SQLite file; the per-call table is read back as a user would. Where the test is
of what a batch (or the report of what it scored, or the replay it is compared with) does, writes
and says, the command runs in the test's process (``cli.main``, :func:`conftest.call_monitor_here`), its Dask workers
spawned from there; where the test is of its process (a stop, a kill, its workers counted, its
permissions, a fresh interpreter's imports or Dask configuration, commands at once) it runs in a
process of its own (:func:`cli`, ``Popen``).
"""
from __future__ import annotations

import asyncio
import csv
import fcntl
import html
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import termios
import threading
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pytest
import soundfile as sf

from conftest import (CALLS, FINAL_MDL_CUT, HOLD, kaldi_position_out, PY, ROOT, SPEECH, bare_sqlite_file, call_monitor as cli,
                      call_monitor_here, db_rows, child_processes, fill, holds_open,
                      korean_model, long_recording, made_in, process_alive, scheduler_address, stopped_after, stopped_at,
                      stopped_once_open, wait_for)

from monitor.alerts.meaning import kind_name
from monitor.config import load_config
from monitor.batch.inputs import CallJob, InputError, expand_inputs, unopenable
from monitor.batch.ledger import BatchStore
from monitor.delivery.store import Store
from monitor.files import recording_fingerprint
from monitor.transcription.vosk_models import packaged_model_dirs

ARCHIVE = [CALLS / f"{name}_{rate}.wav" for name, rate in (
    ("normal", "8k"), ("deteriorating", "8k"), ("slow_talker", "8k"), ("labored_start", "8k"),
    ("breathy_normal", "8k"), ("noisy_line", "16k"), ("deteriorating_female", "8k"),
    ("deteriorating_noisy", "8k"), ("real_caller", "8k"), ("deteriorating_holdout", "16k"))]
"""Ten fixture calls (about 32 minutes of audio) with a bad and a missing file: a dozen."""


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def stored_call(db: Path, call_id: int) -> dict:
    """What the store holds of one call, without ids and wall-clock times."""
    (baseline, summary, duration), = db_rows(db, "SELECT baseline, summary, duration_s FROM calls WHERE id = ?",
                                             (call_id,))
    summary = json.loads(summary)
    summary.pop("call_id")
    return {
        "alerts": db_rows(db, "SELECT t, kind, severity, message, evidence, actions FROM alerts "
                              "WHERE call_id = ? ORDER BY id", (call_id,)),
        "clears": db_rows(db, "SELECT t, kind, reason FROM alert_clears WHERE call_id = ? ORDER BY id", (call_id,)),
        "cues": db_rows(db, "SELECT channel, t, cues FROM cue_snapshots WHERE call_id = ? ORDER BY id", (call_id,)),
        "baseline": json.loads(baseline) if baseline else None, "summary": summary,
        "duration_s": round(duration, 3)}


def _contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path, with its bytes; SQLite's -wal and -shm
    files left out (a reader may make and remove them, the database unchanged)."""
    return {f.relative_to(folder).as_posix(): f.read_bytes() for f in sorted(folder.rglob("*"))
            if f.is_file() and not f.name.endswith(("-wal", "-shm"))}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Iterator[dict]:
    """The dozen calls scored once on 2 workers into a database and a CSV table, shared by the
    module's tests and read-only to them: a test that writes (a batch resuming into the database)
    works on its own copy (:func:`own_copy`). Its files are checked unchanged once the module is done,
    so that no test's outcome depends on which ran before it."""
    tmp = tmp_path_factory.mktemp("batch")
    bad = tmp / "garbled.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    missing = tmp / "gone.wav"
    db, out = tmp / "events.db", tmp / "summary.csv"
    done = call_monitor_here("batch", *map(str, ARCHIVE[:5]), str(bad), *map(str, ARCHIVE[5:]), str(missing),
                    "--workers", "2", "--db", str(db), "--out", str(out))
    written = _contents(tmp)
    yield {"done": done, "db": db, "out": out, "rows": read_csv(out) if out.exists() else [],
           "bad": bad, "missing": missing, "tmp": tmp}
    assert _contents(tmp) == written, "a test wrote into the shared archive: give it its own copy (own_copy)"


def own_copy(archive: dict, tmp_path: Path) -> Path:
    """A copy of the shared archive's database in ``tmp_path``, for a test that writes into it."""
    db = tmp_path / archive["db"].name
    for f in archive["db"].parent.glob(archive["db"].name + "*"):  # its -wal, if any, with it
        shutil.copy2(f, tmp_path / f.name)
    return db


def test_every_call_gets_one_row_in_the_order_given(archive):
    rows = archive["rows"]
    assert [r["path"] for r in rows] == ([str(p) for p in ARCHIVE[:5]] + [str(archive["bad"])]
                                         + [str(p) for p in ARCHIVE[5:]] + [str(archive["missing"])])
    scored = [r for r in rows if r["status"] == "scored"]
    assert len(scored) == 10
    for r in scored:
        assert r["error"] == "" and float(r["duration_s"]) > 150 and r["channels"] == "2"
        assert r["legs"] == "caller+agent" and r["db_call_id"]


def test_the_batchs_last_line_counts_the_flagged_calls_and_says_where_the_calls_and_the_table_went(archive):
    """The line a batch ends with is what an analyst reads first: besides the calls scored and
    failed, how many raised an alert and how many a critical one (as the table counts them), the
    database the calls are stored in and the table written."""
    rows, last = archive["rows"], archive["done"].stderr.splitlines()[-1]
    flagged = sum(int(r["alerts"] or 0) > 0 for r in rows)
    critical = sum(int(r["critical_alerts"] or 0) > 0 for r in rows)
    assert 0 < critical <= flagged < 10
    assert last.startswith(f"call-monitor: 10 scored, 0 already scored, 2 failed; {flagged} flagged ({critical} "
                           "with a critical alert); ")
    assert last.endswith(f"; calls stored in {archive['db']}; table: {archive['out']}")


def test_bad_and_missing_files_are_rows_with_their_error_and_the_batch_goes_on(archive):
    done, rows = archive["done"], {r["path"]: r for r in archive["rows"]}
    assert done.returncode == 1
    bad, missing = rows[str(archive["bad"])], rows[str(archive["missing"])]
    assert bad["status"] == "failed" and str(archive["bad"]) in bad["error"]
    assert missing["status"] == "failed" and "no such file" in missing["error"]
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 2 and all(str(archive["tmp"]) in line for line in errors)
    assert "Traceback" not in done.stderr
    assert "10 scored, 0 already scored, 2 failed" in done.stderr
    assert not db_rows(archive["db"], "SELECT id FROM calls WHERE source IN (?, ?)",
                       (str(archive["bad"]), str(archive["missing"])))


def test_the_table_counts_alerts_per_kind_with_first_warning_and_critical(archive):
    rows = {Path(r["path"]).name: r for r in archive["rows"] if r["status"] == "scored"}
    for name, r in rows.items():
        alerts = db_rows(archive["db"], "SELECT kind, severity, t FROM alerts WHERE call_id = ?",
                         (int(r["db_call_id"]),))
        assert int(r["alerts"]) == len(alerts)
        kinds = [k for k in r if k.startswith("alerts_")]
        assert sum(int(r[k]) for k in kinds) == len(alerts), name
        for kind, _, _ in alerts:
            assert int(r[f"alerts_{kind}"]) >= 1
        crit = [t for _, sev, t in alerts if sev == "critical"]
        assert (float(r["first_critical_s"]) if r["first_critical_s"] else None) == (min(crit) if crit else None)
    assert int(rows["deteriorating_8k.wav"]["alerts_possible_emergency"]) >= 1
    assert rows["normal_8k.wav"]["alerts"] == "0"


def test_the_table_holds_the_baseline_and_median_of_each_cue(archive):
    r = next(r for r in archive["rows"] if r["path"].endswith("deteriorating_8k.wav"))
    stored = json.loads(db_rows(archive["db"], "SELECT baseline FROM calls WHERE id = ?",
                                (int(r["db_call_id"]),))[0][0])
    assert float(r["baseline_speech_rate_sps"]) == pytest.approx(stored["cues"]["speech_rate_sps"]["median"], abs=1e-4)
    # the caller slows down after the baseline: the call's median rate is below the baseline
    assert float(r["median_speech_rate_sps"]) < float(r["baseline_speech_rate_sps"])
    assert 0 < float(r["median_pause_ratio"]) < 1


def test_alerts_and_everything_stored_equal_what_replay_stores(archive, tmp_path):
    """Each call is stored exactly as `replay --no-transcribe` stores it: alerts at the same times
    with the same evidence, clears, cue snapshots, baseline and summary."""
    files = [str(p) for p in ARCHIVE[:4]] + [str(ARCHIVE[5])]
    db = tmp_path / "replay.db"
    done = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", db, *files)
    assert done.returncode == 0, done.stderr
    replayed = {src: cid for cid, src in db_rows(db, "SELECT id, source FROM calls")}
    batch = {r["path"]: int(r["db_call_id"]) for r in archive["rows"] if r["status"] == "scored"}
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    printed_alerts = [(e["t"], e["kind"]) for e in printed if e["type"] == "alert"]
    n_alerts = 0
    for f in files:
        ours, theirs = stored_call(archive["db"], batch[f]), stored_call(db, replayed[f])
        assert ours == theirs, f
        assert ours["summary"]["recording_fingerprint"] == recording_fingerprint(f)  # what its report checks
        n_alerts += len(ours["alerts"])
    assert n_alerts == len(printed_alerts) > 0


def test_each_stored_call_keeps_the_channel_of_each_leg_as_replay_does(tmp_path):
    """The recording's channel of each leg goes with the stored call (its report reads the legs
    from there) and with its row of the table: the channels asked for a stereo file, channel 0
    alone for a mono one (no agent leg: -1), whatever was asked."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    stereo, mono = tmp_path / "caller_left.wav", tmp_path / "caller_only.wav"
    sf.write(stereo, x[:, [1, 0]], rate)
    sf.write(mono, x[:, 1], rate)
    db = tmp_path / "events.db"
    done = call_monitor_here("batch", stereo, mono, "--caller-channel", "0", "--agent-channel", "1", "--workers", "1",
                    "--db", db, "--out", tmp_path / "summary.csv")
    assert done.returncode == 0, done.stderr
    assert f"call-monitor: warning: {mono}: has 1 channel(s), channel 1 asked for the agent: a mono recording is the " \
           "caller alone, read from its one channel" in done.stderr.splitlines()
    stored = {src: json.loads(ch) for src, ch in db_rows(db, "SELECT source, channels FROM calls")}
    assert stored == {str(stereo): {"caller": 0, "agent": 1}, str(mono): {"caller": 0}}
    with open(tmp_path / "summary.csv", newline="") as f:
        rows = {r["path"]: (r["caller_channel"], r["agent_channel"], r["legs"]) for r in csv.DictReader(f)}
    assert rows == {str(stereo): ("0", "1", "caller+agent"), str(mono): ("0", "-1", "caller")}


@pytest.fixture(scope="module")
def samples_batch(tmp_path_factory) -> dict:
    """Three cuts of a fixture call scored by one batch on 1 worker, read-only to the tests: 30 s as
    recorded (``heard.wav``, a clean call), the same with its caller leg silent
    (``silent_caller.wav``), and 20 s of it clipped flat inside its full scale (``clipped.wav``)."""
    tmp = tmp_path_factory.mktemp("samples")
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    heard, silent, clipped = tmp / "heard.wav", tmp / "silent_caller.wav", tmp / "clipped.wav"
    sf.write(heard, x, rate)
    sf.write(silent, np.column_stack([x[:, 0], np.zeros(len(x), np.float32)]), rate)
    sf.write(clipped, np.clip(2 * x[:8000 * 20], -0.7, 0.7), rate)
    out = tmp / "summary.csv"
    done = call_monitor_here("batch", heard, silent, clipped, "--workers", "1", "--db", tmp / "events.db", "--out", out)
    return {"done": done, "rows": {Path(r["path"]).name: r for r in read_csv(out)} if out.exists() else {},
            "clipped": clipped}


def test_the_table_says_how_much_caller_speech_was_judged_so_that_a_call_with_none_shows(samples_batch):
    """A stereo call whose caller leg is silent (the caller on the other channel, say) judged nothing:
    its row says 0 s of caller speech rather than reading as a clean call."""
    assert samples_batch["done"].returncode == 0, samples_batch["done"].stderr
    rows = samples_batch["rows"]
    assert float(rows["heard.wav"]["caller_speech_s"]) > 10
    assert float(rows["silent_caller.wav"]["caller_speech_s"]) == 0 and rows["silent_caller.wav"]["alerts"] == "0"


def test_what_was_wrong_with_a_recordings_samples_is_one_warning_line_and_its_rows_problems(samples_batch,
                                                                                           tmp_path):
    """A call clipped flat inside its full scale is still scored; one warning line names the file
    and says it was clipped, in the words of replay and the reports, and its row keeps the same
    phrase; a clean call gets no line and its row says nothing."""
    done, rows, clipped = samples_batch["done"], samples_batch["rows"], samples_batch["clipped"]
    assert done.returncode == 0, done.stderr
    assert rows["heard.wav"]["problems"] == ""  # the clean call
    assert rows["clipped.wav"]["status"] == "scored" and "flat-topped at 0.70" in rows["clipped.wav"]["problems"]
    replayed = call_monitor_here("replay", clipped, "--no-transcribe", "--db", tmp_path / "replayed.db")
    [said] = [line for line in replayed.stderr.splitlines() if line.startswith("call-monitor: warning: ")]
    assert said == f"call-monitor: warning: {clipped}: {rows['clipped.wav']['problems']}"
    assert done.stderr.splitlines()[:-1] == [said]  # then the batch's summary line: none for the clean calls


def test_a_recording_of_more_than_two_channels_is_scored_from_its_legs_channels_with_one_line_saying_so(
        four_channels, tmp_path):
    """As replay: the caller from channel 1 and the agent from 0 unless told, one warning line per
    call naming the file, its channels and those read; a manifest's columns pick others."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text(f"path,caller_channel,agent_channel\n{four_channels.name},3,2\n")
    out = tmp_path / "summary.csv"
    done = call_monitor_here("batch", str(four_channels), str(manifest), "--workers", "1", "--db", str(tmp_path / "e.db"),
                    "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    choose = "--caller-channel N and --agent-channel N, or a manifest's columns of those names, choose others"
    assert sorted(line for line in done.stderr.splitlines() if "warning:" in line) == [
        f"call-monitor: warning: {four_channels}: 4 channels: the caller from channel {c} and the agent from "
        f"channel {a}, the other 2 not read ({choose})" for c, a in ((1, 0), (3, 2))]
    assert [(r["caller_channel"], r["agent_channel"], r["channels"], r["status"]) for r in read_csv(out)] == [
        ("1", "0", "4", "scored"), ("3", "2", "4", "scored")]


def test_the_table_is_also_written_as_parquet(archive, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "summary.parquet"
    db = own_copy(archive, tmp_path)
    done = call_monitor_here("batch", *map(str, ARCHIVE), "--resume", "--workers", "2", "--db", str(db), "--out", str(out))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out).to_pylist()
    csv_rows = {r["path"]: r for r in archive["rows"]}
    assert [r["path"] for r in table] == [str(p) for p in ARCHIVE]
    for r in table:
        assert r["status"] == "already_scored"
        assert r["alerts"] == int(csv_rows[r["path"]]["alerts"])
        assert r["median_speech_rate_sps"] == pytest.approx(float(csv_rows[r["path"]]["median_speech_rate_sps"]))


def _ledger(db: Path) -> list[tuple]:
    try:
        return db_rows(db, "SELECT path, call_id FROM batch_calls")
    except sqlite3.OperationalError:  # not created yet
        return []


def archive_cuts(folder: Path, count: int, seconds: float = 40.0) -> list[str]:
    """The first ``count`` archive calls cut to their first ``seconds``, written to ``folder``: a batch
    long enough to stop part-way, scored in a few seconds."""
    cuts = []
    for path in ARCHIVE[:count]:
        x, rate = sf.read(path, frames=int(sf.info(path).samplerate * seconds), dtype="float32")
        sf.write(folder / path.name, x, rate)
        cuts.append(str(folder / path.name))
    return cuts


def test_a_batch_killed_with_sigkill_resumes_without_losing_or_duplicating_a_call(tmp_path):
    files = archive_cuts(tmp_path, 8)
    db, out = tmp_path / "events.db", tmp_path / "summary.csv"
    args = [PY, "-m", "monitor.cli", "batch", *files, "--workers", "2", "--db", str(db)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(_ledger(db)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the client, its scheduler and its workers, mid-batch
        proc.wait()
    before = _ledger(db)
    assert 2 <= len(before) < len(files), "the batch must be killed part-way"

    done = call_monitor_here("batch", *files, "--workers", "2", "--db", str(db), "--out", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    rows = read_csv(out)
    assert sorted(r["status"] for r in rows) == sorted(["already_scored"] * len(before)
                                                       + ["scored"] * (len(files) - len(before)))
    after = _ledger(db)
    assert sorted(p for p, _ in after) == sorted(files)  # every call once in the ledger
    calls = db_rows(db, "SELECT id, source, summary FROM calls")
    assert sorted(src for _, src, _ in calls) == sorted(files)  # no orphan, no duplicate
    assert all(summary for _, _, summary in calls)
    assert {cid for _, cid in after} == {cid for cid, _, _ in calls}
    assert {int(r["db_call_id"]) for r in rows} == {cid for _, cid in after}


def test_the_workers_load_the_batchs_configuration_whole_with_the_secrets_a_person_is_not_shown():
    """A configuration shared with the console (its agent tokens) scores an archive as any other:
    what the workers load holds the tokens as they are, not as ``call-monitor config`` hides them
    (a configuration with hidden secrets is refused)."""
    from monitor.batch.runner import scoring_config, scoring_toml
    from monitor.config import config_from_toml
    cfg = load_config(overrides={"supervisor.agent_tokens": ["alice:alice-token-0123456789"]}, user_config=False)
    loaded, scored = config_from_toml(scoring_toml(cfg), "batch configuration"), scoring_config(cfg)
    assert (loaded.supervisor, loaded.rules, loaded.analysis) == (scored.supervisor, scored.rules, scored.analysis)


def test_resume_rescores_a_changed_file_or_configuration(tmp_path):
    call = tmp_path / "call.wav"
    first, rate = sf.read(ARCHIVE[0], frames=8000 * 30, dtype="float32")  # 30 s of each call will do
    sf.write(call, first, rate)
    db = tmp_path / "events.db"
    base = ["batch", str(call), "--workers", "2", "--db", str(db), "--resume"]
    assert "1 scored" in call_monitor_here(*base).stderr and "x real time" in call_monitor_here(*base[:-1]).stderr
    again = call_monitor_here(*base).stderr
    assert "1 already scored" in again and "real time" not in again  # nothing scored: no speed to give
    stricter = tmp_path / "stricter.toml"
    stricter.write_text("[rules.slow_speech]\nrelative_change = -0.1\n")
    assert "1 scored" in call_monitor_here(*base, "--config", str(stricter)).stderr
    sf.write(call, sf.read(ARCHIVE[1], frames=8000 * 30, dtype="float32")[0], rate)  # new content at the same path
    assert "1 scored" in call_monitor_here(*base).stderr
    assert len(db_rows(db, "SELECT id FROM batch_calls")) == 3


def test_a_batch_run_again_without_resume_says_the_calls_it_stored_twice(tmp_path):
    """The same batch run again without --resume (to write a table again, say) scores and stores
    every call again, as a second replay would: the calls it held already, from the same recording,
    legs and configuration, are said in one warning line naming the database and --resume, rather
    than left doubled in it unsaid; the first run, and a call scored on other legs, say nothing."""
    call = tmp_path / "call.wav"
    x, rate = sf.read(ARCHIVE[0], frames=8000 * 10, dtype="float32")
    sf.write(call, x, rate)
    db = tmp_path / "events.db"
    base = ["batch", str(call), "--workers", "1", "--db", str(db), "--quiet"]
    first = call_monitor_here(*base)
    assert first.returncode == 0 and "stored twice" not in first.stderr, first.stderr
    other_legs = call_monitor_here(*base, "--agent-channel", "-1")
    assert other_legs.returncode == 0 and "stored twice" not in other_legs.stderr, other_legs.stderr
    again = call_monitor_here(*base)
    assert again.returncode == 0, again.stderr
    assert f"call-monitor: warning: 1 of the calls scored were in {db} already, scored from the same recording, legs " \
        "and configuration, and are now stored twice (alerts and call reports list both); --resume skips such " \
        "calls" in again.stderr.splitlines()
    assert len(db_rows(db, "SELECT id FROM calls")) == 3


def test_a_second_batch_into_a_database_another_batch_is_storing_into_is_refused_in_one_line(tmp_path):
    """Two batches with --resume into one database at once (two terminals, a loop of ``&``): each read
    the ledger as it started, found nothing scored and scored every call, stored twice with no
    warning. The second is refused in one line naming the database, the batch that holds it (its pid)
    and what to do, exit 2, nothing scored; the first stores each call once, and leaves no lock file
    behind; the same command with --resume then skips every call, saying none was stored twice."""
    files = archive_cuts(tmp_path, 8, seconds=120)  # the first busy for seconds after it stored one
    db = tmp_path / "events.db"
    batch = ["batch", *files, "--resume", "--workers", "1", "--db", str(db), "--quiet"]
    first = subprocess.Popen([PY, "-m", "monitor.cli", *batch, "--out", str(tmp_path / "first.csv")], cwd=ROOT,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: _ledger(db) or first.poll() is not None, 300), "the first batch stored no call"
        second = cli(*batch, "--out", tmp_path / "second.csv", timeout=300)
        overlapped = first.poll() is None
        _, said = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, said
    assert overlapped, "the first batch ended before the second did: they did not run at once"
    assert (second.returncode, second.stdout) == (2, ""), second.stderr
    assert second.stderr == (f"call-monitor: error: {db}: another call-monitor batch is storing its calls in it (pid "
                             f"{first.pid}); one batch per database at a time: once it has ended, the same command "
                             "with --resume skips the calls it scored (or give this one another --db)\n")
    assert not (tmp_path / "second.csv").exists()
    assert sorted(source for source, in db_rows(db, "SELECT source FROM calls")) == sorted(files)
    assert sorted(path for path, _ in _ledger(db)) == sorted(files)
    assert not (tmp_path / "events.db.batch.lock").exists()
    again = call_monitor_here(*batch, "--out", tmp_path / "second.csv")
    assert again.returncode == 0 and "stored twice" not in again.stderr, again.stderr
    assert [r["status"] for r in read_csv(tmp_path / "second.csv")] == ["already_scored"] * len(files)


def test_purge_deletes_the_batchs_calls_with_their_ledger_rows_and_resume_scores_them_again(tmp_path):
    """A batch stores into the daemon's database by default, where the retention purges its calls:
    their ledger rows go with them (not a foreign key refusing the purge), so `--resume` no longer
    counts a call whose data is gone as scored."""
    db = tmp_path / "events.db"
    base = ["batch", *archive_cuts(tmp_path, 1, 20), "--workers", "1", "--db", str(db), "--resume", "--quiet"]
    assert "1 scored" in call_monitor_here(*base).stderr
    purged = call_monitor_here("purge", "--db", str(db), "--older-than", "0s")
    assert purged.returncode == 0, purged.stderr
    assert purged.stderr.startswith("call-monitor: purged 1 call(s)")
    assert "(1 scored by batch, which --resume scores again)" in purged.stderr
    assert db_rows(db, "SELECT id FROM calls") == db_rows(db, "SELECT id FROM batch_calls") == []
    assert "1 scored, 0 already scored" in call_monitor_here(*base).stderr


@pytest.fixture(scope="module")
def mono_scored(tmp_path_factory) -> dict:
    """A folder holding one mono recording (20 s of a fixture call's caller), scored once by a
    batch into a database and a table; read-only to the tests, each of which resumes into its own
    copy of the database (:func:`mono_db`)."""
    tmp = tmp_path_factory.mktemp("mono")
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    (tmp / "calls").mkdir()
    recording = tmp / "calls" / "mono.wav"
    sf.write(recording, x[:, 1], rate)
    db, table = tmp / "events.db", tmp / "first.csv"
    done = call_monitor_here("batch", recording.parent, "--workers", "1", "--quiet", "--db", db, "--out", table)
    assert done.returncode == 0, done.stderr
    return {"recording": recording, "db": db, "table": table}


def mono_db(mono_scored: dict, tmp_path: Path) -> Path:
    """A copy, in ``tmp_path``, of the database the mono recording was scored into."""
    for f in mono_scored["db"].parent.glob(mono_scored["db"].name + "*"):  # its -wal, if any, with it
        shutil.copy2(f, tmp_path / f.name)
    return tmp_path / mono_scored["db"].name


def _ledger_legs(db: Path) -> list[tuple[int, int]]:
    return db_rows(db, "SELECT caller_channel, agent_channel FROM batch_calls ORDER BY id")


def test_resume_from_its_own_table_finds_a_mono_recording_already_scored(mono_scored, tmp_path):
    """The table's first columns read as a manifest: given back with --resume, a mono recording
    (scored on channel 0 alone, whatever legs were asked) is already scored, not a second call."""
    db, again = mono_db(mono_scored, tmp_path), tmp_path / "again.csv"
    resumed = call_monitor_here("batch", mono_scored["table"], "--workers", "1", "--quiet", "--db", db, "--out", again,
                       "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "0 scored, 1 already scored" in resumed.stderr
    assert " worker(s)" not in resumed.stderr  # no worker scored a call
    assert len(db_rows(db, "SELECT id FROM calls")) == 1
    assert _ledger_legs(db) == [(0, -1)]
    [row] = read_csv(again)
    assert (row["status"], row["caller_channel"], row["agent_channel"]) == ("already_scored", "0", "-1")


def test_a_ledger_row_an_earlier_release_keyed_on_the_legs_asked_is_still_found(mono_scored, tmp_path):
    """Earlier releases keyed a mono recording's ledger row on the legs asked (caller 1, agent 0 by
    default): a batch opening such a ledger moves the row to the legs scored, and --resume finds it."""
    db = mono_db(mono_scored, tmp_path)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE batch_calls SET caller_channel = 1, agent_channel = 0")  # as they wrote it
    conn.close()
    resumed = call_monitor_here("batch", mono_scored["recording"], "--workers", "1", "--quiet", "--db", db, "--resume")
    assert resumed.returncode == 0 and "0 scored, 1 already scored" in resumed.stderr, resumed.stderr
    assert _ledger_legs(db) == [(0, -1)] and len(db_rows(db, "SELECT id FROM calls")) == 1


@pytest.fixture(scope="module")
def held_batch(tmp_path_factory, hold_music_call) -> dict:
    """A manifest's two calls scored once by a batch on 1 worker, read-only to the tests (one that
    resumes works on its own copy of the database): the healthy call with hold music on its
    caller's leg (:func:`hold_music_call`), its ``hold`` ``1:40-2:25; 9:00-9:30`` (the second after
    its end), and 20 s of a fixture call with no hold."""
    tmp = tmp_path_factory.mktemp("held")
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    sf.write(tmp / "short.wav", x, rate)
    manifest = tmp / "calls.csv"
    manifest.write_text(f'path,hold\n{hold_music_call},"1:40-2:25; 9:00-9:30"\nshort.wav,\n')
    db, out = tmp / "events.db", tmp / "summary.csv"
    done = call_monitor_here("batch", manifest, "--workers", "1", "--db", db, "--out", out)
    return {"done": done, "db": db, "manifest": manifest, "short": tmp / "short.wav",
            "rows": {Path(r["path"]).name: r for r in read_csv(out)} if out.exists() else {}}


def test_a_manifests_hold_scores_its_call_as_replay_hold_replays_it(held_batch, hold_music_call, tmp_path):
    """A manifest's ``hold`` column gives a call's holds as ``replay --hold`` gives them: the hold
    music is not judged as the caller (no false critical), and the call is stored as replay stores
    it, its hold kept (``caller_on_hold``); the table's ``hold`` column says the holds it was scored
    with. A hold that begins after the recording's end is said in one warning line as replay says
    it, naming the manifest's row."""
    done, rows = held_batch["done"], held_batch["rows"]
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "warning" in line] == [
        f"call-monitor: warning: {hold_music_call}: hold 9:00-9:30 begins after the recording's end (2:55): not "
        f"applied (listed on {held_batch['manifest']} line 2)"]
    held = rows["hold_music.wav"]
    assert (held["hold"], held["alerts"], rows["short.wav"]["hold"]) == ("1:40-2:25; 9:00-9:30", "0", "")
    db = tmp_path / "replay.db"
    replayed = call_monitor_here("replay", hold_music_call, "--no-transcribe", "--db", db, "--hold", "1:40-2:25",
                                 "--hold", "9:00-9:30")
    assert replayed.returncode == 0, replayed.stderr
    [(call_id,)] = db_rows(db, "SELECT id FROM calls")
    ours = stored_call(held_batch["db"], int(held["db_call_id"]))
    assert ours == stored_call(db, call_id)
    assert ours["summary"]["caller_on_hold"] == [list(HOLD)] and ours["alerts"] == []


def test_resume_scores_again_a_call_whose_holds_changed_not_one_whose_holds_are_the_same(held_batch, hold_music_call,
                                                                                         tmp_path):
    """The ledger keys a call on its holds: the manifest given again with a hold added to the call
    that had none scores that call again (what it raises depends on them), while the call whose
    holds are the same, written otherwise (seconds, a space between them), is already scored."""
    db = tmp_path / "events.db"
    for f in held_batch["db"].parent.glob(held_batch["db"].name + "*"):  # its -wal, if any, with it
        shutil.copy2(f, tmp_path / f.name)
    manifest = tmp_path / "calls.csv"
    manifest.write_text(f"path,hold\n{hold_music_call},100-145 540-570\n{held_batch['short']},0:05-0:10\n")
    done = call_monitor_here("batch", manifest, "--workers", "1", "--quiet", "--db", db, "--resume")
    assert done.returncode == 0 and "1 scored, 1 already scored" in done.stderr, done.stderr
    assert db_rows(db, "SELECT holds FROM batch_calls WHERE path = ? ORDER BY id", (str(held_batch["short"]),)) == [
        ("",), ("0:05-0:10",)]
    [(summary,)] = db_rows(db, "SELECT summary FROM calls WHERE source = ? ORDER BY id DESC LIMIT 1",
                           (str(held_batch["short"]),))
    assert json.loads(summary)["caller_on_hold"] == [[5.0, 10.0]]


LEDGER_BEFORE_HOLDS = """
CREATE TABLE batch_calls (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, caller_channel INTEGER NOT NULL, agent_channel INTEGER NOT NULL,
    content_hash TEXT NOT NULL, config_hash TEXT NOT NULL, call_id INTEGER NOT NULL REFERENCES calls(id),
    row TEXT NOT NULL, scored_at REAL NOT NULL, agent_path TEXT NOT NULL DEFAULT '',
    UNIQUE (path, agent_path, caller_channel, agent_channel, content_hash, config_hash))
"""
"""The ledger as releases before a manifest's holds made it: keyed without ``holds``."""


def test_a_ledger_row_written_before_holds_were_kept_is_found_for_its_call_without_holds(tmp_path):
    """Opened by this release, a ledger made without ``holds`` has the column, its rows kept as
    calls with no hold: such a call given again without holds is found already scored by
    ``--resume``; given with a hold, it is another call, scored."""
    db = tmp_path / "events.db"
    store = Store.open(db)
    call = store.start_call("/calls/a.wav")
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute(LEDGER_BEFORE_HOLDS)
        conn.execute("INSERT INTO batch_calls (path, caller_channel, agent_channel, content_hash, config_hash, "
                     "call_id, row, scored_at) VALUES ('/calls/a.wav', 1, 0, 'h', 'c', ?, '{\"channels\": 2}', 1.0)",
                     (call,))
    conn.close()
    with BatchStore.open(db) as ledger:
        assert ledger.known_hashes(CallJob("/calls/a.wav"), "c") == {(1, 0): "h"}
        assert ledger.scored_row(CallJob("/calls/a.wav"), 2, "h", "c") == {"channels": 2}
        assert ledger.known_hashes(CallJob("/calls/a.wav", holds=((100.0, 145.0),)), "c") == {}
    assert db_rows(db, "SELECT path, holds, call_id FROM batch_calls") == [("/calls/a.wav", "", call)]


@pytest.mark.parametrize("cell, said", [
    ("2:25-1:40", "hold: '2:25-1:40' ends before it begins"),
    ("abc", "hold: 'abc' is no FROM-TO stretch of the call (as 0:40-1:35)"),
    ("1:40-2:25; 1:75-2:00", "hold '1:40-2:25; 1:75-2:00': '1:75-2:00': FROM and TO are seconds, m:ss or h:mm:ss "
                             "into the call (as 0:40-1:35)"),
    ("1:40-2:25;;5:00-5:30", "hold: '1:40-2:25;;5:00-5:30' has a ';' with no stretch beside it"),
    ("0-1" + "0" * 400, f"hold: '0-1{'0' * 400}': FROM and TO are seconds, m:ss or h:mm:ss into the call (as 0:40-1:35)")])
def test_a_manifests_hold_that_is_no_stretch_of_the_call_is_one_line_naming_its_row_and_nothing_is_scored(
        tmp_path, cell, said):
    """A ``hold`` cell holding what is no stretch of the call (one that ends before it begins, no
    FROM-TO, a time of 75 s after a colon, a ``;`` beside no stretch, a time too great for any number
    of seconds) stops the batch before anything is scored or stored, in
    one line naming the manifest, the row's line and the cell, as a bad channel does (exit 2)."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text(f'path,hold\n{ARCHIVE[0]},\n{ARCHIVE[1]},"{cell}"\n')
    done = call_monitor_here("batch", manifest, "--db", tmp_path / "e.db", "--out", tmp_path / "s.csv")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [f"call-monitor: error: {manifest} line 3: {said}"]
    assert not (tmp_path / "e.db").exists() and not (tmp_path / "s.csv").exists()


def test_resume_scores_a_stereo_recording_again_on_other_legs(tmp_path):
    """A stereo recording scored with its caller on channel 0 and no agent has the ledger key of a
    mono recording's call: asked on the default legs, it is another call, scored."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    stereo, db = tmp_path / "stereo.wav", tmp_path / "events.db"
    sf.write(stereo, x, rate)
    base = ["batch", stereo, "--workers", "1", "--quiet", "--db", db, "--resume"]
    assert "1 scored" in call_monitor_here(*base, "--caller-channel", "0", "--agent-channel", "-1").stderr
    done = call_monitor_here(*base)
    assert done.returncode == 0 and "1 scored, 0 already scored" in done.stderr, done.stderr
    assert _ledger_legs(db) == [(0, -1), (1, 0)]


def test_a_batch_of_nothing_it_can_read_says_each_file_in_one_line_and_nothing_else(tmp_path):
    """Missing, empty and non-audio recordings alone: one error line each and exit 1; no summary
    line, no cluster, no database made, and the table of an earlier batch at --out is kept."""
    missing, empty, junk = tmp_path / "gone.wav", tmp_path / "empty.wav", tmp_path / "junk.wav"
    empty.write_bytes(b"")
    junk.write_bytes(b"not a recording\n" * 100)
    db, out = tmp_path / "e.db", tmp_path / "summary.csv"
    out.write_text("path,status\nyesterday.wav,scored\n")
    done = call_monitor_here("batch", str(missing), str(empty), str(junk), "--workers", "1", "--db", str(db), "--out", str(out))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"call-monitor: error: {missing}: no such file",
                                        f"call-monitor: error: {empty}: empty file (0 bytes)",
                                        f"call-monitor: error: {junk}: not an audio file (format not recognised; "
                                        f"WAV, FLAC, OGG or MP3 expected)"]
    assert not db.exists()
    assert out.read_text() == "path,status\nyesterday.wav,scored\n"


def test_a_named_pipe_or_a_name_not_in_utf8_is_a_row_with_its_error_not_a_wait_for_ever_or_a_crash(tmp_path):
    """A FIFO is not waited on; a Latin-1 name (caf\\xe9.wav), which no UTF-8 table or database holds
    as it is, is one line and a failed row naming it as \\xe9, the table still written."""
    fifo, short = tmp_path / "pipe.wav", tmp_path / "short.wav"
    latin1 = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.wav"))
    os.mkfifo(fifo)
    x, sr = sf.read(ARCHIVE[0], frames=8000 * 10)
    sf.write(short, x, sr)
    latin1.write_bytes(short.read_bytes())
    out = tmp_path / "summary.csv"
    done = cli("batch", str(fifo), str(latin1), str(short), "--workers", "1", "--db", str(tmp_path / "e.db"),
               "--out", str(out), timeout=120)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    shown = f"{tmp_path}/caf\\xe9.wav"
    assert errors == [f"call-monitor: error: {fifo}: is a named pipe (FIFO), not a recording file",
                      f"call-monitor: error: {shown}: its name is not valid UTF-8 (byte 0xe9): rename the file in "
                      "UTF-8 (convmv -f latin1 -t utf8 --notest FILE)"], done.stderr
    assert [(r["path"], r["status"]) for r in read_csv(out)] == [(str(fifo), "failed"), (shown, "failed"),
                                                                 (str(short), "scored")]


def test_a_sub_folder_it_cannot_search_is_named_and_the_rest_is_scored(tmp_path):
    archive = tmp_path / "archive"
    (archive / "locked").mkdir(parents=True)
    x, rate = sf.read(ARCHIVE[0], frames=8000 * 20, dtype="float32")
    sf.write(archive / "call.wav", x, rate)
    os.symlink(ARCHIVE[1], archive / "locked" / "hidden.wav")
    (archive / "locked").chmod(0)
    try:
        out = tmp_path / "summary.csv"
        done = cli("batch", str(archive), "--workers", "1", "--quiet", "--db", str(tmp_path / "e.db"),
                   "--out", str(out), timeout=300, permissions_bind=True)
        named = cli("batch", str(archive / "locked"), "--workers", "1", "--db", str(tmp_path / "e.db"),
                    timeout=120, permissions_bind=True)
    finally:
        (archive / "locked").chmod(0o755)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert errors == [f"call-monitor: error: {archive / 'locked'}: cannot search the folder (permission denied); "
                      f"its recordings are not scored"], done.stderr
    assert [(r["path"], r["status"]) for r in read_csv(out)] == [(str(archive / "call.wav"), "scored")]
    assert named.returncode == 2 and len(named.stderr.strip().splitlines()) == 1, named.stderr
    assert "locked: cannot search the folder (permission denied)" in named.stderr


def test_a_sub_folder_a_recursive_glob_cannot_search_is_named_as_a_folder_inputs_is(tmp_path):
    """``batch '/archive/**/*.wav'`` reaching a folder it may not search says so in the line a
    folder input gives, rather than leaving its recordings out without a word."""
    archive = tmp_path / "archive"
    (archive / "locked").mkdir(parents=True)
    (archive / "call.wav").write_bytes(b"")  # fails its check: no cluster is started
    (archive / "locked" / "hidden.wav").write_bytes(b"")
    (archive / "locked").chmod(0)
    try:
        done = cli("batch", f"{archive}/**/*.wav", "--quiet", "--db", str(tmp_path / "e.db"), timeout=120,
                   permissions_bind=True)
    finally:
        (archive / "locked").chmod(0o755)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"call-monitor: error: {archive / 'locked'}: cannot search the folder (permission denied); "
        "its recordings are not scored",
        f"call-monitor: error: {archive / 'call.wav'}: empty file (0 bytes)"], done.stderr


def test_a_truncated_recording_is_scored_with_a_warning_as_replay_gives(tmp_path):
    """A recording cut short (its header promises more than it holds) is scored on what it holds, as
    replay, analyze and report do, and said as they say it, not only in the table's column."""
    x, rate = sf.read(ARCHIVE[0], frames=8000 * 20, dtype="float32")
    cut = tmp_path / "cut.wav"
    sf.write(cut, x, rate, subtype="PCM_16")
    with open(cut, "r+b") as fh:
        fh.truncate(44 + 2 * 2 * 8000 * 12)  # 12 of its 20 s
    out = tmp_path / "t.csv"
    done = call_monitor_here("batch", str(cut), "--workers", "1", "--quiet", "--db", str(tmp_path / "e.db"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    [row] = read_csv(out)
    assert row["status"] == "scored" and row["truncated"] == "True"
    assert f"call-monitor: warning: {cut}: truncated or damaged, scored the 12.00 s before its audio breaks off" in done.stderr.splitlines()


def test_bad_options_and_inputs_get_one_line_and_exit_2(tmp_path):
    (tmp_path / "tables" / "summary.csv").mkdir(parents=True)
    for args, needle in (
            (["batch", str(tmp_path)], "holds no recording"),
            (["batch", str(tmp_path / "*.wav")], "matches no recording"),
            (["batch", str(ARCHIVE[0]), "--out", str(tmp_path / "s.xlsx")], ".csv or .parquet"),
            (["batch", str(ARCHIVE[0]), "--out", str(tmp_path / "tables" / "summary.csv")],
             "a folder of that name is there"),
            (["batch", str(ARCHIVE[0]), "--workers", "0"], "at least 1"),
            (["batch", str(ARCHIVE[0]), "--db", str(tmp_path / "e.db"), "--out", ""],
             '--out "": an empty path; give a file (summary.csv or summary.parquet), or leave the option out'),
            (["batch", str(ARCHIVE[0]), "--scheduler", "tcp://127.0.0.1:9", "--db", str(tmp_path / "e.db")],
             "cannot reach the Dask scheduler")):
        done = call_monitor_here(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert needle in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr



def test_a_table_it_cannot_write_is_refused_naming_the_cause(tmp_path, read_only_mount):
    """Before anything is scored: one line naming the table and why: no such folder, a read-only
    filesystem (which no permission shows) or a folder it may not write; exit 2, nothing made."""
    shut = tmp_path / "shut"
    shut.mkdir(mode=0o555)
    for folder, why in ((tmp_path / "missing", f"no such folder {tmp_path / 'missing'}"),
                        (read_only_mount, f"{read_only_mount}: a read-only filesystem"),
                        (shut, f"{shut}: permission denied")):
        done = cli("batch", ARCHIVE[0], "--db", tmp_path / "e.db", "--out", folder / "s.csv", timeout=120,
                   permissions_bind=True)
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr == f"call-monitor: error: {folder / 's.csv'}: cannot write the table ({why})\n"
    assert not (tmp_path / "e.db").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="no procfs mounted on /proc")
def test_a_table_where_no_file_can_be_made_whatever_the_permissions_say_is_refused_before_anything_is_scored(
        tmp_path):
    """procfs (/proc) takes no new file, not even root's, whose permissions pass every folder: the
    table there is refused as one a folder's permissions forbid, one line naming why, exit 2, nothing
    scored or stored (the call was scored and stored, then the table failed, exit 1)."""
    done = call_monitor_here("batch", ARCHIVE[0], "--workers", "1", "--db", tmp_path / "e.db", "--out", "/proc/x.csv")
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert re.fullmatch(r"call-monitor: error: /proc/x\.csv: cannot write the table \(/proc: (no such file or "
                        r"directory|permission denied)\)\n", done.stderr), done.stderr
    assert not (tmp_path / "e.db").exists() and not os.path.exists("/proc/x.csv")


def test_a_table_the_disk_has_no_room_for_once_the_calls_are_scored_says_where_they_are_and_resume_writes_it(
        tmp_path, tmpfs):
    """The table's disk fills while the batch scores: the calls are stored all the same, and the one
    line that says the table could not be written says where they are and that the same command with
    --resume writes it, skipping them (it said the disk's error alone, exit 1). Given room, it does."""
    db, out = tmp_path / "e.db", tmpfs / "summary.csv"
    batch = ["batch", ARCHIVE[0], "--workers", "1", "--db", db, "--out", out]
    filler = fill(tmpfs)
    done = call_monitor_here(*batch)
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert done.stderr.splitlines() == [f"call-monitor: error: {out}: cannot write the table (no space left on device): "
                                        f"every call scored is in {db}; the same command with --resume writes it, "
                                        "skipping the calls scored"]
    assert len(_ledger(db)) == 1 and made_in(tmpfs) == [filler.name]
    filler.unlink()
    again = call_monitor_here(*batch, "--resume")
    assert again.returncode == 0, again.stderr
    assert [r["status"] for r in read_csv(out)] == ["already_scored"] and len(_ledger(db)) == 1


def test_a_scheduler_it_cannot_reach_leaves_no_database_made_and_one_made_before_as_it_was(tmp_path):
    """Nothing listens at the address: one line, exit 2, and the database the batch would have stored
    its calls in is not made (it is made once the cluster is reached); one that was there is left
    as it was."""
    from monitor.delivery.store import Store
    new, kept = tmp_path / "new.db", tmp_path / "kept.db"
    with Store.open(kept) as store:
        store.start_call("/archive/scored-before.wav")
    stored = kept.read_bytes()
    with ThreadPoolExecutor(2) as pool:  # both at once
        runs = list(pool.map(lambda db: cli("batch", str(ARCHIVE[0]), "--scheduler", "tcp://127.0.0.1:9", "--db",
                                            str(db), "--quiet", timeout=120), (new, kept)))
    for done in runs:
        assert done.returncode == 2 and "cannot reach the Dask scheduler" in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
    assert not new.exists() and not list(tmp_path.glob("new.db*"))
    assert kept.read_bytes() == stored


def test_a_scheduler_address_where_nothing_listens_is_said_as_refused_without_waiting_for_it(tmp_path):
    """A port nothing listens on (a cluster not started, a mistyped port): its connection refused is
    the one line naming the address and why, exit 2, no database made; the batch does not wait for
    something to start listening there as Dask's client does for its whole timeout."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address, db = f"tcp://127.0.0.1:{port}", tmp_path / "e.db"
    done = call_monitor_here("batch", str(ARCHIVE[0]), "--scheduler", address, "--db", str(db), "--quiet")
    assert done.returncode == 2
    assert done.stderr == (f"call-monitor: error: {address}: cannot reach the Dask scheduler (connection refused: "
                           "nothing listens there)\n")
    assert list(tmp_path.iterdir()) == []


def test_a_tls_scheduler_without_credentials_in_dasks_configuration_is_one_line_and_exit_2(tmp_path):
    """``--scheduler tls://...`` (a cluster started with TLS credentials) while Dask's configuration
    gives the batch's client none of its own: one line naming the address, why and what to set, exit
    2, no database made; not Dask's traceback."""
    address, db = "tls://127.0.0.1:9", tmp_path / "e.db"
    done = call_monitor_here("batch", str(ARCHIVE[0]), "--scheduler", address, "--db", str(db), "--quiet")
    assert done.returncode == 2
    assert done.stderr == (f"call-monitor: error: {address}: cannot reach the Dask scheduler (it speaks TLS, and "
                           "Dask's configuration gives this client no credentials: set distributed.comm.tls.ca-file, "
                           ".client.cert and .client.key, or DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ..._CLIENT__CERT "
                           "and ..._CLIENT__KEY)\n")
    assert list(tmp_path.iterdir()) == []


def test_a_tcp_address_of_a_scheduler_that_speaks_tls_says_to_try_tls(tmp_path):
    """``--scheduler tcp://...`` naming a scheduler started with ``--protocol tls`` (here a real one on
    127.0.0.1 with a self-signed certificate): it resets the plain connection at once, and the one
    line, exit 2, asks whether it listens on ``tls://`` at that address."""
    cert, key = tmp_path / "scheduler.crt", tmp_path / "scheduler.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    info = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([Path(PY).with_name("dask"), "scheduler", "--protocol", "tls", "--host", "127.0.0.1",
                                  "--port", "0", "--dashboard-address", "127.0.0.1:0", "--tls-ca-file", str(cert),
                                  "--tls-cert", str(cert), "--tls-key", str(key), "--scheduler-file", str(info)],
                                 cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
    try:
        assert wait_for(lambda: scheduler_address(info), 60), "the scheduler did not start"
        plain = scheduler_address(info).replace("tls://", "tcp://")
        done = call_monitor_here("batch", str(ARCHIVE[0]), "--scheduler", plain, "--db", str(tmp_path / "e.db"), "--quiet")
    finally:
        os.killpg(scheduler.pid, signal.SIGTERM)
        scheduler.wait(30)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"call-monitor: error: {plain}: cannot reach the Dask scheduler (")
    assert done.stderr.endswith(f"Connection reset by peer; does it listen on {plain.replace('tcp', 'tls')}? one "
                                "that speaks TLS resets a plain connection)\n"), done.stderr
    assert not (tmp_path / "e.db").exists()


@contextmanager
def _listener(answer: bytes | None) -> Iterator[str]:
    """A TCP listener on a free loopback port, as ``tcp://127.0.0.1:PORT``, until the block ends:
    each connection it takes is read once and given ``answer``, then closed (a web server's error to
    bytes that are no request, as a dashboard's port or another service's would give), or with
    None held open and never answered (a process stopped, a service that waits for more)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed: the block ended
                return
            held.append(conn)
            if answer is not None:
                conn.settimeout(10)
                with suppress(OSError):
                    conn.recv(65536)
                    conn.sendall(answer)
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in held:
            conn.close()
        thread.join(10)


@pytest.mark.parametrize("there", ["a Dask scheduler without TLS", "a web server"])
def test_a_tls_address_where_no_tls_is_spoken_says_so_and_asks_whether_it_listens_on_tcp(tmp_path, there):
    """``--scheduler tls://...`` with the client's credentials in Dask's configuration, naming a port
    where no TLS is spoken: a real scheduler started without it (which speaks first, in plain), or a
    web server answering with an HTTP error. One line, exit 2, nothing made, saying that what answers
    there does not speak TLS and asking whether it listens on ``tcp://`` at that address; the web
    server's was the line with nothing between its brackets ("... scheduler ()")."""
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=dask-qa",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    env = dict(os.environ, PYTHONPATH=str(ROOT), DASK_DISTRIBUTED__COMM__TLS__CA_FILE=str(cert),
               DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT=str(cert), DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY=str(key))
    db = tmp_path / "e.db"
    if there == "a web server":
        with _listener(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n") as plain:
            address = plain.replace("tcp://", "tls://")
            done = cli("batch", str(ARCHIVE[0]), "--scheduler", address, "--db", db, "--quiet", env=env, timeout=120)
    else:
        info = tmp_path / "scheduler.json"
        scheduler = subprocess.Popen([Path(PY).with_name("dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                      "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(info)],
                                     cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        try:
            assert wait_for(lambda: scheduler_address(info), 60), "the scheduler did not start"
            plain = scheduler_address(info)
            address = plain.replace("tcp://", "tls://")
            done = cli("batch", str(ARCHIVE[0]), "--scheduler", address, "--db", db, "--quiet", env=env, timeout=120)
        finally:
            os.killpg(scheduler.pid, signal.SIGTERM)
            scheduler.wait(30)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr.startswith(f"call-monitor: error: {address}: cannot reach the Dask scheduler ("), done.stderr
    assert done.stderr.endswith(f": what answers there does not speak TLS; does it listen on {plain}?)\n"), done.stderr
    assert len(done.stderr.splitlines()) == 1 and not list(tmp_path.glob("e.db*"))


def test_a_scheduler_address_where_a_web_server_answers_is_one_line_saying_it_is_not_a_scheduler(tmp_path):
    """A port where a web server answers (an HTTP error to Dask's bytes, as a scheduler's dashboard
    port or another service's given by mistake would): one line naming the address, saying that what
    answers there is not a Dask scheduler and asking whether it is another service's port, exit 2,
    nothing made; not Dask's traceback of a message of exabytes it could not allocate."""
    answer = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    with _listener(answer) as address:
        done = cli("batch", str(ARCHIVE[0]), "--scheduler", address, "--db", tmp_path / "e.db",
                   "--out", tmp_path / "t.csv", timeout=120)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr == (f"call-monitor: error: {address}: cannot reach the Dask scheduler (what answers there is "
                           "not a Dask scheduler; is it another service's port, such as the dashboard's, 8787?)\n")
    assert list(tmp_path.iterdir()) == []


def _http_server(folder: Path) -> subprocess.Popen:
    """Python's own web server (``python -m http.server``) on a free loopback port, serving
    ``folder``; its address said on its first line of stdout."""
    return subprocess.Popen([PY, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def test_a_scheduler_address_that_takes_connections_and_never_answers_is_one_line_within_a_bound(tmp_path):
    """A port that takes the connection and then says nothing, as a web server waiting for a request
    line that never comes (Python's own ``http.server``) or a listener that never answers: the batch
    does not wait for ever (Dask's client waited for its handshake as long as the connection stayed
    open) but says in one line, exit 2, that nothing answered there as a Dask scheduler, within how
    long, and nothing is made. Both run at once; the subprocesses' timeout is a guard, not the bound."""
    served = _http_server(tmp_path)
    try:
        said = served.stdout.readline()
        port = re.search(r"port (\d+)", said)
        assert port, said
        with _listener(None) as silent, ThreadPoolExecutor(2) as pool:
            addresses = [f"tcp://127.0.0.1:{port.group(1)}", silent]
            runs = list(pool.map(lambda n: cli("batch", str(ARCHIVE[0]), "--scheduler", addresses[n], "--db",
                                               tmp_path / f"e{n}.db", "--quiet", timeout=300), range(2)))
    finally:
        served.terminate()
        served.wait(30)
    for address, done in zip(addresses, runs):
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr == (f"call-monitor: error: {address}: cannot reach the Dask scheduler (nothing answered as "
                               "a Dask scheduler within 15 s; is it another service's port, such as the dashboard's, "
                               "8787?)\n")
    assert not list(tmp_path.glob("*.db*"))


@pytest.mark.parametrize("port", ["99999", "0"])
def test_a_scheduler_port_no_tcp_address_has_is_said_so_not_taken_for_another(tmp_path, port):
    """A port outside 1 to 65535 (a typo, one digit too many): one line saying it is out of range,
    exit 2, nothing made; the system took 99999 for 34463 and the batch said nothing listened there."""
    address = f"tcp://127.0.0.1:{port}"
    done = call_monitor_here("batch", str(ARCHIVE[0]), "--scheduler", address, "--db", str(tmp_path / "e.db"), "--quiet")
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr == (f"call-monitor: error: {address}: cannot reach the Dask scheduler (port {port} is out of "
                           "range: a TCP port is 1 to 65535)\n")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_scheduler_is_refused_not_taken_for_a_local_cluster(tmp_path, own_home):
    """`--scheduler "$SCHEDULER"` with SCHEDULER unset meant for the cluster: one line, exit 2, before
    anything is scored; no local cluster started, no database or table made."""
    db, out = tmp_path / "e.db", tmp_path / "t.csv"
    done = call_monitor_here("batch", str(ARCHIVE[0]), "--scheduler", "", "--db", str(db), "--out", str(out), env=own_home)
    assert done.returncode == 2
    assert done.stderr == ('call-monitor: error: --scheduler "": an empty address; give a running Dask scheduler\'s '
                           "(e.g. tcp://HOST:8786), or leave the option out for a local cluster\n")
    assert not db.exists() and not out.exists() and made_in(tmp_path / "home") == ["run"]


@pytest.mark.parametrize("out_is", ["the manifest", "a link to the manifest", "a recording", "the database",
                                    "a link to the database", "the database not made yet"])
def test_the_table_is_never_written_over_an_input_and_nothing_is_scored(tmp_path, out_is):
    """--out naming the manifest the batch reads (by another path too), a recording it scores or the
    database it stores its calls in (made by an earlier batch, or still to be made) is refused in one
    line naming it, before anything is scored: the input and the database are left as they were."""
    from monitor.delivery.store import Store
    (tmp_path / "mf").mkdir()
    manifest = tmp_path / "mf" / "keep.csv"
    text = f"path,caller_channel,notes\n{ARCHIVE[0]},1,my precious notes\n"
    manifest.write_text(text)
    (tmp_path / "mf" / "link.csv").symlink_to("keep.csv")
    recording = tmp_path / "call.parquet"  # a recording named directly is scored whatever its name
    recording.write_bytes(ARCHIVE[0].read_bytes())
    db = tmp_path / ("qa.csv" if out_is in ("the database", "the database not made yet") else "e.db")
    if out_is in ("the database", "a link to the database"):
        with Store.open(db) as store:
            store.start_call("/archive/scored-before.wav")
        (tmp_path / "link.csv").symlink_to(db.name)
    stored = db.read_bytes() if db.exists() else None
    inputs, out, said = {
        "the manifest": ([manifest], manifest, "is the manifest this batch reads,"),
        "a link to the manifest": ([manifest], tmp_path / "mf" / "link.csv",
                                   f"is the manifest this batch reads ({manifest}),"),
        "a recording": ([manifest, recording], recording, "is a recording this batch scores,"),
        "the database": ([manifest], db, "is the database this batch stores its calls in,"),
        "a link to the database": ([manifest], tmp_path / "link.csv",
                                   f"is the database this batch stores its calls in ({db}),"),
        "the database not made yet": ([manifest], db, "is the database this batch stores its calls in,")}[out_is]
    done = call_monitor_here("batch", *inputs, "--workers", "1", "--db", db, "--out", out)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"call-monitor: error: --out {out}: {said} which the table would replace; "
                                        "give --out another file"]
    assert manifest.read_text() == text and recording.read_bytes() == ARCHIVE[0].read_bytes()
    assert (db.read_bytes() if db.exists() else None) == stored


def test_a_database_it_cannot_use_is_one_line_and_exit_2(tmp_path):
    from monitor.delivery.store import Store
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("not a database\n")
    read_only = tmp_path / "read-only.db"
    Store.open(read_only).close()
    read_only.chmod(0o400)
    for db, needle in ((not_a_db, "not a callmonitor database"), (tmp_path, "is a directory"),
                       (read_only, "cannot write the database (permission denied)")):
        done = cli("batch", str(ARCHIVE[0]), "--workers", "1", "--db", str(db), timeout=120, permissions_bind=True)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(f"call-monitor: error: {db}: ")
        assert needle in done.stderr


def test_ctrl_c_stops_the_batch_with_one_line_and_resume_scores_the_rest(tmp_path):
    files = archive_cuts(tmp_path, 6)
    db, out = tmp_path / "events.db", tmp_path / "summary.csv"
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", *files, "--workers", "2", "--db", str(db),
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while not _ledger(db) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole foreground group
    _, err = proc.communicate(timeout=60)
    scored = len(_ledger(db))
    assert proc.returncode == 130 and 1 <= scored < len(files), err
    assert err.splitlines() == [f"call-monitor: error: interrupted: every call scored before it ({scored} of the "
                                f"{len(files)} to score) is in {db}; the same command with --resume scores the rest "
                                f"and writes {out}"]
    done = call_monitor_here("batch", *files, "--workers", "2", "--db", str(db), "--out", str(out), "--resume")
    assert f"{len(files) - scored} scored, {scored} already scored" in done.stderr
    assert len(db_rows(db, "SELECT id FROM calls")) == len(files)


def _sigterm_once(proc: subprocess.Popen, ready, settle_s: float = 0.0) -> tuple[float, str]:
    """Once ``ready()`` holds (or the batch has ended), ``settle_s`` later, SIGTERM to the batch alone:
    the seconds until it exited and its stderr; its whole process group killed if it outlives the test."""
    try:
        assert wait_for(lambda: ready() or proc.poll() is not None, 300, every_s=0.02)
        time.sleep(settle_s)
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        return time.monotonic() - t0, err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _workers_of(pid: int) -> list[int]:
    """The worker processes ``pid`` spawned (multiprocessing's), not its other children: the
    resource tracker is one before any worker is."""
    def spawned(child: int) -> bool:
        try:
            return b"--multiprocessing-fork" in Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            return False
    return [child for child in child_processes(pid) if spawned(child)]


def _has_vosk(pid: int) -> bool:
    """Whether process ``pid`` has Vosk's library loaded: a worker's child that decodes a call's words
    (forked once the worker loaded the speech model), not its other children, as the ``uname -p``
    every Dask worker runs as it joins its scheduler, while the batch's client is still starting."""
    try:
        return "libvosk" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:  # ended as it was looked at
        return False


def _batch_counting_workers(*args: str, **popen: object) -> tuple[int, str, int]:
    """``call-monitor batch ARGS`` run to its end: its exit status, its stderr and the most worker
    processes it had at once (looked at every 20 ms)."""
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **popen)
    most = 0
    while proc.poll() is None:
        most = max(most, len(_workers_of(proc.pid)))
        time.sleep(0.02)
    return proc.returncode, proc.stderr.read(), most


def test_worker_processes_still_there_once_the_local_cluster_closed_are_ended_and_reaped():
    """A worker process that outlives the local cluster's close (one ended at a stop, slow to give
    its memory back on a loaded machine, which Dask's close stops waiting for) is ended and reaped
    while Dask's log lines are still silenced: Dask's own exit handler would reap it, and log that
    it did ("reaping stray process"), after the batch's last line. The batch's other children are
    left as they are."""
    import multiprocessing

    from monitor.batch.runner import _reaped

    context = multiprocessing.get_context("fork")
    worker, other = (context.Process(target=time.sleep, args=(60,), daemon=True) for _ in range(2))
    worker.start()
    other.start()
    try:
        _reaped({worker.pid})
        assert not worker.is_alive() and not process_alive(worker.pid)
        assert other.is_alive()
    finally:
        other.kill()
        other.join()


def test_no_more_workers_start_than_there_are_calls_to_score_and_dasks_port_taken_is_not_said(tmp_path):
    """``-j 1000`` for one recording: one worker process, not a thousand started for nothing. And
    beside another Dask cluster (Dask's default HTTP port taken: another batch, a Dask dashboard),
    the batch's stderr is its own summary line, and nothing of it listens beyond the loopback."""
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        except OSError:  # already taken by another program: the same condition
            pass
        status, err, most = _batch_counting_workers(*archive_cuts(tmp_path, 1, 20), "-j", "1000", "--db",
                                                    str(tmp_path / "e.db"))
    assert status == 0 and most == 1, err  # one worker
    # nothing of Dask said, the port taken or not: the summary line alone
    assert err.splitlines() == [line for line in err.splitlines() if line.startswith("call-monitor: 1 scored")]
    assert "on 1 worker(s)" in err


def test_workers_beyond_the_cores_the_batch_may_use_are_said_in_one_line_and_not_started(tmp_path):
    """A batch allowed one core (its CPU affinity, as ``taskset`` or a container sets it) asked for
    1000 workers for two calls: one line says it, and one worker scores both."""
    one_core = min(os.sched_getaffinity(0))
    status, err, most = _batch_counting_workers(*archive_cuts(tmp_path, 2, 20), "--jobs", "1000", "--db",
                                                str(tmp_path / "e.db"),
                                                preexec_fn=lambda: os.sched_setaffinity(0, {one_core}))
    assert status == 0 and most == 1, err
    said = err.splitlines()
    assert said[0] == ("call-monitor: warning: --workers 1000: more than the 1 core(s) this batch may use; it "
                       "starts one worker process per core (1), each scoring one call at a time")
    assert said[1].startswith("call-monitor: 2 scored, 0 already scored, 0 failed") and len(said) == 2
    assert "on 1 worker(s)" in said[1]


def test_a_call_only_given_to_a_worker_that_dies_is_scored_by_another_and_not_failed_with_it(tmp_path):
    """Dask gives a worker the next call to start while it scores one, and charges both with its
    death. Allowed none (``allowed-failures`` 0), the call the one worker was scoring as it was
    killed fails with its line; the call it had only been given to start next is scored by the
    worker started in its place; the last line counts the one worker that scored a call."""
    long, short = long_recording(tmp_path), tmp_path / "short.wav"
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 10, dtype="float32")
    sf.write(short, x, rate)
    out = tmp_path / "summary.csv"
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", str(long), str(short), "--workers", "1", "--quiet",
                             "--db", str(tmp_path / "e.db"), "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0"))
    try:
        scoring: list[int] = []
        assert wait_for(lambda: scoring.extend(w for w in _workers_of(proc.pid) if holds_open(w, long)) or scoring,
                        120, every_s=0.005), "the long call was never scored"
        os.kill(scoring[0], signal.SIGKILL)  # the worker, not its nanny (in the batch), which starts another
        err = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    said = err.splitlines()
    assert re.fullmatch(rf"call-monitor: error: {re.escape(str(long))}: not scored: the worker scoring it died "
                        r"\(tls://127\.0\.0\.1:\d+\); the same command with --resume scores it again", said[0]), err
    assert said[1].startswith("call-monitor: 1 scored, 0 already scored, 1 failed; ") and len(said) == 2, err
    assert " on 1 worker(s) " in said[1]
    assert [(r["path"], r["status"]) for r in read_csv(out)] == [(str(long), "failed"), (str(short), "scored")]


@pytest.mark.parametrize("sig, status, said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "stopped by SIGTERM")])
def test_ctrl_c_while_the_workers_start_stops_the_batch_with_one_line_and_no_process_left(tmp_path, sig, status, said):
    """Ctrl-C (or SIGTERM) once the worker processes are forked, while they start (about a
    second): not lost; the batch stops at once with the same one line, and every worker goes."""
    files = [str(p) for p in ARCHIVE[:6]]
    db = tmp_path / "events.db"
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", *files, "--workers", "2", "--db", str(db)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert wait_for(lambda: len(_workers_of(proc.pid)) >= 2 or proc.poll() is not None, 120, every_s=0.01)
    workers = _workers_of(proc.pid)
    os.killpg(proc.pid, signal.Signals[sig])  # Ctrl-C at a terminal, or systemd: the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status and not db.exists(), err  # the database is made once the cluster is there
    assert err.splitlines() == [f"call-monitor: error: {said} while the Dask cluster started: nothing was scored "
                                "or stored"]
    assert wait_for(lambda: not any(process_alive(pid) for pid in workers), 30), workers


@contextmanager
def _workers_held_starting(scratch: Path) -> Iterator[None]:
    """Dask's scratch folder ``scratch``/dask-scratch-space (where ``TMPDIR`` points the batch)
    locked once the scheduler has made its own folder there: every worker that starts then waits
    to make its folder, as on a slow disk or a loaded machine, and none joins until the block ends."""
    space = scratch / "dask-scratch-space"
    assert wait_for(lambda: any(space.glob("scheduler-*")), 120), "the scheduler made no scratch folder"
    with open(space / "global.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.mark.parametrize("sig, group, status, said", [
    ("SIGTERM", False, 143, "stopped by SIGTERM"),  # systemd's KillMode=mixed, kill PID: the batch alone
    ("SIGINT", True, 130, "interrupted")])  # Ctrl-C at a terminal: the group, whose workers do not take it
def test_a_stop_while_the_workers_are_slow_to_start_ends_the_batch_at_once_and_resume_scores_every_call(
        tmp_path, sig, group, status, said):
    """A stop while the workers start does not wait out their start (Dask's close would, worker by
    worker, for as long as they take): the batch ends within seconds with its one line, no worker
    process is left, nothing is stored, and the same command with --resume scores every call."""
    files, db = [str(ARCHIVE[0]), str(ARCHIVE[2])], tmp_path / "events.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", *files, "-j", "2", "--db", str(db)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        with _workers_held_starting(tmp_path):
            assert wait_for(lambda: len(_workers_of(proc.pid)) >= 2 or proc.poll() is not None, 120, every_s=0.01)
            workers = _workers_of(proc.pid)
            time.sleep(1.0)  # the workers well into their start, waiting for the scratch folder
            t0 = time.monotonic()
            (os.killpg if group else os.kill)(proc.pid, signal.Signals[sig])
            _, err = proc.communicate(timeout=60)
            took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == status and took < 5, (took, err)
    assert err.splitlines() == [f"call-monitor: error: {said} while the Dask cluster started: nothing was scored "
                                "or stored"]
    assert len(workers) == 2 and not any(process_alive(pid) for pid in workers), workers
    assert not db.exists()
    again = call_monitor_here("batch", *files, "-j", "2", "--db", str(db), "--resume", env=env)
    assert again.returncode == 0 and "2 scored, 0 already scored, 0 failed" in again.stderr, again.stderr


def _waiting_for(lock: Path) -> list[int]:
    """The processes waiting to lock the file ``lock`` (flock), from /proc/locks."""
    inode = lock.stat().st_ino
    return [int(fields[5]) for line in Path("/proc/locks").read_text().splitlines()  # N: -> FLOCK ADVISORY WRITE
            if (fields := line.split())[1] == "->" and fields[6].rsplit(":", 1)[-1] == str(inode)]  # PID MAJ:MIN:INODE


def _in_group(pgid: int) -> list[int]:
    """The processes of the process group ``pgid`` (a batch started in a session of its own, its workers)."""
    def group(stat: Path) -> int | None:
        try:
            return int(stat.read_text().rsplit(")", 1)[1].split()[2])  # ) STATE PPID PGRP
        except (OSError, IndexError, ValueError):
            return None
    return [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat") if group(stat) == pgid]


def test_ctrl_c_just_as_the_worker_is_forked_stops_the_batch_as_a_later_one_does(tmp_path):
    """Ctrl-C at a terminal (SIGINT to the group) while the cluster's nanny is about to fork its
    worker (held there, as a busy machine could, by a nanny preload of Dask's own configuration
    waiting for a lock the test holds): not lost, as one coming while the batch starts its workers
    once was; the batch stops with its one line and exit 130, nothing is stored, the worker forked
    once the nanny goes on is ended and no process of the batch is left."""
    lock, hold = tmp_path / "nanny.lock", tmp_path / "nanny_held.py"
    lock.touch()
    hold.write_text(f"import fcntl\n\ndef dask_setup(nanny):\n    with open({str(lock)!r}) as f:\n"
                    "        fcntl.flock(f, fcntl.LOCK_EX)\n")
    db, env = tmp_path / "events.db", dict(os.environ, DASK_DISTRIBUTED__NANNY__PRELOAD=f'["{hold}"]')
    with open(lock) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", str(ARCHIVE[0]), "-j", "1", "--db", str(db)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            assert wait_for(lambda: proc.pid in _waiting_for(lock) or proc.poll() is not None, 60, every_s=0.01)
            os.killpg(proc.pid, signal.SIGINT)
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130 and not db.exists(), err
    assert err.splitlines() == ["call-monitor: error: interrupted while the Dask cluster started: nothing was scored "
                                "or stored"]
    assert wait_for(lambda: not _in_group(proc.pid), 30), _in_group(proc.pid)


def test_a_slow_scratch_folder_is_not_said_by_dasks_warnings_in_the_batch_or_its_workers(tmp_path):
    """Dask warns (Python's warnings, not its logs) when a server's scratch folder takes over a
    second to make, as on a loaded machine: the batch's own scheduler and its worker each wait two
    seconds for theirs here, and stderr is still only the batch's summary line."""
    space = tmp_path / "dask-scratch-space"
    space.mkdir()
    lock = space / "global.lock"
    lock.touch()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    calls = tmp_path / "calls"
    calls.mkdir()
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", *archive_cuts(calls, 1, 20), "-j", "1", "--db",
                                 str(tmp_path / "e.db")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            assert wait_for(lambda: proc.pid in _waiting_for(lock), 120)  # the batch's scheduler
            time.sleep(2)
            fcntl.flock(held, fcntl.LOCK_UN)
            assert wait_for(lambda: any(space.glob("scheduler-*.dirlock")), 60)  # its folder made
            fcntl.flock(held, fcntl.LOCK_EX)
            assert wait_for(lambda: set(_waiting_for(lock)) & set(_workers_of(proc.pid)), 120)  # its worker
            time.sleep(2)
            fcntl.flock(held, fcntl.LOCK_UN)
            _, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 0, err
    assert err.splitlines() == [line for line in err.splitlines() if line.startswith("call-monitor: 1 scored")], err


@pytest.fixture(scope="module")
def large_manifest(tmp_path_factory) -> Path:
    """A manifest of 10,000 short stereo recordings, each a file of its own: seconds of reading and
    checking their headers before any worker starts."""
    folder = tmp_path_factory.mktemp("large_archive")
    (folder / "calls").mkdir()
    x = np.zeros((800, 2), np.float32)
    sf.write(folder / "calls" / "00000.wav", x, 8000, subtype="PCM_16")
    blob = (folder / "calls" / "00000.wav").read_bytes()
    names = [f"{i:05d}.wav" for i in range(10_000)]
    for name in names[1:]:
        (folder / "calls" / name).write_bytes(blob)
    manifest = folder / "calls.csv"
    manifest.write_text("path\n" + "".join(f"calls/{name}\n" for name in names))
    return manifest


def _reading(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` has a file of ``folder`` open (it reads the recordings' headers)."""
    try:
        return any(os.readlink(fd).startswith(f"{folder}{os.sep}") for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # an fd closed as it was looked at
        return False


@pytest.mark.parametrize("sig, status, said", [("SIGTERM", 143, "stopped by SIGTERM"), ("SIGINT", 130, "interrupted")])
def test_a_stop_while_the_batch_reads_its_inputs_is_one_line_and_nothing_written_is_lost(
        large_manifest, tmp_path, sig, status, said):
    """A stop (SIGTERM to the batch alone, or Ctrl-C) while the batch still reads and checks a large
    manifest's recordings, before anything is scored: one line says so and how to start again, the
    exit status is the one of a stop while scoring, no worker has started, no database is made and
    the table of an earlier batch is left as it was."""
    db, out = tmp_path / "events.db", tmp_path / "summary.csv"
    out.write_text("path,status\nearlier.wav,scored\n")
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", str(large_manifest), "-j", "1", "--db", str(db),
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert wait_for(lambda: _reading(proc.pid, large_manifest.parent / "calls") or proc.poll() is not None,
                        120, every_s=0.002)
        assert not _workers_of(proc.pid)
        os.kill(proc.pid, signal.Signals[sig])
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == status, err
    assert err.splitlines() == [f"call-monitor: error: {said} while the batch read its inputs: nothing was scored "
                                "or stored; the same command with --resume starts again, skipping the calls "
                                "scored before"]
    assert not db.exists() and out.read_text() == "path,status\nearlier.wav,scored\n"


def _batch_stopped_at(where: str, sig: str, *args: object) -> subprocess.CompletedProcess:
    """``call-monitor batch ARGS`` stopped by ``sig`` as it calls ``where`` (:func:`stopped_at`)."""
    return stopped_at(where, sig, "batch", *args)


@pytest.mark.parametrize("sig, status, said", [("SIGTERM", 143, "stopped by SIGTERM"), ("SIGINT", 130, "interrupted")])
def test_a_stop_between_reading_the_inputs_and_starting_the_cluster_is_said_as_in_every_other_phase(
        tmp_path, sig, status, said):
    """A stop as the batch makes its last check before the cluster starts (the database it will make,
    once the inputs are read and checked): one line saying nothing was scored or stored, the exit
    status of a stop, no worker started and no database made (it was said by nothing, before)."""
    db, out = tmp_path / "events.db", tmp_path / "summary.csv"
    done = _batch_stopped_at("monitor.delivery.store_files:making_problem", sig, ARCHIVE[0], "-j", "1", "--db", db,
                             "--out", out)
    assert done.returncode == status, done.stderr
    assert done.stderr.splitlines() == [f"call-monitor: error: {said} while the Dask cluster started: nothing was "
                                        "scored or stored"]
    assert not list(tmp_path.iterdir())


def test_a_stop_once_every_call_is_scored_while_the_table_is_written_is_said_as_a_stop_while_scoring(tmp_path):
    """A stop after the last call is stored, as the table is written: the line of a stop while
    scoring (every call scored is in the database; --resume writes the table), exit 143; the call
    stays stored and no table is left half-written."""
    x, rate = sf.read(ARCHIVE[0], frames=8000 * 10, dtype="float32")
    sf.write(tmp_path / "call.wav", x, rate)
    db, out = tmp_path / "events.db", tmp_path / "summary.csv"
    done = _batch_stopped_at("monitor.batch.table:write_table", "SIGTERM", tmp_path / "call.wav", "-j", "1",
                             "--quiet", "--db", db, "--out", out)
    assert done.returncode == 143, done.stderr
    assert done.stderr.splitlines() == [f"call-monitor: error: stopped by SIGTERM: every call scored before it (1 of "
                                        f"the 1 to score) is in {db}; the same command with --resume scores the rest "
                                        f"and writes {out}"]
    assert len(db_rows(db, "SELECT id FROM calls")) == 1 and not out.exists()


def test_sigterm_stops_the_batch_as_ctrl_c_does_and_exits_143(tmp_path):
    """``timeout`` or systemd stopping a batch (the whole group, as both do): the same one line,
    every call scored so far in the ledger, and the exit status a shell gives SIGTERM."""
    files = [str(p) for p in ARCHIVE[:6]]
    db = tmp_path / "events.db"
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", *files, "--workers", "2", "--db", str(db)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while not _ledger(db) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    scored = len(_ledger(db))
    assert proc.returncode == 143 and 1 <= scored < len(files), err
    assert err.splitlines() == [f"call-monitor: error: stopped by SIGTERM: every call scored before it ({scored} of "
                                f"the {len(files)} to score) is in {db}; the same command with --resume scores the "
                                "rest"]


def test_a_stop_while_a_result_is_stored_waits_for_it_so_the_count_said_is_the_databases(tmp_path):
    """A stop that comes while a call's result is written is raised once the call is stored and
    counted, both or neither: the stop's line says how many calls the database holds."""
    from distributed import Client

    from monitor.batch.ledger import BatchStore
    from monitor.batch.runner import BatchOptions, BatchRun
    from monitor.stops import Terminated, sigterm_as_interrupt

    class StoppedWhileStoring(BatchStore):
        def store_call(self, *args, **kwargs):
            stored = super().store_call(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)  # the handler runs here, with the call stored and not yet counted
            return stored

    db = tmp_path / "events.db"
    jobs = expand_inputs(archive_cuts(tmp_path, 2, seconds=10.0))
    store = StoppedWhileStoring.open(db)
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        said: list[str] = []
        batch = BatchRun(client, store, load_config(None, user_config=False), BatchOptions(), on_error=said.append)
        with pytest.raises(Terminated):
            sigterm_as_interrupt(lambda: batch.run(jobs))
    store.close()
    assert batch.outcome.scored == len(_ledger(db)) == 1 and said == []


def test_a_stop_as_a_call_is_sent_to_a_running_cluster_cancels_it_and_sends_no_other(tmp_path):
    """A stop that comes as a call is sent to a running cluster (--scheduler) is raised once the call
    is noted as sent: it is cancelled there and counted, not left to be scored for no one, and no
    call is sent after it."""
    from distributed import Client

    from monitor.batch.ledger import BatchStore
    from monitor.batch.runner import BatchOptions, BatchRun
    from monitor.stops import Terminated, sigterm_as_interrupt

    sent = []

    class StoppedAsItSends(Client):
        def submit(self, *args, **kwargs):
            sent.append(super().submit(*args, **kwargs))
            if len(sent) == 1:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.5)  # the handler runs here, with the call sent and not yet noted
            return sent[-1]

    jobs = expand_inputs(archive_cuts(tmp_path, 2, seconds=10.0))
    store = BatchStore.open(tmp_path / "events.db")
    with StoppedAsItSends(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        batch = BatchRun(client, store, load_config(None, user_config=False),
                         BatchOptions(scheduler=client.scheduler.address), on_error=print)
        with pytest.raises(Terminated):
            sigterm_as_interrupt(lambda: batch.run(jobs))
        assert batch.outcome.cancelled == len(sent) == 1 < len(jobs)
        assert wait_for(lambda: all(fut.status == "cancelled" for fut in sent), 30), [f.status for f in sent]
    store.close()


def test_a_stop_while_a_result_comes_from_its_worker_is_not_held(tmp_path):
    """Only the storing and counting of a result hold a stop: fetching it from a worker (which Dask
    may have to score again, minutes with transcription, if the worker died) does not."""
    from distributed import Client

    from monitor.batch.ledger import BatchStore
    from monitor.batch.runner import BatchOptions, BatchRun
    from monitor.stops import Terminated, sigterm_as_interrupt

    class SlowToFetch(BatchRun):
        def _result(self, fut, job, ran_on):
            self.stopped_at = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # a stop held here would be raised after it
            return super()._result(fut, job, ran_on)

    db = tmp_path / "events.db"
    store = BatchStore.open(db)
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        batch = SlowToFetch(client, store, load_config(None, user_config=False), BatchOptions(), on_error=print)
        jobs = expand_inputs(archive_cuts(tmp_path, 1, seconds=10.0))
        with pytest.raises(Terminated):
            sigterm_as_interrupt(lambda: batch.run(jobs))
        took = time.monotonic() - batch.stopped_at
    store.close()
    assert took < 4 and _ledger(db) == []


def test_a_result_its_stopped_worker_does_not_give_fails_its_call_in_one_line_and_the_batch_goes_on(
        tmp_path, monkeypatch):
    """The worker that scored a call stops (SIGSTOP: a debugger, or its machine down without its
    connections closing) before the batch has its result: the batch waits ``RESULT_FETCH_S`` for it
    (1 s here), then fails the call in one line naming the worker and saying that --resume scores it
    again, rather than wait for ever. (The worker goes on after 20 s: a batch that waited for it
    would have scored the call.)"""
    from distributed import Client

    from monitor.batch import runner
    from monitor.batch.ledger import BatchStore

    monkeypatch.setattr(runner, "RESULT_FETCH_S", 1.0)

    class FromAStoppedWorker(runner.BatchRun):
        def _result(self, fut, job, ran_on):
            pids = list(self.client.run(os.getpid).values())
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            again = threading.Timer(20.0, lambda: [os.kill(pid, signal.SIGCONT) for pid in pids])
            again.start()
            try:
                return super()._result(fut, job, ran_on)
            finally:
                again.cancel()
                again.function()

    said: list[str] = []
    store = BatchStore.open(tmp_path / "events.db")
    with Client(processes=True, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        worker = next(iter(client.nthreads()))
        batch = FromAStoppedWorker(client, store, load_config(None, user_config=False), runner.BatchOptions(),
                                   on_error=said.append)
        jobs = expand_inputs(archive_cuts(tmp_path, 1, seconds=10.0))
        outcome = batch.run(jobs)
    store.close()
    assert said == [f"{jobs[0].path}: not stored: its result did not come from {worker} within 1 s (a worker that "
                    "does not reply: stopped, or its machine down); the same command with --resume scores it again"]
    assert (outcome.scored, outcome.failed) == (0, 1) and outcome.rows[0]["status"] == "failed"
    assert _ledger(tmp_path / "events.db") == []


def test_a_worker_gone_while_it_loads_the_speech_model_is_one_warning_and_the_batch_goes_on(tmp_path, monkeypatch):
    """A worker killed as it loads the model (or dropped by its scheduler, stopped) ends Dask's
    registration of the model with an error: one warning line naming it, and the batch goes on with
    the others, rather than Dask's traceback. (A model slow to load is a plugin whose setup takes 4 s
    here.)"""
    from distributed import Client, WorkerPlugin

    from monitor.batch import runner
    from monitor.batch.ledger import BatchStore

    class SlowToLoad(WorkerPlugin):
        name = runner.TRANSCRIPTION_PLUGIN

        async def setup(self, worker):
            await asyncio.sleep(4)

    monkeypatch.setattr(runner, "_transcription_plugin", lambda config_toml, info: SlowToLoad())
    said: list[str] = []
    store = BatchStore.open(tmp_path / "events.db")
    with Client(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None) as client:
        (killed, pid), *_ = sorted(client.run(os.getpid).items())
        batch = runner.BatchRun(client, store, load_config(None, user_config=False),
                                runner.BatchOptions(transcribe=True), on_error=said.append, on_warning=said.append)
        threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()
        batch._start([], {})
    store.close()
    assert said == [f"the local Dask scheduler: a worker went away as it loaded the speech model ({killed}); the "
                    "batch goes on with the others"]


def test_a_stop_noted_while_the_batch_waits_for_a_call_is_raised_before_the_call_is_scored():
    """A stop a finalizer swallowed is noted, not raised: the batch, waiting for its next call
    (minutes of transcription), raises it while it waits, not once that call is scored."""
    import threading

    from distributed import Client, Event, as_completed

    from monitor.batch.runner import _finished
    from monitor.stops import Terminated

    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        long_call = client.submit(lambda: Event("scored").wait(60), pure=False)
        stops: list[KeyboardInterrupt] = []
        threading.Timer(0.3, stops.append, [Terminated("SIGTERM")]).start()
        with pytest.raises(Terminated):
            for _ in _finished(as_completed([long_call]), stops):
                pass
        assert not long_call.done()
        Event("scored", client=client).set()


def test_sigterm_to_the_batch_alone_while_its_workers_score_ends_it_at_once_and_resume_scores_the_rest(
        tmp_path):
    """``kill PID`` (systemd's KillMode=mixed) while both workers are busy with calls of minutes: the
    batch does not wait for them to finish their calls (the results would not be stored), it ends
    them and exits 143 at once (0.4 s on an idle machine, where busy workers were given 4 s) with its
    one line, no worker left; every call scored before it stays stored, and the same command with
    --resume scores the others once each. (The first call is its first 40 s: once it is stored, the
    workers are on the two whole calls.)"""
    files = [*archive_cuts(tmp_path, 1), *(str(p) for p in ARCHIVE[1:3])]
    db = tmp_path / "events.db"
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", *files, "-j", "2", "--db", str(db)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    workers: list[int] = []

    def scoring() -> bool:  # the workers looked for once a call is stored (both busy then), not at every look
        if not _ledger(db):
            return False
        workers[:] = _workers_of(proc.pid)
        return True
    took, err = _sigterm_once(proc, scoring)
    scored = len(_ledger(db))
    assert proc.returncode == 143 and 1 <= scored < len(files), err
    assert took < 2.5, took  # busy workers were given 4 s to finish their calls
    assert err.splitlines() == [f"call-monitor: error: stopped by SIGTERM: every call scored before it ({scored} of "
                                f"the {len(files)} to score) is in {db}; the same command with --resume scores the "
                                "rest"]
    assert len(workers) == 2 and not any(process_alive(pid) for pid in workers), workers
    again = call_monitor_here("batch", *files, "-j", "2", "--db", str(db), "--resume")
    assert f"{len(files) - scored} scored, {scored} already scored, 0 failed" in again.stderr, again.stderr
    assert len(db_rows(db, "SELECT id FROM calls")) == len(files)


def _said_scheduler(proc: subprocess.Popen) -> str:
    """The address of the local cluster's scheduler, as the batch ``proc`` says it at the debug level
    (its stderr read up to that line); empty when it ended without saying it."""
    for line in proc.stderr:
        if found := re.search(r"the local Dask scheduler listens on (\S+)", line):
            return found[1]
    return ""


def test_the_local_clusters_scheduler_refuses_a_client_without_the_batchs_credentials(tmp_path):
    """Another process on the machine (another user's) that connects to the scheduler of a running
    batch's local cluster, whose address ``--log-level debug`` says, is refused, whether it speaks
    plain TCP or TLS with credentials of its own (Dask's temporary ones): it cannot have the batch's
    workers run code as the batch's user. The scheduler still listens there, and the batch goes on
    without a word of it (stopped then, its one line is all it says)."""
    from distributed import Client, Security
    from distributed.comm.core import CommClosedError

    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", str(long_recording(tmp_path)), "-j", "1", "--log-level",
                             "debug", "--db", str(tmp_path / "e.db")], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        address = _said_scheduler(proc)
        assert address, "the batch never said its scheduler's address"
        host, port = address.split("://")[1].rsplit(":", 1)
        for tried, credentials in ((f"tcp://{host}:{port}", None), (address, Security.temporary())):
            with pytest.raises(CommClosedError):  # closed by the scheduler at once, not a wait that timed out
                Client(tried, security=credentials, timeout=5)
        socket.create_connection((host, int(port)), timeout=5).close()  # refused by TLS, not gone
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGTERM)
        said = proc.communicate(timeout=60)[1].splitlines()
        assert proc.returncode == 143 and len(said) == 1 and said[0].startswith(
            "call-monitor: error: stopped by SIGTERM"), said  # as its workers start or score
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _batch_without(modules: Sequence[str], *args: str) -> subprocess.CompletedProcess:
    """``call-monitor batch ARGS`` in a fresh interpreter where ``modules`` cannot be imported (as
    Python has it when they are not installed: :func:`importlib.util.find_spec` finds none)."""
    blocked = (f"import sys; sys.modules.update(dict.fromkeys({list(modules)!r})); from monitor.cli import main; "
               "sys.exit(main(sys.argv[1:]))")
    return subprocess.run([PY, "-c", blocked, "batch", *args], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_a_batch_without_the_batch_extra_names_every_package_it_lacks_in_one_line_and_exit_2_with_nothing_made(
        tmp_path):
    """Dask, tqdm, the local cluster's TLS (``cryptography``) and a Parquet table's pyarrow: what is
    missing of the ``[batch]`` extra is said at once, with the command that installs it all by the
    pip of the Python running callmonitor, before any worker starts or the database is made (not
    one package per try)."""
    db, out = tmp_path / "e.db", tmp_path / "summary.parquet"
    done = _batch_without(["distributed", "cryptography", "pyarrow"], str(ARCHIVE[0]), "--db", str(db), "--out",
                          str(out))
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "call-monitor: error: batch needs dask[distributed], pyarrow, cryptography (callmonitor's [batch] extra): "
        f"{PY} -m pip install 'dask[distributed]>=2024.1' 'pyarrow>=14' 'cryptography>=38'"], done.stderr
    assert not db.exists() and not out.exists()


def test_a_local_batch_without_cryptography_for_its_tls_is_one_line_and_exit_2_with_nothing_made(tmp_path):
    """The local cluster's TLS credentials are made with ``cryptography`` (the ``[batch]`` extra):
    where it is not installed, the batch says so and how to get it in one line, before any worker
    starts or the database is made."""
    db = tmp_path / "e.db"
    done = _batch_without(["cryptography"], str(ARCHIVE[0]), "--db", str(db))
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "call-monitor: error: batch needs cryptography (callmonitor's [batch] extra): "
        f"{PY} -m pip install 'cryptography>=38'"], done.stderr
    assert not db.exists()


def test_a_quiet_batch_or_one_whose_stderr_is_no_terminal_needs_no_tqdm(tmp_path):
    """tqdm draws the progress bar, which a terminal alone is shown: a batch run by cron or with
    --quiet scores without it, as before the extra was checked at once."""
    short = tmp_path / "short.wav"
    x, sr = sf.read(ARCHIVE[0], frames=8000 * 10)
    sf.write(short, x, sr)
    db = tmp_path / "e.db"
    done = _batch_without(["tqdm"], str(short), "--workers", "1", "--quiet", "--db", str(db))
    assert done.returncode == 0 and "tqdm" not in done.stderr, done.stderr
    assert len(db_rows(db, "SELECT id FROM calls")) == 1


def test_a_package_of_the_extra_installed_but_failing_to_import_is_one_line_and_exit_2_before_anything_is_scored(
        tmp_path):
    """A pyarrow that is there but raises as it is imported (built for another numpy, which prints
    its pages on stderr first): the batch names it with its error in one line, and the command that
    upgrades it, before the database is made or a call scored, not as a traceback once the table
    is written."""
    shadow = tmp_path / "shadow" / "pyarrow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "import sys\nprint('A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x', file=sys.stderr)\n"
        "raise ImportError('numpy.core.multiarray failed to import\\n(and more)')\n", encoding="utf-8")
    db, out = tmp_path / "e.db", tmp_path / "summary.parquet"
    done = subprocess.run([PY, "-m", "monitor", "batch", str(ARCHIVE[0]), "--db", str(db), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=f"{tmp_path / 'shadow'}:{ROOT}"))
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "call-monitor: error: batch cannot import pyarrow (ImportError: numpy.core.multiarray failed to import), "
        f"installed for callmonitor's [batch] extra: {PY} -m pip install --upgrade 'pyarrow>=14'"], done.stderr
    assert not db.exists() and not out.exists()


def test_a_model_asked_for_without_transcribe_is_said_not_to_be_used(tmp_path):
    """``--model ko`` alone scores acoustic-only, as the help says: one line says so (replay says its
    ``--model`` with ``--no-transcribe`` the same way), rather than leaving the words to be missed."""
    short = tmp_path / "short.wav"
    x, sr = sf.read(ARCHIVE[0], frames=8000 * 10)
    sf.write(short, x, sr)
    done = call_monitor_here("batch", str(short), "--model", "ko", "--workers", "1", "--quiet", "--db", str(tmp_path / "e.db"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == ("call-monitor: warning: --model ko is not used: without --transcribe "
                                           "(acoustic-only)"), done.stderr
    assert len(db_rows(tmp_path / "e.db", "SELECT id FROM transcript")) == 0


_LOOKING_OFTEN = """
import sys
from monitor.batch import runner
from monitor.cli import main
runner.IDLE_CHECK_S = 0.2
sys.exit(main(sys.argv[1:]))
"""


def test_a_scheduler_without_workers_is_said_and_the_batch_runs_once_one_joins(tmp_path):
    """docs/recordings.md's cluster commands on 127.0.0.1: `dask scheduler`, the batch, then `dask worker`.
    The batch looks at the workers every 0.2 s while it waits here: a first worker slow to start is
    waited for, not said to have left."""
    dask = Path(PY).with_name("dask")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    info = tmp_path / "scheduler.json"  # its port, bound by itself (a port found free here may be taken by then)
    started = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                                 "127.0.0.1:0", "--scheduler-file", str(info)], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        assert wait_for(lambda: scheduler_address(info), 60), "the scheduler did not start"
        address = scheduler_address(info)
        batch = subprocess.Popen([PY, "-c", _LOOKING_OFTEN, "batch", *archive_cuts(tmp_path, 1, 20), "--scheduler",
                                  address,
                                  "--db", str(tmp_path / "e.db")], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        assert select.select([batch.stderr], [], [], 60)[0], "nothing said while waiting for workers"
        said = batch.stderr.readline()  # before any worker exists
        assert said == (f"call-monitor: warning: {address}: the scheduler has no workers yet; the batch waits for "
                        f"them (start them with: dask worker {address} --nthreads 1)\n")
        time.sleep(1.0)  # five looks at the workers, none there yet
        started.append(subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1"], env=env,
                                        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True))
        rest = batch.communicate(timeout=300)[1]
        assert batch.returncode == 0 and "1 scored, 0 already scored, 0 failed" in rest, rest
        assert " on 1 worker(s) " in rest  # the worker that joined and scored it, not the none there at the start
        assert "no workers any more" not in rest, rest
    finally:
        for proc in reversed(started):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


# ------------------------------------------------------------------ --transcribe (the Korean Vosk model)

def transcript(db: Path, call_id: int) -> list[tuple]:
    return db_rows(db, 'SELECT channel, t, start, "end", text, words FROM transcript WHERE call_id = ? '
                       "ORDER BY id", (call_id,))


@pytest.fixture(scope="module")
def transcribed(tmp_path_factory) -> dict:
    """Two short calls (the first 24 s of the Korean passage the model recognises, and 12 s of a
    stereo fixture call at 8 kHz: two legs, the caller's transcribed, the default) transcribed by a
    batch on 1 worker, so that one worker transcribes two calls; and both replayed with
    transcription by one replay, in the other order, as a user replays recordings: each call's words
    are its own, whatever the process decoded before it. (With ``transcription.agent`` on, two
    recognizers decode at once, and Vosk's words then vary from run to run in replay too: nothing
    to compare exactly.)"""
    tmp = tmp_path_factory.mktemp("transcribe")
    # the recognizers' OpenBLAS gives run-to-run differences on two legs when pinned to one thread
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["VOSK_MODEL_PATH"] = str(packaged_model_dirs(tmp / "models"))
    cfg = tmp / "ko.toml"
    cfg.write_text('[transcription]\nlanguage = "ko"\n', encoding="utf-8")
    passage, stereo = tmp / "passage.wav", tmp / "stereo.wav"
    x, sr = sf.read(SPEECH / "ko_passage.wav", frames=16000 * 24)
    sf.write(passage, x, sr)
    x, sr = sf.read(ARCHIVE[0], frames=8000 * 12)
    sf.write(stereo, x, sr)
    files = [str(passage), str(stereo)]
    db, out = tmp / "batch.db", tmp / "summary.csv"
    done = call_monitor_here("batch", "--transcribe", "--config", str(cfg), *files, "--workers", "1", "--db", str(db),
                    "--out", str(out), env=env)
    replayed = cli("replay", "--config", str(cfg), "--db", str(tmp / "replay.db"), *reversed(files), env=env)
    return {"done": done, "db": db, "rows": read_csv(out) if out.exists() else [], "files": files,
            "replay_db": tmp / "replay.db", "replayed": replayed}


def test_a_transcribed_batch_stores_each_calls_words_exactly_as_replay_does(transcribed):
    assert transcribed["done"].returncode == 0, transcribed["done"].stderr
    assert transcribed["replayed"].returncode == 0, transcribed["replayed"].stderr
    batch = {r["path"]: int(r["db_call_id"]) for r in transcribed["rows"]}
    replay_db = transcribed["replay_db"]
    for f in transcribed["files"]:
        (replayed,), = db_rows(replay_db, "SELECT id FROM calls WHERE source = ?", (f,))
        ours, theirs = transcript(transcribed["db"], batch[f]), transcript(replay_db, replayed)
        assert ours == theirs, f  # the same words at the same times, utterance by utterance
        assert len(ours) >= 1 and all(json.loads(words) for *_, words in ours)
        assert stored_call(transcribed["db"], batch[f]) == stored_call(replay_db, replayed), f
        assert stored_call(transcribed["db"], batch[f])["summary"]["transcribed"] is True
    passage = transcript(transcribed["db"], batch[transcribed["files"][0]])
    assert len(passage) >= 4  # the recognizer ends utterances at the passage's pauses
    assert {channel for channel, *_ in transcript(transcribed["db"], batch[transcribed["files"][1]])} \
        == {"caller"}


def test_a_transcribed_batch_writes_its_per_call_table(transcribed):
    rows = transcribed["rows"]
    assert [r["path"] for r in rows] == transcribed["files"]
    assert [r["status"] for r in rows] == ["scored"] * 2 and all(r["db_call_id"] for r in rows)
    assert [r["legs"] for r in rows] == ["caller", "caller+agent"]
    assert [r["sample_rate"] for r in rows] == ["16000", "8000"]
    assert "2 scored, 0 already scored, 0 failed" in transcribed["done"].stderr


def test_a_transcribed_batch_under_storage_transcripts_false_stores_no_words_as_replay_stores_none(tmp_path):
    """docs/configuration.md: ``storage.transcripts = false`` keeps the words out of the database. A
    batch that transcribes (its words heard for the distress phrases and word cues) stores the call
    as replay does under it: the same call, and not one line of its transcript."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["VOSK_MODEL_PATH"] = str(packaged_model_dirs(tmp_path / "models"))
    cfg, passage = tmp_path / "notx.toml", tmp_path / "passage.wav"
    cfg.write_text('[transcription]\nlanguage = "ko"\n\n[storage]\ntranscripts = false\n', encoding="utf-8")
    x, sr = sf.read(SPEECH / "ko_passage.wav", frames=16000 * 24)
    sf.write(passage, x, sr)
    batch_db, replay_db = tmp_path / "batch.db", tmp_path / "replay.db"
    done = call_monitor_here("batch", "--transcribe", "--config", str(cfg), str(passage), "--workers", "1", "--quiet",
                             "--db", str(batch_db), "--out", str(tmp_path / "b.csv"), env=env)
    assert done.returncode == 0, done.stderr
    replayed = cli("replay", "--config", str(cfg), "--db", str(replay_db), str(passage), env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert db_rows(batch_db, "SELECT COUNT(*) FROM transcript") == [(0,)]
    assert db_rows(replay_db, "SELECT COUNT(*) FROM transcript") == [(0,)]
    (batch_call,), = db_rows(batch_db, "SELECT id FROM calls")
    (replay_call,), = db_rows(replay_db, "SELECT id FROM calls")
    assert stored_call(batch_db, batch_call) == stored_call(replay_db, replay_call)
    assert stored_call(batch_db, batch_call)["summary"]["transcribed"] is True  # heard, not kept


def test_resume_after_storage_transcripts_is_turned_off_deletes_the_words_of_the_calls_it_skips(tmp_path):
    """docs/recordings.md: a batch transcribed with its words kept, then run again with --resume once
    ``storage.transcripts`` is false, skips the calls already scored (the setting changes no score),
    and deletes their words: a user who turned the words off finds none of the batch's in the
    database, as after a batch scored under it. The rest of each call (alerts, cues, summary) stays, and
    one line says how many calls' words were deleted; a second --resume has none left and says nothing
    of them."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["VOSK_MODEL_PATH"] = str(packaged_model_dirs(tmp_path / "models"))
    kept, off = tmp_path / "kept.toml", tmp_path / "off.toml"
    kept.write_text('[transcription]\nlanguage = "ko"\n', encoding="utf-8")
    off.write_text('[transcription]\nlanguage = "ko"\n\n[storage]\ntranscripts = false\n', encoding="utf-8")
    passage = tmp_path / "passage.wav"
    x, sr = sf.read(SPEECH / "ko_passage.wav", frames=16000 * 24)
    sf.write(passage, x, sr)
    db = tmp_path / "events.db"
    base = ["batch", "--transcribe", str(passage), "--workers", "1", "--quiet", "--db", str(db), "--resume"]
    first = call_monitor_here(*base, "--config", str(kept), env=env)
    assert first.returncode == 0, first.stderr
    (call_id,), = db_rows(db, "SELECT id FROM calls")
    assert transcript(db, call_id), "the first batch kept no words to delete"
    before = stored_call(db, call_id)
    resumed = call_monitor_here(*base, "--config", str(off), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "0 scored, 1 already scored, 0 failed" in resumed.stderr
    assert f"call-monitor: the words of 1 call scored before were deleted from {db}, as storage.transcripts = " \
        "false keeps none" in resumed.stderr.splitlines()
    assert db_rows(db, "SELECT COUNT(*) FROM transcript") == [(0,)]
    assert db_rows(db, "SELECT id FROM calls") == [(call_id,)] and stored_call(db, call_id) == before
    again = call_monitor_here(*base, "--config", str(off), env=env)
    assert again.returncode == 0 and "were deleted" not in again.stderr, again.stderr
    assert "1 already scored" in again.stderr


def test_resume_under_storage_transcripts_false_deletes_the_words_of_every_call_the_ledger_names_for_its_files(
        tmp_path):
    """docs/recordings.md: the words deleted by a --resume under ``storage.transcripts = false`` are
    those of every call the ledger names for the batch's files, not only of the call it skips: a call
    scored from an earlier content of the file, and one scored under another configuration, lose
    their words too (here the file changed and the rules changed, so the resume scores it again and
    skips none), and the line counts both."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["VOSK_MODEL_PATH"] = str(packaged_model_dirs(tmp_path / "models"))
    kept, off = tmp_path / "kept.toml", tmp_path / "off.toml"
    kept.write_text('[transcription]\nlanguage = "ko"\n', encoding="utf-8")
    off.write_text('[transcription]\nlanguage = "ko"\n\n[storage]\ntranscripts = false\n\n'
                   '[rules.slow_speech]\nrelative_change = -0.1\n', encoding="utf-8")
    passage = tmp_path / "passage.wav"
    x, sr = sf.read(SPEECH / "ko_passage.wav", frames=16000 * 24)
    sf.write(passage, x[:16000 * 20], sr)
    db = tmp_path / "events.db"
    base = ["batch", "--transcribe", str(passage), "--workers", "1", "--quiet", "--db", str(db), "--resume"]
    assert call_monitor_here(*base, "--config", str(kept), env=env).returncode == 0
    sf.write(passage, x, sr)  # the file's content changes: --resume scores it again
    assert call_monitor_here(*base, "--config", str(kept), env=env).returncode == 0
    calls = [i for i, in db_rows(db, "SELECT id FROM calls ORDER BY id")]
    assert len(calls) == 2 and all(transcript(db, i) for i in calls), "the kept batches kept no words to delete"
    resumed = call_monitor_here(*base, "--config", str(off), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "1 scored, 0 already scored, 0 failed" in resumed.stderr
    assert f"call-monitor: the words of 2 calls scored before were deleted from {db}, as storage.transcripts = " \
        "false keeps none" in resumed.stderr.splitlines()
    assert db_rows(db, "SELECT COUNT(*) FROM transcript") == [(0,)]
    assert len(db_rows(db, "SELECT id FROM calls")) == 3  # the calls stay, without their words


def test_transcribe_without_a_model_gets_one_line_and_exit_2(tmp_path):
    env = {**os.environ, "VOSK_MODEL_PATH": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "HOME": str(tmp_path)}
    cfg = tmp_path / "xx.toml"
    cfg.write_text('[transcription]\nlanguage = "xx"\n')
    by_model = tmp_path / "zz.toml"  # the language transcription.model asks for, not transcription.language's
    by_model.write_text('[transcription]\nmodel = "zz"\n')
    not_a_model = tmp_path / "vosk-model-small-ko-0.22"
    not_a_model.mkdir()
    for args, needle in ((["--config", str(cfg)], "no Vosk model for language 'xx'"),
                         (["--config", str(by_model)], "no Vosk model for language 'zz'"),
                         (["--model", str(not_a_model)], str(not_a_model))):
        db = tmp_path / "e.db"
        done = cli("batch", "--transcribe", *args, str(ARCHIVE[0]), "--workers", "2", "--db", str(db),
                   timeout=120, env=env)
        assert done.returncode == 2, done.stderr
        assert needle in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert not db.exists() or not db_rows(db, "SELECT id FROM calls")  # nothing scored acoustic-only


@pytest.mark.parametrize("cut, problem", [
    ("am/final.mdl", FINAL_MDL_CUT),
    ("graph/HCLr.fst", "Vosk loads this model but cannot start a recognizer with it (Failed to create a recognizer: "
                       "ConstFst::Read: Read failed: {model}/graph/HCLr.fst)")])
def test_a_model_vosk_cannot_load_is_one_line_and_exit_2_before_a_database_is_made_or_touched(tmp_path, cut, problem):
    """A model folder with all its files, one of them cut short: the batch loads it once before it
    makes anything (as replay and run do), rather than every call failing on the workers."""
    model = korean_model(tmp_path, cut=cut)
    kept, new = tmp_path / "kept.db", tmp_path / "new.db"
    x, sr = sf.read(ARCHIVE[0], frames=8000 * 10)
    sf.write(tmp_path / "call.wav", x, sr)
    made = call_monitor_here("replay", "--no-transcribe", "--db", kept, tmp_path / "call.wav")
    assert made.returncode == 0 and len(db_rows(kept, "SELECT id FROM calls")) == 1, made.stderr
    before = {p.name: p.read_bytes() for p in tmp_path.glob("kept.db*")}
    for db in (new, kept):
        done = call_monitor_here("batch", "--transcribe", "--model", model, ARCHIVE[0], "--workers", "2", "--db", db,
                        "--out", tmp_path / "summary.csv")
        assert done.returncode == 2, done.stderr
        assert kaldi_position_out(done.stderr).splitlines() == [f"call-monitor: error: {model}: {problem.format(model=model)}"]
    assert not list(tmp_path.glob("new.db*")) and not (tmp_path / "summary.csv").exists()
    assert {p.name: p.read_bytes() for p in tmp_path.glob("kept.db*")} == before


def test_ctrl_c_while_the_model_loads_stops_the_batch_with_one_line_and_nothing_made(tmp_path):
    model = korean_model(tmp_path)
    db = tmp_path / "events.db"
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", "--transcribe", "--model", str(model), str(ARCHIVE[0]),
                             "--workers", "2", "--db", str(db)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert wait_for(lambda: child_processes(proc.pid) or proc.poll() is not None, 60, every_s=0.01)
    loading = child_processes(proc.pid)  # the one process loading the model: no worker starts before it loaded
    assert len(loading) == 1 and proc.poll() is None
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.splitlines() == ["call-monitor: error: interrupted while the speech model loaded: nothing was scored "
                                "or stored"]
    assert not list(tmp_path.glob("events.db*"))
    assert wait_for(lambda: not any(process_alive(pid) for pid in loading), 30), loading


_STOP_AT_THE_FORK = """
import ctypes, functools, os, signal, sys
from conftest import child_processes
from monitor.transcription.vosk_models import check_loads, resolve_model
side, sig = sys.argv[2], signal.Signals[sys.argv[3]]
caller = os.getpid()
# called from C right after the fork, on that side: Python's handler runs once os.fork has returned there
os.register_at_fork(**{f"after_in_{side}": functools.partial(getattr(ctypes.CDLL(None), "raise"), int(sig))})
signal.signal(signal.SIGTERM, signal.default_int_handler)  # raised as Ctrl-C is, as the commands do
try:
    check_loads(resolve_model(sys.argv[1], None))
    said = "loaded"
except KeyboardInterrupt:
    said = "stopped"
print(os.getpid() == caller, said, sorted(child_processes(os.getpid())), flush=True)
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("side, outcome", [("child", "loaded"), ("parent", "stopped")])
def test_a_stop_that_comes_just_as_the_model_loading_process_is_forked_is_never_raised_in_that_process(
        tmp_path, side, outcome, sig):
    """Ctrl-C reaches the whole foreground group, the loading child too, and may come right at the
    fork: the child, which runs none of the caller's code, drops it (the model loads: a stop sent to
    the child alone is no stop of the batch); the caller raises it only once the child is ended and
    reaped (no process left loading the model)."""
    model = korean_model(tmp_path)
    done = subprocess.run([PY, "-c", _STOP_AT_THE_FORK, str(model), side, sig], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'tests'}"))
    assert (done.returncode, done.stdout, done.stderr) == (0, f"True {outcome} []\n", "")


def test_a_stop_while_a_call_is_transcribed_ends_its_transcribing_process_and_the_batch_at_once(tmp_path):
    """SIGTERM to a transcribing batch alone while its worker's own process decodes a call of minutes
    (each transcribed call is decoded in a process forked from the worker): that process ends with
    the worker, and the batch exits within seconds with its one line, not when the call's words are
    all decoded for no one."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["VOSK_MODEL_PATH"] = str(packaged_model_dirs(tmp_path / "models"))
    cfg, db = tmp_path / "ko.toml", tmp_path / "events.db"
    cfg.write_text('[transcription]\nlanguage = "ko"\n', encoding="utf-8")
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "batch", "--transcribe", "--config", str(cfg), str(ARCHIVE[0]),
                             "-j", "1", "--db", str(db)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    forked: list[int] = []

    def decoding() -> bool:
        forked[:] = [child for worker in _workers_of(proc.pid) for child in child_processes(worker)
                     if _has_vosk(child)]
        return bool(forked)
    took, err = _sigterm_once(proc, decoding)
    assert proc.returncode == 143 and took < 10.0, (took, err)  # the whole call's decoding took 46 s
    assert err.splitlines()[-1] == (f"call-monitor: error: stopped by SIGTERM: every call scored before it (0 of "
                                    f"the 1 to score) is in {db}; the same command with --resume scores the rest")
    assert len(forked) == 1 and not process_alive(forked[0])


def test_a_worker_that_cannot_load_the_model_fails_each_of_its_calls_with_the_reason(tmp_path):
    """The model loads on the client, and is gone when a worker joins the scheduler (a folder
    removed mid-run, or not where the worker's machine has it): each call fails in one line naming
    the file and the model's problem, the table says so too, and the batch exits 1."""
    model = korean_model(tmp_path)
    dask = Path(PY).with_name("dask")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    info = tmp_path / "scheduler.json"
    started = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                                 "127.0.0.1:0", "--scheduler-file", str(info)], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    files = [str(SPEECH / "ko_passage.wav"), str(SPEECH / "ko_distress.wav")]
    db, out = tmp_path / "events.db", tmp_path / "summary.csv"
    try:
        assert wait_for(lambda: scheduler_address(info), 60), "the scheduler did not start"
        address = scheduler_address(info)
        batch = subprocess.Popen([PY, "-m", "monitor.cli", "batch", "--transcribe", "--model", str(model), *files,
                                  "--scheduler", address, "--db", str(db), "--out", str(out)], env=env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        said, err, waits = "", batch.stderr.fileno(), "the scheduler has no workers yet"
        # read unbuffered (the notes and that line may come in one read) to that line's end (it may
        # come in two reads): after the model's notes, the batch waits
        while waits not in said or "\n" not in said[said.index(waits):]:
            assert select.select([err], [], [], 120)[0], f"nothing said while waiting for workers: {said}"
            more = os.read(err, 65536).decode()
            assert more, f"the batch ended before waiting for workers: {said}"
            said += more
        after = said[said.index(waits):].split("\n", 1)[1]  # anything said after that line
        shutil.rmtree(model)  # the model goes (its links; the package's files stay)
        started.append(subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1"], env=env,
                                        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True))
        rest = (after + batch.communicate(timeout=300)[1]).splitlines()
    finally:
        for proc in reversed(started):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    why = f"cannot transcribe ({model}: no such model folder)"
    assert batch.returncode == 1, rest
    assert rest[:-1] == [f"call-monitor: error: {f}: {why}" for f in files]
    assert rest[-1].startswith("call-monitor: 0 scored, 0 already scored, 2 failed")
    assert [(r["path"], r["status"], r["error"]) for r in read_csv(out)] == [(f, "failed", f"{f}: {why}") for f in files]
    assert db_rows(db, "SELECT id FROM calls") == [] and db_rows(db, "SELECT id FROM batch_calls") == []


# ------------------------------------------------------------------ inputs (no cluster)

def test_inputs_are_files_folders_globs_and_manifests_once_each(tmp_path):
    """A folder is searched as a glob is, hidden names left out (a Mac's ._one.wav, no audio, beside
    each recording copied from it; a .Trash); a hidden recording named itself is scored."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".Trash").mkdir()
    for p in ("a/one.wav", "a/._one.wav", "a/.Trash/old.wav", "a/b/two.FLAC", "a/b/notes.txt", "three.ogg",
              ".four.ogg"):
        (tmp_path / p).write_bytes(b"")
    manifest = tmp_path / "calls.csv"
    manifest.write_text("path,caller_channel,agent_channel,call_id\nthree.ogg,0,-1,C-17\na/one.wav,,,\n")
    jobs = expand_inputs([str(tmp_path / "a"), str(manifest), str(tmp_path / "*.ogg"), str(tmp_path / ".four.ogg")])
    assert [Path(j.path).relative_to(tmp_path).as_posix() for j in jobs] == ["a/one.wav", "a/b/two.FLAC", "three.ogg",
                                                                            ".four.ogg"]
    assert [j.index for j in jobs] == [0, 1, 2, 3]
    assert jobs[2] == CallJob(str(tmp_path / "three.ogg"), caller_channel=0, agent_channel=None, call_id="C-17",
                              index=2, row=f"{manifest} line 2")
    assert jobs[0].row == ""  # found in a folder: no manifest row


def test_a_manifests_rows_are_named_by_their_line_in_the_file_blank_lines_counted(tmp_path):
    """A manifest with blank lines among its rows (which are no rows): a row, and its problem, are
    said by the line of the file it is on, as an editor shows it."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text("path,note\n\none.wav,first\n\n\ntwo.wav,\n")
    assert [job.row for job in expand_inputs([str(manifest)])] == [f"{manifest} line 3", f"{manifest} line 6"]
    manifest.write_text("path,caller_channel\n\none.wav,right\n")
    with pytest.raises(InputError, match=re.escape(f"{manifest} line 3: not a channel number: 'right'")):
        expand_inputs([str(manifest)])


def test_a_manifest_row_with_more_cells_than_its_header_is_refused_naming_its_line(tmp_path):
    """A path or note holding an unquoted comma splits its row into more cells than the header
    has: the path cut at the comma and every later value read under the wrong column (a note as
    the call_id, a call_id as a channel). The manifest is refused, naming the row's line and how to
    quote such a value, rather than a call scored on legs no one asked for or failed under a path
    cut short; quoted, the same row is read as it is meant."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text("path,call_id,caller_channel,agent_channel\nfine.wav,A1,1,0\nSmith, John.wav,A2,1,0\n")
    with pytest.raises(InputError) as err:
        expand_inputs([str(manifest)])
    assert str(err.value) == (f"{manifest} line 3: 5 cells, the header has 4: a value holding a comma (a path, "
                              'a note) must be in double quotes ("a, b.wav")')
    manifest.write_text('path,call_id,caller_channel,agent_channel\n"Smith, John.wav",A2,0,1\n')
    [job] = expand_inputs([str(manifest)])
    assert (os.path.basename(job.path), job.call_id, job.caller_channel, job.agent_channel) == (
        "Smith, John.wav", "A2", 0, 1)


@pytest.mark.parametrize("columns, row, said", [
    ("caller_channel", "-1", "the caller channel must be 0 or more (-1 asked)"),
    ("caller_channel", "-3", "the caller channel must be 0 or more (-3 asked)"),
    ("caller_channel,agent_channel", "1,-2", "the agent channel must be 0 or more, or -1 for none (-2 asked)"),
])
def test_a_manifests_negative_channel_is_its_rows_error_as_the_options_one_is(tmp_path, columns, row, said):
    """As --caller-channel and --agent-channel: a channel is 0 or more, the agent's -1 alone means no
    agent leg; below that the row is named with what it asks."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text(f"path,{columns}\none.wav,{row}\n")
    with pytest.raises(InputError, match=re.escape(f"{manifest} line 2: {said}")):
        expand_inputs([str(manifest)])
    manifest.write_text("path,caller_channel,agent_channel\none.wav,0,-1\n")
    assert expand_inputs([str(manifest)])[0].agent_channel is None


def test_a_recording_reached_by_a_link_too_is_scored_once_by_its_first_name(tmp_path):
    """An archive sorted two ways (by date, and by agent through links to the same files): each
    recording is one call, under the name met first; a hard link to it and a name through a linked
    folder are the same recording too."""
    (tmp_path / "bydate").mkdir()
    (tmp_path / "byagent" / "alice").mkdir(parents=True)
    for name in ("c1.wav", "c2.wav"):
        (tmp_path / "bydate" / name).write_bytes(b"")
    (tmp_path / "byagent" / "alice" / "c1.wav").symlink_to("../../bydate/c1.wav")
    os.link(tmp_path / "bydate" / "c2.wav", tmp_path / "c2-copy.wav")
    (tmp_path / "dates").symlink_to("bydate")
    jobs = expand_inputs([str(tmp_path / "byagent"), str(tmp_path / "bydate"), str(tmp_path / "c2-copy.wav"),
                          str(tmp_path / "dates" / "c1.wav")])
    assert [Path(j.path).relative_to(tmp_path).as_posix() for j in jobs] == ["byagent/alice/c1.wav", "bydate/c2.wav"]
    assert [j.index for j in jobs] == [0, 1]


def test_a_folder_searched_follows_its_links_to_folders_each_folder_once(tmp_path):
    """An archive whose months are links to the shares that hold them: the recordings under a
    linked folder are scored as those of a folder are (a glob follows such a link too), rather than
    left out without a word. A link back up the tree (a loop) or to a folder searched already adds
    no call and no endless search: each folder is searched once, each recording scored once."""
    (tmp_path / "share" / "2024-05").mkdir(parents=True)
    (tmp_path / "share" / "2024-05" / "m1.wav").write_bytes(b"")
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "own.wav").write_bytes(b"")
    (tmp_path / "archive" / "2024-05").symlink_to(tmp_path / "share" / "2024-05")
    (tmp_path / "archive" / "again").symlink_to(tmp_path / "share" / "2024-05")
    (tmp_path / "archive" / "2024-05" / "up").symlink_to(tmp_path / "archive")
    jobs = expand_inputs([str(tmp_path / "archive")])
    assert [Path(j.path).relative_to(tmp_path / "archive").as_posix() for j in jobs] == ["own.wav", "2024-05/m1.wav"]


def test_a_recursive_glob_searches_each_folder_once_whatever_links_loop_back(tmp_path):
    """``batch '/archive/**/*.wav'`` over an archive holding a link back up its tree: each folder is
    searched once, by the name met first, as a folder input searches it; glob's own ``**`` went
    round the loop until the system refused the path (the recording named through forty links,
    ``archive/up/up/.../x.wav``; with two such links, a search without end)."""
    archive = tmp_path / "archive"
    (archive / "b").mkdir(parents=True)
    (archive / "x.wav").write_bytes(b"")
    (archive / "b" / "y.wav").write_bytes(b"")
    (archive / "up").symlink_to(archive)
    jobs = expand_inputs([f"{archive}/**/*.wav"])
    assert [Path(j.path).relative_to(archive).as_posix() for j in jobs] == ["b/y.wav", "x.wav"]


def test_an_empty_input_is_refused_not_read_as_the_working_folder(tmp_path, monkeypatch):
    """``batch "$MONTH"`` with the variable unset: the empty input is one line saying so before
    anything is scored, rather than the working folder searched and its recordings scored (or the
    folder itself failed under its own name, which no one gave)."""
    (tmp_path / "here.wav").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as err:
        expand_inputs(["", str(tmp_path / "here.wav")])
    assert str(err.value) == '"": an empty path; give a recording, folder, glob or manifest'


def test_a_folder_that_is_not_there_is_said_to_be_no_folder_not_a_file(tmp_path):
    """``batch /archive/2024-5/`` (a month mistyped): the input named as given, as a folder, before
    anything is scored, as a glob that matches nothing is."""
    with pytest.raises(InputError) as err:
        expand_inputs([f"{tmp_path}/2024-5/"])
    assert str(err.value) == f"{tmp_path}/2024-5/: no such folder"


def test_a_recording_whose_name_looks_like_a_pattern_is_that_recording(tmp_path):
    (tmp_path / "call[1].wav").write_bytes(b"")
    (tmp_path / "call1.wav").write_bytes(b"")  # what the pattern call[1].wav would match
    jobs = expand_inputs([str(tmp_path / "call[1].wav")])
    assert [Path(j.path).name for j in jobs] == ["call[1].wav"]


def test_an_mp3_in_a_folder_is_scored_as_replay_reads_it(tmp_path):
    x, sr = sf.read(ARCHIVE[0])
    sf.write(tmp_path / "call.mp3", x[:40 * sr], sr, format="MP3")
    jobs = expand_inputs([str(tmp_path)])
    assert [Path(j.path).name for j in jobs] == ["call.mp3"]
    out = tmp_path / "summary.csv"
    done = call_monitor_here("batch", str(tmp_path), "--workers", "1", "--quiet", "--db", str(tmp_path / "e.db"),
                    "--out", str(out))
    assert done.returncode == 0, done.stderr
    (row,) = read_csv(out)
    assert row["status"] == "scored" and abs(float(row["duration_s"]) - 40) < 0.1


def test_a_manifest_may_list_a_recording_once_per_pair_of_legs(tmp_path):
    """Both legs of a stereo recording scored as the caller: two calls, not one silently dropped."""
    manifest = tmp_path / "legs.csv"
    manifest.write_text("path,caller_channel,agent_channel,call_id\n"
                        "call.wav,1,0,right\ncall.wav,0,1,left\ncall.wav,1,0,right again\n")
    (tmp_path / "call.wav").write_bytes(b"")
    jobs = expand_inputs([str(manifest), str(tmp_path / "call.wav")])
    assert [(j.caller_channel, j.agent_channel, j.call_id, j.index) for j in jobs] == [(1, 0, "right", 0),
                                                                                      (0, 1, "left", 1)]


def test_a_manifest_row_naming_a_call_again_with_another_call_id_is_said_with_the_call_id_kept(tmp_path):
    """First mention wins: a row naming a call listed before (the same recording and channels) is
    not scored again, and when its call_id is another, one line names the manifest, the row, the
    row it repeats and the call_id kept. A row repeating a call with its own call_id, or none, is
    the same call said the same way: nothing to say."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    sf.write(tmp_path / "n.wav", x, rate)
    sf.write(tmp_path / "k.wav", x[:, ::-1], rate)
    manifest, out = tmp_path / "calls.csv", tmp_path / "summary.csv"
    manifest.write_text("path,caller_channel,agent_channel,call_id\n"
                        "n.wav,1,0,A1\nn.wav,0,1,B1\nk.wav,1,0,K1\nn.wav,1,0,A1-again\nn.wav,1,0,A1\nk.wav,1,0,\n")
    done = call_monitor_here("batch", str(manifest), "-j", "1", "--db", str(tmp_path / "e.db"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    said = done.stderr.splitlines()
    assert said[0] == (f"call-monitor: warning: {manifest} line 5: {tmp_path / 'n.wav'} (caller channel 1, agent "
                       f"channel 0) is named already ({manifest} line 2): it is scored once, with call_id 'A1'; "
                       "this row's call_id 'A1-again' is not used")
    # B1 and K1 take the agent's channel for the caller's: said as any recording whose legs read swapped
    assert [line.split(": the call's legs read the wrong way round")[0] for line in said[1:-1]] == [
        f"call-monitor: warning: {tmp_path / 'n.wav'}", f"call-monitor: warning: {tmp_path / 'k.wav'}"]
    assert said[-1].startswith("call-monitor: 3 scored, 0 already scored, 0 failed")
    assert [(r["call_id"], r["caller_channel"], r["status"]) for r in read_csv(out)] == [
        ("A1", "1", "scored"), ("B1", "0", "scored"), ("K1", "1", "scored")]


def test_a_mono_recording_a_manifest_lists_with_other_legs_is_one_call(tmp_path):
    """A mono recording has one leg whatever channels a row names: a second row for it is the same
    call (it was scored twice, the table and the database disagreeing on its legs)."""
    sf.write(tmp_path / "mono.wav", np.zeros(8000, np.float32), 8000)
    manifest = tmp_path / "calls.csv"
    manifest.write_text("path,caller_channel,agent_channel,call_id\nmono.wav,0,-1,A-3\nmono.wav,0,1,A-4\n")
    notes: list[str] = []
    jobs = expand_inputs([str(manifest)], notes=notes)
    assert [(j.call_id, j.index) for j in jobs] == [("A-3", 0)]
    assert notes == [f"{manifest} line 3: {tmp_path / 'mono.wav'} (mono: one call whatever channels a row names) is "
                     f"named already ({manifest} line 2): it is scored once, with call_id 'A-3'; this row's call_id "
                     "'A-4' is not used"]

def test_a_manifest_row_naming_a_call_again_with_other_holds_is_said_with_the_holds_kept(tmp_path):
    """A row naming a call listed before with other holds (or none) is not scored again: one line
    names the row, the row it repeats and the holds kept, with its other call_id if it has one; the
    same holds written otherwise are the same call, nothing to say."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text('path,call_id,hold\nn.wav,A1,"1:40-2:25"\nn.wav,,100-145\nn.wav,,\nn.wav,A2,0:10-0:20\n')
    notes: list[str] = []
    jobs = expand_inputs([str(manifest)], notes=notes)
    assert [(j.call_id, j.holds) for j in jobs] == [("A1", ((100.0, 145.0),))]
    n = tmp_path / "n.wav"
    assert notes == [
        f"{manifest} line 4: {n} (caller channel 1, agent channel 0) is named already ({manifest} line 2): it is "
        "scored once, with hold '1:40-2:25'; this row's empty hold is not used",
        f"{manifest} line 5: {n} (caller channel 1, agent channel 0) is named already ({manifest} line 2): it is "
        "scored once, with call_id 'A1' and hold '1:40-2:25'; this row's call_id 'A2' and hold '0:10-0:20' are not used"]


def test_a_line_said_while_the_progress_bar_shows_stands_on_its_own_line(capsys):
    """A call's error or warning said while the scoring's progress bar shows on the terminal: the
    bar is cleared first and drawn again after, so the line starts a line of its own rather than
    running on after the bar's text ("...0.02 h audio]call-monitor: warning: ...")."""
    from monitor.batch.runner import BatchOutcome, _Progress
    from monitor.console import warning
    progress = _Progress(3, "bar")
    progress.update(BatchOutcome(audio_s=60.0))
    progress.lines(warning)("calls/x.wav: truncated or damaged, scored the 9.37 s before its audio breaks off")
    progress.update(BatchOutcome(audio_s=120.0))
    progress.close()
    err = capsys.readouterr().err
    assert re.search(r"\r *\rcall-monitor: warning: calls/x\.wav: truncated or damaged, scored the 9\.37 s "
                     r"before its audio breaks off\n\r", err), err
    assert _Progress(3, None).lines(warning) is warning  # no bar (--quiet): said as it is
    assert _Progress(3, "lines").lines(warning) is warning  # no bar (a log): said as it is


def test_a_batch_writing_to_a_log_says_its_progress_in_a_line_every_so_often(capsys):
    """Under nohup or cron (stderr a file or a pipe) a bar's carriage returns would pile up as one
    endless line, and without one a long batch said nothing until its end: its progress is a line
    every so often instead, at the first call done after the interval: the calls done of all,
    those flagged so far, the rate, x real time, the time so far and the time left. The last call's
    line is the batch's summary."""
    from monitor.batch.runner import BatchOutcome, _Progress
    flagged = {"status": "scored", "alerts": 2, "critical_alerts": 1}
    clean = {"status": "scored", "alerts": 0, "critical_alerts": 0}
    every_call = _Progress(3, "lines", every_s=0.0)
    every_call.update(BatchOutcome(audio_s=180.0), [flagged])
    every_call.update(BatchOutcome(audio_s=360.0), [flagged, clean])
    every_call.update(BatchOutcome(audio_s=540.0), [flagged, clean, flagged])
    said = capsys.readouterr().err
    assert "\r" not in said
    line = (r"call-monitor: {} of 3 calls done, 1 flagged; \d+\.\d calls/min, \d+x real time; 0:00:00 so far, "
            r"about 0:00:\d\d to go")
    assert [re.fullmatch(line.format(n), text) is not None for n, text in zip((1, 2), said.splitlines())] \
        == [True, True] and len(said.splitlines()) == 2, said
    seldom = _Progress(3, "lines")  # every 30 s: not within these calls
    seldom.update(BatchOutcome(audio_s=180.0), [clean])
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("where, shown", [("terminal", "bar"), ("terminal of no size", "lines"),
                                          ("terminal of no height", "lines"), ("file", "lines"), ("pipe", "lines")])
def test_the_scorings_progress_is_a_bar_on_a_terminal_and_lines_in_a_log(tmp_path, monkeypatch, where, shown):
    """Where stderr goes decides how the progress shows: a bar on a terminal that says its size, lines
    written to a file, a pipe or a terminal whose size is unknown (0 by 0, as a serial console's or one
    not sized yet, or of no height, where tqdm draws nothing); --quiet shows none."""
    import argparse
    from monitor.commands.batch import _progress_shown
    if where.startswith("terminal"):
        controller, tty = os.openpty()
        rows_cols = {"terminal": (24, 80), "terminal of no size": (0, 0), "terminal of no height": (0, 80)}[where]
        fcntl.ioctl(tty, termios.TIOCSWINSZ, struct.pack("HHHH", *rows_cols, 0, 0))
        stream = os.fdopen(tty, "w")
    elif where == "file":
        stream = open(tmp_path / "batch.log", "w")
    else:
        controller, writer = os.pipe()
        stream = os.fdopen(writer, "w")
    with stream:
        monkeypatch.setattr(sys, "stderr", stream)
        assert _progress_shown(argparse.Namespace(quiet=False)) == shown
        assert _progress_shown(argparse.Namespace(quiet=True)) is None
    if where != "file":
        os.close(controller)


def test_the_check_of_the_recordings_shows_its_progress_when_asked_and_finds_the_same_problems(tmp_path,
                                                                                                capsys):
    """Before any worker starts, every header is read (a long wait for many files): the line that
    shows it on stderr changes none of what it finds. A call a manifest lists is said with its row."""
    gone, wav = str(tmp_path / "gone.wav"), str(ARCHIVE[0])
    jobs = [CallJob(wav, index=0), CallJob(gone, index=1), CallJob(wav, caller_channel=5, index=2),
            CallJob(gone, index=3, row="calls.csv line 4")]
    quiet = unopenable(jobs)
    assert capsys.readouterr().err == ""
    assert unopenable(jobs, progress_after_s=0.0) == quiet
    assert quiet == {1: f"{gone}: no such file", 2: f"{wav}: has 2 channel(s), channel 5 asked",
                     3: f"{gone}: no such file (listed on calls.csv line 4)"}  # the manifest's row to mend
    assert "checking recordings" in capsys.readouterr().err


@pytest.mark.parametrize("text, problem", [
    ("file,caller\nx.wav,0\n", "a manifest needs a 'path' column (its columns: file, caller)"),
    ("", "a manifest needs a 'path' column (it is empty)"),
    ("path,caller_channel\n", "a manifest needs at least one row under its header"),
    ("path;caller_channel\nx.wav;0\n", "a manifest needs a 'path' column (its one column: 'path;caller_channel'; "
                                       "a manifest's columns are separated by commas, not ';')"),
])
def test_a_manifest_without_a_path_column_or_rows_is_named_with_what_it_holds(tmp_path, text, problem):
    manifest = tmp_path / "calls.csv"
    manifest.write_text(text)
    with pytest.raises(InputError) as err:
        expand_inputs([str(manifest)])
    assert str(err.value) == f"{manifest}: {problem}"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_manifest_not_in_utf8_is_refused_naming_its_line_and_what_to_do(tmp_path, bom):
    """A spreadsheet's export in Windows-1252, an accent in a column of the user's own: the line
    that is not UTF-8, its byte, and how to save it."""
    manifest = tmp_path / "calls.csv"
    manifest.write_bytes(bom + b"path,notes\nx.wav,fine\ny.wav,caf\xe9 client\n")
    with pytest.raises(InputError) as err:
        expand_inputs([str(manifest)])
    assert str(err.value) == (f"{manifest} line 3: not UTF-8 text (byte 0xe9): save the manifest as UTF-8 "
                              "(a spreadsheet's 'CSV UTF-8')")


@pytest.mark.parametrize("header", ["path,caller_channel,path", "path,agent_channel, agent_channel"])
def test_a_manifest_naming_a_column_it_is_read_by_twice_is_refused_naming_it(tmp_path, header):
    """Two ``path`` columns (or two of a channel's) would have one of them read and the other
    dropped unsaid: the manifest is refused, naming the column."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text(f"{header}\nx.wav,0,y.wav\n")
    column = header.split(",")[-1].strip()
    with pytest.raises(InputError) as err:
        expand_inputs([str(manifest)])
    assert str(err.value) == (f"{manifest}: column '{column}' is named 2 times in its header: "
                              "a manifest names each of its columns once")


@pytest.mark.parametrize("column, meant", [
    ("caller", "caller_channel"), ("agent_chanel", "agent_channel"), ("callid", "call_id"),
    ("Caller_Channel", "caller_channel"), ("call-id", "call_id"), ("holds", "hold"), ("Hold", "hold"),
])
def test_a_manifest_column_meant_as_a_known_one_is_refused_naming_it(tmp_path, column, meant):
    """A column spelt unlike the one it is meant as (a channel's, its values channel numbers) would
    leave every call on the default legs, unsaid: the manifest is refused, naming the column and
    the one it looks meant as."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text(f"path,{column}\nx.wav,0\n")
    with pytest.raises(InputError) as err:
        expand_inputs([str(manifest)])
    assert str(err.value) == (f"{manifest}: column '{column}' is not one a manifest is read by (did you mean "
                              f"{meant}?); its columns are path, caller_channel, agent_channel, call_id, agent_path, hold")


def test_a_manifest_column_like_a_channels_beside_that_channels_own_is_the_users(tmp_path):
    """``agent`` holding the agents' numbers beside ``agent_channel``: the channel is read from its
    own column, so ``agent`` is not meant as it, and the manifest is not refused."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text("path,caller_channel,agent_channel,agent\nx.wav,1,0,1042\n")
    [job] = expand_inputs([str(manifest)])
    assert (job.caller_channel, job.agent_channel) == (1, 0)


def test_a_manifest_keeps_its_own_columns_and_reads_names_spaced_after_commas(tmp_path):
    """Columns like no known one (notes, an agent's name), and ones named like a channel's whose
    values are no channels (the agent's name under ``agent``, the caller's number under
    ``caller_id``), are the user's; a space after a comma in the header is no part of a name."""
    manifest = tmp_path / "calls.csv"
    manifest.write_text("path, caller_channel, agent_channel, agent, caller_id, notes\n"
                        "x.wav, 0, -1, Ann, +44 20 7946 0000, callback\n")
    [job] = expand_inputs([str(manifest)])
    assert (job.caller_channel, job.agent_channel) == (0, None)


# ------------------------------------------------------------------ the archive report

def test_the_archive_report_shows_kinds_cue_distributions_and_links_flagged_calls(archive, tmp_path):
    page = tmp_path / "archive.html"
    done = call_monitor_here("report", "--batch", archive["out"], "--db", archive["db"], "-o", page)
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    rows = archive["rows"]
    flagged = [r for r in rows if r["status"] == "scored" and int(r["alerts"]) > 0]
    assert f"{len(rows)} calls &middot; 10 scored &middot; 2 failed" in html
    assert ("<tr data-kind=\"possible_emergency\"><td>possible emergency</td><td><span class=\"sev critical\">"
            "critical</span></td>") in html
    emergencies = sum(int(r["alerts_possible_emergency"]) > 0 for r in rows if r["status"] == "scored")
    assert f"<td class=\"num\">{emergencies}</td>" in html
    assert html.count("data:image/png;base64,") == 1 and "http" not in html.replace("http-equiv", "")
    assert f"Flagged calls ({len(flagged)})" in html
    for r in flagged:  # each flagged call links its own self-contained report, written from the store
        link = tmp_path / "archive_calls" / f"call-{r['db_call_id']}.html"
        assert f"href=\"archive_calls/call-{r['db_call_id']}.html\"" in html
        assert "Call report:" in link.read_text()
    assert str(archive["missing"]) in html.split("could not be scored")[1]
    reads_to_a_screen_reader_with_its_histograms_in_words(html, rows)


def reads_to_a_screen_reader_with_its_histograms_in_words(html: str, rows: list[dict]) -> None:
    """WCAG 2.1 AA as a parser checks it (:func:`a11y.audit`), and the histograms' alternative is a
    table: per enabled rule, how many scored calls are past each of its dashed lines, the way it watches.
    An alert kind reads as words ("possible emergency"), its key staying the rows' data (data-kind)."""
    from a11y import audit
    assert audit(html) == []
    words_read = re.sub(r"<[^>]*>", " ", html)  # the page's words, without its tags and their attributes
    kinds = [c[len("alerts_"):] for c in rows[0] if c.startswith("alerts_")]
    assert kinds and not [k for k in kinds if k in words_read], "an alert kind's key among the words"
    # each kind with how many times it was raised: "slow response (2)", not "x2" (read "x two")
    assert re.search(r"<td>([a-z]+ )*[a-z]+ \(\d+\)(, ([a-z]+ )*[a-z]+ \(\d+\))*</td>", html.split('id="flagged"')[1])
    assert 'aria-describedby="distributions-caption"' in html and "the table below says them in words" in html
    words = html.split('<table id="cues-in-words">')[1].split("</table>")[0]
    scored = [r for r in rows if r["status"] == "scored"]
    for rule in (r for r in load_config(user_config=False).rules.acoustic if r.enabled):
        row = words.split(f"<tr data-kind=\"{rule.kind}\"><td>{kind_name(rule.kind)}</td>")[1].split("</tr>")[0]
        medians = [float(r[f"median_{rule.cue}"]) for r in scored if r[f"median_{rule.cue}"] not in ("", None)]
        past = sum(m < rule.absolute if rule.direction == "below" else m > rule.absolute for m in medians) \
            if rule.absolute is not None else None
        assert (f"{past} of {len(medians)} ({rule.direction} {rule.absolute:.3g})" if past is not None
                else "no such line") in row, (rule.kind, row)


def test_the_archive_page_histograms_count_whole_calls_on_an_axis_that_says_so(archive):
    """Each histogram's height is calls: its axis says so, and its ticks are whole calls (a table of
    a few calls drew ticks at half a call)."""
    import matplotlib.pyplot as plt
    from monitor.report.archive import distributions_figure
    fig = distributions_figure(archive["rows"][:3], load_config(user_config=False))
    try:
        assert fig.axes and {ax.get_ylabel() for ax in fig.axes} == {"calls"}
        assert all(float(t).is_integer() for ax in fig.axes for t in ax.get_yticks())
    finally:
        plt.close(fig)


def test_the_archive_report_names_the_calls_with_no_caller_speech_heard_rather_than_counting_them_clean(tmp_path):
    """A call whose caller leg is silent (the caller on the agent's channel) raised nothing because
    nothing was judged: the overview's banner counts such calls and lists them, in grey not green."""
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30)
    heard, silent = tmp_path / "heard.wav", tmp_path / "caller_on_the_left.wav"
    sf.write(heard, x, sr)
    sf.write(silent, np.stack([x[:, 1], np.zeros(len(x))], axis=1), sr)
    out, page = tmp_path / "summary.csv", tmp_path / "archive.html"
    assert call_monitor_here("batch", heard, silent, "--workers", "1", "--db", tmp_path / "e.db", "--out", out,
                    "--quiet").returncode == 0
    assert call_monitor_here("report", "--batch", out, "-o", page).returncode == 0
    html = page.read_text()
    assert ("<div class=\"banner unjudged\">0 call(s) with a critical alert, 0 with a warning, 0 flagged in all, "
            "of 2 scored; 1 with no caller speech heard: nothing judged; 1 with legs that read the wrong way round: "
            "judged on the agent&#x27;s voice</div>") in html
    listed = html.split("nothing judged (1)")[1]
    assert str(silent) in listed and str(heard) not in listed


@pytest.mark.parametrize("bare", [False, True], ids=["an empty file", "an SQLite file with no tables"])
def test_an_empty_database_file_is_none_to_the_archive_report_which_says_so_and_reads_the_recordings(
        flagged_table, tmp_path, bare):
    """A --db that is an empty file (made by touch), or an SQLite file with no tables, is as one not
    there: said in one warning line, the flagged calls' reports are written from their recordings,
    and the file is left as it was (a report makes no database)."""
    empty, page = tmp_path / "empty.db", tmp_path / "archive.html"
    bare_sqlite_file(empty) if bare else empty.write_bytes(b"")
    before = empty.read_bytes()
    done = call_monitor_here("report", "--batch", flagged_table, "--db", empty, "-o", page)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("(1 call report(s) beside it)") and empty.read_bytes() == before
    assert (tmp_path / "archive_calls" / "call-1.html").is_file()
    what = "an SQLite file with no tables" if bare else "an empty file"
    assert (f"call-monitor: warning: {empty}: not a callmonitor database ({what}): the flagged calls' reports are "
            "made from their recordings") in done.stderr.splitlines()


@pytest.fixture
def flagged_table(tmp_path) -> Path:
    """A batch table of one flagged call, 30 s of a fixture recording, with no database behind it."""
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30)
    recording = tmp_path / "short.wav"
    sf.write(recording, x, sr)
    table = tmp_path / "summary.csv"
    table.write_text(f"path,caller_channel,agent_channel,status,alerts\n{recording},1,0,scored,1\n")
    return table


def test_an_archive_reports_call_report_made_from_its_recording_is_of_the_call_with_its_holds(hold_music_call,
                                                                                               tmp_path):
    """A flagged call's report made from its recording (no database behind the table) replays it
    with the holds its row was scored with (the table's ``hold``), as ``report FILE --hold`` would:
    its notes say the hold."""
    from dataclasses import replace

    from monitor.config import Config
    from monitor.report.archive import read_table, write_call_reports
    table = tmp_path / "summary.csv"
    table.write_text(f"path,caller_channel,agent_channel,hold,status,alerts\n{hold_music_call},1,0,0:05-0:10,scored,2\n")
    cfg = Config()
    cfg = replace(cfg, storage=replace(cfg.storage, db=str(tmp_path / "none.db")))  # from the recording
    write_call_reports(read_table(str(table)), cfg, str(tmp_path / "calls"), str(tmp_path), on_error=pytest.fail)
    page = html.unescape((tmp_path / "calls" / "call-1.html").read_text(encoding="utf-8"))
    assert "The caller was on hold from 0:05 to 0:10 (`call-monitor call hold`" in page


def test_the_archive_reports_call_reports_show_their_progress_as_the_batchs_and_are_the_same(flagged_table, tmp_path,
                                                                                             capsys):
    """Making the flagged calls' reports takes about a second each (minutes for an archive's
    hundreds): their progress shows on stderr as the batch's does, a bar counting them on a
    terminal, a line every so often in a log (the last report's left to the command's own last
    line), and the reports and links are the same as without it; asked for none, nothing is said."""
    from dataclasses import replace

    from monitor.config import Config
    from monitor.report.archive import read_table, write_call_reports
    rows, cfg = read_table(str(flagged_table)), Config()
    cfg = replace(cfg, storage=replace(cfg.storage, db=str(tmp_path / "none.db")))  # from the recording
    quiet = write_call_reports(rows, cfg, str(tmp_path / "quiet"), str(tmp_path), on_error=pytest.fail)
    assert capsys.readouterr().err == ""
    shown = write_call_reports(rows, cfg, str(tmp_path / "shown"), str(tmp_path), on_error=pytest.fail,
                               progress="bar")
    assert "call reports" in capsys.readouterr().err
    assert {k: os.path.basename(v) for k, v in shown.items()} == {k: os.path.basename(v) for k, v in quiet.items()}
    assert len(quiet) == 1 and (tmp_path / "shown" / "call-1.html").exists()
    twice = [rows[0], {**rows[0], "path": str(tmp_path / "gone.wav")}]  # the second one fails: counted as done
    write_call_reports(twice, cfg, str(tmp_path / "logged"), str(tmp_path), on_error=lambda line: None,
                       progress="lines", every_s=0.0)
    said = capsys.readouterr().err
    assert re.fullmatch(r"call-monitor: 1 of 2 call reports done; \d+\.\d reports/min; 0:00:0\d so far, "
                        r"about 0:00:0\d to go\n", said), said


def test_the_archive_reports_bar_is_drawn_by_where_stderr_goes_not_stdout(flagged_table, tmp_path):
    """`report --batch` draws its progress on stderr, and whether as a bar is stderr's to decide, as
    for the batch: a log (stderr a file) gets no bar (its text, its carriage returns) though stdout
    is a terminal."""
    controller, tty = os.openpty()
    fcntl.ioctl(tty, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        with open(tmp_path / "report.log", "w+") as log:
            done = subprocess.run([PY, "-m", "monitor.cli", "report", "--batch", str(flagged_table), "--db",
                                   str(tmp_path / "none.db"), "-o", str(tmp_path / "a.html")], stdout=tty, stderr=log,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, timeout=120)
            log.seek(0)
            said = log.read()
    finally:
        os.close(tty)
        os.close(controller)
    assert done.returncode == 0 and "\r" not in said and "call reports:" not in said and said.splitlines()[-1] == (
        f"call-monitor: archive report written to {tmp_path / 'a.html'} (1 call report(s) beside it)"), said


def test_a_stop_while_the_archive_report_is_made_keeps_the_call_reports_written_and_says_where(flagged_table,
                                                                                           tmp_path):
    """Ctrl-C while the flagged calls' reports are made (their recordings replayed): one line says
    the archive page is not written and where the call reports already made are; those stay whole;
    exit 130, no traceback."""
    long = long_recording(tmp_path)
    with flagged_table.open("a") as table:
        table.write(f"{long},1,0,scored,1\n")  # after the first: as many alerts, later in the table
    page = tmp_path / "archive.html"
    done = stopped_once_open(["report", "--batch", flagged_table, "-o", page], long)
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"call-monitor: error: {page}: interrupted before the archive page was written: no page written; the call "
        f"reports already made are kept in {tmp_path / 'archive_calls'}")
    assert not page.exists()
    assert [p.name for p in (tmp_path / "archive_calls").iterdir()] == ["call-1.html"]


@pytest.mark.parametrize("sig, said, status", [("SIGINT", "interrupted", 130), ("SIGTERM", "stopped by SIGTERM", 143)])
def test_a_stop_as_a_block_of_a_recording_is_decoded_still_says_its_line(flagged_table, tmp_path, sig, said, status):
    """Ctrl-C or SIGTERM that lands just as the decoder hands back a block of a flagged call's
    recording, while its own lines are still kept off stderr, is said in the archive report's one
    line all the same (stderr is given back first), exit 130 or 143: no stop ends it silently."""
    page = tmp_path / "archive.html"
    done = stopped_after("soundfile:SoundFile.buffer_read_into", sig, "report", "--batch", flagged_table,
                         "-o", page)
    assert done.returncode == status and done.stderr.splitlines() == [
        f"call-monitor: error: {page}: {said} before the archive page was written: no page written; the call "
        f"reports already made are kept in {tmp_path / 'archive_calls'}"], done.stderr
    assert not page.exists() and not list((tmp_path / "archive_calls").iterdir())


def archive_report(table: Path, db: Path, page: Path, status: int = 0) -> list[str]:
    """What `report --batch TABLE --db DB -o PAGE` says on stderr, line by line (it exits 0, or 1
    when a flagged call's report could not be made)."""
    done = call_monitor_here("report", "--batch", table, "--db", db, "-o", page)
    assert done.returncode == status, done.stderr
    return done.stderr.splitlines()


def test_a_database_named_for_the_archive_report_that_is_not_there_is_said_and_none_is_made(flagged_table, tmp_path):
    """A mistyped --db shows: one warning line in the words of every command that reads a database,
    and the flagged call's report is made from its recording, as with no database at all."""
    db, page = tmp_path / "nope.db", tmp_path / "archive.html"
    assert archive_report(flagged_table, db, page) == [
        f"call-monitor: warning: {db}: no database there (nothing has been recorded to it yet): the flagged calls' "
        "reports are made from their recordings",
        f"call-monitor: archive report written to {page} (1 call report(s) beside it)"]
    assert not db.exists() and (tmp_path / "archive_calls" / "call-1.html").is_file()


def test_a_database_named_for_the_archive_report_that_holds_none_is_said_before_the_reports_are_made(
        flagged_table, tmp_path):
    """The warning comes before the flagged calls' reports are made from their recordings (minutes
    for a large archive), not once they are all made: what making them says (a recording gone since
    it was scored) comes after it; the page is written, and the exit status is 1 for the call report
    that could not be made."""
    gone = tmp_path / "gone.wav"
    flagged_table.write_text(flagged_table.read_text() + f"{gone},1,0,scored,1\n")
    db, page = tmp_path / "nope.db", tmp_path / "archive.html"
    said = archive_report(flagged_table, db, page, status=1)
    assert said[0] == (f"call-monitor: warning: {db}: no database there (nothing has been recorded to it yet): the "
                       "flagged calls' reports are made from their recordings")
    assert said[1:] == [f"call-monitor: error: {gone}: call report not written ({gone}: no such file or stored call id)",
                        f"call-monitor: archive report written to {page} (1 call report(s) beside it)"], said
    assert not db.exists()


def test_a_flagged_stored_calls_recording_gone_or_unreadable_since_is_said_as_report_of_its_id_says_it(
        flagged_table, tmp_path):
    """The archive's report of a flagged call the database holds is made from the store. Its
    recording moved since, or still at its path but not audio any more: the same warning line as
    `report ID` (naming the file, and the problem of one that cannot be read), and the page and
    the call's report written."""
    recording, db, page = tmp_path / "short.wav", tmp_path / "events.db", tmp_path / "archive.html"
    assert call_monitor_here("replay", recording, "--no-transcribe", "--db", db).returncode == 0
    flagged_table.write_text("path,caller_channel,agent_channel,status,alerts,db_call_id\n"
                             f"{recording},1,0,scored,1,1\n")

    def archive_report_says(what: str, then: str) -> None:
        assert archive_report(flagged_table, db, page) == [
            f"call-monitor: warning: call 1: its recording {recording} {what}{then} the waveform panel is replaced "
            "by the caller's speech activity from the cue snapshots",
            f"call-monitor: archive report written to {page} (1 call report(s) beside it)"]
        assert f"recording {recording} {what}" in (tmp_path / "archive_calls" / "call-1.html").read_text()

    recording.rename(tmp_path / "moved.wav")
    archive_report_says("is gone (moved or deleted)", ":")
    recording.write_bytes(b"not a recording " * 64)
    archive_report_says("is there but cannot be read: not an audio file (format not recognised; WAV, FLAC, OGG or "
                        "MP3 expected)", ";")


@pytest.mark.parametrize("edited", ["1e20", "9223372036854775808", "-3", "1.5"])
def test_a_flagged_calls_db_call_id_edited_into_no_id_a_call_can_have_is_no_stored_call_its_report_from_the_recording(
        flagged_table, tmp_path, edited):
    """A ``db_call_id`` cell edited by hand past SQLite's largest integer (which SQLite refuses to be
    asked for), below 1 or with a fraction names no stored call: the call's report is made from its
    recording, as for a row the database has not, and the page written; not a traceback."""
    db, page = tmp_path / "events.db", tmp_path / "archive.html"
    with Store.open(db) as store:
        store.start_call(str(tmp_path / "other.wav"), 1000.0)
    recording = flagged_table.read_text().splitlines()[1].split(",")[0]
    flagged_table.write_text("path,caller_channel,agent_channel,status,alerts,db_call_id\n"
                             f"{recording},1,0,scored,1,{edited}\n")
    assert archive_report(flagged_table, db, page) == [
        f"call-monitor: archive report written to {page} (1 call report(s) beside it)"]
    assert "short.wav" in (tmp_path / "archive_calls" / "call-1.html").read_text()


def test_an_empty_batch_table_is_refused_naming_the_option(tmp_path, own_home):
    """`report --batch "$TABLE"` with TABLE unset: one line naming --batch, as its neighbours say an
    empty path, exit 2; no page, no folder of call reports."""
    page = tmp_path / "archive.html"
    done = call_monitor_here("report", "--batch", "", "-o", str(page), env=own_home)
    assert done.returncode == 2
    assert done.stderr == ('call-monitor: error: --batch "": an empty path; give the table `call-monitor batch --out` '
                           "wrote (CSV or Parquet)\n")
    assert not page.exists() and not (tmp_path / "archive_calls").exists() and made_in(tmp_path / "home") == ["run"]


def test_the_options_of_a_recordings_report_given_with_an_archive_are_said_not_to_be_used(flagged_table, tmp_path):
    """An archive's call reports are made as the batch scored its calls (each row's channels,
    acoustic-only): channels or a model given with --batch are said in one warning line."""
    page = tmp_path / "archive.html"  # no --db, and none configured there: the recordings', unsaid
    done = call_monitor_here("report", "--batch", str(flagged_table), "-o", str(page), "--caller-channel", "0", "--model", "ko",
                    env=dict(os.environ, PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path / "data")))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "call-monitor: warning: --caller-channel 0, --model ko are not used: an archive's call reports are made as "
        "its calls were scored (from the database, else from the recording with the row's channels)",
        f"call-monitor: archive report written to {page} (1 call report(s) beside it)"]


@pytest.fixture(scope="module")
def scored_twice(tmp_path_factory) -> dict:
    """A recording with the caller on the left channel (a fixture call's first two minutes, its legs
    swapped: its critical alert comes at about 1:30 with the agent's leg or without), named twice by
    a manifest, once with its agent and once the caller alone, and scored by one batch on 1 worker;
    read-only to the tests, whose archive reports go to their own folders."""
    tmp = tmp_path_factory.mktemp("scored_twice")
    x, rate = sf.read(CALLS / "deteriorating_8k.wav", frames=8000 * 120, dtype="float32")
    sf.write(tmp / "left_caller.wav", x[:, ::-1], rate)
    manifest = tmp / "legs.csv"
    manifest.write_text("path,caller_channel,agent_channel,call_id\nleft_caller.wav,0,1,with-agent\n"
                        "left_caller.wav,0,-1,caller-alone\n")
    db, out = tmp / "events.db", tmp / "summary.csv"
    done = call_monitor_here("batch", str(manifest), "--workers", "1", "--quiet", "--db", str(db), "--out", str(out))
    return {"done": done, "db": db, "out": out, "rows": read_csv(out) if out.exists() else []}


def test_the_archive_report_links_each_call_of_a_recording_scored_twice_to_its_own_report(scored_twice, tmp_path):
    """A manifest may name a recording once per pair of legs: each of its rows is a call with a
    report of its own, not both rows the last one's."""
    assert scored_twice["done"].returncode == 0, scored_twice["done"].stderr
    rows, page = scored_twice["rows"], tmp_path / "archive.html"
    assert [r["call_id"] for r in rows] == ["with-agent", "caller-alone"] and all(int(r["alerts"]) for r in rows)
    done = call_monitor_here("report", "--batch", scored_twice["out"], "--db", scored_twice["db"], "-o", page)
    assert done.returncode == 0 and done.stderr.strip().endswith("(2 call report(s) beside it)"), done.stderr
    html = page.read_text()
    links = re.findall(r'<td><a href="archive_calls/(call-\d+\.html)">left_caller\.wav</a><br>'
                       r'<span class="muted">([^<]*)</span>', html)
    assert sorted(links) == sorted((f"call-{r['db_call_id']}.html", r["call_id"]) for r in rows)
    assert "no report of their own" not in html


def test_the_archive_report_tells_flagged_calls_of_one_name_in_different_folders_apart():
    """An archive kept by month and agent holds recordings of the same name in different folders:
    the flagged calls are named by their path under the folder common to them all (said once, above
    the table), not by their file name alone, which would list two calls alike that link to
    different reports; a lone flagged call is named by its file name."""
    from monitor.config import Config
    from monitor.report.archive import call_names, render_archive_html

    def row(path: str) -> dict[str, str]:
        return {"path": path, "status": "scored", "duration_s": "60", "alerts": "1", "alerts_long_pauses": "1",
                "first_warning_s": "20", "call_id": ""}
    rows = [row("/archive/2024-05/agentA/call_0001.wav"), row("/archive/2024-06/call_0001.wav")]
    html = render_archive_html("summary.csv", rows, Config(), b"", {})
    assert "Recordings under <code>/archive</code>" in html
    assert re.findall(r'<tr class="alert"><td>([^<]*)<br>', html) == [
        "2024-05/agentA/call_0001.wav", "2024-06/call_0001.wav"]
    assert call_names(rows[:1]) == ("/archive/2024-05/agentA", ["call_0001.wav"])
    assert call_names([row("calls/a.wav"), row("/archive/a.wav")]) == ("", ["calls/a.wav", "/archive/a.wav"])


def test_the_flagged_calls_table_tells_a_screen_reader_how_many_are_linked_when_not_all_are():
    """More flagged calls than get a report of their own (MAX_CALL_REPORTS), or one whose report could
    not be made: the table's caption, what a screen reader reads of it, says how many of them link to
    their reports rather than that each does."""
    from monitor.config import Config
    from monitor.report.archive import MAX_CALL_REPORTS, render_archive_html, row_key

    rows = [{"path": f"/archive/call_{i:04d}.wav", "status": "scored", "duration_s": "60", "alerts": "1",
             "alerts_long_pauses": "1", "first_warning_s": "20", "call_id": ""} for i in range(MAX_CALL_REPORTS + 1)]

    def caption(linked: int) -> str:
        links = {row_key(r): f"archive_calls/{i}.html" for i, r in enumerate(rows[:linked])}
        html = render_archive_html("summary.csv", rows, Config(), b"", links)
        return re.search(r'<table id="flagged"><caption class="sr">([^<]*)</caption>', html).group(1)
    assert caption(len(rows)) == "The flagged calls, those with a critical alert first, each linked to its call report"
    assert caption(MAX_CALL_REPORTS) == (f"The flagged calls, those with a critical alert first, {MAX_CALL_REPORTS} "
                                         "of them linked to their call reports")
    assert caption(0).endswith(", 0 of them linked to their call reports")


def test_the_table_records_each_calls_channels_and_the_archive_report_rebuilds_it_with_them(scored_twice, tmp_path):
    """A manifest row with the caller on the left channel: the table says so (as a manifest would:
    caller_channel, agent_channel, -1 for none), and a call report rebuilt from the recording (the
    database elsewhere) judges the same leg the batch did, not the default one."""
    assert scored_twice["done"].returncode == 0, scored_twice["done"].stderr
    rows, page = scored_twice["rows"], tmp_path / "archive.html"
    assert [(r["caller_channel"], r["agent_channel"]) for r in rows] == [("0", "1"), ("0", "-1")]
    assert all(int(r["critical_alerts"]) == 1 for r in rows)
    done = call_monitor_here("report", "--batch", scored_twice["out"], "--db", tmp_path / "elsewhere.db", "-o", page)
    assert done.returncode == 0, done.stderr
    reports = sorted((tmp_path / "archive_calls").glob("call-*.html"))
    assert len(reports) == 2
    for report in reports:
        assert 'class="banner critical">1 critical alert(s)' in report.read_text()


def test_the_archive_report_of_a_table_without_channel_columns_takes_the_default_legs():
    """A table written before it recorded the channels: caller on channel 1, agent on 0."""
    from monitor.report.archive import legs_of
    assert legs_of({"path": "a.wav"}) == {"caller_channel": 1, "agent_channel": 0}
    assert legs_of({"path": "a.wav", "caller_channel": "0", "agent_channel": "-1"}) == \
        {"caller_channel": 0, "agent_channel": None}


def test_the_archive_report_names_a_bad_table(tmp_path):
    table = tmp_path / "summary.csv"
    table.write_text("a,b\n1,2\n")
    done = call_monitor_here("report", "--batch", str(table), "-o", str(tmp_path / "a.html"))
    assert done.returncode == 1
    assert done.stderr.strip() == f"call-monitor: error: {table}: not a batch table (needs the columns path, " \
                                  f"status, alerts and a row; write one with call-monitor batch --out)"


def test_the_archive_report_reads_a_table_saved_from_a_spreadsheet_and_names_one_not_in_utf8(tmp_path):
    """A table edited in a spreadsheet and saved as "CSV UTF-8" begins with a byte order mark: it is
    read as the batch wrote it. One saved in Windows-1252 is named with its line and what to do, and
    a file that is no text at all (a recording given by mistake) is said to be none."""
    from monitor.report.archive import read_table
    from monitor.report.data import ReportError
    text = "path,status,alerts\ncafé.wav,scored,2\n"
    bom, cp1252, binary = tmp_path / "bom.csv", tmp_path / "cp1252.csv", tmp_path / "call.wav"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    cp1252.write_bytes(text.encode("cp1252"))
    sf.write(binary, np.random.default_rng(0).uniform(-0.5, 0.5, 800), 8000)
    assert read_table(str(bom)) == [{"path": "café.wav", "status": "scored", "alerts": "2"}]
    said = {}
    for table in (cp1252, binary):
        with pytest.raises(ReportError) as err:
            read_table(str(table))
        said[table] = str(err.value)
    assert said == {cp1252: f"{cp1252} line 2: not UTF-8 text (byte 0xe9): save the batch table as UTF-8 "
                            "(a spreadsheet's 'CSV UTF-8')",
                    binary: f"{binary}: not a batch table (not text; write one with call-monitor batch --out)"}


@pytest.mark.parametrize("name", ["summary.csv", "summary.parquet"])
def test_the_archive_report_of_a_table_it_may_not_read_says_so(tmp_path, name):
    table = tmp_path / name
    table.write_text("path,status,alerts\na.wav,scored,0\n")
    table.chmod(0)
    done = cli("report", "--batch", str(table), "-o", str(tmp_path / "a.html"), permissions_bind=True)
    assert done.returncode == 1 and not (tmp_path / "a.html").exists()
    assert done.stderr == f"call-monitor: error: {table}: cannot read the batch table (permission denied)\n"


def test_a_worker_reports_its_own_peak_memory_not_that_of_the_process_that_started_it():
    """Linux carries ``ru_maxrss`` across exec: a worker spawned by a large process (a notebook, the
    benchmark) must not report that process's peak as its own."""
    child = ("import sys; sys.path.insert(0, sys.argv[1]); from monitor.batch.score import _peak_rss_mb; "
             "print(_peak_rss_mb())")
    parent = ("import subprocess, sys, numpy as np; big = np.ones(50_000_000); "  # 400 MB touched
              f"print(subprocess.run([sys.executable, '-c', {child!r}, sys.argv[1]], capture_output=True, "
              "text=True, check=True).stdout)")
    done = subprocess.run([PY, "-c", parent, str(ROOT)], capture_output=True, text=True, check=True, timeout=120)
    assert 10.0 < float(done.stdout) < 200.0, done.stdout


def test_a_worker_holding_over_1024_files_open_hears_the_process_transcribing_its_call():
    """The worker waited for its transcribing process's pipe with select.select, which takes no file
    descriptor from 1024 on: a worker holding that many open (a large cluster's connections, say)
    failed every transcribed call ("filedescriptor out of range in select()"). It gets the call's
    outcome whatever the pipe's descriptor."""
    import resource

    from monitor.batch.score import _in_forked_child
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard limit of open files here is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held: list[int] = []
    try:
        with open(os.devnull) as null:
            while not held or held[-1] < 1100:  # the pipe gets the lowest descriptors free: above these
                held.append(os.dup(null.fileno()))
            assert _in_forked_child(sum, [1, 2, 3]) == 6
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_process_transcribing_a_call_whose_task_was_cancelled_is_ended_and_the_call_given_up():
    """A worker waits for the process it forked to transcribe a call: once the call's task is
    cancelled (its batch on a running cluster stopped), that process is ended and reaped, and the
    call given up, rather than its words decoded to the end for no one."""
    from monitor.batch.score import CallCancelled, _in_forked_child
    before, forked = set(child_processes(os.getpid())), []

    def cancelled() -> bool:
        forked.extend(set(child_processes(os.getpid())) - before)
        return True
    with pytest.raises(CallCancelled):
        _in_forked_child(time.sleep, 600, cancelled=cancelled)
    assert len(forked) == 1 and not process_alive(forked[0])
    assert set(child_processes(os.getpid())) == before


def test_the_report_of_a_call_the_batch_scored_says_nothing_of_a_series_file_it_never_had(archive, tmp_path):
    """A batch's workers write no series file of its calls (the report of one analyses its
    recording): that is how such a call is, not a file gone missing, so nothing is said of it."""
    flagged = next(r for r in archive["rows"] if r["status"] == "scored" and int(r["alerts"]) > 0)
    page = tmp_path / "call.html"
    done = call_monitor_here("report", "--db", archive["db"], flagged["db_call_id"], "-o", page)
    assert done.returncode == 0 and "Call report:" in page.read_text(), done.stderr
    assert "warning" not in done.stderr and "series" not in done.stderr, done.stderr
