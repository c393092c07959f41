"""A recorded call's holds (``replay --hold FROM-TO``): the stretches of its time in which the
caller was on hold (hold music, a recorded "please hold", a colleague consulted on the line), whose
caller's leg is not heard, as the live daemon does not hear it between ``call-monitor call hold``
and ``call resume``: what plays meanwhile is no caller, its cues are held still, and the stretch is
kept with the stored call as its ``caller_on_hold``.

Times into the call are written as a call's times are everywhere (``75``, ``75.5``, ``1:15``,
``1:15.5``, ``0:01:15``: :func:`call_seconds`), the labels of a batch's calls too.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator, Sequence

from ..events import Span
from .sources import Chunk

_CALL_TIME = re.compile(r"(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?)")


def call_seconds(text: str) -> float:
    """Seconds into a call from ``75``, ``75.5``, ``1:15``, ``1:15.5`` or ``0:01:15``. Raises
    ValueError for anything else (minutes or seconds of 60 and more after a colon too)."""
    m = _CALL_TIME.fullmatch(text.strip())
    if m is None or (m.group(2) is not None and float(m.group(3)) >= 60) or (m.group(1) and int(m.group(2)) >= 60):
        raise ValueError(text)
    hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2) or 0), float(m.group(3))
    return 3600.0 * hours + 60.0 * minutes + seconds


def parse_hold(text: str) -> Span:
    """The stretch ``FROM-TO`` (``0:40-1:35``, ``40-95``) says; ValueError saying what is wrong
    with it, in words a command line shows."""
    start, dash, end = text.partition("-")
    if not dash:
        raise ValueError(f"{text!r} is no FROM-TO stretch of the call (as 0:40-1:35)")
    try:
        span = call_seconds(start), call_seconds(end)
    except ValueError:
        raise ValueError(f"{text!r}: FROM and TO are seconds, m:ss or h:mm:ss into the call (as 0:40-1:35)") from None
    if span[1] <= span[0]:
        raise ValueError(f"{text!r} ends before it begins")
    return span


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
