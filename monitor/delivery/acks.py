"""The acknowledgements a supervisor's console tells a daemon, as the answer to its heartbeat carries
them: the console writes each item (:func:`ack_item`) and reads what the daemon took
(:func:`taken_of`); the daemon reads the answer back into events (:func:`acked_events`). The
console's side, which of them a daemon took, is :mod:`monitor.supervisor.acks`.

The daemon listens on no port: the console tells it in the answer to its heartbeat
(``{"ok": true, "acks": [...]}``), the acknowledgements of its alerts it has not yet taken, at most
:data:`ACKS_PER_ANSWER` an answer (the earliest first). The daemon's next heartbeat names the alert
ids it took from that answer (``"acks_taken": [...]``), and only then are they told no more: an
answer lost on its way (a beat that timed out after the console answered) is told again. A daemon
of an earlier release reads no ``acks`` and is unaffected.

An item is ``{"alert_id", "call_id", "call_started_at", "t", "kind", "severity", "by", "at"}``: the
alert as the daemon posted it (its id, call, call time, kind, severity), who acknowledged it (the
name given on the console) and when (``at``, unix seconds of the console's clock, a time of day
the agent's terminal can show: :data:`LATEST_AT` at most). An item of another shape is left out
(in a debug line), and the daemon keeps and shows only the acknowledgement of an alert its
database holds (:meth:`~monitor.delivery.store.Store.add_ack`).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from ..console import one_line
from ..events import AlertAckedEvent

log = logging.getLogger(__name__)

ACKS_PER_ANSWER = 20
"""The most acknowledgements one heartbeat's answer carries."""
LATEST_AT = (datetime.max - timedelta(days=1)).replace(tzinfo=timezone.utc).timestamp()
"""The latest ``at`` (unix seconds) an item may say: a day before the calendar's end, the last time
any local time of day is shown for."""


def ack_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """One acknowledged alert (a row of :meth:`ConsoleStore.acks_of`) as the answer carries it."""
    return {"alert_id": row["alert_id"], "call_id": row["call_id"], "call_started_at": row["call_started_at"],
            "t": row["t"], "kind": row["kind"], "severity": row["severity"], "by": row["acked_by"],
            "at": row["acked_at"]}


def taken_of(heartbeat: Mapping[str, Any]) -> frozenset[int]:
    """The alert ids a heartbeat says its daemon took from the last answer (none from an earlier
    release; what is no alert id is left out)."""
    taken = heartbeat.get("acks_taken")
    if not isinstance(taken, list):
        return frozenset()
    return frozenset(i for i in taken[:ACKS_PER_ANSWER] if _id(i) is not None)


def acked_events(answer: Any) -> list[AlertAckedEvent]:
    """The acknowledgements a heartbeat's answer tells (none from a console of an earlier release);
    an item not of the shape :func:`ack_item` makes is left out, in a debug line."""
    items = answer.get("acks") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        return []
    told = []
    for item in items[:ACKS_PER_ANSWER]:
        ev = _acked_event(item)
        if ev is None:
            log.debug("an acknowledgement the answer tells is left out: it is not of the console's shape (%.200r)",
                      item)
        else:
            told.append(ev)
    return told


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _unix_time(v: Any) -> float | None:
    """``v`` as unix seconds the agent's terminal can show as a time of day: 0 to :data:`LATEST_AT`."""
    at = _number(v)
    return at if at is not None and 0.0 <= at <= LATEST_AT else None


def _id(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _acked_event(item: Any) -> AlertAckedEvent | None:
    if not isinstance(item, dict):
        return None
    t, at, alert_id = _number(item.get("t")), _unix_time(item.get("at")), _id(item.get("alert_id"))
    by, kind, severity = item.get("by"), item.get("kind"), item.get("severity")
    if (t is None or at is None or alert_id is None or severity not in ("warning", "critical")
            or not isinstance(by, str) or not by.strip() or not isinstance(kind, str) or not kind.strip()):
        return None
    # the name and kind are drawn on the agent's terminal: no control character of the receiver's moves its cursor
    return AlertAckedEvent(t=t, kind=one_line(kind)[:100], severity=severity,
                           call_id=_id(item.get("call_id")), alert_id=alert_id,
                           call_started_at=_number(item.get("call_started_at")), by=one_line(by.strip())[:100],
                           acked_at=at)
