"""Desktop notifications through ``notify-send`` (freedesktop notifications).

Critical alerts go out with critical urgency (they stay until dismissed on most
desktops), warnings with normal urgency. ``notify-send`` runs in a background
thread so a slow or missing notification server never delays the pipeline;
every failure is logged (the first of each kind as a warning) and never raised.
"""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import threading

from ...alerts.meaning import meaning
from ...events import AlertEvent, Event

log = logging.getLogger(__name__)


OFF_HINT = " (no desktop here? `run --no-notify` or delivery.notify = false turns them off)"
"""Said with the first failure of each kind: a daemon on a machine without a desktop (a server, a
session without D-Bus) is told how to stop trying."""


class NotifySink:
    def __init__(self, *, command: str = "notify-send", app_name: str = "call-monitor",
                 timeout_s: float = 5.0) -> None:
        self.command = command
        self.app_name = app_name
        self.timeout_s = timeout_s
        self.sent = 0
        self.failures = 0
        self._warned: set[str] = set()
        self._q: "queue.Queue[AlertEvent | None]" = queue.Queue(100)
        self._thread = threading.Thread(target=self._work, name="notify", daemon=True)
        self._thread.start()

    @staticmethod
    def format(ev: AlertEvent) -> tuple[str, str, str]:
        """(urgency, summary, body) of an alert: the body says what the alert means first, then
        what to do, then the measured evidence (a desktop shows a notification's first lines); an
        alert without such words (a distress phrase: the caller's own) says its message first."""
        urgency = "critical" if ev.severity == "critical" else "normal"
        label = "CRITICAL" if ev.severity == "critical" else "Warning"
        summary = f"{label}: {ev.kind.replace('_', ' ')}"
        message = ev.message if ev.stored else ev.message + " (not stored: the database is failing)"
        said = meaning(ev.kind)
        actions = [f"• {a}" for a in ev.actions[:5]]
        lines = [said[0].upper() + said[1:], *actions, message] if said else [message, *actions]
        return urgency, summary, "\n".join(lines)

    def __call__(self, event: Event) -> None:
        if isinstance(event, AlertEvent):
            try:
                self._q.put_nowait(event)
            except queue.Full:
                self._fail("queue full", "notification dropped: too many pending")

    def _fail(self, key: str, message: str) -> None:
        self.failures += 1
        level = logging.WARNING if key not in self._warned else logging.INFO
        self._warned.add(key)
        hint = OFF_HINT if level == logging.WARNING else ""
        log.log(level, "desktop notification failed: %s%s", message, hint)

    def _work(self) -> None:
        while True:
            ev = self._q.get()
            if ev is None:
                return
            self.send(ev)

    def send(self, ev: AlertEvent) -> bool:
        if shutil.which(self.command) is None:
            self._fail("missing", f"{self.command} not found (install libnotify-bin)")
            return False
        urgency, summary, body = self.format(ev)
        try:
            r = subprocess.run([self.command, "-u", urgency, "-a", self.app_name, "-c", "call-monitor",
                                summary, body], capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self._fail("timeout", f"{self.command} did not return within {self.timeout_s:g} s")
            return False
        except OSError as err:
            self._fail("oserror", str(err))
            return False
        if r.returncode != 0:
            why = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[0]
            self._fail("exit", f"{self.command}: {why}")
            return False
        self.sent += 1
        return True

    def close(self, timeout: float = 1.0) -> None:
        try:
            self._q.put_nowait(None)
        except queue.Full:
            return
        self._thread.join(timeout)
