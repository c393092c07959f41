"""The live daemon on a private PulseAudio server: a sound-server restart leaves one line per
state change on stderr, the first naming the server (no PortAudio/ALSA chatter), and a second daemon on the same database
is refused while the first one runs (on another database, it is told to take its own status socket);
one source named for both legs is refused; a status socket path too long is one line. The commands
asked beside a daemon (the status text, call, alerts, report) run in the test's process
(:func:`conftest.call_monitor_here`, in the daemon's environment); the daemons, and ``Daemon.status``, in
their own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import PY, ROOT, SPEECH, Daemon, Hook, call_monitor, call_monitor_here, stored_calls, wait_for


def test_a_sound_server_restart_is_one_line_per_state_change(pulse, env, tmp_path):
    """... and once the leg is reopened, the status shows the loss as resolved, not as the daemon's
    current problem (a supervisor reading "the sound server does not answer" of a capturing agent)."""
    d = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db"), "--no-notify",
                "--no-transcribe", "--jsonl"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        d.wait_running(env)
        pulse.stop()
        assert d.wait_err("input lost", 30), d.err
        time.sleep(3.0)  # a few failed reopenings while the server is gone
        pulse.start()
        assert d.wait_err("reopened", 20), d.err
        problem = d.status(env)["last_problem"]
        assert "the sound server does not answer" in problem["message"], problem
        assert "reopened, capturing again" in problem["resolved"] and problem["resolved_at"] >= problem["at"]
        d.proc.send_signal(signal.SIGINT)
        assert d.exited(10) == 0
        assert d.err, "the daemon said nothing"
        foreign = [line for line in d.err if not line.startswith("call-monitor:")]
        assert foreign == [], "\n".join(d.err)
        # listening, lost (saying why: the server is gone, and not again for each failed reopening),
        # reopened, and the stop; in words, not PortAudio's ("Illegal combination of I/O devices
        # [PaErrorCode -9993]")
        lost = [line for line in d.err if "input lost" in line]
        assert lost == ["call-monitor: warning: caller leg (softphone.monitor): input lost (the sound server does "
                        "not answer); reopening"], "\n".join(d.err)
        assert not any("cannot open" in line for line in d.err), "\n".join(d.err)
        assert len(d.err) <= 8, "\n".join(d.err)
    finally:
        d.kill()


def test_a_second_daemon_on_the_same_database_is_refused_while_the_first_runs(pulse, env, tmp_path):
    db = tmp_path / "e.db"
    first = Daemon(["--caller", "softphone.monitor", "--db", str(db), "--no-notify", "--no-transcribe",
                    "--socket", str(tmp_path / "one.sock")], env, tmp_path)
    try:
        assert first.wait_err("listening", 20), first.err
        r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--db", str(db),
                            "--no-notify", "--no-transcribe", "--socket", str(tmp_path / "two.sock")],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert r.returncode == 2
        assert r.stderr.strip().splitlines() == [
            f"call-monitor: error: {db}: already used by another call-monitor daemon (pid {first.proc.pid}); "
            "one daemon per database (give this one another --db and --socket)"]
        assert first.proc.poll() is None
    finally:
        first.kill()


def test_a_second_daemon_on_another_database_is_told_to_take_its_own_status_socket(pulse, env, tmp_path):
    """The status socket defaults to one per session ($XDG_RUNTIME_DIR), not one per database; a
    command that finds no database where it looks says where the session's daemon records."""
    first = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "one.db"), "--no-notify",
                    "--no-transcribe"], env, tmp_path)
    try:
        assert first.wait_err("listening", 20), first.err
        own = env | {"XDG_DATA_HOME": str(tmp_path / "data")}  # the default database: none there
        for command in (["alerts"], ["report", "3", "-o", "r.html"]):
            asked = call_monitor_here(*command, cwd=tmp_path, env=own)
            assert asked.returncode == 2 and asked.stderr.endswith(
                f"; the daemon running now records to {tmp_path / 'one.db'} (give --db {tmp_path / 'one.db'})\n"), \
                asked.stderr
        second = [PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--db", str(tmp_path / "two.db"),
                  "--no-notify", "--no-transcribe"]
        r = subprocess.run(second, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
        sock = os.path.join(env["XDG_RUNTIME_DIR"], "callmonitor.sock")
        assert r.returncode == 2 and r.stderr.strip().splitlines() == [
            f"call-monitor: error: status socket: another call-monitor daemon is running (status socket {sock}); "
            "give this one another --socket, and `call-monitor status --socket` asks it"]
        two = Daemon(second[4:] + ["--socket", str(tmp_path / "two.sock")], env, tmp_path)
        try:
            assert two.wait_err("listening", 20), two.err
            asked = call_monitor_here("status", "--json", "--socket", tmp_path / "two.sock", cwd=tmp_path, env=env)
            assert asked.returncode == 0 and json.loads(asked.stdout)["pid"] == two.proc.pid, asked.stderr
        finally:
            two.kill()
    finally:
        first.kill()


def test_a_status_socket_path_naming_a_file_that_is_no_socket_is_refused_and_the_file_kept(pulse, env, tmp_path):
    """``--socket`` naming a file by mistake (a notes file, a link to one): the daemon took it for a
    dead daemon's socket and deleted it."""
    notes = tmp_path / "notes.txt"
    notes.write_text("kept\n")
    link = tmp_path / "link.sock"
    link.symlink_to(notes)
    for path in (notes, link):
        r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--db",
                            str(tmp_path / "e.db"), "--socket", str(path), "--no-notify", "--no-transcribe"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and r.stderr.splitlines() == [
            f"call-monitor: error: status socket: {path} is there and is no socket (not removed): give the daemon "
            "another --socket or daemon.status_socket"]
    assert notes.read_text() == "kept\n" and link.is_symlink()


ONE_SOURCE = ("one audio would be scored as both legs; give the agent's own source (the microphone; see "
              "`call-monitor devices`)")
"""How the refusal of one source for both legs ends."""


def test_one_source_for_both_legs_is_refused_in_one_line_naming_both_options(pulse, env, tmp_path):
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--agent", "softphone.monitor",
                        "--db", str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"call-monitor: error: --caller and --agent both name softphone.monitor: {ONE_SOURCE}"]
    assert not (tmp_path / "e.db").exists()


