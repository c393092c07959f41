"""`call-monitor replay`: recorded calls through the live pipeline, alerts out, stored first.

The fixture calls (tools/make_fixtures.py) carry labels: the onset of trouble and the
alerts expected and forbidden. Replay runs into a real SQLite file: in the test's process where what it
says and writes is the claim (``call_monitor_here``), as a real subprocess where its process is (a
signal, a kill, its two streams as one, stdout on a full disk).
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import (ALERTING_CALL, CALLS, JUNK_CHUNK, ROOT, call_monitor_here as here, crashed_recording,
                      fixture_label as label, made_once_for_all_workers, replay_under_way, stopped_at,
                      stopped_once_open, stored_calls, wait_for)
from monitor.capture.sources import FileSource
from monitor.config import load_config
from monitor.console import width
from monitor.files import recording_fingerprint

SCENARIOS = sorted(p.stem for p in CALLS.glob("*.json"))
RATES = ("16k", "8k")
CUE_KEYS = {"type", "t", "call_id", "channel", "speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_pause_s",
            "mean_phrase_s", "hnr_db", "cpps_db", "loudness_dbfs", "response_latency_s"}
ALERT_KEYS = {"type", "t", "kind", "severity", "message", "evidence", "actions"}


def split_calls(stdout: str) -> list[list[dict]]:
    """JSONL events grouped per replayed file (each group ends with its call_summary)."""
    calls, current = [], []
    for line in stdout.splitlines():
        ev = json.loads(line)
        current.append(ev)
        if ev["type"] == "call_summary":
            calls.append(current)
            current = []
    assert not current, "events after the last call_summary"
    return calls


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> dict:
    """Every fixture call at both rates, replayed once (acoustic only) into one database: once for
    the whole run, whichever workers run this module's tests (the tests only read it)."""
    def replay(folder: Path) -> dict:
        db = folder / "events.db"
        files = [str(CALLS / f"{name}_{rate}.wav") for name in SCENARIOS for rate in RATES]
        done = here("replay", "--jsonl", "--no-transcribe", "--db", str(db), *files)
        assert done.returncode == 0, done.stderr
        calls = split_calls(done.stdout)
        assert len(calls) == len(files)
        return {"db": str(db), "calls": {Path(c[-1]["file"]).name: c for c in calls}}

    made = made_once_for_all_workers(tmp_path_factory, "replayed", replay)
    return {"db": Path(made["db"]), "calls": made["calls"]}


