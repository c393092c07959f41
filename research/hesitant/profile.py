"""Per file, every caller hop's cues, the caller's baseline medians and the fusion's family levels.

    PYTHONPATH=. python research/hesitant/profile.py DIR --cache CACHE --split SPLIT --out OUT.pkl
        [--only hesitant] [--set KEY=VALUE ...]

Runs the baseline and the alert engine over each file's cached cue stream exactly as
``tools.evaluate.judge_cues`` does, and keeps per hop: t, the long window's cues, the baseline's
medians (once frozen), each judged rule's grade, each family's level and whether
possible_emergency is raised. Written as a pickle: a list of dicts (id, rate, condition, onset_s,
t (n,), cues {name: (n,)}, base {name: (n,)}, grade {kind: (n,)}, level {family: (n,)}, crit (n,)).
"""

from __future__ import annotations

import argparse
import json
import pickle
from dataclasses import replace

import numpy as np

from monitor.alerts.rules import AlertEngine
from monitor.analysis.baseline import BaselineBuilder
from monitor.cue_registry import ACOUSTIC_CUES, FAMILIES
from tools import evaluate as ev


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
        engine.update(cues, baseline)
        rows.append((cues, baseline, judged, {f: engine.fusion.level(f) for f in FAMILIES},
                     "possible_emergency" in engine.active_kinds))
    n = len(rows)
    nan = lambda: np.full(n, np.nan)  # noqa: E731
    out = {"t": np.array([r[0].t for r in rows]), "cues": {}, "base": {}, "grade": {}, "level": {},
           "crit": np.array([r[4] for r in rows])}
    for name in ACOUSTIC_CUES + ("speech_s", "window_s", "turn_s"):
        out["cues"][name] = np.array([np.nan if r[0].value(name) is None else r[0].value(name) for r in rows])
        b = nan()
        for i, r in enumerate(rows):
            if r[1] is not None and r[1].median(name) is not None:
                b[i] = r[1].median(name)
        out["base"][name] = b
    for rule in cfg.rules.acoustic:
        g = nan()
        for i, r in enumerate(rows):
            if rule.kind in r[2]:
                g[i] = r[2][rule.kind].grade
        out["grade"][rule.kind] = g
    for f in FAMILIES:
        out["level"][f] = np.array([r[3][f] for r in rows])
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--out", required=True)
    p.add_argument("--only", default=None)
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args()
    overrides = {}
    for s in a.set:
        k, v = s.split("=", 1)
        overrides[k] = json.loads(v) if v[:1] in "[{\"0123456789-tf" else v
    cfg = ev.make_config(ev.Settings(overrides=tuple(overrides.items())))
    jobs = ev.load_jobs(a.folder, a.split)
    if a.only:
        jobs = [j for j in jobs if j.condition.get("negative") == a.only]
    out = []
    for job, stream in ev.cue_streams(jobs, cfg, a.cache):
        d = profile(stream, cfg)
        d.update(id=job.id, rate=job.rate, condition=dict(job.condition), onset_s=job.onset_s)
        out.append(d)
    with open(a.out, "wb") as fh:
        pickle.dump(out, fh)


if __name__ == "__main__":
    main()
