"""Tuning driver: choose configuration values on the corpus's tune split only, then report the test split.

    python -m tools.tune DIR --grid GRID.toml [--rates 16000,8000] [--config FILE] [--set KEY=VALUE ...]
                             [-j N] [--passes 3] [--json OUT.json] [--cache DIR]
                             [--tune-split tune] [--test-split test]

``GRID.toml`` lists the values to try per configuration key, dotted as the configuration file names
it (``rules.slow_speech.persist_s``), either flat or as tables (both mean the same)::

    "rules.slow_speech.relative_change" = [-0.15, -0.2, -0.25]
    [rules.possible_emergency]
    min_score = [2.5, 3.0, 3.5]

Coordinate search: starting from the configuration (defaults <- ``--config`` <- ``--set``), each
pass tries every listed value of one key with the others held, keeps the best, and goes on to
the next key; passes repeat until one changes nothing (at most ``--passes``). Every trial is
scored on the tune split (:func:`objective`):

- feasible: no critical alert on any forbid_critical file, none before the onset of a labored
  file, and at most :data:`MAX_NORMAL_WARNINGS_PER_HOUR` warnings per hour of normal call time;
- among feasible trials, the highest share of expect_critical files with a critical within
  30 s of the onset, then the lower median time to critical;
- infeasible trials rank below every feasible one, by a balanced score: detected@30 minus
  :data:`FALSE_ALARM_WEIGHT` times the share of files with a false critical (forbid_critical
  files, and labored files before their onset) minus :data:`WARNING_WEIGHT` per warning per
  hour of normal time. (Ranking by fewest violations first drives an infeasible search to
  thresholds that detect nothing.)

With ``--folds K`` (default 2) the tune split is cut into K folds by a checksum of the calls' ids, and a
trial ranks by its *worst* fold (then by the whole split): a value is kept only if it helps on
every part of the tuning half, not on a few lucky calls of it (with 72 moderate and severe labored
calls per half of the two-replicate corpus, a single call moves det@30 by 1.4 points, and a
coordinate search over fifty keys finds such luck).

Only the cheap part reruns per trial: each file's frames and cue stream are cached by
:mod:`tools.evaluate`, so a rule key reruns only the baseline and the alert engine, and a key
under ``analysis.`` the cue tracker over the cached frames as well. The test split is evaluated
once, with the chosen values, and never used in choosing.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread per worker process, set before numpy loads
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time
import tomllib
import zlib
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from monitor.config import Config, ConfigError
from monitor.config.loader import COMMAND_LINE
from tools import evaluate as ev

PROG = "tune"
MAX_NORMAL_WARNINGS_PER_HOUR = 1.0


class GridError(Exception):
    """A grid file that cannot be used; the message names the file and key."""


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def read_grid(path: str, settings: ev.Settings) -> dict[str, list[Any]]:
    """The grid of ``path``: key -> values, each value checked against the configuration."""
    text = ev.file_text(path, GridError)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{path}: invalid TOML ({exc})") from None
    grid = _flatten(raw.get("grid", raw) if isinstance(raw.get("grid"), dict) else raw)
    if not grid:
        raise GridError(f"{path}: no keys to tune")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"{path}: {key}: expected a non-empty list of values, got {values!r}")
        for v in values:
            try:
                ev.make_config(replace(settings, overrides=settings.overrides + ((key, v),)))
            except ConfigError as exc:  # the value is the grid file's, not the command line's
                said = str(exc).removeprefix(f"{COMMAND_LINE}: ")
                raise GridError(f"{path}: {said}") from None
    return grid


def config_value(cfg: Config, key: str) -> Any:
    """The effective value of a dotted key (``rules.<kind>.<key>`` for acoustic rules too)."""
    node: Any = cfg
    parts = key.split(".")
    for i, part in enumerate(parts):
        if node is cfg.rules and i == 1 and part in cfg.rules.kinds:
            node = cfg.rules.rule(part)
        else:
            node = getattr(node, part)
    return list(node) if isinstance(node, tuple) else node


@dataclass(frozen=True)
class Trial:
    values: tuple[tuple[str, Any], ...]
    metrics: dict[str, Any]
    results: list[dict[str, Any]]

    @property
    def feasible(self) -> bool:
        m = self.metrics
        return (m["false_alarm_files"] == 0 and m["pre_onset_false_alarm_files"] == 0
                and (m["normal_warnings_per_hour"] or 0.0) <= MAX_NORMAL_WARNINGS_PER_HOUR + 1e-9)


FALSE_ALARM_WEIGHT = 3.0
"""A false critical costs three times a labored call found in time: each one teaches an agent to
ignore the alert."""
WARNING_WEIGHT = 0.005
"""Warnings cost little each (they ask the agent to check in), but an alert that cries wolf is
ignored: 20 warnings per hour of normal time cost as much as a tenth of the detections."""


def objective(m: Mapping[str, Any], false_alarm_weight: float = FALSE_ALARM_WEIGHT) -> tuple:
    """Sort key of a trial's tune-split metrics (higher is better); see the module docstring."""
    det = m["detected_30s"] or 0.0
    med = m["median_ttc_s"] if m["median_ttc_s"] is not None else math.inf
    violations = m["false_alarm_files"] + m["pre_onset_false_alarm_files"]
    nwarn = m["normal_warnings_per_hour"] or 0.0
    if violations == 0 and nwarn <= MAX_NORMAL_WARNINGS_PER_HOUR + 1e-9:
        return (1, det, -med)
    exposed = max(1, (m["forbidden"] or 0) + (m["labored"] or 0))
    balanced = det - false_alarm_weight * violations / exposed - WARNING_WEIGHT * nwarn
    return (0, round(balanced, 6), -med)


