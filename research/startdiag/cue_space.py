"""Callers labored from the first word against the healthy files, in the absolute limits' cue space.

    PYTHONPATH=. python research/startdiag/cue_space.py DIR --cache CACHE [--hold 10,20]
        [--scores MAIN.json] [--json OUT.json] [--split tune]

Per file of the split, per family of evidence with an absolute limit (tempo: speech rate; pausing:
pause ratio and phrase length; latency; voice: HNR; breathing: audible breaths, outside
possible_emergency's kinds), the family's *absolute grade* on every hop: its rules' cue graded from
the cue's typical value (0 there, 1 at the rule's absolute limit, as ``judge`` grades it before a
baseline), the strongest of the family's rules, on the hops where the rule would judge the long
window (``tools.population_limits.judged_values``'s tests), held over the hops where it is not (the
fusion keeps a family's sums while it has no judged cue). A family's *sustained* grade over H s
is the grade it stays at or above for H consecutive hops (rolling minimum); its worst over the
call is what the file reaches. Groups: the labored files from the first word (``onset=start``,
moderate and severe), the healthy files (normal calls and hard negatives: critical forbidden, no
onset), and the labored files' stretch before a later onset ("pre-onset": also healthy speech).

Printed: per family and hold, how many files of each group reach grade 1 (past the limit); per
file, how many families are past at once; per pair of families the joint sustained grade
(both at or above it for the hold) of the start-labored files against the healthiest file's
maximum; and the same for the sum of all families' sustained grades.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Sequence

import numpy as np

from monitor.alerts.rules import _grade
from monitor.config import Config, RuleConfig
from monitor.cue_registry import cue
from tools import evaluate as ev
from tools import population_limits as pl

FAMILY_RULES: dict[str, tuple[str, ...]] = {
    "tempo": ("slow_speech",), "pausing": ("long_pauses", "short_phrases"),
    "latency": ("slow_response",), "voice": ("breathy_voice",), "breathing": ("audible_breathing",),
}
FAMILY_NAMES: tuple[str, ...] = tuple(FAMILY_RULES)


@dataclass(frozen=True)
class FileGrades:
    """One file's per-hop absolute grades: ``t`` (n,) call times, ``grades`` (F, n) one row per
    family of :data:`FAMILY_NAMES` (NaN before the family's first judged hop)."""

    id: str
    rate: int
    group: str
    severity: str
    onset: str | None
    label: str
    """What the file is, for the printout: the hard negative's kind, or the noise and SNR."""
    t: np.ndarray
    grades: np.ndarray


def judged_series(stream: Sequence[Any], rule: RuleConfig, cfg: Config) -> np.ndarray:
    """The rule's cue on every caller hop of ``stream`` (n,), NaN where the rule would not judge it."""
    out = np.full(len(stream), np.nan)
    for i, c in enumerate(stream):
        v = pl.judged_values([c], rule, cfg, "long")
        if v.size:
            out[i] = v[0]
    return out


def hold_forward(x: np.ndarray) -> np.ndarray:
    """``x`` (n,) with each NaN after the first value replaced by the last value before it."""
    idx = np.where(np.isnan(x), 0, np.arange(x.size))
    np.maximum.accumulate(idx, out=idx)
    held = x[idx]
    held[: np.argmax(~np.isnan(x)) if np.any(~np.isnan(x)) else x.size] = np.nan
    return held


def family_grades(stream: Sequence[Any], cfg: Config) -> np.ndarray:
    """Per family of :data:`FAMILY_NAMES`, its rules' strongest absolute grade per hop, (F, n)."""
    rules = {r.kind: r for r in cfg.rules.acoustic}
    rows = []
    for family in FAMILY_NAMES:
        per_rule = []
        for kind in FAMILY_RULES[family]:
            r = rules[kind]
            v = judged_series(stream, r, cfg)
            typical = cue(r.cue).typical
            g = np.array([np.nan if np.isnan(x) else _grade(float(x), typical, r.absolute) for x in v])
            per_rule.append(hold_forward(g))
        rows.append(np.fmax.reduce(np.vstack(per_rule), axis=0))
    return np.vstack(rows)


def rolling_min(x: np.ndarray, k: int) -> np.ndarray:
    """Minimum of each run of ``k`` consecutive values of ``x`` (..., n) -> (..., n - k + 1);
    NaN (no value yet) counts as 0. Empty along the last axis when n < k."""
    x = np.nan_to_num(x, nan=0.0)
    if x.shape[-1] < k:
        return x[..., :0]
    return np.lib.stride_tricks.sliding_window_view(x, k, axis=-1).min(axis=-1)


def load(folder: str, split: str, cache: str) -> list[FileGrades]:
    """Every file of the split with its family grades (a labored file's hops from its onset on,
    its hops before a later onset as a "pre-onset" file of their own)."""
    cfg = ev.make_config(ev.Settings())
    out = []
    for job, stream in ev.cue_streams(ev.load_jobs(folder, split), cfg, cache):
        cues = [c for c in stream.cues if c.channel == "caller"]
        t = np.array([c.t for c in cues])
        g = family_grades(cues, cfg)
        cond = job.condition
        group = cond.get("group", "normal")
        sev, onset = str(cond.get("severity")), cond.get("onset")
        label = f"{cond.get('negative') or cond.get('degrade') or ''}/{cond.get('noise')}/{cond.get('snr_db')}"
        if job.onset_s is None:
            out.append(FileGrades(job.id, job.rate, group, sev, onset, label, t, g))
            continue
        after = t >= job.onset_s
        out.append(FileGrades(job.id, job.rate, group, sev, onset, label, t[after], g[:, after]))
        if onset != "start" and np.any(~after):
            out.append(FileGrades(job.id, job.rate, "pre_onset", "none", onset, label, t[~after], g[:, ~after]))
    return out


def group_of(f: FileGrades) -> str:
    """"start" (labored from the first word, moderate or severe), "start_mild", "other_labored"
    (abrupt or gradual, after the onset), "healthy" (normal calls and hard negatives), "pre_onset"."""
    if f.group == "labored":
        if f.onset == "start":
            return "start" if f.severity in ("moderate", "severe") else "start_mild"
        return "other_labored"
    return "pre_onset" if f.group == "pre_onset" else "healthy"


def sustained(f: FileGrades, k: int, horizon_s: float | None = None) -> np.ndarray:
    """The file's families' sustained grades over ``k`` hops, (F, m); ``horizon_s``: only the
    hops within that many seconds of the file's first hop (its onset, for a labored file)."""
    g = f.grades
    if horizon_s is not None and f.t.size:
        g = g[:, f.t <= f.t[0] + horizon_s]
    return rolling_min(g, k)


def file_figures(f: FileGrades, k: int, horizon_s: float | None = None) -> dict[str, Any]:
    """Per family its worst sustained grade; the most families past 1 at once; per pair their
    joint sustained grade; the largest sum of the emergency families' sustained grades (capped 2.5)."""
    r = sustained(f, k, horizon_s)
    n = len(FAMILY_NAMES)
    if r.shape[1] == 0:
        r = np.zeros((n, 1))
    emergency = np.minimum(r[:4], 2.5)  # tempo, pausing, latency, voice
    return {
        "family": {fam: float(r[i].max()) for i, fam in enumerate(FAMILY_NAMES)},
        "at_once": int((r[:4] >= 1.0).sum(axis=0).max()),
        "at_once_with_breathing": int((r >= 1.0).sum(axis=0).max()),
        "pair": {f"{FAMILY_NAMES[a]}+{FAMILY_NAMES[b]}": float(np.minimum(r[a], r[b]).max())
                 for a, b in combinations(range(n), 2)},
        "sum": float(emergency.sum(axis=0).max()),
    }


GROUPS: tuple[str, ...] = ("start", "start_mild", "other_labored", "healthy", "pre_onset")
HEALTHY: tuple[str, ...] = ("healthy", "pre_onset")


def _count(rows: Sequence[dict[str, Any]], group: str, test: Any) -> str:
    mine = [r for r in rows if r["group"] == group]
    return f"{sum(bool(test(r)) for r in mine):3d}/{len(mine):<3d}"


def _worst_healthy(rows: Sequence[dict[str, Any]], value: Any) -> tuple[float, str]:
    healthy = [r for r in rows if r["group"] in HEALTHY]
    top = max(healthy, key=value)
    return value(top), f"{top['id']}/{top['rate'] // 1000}k {top['group']} {top['label']}"


def family_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per family: files of each group past the absolute limit (sustained grade >= 1), the missed
    start files among them, and the healthiest file's worst sustained grade."""
    out = [f"{'family':10s} " + " ".join(f"{g:>13s}" for g in GROUPS) + "  start-missed  healthy max"]
    for fam in FAMILY_NAMES:
        def past(r: dict[str, Any], fam: str = fam) -> bool:
            return r["fig"]["family"][fam] >= 1.0
        top, who = _worst_healthy(rows, lambda r, fam=fam: r["fig"]["family"][fam])
        missed = [r for r in rows if r["group"] == "start" and not r["det30"]]
        out.append(f"{fam:10s} " + " ".join(f"{_count(rows, g, past):>13s}" for g in GROUPS)
                   + f"  {sum(past(r) for r in missed):3d}/{len(missed):<3d}     {top:.2f} {who}")
    return out


def at_once_lines(rows: Sequence[dict[str, Any]], key: str) -> list[str]:
    """Per group, how many files have 0, 1, 2, 3, 4+ families past their limit at once."""
    out = [f"{'group':14s} " + " ".join(f"{n:>5d}" for n in range(5)) + "   (families past at once: files)"]
    for g in GROUPS:
        counts = [sum(1 for r in rows if r["group"] == g and min(r["fig"][key], 4) == n) for n in range(5)]
        out.append(f"{g:14s} " + " ".join(f"{c:5d}" for c in counts))
    return out


def separation_lines(rows: Sequence[dict[str, Any]], names: Sequence[str], value: Any) -> list[str]:
    """Per joint measure: the healthiest file's maximum and the start files beyond it (all, and
    those main misses within 30 s), with the start files' median."""
    out = [f"{'measure':20s} {'healthy max':>11s}  start>max  missed>max  start median  healthiest file"]
    start = [r for r in rows if r["group"] == "start"]
    for name in names:
        top, who = _worst_healthy(rows, lambda r: value(r, name))
        above = [r for r in start if value(r, name) > top]
        missed = [r for r in above if not r["det30"]]
        med = float(np.median([value(r, name) for r in start]))
        out.append(f"{name:20s} {top:11.2f}  {len(above):3d}/{len(start):<3d}   {len(missed):3d}        "
                   f"{med:6.2f}       {who}")
    return out


def scores_of(path: str | None) -> dict[tuple[str, int], bool]:
    """Per (id, rate), whether main's evaluation found the file critical within 30 s of its onset."""
    if path is None:
        return {}
    files = json.load(open(path))["files"]
    return {(f["id"], f["rate"]): f.get("time_to_critical_s") is not None and f["time_to_critical_s"] <= 30.0
            for f in files}


def rows_of(files: Sequence[FileGrades], k: int, horizon_s: float | None,
            det: dict[tuple[str, int], bool]) -> list[dict[str, Any]]:
    return [{"id": f.id, "rate": f.rate, "group": group_of(f), "label": f.label,
             "det30": det.get((f.id, f.rate), False),
             "fig": file_figures(f, k, horizon_s if group_of(f) not in HEALTHY else None)} for f in files]


def report(files: Sequence[FileGrades], holds: Sequence[int], det: dict[tuple[str, int], bool]) -> list[str]:
    pairs = [f"{a}+{b}" for a, b in combinations(FAMILY_NAMES, 2)]
    lines = []
    for k in holds:
        for horizon in (None, 30.0):
            rows = rows_of(files, k, horizon, det)
            when = "over the call" if horizon is None else "labored files' first 30 s after the onset"
            lines += [f"== sustained {k} s, {when} (healthy and pre-onset files: over all their hops) ==", ""]
            lines += family_lines(rows) + [""] + at_once_lines(rows, "at_once") + [""]
            lines += separation_lines(rows, pairs, lambda r, n: r["fig"]["pair"][n])
            lines += separation_lines(rows, ["sum (4 families)"], lambda r, n: r["fig"]["sum"])[1:] + [""]
    return lines


def load_or_make(path: str | None, folder: str, split: str, cache: str) -> list[FileGrades]:
    """:func:`load`'s files, from ``path`` (a pickle) when it exists, else loaded and saved there."""
    if path is not None and os.path.exists(path):
        with open(path, "rb") as fh:
            return pickle.load(fh)
    files = load(folder, split, cache)
    if path is not None:
        with open(path, "wb") as fh:
            pickle.dump(files, fh)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="tune")
    p.add_argument("--hold", default="10,20", help="seconds of sustained grade (comma-separated)")
    p.add_argument("--scores", help="tools.evaluate --json of the same split (which start files main finds)")
    p.add_argument("--json", help="write every file's figures here")
    p.add_argument("--grades", help="a pickle of every file's grades: read if it exists, else written")
    args = p.parse_args(argv)
    files = load_or_make(args.grades, args.folder, args.split, args.cache)
    det = scores_of(args.scores)
    holds = [int(h) for h in args.hold.split(",")]
    print("\n".join(report(files, holds, det)))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({str(k): rows_of(files, k, None, det) for k in holds}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
