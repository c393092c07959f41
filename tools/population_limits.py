"""Absolute limits and typical values from the healthy population of a corpus split.

    python -m tools.population_limits DIR [--split tune] [--rates 16000,8000] [--cache DIR]
                                          [--config FILE] [--set KEY=VALUE ...]
                                          [--hold-s 5] [--call-quantile 0.9] [--window-quantile 0.99]
                                          [--grid GRID.toml [--grid-quantiles Q,Q,...]] [--json OUT.json]

Each acoustic rule grades its cue against the caller's baseline and against an absolute limit
measured from the cue's typical healthy value (:func:`monitor.alerts.rules.judge`): the only
evidence for a caller who is labored from the first word, whose baseline already holds their
trouble. This tool measures both from the split's *healthy* files: every ``forbid_critical``
file without an onset (the normal calls and the hard negatives: slow, elderly, quiet, breathy,
hesitant voices, noisy lines and holds), at every rate. Per file it reads the caller's cue stream
(from ``tools.evaluate``'s cache, else by a full replay) and keeps each rule's cue on every hop
the rule would judge it (the long window once it holds the rule's ``min_speech_s`` of speech; the
short window once it holds ``analysis.short_speech_s``; neither over a steady tone).

Per cue it proposes:

- the **typical** value: the median of the healthy long windows, every file weighing the same
  (a long call does not count more than a short one);
- the **absolute limit** by the per-file worst-hold rule: each healthy file's *held* value is the
  value it stays beyond (on the trouble side) for ``--hold-s`` seconds of judged windows in all,
  and the limit is the ``--call-quantile`` quantile of the held values across files, i.e. that
  share of healthy files never spends ``--hold-s`` seconds past it. The evidence behind a
  critical alert accumulates over seconds beyond a limit, so what matters is how long a healthy
  caller stays past it, not how far a single hop strays;
- for comparison, the ``--window-quantile`` quantile of all healthy windows pooled (files
  weighted equally), and the short window's figures.

With ``--grid`` it also writes a ``tools.tune`` grid of each emergency rule's current limit and
the proposals at several quantiles, for a fold-robust comparison
(``python -m tools.tune DIR --grid GRID.toml --folds 2``).

It prints, per cue, the current and proposed values, the share of healthy files that hold past
each limit, and the same share among the labored files from the first word (``onset=start``,
after their onset): how many of them the limit alone can find. The proposal is the figures'
starting point, not a verdict: judge it with ``tools.evaluate`` and ``tools.tune --folds 2``.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread, set before numpy loads
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Iterable, Mapping, Sequence  # noqa: E402

import numpy as np  # noqa: E402

from monitor.alerts.evidence import WINDOWS  # noqa: E402
from monitor.alerts.rules import steady_tone  # noqa: E402
from monitor.analysis.baseline import SHORT_SLACK_S  # noqa: E402
from monitor.config import Config, RuleConfig  # noqa: E402
from monitor.cue_registry import SPEECH_CUES, cue  # noqa: E402
from monitor.events import CuesEvent  # noqa: E402
from tools import evaluate as ev  # noqa: E402
from tools.options import quantiles  # noqa: E402

PROG = "population_limits"


@dataclass(frozen=True)
class FileValues:
    """One file's judged values of one cue: ``values`` (n,) in hop order, one per judged hop."""

    id: str
    rate: int
    values: np.ndarray


@dataclass(frozen=True)
class Proposal:
    """One rule's cue over the healthy population, with the current and proposed settings."""

    kind: str
    cue: str
    trouble: str
    files: int
    windows: int
    typical_now: float | None
    typical: float | None
    absolute_now: float | None
    absolute: float | None
    """The per-file worst-hold limit (see the module docstring)."""
    window_limit: float | None
    """The pooled windows' quantile, for comparison."""
    short_typical: float | None
    short_window_limit: float | None


