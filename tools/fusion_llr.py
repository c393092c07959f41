"""The grades ``possible_emergency`` fuses, recorded per hop, and a likelihood-ratio fusion fitted on them.

    python -m tools.fusion_llr DIR [--split tune] [--set KEY=VALUE ...] [--cache DIR]
                                   [--record OUT.npz | --from-record IN.npz] [--check] [--folds]

Every file of the split goes from its cached cue stream (``tools.evaluate`` fills the cache; a
file without one is replayed) through the baseline and the alert engine of the configuration,
which records per hop: the call time, the seconds the hop adds to the accumulation (``weight``:
0 while the caller's cue window is stale), and per family of ``possible_emergency`` the strongest
cue's grade of the long window and of the short window (NaN where the family has no judged cue),
with the file's first critical alert as the engine raised it. Each hop is labelled *healthy*
(normal calls, hard negatives, a labored call before its onset) or *labored* (an expect_critical
call after its onset); a mild labored call after its onset is neither.

- ``--check`` replays today's fusion (per-family CUSUMs, levels, score, the alert's hysteresis)
  from the record alone and counts the files whose criticals it raises at the engine's times;
- ``--folds`` cuts the split into the two folds of ``tools/tune.py`` (a checksum of the call id,
  both rates in one fold), fits the likelihood-ratio curves on one fold, chooses the fusion's
  settings and threshold for no false critical there (and for no more than today's fusion has
  there), and scores the other fold, and the reverse, beside today's fusion on the same folds.

The likelihood-ratio fusion: per family and window a curve ``LLR_f(grade) = log p(grade |
labored) / p(grade | healthy)`` from the weighted hops' grades (binned at :data:`KNOTS`,
``prior_s`` seconds added to every bin, made non-decreasing, clipped to ``+-clip``); a family's
LLR is its long window's or the larger of its two windows' (``combine``). Two decisions on it
(:class:`LlrRule`): "joint", Page's CUSUM on the families' summed LLR (a family without a judged
cue adds 0) that must reach the threshold while two families' own sums hold ``min_family``; and
"capped", today's rule (two agreeing families, each counting at most 2.5 times the agreement
level, summing to 3 times it) on per-family CUSUMs of ``LLR - drift``. One family alone decides
neither.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from monitor.alerts.rules import EPS, EVIDENCE_CAP, AlertEngine, Fusion, Judgement, _Hysteresis
from monitor.config import Config, EmergencyRuleConfig
from monitor.cue_registry import cue
from monitor.events import AlertEvent
from tools import evaluate as ev
from tools.tune import fold_of

PROG = "fusion_llr"
KNOTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)
"""Grade bins' left edges (the last bin holds everything from 2.5): the curves' knots."""


# =========================================================================== record


@dataclass(frozen=True)
class Record:
    """Per hop (``H`` hops of all files in file order): ``file`` (H,) index into ``files``, ``t``
    (H,) call time, ``dt`` (H,) seconds of call time, ``weight`` (H,) seconds accumulated,
    ``grades`` (H, 2, F) the long and short window's family grades (NaN: no judged cue),
    ``label`` (H,) 0 healthy, 1 labored, -1 neither; ``files`` per file its id, rate, onset,
    expect/forbid, group and the engine's first critical times."""

    families: tuple[str, ...]
    files: tuple[dict[str, Any], ...]
    file: np.ndarray
    t: np.ndarray
    dt: np.ndarray
    weight: np.ndarray
    grades: np.ndarray
    label: np.ndarray


class _RecordingFusion(Fusion):
    """Today's fusion, keeping what each hop hands it."""

    def __init__(self, pe: EmergencyRuleConfig, rules: Any, families: Sequence[str]) -> None:
        super().__init__(pe, rules)
        self.order = tuple(families)
        self.hops: list[tuple[float, float, float, np.ndarray]] = []

    def update(self, t: float, dt: float, weight: float, judged: Mapping[str, Judgement],
               judged_short: Mapping[str, Judgement] | None = None, turn: int | None = None,
               hold_since: float | None = None) -> None:
        g = np.full((2, len(self.order)), np.nan)
        for w, js in enumerate((judged, judged_short or {})):
            for kind, j in js.items():
                family = self.family_of.get(kind)
                if family is not None:
                    i = self.order.index(family)
                    g[w, i] = j.grade if math.isnan(g[w, i]) else max(g[w, i], j.grade)
        if hold_since is not None:  # the hold families rest: no grade, their sums hold still
            g[:, [i for i, f in enumerate(self.order) if f in self.pe.hold_families]] = np.nan
        self.hops.append((t, dt, weight, g))
        super().update(t, dt, weight, judged, judged_short, turn, hold_since)


