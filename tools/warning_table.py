"""Every warning on a healthy stretch of a split, with what raised it, and how soon labored callers are warned.

    python -m tools.warning_table DIR [--split tune] [--set KEY=VALUE ...] [--cache DIR] [--rows] [--json OUT]

Each file's cached cue stream (``tools.evaluate`` fills the cache; a file without one is replayed)
goes through the baseline and the alert engine of the configuration, as ``tools.evaluate`` runs
them, keeping every hop's judgements (the engine's fusion records them, as in
``tools.fusion_llr``). Warnings are judged on the long cue window only (the short window feeds
``possible_emergency`` alone).

For every warning on a *healthy* stretch (a normal call, a hard negative, a labored call before
its onset) one row (``--rows``): the file and its condition, the rule, the cue's value, the
caller's baseline (``-`` before there is one), the baseline's threshold and the absolute limit,
which of them the value was past when the warning was raised (``basis``), the grade of its change
from the baseline alone, the rules that corroborated it (for a rule that needs another family
past too), how long it had been past when raised and how long it stayed past in all (counting as
the warning counts, :func:`~monitor.alerts.rules.counts_for_warning`; hops without a judged
value neither end nor lengthen the run). Then a summary per
rule and basis and per condition, and, for the labored files expected to reach critical, the time
from the onset to the first warning raised after it (median by nearest rank, a miss infinitely
late, and the share within 30 s) beside the first critical.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from monitor.alerts.rules import AlertEngine, Fusion, Judgement, warning_counts
from monitor.config import Config
from monitor.events import AlertEvent
from tools import evaluate as ev

PROG = "warning_table"


class _JudgedFusion(Fusion):
    """Today's fusion, keeping each hop's long-window judgements per rule kind."""

    hops: list[tuple[float, dict[str, Judgement]]]

    def update(self, t: float, dt: float, weight: float, judged: Mapping[str, Judgement],
               judged_short: Mapping[str, Judgement] | None = None, turn: int | None = None,
               hold_since: float | None = None) -> None:
        self.hops.append((t, dict(judged)))
        super().update(t, dt, weight, judged, judged_short, turn, hold_since)


def replay(stream: ev.CueStream, cfg: Config) -> tuple[list[AlertEvent], list[tuple[float, dict[str, Judgement]]]]:
    """The file's alerts and its hops' judgements, from its cue stream (``evaluate.judge_cues``)."""
    engine = AlertEngine(cfg)
    engine.fusion = rec = _JudgedFusion(cfg.rules.possible_emergency, engine._rules)
    rec.hops = []
    alerts = [e for e in ev.judge_cues(stream, cfg, engine) if isinstance(e, AlertEvent)]
    return alerts, rec.hops


def counted(hops: Sequence[tuple[float, Mapping[str, Judgement]]], cfg: Config) -> dict[str, np.ndarray]:
    """Per rule kind, per hop: 1 if its judgement counted towards its warning (as the engine
    counts, :func:`~monitor.alerts.rules.warning_counts`), 0 if not, -1 where it was not judged."""
    rules = tuple(r for r in cfg.rules.acoustic if r.enabled)
    out = {r.kind: np.full(len(hops), -1, dtype=np.int8) for r in rules}
    past_at: dict[str, tuple[float, str]] = {}
    for i, (t, judged) in enumerate(hops):
        for kind, counts in warning_counts(rules, judged, t, past_at).items():
            out[kind][i] = counts
    return out


def run_end(t: np.ndarray, state: np.ndarray, since: float) -> float:
    """Call time at which the run that began at ``since`` ended: the first later hop of ``t``
    (H,) whose ``state`` (H,) is 0 (judged and not counted; the last hop if none)."""
    after = np.flatnonzero((t > since) & (state == 0))
    return float(t[after[0]]) if len(after) else float(t[-1])


def condition_of(job: ev.Job) -> str:
    """A short description of the file's condition: group (or hard negative kind), line, hold."""
    c = job.condition
    who = c.get("negative") or c.get("group") or "?"
    if c.get("group") == "labored":
        who = f"labored/{c.get('severity')}/{c.get('degrade')}"
    line = c.get("noise") or "none"
    if c.get("snr_db") is not None:
        line += f"@{c['snr_db']:.0f}dB"
    return f"{who} {line}" + (" hold" if c.get("hold") else "")


