"""Which of the sound class's inputs does the band under 300 Hz spoil? (whole-signal analysis, the shipped model)

The training side's mixtures (as tools.train_sound_class makes them; the noisy lines from NOISY_SEED) at
16 kHz, with some of the class's inputs taken from the same mixture through a 255-tap FIR high-pass at
300 Hz: "level" (the level, noise floor and recent peak the class and its audible gate use; the voice
activity keeps the full band), "strength" (the pitch tracker's periodicity and F0, which feed the voice
activity too), "spec" (the spectral shape), "all" (the whole input), "orig" (none).

    PYTHONPATH=. python research/bandclass/ablate.py <the shared data folder> <count> orig,level,strength,all
"""
import sys
from pathlib import Path
import numpy as np
from scipy.signal import firwin
from monitor.analysis import analyzer as A
from monitor.dsp.energy import noise_floor_db_from, peak_level
from tools import train_sound_class as T

HP = firwin(255, 300.0, pass_zero=False, fs=16000)
STATE = {}
orig_whole, orig_sound = A._whole_raw, A._sound


def whole(x, lay, cfg):
    raw = orig_whole(x, lay, cfg)
    mode = STATE["mode"]
    if mode == "orig" or raw is None:
        return raw
    hp = np.convolve(x, HP, mode="same").astype(np.float32)
    rhp = orig_whole(hp, lay, cfg)
    if mode == "all":
        return rhp
    if "strength" in mode:
        raw["strength"], raw["f0"] = rhp["strength"], rhp["f0"]
    if "spec" in mode:
        raw["spec"] = rhp["spec"]
    STATE["band"] = rhp["energy_db"] if "level" in mode else None
    return raw


def sound(active, spec, spec_first, strength, energy, floor, level, cfg, rate, network, known=None):
    band = STATE.get("band")
    if band is not None and len(band) == len(energy):
        energy = band
        floor = noise_floor_db_from(band, 0, cfg.vad)
        level = peak_level(band, cfg.vad)
    return orig_sound(active, spec, spec_first, strength, energy, floor, level, cfg, rate, network, known)


A._whole_raw, A._sound = whole, sound
T.analyze_signal = A.analyze_signal
folder, count = Path(sys.argv[1]) / "breathing", int(sys.argv[2])
modes = sys.argv[3].split(",")
breath, speech = T.breathing_clips(folder), T.speech_clips()
tr_b, tr_s = [c for c in breath if c.train], [c for c in speech if c.train]
snippets = T.breath_snippets(tr_b)
lines = {"clean": T.mix(tr_s, snippets, np.random.default_rng(T.SEED), count)}
for k, (name, kinds) in enumerate(T.HELD_OUT_NOISES.items()):
    rng = np.random.default_rng([T.NOISY_SEED, k])
    lines[name] = T.mix(tr_s, snippets, rng, count, snr_db=(5.0, 20.0), noises=kinds)
for name, mixes in lines.items():
    cells = []
    for mode in modes:
        STATE.clear(); STATE["mode"] = mode
        h, m, f, _ = T.detection(mixes, "16k")
        cells.append(f"{mode} {100*h/max(h+m,1):5.1f}/{100*h/max(h+f,1):5.1f} ({h},{m},{f})")
    print(f"{name:6s} " + "  ".join(cells), flush=True)
