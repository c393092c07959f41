"""Measure (an upper bound, from the labels): the fusion adds no evidence during a labelled hold.

A hold adds nothing about the caller, who waits; over babble it is where healthy callers go
critical (README). This run reads each call's labelled holds and gives the named families'
accumulation no weight from a hold's start to ``AFTER_S`` past its end, as the fusion already
does while the caller's window is stale. No detector of holds is involved: what it shows is the
most a hold test in the fusion could remove, and what it would cost.

    PYTHONPATH=. python research/babble/hold_oracle.py FAMILIES AFTER_S -- DIR --split tune -j 1 --cache CACHE --json OUT.json --files

FAMILIES: comma-separated (e.g. loudness, or all).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from monitor.alerts import rules
from monitor.cue_registry import FAMILIES
from tools import evaluate as ev


def holds_of(path: str) -> list[tuple[float, float]]:
    """The labelled holds (start, end) of the call whose audio is at ``path``."""
    stem = Path(path).name.rsplit("_", 1)[0]
    label = json.loads((Path(path).parent / f"{stem}.json").read_text())
    return [(e["start_s"], e["end_s"]) for e in label.get("events", []) if e["kind"] == "hold"]


def main() -> int:
    names = set(FAMILIES) if sys.argv[1] == "all" else set(sys.argv[1].split(","))
    after = float(sys.argv[2])
    argv = sys.argv[sys.argv.index("--") + 1:]
    current: list[list[tuple[float, float]]] = [[]]
    plain_job, plain_acc = ev.evaluate_job, rules.Fusion._accumulate

    def evaluate_job(job, settings):
        current[0] = holds_of(job.path)
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
