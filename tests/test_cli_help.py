"""Every command's --help explains each of its options and arguments."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import soundfile as sf

from conftest import ALERTING_CALL, ROOT, call_monitor, stopped_after, stopped_at, with_run_user
from monitor.cli import COMMANDS, build_parser


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_option_and_argument_of_a_command_has_a_help_text(command: str) -> None:
    parser = _subparsers()[command]
    unexplained = [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions
                   if not a.help or not a.help.strip()]
    assert unexplained == [], f"{command}: no help for {unexplained}"


def test_each_command_module_is_a_listed_command() -> None:
    assert len(_subparsers()) == len(COMMANDS)


def test_version_names_the_release_and_the_database_schemas_it_writes(capsys) -> None:
    """What an administrator asks of each desktop and of the console's machine before and after an
    upgrade: the release of the code that runs, also from a checkout never installed or one
    installed before the release was raised, and the schemas of the daemon's and of the console's
    databases it writes (an earlier release refuses a newer one)."""
    from monitor.delivery.store_schema import SCHEMA_VERSION
    from monitor.release import RELEASE
    from monitor.supervisor.store import SCHEMA_VERSION as CONSOLE_SCHEMA
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == (f"call-monitor {RELEASE} (database schema {SCHEMA_VERSION}, console database "
                                       f"schema {CONSOLE_SCHEMA})\n")


def test_python_m_monitor_is_the_call_monitor_command_with_its_name_and_exit_status() -> None:
    """``python -m monitor``, for a Python whose environment's ``bin/`` is not on PATH: the command
    itself, named call-monitor in what it says, its exit status passed on."""
    from monitor.release import RELEASE
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "monitor", "--version"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "") and done.stdout.startswith(f"call-monitor {RELEASE} (")
    bad = subprocess.run([sys.executable, "-m", "monitor", "--bogus"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.splitlines()[-1] == "call-monitor: error: unrecognized arguments: --bogus"


def test_the_release_is_declared_once_in_the_package_and_the_package_metadata_takes_it_from_there() -> None:
    """One number to raise (docs/development.md): pyproject.toml declares no version of its own."""
    import re
    import tomllib

    from conftest import ROOT
    from monitor.release import RELEASE
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "monitor.release.RELEASE"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", RELEASE)
    assert "monitor/release.py" in (ROOT / "Makefile").read_text()  # raised, the venv's metadata follows


def test_install_service_help_says_what_caller_and_webhook_are() -> None:
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "install-service", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--caller SOURCE       the caller's leg" in out
    assert "--webhook URL         supervisor webhook" in out


def test_config_takes_no_db_option_since_it_would_only_echo_it_back() -> None:
    assert "--db" not in _subparsers()["config"]._option_string_actions


@pytest.mark.parametrize("command", ["status", "call"])
def test_the_commands_that_ask_the_daemon_say_that_db_only_finds_its_socket(command: str) -> None:
    db = _subparsers()[command]._option_string_actions["--db"]
    assert "only to find its socket, FILE.sock" in db.help


@pytest.mark.parametrize("command", [["status"], ["call", "start"]])
def test_db_finds_the_socket_of_a_daemon_run_with_it_where_nothing_else_places_it(command, tmp_path) -> None:
    """No $XDG_RUNTIME_DIR, and no /run/user/UID (no login of the user's)."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"} | {
        "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    (tmp_path / "run-user").mkdir()
    done = call_monitor(*command, "--db", tmp_path / "e.db", timeout=30, env=env,
                        prefix=with_run_user(tmp_path / "run-user"))
    assert done.returncode == 1
    assert done.stderr.strip() == f"call-monitor: error: no daemon running (no status socket at {tmp_path}/e.db.sock)"


def test_the_help_shows_the_files_under_the_xdg_folders_the_command_will_use(tmp_path, monkeypatch) -> None:
    """With $XDG_CONFIG_HOME and $XDG_DATA_HOME set, no help names ~/.config or ~/.local/share: the
    configuration, the databases, the console's token and the unit's folder are shown where they are."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "1000")  # no long path broken across lines
    helps = {name: " ".join(p.format_help().split()) for name, p in _subparsers().items()}
    for name, text in helps.items():
        assert "~/.config" not in text and "~/.local" not in text, (name, text)
    assert f"on top of {tmp_path}/cfg/callmonitor/config.toml" in helps["replay"]
    assert f"else {tmp_path}/data/callmonitor/events.db" in helps["run"]
    assert f"else {tmp_path}/data/callmonitor/supervisor.db" in helps["supervisor"]
    assert f"else {tmp_path}/cfg/callmonitor/supervisor.token" in helps["supervisor"]
    assert f"(in {tmp_path}/cfg/systemd/user)" in helps["install-service"]


def test_the_help_writes_the_default_files_under_the_home_folder_with_a_tilde(monkeypatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    text = " ".join(_subparsers()["supervisor"].format_help().split())
    assert "else ~/.local/share/callmonitor/supervisor.db" in text and "on top of ~/.config/callmonitor/config.toml" in text


@pytest.fixture(scope="module")
def homeless_user() -> None:
    """Skips unless a user the system does not know can run this checkout's Python: it needs root
    to become one, and the checkout and its Python reachable by such a user (a checkout cloned into
    root's home, mode 700, is not)."""
    if os.geteuid() != 0:
        pytest.skip("runs a command as a user without a home folder (needs root)")
    done = _homeless("--help")
    if done.returncode != 0:
        pytest.skip(f"a user without a home folder cannot run this checkout's Python: {done.stderr.strip()}")


def _homeless(*args: str, **xdg: str) -> subprocess.CompletedProcess:
    """``call-monitor ARGS`` as a user the system does not know (no entry in the user database,
    so no home folder) with ``HOME`` unset, and the XDG variables only as ``xdg`` gives them."""
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    return subprocess.run(["setpriv", "--reuid", "54321", "--regid", "54321", "--clear-groups", sys.executable,
                           "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=dict(env, PYTHONPATH=str(ROOT), **xdg))


@pytest.mark.usefixtures("homeless_user")
def test_without_a_home_folder_help_is_given_and_a_command_that_needs_one_says_so_in_one_line() -> None:
    for args in (("--help",), ("alerts", "--help"), ("install-service", "--help"), ("config", "--help")):
        done = _homeless(*args)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)
        assert "usage:" in done.stdout
    done = _homeless("alerts")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "call-monitor: error: no home folder is known for the default of XDG_CONFIG_HOME: set HOME, or "
        "XDG_CONFIG_HOME and XDG_DATA_HOME to absolute paths"]
    done = _homeless("analyze", str(ROOT / "audio_fixtures" / "calls" / "normal_16k.wav"))
    assert done.returncode == 0 and "speech rate" in done.stdout, done.stderr


@pytest.mark.usefixtures("homeless_user")
def test_without_a_home_folder_models_lists_the_folders_it_can_search_without_a_traceback() -> None:
    """vosk's own folders under the home folder are none when no home folder is known; the
    XDG folders given absolute, as the no-home-folder line advises."""
    done = _homeless("models", XDG_CONFIG_HOME="/nonexistent/config", XDG_DATA_HOME="/nonexistent/data")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.usefixtures("homeless_user")
def test_without_a_home_folder_a_command_loads_its_speech_model_all_the_same() -> None:
    """vosk's package reads the home folder when it is imported; its library, loaded without the
    package (monitor.transcription.vosk_native), does not: the model is loaded and the call
    transcribed, no line about the home folder."""
    data = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        data.chmod(0o777)
        call = data / "call.wav"  # its first 8 s: the model's load is what is asked about
        x, rate = sf.read(ALERTING_CALL, frames=8 * sf.info(ALERTING_CALL).samplerate)
        sf.write(call, x, rate)
        call.chmod(0o666)
        done = _homeless("replay", "--model", "ko", "--jsonl", "--db", str(data / "e.db"), str(call),
                         XDG_CONFIG_HOME=str(data / "config"), XDG_DATA_HOME=str(data / "data"))
    finally:
        shutil.rmtree(data)
    assert done.returncode == 0 and "Traceback" not in done.stderr and "home folder" not in done.stderr, done.stderr
    assert '"type": "words"' in done.stdout


@pytest.mark.usefixtures("homeless_user")
def test_without_a_home_folder_install_service_says_relative_paths_are_not_found_from_here() -> None:
    """The daemon's working folder is not this one (none is known for it): the warning is given,
    the unit written, no traceback."""
    work = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        work.chmod(0o777)
        (work / "monitor.toml").write_text('[storage]\ndb = "calls.db"\n', encoding="utf-8")
        done = _homeless("install-service", "--caller", "softphone.monitor", "--unit-dir", str(work / "units"),
                         "--config", str(work / "monitor.toml"), XDG_CONFIG_HOME=str(work / "config"),
                         XDG_DATA_HOME=str(work / "data"))
        written = (work / "units" / "callmonitor.service").is_file()
    finally:
        shutil.rmtree(work)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    anyones, relative = done.stderr.splitlines()[:2]  # the folder is 0777, for the user without a home to write in
    assert anyones.startswith(f"call-monitor: warning: {work / 'monitor.toml'}: the configuration may be replaced by "
                              "every user: its folder "), anyones
    assert relative.startswith("call-monitor: warning: relative paths in the configuration "
                               "(storage.db = 'calls.db')") and written


@pytest.mark.parametrize("args, said", [
    (["replay", "--jsnol", "call.wav"],
     "call-monitor replay: error: unrecognized arguments: --jsnol (did you mean --jsonl?)"),
    (["alerts", "--sinse", "2h"],
     "call-monitor alerts: error: unrecognized arguments: --sinse 2h (did you mean --since?)"),
    (["alerts", "2h"], "call-monitor alerts: error: unrecognized arguments: 2h"),
    (["batch", "calls/", "--jbos", "2"],
     "call-monitor batch: error: unrecognized arguments: --jbos 2 (did you mean --jobs?)"),
])
def test_an_argument_no_option_takes_is_said_by_its_commands_parser_with_the_option_it_is_close_to(
        args, said, tmp_path) -> None:
    """The command's own usage and name, not the top parser's `call-monitor [-h] COMMAND ...`, and
    nothing run (exit 2)."""
    r = call_monitor(*args, cwd=tmp_path, timeout=30)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"usage: call-monitor {args[0]} ") and r.stderr.endswith(f"\n{said}\n"), r.stderr
    assert os.listdir(tmp_path) == []


def _arguments_required(parser: argparse.ArgumentParser) -> list[str]:
    """Arguments that give ``parser`` what it requires: each positional argument (its first choice,
    or a word) and each required option with a word."""
    given: list[str] = []
    for action in parser._actions:
        if action.option_strings and action.required:
            given += [action.option_strings[-1], "x"]
        elif not action.option_strings and action.nargs not in ("?", "*"):
            given.append(next(iter(action.choices)) if action.choices else "x")
    return given


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_a_command_takes_its_long_options_whole_and_no_beginning_of_one_for_it(command: str) -> None:
    """argparse took a beginning of a long option for the option (``status --jso``, ``replay
    --webhook-w 2``): a mistyped option, or one of a later release given to this one, was silently
    another. Every beginning of every long option of every command that is not itself an option is
    left unrecognized, which the command refuses (the case below)."""
    parser = _subparsers()[command]
    required = _arguments_required(parser)
    taken = []
    for option in (o for o in parser._option_string_actions if o.startswith("--")):
        for begun in (option[:end] for end in range(3, len(option))):
            if begun not in parser._option_string_actions:
                _, unrecognized = parser.parse_known_args([*required, f"{begun}=1"])
                taken += [] if unrecognized == [f"{begun}=1"] else [begun]
    assert taken == []


@pytest.mark.parametrize("args, said", [
    (["status", "--jso"], "call-monitor status: error: unrecognized arguments: --jso (did you mean --json?)"),
    (["replay", "call.wav", "--webhook-w", "2"],
     "call-monitor replay: error: unrecognized arguments: --webhook-w 2 (did you mean --webhook-wait?)"),
    (["run", "--no-transc"],
     "call-monitor run: error: unrecognized arguments: --no-transc (did you mean --no-transcribe?)"),
])
def test_a_beginning_of_a_long_option_is_refused_with_the_option_it_begins_and_nothing_run(
        args, said, tmp_path) -> None:
    r = call_monitor(*args, cwd=tmp_path, timeout=30)
    assert (r.returncode, r.stdout) == (2, "") and r.stderr.splitlines()[-1] == said, r.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("typed, said", [
    ("analyse", "call-monitor: error: argument COMMAND: invalid choice: 'analyse' (did you mean analyze?)"),
    ("install-servcie", "call-monitor: error: argument COMMAND: invalid choice: 'install-servcie' "
                        "(did you mean install-service?)"),
    ("xyzzy", "call-monitor: error: argument COMMAND: invalid choice: 'xyzzy' (choose from 'analyze', 'replay', "
              "'alerts', 'config', 'models', 'devices', 'run', 'status', 'call', 'outcome', 'install-service', 'report', "
              "'supervisor', 'forget-agent', 'batch', 'purge')"),
])
def test_a_mistyped_command_is_said_with_the_command_it_is_close_to(typed, said, tmp_path) -> None:
    r = call_monitor(typed, "x.wav", cwd=tmp_path, timeout=30)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.splitlines()[-1] == said, r.stderr
    assert os.listdir(tmp_path) == []


def test_batch_takes_j_and_jobs_for_its_workers_as_make_and_the_tools_do() -> None:
    batch = _subparsers()["batch"]
    assert batch.parse_args(["calls/", "-j", "1"]).workers == 1
    assert batch.parse_args(["calls/", "--workers", "3"]).workers == 3
    assert batch.parse_args(["calls/", "--jobs", "2"]).workers == 2


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "-inf", "1e400"])
def test_seconds_not_finite_and_0_or_more_are_an_error_of_the_option_not_a_wait_of_none_or_without_end(
        value, tmp_path) -> None:
    """``replay --webhook-wait S`` is seconds, 0 or more: a negative number or NaN (which waited no
    time at all) and an infinite one (which waited until the process was killed) are the option's
    error, said as argparse says the others (usage, then one line naming it), exit 2, before any file
    is read or made; its help gives the bound."""
    recording = ROOT / "audio_fixtures" / "calls" / "normal_8k.wav"
    proc = call_monitor("replay", "--db", tmp_path / "calls.db", "--webhook", "http://127.0.0.1:9/hook",
                        f"--webhook-wait={value}", recording, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("usage: call-monitor replay ")
    assert proc.stderr.splitlines()[-1] == ("call-monitor replay: error: argument --webhook-wait: must be a number "
                                            "of seconds, 0 or more")
    assert list(tmp_path.iterdir()) == []
    replay = _subparsers()["replay"]
    assert [replay.parse_args(["call.wav", "--webhook-wait", s]).webhook_wait for s in ("0", "2.5")] == [0.0, 2.5]
    assert "0 or more" in " ".join(replay.format_help().split())


CHANNEL_REFUSED = [
    ("analyze", [], "--channel", "-1", "must be 0 or more"),
    *[(command, extra, "--caller-channel", "-1", "must be 0 or more")
      for command, extra in (("replay", []), ("report", ["-o", "call.html"]), ("batch", []))],
    *[(command, extra, "--agent-channel", "-2", "must be 0 or more, or -1 for none")
      for command, extra in (("replay", []), ("report", ["-o", "call.html"]), ("batch", []))],
]


@pytest.mark.parametrize("command, extra, option, value, said", CHANNEL_REFUSED)
def test_a_negative_channel_is_an_error_of_the_option_not_a_channel_the_file_lacks(
        command, extra, option, value, said, tmp_path) -> None:
    """A channel is 0 or more; --agent-channel's -1 alone means no agent leg. Anything below is the
    option's error, said as argparse says the others (usage, then one line), exit 2, before any
    file is read: the recording here is a good one, and nothing is made beside it."""
    recording = ROOT / "audio_fixtures" / "calls" / "normal_8k.wav"
    db = [] if command == "analyze" else ["--db", tmp_path / "calls.db"]
    proc = call_monitor(command, *extra, *db, option, value, recording, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"usage: call-monitor {command} ")
    assert proc.stderr.splitlines()[-1] == f"call-monitor {command}: error: argument {option}: {said}"
    assert list(tmp_path.iterdir()) == []


def test_every_option_of_every_command_is_documented_under_one_of_its_names() -> None:
    """README.md or docs/*.md says what each option does: `--help` is not the only place to find it."""
    import re
    docs = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    undocumented = [f"{command} {action.option_strings[-1]}"
                    for command, parser in _subparsers().items() for action in parser._actions
                    if action.option_strings and "-h" not in action.option_strings
                    and not any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", docs) for o in action.option_strings)]
    assert undocumented == []


def _documented_command_lines() -> list[tuple[str, str]]:
    """Every command line README.md and docs/*.md give, with the file it is in: the indented
    example lines and the code spans that run ``call-monitor`` (first, or after a shell's ``&&``,
    ``|``, ``;`` or ``(``; a line's ``\\`` continuation joined), and the README's table of
    commands. The status line ``call-monitor daemon pid N, ...`` is output, not a command."""
    import re
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        examples = [line.strip() for line in text.splitlines() if line.startswith("    ")]
        spans = re.findall(r"`([^`]+)`", re.sub(r"^    .*$", "", text, flags=re.M))
        for line in examples + spans:
            found += [(path.name, m.group(0)) for m in re.finditer(
                r"(?:^|(?<=[;&|(])|(?<=[;&|(] ))(?:\S*/)?call-monitor\s+(?!daemon pid)[a-z][^`#;&|)]*",
                line.replace("\\|", " "))]
    return found + [("README.md", f"call-monitor {cell}") for cell in _readme_table_commands()]


def _readme_table_commands() -> list[str]:
    """The commands of the README's table of commands as its first column gives them, each without
    its ``call-monitor`` (``install-service [run's options] [--enable]``, ``install-service --remove``)."""
    import re
    table = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\|", " ")
    return [cell for row in re.findall(r"^\| `([a-z][^|]*?)` \|", table, flags=re.M)
            for cell in re.findall(r"^[^`]+|(?<=`)[a-z-]+ [^`]*", row)]


def test_every_command_and_option_the_documents_give_is_one_the_command_line_takes() -> None:
    """The other way round from the test above: a command or an option renamed or removed leaves no
    example in the documents that `call-monitor` would refuse (a value in quotes is no option)."""
    import re
    commands = _subparsers()
    lines = _documented_command_lines()
    refused = []
    for doc, line in lines:
        words = re.sub(r"\"[^\"]*\"|'[^']*'", " ", line).split()
        command = commands.get(words[1])
        if command is None:
            refused.append(f"{doc}: {line!r}: no command {words[1]!r}")
            continue
        refused += [f"{doc}: {line!r}: {words[1]} takes no {option}" for option in
                    re.findall(r"(?<![\w-])--?[a-zA-Z][\w-]*", " ".join(words[2:]))
                    if option not in command._option_string_actions]
    assert len(lines) > 50 and refused == []


def test_the_readme_s_table_of_commands_has_a_row_for_each_command() -> None:
    """A command added to the command line is in the table where a user looks for it."""
    assert {cell.split()[0] for cell in _readme_table_commands()} == set(_subparsers())


def test_a_short_output_sent_to_a_full_disk_is_one_line_too() -> None:
    """``models > list.txt`` on a full disk, standard output block-buffered (no PYTHONUNBUFFERED): the
    few lines still buffered when the command ends are written before it returns, so that their
    failure is the same one line, exit 1, not the interpreter's 'Exception ignored' and exit 120."""
    _one_line_to_a_full_disk("models")


def test_a_command_started_with_its_standard_output_closed_prints_nothing_and_succeeds() -> None:
    """``call-monitor models >&-`` (a launcher that closes descriptor 1): Python's standard output is
    None, where print writes nothing; the command runs as it would with its output thrown away."""
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "models"], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=60, preexec_fn=lambda: os.close(1))
    assert (done.returncode, done.stderr) == (0, "")


