"""Immutable events that flow from the pipeline to the sinks.

Every event has a ``type``, ``t`` (seconds into the call) and ``call_id`` (its call's) and turns into
one JSON object with :meth:`to_dict`; the shapes are the ones documented for
``call-monitor replay --jsonl`` and the transcript.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping

Severity = str  # "warning" | "critical"


def json_line(value: Any) -> str:
    """``value`` as one line of JSON as every command writes it: text as it is written (a caller's
    Korean words, a recording's name), not as ``\\u`` escapes."""
    return json.dumps(value, ensure_ascii=False)


_AS_THEY_ARE = frozenset({str, int, bool, type(None)})
"""The types :func:`_clean` returns as they are, told by their exact type first (most of what it
is given: the long ``alerts --jsonl`` of a big database spent half its time on the checks below)."""


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become ``None``, floats are rounded, tuples become lists."""
    kind = type(value)
    if kind in _AS_THEY_ARE:
        return value
    if kind is dict:
        return {str(k): _clean(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_clean(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, 4)
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _clean(value.item())
    return value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
"""The names of each event class's fields, in order, once read (:func:`_field_names`)."""


def _field_names(kind: type) -> tuple[str, ...]:
    """The names of the fields of the event class ``kind``, in order (read once a class)."""
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind))
    return names


@dataclass(frozen=True)
class Event:
    """Base class: ``t`` is seconds since the start of the call; ``call_id`` the database id of
    the call the event belongs to, on every event of a call (None for one outside any call, and
    where the call has no id: no database, or its row not written yet)."""

    t: float
    call_id: int | None = field(default=None, kw_only=True)

    type = "event"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in _field_names(type(self)):
            out[name] = _clean(getattr(self, name))
        return out

    def to_json(self, **extra: Any) -> str:
        """:meth:`to_dict` on one line, with the keys of ``extra`` after the event's own."""
        return json_line({**self.to_dict(), **extra})


@dataclass(frozen=True)
class CuesEvent(Event):
    """Cue window measures for one channel, once per hop. ``None`` where undefined."""

    channel: str = "caller"
    speech_rate_sps: float | None = None
    articulation_rate_sps: float | None = None
    pause_ratio: float | None = None
    mean_pause_s: float | None = None
    mean_phrase_s: float | None = None
    hnr_db: float | None = None
    cpps_db: float | None = None
    loudness_dbfs: float | None = None
    response_latency_s: float | None = None
    breaths_per_min: float | None = None
    paused_breath_share: float | None = None
    mean_breath_s: float | None = None
    coughs_per_min: float | None = None
    speech_s: float | None = None
    """Seconds of caller speech in the window."""
    window_s: float | None = None
    """Call time the window spans (it reaches back until it holds enough caller speech)."""
    turn_s: float | None = None
    """The caller's own turn time in the window: their speech and the pauses inside their turns."""
    call_speech_s: float | None = None
    """Seconds of caller speech in the call so far."""
    hold_since: float | None = None
    """Call time a hold began (a silence of both parties' clear talk, the background's talk
    aside), while the hop lies in it or shortly after it (``analysis.hold_rest_after_s``); else None."""
    quiet_since: float | None = None
    """Call time the silence of both parties' clear talk the hop lies in began (the background's
    talk aside; a hold once it lasts ``analysis.hold_rest_quiet_s``): the end of the last clear
    talk in the frames in, about the hop itself while either party speaks; None without the
    agent's leg (or before it has carried speech)."""
    short: Mapping[str, float | None] = field(default_factory=dict)
    """The same acoustic cues over the short window (the caller's last few seconds of speech;
    ``response_latency_s`` is their last answer's), with its ``speech_s`` and ``window_s``; empty
    when the short window is off."""
    words_per_min: float | None = None
    mean_word_gap_s: float | None = None
    long_word_gaps: int | None = None
    baseline_ready: bool = False

    type = "cues"

    def value(self, name: str) -> float | None:
        v = getattr(self, name)
        return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v

    def short_value(self, name: str) -> float | None:
        """The cue over the short window (None when absent or not finite)."""
        v = self.short.get(name)
        return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


@dataclass(frozen=True)
class AlertEvent(Event):
    """An alert raised. ``evidence`` holds measured value, baseline, threshold and span."""

    kind: str = ""
    severity: Severity = "warning"
    message: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    actions: tuple[str, ...] = ()
    alert_id: int | None = None
    stored: bool = True
    """False when the database could not commit it: the alert went to the sinks all the same and
    is written to the database once it works again."""

    type = "alert"


