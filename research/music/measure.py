"""Frames the music test takes from the sound (silence with it, a sound without it), per file.

    PYTHONPATH=. python research/music/measure.py GROUP FILE...

Every channel of every file, at 16 kHz and at 8 kHz (resampled), through the whole-signal
analyzer with the music test on and off; prints, per file and rate, the frames of sound with the
test off, and how many of them the test takes as music, then the group's totals.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from monitor.analysis.analyzer import AnalyzerConfig, analyze_signal
from monitor.dsp.music import MusicParams
from monitor.dsp.sound_class import SILENCE

ON = AnalyzerConfig()
OFF = replace(ON, music=MusicParams(enabled=False))


def taken(x: np.ndarray, rate: int) -> tuple[int, int]:
    """Frames of sound without the music test, and those of them silent with it."""
    off = analyze_signal(x, rate, OFF).sound != SILENCE
    on = analyze_signal(x, rate, ON).sound != SILENCE
    return int(np.count_nonzero(off)), int(np.count_nonzero(off & ~on))


def main() -> None:
    group, paths = sys.argv[1], sys.argv[2:]
    total = np.zeros(2, np.int64)
    for path in paths:
        x, r = sf.read(path, dtype="float32", always_2d=True)
        for c in range(x.shape[1]):
            y = x[:, c] if r in (8000, 16000) else resample_poly(x[:, c], 16000, r).astype(np.float32)
            r16 = r if r in (8000, 16000) else 16000
            for rate in (16000, 8000):
                z = y if rate == r16 else resample_poly(y, rate, r16).astype(np.float32)
                if rate > r16:
                    continue
                sound, music = taken(z, rate)
                total += (sound, music)
                print(f"{path.split('/')[-1]}[{c}]@{rate // 1000}k sound {sound} music {music}"
                      f" ({music / max(sound, 1):.1%})", flush=True)
    print(f"== {group}: {len(paths)} files, frames of sound {total[0]}, taken as music {total[1]} "
          f"({total[1] / max(total[0], 1):.2%})")


if __name__ == "__main__":
    main()
