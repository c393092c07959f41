"""Measures over a span of frames: rate, pauses, phrases, voice; and response latency.

Definitions (de Jong & Wempe 2009/2010; the 250 ms pause convention):

* a *pause* is a silence of at least ``min_pause_s`` inside speech, i.e.
  between the first and the last speech frame of the span; silences that
  overlap the other party's speech are turn gaps, not pauses, and are left
  out (``exclude``);
* a *phrase* (breath group) is the speech between two pauses;
* a *breath* (or *cough*) is a run of frames of that sound class
  (``Frames.sound``); breaths and coughs are pause time, never speech;
  ``paused_breath_share`` is the share of pauses that hold a breath;
* speaking time is the time from the first speech onset to the last offset
  minus pauses and excluded gaps; speech rate = syllables / span duration;
  articulation rate = syllables / speaking time; pause ratio = pause time /
  (pause time + speaking time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TypedDict

import numpy as np

from ..dsp.runs import close_gaps, runs, runs_to_mask
from ..dsp.sound_class import BREATH, COUGH
from .frame_features import HOP_S, Frames


@dataclass(frozen=True)
class SpanMeasures:
    """Measures of one span; ``None`` where undefined (no speech, no voicing)."""

    duration_s: float
    speech_s: float
    turn_s: float          # speaking time plus pauses (the speaker's own turn time)
    syllables: int
    speech_rate_sps: float | None
    articulation_rate_sps: float | None
    pauses: int
    pause_ratio: float | None
    mean_pause_s: float | None
    phrases: int
    mean_phrase_s: float | None
    syllables_per_phrase: float | None
    f0_median_hz: float | None
    hnr_db: float | None
    cpps_db: float | None
    loudness_dbfs: float | None
    breaths: int = 0                     # audible breaths (runs of breath frames)
    breath_s: float = 0.0                # their total duration
    coughs: int = 0                      # coughs and other non-speech sounds
    paused_breath_share: float | None = None  # share of pauses holding a breath (None: no pause)

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)

    @classmethod
    def without_speech(cls, duration_s: float, breaths: int = 0, breath_s: float = 0.0,
                       coughs: int = 0) -> "SpanMeasures":
        """A span that holds no speech: no syllables, pauses or phrases, the rates and the voice
        undefined (None) but the speech rate, 0 over a span with time in it; its breaths and coughs
        as counted."""
        return cls(duration_s=duration_s, speech_s=0.0, turn_s=0.0, syllables=0,
                   speech_rate_sps=0.0 if duration_s > 0 else None, articulation_rate_sps=None, pauses=0,
                   pause_ratio=None, mean_pause_s=None, phrases=0, mean_phrase_s=None,
                   syllables_per_phrase=None, f0_median_hz=None, hnr_db=None, cpps_db=None,
                   loudness_dbfs=None, breaths=breaths, breath_s=breath_s, coughs=coughs)


class _Pacing(TypedDict):
    """:class:`SpanMeasures`' turn time, rates, pauses and phrases, as :func:`_pacing` gives them."""
    turn_s: float
    speech_rate_sps: float | None
    articulation_rate_sps: float | None
    pauses: int
    pause_ratio: float | None
    mean_pause_s: float | None
    phrases: int
    mean_phrase_s: float | None
    syllables_per_phrase: float | None


class _Voice(TypedDict):
    """:class:`SpanMeasures`' voice measures, as :func:`_voice_measures` gives them."""
    f0_median_hz: float | None
    hnr_db: float | None
    cpps_db: float | None
    loudness_dbfs: float | None


def _opt(x: float | np.floating) -> float | None:
    return float(x) if np.isfinite(x) else None


def _mean(x: np.ndarray) -> float:
    """``float(np.mean(x))`` of a non-empty float64, integer or bool array (shape (n,)): the same
    pairwise sum in double precision divided by n, without ``np.mean``'s bookkeeping."""
    return float(np.add.reduce(x, dtype=np.float64)) / len(x)


def _mean_as(x: np.ndarray) -> np.floating:
    """``np.mean(x)`` of a non-empty float array (shape (n,)): the pairwise sum in ``x``'s
    precision, divided by n in double precision and rounded back to it."""
    return x.dtype.type(float(np.add.reduce(x)) / len(x))


def _median(x: np.ndarray) -> np.floating:
    """``np.median(x)`` of a non-empty array without NaN (shape (n,)): the middle value, or the
    mean of the two middle values, in ``x``'s precision."""
    k = len(x) // 2
    if len(x) % 2:
        return np.partition(x, k)[k]
    low, high = np.partition(x, (k - 1, k))[k - 1:k + 1]
    return (low + high) / x.dtype.type(2)


