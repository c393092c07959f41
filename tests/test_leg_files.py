"""A call whose two legs are two files (the caller's and the agent's, mono each, started together),
as many call recorders keep a call: replayed with ``--agent FILE`` and scored by a batch from a
manifest's ``agent_path`` column, it is the call of the stereo recording it was split from.

Each test splits the first 100 s of a fixture call into its legs' files (:func:`~conftest.leg_files`)
and runs the real command into a real SQLite file.
"""
from __future__ import annotations

import csv
import html
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS, db_rows, stored_calls
from monitor.batch.ledger import BatchStore
from monitor.release import RELEASE
from monitor.cli import main
from monitor.config import load_config
from monitor.delivery.store import Store
from monitor.report.data import from_store


def cli(capsys, *args: str | Path) -> tuple[int, str, str]:
    """``call-monitor ARGS`` in this process (its imports made once for the module's commands): its
    exit status, what it printed on stdout and on stderr."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def replayed_alerts(capsys, *args: str | Path) -> tuple[list[tuple], dict]:
    """``replay --jsonl --no-transcribe ARGS``: its alerts (kind, severity, t) and its call's summary."""
    status, out, err = cli(capsys, "replay", "--jsonl", "--no-transcribe", *args)
    assert status == 0 and "Traceback" not in err, err
    events = [json.loads(line) for line in out.splitlines()]
    return [(e["kind"], e["severity"], e["t"]) for e in events if e["type"] == "alert"], events[-1]


def alerts_of(db: Path, call_id: int | str) -> list[tuple]:
    return db_rows(db, "SELECT kind, severity, t, evidence FROM alerts WHERE call_id = ? ORDER BY id", (int(call_id),))


def test_a_call_of_two_files_raises_the_alerts_of_the_stereo_recording_it_was_split_from_at_the_same_times(
        leg_files, tmp_path, capsys):
    """``replay caller.wav --agent agent.wav``: the same alerts at the same call times as the stereo
    recording; the stored call keeps the caller's file as its recording, the agent's beside it in its
    summary, and each leg's channel (its file's one); its summary, its alerts' listing and its report
    name both files, and its report draws both legs."""
    stereo, caller, agent = leg_files
    db = tmp_path / "events.db"
    from_stereo, _ = replayed_alerts(capsys, "--db", db, stereo)
    from_legs, summary = replayed_alerts(capsys, "--db", db, caller, "--agent", agent)
    assert any(kind == "possible_emergency" for kind, _, _ in from_stereo)
    assert from_legs == from_stereo
    assert summary["file"] == str(caller) and summary["agent_recording"] == str(agent)
    (source, channels), = db_rows(db, "SELECT source, channels FROM calls WHERE id = 2")
    assert (source, json.loads(channels)) == (str(caller), {"caller": 0, "agent": 0})
    assert stored_calls(db)[1]["summary"]["agent_recording"] == str(agent)
    status, out, _ = cli(capsys, "alerts", "--db", db)
    assert status == 0 and sum("caller.wav + agent.wav" in line for line in out.splitlines()) == len(from_legs)
    store = Store.open(db)
    try:
        report = from_store(store, 2, load_config(None, user_config=False))
    finally:
        store.close()
    assert (report.source, report.agent_source, set(report.tracks)) == (str(caller), str(agent), {"caller", "agent"})


@pytest.mark.parametrize("recording", ["caller", "stereo"])
def test_an_empty_agent_is_no_agents_file_the_recording_replayed_and_reported_as_without_it(leg_files, tmp_path,
                                                                                           recording, capsys):
    """``--agent ""`` (a script's ``--agent "$AGENT"``, AGENT unset) is a value of its own, no agent's
    file: replay and report read the recording as without it (a mono caller's leg alone, a stereo
    recording's two channels), and a channel option beside it is not said to contradict it."""
    stereo, caller, _ = leg_files
    path = caller if recording == "caller" else stereo
    db = tmp_path / "events.db"
    without, summary = replayed_alerts(capsys, "--db", db, path)
    given, summary_given = replayed_alerts(capsys, "--db", db, path, "--agent", "")
    assert given == without and "agent_recording" not in summary_given
    assert {k: v for k, v in summary_given.items() if k != "call_id"} == {
        k: v for k, v in summary.items() if k != "call_id"}
    status, _, err = cli(capsys, "report", path, "--agent", "", "--agent-channel", "-1", "--no-transcribe",
                         "-o", tmp_path / "report.html")
    assert status == 0 and err.splitlines() == [f"call-monitor: report written to {tmp_path / 'report.html'}"], err


