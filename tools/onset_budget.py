"""Where the time from the onset of trouble to the critical alert goes, per labored call.

    python -m tools.onset_budget DIR [--split tune] [--rates 16000,8000] [--set KEY=VALUE ...]
                                     [--cache DIR] [--files]

For every expect_critical file of the split, from its cached cue stream (``tools.evaluate``
fills the cache; a file without one is replayed), the caller's cues go through the baseline and
the alert engine of the configuration while this records, in seconds after the onset:

- ``base``: when the baseline froze (``contam`` when its last window reached past the onset:
  trouble leaked into the reference);
- ``post``: the first hop whose cue window lies wholly after the onset (the window is filled);
- ``spost``: the same for the short window;
- ``g1 <family>``: the first hop at which the family's strongest raw grade reaches 1 (its cue at
  its threshold, before any smoothing or accumulation);
- ``two``: the first hop at which two families' raw grades are at 1 or more together;
- ``s1``: the first hop at which any family's short-window grade reaches 1;
- ``crit``: the first critical alert.

The table gives, per condition (degrade, onset, severity), the median of each (``-`` when fewer
than half the files reach it): the gaps between the columns are what the window, the cue
thresholds, the fusion's requirements and its smoothing or accumulation cost.
"""

from __future__ import annotations

import math
import statistics
import sys
from dataclasses import replace
from typing import Any, Sequence

from monitor.analysis.baseline import BaselineBuilder
from monitor.config import Config
from monitor.cue_registry import cue
from monitor.events import AlertEvent
from monitor.alerts.rules import AlertEngine
from tools import evaluate as ev

PROG = "onset_budget"
FAMILY_ORDER = ("tempo", "pausing", "latency", "voice", "loudness", "breathing")


def budget(job: ev.Job, stream: ev.CueStream, cfg: Config) -> dict[str, Any]:
    """Times (s after the onset) of each step on the way to the first critical alert."""
    onset = job.onset_s or 0.0
    builder = BaselineBuilder(cfg.analysis)
    engine = AlertEngine(cfg)
    pe = cfg.rules.possible_emergency
    rules = [r for r in cfg.rules.acoustic if r.enabled and r.kind in pe.kinds]
    out: dict[str, Any] = {"base": None, "contam": False, "post": None, "spost": None, "two": None, "s1": None,
                           "crit": None}
    for c in stream.cues:
        baseline = builder.add(c)
        if baseline is not None and out["base"] is None:
            out["base"] = c.t - onset
            out["contam"] = onset > 0 and baseline.end_t > onset
        events = engine.update(replace(c, baseline_ready=baseline is not None), baseline)
        if c.t < onset:
            continue
        if out["post"] is None and c.window_s is not None and c.t - c.window_s >= onset:
            out["post"] = c.t - onset
        short_window = c.short_value("window_s")
        if out["spost"] is None and short_window is not None and c.t - short_window >= onset:
            out["spost"] = c.t - onset
        if out["s1"] is None and any(j.grade >= 1.0 for j in engine.judge_short(c, baseline).values()):
            out["s1"] = c.t - onset
        grades: dict[str, float] = {}
        judged = engine.judge_long(c, baseline)  # as the engine judges them (speech rate net of pauses)
        for r in rules:
            if r.kind in judged:
                fam = cue(r.cue).family
                grades[fam] = max(grades.get(fam, 0.0), judged[r.kind].grade)
        for fam, g in grades.items():
            if g >= 1.0 and out.get(f"g1 {fam}") is None:
                out[f"g1 {fam}"] = c.t - onset
        if out["two"] is None and sum(g >= 1.0 for g in grades.values()) >= 2:
            out["two"] = c.t - onset
        if out["crit"] is None and any(isinstance(e, AlertEvent) and e.severity == "critical" for e in events):
            out["crit"] = c.t - onset
    return out


def _median(values: Sequence[float | None]) -> str:
    """Median over all files, a miss counting as infinitely late ("-" when most miss)."""
    if not values:
        return "-"
    m = statistics.median_low([math.inf if v is None else v for v in values])
    return "-" if math.isinf(m) else f"{m:.0f}"


COLUMNS = ("base", "post", "spost", *(f"g1 {f}" for f in FAMILY_ORDER), "two", "s1", "crit")


def table(rows: list[tuple[ev.Job, dict[str, Any]]]) -> str:
    groups: dict[str, list[dict[str, Any]]] = {"all": [b for _, b in rows]}
    for job, b in rows:
        for dim in ("degrade", "onset", "severity"):
            groups.setdefault(f"{dim}={job.condition.get(dim)}", []).append(b)
    head = f"{'condition':<22} {'files':>5} {'contam':>6} " + " ".join(f"{c:>12}" for c in COLUMNS)
    lines = [head, "-" * len(head)]
    for name, bs in groups.items():
        contam = sum(b["contam"] for b in bs)
        lines.append(f"{name:<22} {len(bs):>5} {contam:>6} "
                     + " ".join(f"{_median([b.get(c) for b in bs]):>12}" for c in COLUMNS))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = ev.corpus_tool_parser(PROG, __doc__.split("\n")[0])
    p.add_argument("--files", action="store_true", help="also print one line per file")
    args = p.parse_args(argv)
    try:
        settings, cfg, jobs = ev.corpus_of(args)
        rows = budgets([j for j in jobs if j.expect_critical], cfg, settings.cache_dir, args.files)
    except ev.CORPUS_PROBLEMS as exc:
        return ev.corpus_failed(exc, PROG)
    print(table(rows))
    return 0


def budgets(labored: Sequence[ev.Job], cfg: Config, cache_dir: str | None,
            files: bool) -> list[tuple[ev.Job, dict[str, Any]]]:
    """Each labored file's :func:`budget`, a line printed for each as it comes with ``files``."""
    rows = []
    for job, stream in ev.cue_streams(labored, cfg, cache_dir):
        b = budget(job, stream, cfg)
        rows.append((job, b))
        if files:
            cond = job.condition
            print(f"{job.id} {job.rate} {cond.get('severity')}/{cond.get('degrade')}/{cond.get('onset')} "
                  + " ".join(f"{k}={'-' if v is None else (f'{v:.0f}' if not isinstance(v, bool) else v)}"
                             for k, v in b.items()))
    return rows


if __name__ == "__main__":
    sys.exit(main())
