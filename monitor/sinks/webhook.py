"""Supervisor webhook: HTTP POST of the alert JSON, delivered from the SQLite outbox.

The daemon queues each stored alert in the store's ``deliveries`` table
(:meth:`WebhookSink.__call__`), and a worker thread posts what is due with a
timeout; a failure is logged and retried with exponential backoff (``backoff_s``
doubling up to ``max_backoff_s``; ``retries`` = 0 keeps trying). Because the
queue lives in the database, an alert not delivered before a restart is
delivered by the next daemon once the endpoint answers, and one that was
delivered is never posted again.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Callable

from ..console import log as console_log
from ..events import AlertEvent, Event
from ..store import Delivery, Store

Log = Callable[[str, str], None]


def payload(alert: AlertEvent) -> bytes:
    d = alert.to_dict()
    d["source"] = "call-monitor"
    return json.dumps(d, ensure_ascii=False).encode("utf-8")


class WebhookSink:
    def __init__(self, store: Store, url: str, *, timeout_s: float = 5.0, retries: int = 0,
                 backoff_s: float = 2.0, max_backoff_s: float = 300.0, log: Log | None = None,
                 poll_s: float = 0.5) -> None:
        self.store = store
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
        if isinstance(event, AlertEvent) and event.alert_id is not None:
            self.store.enqueue_delivery(event.alert_id, self.url)
            self._wake.set()

    def pending(self) -> int:
        return sum(1 for d in self.store.deliveries("pending") if d.target == self.url)

    def _post(self, d: Delivery) -> None:
        req = urllib.request.Request(self.url, data=payload(d.alert), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "call-monitor",
                                              "X-Callmonitor-Delivery": str(d.id)})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            resp.read(1 << 16)

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
                    delay = min(self.backoff_s * 2 ** (attempts - 1), self.max_backoff_s)
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
        return n

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
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
