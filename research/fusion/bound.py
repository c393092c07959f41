"""An in-sample bound at zero false criticals: any one evidence feature past every healthy hop's value.

    PYTHONPATH=. python research/fusion/bound.py TUNE.pkl MARGIN.pkl

For each evidence feature of ``fit.py`` (grades, sums, pairs, products, order statistics, the
engine's score: higher is more labored), its threshold is the highest value any healthy file or any
labored file before its onset reaches (hops of an undecided silence left out). A moderate or severe
file counts as found by the feature if the feature passes that threshold in the 30 s after its onset.
The union over all features is what the best rule of the form "some feature past its healthy
maximum" could find with no false critical on these very files: chosen on what it scores, an upper
bound for such rules (a fusion that combines features may find more). Printed per condition.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit as F  # noqa: E402

EVIDENCE = ("grade", "short", "abs", "change", "sustained", "cusum", "pair", "product", "order", "engine")


def healthy_hops(f: F.File) -> np.ndarray | None:
    """The file's hops that must stay quiet (a healthy file's, a labored file's before its onset)."""
    if f.kind == "healthy":
        return ~f.undecided
    return ~f.undecided & (f.t < f.onset) if f.onset is not None else None


def maxima(files: list[F.File], cols: list[int]) -> np.ndarray:
    """Per feature, the highest value on the hops that must stay quiet."""
    top = np.full(len(cols), -np.inf)
    for f in files:
        keep = healthy_hops(f)
        if keep is not None and keep.any():
            top = np.maximum(top, f.X[keep][:, cols].max(axis=0))
    return top


def cross_validated(files: list[F.File], cols: list[int]) -> str:
    """The same union with each feature's maximum taken on the other three folds: held-out files
    found within 30 s, healthy files with a feature past it, labored files past it before the onset."""
    found = fa = pre = pos = healthy = 0
    for k in range(F.FOLDS):
        top = maxima([f for f in files if f.fold != k], cols)
        for f in (f for f in files if f.fold == k):
            keep = healthy_hops(f)
            if keep is not None and keep.any():
                hit = bool((f.X[keep][:, cols] > top + 1e-9).any())
                fa += hit and f.kind == "healthy"
                pre += hit and f.kind != "healthy"
            healthy += f.kind == "healthy"
            if f.kind == "pos":
                pos += 1
                win = ~f.undecided & (f.t >= f.onset) & (f.t <= f.onset + F.WITHIN_S)
                found += bool(win.any() and (f.X[win][:, cols] > top + 1e-9).any())
    return (f"cross-validated (maxima from the other folds): {found} of {pos} within 30 s, "
            f"{fa} of {healthy} healthy files and {pre} labored files before the onset past a maximum")


def never_together(files: list[F.File], names: list[str]) -> str:
    """Cross-validated: the pairs of families (and "any three") whose sums never both rise above
    zero on the training folds' quiet hops; a held-out file is critical once one of them does."""
    cand = [j for j, n in enumerate(names) if n.startswith("pair:level") or n == "order:level_top3"]
    found = fa = pre = main_found = both = 0
    for k in range(F.FOLDS):
        top = maxima([f for f in files if f.fold != k], cand)
        rules = [j for j, t in zip(cand, top) if t <= 1e-9]
        for f in (f for f in files if f.fold == k):
            keep = healthy_hops(f)
            if keep is not None and keep.any() and (f.X[keep][:, rules] > 1e-9).any():
                fa += f.kind == "healthy"
                pre += f.kind != "healthy"
            if f.kind == "pos":
                win = ~f.undecided & (f.t >= f.onset) & (f.t <= f.onset + F.WITHIN_S)
                hit = bool(win.any() and (f.X[win][:, rules] > 1e-9).any())
                by_main = F.ttc(F.main_times(f), f.onset) <= F.WITHIN_S
                found, main_found, both = found + hit, main_found + by_main, both + (hit and by_main)
    return (f"families never accumulating together on a training fold's quiet hops (cross-validated): "
            f"{found} within 30 s ({both} of them found by main too; main {main_found}), "
            f"{fa} healthy files and {pre} labored files before the onset critical")


def main() -> None:
    files, names = F.load(sys.argv[1:3], F.FAMS)
    cols = [j for j, n in enumerate(names) if n.split(":")[0] in EVIDENCE]
    top = maxima(files, cols)
    rows: dict[str, list[int]] = defaultdict(list)
    counts = np.zeros(len(cols), int)
    for f in files:
        if f.kind != "pos":
            continue
        win = ~f.undecided & (f.t >= f.onset) & (f.t <= f.onset + F.WITHIN_S)
        past = (f.X[win][:, cols] > top + 1e-9).any(axis=0) if win.any() else np.zeros(len(cols), bool)
        counts += past
        for c in ["all"] + F.conditions(f):
            rows[c].append(int(past.any()))
    print("moderate/severe files with some evidence feature past its healthy maximum within 30 s of the onset")
    for c in ["all"] + sorted(x for x in rows if x != "all"):
        print(f"  {c:24s} {sum(rows[c]):3d} of {len(rows[c]):3d}")
    print(cross_validated(files, cols))
    print(never_together(files, names))
    print("features finding the most files alone:")
    for j in np.argsort(-counts)[:12]:
        print(f"  {names[cols[j]]:32s} {counts[j]:3d}  (healthy maximum {top[j]:.2f})")


if __name__ == "__main__":
    main()
