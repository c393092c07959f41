"""Per file, every caller hop's tempo-related cues against the caller's baseline, the fusion's state.

    PYTHONPATH=. python research/tempo/profile.py DIR --cache CACHE --split SPLIT --out OUT.pkl
        [--config FILE] [--set KEY=VALUE ...] [--ids ID,ID]

Runs the baseline and the alert engine over each file's cached cue stream as
``tools.evaluate.judge_cues`` does and keeps per hop: t, the long and short windows' cues, the
baseline's median and robust spread of each (long and short windows, once frozen), each judged
rule's grade and change grade (long window) and grade (short window), each family's level and single-family change sum,
and whether possible_emergency is raised. Written as a pickle: a list of dicts (id, rate,
condition, onset_s, expect, forbid, t (n,), cues/short {name: (n,)}, med/spread/smed/sspread
{name: (n,)}, grade/change/sgrade {kind: (n,)}, level/alone {family: (n,)}, crit (n,)).
"""

from __future__ import annotations

import argparse
import json
import pickle
from dataclasses import replace

import numpy as np

from monitor.alerts.rules import AlertEngine
from monitor.analysis.baseline import BaselineBuilder
from monitor.cue_registry import FAMILIES
from tools import evaluate as ev

CUES = ("speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_pause_s", "mean_phrase_s",
        "response_latency_s", "hnr_db", "cpps_db", "loudness_dbfs", "paused_breath_share", "speech_s",
        "window_s", "turn_s")


def profile(stream: ev.CueStream, cfg) -> dict:
    builder = BaselineBuilder(cfg.analysis)
    engine = AlertEngine(cfg)
    rows = []
    for cues in stream.cues:
        if cues.channel != "caller":
            continue
        baseline = builder.add(cues)
        cues = replace(cues, baseline_ready=baseline is not None)
        judged = engine.judge_long(cues, baseline)
        judged_short = engine.judge_short(cues, baseline)
        engine.update(cues, baseline)
        rows.append((cues, baseline, judged, {f: engine.fusion.level(f) for f in FAMILIES},
                     dict(engine.fusion.change), "possible_emergency" in engine.active_kinds, judged_short))
    n = len(rows)

    def arr(get) -> np.ndarray:
        return np.array([np.nan if (v := get(r)) is None else float(v) for r in rows]) if n else np.zeros(0)

    def stat(r, name, short, what):
        s = r[1].stats(name, short) if r[1] is not None else None
        return None if s is None else getattr(s, what)

    out = {"t": arr(lambda r: r[0].t), "crit": np.array([r[5] for r in rows], bool)}
    out["cues"] = {c: arr(lambda r, c=c: r[0].value(c)) for c in CUES}
    out["short"] = {c: arr(lambda r, c=c: r[0].short_value(c)) for c in CUES}
    for key, short, what in (("med", False, "median"), ("spread", False, "spread"),
                             ("smed", True, "median"), ("sspread", True, "spread")):
        out[key] = {c: arr(lambda r, c=c, s=short, w=what: stat(r, c, s, w)) for c in CUES}
    out["grade"] = {r.kind: arr(lambda row, k=r.kind: row[2][k].grade if k in row[2] else None)
                    for r in cfg.rules.acoustic}
    out["change"] = {r.kind: arr(lambda row, k=r.kind: row[2][k].change if k in row[2] else None)
                     for r in cfg.rules.acoustic}
    out["sgrade"] = {r.kind: arr(lambda row, k=r.kind: row[6][k].grade if k in row[6] else None)
                     for r in cfg.rules.acoustic}
    out["level"] = {f: arr(lambda r, f=f: r[3][f]) for f in FAMILIES}
    out["alone"] = {f: arr(lambda r, f=f: r[4].get(f, 0.0)) for f in FAMILIES}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--out", required=True)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--config", default=None)
    p.add_argument("--ids", default=None, help="comma-separated call ids (default: all)")
    a = p.parse_args()
    overrides = {}
    for s in a.set:
        k, v = s.split("=", 1)
        overrides[k] = json.loads(v) if v[:1] in "[{\"0123456789-tf" else v
    cfg = ev.make_config(ev.Settings(config=a.config, overrides=tuple(overrides.items())))
    out = []
    jobs = ev.load_jobs(a.folder, a.split)
    if a.ids:
        jobs = [j for j in jobs if j.id in a.ids.split(",")]
    for job, stream in ev.cue_streams(jobs, cfg, a.cache):
        d = profile(stream, cfg)
        d.update(id=job.id, rate=job.rate, condition=dict(job.condition), onset_s=job.onset_s,
                 expect=job.expect_critical, forbid=job.forbid_critical)
        out.append(d)
    with open(a.out, "wb") as fh:
        pickle.dump(out, fh)


if __name__ == "__main__":
    main()