def _bad_agent(tmp_path: Path, caller: Path, agent: Path, stereo: Path, case: str) -> tuple[list[str], str, str]:
    """The command-line arguments of a bad call of two files, the file its error names and the problem."""
    if case == "missing":
        return ["--agent", str(tmp_path / "gone.wav")], str(tmp_path / "gone.wav"), "no such file"
    if case == "not audio":
        notes = tmp_path / "notes.wav"
        notes.write_text("not audio at all\n" * 20)
        return ["--agent", str(notes)], str(notes), "not an audio file"
    if case == "stereo":
        return ["--agent", str(stereo)], str(stereo), "has 2 channels: a leg's own file is mono"
    if case == "same file":
        return ["--agent", str(caller)], str(caller), "is the caller's file too"
    if case == "two callers":
        return [str(stereo), "--agent", str(agent)], str(agent), "--agent gives the agent's leg of one call"
    return ["--agent", str(agent), "--agent-channel", "1"], str(agent), "--agent-channel 1 contradicts --agent"


@pytest.mark.parametrize("case", ["missing", "not audio", "stereo", "same file", "channel option", "two callers"])
def test_a_bad_agents_file_is_one_line_naming_it_and_the_database_is_left_as_it_was(leg_files, tmp_path, case,
                                                                                    capsys):
    """A missing or unreadable agent's file, a stereo one, the caller's file again, a channel option
    beside ``--agent``, or two callers' FILEs for one agent's: one error line naming the file and the
    problem, a non-zero exit, and a database already holding a call is left byte for byte as it was."""
    stereo, caller, agent = leg_files
    db = tmp_path / "events.db"
    store = Store.open(db)
    store.end_call(store.start_call(str(stereo)), 1.0)
    store.close()
    before = db.read_bytes()
    args, named, problem = _bad_agent(tmp_path, caller, agent, stereo, case)
    status, out, err = cli(capsys, "replay", "--no-transcribe", "--db", db, caller, *args)
    assert status != 0 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"call-monitor: error: {named}: ") and problem in line, line
    assert out == "" and db.read_bytes() == before


