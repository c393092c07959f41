"""What a call report shows, gathered from a recorded file or from a stored call.

:func:`from_file` replays a recording through the same :class:`~monitor.pipeline.CallPipeline`
as ``call-monitor replay`` (acoustic-only, or with transcription when the caller passes
a transcription setup), and keeps what the pipeline itself forgets: a waveform envelope of
each leg, every leg's speech mask and every cue window.

:func:`from_store` reads a call from the SQLite store: cue snapshots (one every few
seconds), baseline, alerts, clears and transcript. The store holds no audio; when the
daemon wrote the call's audio (``daemon.write_audio``) or the call was a replay of a file
that still exists (the recording replayed: :func:`recording_changed`), the waveform and speech regions come from that file, otherwise the
report shows the caller's speech activity from the snapshots and says so.

Nothing here needs matplotlib.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Sequence, cast

import numpy as np

from ..alerts.evidence import PhraseHeard, fmt_time, phrase_heard
from ..capture.audio_files import EMPTY_NAME, AudioFileError, AudioInfo, legs_read, probe, unread_channels
from ..analysis.baseline import Baseline
from ..config import Config
from ..cue_registry import CUES, cue, shown_min_speech_s
from ..dsp.runs import runs
from ..events import (AlertClearedEvent, AlertEvent, CallSummaryEvent, CuesEvent, Event, Word, WordsEvent,
                      no_input_of, on_hold_of, source_no_input_of, unjudged)
from ..analysis.frame_features import HOP_S
from ..analysis.leg_tally import SAME_HEAD, SWAPPED_HEAD, quiet_head
from ..analysis.span_measures import pause_runs
from ..dsp.sound_class import BREATH, COUGH, SPEECH
from ..analysis.hop_series import CallSeries, HopSeries, SeriesFileError, read_series
from ..transcription.phrases import PhraseMatcher, pause_breaks
from ..capture.leg_files import LegFilesSource
from ..capture.sources import Chunk, FileSource, Recording, RecordingFlaws, leg_channels
from ..delivery.delivered import ack_text, delivery_text, word_text
from ..delivery.store import Store
from ..delivery.store_rows import LIVE_SOURCE, CallRecord, StoredAlert
from ..transcription.setup import matcher_for

log = logging.getLogger(__name__)

ENVELOPE_HOP_S = HOP_S
"""Resolution of the stored waveform envelope (peak per 10 ms), reduced for plotting."""


class ReportError(Exception):
    """A report cannot be made; ``str(err)`` is one line naming the input and the problem."""


@dataclass
class LegTrack:
    """One leg's audio picture: peak envelope and speech regions (seconds)."""

    env_t: np.ndarray
    env_peak: np.ndarray
    speech: list[tuple[float, float]] = field(default_factory=list)
    pauses: list[tuple[float, float]] = field(default_factory=list)
    breaths: list[tuple[float, float]] = field(default_factory=list)
    """Audible breaths (the analyzer's breath class)."""
    coughs: list[tuple[float, float]] = field(default_factory=list)
    """Coughs and other sounds that are neither speech nor breath."""


@dataclass
class Utterance:
    """A final transcript line with its distress-phrase spans (word indices of ``text.split()``)."""

    t: float
    start: float
    end: float
    channel: str
    text: str
    distress: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return self.text.split()


@dataclass(frozen=True)
class Stop:
    """Where the monitoring of a stored call stopped before the call ended: ``at_s`` into the call,
    ``how`` one of :data:`STOPS` (the monitor stopped it, a crash left it open and it was closed
    later, or it was never closed: the monitor killed, or still running)."""

    at_s: float
    how: str

    def words(self) -> str:
        """The stop in words, for the report's banner and its picture's title."""
        at = f"{fmt_time(self.at_s)} ({self.at_s:.1f} s)"
        if self.how == "no_input":
            return (f"the caller's source gave no input from {at} to the call's end: the call is judged only "
                    "up to there")
        if self.how == "unended":
            return (f"the call never ended (its monitor was killed, or still runs): it is judged only "
                    f"up to {at}, the last it stored")
        crash = " (the monitor ended without closing the call)" if self.how == "interrupted" else ""
        return f"the monitoring stopped at {at}{crash}: the call is judged only up to there"


STOPS = ("aborted", "interrupted", "unended", "no_input")
"""How a stored call's monitoring stops before the call ends: its summary ``"aborted": true``
(stopped by a signal, its audio or its database failing; a live call the daemon's stop ended keeps
its summary beside it), ``{"interrupted": true}`` (left open by
a crash, closed when the daemon started again or by ``purge``), or no end at all; or, before any
of these, the caller's source of a live call that gave no input from some time to the call's end
(its summary's last ``caller_no_input`` span reaching the end, but for its time on hold: a call ended on
hold was monitored to its end)."""


DAEMON_STOPS = ("SIGTERM", "SIGINT")
"""The ``ended_by`` of a live call the daemon's stop ended (Ctrl-C, a restart): no other end of a
call is said so. Releases before stored such a call with its summary and no ``aborted`` flag; it
was stopped all the same."""


def stop_of(call: CallRecord, duration_s: float) -> Stop | None:
    """Where ``call`` (of ``duration_s`` stored or, unended, recorded so far) stopped being
    monitored, or None for a call monitored to its end."""
    if call.ended_at is None:
        return Stop(duration_s, "unended")
    summary = call.summary if isinstance(call.summary, Mapping) else {}
    how = next((h for h in STOPS[:2] if summary.get(h) is True), None)
    if how is None and call.source.startswith(LIVE_SOURCE) and summary.get("ended_by") in DAEMON_STOPS:
        how = "aborted"
    spans = source_no_input_of(summary)
    if spans and spans[-1][1] >= duration_s - NO_INPUT_END_S:
        return Stop(spans[-1][0], "no_input")
    return None if how is None else Stop(duration_s, how)


NO_INPUT_END_S = 0.2
"""A span without the caller's input that ends this close to a stored call's end (both are rounded)
lasted to its end."""


def flaws_of(summary: Mapping[str, Any] | None) -> RecordingFlaws:
    """A stored call's recording flaws, from its summary (:func:`~monitor.pipeline.stored_notes`):
    none for a call stored before the calls kept them (a live call keeps only what was said of its legs)."""
    from ..pipeline import LEGS_SAME, LEGS_SWAPPED, QUIET_LEGS, RECORDING_PROBLEMS, TRUNCATED_AT
    summary = summary if isinstance(summary, Mapping) else {}
    at, problems = summary.get(TRUNCATED_AT), summary.get(RECORDING_PROBLEMS)
    swapped, quiet, same = summary.get(LEGS_SWAPPED), summary.get(QUIET_LEGS), summary.get(LEGS_SAME)
    number = at if isinstance(at, (int, float)) and not isinstance(at, bool) and np.isfinite(at) else None
    return RecordingFlaws(float(number) if number is not None else None, problems if isinstance(problems, str) else "",
                          swapped if isinstance(swapped, str) else "",
                          tuple(q for q in quiet if isinstance(q, str)) if isinstance(quiet, list) else (),
                          same if isinstance(same, str) else "")


