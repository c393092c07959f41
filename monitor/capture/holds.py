"""A recorded call's holds (``replay --hold FROM-TO``): the stretches of its time in which the
caller was on hold (hold music, a recorded "please hold", a colleague consulted on the line), whose
caller's leg is not heard, as the live daemon does not hear it between ``call-monitor call hold``
and ``call resume``: what plays meanwhile is no caller, its cues are held still, and the stretch is
kept with the stored call as its ``caller_on_hold``.

Times into the call are written as a call's times are everywhere (``75``, ``75.5``, ``1:15``,
``1:15.5``, ``0:01:15``: :func:`call_seconds`), the labels of a batch's calls too. A batch's
manifest gives a call's holds in its ``hold`` column, several to a cell (:func:`parse_holds`), and
its ledger and table keep them as :func:`holds_text` writes them.
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Iterator, Sequence

from ..events import Span, joined_spans
from .sources import Chunk

_CALL_TIME = re.compile(r"(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?)")


def call_seconds(text: str) -> float:
    """Seconds into a call from ``75``, ``75.5``, ``1:15``, ``1:15.5`` or ``0:01:15``. Raises
    ValueError for anything else (minutes or seconds of 60 and more after a colon too, and a time
    too great for a number of seconds: infinite as a float)."""
    m = _CALL_TIME.fullmatch(text.strip())
    if m is None or (m.group(2) is not None and float(m.group(3)) >= 60) or (m.group(1) and int(m.group(2)) >= 60):
        raise ValueError(text)
    try:
        seconds = 3600.0 * int(m.group(1) or 0) + 60.0 * int(m.group(2) or 0) + float(m.group(3))
    except OverflowError:
        raise ValueError(text) from None
    if not math.isfinite(seconds):
        raise ValueError(text)
    return seconds


def parse_hold(text: str) -> Span:
    """The stretch ``FROM-TO`` (``0:40-1:35``, ``40-95``) says, its times to the millisecond (as
    :func:`holds_text` writes them back); ValueError saying what is wrong with it, in words a command
    line shows."""
    start, dash, end = text.partition("-")
    if not dash:
        raise ValueError(f"{text!r} is no FROM-TO stretch of the call (as 0:40-1:35)")
    try:
        span = round(call_seconds(start), 3), round(call_seconds(end), 3)
    except ValueError:
        raise ValueError(f"{text!r}: FROM and TO are seconds, m:ss or h:mm:ss into the call (as 0:40-1:35)") from None
    if span[1] <= span[0]:
        raise ValueError(f"{text!r} ends before it begins")
    return span


def parse_holds(text: str) -> tuple[Span, ...]:
    """The holds ``text`` writes (a manifest's ``hold`` cell: stretches separated by ``;`` or spaces,
    ``1:40-2:25; 5:00-5:31.5``, each as :func:`parse_hold` reads it) in time order, those that
    overlap or touch joined; () for none (empty). ValueError as :func:`parse_hold` says it, and for a
    ``;`` with no stretch on one side of it (one left out: ``1:40-2:25;;5:00-5:30``)."""
    parts = text.strip().split(";")
    if len(parts) > 1 and not all(part.strip() for part in parts):
        raise ValueError(f"{text.strip()!r} has a ';' with no stretch beside it")
    return tuple(joined_spans(parse_hold(stretch) for part in parts for stretch in part.split()))


def _clock(t: float) -> str:
    """A time into the call as ``m:ss`` (``h:mm:ss``), its fraction of a second kept to the
    millisecond (``5:31.5``): :func:`call_seconds` reads it back the same."""
    minutes, seconds = divmod(round(t, 3), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    sec = f"{seconds:06.3f}".rstrip("0").rstrip(".")
    return f"{hours}:{minutes:02d}:{sec}" if hours else f"{minutes}:{sec}"


def holds_text(spans: Sequence[Span]) -> str:
    """The holds ``spans`` as a manifest's ``hold`` cell writes them (``1:40-2:25; 5:00-5:31.5``,
    :func:`parse_holds` reads it back); empty for none."""
    return "; ".join(f"{_clock(a)}-{_clock(b)}" for a, b in spans)


def past_end(spans: Sequence[Span], duration_s: float, given: str = "--hold") -> list[str]:
    """What is said of each hold ``spans`` make (those that overlap or touch joined, as they are
    applied; ``given`` as: the option, a manifest's column) that begins at or after the end of a
    call of ``duration_s`` seconds, which is not applied (the rest of a hold past the end is cut off
    by :func:`within`): ``--hold 5:00-5:31.5 begins after the recording's end (3:12): not
    applied``, to follow the recording's name."""
    return [f"{given} {holds_text([(a, b)])} begins after the recording's end ({_clock(duration_s)}): not applied"
            for a, b in joined_spans(spans) if a >= duration_s]


def within(spans: Sequence[Span], duration_s: float) -> tuple[Span, ...]:
    """The parts of ``spans`` inside a call of ``duration_s`` seconds."""
    return tuple((a, min(b, duration_s)) for a, b in spans if a < duration_s)


def on_hold(chunk: Chunk, spans: Sequence[Span], column: int, rate: int) -> Chunk:
    """``chunk`` (of a call at ``rate`` Hz) with its ``column`` not heard over ``spans``
    (:meth:`~monitor.capture.sources.Chunk.unheard_between`)."""
    for a, b in spans:
        chunk = chunk.unheard_between(column, round((a - chunk.t0) * rate), round((b - chunk.t0) * rate))
    return chunk


def held(chunks: Iterable[Chunk], spans: Sequence[Span], column: int, rate: int) -> Iterator[Chunk]:
    """Each of ``chunks`` with its ``column`` not heard over ``spans`` (:func:`on_hold`)."""
    for chunk in chunks:
        yield on_hold(chunk, spans, column, rate) if spans else chunk