def test_a_result_made_once_for_all_workers_that_failed_fails_the_others_at_once(tmp_path_factory, tmp_path):
    """The worker making a shared fixture's result fails with its error; the others (here the next
    calls) fail at once naming it, rather than each making it again in turn into the folder the
    failed attempt left half written; a result made is made once and read by all."""
    attempts = []

    def failing(folder: Path) -> dict:
        attempts.append(folder)
        (folder / "events.db").write_text("half written")
        raise AssertionError("replay exited 1")

    name = f"failing-{tmp_path.name}"
    with pytest.raises(AssertionError, match="^replay exited 1$"):
        made_once_for_all_workers(tmp_path_factory, name, failing)
    for _ in range(2):
        with pytest.raises(pytest.fail.Exception,
                           match=f"^{name}: making it failed in another worker: AssertionError: replay exited 1$"):
            made_once_for_all_workers(tmp_path_factory, name, failing)
    assert len(attempts) == 1
    made = [made_once_for_all_workers(tmp_path_factory, f"made-{tmp_path.name}", lambda folder: {"n": len(attempts)})
            for _ in range(2)]
    assert made == [{"n": 1}, {"n": 1}]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> subprocess.CompletedProcess:
    """`make demo`'s replay, once: the demo call (the deteriorating one at 16 kHz) by the path it
    gives, acoustic-only, into a database of its own, printed for a person (no ``--jsonl``)."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    done = here("replay", "audio_fixtures/calls/deteriorating_16k.wav", "--no-transcribe", "--db", db)
    assert done.returncode == 0, done.stderr
    return done


def alerts_of(events: list[dict]) -> list[dict]:
    return [e for e in events if e["type"] == "alert"]


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("name", SCENARIOS)
def test_each_fixture_call_raises_what_its_label_expects(replayed, name, rate):
    lab = label(name)
    alerts = alerts_of(replayed["calls"][f"{name}_{rate}.wav"])
    kinds = {a["kind"] for a in alerts}
    critical = [a for a in alerts if a["severity"] == "critical"]
    assert not kinds & set(lab["forbidden_alerts"]), f"forbidden alerts raised: {kinds & set(lab['forbidden_alerts'])}"
    assert set(lab["expected_alerts"]) <= kinds
    if lab["max_severity"] == "none":
        assert alerts == []
    elif lab["max_severity"] == "warning":
        assert critical == []
    else:
        assert critical, "a labored call must raise a critical alert"
        assert critical[0]["t"] <= lab["trouble_onset_s"] + 30.0, (
            f"critical alert at {critical[0]['t']} s, trouble began at {lab['trouble_onset_s']} s")


def test_each_alert_is_stamped_when_it_was_raised_so_the_emergency_may_precede_the_warnings_it_names(replayed):
    """A warning is raised once its cue stayed past its threshold for the rule's persist_s (on the long
    window); possible_emergency is raised from its own accumulated evidence (each family's strongest
    grade, on the long or the short window), not from the warnings. Every alert's time is when it was
    raised, and the lines come in that order: in the demo call the critical alert names slow responses
    (of the caller's last few seconds, the short window) well before the long window's warning."""
    cfg = load_config(None, user_config=False)
    for name, events in replayed["calls"].items():
        alerts = alerts_of(events)
        assert [a["t"] for a in alerts] == sorted(a["t"] for a in alerts), name
        for a in alerts:
            assert a["evidence"]["until"] == a["t"], name
            if a["kind"] != "possible_emergency":
                assert a["t"] - a["evidence"]["since"] >= cfg.rules.rule(a["kind"]).persist_s - 1e-6, name
    demo = alerts_of(replayed["calls"]["deteriorating_16k.wav"])
    critical = next(a for a in demo if a["kind"] == "possible_emergency")
    warned = {a["kind"]: a["t"] for a in demo if a["severity"] == "warning"}
    later = [k for k in critical["evidence"]["kinds"] if warned.get(k, float("inf")) > critical["t"]]
    assert later and all(critical["evidence"]["cues"][k]["until"] == critical["t"] for k in later)


def test_cue_events_come_once_per_hop_with_every_cue_and_the_last_where_the_call_ends(replayed):
    """One cue event a hop (1 s), and one for the audio after the last hop, at the call's end: never
    one stamped past it."""
    events = replayed["calls"]["normal_16k.wav"]
    cues = [e for e in events if e["type"] == "cues"]
    assert CUE_KEYS <= set(cues[0])
    times = np.array([c["t"] for c in cues])
    assert np.allclose(np.diff(times[:-1]), 1.0) and 0.0 < times[-1] - times[-2] < 1.0
    summary = events[-1]
    assert times[-1] == pytest.approx(summary["duration_s"], abs=0.025)  # the last whole frame's end
    assert all(c["channel"] == "caller" for c in cues)
    late = [c for c in cues if c["t"] > 60]
    assert all(c["speech_rate_sps"] is not None for c in late if c["speech_s"] > 3)


def test_every_line_of_a_replayed_call_names_its_call(replayed):
    """A script reading the lines of several calls tells which call each belongs to by its
    ``call_id`` (the stored call its summary names, what ``report`` takes), not by its text."""
    ids, types = [], set()
    for events in replayed["calls"].values():
        call_id = events[-1]["call_id"]
        assert isinstance(call_id, int)
        assert [ev for ev in events if ev["call_id"] != call_id] == []
        ids.append(call_id)
        types |= {ev["type"] for ev in events}
    assert len(set(ids)) == len(ids)
    assert {"cues", "alert", "alert_cleared", "call_summary"} <= types


def test_alerts_carry_evidence_and_next_steps(replayed):
    events = replayed["calls"]["deteriorating_16k.wav"]
    alerts = alerts_of(events)
    for a in alerts:
        assert ALERT_KEYS <= set(a)
        assert a["message"] and a["actions"]
    acoustic = [a for a in alerts if a["kind"] != "possible_emergency"]
    for a in acoustic:
        ev = a["evidence"]
        for key in ("cue", "value", "threshold", "since", "until"):
            assert key in ev, (a["kind"], key)
        assert ev["since"] <= ev["until"] <= a["t"] + 1e-6
    critical = next(a for a in alerts if a["severity"] == "critical")
    text = " ".join(critical["actions"]).lower()
    for needle in ("feel", "location", "emergency", "on the line", "supervisor"):
        assert needle in text
    cleared = [e for e in events if e["type"] == "alert_cleared"]
    assert {c["kind"] for c in cleared} <= {a["kind"] for a in alerts}
    assert {c["reason"] for c in cleared} <= {"recovered", "call_ended"}


def test_every_printed_alert_is_in_the_database(replayed):
    con = sqlite3.connect(replayed["db"])
    stored = con.execute("SELECT call_id, t, kind, severity FROM alerts ORDER BY id").fetchall()
    printed = [(a["call_id"], a["t"], a["kind"], a["severity"])
               for events in replayed["calls"].values() for a in alerts_of(events)]
    assert sorted(printed) == sorted(stored)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (os.stat(replayed["db"]).st_mode & 0o777) == 0o600


def test_the_summary_counts_the_alerts(replayed):
    for events in replayed["calls"].values():
        summary = events[-1]
        alerts = alerts_of(events)
        assert summary["alerts"] == len(alerts)
        assert summary["critical_alerts"] == sum(a["severity"] == "critical" for a in alerts)
        assert summary["duration_s"] > 100


def test_alerts_command_lists_stored_alerts(replayed):
    done = here("alerts", "--db", str(replayed["db"]), "--jsonl")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    total = sum(len(alerts_of(e)) for e in replayed["calls"].values())
    assert len(rows) == total
    assert all(r["acked_by"] is None and r["acked_at"] is None for r in rows)  # no supervisor acknowledged any
    one_call = rows[0]["call_id"]
    done = here("alerts", "--db", str(replayed["db"]), "--call", str(one_call))
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == sum(r["call_id"] == one_call for r in rows)
    done = here("alerts", "--db", str(replayed["db"]), "--since", "1h")
    assert len(done.stdout.splitlines()) == total
    done = here("alerts", "--db", str(replayed["db"]), "--since", "yesterday-ish")
    assert done.returncode == 2 and "--since" in done.stderr and "Traceback" not in done.stderr


def test_the_alerts_listing_names_the_recording_each_call_was_replayed_from(tmp_path):
    """Recordings replayed into one database: each alert line says which one it came from, in a
    column of its own (as wide on a terminal for a Korean name, whose letters take two columns each),
    and the JSON line gives the recording's path as it is written (not as ``\\u`` escapes)."""
    x, sr = sf.read(CALLS / "labored_start_8k.wav", frames=8000 * 40)
    first, second = tmp_path / "monday call.wav", tmp_path / "상담_02.wav"
    for path in (first, second):
        sf.write(path, x, sr)
    db = tmp_path / "qa.db"
    assert here("replay", "--no-transcribe", "--db", db, first, second).returncode == 0
    done = here("alerts", "--db", db)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines, done.stderr
    for line in lines:
        name = "monday call.wav" if " call 1 " in line else "상담_02.wav    "  # Hangul takes two columns each
        assert f" {name}  [" in line, line
    assert len({width(line[:line.index("  [")]) for line in lines}) == 1, "the call times line up on a terminal"
    jsonl = here("alerts", "--db", db, "--jsonl").stdout
    rows = [json.loads(line) for line in jsonl.splitlines()]
    assert {(r["call_id"], r["source"]) for r in rows} == {(1, str(first)), (2, str(second))}
    assert f'"source": "{second}"' in jsonl


def test_a_recordings_name_holding_a_line_break_is_written_on_one_line_in_its_summary_and_its_alerts_listing(
        tmp_path):
    """A recording named with a line break (``new\\nline.wav``): replay's summary line and each line of
    the alerts listing name it with the break written ``\\n``, as an error line writes it, so that a
    call is one summary line and an alert one listed line; the JSON lines keep the name as it is."""
    x, sr = sf.read(CALLS / "labored_start_8k.wav", frames=8000 * 40)
    recording = tmp_path / "new\nline.wav"
    sf.write(recording, x, sr)
    db = tmp_path / "qa.db"
    done = here("replay", "--no-transcribe", "--db", db, recording)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith(f"== {tmp_path}/new\\nline.wav (call 1): "), done.stdout
    listed = here("alerts", "--db", db)
    lines = listed.stdout.splitlines()
    assert listed.returncode == 0 and lines, listed.stderr
    assert all(line.split()[0] in ("CRITICAL", "warning") and " new\\nline.wav  [" in line for line in lines), lines
    rows = [json.loads(line) for line in here("alerts", "--db", db, "--jsonl").stdout.splitlines()]
    assert len(rows) == len(lines) and {r["source"] for r in rows} == {str(recording)}


def _on_terminal(args: list[str | os.PathLike], columns: int, cwd: Path) -> str:
    """What ``call-monitor ARGS`` writes to a terminal ``columns`` wide (a pseudo-terminal, its stdout
    and stderr both), as the program wrote it, carriage returns and all."""
    import pty
    import struct
    import termios
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=terminal, stderr=terminal, cwd=cwd, env=env)
    os.close(terminal)
    written = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the program's end closed the terminal's last writer
            break
        if not chunk:
            break
        written += chunk
    os.close(controller)
    assert proc.wait(timeout=120) == 0
    return written.decode()


def _screen(written: str, columns: int) -> list[str]:
    """The rows a terminal ``columns`` wide shows of ``written``: a carriage return back to the row's
    start (the next characters written over it), a line feed to the next row, a row full of
    characters (a wide one two columns) wrapped onto the next."""
    rows: list[list[str]] = [[]]
    at = 0
    for c in written:
        if c == "\r":
            at = 0
        elif c == "\n":
            rows.append([])
            at = 0
        else:
            if at + width(c) > columns:
                rows.append([])
                at = 0
            row = rows[-1]
            row.extend(" " * (at + width(c) - len(row)))
            row[at:at + width(c)] = [c] + [""] * (width(c) - 1)
            at += width(c)
    return ["".join(row).rstrip() for row in rows]


