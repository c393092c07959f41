"""Cue windows: span measures over a sliding window of recent frames, every hop."""

from __future__ import annotations

import numpy as np

from .config import AnalysisConfig
from .events import CuesEvent
from .frames import HOP_S, Frames
from .measures import response_latencies, span_measures

LATENCY_HISTORY_S = 15.0
"""Extra history kept so that a turn that began before the window still has its offset."""


class CueTracker:
    """Collects frames of each leg (on one call clock) and reports the caller's cues.

    ``add(leg, frames)`` appends frames as the analyzers emit them;
    ``due()`` returns a :class:`CuesEvent` for every hop time ``T`` that all
    legs have reached, measured over ``[T - window_s, T)``.
    """

    def __init__(self, analysis: AnalysisConfig, legs: tuple[str, ...], channel: str = "caller") -> None:
        self.cfg = analysis
        self.legs = legs
        self.channel = channel
        self.other = next((leg for leg in legs if leg != channel), None)
        self._frames: dict[str, Frames] = {leg: Frames.empty() for leg in legs}
        self._reached: dict[str, float] = {leg: 0.0 for leg in legs}
        self._next_t = analysis.hop_s

    def add(self, leg: str, frames: Frames) -> None:
        if len(frames):
            self._frames[leg] = Frames.concat([self._frames[leg], frames])
            self._reached[leg] = float(frames.t[-1]) + HOP_S / 2

    def due(self, final: bool = False) -> list[CuesEvent]:
        """Cue events for every hop time reached (all hops up to the end when ``final``)."""
        reached = min(self._reached.values())
        out = []
        while self._next_t <= reached + (self.cfg.hop_s if final else 0.0) + 1e-9:
            out.append(self.measure(self._next_t))
            self._next_t += self.cfg.hop_s
            if final and self._next_t > reached + self.cfg.hop_s:
                break
        self._trim()
        return out

    def measure(self, t: float) -> CuesEvent:
        """Cues of the window ending at call time ``t``."""
        t0 = max(0.0, t - self.cfg.window_s)
        me = self._frames[self.channel]
        win = me.between(t0, t)
        exclude = None
        latency = None
        if self.other is not None:
            other = self._frames[self.other]
            other_win = other.between(t0, t)
            if len(other_win) == len(win):
                exclude = other_win.speech
            hist_t0 = max(0.0, t0 - LATENCY_HISTORY_S)
            onset, lat = response_latencies(me.between(hist_t0, t), other.between(hist_t0, t))
            inside = onset >= t0
            if inside.any():
                latency = float(np.mean(lat[inside]))
        m = span_measures(win, t - t0, min_pause_s=self.cfg.min_pause_s, max_pause_s=self.cfg.max_pause_s,
                          exclude=exclude)
        return CuesEvent(t=round(t, 3), channel=self.channel, speech_rate_sps=m.speech_rate_sps,
                         articulation_rate_sps=m.articulation_rate_sps, pause_ratio=m.pause_ratio,
                         mean_pause_s=m.mean_pause_s if m.speech_s > 0 else None,
                         mean_phrase_s=m.mean_phrase_s, hnr_db=m.hnr_db, cpps_db=m.cpps_db,
                         loudness_dbfs=m.loudness_dbfs, response_latency_s=latency, speech_s=m.speech_s)

    def frames(self, leg: str) -> Frames:
        return self._frames[leg]

    def _trim(self) -> None:
        keep_from = self._next_t - self.cfg.window_s - LATENCY_HISTORY_S - 1.0
        for leg, fr in self._frames.items():
            if len(fr) and fr.t[0] < keep_from - 5.0:
                self._frames[leg] = fr[int(np.searchsorted(fr.t, keep_from)):]
