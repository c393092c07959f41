"""Seconds of call-progress tones heard as speech, and what the tone test costs held vowels.

    PYTHONPATH=. python research/tones/measure.py tones [--baresip DIR]      # per tone, 16/8 kHz, clean/noisy/G.711
    PYTHONPATH=. python research/tones/measure.py vowels BREATHING_DIR        # the shared held vowels (*vowel*.flac)

Each row: speech seconds and syllable nuclei with the tone test on, and off
(``AnalyzerConfig(tones=ToneParams(enabled=False))``, the analyzer before it). ``noisy``: white noise
20 dB under the tone's level; ``g711``: through mu-law and back (sox).
"""
from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from monitor.analysis.analyzer import AnalyzerConfig, analyze_signal
from monitor.dsp.resample import Resampler
from monitor.dsp.tones import ToneParams

OFF = AnalyzerConfig(tones=ToneParams(enabled=False))
TONES = {"us_ringback": ((440, 480), 2, 4), "eu_ringback": ((425,), 1, 4), "uk_ringback": ((400, 450), 0.4, 0.2),
         "us_busy": ((480, 620), 0.5, 0.5), "dtmf_5": ((770, 1336), 0.1, 0.1), "dialtone": ((350, 440), 10, 0)}
BARESIP = ("ring", "ringback", "busy", "callwaiting")


def load(path: Path, rate: int) -> np.ndarray:
    x, r = sf.read(str(path), dtype="float32", always_2d=True)
    x = x[:, 0]
    return x if r == rate else Resampler(r, rate, 1).process(x[:, None], final=True)[:, 0]


def tone(freqs, on: float, off: float, seconds: float, rate: int, level: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs) * level / len(freqs)
    return (x * ((t % (on + off)) < on)).astype(np.float32)


def g711(x: np.ndarray, rate: int) -> np.ndarray:
    enc = subprocess.run(["sox", "-t", "f32", "-r", str(rate), "-c", "1", "-", "-t", "ul", "-"], input=x.tobytes(),
                         capture_output=True, check=True).stdout
    dec = subprocess.run(["sox", "-t", "ul", "-r", str(rate), "-c", "1", "-", "-t", "f32", "-"], input=enc,
                         capture_output=True, check=True).stdout
    return np.frombuffer(dec, np.float32).copy()


def noisy(x: np.ndarray, snr_db: float = 20.0) -> np.ndarray:
    p = np.mean(x[x != 0] ** 2)
    return (x + np.random.default_rng(0).normal(0, np.sqrt(p / 10 ** (snr_db / 10)), len(x))).astype(np.float32)


def row(name: str, x: np.ndarray, rate: int) -> str:
    on, off = analyze_signal(x, rate), analyze_signal(x, rate, OFF)
    return (f"{rate:5d} {name:32s} {len(x) / rate:5.1f} s  speech {off.speech.sum() / 100:5.2f} -> "
            f"{on.speech.sum() / 100:5.2f} s  nuclei {off.nucleus.sum():3d} -> {on.nucleus.sum():3d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("tones", "vowels"))
    ap.add_argument("folder", nargs="?", help="vowels: the shared breathing recordings' folder")
    ap.add_argument("--baresip", default="/usr/share/baresip", help="baresip's sounds (Debian's baresip-core)")
    a = ap.parse_args()
    for rate in (16000, 8000):
        if a.what == "tones":
            sources = [(n, tone(*spec, 10, rate)) for n, spec in TONES.items()]
            sources += [(f"baresip_{n}", load(Path(a.baresip) / f"{n}.wav", rate)) for n in BARESIP]
            for name, x in sources:
                for var, y in (("clean", x), ("noisy", noisy(x)), ("g711", g711(x, rate))):
                    print(row(f"{name} {var}", y, rate), flush=True)
        else:
            for p in sorted(Path(a.folder).glob("*vowel*.flac")):
                print(row(p.name, load(p, rate), rate), flush=True)


if __name__ == "__main__":
    main()
