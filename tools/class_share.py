"""The sound class's share of the streaming analyzer's CPU time, with the class on and off
interleaved in one process (less disturbed by other work on the machine than ``tools.bench
analyzer``'s best-of-three timings taken apart).

    OMP_NUM_THREADS=1 python -m tools.class_share [--seconds 300] [--pairs 8] [--chunk 1.0]

Prints the analyzer's x real time (process CPU) with and without the class (medians over the
pairs) and the median of the pairs' shares ``1 - cpu(off) / cpu(on)``. To compare two checkouts,
run it in each, alternately, several times.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from monitor.analysis.analyzer import WITH_SOUND_CLASS, WITHOUT_SOUND_CLASS  # noqa: E402
from tools.bench import stream_frames  # noqa: E402
from tools.bench_audio import long_speech  # noqa: E402


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.class_share", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=300.0, help="seconds of speech (default 300)")
    ap.add_argument("--pairs", type=int, default=8, help="on/off pairs (default 8)")
    ap.add_argument("--chunk", type=float, default=1.0, help="chunk length in seconds (default 1)")
    a = ap.parse_args(argv)
    on, off, share = class_share(a.seconds, a.pairs, a.chunk)
    print(f"class on {on:,.0f}x, off {off:,.0f}x real time (cpu); the class's share {share:.1%} "
          f"({a.pairs} pairs, {a.chunk:g} s chunks, load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