def fold_of(call_id: str, folds: int) -> int:
    """The fold of a call: a checksum of its id modulo ``folds`` (fixed, independent of how the
    corpus cut its halves by seed; both sample rates of a call fall in one fold)."""
    return zlib.crc32(call_id.encode("utf-8")) % folds


def robust_key(trial: "Trial", folds: int, false_alarm_weight: float = FALSE_ALARM_WEIGHT) -> tuple:
    """Sort key of a trial (higher is better): its worst fold's :func:`objective`, then the whole
    split's; with one fold, the whole split's."""
    whole = objective(trial.metrics, false_alarm_weight)
    if folds <= 1:
        return whole
    per_fold = [objective(ev.row_metrics([r for r in trial.results if not r.get("error")
                                          and fold_of(r["id"], folds) == k]), false_alarm_weight)
                for k in range(folds)]
    return (min(per_fold), whole)


class Search:
    """Coordinate search over a grid, each trial scored on ``jobs`` (the tune split)."""

    def __init__(self, jobs: Sequence[ev.Job], settings: ev.Settings, workers: int,
                 false_alarm_weight: float = FALSE_ALARM_WEIGHT, folds: int = 1) -> None:
        self.jobs, self.settings, self.workers = jobs, settings, workers
        self.false_alarm_weight = false_alarm_weight
        self.folds = folds
        self.trials: dict[tuple, Trial] = {}
        self.replayed = 0
        self.from_frames = 0

    def score(self, values: Mapping[str, Any]) -> Trial:
        key = tuple(sorted((k, json.dumps(v)) for k, v in values.items()))
        if key not in self.trials:
            settings = replace(self.settings, overrides=self.settings.overrides + tuple(values.items()))
            results = ev.evaluate_jobs(self.jobs, settings, self.workers)
            self.replayed += sum(r.get("source") == "replay" for r in results)
            self.from_frames += sum(r.get("source") == "frames" for r in results)
            failed = [r["error"] for r in results if r.get("error")]
            if failed:
                raise ev.CorpusError(failed[0])
            ok = [r for r in results if not r.get("error")]
            self.trials[key] = Trial(tuple(values.items()), ev.row_metrics(ok), results)
            print(trial_line(self.trials[key]), flush=True)
        return self.trials[key]

    def key(self, trial: Trial) -> tuple:
        return robust_key(trial, self.folds, self.false_alarm_weight)

    def run(self, grid: Mapping[str, Sequence[Any]], start: Mapping[str, Any], passes: int) -> Trial:
        choice = dict(start)
        best = self.score(choice)
        for n in range(passes):
            changed = False
            for key, values in grid.items():
                for v in values:
                    trial = self.score({**choice, key: v})
                    if self.key(trial) > self.key(best):
                        best, changed = trial, True
                choice = dict(best.values)
            print(f"pass {n + 1}: {'changed' if changed else 'no change'}", flush=True)
            if not changed:
                break
        return best


