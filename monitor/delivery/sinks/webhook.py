"""Supervisor webhook: HTTP POST of the alert JSON, delivered from the SQLite outbox.

The daemon queues each stored alert in the store's ``deliveries`` table
(:meth:`WebhookSink.__call__`), and a worker thread posts what is due with a
timeout for the whole post (an answer trickled a byte at a time is given up at it); a failure is
logged and retried with exponential backoff (``backoff_s`` doubling up to ``max_backoff_s``;
``retries`` = 0 keeps trying). Because the
queue lives in the database, an alert not delivered before a restart is
delivered by the next daemon once the endpoint answers, and one that was
delivered is never posted again.

Critical alerts are never left waiting on a long backoff: a pending critical is retried at
least every ``CRITICAL_RETRY_S`` through an outage (but one the receiver refuses, a 4xx answer about
the alert's body such as 400, 413 or 422, waits the backoff as a warning does: it would be refused
again every few seconds), and the first success after failures makes every pending
delivery due at once, so the supervisor gets what waited within seconds of the endpoint's
return. A receiver that answers 429 (the console's limit of an agent's posts) or 503 with
``Retry-After`` is taken at its word (:func:`retry_after`, ``max_backoff_s`` at most): the alert
stays pending, is not given up for it, and nothing is posted before then (a critical neither); it
is a wait, no failure (:class:`AskedWait`), and a heartbeat so answered waits alike.
An alert the database could not store (``stored=False``) is delivered from memory
with the same retry rules, under an id of its own (:data:`MEMORY_ID_BASE`); once the store guard
writes it (:meth:`WebhookSink.written`), its outbox row is written too: delivered (or given up) if
it was so from memory, else pending, and the outbox delivers it from then on, in this run or, if
this one stops first, in a later one. The row keeps the id the alert was posted under from memory,
if a post of it was begun (``deliveries.posted_id``: a post that failed may have reached the
receiver all the same), and every later post of it, in any run, carries that id, so that a receiver
de-duplicating by (daemon, alert id), as the supervisor's console does, keeps it once, and
``call-monitor alerts`` can say the id the supervisor knows it by. ``include_phrase_text=False`` leaves the caller's
words (the distress phrase excerpt) out of what is posted. An outbox row holding what callmonitor never writes
(another program wrote it: an alert whose evidence is no JSON, say) is marked failed for good and
said in one line; the alerts queued around it are delivered as usual.

Each post names its sender (:class:`Identity`: the agent's name and the daemon's id, which is
the database's own id on this machine, so that a console tells apart equal alert ids of different
daemons, a copied database's too; made anew when the console refuses it as another agent's: :class:`Sender`)
and the call's wall-clock start (and a replayed call's recording, by its file name, of a call of
two files the agent's too, known from the call's start), and
carries ``Authorization: Bearer TOKEN`` when a token is given (:func:`~monitor.config.tokens.read_token_file`).
:class:`Heartbeat` posts the daemon's status to the same URL, and hands on the supervisor's
acknowledgements of the daemon's alerts that the console's answers carry.

One URL at a time: what is pending for another URL (queued before the URL was changed, by this
daemon before a reload or by an earlier one) goes to the current URL, due at once and with its
attempts counted anew (:meth:`WebhookSink.retarget`, and at the start): they are the same alerts
for the same supervisor, and an outbox row left on an old URL would never be delivered. When an
outage of the old URL was said, the first of them delivered at the new one says so at warning level,
as the outage was (with how many others it held back, going now), so that the outage is not the last
word of the log nor the daemon's status's last warning. The URL and its token change together
(:class:`Target`) and each post reads them once, as it starts: after a reload's "configuration
reloaded" nothing more is posted to the old URL, except what was already on its way (a post begun
before, finished within ``timeout_s``: an alert it delivered counts as delivered, to the supervisor
it reached).

A URL may carry a secret in its query (``/webhook?token=...``) or its path (``/services/T000/XXXX``):
what is shown of it, in log lines and in the daemon's status, is :func:`~monitor.config.urls.redact_url`'s form
(:attr:`Target.shown_url`); posts and the outbox keep the URL as given.
"""

from __future__ import annotations

import collections
import email.utils
import functools
import getpass
import http.client
import json
import logging
import os
import secrets
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, NamedTuple, overload

from ...alerts.evidence import redact_phrase_text
from ...config.urls import redact_url
from ...console import one_line, problem_of, recovery_of
from ...events import AlertAckedEvent, AlertEvent, Event
from ...json_text import json_value
from ...release import RELEASE
from ..acks import acked_events
from ..port_owner import refuse_other_listener
from ..store import Store
from ..store_guard import PendingStore
from ..store_errors import StoreError
from ..store_rows import MEMORY_ID_BASE, AgentWord, Delivery, due_order, is_due, raised_at as raised_when, recording_name
from ..words import said, word_payload
from .deadline import deadline_handlers

log = logging.getLogger(__name__)

USER_AGENT = f"call-monitor/{RELEASE}"
"""Every post's ``User-Agent``: the release that sent it, which a receiver reads the post's shape by."""
CRITICAL_RETRY_S = 3.0
"""A pending critical alert is retried at least this often, whatever the backoff reached."""
AWAITING_ACK_S = 5.0
"""While a critical alert of the running call stands unacknowledged, a heartbeat goes at least this often
(its answer brings the supervisor's acknowledgement)."""
CUT_SHORT = "cut short: the run's wait for its deliveries ended"
"""What a post cut by a :meth:`WebhookSink.drain`'s end (``replay --webhook-wait``) leaves as its
error: no failed attempt, due again at the next run."""
MEMORY_LIMIT = 10_000
"""Alerts held in memory (not stored) beyond this are dropped oldest first, with a warning."""
CALLS_KEPT = 100
"""What the posts say of a call (its start, its recording) is kept for this many calls, the last ones
posted for; an alert of an older call reads it from the store again (a daemon runs for weeks)."""


@dataclass(frozen=True)
class Refusal:
    """One of the supervisor console's refusals of a token (401, 403): its status, the stable
    ``code`` its JSON answer carries beside the ``error`` (the words may change, the code does not),
    and its ``WWW-Authenticate`` challenge (RFC 6750: an error code for a bearer token that was
    refused, none when the request carried no bearer token at all)."""

    status: int
    code: str
    challenge: str = "Bearer"
    """The ``WWW-Authenticate`` header's value; "" for none (a refusal that is no token's)."""


MISSING_TOKEN = Refusal(401, "missing_token")
"""No bearer token (nor the page's session cookie) came with the request (or ``Bearer`` with
nothing after it)."""
WRONG_SCHEME = Refusal(401, "wrong_scheme")
"""An ``Authorization`` header of another scheme than Bearer (``Basic`` from ``curl -u`` or a
proxy): the console reads only a bearer token."""
WRONG_TOKEN = Refusal(401, "wrong_token", 'Bearer error="invalid_token"')
"""A bearer token came that is none of the console's (neither the shared one nor an agent's)."""
AGENT_MISMATCH = Refusal(403, "agent_mismatch", 'Bearer error="insufficient_scope"')
"""An agent's own token posted as another agent: only then does the daemon name
delivery.agent_name, not the token, as what to fix."""
AGENT_TOKEN_POSTS_ONLY = Refusal(403, "agent_token_posts_only", 'Bearer error="insufficient_scope"')
"""An agent's own token asked to read (``/api/state``, ``/events``) or acknowledge: only the
shared token does that."""
DAEMON_ID_TAKEN = Refusal(403, "daemon_id_taken", 'Bearer error="insufficient_scope"')
"""An agent's own token posted under a daemon id the console knows as another agent's (a database
copied from that agent's desktop): the daemon takes a new id (:meth:`Sender.refused`) and posts again."""
REFUSALS: tuple[Refusal, ...] = (MISSING_TOKEN, WRONG_SCHEME, WRONG_TOKEN, AGENT_MISMATCH, AGENT_TOKEN_POSTS_ONLY,
                                 DAEMON_ID_TAKEN)
"""Every refusal of a token the console answers with, each with its code."""


@dataclass(frozen=True)
class Identity:
    """Who posts: the agent's name and the daemon's id (:meth:`Store.instance_id`)."""

    agent: str
    daemon_id: str

    @classmethod
    def of(cls, store: Store | PendingStore, agent_name: str = "") -> "Identity":
        return cls(agent_of(agent_name), store.instance_id())


