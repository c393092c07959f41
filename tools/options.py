"""Range-checked argument types the developer tools share: a value out of range is refused by
argparse in one line naming the option (``error: argument --mixes: '0': not a whole number, 1 or
more``), exit status 2, before any work."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Callable


def description(doc: str | None) -> str:
    """A tool's ``--help`` description: its module docstring's first paragraph, whole (its first
    line alone may stop mid-sentence)."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def whole_number(least: int, most: int | None = None) -> Callable[[str], int]:
    """The type of an option that takes a whole number, ``least`` or more (and ``most`` or less)."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: not a whole number") from None
        if n < least or (most is not None and n > most):
            bounds = f"{least} or more" if most is None else f"{least} to {most}"
            raise argparse.ArgumentTypeError(f"{text!r}: not a whole number, {bounds}")
        return n
    return parse


def number_above(low: float) -> Callable[[str], float]:
    """The type of an option that takes a finite number above ``low`` (seconds, minutes)."""
    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
        if not (math.isfinite(x) and x > low):
            raise argparse.ArgumentTypeError(f"{text!r}: not a finite number above {low:g}")
        return x
    return parse


def share(text: str) -> float:
    """``"0.25"`` -> 0.25: a share, 0 to 1."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
    if not 0.0 <= x <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: not a share, 0 to 1")
    return x


def quantiles(text: str) -> tuple[float, ...]:
    """``"0.9,0.95,1"`` -> (0.9, 0.95, 1.0): one or more quantiles, each above 0 and at most 1."""
    try:
        qs = tuple(float(q) for q in text.split(",") if q.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not numbers separated by commas (e.g. 0.9,0.95)") from None
    if not qs or not all(0.0 < q <= 1.0 for q in qs):
        raise argparse.ArgumentTypeError(f"{text!r}: each quantile must lie above 0 and at most 1")
    return qs


def output_file_problem(path: str) -> str | None:
    """Why a result cannot be written to the file ``path`` (one phrase), or None: checked before a
    run, so that hours of work are not thrown away at its end."""
    p = Path(path)
    folder = p.parent
    if p.is_dir():
        return "is a folder, not a file"
    if not folder.is_dir():
        return f"no such folder {folder}" if not folder.exists() else f"{folder} is not a folder"
    if not os.access(p, os.W_OK) if p.exists() else not os.access(folder, os.W_OK):  # a file there: its own (/dev/stdout)
        return "cannot be written (permission denied)"
    return None