def test_two_names_of_one_device_for_both_legs_are_refused_naming_the_key_its_file_and_the_option(pulse, env, tmp_path):
    """The configuration's caller is the ALSA ``pulse`` device by name, ``--agent`` the same device by
    its index: two names, one audio."""
    index = _device_index(env, tmp_path, "pulse")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[daemon]\ncaller = "pulse"\n')
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--config", str(cfg), "--agent", index, "--db",
                        str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"call-monitor: error: daemon.caller in {cfg} and --agent both name pulse (#{index}): {ONE_SOURCE}"]


def test_the_agent_on_the_default_input_while_the_server_s_default_is_the_caller_s_monitor_is_refused_naming_both(
        pulse, env, tmp_path):
    """``--agent default`` (ALSA's default device, which records the sound server's default source)
    on a desktop whose default source is the monitor of the softphone's sink, as a server with no
    microphone makes it: the agent's leg would record the caller, so the start refuses it in one line
    naming both the caller's source and the device that records it, exit 2, no database made."""
    assert pulse.default_source() == "softphone.monitor"
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--agent", "default",
                        "--db", str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    index = _device_index(env, tmp_path, "default")
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"call-monitor: error: --caller and --agent both name softphone.monitor (default (#{index}): the sound "
        f"server's default source): {ONE_SOURCE}"]
    assert not (tmp_path / "e.db").exists()


