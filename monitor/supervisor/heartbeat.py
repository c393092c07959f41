"""What a heartbeat's ``status`` holds, as the console reads it (the daemon's
``Daemon.heartbeat_status``), and the check that refuses one the page and the store could not read.

Every field is optional and may be null: a daemon of an earlier release, or a partial status, says
less. A field that is there is of its kind, to the last list item and device (``"devices":
{"caller": null}`` or ``"active_alerts": "slow_speech"`` is refused). Fields the console does not
read are kept as sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Union


@dataclass(frozen=True)
class Leaf:
    """A value of one kind; ``what`` names it in the refusal."""

    what: str
    fits: Callable[[Any], bool]


@dataclass(frozen=True)
class Fields:
    """An object with these fields, each optional (missing or null); other fields pass unread."""

    fields: Mapping[str, "Shape"]


@dataclass(frozen=True)
class ListOf:
    """A list of items of one shape (none null)."""

    item: "Shape"


@dataclass(frozen=True)
class ByName:
    """An object of named entries of one shape (none null): the devices by leg."""

    entry: "Shape"


MAX_NAME = 40
"""The longest entry name a refusal repeats as it was sent."""

Shape = Union[Leaf, Fields, ListOf, ByName]

FLAG = Leaf("true or false", lambda v: isinstance(v, bool))
TEXT = Leaf("a string", lambda v: isinstance(v, str))
NUMBER = Leaf("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
COUNT = Leaf("a non-negative integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0)

STATUS = Fields({
    "stopped": FLAG, "devices_open": FLAG, "in_call": FLAG, "calls": COUNT, "alerts": COUNT, "uptime_s": NUMBER,
    "devices": ByName(Fields({"state": TEXT, "label": TEXT})),
    "call": Fields({"call_id": COUNT, "t": NUMBER, "started_at": NUMBER, "active_alerts": ListOf(TEXT)}),
    "last_error": Fields({"level": TEXT, "message": TEXT, "at": NUMBER, "source": TEXT, "resolved_at": NUMBER,
                          "resolved": TEXT}),
    "reports": ListOf(Fields({"call_id": COUNT, "url": TEXT})),
})
"""A heartbeat's status: devices (each leg's state and label), whether it has stopped, whether its
devices are open and a call runs (the call's id, time, start and active alert kinds), counts, the
last warning or error and links to call reports."""


def status_problem(status: Any) -> str | None:
    """Why ``status`` (a heartbeat's) is none the console can show, in one phrase naming the field
    (``status.devices.caller: expected an object``), or None."""
    if not isinstance(status, dict):
        return "status: expected an object"
    return _problem(status, STATUS, "status")


def _problem(value: Any, shape: Shape, path: str) -> str | None:
    """Why ``value`` at ``path`` is not of ``shape``, or None. Only an object's field may be null
    (not said); a null list item or named entry is of no shape."""
    if isinstance(shape, Leaf):
        return None if shape.fits(value) else f"{path}: expected {shape.what}"
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            return f"{path}: expected a list"
        return _first(_problem(v, shape.item, f"{path}[{i}]") for i, v in enumerate(value))
    if not isinstance(value, dict):
        return f"{path}: expected an object"
    if isinstance(shape, ByName):
        return _first(_problem(v, shape.entry, f"{path}.{_named(k)}") for k, v in value.items())
    return _first(_problem(value[k], s, f"{path}.{k}") for k, s in shape.fields.items() if value.get(k) is not None)


def _named(key: str) -> str:
    """An entry's name in the refusal's one line: as sent, or quoted (its newlines escaped) and cut."""
    return key if key.isidentifier() and len(key) <= MAX_NAME else json.dumps(key[:MAX_NAME])


def _first(problems: Iterator[str | None]) -> str | None:
    return next((p for p in problems if p is not None), None)
