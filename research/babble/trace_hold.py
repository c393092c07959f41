"""Hop by hop around a healthy file's first critical: since when the cue events name a silence of
clear talk and a hold, each family's level, the window's speech and the grades past 1 (long and
short windows).

    PYTHONPATH=. python research/babble/trace_hold.py DIR ID RATE [--split all] [--cache DIR]
        [--before S] [--after S] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from research.tempo.profile import profile
from tools import evaluate as ev

DEFAULT_CACHE = ev.default_cache_dir()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("id")
    p.add_argument("rate", type=int)
    p.add_argument("--split", default="all")
    p.add_argument("--cache", default=DEFAULT_CACHE)
    p.add_argument("--before", type=float, default=30.0)
    p.add_argument("--after", type=float, default=3.0)
    p.add_argument("--at", type=float, default=None, help="centre (default: the first critical)")
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args()
    over = tuple((k, json.loads(v)) for k, v in (s.split("=", 1) for s in a.set))
    cfg = ev.make_config(ev.Settings(overrides=over))
    jobs = [j for j in ev.load_jobs(a.folder, a.split) if j.id == a.id and j.rate == a.rate]
    for job, stream in ev.cue_streams(jobs, cfg, a.cache):
        d = profile(stream, cfg)
        caller = [c for c in stream.cues if c.channel == "caller"]
        hs, qs = [c.hold_since for c in caller], [c.quiet_since for c in caller]
        t = d["t"]
        at = a.at if a.at is not None else (t[d["crit"]][0] if d["crit"].any() else t[-1])
        fams = [f for f in d["level"] if np.nanmax(np.nan_to_num(d["level"][f])) > 0.5]
        print("t    quiet  hold  speech_s " + " ".join(f"{f[:6]:>6}" for f in fams) + "  grades>1")
        for i in np.flatnonzero((t >= at - a.before) & (t <= at + a.after)):
            g = {k[:10]: v[i] for k, v in d["grade"].items() if np.isfinite(v[i]) and v[i] >= 1.0}
            sg = {"s:" + k[:8]: v[i] for k, v in d["sgrade"].items() if np.isfinite(v[i]) and v[i] >= 1.0}
            h = "-" if hs[i] is None else f"{hs[i]:.0f}"
            q = "-" if qs[i] is None else f"{qs[i]:.0f}"
            print(f"{t[i]:5.0f} {q:>5} {h:>5} {d['cues']['speech_s'][i]:5.1f} "
                  + " ".join(f"{d['level'][f][i]:6.2f}" for f in fams)
                  + ("  CRIT" if d["crit"][i] else "      ")
                  + " " + " ".join(f"{k}={v:.1f}" for k, v in {**g, **sg}.items()))


if __name__ == "__main__":
    main()
