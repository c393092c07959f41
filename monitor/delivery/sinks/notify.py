"""Desktop notifications through ``notify-send`` (freedesktop notifications).

Critical alerts go out with critical urgency (they stay until dismissed on most
desktops), warnings with normal urgency. A critical alert of a kind its call has on the desktop already
(raised again after it cleared) replaces that notification rather than piling up beside it. When its
call is over (its summary comes, or the daemon says it failed without one: :meth:`NotifySink.call_ended`), each critical notification of it still on the desktop is replaced by
a normal one saying so (``notify-send -p`` / ``-r``, libnotify 0.8 and later; older ones leave it), so
that the agent, on with the next caller, does not read "Get the caller's exact location" about one who
hung up; a call the daemon's stop ends (:meth:`NotifySink.keep_shown`) is not over, and its notification
stays. A critical alert a supervisor acknowledged on the console replaces its notification with one
saying who did and when, above what the alert said (:meth:`NotifySink.acked`); acknowledged once its
call is over, it is said in a normal notification, not a critical one that would stay into the next
call. With ``include_phrase_text=False`` (``delivery.include_phrase_text``) a distress phrase's alert
names the listed phrase, not the caller's own words, as the webhook does. A body is plain text, said as
such (:func:`body_text`): notification servers read a body as markup, so a name typed on the console, a
caller's words or a configured action could otherwise be a link or bold text on the agent's desktop.
``notify-send`` runs in a background thread so a slow or missing notification server never
delays the pipeline; every failure is logged (the first of each kind as a warning) and never raised.

With ``buttons`` (``delivery.notify_buttons``) and a daemon to keep the word (:meth:`NotifySink.take_words`),
each notification of one stored alert (the alert's, and what replaces it: its acknowledgement while its
call goes on, its call-over one) carries the
buttons "Handled" and "False alarm" (:mod:`.notify_buttons`, libnotify 0.8 and later: an older
``notify-send`` is said once in the log and shows none): a click is the agent's word on that alert, as
``call-monitor outcome ID handled`` says it, unless a word was given already (kept: the click is refused),
and a normal notification says what was done.
"""

from __future__ import annotations

import html
import logging
import queue
import shutil
import subprocess
import threading
from typing import Any, Callable, NamedTuple

from ...alerts.evidence import redact_phrase_text
from ...alerts.meaning import kind_name, meaning
from ...events import AlertAckedEvent, AlertEvent, CallSummaryEvent, Event
from ...local_time import local_text
from ..words import said
from .notify_buttons import MAX_WAITING, ButtonWaiters, NotShown, button_args, show_waiting

log = logging.getLogger(__name__)


OFF_HINT = " (no desktop here? `run --no-notify` or delivery.notify = false turns them off)"
"""Said with the first failure of each kind: a daemon on a machine without a desktop (a server, a
session without D-Bus) is told how to stop trying."""


def body_text(*lines: str) -> str:
    """``lines`` as a notification's body: plain text, ``&``, ``<`` and ``>`` escaped, since a
    notification server reads a body as markup (``<a href>``, ``<b>``) and would render them."""
    return html.escape("\n".join(lines), quote=False)


KEEP_SHOWN = "keep shown"
"""On the sink's queue: forget the critical notifications shown (:meth:`NotifySink.keep_shown`)."""


class CallEnded(NamedTuple):
    """On the sink's queue: call ``call_id`` ended without a summary (:meth:`NotifySink.call_ended`)."""

    call_id: int | None


class Clicked(NamedTuple):
    """On the sink's queue: a notification's button said ``word`` of alert ``alert_id``, and the daemon's
    answer (``{"ok": True, "message": ...}`` or ``{"error": ...}``)."""

    alert_id: int
    word: str
    answer: dict[str, Any]


CRITICAL, NORMAL = "critical", "normal"
"""A notification's urgencies (``notify-send -u``): a critical one stays until dismissed on most
desktops, a normal one goes by itself."""


class Notification(NamedTuple):
    """A notification as it is shown: its urgency (:data:`CRITICAL` or :data:`NORMAL`), summary and
    body (:func:`body_text`)."""

    urgency: str
    summary: str
    body: str


class Shown(NamedTuple):
    """A critical notification on the desktop: its id, its alert's call time and what it said of
    the alert (kept under the alert's acknowledgement: the alert stands, and so do its next steps),
    and the alert's id (its buttons'; None: not stored yet, no buttons)."""

    id: str
    t: float
    body: str
    alert_id: int | None = None