CLEAR_REASONS: tuple[str, ...] = ("recovered", "call_ended", "rule_disabled", "phrase_expired")
"""Why an alert ends: its cue came back; the call ended (or its monitoring failed) with it still
raised, so nothing was resolved and the agent must not read it as an all-clear; a reload switched
its rule off; or (possible_emergency only) it stood on a distress phrase that is no longer recent
while the acoustic alerts behind it are still raised."""


@dataclass(frozen=True)
class AlertClearedEvent(Event):
    """An alert ended; ``reason`` is one of :data:`CLEAR_REASONS`."""

    kind: str = ""
    reason: str = "recovered"

    type = "alert_cleared"


@dataclass(frozen=True)
class AlertAckedEvent(Event):
    """A supervisor acknowledged one of this daemon's alerts on the console (told in the answer to a
    heartbeat): ``t``, ``kind``, ``severity``, ``call_id`` and ``alert_id`` are the alert's as the
    daemon posted it (``call_started_at`` too), ``by`` the name the supervisor gave and ``acked_at``
    when (unix seconds, the console's clock). It says only that the supervisor saw the alert."""

    kind: str = ""
    severity: Severity = "warning"
    alert_id: int | None = None
    call_started_at: float | None = None
    by: str = ""
    acked_at: float = 0.0

    type = "alert_acked"

    def to_dict(self) -> dict[str, Any]:
        """As every event's, ``acked_at`` as the console keeps it, not rounded: the same number
        ``alerts --jsonl``, ``status --json`` and the console's ``/api/state`` give (its paging by
        ``acked_at`` takes it)."""
        return {**super().to_dict(), "acked_at": self.acked_at}


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    conf: float

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.word, "start": _clean(self.start), "end": _clean(self.end),
                "conf": _clean(self.conf)}


@dataclass(frozen=True)
class WordsEvent(Event):
    """Recognised words on one channel; times are call times in seconds."""

    channel: str = "caller"
    final: bool = False
    words: tuple[Word, ...] = ()
    text: str = ""

    type = "words"

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["words"] = [w.to_dict() for w in self.words]
        return d


NO_SPEECH_S = 1.0
"""Less caller speech than this in a whole call is none: a silent or wrong leg."""


def unjudged(baseline_ready: bool, caller_speech_s: float | None) -> str | None:
    """What a call without the caller's baseline was not judged on, in words (None once it has one,
    or where the caller's speech is not known: a call stored by an older release).

    A silent caller leg (the caller on the other channel of a stereo file, a muted source) would
    otherwise read as a clean call; replay's summary line and the call report say it alike."""
    if baseline_ready or caller_speech_s is None:
        return None
    if caller_speech_s < NO_SPEECH_S:
        return "no caller speech heard on the caller's leg: nothing judged"
    return f"no caller baseline ({caller_speech_s:.0f} s of caller speech): judged against the absolute limits only"


@dataclass(frozen=True)
class CallSummaryEvent(Event):
    """End of a call (or of a replayed file); ``ended_by``: what ended a live call ("the
    softphone's stream ended (sink softphone)", "20 s of silence", ...), None in replay but for
    the signal of a stop ("SIGINT", "SIGTERM"), as the live daemon's stop gives it.
    ``caller_speech_s``: seconds of caller speech heard in the call (an empty ``baseline`` with
    little or none of it is a call nothing was judged in against the caller's own normal);
    ``agent_speech_s``: the agent's leg's speech, None without that leg. ``notes``: what the call's
    stored summary keeps besides these keys (:func:`~monitor.pipeline.stored_notes`: ``"aborted":
    true`` for a call whose monitoring stopped part-way, the spans its caller and its agent were not heard, a
    recording's flaws...), said after them on the summary's own line (:meth:`to_dict`), so that
    ``--jsonl``'s ``call_summary`` line and the stored summary are one and the same."""

    file: str | None = None
    duration_s: float = 0.0
    alerts: int = 0
    critical_alerts: int = 0
    alert_kinds: tuple[str, ...] = ()
    baseline: Mapping[str, Any] = field(default_factory=dict)
    transcribed: bool = False
    ended_by: str | None = None
    caller_speech_s: float | None = None
    agent_speech_s: float | None = None
    notes: Mapping[str, Any] = field(default_factory=dict)

    type = "call_summary"

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        return d | d.pop("notes")

    @property
    def agent_file(self) -> str | None:
        """The agent's leg's own recording of a call of two files (:data:`AGENT_RECORDING`), else None."""
        return self.notes.get(AGENT_RECORDING)


