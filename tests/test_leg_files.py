"""A call whose two legs are two files (the caller's and the agent's, mono each, started together),
as many call recorders keep a call: replayed with ``--agent FILE`` and scored by a batch from a
manifest's ``agent_path`` column, it is the call of the stereo recording it was split from.

Each test splits the first 100 s of a fixture call into its legs' files (:func:`~conftest.leg_files`)
and runs the real command into a real SQLite file.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import call_monitor as cli, stored_calls
from monitor.delivery.store import Store


def replayed_alerts(*args: str | Path) -> tuple[list[tuple], dict]:
    """``replay --jsonl --no-transcribe ARGS``: its alerts (kind, severity, t) and its call's summary."""
    done = cli("replay", "--jsonl", "--no-transcribe", *args)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    return [(e["kind"], e["severity"], e["t"]) for e in events if e["type"] == "alert"], events[-1]


def test_a_call_of_two_files_raises_the_alerts_of_the_stereo_recording_it_was_split_from_at_the_same_times(
        leg_files, tmp_path):
    """``replay caller.wav --agent agent.wav``: the same alerts at the same call times as the stereo
    recording; the stored call keeps the caller's file as its recording, the agent's beside it in its
    summary, and each leg's channel (its file's one), and the summary names both files."""
    stereo, caller, agent = leg_files
    db = tmp_path / "events.db"
    from_stereo, _ = replayed_alerts("--db", db, stereo)
    from_legs, summary = replayed_alerts("--db", db, caller, "--agent", agent)
    assert any(kind == "possible_emergency" for kind, _, _ in from_stereo)
    assert from_legs == from_stereo
    assert summary["file"] == str(caller) and summary["agent_recording"] == str(agent)
    with sqlite3.connect(db) as conn:
        (source, channels), = conn.execute("SELECT source, channels FROM calls WHERE id = 2").fetchall()
    conn.close()
    assert (source, json.loads(channels)) == (str(caller), {"caller": 0, "agent": 0})
    assert stored_calls(db)[1]["summary"]["agent_recording"] == str(agent)


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
    return ["--agent", str(agent), "--agent-channel", "1"], str(agent), "--agent-channel 1 contradicts --agent"


@pytest.mark.parametrize("case", ["missing", "not audio", "stereo", "same file", "channel option"])
def test_a_bad_agents_file_is_one_line_naming_it_and_the_database_is_left_as_it_was(leg_files, tmp_path, case):
    """A missing or unreadable agent's file, a stereo one, the caller's file again, or a channel option
    beside ``--agent``: one error line naming the file and the problem, a non-zero exit, and a database
    already holding a call is left byte for byte as it was."""
    stereo, caller, agent = leg_files
    db = tmp_path / "events.db"
    store = Store.open(db)
    store.end_call(store.start_call(str(stereo)), 1.0)
    store.close()
    before = db.read_bytes()
    args, named, problem = _bad_agent(tmp_path, caller, agent, stereo, case)
    done = cli("replay", "--no-transcribe", "--db", db, str(caller), *args)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"call-monitor: error: {named}: ") and problem in line, line
    assert done.stdout == "" and db.read_bytes() == before


def test_two_files_of_lengths_far_apart_are_replayed_with_one_warning_line_the_shorter_leg_silent_after(tmp_path):
    """An agent's file 12 s shorter than the caller's: one warning naming both files and the
    lengths; the call lasts as long as the longer file, replayed as usual."""
    x, rate = sf.read(Path(__file__).parent.parent / "audio_fixtures" / "calls" / "normal_8k.wav",
                      frames=8000 * 20, dtype="float32")
    caller, agent = tmp_path / "caller.wav", tmp_path / "agent.wav"
    sf.write(caller, x[:, 1], rate)
    sf.write(agent, x[: 8000 * 8, 0], rate)
    done = cli("replay", "--jsonl", "--no-transcribe", "--db", tmp_path / "e.db", caller, "--agent", agent)
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"call-monitor: warning: {caller}: the agent's file is 12.0 s shorter (20.0 s of the "
                           f"caller, 8.0 s of the agent in {agent})"), line
    assert np.isclose(json.loads(done.stdout.splitlines()[-1])["duration_s"], 20.0, atol=0.01)