def test_two_files_of_lengths_far_apart_are_replayed_with_one_warning_line_the_shorter_leg_unheard_after(tmp_path,
                                                                                                         capsys):
    """An agent's file 12 s shorter than the caller's: one warning naming both files and the
    lengths; the call lasts as long as the longer file, replayed as usual."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    caller, agent = tmp_path / "caller.wav", tmp_path / "agent.wav"
    sf.write(caller, x[:, 1], rate)
    sf.write(agent, x[: 8000 * 8, 0], rate)
    status, out, err = cli(capsys, "replay", "--jsonl", "--no-transcribe", "--db", tmp_path / "e.db", caller,
                           "--agent", agent)
    assert status == 0, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"call-monitor: warning: {caller}: the agent's file is 12.0 s shorter (20.0 s of the "
                           f"caller, 8.0 s of the agent in {agent})"), line
    assert np.isclose(json.loads(out.splitlines()[-1])["duration_s"], 20.0, atol=0.01)


def manifest(folder: Path, text: str) -> Path:
    path = folder / "calls.csv"
    path.write_text(text)
    return path


def test_a_batch_scores_a_call_of_two_files_as_the_stereo_recording_and_resume_scores_it_again_once_its_agent_changed(
        leg_files, tmp_path, capsys):
    """A manifest's row with ``agent_path``: scored to the alerts of the stereo recording its files
    were split from, at the same times; its row of the table and its stored call name both files
    (its legs' channels each file's one); ``--resume`` skips it while both files are as they were
    and scores it again once the agent's file has changed."""
    stereo, caller, agent = leg_files
    calls = manifest(tmp_path, "path,agent_path,call_id\ncall.wav,,stereo\ncaller.wav,agent.wav,legs\n")
    db, out = tmp_path / "events.db", tmp_path / "summary.csv"
    batch = ("batch", calls, "--workers", "1", "--db", db, "--out", out, "--resume")
    status, _, err = cli(capsys, *batch)
    assert status == 0, err
    with open(out, newline="") as fh:
        rows = {r["call_id"]: r for r in csv.DictReader(fh)}
    legs = rows["legs"]
    assert (legs["path"], legs["agent_path"], legs["caller_channel"], legs["agent_channel"], legs["status"]) == \
        (str(caller), str(agent), "0", "0", "scored")
    assert rows["stereo"]["agent_path"] == ""
    assert alerts_of(db, legs["db_call_id"]) == alerts_of(db, rows["stereo"]["db_call_id"])
    assert any(kind == "possible_emergency" for kind, *_ in alerts_of(db, legs["db_call_id"]))
    (source, summary), = db_rows(db, "SELECT source, summary FROM calls WHERE id = ?", (int(legs["db_call_id"]),))
    assert (source, json.loads(summary)["agent_recording"]) == (str(caller), str(agent))
    sf.write(agent, sf.read(agent, dtype="float32")[0] * 0.5, 8000, subtype="PCM_16")
    status, _, err = cli(capsys, *batch)
    assert status == 0 and "1 scored, 1 already scored" in err, err
    assert sorted(db_rows(db, "SELECT path, agent_path FROM batch_calls")) == \
        [(str(stereo), ""), (str(caller), str(agent)), (str(caller), str(agent))]


def test_a_batch_given_the_agents_file_as_replay_takes_it_says_that_a_manifests_agent_path_takes_it(tmp_path):
    """``batch CALLER.wav --agent AGENT.wav``, a call of two files given as ``replay`` takes it, got
    argparse's "argument --agent-channel: invalid int value: 'AGENT.wav'" (--agent taken for an
    abbreviation of --agent-channel): its usage and one line saying where a batch takes the agent's
    file, a manifest's agent_path column, exit 2, nothing scored or made."""
    from conftest import call_monitor
    caller, agent = CALLS / "normal_8k.wav", CALLS / "deteriorating_8k.wav"
    r = call_monitor("batch", caller, "--agent", agent, "--db", tmp_path / "e.db", cwd=tmp_path, timeout=60)
    assert (r.returncode, r.stdout) == (2, "") and r.stderr.startswith("usage: call-monitor batch "), r.stderr
    assert r.stderr.splitlines()[-1] == (
        "call-monitor batch: error: argument --agent: a batch takes the agent's file of a call of two files from a "
        "manifest's agent_path column, the caller's file in its path column (callmonitor-"
        f"{RELEASE}.tar.gz's docs/recordings.md, \"A call of two files\")")
    assert list(tmp_path.iterdir()) == []


def test_bad_files_of_a_call_of_two_files_are_one_line_each_naming_the_file_and_its_row(leg_files, tmp_path, capsys):
    """Rows whose agent's file is missing, not audio, stereo, or the caller's again: each one error
    line naming the file, the problem and the row, as a bad recording's; nothing scored, exit 1, and
    a database already holding a call is left as it was."""
    stereo, caller, agent = leg_files
    (tmp_path / "notes.wav").write_text("not audio at all\n" * 20)
    calls = manifest(tmp_path, "path,agent_path\ncaller.wav,gone.wav\ncaller.wav,notes.wav\n"
                               "caller.wav,call.wav\ncaller.wav,caller.wav\n")
    db = tmp_path / "events.db"
    store = Store.open(db)
    store.end_call(store.start_call(str(stereo)), 1.0)
    store.close()
    before = db.read_bytes()
    status, out, err = cli(capsys, "batch", calls, "--workers", "1", "--db", db, "--out", tmp_path / "s.csv")
    assert status == 1 and "Traceback" not in err
    assert err.splitlines() == [
        f"call-monitor: error: {tmp_path / 'gone.wav'}: no such file (listed on {calls} line 2)",
        f"call-monitor: error: {tmp_path / 'notes.wav'}: not an audio file (format not recognised; WAV, FLAC, OGG or "
        f"MP3 expected) (listed on {calls} line 3)",
        f"call-monitor: error: {stereo}: has 2 channels: a leg's own file is mono (a recording of both legs is given "
        f"alone, its legs read from its channels) (listed on {calls} line 4)",
        f"call-monitor: error: {caller}: is the caller's file too: the agent's leg is a recording of its own "
        f"(listed on {calls} line 5)"]
    assert db.read_bytes() == before


