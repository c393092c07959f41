"""Per file, the caller's turns as the cue windows see them, and the hop stream beside them.

    PYTHONPATH=. python research/turns/extract.py DIR --split tune --out OUT.pkl [--cache C] [--ids ID,ID]

Reads each file's cached analyzer frames (``tools.evaluate``'s cache; nothing is analysed again)
and runs the cue tracker over them with a research subclass (:class:`TurnTracker`) that, at every
hop, takes the caller's frames exactly as the cue windows take them (hum at the floor, background
talk, holds gated: :meth:`CueTracker.caller_voice`) and notes each caller turn once it is settled:

- a *turn* is a run of the caller's own turn time: speech and the pauses inside it
  (``min_pause_s``-``max_pause_s`` silences that no agent speech touches); a longer silence or
  the agent's speech ends it (``span_measures.pause_runs``' gaps);
- it is *settled* at the first hop where the agent has spoken after it, or ``max_pause_s`` + 0.1 s
  of call time have passed since its last speech frame; it is measured then, once (causal: what a
  live monitor would know at that hop);
- per turn: start, end, settle time, speech seconds, speaking seconds (speech and the short
  silences inside phrases), turn seconds (speaking plus pauses), syllable nuclei, pauses.
  Articulation rate = syllables / speaking s; speech rate = syllables / turn s.

Also kept per hop (the cue stream the tracker emitted, judged by the baseline as
``tools.evaluate.judge_cues`` does): t, the window's articulation and speech rate, and once the
baseline is frozen its time and the baseline's median and spread of both rates.
Written as a pickle: a list of dicts (id, rate, condition, onset_s, expect, forbid, duration_s,
turns: list of dicts, t, ar, sr, base_t, base: {cue: (median, spread)}).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from dataclasses import replace

import numpy as np

from monitor.analysis.baseline import BaselineBuilder
from monitor.analysis.cue_windows import CueTracker, other_speech
from monitor.analysis.frame_features import HOP_S
from monitor.analysis.span_measures import pause_runs
from monitor.dsp.runs import runs
from tools import evaluate as ev

DEFAULT_CACHE = os.path.expanduser("~/.cache/callmonitor/eval-cues")
REACH_S = 60.0
"""How far back of the hop turns are looked for (a turn longer than this is never measured)."""


class TurnTracker(CueTracker):
    """The cue tracker, noting the caller's settled turns at every hop (module docstring)."""

    def __init__(self, *a, **k) -> None:
        super().__init__(*a, **k)
        self.turns: list[dict] = []
        self._done_until = -np.inf  # the end of the last turn noted
        self._voice = None

    def caller_voice(self, t):
        me, other = super().caller_voice(t)
        self._voice = (me, other)
        return me, other

    def measure(self, t: float):
        event = super().measure(t)
        self._note_turns(t)
        return event

    def _note_turns(self, t: float) -> None:
        me, other = self._voice
        me = me.between(max(0.0, t - REACH_S), t)
        if not len(me) or not me.speech.any():
            return
        theirs = other_speech(me, other) if other is not None else np.zeros(len(me), bool)
        cfg = self.cfg
        min_pause = int(round(cfg.min_pause_s / HOP_S))
        max_pause = int(round(cfg.max_pause_s / HOP_S))
        ps, pe, gap = pause_runs(me.speech, min_pause, theirs, max_pause)
        pause = np.zeros(len(me), bool)
        for s, e in zip(ps, pe):
            pause[s:e] = True
        # turn time: not a gap; trim each run to its first and last speech frame
        ts, te = runs(~gap)
        for s, e in zip(ts, te):
            sp = np.flatnonzero(me.speech[s:e])
            if not len(sp):
                continue
            s, e = s + sp[0], s + sp[-1] + 1
            start, end = float(me.t[s]) - HOP_S / 2, float(me.t[e - 1]) + HOP_S / 2
            if start <= self._done_until + 1e-6 or s == 0:
                continue  # noted already, or it may begin before the frames looked at
            after = theirs[e:].any()
            if not (after or t - end >= cfg.max_pause_s + 0.1):
                continue
            speaking = ~pause[s:e]
            speaking_s = float(speaking.sum()) * HOP_S
            pause_s = float(pause[s:e].sum()) * HOP_S
            syl = int(np.count_nonzero(me.nucleus[s:e]))
            self.turns.append(dict(start=start, end=end, settled=t, speech_s=float(me.speech[s:e].sum()) * HOP_S,
                                   speaking_s=speaking_s, turn_s=speaking_s + pause_s, syl=syl,
                                   pauses=int(((ps >= s) & (pe <= e)).sum())))
            self._done_until = end


def extract(job: ev.Job, cfg, cache: str) -> dict | None:
    record = ev.cache_load(cache, ev.frames_key(job), ev.FrameRecord)
    if record is None:
        return None
    tracker = TurnTracker(cfg.analysis, record.legs)
    stream = ev.track_cues(record, cfg.analysis, tracker)
    builder = BaselineBuilder(cfg.analysis)
    t, ar, sr = [], [], []
    base_t, base = None, {}
    for cues in stream.cues:
        b = builder.add(cues)
        if b is not None and base_t is None:
            base_t = cues.t
            for c in ("articulation_rate_sps", "speech_rate_sps", "pause_ratio"):
                s = b.stats(c)
                base[c] = None if s is None else (s.median, s.spread)
        t.append(cues.t)
        ar.append(np.nan if cues.value("articulation_rate_sps") is None else cues.articulation_rate_sps)
        sr.append(np.nan if cues.value("speech_rate_sps") is None else cues.speech_rate_sps)
    return dict(id=job.id, rate=job.rate, condition=dict(job.condition), onset_s=job.onset_s,
                expect=job.expect_critical, forbid=job.forbid_critical, duration_s=job.duration_s,
                turns=tracker.turns, t=np.array(t), ar=np.array(ar), sr=np.array(sr),
                base_t=base_t, base=base)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--split", default="tune")
    p.add_argument("--cache", default=DEFAULT_CACHE)
    p.add_argument("--out", required=True)
    p.add_argument("--ids", default=None)
    a = p.parse_args()
    cfg = ev.make_config(ev.Settings())
    jobs = ev.load_jobs(a.folder, a.split)
    if a.ids:
        jobs = [j for j in jobs if j.id in a.ids.split(",")]
    out, start = [], time.time()
    for i, job in enumerate(jobs):
        d = extract(job, cfg, a.cache)
        if d is None:
            print(f"{job.id}@{job.rate}: no cached frames", file=sys.stderr)
            continue
        out.append(d)
        if i % 50 == 0:
            print(f"{i}/{len(jobs)} {time.time() - start:.0f} s", file=sys.stderr)
    with open(a.out, "wb") as fh:
        pickle.dump(out, fh)


if __name__ == "__main__":
    main()
