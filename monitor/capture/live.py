"""Live capture: one sounddevice InputStream per leg, aligned on one call clock.

The PortAudio callback only copies the block into a bounded queue (the
python-sounddevice ``rec_unlimited.py`` pattern); everything else happens in
the consumer, :meth:`LiveSource.chunks`, which resamples each leg from the
device rate to the analyzer rate and yields :class:`~monitor.capture.sources.Chunk`
objects whose columns are the legs.

One clock: the source clock starts when the source starts (monotonic). The
callback stamps each block with the time it arrived; a stream's first block is
placed on the clock at that time, the following ones by counting. When a
block arrives more than ``gap_s`` after where counting puts it (audio lost: blocks
dropped, its device lost some), or a leg delivers nothing for that long (a stall, a
device that vanished), the gap is filled with silence, so the other leg keeps flowing,
and the leg is placed again. Arrivals tell where a block belongs only roughly: a block
arrives some time after its last sample was made, and that time changes by up to a block
from one stretch to another (what the sound server and PortAudio hold buffered), while
counting is exact as long as no audio is lost. So a leg placed again goes where its
earliest arrival puts it, as late as its blocks arrived before (its latency), not where
one block arrived; for ``settle_s`` (1 s) after, each block that arrives sooner moves it
earlier, never earlier than counting puts it, and to counting's place once the arrivals
differ from it by no more than :data:`LATENCY_SPREAD_BLOCKS` blocks. A sound-server
stall is such a case: the server holds the audio back and delivers it in a burst, each
block sooner than its place by its length, so the leg goes back to exactly where counting
puts it; what had its place taken by the silence is dropped. A reopened stream starts
again where its first block arrives. When a block arrives more than ``gap_s`` before
where counting puts it (a device whose clock runs faster than the system's delivers
more samples than seconds: 100 ppm is 8.6 s a day), as many samples of the leg's next
audio are dropped, so that the leg stays on the call clock, beside the other leg, for
as long as the daemon runs. They are dropped a few at a time, never at once: in each block
its quietest samples, one by one, :data:`EXCESS_PACE` times as fast as the excess built up
and never more than :data:`EXCESS_SHARE_MAX` of a block, so no sound (a click, a syllable)
is cut out whole (half a second dropped at once could take one); a real device, a few
hundred ppm fast, loses a few samples of a block (300 ppm: 3 of 1600 at most, in a fifth of
its blocks). Placement uses the arrival stamp, never the time the consumer gets round to
a block: a consumer that falls behind (a slow chunk, CPU contention) delays the chunks but
inserts no silence.

Rates: a sound-server source is opened at its own rate, as the server's source list gives it,
so that the server does not resample it: PulseAudio's resampler to 16 kHz takes 2 to 24 dB off
the band above 6 kHz, where :class:`~monitor.dsp.resample.Resampler` keeps it to 7.5 kHz. A source
whose rate the server does not tell, and any other device, is opened at the analyzer rate when it
takes it, else at its own default rate; ``device_rate`` overrides both. ``LegStats.device_rate``
is the rate the leg's stream was opened at. A sound-server source is opened with its own channels
too, their mean the leg (``LegStats.device_channels``): a server asked for one channel of a sink's
stereo monitor mixes it down as it does, PulseAudio to the mean, PipeWire to the sum at -3 dB (a
caller in both channels 3 dB louder); any other device is opened with one channel.

Faults: input overflows and blocks dropped on a full queue are counted, not
fatal (dropped blocks are said: one warning as they begin, one line once the consumer
caught up). A stream that stops delivering (device unplugged, sound server gone)
is closed and reopened by a per-leg supervisor thread with exponential
backoff; every loss and recovery is reported through ``on_status``. A stream that cannot be
closed (a sound server killed under it can deadlock its client library) is left to the
process's end after ``CLOSE_WAIT_S`` and the leg reopened on a new stream. A sound-server
source that vanishes (the softphone's sink unloaded) is a loss too, although its
stream may go on delivering: the server moves a stream whose source is removed to
its fallback source, often the microphone. The supervisor looks every
``source_check_s`` for the source by name and index and reopens the leg on its own
source once it is back. An optional leg (the agent's microphone; the caller's too when the
daemon waits for its source) that is missing when the source starts is a ``waiting`` leg
instead of an error: its source is looked for every ``source_check_s`` (one ``pactl`` listing,
PortAudio's own list at most every :data:`DEVICE_REFRESH_S`), and the leg captures once it
appears. A source that goes away later is looked for as often.

Devices that appear later: PortAudio reads its device list once. Sound-server sources (the
softphone's sink monitor, a headset's ``alsa_input.*``) are found through ``pactl`` and opened
through the ``pulse`` device, so they need no new list, unless that list was read while the sound
server was not reachable (a daemon started before it: no ``pulse`` device in it); for those, and for
any other SOURCE (an ALSA device name) that is not found, PortAudio's list is read again
(:func:`refresh_portaudio`), but only while no stream of this source is open (Pa_Terminate would
close it).

Call marks: with ``watch_streams``, when the caller's leg is the monitor of a sink, the streams
playing into that sink are watched (``capture/streams.py``) and every change of them is stamped
on the source clock and carried to the consumer with the first chunk that reaches its time
(:attr:`Chunk.marks`): the audio and the call boundaries come through one queue, in order.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import numpy as np

from ..dsp.resample import Resampler
from .audio_files import EdgeConditioner
from .devices import (DIGITAL_ZERO_DBFS, PULSE_SOURCE_LOCK, DeviceError, NoPulseDeviceError, PulseSource,
                      ResolvedSource, SameSourceError, one_audio, portaudio, pulse_sources, recorded_sources,
                      refresh_portaudio, resolve, routed_source, server_source_name)
from .sources import Chunk, Source, StreamsMark
from .streams import NO_SERVER, SinkStreams, StreamIds, monitored_sink

if TYPE_CHECKING:
    import sounddevice as sd

StatusCallback = Callable[[str, str, str], None]
"""on_status(level, message, topic): level is "info" or "warning"; ``topic`` names what the line is
about, ``"caller leg"`` (its source waited for, lost, reopened, found) or ``"caller leg drops"`` (its
audio dropped, caught up), so that an info line of a topic says a warning of the same topic is over."""

log = logging.getLogger(__name__)


def drop_quietest(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` (n, ...) without its ``k`` quietest samples (rows of least magnitude), the others in
    their order -> (n - k, ...): samples taken out one by one where the signal is lowest (silence,
    a waveform's zero crossings), never a stretch of a sound."""
    if k <= 0:
        return x
    if k >= len(x):
        return x[:0]
    level = np.abs(x.reshape(len(x), -1)).max(axis=1)
    keep = np.ones(len(x), dtype=bool)
    keep[np.argpartition(level, k - 1)[:k]] = False
    return x[keep]


def block_levels_dbfs(samples: np.ndarray) -> np.ndarray:
    """RMS level (dBFS) of each column of ``samples`` (n, legs) -> (legs,), floored at
    :data:`~monitor.capture.devices.DIGITAL_ZERO_DBFS` (a column of zeros reads that)."""
    rms = np.sqrt(np.mean(samples.astype(np.float64) ** 2, axis=0))
    return 20 * np.log10(np.maximum(rms, 10 ** (DIGITAL_ZERO_DBFS / 20)))


DROPS_OVER_S = 5.0
"""Blocks dropped on a full queue are said in one warning when they begin and one line when none
has been dropped for this long (the analysis caught up), not once per block."""

