"""The live daemon on a private PulseAudio server: a sound-server restart leaves one line per
state change on stderr (no PortAudio/ALSA chatter), and a second daemon on the same database
is refused while the first one runs (on another database, it is told to take its own status socket);
one source named for both legs is refused; a status socket path too long is one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from conftest import PY, Daemon


def test_a_sound_server_restart_is_one_line_per_state_change(pulse, env, tmp_path):
    d = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db"), "--no-notify",
                "--no-transcribe", "--jsonl"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        d.wait_running(env)
        pulse.stop()
        assert d.wait_err("input lost", 8), d.err
        time.sleep(3.0)  # a few failed reopenings while the server is gone
        pulse.start()
        assert d.wait_err("reopened", 20), d.err
        d.proc.send_signal(signal.SIGINT)
        assert d.proc.wait(10) == 0
        time.sleep(0.2)
        assert d.err, "the daemon said nothing"
        foreign = [line for line in d.err if not line.startswith("call-monitor:")]
        assert foreign == [], "\n".join(d.err)
        # listening, lost, cannot open (once, however many retries), reopened, and the stop
        assert sum("cannot open" in line for line in d.err) <= 1, "\n".join(d.err)
        # in words, not PortAudio's ("Illegal combination of I/O devices [PaErrorCode -9993]")
        assert all("the sound server does not answer" in line for line in d.err if "cannot open" in line)
        assert sum("input lost" in line for line in d.err) == 1, "\n".join(d.err)
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
    """The status socket defaults to one per session ($XDG_RUNTIME_DIR), not one per database."""
    first = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "one.db"), "--no-notify",
                    "--no-transcribe"], env, tmp_path)
    try:
        assert first.wait_err("listening", 20), first.err
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
            asked = subprocess.run([PY, "-m", "monitor.cli", "status", "--json", "--socket", str(tmp_path / "two.sock")],
                                   env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
            assert asked.returncode == 0 and json.loads(asked.stdout)["pid"] == two.proc.pid, asked.stderr
        finally:
            two.kill()
    finally:
        first.kill()


def test_one_source_for_both_legs_is_refused_in_one_line(pulse, env, tmp_path):
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--agent", "softphone.monitor",
                        "--db", str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "call-monitor: error: caller and agent both on softphone.monitor: the agent's leg is another source "
        "(the microphone; see `call-monitor devices`)"]


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
        f"call-monitor: error: status socket {sock}: AF_UNIX path too long (a Unix socket's path holds at most "
        "107 bytes: give a shorter one with --socket PATH or daemon.status_socket)"]
