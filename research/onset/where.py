"""Where the sound class misses breath onsets, and where the syllables on breathing and coughs sit.

    PYTHONPATH=. python research/onset/where.py <the shared data folder> [train|test]

Onsets: each reference onset (``train_sound_class.energy_events``) not matched within 100 ms by a
breath event's start, as "early" (inside a breath that began before it), "late" (a breath starts
later inside the reference event) or "no breath" (the class over the event). Nuclei: for each
syllable on breathing, coughs and real speech, the mean lean over its vowel
(``syllables._vowel_lean``) and the periodic frames within 950 ms each side (percentiles by kind).
"""
import sys
from collections import Counter
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
from monitor.dsp.runs import runs
from monitor.dsp.sound_class import BREATH, COUGH, SPEECH
from monitor.dsp.syllables import _vowel_lean
from tools import train_sound_class as T

_sound_classes, _seen = A.sound_classes, []


def _capture(*args, **kw):
    """The analyzer's sound_classes, its inputs and output kept (a whole signal: one call)."""
    out = _sound_classes(*args, **kw)
    _seen.append((args[2], args[3], out))  # scores, strength, sound
    return out


A.sound_classes = _capture


def analyse(x: np.ndarray):
    _seen.clear()
    f = A.analyze_signal(x, 16000, A.WITH_SOUND_CLASS)
    return f, *_seen[0]


def main(shared: Path, side: str) -> None:
    train = side == "train"
    breath = [c for c in T.breathing_clips(shared / "breathing") if c.train == train and c.kind != "vowel-a"]
    clips = breath + [c for c in T.speech_clips() if c.train == train]
    onsets, nuclei = Counter(), {}
    for c in clips:
        f, scores, strength, sound = analyse(c.x)
        if c.kind.startswith("breathing"):
            ref, ref_end = T.energy_events(c.x)
            starts, _ = runs(sound == BREATH)
            for r, e in zip(ref, ref_end):
                if len(starts) and np.abs(starts - r).min() <= 10:
                    onsets["matched"] += 1
                elif sound[r] == BREATH:
                    onsets["early"] += 1
                elif ((starts > r) & (starts < e)).any():
                    onsets["late"] += 1
                else:
                    ev = sound[r:e]
                    onsets["no breath: " + ("speech" if (ev == SPEECH).mean() > 0.5 else
                                            "cough" if (ev == COUGH).any() else
                                            "silence" if not (ev == SPEECH).any() else "some speech")] += 1
        peaks = np.flatnonzero(f.nucleus)
        if len(peaks):
            periodic = strength >= 0.45
            count = np.r_[0, np.cumsum(periodic)]
            around = count[np.minimum(peaks + 96, len(count) - 1)] - count[np.maximum(peaks - 95, 0)]
            lean = _vowel_lean(peaks, periodic, scores, 25)
            k = nuclei.setdefault(c.kind, [[], []])
            k[0].extend(lean)
            k[1].extend(around)
    print("onsets:", dict(onsets))
    for kind, (lean, around) in sorted(nuclei.items()):
        print(f"{kind:18s} {len(lean):4d} nuclei; lean 5/25/50/75/95 %: "
              f"{np.percentile(lean, [5, 25, 50, 75, 95]).round(1)}; periodic frames within 950 ms "
              f"5/50/95 %: {np.percentile(around, [5, 50, 95]).round(0)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "train")
