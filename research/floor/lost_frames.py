"""Where a quiet copy loses its speech: per gain, the original's speech frames that the copy does
not take for speech, split by why (run it on the code to judge; main or a patch applied).

    PYTHONPATH=. python research/floor/lost_frames.py FILE [--channel 1] [--gains -10,-20,-30] [--min -85]

- ``class``: frames the copy's sound class hears (audible or voice-active at ``absolute_min_db``)
  and takes for a breath, a cough or silence;
- ``quiet``: frames the class never hears that the voice activity passes with its minimum at
  ``--min`` dBFS (what a minimum lowered for the voice activity alone could give back);
- ``neither``: the rest.

``--pitch``: also the copy's speech time with the pitch measured down to ``--min`` (the raw
stage's gate; the class then sees periodicity under -65 dBFS, which it was never trained on).
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import soundfile as sf

from monitor.analysis import analyzer as A
from monitor.dsp.energy import noise_floor_db, peak_level, voice_activity
from monitor.dsp.sound_class import audible_events


def masks(y: np.ndarray, rate: int, lowest: float) -> tuple[np.ndarray, np.ndarray]:
    """The frames the class hears, and the frames the voice activity passes down to ``lowest``."""
    cfg = A.WITH_SOUND_CLASS
    raw = A._whole_raw(y, A._Layout.make(rate, cfg), cfg)
    e = raw["energy_db"]
    floor, level = noise_floor_db(e, cfg.vad), peak_level(e, cfg.vad)
    heard = (voice_activity(e, floor, raw["strength"], cfg.vad, level)
             | audible_events(e, floor, level, cfg.vad.absolute_min_db, cfg.sound))
    low = dataclasses.replace(cfg.vad, absolute_min_db=lowest)
    return heard, voice_activity(e, floor, raw["strength"], low, level)


def with_pitch_down_to(y: np.ndarray, rate: int, lowest: float) -> np.ndarray:
    """The copy's speech with the raw stage's pitch gate at ``lowest`` (nothing else changed)."""
    cfg = A.WITH_SOUND_CLASS
    gate = dataclasses.replace(cfg, vad=dataclasses.replace(cfg.vad, absolute_min_db=lowest))
    raw_features = A._raw_features
    A._raw_features = lambda *args: raw_features(*args[:-1], gate)
    try:
        return A.analyze_signal(y, rate, cfg).speech
    finally:
        A._raw_features = raw_features


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--channel", type=int, default=1)
    ap.add_argument("--gains", default="-10,-20,-30")
    ap.add_argument("--min", type=float, default=-85.0, dest="lowest")
    ap.add_argument("--pitch", action="store_true")
    a = ap.parse_args()
    x, rate = sf.read(a.file, dtype="float32", always_2d=True)
    x = np.ascontiguousarray(x[:, min(a.channel, x.shape[1] - 1)])
    base = A.analyze_signal(x, rate, A.WITH_SOUND_CLASS).speech
    for gain in (float(g) for g in a.gains.split(",")):
        y = x * np.float32(10 ** (gain / 20))
        speech = A.analyze_signal(y, rate, A.WITH_SOUND_CLASS).speech
        heard, quiet = masks(y, rate, a.lowest)
        lost = base & ~speech
        share = {k: 100 * np.count_nonzero(m) / np.count_nonzero(base)
                 for k, m in (("lost", lost), ("class", lost & heard), ("quiet", lost & ~heard & quiet),
                              ("neither", lost & ~heard & ~quiet), ("gained", speech & ~base))}
        line = " ".join(f"{k} {v:.1f} %" for k, v in share.items())
        if a.pitch:
            pitched = with_pitch_down_to(y, rate, a.lowest)
            line += f"; pitch to {a.lowest:.0f}: speech {100 * (pitched.sum() - base.sum()) / base.sum():+.1f} %"
        print(f"{a.file.split('/')[-1]} {gain:+.0f} dB: {line}", flush=True)


if __name__ == "__main__":
    main()
