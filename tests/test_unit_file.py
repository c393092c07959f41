"""``install-service`` writes a unit file that systemd reads back as given: ``%`` and ``$`` are
escaped, odd arguments quoted, control characters refused with one line."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (FINAL_MDL_CUT, ROOT, kaldi_position_out, PY, bare_sqlite_file, call_monitor, call_monitor_here, immutable, made_in,
                      mounted_tmpfs, stopped_at)

from monitor.commands.install_service import UnitArgumentError, exec_start, systemd_quote
from monitor.delivery.store import Store
from monitor.delivery.store_files import CONSOLE_APPLICATION_ID



def _args(**kw) -> argparse.Namespace:
    base = dict(caller=None, agent=None, config=None, db=None, webhook=None)
    return argparse.Namespace(**(base | kw))


@pytest.mark.parametrize("arg, quoted", [
    ("softphone.monitor", "softphone.monitor"),
    ("100%", '"100%%"'),
    ("a%Zb", '"a%%Zb"'),
    ("$HOME", '"$$HOME"'),
    ("my sink", '"my sink"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("", '""'),
])
def test_arguments_are_escaped_per_systemd_rules(arg, quoted):
    assert systemd_quote(arg) == quoted


@pytest.mark.parametrize("bad", ["a\nExecStartPre=/bin/rm -rf ~", "tab\there", "bell\x07", "del\x7f"])
def test_control_characters_are_refused(bad):
    with pytest.raises(UnitArgumentError, match="control character"):
        exec_start(_args(caller=bad))


def test_a_newline_in_caller_is_one_clear_line_and_no_unit(tmp_path):
    r = subprocess.run([PY, "-m", "monitor.cli", "install-service", "--unit-dir", str(tmp_path),
                        "--caller", "sink\n[Service]\nExecStartPre=/bin/false"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and not (tmp_path / "callmonitor.service").exists()
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("call-monitor: error: --caller ")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit_with_hostile_arguments(tmp_path):
    hostile = dict(caller="a%Zb$HOME \"q\" \\x", agent="mic;rm -rf ~", db=str(tmp_path / "my db%n$x.db"),
                   webhook="http://127.0.0.1:8080/a?b=1&c=%20")
    r = subprocess.run([PY, "-m", "monitor.cli", "install-service", "--unit-dir", str(tmp_path),
                        *[x for k, v in hostile.items() for x in (f"--{k}", v)]],
                       capture_output=True, text=True, cwd=ROOT, timeout=60,
                       env=dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "100%cfg$x")))
    assert r.returncode == 0, r.stderr
    unit = tmp_path / "callmonitor.service"
    assert "%%Z" in unit.read_text() and "$$HOME" in unit.read_text()
    v = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stderr
    # the same unit with the escaping undone is what systemd refused
    raw = tmp_path / "raw.service"
    raw.write_text(unit.read_text().replace("%%", "%"))
    v = subprocess.run(["systemd-analyze", "verify", str(raw)], capture_output=True, text=True, timeout=60)
    assert v.returncode != 0 and "specifier" in v.stderr.lower()


def _install(tmp_path, *args: str, cwd: Path | None = None, **environ: str) -> subprocess.CompletedProcess:
    """``install-service`` with no user configuration (HOME and XDG_CONFIG_HOME in ``tmp_path``), in
    the environment with ``environ`` on top (in ``cwd``, the checkout's folder unless given); in this
    process (:func:`call_monitor_here`), its environment put back after."""
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT))
    env.update(environ)
    return call_monitor_here("install-service", "--unit-dir", str(tmp_path / "units"), *args, cwd=cwd, env=env)


@pytest.mark.parametrize("problem", ["missing", "bad key", "bad value"])
def test_a_configuration_the_daemon_could_not_use_is_one_line_exit_2_and_no_unit(tmp_path, problem):
    conf = tmp_path / "monitor.toml"
    if problem == "bad key":
        conf.write_text("[daemon]\nno_such_key = 1\n", encoding="utf-8")
    elif problem == "bad value":
        conf.write_text("[daemon]\ncall_end_silence_s = -5\n", encoding="utf-8")
    r = _install(tmp_path, "--caller", "softphone.monitor", "--config", str(conf))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("call-monitor: error: ") and str(conf) in r.stderr
    assert not (tmp_path / "units").exists()


def test_the_unit_retries_a_refused_daemon_for_minutes_not_for_ever(tmp_path):
    conf = tmp_path / "monitor.toml"
    conf.write_text("[daemon]\ncall_end_silence_s = 30\n", encoding="utf-8")
    r = _install(tmp_path, "--caller", "softphone.monitor", "--config", str(conf))
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "units" / "callmonitor.service").read_text().splitlines()
    assert "Restart=on-failure" in lines and "RestartSec=10" in lines  # a sink that appears late is found
    assert "StartLimitIntervalSec=900" in lines and "StartLimitBurst=30" in lines  # then it gives up
    conf.write_text("[daemon]\ncall_end_silence_s = -5\n", encoding="utf-8")  # broken after installing
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT))
    started = subprocess.run([PY, "-m", "monitor.cli", "run", "--config", str(conf), "--db", str(tmp_path / "e.db")],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert started.returncode == 2 and started.stderr.count("\n") == 1, "one line saying why, in the journal"


def test_the_unit_carries_the_supervisors_token_file_and_a_missing_one_is_refused(tmp_path):
    """A token file every user may read is said, with the fix, and the unit written all the same."""
    token = tmp_path / "supervisor.token"
    token.write_text("s3cret\n", encoding="utf-8")
    token.chmod(0o644)
    r = _install(tmp_path, "--caller", "softphone.monitor", "--webhook", "http://127.0.0.1:8640/webhook",
                 "--webhook-token-file", str(token))
    assert r.returncode == 0, r.stderr
    assert (f"call-monitor: warning: {token}: the token file may be read by every user (mode 0644); "
            f"make it private: chmod 600 {token}\n") in r.stderr
    assert "clear text" not in r.stderr  # http:// to this machine's loopback
    start = next(line for line in (tmp_path / "units" / "callmonitor.service").read_text().splitlines()
                 if line.startswith("ExecStart="))
    url_file = tmp_path / "cfg" / "callmonitor" / "service-webhook.url"
    # http:// to another machine: said, its key hidden, and written all the same, as run says it once it listens
    token.chmod(0o600)
    lan = _install(tmp_path, "--caller", "softphone.monitor", "--webhook", "http://sup.example:8640/webhook?k=s3cret",
                   "--webhook-token-file", str(token), "--print")
    assert lan.returncode == 0 and "s3cret" not in lan.stderr, lan.stderr
    assert ("call-monitor: warning: webhook http://sup.example:8640/webhook?k=***: an http:// URL to another machine: "
            "the token and the alerts cross the network in clear text (give the console --tls-cert and --tls-key, "
            "and the daemon its https:// URL)\n") in lan.stderr
    assert start.endswith(f" run --caller softphone.monitor --webhook-url-file {url_file} --webhook-token-file {token}")
    both = _install(tmp_path, "--remove", "--enable")
    assert (both.returncode, both.stderr) == (2, "call-monitor: error: --remove takes no --enable: it stops the "
                                                 "daemon and removes its unit\n")
    # --remove: the daemon stopped and disabled, the unit and its URL file gone, the token kept
    r = _install(tmp_path, "--remove", PATH=f"{_recording_systemctl(tmp_path)}:{os.environ['PATH']}")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "systemctl.log").read_text().splitlines() == ["--user disable --now callmonitor.service",
                                                                     "--user daemon-reload"]
    unit = tmp_path / "units" / "callmonitor.service"
    assert r.stderr.splitlines()[:2] == [f"call-monitor: removed {unit}", f"call-monitor: removed {url_file}"]
    assert not unit.exists() and not url_file.exists() and token.exists()
    again = _install(tmp_path, "--remove", PATH=str(tmp_path / "bin"))  # run twice: done, whatever is there
    assert (again.returncode, again.stderr) == (0, f"call-monitor: no unit at {unit}: nothing to remove\n")
    (tmp_path / "units").rmdir()  # empty
    r = _install(tmp_path, "--caller", "softphone.monitor", "--webhook", "http://127.0.0.1:8640/webhook",
                 "--webhook-token-file", str(tmp_path / "missing.token"))
    assert r.returncode == 2 and r.stderr == f"call-monitor: error: {tmp_path / 'missing.token'}: no such token file\n"
    assert not (tmp_path / "units").exists()


def test_a_webhook_url_holding_a_key_in_a_file_others_may_read_is_said_with_the_fix(tmp_path):
    """The URL file of ``--webhook-url-file``, or the configuration setting ``delivery.webhook_url``,
    read by others while its URL holds a key (a Slack-style path, a query value) is said as a token
    file is; a URL with no key in it (the console's own) is no secret, and nothing is said of it."""
    keyed = tmp_path / "hook.url"
    keyed.write_text("https://hooks.example/services/T000/s3cret\n", encoding="utf-8")
    keyed.chmod(0o644)
    r = _install(tmp_path, "--caller", "softphone.monitor", "--webhook-url-file", str(keyed), "--print")
    assert r.returncode == 0 and "s3cret" not in r.stderr, r.stderr
    assert (f"call-monitor: warning: {keyed}: the webhook URL file, whose URL holds a key, may be read by every "
            f"user (mode 0644); make it private: chmod 600 {keyed}\n") in r.stderr
    conf = tmp_path / "monitor.toml"
    conf.write_text('[delivery]\nwebhook_url = "https://hooks.example/hook?key=s3cret"\n', encoding="utf-8")
    conf.chmod(0o640)
    r = _install(tmp_path, "--caller", "softphone.monitor", "--config", str(conf), "--print")
    assert r.returncode == 0 and "s3cret" not in r.stderr, r.stderr
    assert (f"call-monitor: warning: {conf}: this configuration, whose delivery.webhook_url holds a key, may be read "
            f"by its group (mode 0640); make it private: chmod 600 {conf}\n") in r.stderr
    conf.write_text('[delivery]\nwebhook_url = "https://console.example:8640/webhook"\n', encoding="utf-8")
    r = _install(tmp_path, "--caller", "softphone.monitor", "--config", str(conf), "--print")
    assert r.returncode == 0 and "may be read" not in r.stderr, r.stderr


def _unit_lines(tmp_path) -> list[str]:
    return (tmp_path / "units" / "callmonitor.service").read_text().splitlines()


def test_the_unit_carries_the_model_path_and_the_folders_its_configuration_was_checked_with(tmp_path):
    (tmp_path / "my models").mkdir()
    r = _install(tmp_path, "--caller", "softphone.monitor", VOSK_MODEL_PATH=f"{tmp_path / 'my models'}:~/vosk",
                 XDG_DATA_HOME=str(tmp_path / "data"), SSL_CERT_FILE="~/console.pem")
    assert r.returncode == 0, r.stderr
    lines = _unit_lines(tmp_path)
    # the supervisor console's own certificate, which the webhook's posts are to trust
    assert f"Environment=SSL_CERT_FILE={tmp_path / 'console.pem'}" in lines
    # systemd starts the daemon without the shell's environment: without these, the daemon finds no
    # model (acoustic-only) and reads another configuration and database than the ones checked here
    assert f'Environment="VOSK_MODEL_PATH={tmp_path / "my models"}:{tmp_path / "vosk"}"' in lines
    assert f"Environment=XDG_CONFIG_HOME={tmp_path / 'cfg'}" in lines
    assert f"Environment=XDG_DATA_HOME={tmp_path / 'data'}" in lines
    assert lines.index(f"Environment=XDG_DATA_HOME={tmp_path / 'data'}") < \
        next(i for i, line in enumerate(lines) if line.startswith("ExecStart="))
    r = _install(tmp_path, "--caller", "softphone.monitor", VOSK_MODEL_PATH="", XDG_DATA_HOME="relative/data",
                 SSL_CERT_FILE="", SSL_CERT_DIR="")
    assert r.returncode == 0, r.stderr
    assert [line for line in _unit_lines(tmp_path) if line.startswith("Environment=")] == \
        [f"Environment=XDG_CONFIG_HOME={tmp_path / 'cfg'}"], "unset, empty and relative ones are not carried"


def test_installing_again_without_a_variable_the_unit_carried_says_which_its_daemon_loses(tmp_path):
    """install-service run again from a shell that lacks a variable the unit before carried (a new
    terminal without `export SSL_CERT_FILE=...`) writes a unit whose daemon starts without it: posts to
    a console of its own certificate fail, another database is used. One warning line names each such
    variable with the value the unit before gave it; a variable still set is no news."""
    r = _install(tmp_path, "--caller", "softphone.monitor", "--no-transcribe", SSL_CERT_FILE="~/console.pem",
                 XDG_DATA_HOME=str(tmp_path / "data"))
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    r = _install(tmp_path, "--caller", "softphone.monitor", "--no-transcribe", SSL_CERT_FILE="",
                 XDG_DATA_HOME=str(tmp_path / "data"))
    assert r.returncode == 0, r.stderr
    warned = [line for line in r.stderr.splitlines() if line.startswith("call-monitor: warning:")]
    assert warned == [f"call-monitor: warning: the unit before carried SSL_CERT_FILE={tmp_path / 'console.pem'}, "
                      "not set here: the new unit's daemon starts without it (set it and install again to keep it)"]
    assert not any(line.startswith("Environment=SSL_CERT_FILE") for line in _unit_lines(tmp_path))
    r = _install(tmp_path, "--caller", "softphone.monitor", "--no-transcribe", SSL_CERT_FILE="",
                 XDG_DATA_HOME=str(tmp_path / "data"))
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr


def test_a_dropped_variable_is_named_with_its_value_as_it_was_set_not_as_the_unit_quotes_it():
    """The value the warning names is the one to set again: a folder with ``%``, a space and a quote
    (written ``"XDG_DATA_HOME=/srv/100%% \\"q\\""`` in the unit) is said as it was set."""
    from monitor.commands.install_service import dropped_environment, environment_lines
    before = environment_lines({"XDG_DATA_HOME": '/srv/100% "q"'})
    assert "%%" in before and '\\"' in before
    assert dropped_environment(before, "") == (
        'the unit before carried XDG_DATA_HOME=/srv/100% "q", not set here: the new unit\'s daemon starts without '
        "it (set it and install again to keep it)")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_a_model_path_with_odd_characters(tmp_path):
    r = _install(tmp_path, VOSK_MODEL_PATH=f'{tmp_path}/a b/100%/$HOME/"q"')
    assert r.returncode == 0, r.stderr
    assert f'Environment="VOSK_MODEL_PATH={tmp_path}/a b/100%%/$HOME/\\"q\\""' in _unit_lines(tmp_path)
    v = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "units" / "callmonitor.service")],
                       capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stderr