class Sender:
    """Who posts, as the webhook sink and the heartbeat share it: an :class:`Identity`, whose daemon id
    is made anew (``renew``: :meth:`Store.renew_instance_id`) once the console refuses it as another
    agent's (:data:`DAEMON_ID_TAKEN`: a database copied from another desktop before ids were bound to
    machines), so that this desktop's alerts are never held back by another's. Thread-safe."""

    def __init__(self, identity: Identity, renew: Callable[[str], str] | None = None) -> None:
        self._identity, self._renew = identity, renew
        self._lock = threading.Lock()

    @classmethod
    def of(cls, store: Store | PendingStore, agent_name: str = "") -> "Sender":
        return cls(Identity.of(store, agent_name), store.renew_instance_id)

    @property
    def identity(self) -> Identity:
        return self._identity

    def refused(self, daemon_id: str) -> bool:
        """The console refused ``daemon_id`` as another agent's: whether posts go under another id now
        (made anew here, said in one line, or by another thread's post already)."""
        with self._lock:
            if self._identity.daemon_id != daemon_id:
                return True
            if self._renew is None:
                return False
            try:
                new = self._renew(daemon_id)
            except StoreError as err:
                log.warning("webhook: no new daemon id could be made (%s)", err, extra=problem_of("webhook"))
                return False
            self._identity = replace(self._identity, daemon_id=new)
        log.warning("webhook: the supervisor console knows daemon id %s as another agent's (this desktop's database "
                    "was copied from another desktop's): this daemon posts as a new one, %s, from now on; nothing to "
                    "do here, but a desktop image to clone should be made without its callmonitor database",
                    daemon_id, new)
        return True


@overload
def sender_of(identity: "Identity | Sender") -> "Sender": ...
@overload
def sender_of(identity: "Identity | Sender | None") -> "Sender | None": ...
def sender_of(identity: "Identity | Sender | None") -> "Sender | None":
    """``identity`` as a :class:`Sender` (one that is no Sender keeps its daemon id)."""
    return identity if isinstance(identity, Sender) or identity is None else Sender(identity)


def post_as(sender: Sender, target: Target, body: Callable[[Identity], bytes], *, timeout_s: float,
            headers: Mapping[str, str] | None = None, cut: Callable[[], float | None] | None = None) -> bytes:
    """:func:`post_json` of ``body(sender.identity)``; posted once more, under a new daemon id, when the
    console refuses the id as another agent's (:meth:`Sender.refused`)."""
    identity = sender.identity
    try:
        return post_json(target.url, body(identity), token=target.token, timeout_s=timeout_s, headers=headers,
                         cut=cut)
    except urllib.error.HTTPError as err:
        if _receiver_says(err)[1] != DAEMON_ID_TAKEN.code or not sender.refused(identity.daemon_id):
            raise
    return post_json(target.url, body(sender.identity), token=target.token, timeout_s=timeout_s, headers=headers,
                     cut=cut)


def word_delivery(word: AgentWord) -> str:
    """The ``X-Callmonitor-Delivery`` of a post of the agent's word ``word``: ``word-ALERT-SAID_AT``
    (the alert's id in the database and when the word was said, unix seconds as stored), the same on
    every retry of it and another once the agent says a new word, which a receiver keeps apart."""
    return f"word-{word.alert_id}-{word.said_at!r}"


def agent_of(agent_name: str = "") -> str:
    """The agent a daemon posts as and keeps with its calls: ``delivery.agent_name``, else user@host."""
    return agent_name or default_agent_name()


def default_agent_name() -> str:
    """``user@host`` of this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def payload(alert: AlertEvent, identity: Identity | None = None,
            call_started_at: float | None = None, include_phrase_text: bool = True,
            recording: str = "", raised_at: float | None = None, agent_recording: str = "") -> bytes:
    """The alert's JSON (as ``replay --jsonl`` prints it) plus ``source``, the sender's
    ``agent`` and ``daemon_id``, the call's start ``call_started_at`` and when the alert was raised,
    ``at`` (:func:`~monitor.delivery.store_rows.raised_at` of its call's start, its call time and
    ``raised_at``, the time its row keeps: the same on every post of it, and what ``alerts`` lists;
    None: the time of posting), and for a replayed call
    ``recording``, the file name of the recording it came from (:func:`recording_name`; a live
    call sends none), and beside it, of a call of two files, ``agent_recording``, the agent's
    leg's file name. ``include_phrase_text=False`` withholds the caller's words."""
    d = (alert if include_phrase_text else redact_phrase_text(alert)).to_dict()
    d["source"] = "call-monitor"
    if identity is not None:
        d["agent"], d["daemon_id"] = identity.agent, identity.daemon_id
    if recording:
        d["recording"] = recording
    if agent_recording:
        d["agent_recording"] = agent_recording
    if call_started_at is not None:
        d["call_started_at"] = round(call_started_at, 3)
        d["at"] = raised_when(call_started_at, alert.t, time.time() if raised_at is None else raised_at)
    return json.dumps(d, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Target:
    """Where posts go: the URL and the token sent there, changed together (by a reload) and read
    together by each post, so that no post pairs one URL with the other's token (a new token sent
    to the old receiver) and none begun after the change goes to the old URL."""

    url: str
    token: str | None = None

    @functools.cached_property
    def shown_url(self) -> str:
        """The URL as log lines and the daemon's status show it (:func:`redact_url`), computed once."""
        return redact_url(self.url)


@dataclass(frozen=True)
class _PostedCall:
    """What a post says of the alert's call: its start, the recording's name ("" for a live call) and,
    of a call of two files, the agent's file's name ("" for any other call)."""

    started_at: float | None = None
    recording: str = ""
    agent_recording: str = ""


def _memory_id() -> int:
    return MEMORY_ID_BASE + secrets.randbits(60)


@dataclass
class _Held:
    """An alert the database could not store, delivered from memory."""

    alert: AlertEvent
    attempts: int = 0
    next_at: float = 0.0
    memory_id: int = field(default_factory=_memory_id)
    raised_at: float = field(default_factory=time.time)
    """When it was held (unix seconds): when it was raised, as its post's ``at`` says at most."""
    stored: AlertEvent | None = None
    """The alert as the database stored it, once the store guard wrote it: its outbox row is to write."""
    tried: bool = False
    """A post of it was begun from memory: the receiver may have taken it (a post that failed too: its
    answer lost), under :attr:`posts_as`, which every later post of it keeps."""
    error: str = ""
    """Why its last post failed."""

    @property
    def posts_as(self) -> int:
        """The alert id its posts from memory carry: its own if it has one, else :attr:`memory_id`."""
        return self.alert.alert_id if self.alert.alert_id is not None else self.memory_id

    @property
    def posted_id(self) -> int | None:
        """The id its outbox row is to be posted under (:attr:`Delivery.posted_id`): :attr:`posts_as`
        once a post was begun, else None (the database's id, which nothing was posted under yet)."""
        return self.posts_as if self.tried else None


def _stored_id(alert: AlertEvent | None) -> int:
    """The id of an alert the store guard wrote, whose delivery from memory is recorded under it."""
    if alert is None or alert.alert_id is None:
        raise ValueError("an alert not stored has no outbox row")
    return alert.alert_id


class _Settled(NamedTuple):
    """An alert done with from memory: delivered (``error`` None) or given up with ``error``, posted
    under ``posted_id``, ``alert`` its event as posted (unstored, its call's id None where the call's
    row was not written then) or, once the store guard wrote it, as stored."""

    alert: AlertEvent
    error: str | None
    posted_id: int
    call_named: bool

    def stored_as(self, stored: AlertEvent) -> "_Settled":
        return self._replace(alert=stored)

    @property
    def posted_again(self) -> bool:
        """Whether its outbox row is pending rather than delivered: it was delivered without its call,
        which its database row names, so it is posted once more under the same id, with it (a console
        that has it fills in its call)."""
        return self.error is None and not self.call_named and self.alert.call_id is not None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect answered to a post is not followed (it raises HTTPError with its 3xx): urllib would
    send the token with it to wherever it points, an http:// URL or another host too, as a GET without
    the alert, and take that GET's answer for a delivery."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post_json(url: str, body: bytes, *, token: str | None, timeout_s: float,
              headers: Mapping[str, str] | None = None, cut: Callable[[], float | None] | None = None) -> bytes:
    """POST ``body`` as JSON and return the answer's body (its first 64 KiB); raises on a refused
    connection, a non-2xx answer (a redirect too: :class:`_NoRedirect`) or a timeout: ``timeout_s``
    bounds the whole post, an answer trickled a byte at a time too, or the earlier time ``cut()``
    gives, even once the post is under way (:func:`deadline_handlers`). A ``token`` goes over http:// to
    a loopback port only when this user or root listens there (:func:`~monitor.delivery.port_owner.refuse_other_listener`). An
    https URL's certificate is verified against the system's (or ``SSL_CERT_FILE``'s) authorities."""
    h = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method="POST", headers=h)
    check = refuse_other_listener if token else None  # a loopback port another user took gets no token
    opener = urllib.request.build_opener(_NoRedirect, *deadline_handlers(timeout_s, cut, check))
    with opener.open(req, timeout=timeout_s) as resp:
        return resp.read(1 << 16)


