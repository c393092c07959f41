"""An alert's webhook delivery, its supervisor's acknowledgement and the agent's word on it, in words,
as ``call-monitor alerts`` and a call's report say them."""

from __future__ import annotations

import time
from datetime import datetime

from ..local_time import local_text
from .store_rows import Ack, AgentWord, Delivery, is_due
from .words import word_said

_PRECEDENCE = ("delivered", "pending", "failed")
"""Of an alert's outbox rows (a URL changed: the old one's row is closed as failed), the one said."""


def _clock(t: float, day_of: float) -> str:
    """``t`` as the time of day when it is on the local day of ``day_of`` (the alert's, which its
    line begins with), else with its date; with its zone in an hour a change of daylight saving
    time repeats (:func:`~monitor.local_time.local_text`)."""
    same_day = datetime.fromtimestamp(t).date() == datetime.fromtimestamp(day_of).date()
    return local_text(t, "%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S")


def said_row(rows: list[Delivery]) -> Delivery | None:
    """Of an alert's outbox rows, the one its delivery is said by (None: never queued)."""
    return min(rows, key=lambda r: _PRECEDENCE.index(r.status), default=None)


def posted_as(rows: list[Delivery]) -> int | None:
    """The alert id the webhook posts the alert under (:attr:`Delivery.posts_as`: its own, or the id
    it was posted from memory with while the database failed); None when it was never queued."""
    d = said_row(rows)
    return None if d is None else d.posts_as


def posted_under(rows: list[Delivery], posting_id: str | None) -> str | None:
    """The daemon id the alert is posted under: the one the post that delivered it went under, as
    its outbox row keeps it (:attr:`Delivery.posted_by`), else ``posting_id``, the id the database
    posts under (not delivered yet, or delivered by a release that kept none); None when it was
    never queued."""
    d = said_row(rows)
    if d is None:
        return None
    return d.posted_by if d.status == "delivered" and d.posted_by is not None else posting_id


def ack_text(ack: Ack, raised_at: float) -> str:
    """A supervisor's acknowledgement of an alert in words, its time dated unless on the day the alert
    was raised (``raised_at``), as the console's clock gave it."""
    return f"acknowledged by supervisor {ack.by} at {_clock(ack.at, raised_at)}"


def word_text(word: AgentWord, raised_at: float) -> str:
    """The agent's word on an alert in words: what, the note, when (dated unless on the alert's day),
    and its delivery to the webhook while it is not delivered: to post, or not deliverable (given up
    for good, the reason said; unsent: the alert never went to one, nothing said)."""
    status = {"pending": ", to post", "failed": f", not deliverable ({word.last_error})"}.get(word.status, "")
    return f"agent: {word_said(word.word, word.note)} at {_clock(word.said_at, raised_at)}{status}"


def delivery_text(rows: list[Delivery], raised_at: float, longest_wait_s: float, now: float | None = None) -> str:
    """:func:`_delivery_words`, and the alert id the supervisor knows the alert by where it is not the
    database's own (posted from memory while the database failed)."""
    d = said_row(rows)
    words = _delivery_words(rows, raised_at, longest_wait_s, now)
    if d is None or d.posted_id is None or d.posted_id == d.alert_id:
        return words
    return f"{words}; posted as alert {d.posted_id}, from memory while the database failed"


def _delivery_words(rows: list[Delivery], raised_at: float, longest_wait_s: float, now: float | None = None) -> str:
    """An alert's webhook delivery in words: delivered, queued (not tried yet, waiting as the receiver
    asked with its answer, or after failed attempts), failed for good, or not sent.
    Times are dated unless on the day the alert was raised (``raised_at``); a next try due at ``now``
    (:func:`.store_rows.is_due` with the sender's longest wait, ``delivery.max_backoff_s``: its time
    has come, or the wall clock stepped back since it was set) is due now, made when a daemon opens
    the database (one that runs makes it within a second); a later one is made
    then by the process that sent it if it still runs (a daemon, a replay with --webhook: which
    one is not known here), else by the next to open the database."""
    d = said_row(rows)
    if d is None:  # no rows
        return "webhook: not sent (raised with no webhook: none set, or a batch or replay)"
    now = time.time() if now is None else now
    tries = f"{d.attempts} attempt{'s' if d.attempts != 1 else ''}"
    if d.status == "delivered":
        return "webhook: delivered" + (f" {_clock(d.delivered_at, raised_at)}" if d.delivered_at else "") \
            + (f" after {tries}" if d.attempts > 1 else "")
    if d.status == "pending":
        if not d.attempts and not d.last_error:
            return "webhook: queued, not tried yet"
        later = "next try due now, when a daemon or a replay --webhook opens this database" \
            if is_due(d.next_attempt_at, now, longest_wait_s) else \
            f"next try {_clock(d.next_attempt_at, raised_at)} if its sender still runs, else " \
            "when a daemon or a replay --webhook opens this database"
        if not d.attempts:  # posted, and the receiver asked to wait (Retry-After): no failed attempt
            return f"webhook: queued, not delivered yet ({d.last_error}), {later}"
        return f"webhook: queued, {tries} failed ({d.last_error}), {later}"
    return f"webhook: failed for good after {tries} ({d.last_error})"
