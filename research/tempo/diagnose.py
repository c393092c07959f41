"""What the tempo-only labored callers' cues do after the onset, against the healthy callers' own.

    PYTHONPATH=. python research/tempo/diagnose.py PROFILE.pkl    (research/tempo/profile.py's output)

Part 1, per expected-critical tempo-only file, over the 30 s after its onset: the largest change
held 5 hops (the rolling minimum over 5 hops, then its maximum) of the articulation and speech rate
(drop from the baseline median), of the pause ratio, the mean pause, the phrases (baseline / value)
and the response latency (value / baseline); the largest rule grades held 5 hops (the speech rate
net of the pauses, long pauses, short phrases, slow response); the largest family levels.
Part 2, per group, the largest articulation-rate drop held 8 hops (the caller's own baseline
median) and in baseline spreads: tempo-only files within 30 s of the onset, healthy files (normal
calls and hard negatives, the whole call), labored files before their onset.
"""

from __future__ import annotations

import collections
import pickle
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def held(x: np.ndarray, n: int) -> float:
    """The largest value ``x`` (T,) keeps for ``n`` hops in a row (missing values break a run)."""
    x = np.where(np.isfinite(x), x, -np.inf)
    return float(sliding_window_view(x, n).min(axis=1).max()) if len(x) >= n else -np.inf


def part1(files: list[dict]) -> None:
    print("tempo-only labored files, 30 s after the onset, held 5 hops (-inf: no baseline yet)")
    print(f"{'file':16s} {'sev':4s} {'onset':7s} {'noise':6s} | artic speech | pauses  mean  phrase latency "
          f"| grade: rate pauses phrases latency | level: tempo pausing latency")
    for d in files:
        if not (d["expect"] and d["condition"].get("degrade") == "tempo"):
            continue
        t, c, m = d["t"], d["cues"], d["med"]
        w = (t >= d["onset_s"]) & (t <= d["onset_s"] + 30)
        r = lambda k: np.where(w, c[k] / m[k], np.nan)  # noqa: E731
        g = lambda k: held(np.where(w, d["grade"][k], np.nan), 5)  # noqa: E731
        lv = lambda f: float(np.nanmax(np.where(w, d["level"][f], np.nan)))  # noqa: E731
        print(f"{d['id']}@{d['rate'] // 1000:2d}k {d['condition']['severity'][:4]:4s} {d['condition']['onset'][:7]:7s} "
              f"{d['condition']['noise']:6s} | {held(1 - r('articulation_rate_sps'), 5):5.2f} {held(1 - r('speech_rate_sps'), 5):6.2f} | "
              f"{held(r('pause_ratio'), 5):6.2f} {held(r('mean_pause_s'), 5):5.2f} {held(1 / r('mean_phrase_s'), 5):7.2f} "
              f"{held(r('response_latency_s'), 5):7.2f} | {g('slow_speech'):11.2f} {g('long_pauses'):6.2f} "
              f"{g('short_phrases'):7.2f} {g('slow_response'):7.2f} | {lv('tempo'):12.1f} {lv('pausing'):7.1f} {lv('latency'):7.1f}")


def part2(files: list[dict]) -> None:
    by: dict[str, list[tuple[float, float, str]]] = collections.defaultdict(list)
    for d in files:
        t, c, m, s = d["t"], d["cues"], d["med"], d["spread"]
        a, am, asd = c["articulation_rate_sps"], m["articulation_rate_sps"], s["articulation_rate_sps"]
        with np.errstate(divide="ignore", invalid="ignore"):
            drop, z = 1 - a / am, (am - a) / asd
        cond = d["condition"]
        if d["expect"] and cond.get("degrade") == "tempo":
            key, w = "tempo-only, 30 s after the onset", (t >= d["onset_s"]) & (t <= d["onset_s"] + 30)
        elif d["forbid"]:
            key, w = "healthy (whole call)", np.ones_like(t, bool)
        elif cond.get("group") == "labored" and d["onset_s"]:
            key, w = "labored, before the onset", t < d["onset_s"]
        else:
            continue
        name = f"{d['id']}@{d['rate'] // 1000}k {cond.get('negative') or cond.get('group')} {cond['noise']}"
        by[key].append((held(np.where(w, drop, np.nan), 8), held(np.where(w, z, np.nan), 8), name))
    print("\narticulation rate's largest drop held 8 hops, against the caller's baseline median (and in its spreads)")
    for key, rows in by.items():
        v = np.array([r[0] for r in rows])
        v = v[np.isfinite(v)]
        zs = np.array([r[1] for r in rows])
        zs = zs[np.isfinite(zs)]
        print(f"  {key:34s} files {len(rows):3d} (with a baseline {v.size:3d}): drop median {np.median(v):.2f}, "
              f"90 % {np.quantile(v, .9):.2f}, max {v.max():.2f}; spreads median {np.median(zs):.1f}, 90 % {np.quantile(zs, .9):.1f}")
        if key.startswith("healthy"):
            top = sorted(rows, key=lambda r: -r[0])[:12]
            print("    largest: " + "; ".join(f"{n} {dr:.2f}" for dr, _, n in top))


def main() -> None:
    files = pickle.load(open(sys.argv[1], "rb"))
    part1(files)
    part2(files)


if __name__ == "__main__":
    main()
