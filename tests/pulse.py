"""A private PulseAudio server with a null sink ``softphone`` for tests (no sound card needed).

``PulseServer(tmpdir).start()`` writes a minimal config, starts ``pulseaudio`` in the
foreground as a child process and waits for ``pactl info``, then keeps each null sink waking
every 20 ms (a recorder of its monitor), so that a capture of it gets its first block at once
rather than up to 2 s later; ``env`` holds the variables
clients need (XDG_RUNTIME_DIR, PULSE_RUNTIME_PATH, PULSE_SERVER). ``stop()`` kills it by
its pid. The ``pulse`` fixture exports the variables into os.environ for the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

CONFIG = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=softphone
load-module module-null-sink sink_name=mic
set-default-sink softphone
set-default-source softphone.monitor
"""


SINKS = ("softphone", "mic")
"""The null sinks the server makes: the softphone's, and the one standing in for the microphone."""


def have_pulse() -> bool:
    return all(shutil.which(x) for x in ("pulseaudio", "pactl", "paplay"))


class PulseServer:
    def __init__(self, root: str | os.PathLike | None = None) -> None:
        # a short path: Unix socket paths are limited to 108 bytes
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="cmpa", dir="/tmp"))
        self.runtime = self.root / "run"
        self.socket = self.runtime / "pulse" / "native"
        self.proc: subprocess.Popen | None = None
        self.env = {"XDG_RUNTIME_DIR": str(self.runtime), "PULSE_RUNTIME_PATH": str(self.runtime / "pulse"),
                    "PULSE_SERVER": f"unix:{self.socket}", "PULSE_STATE_PATH": str(self.root / "state"),
                    "HOME": str(self.root)}

    def full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def start(self, timeout: float = 10.0) -> "PulseServer":
        (self.runtime / "pulse").mkdir(parents=True, exist_ok=True)
        os.chmod(self.runtime, 0o700)
        pa = self.root / "server.pa"
        pa.write_text(CONFIG.format(socket=self.socket))
        self.log = open(self.root / "pulse.log", "ab")
        self.proc = subprocess.Popen(["pulseaudio", "-n", "-F", str(pa), "--daemonize=no",
                                      "--exit-idle-time=-1", "--disallow-exit=no", "--log-target=stderr"],
                                     env=self.full_env(), stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.alive():
                self._keep_sinks_ticking(deadline)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"pulseaudio did not start: {(self.root / 'pulse.log').read_text()[-800:]}")

    def _keep_sinks_ticking(self, deadline: float) -> None:
        """A null sink nobody asks for a low latency renders 2 s ahead and wakes every 2 s: a
        capture of its monitor then waits up to 2 s for its first block, where a sound card's
        gives one within tens of ms. A recorder of each sink's monitor asking for 20 ms (as a
        desktop's own meters and recorders do), the sinks suspended and resumed once it is there
        so that they wake at that pace from now on; it plays nothing into the sinks."""
        self._tickers = [subprocess.Popen(["parec", f"--device={sink}.monitor", "--raw", "--latency-msec=20"],
                                          env=self.full_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for sink in SINKS]
        while time.monotonic() < deadline:
            outputs = subprocess.run(["pactl", "list", "short", "source-outputs"], env=self.full_env(),
                                     capture_output=True, text=True, timeout=5).stdout
            if len(outputs.splitlines()) >= len(SINKS):
                break
            time.sleep(0.02)
        for sink in SINKS:
            for suspended in ("1", "0"):
                subprocess.run(["pactl", "suspend-sink", sink, suspended], env=self.full_env(),
                               capture_output=True, timeout=5)

    def default_source(self) -> str:
        """The server's default source (``pactl get-default-source``)."""
        return subprocess.run(["pactl", "get-default-source"], env=self.full_env(), capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()

    def set_default_source(self, name: str) -> None:
        """Make ``name`` the server's default source, as a desktop's sound settings do."""
        subprocess.run(["pactl", "set-default-source", name], env=self.full_env(), capture_output=True, timeout=5,
                       check=True)

    def alive(self) -> bool:
        r = subprocess.run(["pactl", "info"], env=self.full_env(), capture_output=True, timeout=5)
        return r.returncode == 0

    def stop(self) -> None:
        for ticker in getattr(self, "_tickers", ()):
            ticker.kill()
            ticker.wait(timeout=5)
        self._tickers = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def play(self, path: str | os.PathLike, sink: str = "softphone") -> subprocess.Popen:
        return subprocess.Popen(["paplay", f"--device={sink}", os.fspath(path)], env=self.full_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def pulse(monkeypatch):
    if not have_pulse():
        pytest.skip("pulseaudio / pulseaudio-utils not installed")
    server = PulseServer().start()
    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    for k in ("PULSE_SOURCE", "PULSE_SINK"):  # a desktop's own choice names no source of this server
        monkeypatch.delenv(k, raising=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
