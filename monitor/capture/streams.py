"""The softphone's own streams: which sound-server streams (sink-inputs) play into one sink.

A softphone plays each call into its sink as a stream that it creates when the call connects
and removes when it hangs up, so when the caller's leg is the monitor of that sink
(``softphone.monitor``), the streams playing into ``softphone`` mark where calls begin and end.

:class:`SinkStreams` watches them in its own thread: ``pactl subscribe`` tells it at once that a
stream or a sink came or went, and the sink's streams are listed then, and at least every
``poll_s`` besides (a subscription that a server restart ended is started again). Every change
of the set of streams is handed to ``on_change(monotonic time, ids, why)``, the time the
subscription told of it (read in a thread of its own: a change while a slow listing runs is not
made later by it, on a loaded machine by a second; streams that one listing finds came and went are
handed on one change each, when the subscription told of each), or of the look that found it; ``ids`` None means
that there is no stream information now (no such sink, no server answering), ``why`` says why.
The watcher also keeps the streams of the server playing into other sinks (:attr:`SinkStreams.elsewhere`,
as of the change): a call's stream the server moved away when the sink was unloaded plays on there; and
the sink's corked streams (:attr:`SinkStreams.paused`, paused by their application, which play no call), a
change of them a change too: a call's stream paused over a hold is not gone.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable, Sequence

from ..installing import in_docs
from .devices import pactl_output, pactl_short

log = logging.getLogger(__name__)

StreamIds = frozenset[int]
PACTL_TIMEOUT_S = 1.0
"""How long one pactl listing may take (a local server answers in milliseconds)."""
NO_SERVER = "the sound server does not answer"
"""Why there is no stream information while the server does not answer (its streams gone with it), and
why a leg's input was lost then."""
STOP_JOIN_S = 0.5
"""How long :meth:`SinkStreams.stop` waits for the watcher's thread (the daemon stops within 2 s)."""
_WAKES = re.compile(rb"' on (sink-input|sink|server) #")
"""The subscription's events that may change the streams of a sink (not: client, source-output...)."""
BURST_S = 0.02
"""The subscription's events closer than this to the one before are one burst: one listing for all."""
_INPUT_EVENT = re.compile(rb"'(new|remove)' on sink-input #(\d+)")
"""A stream's coming or going, and its id, as the subscription tells it."""
News = tuple[float, bytes]
"""An event of the subscription that may change the streams of a sink: when it came, its line."""
OnChange = Callable[[float, "StreamIds | None", str], None]


def monitored_sink(source: str | None) -> str | None:
    """The sink whose monitor ``source`` is (``softphone.monitor`` -> ``softphone``), else None."""
    if source and source.endswith(".monitor") and len(source) > len(".monitor"):
        return source[:-len(".monitor")]
    return None


Input = tuple[str, str, str, bool, str]
"""A stream of the server: its index, its sink's index, its media role, whether it is corked (paused by
its application), its application's name."""


def _json_inputs(timeout: float) -> list[Input] | None:
    """Every stream of the server as an :data:`Input`, from pactl's JSON (PulseAudio 16 and later); None
    when that fails."""
    out = pactl_output(("-f", "json", "list", "sink-inputs"), timeout)
    if out is None:
        return None
    try:
        return [(str(s["index"]), str(s["sink"]), str((s.get("properties") or {}).get("media.role", "")),
                 s.get("corked") is True, str((s.get("properties") or {}).get("application.name", "")))
                for s in json.loads(out)]
    except (ValueError, KeyError, TypeError):
        return None


_INPUT = re.compile(r"^Sink Input #(\d+)$", re.M)
_ON_SINK = re.compile(r"^\tSink: (\d+)$", re.M)
_ROLE = re.compile(r'^\t\tmedia\.role = "([^"]*)"$', re.M)
_CORKED = re.compile(r"^\tCorked: yes$", re.M)
_APPLICATION = re.compile(r'^\t\tapplication\.name = "([^"]*)"$', re.M)


def _long_inputs(timeout: float) -> list[Input] | None:
    """The same from the long listing, in the C locale (every PulseAudio); None when the server
    does not answer."""
    out = pactl_output(("list", "sink-inputs"), timeout, env={**os.environ, "LC_ALL": "C"})
    if out is None:
        return None
    heads = list(_INPUT.finditer(out))
    rows = []
    for head, after in zip(heads, heads[1:] + [None]):
        block = out[head.end():after.start() if after else len(out)]
        sink, role, app = _ON_SINK.search(block), _ROLE.search(block), _APPLICATION.search(block)
        if sink:
            rows.append((head.group(1), sink.group(1), role.group(1) if role else "", bool(_CORKED.search(block)),
                         app.group(1) if app else ""))
    return rows