def test_a_channel_column_beside_agent_path_is_refused_naming_the_row_as_a_bad_channel_is(leg_files, tmp_path,
                                                                                         capsys):
    """``agent_channel 1`` on a row that gives the agent's leg its own file contradicts it: one line
    naming the row, exit 2, nothing scored; ``0`` (each file's one channel) is no contradiction."""
    calls = manifest(tmp_path, "path,agent_path,caller_channel,agent_channel\ncaller.wav,agent.wav,0,1\n")
    status, out, err = cli(capsys, "batch", calls, "--workers", "1", "--db", tmp_path / "e.db")
    assert status == 2 and err.splitlines() == [
        f"call-monitor: error: {calls} line 2: agent_channel 1 contradicts agent_path {tmp_path / 'agent.wav'}: "
        "each leg's own file is mono, read from its one channel (leave agent_channel empty)"]
    assert not (tmp_path / "e.db").exists()


OLD_LEDGER = """
CREATE TABLE batch_calls (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, caller_channel INTEGER NOT NULL, agent_channel INTEGER NOT NULL,
    content_hash TEXT NOT NULL, config_hash TEXT NOT NULL, call_id INTEGER NOT NULL REFERENCES calls(id),
    row TEXT NOT NULL, scored_at REAL NOT NULL,
    UNIQUE (path, caller_channel, agent_channel, content_hash, config_hash))
"""
"""The ledger as releases before calls of two files made it: keyed without ``agent_path``."""


def test_an_earlier_releases_ledger_is_keyed_on_the_agents_file_too_once_opened_its_rows_kept(tmp_path):
    """Opened by this release, a ledger made without ``agent_path`` has it, its rows kept as calls
    of one recording, and holds two calls of one caller's file with two agents' files."""
    db = tmp_path / "events.db"
    store = Store.open(db)
    call = store.start_call("/calls/a.wav")
    store.close()
    conn = sqlite3.connect(db)
    conn.execute(OLD_LEDGER)
    conn.execute("INSERT INTO batch_calls (path, caller_channel, agent_channel, content_hash, config_hash, call_id, "
                 "row, scored_at) VALUES ('/calls/a.wav', 1, 0, 'h', 'c', ?, '{\"channels\": 2}', 1.0)", (call,))
    conn.commit()
    conn.close()
    BatchStore.open(db).close()
    assert db_rows(db, "SELECT path, agent_path, call_id FROM batch_calls") == [("/calls/a.wav", "", call)]
    with sqlite3.connect(db) as conn:  # the same content and legs, two agents' files: two calls
        conn.executemany("INSERT INTO batch_calls (path, agent_path, caller_channel, agent_channel, content_hash, "
                         "config_hash, call_id, row, scored_at) VALUES ('/calls/a.wav', ?, 0, 0, 'h', 'c', ?, '{}', 1)",
                         [("/calls/a_agent.wav", call), ("/calls/a_agent2.wav", call)])
    conn.close()
    assert len(db_rows(db, "SELECT id FROM batch_calls")) == 3


