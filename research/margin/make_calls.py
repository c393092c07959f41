"""New healthy calls (normal and hard negatives) with seeds the evaluation corpus never held.

    PYTHONPATH=. python research/margin/make_calls.py OUT [--base 7000] [--pairs hesitant=20,...] [-j 1]

tools/eval_corpus.py's machinery as it is (planning, rendering, line conditions, labels, 16 and
8 kHz files); only the list of (seed, cell) differs: consecutive pairs of seeds per cell from
``--base`` on (a pair shares its line's noise and codec, as in the corpus), cells in the order of
``--pairs``. Writes ``OUT/margin_<seed>{.json,_16k.flac,_8k.flac}`` and ``OUT/index.json``
(readable by ``tools.evaluate OUT --split all``).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from tools import eval_corpus as ec

DEFAULT_PAIRS = "hesitant=30,slow=15,elderly_quiet=8,breathy=8,laugh_cough=8,monologue=8,normal=10"


def calls(base: int, pairs: str) -> list[tuple[int, ec.Cell]]:
    """(seed, cell) per call: for each ``kind=n`` of ``pairs``, n pairs of consecutive seeds."""
    out: list[tuple[int, ec.Cell]] = []
    for item in pairs.split(","):
        kind, n = item.split("=")
        cell = ec.Cell("normal") if kind == "normal" else ec.Cell("hard_negative", negative=kind)
        for _ in range(2 * int(n)):
            out.append((base + len(out), cell))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--base", type=int, default=7000)
    p.add_argument("--pairs", default=DEFAULT_PAIRS)
    p.add_argument("--limit", type=int, default=None, help="only the first N calls")
    p.add_argument("-j", "--jobs", type=int, default=1)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data_path = ec.prepare_espeak(args.out)
    inputs = ec.corpus_inputs()
    versions = tuple(sorted(inputs["versions"].items()))
    todo, ids = [], []
    for seed, cell in calls(args.base, args.pairs)[: args.limit]:
        ids.append(f"margin_{seed}")
        done = (args.out / f"margin_{seed}.json").exists() and (args.out / f"margin_{seed}_8k.flac").exists()
        if not done:
            digest = ec.sha({"inputs": inputs, "seed": seed, "cell": asdict(cell)})
            todo.append(ec.Job(args.out, seed, cell, "margin", digest, data_path, versions))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for call_id, dur, wall in pool.map(ec.generate, todo):
            print(f"  {call_id}: {dur:.0f} s call in {wall:.1f} s", flush=True)
    ec.write_index(args.out, ids)
    print(f"{len(todo)} call(s) written, {len(ids)} in the index, {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