UNHEARD_OVER_S = 30.0
"""A running leg filled with silence (its audio did not come in time: the daemon held up) is said in
one warning when it begins and one line when none has been filled for this long: a machine that
starves the daemon holds it up again and again (capped at 10 % of a core: for 0.5-3 s every 15-50 s),
which is one stretch, said once, rather than a warning every few seconds."""

CLOSE_WAIT_S = 1.0
"""How long :meth:`LiveSource.close` waits for its threads and streams (the daemon stops within 2 s)."""

LATENCY_SPREAD_BLOCKS = 2
"""How many blocks' length a stream's blocks may arrive later or sooner, from one stretch to another,
with no audio lost: what the sound server and PortAudio hold buffered changes (a stall measured it
changing by a block). Arrivals that differ by less than that from where counting puts a leg placed
again tell nothing; counting is exact while no audio is lost."""

EXCESS_PACE = 4.0
"""A leg whose device clock runs fast drops its excess this many times as fast as the excess built
up (over the audio counted since the leg was last put on its arrivals): it is gone in a quarter of
the time it took to build up, so the leg's sounds come between about a quarter of ``gap_s`` and
``gap_s`` late on the call clock (dropped at once: between none and ``gap_s``). A clock more than
:data:`EXCESS_SHARE_MAX` / EXCESS_PACE fast (2.5 %) drops its excess at that share, which is gone
in less time than it took to build up (5 % fast: the same time, and its sounds come between half
of ``gap_s`` and ``gap_s`` late)."""

EXCESS_SHARE_MAX = 0.1
"""The most of a block a leg whose device clock runs fast drops (its quietest samples): a block
keeps 9 of its 10 samples at least, and a clock up to 10 % fast (real ones: a few hundred ppm) is
kept on the call clock."""

MAX_CHUNK_S = 0.25
"""The longest chunk the capture gives. A loop that fell behind (a loaded machine) takes what was
captured meanwhile in chunks this long, not as one: a call mark of the status socket or a stream's
change, taken with the chunk that reaches the time it came, then lands within this much of it (a
call it starts begins at most this much before its mark, not at the start of seconds of audio)."""

DEVICE_REFRESH_S = 5.0
"""PortAudio's device list is read again at most this often while a SOURCE that is no sound-server
source is missing (a refresh costs about 40 ms of CPU)."""


@dataclass
class LegStats:
    leg: str
    source: str
    label: str = ""
    device_rate: int = 0
    device_channels: int = 0  # the channels its stream was opened with (their mean is the leg)
    state: str = "starting"  # starting | running | waiting (never opened yet) | lost | reopening
    overflows: int = 0
    dropped_blocks: int = 0
    reopens: int = 0
    gap_fill_s: float = 0.0
    skipped_s: float = 0.0  # audio dropped to keep a leg whose device clock runs fast on the call clock
    last_error: str = ""
    level_dbfs: float | None = None  # the last block's; None before it and while the leg has no input
    # (waiting, lost, reopening: its blocks are the gap's zeros), DIGITAL_ZERO_DBFS for zeros

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class _Conditioning:
    """What a stream's blocks go through, at the stream's device rate: the edge's DC/rumble
    high-pass and sample checks, then the resampler to the analyzer rate (both streaming)."""

    rate: int
    edge: EdgeConditioner
    resampler: Resampler


@dataclass
class _Leg:
    name: str
    resolved: ResolvedSource | None  # None: an optional leg not found yet (resolved when it opens)
    stats: LegStats
    q: "queue.Queue[tuple[int, float, np.ndarray]]"
    stream: Any = None  # a sounddevice.InputStream (sounddevice has no types)
    rate: int = 0
    # by stream generation, made before the stream starts: each block is conditioned at the rate
    # of the stream that delivered it, also the first blocks of a stream reopened at a new rate
    # and the last ones of the stream it replaced
    conditioning: dict[int, _Conditioning] = field(default_factory=dict)
    buf: collections.deque = field(default_factory=collections.deque)  # resampled, not yet emitted
    fills: list = field(default_factory=list)  # [first, end) positions of the silence filled in, not yet emitted
    filled_at: collections.deque = field(default_factory=collections.deque)  # (first, end, source time) of each
    # stretch of silence filled in, not yet emitted: when it was filled in, the consumer could take it no sooner
    buffered: int = 0
    pos: int = 0  # samples of this leg placed on the clock (emitted + buffered)
    last_block: float = 0.0  # monotonic time of the current stream's last callback
    opened_at: float = 0.0
    generation: int = 0
    placed_gen: int = 0  # the stream whose first block has been placed on the clock
    skip: int = 0  # samples still to drop at once: placed again, its place was taken (a stall's silence)
    excess: int = 0  # samples still to drop a few a block: the leg ran more than gap_s ahead of its arrivals
    excess_share: float = 0.0  # of each block, dropped while there is excess (its quietest samples)
    counted_from: int = 0  # samples: the counted place where the leg was last put on its arrivals
    filled: int = 0  # silence the consumer padded it with while its stream gave nothing (a stall)
    latency: int = 0  # samples: the least lateness (arrival after the counted place) of its last blocks
    lateness: collections.deque = field(default_factory=collections.deque)  # of its last blocks counted
    settle_until: float = 0.0  # monotonic time: placed again, it settles on its earliest arrival till then
    settled: int = 0  # samples: while it settles, how far after where counting puts it the leg is placed
    earliest: int = 0  # samples: while it settles, how far after that its earliest arrival puts it
    source_index: int | None = None  # the sound-server source the stream opened on (pulse legs)
    checked_at: float = 0.0  # monotonic time the source was last looked for
    opened: bool = False  # has a stream of this leg ever started
    device_list: int = 0  # the PortAudio device list ``resolved`` was found in
    drops_seen: int = 0  # stats.dropped_blocks when the consumer last looked
    dropping_since: int | None = None  # stats.dropped_blocks before the drops now said began
    last_drop: float = 0.0  # monotonic time the consumer last saw new drops
    held_fill_s: float = 0.0  # silence padded into a stream that had delivered (held up: :meth:`LiveSource._pad`)
    fill_seen: float = 0.0  # held_fill_s when the consumer last looked
    unheard_s: float | None = None  # silence filled in the running leg since it was said; None: none said
    last_fill: float = 0.0  # monotonic time the consumer last saw the running leg filled
    repeating: bool = False  # its last failure repeats the one before: its reopening is not said again
    found_among: frozenset[str] | None = None  # the server's sources when its own was last found there (None: never)
    waiting_kind: str = ""  # the kind of why it could not be opened, last said (:func:`_kind`)

    def source(self) -> ResolvedSource:
        """Its resolved source, which it has from being opened on (:meth:`LiveSource._open` finds
        it first); DeviceError for an optional leg not found yet."""
        if self.resolved is None:
            raise DeviceError(f"{self.stats.source}: not found yet")
        return self.resolved


REPEAT_WITHIN_S = 10.0
"""An unforeseen capture error that comes back within this long after the leg was opened again is
the same failure repeating (not said again, the next try later); later, a new one."""


_Recorded = tuple[float, frozenset[int] | None, frozenset[tuple[str, int]]]
"""When :func:`recorded_sources` was asked, its answer, and the streams that had delivered a block by
then, as (leg, stream generation): :meth:`LiveSource._recorded_sources`."""