class WebhookSink:
    def __init__(self, store: Store | PendingStore, url: str, *, timeout_s: float = 5.0, retries: int = 0,
                 backoff_s: float = 2.0, max_backoff_s: float = 300.0,
                 poll_s: float = 0.5, identity: Identity | Sender | None = None, token: str | None = None,
                 include_phrase_text: bool = True, clock: Callable[[], float] = time.time) -> None:
        """A sink posting to ``url`` from its own thread (not started yet), its deliveries kept in
        ``store``'s outbox, their next tries at times of ``clock``, the wall clock the outbox's rows
        keep (they outlive the process), where a try due further ahead than ``max_backoff_s`` is due
        now (:func:`is_due`: the clock has stepped back since it was set)."""
        self.store = store
        self.clock = clock
        self.include_phrase_text = include_phrase_text
        self._begin_held()
        self.target = Target(url, token)
        self.sender = sender_of(identity)
        self._calls: collections.OrderedDict[int, _PostedCall] = collections.OrderedDict()  # at most CALLS_KEPT
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.poll_s = poll_s
        self.delivered = 0
        self.failures = 0
        self.last_error = ""  # the last failure's, kept once posts deliver again (:attr:`failing` says)
        self.failing = False  # the last post failed (an answer asking to wait is none: :meth:`_asked_to_wait`)
        self.last_failure_at: float | None = None
        self._posts_end_by: float | None = None  # no post goes on past it (time.monotonic()): :meth:`drain`
        self._begin_outage()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._adopted = False  # the outbox's rows for other URLs moved to this one
        self._thread = threading.Thread(target=self._work, name="webhook", daemon=True)

    def _begin_held(self) -> None:
        """No alert yet held in memory (the store failing), settled from memory, or written by the
        store guard before this sink was given it."""
        self._memory: collections.deque[_Held] = collections.deque()
        self._memory_lock = threading.Lock()
        # the unstored alerts done with from memory (by id(); the error they were given up with, None:
        # delivered; the id they were posted under) until the store guard writes them; the stored alerts
        # so done with whose outbox row is to write; and those the guard wrote before this sink was
        # given them (:meth:`written`)
        self._settled: collections.OrderedDict[int, _Settled] = collections.OrderedDict()
        self._to_record: list[_Settled] = []
        self._written_first: collections.OrderedDict[int, AlertEvent] = collections.OrderedDict()
        self._store_warned = False

    def _begin_outage(self) -> None:
        """No outage of the endpoint said yet, no delivery refused or asked to wait, no move from
        another URL, no damaged outbox row."""
        # the worker's own (retarget never writes them), of the URL it last posted to: the error said
        # of the endpoint's outage (None while it delivers), the deliveries that failed in one and
        # wait still, those refused while it delivered others; and the earlier URL (as shown) whose
        # outage was said and whose alerts came here, until one is delivered here
        self._outage_url: str | None = None
        self._outage: str | None = None
        self._failed_in_outage: set[int] = set()
        self._refused: dict[int, str] = {}
        self._wait = AskedWait()  # no post before it is over: the receiver asked to wait (Retry-After)
        self._waited: set[int] = set()  # the deliveries whose last post the receiver asked to wait for
        self._moved_from: str | None = None
        self._damaged: set[int] = set()  # the outbox rows no release writes, said once

    @property
    def url(self) -> str:
        return self.target.url

    @property
    def shown_url(self) -> str:
        """The URL as log lines, warnings and the daemon's status show it (:func:`redact_url`)."""
        return self.target.shown_url

    @property
    def token(self) -> str | None:
        return self.target.token

    def start(self) -> "WebhookSink":
        self._thread.start()
        return self

    def __call__(self, event: Event) -> None:
        if not isinstance(event, AlertEvent):
            return
        if event.alert_id is not None and event.stored:
            try:
                self.store.enqueue_delivery(event.alert_id, self.url)
                self._wake.set()
                return
            except StoreError as err:  # the outbox cannot be written: deliver from memory
                if not self._store_warned:
                    self._store_warned = True
                    log.warning("webhook %s: outbox not writable (%s); delivering from memory",
                                self.shown_url, err)
        with self._memory_lock:
            if self._written_first.pop(id(event), None) is event:
                return  # written meanwhile: held in memory already, with its outbox row to write
            if len(self._memory) >= MEMORY_LIMIT:
                lost = self._memory.popleft()
                log.warning("webhook %s: too many undelivered alerts held in memory; dropped the oldest "
                            "(%s at %.1f s)", self.shown_url, lost.alert.kind, lost.alert.t)
            self._memory.append(_Held(event, next_at=self.clock()))
        self._wake.set()

    def written(self, held: AlertEvent, stored: AlertEvent) -> None:
        """The store guard wrote ``held`` (an alert given to this sink unstored) as ``stored``: the worker
        writes its outbox row (:meth:`record_written`). It is not posted again if it was delivered
        from memory (but once to name its call: :attr:`_Settled.posted_again`); else the outbox delivers it from then on, under the id a post of it from memory
        was tried with, if one was (:attr:`_Held.posted_id`), else under the database's."""
        with self._memory_lock:
            h = next((h for h in self._memory if h.alert is held), None)
            settled = self._settled.pop(id(held), None)
            if h is not None:
                h.stored = stored
            elif settled is not None and settled.alert is held:
                self._to_record.append(settled.stored_as(stored))
            else:  # not given to this sink yet (written within the batch that raised it), or dropped
                _keep(self._written_first, id(held), held)
                self._memory.append(_Held(held, next_at=self.clock(), stored=stored))
        self._wake.set()

    def posted_as(self, alert: AlertEvent) -> int | None:
        """The id the receiver knows ``alert`` (given to this sink unstored) by while it is delivered
        from memory (:attr:`_Held.posts_as`, which its outbox row keeps once a post of it was begun:
        :attr:`Delivery.posted_id`); None for an alert this sink does not hold (stored, or dropped)."""
        with self._memory_lock:
            h = next((h for h in self._memory if h.alert is alert), None)
            if h is not None:
                return h.posts_as
            settled = self._settled.get(id(alert))
            return settled.posted_id if settled is not None and settled.alert is alert else None

    def record_written(self) -> None:
        """The outbox rows of the alerts the store guard wrote late (:meth:`written`): delivered or
        failed for those done with from memory (but one delivered before its call's row was written,
        posted without its call: pending, to post it once more under the same id, with its call,
        :attr:`_Settled.posted_again`); pending for the others, which leave memory (their
        failed attempts, if any, counted in the row): the outbox delivers them from then on, in this
        run or a later one, under the id they were posted under from memory, if they were
        (:attr:`Delivery.posted_id`). What the database cannot take yet waits for the next pass (and
        is delivered from memory meanwhile)."""
        with self._memory_lock:
            moving = [h for h in self._memory if h.stored is not None]
            for h in moving:  # taken: no post of it from memory begins now (:meth:`deliver_memory`)
                self._memory.remove(h)
            done, self._to_record = self._to_record, []
        try:
            while done:
                settled = done[0]
                row = self.store.enqueue_delivery(_stored_id(settled.alert), self.url, posted_id=settled.posted_id)
                if settled.error is not None:
                    self.store.mark_failed(row, None, settled.error)
                elif not settled.posted_again:
                    self.store.mark_delivered(row, self._posted_by)
                done.pop(0)
            while moving:
                h = moving[0]
                row = self.store.enqueue_delivery(_stored_id(h.stored), self.url, posted_id=h.posted_id)
                if h.attempts or h.error:  # failed, or waits as the receiver asked (no failed attempt)
                    self.store.mark_failed(row, h.next_at, h.error, tries=h.attempts)
                moving.pop(0)
        except StoreError as err:
            log.debug("webhook %s: outbox rows of alerts written late not written yet: %s", self.shown_url, err)
        finally:
            with self._memory_lock:
                self._to_record[:0] = done
                self._memory.extendleft(reversed(moving))

    def _forget(self, h: _Held, error: str | None = None, settled: bool = False) -> None:
        """``h`` leaves memory; ``settled``: delivered from it (``error`` None) or given up with ``error``."""
        with self._memory_lock:
            if h in self._memory:
                self._memory.remove(h)
            if not settled:
                return
            done = _Settled(h.alert, error, h.posts_as, h.alert.call_id is not None)
            if h.stored is not None:
                self._to_record.append(done.stored_as(h.stored))
            else:
                _keep(self._settled, id(h.alert), done)

    def retarget(self, url: str, token: str | None) -> None:
        """Post to ``url`` (with ``token``) from now on: the alerts pending for the old URL, in the
        outbox and in memory, go to the new one at once."""
        old, new = self.target, Target(url, token)
        if new == old:
            return
        self.target = new
        self._adopted = False  # the worker sees the new URL: its first failure there is said
        self._wait.end()  # the old receiver's wait is not the new one's
        with self._memory_lock:
            for h in self._memory:
                h.attempts, h.next_at, h.error = 0, 0.0, ""
        log.info("webhook: posting to %s from now on (was %s)", new.shown_url, old.shown_url)
        self._wake.set()

    def _adopt(self) -> None:
        """Move the outbox's pending rows for other URLs to this one, and make those waiting here
        on an earlier run's backoff due now (the endpoint may have been back for long: a daemon
        killed mid-outage and started again tries at once what it left); once, and after each
        :meth:`retarget`; again later while the database cannot be written."""
        if self._adopted:
            return
        target = self.target
        try:
            n = self.store.retarget_pending(target.url)
            self.store.reschedule_pending(target.url, self.clock())
        except StoreError as err:
            log.debug("webhook %s: pending deliveries for other URLs not moved yet: %s", target.shown_url, err)
            return
        self._adopted = target.url == self.url
        if n:
            log.info("webhook %s: %s alert(s) pending for an earlier URL go here now", target.shown_url, n)

    def pending(self) -> int:
        held = len(self._memory)
        try:
            return held + self.store.count_pending(self.url)
        except StoreError:
            return held

    def _call(self, call_id: int | None) -> _PostedCall:
        """What the posts of ``call_id``'s alerts say of their call, read from the store once."""
        if call_id is None:
            return _PostedCall()
        if call_id not in self._calls:
            call = self.store.get_call(call_id)
            self._calls[call_id] = (_PostedCall() if call is None else
                                    _PostedCall(call.started_at, recording_name(call.source),
                                                recording_name(call.agent_file)))
        self._calls.move_to_end(call_id)
        while len(self._calls) > CALLS_KEPT:
            self._calls.popitem(last=False)
        return self._calls[call_id]

    def _retry_delay(self, attempts: int, severity: str, err: BaseException | None = None) -> float:
        """The wait before the next try after ``attempts`` failed ones: the backoff, at most
        :data:`CRITICAL_RETRY_S` for a critical alert in an outage, but not for one the receiver
        refused (``err``: :func:`_refuses_the_alert`), which it would refuse again every few seconds."""
        delay = min(self.backoff_s * 2 ** (attempts - 1), self.max_backoff_s)
        refused = err is not None and _refuses_the_alert(err)
        return min(delay, CRITICAL_RETRY_S) if severity == "critical" and not refused else delay

    @property
    def identity(self) -> Identity | None:
        return None if self.sender is None else self.sender.identity

    @property
    def _posted_by(self) -> str | None:
        """The daemon id the posts go under now, as the outbox keeps it with a delivered row
        (:attr:`Delivery.posted_by`)."""
        identity = self.identity
        return None if identity is None else identity.daemon_id

    def _post(self, d: Delivery | _Held, target: Target | None = None) -> None:
        """Post ``d`` to ``target`` (default: the current one, read once)."""
        tag = str(d.id) if isinstance(d, Delivery) else f"memory-{d.memory_id}"  # one per alert held
        try:
            call = self._call(d.alert.call_id)
        except StoreError:  # the database is failing: post without the call's start and recording
            call = _PostedCall()
        alert = d.alert
        if d.posts_as != alert.alert_id:  # posted from memory (first): the id the receiver knows it by
            alert = replace(alert, alert_id=d.posts_as)
        target = target or self.target  # once: a reload meanwhile changes URL and token together
        headers = {"X-Callmonitor-Delivery": tag}
        body = functools.partial(payload, alert, call_started_at=call.started_at,
                                 include_phrase_text=self.include_phrase_text, recording=call.recording,
                                 raised_at=d.raised_at, agent_recording=call.agent_recording)
        if self.sender is None:
            post_json(target.url, body(None), token=target.token, timeout_s=self.timeout_s, headers=headers,
                      cut=self._posts_end)
            return
        post_as(self.sender, target, body, timeout_s=self.timeout_s, headers=headers, cut=self._posts_end)

    def _posts_end(self) -> float | None:
        """When a post must be over, whatever its ``timeout_s`` (time.monotonic()): a :meth:`drain`'s end;
        None: no such end."""
        return self._posts_end_by

    def _cut_short(self, err: BaseException) -> bool:
        """Whether a post that failed just now with ``err`` was cut by a :meth:`drain`'s end
        (:meth:`_posts_end`): it timed out, once that end had come (an answer the receiver gave then,
        a refusal, is its own). No failure of the receiver's, so no attempt that failed (``retries``,
        the backoff) and no outage; what it posted stays due, for the next run."""
        timed_out = isinstance(err, TimeoutError) or isinstance(getattr(err, "reason", None), TimeoutError)
        return timed_out and self._posts_end_by is not None and time.monotonic() >= self._posts_end_by

    def drain(self, timeout_s: float) -> int:
        """Give what is pending ``timeout_s`` seconds (:meth:`wait_delivered`), then stop (:meth:`close`):
        no post goes on past them (one on its way then, already begun too, ends there, as one timing out
        does, its alert pending still), so that the whole takes ``timeout_s`` and not a post's
        ``timeout_s`` more; returns what is still pending. A stop meanwhile (KeyboardInterrupt) ends the wait and is raised,
        the sink closed."""
        self._posts_end_by = time.monotonic() + timeout_s
        try:
            return self.wait_delivered(timeout_s)
        finally:
            self.close()

    def wait_delivered(self, timeout_s: float) -> int:
        """Wait until nothing is pending for this URL (or ``timeout_s``); returns what is still pending."""
        deadline = time.monotonic() + timeout_s
        while (left := self.pending()) and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(min(self.poll_s, 0.1))
        return left

    def deliver_memory(self) -> int:
        """One pass over the alerts held in memory, due criticals first (:func:`due_order`, as the
        outbox's); returns how many were delivered."""
        now = self.clock()
        with self._memory_lock:
            held = [(i, h) for i, h in enumerate(self._memory) if is_due(h.next_at, now, self.max_backoff_s)]
        due = [h for _, h in sorted(held, key=lambda ih: due_order(ih[1].alert.severity, ih[1].next_at, ih[0]))]
        n = 0
        for h in due:
            if self._stop.is_set() or self._held():
                break
            with self._memory_lock:
                if h not in self._memory:  # its outbox row took it (:meth:`record_written`)
                    continue
                h.tried = True
            try:
                self._post(h)
            except Exception as err:  # HTTP error, refused, timeout, DNS...
                h.error = _describe(err, self.token, self.identity)
                if (wait := self._asked_to_wait(err, h.error)) is not None:  # no attempt that failed
                    h.next_at = self.clock() + wait
                    continue
                if self._cut_short(err):
                    h.error = CUT_SHORT
                    continue
                self._failed(h.error)
                h.attempts += 1
                if self.retries and h.attempts > self.retries:
                    self._forget(h, self.last_error, settled=True)
                    log.warning("webhook %s: unstored %s alert failed (%s); giving up after %s attempts",
                                self.shown_url, h.alert.kind, self.last_error, h.attempts, extra=problem_of("webhook"))
                else:
                    h.next_at = self.clock() + self._retry_delay(h.attempts, h.alert.severity, err)
                continue
            self._forget(h, settled=True)
            self.delivered += 1
            self.failing = False
            n += 1
        return n

    def _failed(self, error: str) -> None:
        """A post failed with ``error``: counted, kept as the last error, and failing now."""
        self.failures += 1
        self.last_error, self.failing, self.last_failure_at = error, True, time.time()

    def deliver_due(self) -> int:
        """One pass over the due outbox rows for this URL; returns how many were delivered. A row
        is posted only to the URL it is queued for (its row says where it went): one fetched
        before a reload changed the URL waits for :meth:`_adopt` to move it to the new one."""
        n = 0
        for d in self.store.due_deliveries(self.clock(), target=self.url, damaged=self._skip_damaged,
                                           longest_wait_s=self.max_backoff_s):
            if self._stop.is_set() or self._held():
                break
            target = self.target  # once, as the post reads it
            if d.target != target.url or self._from_memory(d.alert_id):
                continue
            try:
                self._post(d, target)
            except Exception as err:  # HTTP error, refused, timeout, DNS...
                error = _describe(err, target.token, self.identity)
                if (wait := self._asked_to_wait(err, error)) is not None:
                    self.store.mark_failed(d.id, self.clock() + wait, error, tries=0)  # no attempt that failed
                    self._said_wait(target, d, wait)
                    continue
                if self._cut_short(err):
                    self.store.mark_failed(d.id, self.clock(), CUT_SHORT, tries=0)
                    continue
                self._failed(error)
                attempts = d.attempts + 1
                if self.retries and attempts > self.retries:
                    self.store.mark_failed(d.id, None, self.last_error)
                    self._waited.discard(d.id)
                    self._failed_in_outage.discard(d.id)
                    self._refused.pop(d.id, None)
                    log.warning("webhook %s: alert %s failed (%s); giving up after %s attempts",
                                target.shown_url, d.alert_id, self.last_error, attempts, extra=problem_of("webhook"))
                else:
                    delay = self._retry_delay(attempts, d.alert.severity, err)
                    self.store.mark_failed(d.id, self.clock() + delay, self.last_error)
                    self._said_failure(target, d, attempts, delay, _refuses_the_alert(err))
                continue
            self.store.mark_delivered(d.id, self._posted_by)
            self.delivered += 1
            self.failing = False
            n += 1
            if self._said_back(target, d):
                # the endpoint is back: what waited on a long backoff is due now
                self.store.reschedule_pending(target.url, self.clock())
        return n

    def wake(self) -> None:
        """Look at the outbox now (an agent's word was just kept), not at the next poll."""
        self._wake.set()

    def deliver_words(self) -> int:
        """One pass over the agents' words due to post (each once its alert was delivered: the receiver
        knows the alert first), retried as a warning alert is (``retries``, the backoff, a wait the
        receiver asks for), but given up at once when the receiver has not the alert
        (:meth:`_word_not_deliverable`); returns how many were delivered."""
        n = 0
        for word, d in self.store.due_words(self.clock(), self.max_backoff_s):
            if self._stop.is_set() or self._held():
                break
            target = self.target
            try:
                self._post_word(word, d, target)
            except Exception as err:  # HTTP error, refused, timeout, DNS...
                if _alert_unknown(err):
                    self._word_not_deliverable(word, d, target, _describe(err, target.token, self.identity))
                    continue
                error = _describe(err, target.token, self.identity)
                if (wait := self._asked_to_wait(err, error)) is not None:
                    self.store.mark_word_failed(word, self.clock() + wait, error, tries=0)
                    continue
                if self._cut_short(err):
                    self.store.mark_word_failed(word, self.clock(), CUT_SHORT, tries=0)
                    continue
                self._failed(error)
                if self.retries and word.attempts + 1 > self.retries:
                    self.store.mark_word_failed(word, None, error)
                    log.warning("webhook %s: the agent's word on alert %s failed (%s); giving up after %s attempts",
                                target.shown_url, word.alert_id, error, word.attempts + 1,
                                extra=problem_of("webhook"))
                else:
                    delay = self._retry_delay(word.attempts + 1, "warning", err)
                    self.store.mark_word_failed(word, self.clock() + delay, error)
                continue
            self.store.mark_word_delivered(word)
            log.info("webhook %s: the agent's word on alert %s (%s) delivered", target.shown_url, word.alert_id,
                     said(word.word))
            n += 1
        return n

    def _word_not_deliverable(self, word: AgentWord, d: Delivery, target: Target, answer: str) -> None:
        """The receiver has not the alert ``word`` is on (:func:`_alert_unknown`, its ``answer``): a
        console the alert never went to (it was delivered to an earlier URL, ``d.target``, before the
        webhook's URL changed), or one that lost it. The word is given up for good at once, whatever
        ``retries`` (it would be refused for ever), said in one warning line; the alert is not posted
        again to hang it on (docs/daemon.md, the agent's word on an alert: why)."""
        went = (f"the alert went to {redact_url(d.target)} before the webhook's URL changed, not here"
                if d.target != target.url else "the alert was delivered here, and the receiver has it no more")
        error = f"{answer} ({went}); not posted again"
        self.store.mark_word_failed(word, None, error)
        log.warning("webhook %s: the agent's word on alert %s (%s) is not deliverable: %s", target.shown_url,
                    word.alert_id, said(word.word), error)

    def _post_word(self, word: AgentWord, d: Delivery, target: Target) -> None:
        """Post ``word`` on the alert of outbox row ``d`` (delivered: the id and call the receiver knows it by)."""
        call = self._call(d.alert.call_id)
        a = d.alert

        def body(who: Identity | None) -> bytes:
            return word_payload(alert_id=d.posts_as, call_id=a.call_id, call_started_at=call.started_at, kind=a.kind,
                                severity=a.severity, t=a.t, word=word.word, note=word.note, said_at=word.said_at,
                                agent=who.agent if who else None, daemon_id=who.daemon_id if who else None)
        headers = {"X-Callmonitor-Delivery": word_delivery(word)}
        if self.sender is None:
            post_json(target.url, body(None), token=target.token, timeout_s=self.timeout_s, headers=headers,
                      cut=self._posts_end)
        else:
            post_as(self.sender, target, body, timeout_s=self.timeout_s, headers=headers, cut=self._posts_end)

    def _asked_to_wait(self, err: BaseException, error: str) -> float | None:
        """The seconds a receiver's refusal (``err``, said ``error``) asks to wait (:func:`retry_after`),
        at most ``max_backoff_s``, no post of any alert made before then (the receiver would refuse it
        alike): a critical's too, and the alert is not given up for it: it counts no attempt that
        failed (``retries``, the backoff), and it is no failure of the webhook's (:attr:`failures`,
        :attr:`failing`: no outage) but a wait (:meth:`waiting`), which ends a failing: the receiver
        answered (the status shows the earlier failure as past); None for another failure."""
        wait = self._wait.asked(err, error, self.max_backoff_s)
        if wait is not None:
            self.failing = False
        return wait

    def waiting(self) -> dict[str, Any] | None:
        """For the daemon's status: the wait the receiver asked for, while it lasts
        (:meth:`AskedWait.state`); None when none lasts."""
        return self._wait.state()

    def _said_wait(self, target: Target, d: Delivery, wait: float) -> None:
        """A wait the receiver asked for (:meth:`_asked_to_wait`), no outage: one warning line, then at
        most one every :data:`WAIT_SAID_EVERY_S` (an outbox paced by the console's limit waits every
        second or so), the rest at debug level; the delivery after it is said (the daemon's status shows the
        wait over), those after the unsaid ones at debug level."""
        self._same_endpoint(target.url)
        self._waited.add(d.id)
        say = self._wait.to_say()
        log.log(logging.WARNING if say else logging.DEBUG, "webhook %s: alert %s waits in the outbox for %.1f s, as "
                "the receiver asks (%s); nothing is posted before then%s", target.shown_url, d.alert_id, wait,
                self._wait.reason, f"; said again at most every {WAIT_SAID_EVERY_S:g} s" if say else "",
                extra=problem_of("webhook"))

    def _held(self) -> bool:
        """Whether the receiver asked to wait still (:meth:`_asked_to_wait`)."""
        return self._wait.lasts()

    def _from_memory(self, alert_id: int) -> bool:
        """Whether the alert ``alert_id`` was done with from memory, its outbox row not marked yet
        (:meth:`record_written`): its row is not posted."""
        with self._memory_lock:
            return any(settled.alert.alert_id == alert_id for settled in self._to_record)

    def _skip_damaged(self, delivery_id: int, err: StoreError) -> None:
        """An outbox row holding what callmonitor never writes (another program wrote it, or a hand
        with the sqlite3 shell) can never be posted: it is marked failed for good, with the problem
        as its error, and said once; the alerts queued around it go on."""
        if delivery_id not in self._damaged:
            self._damaged.add(delivery_id)
            log.warning("webhook %s: outbox row %s is not delivered, now or later: %s", self.shown_url,
                        delivery_id, err)
        try:
            self.store.mark_failed(delivery_id, None, str(err))
        except StoreError as fail:  # the database cannot be written now: skipped again, unsaid
            log.debug("webhook %s: outbox row %s not marked failed yet: %s", self.shown_url, delivery_id, fail)

    def _same_endpoint(self, url: str) -> None:
        """Forget what was said of another URL (a reload changed it): its outage is not this one's,
        but the alerts it held back came here (:attr:`_moved_from`), until one is delivered here."""
        if url == self._outage_url:
            return
        if self._outage is not None and self._outage_url is not None:
            self._moved_from = redact_url(self._outage_url)
        self._outage_url, self._outage = url, None
        self._failed_in_outage.clear()
        self._refused.clear()
        self._waited.clear()

    def _said_back(self, target: Target, d: Delivery) -> bool:
        """The endpoint delivered ``d``: after an outage was said, of this URL or of an earlier one
        whose alerts came here, one warning line that it delivers (again), with how many other
        alerts it held back, still to go; after failures unsaid, an info line. Returns whether ``d``
        had failed or waited in an outage (what waits on a long backoff is due now)."""
        self._same_endpoint(target.url)
        self._failed_in_outage.discard(d.id)
        self._refused.pop(d.id, None)
        waited = d.id in self._waited
        self._waited.discard(d.id)
        outage, moved_from = self._outage, self._moved_from
        self._outage = self._moved_from = None
        if outage is not None:
            held = len(self._failed_in_outage)  # still waiting: not this one, nor those given up for good
            log.warning("webhook %s: delivering again (alert %s delivered after %s attempts)%s", target.shown_url,
                        d.alert_id, d.attempts + 1,
                        f"; the {held} other alert(s) held back while it was down go now" if held else "",
                        extra=recovery_of("webhook"))
        elif moved_from is not None:
            held = self.pending()  # what waits still (the others moved here, those queued since)
            log.warning("webhook %s: delivering the alerts held back while %s was down (alert %s delivered "
                        "here)%s", target.shown_url, moved_from, d.alert_id,
                        f"; the {held} other alert(s) waiting go here now" if held else "", extra=recovery_of("webhook"))
        elif d.attempts or waited:  # after waits the receiver asked for, the first since one was said only
            quiet = waited and not self._wait.said_over()
            after = " and ".join(([f"{d.attempts} failed attempt(s)"] if d.attempts else [])
                                 + (["the waits the receiver asked for"] if waited else []))
            log.log(logging.DEBUG if quiet else logging.INFO, "webhook %s: alert %s delivered after %s",
                    target.shown_url, d.alert_id, after, extra=recovery_of("webhook"))
        else:
            return False
        return True

    def _said_failure(self, target: Target, d: Delivery, attempts: int, delay: float, refusal: bool = False) -> None:
        """One line when the endpoint first fails (and when the reason changes), not one per retry
        (a critical alert is retried every few seconds through an outage) nor one per alert (each
        alert the agent sees would bring a line of its own): the rest at debug level, counted, and
        one line once it delivers again. An alert that failed in an outage and fails again while
        the endpoint delivers others (a body it refuses: 413, 422) is no outage: it is said once,
        again if its error changes, not a pair of lines each time another alert is delivered. Only a
        ``refusal`` (:func:`_refuses_the_alert`) is: a post the endpoint did not answer, or answered
        with a server's error, begins an outage, also when that alert was refused before."""
        self._same_endpoint(target.url)
        if refusal and self._outage is None and d.id in self._failed_in_outage:
            said = self._refused.get(d.id)
            self._refused[d.id] = self.last_error
            log.log(logging.WARNING if said != self.last_error else logging.DEBUG,
                    "webhook %s: alert %s not delivered (%s) while others are; retry %s in %.1f s%s", target.shown_url,
                    d.alert_id, self.last_error, attempts, delay,
                    "; its next retries are said only if the error changes" if said != self.last_error else "",
                    extra=problem_of("webhook"))
            return
        first = self._outage != self.last_error
        self._failed_in_outage.add(d.id)
        log.log(logging.WARNING if first else logging.DEBUG, "webhook %s: alert %s not delivered (%s); retry %s "
                "in %.1f s%s", target.shown_url, d.alert_id, self.last_error, attempts, delay,
                "; while it fails alike, no more is said until it delivers again" if first else "",
                extra=problem_of("webhook"))
        self._outage = self.last_error

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                self._adopt()
                self.record_written()
                self.deliver_memory()
                self.deliver_due()
                self.deliver_words()
            except Exception as err:  # never let the worker die (database busy, ...)
                log.warning("webhook worker: %s", _describe(err))
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def close(self, timeout: float = 1.0) -> None:
        """Stop delivering: the worker is joined for at most ``timeout`` (a post on its way ends
        within ``timeout_s``)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.record_written()  # what the store guard wrote as the daemon stopped: a later run sends it


def _keep(kept: collections.OrderedDict, key: Any, value: Any) -> None:
    """``kept[key] = value``, the oldest left out beyond :data:`MEMORY_LIMIT`."""
    kept[key] = value
    while len(kept) > MEMORY_LIMIT:
        kept.popitem(last=False)


NOT_THE_ALERTS_FAULT = (401, 403, 404, 405, 408, 429)
"""4xx answers that are about the sender or the endpoint (its token, its URL, its load), not the
alert's body: every alert fails alike, an outage."""

