"""The console's ASGI application (Starlette), served by uvicorn.

Routes:

- ``POST /webhook``: what daemons post (``call-monitor run --webhook URL``): an ``alert``
  (stored, de-duplicated by daemon, alert id and call start, before the answer), a ``heartbeat``, or an
  ``agent_word`` (the agent's word on one of its alerts, kept beside it; 409 for an alert not here). Bearer
  token: the shared one or the agent's own (which may post only as that agent, under no daemon id the
  console knows as another agent's). A heartbeat's answer
  carries ``acks``, the acknowledgements of that daemon's alerts it has not taken yet (:mod:`monitor.delivery.acks`).
- ``GET /``: the live page. ``/?token=TOKEN`` sets the session cookie and redirects to ``/`` (with
  the rest of the query, the page's ``?agent=``);
  without a token or cookie a 401 page asks for the token in a sign-in form.
- ``POST /login``: that form (``token=TOKEN``, form-encoded): the shared token sets the session cookie
  and redirects to ``/``; a wrong one is the form again, 401. Wrong tokens, here and in ``/?token=``,
  are counted per client address (:class:`.limits.SignInLimits`): past the limit, 429 with ``Retry-After``,
  said in a line per address a minute at most, not one per request.
- ``GET /events``: Server-Sent Events: ``state`` (everything, on connect), then ``alert``,
  ``ack``, ``agent``, ``report``, ``forget`` (an agent forgotten) and ``settings`` (a reload's
  ``silent_after_s`` and ``retention_days``) as they happen.
- ``GET /api/state``, ``GET /api/alerts?before=ID&limit=N&acked=true`` (a page of older alerts; with
  ``order=acked``, of the acknowledged ones, the latest acknowledged first, as the state lists them,
  ``before`` with its ``acked_at`` beside it),
  ``POST /api/alerts/{id}/ack`` (``{"by": NAME}``), ``GET /api/outcomes?since=UNIX&until=UNIX`` (the agents'
  words on the live calls' alerts summed up, :mod:`monitor.delivery.outcomes`), ``POST /api/agents/forget``
  (``{"agent": NAME}``: left out of the agents until it posts again, its alerts kept): for the page
  and API clients.

Every request but the 401 page and the sign-in form's post needs the token (or the session cookie); a refused request is
logged with its method, path and peer, never with its body or query. An agent posting alerts, or
heartbeats, faster than ``agent_posts_per_s`` past ``agent_post_burst`` gets 429 with
``Retry-After`` (:mod:`.limits`), said in a line per agent a minute at most. Bodies over
``max_body_bytes`` get 413, bad JSON or a query not taken 400, a well-formed but wrong body 422. A request the database
fails (a full disk, a lock held elsewhere) gets 503 with the reason, and the failure is logged in
one line when it begins, changes or ends (:class:`DatabaseHealth`), not once per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import math
import re
import secrets
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Literal, Mapping, cast, overload
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ..delivery.sinks.webhook import (AGENT_MISMATCH, AGENT_TOKEN_POSTS_ONLY, DAEMON_ID_TAKEN, MISSING_TOKEN,
                                      WRONG_SCHEME, WRONG_TOKEN, Refusal)
from ..config.listen import host_of, is_loopback
from ..delivery.acks import taken_of
from ..delivery.outcomes import summary_dict
from ..delivery.store_rows import ID_MAX, whole_number
from .acks import AckNews
from .connections import REQUEST_S
from .auth import SESSION_COOKIE, SESSION_S, Auth, Principal, scheme_named, split_authorization
from .heartbeat import LINE_CHARS, NAME_CHARS, LinkRefusals, RefusedLink, status_problem, without_refused_links
from .limits import PostLimits, SignInLimits
from .store import AmbiguousDaemon, ConsoleStore, DaemonIdTaken, Heartbeat, IncomingAlert, IncomingWord
from ..delivery.words import NOTE_CHARS, WORDS, said
from ..json_text import TooDeep, json_value

log = logging.getLogger("monitor.supervisor")

KEEPALIVE_S = 15.0
PURGE_EVERY_S = 3600.0
"""How often the console deletes what ``retention_days`` no longer keeps (and once as it starts)."""
CLIENT_QUEUE = 2000
"""A page that falls this many events behind is disconnected (its EventSource reconnects and
gets the whole state again)."""
CROSS_ORIGIN = Refusal(403, "cross_origin", "")
"""A browser's request sent by a page of another origin (another site's, or another port's of this
host, which browsers send this console's cookie from) with the session cookie: refused whatever it
asks (an acknowledgement made in the supervisor's name)."""
SIGN_INS_PAUSED = Refusal(429, "sign_ins_paused", "")
"""A sign-in from a client address that gave too many wrong tokens (:class:`.limits.SignInLimits`)."""
FORM_TYPE = "application/x-www-form-urlencoded"
"""How the sign-in form posts its token."""
RECORDING_CHARS = 1000
"""The longest ``recording`` (or ``agent_recording``) an alert may name (a file name is at most 255
bytes; a path sent by another program, 1000 characters)."""
MAX_ACK_NAME = 80
"""The longest name an acknowledgement takes (``{"by": NAME}``; the page's field as long)."""


def ack_name_problem(by: Any) -> str | None:
    """Why ``by``, an acknowledgement's body's ``"by"``, is no name to store (one phrase for the
    422, naming the field), or None."""
    if not isinstance(by, str):
        return f"by: expected a name of at most {MAX_ACK_NAME} characters"
    if not by.strip():
        return f"by: the name is empty; expected the name of who acknowledges, at most {MAX_ACK_NAME} characters"
    if len(by) > MAX_ACK_NAME:
        return f"by: the name has {len(by)} characters; expected at most {MAX_ACK_NAME}"
    return None


@dataclass(frozen=True)
class ConsoleSettings:
    max_body_bytes: int = 65536
    silent_after_s: float = 90.0
    secure_cookie: bool = False
    retention_days: float = 30.0
    """Alerts received longer ago, and agents last heard from before then, are deleted (0: none)."""
    public_origin: str = ""
    """The origin browsers open the console at through a proxy that ends TLS (``supervisor.public_url``);
    "": the console's own address."""
    agent_posts_per_s: float = 1.0
    agent_post_burst: int = 600
    """Each agent's posts of a kind: refilled at this rate, at most this many at once (:class:`PostLimits`)."""


# --------------------------------------------------------------------------- live updates


@dataclass(eq=False)
class _Client:
    queue: "asyncio.Queue[str | None]" = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))


