"""Wiring of one call: chunks in, events out.

source chunks -> StreamingAnalyzer per leg -> CueTracker -> BaselineBuilder
-> AlertEngine -> events. Alerts are committed to the store before they are
returned, so no sink ever sees an alert that is not stored. Replay and the
live daemon both drive :class:`CallPipeline` with :class:`~monitor.capture.sources.Chunk`.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import shlex
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar, cast

import numpy as np

from .analysis.analyzer import EMIT_GRID, VOICE_ONLY, StreamingAnalyzer
from .analysis.baseline import BaselineBuilder
from .analysis.cue_windows import UNHEARD_JOIN_S, CueTracker
from .analysis.frame_features import HOP_S, Frames
from .analysis.hop_series import CallSeries, HopSeries
from .analysis.leg_tally import RAISE_RECORDING, quiet_phrase, raise_live, same_message, swapped_legs, swapped_message, too_quiet
from .config import Config, StorageConfig
from .cue_registry import shown_min_speech_s
from .files import recording_fingerprint
from .events import (AGENT_RECORDING, ON_HOLD, AlertClearedEvent, AlertEvent, CallSummaryEvent, CuesEvent, Event,
                     StatusEvent, WordsEvent, joined_spans, no_input_key)
from .transcription.phrases import PhraseMatcher, PhraseSpotter
from .transcription.recognizer import Transcriber, TranscriberError
from .alerts.rules import AlertEngine
from .capture.holds import held, within
from .capture.sources import Chunk, RecordingFlaws
from .delivery.store import Store, words_kept
from .delivery.store_errors import StoreError
from .delivery.store_guard import StoreGuard
from .delivery.store_rows import LIVE_SOURCE
from .stops import signal_name

if TYPE_CHECKING:
    from .capture.sources import Recording

log = logging.getLogger(__name__)

RECOGNIZER_FAILURE = "recognizer_failure"
"""The log record attribute that marks the warning of a leg's failed recognizer (a batch worker
leaves the saying to its client, which names the call's row)."""

QUIET_AFTER_S = 60.0
"""Call time after which a leg whose speech has all lain near the speech floor is said to be too
quiet (:meth:`CallPipeline.quiet_legs`), and a live call's legs that read the wrong way round are
said to (:meth:`CallPipeline.swapped_sources`); a shorter call is judged at its end."""

Sink = Callable[[Event], None]
T = TypeVar("T")

LegsTurn = Callable[[int, int], str]
"""How a command is told to read a recording's caller's leg from the first channel given and its
agent's from the second (-1: none): the legs the other way round, given the channels its agent's and
caller's legs were read from (:meth:`CallPipeline.swapped_hint`); the caller's leg alone, given -1
and the caller's channel (:func:`same_hint`)."""


def replay_turn(caller: int, agent: int) -> str:
    """:data:`LegsTurn` in replay's options: the caller's leg from ``agent``, the agent's from ``caller``."""
    return f"replay it with --caller-channel {agent} --agent-channel {caller}"


def replay_turn_of(path: str, agent_file: str | None) -> LegsTurn:
    """:data:`LegsTurn` in replay's options for the recording ``path``: its channel options
    (:func:`replay_turn`), or of a call of two files (``agent_file`` the agent's) the files given the
    other way round, or the caller's alone."""
    if agent_file is None:
        return replay_turn
    return lambda caller, agent: (f"replay {path} alone" if caller < 0
                                  else f"replay it with {agent_file} as FILE and --agent {path}")


def same_hint(src: Recording, turn: LegsTurn = replay_turn) -> str:
    """What to do when the recording ``src`` (read to its end) holds the same audio on its two legs
    (:meth:`~monitor.capture.sources.FileSource.same_legs`): score it as mono, the caller's leg
    alone from the channel it was read from, told as ``turn`` tells the command's options (the
    caller's leg from that channel, the agent's from channel -1: none); empty when it does not."""
    why = src.same_legs()
    if why is None or "agent" not in src.channels:
        return ""
    return same_message(why, *src.leg_places(), turn(-1, src.channels["caller"]))


