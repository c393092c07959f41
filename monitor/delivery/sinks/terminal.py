"""Terminal output of events: JSON lines, or lines a person reads."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TextIO

from ...alerts.meaning import meaning
from ...events import AlertClearedEvent, AlertEvent, CallSummaryEvent, Event, StatusEvent, WordsEvent, unjudged


def _clock(t: float) -> str:
    """Call time as ``mm:ss.s``, and ``h:mm:ss.s`` past an hour (as the report's ``h:mm:ss``, not ``125:03.0``)."""
    m, s = divmod(round(max(0.0, t), 1), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:04.1f}" if h else f"{m:02d}:{s:04.1f}"


def _unjudged(ev: CallSummaryEvent) -> str:
    """What a call without the caller's baseline was not judged on ("" once there is one)."""
    text = unjudged(bool(ev.baseline), ev.caller_speech_s)
    return f"; {text}" if text else ""


AGENT_EVENTS: tuple[str, ...] = (AlertEvent.type, AlertClearedEvent.type, CallSummaryEvent.type)
"""The events of the live daemon's JSON lines that carry its ``agent``: what the database keeps
with the call's agent and the webhook posts with it (the alerts, their end, the call's summary);
the cue stream, words and status lines are this daemon's own output and do not."""


class JsonlSink:
    """One JSON object per event per line; with ``agent`` (the live daemon's, as its webhook posts
    it), the events of :data:`AGENT_EVENTS` also carry ``"agent"`` after their own keys."""

    def __init__(self, out: TextIO | None = None, agent: str | None = None) -> None:
        self.out = out or sys.stdout
        self.agent = agent

    def __call__(self, event: Event) -> None:
        extra = {"agent": self.agent} if self.agent is not None and event.type in AGENT_EVENTS else {}
        self.out.write(event.to_json(**extra) + "\n")
        self.out.flush()


def _call_named(ev: CallSummaryEvent) -> str:
    """The call a summary line is about: a replayed file and the call it was stored as (``call 3``,
    what ``report 3`` takes); a live call by that id alone (its source, ``live:caller=...``, is the
    daemon's, which ``status`` names)."""
    live = ev.file is None or ev.file.startswith("live:")
    if ev.call_id is None:
        return "call (not stored yet)" if live else ev.file
    return f"call {ev.call_id}" if live else f"{ev.file} (call {ev.call_id})"


def _still_raised(ended: list[AlertClearedEvent]) -> str:
    """One line for the alerts a call ended with (the critical one first): what the agent reads
    once, not a line per alert."""
    kinds = sorted(dict.fromkeys(ev.kind for ev in ended), key=lambda k: k != "possible_emergency")
    what = f"{kinds[0]} still raised" if len(kinds) == 1 else f"{len(kinds)} alerts still raised: {', '.join(kinds)}"
    return f"[{_clock(ended[0].t)}] call ended with {what}"


class HumanSink:
    """Alerts, clears, final words, status lines and the call summary as readable lines (cues are
    not printed).

    The alerts still raised when a call ends come as one ``call_ended`` clear each, together: they
    are said in one line, once the batch is over (:meth:`end_batch`, or the next event).

    An alert's next steps are printed once a call: a later alert with the same ones (every warning
    has the same two) is its line and its meaning, the steps a few lines up.

    ``logged``: the levels of the status lines that logging says on stderr already (the daemon
    logs each status it emits): left out here, so that the terminal and the journal, which show
    both streams, say each warning once (the JSON lines keep every status for scripts)."""

    def __init__(self, out: TextIO | None = None, bell: bool = False, show_words: bool = True,
                 logged: frozenset[str] = frozenset()) -> None:
        self.out = out or sys.stdout
        self.bell = bell
        self.show_words = show_words
        self.logged = logged
        self._ended: list[AlertClearedEvent] = []
        self._steps: tuple[int | None, set[tuple[str, ...]]] = (None, set())
        """The call the last alert was in, and the next steps printed in it."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, AlertClearedEvent) and event.reason == "call_ended":
            self._ended.append(event)
            return
        self.end_batch()
        if isinstance(event, AlertEvent):
            event = self._new_steps_only(event)
        elif isinstance(event, CallSummaryEvent):
            self._steps = (None, set())
        self._write(self.format(event))

    def _new_steps_only(self, ev: AlertEvent) -> AlertEvent:
        """``ev``, without its next steps if this call printed the same ones already."""
        call, shown = self._steps
        if ev.call_id != call:
            call, shown = ev.call_id, set()
        self._steps = (call, shown)
        if ev.actions in shown:
            return replace(ev, actions=())
        shown.add(ev.actions)
        return ev

    def end_batch(self) -> None:
        """Say the alerts held back as still raised at the end of the call, if any."""
        ended, self._ended = self._ended, []
        if ended:
            self._write(_still_raised(ended))

    def _write(self, line: str | None) -> None:
        if line:
            self.out.write(line + "\n")
            self.out.flush()

    def format(self, ev: Event) -> str | None:
        if isinstance(ev, AlertEvent):
            head = "CRITICAL" if ev.severity == "critical" else "warning "
            bell = "\a" if self.bell and ev.severity == "critical" else ""
            unstored = "" if ev.stored else " [not stored: database failing]"
            lines = [f"{bell}[{_clock(ev.t)}] {head} {ev.kind}: {ev.message}{unstored}"]
            if meaning(ev.kind):
                lines.append(f"             what it means: {meaning(ev.kind)}")
            for action in ev.actions:
                lines.append(f"             -> {action}")
            return "\n".join(lines)
        if isinstance(ev, AlertClearedEvent):
            if ev.reason == "call_ended":
                return _still_raised([ev])
            if ev.reason == "rule_disabled":
                return f"[{_clock(ev.t)}] ended    {ev.kind}: its rule was switched off, not a recovery"
            if ev.reason == "phrase_expired":
                return (f"[{_clock(ev.t)}] ended    {ev.kind}: the distress phrase is no longer recent; "
                        f"the other alerts stay raised")
            return f"[{_clock(ev.t)}] cleared  {ev.kind}"
        if isinstance(ev, WordsEvent) and ev.final and self.show_words and ev.text:
            return f"[{_clock(ev.t)}] {ev.channel:6s} \"{ev.text}\""
        if isinstance(ev, StatusEvent) and ev.level not in self.logged:
            return f"[{_clock(ev.t)}] {ev.level}: {ev.message}"
        if isinstance(ev, CallSummaryEvent):
            kinds = ", ".join(ev.alert_kinds) or "none"
            return (f"== {_call_named(ev)}: {ev.duration_s:.1f} s, {ev.alerts} alert(s) "
                    f"({ev.critical_alerts} critical): {kinds}" + _unjudged(ev)
                    + (f"; ended: {ev.ended_by}" if ev.ended_by else ""))
        return None
