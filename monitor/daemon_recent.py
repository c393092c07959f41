"""What the live daemon lists of its recent calls, and the retention that keeps that list to what
the database holds.

The status (``status``, ``status --json``) lists the last alerts raised, each with its
acknowledgement and the id it was posted under from memory, and the heartbeat the last call reports
written. ``storage.retention_days`` is applied at the start and then daily (the calls' files, then
their rows), and what the daemon listed of the calls it deleted is forgotten at once; a purge by
another process (``call-monitor purge``) is followed within seconds. After a restart the alerts of
today's earlier calls are recalled from the database.

:class:`~monitor.daemon.Daemon` owns one :class:`RecentCalls` and calls it from its capture loop;
``daemon_status.py`` reads it from the status socket's and the heartbeat's threads.
"""
from __future__ import annotations

import collections
import datetime
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .config import Config
from .delivery.call_files import purge_call_files, purge_unfinished_writes, purge_unnamed_audio
from .delivery.store import Store
from .delivery.store_errors import StoreError
from .delivery.store_guard import StoreGuard
from .delivery.store_rows import MEMORY_ID_BASE, Ack, Delivery, StoredAlert, raised_at
from .events import AlertAckedEvent, AlertEvent

log = logging.getLogger(__name__)

PURGE_EVERY_S = 86400.0
"""Calls older than ``storage.retention_days`` are deleted at start and then once a day."""

PURGED_CHECK_S = 5.0
"""How often (seconds) the daemon looks whether the database still holds the calls its status lists
(recent alerts, call reports): a purge by another process (``call-monitor purge``) deletes them
too, and the status then lists them no more, as the daemon's own purge does at once."""

LISTED = 10
"""How many recent alerts, and how many call reports, the status lists (the latest)."""


def _recalled(stored: StoredAlert, ack: Ack | None, rows: Sequence[Delivery]) -> dict[str, Any]:
    """A stored alert as the status's recent alerts list it (:meth:`RecentCalls.recall_alerts`)."""
    ev = stored.event
    posted = next((d.posted_id for d in rows if d.posted_id is not None), None)
    return {"call_id": ev.call_id, "alert_id": ev.alert_id, "t": ev.t, "kind": ev.kind, "severity": ev.severity,
            "at": stored.created_at, "token": ev.call_id, "posted_id": posted,
            "acked_by": ack.by if ack is not None else None, "acked_at": ack.at if ack is not None else None}


