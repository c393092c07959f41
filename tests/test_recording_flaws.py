"""A recording's flaws, said by every report of its call: a recording cut short (its audio breaks
off before the length its header promises), one whose samples were clipped, one whose legs read the
wrong way round (the caller on the agent's channel), one whose two legs carry the same audio (a
dual-mono recording) and one whose legs are too quiet to measure; and what the daemon said of a live
call's legs.

``replay`` and ``batch`` say them when they score a recording; its stored call keeps them, so that
the report of the stored call, the archive page of a batch and the call reports beside it say them
in the words of the report of the recording itself. Recordings are fixture calls cut with real
bytes (a copy stopped part-way, as a crash or a full disk leaves it), replayed and scored by the
real commands into real SQLite files, the pages read back as text (the commands run in the test's
process, :func:`conftest.call_monitor_here`; the batches' Dask workers in processes of their own).
"""
from __future__ import annotations

import csv
import html
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS, call_monitor_here

from monitor.capture.sources import FileSource
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.delivery.store import Store

pytest.importorskip("matplotlib")

WARNING = "call-monitor: warning: "


def cut_wav(source: Path, out: Path, n_bytes: int) -> float:
    """The first ``n_bytes`` of the WAV ``source`` at ``out``, its header left promising all of it;
    returns the seconds of audio the bytes kept hold."""
    blob = source.read_bytes()
    out.write_bytes(blob[:n_bytes])
    fmt = blob.find(b"fmt ") + 8
    rate, = struct.unpack("<I", blob[fmt + 4:fmt + 8])
    block_align, = struct.unpack("<H", blob[fmt + 12:fmt + 14])
    return (n_bytes - (blob.find(b"data") + 8)) // block_align / rate


def broken_off_note(held_s: float) -> str:
    """What a call report says of a recording that holds ``held_s`` seconds before it breaks off."""
    return f"Truncated or damaged recording: the report covers the {held_s:.1f} s before its audio breaks off."


def page_text(path: Path) -> str:
    """The page's HTML, its character references read (``&#x27;`` as ``'``)."""
    return html.unescape(path.read_text(encoding="utf-8"))