def _read_news(said: IO[bytes], news: "queue.Queue[News | None]") -> None:
    """Until the subscription's output ``said`` ends (its own thread, so the time each event came is
    kept while the watcher lists the streams): put the monotonic time and the line of each event that
    may change the streams of a sink (``_WAKES``), then None; closes ``said``."""
    try:
        for line in iter(said.readline, b""):
            if _WAKES.search(line):
                news.put((time.monotonic(), line))
    except (OSError, ValueError):  # the pipe closed under it: the subscription ended all the same
        pass
    finally:
        news.put(None)
        said.close()


def _steps(old: StreamIds, new: StreamIds, told: list[News]) -> list[tuple[float, StreamIds]]:
    """The change from ``old`` to ``new`` a listing found, as the steps the subscription ``told`` of
    it, each when it came (a hang-up and the next call's stream within one slow listing are two
    changes, not one); none when it did not tell of every stream that came or went."""
    when: dict[int, float] = {}
    for at, line in told:
        m = _INPUT_EVENT.search(line)
        if m and (int(m[2]) in new - old if m[1] == b"new" else int(m[2]) in old - new):
            when[int(m[2])] = at
    if set(when) != (new - old) | (old - new):
        return []
    steps, ids = [], old
    for at, i in sorted((at, i) for i, at in when.items()):
        ids = ids | {i} if i in new else ids - {i}
        steps.append((at, frozenset(ids)))
    return steps


class SinkInputs:
    """Lists the server's streams with their media roles: pactl's JSON while it has some, else
    (before PulseAudio 16) the long listing, from then on (one process per listing)."""

    def __init__(self) -> None:
        self.json = True

    def __call__(self, timeout: float) -> list[Input] | None:
        if self.json:
            rows = _json_inputs(timeout)
            if rows is not None:
                return rows
        rows = _long_inputs(timeout)
        if rows is not None and self.json:
            log.info("pactl has no JSON output (PulseAudio before 16): the long listing tells the streams' roles")
            self.json = False
        return rows


def sink_streams(sink: str, timeout: float = PACTL_TIMEOUT_S, inputs: SinkInputs | None = None,
                 seen: bool = False) -> tuple[StreamIds | None, str]:
    """The ids of the streams playing into ``sink`` now, and why they are None if they are
    (no pactl, no server answering, no such sink: gone if it was ``seen`` before, else not found).
    Event sounds (media role "event": a notification's ding) are no call's stream and do not count,
    nor does a corked stream (paused by its application: Chromium corks a page's stream when its call
    audio stops, keeps it a few seconds and plays the next call on it, uncorked)."""
    ids, _, why, _ = server_streams(sink, timeout, inputs, seen)
    return ids, why


def server_streams(sink: str, timeout: float = PACTL_TIMEOUT_S, inputs: SinkInputs | None = None,
                   seen: bool = False) -> tuple[StreamIds | None, StreamIds, str, StreamIds]:
    """:func:`sink_streams`, the ids of the server's other streams (into other sinks; none when the
    sink's are None), event sounds and corked streams left out of both, and the ids of the sink's
    corked streams (paused: a softphone's on hold may be)."""
    look = look_at_sink(sink, timeout, inputs, seen)
    return look.ids, look.elsewhere, look.why, look.paused


@dataclass(frozen=True)
class SinkLook:
    """What one look at the server's streams found (:func:`server_streams`), and the application
    name of each of the sink's streams that plays (one name a stream; "" where it tells none)."""

    ids: StreamIds | None
    elsewhere: StreamIds = frozenset()
    why: str = ""
    paused: StreamIds = frozenset()
    apps: tuple[str, ...] = ()


def look_at_sink(sink: str, timeout: float = PACTL_TIMEOUT_S, inputs: SinkInputs | None = None,
                 seen: bool = False) -> SinkLook:
    """The streams of the server as :func:`server_streams` tells them, and the applications of the
    sink's streams that play (:class:`SinkLook`)."""
    if shutil.which("pactl") is None:
        return SinkLook(None, why="no pactl to ask the sound server")
    sinks = pactl_short("sinks", timeout)
    if sinks is None:
        return SinkLook(None, why=NO_SERVER)
    index = next((row[0] for row in sinks if len(row) > 1 and row[1] == sink), None)
    if index is None:
        return SinkLook(None, why=f"sink {sink} is gone" if seen else f"sink {sink} not found")
    rows = (inputs or SinkInputs())(timeout)
    if rows is None:
        return SinkLook(None, why=NO_SERVER)
    calls = [(int(i), on == index, corked, app) for i, on, role, corked, app in rows
             if i.isdigit() and role != "event"]
    return SinkLook(frozenset(i for i, here, corked, _ in calls if here and not corked),
                    frozenset(i for i, here, corked, _ in calls if not here and not corked), "",
                    frozenset(i for i, here, corked, _ in calls if here and corked),
                    tuple(app for _, here, corked, app in calls if here and not corked))