def words_from_note(summary: Mapping[str, Any] | None) -> str | None:
    """The report's note on a live call whose words began part-way, its recognizers having joined it
    under way (:data:`~monitor.pipeline.WORDS_FROM`), or None."""
    from ..pipeline import WORDS_FROM
    at = summary.get(WORDS_FROM) if isinstance(summary, Mapping) else None
    if not isinstance(at, (int, float)):
        return None
    return (f"The transcript begins at {fmt_time(at)} ({at:.1f} s): the daemon's speech model was still loading "
            "when the call began, so the caller's words before then were not transcribed, nor their word cues "
            "measured; the acoustic cues and alerts cover the whole call.")


def no_input_note(spans: Sequence[tuple[float, float]], stop: Stop | None) -> str | None:
    """The report's note on the spans the caller's source gave no input in, other than the one a
    ``stop`` says (None: no such span)."""
    told = [(a, b) for a, b in spans if stop is None or stop.how != "no_input" or a < stop.at_s]
    if not told:
        return None
    each = ", ".join(f"{fmt_time(a)} to {fmt_time(b)}" for a, b in told)
    return (f"No audio of the caller came for {sum(b - a for a, b in told):.1f} s of the call ({each}; its source "
            "gave no input, or its audio was lost on the way): nothing of the caller was heard or judged then, and "
            "that time was no silence, neither the caller's pauses nor an end of the call.")


def on_hold_note(spans: Sequence[tuple[float, float]]) -> str | None:
    """The report's note on the spans the caller was on hold in (``call-monitor call hold``, ``replay
    --hold``, ``report --hold``, a batch manifest's ``hold``), None for none."""
    if not spans:
        return None
    each = ", ".join(f"from {fmt_time(a)} to {fmt_time(b)}" for a, b in spans)
    return (f"The caller was on hold {each} (`call-monitor call hold` to its resume, or the call's end; "
            "`--hold` of a replay or a report, a batch manifest's `hold`): what "
            "the line played then was not heard or judged, and that time was no silence, neither the caller's "
            "pauses nor an end of the call.")


def agent_no_input_note(spans: Sequence[tuple[float, float]]) -> str | None:
    """The report's note on the spans the agent's leg was not heard in after it was first heard (a
    headset unplugged mid-call, the agent's file ending first), None for none: the caller was still
    heard and judged, but not on pauses or response latency then."""
    if not spans:
        return None
    each = ", ".join(f"{fmt_time(a)} to {fmt_time(b)}" for a, b in spans)
    return (f"No audio of the agent came for {sum(b - a for a, b in spans):.1f} s of the call ({each}; its source "
            "gave no input, or its audio was lost on the way): the agent may have spoken then, so the caller's "
            "silences in that time were no pauses and their answers had no response latency; the caller's speech "
            "was heard and judged as ever.")


def recording_note(said: str) -> str:
    """A note on the recording (a flaw's phrase, in replay's words, or the heads of several), as the
    page's notes and the picture's title say it."""
    return f"The recording: {said}."


