"""What the voice-only labored callers' voice cues and fusion do after the onset (research notes).

    PYTHONPATH=. python research/voiceonly/diagnose.py TUNE.pkl      (research/tempo/profile.py's output)

Per expected-critical voice-only file, over the 30 s after its onset: the baseline's median and
robust spread of HNR, CPPS and loudness (the long window's; "-" before the baseline), the largest
drop of each held 5 hops (dB), the breathy_voice (HNR) and weak_voice (loudness) grades held 5 hops
(long window) and 3 hops (short window), the absolute grade's part, each family's largest level,
and the first critical after the onset.
"""

from __future__ import annotations

import pickle
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def held(x: np.ndarray, n: int) -> float:
    """The largest value ``x`` (T,) keeps for ``n`` hops in a row (missing values break a run)."""
    x = np.where(np.isfinite(x), x, -np.inf)
    return float(sliding_window_view(x, n).min(axis=1).max()) if len(x) >= n else -np.inf


def first(x: np.ndarray) -> float:
    """The first finite value of ``x`` (T,), NaN if none."""
    f = x[np.isfinite(x)]
    return float(f[0]) if f.size else float("nan")


def row(d: dict, w: np.ndarray) -> str:
    c, m, s = d["cues"], d["med"], d["spread"]
    drop = lambda k: held(np.where(w, m[k] - c[k], np.nan), 5)  # noqa: E731
    g = lambda k, n=5, key="grade": held(np.where(w, d[key][k], np.nan), n)  # noqa: E731
    lv = lambda f: float(np.nanmax(np.where(w, d["level"][f], np.nan)))  # noqa: E731
    crit = d["t"][w & d["crit"]]
    base = " ".join(f"{first(np.where(w, m[k], np.nan)):5.1f}/{first(np.where(w, s[k], np.nan)):3.1f}"
                    for k in ("hnr_db", "cpps_db", "loudness_dbfs"))
    raw = " ".join(f"{np.nanmedian(np.where(w, c[k], np.nan)):5.1f}" for k in ("hnr_db", "cpps_db", "loudness_dbfs"))
    drops = " ".join(f"{drop(k):5.1f}" for k in ("hnr_db", "cpps_db", "loudness_dbfs"))
    grades = (f"{g('breathy_voice'):5.2f} {g('breathy_voice', 3, 'sgrade'):5.2f} {g('weak_voice'):5.2f} "
              f"{g('breathy_voice', 5, 'change'):5.2f} {g('weak_voice', 5, 'change'):5.2f}")
    levels = " ".join(f"{lv(f):3.1f}" for f in ("voice", "loudness", "tempo", "pausing", "latency"))
    cond = d["condition"]
    return (f"{d['id']}@{d['rate'] // 1000:2d}k {cond['severity'][:4]:4s} {cond['onset'][:7]:7s} "
            f"{cond['noise']:6s} {cond['snr_db'] or 0:4.1f} | {base} | {raw} | {drops} | {grades} | {levels} | "
            f"{(crit[0] - d['onset_s']) if crit.size else float('nan'):5.1f}")


def main() -> None:
    files = pickle.load(open(sys.argv[1], "rb"))
    print("voice-only labored files (moderate, severe), 30 s after the onset; drops and grades held 5 hops "
          "(short window 3); -inf/nan: no baseline")
    print(f"{'file':14s} {'sev':4s} {'onset':7s} {'noise':6s} snr  | base med/spread: HNR   CPPS  loud | "
          f"median HNR CPPS loud | drop HNR CPPS loud | breathy long short, weak, change breathy weak | "
          f"level voice loud tempo paus lat | crit")
    for d in files:
        if d["expect"] and d["condition"].get("degrade") == "voice":
            w = (d["t"] >= d["onset_s"]) & (d["t"] <= d["onset_s"] + 30)
            print(row(d, w))


if __name__ == "__main__":
    main()
