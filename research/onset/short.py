"""The recordings one onset short of the 80 % the onset figure asks, and their missed onsets.

    PYTHONPATH=. python research/onset/short.py <the shared data folder> [train|test]

For each breathing recording of the side: reference onsets matched within 100 ms of all; for the
recordings one onset short, each missed reference event with the class over it (shares of
silence / speech / breath / cough), its peak level against the recording's, its mean periodicity
and the model's mean scores (speech / breath / cough).
"""
import sys
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
from monitor.dsp.runs import runs
from monitor.dsp.sound_class import BREATH, COUGH, SILENCE, SPEECH
from tools import train_sound_class as T

_sound_classes, _seen = A.sound_classes, []


def _capture(*args, **kw):
    """The analyzer's sound_classes, its scores, strength and output kept (a whole signal: one call)."""
    out = _sound_classes(*args, **kw)
    _seen.append((args[2], args[3], out))
    return out


A.sound_classes = _capture


def misses(c: T.Clip) -> tuple[int, list[str]]:
    _seen.clear()
    f = A.analyze_signal(c.x, 16000, A.WITH_SOUND_CLASS)
    scores, strength, sound = _seen[0]
    ref, ref_end = T.energy_events(c.x)
    det, _ = runs(sound == BREATH)
    lines, hits = [], 0
    for a, b in zip(ref, ref_end):
        err = np.abs(det - a).min() * 0.01 if len(det) else np.inf
        if err <= T.ONSET_TOL_S:
            hits += 1
            continue
        share = " ".join(f"{k} {np.mean(sound[a:b] == v):.2f}" for k, v in
                         (("silence", SILENCE), ("speech", SPEECH), ("breath", BREATH), ("cough", COUGH)))
        sc = scores[a:b].mean(axis=0)
        lines.append(f"  {a / 100:6.2f}-{b / 100:6.2f} s off by {err:5.2f} s  {share}  peak "
                     f"{np.max(f.energy_db[a:b]):6.1f} dBFS (recording {np.max(f.energy_db):5.1f})  periodicity "
                     f"{np.mean(strength[a:b]):.2f}  scores {sc[0]:.1f} / {sc[1]:.1f} / {sc[2]:.1f}")
    return hits, lines


def main(shared: Path, side: str) -> None:
    for c in T.breathing_clips(shared / "breathing"):
        if c.train != (side == "train") or not c.kind.startswith("breathing"):
            continue
        hits, lines = misses(c)
        total = hits + len(lines)
        short = int(np.ceil(0.8 * total)) - hits
        print(f"{c.name:28s} {hits:3d} of {total:3d}" + ("" if short > 0 else "  ok"))
        if short == 1:
            print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "train")
