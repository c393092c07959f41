"""Whether a tempo-only labored caller's change stands out from the healthy callers' own, per measure.

    PYTHONPATH=. python research/tempo/separation.py PROFILE.pkl[,PROFILE.pkl ...] [--held 8]

(research/tempo/profile.py's output: the tuning half, the new healthy calls.) For each measure below,
the largest value held ``--held`` hops (the rolling minimum, then its maximum): for every
expected-critical tempo-only file over the 30 s after its onset, for every healthy file (forbid
critical) over the whole call; the tempo-only files' values, the healthy files' largest, and per
noise type the healthy files' largest against the tempo-only files'. Measures (change grades: 0 at
the caller's baseline, 1 at the rule's threshold):

- tempo: the speech rate net of the pauses (slow_speech), as judged;
- tempo, articulation spread: the same drop against the articulation rate's (tighter) spread;
- pausing: the larger of long_pauses and short_phrases;
- both: the smaller of tempo and pausing (the two families moving together);
- both, pauses not longer: the same where the mean pause is at most 1.2 times the baseline's (a
  tempo-only caller pauses more often, not longer; a hesitant one longer).
"""

from __future__ import annotations

import argparse
import collections
import pickle

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def held(x: np.ndarray, n: int) -> float:
    """The largest value ``x`` (T,) keeps for ``n`` hops in a row (missing values break a run)."""
    x = np.where(np.isfinite(x), x, -np.inf)
    return float(sliding_window_view(x, n).min(axis=1).max()) if len(x) >= n else -np.inf


def measures(d: dict) -> dict[str, np.ndarray]:
    """Per hop (T,), each measure of the module docstring for one profiled file."""
    ch, c, m, s = d["change"], d["cues"], d["med"], d["spread"]
    tempo = ch["slow_speech"]
    drop = tempo * np.maximum(0.3, 3 * s["speech_rate_sps"] / m["speech_rate_sps"])
    tight = drop / np.maximum(0.3, 3 * s["articulation_rate_sps"] / m["articulation_rate_sps"])
    pausing = np.fmax(ch["long_pauses"], ch["short_phrases"])
    both = np.fmin(tempo, pausing)
    with np.errstate(divide="ignore", invalid="ignore"):
        longer = c["mean_pause_s"] / m["mean_pause_s"] > 1.2
    return {"tempo": tempo, "tempo, articulation spread": tight, "pausing": pausing, "both": both,
            "both, pauses not longer": np.where(np.isfinite(both) & longer, 0.0, both)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("profiles")
    p.add_argument("--held", type=int, default=8)
    a = p.parse_args()
    tempo: dict[str, list] = collections.defaultdict(list)
    healthy: dict[str, list] = collections.defaultdict(list)
    for path in a.profiles.split(","):
        with open(path, "rb") as fh:
            files = pickle.load(fh)
        for d in files:
            cond, t = d["condition"], d["t"]
            if d["expect"] and cond.get("degrade") == "tempo":
                w, out = (t >= d["onset_s"]) & (t <= d["onset_s"] + 30), tempo
            elif d["forbid"]:
                w, out = np.ones_like(t, bool), healthy
            else:
                continue
            name = f"{d['id']}@{d['rate'] // 1000}k {cond.get('negative') or cond.get('group')} {cond['noise']}"
            for k, v in measures(d).items():
                out[k].append((held(np.where(w, v, np.nan), a.held), name, cond["noise"]))
    for k in tempo:
        tv = sorted((r for r in tempo[k] if r[0] > -np.inf), reverse=True)
        hv = sorted(healthy[k], reverse=True)
        print(f"{k} (held {a.held} hops)")
        print("  tempo-only: " + ", ".join(f"{v:.2f} {n.split()[0]}" for v, n, _ in tv))
        print(f"  healthy ({len(hv)} files), largest: " + ", ".join(f"{v:.2f} {n}" for v, n, _ in hv[:8]))
        for noise in sorted({r[2] for r in hv}):
            h = [v for v, _, z in hv if z == noise][:5]
            tn = [v for v, _, z in tv if z == noise]
            print(f"    {noise:6s} healthy {' '.join(f'{v:.2f}' for v in h):29s} tempo-only {' '.join(f'{v:.2f}' for v in tn)}")


if __name__ == "__main__":
    main()
