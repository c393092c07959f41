"""The hum test on the agent's leg.

``--real``: a dialogue of the real recordings (agent and caller alternate, the agent at -26 dBFS)
with 60 Hz mains hum (``tools.make_fixtures.hum``) on the agent's line at several levels: how much
of the agent's leg is speech, and the caller's last cue event, with and without the test there.

``DIR --split S --cache CACHE``: the test as the cue tracker runs it on the agent's kept frames up
to every hop (trimmed as ``CueTracker._trim``), over a corpus's cached frames: the hops at which
it takes a frame.

    PYTHONPATH=. python research/hum/agent_legs.py --real
    PYTHONPATH=. python research/hum/agent_legs.py DIR --split tune --cache CACHE
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import replace

import numpy as np

from monitor.analysis.analyzer import analyze_signal
from monitor.analysis.cue_windows import LATENCY_HISTORY_S, CueTracker, floor_hum
from monitor.analysis.frame_features import HOP_S, Frames
from monitor.config import AnalysisConfig
from tools import evaluate as ev
from tools.evaluate import FrameRecord, cache_load, frames_key
from tools.make_fixtures import hum
from research.hum.real_speech import REAL, load


def real(rate: int = 16000) -> None:
    rows = [r["path"] for r in csv.DictReader(open(REAL + "manifest.csv", encoding="utf-8"))
            if float(r["duration_s"]) > 4][:12]
    agent, caller, gap = [], [], np.zeros(rate // 2)
    for a, c in zip(rows[0::2], rows[1::2]):
        a, c = load(a, rate) * 10 ** (4 / 20), load(c, rate)  # -26 dBFS
        agent += [a, gap, np.zeros(len(c)), gap]
        caller += [np.zeros(len(a)), gap, c, gap]
    agent, caller = np.concatenate(agent), np.concatenate(caller)
    cf = analyze_signal(caller.astype(np.float32), rate)
    line = hum(len(agent), 60.0)
    cfg = AnalysisConfig()
    for hum_db in (None, -50.0, -45.0, -40.0, -35.0):
        af = analyze_signal((agent + (0 if hum_db is None else 10 ** (hum_db / 20) * line)).astype(np.float32), rate)
        for test in (False, True):  # (the caller's line is clean: the test takes nothing there)
            tracker = CueTracker(cfg if test else replace(cfg, voice_hum_floor_db=0.0), ("agent", "caller"))
            tracker.add("agent", af)
            tracker.add("caller", cf)
            e = tracker.due(final=True)[-1]
            print(f"agent hum {hum_db} dBFS, test on the agent {test}: agent speech {af.speech.mean():.2f} of the "
                  f"call; caller: latency {e.response_latency_s}, pause ratio {e.pause_ratio:.3f}, turn {e.turn_s} s")


def corpus(directory: str, split: str, cache: str) -> None:
    cfg = AnalysisConfig()
    reach = max(cfg.window_max_s, cfg.short_max_s)
    hops = hit_hops = hit_files = files = 0
    for job in ev.load_jobs(directory, split):
        rec = cache_load(cache, frames_key(job), FrameRecord)
        if rec is None or "agent" not in rec.legs:
            continue
        i = rec.legs.index("agent")
        f = Frames.concat([s[i] for s in rec.fed] + [rec.flushed[i]])
        files += 1
        start, t, hit = 0, cfg.hop_s, False
        while t <= float(f.t[-1]) + HOP_S / 2 + cfg.hop_s + 1e-9:
            kept = f[start:int(np.searchsorted(f.t, t))]
            hops += 1
            if floor_hum(kept, cfg.voice_hum_floor_db, cfg.voice_hum_min_s, cfg.voice_hum_steady_db).any():
                hit_hops, hit = hit_hops + 1, True
            t += cfg.hop_s
            keep_from = t - reach - LATENCY_HISTORY_S - 1.0
            if f.t[start] < keep_from - 5.0:
                start = int(np.searchsorted(f.t, keep_from))
        hit_files += hit
    print(f"{files} files, {hops} hops: the test takes an agent frame at {hit_hops} hops, in {hit_files} files")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--split", default="tune")
    ap.add_argument("--cache")
    ap.add_argument("--real", action="store_true")
    a = ap.parse_args()
    if a.real:
        real()
    else:
        corpus(a.dir, a.split, a.cache)


if __name__ == "__main__":
    main()
