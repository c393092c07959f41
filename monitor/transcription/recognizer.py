"""Per-channel speech recognition with Vosk in a worker thread.

The pipeline calls :meth:`Transcriber.feed` with each chunk of one channel
(call time ``t0``, float32 mono samples at the input rate, optionally the
analyzer's 10 ms voice-activity mask for the chunk). ``feed`` only copies the
chunk into a bounded backlog and returns; a worker thread owned by the
transcriber does everything else:

1. **resampling** to the model's rate with :class:`monitor.dsp.resample.Resampler`
   (the same streaming polyphase resampler as the file edge: chunk boundaries
   leave no seams, the output equals resampling the whole stream at once);
2. **voice-activity gating** (``gate=True`` and a mask given): a silence is fed
   for ``hangover_s`` after speech (so the recognizer sees the trailing silence
   it needs to endpoint an utterance), then skipped; ``preroll_s`` of the
   silence before the next speech is fed again so word onsets are not clipped;
3. **recognition** with a ``KaldiRecognizer`` (``SetWords``, ``SetPartialWords``)
   fed in slices of at most 0.2 s; with ``renew_s``, the recognizer is replaced by a new one
   at the first utterance end after that much audio (a recognizer's memory grows with the
   audio it decoded; words and their times go on unchanged);
4. **time mapping**: a piecewise offset table maps recognizer time (seconds of
   audio fed) back onto call time, so skipped silence, dropped backlog and
   jumps in ``t0`` never shift a word. Every time in a :class:`WordsEvent`
   is a call time.

Results are collected with :meth:`poll` (non-blocking) and :meth:`close`
(flushes the last utterance and joins the worker). A live one (``on_full="drop"``) is bounded: it
finishes its queued audio and the piece it is decoding for at most :data:`CLOSE_BACKLOG_S` and drops
the rest (cut at the next 0.2 s slice), then gives the last utterance's flush (Vosk's ``FinalResult``)
at most :data:`CLOSE_FLUSH_S` (:data:`STOP_FLUSH_S` as the daemon stops, also once the stop comes
during that flush); an overrun leaves the flush to finish unheeded, and the utterance's call times are
:meth:`Transcriber.unflushed_span`. At most one such flush is left running (:class:`FlushesLeft`).

Backlog policy (``on_full``) when the worker falls behind by more than
``max_backlog_s`` of audio:

* ``"drop"`` (default, for live audio): the oldest queued chunks are dropped
  and counted in :attr:`TranscriberStats.dropped_s`; ``feed`` never blocks and
  the transcript stays current (a drop is a time jump, mapped like any other);
* ``"block"`` (for replay as fast as possible): ``feed`` waits for room, so
  the whole file is transcribed and replay runs at the recognizer's speed.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import json
import logging
import math
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque

import numpy as np

from ..dsp.resample import Resampler

log = logging.getLogger(__name__)
from ..events import Word, WordsEvent, joined_spans

FRAME_S = 0.01
"""Hop of the voice-activity mask passed to :meth:`Transcriber.feed`."""

CLOSE_BACKLOG_S = 1.0
"""How long closing a live transcriber (``on_full="drop"``) finishes the audio still queued before it
drops the rest: its call's end and the daemon's stop wait no longer than that for a worker behind."""

CLOSE_FLUSH_S = 5.0
"""How long closing a live transcriber as its call ends waits for the last utterance's flush (Vosk's
``FinalResult``, which decodes what the recognizer holds at once: tens of seconds on a core starved to
1 %, more than a second with a small model on two cores busy with other work); past it the flush's
words are not waited for, and its utterance is :meth:`Transcriber.unflushed_span`. The capture holds
the audio that comes meanwhile (the analysis then runs that much behind)."""

STOP_FLUSH_S = 1.0
"""How long closing a live transcriber as the daemon stops waits for the last utterance's flush
(:data:`CLOSE_FLUSH_S`): the stop is not held longer for it, also when it comes as a call's end
flushes (a flush that has run that long is given up at once, unless its result is being taken)."""

_NOISE_TOKEN = re.compile(r"^(\[.*\]|<.*>)$")


class TranscriberError(RuntimeError):
    """The recognizer worker failed; the message names the channel."""


class _Phase(enum.Enum):
    """Where a transcriber is in its close (under its ``_cond``). Transitions, each once, in order::

        OPEN -> DRAINING -> CLOSING or CUT -> TAKEN
        DRAINING, CLOSING or CUT -> ABANDONED   (live only)

    The daemon's stop (:meth:`Transcriber.give_way`) is not a phase: it can come in any of them, and
    holds the worker only while OPEN. The worker's own end (``stats().finished``) is not one either:
    a worker that fails ends in whatever phase it is in."""

    OPEN = "open"
    """Taking audio (:meth:`Transcriber.feed`); while the daemon stops, the worker takes none and
    holds at the next slice of the piece it is decoding."""
    DRAINING = "draining"
    """:meth:`Transcriber.close` began: the worker decodes the audio queued, for at most the close's
    backlog allowance (live)."""
    CLOSING = "closing"
    """No more audio comes: the worker finishes what is queued (``on_full="block"``) and flushes the
    last utterance."""
    CUT = "cut"
    """As CLOSING, the close's backlog allowance over with audio left: what was queued is dropped, the
    piece being decoded stops at its next slice and the segment's tail is not fed."""
    ABANDONED = "abandoned"
    """The last utterance's flush is not waited for (or not run at all), its words not taken; as
    CUT, the worker feeds nothing more."""
    TAKEN = "taken"
    """The flush's result is being taken: too late to abandon it."""

    @property
    def closed(self) -> bool:
        """No more audio is fed (:meth:`Transcriber.feed` raises) and the worker may end."""
        return self not in (_Phase.OPEN, _Phase.DRAINING)

    @property
    def cutting(self) -> bool:
        """The worker feeds no more of the piece it is decoding (:class:`_Cut` at its next slice)."""
        return self in (_Phase.CUT, _Phase.ABANDONED)


