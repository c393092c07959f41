"""Phrases and pauses inside the long cue window at each first critical, from the cached frames.

    PYTHONPATH=. python research/hesitant/phrase_shape.py DIR --cache CACHE --split S --profile P.pkl
        --out OUT.pkl [--only hesitant|labored]

For the files of research/hesitant/profile.py's pickle P with a critical (a labored file: after its
onset), the cue tracker is run over the file's cached frames (as tools.evaluate.track_cues) and,
at the hop of the first critical, the long window's phrase lengths and pause lengths (and where
each pause lies in its turn) are kept, with the same at the caller's baseline (the hop at 30 s of
caller speech). Figures (printed by research/hesitant/shape_table.py): the speech-weighted phrase
length (sum L^2 / sum L: the phrase a second of speech belongs to), the longest phrase, the
median phrase, the longest pause's share of the pause time, and the share of pause time in each
turn's first 2 s of speech.
"""

from __future__ import annotations

import argparse
import pickle

import numpy as np

from monitor.analysis import cue_windows as cw
from monitor.analysis.frame_features import HOP_S
from monitor.analysis.span_measures import _speaking, pause_runs
from monitor.dsp.runs import runs
from tools import evaluate as ev

CAPTURE: dict = {}


def shape(win, exclude, min_pause_s: float, max_pause_s: float) -> dict:
    speech = win.speech
    if not speech.any():
        return {}
    min_pause = int(round(min_pause_s / HOP_S))
    max_pause = int(round(max_pause_s / HOP_S)) if max_pause_s else None
    ps, pe, gap = pause_runs(speech, min_pause, exclude, max_pause)
    speaking = _speaking(speech, gap, ps, pe)
    hs, he = runs(speaking)
    return {"phrases": (he - hs) * HOP_S, "pauses": (pe - ps) * HOP_S, "pause_at": ps * HOP_S,
            "phrase_at": hs * HOP_S, "gap": gap}


def patched_span(self, me, other, t0, t):
    win = me.between(t0, t)
    exclude = np.zeros(len(win), dtype=bool)
    if other is not None:
        ow = other.between(t0, t)
        if len(ow) == len(win):
            exclude = ow.speech
    if CAPTURE.get("want") and not CAPTURE.get("took"):
        CAPTURE["shape"] = shape(win, exclude, self.cfg.min_pause_s, self.cfg.max_pause_s)
        CAPTURE["took"] = True
    return ORIG(self, me, other, t0, t)


ORIG = cw.CueTracker._span
cw.CueTracker._span = patched_span
ORIG_MEASURE = cw.CueTracker.measure


def patched_measure(self, t):
    CAPTURE["took"] = False
    CAPTURE["want"] = round(t, 3) in CAPTURE.get("times", ())
    ev_ = ORIG_MEASURE(self, t)
    if CAPTURE["want"]:
        CAPTURE.setdefault("out", {})[round(t, 3)] = CAPTURE.get("shape")
    return ev_


cw.CueTracker.measure = patched_measure


def first_crit_t(d: dict) -> float | None:
    crit = d["crit"].copy()
    if d["onset_s"] is not None:
        crit &= d["t"] >= d["onset_s"]
    idx = np.flatnonzero(crit)
    return float(d["t"][idx[0]]) if idx.size else None


def baseline_t(d: dict) -> float | None:
    ready = np.flatnonzero(~np.isnan(d["base"]["pause_ratio"]))
    return float(d["t"][ready[0]]) if ready.size else None


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--profile", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--only", default=None)
    a = p.parse_args()
    prof = {(d["id"], d["rate"]): d for d in pickle.load(open(a.profile, "rb"))}
    cfg = ev.make_config(ev.Settings())
    out = []
    for job in ev.load_jobs(a.folder, a.split):
        d = prof.get((job.id, job.rate))
        c = job.condition
        if d is None:
            continue
        kind = "hesitant" if c.get("negative") == "hesitant" else (
            f"labored/{c.get('degrade')}" if c.get("group") == "labored" and c.get("severity") in ("moderate", "severe")
            else None)
        if kind is None or (a.only and not kind.startswith(a.only)):
            continue
        tc, tb = first_crit_t(d), baseline_t(d)
        if tc is None:
            continue
        record = ev.cache_load(a.cache, ev.frames_key(job), ev.FrameRecord)
        if record is None:
            continue
        CAPTURE.clear()
        CAPTURE["times"] = {round(tc, 3)} | ({round(tb, 3)} if tb is not None else set())
        ev.track_cues(record, cfg.analysis)
        got = CAPTURE.get("out", {})
        out.append({"id": job.id, "rate": job.rate, "kind": kind, "t_crit": tc, "t_base": tb,
                    "crit": got.get(round(tc, 3)), "base": got.get(round(tb, 3)) if tb is not None else None})
    with open(a.out, "wb") as fh:
        pickle.dump(out, fh)


if __name__ == "__main__":
    main()
