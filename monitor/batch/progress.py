"""How far a long task over an archive is, on stderr: the batch's scoring and the archive page's call
reports. A bar redrawn in place on a terminal that says its size; a line every
:data:`PROGRESS_EVERY_S` where stderr is a log (a file or a pipe under nohup or cron, a terminal of
no size, where a bar draws nothing), as a bar's carriage returns would pile up there as one endless
line; nothing when asked for none."""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Callable

from ..console import info

PROGRESS_BAR = "bar"
"""The progress as a bar (tqdm) redrawn in place: for a terminal."""
PROGRESS_LINES = "lines"
"""The progress as a line every :data:`PROGRESS_EVERY_S`: for a log."""
PROGRESS_EVERY_S = 30.0
"""How often a progress line is said (:data:`PROGRESS_LINES`), at the first item done after it."""


def clock_time(seconds: float) -> str:
    """``seconds`` as h:mm:ss (a progress line's elapsed time and what is left)."""
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def sized_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` writes to a terminal whose size is known (a serial console's or one not
    sized yet is 0 by 0: unknown), where a bar redrawn in place can be drawn."""
    try:
        size = os.get_terminal_size(stream.fileno()) if stream.isatty() else None
    except (OSError, ValueError, AttributeError):  # no file descriptor, or no size to tell
        return False
    return size is not None and size.columns > 0 and size.lines > 0


def progress_shown(quiet: bool = False) -> str | None:
    """How progress shows on stderr, where it is written: :data:`PROGRESS_BAR` on a terminal that
    says its size, else :data:`PROGRESS_LINES`; None when ``quiet``."""
    if quiet:
        return None
    return PROGRESS_BAR if sized_terminal(sys.stderr) else PROGRESS_LINES


class Progress:
    """``total`` items' progress on stderr as ``shown`` says (:func:`progress_shown`): a bar of
    ``unit`` (``desc`` its label; ``leave`` it drawn once done), or a line every ``every_s``."""

    def __init__(self, total: int, shown: str | None, unit: str, *, desc: str | None = None, leave: bool = True,
                 every_s: float = PROGRESS_EVERY_S) -> None:
        self.bar, self.total, self.done, self.every_s = None, total, 0, every_s
        self.in_lines = shown == PROGRESS_LINES
        self.t0 = self.said_at = time.monotonic()
        if shown == PROGRESS_BAR:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=leave)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def step(self, line: Callable[[float], str], postfix: str | None = None) -> None:
        """One more item done: the bar moved on (``postfix`` beside it), or, in a log, ``line(seconds
        so far)`` said when one is due (never for the last item: the task's own last line says it)."""
        self.done += 1
        if self.in_lines and self.done < self.total and time.monotonic() - self.said_at >= self.every_s:
            self.said_at = time.monotonic()
            info(line(self.elapsed()))
        if self.bar is not None:
            if postfix:
                self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update(1)

    def pace(self, wall: float, unit: str) -> tuple[str, str]:
        """The rate (``9.6 calls/min``, ``unit`` plural) and the time (``0:12:30 so far, about 17:09:10
        to go``, the time left at the rate so far) of a progress line, ``wall`` seconds in."""
        per_s = self.done / wall if wall > 0 else 0.0
        left = f"about {clock_time((self.total - self.done) / per_s)} to go" if per_s > 0 else "time to go unknown"
        return f"{per_s * 60:.1f} {unit}/min", f"{clock_time(wall)} so far, {left}"

    def lines(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """``say`` (a one-line message on stderr) with the bar cleared first and drawn again after,
        so that the line stands on its own rather than after the bar's text; ``say`` itself without a bar."""
        bar = self.bar
        if bar is None:
            return say

        def said(line: str) -> None:
            with bar.external_write_mode(file=sys.stderr):
                say(line)
        return said

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
