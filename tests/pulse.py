"""A private PulseAudio server with a null sink ``softphone`` for tests (no sound card needed).

``PulseServer(tmpdir).start()`` writes a minimal config, starts ``pulseaudio`` in the
foreground as a child process and waits for ``pactl info``, then keeps each null sink waking
every 20 ms (a recorder of its monitor), so that a capture of it gets its first block at once
rather than up to 2 s later; ``env`` holds the variables
clients need (XDG_RUNTIME_DIR, PULSE_RUNTIME_PATH, PULSE_SERVER). ``stop()`` kills it by
its pid. The ``pulse`` fixture exports the variables into os.environ for the test.

The ``pipewire`` fixture borrows a running PipeWire server (pipewire-pulse) that
``CALLMONITOR_TEST_PIPEWIRE`` names, for what the capture does there unlike on PulseAudio; without
one its tests are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
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
    if "sounddevice" in sys.modules:  # PortAudio's list, read before this server started, lacks its devices
        from conftest import portaudio_afresh
        portaudio_afresh()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


PIPEWIRE_VARIABLE = "CALLMONITOR_TEST_PIPEWIRE"
"""The address of a running PipeWire server's pulse socket (``unix:PATH`` of pipewire-pulse's
``pulse/native``) for the tests of how the capture does on PipeWire: the suite starts none of its own."""


class PipeWireServer:
    """A running PipeWire server (through pipewire-pulse) the tests borrow: null sinks loaded for a
    test (named ``cmtest<pid>_NAME``, not to meet a desktop's own) and unloaded after it, its default
    source put back."""

    def __init__(self, address: str) -> None:
        self.env = {"PULSE_SERVER": address}
        self.prefix = f"cmtest{os.getpid()}_"
        self.modules: list[str] = []
        self.default = self.default_source()

    def full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env=self.full_env(), capture_output=True, text=True, timeout=5,
                              check=True).stdout.strip()

    def sink(self, name: str) -> str:
        """A null sink of the test's own (stereo, as PipeWire makes them): its name."""
        self.modules.append(self.pactl("load-module", "module-null-sink", f"sink_name={self.prefix}{name}"))
        return f"{self.prefix}{name}"

    def default_source(self) -> str:
        return self.pactl("get-default-source")

    def set_default_source(self, name: str) -> None:
        self.pactl("set-default-source", name)

    def play(self, path: str | os.PathLike, sink: str) -> subprocess.Popen:
        return subprocess.Popen(["paplay", f"--device={sink}", os.fspath(path)], env=self.full_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.set_default_source(self.default)
        for module in reversed(self.modules):
            subprocess.run(["pactl", "unload-module", module], env=self.full_env(), capture_output=True, timeout=5)


def pipewire_server_name(address: str) -> str | None:
    """The ``Server Name`` ``pactl info`` gives at ``address`` (``PulseAudio (on PipeWire 0.3.65)``);
    None when no server answers there."""
    r = subprocess.run(["pactl", "info"], env={**os.environ, "PULSE_SERVER": address, "LC_ALL": "C"},
                       capture_output=True, text=True, timeout=5)
    said = [line.split(":", 1)[1].strip() for line in r.stdout.splitlines() if line.startswith("Server Name:")]
    return said[0] if r.returncode == 0 and said else None


@pytest.fixture
def pipewire(monkeypatch):
    """The PipeWire server :data:`PIPEWIRE_VARIABLE` names, exported as ``PULSE_SERVER`` for the test;
    skipped where there is none (the suite's machines run PulseAudio)."""
    address = os.environ.get(PIPEWIRE_VARIABLE, "")
    if not address or shutil.which("pactl") is None:
        pytest.skip(f"no PipeWire server to test on: set {PIPEWIRE_VARIABLE} to the address of its pulse socket "
                    "(unix:$XDG_RUNTIME_DIR/pulse/native of a session running pipewire-pulse)")
    name = pipewire_server_name(address)
    if name is None or "PipeWire" not in name:
        pytest.skip(f"{PIPEWIRE_VARIABLE}={address}: " + (f"{name} is no PipeWire server" if name
                                                          else "no sound server answers there"))
    server = PipeWireServer(address)
    monkeypatch.setenv("PULSE_SERVER", address)
    for k in ("PULSE_SOURCE", "PULSE_SINK"):
        monkeypatch.delenv(k, raising=False)
    try:
        yield server
    finally:
        server.close()