def pause_runs(speech: np.ndarray, min_pause: int, exclude: np.ndarray | None = None,
               max_pause: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pauses inside speech.

    Parameters
    ----------
    speech : np.ndarray [shape=(n,)], bool
    min_pause : int, frames
    exclude : np.ndarray [shape=(n,)], bool, optional
        Frames where the other party speaks: a silence touching them is a turn gap.
    max_pause : int, optional
        Longer silences are not pauses either (the speaker has stopped).

    Returns
    -------
    starts, ends : np.ndarray [shape=(k,)]  pause frame ranges
    gap : np.ndarray [shape=(n,)], bool  frames of silences that are neither speech nor pause
        (before the first and after the last speech frame, and excluded gaps)
    """
    n = len(speech)
    s, e = runs(~speech)
    inside = (s > 0) & (e < n)
    long_enough = (e - s) >= min_pause
    keep = inside & long_enough
    if max_pause is not None:
        keep &= (e - s) <= max_pause
    if exclude is not None and len(s) and exclude.any():
        keep &= counts_in(exclude, s, e) == 0
    drop = ~keep & (long_enough | ~inside)
    return s[keep], e[keep], runs_to_mask(s[drop], e[drop], n)


def _voice_measures(frames: Frames) -> _Voice:
    """F0 median, HNR and CPPS over the voiced frames and loudness over the speech frames of a
    span with speech."""
    voiced = frames.voiced
    any_voiced = bool(voiced.any())
    f0 = frames.f0_hz[voiced] if any_voiced else frames.f0_hz[:0]
    f0 = f0[~np.isnan(f0)]  # the median of the values nanmedian keeps
    power = np.power(10.0, frames.energy_db[frames.speech].astype(np.float64) / 10.0)
    return _Voice(f0_median_hz=_opt(_median(f0)) if len(f0) else None,
                  hnr_db=_opt(_mean_as(frames.hnr_db[voiced])) if any_voiced else None,
                  cpps_db=_opt(_mean_as(frames.cpps_db[voiced])) if any_voiced else None,
                  loudness_dbfs=_opt(10.0 * np.log10(_mean(power))))


def span_measures(frames: Frames, duration_s: float | None = None, *, min_pause_s: float = 0.25,
                  max_pause_s: float | None = None, exclude: np.ndarray | None = None) -> SpanMeasures:
    """Measures over ``frames`` (one channel, consecutive 10 ms frames).

    Parameters
    ----------
    frames : Frames, n frames
    duration_s : float, optional
        Total time of the span (default: n * 10 ms).
    min_pause_s, max_pause_s : float
    exclude : np.ndarray [shape=(n,)], bool, optional
        Other party's speech, to tell turn gaps from pauses. In a dialogue
        the speech rate is taken over the speaker's own turn time (speaking
        time plus pauses), not the whole span, so that the other party's
        turns do not slow it down.
    """
    n = len(frames)
    duration = float(duration_s) if duration_s is not None else n * HOP_S
    speech = frames.speech
    n_speech = int(np.count_nonzero(speech))
    speech_s = float(n_speech) * HOP_S
    syl = int(np.count_nonzero(frames.nucleus))
    events = _sound_events(frames.sound)
    if not n_speech:
        return SpanMeasures.without_speech(duration, *events)
    min_pause = int(round(min_pause_s / HOP_S))
    max_pause = int(round(max_pause_s / HOP_S)) if max_pause_s else None
    ps, pe, gap = pause_runs(speech, min_pause, exclude, max_pause)
    return SpanMeasures(
        duration_s=duration,
        speech_s=speech_s,
        syllables=syl,
        **_pacing(frames, ps, pe, gap, duration, syl, exclude is not None),
        **_voice_measures(frames),
        breaths=events[0], breath_s=events[1], coughs=events[2],
        paused_breath_share=_breath_share(frames.sound, ps, pe),
    )


def _pacing(frames: Frames, ps: np.ndarray, pe: np.ndarray, gap: np.ndarray, duration: float, syl: int,
            dialogue: bool) -> _Pacing:
    """The turn time, rates, pauses and phrases of a span with speech: its pauses (``ps``, ``pe``,
    shapes (p,)) and turn gaps (``gap``, shape (n,), bool) as :func:`pause_runs` finds them, its
    ``syl`` syllables over ``duration`` seconds; in a ``dialogue`` the speech rate is over the
    speaker's turn time."""
    pause_len = (pe - ps) * HOP_S
    pause_s = float(pause_len.sum())
    speaking = _speaking(frames.speech, gap, ps, pe)
    speaking_s = float(np.count_nonzero(speaking)) * HOP_S
    # phrases: speaking runs separated by pauses or gaps
    ph_s, ph_e = runs(speaking)
    phrase_len = (ph_e - ph_s) * HOP_S
    syl_per_phrase = counts_in(frames.nucleus, ph_s, ph_e)
    return _Pacing(
        turn_s=pause_s + speaking_s,
        speech_rate_sps=(syl / (pause_s + speaking_s) if dialogue and pause_s + speaking_s > 0
                         else syl / duration if duration > 0 else None),
        articulation_rate_sps=syl / speaking_s if speaking_s > 0 else None,
        pauses=int(len(ps)),
        pause_ratio=pause_s / (pause_s + speaking_s) if speaking_s + pause_s > 0 else None,
        mean_pause_s=_mean(pause_len) if len(ps) else 0.0,
        phrases=int(len(ph_s)),
        mean_phrase_s=_mean(phrase_len) if len(ph_s) else None,
        syllables_per_phrase=_mean(syl_per_phrase) if len(ph_s) else None,
    )


