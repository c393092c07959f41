"""Sources of call audio: timestamped chunks on one call clock.

A source has a sample ``rate`` (8 or 16 kHz, the analyzer's), its ``legs``
(``("caller",)`` or ``("caller", "agent")``) and yields :class:`Chunk`
objects whose ``samples`` have one column per leg. The file source here and
the live capture source of the daemon are interchangeable for the pipeline.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Protocol

import numpy as np

from .audio_files import AnalysisStream, AudioFileError, AudioInfo, probe, unread_channels
from .same_legs import LegsAlike


@dataclass(frozen=True)
class StreamsMark:
    """At ``t`` (the source clock), the streams playing into the caller's sink became ``ids``
    (None: no stream information now, ``why`` says why); see ``capture/streams.py``."""

    t: float
    ids: frozenset[int] | None
    why: str = ""
    elsewhere: frozenset[int] = frozenset()
    """The server's streams into other sinks at ``t`` (a call's stream moved away from the sink)."""
    paused: frozenset[int] = frozenset()
    """The sink's corked streams at ``t`` (paused by their application: none of them plays a call)."""


Unheard = tuple[tuple[int, int, int], ...]
"""Sample ranges of a block's legs filled with silence for audio that did not come, as
``(column, first, end)``, in order (:attr:`Chunk.unheard`)."""


@dataclass(frozen=True)
class Chunk:
    """``samples`` (n, len(legs)) float32 starting ``t0`` seconds into the call; ``marks``: what
    the capture learnt about the call's boundaries up to the chunk's end (a live source's
    :class:`StreamsMark` objects, in time order); ``unheard``: the samples of a leg that the
    capture filled with silence because no audio of that leg came for them (its source lost,
    missing or reopening, or its audio lost on the way; a call of two files, the leg whose file
    ended first), as ``(column, first, end)`` sample ranges of ``samples``, in order (a recording
    of both legs has none)."""

    t0: float
    samples: np.ndarray
    marks: tuple[StreamsMark, ...] = ()
    unheard: Unheard = ()

    def first_heard(self) -> dict[int, int]:
        """The first sample heard (in no ``unheard`` range) of each column that has one, by column."""
        start = [0] * self.samples.shape[1]
        for column, first, end in self.unheard:  # in order: a range from the column's first unheard sample on
            if first <= start[column]:
                start[column] = max(start[column], end)
        return {i: n for i, n in enumerate(start) if n < len(self.samples)}

    def unheard_from(self, column: int, first: int) -> "Chunk":
        """The chunk with ``column`` not heard from sample ``first`` to its end (:meth:`unheard_between`):
        the caller's leg of a call on hold (``call-monitor call hold``)."""
        return self.unheard_between(column, first, len(self.samples))

    def unheard_between(self, column: int, first: int, end: int) -> "Chunk":
        """The chunk with ``column`` not heard from sample ``first`` to ``end`` (clipped to the chunk), as
        well as what ``unheard`` says (a range it meets joined to it), its samples there silence as the
        capture fills a leg it got no audio of: the caller's leg of a call on hold (``call-monitor call
        hold``, ``replay --hold``)."""
        n = len(self.samples)
        first, end = min(max(0, first), n), min(max(0, end), n)
        if first >= end:
            return self
        met = [(a, b) for c, a, b in self.unheard if c == column and a <= end and b >= first]
        kept = [(c, a, b) for c, a, b in self.unheard if c != column or a > end or b < first]
        samples = self.samples.copy()
        samples[first:end, column] = 0.0
        joined = (column, min([first] + [a for a, _ in met]), max([end] + [b for _, b in met]))
        unheard = tuple(sorted(kept + [joined], key=lambda r: (r[1], r[0])))
        return replace(self, samples=samples, unheard=unheard)


