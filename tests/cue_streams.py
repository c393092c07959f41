"""Synthetic cue streams for the evaluation tools' tests: a caller's cues hop by hop, healthy or
labored, and the evaluation job that labels them (no audio: the tools replay recorded cues).
"""

from __future__ import annotations

from tools import evaluate as ev
from monitor.events import CuesEvent

HEALTHY = dict(speech_rate_sps=3.5, articulation_rate_sps=4.4, pause_ratio=0.15, mean_pause_s=0.5,
               mean_phrase_s=2.8, hnr_db=12.0, cpps_db=12.0, loudness_dbfs=-25.0, response_latency_s=0.6)
"""A healthy caller's cues."""
LABORED = dict(HEALTHY, speech_rate_sps=1.8, pause_ratio=0.45, mean_phrase_s=1.0, paused_breath_share=0.3)
"""A labored caller's: slower, pausing more, with breaths in a third of the pauses (the slowing they
make counts as tempo too: net_breath_share)."""


def cue_stream(before: dict, after: dict, change: float, end: float = 200.0,
               hold: tuple[float, float] = (0.0, 0.0)) -> ev.CueStream:
    """A caller who speaks half the time in 8 s windows, with cues ``before`` until ``change`` and
    ``after`` from then on, one hop a second up to ``end``, silent over ``hold`` (their running speech
    total stands still)."""
    def spoken(t: float) -> float:
        return 0.5 * (t - max(0.0, min(t, hold[1]) - hold[0]))
    cues = [CuesEvent(t=float(t), speech_s=8.0, window_s=16.0, call_speech_s=spoken(t),
                      **(after if t >= change else before)) for t in range(1, int(end))]
    return ev.CueStream(cues=tuple(cues), duration_s=end)


def eval_job(call: str, onset: float | None, expect: bool, rate: int = 16000,
             condition: dict | None = None) -> ev.Job:
    """The evaluation's job for a 200 s call: a labored one from ``onset`` (None: healthy, where a
    critical alert is forbidden), ``expect`` a critical alert or not."""
    group = "normal" if onset is None else "labored"
    return ev.Job(id=call, rate=rate, path=f"{call}.flac", split="tune", caller_channel=1, agent_channel=0,
                  duration_s=200.0, onset_s=onset, expect_critical=expect, forbid_critical=onset is None,
                  condition=condition if condition is not None else {"group": group})