def test_a_unit_written_where_systemd_does_not_look_is_said_with_the_link_that_lets_it_find_it(tmp_path):
    """``--unit-dir`` outside systemd's user unit folders: `enable --now callmonitor` would not find
    the unit by its name, so the line says to link it first; in the default folder, no link."""
    r = _install(tmp_path, "--caller", "softphone.monitor", "--no-transcribe")
    unit = tmp_path / "units" / "callmonitor.service"
    assert r.stderr.splitlines()[-1] == (f"call-monitor: enable it with: systemctl --user link {unit} && "
                                         "systemctl --user daemon-reload && systemctl --user enable --now callmonitor")
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT))
    home = subprocess.run([PY, "-m", "monitor.cli", "install-service", "--caller", "softphone.monitor",
                           "--no-transcribe"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert (tmp_path / "cfg" / "systemd" / "user" / "callmonitor.service").is_file(), home.stderr
    assert home.stderr.splitlines()[-1] == ("call-monitor: enable it with: systemctl --user daemon-reload && "
                                            "systemctl --user enable --now callmonitor")


def test_installing_again_with_other_options_says_the_running_daemon_needs_a_restart(tmp_path):
    assert _install(tmp_path, "--caller", "softphone.monitor").returncode == 0
    same = _install(tmp_path, "--caller", "softphone.monitor")
    assert same.returncode == 0 and "(the same unit as before)" in same.stderr
    other = _install(tmp_path, "--caller", "headset.monitor")
    assert other.returncode == 0, other.stderr
    assert "(it replaces a different unit)" in other.stderr and "systemctl --user restart callmonitor" in other.stderr
    assert any(line.endswith(" run --caller headset.monitor") for line in _unit_lines(tmp_path))


def _recording_systemctl(tmp_path) -> Path:
    """A folder with a ``systemctl`` that appends its arguments to ``systemctl.log`` and succeeds:
    this machine has no systemd user manager to enable a unit with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "systemctl"
    tool.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "systemctl.log"}\n')
    tool.chmod(0o755)
    return bin_dir


def test_enable_with_a_changed_unit_restarts_a_running_daemon_so_it_takes_the_new_options(tmp_path):
    path = f"{_recording_systemctl(tmp_path)}:{os.environ['PATH']}"
    assert _install(tmp_path, "--caller", "softphone.monitor", "--enable", PATH=path).returncode == 0
    assert _install(tmp_path, "--caller", "softphone.monitor", "--enable", PATH=path).returncode == 0
    r = _install(tmp_path, "--caller", "headset.monitor", "--enable", PATH=path)
    assert r.returncode == 0, r.stderr
    calls = (tmp_path / "systemctl.log").read_text().splitlines()
    # the unit folder (--unit-dir) is none systemd looks in: the unit is linked first
    link = f"--user link {tmp_path / 'units' / 'callmonitor.service'}"
    enable = [link, "--user daemon-reload", "--user enable --now callmonitor.service"]
    # enable --now leaves a running daemon as it is: only the changed unit restarts it
    assert calls == enable + enable + [link, "--user daemon-reload", "--user try-restart callmonitor.service",
                                       enable[2]]
    assert "restarted with the new unit" in r.stderr


def test_enable_after_an_upgrade_in_place_restarts_the_daemon_still_running_the_earlier_release(tmp_path):
    """call-monitor upgraded where the unit's ExecStart names it: the unit written is the same, but
    the daemon running (its status socket answering as a 0.1.0 daemon does, with no release) keeps
    the code it started with until restarted: said, and --enable restarts it."""
    from monitor.delivery.status_socket import StatusServer
    from monitor.release import RELEASE
    env = {"PATH": f"{_recording_systemctl(tmp_path)}:{os.environ['PATH']}", "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    assert _install(tmp_path, "--caller", "softphone.monitor", "--enable", **env).returncode == 0
    earlier = StatusServer(str(tmp_path / "run" / "callmonitor.sock"), lambda: {"pid": 4242, "uptime_s": 86400.0})
    try:
        r = _install(tmp_path, "--caller", "softphone.monitor", "--enable", **env)
    finally:
        earlier.close()
    assert r.returncode == 0 and "(the same unit as before)" in r.stderr, r.stderr
    assert (f"call-monitor: the daemon running is release before 0.2.0, not {RELEASE}, installed since it started: "
            "restarting it") in r.stderr.splitlines()
    assert "--user try-restart callmonitor.service" in (tmp_path / "systemctl.log").read_text().splitlines()
    assert r.stderr.splitlines()[-1] == "call-monitor: callmonitor.service enabled and started (a daemon that was running restarted)"


def test_enable_without_systemd_is_one_line_exit_1_and_the_unit_stays_written(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    r = _install(tmp_path, "--caller", "softphone.monitor", "--no-transcribe", "--enable", PATH=str(empty))
    assert r.returncode == 1
    err = r.stderr.splitlines()
    assert len(err) == 2 and err[0].startswith("call-monitor: wrote ")  # no traceback
    assert err[1].startswith("call-monitor: error: systemctl: ") and "is written, but not enabled" in err[1]
    assert (tmp_path / "units" / "callmonitor.service").is_file()


@pytest.mark.parametrize("argv", [
    ["install-service", "--unit-dir", ""],
    ["install-service", "--webhook", "http://127.0.0.1:8640/webhook", "--webhook-token-file", " "],
    ["run", "--webhook", "http://127.0.0.1:8640/webhook", "--webhook-token-file", ""],
    ["replay", str(ROOT / "audio_fixtures" / "calls" / "normal_8k.wav"), "--webhook", "http://127.0.0.1:8640/webhook",
     "--webhook-token-file", ""],
])
def test_an_empty_unit_folder_or_token_file_is_refused_not_taken_for_the_default(tmp_path, argv):
    """``--webhook-token-file "$TOKEN"`` with TOKEN unset would post without the console's token
    (every post refused), ``--unit-dir "$DIR"`` write the unit where it was not asked to."""
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT))
    r = call_monitor(*argv, "--db", str(tmp_path / "e.db"), env=env, timeout=60) if argv[0] != "install-service" \
        else call_monitor(*argv, env=env, timeout=60)
    option = argv[-2]
    what = "folder" if option == "--unit-dir" else "file"
    assert r.returncode == 2
    assert r.stderr == (f"call-monitor: error: {option} \"\": an empty path; give a {what}, or leave the option "
                        "out for the configured one\n")
    assert not (tmp_path / "cfg" / "systemd").exists() and not (tmp_path / "e.db").exists()


@pytest.mark.parametrize("command", ["run", "install-service"])
def test_an_empty_caller_source_is_refused_not_taken_for_the_configured_one(tmp_path, own_home, command):
    """`--caller "$SOURCE"` with SOURCE unset would monitor daemon.caller, or the default input (the
    microphone), without a word: one line, exit 2, before anything opens; no database, socket, lock
    or unit made. (`--agent ""` is no agent's leg, whatever daemon.agent says: a value, kept.)"""
    where = ["--db", str(tmp_path / "e.db"), "--no-transcribe"] if command == "run" else \
        ["--unit-dir", str(tmp_path / "units")]
    r = call_monitor(command, "--caller", "", "--agent", "", *where, env=own_home, timeout=60)
    assert r.returncode == 2
    assert r.stderr == ('call-monitor: error: --caller "": an empty source; give SOURCE, the monitor of the '
                        "softphone's sink (`call-monitor devices` lists them), or leave the option out for the "
                        "configured one (daemon.caller)\n")
    assert sorted(os.listdir(tmp_path)) == ["home"] and made_in(tmp_path / "home") == ["run"]


def test_a_unit_without_a_caller_source_says_it_takes_the_default_input(tmp_path):
    """Without --caller (nor daemon.caller) the daemon records the default input, on a desktop the
    microphone: the agent's voice judged as the caller's, every day from login, without a word."""
    r = _install(tmp_path)
    assert r.returncode == 0 and (tmp_path / "units" / "callmonitor.service").is_file()
    assert r.stderr.splitlines()[0] == (
        "call-monitor: warning: no caller source (--caller or daemon.caller): the unit's daemon will take the "
        "default input as the caller, usually the microphone; give --caller SOURCE, the monitor of the softphone's "
        "sink (`call-monitor devices` lists them)")
    conf = tmp_path / "monitor.toml"
    conf.write_text('[daemon]\ncaller = "softphone.monitor"\n', encoding="utf-8")
    for args in (["--caller", "softphone.monitor"], ["--config", str(conf)]):
        assert "no caller source" not in _install(tmp_path, *args).stderr


@pytest.mark.parametrize("command", ["install-service", "replay", "run"])
def test_a_token_file_without_a_webhook_is_said_not_ignored(tmp_path, command):
    """``--webhook-token-file`` with no webhook to send it to (the --webhook forgotten): one warning."""
    token = tmp_path / "supervisor.token"
    token.write_text("s3cret\n", encoding="utf-8")
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT),
               PULSE_SERVER="unix:/nonexistent")
    args = {"install-service": ["--caller", "softphone.monitor", "--unit-dir", str(tmp_path / "units")],
            "replay": [str(ROOT / "audio_fixtures" / "calls" / "normal_8k.wav"), "--no-transcribe", "--db",
                       str(tmp_path / "e.db")],
            "run": ["--caller", "softphone.monitor", "--no-wait-for-source", "--no-transcribe", "--db",
                    str(tmp_path / "e.db")]}[command]
    r = call_monitor(command, *args, "--webhook-token-file", token, env=env, timeout=300)
    where = ("--webhook URL or --webhook-url-file FILE" if command == "replay"
             else "--webhook URL, --webhook-url-file FILE or delivery.webhook_url")
    assert r.stderr.splitlines()[0] == (f"call-monitor: warning: --webhook-token-file {token} is not used: there is "
                                        f"no webhook ({where})")


def test_a_call_audio_folder_the_daemon_could_not_write_is_refused_like_a_bad_configuration(tmp_path):
    """``daemon.write_audio`` into a folder that cannot be made stops every start of the daemon
    (exit 2, restarted and given up on by systemd): refused here, as a bad configuration is."""
    (tmp_path / "plain").write_text("a file, not a folder\n")
    conf = tmp_path / "monitor.toml"
    conf.write_text(f'[daemon]\nwrite_audio = true\naudio_dir = "{tmp_path / "plain" / "audio"}"\n', encoding="utf-8")
    r = _install(tmp_path, "--caller", "softphone.monitor", "--config", str(conf))
    assert r.returncode == 2 and not (tmp_path / "units").exists()
    folder = tmp_path / "plain" / "audio"
    assert r.stderr == f"call-monitor: error: daemon.audio_dir: cannot write call audio to {folder} (Not a directory)\n"


def test_a_status_socket_path_too_long_for_a_unix_socket_is_refused_like_a_bad_configuration(tmp_path):
    """A Unix socket's path holds 107 bytes: a longer --socket fails every start of the unit's daemon."""
    sock = tmp_path / ("s" * 120) / "callmonitor.sock"
    r = _install(tmp_path, "--caller", "softphone.monitor", "--socket", str(sock))
    assert r.returncode == 2 and not (tmp_path / "units").exists()
    assert r.stderr == (f"call-monitor: error: status socket {sock}: the path is {len(os.fsencode(str(sock)))} bytes, "
                        "longer than a Unix socket's path holds (107 bytes): give a shorter one with --socket PATH "
                        "or daemon.status_socket\n")


def test_a_model_folder_that_is_no_model_is_refused_like_a_bad_configuration(tmp_path):
    (tmp_path / "vosk-model-small-en-us-0.15").mkdir()  # unpacking not finished
    conf = tmp_path / "monitor.toml"
    conf.write_text(f'[transcription]\nmodel = "{tmp_path / "vosk-model-small-en-us-0.15"}"\n', encoding="utf-8")
    r = _install(tmp_path, "--caller", "softphone.monitor", "--config", str(conf))
    assert r.returncode == 2 and not (tmp_path / "units").exists()
    assert r.stderr == (f"call-monitor: error: transcription.model: {tmp_path / 'vosk-model-small-en-us-0.15'}: not a "
                        "Vosk model (missing am/final.mdl or conf/model.conf)\n")


def test_the_language_s_model_folder_found_half_unpacked_is_refused_naming_the_language(tmp_path):
    """No --model and no transcription.model: the unit's daemon takes the model its language finds
    in VOSK_MODEL_PATH; a folder named for it that is no model (unpacking not finished) would stop
    every start, so it is refused here, one line naming the language and the folder."""
    half = tmp_path / "models" / "vosk-model-small-en-us-0.15"
    half.mkdir(parents=True)
    r = _install(tmp_path, "--caller", "softphone.monitor", VOSK_MODEL_PATH=str(tmp_path / "models"))
    assert r.returncode == 2 and not (tmp_path / "units").exists()
    assert r.stderr == (f"call-monitor: error: transcription.language 'en-us': {half}: not a Vosk model (missing "
                        "am/final.mdl or conf/model.conf)\n")


RECOGNIZER_REFUSED = ("Vosk loads this model but cannot start a recognizer with it (Failed to create a recognizer: "
                      "ConstFst::Read: Read failed: {model}/graph/HCLr.fst)")
"""What Vosk says of the Korean model with its lookahead graph cut short."""


@pytest.mark.parametrize("cut, asked, problem", [
    ("graph/HCLr.fst", "--model", RECOGNIZER_REFUSED),
    ("graph/HCLr.fst", "transcription.language", RECOGNIZER_REFUSED),
    ("am/final.mdl", "transcription.model", FINAL_MDL_CUT)])
def test_a_model_folder_with_all_its_files_that_vosk_cannot_load_is_refused_naming_it_and_vosks_complaint(
        tmp_path, cut, asked, problem):
    """A copy of the Korean model with one file cut short has every file the check of a model
    folder looks for, and the unit's daemon would fail at every start on it: install-service loads
    the model, as the daemon's start does (saying so first: it takes seconds), and refuses it in one
    line naming where it was asked for, the folder and what Vosk said; no unit is written."""
    from conftest import korean_model
    model = korean_model(tmp_path / "models", cut=cut)
    conf = tmp_path / "monitor.toml"
    conf.write_text({"--model": "", "transcription.language": '[transcription]\nlanguage = "ko"\n',
                     "transcription.model": f'[transcription]\nmodel = "{model}"\n'}[asked], encoding="utf-8")
    given = ["--model", str(model)] if asked == "--model" else []
    r = _install(tmp_path, "--caller", "softphone.monitor", "--config", str(conf), *given,
                 VOSK_MODEL_PATH=str(model.parent))
    assert r.returncode == 2 and not (tmp_path / "units").exists(), r.stderr
    key = {"--model": "--model", "transcription.model": "transcription.model:",
           "transcription.language": "transcription.language 'ko':"}[asked]
    assert kaldi_position_out(r.stderr) == (f"call-monitor: checking the model loads: {model.name}\n"
                        f"call-monitor: error: {key} {model}: {problem.format(model=model)}\n")


def test_a_unit_whose_daemon_finds_no_model_for_its_language_is_written_saying_it_runs_acoustic_only(tmp_path):
    """No model installed for the configured language (en-us by default): `run` warns that it runs
    acoustic-only, while install-service wrote the unit without a word. It says run's line and
    writes the unit (run runs acoustic-only, so the unit does not fail); switched off, nothing."""
    (tmp_path / "no models").mkdir()
    r = _install(tmp_path, "--caller", "softphone.monitor", VOSK_MODEL_PATH=str(tmp_path / "no models"))
    assert r.returncode == 0 and (tmp_path / "units" / "callmonitor.service").is_file(), r.stderr
    wrote, said, _how = r.stderr.splitlines()
    assert wrote.startswith("call-monitor: wrote "), r.stderr
    assert said.startswith("call-monitor: warning: no Vosk model for language 'en-us': running acoustic-only; "
                           "fetch one with: ") and said.endswith("; `call-monitor models` lists the models found"), said
    quiet = _install(tmp_path, "--caller", "softphone.monitor", "--no-transcribe", VOSK_MODEL_PATH=str(tmp_path))
    assert quiet.returncode == 0 and ": warning: " not in quiet.stderr, quiet.stderr


def test_a_model_vosk_loads_is_taken_and_the_unit_written(tmp_path):
    """Loading the model takes seconds, which install-service spent without a word: it says first
    that it checks the model loads, naming it."""
    from conftest import korean_model
    model = korean_model(tmp_path / "models")
    r = _install(tmp_path, "--caller", "softphone.monitor", "--model", str(model))
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == f"call-monitor: checking the model loads: {model.name}", r.stderr
    assert f" run --caller softphone.monitor --model {model}\n" in (tmp_path / "units" / "callmonitor.service").read_text()


def test_a_unit_whose_phrase_list_cannot_match_its_models_words_is_written_saying_so_as_run_would(tmp_path):
    """The daemon warns at its start that its distress phrases are another language's list than
    its model transcribes (no distress_phrase alert can be raised): install-service says the same
    line of the unit it writes, since under systemd the daemon's start is seen by nobody."""
    from conftest import korean_model
    model = korean_model(tmp_path / "models")
    conf = tmp_path / "monitor.toml"
    conf.write_text('[transcription]\nlanguage = "ko"\n[phrases]\nlanguage = "en"\n', encoding="utf-8")
    r = _install(tmp_path, "--caller", "softphone.monitor", "--model", str(model), "--config", str(conf))
    assert r.returncode == 0 and (tmp_path / "units" / "callmonitor.service").is_file(), r.stderr
    warned = [line for line in r.stderr.splitlines() if ": warning: " in line]
    assert warned == ["call-monitor: warning: the distress phrases are the 'en' list (phrases.language = 'en'), "
                      "while the model transcribes 'ko': none can match its words, and no distress_phrase alert "
                      "is raised; list phrases in 'ko' ([phrases] ko = [...] in the configuration file) and set "
                      "phrases.language = \"\" (the model's language)"], r.stderr


@pytest.mark.parametrize("kind", ["newer schema", "folder", "not sqlite", "another program's",
                                  "the supervisor console's", "missing tables"])
def test_a_database_the_daemon_could_never_write_is_refused_in_one_line_and_left_as_it_was(tmp_path, kind):
    """A database of a newer callmonitor stops every start of the unit's daemon; a folder, a file
    that is no SQLite database, another program's SQLite tables, the supervisor console's database
    or a callmonitor database missing tables would leave it running with every alert unstored: each
    is refused (one line naming it, exit 2, no unit), and the file is not touched."""
    import sqlite3
    db = tmp_path / "events.db"
    statements = {"newer schema": ["PRAGMA user_version = 99"],
                  "another program's": ["CREATE TABLE moz_places (id INTEGER)"],
                  "the supervisor console's": [f"PRAGMA application_id = {CONSOLE_APPLICATION_ID}",
                                               "CREATE TABLE posts (id INTEGER)"],
                  "missing tables": ["PRAGMA user_version = 3", "CREATE TABLE calls (id INTEGER)"]}
    if kind in statements:
        with sqlite3.connect(db) as conn:
            for statement in statements[kind]:
                conn.execute(statement)
        conn.close()
    elif kind == "folder":
        db.mkdir()
    else:
        db.write_text("call notes, not a database\n")
    before = None if db.is_dir() else db.read_bytes()
    r = _install(tmp_path, "--caller", "softphone.monitor", "--db", str(db))
    assert r.returncode == 2 and not (tmp_path / "units").exists()
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"call-monitor: error: {db}: "), r.stderr
    assert before is None or db.read_bytes() == before


