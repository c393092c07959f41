"""What a healthy call's first critical rests on: families, cues against the baseline, the window.

    PYTHONPATH=. python research/hum/at_critical.py DIR RESULTS.json --cache DIR [--split tune|all]
        [--noise hum,babble] [--set KEY=VALUE ...] [--trace S]

For every healthy file with a critical in ``RESULTS.json`` (``tools.evaluate --files``), the cue
stream is judged again from the cache and, at the first critical, printed: each family's level
(long and short sums), each judged cue's value, baseline, grade and change grade, the window's
speech, turn time, articulation rate and HNR, and what the caller's long window held against the
corpus's labels (research/babble/at_alert.py: the caller's phrases, pauses in their turns, holds,
agent turns, gaps). ``--trace S``: the same cues for the S seconds before the critical, per hop.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from monitor.alerts.rules import AlertEngine
from monitor.analysis.baseline import BaselineBuilder
from monitor.analysis.cue_windows import window_start
from monitor.analysis.frame_features import HOP_S
from monitor.events import AlertEvent
from research.babble.at_alert import loud, window_at
from tools import evaluate as ev
from tools.background_talk import inside, label_spans
from tools.evaluate import FrameRecord, cache_load, cached_stream, frames_key

SHOW = ("speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_phrase_s", "hnr_db",
        "loudness_dbfs", "response_latency_s", "speech_s", "window_s", "turn_s")


def fmt(v: object) -> str:
    return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


def composition(job: ev.Job, cfg, t: float, cache: str) -> str:
    """The long window at ``t`` split against the labels (seconds of kept speech per part)."""
    record = cache_load(cache, frames_key(job), FrameRecord)
    if record is None:
        return "(no frames cached)"
    me = window_at(record, cfg.analysis, t)
    if me is None:
        return "(no window)"
    label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
    sp = label_spans(label)
    t0 = window_start(me.t, me.speech, t, cfg.analysis.window_speech_s, cfg.analysis.window_max_s)
    w = me.between(t0, t)
    k = w.speech
    phrase = inside(w.t, sp["caller_phrases"])
    turn = inside(w.t, sp["caller_turns"])
    hold = inside(w.t, sp["holds"], 0.0)
    agent = inside(w.t, sp["agent_turns"], 0.0)
    parts = {"phrase": k & phrase, "inner": k & turn & ~phrase, "hold": k & ~turn & hold,
             "agent": k & ~turn & ~hold & agent, "gap": k & ~turn & ~hold & ~agent}
    secs = " ".join(f"{n} {v.sum() * HOP_S:4.1f}" for n, v in parts.items())
    return (f"window {t - t0:5.1f} s from {t0:.0f}: {secs} | loud phrase {loud(w.energy_db[parts['phrase']]):6.1f}"
            f" rest {loud(w.energy_db[k & ~phrase]):6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("results")
    ap.add_argument("--split", default="tune")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--noise", default="")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--trace", type=float, default=0.0)
    ap.add_argument("--only", default="", help="ID@RATE,...: these files (labored ones too)")
    a = ap.parse_args()
    over = tuple((k, json.loads(v)) for k, v in (x.split("=", 1) for x in a.set))
    cfg = ev.make_config(ev.Settings(overrides=over))
    res = json.load(open(a.results))["files"]
    jobs = {(j.id, j.rate): j for j in ev.load_jobs(a.dir, a.split)}
    noises = a.noise.split(",") if a.noise else None
    for f in res:
        only = a.only.split(",") if a.only else None
        if only is not None and f"{f['id']}@{f['rate']}" not in only:
            continue
        if not f["criticals"] or (only is None and not f["forbid_critical"]):
            continue
        if noises and f["condition"].get("noise") not in noises:
            continue
        job = jobs[(f["id"], f["rate"])]
        stream, _ = cached_stream(job, cfg, a.cache)
        builder, engine = BaselineBuilder(cfg.analysis), AlertEngine(cfg)
        c = f["condition"]
        print(f"===== {f['id']} {f['rate'] // 1000}k {c.get('noise')} {c.get('snr_db')} {c.get('negative')} "
              f"hold {c.get('hold')} wpm {c.get('rate_wpm')} codec {c.get('codec')}")
        trace = []
        for cues in stream.cues:
            b = builder.add(cues)
            cues = replace(cues, baseline_ready=b is not None)
            out = engine.update(cues, b)
            if a.trace and cues.t >= (f["first_critical_t"] or 0) - a.trace:
                lv = " ".join(f"{fam[:5]} {engine.fusion.level(fam):.2f}" for fam in sorted(engine.fusion.families())
                              if engine.fusion.level(fam) > 0)
                trace.append(f"  t {cues.t:5.0f} " + " ".join(f"{n[:6]} {fmt(cues.value(n))}" for n in SHOW[:5])
                             + f" sp {fmt(cues.speech_s)} | {lv}")
            crit = [e for e in out if isinstance(e, AlertEvent) and e.severity == "critical"]
            if not crit:
                continue
            e = crit[0]
            print("\n".join(trace))
            print(f"  critical at {e.t:.0f}: {e.message}")
            print("  levels:", json.dumps(e.evidence.get("accumulated")))
            for kind, j in engine.judge_long(cues, b).items():
                print(f"   {kind:<16} value {fmt(j.value)} meas {fmt(j.measured)} base {fmt(j.baseline)} "
                      f"thr {fmt(j.threshold)} grade {j.grade:.2f} change {j.change:.2f} abs {j.absolute_grade:.2f}")
            print("  cues:", " ".join(f"{n} {fmt(cues.value(n))}" for n in SHOW))
            print("  short:", " ".join(f"{n} {fmt(cues.short_value(n))}" for n in SHOW[:6]))
            print("  " + composition(job, cfg, e.t, a.cache))
            break


if __name__ == "__main__":
    main()
