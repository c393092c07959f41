"""What the hum test takes of a real reader's speech over a line noise at a low SNR: the 61 real
recordings (speech at -30 dBFS, 1 s of the line before, 0.5 s after) mixed with the corpus's
mains hum (50 or 60 Hz, ``tools.make_fixtures.hum``), pink or white noise; the frames the test
takes on the mixture that the clean recording's analysis calls speech, and, for those, how far
the clean speech stands above the noise in the same frame (the noise's own analysis). And the
clean recordings cut to open in their first speech frame (a stream that opens in the caller's
speech, before the floor is known): what the test takes in their first 4 s.

    PYTHONPATH=. python research/hum/real_speech.py [RATE]
"""

from __future__ import annotations

import csv
import sys
from math import gcd

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from monitor.analysis.analyzer import analyze_signal
from monitor.analysis.cue_windows import floor_hum
from tools.make_fixtures import colored_noise, hum

REAL = "audio_fixtures/real/"
NOISES = ("hum 60 Hz", "hum 50 Hz", "pink", "white")
SNRS_DB = (3, 6, 10, 15)


def load(path: str, rate: int) -> np.ndarray:
    x, r = sf.read(REAL + path, dtype="float32", always_2d=True)
    g = gcd(int(r), rate)
    y = resample_poly(x[:, 0], rate // g, int(r) // g)
    y = np.concatenate([np.zeros(rate), y, np.zeros(rate // 2)])
    voiced = np.abs(y) > 0.01 * np.abs(y).max()
    return y * 10 ** (-30 / 20) / np.sqrt(np.mean(y[voiced] ** 2))


def noise(kind: str, n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    if kind.startswith("hum"):
        x = hum(int(n * 16000 / rate) + 1, float(kind.split()[1]))  # made at 16 kHz
        x = resample_poly(x, rate, 16000)[:n] if rate != 16000 else x[:n]
    elif kind == "pink":
        x = colored_noise(rng, n, 1.0)
    else:
        x = rng.standard_normal(n)
    return x / np.sqrt(np.mean(x ** 2))


def main() -> None:
    rate = int(sys.argv[1]) if len(sys.argv) > 1 else 16000
    rng = np.random.default_rng(1)
    rows = list(csv.DictReader(open(REAL + "manifest.csv", encoding="utf-8")))
    speech, taken, over = {}, {}, {}
    for row in rows:
        x = load(row["path"], rate)
        clean = analyze_signal(x.astype(np.float32), rate)
        for kind in NOISES:
            nz = noise(kind, len(x), rate, rng)
            for snr in SNRS_DB:
                line = (nz * 10 ** ((-30 - snr) / 20)).astype(np.float32)
                f, alone = analyze_signal((x + line).astype(np.float32), rate), analyze_signal(line, rate)
                m = min(len(clean), len(f), len(alone))
                got = floor_hum(f[:m], 3.0, 0.2, 1.0) & clean.speech[:m]
                key = (kind, snr)
                speech[key] = speech.get(key, 0) + int(clean.speech[:m].sum())
                taken[key] = taken.get(key, 0) + int(got.sum())
                over.setdefault(key, []).append((clean.energy_db[:m] - alone.energy_db[:m])[got])
        first = int(np.flatnonzero(clean.speech)[0]) if clean.speech.any() else 0  # a stream opening in speech
        opened = analyze_signal(x[int(clean.t[first] * rate):].astype(np.float32), rate)[:400]
        speech["opens"] = speech.get("opens", 0) + int(opened.speech.sum())
        taken["opens"] = taken.get("opens", 0) + int(floor_hum(opened, 3.0, 0.2, 1.0).sum())
    print(f"{rate} Hz: noise, SNR | clean speech frames taken | their speech over the noise, dB: median, share above 0")
    print(f"a stream that opens in the speech, its first 4 s: {taken.pop('opens')} of {speech.pop('opens')} speech frames taken")
    for key in speech:
        o = np.concatenate(over[key])
        level = f"{np.median(o):6.1f} {np.mean(o > 0):5.2f}" if len(o) else "     -     -"
        print(f"{key[0]:<10} {key[1]:>2} dB | {taken[key]:5d} of {speech[key]} ({100 * taken[key] / speech[key]:4.1f} %) | {level}")


if __name__ == "__main__":
    main()
