"""The sound class's share of the streaming analyzer's CPU time, with the class on and off
interleaved in one process (less disturbed by other work on the machine than ``tools.bench
analyzer``'s best-of-three timings taken apart).

    OMP_NUM_THREADS=1 python -m tools.class_share [--seconds 300] [--pairs 8] [--chunk 1.0]

Prints the analyzer's x real time (process CPU) with and without the class (medians over the
pairs) and the median of the pairs' shares ``1 - cpu(off) / cpu(on)``. To compare two checkouts,
run it in each, alternately, several times.

On a shared machine whole passes of a few hundred milliseconds move by a third from one to the next,
and a share taken from them by several points. ``--floor K`` measures the class's floor instead:
every batch is fed K times to copies of the analyzer's state, with the class on and off in turn,
and the least CPU of each is summed over the batches (the running analyzers then take the batch);
its share held within about a point from run to run at a load of 0.3-3.8 on 2 CPUs.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from monitor.analysis.analyzer import EMIT_GRID, WITH_SOUND_CLASS, WITHOUT_SOUND_CLASS, StreamingAnalyzer  # noqa: E402
from tools.bench import stream_frames  # noqa: E402
from tools.bench_audio import long_speech  # noqa: E402
from tools.options import number_above, whole_number  # noqa: E402


def class_share(seconds: float, pairs: int, chunk_s: float) -> tuple[float, float, float]:
    """x real time with the class on, with it off (medians) and the median share of the class,
    from ``pairs`` runs of each on ``seconds`` of 16 kHz speech fed in ``chunk_s`` chunks, the
    order of on and off swapped every pair."""
    x = long_speech(seconds, 16000)
    stream_frames(x[: 5 * 16000], 16000, chunk_s)  # warm-up (FFT plans, imports)
    on, off = [], []
    for i in range(pairs):
        order = ((on, WITH_SOUND_CLASS), (off, WITHOUT_SOUND_CLASS))
        for times, cfg in order if i % 2 == 0 else order[::-1]:
            c = time.process_time()
            stream_frames(x, 16000, chunk_s, cfg)
            times.append(time.process_time() - c)
    shares = [1.0 - b / a for a, b in zip(on, off)]
    return seconds / statistics.median(on), seconds / statistics.median(off), statistics.median(shares)


def class_floor(seconds: float, repeats: int, chunk_s: float) -> tuple[float, float, float]:
    """x real time with the class on and off, and its share, from the least CPU of ``repeats``
    feeds of each ``chunk_s`` chunk of ``seconds`` of 16 kHz speech to copies of the analyzer's
    state, on and off in turn (the order swapped every repeat), summed over the chunks."""
    x = long_speech(seconds, 16000)
    step = int(round(chunk_s * 16000))
    totals = []
    for _ in range(2):  # the first pass warms up (FFT plans, imports, caches); the second counts
        analyzers = [StreamingAnalyzer(16000, cfg, EMIT_GRID) for cfg in (WITH_SOUND_CLASS, WITHOUT_SOUND_CLASS)]
        totals = [0, 0]
        for i in range(0, len(x), step):
            chunk, least = x[i:i + step], [None, None]
            for k in range(repeats):
                for j in (0, 1) if k % 2 == 0 else (1, 0):
                    trial = copy.deepcopy(analyzers[j])
                    c = time.thread_time_ns()
                    trial.feed(chunk)
                    spent = time.thread_time_ns() - c
                    least[j] = spent if least[j] is None else min(least[j], spent)
            for j in (0, 1):
                analyzers[j].feed(chunk)
                totals[j] += least[j]
    on, off = totals[0] / 1e9, totals[1] / 1e9
    return seconds / on, seconds / off, 1.0 - off / on


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.class_share", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=number_above(0.0), default=300.0, help="seconds of speech (default 300)")
    ap.add_argument("--pairs", type=whole_number(1), default=8, help="on/off pairs (default 8)")
    ap.add_argument("--chunk", type=number_above(0.0), default=1.0, help="chunk length in seconds (default 1)")
    ap.add_argument("--floor", type=whole_number(0), metavar="K", default=0,
                    help="the class's floor instead: the least CPU of K feeds of each chunk, on and off in turn "
                         "(see above; --pairs is then not used)")
    a = ap.parse_args(argv)
    if a.floor:
        on, off, share = class_floor(a.seconds, a.floor, a.chunk)
        print(f"class on {on:,.0f}x, off {off:,.0f}x real time (cpu, each chunk's least of {a.floor}); the class's "
              f"share {share:.1%} ({a.chunk:g} s chunks, load {os.getloadavg()[0]:.1f})")
        return 0
    on, off, share = class_share(a.seconds, a.pairs, a.chunk)
    print(f"class on {on:,.0f}x, off {off:,.0f}x real time (cpu); the class's share {share:.1%} "
          f"({a.pairs} pairs, {a.chunk:g} s chunks, load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
