"""Terminal output of events: JSON lines, or lines a person reads."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace
from typing import Mapping, TextIO

from ...alerts.meaning import meaning
from ...console import one_line, severity_word
from ...local_time import local_text
from ..store_rows import LIVE_SOURCE
from ...events import AlertAckedEvent, AlertClearedEvent, AlertEvent, CallSummaryEvent, Event, StatusEvent, WordsEvent, unjudged


def call_clock(t: float) -> str:
    """Call time as ``mm:ss.s``, and ``h:mm:ss.s`` past an hour (as the report's ``h:mm:ss``, not
    ``125:03.0``): the stamp of every line printed in a call, and the time of each alert ``alerts`` lists."""
    m, s = divmod(round(max(0.0, t), 1), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:04.1f}" if h else f"{m:02d}:{s:04.1f}"


def _stamp(ev: StatusEvent, name_calls: bool = False) -> str:
    """A status line's stamp: ``[no call, HH:MM:SS]`` of the wall clock for a line outside any call
    (``[no call, 02:30:02 CEST]`` in an hour a change of daylight saving time repeats: :func:`local_text`);
    a call's as :func:`_call_stamp` says, but ``[mm:ss.s]`` alone when its message names the call
    already ("call 12 started", "call 12: the caller's source gives no input ...")."""
    if ev.at is not None:
        return f"[no call, {local_text(ev.at, '%H:%M:%S')}]"
    named = ev.call_id is not None and re.search(rf"\bcall {ev.call_id}\b", ev.message) is not None
    return _call_stamp(ev.t, ev.call_id, name_calls and not named)


def _call_stamp(t: float, call_id: int | None, name_calls: bool) -> str:
    """The stamp of a line in a call: ``[mm:ss.s]`` of its call's time, and with ``name_calls``
    (the live daemon, one call after another) ``[call 12, mm:ss.s]``: the agent who looks up from
    the next caller reads which call a line is about without scrolling back to its start."""
    return f"[call {call_id}, {call_clock(t)}]" if name_calls and call_id is not None else f"[{call_clock(t)}]"


def said_at(words: WordsEvent) -> float:
    """The call time ``words`` began to be said: its first word's start, where the recognizer gave
    word times, else the event's time (when the recognizer ended the utterance, a pause after it).
    A words line stamped so comes before the alert its phrase raised, never after it."""
    return words.words[0].start if words.words else words.t


def on_terminal(out: TextIO) -> bool:
    """Whether ``out`` is a terminal: not a file, a pipe or systemd's journal (the unit's output)."""
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # no file behind it, or one closed
        return False


def _unjudged(ev: CallSummaryEvent) -> str:
    """What a call without the caller's baseline was not judged on ("" once there is one)."""
    text = unjudged(bool(ev.baseline), ev.caller_speech_s)
    return f"; {text}" if text else ""


AGENT_EVENTS: tuple[str, ...] = (AlertEvent.type, AlertClearedEvent.type, CallSummaryEvent.type)
"""The events of the live daemon's JSON lines that carry its ``agent``: what the database keeps
with the call's agent and the webhook posts with it (the alerts, their end, the call's summary);
the cue stream, words and status lines are this daemon's own output and do not."""


def to_journal(out: TextIO, journal_stream: str | None) -> bool:
    """Whether ``out`` is systemd's journal: the file a unit's output goes to, which systemd names
    in ``$JOURNAL_STREAM`` (``DEVICE:INODE``, given here as ``journal_stream``)."""
    try:
        st = os.fstat(out.fileno())
    except (AttributeError, ValueError, OSError):  # no file behind it, or one closed
        return False
    return bool(journal_stream) and journal_stream == f"{st.st_dev}:{st.st_ino}"


