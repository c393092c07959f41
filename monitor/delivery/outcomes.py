"""How detection did on the site's own live calls, by the agents' words on its alerts (``call-monitor
alerts --outcomes``, the supervisor console's ``GET /api/outcomes``): per agent, alert kind and severity,
the alerts raised and how many the agent said handled, a false alarm, or said nothing of; the share of
false alarms among the alerts with a word, with the count it rests on; the critical alerts per hour of
monitored call time, where the call durations are known; the false alarms' notes, counted.

A precision from the agents' words, never a recall: an emergency detection missed raised no alert, so
there is nothing to label, and no figure here counts it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ..console import one_line, severity_word

ALL = "all"
"""The kind and severity of a summary's total row."""


@dataclass(frozen=True)
class Labelled:
    """One alert as the summary reads it: the agent of its call (None: a call stored before calls kept
    it), its kind and severity, the agent's word on it (None: none said) with its note, its call's id,
    and on the console the daemon that posted it (None: one daemon's own database)."""

    agent: str | None
    kind: str
    severity: str
    word: str | None = None
    note: str = ""
    call_id: int | None = None
    daemon_id: str | None = None


@dataclass(frozen=True)
class Monitored:
    """One monitored call as the summary's call time reads it: its agent, how long it lasted (None: still
    open, or closed with no duration kept) and its id."""

    agent: str | None
    duration_s: float | None
    call_id: int | None = None


@dataclass(frozen=True)
class OutcomeRow:
    """The alerts of one kind and severity (:data:`ALL` both: the total) and the agents' words on them."""

    kind: str
    severity: str
    alerts: int
    handled: int
    false_alarm: int

    @property
    def unsaid(self) -> int:
        """The alerts no agent said a word on."""
        return self.alerts - self.handled - self.false_alarm

    @property
    def worded(self) -> int:
        """The alerts with a word: what the share of false alarms rests on."""
        return self.handled + self.false_alarm

    @property
    def false_alarm_share(self) -> float | None:
        """False alarms among the alerts with a word (0 to 1); None where no word was said."""
        return self.false_alarm / self.worded if self.worded else None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "alerts": self.alerts, "handled": self.handled,
                "false_alarm": self.false_alarm, "unsaid": self.unsaid, "worded": self.worded,
                "false_alarm_share": self.false_alarm_share}


@dataclass(frozen=True)
class Outcomes:
    """The summary of one agent's alerts (or all agents'): a row per kind and severity, critical first,
    and their total; the false alarms' notes, most said first ("" for none); the monitored calls, their
    time and how many were still open (``calls`` None: the call time is not known, as on the console),
    and the critical alerts of the calls whose time it is (``timed_criticals``: what that time is set against);
    on the console, the daemon whose alerts they are (``daemon_id``; None: one daemon's own database, or all)."""

    agent: str | None
    rows: tuple[OutcomeRow, ...]
    total: OutcomeRow
    notes: tuple[tuple[str, int], ...]
    calls: int | None = None
    call_time_s: float = 0.0
    open_calls: int = 0
    timed_criticals: int = 0
    daemon_id: str | None = None

    @property
    def criticals(self) -> int:
        return sum(r.alerts for r in self.rows if r.severity == "critical")

    @property
    def critical_per_hour(self) -> float | None:
        """The critical alerts of the calls timed per hour of their time (an open call's alerts, or those of
        a call begun before the period, are not set against time that leaves theirs out); None where no
        call time is known."""
        return self.timed_criticals / (self.call_time_s / 3600.0) if self.calls and self.call_time_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        known = self.calls is not None
        return {"agent": self.agent, "daemon_id": self.daemon_id, "rows": [r.to_dict() for r in self.rows], "total": self.total.to_dict(),
                "false_alarm_notes": [{"note": n, "count": c} for n, c in self.notes],
                "criticals": self.criticals, "calls": self.calls,
                "call_time_s": round(self.call_time_s, 1) if known else None,
                "open_calls": self.open_calls if known else None,
                "timed_criticals": self.timed_criticals if known else None, "critical_per_hour": self.critical_per_hour}


def outcomes_of(alerts: Sequence[Labelled], calls: Sequence[Monitored] | None = None,
                agent: str | None = None, daemon_id: str | None = None) -> Outcomes:
    """The summary of ``alerts`` (and of ``calls``' time; None: not known), as ``agent``'s (of daemon ``daemon_id``)."""
    kinds = Counter((a.severity, a.kind) for a in alerts)
    order = sorted(kinds, key=lambda sk: (sk[0] != "critical", sk[0], sk[1]))
    rows = tuple(_row(kind, severity, [a for a in alerts if (a.severity, a.kind) == (severity, kind)])
                 for severity, kind in order)
    notes = Counter(a.note for a in alerts if a.word == "false_alarm")
    if calls is None:
        return Outcomes(agent, rows, _row(ALL, ALL, alerts), tuple(notes.most_common()), daemon_id=daemon_id)
    timed = {c.call_id: c.duration_s for c in calls if c.duration_s is not None}
    return Outcomes(agent, rows, _row(ALL, ALL, alerts), tuple(notes.most_common()), calls=len(calls),
                    call_time_s=float(sum(timed.values())), open_calls=len(calls) - len(timed),
                    timed_criticals=sum(a.severity == "critical" and a.call_id in timed for a in alerts),
                    daemon_id=daemon_id)


