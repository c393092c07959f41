"""Healthy files with a critical under each setting, against the defaults' run.

    python research/margin/false_criticals.py DEFAULT.json X.json [Y.json ...] [--held HELD.txt ...]

Each JSON is a ``tools.evaluate --json`` run over the same folder. Printed per run: the files with
a critical (forbid_critical), how many more than the defaults and which, with their kind, line and
first critical's time; ``--held``: held_grades.py ``--files`` outputs, to show each new file's
offline joint grade held 3 s beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def criticals(path: str) -> dict[tuple[str, int], dict[str, Any]]:
    files = json.load(open(path))["files"]
    return {(f["id"], f["rate"]): f for f in files if f.get("forbid_critical") and f.get("criticals")}


def held_of(paths: list[str]) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], float] = {}
    for path in paths:
        for line in open(path):
            parts = line.split()
            if len(parts) >= 4 and parts[1].endswith("k") and parts[1][:-1].isdigit():
                out[(parts[0], int(parts[1][:-1]) * 1000)] = float(parts[-1])
    return out


def describe(f: dict[str, Any], held: dict[tuple[str, int], float]) -> str:
    c = f["condition"]
    g = held.get((f["id"], f["rate"]))
    return (f"{f['id']}/{f['rate'] // 1000}k {c.get('negative') or 'normal'} {c.get('noise')}/{c.get('snr_db')} "
            f"crit@{f['first_critical_t']:.0f}s" + ("" if g is None else f" held {g:.3f}"))


def by_noise(path: str, new: set[tuple[str, int]]) -> str:
    """Per line noise, the run's new files among its hesitant files."""
    files = [f for f in json.load(open(path))["files"] if f["condition"].get("negative") == "hesitant"]
    noises = sorted({f["condition"].get("noise") for f in files})
    return ", ".join(f"{n} {sum((f['id'], f['rate']) in new for f in files if f['condition'].get('noise') == n)}/"
                     f"{sum(f['condition'].get('noise') == n for f in files)}" for n in noises)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("default")
    p.add_argument("runs", nargs="+")
    p.add_argument("--held", nargs="*", default=[])
    args = p.parse_args(argv)
    held = held_of(args.held)
    base = criticals(args.default)
    n = len(json.load(open(args.default))["files"])
    print(f"{args.default}: {len(base)} of {n} healthy files with a critical")
    for run in args.runs:
        now = criticals(run)
        new = sorted(set(now) - set(base))
        gone = sorted(set(base) - set(now))
        print(f"{run}: {len(now)} ({len(new):+d} new, {len(gone)} gone)")
        for key in new:
            print(f"  new  {describe(now[key], held)}")
        for key in gone:
            print(f"  gone {describe(base[key], held)}")
        print("  new / hesitant files per noise: " + by_noise(run, set(new)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
