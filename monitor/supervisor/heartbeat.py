"""What a heartbeat's ``status`` holds, as the console reads it (the daemon's
``Daemon.heartbeat_status``), and the check that refuses one the page and the store could not read.

Every field is optional and may be null: a daemon of an earlier release, or a partial status, says
less. A field that is there is of its kind, to the last list item and device (``"devices":
{"caller": null}`` or ``"active_alerts": "slow_speech"`` is refused), and a string, or a device's
leg name, no longer than its kind of text may be (:data:`NAME_CHARS`, :data:`LABEL_CHARS`,
:data:`LINE_CHARS`): the page draws them and the store keeps them. A call report's link is one a
daemon makes (:func:`report_link_problem`): the page shows it to the supervisor as the call's report.
A link of another kind is left out of the beat (:func:`without_refused_links`), the rest of it taken:
one bad link never makes a live agent silent on the page; :class:`LinkRefusals` says so in the log.
Fields the console does not read are kept as sent (the body's size bounds them).
"""

from __future__ import annotations

import collections
import ipaddress
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Union
from urllib.parse import urlsplit

from ..delivery.call_files import report_name
from ..delivery.machine import MACHINE_CHARS
from .limits import MAX_BUCKETS, SAY_EVERY_S

log = logging.getLogger("monitor.supervisor")


@dataclass(frozen=True)
class Leaf:
    """A value of one kind; ``what`` names it in the refusal."""

    what: str
    fits: Callable[[Any], bool]


@dataclass(frozen=True)
class Text:
    """A string of at most ``most`` characters."""

    most: int


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
    """An object of named entries of one shape (none null), each name at most ``most`` characters:
    the devices by leg."""

    entry: "Shape"
    most: int


MAX_NAME = 40
"""The longest entry name a refusal repeats as it was sent."""

NAME_CHARS = 100
"""The longest word of a status a daemon sends (a leg, a device's state, an alert kind, a problem's
level and source), as long as an alert's kind may be."""

LABEL_CHARS = 200
"""The longest device label (the sound server's name of a source), as long as an agent's name may be."""

LINE_CHARS = 2000
"""The longest line (the last problem's message and what resolved it, a report's link), as long as an
alert's message may be."""

Shape = Union[Leaf, Text, Fields, ListOf, ByName]

