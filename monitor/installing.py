"""How a message tells the user to install something: :func:`install_hint` words every such hint.

The command is the pip of the Python running callmonitor (``<python> -m pip install``): a wheel
installed into a virtual environment runs as ``~/callmonitor/bin/call-monitor`` with that
environment not on PATH, where a bare ``pip`` is the system's (which refuses, or installs where
callmonitor does not look)."""

from __future__ import annotations

import shlex
import sys


def python_command() -> str:
    """The Python running callmonitor, as a shell takes it (a venv's own, with its packages)."""
    return shlex.quote(sys.executable or "python3")


def install_hint(*requirements: str, python: str | None = None) -> str:
    """The command that installs ``requirements`` (as pip takes them) with the pip of ``python``
    (default: the Python running callmonitor)."""
    return f"{python or python_command()} -m pip install {' '.join(map(shlex.quote, requirements))}"