class Hub:
    """The open event streams; :meth:`publish` hands one SSE message to each (from the event loop)."""

    def __init__(self) -> None:
        self._clients: set[_Client] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._clients)

    def subscribe(self) -> _Client:
        """A new stream's queue; once the hub is closed (the console stopping), one that holds only
        the end, so a stream being opened as it stops ends at once too."""
        c = _Client()
        if self._closed:
            c.queue.put_nowait(None)
        else:
            self._clients.add(c)
        return c

    def unsubscribe(self, c: _Client) -> None:
        self._clients.discard(c)

    def publish(self, event: str, data: Any) -> None:
        msg = sse(event, data)
        for c in list(self._clients):
            try:
                c.queue.put_nowait(msg)
            except asyncio.QueueFull:  # too slow: drop it, its browser reconnects
                self._clients.discard(c)
                c.queue = asyncio.Queue(1)
                c.queue.put_nowait(None)

    def close(self) -> None:
        """End every open stream, after what it has queued. The end goes into the queue its stream
        waits on (a new queue would be read only after the next keepalive), a full one replaced."""
        for c in list(self._clients):
            try:
                c.queue.put_nowait(None)
            except asyncio.QueueFull:
                c.queue = asyncio.Queue(1)
                c.queue.put_nowait(None)
        self._clients.clear()
        self._closed = True


def sse(event: str, data: Any) -> str:
    """One Server-Sent Events message (``data`` as one line of JSON)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


# --------------------------------------------------------------------------- validation


class BadBody(ValueError):
    """A well-formed JSON body that is not a valid alert or heartbeat (422)."""


def _not_json(constant: str) -> Any:
    """Python's json reads NaN and Infinity, which JSON does not have (a daemon sends null): a
    stored one would break every answer the console gives with the alert."""
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent; one beyond a double (``1e400``) is refused."""
    if not math.isfinite(value := float(text)):
        raise ValueError(f"{text[:20]} is beyond the numbers JSON exchanges")
    return value


def _exact(text: str) -> int:
    """A JSON integer; one beyond what SQLite stores, :data:`~monitor.delivery.store_rows.ID_MAX`, is
    refused (no id, time or count is that big; a daemon's ids of alerts it could not store are near 2**62)."""
    if len(text) > 20 or abs(value := int(text)) > ID_MAX:
        raise ValueError(f"{text[:20]} is beyond the numbers JSON exchanges")
    return value


MAX_DEPTH = 16
"""The deepest nesting of objects and lists a body may have (a daemon's goes 5 deep): one deeper is
refused as malformed, before it is stored, where every answer that words its evidence would fail on it."""


def _deeper_than(value: Any, most: int) -> bool:
    """Whether ``value`` nests objects and lists more than ``most`` deep (walked without recursion)."""
    level = [value]
    for _ in range(most):
        level = [x for v in level if isinstance(v, (dict, list))
                 for x in (v.values() if isinstance(v, dict) else v)]
    return any(isinstance(v, (dict, list)) for v in level)


def _lone_surrogate(value: Any) -> str | None:
    """The first half of a UTF-16 pair that a string of ``value`` (a parsed body: its keys too) holds
    alone, or None. JSON may escape one (``"\\ud800"``); Python reads it into a string that UTF-8,
    and so the database and every answer, cannot encode."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        return str(err.object[err.start])
    return None


def _text(d: Mapping[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    v = d.get(key)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or not v.strip() or len(v) > limit:
        raise BadBody(f"{key}: expected a non-empty string of at most {limit} characters")
    return v.strip()


@overload
def _number(d: Mapping[str, Any], key: str, *, required: Literal[True]) -> float: ...
@overload
def _number(d: Mapping[str, Any], key: str, *, required: bool = False) -> float | None: ...
def _number(d: Mapping[str, Any], key: str, *, required: bool = False) -> float | None:
    v = d.get(key)
    if v is None and not required:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise BadBody(f"{key}: expected a number")
    return float(v)


@overload
def _int(d: Mapping[str, Any], key: str, *, required: Literal[True]) -> int: ...
@overload
def _int(d: Mapping[str, Any], key: str, *, required: bool = False) -> int | None: ...
def _int(d: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    v = d.get(key)
    if v is None and not required:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise BadBody(f"{key}: expected a non-negative integer")
    return v


def parse_alert(d: Mapping[str, Any]) -> IncomingAlert:
    """The fields of a webhook alert the console keeps; raises BadBody."""
    severity = d.get("severity")
    if severity not in ("warning", "critical"):
        raise BadBody("severity: expected \"warning\" or \"critical\"")
    evidence = d.get("evidence", {})
    actions = d.get("actions", [])
    if not isinstance(evidence, dict):
        raise BadBody("evidence: expected an object")
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise BadBody("actions: expected a list of strings")
    return IncomingAlert(daemon_id=_text(d, "daemon_id", limit=100), alert_id=_int(d, "alert_id", required=True),
                         agent=_text(d, "agent", limit=200), kind=_text(d, "kind", limit=NAME_CHARS), severity=severity,
                         message=_text(d, "message", limit=LINE_CHARS), t=_number(d, "t", required=True),
                         evidence=evidence, actions=tuple(actions), call_id=_int(d, "call_id"),
                         call_started_at=_number(d, "call_started_at"), at=_number(d, "at"),
                         recording=_text(d, "recording", limit=RECORDING_CHARS, required=False) or None,
                         agent_recording=_text(d, "agent_recording", limit=RECORDING_CHARS, required=False) or None)


def parse_word(d: Mapping[str, Any]) -> IncomingWord:
    """The agent's word on an alert (``agent_word``: :func:`~monitor.delivery.words.word_payload`); raises BadBody."""
    word = d.get("word")
    if word not in WORDS:
        raise BadBody(f"word: expected one of {', '.join(WORDS)}")
    return IncomingWord(daemon_id=_text(d, "daemon_id", limit=100), alert_id=_int(d, "alert_id", required=True),
                        agent=_text(d, "agent", limit=200), word=word,
                        note="" if d.get("note") == "" else _text(d, "note", limit=NOTE_CHARS, required=False),
                        said_at=_number(d, "said_at", required=True),
                        call_started_at=_number(d, "call_started_at"))


