"""A learned per-hop score over the alert engine's own evidence, cross-validated by file groups.

    PYTHONPATH=. python research/fusion/fit.py TUNE.pkl MARGIN.pkl [--lam 0.1] [--lag 5]
        [--pos-window 60] [--ks 1,2,3,5,8,12] [--mil [--beta 1] [--neg 1]] [--monotone]
        [--drop PREFIX,...] [--only PREFIX,...] [--without FAMILY,...] [--breathing]
        [--allow SHARE] [--no-inner] [--fold-by cell|replicate] [--curve [--budgets 0,1,2,4,6,10]]
        [--at BUDGET] [--evidence] [--coef] [--brief] [--files OUT.json]

TUNE.pkl and MARGIN.pkl come from ``extract.py`` (the tuning half, ``--split tune``; the margin
corpus, ``--split all``). Each hop gets a feature vector (:func:`features`, causal: only the hop and
the ones before it). A logistic regression with an L2 penalty (numpy and scipy only) separates the
hops of moderate and severe labored files from ``lag`` s after their onset (the first turn past the
mild level for gradual onsets) to ``pos-window`` s later, from every hop of the healthy files
(normal, hard negatives, margin) and the hops before any labored file's onset; each file weighs the
same in each class. ``--mil`` fits instead each file's soft maximum (:func:`fit_bags`). A critical is
the score above a threshold for ``k`` consecutive caller hops, never in a silence the hold test has
not decided (as the engine).

Folds (``--fold-by``): the tuning half's calls by ``(seed // 2) % 4`` (a cell's two calls, one per
replicate, fall in one fold; both rates of a call together), the margin calls by ``seed % 4``. For each
held-out fold the model is fitted on the three others; the threshold and ``k`` are chosen on the three
training folds (on their scores from an inner leave-one-fold-out fit unless ``--no-inner``): per ``k``
the lowest threshold at which no training labored file has a critical before its onset and at most
``--allow`` of the training healthy files have one, then the ``k`` with the most training files
critical within 30 s of the onset. Printed: per held-out fold and pooled, the learned rule against the
engine's own criticals (the ``crit`` trace, as ``tools.evaluate`` scores them) on the same files, by
condition; with ``--curve`` the pooled out-of-fold operating curve (one threshold over all held-out
scores: the separability, chosen on what it scores); ``--at`` scores the rule at one point of it.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

FAMS = ("tempo", "pausing", "latency", "voice", "loudness")
RULES = {"tempo": ("slow_speech",), "pausing": ("long_pauses", "short_phrases"), "latency": ("slow_response",),
         "voice": ("breathy_voice",), "loudness": ("weak_voice",), "breathing": ("audible_breathing",)}
CAP = 2.5
EVIDENCE_S = 0.5
WITHIN_S = 30.0
FOLDS = 4


@dataclass
class File:
    """One evaluated file and its hops' features."""

    id: str
    rate: int
    seed: int
    src: str
    kind: str  # "pos" (moderate/severe labored), "mild" (labored, no critical expected), "healthy"
    fold: int
    condition: dict
    onset: float | None
    start: float | None  # onset, or the first turn past the mild level
    t: np.ndarray
    crit: np.ndarray  # the engine's possible_emergency active per hop
    undecided: np.ndarray  # hops in a silence the hold test has not decided (no critical raised there)
    X: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))


# ----------------------------------------------------------------------------- features


def ffill(a: np.ndarray, first: float = 0.0) -> np.ndarray:
    """NaN replaced by the last value before it (``first`` before any)."""
    out = a.copy()
    idx = np.where(np.isnan(out), 0, np.arange(len(out)))
    np.maximum.accumulate(idx, out=idx)
    out = out[idx]
    return np.where(np.isnan(out), first, out)


def rolling_min(a: np.ndarray, k: int) -> np.ndarray:
    """Minimum over the hop and the ``k - 1`` before it (over what there is at the start)."""
    if k <= 1 or len(a) == 0:
        return a.copy()
    pad = np.concatenate([np.full(k - 1, np.inf), a])
    win = np.lib.stride_tricks.sliding_window_view(pad, k)
    return win.min(axis=1)


