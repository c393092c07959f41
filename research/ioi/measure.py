"""Within-phrase inter-nucleus intervals against the articulation rate: do healthy callers move them less?

    PYTHONPATH=. .venv/bin/python research/ioi/measure.py CORPUS_DIR --cache CACHE [--split tune]
        [--out OUT.pkl] [--held 8] [--ids ID,ID]

CACHE is a ``tools.evaluate --cache`` folder holding the split's analyzer frames; nothing is
re-analysed. Each file's frames go through the product's own cue tracker
(:class:`~monitor.analysis.cue_windows.CueTracker`, fed as :func:`tools.evaluate.track_cues` feeds
it), which here also hands over, every hop, the caller's long cue window: the caller's frames after
the hum and voice gates, from the window start to the hop, and the agent's speech over them. The
window's phrases are the span measures' own (speaking runs between pauses of at least
``min_pause_s`` and turn gaps). Per hop, over that window:

- ``art``: the articulation rate (syllable nuclei / speaking time), as the cue event reports it;
- ``ioi``: 1 / the median interval between consecutive nuclei of one phrase;
- ``ioi_nolast``: the same without each phrase's last interval (phrase-final lengthening);
- ``ioi_mean``: 1 / the mean of the within-phrase intervals (nuclei - 1 over the time from each
  phrase's first to its last nucleus, pooled);
- ``ioi_k20`` / ``ioi_k40``: 1 / the median of the caller's last 20 / 40 within-phrase intervals
  within ``window_max_s`` of call time (the same gated frames and phrases, not the cue window).

A hop is judged when its window holds ``JUDGE_SPEECH_S`` of speech (the slow_speech rule's
``min_speech_s``) and, for an interval measure, at least ``MIN_INTERVALS`` intervals. Baseline: the
median and MAD of each measure over exactly the hops the product's
:class:`~monitor.analysis.baseline.BaselineBuilder` takes into the caller's baseline (windows with
5 s of speech, off hold), frozen when it freezes (35 s of the caller's speech or 60 s after the first
words); hops from the freeze on are judged. Slowing = 1 - value / baseline median (0.3: 30 % slower).

Tables (printed): per measure, the largest slowing held ``--held`` hops (the rolling minimum, then
its maximum) of each expected tempo-only file within 30 s after its onset, against every healthy
file (forbid_critical) over the whole call, by line noise and by negative kind; and how many
tempo-only files, and expected labored files of every kind (within 30 s of the onset), pass the
threshold no healthy file reaches and the one at most 1 % of them reach.
"""

from __future__ import annotations

import argparse
import collections
import math
import pickle
from dataclasses import replace

import numpy as np
from scipy import stats
from numpy.lib.stride_tricks import sliding_window_view

from monitor.analysis.baseline import BaselineBuilder
from monitor.analysis.cue_windows import CueTracker, other_speech_over
from monitor.analysis.frame_features import HOP_S, Frames
from monitor.analysis.span_measures import SpanMeasures, _speaking, pause_runs
from monitor.dsp.runs import runs
from monitor.events import CuesEvent
from tools import evaluate as ev

JUDGE_SPEECH_S = 6.0
MIN_INTERVALS = 5
LAST_K = (20, 40)
MEASURES = ("art", "ioi", "ioi_nolast", "ioi_mean", "ioi_trim", "ioi_k20", "ioi_k40")
PAIRS = (("art", "ioi"), ("art", "ioi_nolast"), ("art", "ioi_k20"))
"""Two measures slowed together: the smaller slowing of the two, per hop."""
SPREAD_FLOOR = 0.03
"""The least relative spread a slowing is divided by in the spread-unit variant."""
TRIM = 0.2
DETECT_S = 30.0