def parse_heartbeat(d: Mapping[str, Any]) -> tuple[Heartbeat, tuple[RefusedLink, ...]]:
    """A heartbeat's sender and status (of the shape :data:`.heartbeat.STATUS`; raises BadBody), and
    its call report links no daemon makes (:func:`.heartbeat.report_link_problem`), left out of it."""
    if problem := status_problem(d.get("status")):
        raise BadBody(problem)
    status, refused = without_refused_links(d["status"])
    reports = [(r["call_id"], r["url"]) for r in status.get("reports") or []
               if isinstance(r.get("call_id"), int) and isinstance(r.get("url"), str)]
    hb = Heartbeat(daemon_id=_text(d, "daemon_id", limit=100), agent=_text(d, "agent", limit=200),
                   every_s=_number(d, "every_s"), status=status, reports=tuple(reports), acks_taken=taken_of(d))
    return hb, refused


# --------------------------------------------------------------------------- a page of alerts asked for


PAGE_MOST = 500
"""The most alerts ``GET /api/alerts`` answers at once (``limit``)."""
PAGE_USUAL = 50
"""Its ``limit`` when none is given."""
PAGE_PARAMETERS = ("before", "acked_at", "limit", "acked", "order")


OUTCOME_PARAMETERS = ("since", "until")
"""What ``GET /api/outcomes`` takes: the period, in unix seconds."""


class BadQuery(ValueError):
    """A query ``GET /api/alerts`` or ``GET /api/outcomes`` does not take (400), in one phrase naming the parameter."""


def _whole(text: str, name: str, least: int, most: int) -> int:
    number = whole_number(text, least, most)
    if number is None:
        raise BadQuery(f"{name}: expected a whole number from {least} to {most}, got {text[:20]!r}")
    return number


@dataclass(frozen=True)
class PageAsked:
    """A query of ``GET /api/alerts``."""

    before: int | None
    """The page's alerts come after this alert in the order asked for (None: from the first)."""
    limit: int
    acked: bool | None
    """True: acknowledged alerts only; False: open ones only; None: both."""
    by_ack: bool = False
    """``order=acked``: the acknowledged alerts only, the latest acknowledged first, as the console's state
    lists them (:meth:`ConsoleStore.acked_before`); else the latest received first (by console id)."""
    acked_at: float | None = None
    """With ``order=acked``, when alert ``before`` was acknowledged (unix seconds, as the state gives it):
    the page's place without looking that alert up, which the retention may have deleted (None: looked up)."""


def page_asked(items: list[tuple[str, str]]) -> PageAsked:
    """``before`` (None: from the latest), ``acked_at``, ``limit``, ``acked`` (None: open and acknowledged
    alike) and ``order`` of a query of ``GET /api/alerts``; raises BadQuery for a parameter it does not take,
    one given twice, a value out of bounds, ``order=acked`` with ``acked=false``, or ``acked_at`` that is
    no time, or without ``before`` and ``order=acked``."""
    asked = _given_once(items, PAGE_PARAMETERS)
    before = _whole(asked["before"], "before", 1, ID_MAX) if "before" in asked else None
    limit = _whole(asked["limit"], "limit", 1, PAGE_MOST) if "limit" in asked else PAGE_USUAL
    if asked.get("acked", "true") not in ("true", "false"):
        raise BadQuery(f"acked: expected true or false, got {asked['acked'][:20]!r}")
    if asked.get("order", "received") not in ("received", "acked"):
        raise BadQuery(f"order: expected received or acked, got {asked['order'][:20]!r}")
    by_ack = asked.get("order") == "acked"
    if by_ack and asked.get("acked") == "false":
        raise BadQuery("order: acked lists the acknowledged alerts only, which acked=false leaves out")
    acked_at = _unix_time(asked["acked_at"], "acked_at") if "acked_at" in asked else None
    if acked_at is not None and not (by_ack and before is not None):
        raise BadQuery("acked_at: only with order=acked and before, as the time that alert was acknowledged")
    return PageAsked(before, limit, (asked["acked"] == "true") if "acked" in asked else by_ack or None, by_ack,
                     acked_at)


def _given_once(items: list[tuple[str, str]], taken: tuple[str, ...]) -> dict[str, str]:
    """The parameters of a query, by name; raises BadQuery for one not ``taken`` or one given twice."""
    asked: dict[str, str] = {}
    for name, value in items:
        if name not in taken:
            raise BadQuery(f"{name[:40]}: no such parameter; expected {', '.join(taken)}")
        if name in asked:
            raise BadQuery(f"{name}: given twice")
        asked[name] = value
    return asked


def outcomes_asked(items: list[tuple[str, str]]) -> tuple[float | None, float | None]:
    """``since`` and ``until`` (unix seconds; None: no bound) of a query of ``GET /api/outcomes``;
    raises BadQuery for a parameter it does not take, one given twice, a time that is no number of
    unix seconds, or an ``until`` not after ``since``."""
    asked = _given_once(items, OUTCOME_PARAMETERS)
    since, until = (_unix_time(asked[n], n) if n in asked else None for n in OUTCOME_PARAMETERS)
    if since is not None and until is not None and until <= since:
        raise BadQuery(f"until: {asked['until'][:20]!r} is not after since {asked['since'][:20]!r}")
    return since, until


PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
"""A number as a query writes one: ASCII digits, a fraction and an exponent if any (``1765000000.5``),
not the rest Python's float() reads (``1_000``, spaces around it, a sign, ``inf``, ``1.``)."""


def _unix_time(text: str, name: str) -> float:
    value = float(text) if PLAIN_NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(value):
        raise BadQuery(f"{name}: expected a time in unix seconds (a number, 0 or more), got {text[:20]!r}")
    return value


# --------------------------------------------------------------------------- the database failing


class DatabaseFailed(Exception):
    """The database failed a request's reading or writing; the words are SQLite's reason."""


