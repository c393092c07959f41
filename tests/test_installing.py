"""What a message tells the user to install, and with what: the pip of the Python running
callmonitor, named in full (a wheel installed into a virtual environment runs as
``~/callmonitor/bin/call-monitor`` with that environment not on PATH, where a bare ``pip`` is the
system's), every such hint worded by :func:`monitor.installing.install_hint`."""

from __future__ import annotations

import subprocess
import sys

from conftest import CALLS, PY, ROOT
from monitor.installing import install_hint


def test_an_install_hint_runs_the_pip_of_the_python_running_callmonitor_each_requirement_quoted():
    assert install_hint("matplotlib") == f"{sys.executable} -m pip install matplotlib"
    assert install_hint("dask[distributed]>=2024.1", "cryptography>=38") == (
        f"{sys.executable} -m pip install 'dask[distributed]>=2024.1' 'cryptography>=38'")


def test_an_install_hint_for_another_machines_python_names_that_python():
    assert install_hint("tqdm", python="python3") == "python3 -m pip install tqdm"


def test_the_report_without_matplotlib_names_the_pip_of_the_python_it_runs_under_its_folder_not_on_path(tmp_path):
    """``call-monitor report`` run by a Python of its own (a venv's, its folder not on PATH) where
    matplotlib cannot be imported: the one line names that Python's pip."""
    blocked = ("import sys; sys.modules['matplotlib'] = None; from monitor.cli import main; "
               "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([PY, "-c", blocked, "report", str(CALLS / "normal_8k.wav"), "-o", str(tmp_path / "r.html")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"call-monitor: error: reports need matplotlib: {PY} -m pip install matplotlib")
    assert not (tmp_path / "r.html").exists()