class WindowTracker(CueTracker):
    """The product's cue tracker, keeping each hop's long window (the caller's gated frames and the
    agent's speech over them) and the caller's gated frames of the last ``window_max_s``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.windows: list[tuple[Frames, np.ndarray]] = []
        self.recent: list[tuple[Frames, np.ndarray]] = []
        self._hop: list[tuple[Frames, np.ndarray]] = []

    def measure(self, t: float) -> CuesEvent:
        self._hop = []
        cues = super().measure(t)
        self.windows.append(self._hop[0])
        return cues

    def caller_voice(self, t: float) -> tuple[Frames, Frames | None]:
        me, other = super().caller_voice(t)
        self.recent.append(_with_exclude(me, other, t - self.cfg.window_max_s, t))
        return me, other

    def _span(self, me: Frames, other: Frames | None, t0: float, t: float) -> SpanMeasures:
        self._hop.append(_with_exclude(me, other, t0, t))
        return super()._span(me, other, t0, t)


def _with_exclude(me: Frames, other: Frames | None, t0: float, t: float) -> tuple[Frames, np.ndarray]:
    """The caller's frames in ``[t0, t)`` and the agent's speech over them (as ``CueTracker._span``)."""
    win = me.between(t0, t)
    return win, other_speech_over(win, other, t0, t)


def phrase_intervals(win: Frames, exclude: np.ndarray, min_pause_s: float,
                     max_pause_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Intervals (s) between consecutive nuclei of one phrase, oldest first, shape (k,), and whether
    each is its phrase's last, shape (k,)."""
    speech = win.speech
    if not speech.any():
        return np.zeros(0), np.zeros(0, bool)
    ps, pe, gap = pause_runs(speech, int(round(min_pause_s / HOP_S)), exclude, int(round(max_pause_s / HOP_S)))
    s, e = runs(_speaking(speech, gap, ps, pe))
    nuc = np.flatnonzero(win.nucleus)
    phrase = np.searchsorted(s, nuc, side="right") - 1
    inside = (phrase >= 0) & (nuc < e[np.maximum(phrase, 0)])
    nuc, phrase = nuc[inside], phrase[inside]
    same = phrase[1:] == phrase[:-1]
    iv = np.diff(nuc)[same] * HOP_S
    pidx = phrase[1:][same]
    last = np.r_[pidx[1:] != pidx[:-1], True] if len(pidx) else np.zeros(0, bool)
    return iv, last


def _inv_median(x: np.ndarray) -> float:
    return 1.0 / float(np.median(x)) if len(x) >= MIN_INTERVALS else math.nan


def hop_values(tracker: WindowTracker, cues: list[CuesEvent], cfg,
               judge_speech_s: float = JUDGE_SPEECH_S) -> dict[str, np.ndarray]:
    """Per hop (T,), every measure of the module docstring (NaN where not judged: less than
    ``judge_speech_s`` of speech in the window)."""
    a = cfg.analysis
    out = {m: np.full(len(cues), np.nan) for m in MEASURES}
    for i, (c, (win, exc), (rec, rexc)) in enumerate(zip(cues, tracker.windows, tracker.recent)):
        if (c.speech_s or 0.0) < max(judge_speech_s, HOP_S):
            continue
        out["art"][i] = c.articulation_rate_sps if c.articulation_rate_sps is not None else math.nan
        iv, last = phrase_intervals(win, exc, a.min_pause_s, a.max_pause_s)
        out["ioi"][i] = _inv_median(iv)
        out["ioi_nolast"][i] = _inv_median(iv[~last])
        out["ioi_mean"][i] = len(iv) / float(iv.sum()) if len(iv) >= MIN_INTERVALS else math.nan
        out["ioi_trim"][i] = 1.0 / float(stats.trim_mean(iv, TRIM)) if len(iv) >= MIN_INTERVALS else math.nan
        riv, _ = phrase_intervals(rec, rexc, a.min_pause_s, a.max_pause_s)
        for k in LAST_K:
            out[f"ioi_k{k}"][i] = _inv_median(riv[-k:]) if len(riv) >= k else math.nan
    return out


def profile(record: ev.FrameRecord, cfg, judge_speech_s: float = JUDGE_SPEECH_S) -> dict:
    """One file: hop times, the measures, the baseline hops and the freeze hop."""
    tracker = WindowTracker(cfg.analysis, record.legs)
    cues = list(ev.track_cues(record, cfg.analysis, tracker).cues)
    builder = BaselineBuilder(cfg.analysis)
    in_base = np.zeros(len(cues), bool)
    frozen = len(cues)
    for i, c in enumerate(cues):
        before = builder.current().windows if builder.current() is not None else 0
        was_ready = builder.ready
        builder.add(replace(c, baseline_ready=False))
        after = builder.current().windows if builder.current() is not None else 0
        in_base[i] = not was_ready and after > before
        if builder.ready and frozen == len(cues):
            frozen = i
    values = hop_values(tracker, cues, cfg, judge_speech_s)
    return {"t": np.array([c.t for c in cues]), "values": values, "in_base": in_base, "frozen": frozen,
            "speech_s": np.array([c.speech_s or 0.0 for c in cues])}