def test_the_agent_on_the_default_input_is_its_own_leg_once_the_server_s_default_is_the_microphone(pulse):
    """The same ``--agent default`` once the desktop's default source is the microphone (here the
    monitor of the null sink standing in for one): two sources, nothing refused, a reload neither."""
    from monitor.capture.devices import input_devices, same_source
    default = next(f"default (#{d.index})" for d in input_devices() if d.name == "default")
    assert same_source("softphone.monitor", "default") == (
        f"softphone.monitor ({default}: the sound server's default source)")
    pulse.set_default_source("mic.monitor")
    assert same_source("softphone.monitor", "default") is None
    assert same_source("mic.monitor", "default") == f"mic.monitor ({default}: the sound server's default source)"


def test_the_agent_on_the_default_input_is_refused_whatever_language_the_desktop_speaks(pulse, tmp_path,
                                                                                        monkeypatch):
    """The same check on a German desktop, where pactl names the default source ``Standard-Quelle``:
    the server is asked in the C locale, so the agent's leg on the caller's monitor is still found."""
    from monitor.capture.devices import input_devices, same_source
    if not shutil.which("localedef") or not os.path.exists("/usr/share/i18n/locales/de_DE"):
        pytest.skip("locales not installed (make setup installs it): no German locale can be made")
    made = subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(tmp_path / "de_DE.UTF-8")],
                          capture_output=True, timeout=30)
    assert (tmp_path / "de_DE.UTF-8").is_dir(), made.stderr
    for name, value in (("LOCPATH", str(tmp_path)), ("LC_ALL", "de_DE.UTF-8"), ("LANG", "de_DE.UTF-8")):
        monkeypatch.setenv(name, value)
    default = next(f"default (#{d.index})" for d in input_devices() if d.name == "default")
    assert same_source("softphone.monitor", "default") == (
        f"softphone.monitor ({default}: the sound server's default source)")


def test_one_device_named_twice_is_one_audio_though_the_server_answered_for_one_name_only():
    """The ``pulse`` device by its name and by its index, the server's default source known for one
    and not the other (``pactl info`` timed out, or the default changed, between the two looks): one
    device, one audio, refused all the same; the ``pulse`` device with ``PULSE_SOURCE`` set (a named
    sound-server source) is another audio than the same device without."""
    from monitor.capture.devices import ResolvedSource, one_audio
    by_name = ResolvedSource("pulse", 3, None, "pulse (#3)", reads="alsa_input.usb-mic")
    by_index = ResolvedSource("3", 3, None, "pulse (#3)", reads=None)
    assert one_audio(by_name, by_index) == one_audio(by_index, by_name) == "pulse (#3)"
    named = ResolvedSource("softphone.monitor", 3, "softphone.monitor", "softphone.monitor", reads="softphone.monitor")
    assert one_audio(named, by_index) is None


def test_the_default_device_records_the_source_pulse_source_names_in_the_environment(pulse, monkeypatch):
    """``PULSE_SOURCE`` exported in the daemon's environment is the source ALSA's ``default`` device
    records (the sound server's client reads it as the device opens), whatever the server's default:
    the agent's ``default`` is the caller's monitor where it names that, and the microphone where it
    names that though the server's default is the caller's monitor."""
    from monitor.capture.devices import input_devices, same_source
    default = next(f"default (#{d.index})" for d in input_devices() if d.name == "default")
    pulse.set_default_source("mic.monitor")
    monkeypatch.setenv("PULSE_SOURCE", "softphone.monitor")
    assert same_source("softphone.monitor", "default") == (
        f"softphone.monitor ({default}: PULSE_SOURCE in the environment)")
    pulse.set_default_source("softphone.monitor")
    monkeypatch.setenv("PULSE_SOURCE", "mic.monitor")
    assert same_source("softphone.monitor", "default") is None


