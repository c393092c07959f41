"""The agent's word on an alert (``call-monitor outcome``): what came of it, said by the agent who took
the call: ``handled`` (acted on: escalated, emergency services called, the caller checked on) or
``false_alarm``, with an optional short note. The project's labels from real calls.

Kept in the daemon's database (table ``alert_words``, one word per alert: a later word replaces the
earlier one, but for a click on a desktop notification's button, which keeps a word said already and is
refused: ``replace=False``) and posted to the supervisor's webhook as ``{"type": "agent_word", ...}``
(:func:`word_payload`), from the same outbox as the alerts (:class:`~.sinks.webhook.WebhookSink`):
retried with their backoff until delivered, by the running daemon or the next one started. A word on
an alert never queued for a webhook (raised with none set: a replay without ``--webhook``), or whose
delivery failed for good, is kept and not sent (``unsent``). One the receiver answers 409 (it has not
the alert: it went to the console of an earlier webhook URL) is kept and not deliverable (``failed``),
never posted again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

from ..console import CONTROLS, one_line
from ..files import bytes_not_utf8

if TYPE_CHECKING:  # for the annotations only
    from .store import Store
    from .store_guard import PendingStore
    from .store_rows import AgentWord

WORDS = ("handled", "false_alarm")
"""What an agent may say of an alert, as stored and posted."""
WORDS_TYPED = {"handled": "handled", "false-alarm": "false_alarm", "false_alarm": "false_alarm"}
"""What ``call-monitor outcome`` takes, and the word each is."""
NOTE_CHARS = 200
"""The longest note (characters): a short line, not a case file."""
LAST = "last"
"""What ``call-monitor outcome`` takes for the latest alert raised (of the running call, or the last
call that raised one)."""

class WordRefused(ValueError):
    """A word that cannot be kept; its message is the problem in one phrase."""


def word_of(typed: str) -> str:
    """The word ``typed`` stands for (``false-alarm``: ``false_alarm``); raises :class:`WordRefused`."""
    word = WORDS_TYPED.get(typed.strip().lower())
    if word is None:
        raise WordRefused(f"{typed!r} is no word on an alert: say handled or false-alarm")
    return word


NOT_IN_A_NOTE = CONTROLS
"""What a note may not hold (code points): the characters that act on a terminal rather than show
(:data:`~monitor.console.CONTROLS`: a right-to-left override turns ``handled`` around on the screen of
``alerts``)."""


def note_of(typed: object) -> str:
    """The note ``typed`` on one line (its runs of white space one space); raises :class:`WordRefused`
    for one that is no text (a JSON object, a number: the socket's word takes any JSON, and one was
    kept as its Python text), longer than :data:`NOTE_CHARS`, holding a character of
    :data:`NOT_IN_A_NOTE`, or not text (a command line's bytes that are not UTF-8, which Python holds
    as lone surrogates: no database or JSON takes them)."""
    if typed is not None and not isinstance(typed, str):
        raise WordRefused("the note is no text: give it as a JSON string")
    note = " ".join((typed or "").split())
    if len(note) > NOTE_CHARS:
        raise WordRefused(f"the note is {len(note)} characters long, longer than {NOTE_CHARS}: say it shorter")
    if any(ord(c) in NOT_IN_A_NOTE for c in note):
        raise WordRefused("the note holds a control character")
    if bytes_not_utf8(note) is not None:  # bytes not UTF-8 on the command line, or a lone surrogate
        raise WordRefused("the note is not valid text (bytes that are not UTF-8): type it again")
    return note


def alert_ref_of(typed: str) -> int | None:
    """The alert id ``typed`` names (``#12`` too), None for :data:`LAST`; raises :class:`WordRefused`."""
    text = typed.strip().lower().lstrip("#")
    if text == LAST:
        return None
    from .store_rows import whole_number
    alert_id = whole_number(text)  # 1 to the largest id a row can have
    if alert_id is None:
        raise WordRefused(f"{typed!r} is no alert id: give the id `call-monitor alerts` lists, or {LAST}")
    return alert_id


def said(word: str) -> str:
    """A word as the agent reads it: ``handled``, ``false alarm``."""
    return word.replace("_", " ")


class Kept(NamedTuple):
    """What :func:`keep_word` did, in one line (:func:`word_said`) for the agent who said the word,
    with the notes, and for a log line (``logged``), each note said as "with a note": the log (the
    daemon's standard error, systemd's journal) is no place for what an agent typed of a caller,
    which no purge reaches there; and whether the word is to post to the webhook."""
    said: str
    queued: bool
    logged: str


def word_said(word: str, note: str, logged: bool = False) -> str:
    """``word`` as a line says it (:func:`said`), with its ``note`` in parentheses, or, in a log line
    (``logged``), "with a note" in place of the note's text."""
    if not note:
        return said(word)
    return f"{said(word)} with a note" if logged else f"{said(word)} ({one_line(note)})"  # one kept before the
    # note was checked as now, or come from elsewhere, moves no cursor either


def keep_word(store: "Store | PendingStore", alert_id: int | None, word: str, note: str,
              now: float, replace: bool = True) -> Kept:
    """Keep ``word`` (with ``note``, said at ``now``) on alert ``alert_id`` (None: the latest alert
    raised) in ``store``; returns what was done (:class:`Kept`: the alert, its id, kind, call and call
    time; the word, the one it replaced, and where it goes), and whether it is to post to the webhook.
    Raises :class:`WordRefused` for no such alert, and without ``replace`` for one with a word already
    (kept as it is: a notification's button, clicked after the word was typed, changes none; the
    refusal, said in the log and a notification, says its note is there, not the note)."""
    from .sinks.terminal import call_clock
    alert = store.latest_alert() if alert_id is None else store.alert(alert_id)
    if alert is None:
        raise WordRefused(f"no alert raised yet in {store.path}" if alert_id is None else
                          f"alert {alert_id}: no such alert in {store.path} (`call-monitor alerts` lists them)")
    before = store.set_word(alert.alert_id, word, note, now, replace=replace)
    ev = alert.event
    if before is not None and not replace:
        raise WordRefused(f"alert {alert.alert_id} ({ev.kind}, call {ev.call_id} at {call_clock(ev.t)}) has the "
                          f"agent's word already: {word_said(before.word, before.note, logged=True)}, kept; "
                          f"`call-monitor outcome {alert.alert_id} {said(word).replace(' ', '-')}` changes it")
    lines = [f"alert {alert.alert_id} ({ev.kind}, call {ev.call_id} at {call_clock(ev.t)}): "
             f"{word_said(word, note, logged)}"
             + (f", in place of {word_said(before.word, before.note, logged)}" if before is not None else "")
             for logged in (False, True)]
    queued = store.words_of([alert.alert_id])[alert.alert_id].status == "pending"
    if queued:
        where = "; to the supervisor's console with the webhook" + _retried(before)
    elif store.deliveries_of([alert.alert_id]):
        where = "; kept here (the alert's delivery to the webhook failed for good, so it goes to none)"
    else:
        where = "; kept here (the alert was never sent to a webhook)"
    return Kept(lines[0] + where, queued, lines[1] + where)


def _retried(before: "AgentWord | None") -> str:
    """What the answer adds where the word replaces one not deliverable (refused for good, or given up):
    this one is posted again all the same (the webhook may point at the console that has the alert by
    now), and may fail alike."""
    if before is None or before.status != "failed" or before.last_error is None:
        return ""
    return f", posted again (the word before it was not deliverable: {before.last_error})"


def word_payload(*, alert_id: int, call_id: int | None, call_started_at: float | None, kind: str,
                 severity: str, t: float, word: str, note: str, said_at: float, agent: str | None,
                 daemon_id: str | None) -> bytes:
    """The post of an agent's word: the alert as the receiver knows it (``alert_id``: the id it was
    posted under, its call and call start, kind, severity and call time), the word, its note and when
    it was said (unix seconds, as the database keeps it, as ``alerts --jsonl`` gives it), and who sends it (``agent``, ``daemon_id``)."""
    d: dict[str, Any] = {"type": "agent_word", "source": "call-monitor", "alert_id": alert_id, "call_id": call_id,
                         "kind": kind, "severity": severity, "t": t, "word": word, "note": note,
                         "said_at": said_at}
    if call_started_at is not None:
        d["call_started_at"] = round(call_started_at, 3)
    if agent is not None and daemon_id is not None:
        d["agent"], d["daemon_id"] = agent, daemon_id
    return json.dumps(d, ensure_ascii=False).encode("utf-8")