def trial_line(t: Trial) -> str:
    m = t.metrics
    values = " ".join(f"{k}={json.dumps(v)}" for k, v in t.values)
    return (f"{'ok ' if t.feasible else 'bad'} det@30 {ev._pct(m['detected_30s']):>5} "
            f"med {ev._secs(m['median_ttc_s']):>5}  FA {m['false_alarm_files']} "
            f"pre-FA {m['pre_onset_false_alarm_files']}  nwarn/h {ev._rate(m['normal_warnings_per_hour']):>5}  "
            f"{values}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m tools.{PROG}",
                                description="Choose config values on the tune split; report the test split.")
    ev.add_common_options(p)
    p.add_argument("--grid", required=True, metavar="GRID.toml", help="values to try per dotted key")
    p.add_argument("--passes", type=int, default=3, metavar="N", help="coordinate-search passes at most (3)")
    p.add_argument("--tune-split", default="tune", help="split the values are chosen on (tune)")
    p.add_argument("--test-split", default="test", help="split reported with the choice (test)")
    p.add_argument("--folds", type=int, default=2, metavar="K",
                   help="rank trials by their worst of K folds of the tune split (2; 1 = the whole split)")
    p.add_argument("--false-alarm-weight", type=float, default=FALSE_ALARM_WEIGHT, metavar="W",
                   help=f"cost of a false critical in detections-within-30-s per exposed file ({FALSE_ALARM_WEIGHT:g})")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.jobs < 1 or args.passes < 1 or args.folds < 1:
        return ev.fail("-j, --passes and --folds must be at least 1", prog=PROG)
    try:
        settings = ev.settings_from_args(args)
        grid = read_grid(args.grid, settings)
        tune_jobs = ev.load_jobs(args.folder, args.tune_split, args.rates, args.limit_calls)
        test_jobs = ev.load_jobs(args.folder, args.test_split, args.rates, args.limit_calls)
    except (ConfigError, ev.CorpusError, GridError) as exc:
        return ev.fail(str(exc), prog=PROG)
    if not tune_jobs:
        return ev.fail(f"{args.folder}: no calls in split {args.tune_split!r}", prog=PROG)
    if args.tune_split == args.test_split:
        print(f"{PROG}: warning: tuning and testing on the same split ({args.tune_split}): the test figures "
              "are not held out", file=sys.stderr)
    cfg = ev.make_config(settings)
    start = {k: config_value(cfg, k) for k in grid}
    t0 = time.perf_counter()
    search = Search(tune_jobs, settings, args.jobs, args.false_alarm_weight, args.folds)
    try:
        best = search.run(grid, start, args.passes)
    except ev.CorpusError as exc:
        return ev.fail(str(exc), 1, prog=PROG)
    tune_s = time.perf_counter() - t0
    print(f"\n{len(search.trials)} trials on {len(tune_jobs)} {args.tune_split} files in {tune_s:.1f} s "
          f"({search.replayed} full replays, {search.from_frames} cue streams from cached frames, the rest "
          "from cached cues)")
    chosen = dict(best.values)
    print("chosen (" + ("feasible" if best.feasible else "NOT feasible: no trial met the constraints") + "):")
    for k, v in chosen.items():
        note = "" if v == start[k] else f"   (was {json.dumps(start[k])})"
        print(f"  --set {k}={json.dumps(v)}{note}")
    print()
    print(ev.format_tables({f"{args.tune_split} (chosen on)": ev.tables(best.results)[args.tune_split]}))
    test = None
    if test_jobs:
        rep = ev.run_evaluation(test_jobs, replace(settings, overrides=settings.overrides + best.values), args.jobs)
        test = rep
        print()
        held = "held out" if args.test_split != args.tune_split else "NOT held out"
        print(ev.format_tables({f"{args.test_split} ({held})": rep.tables.get(args.test_split, [])}))
        print(ev.timing_line(rep, args.jobs))
    else:
        print(f"no calls in split {args.test_split!r}: no held-out figures")
    if args.json:
        data = {"version": 1, "grid": grid, "start": start, "chosen": chosen, "feasible": best.feasible,
                "tune_seconds": round(tune_s, 3),
                "trials": [{"values": dict(t.values), "feasible": t.feasible, "metrics": t.metrics}
                           for t in search.trials.values()],
                "tune": {"tables": ev.tables(best.results), "files": best.results},
                "test": None if test is None else {"tables": test.tables, "files": test.results}}
        try:
            ev.write_json(args.json, data)
        except OSError as exc:
            return ev.fail(f"{args.json}: cannot write ({exc.strerror or exc})", prog=PROG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