@dataclass(frozen=True)
class RecordingFlaws:
    """What a recording turned out to hold once read to its end (where it broke off, its samples),
    and what its analysis heard of its legs (the wrong way round, too quiet), kept with its stored
    call so that the call's report says it as a report of the recording does."""

    truncated_at_s: float | None = None
    """Its audio broke off before the length its header promises (cut short, or damaged): the
    seconds it held up to there; None for a whole recording."""
    problems: str = ""
    """What was wrong with its samples or its header (clipping, a cut voice band, a miscounted data
    chunk: :meth:`FileSource.problems`), one phrase; empty for none."""
    legs_swapped: str = ""
    """Its speech read as the caller's on the agent's leg: why, and how the command that read it
    takes the legs the other way round (its channel options, a batch's manifest row:
    :meth:`~monitor.pipeline.CallPipeline.swapped_hint`; a live call's: its sources and the options
    that turn them, :meth:`~monitor.pipeline.CallPipeline.swapped_sources`), one phrase; empty when
    it did not."""
    quiet_legs: tuple[str, ...] = ()
    """Each leg too quiet to measure, as said of it (:func:`~monitor.analysis.leg_tally.quiet_phrase`)."""
    legs_same: str = ""
    """Its two legs carried the same audio (a dual-mono recording: :mod:`~monitor.capture.same_legs`):
    why, and how the command that read it scores it as mono (:func:`~monitor.pipeline.same_hint`),
    one phrase; empty when they did not."""

    @property
    def phrases(self) -> tuple[str, ...]:
        """What is said of the recording besides where it broke off, one phrase each, in this order:
        what was wrong with its samples, its two legs the same audio, its legs the wrong way round,
        each leg too quiet to measure (a report's notes, and each a warning line: :meth:`lines`)."""
        return tuple(said for said in (self.problems, self.legs_same, self.legs_swapped, *self.quiet_legs) if said)

    def lines(self, name: str) -> list[str]:
        """The warning lines of its :attr:`phrases`, each naming the recording ``name``: replay,
        batch and every report of its call say them so."""
        return [f"{name}: {said}" for said in self.phrases]


class Source(Protocol):
    """Where a call's audio comes from: ``rate`` Hz (the analyzer's), its ``legs`` ("caller"
    first), and :meth:`chunks` until the audio ends or :meth:`stop` is called."""

    rate: int
    legs: tuple[str, ...]

    def chunks(self) -> Iterator[Chunk]:
        """Chunks in call order, ``samples`` shape (n, len(legs))."""
        ...

    def stop(self) -> None:
        """End :meth:`chunks` early (from another thread or a signal handler)."""
        ...


def replay_block_s(*, realtime: bool, transcribe: bool) -> float:
    """Seconds of audio per chunk when a recorded call is replayed.

    Paced in real time: live-sized blocks (0.5 s). With transcription: 2 s, since the
    recognizer is kept in step block by block and the word cues see the words it has
    finished by the end of each block. Acoustic-only: 10 s; its frames and cues do not
    depend on the block length, and larger blocks pay the analyzer's fixed cost per
    batch (the left context of its noise floor and levels) less often.
    """
    if realtime:
        return 0.5
    return 2.0 if transcribe else 10.0


CHOOSE_LEGS = "--caller-channel N and --agent-channel N choose others"
"""How a command that reads a recording's legs is told other channels (its options)."""


def leg_channels(n_channels: int, caller_channel: int = 1, agent_channel: int | None = 0) -> dict[str, int]:
    """Which channel of a recording with ``n_channels`` each leg is read from: a mono file is the
    caller alone (channel 0), a stereo file's legs are the asked channels (the agent's if any)."""
    if n_channels == 1:
        return {"caller": 0}
    return {"caller": caller_channel, **({"agent": agent_channel} if agent_channel is not None else {})}


def mono_legs_asked(n_channels: int, caller_channel: int = 1, agent_channel: int | None = 0) -> str | None:
    """For a mono recording asked for legs it does not have: one phrase for a warning line naming
    the file (it is read as the caller alone all the same, :func:`leg_channels`). None for a
    recording of more channels, and for the legs a mono one may be asked without a word: the
    defaults (caller 1, agent 0), its own (caller 0, no agent), and any mix of the two."""
    if n_channels != 1:
        return None
    asked = ([f"channel {caller_channel} asked for the caller"] if caller_channel not in (0, 1) else []) \
        + ([f"channel {agent_channel} asked for the agent"] if agent_channel not in (None, 0) else [])
    if not asked:
        return None
    return f"has 1 channel(s), {' and '.join(asked)}: a mono recording is the caller alone, read from its one channel"


class Recording(Source, Protocol):
    """A recorded call as a source: a :class:`FileSource`, or the two files of a call whose legs are
    recorded apart (:class:`~monitor.capture.leg_files.LegFilesSource`). ``path``: the recording (the
    caller's file); ``channels``: the channel each leg is read from; ``info``: its header;
    ``legs_not_there``: the phrase of a warning naming it before it is read (legs asked that it does not
    have, two files' lengths far apart), else None. Its :meth:`flaws` and :meth:`same_legs` are known
    once its chunks have ended."""

    path: str
    channels: dict[str, int]
    info: AudioInfo
    legs_not_there: str | None

    @property
    def truncated(self) -> bool: ...

    @property
    def duration_s(self) -> float: ...

    def unread_channels(self, choose: str = ...) -> str | None: ...

    def problems(self) -> str | None: ...

    def same_legs(self) -> str | None: ...

    def flaws(self) -> RecordingFlaws: ...

    def leg_places(self) -> tuple[str, str]:
        """Where its caller's and its agent's legs are read from, as its warnings name them."""
        ...