def test_without_a_caller_the_agent_may_not_record_what_the_default_input_records(pulse, monkeypatch):
    """No caller given: the caller's leg is the default input, ALSA's ``default`` device, which records
    the server's default source (here the microphone), or the source ``PULSE_SOURCE`` names. An agent on
    the same device, or on the source it records, would be the caller's leg again."""
    from monitor.capture.devices import input_devices, same_source
    default = next(f"default (#{d.index})" for d in input_devices() if d.name == "default")
    pulse.set_default_source("mic.monitor")
    assert same_source("", "default") == f"mic.monitor (default input and {default}: the sound server's default source)"
    assert same_source("", "mic.monitor") == "mic.monitor (default input: the sound server's default source)"
    assert same_source("", "softphone.monitor") is None
    monkeypatch.setenv("PULSE_SOURCE", "softphone.monitor")
    assert same_source("", "softphone.monitor") == "softphone.monitor (default input: PULSE_SOURCE in the environment)"
    assert same_source("", "mic.monitor") is None


def test_the_agent_on_the_default_device_without_a_caller_is_refused_in_one_line_saying_to_give_the_caller(
        pulse, env, tmp_path):
    """``--agent default`` alone: both legs would be the default input. Refused, exit 2, no database."""
    pulse.set_default_source("mic.monitor")
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--agent", "default", "--db", str(tmp_path / "e.db"),
                        "--no-notify", "--no-transcribe"], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=30)
    from monitor.capture.devices import input_devices
    index = next(d.index for d in input_devices() if d.name == "default")
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "call-monitor: error: the default input (no --caller or daemon.caller) and --agent both name mic.monitor "
        f"(default input and default (#{index}): the sound server's default source): one audio would be scored as "
        "both legs; give --caller SOURCE, the monitor of the softphone's sink (`call-monitor devices` lists them)"]
    assert not (tmp_path / "e.db").exists()


def _device_index(env, cwd, name: str) -> str:
    """The index of the PortAudio input device ``name`` as a daemon started in ``env`` sees it."""
    found = subprocess.run([PY, "-c", "from monitor.capture.devices import input_devices\n"
                                      f"print(next(d.index for d in input_devices() if d.name == {name!r}))"],
                           env=env, cwd=cwd, capture_output=True, text=True, timeout=30)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def test_a_reload_giving_the_agent_the_caller_s_source_is_refused_in_one_warning_line_and_the_sources_stay(
        pulse, env, tmp_path):
    from conftest import start_daemon
    d = start_daemon(env, tmp_path)
    try:
        (tmp_path / "c.toml").write_text('[daemon]\nagent = "softphone.monitor"\n')
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("configuration not reloaded", 30), d.err
        assert [e for e in d.err if "configuration" in e] == [
            f"call-monitor: warning: configuration not reloaded: --caller and daemon.agent in {tmp_path / 'c.toml'} "
            f"both name softphone.monitor: {ONE_SOURCE}; the running sources stay"]
        st = d.status(env)
        assert list(st["legs"]) == ["caller"] and st["legs"]["caller"]["state"] == "running"
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(10) == 0, d.err
    finally:
        d.kill()


