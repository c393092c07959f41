"""The learned score on healthy calls it never saw (the babble-hold sets), against the engine.

    PYTHONPATH=. python research/fusion/apply.py TUNE.pkl MARGIN.pkl EXTRA.pkl [EXTRA.pkl ...]
        [fit.py's model options: --mil --lam --beta --neg --pos-window --lag --drop --only --without]

Fits the model of ``fit.py`` on every file of the tuning half and the margin corpus; its thresholds
come from the pooled out-of-fold scores of the same 4-fold cross-validation (k = 1 hop): the lowest
with no critical on any of those healthy files (budget 0) and the lowest allowing as many as the
engine has there (budget 6). Prints per EXTRA set (``extract.py`` pickles, every file healthy) the
files with a critical under each threshold and under the engine.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit as F  # noqa: E402


def extra_files(path: str, fams: tuple[str, ...]) -> list[F.File]:
    with open(path, "rb") as fh:
        rows = pickle.load(fh)
    out = []
    for r in rows:
        h = r["hop"]
        if len(h.get("t", ())) == 0:
            continue
        X, _ = F.features(h, fams)
        out.append(F.File(r["id"], r["rate"], r["seed"], "extra", "healthy", -1, r["condition"], None, None,
                          h["t"], h["crit"] > 0, h["undecided"] > 0, X))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("tune")
    p.add_argument("margin")
    p.add_argument("extra", nargs="+")
    p.add_argument("--lam", type=float, default=0.1)
    p.add_argument("--lag", type=float, default=5.0)
    p.add_argument("--pos-window", type=float, default=30.0)
    p.add_argument("--mil", action="store_true")
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--neg", type=float, default=1.0)
    p.add_argument("--drop", default="")
    p.add_argument("--only", default="")
    p.add_argument("--without", default="")
    a = p.parse_args()
    fams = tuple(f for f in F.FAMS if f not in a.without.split(","))
    files, names = F.load([a.tune, a.margin], fams)
    keep = np.ones(len(names), bool)
    for d in filter(None, a.drop.split(",")):
        keep &= ~np.array([n.startswith(d) for n in names])
    if a.only:
        keep &= np.array([any(n.startswith(o) for o in a.only.split(",")) for n in names])
    for f in files:
        f.X = f.X[:, keep]
    oof = F.oof_scores(files, list(range(F.FOLDS)), a, None)
    model = F.fit_files(files, a, None)
    healthy = sorted((F.peak(f, oof[i], 1) for i, f in enumerate(files) if f.kind == "healthy"), reverse=True)
    pre = max(F.peak(f, oof[i], 1, f.onset) for i, f in enumerate(files) if f.onset is not None)
    thr = {b: max(healthy[b], pre) + 1e-9 for b in (0, 6)}
    print(f"features {int(keep.sum())}; mil {a.mil} lam {a.lam}; thresholds budget 0 {thr[0]:.2f}, budget 6 {thr[6]:.2f}")
    for path in a.extra:
        ex = extra_files(path, fams)
        for f in ex:
            f.X = f.X[:, keep]
        scores = [model.score(f.X) for f in ex]
        line = [f"{Path(path).stem:10s} files {len(ex):3d}  engine {sum(len(F.main_times(f)) > 0 for f in ex):2d}"]
        for b, t in thr.items():
            line.append(f"learned (budget {b}) {sum(len(F.crit_times(f, s, t, 1)) > 0 for f, s in zip(ex, scores)):2d}")
        print("  ".join(line))


if __name__ == "__main__":
    main()
