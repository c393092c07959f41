"""Where the gradual-onset callers are 30 s after their onset, from the labels.

    PYTHONPATH=. python research/gradual/turns.py DIR SCORES.json [--within 30]

DIR is the evaluation corpus, SCORES.json ``tools.evaluate --json ... --files`` over it. Per
expected-critical call with a gradual onset: the ramp's length, the caller's turns that start
within ``--within`` s of the onset, the seconds of the caller's labelled phrases in that time, the
largest turn severity reached (and its share of the call's peak) and the time from the onset to
the first critical at each rate. Sorted by the caller's speech.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def reach(label: dict, within: float) -> tuple[int, float, float]:
    """(caller turns starting in [onset, onset + within], caller phrase seconds there, largest
    turn severity among those turns)."""
    on = label["trouble_onset_s"]
    turns = [t for t in label["turns"] if t["speaker"] == "caller"]
    speech = sum(max(0.0, min(p["end_s"], on + within) - max(p["start_s"], on))
                 for t in turns for p in t["phrases"])
    started = [t for t in turns if on - 0.01 <= t["start_s"] <= on + within]
    return len(started), speech, max((t["severity"] for t in started), default=0.0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("scores")
    p.add_argument("--within", type=float, default=30.0)
    a = p.parse_args()
    ttc: dict[str, dict[int, float | None]] = {}
    for f in json.load(open(a.scores))["files"]:
        ttc.setdefault(f["id"], {})[f["rate"]] = f["time_to_critical_s"]
    rows = []
    for cid, by_rate in ttc.items():
        label = json.loads((Path(a.folder) / f"{cid}.json").read_text())
        c = label["condition"]
        if not label["expect_critical"] or c["onset"] != "gradual":
            continue
        turns, speech, sev = reach(label, a.within)
        peak = label["trouble"]["peak_severity"]
        times = ["miss" if by_rate.get(r) is None else f"{by_rate[r]:.0f}" for r in (16000, 8000)]
        rows.append((speech, f"{cid} {c['severity'][:3]} {c['degrade'][:6]:6s} {c['ramp_s']:4.0f} "
                             f"{turns:5d} {speech:8.1f} {sev:6.2f} {sev / peak:7.2f}  "
                             f"{times[0]:>5s} {times[1]:>5s}"))
    print(f"id        sev deg    ramp turns speech@{a.within:g} sev    of peak  ttc16  ttc8")
    for _, line in sorted(rows):
        print(line)


if __name__ == "__main__":
    main()
