"""The voice cues' and the loudness's change late in the call (from 40 s after the onset, median of
the hops) against the caller's baseline, for the tuning half's labored voice-only and all-cue
callers with an abrupt or gradual onset, per line noise and severity (research script).

    PYTHONPATH=. python research/noise/late.py CORPUS CACHE
"""
from __future__ import annotations

import statistics as st
import sys
from collections import defaultdict

from monitor.analysis.baseline import BaselineBuilder
from monitor.config.loader import load_config
from tools.evaluate import cached_stream, load_jobs

CUES = ("hnr_db", "cpps_db", "loudness_dbfs")


def main() -> None:
    corpus, cache = sys.argv[1:3]
    cfg = load_config(None, {}, user_config=False)
    groups = defaultdict(lambda: defaultdict(list))
    for job in load_jobs(corpus, "tune"):
        c = job.condition
        if c["group"] != "labored" or c["degrade"] not in ("voice", "all") or c["onset"] == "start":
            continue
        stream, _ = cached_stream(job, cfg, cache)
        builder, base = BaselineBuilder(cfg.analysis), None
        for cues in stream.cues:
            b = builder.add(cues)
            base = base or b
        late = [e for e in stream.cues if e.t >= (job.onset_s or 0.0) + 40]
        for k in CUES:
            values = [e.value(k) for e in late if e.value(k) is not None]
            stats = base.stats(k) if base is not None else None
            if values and stats is not None:
                groups[(c["noise"], c["severity"])][k].append(st.median(values) - stats.median)
    for (noise, sev), by in sorted(groups.items()):
        print(f"{noise:7s} {sev:9s} " + "  ".join(
            f"{k} {st.median(v):+5.1f} (n={len(v)})" for k, v in by.items()))


if __name__ == "__main__":
    main()