@dataclass
class ReportData:
    title: str
    source: str
    duration_s: float
    legs: tuple[str, ...]
    cues: list[CuesEvent]
    baseline: Baseline | None
    alerts: list[AlertEvent]
    clears: list[AlertClearedEvent]
    utterances: list[Utterance]
    tracks: dict[str, LegTrack]
    window_speech_s: float
    call_id: int | None = None
    started_at: float | None = None
    transcribed: bool = False
    notes: list[str] = field(default_factory=list)
    problems: str | None = None
    """What was wrong with the recording's samples or header (clipping, a cut voice band), or None."""
    truncated_s: float | None = None
    """A recording whose audio breaks off before its header's length (cut short, or damaged): the
    seconds it holds (None: whole, or a call stored before its calls kept it)."""
    legs_swapped: str | None = None
    """The call's speech read as the caller's on the agent's leg: what replay (or the daemon, of a
    live call) says of it (why, the options that turn the legs), or None."""
    quiet_legs: tuple[str, ...] = ()
    """What replay says of each leg too quiet to measure (its level, what to do)."""
    legs_same: str | None = None
    """The recording's two legs carried the same audio (dual-mono): what replay says of it (why, the
    options that score it as mono), or None."""
    unread_channels: str | None = None
    """A recording of more than two channels: its channel count and the channels read (a phrase), or None."""
    deliveries: dict[int, str] = field(default_factory=dict)
    """A stored call's alerts by id: how the webhook took each, in words (empty where no webhook took any)."""
    acks: dict[int, str] = field(default_factory=dict)
    """A stored call's alerts by id: the supervisor's acknowledgement of each acknowledged one, in words."""
    words: dict[int, str] = field(default_factory=dict)
    """A stored call's alerts by id: the agent's word on each one it was said of (``call-monitor outcome``), in words."""
    agent: str | None = None
    """A stored live call's agent (the daemon's ``delivery.agent_name``), or None."""
    agent_source: str | None = None
    """The agent's leg's own recording of a stored call of two files (``source`` the caller's), or None."""
    caller_speech_s: float | None = None
    """Seconds of the caller's speech heard in the whole call (None: a call stored by an older release)."""
    stopped: Stop | None = None
    """A stored call whose monitoring stopped before the call ended (None: monitored to its end)."""
    caller_no_input: tuple[tuple[float, float], ...] = ()
    """A stored live call's spans (seconds into it) its caller's source gave no input: nothing heard."""
    agent_no_input: tuple[tuple[float, float], ...] = ()
    """A stored call's spans (seconds into it) its agent's leg was not heard after it was first
    heard: no pauses or response latency of the caller judged there."""
    recording_gone: str | None = None
    """The recording a stored call was replayed from (of a call of two files, either file), by its
    path, when nothing is there any more (moved or deleted: :func:`recording_gone`); None otherwise."""
    recording_replaced: str | None = None
    """The recording a stored call was replayed from, by its path, when another recording is there
    now and nothing else of the call's audio is drawn (:func:`recording_changed`); None otherwise."""
    recording_unreadable: tuple[str, str] | None = None
    """A stored call's recording (or audio the daemon wrote of it) still at its path but that cannot
    be read (damaged, not audio, a folder in its place, permission denied): its path and the
    problem; None otherwise (nothing there, or drawn)."""
    no_series: str | None = None
    """A stored call whose audio was analysed again, no series file of it found
    (:func:`_stored_series`): the line that says so, naming the file looked for; None otherwise
    (drawn from its series, or a call that has none: stopped part-way, or no audio drawn)."""
    snapshot_every_s: float | None = None
    """A stored call's cue windows are the snapshots the database keeps, one every this many seconds
    (``storage.snapshot_every_s`` when the call was stored, read from its snapshots' times:
    :func:`snapshots_every_s`); None: every cue window, of a recording replayed for its report."""
    cue_hop_s: float | None = None
    """Seconds between two cue windows of the call (``analysis.hop_s``), where :attr:`snapshot_every_s` is given."""

    @property
    def broken_off(self) -> str | None:
        """The recording's audio breaks off before its header's length, in the report's words (None:
        whole); said alike of a recording, of its stored call and in the picture's title."""
        if self.truncated_s is None:
            return None
        return (f"Truncated or damaged recording: the report covers the {self.truncated_s:.1f} s before its audio "
                "breaks off.")

    @property
    def problems_said(self) -> str | None:
        """What was wrong with the recording's samples or header (:attr:`problems`: clipping, a voice
        band cut by a low rate, a damaged stretch or header) as the page's note says it, whole (None:
        nothing): said under the picture's title too."""
        return recording_note(self.problems) if self.problems else None

    @property
    def legs_heads(self) -> str | None:
        """What the notes say of the call's legs (:attr:`legs_same`, :attr:`legs_swapped`,
        :attr:`quiet_legs`), each by its head alone, joined by "; " (None: nothing)."""
        heads = (([SAME_HEAD] if self.legs_same else []) + ([SWAPPED_HEAD] if self.legs_swapped else [])
                 + [quiet_head(said) for said in self.quiet_legs])
        return "; ".join(heads) if heads else None

    @property
    def legs_said(self) -> str | None:
        """:attr:`legs_heads` on one line as a note of the recording (None: nothing): said under the
        picture's title, which has no room for the whole notes."""
        return recording_note(self.legs_heads) if self.legs_heads else None

    @property
    def all_notes(self) -> list[str]:
        """The page's notes: the recording's flaws first (:attr:`broken_off`, :attr:`problems`,
        :attr:`legs_same`, :attr:`legs_swapped`, :attr:`quiet_legs`: each in replay's words), then the
        others (:attr:`notes`)."""
        flaws = [self.broken_off] + [recording_note(said) for said in self.flaw_lines]
        return [note for note in flaws if note] + self.notes

    @property
    def flaws(self) -> RecordingFlaws:
        """The recording's flaws, whose :attr:`~RecordingFlaws.phrases` replay says (where it broke
        off, what was wrong with its samples, its two legs the same audio, its legs the wrong way round,
        each leg too quiet)."""
        return RecordingFlaws(self.truncated_s, self.problems or "", self.legs_swapped or "", self.quiet_legs,
                              self.legs_same or "")

    @property
    def flaw_lines(self) -> tuple[str, ...]:
        """What replay says of the recording besides where it broke off, one phrase each
        (:attr:`RecordingFlaws.phrases`)."""
        return self.flaws.phrases

    @property
    def worst_windows_said(self) -> str | None:
        """Where the cue table's worst windows come from, when not from every window of the call (a
        stored call's snapshots, fewer than its windows): a report of its recording may find others."""
        if self.snapshot_every_s is None or self.cue_hop_s is None or self.snapshot_every_s <= self.cue_hop_s:
            return None
        return (f"Its worst windows are of the cue snapshots the database keeps, one every {self.snapshot_every_s:g} s "
                f"(storage.snapshot_every_s): a report of the call's recording, which takes every window (every "
                f"{self.cue_hop_s:g} s), may find a window a little worse, a few seconds apart.")

    @property
    def cue_gaps(self) -> list[tuple[float, float]]:
        """The spans of a stored call with none of its cue snapshots stored (:func:`snapshot_gaps`):
        its notes name them and its picture's curves are broken there. None for a recording's report,
        which takes every cue window."""
        if self.snapshot_every_s is None:
            return []
        return snapshot_gaps(self.cues, self.snapshot_every_s, self.duration_s)

    @property
    def cut_short(self) -> str | None:
        """How far a call monitored part-way was judged, in words (None: monitored to its end)."""
        return None if self.stopped is None else self.stopped.words()

    @property
    def nothing_judged(self) -> str | None:
        """For a call without alerts monitored to its end, what it was not judged on, in words
        (:func:`~monitor.events.unjudged`: its caller's baseline never came in); None otherwise.
        The page's banner and the picture's title say it, so that such a call does not read as a
        clean one."""
        if self.alerts or self.stopped is not None:
            return None
        return unjudged(self.baseline is not None, self.caller_speech_s)

    @property
    def why_no_baseline(self) -> str:
        """Why the call has no caller baseline, in words."""
        if self.stopped is not None:
            return "the monitoring stopped before the caller had spoken long enough for one"
        return "the caller did not speak long enough"

    @property
    def critical(self) -> int:
        return sum(a.severity == "critical" for a in self.alerts)

    def clear_of(self, alert: AlertEvent) -> AlertClearedEvent | None:
        """How ``alert`` ended: the first clear of its kind after it (None if none was recorded)."""
        nxt = [a.t for a in self.alerts if a.kind == alert.kind and a.t > alert.t]
        limit = min(nxt) if nxt else float("inf")
        ok = [c for c in self.clears if c.kind == alert.kind and alert.t <= c.t <= limit]
        return min(ok, key=lambda c: c.t) if ok else None

    def cleared_at(self, alert: AlertEvent) -> float | None:
        """Call time at which ``alert`` ended (cleared, switched off or the call's end)."""
        c = self.clear_of(alert)
        return None if c is None else c.t


# --------------------------------------------------------------------------- audio tracks


def _tracks(series: CallSeries, cfg: Config) -> dict[str, LegTrack]:
    """Each leg's audio picture from the call's ``series``: its envelope, its speech, breaths and
    coughs, and the caller's pauses (by ``cfg.analysis``)."""
    out: dict[str, LegTrack] = {}
    masks = {}
    for leg, s in series.legs.items():
        env_t = (np.arange(len(s.peak)) + 0.5) * ENVELOPE_HOP_S
        t = series.times(leg)
        sp = s.sound == SPEECH
        masks[leg] = (t, sp)
        out[leg] = LegTrack(env_t=env_t, env_peak=s.peak, speech=_regions(t, sp),
                            breaths=_regions(t, s.sound == BREATH), coughs=_regions(t, s.sound == COUGH))
    if "caller" in masks:
        t, sp = masks["caller"]
        exclude = None
        other = next((leg for leg in series.legs if leg != "caller"), None)
        if other is not None:
            ot, osp = masks[other]
            n = min(len(sp), len(osp))
            sp, t, exclude = sp[:n], t[:n], osp[:n]
        a = cfg.analysis
        ps, pe, _ = pause_runs(sp, int(round(a.min_pause_s / HOP_S)), exclude,
                               int(round(a.max_pause_s / HOP_S)) if a.max_pause_s else None)
        out["caller"].pauses = [(float(t[p] - HOP_S / 2), float(t[q - 1] + HOP_S / 2))
                                for p, q in zip(ps, pe) if q > p]
    return out


