"""The music test's share of the analyzer's time on a 120 s call leg.

    OMP_NUM_THREADS=1 PYTHONPATH=. python research/music/cost.py [FILE] [--repeat N]

The caller's leg of FILE (default: the `normal` fixture call), its first 120 s, through the
streaming analyzer in 0.1 s chunks (as the daemon feeds it) and through the whole-signal one,
with the music test on and off, in turns; the least CPU time of each of N rounds. Then the CPU
time spent in the music test's own functions (partials, steady_and_changes, music_frames) within
the streaming analyzer, as a share of its whole time (the on/off difference is within the noise of
a shared machine).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from monitor.analysis import analyzer
from monitor.analysis.analyzer import AnalyzerConfig, StreamingAnalyzer, analyze_signal
from monitor.dsp.music import MusicParams

ROOT = Path(__file__).resolve().parents[2]
ON = AnalyzerConfig()
OFF = replace(ON, music=MusicParams(enabled=False))


def streamed(x: np.ndarray, rate: int, cfg: AnalyzerConfig) -> None:
    a = StreamingAnalyzer(rate, cfg)
    step = rate // 10
    for i in range(0, len(x), step):
        a.feed(x[i:i + step])
    a.flush()


def cpu(fn, *args) -> float:
    t = time.process_time()
    fn(*args)
    return time.process_time() - t


def own_share(x: np.ndarray, rate: int, rounds: int) -> tuple[float, float]:
    """The least CPU time of the streaming analyzer (music on) over ``rounds``, and the time
    its music functions took in that round."""
    spent = [0.0]
    for name in ("partials", "steady_and_changes", "music_frames"):
        def timed(*a, _fn=getattr(analyzer, name), **kw):
            c = time.process_time()
            out = _fn(*a, **kw)
            spent[0] += time.process_time() - c
            return out
        setattr(analyzer, name, timed)
    best = (np.inf, 0.0)
    for _ in range(rounds):
        spent[0] = 0.0
        total = cpu(streamed, x, rate, ON)
        best = min(best, (total, spent[0]))
    return best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("file", nargs="?", default=str(ROOT / "audio_fixtures/calls/normal_16k.wav"))
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    x, rate = sf.read(args.file, dtype="float32", always_2d=True)
    x = np.ascontiguousarray(x[:120 * rate, -1])
    for name, fn in (("streaming", streamed), ("whole", lambda y, r, c: analyze_signal(y, r, c))):
        fn(x, rate, ON)  # warm up (the model, the plans)
        best = {"on": np.inf, "off": np.inf}
        for _ in range(args.repeat):
            for key, cfg in (("on", ON), ("off", OFF)):
                best[key] = min(best[key], cpu(fn, x, rate, cfg))
        extra = best["on"] - best["off"]
        print(f"{name}: {len(x) / rate:.0f} s at {rate} Hz: with the music test {best['on']:.3f} s CPU, "
              f"without {best['off']:.3f} s: {extra * 1000:+.0f} ms ({extra / best['off']:+.1%})")
    total, own = own_share(x, rate, args.repeat)
    print(f"streaming, the music test's own functions: {own * 1000:.1f} ms of {total:.3f} s ({own / total:.1%})")


if __name__ == "__main__":
    main()
