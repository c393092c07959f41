"""What the caller's long cue window holds at each alert on a healthy call over babble.

    PYTHONPATH=. python research/babble/at_alert.py DIR RESULTS.json --cache DIR [--split tune|all]
        [--noise babble] [--set analysis.KEY=VALUE ...] [--only ID,ID]  (--only: those files, labored too)

For every alert of a healthy file (``RESULTS.json`` from ``tools.evaluate --files``), the cue
tracker's gate is run hop by hop over the cached frames up to the alert's hop, and the kept speech
of the window it measures is split, against the corpus's labels, into the caller's phrases, the
pauses inside the caller's turns, holds, the agent's turns and the gaps between turns. Also: the
window's loudness over the caller's phrases alone and over the rest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from monitor.analysis.cue_windows import CueTracker, window_start
from monitor.analysis.frame_features import HOP_S, Frames
from monitor.config import AnalysisConfig
from tools import evaluate as ev
from tools.background_talk import inside, label_spans
from tools.evaluate import FrameRecord, cache_load, frames_key


def window_at(record: FrameRecord, analysis: AnalysisConfig, t_stop: float) -> Frames | None:
    """The caller's gated frames as the hop at ``t_stop`` sees them (fed as ``tools.evaluate`` feeds
    the cue tracker)."""
    tr = CueTracker(analysis, record.legs)
    seen: dict[str, Frames] = {}

    def hop(t: float) -> None:
        me, _ = tr.caller_voice(t)
        if abs(t - t_stop) < 1e-6:
            seen["me"] = me
        return None
    tr.measure = hop  # type: ignore[method-assign]
    for step in record.fed:
        for leg, frames in zip(record.legs, step):
            tr.add(leg, frames)
        tr.due()
        if "me" in seen:
            return seen["me"]
    for leg, frames in zip(record.legs, record.flushed):
        tr.add(leg, frames)
    tr.due(final=True)
    return seen.get("me")


def loud(e: np.ndarray) -> float:
    """Mean power of frame energies (dB, shape (n,)) in dB; NaN for none."""
    return float(10 * np.log10(np.mean(10 ** (e / 10)))) if len(e) else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("results")
    ap.add_argument("--split", default="tune")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--noise", default="babble")
    ap.add_argument("--kinds", default="possible_emergency,weak_voice,short_phrases,long_pauses,audible_breathing")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    over = tuple((k, json.loads(v)) for k, v in (x.split("=", 1) for x in a.set))
    cfg = ev.make_config(ev.Settings(overrides=over))
    res = json.load(open(a.results))["files"]
    jobs = {(j.id, j.rate): j for j in ev.load_jobs(a.dir, a.split)}
    kinds = a.kinds.split(",")
    for f in res:
        if f["condition"].get("noise") != a.noise or not (f["forbid_critical"] or a.only):
            continue
        alerts = [x for x in f["alerts"] if x["kind"] in kinds]
        if not alerts or (a.only and f["id"] not in a.only.split(",")):
            continue
        job = jobs[(f["id"], f["rate"])]
        record = cache_load(a.cache, frames_key(job), FrameRecord) or ev.replay_file(job, cfg)[1]
        label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
        sp = label_spans(label)
        for al in alerts:
            me = window_at(record, cfg.analysis, al["t"])
            t = al["t"]
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
            print(f"{f['id']} {f['rate'] // 1000:>2}k snr {f['condition'].get('snr_db')} {f['condition'].get('negative')}"
                  f" t {t:5.0f} {al['kind'][:12]:<12} win {t - t0:5.1f} | {secs} | loud phrase "
                  f"{loud(w.energy_db[parts['phrase']]):6.1f} rest {loud(w.energy_db[k & ~phrase]):6.1f}")


if __name__ == "__main__":
    main()
