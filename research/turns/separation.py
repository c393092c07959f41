"""Whether a trend over the caller's turns separates tempo-only labored callers from healthy ones.

    PYTHONPATH=. python research/turns/separation.py TURNS.pkl[,TURNS.pkl ...] [--min-speech 1.0]
        [--stats NAME,NAME] [--within 30] [--list]

(research/turns/extract.py's output.) Per file, the caller's settled turns with at least
``--min-speech`` s of speech and 3 syllable nuclei; per turn the articulation rate (AR, syllables
per second of phonation time) and the speech rate (SR, per second of turn time). The *per-turn
baseline*: the turns settled before the caller's cue baseline froze (``base_t``, the engine's
own), at least 3 of them: their median and robust spread (1.4826 MAD, at least 5 % of the
median). Each statistic below is computed at every turn settled after the baseline froze (the
time it would be known live), over the last N turns (those before the freeze included):

- ``mk N``: -Mann-Kendall tau of the last N turns' AR (1: every turn slower than every one before);
- ``ts N``: -Theil-Sen slope of the last N turns' AR over the turn index, times N-1, over the
  baseline median (the relative fall across the N turns the robust line says);
- ``cusum k``: one-sided CUSUM of per-turn deficits after the freeze,
  ``C = max(0, C + (median - AR) / spread - k)``;
- ``below``: turns in a row (after the freeze) under the baseline median less half a spread;
- ``drop m``: the median relative drop of the last m turns' AR against the baseline median;
- ``z m``: the same in per-turn spreads;
- ``step``: the median AR of the last 2 turns against that of the 4 turns before them (relative
  drop; needs no baseline);
- ``mk N x drop``: ``mk N`` times ``drop 2`` (trend and level together), and the smaller of
  ``mk N`` and ``drop 2 / 0.25``;
- the same with SR (``SR`` prefix) for a few.

For every expected-critical tempo-only file: its largest value at the turns settled within
``--within`` s of its onset; for every healthy file (forbid critical: normal calls and hard
negatives): its largest over the whole call. Printed per statistic: the tempo-only files' values,
the healthy files' largest (with which), per line condition, and how many tempo-only files lie
above every healthy file.
"""

from __future__ import annotations

import argparse
import collections
import pickle

import numpy as np

NOISES = ("none", "pink", "white", "hum", "babble")


def per_turn(d: dict, min_speech: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Settle times, AR and SR of the file's turns with enough speech, shape (k,) each."""
    keep = [u for u in d["turns"] if u["speech_s"] >= min_speech and u["syl"] >= 3 and u["speaking_s"] > 0]
    st = np.array([u["settled"] for u in keep])
    ar = np.array([u["syl"] / u["speaking_s"] for u in keep])
    sr = np.array([u["syl"] / u["turn_s"] for u in keep])
    return st, ar, sr


def robust(x: np.ndarray) -> tuple[float, float]:
    med = float(np.median(x))
    return med, max(1.4826 * float(np.median(np.abs(x - med))), 0.05 * med)


def mk_tau(x: np.ndarray) -> float:
    n = len(x)
    s = sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n))
    return float(s) / (n * (n - 1) / 2)


def theil_sen(x: np.ndarray) -> float:
    n = len(x)
    return float(np.median([(x[j] - x[i]) / (j - i) for i in range(n) for j in range(i + 1, n)]))


