"""How broadly a caller's absolute grades move at once: labored-from-the-start callers against healthy ones.

    PYTHONPATH=. python research/startv/breadth.py TUNE.pkl --scores MAIN_TUNE.json [--healthy MARGIN.pkl]

Reads ``research/start/diag.py``'s per-hop rows. Per hop, the four emergency families with absolute
limits (tempo, pausing, latency, voice) give their grade from the absolute limit alone (a family
not judged this hop keeps its last grade, as the fusion keeps it; 0 before its first). Printed: per
group, the files with each family past its limit (grade held 5 s) and its highest grade; then per
hop measures: the k-th largest of the four (k = 2, 3, 4: "two / three / four families at least this
far towards their limits") and the sum of the four grades each capped at 1, a file's figure being
the highest value the measure holds for H consecutive hops (H = 3, 5, 10); ``--files``: per file.
Groups: labored files expected critical, their first 30 s after the onset, by onset, severity and
whether main finds them within 30 s ("(tempo)": callers whose only trouble is the tempo); their
stretch before a later onset ("pre-onset", healthy speech); the healthy files (normal calls and
hard negatives, whole call) of the tuning half and of ``--healthy``.
"""

from __future__ import annotations

import argparse
import json
import pickle
from typing import Any

import numpy as np

FAMS = ("tempo", "pausing", "latency", "voice")
HORIZON_S = 30.0
HOLDS = (3, 5, 10)


def ffill(x: np.ndarray) -> np.ndarray:
    """``x`` (n,) with each NaN replaced by the last value before it (0 before the first)."""
    idx = np.where(np.isnan(x), 0, np.arange(x.size))
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    return np.nan_to_num(out, nan=0.0)


def grades(tr: dict[str, np.ndarray], key: str = "_abs") -> np.ndarray:
    """(4, n) absolute grades of :data:`FAMS`, held over unjudged hops."""
    return np.vstack([ffill(tr[f + key]) for f in FAMS])


def measures(g: np.ndarray) -> dict[str, np.ndarray]:
    """Per hop (n,): 2nd, 3rd and 4th largest grade, the sum of the grades capped at 1."""
    s = np.sort(g, axis=0)[::-1]
    return {"2nd": s[1], "3rd": s[2], "4th": s[3], "sum1": np.minimum(g, 1.0).sum(0)}


def held(x: np.ndarray, k: int) -> float:
    """Highest value ``x`` stays at or above for ``k`` consecutive hops (0 if shorter)."""
    return float(np.lib.stride_tricks.sliding_window_view(x, k).min(-1).max()) if x.size >= k else 0.0


def groups(rows: list[dict[str, Any]], scores: dict | None, healthy_name: str) -> list[tuple[str, dict, np.ndarray]]:
    out = []
    for r in rows:
        c, t = r["cond"], r["tr"]["t"]
        if r["expect"] and scores is not None:
            ttc = scores[(r["id"], r["rate"])]["time_to_critical_s"]
            found = ttc is not None and ttc <= HORIZON_S
            g = f"{c['onset'][:5]} {c['severity'][:3]} {'found' if found else 'missed'}"
            if c["degrade"] == "tempo":
                g += " (tempo)"
            out.append((g, r, (t >= r["onset"]) & (t <= r["onset"] + HORIZON_S)))
            if c["onset"] != "start":
                out.append(("pre-onset", r, t < r["onset"]))
        elif r["forbid"] or c.get("group") == "normal":
            out.append((healthy_name, r, np.ones_like(t, bool)))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("tune")
    p.add_argument("--scores", required=True)
    p.add_argument("--healthy", action="append", default=[])
    p.add_argument("--files", action="store_true", help="print every start file's and the top healthy figures")
    a = p.parse_args()
    scores = {(r["id"], r["rate"]): r for r in json.load(open(a.scores))["files"]}
    items = groups(pickle.load(open(a.tune, "rb")), scores, "healthy tune")
    for path in a.healthy:
        items += groups(pickle.load(open(path, "rb")), None, "healthy margin")
    table: dict[str, dict[str, list[float]]] = {}
    per_file: list[tuple[str, str, dict[str, float]]] = []
    for g, r, m in items:
        ms = measures(grades(r["tr"])[:, m]) if m.any() else None
        vals = {f"{name}@{h}": (held(v, h) if ms is not None else 0.0)
                for name, v in (ms or {"2nd": 0, "3rd": 0, "4th": 0, "sum1": 0}).items() for h in HOLDS}
        for k, v in vals.items():
            table.setdefault(g, {}).setdefault(k, []).append(v)
        c = r["cond"]
        label = (f"{r['id']}/{r['rate'] // 1000}k {c['group'][:4]} {str(c.get('negative') or c.get('degrade'))[:8]:8s} "
                 f"{str(c['noise'])[:6]:6s} {str(c['snr_db'])[:5]:5s}")
        per_file.append((g, label, vals))
    print("per group: files with each family past its absolute limit (grade >= 1 held 5 s); the family's "
          "highest grade held 5 s")
    fam_table: dict[str, list[np.ndarray]] = {}
    for g, r, m in items:
        gr = grades(r["tr"])[:, m]
        fam_table.setdefault(g, []).append(np.array([held(x, 5) for x in gr]))
    for g in sorted(fam_table):
        arr = np.vstack(fam_table[g])
        print(f"{g:26s} {arr.shape[0]:4d} " + "  ".join(
            f"{f} {int((arr[:, i] >= 1).sum()):3d} max {arr[:, i].max():.2f}" for i, f in enumerate(FAMS)))
    keys = [f"{n}@{h}" for n in ("2nd", "3rd", "4th", "sum1") for h in HOLDS]
    print("per group: files, then per measure@hold: max / p90 / median over the files")
    for g in sorted(table):
        print(f"{g:26s} {len(table[g]['2nd@3']):4d} " + "  ".join(
            f"{k} {np.max(table[g][k]):.2f}/{np.percentile(table[g][k], 90):.2f}/{np.median(table[g][k]):.2f}"
            for k in keys))
    if a.files:
        for g, label, vals in sorted(per_file, key=lambda x: (x[0], -x[2]["3rd@5"])):
            if g.startswith("healthy") and vals["4th@5"] < 0.4 and vals["sum1@5"] < 2.6:
                continue
            if g == "pre-onset" and vals["3rd@5"] < 0.6:
                continue
            print(f"{g:26s} {label} " + " ".join(f"{k} {vals[k]:.2f}" for k in keys))


if __name__ == "__main__":
    main()