def test_a_status_socket_path_too_long_for_a_unix_socket_is_one_line_naming_it_and_the_way_out(pulse, env, tmp_path):
    """Without $XDG_RUNTIME_DIR the socket is the database's path + .sock, which a deep folder
    makes longer than the 107 bytes a Unix socket's path holds."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    sock = deep / "e.db.sock"
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--db", str(deep / "e.db"),
                        "--socket", str(sock), "--no-notify", "--no-transcribe"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"call-monitor: error: status socket {sock}: the path is {len(os.fsencode(str(sock)))} bytes, longer than a "
        "Unix socket's path holds (107 bytes): give a shorter one with --socket PATH or daemon.status_socket"]
    for asking in (["status"], ["call", "start"]):  # no daemon can be there: said as such, not "no daemon answering"
        r = call_monitor_here(*asking, "--socket", sock, cwd=tmp_path, env=env)
        assert r.returncode == 2 and r.stderr.splitlines() == [
            f"call-monitor: error: status socket {sock}: the path is {len(os.fsencode(str(sock)))} bytes, longer "
            "than a Unix socket's path holds (107 bytes): give a shorter one with --socket PATH or "
            "daemon.status_socket"], asking


def test_a_status_socket_in_a_folder_it_may_not_write_is_one_line_naming_it(pulse, env, tmp_path):
    folder = tmp_path / "sockets"
    folder.mkdir()
    folder.chmod(0o555)
    sock = folder / "callmonitor.sock"
    try:
        r = call_monitor("run", "--caller", "softphone.monitor", "--db", tmp_path / "e.db", "--socket", sock,
                         "--no-notify", "--no-transcribe", env=env, cwd=tmp_path, timeout=30, permissions_bind=True)
    finally:
        folder.chmod(0o755)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"call-monitor: error: status socket {sock}: cannot listen there (permission denied)"]
    assert not (tmp_path / "e.db").exists(), "a daemon that cannot start makes no database"


def _unload_sink(env, name):
    module = [line.split()[0] for line in subprocess.run(["pactl", "list", "short", "modules"], env=env,
                                                         capture_output=True, text=True).stdout.splitlines()
              if f"sink_name={name}" in line][0]
    subprocess.run(["pactl", "unload-module", module], env=env, check=True)


def test_a_caller_source_missing_at_start_is_waited_for_and_captured_once_it_appears(pulse, env, tmp_path):
    """The daemon starts at login before the softphone: its sink (and so softphone.monitor) is not
    there yet. The daemon says so in one line, answers its status socket ("waiting"), and captures
    the caller once the sink is made, without a restart; a call played then is monitored."""
    _unload_sink(env, "softphone")
    d = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db"), "--no-notify",
                "--no-transcribe", "--jsonl"], env, tmp_path)
    try:
        assert d.wait_err("waiting for caller source softphone.monitor", 20), d.err
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=other"], env=env, check=True)
        time.sleep(2.5)  # looked for again a few times, among other sources now: still one line
        st = d.status(env)
        assert st["legs"]["caller"]["state"] == "waiting" and d.proc.poll() is None
        assert "softphone.monitor" in st["legs"]["caller"]["last_error"]
        assert st["legs"]["caller"]["level_dbfs"] is None, "no source: no level (not a muted one's digital zero)"
        text = call_monitor_here("status", env=env).stdout
        assert "waiting: " in text and "level n/a," in text and "digital zero" not in text
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=softphone"], env=env, check=True)
        st = d.wait_running(env, timeout=30)
        assert st["legs"]["caller"]["reopens"] == 0
        assert sum("waiting for caller source" in line for line in d.err) == 1, "\n".join(d.err)
        assert any("caller leg: source softphone.monitor found" in line for line in d.err), "\n".join(d.err)
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0
    finally:
        d.kill()


def test_a_daemon_started_before_the_sound_server_captures_both_legs_once_the_server_is_up(pulse, env, tmp_path):
    """The daemon starts at login before the sound server: PortAudio, reading its device list then,
    has no ALSA ``pulse`` device (the plugin could not reach the server), and the sources are found
    through pactl once the server is up. The list is read again for them: both legs capture, a change
    of state said on stderr, and what the softphone plays is heard as the caller's. Never said: to
    install libasound2-plugins, which is installed."""
    pulse.stop()
    d = Daemon(["--caller", "softphone.monitor", "--agent", "mic.monitor", "--db", str(tmp_path / "e.db"),
                "--no-notify", "--no-transcribe", "--jsonl"], env, tmp_path)
    try:
        assert d.wait_err("waiting for caller source softphone.monitor", 20), d.err
        time.sleep(2.0)  # looked for a few times while no server answers
        pulse.start()
        st = d.wait_running(env, timeout=20)
        assert st["legs"]["caller"]["reopens"] == 0
        assert any("caller leg: source softphone.monitor found" in line for line in d.err), "\n".join(d.err)
        assert any("agent leg: source mic.monitor found" in line for line in d.err), "\n".join(d.err)
        player = pulse.play(SPEECH / "en_f_normal_a40.wav")
        assert d.status_comes(env, lambda s: (s["legs"]["caller"]["level_dbfs"] or -999) > -50, 20), d.err
        player.wait(30)
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0
        assert not any("libasound2-plugins" in line for line in d.err), "\n".join(d.err)
    finally:
        d.kill()


def test_a_daemon_waiting_for_its_caller_source_stops_cleanly_on_sigterm_and_sigint(pulse, env, tmp_path):
    for sig in (signal.SIGTERM, signal.SIGINT):
        d = Daemon(["--caller", "phone2.monitor", "--db", str(tmp_path / f"{sig}.db"), "--no-notify",
                    "--no-transcribe"], env, tmp_path)
        try:
            assert d.wait_err("waiting for caller source phone2.monitor", 20), d.err
            d.proc.send_signal(sig)
            assert d.proc.wait(5) == 0
        finally:
            d.kill()


def test_without_waiting_a_missing_caller_source_exits_2_naming_it(pulse, env, tmp_path):
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "phone2.monitor", "--no-wait-for-source",
                        "--db", str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("call-monitor: error: no input device or source named 'phone2.monitor'")
    assert "softphone.monitor" in line  # what exists


@pytest.mark.parametrize("missing", ["pactl", "server"])
def test_a_monitor_source_that_cannot_be_looked_up_says_why(pulse, env, tmp_path, missing):
    """Without pactl (a PipeWire desktop without pulseaudio-utils) or with no sound server
    answering, softphone.monitor was said not to exist, and `devices` said no server answered."""
    env = dict(env)
    if missing == "pactl":
        env["PATH"] = os.path.dirname(PY)  # the interpreter, and no pactl
        why = "pactl is not installed (Debian: apt-get install pulseaudio-utils)"
    else:
        env["PULSE_SERVER"] = f"unix:{tmp_path / 'no-server'}"
        why = "no PulseAudio/PipeWire server answered (pactl)"
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--no-wait-for-source",
                        "--db", str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "call-monitor: error: no input device or source named 'softphone.monitor'; the sound server's sources "
        f"cannot be listed: {why} (see `call-monitor devices`)"]
    listed = subprocess.run([PY, "-m", "monitor.cli", "devices"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert listed.returncode == 0
    assert listed.stderr == f"call-monitor: warning: {why}: sound-server sources not listed\n"


@pytest.mark.parametrize("command", [["devices"], ["run", "--caller", "softphone.monitor"], ["run"]])
def test_an_alsa_configuration_portaudio_cannot_start_on_is_one_line_naming_it(tmp_path, command):
    """A desktop whose ALSA configuration PortAudio cannot read (a broken ~/.asoundrc): `devices` and
    `run` say so in one line pointing at ALSA's configuration, exit 2, no database made, rather than
    PortAudio's traceback."""
    conf = tmp_path / "asoundrc"
    conf.write_text("pcm.!default {{{ broken\n", encoding="utf-8")
    db = tmp_path / "e.db"
    args = [*command, *(["--db", db, "--no-notify", "--no-transcribe"] if command[0] == "run" else [])]
    r = call_monitor(*args, env=dict(os.environ, PYTHONPATH=str(ROOT), ALSA_CONFIG_PATH=str(conf)), timeout=30)
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith("call-monitor: error: cannot use the audio system: PortAudio cannot start (")
    assert line.endswith("check ALSA's configuration (ALSA_CONFIG_PATH, /etc/asound.conf, ~/.asoundrc)")
    assert not db.exists()