def _regions(t: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of the runs of ``mask`` over frames centred at ``t`` (shape (n,))."""
    s, e = runs(mask)
    return [(float(t[a] - HOP_S / 2), float(t[b - 1] + HOP_S / 2)) for a, b in zip(s, e)]


def check_recording(path: str) -> None:
    """ReportError unless ``path`` is a readable recording (header only: cheap)."""
    if not path:  # an unset shell variable, say: no file has no name
        raise ReportError(f"{EMPTY_NAME}: an empty path; give a recording or a stored call id")
    if not os.path.exists(path):
        raise ReportError(f"{path}: no such file or stored call id")
    if os.path.isdir(path):
        raise ReportError(f"{path}: is a directory, not a recording")
    try:
        probe(path)
    except AudioFileError as err:
        raise ReportError(str(err)) from None


def _open_source(path: str, caller_channel: int = 1, agent_channel: int | None = 0,
                 agent_file: str | None = None) -> Recording:
    check_recording(path)
    try:
        if agent_file:
            return LegFilesSource(path, agent_file, block_s=2.0)
        return FileSource(path, caller_channel=caller_channel, agent_channel=agent_channel,
                          block_s=2.0)
    except AudioFileError as err:
        raise ReportError(str(err)) from None


# --------------------------------------------------------------------------- transcript


def _matcher(cfg: Config | None) -> PhraseMatcher | None:
    return PhraseMatcher.default() if cfg is None else matcher_for(cfg)


def utterances(words: Iterable[WordsEvent], cfg: Config | None = None, *, raised: Sequence[AlertEvent] | None = None,
               matcher: PhraseMatcher | None = None) -> list[Utterance]:
    """Final transcript lines in time order, caller lines marked with their distress phrases: those
    the alerts ``raised`` were raised on, where given (a stored call's: what its report lists,
    whatever the phrase list is now), else those ``matcher`` finds (a replay's: the one its
    transcription spotted them with, of the model's language), else ``cfg``'s phrase list."""
    matcher = None if raised is not None else matcher if matcher is not None else _matcher(cfg)
    heard = [h for h in map(phrase_heard, raised or ()) if h is not None]
    out = []
    for w in words:
        if not w.final or not (w.text or w.words):
            continue
        text = w.text or " ".join(x.word for x in w.words)
        start = min((x.start for x in w.words), default=w.t)
        end = max((x.end for x in w.words), default=w.t)
        u = Utterance(t=w.t, start=start, end=end, channel=w.channel, text=text)
        if matcher is not None and w.channel == "caller":
            try:
                breaks = pause_breaks(w.words) if len(text.split()) == len(w.words) else set()
                for m in matcher.match(text, breaks):
                    u.distress.append((m.start_word, m.end_word, m.phrase))
            except Exception as err:  # noqa: BLE001 - a matcher problem must not lose the report
                log.warning("distress phrases not marked in the transcript at %.1f s: %s", w.t, err)
        if heard and w.channel == "caller" and len(text.split()) == len(w.words):
            u.distress.extend(_heard_in(w.words, heard))
        out.append(u)
    out.sort(key=lambda u: (u.start, u.t))
    return out


HEARD_SLACK_S = 0.01
"""How far a word's time may be from the phrase's in its alert's evidence (both kept to the 0.1 ms)."""


def _heard_in(words: Sequence[Word], heard: Sequence[PhraseHeard]) -> list[tuple[int, int, str]]:
    """The stretches of ``words`` (word indices, end exclusive) the phrases ``heard`` were said in:
    the words from the phrase's first word's start to its last word's end (one across final results
    is marked in each), or, of an earlier release's alert that kept its end alone, as many words as
    it quotes ending there."""
    out: set[tuple[int, int, str]] = set()
    for h in heard:
        inside = [k for k, w in enumerate(words) if w.end <= h.until + HEARD_SLACK_S
                  and (w.start >= h.since - HEARD_SLACK_S if h.since is not None else w.end >= h.until - HEARD_SLACK_S)]
        if not inside:
            continue
        first = inside[0] if h.since is not None else max(0, inside[-1] + 1 - len((h.excerpt or h.phrase).split()))
        out.add((first, inside[-1] + 1, h.phrase))
    return sorted(out)


# --------------------------------------------------------------------------- from a file


def from_file(path: str, cfg: Config, *, transcription: Any = None,
              words: Iterable[WordsEvent] | None = None, caller_channel: int = 1,
              agent_channel: int | None = 0, store: Store | None = None,
              agent_file: str | None = None, on_hold: Sequence[tuple[float, float]] = ()) -> ReportData:
    """Replay ``path`` through the call pipeline and gather the report (``agent_file``: the agent's
    leg's own recording, of a call of two files, ``path`` the caller's; ``on_hold``: the stretches
    of the call its caller was on hold in, as ``replay --hold`` gives them, said in its notes).

    ``transcription``: an object with ``for_call(rate, legs) -> dict`` (the replay command's
    transcription setup) or a callable with that signature giving ``CallPipeline`` keyword
    arguments (``transcribers``, ``phrase_matcher``); ``None`` = acoustic-only.
    ``words``: final :class:`WordsEvent` objects from elsewhere (added to the transcript).
    ``store``: record the replayed call there too (default: nothing is stored).
    """
    from ..pipeline import CallPipeline, recording_chunks, replay_turn_of, run_source
    src = _open_source(path, caller_channel, agent_channel, agent_file)
    extra: dict[str, Any] = {}
    if transcription is not None:
        make = getattr(transcription, "for_call", transcription)
        extra = dict(make(src.rate, src.legs) or {})
    pipeline = CallPipeline(cfg, src.rate, src.legs, store=store, source=path, channels=src.channels,
                            keep_series=True, agent_file=agent_file, **extra)
    try:
        events = run_source(pipeline, recording_chunks(pipeline, src, replay_turn_of(path, pipeline.agent_file)), [],
                            on_hold)
    except AudioFileError as err:
        raise ReportError(str(err)) from None
    series = cast(HopSeries, pipeline.series)  # kept: the pipeline was made with keep_series
    data = _from_events(events, cfg, title=os.path.basename(path), source=path,
                        duration_s=pipeline.duration_s, legs=src.legs,
                        tracks=_tracks(series.series(pipeline.duration_s), cfg),
                        baseline=pipeline.baseline.baseline, extra_words=words,
                        transcribed=bool(pipeline.transcribers), notes=_recording_notes(src, events),
                        call_id=pipeline.call_id, matcher=pipeline.spotter.matcher if pipeline.spotter else None)
    data.problems = pipeline.flaws.problems or None
    data.agent_source = pipeline.agent_file
    data.legs_swapped = pipeline.flaws.legs_swapped or None
    data.legs_same = pipeline.flaws.legs_same or None
    data.quiet_legs = pipeline.flaws.quiet_legs
    data.unread_channels = src.unread_channels()
    data.caller_speech_s = round(pipeline.baseline.speech_s, 1)
    data.truncated_s = pipeline.flaws.truncated_at_s
    return data


def _recording_notes(src: Recording, events: Sequence[Event]) -> list[str]:
    """The notes of a replayed recording's report: mono, the channels of more than two it read,
    its caller's holds (as a stored call's report says them)."""
    notes = ["Mono recording: the caller's leg only."] if len(src.legs) == 1 else []
    if unread := src.unread_channels():
        notes.append(f"The recording has {unread}.")
    summary = next((e.to_dict() for e in reversed(events) if isinstance(e, CallSummaryEvent)), None)
    if held := on_hold_note(on_hold_of(summary)):
        notes.append(held)
    return notes


def _from_events(events: Sequence[Event], cfg: Config, *, title: str, source: str, duration_s: float,
                 legs: tuple[str, ...], tracks: dict[str, LegTrack], baseline: Baseline | None,
                 extra_words: Iterable[WordsEvent] | None, transcribed: bool, notes: list[str],
                 call_id: int | None, matcher: PhraseMatcher | None = None) -> ReportData:
    cues = [e for e in events if isinstance(e, CuesEvent) and e.channel == "caller"]
    alerts = [e for e in events if isinstance(e, AlertEvent)]
    clears = [e for e in events if isinstance(e, AlertClearedEvent)]
    words = [e for e in events if isinstance(e, WordsEvent) and e.final]
    if extra_words:
        words += [w for w in extra_words if w.final]
    return ReportData(title=title, source=source, duration_s=float(duration_s), legs=legs, cues=cues,
                      baseline=baseline, alerts=alerts, clears=clears,
                      utterances=utterances(words, cfg, matcher=matcher), tracks=tracks,
                      window_speech_s=cfg.analysis.window_speech_s,
                      call_id=call_id, transcribed=transcribed or bool(words), notes=notes)


# --------------------------------------------------------------------------- from the store


def call_audio_candidates(cfg: Config, store: Store, call_id: int, source: str,
                          channels: Mapping[str, int] | None = None) -> list[tuple[str, int, int | None]]:
    """Audio files that may hold a stored call: (path, caller channel, agent channel).

    The daemon writes ``call-<id>.wav`` of a live call (source ``live:...``) with one column per
    leg, as the call kept them (``channels``; a live call stored before: caller, agent); a replayed
    call's source is the recording with the channels the call kept (``channels``, see
    :attr:`~monitor.delivery.store_rows.CallRecord.channels`), else (a call stored before the calls kept
    them) the usual layout: right = caller, left = agent. A replayed
    call has no call file: a ``call-<id>.wav`` beside it is a live call's of the same id. A folder
    another database's daemon writes to holds that database's calls of the same ids, none of this
    one's. A live call's file is looked for in the audio folder of ``cfg`` and then in every folder
    the database keeps its daemon wrote call files to (found whatever configuration the report
    is made with)."""
    from ..delivery.call_files import audio_name, other_database
    out = []
    if source.startswith(LIVE_SOURCE):
        db = os.path.realpath(str(store.path))
        here = os.path.expanduser(cfg.daemon.audio_dir or os.path.dirname(str(store.path)) or ".")
        for d in dict.fromkeys(os.path.abspath(f) for f in (here, *store.call_folders())):
            if other_database(Path(d), db) is None:
                out.append((os.path.join(d, audio_name(call_id)),
                            *((channels["caller"], channels.get("agent")) if channels else (0, 1))))
    if source and os.path.exists(source):  # there, if unreadable (a folder in its place): said so
        out.append((source, *((channels["caller"], channels.get("agent")) if channels else (1, 0))))
    return out


AS_REPLAYED = "as the call was replayed"
"""How a stored call's legs were chosen from a recording of more than two channels (its report
cannot choose others)."""


def replayed_channels(channels: Mapping[str, int] | None, count: int | None) -> str | None:
    """For a call replayed from a recording of more than two channels: its channel count (``count``,
    from the recording's header; None: not read, the recording gone or not the one replayed) and the channels
    the legs were read from (the call's ``channels``), in one phrase; None otherwise (a live call, a
    mono or stereo recording, or one gone whose legs came from its first two channels)."""
    if not channels:
        return None
    if count is not None:
        return unread_channels(count, channels, AS_REPLAYED)
    if max(channels.values()) < 2:
        return None
    return f"more than two channels: {legs_read(channels)} ({AS_REPLAYED}; the recording not read here to count them)"


def _fits(promised: float | None, duration_s: float | None, cut: bool) -> bool:
    """A recording of ``promised`` seconds (None: its header gives no length) may hold a stored call
    of ``duration_s``: as long as the call, or, for a call ``cut`` short (its monitoring stopped
    before the recording ended, or the recording's audio broke off before the length it promises),
    at least as long."""
    if not duration_s or promised is None:
        return True
    slack = max(2.0, 0.02 * duration_s)
    return promised >= duration_s - slack if cut else abs(promised - duration_s) <= slack


def recording_changed(call: CallRecord) -> str | None:
    """The note for a replayed call whose recording at its path is not the one replayed any more
    (another put there since, or the file changed; of a call of two files, either file:
    :func:`replaced_files`). None when it is the same, cannot be read now, or the call kept no
    fingerprint (stored before the calls kept it: its length alone is checked, :func:`_fits`)."""
    which = replaced_files(call)
    return None if which is None else (f"The recording at {which} has changed since the call was stored (it is "
                                       "not the recording replayed): its waveform is not drawn.")


def replaced_files(call: CallRecord) -> str | None:
    """The path of a replayed call's recording (of a call of two files, of each of its files,
    joined by " and ") whose fingerprint differs from the one kept with the call
    (:data:`~monitor.pipeline.RECORDING_FINGERPRINT`); None when none does, it cannot be read now, or
    the call kept none (a call of two files stored with its caller's file's alone: that one)."""
    from ..files import recording_fingerprint
    from ..pipeline import RECORDING_FINGERPRINT
    kept = (call.summary or {}).get(RECORDING_FINGERPRINT)
    if not isinstance(kept, str):
        return None
    agent = call.agent_file if "+" in kept else None
    now = recording_fingerprint(call.source, agent)
    if now is None or now == kept:
        return None
    files = (call.source, agent or "")
    return " and ".join(path for path, was, is_now in zip(files, kept.split("+"), now.split("+")) if was != is_now) \
        or call.source


INSTEAD_OF_THE_WAVEFORM = "the waveform panel is replaced by the caller's speech activity from the cue snapshots"
"""What a stored call's report shows where its recording cannot be drawn, in its warning line."""

CANNOT_BE_READ = "is there but cannot be read"
"""How a stored call's report says its recording at its path cannot be read (before the problem)."""


def recording_gone_line(call_id: int, path: str) -> str:
    """What ``report`` says of stored call ``call_id`` whose recording ``path`` is gone
    (:func:`recording_gone`), one line."""
    return f"call {call_id}: its recording {path} is gone (moved or deleted): {INSTEAD_OF_THE_WAVEFORM}"


def recording_unreadable_line(call_id: int, path: str, problem: str) -> str:
    """What ``report`` says of stored call ``call_id`` whose recording ``path`` is still there but
    cannot be read (:attr:`ReportData.recording_unreadable`: ``problem``), one line."""
    return f"call {call_id}: its recording {path} {CANNOT_BE_READ}: {problem}; {INSTEAD_OF_THE_WAVEFORM}"


def recording_warning(call_id: int, data: ReportData) -> str | None:
    """The warning line of stored call ``call_id``'s report (``data``) on its recording, gone,
    there but unreadable or replaced by another (the report made from the database all the same); None when neither."""
    if data.recording_gone:
        return recording_gone_line(call_id, data.recording_gone)
    if data.recording_unreadable:
        return recording_unreadable_line(call_id, *data.recording_unreadable)
    if data.recording_replaced:
        return (f"call {call_id}: its recording {data.recording_replaced} has changed since the call was stored "
                f"(it is not the recording replayed): {INSTEAD_OF_THE_WAVEFORM}")
    return None


def recording_gone(source: str) -> str | None:
    """The path of the recording a stored call was replayed from (kept by its absolute path) when
    nothing is there any more: moved or deleted. None for a live call, or a recording still there
    (the same one or not: :func:`recording_changed`)."""
    if not source or source.startswith(LIVE_SOURCE) or not os.path.isabs(source):
        return None
    return None if os.path.exists(source) else source


def _up_to(chunks: Iterable[Chunk], rate: int, end: int | None) -> Iterator[Chunk]:
    """``chunks`` of a ``rate`` Hz source up to its sample ``end`` (None: all of them), the last one
    cut there."""
    for c in chunks:
        start = int(round(c.t0 * rate))
        if end is not None and start >= end:
            return
        yield c if end is None else Chunk(c.t0, c.samples[:end - start])


def _scan_audio(path: str, info: AudioInfo, caller_channel: int, agent_channel: int | None, cfg: Config,
                duration_s: float | None, stop: Stop | None = None, broken_off: bool = False,
                series: CallSeries | None = None,
                agent_file: str | None = None) -> tuple[dict[str, LegTrack], tuple[str, ...], int] | None:
    """Waveform and speech regions of a stored call's audio (its header ``info``: :func:`probe`) and
    its channel count, or None if it does not fit the call's ``duration_s`` (None: not known). A call
    whose monitoring ``stop`` ped part-way is read up to there: its recording goes on where the
    monitoring did not. A recording whose audio ``broken_off`` (:attr:`ReportData.truncated_s`) holds
    less than its header promises: it is drawn as far as it goes. The call's ``series`` stored with it
    (:func:`_stored_series`), when it has them, are drawn instead of its audio analysed again. A call
    of two files: ``path`` the caller's, ``agent_file`` the agent's (``info`` of both: :func:`_header`).
    AudioFileError when its audio cannot be read."""
    from ..analysis.analyzer import VOICE_ONLY, StreamingAnalyzer

    if info.channels > 1 and max(caller_channel, agent_channel or 0) >= info.channels:
        return None
    if not _fits(info.duration_s, duration_s, cut=stop is not None or broken_off):
        return None
    if series is not None:
        return _tracks(series, cfg), tuple(series.legs), info.channels
    try:
        src: Recording = (LegFilesSource(path, agent_file, block_s=2.0) if agent_file else
                          FileSource(path, caller_channel=caller_channel, agent_channel=agent_channel, block_s=2.0))
        col = HopSeries(src.rate, src.legs, src.channels)
        # the sound class, and so the speech mask, is the whole analyzer's: its cepstrum and nuclei are not drawn
        analyzers = {leg: StreamingAnalyzer(src.rate, VOICE_ONLY) for leg in src.legs}
        end = None if stop is None else int(round(stop.at_s * src.rate))
        for c in _up_to(src.chunks(), src.rate, end):
            col.chunk(c.samples)
            for i, leg in enumerate(src.legs):
                col.frames(leg, analyzers[leg].feed(c.samples[:, i]))
        for leg in src.legs:
            col.frames(leg, analyzers[leg].flush())
    except (OSError, ValueError) as err:
        raise AudioFileError(path, f"unreadable audio ({err})") from None
    return _tracks(col.series(info.duration_s or 0.0), cfg), src.legs, info.channels


SERIES_SLACK_S = HOP_S
"""A call's series are of its audio when their length is the audio's to within a frame (a
recording's resampled length rounds)."""


def _stored_series(cfg: Config, store: Store, call: CallRecord, path: str, info: AudioInfo, caller_channel: int,
                   agent_channel: int | None, missing: list[str]) -> CallSeries | None:
    """The series the call pipeline wrote of stored ``call`` at its end
    (:func:`~monitor.delivery.call_files.write_call_series`), when they are of its audio ``path``
    (its header ``info``, its legs read from ``caller_channel`` and ``agent_channel``); else None, and
    one warning line on why the audio is analysed instead (another version; damaged; not of this
    call or this audio), or when there is no file (a call stored by an older release, or its series
    not written) the line that would say so, added to ``missing``; a batch's calls have none, unsaid."""
    from ..delivery.call_files import replayed_series_path, series_name
    live = call.source.startswith(LIVE_SOURCE)  # beside the daemon's audio; a replayed call's in its call folder
    where = os.path.join(os.path.dirname(path), series_name(call.id)) if live \
        else str(replayed_series_path(cfg, str(store.path), call.id, store.call_folders()))
    try:
        series = read_series(where)
    except SeriesFileError as err:
        if os.path.exists(where):
            log.warning("%s; the call's audio is analysed instead", err)
        elif not store.in_other_tables(call.id):  # a batch's call has none: nothing to say
            missing.append(f"call {call.id}: no series file {where}; the call's audio is analysed instead")
        return None
    channels = leg_channels(info.channels, caller_channel, agent_channel)
    if (series.call_id, series.database) != (call.id, os.path.realpath(str(store.path))) \
            or (tuple(series.legs), dict(series.channels)) != (tuple(channels), channels) or info.duration_s is None \
            or abs(series.duration_s - info.duration_s) > SERIES_SLACK_S:
        log.warning("%s: not the series of call %s's audio %s; the audio is analysed instead", where, call.id, path)
        return None
    return series


def _header(path: str, agent_file: str | None) -> AudioInfo:
    """The header of a stored call's recording (:func:`probe`), or of a call of two files (``path``
    the caller's, ``agent_file`` the agent's) that of both as one recording of two channels
    (:attr:`~monitor.capture.leg_files.LegFilesSource.info`). Raises AudioFileError."""
    return LegFilesSource(path, agent_file).info if agent_file else probe(path)


class _StoredAudio(NamedTuple):
    """What :func:`_stored_audio` finds of a stored call's audio."""

    tracks: dict[str, LegTrack]
    legs: tuple[str, ...]
    channel_count: int | None
    """The channels of the recording the call was replayed from, when drawn from it."""
    unreadable: AudioFileError | None
    """The first audio of the call there that cannot be read."""
    changed: str | None
    """The note on the recording the call was replayed from when another is at its path now."""
    no_series: str | None = None
    """The line saying the audio drawn was analysed again, no series file of it found."""


def _stored_audio(cfg: Config, store: Store, call: CallRecord, stop: Stop | None, broken_off: bool,
                  notes: list[str]) -> _StoredAudio:
    """The waveform and speech regions of stored ``call`` from the first of its audio files there
    that fits it (:func:`call_audio_candidates`), its legs and, for the recording it was replayed
    from, its channel count; and what was wrong with the others. What it draws from is said in
    ``notes``."""
    unreadable: AudioFileError | None = None
    changed: str | None = None
    for path, cc, ac in call_audio_candidates(cfg, store, call.id, call.source, call.channels):
        if not os.path.exists(path):
            continue
        agent_file = call.agent_file if path == call.source else None
        try:
            info = _header(path, agent_file)
            if path == call.source and (changed := recording_changed(call)):
                continue
            cut = path == call.source and broken_off
            missing: list[str] = []
            series = _stored_series(cfg, store, call, path, info, cc, ac, missing) if stop is None and not cut else None
            got = _scan_audio(path, info, cc, ac, cfg, call.duration_s, stop, broken_off=cut, series=series,
                              agent_file=agent_file)
        except AudioFileError as err:
            unreadable = unreadable or err
            continue
        if got is not None:
            tracks, legs, n = got
            notes.append(f"Waveform and speech regions from the call's audio: {path}"
                         + (f" and {agent_file}" if agent_file else ""))
            if changed:
                notes.append(changed)
            return _StoredAudio(tracks, legs, n if path == call.source else None, unreadable, changed,
                                next(iter(missing), None))
    return _StoredAudio({}, ("caller",), None, unreadable, changed)


def from_store(store: Store, call_id: int, cfg: Config, *, use_audio: bool = True) -> ReportData:
    """Gather the report of call ``call_id`` from ``store``; ReportError if there is none."""
    call = store.get_call(call_id)
    if call is None:
        raise ReportError(f"call {call_id}: no such call in {store.path}")
    cues = store.cue_snapshots(call_id, "caller")
    every = snapshots_every_s(cues, store.snapshot_every_s)
    stored, alerts = _sorted_alerts(store, call_id)
    clears = store.list_clears(call_id)
    words = store.transcript(call_id)
    duration = _stored_duration(call.duration_s, cues, alerts)
    baseline = Baseline.from_dict(call.baseline) if call.baseline else None
    stop = stop_of(call, float(duration))
    spans, agent_spans = source_no_input_of(call.summary), no_input_of(call.summary, "agent")
    flaws = flaws_of(call.summary)
    notes = _summary_notes(call.summary, spans, agent_spans, stop)
    audio = (_stored_audio(cfg, store, call, stop, flaws.truncated_at_s is not None, notes) if use_audio
             else _StoredAudio({}, ("caller",), None, None, None))
    tracks, legs, count, unreadable = audio.tracks, audio.legs, audio.channel_count, audio.unreadable
    unread = replayed_channels(call.channels, count)
    if unread:
        notes.append(f"The recording has {unread}.")
    gone = recording_gone(call.source) or recording_gone(call.agent_file or "") if use_audio else None
    cannot = None if tracks or unreadable is None else (unreadable.path, unreadable.problem)
    if not tracks:
        legs = tuple(sorted(call.channels or {"caller": 0}, key=lambda leg: leg != "caller"))
        notes.append(_no_waveform_note(every, gone, cannot, audio.changed))
    data = ReportData(title=f"call {call_id}", source=call.source, duration_s=float(duration),
                      legs=legs, cues=cues, baseline=baseline, alerts=alerts, clears=clears,
                      utterances=utterances(words, cfg, raised=alerts), tracks=tracks,
                      window_speech_s=cfg.analysis.window_speech_s, call_id=call_id, started_at=call.started_at,
                      transcribed=bool(words) or bool((call.summary or {}).get("transcribed")),
                      notes=notes, unread_channels=unread, deliveries=_deliveries(store, stored, cfg.delivery.max_backoff_s),
                      acks=_acks(store, stored), words=_words(store, stored),
                      agent=call.agent, agent_source=call.agent_file, caller_speech_s=(call.summary or {}).get("caller_speech_s"),
                      stopped=stop, caller_no_input=spans, agent_no_input=agent_spans, problems=flaws.problems or None,
                      truncated_s=flaws.truncated_at_s, legs_swapped=flaws.legs_swapped or None,
                      legs_same=flaws.legs_same or None,
                      quiet_legs=flaws.quiet_legs, recording_gone=gone, recording_unreadable=cannot,
                      recording_replaced=replaced_files(call) if audio.changed and not tracks else None,
                      no_series=audio.no_series, snapshot_every_s=every,
                      cue_hop_s=cfg.analysis.hop_s)
    data.notes.append(snapshots_note(every, data.cue_gaps))  # the gaps its picture breaks its curves at
    return data


def _stored_duration(duration_s: float | None, cues: Sequence[CuesEvent], alerts: Sequence[AlertEvent]) -> float:
    """A stored call's length: as stored when it ended, else (still running, or left by a crash) up
    to its last cue snapshot or alert."""
    return duration_s if duration_s is not None else max([c.t for c in cues] + [a.t for a in alerts] + [0.0])


def _summary_notes(summary: Mapping[str, Any] | None, spans: Sequence[tuple[float, float]],
                   agent_spans: Sequence[tuple[float, float]], stop: Stop | None) -> list[str]:
    """The report's notes on what a stored call's ``summary`` keeps: its caller's time not heard
    (``spans``, but the one ``stop`` says), its holds, its agent's (``agent_spans``), where its words began."""
    notes = (no_input_note(spans, stop), on_hold_note(on_hold_of(summary)), agent_no_input_note(agent_spans),
             words_from_note(summary))
    return [note for note in notes if note]


def _sorted_alerts(store: Store, call_id: int) -> tuple[list[StoredAlert], list[AlertEvent]]:
    """The call's stored alerts, and their events in the order raised (by time, then id)."""
    stored = store.list_alerts(call_id=call_id)
    alerts = [a.event for a in stored]
    alerts.sort(key=lambda a: (a.t, a.alert_id or 0))
    return stored, alerts


def snapshots_every_s(cues: Sequence[CuesEvent], configured: float) -> float:
    """The seconds between a stored call's cue snapshots ``cues`` (one leg's, in time order), as the
    database kept them when the call was stored: the least time between two of them (a snapshot is
    kept once ``storage.snapshot_every_s`` has passed since the last, at the first cue window from
    then; one missed while the database failed only widens a gap), which the setting read now
    (``configured``) need not be. ``configured`` for a call of fewer than three snapshots: the one
    time between two tells no interval, and may be a database's failure over most of the call (two
    snapshots 3:05 apart, which as the interval would leave no gap to say: :func:`snapshot_gaps`)."""
    gaps = [b.t - a.t for a, b in zip(cues, cues[1:]) if b.t > a.t]
    return round(min(gaps), 3) if len(gaps) >= 2 else configured


SNAPSHOT_GAP = 3.0
"""A stretch of a stored call this many snapshot intervals long (or longer) with no cue snapshot stored
is a gap the report says, in its notes and by a break in its curves: a snapshot is kept every interval
while the call runs, and a failing database keeps none."""


def snapshot_gaps(cues: Sequence[CuesEvent], every: float, duration_s: float) -> list[tuple[float, float]]:
    """The spans of a stored call (``duration_s`` long) with none of its cue snapshots ``cues`` (one
    leg's, in time order, kept every ``every`` s) stored, :data:`SNAPSHOT_GAP` intervals or longer:
    before the first, between two, after the last. None for a call with no snapshot at all."""
    if not cues:
        return []
    times = [0.0, *(c.t for c in cues), max(duration_s, cues[-1].t)]
    return [(a, b) for a, b in zip(times, times[1:]) if b - a >= SNAPSHOT_GAP * every]


def snapshots_note(every: float, gaps: Sequence[tuple[float, float]]) -> str:
    """The report's note on its cue curves: from the stored snapshots, one every ``every`` s, and the
    spans of the call with none stored, ``gaps`` (:attr:`ReportData.cue_gaps`, where its picture
    breaks the curves)."""
    missing = "; ".join(f"from {fmt_time(a)} to {fmt_time(b)}" for a, b in gaps)
    said = (f" No cue snapshots are stored {missing} (a database that fails keeps none while it fails): the curves "
            "have nothing there.") if gaps else ""
    return f"Cue curves from the stored snapshots (every {every:g} s); the alerts are exactly as raised live.{said}"


def _no_waveform_note(every: float, gone: str | None, cannot: tuple[str, str] | None, changed: str | None) -> str:
    """Why the report has no waveform panel (the recording gone, unreadable or replaced, or no audio
    stored with the call), and what stands in its place (the speech activity of its cue snapshots,
    one every ``every`` seconds)."""
    instead = ("the waveform panel is replaced by the caller's speech activity (share of each cue window "
               f"spent speaking), from cue snapshots every {every:g} s.")
    return (f"The call's recording {gone} is gone (moved or deleted): {instead}" if gone else
            f"The call's recording {cannot[0]} {CANNOT_BE_READ}: {cannot[1]}; {instead}" if cannot else
            f"{changed[:-1]}; {instead}" if changed else
            f"No audio is stored with this call: {instead}")


def _deliveries(store: Store, stored: list[StoredAlert], longest_wait_s: float) -> dict[int, str]:
    """Each alert's webhook delivery as ``call-monitor alerts`` says it, where a webhook took any
    (``longest_wait_s``: the sender's, ``delivery.max_backoff_s``)."""
    sent = store.deliveries_of([a.alert_id for a in stored])
    return {a.alert_id: delivery_text(sent.get(a.alert_id, []), a.created_at, longest_wait_s)
            for a in stored} if sent else {}


def _acks(store: Store, stored: list[StoredAlert]) -> dict[int, str]:
    """Each acknowledged alert's acknowledgement as ``call-monitor alerts`` says it."""
    acks = store.acks_of([a.alert_id for a in stored])
    return {a.alert_id: ack_text(acks[a.alert_id], a.created_at)
            for a in stored if a.alert_id in acks}


def _words(store: Store, stored: list[StoredAlert]) -> dict[int, str]:
    """The agent's word on each alert it was said of, as ``call-monitor alerts`` says it."""
    words = store.words_of([a.alert_id for a in stored])
    return {a.alert_id: word_text(words[a.alert_id], a.created_at) for a in stored if a.alert_id in words}


# --------------------------------------------------------------------------- cue summary

@dataclass(frozen=True)
class CueRow:
    name: str
    label: str
    unit: str
    baseline: float | None
    q1: float | None
    q3: float | None
    worst: float | None
    worst_t: float | None
    direction: str

    @property
    def in_db(self) -> bool:
        """A level in decibels: its change is a difference in dB, as the alerts say it
        (:attr:`monitor.cue_registry.Cue.in_db`)."""
        return cue(self.name).in_db

    @property
    def change(self) -> float | None:
        """The worst window's change from the baseline median: in dB for :attr:`in_db`, else a
        fraction of the baseline."""
        if self.baseline is None or self.worst is None:
            return None
        if self.in_db:
            return self.worst - self.baseline
        if self.baseline == 0:
            return None
        return (self.worst - self.baseline) / abs(self.baseline)


def cue_rows(data: ReportData, min_speech_s: float | None = None) -> list[CueRow]:
    """Baseline against the worst window (after the baseline, with some caller speech) per cue.

    Windows in which the caller spoke less than ``min_speech_s`` (default
    :func:`shown_min_speech_s`: half the speech a window reaches for) are not measurements worth quoting."""
    if min_speech_s is None:
        min_speech_s = shown_min_speech_s(data.window_speech_s)
    after = data.baseline.end_t if data.baseline is not None else 0.0
    windows = [c for c in data.cues if (c.speech_s or 0.0) >= min_speech_s and c.t > after]
    if not windows:
        windows = [c for c in data.cues if (c.speech_s or 0.0) >= min_speech_s]
    rows = []
    for c in CUES:
        name, label, unit, worse = c.name, c.label[:1].upper() + c.label[1:], c.unit, c.worse
        vals = [(v, c.t) for c in windows if (v := c.value(name)) is not None]
        stats = data.baseline.stats(name) if data.baseline is not None else None
        if not vals and stats is None:
            continue
        worst = (min if worse == "low" else max)(vals, key=lambda p: p[0]) if vals else (None, None)
        rows.append(CueRow(name, label, unit, stats.median if stats else None,
                           stats.q1 if stats else None, stats.q3 if stats else None,
                           worst[0], worst[1], worse))
    return rows


__all__ = ["ReportData", "ReportError", "LegTrack", "Utterance", "CueRow", "from_file", "from_store",
           "utterances", "cue_rows"]