def test_a_database_not_made_yet_or_empty_is_taken_the_daemon_makes_it_and_one_in_use_is_taken(tmp_path):
    """None there, an empty file or an SQLite file with no tables: the daemon makes its database
    there, so the unit is written; the check reads each file without changing a byte of it."""
    (tmp_path / "empty.db").write_bytes(b"")
    bare = bare_sqlite_file(tmp_path / "bare.db").read_bytes()
    Store.open(tmp_path / "used.db").close()
    for db in (tmp_path / "empty.db", tmp_path / "bare.db", tmp_path / "later" / "events.db", tmp_path / "used.db"):
        r = _install(tmp_path, "--caller", "softphone.monitor", "--db", str(db))
        assert r.returncode == 0, r.stderr
        assert f"--db {db}\n" in (tmp_path / "units" / "callmonitor.service").read_text()
    assert not (tmp_path / "later").exists() and (tmp_path / "empty.db").read_bytes() == b""
    assert (tmp_path / "bare.db").read_bytes() == bare
    assert sorted(p.name for p in tmp_path.glob("*.db*")) == ["bare.db", "empty.db", "used.db"]  # no -wal, no -shm made


@pytest.mark.parametrize("where", ["under a file", "in a folder it may not write", "behind a folder it may not enter"])
def test_a_database_the_daemon_could_never_make_is_refused_in_one_line_and_nothing_made(tmp_path, where):
    """The daemon's database is not there yet, and the daemon could not make it: a file where a
    folder of its path belongs (``--db ~/notes.txt/events.db``), or a folder the user may not write
    (a shared one set up by root) or not even enter (another user's home: not a traceback, and said
    as every command says a database it cannot reach, which may well be there). The daemon would run
    with every alert unstored: refused, one line naming the database and what is in the way, exit 2,
    no unit, nothing made."""
    blocked = tmp_path / "notes.txt" if where == "under a file" else tmp_path / "shared"
    if where == "under a file":
        blocked.write_text("call notes\n")
        why = f"cannot make the database there ({blocked} is a file, not a folder)"
    elif where == "in a folder it may not write":
        blocked.mkdir(mode=0o555)
        why = f"cannot make the database there ({blocked}: permission denied)"
    else:
        blocked.mkdir(mode=0o000)
        why = f"cannot reach the database (the folder {blocked} cannot be entered: permission denied)"
    db = blocked / "calls" / "events.db"
    try:
        r = call_monitor("install-service", "--caller", "softphone.monitor", "--db", db, "--unit-dir",
                         tmp_path / "units", permissions_bind=True,
                         env=dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path / "cfg")))
    finally:
        blocked.chmod(0o755)
    assert r.returncode == 2 and not (tmp_path / "units").exists()
    assert r.stderr == f"call-monitor: error: {db}: {why}\n"
    assert not db.parent.exists()