def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module", autouse=True)
def _own_home(tmp_path_factory):
    """The commands here read no user configuration and write nothing to the user's folders."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        for name, where in (("HOME", home), ("XDG_CONFIG_HOME", home / ".config"),
                            ("XDG_DATA_HOME", home / ".local" / "share"), ("MPLCONFIGDIR", home / "mpl")):
            mp.setenv(name, str(where))
        yield


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict:
    """A folder of recordings as an archive may hold them: an alerting call cut after 5 MB (it breaks
    off at 2:36 of its 3:47), a call cut after 10 KB (before its caller speaks), an MP3 cut half-way
    through its bytes, a call clipped at 0.7 of full scale and sampled at 6 kHz, and a whole call."""
    folder = tmp_path_factory.mktemp("archive")
    held = {"alerting": cut_wav(CALLS / "deteriorating_8k.wav", folder / "alerting_cut.wav", 5_000_000),
            "before_speech": cut_wav(CALLS / "normal_8k.wav", folder / "cut_before_speech.wav", 10_000)}
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 60, dtype="float32")
    whole_mp3 = tmp_path_factory.mktemp("mp3") / "whole.mp3"
    sf.write(whole_mp3, x, sr, format="MP3")
    blob = whole_mp3.read_bytes()
    (folder / "half.mp3").write_bytes(blob[:len(blob) // 2])
    clipped = x[:8000 * 30].copy()
    clipped[:, 1] = np.clip(clipped[:, 1] / np.abs(clipped[:, 1]).max() * 1.4, -0.7, 0.7)
    sf.write(folder / "clipped_6k.wav", clipped, 6000, subtype="PCM_16")
    sf.write(folder / "whole.wav", x[:8000 * 30], sr, subtype="PCM_16")
    return {"folder": folder, "held": held, "alerting": folder / "alerting_cut.wav",
            "before_speech": folder / "cut_before_speech.wav", "mp3": folder / "half.mp3",
            "clipped": folder / "clipped_6k.wav", "whole": folder / "whole.wav"}


@pytest.fixture(scope="module")
def scored(recordings, tmp_path_factory) -> dict:
    """The folder scored by ``batch`` into a database and a CSV table, then again with ``--resume``
    into a Parquet table (every call already scored: its row comes from the ledger)."""
    d = tmp_path_factory.mktemp("scored")
    db, csv_table, parquet = d / "events.db", d / "summary.csv", d / "summary.parquet"
    first = call_monitor_here("batch", recordings["folder"], "-j", "1", "--db", db, "--out", csv_table)
    again = call_monitor_here("batch", recordings["folder"], "-j", "1", "--db", db, "--out", parquet, "--resume")
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    rows = {Path(r["path"]).name: r for r in read_csv(csv_table)}
    return {"db": db, "tables": {"csv": csv_table, "parquet": parquet}, "rows": rows, "said": first.stderr,
            "dir": d}


def test_a_replayed_recording_cut_short_is_said_so_by_its_stored_calls_report_as_by_its_own(tmp_path):
    """``replay --db`` keeps with the call that its recording broke off, and where: the stored call's
    report (page and warning line) says it in the words of the recording's own report, and the call
    reads as the part of a call it is, not as a whole one. (The call cut after 1 MB, 31 s of it:
    where it breaks off is said alike however long it is, and each command here analyses it.)"""
    cut = tmp_path / "cut.wav"
    held = cut_wav(CALLS / "deteriorating_8k.wav", cut, 1_000_000)
    db = tmp_path / "events.db"
    replayed = call_monitor_here("replay", cut, "--db", db, "--no-transcribe")
    assert replayed.returncode == 0, replayed.stderr
    assert f"{WARNING}{cut}: truncated or damaged, replayed the {held:.2f} s before its audio breaks off" \
        in replayed.stderr.splitlines()
    stored, own = tmp_path / "stored.html", tmp_path / "own.html"
    of_stored = call_monitor_here("report", "1", "--db", db, "-o", stored)
    of_recording = call_monitor_here("report", cut, "-o", own, "--no-transcribe")
    assert of_stored.returncode == 0 and of_recording.returncode == 0, of_stored.stderr + of_recording.stderr
    for done in (of_stored, of_recording):
        assert [line for line in done.stderr.splitlines() if line.startswith(WARNING)] == [
            f"{WARNING}{cut}: truncated or damaged, the report covers the {held:.2f} s before its audio breaks off"]
    assert broken_off_note(held) in page_text(stored) and broken_off_note(held) in page_text(own)
    assert call_monitor_here("report", "1", "--db", db, "-o", tmp_path / "stored.png").returncode == 0


def test_a_whole_recordings_stored_call_says_nothing_of_a_break(recordings, scored, tmp_path):
    page = tmp_path / "whole.html"
    done = call_monitor_here("report", scored["rows"]["whole.wav"]["db_call_id"], "--db", scored["db"], "-o", page)
    assert done.returncode == 0 and WARNING not in done.stderr, done.stderr
    assert "Truncated or damaged" not in page_text(page) and "The recording:" not in page_text(page)


@pytest.mark.parametrize("table", ["csv", "parquet"])
def test_the_archive_page_marks_each_recording_that_broke_off_as_the_batch_said_it(recordings, scored, tmp_path,
                                                                                   table):
    """Each recording the batch said broke off is listed as damaged in the batch's words, counted in
    the banner, and marked where it is listed among the flagged calls or those with nothing judged
    (one cut before its caller spoke); a whole recording is not. The flagged call's own report,
    written beside the page from the database, says where its recording broke off."""
    page = tmp_path / "archive.html"
    done = call_monitor_here("report", "--batch", scored["tables"][table], "--db", scored["db"], "-o", page)
    assert done.returncode == 0, done.stderr
    text = page_text(page)
    said = sorted(line[len(WARNING):] for line in scored["said"].splitlines()
                  if line.startswith(WARNING) and "truncated or damaged" in line)
    assert len(said) == 3
    banner = text.split("<div class=\"banner ")[1].split("</div>")[0]
    assert banner.endswith("; 3 truncated or damaged recording(s): judged only as far as their audio goes")
    damaged = text.split("<h2 id=\"damaged\">")[1].split("</ul>")[0]
    assert damaged.startswith("Truncated or damaged recordings: judged only as far as their audio goes (3)")
    assert sorted(item.split("</code>")[0] for item in damaged.split("<li><code>")[1:]) == said
    assert str(recordings["whole"]) not in damaged
    flagged = text.split("<table id=\"flagged\">")[1].split("</table>")[0]
    [row] = [r for r in flagged.split("<tr class=\"alert")[1:] if recordings["alerting"].name in r]
    assert "truncated or damaged" in row
    unheard = text.split("<h2 id=\"unheard\">")[1].split("</ul>")[0]
    assert f"<code>{recordings['before_speech']}</code><br><span class=\"damaged\">truncated or damaged" in unheard
    call_page = tmp_path / "archive_calls" / f"call-{scored['rows']['alerting_cut.wav']['db_call_id']}.html"
    assert broken_off_note(recordings["held"]["alerting"]) in page_text(call_page)


def test_the_archive_pages_call_reports_made_from_the_recordings_say_it_alike(recordings, scored, tmp_path):
    """Without the database, the flagged call's report is made from its recording, and says the same."""
    page = tmp_path / "archive.html"
    done = call_monitor_here("report", "--batch", scored["tables"]["csv"], "-o", page)
    assert done.returncode == 0, done.stderr
    [call_page] = (tmp_path / "archive_calls").iterdir()
    assert broken_off_note(recordings["held"]["alerting"]) in page_text(call_page)
    assert "Truncated or damaged recordings: judged only as far as their audio goes (3)" in page_text(page)