class FlushesLeft:
    """The last-utterance flushes whose close gave up on them and whose workers still run them: each
    holds its thread and its recognizer (the Korean model's: 199 MB after a 221 s call), under
    SCHED_IDLE, for as long as a starved machine leaves it no CPU. Shared by the transcribers of one
    model (:class:`monitor.transcription.setup.TranscriptionSetup`), so that calls ending one after
    another on such a machine leave at most ``limit`` of them: a close that finds that many left does
    not run its flush (the recognizer is freed at once, the utterance's words not transcribed). Such a
    worker frees its recognizer as it ends but leaves the memory to be given back to the system
    (:func:`give_back_freed_memory`) by the daemon, between calls (:meth:`ended`): under SCHED_IDLE,
    ``malloc_trim`` holds each of glibc's heaps in turn, the main thread's too, for as long as the
    starved thread takes to hand their free pages back (the main thread's allocations held 22 s)."""

    def __init__(self, limit: int = 1) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._count = 0
        self._ended = False

    @property
    def count(self) -> int:
        """How many flushes given up on still run."""
        with self._lock:
            return self._count

    def full(self) -> bool:
        """As many flushes given up on still run as the limit allows."""
        with self._lock:
            return self._count >= self.limit

    def add(self) -> None:
        with self._lock:
            self._count += 1

    def done(self) -> None:
        with self._lock:
            self._count -= 1
            self._ended = True

    def ended(self) -> bool:
        """Whether a flush given up on has ended since this was last asked: its recognizer's memory is
        freed, to be given back to the system."""
        with self._lock:
            ended, self._ended = self._ended, False
            return ended


def give_back_freed_memory() -> bool:
    """Hand the heap memory freed so far (a recognizer's, a call's analysis's) back to the system,
    which glibc's malloc otherwise keeps for the process: the daemon with the Korean model held 799 MB
    after a 4 min call, 603 MB once trimmed (the model's 555 MB stay), and within a long call each
    renewed recognizer left the next one's low point higher (about 150 MB an hour of call). False
    where nothing was given back, or there is no glibc (musl, macOS): nothing is done."""
    try:
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):
        return False


@dataclass(frozen=True)
class TranscriberStats:
    """Work done so far (seconds are seconds of audio)."""

    channel: str
    received_s: float  # audio handed to feed()
    fed_s: float  # audio given to the recognizer
    skipped_s: float  # silence left out by the gate
    dropped_s: float  # backlog dropped because the worker fell behind
    backlog_s: float  # audio queued, not yet processed
    cpu_s: float  # CPU time of the worker thread
    finals: int
    partials: int
    finished: bool
    renewals: int = 0  # recognizers replaced by a new one (``renew_s``)
    given_back: int = 0  # of those, the renewals after which the old one's memory went back to the system

    @property
    def real_time_factor(self) -> float:
        """Worker CPU seconds per second of audio received."""
        return self.cpu_s / self.received_s if self.received_s > 0 else math.nan


class _TimeMap:
    """Piecewise-constant offset from recognizer time to call time."""

    def __init__(self) -> None:
        self.rec_starts: list[float] = []
        self.offsets: list[float] = []

    def add(self, rec_t: float, call_t: float) -> None:
        if self.rec_starts and self.rec_starts[-1] == rec_t:
            self.offsets[-1] = call_t - rec_t
        else:
            self.rec_starts.append(rec_t)
            self.offsets.append(call_t - rec_t)

    def to_call(self, rec_t: float, *, end: bool = False) -> float:
        if not self.rec_starts:
            return rec_t
        i = int(np.searchsorted(self.rec_starts, rec_t, side="left" if end else "right")) - 1
        return rec_t + self.offsets[max(i, 0)]

    def forget_before(self, rec_t: float) -> None:
        i = int(np.searchsorted(self.rec_starts, rec_t, side="right")) - 1
        if i > 0:
            del self.rec_starts[:i], self.offsets[:i]


class _Cut(Exception):
    """The close stopped the decoding at call time ``at`` (the rest of the piece is dropped)."""

    def __init__(self, at: float) -> None:
        super().__init__(at)
        self.at = at


