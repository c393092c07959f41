"""Callers labored from the first word against healthy callers, from ``diag.py``'s per-hop rows.

    PYTHONPATH=. python research/start/summarize.py TUNE.pkl --scores MAIN_TUNE.json [HEALTHY.pkl ...]
        [--onsets start,gradual,abrupt] [--tempo]

Labored files of the ``--onsets`` (default ``start``: callers labored from the first word),
critical expected, degrade other than ``tempo`` (``--tempo``: that too); their first 30 s
after the onset. Healthy files: normal calls and hard negatives (critical forbidden), the whole
call; the extra pickles (new healthy calls) count as healthy. ``--scores``: the evaluation JSON
saying which start files main finds within 30 s. Prints (1) per missed start file, per family,
the highest grade, seconds past grade 1 (the drift: evidence grows only there), highest level,
the hop its first judged value came (s after the onset) and when the baseline froze; (2) per
group, the files in which each family agrees (level >= 1) and the most families agreeing at once;
(3) while one family agrees, how far the next family is towards its limit (grade held 5 s);
(4) the share of the caller's sound taken for breaths, and it held jointly with the latency's
grade (10 s); (5) per missed file, how many families agreed at once at most, its strongest level,
the next family's grade held 5 s while one agrees, and how many healthy files reach as far on each
(a miss reached by none stands clear of every healthy file on that measure); (6) the most families
that agreed within W s of one another (each family's last hop at level >= 1 within W s before a hop
of the file's span): what a longer memory of the evidence (a higher cap on the sums) could join.
"""

from __future__ import annotations

import argparse
import json
import pickle
from typing import Any

import numpy as np

FAMS = ("tempo", "pausing", "latency", "voice", "loudness")
HORIZON_S = 30.0
WITHIN_S = (0.0, 10.0, 30.0)


def held(x: np.ndarray, k: int) -> float:
    """Highest value ``x`` (n,) stays at or above for ``k`` consecutive hops (0 if n < k)."""
    return float(np.lib.stride_tricks.sliding_window_view(x, k).min(-1).max()) if x.size >= k else 0.0


def groups(rows: list[dict[str, Any]], scores: dict[tuple[str, int], Any], healthy_only: bool,
           onsets: tuple[str, ...] = ("start",), tempo: bool = False) -> list[tuple[str, dict, np.ndarray]]:
    """(group, row, hop mask) for the labored files of ``onsets`` ("<onset> found" / "<onset> missed"
    within 30 s; tempo-only callers only with ``tempo``) and the healthy files."""
    out = []
    for r in rows:
        c, t = r["cond"], r["tr"]["t"]
        if (not healthy_only and c.get("onset") in onsets and r["expect"]
                and (tempo or c.get("degrade") != "tempo")):
            ttc = scores[(r["id"], r["rate"])]["time_to_critical_s"]
            g = f"{c['onset']} {'found' if ttc is not None and ttc <= HORIZON_S else 'missed'}"
            out.append((g, r, (t >= r["onset"]) & (t <= r["onset"] + HORIZON_S)))
        elif r["forbid"] or c.get("group") == "normal":
            out.append(("healthy", r, np.ones_like(t, bool)))
    return out


def miss_line(r: dict[str, Any], m: np.ndarray) -> str:
    tr, c, on = r["tr"], r["cond"], r["onset"]
    ready = tr["t"][tr["ready"] > 0]
    s = (f"{r['id']}/{r['rate'] // 1000}k {c['severity'][:3]} {c['degrade'][:6]:6s} {str(c['noise'])[:6]:6s} "
         f"{str(c['snr_db']):5s} base@{ready[0] - on if ready.size else -1:3.0f}")
    for f in FAMS:
        g, lv = tr[f][m], tr[f + "_level"][m]
        if np.all(np.isnan(g)):
            s += f" | {f[:5]}    -"
            continue
        first = tr["t"][m][~np.isnan(g)][0] - on
        s += f" | {f[:5]} {np.nanmax(g):4.2f} {int(np.nansum(g > 1)):2d}s L{lv.max():3.1f} @{first:2.0f}"
    return s + f" | speech {tr['speech_s'][m].max():3.1f}s"


def agreeing_within(tr: dict[str, np.ndarray], m: np.ndarray, w: float) -> int:
    """The most families whose last hop at level >= 1 lies within ``w`` s before a hop of mask ``m``
    (hops of shape (n,); hops before the mask count as the past)."""
    t = tr["t"]
    last = np.vstack([np.maximum.accumulate(np.where(tr[f + "_level"] >= 1.0, t, -np.inf)) for f in FAMS])
    return int((last[:, m] >= t[m] - w).sum(0).max()) if m.any() else 0


