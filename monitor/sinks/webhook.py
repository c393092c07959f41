"""Supervisor webhook: HTTP POST of the alert JSON, delivered from the SQLite outbox.

The daemon queues each stored alert in the store's ``deliveries`` table
(:meth:`WebhookSink.__call__`), and a worker thread posts what is due with a
timeout; a failure is logged and retried with exponential backoff (``backoff_s``
doubling up to ``max_backoff_s``; ``retries`` = 0 keeps trying). Because the
queue lives in the database, an alert not delivered before a restart is
delivered by the next daemon once the endpoint answers, and one that was
delivered is never posted again.

Critical alerts are never left waiting on a long backoff: a pending critical is retried at
least every ``CRITICAL_RETRY_S``, and the first success after failures makes every pending
delivery due at once, so the supervisor gets what waited within seconds of the endpoint's
return. An alert the database could not store (``stored=False``) is delivered from memory
with the same retry rules. ``include_phrase_text=False`` leaves the caller's words (the
distress phrase excerpt) out of what is posted.
"""

from __future__ import annotations

import collections
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from typing import Any, Callable

from ..console import log as console_log
from ..events import AlertEvent, Event
from ..store import Delivery, Store, StoreError

Log = Callable[[str, str], None]

CRITICAL_RETRY_S = 3.0
"""A pending critical alert is retried at least this often, whatever the backoff reached."""
MEMORY_LIMIT = 10_000
"""Alerts held in memory (not stored) beyond this are dropped oldest first, with a warning."""


def redact_phrase_text(alert: AlertEvent) -> AlertEvent:
    """The alert without the caller's own words: the excerpt of what was said is removed from the
    evidence, and the message names the listed phrase it matched instead."""
    ev = dict(alert.evidence)
    nested = ev.get("phrase") if isinstance(ev.get("phrase"), dict) else None
    excerpt = ev.get("excerpt") if nested is None else nested.get("excerpt")
    listed = ev.get("phrase") if nested is None else nested.get("phrase")
    if not isinstance(excerpt, str) or not excerpt:
        return alert
    if nested is None:
        ev["excerpt"] = None
    else:
        ev["phrase"] = {**nested, "excerpt": None}
    message = alert.message.replace(f'"{excerpt}"', f'a listed distress phrase ("{listed}")')
    return replace(alert, evidence=ev, message=message.replace(excerpt, "[words withheld]"))


def payload(alert: AlertEvent, include_phrase_text: bool = True) -> bytes:
    d = (alert if include_phrase_text else redact_phrase_text(alert)).to_dict()
    d["source"] = "call-monitor"
    return json.dumps(d, ensure_ascii=False).encode("utf-8")


@dataclass
class _Held:
    """An alert the database could not store, delivered from memory."""

    alert: AlertEvent
    attempts: int = 0
    next_at: float = 0.0


class WebhookSink:
    def __init__(self, store: Store, url: str, *, timeout_s: float = 5.0, retries: int = 0,
                 backoff_s: float = 2.0, max_backoff_s: float = 300.0, log: Log | None = None,
                 poll_s: float = 0.5, include_phrase_text: bool = True) -> None:
        self.store = store
        self.include_phrase_text = include_phrase_text
        self._memory: collections.deque[_Held] = collections.deque()
        self._memory_lock = threading.Lock()
        self._store_warned = False
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.log = log or console_log
        self.poll_s = poll_s
        self.delivered = 0
        self.failures = 0
        self.last_error = ""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="webhook", daemon=True)

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
                    self.log("warning", f"webhook {self.url}: outbox not writable ({err}); "
                             "delivering from memory")
        with self._memory_lock:
            if len(self._memory) >= MEMORY_LIMIT:
                lost = self._memory.popleft()
                self.log("warning", f"webhook {self.url}: too many undelivered alerts held in memory; "
                         f"dropped the oldest ({lost.alert.kind} at {lost.alert.t:.1f} s)")
            self._memory.append(_Held(event, next_at=time.time()))
        self._wake.set()

    def pending(self) -> int:
        held = len(self._memory)
        try:
            return held + sum(1 for d in self.store.deliveries("pending") if d.target == self.url)
        except StoreError:
            return held

    def _retry_delay(self, attempts: int, severity: str) -> float:
        delay = min(self.backoff_s * 2 ** (attempts - 1), self.max_backoff_s)
        return min(delay, CRITICAL_RETRY_S) if severity == "critical" else delay

    def _post(self, d: Delivery | _Held) -> None:
        tag = str(d.id) if isinstance(d, Delivery) else f"memory-{d.alert.call_id}-{d.alert.kind}-{d.alert.t}"
        req = urllib.request.Request(self.url, data=payload(d.alert, self.include_phrase_text), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "call-monitor",
                                              "X-Callmonitor-Delivery": tag})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            resp.read(1 << 16)

    def deliver_memory(self) -> int:
        """One pass over the alerts held in memory; returns how many were delivered."""
        now = time.time()
        with self._memory_lock:
            due = [h for h in self._memory if h.next_at <= now]
        n = 0
        for h in due:
            if self._stop.is_set():
                break
            try:
                self._post(h)
            except Exception as err:  # HTTP error, refused, timeout, DNS...
                self.failures += 1
                self.last_error = _describe(err)
                h.attempts += 1
                if self.retries and h.attempts > self.retries:
                    with self._memory_lock:
                        self._memory.remove(h)
                    self.log("warning", f"webhook {self.url}: unstored {h.alert.kind} alert failed "
                             f"({self.last_error}); giving up after {h.attempts} attempts")
                else:
                    h.next_at = time.time() + self._retry_delay(h.attempts, h.alert.severity)
                continue
            with self._memory_lock:
                self._memory.remove(h)
            self.delivered += 1
            n += 1
        return n

    def deliver_due(self) -> int:
        """One pass over the due outbox rows for this URL; returns how many were delivered."""
        n = 0
        for d in self.store.due_deliveries(target=self.url):
            if self._stop.is_set():
                break
            try:
                self._post(d)
            except Exception as err:  # HTTP error, refused, timeout, DNS...
                self.failures += 1
                self.last_error = _describe(err)
                attempts = d.attempts + 1
                if self.retries and attempts > self.retries:
                    self.store.mark_failed(d.id, None, self.last_error)
                    self.log("warning", f"webhook {self.url}: alert {d.alert_id} failed "
                             f"({self.last_error}); giving up after {attempts} attempts")
                else:
                    delay = self._retry_delay(attempts, d.alert.severity)
                    self.store.mark_failed(d.id, time.time() + delay, self.last_error)
                    self.log("warning", f"webhook {self.url}: alert {d.alert_id} not delivered "
                             f"({self.last_error}); retry {attempts} in {delay:.1f} s")
                continue
            self.store.mark_delivered(d.id)
            self.delivered += 1
            n += 1
            if d.attempts:
                self.log("info", f"webhook {self.url}: alert {d.alert_id} delivered after "
                         f"{d.attempts + 1} attempts")
                # the endpoint is back: what waited on a long backoff is due now
                self.store.reschedule_pending(self.url, time.time())
        return n

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_memory()
                self.deliver_due()
            except Exception as err:  # never let the worker die (database busy, ...)
                self.log("warning", f"webhook worker: {_describe(err)}")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def close(self, timeout: float = 1.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


def _describe(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err) or type(err).__name__