@pytest.mark.parametrize("where", ["under a file", "on a read-only filesystem", "in an immutable folder",
                                   "an immutable database"])
def test_a_db_given_relative_that_the_daemon_could_never_make_or_write_is_refused_as_one_given_absolute(
        tmp_path, where):
    """``--db`` goes into the unit as the absolute path it names from here, and is checked as that
    path, given absolute or as the configuration's ``storage.db``, is: a relative one the daemon
    could never make (a file where a folder of its path belongs, a read-only filesystem, a folder
    made immutable) or never write (a database made immutable) is one line naming it, exit 2, no
    unit, nothing made (it was written into a unit whose daemon would store no call)."""
    work = tmp_path / "work"
    work.mkdir()
    with contextlib.ExitStack() as held:
        if where == "under a file":
            (work / "mono.wav").write_bytes(b"RIFF")
            given, why = "mono.wav/x.db", f"cannot make the database there ({work / 'mono.wav'} is a file, not a folder)"
        elif where == "on a read-only filesystem":
            mnt = held.enter_context(contextlib.contextmanager(mounted_tmpfs)(work / "romnt", "ro,size=64k"))
            given, why = "romnt/q.db", f"cannot make the database there ({mnt}: a read-only filesystem)"
        elif where == "in an immutable folder":
            (folder := work / "rodir").mkdir()
            held.enter_context(immutable(folder))
            given, why = "rodir/q.db", f"cannot make the database there ({folder}: permission denied)"
        else:
            Store.open(work / "ro.db").close()
            held.enter_context(immutable(work / "ro.db"))
            given, why = "ro.db", "cannot write the database (permission denied)"
        before = sorted(os.listdir(work))
        r = _install(tmp_path, "--caller", "softphone.monitor", "--db", given, cwd=work)
        assert sorted(os.listdir(work)) == before
    assert (r.returncode, r.stdout) == (2, "") and not (tmp_path / "units").exists()
    assert r.stderr == f"call-monitor: error: {work / given}: {why}\n"