def test_a_cut_mp3s_stored_call_is_drawn_from_what_its_recording_holds(recordings, scored, tmp_path):
    """An MP3 cut short promises the length of the whole in its header: its stored call, as long as
    what it holds, is drawn from it all the same, and said to break off where the batch said."""
    row = scored["rows"]["half.mp3"]
    page = tmp_path / "mp3.html"
    done = call_monitor_here("report", row["db_call_id"], "--db", scored["db"], "-o", page)
    assert done.returncode == 0, done.stderr
    text = page_text(page)
    assert broken_off_note(float(row["duration_s"])) in text
    assert f"Waveform and speech regions from the call's audio: {recordings['mp3']}" in text


@pytest.fixture(scope="module")
def clipped_own_report(recordings, tmp_path_factory) -> Path:
    """The report of the clipped recording itself (``report RECORDING``), made once for the module."""
    own = tmp_path_factory.mktemp("clipped") / "own.html"
    assert call_monitor_here("report", recordings["clipped"], "-o", own, "--no-transcribe").returncode == 0
    return own


@pytest.mark.parametrize("stored_by", ["replay", "batch"])
def test_a_stored_call_keeps_what_was_wrong_with_its_recordings_samples(recordings, scored, clipped_own_report,
                                                                        tmp_path, stored_by):
    """What replay and the batch's table say of a recording's samples (clipped, a voice band its
    rate cuts), the stored call's report says as the recording's own report does: a warning line
    and a note on the page."""
    clipped, own, stored = recordings["clipped"], clipped_own_report, tmp_path / "stored.html"
    if stored_by == "replay":
        db, call_id = tmp_path / "events.db", "1"
        assert call_monitor_here("replay", clipped, "--db", db, "--no-transcribe").returncode == 0
    else:
        db, call_id = scored["db"], scored["rows"][clipped.name]["db_call_id"]
    done = call_monitor_here("report", call_id, "--db", db, "-o", stored)
    assert done.returncode == 0, done.stderr
    [said] = [line for line in done.stderr.splitlines() if line.startswith(WARNING)]
    assert said.startswith(f"{WARNING}{clipped}: sample rate 6000 Hz") and "flat-topped at 0.70" in said
    [note] = [p.split("</p>")[0] for p in page_text(own).split("<p>") if p.startswith("The recording: ")]
    assert f"<p>{note}</p>" in page_text(stored)


# -- legs the wrong way round, both legs the same audio, a leg too quiet to measure -------------------

def the_recording_note(said: str) -> str:
    """What a call report's notes say of a recording that replay warned of with ``said`` (after its name)."""
    return f"<p>The recording: {said}.</p>"


