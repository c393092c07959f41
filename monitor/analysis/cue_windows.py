"""Cue windows over the caller's own speaking time, every hop.

At each hop time ``T`` the window reaches back from ``T`` over the caller's **own turn time**
(their speech and the pauses inside their turns; the agent's speech and the gaps between turns
do not count) until it holds ``window_speech_s`` seconds of caller speech, but never further
back than ``window_max_s`` of call time, so that old speech ages out::

    call time  ----------------------------------------------------------------> T
    agent      ==== ask ====            ===== ask =====            == ask ==
    caller             .. answer .. p ..               ... a .. p .. a ..     .. a ..
    window                       [<----- holds window_speech_s of caller speech ----->)

A talkative caller is judged on the last ~10-15 s of the call, a caller who says three words at
a time on the last minute of it: later rather than never. The span measures inside the window
(:func:`~monitor.analysis.span_measures.span_measures`) leave the agent's speech and turn gaps out, so the
rates are per second of the caller's own turn time. Response latency is the mean over the
caller's last ``latency_turns`` answers within ``window_max_s``.

A **short window** (``short_speech_s``, a few seconds of the caller's speech within
``short_max_s``) is measured too, with the same span measures, and the latency of the caller's
last answer alone (the per-turn unit of a dialogue): noisier per hop, but it lies wholly after a
change of the caller's manner within seconds of labored speech, where the long window needs
20 s and more. The event carries it in ``short``.

Time the caller's leg was **not heard** (a live capture's silence filled in for a source lost or
missing, :attr:`~monitor.capture.sources.Chunk.unheard`) is no more the caller's turn time than the
agent's speech is: a silence that touches it is a gap between turns, not a pause, and an answer
whose wait holds it has no latency (the caller may have answered unheard). It is still call time:
the windows reach back over it as over the agent's turns. Time the **agent's** leg was not heard (a
headset unplugged mid-call) is the same to the caller's turns: the agent may have spoken in it, so a
silence of the caller that touches it is no pause and an answer whose wait holds it has no latency
(the agent's question unheard, the wait was timed from the answer before it); the caller's speech in
it is heard and measured.

The work per hop depends on ``window_max_s`` and ``short_max_s``, not on the length of the call:
frames older than the longer cap (plus the latency history) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypedDict

import numpy as np

from ..config import AnalysisConfig
from ..cue_registry import SPAN_CUES
from ..dsp.sound_class import SILENCE
from ..dsp.runs import runs, runs_to_mask
from ..dsp.voice_gate import (FaintRuns, RunPeaks, faint_runs, held_level_db, hold_talk, own_voice, run_peaks,
                              speaker_level_db)
from ..events import CuesEvent, Word, WordsEvent, extend_spans
from .frame_features import HOP_S, Frames
from .leg_tally import LegTally
from .span_measures import SpanMeasures, counts_in, response_latencies, span_measures

LONG_WORD_GAP_S = 0.5
"""A silence between two words of one turn at least this long counts as a long gap."""

LATENCY_HISTORY_S = 15.0
"""Extra history kept so that a turn that began before the window still has its offset."""

LATENCY_SETTLED_S = 1.0
"""An answer whose onset lies this far before the hop no longer changes as frames arrive (its
offset, onset and the other party's next start are all decided by then), so it is kept, not
measured again."""

VOICE_LEVEL_DECAY_DB_PER_S = 0.05
"""How fast the caller's level, held from hop to hop for the background-talk gate, may fall (3 dB
a minute): talk 25 dB under the caller over a hold stays below the gate for more than two minutes
after the caller's words have left the frames kept, and a caller whose voice weakens by more than
the gate for good is heard at the new level about a minute and a half after that."""

UNHEARD_JOIN_S = 1e-4
"""Spans of time a leg was not heard that meet within this are one (chunk times are
rounded to the microsecond, a sample at 16 kHz is 62.5 us)."""

LATENCY_REACH_S = 12.0
"""Frames before the first unsettled answer that its measure may read: the longest latency
(``response_latencies``' ``max_latency_s``, 10 s) and the gap bridging around the offset."""


class WordCues(TypedDict, total=False):
    """The word cues of a window (:meth:`CueTracker.word_cues`): none without transcription."""
    words_per_min: float | None
    mean_word_gap_s: float | None
    long_word_gaps: int


def window_start(t: np.ndarray, speech: np.ndarray, t_end: float, speech_s: float,
                 max_s: float) -> float:
    """Start of the shortest window ending at ``t_end`` that holds ``speech_s`` of speech.

    Parameters
    ----------
    t : np.ndarray [shape=(n,)]  frame times, sorted (frames from ``t_end`` on are ignored)
    speech : np.ndarray [shape=(n,)], bool
    t_end : float
    speech_s : float  speech the window should hold
    max_s : float  the window never starts before ``t_end - max_s``

    Returns
    -------
    t0 : float  window start (``t_end - max_s`` or 0 when the speech is not there)
    """
    floor = max(0.0, t_end - max_s)
    need = int(np.ceil(speech_s / HOP_S - 1e-9))
    lo, hi = np.searchsorted(t, (floor, t_end))  # (a frame before the floor would start the window there)
    idx = np.flatnonzero(speech[lo:hi])
    if need <= 0 or len(idx) < need:
        return floor
    start = float(t[lo + idx[-need]]) - HOP_S / 2
    return max(floor, start)


def breath_cues(m: SpanMeasures) -> dict[str, float | None]:
    """Audible breaths and coughs per minute of the caller's turn time, their mean length and the
    share of pauses that hold a breath (None without turn time)."""
    if m.turn_s <= 0:
        return {"breaths_per_min": None, "paused_breath_share": None, "mean_breath_s": None,
                "coughs_per_min": None}
    return {"breaths_per_min": 60.0 * m.breaths / m.turn_s,
            "paused_breath_share": m.paused_breath_share,
            "mean_breath_s": m.breath_s / m.breaths if m.breaths else None,
            "coughs_per_min": 60.0 * m.coughs / m.turn_s}


def span_cues(m: SpanMeasures) -> dict[str, Any]:
    """The cues a window takes from the span measures of the caller's speech: the registry's
    :data:`~monitor.cue_registry.SPAN_CUES` (each the span measure of that name; the mean pause None
    without speech) and the breath cues (:func:`breath_cues`). The long and the short window both
    read them here, so a cue added to the registry and to :class:`SpanMeasures` is in both. (Typed
    ``Any``: the names are the registry's, each a :class:`CuesEvent` field of its measure's type.)"""
    out: dict[str, Any] = {name: getattr(m, name) for name in SPAN_CUES}
    if m.speech_s <= 0:
        out["mean_pause_s"] = None
    out.update(breath_cues(m))
    return out


def other_speech(frames: Frames, other: Frames | None) -> np.ndarray:
    """The other party's speech on ``frames``' clock: True where the other leg has a speech frame
    at the same time (the legs share the call's frame grid). Shape (n,), bool."""
    if other is None or not len(other) or not len(frames):
        return np.zeros(len(frames), dtype=bool)
    i = _sorted_positions(other.t, frames.t - HOP_S / 2)  # (never below 0: "clip" takes the last for those past it)
    return np.take(other.speech, i, mode="clip") & (np.abs(np.take(other.t, i, mode="clip") - frames.t) < HOP_S / 2)


def _sorted_positions(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``np.searchsorted(a, v)`` of sorted ``a`` and ``v`` (shapes (m,), (n,), both m, n >= 1):
    the same indices. Two legs on one frame grid put ``v[k]`` just before ``a[i0 + k]`` (or past
    ``a``'s end): that guess is checked against what searchsorted's answer is (the count of ``a``
    below ``v[k]``), a few comparisons, far cheaper than n binary searches over the call's kept
    frames; anything else (a gap in either leg) is searched."""
    m, n = len(a), len(v)
    i0 = int(np.searchsorted(a, v[0]))
    inside = min(n, m - i0)  # the guesses i0 + k < m: a[i0 + k - 1] < v[k] <= a[i0 + k]; the rest past a's end
    if (np.all(a[i0:i0 + inside - 1] < v[1:inside]) and np.all(v[1:inside] <= a[i0 + 1:i0 + inside])
            and np.all(v[max(inside, 1):] > a[-1])):
        return np.minimum(np.arange(i0, i0 + n), m)
    return np.searchsorted(a, v)


def long_hold_talk(energy_db: np.ndarray, speech: np.ndarray, other: np.ndarray, level_db: float | None,
                   gate_db: float, long_s: float, hop_s: float, faint: FaintRuns | None = None) -> np.ndarray:
    """The speech frames of every faint run of a long silence of both parties: once a faint run
    begins more than ``long_s`` into a silence (a hold), the faint runs before it in that silence
    are background talk too, the hold's first seconds that
    :func:`~monitor.dsp.voice_gate.hold_talk` keeps.

    A silence begins at the other party's last speech frame or the speaker's last run that is not
    faint, as in :func:`~monitor.dsp.voice_gate.hold_talk`; faint runs do not end it. A faint
    answer that the other party or the speaker's own clear words follow within ``long_s`` is kept.
    The verdict of a run can change after its end (when the silence grows past ``long_s``): the
    cue windows see a hold's first seconds as speech until then.

    Parameters
    ----------
    energy_db : np.ndarray [shape=(n,)]  the speaker's frame energy, dB
    speech : np.ndarray [shape=(n,)], bool  the speaker's speech frames
    other : np.ndarray [shape=(n,)], bool  the other party's speech frames, on the same clock
    level_db : float or None  the speaker's level (None: nothing is dropped)
    gate_db : float  how far below the level a run is faint (<= 0: off)
    long_s : float  a silence in which a faint run begins more than this after its start is a
        hold (<= 0: off)
    hop_s : float  seconds per frame
    faint : FaintRuns, optional  :func:`~monitor.dsp.voice_gate.faint_runs` of these arguments, when known

    Returns
    -------
    held : np.ndarray [shape=(n,)], bool  the frames of the faint runs of those silences
    """
    speech = np.asarray(speech, dtype=bool)
    if gate_db <= 0 or long_s <= 0 or level_db is None or not speech.any():
        return np.zeros(len(speech), dtype=bool)
    starts, ends, clear, talk = faint_runs(energy_db, speech, other, level_db, gate_db) if faint is None else faint
    last = np.maximum.accumulate(np.where(talk, np.arange(len(talk)), -1))
    silence = np.where(starts > 0, last[np.maximum(starts - 1, 0)], -1)  # each run's silence: its last talk
    late = ~clear & ((starts - silence - 1) * hop_s > long_s)  # (voice_gate.seconds_since, from that last talk)
    group = np.cumsum(silence[1:] != silence[:-1])  # the runs of one silence (``silence`` never decreases)
    group = np.concatenate([[0], group])
    long_silence = np.bincount(group, weights=late.astype(np.float64)) > 0
    held = ~clear & long_silence[group]
    return runs_to_mask(starts[held], ends[held], len(speech))


BACKGROUND_UNDER_SHARE = 0.8
"""A run of the caller's leg with at least this share of its frames under the agent's speech is
heard while the agent talks (:func:`background_level_db`); one with less than half of them
(``NOT_UNDER_SHARE``) is not (:func:`background_talk`'s quiet words of the speaker's own)."""

NOT_UNDER_SHARE = 0.5


def background_level_db(energy_db: np.ndarray, speech: np.ndarray, other: np.ndarray, level_db: float | None,
                        below_db: float, min_s: float, hop_s: float, known: RunPeaks | None = None,
                        share: np.ndarray | None = None) -> float | None:
    """The level of the talk in the background of the speaker's leg, heard while the other party
    speaks: the length-weighted median of the loudest frames of the speaker's runs that lie
    under the other party's speech (``BACKGROUND_UNDER_SHARE``) and peak more than ``below_db``
    under ``level_db`` (the speaker's own words over the other party are at their level). None
    when those runs hold less than ``min_s``: no background talk is heard (a caller's few faint
    words over the other party are not a line that carries talk).

    Parameters
    ----------
    energy_db : np.ndarray [shape=(n,)]  the speaker's frame energy, dB
    speech : np.ndarray [shape=(n,)], bool  the speaker's speech frames
    other : np.ndarray [shape=(n,)], bool  the other party's speech frames, on the same clock
    level_db : float or None  the speaker's level
    below_db : float  how far below the level a run's loudest frame must stay
    min_s : float  seconds of such runs needed
    hop_s : float  seconds per frame
    known : RunPeaks, optional  :func:`~monitor.dsp.voice_gate.run_peaks` of ``energy_db`` and
        ``speech``, when known
    share : np.ndarray [shape=(k,)], optional  each of those runs' share of frames under
        ``other`` (:func:`_share_under`), when known

    Returns
    -------
    background_db : float or None
    """
    speech = np.asarray(speech, dtype=bool)
    if level_db is None or not speech.any():
        return None
    starts, ends, peaks = run_peaks(energy_db, speech) if known is None else known
    length = (ends - starts).astype(np.float64)
    under = _share_under(other, starts, ends) if share is None else share
    heard = (under >= BACKGROUND_UNDER_SHARE) & (peaks < level_db - below_db)
    if length[heard].sum() * hop_s < min_s:
        return None
    order = np.argsort(peaks[heard], kind="stable")
    weight = np.cumsum(length[heard][order])
    return float(peaks[heard][order][np.searchsorted(weight, weight[-1] / 2.0)])


def _share_under(other: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Share of each run's frames ``[starts, ends)`` where ``other`` is True. Shapes (n,), (k,), (k,) -> (k,).
    (The frames counted in integers: the same shares as summed in floats, in a quarter of the time.)"""
    return counts_in(other, starts, ends) / np.maximum(ends - starts, 1)


def background_talk(energy_db: np.ndarray, speech: np.ndarray, other: np.ndarray, level_db: float | None,
                    margin_db: float, below_db: float, min_s: float, hop_s: float,
                    near_s: float = 0.0, known: RunPeaks | None = None,
                    share: np.ndarray | None = None) -> np.ndarray:
    """The speech frames of runs no louder than the background talk the speaker's leg carries
    while the other party speaks (:func:`background_level_db`): runs whose loudest frame stays
    under that level plus ``margin_db`` and more than ``below_db`` under the speaker's level,
    wherever they lie (under the other party's turns, in the gaps, over a hold, in the speaker's
    pauses). The speaker's own words stand above the background they are heard over.

    Parameters
    ----------
    energy_db, speech, other, level_db, below_db, min_s, hop_s, known, share : as :func:`background_level_db`
    margin_db : float  how far above the background's level a run may peak and still be it
        (<= 0: off)
    near_s : float  a run that lies within this many seconds of one of the speaker's runs that
        peak within ``below_db`` of their level, and not under the other party's speech, is the
        speaker's own (their quiet words at the edge of their clear ones; <= 0: none is)

    Returns
    -------
    talk : np.ndarray [shape=(n,)], bool  the frames of those runs
    """
    speech = np.asarray(speech, dtype=bool)
    if margin_db <= 0:
        return np.zeros(len(speech), dtype=bool)
    background = background_level_db(energy_db, speech, other, level_db, below_db, min_s, hop_s, known, share)
    if background is None or level_db is None:
        return np.zeros(len(speech), dtype=bool)
    starts, ends, peaks = run_peaks(energy_db, speech) if known is None else known
    clear = peaks >= level_db - below_db
    talk = ~clear & (peaks < background + margin_db)
    if near_s > 0:  # the speaker's own quiet words at the edge of their clear ones, not over the other party
        near = _gap_to_marked(starts, ends, clear, len(speech)) <= int(round(near_s / hop_s))
        talk &= ~(near & ((_share_under(other, starts, ends) if share is None else share) < NOT_UNDER_SHARE))
    return runs_to_mask(starts[talk], ends[talk], len(speech))


def _gap_to_marked(starts: np.ndarray, ends: np.ndarray, marked: np.ndarray, n: int) -> np.ndarray:
    """For each run ``[starts, ends)``, the frames of silence between it and the nearest marked run
    (either side; ``n`` when there is none). Shapes (k,), (k,), (k,) bool -> (k,) int."""
    mask = runs_to_mask(starts[marked], ends[marked], n)
    idx = np.arange(n)
    last = np.maximum.accumulate(np.where(mask, idx, -n - 1))
    nxt = np.minimum.accumulate(np.where(mask, idx, 2 * n + 1)[::-1])[::-1]
    before = starts - 1 - last[np.maximum(starts - 1, 0)]
    before = np.where(starts > 0, before, n)
    after = np.where(ends < n, nxt[np.minimum(ends, n - 1)] - ends, n)
    return np.minimum(np.minimum(before, after), n)


HOLD_REFERENCE_QUANTILE = 0.9
"""The talk heard on the speaker's leg under the other party's speech, as a reference for
:func:`clear_of_background`: this quantile of its frames' energy."""


def heard_under(speech: np.ndarray, other: np.ndarray, starts: np.ndarray | None = None,
                ends: np.ndarray | None = None, share: np.ndarray | None = None) -> np.ndarray:
    """The speaker's speech frames heard while the other party spoke, in runs with
    ``BACKGROUND_UNDER_SHARE`` of theirs under the other party's speech (a caller talking over the
    agent is not the background): their indices, shape (m,). ``speech``, ``other``: shapes (n,),
    bool; ``starts``, ``ends``: the runs of ``speech`` when known (shapes (k,)); ``share``: with
    them, each run's share of frames under ``other`` (:func:`_share_under`), when known."""
    speech, other = np.asarray(speech, dtype=bool), np.asarray(other, dtype=bool)
    if starts is None or ends is None:
        starts, ends, share = *runs(speech), None
    under = (_share_under(other, starts, ends) if share is None else share) >= BACKGROUND_UNDER_SHARE
    return np.flatnonzero(speech & other & runs_to_mask(starts[under], ends[under], len(speech)))


def run_quantiles(energy_db: np.ndarray, starts: np.ndarray, ends: np.ndarray, q: float) -> np.ndarray:
    """Each run's ``q`` quantile of frame energy (dB, the nearest frame below it: ``q`` 1 is the
    loudest frame; NaN counts as -inf). ``energy_db``: shape (n,); ``starts``, ``ends``: the runs,
    shapes (k,) -> (k,)."""
    e = np.asarray(energy_db, dtype=np.float64)
    if not len(starts):
        return np.zeros(0)
    lengths = ends - starts
    run_of = np.repeat(np.arange(len(starts)), lengths)  # each run's frames, run after run
    idx = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
    heard = np.nan_to_num(e[idx], nan=-np.inf)
    order = np.lexsort((heard, run_of))  # by run, then energy
    offset = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return heard[order][offset + np.floor(q * (lengths - 1)).astype(int)]


def clear_of_background(energy_db: np.ndarray, speech: np.ndarray, other: np.ndarray, above_db: float,
                        ref_s: float, min_s: float, hop_s: float, after: int = 0, earlier: np.ndarray | None = None,
                        under: np.ndarray | None = None, run_quantile: float = 1.0,
                        known: RunPeaks | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The speaker's runs of ``speech`` (starts, ends) and which of them stand clear of the talk
    the speaker's leg carried under the other party's speech just before them: a run is clear
    when its loudest frame lies more than ``above_db`` over the ``HOLD_REFERENCE_QUANTILE`` of the
    energy of the speaker's last ``ref_s`` seconds of speech frames heard while the other party
    spoke (before the run's start; frames of runs with ``BACKGROUND_UNDER_SHARE`` of theirs under
    the other party's speech: a caller talking over the agent is not the background). A run with
    less than ``min_s`` of such frames before it is clear (no background is heard; a caller's
    answer is theirs). Unlike :func:`background_level_db`, the reference needs no level of the
    speaker: babble within a few dB of the caller sets it too.

    Parameters
    ----------
    energy_db, speech : np.ndarray [shape=(n,)]  the speaker's frame energy (dB) and speech frames (bool)
    other : np.ndarray [shape=(n,)], bool  the other party's speech frames, on the same clock
    above_db : float  how far over the reference a clear run peaks
    ref_s : float  seconds of the speaker's speech under the other party the reference reads
    min_s : float  fewest seconds of them a reference needs
    hop_s : float  seconds per frame
    after : int  only the runs that end after this frame are judged (the others: not clear)
    earlier : np.ndarray [shape=(j,)] or None  the energy (dB) of such frames heard before the
        frames given, oldest first (the reference of a hold that outlasts the frames kept)
    under, known : np.ndarray [shape=(m,)], RunPeaks or None  :func:`heard_under` of ``speech``
        and ``other``, :func:`~monitor.dsp.voice_gate.run_peaks` of ``energy_db`` and ``speech``, if known

    Returns
    -------
    starts, ends : np.ndarray [shape=(k,)]  the runs
    clear : np.ndarray [shape=(k,)], bool
    """
    speech = np.asarray(speech, dtype=bool)
    starts, ends, peaks = run_peaks(energy_db, speech) if known is None else known
    under = heard_under(speech, other, starts, ends) if under is None else under
    earlier = np.zeros(0) if earlier is None else np.asarray(earlier, dtype=np.float64)
    n_ref, n_min = max(1, int(round(ref_s / hop_s))), max(1, int(round(min_s / hop_s)))
    before = np.searchsorted(under, starts) + len(earlier)  # frames heard under the other party before each run
    judged = (before >= n_min) & (ends > after)
    clear = ends > after
    if judged.any():
        reference = _hold_references(energy_db, earlier, under, before[judged], n_ref)
        clear[judged] = _run_loudness(energy_db, peaks, starts, ends, judged, run_quantile) > reference + above_db
    return starts, ends, clear


def _hold_references(energy_db: np.ndarray, earlier: np.ndarray, under: np.ndarray, before: np.ndarray,
                     n_ref: int) -> np.ndarray:
    """Each judged run's reference: the ``HOLD_REFERENCE_QUANTILE`` of the energy (dB) of the last
    ``n_ref`` frames heard under the other party before it (fewer where fewer are heard).
    ``energy_db``: shape (n,); ``earlier``: shape (j,), the energy of such frames before the frames
    given; ``under``: their indices, shape (m,); ``before``: how many are heard before each run
    judged, each at least 1, shape (r,) -> (r,)."""
    heard = np.concatenate([earlier, np.asarray(energy_db, dtype=np.float64)[under]])
    padded = np.concatenate([np.full(n_ref - 1, np.nan), heard])
    last = np.lib.stride_tricks.sliding_window_view(padded, n_ref)[before - 1]  # (r, n_ref)
    full = before >= n_ref  # (the NaN-aware quantile, far slower, only where fewer are heard)
    reference = np.empty(len(last))
    reference[full] = np.quantile(last[full], HOLD_REFERENCE_QUANTILE, axis=1)
    reference[~full] = np.nanquantile(last[~full], HOLD_REFERENCE_QUANTILE, axis=1)
    return reference


def _run_loudness(energy_db: np.ndarray, peaks: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  known: np.ndarray, run_quantile: float) -> np.ndarray:
    """How loud each ``known`` run is: its loudest frame's energy (``peaks``, shape (k,)) or, with
    ``run_quantile`` under 1, that quantile of its frames' (:func:`run_quantiles`). ``energy_db``:
    shape (n,); ``starts``, ``ends``: shapes (k,); ``known``: shape (k,), bool -> (r,)."""
    return peaks[known] if run_quantile >= 1.0 else run_quantiles(energy_db, starts[known], ends[known],
                                                                  run_quantile)


def quiet_since(t: np.ndarray, energy_db: np.ndarray, speech: np.ndarray, other: np.ndarray,
                above_db: float, ref_s: float, min_s: float, hop_s: float,
                earlier: np.ndarray | None = None, under: np.ndarray | None = None,
                run_quantile: float = 1.0, known: RunPeaks | None = None) -> float | None:
    """The time the current silence of both parties' clear talk began: the end of the other
    party's last speech frame or the speaker's last run that stands clear of the background
    (:func:`clear_of_background`, with ``earlier``, ``under`` and ``known``), whichever is later;
    talk no louder than the background (the babble of a hold) does not end it. None when neither
    has spoken in the frames given. Shapes (n,) each (``earlier``: (j,))."""
    other = np.asarray(other, dtype=bool)
    theirs = np.flatnonzero(other)
    last = int(theirs[-1]) + 1 if len(theirs) else 0  # a run that ends before it cannot be later talk
    starts, ends, clear = clear_of_background(energy_db, speech, other, above_db, ref_s, min_s, hop_s, last,
                                              earlier, under, run_quantile, known)
    end = max(last, int(ends[clear][-1]) if clear.any() else 0)  # just past the last talk (the runs in order)
    return float(t[end - 1]) + hop_s / 2 if end else None


def floor_hum(frames: Frames, floor_db: float, min_s: float, steady_db: float) -> np.ndarray:
    """The speech frames of mains hum that the voice activity detector took for speech: stretches of
    speech frames within ``floor_db`` of the noise floor that hold no syllable nucleus, whose
    energy varies by at most ``steady_db`` (standard deviation) and that last ``min_s`` or make a
    whole run of speech. Hum is on the line all the time and sets the noise floor itself; the
    detector keeps a frame that close to the floor only for its periodicity. A caller's words
    stand above the floor and have syllables; babble near the floor varies by more (1.1-2.6 dB
    against hum's 0.2-0.8 on the evaluation corpus). All False when any setting is 0.

    Parameters
    ----------
    frames : Frames, n frames (``speech``, ``energy_db``, ``floor_db`` and ``nucleus`` are read)
    floor_db, min_s, steady_db : float

    Returns
    -------
    hum : np.ndarray [shape=(n,)], bool
    """
    starts, ends, hum = hum_stretches(frames, floor_db, min_s, steady_db)
    return runs_to_mask(starts[hum], ends[hum], len(frames.speech))


def hum_stretches(frames: Frames, floor_db: float, min_s: float,
                  steady_db: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every stretch of speech frames within ``floor_db`` of the noise floor, ``[starts, ends)``
    (shapes (k,), int), and whether it is hum (shape (k,), bool), as :func:`floor_hum` judges it.
    A stretch's verdict reads its own frames and the speech flag of the frame on each side."""
    speech = frames.speech
    if floor_db <= 0 or min_s <= 0 or steady_db <= 0 or not speech.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=bool)
    e = np.asarray(frames.energy_db, dtype=np.float64)
    near = speech & (np.abs(e - frames.floor_db) < floor_db)
    starts, ends = runs(near)
    count = np.maximum(ends - starts, 1).astype(np.float64)
    level = np.where(near, e, 0.0)
    mean = _stretch_sums(level, starts, ends) / count
    spread = np.sqrt(np.maximum(_stretch_sums(level * level, starts, ends) / count - mean * mean, 0.0))
    padded = np.concatenate([[False], speech, [False]])
    alone = ~padded[starts] & ~padded[ends + 1]  # no speech just before or after: a run of its own
    hum = (((ends - starts) * HOP_S >= min_s - 1e-9) | alone) & (spread <= steady_db) \
        & (counts_in(frames.nucleus, starts, ends) == 0)
    return starts, ends, hum


class SettledHum:
    """:func:`floor_hum` over a leg's kept frames, hop by hop, each stretch judged once. Frames do
    not change once added, so a stretch's verdict is final once the frame after it is in: a hop
    judges only the stretch still open at the end of the last hop and the frames after it, and the
    cost of a hop does not grow with the frames kept. Frames trimmed from the front take their
    verdicts with them (a stretch the trim cuts keeps the verdict of its whole)."""

    def __init__(self, floor_db: float, min_s: float, steady_db: float) -> None:
        self._args = (floor_db, min_s, steady_db)
        self._mask = np.zeros(0, dtype=bool)  # the verdicts of the settled frames ...
        self._open_t = -np.inf  # ... the frames before this time

    def mask(self, frames: Frames) -> np.ndarray:
        """The hum frames of ``frames`` (the leg's kept frames before the hop: the previous call's
        frames, less any trimmed from the front, and those after them), shape (n,), bool."""
        settled_n = int(np.searchsorted(frames.t, self._open_t))
        lo = max(settled_n - 1, 0)  # the frame before the open stretch: not near, its neighbour
        part = frames[lo:]
        starts, ends, hum = hum_stretches(part, *self._args)
        tail = runs_to_mask(starts[hum], ends[hum], len(part))[settled_n - lo:]
        out = np.concatenate([self._mask[len(self._mask) - settled_n:], tail])
        keep = lo + (int(starts[-1]) if len(ends) and ends[-1] == len(part) else len(part))
        self._mask = out[:keep]
        if len(frames):
            self._open_t = float(frames.t[keep]) if keep < len(frames) else float(frames.t[-1]) + HOP_S / 2
        return out


def _stretch_sums(x: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Sum of ``x`` over each stretch ``[starts, ends)``. Shapes (n,), (k,), (k,) -> (k,)."""
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    return c[ends] - c[starts]


def inside_holds(t: np.ndarray, speech: np.ndarray, holds: np.ndarray, energy_db: np.ndarray | None = None,
                 ceiling_db: float | np.ndarray = np.inf) -> np.ndarray:
    """The frames of the runs of ``speech`` that lie wholly inside a hold: a run whose first frame
    starts at or after a hold's start and whose last frame ends by that hold's end (a run that
    reaches past the hold, such as the clear talk that ended it, stays), and whose loudest frame
    (``energy_db``, dB) stays under that hold's ``ceiling_db``. ``t``: the frames' centres,
    ``speech`` their speech flags, shapes (n,); ``holds``: the holds' (start, end) times, sorted
    and not overlapping, shape (k, 2); ``ceiling_db``: one for all holds or one each, shape (k,)."""
    speech = np.asarray(speech, dtype=bool)
    if not len(holds) or not speech.any():
        return np.zeros(len(speech), dtype=bool)
    if energy_db is None:
        starts, ends = runs(speech)
        peaks = np.full(len(starts), -np.inf)
    else:
        starts, ends, peaks = run_peaks(energy_db, speech)
    first, last = t[starts] - HOP_S / 2, t[ends - 1] + HOP_S / 2
    which = np.searchsorted(holds[:, 0], first + 1e-9, side="right") - 1  # the latest hold begun by the run
    ceiling = np.broadcast_to(np.asarray(ceiling_db, dtype=np.float64), (len(holds),))[np.maximum(which, 0)]
    inside = (which >= 0) & (last <= holds[np.maximum(which, 0), 1] + 1e-9) & (peaks < ceiling)
    return runs_to_mask(starts[inside], ends[inside], len(speech))


def with_hold(holds: list[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """``holds`` (their (start, end) times, sorted and not overlapping) with the hold ``[start,
    end]`` added: every hold that ends at or after ``start`` is the same hold, going on, and is
    absorbed into it (its start kept when earlier). The result is sorted and not overlapping too
    (as :func:`inside_holds` needs), however far back ``start`` lies."""
    before = [h for h in holds if h[1] < start - 1e-9]
    joined = [h[0] for h in holds if h[1] >= start - 1e-9]
    return before + [(min([start, *joined]), end)]


def silenced(frames: Frames, taken: np.ndarray) -> Frames:
    """``frames`` with the speech frames of ``taken`` (shape (n,), bool) turned to silence (no
    speech, voicing or syllable)."""
    faint = frames.speech & taken
    if not faint.any():
        return frames
    keep = ~faint
    return replace(frames, speech=frames.speech & keep, voiced=frames.voiced & keep, nucleus=frames.nucleus & keep,
                   sound=np.where(faint, np.uint8(SILENCE), frames.sound).astype(frames.sound.dtype))


@dataclass(frozen=True)
class GateRuns:
    """What the gates of one hop read of the speaker's frames, found once (:meth:`of`) and handed
    to each of them."""

    theirs: np.ndarray | None
    """The other party's speech on the speaker's clock (:func:`other_speech`), shape (n,), bool;
    None without the other party's leg."""
    known: RunPeaks | None
    """The speaker's speech runs and their loudest frames (:func:`~monitor.dsp.voice_gate.run_peaks`),
    shapes (k,); None without speech."""
    share: np.ndarray | None
    """Each run's share of frames under ``theirs`` (:func:`_share_under`), shape (k,); None
    without either."""

    @staticmethod
    def of(frames: Frames, other: Frames | None) -> "GateRuns":
        """The runs of ``frames`` (the speaker's) and ``other`` (the other party's frames, or None)."""
        theirs = other_speech(frames, other) if other is not None else None
        known = run_peaks(frames.energy_db, frames.speech) if frames.speech.any() else None
        share = _share_under(theirs, known[0], known[1]) if theirs is not None and known is not None else None
        return GateRuns(theirs, known, share)


def own_speech(frames: Frames, gate_db: float, level_db: float | None = None, other: Frames | None = None,
               hold_gate_db: float = 0.0, hold_quiet_s: float = 0.0, hold_long_s: float = 0.0,
               background_margin_db: float = 0.0, background_below_db: float = 0.0,
               background_min_s: float = 0.0, background_near_s: float = 0.0,
               found: GateRuns | None = None) -> Frames:
    """``frames`` with the speech that is not the caller's own voice turned to silence (no speech,
    voicing or syllable): runs too faint to be the caller
    (:func:`~monitor.dsp.voice_gate.own_voice`, against ``level_db``, by default the level of
    ``frames``' speech) and, when ``other`` (the agent's frames) is given, runs more than
    ``hold_gate_db`` below that level that begin ``hold_quiet_s`` into a silence of both parties
    (:func:`~monitor.dsp.voice_gate.hold_talk`) and every such run of a silence in which one begins
    ``hold_long_s`` into it (:func:`long_hold_talk`), and runs no louder than the background talk
    heard on the caller's leg while the agent speaks (:func:`background_talk`, with
    ``background_margin_db``, ``background_below_db``, ``background_min_s`` and
    ``background_near_s``). Each test has its own switch (a gate, quiet time or margin of 0 turns
    it off; the long-hold test is part of the hold test and off with it); without the agent's leg
    there is no hold test and no background test. ``found``: :meth:`GateRuns.of` ``frames`` and
    ``other``, when known (every gate here reads them)."""
    found = GateRuns.of(frames, other) if found is None else found
    level = speaker_level_db(frames.energy_db, frames.speech) if level_db is None else level_db
    voice = own_voice(frames.energy_db, frames.speech, gate_db, level, found.known)
    theirs = found.theirs
    if theirs is not None and hold_quiet_s > 0 and hold_gate_db > 0:
        voice &= ~_held(frames.energy_db, frames.speech, theirs, level, hold_gate_db, hold_quiet_s, hold_long_s,
                        found.known)
    if theirs is not None and background_margin_db > 0:
        voice &= ~background_talk(frames.energy_db, frames.speech, theirs, level,
                                  background_margin_db, background_below_db, background_min_s, HOP_S,
                                  background_near_s, found.known, found.share)
    return silenced(frames, ~voice)


def _held(energy_db: np.ndarray, speech: np.ndarray, other: np.ndarray, level_db: float | None, gate_db: float,
          quiet_s: float, long_s: float, known: RunPeaks | None) -> np.ndarray:
    """The frames of :func:`~monitor.dsp.voice_gate.hold_talk` and :func:`long_hold_talk` (the
    hold test of :func:`own_speech`), from one :func:`~monitor.dsp.voice_gate.faint_runs`.
    Shapes (n,) -> (n,), bool; ``known``: the runs of ``speech`` (None without speech)."""
    faint = None if level_db is None or known is None else faint_runs(energy_db, speech, other, level_db,
                                                                       gate_db, known)
    if faint is not None and faint[2].all():  # every run clear: none is held
        return np.zeros(len(speech), dtype=bool)
    held = hold_talk(energy_db, speech, other, level_db, gate_db, quiet_s, HOP_S, faint)
    return held | long_hold_talk(energy_db, speech, other, level_db, gate_db, long_s, HOP_S, faint)


class NotHeardSpans:
    """The spans of call time one leg was not heard, merged, in order (added in call order), and
    which of them the frames kept still reach."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self._kept = 0  # from this one on, those the frames kept reach

    def add(self, t0: float, t1: float) -> None:
        """``[t0, t1)`` not heard; one that begins within ``UNHEARD_JOIN_S`` of the last one's end
        goes on with it."""
        if t1 <= t0:
            return
        extend_spans(self.spans, t0, t1, gap=UNHEARD_JOIN_S)

    def over(self, t: np.ndarray) -> np.ndarray:
        """Which frames (centres ``t``, sorted, shape (n,)) lie in time not heard: their 10 ms
        touches such a span. Shape (n,), bool."""
        kept = self.spans[self._kept:]
        if not kept or not len(t):
            return np.zeros(len(t), dtype=bool)
        starts, ends = np.array(kept).T
        i = np.searchsorted(ends, t - HOP_S / 2, side="right")  # the first span ending after the frame begins
        return (i < len(kept)) & (starts[np.minimum(i, len(kept) - 1)] < t + HOP_S / 2)

    def trim(self, keep_from: float) -> None:
        """Let go of the spans that ended before ``keep_from`` (they stay in :attr:`spans`)."""
        while self._kept < len(self.spans) and self.spans[self._kept][1] < keep_from:
            self._kept += 1


class CueTracker:
    """Collects frames of each leg (on one call clock) and reports the caller's cues.

    ``add(leg, frames)`` appends frames as the analyzers emit them; ``due()`` returns a
    :class:`CuesEvent` for every hop time ``T`` that all legs have reached, measured over the
    caller's window ending at ``T`` (see the module docstring).
    """

    def __init__(self, analysis: AnalysisConfig, legs: tuple[str, ...], channel: str = "caller") -> None:
        self.cfg = analysis
        self.legs = legs
        self.channel = channel
        self.other = next((leg for leg in legs if leg != channel), None)
        self._frames: dict[str, Frames] = {leg: Frames.empty() for leg in legs}
        self._added: dict[str, list[Frames]] = {leg: [] for leg in legs}  # frames added since, joined when read
        self._reached: dict[str, float] = {leg: 0.0 for leg in legs}
        self._next_t = analysis.hop_s
        self._words: list[Word] = []
        # each leg's speech of the call so far (the caller's own speech), counted hop by hop
        self.tally = {leg: LegTally() for leg in legs}
        self._level_db: float | None = None  # the caller's level, held from hop to hop
        self._counted_t = 0.0  # call time up to which it is counted
        self.transcribed = False
        self._words_from = 0.0  # call time the words began at (recognizers that joined the call under way)
        # response latencies already settled: onset times (s) and latencies, onsets < _settled_t
        self._answers = (np.zeros(0), np.zeros(0))
        self._settled_t = 0.0
        self._hum = {leg: SettledHum(analysis.voice_hum_floor_db, analysis.voice_hum_min_s,
                                     analysis.voice_hum_steady_db) for leg in legs}
        self._hold: tuple[float, float] | None = None  # the last hold found: its start, its last hop
        self._other_heard = False  # the agent's leg has carried speech in this call (_find_hold)
        self._holds: list[tuple[float, float]] = []  # the holds found whose end the frames kept reach
        self._spoke_t = np.inf  # when the caller's first run clear of the background ended (_find_hold)
        self._quiet_since: float | None = None  # when the silence of both parties' clear talk began (_find_hold)
        # the caller leg's last speech frames heard under the agent: times and energies (_heard_before)
        self._heard: tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros(0, np.float32))
        self._unheard = {leg: NotHeardSpans() for leg in legs}  # each leg's time not heard

    def add_unheard(self, t0: float, t1: float, leg: str | None = None) -> None:
        """Call time ``[t0, t1)`` of ``leg`` (the caller's by default) was not heard (added in call order)."""
        self._unheard[leg or self.channel].add(t0, t1)

    @property
    def unheard(self) -> tuple[tuple[float, float], ...]:
        """The spans of call time the caller's leg was not heard, merged, in order."""
        return self.unheard_of(self.channel)

    def unheard_of(self, leg: str) -> tuple[tuple[float, float], ...]:
        """The spans of call time ``leg`` was not heard (as :meth:`add_unheard` was told them), merged, in order."""
        return tuple(self._unheard[leg].spans)

    def unheard_over(self, t: np.ndarray) -> np.ndarray:
        """Which frames (centres ``t``, sorted, shape (n,)) lie in time the caller's leg, or the
        other party's, was not heard: none of the caller's turn time (see the module docstring).
        Shape (n,), bool."""
        out = np.zeros(len(t), dtype=bool)
        for spans in self._unheard.values():
            out |= spans.over(t)
        return out

    def add(self, leg: str, frames: Frames) -> None:
        if len(frames):
            self._added[leg].append(frames)
            self._reached[leg] = float(frames.t[-1]) + HOP_S / 2

    def add_words(self, event: WordsEvent) -> None:
        """Final recognised words of the measured channel feed the word-based cues."""
        self.transcribed = True
        if event.final and event.channel == self.channel:
            self._words.extend(event.words)

    def words_from(self, t: float) -> None:
        """Recognizers joined the call at call time ``t`` (the live daemon's speech model ready
        mid-call): a window beginning before it has its word cues unknown, not the words of only
        its end."""
        self._words_from = t

    def forget_words(self) -> None:
        """The recognizer failed: the word-based cues are unknown from now on (as without
        transcription), not a caller who stopped saying words."""
        self.transcribed = False
        self._words = []

    def word_cues(self, t0: float, t: float, turn_s: float) -> WordCues:
        """Words per minute of turn time, mean gap between words inside turns, long gaps; none
        (unknown) without transcription or for a window beginning before the words did."""
        if not self.transcribed or t0 < self._words_from:
            return {}
        words = [w for w in self._words if t0 <= w.start < t]
        if not words:
            return WordCues(words_per_min=0.0 if turn_s > 0 else None, mean_word_gap_s=None, long_word_gaps=0)
        starts = np.array([w.start for w in words])
        ends = np.array([w.end for w in words])
        gaps = starts[1:] - ends[:-1]
        inside = gaps[(gaps >= 0) & (gaps <= self.cfg.max_pause_s)]
        return WordCues(words_per_min=60.0 * len(words) / turn_s if turn_s > 0 else None,
                        mean_word_gap_s=float(inside.mean()) if len(inside) else None,
                        long_word_gaps=int(np.sum(inside >= LONG_WORD_GAP_S)))

    def due(self, final: bool = False) -> list[CuesEvent]:
        """Cue events for every hop time reached; when ``final``, one more for the audio after the
        last of them, stamped where the audio ends (not at the next hop time, past the call's end)."""
        reached = min(self._reached.values())
        out = []
        while self._next_t <= reached + 1e-9:
            out.append(self._measured(self._next_t))
        if final and reached > self._next_t - self.cfg.hop_s + 1e-6:
            out.append(self._measured(reached))
        return out

    def _measured(self, t: float) -> CuesEvent:
        """:meth:`measure` at ``t``, then on to the next hop time (what no later window needs is let go)."""
        event = self.measure(t)
        self._next_t += self.cfg.hop_s
        self._trim()
        return event

    def measure(self, t: float) -> CuesEvent:
        """Cues of the caller's window ending at call time ``t`` (and of the short window)."""
        me, other = self.caller_voice(t)
        t0 = window_start(me.t, me.speech, t, self.cfg.window_speech_s, self.cfg.window_max_s)
        m = self._span(me, other, t0, t)
        answers = self._latency(me, other, t) if other is not None else (np.zeros(0), np.zeros(0))
        recent = answers[1][-self.cfg.latency_turns:]
        latency = float(np.mean(recent)) if len(recent) else None
        # each frame is counted once, gated as it is at this hop: a word that the hop cuts keeps
        # the gate's verdict on its part before the cut (a few quiet frames of its onset may go)
        self.tally[self.channel].add(me.between(self._counted_t, np.inf))  # (frames sorted: a slice)
        if other is not None and self.other is not None:  # (the other leg's frames only with that leg)
            self.tally[self.other].add(other.between(self._counted_t, np.inf))
        self._counted_t = t
        call_speech = self.tally[self.channel].speech_s
        return CuesEvent(t=round(t, 3), channel=self.channel, **span_cues(m), response_latency_s=latency,
                         speech_s=m.speech_s,
                         window_s=round(t - t0, 3), turn_s=round(m.turn_s, 3),
                         call_speech_s=round(call_speech, 3),
                         short=self._short(me, other, t, answers), hold_since=self._hold_since(t),
                         quiet_since=self._quiet_since,
                         **self.word_cues(t0, t, m.turn_s))

    def caller_voice(self, t: float) -> tuple[Frames, Frames | None]:
        """The caller's kept frames before call time ``t`` with mains hum at the noise floor
        (:func:`floor_hum`, first: the caller's level is measured without it) and the background
        talk turned to silence (:func:`own_speech`), and the agent's frames before ``t`` without
        hum at their floor either (None without the agent's leg).
        Holds the caller's level from the previous hop: call it once per hop, in order."""
        mine = self._without_hum(self.channel, t)
        on_hold = self.cfg.hold_rest_skip and self._hold is not None and self._hold[1] >= t - self.cfg.hop_s - 1e-9
        decay = 0.0 if on_hold else VOICE_LEVEL_DECAY_DB_PER_S * self.cfg.hop_s  # the caller is silent on hold
        self._level_db = held_level_db(self._level_db, speaker_level_db(mine.energy_db, mine.speech), decay)
        other = self._without_hum(self.other, t) if self.other is not None else None
        found = GateRuns.of(mine, other)  # the runs every gate below reads
        self._find_hold(mine, found, t)
        voice = own_speech(mine, self.cfg.voice_gate_db, self._level_db, other, self.cfg.voice_hold_gate_db,
                           self.cfg.voice_hold_quiet_s, self.cfg.voice_hold_long_s,
                           self.cfg.voice_background_margin_db, self.cfg.voice_background_below_db,
                           self.cfg.voice_background_min_s, self.cfg.voice_background_near_s, found)
        holds = np.array([h for h in self._holds if h[1] - h[0] >= self.cfg.hold_rest_skip_min_s - 1e-9])
        if self.cfg.hold_rest_skip and len(holds):
            voice = silenced(voice, inside_holds(voice.t, voice.speech, holds, voice.energy_db,
                                                 self._skip_ceiling_db(holds)))
        return voice, other

    def _skip_ceiling_db(self, holds: np.ndarray) -> np.ndarray:
        """The loudest a run inside each hold (``holds``: shape (k, 2)) may peak and still be skipped,
        shape (k,): ``hold_rest_skip_below_db`` under the caller's level where the caller had spoken
        clear of the background before the hold began (their own words may be in it), no limit
        where they had not (a queue hold at the call's start: the level is the hold's talk's own)."""
        if self._level_db is None:
            return np.full(len(holds), np.inf)
        spoke = holds[:, 0] >= self._spoke_t - 1e-9
        return np.where(spoke, self._level_db - self.cfg.hold_rest_skip_below_db, np.inf)

    def _find_hold(self, mine: Frames, found: GateRuns, t: float) -> None:
        """Note the hold the hop at ``t`` lies in: a silence of both parties' clear talk
        (:func:`quiet_since`, on the caller's leg before the voice gates) that has lasted
        ``hold_rest_quiet_s``. Off without the agent's leg, and while it has carried no speech in
        the call (a muted microphone, the agent on no channel of a recording): every pause of the
        caller would be a hold then. Notes too when the caller's first run clear of the background
        ended (the last talk at a hop, after the agent's), for :meth:`_skip_ceiling_db`, and since
        when the silence the hop lies in has lasted (the cue events' ``quiet_since``). ``found``:
        :meth:`GateRuns.of` ``mine`` and the agent's frames."""
        cfg = self.cfg
        self._quiet_since = None
        theirs = found.theirs
        if theirs is None or cfg.hold_rest_quiet_s <= 0:
            return
        self._other_heard = self._other_heard or bool(theirs.any())
        if not self._other_heard:
            return
        starts, ends = found.known[:2] if found.known is not None else (None, None)
        under = heard_under(mine.speech, theirs, starts, ends, found.share)
        since = quiet_since(mine.t, mine.energy_db, mine.speech, theirs, cfg.hold_rest_above_db,
                            cfg.hold_rest_ref_s, cfg.hold_rest_min_s, HOP_S, self._heard_before(mine, under), under,
                            cfg.hold_rest_run_quantile, found.known)
        agent_end = float(mine.t[np.flatnonzero(theirs)[-1]]) + HOP_S / 2 if theirs.any() else -np.inf
        if since is not None and since > agent_end + 1e-9:  # the caller's clear run was the last talk
            self._spoke_t = min(self._spoke_t, since)
        if since is None:  # no talk in the frames kept: a hold under way goes on, else from their start
            going = self._hold if self._hold is not None and self._hold[1] >= t - cfg.hop_s - 1e-9 else None
            since = going[0] if going is not None else float(mine.t[0]) - HOP_S / 2 if len(mine) else 0.0
        self._quiet_since = since if since < t - 1e-9 else None
        if t - since >= cfg.hold_rest_quiet_s - 1e-9:
            self._hold = (since, t)
            self._holds = with_hold(self._holds, since, t)
        first = float(mine.t[0]) if len(mine) else t
        self._holds = [h for h in self._holds if h[1] >= first]

    def _heard_before(self, mine: Frames, under: np.ndarray) -> np.ndarray:
        """The energy (dB, oldest first) of the caller leg's last ``hold_rest_ref_s`` of speech
        frames heard under the agent (``under``, :func:`heard_under`'s indices into ``mine``) that
        the frames kept no longer hold:
        the hold test's reference once they are trimmed (a hold that outlasts the frames kept is
        still measured against the talk heard before it), shape (j,). Keeps the last
        ``hold_rest_ref_s`` of them up to this hop for the next."""
        first = float(mine.t[0]) if len(mine) else np.inf
        kept_t, kept_db = self._heard
        gone = kept_t < first
        n_ref = max(1, int(round(self.cfg.hold_rest_ref_s / HOP_S)))
        self._heard = (np.concatenate([kept_t[gone], mine.t[under]])[-n_ref:],
                       np.concatenate([kept_db[gone], mine.energy_db[under]])[-n_ref:])
        return kept_db[gone]

    def _hold_since(self, t: float) -> float | None:
        """When the last hold found began, while the hop at ``t`` lies in it or within
        ``hold_rest_after_s`` of its end (the cue window still holds its talk), else None."""
        if self._hold is None or t - self._hold[1] > self.cfg.hold_rest_after_s + 1e-9:
            return None
        return self._hold[0]

    def _without_hum(self, leg: str, t: float) -> Frames:
        """The leg's kept frames before ``t`` (cut at the hop: the test reads whole runs) with
        :func:`floor_hum`'s frames turned to silence (:class:`SettledHum`)."""
        frames = self.frames(leg).between(0.0, t)
        return silenced(frames, self._hum[leg].mask(frames))

    def _span(self, me: Frames, other: Frames | None, t0: float, t: float) -> SpanMeasures:
        """Span measures of the caller's frames in ``[t0, t)``, the other party's speech excluded."""
        win = me.between(t0, t)
        return span_measures(win, t - t0, min_pause_s=self.cfg.min_pause_s, max_pause_s=self.cfg.max_pause_s,
                             exclude=other_speech_over(win, other, t0, t) | self.unheard_over(win.t))

    def _short(self, me: Frames, other: Frames | None, t: float,
               answers: tuple[np.ndarray, np.ndarray]) -> dict[str, float | None]:
        """The cues over the short window (the caller's last ``short_speech_s`` of speech, within
        ``short_max_s``) and the latency of the caller's last answer within ``short_max_s``; empty
        when the short window is off. ``speech_s`` and ``window_s`` say how much speech it holds
        and how far back it reaches."""
        if self.cfg.short_speech_s <= 0:
            return {}
        t0 = window_start(me.t, me.speech, t, self.cfg.short_speech_s, self.cfg.short_max_s)
        m = self._span(me, other, t0, t)
        out = span_cues(m)
        onset, lat = answers
        latest = lat[onset >= t - self.cfg.short_max_s]
        out["response_latency_s"] = float(latest[-1]) if len(latest) else None
        out["speech_s"], out["window_s"] = m.speech_s, round(t - t0, 3)
        return out

    def _latency(self, me: Frames, other: Frames, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Onset times and response latencies of the caller's answers within the cap, oldest
        first (shapes (k,), (k,)).

        Only the answers not yet settled are measured, over the frames they can reach
        (``LATENCY_REACH_S`` before the first of them); the settled ones are kept from earlier
        hops. An answer's measure depends only on the frames around its offset and onset, so
        this equals measuring all kept frames every hop, with the background-talk gate as it
        stood at the hop that settled the answer.
        """
        start = max(0.0, self._settled_t - LATENCY_REACH_S)
        me, other = me.between(start, t), other.between(start, t)
        n = min(len(me), len(other))  # (response_latencies reads the first n frames of each)
        onset, lat = response_latencies(me, other, unheard=self.unheard_over(me.t[:n]))
        new = onset >= self._settled_t
        onset = np.concatenate([self._answers[0], onset[new]])
        lat = np.concatenate([self._answers[1], lat[new]])
        oldest = t - self.cfg.window_max_s  # later hops never count older answers
        self._settled_t = max(self._settled_t, t - LATENCY_SETTLED_S)
        kept = (onset < self._settled_t) & (onset >= oldest)
        self._answers = (onset[kept], lat[kept])
        recent = onset >= oldest
        return onset[recent], lat[recent]

    def frames(self, leg: str) -> Frames:
        """The leg's kept frames, those added since they were last read joined to them once (a
        batch of a frame or two at a time is not a copy of every kept frame)."""
        if self._added[leg]:
            self._frames[leg] = Frames.concat([self._frames[leg], *self._added[leg]])
            self._added[leg] = []
        return self._frames[leg]

    @property
    def holds(self) -> tuple[tuple[float, float], ...]:
        """The holds found (start, last hop) whose end the frames kept reach, sorted, not overlapping."""
        return tuple(self._holds)

    def _trim(self) -> None:
        reach = max(self.cfg.window_max_s, self.cfg.short_max_s)
        keep_from = self._next_t - reach - LATENCY_HISTORY_S - 1.0
        for leg in self.legs:
            fr = self.frames(leg)
            if len(fr) and fr.t[0] < keep_from - 5.0:
                cut = int(np.searchsorted(fr.t, keep_from))
                self._frames[leg] = fr[cut:]
        for spans in self._unheard.values():
            spans.trim(keep_from - 5.0)
        if self._words and self._words[0].start < keep_from - 5.0:
            self._words = [w for w in self._words if w.start >= keep_from]


def other_speech_over(win: Frames, other: Frames | None, t0: float, t: float) -> np.ndarray:
    """The other party's speech frames over ``win``, the speaker's frames in ``[t0, t)``; none
    where there is no other party or its frames do not line up.

    Returns
    -------
    np.ndarray [shape=(len(win),)], bool
    """
    if other is not None:
        other_win = other.between(t0, t)
        if len(other_win) == len(win):
            return other_win.speech
    return np.zeros(len(win), dtype=bool)