def test_relative_paths_in_the_configuration_are_said_to_be_found_from_the_home_folder(tmp_path):
    """systemd starts a user's daemon in the home folder: ``storage.db = "calls.db"`` checked here
    would be another database there (the command line's --db is written absolute: not said)."""
    work = tmp_path / "work"
    work.mkdir()
    conf = work / "monitor.toml"
    conf.write_text('[storage]\ndb = "calls.db"\n[delivery]\nwebhook_url = "http://127.0.0.1:8640/webhook"\n'
                    'webhook_token_file = "console.token"\n', encoding="utf-8")
    (work / "console.token").write_text("s3cret\n", encoding="utf-8")
    (work / "console.token").chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT))
    def install(*args):
        return subprocess.run([PY, "-m", "monitor.cli", "install-service", "--caller", "softphone.monitor",
                               "--unit-dir", str(tmp_path / "units"), *args], capture_output=True, text=True,
                              env=env, cwd=work, timeout=60)
    r = install("--config", str(conf))
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == (
        "call-monitor: warning: relative paths in the configuration (storage.db = 'calls.db', "
        "delivery.webhook_token_file = 'console.token') are found from the daemon's working folder, under "
        "systemd your home folder, not this one: give absolute paths")
    r = install("--db", "calls.db")
    assert r.returncode == 0 and "relative paths" not in r.stderr, r.stderr


