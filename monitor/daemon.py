"""The live daemon: capture, call segmentation, one CallPipeline per call, delivery.

Calls: between calls the daemon listens and keeps the last ``PREROLL_S`` of
audio. With ``daemon.call_boundaries = "streams+silence"`` and the caller's leg the
monitor of the softphone's sink, the softphone's streams mark the calls
(``capture/boundaries.py``): a stream appearing starts a call at that moment, the last
one going away ends it (after ``daemon.stream_end_grace_s``). Otherwise, and for calls
their stream does not mark, the silence does: a call starts when speech (either leg above
``speech_dbfs`` for at least ``ONSET_S`` within a second) appears after at least
``daemon.call_start_silence_s`` of silence, its clock starting at the kept pre-roll, and
ends after ``daemon.call_end_silence_s`` of silence on both legs. ``call-monitor call
start|end`` (over the status socket) marks them too; while the caller's source of a call ``call
start`` began, or of one its caller was heard in, gives no input (missing, lost), nothing is heard
of it, and that is no silence ending it: the call waits for the source, ending once it has given
no input for ``daemon.lost_source_end_s`` (0: no limit), its summary keeping the spans without
input (the capture's own record of the silence it filled in, :attr:`CallPipeline.unheard`; the
analysis leaves them out of the caller's turns). Every call gets its own CallPipeline
(own baseline, store row and summary), and its summary says what ended it. All of it
happens in the capture loop: the stream changes come with the audio chunks, the marks of
the socket through a queue the loop drains, each stamped with when it came on the source clock,
so that both are taken in the order they came however far the loop is behind the capture. Only
an ended call's files are written in a thread of their own, the loop going on meanwhile: its series
(``daemon.write_audio``), then its report (``daemon.report_on_critical``), which draws them
(:class:`~monitor.delivery.call_files.CallFileWrites`); the heartbeat links a report
once it is written, from the next chunk the loop takes.

Signals: SIGTERM/SIGINT stop the capture, finish the current call (flush,
summary, store; the call is not over for the caller, so it is stored as stopped part-way,
``"aborted": true`` as a replay's stopped call, and its report says it is judged only up to
there) and exit within 2 s (given 1 % of a core, within about 10-15 s: the stop's own CPU work, the
waits on the capture and the recognizer bounded); a capture that fails closes it as aborted too. SIGHUP reloads the
configuration, handing the new thresholds to the running call's AlertEngine (what a reload leaves to
the next start, refuses and says, and the webhook it retargets: ``daemon_reload.py``).

Transcription: the daemon listens before its speech model is loaded. The start hands it the
model loading in the background (``transcription/loading.py``: first in a short-lived child
process, Vosk's crash guard, then in this process); until it is ready the calls are monitored
acoustic-only (capture, cues, alerts) and the status and the heartbeat say that transcription is
loading. The capture loop takes the outcome at the first chunk after it is there, so a reload
never races it: a model that loaded joins, with the phrase lists of the configuration as it is
then (a reload meanwhile), from the next call on and in the call under way, whose recognizers are
fed from where the analysis has got to (a second or so before the join; the caller's words before
it are not transcribed, and the stored call says where they began:
:attr:`CallPipeline.words_from_s`); a model that did not is the same warning line and the same
last problem as a model problem found at the start, and the daemon runs on acoustic-only.

Status: ``state()`` is what the status socket (``delivery/status_socket.py``) answers, with the
last warning or error the package logged, and ``heartbeat_status()`` what the heartbeat tells; both
are built from the daemon's parts in ``daemon_status.py``. The recent alerts and call reports they list,
and the retention (``storage.retention_days``) that keeps them to what the database holds, are
``daemon_recent.py``'s. The speech/silence bookkeeping lives in ``capture/segmenter.py``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import logging
import math
import os
import queue
import signal
import time
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping, cast

from .capture.boundaries import STREAM_CALL_MIN_S, Action, StreamBoundaries
from .capture.segmenter import PREROLL_S, Segmenter
from .capture.sources import Chunk, Source, StreamsMark
from .config import Config, ConfigError, changed_keys, overruled_line
from .console import TRANSCRIPTION_OFF, call_name, first_line, keeping_records, problem_of, recovery_of
from . import daemon_status
from .daemon_recent import RecentCalls
from .daemon_reload import (AT_NEXT_START, RELOAD, TRANSCRIPTION_NOTES, WEBHOOK_KEYS, legs_problem,
                            move_status_socket, notes_change, retarget_webhook, say_notes, shared_call_folders_taken)
from .daemon_status import LastProblem
from .local_time import local_text
from .delivery.call_audio import CallAudio, CallAudioError
from .delivery.call_files import CallFileWrites, audio_folder, audio_name, call_files_problem, report_path
from .delivery.machine import machine_hash
from .delivery.status_socket import sent_clock, wait_left
from .delivery.store import Store
from .delivery.store_errors import StoreError
from .delivery.sinks.webhook import agent_of
from .delivery.store_guard import StoreGuard
from .delivery.store_rows import LIVE_SOURCE
from .events import AlertAckedEvent, AlertClearedEvent, AlertEvent, CallSummaryEvent, Event, StatusEvent, extend_spans
from .pipeline import CallPipeline
from .transcription.recognizer import give_back_freed_memory

if TYPE_CHECKING:
    from .delivery.sinks.terminal import HumanSink, JsonlSink

log = logging.getLogger(__name__)
_LEVELS = MappingProxyType({"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO})


def _call_source(p: CallPipeline) -> str:
    """The source (:func:`problem_of`) of a call's own status lines: its call ends their problem."""
    return f"call {p.call_token}"


@dataclasses.dataclass
class NoInput:
    """The spans of a call's time (seconds into it) in which its caller's source's state said it gave
    no input (missing, lost, reopening), as the capture loop sees the state change (about a second
    after the audio stopped): for the lines that say when it stops and when it is back. What was
    not heard, to the sample, is the capture's record (:attr:`CallPipeline.unheard`)."""

    spans: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    since: float | None = None  # the span going on now began then
    told: bool = False  # the span going on now was said ("lost"): its end is said too

    def follow(self, captures: bool, t: float) -> str | None:
        """The source's state at call time ``t``: "lost" when a span begins, "back" when a span
        that was said (:attr:`told`) ends, else None."""
        if not captures and self.since is None:
            self.since = t
            return "lost"
        if captures and self.since is not None:
            self.spans.append((self.since, t))
            self.since, told, self.told = None, self.told, False
            return "back" if told else None
        return None


@dataclasses.dataclass
class NotHeard:
    """The stretches of the running call's audio (source clock) not heard on a leg that captures:
    its audio dropped, or filled in while the daemon was held up (a machine too busy). They are no
    silence ending the call (the daemon did not hear what was said), but they do not make the
    silence heard around them go unheard either: a call whose caller hung up ends once the silence
    heard has lasted the end silence, also while a starved daemon drops part of its audio for ever."""

    spans: list[tuple[float, float]] = dataclasses.field(default_factory=list)

    def add(self, spans: list[tuple[float, float]]) -> None:
        """Stretches not heard, in time order (each after the ones added before), joined to the last when they touch."""
        for a, b in spans:
            extend_spans(self.spans, a, b, gap=1e-6)

    def within(self, since: float, until: float) -> float:
        """The seconds not heard between ``since`` and ``until``; the stretches before ``since``
        are let go (``since`` never goes back: the silence's start)."""
        self.spans = [(a, b) for a, b in self.spans if b > since]
        return sum(max(0.0, min(b, until) - max(a, since)) for a, b in self.spans)


BEHIND_SAY_S = 5.0
"""The capture loop (the analysis) this many seconds behind the capture (a busy machine: its CPU
taken by other programs, the daemon capped or niced) is said in one warning, and the status says by
how much; once it has stayed back within :data:`CAUGHT_UP_S` for :data:`LAG_OVER_S`, one line says how far
behind it ran and for how long."""

CAUGHT_UP_S = 1.5
"""The capture loop this close to the capture has caught up with it: it takes the audio a block or
two after it arrives, a leg that gives none padded after ``gap_s``, in chunks of up to 0.25 s."""

LAG_OVER_S = 5.0
"""The capture loop back within :data:`CAUGHT_UP_S` for this long has caught up: one that falls
behind again sooner (a machine that starves the daemon again and again) runs behind in the same
stretch, said once, not a warning and a line each time (as the capture's audio dropped)."""


@dataclasses.dataclass
class Lag:
    """How far the capture loop has run behind the capture since it was said (:data:`BEHIND_SAY_S`)."""

    since: float | None = None  # monotonic time the lag was said; None while it is not behind
    most_s: float = 0.0  # the most it has run behind since
    back_at: float | None = None  # monotonic time it came back within CAUGHT_UP_S (and has stayed)

    def follow(self, behind_s: float, now: float) -> str | None:
        """The loop ``behind_s`` behind the capture at monotonic time ``now``: "behind" when it has
        just fallen :data:`BEHIND_SAY_S` behind, "caught up" once it has been back within
        :data:`CAUGHT_UP_S` for :data:`LAG_OVER_S` (read :attr:`since`, :attr:`back_at` and
        :attr:`most_s`, then :meth:`clear`), else None."""
        if self.since is None:
            if behind_s < BEHIND_SAY_S:
                return None
            self.since, self.most_s, self.back_at = now, behind_s, None
            return "behind"
        self.most_s = max(self.most_s, behind_s)
        if behind_s > CAUGHT_UP_S:
            self.back_at = None
            return None
        if self.back_at is None:
            self.back_at = now
        return "caught up" if now - self.back_at >= LAG_OVER_S else None

    def clear(self) -> None:
        self.since, self.most_s, self.back_at = None, 0.0, None


