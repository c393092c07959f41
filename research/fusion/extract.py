"""Per caller hop, the alert engine's own state for a learned fusion (cached cue streams only).

    PYTHONPATH=. python research/fusion/extract.py DIR --split SPLIT --out OUT.pkl
        [--cache CACHE] [--set KEY=VALUE ...]

Replays the baseline and the alert engine over every file's cached cue stream as
``tools.evaluate.judge_cues`` does (nothing analysed again) and keeps per caller hop, after the
engine's update: the call time, the window's and the short window's caller speech, the call's
caller speech so far, whether the baseline exists, whether the hop counted for the sums (the caller
spoke within ``stale_s``), whether a hold is known, whether the hop lies in a silence the hold
test has not decided yet (``quiet_wait_s``: the engine raises no critical there), the response latency as measured; per rule kind
its long window's grade, change grade and absolute grade and its short window's grade (NaN where
not judged this hop); per family of evidence the fusion's long, short and change sums and its level;
the paired rule's held seconds; whether ``possible_emergency`` is active. Written as a pickle: a list
of dicts (id, seed, rate, split, condition, onset_s, past_mild_s, duration_s, expect, forbid,
``hop`` {name: (n,) array}).
"""

from __future__ import annotations

import argparse
import json
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from monitor.alerts.rules import AlertEngine
from monitor.analysis.baseline import BaselineBuilder
from monitor.config import Config
from monitor.cue_registry import FAMILIES
from tools import evaluate as ev

RAW = ("response_latency_s", "speech_rate_sps", "pause_ratio", "mean_phrase_s", "hnr_db", "loudness_dbfs")


def trace(stream: ev.CueStream, cfg: Config) -> dict[str, np.ndarray]:
    """Per caller hop the engine's state (see the module docstring), as arrays of shape (n,)."""
    builder = BaselineBuilder(cfg.analysis)
    engine = AlertEngine(cfg)
    kinds = [r.kind for r in cfg.rules.acoustic if r.enabled]
    stale = cfg.rules.possible_emergency.stale_s
    rows: list[dict[str, float]] = []
    for cues in stream.cues:
        baseline = builder.add(cues)
        cues = replace(cues, baseline_ready=baseline is not None)
        if cues.channel != "caller":
            engine.update(cues, baseline)
            continue
        judged = engine.judge_long(cues, baseline)
        short = engine.judge_short(cues, baseline)
        engine.update(cues, baseline)
        fu = engine.fusion
        row = {"t": cues.t, "speech_s": cues.speech_s or 0.0,
               "short_speech_s": cues.short_value("speech_s") or 0.0,
               "call_speech_s": cues.call_speech_s or 0.0, "ready": float(baseline is not None),
               "fresh": float(engine._last_spoke is not None and cues.t - engine._last_spoke <= stale + 1e-9),
               "hold": float(cues.hold_since is not None),
               "crit": float("possible_emergency" in engine.active_kinds),
               "undecided": float(engine._undecided(cues)),
               "paired_held": fu.paired_held}
        for name in RAW:
            v = cues.value(name)
            row["raw_" + name] = np.nan if v is None else float(v)
        for k in kinds:
            j, s = judged.get(k), short.get(k)
            row["g_" + k] = np.nan if j is None else j.grade
            row["c_" + k] = np.nan if j is None else j.change
            row["a_" + k] = np.nan if j is None else j.absolute_grade
            row["s_" + k] = np.nan if s is None else s.grade
        for f in FAMILIES:
            row["S_" + f] = fu.evidence.get(f, 0.0)
            row["SS_" + f] = fu.short_evidence.get(f, 0.0)
            row["SC_" + f] = fu.change.get(f, 0.0)
            row["L_" + f] = fu.level(f)
        rows.append(row)
    names = list(rows[0]) if rows else ["t"]
    return {n: np.array([r[n] for r in rows], float) for n in names}


def seed_of(job: ev.Job) -> int:
    """The call's seed from its label (the id's number when the label has none)."""
    label = json.loads((Path(job.path).parent / f"{job.id}.json").read_text())
    return int(label.get("seed", job.id.rsplit("_", 1)[-1]))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--split", default="all")
    p.add_argument("--out", required=True)
    p.add_argument("--cache", default=ev.default_cache_dir())
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args()
    overrides = tuple((k, json.loads(v) if v[:1] in "[{\"0123456789-tf" else v)
                      for k, v in (s.split("=", 1) for s in a.set))
    cfg = ev.make_config(ev.Settings(overrides=overrides))
    out: list[dict[str, Any]] = []
    for job, stream in ev.cue_streams(ev.load_jobs(a.folder, a.split), cfg, a.cache):
        out.append({"id": job.id, "seed": seed_of(job), "rate": job.rate, "split": job.split,
                    "condition": dict(job.condition), "onset_s": job.onset_s, "past_mild_s": job.past_mild_s,
                    "duration_s": job.duration_s, "expect": job.expect_critical,
                    "forbid": job.forbid_critical, "hop": trace(stream, cfg)})
    with open(a.out, "wb") as fh:
        pickle.dump(out, fh)


if __name__ == "__main__":
    main()