WAIT_SAID_EVERY_S = 60.0
"""The waits a receiver asks for (``Retry-After``) are said at most once in this many seconds."""
WAIT_ASKED = (429, 503)
"""Answers whose ``Retry-After`` a post waits for: too many posts (the console's limit of each agent's
posts), the receiver unavailable for now."""
MIN_ASKED_WAIT_S = 1.0
"""The least wait taken where a receiver asks for one of no time (``Retry-After: 0``, or a date gone by:
its clock behind): a heartbeat, which has no pause of its own between posts, would post again at once,
over and over, to a receiver that says it has too many."""


def retry_after(err: BaseException, now: float | None = None) -> float | None:
    """The seconds a :data:`WAIT_ASKED` answer's ``Retry-After`` (seconds, or an HTTP date) asks to wait
    before posting again, 0 at least; None for another failure, or none or an unreadable one."""
    if not isinstance(err, urllib.error.HTTPError) or err.code not in WAIT_ASKED or err.headers is None:
        return None
    said = (err.headers.get("Retry-After") or "").strip()
    if said.isascii() and said.isdigit():
        return float(said)
    try:
        when = email.utils.parsedate_to_datetime(said).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class AskedWait:
    """A wait a receiver asked for (a :data:`WAIT_ASKED` answer's ``Retry-After``: :func:`retry_after`),
    taken alike by the webhook's posts and by the heartbeats: no failure nor outage (nothing counted
    as failed), but nothing posted before it is over. It keeps the receiver's answer, for the
    daemon's status to say why nothing is posted meanwhile (:meth:`state`), and when a wait was
    last said in the log (:meth:`to_say`), so that one paced by the console's limit is said once a
    minute, and the post delivered after it once (:meth:`said_over`)."""

    def __init__(self) -> None:
        self.until = 0.0  # nothing posted before then (time.monotonic())
        self.reason = ""  # the receiver's answer that asked for it, in words (:func:`_describe`)
        self._said_at: float | None = None  # when a wait was last said at warning level (monotonic)
        self._to_say_over = False  # a wait was said, and no post delivered since said it over

    def asked(self, err: BaseException, error: str, most_s: float) -> float | None:
        """The seconds the failed post's ``err`` (said ``error``) asks to wait, at least
        :data:`MIN_ASKED_WAIT_S` and at most ``most_s``, waited from now; None (and no wait) for another
        failure."""
        wait = retry_after(err)
        if wait is None:
            return None
        wait = min(max(wait, MIN_ASKED_WAIT_S), most_s)
        self.until, self.reason = time.monotonic() + wait, error
        return wait

    def left_s(self) -> float:
        """The seconds the wait lasts still; 0 once it is over (or none was asked)."""
        return max(0.0, self.until - time.monotonic())

    def lasts(self) -> bool:
        return self.left_s() > 0

    def end(self) -> None:
        """No wait from now on: the posts go to another receiver, whose wait it is not."""
        self.until = 0.0

    def state(self) -> dict[str, Any] | None:
        """For the daemon's status, while the wait lasts: ``for_s``, the seconds left, and ``reason``,
        the receiver's answer; None when none lasts."""
        left = self.left_s()
        return {"for_s": round(left, 1), "reason": self.reason} if left > 0 else None

    def to_say(self) -> bool:
        """Whether the wait just asked is said at warning level: the first, then one every
        :data:`WAIT_SAID_EVERY_S` (posts paced by the console's limit wait every few seconds), the
        others at debug level."""
        now = time.monotonic()
        if self._said_at is not None and now - self._said_at < WAIT_SAID_EVERY_S:
            return False
        self._said_at, self._to_say_over = now, True
        return True

    def said_over(self) -> bool:
        """Whether a post delivered after waits is to say so (at info level): the first since a wait
        was said (:meth:`to_say`), the others at debug level."""
        said, self._to_say_over = self._to_say_over, False
        return said