def emergency_families(cfg: Config) -> tuple[str, ...]:
    """The families of ``possible_emergency``'s kinds, in the registry's order of rules."""
    pe = cfg.rules.possible_emergency
    fams = [cue(r.cue).family for r in cfg.rules.acoustic if r.enabled and r.kind in pe.kinds]
    return tuple(dict.fromkeys(fams))


def record_file(job: ev.Job, stream: ev.CueStream, cfg: Config,
                families: Sequence[str]) -> tuple[dict[str, Any], list[tuple[float, float, float, np.ndarray]]]:
    """One file through the baseline and the engine (``evaluate.judge_cues``): its meta (with
    the engine's first critical times) and its hops."""
    engine = AlertEngine(cfg)
    engine.fusion = rec = _RecordingFusion(cfg.rules.possible_emergency, engine._rules, families)
    crits = [e.t for e in ev.judge_cues(stream, cfg, engine) if isinstance(e, AlertEvent) and e.severity == "critical"]
    meta = {"id": job.id, "rate": job.rate, "onset_s": job.onset_s, "expect": job.expect_critical,
            "forbid": job.forbid_critical, "group": job.condition.get("group"),
            "condition": {k: job.condition.get(k) for k in ("degrade", "onset", "severity", "noise")},
            "criticals": crits}
    return meta, rec.hops


def hop_labels(meta: Mapping[str, Any], t: np.ndarray) -> np.ndarray:
    """(H,) 0 healthy, 1 labored, -1 neither, for one file's hop times ``t`` (H,)."""
    onset = meta["onset_s"]
    if onset is None:
        return np.zeros(len(t), dtype=np.int8)
    after = t >= onset
    return np.where(after, 1 if meta["expect"] else -1, 0).astype(np.int8)


def record(files: Iterable[tuple[ev.Job, ev.CueStream]], cfg: Config) -> Record:
    """Every file's hops (see :class:`Record`), from its job and cue stream."""
    families = emergency_families(cfg)
    metas, parts = [], []
    for i, (job, stream) in enumerate(files):
        meta, hops = record_file(job, stream, cfg, families)
        metas.append(meta)
        t = np.array([h[0] for h in hops])
        parts.append((np.full(len(hops), i), t, np.array([h[1] for h in hops]),
                      np.array([h[2] for h in hops]), np.stack([h[3] for h in hops]), hop_labels(meta, t)))
    if not parts:
        raise ev.CorpusError("no calls to record")
    cols = [np.concatenate(c) for c in zip(*parts)]
    return Record(families, tuple(metas), *cols)


def save_record(rec: Record, path: str) -> None:
    np.savez_compressed(path, file_index=rec.file, t=rec.t, dt=rec.dt, weight=rec.weight, grades=rec.grades,
                        label=rec.label, meta=json.dumps({"families": rec.families, "files": rec.files}))


def load_record(path: str) -> Record:
    """The record :func:`save_record` wrote; raises CorpusError (one line) for a file that is
    missing, unreadable or not such a record."""
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            return Record(tuple(meta["families"]), tuple(meta["files"]), z["file_index"], z["t"], z["dt"],
                          z["weight"], z["grades"], z["label"])
    except OSError as exc:
        raise ev.CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ev.CorpusError(f"{path}: not a record of tools.{PROG} ({exc})") from None


# =========================================================================== simulation