def statistics(d: dict, min_speech: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per statistic, (times, values) at each turn settled after the baseline froze."""
    st, ar, sr = per_turn(d, min_speech)
    if d["base_t"] is None:
        return {}
    base = st <= d["base_t"]
    if base.sum() < 3:
        return {}
    out: dict[str, list] = collections.defaultdict(list)
    for series, pre in ((ar, ""), (sr, "SR ")):
        med, spread = robust(series[base])
        c = {0.5: 0.0, 1.0: 0.0}
        run = 0
        for k in np.flatnonzero(~base):
            x = series[k]
            t = st[k]
            for kap in c:
                c[kap] = max(0.0, c[kap] + (med - x) / spread - kap)
                out[f"{pre}cusum {kap}"].append((t, c[kap]))
            run = run + 1 if x < med - 0.5 * spread else 0
            out[f"{pre}below"].append((t, run))
            after = series[max(0, k - 1):k + 1]
            for m in (1, 2, 3):
                last = series[max(0, k - m + 1):k + 1]
                out[f"{pre}drop {m}"].append((t, 1 - float(np.median(last)) / med))
                out[f"{pre}z {m}"].append((t, (med - float(np.median(last))) / spread))
            drop2 = 1 - float(np.median(after)) / med
            if k >= 5:
                out[f"{pre}step"].append((t, 1 - float(np.median(series[k - 1:k + 1])) / float(np.median(series[k - 5:k - 1]))))
            for n in (4, 5, 6, 8):
                if k + 1 >= n:
                    w = series[k - n + 1:k + 1]
                    tau = -mk_tau(w)
                    out[f"{pre}mk {n}"].append((t, tau))
                    out[f"{pre}ts {n}"].append((t, -theil_sen(w) * (n - 1) / med))
                    out[f"{pre}mk {n} x drop"].append((t, tau * drop2))
                    out[f"{pre}min(mk {n}, drop/0.25)"].append((t, min(tau, drop2 / 0.25)))
    return {k: (np.array([a for a, _ in v]), np.array([b for _, b in v])) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("turns")
    p.add_argument("--min-speech", type=float, default=1.0)
    p.add_argument("--within", type=float, default=30.0)
    p.add_argument("--stats", default=None)
    p.add_argument("--list", action="store_true", help="print every tempo-only file's values")
    a = p.parse_args()
    files = []
    for path in a.turns.split(","):
        with open(path, "rb") as fh:
            files.extend(pickle.load(fh))
    tempo: dict[str, list] = collections.defaultdict(list)
    healthy: dict[str, list] = collections.defaultdict(list)
    n_tempo = n_healthy = 0
    for d in files:
        cond = d["condition"]
        is_tempo = d["expect"] and cond.get("degrade") == "tempo"
        if not (is_tempo or d["forbid"]):
            continue
        stats = statistics(d, a.min_speech)
        name = f"{d['id'][5:]}@{d['rate'] // 1000}k {cond.get('negative') or cond.get('group')} {cond['noise']}"
        if is_tempo:
            n_tempo += 1
            name = f"{d['id'][5:]}@{d['rate'] // 1000}k {cond['severity'][:3]} {cond['onset'][:3]} {cond['noise']}"
        else:
            n_healthy += 1
        for k, (t, v) in stats.items():
            if is_tempo:
                w = (t >= d["onset_s"]) & (t <= d["onset_s"] + a.within)
                tempo[k].append((float(v[w].max()) if w.any() else -np.inf, name, cond["noise"]))
            else:
                healthy[k].append((float(v.max()) if len(v) else -np.inf, name, cond["noise"]))
    keys = a.stats.split(",") if a.stats else sorted(tempo)
    print(f"tempo-only files {n_tempo}, healthy files {n_healthy}; turns with >= {a.min_speech} s of speech; "
          f"tempo-only within {a.within:.0f} s of the onset")
    rows = []
    for k in keys:
        tv = sorted(tempo[k], reverse=True)
        hv = sorted(healthy[k], reverse=True)
        hmax = hv[0][0] if hv else -np.inf
        above = sum(v > hmax for v, _, _ in tv)
        rows.append((k, above, hmax, hv[0][1] if hv else "", tv))
        by = {z: max([v for v, _, q in hv if q == z], default=-np.inf) for z in NOISES}
        tby = {z: max([v for v, _, q in tv if q == z], default=-np.inf) for z in NOISES}
        print(f"\n{k}: tempo-only above every healthy file: {above}; healthy largest {hmax:.2f} ({hv[0][1] if hv else ''}); "
              f"next {', '.join(f'{v:.2f} {n}' for v, n, _ in hv[1:5])}")
        print("  tempo-only: " + ", ".join(f"{v:.2f} {n.split()[0]}" for v, n, _ in tv if v > -np.inf)
              + f" (no value: {sum(v == -np.inf for v, _, _ in tv)})")
        print("  by line   " + "  ".join(f"{z}: healthy {by[z]:.2f} / tempo {tby[z]:.2f}" for z in NOISES))
    print("\nsummary: statistic | tempo-only above every healthy file | healthy largest")
    for k, above, hmax, hn, _ in sorted(rows, key=lambda r: -r[1]):
        print(f"  {k:28s} {above:3d}   {hmax:6.2f} ({hn})")


if __name__ == "__main__":
    main()
