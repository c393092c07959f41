"""Whether two corpus folders hold the same calls: labels equal but for the generator's parameter
hash, FLAC files byte for byte (and, if not, their samples).

    PYTHONPATH=. .venv/bin/python research/corpus2/same_calls.py OLD_DIR NEW_DIR [ID_PREFIX]

Lists every call of OLD_DIR's index (or every label in it) that differs, and the counts.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf


def label(path: Path) -> dict:
    lab = json.loads(path.read_text(encoding="utf-8"))
    lab.get("generator", {}).pop("params_sha256", None)
    return lab


def same_audio(a: Path, b: Path) -> str | None:
    """None if the files are equal (bytes, else samples); else what differs."""
    if a.read_bytes() == b.read_bytes():
        return None
    x, ra = sf.read(a, dtype="int16")
    y, rb = sf.read(b, dtype="int16")
    if ra == rb and x.shape == y.shape and np.array_equal(x, y):
        return None
    return f"{a.name}: samples differ"


def compare(old: Path, new: Path, prefix: str) -> list[str]:
    ids = sorted(p.stem for p in old.glob(f"{prefix}*.json") if p.stem != "index")
    problems = []
    for call_id in ids:
        if not (new / f"{call_id}.json").exists():
            problems.append(f"{call_id}: missing in {new}")
            continue
        a, b = label(old / f"{call_id}.json"), label(new / f"{call_id}.json")
        if a != b:
            problems.append(f"{call_id}: labels differ in {sorted(k for k in a if a.get(k) != b.get(k))}")
        for name in a["files"].values():
            why = same_audio(old / name, new / name)
            if why:
                problems.append(f"{call_id}: {why}")
    print(f"{len(ids)} calls compared, {len(problems)} differences")
    return problems


if __name__ == "__main__":
    found = compare(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "eval_")
    print(*found[:40], sep="\n")
    sys.exit(1 if found else 0)