CROWD_S = 10.0
"""How long streams of one browser may play into the caller's sink together before it is said
(:class:`Crowd`)."""

BROWSERS = frozenset({"chromium", "google chrome", "chrome", "microsoft edge", "brave", "opera", "vivaldi",
                      "firefox"})
"""The ``application.name`` of the browsers' streams (in lower case): a browser plays each tab as a
stream of its own, a web softphone's call in one of them. A desktop softphone's own streams play
together for long (its ringtone of a waiting call beside the call, a conference's calls): they are no
crowd."""


class Crowd:
    """Streams of one browser playing into the caller's sink at once, for ``after_s`` or more: a sign
    that the browser as a whole was moved there (every tab), not the web softphone's call alone, whose
    other tabs' sounds (a training video, a CRM's chimes) are then taken for the caller; each such
    stretch said once (:meth:`follow`). Streams of other applications are not counted (:data:`BROWSERS`)."""

    def __init__(self, after_s: float = CROWD_S) -> None:
        self.after_s = after_s
        self._since: dict[str, float] = {}
        self._said: set[str] = set()

    def follow(self, apps: Sequence[str] | None, now: float) -> list[tuple[str, int]]:
        """At ``now`` (seconds), the sink's playing streams of ``apps`` (an application's name each;
        None: the server did not tell, which changes nothing): each application whose streams have
        played together for ``after_s`` and were not said yet since they began to, with how many of
        them play."""
        if apps is None:
            return []
        counts = collections.Counter(app for app in apps if app.strip().lower() in BROWSERS)
        crowded = {app for app, n in counts.items() if n > 1}
        self._since = {app: self._since.get(app, now) for app in crowded}
        self._said &= crowded
        due = [(app, counts[app]) for app in sorted(crowded - self._said) if now - self._since[app] >= self.after_s]
        self._said |= {app for app, _ in due}
        return due