ANSWER_MARGIN_S = 0.5
"""A call mark is carried out only this long before its client gives up waiting (the request's
``sent_at`` and ``wait_s``) at the latest: time for the answer to reach it. A mark whose client would
not hear it is not carried out (a hook that retries on failure would split the call, and a mark
applied late is at the wrong moment)."""


def gave_up_line(what: str, request: dict, left_s: float) -> str:
    """The one line saying that the ``call what`` mark of ``request``, whose client waits ``left_s``
    more (negative: gave up that long ago), is not carried out."""
    sent = local_text(time.time() - request["wait_s"] + left_s, "%H:%M:%S")
    pid = request.get("peer_pid")
    when = (f"gave up waiting {-left_s:.1f} s ago" if left_s <= 0 else
            f"gives up waiting in {left_s:.1f} s, before an answer could reach it")
    return (f"call {what}{f' from pid {pid}' if pid else ''} sent at {sent} not applied: its client {when} "
            f"(it waits {request['wait_s']:g} s); the daemon was held up (stopped, frozen or starved of CPU)")


@dataclasses.dataclass(frozen=True)
class SocketMark:
    """A call mark of the status socket (:meth:`Daemon.control`) waiting for the capture loop."""

    t: float  # when it came on the source clock (-inf for a source with none: the loop's next chunk)
    what: str  # "start", "end", "hold" or "resume"
    answer: concurrent.futures.Future  # what its client is told
    request: dict = dataclasses.field(default_factory=dict)  # as the socket read it (``peer_pid`` added)
    gives_up_at: float | None = None  # when its client gives up waiting (:func:`sent_clock`); None: it does not say

    def late(self) -> str | None:
        """:func:`gave_up_line` once the loop takes it too late for its client to hear it applied
        (:data:`ANSWER_MARGIN_S`: the daemon was held up between its queueing and the loop taking
        it); None while in time, or for a request that does not say how long its client waits."""
        if self.gives_up_at is None:
            return None
        left = self.gives_up_at - sent_clock()
        return gave_up_line(self.what, self.request, left) if left <= ANSWER_MARGIN_S else None


ANALYSIS_BEHIND = "analysis behind"
"""The source (:func:`problem_of`) of the line saying that the analysis runs behind the capture."""


def wait_left_s(since: float | None, t: float, limit_s: float) -> float | None:
    """The seconds left at call time ``t`` of a call waiting for its caller's source before the source
    has given no input for ``limit_s`` (``daemon.lost_source_end_s``), its input not heard since call
    time ``since`` (None: the capture has not filled in any of it yet): 0 once it has; None with no
    limit (0)."""
    if limit_s <= 0:
        return None
    return limit_s if since is None else min(limit_s, max(0.0, since + limit_s - t))


