"""The short windows' HNR and loudness grades, alone and together, for voice-only labored callers and
healthy ones (research notes).

    PYTHONPATH=. python research/voiceonly/separation.py TUNE.pkl[,MARGIN.pkl ...]

Input: research/tempo/profile.py's output, run with ``--set rules.weak_voice.short_corroborate=[]``
(so the loudness's short grade is kept as graded). Per file, the largest grade held 3 hops of
breathy_voice's short window (HNR), weak_voice's (loudness), and of the smaller of the two in the
same hop ("together"); for the voice-only labored files the 30 s after the onset, for healthy files
(normal calls, hard negatives, new healthy calls) the whole call, for labored files the time
before their onset. Per group: files, how many reach 1 (the threshold), the largest values.
"""

from __future__ import annotations

import collections
import pickle
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def held(x: np.ndarray, n: int) -> float:
    """The largest value ``x`` (T,) keeps for ``n`` hops in a row (missing values break a run)."""
    x = np.where(np.isfinite(x), x, -np.inf)
    return float(sliding_window_view(x, n).min(axis=1).max()) if len(x) >= n else -np.inf


def group(d: dict) -> tuple[str, np.ndarray] | None:
    cond, t = d["condition"], d["t"]
    if d["expect"] and cond.get("degrade") == "voice":
        return "voice-only, 30 s after onset", (t >= d["onset_s"]) & (t <= d["onset_s"] + 30)
    if d["forbid"]:
        kind = cond.get("negative") or cond.get("group")
        return f"healthy {kind} ({cond.get('noise')})", np.ones_like(t, bool)
    if cond.get("group") == "labored" and d["onset_s"]:
        return "labored, before onset", t < d["onset_s"]
    return None


def main() -> None:
    files = [f for p in sys.argv[1].split(",") for f in pickle.load(open(p, "rb"))]
    rows: dict[str, list[tuple[float, float, float, str]]] = collections.defaultdict(list)
    for d in files:
        g = group(d)
        if g is None:
            continue
        key, w = g
        hnr = np.where(w, d["sgrade"]["breathy_voice"], np.nan)
        loud = np.where(w, d["sgrade"]["weak_voice"], np.nan)
        both = np.fmin(hnr, loud)
        both[~(np.isfinite(hnr) & np.isfinite(loud))] = np.nan
        name = f"{d['id']}@{d['rate'] // 1000}k"
        rows[key].append((held(hnr, 3), held(loud, 3), held(both, 3), name))
    keys = sorted(rows, key=lambda k: (not k.startswith("voice"), k))
    print(f"{'group':38s} files | HNR short >=1, max | loudness short >=1, max | together >=1, max (largest files)")
    for key in keys:
        v = np.array([r[:3] for r in rows[key]])
        top = sorted(rows[key], key=lambda r: -r[2])[:3]
        print(f"{key:38s} {len(v):5d} | {np.sum(v[:, 0] >= 1):3d} {v[:, 0].max():5.2f} | "
              f"{np.sum(v[:, 1] >= 1):3d} {v[:, 1].max():5.2f} | {np.sum(v[:, 2] >= 1):3d} {v[:, 2].max():5.2f} "
              f"({'; '.join(f'{n} {b:.2f}' for _, _, b, n in top)})")


if __name__ == "__main__":
    main()
