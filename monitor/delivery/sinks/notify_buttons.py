"""A desktop notification's buttons, "Handled" and "False alarm": the agent's word on its alert
(:mod:`~monitor.delivery.words`) said with a click.

``notify-send -p --action=KEY=Label`` (libnotify 0.8 and later) shows the notification with the buttons
and prints its id, then waits until a button is clicked (it prints that button's key) or the
notification is closed (it prints nothing). Its output is a terminal's (:func:`show_waiting`): into a
pipe the id would stay in its buffer until it ends. So a notification with buttons is one request to the
notification server, shown once, its id known at once (to replace it later). Each such process waits,
read by a thread of its own
(:class:`ButtonWaiters`), so neither the notifications' thread nor the pipeline ever waits on a click.
At most :data:`MAX_WAITING` wait at once: past that the oldest warning's is given up (its notification
stays, its buttons do nothing; ``call-monitor outcome`` says its word), a critical one's only when every
one waiting is critical, so that warnings never push out the buttons of a running call's critical
alert. A notification replaced (its call over, a supervisor's acknowledgement, its kind raised again)
ends its waiter first, so a click on the new one is heard once; the daemon's stop ends them all. A
waiter is ended with SIGTERM, which leaves its notification as it is (SIGINT would close it), and reaped.
"""

from __future__ import annotations

import logging
import os
import pty
import select
import subprocess
import threading
import time
from typing import Callable, NamedTuple

from ..words import WORDS

log = logging.getLogger(__name__)

LABELS = dict(zip(WORDS, ("Handled", "False alarm")))
"""The buttons: each word (:data:`~monitor.delivery.words.WORDS`) and its button's label."""

MAX_WAITING = 8
"""The most notifications whose buttons are waited on at once."""


def button_args() -> list[str]:
    """``notify-send``'s arguments for the buttons."""
    return [f"--action={word}={label}" for word, label in LABELS.items()]


class NotShown(Exception):
    """``notify-send`` showed no notification with buttons: ``key`` the kind of failure (``exit``,
    ``timeout``), the message what it said."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class Waiting(NamedTuple):
    """A ``notify-send`` showing a notification with the buttons and waiting for a click: the
    notification's id, the process, the terminal its output comes on and what came after the id."""

    id: str
    proc: subprocess.Popen
    out: int
    said: bytes


def show_waiting(argv: list[str], timeout_s: float) -> Waiting:
    """Start ``argv`` (``notify-send -p`` with the buttons), its output a terminal's, which it writes a
    line at a time: the notification's id as soon as it is shown. Raises OSError, or
    :class:`NotShown` where it ended without an id (its first line says why) or said none within
    ``timeout_s`` (it is killed)."""
    out, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal)
    except OSError:
        os.close(out)
        raise
    finally:
        os.close(terminal)
    first, _, rest = _first_line(out, timeout_s).partition(b"\n")
    nid = first.decode("utf-8", "replace").strip()
    if nid.isdigit():
        return Waiting(nid, proc, out, rest)
    proc.kill()
    proc.wait()
    os.close(out)
    if proc.returncode == -9:
        raise NotShown("timeout", f"{argv[0]} did not return within {timeout_s:g} s")
    raise NotShown("exit", f"{argv[0]}: {nid or f'exit code {proc.returncode}'}")


def _first_line(out: int, timeout_s: float) -> bytes:
    """What terminal ``out`` says up to its first line's end, ``timeout_s`` at most (less: it ended)."""
    said, end = b"", time.monotonic() + timeout_s
    while b"\n" not in said and (left := end - time.monotonic()) > 0 and select.select([out], [], [], left)[0]:
        chunk = _read(out)
        if not chunk:
            break
        said += chunk
    return said


def _read(out: int) -> bytes:
    """A read of terminal ``out``; b"" once its process ended (EIO: nothing holds the terminal)."""
    try:
        return os.read(out, 4096)
    except OSError:
        return b""


class _Waiter:
    """One waiting ``notify-send``, the alert its buttons speak of, whether its notification is a
    critical one, and the thread that reads it."""

    def __init__(self, shown: Waiting, alert_id: int, critical: bool, read: Callable[[_Waiter], None]) -> None:
        self.proc, self.alert_id, self.critical, self.shown = shown.proc, alert_id, critical, shown
        self.thread = threading.Thread(target=read, args=(self,), name=f"notify buttons {alert_id}", daemon=True)

    def said(self) -> bytes:
        """All it says after the id, read to its end (its terminal closed then); then it is reaped."""
        said = self.shown.said
        try:
            while chunk := _read(self.shown.out):
                said += chunk
        finally:
            os.close(self.shown.out)
        self.proc.wait()
        return said

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
        """Every waiter whose process is not reaped yet, or its click not handed on (ended ones too)."""
        self._closed = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def wait(self, shown: Waiting, alert_id: int, critical: bool = False) -> None:
        """Read ``shown``, the notification with the buttons of alert ``alert_id`` (a ``critical``
        one, or not), in a thread until it ends; past the cap, waiters are given up (:meth:`_over_cap`)."""
        notification_id, waiter = shown.id, _Waiter(shown, alert_id, critical, self._read)
        with self._lock:
            replaced = self._waiting.pop(notification_id, None)
            ended = [replaced] if replaced is not None else []
            if self._closed:
                ended.append(waiter)  # the daemon stops: nothing waits any more
            else:
                self._waiting[notification_id] = waiter
            given_up = [] if self._closed else self._over_cap()
            self._live.add(waiter)
            waiter.thread.start()
        for w in (*ended, *given_up):
            w.end()
        for w in given_up:
            log.info("the buttons of alert %d's notification are given up (more than %d wait at once): "
                     "`call-monitor outcome %d` says its word", w.alert_id, self._cap, w.alert_id)

    def _over_cap(self) -> list[_Waiter]:
        """The waiters given up past the cap, taken out of those waiting (the lock held): the oldest
        warnings' first, critical ones' (the oldest first) only when every one waiting is critical (a
        warning shown then is given up at once, before any critical one)."""
        over = len(self._waiting) - self._cap
        if over <= 0:
            return []
        by_need = sorted(self._waiting, key=lambda k: self._waiting[k].critical)  # stable: the oldest first
        return [self._waiting.pop(k) for k in by_need[:over]]

    def end(self, notification_id: str) -> None:
        """Notification ``notification_id`` is replaced or goes: its waiter (if any) ends."""
        with self._lock:
            waiter = self._waiting.pop(notification_id, None)
        if waiter is not None:
            waiter.end()

    def _read(self, waiter: _Waiter) -> None:
        """Read ``waiter`` to its end, then hand on its click; it stays live until the click is handed
        on, so that :meth:`close` (the daemon's stop) waits for a word being kept before the database closes."""
        out = waiter.said()  # a clicked button's key, or nothing: closed, or ended
        with self._lock:
            for k, w in list(self._waiting.items()):
                if w is waiter:
                    del self._waiting[k]
        try:
            word = out.decode("utf-8", "replace").strip().splitlines()[-1:]
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
