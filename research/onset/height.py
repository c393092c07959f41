"""The syllables in running speech that the model's lean would take, by their height over the noise floor.

    PYTHONPATH=. python research/onset/height.py <the shared data folder>

For the training speakers' breathing and coughs, the training-side real speech clean and over hum,
babble and pink noise at 5-20 dB (``train_sound_class.noisy_speech``, seed 99): each nucleus (the
running-speech lean off) with its vowel's lean (``syllables._vowel_lean``), whether it stands in
running speech (50 or more periodic frames within 950 ms each side) and its intensity over the
noise floor; the nuclei a lean of -1 would take, by that height.
"""
import dataclasses
import sys
from pathlib import Path
import numpy as np
import monitor.analysis.analyzer as A
from monitor.dsp.syllables import _vowel_lean
from tools import train_sound_class as T

_sc, _seen = A.sound_classes, []
def _capture(*a, **k):
    out = _sc(*a, **k); _seen.append((a[2], a[3])); return out
A.sound_classes = _capture
cfg = dataclasses.replace(A.WITH_SOUND_CLASS, syllables=dataclasses.replace(A.WITH_SOUND_CLASS.syllables, running_vowel_lean=float("inf")))

def nuc(x):
    _seen.clear()
    f = A.analyze_signal(x, 16000, cfg)
    scores, strength = _seen[0]
    peaks = np.flatnonzero(f.nucleus)
    periodic = strength >= 0.45
    count = np.r_[0, np.cumsum(periodic)]
    around = count[np.minimum(peaks + 96, len(count) - 1)] - count[np.maximum(peaks - 95, 0)]
    lean = _vowel_lean(peaks, periodic, scores, 25)
    snr = f.intensity_db[peaks] - f.floor_db[peaks]
    return lean, around >= 50, snr

if __name__ == "__main__":
    shared = Path(sys.argv[1])
    rows = {}
    for c in T.breathing_clips(shared / "breathing"):
        if c.train and c.kind != "vowel-a":
            rows.setdefault(c.kind, []).append(nuc(c.x))
    sp = [c for c in T.speech_clips() if c.train]
    for c in sp:
        rows.setdefault("speech", []).append(nuc(c.x))
    rng = np.random.default_rng(99)
    for kind in ("hum50", "babble", "pink"):
        for x in T.noisy_speech(sp, (kind,), (5.0, 20.0), rng):
            rows.setdefault("speech+" + kind, []).append(nuc(x))
    for k, v in rows.items():
        lean = np.concatenate([a[0] for a in v]); run = np.concatenate([a[1] for a in v]); snr = np.concatenate([a[2] for a in v])
        r = run
        print(f"{k:18s} n={len(lean)} running={r.sum()}  lean<-1 running: {np.sum(r & (lean < -1))}")
        for thr in (20, 25, 30, 35, 40):
            print(f"    snr>={thr}: running & lean<-1 & snr: {np.sum(r & (lean < -1) & (snr >= thr))}", end="")
        print()
        if r.sum():
            print("    snr pct 5/25/50/75/95 of running:", np.percentile(snr[r], [5, 25, 50, 75, 95]).round(1),
                  " of running lean<-1, min / median / max:", np.percentile(snr[r & (lean < -1)], [0, 50, 100]).round(1) if np.sum(r & (lean < -1)) else "-")
