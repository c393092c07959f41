"""How far under the recent peak level the frames the hum test takes stand (hum lines of the
evaluation corpus's tuning half, caller leg, whole calls, raw features), per line SNR.

    PYTHONPATH=. python research/hum35/hum_under_peak.py DIR
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np

from monitor.analysis.analyzer import AnalyzerConfig
from monitor.dsp.tones import mains_hum
from research.hum35.mains_f0 import caller_frames
from tools import evaluate as ev


def main() -> None:
    cfg = AnalyzerConfig()
    under = defaultdict(list)
    for job in ev.load_jobs(sys.argv[1], "tune"):
        c = job.condition
        if c.get("noise") != "hum":
            continue
        raw, _, rate, e, floor, level, active = caller_frames(job, cfg)
        hum = mains_hum(raw["f0"], e, floor, cfg.tones)
        snr = float(c.get("snr_db"))
        band = "<10" if snr < 10 else "10-20" if snr < 20 else ">=20"
        under[(rate, band)].append((level - e)[hum & active])
    print("rate snr | seconds taken | under the peak, dB: 1st / 5th / 10th / 50th percentile")
    for k in sorted(under):
        u = np.concatenate(under[k])
        if len(u):
            p = np.percentile(u, [1, 5, 10, 50])
            print(f"{k[0]:5} {k[1]:>5} | {len(u) / 100:6.0f} | " + " / ".join(f"{v:5.1f}" for v in p))


if __name__ == "__main__":
    main()