UNKNOWN_ALERT = 409
"""The answer to an agent's word on an alert the receiver has not (the console's ``unknown_alert``):
for good, the word is not posted again (:meth:`WebhookSink._word_not_deliverable`)."""


def _alert_unknown(err: BaseException) -> bool:
    """Whether a failed post of an agent's word is the receiver saying it has not its alert (:data:`UNKNOWN_ALERT`)."""
    return isinstance(err, urllib.error.HTTPError) and err.code == UNKNOWN_ALERT


NO_POSTS_HERE = (404, 405)
"""Answers of a receiver that takes no posts at the URL: a wrong path (the console's page, ``/``)."""
CONSOLE_PATH = "/webhook"
"""The path the supervisor console takes alerts at (which it never answers 404 or 405 to a post)."""


def _no_posts_here(url: str) -> str:
    """Why a receiver answered a post to ``url`` with one of :data:`NO_POSTS_HERE`, in one phrase: the
    console's path to post at, or, where ``url`` already ends in it, that what answers is no console."""
    if not urllib.parse.urlsplit(url).path.endswith(CONSOLE_PATH):
        return f"no alerts are taken at this URL (the supervisor console takes them at {CONSOLE_PATH})"
    return (f"no alerts are taken at this URL (what answers there is no supervisor console, which takes them at "
            f"{CONSOLE_PATH}: another program listens at that address, or a proxy before the console does not "
            f"pass {CONSOLE_PATH} on)")


