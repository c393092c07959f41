"""The caller's pauses (non-speech runs of ``analysis.min_pause_s`` or more inside a labelled caller
turn) split by what the labels say they are: *inner* (80 % or more of it inside one labelled
phrase: the voice lost to silence or breath) or *real* (half or more of it in a gap between two
labelled phrases of the turn), with what the frames show of each, from ``tools.evaluate``'s cached
frames. Per group of files: count, seconds, and the quantiles of each feature, to see whether a
rule on the frames tells the two apart.

    PYTHONPATH=. python research/breathy/pause_kinds.py DIR --cache CACHE [--split tune] [--out P.pkl]

Features per pause: ``dur`` (s), ``over`` (median frame level over the noise floor, dB), ``p90``
(its 90th percentile), ``breath`` (share of breath frames), ``edge`` (the quieter of the two
speech runs' level, median over the floor, in the 0.3 s either side), ``drop`` (edge minus over),
``weak`` (share of its frames 1.5-8 dB over the floor), ``voiced_both`` (voiced frames within 0.1 s
before and after it).
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import numpy as np

from monitor.dsp.runs import runs
from monitor.dsp.sound_class import BREATH
from research.breathy.phrase_classes import caller_frames
from tools import evaluate as ev
from tools.background_talk import inside
from tools.evaluate import FrameRecord, cache_load, frames_key

EDGE = 30  # frames either side
WEAK_DB = (1.5, 8.0)  # a frame this far over the floor is weak energy, neither noise nor a voice's full level
VOICED_NEAR = 10  # frames: voiced speech this close before and after the pause


def group(c: dict) -> str:
    if c.get("group") == "labored":
        return f"labored {c.get('degrade')}"
    return f"negative {c.get('negative')}" if c.get("group") == "hard_negative" else "normal"


def phrase_gaps(label: dict) -> tuple[list[tuple[float, float]], list[tuple[float, float]], list[tuple[float, float]]]:
    turns = [t for t in label.get("turns", []) if t["speaker"] == "caller"]
    phrases = [(p["start_s"], p["end_s"]) for t in turns for p in t.get("phrases", [])]
    gaps = [(a["end_s"], b["start_s"]) for t in turns for a, b in zip(t.get("phrases", []), t.get("phrases", [])[1:])]
    return [(t["start_s"], t["end_s"]) for t in turns], phrases, gaps


def pauses(job: ev.Job, cache: str, min_pause: int) -> list[dict]:
    record = cache_load(cache, frames_key(job), FrameRecord)
    if record is None:
        return []
    fr = caller_frames(record)
    label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
    turns, phrases, gaps = phrase_gaps(label)
    in_turn = inside(fr.t, turns, 0.0)
    in_phrase = inside(fr.t, phrases, 0.0)
    in_gap = inside(fr.t, gaps, 0.0)
    over = (fr.energy_db - fr.floor_db).astype(float)
    s, e = runs(~fr.speech)
    onset = job.onset_s if job.onset_s is not None else 0.0
    out = []
    for a, b in zip(s, e):
        if a == 0 or b >= len(fr) or b - a < min_pause or not in_turn[a:b].all():
            continue
        sl = slice(a, b)
        kind = "inner" if in_phrase[sl].mean() >= 0.8 else "real" if in_gap[sl].mean() >= 0.5 else "other"
        left, right = slice(max(a - EDGE, 0), a), slice(b, b + EDGE)
        lv = [np.median(over[x][fr.speech[x]]) for x in (left, right) if fr.speech[x].any()]
        edge = float(min(lv)) if lv else np.nan
        med = float(np.median(over[sl]))
        out.append({"id": job.id, "rate": job.rate, "group": group(job.condition), "kind": kind,
                    "after_onset": fr.t[a] >= onset, "noise": job.condition.get("noise"),
                    "dur": (b - a) * 0.01, "over": med, "p90": float(np.percentile(over[sl], 90)),
                    "breath": float(np.mean(fr.sound[sl] == BREATH)), "edge": edge, "drop": edge - med,
                    "weak": float(np.mean((over[sl] > WEAK_DB[0]) & (over[sl] < WEAK_DB[1]))),
                    "voiced_both": bool(fr.voiced[max(a - VOICED_NEAR, 0):a].any() and fr.voiced[b:b + VOICED_NEAR].any())})
    return out


def summary(rows: list[dict]) -> None:
    keys = sorted({(r["group"], r["kind"]) for r in rows})
    feats = ("dur", "over", "p90", "breath", "edge", "drop", "weak")
    print(f"{'group':<26} {'kind':<6} {'n':>5} {'sec':>6}  " + "  ".join(f"{f:>16}" for f in feats))
    for g, k in keys:
        rs = [r for r in rows if r["group"] == g and r["kind"] == k and (r["after_onset"] or not g.startswith("lab"))]
        if not rs:
            continue
        q = "  ".join("{:>5.2f}/{:>5.2f}/{:>5.2f}".format(*np.nanpercentile([r[f] for r in rs], [10, 50, 90]))
                      for f in feats)
        print(f"{g:<26} {k:<6} {len(rs):>5} {sum(r['dur'] for r in rs):>6.1f}  {q}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--cache", default=ev.default_cache_dir())
    p.add_argument("--split", default="tune")
    p.add_argument("--out", default="")
    a = p.parse_args()
    min_pause = int(round(ev.make_config(ev.Settings()).analysis.min_pause_s / 0.01))
    rows = [r for job in ev.load_jobs(a.dir, a.split) for r in pauses(job, a.cache, min_pause)]
    if a.out:
        Path(a.out).write_bytes(pickle.dumps(rows))
    summary(rows)


if __name__ == "__main__":
    main()
