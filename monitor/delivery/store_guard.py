"""A store that never stops an alert: failures are held, said once, and written later.

:class:`StoreGuard` stands in front of a :class:`~monitor.delivery.store.Store` for the call pipeline.
When the database cannot commit (disk full, file damaged, locked past the busy timeout, gone),
the alert still goes to every sink, stamped ``stored=False``; one error line says what failed.
Calls, alerts, clears, baselines and supervisors' acknowledgements that could not be written are held in order and written
when the store works again (retried at most every ``retry_s``, on the next write or on
:meth:`retry`), alerts and clears with the time they were raised; one warning line says so.
Cue snapshots and transcript lines are not held: while the store fails they are dropped,
said in the line that says the failure, and counted (those the store would have kept, one snapshot
of a leg every its interval, final lines with words) in the line that says it works again:
:attr:`StoreGuard.dropped` while it fails and after, of each kind since the start
:attr:`StoreGuard.dropped_of`.

Only the attempt that finds the database failing may wait SQLite's busy timeout for another
program's lock: from then on, while it fails, every attempt (a retry, a write) fails at once
(:meth:`Store.wait_for_locks`), and so does every write made without the guard, so a database
locked for a minute costs the pipeline's thread, which writes, one wait, not one at each attempt,
and the audio is not held up behind it. Once a
write goes through, the store's connection, which the writes made without the guard share, waits
again. A held alert written late is told to each of :attr:`StoreGuard.written`'s
callbacks (the alert as the sinks got it, unstored, and as stored, with its id), so that the webhook
records its delivery (delivered from memory, else queued in the outbox for a later run).

Calls begun while the store fails get a provisional negative id; once their row is written,
:meth:`real_id` maps it to the database id.

A database that cannot even be opened when a command starts is a :class:`PendingStore`
(:func:`open_or_pending`): every write fails as above until an opening attempt (at most every
``retry_s``) succeeds, so the guard holds what it cannot write from the first alert on. A newer
schema is not retried: that needs an upgrade, and :func:`open_or_pending` raises it. Nor is a
database another daemon took meanwhile (:attr:`PendingStore.refused`): the daemon stops on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping

from ..events import AlertAckedEvent, AlertClearedEvent, AlertEvent, CuesEvent, WordsEvent
from ..files import random_hex
from .dblock import DatabaseInUse
from .store import SNAPSHOT_EVERY_S, Store, snapshot_due, words_kept
from .store_errors import SchemaTooNew, StoreError

log = logging.getLogger(__name__)

MAX_HELD = 100_000
"""Held writes beyond this are dropped oldest first (and counted): memory stays bounded."""

OF_NO_CALL = ("add_ack",)
"""The held writes that name no call (given ``None`` for it): written as they are, whatever call ids are known."""

STAMPED = ("add_alert", "add_clear")
"""The held writes whose rows keep when they were made: written late, they keep the time they were raised."""

DROPPED = {"add_cues": "cue snapshot(s)", "add_words": "transcript line(s)"}
"""The writes not held while the store fails (dropped), and what each is called where the count is said."""

NOT_KEPT = "cue snapshots and transcript lines are not kept meanwhile (a call's report shows the gap)"
"""What the line saying the database fails says of the records it drops (the daemon's, for a database it
could not open, too)."""

OPEN_RETRY_S = 5.0
"""A database that could not be opened is tried again at most this often (an attempt on a locked
database waits up to the store's busy timeout)."""


class PendingStore:
    """A database that could not be opened: uses fail with the opening problem until it opens.

    ``opener`` makes the real :class:`Store` (raising StoreError), which keeps a cue snapshot of a
    leg every ``snapshot_every_s`` (how far apart the guard counts those dropped meanwhile). It is tried again in a
    background thread, at most every ``retry_s`` after the last attempt ended, whenever the store
    is used, so that an attempt waiting on a locked database never holds up the audio; ``try_open
    (force=True)`` tries now and waits. Once it succeeds, everything goes to the opened store.
    While it is not open the webhook outbox reads as empty (there is nothing in it that could be
    delivered) and :meth:`instance_id` is an id made for this process, so a supervisor console
    never mixes its alerts up with another daemon's.
    """

    def __init__(self, opener: Callable[[], Store], path: Any, error: StoreError,
                 retry_s: float = OPEN_RETRY_S, clock: Callable[[], float] = time.monotonic,
                 snapshot_every_s: float = SNAPSHOT_EVERY_S) -> None:
        self._opener = opener
        self.path = path
        self.snapshot_every_s = snapshot_every_s
        self.error = str(error)
        self.refused: DatabaseInUse | None = None
        """Set when an attempt opened the database and another daemon's lock held it (taken since
        the start): it is not tried again."""
        self.retry_s = retry_s
        self._clock = clock
        self._last_try = clock()
        self._lock = threading.Lock()
        self._attempt: threading.Thread | None = None
        self._store: Store | None = None
        self._provisional_id = f"unopened-{random_hex()}"

    @property
    def is_open(self) -> bool:
        return self._store is not None

    def try_open(self, force: bool = False) -> Store | None:
        """The opened store, or None while it cannot be opened: starts an attempt in the
        background if one is due (``force``: tries now and waits for the outcome)."""
        if force:
            attempt = self._attempt
            if attempt is not None:
                attempt.join()
            self._open_once()
            return self._store
        with self._lock:
            busy = self._attempt is not None and self._attempt.is_alive()
            due = self.refused is None and self._clock() - self._last_try >= self.retry_s
            if self._store is None and not busy and due:
                self._attempt = threading.Thread(target=self._open_once, name="store-open", daemon=True)
                self._attempt.start()
            return self._store

    def _open_once(self) -> None:
        if self._store is not None or self.refused is not None:
            return
        try:
            store = self._opener()
        except DatabaseInUse as err:
            with self._lock:
                self.error, self.refused = str(err), err
            return
        except StoreError as err:
            with self._lock:
                self.error = str(err)
                self._last_try = self._clock()
            return
        with self._lock:
            if self._store is None:
                self._store = store
                return
        store.close()  # a forced attempt and a background one both succeeded: keep the first

    def _require(self) -> Store:
        store = self.try_open()
        if store is None:
            raise StoreError(self.error)
        return store

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._store is not None:
            return getattr(self._store, name)
        return lambda *args, **kwargs: getattr(self._require(), name)(*args, **kwargs)

    def due_deliveries(self, *args: Any, **kwargs: Any) -> list:
        store = self.try_open()
        return [] if store is None else store.due_deliveries(*args, **kwargs)

    def due_words(self, *args: Any, **kwargs: Any) -> list:
        store = self.try_open()
        return [] if store is None else store.due_words(*args, **kwargs)

    def deliveries(self, *args: Any, **kwargs: Any) -> list:
        store = self.try_open()
        return [] if store is None else store.deliveries(*args, **kwargs)

    def instance_id(self) -> str:
        store = self.try_open()
        return self._provisional_id if store is None else store.instance_id()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def open_or_pending(opener: Callable[[], Store], path: Any, retry_s: float = OPEN_RETRY_S,
                    snapshot_every_s: float = SNAPSHOT_EVERY_S) -> Store | PendingStore:
    """``opener()``, or a :class:`PendingStore` retrying it when it fails; a database of a newer
    schema raises :class:`~monitor.delivery.store_errors.SchemaTooNew` (the error names the file), and one
    another daemon's lock holds (taken while this one started) :class:`~monitor.delivery.dblock.DatabaseInUse`."""
    try:
        return opener()
    except (SchemaTooNew, DatabaseInUse):
        raise
    except StoreError as err:
        return PendingStore(opener, path, err, retry_s=retry_s, snapshot_every_s=snapshot_every_s)


def _named(op: str, call_id: int, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``op``'s arguments after its call's id, a call's end's summary naming the call ``call_id``:
    one made while the call's row was held back (a failing database) named none."""
    if op != "end_call" or not isinstance(args[1], dict) or "call_id" not in args[1] or args[1]["call_id"] is not None:
        return args
    return (args[0], {**args[1], "call_id": call_id}, *args[2:])


class StoreGuard:
    def __init__(self, store: Store | PendingStore, retry_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 written: Iterable[Callable[[AlertEvent, AlertEvent], None]] = ()) -> None:
        self.store = store
        self.path = store.path
        self.retry_s = retry_s
        self._clock = clock
        self._held: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._ids: dict[int, int] = {}
        self._next_provisional = -1
        self._last_try = -1e9
        self.failing = not getattr(store, "is_open", True)  # its opening failure was already said
        self.last_error: str | None = getattr(store, "error", None) if self.failing else None
        self.failures = 0
        self.dropped_of = dict.fromkeys(DROPPED, 0)
        """Of each kind of :data:`DROPPED`, how many were dropped since the start."""
        self._dropped_now = dict.fromkeys(DROPPED, 0)  # of each kind, how many since the database began to fail, or while it last failed
        self._paced: dict[tuple[int, str], float] = {}  # the time of each call's leg's last snapshot counted dropped
        self.held_dropped = 0
        self.written_late = 0
        self.written: list[Callable[[AlertEvent, AlertEvent], None]] = list(written)
        """Told of each held alert once it is written: (the alert the sinks got, as stored); the
        webhook's :meth:`~monitor.delivery.sinks.webhook.WebhookSink.written` records its delivery."""

    # ------------------------------------------------------------------ state
    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def dropped(self) -> int:
        """How many cue snapshots and transcript lines were dropped since the database began to fail,
        or, once it works again, while it last failed (``status``'s count: an earlier failure's are not
        this one's)."""
        return sum(self._dropped_now.values())

    @property
    def held_alerts(self) -> int:
        """How many of the held records are alerts."""
        return sum(op == "add_alert" for op, _ in self._held)

    def real_id(self, call_id: int | None) -> int | None:
        """The database id of ``call_id`` (None while its row is not written)."""
        if call_id is None or call_id > 0:
            return call_id
        return self._ids.get(call_id)

    def _fail(self, err: StoreError) -> None:
        self.failures += 1
        if not self.failing:
            self.last_error = str(err)
            self.failing = True
            self._wait_for_locks(False)  # the writes made without the guard too, before its next attempt
            self._dropped_now = dict.fromkeys(DROPPED, 0)
            log.error("%s; alerts go on, marked as not stored, and are written when the database works again; %s",
                      err, NOT_KEPT)

    def _hold(self, op: str, *args: Any) -> None:
        """Hold ``op`` to write later; an alert or a clear with the time it was raised, which its row
        keeps (``alerts`` lists it then, not when the database took it)."""
        if op in STAMPED:
            args = (*args, time.time())
        if len(self._held) >= MAX_HELD:
            self._held.popleft()
            self.held_dropped += 1
        self._held.append((op, args))

    def _works(self, n: int) -> None:
        """A write went through: say once that the database works again."""
        if self.failing:
            self.failing = False
            self._wait_for_locks(True)
            lost = " and ".join(f"{k} {DROPPED[op]}" for op, k in self._dropped_now.items() if k)
            log.warning("%s: the database works again; %s held record(s) written%s", self.path, n,
                        f"; {lost} not kept while it failed" if lost else "")
            self._paced.clear()

    def _drop(self, op: str, call_id: int | None, ev: Any) -> None:
        """Count ``ev``, which the store would have kept (the failure's line said that none is)."""
        if self._kept(op, call_id, ev):
            self.dropped_of[op] += 1
            self._dropped_now[op] += 1

    def _kept(self, op: str, call_id: int | None, ev: Any) -> bool:
        """Whether the store, working, would have kept ``ev``: a final transcript line with words, a cue
        snapshot once its interval has passed since its call's leg's last one."""
        if op == "add_words":
            return words_kept(ev)
        key = (call_id or 0, ev.channel)
        if not snapshot_due(self._paced.get(key), ev.t, self.store.snapshot_every_s):
            return False
        self._paced[key] = ev.t
        return True

    def _attempting(self) -> None:
        """Before an attempt at the store: it waits for another program's lock only while the
        database works; while it fails, it fails at once."""
        self._wait_for_locks(not self.failing)

    def _wait_for_locks(self, waits: bool) -> None:
        """Whether the store's connection waits for another program's lock (:meth:`Store.wait_for_locks`):
        it is the connection of every write, the guard's and those made without it (the webhook's
        deliveries, the retention's purge), so it waits again the moment the database works again."""
        if getattr(self.store, "is_open", True):
            self.store.wait_for_locks(waits)

    def retry(self, force: bool = False) -> bool:
        """Write what is held, if it is time to try; True when nothing is held any more."""
        if isinstance(self.store, PendingStore) and not self.store.is_open:
            if self.store.try_open(force=force) is not None and not self._held:
                self._works(0)
        if not self._held:
            return True
        now = self._clock()
        if not force and now - self._last_try < self.retry_s:
            return False
        self._last_try = now
        self._attempting()
        n = 0
        try:
            while self._held:
                op, args = self._held[0]
                self._replay(op, args)
                self._held.popleft()
                n += 1
        except StoreError as err:
            self.written_late += n
            self.failures += 1
            if not self.failing:
                self._fail(err)
            return False
        self.written_late += n
        self._works(n)
        return True

    def _replay(self, op: str, args: tuple[Any, ...]) -> None:
        if op == "start_call":
            provisional, source, started_at, channels, agent, agent_file = args
            self._ids[provisional] = self.store.start_call(source, started_at, channels, agent, agent_file)
            return
        if op in OF_NO_CALL:
            getattr(self.store, op)(*args[1:])
            return
        call_id = self.real_id(args[0])
        if call_id is None:  # its call row was dropped from a full hold: nothing to attach it to
            return
        done = getattr(self.store, op)(call_id, *_named(op, call_id, args[1:]))
        if op == "add_alert":
            for tell in self.written:
                try:
                    tell(args[1], done)
                except Exception as err:  # noqa: BLE001 - the row is written: never write it twice
                    log.warning("alert %s written, but a sink was not told: %s", done.alert_id, err)

    def _do(self, op: str, call_id: int | None, *args: Any, hold: bool = True) -> Any:
        """Run ``op`` now if nothing older is held and the store works; else hold it (or drop)."""
        if self.retry():
            real = self.real_id(call_id)
            if real is not None or call_id is None:
                self._attempting()
                try:
                    done = getattr(self.store, op)(*((real,) if call_id is not None else ()),
                                                   *(_named(op, real, args) if real is not None else args))
                    if hold:  # cues and words may skip the database: only a held kind proves it works
                        self._works(0)
                    return done
                except StoreError as err:
                    self._fail(err)
        if hold:
            self._hold(op, call_id, *args)
        else:
            self._drop(op, call_id, args[0])
        return None

    # ------------------------------------------------------------------ the pipeline's store
    def start_call(self, source: str, started_at: float | None = None,
                   channels: Mapping[str, int] | None = None, agent: str | None = None,
                   agent_file: str | None = None) -> int:
        at = time.time() if started_at is None else started_at
        if self.retry():
            self._attempting()
            try:
                call_id = self.store.start_call(source, at, channels, agent, agent_file)
                self._works(0)
                return call_id
            except StoreError as err:
                self._fail(err)
        provisional = self._next_provisional
        self._next_provisional -= 1
        self._hold("start_call", provisional, source, at, channels, agent, agent_file)
        return provisional

    def end_call(self, call_id: int, duration_s: float, summary: Any = None,
                 ended_at: float | None = None) -> None:
        self._do("end_call", call_id, duration_s, summary, time.time() if ended_at is None else ended_at)

    def set_baseline(self, call_id: int, baseline: Any) -> None:
        self._do("set_baseline", call_id, baseline)

    def add_alert(self, call_id: int, alert: AlertEvent) -> AlertEvent:
        """``alert`` stored, or, while the store fails, marked ``stored=False`` and held: the very
        event returned is the one :attr:`written`'s callbacks are given once it is written."""
        unstored = replace(alert, call_id=self.real_id(call_id), stored=False)
        stored = self._do("add_alert", call_id, unstored)
        return unstored if stored is None else stored

    def add_clear(self, call_id: int, cleared: AlertClearedEvent) -> None:
        self._do("add_clear", call_id, cleared)

    def add_ack(self, acked: AlertAckedEvent) -> bool | None:
        """Keep a supervisor's acknowledgement (by the id and call the console knows the alert by:
        :meth:`Store.add_ack`); held, in order after the alerts held before it, while the store fails.
        True when kept, False when the database holds no such alert or the alert's acknowledgement
        already, None when held (or of no alert id)."""
        if acked.alert_id is None:
            return None
        return self._do("add_ack", None, acked.alert_id, acked.call_id, acked.by, acked.acked_at)

    def add_cues(self, call_id: int, cues: CuesEvent) -> None:
        self._do("add_cues", call_id, cues, hold=False)

    def add_words(self, call_id: int, words: WordsEvent) -> None:
        self._do("add_words", call_id, words, hold=False)

    def close_interrupted(self, waits: bool = True) -> list[int] | None:
        """Close the calls a crash or a stop left open as interrupted (:meth:`Store.close_interrupted`)
        once nothing is held: their ids; None while the database fails, tried again as what is held
        is (at most every ``retry_s``), so that they are closed once it works again, not at the next start.
        Without ``waits`` the attempt fails at once on another program's lock (the daemon's start)."""
        if not self.retry():
            return None
        now = self._clock()
        if self.failing and now - self._last_try < self.retry_s:
            return None
        self._last_try = now
        self._attempting()
        try:
            ids = self.store.close_interrupted(waits=waits)
        except StoreError as err:
            self._fail(err)
            return None
        if ids:
            self._works(0)
        return ids

    def commit_due(self) -> None:
        """What the store batched, committed once it waited its second (:meth:`Store.commit_due`),
        while the database works; a failure is said as any write's."""
        if self.failing or self._held or not getattr(self.store, "is_open", True):
            return
        try:
            self.store.commit_due()
        except StoreError as err:
            self._fail(err)

    def flush(self) -> None:
        if self.retry(force=True):
            try:
                self.store.flush()
            except StoreError as err:
                self._fail(err)

    def __getattr__(self, name: str) -> Any:  # reads and the rest go to the store itself
        return getattr(self.store, name)