def _delivering(legs: Iterable[_Leg]) -> Iterator[tuple[str, int]]:
    """(leg, stream generation) of each leg whose current stream has delivered a block: its
    generation read before its last block (:meth:`LiveSource._open` clears the block before it
    begins a generation), so that a new stream is never taken for the one before it."""
    for leg in legs:
        gen = leg.generation
        if leg.last_block:
            yield leg.name, gen


class _Closed(Exception):
    """The source was closed while a leg was being opened: no stream is opened."""


def _block_callback(leg: _Leg, gen: int, stopped: threading.Event) -> Callable[..., None]:
    """The PortAudio callback of the leg's stream of generation ``gen``: each block stamped with
    its arrival (the leg's last block while ``gen`` is its generation), copied and queued; an
    overflow, and a block the full queue drops, counted. Once the capture has ``stopped``, the
    stream ends itself: a daemon starved of CPU as it stops may not get to close its streams
    within :data:`CLOSE_WAIT_S`, and their callbacks went on taking its CPU until it exited."""
    q = leg.q
    stats = leg.stats

    def callback(indata: np.ndarray, frames: int, time_info: object, status: sd.CallbackFlags) -> None:
        # PortAudio thread: stamp, copy and queue only
        if stopped.is_set():
            import sounddevice
            raise sounddevice.CallbackStop
        now = time.monotonic()
        if status.input_overflow:
            stats.overflows += 1
        if gen == leg.generation:
            leg.last_block = now  # the stream delivers, however far behind the consumer is
        try:
            q.put_nowait((gen, now, indata.copy()))
        except queue.Full:
            stats.dropped_blocks += 1

    return callback