def call_time(t: float) -> str:
    """Call time ``t`` as a notification says it: ``01:33``, ``1:02:05`` past an hour."""
    m, s = divmod(int(t), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class NotifySink:
    def __init__(self, *, command: str = "notify-send", app_name: str = "call-monitor",
                 timeout_s: float = 5.0, include_phrase_text: bool = True, buttons: bool = True,
                 max_waiting: int = MAX_WAITING) -> None:
        self.command = command
        self.buttons = buttons
        """Whether a stored alert's notifications carry the buttons (``delivery.notify_buttons``)."""
        self._word: Callable[[int, str], dict[str, Any]] | None = None
        """Who keeps a button's word (:meth:`take_words`); none: no buttons."""
        self._waiters = ButtonWaiters(self._clicked, max_waiting)
        self._help: str | None = None
        """What ``COMMAND --help`` says (what it can), asked once, when first needed."""
        self._said_no_buttons = False
        self._clicked_on: set[int] = set()
        """The alerts a click kept the word of: their later notifications carry no buttons."""
        self.app_name = app_name
        self.timeout_s = timeout_s
        self.include_phrase_text = include_phrase_text
        self.sent = 0
        self.failures = 0
        self._warned: set[str] = set()
        self._prints_id: bool | None = None
        """Whether the command prints the notification's id (``-p``): asked once, when first needed."""
        self._shown: dict[int | None, dict[str, Shown]] = {}
        """Each call's critical notifications on the desktop, by the alert's kind."""
        self._open: set[int | None] = set()
        """The calls an alert came of and no summary yet: their caller is still on the line."""
        self._q: "queue.Queue[AlertEvent | CallSummaryEvent | AlertAckedEvent | CallEnded | Clicked | str | None]" = \
            queue.Queue(100)
        self._thread = threading.Thread(target=self._work, name="notify", daemon=True)
        self._thread.start()

    @staticmethod
    def format(ev: AlertEvent, include_phrase_text: bool = True) -> Notification:
        """An alert's notification, critical for a critical alert, else normal: the body (:func:`body_text`) says what the alert means first, then
        what to do, then the measured evidence (a desktop shows a notification's first lines); an
        alert without such words (a distress phrase: the caller's own, or without
        ``include_phrase_text`` the listed phrase they matched) says its message first."""
        if not include_phrase_text:
            ev = redact_phrase_text(ev)
        label = "CRITICAL" if ev.severity == "critical" else "Warning"
        summary = f"{label}: {kind_name(ev.kind)}"
        message = ev.message if ev.stored else ev.message + " (not stored: the database is failing)"
        said = meaning(ev.kind)
        actions = [f"• {a}" for a in ev.actions[:5]]
        lines = [said[0].upper() + said[1:], *actions, message] if said else [message, *actions]
        return Notification(CRITICAL if ev.severity == "critical" else NORMAL, summary, body_text(*lines))

    def __call__(self, event: Event) -> None:
        if isinstance(event, (AlertEvent, CallSummaryEvent)) or (
                isinstance(event, AlertAckedEvent) and event.severity == "critical"):
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
            if ev == KEEP_SHOWN:
                self._shown.clear()
            elif isinstance(ev, CallSummaryEvent):
                self.call_over(ev)
            elif isinstance(ev, CallEnded):
                self._over(ev.call_id)
            elif isinstance(ev, AlertAckedEvent):
                self.acked(ev)
            elif isinstance(ev, Clicked):
                self.say_clicked(ev)
            elif isinstance(ev, AlertEvent):  # (the only other kind put)
                self.send(ev)

    def keep_shown(self) -> None:
        """The daemon stops: the calls it ends now go on without it (a restart mid-call), so their
        critical notifications stay on the desktop (after those still being sent)."""
        try:
            self._q.put_nowait(KEEP_SHOWN)
        except queue.Full:
            pass

    def call_ended(self, call_id: int | None) -> None:
        """Call ``call_id`` failed and ended without a summary (its audio or the database failed): it is
        over as :meth:`call_over` says (after the notifications still being sent)."""
        try:
            self._q.put_nowait(CallEnded(call_id))
        except queue.Full:
            self._fail("queue full", "notification dropped: too many pending")

    def send(self, ev: AlertEvent) -> bool:
        self._open.add(ev.call_id)
        n = self.format(ev, self.include_phrase_text)
        alert_id = ev.alert_id if ev.stored else None  # one held back by a failing database has no id yet
        if n.urgency == CRITICAL:
            return self._critical(ev.call_id, ev.kind, ev.t, n, n.body, alert_id)
        return self._plain(n, alert_id)

    def _plain(self, n: Notification, alert_id: int | None = None) -> bool:
        """Notification ``n``, not kept: it goes as its urgency says (a normal one by itself), with the
        buttons of alert ``alert_id`` (None: none)."""
        if self._show(n, alert_id) is None:
            return False
        self.sent += 1
        return True

    def _critical(self, call_id: int | None, kind: str, t: float, n: Notification, alert_body: str,
                  alert_id: int | None = None) -> bool:
        """Critical notification ``n`` of ``call_id``'s alert ``kind`` (raised at call time ``t``, said
        as ``alert_body``, stored as ``alert_id``, whose buttons it carries): in place of the one of
        its kind on the desktop, if any, and kept, where the command prints its id, to be replaced
        once the call is over."""
        calls = self._shown.setdefault(call_id, {})
        keep = self._can_print_id()
        shown = calls.get(kind)
        if shown:
            self._waiters.end(shown.id)  # before the new one comes: a click on it is heard once
        nid = self._show(n, alert_id if keep else None, replaces=shown.id if shown else None, print_id=keep)
        if nid is None:
            return False
        if keep and nid.isdigit():
            calls[kind] = Shown(nid, t, alert_body, alert_id)
        self.sent += 1
        return True

    def take_words(self, word: Callable[[int, str], dict[str, Any]]) -> None:
        """A button's click is said to ``word(alert_id, word)``, which keeps it as ``call-monitor
        outcome`` does and answers as the daemon answers it (from the button's thread)."""
        self._word = word

    def _has_buttons(self, alert_id: int | None) -> bool:
        """Whether a notification of alert ``alert_id`` carries the buttons: one stored, buttons on, a
        daemon to keep the word, and a command that shows them (an older one said once)."""
        if alert_id is None or not self.buttons or self._word is None or alert_id in self._clicked_on:
            return False
        if "--action" not in self._help_text():
            if not self._said_no_buttons:
                self._said_no_buttons = True
                log.info("%s shows no buttons (--action: libnotify 0.8 and later): notifications carry none; "
                         "`call-monitor outcome` says the agent's word", self.command)
            return False
        return True

    def _show(self, n: Notification, alert_id: int | None, *, replaces: str | None = None,
              print_id: bool = False) -> str | None:
        """Notification ``n`` shown by ``notify-send`` (in place of notification ``replaces``, if any), with
        the buttons of alert ``alert_id`` where it carries them (:meth:`_has_buttons`): shown with them
        at once, by a ``notify-send`` left waiting for a click (:class:`ButtonWaiters`). What it printed
        (the id where ``print_id`` or the buttons ask it, "" for nothing), or None (said) when it failed."""
        buttons = alert_id is not None and self._has_buttons(alert_id)
        args = [*(["-r", replaces] if replaces else []), "-u", n.urgency, *(["-p"] if print_id or buttons else []),
                n.summary, n.body]
        if alert_id is None or not buttons:
            r = self._run(args)
            return None if r is None else r.stdout.strip()
        if self._missing():
            return None
        try:
            shown = show_waiting([self.command, "-a", self.app_name, "-c", "call-monitor", *args, *button_args()],
                                 self.timeout_s)
        except OSError as err:
            self._fail("oserror", str(err))
            return None
        except NotShown as err:
            self._fail(err.key, str(err))
            return None
        self._waiters.wait(shown, alert_id, critical=n.urgency == CRITICAL)
        return shown.id

    def _clicked(self, alert_id: int, word: str) -> None:
        """A button said ``word`` of alert ``alert_id`` (from its waiter's thread): kept by the daemon,
        and what was done said in a notification (from the sink's thread)."""
        answer = self._word(alert_id, word) if self._word is not None else {"error": "no daemon keeps it"}
        try:
            self._q.put_nowait(Clicked(alert_id, word, answer))
        except queue.Full:
            self._fail("queue full", "notification dropped: too many pending")

    def say_clicked(self, c: Clicked) -> bool:
        """What a click did, in a normal notification: the word kept (the daemon's line), or why not."""
        if "error" in c.answer:
            return self._plain(Notification(NORMAL, f"Not kept: {said(c.word)}", body_text(str(c.answer["error"]))))
        self._clicked_on.add(c.alert_id)
        return self._plain(Notification(NORMAL, f"Kept: {said(c.word)}", body_text(str(c.answer.get("message", "")))))

    def call_over(self, ev: CallSummaryEvent) -> bool:
        """The call of the summary ``ev`` is over: each of its critical notifications on the desktop is
        replaced by a normal one that says so (and goes as a normal one does); whether there was one.
        A call the daemon's stop ended (``"aborted"`` in its notes) is not over for the caller: its
        notifications stay, those its last moments raised as the stop ended it too (:meth:`keep_shown`)."""
        if ev.notes.get("aborted"):
            for of in (ev.call_id, None):
                self._open.discard(of)
                self._shown.pop(of, None)
            return False
        return self._over(ev.call_id)

    def _over(self, call_id: int | None) -> bool:
        """Call ``call_id`` is over (:meth:`call_over`). Its alerts raised while a failing database held
        its row back name no call (None) though it has its id by its end: they are its too (the daemon
        monitors one call at a time), and end with it."""
        shown: list[tuple[str, Shown]] = []
        for of in dict.fromkeys((call_id, None)):
            self._open.discard(of)
            shown += self._shown.pop(of, {}).items()
        done = [self._say_over(kind, s) for kind, s in shown]
        return bool(done) and all(done)

    def _say_over(self, kind: str, s: Shown) -> bool:
        """Critical notification ``s`` of alert ``kind`` replaced by one saying its call is over (with
        its alert's buttons: the agent, done with the caller, has a moment to say what came of it)."""
        self._waiters.end(s.id)
        n = Notification(NORMAL, f"Call over: {kind_name(kind)}",
                         body_text(f"That call is over. The alert was raised {call_time(s.t)} into it."))
        return self._show(n, s.alert_id, replaces=s.id) is not None

    @staticmethod
    def format_acked(ev: AlertAckedEvent, over: bool = False) -> Notification:
        """A critical alert's acknowledgement: who on the console saw it, and when (the body
        :func:`body_text`: the name is as the supervisor typed it); critical while its call goes on (the
        alert stands), normal once it is ``over``. Its time of day has its zone in an hour a change of
        daylight saving time repeats (:func:`~monitor.local_time.local_text`)."""
        when = local_text(ev.acked_at, "%H:%M:%S")
        said = f"Supervisor {ev.by} acknowledged this critical alert at {when}: they have seen it."
        if over:
            said += f" That call is over; the alert was raised {call_time(ev.t)} into it."
        return Notification(NORMAL if over else CRITICAL, f"Acknowledged: {kind_name(ev.kind)}", body_text(said))

    def acked(self, ev: AlertAckedEvent) -> bool:
        """A critical alert was acknowledged on the supervisor's console. In a call still on the line,
        its critical notification, if one is on the desktop, is replaced by one that says so above
        what the alert said (critical still: the alert stands), else one is sent; once its call is
        over (or one from before this daemon), the acknowledgement is a normal notification, which
        goes by itself rather than stay into the next call."""
        call_id = ev.call_id
        shown = self._shown.get(call_id, {}).get(ev.kind)
        held = self._shown.get(None, {}).get(ev.kind)
        if shown is None and held is not None and round(held.t, 3) == round(ev.t, 3):
            call_id, shown = None, held  # raised while a failing database held the running call's row back
        if shown is None and call_id not in self._open:
            return self._plain(self.format_acked(ev, over=True))
        n = self.format_acked(ev)
        alert_body = shown.body if shown else ""
        # the buttons of the alert as stored here (the console may know it by the id it was posted under)
        return self._critical(call_id, ev.kind, ev.t, n._replace(body="\n".join(filter(None, (n.body, alert_body)))),
                              alert_body, shown.alert_id if shown else None)

    def _help_text(self) -> str:
        """What ``COMMAND --help`` says, asked once ("" when it cannot be asked)."""
        if self._help is None:
            try:
                r = subprocess.run([self.command, "--help"], capture_output=True, text=True, timeout=self.timeout_s)
                self._help = r.stdout + r.stderr
            except (OSError, subprocess.TimeoutExpired):
                self._help = ""
        return self._help

    def _can_print_id(self) -> bool:
        if self._prints_id is None:
            self._prints_id = "--print-id" in self._help_text()
        return self._prints_id

    def _run(self, args: list[str]) -> subprocess.CompletedProcess | None:
        """``notify-send ARGS`` with the app's name and category; None (said) when it failed."""
        if self._missing():
            return None
        try:
            r = subprocess.run([self.command, "-a", self.app_name, "-c", "call-monitor", *args],
                               capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self._fail("timeout", f"{self.command} did not return within {self.timeout_s:g} s")
            return None
        except OSError as err:
            self._fail("oserror", str(err))
            return None
        if r.returncode != 0:
            why = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[0]
            self._fail("exit", f"{self.command}: {why}")
            return None
        return r

    def _missing(self) -> bool:
        """Whether the command is not there (said)."""
        if shutil.which(self.command) is None:
            self._fail("missing", f"{self.command} not found (install libnotify-bin)")
            return True
        return False

    def close(self, timeout: float = 1.0) -> None:
        """The sink's thread told to end (after what is queued, ``timeout`` at most), then every button's
        waiter ended: the notifications stay, their buttons do nothing."""
        try:
            self._q.put_nowait(None)
        except queue.Full:
            pass
        else:
            self._thread.join(timeout)
        self._waiters.close()
