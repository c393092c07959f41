"""A desktop notification's buttons, "Handled" and "False alarm": the agent's word on its alert
(:mod:`~monitor.delivery.words`) said with a click.

``notify-send --action=KEY=Label`` (libnotify 0.8 and later) shows the buttons, then waits until one is
clicked (it prints that button's key) or the notification is closed (it prints nothing); it prints the
notification's id only as it ends, so a notification is shown first without them (``-p``: its id, as
today), then said again in its place (``-r ID``) with the buttons. Each notification with buttons has one
such process waiting, read by a thread of its own
(:class:`ButtonWaiters`), so neither the notifications' thread nor the pipeline ever waits on a click.
At most :data:`MAX_WAITING` wait at once: past that the oldest is given up (its notification stays, its
buttons do nothing; ``call-monitor outcome`` says its word). A notification replaced (its call over, a
supervisor's acknowledgement, its kind raised again) ends its waiter first, so a click on the new one is
heard once; the daemon's stop ends them all. A waiter is ended with SIGTERM, which leaves its
notification as it is (SIGINT would close it), and reaped.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from typing import Callable

from ..words import WORDS

log = logging.getLogger(__name__)

LABELS = dict(zip(WORDS, ("Handled", "False alarm")))
"""The buttons: each word (:data:`~monitor.delivery.words.WORDS`) and its button's label."""

MAX_WAITING = 8
"""The most notifications whose buttons are waited on at once."""


def button_args() -> list[str]:
    """``notify-send``'s arguments for the buttons."""
    return [f"--action={word}={label}" for word, label in LABELS.items()]


class _Waiter:
    """One waiting ``notify-send``, the alert its buttons speak of, and the thread that reads it."""

    def __init__(self, proc: subprocess.Popen, alert_id: int, read: Callable[[_Waiter], None]) -> None:
        self.proc, self.alert_id = proc, alert_id
        self.thread = threading.Thread(target=read, args=(self,), name=f"notify buttons {alert_id}", daemon=True)

    def end(self, timeout: float = 1.0) -> None:
        """SIGTERM (SIGKILL after ``timeout``): the process goes, its notification stays as it is; once
        this returns, it says nothing more to the notification server."""
        try:
            self.proc.terminate()
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        except OSError:  # gone already
            pass


class ButtonWaiters:
    """The waiting ``notify-send`` processes, by the notification they wait on; ``on_click(alert_id,
    word)`` is called (from the waiter's thread) when a button was clicked."""

    def __init__(self, on_click: Callable[[int, str], None], cap: int = MAX_WAITING) -> None:
        self._on_click = on_click
        self._cap = cap
        self._lock = threading.Lock()
        self._waiting: dict[str, _Waiter] = {}
        """By notification id, the oldest first."""
        self._live: set[_Waiter] = set()
        """Every waiter whose process is not reaped yet (ended ones too)."""
        self._closed = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def wait(self, notification_id: str, alert_id: int, proc: subprocess.Popen) -> None:
        """Read ``proc``, showing notification ``notification_id`` with the buttons of alert ``alert_id``,
        in a thread until it ends; the oldest waiter is given up past the cap."""
        waiter = _Waiter(proc, alert_id, self._read)
        with self._lock:
            ended = [w for w in (self._waiting.pop(notification_id, None),) if w is not None]
            given_up = [] if self._closed else [self._waiting.pop(k) for k in list(self._waiting)[:max(
                0, len(self._waiting) + 1 - self._cap)]]
            if self._closed:
                ended.append(waiter)  # the daemon stops: nothing waits any more
            else:
                self._waiting[notification_id] = waiter
            self._live.add(waiter)
            waiter.thread.start()
        for w in (*ended, *given_up):
            w.end()
        for w in given_up:
            log.info("the buttons of alert %d's notification are given up (more than %d wait at once): "
                     "`call-monitor outcome %d` says its word", w.alert_id, self._cap, w.alert_id)

    def end(self, notification_id: str) -> None:
        """Notification ``notification_id`` is replaced or goes: its waiter (if any) ends."""
        with self._lock:
            waiter = self._waiting.pop(notification_id, None)
        if waiter is not None:
            waiter.end()

    def _read(self, waiter: _Waiter) -> None:
        """Read ``waiter`` to its end, then hand on its click; it stays live until the click is handed
        on, so that :meth:`close` (the daemon's stop) waits for a word being kept before the database closes."""
        out, _ = waiter.proc.communicate()  # a clicked button's key, or nothing: closed, or ended
        with self._lock:
            for k, w in list(self._waiting.items()):
                if w is waiter:
                    del self._waiting[k]
        try:
            word = (out or b"").decode("utf-8", "replace").strip().splitlines()[-1:]
            if waiter.proc.returncode == 0 and word and word[0] in WORDS:
                self._on_click(waiter.alert_id, word[0])
            elif waiter.proc.returncode not in (0, -15):
                log.info("desktop notification's buttons: notify-send ended with exit code %s",
                         waiter.proc.returncode)
        finally:
            with self._lock:
                self._live.discard(waiter)

    def close(self, timeout: float = 1.0) -> None:
        """The daemon stops: every waiter ends (:meth:`_Waiter.end`) and its thread, which reaps it, with it."""
        with self._lock:
            self._closed = True
            waiters, self._waiting = list(self._live), {}
        for w in waiters:
            w.end(timeout)
        for w in waiters:
            w.thread.join(timeout)