def test_an_alsa_device_that_appears_after_the_start_is_found(pulse, env, tmp_path):
    """PortAudio reads its device list once: an ALSA device defined after the daemon started (here
    a PCM of the user's ALSA configuration, as a plugged-in card would be) is found because the
    list is read again while the caller's source is missing."""
    d = Daemon(["--caller", "headset", "--db", str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"],
               env, tmp_path)
    try:
        assert d.wait_err("waiting for caller source headset", 20), d.err
        (tmp_path / ".asoundrc").write_text('pcm.headset {\n  type pulse\n  device "mic.monitor"\n}\n')
        st = d.wait_running(env, timeout=30)
        assert st["legs"]["caller"]["label"].startswith("headset (#"), st["legs"]
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0
    finally:
        d.kill()


def _beats_to(webhook: dict, url: str) -> bool:
    """Whether the status's webhook posts to ``url`` and its heartbeats are delivered there."""
    return webhook["url"] == url and not webhook["heartbeat"]["failing"] and webhook["heartbeat"]["sent"] >= 1


def test_after_a_reload_with_a_new_webhook_url_the_pending_alert_arrives_there(pulse, env, tmp_path):
    """The supervisor's console moved: its old address refuses, the agent edits the webhook URL and
    reloads (SIGHUP). The alert that kept failing at the old URL is delivered at the new one, and
    the heartbeats follow; the reload's line does not claim the URL waits for the next start."""
    from monitor.delivery.store import Store
    from monitor.events import AlertEvent

    old, new = Hook(), Hook()
    old.close()  # nothing listens there any more: connection refused
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[delivery]\nwebhook_url = "{old.url}"\nbackoff_s = 30\nheartbeat_s = 1\n')
    db = tmp_path / "e.db"
    d = Daemon(["--caller", "softphone.monitor", "--config", str(cfg), "--db", str(db), "--no-notify",
                "--no-transcribe", "--jsonl"], env, tmp_path)
    try:
        d.wait_running(env, timeout=20)
        with Store.open(db) as store:  # an alert of this daemon, queued as its webhook queues it
            call = store.start_call("live:test", time.time())
            alert = store.add_alert(call, AlertEvent(t=30.0, kind="possible_emergency", severity="critical",
                                                     message="several cues agree"))
            store.enqueue_delivery(alert.alert_id, old.url)
        assert d.wait_err(f"webhook {old.url}: alert {alert.alert_id} not delivered", 30), d.err
        beats = d.status(env)["webhook"]["heartbeat"]  # the status said nothing of the console unreachable
        refused = "Connection refused: nothing listens at that address (the receiver is not running, or is elsewhere)"
        assert beats["failing"] and beats["failures"] >= 1 and beats["last_error"] == refused  # no "[Errno 111]"
        assert d.wait_err(f"heartbeat {old.url}: {refused}", 30), d.err
        cfg.write_text(f'[delivery]\nwebhook_url = "{new.url}"\nbackoff_s = 30\nheartbeat_s = 1\n')
        d.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: new.received, 30), d.err
        assert [p["alert_id"] for _, p in new.received] == [alert.alert_id]
        assert wait_for(lambda: new.heartbeats, 30)
        # the console records a beat before it answers, and the daemon counts it once answered
        assert wait_for(lambda: _beats_to(d.status(env)["webhook"], new.url), 30), d.status(env)["webhook"]
        assert d.wait_err("configuration reloaded", 30)
        assert not any("next start" in line for line in d.err), "\n".join(d.err)
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0
        with Store.open(db) as store:
            assert [(x.target, x.status) for x in store.deliveries()] == [(new.url, "delivered")]
    finally:
        d.kill()
        new.close()


