"""The small developer tools (tools/) without a test file of their own, run as they are run: a bad
argument or input is one line naming the option or the file and the problem, a non-zero exit
status, no traceback."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from conftest import one_line_error, option_refused, tool

from tools import import_real_speech as irs


def shared_speech(folder: Path) -> Path:
    """A shared data folder whose ``speech/`` holds every source's manifest (no utterance) and
    licence files: what import_real_speech reads, with nothing to convert."""
    for source, spec in irs.SOURCES.items():
        (folder / "speech" / source).mkdir(parents=True)
        with open(folder / "speech" / source / "manifest.csv", "w", newline="") as fh:
            csv.writer(fh).writerow(["path", "transcript", "syllables"])
        for name in spec["files"]:
            (folder / "speech" / source / name).write_text("licence\n")
    return folder


def test_import_real_speech_takes_the_shared_folder_as_its_siblings_do_and_its_speech_folder_too(tmp_path):
    """``--shared`` is the shared data folder (its ``speech/`` read), as copy_breathing_fixtures and
    train_sound_class take it; the ``speech/`` folder itself, as earlier commands gave it, is read too."""
    shared = shared_speech(tmp_path / "shared")
    for given, out in ((shared, tmp_path / "a"), (shared / "speech", tmp_path / "b")):
        done = tool("import_real_speech", "--shared", given, "--out", out)
        assert done.returncode == 0 and done.stdout.startswith("0 files bit-exact"), done.stderr
        assert (out / "manifest.csv").is_file() and (out / "vosk-api" / "ATTRIBUTION.md").is_file()


def test_import_real_speech_says_a_wrong_shared_folder_in_one_line(tmp_path):
    shared = shared_speech(tmp_path / "shared")
    one_line_error(tool("import_real_speech", "--shared", tmp_path / "gone"), "import_real_speech",
                   f"--shared {tmp_path / 'gone'}: no such folder")
    one_line_error(tool("import_real_speech", "--shared", tmp_path), "import_real_speech",
                   f"--shared {tmp_path}: not the shared data folder")
    (shared / "speech" / "vosk-api" / "manifest.csv").unlink()
    one_line_error(tool("import_real_speech", "--shared", shared), "import_real_speech",
                   f"{shared / 'speech' / 'vosk-api' / 'manifest.csv'}: no such file")
    done = tool("import_real_speech", "--help")
    assert done.returncode == 0 and "the shared data folder" in done.stdout and "default:" in done.stdout


def test_recognizer_memory_refuses_no_minutes_of_audio_naming_the_option():
    option_refused(tool("recognizer_memory", "--minutes", "0"), "--minutes", "'0'")


@pytest.mark.parametrize("value", ["0", "-300", "nan", "inf", "x"])
def test_recognizer_memory_refuses_a_renewal_that_is_no_finite_time_naming_the_option(value):
    """``--renew-s`` takes seconds of audio above 0 (left out: never renewed), refused before the
    model is loaded; any value was taken (0 and below: never renewed, nan: never, unsaid)."""
    option_refused(tool("recognizer_memory", "--renew-s", value), "--renew-s", repr(value))


@pytest.mark.parametrize("name, argv", [
    ("bench", ["analyzer", "--seconds", "0"]), ("bench", ["analyzer", "--seconds", "-5"]),
    ("bench_peers", ["--seconds", "0"]), ("bench_peers", ["--pyin-seconds", "0"]),
    ("class_share", ["--seconds", "0"]), ("class_share", ["--pairs", "0"]), ("class_share", ["--chunk", "0"]),
    ("bench_transcribe", ["--minutes", "0"]),
])
def test_a_bench_given_no_audio_or_no_run_refuses_the_option_in_one_line(name, argv):
    """No seconds of audio, or no pair of runs, is refused naming the option before anything is
    measured (a traceback before: no array to concatenate, no median of nothing)."""
    option_refused(tool(name, *argv), argv[-2], repr(argv[-1]))


def test_bench_transcribe_says_a_model_folder_that_is_not_there_in_one_line():
    one_line_error(tool("bench_transcribe", "--minutes", "0.1", "--model", "/nonexistent"), "bench_transcribe",
                   "--model /nonexistent: no such model folder")


def test_bench_identity_checks_the_dump_s_folder_before_computing_and_gives_its_help(tmp_path):
    """A dump into a missing folder failed after computing every frame (18 s); --help printed only
    the usage, exit 2."""
    one_line_error(tool("bench_identity", "dump", tmp_path / "missing" / "a.npz"), "bench_identity",
                   f"{tmp_path / 'missing' / 'a.npz'}: no such folder {tmp_path / 'missing'}")
    done = tool("bench_identity", "--help")
    assert done.returncode == 0 and "dump" in done.stdout and "compare" in done.stdout and not done.stderr


@pytest.mark.parametrize("name", ["import_real_speech", "make_reference", "bench_peers", "bench_identity"])
def test_a_tool_s_help_describes_it_in_whole_sentences_and_every_option_says_what_it_does(name):
    """The description was the docstring's first line, which stopped mid-sentence; bench_peers'
    options had no help text."""
    done = tool(name, "--help")
    assert done.returncode == 0 and not done.stderr
    text = done.stdout.split("\n\n")
    assert " ".join(text[1].split()).endswith(".")  # the description, ended
    options = [line for line in done.stdout.split("options:")[1].splitlines() if line.strip().startswith("-")]
    assert options and all(re.search(r"\S  +\S", line.strip()) for line in options), options  # option, then its help
