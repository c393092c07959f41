"""The cues as measured: the missed start callers' first 30 s against healthy callers' whole calls.

    PYTHONPATH=. python research/startv/cue_table.py TUNE.pkl --scores MAIN_TUNE.json [--healthy MARGIN.pkl]

From ``raw_cues.py``'s rows. Per file and cue, its *held* value: the furthest towards trouble the cue
stays for 5 consecutive hops on which the rules would judge it (window speech at least 6 s; the
response latency on every hop). Printed per start file missed within 30 s (labored from the first word,
moderate or severe, not a tempo-only caller): each cue's held value and how many healthy files (normal
calls and hard negatives of the tuning half and ``--healthy``) hold it at least as far.
"""

from __future__ import annotations

import argparse
import json
import pickle
from typing import Any

import numpy as np

CUES: dict[str, str] = {  # cue -> direction of trouble
    "speech_rate_sps": "below", "articulation_rate_sps": "below", "pause_ratio": "above",
    "mean_pause_s": "above", "mean_phrase_s": "below", "hnr_db": "below", "cpps_db": "below",
    "response_latency_s": "above",
}
HOLD = 5
HORIZON_S = 30.0


def held(x: np.ndarray, direction: str) -> float:
    """The furthest value towards trouble ``x`` (n,) stays at for :data:`HOLD` consecutive hops
    (NaN hops break a run; NaN if there is no such run)."""
    if x.size < HOLD:
        return np.nan
    w = np.lib.stride_tricks.sliding_window_view(x, HOLD)
    ok = ~np.isnan(w).any(-1)
    if not ok.any():
        return np.nan
    w = w[ok]
    return float(w.min(-1).max()) if direction == "above" else float(w.max(-1).min())


def file_values(r: dict[str, Any], mask: np.ndarray) -> dict[str, float]:
    tr = r["tr"]
    judged = tr["speech_s"] >= 6.0
    out = {}
    for c, d in CUES.items():
        x = tr[c].copy()
        if c != "response_latency_s":
            x[~judged] = np.nan
        out[c] = held(x[mask], d)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("tune")
    p.add_argument("--scores", required=True)
    p.add_argument("--healthy", action="append", default=[])
    a = p.parse_args()
    scores = {(r["id"], r["rate"]): r for r in json.load(open(a.scores))["files"]}
    misses, healthy = [], []
    for path in [a.tune] + a.healthy:
        for r in pickle.load(open(path, "rb")):
            c, t = r["cond"], r["tr"]["t"]
            if r["expect"] and path == a.tune:
                ttc = scores[(r["id"], r["rate"])]["time_to_critical_s"]
                if c["onset"] == "start" and c["degrade"] != "tempo" and (ttc is None or ttc > HORIZON_S):
                    misses.append((r, file_values(r, (t >= r["onset"]) & (t <= r["onset"] + HORIZON_S))))
            elif r["forbid"] or c.get("group") == "normal":
                healthy.append((r, file_values(r, np.ones_like(t, bool))))
    print(f"per missed start file: each cue held 5 s in its first 30 s, and [healthy files (of {len(healthy)}) "
          "holding it at least as far]")
    print("file           sev deg    " + " ".join(f"{c[:14]:>20s}" for c in CUES))
    for r, v in misses:
        c = r["cond"]
        cells = []
        for cue, d in CUES.items():
            h = np.array([hv[cue] for _, hv in healthy])
            h = h[~np.isnan(h)]
            n = int((h >= v[cue]).sum() if d == "above" else (h <= v[cue]).sum()) if not np.isnan(v[cue]) else -1
            cells.append(f"{v[cue]:8.2f} [{n:4d}]")
        print(f"{r['id']}/{r['rate'] // 1000:<2d} {c['severity'][:3]} {c['degrade'][:6]:6s} " + " ".join(f"{x:>20s}" for x in cells))
    print("healthy p5 / p50 / p95 (towards trouble first):")
    for cue, d in CUES.items():
        h = np.array([hv[cue] for _, hv in healthy])
        h = h[~np.isnan(h)]
        q = np.percentile(h, [95, 50, 5] if d == "above" else [5, 50, 95])
        print(f"  {cue:22s} {q[0]:6.2f} {q[1]:6.2f} {q[2]:6.2f}   (n {h.size})")


if __name__ == "__main__":
    main()