def _daemon_waiting_for_the_callers_source(env, tmp_path, *options: str) -> Daemon:
    """A daemon started with the softphone's sink gone, listening and waiting for its caller source."""
    _unload_sink(env, "softphone")
    d = Daemon(["--caller", "softphone.monitor", *options, "--db", str(tmp_path / "e.db"), "--no-notify",
                "--no-transcribe", "--jsonl"], env, tmp_path)
    try:
        assert d.wait_err("waiting for caller source softphone.monitor", 20), d.err
        assert wait_for(lambda: subprocess.run([PY, "-m", "monitor.cli", "status"], env=env, capture_output=True,
                                               timeout=10).returncode == 0, 20), d.err
    except BaseException:
        d.kill()
        raise
    return d


def _call_start(env) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "monitor.cli", "call", "start"], env=env, capture_output=True, text=True,
                          timeout=30)


def test_a_call_start_while_the_callers_source_is_missing_says_so_in_one_line_naming_it(pulse, env, tmp_path):
    """`call start` (a softphone hook) while the caller's source is not there (the softphone's sink
    not made yet, a headset unplugged): the call starts, so that nothing of it is lost once the
    source appears, and the answer says in one line on stderr which source is missing: the call
    hears nothing from it until then, rather than a call that looks monitored."""
    d = _daemon_waiting_for_the_callers_source(env, tmp_path)
    try:
        mark = _call_start(env)
        assert mark.returncode == 0, mark.stderr
        assert mark.stdout.startswith("call ") and " started" in mark.stdout
        assert mark.stderr == ("call-monitor: warning: the caller's source softphone.monitor is missing (the daemon "
                               "waits for it): the call hears nothing from it until it appears, and no silence ends "
                               "the call before then (it ends after 120 s without it)\n"), mark.stderr
        assert d.status(env)["call"] is not None
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=softphone"], env=env, check=True)
        d.wait_running(env, timeout=30)
        mark = _call_start(env)
        assert mark.returncode == 0 and mark.stderr == "", mark.stderr
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0
    finally:
        d.kill()