class FileSource(Source):
    """A recorded call. Mono: the caller only. Stereo: caller and agent channels
    (default right = caller, left = agent, the usual call-recording layout).

    ``realtime`` paces the chunks like live audio; otherwise it runs as fast
    as the consumer takes them.
    """

    def __init__(self, path: str | os.PathLike, *, caller_channel: int = 1, agent_channel: int | None = 0,
                 realtime: bool = False, block_s: float = 0.5) -> None:
        self.path = os.fspath(path)
        info = probe(self.path)
        if info.channels > 1 and agent_channel is not None and agent_channel == caller_channel:
            raise AudioFileError(self.path, f"caller and agent both on channel {caller_channel}")
        self.channels = leg_channels(info.channels, caller_channel, agent_channel)
        """The recording's channel of each leg (what a stored call keeps, for its report)."""
        self.legs_not_there = mono_legs_asked(info.channels, caller_channel, agent_channel)
        """A mono recording asked for legs it does not have: the phrase of the warning naming it, else None."""
        self.legs = tuple(self.channels)
        self._stream = AnalysisStream(self.path, list(self.channels.values()), block_s=block_s, info=info)
        self.rate = self._stream.rate
        self.info = info
        self.realtime = realtime
        self._stopped = False
        self._alike = LegsAlike(self.rate)

    @property
    def truncated(self) -> bool:
        return self._stream.truncated

    @property
    def duration_s(self) -> float:
        return self._stream.duration_s

    def stop(self) -> None:
        self._stopped = True

    def unread_channels(self, choose: str = CHOOSE_LEGS) -> str | None:
        """For a recording of more than two channels: one phrase naming its channel count, the
        channels its legs are read from and ``choose`` (how to pick others); None otherwise."""
        return unread_channels(self.info.channels, self.channels, choose)

    def problems(self) -> str | None:
        """After the chunks: what was wrong with the samples or the header (one phrase), or None."""
        return self._stream.problems()

    def same_legs(self) -> str | None:
        """After the chunks: why its two legs read as the same audio (a dual-mono recording,
        :meth:`~monitor.capture.same_legs.LegsAlike.same`), in words; None when they do not, or it
        has one leg."""
        return self._alike.same()

    def flaws(self) -> RecordingFlaws:
        """After the chunks: whether the recording broke off, and where, and what was wrong with it."""
        return RecordingFlaws(self.duration_s if self.truncated else None, self.problems() or "")

    def leg_places(self) -> tuple[str, str]:
        """The channels its caller's and its agent's legs are read from ("channel 1", "channel 0";
        no agent's leg: "none")."""
        return f"channel {self.channels['caller']}", f"channel {self.channels.get('agent', 'none')}"

    def chunks(self) -> Iterator[Chunk]:
        blocks = ((block, ()) for block in self._stream)
        return paced_chunks(blocks, self.rate, self.realtime, self._alike, lambda: self._stopped)


def paced_chunks(blocks: Iterator[tuple[np.ndarray, Unheard]], rate: int, realtime: bool, alike: LegsAlike,
                 stopped: Callable[[], bool]) -> Iterator[Chunk]:
    """A recording's ``blocks`` (n, legs) at ``rate`` Hz, each with the sample ranges a leg's audio
    did not fill (:attr:`Chunk.unheard`), as chunks on the call clock, each counted in ``alike``;
    ended early once ``stopped()``. With ``realtime``, paced as live audio: a chunk is handed over
    once the call clock reaches its end, as a live capture hands over a block once it is recorded
    (so the last one, and the call's end after it, come no sooner than the recording's length)."""
    start = time.monotonic()
    n = 0
    for block, unheard in blocks:
        if stopped():
            return
        if realtime:
            wait_until(start + (n + len(block)) / rate)
        alike.add(block)
        yield Chunk(n / rate, block, unheard=unheard)
        n += len(block)


def wait_until(moment: float) -> None:
    """Sleep until the monotonic clock reaches ``moment`` (at once if it has)."""
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def open_problem(path: str | os.PathLike, caller_channel: int = 1, agent_channel: int | None = 0) -> str | None:
    """Why :class:`FileSource` cannot open ``path`` with these legs at all (missing, empty, a
    folder or a named pipe, not readable, not audio, a damaged header, without the channel asked),
    in one line naming the file; None when it can. Read from the header, as a source opens it."""
    try:
        FileSource(path, caller_channel=caller_channel, agent_channel=agent_channel)
    except AudioFileError as err:
        return str(err)
    return None