def _options(command: str) -> set[str]:
    from monitor.cli import build_parser
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {s for a in sub.choices[command]._actions for s in a.option_strings}


def test_install_service_takes_every_option_of_run_and_writes_each_into_the_unit():
    from monitor.cli import build_parser
    from monitor.commands.install_service import RUN_FLAGS, RUN_VALUES

    assert _options("run") - _options("install-service") == set()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    run_dests = {a.dest for a in sub.choices["run"]._actions if a.option_strings} - {"help"}
    assert run_dests - {*RUN_VALUES, *RUN_FLAGS, "wait_for_source", "log_level"} == set()  # none accepted and dropped


def test_the_units_daemon_runs_with_every_run_option_given_to_install_service(tmp_path):
    """What `install-service` is given for `run` reaches the unit's `run` (files made absolute, a
    model's language code as it is), read back by the daemon's own parser."""
    import shlex

    from monitor.cli import build_parser

    token = tmp_path / "t"
    token.write_text("s3cret\n")
    given = ["--caller", "softphone.monitor", "--agent", "mic", "--no-wait-for-source", "--jsonl", "--webhook",
             "http://127.0.0.1:8640/webhook", "--webhook-token-file", str(token), "--no-notify", "--model", "ko",
             "--socket", "cm.sock", "--db", "e.db", "--log-level", "info"]
    r = subprocess.run([PY, "-m", "monitor.cli", "install-service", "--print", *given], capture_output=True,
                       text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path),
                                                         XDG_CONFIG_HOME=str(tmp_path / "cfg")), timeout=60)
    assert r.returncode == 0, r.stderr
    start = next(line for line in r.stdout.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(start.split("=", 1)[1])
    unit = build_parser().parse_args(argv[argv.index("run"):])
    here = build_parser().parse_args(["run", *given])
    expected = vars(here) | {"socket": str(tmp_path / "cm.sock"), "db": str(tmp_path / "e.db"), "webhook": None,
                             "webhook_url_file": str(tmp_path / "cfg" / "callmonitor" / "service-webhook.url")}
    assert vars(unit) == expected  # the URL itself goes to the file the unit's daemon reads (below)
    r = subprocess.run([PY, "-m", "monitor.cli", "install-service", "--print", "--no-transcribe", "-v"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path)))
    assert r.returncode == 0 and " run --no-transcribe --log-level info\n" in r.stdout, r.stdout


def test_a_model_folder_given_to_install_service_that_is_no_model_is_refused_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    r = _install(tmp_path, "--caller", "softphone.monitor", "--model", str(tmp_path / "empty"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("call-monitor: error: --model ")
    assert not (tmp_path / "units").exists()


def test_a_model_given_to_install_service_reaches_the_units_daemon_as_replay_would_take_it_here(tmp_path):
    """The unit's daemon runs in the home folder: a model folder given by a relative path is written
    absolute, a model's name (as `call-monitor models` lists it, found through VOSK_MODEL_PATH,
    which the unit carries) and a language code as they are; a file is refused as replay refuses
    it (it was written into the unit as a language code, and the daemon ran acoustic-only)."""
    from conftest import korean_model
    model = korean_model(tmp_path / "models")
    zipped = tmp_path / "vosk-model-small-en-us-0.15.zip"
    zipped.write_bytes(b"PK\x03\x04")
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT),
               VOSK_MODEL_PATH=str(model.parent))

    def unit_for(model_option: str, cwd) -> subprocess.CompletedProcess:
        return call_monitor("install-service", "--caller", "softphone.monitor", "--model", model_option, "--print",
                            env=env, cwd=cwd, timeout=60)

    for option, cwd, written in ((model.name, tmp_path / "models", str(model)), (model.name, tmp_path, model.name),
                                 ("ko", tmp_path, "ko")):
        r = unit_for(option, cwd)
        assert r.returncode == 0, r.stderr
        assert f" run --caller softphone.monitor --model {written}\n" in r.stdout, (option, cwd)
    r = unit_for(zipped.name, tmp_path)
    assert r.returncode == 2 and not (tmp_path / "units").exists()
    assert r.stderr == ("call-monitor: error: --model vosk-model-small-en-us-0.15.zip: a file, not a Vosk model folder "
                        "(a model is a folder holding am/ and conf/; unpack it and give the folder it makes)\n")


def test_an_empty_value_given_to_install_service_reaches_the_units_daemon(tmp_path):
    """`run --agent ""` runs without the agent's leg and `--webhook ""` without a webhook, whatever
    the configuration names: the unit's daemon is given them too, not the configuration's leg and
    webhook (which install-service did not check either)."""
    import shlex

    from monitor.cli import build_parser

    conf = tmp_path / "c.toml"
    conf.write_text('[daemon]\nagent = "mic.monitor"\n[delivery]\nwebhook_url = "http://127.0.0.1:9/hook"\n')
    r = _install(tmp_path, "--print", "--config", str(conf), "--caller", "softphone.monitor", "--agent", "",
                 "--webhook", "")
    assert r.returncode == 0, r.stderr
    start = next(line for line in r.stdout.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(start.split("=", 1)[1])
    unit = build_parser().parse_args(argv[argv.index("run"):])
    assert (unit.caller, unit.agent, unit.webhook) == ("softphone.monitor", "", "")


def _install_bound(tmp_path, units) -> subprocess.CompletedProcess:
    """``install-service`` into ``units`` with file permissions binding it (even as root)."""
    return call_monitor("install-service", "--caller", "softphone.monitor", "--unit-dir", units,
                        permissions_bind=True, env=dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(ROOT),
                                                        XDG_CONFIG_HOME=str(tmp_path / "cfg")))


def _read_only_units(tmp_path, unit_mode: int | None):
    """A unit folder the user may not write (0555), holding the unit before with ``unit_mode``
    (None: no unit there)."""
    units = tmp_path / "units"
    units.mkdir()
    if unit_mode is not None:
        (units / "callmonitor.service").write_text("[Unit]\nDescription=the unit before\n")
        (units / "callmonitor.service").chmod(unit_mode)
    units.chmod(0o555)
    return units


@pytest.mark.parametrize("unit_mode", [0o444, None], ids=["a read-only unit", "no unit"])
def test_a_unit_folder_it_may_not_write_is_one_line_naming_the_unit_and_the_old_unit_kept(tmp_path, unit_mode):
    units = _read_only_units(tmp_path, unit_mode)
    try:
        r = _install_bound(tmp_path, units)
    finally:
        units.chmod(0o755)
    assert r.returncode == 1
    assert r.stderr == f"call-monitor: error: {units / 'callmonitor.service'}: cannot write the unit (permission denied)\n"
    assert [p.name for p in units.iterdir()] == ([] if unit_mode is None else ["callmonitor.service"])
    if unit_mode is not None:
        assert "the unit before" in (units / "callmonitor.service").read_text()