def test_two_files_given_the_wrong_way_round_are_said_naming_the_files_and_how_to_turn_them(tmp_path, capsys):
    """The agent's file given as the caller's: the warning of legs read the wrong way round names
    each leg's file (not a channel) and says to give the files the other way round; the report of
    the two files (``report FILE --agent FILE``) says it too, and names both files."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    caller, agent = tmp_path / "caller.wav", tmp_path / "agent.wav"
    sf.write(caller, x[:, 1], rate)
    sf.write(agent, x[:, 0], rate)
    status, _, err = cli(capsys, "replay", "--no-transcribe", "--db", tmp_path / "e.db", agent, "--agent", caller)
    assert status == 0, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"call-monitor: warning: {agent}: the call's legs read the wrong way round: ")
    assert line.endswith(f"(caller's leg: {agent}, agent's: {caller}): the caller may be on {caller}; if so, "
                         f"replay it with {caller} as FILE and --agent {agent}"), line
    page = tmp_path / "report.html"
    status, _, err = cli(capsys, "report", agent, "--agent", caller, "--no-transcribe", "-o", page)
    assert status == 0 and line in err.splitlines(), err  # the report of the two files says it as replay does
    assert f"source: <code>{agent}</code> + agent's leg <code>{caller}</code>" in page.read_text()


def test_legs_recorded_at_different_rates_are_read_at_the_analyzer_rate_of_the_lower_one(tmp_path):
    """A 16 kHz caller's file beside an 8 kHz agent's: both legs at 8 kHz (no leg measured on a band
    its file does not hold), the agent's sample for sample as its file alone is read, the caller's
    brought down to it."""
    from monitor.capture.leg_files import LegFilesSource
    from monitor.capture.sources import FileSource
    wide, rate = sf.read(CALLS / "normal_16k.wav", frames=16000 * 10, dtype="float32")
    narrow, _ = sf.read(CALLS / "normal_8k.wav", frames=8000 * 10, dtype="float32")
    caller, agent = tmp_path / "caller.wav", tmp_path / "agent.wav"
    sf.write(caller, wide[:, 1], rate, subtype="FLOAT")
    sf.write(agent, narrow[:, 0], 8000, subtype="FLOAT")
    src = LegFilesSource(caller, agent, block_s=2.0)
    both = np.concatenate([c.samples for c in src.chunks()])
    assert src.rate == 8000 and both.shape == (8000 * 10, 2)
    alone = np.concatenate([c.samples for c in FileSource(agent, caller_channel=0, block_s=2.0).chunks()])
    assert np.array_equal(both[:, 1], alone[:, 0])
    assert 20 * np.log10(np.sqrt(np.mean(both[:, 0] ** 2))) > -40  # the caller's speech is there


@pytest.mark.parametrize("case", ["missing", "stereo", "channel option"])
def test_a_reports_bad_agents_file_is_one_line_naming_it_and_no_report_is_written(leg_files, tmp_path, case,
                                                                                  capsys):
    """``report caller.wav --agent FILE``, FILE missing or stereo, or a channel option beside it: one
    error line naming the file and the problem, a non-zero exit, no report."""
    stereo, caller, agent = leg_files
    args, named, problem = _bad_agent(tmp_path, caller, agent, stereo, case)
    page = tmp_path / "report.html"
    status, _, err = cli(capsys, "report", caller, "--no-transcribe", "-o", page, *args)
    assert status != 0 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"call-monitor: error: {named}: ") and problem in line, line
    assert not page.exists()


def _short_legs(tmp_path: Path, caller_s: float, agent_s: float) -> tuple[Path, Path]:
    """A caller's file and an agent's, of these lengths, split from the start of a fixture call."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=int(8000 * max(caller_s, agent_s)), dtype="float32")
    caller, agent = tmp_path / "caller.wav", tmp_path / "agent.wav"
    sf.write(caller, x[: int(rate * caller_s), 1], rate, subtype="PCM_16")
    sf.write(agent, x[: int(rate * agent_s), 0], rate, subtype="PCM_16")
    return caller, agent


def test_a_callers_file_that_ends_first_is_the_callers_leg_not_heard_after_its_end_not_the_callers_silence(
        tmp_path, capsys):
    """A caller's file of 20 s beside an agent's of 60 s: the caller is not heard from 20 s on, as
    live audio that did not come (kept as ``caller_no_input``: its cue windows leave that time out),
    not 40 s of the caller's silence while the agent talks; an agent's file that ends first leaves
    the caller's time heard."""
    caller, agent = _short_legs(tmp_path, 20.0, 60.0)
    _, summary = replayed_alerts(capsys, "--db", tmp_path / "e.db", caller, "--agent", agent)
    assert summary["caller_no_input"] == [[20.0, 60.0]] and np.isclose(summary["duration_s"], 60.0, atol=0.01)
    _, summary = replayed_alerts(capsys, "--db", tmp_path / "e.db", agent, "--agent", caller)
    assert "caller_no_input" not in summary


