"""What the cues look like at each first critical: hesitant callers against labored ones.

    PYTHONPATH=. python research/hesitant/at_critical.py NEW.pkl TUNE.pkl

(pickles of research/hesitant/profile.py). Per file with a critical (a hesitant caller's first
critical; a labored caller's first critical after its onset), at that hop: the families at level
>= 1, and each cue against the caller's baseline median (ratio, or dB difference for HNR and
loudness). Printed: per group the median and quartiles of each figure, and how much of the
speech rate's drop the pause ratio's rise explains: a speech rate is the articulation rate times
(1 - pause ratio), so log(speech/base) = log(artic/base) + log((1-pr)/(1-pr_base)).
"""

from __future__ import annotations

import pickle
import sys
from collections import Counter

import numpy as np

RATIO = ("speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_pause_s", "mean_phrase_s",
         "response_latency_s")
DIFF = ("hnr_db", "loudness_dbfs", "breaths_per_min", "paused_breath_share")


def first_crit(d: dict) -> int | None:
    crit = d["crit"].copy()
    if d["onset_s"] is not None:
        crit &= d["t"] >= d["onset_s"]
    idx = np.flatnonzero(crit)
    return int(idx[0]) if idx.size else None


def figures(d: dict, i: int) -> dict:
    c, b = d["cues"], d["base"]
    out = {k: c[k][i] / b[k][i] if b[k][i] else np.nan for k in RATIO}
    out.update({k: c[k][i] - b[k][i] for k in DIFF})
    out["pause_part"] = np.log((1 - c["pause_ratio"][i]) / (1 - b["pause_ratio"][i]))
    out["artic_part"] = np.log(c["articulation_rate_sps"][i] / b["articulation_rate_sps"][i])
    out["fams"] = "+".join(sorted(f for f, v in d["level"].items() if v[i] >= 1 - 1e-9))
    return out


def group(d: dict) -> str | None:
    c = d["condition"]
    if c.get("negative") == "hesitant":
        return "hesitant"
    if c.get("group") == "labored" and c.get("severity") in ("moderate", "severe"):
        return f"labored/{c.get('degrade')}"
    return None


def main() -> None:
    files = [d for p in sys.argv[1:] for d in pickle.load(open(p, "rb"))]
    by: dict[str, list[dict]] = {}
    for d in files:
        g, i = group(d), first_crit(d)
        if g is None or i is None:
            continue
        if g == "hesitant" and not (7000 <= int(d["id"].split("_")[-1]) < 7200 or d["id"].startswith("ev")):
            continue
        by.setdefault(g, []).append(figures(d, i))
    keys = RATIO + DIFF + ("pause_part", "artic_part")
    print(f"{'group':24s} {'n':>3s} " + " ".join(f"{k[:12]:>16s}" for k in keys))
    for g, rows in sorted(by.items()):
        qs = []
        for k in keys:
            v = np.array([r[k] for r in rows], float)
            v = v[np.isfinite(v)]
            qs.append(f"{np.median(v):5.2f}[{np.quantile(v, .25):4.2f},{np.quantile(v, .75):4.2f}]" if v.size else "-")
        print(f"{g:24s} {len(rows):3d} " + " ".join(f"{q:>16s}" for q in qs))
        print(f"{'':24s}     families: {dict(Counter(r['fams'] for r in rows).most_common())}")


if __name__ == "__main__":
    main()