class LiveSource(Source):
    """Capture ``{leg: SOURCE}`` (caller first) at ``rate`` Hz; iterate :meth:`chunks` until :meth:`stop`."""

    ready_s: float = 0.0
    """When (source clock) the audio of the last chunk given was all there: its end, or later where the
    capture filled part of it in with silence afterwards (the daemon held up: :meth:`_filled_at`)."""

    def __init__(self, sources: dict[str, str], *, rate: int = 16000, block_s: float = 0.1,
                 queue_s: float = 20.0, gap_s: float = 0.5, settle_s: float = 1.0, stall_s: float = 1.5,
                 first_block_s: float = 4.0, backoff_s: float = 0.5, max_backoff_s: float = 10.0,
                 source_check_s: float = 1.0, on_status: StatusCallback | None = None, resolve_fn=resolve,
                 device_rate: int | None = None, optional: tuple[str, ...] = (),
                 watch_streams: bool = False) -> None:
        """Resolve each leg's SOURCE (an optional one missing is looked for again at each attempt to
        open it); DeviceError for a bad one, SameSourceError for one source named for both legs."""
        if "caller" not in sources:
            raise ValueError("the caller leg is required")
        self.rate = rate
        self.device_rate = device_rate  # None: a sound-server source's own rate, else the analyzer
        # rate if the device takes it, else the device's own (:meth:`_device_rate`)
        self.block_s = block_s
        self.queue_s = max(8, int(queue_s / block_s)) * block_s  # what the queue holds
        self.gap_s = gap_s
        self.settle_s = settle_s
        self.stall_s = stall_s
        self.first_block_s = first_block_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.source_check_s = source_check_s
        self.on_status = on_status or (lambda level, msg, topic: None)
        self.legs = tuple(sorted(sources, key=lambda k: k != "caller"))
        self.optional = frozenset(optional)
        self._resolve = resolve_fn
        self._legs: dict[str, _Leg] = {}
        self._resolve_legs(sources, resolve_fn, queue_s, block_s, settle_s)
        self._check_distinct(sources)
        self._stop = threading.Event()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._left_open: list = []  # streams that did not close (:meth:`_close`): left to the process's end
        self._t_start = 0.0
        self.emitted = 0
        caller = self._legs["caller"].resolved
        self._device_list = 0  # PortAudio device lists read since the start (refresh_portaudio)
        self._refreshed_at = -DEVICE_REFRESH_S
        self._recorded: _Recorded = (-source_check_s, None, frozenset())
        self.streams_sink = monitored_sink(caller.pulse_source if caller else sources["caller"]) \
            if watch_streams else None
        self._watcher: SinkStreams | None = None
        self._marks: "queue.Queue[StreamsMark]" = queue.Queue()  # a few per call: never full
        self._pending: collections.deque[StreamsMark] = collections.deque()

    def _resolve_legs(self, sources: dict[str, str], resolve_fn, queue_s: float, block_s: float,
                      settle_s: float) -> None:
        """Each leg, in order, with its SOURCE resolved (None: an optional one not there yet), its
        stats and its queue of ``queue_s`` of blocks (at least 8)."""
        for name in self.legs:
            try:
                res = resolve_fn(sources[name])  # DeviceError for a bad SOURCE, before anything opens
            except NoPulseDeviceError as err:
                if err.plugin_missing or name not in self.optional:
                    raise  # the source is there, the plugin to open it through is not: no wait brings it
                res = None  # a device list read before the server was up: read again as it is looked for
            except DeviceError:
                if name not in self.optional:
                    raise
                res = None  # looked for again at each attempt to open it
            nq = max(8, int(queue_s / block_s))
            self._legs[name] = _Leg(name, res, LegStats(name, sources[name], res.label if res else sources[name]),
                                    queue.Queue(nq), lateness=collections.deque(maxlen=max(1, round(settle_s / block_s))))

    def _check_distinct(self, sources: dict[str, str]) -> None:
        """SameSourceError when both legs record one source (:func:`one_audio`: one resolved twice, or
        a device recording the server's default source, the other leg's), or one name (waited for,
        not found yet) is given twice."""
        found = [leg.resolved for leg in self._legs.values() if leg.resolved is not None]
        if len(found) == 2 and (label := one_audio(*found)):  # one source named twice, or the default's
            raise SameSourceError(label)
        if len({s.strip() for s in sources.values()}) < len(sources):  # one name, waited for: not found yet
            raise SameSourceError(sources["caller"].strip())

    # ------------------------------------------------------------------ status
    def stats(self) -> dict[str, dict]:
        return {name: leg.stats.to_dict() for name, leg in self._legs.items()}

    def not_found(self) -> frozenset[str]:
        """The legs whose source was not found yet (waited for: it is looked for until it appears)."""
        return frozenset(name for name, leg in self._legs.items() if leg.resolved is None)

    def streams(self) -> dict | None:
        """What the stream watcher knows: the sink, how many streams play into it (None: no
        stream information, ``why``); None when the streams are not watched."""
        w = self._watcher
        if w is None:
            return None
        return {"sink": w.sink, "streams": None if w.ids is None else len(w.ids), "why": w.why}

    def _streams_changed(self, at: float, ids: StreamIds | None, why: str) -> None:
        """From the watcher's thread: the change, stamped on the source clock, for the consumer."""
        w = self._watcher
        elsewhere, paused = (w.elsewhere, w.paused) if w is not None else (frozenset(), frozenset())
        self._marks.put(StreamsMark(round(max(0.0, at - self._t_start), 3), ids, why, elsewhere, paused))

    def _marks_until(self, t_end: float) -> tuple[StreamsMark, ...]:
        """The marks up to ``t_end`` on the source clock (later ones wait for their chunk)."""
        while True:
            try:
                self._pending.append(self._marks.get_nowait())
            except queue.Empty:
                break
        out = []
        while self._pending and self._pending[0].t <= t_end:
            out.append(self._pending.popleft())
        return tuple(out)

    @property
    def overflows(self) -> int:
        return sum(leg.stats.overflows for leg in self._legs.values())

    def now(self) -> float:
        """Seconds on the source clock."""
        return time.monotonic() - self._t_start if self._t_start else 0.0

    # ------------------------------------------------------------------ streams
    def _device_rate(self, leg: _Leg, server_rate: int | None, channels: int) -> int:
        """The rate to open the leg's stream of ``channels`` at: ``device_rate`` when given; a sound-server source's
        own rate (``server_rate``), so that the server does not resample it (its resampler to 16 kHz
        takes 2 to 24 dB off the band above 6 kHz; :class:`Resampler` keeps it to 7.5 kHz); else, or
        when the server tells no rate, the analyzer rate if the device takes it, else its own."""
        import sounddevice as sd
        dev = leg.source().device
        if self.device_rate:
            return self.device_rate
        if leg.source().pulse_source and server_rate is None:
            log.debug("%s: the sound server tells no rate; asking for %d Hz", leg.stats.label, self.rate)
        for rate in dict.fromkeys(r for r in (server_rate, self.rate) if r):
            try:
                sd.check_input_settings(device=dev, channels=channels, samplerate=rate, dtype="float32")
                return rate
            except Exception as err:  # noqa: BLE001 - PortAudio says no in many ways
                log.debug("%s: %d Hz not accepted (%s)", leg.stats.label, rate, err)
        log.debug("%s: using its default rate", leg.stats.label)
        return int(sd.query_devices(dev, "input")["default_samplerate"])

    def _open(self, leg: _Leg) -> None:
        """Open the leg's stream: its source found again where it is missing or PortAudio's list is
        new, a new generation of blocks begun, and the stream started under the open lock (at the
        rate the device takes); _Closed when the source was closed meanwhile."""
        portaudio()  # PortAudio loaded before anything is looked for
        if leg.resolved is None or leg.device_list != self._device_list or _on_server_default(leg.resolved):
            self._find_again(leg)  # missing, PortAudio's list is new, or what the server's default is now asked
        leg.last_block = 0.0  # cleared before its generation begins: the new stream never looks as one that delivered
        leg.generation += 1
        gen = leg.generation
        callback = _block_callback(leg, gen, self._stop)
        leg.opened_at = time.monotonic()
        found = self._pulse_source(leg)  # DeviceError while the source is gone
        leg.source_index = found.index if found else None
        with PULSE_SOURCE_LOCK:
            if self._stop.is_set():  # closed while the source was looked for: a stream now would outlive it
                raise _Closed()
            if leg.device_list != self._device_list:  # another leg read the list again since: its index may be stale
                raise DeviceError(f"{leg.stats.source}: PortAudio's device list was read again; looking again")
            rate = self._start_stream(leg, gen, found, callback)
        self._recorded = (-self.source_check_s, None, frozenset())  # a new stream: the sources recorded are asked afresh
        leg.rate = rate
        leg.stats.device_rate = rate
        leg.opened = True

    def _find_again(self, leg: _Leg) -> None:
        """The leg's source found (again) in PortAudio's device list, as its resolved source and its
        label; DeviceError while it is still missing or when it is the other leg's source."""
        found, listed = self._find(leg)  # DeviceError while it is still missing
        clash = self._other_legs_audio(leg, found)
        if clash:
            raise DeviceError(clash)
        leg.resolved, leg.device_list = found, listed
        leg.stats.label = found.label

    def _other_legs_audio(self, leg: _Leg, found: ResolvedSource) -> str | None:
        """Why ``found``, for ``leg``, records another leg's source (one device or sound-server source,
        or the server's default source that is the other leg's), in the words its loss says; else None."""
        for other in self._legs.values():
            label = one_audio(other.resolved, found) if other is not leg and other.resolved is not None else None
            if label:
                return f"it records {label}, the {other.name} leg's source"
        return None

    def _start_stream(self, leg: _Leg, gen: int, found: PulseSource | None, callback: Callable) -> int:
        """The leg's stream made and started (``PULSE_SOURCE`` set to its sound-server source
        meanwhile, then put back), its conditioning for generation ``gen`` begun before its first
        block; called under the open lock. The stream's rate. A sound-server source is opened with
        its own channels (a sink's monitor: 2), which :meth:`_drain` averages: the servers mix them
        down unlike each other (PulseAudio averages them; PipeWire adds them at -3 dB, 3 dB louder
        for a caller in both channels), the leg's level then depends on neither."""
        import sounddevice as sd
        saved = os.environ.get("PULSE_SOURCE")
        source = leg.source()
        if source.pulse_source:
            os.environ["PULSE_SOURCE"] = source.pulse_source
        try:
            channels = (found.channels if found else None) or 1
            rate = self._device_rate(leg, found.rate if found else None, channels)
            stream = sd.InputStream(device=source.device, channels=channels, samplerate=rate,
                                    dtype="float32", blocksize=int(rate * self.block_s),
                                    callback=callback)
            self._condition(leg, gen, rate)  # before start(): its first block may come at once
            try:
                stream.start()
            except BaseException:
                leg.conditioning.pop(gen, None)
                raise
            leg.stream = stream  # set under the lock: PortAudio's list is not read again while it runs
            leg.stats.device_channels = channels
        finally:
            if source.pulse_source:
                if saved is None:
                    os.environ.pop("PULSE_SOURCE", None)
                else:
                    os.environ["PULSE_SOURCE"] = saved
        return rate

    def _find(self, leg: _Leg) -> tuple[ResolvedSource, int]:
        """The leg's SOURCE resolved now, and the PortAudio device list it was found in (another leg
        may read the list again before this one opens: :meth:`_open` then finds it again); one that
        is missing and no sound-server source is looked for once more in a new PortAudio device
        list, when one may be read (:meth:`_refresh`)."""
        with PULSE_SOURCE_LOCK:  # no other leg reads PortAudio's list while it may be read again
            try:
                return self._resolve(leg.stats.source), self._device_list
            except DeviceError as err:
                if not self._refresh(leg.stats.source, err):
                    raise
            return self._resolve(leg.stats.source), self._device_list

    def _refresh(self, spec: str, err: DeviceError | None = None) -> bool:
        """Read PortAudio's device list again for ``spec``, not found (``err``), (True) unless it is
        a sound-server source's name found with the ``pulse`` device it opens through (``err`` is no
        :class:`NoPulseDeviceError` whose plugin is there: a list read while the server was not
        reachable has none), it was read less than :data:`DEVICE_REFRESH_S` ago, or a stream is open
        or was left to the end of the process (Pa_Terminate would wait for it for ever). Called
        holding ``PULSE_SOURCE_LOCK``, under which streams open and close."""
        stale = isinstance(err, NoPulseDeviceError) and not err.plugin_missing
        if (server_source_name(spec) and not stale) or time.monotonic() - self._refreshed_at < DEVICE_REFRESH_S:
            return False
        if any(leg.stream is not None for leg in self._legs.values()) or self._left_open or self._stop.is_set():
            return False
        refresh_portaudio()
        self._refreshed_at = time.monotonic()
        self._device_list += 1  # every leg finds its device again: the indexes may have moved
        log.debug("PortAudio's device list read again, looking for %s", spec)
        return True

    def _pulse_source(self, leg: _Leg) -> PulseSource | None:
        """The leg's sound-server source now, its index and rate (None: not a pulse leg, or no pactl
        to ask); DeviceError when the source is gone or the server does not answer."""
        name = leg.source().pulse_source
        if not name:
            return None
        sources = pulse_sources()
        if sources is None:
            if shutil.which("pactl") and not self._stop.is_set():  # rather than PortAudio's riddles
                raise DeviceError(NO_SERVER)
            return None
        found = _named(sources, name)
        if found is None:
            raise DeviceError(f"source {name} is gone" + self._appeared(leg, name, sources))
        leg.found_among = frozenset(s.name for s in sources)
        return found

    def _appeared(self, leg: _Leg, name: str, sources: list[PulseSource]) -> str:
        """The sources like the leg's own, ``name`` (a sink's monitor, or a device's input), that appeared
        since it was last found (since it was first looked for, where it never was), no other leg's, as
        the end of why it cannot be opened: a headset plugged in again under another name (another port,
        another profile, perhaps within milliseconds of the old name going: between two looks), which
        the leg never records by itself; "" when none did (its loss said again only when one appears)."""
        if leg.found_among is None:
            leg.found_among = frozenset(s.name for s in sources)
        kind = name.endswith(".monitor")
        others = {o.resolved.pulse_source for o in self._legs.values() if o is not leg and o.resolved is not None}
        new = [s.name for s in sources if s.name not in leg.found_among and s.monitor == kind and s.name not in others]
        return (f"; {', '.join(new)} appeared since: if that is it under another name, give that name and start "
                "the daemon again") if new else ""

    def _source_moved(self, leg: _Leg, now: float) -> str | None:
        """Why the leg's stream no longer records its own source (gone, or removed and made
        again: the stream was moved to another one; or moved by the server while it is there, as
        it moves the streams of its old default source to a new default), looked at every
        ``source_check_s``."""
        if now - leg.checked_at < self.source_check_s:
            return None
        if leg.resolved is not None and _on_server_default(leg.resolved):
            leg.checked_at = now
            return self._default_moved(leg)
        if leg.source_index is None:
            return None
        leg.checked_at = now
        sources = pulse_sources()
        if sources is None:  # no answer: a server that is gone stops the stream, which says so
            return None
        name = leg.source().pulse_source
        if name is None:  # (a source index only for a sound-server source)
            return None
        found = _named(sources, name)
        if found is None:
            return f"source {name} is gone" + self._appeared(leg, name, sources)
        leg.found_among = frozenset(s.name for s in sources)
        if found.index != leg.source_index:
            return f"source {name} was removed and made again"
        recorded, flowing = self._recorded_sources(now)  # empty: the server names no process's streams (told nothing)
        if recorded and (leg.name, leg.generation) in flowing and found.index not in recorded:
            return f"the sound server moved its stream off {name}, to another source"
        return None

    def _default_moved(self, leg: _Leg) -> str | None:
        """A leg on the sound server's default source (``default``, ``pulse``) follows the default
        when the desktop changes it (a headset plugged in or unplugged): why it is lost when the
        default is now the other leg's source (it would score that audio as both legs: an unplugged
        headset's microphone left the softphone's monitor the default); otherwise the source it
        records now, said once when that changes."""
        res = leg.source()
        reads, via = routed_source()
        if reads is None or reads == res.reads:  # no server to ask (the stream says so), or no change
            return None
        now = replace(res, reads=reads, via=via)
        clash = self._other_legs_audio(leg, now)
        if clash:
            return clash
        leg.resolved = now
        self.on_status("info", f"{leg.name} leg ({leg.stats.source}): records {reads} now ({via})", f"{leg.name} leg")
        return None

    def _recorded_sources(self, now: float) -> tuple[frozenset[int] | None, frozenset[tuple[str, int]]]:
        """:func:`recorded_sources` of this process, asked once a ``source_check_s`` for every leg
        (one ``pactl`` a second, however many legs look), and the streams it can judge, as (leg, stream
        generation): those that had delivered a block when it was asked (a stream just opened may not
        be listed by the server yet; one that delivers is). A leg reopened since, while another leg's
        thread asked, is not judged by that answer: its stream is another generation."""
        at, recorded, flowing = self._recorded
        if now - at >= self.source_check_s / 2:
            flowing = frozenset(_delivering(self._legs.values()))
            recorded = recorded_sources(os.getpid())
            self._recorded = (now, recorded, flowing)
        return recorded, flowing

    def _condition(self, leg: _Leg, gen: int, rate: int) -> None:
        """The conditioning of stream ``gen`` at ``rate``: the previous stream's (its filters'
        state goes on) when the rate is the same, else new."""
        last = leg.conditioning.get(max(leg.conditioning)) if leg.conditioning else None
        leg.conditioning[gen] = last if last is not None and last.rate == rate else \
            _Conditioning(rate, EdgeConditioner(rate, 1), Resampler(rate, self.rate, 1))

    def _close(self, leg: _Leg) -> None:
        """Close the leg's stream, waiting at most :data:`CLOSE_WAIT_S`. A sound server killed under a
        stream can leave its client library deadlocked (its stream thread waits for the lock its
        connection's thread holds while it waits for that stream's audio to be let go): closing the
        stream then waits forever, and the leg, which a stream never closed never reopens, stayed
        silent for the rest of the daemon's life. Such a stream is left to the end of the process
        (one warning says so) and the leg opened again on a new one."""
        with PULSE_SOURCE_LOCK:  # never while PortAudio's device list is read again
            stream, leg.stream = leg.stream, None
            if stream is None:
                return
            closer = threading.Thread(target=_abort_and_close, args=(stream, leg.name), name=f"live-{leg.name}-close",
                                      daemon=True)
            closer.start()
            closer.join(CLOSE_WAIT_S)
        if closer.is_alive():
            self._left_open.append(stream)  # its callback may still run: kept, and never closed again
            _skip_portaudio_exit()
            if not self._stop.is_set():  # closing the source says it once for every stream (close)
                log.warning("%s leg (%s): its stream did not close within %g s (the sound server's client hangs): "
                            "it is left to the end of the process; opening a new one", leg.name, leg.stats.source,
                            CLOSE_WAIT_S)

    def _supervise(self, leg: _Leg) -> None:
        """Keep the leg's stream open (:meth:`_keep_open`). An error it did not foresee (a stream
        that fails when asked whether it is active, the sound server's source list unreadable) is
        said, and the leg closed and opened again: the thread never ends before the source is
        closed, which would leave the leg silent for the rest of the daemon's life, unsaid."""
        delay, last, last_at = self.backoff_s, "", -math.inf
        while not self._stop.is_set():
            try:
                self._keep_open(leg)
            except Exception as err:  # noqa: BLE001 - whatever it is, the leg must go on
                log.debug("%s leg: supervisor error", leg.name, exc_info=True)
                now = time.monotonic()
                again = _one_line(err) == last and now - last_at < delay + REPEAT_WITHIN_S
                delay = min(delay * 2, self.max_backoff_s) if again else self.backoff_s
                last, last_at, leg.repeating = _one_line(err), now, again
                leg.stats.state, leg.stats.last_error = "reopening", last
                if not again:  # the same error over and over: said once, tried less and less often
                    self.on_status("warning", f"{leg.name} leg ({leg.stats.source}): capture failed "
                                   f"({_one_line(err)}); reopening", f"{leg.name} leg")
                try:
                    self._close(leg)
                except Exception:  # noqa: BLE001 - the stream is dropped anyway
                    leg.stream = None
                self._stop.wait(delay)

    def _keep_open(self, leg: _Leg) -> None:
        """Keep the leg's stream open: detect a stall (:meth:`_stalled`), close, reopen with backoff."""
        delay = self.backoff_s
        looked = resumed = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now - looked > self.stall_s:  # this thread was held up: so were the callbacks
                resumed = now
            looked = now
            if leg.stream is None:
                try:
                    self._open(leg)
                except _Closed:
                    return
                except Exception as err:  # device or server gone
                    missing = isinstance(err, DeviceError)  # looked for every source_check_s
                    self._not_open(leg, _one_line(err), missing, _kind(err))
                    if self._stop.wait(min(delay, self.source_check_s) if missing else delay):
                        break
                    delay = min(delay * 2, self.max_backoff_s)
                    continue
                delay = self._say_opened(leg, delay)
                leg.stats.state = "starting"
            now = time.monotonic()
            stream = leg.stream
            inactive = stream is not None and not stream.active
            if self._stop.is_set():  # (read after: a stream that ended itself as the capture stopped,
                break  # :func:`_block_callback`, is no loss)
            stalled = self._stalled(leg, now, resumed)
            moved = None if inactive or stalled else self._source_moved(leg, now)
            if inactive or stalled or moved:
                why = moved or self._why_lost(leg, inactive, now)
                leg.stats.state, leg.repeating = "reopening", False  # another failure: its reopening is said
                leg.stats.last_error = why
                self.on_status("warning", f"{leg.name} leg ({leg.stats.source}): input lost ({why}); "
                               "reopening", f"{leg.name} leg")
                self._close(leg)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.max_backoff_s)
                continue
            self._stop.wait(0.1)

    def _stalled(self, leg: _Leg, now: float, resumed: float) -> bool:
        """Whether the leg's stream gave no audio for ``stall_s`` (its first block for
        ``first_block_s``) while its supervisor ran, since ``resumed``: a process held up longer than
        that (stopped, frozen, starved of CPU) held up the stream's callbacks too, and the stream
        delivers what the sound server kept meanwhile once it runs again. A stream that delivers is
        running."""
        if leg.last_block:
            leg.stats.state = "running"
            return now - max(leg.last_block, resumed) > self.stall_s
        return now - max(leg.opened_at, resumed) > self.first_block_s

    def _say_opened(self, leg: _Leg, delay: float) -> float:
        """The leg's stream just opened: that its source is found (it was waited for) or that it is
        reopened (counted; said at debug level while its failures repeat), either restarting the
        backoff. The backoff's next delay."""
        if leg.stats.state == "waiting":
            self.on_status("info", f"{leg.name} leg: source {leg.stats.source} found, capturing at "
                           f"{leg.rate} Hz", f"{leg.name} leg")
            delay = self.backoff_s
        elif leg.stats.state in ("lost", "reopening"):
            leg.stats.reopens += 1
            said = f"{leg.name} leg ({leg.stats.source}): reopened, capturing again at {leg.rate} Hz"
            if leg.repeating:
                log.debug(said)
            else:
                self.on_status("info", said, f"{leg.name} leg")
            delay = self.backoff_s
        return delay

    def _why_lost(self, leg: _Leg, inactive: bool, now: float) -> str:
        """Why the leg's stream stopped or stalled, in the words its reopening would say: a sound
        server gone (restarted, crashed) is named in the line that says the input was lost, so
        that its failed reopenings are no second line."""
        if leg.source_index is not None and pulse_sources() is None and shutil.which("pactl"):
            return NO_SERVER
        return "stream stopped" if inactive else "no audio for %.1f s" % (now - (leg.last_block or leg.opened_at))

    def _not_open(self, leg: _Leg, problem: str, missing: bool, kind: str) -> None:
        """The leg could not be opened: ``waiting`` for a source never opened yet, else ``lost``;
        one line per change of state (of a lost leg's reason too; of a waiting leg's reason, which
        lists the sources there are and changes with any of them, only when its ``kind`` does: the
        sound server answering now, or its source found with no ``pulse`` device to open it
        through); the retries themselves stay quiet."""
        state = "lost" if leg.opened else "waiting"
        leg.repeating = False  # another failure: its reopening is said
        same = leg.stats.state == state or (state, leg.stats.state) == ("lost", "reopening")  # said lost already
        changed = not same or (state == "lost" and leg.stats.last_error != problem) or \
            (state == "waiting" and leg.waiting_kind != kind)
        leg.stats.state, leg.stats.last_error, leg.waiting_kind = state, problem, kind
        if not changed:
            return
        every = min(self.source_check_s, self.max_backoff_s) if missing else self.max_backoff_s
        if state == "waiting":
            self.on_status("warning", f"waiting for {leg.name} source {leg.stats.source}: {problem}; "
                           f"looking for it every {every:g} s", f"{leg.name} leg")
        else:
            self.on_status("warning", f"{leg.name} leg ({leg.stats.source}): cannot open ({problem}); "
                           f"retrying, at most every {every:g} s", f"{leg.name} leg")

    # ------------------------------------------------------------------ consumer
    def start(self) -> None:
        """Open every leg (raises on the first attempt's failure, e.g. a missing device, except for
        an optional leg: its supervisor says why and goes on trying)."""
        self._t_start = time.monotonic()
        for leg in self._legs.values():
            try:
                self._open(leg)
            except Exception:  # noqa: BLE001 - whatever PortAudio raises
                if leg.name not in self.optional:
                    raise
                leg.stream = None
        for leg in self._legs.values():
            t = threading.Thread(target=self._supervise, args=(leg,), name=f"live-{leg.name}",
                                 daemon=True)
            t.start()
            self._threads.append(t)
        if self.streams_sink:
            self._watcher = SinkStreams(self.streams_sink, self._streams_changed).start()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Stop the supervisors and the stream watcher and close the streams, within about
        :data:`CLOSE_WAIT_S`: a sound server that hangs (it does not answer, nor does it go away)
        holds closing a stream as long as it hangs; the streams are then left to the process's
        exit, in a thread of their own, and one warning says so."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._watcher is not None:
            self._watcher.stop()
        deadline = time.monotonic() + CLOSE_WAIT_S
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        closer = threading.Thread(target=self._close_all, name="live-close", daemon=True)
        closer.start()
        closer.join(max(0.1, deadline - time.monotonic()))
        if closer.is_alive() or any(t.is_alive() for t in self._threads):
            log.warning("the sound server did not let the capture close its streams within %g s (it does not "
                        "answer): they are left to the end of the process", CLOSE_WAIT_S)
            _skip_portaudio_exit()

    def _close_all(self) -> None:
        for leg in self._legs.values():
            self._close(leg)

    def _drain(self, leg: _Leg) -> None:
        """Condition and place the blocks the leg's stream has delivered by now, until the capture
        stops; those that come meanwhile wait for the next round. It took them until none waited,
        and a loop starved of CPU (the daemon niced or capped to 1 % of a core), the blocks coming as
        fast as it conditioned them, never got back to its chunks, nor to a stop (SIGTERM)."""
        for _ in range(leg.q.qsize()):
            if self._stop.is_set():
                return
            try:
                gen, t_block, block = leg.q.get_nowait()
            except queue.Empty:
                return
            if gen != leg.generation and leg.stream is not None:
                continue  # a block from a stream already replaced
            chain = leg.conditioning.get(gen)
            if chain is None:
                continue  # a stream that never started
            for old in [g for g in list(leg.conditioning) if g < gen]:  # streams no block comes from any more
                leg.conditioning.pop(old, None)
            y = chain.resampler.process(chain.edge.process(block.mean(axis=1, keepdims=True)))  # its channels' mean
            if not len(y):
                continue
            self._place(leg, gen, t_block, round((t_block - self._t_start) * self.rate) - len(y))
            y = self._skip(leg, y)
            if not len(y):
                continue
            leg.buf.append(y[:, 0].astype(np.float32, copy=False))
            leg.buffered += len(y)
            leg.pos += len(y)

    def _place(self, leg: _Leg, gen: int, t_block: float, start: int) -> None:
        """Pad or skip the leg before its next block, which arrived at ``t_block`` and would start at
        ``start`` (samples on the clock) had it arrived the moment its last sample was made. By the
        block's arrival, never by now (the consumer may be late): a stream's first block where it
        arrived, the following ones by counting, how late each arrives kept; after a stall or audio
        lost, placed again (:meth:`_replace`). A leg more than ``gap_s`` ahead of its arrivals (its
        device's clock runs fast) drops the excess."""
        late = start - self._counted(leg)
        if gen != leg.placed_gen:  # a stream's first block: where it arrived
            leg.placed_gen, leg.skip, leg.filled, leg.latency, leg.settle_until = gen, 0, 0, 0, 0.0
            leg.excess = 0
            leg.lateness.clear()
            if start > leg.pos:
                self._pad(leg, start - leg.pos, held_up=False)  # the time before a stream (re)opened gave audio
            leg.counted_from = leg.pos
        elif leg.filled or late > self.gap_s * self.rate:  # a stall its consumer filled, or audio lost
            self._replace(leg, t_block, late)
        elif t_block < leg.settle_until:
            self._settle(leg, late)
        elif -late > self.gap_s * self.rate:  # more audio than time: the device's clock runs fast
            leg.latency = 0
            leg.lateness.clear()
            self._ahead(leg, -late)
        else:
            leg.lateness.append(late)

    def _replace(self, leg: _Leg, t_block: float, late: int) -> None:
        """Place the leg again, after a stall its consumer filled with silence (``leg.filled``) or a
        block more than ``gap_s`` late: where its earliest arrival puts it, with the leg's latency
        (the least lateness of its last blocks: what one block arrives late by is no part of where
        its audio belongs), and for ``settle_s`` each block that arrives sooner than that allows moves
        it earlier (:meth:`_settle`): a stall's audio was held back, not lost, and comes in a burst,
        each block of it sooner than the one before by its length, until the leg is back where
        counting puts it. What had its place taken (by the silence, by the audio placed) is dropped."""
        leg.latency = min(leg.lateness, default=leg.latency)
        leg.lateness.clear()
        leg.settle_until, leg.settled = t_block + self.settle_s, leg.filled  # after where counting puts it
        leg.filled, leg.earliest = 0, leg.settled + late - leg.latency
        self._settle(leg, late, placed=False)
        leg.counted_from = self._counted(leg)

    def _settle(self, leg: _Leg, late: int, placed: bool = True) -> None:
        """A block that arrived ``late`` while the leg settles: the leg is placed where the earliest
        arrival since it was placed again puts it, ``leg.earliest`` after where counting puts it,
        unless that is no more than :data:`LATENCY_SPREAD_BLOCKS` blocks (the arrivals tell no more:
        counting is exact while no audio is lost); once ``placed``, only ever earlier."""
        leg.earliest = min(leg.earliest, leg.settled + late - leg.latency)
        at = leg.earliest if leg.earliest > LATENCY_SPREAD_BLOCKS * self.block_s * self.rate else 0
        if at < leg.settled or not placed:
            self._shift(leg, at - leg.settled)
            leg.settled = at

    @staticmethod
    def _counted(leg: _Leg) -> int:
        """Where counting puts the leg's next sample on the clock: after what it still drops."""
        return leg.pos - leg.skip - leg.excess

    def _shift(self, leg: _Leg, n: int) -> None:
        """Move the leg's next audio ``n`` samples later (silence, or less of what it still skips)
        or ``-n`` earlier (skipped)."""
        if n < 0:
            leg.skip -= n
            return
        taken = min(n, leg.skip)
        leg.skip -= taken
        eased = min(n - taken, leg.excess)
        leg.excess -= eased
        if n > taken + eased:
            self._pad(leg, n - taken - eased, held_up=True)

    def _ahead(self, leg: _Leg, n: int) -> None:
        """The leg is ``n`` samples ahead of its arrivals: its device's clock runs fast (a device whose
        clock runs faster than the system's delivers more samples than seconds, so counting alone
        would put its audio ever later than the other leg's and the call clock). The excess is
        dropped a few samples a block (:meth:`_skip`), :data:`EXCESS_PACE` times as fast as it built
        up over the audio counted since the leg was last put on its arrivals (what is still to drop
        counted in), at most :data:`EXCESS_SHARE_MAX` of a block. More than ``gap_s`` still to drop
        (a clock faster than that share keeps up, a device's rate not the one it says) is dropped
        at once, as before: the leg's sounds never come more than twice ``gap_s`` late."""
        counted = max(1, self._counted(leg) - leg.counted_from)
        leg.excess += n
        over = leg.excess - int(self.gap_s * self.rate)
        if over > 0:  # a clock more than EXCESS_SHARE_MAX fast (a rate mismatch): the rest at once
            leg.excess -= over
            leg.skip += over
        leg.excess_share = min(EXCESS_SHARE_MAX, EXCESS_PACE * leg.excess / counted)
        leg.counted_from = self._counted(leg)

    def _skip(self, leg: _Leg, y: np.ndarray) -> np.ndarray:
        """``y`` (n, 1) without what the leg still drops: ``leg.skip`` samples from its start (their
        place was taken), and of its excess (:meth:`_ahead`) its share of ``y``, the quietest samples
        (:func:`drop_quietest`); both counted in ``skipped_s``."""
        n = min(leg.skip, len(y))
        leg.skip -= n
        y = y[n:]
        k = min(leg.excess, math.ceil(leg.excess_share * len(y)))
        leg.excess -= k
        leg.stats.skipped_s += (n + k) / self.rate
        return drop_quietest(y, k)

    def _say_drops(self, leg: _Leg) -> None:
        """One warning when the leg's blocks begin to be dropped on a full queue (the consumer, the
        analysis, is ``queue_s`` behind the capture: that audio is lost and its time filled with
        silence), one line when none has been dropped for :data:`DROPS_OVER_S`."""
        dropped, now = leg.stats.dropped_blocks, time.monotonic()
        if dropped > leg.drops_seen:
            if leg.dropping_since is None:
                leg.dropping_since = leg.drops_seen
                self.on_status("warning", f"{leg.name} leg ({leg.stats.source}): audio dropped: the analysis "
                               f"runs more than {self.queue_s:g} s behind the capture (the machine is too busy); "
                               "its time is filled with silence", f"{leg.name} leg drops")
            leg.drops_seen, leg.last_drop = dropped, now
        elif leg.dropping_since is not None and now - leg.last_drop > DROPS_OVER_S:
            lost = (dropped - leg.dropping_since) * self.block_s
            leg.dropping_since = None
            self.on_status("info", f"{leg.name} leg ({leg.stats.source}): the analysis caught up with the "
                           f"capture; {lost:.1f} s of audio dropped", f"{leg.name} leg drops")

    def _say_unheard(self, leg: _Leg) -> None:
        """One warning when a leg that runs is filled with silence for ``gap_s`` or more (its audio
        did not come in time: the daemon or the sound server held up, stopped, or starved of CPU;
        what came late had its place taken), one line with the seconds not heard when none has been
        filled for :data:`UNHEARD_OVER_S`. Silence filled while the leg is lost or opened again (its
        new stream not delivering yet), or while its audio is dropped on a full queue, is said as
        those are."""
        filled, now = leg.held_fill_s, time.monotonic()
        grown, leg.fill_seen = filled - leg.fill_seen, filled
        if grown > 0 and leg.stats.state == "running" and leg.dropping_since is None:
            leg.last_fill = now
            leg.unheard_s = (leg.unheard_s or 0.0) + grown
            if leg.unheard_s - grown < self.gap_s <= leg.unheard_s:
                self.on_status("warning", f"{leg.name} leg ({leg.stats.source}): audio not heard: the capture was "
                               "held up (the machine too busy, or the daemon or the sound server stopped); its time "
                               "is filled with silence", f"{leg.name} leg held up")
        elif leg.unheard_s is not None and leg.dropping_since is None and now - leg.last_fill > UNHEARD_OVER_S:
            if leg.unheard_s >= self.gap_s:
                self.on_status("info", f"{leg.name} leg ({leg.stats.source}): capturing in time again; "
                               f"{leg.unheard_s:.1f} s of audio not heard", f"{leg.name} leg held up")
            leg.unheard_s = None

    def _pad(self, leg: _Leg, n: int, held_up: bool) -> None:
        """Fill ``n`` samples of the leg with silence (no audio came for them), noting where; ``held_up``:
        in a stream that had delivered (the daemon or the sound server held up, its audio late or
        lost), not before a stream opened again delivers (:meth:`_say_unheard` says the former)."""
        if leg.fills and leg.fills[-1][1] == leg.pos:
            leg.fills[-1][1] += n
        else:
            leg.fills.append([leg.pos, leg.pos + n])
        leg.filled_at.append((leg.pos, leg.pos + n, self.now()))
        leg.buf.append(np.broadcast_to(np.float32(0.0), (n,)))  # no memory: an analysis far behind holds minutes of it
        leg.buffered += n
        leg.pos += n
        leg.stats.gap_fill_s += n / self.rate
        if held_up:
            leg.held_fill_s += n / self.rate

    def _take(self, leg: _Leg, n: int) -> np.ndarray:
        """The leg's next ``n`` samples, from the front of what it holds (never all of it joined:
        an analysis far behind has it hold minutes)."""
        out: list[np.ndarray] = []
        got = 0
        while got < n:
            piece = leg.buf.popleft()
            out.append(piece[:n - got])
            got += len(out[-1])
            if len(piece) > len(out[-1]):
                leg.buf.appendleft(piece[len(out[-1]):])
        leg.buffered -= n
        return np.concatenate(out)

    def _unheard(self, leg: _Leg, column: int, n: int) -> list[tuple[int, int, int]]:
        """The fills of the leg's next ``n`` samples (from ``emitted``), as a chunk's
        ``unheard`` ranges of ``column``; the fills they end are let go."""
        lo, hi = self.emitted, self.emitted + n
        out = [(column, max(a, lo) - lo, min(b, hi) - lo) for a, b in leg.fills if a < hi and b > lo]
        leg.fills = [f for f in leg.fills if f[1] > hi]
        return out

    def chunks(self) -> Iterator[Chunk]:
        """Aligned chunks until :meth:`stop` (then returns within ~0.1 s)."""
        if not self._t_start:
            self.start()
        legs = [self._legs[n] for n in self.legs]
        try:
            while not self._stop.is_set():
                time.sleep(self.block_s / 2)
                for leg in legs:
                    self._drain(leg)
                    self._say_drops(leg)
                # a leg that delivers nothing (lost, reopening) is padded once it lags the
                # clock by more than gap_s, so the other leg and the call clock go on
                lag_limit = int((self.now() - self.gap_s - self.block_s) * self.rate)
                for leg in legs:
                    if leg.pos < lag_limit and (leg.stats.state != "running" or len(legs) > 1
                                                or time.monotonic() - (leg.last_block or 0) > self.gap_s):
                        n = lag_limit - leg.pos
                        leg.filled += n  # what its stream delivers next places it again
                        self._pad(leg, n, held_up=leg.stats.state == "running" and leg.placed_gen == leg.generation)
                for leg in legs:
                    self._say_unheard(leg)
                longest = max(1, int(round(MAX_CHUNK_S * self.rate)))
                while (n := min(leg.buffered for leg in legs)) > 0:
                    yield self._chunk(legs, min(n, longest))
        finally:
            self.close()

    def _chunk(self, legs: list, n: int) -> Chunk:
        """The next ``n`` samples of every leg, with the stream changes that came by their end."""
        cols = [self._take(leg, n) for leg in legs]
        unheard = tuple(u for i, leg in enumerate(legs) for u in self._unheard(leg, i, n))
        samples = np.stack(cols, axis=1)
        for leg, level in zip(legs, block_levels_dbfs(samples)):  # a leg with no input has no level
            leg.stats.level_dbfs = round(float(level), 1) if leg.stats.state == "running" else None
        t0, end = self.emitted / self.rate, self.emitted + n
        self.ready_s = max([end / self.rate, *(self._filled_at(leg, end) for leg in legs)])
        self.emitted = end
        return Chunk(t0, samples, self._marks_until(self.emitted / self.rate), unheard)

    @staticmethod
    def _filled_at(leg: _Leg, end: int) -> float:
        """When (source clock) the last of the silence filled into the leg's next samples up to
        position ``end`` was filled in, 0.0 if none was; the stretches ending by ``end`` are let go.
        A stretch filled in after the capture's threads were held up (the daemon stopped, a
        machine that froze it) is filled in at once, long after its time: the consumer, which
        was held up too, is not behind by that time."""
        at = max((when for first, _, when in leg.filled_at if first < end), default=0.0)
        while leg.filled_at and leg.filled_at[0][1] <= end:
            leg.filled_at.popleft()
        return at