class CallPipeline:
    """One call's analysis state. Feed chunks with :meth:`process`, end with :meth:`finish`."""

    _end: tuple[float, dict[str, Any], float | None] | None = None
    """The call's end as :meth:`finish` made it (duration, stored summary, end time), once made."""
    _end_given = False
    """... and given to the store (which may hold it while the database fails): not given twice."""
    _summary_of: tuple[str | None, Mapping[str, Any]] | None = None
    """What :meth:`finish` made the call's summary of (its ``ended_by`` and notes), once made: the
    stored summary of :attr:`_end`, made again alike where it is needed (no event is kept)."""

    def __init__(self, cfg: Config, rate: int, legs: tuple[str, ...], *, store: Store | StoreGuard | None = None,
                 source: str = "", started_at: float | None = None, keep_series: bool = False,
                 transcribers: dict[str, Transcriber] | None = None, phrase_matcher: PhraseMatcher | None = None,
                 words_in_step: bool = False, channels: Mapping[str, int] | None = None, agent: str | None = None,
                 sources: Mapping[str, str] | None = None, words_may_join: bool = False,
                 agent_file: str | None = None, named: str | None = None) -> None:
        """``named``: the recording as its lines name it (a replayed file as typed; default:
        ``source``, which the call keeps, by its absolute path for a replayed file). ``agent_file``: the agent's leg's own recording, of a call of two files (``source`` the
        caller's), kept by its absolute path with the stored summary (:data:`~monitor.events.AGENT_RECORDING`); ``channels``: the recording's channel of each leg (a file source's ``channels``), kept
        with the stored call so that its report reads the legs from the right channels; ``agent``:
        a live call's agent, kept with it so that its report names them; ``sources``: a live call's
        SOURCE of each leg (as ``--caller`` and ``--agent`` gave them), named when its legs read
        the wrong way round (:meth:`swapped_sources`); ``words_may_join``: a live call begun while
        the daemon's speech model still loads, whose recognizers may join it under way
        (:meth:`join_words`); ``keep_series``: keep its :attr:`series` even when not written here."""
        self.cfg = cfg
        self.rate = rate
        self.legs = legs
        self.store = StoreGuard(store) if isinstance(store, Store) else store
        self.source = source
        self.named = source if named is None else named
        """The call's recording as the lines the call says name it (:class:`StatusEvent`, logs)."""
        self.started_at = started_at
        """When the call started (unix seconds), as the store keeps it; None: when the store began it."""
        self.agent_file = None if agent_file is None else os.path.abspath(agent_file)
        self.sources = dict(sources or {})
        self.cues = CueTracker(cfg.analysis, legs)
        self._keep_recognizers(transcribers, words_may_join)
        self._begin_analysis(cfg, rate, legs)
        self._begin_word_feed(phrase_matcher, words_in_step)
        self._start_stored_call(source, started_at, channels, agent, keep_series)
        self._begin_outcome()

    def _keep_recognizers(self, transcribers: dict[str, Transcriber] | None, words_may_join: bool) -> None:
        """The legs' recognizers (none: the call is not transcribed, unless they join it under way:
        ``words_may_join``) and the failures of those that stopped."""
        self.transcribers = transcribers or {}
        self._drops_said: dict[str, WordsDropped] = {}  # what was said of each recognizer's audio dropped
        self.transcribed = bool(self.transcribers)  # transcription was on (the summary says so)
        self.words_from_s: float | None = None
        """Call time the words began at, for recognizers that joined the call under way
        (:meth:`join_words`); None for a call transcribed from its start, or not at all."""
        self._words_may_join = words_may_join
        self.recognizer_errors: list[str] = []  # a leg's recognizer that failed: the call went on without it

    def _begin_analysis(self, cfg: Config, rate: int, legs: tuple[str, ...]) -> None:
        """The analyzer of each leg (:meth:`_emit_grid`), the speech floor of the caller's, the caller's
        baseline and the alert engine."""
        # the cues read only the other legs' speech mask: their analyzers skip the cepstrum and nuclei
        self.analyzers = {leg: StreamingAnalyzer(rate, None if leg == self.cues.channel else VOICE_ONLY,
                                                 self._emit_grid(leg))
                          for leg in legs}
        self._speech_floor_db = self.analyzers[self.cues.channel].cfg.vad.absolute_min_db  # never speech below
        self.baseline = BaselineBuilder(cfg.analysis)
        self.engine = AlertEngine(cfg)

    def _begin_word_feed(self, phrase_matcher: PhraseMatcher | None, words_in_step: bool) -> None:
        """What feeds the recognizers and reads their words: the phrase spotter (None without a matcher),
        the audio waiting for its voice activity and the samples fed before it."""
        self.words_in_step = words_in_step
        self.spotter = PhraseSpotter(phrase_matcher) if phrase_matcher is not None else None
        # audio waiting for its voice-activity frames before it goes to the recognizer (that a
        # recognizer joining the call would be fed first), and the samples before it
        waiting = self.legs if self._words_may_join else self.transcribers
        self._pending = {leg: np.zeros(0, np.float32) for leg in waiting}
        self._fed = {leg: 0 for leg in self._pending}
        self._hop = self.rate // 100

    def _start_stored_call(self, source: str, started_at: float | None, channels: Mapping[str, int] | None,
                           agent: str | None, keep_series: bool) -> None:
        """The call begun in the store (its token; None without a store), with a replayed recording's
        absolute path and fingerprint, and the :attr:`series` its report will read (kept for a stored
        replayed recording, or when ``keep_series``)."""
        # a recording is stored by its absolute path, so that a report of the call finds its audio
        # from any working folder (the summary keeps ``source`` as given, which replay makes absolute;
        # the lines the call says name it as :attr:`named`)
        replayed = bool(source) and os.path.isfile(source)
        stored = os.path.abspath(source) if replayed else source
        # what the recording is (a sampled hash, 8 MiB read at most), so that its report knows it from
        # another recording put at the same path later
        self._fingerprint = recording_fingerprint(source, self.agent_file) if replayed and self.store is not None else None
        self._call_token = (self.store.start_call(stored, started_at, channels, agent, self.agent_file)
                            if self.store is not None else None)
        self.series = (HopSeries(self.rate, self.legs, channels)
                       if keep_series or (self.store is not None and replayed) else None)

    def _begin_outcome(self) -> None:
        """What the call comes to: its alerts, duration, last cues, what was said of its legs and its
        recording's flaws."""
        self.alerts: list[AlertEvent] = []
        self.duration_s = 0.0
        self._baseline_stored = False
        self.last_cues: CuesEvent | None = None
        self._said_quiet: dict[str, str] = {}  # the legs said to be too quiet (once a call), and what was said
        self._said_swapped = ""  # what was said of a live call's legs read the wrong way round (once a call)
        self._heard_from: dict[str, float] = {}  # the call time each leg was first heard in this call
        self.flaws = RecordingFlaws()
        """A replayed recording's flaws, once it has been read to its end (:func:`recording_chunks`);
        what was said of the call's legs joins them when it is stored (:meth:`_flaws_said`)."""

    def _emit_grid(self, leg: str) -> int:
        """Frames per analyzer batch for ``leg``: a leg whose frames serve only the cue windows
        emits once per cue hop (10 ms frames), and its cue reports come out at the same moments as
        with smaller batches (a hop's frames are due when their right context arrives either way),
        for about a third less of the analyzer's time in 20 ms blocks; a leg with a recognizer
        keeps the 0.5 s grid, so that its audio reaches the recognizer no later than that (and so
        does a leg whose recognizer may join the call: ``words_may_join``)."""
        frames = self.cfg.analysis.hop_s / HOP_S
        if leg in self.transcribers or self._words_may_join or abs(frames - round(frames)) > 1e-6:
            return EMIT_GRID  # a hop that is no whole number of frames ends off any grid
        return max(1, round(frames))

    @property
    def call_token(self) -> int | None:
        """The call's id in its store: the database id, or a store guard's stand-in for it while
        the guard holds the call back (None without a store)."""
        return self._call_token

    @property
    def _token(self) -> int:
        """:attr:`call_token` where there is a store: it is set with the store (read only with one)."""
        return cast(int, self._call_token)

    @property
    def call_id(self) -> int | None:
        """The call's database id (None without a store, or while its row could not be written)."""
        return self.store.real_id(self._call_token) if self.store is not None else None

    # -- feeding -------------------------------------------------------------
    def process(self, chunk: Chunk) -> list[Event]:
        """Analyse one chunk; return the events it completes (alerts already stored)."""
        self.duration_s = max(self.duration_s, chunk.t0 + len(chunk.samples) / self.rate)
        for column, first in chunk.first_heard().items():
            self._heard_from.setdefault(self.legs[column], chunk.t0 + first / self.rate)
        for column, first, end in chunk.unheard:  # before its frames: the cue windows leave it out
            leg, t0 = self.legs[column], chunk.t0 + first / self.rate
            # the agent's once heard in the call, wherever the chunks begin (a leg missing from the start is none)
            if leg == self.cues.channel or self._heard_from.get(leg, math.inf) < t0:
                self.cues.add_unheard(t0, chunk.t0 + end / self.rate, leg)
        if self.series is not None:
            self.series.chunk(chunk.samples)
        for i, leg in enumerate(self.legs):
            x = chunk.samples[:, i]
            # the leg's level trackers hold through what it did not hear
            frames = self.analyzers[leg].feed(x, [(first, end) for column, first, end in chunk.unheard if column == i])
            self._add_frames(leg, frames)
            if leg in self._pending:
                self._transcribe(leg, x, frames.speech)
        if self.words_in_step:  # replay: let the recognizer catch up so word cues see its words
            for leg, tr in list(self.transcribers.items()):
                self._recognizer(leg, tr.wait_idle, True)
        words = self._words() + self._words_dropped()
        events = self._of_call(words + self._judge(self.cues.due()))
        if self.store is not None:
            self.store.commit_due()
        return events

    def _transcribe(self, leg: str, x: np.ndarray, speech: np.ndarray, final: bool = False) -> None:
        """Feed the recognizer the audio whose voice activity is known (gating skips long silences);
        without a recognizer yet (``words_may_join``), keep only the audio whose voice activity is not."""
        pending = np.concatenate([self._pending[leg], x]) if len(x) else self._pending[leg]
        n = len(pending) if final else min(len(pending), len(speech) * self._hop)
        self._pending[leg] = pending[n:]
        if n > 0:
            t0, self._fed[leg] = self._fed[leg] / self.rate, self._fed[leg] + n
            mask = speech if len(speech) else None
            if leg in self.transcribers:
                self._recognizer(leg, lambda: self.transcribers[leg].feed(t0, pending[:n], mask), None)

    def join_words(self, transcribers: dict[str, Transcriber], phrase_matcher: PhraseMatcher | None = None,
                   words_in_step: bool = False) -> None:
        """Recognizers joining the call under way (the live daemon's speech model ready mid-call;
        the keyword arguments :meth:`~monitor.transcription.setup.TranscriptionSetup.for_call`
        gives, for a call begun with ``words_may_join``): each is fed its leg's audio from the
        first sample whose voice activity was not known yet when it joined (a second or so before),
        so the words begin there, at :attr:`words_from_s`; the caller's words before it are not
        transcribed, the word cues of a window that begins before it are unknown (not a caller who
        said no words), and the stored call keeps where the words began (:data:`WORDS_FROM`)."""
        self._pending = {leg: self._pending[leg] for leg in transcribers}
        self._fed = {leg: self._fed[leg] for leg in transcribers}
        self.transcribers = dict(transcribers)
        self.spotter = PhraseSpotter(phrase_matcher) if phrase_matcher is not None else None
        self.words_in_step = words_in_step
        self.transcribed = True
        self.words_from_s = round(self._fed[self.cues.channel] / self.rate, 3)
        self.cues.words_from(self.words_from_s)

    def finish(self, ended_by: str | None = None, *, stopped: bool = False,
               ended_at: float | None = None, on_hold: Sequence[tuple[float, float]] = ()) -> list[Event]:
        """End of the call: flush analyzers and transcribers, close alerts, summarise (with what
        ended a live call, ``ended_by``). ``stopped``: the monitoring stopped before the call ended
        (the live daemon's stop): the stored summary says ``"aborted": true``, as a replay's stopped
        call's does, so that the call's report says it is judged only up to there. The spans of the
        call's time its caller's leg was not heard (:attr:`unheard`) are kept with the stored summary
        (``caller_no_input``, and their seconds, ``caller_no_input_s``), and so are its agent's
        (:attr:`agent_unheard`: ``agent_no_input``, ``agent_no_input_s``) and a replayed
        recording's fingerprint (:data:`RECORDING_FINGERPRINT`; so too when the call is aborted) and
        its :attr:`flaws`.
        ``ended_at``: the wall-clock time the call ended (the live daemon's, on the clock its start
        was given by); now when None. ``on_hold``: the spans of the call's time its caller was on hold
        (a live call's ``call hold``), kept as :data:`~monitor.events.ON_HOLD`."""
        for leg in self.legs:
            frames = self.analyzers[leg].flush()
            self._add_frames(leg, frames)
            if leg in self._pending:
                self._transcribe(leg, np.zeros(0, np.float32), frames.speech, final=True)
        events = self._judge(self.cues.due(final=True))
        events += self.quiet_legs(self.duration_s) + self.swapped_sources(self.duration_s)
        self.flaws = self._flaws_said()
        events += self._words(final=True, stopped=stopped)
        events += self._words_dropped(final=True)
        events += self._words_unflushed()
        t_end = round(self.duration_s, 3)
        events += self._route(self.engine.close(t_end))
        self._summary_of = (ended_by, stored_notes(stopped, self.unheard, self._fingerprint, self.flaws,
                                                   self.words_from_s, self.agent_file, self._words_lost(),
                                                   self.agent_unheard, on_hold))
        summary = self.summary(*self._summary_of)
        self._end = (self.duration_s, summary.to_dict(), ended_at)
        if self.store is not None:
            self.store.end_call(self._token, *self._end)
            self._end_given = True
            self.store.flush()
            if not stopped and not self.source.startswith(LIVE_SOURCE):  # the daemon writes a live call's
                self.write_series(self.cfg)
        return self._of_call(events + [summary])

    def _add_frames(self, leg: str, frames: Frames) -> None:
        """``leg``'s next frames to the cue windows (and the call's :attr:`series`)."""
        self.cues.add(leg, frames)
        if self.series is not None:
            self.series.frames(leg, frames)

    def series_to_write(self) -> tuple[str, int, CallSeries] | None:
        """The ended call's database, id and :attr:`series` as its file keeps them; None when it has
        none to write (no series kept, frames not as the analyzer makes them, or the call without its id)."""
        if self.series is None or not self.series.regular or self.store is None or self.call_id is None:
            return None
        return str(self.store.path), self.call_id, self.series.series(self.duration_s)

    def write_series(self, cfg: Config) -> str | None:
        """Write the ended call's :attr:`series` to its call folder in ``cfg``
        (:func:`~monitor.delivery.call_files.write_call_series`), where its report finds them beside
        its audio; the path, or None (nothing to write: :meth:`series_to_write`, or not written)."""
        kept = self.series_to_write()
        if kept is None:
            return None
        from .delivery.call_files import write_call_series
        path = write_call_series(cfg, *kept, live=self.source.startswith(LIVE_SOURCE))
        if path is not None:
            self._note_call_folder(os.path.dirname(path))
        return path

    def _note_call_folder(self, folder: str) -> None:
        """Keep in the database the folder the call's series went to, where a purge of the call finds
        it whatever configuration it runs with (:meth:`~monitor.delivery.store.Store.note_call_folder`)."""
        if self.store is None:  # (a series is kept only with a store)
            return
        try:
            self.store.note_call_folder(folder)
        except StoreError as err:
            log.warning("%s not kept as a folder of call files (%s): a purge with another daemon.audio_dir "
                        "leaves call %s's series there", folder, err, self.call_id)

    def _flaws_said(self) -> RecordingFlaws:
        """The call's :attr:`flaws` with what was said of its legs so far: each leg too quiet to
        measure (:meth:`quiet_legs`) and a live call's legs read the wrong way round
        (:meth:`swapped_sources`; a recording's are its flaws already), as its stored summary keeps
        them, so that its report says them as they were said."""
        return replace(self.flaws, quiet_legs=tuple(self._said_quiet.values()),
                       legs_swapped=self.flaws.legs_swapped or self._said_swapped)

    @property
    def unheard(self) -> tuple[tuple[float, float], ...]:
        """The spans of the call's time (seconds into it, merged, in order) its caller's leg was not
        heard: the capture filled them with silence, no audio of the caller having come (the source
        lost, missing or reopening, or audio lost on the way: :attr:`Chunk.unheard`). They are call
        time (``duration_s`` holds them) but none of the caller's turn time: the cue windows leave
        them out of the pauses and the latencies (:mod:`~monitor.analysis.cue_windows`)."""
        return self.cues.unheard

    @property
    def agent_unheard(self) -> tuple[tuple[float, float], ...]:
        """The spans of the call's time (as :attr:`unheard`) its agent's leg was not heard after its
        audio first came in the call (a headset unplugged mid-call, a leg's file that ended first):
        the agent may have spoken in them, so the caller's silences there are no pauses and their
        answers no latency; () for a call without that leg, or one it was never heard in."""
        return self.cues.unheard_of(self.cues.other) if self.cues.other is not None else ()

    @property
    def unheard_since(self) -> float | None:
        """When the caller's leg stopped being heard, while it is still not heard at the end of the
        audio fed; None while it is."""
        spans = self.cues.unheard
        return spans[-1][0] if spans and spans[-1][1] >= self.duration_s - UNHEARD_JOIN_S else None

    # -- internals -----------------------------------------------------------
    def _heard_in_hop(self, t: float) -> bool:
        """Whether any of the hop ending at call time ``t`` was heard of the caller's leg: a hop
        wholly inside its time not heard (:attr:`unheard`) brings the rules nothing new, so that
        none raises, clears or counts persistence on the cues of the caller heard before it."""
        start = t - self.cfg.analysis.hop_s
        return not any(a <= start + 1e-6 and b >= t - 1e-6 for a, b in self.cues.unheard)

    def _judge(self, cue_events: Iterable[CuesEvent]) -> list[Event]:
        out: list[Event] = []
        for cues in cue_events:
            baseline = self.baseline.add(cues)
            if baseline is not None and not self._baseline_stored and self.store is not None:
                self.store.set_baseline(self._token, baseline.to_dict())
                self._baseline_stored = True
            cues = replace(cues, baseline_ready=baseline is not None, call_id=self.call_id)  # as :meth:`_of_call`
            self.last_cues = cues  # the status's, which names the call as the line does
            if self.store is not None:
                self.store.add_cues(self._token, cues)
            out.append(cues)
            if self._heard_in_hop(cues.t):  # nothing of the caller heard: no time judged, as for missing values
                out.extend(self._route(self.engine.update(cues, baseline, self.cues.unheard)))
            if cues.t >= QUIET_AFTER_S:
                out.extend(self.quiet_legs(cues.t) + self.swapped_sources(cues.t))
        return out

    def quiet_legs(self, t: float) -> list[StatusEvent]:
        """A warning, once a call, for each leg whose speech so far lies too near the level under
        which the analysis hears no speech (:func:`~monitor.analysis.leg_tally.too_quiet`), judged once
        the leg holds the speech a cue's measure is shown over: its speech time, pauses and rates read
        wrong (the quieter syllables lost), and nothing else says so. A live leg is raised at its
        source's input volume, a recording's by its gain."""
        floor, least = self._speech_floor_db, shown_min_speech_s(self.cfg.analysis.window_speech_s)
        live = self.source.startswith(LIVE_SOURCE)
        out = []
        for leg, tally in self.cues.tally.items():
            if leg not in self._said_quiet and tally.level_db is not None \
                    and too_quiet(tally.level_db, floor, tally.speech_s, least):
                raise_it = raise_live(self.sources.get(leg)) if live else RAISE_RECORDING
                said = self._said_quiet[leg] = quiet_phrase(f"the {leg}'s leg", tally.level_db, floor, raise_it)
                out.append(StatusEvent(t=round(t, 3), level="warning", message=f"{self.named or 'the call'}: {said}"))
        return out

    def legs_swapped(self) -> str | None:
        """Why the call's speech so far reads as the caller's on the agent's leg, in words
        (:func:`~monitor.analysis.leg_tally.swapped_legs`); None when it does not, or the call has
        no agent's leg."""
        tally = self.cues.tally
        if not {"caller", "agent"} <= tally.keys():
            return None
        return swapped_legs(tally["caller"], tally["agent"])

    def swapped_hint(self, src: Recording, turn: LegsTurn = replay_turn) -> str:
        """What to do when a recording's speech reads as the caller's on the agent's leg
        (:meth:`legs_swapped`): ``turn`` of the channels its legs were read from (``src.channels``),
        how the command that read it takes them the other way round; empty when it does not (a live
        call's is :meth:`swapped_sources`)."""
        why = self.legs_swapped()
        if why is None or "agent" not in src.channels:
            return ""
        return swapped_message(why, *src.leg_places(), turn(src.channels["caller"], src.channels["agent"]))

    def swapped_sources(self, t: float) -> list[StatusEvent]:
        """A warning, once a live call, when its speech reads as the caller's on the agent's leg
        (:func:`~monitor.analysis.leg_tally.swapped_legs`): the caller's source given as the agent's
        (the microphone as ``--caller``, the softphone's monitor as ``--agent``), the call judged on
        the agent's voice; what was said is kept with the stored call (:meth:`_flaws_said`). A
        recording's is said by replay, with its channel options, at its end."""
        if self._said_swapped or not self.source.startswith(LIVE_SOURCE):
            return []
        why = self.legs_swapped()
        if why is None:
            return []
        caller, agent = self.sources.get("caller"), self.sources.get("agent")
        if caller and agent:
            where = (caller, agent)
            turn = (f"start the monitor with --caller {shlex.quote(agent)} --agent {shlex.quote(caller)} "
                    f"(or daemon.caller and daemon.agent the other way round in its config)")
        else:
            where = ("the --caller source", "the --agent source")
            turn = "start the monitor with --caller and --agent (daemon.caller and daemon.agent) the other way round"
        self._said_swapped = swapped_message(why, *where, turn)
        return [StatusEvent(t=round(t, 3), level="warning", message=self._said_swapped)]

    def _words(self, final: bool = False, stopped: bool = False) -> list[Event]:
        """The recognizers' words since the last call, routed (stored, cues, phrases); ``final``: the
        call's end, each recognizer closed (``stopped``: as the daemon stops, the shorter allowance for
        its last flush, :data:`~monitor.transcription.recognizer.STOP_FLUSH_S`)."""
        out: list[Event] = []
        for leg, tr in list(self.transcribers.items()):
            close = functools.partial(tr.close, stopping=stopped)
            batch: list[WordsEvent] = self._recognizer(leg, close if final else tr.poll, [])
            if final and batch and leg in self.transcribers:  # a failure after its last words is said too
                more: list[WordsEvent] = self._recognizer(leg, tr.poll, [])
                batch = batch + more
            for w in batch:
                if self.store is not None and words_stored(self.cfg.storage, w):
                    self.store.add_words(self._token, w)
                out.append(w)
                self.cues.add_words(w)
                if w.channel == "caller" and self.spotter is not None:
                    for hit in self.spotter.push(w):
                        out.extend(self._route(self.engine.on_phrase(hit.t, hit.match.phrase, hit.match.excerpt,
                                                                     since=hit.start_s)))
        return out

    def _words_dropped(self, final: bool = False) -> list[Event]:
        """What the recognizers dropped, said: one warning, at its call time, when a leg's recognizer
        begins to drop audio (it runs more than its backlog behind: the machine is too busy), and one
        line once it has caught up (at the call's end, ``final``, if not before) with the call times
        and seconds of the audio whose words are not transcribed. Audio dropped only as the call
        ended (the second its end waits for the recognizer was not enough) is one warning of its own
        (:meth:`_words_cut_at_end`): the recognizer never ran its backlog behind."""
        out: list[Event] = []
        for leg, tr in self.transcribers.items():
            said = self._drops_said.setdefault(leg, WordsDropped())
            spans = [(max(a, said.until), b) for a, b in tr.dropped_spans() if b > said.until]
            if spans and said.since is None and final:  # only as the call ended: its close's, no backlog
                out.append(self._words_cut_at_end(leg, spans))
                said.until = spans[-1][1]
                continue
            if spans and said.since is None:
                said.since = spans[0][0]
                out.append(StatusEvent(t=round(said.since, 3), level="warning", message=(
                    f"the {leg}'s words from {said.since:.1f} s into the call are not transcribed: the speech "
                    f"recognition runs more than {tr.max_backlog_s:g} s behind (the machine is too busy); the "
                    "acoustic cues and alerts go on")))
            said.lost_s += sum(b - a for a, b in spans)
            said.until = max([said.until, *(b for _, b in spans)])
            caught_up = not spans and tr.stats().backlog_s <= WORDS_CAUGHT_UP_SHARE * tr.max_backlog_s
            if said.since is not None and (final or caught_up):
                out.append(StatusEvent(t=round(self.duration_s, 3), level="info", message=(
                    f"the {leg}'s speech recognition caught up: its words from {said.since:.1f} to "
                    f"{said.until:.1f} s into the call are not transcribed ({said.lost_s:.1f} s of audio dropped)")))
                said.since, said.lost_s = None, 0.0
        return out

    def _words_cut_at_end(self, leg: str, spans: list[tuple[float, float]]) -> StatusEvent:
        """The warning of ``leg``'s audio dropped only as the call ended (``spans``, call times): its
        recognizer, within its backlog until then, had not reached it in the second a call's end waits."""
        lost = sum(b - a for a, b in spans)
        return StatusEvent(t=round(self.duration_s, 3), level="warning", message=(
            f"the {leg}'s words from {spans[0][0]:.1f} to {spans[-1][1]:.1f} s into the call are not transcribed: "
            f"the speech recognition had not reached them as the call ended ({lost:.1f} s of audio dropped; the "
            "machine is too busy)"))

    def _words_unflushed(self) -> list[Event]:
        """One warning a leg whose recognizer's close did not wait for its last utterance's flush
        (:data:`~monitor.transcription.recognizer.CLOSE_FLUSH_S`; ``STOP_FLUSH_S`` as the daemon stops:
        the machine too busy), with the call times of the words not transcribed."""
        out: list[Event] = []
        for leg, tr in self.transcribers.items():
            if (span := tr.unflushed_span()) is not None:
                out.append(StatusEvent(t=round(self.duration_s, 3), level="warning", message=(
                    f"the {leg}'s words from {span[0]:.1f} to {span[1]:.1f} s into the call are not transcribed: "
                    "the speech recognition could not finish them in time as the call ended (the machine is too "
                    "busy)")))
        return out

    def _words_lost(self) -> dict[str, list[tuple[float, float]]]:
        """Each transcribed leg's call-time spans whose words are not transcribed: the audio its
        recognizer dropped (behind by more than its backlog, or at its close) and the last utterance
        whose flush its close did not wait for."""
        lost = {leg: [*tr.dropped_spans(), *filter(None, [tr.unflushed_span()])]
                for leg, tr in self.transcribers.items()}
        return {leg: spans for leg, spans in lost.items() if spans}

    def _recognizer(self, leg: str, call: Callable[[], T], instead: T) -> T:
        """``call()`` on ``leg``'s recognizer; if the recognizer has failed, ``instead``: the leg
        goes on without it (one warning), its acoustic cues and alerts as before, its word cues
        unknown and no distress phrases from it."""
        try:
            return call()
        except TranscriberError as err:
            self.transcribers.pop(leg, None)
            self._pending.pop(leg, None)
            if leg == self.cues.channel:
                self.cues.forget_words()
            self.recognizer_errors.append(str(err))
            log.warning("call %s (%s): speech recognition failed (%s); the call goes on without "
                        "transcription of the %s leg", self.call_id, self.named, err, leg,
                        extra={RECOGNIZER_FAILURE: True})
            return instead

    def reconfigure(self, cfg: Config) -> list[Event]:
        """New thresholds for the rest of the call (a reloaded configuration): the alerts that the
        change raises or clears, stored as any other."""
        self.cfg = cfg
        return self._of_call(self._route(self.engine.reconfigure(cfg)))

    def _of_call(self, events: list[Event]) -> list[Event]:
        """``events`` as they leave the pipeline, each with the call's id (:attr:`call_id`): every
        event of a call names it, as its alerts do, so that a reader of one call after another
        (``run --jsonl``) tells which call a line belongs to without reading its text. An alert
        keeps the id the store stamped it with: it is the very event the store guard names to the
        webhook once it writes it late (:meth:`~monitor.delivery.store_guard.StoreGuard.add_alert`)."""
        call_id = self.call_id
        return [ev if isinstance(ev, AlertEvent) or ev.call_id == call_id else replace(ev, call_id=call_id)
                for ev in events]

    def _route(self, events: Iterable[Event]) -> list[Event]:
        """Store alerts (commit first; marked ``stored=False`` when the database fails; the store
        stamps their ids) and clears, keep the alerts for the summary."""
        out: list[Event] = []
        for ev in events:
            if isinstance(ev, AlertEvent):
                if self.store is not None:
                    ev = self.store.add_alert(self._token, ev)
                self.alerts.append(ev)
            elif isinstance(ev, AlertClearedEvent) and self.store is not None:
                self.store.add_clear(self._token, ev)
            out.append(ev)
        return out

    def abort(self, timeout_s: float = 5.0, stopped_by: str | None = None) -> list[Event]:
        """The call cannot go on (its audio or the database failed, or a stop came): end the
        recognizers' threads (their last flush given the stop's allowance), end the raised alerts as
        ``call_ended`` and close the call's row without a summary; with the summary :meth:`finish`
        made when it was stopped writing it. ``stopped_by``: the signal of the stop ("SIGINT",
        "SIGTERM"): the call is closed with its summary as far as it went instead (``"aborted":
        true``, ``ended_by`` the signal, as the live daemon's stop ends a call), which comes last
        among the events returned, as the summary :meth:`finish` returns does.

        Returns the clears (and that summary) for the sinks. Storing is best effort here (the store
        may be what failed); alerts already raised are stored."""
        for leg, tr in list(self.transcribers.items()):
            self._recognizer(leg, lambda: tr.close(timeout=timeout_s, stopping=True), list[WordsEvent]())
        ended: list[Event] = self.engine.close(round(self.duration_s, 3))
        notes = stored_notes(True, (), self._fingerprint, self._flaws_said(), self.words_from_s, self.agent_file)
        summary = None if stopped_by is None else self.summary(*(self._summary_of or (stopped_by, notes)))
        if self.store is not None:
            try:
                ended = self._route(ended)
                if not self._end_given:  # once given (a stop as it was flushed), not twice
                    end = self._end or (self.duration_s, notes if summary is None else summary.to_dict(), None)
                    self.store.end_call(self._token, *end)
                self.store.flush()
            except Exception as err:  # noqa: BLE001 - the caller reports the first failure, not this echo
                log.debug("call %s: not closed after its failure: %s", self.call_id, err)
        return self._of_call(ended if summary is None else [*ended, summary])

    def summary(self, ended_by: str | None = None, notes: Mapping[str, Any] | None = None) -> CallSummaryEvent:
        """The call's summary event so far, with the ``notes`` its stored summary keeps
        (:func:`stored_notes`): its line and its stored summary are the same."""
        kinds = tuple(dict.fromkeys(a.kind for a in self.alerts))
        b = self.baseline.baseline
        return CallSummaryEvent(
            t=round(self.duration_s, 3), file=self.source or None, call_id=self.call_id,
            duration_s=round(self.duration_s, 3), alerts=len(self.alerts),
            critical_alerts=sum(a.severity == "critical" for a in self.alerts), alert_kinds=kinds,
            baseline=b.to_dict() if b is not None else {}, transcribed=self.transcribed, ended_by=ended_by,
            caller_speech_s=round(self.baseline.speech_s, 1),
            agent_speech_s=round(self.cues.tally[self.cues.other].speech_s, 1) if self.cues.other else None,
            notes=dict(notes or {}))