@pytest.mark.parametrize("columns", [40, 100])
def test_the_progress_bar_on_a_terminal_fits_its_width_and_leaves_each_alert_line_a_row_of_its_own(tmp_path,
                                                                                                   columns):
    """On a terminal, replay shows each long recording's progress as a bar on the last row: each line
    printed meanwhile (an alert, the call's end) clears the bar's row first, the bar drawn again under
    it, so that what the terminal shows once the replay is done is the lines it prints to a pipe, row
    by row, no bar left among them. The bar fits the terminal, 40 columns or 100, a Korean name's
    letters two columns each; a name holding a line break is shown ``\\n`` in it, as every line shows it."""
    korean, broken = tmp_path / "악화되는 상담 통화 녹음 파일 이름.wav", tmp_path / "det\nnl.wav"
    for name in (korean, broken):
        name.symlink_to(ALERTING_CALL)
    written = _on_terminal(["replay", "--no-transcribe", "--db", "tty.db", korean.name, broken.name], columns,
                           tmp_path)
    piped = here("replay", "--no-transcribe", "--db", tmp_path / "pipe.db", korean.name, broken.name, cwd=tmp_path)
    assert piped.returncode == 0 and piped.stderr == ""
    expected = [row for line in piped.stdout.splitlines() for row in _screen(line, columns)]
    assert [row for row in _screen(written, columns) if row] == [row for row in expected if row]
    bars = [part for part in written.replace("\n", "\r").split("\r") if part.endswith("%")]
    assert len(bars) > 100 and all(width(bar) < columns for bar in bars), max(bars, key=width)
    assert any(bar.startswith("det\\nnl.wav ") for bar in bars)
    assert any(bar.startswith("음 파일 이름.wav [") for bar in bars) == (columns == 40)  # its end, 16 columns
    assert any(bar.startswith("악화되는 상담 통화 녹음 파일 이름.wav") for bar in bars) == (columns == 100)


def test_a_warning_said_while_the_progress_bar_shows_clears_its_row_and_the_bar_comes_back_under_it(monkeypatch):
    """A line on stderr while a recording's bar shows (a warning, a log record of the store's guard,
    from another thread too) clears the bar's row before it is written, and the bar is drawn again
    under it once the moment's events are said; at the recording's end the bar is cleared."""
    import pty
    import struct
    import termios
    from monitor.commands.replay import Progress
    from monitor.console import warning
    from monitor.events import StatusEvent
    monkeypatch.delenv("COLUMNS", raising=False)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
    with os.fdopen(terminal, "w") as stream:
        monkeypatch.setattr(sys, "stderr", stream)
        progress = Progress(sys.stderr)
        with progress.clearing():
            progress.start("상담.wav", 200.0)
            progress(StatusEvent(t=50.0, message="call 1 started"))
            warning("the database is locked")
            worker = threading.Thread(target=warning, args=("the webhook is slow",))
            worker.start()
            worker.join()
            progress.end_batch()
            progress(StatusEvent(t=100.0, message="later"))
        stream.flush()
        written = b""
        while select.select([controller], [], [], 0.5)[0]:  # all it wrote, read while the terminal is open
            written += os.read(controller, 65536)
    os.close(controller)
    rows = [row for row in _screen(written.decode(), 60) if row]
    assert rows == ["call-monitor: warning: the database is locked", "call-monitor: warning: the webhook is slow"]
    bars = [part for part in written.decode().replace("\n", "\r").split("\r") if part.endswith("%")]
    assert bars == [f"상담.wav{' ' * 18} [{'#' * 6:25s}]  25%"] * 2 + [f"상담.wav{' ' * 18} [{'#' * 12:25s}]  50%"]


def test_human_output_names_alerts_and_actions(demo):
    assert any(line.startswith("CRITICAL [") and "] possible_emergency: " in line for line in demo.stdout.splitlines())
    assert "emergency services" in demo.stdout
    assert demo.stdout.strip().splitlines()[-1].startswith("== ")


def test_a_replay_into_a_database_in_a_folder_named_not_in_utf8_keeps_that_folder_and_a_purge_finds_its_series(
        tmp_path):
    """A database in a folder whose name is not UTF-8 (a Latin-1 ``d\\xff``): the replay stores its call
    and keeps the folder its series went to (its bytes, no SQLite text taking them) with no
    traceback, exit 0; the folder reads back as the same name, where a purge deletes the call's series."""
    from monitor.delivery.store import Store
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/d\xff"))
    folder.mkdir()
    done = here("replay", "--no-transcribe", "--db", folder / "x.db", ALERTING_CALL)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    with Store.open(folder / "x.db") as store:
        assert store.call_folders() == [str(folder)]
    assert len(list(folder.glob("*-series.npz"))) == 1
    purged = here("purge", "--older-than", "0d", "--db", folder / "x.db")
    assert purged.returncode == 0 and "1 file(s)" in purged.stderr, purged.stderr
    assert list(folder.glob("*-series.npz")) == []


def test_a_name_not_in_utf8_is_written_as_its_bytes_escaped_in_every_line_and_json_of_the_commands(tmp_path):
    """A database or an output named with bytes that are not UTF-8 (``d\\xff``): every line names it as
    an unreadable recording's line does (``d\\xff``, never ``d\\udcff`` or a replacement character), and
    the JSON carries the same escaped name, valid UTF-8 text."""
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/d\xff"))
    folder.mkdir()
    shown = f"{tmp_path}/d\\xff"
    assert here("replay", "--no-transcribe", "--db", folder / "x.db", ALERTING_CALL).returncode == 0
    none = here("alerts", "--db", folder / "none.db")
    assert none.stderr.startswith(f"call-monitor: error: {shown}/none.db: no database there"), none.stderr
    quiet = here("alerts", "--db", folder / "x.db", "--until", "2000-01-01")
    assert f"no alerts until 2000-01-01 in {shown}/x.db" in quiet.stderr, quiet.stderr
    outcomes = here("alerts", "--outcomes", "--jsonl", "--db", folder / "x.db")
    assert json.loads(outcomes.stdout.encode("utf-8"))["db"] == f"{shown}/x.db"
    page = folder / "r.html"
    report = here("report", "--db", folder / "x.db", "--call", "1", "-o", page)
    assert report.returncode == 0 and report.stderr == f"call-monitor: report written to {shown}/r.html\n"


def test_bad_files_get_one_line_each_and_the_rest_is_replayed(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 20)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    good = tmp_path / "short.wav"
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 40)
    sf.write(good, x, sr)
    missing = tmp_path / "missing.wav"
    latin1 = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.wav"))  # a name no UTF-8 text holds
    latin1.write_bytes(good.read_bytes())
    done = here("replay", "--jsonl", "--no-transcribe", "--db", str(tmp_path / "e.db"),
               str(missing), str(text), str(good), str(empty), str(latin1))
    assert done.returncode != 0
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 4 and "Traceback" not in done.stderr
    for path, problem in ((missing, "no such file"), (text, "not an audio file"), (empty, "empty"),
                          (tmp_path / "caf\\xe9.wav", "its name is not valid UTF-8 (byte 0xe9): rename the file")):
        assert any(str(path) in line and problem in line for line in errors), (path, errors)
    calls = split_calls(done.stdout)
    assert [Path(c[-1]["file"]).name for c in calls] == ["short.wav"]


