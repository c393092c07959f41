"""Start-up: a command imports only what it uses (see monitor.commands).

Each check runs in a fresh interpreter, since this test process has long
imported everything. Speed itself is measured by ``make bench`` (startup section),
never asserted here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT

HEAVY = ("numpy", "scipy", "vosk", "matplotlib", "soundfile", "sounddevice", "cffi")
"""Packages a command that does not analyse audio must not import (each costs 0.05-0.8 s)."""

_DRIVER = r"""
import json, sys
from monitor.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as stop:  # --help
    code = stop.code
with open(sys.argv[1], "w") as fh:
    json.dump({"code": code, "modules": sorted(sys.modules)}, fh)
"""


def run_cli(tmp_path: Path, *argv: str) -> dict:
    """``call-monitor ARGV`` in a fresh interpreter: its exit code and every module it imported."""
    out = tmp_path / "modules.json"
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_RUNTIME_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", _DRIVER, str(out), *argv], cwd=ROOT, env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return json.loads(out.read_text())


def heavy(modules: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY and m.split(".")[0] not in allowed})


def test_importing_the_cli_and_building_every_parser_imports_nothing_heavy(tmp_path):
    code = ("import json, sys, monitor.cli; monitor.cli.build_parser(); "
            "print(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    modules = json.loads(proc.stdout)
    assert heavy(modules) == []
    assert not [m for m in modules if m.startswith(("monitor.analysis.analyzer", "monitor.dsp", "monitor.pipeline",
                                                    "monitor.delivery.store", "monitor.transcription.recognizer"))]


@pytest.mark.parametrize("argv", [["--help"], ["analyze", "--help"], ["status"], ["config"], ["alerts"],
                                  ["models"], ["replay", "--help"], ["run", "--help"], ["report", "--help"],
                                  ["batch", "--help"], ["supervisor", "--help"], ["purge", "--help"],
                                  ["call", "end"], ["forget-agent", "nobody", "--token-file", "none"]])
def test_commands_that_analyse_no_audio_import_neither_numpy_nor_scipy(tmp_path, argv):
    result = run_cli(tmp_path, *argv)
    assert heavy(result["modules"]) == []


def test_devices_imports_sounddevice_but_no_numpy_or_scipy(tmp_path):
    result = run_cli(tmp_path, "devices", "--json")
    assert heavy(result["modules"], allowed=("sounddevice", "cffi")) == []


def test_analyze_imports_numpy_but_no_scipy_module_beyond_pocketfft_and_the_filter_loops(tmp_path):
    wav = tmp_path / "one_second.wav"  # at 44.1 kHz: resampled to 16 kHz on the way in, as a live capture is
    t = np.arange(44100) / 44100
    sf.write(str(wav), (0.3 * np.sin(2 * np.pi * 150 * t) * (t > 0.3)).astype(np.float32), 44100, subtype="PCM_16")
    result = run_cli(tmp_path, "analyze", str(wav), "--json")
    assert result["code"] == 0
    assert "numpy" in result["modules"]
    scipy_modules = {m for m in result["modules"] if m.startswith("scipy")}
    assert scipy_modules <= {"scipy.fft._pocketfft.pypocketfft", "scipy.signal._sigtools", "scipy.ndimage._nd_image"}
    assert heavy(result["modules"], allowed=("numpy", "soundfile", "cffi", "scipy")) == []


def test_a_bad_file_still_gets_its_one_line_error_from_the_lazy_command(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "monitor.cli", "analyze", str(tmp_path / "missing.wav")], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"call-monitor: error: {tmp_path / 'missing.wav'}: no such file"]


def test_the_supervisor_console_imports_neither_numpy_nor_soundfile(tmp_path):
    """The console stores and shows alerts (their evidence in words too) and analyses no audio:
    what its command runs (the store, the app, the web server) imports nothing heavy."""
    code = ("import json, sys, monitor.supervisor.store, monitor.supervisor.app, uvicorn; "
            "print(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert heavy(json.loads(proc.stdout)) == []


def test_the_live_daemons_modules_import_no_soundfile(tmp_path):
    """The daemon captures from the sound server and reads no audio file: what ``run`` imports (the
    daemon, the live capture, the pipeline, the speech model's loading and recognizer) leaves
    libsndfile's binding to the commands that read files (1.2 MB of the daemon, research/live_memory)."""
    code = ("import json, sys, monitor.cli, monitor.commands.run, monitor.daemon, monitor.capture.live, "
            "monitor.pipeline, monitor.transcription.loading, monitor.transcription.recognizer; "
            "print(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert heavy(json.loads(proc.stdout), allowed=("numpy",)) == []
