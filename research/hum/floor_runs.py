"""How much of the caller leg's speech the hum test (``analysis.voice_hum_*``) takes, inside and
outside the labelled caller phrases (whole calls, the analyzer's cached frames, before any other gate).

    PYTHONPATH=. python research/hum/floor_runs.py DIR --split tune --cache CACHE

Per line noise and group, seconds of caller-leg speech inside / outside the caller's phrases, then
what each setting (floor dB, min s, steady dB) takes inside / outside.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from monitor.analysis.cue_windows import floor_hum
from monitor.analysis.frame_features import HOP_S, Frames
from tools import evaluate as ev
from tools.background_talk import inside, label_spans
from tools.evaluate import FrameRecord, cache_load, frames_key

SETTINGS = ((3.0, 0.2, 1.0), (3.0, 0.2, 99.0), (3.0, 0.3, 1.0), (3.0, 0.1, 1.0), (6.0, 0.2, 1.0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--split", default="tune")
    ap.add_argument("--cache", required=True)
    a = ap.parse_args()
    tot: dict[tuple, float] = defaultdict(float)
    for job in ev.load_jobs(a.dir, a.split):
        rec = cache_load(a.cache, frames_key(job), FrameRecord)
        if rec is None:
            continue
        i = rec.legs.index("caller") if "caller" in rec.legs else 0
        f = Frames.concat([s[i] for s in rec.fed] + [rec.flushed[i]])
        label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
        ph = inside(f.t, label_spans(label)["caller_phrases"])
        c = job.condition
        key = f"{c.get('noise')}/{c.get('severity') or 'none'}"
        tot[(key, "in")] += f.speech[ph].sum() * HOP_S
        tot[(key, "out")] += f.speech[~ph].sum() * HOP_S
        for s in SETTINGS:
            taken = floor_hum(f, *s)
            tot[(key, "in", s)] += taken[ph].sum() * HOP_S
            tot[(key, "out", s)] += taken[~ph].sum() * HOP_S
    print("noise/severity: speech s in / out of the caller's phrases | per (floor dB, min s, steady dB): taken in / out")
    for k in sorted({k[0] for k in tot}):
        cells = "  ".join(f"{s[0]:g},{s[1]:g},{s[2]:g}: {tot[(k, 'in', s)]:.0f}/{tot[(k, 'out', s)]:.0f}" for s in SETTINGS)
        print(f"{k:<16} {tot[(k, 'in')]:6.0f}/{tot[(k, 'out')]:5.0f} | {cells}")


if __name__ == "__main__":
    main()