class RecentCalls:
    """The last alerts raised (:attr:`alerts`) and call reports written (:attr:`reports`), ten of
    each, of calls the database holds, and the retention that deletes the old ones.

    An alert is named by its call's database id, or, while a failing database holds the call back,
    by the store guard's token for it (:meth:`alert_call`). The capture loop changes both lists;
    when calls are purged each is replaced by a new one, never emptied in place, as the status
    socket's and the heartbeat's threads read them meanwhile."""

    def __init__(self, store: Store, guard: StoreGuard, *, store_open: Callable[[], bool],
                 files_cfg: Callable[[], Config], unnamed_audio: Callable[[], Iterable[Path]]) -> None:
        """``store_open``: False while the database could not be opened yet; ``files_cfg``: the
        configuration as it runs now, with the database that runs (where the call files are);
        ``unnamed_audio``: the call audio files still waiting for their call's id."""
        self.store, self.guard = store, guard
        self._store_open, self._files_cfg, self._unnamed_audio = store_open, files_cfg, unnamed_audio
        self.alerts: collections.deque[dict] = collections.deque(maxlen=LISTED)
        self.reports: collections.deque[dict] = collections.deque(maxlen=LISTED)
        self._written_first: list[tuple[AlertEvent, int | None]] = []  # see :meth:`written`
        self._last_purge: float | None = None
        self._purged_checked = -math.inf  # time.monotonic() of the last look for purged calls

    # ------------------------------------------------------------------ alerts and reports
    def raised(self, ev: AlertEvent, token: int | None, call_started_at: float | None = None) -> dict[str, Any]:
        """An alert raised: the last of the recent alerts, its call named by the store guard's
        ``token``, at the time its row keeps (:meth:`_raised_at`); returns that entry."""
        alert_id = next((i for held, i in self._written_first if held is ev), ev.alert_id)
        recent = {"call_id": ev.call_id, "alert_id": alert_id, "t": ev.t, "kind": ev.kind,
                  "severity": ev.severity, "at": self._raised_at(ev, call_started_at), "token": token,
                  "acked_by": None, "acked_at": None}
        self.alerts.append(recent)
        return recent

    def _raised_at(self, ev: AlertEvent, call_started_at: float | None) -> float:
        """When ``ev`` was raised, as ``alerts`` lists it: its row's time, read back; of one the database
        did not store (held while it fails, stored later at the time it was held), or one whose row
        cannot be read, :func:`~monitor.delivery.store_rows.raised_at` of its call's start,
        ``call_started_at``, and now, the same to the millisecond on a live call."""
        if ev.stored and ev.alert_id is not None:
            try:
                if (row := self.store.alert(ev.alert_id)) is not None:
                    return row.created_at
            except StoreError:
                pass
        return raised_at(call_started_at, ev.t, time.time())

    def written(self, held: AlertEvent, stored: AlertEvent) -> None:
        """The store guard wrote an alert it held (:attr:`StoreGuard.written`): its recent alert takes
        the database's id, which the console knows it by unless it was posted from memory first. One
        written within the batch that raised it, before the daemon emits it, takes it then."""
        for a in self.alerts:
            if (a["alert_id"] is None and a["kind"] == stored.kind and a["t"] == stored.t
                    and self.alert_call(a) == stored.call_id):
                a["alert_id"] = stored.alert_id
                return
        self._written_first.append((held, stored.alert_id))

    def end_batch(self) -> None:
        """The daemon emitted a batch of events: the ids written within it were taken."""
        self._written_first.clear()

    def ack(self, ev: AlertAckedEvent) -> None:
        """A supervisor's acknowledgement, on the recent alerts it acknowledges."""
        for a in self._acked_alerts(ev):
            a["acked_by"], a["acked_at"] = ev.by, ev.acked_at

    def _acked_alerts(self, ev: AlertAckedEvent) -> list[dict[str, Any]]:
        """The recent alerts ``ev`` acknowledges: known to the console by the database's id, or by
        the id one was posted under from memory (while the database failed), which the daemon
        noted as it emitted the alert or, once the alert's outbox row is written, its database keeps."""
        known = [a for a in self.alerts if a["kind"] == ev.kind]
        found = [a for a in known if ev.alert_id in (a["alert_id"], a.get("posted_id"))]
        if found or ev.alert_id is None or ev.alert_id < MEMORY_ID_BASE or self.guard.failing:
            return found
        try:
            alert_id = self.store.posted_under(ev.alert_id)
        except StoreError as err:  # not open yet, say: the acknowledgement is kept all the same
            log.debug("the alert posted as %s not looked for: %s", ev.alert_id, err)
            return []
        return [a for a in known if alert_id is not None and a["alert_id"] == alert_id]

    def reported(self, call_id: int, path: str | os.PathLike[str]) -> None:
        """A call report written: the last of the reports the heartbeat tells."""
        self.reports.append({"call_id": call_id, "path": os.path.abspath(path)})

    def alert_call(self, alert: dict[str, Any]) -> int | None:
        """The database id of a recent alert's call (None while a failing database holds it back)."""
        return alert["call_id"] if alert["call_id"] is not None else self.guard.real_id(alert["token"])

    # ------------------------------------------------------------------ what the database holds
    def purge_old(self, now: float | None = None) -> None:
        """Apply ``storage.retention_days`` (at start, then daily). The first purge (at the start, or
        as a database not opened then opens) does not wait for another program's lock on the
        database, which the capture would wait for: it is tried again with the next, said in its line."""
        now = time.time() if now is None else now
        if self._last_purge is not None and now - self._last_purge < PURGE_EVERY_S or not self._store_open():
            return
        at_start, self._last_purge = self._last_purge is None, now
        cfg = self._files_cfg()
        days = cfg.storage.retention_days
        if days <= 0:
            return
        deleted: list[int] = []  # files of the calls, deleted before their rows (:meth:`Store.purge`)
        gone: set[int] = set()

        def first(calls: list[tuple[int, float, float, str]]) -> None:
            gone.update(c[0] for c in calls)
            deleted.append(purge_call_files(cfg, calls, folders))
        try:
            folders = self.store.call_folders()
            counts = self.store.purge(now - days * 86400.0, first=first, waits=not at_start)
        except StoreError as err:
            log.warning("old calls not purged: %s; the next purge (at the next start, or in %g h) tries again", err,
                        PURGE_EVERY_S / 3600)
            return
        self._forget(gone)
        files = sum(deleted) + purge_unnamed_audio(cfg, now - days * 86400.0, self._unnamed_audio(), folders) \
            + purge_unfinished_writes(cfg, now - days * 86400.0, folders, now)
        if counts.get("calls") or files:
            log.info("purged %s call(s) older than %g days%s", counts.get("calls", 0), days,
                     f" and {files} file(s) of call audio and reports" if files else "")

    def recall_alerts(self, now: float | None = None) -> None:
        """The alerts the database holds of today's live calls (raised since local midnight: an
        earlier run's, before a restart) put first among the recent alerts the status lists, the last
        of them as many as it keeps, each with its acknowledgement and the id it was posted under from
        memory, if it was (an acknowledgement the console tells later is matched by either id); nothing
        while the database is not open or fails (a purge, :meth:`forget_purged`, drops them as it
        drops the daemon's own)."""
        if not self._store_open() or self.guard.failing:
            return
        now = time.time() if now is None else now
        midnight = datetime.datetime.combine(datetime.date.fromtimestamp(now), datetime.time()).timestamp()
        listed = {a["alert_id"] for a in self.alerts}
        try:
            stored = [s for s in self.store.latest_alerts(midnight, LISTED)
                      if s.alert_id not in listed]
            ids = [s.alert_id for s in stored]
            acks, rows = self.store.acks_of(ids), self.store.deliveries_of(ids)
        except StoreError as err:
            log.warning("the alerts of today's earlier calls are not listed in the status: %s", err)
            return
        earlier = [_recalled(s, acks.get(s.alert_id), rows.get(s.alert_id, ())) for s in stored]
        self.alerts = collections.deque([*earlier, *self.alerts], maxlen=self.alerts.maxlen)

    def forget_purged(self) -> None:
        """Every :data:`PURGED_CHECK_S`, the recent alerts and reports of calls the database no
        longer holds (a purge by another process) dropped from the status; nothing while the
        database fails or is not open yet (what it holds is not known then)."""
        now = time.monotonic()
        if now - self._purged_checked < PURGED_CHECK_S or self.guard.failing or not self._store_open():
            return
        self._purged_checked = now
        listed = {i for i in (*map(self.alert_call, self.alerts), *(r["call_id"] for r in self.reports))
                  if i is not None}
        try:
            kept = self.store.existing_calls(listed)
        except StoreError as err:  # the next write says a lasting failure; the status stays as it was
            log.debug("purged calls not looked for: %s", err)
            return
        self._forget(listed - kept)

    def _forget(self, gone: set[int]) -> None:
        """The recent alerts and reports of the calls ``gone`` (purged) dropped: the status lists
        only what the database holds."""
        if gone:
            self.alerts = collections.deque((a for a in self.alerts if self.alert_call(a) not in gone),
                                            maxlen=self.alerts.maxlen)
            self.reports = collections.deque((r for r in self.reports if r["call_id"] not in gone),
                                             maxlen=self.reports.maxlen)