class JsonlSink:
    """One JSON object per event per line; with ``agent`` (the live daemon's, as its webhook posts
    it), the events of :data:`AGENT_EVENTS` also carry ``"agent"`` after their own keys.
    ``journal_stream``: ``$JOURNAL_STREAM``, where systemd runs the daemon (:meth:`keep_words`)."""

    def __init__(self, out: TextIO | None = None, agent: str | None = None,
                 journal_stream: str | None = None) -> None:
        self.out = out or sys.stdout
        self.agent = agent
        self.journal_stream = journal_stream
        self.show_words = True

    def keep_words(self, stored: bool) -> None:
        """Write the callers' words for the program reading the lines (a pipe, a file), but never into
        systemd's journal (a unit's ``run --jsonl``), whether the database stores them or not
        (``stored``): the journal would keep them against ``storage.transcripts = false``, and past
        ``storage.retention_days`` and a purge, which reach the database only."""
        self.show_words = not to_journal(self.out, self.journal_stream)

    def __call__(self, event: Event) -> None:
        if isinstance(event, WordsEvent) and not self.show_words:
            return
        extra = {"agent": self.agent} if self.agent is not None and event.type in AGENT_EVENTS else {}
        self.out.write(event.to_json(**extra) + "\n")
        self.out.flush()


STOP_SIGNALS: tuple[str, ...] = ("SIGINT", "SIGTERM")
"""The ``ended_by`` of a live call the daemon's stop ended (Ctrl-C, a restart): no end of the call."""


def _ended(ended_by: str | None) -> str:
    """What ended a live call, as its summary line says it: the daemon's stop is said to be one,
    not a bare signal name an agent could read as the call's end."""
    if not ended_by:
        return ""
    if ended_by in STOP_SIGNALS:
        return f"; ended: the monitor was stopped ({ended_by}): the call is judged only up to here"
    return f"; ended: {ended_by}"


def _call_named(ev: CallSummaryEvent, typed: Mapping[str, str]) -> str:
    """The call a summary line is about: a replayed file and the call it was stored as (``call 3``,
    what ``report 3`` takes; a call of two files names both); a live call by that id alone (its
    source, ``live:caller=...``, is the daemon's, which ``status`` names). A file is named as it was
    typed where ``typed`` has it (by the absolute path the call keeps), both files of a call of two alike; its name is written on
    the line's one line (:func:`~monitor.console.one_line`: a line break in it as ``\\n``)."""
    if ev.file is None or ev.file.startswith(LIVE_SOURCE):
        return "call (not stored yet)" if ev.call_id is None else f"call {ev.call_id}"
    caller, agent = typed.get(ev.file, ev.file), ev.agent_file and typed.get(ev.agent_file, ev.agent_file)
    files = one_line(caller if agent is None else f"{caller} + agent {agent}")  # of two files too
    return files if ev.call_id is None else f"{files} (call {ev.call_id})"


def _cleared_line(held: list[AlertClearedEvent], raised: tuple[str, ...], name_calls: bool = False) -> str:
    """One line for the alerts that ended at one moment for one reason (the critical one first):
    "cleared" ones with those still ``raised``, or those a call ended with; stamped as
    :func:`_call_stamp` says."""
    kinds = sorted(dict.fromkeys(ev.kind for ev in held), key=lambda k: k != "possible_emergency")
    at = _call_stamp(held[0].t, held[0].call_id, name_calls)
    if held[0].reason == "call_ended":
        what = (f"{kinds[0]} still raised" if len(kinds) == 1
                else f"{len(kinds)} alerts still raised: {', '.join(kinds)}")
        return f"{at} call ended with {what}"
    still = f" (still raised: {', '.join(raised)})" if raised else ""
    return f"{at} cleared  {', '.join(kinds)}{still}"


def acked_line(ev: AlertAckedEvent, name_calls: bool = False) -> str:
    """A supervisor's acknowledgement of an alert, stamped as the alert was (:func:`_call_stamp`):
    it says that the supervisor has seen the alert, which is all the console knows. Its time of day
    has its zone in an hour a change of daylight saving time repeats (:func:`local_text`)."""
    stamp = _call_stamp(ev.t, ev.call_id, name_calls)
    when = local_text(ev.acked_at, "%H:%M:%S")
    return (f"{stamp} acknowledged {ev.kind} ({ev.severity}) by supervisor {ev.by} at {when}: "
            f"the supervisor has seen this alert")


INDENT = " " * len("CRITICAL ")
"""An alert's lines under its first: under its stamp, past the severity word the first line starts
with (``CRITICAL``, ``warning``, padded alike), which a screen reader says before the time."""