def slowing(d: dict) -> tuple[dict[str, np.ndarray], dict[str, tuple[float, float]]]:
    """Per measure, per hop (T,): 1 - value / baseline median from the freeze on (NaN before, and
    where the baseline has no value); the smaller of the pairs' (:data:`PAIRS`, "a&b"); each
    measure's slowing in units of its relative spread (1.4826 MAD / median, at least
    :data:`SPREAD_FLOOR`; "z:name"). Also each measure's baseline median and MAD."""
    out, base_stats = {}, {}
    for m, v in d["values"].items():
        base = v[d["in_base"][: len(v)]]
        base = base[np.isfinite(base)]
        med = float(np.median(base)) if len(base) else math.nan
        mad = float(np.median(np.abs(base - med))) if len(base) else math.nan
        s = 1.0 - v / med
        s[: d["frozen"]] = np.nan
        out[m], base_stats[m] = s, (med, mad)
    for a, b in PAIRS:
        out[f"{a}&{b}"] = np.minimum(out[a], out[b])
    for m in MEASURES:
        med, mad = base_stats[m]
        out[f"z:{m}"] = out[m] / max(1.4826 * mad / med, SPREAD_FLOOR) if med > 0 else out[m] * np.nan
    return out, base_stats


def held(x: np.ndarray, n: int) -> float:
    """The largest value ``x`` (T,) keeps for ``n`` hops in a row (missing values break a run)."""
    x = np.where(np.isfinite(x), x, -np.inf)
    return float(sliding_window_view(x, n).min(axis=1).max()) if len(x) >= n else -np.inf


def collect(folder: str, cache: str, split: str, ids: list[str] | None,
            judge_speech_s: float = JUDGE_SPEECH_S) -> list[dict]:
    cfg = ev.make_config(ev.Settings())
    jobs = [j for j in ev.load_jobs(folder, split) if j.expect_critical or j.forbid_critical]
    if split == "all" and any(j.expect_critical for j in jobs):
        raise SystemExit(f"{folder}: holds labored calls: --split all is for folders of healthy calls only")
    if ids:
        jobs = [j for j in jobs if j.id in ids]
    files = []
    for job in jobs:
        record = ev.cache_load(cache, ev.frames_key(job), ev.FrameRecord)
        if record is None:
            print(f"{job.path}: no cached frames, skipped")
            continue
        d = profile(record, cfg, judge_speech_s)
        d.update(id=job.id, rate=job.rate, condition=dict(job.condition), onset_s=job.onset_s,
                 expect=job.expect_critical, forbid=job.forbid_critical)
        files.append(d)
    return files


def file_peaks(files: list[dict], n_held: int) -> list[dict]:
    """Per file: its kind and, per measure, the largest slowing held ``n_held`` hops in its scored
    part (30 s after the onset of an expected file, the whole of a healthy one)."""
    rows = []
    for d in files:
        t, cond = d["t"], d["condition"]
        if d["expect"]:
            w = (t >= d["onset_s"]) & (t <= d["onset_s"] + DETECT_S)
        else:
            w = np.ones_like(t, bool)
        s, base_stats = slowing(d)
        rows.append({"id": d["id"], "rate": d["rate"], "expect": d["expect"], "cond": cond,
                     "peak": {m: held(np.where(w, v, np.nan), n_held) for m, v in s.items()},
                     "base": base_stats, "frozen_t": float(t[d["frozen"]]) if d["frozen"] < len(t) else math.nan})
    return rows


def _name(r: dict) -> str:
    c = r["cond"]
    kind = c.get("negative") or c.get("group") if not r["expect"] else f"{c['severity']} {c['onset']}"
    return f"{r['id'][5:]}@{r['rate'] // 1000}k {kind} {c['noise']}"


def _fmt(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:.2f}"


