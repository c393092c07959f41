"""Measured pause ratio against the labels' on breathy voices: per file, the median of the caller's
long-window pause ratio over the first 60 s (from ``research/tempo/profile.py``'s pickle) and the
labels' share of the caller's turn time outside their phrases in the same time.

    PYTHONPATH=. python research/breathy/pause_excess.py PROFILE.pkl DIR [PROFILE.pkl DIR ...] [--top 24]

Prints the files of breathy hard negatives and of callers labored from the first word in the voice
alone, largest excess first, then the median excess per condition over every file.
"""

from __future__ import annotations

import argparse
import json
import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np

FIRST_S = 60.0


def labelled_pause_ratio(label: dict) -> float:
    """Share of the caller's turn time before ``FIRST_S`` outside their labelled phrases."""
    turns = [t for t in label["turns"] if t["speaker"] == "caller" and t["start_s"] < FIRST_S]
    total = sum(t["end_s"] - t["start_s"] for t in turns)
    phrases = sum(p["end_s"] - p["start_s"] for t in turns for p in t["phrases"])
    return 1.0 - phrases / total if total > 0 else float("nan")


def rows(pairs: list[tuple[str, str]]) -> list[dict]:
    out = []
    for pkl, folder in pairs:
        for d in pickle.load(open(pkl, "rb")):
            first = (d["t"] < FIRST_S) & np.isfinite(d["cues"]["pause_ratio"])
            hnr = first & np.isfinite(d["cues"]["hnr_db"])
            if not first.any():
                continue
            c = d["condition"]
            label = json.loads((Path(folder) / f"{d['id']}.json").read_text())
            measured = float(np.median(d["cues"]["pause_ratio"][first]))
            labelled = labelled_pause_ratio(label)
            group = c["negative"] or "/".join(x for x in (c["group"], c["degrade"], c["onset"]) if x)
            out.append(dict(id=d["id"], rate=d["rate"], group=group, noise=c["noise"], snr=c["snr_db"],
                            level=c["caller_level_dbfs"], measured=measured, labelled=labelled,
                            excess=measured - labelled,
                            hnr=float(np.median(d["cues"]["hnr_db"][hnr])) if hnr.any() else float("nan"),
                            crit=float(d["t"][d["crit"]][0]) if d["crit"].any() else None))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("pairs", nargs="+", help="PROFILE.pkl DIR, repeated")
    p.add_argument("--top", type=int, default=24)
    a = p.parse_args()
    data = rows(list(zip(a.pairs[::2], a.pairs[1::2])))
    chosen = [r for r in data if r["group"] in ("breathy", "labored/voice/start")]
    for r in sorted(chosen, key=lambda r: -r["excess"])[:a.top]:
        print(f"{r['excess']:+.2f} {r['id']:<12} {r['rate']:>5} {r['group']:<20} {r['noise']:<7} snr {r['snr']} "
              f"level {r['level']:.1f} measured {r['measured']:.2f} labelled {r['labelled']:.2f} "
              f"HNR {r['hnr']:.1f} dB critical {r['crit']}")
    by = defaultdict(list)
    for r in data:
        by[r["group"]].append(r["excess"])
    print()
    for g in sorted(by):
        v = np.array(by[g])
        print(f"{g:<32} n {len(v):3d} excess median {np.median(v):+.2f} max {v.max():+.2f}")


if __name__ == "__main__":
    main()
