"""Run peaks of the caller's leg against the talk it carried under the agent's speech just before.

    PYTHONPATH=. python research/babble/local_ref.py REF_S MIN_S QUANTILE DIR SPLIT CACHE [DIR SPLIT CACHE ...]

For every run of 0.3 s or more of the caller leg's speech frames (the analyzer's cached frames, no
voice gate) on the babble calls: its loudest frame less the QUANTILE of the energy of the leg's
last REF_S seconds of speech frames heard under the agent's speech before it (at least MIN_S of
them; else the run is left out), by where the run lies against the labels (the caller's turns:
healthy, or a labored caller's after the onset by severity; holds; under the agent's turns; gaps).
What ``analysis.hold_rest_above_db`` separates (research/babble/README.md, "A hold found against the talk heard
under the agent").
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import numpy as np

from monitor.analysis.cue_windows import other_speech
from monitor.analysis.frame_features import HOP_S, Frames
from monitor.dsp.voice_gate import run_peaks
from tools import evaluate as ev


def leg(record: ev.FrameRecord, name: str) -> Frames:
    i = record.legs.index(name)
    return Frames.concat([s[i] for s in record.fed] + [record.flushed[i]])


def place(tm: float, label: dict, theirs: bool, cond: dict) -> str:
    turns = label["turns"] if isinstance(label["turns"], list) else ast.literal_eval(label["turns"])
    if any(e["start_s"] <= tm <= e["end_s"] for e in label.get("events", []) if e["kind"] == "hold"):
        return "hold"
    if any(t["start_s"] <= tm <= t["end_s"] for t in turns if t["speaker"] == "caller"):
        if cond.get("group") != "labored":
            return "caller_healthy"
        return f"caller_{cond['severity']}" if tm > (label.get("trouble_onset_s") or 0.0) else "caller_before_onset"
    return "under_agent" if theirs else "gap"


def main() -> int:
    ref_s, min_s, q = (float(a) for a in sys.argv[1:4])
    rest = sys.argv[4:]
    out: dict[str, list[float]] = {}
    for folder, split, cache in zip(rest[0::3], rest[1::3], rest[2::3]):
        for job in ev.load_jobs(folder, split):
            if job.condition.get("noise") != "babble":
                continue
            record = ev.cache_load(cache, ev.frames_key(job), ev.FrameRecord)
            if record is None:
                continue
            label = json.loads((Path(job.path).parent / f"{job.id}.json").read_text())
            caller, agent = leg(record, "caller"), leg(record, "agent")
            theirs = other_speech(caller, agent)
            starts, ends, peaks = run_peaks(caller.energy_db, caller.speech)
            under = caller.speech & theirs
            n = int(ref_s / HOP_S)
            for s, e, p in zip(starts, ends, peaks):
                heard = caller.energy_db[:s][under[:s]][-n:]
                if (e - s) * HOP_S < 0.3 or len(heard) * HOP_S < min_s:
                    continue
                mid = (s + e) // 2
                out.setdefault(place(caller.t[mid], label, bool(theirs[mid]), job.condition), []).append(
                    p - np.quantile(heard, q))
    for k, v in sorted(out.items()):
        v = np.array(v)
        print(f"{k:20s} runs {len(v):5d}  p10/25/50/75/90 {np.round(np.percentile(v, [10, 25, 50, 75, 90]), 1)}"
              f"  over 4 dB {np.mean(v > 4):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