RECORDING_FINGERPRINT = "recording_fingerprint"
"""The stored summary's key of the replayed recording's fingerprint
(:func:`~monitor.files.recording_fingerprint`), taken when its call began: the call's report draws
the recording at that path only while it is still this one. Calls stored before it was kept, and
live calls, have none."""


LEGS_SWAPPED = "legs_swapped"
"""The stored summary's key of what was said of a call whose legs read the wrong way round (by replay
of a recording, by the daemon of a live call: :attr:`~monitor.capture.sources.RecordingFlaws.legs_swapped`);
none where they did not."""

LEGS_SAME = "legs_same"
"""The stored summary's key of what was said of a recording whose two legs carry the same audio
(:attr:`~monitor.capture.sources.RecordingFlaws.legs_same`); none where they did not."""

QUIET_LEGS = "quiet_legs"
"""The stored summary's key of what was said of each leg too quiet to measure, a list
(:attr:`~monitor.capture.sources.RecordingFlaws.quiet_legs`); none where no leg was."""

TRUNCATED_AT = "truncated_at_s"
"""The stored summary's key of the seconds a replayed recording held before its audio broke off
(:attr:`~monitor.capture.sources.RecordingFlaws.truncated_at_s`); a whole recording, a live call,
and a call stored before it was kept, have none."""