def test_an_agents_file_that_ends_first_is_the_agents_leg_not_heard_after_its_end_kept_and_said_in_the_report(
        tmp_path, capsys):
    """An agent's file of 15 s beside a caller's of 40 s: the agent is not heard from 15 s on, as a
    live agent's headset unplugged: the stored summary keeps it (``agent_no_input``, and its seconds),
    as ``replay --jsonl``'s summary line says it, and the call's report says it in a note, the call
    judged to its end (the caller heard throughout)."""
    caller, agent = _short_legs(tmp_path, 40.0, 15.0)
    db, page = tmp_path / "e.db", tmp_path / "report.html"
    _, summary = replayed_alerts(capsys, "--db", db, caller, "--agent", agent)
    assert summary["agent_no_input"] == [[15.0, 40.0]] and summary["agent_no_input_s"] == 25.0
    assert "caller_no_input" not in summary
    (stored,), = db_rows(db, "SELECT summary FROM calls WHERE id = 1")
    assert json.loads(stored)["agent_no_input"] == [[15.0, 40.0]]
    status, _, err = cli(capsys, "report", "1", "--db", db, "-o", page)
    assert status == 0 and "Traceback" not in err, err
    text = html.unescape(page.read_text(encoding="utf-8"))
    assert ("No audio of the agent came for 25.0 s of the call (0:15 to 0:40; its source gave no input, or its "
            "audio was lost on the way): the agent may have spoken then, so the caller's silences in that time "
            "were no pauses and their answers had no response latency") in text
    assert "judged only up to" not in text


def test_legs_stay_in_step_whatever_sizes_their_blocks_come_in_the_shorter_leg_unheard_after_its_end():
    """``joined_legs``: a caller's leg read in one block of 1000 samples beside an agent's in blocks
    of 300: each leg's samples at their own place on the call clock (none of the agent's pushed
    later by silence), the caller's leg filled after its end and that fill its unheard range."""
    from monitor.capture.leg_files import joined_legs
    caller = np.full((1000, 1), 0.5, np.float32)
    agent = np.arange(1, 1201, dtype=np.float32).reshape(-1, 1) / 2000
    joined = list(joined_legs(iter([caller]), iter(np.split(agent, 4))))
    both = np.concatenate([block for block, _ in joined])
    assert both.shape == (1200, 2)
    assert np.array_equal(both[:, 1], agent[:, 0]) and np.array_equal(both[:1000, 0], caller[:, 0])
    assert not both[1000:, 0].any()
    starts = np.cumsum([0] + [len(block) for block, _ in joined])
    unheard = [(column, start + first, start + end) for (_, ranges), start in zip(joined, starts)
               for column, first, end in ranges]
    assert unheard == [(0, 1000, 1200)]


@pytest.mark.parametrize("column", ["Agent_Path", "agent path", "agentpath", "agent_file"])
def test_a_manifest_column_meant_as_agent_path_is_refused_naming_it(tmp_path, column):
    """A column spelt nearly as ``agent_path``, or named ``agent...`` with an audio file in each
    cell, would leave each call of two files scored as its caller's file alone, unsaid: the batch
    stops with one line naming it; an ``agent`` column of the agents' names is the user's own."""
    from monitor.batch.inputs import InputError, expand_inputs
    calls = manifest(tmp_path, f"path,{column}\ncaller.wav,agent.wav\n")
    with pytest.raises(InputError) as err:
        expand_inputs([str(calls)])
    assert str(err.value) == (f"{calls}: column '{column}' is not one a manifest is read by (did you mean "
                              "agent_path?); its columns are path, caller_channel, agent_channel, call_id, agent_path, "
                              "hold")
    names = manifest(tmp_path, "path,agent\ncall.wav,alice\n")
    assert [job.agent_path for job in expand_inputs([str(names)])] == [""]


