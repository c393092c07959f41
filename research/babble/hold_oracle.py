"""Measure (an upper bound, from the labels): the fusion adds no evidence during a labelled hold.

A hold adds nothing about the caller, who waits; over babble it is where healthy callers go
critical (README). This run reads each call's labelled holds and gives the named families'
accumulation no weight from a hold's start to ``AFTER_S`` past its end, as the fusion already
does while the caller's window is stale. No detector of holds is involved: what it shows is the
most a hold test in the fusion could remove, and what it would cost.

    PYTHONPATH=. python research/babble/hold_oracle.py FAMILIES AFTER_S [AGENT_QUIET_S] -- DIR --split tune -j 1 --cache CACHE --json OUT.json --files

FAMILIES: comma-separated (e.g. loudness, or all). AGENT_QUIET_S: the stretches are the agent's\nlabelled silences instead, from this many seconds into each.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

from monitor.alerts import rules
from monitor.cue_registry import FAMILIES
from tools import evaluate as ev


def holds_of(path: str, agent_quiet_s: float = 0.0) -> list[tuple[float, float]]:
    """The labelled holds (start, end) of the call whose audio is at ``path``; with
    ``agent_quiet_s``, instead every stretch from that many seconds after the end of an agent's
    labelled turn to the start of their next (what the agent's own channel shows)."""
    stem = Path(path).name.rsplit("_", 1)[0]
    label = json.loads((Path(path).parent / f"{stem}.json").read_text())
    if agent_quiet_s <= 0:
        return [(e["start_s"], e["end_s"]) for e in label.get("events", []) if e["kind"] == "hold"]
    turns = label["turns"] if isinstance(label["turns"], list) else ast.literal_eval(label["turns"])
    agent = sorted((t["start_s"], t["end_s"]) for t in turns if t["speaker"] == "agent")
    ends = [e for _, e in agent]
    starts = [s for s, _ in agent[1:]] + [label["duration_s"]]
    return [(e + agent_quiet_s, s) for e, s in zip(ends, starts) if s - e > agent_quiet_s]


def main() -> int:
    names = set(FAMILIES) if sys.argv[1] == "all" else set(sys.argv[1].split(","))
    after = float(sys.argv[2])
    quiet = float(sys.argv[3]) if sys.argv[3] != "--" else 0.0
    argv = sys.argv[sys.argv.index("--") + 1:]
    current: list[list[tuple[float, float]]] = [[]]
    plain_job, plain_acc = ev.evaluate_job, rules.Fusion._accumulate

    def evaluate_job(job, settings):
        current[0] = holds_of(job.path, quiet)
        return plain_job(job, settings)

    def accumulate(self, window, family, t, weight, grade):
        if family in names and any(a <= t <= b + after for a, b in current[0]):
            weight = 0.0
        return plain_acc(self, window, family, t, weight, grade)

    ev.evaluate_job = evaluate_job
    rules.Fusion._accumulate = accumulate
    return ev.main(argv)


if __name__ == "__main__":
    sys.exit(main())