@dataclass
class _Item:
    t0: float
    x: np.ndarray
    speech: np.ndarray | None
    cut: bool = False  # the part not decoded is counted among the dropped (under ``_cond``)


class Transcriber:
    """Vosk recognizer for one channel, in its own thread.

    ``model`` is a loaded ``vosk.Model`` (see :func:`monitor.transcription.vosk_models.load_model`);
    ``model_rate`` its sample rate (:attr:`monitor.transcription.vosk_models.ModelInfo.sample_rate`).
    """

    def __init__(self, model: Any, channel: str, input_rate: int, *, gate: bool = True,
                 model_rate: int = 16000, hangover_s: float = 0.5, preroll_s: float = 0.2,
                 max_backlog_s: float = 30.0, on_full: str = "drop",
                 partial_interval_s: float = 0.5, slice_s: float = 0.2, renew_s: float = 0.0,
                 close_backlog_s: float = CLOSE_BACKLOG_S, close_flush_s: float = CLOSE_FLUSH_S,
                 stop_flush_s: float = STOP_FLUSH_S, flushes_left: FlushesLeft | None = None) -> None:

        if input_rate <= 0 or model_rate <= 0:
            raise ValueError(f"transcriber {channel}: sample rates must be positive")
        if on_full not in ("drop", "block"):
            raise ValueError(f"transcriber {channel}: on_full must be 'drop' or 'block', not {on_full!r}")
        self.channel = channel
        self.input_rate = int(input_rate)
        self.model_rate = int(model_rate)
        self.gate = gate
        self._hop = self.model_rate // 100
        self._hang_frames = int(round(hangover_s / FRAME_S))
        self._pre_frames = int(round(preroll_s / FRAME_S))
        self._max_backlog = int(max_backlog_s * self.input_rate)
        self._on_full = on_full
        self._partial_every = int(partial_interval_s * self.model_rate)
        self._slice = max(1, int(slice_s * self.model_rate))
        self._close_backlog_s = close_backlog_s
        self._close_flush_s = close_flush_s
        self._stop_flush_s = stop_flush_s
        self._flushes_left = FlushesLeft() if flushes_left is None else flushes_left

        self._begin_recognizer(model, renew_s)
        self._begin_shared_state()
        self._begin_worker_state()

        self._thread = threading.Thread(target=self._run, name=f"transcriber-{channel}", daemon=True)
        self._thread.start()

    def _begin_recognizer(self, model: Any, renew_s: float) -> None:
        """The first Vosk recognizer of ``model`` (replaced by a new one every ``renew_s`` seconds of
        audio given to it, 0: never), with the samples given to earlier ones, the replacements and the
        memory they gave back."""
        self._model = model
        self._renew_samples = int(renew_s * self.model_rate)
        self._rec = self._recognizer()
        self._rec_base = 0  # samples given to earlier recognizers (their times start at 0 again)
        self._renewals = 0
        self._given_back = 0

    def _begin_shared_state(self) -> None:
        """What the pipeline thread and the worker share, under ``_cond``: the queued items and their
        backlog, the close's phase and the daemon's stop, the events and error the worker leaves, the samples
        received and dropped, the item being processed and the utterance the recognizer holds (what a
        close that gives up on the flush says not transcribed)."""
        self._cond = threading.Condition()
        self._items: Deque[_Item] = deque()
        self._backlog = 0
        self._phase = _Phase.OPEN
        self._stopping = False  # the daemon stops (give_way, or a close as it stops): the stop's allowances
        self._left = False  # the close gave up on a flush begun: counted in _flushes_left until the worker ends
        self._events: list[WordsEvent] = []
        self._error: BaseException | None = None
        self._received = 0
        self._dropped = 0
        self._dropped_spans: list[tuple[float, float]] = []  # call times, one per stretch dropped at a time
        self._unflushed: tuple[float, float] | None = None
        self._piece: _Item | None = None  # the item the worker is processing
        self._utterance_from: float | None = None  # call time of the first slice fed since the last final result
        self._fed_to: float | None = None  # call time at the end of the last slice given to the recognizer
        self._accepting = False  # the worker is inside the recognizer's AcceptWaveform (its turn: _accept)

    def _begin_worker_state(self) -> None:
        """What only the worker touches: the segment being fed, the speech gate's hangover and pre-roll,
        the map of recognizer times to call times, the partial results and the counts it reports."""
        self._start_segment(0.0)  # the segment's resampler, speech mask and remainders
        self._seg_t0: float | None = None
        self._last_speech = True
        self._since_speech = self._hang_frames + 1  # frames since the last speech frame
        self._pre_start = 0  # segment frame index of the pre-roll being fed
        self._map = _TimeMap()
        self._rec_samples = 0  # samples given to the recognizer
        self._next_call: float | None = None  # call time right after the last fed sample
        self._since_partial = 0
        self._partial_text = ""
        self._skipped = 0  # model-rate samples
        self._finals = 0
        self._partials = 0
        self._cpu = 0.0
        self._finished = False  # the worker has ended (closed, or failed in any phase)

    def _recognizer(self) -> Any:
        """A new recognizer of the model, with a dither of its own (:class:`~.vosk_native.Dither`)."""
        from .vosk_native import KaldiRecognizer
        rec = KaldiRecognizer(self._model, float(self.model_rate))
        rec.SetWords(True)
        rec.SetPartialWords(True)
        return rec

    @property
    def renewals(self) -> int:
        """How many times the recognizer was replaced by a new one (``renew_s``)."""
        return self._renewals

    # ---- producer side (pipeline thread) -------------------------------------------------

    def feed(self, t0: float, samples: np.ndarray, speech: np.ndarray | None = None) -> None:
        """Queue one chunk; never blocks with ``on_full="drop"``.

        ``speech``: voice activity per 10 ms frame, frames starting at ``t0``;
        frames beyond its end take its last value.
        """
        x = np.asarray(samples)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"transcriber {self.channel}: expected mono samples, got shape {x.shape}")
        x = np.array(x, dtype=np.float32, copy=True)
        mask = None if speech is None else np.array(speech, dtype=bool, copy=True).reshape(-1)
        with self._cond:
            if self._phase.closed:
                raise RuntimeError(f"transcriber {self.channel}: feed() after close()")
            self._raise_error()
            if self._on_full == "block":
                while self._backlog + len(x) > self._max_backlog and self._items and self._error is None:
                    self._cond.wait(0.5)
            else:
                while self._items and self._backlog + len(x) > self._max_backlog:
                    old = self._items.popleft()
                    self._backlog -= len(old.x)
                    self._dropped += len(old.x)
                    self._note_dropped(old)
            self._items.append(_Item(float(t0), x, mask))
            self._backlog += len(x)
            self._received += len(x)
            self._cond.notify_all()

    def _note_dropped(self, item: _Item) -> None:
        """``item`` dropped (under ``_cond``): its call time joins a stretch dropped that it meets
        (the items dropped one after another while the worker is behind; at the close, the queued
        items and the rest of the piece being decoded, in either order)."""
        start, end = item.t0, item.t0 + len(item.x) / self.input_rate
        # a cut piece's rest may come after the queue's
        self._dropped_spans = joined_spans([*self._dropped_spans, (start, end)], gap=0.05)

    def dropped_spans(self) -> list[tuple[float, float]]:
        """The call-time spans (start, end) of the audio dropped because the worker fell behind by
        more than ``max_backlog_s`` (``on_full="drop"``), in order: its words are not transcribed."""
        with self._cond:
            return list(self._dropped_spans)

    @property
    def max_backlog_s(self) -> float:
        """The audio the worker may fall behind by before the oldest is dropped (``on_full="drop"``)."""
        return self._max_backlog / self.input_rate

    def poll(self) -> list[WordsEvent]:
        """Results produced since the last call (non-blocking).

        Raises :class:`TranscriberError` once the worker has failed and every result it
        produced before has been handed out."""
        with self._cond:
            out, self._events = self._events, []
            if not out:
                self._raise_error()
        return out

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued chunk has been recognised (replay keeps words in step this way).

        Returns False if ``timeout`` passed first, or the worker gives way (:meth:`give_way`) with
        audio still queued or being decoded. The live daemon calls it only as it closes a recognizer,
        for at most :data:`CLOSE_BACKLOG_S`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while (self._items or self._piece is not None) and self._error is None and not self._finished:
                left = None if deadline is None else deadline - time.monotonic()
                if (left is not None and left <= 0) or self._giving_way():
                    return False
                self._cond.wait(left if left is not None else 0.5)
            self._raise_error()
        return True

    def close(self, timeout: float | None = None, *, stopping: bool = False) -> list[WordsEvent]:
        """Finish the queued audio, flush the last utterance, join the worker.

        With ``on_full="drop"`` (live audio) the queued audio and the piece being decoded are
        finished for at most ``close_backlog_s`` (:data:`CLOSE_BACKLOG_S`), and what still waits
        then is dropped (counted and among :meth:`dropped_spans`); the last utterance's flush is
        waited for at most ``close_flush_s`` (:data:`CLOSE_FLUSH_S`; ``stop_flush_s``,
        :data:`STOP_FLUSH_S`, as the daemon stops: ``stopping``, or :meth:`give_way` before the close
        or during it, which cuts a flush running longer at once but keeps one whose result is being
        taken; 0: not run), and past it its words are not taken (:meth:`unflushed_span`), its worker
        left to end alone. While ``flushes_left`` (:class:`FlushesLeft`) holds as many such workers as
        it allows, the flush is not run at all: the recognizer is freed at once, the utterance's words
        not transcribed. A worker far behind (a busy machine: 30 s of audio waiting, its CPU capped)
        held the call's end, and the daemon's stop, for as long as it took to finish; a core starved to
        1 % took tens of seconds over the flush alone. A second close waits for no flush the first
        gave up on. Returns the events not yet polled. If the worker does not finish within
        ``timeout`` seconds, returns what it has (``stats().finished`` is False).
        """
        live = self._on_full == "drop"
        with self._cond:
            again, self._stopping = self._phase is not _Phase.OPEN, self._stopping or stopping
            if not again:
                self._phase = _Phase.DRAINING  # its allowance from here: a stop coming now does not hold it
            self._cond.notify_all()
        if again:
            return self._closed_again(timeout)
        if live and self._close_backlog_s > 0:
            with contextlib.suppress(TranscriberError):  # a worker that failed: said by the poll below
                self.wait_idle(self._close_backlog_s)
        with self._cond:
            self._end_feeding(live)
            skipped = self._phase is _Phase.ABANDONED
        if not live or (not skipped and not self._flush_given_up()):
            self._thread.join(timeout)
        return self.poll()

    def _end_feeding(self, live: bool) -> None:
        """No more audio (under ``_cond``): a live close drops what is still queued and cuts the piece
        being decoded (:attr:`_Phase.CUT`); one with no allowance for the flush, or finding as many
        flushes left as ``flushes_left`` allows, gives it up before the worker may begin it."""
        cut = live and (bool(self._items) or self._piece is not None)
        while live and self._items:
            old = self._items.popleft()
            self._backlog -= len(old.x)
            self._dropped += len(old.x)
            self._note_dropped(old)
        if live and (self._flush_allowance() <= 0 or self._flushes_left.full()):
            self._abandon()
        else:
            self._phase = _Phase.CUT if cut else _Phase.CLOSING
        self._cond.notify_all()

    def _closed_again(self, timeout: float | None) -> list[WordsEvent]:
        """A close after the first (a call's end that failed after it, then aborted): the worker is
        joined unless its flush was given up on."""
        with self._cond:
            abandoned = self._phase is _Phase.ABANDONED
        if not abandoned:
            self._thread.join(timeout)
        return self.poll()

    def _flush_allowance(self) -> float:
        """The seconds the last utterance's flush is waited for (under ``_cond``): the stop's once the
        daemon stops."""
        return self._stop_flush_s if self._stopping else self._close_flush_s

    def _flush_given_up(self) -> bool:
        """Wait for the worker's last flush for at most its allowance, counted from here (the stop's
        as soon as the daemon stops, also when the stop comes meanwhile: :meth:`give_way`); past it
        (True), its words are not taken, the utterance it held is :meth:`unflushed_span`, and the
        worker is left to end alone, counted in ``flushes_left`` until it does."""
        start = time.monotonic()
        with self._cond:
            while not self._finished and self._phase is not _Phase.TAKEN:
                left = start + self._flush_allowance() - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if self._finished or self._phase is _Phase.TAKEN:
                return False
            self._abandon()
            self._left = True
            self._flushes_left.add()
            self._idle()
        return True

    def _abandon(self) -> None:
        """The flush's words are not taken (under ``_cond``): the utterance the recognizer holds, to
        the end of the slice it is given (:meth:`_begin_slice`), is :meth:`unflushed_span`, and the rest
        of the piece being decoded, cut at the next slice, is among :meth:`dropped_spans` from here,
        however long the worker takes to get to its cut (a close that runs no flush does not wait)."""
        self._phase = _Phase.ABANDONED
        if self._utterance_from is not None and self._fed_to is not None:
            self._unflushed = (float(self._utterance_from), float(self._fed_to))
        if self._piece is not None:
            self._drop_rest(self._piece, max(self._piece.t0, self._fed_to or self._piece.t0))

    def give_way(self) -> None:
        """The daemon stops: until :meth:`close` gives the worker its allowance, it takes no more audio
        and waits at the next slice of the piece it is decoding, leaving the CPU to the stop's own work
        (on a core starved to 1 %, the recognizer still decoding took four fifths of the CPU the daemon
        got while it stopped: 0.13 of 0.16 s, 17 s). Its thread keeps its priority: under SCHED_IDLE,
        which a process without CAP_SYS_NICE cannot leave, the close's allowance on a machine busy
        with other programs would get next to no CPU, and the last words of every stop be lost.
        A stop during a call's end leaves that close the allowance it has begun to give for the
        queued audio, but its last flush the stop's (:data:`STOP_FLUSH_S`, counted from the flush's
        start): a flush running longer is given up at once, unless its result is being taken."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _giving_way(self) -> bool:
        """The worker holds (under ``_cond``): the daemon stops and no close has begun."""
        return self._stopping and self._phase is _Phase.OPEN

    def _idle(self) -> None:
        """The worker whose flush the close gave up on takes from here the CPU the rest of the process
        leaves (its thread under SCHED_IDLE, Linux; elsewhere nothing changes): it has no allowance left.
        Under ``_cond``, with the worker not finished: its thread still runs, so its id is its own (the
        system gives an ended thread's id to a later thread, of this process or another). A worker
        inside the recognizer's audio call goes idle as it leaves it (:meth:`_accept`)."""
        assert not self._finished
        if self._accepting:
            return  # it goes idle as it leaves the call, seeing _left
        tid = self._thread.native_id
        if tid is None or not hasattr(os, "sched_setscheduler"):
            return
        with contextlib.suppress(OSError):
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))

    def unflushed_span(self) -> tuple[float, float] | None:
        """The call-time span (start, end) of the last utterance whose flush a live close did not
        wait for (:data:`CLOSE_FLUSH_S`, :data:`STOP_FLUSH_S`): its words are not transcribed. None: none was left."""
        with self._cond:
            return self._unflushed

    def stats(self) -> TranscriberStats:
        with self._cond:
            return TranscriberStats(
                channel=self.channel,
                received_s=self._received / self.input_rate,
                fed_s=self._rec_samples / self.model_rate,
                skipped_s=self._skipped / self.model_rate,
                dropped_s=self._dropped / self.input_rate,
                backlog_s=self._backlog / self.input_rate,
                cpu_s=self._cpu,
                finals=self._finals,
                partials=self._partials,
                finished=self._finished,
                renewals=self._renewals,
                given_back=self._given_back,
            )

    def _raise_error(self) -> None:
        if self._error is not None:
            raise TranscriberError(f"transcriber {self.channel}: {self._error}") from self._error

    # ---- worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while (not self._items or self._giving_way()) and not self._phase.closed:
                        self._cond.wait()
                    if not self._items:
                        break
                    item = self._items.popleft()
                    self._backlog -= len(item.x)
                    self._piece = item
                    self._cond.notify_all()
                c0 = time.thread_time()
                try:
                    self._process(item)
                except _Cut as cut:
                    with self._cond:
                        self._drop_rest(item, cut.at)
                    self._seg_t0 = None  # the segment ends here (its resampler's tail is not fed)
                with self._cond:
                    self._cpu += time.thread_time() - c0
                    self._piece = None
                    self._cond.notify_all()
            c0 = time.thread_time()
            self._flush()
            self._add_cpu(time.thread_time() - c0)
        except BaseException as exc:  # noqa: BLE001 - reported through poll()
            with self._cond:
                self._error = exc
                self._cond.notify_all()
        finally:
            self._rec = None  # freed here, not in the thread that drops the transcriber: 7 s of a core starved to 1 %
            with self._cond:
                self._finished = True
                abandoned, left = self._phase is _Phase.ABANDONED, self._left
                self._cond.notify_all()
            if left:  # under SCHED_IDLE: the daemon gives the memory back (FlushesLeft.ended)
                self._flushes_left.done()
            elif abandoned:  # its close did not wait for it: nothing after it gives the memory back
                give_back_freed_memory()

    def _flush(self) -> None:
        """The segment's last samples and the recognizer's final result, unless the close gave up on
        it (:meth:`_flush_given_up`) before or while it ran: then its words are not taken."""
        with self._cond:
            if self._phase is _Phase.ABANDONED:
                return
        with contextlib.suppress(_Cut):  # cut at its next slice once abandoned
            self._end_segment()
        with self._cond:
            if self._phase is _Phase.ABANDONED:
                return
        raw = self._rec.FinalResult()
        with self._cond:
            if self._phase is _Phase.ABANDONED:
                return
            self._phase = _Phase.TAKEN
        self._result(raw, final=True)

    def _drop_rest(self, item: _Item, at: float) -> None:
        """The part of ``item`` from call time ``at`` on, not decoded: the close cut it (under ``_cond``;
        counted and among :meth:`dropped_spans`, once: by the close that gives up on the flush, or
        by the worker at its cut)."""
        if item.cut:
            return
        item.cut = True
        end = item.t0 + len(item.x) / self.input_rate
        rest = min(len(item.x), max(0, int(round((end - at) * self.input_rate))))
        if rest:
            self._dropped += rest
            self._note_dropped(_Item(end - rest / self.input_rate, item.x[len(item.x) - rest:], None))

    def _add_cpu(self, dt: float) -> None:
        with self._cond:
            self._cpu += dt

    def _process(self, item: _Item) -> None:
        tol = 1.5 / self.input_rate
        if self._seg_t0 is None or abs(item.t0 - self._seg_next_in) > tol:
            self._end_segment()
            self._start_segment(item.t0)
        self._store_mask(item.t0, item.speech)
        self._seg_next_in: float = item.t0 + len(item.x) / self.input_rate
        self._gate_and_feed(self._resampler.process(item.x[:, None])[:, 0], final=False)

    def _start_segment(self, t0: float) -> None:
        self._seg_t0 = t0
        self._seg_next_in = t0  # call time right after the last input sample of the segment
        self._resampler: Resampler = Resampler(self.input_rate, self.model_rate, 1)
        self._mask = np.zeros(0, dtype=bool)  # speech per frame of the segment, from _mask_base
        self._mask_base = 0
        self._mask_known = 0  # frames of the segment with a known mask value
        self._rem = np.zeros(0, dtype=np.float32)  # model-rate samples short of a whole frame
        self._frame_pos = 0  # segment frame index of _rem[0]
        self._stash = np.zeros(0, dtype=np.float32)  # trailing skipped audio, for pre-roll
        self._stash_frame = 0  # segment frame index of _stash[0]

    def _end_segment(self) -> None:
        if self._seg_t0 is None:
            return
        self._gate_and_feed(self._resampler.process(np.zeros((0, 1), np.float32), final=True)[:, 0], final=True)
        self._seg_t0 = None

    def _store_mask(self, t0: float, speech: np.ndarray | None) -> None:
        if speech is None or len(speech) == 0:
            if speech is None:
                self._last_speech = True  # no mask: treat as speech (feed everything)
            return
        assert self._seg_t0 is not None
        start = int(round((t0 - self._seg_t0) / FRAME_S))
        end = start + len(speech)
        need = end - self._mask_base
        if need > len(self._mask):
            self._mask = np.concatenate([self._mask, np.zeros(need - len(self._mask), dtype=bool)])
        lo = start - self._mask_base
        if lo < 0:
            speech, lo = speech[-lo:], 0
        self._mask[lo:lo + len(speech)] = speech
        self._mask_known = max(self._mask_known, end)
        self._last_speech = bool(speech[-1]) if len(speech) else self._last_speech

    def _frames_speech(self, f0: int, n: int) -> np.ndarray:
        """Speech flags of segment frames f0..f0+n; unknown frames take the last known value."""
        out = np.full(n, self._last_speech, dtype=bool)
        lo, hi = f0 - self._mask_base, min(f0 + n, self._mask_known) - self._mask_base
        if hi > lo:
            out[:hi - lo] = self._mask[lo:hi]
        # frames consumed: forget them
        drop = min(f0 + n, self._mask_known) - self._mask_base
        if drop > 0:
            self._mask = self._mask[drop:]
            self._mask_base += drop
        return out

    def _gate_and_feed(self, y: np.ndarray, *, final: bool) -> None:
        hop = self._hop
        audio = np.concatenate([self._rem, y]) if len(self._rem) else y
        n_frames = len(audio) // hop if not final else -(-len(audio) // hop)
        if n_frames == 0:
            self._rem = audio
            return
        f0 = self._frame_pos
        used = min(len(audio), n_frames * hop)
        self._rem = audio[used:]
        self._frame_pos = f0 + n_frames
        audio = audio[:used]
        if not self.gate:
            keep = np.ones(n_frames, dtype=bool)
            pre = np.zeros(0, dtype=np.float32)
        else:
            speech = self._frames_speech(f0, n_frames)
            keep, pre = self._decide(speech, audio, f0)
        if len(pre):
            self._feed_run(self._stash_frame_time(), pre)
        # runs of kept frames -> pieces of audio with their call start
        edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
        fed = 0
        for a, b in zip(edges[::2], edges[1::2]):
            run = audio[a * hop:b * hop]
            self._feed_run(self._frame_time(f0 + a), run)
            fed += len(run)
        self._skipped += len(audio) - fed - len(pre)  # pre-roll was counted when stashed
        self._update_stash(keep, audio, f0)

    def _decide(self, speech: np.ndarray, audio: np.ndarray, f0: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames to feed (hangover after speech, pre-roll before it) and stashed pre-roll audio."""
        n = len(speech)
        idx = np.arange(n)
        last = np.maximum.accumulate(np.where(speech, idx, -1 - self._since_speech))
        keep = (idx - last) <= self._hang_frames
        nxt = np.minimum.accumulate(np.where(speech, idx, n + self._pre_frames + 1)[::-1])[::-1]
        keep |= (nxt - idx) <= self._pre_frames
        self._since_speech = int(n - 1 - last[-1])
        pre = np.zeros(0, dtype=np.float32)
        if speech.any() and len(self._stash):
            s = int(np.argmax(speech))
            want = (self._pre_frames - s) * self._hop
            if want > 0 and self._stash_frame + len(self._stash) // self._hop == f0:
                pre = self._stash[-want:]
                self._pre_start = self._stash_frame + (len(self._stash) - len(pre)) // self._hop
        return keep, pre

    def _update_stash(self, keep: np.ndarray, audio: np.ndarray, f0: int) -> None:
        if not self.gate:
            return
        if keep[-1]:
            self._stash = np.zeros(0, dtype=np.float32)
            return
        kept = np.flatnonzero(keep)
        first_skip = int(kept[-1]) + 1 if len(kept) else 0
        tail = audio[first_skip * self._hop:]
        start = f0 + first_skip
        if first_skip == 0 and len(self._stash) and self._stash_frame + len(self._stash) // self._hop == f0:
            tail = np.concatenate([self._stash, tail])
            start = self._stash_frame
        limit = self._pre_frames * self._hop
        if len(tail) > limit:
            cut = (len(tail) - limit) // self._hop * self._hop
            tail, start = tail[cut:], start + cut // self._hop
        self._stash, self._stash_frame = tail, start

    def _stash_frame_time(self) -> float:
        return self._frame_time(self._pre_start)

    def _frame_time(self, frame: int) -> float:
        assert self._seg_t0 is not None
        return self._seg_t0 + frame * self._hop / self.model_rate

    def _feed_run(self, call_t: float, audio: np.ndarray) -> None:
        if len(audio) == 0:
            return
        if self._next_call is None or abs(call_t - self._next_call) > 0.5 / self.model_rate:
            self._map.add(self._rec_samples / self.model_rate, call_t)
        pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
        for i in range(0, len(pcm), self._slice):
            piece = pcm[i:i + self._slice]
            self._begin_slice(call_t + i / self.model_rate, call_t + (i + len(piece)) / self.model_rate)
            done = self._accept(piece)
            self._rec_samples += len(piece)
            self._next_call = call_t + (i + len(piece)) / self.model_rate
            if done:
                self._result(self._rec.Result(), final=True)
                self._since_partial = 0
                if self._renew_samples and self._rec_samples - self._rec_base >= self._renew_samples:
                    self._renew()  # at an utterance end
            else:
                self._since_partial += len(piece)
                if self._since_partial >= self._partial_every:
                    self._since_partial = 0
                    self._result(self._rec.PartialResult(), final=False)

    def _accept(self, piece: np.ndarray) -> bool:
        """The recognizer takes one slice, holding the recognizers' turn meanwhile (each draws its
        dither in turn: :class:`~.vosk_native.Dither`). A close that gives up on the flush meanwhile
        leaves the worker its priority until it is out (:meth:`_idle`): under SCHED_IDLE on a machine
        busy with other programs it would keep the turn, and the next call's recognizer waiting on it,
        for as long as the machine stays busy."""
        with self._cond:
            self._accepting = True
        try:
            return bool(self._rec.AcceptWaveform(piece.tobytes()))
        finally:
            with self._cond:
                self._accepting = False
                if self._left:  # the close gave up on it meanwhile (the next slice cuts it: once)
                    self._idle()

    def _begin_slice(self, at: float, end: float) -> None:
        """Before the slice from call time ``at`` to ``end`` (under ``_cond``): a worker giving way
        (:meth:`give_way`) waits here for its close's allowance; one whose close cut the piece ends it
        here (:class:`_Cut`); else the slice joins the utterance the recognizer holds, as one step,
        so that a close giving up on the flush (:meth:`_abandon`) finds the slice wholly in it or not."""
        with self._cond:
            while self._giving_way():
                self._cond.wait()
            if self._phase.cutting:
                raise _Cut(at)
            if self._utterance_from is None:
                self._utterance_from = at
            self._fed_to = end

    def _renew(self) -> None:
        """A new recognizer in place of the old one, which is freed first and its memory given back to
        the system before the new one is made: glibc kept it otherwise, and the new recognizer took
        only part of it again, so that a long call's low points rose about 2.5 MB a minute (the Korean
        model); trimmed, each renewal goes back to the model and the call's analysis."""
        old_base = self._rec_base
        self._rec = None  # the old recognizer's native state is freed here (its last reference)
        self._given_back += give_back_freed_memory()
        self._rec, self._rec_base = self._recognizer(), self._rec_samples
        self._renewals += 1
        log.debug("the %s's recognizer renewed at %.2f s into the call, after %.1f s of speech fed to the old one "
                  "(renewal %d)", self.channel, self._next_call or 0.0,
                  (self._rec_samples - old_base) / self.model_rate, self._renewals)

    def _result(self, raw: str, *, final: bool) -> None:
        data = json.loads(raw)
        base = self._rec_base / self.model_rate  # the recognizer's own times start at its first sample
        text_key, words_key = ("text", "result") if final else ("partial", "partial_result")
        words = tuple(
            Word(word=w["word"],
                 start=float(self._map.to_call(base + float(w["start"]))),
                 end=float(self._map.to_call(base + float(w["end"]), end=True)),
                 conf=float(w.get("conf", 1.0)))
            for w in data.get(words_key, ()) if not _NOISE_TOKEN.match(w.get("word", ""))
        )
        text = " ".join(w.word for w in words) if words or data.get(words_key) else \
            " ".join(t for t in str(data.get(text_key, "")).split() if not _NOISE_TOKEN.match(t))
        now = float(self._next_call) if self._next_call is not None else 0.0
        if final:
            self._map.forget_before(self._rec_samples / self.model_rate - 2.0)
            self._partial_text = ""
            self._finals += bool(text)
        elif not text or text == self._partial_text:
            return
        else:
            self._partial_text = text
            self._partials += 1
        self._take(WordsEvent(t=now, channel=self.channel, final=final, words=words, text=text) if text else None)

    def _take(self, event: WordsEvent | None) -> None:
        """``event`` (None: a final result with no words) taken unless the close gave up on the flush,
        and a final one's utterance ended, as one step under ``_cond``: a close giving up in between
        would read no utterance and take no words, said nowhere."""
        with self._cond:
            if event is None or event.final:
                self._utterance_from = None
            if event is not None and self._phase is not _Phase.ABANDONED:  # else said not transcribed
                self._events.append(event)
