"""What the frames of the breathing recordings taken for speech are (training side by default).

    PYTHONPATH=. python research/breath3/shallow.py <the shared data folder> [train|test] [KIND]

Per recording of KIND (default breathing-shallow): its length, speech frames, and over those frames
the periodicity (strength: median, share >= 0.6), the model's mean lean (speech less the better
of breath and cough, smoothed as the class does), the level under the recent peak, and the speech
runs' lengths (how many runs, how many touch a breath or cough).
"""
import sys
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
from monitor.dsp.filters import columns_mean
from monitor.dsp.runs import runs
from monitor.dsp.sound_class import BREATH, COUGH, SPEECH
from tools import train_sound_class as T

_sound_classes, _seen = A.sound_classes, []


def _capture(*args, **kw):
    _seen.append((args[2], args[3], args[5] if len(args) > 5 else kw.get("under_peak_db")))
    return _sound_classes(*args, **kw)


A.sound_classes = _capture


def main(shared: Path, side: str, kind: str) -> None:
    clips = [c for c in T.breathing_clips(shared / "breathing") if c.train == (side == "train") and c.kind == kind]
    total = np.zeros(2)
    for c in clips:
        _seen.clear()
        f = A.analyze_signal(c.x, 16000, A.WITH_SOUND_CLASS)
        scores, strength, under = _seen[0]
        sm = columns_mean(scores, A.WITH_SOUND_CLASS.sound.score_frames)
        lean = sm[:, 0] - np.maximum(sm[:, 1], sm[:, 2] - A.WITH_SOUND_CLASS.sound.cough_margin)
        sp = f.sound == SPEECH
        total += (sp.sum(), len(sp))
        if not sp.any():
            print(f"{c.name:40s} {len(sp) / 100:6.1f} s  speech 0")
            continue
        s, e = runs(sp)
        other = (f.sound == BREATH) | (f.sound == COUGH)
        touch = sum(bool(other[max(a - 1, 0)] or other[min(b, len(sp) - 1)]) for a, b in zip(s, e))
        print(f"{c.name:40s} {len(sp) / 100:6.1f} s  speech {sp.sum():4d} fr ({100 * sp.mean():4.1f} %) "
              f"strength med {np.median(strength[sp]):.2f} >=0.6 {np.mean(strength[sp] >= 0.6):.2f}  "
              f"lean med {np.median(lean[sp]):5.2f} (<0: {np.mean(lean[sp] < 0):.2f})  under peak med "
              f"{np.median(under[sp]):5.1f} dB  runs {len(s)} (touch br/co {touch}), lengths {sorted((e - s).tolist())}")
    print(f"total speech {100 * total[0] / total[1]:.2f} %")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "train",
         sys.argv[3] if len(sys.argv) > 3 else "breathing-shallow")
