"""What the SQLite store hands out (a call, a stored alert, an outbox row, an acknowledgement) and how its
rows are read: the JSON it writes, and the checks of a row holding what no release writes (a damaged row).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, Mapping, cast, overload

from ..events import AGENT_RECORDING, AlertEvent, _clean
from .store_errors import StoreError

LIVE_SOURCE = "live:"
"""How a live call's ``source`` begins (``live:caller=softphone.monitor``): devices, no recording."""

ID_MAX = 2 ** 63 - 1
"""The largest id a row can have (a call's, an alert's), SQLite's largest integer: a larger number names
none, and SQLite refuses to be asked for it."""


def whole_number(text: str, least: int = 1, most: int = ID_MAX) -> int | None:
    """The whole number ``text`` writes in decimal digits, None if it writes none or one outside
    ``least``..``most`` (read unread when longer than ``most``, as int() reads 4300 digits at most):
    an id a user gives (by default: 1 to :data:`ID_MAX`, the ids a row can have), or a number of a query."""
    digits = text.lstrip("0") or "0"
    if not text.isascii() or not text.isdigit() or len(digits) > len(str(most)) or not least <= int(digits) <= most:
        return None
    return int(digits)


def raised_at(call_started_at: float | None, t: float, now: float) -> float:
    """When an alert was raised, the one time it has: its call's start plus its call time ``t`` (the
    moment of the call it was raised at; the analyzer, which looks a little ahead, raises it about a
    second later), or ``now``, when the daemon raised it, if that is sooner (a call replayed faster
    than it was spoken); ``now`` where the call's start is not known. Unix seconds to the millisecond.
    The store keeps it as the alert's ``created_at`` (what ``alerts`` lists and ``--since``, ``--until``
    and the retention go by), the status lists it, and the webhook posts it as ``at``."""
    return round(now if call_started_at is None else min(call_started_at + t, now), 3)


MEMORY_ID_BASE = 1 << 62
"""An alert the database could not store has no id of its own; it is posted with a random id at
or above this (far above any the database gives), the same on every retry, so that a receiver
that de-duplicates by (daemon, alert id), as the supervisor's console does, keeps it once."""


def recording_name(source: str | None, agent_file: str | None = None) -> str:
    """The file name of the recording a replayed or scored call came from (its ``source``), as
    ``alerts`` and the webhook name it, and of a call of two files the agent's file's too
    (``caller.wav + agent.wav``); "" for a live call. Its folder stays out: it is of the machine
    that replayed it (a home folder, a user's name)."""
    if not source or source.startswith(LIVE_SOURCE):
        return ""
    return os.path.basename(source) + (f" + {os.path.basename(agent_file)}" if agent_file else "")


@dataclass(frozen=True)
class CallRecord:
    id: int
    started_at: float
    source: str
    ended_at: float | None
    duration_s: float | None
    baseline: Mapping[str, Any] | None
    summary: Mapping[str, Any] | None
    channels: Mapping[str, int] | None = None
    """The channel of the recording ``source`` each leg was read from (``{"caller": 0, "agent":
    1}`` for a replay with ``--caller-channel 0``), or for a live call its legs' columns in the
    daemon's audio of it (written or not: the legs it captured); None when the call did not record
    it (one stored before schema version 3, or a live one before the daemon kept its legs)."""
    agent: str | None = None
    """A live call's agent (the daemon's ``delivery.agent_name``, else user@host); None for a
    replayed call, or one stored before the calls kept it."""

    @property
    def agent_file(self) -> str | None:
        """The agent's leg's own recording of a call of two files (``source`` the caller's), kept
        with its summary (:data:`~monitor.events.AGENT_RECORDING`) from the call's start: None for any
        other call, and for one stored before the start kept it until the call had ended."""
        return (self.summary or {}).get(AGENT_RECORDING)


@dataclass(frozen=True)
class StoredAlert:
    """An alert as stored: the event (with ids) and when it was raised (:func:`raised_at`, of when it was
    committed, or held while the database failed; an earlier release stored when it was committed)."""

    event: AlertEvent
    created_at: float

    @property
    def alert_id(self) -> int:
        """The alert's id: a stored alert has the id of its row (:meth:`Store._alert` reads it)."""
        return cast(int, self.event.alert_id)


DUE_ORDER_SQL = "a.severity = 'critical' DESC, d.next_attempt_at, d.id"
"""The order due deliveries go in (the outbox's ``ORDER BY``): the critical alerts' first (a receiver
pacing the posts, the console's limit, takes them next), then the earliest due, then the oldest;
:func:`due_order` is the same order of the alerts the webhook holds in memory."""


CLOCK_SLACK_S = 1.0
"""How much further ahead than the longest wait its sender sets a delivery's next try may lie
before it is taken for a wall clock stepped back (:func:`is_due`): rounding, and a write's own time."""
DUE_SQL = "(d.next_attempt_at <= ? OR d.next_attempt_at > ?)"
""":func:`is_due` in the outbox's ``WHERE``: its arguments ``now`` and :func:`beyond_wait`."""


def beyond_wait(now: float, longest_wait_s: float) -> float:
    """The wall-clock time past which no sender that waits at most ``longest_wait_s`` schedules a try at ``now``."""
    return now + longest_wait_s + CLOCK_SLACK_S


