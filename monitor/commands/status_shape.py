"""The shape of the daemon's status that ``call-monitor status`` draws as text: each field the text
reads, and what it must be, declared once and checked before the text is drawn, so that a status
of another release's shape is one line saying what in it differs, and the drawing itself needs no
guard (a fault in it is a fault, not taken for another release's status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Union

ANY = object
"""Any JSON value, null too: a field the text writes as it is."""
NUMBER = (int, float)
"""A JSON number: a field the text formats (``61 s``, a clock time)."""


@dataclass(frozen=True)
class Obj:
    """A JSON object holding the ``needed`` keys, each of its shape, and where the ``optional`` keys
    are there and not null, each of its shape."""

    needed: Mapping[str, "Shape"] = field(default_factory=lambda: MappingProxyType({}))
    optional: Mapping[str, "Shape"] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Each:
    """A JSON object (``of`` dict) each of whose values, or a list (``of`` list) each of whose items,
    is of ``shape``."""

    shape: "Shape"
    of: type = dict


Shape = Union[type, tuple[type, ...], Obj, Each]

STATUS_CUES: tuple[str, ...] = ("speech_rate_sps", "pause_ratio", "mean_phrase_s", "hnr_db", "loudness_dbfs",
                                "breaths_per_min")
"""The cues the status line shows (labels and units from the cue registry)."""

LEG = Obj({"state": str, "label": ANY, "overflows": ANY, "dropped_blocks": ANY, "reopens": ANY},
          {"level_dbfs": NUMBER})
CUES = Obj(optional=MappingProxyType({name: NUMBER for name in ("speech_s", *STATUS_CUES)}))
CALL = Obj({"call_id": ANY, "t": NUMBER, "alerts": ANY, "baseline_ready": ANY,
            "active_alerts": Each(Obj({"severity": ANY, "t": NUMBER}))},
           {"cues": CUES, "cues_from_speech_s": NUMBER, "hold_s": NUMBER})
RECENT_ALERT = Obj({"at": NUMBER, "severity": str, "call_id": ANY, "kind": ANY, "t": NUMBER})
WAITING = Obj({"for_s": NUMBER, "reason": ANY})
"""A wait the receiver asked for (the webhook's alerts', or its heartbeats'), while it lasts."""
WEBHOOK = Obj({"url": ANY, "delivered": ANY, "failures": ANY, "last_error": ANY},
              {"last_failure_at": NUMBER, "waiting": WAITING,
               "heartbeat": Obj({"sent": ANY, "failing": ANY, "last_error": ANY}, {"waiting": WAITING})})
LISTENING = Obj({"pid": ANY, "uptime_s": NUMBER, "db": ANY, "legs": Each(LEG), "calls": ANY, "alerts": ANY,
                 "overflows": ANY},
                {"boundaries": Obj({"based_on": ANY}), "call": CALL, "behind_s": NUMBER,
                 "pending": Obj({"kind": ANY, "since_s": NUMBER, "call_after_s": NUMBER}),
                 "store": Obj(), "recent_alerts": Each(RECENT_ALERT, list), "webhook": WEBHOOK,
                 "notify": Obj({"sent": ANY, "failures": ANY}), "transcription_off": str,
                 "last_problem": Obj({"level": ANY, "at": NUMBER, "message": ANY}, {"resolved_at": NUMBER})})
"""A listening daemon's status, as the text reads it (:func:`~monitor.commands.status.render`)."""
STARTING = Obj({"pid": ANY, "uptime_s": NUMBER, "db": ANY, "doing": ANY})
"""A starting daemon's status (``"starting": true``), as the text reads it."""


def status_shape_problem(st: dict) -> str | None:
    """What in the daemon's status ``st`` is not of the shape the text reads (:data:`LISTENING`, or
    :data:`STARTING`), in one phrase naming the field (``it lacks legs.caller.label``, ``its
    call.t is no number``); None when the text can be drawn."""
    return shape_problem(st, STARTING if st.get("starting") else LISTENING, "")


def shape_problem(value: object, shape: Shape, where: str) -> str | None:
    """What in ``value`` (at ``where``, a dotted path: "" for the whole) is not of ``shape``, or None.
    An optional object or list that is empty (or false) is as none: the text leaves it out."""
    if isinstance(shape, Obj):
        return _obj_problem(value, shape, where)
    if isinstance(shape, Each):
        if not isinstance(value, shape.of):
            return f"its {where} is no {'object' if shape.of is dict else 'list'}"
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        return next((p for key, item in items if (p := shape_problem(item, shape.shape, f"{where}.{key}"))), None)
    if not isinstance(value, shape):
        return f"its {where} is no {'number' if shape is NUMBER else 'text'}"
    return None


def _obj_problem(value: object, shape: Obj, where: str) -> str | None:
    if not isinstance(value, dict):
        return f"its {where} is no object"
    at = f"{where}." if where else ""
    if missing := [f"{at}{key}" for key in shape.needed if key not in value]:
        return f"it lacks {', '.join(missing)}"
    present = [(key, sub) for key, sub in shape.optional.items() if value.get(key) is not None
               and not (isinstance(sub, (Obj, Each)) and not value[key])]
    return next((p for key, sub in (*shape.needed.items(), *present)
                 if (p := shape_problem(value[key], sub, f"{at}{key}"))), None)