def family(h: dict[str, np.ndarray], prefix: str, fam: str) -> np.ndarray:
    """The family's strongest rule's value of ``prefix`` per hop (NaN where none judged), capped."""
    cols = [h[prefix + k] for k in RULES[fam] if prefix + k in h]
    stack = np.vstack(cols)
    with np.errstate(all="ignore"):
        m = np.where(np.all(np.isnan(stack), axis=0), np.nan, np.nanmax(np.nan_to_num(stack, nan=-1), axis=0))
    return np.minimum(m, CAP)


def features(h: dict[str, np.ndarray], fams: tuple[str, ...] = FAMS) -> tuple[np.ndarray, list[str]]:
    """Per hop (rows) the features (columns) and their names, each tagged by its group
    ("group:name"): the families' long, short, absolute and change grades (held over hops without a
    judgement), their sustained long grades (rolling minimum over 5 and 10 hops), the fusion's sums
    (levels, change sums), pairs of families (the smaller of two sustained grades, of two levels),
    and the context (baseline, caller speech, latency as measured, fresh, hold)."""
    cols: dict[str, np.ndarray] = {}
    sus10 = {}
    for f in fams:
        g = ffill(family(h, "g_", f))
        cols[f"grade:{f}"] = g
        cols[f"short:{f}"] = ffill(family(h, "s_", f))
        cols[f"abs:{f}"] = ffill(family(h, "a_", f))
        cols[f"change:{f}"] = ffill(family(h, "c_", f))
        cols[f"sustained:{f}_5"] = rolling_min(g, 5)
        sus10[f] = cols[f"sustained:{f}_10"] = rolling_min(g, 10)
        cols[f"cusum:level_{f}"] = h["L_" + f]
        cols[f"cusum:change_{f}"] = np.minimum(h["SC_" + f] / EVIDENCE_S, 2 * CAP)
    for i, a in enumerate(fams):
        for b in fams[i + 1:]:
            cols[f"pair:sus_{a}_{b}"] = np.minimum(sus10[a], sus10[b])
            cols[f"pair:level_{a}_{b}"] = np.minimum(h["L_" + a], h["L_" + b])
            cols[f"product:sus_{a}_{b}"] = sus10[a] * sus10[b]
    for what, per in (("level", {f: h["L_" + f] for f in fams}),
                      ("grade", {f: cols[f"grade:{f}"] for f in fams}),
                      ("short", {f: cols[f"short:{f}"] for f in fams}),
                      ("abs", {f: cols[f"abs:{f}"] for f in fams}),
                      ("sustained", sus10)):
        ranked = -np.sort(-np.vstack([per[f] for f in fams]), axis=0)
        for r in range(4 if what == "abs" else 3):
            cols[f"order:{what}_top{r + 1}"] = ranked[r]
    levels = np.vstack([h["L_" + f] for f in fams if f != "breathing"])
    agree = levels >= 1.0 - 1e-9
    cols["engine:score"] = np.where(agree.sum(0) >= 2, (levels * agree).sum(0), 0.0)
    cols["engine:agreeing"] = agree.sum(0).astype(float)
    cols["engine:paired_held"] = np.minimum(h["paired_held"], 10.0)
    lat = h["raw_response_latency_s"]
    cols["context:ready"] = h["ready"]
    cols["context:speech_s"] = np.minimum(h["speech_s"], 30.0) / 10.0
    cols["context:short_speech_s"] = np.minimum(h["short_speech_s"], 6.0) / 3.0
    cols["context:call_speech_log"] = np.log1p(h["call_speech_s"])
    cols["context:fresh"] = h["fresh"]
    cols["context:hold"] = h["hold"]
    cols["context:hold_30"] = -rolling_min(-h["hold"], 30)
    cols["context:undecided_30"] = -rolling_min(-h["undecided"], 30)
    cols["context:latency_s"] = np.minimum(ffill(lat), 8.0)
    cols["context:latency_known"] = (~np.isnan(ffill(lat, np.nan))).astype(float)
    names = list(cols)
    return np.column_stack([cols[n] for n in names]), names


