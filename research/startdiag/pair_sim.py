"""Offline: a critical when the latency and another family are both past a share of their absolute
limits at once, held for some seconds (before any rule change; reads cue_space.py's grades pickle).

    PYTHONPATH=. python research/startdiag/pair_sim.py GRADES.pkl MAIN.json [--partners tempo,pausing,voice]

Per (grade x, hold k): the start-labored files (moderate, severe) it makes critical within 30 s of the
onset (and of those, the ones main misses there), and the healthy, pre-onset and other labored files
it fires on at all.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from typing import Any

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from cue_space import FAMILY_NAMES, FileGrades, group_of, scores_of  # noqa: E402


def joint(f: FileGrades, partners: tuple[str, ...]) -> np.ndarray:
    """Per hop, (n,): min(latency grade, the strongest partner family's grade); NaN counts as 0."""
    g = np.nan_to_num(f.grades, nan=0.0)
    lat = g[FAMILY_NAMES.index("latency")]
    other = np.max(np.vstack([g[FAMILY_NAMES.index(p)] for p in partners]), axis=0)
    return np.minimum(lat, other)


def first_held(f: FileGrades, j: np.ndarray, x: float, k: int) -> float | None:
    """Call time at which ``j`` (n,) has been >= x for k consecutive hops, or None."""
    run = 0
    ok = j >= x
    # run lengths, vectorised: position minus the last position where ok was False
    idx = np.arange(ok.size)
    last_false = np.maximum.accumulate(np.where(~ok, idx, -1))
    run = idx - last_false
    hit = np.flatnonzero(run >= k)
    return None if hit.size == 0 else float(f.t[hit[0]])


def table(files: list[FileGrades], det: dict[tuple[str, int], bool], partners: tuple[str, ...],
          xs: list[float], ks: list[int]) -> list[str]:
    out = [f"{'x':>5s} {'k':>3s} | start@30 (missed by main) | healthy pre_onset | other_labored fires | healthy files"]
    for x in xs:
        for k in ks:
            hits: dict[str, list[Any]] = {}
            for f in files:
                t = first_held(f, joint(f, partners), x, k)
                if t is not None:
                    hits.setdefault(group_of(f), []).append((f, t - f.t[0] if f.t.size else 0.0))
            start = [(f, dt) for f, dt in hits.get("start", []) if dt <= 30.0]
            missed = [f for f, _ in start if not det.get((f.id, f.rate), False)]
            who = ", ".join(f"{f.id}/{f.rate // 1000}k {f.label}" for f, _ in hits.get("healthy", [])[:3])
            out.append(f"{x:5.2f} {k:3d} | {len(start):3d} ({len(missed):2d})            | "
                       f"{len(hits.get('healthy', [])):5d} {len(hits.get('pre_onset', [])):5d}     | "
                       f"{len(hits.get('other_labored', [])):5d}               | {who}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("grades")
    p.add_argument("scores")
    p.add_argument("--partners", default="tempo,pausing,voice")
    args = p.parse_args(argv)
    with open(args.grades, "rb") as fh:
        files = pickle.load(fh)
    det = scores_of(args.scores)
    partners = tuple(args.partners.split(","))
    print(f"partners of the latency: {', '.join(partners)}")
    print("\n".join(table(files, det, partners, [0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0], [3, 5, 8, 10, 15])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