# =========================================================================== the statistics


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` (n,) with ``weights`` (n,): the smallest value whose
    cumulative weight reaches ``q`` of the total (nearest rank for equal weights); None if empty."""
    if values.size == 0:
        return None
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    i = int(np.searchsorted(cum, q * cum[-1] - 1e-12 * cum[-1], side="left"))
    return float(values[order][min(i, values.size - 1)])


def side_quantile(values: np.ndarray, weights: np.ndarray, q: float, trouble: str) -> float | None:
    """The value that a ``q`` share (by weight) of ``values`` (n,) does not pass on the trouble
    side: the ``q`` quantile of an "above" cue, the mirrored one of a "below" cue (so that both
    sides round alike); None if empty."""
    sign = 1.0 if trouble == "above" else -1.0
    v = weighted_quantile(sign * values, weights, q)
    return None if v is None else sign * v


def pooled_quantile(files: Sequence[FileValues], q: float, trouble: str = "above") -> float | None:
    """:func:`side_quantile` of every file's values pooled, each file weighing the same in all
    (``q`` 0.5: the median)."""
    files = [f for f in files if f.values.size]
    if not files:
        return None
    values = np.concatenate([f.values for f in files])
    weights = np.concatenate([np.full(f.values.size, 1.0 / f.values.size) for f in files])
    return side_quantile(values, weights, q, trouble)


def held_value(values: np.ndarray, hold_hops: int, trouble: str) -> float | None:
    """The value ``values`` (n,) stay beyond, on the trouble side, for ``hold_hops`` hops in all
    (the ``hold_hops``-th worst); None when the file has fewer judged hops."""
    if hold_hops < 1 or values.size < hold_hops:
        return None
    worst_first = np.sort(values)[::-1] if trouble == "above" else np.sort(values)
    return float(worst_first[hold_hops - 1])


def held_limit(files: Sequence[FileValues], hold_hops: int, q: float, trouble: str) -> float | None:
    """The limit that a ``q`` share of the files never stay past for ``hold_hops`` hops: the
    ``q`` quantile, on the trouble side, of their held values (nearest rank)."""
    held = [h for f in files if (h := held_value(f.values, hold_hops, trouble)) is not None]
    if not held:
        return None
    return side_quantile(np.asarray(held), np.ones(len(held)), q, trouble)


def share_held_past(files: Sequence[FileValues], limit: float | None, hold_hops: int, trouble: str) -> float | None:
    """Share of the files that stay past ``limit`` for ``hold_hops`` hops or more (None without
    a limit or files)."""
    if limit is None or not files:
        return None
    past = [int(np.sum(f.values < limit if trouble == "below" else f.values > limit)) >= hold_hops
            for f in files]
    return sum(past) / len(past)


# =========================================================================== the cue streams


def judged_values(stream: Sequence[CuesEvent], rule: RuleConfig, cfg: Config, window: str) -> np.ndarray:
    """The rule's cue on every hop of ``stream`` it would be judged on, (n,): the long window
    once it holds ``min_speech_s`` of speech, the short one once it holds ``short_speech_s``;
    never over a steady tone (a speech cue) or where the cue is missing. The same tests as
    :meth:`~monitor.alerts.rules.AlertEngine.update` and ``judge_short``: a long window that
    does not say how much speech it holds is judged, a short one is not."""
    short = window == "short"
    if short and cfg.analysis.short_speech_s <= 0:
        return np.zeros(0)
    get = (lambda c, n: c.short_value(n)) if short else (lambda c, n: c.value(n))
    out = []
    for c in stream:
        if c.channel != "caller" or get(c, rule.cue) is None:
            continue
        if short and (c.short_value("speech_s") or 0.0) < cfg.analysis.short_speech_s - SHORT_SLACK_S:
            continue
        if not short and rule.min_speech_s > 0 and c.speech_s is not None and c.speech_s < rule.min_speech_s:
            continue
        value = get(c, rule.cue)
        if rule.cue in SPEECH_CUES and steady_tone(cfg.analysis, get(c, "articulation_rate_sps"), get(c, "hnr_db")):
            continue
        out.append(float(value))
    return np.asarray(out, dtype=float)


def is_healthy(job: ev.Job) -> bool:
    """A file whose every window is healthy speech: critical forbidden and no onset."""
    return job.forbid_critical and job.onset_s is None


def is_labored_from_start(job: ev.Job) -> bool:
    """A labored caller whose trouble is there from the first word (``onset=start``): the files
    an absolute limit alone has to find, their baseline holding the trouble already."""
    return job.expect_critical and job.condition.get("onset") == "start"


def load_stream(job: ev.Job, cfg: Config, cache_dir: str | None) -> list[CuesEvent]:
    """The file's caller cue stream: cached, else from its cached frames, else by a full replay."""
    stream, _ = ev.cached_stream(job, cfg, cache_dir)
    if stream is None:
        _, _, stream = ev.replay_file(job, cfg)
    return list(stream.cues)


def after_onset(stream: Sequence[CuesEvent], onset_s: float | None) -> list[CuesEvent]:
    """The cue events from ``onset_s`` on (all of them without an onset)."""
    return [c for c in stream if onset_s is None or c.t >= onset_s]


def collect(jobs: Iterable[ev.Job], cfg: Config, cache_dir: str | None,
            rules: Sequence[RuleConfig]) -> dict[tuple[str, str], list[FileValues]]:
    """Per (rule kind, window), every job's judged values (after the onset of a labored job)."""
    out: dict[tuple[str, str], list[FileValues]] = {(r.kind, w): [] for r in rules for w in WINDOWS}
    for job in jobs:
        stream = after_onset(load_stream(job, cfg, cache_dir), job.onset_s)
        for r in rules:
            for w in WINDOWS:
                out[(r.kind, w)].append(FileValues(job.id, job.rate, judged_values(stream, r, cfg, w)))
    return out


# =========================================================================== the proposal


def propose(rule: RuleConfig, long: Sequence[FileValues], short: Sequence[FileValues], hold_hops: int,
            call_q: float, window_q: float) -> Proposal:
    """The proposal for one rule's cue from the healthy files' long and short windows."""
    t = rule.direction
    return Proposal(kind=rule.kind, cue=rule.cue, trouble=t, files=sum(f.values.size > 0 for f in long),
                    windows=sum(f.values.size for f in long), typical_now=cue(rule.cue).typical,
                    typical=pooled_quantile(long, 0.5), absolute_now=rule.absolute,
                    absolute=held_limit(long, hold_hops, call_q, t),
                    window_limit=pooled_quantile(long, window_q, t),
                    short_typical=pooled_quantile(short, 0.5),
                    short_window_limit=pooled_quantile(short, window_q, t))


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _p(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def proposal_lines(p: Proposal, healthy: Sequence[FileValues], labored: Sequence[FileValues],
                   hold_hops: int) -> list[str]:
    """The printed figures of one cue: typical and limits, now and proposed, and who holds past each."""
    t = p.trouble

    def past(limit: float | None) -> str:
        return (f"healthy {_p(share_held_past(healthy, limit, hold_hops, t))}, "
                f"labored from the start {_p(share_held_past(labored, limit, hold_hops, t))}")

    return [f"{p.kind} ({p.cue}, trouble {t}): {p.files} healthy files, {p.windows} judged long windows",
            f"  typical      now {_f(p.typical_now):>7}   median {_f(p.typical):>7}   "
            f"(short window's median {_f(p.short_typical)})",
            f"  absolute     now {_f(p.absolute_now):>7}   past it for the hold: {past(p.absolute_now)}",
            f"  proposed         {_f(p.absolute):>7}   past it for the hold: {past(p.absolute)}",
            f"  pooled windows   {_f(p.window_limit):>7}   past it for the hold: {past(p.window_limit)}   "
            f"(short windows' {_f(p.short_window_limit)})"]


def set_lines(proposals: Sequence[Proposal]) -> list[str]:
    """``--set`` options that apply the proposed limits to the rules that have one now."""
    return [f"--set rules.{p.kind}.absolute={p.absolute:.3g}" for p in proposals
            if p.absolute is not None and p.absolute_now is not None]


def grid_text(rules: Sequence[RuleConfig], healthy: Mapping[tuple[str, str], list[FileValues]], hold_hops: int,
              quantiles: Sequence[float], hold_s: float) -> str:
    """A ``tools.tune`` grid (TOML): per rule of ``rules`` with an absolute limit now, that limit
    and the proposed one at each of ``quantiles``, so that a fold-robust search can compare them."""
    lines = [f"# absolute limits: each rule's current one, then the value that a share of {', '.join(f'{q:g}' for q in quantiles)}",
             f"# of the healthy files never holds past for {hold_s:g} s (tools.population_limits)"]
    for r in rules:
        if r.absolute is None:
            continue
        values = [r.absolute] + [held_limit(healthy[(r.kind, "long")], hold_hops, q, r.direction) for q in quantiles]
        unique = list(dict.fromkeys(float(f"{v:.3g}") for v in values if v is not None))
        lines.append(f'"rules.{r.kind}.absolute" = [{", ".join(f"{v:g}" for v in unique)}]')
    return "\n".join(lines) + "\n"


def fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m tools.{PROG}",
                                description="Typical values and absolute limits from a split's healthy files.")
    ev.add_common_options(p, workers=False)
    p.add_argument("--split", choices=ev.SPLITS, default="tune",
                   help="split to measure (tune; never the test split for tuning)")
    p.add_argument("--hold-s", type=float, default=5.0, metavar="S",
                   help="seconds of judged windows a file must stay past a limit to count as past it (5)")
    p.add_argument("--call-quantile", type=float, default=0.9, metavar="Q",
                   help="share of healthy files that never hold past the proposed limit (0.9)")
    p.add_argument("--grid", metavar="GRID.toml", help="also write a tools.tune grid of each emergency rule's "
                   "current limit and the proposals at --grid-quantiles")
    p.add_argument("--grid-quantiles", type=quantiles, default="0.9,0.93,0.95,0.96,0.97,0.98,0.99,1", metavar="Q,Q",
                   help="the --call-quantile values the grid tries (0.9 ... 1)")
    p.add_argument("--window-quantile", type=float, default=0.99, metavar="Q",
                   help="quantile of the pooled windows printed for comparison (0.99)")
    return p


def run(args: argparse.Namespace) -> tuple[list[str], list[dict[str, Any]]]:
    """The printed lines and the proposals (as dicts) of a parsed command line."""
    settings = ev.settings_from_args(args)
    cfg = ev.make_config(settings)
    jobs = ev.load_jobs(args.folder, args.split, args.rates, args.limit_calls)
    rules = tuple(r for r in cfg.rules.acoustic if r.enabled)
    hold_hops = max(1, round(args.hold_s / cfg.analysis.hop_s))
    healthy = collect([j for j in jobs if is_healthy(j)], cfg, settings.cache_dir, rules)
    labored = collect([j for j in jobs if is_labored_from_start(j)], cfg, settings.cache_dir, rules)
    lines = [f"{PROG}: split {args.split}, {len(healthy[(rules[0].kind, 'long')]) if rules else 0} healthy files, "
             f"hold {hold_hops * cfg.analysis.hop_s:g} s, limit: {args.call_quantile:g} of healthy files "
             f"never hold past it; pooled windows' quantile {args.window_quantile:g}", ""]
    proposals = []
    for r in rules:
        p = propose(r, healthy[(r.kind, "long")], healthy[(r.kind, "short")], hold_hops,
                    args.call_quantile, args.window_quantile)
        proposals.append(p)
        lines += proposal_lines(p, healthy[(r.kind, "long")], labored[(r.kind, "long")], hold_hops) + [""]
    lines += ["proposed limits:", " ".join(set_lines(proposals))]
    if args.grid:
        kinds = cfg.rules.possible_emergency.kinds
        text = grid_text([r for r in rules if r.kind in kinds], healthy, hold_hops, args.grid_quantiles, args.hold_s)
        try:
            Path(args.grid).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{args.grid}: cannot write ({exc.strerror or exc})") from None
        lines.append(f"grid: {args.grid}")
    return lines, [vars(p) for p in proposals]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0.0 < args.call_quantile <= 1.0 or not 0.0 < args.window_quantile <= 1.0 or args.hold_s <= 0:
        return fail("--call-quantile and --window-quantile must lie in (0, 1], --hold-s above 0")
    try:
        lines, proposals = run(args)
    except ev.CORPUS_PROBLEMS as exc:
        return ev.corpus_failed(exc, PROG)
    except ValueError as exc:
        return fail(str(exc))
    except OSError as exc:  # a call's audio or the cache
        return fail(f"{exc.filename or args.folder}: cannot read ({exc.strerror or exc})")
    print("\n".join(lines))
    if args.json:
        try:
            ev.write_json(args.json, {"version": 1, "split": args.split, "hold_s": args.hold_s,
                                      "call_quantile": args.call_quantile,
                                      "window_quantile": args.window_quantile, "proposals": proposals})
        except OSError as exc:
            return fail(f"{args.json}: cannot write ({exc.strerror or exc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