def padded(rec: Record) -> dict[str, np.ndarray]:
    """The record as (N files, T hops) arrays, padded with weight 0 and NaN grades; ``valid`` (N, T)."""
    n = len(rec.files)
    counts = np.bincount(rec.file, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(rec.file)) - starts[rec.file]
    shape = (n, int(counts.max()))
    out = {"valid": np.zeros(shape, bool), "t": np.full(shape, np.inf), "weight": np.zeros(shape),
           "grades": np.full(shape + rec.grades.shape[1:], np.nan)}
    out["valid"][rec.file, pos] = True
    out["t"][rec.file, pos] = rec.t
    out["weight"][rec.file, pos] = rec.weight
    out["grades"][rec.file, pos] = rec.grades
    return out


def cusum(total: np.ndarray, weight: np.ndarray, step: np.ndarray, cap: float) -> np.ndarray:
    """One CUSUM step for every file and family at once: ``clip(total + weight * step, 0, cap)``
    where ``step`` is not NaN, ``total`` where it is. Shapes broadcast: (N, ...)."""
    new = np.minimum(cap, np.maximum(0.0, total + weight * step))
    return np.where(np.isnan(step), total, new)


def today_holds(pad: Mapping[str, np.ndarray], pe: EmergencyRuleConfig) -> np.ndarray:
    """(N, T) whether today's fusion (long and short sums per family, levels, score) holds; no
    smoothing, single family or phrase (:func:`unsimulated` says which settings need them); the
    ``hold_families`` rest over a hold as recorded (no grade), their rewind to its start is not
    replayed (``--check`` shows where that mattered)."""
    g = np.minimum(pad["grades"], pe.max_grade)
    n, steps, _, f = g.shape
    cap = EVIDENCE_CAP * pe.max_grade * pe.evidence_s
    sums = np.zeros((n, 2, f))
    drift = np.array([pe.drift, pe.short_drift])[None, :, None]
    holds = np.zeros((n, steps), bool)
    for k in range(steps):
        sums = cusum(sums, pad["weight"][:, k, None, None], g[:, k] - drift, cap)
        level = np.minimum(sums.max(axis=1) / pe.evidence_s, pe.max_grade)
        agree = level >= 1.0 - EPS
        score = np.where(agree, level, 0.0).sum(axis=1)
        holds[:, k] = (agree.sum(axis=1) >= pe.min_families) & (score >= pe.min_score - EPS)
    return holds & pad["valid"]


def unsimulated(pe: EmergencyRuleConfig) -> str | None:
    """The first ``possible_emergency`` key whose setting :func:`today_holds` does not replay
    (a smoothing of the grades, one family alone, evidence over several caller turns, a pair of
    families near their absolute limits), or None."""
    for key, value in (("smooth_s", pe.smooth_s), ("single_family", pe.single_family),
                       ("min_turns", pe.min_turns - 1), ("paired_grade", pe.paired_grade)):
        if value > 0:
            return f"rules.possible_emergency.{key}"
    return None


def raises(t: np.ndarray, holds: np.ndarray, pe: EmergencyRuleConfig, hop_s: float = 1.0) -> list[float]:
    """The times the alert's hysteresis (``pe``'s persist, clear and cooldown, as the engine's)
    raises, from one file's hop times ``t`` (T,) and whether the fusion holds (T,)."""
    state = _Hysteresis(pe.persist_s, pe.clear_s, pe.cooldown_s)
    dt = np.minimum(np.diff(t, prepend=t[:1]), hop_s) if len(t) else t
    return [float(tk) for tk, d, h in zip(t, dt, holds) if state.step(float(tk), float(d), bool(h)) == "raise"]


def first_criticals(pad: Mapping[str, np.ndarray], holds: np.ndarray, pe: EmergencyRuleConfig) -> list[list[float]]:
    """Per file, the criticals raised (hop times), from the (N, T) ``holds`` (:func:`raises`)."""
    out = []
    for i in range(holds.shape[0]):
        v = pad["valid"][i]
        ts, hs = pad["t"][i][v], holds[i][v]
        out.append(raises(ts, hs, pe) if hs.any() else [])
    return out


# =========================================================================== scores