class SinkStreams:
    """Watch the streams playing into ``sink``; see the module's docstring."""

    def __init__(self, sink: str, on_change: OnChange, *, poll_s: float = 1.0, crowd_s: float = CROWD_S) -> None:
        self.sink = sink
        self.crowd = Crowd(crowd_s)
        self.on_change = on_change
        self.poll_s = poll_s
        self.ids: StreamIds | None = None
        self.elsewhere: StreamIds = frozenset()  # the server's streams into other sinks, as of the last change
        self.paused: StreamIds = frozenset()  # the sink's corked streams, as of the last change
        self.why = "not looked at yet"
        self.looks = 0  # how many times the streams were listed
        self.seen = False  # whether the sink was there at a look (one not there since is gone)
        self.inputs = SinkInputs()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the subscription's start and end, and the stop: one at a time
        self._proc: subprocess.Popen | None = None
        self._news: "queue.Queue[News | None] | None" = None  # the running subscription's news
        self._told: list[News] = []  # the news taken since the last look
        self._thread = threading.Thread(target=self._run, name=f"streams-{sink}", daemon=True)

    def start(self) -> "SinkStreams":
        """Watch, in the watcher's thread (its first look too: a sound server that hangs does not
        hold up the start)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Within about half a second, whatever pactl does: the thread is joined for at most
        ``STOP_JOIN_S`` (a listing that hangs ends with its own timeout, in a daemon thread). No
        subscription outlives it: the thread starts none once it is stopped."""
        with self._lock:
            self._stop.set()
        self._end_subscription()  # ends its news: wakes the thread from its wait at once
        if self._thread.is_alive():
            self._thread.join(STOP_JOIN_S)

    def _look(self, now: float) -> None:
        self.looks += 1
        look = look_at_sink(self.sink, inputs=self.inputs, seen=self.seen)
        ids, elsewhere, why, paused = look.ids, look.elsewhere, look.why, look.paused
        self._say_crowd(None if ids is None else look.apps, now)
        self.seen = self.seen or ids is not None
        told, self._told = self._told + self._pending(), []
        if ids != self.ids or (ids is None and why != self.why) or paused != self.paused:
            steps: list[tuple[float, StreamIds | None]] = [(now, ids)]
            if ids is not None and self.ids is not None and ids != self.ids:
                steps = [*_steps(self.ids, ids, told)] or steps
            self.ids, self.elsewhere, self.why, self.paused = ids, elsewhere, why, paused
            for at, some in steps:
                self.on_change(at, some, why)

    def _say_crowd(self, apps: Sequence[str] | None, now: float) -> None:
        """One warning line for each browser whose streams have played into the sink together for
        long (:class:`Crowd`)."""
        for app, n in self.crowd.follow(apps, now):
            log.warning("%d streams of %s have played into the caller's sink %s at once for %g s: %s as a whole may "
                        "have been moved there (every tab or sound of it, not the call alone), its other sounds "
                        "taken for the caller; set the softphone's own output device to %s and move %s back to "
                        f"the headset ({in_docs('deployment.md', 'A softphone in the browser')})", n, app, self.sink,
                        self.crowd.after_s, app, self.sink, app)

    def _pending(self) -> list[News]:
        """The news that came while the streams were listed (left for the next wait too)."""
        news = self._news
        if news is None:
            return []
        with news.mutex:
            return [item for item in news.queue if item is not None]

    def _run(self) -> None:
        try:
            self._look(time.monotonic())
        except Exception as err:  # noqa: BLE001 - as below
            log.exception("the stream watcher of sink %s failed", self.sink)
            self._failed(err)
        while not self._stop.is_set():
            try:
                self._subscribe()
                woke = self._wait()
                if self._stop.is_set():
                    break
                self._look(woke)
            except Exception as err:  # noqa: BLE001 - the watcher goes on; meanwhile the silence decides
                log.exception("the stream watcher of sink %s failed", self.sink)
                self._failed(err)
                self._stop.wait(self.poll_s)

    def _failed(self, err: Exception) -> None:
        """Say that there is no stream information (the calls' silence takes over) and start the
        subscription again at the next try."""
        said = str(err).strip().splitlines()
        self.ids, self.why = None, f"stream watcher failed: {said[0] if said else type(err).__name__}"
        try:
            self.on_change(time.monotonic(), None, self.why)
        except Exception:  # noqa: BLE001 - logged; the next look reports again
            log.exception("the stream watcher of sink %s could not report its failure", self.sink)
        try:
            self._end_subscription()
        except Exception:  # noqa: BLE001 - a subscription that does not end is left behind
            log.exception("the stream watcher's subscription did not end")

    def _subscribe(self) -> None:
        """A running ``pactl subscribe`` (again, after the server restarted); none if it fails, nor
        once the watcher is stopped (a stop while this thread was held up ended the last one)."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self._end_subscription()
        with self._lock:
            if self._stop.is_set():
                return
            try:
                self._proc = subprocess.Popen(["pactl", "subscribe"], stdout=subprocess.PIPE,
                                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            except OSError as err:
                log.debug("pactl subscribe: %s", err)
                return
            self._news = queue.Queue()
            threading.Thread(target=_read_news, args=(self._proc.stdout, self._news),
                             name=f"subscription-{self.sink}", daemon=True).start()

    def _wait(self) -> float:
        """Until the subscription tells of a change of the streams, the sinks or the server (the
        rest of its burst taken with it), or ``poll_s`` passes: when that news came (one that came
        during the last listing at once), else the monotonic time it woke. The subscription's other
        events do not wake it: each listing is itself a new client of the server (``new``,
        ``change``, ``remove`` on client #N), and the capture's recording stream changes too."""
        news = self._news
        if news is None:
            self._stop.wait(self.poll_s)
            return time.monotonic()
        try:
            came = news.get(timeout=self.poll_s)
        except queue.Empty:
            return time.monotonic()
        ended = came is None
        if came is not None:
            self._told.append(came)
        while not ended:
            try:
                more = news.get(timeout=BURST_S)
            except queue.Empty:
                break
            ended = more is None
            if more is not None:
                self._told.append(more)
        if came is not None and not ended:
            return came[0]
        self._end_subscription()  # the subscription ended (server gone): started again
        self._stop.wait(self.poll_s)  # after a pause, not in a tight loop
        return time.monotonic()

    def _end_subscription(self) -> None:
        with self._lock:
            proc, self._proc, self._news = self._proc, None, None
        if proc is not None:  # its output ends: its reader closes it
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(1)
