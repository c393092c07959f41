"""One-line messages on stderr, the same shape for every command."""

from __future__ import annotations

import sys

PROG = "call-monitor"


def error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def warning(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


def info(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def log(level: str, message: str) -> None:
    """One line at ``level`` ("error", "warning" or anything else for info): the daemon's and sinks' logger."""
    {"error": error, "warning": warning}.get(level, info)(message)
