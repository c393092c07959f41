"""Would a sub-threshold fusion or a trend of the grades find the gradual callers missed within 30 s?

    PYTHONPATH=. python research/gradual/separation.py PROFILE.pkl [PROFILE.pkl ...]

PROFILE.pkl: research/tempo/profile.py's output (the tuning half; healthy calls may be added).
Per hop, each family's grade is its strongest rule's (the long window; ``grade`` with the absolute
limits, ``change`` from the caller's own baseline alone). Four measures, each held 10 s (its
minimum over the last 10 s, then the largest): the sum over families of the grade above 0.5
(at most 1 each), the second family's grade, the two largest grades summed, and the two largest
rises of a family's grade over the last 30 s summed (a trend). Printed: the healthy files' largest
values (whole call, those without a critical with the defaults) and the gradual-onset files
missed within 30 s of the onset (their largest value in that time).
"""

from __future__ import annotations

import pickle
import sys

import numpy as np

from tools import evaluate as ev
from monitor.cue_registry import cue


def families(f: dict, key: str, family_of: dict[str, str]) -> np.ndarray:
    """(F, T): per family, its strongest rule's ``key`` grade per hop (missing: 0)."""
    out: dict[str, np.ndarray] = {}
    for kind, fam in family_of.items():
        g = np.nan_to_num(f[key][kind], nan=0.0)
        out[fam] = np.maximum(out.get(fam, 0.0), g)
    return np.array([out[k] for k in sorted(out)])


def held(x: np.ndarray, t: np.ndarray, s: float) -> np.ndarray:
    """(T,): the minimum of ``x`` over the last ``s`` seconds at each hop."""
    start = np.searchsorted(t, t - s, side="right")
    return np.array([x[a:i + 1].min() for i, a in enumerate(start)])


def measures(f: dict, key: str, family_of: dict[str, str]) -> dict[str, np.ndarray]:
    g, t = families(f, key, family_of), f["t"]
    top = np.sort(g, axis=0)[::-1]
    before = g[:, np.searchsorted(t, t - 30.0)]
    rise = np.sort(g - before, axis=0)[::-1][:2].sum(axis=0)
    raw = {"sub0.5": np.clip(g - 0.5, 0.0, 1.0).sum(axis=0), "second": top[1],
           "top2": top[0] + top[1], "trend2": rise}
    return {k: held(v, t, 10.0) for k, v in raw.items()}


def main() -> None:
    cfg = ev.load_config(None)
    family_of = {r.kind: cue(r.cue).family for r in cfg.rules.acoustic
                 if r.kind in cfg.rules.possible_emergency.kinds}
    files = [f for p in sys.argv[1:] for f in pickle.load(open(p, "rb")) if len(f["t"])]
    for key in ("grade", "change"):
        healthy, missed = [], []
        for f in files:
            name = f"{f['id'][5:]}/{f['rate'] // 1000}"
            if f["forbid"]:
                m = measures(f, key, family_of)
                healthy.append((name + ("*" if f["crit"].any() else ""), {k: v.max() for k, v in m.items()}))
            elif f["expect"] and f["condition"]["onset"] == "gradual":
                w = (f["t"] >= f["onset_s"]) & (f["t"] <= f["onset_s"] + 30.0)
                if f["crit"][w].any() or not w.any():
                    continue
                m = measures(f, key, family_of)
                missed.append((name, {k: v[w].max() for k, v in m.items()}))
        print(f"== {key}: {len(healthy)} healthy files, {len(missed)} gradual files missed within 30 s")
        for k in ("sub0.5", "second", "top2", "trend2"):
            h = sorted((r for r in healthy if not r[0].endswith("*")), key=lambda r: -r[1][k])[:6]
            g = sorted(missed, key=lambda r: -r[1][k])[:6]
            print(f"{k:7s} healthy: " + " ".join(f"{n}={v[k]:.2f}" for n, v in h))
            print(f"{'':7s} missed:  " + " ".join(f"{n}={v[k]:.2f}" for n, v in g))


if __name__ == "__main__":
    main()