def test_a_replay_of_nothing_it_can_read_makes_no_database_and_leaves_an_existing_one_as_it_was(tmp_path):
    """A missing file, or one that is no recording, alone: its error line is all that is said
    (exit 1); no database is made for it, and a database already holding calls keeps them all."""
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"\x00\x01 not a recording " * 40)
    fresh = tmp_path / "fresh.db"
    for bad, problem in ((tmp_path / "missing.wav", "no such file"), (junk, "not an audio file")):
        done = here("replay", "--no-transcribe", "--db", str(fresh), str(bad))
        assert done.returncode == 1, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith(f"call-monitor: error: {bad}: {problem}"), done.stderr
        assert not fresh.exists()
    kept = tmp_path / "kept.db"
    short = tmp_path / "short.wav"
    x, sr = sf.read(CALLS / "labored_start_8k.wav", frames=8000 * 20)
    sf.write(short, x, sr)
    assert here("replay", "--no-transcribe", "--db", str(kept), str(short)).returncode == 0
    with sqlite3.connect(kept) as conn:  # as a copy restored by a backup tool may be: any open of the
        conn.execute("PRAGMA journal_mode = DELETE")  # store turns it back to WAL, rewriting its header
    conn.close()
    before = kept.read_bytes()
    done = here("replay", "--no-transcribe", "--db", str(kept), str(tmp_path / "missing.wav"))
    assert done.returncode == 1 and "no such file" in done.stderr
    assert kept.read_bytes() == before


def test_a_channel_a_file_does_not_have_is_one_line_naming_it_and_fails_as_a_bad_file_does(tmp_path):
    """--caller-channel/--agent-channel beyond a stereo file's channels: that file is not replayed
    (one line: the file, its channel count, the channel asked) and the exit status is a bad
    file's, 1; a mono file has no channel to pick and is replayed as the caller alone, with one
    warning line saying the channel asked is not there."""
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 10)
    stereo, mono = tmp_path / "stereo.wav", tmp_path / "mono.wav"
    sf.write(stereo, x, sr)
    sf.write(mono, x[:, 1], sr)
    for option in ("--caller-channel", "--agent-channel"):
        done = here("replay", "--jsonl", "--no-transcribe", "--db", str(tmp_path / "e.db"), option, "2",
                   str(stereo), str(mono))
        leg = "caller" if option == "--caller-channel" else "agent"
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            f"call-monitor: error: {stereo}: has 2 channel(s), channel 2 asked",
            f"call-monitor: warning: {mono}: has 1 channel(s), channel 2 asked for the {leg}: a mono recording is "
            "the caller alone, read from its one channel"]
        assert [Path(c[-1]["file"]).name for c in split_calls(done.stdout)] == ["mono.wav"]


def test_a_recording_of_more_than_two_channels_is_replayed_from_its_legs_channels_with_one_line_saying_so(
        four_channels, tmp_path):
    """A 4-channel recording: the caller from channel 1 and the agent from 0, as a stereo file's,
    said in one warning line (the file, its channels, those read, the options); the options pick
    others, and the call keeps the channels it was replayed from."""
    db = tmp_path / "e.db"
    done = here("replay", "--no-transcribe", "--db", str(db), str(four_channels))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"call-monitor: warning: {four_channels}: 4 channels: the caller from channel 1 and the agent from "
        f"channel 0, the other 2 not read (--caller-channel N and --agent-channel N choose others)"]
    done = here("replay", "--no-transcribe", "--db", str(db), "--caller-channel", "3", "--agent-channel", "-1",
               str(four_channels))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"call-monitor: warning: {four_channels}: 4 channels: the caller from channel 3, the other 3 not read "
        f"(--caller-channel N and --agent-channel N choose others)"]
    stored = [json.loads(c) for (c,) in sqlite3.connect(db).execute("SELECT channels FROM calls ORDER BY id")]
    assert stored == [{"caller": 1, "agent": 0}, {"caller": 3}]


def test_a_channel_beyond_a_multi_channel_recording_is_one_error_line_and_nothing_is_made(four_channels,
                                                                                          tmp_path):
    db = tmp_path / "e.db"
    done = here("replay", "--no-transcribe", "--db", str(db), "--caller-channel", "4", str(four_channels))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"call-monitor: error: {four_channels}: has 4 channel(s), channel 4 asked"]
    assert not db.exists()


def test_a_truncated_recording_is_replayed_as_far_as_it_goes(tmp_path):
    whole = tmp_path / "whole.wav"
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30)
    sf.write(whole, x, sr, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    done = here("replay", "--jsonl", "--no-transcribe", "--db", str(tmp_path / "e.db"), str(cut))
    assert done.returncode == 0
    assert "truncated" in done.stderr and str(cut) in done.stderr
    summary = split_calls(done.stdout)[0][-1]
    assert 14 < summary["duration_s"] < 16


def test_a_call_whose_recorder_crashed_after_updating_its_header_once_raises_the_intact_calls_alerts(
        tmp_path, reference_alerts):
    """The header counts the first 22.7 s of the 227 s call, and a 10-byte chunk before the samples makes it
    an odd number of samples long: the whole call is replayed, each leg from its channel (the
    legs swapped after the first block, and the critical alert was missed), with one warning."""
    crashed = crashed_recording(ALERTING_CALL, tmp_path / "crashed.wav", 22.7, JUNK_CHUNK)
    done = here("replay", "--jsonl", "--no-transcribe", "--db", str(tmp_path / "e.db"), str(crashed))
    assert done.returncode == 0
    follow = sf.info(ALERTING_CALL).duration  # the whole call (the odd junk bytes add no hundredth)
    assert done.stderr.splitlines() == [f"call-monitor: warning: {crashed}: the header declares 22.70 s of audio "
                                        f"but {follow:.2f} s follow; read what is there"]
    events = split_calls(done.stdout)[0]
    assert [(e["kind"], e["t"]) for e in events if e["type"] == "alert"] == reference_alerts


def test_a_clipped_caller_on_a_6_khz_recording_is_said_in_one_warning_line_naming_the_file(tmp_path):
    """Replay says what analyze says: the voice band a low rate cuts, and a leg clipped inside full
    scale (an AGC that clipped at 0.7 before the file was written), in one line."""
    x, _ = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    x[:, 1] = np.clip(x[:, 1] / np.abs(x[:, 1]).max() * 1.4, -0.7, 0.7)
    path = tmp_path / "agc_6k.wav"
    sf.write(path, x, 6000, subtype="PCM_16")
    done = here("replay", "--no-transcribe", "--db", str(tmp_path / "e.db"), str(path))
    assert done.returncode == 0
    line, = done.stderr.splitlines()
    assert line.startswith(f"call-monitor: warning: {path}: sample rate 6000 Hz: the voice band above 3000 Hz is "
                           f"cut (telephone speech reaches 3400 Hz, 8000 Hz expected); channel 1 flat-topped at 0.70 "
                           f"of full scale: ")
    assert line.endswith(" runs of 3 or more equal samples at its peak (clipped before or as it was written); voice "
                         "cues suffer")


def test_each_files_warnings_sit_in_its_own_block_above_its_summary_line(tmp_path):
    """In a replay of several files, each file's warnings (a low rate, a cut) come once it is read,
    before its call's summary line (``== FILE (call N)``), as analyze says a file's warnings before
    its summary: never under the block of the file before it or after it."""
    x, _ = sf.read(CALLS / "normal_8k.wav", frames=8000 * 12, dtype="float32")
    low, whole, cut = tmp_path / "low_6k.wav", tmp_path / "whole.wav", tmp_path / "cut.wav"
    sf.write(low, x, 6000, subtype="PCM_16")
    sf.write(whole, x, 8000, subtype="PCM_16")
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "replay", "--no-transcribe", "--db",
                           str(tmp_path / "e.db"), str(low), str(cut), str(whole)], cwd=ROOT, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)  # one stream: the lines in the order said
    assert done.returncode == 0, done.stdout
    said = [line for line in done.stdout.splitlines() if line.startswith(("==", "call-monitor: warning:"))]
    assert [line.split(":")[0] if line.startswith("==") else line.split(": ")[2] for line in said] == [
        str(low), f"== {low} (call 1)", str(cut), f"== {cut} (call 2)", f"== {whole} (call 3)"]
    assert "sample rate 6000 Hz" in said[0] and "truncated or damaged, replayed the 6.00 s" in said[2]