WORDS_CAUGHT_UP_SHARE = 0.1
"""A recognizer that dropped audio has caught up once it drops no more and this share of its backlog
(:attr:`Transcriber.max_backlog_s`: 3 s of the live daemon's 30) or less waits for it."""


@dataclass
class WordsDropped:
    """What was said of a recognizer's audio dropped: the call time the drops being said began at
    (None: none are), the end of the last drop seen, and the seconds dropped since they began."""

    since: float | None = None
    until: float = 0.0
    lost_s: float = 0.0


WORDS_NOT_TRANSCRIBED = "words_not_transcribed"
"""The stored summary's key of each transcribed leg's call-time spans ``[start, end]`` whose words
are not transcribed because the machine was too busy: the audio its recognizer dropped, running more
than its backlog behind or as the call ended (:meth:`Transcriber.dropped_spans`), and the last
utterance whose flush the call's end did not wait for (:meth:`Transcriber.unflushed_span`); none
where every word was transcribed."""

WORDS_FROM = "words_from_s"
"""The stored summary's key of the call time a live call's words began at, when its recognizers
joined it under way (:meth:`CallPipeline.join_words`: the daemon's speech model was still loading
when the call began); none for a call transcribed from its start, or not at all."""

RECORDING_PROBLEMS = "recording_problems"
"""The stored summary's key of what was wrong with a replayed recording's samples or header
(:attr:`~monitor.capture.sources.RecordingFlaws.problems`); none where nothing was."""