class Daemon:
    def __init__(self, cfg: Config, source: Source, store: Store, sinks: dict[str, Callable[[Event], None]],
                 *, reload: Callable[[], Config] | None = None, webhook=None, notify=None, transcription=None,
                 transcription_off: str | None = None, loading=None, status=None,
                 started_at: float | None = None, options: Mapping[str, str] | None = None) -> None:
        self.cfg = cfg
        self.running_cfg = cfg
        """What the keys of :data:`AT_NEXT_START` run with: the start's values (and a reload's webhook
        URL and token file once applied); a reload names the keys that differ from these."""
        self.source = source
        self.store = store
        self.agent = agent_of(cfg.delivery.agent_name)
        """This agent's name, as the webhook's posts give it (``delivery.agent_name`` applies at the
        next start): kept with each call."""
        self.machine = machine_hash()
        """This machine's and account's hash (never the machine id; None where nothing tells the machine):
        the heartbeat's ``status.machine``, by which the supervisor's console tells this desk from
        another behind the same address."""
        self.sinks = dict(sinks)
        self.reload_fn, self.options = reload, dict(options or {})  # the option of each key the command line sets
        self.guard = StoreGuard(store, written=(*(() if webhook is None else (webhook.written,)), self._alert_written))
        self._interrupted_closed, self._trim_due = False, False  # _trim_due: a call's freed memory to give back
        self.webhook = webhook
        self.heartbeat = None  # the webhook's Heartbeat, once it runs (it follows a new URL too)
        self.notify = notify
        self.transcription = transcription
        self.transcription_off = transcription_off
        """Why the start loaded no speech model (its warning line, said then), or None: the daemon's
        problem in its status and heartbeat from :meth:`run` on."""
        self.loading = loading
        """The speech model loading in the background (a ``ModelLoading``) until the capture loop
        takes its outcome (:meth:`_join_transcription`), then None."""
        self.status = status
        """The status socket's server (a ``StatusServer``), which a reload moves to a new place; None
        where nothing listens for the daemon (a daemon run in a test)."""
        self._begin_bookkeeping(started_at)
        self._begin_capture_state(cfg, source)

    def _begin_bookkeeping(self, started_at: float | None) -> None:
        """What the daemon keeps from its start on: the running pipeline, the counts, the last problem,
        the active alerts, the stop's reason, the queues the capture threads report to and the recent calls."""
        self.pipeline: CallPipeline | None = None
        self.call_origin = 0.0
        self.calls = self.alerts_total = 0
        self._problems = LastProblem()
        self.active: dict[str, dict] = {}
        self.started_at = time.time() if started_at is None else started_at
        """When the process began to start (its status's ``started_at`` and uptime, before and after
        the start's seconds loading the model and opening the capture)."""
        self.stop_reason: str | None = None
        self._reload = False
        self._msgs: queue.Queue[tuple[str, str]] = queue.Queue()  # (level, message) of capture threads
        self._acks: queue.Queue[AlertAckedEvent] = queue.Queue()
        self._sink_errors: dict[str, int] = {}  # failures per sink
        self._audio: CallAudio | None = None  # the running call's audio file, while it takes the audio
        self._unnamed_audio: list[tuple[int, Path]] = []  # (the guard's call token, file) until the id is known
        self._reports_waiting: list[int | None] = []  # the call tokens of critical calls whose alerts the guard holds
        self.recent = RecentCalls(self.store, self.guard, store_open=self._store_open,
                                  files_cfg=lambda: self._files_cfg(self.cfg),
                                  unnamed_audio=lambda: (f for _, f in self._unnamed_audio))
        """The recent alerts and call reports the status and the heartbeat list, and the retention."""
        self._call_folders: set[str] = set()  # kept in the database (:meth:`_note_call_folder`)
        self.call_files = CallFileWrites()
        """The ended calls' series and reports, written off the capture loop; all written before :meth:`run` returns."""

    def _begin_capture_state(self, cfg: Config, source: Source) -> None:
        """What the capture loop starts with: the segmenter and its preroll, the clocks, the calls'
        boundaries (as at the start), the socket's marks and the running call's audio and input."""
        self.segmenter = Segmenter(source.rate)
        self._preroll: collections.deque[Chunk] = collections.deque()
        self._now = 0.0
        self._ready = 0.0  # when (source clock) the audio up to _now was all there (:attr:`behind_s`)
        self._wall_now = time.time()  # the wall-clock time the audio of the chunk ending at _now was captured
        self._took_chunk = False  # the loop has taken a chunk: _now is on the capture's clock
        self._lag = Lag()
        self.boundaries = cfg.daemon.call_boundaries  # as at the start (its watcher is opened then)
        self.streams = StreamBoundaries(cfg.daemon.stream_end_grace_s) if "streams" in self.boundaries else None
        self._controls: queue.Queue[SocketMark] = queue.Queue()  # the socket's marks
        self._controls_later: list[SocketMark] = []
        self._held: list[Chunk] = []  # the running call's audio held back while a split may be due
        self._marked = False  # the running call was begun by ``call start``
        self._hold_from: float | None = None  # the running call is on hold since then (``call hold``; source clock)
        self._holds: list[tuple[float, float]] = []  # the running call's holds resumed, [from, to) (source clock)
        self._deaf_until = 0.0  # the running call's caller's source gave no input until then (source clock)
        self._heard = False  # the running call's caller's source gave input since it began
        self._no_input = NoInput()  # ... and the spans of its time it gave none
        self._not_heard = NotHeard()  # the running call's audio not heard on a leg that captures

    @property
    def last_problem(self) -> dict | None:
        """The last warning or error logged while :meth:`run` ran: level, message and time."""
        return self._problems.problem

    def _watching_problems(self) -> contextlib.AbstractContextManager[None]:
        """The package's records to :attr:`last_problem`, its info lines too (the recoveries) at
        every verbosity (``run`` without ``-v``, as systemd's unit runs it, says only warnings)."""
        return keeping_records(self._problems)

    # ------------------------------------------------------------------ control
    def request_stop(self, reason: str = "stop") -> None:
        """Stop at the next chunk (from a signal handler too: a second signal, which may come
        while the first one's handler runs, changes nothing, rather than stopping the source again
        from inside it). The running call's recognizers give way to the stop's own work (they hold
        at their next slice: :meth:`~monitor.transcription.recognizer.Transcriber.give_way`); they
        still have their second, at their own priority, as the call ends."""
        if self.stop_reason:
            return
        self.stop_reason = reason
        self.source.stop()
        p = self.pipeline
        for tr in list(p.transcribers.values()) if p is not None else ():
            tr.give_way()

    def request_reload(self) -> None:
        self._reload = True

    def source_status(self, level: str, message: str, topic: str) -> None:
        """From capture threads: logged now, and a status event from the main loop. A warning is a
        problem of its ``topic`` (a leg lost, its audio dropped), which an info line of the same topic
        (reopened, found, caught up) says is over: the status then shows it resolved, not current.
        Said while a call runs, the logged line names it (``call 12: caller leg (...): audio dropped: ...``),
        as the daemon's other lines of a call do (:meth:`_call_said`); its status event carries the call's id."""
        tag = problem_of if level == "warning" else recovery_of
        p = self.pipeline  # the main loop's: read once, as it is now
        said = message if p is None else f"call {call_name(p.call_id)}: {message}"
        log.log(_LEVELS.get(level, logging.INFO), "%s", said, extra=tag(f"capture: {topic}"))
        self._msgs.put((level, message))

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda s, f: self.request_stop("SIGTERM"))
        signal.signal(signal.SIGINT, lambda s, f: self.request_stop("SIGINT"))
        signal.signal(signal.SIGHUP, lambda s, f: self.request_reload())

    # ------------------------------------------------------------------ events
    def emit(self, events: list[Event], call_token: int | None = None, call_started_at: float | None = None) -> None:
        """``events`` to every sink; ``call_token``: their call's (the running call's when None), by
        which an alert a failing database holds back is named once its call's row is written, and
        ``call_started_at`` its start."""
        for ev in events:
            recent = self._note_alert(ev, call_token, call_started_at) if isinstance(ev, AlertEvent) else None
            if isinstance(ev, AlertClearedEvent):
                self.active.pop(ev.kind, None)
            for name, sink in self.sinks.items():
                self._to_sink(name, lambda: sink(ev))
            if isinstance(ev, CallSummaryEvent) and self.notify is not None and "notify" not in self.sinks:
                # turned off by a reload: a critical notification it showed is replaced all the same
                self._to_sink("notify", lambda: self.notify(ev))
            if recent is not None and isinstance(ev, AlertEvent) and not ev.stored and self.webhook is not None:
                # posted from memory
                recent["posted_id"] = self.webhook.posted_as(ev)
        for name, sink in self.sinks.items():
            end_batch = getattr(sink, "end_batch", None)  # a sink that says a batch's alerts together
            if end_batch is not None:
                self._to_sink(name, end_batch)
        self.recent.end_batch()

    def _note_alert(self, ev: AlertEvent, call_token: int | None, call_started_at: float | None) -> dict[str, Any]:
        """An alert raised: counted, active, and the last of the recent alerts the status lists, its
        call named by ``call_token`` and started at ``call_started_at`` (the running call's when
        ``call_token`` is None); returns that entry."""
        self.alerts_total += 1
        self.active[ev.kind] = {"t": ev.t, "severity": ev.severity}
        if call_token is None and self.pipeline is not None:
            call_token, call_started_at = self.pipeline.call_token, self.pipeline.started_at
        return self.recent.raised(ev, call_token, call_started_at)

    def _alert_written(self, held: AlertEvent, stored: AlertEvent) -> None:
        """The store guard wrote an alert it held: its recent alert takes the database's id
        (:meth:`RecentCalls.written`)."""
        self.recent.written(held, stored)

    @staticmethod
    def _call_said(p: CallPipeline, events: list[Event]) -> list[Event]:
        """``events`` of the call ``p``, its status lines logged as the daemon's own are (named with
        their call), so that they reach stderr, where the terminal leaves the levels logging says
        (a call's legs read the wrong way round, an agent's leg too quiet), and the status's last
        problem, over when the call ends."""
        for ev in events:
            if isinstance(ev, StatusEvent):
                said = ev.message.removeprefix(f"{p.source}: ")  # a recording's name; a live call's is its number
                log.log(_LEVELS.get(ev.level, logging.INFO), "call %s: %s", call_name(p.call_id), said,
                        extra=problem_of(_call_source(p)) if ev.level != "info" else None)
        return events

    def _to_sink(self, name: str, deliver: Callable[[], None]) -> None:
        """Hand an event to the sink ``name``: one failing sink never stops the others."""
        try:
            deliver()
        except Exception as err:  # noqa: BLE001 - said, counted and left
            n = self._sink_errors[name] = self._sink_errors.get(name, 0) + 1
            if n <= 3 or n % 100 == 0:
                log.warning("%s output failed: %s", name, err)

    def _status_event(self, level: str, message: str) -> StatusEvent:
        """A status line: the running call's (its ``call_id``) at its time, or, outside a call, at the
        wall-clock time (``at``; its ``t`` the seconds since the capture began)."""
        if self.pipeline is not None:
            return StatusEvent(t=round(max(0.0, self._now - self.call_origin), 3), level=level, message=message,
                               call_id=self.pipeline.call_id)
        return StatusEvent(t=round(max(0.0, self._now), 3), level=level, message=message, at=round(time.time(), 3))

    def acked(self, ev: AlertAckedEvent) -> None:
        """From the heartbeat's thread: a supervisor acknowledged one of this daemon's alerts; it goes
        to the sinks from the main loop (:meth:`_drain_acks`)."""
        self._acks.put(ev)

    def _drain_acks(self) -> None:
        """The acknowledgements the console told: kept in the database (through the store guard: held
        while it fails), on its alert in the recent alerts the status lists, and to every sink. One
        the database holds already is no news: the console tells those of its last 15 minutes again
        to a daemon started since (the terminal line, the critical notification of an earlier call);
        one of an alert the database does not hold (a purged call's, one never raised) is none either
        (:meth:`~monitor.delivery.store.Store.add_ack`)."""
        while True:
            try:
                ev = self._acks.get_nowait()
            except queue.Empty:
                return
            if self.guard.add_ack(ev) is False:
                continue
            self.recent.ack(ev)
            self.emit([ev])

    def _drain_msgs(self) -> None:
        self._drain_acks()
        while True:
            try:
                level, msg = self._msgs.get_nowait()
            except queue.Empty:
                return
            self.emit([self._status_event(level, msg)])

    # ------------------------------------------------------------------ calls
    def _start_call(self, at: float | None = None) -> None:
        """Start a call: at the kept pre-roll (speech onset), or ``at`` on the source clock (a
        stream or an explicit mark: the call begins there, the audio before it is no part of it)."""
        while self._preroll and at is not None and self._preroll[0].t0 < at - 1e-9:
            self._preroll.popleft()  # the call begins at ``at``: what came before is no part of it
        first = self._preroll[0].t0 if self._preroll else (self._now if at is None else at)
        self.call_origin = first
        self._marked, self._deaf_until, self._heard, self._no_input = False, first, False, NoInput()
        self._hold_from, self._holds = None, []
        self._not_heard = NotHeard()
        self._no_input.follow(self._caller_captures(), 0.0)
        extra = (self.transcription.for_call(self.source.rate, self.source.legs) if self.transcription
                 else {"words_may_join": True} if self.loading is not None else {})
        sources = {leg: s["source"] for leg, s in self.source.stats().items()} if hasattr(self.source, "stats") else {}
        label = "+".join(f"{leg}={source}" for leg, source in sources.items()) if sources else "live"
        self.pipeline = CallPipeline(self.cfg, self.source.rate, self.source.legs, store=self.guard,
                                     source=f"{LIVE_SOURCE}{label}", started_at=self._wall(first),
                                     channels={leg: i for i, leg in enumerate(self.source.legs)},
                                     agent=self.agent, sources=sources, keep_series=self.cfg.daemon.write_audio,
                                     **extra)
        self.calls += 1
        self.active = {}
        name = call_name(self.pipeline.call_id)
        log.info("call %s started", name)
        self.emit([StatusEvent(t=0.0, level="info", message=f"call {name} started", call_id=self.pipeline.call_id)])
        if self.cfg.daemon.write_audio:
            self._open_audio(self._wall(first))
        chunks, self._preroll = list(self._preroll), collections.deque()
        for ch in chunks:
            self._feed(ch)

    def _wall(self, t: float) -> float:
        """The wall-clock time of the source clock's ``t``, as the chunk the loop took last places it:
        one clock for the calls' starts and ends, so that a call ended where the next begins
        (``call start``, a new stream) ends when the next starts."""
        return self._wall_now - (self._now - t)

    def _feed(self, chunk: Chunk) -> None:
        c = Chunk(round(chunk.t0 - self.call_origin, 6), chunk.samples, unheard=chunk.unheard)
        if self._audio is not None:
            try:
                self._audio.write(chunk.samples)
            except Exception as err:  # noqa: BLE001 - a full disk: the call goes on without the rest of its audio
                self._audio_cut_short(err.reason if isinstance(err, CallAudioError) else first_line(err))
        self.emit(self._call_said(self._call, self._call.process(c)))

    def _abort_call(self, err: BaseException) -> None:
        """The running call failed (recognizer error, database error): say so in one line, close
        what can be closed, and go on listening for the next call."""
        p, self.pipeline = self.pipeline, None
        self._held = []
        why = first_line(err)
        log.error("call %s stopped: %s", call_name(p.call_id) if p else "?", why)
        if p is not None:
            try:
                # alerts still raised end with the call
                self.emit(self._call_said(p, p.abort(timeout_s=1.0)), p.call_token, p.started_at)
            except Exception as close_err:  # noqa: BLE001 - e.g. the database itself failed
                log.error("call %s not closed: %s", call_name(p.call_id), close_err)
            if self.notify is not None and not self.stop_reason:  # no summary comes: its critical
                self.notify.call_ended(p.call_id)  # notifications say it is over (not so as the daemon stops)
        self._close_audio(p.call_id if p is not None else None)
        self.active = {}
        if self.streams is not None:
            self.streams.call_ended()

    def _end_call(self, why: str, *, stopped: bool = False) -> None:
        """End the running call, ``why`` its summary's ``ended_by``; ``stopped``: the daemon's stop
        ended it, not the call's end (stored as stopped part-way: :meth:`CallPipeline.finish`)."""
        p = self.pipeline
        if p is None:
            return
        if self.streams is not None:
            self.streams.call_ended()
        try:
            events = p.finish(ended_by=why, stopped=stopped, ended_at=self._wall(self.call_origin + p.duration_s),
                              on_hold=self._hold_spans(p.duration_s))
        except Exception as err:  # noqa: BLE001 - one call's failure must not stop the monitor
            self._abort_call(err)
            return
        self.pipeline = None
        self._trim_due = True
        self.emit(self._call_said(p, events), p.call_token, p.started_at)  # the last cues' alerts are this call's
        audio_whole = self._audio is not None  # written to the call's end: its report draws the call's series
        self._close_audio(p.call_id)
        if audio_whole and not stopped and (kept := p.series_to_write()) is not None:
            self.call_files.write_series(self._files_cfg(self.cfg), *kept)  # in its own thread
        self.active = {}
        log.info("call %s ended (%s): %.1f s, %s alert(s)", call_name(p.call_id), why, p.duration_s, len(p.alerts),
                 extra=recovery_of(_call_source(p)))  # its status lines' problems end with it
        if self.cfg.daemon.report_on_critical and any(a.severity == "critical" for a in p.alerts):
            self._report_when_stored(p)

    def _silence_reason(self, end_s: float) -> str:
        """Why the silence that ended a call: quiet legs, or legs whose input is lost."""
        legs = self.source.stats() if hasattr(self.source, "stats") else {}
        lost = [f"{leg} input lost: {s.get('last_error') or s.get('state')}" for leg, s in legs.items()
                if s.get("state") in ("lost", "reopening")]
        return f"{end_s:g} s of silence" + (f"; {'; '.join(lost)}" if lost else "")

    def _report_when_stored(self, p: CallPipeline) -> None:
        """The report of call ``p``, which raised a critical alert (daemon.report_on_critical): written
        now, or, while a failing database holds the call's alerts back (the report draws them from
        there), once it has written them (:meth:`_write_waiting_reports`), said in one warning."""
        if not self.guard.held and p.call_id is not None:
            self._write_report(p.call_id)
            return
        log.warning("call %s: its report waits for the database, which holds its alerts back: written once the "
                    "database works again", call_name(p.call_id))
        self._reports_waiting.append(p.call_token)

    def _write_waiting_reports(self) -> None:
        """The reports of the calls :meth:`_report_when_stored` kept waiting, once the database
        holds nothing back."""
        if not self._reports_waiting or self.guard.held:
            return
        waiting, self._reports_waiting = self._reports_waiting, []
        for token in waiting:
            if (call_id := self.guard.real_id(token)) is not None:
                self._write_report(call_id)

    def _say_reports_unwritten(self) -> None:
        """At the stop, the reports still waiting for a database that failed to the end: one line."""
        if self._reports_waiting:
            log.error("no report of %s call(s) with a critical alert: their alerts are not stored",
                      len(self._reports_waiting))

    def _write_report(self, call_id: int) -> None:
        """The call report of a call with a critical alert (daemon.report_on_critical), written
        after the call's series, which it draws, off the capture loop (:attr:`call_files`), which
        does not even import the report's modules."""
        cfg, store = self._files_cfg(self.cfg), self.store
        path = report_path(cfg, call_id)

        def write() -> str | None:
            from . import report
            return report.maybe_write_call_report(cfg, store, call_id,
                                                  on_error=lambda why: log.warning("%s: %s", path, why))
        self.call_files.write_report(call_id, path, write)

    def _take_reports(self) -> None:
        """The call reports written since the loop last looked: among the recent reports the
        heartbeat links, their folder kept in the database."""
        for call_id, path in self.call_files.reports_written():
            log.info("call report: %s", path)
            self.recent.reported(call_id, path)
            self._note_call_folder(os.path.dirname(path))

    def _note_call_folder(self, folder: str | os.PathLike[str]) -> None:
        """Keep in the database the folder a call file went to, where any purge of its calls finds
        it (:meth:`Store.note_call_folder`); a database that fails now is asked again with the next
        file."""
        folder = os.path.abspath(folder)
        if folder in self._call_folders:
            return
        try:
            self.store.note_call_folder(folder)
        except StoreError as err:
            log.debug("%s not kept as a folder of call files yet: %s", folder, err)
            return
        self._call_folders.add(folder)

    def _files_cfg(self, cfg: Config) -> Config:
        """``cfg`` with the database that runs (``storage.db`` applies at the next start): the call
        audio and reports go beside it (when their folders are not set), where the purge of its
        calls finds them."""
        return dataclasses.replace(cfg, storage=dataclasses.replace(cfg.storage, db=self.running_cfg.storage.db))

    def _open_audio(self, started_at: float) -> None:
        """Write the call's audio (``daemon.write_audio``) to ``call-<id>.wav``; while the database
        holds the call back (no id yet), to a file named by the call's start, renamed once the id is
        known (:meth:`_name_audio`). A folder or file that fails is one warning naming the call, the
        file and why: the call is monitored without its audio, as when writing fails mid-call
        (:meth:`_feed`)."""
        p = self._call
        try:
            self._audio = CallAudio.create(audio_folder(self._files_cfg(self.cfg)), p.call_id, started_at,
                                           self.source.rate, len(self.source.legs))
        except CallAudioError as err:
            log.warning("call %s: audio not written: %s; the call is monitored and its alerts go as usual",
                        call_name(p.call_id), err)
            return
        token, path = p.call_token, self._audio.path
        if p.call_id is None and token is not None:  # (a daemon's call has a token: it has a store)
            self._unnamed_audio.append((token, path))
        else:
            self._note_call_folder(path.parent)

    def _close_audio(self, call_id: int | None) -> None:
        """Close the audio of call ``call_id``, whose end is stored as usual even if closing it fails
        (a delayed write error: the disk took the audio and failed to store it): one warning naming
        the call, its file and why. Closed off the capture loop (:attr:`call_files`), before the
        call's series and report: the close puts the file on the disk, which a slow or failing disk
        may hold for longer than the capture's queue lasts."""
        audio, self._audio = self._audio, None
        if audio is not None:
            self.call_files.close_audio(audio.close, lambda err: self._audio_not_kept(call_id, audio.path, err))
        self._name_audio()

    @staticmethod
    def _audio_not_kept(call_id: int | None, path: Path, err: Exception) -> None:
        """The close of call ``call_id``'s audio ``path`` failed: the call is over, its audio is what it is."""
        why = err.reason if isinstance(err, CallAudioError) else first_line(err)
        log.warning("call %s: audio %s not kept whole: %s; the file holds what the disk stored of it",
                    call_name(call_id), path, why)

    def _audio_cut_short(self, why: str) -> None:
        """Writing the call's audio failed (a full disk, one gone read-only): one warning naming the
        call, the file, ``why``, what it keeps and what is lost; the file closed with what it holds (its
        header says so), the call monitored on without its audio."""
        audio, self._audio = self._audio, None
        assert audio is not None
        log.warning("call %s: audio %s cut short at %.1f s: %s; the file keeps the call's audio up to there, the "
                    "rest is not written (the call is monitored and its alerts go as usual)",
                    call_name(self._call.call_id), audio.path, audio.seconds, why)
        self.call_files.close_audio(audio.close, lambda err: None)  # the file failing (a full disk) may fail its close too

    def _name_audio(self) -> None:
        """Give the audio of calls the database has written late its ``call-<id>.wav`` name (what
        the call report looks for)."""
        waiting: list[tuple[int, Path]] = []
        for token, path in self._unnamed_audio:
            call_id = self.guard.real_id(token)
            if call_id is None:
                waiting.append((token, path))
                continue
            try:
                path.rename(path.with_name(audio_name(call_id)))
            except OSError as err:
                log.warning("call %s: its audio keeps the name %s: %s", call_id, path.name, err)
            self._note_call_folder(path.parent)
        self._unnamed_audio = waiting

    # ------------------------------------------------------------------ housekeeping
    @property
    def refused(self) -> StoreError | None:
        """Why the daemon stops on its database: one it could not open at the start opened later,
        and by then another daemon held its lock (:attr:`PendingStore.refused`); None otherwise."""
        return getattr(self.store, "refused", None)

    def _stop_if_refused(self) -> None:
        """Stop, as a start on a database another daemon holds is stopped, rather than run beside
        that daemon with every alert marked as not stored."""
        if self.refused is not None:
            self.request_stop("another daemon holds the database")

    def _say_refused(self) -> None:
        """The stop's one line: the database, that another daemon holds it, and what stays unstored."""
        held, alerts = self.guard.held, self.guard.held_alerts
        lost = (f"; the {alerts} alert(s) and {held - alerts} other record(s) (calls, clears, baselines) it held "
                "are not stored") if held else ""
        log.error("%s; this daemon stops (it could not open the database when it started, and another daemon "
                  "took it since)%s", self.refused, lost)

    def _say_unwritten(self) -> None:
        """The stop's one line while the database still fails: what it held is not stored, and an
        alert among it reached the supervisor only if the webhook delivered it from memory."""
        held, alerts = self.guard.held, self.guard.held_alerts
        lost = ("; an alert the webhook had not delivered from memory did not reach the supervisor either"
                if alerts and self.webhook is not None else "")
        log.error("%s; the daemon stops with %s alert(s) and %s other record(s) (calls, clears, baselines) it held "
                  "that are not stored%s", self.guard.last_error, alerts, held - alerts, lost)

    def _store_open(self) -> bool:
        """False while the database could not be opened yet (its problem was said at start)."""
        return getattr(self.store, "is_open", True)

    def close_interrupted(self, waits: bool = True) -> None:
        """Calls a crash or a stop left open are closed as interrupted (one line if there were any); with a
        database not opened yet, or failing, once it works and this daemon's own calls are written (the
        guard tries again as it writes what it holds back). Without ``waits`` (at the start, which the
        capture does not wait for) a database another program locks fails at once, as the start's purge does."""
        if self._interrupted_closed or not self._store_open() or self.guard.held:
            return
        ids = self.guard.close_interrupted(waits)
        if ids is None:  # the guard said the database's failure
            return
        self._interrupted_closed = True
        if ids:
            log.warning("closed %s call(s) left open by an earlier stop as interrupted (call %s)",
                        len(ids), ", ".join(map(str, ids)))

    # ------------------------------------------------------------------ reload
    def _do_reload(self) -> None:
        """A SIGHUP's reload: the configuration read again, checked as at the start, applied (its
        webhook's URL and token at once, what applies at the next start named) and said."""
        self._reload = False
        if self.reload_fn is None:
            return
        cfg = self._reloaded_config(self.reload_fn)
        if cfg is None:
            return
        applied = self._retarget_webhook(cfg)
        moved = self._move_status_socket(cfg)
        kept = (*(() if applied is not None else WEBHOOK_KEYS),  # refused: the next start refuses it too
                *(moved if moved is not None else ("daemon.status_socket",)))  # moved, or said not moved
        later = [k for k in changed_keys(self.running_cfg, cfg, AT_NEXT_START) if k not in kept]
        overruled = overruled_line(self.cfg, cfg, self.options)
        notes_from = self.cfg if notes_change(self.transcription, self.cfg, cfg) else None
        shared = shared_call_folders_taken(self._files_cfg(self.cfg), self._files_cfg(cfg))
        self._run_with(cfg)
        self._say_reloaded(later, refused=applied is None or moved is None)
        if overruled is not None:
            self._say("warning", overruled)
        if notes_from is not None:
            say_notes(self.transcription, cfg, notes_from, self._say)
        for said in shared:
            self._say("warning", said)

    def _reloaded_config(self, reload_fn: Callable[[], Config]) -> Config | None:
        """The configuration read again (by ``reload_fn``), or None when it is refused (said as the
        reload's problem): a bad file, or call audio or legs the start would refuse too."""
        try:
            cfg = reload_fn()
            problem = call_files_problem(self._files_cfg(cfg)) or legs_problem(self.running_cfg, cfg)
            if problem:  # as at the start: rather than every call warning that its audio is lost
                raise ConfigError(problem)
        except ConfigError as err:
            self._say("warning", f"configuration not reloaded: {err}", problem_of(RELOAD))
            return None
        return cfg

    def _retarget_webhook(self, cfg: Config) -> tuple[str, ...] | None:
        """The webhook (and its heartbeat) moved to ``cfg``'s URL and token file, which then count as
        running; what :func:`retarget_webhook` answers (None: its token was refused)."""
        applied = retarget_webhook(self.webhook, self.heartbeat, self.running_cfg, cfg)
        if applied:
            self.running_cfg = dataclasses.replace(self.running_cfg, delivery=dataclasses.replace(
                self.running_cfg.delivery, webhook_url=cfg.delivery.webhook_url,
                webhook_token_file=cfg.delivery.webhook_token_file))
        return applied

    def _move_status_socket(self, cfg: Config) -> tuple[str, ...] | None:
        """The status socket moved to where ``cfg`` places it, whose ``daemon.status_socket`` then
        counts as running, said in one line as the reload is (to the terminal, not only the log);
        what :func:`move_status_socket` answers (None: it could not be moved)."""
        was = getattr(self.status, "path", None)
        moved = move_status_socket(self.status, self.running_cfg, cfg)
        if moved and self.status.path != was:
            self._say("info", f"status socket moved to {self.status.path} (from {was})")
        if moved:
            self.running_cfg = dataclasses.replace(self.running_cfg, daemon=dataclasses.replace(
                self.running_cfg.daemon, status_socket=cfg.daemon.status_socket))
        return moved

    def _run_with(self, cfg: Config) -> None:
        """``cfg`` applied to what runs: the distress phrases (from the next call), the streams' end
        grace, the running call's pipeline (its events emitted), the terminal's bell and words, notify on or off."""
        self.cfg = cfg
        if self.transcription is not None:  # the distress phrases, from the next call (as analysis keys)
            self.transcription = self.transcription.with_phrases(cfg)
        if self.streams is not None:
            self.streams.reconfigure(cfg.daemon.stream_end_grace_s)
        if self.pipeline is not None:
            self.emit(self._call_said(self.pipeline, self.pipeline.reconfigure(cfg)))
        if "terminal" in self.sinks:
            terminal = cast("HumanSink | JsonlSink", self.sinks["terminal"])  # the command's terminal sink
            if hasattr(terminal, "bell"):
                terminal.bell = cfg.delivery.bell
            terminal.keep_words(cfg.storage.transcripts)
        if self.notify is not None:
            self.notify.buttons = cfg.delivery.notify_buttons
            if cfg.delivery.notify:
                self.sinks["notify"] = self.notify
            else:
                self.sinks.pop("notify", None)

    def _say_reloaded(self, later: list[str], *, refused: bool) -> None:
        """The reload's line: the keys ``later`` that apply at the next start, or that it applied
        (the reload's problem over); nothing when part of it was ``refused`` (the webhook's token, the
        status socket's new place: said as the reload's problem)."""
        if later:
            message = f"configuration reloaded, except what applies at the next start: {', '.join(later)}"
            # the last problem now, a refused reload's no more; a refused part stays the reload's problem
            self._say("warning", message, None if refused else problem_of(RELOAD))
        elif not refused:  # else a part refused, said as the reload's problem
            self._say("info", "configuration reloaded", recovery_of(RELOAD))  # what a reload refused or left is over


    # ------------------------------------------------------------------ status
    def state(self) -> dict[str, Any]:
        """What the status socket answers (:func:`daemon_status.state`)."""
        return daemon_status.state(self)

    def boundaries_state(self) -> dict[str, Any]:
        """What the calls' boundaries are based on now (:func:`daemon_status.boundaries_state`)."""
        return daemon_status.boundaries_state(self)

    def presence(self) -> tuple:
        """What a supervisor console shows of the agent at a glance (:func:`daemon_status.presence`)."""
        return daemon_status.presence(self)

    def awaits_ack(self) -> bool:
        """Whether a critical alert of the running call awaits a supervisor (:func:`daemon_status.awaits_ack`)."""
        return daemon_status.awaits_ack(self)

    def heartbeat_status(self, report_url: Callable[[str], str] = lambda path: path) -> dict[str, Any]:
        """What a supervisor console is told (:func:`daemon_status.heartbeat_status`)."""
        return daemon_status.heartbeat_status(self, report_url)

    @property
    def _call(self) -> CallPipeline:
        """The running call's pipeline, read where a call runs (its chunks, its audio, its lines)."""
        if self.pipeline is None:
            raise RuntimeError("no call runs")
        return self.pipeline

    @property
    def _streams(self) -> StreamBoundaries:
        """The streams' boundaries, read where the calls are bounded by streams (their marks, splits, starts)."""
        if self.streams is None:
            raise RuntimeError("the calls are not bounded by streams")
        return self.streams

    @property
    def now_s(self) -> float:
        """The capture loop's clock: the source's seconds up to the last chunk it took."""
        return self._now

    @property
    def behind_s(self) -> float | None:
        """How far the capture loop (the analysis) runs behind the capture, in seconds: the source's
        clock now less when the audio of the last chunk the loop took was all there, its end, or later
        where the capture filled part of it in with silence afterwards (:attr:`LiveSource.ready_s`:
        the daemon itself held up, stopped or frozen, which the capture says as audio not heard, is
        no lag of the analysis's); None for a source with no clock of its own (a recording) and
        before the first chunk."""
        now = getattr(self.source, "now", None)
        return max(0.0, now() - max(self._now, self._ready)) if now is not None and self._took_chunk else None

    @property
    def captured_behind_s(self) -> float | None:
        """How long ago (source clock) the audio of the last chunk the loop took was captured: the
        source's clock now less that chunk's end, the time the capture filled in after a hold-up
        counted in (:attr:`behind_s` leaves it out); None as for :attr:`behind_s`."""
        now = getattr(self.source, "now", None)
        return max(0.0, now() - self._now) if now is not None and self._took_chunk else None

    def _follow_lag(self, behind_s: float) -> None:
        """Say once that the analysis runs :data:`BEHIND_SAY_S` behind the capture (a busy machine:
        alerts come late, at their call times), and once that it caught up, how far behind it ran
        and for how long."""
        lag = self._lag
        change = lag.follow(behind_s, time.monotonic())
        if change == "behind":
            dropped = getattr(self.source, "queue_s", None)
            past = f"; past {dropped:g} s behind, the audio is dropped" if dropped else ""
            self._say_in_call("warning", f"the analysis runs {behind_s:.0f} s behind the capture (the machine is "
                                         f"too busy): alerts come that much late, at their call times{past}",
                              problem_of(ANALYSIS_BEHIND))
        elif change == "caught up" and lag.since is not None and lag.back_at is not None:
            self._say_in_call("info", f"the analysis caught up with the capture (it ran up to {lag.most_s:.0f} s "
                                      f"behind, for {lag.back_at - lag.since:.0f} s)", recovery_of(ANALYSIS_BEHIND))
            lag.clear()

    def _say_in_call(self, level: str, message: str, extra: Mapping[str, object]) -> None:
        """A status line of the daemon's, logged naming the running call if one runs (as the
        capture's lines are: :meth:`source_status`), and to every sink."""
        p = self.pipeline
        log.log(_LEVELS[level], "%s", message if p is None else f"call {call_name(p.call_id)}: {message}", extra=extra)
        self.emit([self._status_event(level, message)])

    # ------------------------------------------------------------------ loop
    def run(self) -> int:
        """Listen, cut calls and run them until the source ends or :meth:`request_stop`."""
        with self._watching_problems():
            if self.last_problem is None:  # else kept already, before the first heartbeat
                self.keep_start_problems()
            self.close_interrupted(waits=False)
            self.recent.start_purge()
            self.recent.recall_alerts()
            try:
                self._listen()
            except BaseException as err:  # the capture failed: the running call stopped part-way
                if self.pipeline is not None:
                    self._abort_call(err)
                raise
            finally:  # what the guard holds is written however the listening ended
                self.recent.stop_purge()
                if self.refused is not None:
                    self._say_refused()
                elif not self.guard.retry(force=True):
                    self._say_unwritten()
                self._name_audio()
                self._write_waiting_reports()
                self._say_reports_unwritten()
                self.close_interrupted()  # if the database only opened during the last call
                self.call_files.close()  # the calls' series and reports written whole before the daemon exits
                self._take_reports()
        return 0

    def keep_start_problems(self) -> None:
        """The start's model problem, or the transcription setup's notes (its phrase lists against the
        model's language), said on stderr before the daemon ran, as the daemon's last problem, which
        the status and the heartbeat show (``run`` keeps them before its first heartbeat, :meth:`run`
        where nothing was kept): a reload that leaves none of the notes resolves them."""
        setup = self.transcription
        for note in setup.notes(self.cfg, setup.info) if setup is not None else ():
            self._keep_said(note, TRANSCRIPTION_NOTES)
        if self.transcription_off:
            self._keep_said(self.transcription_off, TRANSCRIPTION_OFF)

    def _join_transcription(self) -> None:
        """The outcome of the speech model loading in the background: the model's problem is the
        start's one warning line, the daemon's problem (acoustic-only, as when the start finds it);
        a model ready transcribes from the next call on, and the call under way from here
        (:meth:`CallPipeline.join_words`), with the phrase lists of the configuration as it is
        now, whose notes are said as the start says them. What is said is said before the status
        (read from another thread) stops saying that the model loads."""
        setup, off = self.loading.outcome()
        took_s = self.loading.took_s
        if setup is None:
            self.transcription_off = off
            self._say("warning", off, problem_of(TRANSCRIPTION_OFF))
            self.loading = None
            return
        setup = setup.with_phrases(self.cfg)
        for note in setup.notes(self.cfg, setup.info):
            self._say("warning", note, problem_of(TRANSCRIPTION_NOTES))
        p = self.pipeline
        if p is not None:
            p.join_words(**setup.for_call(self.source.rate, self.source.legs))
        joined = "" if p is None else \
            f"; call {call_name(p.call_id)}'s words are transcribed from {p.words_from_s:.1f} s into it (not before)"
        self._say("info", f"transcription ready: {setup.model_line()}, loaded in {took_s:.1f} s" + joined)
        self.transcription, self.loading = setup, None

    def _keep_said(self, message: str, source: str) -> None:
        """A warning about ``source`` said on stderr already, kept as the daemon's last problem."""
        self._problems.handle(log.makeRecord(log.name, logging.WARNING, __file__, 0, "%s", (message,), None,
                                             extra=problem_of(source)))

    def _listen(self) -> None:
        for chunk in self.source.chunks():
            self._now, self._took_chunk = chunk.t0 + len(chunk.samples) / self.source.rate, True
            self._ready = getattr(self.source, "ready_s", self._now)
            # when its audio was captured, not when the loop got to it
            self._wall_now = time.time() - (self.captured_behind_s or 0.0)
            self._follow_lag(self.behind_s or 0.0)
            self._drain_msgs()
            self._stop_if_refused()
            self._take_reports()
            self.recent.forget_purged()
            if self.loading is not None and self.loading.done:
                self._join_transcription()
            if self._reload:
                self._do_reload()
            self._marks(chunk)
            self._lift_long_hold(chunk.t0)
            chunk = self._on_hold(chunk)
            if self.pipeline is not None:
                self._follow_caller_input()
                self._not_heard.add(self._unheard_spans(chunk))
            onset = self.segmenter.feed(chunk)
            if self.pipeline is None:
                self._between_calls(chunk, onset)
            elif self._held or (self.streams is not None and self.streams.split_pending):
                self._held.append(chunk)  # the running call's audio, while a split may be due
                self._split_when_due()
            else:
                try:
                    self._feed(chunk)
                except Exception as err:  # noqa: BLE001 - one call's failure must not stop the monitor
                    self._abort_call(err)
                    continue
                self._end_if_over()
            if self.stop_reason:
                break
        self._drain_msgs()
        self._refuse_controls("the daemon is stopping")
        self._flush_held()
        if self.notify is not None:
            self.notify.keep_shown()  # the calls the stop ends go on: their critical notifications stay
        if self.pipeline is not None:  # the daemon's stop is no end of the call: it was monitored up to here
            self._end_call(self.stop_reason or "capture ended", stopped=self.stop_reason is not None)

    def _split_when_due(self) -> None:
        """Close the running call where the new streams began once they have played long enough
        (the next call starts there, with the audio held back since); feed the held audio to the
        running call if they went before."""
        due = self._streams.split_due(self._now)
        if due:
            held, self._held = self._held, []
            self._end_call(f"a new stream started playing into sink {self.sink_name()} (the next call)")
            self._preroll = collections.deque(held)
            self._start_marked(held[0].t0, bounded=True)
        elif due is False or not self._streams.split_pending:
            self._flush_held()

    def _flush_held(self) -> None:
        """The audio held back for a split that did not come, to the running call."""
        held, self._held = self._held, []
        for chunk in held:
            if self.pipeline is None:
                return
            try:
                self._feed(chunk)
            except Exception as err:  # noqa: BLE001 - one call's failure must not stop the monitor
                self._abort_call(err)
                return
        if held and self.pipeline is not None:
            self._end_if_over()

    def _end_if_over(self) -> None:
        """End the running call when its stream has gone (for the grace), or after the end
        silence where the silence decides."""
        if self.streams is not None and self.streams.stream_ended(self._now, on_hold=self._hold_from is not None):
            self._end_call(f"the softphone's stream ended (sink {self.sink_name()})")
            return
        if self.streams is not None and not self.streams.silence_may_end():
            return  # the stream that marks the call ends it
        end_s, lost_s = self.cfg.daemon.call_end_silence_s, self.cfg.daemon.lost_source_end_s  # as reloaded
        if self.waits_for_caller() and self.caller_wait_left_s(lost_s) == 0:
            self._end_call(f"the caller's source gave no input for {lost_s:g} s")
            return
        silence = min(self.segmenter.silence_s(self._now), self._now - self._deaf_until)  # within the call
        silence -= self._not_heard.within(self._now - silence, self._now)  # the silence heard
        if silence >= end_s:
            self._end_call(self._silence_reason(end_s))

    def caller_wait_left_s(self, limit_s: float) -> float | None:
        """:func:`wait_left_s` of the running call now, which waits for its caller's source; None when
        no call runs (the status thread asks as the capture loop may have just ended it)."""
        p = self.pipeline
        return wait_left_s(self._lost_since(p.unheard_since), p.duration_s, limit_s) if p is not None else None

    def _lost_since(self, since: float | None) -> float | None:
        """The call time the caller's source has given no input since, of ``since``, when its leg has
        not been heard (:attr:`CallPipeline.unheard_since`): a hold's time is none of it. A source lost
        during a hold is waited for ``daemon.lost_source_end_s`` from its loss (its own record, about a
        second after its audio stopped), not from the hold's start; one lost as the hold is resumed,
        from the resume."""
        if since is None:
            return None
        held_from, lost_from = self._hold_from, self._no_input.since  # once each: a status asks from its thread
        holds = self._holds + ([(held_from, math.inf)] if held_from is not None else [])
        for a, b in ((a - self.call_origin, b - self.call_origin) for a, b in holds):  # in order
            if a - 1e-6 <= since < b:
                since = max(a, b if lost_from is None else min(b, lost_from))
        return since

    def waits_for_caller(self) -> bool:
        """Whether the running call waits for its caller's source, which gives no input now: a
        call ``call start`` began, or one its caller was heard in (the source lost mid-call). The
        call goes on meanwhile, its time no silence, until ``daemon.lost_source_end_s`` without
        input ends it; a call begun by the agent's speech while the caller's source gave none is
        left to the silence."""
        return (self._marked or self._heard) and not self._caller_captures()

    def _follow_caller_input(self) -> None:
        """Follow whether the running call's caller's source gives input, saying when it stops and
        when it is back (one line each)."""
        captures = self._caller_captures()
        self._heard |= captures
        if self.waits_for_caller():
            self._deaf_until = self._now
        change = self._no_input.follow(captures, round(self._now - self.call_origin, 3))
        if change == "lost":
            self._say_waiting()
        elif change == "back":
            a, b = self._no_input.spans[-1]
            self._say("info", f"call {call_name(self._call.call_id)}: the caller's source gives input again, "
                              f"after {b - a:.1f} s without")

    def _unheard_spans(self, chunk: Chunk) -> list[tuple[float, float]]:
        """The stretches (source clock, in time order) of ``chunk`` not heard on a leg that captures
        (its audio dropped, or filled in while the daemon was held up: a machine too busy): no
        silence ending the call (:class:`NotHeard`; a 3 s stop of the daemon mid-call ended it, the
        rest of the call a new one). The stretches of a leg that gives no input (lost, waiting) are
        left to :meth:`waits_for_caller`."""
        if not chunk.unheard:
            return []
        stats = self.source.stats() if hasattr(self.source, "stats") else {}
        legs, rate = self.source.legs, self.source.rate
        return sorted((chunk.t0 + a / rate, chunk.t0 + b / rate) for column, a, b in chunk.unheard
                      if stats.get(legs[column], {}).get("state") == "running")

    def _say_waiting(self) -> None:
        """Say once that the running call waits for its caller's source, which gives no input now
        (when the call waits for it: :meth:`waits_for_caller`); its return is said then too."""
        if self._no_input.told or self._no_input.since is None or not self.waits_for_caller():
            return
        self._no_input.told = True
        lost_s = self.cfg.daemon.lost_source_end_s
        limit = f"; it ends after {lost_s:g} s without it" if lost_s > 0 else ""
        self._say("info", f"call {call_name(self._call.call_id)}: the caller's source gives no input: the call "
                          f"waits for it (no silence ends it meanwhile{limit})")

    def _say(self, level: str, message: str, extra: Mapping[str, object] | None = None) -> None:
        """A status line: logged (``extra``: the problem it is, or the one it says is over:
        :func:`problem_of`, :func:`recovery_of`) and to every sink."""
        log.log(_LEVELS[level], "%s", message, extra=extra)
        self.emit([self._status_event(level, message)])

    def _caller_captures(self) -> bool:
        """Whether the caller's source gives input now (not missing, lost or reopening)."""
        stats = self.source.stats() if hasattr(self.source, "stats") else {}
        return stats.get("caller", {}).get("state", "running") == "running"

    def sink_name(self) -> str:
        info = self.source.streams() if hasattr(self.source, "streams") else None
        return info["sink"] if info else "?"

    # ------------------------------------------------------------------ call marks
    def _marks(self, chunk: Chunk) -> None:
        """Before the chunk is fed: the explicit marks of the socket that came by the chunk's end and
        the stream changes that came with it, in the order they came on the source clock (a stream
        change first at the same time), however far the loop is behind; a call they start begins
        with this chunk."""
        controls = self._controls_due()
        streams = chunk.marks if self.streams is not None else ()
        order = sorted([(m.t, 0, i) for i, m in enumerate(streams)] + [(c.t, 1, i) for i, c in enumerate(controls)])
        for _, control, i in order:
            if not control:
                self._stream_mark(streams[i], chunk.t0)
                continue
            mark = controls[i]
            if not mark.answer.set_running_or_notify_cancel():  # given up by its asker
                continue
            late = mark.late()
            if late is not None:  # "applied" would reach no client: not applied, whatever it was told
                log.warning("%s", late)
                mark.answer.set_result({"error": late})
                continue
            self._answer(mark.answer, lambda: self._control_mark(mark.what, chunk.t0))  # (called at once)

    def _on_hold(self, chunk: Chunk) -> Chunk:
        """``chunk`` with the caller's leg not heard from where the running call went on hold: what
        the softphone plays meanwhile (hold music, a recorded message, a colleague consulted) is no
        caller, and the hold's time no silence ending the call."""
        if self._hold_from is None or self.pipeline is None:
            return chunk
        column = self.source.legs.index(self.pipeline.cues.channel)
        return chunk.unheard_from(column, round((self._hold_from - chunk.t0) * self.source.rate))

    def _controls_due(self) -> list[SocketMark]:
        """The marks of the socket that came by the end of the chunk the loop took (on the source
        clock), in the order they came; the later ones wait for their chunk (``_controls_later``)."""
        while True:
            try:
                self._controls_later.append(self._controls.get_nowait())
            except queue.Empty:
                break
        due = [c for c in self._controls_later if c.t <= self._now]
        self._controls_later = [c for c in self._controls_later if c.t > self._now]
        return due

    @staticmethod
    def _answer(answer: concurrent.futures.Future, act: Callable[[], dict]) -> None:
        try:
            answer.set_result(act())
        except Exception as err:  # noqa: BLE001 - the asker hears it in one line, the loop goes on
            answer.set_result({"error": first_line(err)})

    def _stream_mark(self, mark: StreamsMark, t0: float) -> None:
        action = self._streams.on_mark(mark, in_call=self.pipeline is not None)
        if action is Action.START:
            self._preroll.clear()  # the call begins at this chunk, once start_due says it does

    def _start_when_due(self) -> None:
        """The call a stream began starts (with the audio kept from its mark) once its stream has
        played long enough; a stream gone before is no call."""
        began = self._streams.held
        if began is None:  # (called with a stream held)
            return
        at = self._streams.start_due(self._now)
        if at is not None:
            self._start_marked(self._preroll[0].t0, bounded=True)
        elif self._streams.held is None:
            log.info("a stream into sink %s ended after %.1f s: no call (shorter than %g s)", self.sink_name(),
                     self._now - began, STREAM_CALL_MIN_S)
            self._preroll.clear()

    def _start_marked(self, t0: float, *, bounded: bool) -> None:
        try:
            self._start_call(at=t0)
        except Exception as err:  # noqa: BLE001 - e.g. the database is gone: say so, go on
            self._abort_call(err)
            return
        if self.streams is not None:
            self.streams.call_started(bounded)

    def _control_mark(self, what: str, t0: float) -> dict:
        """``call-monitor call start|end|hold|resume``: what it did, for the asker."""
        if what in ("hold", "resume"):
            return self._hold_mark(what, t0)
        self._flush_held()  # a split the mark overrides (ending the call clears it): its audio first
        ended = self.pipeline.call_id if self.pipeline is not None else None
        had_call = self.pipeline is not None
        if what == "end":
            if not had_call:
                return {"ok": True, "message": self._cancel_pending_call()}
            if self.streams is not None:  # before the end forgets a split: its streams are the next call's
                self.streams.ended_by_mark()
            self._end_call("call-monitor call end")
            return {"ok": True, "message": f"call {call_name(ended)} ended"}
        self._end_call("call-monitor call start (the next call)")
        self._start_marked(t0, bounded=self.streams is not None and self.streams.marked_start())
        if self.pipeline is None:
            return {"error": "the call could not start (see the daemon's log)"}
        self._marked = True  # the integration said a call runs: a caller's source giving no input is no silence
        self._say_waiting()  # its source gave none as the call began
        name = call_name(self.pipeline.call_id)
        answer = {"ok": True, "message": f"call {name} started" + (f" (call {call_name(ended)} ended)" if had_call else "")}
        unheard = self._unheard_legs()
        return answer | {"warning": unheard} if unheard else answer

    def _hold_mark(self, what: str, t0: float) -> dict:
        """``call hold``: the caller's leg of the running call is not heard from ``t0`` (the mark's
        chunk) until ``call resume``, as a lost source's is not (its time stored as the caller's
        ``caller_no_input``); what was done, for the asker."""
        if self.pipeline is None:
            return {"ok": True, "message": "no call in progress"}
        name = call_name(self.pipeline.call_id)
        if what == "hold":
            if self._hold_from is not None:
                return {"ok": True, "message": f"call {name} is on hold already, "
                                               f"for {self._now - self._hold_from:.0f} s"}
            self._hold_from = t0
            log.info("call %s on hold", name)
            return {"ok": True, "message": f"call {name} on hold: the caller's leg is not judged until "
                                           "`call resume`"}
        if self._hold_from is None:
            return {"ok": True, "message": f"call {name} is not on hold"}
        start, self._hold_from = self._hold_from, None
        self._holds.append((start, t0))
        held_s = max(0.0, self._now - start)
        log.info("call %s resumed after %.0f s on hold", name, held_s)
        return {"ok": True, "message": f"call {name} resumed after {held_s:.0f} s on hold"}

    def _lift_long_hold(self, t0: float) -> None:
        """Lift the running call's hold at ``t0`` (the chunk's start) once it has lasted
        ``daemon.max_hold_s`` by the chunk's end, with one warning line: a resume never said (the hook
        missed it, the caller hung up on hold where the silence ends the calls) would otherwise keep
        the call open and every later caller's leg unheard."""
        limit_s = self.cfg.daemon.max_hold_s  # as reloaded
        if self._hold_from is None or self.pipeline is None or self._now - self._hold_from < limit_s:
            return
        start, self._hold_from = self._hold_from, None
        self._holds.append((start, max(start, t0)))
        log.warning("call %s: on hold for %g s (daemon.max_hold_s) and `call-monitor call resume` never said: "
                    "the hold is lifted, the caller's leg heard again", call_name(self.pipeline.call_id), limit_s)

    def _hold_spans(self, duration_s: float) -> list[tuple[float, float]]:
        """The running call's holds, resumed or not, in seconds into the call (of ``duration_s``)."""
        held_from = self._hold_from
        holds = self._holds + ([(held_from, math.inf)] if held_from is not None else [])
        return [(max(0.0, a - self.call_origin), min(duration_s, b - self.call_origin)) for a, b in holds
                if a - self.call_origin < duration_s]

    @property
    def hold_s(self) -> float | None:
        """How long the running call has been on hold (``call hold``), None when it is not."""
        held_from = self._hold_from  # once: the capture loop may resume the hold meanwhile (a status asked)
        return None if held_from is None or self.pipeline is None else max(0.0, self._now - held_from)

    def _unheard_legs(self) -> str:
        """The legs whose source gives no input now (missing, lost), naming each source, in one
        line; "" when every leg captures."""
        stats = self.source.stats() if hasattr(self.source, "stats") else {}
        lost_s = self.cfg.daemon.lost_source_end_s
        no_end = ", and no silence ends the call before then" + (
            f" (it ends after {lost_s:g} s without it)" if lost_s > 0 else "")
        said = []
        for leg, s in stats.items():
            if s["state"] == "waiting":
                said.append(f"the {leg}'s source {s['source']} is missing (the daemon waits for it): the call "
                            "hears nothing from it until it appears"
                            + (no_end if leg == "caller" else ""))
            elif s["state"] in ("lost", "reopening"):
                said.append(f"the {leg}'s source {s['source']} gives no input ({s['state']}: "
                            f"{s.get('last_error') or 'no audio'}): the call hears nothing from it until it is back"
                            + (no_end if leg == "caller" else ""))
        return "; ".join(said)

    def _cancel_pending_call(self) -> str:
        """``call end`` with no call running: a call a stream began, not started yet, is called off."""
        began = self.streams.cancel_pending() if self.streams is not None else None
        if began is None:
            return "no call in progress"
        self._preroll.clear()
        log.info("call end before the call the stream into sink %s began had started: no call", self.sink_name())
        return f"no call in progress; the stream that began {max(0.0, self._now - began):.1f} s ago starts none"

    def control(self, request: dict, timeout_s: float = 8.0) -> dict:
        """A request of the status socket other than the status (from its thread): ``{"call":
        "start"}``, ``{"call": "end"}``, ``{"call": "hold"}`` or ``{"call": "resume"}``, carried out by the capture loop with the chunk of the time it
        came on the source clock, after the stream changes that came before it (:meth:`_marks`), unless
        its client has given up waiting by then (its ``sent_at`` and ``wait_s``: :data:`ANSWER_MARGIN_S`),
        as the socket reads it or as the loop takes it (:meth:`SocketMark.late`: the daemon held up
        between the two), which is said in one warning line; or ``{"word": {...}}``, the agent's word on an alert
        (:meth:`agent_word`), kept at once."""
        if "word" in request:
            return self.agent_word(request["word"])
        what = request.get("call")
        if what not in ("start", "end", "hold", "resume"):
            asked = {k: v for k, v in request.items() if k != "peer_pid"}  # as its client sent it
            return {"error": f"unknown request {asked!r}: the daemon takes {{\"call\": \"start\"}}, "
                             "{\"call\": \"end\"}, {\"call\": \"hold\"}, {\"call\": \"resume\"} and "
                             "{\"word\": ...}"}
        now = sent_clock()
        try:
            left = wait_left(request, now)
        except ValueError as err:
            return {"error": f"call {what}: {err}: nothing was done"}
        if left is not None and left <= ANSWER_MARGIN_S:
            said = gave_up_line(what, request, left)
            log.warning("%s", said)
            return {"error": said}
        if left is not None and left - ANSWER_MARGIN_S < timeout_s:
            timeout_s = left - ANSWER_MARGIN_S  # not carried out once its client would not hear it
        answer: concurrent.futures.Future = concurrent.futures.Future()
        # when it came on the source clock (a source with none, a recording: at the loop's next chunk)
        came = self.source.now() if hasattr(self.source, "now") else -math.inf
        self._controls.put(SocketMark(came, what, answer, request, None if left is None else now + left))
        try:
            return answer.result(timeout_s)
        except concurrent.futures.TimeoutError:
            if not answer.cancel():  # the loop took it just now: its answer follows at once
                return answer.result()
            return {"error": f"the daemon did not act on it within {timeout_s:.3g} s (its capture loop was busy or "
                             "got no audio), and will not: nothing was done"}

    def agent_word(self, asked: Any) -> dict:
        """``call-monitor outcome``'s request (from the status socket's thread): ``{"alert": ID or null
        (the latest alert), "word": "handled" or "false_alarm", "note": TEXT}`` kept in the database
        and handed to the webhook to post; the answer says what was done, or the error (``"code":
        "other_database"`` for a request naming another ``db`` than this daemon's, which the asker keeps
        there itself)."""
        from .delivery.words import WordRefused, alert_ref_of, keep_word, note_of, word_of
        if not isinstance(asked, dict):
            return {"error": "a word is a JSON object: {\"alert\", \"word\", \"note\"}"}
        if asked.get("db") is not None and not isinstance(asked["db"], str):
            return {"error": "a word's db is the path of a database, as a JSON string"}
        if isinstance(asked.get("db"), str) and os.path.realpath(asked["db"]) != os.path.realpath(self.store.path):
            return {"error": f"this daemon records to {self.store.path}, not {asked['db']}", "code": "other_database"}
        store = self.store.try_open(force=True) if hasattr(self.store, "try_open") else self.store
        if store is None:
            return {"error": f"the daemon's database is not open ({getattr(self.store, 'error', '')}): nothing kept"}
        try:
            ref = asked.get("alert")
            alert_id = None if ref is None else alert_ref_of(str(ref))
            if alert_id is None and self.guard.held:  # the latest alert may be among them: `last` would miss it
                return {"error": f"the database is behind: {self.guard.held} record(s) of the calls wait to be written "
                                 "(it failed), the latest alert maybe among them: say `last` again once `call-monitor "
                                 "status` says none are held, or give the alert's id"}
            kept = keep_word(store, alert_id, word_of(str(asked.get("word", ""))), note_of(asked.get("note")),
                             time.time(), replace=asked.get("replace", True) is not False)
        except (WordRefused, StoreError) as err:
            return {"error": str(err)}
        said = f"the agent's word: {kept.logged}"  # its note not: the journal is no place for it
        log.info("%s", said)
        self._msgs.put(("info", said))  # a status line on the terminal without -v, from the main loop
        if self.webhook is not None:
            self.webhook.wake()
        return {"ok": True, "message": kept.said}

    def button_word(self, alert_id: int, word: str) -> dict:
        """A desktop notification's button said ``word`` of alert ``alert_id`` (from its waiter's thread):
        kept as ``call-monitor outcome ID WORD`` keeps it (:meth:`agent_word`), but never in place of a
        word said already (refused, said in the log and on the desktop)."""
        answer = self.agent_word({"alert": alert_id, "word": word, "replace": False})
        if "error" in answer:
            log.warning("the agent's word from a notification's button is not kept: %s", answer["error"])
        return answer

    def _refuse_controls(self, why: str) -> None:
        later, self._controls_later = self._controls_later, []
        while True:
            try:
                later.append(self._controls.get_nowait())
            except queue.Empty:
                break
        for mark in later:
            if mark.answer.set_running_or_notify_cancel():
                mark.answer.set_result({"error": why})

    def _between_calls(self, chunk: Chunk, onset: bool) -> None:
        """Keep the pre-roll, write what a failing database held back, close the calls a crash
        left open once the database opens, start the retention's purge when due (in its own thread), and start a call on speech after enough
        silence."""
        if self.guard.retry():
            if self._unnamed_audio:
                self._name_audio()
            self._write_waiting_reports()
        self.close_interrupted()
        self.recent.start_purge()
        if self._trim_due or (self.transcription is not None and self.transcription.flushes_left.ended()):
            self._trim_due = False
            give_back_freed_memory()
        self._preroll.append(chunk)
        if self.streams is not None and self.streams.held is not None:  # a stream began a call
            self._start_when_due()
            return
        while self._preroll and self._preroll[0].t0 < self._now - PREROLL_S - 1e-9:
            self._preroll.popleft()
        if onset and self.segmenter.silence_before_onset() >= self.cfg.daemon.call_start_silence_s \
                and (self.streams is None or self.streams.speech_may_start()):
            try:
                self._start_call()
            except Exception as err:  # noqa: BLE001 - e.g. the database is gone: say so, go on
                self._abort_call(err)