def is_due(next_at: float, now: float, longest_wait_s: float) -> bool:
    """Whether a delivery whose next try is at ``next_at`` (wall clock, as the outbox keeps it: it
    outlives the process) is due at ``now``: that time has come, or it lies further ahead than the
    longest wait its sender sets (``longest_wait_s``), which only a wall clock stepped back since
    (an NTP step, a clock set by hand) makes it; waiting for it would hold the alert back by the step."""
    return next_at <= now or next_at > beyond_wait(now, longest_wait_s)


def due_order(severity: str, next_at: float, seq: int) -> tuple[bool, float, int]:
    """The sort key of a due delivery in :data:`DUE_ORDER_SQL`'s order: its alert's ``severity``,
    when it is due (``next_at``) and its place among those held (``seq``, oldest first)."""
    return severity != "critical", next_at, seq


@dataclass(frozen=True)
class Delivery:
    """One outbox row: deliver ``alert`` to ``target``."""

    id: int
    alert_id: int
    target: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    alert: AlertEvent
    delivered_at: float | None = None
    raised_at: float | None = None
    """When its alert was raised (:func:`raised_at`), as :attr:`StoredAlert.created_at`: the post's ``at``."""
    posted_id: int | None = None
    """The alert id this row is posted under when it is not :attr:`alert_id`: an alert the database
    could not store when it was raised was posted from memory under an id of its own
    (:data:`MEMORY_ID_BASE`), which the supervisor console keys it
    by; every later post of it (in any run) keeps that id. None: posted under :attr:`alert_id`."""
    posted_by: str | None = None
    """The daemon id the post that delivered it went under (the id of the database on the machine,
    or the one a daemon started while its database could not be opened posted its run under,
    ``unopened-...``); None while it is not delivered, or delivered by an earlier release."""

    @property
    def posts_as(self) -> int:
        """The alert id the receiver knows the alert by."""
        return self.alert_id if self.posted_id is None else self.posted_id


@dataclass(frozen=True)
class Ack:
    """A supervisor's acknowledgement of an alert, as the console told it: who (the name given on the
    console) and when (unix seconds, the console's clock). The first one stands, as on the console."""

    by: str
    at: float


@dataclass(frozen=True)
class AgentWord:
    """The agent's word on an alert (:mod:`~monitor.delivery.words`): ``handled`` or ``false_alarm``,
    its note ("" for none), when it was said (unix seconds), and its delivery to the webhook:
    ``status`` pending, delivered, failed (not deliverable: given up after ``delivery.retries``, or at
    once when the receiver answered 409, having not the alert; ``last_error`` says which) or unsent
    (the alert was never queued for a webhook, or its delivery failed for good)."""

    alert_id: int
    word: str
    note: str
    said_at: float
    status: str
    attempts: int = 0
    last_error: str | None = None
    delivered_at: float | None = None


def _json(value: Any) -> str:
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    return json.dumps(_clean(value), ensure_ascii=False, separators=(",", ":"))


def damaged_row(p: str | os.PathLike, row: str, problem: str) -> StoreError:
    """A row holding what callmonitor never writes (another program wrote it, or an edit by hand):
    the one line every command says of it, naming the database, the row and the problem."""
    return StoreError(f"{p}: damaged callmonitor database ({row}: {problem})")


_JSON_KINDS: Mapping[type, str] = MappingProxyType({dict: "object", list: "list"})


def _json_of(p: str | os.PathLike, row: str, name: str, text: Any, kind: type, *, null: bool = False) -> Any:
    """Column ``name`` of ``row``: JSON text of a ``kind`` (dict or list), or where ``null`` NULL;
    :func:`damaged_row` if it is not."""
    if text is None and null:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise damaged_row(p, row, f"{name} is not JSON") from None
    if not isinstance(value, kind) and not (null and value is None):
        raise damaged_row(p, row, f"{name} is not a JSON {_JSON_KINDS[kind]}")
    return value


@overload
def _number(p: str | os.PathLike, row: str, name: str, value: Any, *, null: Literal[False] = False) -> float: ...
@overload
def _number(p: str | os.PathLike, row: str, name: str, value: Any, *, null: bool) -> float | None: ...
def _number(p: str | os.PathLike, row: str, name: str, value: Any, *, null: bool = False) -> float | None:
    """Column ``name`` of ``row``, a finite number (or NULL where ``null``); :func:`damaged_row` if not."""
    if value is None and null:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise damaged_row(p, row, f"{name} is not a number ({value!r})")
    return float(value)


def _whole(p: str | os.PathLike, row: str, name: str, value: Any) -> int | None:
    """Column ``name`` of ``row``, a whole number as SQLite keeps it (not through a float: an id of
    2^62 and more loses its last digits there) or NULL; :func:`damaged_row` if not."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise damaged_row(p, row, f"{name} is not a whole number ({value!r})")
    return value


def _text(p: str | os.PathLike, row: str, name: str, value: Any) -> str:
    """Column ``name`` of ``row``, text; :func:`damaged_row` if not."""
    if not isinstance(value, str):
        raise damaged_row(p, row, f"{name} is not text ({value!r})")
    return value