def test_the_report_of_a_stored_call_of_two_files_says_its_agents_file_changed_or_gone(tmp_path, capsys):
    """``report ID`` of a call of two files whose agent's file has changed since: one warning line
    naming that file as changed (the waveform not drawn from another recording); moved away: one
    line naming it gone, as a recording gone is said, not "there but cannot be read"."""
    caller, agent = _short_legs(tmp_path, 20.0, 20.0)
    db, page = tmp_path / "events.db", tmp_path / "report.html"
    replayed_alerts(capsys, "--db", db, caller, "--agent", agent)
    instead = "the waveform panel is replaced by the caller's speech activity from the cue snapshots"
    sf.write(agent, sf.read(agent, dtype="float32")[0] * 0.5, 8000, subtype="PCM_16")
    status, _, err = cli(capsys, "report", "1", "--db", db, "-o", page)
    assert status == 0 and err.splitlines()[:-1] == [
        f"call-monitor: warning: call 1: its recording {agent} has changed since the call was stored (it is not the "
        f"recording replayed): {instead}"]
    agent.rename(tmp_path / "moved.wav")
    status, _, err = cli(capsys, "report", "1", "--db", db, "-o", page)
    assert status == 0 and err.splitlines()[:-1] == [
        f"call-monitor: warning: call 1: its recording {agent} is gone (moved or deleted): {instead}"]


def test_a_call_of_two_files_keeps_the_agents_file_from_its_start_and_through_a_close_after_a_crash(tmp_path):
    """The stored call names the agent's file while it runs (an alert's post names it then), and a
    call left open by a crash, closed by ``purge`` as interrupted, still names it."""
    with Store.open(tmp_path / "e.db") as store:
        running = store.start_call("/calls/caller.wav", 1000.0, agent_file="/calls/agent.wav")
        assert store.get_call(running).agent_file == "/calls/agent.wav"
        assert store.close_interrupted(source_prefix="") == [running]
        closed = store.get_call(running)
        assert (closed.agent_file, closed.summary["interrupted"]) == ("/calls/agent.wav", True)


def test_a_call_of_two_files_given_by_relative_names_names_both_files_in_one_form_in_each_interface(
        leg_files, tmp_path, capsys, monkeypatch, hook):
    """``replay caller.wav --agent agent.wav`` in their folder: the ``call_summary`` line gave the caller's
    file as typed and the agent's by its absolute path. Each interface gives both in one form: the
    ``call_summary`` line and ``alerts --jsonl`` (``source``, ``agent_source``) both absolute paths, the
    webhook's posts both file names (``recording``, ``agent_recording``), the summary line on the terminal
    both as typed; ``alerts --jsonl`` gives
    ``agent_source`` null for a call of one file, not leaving it out."""
    stereo, caller, agent = leg_files
    db = tmp_path / "events.db"
    monkeypatch.chdir(tmp_path)
    _, summary = replayed_alerts(capsys, "--db", db, "caller.wav", "--agent", "agent.wav", "--webhook", hook.url)
    _, one_file = replayed_alerts(capsys, "--db", db, "call.wav")
    assert (summary["file"], summary["agent_recording"]) == (str(caller), str(agent))
    assert one_file["file"] == str(stereo) and "agent_recording" not in one_file
    status, out, _ = cli(capsys, "alerts", "--jsonl", "--db", db)
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and {(r["call_id"], r["source"], r["agent_source"]) for r in rows} == {
        (1, str(caller), str(agent)), (2, str(stereo), None)}
    posted = [post for _, post in hook.received]
    assert posted and {(p["recording"], p["agent_recording"]) for p in posted} == {("caller.wav", "agent.wav")}
    status, out, _ = cli(capsys, "replay", "--no-transcribe", "--db", tmp_path / "other.db", "caller.wav", "--agent",
                         "agent.wav")
    assert status == 0 and out.splitlines()[-1].startswith("== caller.wav + agent agent.wav (call 1): ")