def test_version_sent_to_a_full_disk_is_one_line_too() -> None:
    """``call-monitor --version > version.txt`` on a full disk: the line a command's output gives, exit 1."""
    _one_line_to_a_full_disk("--version")


@pytest.mark.parametrize("args", [("--help",), ("config", "--help")], ids=["the command line's", "a command's"])
def test_help_sent_to_a_full_disk_is_one_line_too(args) -> None:
    """``--help > help.txt`` on a full disk: one line, exit 1, not the help lost with exit 0."""
    _one_line_to_a_full_disk(*args)


def test_a_stop_with_output_still_buffered_for_a_full_disk_is_one_line_and_the_stop_s_status() -> None:
    """``devices > list.txt`` on a full disk, Ctrl-C as it says why the sound-server sources are not
    listed, the input devices still buffered (no PYTHONUNBUFFERED): what is buffered is written
    before the command returns, as on every other way it ends, so that its failure is the same one
    line, and the exit status the stop's (130), not the interpreter's 'Exception ignored' and exit 120."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | {"PULSE_SERVER": "unix:/nonexistent"}
    with open("/dev/full", "w") as full:
        done = stopped_at("monitor.capture.devices:no_sources_reason", "SIGINT", "devices", env=env, stdout=full)
    assert (done.returncode, done.stderr.splitlines()) == (
        130, ["call-monitor: error: /dev/full: cannot write the output (No space left on device); "
              "what was printed before it stands"])


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_stop_as_a_command_returns_leaves_its_status_and_its_output_whole_with_nothing_said(sig) -> None:
    """Ctrl-C or SIGTERM as the first function begins after the command returned (once its work was
    done and said): it used to be raised as the exit of SIGTERM's block began, skipping the exit, and
    the command exited 130 or 143 with nothing said. It leaves the command's own status and its
    whole output, and says nothing more."""
    done = stopped_after("monitor.commands.models:run", sig, "models")
    assert (done.returncode, done.stderr) == (0, "") and done.stdout == call_monitor("models").stdout != ""


def _one_line_to_a_full_disk(*args: str) -> None:
    """``call-monitor ARGS > /dev/full``, standard output block-buffered (no PYTHONUNBUFFERED): one
    error line naming the output, exit 1."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "monitor.cli", *args], cwd=ROOT, env=env, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert (done.returncode, done.stderr.splitlines()) == (
        1, ["call-monitor: error: /dev/full: cannot write the output (No space left on device); "
            "what was printed before it stands"])
