"""What the live daemon lists of its recent calls, and the retention that keeps that list to what
the database holds.

The status (``status``, ``status --json``) lists the last alerts raised, each with its
acknowledgement and the id it was posted under from memory, and the heartbeat the last call reports
written. ``storage.retention_days`` is applied at the start and then daily (the calls' files, then
their rows), in a thread of its own beside the capture loop; what the daemon listed of the calls
deleted is forgotten within seconds, of its own purge as of another process's (``call-monitor purge``). After a restart the alerts of
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
import queue
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .config import Config
from .delivery.call_files import purge_call_files, purge_unfinished_writes, purge_unnamed_audio
from .delivery.store import Store, free_inside
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
too, and the status then lists them no more, as it does of the calls its own purge (in its thread)
deleted so far; those its purge deleted are dropped once it is done too."""

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
        self._purging: threading.Thread | None = None  # the purge of :meth:`start_purge`, while it runs
        self._purge_stop = threading.Event()
        self._purged: queue.SimpleQueue[set[int]] = queue.SimpleQueue()  # the calls it deleted, to forget
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
    def start_purge(self) -> None:
        """The daemon's retention (at its start, then daily): :meth:`purge_old` in a thread of its own,
        so that neither the capture nor the analysis waits for it (a purge of weeks of calls takes
        minutes, in transactions of a fraction of a second, :meth:`Store.purge`; a live call's writes
        wait one at most). The calls a finished purge deleted are forgotten here, on the capture
        loop's thread, which changes the lists too."""
        self._forget_purged_now()
        if self._purging is not None and self._purging.is_alive() or (due := self._purge_due()) is None:
            return
        self._purge_stop.clear()
        self._purging = threading.Thread(target=self._purge, args=(*due, self._purged.put),
                                         name="retention purge", daemon=True)
        self._purging.start()

    def stop_purge(self) -> None:
        """The daemon stops: a purge of :meth:`start_purge` still running stops after its transaction
        (what it committed stays purged; the next start purges the rest), and is waited for."""
        if self._purging is not None:
            self._purge_stop.set()
            self._purging.join()
            self._purging = None
            self._purge_stop.clear()
        self._forget_purged_now()

    def purge_old(self, now: float | None = None) -> None:
        """Apply ``storage.retention_days`` now, on this thread (:meth:`start_purge` is the daemon's)."""
        if (due := self._purge_due(now)) is not None:
            self._purge(*due, self._forget)

    def _purge_due(self, now: float | None = None) -> tuple[float, bool, Config, list[Path]] | None:
        """A purge due at ``now`` (none yet, or the last one :data:`PURGE_EVERY_S` ago, on an open
        database, with a retention): its time, whether it is the first, the configuration it
        purges by and the call audio still waiting for its call's id, taken on the capture loop's
        thread; None when none is due."""
        now = time.time() if now is None else now
        if self._last_purge is not None and now - self._last_purge < PURGE_EVERY_S or not self._store_open():
            return None
        at_start, self._last_purge = self._last_purge is None, now
        cfg = self._files_cfg()
        return None if cfg.storage.retention_days <= 0 else (now, at_start, cfg, list(self._unnamed_audio()))

    def _purge(self, now: float, at_start: bool, cfg: Config, unnamed: list[Path],
               gone_to: Callable[[set[int]], None]) -> None:
        """Apply ``storage.retention_days`` (of ``cfg``) at ``now``, the calls deleted handed to
        ``gone_to``. The first purge (``at_start``: at the start, or as a database not opened then
        opens) does not wait for another program's lock on the database: it is tried again with the
        next, said in its line. Its line comes once it is done."""
        days = cfg.storage.retention_days
        deleted: list[int] = []  # files of the calls, deleted before their rows (:meth:`Store.purge`)
        gone: set[int] = set()
        counts: dict[str, int] = {}
        others: dict[Path, str | None] = {}  # folders of another database's call files (purge_call_files)

        def first(calls: list[tuple[int, float, float, str]]) -> None:
            gone.update(c[0] for c in calls)
            deleted.append(purge_call_files(cfg, calls, folders, others))
        try:
            folders = self.store.call_folders()
            self.store.purge(now - days * 86400.0, first=first, waits=not at_start, stop=self._purge_stop.is_set,
                             counts=counts)
        except StoreError as err:
            purged = f" (after {counts['calls']} purged)" if counts.get("calls") else ""
            log.warning("old calls not purged: %s%s; the next purge (at the next start, or in %g h) tries again", err,
                        purged, PURGE_EVERY_S / 3600)
            gone_to(gone)
            return
        gone_to(gone)
        stopped = self._purge_stop.is_set()
        files = sum(deleted) + (0 if stopped else purge_unnamed_audio(cfg, now - days * 86400.0, unnamed, folders)
                                + purge_unfinished_writes(cfg, now - days * 86400.0, folders, now))
        if counts.get("calls") or files:
            log.info("purged %s call(s) older than %g days%s%s%s", counts.get("calls", 0), days,
                     f" and {files} file(s) of call audio and reports" if files else "",
                     " before the daemon stopped (the rest at its next start)" if stopped else "",
                     free_inside(self.store))

    def _forget_purged_now(self) -> None:
        """The calls the purge's thread deleted, forgotten (:meth:`_forget`) on the capture loop's thread."""
        while True:
            try:
                self._forget(self._purged.get_nowait())
            except queue.Empty:
                return

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
        database fails or is not open yet (what it holds is not known then). The calls a purge of
        the daemon's own that is done deleted are forgotten at once."""
        self._forget_purged_now()
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