def said_of(path: Path, output: str) -> list[str]:
    """What a command's lines (warnings on stderr, a replay's status lines on stdout) say of the
    recording at ``path``, after its name, in their order."""
    return [line.split(f"{path}: ", 1)[1] for line in output.splitlines()
            if "warning: " in line and f"{path}: " in line]


def finding(said: list[str]) -> list[str]:
    """What lines say of a recording up to what to do about it, which each command says with its own
    options (replay's, the batch's)."""
    return [line.split("; if so, ")[0].split("; score it as mono: ")[0] for line in said]


@pytest.fixture(scope="module")
def miswired(tmp_path_factory) -> dict:
    """The demo call with its channels the other way round (as ``sox IN OUT remix 2 1`` makes it: the
    caller on the agent's channel), the normal call 40 dB quieter (each leg too quiet to measure),
    the normal call mixed and copied onto both channels (dual-mono, as ``sox mix.wav -c 2`` makes it,
    through mu-law as a call recorder stores it), the normal call with each talker heard on the other
    leg too, 6 dB down (crosstalk: two legs, not one), and the normal call as it was recorded, in one
    folder (the normal call's first minute)."""
    folder = tmp_path_factory.mktemp("miswired")
    x, sr = sf.read(CALLS / "deteriorating_8k.wav", dtype="float32")
    sf.write(folder / "swapped.wav", x[:, ::-1], sr, subtype="PCM_16")
    y, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 60, dtype="float32")
    sf.write(folder / "quiet.wav", y * 0.01, sr, subtype="PCM_16")
    sf.write(folder / "dual_mono.wav", np.repeat(y.mean(axis=1, keepdims=True), 2, axis=1), sr, subtype="ULAW")
    sf.write(folder / "crosstalk.wav", 0.6 * (y + 0.5 * y[:, ::-1]), sr, subtype="PCM_16")
    sf.write(folder / "wired_right.wav", y, sr, subtype="PCM_16")
    return {"folder": folder, "swapped": folder / "swapped.wav", "quiet": folder / "quiet.wav",
            "same": folder / "dual_mono.wav", "crosstalk": folder / "crosstalk.wav", "right": folder / "wired_right.wav"}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """``replay RECORDING --db DB --no-transcribe`` of a recording, each run once and shared by the
    module's tests, read-only to them: the finished command (what it said on stderr and stdout) and
    its database, holding the one call."""
    done: dict[Path, tuple] = {}

    def replay(recording: Path) -> tuple:
        if recording not in done:
            db = tmp_path_factory.mktemp("replayed") / "events.db"
            done[recording] = call_monitor_here("replay", recording, "--db", db, "--no-transcribe"), db
        return done[recording]
    return replay


@pytest.fixture(scope="module")
def miswired_scored(miswired, tmp_path_factory) -> dict:
    """The folder scored by ``batch`` into a database and a CSV table."""
    d = tmp_path_factory.mktemp("miswired_scored")
    db, table = d / "events.db", d / "summary.csv"
    done = call_monitor_here("batch", miswired["folder"], "-j", "1", "--db", db, "--out", table)
    assert done.returncode == 0, done.stderr
    return {"db": db, "table": table, "rows": {Path(r["path"]).name: r for r in read_csv(table)},
            "said": done.stderr}


@pytest.mark.parametrize("which, lines", [("swapped", 1), ("same", 1), ("quiet", 2)])
def test_replays_warnings_of_a_recordings_legs_are_said_by_its_stored_calls_report_as_by_its_own(
        miswired, replayed, tmp_path, which, lines):
    """Legs the wrong way round (one line, with the channel options that turn them), both legs the
    same audio (one line, with the options that score it as mono) and each leg too quiet to measure
    (one line a leg): ``replay --db`` keeps what it said with the call, and the
    stored call's report says it in the same words, warning lines and notes, as the report of the
    recording, which reads it as replay does."""
    recording = miswired[which]
    done, db = replayed(recording)
    assert done.returncode == 0, done.stderr
    said = said_of(recording, done.stderr + done.stdout)
    assert len(said) == lines, said
    stored, own = tmp_path / "stored.html", tmp_path / "own.html"
    of_stored = call_monitor_here("report", "1", "--db", db, "-o", stored)
    of_recording = call_monitor_here("report", recording, "-o", own, "--no-transcribe")
    assert of_stored.returncode == 0 and of_recording.returncode == 0, of_stored.stderr + of_recording.stderr
    for done, page in ((of_stored, stored), (of_recording, own)):
        assert said_of(recording, done.stderr) == said
        assert all(the_recording_note(line) in page_text(page) for line in said)