FLAG = Leaf("true or false", lambda v: isinstance(v, bool))
NAME, LABEL, LINE = Text(NAME_CHARS), Text(LABEL_CHARS), Text(LINE_CHARS)
NUMBER = Leaf("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
COUNT = Leaf("a non-negative integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0)

STATUS = Fields({
    "version": NAME, "stopped": FLAG, "devices_open": FLAG, "in_call": FLAG, "calls": COUNT, "alerts": COUNT,
    "uptime_s": NUMBER,
    "devices": ByName(Fields({"state": NAME, "label": LABEL}), NAME_CHARS),
    "call": Fields({"call_id": COUNT, "t": NUMBER, "started_at": NUMBER, "active_alerts": ListOf(NAME)}),
    "last_error": Fields({"level": NAME, "message": LINE, "at": NUMBER, "source": NAME, "resolved_at": NUMBER,
                          "resolved": LINE}),
    "transcription_off": LINE, "transcription_loading": FLAG, "next_beat_s": NUMBER,
    "reports": ListOf(Fields({"call_id": COUNT, "url": LINE})),
    "machine": Text(MACHINE_CHARS),
})
"""A heartbeat's status: the daemon's release (the number ``call-monitor --version`` says), devices
(each leg's state and label), whether it has stopped, whether its devices are open and a call runs
(the call's id, time, start and active alert kinds), counts, the last warning or error, why the
speech model is off (the daemon runs on acoustic cues alone until a restart; kept apart from the
last problem, which a later one replaces), whether its speech model still loads (acoustic-only until
then), within how many seconds its next heartbeat comes (the daemon's ``every_s``, or fewer while a
critical alert awaits its acknowledgement), links to call reports and the machine it runs on (a hash
of its machine id and account, :func:`~monitor.delivery.machine.machine_hash`: :func:`machine_of`)."""


def machine_of(status: Any, remote: str | None) -> str | None:
    """The machine a daemon's last heartbeat came from, as the page compares two daemons' (one agent
    name's daemon that stopped or fell silent is replaced by one posting from its machine): ``machine
    HASH``, the hash its ``status.machine`` tells; for a daemon of an earlier release, which tells none,
    ``address ADDRESS``, the client address ``remote`` (:func:`plain_address`), which desks behind
    one NAT share; None when neither is known (a machine of its own). A hash and an address are never
    the same machine: a daemon that tells none is not taken as replaced by one that does."""
    said = status.get("machine") if isinstance(status, dict) else None
    if isinstance(said, str) and said:
        return "machine " + said
    address = plain_address(remote)
    return None if address is None else "address " + address


def plain_address(remote: str | None) -> str | None:
    """A client address as one machine has it: an IPv4-mapped IPv6 one (``::ffff:10.0.4.17``, a
    dual-stack listener's) as its IPv4 address, an IPv6 one in its short form; another as given
    (None or "": None)."""
    if not remote:
        return None
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)


def status_problem(status: Any) -> str | None:
    """Why ``status`` (a heartbeat's) is none the console can show, in one phrase naming the field
    (``status.devices.caller: expected an object``), or None."""
    if not isinstance(status, dict):
        return "status: expected an object"
    return _problem(status, STATUS, "status")


@dataclass(frozen=True)
class RefusedLink:
    """A call report link of a heartbeat left out (no link a daemon makes), as the answer names it."""

    call_id: int
    url: str
    error: str
    """``status.reports[1].url: why`` (:func:`report_link_problem`)."""


def without_refused_links(status: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[RefusedLink, ...]]:
    """``status`` (of the shape :data:`STATUS`) with its report links no daemon makes left out, and those."""
    kept, refused = [], []
    for i, r in enumerate(status.get("reports") or []):
        problem = (report_link_problem(r["url"], r["call_id"])
                   if isinstance(r.get("call_id"), int) and r.get("url") is not None else None)
        if problem is None:
            kept.append(r)
        else:
            refused.append(RefusedLink(r["call_id"], r["url"], f"status.reports[{i}].url: {problem}"))
    if not refused:
        return dict(status), ()
    return {**status, "reports": kept}, tuple(refused)


def report_link_problem(url: str, call_id: int) -> str | None:
    """Why ``url`` is no link a daemon makes to call ``call_id``'s report (``run``'s ``report_link``:
    ``delivery.report_url_base`` plus the report's file name, or a ``file:///`` path on the agent's
    desktop), in one phrase, or None: an http(s) link with a host and no credentials, or a file link
    naming no host (one naming a host is a share of another machine, which a browser may log in to),
    without spaces or control characters, ending in the call's report's name."""
    name = "/" + report_name(call_id)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a link"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "a link holds no spaces or control characters"
    if parts.scheme == "file":  # in lower case, however the link writes it (HTTPS://, as a configuration may)
        if parts.netloc:
            return "a file link names no host (a daemon links its report as file:///PATH on its own desktop)"
    elif parts.scheme not in ("http", "https") or not url[len(parts.scheme):].startswith("://"):
        return "expected an http://, https:// or file:/// link to the call's report"
    elif not parts.hostname or "@" in parts.netloc:
        return "expected an http(s) link with a host and without credentials"
    if not url.endswith(name):
        return f"expected a link to call {call_id}'s report, ending in {name}"
    return None


class LinkRefusals:
    """Says the report links left out of an agent's heartbeats in the log: one warning line when they
    begin for an agent, then at most one every :data:`.limits.SAY_EVERY_S` with how many beats had
    one meanwhile, never once per beat. Remembers at most :data:`.limits.MAX_BUCKETS` agents (the
    least recently refused goes first). Used from the event loop only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._said: collections.OrderedDict[str, tuple[float, int]] = collections.OrderedDict()
        self._clock = clock

    def refused(self, agent: str, links: tuple[RefusedLink, ...]) -> None:
        """One heartbeat of ``agent`` had ``links`` left out (none: nothing to say)."""
        if not links:
            return
        now = self._clock()
        said_at, unsaid = self._said.pop(agent, (None, 0))
        if said_at is not None and now - said_at < SAY_EVERY_S:
            self._said[agent] = (said_at, unsaid + 1)
            return
        since = f"; {unsaid} more beats with one since the last line" if said_at is not None else ""
        log.warning("agent %r: heartbeat taken without %d call report link(s) no daemon makes (%s)%s",
                    agent, len(links), links[0].error, since)
        self._said[agent] = (now, 0)
        while len(self._said) > MAX_BUCKETS:
            self._said.popitem(last=False)


def _problem(value: Any, shape: Shape, path: str) -> str | None:
    """Why ``value`` at ``path`` is not of ``shape``, or None. Only an object's field may be null
    (not said); a null list item or named entry is of no shape."""
    if isinstance(shape, Leaf):
        return None if shape.fits(value) else f"{path}: expected {shape.what}"
    if isinstance(shape, Text):
        return _text_problem(value, shape.most, path)
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            return f"{path}: expected a list"
        return _first(_problem(v, shape.item, f"{path}[{i}]") for i, v in enumerate(value))
    if not isinstance(value, dict):
        return f"{path}: expected an object"
    if isinstance(shape, ByName):
        return _first(_text_problem(k, shape.most, f"{path}.{_named(k)}", "name") or
                      _problem(v, shape.entry, f"{path}.{_named(k)}") for k, v in value.items())
    return _first(_problem(value[k], s, f"{path}.{k}") for k, s in shape.fields.items() if value.get(k) is not None)


def _text_problem(value: Any, most: int, path: str, what: str = "string") -> str | None:
    """Why ``value`` at ``path`` is no string of at most ``most`` characters (its length said, not
    its text), or None."""
    if not isinstance(value, str):
        return f"{path}: expected a string"
    if len(value) > most:
        return f"{path}: the {what} has {len(value)} characters; expected at most {most}"
    return None


def _named(key: str) -> str:
    """An entry's name in the refusal's one line: as sent, or quoted (its newlines escaped) and cut."""
    return key if key.isidentifier() and len(key) <= MAX_NAME else json.dumps(key[:MAX_NAME])


def _first(problems: Iterator[str | None]) -> str | None:
    return next((p for p in problems if p is not None), None)
