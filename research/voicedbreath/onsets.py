"""Each breath onset the sound class misses (tools.train_sound_class's onset figure), by kind.

    PYTHONPATH=. python research/voicedbreath/onsets.py <the shared data folder> [train|test] [KEY=VALUE ...]

For each breathing recording of the side: its reference onsets (energy events) matched within
100 ms; for every missed one, the kind: "early" (inside a breath that began before it), "late" (a
breath starts later inside the reference event: with what lies between, by class and how many
of those frames are under the audible bounds), or "no breath" (the class over the event), with the
event's peak level (dBFS), its level under the recording's peak, and its mean periodicity.
KEY=VALUE: SoundClassParams overrides, as research/onset/fig.py.
"""
import dataclasses
import sys
from collections import Counter
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
from monitor.dsp.runs import runs
from monitor.dsp.sound_class import BREATH, CLASS_NAMES, COUGH, SPEECH
from tools import train_sound_class as T


def main(shared: Path, side: str, overrides: dict) -> None:
    cfg = dataclasses.replace(A.WITH_SOUND_CLASS, sound=dataclasses.replace(A.WITH_SOUND_CLASS.sound, **overrides))
    clips = [c for c in T.breathing_clips(shared / "breathing") if c.train == (side == "train")
             and c.kind.startswith("breathing")]
    kinds, good = Counter(), 0
    for c in clips:
        f = A.analyze_signal(c.x, 16000, cfg)
        sound, e = f.sound, f.energy_db
        ref, ref_end = T.energy_events(c.x)
        starts, _ = runs(sound == BREATH)
        err = np.abs(ref[:, None] - starts[None, :]).min(axis=1) if len(starts) else np.full(len(ref), 999)
        ok = err <= 10
        good += ok.sum() >= 0.8 * len(ok)
        peak = np.percentile(e, 99)
        print(f"{c.name} {c.kind}: {ok.sum()} of {len(ok)} {'MET' if ok.sum() >= 0.8 * len(ok) else ''}"
              f" (peak {peak:.0f} dBFS)")
        for r, end, hit, d in zip(ref, ref_end, ok, err):
            if hit:
                continue
            ev = sound[r:end]
            lvl = e[r:end].max()
            if sound[r] == BREATH and r > 0 and sound[r - 1] == BREATH:
                kind = "early"
            elif ((starts > r) & (starts < end)).any():
                s = starts[(starts > r) & (starts < end)][0]
                gap = Counter(CLASS_NAMES[k] for k in sound[r:s])
                kind = "late:" + max(gap, key=gap.get)
                kind += f" (+{(s - r) * 10} ms; {dict(gap)}; gap level max {e[r:s].max():.0f} dBFS)"
            else:
                share = {CLASS_NAMES[k]: round(float((ev == k).mean()), 2) for k in range(4) if (ev == k).any()}
                kind = ("no breath: " + ("speech" if (ev == SPEECH).mean() > 0.5 else "cough" if (ev == COUGH).any()
                                         else "silence" if not (ev == SPEECH).any() else "some speech")
                        + f" {share}")
            kinds[kind.split(" (")[0].split(" {")[0]] += 1
            print(f"   at {r / 100:6.2f}-{end / 100:6.2f} s  max {lvl:5.1f} dBFS ({peak - lvl:4.1f} under)  "
                  f"err {d * 10 if d < 999 else 'inf'} ms  {kind}")
    print(f"recordings met: {good} of {len(clips)}; missed onsets by kind: {dict(kinds)}")


if __name__ == "__main__":
    over = {}
    for arg in sys.argv[3:]:
        k, v = arg.split("=")
        over[k] = float(v) if "." in v else int(v)
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "train", over)
