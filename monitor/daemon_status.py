"""What the live daemon says of itself: the status the status socket answers
(``delivery/status_socket.py``), what the heartbeat tells a supervisor console, and the
package's last warning or error both carry.

Each function reads the parts of a running :class:`~monitor.daemon.Daemon` (its configuration,
source, running call, counts, recent alerts and reports, sinks, database guard and clock) and changes none of them; they are
asked from the status socket's and the heartbeat's threads while the capture loop runs.
"""
from __future__ import annotations

import logging
import math
import os
import time
from typing import Any, Callable, Protocol

from .capture.boundaries import STREAM_CALL_MIN_S, StreamBoundaries
from .cue_registry import shown_cues, shown_min_speech_s
from .daemon_recent import RecentCalls
from .delivery.store_errors import StoreError
from .delivery.store_guard import StoreGuard
from .files import name_text
from .release import RELEASE
from .supervisor.heartbeat import LINE_CHARS


class RunningDaemon(Protocol):
    """What the status reads of a running :class:`~monitor.daemon.Daemon` (this module cannot import
    it: the daemon imports this module)."""

    cfg: Any
    source: Any
    store: Any
    guard: Any
    pipeline: Any
    active: dict
    streams: StreamBoundaries | None
    started_at: float
    loading: Any
    transcription: Any
    transcription_off: Any
    recent: RecentCalls
    calls: int
    alerts_total: int
    webhook: Any
    notify: Any
    heartbeat: Any
    boundaries: str
    machine: str | None
    agent: str

    @property
    def last_problem(self) -> dict | None: ...

    @property
    def now_s(self) -> float: ...

    @property
    def behind_s(self) -> float | None: ...

    @property
    def captured_behind_s(self) -> float | None: ...

    @property
    def hold_s(self) -> float | None: ...

    def waits_for_caller(self) -> bool: ...

    def caller_wait_left_s(self, limit_s: float) -> float | None: ...

    def sink_name(self) -> str: ...


class LastProblem(logging.Handler):
    """Keeps the package's last warning or error for the status socket and the heartbeat: level,
    message, time, its ``source`` when it names one (:func:`problem_of`), and, once a line of that
    source says it is over (:func:`recovery_of`), ``resolved_at`` and that line (``resolved``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)  # the recoveries are info lines too
        self.problem: dict | None = None

    def emit(self, record: logging.LogRecord) -> None:
        recovers = getattr(record, "recovers", None)
        p = self.problem
        if recovers is not None and p is not None and p.get("source") == recovers and "resolved_at" not in p:
            self.problem = p | {"resolved_at": round(record.created, 3), "resolved": _line(record)}
            return
        if record.levelno >= logging.WARNING:
            self.problem = {"level": record.levelname.lower(), "message": _line(record),
                            "at": round(record.created, 3), "source": getattr(record, "problem_of", None)}


def _line(record: logging.LogRecord) -> str:
    """A log line as a heartbeat's status carries it (:func:`carried`)."""
    return carried(record.getMessage())


def carried(said: str) -> str:
    """A line as a heartbeat's status carries it: cut with an ellipsis to the longest line the
    supervisor's console takes, so a long message (a long path in an error) never gets the
    agent's heartbeats refused."""
    return said if len(said) <= LINE_CHARS else said[:LINE_CHARS - 3] + "..."


def _recent_alerts(recent: RecentCalls) -> list[dict[str, Any]]:
    """The last alerts raised, each with its call's database id: None while a failing database
    holds the call back, the id once its row is written."""
    return [{k: v for k, v in a.items() if k not in ("token", "posted_id")} | {"call_id": recent.alert_call(a)}
            for a in recent.alerts]