AGENT_RECORDING = "agent_recording"
"""The stored summary's key (a :class:`CallSummaryEvent`'s ``notes``) of the agent's leg's own recording,
by its absolute path, of a call whose legs are two files (``file`` the caller's); a call of one
recording, and a live call, have none."""


def no_input_key(leg: str) -> str:
    """The stored summary's key of the spans of a call's time ``leg`` was not heard (``caller_no_input``,
    ``agent_no_input``: ``[from, to]`` in seconds into the call); their seconds are under the same key
    and ``_s``. A leg heard throughout has none."""
    return f"{leg}_no_input"


def no_input_of(summary: Mapping[str, Any] | None, leg: str = "caller") -> tuple[tuple[float, float], ...]:
    """The spans of a stored call's time ``leg``'s source gave no input (seconds into the call), from
    its summary (:func:`no_input_key`); () for none, or for a call stored without them."""
    return _spans(summary.get(no_input_key(leg)) if isinstance(summary, Mapping) else None)


Span = tuple[float, float]
"""A stretch of time, (start, end) in seconds."""


def extend_spans(spans: list[Span], start: float, end: float, gap: float = 0.0) -> None:
    """``spans`` (in time order) with ``[start, end)`` added after them (``start`` not before the last
    one's), joined to the last one when it begins within ``gap`` of its end."""
    if spans and start <= spans[-1][1] + gap:
        spans[-1] = (spans[-1][0], max(spans[-1][1], end))
    else:
        spans.append((start, end))


def joined_spans(spans: Iterable[Span], gap: float = 0.0) -> list[Span]:
    """``spans`` in time order, each that begins within ``gap`` of the end of those before it joined
    to them (:func:`extend_spans`)."""
    out: list[Span] = []
    for start, end in sorted(spans):
        extend_spans(out, start, end, gap)
    return out


ON_HOLD = "caller_on_hold"
"""The stored summary's key of the spans of a call's time its caller was on hold (``call-monitor call
hold`` to its ``call resume``, to the hold's lift after ``daemon.max_hold_s``, or to the call's end; a
replay's ``--hold``;
``[from, to]`` in seconds into the call). The caller's leg was not heard then, so these spans are within
its ``caller_no_input`` too, but its source did give input: :func:`source_no_input_of` leaves them out.
A call never on hold has none."""

HOLD_SLIVER_S = 0.15
"""What is left of a span without the caller's input once its holds are taken out, when shorter than
this, is the two spans' rounding (to the tenth of a second), no time of its own."""


def on_hold_of(summary: Mapping[str, Any] | None) -> tuple[tuple[float, float], ...]:
    """The spans of a stored call's time its caller was on hold (:data:`ON_HOLD`); () for none."""
    return _spans(summary.get(ON_HOLD) if isinstance(summary, Mapping) else None)


def source_no_input_of(summary: Mapping[str, Any] | None) -> tuple[tuple[float, float], ...]:
    """The spans of a stored call's time its caller's source gave no input, or its audio was lost:
    its ``caller_no_input`` (:func:`no_input_of`) less its holds (:func:`on_hold_of`)."""
    left = list(no_input_of(summary))
    for h0, h1 in on_hold_of(summary):
        left = [piece for a, b in left for piece in ((a, min(b, h0)), (max(a, h1), b)) if piece[1] > piece[0]]
    return tuple((a, b) for a, b in left if b - a >= HOLD_SLIVER_S)


def _spans(spans: Any) -> tuple[tuple[float, float], ...]:
    try:
        return tuple((float(a), float(b)) for a, b in spans or ())
    except (TypeError, ValueError):
        return ()


@dataclass(frozen=True)
class StatusEvent(Event):
    """Operational messages (acoustic-only mode, device reopened, overflows...). ``at``: the
    wall-clock time (Unix seconds) of a live daemon's line outside any call, whose ``t`` is no
    call's time (it counts the seconds since the daemon began to capture); None for a call's line."""

    level: str = "info"
    message: str = ""
    at: float | None = None

    type = "status"