def test_mono_recordings_are_the_caller_alone(tmp_path):
    x, sr = sf.read(CALLS / "labored_start_8k.wav")
    mono = tmp_path / "caller.flac"
    sf.write(mono, x[:, 1], sr)
    done = here("replay", "--jsonl", "--no-transcribe", "--db", str(tmp_path / "e.db"), str(mono))
    assert done.returncode == 0, done.stderr
    events = split_calls(done.stdout)[0]
    cues = [e for e in events if e["type"] == "cues"]
    assert all(c["response_latency_s"] is None for c in cues)  # no agent, no replies to time
    assert any(a["kind"] == "possible_emergency" for a in alerts_of(events))  # from her speech alone


@pytest.mark.parametrize("options, said", [
    (["--caller-channel", "5"], "channel 5 asked for the caller"),
    (["--caller-channel", "0", "--agent-channel", "1"], "channel 1 asked for the agent"),
    (["--caller-channel", "3", "--agent-channel", "2"], "channel 3 asked for the caller and channel 2 asked for the agent"),
    ([], None), (["--caller-channel", "0", "--agent-channel", "-1"], None), (["--caller-channel", "0"], None),
    (["--caller-channel", "1", "--agent-channel", "-1"], None),
])
def test_a_mono_recording_asked_for_a_channel_it_does_not_have_is_replayed_as_the_caller_with_a_warning(
        tmp_path, options, said):
    """A mono recording is the caller alone whatever the options ask: asked for the caller or the
    agent on a channel it does not have, it says so in one warning line naming the file; the
    defaults and its own legs (caller 0, no agent) are taken without a word. The stored call keeps
    the channel it was read from."""
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 10)
    mono, db = tmp_path / "mono16.wav", tmp_path / "e.db"
    sf.write(mono, x[:, 1], sr)
    done = here("replay", "--no-transcribe", "--db", str(db), *options, str(mono))
    assert done.returncode == 0, done.stderr
    warned = [f"call-monitor: warning: {mono}: has 1 channel(s), {said}: a mono recording is the caller alone, "
              "read from its one channel"] if said else []
    assert done.stderr.splitlines() == warned
    [(channels,)] = sqlite3.connect(db).execute("SELECT channels FROM calls").fetchall()
    assert json.loads(channels) == {"caller": 0}


def test_a_call_with_a_silent_caller_leg_says_nothing_was_judged(tmp_path):
    x, sr = sf.read(CALLS / "labored_start_8k.wav")
    wrong = tmp_path / "caller_on_the_left.wav"  # the caller's voice on the agent's channel, the right one silent
    sf.write(wrong, np.stack([x[:, 1], np.zeros(len(x))], axis=1), sr)
    done = here("replay", "--no-transcribe", "--db", str(tmp_path / "e.db"), str(wrong))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith(
        "0 alert(s) (0 critical): none; no caller speech heard on the caller's leg: nothing judged")


def test_each_summary_line_names_the_stored_call_that_report_and_alerts_take(tmp_path):
    """A QA analyst replaying recordings into one database reads there which call id each became
    (`report ID`, `alerts --call ID`); the same recording replayed again is a call of its own."""
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20)
    call = tmp_path / "call.wav"
    sf.write(call, x, sr)
    db = tmp_path / "qa.db"
    lines = [here("replay", "--no-transcribe", "--db", db, call).stdout.splitlines()[-1] for _ in range(2)]
    assert [line.split(":")[0] for line in lines] == [f"== {call} (call 1)", f"== {call} (call 2)"]


def test_a_call_too_short_for_a_baseline_says_it_was_judged_on_absolute_limits_only(tmp_path):
    x, sr = sf.read(CALLS / "labored_start_8k.wav")
    short = tmp_path / "first_30s.wav"
    sf.write(short, x[:30 * sr], sr)
    done = here("replay", "--jsonl", "--no-transcribe", "--db", str(tmp_path / "e.db"), str(short))
    assert done.returncode == 0, done.stderr
    summary = split_calls(done.stdout)[0][-1]
    assert summary["baseline"] == {} and 1 < summary["caller_speech_s"] < 35
    human = here("replay", "--no-transcribe", "--db", str(tmp_path / "e.db"), str(short))
    assert (f"no caller baseline ({summary['caller_speech_s']:.0f} s of caller speech): judged against the "
            f"absolute limits only") in human.stdout.splitlines()[-1]


def test_a_call_with_a_baseline_has_no_such_note(replayed, demo):
    for events in replayed["calls"].values():
        summary = events[-1]
        assert summary["baseline"] and summary["caller_speech_s"] > 0
    assert "judged" not in demo.stdout.splitlines()[-1]


def test_the_summary_counts_the_caller_speech_of_the_whole_call_not_only_the_baseline(replayed):
    """caller_speech_s is the caller's speech heard in the whole call: it goes on growing after the
    baseline froze (at about 35 s of it)."""
    for name, events in replayed["calls"].items():
        summary = events[-1]
        heard = max(c["call_speech_s"] or 0.0 for c in events if c["type"] == "cues" and c["channel"] == "caller")
        assert summary["caller_speech_s"] == pytest.approx(heard, abs=0.05), name
        assert summary["caller_speech_s"] > summary["baseline"]["speech_s"] + 10, name


def test_realtime_replay_is_paced_like_a_live_call(tmp_path):
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 4)
    short = tmp_path / "four_seconds.wav"
    sf.write(short, x, sr)
    start = time.monotonic()
    done = here("replay", "--realtime", "--jsonl", "--no-transcribe", "--db", str(tmp_path / "e.db"), str(short))
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert elapsed >= 3.5


def test_a_realtime_recording_hands_over_no_chunk_before_the_call_clock_reaches_its_end(tmp_path):
    """Paced as live audio, each chunk comes once its last sample would have been recorded, the last
    one (shorter than the others) too: the call's end, its last cues and its summary, made from it,
    come no sooner than the recording's length. Only how early is measured (never how late), so the
    wall clock cannot make it fail."""
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=int(8000 * 2.3))
    short = tmp_path / "two_and_a_bit_seconds.wav"
    sf.write(short, x, sr)
    src = FileSource(short, realtime=True, block_s=0.5)
    start = time.monotonic()
    released = [(chunk.t0 + len(chunk.samples) / src.rate, time.monotonic() - start) for chunk in src.chunks()]
    assert [end for end, _ in released] == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.3])
    assert all(at >= end for end, at in released), released