def scores(files: Sequence[Mapping[str, Any]], crits: Sequence[Sequence[float]]) -> dict[str, Any]:
    """det@30, median time to critical (nearest rank, a miss infinite), false-critical files
    (forbid_critical files with any critical) and labored files with a critical before the onset."""
    ttc = []
    for meta, cs in zip(files, crits):
        if meta["expect"]:
            after = [c for c in cs if c >= meta["onset_s"]]
            ttc.append(after[0] - meta["onset_s"] if after else math.inf)
    fa = sum(bool(cs) for meta, cs in zip(files, crits) if meta["forbid"])
    pre = sum(any(c < meta["onset_s"] for c in cs) for meta, cs in zip(files, crits) if meta["onset_s"] is not None)
    det = sum(t <= ev.DETECT_WITHIN_S for t in ttc)
    return {"expected": len(ttc), "det30": det, "median": ev.nearest_rank(ttc, 0.5), "fa": fa, "pre": pre,
            "forbid": sum(bool(m["forbid"]) for m in files)}


def fmt(s: Mapping[str, Any]) -> str:
    med = s["median"]
    return (f"det@30 {s['det30']}/{s['expected']} ({100 * s['det30'] / max(1, s['expected']):.0f} %), median "
            f"{'miss' if med is None or math.isinf(med) else f'{med:.1f} s'}, false criticals {s['fa']}/{s['forbid']}, "
            f"pre-onset {s['pre']}")


def check(rec: Record, pe: EmergencyRuleConfig) -> tuple[int, list[str]]:
    """How many files' criticals today's fusion, simulated from the record, puts exactly where the
    engine raised them; the ids of those it does not."""
    pad = padded(rec)
    sim = first_criticals(pad, today_holds(pad, pe), pe)
    same = [np.allclose(a, m["criticals"], atol=1e-9) if len(a) == len(m["criticals"]) else False
            for a, m in zip(sim, rec.files)]
    return sum(same), [f"{m['id']}@{m['rate']}" for m, ok in zip(rec.files, same) if not ok]


# =========================================================================== likelihood ratios


def bin_of(grades: np.ndarray) -> np.ndarray:
    """Index into :data:`KNOTS` of each grade (any shape)."""
    return np.clip(np.searchsorted(np.asarray(KNOTS), grades, side="right") - 1, 0, len(KNOTS) - 1)