def report(rows: list[dict]) -> None:
    names = list(rows[0]["peak"])
    healthy = [r for r in rows if not r["expect"]]
    labored = [r for r in rows if r["expect"]]
    tempo = [r for r in labored if r["cond"].get("degrade") == "tempo"]
    tempo_ag = [r for r in tempo if r["cond"].get("onset") in ("abrupt", "gradual")]
    n = len(healthy)
    print(f"files: {n} healthy, {len(labored)} expected labored ({len(tempo)} tempo-only, "
          f"{len(tempo_ag)} of them with an abrupt or gradual onset)\n")
    print("| measure | healthy median | healthy 90 % | healthy max (file) | tempo-only (abrupt/gradual) median | "
          "tempo-only values |")
    print("|---|---|---|---|---|---|")
    for m in names:
        hv = np.array([r["peak"][m] for r in healthy])
        top = max(healthy, key=lambda r: r["peak"][m])
        tv = sorted((r["peak"][m] for r in tempo_ag), reverse=True)
        fin = [v for v in tv if np.isfinite(v)]
        print(f"| {m} | {_fmt(np.median(hv[np.isfinite(hv)]))} | {_fmt(np.quantile(hv[np.isfinite(hv)], 0.9))} "
              f"| {_fmt(top['peak'][m])} ({_name(top)}) | {_fmt(np.median(fin) if fin else math.nan)} "
              f"| {' '.join(_fmt(v) for v in tv)} |")
    print("\nhealthy files' largest by line noise (top 3) / tempo-only (abrupt/gradual) on that line")
    for m in MEASURES:
        print(f"\n{m}:")
        for noise in sorted({r["cond"]["noise"] for r in healthy}):
            h = sorted((r["peak"][m] for r in healthy if r["cond"]["noise"] == noise), reverse=True)[:3]
            tn = sorted((r["peak"][m] for r in tempo_ag if r["cond"]["noise"] == noise), reverse=True)
            print(f"  {noise:7s} healthy {' '.join(_fmt(v) for v in h):20s} tempo-only {' '.join(_fmt(v) for v in tn)}")
        kinds = collections.defaultdict(list)
        for r in healthy:
            kinds[r["cond"].get("negative") or "normal"].append(r["peak"][m])
        print("  by kind: " + ", ".join(f"{k} {_fmt(max(v))} ({len(v)})" for k, v in sorted(kinds.items())))
    print("\nhealthy files' largest 8 per measure:")
    for m in names:
        top = sorted(healthy, key=lambda r: -r["peak"][m])[:8]
        print(f"  {m}: " + ", ".join(f"{_fmt(r['peak'][m])} {_name(r)}" for r in top))
    print("\nthresholds: none of the healthy files above (max), at most 1 % above "
          f"(the value {n // 100} healthy files exceed: the largest but {n // 100})")
    print("| measure | thr 0 % | tempo-only (a/g) | tempo-only (all) | labored, every kind "
          "| thr 1 % | tempo-only (a/g) | tempo-only (all) | labored, every kind |")
    print("|---|---|---|---|---|---|---|---|---|")
    for m in names:
        hv = sorted((r["peak"][m] for r in healthy), reverse=True)
        cells = []
        for thr in (hv[0], hv[n // 100]):
            cells += [_fmt(thr)] + [str(sum(r["peak"][m] > thr for r in group)) + f"/{len(group)}"
                                    for group in (tempo_ag, tempo, labored)]
        print(f"| {m} | " + " | ".join(cells) + " |")
    print("\nlabored files of every kind past the 1 % threshold, by degrade (abrupt/gradual onsets):")
    for m in names:
        thr = sorted((r["peak"][m] for r in healthy), reverse=True)[n // 100]
        by = collections.Counter(r["cond"]["degrade"] for r in labored if r["cond"]["onset"] != "start"
                                 and r["peak"][m] > thr)
        tot = collections.Counter(r["cond"]["degrade"] for r in labored if r["cond"]["onset"] != "start")
        print(f"  {m}: " + ", ".join(f"{k} {by[k]}/{tot[k]}" for k in sorted(tot)))
    print("\ntempo-only files (abrupt/gradual), largest slowing within 30 s, per measure:")
    print("  file | " + " | ".join(names))
    for r in sorted(tempo_ag, key=lambda r: r["id"]):
        print(f"  {_name(r)} | " + " | ".join(_fmt(r["peak"][m]) for m in names))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="tune", choices=("tune", "all"),
                   help="tune: the evaluation corpus's tuning half; all: a folder of healthy calls only "
                        "(research/margin's), refused where a file expects a critical")
    p.add_argument("--out", default=None, help="pickle of the per-file, per-hop values (and read back if present)")
    p.add_argument("--held", type=int, default=8)
    p.add_argument("--ids", default=None)
    p.add_argument("--judge-speech", type=float, default=JUDGE_SPEECH_S,
                   help="speech (s) a window must hold to be judged (default: slow_speech's min_speech_s)")
    a = p.parse_args()
    files = None
    if a.out:
        try:
            with open(a.out, "rb") as fh:
                files = pickle.load(fh)
        except OSError:
            files = None
    if files is None:
        files = collect(a.folder, a.cache, a.split, a.ids.split(",") if a.ids else None, a.judge_speech)
        if a.out:
            with open(a.out, "wb") as fh:
                pickle.dump(files, fh)
    report(file_peaks(files, a.held))


if __name__ == "__main__":
    main()