def test_an_alert_survives_sigkill_mid_call(tmp_path):
    """Kill -9 right after the first alert is printed: it (and every alert before) is in the database."""
    x, sr = sf.read(CALLS / "labored_start_8k.wav")
    long_call = tmp_path / "long.wav"
    sf.write(long_call, np.concatenate([x] * 4), sr)
    db = tmp_path / "e.db"
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "replay", "--jsonl", "--no-transcribe",
                             "--db", str(db), str(long_call)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    printed = []
    for line in proc.stdout:
        ev = json.loads(line)
        if ev["type"] == "alert":
            printed.append((ev["t"], ev["kind"]))
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert printed, "no alert before the end"
    con = sqlite3.connect(db)
    stored = con.execute("SELECT t, kind FROM alerts").fetchall()
    assert set(printed) <= set(stored)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_stop_as_a_calls_end_is_written_closes_the_call_once_with_its_summary(tmp_path):
    """A stop (Ctrl-C) as the call's end, given to the database, is committed: the call is closed
    with the summary its end made, and its end is not given a second time as it is aborted."""
    from monitor.delivery.store import Store
    from monitor.pipeline import CallPipeline, feed_source

    class StoppedAsItCommits(Store):
        ends = 0

        def end_call(self, *args, **kwargs) -> None:
            StoppedAsItCommits.ends += 1
            super().end_call(*args, **kwargs)

        def flush(self) -> None:
            super().flush()
            if self.ends == 1:
                raise KeyboardInterrupt

    src = FileSource(str(CALLS / "normal_8k.wav"), block_s=1.0)
    store = StoppedAsItCommits.open(tmp_path / "e.db")
    with pytest.raises(KeyboardInterrupt):
        feed_source(CallPipeline(load_config(None, user_config=False), src.rate, src.legs, store=store),
                    src.chunks(), [])
    store.close()
    (ended_at, summary), = sqlite3.connect(tmp_path / "e.db").execute("SELECT ended_at, summary FROM calls")
    assert StoppedAsItCommits.ends == 1 and ended_at is not None and json.loads(summary)["duration_s"] > 0