def by_agent(alerts: Sequence[Labelled], calls: Sequence[Monitored] | None = None) -> list[Outcomes]:
    """:func:`outcomes_of` for each agent with an alert or a call, by name (the calls of no known agent
    last); on the console, each daemon of a name apart (two desktops whose agents share a name), by its id."""
    senders = {(a.agent, a.daemon_id) for a in alerts} | {(c.agent, None) for c in calls or ()}
    return [outcomes_of([a for a in alerts if (a.agent, a.daemon_id) == sender],
                        None if calls is None else [c for c in calls if c.agent == sender[0]], *sender)
            for sender in sorted(senders, key=lambda s: (s[0] is None, s[0] or "", s[1] or ""))]


def summary_dict(alerts: Sequence[Labelled], calls: Sequence[Monitored] | None, replayed: int) -> dict[str, Any]:
    """The summary as JSON gives it (``alerts --outcomes --jsonl``, the console's ``/api/outcomes``):
    ``agents``, each agent's (:func:`by_agent`), ``all``, every agent's together, and how many alerts of
    replayed calls were left out."""
    return {"replayed_alerts_left_out": replayed, "agents": [o.to_dict() for o in by_agent(alerts, calls)],
            "all": outcomes_of(alerts, calls).to_dict()}


def _row(kind: str, severity: str, alerts: Iterable[Labelled]) -> OutcomeRow:
    words = Counter(a.word for a in alerts)
    return OutcomeRow(kind, severity, sum(words.values()), words["handled"], words["false_alarm"])


def share_text(part: int, whole: int) -> str:
    """``2 of 3 (67 %)``: a share with the count it rests on; ``no word said`` where ``whole`` is 0."""
    return f"{part} of {whole} ({100 * part / whole:.0f} %)" if whole else "no word said"


HEADER = ("alerts", "handled", "false alarm", "none said", "false alarms among the alerts with a word")
"""The columns of the text table, after the severity and kind."""


def outcome_lines(o: Outcomes) -> list[str]:
    """The summary in lines of text: the table (severity and kind, the counts, the share of false
    alarms), the critical alerts per hour of call time where it is known, and the false alarms' notes."""
    names = [f"{severity_word(r.severity)} {r.kind}" for r in o.rows] + [ALL]
    first = max(map(len, names))
    lines = [" " * first + "  " + "  ".join(HEADER)]
    for name, r in zip(names, (*o.rows, o.total)):
        cells = [f"{v:>{len(h)}}" for v, h in zip((r.alerts, r.handled, r.false_alarm, r.unsaid), HEADER)]
        lines.append(f"{name:<{first}}  " + "  ".join(cells) + "  " + share_text(r.false_alarm, r.worded))
    return lines + _call_time_lines(o) + _note_lines(o)


def _call_time_text(seconds: float) -> str:
    """Monitored call time as the summary says it, never reading 0 for some: hours from an hour
    (``212.4 h``), minutes under it (``2.4 min``: one call of 145.5 s), seconds under a minute."""
    if seconds >= 3600.0:
        return f"{seconds / 3600.0:.1f} h"
    if seconds >= 60.0:
        return f"{seconds / 60.0:.1f} min"
    return f"{seconds:.3g} s"


def _call_time_lines(o: Outcomes) -> list[str]:
    if o.calls is None:
        return []
    still = f"; {o.open_calls} still open or without a duration, not counted" if o.open_calls else ""
    untimed = o.criticals - o.timed_criticals
    apart = f"; {untimed} critical alert(s) of calls not timed left out" if untimed else ""
    per = o.critical_per_hour
    rate = f": {per:.3g} per hour" if per is not None and per < 1000 else (
        f": {per:.0f} per hour" if per is not None else ": no call time to divide by")
    return [f"critical alerts per hour of monitored call time: {o.timed_criticals} in {_call_time_text(o.call_time_s)} "
            f"({o.calls} call(s){still}{apart}){rate}"]


def _note_lines(o: Outcomes) -> list[str]:
    if not o.notes:
        return []
    said_notes = [f"{c} \u00d7 {one_line(note)}" for note, c in o.notes if note]
    bare = sum(c for note, c in o.notes if not note)
    return [f"false alarms' notes ({o.total.false_alarm}):"] + [f"  {line}" for line in said_notes] + (
        [f"  {bare} \u00d7 (no note)"] if bare else [])