def state(daemon: RunningDaemon) -> dict[str, Any]:
    """What the status socket answers of ``daemon`` (a :class:`~monitor.daemon.Daemon`)."""
    p = daemon.pipeline
    call = None
    if p is not None:
        window_speech_s = daemon.cfg.analysis.window_speech_s
        cues = shown_cues(p.last_cues.to_dict(), window_speech_s) if p.last_cues is not None else None
        call = {"call_id": p.call_id, "t": round(p.duration_s, 1), "alerts": len(p.alerts),
                "active_alerts": dict(daemon.active), "baseline_ready": p.baseline.baseline is not None,
                "cues": cues, "cues_from_speech_s": shown_min_speech_s(window_speech_s),
                "ends": _call_ends(daemon),
                "hold_s": None if (held := daemon.hold_s) is None else round(held, 1)}
    legs = daemon.source.stats() if hasattr(daemon.source, "stats") else {}
    webhook, heartbeat, notify, guard = daemon.webhook, daemon.heartbeat, daemon.notify, daemon.guard
    return {
        "pid": os.getpid(), "version": RELEASE, "started_at": daemon.started_at,
        **posting_identity(daemon),
        "uptime_s": round(time.time() - daemon.started_at, 1), "db": name_text(os.path.abspath(daemon.store.path)),
        "config": [name_text(source) for source in daemon.cfg.sources], "legs": legs,
        "overflows": sum(s.get("overflows", 0) for s in legs.values()),
        "dropped_blocks": sum(s.get("dropped_blocks", 0) for s in legs.values()),
        "behind_s": None if (behind := daemon.behind_s) is None else round(behind, 1),
        "calls": daemon.calls, "call": call, "alerts": daemon.alerts_total,
        "boundaries": boundaries_state(daemon), "pending": _pending_state(daemon.streams, daemon.now_s, p is not None),
        "recent_alerts": _recent_alerts(daemon.recent),
        "webhook": None if webhook is None else webhook_state(webhook, heartbeat),
        "notify": None if notify is None else {"sent": notify.sent, "failures": notify.failures},
        "transcription": daemon.transcription is not None, "transcription_off": daemon.transcription_off,
        "transcription_loading": daemon.loading is not None, "last_problem": daemon.last_problem,
        "store": store_state(guard),
    }


def posting_identity(daemon: RunningDaemon) -> dict[str, Any]:
    """Who the daemon posts as, ``daemon_id`` and ``agent``, as its webhook's posts and heartbeats name
    it (a console's key of its alerts is ``daemon_id`` with their ``alert_id``): its webhook's (a new
    daemon id once a console refused the first as another agent's), else its database's id on this
    machine (None while none was made, with no webhook, or while a failing database gives none) and its
    ``delivery.agent_name`` (else user@host)."""
    identity = None if daemon.webhook is None else daemon.webhook.identity
    if identity is not None:
        return {"daemon_id": identity.daemon_id, "agent": identity.agent}
    read = getattr(daemon.store, "posting_id", None)  # a Store's, read without writing; else a PendingStore's id
    try:
        daemon_id = read() if read is not None else daemon.store.instance_id()
    except StoreError:  # failing, or closed as the daemon stops
        daemon_id = None
    return {"daemon_id": daemon_id, "agent": daemon.agent}


def store_state(guard: StoreGuard) -> dict[str, Any]:
    """The database's part of the status: whether it fails, what the guard holds to write, its failures,
    the cue snapshots and transcript lines dropped while it fails or last failed, and the error."""
    return {"failing": guard.failing, "held": guard.held, "failures": guard.failures,
            "dropped": guard.dropped, "error": guard.last_error}


def webhook_state(webhook: Any, heartbeat: Any) -> dict[str, Any]:
    """The webhook's part of the status: deliveries, failures (failing now, the last one's time and
    error), a wait the receiver asked for while it lasts (no failure:
    :meth:`~monitor.delivery.sinks.webhook.WebhookSink.waiting`), and the heartbeats'."""
    return {"url": webhook.shown_url, "delivered": webhook.delivered,
            "failures": webhook.failures, "last_error": webhook.last_error,
            "failing": webhook.failing, "last_failure_at": webhook.last_failure_at, "waiting": webhook.waiting(),
            "heartbeat": None if heartbeat is None else heartbeat.state()}


def boundaries_state(daemon: RunningDaemon) -> dict[str, Any]:
    """What the calls' boundaries are based on now: the mode, the watched sink and its
    streams (None: no stream information), and the same in words (``based_on``)."""
    end_s = daemon.cfg.daemon.call_end_silence_s
    info = daemon.source.streams() if hasattr(daemon.source, "streams") else None
    out: dict[str, Any] = {"mode": daemon.boundaries, "sink": info and info["sink"],
                           "streams": info and info["streams"]}
    if daemon.streams is None:
        out["based_on"] = f"{end_s:g} s of silence (daemon.call_boundaries = \"silence\")"
    elif info is None:
        out["based_on"] = (f"{end_s:g} s of silence (the caller's source is no sink's monitor: no "
                           "softphone streams to watch)")
    elif info["streams"] is None:
        out["based_on"] = f"{end_s:g} s of silence while there is no stream information ({info['why']})"
    else:
        out["based_on"] = (f"the softphone's streams into sink {info['sink']} ({info['streams']} playing "
                           f"now), else {end_s:g} s of silence")
    return out