class LineOf:
    """A live line that plays ``path`` as a capture would hand it to the daemon, block by block: the
    recording's right channel on the caller's leg, its left on the agent's."""

    def __init__(self, path: Path) -> None:
        self._file = FileSource(path)
        self.rate, self.legs = self._file.rate, self._file.legs

    def chunks(self):
        yield from self._file.chunks()

    def stop(self) -> None:
        pass


def test_a_live_calls_legs_said_to_read_the_wrong_way_round_are_kept_with_it_and_said_by_its_report(
        miswired, tmp_path):
    """The daemon monitoring a call whose caller is on the agent's source says so once, as it goes;
    it keeps what it said with the stored call, as it keeps a leg said too quiet, so that
    ``report ID`` says it in the same words: a warning line naming the call's source, and a note."""
    x, sr = sf.read(miswired["swapped"], frames=8000 * 90, dtype="float32")
    line, db = tmp_path / "line.wav", tmp_path / "events.db"
    sf.write(line, x, sr)
    heard: list = []
    cfg = load_config(overrides={"storage.db": str(db)}, user_config=False)
    with Store.open(db) as store:
        Daemon(cfg, LineOf(line), store, {"heard": heard.append}).run()
        (call,) = store.list_calls()
    said = [e.message for e in heard if e.type == "status" and "wrong way round" in e.message]
    assert len(said) == 1 and "spoke first" in said[0] and "--caller and --agent" in said[0], said
    page = tmp_path / "call.html"
    done = call_monitor_here("report", call.id, "--db", db, "-o", page)
    assert done.returncode == 0, done.stderr
    assert said_of(call.source, done.stderr) == said
    assert the_recording_note(said[0]) in page_text(page)


def test_a_correctly_wired_call_is_said_to_have_neither(miswired, miswired_scored, tmp_path):
    """The call as it was recorded: no warning from the batch, replay or a report, no note on its pages."""
    right = miswired["right"]
    assert said_of(right, miswired_scored["said"]) == []
    row = miswired_scored["rows"][right.name]
    assert row["legs_swapped"] == "" and row["too_quiet"] == "" and row["legs_same"] == ""
    replayed = call_monitor_here("replay", right, "--db", tmp_path / "events.db", "--no-transcribe")
    assert replayed.returncode == 0 and said_of(right, replayed.stderr + replayed.stdout) == []
    for target in ([right, "--no-transcribe"], [row["db_call_id"], "--db", miswired_scored["db"]]):
        page = tmp_path / "page.html"
        done = call_monitor_here("report", *target, "-o", page)
        assert done.returncode == 0 and WARNING not in done.stderr, done.stderr
        assert "The recording:" not in page_text(page)


def test_the_batch_warns_of_them_as_replay_does_and_keeps_them_with_the_row_and_the_stored_call(
        miswired, miswired_scored, replayed, tmp_path):
    """The batch says each recording's legs the wrong way round, and each leg too quiet, as replay
    does (one line each, naming the file; what to do about legs the wrong way round in the batch's
    own terms), keeps them in the table's ``legs_swapped``, ``legs_same`` and ``too_quiet`` and with
    the stored call, whose report says them."""
    for which in ("swapped", "same", "quiet"):
        recording = miswired[which]
        said = said_of(recording, miswired_scored["said"])
        done, _ = replayed(recording)
        assert finding(said) == finding(said_of(recording, done.stderr + done.stdout)) and said
        row = miswired_scored["rows"][recording.name]
        assert [c for c in (row["legs_same"], row["legs_swapped"], *row["too_quiet"].split(" | ")) if c] == said
        assert len(said) == {"swapped": 1, "same": 1, "quiet": 2}[which]
        page = tmp_path / f"{which}.html"
        done = call_monitor_here("report", row["db_call_id"], "--db", miswired_scored["db"], "-o", page)
        assert done.returncode == 0 and said_of(recording, done.stderr) == said, done.stderr
        assert all(the_recording_note(line) in page_text(page) for line in said)