def test_a_writable_unit_in_a_folder_it_may_not_write_is_rewritten_in_place_and_said_so(tmp_path):
    """The folder takes no temporary file to rename over the unit, but the unit itself may be
    written (as before units were written whole): it is rewritten in place, 0600, and said so."""
    units = _read_only_units(tmp_path, 0o644)
    try:
        r = _install_bound(tmp_path, units)
    finally:
        units.chmod(0o755)
    unit = units / "callmonitor.service"
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == (f"call-monitor: wrote {unit} in place (its folder takes no new file) "
                                        "(it replaces a different unit)")
    assert [p.name for p in units.iterdir()] == ["callmonitor.service"]
    assert "ExecStart=" in unit.read_text() and "the unit before" not in unit.read_text()
    assert unit.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("before", [True, False], ids=["a unit there", "a link to a file not made yet"])
def test_a_unit_that_is_a_link_is_written_where_it_points_and_stays_a_link(tmp_path, before):
    """``systemctl --user link`` leaves the unit a link to a file kept elsewhere: that file is
    replaced whole (its temporary file beside it, none left), the link stays, and the line says both."""
    kept = tmp_path / "kept"
    kept.mkdir()
    real = kept / "callmonitor.service"
    if before:
        real.write_text("[Unit]\nDescription=the unit before\n")
    units = tmp_path / "units"
    units.mkdir()
    (units / "callmonitor.service").symlink_to(real)
    r = _install(tmp_path, "--caller", "softphone.monitor")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == (f"call-monitor: wrote {real}, which {units / 'callmonitor.service'} links to"
                                        + (" (it replaces a different unit)" if before else ""))
    assert (units / "callmonitor.service").is_symlink() and os.readlink(units / "callmonitor.service") == str(real)
    assert "ExecStart=" in real.read_text() and real.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in kept.iterdir()] == ["callmonitor.service"]
    assert [p.name for p in units.iterdir()] == ["callmonitor.service"]


def test_a_file_where_the_unit_folder_belongs_is_one_line_naming_it(tmp_path):
    (tmp_path / "units").write_text("a file, not a folder\n")
    r = _install(tmp_path, "--caller", "softphone.monitor")
    assert r.returncode == 1
    assert r.stderr == (f"call-monitor: error: {tmp_path / 'units'}: not a folder (a file is in the way): "
                        "cannot write the unit there\n")


# --------------------------------------------------------------------------- the webhook URL, kept out of the unit

KEYED_URL = "https://hooks.example/in?key=S3cr3tK3y&agent=desk-7"
QUERY_VALUES = ("S3cr3tK3y", "desk-7")


def _url_file(tmp_path) -> Path:
    """Where ``install-service`` keeps the unit's webhook URL (XDG_CONFIG_HOME is ``tmp_path/cfg``)."""
    return tmp_path / "cfg" / "callmonitor" / "service-webhook.url"


def _systemd_words(value: str, expands: bool = True) -> list[str]:
    """An ExecStart value (or, with ``expands=False``, an Environment= value) split into words as
    systemd.service(5) reads them: double quotes with ``\\`` escapes, ``%%`` a ``%`` and, where the
    environment is expanded, ``$$`` a ``$``."""
    import shlex
    words = [w.replace("%%", "%") for w in shlex.split(value)]
    return [w.replace("$$", "$") for w in words] if expands else words


def _units_daemon_config(unit: str, monkeypatch):
    """The configuration the unit's daemon runs with: its ``run`` arguments read by the daemon's
    own parser, in the environment its ``Environment=`` lines set, loaded as ``run`` loads it."""
    from monitor.cli import build_parser
    from monitor.commands.common import config_from_args
    from monitor.commands.run import overrides_from
    for line in unit.splitlines():
        if line.startswith("Environment="):
            name, _, value = _systemd_words(line.split("=", 1)[1], expands=False)[0].partition("=")
            monkeypatch.setenv(name, value)
    start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = _systemd_words(start.split("=", 1)[1])
    args = build_parser().parse_args(argv[argv.index("run"):])
    return config_from_args(args, overrides_from(args))


def test_a_webhook_url_with_a_key_stays_out_of_the_unit_in_a_file_only_the_user_may_read(tmp_path, monkeypatch):
    """The unit's command line shows in `ps` to every local user and in `systemctl --user status`:
    the URL goes to a file of mode 0600 that the unit's daemon reads, and nothing install-service
    says shows a value of its query."""
    r = _install(tmp_path, "--caller", "softphone.monitor", "--webhook", KEYED_URL)
    assert r.returncode == 0, r.stderr
    unit = (tmp_path / "units" / "callmonitor.service").read_text()
    start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert start.endswith(f" run --caller softphone.monitor --webhook-url-file {_url_file(tmp_path)}")
    for value in QUERY_VALUES:
        assert value not in unit and value not in r.stdout + r.stderr
    assert _url_file(tmp_path).read_text() == KEYED_URL + "\n"
    assert _url_file(tmp_path).stat().st_mode & 0o777 == 0o600
    assert r.stderr.splitlines()[0] == (
        f"call-monitor: wrote the webhook URL to {_url_file(tmp_path)} (mode 0600), which the unit's daemon reads: "
        "it stays out of the unit and of its command line")
    assert _units_daemon_config(unit, monkeypatch).delivery.webhook_url == KEYED_URL


def test_a_stop_as_the_unit_is_written_comes_once_the_unit_and_its_url_file_are_written_and_said(tmp_path):
    """SIGTERM (or Ctrl-C) once the webhook URL's file is written, as the unit is: both are written and
    said before the stop ends the command (exit 143); it left the new URL file beside no unit, said
    by nothing."""
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    done = stopped_at("monitor.commands.install_service:_write_unit", "SIGTERM", "install-service", "--unit-dir",
                      tmp_path / "units", "--caller", "softphone.monitor", "--webhook", KEYED_URL, env=env)
    assert done.returncode == 143, done.stderr
    assert _url_file(tmp_path).read_text() == KEYED_URL + "\n"
    assert (tmp_path / "units" / "callmonitor.service").is_file()
    said = done.stderr.splitlines()
    assert [line.split(" ", 2)[1] for line in said[:2]] == ["wrote", "wrote"] and "Traceback" not in done.stderr, said


def test_the_units_daemon_takes_the_url_over_the_configurations_as_it_took_webhook(tmp_path, monkeypatch):
    conf = tmp_path / "c.toml"
    conf.write_text('[delivery]\nwebhook_url = "http://127.0.0.1:9/configured"\n')
    r = _install(tmp_path, "--caller", "softphone.monitor", "--config", str(conf), "--webhook", KEYED_URL)
    assert r.returncode == 0, r.stderr
    unit = (tmp_path / "units" / "callmonitor.service").read_text()
    assert _units_daemon_config(unit, monkeypatch).delivery.webhook_url == KEYED_URL


def test_the_url_file_is_private_from_its_first_byte_whatever_the_umask_or_a_file_left_before(tmp_path):
    """Made new with mode 0600 (never a wider file filled, then narrowed): a umask of 0 and a
    temporary file of mode 0644 left by an install that was killed change nothing."""
    folder = _url_file(tmp_path).parent
    folder.mkdir(parents=True)
    left = folder / ".service-webhook.url.part"
    left.write_text("left by an install that was killed\n")
    left.chmod(0o644)
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT))
    r = subprocess.run([PY, "-m", "monitor.cli", "install-service", "--unit-dir", str(tmp_path / "units"),
                        "--caller", "softphone.monitor", "--webhook", KEYED_URL], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=60, preexec_fn=lambda: os.umask(0))
    assert r.returncode == 0, r.stderr
    assert _url_file(tmp_path).stat().st_mode & 0o777 == 0o600 and _url_file(tmp_path).read_text() == KEYED_URL + "\n"
    assert [p.name for p in folder.iterdir()] == ["service-webhook.url"]


