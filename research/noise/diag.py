"""Per labored tuning-half file: how each cue moves after the onset and how far each family of the
emergency gets within 30 s (research script; see README.md).

    PYTHONPATH=. python research/noise/diag.py CORPUS --cache CACHE --json OUT [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import statistics as st
from dataclasses import replace

from monitor.alerts.rules import AlertEngine
from monitor.analysis.baseline import BaselineBuilder
from monitor.config.loader import load_config
from monitor.events import AlertEvent
from tools.evaluate import cached_stream, load_jobs

CUES = ("speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_pause_s", "mean_phrase_s",
        "hnr_db", "cpps_db", "loudness_dbfs", "response_latency_s", "breaths_per_min",
        "paused_breath_share", "speech_s")
FAMILIES = ("tempo", "pausing", "latency", "voice", "loudness")


def med(xs):
    xs = [x for x in xs if x is not None]
    return round(st.median(xs), 3) if xs else None


def one(job, cfg, cache):
    stream, _ = cached_stream(job, cfg, cache)
    if stream is None:
        return None
    builder, engine = BaselineBuilder(cfg.analysis), AlertEngine(cfg)
    onset = job.onset_s or 0.0
    pre, post, level, grade, crit = {c: [] for c in CUES}, {c: [] for c in CUES}, {}, {}, None
    base = None
    for cues in stream.cues:
        b = builder.add(cues)
        if b is not None and base is None:
            base = {c: (b.stats(c, False).median if b.stats(c, False) is not None else None) for c in CUES
                    if c != "speech_s"}
        ev = engine.update(replace(cues, baseline_ready=b is not None), b)
        t = cues.t
        if crit is None and any(isinstance(e, AlertEvent) and e.severity == "critical" and e.t >= onset
                                for e in ev):
            crit = t
        tgt = pre if t < onset else post if t <= onset + 30 else None
        if tgt is not None:
            for c in CUES:
                tgt[c].append(cues.value(c))
        if onset <= t <= onset + 30:
            for f in FAMILIES:
                level[f] = max(level.get(f, 0.0), engine.fusion.level(f))
            for k, j in engine.judge_long(cues, b).items():
                grade[k] = max(grade.get(k, 0.0), j.grade)
    c = job.condition
    return {"id": job.id, "rate": job.rate, "noise": c.get("noise"), "snr": c.get("snr_db"),
            "codec": c.get("codec") if job.rate == 8000 else None, "onset": c.get("onset"),
            "severity": c.get("severity"), "degrade": c.get("degrade"), "breaths": c.get("breaths"),
            "t_onset": onset, "ttc": None if crit is None else round(crit - onset, 1),
            "pre": {k: med(v) for k, v in pre.items()}, "post": {k: med(v) for k, v in post.items()},
            "base": base, "level": {k: round(v, 2) for k, v in level.items()},
            "grade": {k: round(v, 2) for k, v in grade.items()}}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("corpus")
    p.add_argument("--cache", required=True)
    p.add_argument("--json", required=True)
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args()
    cfg = load_config(None, dict(s.split("=", 1) for s in a.set), user_config=False)
    rows = [r for job in load_jobs(a.corpus, "tune") if job.expect_critical
            for r in [one(job, cfg, a.cache)] if r is not None]
    json.dump(rows, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