def test_a_call_started_while_the_callers_source_is_missing_is_not_ended_by_the_silence_before_it_appears(
        pulse, env, tmp_path):
    """`call start` (a softphone hook) while the caller's source is missing, which takes longer to
    appear than daemon.call_end_silence_s: the daemon hears nothing of the caller meanwhile, which
    is no silence of the call, so the explicit start is not lost; once the source captures, the
    call's own silence ends it."""
    conf = tmp_path / "c.toml"
    conf.write_text("[daemon]\ncall_end_silence_s = 2\n", encoding="utf-8")
    d = _daemon_waiting_for_the_callers_source(env, tmp_path, "--config", str(conf))
    try:
        mark = _call_start(env)
        assert mark.returncode == 0, mark.stderr
        call = d.status(env)["call"]
        assert call["ends"].startswith("at `call-monitor call end`, after 2 s of silence once the caller's source "
                                       "gives input (none now), or after ")
        assert call["ends"].endswith(" s more without the caller's source")
        time.sleep(4.0)  # twice the end silence, the source still missing
        assert d.status(env)["call"]["call_id"] == call["call_id"], d.err
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=softphone"], env=env, check=True)
        d.wait_running(env, timeout=30)
        assert wait_for(lambda: d.status(env)["call"] is None, 30), d.err  # the sink plays nothing: silence
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0
    finally:
        d.kill()
    (stored,) = stored_calls(tmp_path / "e.db")
    assert stored["summary"]["ended_by"] == "2 s of silence"
    assert stored["summary"]["duration_s"] > 6.0


def test_a_sound_server_that_hangs_does_not_keep_the_daemon_from_stopping(pulse, env, tmp_path):
    """The sound server stops answering without going away (hung; here it is stopped): SIGTERM
    still stops the daemon within its 2 s, the running call finished and stored, although the
    capture's streams cannot be closed (closing one waits for the server); one line says so."""
    d = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db"), "--no-notify",
                "--no-transcribe", "--jsonl"], env, tmp_path)
    try:
        d.wait_running(env, timeout=20)
        mark = subprocess.run([PY, "-m", "monitor.cli", "call", "start"], env=env, capture_output=True, text=True,
                              timeout=30)
        assert mark.returncode == 0, mark.stderr
        os.kill(pulse.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(0.5)
            t0 = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            assert d.exited(10) == 0, "\n".join(d.err)
            assert time.monotonic() - t0 < 2.5, f"{time.monotonic() - t0:.1f} s to stop"
        finally:
            os.kill(pulse.proc.pid, signal.SIGCONT)
    finally:
        d.kill()
    (stored,) = stored_calls(tmp_path / "e.db")
    assert stored["summary"]["ended_by"] == "SIGTERM", stored
    assert any("the sound server did not let the capture close" in line for line in d.err), "\n".join(d.err)
