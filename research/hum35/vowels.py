"""The sustained vowels (and the real speech) the hum test takes: per clip, the share of frames
that are speech with the test off and on, and the F0 of the frames it takes.

    PYTHONPATH=. python research/hum35/vowels.py <the shared data folder> [vowel-a|speech]
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from monitor.analysis.analyzer import WITH_SOUND_CLASS, analyze_signal
from monitor.dsp.energy import peak_level
from monitor.dsp.tones import ToneParams
from tools.train_sound_class import breathing_clips, speech_clips

OFF = replace(WITH_SOUND_CLASS, tones=ToneParams(hum=False))


def main() -> None:
    kind = sys.argv[2] if len(sys.argv) > 2 else "vowel-a"
    clips = speech_clips() if kind == "speech" else [c for c in breathing_clips(Path(sys.argv[1]) / "breathing")
                                                     if c.kind == kind]
    tot = np.zeros(3)
    for c in clips:
        off = analyze_signal(c.x, 16000, OFF)
        on = analyze_signal(c.x, 16000)
        lost = off.speech & ~on.speech
        tot += (len(on), off.speech.sum(), on.speech.sum())
        if lost.sum() or kind != "speech":
            f0 = off.f0_hz[lost]
            f0 = f0[np.isfinite(f0)]
            med = f"{np.median(f0):6.1f}" if len(f0) else "     -"
            under = (peak_level(off.energy_db, WITH_SOUND_CLASS.vad) - off.energy_db)[lost]
            med += f", under the peak {np.percentile(under, 10):4.1f} / {np.median(under):4.1f} dB" if len(under) else ""
            print(f"{c.name:44} {'train' if c.train else 'test ':5} {len(on) / 100:6.1f} s  speech off {off.speech.mean():5.1%}"
                  f"  on {on.speech.mean():5.1%}  lost {lost.sum() / 100:5.1f} s, F0 median {med}")
    print(f"all: {tot[0] / 100:.0f} s, speech off {tot[1] / tot[0]:.1%} on {tot[2] / tot[0]:.1%}")


if __name__ == "__main__":
    main()