def healthy_until(job: ev.Job) -> float:
    """End of the file's healthy stretch: the onset of a labored call, else the whole file."""
    return job.onset_s if job.onset_s is not None else math.inf


@dataclass(frozen=True)
class FileWarnings:
    """One file's warnings on its healthy stretch (rows) and, if labored, its first warning and
    critical after the onset (call times, None if none)."""

    job: ev.Job
    rows: tuple[dict[str, Any], ...]
    first_warning: float | None
    first_critical: float | None
    first_kind: str | None


def warning_row(job: ev.Job, a: AlertEvent, hops: Sequence[tuple[float, Mapping[str, Judgement]]],
                state: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """One warning's row: what raised it and how long it stayed past (``state``: :func:`counted`)."""
    e = a.evidence
    since = float(e["since"])
    t = np.array([h[0] for h in hops])
    j = next((h[1][a.kind] for h in hops if h[0] == a.t and a.kind in h[1]), None)
    return {"id": job.id, "rate": job.rate, "condition": condition_of(job), "group": job.condition.get("group"),
            "negative": job.condition.get("negative"), "noise": job.condition.get("noise"),
            "hold": bool(job.condition.get("hold")), "kind": a.kind, "t": a.t, "value": e["value"],
            "baseline": e["baseline"], "threshold": e["baseline_threshold"], "absolute": e["absolute"],
            "basis": e["basis"], "change": None if j is None else round(j.change, 3),
            "grade": None if j is None else round(j.grade, 3), "held_s": round(a.t - since, 1),
            "with": ",".join(e.get("corroborated_by") or ()) or None,
            "past_s": round(run_end(t, state[a.kind], since) - since, 1)}


def file_warnings(job: ev.Job, stream: ev.CueStream, cfg: Config) -> FileWarnings:
    """The file's healthy-stretch warning rows and its first warning and critical after the onset."""
    alerts, hops = replay(stream, cfg)
    end = healthy_until(job)
    state = counted(hops, cfg)
    rows = tuple(warning_row(job, a, hops, state) for a in alerts if a.severity == "warning" and a.t < end)
    after = [a for a in alerts if job.onset_s is not None and a.t >= job.onset_s]
    warn = next((a for a in after if a.severity == "warning"), None)
    crit = next((a for a in after if a.severity == "critical"), None)
    return FileWarnings(job, rows, None if warn is None else warn.t, None if crit is None else crit.t,
                        None if warn is None else warn.kind)


def collect(files: Iterable[tuple[ev.Job, ev.CueStream]], cfg: Config) -> list[FileWarnings]:
    return [file_warnings(job, stream, cfg) for job, stream in files]


# =========================================================================== printing


def _num(x: Any, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


ROW_HEADER = (f"{'file':<16} {'condition':<34} {'rule':<17} {'t':>6} {'value':>7} {'base':>7} {'thr':>7} "
              f"{'abs':>6} {'basis':<17} {'change':>6} {'held':>5} {'past':>6} with")


def format_row(r: Mapping[str, Any]) -> str:
    return (f"{r['id'] + '@' + str(r['rate'] // 1000) + 'k':<16} {r['condition'][:34]:<34} {r['kind']:<17} "
            f"{r['t']:>6.0f} {_num(r['value']):>7} {_num(r['baseline']):>7} {_num(r['threshold']):>7} "
            f"{_num(r['absolute']):>6} {r['basis'] or '-':<17} {_num(r['change']):>6} {r['held_s']:>5.0f} "
            f"{r['past_s']:>6.0f} {r['with'] or '-'}")


def healthy_hours(found: Sequence[FileWarnings]) -> tuple[float, float]:
    """Hours of healthy call time: (normal calls and labored calls before their onset, hard negatives)."""
    normal = sum(ev.normal_time_s(f.job) for f in found)
    hard = sum(f.job.duration_s for f in found if f.job.onset_s is None and f.job.condition.get("group") != "normal")
    return normal / 3600.0, hard / 3600.0


def summary_lines(found: Sequence[FileWarnings]) -> list[str]:
    """Counts per rule and basis, per condition, and how long the cues stayed past."""
    rows = [r for f in found for r in f.rows]
    normal_h, hard_h = healthy_hours(found)
    on_normal = sum(r["group"] != "hard_negative" for r in rows)
    lines = [f"healthy-stretch warnings: {len(rows)} ({on_normal} in {normal_h:.2f} h of normal call time: "
             f"{on_normal / max(normal_h, 1e-9):.1f}/h; {len(rows) - on_normal} on hard negatives in "
             f"{hard_h:.2f} h: {(len(rows) - on_normal) / max(hard_h, 1e-9):.1f}/h)"]
    for kind, n in Counter(r["kind"] for r in rows).most_common():
        mine = [r for r in rows if r["kind"] == kind]
        bases = Counter(r["basis"] for r in mine)
        who = Counter((r["negative"] or r["group"]) + ("+hold" if r["hold"] else "") + "/" + str(r["noise"])
                      for r in mine)
        past = sorted(r["past_s"] for r in mine)
        lines.append(f"  {kind:<17} {n:>3}  basis {dict(bases)}  past median {past[len(past) // 2]:.0f} s "
                     f"(max {past[-1]:.0f})  {dict(who.most_common())}")
    return lines


def labored_lines(found: Sequence[FileWarnings]) -> list[str]:
    """The expected-critical labored files' first warning and critical after the onset."""
    exp = [f for f in found if f.job.expect_critical]
    if not exp:
        return []
    ttw = [math.inf if f.first_warning is None else f.first_warning - f.job.onset_s for f in exp]
    ttc = [math.inf if f.first_critical is None else f.first_critical - f.job.onset_s for f in exp]
    n = len(exp)

    def med(v: list[float]) -> str:
        m = ev.nearest_rank(v, 0.5)
        return "miss" if m is None or math.isinf(m) else f"{m:.1f} s"

    early = sum(w < c for w, c in zip(ttw, ttc))
    kinds = Counter(f.first_kind for f in exp if f.first_kind is not None)
    return [f"labored files expected critical: {n}",
            f"  first warning after the onset: within 30 s {sum(t <= 30 for t in ttw)}/{n} "
            f"({100 * sum(t <= 30 for t in ttw) / n:.0f} %), any {sum(math.isfinite(t) for t in ttw)}/{n}, "
            f"median {med(ttw)}; before the first critical in {early}/{n}",
            f"  first critical after the onset: within 30 s {sum(t <= 30 for t in ttc)}/{n}, median {med(ttc)}",
            f"  first warning's rule: {dict(kinds.most_common())}"]


def to_json(found: Sequence[FileWarnings]) -> dict[str, Any]:
    return {"rows": [r for f in found for r in f.rows],
            "labored": [{"id": f.job.id, "rate": f.job.rate, "onset_s": f.job.onset_s, "expect": f.job.expect_critical,
                         "condition": condition_of(f.job), "first_warning": f.first_warning,
                         "first_kind": f.first_kind, "first_critical": f.first_critical}
                        for f in found if f.job.onset_s is not None]}


def main(argv: list[str] | None = None) -> int:
    p = ev.corpus_tool_parser(PROG, __doc__.split("\n")[0])
    p.add_argument("--rows", action="store_true", help="print one row per healthy-stretch warning")
    args = p.parse_args(argv)
    try:
        settings, cfg, jobs = ev.corpus_of(args)
        found = collect(ev.cue_streams(jobs, cfg, settings.cache_dir), cfg)
    except ev.CORPUS_PROBLEMS as exc:
        return ev.corpus_failed(exc, PROG)
    if args.rows:
        rows = sorted((r for f in found for r in f.rows), key=lambda r: (r["kind"], r["condition"], r["id"]))
        print("\n".join([ROW_HEADER] + [format_row(r) for r in rows]) + "\n")
    print("\n".join(summary_lines(found) + labored_lines(found)))
    if args.json:
        try:
            ev.write_json(args.json, to_json(found))
        except OSError as exc:
            return ev.fail(f"{args.json}: cannot write ({exc.strerror or exc})", prog=PROG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
