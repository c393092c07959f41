"""Per hop, what possible_emergency's families hold for each file (cached cue streams only).

    PYTHONPATH=. python research/start/diag.py DIR --cache CACHE [--split tune]
        --pkl OUT.pkl [--set key=value ...]

Replays the baseline and the alert engine over every file's cached cues (as ``tools.evaluate``) and
keeps, per hop of the caller: the baseline's state, each emergency family's long-window grade, its
grade from the absolute limit alone and its level (at 1 it agrees), and the audible-breath cues. The
rows go to ``--pkl`` for ``summarize.py``.
"""

from __future__ import annotations

import argparse
import pickle
from dataclasses import replace
from typing import Any

import numpy as np

from monitor.alerts.rules import AlertEngine
from monitor.analysis.baseline import BaselineBuilder
from tools import evaluate as ev

FAMS = ("tempo", "pausing", "latency", "voice", "loudness")
RAW = ("breaths_per_min", "mean_breath_s", "response_latency_s")
"""Cues kept as measured (NaN where absent), for the breath share of ``summarize.py``."""


def trace(stream: Any, cfg: Any) -> dict[str, np.ndarray]:
    """Per caller hop (arrays of shape (n,)): t, speech_s, ready (the baseline), the cues of
    :data:`RAW`, and per family of :data:`FAMS` its long-window grade and grade from the absolute
    limit alone (NaN where no rule of it judged) and its level after the hop."""
    builder = BaselineBuilder(cfg.analysis)
    engine = AlertEngine(cfg)
    rows: list[list[float]] = []
    for cues in stream.cues:
        baseline = builder.add(cues)
        cues = replace(cues, baseline_ready=baseline is not None)
        engine.update(cues, baseline)
        if cues.channel != "caller":
            continue
        judged = engine.judge_long(cues, baseline)
        fam = engine.fusion._family_grades(judged)
        ab = engine.fusion._family_grades(judged, absolute=True)
        row = [cues.t, cues.speech_s or 0.0, float(baseline is not None)]
        row += [np.nan if cues.value(n) is None else float(cues.value(n)) for n in RAW]
        for f in FAMS:
            row += [fam.get(f, (np.nan,))[0], ab.get(f, (np.nan,))[0], engine.fusion.level(f)]
        rows.append(row)
    k = 3 + len(RAW)
    a = np.array(rows) if rows else np.zeros((0, k + 3 * len(FAMS)))
    out = {"t": a[:, 0], "speech_s": a[:, 1], "ready": a[:, 2]}
    out.update({n: a[:, 3 + i] for i, n in enumerate(RAW)})
    for i, f in enumerate(FAMS):
        out[f] = a[:, k + 3 * i]
        out[f + "_abs"] = a[:, k + 1 + 3 * i]
        out[f + "_level"] = a[:, k + 2 + 3 * i]
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--pkl", required=True)
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args()
    overrides = tuple((k, ev.json.loads(v) if v[:1] in "[{0123456789-tf" else v)
                      for k, v in (s.split("=", 1) for s in a.set))
    cfg = ev.make_config(ev.Settings(overrides=overrides))
    out = []
    for job, stream in ev.cue_streams(ev.load_jobs(a.folder, a.split), cfg, a.cache):
        out.append({"id": job.id, "rate": job.rate, "onset": job.onset_s, "cond": job.condition,
                    "expect": job.expect_critical, "forbid": job.forbid_critical,
                    "tr": trace(stream, cfg)})
    with open(a.pkl, "wb") as fh:
        pickle.dump(out, fh)


if __name__ == "__main__":
    main()