def words_stored(storage: StorageConfig, words: WordsEvent) -> bool:
    """Whether a call's ``words`` go into its database: a recognizer's final result with words (the
    database's own rule, :func:`~monitor.delivery.store.words_kept`), and only under
    ``storage.transcripts`` (false keeps the words out of the database). A call's pipeline stores
    its words by it, and a batch the words its workers returned
    (:meth:`~monitor.batch.ledger.BatchStore.store_call`): the two cannot store differently."""
    return words_kept(words) and storage.transcripts


def stored_notes(stopped: bool = False, no_input: Sequence[tuple[float, float]] = (),
                 fingerprint: str | None = None, flaws: RecordingFlaws = RecordingFlaws(),
                 words_from_s: float | None = None, agent_file: str | None = None,
                 words_lost: Mapping[str, Sequence[tuple[float, float]]] | None = None,
                 agent_no_input: Sequence[tuple[float, float]] = (),
                 on_hold: Sequence[tuple[float, float]] = ()) -> dict[str, Any]:
    """What a stored call's summary keeps besides the summary event's keys: that its monitoring
    stopped part-way, the spans of it its caller's leg (``no_input``) and its agent's
    (``agent_no_input``) were not heard (:func:`no_input_key`; a span shorter than the tenth of a
    second they are kept to, as a capture's first samples, is none), the replayed recording's
    ``fingerprint`` and ``flaws``, the agent's leg's own recording of a call of two files
    (``agent_file``), where the words began when its recognizers joined it under way, and each leg's
    spans whose words are not transcribed (``words_lost``: the machine too busy), and the spans its
    caller was on hold (``on_hold``: :data:`~monitor.events.ON_HOLD`) (none: no such key)."""
    notes: dict[str, Any] = {"aborted": True} if stopped else {}
    if agent_file:
        notes[AGENT_RECORDING] = agent_file
    if words_from_s is not None:
        notes[WORDS_FROM] = words_from_s
    if fingerprint:
        notes[RECORDING_FINGERPRINT] = fingerprint
    if flaws.truncated_at_s is not None:
        notes[TRUNCATED_AT] = round(flaws.truncated_at_s, 3)
    if flaws.problems:
        notes[RECORDING_PROBLEMS] = flaws.problems
    if flaws.legs_same:
        notes[LEGS_SAME] = flaws.legs_same
    if flaws.legs_swapped:
        notes[LEGS_SWAPPED] = flaws.legs_swapped
    if flaws.quiet_legs:
        notes[QUIET_LEGS] = list(flaws.quiet_legs)
    if words_lost:
        notes[WORDS_NOT_TRANSCRIBED] = {leg: [[round(a, 1), round(b, 1)] for a, b in spans]
                                        for leg, spans in words_lost.items()}
    for leg, spans in (("caller", no_input), ("agent", agent_no_input)):
        kept = [(a, b) for a, b in spans if round(a, 1) != round(b, 1)]  # none that rounds to nothing
        if kept:
            notes[no_input_key(leg)] = [[round(a, 1), round(b, 1)] for a, b in kept]
            notes[f"{no_input_key(leg)}_s"] = round(sum(b - a for a, b in kept), 1)
    held = [[round(a, 1), round(b, 1)] for a, b in on_hold if round(a, 1) != round(b, 1)]
    if held:
        notes[ON_HOLD] = held
    return notes