def fold_of(seed: int, src: str, by: str) -> int:
    """The file's fold: margin calls by seed; the tuning half's by cell (``(seed // 2) % 4``: a
    cell's two calls, one per replicate of 240 seeds, together) or, ``by`` "replicate", with the
    second replicate one fold on (the same cell in two folds, as the test half's calls share the
    tuning half's cells)."""
    if src != "tune":
        return seed % FOLDS
    shift = (seed - 1000) // 240 if by == "replicate" else 0
    return (seed // 2 + shift) % FOLDS


def load(paths: list[str], fams: tuple[str, ...], by: str = "cell") -> tuple[list[File], list[str]]:
    files, names = [], []
    for src, path in zip(("tune", "margin"), paths):
        with open(path, "rb") as fh:
            rows = pickle.load(fh)
        for r in rows:
            if src == "tune":
                kind = "pos" if r["expect"] else "healthy" if r["forbid"] else "mild"
            else:
                kind = "healthy"
            fold = fold_of(r["seed"], src, by)
            h = r["hop"]
            if len(h.get("t", ())) == 0:
                continue
            X, names = features(h, fams)
            onset = r["onset_s"]
            start = None if onset is None else max(onset, r["past_mild_s"] or onset)
            files.append(File(r["id"], r["rate"], r["seed"], src, kind, fold, r["condition"], onset, start,
                              h["t"], h["crit"] > 0, h["undecided"] > 0, X))
    return files, names


# ----------------------------------------------------------------------------- model


def labels(f: File, lag: float, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Per hop the class (1 labored, 0 healthy) and a weight (0: left out); each file's hops of a
    class weigh 1 together."""
    y, w = np.zeros(len(f.t)), np.zeros(len(f.t))
    if f.kind == "healthy":
        w[:] = 1.0
    elif f.onset is not None:
        w[f.t < f.onset] = 1.0
        if f.kind == "pos":
            on = (f.t >= f.start + lag) & (f.t <= f.start + lag + window)
            y[on], w[on] = 1.0, 1.0
    for c in (0.0, 1.0):
        m = (w > 0) & (y == c)
        if m.any():
            w[m] /= m.sum()
    return y, w


@dataclass
class Model:
    mu: np.ndarray
    sd: np.ndarray
    coef: np.ndarray
    bias: float

    def score(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mu) / self.sd) @ self.coef + self.bias


def fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float, lower: np.ndarray | None = None) -> Model:
    """Weighted logistic regression with ``lam`` x |coef|^2 / 2 (standardized features); both
    classes weigh the same in total. ``lower``: per feature a lower bound for its weight (0:
    monotone non-decreasing), or None."""
    keep = w > 0
    X, y, w = X[keep], y[keep], w[keep]
    w = np.where(y > 0, w / w[y > 0].sum(), w / w[y == 0].sum()) / 2.0
    mu, sd = X.mean(0), X.std(0)
    sd[sd < 1e-9] = 1.0
    Z = (X - mu) / sd
    s = 2 * y - 1

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        m = s * (Z @ p[:-1] + p[-1])
        l = np.logaddexp(0.0, -m)
        sig = -s * np.exp(-np.logaddexp(0.0, m))
        g = np.concatenate([Z.T @ (w * sig) + lam * p[:-1], [np.sum(w * sig)]])
        return float(np.sum(w * l) + lam * p[:-1] @ p[:-1] / 2), g

    p0 = np.zeros(Z.shape[1] + 1)
    bounds = None
    if lower is not None:
        bounds = [(lo, None) for lo in lower] + [(None, None)]
    res = minimize(loss, p0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 2000})
    return Model(mu, sd, res.x[:-1], float(res.x[-1]))


def bags(f: File) -> list[tuple[np.ndarray, float]]:
    """The file's bags of hops for the file-level objective and their class: a healthy file's hops,
    a labored file's hops before the onset (0); a moderate or severe file's hops of the 30 s after
    its onset (1). Hops where no critical can be raised (undecided silences) left out."""
    ok = ~f.undecided
    if f.kind == "healthy":
        return [(ok, 0.0)]
    out = [(ok & (f.t < f.onset), 0.0)]
    if f.kind == "pos":
        out.append((ok & (f.t >= f.onset) & (f.t <= f.onset + WITHIN_S), 1.0))
    return [(m, y) for m, y in out if m.any()]


def fit_bags(files: list[File], lam: float, beta: float, neg: float, lower: np.ndarray | None) -> Model:
    """Linear score whose soft maximum over each bag (``log-sum-exp(beta s) / beta``) separates the
    bags (:func:`bags`) by a logistic loss, with ``lam`` x |coef|^2 / 2 (standardized features). The
    classes weigh the same in total, the healthy one ``neg`` times that."""
    rows, starts, ys = [], [], []
    n = 0
    for f in files:
        for m, y in bags(f):
            rows.append(f.X[m])
            starts.append(n)
            ys.append(y)
            n += int(m.sum())
    X = np.vstack(rows)
    starts_a, y = np.array(starts), np.array(ys)
    sizes = np.diff(np.append(starts_a, n))
    bag_of = np.repeat(np.arange(len(y)), sizes)
    wb = np.where(y > 0, 1.0 / max((y > 0).sum(), 1), neg / max((y == 0).sum(), 1))
    mu, sd = X.mean(0), X.std(0)
    sd[sd < 1e-9] = 1.0
    Z = (X - mu) / sd
    sgn = 2 * y - 1

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        sc = beta * (Z @ p[:-1] + p[-1])
        top = np.maximum.reduceat(sc, starts_a)
        e = np.exp(sc - top[bag_of])
        tot = np.add.reduceat(e, starts_a)
        M = (top + np.log(tot)) / beta
        marg = sgn * M
        l = np.logaddexp(0.0, -marg)
        dM = wb * (-sgn) * np.exp(-np.logaddexp(0.0, marg))
        g_hop = dM[bag_of] * e / tot[bag_of]
        g = np.concatenate([Z.T @ g_hop + lam * p[:-1], [g_hop.sum()]])
        return float(wb @ l + lam * p[:-1] @ p[:-1] / 2), g

    bounds = None if lower is None else [(lo, None) for lo in lower] + [(None, None)]
    res = minimize(loss, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 3000})
    return Model(mu, sd, res.x[:-1], float(res.x[-1]))


def fit_files(files: list[File], args: argparse.Namespace, lower: np.ndarray | None) -> Model:
    if args.mil:
        return fit_bags(files, args.lam, args.beta, args.neg, lower)
    X = np.vstack([f.X for f in files])
    yw = [labels(f, args.lag, args.pos_window) for f in files]
    return fit(X, np.concatenate([a for a, _ in yw]), np.concatenate([b for _, b in yw]), args.lam, lower)


# ----------------------------------------------------------------------------- criticals


def held(f: File, score: np.ndarray, k: int) -> np.ndarray:
    """Per hop the score's minimum over ``k`` hops, -inf where the hold test has not decided (the
    engine raises no critical there either)."""
    return np.where(f.undecided, -np.inf, rolling_min(score, k))


def crit_times(f: File, score: np.ndarray, thr: float, k: int) -> np.ndarray:
    """Call times of the hops at which the score has been above ``thr`` for ``k`` hops."""
    return f.t[held(f, score, k) > thr]


def peak(f: File, score: np.ndarray, k: int, before: float | None = None) -> float:
    """The highest threshold that ``k`` hops would still pass (before call time ``before``)."""
    r = held(f, score, k)
    if before is not None:
        r = r[f.t < before]
    return float(r.max()) if len(r) else -math.inf


def choose(files: list[File], scores: dict[int, np.ndarray], ks: list[int], allow: float = 0.0) -> tuple[float, int]:
    """Per ``k`` the lowest threshold without a critical before a labored file's onset and with at
    most ``allow`` of the healthy files critical (0: none); the ``k`` with the most moderate/severe
    files critical within 30 s."""
    best = None
    for k in ks:
        pre = max(peak(f, scores[i], k, f.onset) for i, f in enumerate(files) if f.onset is not None)
        healthy = sorted((peak(f, scores[i], k) for i, f in enumerate(files) if f.kind == "healthy"),
                         reverse=True)
        b = int(math.floor(allow * len(healthy) + 1e-9))
        thr = max(pre, healthy[b] if b < len(healthy) else -math.inf) + 1e-9
        det = sum(ttc(crit_times(f, scores[i], thr, k), f.onset) <= WITHIN_S
                  for i, f in enumerate(files) if f.kind == "pos")
        if best is None or det > best[0]:
            best = (det, thr, k)
    return best[1], best[2]


def ttc(times: np.ndarray, onset: float | None) -> float:
    after = times[times >= onset] if onset is not None else times[:0]
    return float(after[0] - onset) if len(after) else math.inf


def main_times(f: File) -> np.ndarray:
    """Call times at which the engine raised possible_emergency (rising edges of its trace)."""
    c = f.crit
    rise = c & ~np.concatenate([[False], c[:-1]])
    return f.t[rise]


# ----------------------------------------------------------------------------- scoring


def outcome(f: File, times: np.ndarray) -> dict[str, Any]:
    return {"ttc": ttc(times, f.onset) if f.onset is not None else None,
            "fa": bool(len(times)) if f.kind == "healthy" else False,
            "pre": bool(f.onset is not None and np.any(times < f.onset))}


def metrics(files: list[File], res: list[dict[str, Any]]) -> dict[str, Any]:
    pos = [r for f, r in zip(files, res) if f.kind == "pos"]
    ttcs = sorted(r["ttc"] for r in pos)
    healthy = [(f, r) for f, r in zip(files, res) if f.kind == "healthy"]
    return {"pos": len(pos), "d30": sum(x <= WITHIN_S for x in ttcs), "det": sum(math.isfinite(x) for x in ttcs),
            "med": ttcs[max(1, math.ceil(0.5 * len(ttcs))) - 1] if ttcs else None,
            "fa_tune": sum(r["fa"] for f, r in healthy if f.src == "tune"),
            "n_tune": sum(f.src == "tune" for f, _ in healthy),
            "fa_margin": sum(r["fa"] for f, r in healthy if f.src == "margin"),
            "n_margin": sum(f.src == "margin" for f, _ in healthy),
            "pre": sum(r["pre"] for f, r in zip(files, res) if f.onset is not None),
            "labored": sum(f.onset is not None for f in files)}


def fmt(m: dict[str, Any]) -> str:
    med = "-" if m["med"] is None else "miss" if math.isinf(m["med"]) else f"{m['med']:.1f}"
    return (f"det@30 {m['d30']:3d}/{m['pos']:<3d} ({100 * m['d30'] / max(m['pos'], 1):3.0f} %)  "
            f"det {m['det']:3d}  med {med:>5}  FA tune {m['fa_tune']}/{m['n_tune']}  "
            f"FA margin {m['fa_margin']}/{m['n_margin']}  pre-onset {m['pre']}/{m['labored']}")


def conditions(f: File) -> list[str]:
    c = f.condition
    out = [f"severity={c.get('severity')}", f"onset={c.get('onset')}", f"degrade={c.get('degrade')}",
           f"noise={c.get('noise')}", f"rate={f.rate}", f"breaths={c.get('breaths')}"]
    return out


def by_condition(files: list[File], learned: list[dict], main: list[dict]) -> list[str]:
    rows: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for f, a, b in zip(files, learned, main):
        if f.kind == "pos":
            for c in conditions(f):
                rows[c].append((a, b))
    out = [f"{'condition':24s} files  main d30  learned d30  main det  learned det"]
    for c in sorted(rows):
        v = rows[c]
        md = sum(b["ttc"] <= WITHIN_S for _, b in v)
        ld = sum(a["ttc"] <= WITHIN_S for a, _ in v)
        out.append(f"{c:24s} {len(v):5d}  {md:8d}  {ld:11d}  {sum(math.isfinite(b['ttc']) for _, b in v):8d}"
                   f"  {sum(math.isfinite(a['ttc']) for a, _ in v):11d}")
    return out


def fa_files(files: list[File], res: list[dict], label: str) -> list[str]:
    return [f"  {label} false critical: {f.src} {f.id}/{f.rate // 1000}k {f.condition.get('group')} "
            f"{f.condition.get('negative') or ''} noise={f.condition.get('noise')} snr={f.condition.get('snr_db')} "
            f"hold={f.condition.get('hold')}"
            for f, r in zip(files, res) if r["fa"]]


# ----------------------------------------------------------------------------- cross-validation


def oof_scores(files: list[File], folds: list[int], args: argparse.Namespace,
               lower: np.ndarray | None) -> dict[int, np.ndarray]:
    """Per file (index into ``files``) of ``folds``, its scores from a model fitted on the other
    folds of ``folds``."""
    out = {}
    for k in folds:
        train = [f for f in files if f.fold in folds and f.fold != k]
        m = fit_files(train, args, lower)
        out.update({i: m.score(f.X) for i, f in enumerate(files) if f.fold == k})
    return out


def run(files: list[File], names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    lower = np.array([0.0 if n.split(":")[0] in ("grade", "short", "abs", "change", "sustained", "cusum", "pair")
                      else -np.inf for n in names]) if args.monotone else None
    ks = [int(x) for x in args.ks.split(",")]
    learned: list[dict] = [{}] * len(files)
    oof: dict[int, np.ndarray] = {}
    rules = {}
    for k in range(FOLDS):
        others = [j for j in range(FOLDS) if j != k]
        train_idx = [i for i, f in enumerate(files) if f.fold != k]
        model = fit_files([files[i] for i in train_idx], args, lower)
        if args.no_inner:
            tr_scores = {n: model.score(files[i].X) for n, i in enumerate(train_idx)}
        else:
            inner = oof_scores(files, others, args, lower)
            tr_scores = {n: inner[i] for n, i in enumerate(train_idx)}
        thr, kk = choose([files[i] for i in train_idx], tr_scores, ks, args.allow)
        rules[k] = (thr, kk)
        for i, f in enumerate(files):
            if f.fold == k:
                s = oof[i] = model.score(f.X)
                learned[i] = outcome(f, crit_times(f, s, thr, kk))
    main = [outcome(f, main_times(f)) for f in files]
    return {"learned": learned, "main": main, "oof": oof, "rules": rules, "lower": lower}


def curve(files: list[File], oof: dict[int, np.ndarray], ks: list[int], budgets: list[int]) -> list[str]:
    """Pooled out-of-fold scores: per ``k`` and budget of healthy files (tune and margin together)
    with a false critical, the threshold allowing it (no critical before an onset) and det@30."""
    out = []
    for k in ks:
        h = sorted((peak(f, oof[i], k) for i, f in enumerate(files) if f.kind == "healthy"), reverse=True)
        pre = max(peak(f, oof[i], k, f.onset) for i, f in enumerate(files) if f.onset is not None)
        for b in budgets:
            thr = max(h[b] if b < len(h) else -math.inf, pre) + 1e-9
            res = [outcome(f, crit_times(f, oof[i], thr, k)) for i, f in enumerate(files)]
            m = metrics(files, res)
            out.append(f"k={k:2d} budget {b:2d}: {fmt(m)}")
    return out


def at_budget(files: list[File], oof: dict[int, np.ndarray], budget: int, k: int = 1) -> list[dict[str, Any]]:
    """Each file's outcome under one threshold over the pooled out-of-fold scores: the lowest with
    at most ``budget`` healthy files critical and none before an onset (see :func:`curve`)."""
    h = sorted((peak(f, oof[i], k) for i, f in enumerate(files) if f.kind == "healthy"), reverse=True)
    pre = max(peak(f, oof[i], k, f.onset) for i, f in enumerate(files) if f.onset is not None)
    thr = max(h[budget] if budget < len(h) else -math.inf, pre) + 1e-9
    return [outcome(f, crit_times(f, oof[i], thr, k)) for i, f in enumerate(files)]


def evidence(files: list[File], oof: dict[int, np.ndarray], k: int) -> list[str]:
    """Per condition of the moderate and severe files, how many healthy files (of all, tune and
    margin) reach the file's best out-of-fold score of the 30 s after its onset (held ``k`` hops):
    0 separates it from every healthy file; more than 5 % of them means no usable evidence."""
    peaks = np.array([peak(f, oof[i], k) for i, f in enumerate(files) if f.kind == "healthy"])
    n = len(peaks)
    rows: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(files):
        if f.kind != "pos":
            continue
        r = held(f, oof[i], k)
        win = r[(f.t >= f.onset) & (f.t <= f.onset + WITHIN_S)]
        best = float(win.max()) if len(win) else -math.inf
        above = int(np.sum(peaks >= best))
        for c in ["all"] + conditions(f):
            rows[c].append(above)
    out = [f"healthy files reaching a labored file's best 30 s score (of {n}; k={k}):",
           f"{'condition':24s} files  none  <=1 %  <=5 %  >5 % (no evidence)  median"]
    for c in ["all"] + sorted(x for x in rows if x != "all"):
        v = np.array(rows[c])
        out.append(f"{c:24s} {len(v):5d}  {np.sum(v == 0):4d}  {np.sum(v <= 0.01 * n):5d}  {np.sum(v <= 0.05 * n):5d}"
                   f"  {np.sum(v > 0.05 * n):18d}  {int(np.median(v)):6d}")
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("tune")
    p.add_argument("margin")
    p.add_argument("--lam", type=float, default=0.1)
    p.add_argument("--lag", type=float, default=5.0)
    p.add_argument("--pos-window", type=float, default=60.0)
    p.add_argument("--ks", default="1,2,3,5,8,12")
    p.add_argument("--drop", default="", help="feature groups or names (prefixes) to leave out")
    p.add_argument("--only", default="", help="keep only these feature groups or names (prefixes)")
    p.add_argument("--breathing", action="store_true", help="the audible-breath family too")
    p.add_argument("--without", default="", help="families left out of every feature (the engine's score too)")
    p.add_argument("--monotone", action="store_true", help="non-negative weights for the evidence features")
    p.add_argument("--no-inner", action="store_true", help="threshold on the training folds' in-sample scores")
    p.add_argument("--allow", type=float, default=0.0,
                   help="share of the training folds' healthy files allowed a critical (0: none)")
    p.add_argument("--mil", action="store_true",
                   help="file-level objective: the soft maximum over each file's hops (bags)")
    p.add_argument("--beta", type=float, default=1.0, help="sharpness of --mil's soft maximum")
    p.add_argument("--neg", type=float, default=1.0, help="weight of --mil's healthy bags against the labored")
    p.add_argument("--files", default=None, help="write per-file outcomes as JSON")
    p.add_argument("--coef", action="store_true", help="print the coefficients of a fit on every file")
    p.add_argument("--curve", action="store_true", help="print the pooled out-of-fold operating curve")
    p.add_argument("--brief", action="store_true", help="only the pooled line")
    p.add_argument("--evidence", action="store_true", help="per condition, the healthy files a labored file's best score meets")
    p.add_argument("--at", type=int, default=None,
                   help="score the learned rule at this budget of the pooled out-of-fold curve (k 1) instead of per fold")
    p.add_argument("--fold-by", choices=("cell", "replicate"), default="cell")
    p.add_argument("--budgets", default="0,1,2,4,6,10", help="healthy files with a false critical (--curve)")
    a = p.parse_args()
    fams = tuple(f for f in FAMS + (("breathing",) if a.breathing else ()) if f not in a.without.split(","))
    files, names = load([a.tune, a.margin], fams, a.fold_by)
    keep = np.ones(len(names), bool)
    for d in filter(None, a.drop.split(",")):
        keep &= ~np.array([n.startswith(d) for n in names])
    if a.only:
        keep &= np.array([any(n.startswith(o) for o in a.only.split(",")) for n in names])
    names = [n for n, k in zip(names, keep) if k]
    for f in files:
        f.X = f.X[:, keep]
    r = run(files, names, a)
    if a.at is not None:
        r["learned"] = at_budget(files, r["oof"], a.at)
    print(f"features {len(names)}; lam {a.lam} lag {a.lag} window {a.pos_window} inner {not a.no_inner} allow {a.allow} "
          f"monotone {a.monotone} "
          f"mil {a.mil} beta {a.beta} neg {a.neg} drop [{a.drop}] only [{a.only}] without [{a.without}]")
    print("pooled   learned " + fmt(metrics(files, r["learned"])))
    print("pooled   main    " + fmt(metrics(files, r["main"])))
    for k in range(FOLDS if not a.brief else 0):
        idx = [i for i, f in enumerate(files) if f.fold == k]
        sub = [files[i] for i in idx]
        thr, kk = r["rules"][k]
        print(f"fold {k}  learned " + fmt(metrics(sub, [r["learned"][i] for i in idx])) + f"  (thr {thr:.2f}, k {kk})")
        print(f"fold {k}  main    " + fmt(metrics(sub, [r["main"][i] for i in idx])))
    if not a.brief:
        print()
        print("\n".join(by_condition(files, r["learned"], r["main"])))
        print()
        print("\n".join(fa_files(files, r["learned"], "learned")))
        print("\n".join(fa_files(files, r["main"], "main")))
    if a.curve:
        print()
        print("\n".join(curve(files, r["oof"], [int(x) for x in a.ks.split(",")],
                               [int(x) for x in a.budgets.split(",")])))
    if a.evidence:
        print()
        print("\n".join(evidence(files, r["oof"], 1)))
    if a.coef:
        m = fit_files(files, a, r["lower"])
        order = np.argsort(-np.abs(m.coef))
        print()
        print("coefficients (standardized features, fit on every file):")
        for j in order:
            print(f"  {names[j]:32s} {m.coef[j]:+.3f}")
    if a.files:
        with open(a.files, "w") as fh:
            json.dump([{"id": f.id, "rate": f.rate, "src": f.src, "kind": f.kind, "fold": f.fold,
                        "condition": f.condition, "learned": l, "main": mm}
                       for f, l, mm in zip(files, r["learned"], r["main"])], fh, default=str)


if __name__ == "__main__":
    main()
