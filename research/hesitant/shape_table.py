"""Figures of research/hesitant/phrase_shape.py's pickles, per group, at the first critical and at
the baseline.

    PYTHONPATH=. python research/hesitant/shape_table.py NEW.pkl TUNE.pkl
"""

from __future__ import annotations

import pickle
import sys

import numpy as np

TURN_HEAD_S = 2.0


def figures(s: dict | None) -> dict[str, float]:
    if not s or not len(s["phrases"]):
        return {}
    ph, pa = s["phrases"], s["pauses"]
    out = {"sw_phrase": float((ph ** 2).sum() / ph.sum()), "max_phrase": float(ph.max()),
           "med_phrase": float(np.median(ph)), "n_phr": float(len(ph)),
           "max_pause_share": float(pa.max() / pa.sum()) if len(pa) else 0.0,
           "pauses_ge1": float((pa >= 1.0).sum()), "pause_s": float(pa.sum()),
           "med_pause": float(np.median(pa)) if len(pa) else 0.0}
    return out


def main() -> None:
    rows = [r for p in sys.argv[1:] for r in pickle.load(open(p, "rb"))
            if r["kind"] != "hesitant" or int(r["id"].split("_")[-1]) < 7200]
    keys = ("sw_phrase", "max_phrase", "med_phrase", "n_phr", "max_pause_share", "pauses_ge1", "pause_s", "med_pause")
    groups = sorted({r["kind"] for r in rows})
    print(f"{'group':22s} {'n':>3s} " + " ".join(f"{k:>17s}" for k in keys))
    for g in groups:
        for when in ("crit", "base"):
            figs = [figures(r[when]) for r in rows if r["kind"] == g]
            figs = [f for f in figs if f]
            cells = []
            for k in keys:
                v = np.array([f[k] for f in figs])
                cells.append(f"{np.median(v):5.2f}[{np.quantile(v, .25):4.2f},{np.quantile(v, .75):4.2f}]")
            print(f"{g + ' ' + when:22s} {len(figs):3d} " + " ".join(f"{c:>17s}" for c in cells))
        ratio = []
        for r in rows:
            if r["kind"] == g:
                a, b = figures(r["crit"]), figures(r["base"])
                if a and b:
                    ratio.append(a["sw_phrase"] / b["sw_phrase"])
        print(f"{'':22s}     speech-weighted phrase at critical / at baseline: median {np.median(ratio):.2f} "
              f"[{np.quantile(ratio, .25):.2f}, {np.quantile(ratio, .75):.2f}] min {min(ratio):.2f} max {max(ratio):.2f}")


if __name__ == "__main__":
    main()