def recording_chunks(pipeline: CallPipeline, src: Recording, turn: LegsTurn = replay_turn) -> Iterator[Chunk]:
    """The recording's chunks; once they end, its flaws (:meth:`FileSource.flaws`: broken off, and
    where; what was wrong with its samples; its two legs the same audio and its legs read the wrong
    way round, with ``turn``: :func:`same_hint`, :meth:`CallPipeline.swapped_hint`) are the
    ``pipeline``'s, kept with its stored call. Replay, batch and the report of a recording all read a
    recording through here."""
    yield from src.chunks()
    pipeline.flaws = replace(src.flaws(), legs_swapped=pipeline.swapped_hint(src, turn),
                             quiet_legs=pipeline.flaws.quiet_legs, legs_same=same_hint(src, turn))


def feed_source(pipeline: CallPipeline, chunks: Iterable[Chunk], sinks: list[Sink],
                on_hold: Sequence[tuple[float, float]] = ()) -> None:
    """Drive ``pipeline`` with every chunk, handing each event to every sink as it comes; the
    call's caller was on hold over ``on_hold`` (seconds into the call: ``replay --hold``, a batch
    manifest's ``hold``): their leg is not heard then (:func:`~monitor.capture.holds.held`), and the
    holds are kept with its end as far as the call went (:meth:`CallPipeline.finish`). A stop
    (Ctrl-C, SIGTERM) closes the call with its summary as far as it went, handed to the sinks
    before the stop is raised on (:meth:`CallPipeline.abort`); a failure closes it without one.

    Keeps no event: what the call holds stays the same however long it lasts (the replay command's
    sinks print, post and store each event and need none of them afterwards; the live daemon
    feeds its pipelines from its own capture loop and keeps none either)."""

    def emit(batch: list[Event]) -> None:
        for ev in batch:
            for sink in sinks:
                sink(ev)
        for sink in sinks:
            end_batch = getattr(sink, "end_batch", None)  # a sink that says a batch's alerts together
            if end_batch is not None:
                end_batch()

    on_hold = tuple(joined_spans(on_hold))
    try:
        for chunk in held(chunks, on_hold, pipeline.legs.index(pipeline.cues.channel), pipeline.rate):
            emit(pipeline.process(chunk))
        # a stop (Ctrl-C, SIGTERM) as the call ends leaves it closed too
        ended = pipeline.finish(on_hold=within(on_hold, pipeline.duration_s))
    except BaseException as err:
        try:
            emit(pipeline.abort(stopped_by=signal_name(err) if isinstance(err, KeyboardInterrupt) else None))
        except Exception:  # noqa: BLE001 - a failing sink must not hide the original error
            pass
        raise
    emit(ended)


def run_source(pipeline: CallPipeline, chunks: Iterable[Chunk], sinks: list[Sink],
               on_hold: Sequence[tuple[float, float]] = ()) -> list[Event]:
    """:func:`feed_source` (the caller on hold over ``on_hold``), and return all the call's events:
    one cue window a hop, so the list
    grows with the call (about 1.5 kB a hop, 5 MB an hour at 1 s hops); for callers that read the
    events afterwards (the report, the evaluation), not for the replay command."""
    events: list[Event] = []
    feed_source(pipeline, chunks, [*sinks, events.append], on_hold)
    return events