def _speaking(speech: np.ndarray, gap: np.ndarray, ps: np.ndarray, pe: np.ndarray) -> np.ndarray:
    """Speaking frames (shape (n,), bool): from the first to the last speech frame, neither
    a gap nor one of the pauses ``[ps, pe)``."""
    n = len(speech)
    first, last = int(np.argmax(speech)), n - 1 - int(np.argmax(speech[::-1]))
    speaking = ~gap
    speaking[:first] = False
    speaking[last + 1:] = False
    if len(ps):
        speaking &= ~runs_to_mask(ps, pe, n)
    return speaking


def _sound_events(sound: np.ndarray) -> tuple[int, float, int]:
    """Breath count, breath seconds and cough count of a sound-class column (shape (n,))."""
    if not np.any(sound >= min(BREATH, COUGH)):  # the usual window: neither
        return 0, 0.0, 0
    b_s, b_e = runs(sound == BREATH)
    c_s, _ = runs(sound == COUGH)
    return int(len(b_s)), float((b_e - b_s).sum()) * HOP_S, int(len(c_s))


def _breath_share(sound: np.ndarray, ps: np.ndarray, pe: np.ndarray) -> float | None:
    """Share of the pauses ``[ps, pe)`` that hold at least one breath frame."""
    if not len(ps):
        return None
    breath = sound == BREATH
    if not breath.any():
        return 0.0
    return _mean(counts_in(breath, ps, pe) > 0)


def counts_in(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True frames of ``mask`` (shape (n,)) in each range ``[starts[i], ends[i])``; shape (k,)."""
    cs = np.zeros(len(mask) + 1, np.int64)
    cs[1:] = mask  # (widened first: a running sum in one type, faster than one that casts as it goes)
    np.cumsum(cs, out=cs)
    return cs[ends] - cs[starts]


def response_latencies(listener: Frames, other: Frames, *, min_turn_gap_s: float = 0.25,
                       max_latency_s: float = 10.0,
                       unheard: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Times the listener took to answer after the other party stopped.

    Both channels are frames on one clock (same ``t``). An *offset* of the
    other party is the end of one of its speech runs (gaps shorter than
    ``min_turn_gap_s`` bridged); the listener's answer is its first speech
    onset after that offset, provided the other party has not resumed before
    it and the listener was silent at the offset (their gaps bridged the same
    way: a listener who pauses for less than ``min_turn_gap_s`` across the
    offset is still talking, and their next run is no answer; talk on the
    caller's line over the agent's turn, such as babble, made latencies of
    several seconds out of that). ``unheard`` (shape (n,), bool): the listener's frames of which
    nothing was heard (their source gave no input); an answer whose wait, from the offset's frame
    to the onset's, holds one is not known (the listener may have answered unheard) and is left out.

    Returns
    -------
    onset_t : np.ndarray [shape=(k,)]  time of each answer's onset (s)
    latency_s : np.ndarray [shape=(k,)]
    """
    n = min(len(listener), len(other))
    if n == 0:
        return np.zeros(0), np.zeros(0)
    gap = int(round(min_turn_gap_s / HOP_S))
    o_s, o_e = runs(close_gaps(other.speech[:n], gap))
    speaking = close_gaps(listener.speech[:n], gap)
    l_s, _ = runs(speaking)
    if len(o_e) == 0 or len(l_s) == 0:
        return np.zeros(0), np.zeros(0)
    o_e = o_e[o_e < n]
    nxt = np.searchsorted(l_s, o_e)
    ok = nxt < len(l_s)
    o_e, nxt = o_e[ok], nxt[ok]
    onset = l_s[nxt]
    resumed = o_s[np.minimum(np.searchsorted(o_s, o_e), len(o_s) - 1)]
    resumed = np.where(np.searchsorted(o_s, o_e) < len(o_s), resumed, n + 1)
    silent_at_offset = ~speaking[np.maximum(o_e - 1, 0)]  # a pause shorter than the gap is no silence
    lat = (onset - o_e) * HOP_S
    keep = (onset <= resumed) & silent_at_offset & (lat <= max_latency_s)
    if unheard is not None and unheard[:n].any():
        keep &= counts_in(unheard[:n], np.maximum(o_e - 1, 0), onset + 1) == 0
    t = listener.t[:n]
    return t[onset[keep]], lat[keep]