def _refuses_the_alert(err: BaseException) -> bool:
    """Whether a failed post is the endpoint refusing that alert (413, 422: an HTTP 4xx answer not in
    :data:`NOT_THE_ALERTS_FAULT`), not an outage (no answer, a 5xx, a token or URL refused)."""
    return (isinstance(err, urllib.error.HTTPError) and 400 <= err.code < 500
            and err.code not in NOT_THE_ALERTS_FAULT)


UNTRUSTED_CERTIFICATE = ("a receiver with a certificate of its own (the console's --tls-cert): give the daemon "
                         "SSL_CERT_FILE=that certificate's file (install-service writes it into the unit)")
"""What a post refused for a certificate the system does not trust adds: how the daemon trusts it."""


def _describe(err: BaseException, token: str | None = None, identity: Identity | None = None) -> str:
    """One phrase on a failed post (:func:`_described`) on one line, every control character in what the
    receiver said (its reason, its status line's words, where it redirects) written as Python writes it
    (``\\x1b``: :func:`~monitor.console.one_line`): the log, ``status`` and ``alerts`` (and their JSON)
    show the same words, and none of them moves the cursor of the terminal that shows them."""
    return one_line(_described(err, token, identity))


def _described(err: BaseException, token: str | None = None, identity: Identity | None = None) -> str:
    """One phrase on a failed post; a refused token says the receiver's reason and how to give the
    right token, or, for the console's :data:`AGENT_MISMATCH`, the agent name the daemon posts as and
    where it comes from; any other refusal or server's error says the receiver's reason, if it gave one."""
    if isinstance(err, urllib.error.HTTPError):
        said = f"HTTP {err.code} {err.reason}"
        why, code = _receiver_says(err)
        if err.code == 403 and why and code == DAEMON_ID_TAKEN.code:
            said += (f": {why} (this daemon's database came from another desktop: give this desktop a database "
                     "of its own, storage.db)")
        elif err.code == 403 and token and why and code == AGENT_MISMATCH.code:  # the token known, not for this post
            posts_as = f"'{identity.agent}' " if identity is not None else ""
            said += f": {why} (this daemon posts as {posts_as}(delivery.agent_name))"
        elif err.code in (401, 403):
            given = "no token was sent" if not token else "the token sent was refused"
            reason = f"{why}; " if why else ""
            said += (f": {reason}{given} (give the receiver's token with --webhook-token-file or "
                     "delivery.webhook_token_file)")
        elif 300 <= err.code < 400:
            said += (f": the receiver redirects to {redact_url(err.headers.get('Location') or '?')}, which is not "
                     "followed (the token would go with it): give the webhook the URL it redirects to")
        elif err.code in NO_POSTS_HERE:
            said += f": {_no_posts_here(err.filename or '')}"
        elif why:  # the console's database failing, its limit, an alert's body it refuses (400, 413, 422)
            said += f": {why}"
        return said
    if isinstance(err, urllib.error.URLError):
        if isinstance(err.reason, ssl.SSLCertVerificationError):
            return f"{err.reason}; {UNTRUSTED_CERTIFICATE}"
        return _os_said(err.reason) if isinstance(err.reason, OSError) else str(err.reason)
    if isinstance(err, (ValueError, http.client.InvalidURL)):  # they quote the URL, secrets and all
        return "the URL cannot be posted to (not a valid http:// or https:// URL)"
    return _os_said(err) if isinstance(err, OSError) else str(err) or type(err).__name__