def breath_share(tr: dict[str, np.ndarray]) -> np.ndarray:
    """Per hop, breaths' time over breaths' and speech's time in the cue window (breaths per
    minute of speech x speech / 60 x mean breath)."""
    n = np.nan_to_num(tr["breaths_per_min"]) * tr["speech_s"] / 60.0
    bt = n * np.nan_to_num(tr["mean_breath_s"])
    return bt / np.maximum(bt + tr["speech_s"], 1e-9)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("tune")
    p.add_argument("healthy", nargs="*")
    p.add_argument("--scores", required=True)
    p.add_argument("--onsets", default="start", help="comma-separated: start, gradual, abrupt")
    p.add_argument("--tempo", action="store_true", help="count the tempo-only callers too")
    a = p.parse_args()
    scores = {(r["id"], r["rate"]): r for r in json.load(open(a.scores))["files"]}
    items = groups(pickle.load(open(a.tune, "rb")), scores, False, tuple(a.onsets.split(",")), a.tempo)
    for path in a.healthy:
        items += groups(pickle.load(open(path, "rb")), scores, True)
    print("(1) missed files, first 30 s: family max grade, s past grade 1, max level, first judged (s)")
    for g, r, m in items:
        if g.endswith(" missed"):
            print("  " + miss_line(r, m))
    print("(2) files with each family agreeing (level >= 1); most families agreeing at once (0/1/2+)")
    stats: dict[str, dict[str, Any]] = {}
    per_file: list[tuple[str, dict[str, Any], int, float, float]] = []
    for g, r, m in items:
        tr = r["tr"]
        lv = np.vstack([tr[f + "_level"][m] for f in FAMS]) >= 1.0
        st = stats.setdefault(g, {"n": 0, "fam": dict.fromkeys(FAMS, 0), "once": [0, 0, 0],
                                  "second": [], "share": [], "joint": []})
        st["n"] += 1
        for i, f in enumerate(FAMS):
            st["fam"][f] += bool(lv[i].any())
        st["once"][min(2, int(lv.sum(0).max()) if lv.size else 0)] += 1
        grade = np.nan_to_num(np.vstack([tr[f][m] for f in FAMS]))
        level = np.vstack([tr[f + "_level"][m] for f in FAMS])
        if level.shape[1]:
            top = level.argmax(0)
            masked = grade.copy()
            masked[top, np.arange(grade.shape[1])] = -np.inf
            st["second"].append(held(np.where(level.max(0) >= 1.0, masked.max(0), 0.0), 5))
            per_file.append((g, r, int(lv.sum(0).max()), float(level.max()), st["second"][-1]))
        share = breath_share(tr)[m]
        lat = (np.nan_to_num(tr["response_latency_s"][m]) - 0.7) / (2.5 - 0.7)
        st["share"].append(held(share, 10))
        st["joint"].append(held(np.minimum(share, lat), 10))
    for g, st in stats.items():
        print(f"  {g:13s} {st['n']:4d} files  " + " ".join(f"{f} {v}" for f, v in st["fam"].items())
              + f"  at once 0/1/2+: {st['once']}")
    print("(3) while one family agrees, the next family's grade held 5 s: files at >= 0.8 / 0.9 / 0.95, max")
    print("(4) breath share held 10 s: max; with the latency's grade jointly: files >= 0.4 / 0.5, max")
    for g, st in stats.items():
        s2, sh, jt = np.array(st["second"]), np.array(st["share"]), np.array(st["joint"])
        print(f"  {g:13s} (3) {(s2 >= 0.8).sum()}/{(s2 >= 0.9).sum()}/{(s2 >= 0.95).sum()} "
              f"max {s2.max():.2f}"
              f"   (4) share max {sh.max():.2f}; joint {(jt >= 0.4).sum()}/{(jt >= 0.5).sum()} max {jt.max():.2f}")
    print("(6) most families agreeing within W s of one another, files at 0 / 1 / 2+, W = 0 / 10 / 30 s")
    within: dict[str, dict[float, list[int]]] = {}
    for g, r, m in items:
        for w in WITHIN_S:
            within.setdefault(g, {}).setdefault(w, [0, 0, 0])[min(2, agreeing_within(r["tr"], m, w))] += 1
    for g, ws in within.items():
        print(f"  {g:14s} " + "   ".join(f"{w:2.0f} s {v}" for w, v in ws.items()))
    print("(5) missed files: most agreeing at once, strongest level, next family held 5 s; "
          "healthy files reaching each")
    healthy = [(lv, s2) for g, _, _, lv, s2 in per_file if g == "healthy"]
    for g, r, once, lv, s2 in per_file:
        if g.endswith(" missed"):
            c = r["cond"]
            print(f"  {r['id']}/{r['rate'] // 1000}k {g.split()[0][:5]:5s} {c['severity'][:3]} {c['degrade'][:6]:6s} "
                  f"{str(c['noise'])[:6]:6s} {str(c['snr_db']):5s} at once {once}  level {lv:4.2f} "
                  f"({sum(h >= lv for h, _ in healthy)} healthy)  next {s2:4.2f} "
                  f"({sum(h >= s2 for _, h in healthy)} healthy)")


if __name__ == "__main__":
    main()