def test_the_batch_says_how_to_turn_the_legs_of_a_recording_named_outside_a_manifest_with_its_own_options(
        miswired, miswired_scored):
    """A recording found in a folder (or named, or globbed) whose legs read the wrong way round: the
    line names the file and says how to score it the other way round with the batch itself, its
    channel options (which every recording named outside a manifest is scored with) or a manifest's
    row of its own; not with replay's options."""
    [said] = said_of(miswired["swapped"], miswired_scored["said"])
    assert said.endswith("(caller's leg: channel 1, agent's: channel 0): the caller may be on channel 0; if so, "
                         "score it with --caller-channel 0 --agent-channel 1 (the batch's options, for every "
                         "recording named outside a manifest), or list it in a manifest with caller_channel 0 and "
                         "agent_channel 1"), said


def test_a_dual_mono_recording_is_said_with_how_to_score_it_as_mono_which_says_nothing_more(
        miswired, miswired_scored, replayed, tmp_path):
    """The same audio on both channels (the call mixed, through mu-law): the batch's line names the
    file, why (its stretches with sound the same on both channels) and how to score the caller's
    channel alone with the batch's options; so scored, as replay's line says to, the call is the
    caller's leg alone and nothing more is said of its legs."""
    recording = miswired["same"]
    [said] = said_of(recording, miswired_scored["said"])
    assert said.startswith("the call's two legs carry the same audio: 100 % of its "), said
    assert said.endswith("(caller's leg: channel 1, agent's: channel 0): a dual-mono recording, the call mixed onto "
                         "both channels, so the caller's cues hold the agent's voice and the response latency cannot "
                         "be measured; score it as mono: score it with --caller-channel 1 --agent-channel -1 (the "
                         "batch's options, for every recording named outside a manifest), or list it in a manifest "
                         "with caller_channel 1 and agent_channel -1"), said
    done, _ = replayed(recording)
    [as_replay_says] = said_of(recording, done.stderr + done.stdout)
    assert as_replay_says.endswith("score it as mono: replay it with --caller-channel 1 --agent-channel -1")
    mono = call_monitor_here("replay", recording, "--no-transcribe", "--caller-channel", "1", "--agent-channel",
                             "-1", "--jsonl", "--db", tmp_path / "e.db")
    assert mono.returncode == 0 and "same audio" not in mono.stderr + mono.stdout, mono.stderr
    assert '"agent_speech_s": null' in mono.stdout.splitlines()[-1]


def test_two_talkers_heard_on_each_others_legs_are_not_one_audio(miswired, miswired_scored):
    """Crosstalk: each talker heard on the other's leg as well, 6 dB down. Its legs correlate
    wherever one talker speaks, but at a level that changes with the talker: two legs, and nothing
    is said of the same audio; nor of the correctly wired call."""
    for which in ("crosstalk", "right"):
        recording = miswired[which]
        assert not [line for line in said_of(recording, miswired_scored["said"]) if "same audio" in line]
        assert miswired_scored["rows"][recording.name]["legs_same"] == ""


def test_the_legs_of_a_call_a_manifest_lists_are_said_with_its_row_and_the_columns_that_turn_them(
        miswired, tmp_path):
    """A call listed in a manifest whose legs read the wrong way round: the line names the
    recording, the manifest's row and the values its channel columns take to turn the legs. The row
    so changed, the batch run again with --resume scores the call from the legs it names, and says
    nothing of them. (The swapped call's first 90 s, as the live daemon's test plays it: its legs
    read as wrong there already, and each run of the batch scores the call again.)"""
    manifest, db, swapped = tmp_path / "calls.csv", tmp_path / "events.db", tmp_path / "swapped.wav"
    x, sr = sf.read(miswired["swapped"], frames=8000 * 90, dtype="float32")
    sf.write(swapped, x, sr, subtype="PCM_16")
    header, right = "path,caller_channel,agent_channel,call_id", miswired["right"]
    manifest.write_text(f"{header}\n{right},1,0,R-1\n{swapped},1,0,S-1\n")
    done = call_monitor_here("batch", manifest, "-j", "1", "--db", db)
    assert done.returncode == 0, done.stderr
    [said] = said_of(swapped, done.stderr)
    assert said.endswith("(caller's leg: channel 1, agent's: channel 0): the caller may be on channel 0; if so, "
                         f"change its row of the manifest ({manifest} line 3) to caller_channel 0 and agent_channel 1 "
                         "and run the batch again with --resume"), said
    manifest.write_text(f"{header}\n{right},1,0,R-1\n{swapped},0,1,S-1\n")
    again = call_monitor_here("batch", manifest, "-j", "1", "--db", db, "--resume")
    assert again.returncode == 0 and "1 scored, 1 already scored, 0 failed" in again.stderr, again.stderr
    assert said_of(swapped, again.stderr) == []