def _os_said(err: OSError) -> str:
    """A failed connection in words, without Python's ``[Errno 111]``; a refused one says what it
    means: nothing listens at that address (a console stopped, or one at another)."""
    if isinstance(err, ConnectionRefusedError):
        return "Connection refused: nothing listens at that address (the receiver is not running, or is elsewhere)"
    return err.strerror or str(err) or type(err).__name__


def _receiver_says(err: urllib.error.HTTPError) -> tuple[str | None, str | None]:
    """The ``error`` of a refusal's JSON body (the supervisor console's reason) on one line, and its
    ``code``; None for either not there."""
    if (read := getattr(err, "callmonitor_said", None)) is not None:  # its body is read once
        return read
    try:
        said = json_value(err.read(4096) or b"null")
    except (OSError, ValueError):
        said = None
    why, code = (said.get("error"), said.get("code")) if isinstance(said, dict) else (None, None)
    why = " ".join(why.split())[:200] if isinstance(why, str) and why.strip() else None  # on the warning's one line
    err.callmonitor_said = (why, code if isinstance(code, str) else None)  # type: ignore[attr-defined]
    return err.callmonitor_said  # type: ignore[attr-defined]


class Heartbeat:
    """Posts ``{"type": "heartbeat", agent, daemon_id, at, every_s, status}`` to ``url`` every
    ``every_s`` seconds from a thread (``status()`` gives the daemon's state: devices, call, last
    error); a failed beat is logged once per outage and not queued (the next one replaces it).
    :meth:`close` sends a last beat with ``"stopped": true``, after a beat still on its way (beats
    are posted one at a time, so the console never stores a running beat over the stopped one).
    ``watch()``, looked at every ``watch_s`` between beats, gives what the console must not learn
    ``every_s`` late (the devices' states, the call running): a change of it beats at once, so that a
    daemon just started is not shown with its devices down until its second beat.

    The console answers a beat with the acknowledgements of this daemon's alerts it has not taken
    yet (:mod:`monitor.delivery.acks`): each is handed to ``acked`` as an :class:`AlertAckedEvent`
    (from the heartbeat's thread), once, however often the console tells it again, and the next beat
    names them as taken (``acks_taken``). While ``awaits_ack()`` (a critical alert of the running call
    stands unacknowledged), a beat goes every ``awaiting_s`` (:data:`AWAITING_ACK_S`) at least: the agent learns of
    the acknowledgement within seconds, not ``every_s`` later. Each beat's status says within how long
    the next one comes (``next_beat_s``), so that the console calls a daemon beating fast silent after
    a few of those beats; a change of ``awaits_ack()`` beats at once, so that the console never holds
    the fast pace of a daemon gone back to ``every_s``.

    A beat answered 429 or 503 with ``Retry-After`` (the console's limit of an agent's beats, its
    ``max_connections``) is a wait, as an alert's post is (:class:`AskedWait`, at most ``max_wait_s``):
    no failed beat, said as a wait (:meth:`state`'s ``waiting``), nothing posted before it is over (a
    change of what is watched neither), and the next beat goes as it ends, not ``every_s`` later."""

    def __init__(self, url: str, identity: Identity | Sender, status: Callable[[], dict[str, Any]], *,
                 every_s: float, token: str | None = None, timeout_s: float = 5.0,
                 watch: Callable[[], object] = lambda: None, watch_s: float = 1.0,
                 acked: Callable[[AlertAckedEvent], None] = lambda ev: None,
                 awaits_ack: Callable[[], bool] = lambda: False, awaiting_s: float = AWAITING_ACK_S,
                 max_wait_s: float = 300.0) -> None:
        self.sender, self.status, self.acked = sender_of(identity), status, acked
        self.awaits_ack, self.awaiting_s = awaits_ack, awaiting_s
        self._acks_seen: collections.OrderedDict[tuple, None] = collections.OrderedDict()
        self._taken: list[int] = []  # the alert ids of the last answer's acknowledgements, for the next beat
        self.watch, self.watch_s = watch, watch_s
        self.target = Target(url, token)  # changed by a reload (:meth:`retarget`)
        self.every_s, self.timeout_s, self.max_wait_s = every_s, timeout_s, max_wait_s
        self.sent = 0
        self.failures = 0
        self.last_error = ""  # why the last beat failed; "" once one is delivered
        self._failing = False  # the last beat failed (one answered with a wait did not)
        self._failure_said = False  # a failed beat was said, and no beat delivered since
        self._wait = AskedWait()  # the receiver asked to wait (Retry-After): no beat before it is over
        self._waited = False  # the last beat was answered with such a wait: the next goes as it ends
        self._link_refusal_said = False  # a report link the console left out is said once
        self._stop = threading.Event()
        self._posting = threading.Lock()  # one beat on its way at a time: they arrive in order
        self._thread = threading.Thread(target=self._work, name="heartbeat", daemon=True)

    @property
    def url(self) -> str:
        return self.target.url

    def retarget(self, url: str, token: str | None) -> None:
        """Beat to ``url`` with ``token`` from now on (a beat being built goes there too); a wait the
        old receiver asked for is not the new one's."""
        new = Target(url, token)
        if new != self.target:
            self._wait.end()
        self.target = new

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    @property
    def identity(self) -> Identity:
        return self.sender.identity

    def body(self, stopped: bool = False) -> bytes:
        return self._body(self._status(stopped), self.identity)

    def _status(self, stopped: bool) -> dict[str, Any]:
        status = dict(self.status())
        status["next_beat_s"] = self.awaiting_s if self._awaits() and self.awaiting_s < self.every_s else self.every_s
        if stopped:
            status["stopped"] = True
        return status

    def _body(self, status: Mapping[str, Any], identity: Identity) -> bytes:
        taken = {"acks_taken": self._taken} if self._taken else {}
        return json.dumps({"type": "heartbeat", "source": "call-monitor", "agent": identity.agent,
                           "daemon_id": identity.daemon_id, "at": round(time.time(), 3),
                           "every_s": self.every_s, "status": status, **taken}, ensure_ascii=False).encode("utf-8")

    def beat(self, stopped: bool = False) -> bool:
        with self._posting:
            return self._beat(stopped)

    def _beat(self, stopped: bool) -> bool:
        target = self.target
        try:
            status = self._status(stopped)
            target = self.target  # after the status (the daemon's, which takes a while), and once
            headers = {"X-Callmonitor-Delivery": f"heartbeat-{uuid.uuid4().hex}"}  # never posted again: its own
            answer = post_as(self.sender, target, lambda who: self._body(status, who), timeout_s=self.timeout_s,
                             headers=headers)
        except Exception as err:  # refused, timeout, HTTP error: the next beat tries again
            error = _describe(err, target.token, self.identity)
            if (wait := self._wait.asked(err, error, self.max_wait_s)) is not None:  # no failed beat
                self._failing = False  # the receiver answered: a failure before it is past
                self._said_wait(target, wait)
                return False
            self._waited = False
            self.failures += 1
            self.last_error = error
            if not self._failure_said:
                log.warning("heartbeat %s: %s", target.shown_url, self.last_error, extra=problem_of("heartbeat"))
            self._failing = self._failure_said = True
            return False
        self._said_delivered(target)
        self._failing = self._failure_said = False
        self.last_error = ""
        self.sent += 1
        self._take_answer(answer)
        return True

    def _said_wait(self, target: Target, wait: float) -> None:
        """A wait the receiver asked for, no failure: said as the webhook's are (:meth:`AskedWait.to_say`)."""
        self._waited = True
        say = self._wait.to_say()
        log.log(logging.WARNING if say else logging.DEBUG, "heartbeat %s: the next beat waits %.1f s, as the "
                "receiver asks (%s)%s", target.shown_url, wait, self._wait.reason,
                f"; said again at most every {WAIT_SAID_EVERY_S:g} s" if say else "", extra=problem_of("heartbeat"))

    def _said_delivered(self, target: Target) -> None:
        """A beat delivered: after failures, said once (the failure said is resolved); after waits the
        receiver asked for, as the webhook's posts say it (:meth:`AskedWait.said_over`)."""
        waited, self._waited = self._waited, False
        over = waited and self._wait.said_over()
        if self._failure_said:
            log.info("heartbeat %s: delivered again", target.shown_url, extra=recovery_of("heartbeat"))
        elif waited:
            log.log(logging.INFO if over else logging.DEBUG, "heartbeat %s: delivered after the wait the receiver "
                    "asked for", target.shown_url, extra=recovery_of("heartbeat"))

    def _take_answer(self, answer: bytes) -> None:
        """The console's answer: its acknowledgements taken, a report link it left out said; an
        answer that is no JSON (another receiver's) tells neither."""
        try:
            said = json_value(answer or b"null")
        except ValueError:
            said = None
        self._take_acks(said)
        self._say_refused_link(said)

    def _say_refused_link(self, answer: Any) -> None:
        """One warning line, the first time the console leaves out a call report link this daemon
        made (``refused_reports``: the daemon and the console disagree on what a link may be; the
        beat itself was taken)."""
        refused = answer.get("refused_reports") if isinstance(answer, dict) else None
        if self._link_refusal_said or not isinstance(refused, list) or not refused:
            return
        first = refused[0] if isinstance(refused[0], dict) else {}
        log.warning("heartbeat %s: the console left out %d call report link(s) of this daemon's (%s: %s); "
                    "its supervisors see no report of those calls (said once)", self.target.shown_url,
                    len(refused), first.get("url"), first.get("error"))
        self._link_refusal_said = True

    def _take_acks(self, answer: Any) -> None:
        """Hand each acknowledgement the console's answer tells to :attr:`acked`, once (by alert, call
        and who acknowledged when)."""
        told = acked_events(answer)
        self._taken = [ev.alert_id for ev in told if ev.alert_id is not None]  # (each has one: ack_item)
        for ev in told:
            key = (ev.alert_id, ev.call_started_at, ev.by, ev.acked_at)
            if key in self._acks_seen:
                continue
            _keep(self._acks_seen, key, None)
            try:
                self.acked(ev)
            except Exception:  # noqa: BLE001 - the beats go on
                log.warning("heartbeat: an acknowledgement could not be taken", exc_info=True)

    def state(self) -> dict[str, Any]:
        """For the daemon's status: beats sent and failed, whether they fail now (and why), and the
        wait the receiver asked for while it lasts (:meth:`AskedWait.state`: no failure)."""
        return {"sent": self.sent, "failures": self.failures, "failing": self._failing,
                "last_error": self.last_error, "waiting": self._wait.state()}

    def _work(self) -> None:
        while not self._stop.is_set():
            seen = self._seen()
            self.beat()
            self._wait_next(seen)

    def _wait_next(self, seen: object) -> None:
        """Until the next beat is due (:meth:`_due`), or sooner once what is watched, or whether
        ``awaits_ack()``, is no longer as ``seen``, or ``awaiting_s`` (:data:`AWAITING_ACK_S`) after the
        last beat while ``awaits_ack()``; while a wait the receiver asked for lasts, nothing hastens it."""
        began = time.monotonic()
        while not self._stop.wait(max(0.0, min(self.watch_s, self._due(began) - time.monotonic()))):
            now = time.monotonic()
            if self._wait.lasts():
                continue
            if now >= self._due(began) or self._seen() != seen or (now - began >= self.awaiting_s and self._awaits()):
                return

    def _due(self, began: float) -> float:
        """When the next beat is due (time.monotonic()): ``every_s`` after the last, which ``began`` then;
        after one the receiver asked to wait for, as that wait ends (a reload's new URL: at once)."""
        return self._wait.until if self._waited else began + self.every_s

    def _seen(self) -> tuple[object, bool]:
        """What beats at once when it changes: what is watched, and whether the pace is the fast one."""
        return self._watched(), self._awaits()

    def _awaits(self) -> bool:
        try:
            return bool(self.awaits_ack())
        except Exception:  # noqa: BLE001 - it only hastens a beat
            log.debug("heartbeat: awaits_ack failed", exc_info=True)
            return False

    def _watched(self) -> object:
        try:
            return self.watch()
        except Exception:  # noqa: BLE001 - what is watched only hastens a beat
            log.debug("heartbeat: watch failed", exc_info=True)
            return None

    def close(self, timeout: float = 1.0) -> None:
        """Stop beating; the stopped beat waits for one still on its way (at most ``timeout_s``), and is
        not posted while a wait the receiver asked for lasts (it would be refused alike; the daemon
        does not stay for it): one line says so."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._wait.lasts():
                log.info("heartbeat %s: the stopped beat is not posted: the receiver asked to wait %.1f s more (%s); "
                         "its console shows this daemon silent, not stopped", self.target.shown_url,
                         self._wait.left_s(), self._wait.reason)
                return
            saved, self.timeout_s = self.timeout_s, min(self.timeout_s, timeout)
            self.beat(stopped=True)
            self.timeout_s = saved