class DatabaseHealth:
    """Says the console database's failures in the log without a line per request: one error line
    when a failure begins or its reason changes, one line when the database works again. Used from
    the event loop only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None  # the failure said last; None while the database works

    def failed(self, err: sqlite3.Error) -> DatabaseFailed:
        problem = " ".join(str(err).split()) or type(err).__name__
        if problem != self.problem:
            log.error("database %s: %s; the console answers 503 until it works again (daemons keep their alerts "
                      "and post them again)", self.path, problem)
        self.problem = problem
        return DatabaseFailed(problem)

    def worked(self) -> None:
        if self.problem is not None:
            log.warning("database %s works again (it failed: %s)", self.path, self.problem)
            self.problem = None


# --------------------------------------------------------------------------- the application


class Console:
    """Request handlers around one store, one token set and one hub."""

    def __init__(self, store: ConsoleStore, auth: Auth, settings: ConsoleSettings = ConsoleSettings()) -> None:
        self.store, self.auth, self.settings = store, auth, settings
        self.hub = Hub()
        self.health = DatabaseHealth(store.path)
        self.acks = AckNews()
        self.limits = PostLimits()
        self.sign_ins = SignInLimits()
        self.link_refusals = LinkRefusals()
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, once it runs (:func:`_lifespan`)
        self.page = resources.files("monitor").joinpath("data/supervisor.html").read_text(encoding="utf-8")
        self.signin_page = resources.files("monitor").joinpath("data/signin.html").read_text(encoding="utf-8")

    def reconfigure(self, auth: Auth, settings: ConsoleSettings) -> None:
        """A reloaded configuration: its tokens and settings serve the requests from now on (the
        sessions a changed shared token signed end); a changed ``silent_after_s`` or ``retention_days`` goes
        to the open pages too, as a ``settings`` event (from the reload's thread, through the server's loop)."""
        before = self.settings
        self.auth, self.settings = auth, settings
        if self.loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the console is stopping
            if (settings.silent_after_s, settings.retention_days) != (before.silent_after_s, before.retention_days):
                self.loop.call_soon_threadsafe(self.hub.publish, "settings", self.page_settings())
            if settings.retention_days != before.retention_days:
                asyncio.run_coroutine_threadsafe(self.purge(), self.loop)

    async def keep_purging(self) -> None:
        """:meth:`purge` now and every :data:`PURGE_EVERY_S` (a task of the server's loop)."""
        while True:
            await self.purge()
            await asyncio.sleep(PURGE_EVERY_S)

    async def purge(self) -> None:
        """Delete what ``retention_days`` no longer keeps, said in one line; the open pages get the
        state without it. A failing database is said by :attr:`health`, and tried again next time."""
        days = self.settings.retention_days
        if days <= 0:
            return
        try:
            alerts, agents = await self._stored(self.store.purge, time.time() - days * 86400.0)
            if alerts or agents:
                log.info("retention (%g days): %d alert(s) and %d agent(s) deleted (supervisor.retention_days; "
                         "0 keeps everything)", days, alerts, agents)
                self.hub.publish("state", await self._stored(self.snapshot, writes=False))
        except DatabaseFailed:
            pass

    # ---------------------------------------------------------------- auth helpers

    def _refuse(self, request: Request, why: str, refusal: Refusal | int) -> JSONResponse:
        """The refusal ``{"error": why}``, logged: a token's (401, 403) as its :class:`Refusal`, with
        its ``"code"`` beside the words; a request's body or type (400, 413, 415, 422) by its status."""
        status, code = (refusal.status, refusal.code) if isinstance(refusal, Refusal) else (refusal, None)
        self._log_refusal(request, status, why)
        challenge = refusal.challenge if isinstance(refusal, Refusal) else ""
        headers = {"WWW-Authenticate": challenge} if challenge else None
        said = {"error": why} if code is None else {"error": why, "code": code}
        return JSONResponse(said, status_code=status, headers=headers)

    @staticmethod
    def _log_refusal(request: Request, status: int, why: str) -> None:
        peer = request.client.host if request.client else "?"
        log.warning("%d %s %s from %s: %s", status, request.method, request.url.path, peer, why)

    def _no_token(self, request: Request) -> JSONResponse:
        """The refusal of a request whose token is none of the console's, that has none, or whose
        ``Authorization`` is of another scheme than Bearer (``curl -u``, a proxy's Basic)."""
        scheme, token = split_authorization(request.headers.get("authorization"))
        if scheme and scheme.lower() != "bearer":
            return self._refuse(request, f"{scheme_named(scheme)} authorization is not read here: this console "
                                         f"expects its token as 'Authorization: Bearer TOKEN'", WRONG_SCHEME)
        if not token:
            return self._refuse(request, "missing token" + (" after 'Bearer'" if scheme else ""), MISSING_TOKEN)
        return self._refuse(request, "wrong token: none of this console's", WRONG_TOKEN)

    def _not_this_agent(self, request: Request, principal: Principal) -> JSONResponse:
        """The refusal of an agent's token posting as another agent (a daemon reads its ``code``)."""
        return self._refuse(request, f"this token may post only as agent {principal.name!r}", AGENT_MISMATCH)

    def _supervisor(self, request: Request) -> bool:
        """A supervisor's request: the session cookie or the shared token as bearer."""
        if self.auth.check_session(request.cookies.get(SESSION_COOKIE)):
            return True
        p = self.auth.bearer(request.headers.get("authorization"))
        return p is not None and p.supervisor

    def _not_a_supervisor(self, request: Request) -> JSONResponse | None:
        """The refusal of a request that is no supervisor's, saying why (no token, a wrong one, an
        agent's own, which only posts, a page of another origin sending the session cookie); None for
        a supervisor's."""
        header = request.headers.get("authorization")
        if self.auth.bearer(header) is None and from_another_origin(request, self.settings.public_origin):
            return self._refuse(request, "a request from a page of another origin than this console's is refused "
                                         "(its session cookie is this console's page's only)", CROSS_ORIGIN)
        if self._supervisor(request):
            return None
        p = self.auth.bearer(header)
        if p is not None:
            return self._refuse(request, f"this token belongs to agent {p.name!r} and only posts alerts and "
                                         f"heartbeats: reading, acknowledging and forgetting an agent need the "
                                         f"console's shared token",
                                AGENT_TOKEN_POSTS_ONLY)
        return self._no_token(request)

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise HTTPException(413, f"body over {limit} bytes")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise HTTPException(413, f"body over {limit} bytes")
        except ClientDisconnect:  # it went, or sent too slowly (:mod:`.connections`): nobody reads the answer
            raise HTTPException(400, f"the body ended after {len(body)} bytes: the client went before it "
                                     f"sent it whole, or took over {REQUEST_S:g} s") from None
        return bytes(body)

    async def _json(self, request: Request) -> Any:
        try:
            body = await self._body(request)
        except HTTPException as err:
            raise HTTPException(err.status_code, err.detail) from None
        too_deep = HTTPException(400, f"malformed JSON (nested more than {MAX_DEPTH} deep)")
        try:
            value = json_value(body, parse_constant=_not_json, parse_float=_finite, parse_int=_exact)
        except TooDeep:
            raise too_deep from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise HTTPException(400, "malformed JSON") from None
        except ValueError as err:
            raise HTTPException(400, f"malformed JSON ({err})") from None
        if _deeper_than(value, MAX_DEPTH):
            raise too_deep
        if (half := _lone_surrogate(value)) is not None:
            raise HTTPException(400, f"malformed JSON (a string holds \\u{ord(half):04x}, half of a UTF-16 pair "
                                     f"alone: no character, so not text)")
        return value

    # ---------------------------------------------------------------- the database

    async def _stored(self, work: Any, *args: Any, writes: bool = True) -> Any:
        """``work(*args)`` (a use of the store) in a worker thread; raises :class:`DatabaseFailed`
        (said by :attr:`health`) when SQLite fails it. Only a write that succeeds says the database
        works again: reading works on a full disk."""
        try:
            result = await run_in_threadpool(work, *args)
        except sqlite3.Error as err:
            raise self.health.failed(err) from None
        if writes:
            self.health.worked()
        return result

    async def not_served(self, request: Request, exc: Exception) -> Response:
        """The answer to a request no route takes (404: no such path; 405: not that method, with its
        ``Allow``): its reason as ``{"error": ...}``, as every other refusal, for a script to read."""
        assert isinstance(exc, HTTPException)
        path, allow = request.url.path[:200], (exc.headers or {}).get("Allow", "")
        said = {404: f"nothing is served at {path} (the API: /api/state, /api/alerts, /api/alerts/ID/ack, "
                     f"/api/outcomes, /api/agents/forget; daemons post to /webhook)",
                405: f"{request.method[:20]} is not taken at {path}; it takes {allow}"}.get(exc.status_code, exc.detail)
        return JSONResponse({"error": said}, status_code=exc.status_code, headers=exc.headers)

    async def database_failed(self, request: Request, exc: Exception) -> JSONResponse:
        """The answer to a request the database failed: 503 with the reason (a daemon keeps its
        alert and posts it again); logged by :attr:`health`, not once per request."""
        return JSONResponse({"error": f"the console's database failed ({exc}); try again later"},
                            status_code=503)

    # ---------------------------------------------------------------- webhook

    async def webhook(self, request: Request) -> Response:
        principal = self.auth.bearer(request.headers.get("authorization"))
        if principal is None:
            return self._no_token(request)
        try:
            body = await self._json(request)
        except HTTPException as err:
            return self._refuse(request, err.detail, err.status_code)
        if not isinstance(body, dict):
            return self._refuse(request, "expected a JSON object", 400)
        kind = body.get("type")
        try:
            if kind == "alert":
                return await self._alert(request, principal, parse_alert(body))
            if kind == "heartbeat":
                return await self._heartbeat(request, principal, *parse_heartbeat(body))
            if kind == "agent_word":
                return await self._word(request, principal, parse_word(body))
            raise BadBody(f"type: expected \"alert\", \"heartbeat\" or \"agent_word\", got {kind!r}")
        except BadBody as err:
            return self._refuse(request, str(err), 422)

    def _may_post_as(self, principal: Principal, agent: str) -> bool:
        return principal.supervisor or principal.name == agent

    def _too_fast(self, kind: str, agent: str) -> JSONResponse | None:
        """The refusal (429, ``Retry-After``) of ``agent``'s post of ``kind`` when it posts those faster
        than ``agent_posts_per_s`` allows past ``agent_post_burst`` (said by :attr:`limits`, not once per
        request), or None."""
        rate, burst = self.settings.agent_posts_per_s, self.settings.agent_post_burst
        wait = self.limits.take(kind, agent, rate, burst)
        if wait is None:
            return None
        return JSONResponse({"error": f"agent {agent!r} posts {kind}s faster than this console takes them ({rate:g} a "
                                      f"second, {burst} at once): post again in {wait} s"},
                            status_code=429, headers={"Retry-After": str(wait)})

    def _daemon_id_taken(self, request: Request, principal: Principal, daemon_id: str) -> JSONResponse:
        """The refusal of an agent's own token posting under a daemon id the console knows as another
        agent's (:class:`DaemonIdTaken`: it would take over that daemon's row and acknowledgements)."""
        return self._refuse(request, f"daemon id {daemon_id} is another agent's at this console (a database copied "
                                     f"from another desktop): the token of agent {principal.name!r} may not post "
                                     f"under it", DAEMON_ID_TAKEN)

    async def _alert(self, request: Request, principal: Principal, alert: IncomingAlert) -> Response:
        if not self._may_post_as(principal, alert.agent):
            return self._not_this_agent(request, principal)
        if (refused := self._too_fast("alert", alert.agent)) is not None:
            return refused
        try:
            row, new = await self._stored(partial(self.store.add_alert, alert, own_id_only=not principal.supervisor))
        except DaemonIdTaken:
            return self._daemon_id_taken(request, principal, alert.daemon_id)
        if not new and row["call_id"] is None and alert.call_id is not None:  # posted first without its call
            filled = await self._stored(self.store.fill_call, row["id"], alert)
            if filled is not None:
                row = filled
                self.hub.publish("alert", row)
        if new:
            self.hub.publish("alert", row)
            log.info("alert %s (%s) from %s (daemon %s), call %s", row["id"], row["kind"], row["agent"], row["daemon_id"],
                     row["call_id"])  # the daemon: two desktops' agents may share a name, and each numbers its calls
        return JSONResponse({"id": row["id"], "stored": "new" if new else "duplicate"},
                            status_code=201 if new else 200)

    async def _word(self, request: Request, principal: Principal, word: IncomingWord) -> Response:
        """The agent's word on one of its daemon's alerts, kept beside it (409 for an alert the console
        does not have, which the daemon takes as final: the word is not deliverable, not posted again)."""
        if not self._may_post_as(principal, word.agent):
            return self._not_this_agent(request, principal)
        if (refused := self._too_fast("agent_word", word.agent)) is not None:
            return refused
        try:
            row = await self._stored(partial(self.store.set_word, word, own_id_only=not principal.supervisor))
        except DaemonIdTaken:
            return self._daemon_id_taken(request, principal, word.daemon_id)
        if row is None:
            return JSONResponse({"error": f"no alert {word.alert_id} of daemon {word.daemon_id} here",
                                 "code": "unknown_alert"}, status_code=409)
        self.hub.publish("alert", row)
        log.info("alert %s: the agent %s says %s", row["id"], row["agent"], said(str(row["agent_word"])))
        return JSONResponse({"id": row["id"], "agent_word": row["agent_word"], "agent_word_at": row["agent_word_at"]})

    async def _heartbeat(self, request: Request, principal: Principal, hb: Heartbeat,
                         refused_links: tuple[RefusedLink, ...] = ()) -> Response:
        """Take the beat, its report links no daemon makes left out: named in the answer
        (``refused_reports``) and said in the log (:class:`.heartbeat.LinkRefusals`)."""
        if not self._may_post_as(principal, hb.agent):
            return self._not_this_agent(request, principal)
        if (refused := self._too_fast("heartbeat", hb.agent)) is not None:
            return refused
        peer = request.client.host if request.client else None
        for moved in await self._stored(self.store.heard_later, writes=False):  # the console's clock stepped back
            self.hub.publish("agent", moved)
        try:
            agent, reports = await self._stored(partial(self.store.heartbeat, hb, peer,
                                                        own_id_only=not principal.supervisor))
        except DaemonIdTaken:
            return self._daemon_id_taken(request, principal, hb.daemon_id)
        self.hub.publish("agent", agent)
        for r in reports:
            self.hub.publish("report", r)
        acked = await self._stored(self.store.acks_of, hb.daemon_id, AckNews.since(), writes=False)
        told = self.acks.untold(hb.daemon_id, acked, hb.acks_taken)
        self.link_refusals.refused(hb.agent, refused_links)
        refusals = [asdict(r) for r in refused_links]
        return JSONResponse({"ok": True, **({"acks": told} if told else {}),
                             **({"refused_reports": refusals} if refusals else {})})

    # ---------------------------------------------------------------- page

    async def index(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None:
            return await self._signed_in(request, token, "in the address")
        if not self._supervisor(request):
            self._log_refusal(request, MISSING_TOKEN.status, "no token or session")
            return self._login_page(request, "This console needs its token.", MISSING_TOKEN)
        nonce = secrets.token_urlsafe(16)
        page = self.page.replace("{{nonce}}", nonce)
        return HTMLResponse(page, headers=_page_headers(nonce))

    async def login(self, request: Request) -> Response:
        """The sign-in form's post (``token=TOKEN``, form-encoded), as ``/?token=`` but with the token
        kept out of the address: refused when another origin's page sends it (a sign-in into
        another's session) or it is not form-encoded."""
        if from_another_origin(request, self.settings.public_origin):
            return self._refuse(request, "a sign-in from a page of another origin than this console's is refused",
                                CROSS_ORIGIN)
        if not request.headers.get("content-type", "").startswith(FORM_TYPE):
            return self._refuse(request, f"expected the token as {FORM_TYPE}", 415)
        try:
            body = await self._body(request)
        except HTTPException as err:
            return self._refuse(request, err.detail, err.status_code)
        given = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0]
        return await self._signed_in(request, given, "in the sign-in form")

    async def _signed_in(self, request: Request, token: str, where: str) -> Response:
        """The answer to ``token`` given to sign in (``where``: how, for the log): the shared token
        sets the session cookie and redirects (303) to the page, with the query but the token (the
        page's ``?agent=``); another is the sign-in form again, saying why, and counted against its
        client address (:attr:`sign_ins`), whose sign-ins past the limit are refused (429)."""
        peer = request.client.host if request.client else "?"
        if (wait := self.sign_ins.wait(peer)) is not None:  # said by sign_ins, once a minute at most, not per request
            return self._login_page(request, f"Too many wrong tokens came from this address: try again in {wait} s.",
                                    SIGN_INS_PAUSED, wrong=True, headers={"Retry-After": str(wait)})
        p = self.auth.check(token)
        if p is None or not p.supervisor:
            self.sign_ins.failed(peer)
            return self._wrong_sign_in(request, p, where)
        rest = _query_but_token(request)
        resp = RedirectResponse("/?" + rest if rest else "/", status_code=303)
        resp.set_cookie(SESSION_COOKIE, self.auth.new_session(), max_age=int(SESSION_S), httponly=True,
                        samesite="strict", secure=self.settings.secure_cookie, path="/")
        return resp

    def _wrong_sign_in(self, request: Request, p: Principal | None, where: str) -> HTMLResponse:
        """The sign-in form again for a token that is none of the console's, or an agent's own."""
        said = "The token in this address" if where == "in the address" else "That token"
        if p is None:
            self._log_refusal(request, WRONG_TOKEN.status, f"wrong token {where}")
            return self._login_page(request, f"{said} is not this console's token.", WRONG_TOKEN, wrong=True)
        self._log_refusal(request, AGENT_TOKEN_POSTS_ONLY.status, f"agent {p.name!r}'s token {where}")
        return self._login_page(request, f"{said} is agent {html.escape(p.name)}'s own, which only posts that "
                                         f"agent's alerts: the page needs the console's shared token.",
                                AGENT_TOKEN_POSTS_ONLY, wrong=True)

    def _login_page(self, request: Request, why: str, refusal: Refusal, wrong: bool = False,
                    headers: Mapping[str, str] | None = None) -> HTMLResponse:
        """The sign-in form (``data/signin.html``) with ``why`` (HTML) as its message, as ``refusal``;
        the form posts the query of the page asked for (``?agent=``) on to the page."""
        nonce = secrets.token_urlsafe(16)
        rest = _query_but_token(request)
        page = self.signin_page
        for key, value in (("nonce", nonce), ("status", str(refusal.status)),
                           ("query", html.escape("?" + rest) if rest else ""), ("class", "wrong" if wrong else ""),
                           ("invalid", "aria-invalid=\"true\"" if wrong else ""), ("why", why)):  # why last: no key in it read
            page = page.replace("{{" + key + "}}", value)
        challenge = {"WWW-Authenticate": refusal.challenge} if refusal.challenge else {}
        return HTMLResponse(page, status_code=refusal.status,
                            headers={**_page_headers(nonce, form_action="'self'"), **challenge, **(headers or {})})

    async def state(self, request: Request) -> Response:
        if (refused := self._not_a_supervisor(request)) is not None:
            return refused
        return JSONResponse(await self._stored(self.snapshot, writes=False))

    def page_settings(self) -> dict[str, float]:
        """The settings the page reads: when an agent is silent, and how many days the console keeps
        (the periods its outcomes view offers; 0: every alert is kept)."""
        return {"silent_after_s": self.settings.silent_after_s, "retention_days": self.settings.retention_days}

    def snapshot(self) -> dict[str, Any]:
        """The console's state: every open critical alert, the newest :data:`.store.OPEN_WARNINGS_LISTED`
        open warnings (``open_warnings_left_out`` counts the older ones), the newest
        :data:`.store.ACKED_LISTED` acknowledged (``acked_total`` counts them all), the agents."""
        listing = self.store.listing()
        return {"now": time.time(), **self.page_settings(),
                "alerts": listing.alerts, "acked_total": listing.acked_total,
                "open_warnings_left_out": listing.open_warnings_left_out,
                "agents": self.store.agents(), "forgotten": self.store.forgotten()}

    async def alerts_page(self, request: Request) -> Response:
        """``GET /api/alerts?before=ID&limit=N&acked=true``: a page of alerts, older than alert ``ID``
        (by console id), the latest first (:meth:`ConsoleStore.alerts_before`), with whether more follow.
        With ``order=acked``, the acknowledged alerts acknowledged before alert ``ID`` was, the latest
        acknowledged first (:meth:`ConsoleStore.acked_before`): 404 when ``ID`` is no acknowledged alert
        the console keeps, unless ``acked_at`` gives when it was acknowledged."""
        if (refused := self._not_a_supervisor(request)) is not None:
            return refused
        try:
            q = page_asked(request.query_params.multi_items())
        except BadQuery as err:
            return self._refuse(request, str(err), 400)
        if not q.by_ack:
            page, more = await self._stored(self.store.alerts_before, q.before, q.limit, q.acked, writes=False)
        elif isinstance(found := await self._stored(self.store.acked_before, q.before, q.limit, q.acked_at,
                                                    writes=False), str):
            return JSONResponse({"error": f"before: {found}"}, status_code=404)
        else:
            page, more = found
        return JSONResponse({"alerts": page, "more": more})

    async def outcomes(self, request: Request) -> Response:
        """``GET /api/outcomes?since=UNIX&until=UNIX``: the agents' words on the live calls' alerts received
        in the period (:meth:`ConsoleStore.labelled`), summed up per agent (each daemon apart), kind and
        severity as ``call-monitor alerts --outcomes --jsonl`` sums them
        (:func:`monitor.delivery.outcomes.summary_dict`), without the call time (the console has no call
        durations)."""
        if (refused := self._not_a_supervisor(request)) is not None:
            return refused
        try:
            since, until = outcomes_asked(request.query_params.multi_items())
        except BadQuery as err:
            return self._refuse(request, str(err), 400)
        alerts, replayed = await self._stored(self.store.labelled, since, until, writes=False)
        return JSONResponse({"since": since, "until": until, **summary_dict(alerts, None, replayed)})

    async def events(self, request: Request) -> Response:
        if (refused := self._not_a_supervisor(request)) is not None:
            return refused
        client = self.hub.subscribe()
        try:
            snapshot = await self._stored(self.snapshot, writes=False)
        except DatabaseFailed:
            self.hub.unsubscribe(client)
            raise
        return StreamingResponse(self._stream(client, snapshot, lambda: self._supervisor(request)),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def _stream(self, client: _Client, snapshot: dict[str, Any],
                      still_allowed: Callable[[], bool]) -> AsyncIterator[str]:
        """The stream's messages while ``still_allowed()``: once the session it was opened with
        expired, or the token or session no longer opens the page (a reload changed the shared token),
        it ends before its next message, which the browser's reconnection is then refused."""
        try:
            yield "retry: 1000\n\n" + sse("state", snapshot)
            while True:
                try:
                    msg = await asyncio.wait_for(client.queue.get(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    msg = sse("tick", {"now": time.time()})
                if msg is None or not still_allowed():
                    return
                yield msg
        finally:
            self.hub.unsubscribe(client)

    async def _asked(self, request: Request) -> tuple[dict[str, Any], JSONResponse | None]:
        """A supervisor's action (an acknowledgement, an agent forgotten): its JSON object, or the
        refusal of a request that is no supervisor's, not sent as ``application/json`` (a form
        another site posts) or no JSON."""
        if (refused := self._not_a_supervisor(request)) is not None:
            return {}, refused
        if not request.headers.get("content-type", "").startswith("application/json"):
            return {}, self._refuse(request, "expected application/json", 415)
        try:
            body = await self._json(request)
        except HTTPException as err:
            return {}, self._refuse(request, err.detail, err.status_code)
        return (body if isinstance(body, dict) else {}), None

    async def forget(self, request: Request) -> Response:
        """``{"agent": NAME}``: the agent left out of the agents until it posts again (a desktop
        removed from service), its alerts kept (:meth:`ConsoleStore.forget`); every open page told.
        With ``"daemon_id": ID``, that daemon of the name alone (a row's "Forget": an agent of the same
        name at another desk stays): its whole id, or its end (as the page shows it) or start, 409 with
        the daemons it begins or ends where it is more than one's."""
        body, refused = await self._asked(request)
        if refused is not None:
            return refused
        agent, daemon_id = body.get("agent"), body.get("daemon_id")
        if not isinstance(agent, str) or not agent.strip():
            return self._refuse(request, "agent: expected an agent's name, as the page lists it", 422)
        if daemon_id is not None and (not isinstance(daemon_id, str) or not daemon_id.strip()):
            return self._refuse(request, "daemon_id: expected a daemon's id, as /api/state lists it", 422)
        try:
            ids = await self._stored(partial(self.store.forget, agent, daemon_id=daemon_id))
        except AmbiguousDaemon as err:
            return JSONResponse({"error": str(err), "code": "ambiguous_daemon", "daemon_ids": err.ids}, status_code=409)
        if not ids:
            of = "" if daemon_id is None else f" with daemon {daemon_id!r}"
            return JSONResponse({"error": f"no agent named {agent!r}{of}"}, status_code=404)
        forgotten = {"agent": agent, "daemon_ids": ids}
        self.hub.publish("forget", forgotten)
        log.info("agent %r forgotten (daemon %s); its alerts are kept", agent, ", ".join(ids))
        return JSONResponse(forgotten)

    async def ack(self, request: Request) -> Response:
        body, refused = await self._asked(request)
        if refused is not None:
            return refused
        by = body.get("by")
        if problem := ack_name_problem(by):
            return self._refuse(request, problem, 422)
        name = cast(str, by)  # a name: ack_name_problem found no problem with it
        pk = whole_number(request.path_params["alert"], 0)  # None: no alert's id
        row, new = (None, False) if pk is None else await self._stored(self.store.acknowledge, pk, name.strip())
        if row is None:
            return JSONResponse({"error": "no such alert"}, status_code=404)
        self.hub.publish("ack", {"id": row["id"], "acked_by": row["acked_by"], "acked_at": row["acked_at"]})
        if new:
            log.info("alert %s acknowledged by %s", row["id"], row["acked_by"])
        else:  # the first acknowledgement stands: this one is not stored
            log.info("alert %s was acknowledged already by %s; %s's acknowledgement is not stored", row["id"],
                     row["acked_by"], name.strip())
        return JSONResponse(row)


def _query_but_token(request: Request) -> str:
    """The query of ``request`` without its ``token`` (the page's own, ``agent=``), encoded again."""
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])


def from_another_origin(request: Request, public_origin: str = "") -> bool:
    """Whether the browser says that a page of another origin sent ``request``: its ``Sec-Fetch-Site``
    is other than same-origin (or none, an address typed), another port of this host being the same
    site; a browser that sends none, by an ``Origin`` other than this console's scheme and host, or
    ``public_origin``, the console's as a proxy in front serves it (and, one that ends TLS, https
    and the host asked for, where the proxy passes it on). A client that is no browser sends neither."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin, host = request.headers.get("origin"), request.headers.get("host", "")
    ours = {f"{request.url.scheme}://{host}", *([public_origin] if public_origin else [])}
    if public_origin.startswith("https://"):
        ours.add(f"https://{host}")
    return origin is not None and origin not in ours


ALWAYS_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                  ("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"),
                  ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"))
"""The headers of every answer (the page sets its own Content-Security-Policy): no answer is sniffed
for another type, framed, cached (alerts are health information) or names the page it came from."""


class _LoopbackHostOnly:
    """ASGI middleware of a console listening on loopback: a request whose ``Host`` names no loopback
    address, ``localhost`` or ``listen_name`` (the host name ``--listen`` gave, a loopback address here,
    which the console's own line prints) is answered 421 (logged in one line), before any route: a page
    of another site whose name was made to point at 127.0.0.1 (DNS rebinding) reaches nothing."""

    def __init__(self, app: Any, listen_name: str | None = None) -> None:
        self.app = app
        self.listen_name = (listen_name or "").lower()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        host = host_of(request.headers.get("host", ""))
        if is_loopback(host) or (self.listen_name and host.lower() == self.listen_name):
            return await self.app(scope, receive, send)
        peer = request.client.host if request.client else "?"
        log.warning("421 %s %s from %s: Host %r is not this console's loopback address", request.method,
                    request.url.path, peer, request.headers.get("host", "")[:100])
        answer = JSONResponse({"error": "this console listens on loopback only: address it as 127.0.0.1, [::1] or "
                                        "localhost"}, status_code=421)
        await answer(scope, receive, send)


class _AlwaysHeaders:
    """ASGI middleware: :data:`ALWAYS_HEADERS` on every answer, each one the answer does not set itself,
    and under TLS ``Strict-Transport-Security`` (a year)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS_HEADERS:
                    headers.setdefault(name, value)
                if scope.get("scheme") == "https":  # a browser asks for it only by https from now on
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)
        await self.app(scope, receive, sending if scope["type"] == "http" else send)


def _page_headers(nonce: str, form_action: str = "'none'") -> dict[str, str]:
    """Nothing but the page's own script, style and event stream, its forms posted to ``form_action``
    (the sign-in form's to this console); not framed; not cached."""
    return {"Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                                       f"connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                                       f"form-action {form_action}; frame-ancestors 'none'",
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _lifespan(console: Console):
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        console.loop = asyncio.get_running_loop()
        purging = asyncio.create_task(console.keep_purging())
        yield
        purging.cancel()
        console.hub.close()  # open event streams end, so that shutdown does not wait for them
    return lifespan


def create_app(store: ConsoleStore, auth: Auth, settings: ConsoleSettings = ConsoleSettings(), *,
               loopback: bool = False, listen_name: str | None = None) -> Starlette:
    """The console's application; ``loopback``: it listens on a loopback address only, and answers
    only requests addressed to one, or to ``listen_name``, the name it was told to listen on
    (:class:`_LoopbackHostOnly`)."""
    console = Console(store, auth, settings)
    app = Starlette(routes=[
        Route("/", console.index, methods=["GET"]),
        Route("/login", console.login, methods=["POST"]),
        Route("/webhook", console.webhook, methods=["POST"]),
        Route("/events", console.events, methods=["GET"]),
        Route("/api/state", console.state, methods=["GET"]),
        Route("/api/alerts", console.alerts_page, methods=["GET"]),
        Route("/api/alerts/{alert}/ack", console.ack, methods=["POST"]),
        Route("/api/outcomes", console.outcomes, methods=["GET"]),
        Route("/api/agents/forget", console.forget, methods=["POST"]),
    ], lifespan=_lifespan(console), exception_handlers={DatabaseFailed: console.database_failed,
                                                       HTTPException: console.not_served},
        middleware=[Middleware(_AlwaysHeaders), *([Middleware(_LoopbackHostOnly, listen_name=listen_name)] if loopback else [])])
    app.router.redirect_slashes = False  # /webhook/ is a path the console does not serve (404), not a 307 to /webhook
    app.state.console = console
    return app
