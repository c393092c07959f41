"""The wired cue as the engine judges it: turn_articulation_sps against the caller's baseline.

    PYTHONPATH=. python research/turns/judged.py DIR[,DIR ...] [--split tune] [--turns 2] [--min-speech 1.0]

For each file the cue stream with ``analysis.turn_rate_turns`` on (cached by tools.evaluate, else
computed from its cached frames), the baseline as ``tools.evaluate.judge_cues`` builds it, and per
hop once the baseline is frozen the relative drop ``1 - value / median`` (the median of the
cue over the baseline's windows): what ``rules.slow_turns.relative_change`` is compared with.
Printed: for each expected-critical tempo-only file its largest drop within 30 s of the onset (and
the first hop it reached it), for every healthy file (forbid critical) its largest over the whole
call; per line condition the healthy files' largest; and the healthy files above 0.3. With
``--pause-support K`` only the hops where the window's pause ratio is at least K times its
baseline median count (a tempo-only caller pauses more often).
"""

from __future__ import annotations

import argparse
import os

from monitor.analysis.baseline import BaselineBuilder
from tools import evaluate as ev

CACHE = os.path.expanduser("~/.cache/callmonitor/eval-cues")
NOISES = ("none", "pink", "white", "hum", "babble")


def drops(stream: ev.CueStream, cfg, pause_support: float = 0.0) -> list[tuple[float, float]]:
    """(t, drop) per hop with a baseline; with ``pause_support`` only the hops where the long
    window's pause ratio is at least that many times the baseline's median."""
    builder = BaselineBuilder(cfg.analysis)
    out = []
    for cues in stream.cues:
        b = builder.add(cues)
        v = cues.value("turn_articulation_sps")
        s = b.stats("turn_articulation_sps") if b is not None else None
        if v is not None and s is not None and s.median > 0:
            if pause_support > 0:
                pr, ps = cues.value("pause_ratio"), b.stats("pause_ratio")
                if pr is None or ps is None or pr < pause_support * ps.median:
                    continue
            out.append((cues.t, 1.0 - v / s.median))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folders")
    p.add_argument("--split", default="tune")
    p.add_argument("--turns", type=int, default=2)
    p.add_argument("--min-speech", type=float, default=1.0)
    p.add_argument("--cache", default=CACHE)
    p.add_argument("--pause-support", type=float, default=0.0,
                   help="count only hops whose pause ratio is at least this many times the baseline median")
    a = p.parse_args()
    cfg = ev.make_config(ev.Settings(overrides=(("analysis.turn_rate_turns", a.turns),
                                                ("analysis.turn_min_speech_s", a.min_speech))))
    tempo, healthy = [], []
    for folder in a.folders.split(","):
        split = a.split if "generated/eval" in folder else "all"
        for job, stream in ev.cue_streams(ev.load_jobs(folder, split), cfg, a.cache):
            cond = job.condition
            d = drops(stream, cfg, a.pause_support)
            if job.expect_critical and cond.get("degrade") == "tempo":
                w = [(x, t) for t, x in d if job.onset_s <= t <= job.onset_s + 30]
                best = max(w) if w else (float("-inf"), None)
                tempo.append((best[0], best[1], f"{job.id}@{job.rate // 1000}k {cond['severity'][:3]} "
                              f"{cond['onset'][:3]} {cond['noise']} onset {job.onset_s:.0f}"))
            elif job.forbid_critical:
                best = max(d, key=lambda r: r[1]) if d else (None, float("-inf"))
                healthy.append((best[1], best[0], f"{job.id}@{job.rate // 1000}k {cond.get('negative') or cond.get('group')}",
                                cond.get("noise")))
    print(f"turn_rate_turns {a.turns}, turn_min_speech_s {a.min_speech}; relative drop of the cue from its baseline median"
          + (f"; hops with the pause ratio >= {a.pause_support} x its baseline median" if a.pause_support else ""))
    print(f"tempo-only files ({len(tempo)}), largest within 30 s of the onset (at call time):")
    for x, t, name in sorted(tempo, key=lambda r: -r[0]):
        print(f"  {x:6.3f}  {'' if t is None else f'{t:6.0f} s'}  {name}")
    healthy.sort(key=lambda r: -r[0])
    print(f"healthy files ({len(healthy)}), largest over the call: "
          + ", ".join(f"{x:.3f} {n} {z} ({t:.0f} s)" for x, t, n, z in healthy[:10]))
    print("  by line: " + ", ".join(f"{z} {max([x for x, _, _, q in healthy if q == z], default=float('-inf')):.3f}"
                                    for z in NOISES))
    print(f"  healthy files above 0.30: {sum(x > 0.30 for x, *_ in healthy)}, 0.35: {sum(x > 0.35 for x, *_ in healthy)}, "
          f"0.40: {sum(x > 0.40 for x, *_ in healthy)}")


if __name__ == "__main__":
    main()