def test_the_archive_page_lists_the_calls_whose_legs_read_wrong_as_the_batch_said_them(
        miswired, miswired_scored, tmp_path):
    """The archive page counts them in its banner, lists each in the batch's words and marks them
    among the flagged calls; the correctly wired call is neither listed nor marked. The flagged
    calls' own reports beside the page say them too."""
    page = tmp_path / "archive.html"
    done = call_monitor_here("report", "--batch", miswired_scored["table"], "--db", miswired_scored["db"], "-o", page)
    assert done.returncode == 0, done.stderr
    text = page_text(page)
    banner = text.split("<div class=\"banner ")[1].split("</div>")[0]
    assert ("; 1 with both legs the same audio: judged on both voices"
            "; 1 with legs that read the wrong way round: judged on the agent's voice"
            "; 1 with a leg too quiet to measure") in banner
    for anchor, which in (("swapped", "swapped"), ("same", "same"), ("quiet", "quiet")):
        listed = text.split(f"<h2 id=\"{anchor}\">")[1].split("</ul>")[0]
        recording = miswired[which]
        assert [item.split("</code>")[0] for item in listed.split("<li><code>")[1:]] == [
            f"{recording}: {line}" for line in said_of(recording, miswired_scored["said"])]
        assert str(miswired["right"]) not in listed
    flagged = text.split("<table id=\"flagged\">")[1].split("</table>")[0]
    rows = {name: r for r in flagged.split("<tr class=\"alert")[1:]
            for name in (miswired["swapped"].name, miswired["quiet"].name, miswired["right"].name) if name in r}
    assert "legs the wrong way round?" in rows[miswired["swapped"].name]
    assert "too quiet to measure" in rows[miswired["quiet"].name]
    assert miswired["right"].name not in rows or "span class=\"damaged\"" not in rows[miswired["right"].name]
    for which in ("swapped", "quiet"):
        call_id = miswired_scored["rows"][miswired[which].name]["db_call_id"]
        call_page = tmp_path / "archive_calls" / f"call-{call_id}.html"
        assert all(the_recording_note(line) in page_text(call_page)
                   for line in said_of(miswired[which], miswired_scored["said"]))


def test_a_copy_of_one_audio_is_told_from_two_legs_by_its_samples_at_the_edge():
    """The likeness of two legs as a recording's blocks are read: a copy on both channels, of either
    polarity, at another gain, through mu-law or a few samples late, is one audio; the fixture call's own legs, the same
    legs with crosstalk either way, and a copy too short to tell (under 10 s of sound) are not."""
    from monitor.capture.same_legs import LegsAlike
    y, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    mix = y.mean(axis=1)
    ulaw = np.sign(mix) * np.log1p(255 * np.abs(mix)) / np.log(256)
    ulaw = np.sign(ulaw) * np.expm1(np.round(127 * np.abs(ulaw)) / 127 * np.log(256)) / 255

    def same(x: np.ndarray) -> str | None:
        alike = LegsAlike(sr)
        for i in range(0, len(x), sr * 2):  # as the batch reads it, 2 s a block
            alike.add(x[i:i + sr * 2].astype(np.float32))
        return alike.same()

    late = np.stack([mix[:-3], mix[3:]], 1)
    for copy in (np.stack([mix, mix], 1), np.stack([mix, -0.5 * mix], 1), np.stack([ulaw, mix], 1), late):
        assert same(copy) is not None
    crosstalk = (y + 0.5 * y[:, ::-1], y + np.stack([0.7 * y[:, 1], 0.3 * y[:, 0]], 1))
    for legs in (y, *crosstalk, np.stack([mix, mix], 1)[:sr * 8]):
        assert same(legs) is None