def _abort_and_close(stream, leg: str) -> None:
    """Abort and close ``stream`` (a stream of a vanished device is gone anyway: said at debug level)."""
    try:
        stream.abort()
        stream.close()
    except Exception as err:  # noqa: BLE001 - PortAudio fails in many ways on a vanished device
        log.debug("%s leg: stream not closed cleanly: %s", leg, err)


def _skip_portaudio_exit() -> None:
    """No PortAudio shutdown as the process exits: sounddevice's exit handler terminates PortAudio,
    which closes the streams still open, and so waits, as long as the server hangs, for a server that
    does not answer; the process's end closes them instead."""
    import atexit
    import sounddevice as sd
    atexit.unregister(sd._exit_handler)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]


def _kind(err: BaseException) -> str:
    """The kind of why a leg could not be opened, whose change a waiting leg says: no sound server to
    ask, a sound-server source with no ``pulse`` device, or another (a source not there)."""
    said = str(err)
    if said == NO_SERVER or "sources cannot be listed" in said:
        return "no server"
    return type(err).__name__


def _on_server_default(res: ResolvedSource) -> bool:
    """Whether ``res`` records the sound server's default source (or ``PULSE_SOURCE``'s), not one of its own."""
    return res.pulse_source is None and res.reads is not None


def _named(sources: list[PulseSource], name: str) -> PulseSource | None:
    """The sound-server source called ``name`` among ``sources`` (None: not there)."""
    return next((src for src in sources if src.name == name), None)


__all__ = ["LiveSource", "LegStats", "DeviceError"]
