"""`call-monitor analyze FILE... [--channel N] [--json]`, run in the test's process where what it says
and writes is the claim (``call_monitor_here``), as a real subprocess where its process is (a stop,
stdout on a full disk, file permissions, the console script).

Good files print a summary (or one JSON object per line); a truncated
recording is analysed as far as it goes with a one-line warning; a missing,
unreadable, empty, directory or non-audio file gives exactly one line on
stderr naming it and the problem, no traceback, the other files are still
analysed and the exit code is non-zero.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS, ROOT, call_monitor, call_monitor_here, multichannel_recording
from monitor.capture.audio_files import BlockReader, probe

REAL = ROOT / "audio_fixtures" / "real"
ARCTIC = REAL / "deepspeech/arctic_a0024.flac"           # 16 kHz, 4.0 s
LJ = REAL / "coqui-tts-ljspeech/wavs/LJ001-0001.flac"    # 22.05 kHz, 9.7 s
CALL = ROOT / "audio_fixtures" / "calls" / "normal_16k.wav"  # 16 kHz stereo, agent left, caller right
READING = REAL / "pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.flac"

KEYS = ["file", "channel", "duration_s", "sample_rate", "speech_s", "syllables", "speech_rate_sps",
        "articulation_rate_sps", "pauses", "pause_ratio", "mean_pause_s", "phrases", "mean_phrase_s",
        "f0_median_hz", "hnr_db", "cpps_db", "loudness_dbfs"]
EXTRA_KEYS = {"syllables_per_phrase", "breaths", "breaths_per_min", "coughs"}  # the contract is "at least" KEYS; these are welcome


def cli(*args: str | os.PathLike) -> subprocess.CompletedProcess:
    """``call-monitor analyze ARGS`` in this process (:func:`call_monitor_here`): what it says and
    writes, not its process, being what these tests read."""
    return call_monitor_here("analyze", *args)


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def stderr_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def without_length(flac: bytes) -> bytes:
    """The FLAC with its STREAMINFO's total sample count 0 ("unknown"), as an encoder writing to a
    pipe leaves it: the count is the low 36 bits of bytes 21-25."""
    assert flac[:4] == b"fLaC"
    out = bytearray(flac)
    out[21] &= 0xF0
    out[22:26] = bytes(4)
    return bytes(out)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good, silent, truncated and broken files in one temporary directory."""
    d = tmp_path_factory.mktemp("analyze")
    x, rate = sf.read(ARCTIC, dtype="float32")
    f = {}
    f["good"] = d / "good.wav"
    sf.write(f["good"], x, rate, subtype="PCM_16")
    f["silent"] = d / "silent.wav"
    sf.write(f["silent"], np.zeros(3 * 16000, np.float32), 16000, subtype="PCM_16")
    # a crash cut the WAV short: the header still declares every sample
    data = f["good"].read_bytes()
    f["trunc_wav"] = d / "trunc.wav"
    f["trunc_wav"].write_bytes(data[:44 + 2 * 30000])        # 1.875 s of 3.96 s
    lj = LJ.read_bytes()
    f["trunc_flac"] = d / "trunc.flac"
    f["trunc_flac"].write_bytes(lj[: len(lj) // 2])           # about half of 9.7 s
    f["cut_flac"] = d / "cut.flac"
    f["cut_flac"].write_bytes(lj[:1000])                      # the header and part of the first block
    damaged = bytearray(lj)
    damaged[len(lj) // 2: len(lj) // 2 + 400] = b"\x5a" * 400  # 400 bytes overwritten halfway: all there, damaged
    f["damaged_flac"] = d / "damaged.flac"
    f["damaged_flac"].write_bytes(bytes(damaged))
    streamed = without_length(lj)                              # a FLAC written as a stream: no length
    f["streamed_flac"] = d / "streamed.flac"
    f["streamed_flac"].write_bytes(streamed)
    f["streamed_trunc_flac"] = d / "streamed_trunc.flac"
    f["streamed_trunc_flac"].write_bytes(streamed[: len(streamed) // 2])
    f["streamed_cut_flac"] = d / "streamed_cut.flac"
    f["streamed_cut_flac"].write_bytes(streamed[:1000])
    # 10 s of the caller's leg from their first words (the 7 s before hold no sound, which a cut file would say)
    call = sf.read(CALL, dtype="float32", start=7 * 16000, frames=10 * 16000)[0][:, 1]
    for subtype in ("VORBIS", "OPUS"):  # an Ogg file's header gives no length: its last page ends the stream
        whole = d / f"whole_{subtype.lower()}.ogg"
        sf.write(whole, call, 16000, subtype=subtype)
        f[f"whole_{subtype.lower()}"] = whole
        f[f"trunc_{subtype.lower()}"] = d / f"trunc_{subtype.lower()}.ogg"
        f[f"trunc_{subtype.lower()}"].write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    f["missing"] = d / "missing.wav"
    f["empty"] = d / "empty.wav"
    f["empty"].write_bytes(b"")
    f["directory"] = d / "folder.wav"
    f["directory"].mkdir()
    f["text"] = d / "notes.wav"
    f["text"].write_text("These are meeting notes, not a recording.\n" * 20)
    # a corrupt header: RIFF/WAVE but the fmt and data chunk headers overwritten
    bad = bytearray(data)
    bad[12:44] = b"\xff" * 32
    f["corrupt"] = d / "corrupt.wav"
    f["corrupt"].write_bytes(bytes(bad))
    return f


# ---------------------------------------------------------------- good files

def test_human_summary(files):
    proc = cli(files["good"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    assert str(files["good"]) in out
    for word in ("16000 Hz", "speech", "syllables", "speech rate", "articulation rate", "pauses",
                 "phrases", "F0 median", "HNR", "CPPS", "loudness", "dBFS"):
        assert word in out, word


def test_json_has_the_issue_keys(files):
    proc = cli("--json", files["good"], LJ)
    assert proc.returncode == 0, proc.stderr
    recs = records(proc.stdout)
    assert len(recs) == 2
    for rec, path, rate in zip(recs, (files["good"], LJ), (16000, 22050)):
        assert list(rec)[:len(KEYS)] == KEYS
        assert set(rec) - set(KEYS) <= EXTRA_KEYS
        assert rec["file"] == str(path) and rec["channel"] == "mix" and rec["sample_rate"] == rate
        for key in KEYS[2:]:
            assert isinstance(rec[key], (int, float)) and not isinstance(rec[key], bool), key
            assert math.isfinite(rec[key]), key
        assert isinstance(rec["syllables"], int) and isinstance(rec["pauses"], int)
        assert 0 < rec["speech_s"] <= rec["duration_s"]
        assert rec["speech_rate_sps"] == pytest.approx(rec["syllables"] / rec["duration_s"], rel=1e-3)
        assert rec["articulation_rate_sps"] >= rec["speech_rate_sps"]
        assert 0 <= rec["pause_ratio"] < 1
        assert 60 <= rec["f0_median_hz"] <= 400
        assert -60 < rec["loudness_dbfs"] < 0
    assert recs[0]["duration_s"] == pytest.approx(3.955, abs=1e-3)
    assert recs[1]["duration_s"] == pytest.approx(9.655, abs=1e-3)


def readme_json_keys() -> dict[str, str]:
    """The documentation's table of the ``analyze --json`` keys (docs/recordings.md, "analyze"): key -> unit,
    in the table's order."""
    text = (ROOT / "docs" / "recordings.md").read_text(encoding="utf-8")
    section = text.split("\n## analyze\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, flags=re.M))


def test_the_readme_documents_every_json_key_with_its_unit_and_no_other():
    proc = cli("--json", ARCTIC)
    assert proc.returncode == 0, proc.stderr
    (rec,) = records(proc.stdout)
    documented = readme_json_keys()
    assert list(documented) == list(rec)
    assert all(unit.strip() for unit in documented.values())


def test_json_counts_breaths_and_coughs():
    """Real breathing and coughing (Coswara, a held-out speaker): breaths and coughs are
    counted, and a breathing recording is mostly pause, not speech."""
    breathing = ROOT / "audio_fixtures" / "breathing" / "s20_breathing-deep.flac"
    proc = cli("--json", breathing, ARCTIC)
    assert proc.returncode == 0, proc.stderr
    rec, speech = records(proc.stdout)
    for r in (rec, speech):
        assert isinstance(r["breaths"], int) and isinstance(r["coughs"], int)
        assert r["breaths_per_min"] == pytest.approx(r["breaths"] / r["duration_s"] * 60, rel=1e-3)
    assert rec["breaths"] >= 2 and rec["speech_s"] < 0.2 * rec["duration_s"]
    assert speech["breaths"] == 0 and speech["coughs"] == 0
    human = cli(breathing)
    assert f"breaths {rec['breaths']} (" in human.stdout and "coughs" in human.stdout


def test_silent_file_gives_a_valid_record(files):
    proc = cli("--json", files["silent"])
    assert proc.returncode == 0, proc.stderr
    (rec,) = records(proc.stdout)
    assert set(KEYS) <= set(rec)
    assert rec["duration_s"] == pytest.approx(3.0) and rec["speech_s"] == 0
    assert rec["syllables"] == 0 and rec["pauses"] == 0 and rec["phrases"] == 0
    for key in ("speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_pause_s", "mean_phrase_s",
                "f0_median_hz", "hnr_db", "cpps_db", "loudness_dbfs"):
        assert rec[key] is None, key
    assert rec["breaths"] == 0 and rec["breaths_per_min"] == 0.0  # breaths are counted over the recording
    human = cli(files["silent"])
    assert human.returncode == 0 and "n/a" in human.stdout


# ---------------------------------------------------------------- truncated recordings

@pytest.mark.parametrize("key, held_s", [("trunc_wav", 1.875), ("trunc_flac", None)])
def test_truncated_recording_is_analysed_as_far_as_it_goes(files, key, held_s):
    proc = cli("--json", files[key], files["good"])
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    (warning,) = stderr_lines(proc)
    assert str(files[key]) in warning and "truncated" in warning
    rec, good = records(proc.stdout)
    assert rec["file"] == str(files[key]) and good["file"] == str(files["good"])
    full = 3.955 if key == "trunc_wav" else 9.655
    assert 0.5 < rec["duration_s"] < full
    if held_s is not None:
        assert rec["duration_s"] == pytest.approx(held_s, abs=0.01)
    assert rec["speech_s"] > 0.3 and rec["syllables"] > 0


def test_a_flac_damaged_halfway_is_analysed_up_to_the_damage_and_not_said_to_hold_no_more(files):
    """The decoder stops at the damage and cannot go past it, nor tell it from a cut: the warning
    says the audio breaks off there, not that the file holds no more."""
    proc = cli("--json", files["damaged_flac"])
    assert proc.returncode == 0, proc.stderr
    (rec,) = records(proc.stdout)
    assert 2.0 < rec["duration_s"] < 9.0
    assert stderr_lines(proc) == [f"call-monitor: warning: {files['damaged_flac']}: truncated or damaged, analysed "
                                  f"the {rec['duration_s']:.2f} s before its audio breaks off"]


def test_a_truncated_flac_holds_as_much_audio_for_replay_as_for_analyze(files, tmp_path):
    """Replay reads in longer blocks (10 s acoustic-only) than analyze (1 s): the frames decoded
    before the cut in the block the file ends inside are kept, so neither loses the audio before it."""
    (rec,) = records(cli("--json", files["trunc_flac"]).stdout)
    replayed = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", tmp_path / "e.db",
                                 files["trunc_flac"])
    assert replayed.returncode == 0, replayed.stderr
    (summary,) = [e for e in records(replayed.stdout) if e["type"] == "call_summary"]
    assert 4.0 < rec["duration_s"] == pytest.approx(summary["duration_s"], abs=0.01)
    assert f"truncated or damaged, replayed the {summary['duration_s']:.2f} s before its audio breaks off" in replayed.stderr


def test_an_8_khz_mp3_libsndfile_wrote_is_analysed_and_replayed_with_nothing_of_its_decoder_on_stderr(tmp_path):
    """libmpg123 prints "part2_3_length too large" lines straight to descriptor 2 while it decodes
    the MPEG 2.5 frames libsndfile writes at 8 kHz, as many as the blocks read cut its frames (10 s of
    a caller in blocks of 1 s: two); they tell nothing of the file and never reach stderr."""
    caller = sf.read(CALLS / "normal_8k.wav", dtype="float32", frames=10 * 8000)[0][:, 1]
    path = tmp_path / "caller.mp3"
    sf.write(path, caller, 8000)
    analysed = cli(path)
    assert analysed.returncode == 0 and analysed.stderr == "" and str(path) in analysed.stdout
    replayed = call_monitor_here("replay", "--no-transcribe", "--db", tmp_path / "calls.db", path)
    assert replayed.returncode == 0 and f"{path} (call 1): 10.0 s" in replayed.stdout
    assert replayed.stderr == ""


@pytest.mark.parametrize("codec", ["vorbis", "opus"])
def test_a_truncated_ogg_is_said_to_break_off_as_a_truncated_flac_is(files, codec, tmp_path):
    """An Ogg file declares no length: the decoder takes it from the last page there is, so a
    file cut short reads as a shorter whole one. Its last page is not its stream's end, which
    analyze and replay both say, with the seconds read; the whole file gets no warning."""
    whole, trunc = files[f"whole_{codec}"], files[f"trunc_{codec}"]
    proc = cli("--json", whole, trunc)
    assert proc.returncode == 0, proc.stderr
    rec_whole, rec = records(proc.stdout)
    assert rec_whole["duration_s"] == pytest.approx(10.0, abs=0.01)
    assert 2.0 < rec["duration_s"] < 6.0
    assert stderr_lines(proc) == [f"call-monitor: warning: {trunc}: truncated or damaged, analysed "
                                  f"the {rec['duration_s']:.2f} s before its audio breaks off"]
    replayed = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", tmp_path / "o.db", whole, trunc)
    assert replayed.returncode == 0, replayed.stderr
    assert stderr_lines(replayed) == [f"call-monitor: warning: {trunc}: truncated or damaged, replayed "
                                      f"the {rec['duration_s']:.2f} s before its audio breaks off"]


def test_a_damaged_ogg_holds_the_same_audio_whatever_block_a_command_reads_it_in(files, tmp_path):
    """A page of an Ogg file damaged in its middle: libsndfile's decoder gives other audio there for
    other lengths asked of it, so the recording is asked for in one length whatever the block a
    command reads in (replay's 0.5, 2 or 10 s, analyze's). Every reading holds the same samples and
    says alike whether the audio broke off, so replay, batch and analyze judge one recording."""
    data = bytearray(files["whole_vorbis"].read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2000] = b"\xff" * 2000
    damaged = tmp_path / "damaged.ogg"
    damaged.write_bytes(bytes(data))
    info = probe(damaged)
    readings = [BlockReader(info, int(block_s * info.rate)) for block_s in (0.5, 1.0, 2.0, 10.0)]
    audio = [np.concatenate(list(reader)) for reader in readings]
    assert all(np.array_equal(a, audio[0]) for a in audio[1:])
    assert len({reader.truncated for reader in readings}) == 1


def test_an_ogg_cut_at_a_page_boundary_or_padded_after_its_end_is_told_by_its_last_page(files, tmp_path):
    """Cut right after a whole page that is not the stream's last: truncated. Bytes that begin no
    page after the last one (padding): whole."""
    data = files["whole_vorbis"].read_bytes()
    at_page = tmp_path / "at_page.ogg"
    at_page.write_bytes(data[: data.rfind(b"OggS")])
    padded = tmp_path / "padded.ogg"
    padded.write_bytes(data + bytes(100))
    proc = cli("--json", at_page, padded)
    assert proc.returncode == 0, proc.stderr
    cut, whole = records(proc.stdout)
    assert whole["duration_s"] == pytest.approx(10.0, abs=0.01) and cut["duration_s"] <= whole["duration_s"]
    assert stderr_lines(proc) == [f"call-monitor: warning: {at_page}: truncated or damaged, analysed "
                                  f"the {cut['duration_s']:.2f} s before its audio breaks off"]


def test_a_recording_cut_off_before_its_first_sample_is_a_one_line_error_and_stores_no_call(files, tmp_path):
    """Cut inside its first block of encoded audio, a FLAC's header still promises 9.66 s: no call
    is made of it (not a 0 s call), the run fails, and the call replayed before it is kept."""
    db = tmp_path / "cut.db"
    proc = call_monitor_here("replay", "--no-transcribe", "--db", db, files["good"], files["cut_flac"])
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert (f"call-monitor: error: {files['cut_flac']}: truncated or damaged: not one sample of audio decodes "
            f"(its header promises 9.66 s)") in proc.stderr.splitlines()
    assert str(files["cut_flac"]) not in proc.stdout
    import sqlite3
    with sqlite3.connect(db) as con:
        assert [r[0] for r in con.execute("SELECT source FROM calls")] == [str(files["good"])]


# ---------------------------------------------------------------- recordings whose header gives no length

def test_a_flac_with_no_length_in_its_header_is_read_to_its_end_and_not_called_truncated(files, tmp_path):
    """An encoder writing to a pipe cannot go back to write the length: the decoder fails at the
    stream's end, which is no damage. Analyze and replay (in their different block lengths) both
    read every sample, as of the same recording with its length."""
    (whole,) = records(cli("--json", LJ).stdout)
    proc = cli("--json", files["streamed_flac"])
    assert proc.returncode == 0 and stderr_lines(proc) == []
    (rec,) = records(proc.stdout)
    assert rec["duration_s"] == pytest.approx(whole["duration_s"], abs=1e-3)
    assert rec["syllables"] == whole["syllables"]
    replayed = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", tmp_path / "s.db",
                                 files["streamed_flac"])
    assert replayed.returncode == 0 and "truncated" not in replayed.stderr, replayed.stderr
    (summary,) = [e for e in records(replayed.stdout) if e["type"] == "call_summary"]
    assert summary["duration_s"] == pytest.approx(whole["duration_s"], abs=1e-3)


def test_a_cut_flac_with_no_length_is_analysed_as_far_as_it_goes(files):
    """Cut, it holds what was decoded before the cut; with no length promised it is not called
    truncated (its end and a cut look alike to the decoder)."""
    (trunc,) = records(cli("--json", files["trunc_flac"]).stdout)
    proc = cli("--json", files["streamed_trunc_flac"])
    assert proc.returncode == 0 and stderr_lines(proc) == []
    (rec,) = records(proc.stdout)
    assert rec["duration_s"] == pytest.approx(trunc["duration_s"], abs=1e-3)


def test_a_flac_with_no_length_cut_before_its_first_sample_says_so_without_a_length(files):
    proc = cli(files["streamed_cut_flac"])
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert stderr_lines(proc) == [f"call-monitor: error: {files['streamed_cut_flac']}: truncated or damaged: "
                                  "not one sample of audio decodes"]


# ---------------------------------------------------------------- bad files

BAD = {"missing": "no such file", "empty": "empty", "directory": "directory",
       "text": "not an audio file", "corrupt": "unreadable", "cut_flac": "not one sample of audio decodes"}


def test_each_bad_file_one_line_the_others_still_analysed(files):
    """Good and bad files interleaved in one run: exactly one stderr line per bad file,
    naming it and the problem, in order; every good file's JSON line printed; exit 1."""
    order = ["good", "missing", "silent", "empty", "directory", "good", "text", "corrupt", "cut_flac", "silent"]
    proc = cli("--json", *(files[k] for k in order))
    assert proc.returncode != 0
    assert_no_traceback(proc)
    lines = [line for line in stderr_lines(proc) if not line.startswith("call-monitor: warning: ")]
    bad = [k for k in order if k in BAD]
    assert len(lines) == len(bad), lines
    for line, key in zip(lines, bad):
        assert str(files[key]) in line, line
        assert BAD[key] in line.lower(), line
        assert line.startswith("call-monitor: error: ")
    recs = records(proc.stdout)
    assert [r["file"] for r in recs] == [str(files[k]) for k in order if k not in BAD]
    warned = [line for line in stderr_lines(proc) if line.startswith("call-monitor: warning: ")]
    assert warned == [f"call-monitor: warning: {files['silent']}: no sound (peak below -50 dBFS): nothing to measure"] * 2


@pytest.mark.parametrize("sig, status, said", [(signal.SIGINT, 130, "interrupted"),
                                               (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_a_stop_names_the_recording_it_came_in_and_how_many_got_no_summary(sig, status, said):
    """Ctrl-C or SIGTERM while several recordings are analysed: the summaries printed stand, and
    one line names the recording the stop came in and says how many got no summary (it and those
    after it); exit 130 or 143, no traceback."""
    recordings = [str(CALLS / "deteriorating_16k.wav")] * 8
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "analyze", "--channel", "1", "--json", *recordings],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()  # the first summary: under way
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, err
    left = len(recordings) - len(records(first + out))  # it and those after it
    assert left >= 2, "the stop came before the last recording"
    unsaid = "the file" if left == 2 else f"the {left - 1} files"
    assert err.splitlines() == [f"call-monitor: error: {recordings[0]}: {said} while it was analysed: no summary "
                                f"of it or of {unsaid} after it"], err


def test_a_single_bad_file_fails(files):
    proc = cli(files["text"])
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = stderr_lines(proc)
    assert line.startswith(f"call-monitor: error: {files['text']}: not an audio file")


def test_an_empty_name_is_said_as_such_not_as_a_nameless_missing_file(files):
    """``analyze "$CALL"`` with the variable unset: the line names the empty argument as the shell
    took it and says what is wrong, rather than ``: no such file`` with no name; the other
    recordings are still analysed, exit 1."""
    proc = cli("--json", "", files["good"])
    assert proc.returncode == 1
    assert stderr_lines(proc) == ['call-monitor: error: "": an empty path; give a recording']
    assert [r["file"] for r in records(proc.stdout)] == [str(files["good"])]


def test_output_sent_to_a_full_disk_is_one_line_not_a_traceback(files):
    """``analyze --json > summaries.jsonl`` on a disk that fills up: one line naming where the output
    went and why it cannot be written, exit 1."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "monitor.cli", "analyze", "--json", str(files["good"])], cwd=ROOT,
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 1
    assert stderr_lines(proc) == ["call-monitor: error: /dev/full: cannot write the output (No space left on device); "
                                  "what was printed before it stands"]


def test_a_wav_header_of_no_rate_or_no_channels_is_said_to_be_damaged_in_words(files, tmp_path):
    """A WAV whose fmt chunk says 0 Hz or 0 channels (a header a crash or a tool left zeroed) is a
    damaged header, said as a rate outside 4 kHz to 768 kHz is, rather than in libsndfile's words
    ("SF_INFO struct incomplete")."""
    data = files["good"].read_bytes()
    fmt = data.find(b"fmt ") + 8
    no_rate, no_channels = tmp_path / "no_rate.wav", tmp_path / "no_channels.wav"
    no_rate.write_bytes(data[:fmt + 4] + bytes(4) + data[fmt + 8:])
    no_channels.write_bytes(data[:fmt + 2] + bytes(2) + data[fmt + 4:])
    proc = cli(no_rate, no_channels)
    assert proc.returncode == 1
    assert stderr_lines(proc) == [
        f"call-monitor: error: {no_rate}: sample rate 0 Hz in its header: a damaged header, not a recording of "
        "speech (at least 4000 Hz expected)",
        f"call-monitor: error: {no_channels}: 0 channels in its header: a damaged header"]


def test_a_bad_file_whose_name_holds_a_line_break_is_still_said_on_one_line(files, tmp_path):
    """A name may hold a line break (``bad\\nname.wav``): its line writes it ``\\n``, so that the
    error is still one line naming the file and the problem."""
    p = tmp_path / "bad\nname.wav"
    p.write_bytes(files["text"].read_bytes())
    proc = cli(p)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    (line,) = stderr_lines(proc)
    assert line.startswith(f"call-monitor: error: {tmp_path}/bad\\nname.wav: not an audio file")


def test_a_good_file_whose_name_holds_a_line_break_has_its_header_on_one_line_and_its_json_name_as_it_is(
        files, tmp_path):
    """The summary's header names the file with its line break written ``\\n``, as an error line
    writes it, so that the summary has the lines of any other file's; the JSON line keeps the name as it is."""
    p = tmp_path / "good\nname.wav"
    p.write_bytes(files["good"].read_bytes())
    proc = cli(p)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(cli(files["good"]).stdout.splitlines()) and lines[0].startswith(f"{tmp_path}/good\\nname.wav [channel "), proc.stdout
    assert records(cli(p, "--json").stdout)[0]["file"] == str(p)


def test_unreadable_file(files, tmp_path):
    p = tmp_path / "locked.wav"
    p.write_bytes(files["good"].read_bytes())
    p.chmod(0)
    proc = call_monitor("analyze", p, files["good"], timeout=120, permissions_bind=True)
    assert proc.returncode == 1
    (line,) = stderr_lines(proc)
    assert str(p) in line and "permission" in line.lower()
    assert str(files["good"]) in proc.stdout  # the readable file is still analysed


# ---------------------------------------------------------------- channels

@pytest.fixture(scope="module")
def stereo(tmp_path_factory):
    """Left: the Arctic sentence; right: the LibriVox reading (16 kHz, zero-padded to one length)."""
    d = tmp_path_factory.mktemp("stereo")
    a, _ = sf.read(ARCTIC, dtype="float32")
    b, _ = sf.read(READING, dtype="float32")
    n = max(len(a), len(b))
    a, b = np.pad(a, (0, n - len(a))), np.pad(b, (0, n - len(b)))
    paths = {"stereo": d / "stereo.wav", "left": d / "left.wav", "right": d / "right.wav"}
    sf.write(paths["stereo"], np.stack([a, b], axis=1), 16000, subtype="FLOAT")
    sf.write(paths["left"], a, 16000, subtype="FLOAT")
    sf.write(paths["right"], b, 16000, subtype="FLOAT")
    return paths


def test_channel_selects_the_leg(stereo):
    recs = {}
    for ch in (0, 1):
        proc = cli("--json", "--channel", str(ch), stereo["stereo"])
        assert proc.returncode == 0, proc.stderr
        (recs[ch],) = records(proc.stdout)
        assert recs[ch]["channel"] == ch
    mono = {ch: records(cli("--json", stereo[side]).stdout)[0] for ch, side in ((0, "left"), (1, "right"))}
    for ch in (0, 1):
        for key in KEYS[3:]:
            assert recs[ch][key] == mono[ch][key], (ch, key)
    assert recs[0]["f0_median_hz"] != recs[1]["f0_median_hz"]
    assert recs[0]["syllables"] != recs[1]["syllables"]


@pytest.mark.parametrize("silence", ["digital", "dithered"])
def test_a_stereo_call_with_a_silent_leg_mixed_says_the_mix_reads_6_db_low_and_how_to_take_the_other_leg(
        tmp_path, stereo, silence):
    """A mix averages the channels: a call whose agent leg is silent (digital silence, or a muted
    leg's dither of one bit) holds the caller at half their level, so its loudness reads 6 dB below
    the caller's own. The record keeps its keys and figures; one warning line names the silent
    channel, the 6 dB and the option that analyses the other leg alone. Two legs with sound: no word."""
    caller = sf.read(CALL, dtype="float32", frames=20 * 16000)[0][:, 1]
    agent = np.zeros_like(caller) if silence == "digital" else \
        np.random.default_rng(1).integers(-1, 2, len(caller)).astype(np.float32) / 32768
    path, alone = tmp_path / "agent_silent.wav", tmp_path / "caller.wav"
    sf.write(path, np.column_stack([agent, caller]), 16000, subtype="PCM_16")
    sf.write(alone, caller, 16000, subtype="PCM_16")
    proc = cli("--json", path, alone)
    assert proc.returncode == 0, proc.stderr
    mixed, mono = records(proc.stdout)
    assert list(mixed) == list(mono) and mixed["channel"] == "mix"
    assert mixed["loudness_dbfs"] == pytest.approx(mono["loudness_dbfs"] - 6.02, abs=0.1)
    assert stderr_lines(proc) == [f"call-monitor: warning: {path}: channel 0 is silent (peak below -50 dBFS): the mix "
                                  "holds channel 1 at half its level, its loudness 6.0 dB below channel 1 alone "
                                  "(--channel N analyses channel N alone)"]
    leg = cli("--json", "--channel", "1", path)
    assert stderr_lines(leg) == [] and records(leg.stdout)[0]["loudness_dbfs"] == mono["loudness_dbfs"]
    both = cli("--json", stereo["stereo"])
    assert both.returncode == 0 and stderr_lines(both) == []


def test_the_silent_channels_of_a_multi_track_mix_are_named_in_ranges():
    """Three or more channels in a row are one range, so that a recording of many channels (or a
    damaged header claiming 200) is said in a line of a few words, not of every channel's number."""
    from monitor.capture.audio_files import silent_in_mix
    choose = "--channel N analyses channel N alone"
    assert silent_in_mix(8, [2, 3, 5, 6, 7], choose) == (
        "channels 2, 3, 5-7 are silent (peak below -50 dBFS): the mix holds channels 0, 1, 4 at 3/8 of "
        f"their level, its loudness 8.5 dB below channels 0, 1, 4 alone ({choose})")
    assert silent_in_mix(200, [40, 80, 120, 160], choose).startswith(
        "channels 40, 80, 120, 160 are silent (peak below -50 dBFS): the mix holds channels 0-39, 41-79, 81-119, "
        "121-159, 161-199 at 196/200 of their level")


@pytest.fixture(scope="module")
def soundless(tmp_path_factory) -> dict[str, Path]:
    """20 s of digital zeros, stereo and mono, and a stereo call whose channel 0 holds the caller's
    leg and channel 1 zeros."""
    d = tmp_path_factory.mktemp("soundless")
    caller = sf.read(CALL, dtype="float32", frames=20 * 16000)[0][:, 1]
    paths = {"stereo": d / "silent.wav", "mono": d / "silent_mono.wav", "one_leg": d / "one_leg.wav"}
    sf.write(paths["stereo"], np.zeros((len(caller), 2), np.float32), 16000, subtype="PCM_16")
    sf.write(paths["mono"], np.zeros(len(caller), np.float32), 16000, subtype="PCM_16")
    sf.write(paths["one_leg"], np.column_stack([caller, np.zeros_like(caller)]), 16000, subtype="PCM_16")
    return paths


@pytest.mark.parametrize("as_json", [False, True])
def test_a_recording_or_a_chosen_channel_with_no_sound_is_said_in_one_warning_line(soundless, as_json):
    """What is read holds no sound (every channel's peak below -50 dBFS, or the channel chosen with
    --channel N): one warning line names the file (and the channel) and says there is nothing to
    measure, in either output form. The record is still printed, speech 0 and its measures undefined,
    and the exit status is 0, as for a recording too quiet to measure: the file was read and analysed."""
    form = ("--json",) if as_json else ()
    runs = {"stereo": cli(*form, soundless["stereo"]), "mono": cli(*form, soundless["mono"]),
            "one_leg": cli(*form, "--channel", "1", soundless["one_leg"])}
    said = {"stereo": "no sound (peak below -50 dBFS on every channel): nothing to measure",
            "mono": "no sound (peak below -50 dBFS): nothing to measure",
            "one_leg": "channel 1 holds no sound (peak below -50 dBFS): nothing to measure"}
    for name, proc in runs.items():
        assert proc.returncode == 0, proc.stderr
        assert stderr_lines(proc) == [f"call-monitor: warning: {soundless[name]}: {said[name]}"]
        if as_json:
            (rec,) = records(proc.stdout)
            assert rec["speech_s"] == 0 and rec["loudness_dbfs"] is None
        else:
            assert "speech 0.0 s" in proc.stdout and "loudness n/a" in proc.stdout
    leg = cli("--json", "--channel", "0", soundless["one_leg"])
    assert leg.returncode == 0 and stderr_lines(leg) == [] and records(leg.stdout)[0]["speech_s"] > 0


def test_channel_out_of_range_is_a_clear_error(stereo, files):
    channel = "2"
    proc = cli("--json", "--channel", channel, stereo["stereo"], files["good"])
    assert proc.returncode != 0
    assert_no_traceback(proc)
    lines = stderr_lines(proc)
    assert len(lines) == 2
    assert str(stereo["stereo"]) in lines[0] and "2 channel" in lines[0] and channel in lines[0]
    assert str(files["good"]) in lines[1] and "1 channel" in lines[1]
    assert proc.stdout == ""


@pytest.mark.parametrize("channels", [4, 6])
def test_a_recording_of_more_than_two_channels_mixed_whole_is_said_in_one_warning_line(tmp_path, channels):
    """All channels are mixed by default, a stereo file's two as silently as ever; more than two are
    said (a multi-track recording's speakers mixed into one), with the option that takes one alone."""
    path = multichannel_recording(tmp_path, channels)
    mixed = cli("--json", path)
    assert mixed.returncode == 0, mixed.stderr
    assert stderr_lines(mixed) == [f"call-monitor: warning: {path}: {channels} channels, all mixed into one "
                                   f"(--channel N analyses channel N alone)"]
    assert records(mixed.stdout)[0]["channel"] == "mix"
    one = cli("--json", "--channel", str(channels - 1), path)
    assert one.returncode == 0 and stderr_lines(one) == []
    assert records(one.stdout)[0]["channel"] == channels - 1
    beyond = cli("--json", "--channel", str(channels), path)
    assert beyond.returncode == 1 and beyond.stdout == ""
    assert stderr_lines(beyond) == [f"call-monitor: error: {path}: has {channels} channel(s), channel {channels} asked"]
    assert_no_traceback(beyond)


def test_console_script_and_usage_errors(files):
    script = Path(sys.executable).parent / "call-monitor"
    if script.exists():
        proc = subprocess.run([str(script), "analyze", "--json", str(files["good"])],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and records(proc.stdout)[0]["file"] == str(files["good"])
    proc = cli()  # no FILE
    assert proc.returncode == 2 and "usage" in proc.stderr.lower()
    proc = cli("--channel", "left", files["good"])
    assert proc.returncode == 2 and "--channel" in proc.stderr


def test_a_recording_too_quiet_to_measure_is_warned_of_in_one_line_naming_it_and_what_to_do(tmp_path):
    """Speech within a few dB of the level under which nothing is heard as speech (-65 dBFS) loses
    its quieter syllables: 30 dB down, the demo call's first 40 s read 20.4 s of speech and 20 pauses
    instead of 30.2 s and 13. analyze says so; 20 dB down (measured as at full level) it does not."""
    x, sr = sf.read(CALLS / "deteriorating_16k.wav", frames=16000 * 40)
    said = {}
    for down in (0, 20, 30):
        quiet = tmp_path / f"down{down}.wav"
        sf.write(quiet, x * 10 ** (-down / 20), sr)
        done = call_monitor_here("analyze", quiet)
        assert done.returncode == 0, done.stderr
        said[down] = [line for line in done.stderr.splitlines() if "too quiet" in line]
    assert said[0] == said[20] == []
    assert len(said[30]) == 1 and said[30][0].startswith(f"call-monitor: warning: {tmp_path / 'down30.wav'}: ")
    assert "the channel mix is too quiet to measure" in said[30][0] and "dBFS" in said[30][0]
