"""The two-replicate corpus's halves: the main table rows per replicate and together, a check that
the first replicate's files score as in a reference run, and the bootstrap spread of det@30.

    PYTHONPATH=. .venv/bin/python research/corpus2/spread.py RUN.json [--reference OLD.json] [--draws N]

RUN.json is ``tools.evaluate --split all --json`` over the whole corpus. The bootstrap resamples a
half's moderate and severe labored calls (both rates of a call together) with replacement.
"""
from __future__ import annotations

import argparse
import math
from typing import Any, Sequence

import numpy as np

from tools import evaluate as ev
from tools.eval_corpus import replicate_of
from tools.tune import fold_of

ROWS = ("overall", "severity", "degrade", "onset", "noise", "snr_db", "negative")
SCORED = ("first_warning_t", "first_critical_t", "first_critical_after_onset_t", "time_to_critical_s",
          "criticals_before_onset", "warnings", "criticals", "normal_warnings", "alerts")


def seed_of(call_id: str) -> int:
    return int(call_id.rsplit("_", 1)[1])


def table(results: Sequence[dict[str, Any]], title: str) -> str:
    lines = [title]
    for split, rows in ev.tables(results).items():
        lines += [f"split {split}", ev.HEADER]
        lines += [ev.format_row(r) for r in rows if r["dimension"] in ROWS]
    return "\n".join(lines)


def same_as(results: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]]) -> list[str]:
    """(id, rate) pairs whose scores differ from the reference run's, or that one run lacks."""
    mine = {(r["id"], r["rate"]): r for r in results}
    ref = {(r["id"], r["rate"]): r for r in reference}
    out = [f"{k} in one run only" for k in sorted(set(mine) ^ set(ref))]
    out += [f"{k} {key}" for k in sorted(set(mine) & set(ref)) for key in SCORED if mine[k][key] != ref[k][key]]
    return out


def call_counts(results: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Per moderate or severe labored call: (files critical within 30 s, files), each (calls,)."""
    calls: dict[str, list[int]] = {}
    for r in results:
        if r["expect_critical"]:
            ttc = r["time_to_critical_s"]
            hit = int(ttc is not None and not math.isinf(ttc) and ttc <= ev.DETECT_WITHIN_S)
            calls.setdefault(r["id"], [0, 0])
            calls[r["id"]][0] += hit
            calls[r["id"]][1] += 1
    arr = np.array(list(calls.values()), dtype=float).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def bootstrap(hits: np.ndarray, files: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray:
    """det@30 of DRAWS resamples of the calls, (draws,)."""
    idx = rng.integers(0, len(hits), size=(draws, len(hits)))
    return hits[idx].sum(axis=1) / files[idx].sum(axis=1)


def spread_lines(results: Sequence[dict[str, Any]], label: str, draws: int) -> list[str]:
    rng = np.random.default_rng(0)
    boots, out = {}, []
    for split in ("tune", "test"):
        hits, files = call_counts([r for r in results if r["split"] == split])
        b = boots[split] = bootstrap(hits, files, rng, draws)
        lo, hi = np.percentile(b, [2.5, 97.5])
        out.append(f"{label} {split}: det@30 {100 * hits.sum() / files.sum():.1f} % of {int(files.sum())} files "
                   f"({len(hits)} calls), bootstrap sd {100 * b.std():.1f} points, 95 % {100 * lo:.1f}-{100 * hi:.1f}")
    d = boots["tune"] - boots["test"]
    lo, hi = np.percentile(d, [2.5, 97.5])
    out.append(f"{label} tune - test: {100 * d.mean():.1f} points, sd {100 * d.std():.1f}, 95 % {100 * lo:.1f} to "
               f"{100 * hi:.1f}")
    return out


def fold_lines(results: Sequence[dict[str, Any]], label: str) -> list[str]:
    """det@30 per fold of tools.tune (a checksum of the call id) on the tuning half."""
    out = []
    for k in range(2):
        hits, files = call_counts([r for r in results if r["split"] == "tune" and fold_of(r["id"], 2) == k])
        out.append(f"{label} tune fold {k}: {int(hits.sum())}/{int(files.sum())} files within 30 s "
                   f"({len(hits)} calls; one call {100 * 2 / max(files.sum(), 1):.1f} points)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    ap.add_argument("--reference", help="a run over the first replicate alone, to compare its files with")
    ap.add_argument("--draws", type=int, default=10000)
    args = ap.parse_args()
    results = [r for r in ev.read_run_json(args.run)["files"] if not r.get("error")]
    parts = {"first replicate (old calls)": [r for r in results if replicate_of(seed_of(r["id"])) == 0],
             "second replicate (new calls)": [r for r in results if replicate_of(seed_of(r["id"])) == 1],
             "both replicates": results}
    if args.reference:
        diff = same_as(parts["first replicate (old calls)"], ev.read_run_json(args.reference)["files"])
        print(f"first replicate against {args.reference}: {len(diff)} differences", *diff[:20], sep="\n  ")
    parts = {title: part for title, part in parts.items() if part}
    for title, part in parts.items():
        print(table(part, title), "", sep="\n")
    for title, part in parts.items():
        print(*spread_lines(part, title, args.draws), *fold_lines(part, title), sep="\n")


if __name__ == "__main__":
    main()
