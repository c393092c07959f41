"""Per file, every caller hop's grades as the alert engine judges them, for the severe-caller study.

    PYTHONPATH=. python research/severe/profile.py DIR --cache CACHE --split SPLIT --out OUT.pkl
        [--set KEY=VALUE ...]

Runs the baseline and the alert engine over each file's cached cue stream as
``tools.evaluate.judge_cues`` does and keeps per hop: t, the hop's weight (seconds the fusion
accumulates: 0 while the caller's window is stale), whether a baseline is frozen, whether the
hop lies in a hold (``hold_since``), per emergency rule its long window's grade, change grade and
absolute grade and its short window's grade, the baseline's median and spread of each rule's cue,
the cue value as judged, per family its level, and whether possible_emergency is active.
A list of dicts (id, rate, condition, onset_s, expect, forbid, arrays of shape (n,)).
"""

from __future__ import annotations

import argparse
import pickle
from dataclasses import replace

import numpy as np

from monitor.alerts.rules import AlertEngine
from monitor.analysis.baseline import BaselineBuilder
from monitor.cue_registry import FAMILIES
from monitor.config.loader import parse_override
from tools import evaluate as ev


def profile(stream: ev.CueStream, cfg) -> dict:
    builder = BaselineBuilder(cfg.analysis)
    engine = AlertEngine(cfg)
    kinds = cfg.rules.possible_emergency.kinds
    rules = [r for r in cfg.rules.acoustic if r.enabled and r.kind in kinds]
    rows = []
    for cues in stream.cues:
        if cues.channel != "caller":
            continue
        baseline = builder.add(cues)
        cues = replace(cues, baseline_ready=baseline is not None)
        judged = engine.judge_long(cues, baseline)
        judged_short = engine.judge_short(cues, baseline)
        before = engine._last_speech, engine._last_spoke
        w = engine._weight(cues, 1.0)
        engine._last_speech, engine._last_spoke = before
        engine.update(cues, baseline)
        rows.append(dict(t=cues.t, w=w, base=baseline is not None, hold=cues.hold_since is not None,
                         judged=judged, short=judged_short,
                         level={f: engine.fusion.level(f) for f in FAMILIES},
                         crit="possible_emergency" in engine.active_kinds,
                         stats={r.kind: (None if baseline is None or baseline.stats(r.cue, False) is None
                                         else (baseline.stats(r.cue, False).median,
                                               baseline.stats(r.cue, False).spread)) for r in rules}))

    def arr(get) -> np.ndarray:
        return np.array([np.nan if (v := get(r)) is None else float(v) for r in rows])

    out = {k: arr(lambda r, k=k: r[k]) for k in ("t", "w")}
    out["base"] = np.array([r["base"] for r in rows], bool)
    out["hold"] = np.array([r["hold"] for r in rows], bool)
    out["crit"] = np.array([r["crit"] for r in rows], bool)
    for name, attr, src in (("grade", "grade", "judged"), ("change", "change", "judged"),
                            ("absg", "absolute_grade", "judged"), ("value", "value", "judged"),
                            ("sgrade", "grade", "short"), ("schange", "change", "short")):
        out[name] = {r.kind: arr(lambda row, k=r.kind, a=attr, s=src: getattr(row[s][k], a)
                                 if k in row[s] else None) for r in rules}
    out["median"] = {r.kind: arr(lambda row, k=r.kind: None if row["stats"][k] is None else row["stats"][k][0])
                     for r in rules}
    out["spread"] = {r.kind: arr(lambda row, k=r.kind: None if row["stats"][k] is None else row["stats"][k][1])
                     for r in rules}
    out["level"] = {f: arr(lambda r, f=f: r["level"][f]) for f in FAMILIES}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--out", required=True)
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args()
    overrides = tuple(parse_override(s) for s in a.set)
    cfg = ev.make_config(ev.Settings(overrides=overrides))
    out = []
    for job, stream in ev.cue_streams(ev.load_jobs(a.folder, a.split), cfg, a.cache):
        d = profile(stream, cfg)
        d.update(id=job.id, rate=job.rate, condition=dict(job.condition), onset_s=job.onset_s,
                 expect=job.expect_critical, forbid=job.forbid_critical, past_mild_s=job.past_mild_s)
        out.append(d)
    with open(a.out, "wb") as fh:
        pickle.dump(out, fh)


if __name__ == "__main__":
    main()
