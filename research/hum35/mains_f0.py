"""Where the caller leg's voice-active frames have a mains F0, inside and outside the caller's
labelled phrases (raw features of whole calls, the shipped analyzer's voice activity).

    PYTHONPATH=. python research/hum35/mains_f0.py DIR [--noise hum] [--limit N]

Per line noise and rate: voice-active seconds in / out of the caller's phrases; of them, the
seconds whose F0 is a mains frequency (tones.mains_hz within mains_tolerance) and how far over the
noise floor they stand; the F0s found over hum out of the phrases (histogram).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

from monitor.analysis.analyzer import AnalyzerConfig, _Layout, _levels, _whole_raw
from monitor.dsp.energy import floor_margin_db, peak_level, voice_activity
from dataclasses import replace

from monitor.dsp.tones import ToneParams, mains_hum
from tools import evaluate as ev
from tools.background_talk import inside, label_spans


def caller_frames(job, cfg: AnalyzerConfig) -> tuple:
    """The caller leg's raw features of the whole call, and its layout, energy, noise floor,
    frame-level peak and voice activity: (raw, lay, rate, energy_db, floor, level, active)."""
    x, rate = sf.read(job.path, dtype="float32", always_2d=True)
    x = np.ascontiguousarray(x[:, job.caller_channel])
    lay = _Layout.make(rate, cfg)
    raw = _whole_raw(x, lay, cfg)
    e = raw["energy_db"]
    _, floor, _, _ = _levels(e, cfg)
    level = peak_level(e, cfg.vad)
    return raw, lay, rate, e, floor, level, voice_activity(e, floor, raw["strength"], cfg.vad, level)


def mains(f0: np.ndarray, params: ToneParams) -> np.ndarray:
    return np.any(np.abs(f0[:, None] - np.asarray(params.mains_hz)) <= params.mains_tolerance * f0[:, None], axis=1)


T = ToneParams()
VARIANTS = {"as built": T, "harmonics 1": replace(T, hum_harmonics=1), "reach 20": replace(T, hum_reach_frames=20),
            "floor 3 dB": replace(T, hum_floor_db=3.0), "share 0.6": replace(T, hum_min_share=0.6)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--split", default="tune")
    ap.add_argument("--noise", default=None)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    cfg = AnalyzerConfig()
    tp = cfg.tones
    tot: dict[tuple, float] = defaultdict(float)
    hist: Counter = Counter()
    fine: Counter = Counter()
    n = 0
    for job in ev.load_jobs(a.dir, a.split):
        c = job.condition
        if a.noise and c.get("noise") != a.noise:
            continue
        n += 1
        if a.limit and n > a.limit:
            break
        label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
        raw, lay, rate, e, floor, vlevel, active = caller_frames(job, cfg)
        t = (np.arange(len(e)) * lay.hop + lay.win / 2) / rate
        ph = inside(t, label_spans(label)["caller_phrases"])
        m = mains(raw["f0"], tp) & active
        over = e - floor
        key = (c.get("noise"), rate)
        for where, sel in (("in", ph), ("out", ~ph)):
            tot[key + (where, "active")] += np.count_nonzero(active & sel) / 100
            tot[key + (where, "mains")] += np.count_nonzero(m & sel) / 100
            tot[key + (where, "mains<3dB")] += np.count_nonzero(m & sel & (over < 3)) / 100
            tot[key + (where, "mains<6dB")] += np.count_nonzero(m & sel & (over < 6)) / 100
        for name, tpv in VARIANTS.items():
            hum = mains_hum(raw["f0"], e, floor, tpv)
            kept = voice_activity(e, floor, raw["strength"], cfg.vad, vlevel, None, hum)
            for where, sel in (("in", ph), ("out", ~ph)):
                tot[key + (where, name)] += np.count_nonzero(active & ~kept & sel) / 100
                tot[key + (where, name + "+")] += np.count_nonzero(kept & ~active & sel) / 100
        if c.get("noise") == "hum":
            f = raw["f0"][active & ~ph]
            hist.update(np.round(f[np.isfinite(f)] / 5) * 5)
            if label["line"]["mains_hz"] == 50.0:
                fine.update(np.round(f[np.isfinite(f) & (f > 140)]))
    keys = sorted({k[:2] for k in tot}, key=str)
    print("noise rate | active s in / out | mains-F0 s in / out | mains-F0 <3 dB over floor in / out | <6 dB in / out")
    for k in keys:
        g = lambda w, s: tot[k + (w, s)]
        print(f"{str(k[0]):7} {k[1]:5} | {g('in','active'):7.0f} / {g('out','active'):6.0f} | {g('in','mains'):6.1f} / "
              f"{g('out','mains'):6.1f} | {g('in','mains<3dB'):6.1f} / {g('out','mains<3dB'):6.1f} | "
              f"{g('in','mains<6dB'):6.1f} / {g('out','mains<6dB'):6.1f}")
    print("voice-active seconds the hum test takes in / out of the caller's phrases (and adds, bridged):")
    for k in keys:
        print(f"{str(k[0]):7} {k[1]:5} | " + "  ".join(
            f"{name}: {tot[k + ('in', name)]:.1f} / {tot[k + ('out', name)]:.1f} (+{tot[k + ('in', name + '+')] + tot[k + ('out', name + '+')]:.1f})"
            for name in VARIANTS))
    if fine:
        print("F0 of active frames out of phrases over 50 Hz hum, above 140 Hz (1 Hz bins, s):")
        print("  ".join(f"{int(k)}:{v/100:.1f}" for k, v in sorted(fine.items()) if v >= 20))
    if hist:
        print("F0 of active frames out of phrases over hum (5 Hz bins, s):")
        print("  ".join(f"{int(k)}:{v/100:.0f}" for k, v in sorted(hist.items()) if v >= 50))


if __name__ == "__main__":
    main()