def test_print_shows_the_file_the_url_would_go_to_with_its_secrets_hidden_and_writes_nothing(tmp_path):
    r = _install(tmp_path, "--print", "--caller", "softphone.monitor", "--webhook", KEYED_URL)
    assert r.returncode == 0, r.stderr
    assert f"--webhook-url-file {_url_file(tmp_path)}\n" in r.stdout
    assert r.stdout.splitlines()[-3:] == [
        "# The webhook URL is kept out of this unit, whose command line every user sees: install-service",
        f"# writes it, mode 0600, to the file --webhook-url-file names, {_url_file(tmp_path)}:",
        "# https://hooks.example/in?key=***&agent=*** (its secrets hidden here)"]
    assert not any(value in r.stdout + r.stderr for value in QUERY_VALUES)
    assert not (tmp_path / "units").exists() and not (tmp_path / "cfg").exists()


def test_an_empty_webhook_still_means_none_whatever_the_configuration_says(tmp_path, monkeypatch):
    conf = tmp_path / "c.toml"
    conf.write_text('[delivery]\nwebhook_url = "http://127.0.0.1:9/hook"\n')
    r = _install(tmp_path, "--caller", "softphone.monitor", "--config", str(conf), "--webhook", "")
    assert r.returncode == 0, r.stderr
    unit = (tmp_path / "units" / "callmonitor.service").read_text()
    assert ' --webhook ""' in unit and not _url_file(tmp_path).exists()
    assert _units_daemon_config(unit, monkeypatch).delivery.webhook_url == ""


@pytest.mark.parametrize("url, problem", [
    ("https://ann:S3cr3tK3y@hooks.example/in?key=S3cr3tK3y",
     "must not hold credentials before the host (they are not sent; give the receiver's token in "
     "webhook_token_file, sent as a bearer token), got 'https://***@hooks.example/in?key=***'"),
    ("hooks.example/in?key=S3cr3tK3y",
     "must be an http:// or https:// URL with a host (or \"\"), got 'hooks.example/***?key=***'"),
    ("https://hooks.example/in?key=S3cr3tK3y&x=a b",
     "must not contain spaces or control characters (percent-encode them), "
     "got 'https://hooks.example/in?key=***&x=***'"),
])
def test_a_url_the_daemon_would_refuse_is_refused_in_one_line_and_nothing_written(tmp_path, url, problem):
    r = _install(tmp_path, "--caller", "softphone.monitor", "--webhook", url)
    assert r.returncode == 2
    assert r.stderr == f"call-monitor: error: --webhook (delivery.webhook_url): {problem}\n"
    assert not (tmp_path / "units").exists() and not (tmp_path / "cfg").exists()


def test_enable_restarts_a_running_daemon_when_only_the_url_changed(tmp_path):
    """The unit reads as before (it names the same file); the daemon running posts to the old URL
    until it restarts."""
    path = f"{_recording_systemctl(tmp_path)}:{os.environ['PATH']}"
    for url in (KEYED_URL, KEYED_URL, "https://hooks.example/in?key=N3wK3y"):
        r = _install(tmp_path, "--caller", "softphone.monitor", "--webhook", url, "--enable", PATH=path)
        assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[1].endswith(" (the same unit as before, with another webhook URL)")
    calls = (tmp_path / "systemctl.log").read_text().splitlines()
    link = f"--user link {tmp_path / 'units' / 'callmonitor.service'}"
    enable = [link, "--user daemon-reload", "--user enable --now callmonitor.service"]
    assert calls == enable + enable + [link, "--user daemon-reload", "--user try-restart callmonitor.service",
                                       enable[2]]
    assert _url_file(tmp_path).read_text() == "https://hooks.example/in?key=N3wK3y\n"


@pytest.mark.parametrize("again", [[], ["--webhook", ""]], ids=["no webhook", "--webhook ''"])
def test_installing_again_without_the_url_removes_the_file_that_kept_it(tmp_path, again):
    assert _install(tmp_path, "--caller", "softphone.monitor", "--webhook", KEYED_URL).returncode == 0
    r = _install(tmp_path, "--caller", "softphone.monitor", *again)
    assert r.returncode == 0, r.stderr
    assert not _url_file(tmp_path).exists()
    assert f"call-monitor: removed {_url_file(tmp_path)}: the unit reads no webhook URL from it now" in r.stderr


def test_a_unit_that_cannot_be_written_leaves_the_url_file_as_it_was(tmp_path):
    assert _install(tmp_path, "--caller", "softphone.monitor", "--webhook", KEYED_URL).returncode == 0
    units = tmp_path / "units"
    (units / "callmonitor.service").chmod(0o444)
    units.chmod(0o555)
    try:
        r = call_monitor("install-service", "--caller", "softphone.monitor", "--unit-dir", units, "--webhook",
                         "https://hooks.example/in?key=N3wK3y", permissions_bind=True,
                         env=dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(ROOT),
                                  XDG_CONFIG_HOME=str(tmp_path / "cfg")))
    finally:
        units.chmod(0o755)
    assert r.returncode == 1 and r.stderr.endswith("cannot write the unit (permission denied)\n"), r.stderr
    assert _url_file(tmp_path).read_text() == KEYED_URL + "\n"
    assert [p.name for p in _url_file(tmp_path).parent.iterdir()] == ["service-webhook.url"]


def test_run_reads_the_url_from_its_file_at_each_load_so_a_reload_takes_a_new_one(tmp_path, monkeypatch):
    from monitor.cli import build_parser
    from monitor.commands.common import config_from_args
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    kept = tmp_path / "hook.url"
    kept.write_text(KEYED_URL + "\n")
    args = build_parser().parse_args(["run", "--webhook-url-file", str(kept)])
    assert config_from_args(args).delivery.webhook_url == KEYED_URL
    kept.write_text("https://hooks.example/in?key=N3wK3y\n")
    assert config_from_args(args).delivery.webhook_url == "https://hooks.example/in?key=N3wK3y"


@pytest.mark.parametrize("content, problem", [
    (None, "no such webhook URL file"),
    ("", "the webhook URL file is empty"),
    ("hooks.example/in?key=S3cr3tK3y\n",
     "the webhook URL in it must be an http:// or https:// URL with a host, got 'hooks.example/***?key=***'"),
    ("https://ann:S3cr3tK3y@hooks.example/in\n",
     "the webhook URL in it must not hold credentials before the host (they are not sent; give the receiver's "
     "token in webhook_token_file, sent as a bearer token), got 'https://***@hooks.example/in'"),
])
@pytest.mark.parametrize("command", ["run", "install-service"])
def test_a_url_file_the_daemon_could_not_use_is_one_line_naming_it(tmp_path, content, problem, command):
    kept = tmp_path / "hook.url"
    if content is not None:
        kept.write_text(content)
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT))
    r = call_monitor(command, "--caller", "softphone.monitor", "--webhook-url-file", kept, "--db", tmp_path / "e.db",
                     *(["--unit-dir", tmp_path / "units"] if command == "install-service" else []), env=env, timeout=60)
    assert r.returncode == 2
    assert r.stderr == f"call-monitor: error: {kept}: {problem}\n"
    assert not (tmp_path / "units").exists() and not (tmp_path / "e.db").exists()


def test_a_url_and_a_url_file_together_are_refused(tmp_path):
    r = _install(tmp_path, "--webhook", KEYED_URL, "--webhook-url-file", str(tmp_path / "hook.url"))
    assert r.returncode == 2 and r.stderr.splitlines()[-1] == (
        "call-monitor install-service: error: argument --webhook-url-file: not allowed with argument --webhook")
    assert not (tmp_path / "units").exists()