@pytest.mark.parametrize(("sig", "status", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                     (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_ctrl_c_or_sigterm_stops_a_replay_with_one_line_and_keeps_the_call_as_far_as_it_went(tmp_path, sig, status,
                                                                                            said):
    """Ctrl-C, or SIGTERM from ``timeout``, systemd or a script: one line, the call closed as
    interrupted with its alerts so far, and the exit status a shell gives the signal (128 + its number)."""
    db = tmp_path / "e.db"
    proc = replay_under_way(db, CALLS / "normal_8k.wav", CALLS / "normal_16k.wav")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == status, err
    (line,) = err.splitlines()
    assert line.startswith(f"call-monitor: error: {CALLS / 'normal_8k.wav'}: {said} ") and line.endswith(
        " s into the recording: call 1 is kept as far as it went; no further file is replayed")
    (ended_at, duration, summary), = sqlite3.connect(db).execute(
        "SELECT ended_at, duration_s, summary FROM calls").fetchall()
    summary = json.loads(summary)
    assert ended_at is not None and 0 < duration < 10 and summary["duration_s"] == duration
    assert summary["aborted"] is True and summary["ended_by"] == sig.name
    assert summary["recording_fingerprint"] == recording_fingerprint(CALLS / "normal_8k.wav")
    assert out.splitlines()[-1].startswith(f"== {CALLS / 'normal_8k.wav'} (call 1): {duration:.1f} s, ") and \
        out.endswith(f"; ended: the monitor was stopped ({sig.name}): the call is judged only up to here\n"), out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_replay_jsonl_ends_with_the_stopped_calls_summary_as_stored_and_none_for_files_not_begun(
        tmp_path, sig):
    """``--jsonl`` stopped part-way (Ctrl-C, SIGTERM) ends, as ``run --jsonl`` stopped does, on the
    ``call_summary`` of the call it stopped: the call's summary as the database stores it,
    ``"aborted": true`` and ``ended_by`` the signal; the recording after it, never begun, has none."""
    db = tmp_path / "e.db"
    proc = replay_under_way(db, CALLS / "normal_8k.wav", CALLS / "normal_16k.wav", options=["--jsonl"])
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    events = [json.loads(line) for line in out.splitlines()]
    (summary,) = [e for e in events if e["type"] == "call_summary"]
    assert events[-1] is summary and summary["call_id"] == 1 and summary["file"] == str(CALLS / "normal_8k.wav")
    assert summary["aborted"] is True and summary["ended_by"] == sig.name and 0 < summary["duration_s"] < 10
    (stored,) = sqlite3.connect(db).execute("SELECT summary FROM calls").fetchone()
    assert json.loads(stored) == summary


def test_a_stop_as_a_replayed_call_ends_closes_it_as_stopped_not_left_open(tmp_path):
    """SIGTERM (or Ctrl-C) once the recording is read, while its call ends (its last cue windows and
    words, seconds with a speech model): the call is closed as a stop earlier closes it, and the
    line says so, rather than left open as a killed replay leaves it ("never ended")."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 10, dtype="float32")
    sf.write(tmp_path / "call.wav", x, rate)
    db = tmp_path / "e.db"
    done = stopped_at("monitor.pipeline:stored_notes", "SIGTERM", "replay", "--no-transcribe", "--db", db,
                      tmp_path / "call.wav")
    assert done.returncode == 143 and done.stderr == (
        f"call-monitor: error: {tmp_path / 'call.wav'}: stopped by SIGTERM 10.0 s into the recording: call 1 is kept "
        "as far as it went; no further file is replayed\n"), done.stderr
    (ended_at, summary), = sqlite3.connect(db).execute("SELECT ended_at, summary FROM calls").fetchall()
    summary = json.loads(summary)
    assert ended_at is not None and summary["aborted"] is True and summary["ended_by"] == "SIGTERM"
    assert summary["recording_fingerprint"] == recording_fingerprint(tmp_path / "call.wav")
    assert done.stdout.splitlines()[-1].startswith(f"== {tmp_path / 'call.wav'} (call 1): 10.0 s, "), done.stdout


@pytest.mark.parametrize(("sig", "status", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                     (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_ctrl_c_or_sigterm_while_the_speech_model_loads_is_one_line_and_makes_nothing(tmp_path, sig, status, said):
    """Stopped before the first recording (its speech model loading, which comes before the
    database): one line saying so, the signal's exit status, no traceback, no database made."""
    from monitor.transcription.vosk_models import packaged_model_dirs
    model = packaged_model_dirs(tmp_path / "models") / "vosk-model-small-ko"
    db = tmp_path / "e.db"
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "replay", "--model", str(model), "--db", str(db),
                             str(CALLS / "normal_16k.wav")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:  # Vosk's library is mapped at the end of its import: the model's load (a second or so) comes next
        assert wait_for(lambda: "libvosk" in Path(f"/proc/{proc.pid}/maps").read_text(), 60, every_s=0.005)
        time.sleep(0.2)  # its initialisers run: into the model's load
        proc.send_signal(sig)
        err = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.wait() == status, err
    assert err.splitlines() == [f"call-monitor: error: {said} while the speech model loaded: "
                                "nothing was replayed or stored"], err
    assert not db.exists()


@pytest.mark.parametrize(("sig", "status", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                     (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_ctrl_c_or_sigterm_while_a_locked_database_opens_is_one_line_and_replays_nothing(tmp_path, sig, status, said):
    """Stopped before the first call while its database, which another program locks, is waited
    for (up to 2 s): one line saying so, the signal's exit status, no traceback, no call stored."""
    from monitor.delivery.store import Store
    db = tmp_path / "e.db"
    Store.open(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:  # stopped once the replay has the database open: waiting for the lock
        done = stopped_once_open(["replay", "--no-transcribe", "--db", db, CALLS / "normal_16k.wav"], db, sig)
    finally:
        holder.close()
    assert done.returncode == status, done.stderr
    assert done.stderr.splitlines() == [f"call-monitor: error: {said} while the database opened: nothing was "
                                        "replayed or stored"], done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM calls").fetchone() == (0,)


def _a_full_pipe() -> tuple[int, int]:
    """A pipe (read end, write end) holding as much as it can: a write to it waits for a read."""
    read, write = os.pipe()
    os.write(write, b"." * fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096))
    return read, write


def _writing_to_a_full_pipe(pid: int) -> bool:
    with open(f"/proc/{pid}/wchan") as f:
        return "pipe_write" in f.read()


def _kernel_names_waits() -> bool:
    """Whether /proc/PID/wchan names what a process waits in (a kernel may hide it: "0")."""
    sleeper = subprocess.Popen(["sleep", "5"])
    try:
        return wait_for(lambda: Path(f"/proc/{sleeper.pid}/wchan").read_text() not in ("", "0"), 2, every_s=0.01)
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize(("sig", "status", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                     (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_ctrl_c_or_sigterm_between_two_files_is_one_line_and_keeps_the_calls_replayed(tmp_path, four_channels, sig,
                                                                                     status, said):
    """Stopped between two files, while the next one opens and its call is made: one line naming
    that file and saying the calls before it are kept, the signal's exit status, no traceback, the
    first call stored whole and no second call begun. (The moment, some 50 ms, is held open here by
    the replay's stderr, a pipe nobody reads just then, as a terminal paused with Ctrl-S holds it:
    the second file's first line, on the channels it leaves out, waits to be written.)"""
    if not _kernel_names_waits():
        pytest.skip("this kernel does not name what a process waits in (/proc/PID/wchan)")
    db = tmp_path / "e.db"
    err_read, err_write = _a_full_pipe()
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "replay", "--jsonl", "--no-transcribe", "--db",
                             str(db), str(CALLS / "normal_8k.wav"), str(four_channels)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=err_write, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(err_write)
    err_pipe = os.fdopen(err_read, errors="replace")
    events: list[dict] = []

    def read_events() -> None:  # as they come: a replay held on a full stdout would look held on stderr
        for line in proc.stdout:
            events.append(json.loads(line))
    reader = threading.Thread(target=read_events, daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: any(e["type"] == "call_summary" for e in events), 60), "the first call did not end"
        assert wait_for(lambda: _writing_to_a_full_pipe(proc.pid), 60, every_s=0.005)
        proc.send_signal(sig)
        err = err_pipe.read().lstrip(".")
        reader.join(30)
    finally:
        proc.kill()
        err_pipe.close()
    assert proc.wait() == status, err
    before, _, line = err.partition("call-monitor: error: ")
    assert line == (f"{four_channels}: {said} before its call began: the 1 call(s) replayed before it are kept; no "
                    "further file is replayed\n"), err
    interrupted = f"call-monitor: warning: {four_channels}: {FileSource(four_channels).unread_channels()}"
    assert before.rstrip("\n") in ("", interrupted), err  # the line the signal came in: lost, or written (its newline perhaps not)
    (ended_at, summary), = sqlite3.connect(db).execute("SELECT ended_at, summary FROM calls").fetchall()
    assert ended_at is not None and "aborted" not in json.loads(summary)


def test_config_prints_the_effective_configuration_and_names_bad_keys(tmp_path):
    done = here("config")
    assert done.returncode == 0
    assert "[rules.slow_speech]" in done.stdout and "window_speech_s" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules.slow_speech]\npersist_secs = 3\n")
    done = here("config", "--config", str(bad))
    assert done.returncode == 2
    assert "rules.slow_speech.persist_secs" in done.stderr and str(bad) in done.stderr
    assert "Traceback" not in done.stderr
    done = here("replay", "--config", str(bad), str(CALLS / "normal_8k.wav"), "--db", str(tmp_path / "e.db"))
    assert done.returncode == 2 and "persist_secs" in done.stderr


def test_the_readmes_first_screen_shows_what_make_demo_prints(demo):
    """The README shows a new user what `make demo` prints: those lines are the demo's own."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("its first alerts and its last line:\n\n") :].split("\n\n")[1]
    shown = [line[4:] for line in block.splitlines()]
    printed = demo.stdout.splitlines()
    assert len(shown) == 5 and all(line in printed for line in shown), (shown, printed)
    assert printed[0] == shown[0] and printed[-1] == shown[-1]


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "warning" in line]


def test_a_call_whose_legs_are_the_wrong_way_round_is_warned_of_once_with_the_options_that_turn_them(tmp_path):
    """The caller on the agent's channel reads as a fairly clean call (the agent judged as the
    caller): replay says so in one line naming the file and the options that take the legs the
    other way round, after the call's alerts; the intact recording gets no such line. (The demo
    call's first 90 s: who speaks first is told there as in the whole call.)"""
    x, sr = sf.read(CALLS / "deteriorating_8k.wav", frames=8000 * 90)
    intact, swapped = tmp_path / "intact.wav", tmp_path / "swapped.wav"
    sf.write(intact, x, sr)
    sf.write(swapped, x[:, ::-1], sr)
    done = here("replay", "--no-transcribe", "--db", tmp_path / "e.db", intact, swapped)
    assert done.returncode == 0, done.stderr
    said = _warnings(done.stderr)
    assert len(said) == 1 and said[0].startswith(f"call-monitor: warning: {swapped}: "), said
    assert "spoke first" in said[0] and "--caller-channel 0 --agent-channel 1" in said[0]


def test_a_silent_caller_leg_beside_a_speaking_agent_leg_points_to_the_caller_channel_option(tmp_path):
    x, sr = sf.read(CALLS / "normal_8k.wav")
    muted = tmp_path / "caller_muted.wav"
    sf.write(muted, np.stack([x[:, 1], np.zeros(len(x))], axis=1), sr)  # the caller on channel 0, nothing on 1
    done = here("replay", "--no-transcribe", "--db", tmp_path / "e.db", muted)
    assert done.returncode == 0, done.stderr
    assert "no caller speech heard on the caller's leg" in done.stdout.splitlines()[-1]
    said = _warnings(done.stderr)
    assert len(said) == 1 and "no speech on the caller's leg" in said[0]
    assert "--caller-channel 0 --agent-channel 1" in said[0]


def _warnings_of_a_call(caller: np.ndarray, agent: np.ndarray, rate: int, source: str,
                        sources: dict[str, str] | None = None) -> list[str]:
    """The warnings a CallPipeline gives of a call whose caller's leg heard ``caller`` and agent's
    leg ``agent``, fed half a second at a time as the capture feeds it; ``source`` as the daemon
    names a live call (or a recording's path), ``sources`` its legs' SOURCEs."""
    from monitor.capture.sources import Chunk
    from monitor.pipeline import CallPipeline, run_source
    x = np.stack([caller, agent], axis=1).astype(np.float32)
    chunks = (Chunk(i / rate, x[i : i + rate // 2]) for i in range(0, len(x), rate // 2))
    pipeline = CallPipeline(load_config(None, user_config=False), rate, ("caller", "agent"), source=source,
                            sources=sources)
    return [e.message for e in run_source(pipeline, chunks, []) if e.type == "status" and e.level == "warning"]


def test_a_live_call_whose_sources_are_the_wrong_way_round_is_warned_of_once_with_the_options_that_turn_them():
    """The microphone given as --caller and the softphone's monitor as --agent: the live call says
    once, as it goes, that its legs read the wrong way round, naming both sources and the options
    that take them the other way round; wired right, it says nothing of the kind; a recording's
    pipeline leaves it to replay, which says it at the file's end with the channel options. (The
    demo call's first 90 s: who speaks first is told there as in the whole call.)"""
    x, sr = sf.read(CALLS / "deteriorating_8k.wav", frames=8000 * 90)  # the agent on channel 0, the caller on 1
    agent, caller = x[:, 0], x[:, 1]
    live = "live:caller=mic+agent=softphone.monitor"
    said = _warnings_of_a_call(agent, caller, sr, live, {"caller": "mic", "agent": "softphone.monitor"})
    assert len(said) == 1, said
    assert said[0].startswith("the call's legs read the wrong way round: the caller's leg spoke first"), said
    assert "(caller's leg: mic, agent's: softphone.monitor)" in said[0]
    assert "--caller softphone.monitor --agent mic" in said[0] and "daemon.caller and daemon.agent" in said[0]
    assert _warnings_of_a_call(caller, agent, sr, "live:caller=softphone.monitor+agent=mic",
                               {"caller": "softphone.monitor", "agent": "mic"}) == []
    assert _warnings_of_a_call(agent, caller, sr, str(CALLS / "deteriorating_8k.wav")) == []


def test_the_summary_counts_the_agent_legs_speech_too(replayed):
    for name, events in replayed["calls"].items():
        summary = events[-1]
        assert 20 < summary["agent_speech_s"] < summary["duration_s"], name


def test_a_call_too_quiet_to_measure_is_warned_of_once_for_each_quiet_leg(tmp_path):
    """A healthy call recorded 40 dB down raises long_pauses (its quiet syllables unheard): replay
    says, once per leg, that the leg is too quiet to measure, with the file; at its level as
    recorded, nothing of the kind."""
    x, sr = sf.read(CALLS / "normal_8k.wav")
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, x * 0.01, sr)
    done = here("replay", "--no-transcribe", "--db", tmp_path / "e.db", CALLS / "normal_8k.wav", quiet)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if "too quiet to measure" in line]
    assert [line.split(": ")[1:3] for line in said] == [[str(quiet), "the caller's leg is too quiet to measure"],
                                                        [str(quiet), "the agent's leg is too quiet to measure"]]


def test_a_too_quiet_warning_names_the_recording_as_typed_in_text_and_json_lines_its_summary_by_its_path(tmp_path):
    """The call keeps a replayed file by its absolute path (its summary's ``file`` gives it so), but
    the warning lines say it as the user typed it, as replay's other lines do."""
    x, sr = sf.read(CALLS / "normal_8k.wav")
    sf.write(tmp_path / "quiet.wav", x * 0.01, sr)
    text = here("replay", "--no-transcribe", "--db", tmp_path / "e.db", "quiet.wav", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    said = [line for line in text.stdout.splitlines() if "too quiet to measure" in line]
    assert [line.split(": ")[1] for line in said] == ["quiet.wav", "quiet.wav"], said
    lines = here("replay", "--no-transcribe", "--jsonl", "--db", tmp_path / "e.db", "quiet.wav", cwd=tmp_path)
    events = [json.loads(line) for line in lines.stdout.splitlines()]
    quiet = [e["message"] for e in events if e["type"] == "status" and "too quiet" in e["message"]]
    assert len(quiet) == 2 and all(m.startswith("quiet.wav: ") for m in quiet), quiet
    assert [e["file"] for e in events if e["type"] == "call_summary"] == [str(tmp_path / "quiet.wav")]


def test_a_file_replayed_twice_under_two_names_is_named_on_each_summary_line_as_typed_there(tmp_path):
    """``replay short.wav ./short.wav``: one recording, one absolute path, two calls; each summary
    line names its call's file as it was typed for it."""
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 10)
    sf.write(tmp_path / "short.wav", x, sr)
    done = here("replay", "--no-transcribe", "--db", tmp_path / "e.db", "short.wav", "./short.wav", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    named = [line.split(":")[0] for line in done.stdout.splitlines() if line.startswith("== ")]
    assert named == ["== short.wav (call 1)", "== ./short.wav (call 2)"], done.stdout


def test_a_leg_heard_as_speech_for_a_moment_is_not_judged_too_quiet_live_or_replayed(tmp_path):
    """A stream's first seconds cut off as a call of their own (a late ``call start``): the
    caller's leg holds line noise after the digital zero before the stream, 0.2 s of it heard as
    speech at -66 dBFS before the analysis learns its level. No level is judged over a moment of
    sound: neither the live call nor the replay of its audio says the leg is too quiet (they said
    it "within -1 dB" of the speech floor, and told a live agent to use sox)."""
    x, sr = sf.read(CALLS / "real_caller_16k.wav", frames=int(16000 * 5.2))  # the caller on channel 1
    lead = np.zeros(sr)  # the digital zero of the sink before the softphone's stream starts
    caller, agent = np.concatenate([lead, x[:, 1]]), np.concatenate([lead, x[:, 0]])
    live = _warnings_of_a_call(caller, agent, sr, "live:caller=softphone.monitor+agent=mic",
                               {"caller": "softphone.monitor", "agent": "mic"})
    assert live == []
    call = tmp_path / "first_seconds.wav"
    sf.write(call, np.stack([caller, agent], axis=1), sr)
    done = here("replay", "--no-transcribe", "--db", tmp_path / "e.db", call, "--caller-channel", "0",
                "--agent-channel", "1")
    assert done.returncode == 0, done.stderr
    assert "too quiet" not in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_live_leg_too_quiet_is_told_to_raise_its_sources_input_volume_and_a_recordings_its_gain():
    """What raises a leg too quiet to measure is where it comes from: a live leg's source volume (no
    sox for an agent at a softphone), a recording's gain."""
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 70)  # the agent on channel 0, the caller on 1
    caller, agent = x[:, 1] * 0.01, x[:, 0]
    live = _warnings_of_a_call(caller, agent, sr, "live:caller=softphone.monitor+agent=mic",
                               {"caller": "softphone.monitor", "agent": "mic"})
    assert len(live) == 1 and live[0].startswith("live:caller=softphone.monitor+agent=mic: the caller's leg is "
                                                 "too quiet to measure: its speech is at "), live
    assert live[0].endswith("raise its level: the input volume of softphone.monitor in the system's sound settings")
    replayed = _warnings_of_a_call(caller, agent, sr, "quiet.wav")
    assert len(replayed) == 1 and replayed[0].endswith("raise its level: the recording's gain (sox IN OUT gain -n -3)")


def test_speech_at_the_speech_floor_is_said_no_louder_than_it_never_within_a_negative_margin():
    from monitor.analysis.leg_tally import quiet_phrase
    assert "its speech is at -66 dBFS, no louder than the -65 dBFS under which" in quiet_phrase("the caller's leg", -66.2, -65.0)
    assert "its speech is at -65 dBFS, no louder than the -65 dBFS under which" in quiet_phrase("the caller's leg", -64.7, -65.0)
    assert "its speech is at -57 dBFS, within 8 dB of the -65 dBFS under which" in quiet_phrase("the caller's leg", -57.2, -65.0)


def test_output_sent_to_a_full_disk_is_one_line_and_the_call_stays_stored(tmp_path):
    """``replay --jsonl > results.jsonl`` on a disk that fills up: one line naming where the output
    went and why it cannot be written, exit 1, no traceback; the call replayed so far stays in the
    database, closed as stopped part-way (what was recorded is not lost)."""
    recording = tmp_path / "call.wav"
    x, rate = sf.read(CALLS / "deteriorating_8k.wav", frames=8000 * 20, dtype="float32")
    sf.write(recording, x, rate)
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "monitor.cli", "replay", "--jsonl", "--no-transcribe", "--db",
                               str(tmp_path / "r.db"), str(recording)], cwd=ROOT, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["call-monitor: error: /dev/full: cannot write the output (No space left "
                                        "on device); what was printed before it stands"]
    [call] = stored_calls(tmp_path / "r.db")
    assert call["ended_at"] is not None and call["summary"]["aborted"] is True