def _pending_state(streams: StreamBoundaries | None, now_s: float, in_call: bool) -> dict[str, Any] | None:
    """A stream into the sink that is no call yet: with no call running, the one that begins the
    next (``start``); beside the running call, one that would split it (``split``). Either is a
    call once it has played ``STREAM_CALL_MIN_S``; None when there is neither. ``in_call`` is
    whether the status's ``call`` is one: asked from the status socket's thread while the
    capture loop starts and ends calls, the pending stream's kind agrees with it. ``now_s`` is
    the capture loop's clock (source seconds)."""
    if streams is None:
        return None
    kind = "split" if in_call else "start"
    began = streams.split_at if in_call else streams.held
    if began is None:
        return None
    return {"kind": kind, "since_s": round(max(0.0, now_s - began), 1), "call_after_s": STREAM_CALL_MIN_S}


def _call_ends(daemon: RunningDaemon) -> str:
    """How the running call will end, in words."""
    end_s = daemon.cfg.daemon.call_end_silence_s
    streams = daemon.streams
    if streams is not None and not streams.silence_may_end():
        return f"when its stream into sink {daemon.sink_name()} ends"
    if daemon.waits_for_caller():
        left = daemon.caller_wait_left_s(daemon.cfg.daemon.lost_source_end_s)
        if left is None:
            return (f"at `call-monitor call end`, or after {end_s:g} s of silence once the caller's source gives "
                    "input (none now)")
        return (f"at `call-monitor call end`, after {end_s:g} s of silence once the caller's source gives "
                f"input (none now), or after {math.ceil(left):d} s more without the caller's source")
    if daemon.hold_s is not None:  # the hold is no silence: only what is heard once it is resumed
        and_streams = f", or when the streams into sink {daemon.sink_name()} end" if streams is not None and streams.ids else ""
        lifted = f" (by itself {daemon.cfg.daemon.max_hold_s:g} s into the hold)"
        return f"at `call-monitor call end`, or after {end_s:g} s of silence once resumed{lifted}{and_streams}"
    if streams is not None and streams.ids:
        return f"after {end_s:g} s of silence, or when the streams into sink {daemon.sink_name()} end"
    return f"after {end_s:g} s of silence"


def presence(daemon: RunningDaemon) -> tuple:
    """What a supervisor console shows of the agent at a glance, each leg's state, the call
    running, whether its speech model still loads, and its last problem (said, or said to be
    over): a change of it is sent at once, not at the next heartbeat (:class:`Heartbeat`)."""
    legs = daemon.source.stats() if hasattr(daemon.source, "stats") else {}
    p, problem = daemon.pipeline, daemon.last_problem or {}
    return (tuple(sorted((leg, s.get("state")) for leg, s in legs.items())), None if p is None else p.call_id,
            daemon.loading is not None, problem.get("at"), "resolved_at" in problem)


def awaits_ack(daemon: RunningDaemon) -> bool:
    """Whether a critical alert of the running call stands that no supervisor acknowledged yet
    (from the heartbeat's thread: its beats come every few seconds meanwhile)."""
    p = daemon.pipeline
    if p is None:
        return False
    standing = {kind for kind, a in dict(daemon.active).items() if a["severity"] == "critical"}
    return any(a["kind"] in standing and a["token"] == p.call_token and not a.get("acked_by")
               for a in list(daemon.recent.alerts))


def heartbeat_status(daemon: RunningDaemon, report_url: Callable[[str], str] = lambda path: path) -> dict[str, Any]:
    """What a supervisor console is told: this daemon's release, machine (its hash), devices, whether a call runs (its
    id, start, active alert kinds), counts, the last warning or error, why transcription is off
    (None when it is on), whether its speech model still loads, and the recent call reports (as
    ``report_url(path)``). No audio, no cues, no transcript."""
    legs = daemon.source.stats() if hasattr(daemon.source, "stats") else {}
    p = daemon.pipeline
    call = None if p is None else {
        "call_id": p.call_id, "t": round(p.duration_s, 1),
        "started_at": round(time.time() - (daemon.captured_behind_s or 0.0) - p.duration_s, 3),  # an analysis behind too
        "active_alerts": sorted(daemon.active)}
    off = daemon.transcription_off
    return {
        "version": RELEASE, "machine": daemon.machine,
        "devices": {leg: {"state": s.get("state"), "label": s.get("label") or s.get("source")}
                    for leg, s in legs.items()},
        "devices_open": bool(legs) and all(s.get("state") == "running" for s in legs.values()),
        "in_call": call is not None, "call": call, "calls": daemon.calls, "alerts": daemon.alerts_total,
        "uptime_s": round(time.time() - daemon.started_at, 1), "last_error": daemon.last_problem,
        "transcription_off": None if off is None else carried(off),
        "transcription_loading": daemon.loading is not None,
        "reports": [{"call_id": r["call_id"], "url": report_url(r["path"])} for r in daemon.recent.reports],
    }
