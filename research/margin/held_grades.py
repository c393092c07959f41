"""Per healthy file, the highest joint paired grade held for paired_s (offline, from cue streams).

    PYTHONPATH=. python research/margin/held_grades.py DIR [DIR ...] --cache CACHE [--split all]
        [--grades G.pkl ...] [--hold 3] [--files]

Several folders are pooled (``--grades``: one pickle per folder, in the same order). The joint grade of a hop is research/startdiag/pair_sim.py's: the smaller of the latency's absolute
grade and the strongest of tempo, pausing and voice's (NaN as 0); held over ``--hold`` hops (1 s
each: paired_s 3) it is the rolling minimum, and a file's figure is its maximum over the call. A
file with figure >= x is one the pair rule at ``paired_grade`` x would make critical (up to the
online rule's stale-window weighting). Printed: per kind of caller (hard negative's kind, or
normal) the count, maximum, 95th percentile (nearest rank) and files at or above 0.8/0.85/0.9,
then the same for hesitant against all the others, and with ``--files`` every file's figure.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "startdiag"))
from cue_space import FileGrades, load_or_make, rolling_min  # noqa: E402
from pair_sim import joint  # noqa: E402

PARTNERS: tuple[str, ...] = ("tempo", "pausing", "voice")
XS: tuple[float, ...] = (0.7, 0.8, 0.85, 0.9)


def held_max(f: FileGrades, k: int) -> float:
    """The file's highest joint grade held for ``k`` consecutive hops (0 for a shorter file)."""
    r = rolling_min(joint(f, PARTNERS), k)
    return float(r.max()) if r.size else 0.0


def kind_of(f: FileGrades) -> str:
    """The hard negative's kind, or "normal"; labored files (and their pre-onset stretch) by group."""
    if f.group == "hard_negative":
        return f.label.split("/")[0]
    return f.group if f.group != "labored" else f"labored_{f.onset}"


def nearest_rank(v: Sequence[float], q: float) -> float:
    s = sorted(v)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def row(name: str, v: Sequence[float]) -> str:
    if not v:
        return f"{name:16s} {0:4d}"
    past = " ".join(f"{sum(x >= t for x in v):4d}" for t in XS)
    return f"{name:16s} {len(v):4d}  {max(v):5.3f}  {nearest_rank(v, 0.95):5.3f}  {float(np.median(v)):5.3f}  {past}"


def report(files: Sequence[FileGrades], k: int) -> list[str]:
    healthy = [f for f in files if f.group in ("normal", "hard_negative")]
    fig = {(f.id, f.rate): held_max(f, k) for f in healthy}
    kinds = sorted({kind_of(f) for f in healthy})
    head = f"{'kind':16s} {'n':>4s}  {'max':>5s}  {'p95':>5s}  {'med':>5s}  " + " ".join(f">={x:<3g}" for x in XS)
    out = [f"joint paired grade held {k} s, per file (both rates), healthy files", head]
    for kd in kinds:
        out.append(row(kd, [fig[(f.id, f.rate)] for f in healthy if kind_of(f) == kd]))
    out.append("")
    out.append(row("hesitant", [fig[(f.id, f.rate)] for f in healthy if kind_of(f) == "hesitant"]))
    out.append(row("slow+hesitant", [fig[(f.id, f.rate)] for f in healthy if kind_of(f) in ("hesitant", "slow")]))
    out.append(row("not hesitant", [fig[(f.id, f.rate)] for f in healthy if kind_of(f) != "hesitant"]))
    out.append(row("all healthy", list(fig.values())))
    top = sorted(healthy, key=lambda f: -fig[(f.id, f.rate)])[:10]
    out += ["", "highest ten:"] + [f"  {fig[(f.id, f.rate)]:.3f}  {f.id}/{f.rate // 1000}k {f.label}" for f in top]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--grades", nargs="*", default=[],
                   help="per folder, a pickle of cue_space.py's grades (read if it exists, else written)")
    p.add_argument("--hold", type=int, default=3)
    p.add_argument("--files", action="store_true")
    args = p.parse_args(argv)
    pickles = args.grades + [None] * (len(args.folders) - len(args.grades))
    files = [f for d, g in zip(args.folders, pickles) for f in load_or_make(g, d, args.split, args.cache)]
    print("\n".join(report(files, args.hold)))
    if args.files:
        for f in sorted(files, key=lambda f: (f.id, f.rate)):
            if f.group in ("normal", "hard_negative"):
                print(f"{f.id} {f.rate // 1000}k {kind_of(f):14s} {f.label:28s} {held_max(f, args.hold):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
