"""How far each family's change from the caller's own baseline goes, held for a while: severe
labored callers within 30 s of their onset against every healthy file.

    PYTHONPATH=. python research/severe/separation.py TUNE.pkl MARGIN.pkl [--hold 3,5,8] [--what change]

Reads research/severe/profile.py's pickles. Per file and family, the *held* grade is the largest
value the family's grade (its strongest rule's; ``--what``: change, grade, absg (absolute) or
schange (short window's change)) stays at or above for ``hold`` hops in a row in which the caller
takes part in the call (weight > 0; hops without a judged cue of the family break the run).
Labored files expected critical: within [onset, onset + 30 s]; healthy files (forbid_critical,
no onset): the whole call; labored files before their onset: up to it. ``--found`` (the defaults'
tools.evaluate --json) splits the labored files into those critical within 30 s and the rest.
"""

from __future__ import annotations

import argparse
import json
import pickle
from collections import defaultdict

import numpy as np

FAMILY = {"slow_speech": "tempo", "long_pauses": "pausing", "short_phrases": "pausing",
          "slow_response": "latency", "breathy_voice": "voice", "weak_voice": "loudness"}
FAMILIES = ("tempo", "pausing", "latency", "voice", "loudness")


def family_series(d: dict, what: str, family: str) -> np.ndarray:
    """(n,) the family's strongest rule's value of ``what`` per hop (NaN: none judged)."""
    cols = [d[what][k] for k in d[what] if FAMILY.get(k) == family]
    if not cols:
        return np.full(len(d["t"]), np.nan)
    stack = np.vstack(cols)
    with np.errstate(all="ignore"):
        return np.where(np.all(np.isnan(stack), axis=0), np.nan, np.nanmax(stack, axis=0))


def held(values: np.ndarray, active: np.ndarray, hold: int) -> float:
    """The largest v such that ``values`` >= v for ``hold`` consecutive active hops (NaN breaks)."""
    v = values[active]
    if len(v) < hold:
        return 0.0
    v = np.where(np.isnan(v), -np.inf, v)
    win = np.lib.stride_tricks.sliding_window_view(v, hold).min(axis=1)
    return float(max(0.0, win.max()))


def span(d: dict, part: str) -> np.ndarray:
    t, onset = d["t"], d["onset_s"]
    if part == "post30":
        return (t >= onset) & (t <= onset + 30.0)
    if part == "pre":
        return t < onset
    return np.ones(len(t), bool)


def profile_rows(files: list[dict], what: str, hold: int) -> list[dict]:
    rows = []
    for d in files:
        if d["expect"]:
            part = "post30"
        elif d["onset_s"] is not None:
            part = "pre"
        else:
            part = "all"
        active = span(d, part) & (d["w"] > 0)
        rows.append(dict(id=d["id"], rate=d["rate"], cond=d["condition"], part=part,
                         expect=d["expect"], forbid=d["forbid"],
                         held={f: held(family_series(d, what, f), active, hold) for f in FAMILIES}))
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("pickles", nargs="+")
    p.add_argument("--hold", default="3,5,8")
    p.add_argument("--what", default="change")
    p.add_argument("--found", default=None, help="evaluate --json of the defaults: mark found files")
    a = p.parse_args()
    files = [d for path in a.pickles for d in pickle.load(open(path, "rb"))]
    found = {}
    if a.found:
        for r in json.load(open(a.found))["files"]:
            ttc = r.get("time_to_critical_s")
            found[(r["id"], r["rate"])] = ttc is not None and ttc <= 30.0
    for hold in map(int, a.hold.split(",")):
        rows = profile_rows(files, a.what, hold)
        groups = defaultdict(list)
        for r in rows:
            c = r["cond"]
            if r["part"] == "post30":
                sev = c.get("severity")
                tag = "found" if found.get((r["id"], r["rate"])) else "missed"
                groups[f"{sev} {tag}"].append(r)
            elif r["part"] == "pre":
                groups["labored pre-onset"].append(r)
            else:
                groups["healthy" if r["forbid"] else "mild/other"].append(r)
        print(f"\n== {a.what}, held {hold} active hops: per family, largest / 95th pct / median; files >= 1.5 / 2 / 2.5")
        for name in sorted(groups):
            rs = groups[name]
            cells = []
            for f in FAMILIES:
                v = np.array([r["held"][f] for r in rs])
                cells.append(f"{f[:5]} {v.max():4.2f}/{np.quantile(v, .95):4.2f}/{np.median(v):4.2f}"
                             f" {int((v >= 1.5).sum()):>2}/{int((v >= 2).sum()):>2}/{int((v >= 2.5).sum()):>2}")
            print(f"{name:<20} {len(rs):>4}  " + " | ".join(cells))


if __name__ == "__main__":
    main()


def per_file(files: list[dict], what: str, hold: int, ids: set[str] | None = None) -> None:
    """One line per labored file expected critical (or of ``ids``): its held grade per family."""
    for r in profile_rows(files, what, hold):
        if (ids is None and r["part"] == "post30") or (ids is not None and r["id"] in ids):
            c = r["cond"]
            print(f"{r['id']} {r['rate']:>5} {c.get('severity') or c.get('negative') or c.get('group'):<10} "
                  f"{c.get('degrade') or '':<15} {c.get('onset') or '':<8} {c.get('noise'):<6} "
                  + " ".join(f"{f[:5]} {r['held'][f]:4.2f}" for f in FAMILIES))
