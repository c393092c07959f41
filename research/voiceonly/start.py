"""Voice-only callers labored from the first word against healthy breathy and quiet callers (research notes).

    PYTHONPATH=. python research/voiceonly/start.py TUNE.pkl[,MARGIN.pkl ...]   (research/tempo/profile.py)

Per file, the lowest HNR (long window) held 5 hops and the median HNR and CPPS: for the voice-only
labored files whose onset is the first word, over their first 60 s; for the healthy breathy, elderly
and quiet callers, the whole call. Before a baseline only the absolute limits speak, and loudness
has none (line levels vary), so these are what a caller breathy from the first word shows.
"""

from __future__ import annotations

import collections
import pickle
import sys

import numpy as np

from research.voiceonly.diagnose import held


def main() -> None:
    files = [f for p in sys.argv[1].split(",") for f in pickle.load(open(p, "rb"))]
    rows = collections.defaultdict(list)
    for d in files:
        cond, t = d["condition"], d["t"]
        if d["expect"] and cond.get("degrade") == "voice" and cond.get("onset") == "start":
            key, w = "voice-only from the first word (60 s)", t <= 60
        elif d["forbid"] and cond.get("negative") in ("breathy", "elderly_quiet"):
            key, w = f"healthy {cond['negative']} (whole call)", np.ones_like(t, bool)
        else:
            continue
        hnr = np.where(w, d["cues"]["hnr_db"], np.nan)
        rows[key].append((-held(-hnr, 5), np.nanmedian(hnr), np.nanmedian(np.where(w, d["cues"]["cpps_db"], np.nan)),
                          f"{d['id']}@{d['rate'] // 1000}k {cond['noise']}"))
    for key, r in rows.items():
        lo = np.array([x[0] for x in r])
        med = np.array([x[1] for x in r])
        cp = np.array([x[2] for x in r])
        print(f"{key:40s} files {len(r):3d}: lowest HNR held 5 hops min {lo.min():.1f} median {np.median(lo):.1f} "
              f"max {lo.max():.1f} dB; median HNR {np.median(med):.1f} dB ({med.min():.1f}-{med.max():.1f}); "
              f"median CPPS {np.median(cp):.1f} dB ({cp.min():.1f}-{cp.max():.1f})")
        if key.startswith("voice"):
            print("   " + "; ".join(f"{n} {a:.1f}/{b:.1f}" for a, b, _, n in r))
        else:
            print("   lowest: " + "; ".join(f"{n} {a:.1f}" for a, _, _, n in sorted(r)[:6]))


if __name__ == "__main__":
    main()
