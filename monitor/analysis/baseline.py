"""The caller's own baseline: robust statistics of their cues over their first speech.

:class:`BaselineBuilder` takes the caller's :class:`~monitor.events.CuesEvent` stream, keeps
the windows in which the caller actually spoke, and freezes a :class:`Baseline` (median,
MAD and quartiles per cue) once the caller has spoken ``baseline_min_speech_s`` seconds,
or ``baseline_max_s`` seconds after they first spoke if they say little.  After freezing it
never changes: later trouble must not leak into the reference.

The short windows (:attr:`~monitor.events.CuesEvent.short`) get statistics of their own, from
the same hops, so that a short window is judged against the spread of windows of its own length
(a 3 s window varies more than an 8 s one) and a single answer's latency against the caller's
single answers.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ..config import AnalysisConfig
from ..cue_registry import ALL_CUES
from ..events import CuesEvent

BASELINE_CUES: tuple[str, ...] = ALL_CUES
SHORT_SLACK_S = 0.05
"""A short window counts when it holds its ``short_speech_s`` of speech within this (frame rounding)."""
MAD_TO_SD = 1.4826
"""MAD times this estimates the standard deviation of normally distributed values."""


@dataclass(frozen=True)
class CueStats:
    """Robust statistics of one cue over the baseline windows."""

    median: float
    mad: float
    q1: float
    q3: float
    n: int

    @property
    def spread(self) -> float:
        """Robust standard deviation (1.4826 x MAD)."""
        return MAD_TO_SD * self.mad

    @classmethod
    def of(cls, values: list[float]) -> "CueStats":
        med = statistics.median(values)
        mad = statistics.median(abs(v - med) for v in values)
        if len(values) >= 2:
            q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        else:
            q1 = q3 = med
        return cls(median=med, mad=mad, q1=q1, q3=q3, n=len(values))


@dataclass(frozen=True)
class Baseline:
    """Per-cue statistics over the baseline period of one call."""

    cues: Mapping[str, CueStats] = field(default_factory=lambda: MappingProxyType({}))
    start_t: float = 0.0
    """Call time where the first baseline window starts."""
    end_t: float = 0.0
    """Call time of the last baseline window (its end)."""
    speech_s: float = 0.0
    """Estimated seconds of caller speech the baseline covers."""
    windows: int = 0
    short: Mapping[str, CueStats] = field(default_factory=lambda: MappingProxyType({}))
    """Per-cue statistics of the short windows over the same period."""

    def stats(self, cue: str, short: bool = False) -> CueStats | None:
        """The cue's statistics over the long windows, or over the short ones."""
        return (self.short if short else self.cues).get(cue)

    def median(self, cue: str) -> float | None:
        s = self.cues.get(cue)
        return None if s is None else s.median

    def to_dict(self) -> dict[str, Any]:
        return {"start_t": self.start_t, "end_t": self.end_t, "speech_s": self.speech_s,
                "windows": self.windows, "cues": _stats_dict(self.cues), "short": _stats_dict(self.short)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Baseline":
        return cls(cues=_stats_of_dict(d.get("cues", {})), start_t=d.get("start_t", 0.0),
                   end_t=d.get("end_t", 0.0), speech_s=d.get("speech_s", 0.0),
                   windows=d.get("windows", 0), short=_stats_of_dict(d.get("short", {})))


def _stats_dict(stats: Mapping[str, CueStats]) -> dict[str, dict[str, float]]:
    return {k: {"median": s.median, "mad": s.mad, "q1": s.q1, "q3": s.q3, "n": s.n} for k, s in stats.items()}


def _stats_of_dict(d: Mapping[str, Mapping[str, float]]) -> Mapping[str, CueStats]:
    return MappingProxyType({k: CueStats(median=v["median"], mad=v["mad"], q1=v["q1"], q3=v["q3"], n=int(v["n"]))
                             for k, v in d.items()})


class BaselineBuilder:
    """Accumulates one channel's cue windows until the baseline freezes."""

    def __init__(self, analysis: AnalysisConfig, channel: str = "caller") -> None:
        self._cfg = analysis
        self.channel = channel
        self._values: dict[str, list[float]] = {c: [] for c in BASELINE_CUES}
        self._short: dict[str, list[float]] = {}
        self._windows = 0
        self._first_t: float | None = None
        self._last_window_t: float | None = None
        self._first_speech_t: float | None = None
        self._speech_s = 0.0
        self._held_s = 0.0  # call time on hold since the first speech (analysis.hold_rest_skip), not waited for
        self._frozen: Baseline | None = None

    @property
    def baseline(self) -> Baseline | None:
        """The frozen baseline, or None while it is still being collected."""
        return self._frozen

    @property
    def ready(self) -> bool:
        return self._frozen is not None

    @property
    def speech_s(self) -> float:
        """Estimated seconds of speech on this channel so far in the call (also after the freeze)."""
        return self._speech_s

    def add(self, cues: CuesEvent) -> Baseline | None:
        """Feed one cue window; returns the frozen baseline once there is one."""
        if cues.channel != self.channel:
            return self._frozen
        self._speech_s = max(self._speech_s, cues.call_speech_s or 0.0)  # the whole call's, past the freeze
        if self._frozen is not None:
            return self._frozen
        if self._cfg.hold_rest_skip and cues.hold_since is not None:
            # on hold the window holds the caller's words from before it, over and over: not a window more;
            # the wait runs from the caller's first words, so a hold before them is not taken off it
            if self._first_speech_t is not None:
                self._held_s += self._cfg.hop_s
            return self._frozen
        speech = cues.speech_s or 0.0
        if speech > 0 and self._first_speech_t is None:
            self._first_speech_t = cues.t
        if speech >= self._cfg.baseline_min_window_speech_s and speech > 0:
            self._windows += 1
            if self._first_t is None:
                self._first_t = max(0.0, cues.t - (cues.window_s or 0.0))
            self._last_window_t = cues.t
            for name in BASELINE_CUES:
                v = cues.value(name)
                if v is not None:
                    self._values[name].append(float(v))
            self._add_short(cues)
        enough = self._windows >= self._cfg.baseline_min_windows
        spoke = self._speech_s >= self._cfg.baseline_min_speech_s
        waited = (self._first_speech_t is not None
                  and cues.t - self._first_speech_t - self._held_s >= self._cfg.baseline_max_s)
        if enough and (spoke or waited):
            self._frozen = self.current()
        return self._frozen

    def _add_short(self, cues: CuesEvent) -> None:
        """Keep the short window's cues when it holds its full share of speech."""
        if (cues.short_value("speech_s") or 0.0) < self._cfg.short_speech_s - SHORT_SLACK_S:
            return
        for name in BASELINE_CUES:
            v = cues.short_value(name)
            if v is not None:
                self._short.setdefault(name, []).append(float(v))

    def current(self) -> Baseline | None:
        """Statistics of what has been collected so far (None before any speech window)."""
        if self._frozen is not None:
            return self._frozen
        if self._windows == 0:
            return None
        stats = {k: CueStats.of(v) for k, v in self._values.items() if v}
        short = {k: CueStats.of(v) for k, v in self._short.items() if v}
        return Baseline(cues=MappingProxyType(stats), start_t=self._first_t or 0.0,
                        end_t=self._last_window_t or 0.0, speech_s=round(self._speech_s, 3),
                        windows=self._windows, short=MappingProxyType(short))