def monotone(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing fit of ``y`` (B,) with weights ``w`` (B,) (pool
    adjacent violators; B is a handful of bins)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, wt in zip(y, w):
        blocks.append([float(v), float(wt), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            b = blocks.pop()
            a = blocks[-1]
            tot = a[1] + b[1]
            a[0] = (a[0] * a[1] + b[0] * b[1]) / tot if tot > 0 else (a[0] + b[0]) / 2
            a[1], a[2] = tot, a[2] + b[2]
    return np.concatenate([np.full(int(c), m) for m, _, c in blocks])


def fit_curve(grades: np.ndarray, weight: np.ndarray, label: np.ndarray, prior_s: float, clip: float) -> np.ndarray:
    """(B,) the log-likelihood ratio per grade bin of one family and window: the labored and the
    healthy hops' seconds per bin (``prior_s`` seconds added to every bin), made non-decreasing
    (weighted by seconds) and clipped to ``+-clip``."""
    ok = ~np.isnan(grades) & (weight > 0) & (label >= 0)
    b = bin_of(grades[ok])
    per = [np.bincount(b[label[ok] == k], weight[ok][label[ok] == k], len(KNOTS)) + prior_s for k in (0, 1)]
    llr = np.log(per[1] / per[1].sum()) - np.log(per[0] / per[0].sum())
    return np.clip(monotone(llr, per[0] + per[1]), -clip, clip)


def fit_curves(rec: Record, files: np.ndarray, prior_s: float, clip: float) -> np.ndarray:
    """(2, F, B) the curves per window and family, fitted on the hops of the files in ``files``."""
    use = np.isin(rec.file, files)
    return np.stack([np.stack([fit_curve(rec.grades[use, w, f], rec.weight[use], rec.label[use], prior_s, clip)
                               for f in range(len(rec.families))]) for w in range(2)])


def llr_of(curves: np.ndarray, grades: np.ndarray, combine: str) -> np.ndarray:
    """(N, T, F) each family's log-likelihood ratio from ``grades`` (N, T, 2, F) (NaN: no judged
    cue, 0 added); ``combine`` "long", "max" (the larger of the two windows') or "sum"."""
    f = np.arange(grades.shape[-1])
    per = [np.where(np.isnan(grades[:, :, w]), np.nan, curves[w, f, bin_of(np.nan_to_num(grades[:, :, w]))])
           for w in range(2)]
    if combine == "long":
        out = per[0]
    elif combine == "max":
        out = np.fmax(per[0], per[1])
    else:
        out = np.nansum(np.stack(per), axis=0)
        out[np.isnan(per[0]) & np.isnan(per[1])] = np.nan
    return out


@dataclass(frozen=True)
class LlrRule:
    """The likelihood-ratio fusion's decision. ``mode`` "joint": Page's CUSUM on the families'
    summed LLR minus ``drift`` (per second) reaches ``threshold`` (nats) while at least two
    families' own sums (the same CUSUM of their LLR alone, no drift) hold ``min_family``;
    "capped": today's rule on LLR-graded families: each family's CUSUM of ``LLR - drift``
    agrees at ``threshold``, counts at most 2.5 times it, and two agreeing families must sum
    to 3 times it. Every sum holds at most ``cap`` times what its decision needs."""

    threshold: float
    min_family: float = 0.5
    drift: float = 0.0
    cap: float = 1.5
    mode: str = "joint"


def llr_holds(pad: Mapping[str, np.ndarray], llr: np.ndarray, rule: LlrRule) -> np.ndarray:
    """(N, T) whether the likelihood-ratio fusion holds, from each family's LLR (N, T, F)."""
    if rule.mode == "capped":
        return capped_holds(pad, llr, rule)
    n, steps, f = llr.shape
    joint, fam = np.zeros(n), np.zeros((n, f))
    step = np.nansum(llr, axis=2) - rule.drift
    none = np.isnan(llr).all(axis=2)
    holds = np.zeros((n, steps), bool)
    for k in range(steps):
        w = pad["weight"][:, k]
        joint = np.where(none[:, k], joint, np.minimum(rule.cap * rule.threshold,
                                                       np.maximum(0.0, joint + w * step[:, k])))
        fam = cusum(fam, w[:, None], llr[:, k], rule.cap * max(rule.threshold, rule.min_family))
        holds[:, k] = (joint >= rule.threshold - EPS) & ((fam >= rule.min_family - EPS).sum(axis=1) >= 2)
    return holds & pad["valid"]


def capped_holds(pad: Mapping[str, np.ndarray], llr: np.ndarray, rule: LlrRule) -> np.ndarray:
    """(N, T) the "capped" mode of :class:`LlrRule` from each family's LLR (N, T, F)."""
    n, steps, f = llr.shape
    fam = np.zeros((n, f))
    most = 2.5 * rule.threshold
    holds = np.zeros((n, steps), bool)
    for k in range(steps):
        fam = cusum(fam, pad["weight"][:, k, None], llr[:, k] - rule.drift, rule.cap * most)
        level = np.minimum(fam, most)
        agree = level >= rule.threshold - EPS
        holds[:, k] = (agree.sum(axis=1) >= 2) & (np.where(agree, level, 0.0).sum(axis=1) >= 3 * rule.threshold - EPS)
    return holds & pad["valid"]


# =========================================================================== folds


def fold_files(rec: Record, folds: int = 2) -> list[np.ndarray]:
    """The file indices of each fold (``tools.tune.fold_of``: a checksum of the call id)."""
    k = np.array([fold_of(m["id"], folds) for m in rec.files])
    return [np.flatnonzero(k == i) for i in range(folds)]


def subset(rec: Record, files: np.ndarray) -> Record:
    """The record of the files ``files`` only (renumbered)."""
    use = np.isin(rec.file, files)
    renum = np.full(len(rec.files), -1)
    renum[files] = np.arange(len(files))
    return Record(rec.families, tuple(rec.files[i] for i in files), renum[rec.file[use]], rec.t[use],
                  rec.dt[use], rec.weight[use], rec.grades[use], rec.label[use])


LADDER: Mapping[str, tuple[float, ...]] = {
    "joint": tuple(float(x) for x in np.round(np.geomspace(1.0, 80.0, 31), 2)),
    "capped": tuple(float(x) for x in np.round(np.geomspace(0.25, 12.0, 25), 3))}
"""The thresholds tried per mode, lowest first."""
CURVES_GRID = {"prior_s": (5.0, 20.0), "clip": (1.5, 3.0), "combine": ("long", "max")}
RULE_GRID = {"joint": [{"min_family": m, "drift": d} for m in (0.5, 2.0) for d in (0.0, 0.5, 1.0)],
             "capped": [{"drift": d} for d in (0.5, 1.0, 1.5, 2.0, 2.5)]}


def lowest_clean(fit: Record, pad: Mapping[str, np.ndarray], llr: np.ndarray, rule: LlrRule,
                 allowed: int, pe: EmergencyRuleConfig) -> tuple[LlrRule, dict] | None:
    """The lowest threshold of the mode's :data:`LADDER` with at most ``allowed`` false criticals
    (files with one, counting labored files with one before their onset) on ``fit``, and its
    scores; None if none is."""
    for h in LADDER[rule.mode]:
        r = replace(rule, threshold=h)
        s = scores(fit.files, first_criticals(pad, llr_holds(pad, llr, r), pe))
        if s["fa"] + s["pre"] <= allowed:
            return r, s
    return None


def settings() -> list[tuple[dict, LlrRule]]:
    """Every curve setting with every rule of :data:`RULE_GRID` (a drift at or past the clip never
    accumulates: left out)."""
    out = []
    for prior, clip, combine in itertools.product(*CURVES_GRID.values()):
        for mode, rules in RULE_GRID.items():
            out += [({"prior_s": prior, "clip": clip, "combine": combine}, LlrRule(0.0, mode=mode, **r))
                    for r in rules if r["drift"] < clip]
    return out


def choose(rec: Record, fit_files: np.ndarray, allowed: int, mode: str,
           pe: EmergencyRuleConfig) -> tuple[dict, LlrRule, np.ndarray, dict]:
    """On the fitting fold: per setting the curves and the lowest threshold with at most ``allowed``
    false criticals; the one with the most detections within 30 s (then the shortest median)."""
    fit = subset(rec, fit_files)
    pad = padded(fit)
    best: tuple | None = None
    for setting, rule in settings():
        if rule.mode != mode:
            continue
        curves = fit_curves(fit, np.arange(len(fit.files)), setting["prior_s"], setting["clip"])
        got = lowest_clean(fit, pad, llr_of(curves, pad["grades"], setting["combine"]), rule, allowed, pe)
        if got is None:
            continue
        key = (got[1]["det30"], -(got[1]["median"] or math.inf))
        if best is None or key > best[0]:
            best = (key, setting, got[0], curves, got[1])
    assert best is not None, "no setting within the allowed false criticals"
    return best[1], best[2], best[3], best[4]


def today_clean(fit: Record, pe: EmergencyRuleConfig, allowed: int) -> tuple[float, dict]:
    """Today's fusion with the lowest ``min_score`` (3 to 8) with at most ``allowed`` false criticals on ``fit``."""
    pad = padded(fit)
    for ms in np.arange(3.0, 8.01, 0.25):
        s = scores(fit.files, first_criticals(pad, today_holds(pad, replace(pe, min_score=float(ms))), pe))
        if s["fa"] + s["pre"] <= allowed:
            return float(ms), s
    return math.inf, {}


def fold_lines(rec: Record, pe: EmergencyRuleConfig, fit_files: np.ndarray, held_files: np.ndarray) -> list[str]:
    """Today's fusion and the likelihood-ratio fusion (both modes) chosen on ``fit_files`` (for no
    false critical, and for at most today's), scored on ``held_files``."""
    held, fit = subset(rec, held_files), subset(rec, fit_files)
    pad, fpad = padded(held), padded(fit)
    shipped = scores(fit.files, first_criticals(fpad, today_holds(fpad, pe), pe))
    lines = ["  today as shipped:  " + fmt(scores(held.files, first_criticals(pad, today_holds(pad, pe), pe)))
             + f"   (fitting fold: {fmt(shipped)})"]
    for allowed in sorted({0, shipped["fa"] + shipped["pre"]}):
        ms, s_fit = today_clean(fit, pe, allowed)
        s = scores(held.files, first_criticals(pad, today_holds(pad, replace(pe, min_score=ms)), pe))
        lines.append(f"  at most {allowed} false on the fitting fold:")
        lines.append(f"    today, min_score {ms:g}: {fmt(s)}   (fitting fold: {fmt(s_fit)})")
        for mode in RULE_GRID:
            setting, rule, curves, s_fit = choose(rec, fit_files, allowed, mode, pe)
            llr = llr_of(curves, pad["grades"], setting["combine"])
            s = scores(held.files, first_criticals(pad, llr_holds(pad, llr, rule), pe))
            lines.append(f"    LLR {mode} {setting} threshold {rule.threshold:g} drift {rule.drift:g}"
                         + (f" min_family {rule.min_family:g}" if mode == "joint" else "")
                         + f": {fmt(s)}   (fitting fold: {fmt(s_fit)})")
    return lines


def run_folds(rec: Record, pe: EmergencyRuleConfig) -> list[str]:
    """Per fold: fit on the other one, score this one (lines to print)."""
    lines = []
    folds = fold_files(rec)
    for k in (0, 1):
        lines.append(f"fitted on fold {k} ({len(folds[k])} files), scored on fold {1 - k} ({len(folds[1 - k])} files)")
        lines += fold_lines(rec, pe, folds[k], folds[1 - k])
    return lines


# =========================================================================== main


def main(argv: list[str] | None = None) -> int:
    p = ev.corpus_tool_parser(PROG, __doc__.split("\n")[0])
    p.add_argument("--record", metavar="OUT.npz", help="write the record")
    p.add_argument("--from-record", metavar="IN.npz", help="read a record instead of the corpus (DIR unread)")
    p.add_argument("--check", action="store_true", help="today's fusion from the record against the engine")
    p.add_argument("--folds", action="store_true", help="fit on one fold, score the other")
    args = p.parse_args(argv)
    try:
        if args.from_record:
            cfg = ev.make_config(ev.settings_from_args(args))
            rec = load_record(args.from_record)
        else:
            settings, cfg, jobs = ev.corpus_of(args)
            rec = record(ev.cue_streams(jobs, cfg, settings.cache_dir), cfg)
    except ev.CORPUS_PROBLEMS as exc:
        return ev.corpus_failed(exc, PROG)
    if (key := unsimulated(cfg.rules.possible_emergency)) is not None and (args.check or args.folds):
        return ev.fail(f"{key}: the record's fusion is replayed without it (compare the fusions without it: "
                       f"--set {key}=0, on the record and on the corpus)", prog=PROG)
    return report(rec, cfg.rules.possible_emergency, args)


def report(rec: Record, pe: EmergencyRuleConfig, args: argparse.Namespace) -> int:
    """Write the record (``--record``), print the check and the folds, write them as JSON
    (``--json``: the files' meta and the printed lines); the exit status."""
    lines: dict[str, list[str]] = {}
    if args.check:
        same, differ = check(rec, pe)
        lines["check"] = [f"today's fusion from the record: {same} of {len(rec.files)} files' criticals as "
                          "the engine's" + (f"; differ: {' '.join(differ)}" if differ else "")]
    if args.folds:
        lines["folds"] = run_folds(rec, pe)
    if lines:
        print("\n".join(line for part in lines.values() for line in part))
    for path, write in ((args.record, lambda p: save_record(rec, p)),
                        (args.json, lambda p: ev.write_json(p, {"files": list(rec.files), **lines}))):
        try:
            if path:
                write(path)
        except OSError as exc:
            return ev.fail(f"{path}: cannot write ({exc.strerror or exc})", prog=PROG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
