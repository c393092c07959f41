"""Offline: when would "one family far beyond the caller's own baseline for a while" raise?

    PYTHONPATH=. python research/severe/simulate.py TUNE.pkl [MARGIN.pkl ...] --found RUN.json
        [--grades 1.75,2,2.25,2.5] [--holds 3,5,8] [--families tempo,pausing,...]

Per hop (research/severe/profile.py's pickles), a family's held time grows by the hop's weight
while its change grade (its strongest rule's, long window) is at least G, holds still on hops of
weight 0, over a hold for the loudness (the engine's hold_families) and where the family has no
judged cue, and restarts below G. The clause fires at the first hop where a family of
``--families`` has held S seconds. Against RUN.json (the defaults' tools.evaluate --json of the
same files): labored files expected critical newly within 30 s of the onset, healthy files that
would fire (any time), labored files that would fire before their onset.
"""

from __future__ import annotations

import argparse
import json
import pickle

import numpy as np

from separation import FAMILIES, family_series


def first_fire(d: dict, grade: float, hold_s: float, families: tuple[str, ...]) -> tuple[float, str] | None:
    best = None
    for f in families:
        g = family_series(d, "change", f)
        held = 0.0
        for i, t in enumerate(d["t"]):
            w = d["w"][i]
            if w <= 0 or np.isnan(g[i]) or (f == "loudness" and d["hold"][i]):
                continue
            held = held + w if g[i] >= grade else 0.0
            if held >= hold_s - 1e-9:
                if best is None or t < best[0]:
                    best = (float(t), f)
                break
    return best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("pickles", nargs="+")
    p.add_argument("--found", action="append", default=[])
    p.add_argument("--grades", default="1.75,2,2.25,2.5")
    p.add_argument("--holds", default="3,5,8")
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--list", action="store_true")
    a = p.parse_args()
    files = [d for path in a.pickles for d in pickle.load(open(path, "rb"))]
    ttc = {}
    for path in a.found:
        for r in json.load(open(path))["files"]:
            ttc[(r["id"], r["rate"])] = (r["time_to_critical_s"], r["criticals"], r["first_critical_t"])
    fams = tuple(a.families.split(","))
    for grade in map(float, a.grades.split(",")):
        for hold in map(float, a.holds.split(",")):
            gain = {"severe": [], "moderate": []}
            sooner, fa, pre = 0, [], []
            for d in files:
                fire = first_fire(d, grade, hold, fams)
                if fire is None:
                    continue
                t, fam = fire
                old, crits, first_t = ttc.get((d["id"], d["rate"]), (None, 0, None))
                if d["expect"]:
                    if t < d["onset_s"]:
                        pre.append((d["id"], d["rate"], fam, t))
                    elif t - d["onset_s"] <= 30 and (old is None or old > 30):
                        gain[d["condition"]["severity"]].append((d["id"], d["rate"], fam, round(t - d["onset_s"], 1)))
                    elif old is not None and t - d["onset_s"] < old:
                        sooner += 1
                elif d["forbid"] and crits == 0:
                    fa.append((d["id"], d["rate"], d["condition"].get("negative") or "normal", d["condition"].get("noise"), fam, t))
                elif d["onset_s"] is not None and t < d["onset_s"]:
                    pre.append((d["id"], d["rate"], fam, t))
            print(f"G {grade:4.2f} S {hold:3.0f}: +severe {len(gain['severe'])} +moderate {len(gain['moderate'])} "
                  f"sooner {sooner}  new false criticals {len(fa)}  before onset {len(pre)}")
            if a.list:
                for k in ("severe", "moderate"):
                    for x in gain[k]:
                        print("   +", k, *x)
                for x in fa:
                    print("   FA", *x)
                for x in pre:
                    print("   pre", *x)


if __name__ == "__main__":
    main()
