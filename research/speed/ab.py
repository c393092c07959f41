"""A/B timing of two trees of callmonitor in one process, runs alternating (for a loaded machine).

    git archive COMMIT | tar -x -C BEFORE                      # the tree before the change
    PYTHONPATH=. python research/speed/ab.py analyzer BEFORE [--seconds 120] [--rounds 24] [--chunk 1]
    PYTHONPATH=. python research/speed/ab.py tones BEFORE [--seconds 120] [--rounds 8]
    PYTHONPATH=. python research/speed/ab.py replay BEFORE --call CALL.wav [--rounds 8]

The tree before is imported as a second package (``monitor_before``: the package imports itself
relatively), so both run under the same load; CPU time of the process. ``analyzer``: x real time of
the streaming analyzer (16 kHz bench speech); ``tones``: the time inside the tone test's functions;
``replay``: x real time of the replay loop (as ``tools.bench``'s replay) and whether both trees
give the same events (``repr`` of each).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def load_trees(before: Path) -> dict[str, str]:
    """The package names of the tree before and of this one."""
    link_dir = Path(tempfile.mkdtemp(prefix="ab-"))
    (link_dir / "monitor_before").symlink_to(before.resolve() / "monitor")
    sys.path.insert(0, str(link_dir))
    return {"before": "monitor_before", "after": "monitor"}


def stream(module, x: np.ndarray, chunk_s: float) -> None:
    an = module.StreamingAnalyzer(16000, None, module.EMIT_GRID)
    step = int(round(chunk_s * 16000))
    for i in range(0, len(x), step):
        an.feed(x[i:i + step])
    an.flush()


def replay(pkg: str, path: str) -> tuple[float, list[str]]:
    config, pipeline, sources, store_m = (importlib.import_module(f"{pkg}.{n}") for n in
                                          ("config", "pipeline", "capture.sources", "delivery.store"))
    events: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = store_m.Store.open(os.path.join(tmp, "ab.db"))
        src = sources.FileSource(path, block_s=sources.replay_block_s(realtime=False, transcribe=False))
        pipe = pipeline.CallPipeline(config.load_config(user_config=False), src.rate, src.legs, store=store,
                                     source=path)
        c = time.process_time()
        pipeline.feed_source(pipe, src.chunks(), [lambda e: events.append(repr(e))])
        cpu = time.process_time() - c
        store.close()
    return src.duration_s / cpu, events


def timed_parts(modules: dict, names: tuple[str, ...]) -> dict:
    """Wrap ``names`` of each analyzer module with CPU timers; returns the running totals."""
    acc: dict = {}
    for tree, m in modules.items():
        for name in names:
            def wrapped(*a, _fn=getattr(m, name), _key=(tree, name), **kw):
                c = time.process_time()
                out = _fn(*a, **kw)
                acc[_key] = acc.get(_key, 0.0) + time.process_time() - c
                return out
            setattr(m, name, wrapped)
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("analyzer", "tones", "replay"))
    ap.add_argument("before", type=Path, help="a tree of callmonitor before the change")
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--chunk", type=float, default=1.0)
    ap.add_argument("--call", help="a stereo call for replay (tools.bench.write_long_call)")
    args = ap.parse_args()
    trees = load_trees(args.before)
    xrt: dict[str, list[float]] = {k: [] for k in trees}
    if args.what == "replay":
        events = {}
        for r in range(args.rounds):
            for k in (trees if r % 2 == 0 else reversed(list(trees))):
                got, events[k] = replay(trees[k], args.call)
                xrt[k].append(got)
        print("the same events:", events["before"] == events["after"], len(events["after"]))
    else:
        from tools.bench_audio import long_speech
        x = long_speech(args.seconds, 16000)
        modules = {k: importlib.import_module(f"{p}.analysis.analyzer") for k, p in trees.items()}
        acc = timed_parts(modules, ("line_spectrum", "_without_tones")) if args.what == "tones" else {}
        for m in modules.values():
            stream(m, x[:5 * 16000], args.chunk)
        acc.clear()
        for r in range(args.rounds):
            for k in (trees if r % 2 == 0 else reversed(list(trees))):
                c = time.process_time()
                stream(modules[k], x, args.chunk)
                xrt[k].append(args.seconds / (time.process_time() - c))
        for (tree, name), s in sorted(acc.items()):
            print(f"{tree} {name}: {s / (args.seconds * args.rounds) * 1e6:.0f} us per s of audio, "
                  f"{s / sum(args.seconds / v for v in xrt[tree]):.1%} of the analyzer")
    for k, v in xrt.items():
        print(f"{k}: median {np.median(v):,.0f}x real time (cpu) over {len(v)} runs")
    ratio = np.array(xrt["after"]) / np.array(xrt["before"])
    print(f"after / before, median of the pairs: {np.median(ratio):.3f}; "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