REMINDER_EVERY_S = 60.0
"""The live terminal recalls a critical alert that stands under a warning at most this often (call
time), per call: once under the first warning after it, then again under a warning a minute or more
later, so that a burst of warnings does not repeat it line after line."""


class HumanSink:
    """Alerts, clears, final words, status lines and the call summary as readable lines (cues are
    not printed).

    Alerts that clear at the same moment, or are still raised when the call ends, are said in one
    line (:func:`_cleared_line`), once the moment is over (the next event, or :meth:`end_batch`):
    a labored caller's call ends with eight alerts raised, not eight lines. A line of alerts that
    cleared names those still raised: "cleared  possible_emergency" alone would read as all clear.

    An alert's next steps are printed once a call: a later alert with the same ones (every warning
    has the same two) is its line and its meaning, the steps a few lines up.

    ``logged``: the levels of the status lines that logging says on stderr already (the daemon
    logs each status it emits): left out here, so that the terminal and the journal, which show
    both streams, say each warning once (the JSON lines keep every status for scripts).

    ``name_calls``: the live daemon's output, where calls follow one another: alerts, clears, the
    words said and a call's status lines name their call in their stamp (``[call 12, 01:32.0]``; a
    status line whose message names it already, ``call 12 started``, is stamped with the call time
    alone); a replayed file is one call, its lines stamped with the call time alone."""

    def __init__(self, out: TextIO | None = None, bell: bool = False, show_words: bool = True,
                 logged: frozenset[str] = frozenset(), name_calls: bool = False,
                 journal_stream: str | None = None, typed: Mapping[str, str] | None = None) -> None:
        """``typed``: the recordings replayed, as typed, by their absolute paths (which the call keeps)."""
        self.out = out or sys.stdout
        self.typed = dict(typed or {})
        self.bell = bell
        self.show_words = show_words
        self.journal_stream = journal_stream
        """``$JOURNAL_STREAM``, where systemd runs the daemon (:meth:`keep_words`)."""
        self.logged = logged
        self.name_calls = name_calls
        self._held: list[AlertClearedEvent] = []
        """Clears of one moment and reason, said together."""
        self._call: int | None = None
        """The call the last alert or clear was in (its id)."""
        self._shown: set[tuple[str, ...]] = set()
        """The next steps printed in that call."""
        self._raised: dict[str, None] = {}
        """The alerts raised in that call and not ended, in the order they came."""
        self._critical: dict[str, AlertEvent] = {}
        """The critical ones among them."""
        self._reminded: float | None = None
        """The call time the critical alerts standing were last recalled under a warning (None: not
        since the last critical alert was raised)."""

    def keep_words(self, stored: bool) -> None:
        """Print the callers' words where nothing keeps them, a terminal, and to a file or a pipe only
        when the database stores them anyway (``stored``: ``storage.transcripts``), never into systemd's
        journal (the unit's output): it would keep them against ``storage.transcripts = false``, and
        past ``storage.retention_days`` and a purge, which reach the database only."""
        self.show_words = on_terminal(self.out) or (stored and not to_journal(self.out, self.journal_stream))

    def __call__(self, event: Event) -> None:
        if isinstance(event, (AlertEvent, AlertClearedEvent)) and event.call_id != self._call:
            self.end_batch()
            self._new_call(event.call_id)
        if isinstance(event, AlertClearedEvent) and event.reason in ("recovered", "call_ended"):
            if self._held and (self._held[-1].t, self._held[-1].reason) != (event.t, event.reason):
                self.end_batch()
            self._raised.pop(event.kind, None)
            self._critical.pop(event.kind, None)
            self._held.append(event)
            return
        self.end_batch()
        reminder = None
        if isinstance(event, AlertEvent):
            reminder = self._critical_reminder(event)
            self._raised[event.kind] = None
            if event.severity == "critical":
                self._critical[event.kind] = event
                self._reminded = None
            event = self._new_steps_only(event)
        elif isinstance(event, AlertClearedEvent):
            self._raised.pop(event.kind, None)
            self._critical.pop(event.kind, None)
        elif isinstance(event, CallSummaryEvent):
            self._new_call(None)
        self._write(self.format(event))
        self._write(reminder)

    def end_batch(self) -> None:
        """Say the clears held back, if any."""
        held, self._held = self._held, []
        if held:
            self._write(_cleared_line(held, tuple(self._raised), self.name_calls))

    def _write(self, line: str | None) -> None:
        if line:
            self.out.write(line + "\n")
            self.out.flush()

    def _new_call(self, call_id: int | None) -> None:
        self._call, self._shown, self._raised, self._critical, self._reminded = call_id, set(), {}, {}, None

    def _critical_reminder(self, ev: AlertEvent) -> str | None:
        """Under a warning raised while a critical alert of its call stands, on the live terminal
        (``name_calls``), a line saying so: the warnings that follow a critical one push it up the
        screen, and the last lines the agent reads must not look like a mere warning. Said under
        the first warning after a critical alert is raised, then at most every
        :data:`REMINDER_EVERY_S` of call time: a burst of warnings gets one such line, not one each.
        A replay, read after the fact, says the critical alert once."""
        standing = [c for kind, c in self._critical.items() if kind != ev.kind]
        if ev.severity == "critical" or not standing or not self.name_calls:
            return None
        if self._reminded is not None and ev.t - self._reminded < REMINDER_EVERY_S:
            return None
        self._reminded = ev.t
        said = ", ".join(f"{c.kind} (since {call_clock(c.t)})" for c in standing)
        return f"{INDENT}CRITICAL still raised: {said}: check on the caller now"

    def _new_steps_only(self, ev: AlertEvent) -> AlertEvent:
        """``ev``, without its next steps if this call printed the same ones already."""
        if ev.actions in self._shown:
            return replace(ev, actions=())
        self._shown.add(ev.actions)
        return ev

    def format(self, ev: Event) -> str | None:
        if isinstance(ev, AlertEvent):
            head = severity_word(ev.severity)
            # rung on a terminal only: in the journal a line holding it is stored as binary, and
            # journalctl shows "[N blob data]" in place of the critical alert's line
            bell = "\a" if self.bell and ev.severity == "critical" and on_terminal(self.out) else ""
            unstored = "" if ev.stored else " [not stored: database failing]"
            stamp = _call_stamp(ev.t, ev.call_id, self.name_calls)
            lines = [f"{bell}{head} {stamp} {ev.kind}: {ev.message}{unstored}"]
            if meaning(ev.kind):
                lines.append(f"{INDENT}what it means: {meaning(ev.kind)}")
            for action in ev.actions:
                lines.append(f"{INDENT}-> {action}")
            return "\n".join(lines)
        if isinstance(ev, AlertClearedEvent):
            stamp = _call_stamp(ev.t, ev.call_id, self.name_calls)
            if ev.reason in ("call_ended", "recovered"):
                return _cleared_line([ev], (), self.name_calls)
            if ev.reason == "rule_disabled":
                return f"{stamp} ended    {ev.kind}: its rule was switched off, not a recovery"
            if ev.reason == "phrase_expired":
                return (f"{stamp} ended    {ev.kind}: the distress phrase is no longer recent; "
                        f"the other alerts stay raised")
        if isinstance(ev, AlertAckedEvent):
            return acked_line(ev, self.name_calls)
        if isinstance(ev, WordsEvent) and ev.final and self.show_words and ev.text:
            return f"{_call_stamp(said_at(ev), ev.call_id, self.name_calls)} {ev.channel:6s} \"{ev.text}\""
        if isinstance(ev, StatusEvent) and ev.level not in self.logged:
            return f"{_stamp(ev, self.name_calls)} {ev.level}: {ev.message}"
        if isinstance(ev, CallSummaryEvent):
            kinds = ", ".join(ev.alert_kinds) or "none"
            return (f"== {_call_named(ev, self.typed)}: {ev.duration_s:.1f} s, {ev.alerts} alert(s) "
                    f"({ev.critical_alerts} critical): {kinds}" + _unjudged(ev)
                    + _ended(ev.ended_by))
        return None
