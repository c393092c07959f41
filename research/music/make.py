"""Varied hold-music stretches for the music test: python research/music/make.py OUT_DIR

Each stretch is 30 s of synthetic music (numpy), mono 16 kHz, written as
``NAME.wav`` (clean, 16 kHz), ``NAME_tel.wav`` (300-3400 Hz band, 8 kHz, G.711 u-law through sox,
back to 16 kHz) and ``NAME_noisy.wav`` (the telephone one with white line noise 25 dB below it).
Levels vary from -18 to -30 dBFS. Kinds (tempo, timbre, accompaniment):

  piano_fast   piano-like decaying notes, 0.25 s, over held triads (140 bpm eighths)
  piano_slow   the same, 0.8 s notes, no chords
  organ        sustained organ notes (odd and even harmonics), 0.5 s, with a bass line
  strings      a string pad (sawtooth, 5.5 Hz vibrato +-0.3 semitone) of 1.5 s chords, melody on top
  pluck        Karplus-Strong plucked notes, 0.3 s, bass and drums (kick, hi-hat noise)
  flute        a sine melody with breathy noise and vibrato, legato 0.6 s notes
  pop          square-wave lead, bass, chords and drums at 120 bpm
  singer       a voice-like tone (ten harmonics), 0.8 s legato notes from C4 with a wide vibrato
               (5.5 Hz, +-0.5 semitone), over soft sustained chords of 2 s
  pad          a slow string pad alone: sawtooth chords of 3 s with vibrato (+-0.2 semitone), no melody
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

RATE = 16000
SCALE = np.array([0, 2, 4, 5, 7, 9, 11, 12])  # major scale, semitones


def hz(semitone: float) -> float:
    return 440.0 * 2 ** ((semitone - 9) / 12)  # semitone 0 = C4


def level(x: np.ndarray, db: float) -> np.ndarray:
    rms = np.sqrt(np.mean(x ** 2)) + 1e-12
    return x * 10 ** (db / 20) / rms


def tone(f: float, n: int, harmonics: list[float], decay: float | None, vib: float = 0.0) -> np.ndarray:
    t = np.arange(n) / RATE
    phase = 2 * np.pi * f * (t + vib * np.sin(2 * np.pi * 5.5 * t) / (2 * np.pi * 5.5) * np.log(2) / 12)
    out = sum(a * np.sin((h + 1) * phase) for h, a in enumerate(harmonics) if (h + 1) * f < RATE / 2)
    env = np.minimum(1.0, t / 0.01) * (np.exp(-t / decay) if decay else np.minimum(1.0, (n / RATE - t) / 0.03))
    return np.asarray(out) * env


def pluck(f: float, n: int, rng: np.random.Generator) -> np.ndarray:
    p = max(2, int(RATE / f))
    buf = rng.uniform(-1, 1, p)
    out = np.zeros(n)
    for i in range(0, n, p):  # Karplus-Strong, a period at a time
        k = min(p, n - i)
        out[i:i + k] = buf[:k]
        buf = 0.996 * 0.5 * (buf + np.roll(buf, -1))
    return out


def melody(s: float, note_s: float, voice, rng: np.random.Generator, octave: int = 0) -> np.ndarray:
    n = int(s * RATE)
    out = np.zeros(n)
    m = int(note_s * RATE)
    for i in range(0, n - m, m):
        out[i:i + m] += voice(hz(SCALE[rng.integers(len(SCALE))] + 12 * octave), m)
    return out


def chords(s: float, chord_s: float, voice) -> np.ndarray:
    n = int(s * RATE)
    out = np.zeros(n)
    m = int(chord_s * RATE)
    prog = [(0, 4, 7), (-3, 0, 4), (-7, -3, 0), (-5, -1, 2)]
    for k, i in enumerate(range(0, n - m, m)):
        for st in prog[k % 4]:
            out[i:i + m] += voice(hz(st - 12), m)
    return out


def bass(s: float, note_s: float, voice) -> np.ndarray:
    n = int(s * RATE)
    out = np.zeros(n)
    m = int(note_s * RATE)
    roots = [0, -3, -7, -5]
    for k, i in enumerate(range(0, n - m, m)):
        out[i:i + m] += voice(hz(roots[(k // 4) % 4] - 24), m)
    return out


def drums(s: float, beat_s: float, rng: np.random.Generator) -> np.ndarray:
    n = int(s * RATE)
    out = np.zeros(n)
    t = np.arange(int(0.15 * RATE)) / RATE
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t / 0.02)) * t) * np.exp(-t / 0.05)
    hat = sosfilt(butter(4, 5000, "high", fs=RATE, output="sos"), rng.normal(0, 1, len(t))) * np.exp(-t / 0.01)
    for k, i in enumerate(range(0, n - len(t), int(beat_s * RATE / 2))):
        out[i:i + len(t)] += kick if k % 2 == 0 else 0.3 * hat
    return out


def piece(kind: str, s: float, rng: np.random.Generator) -> np.ndarray:
    piano = lambda f, n: tone(f, n, [1, 0.5, 0.3, 0.15], 0.25)  # noqa: E731
    organ = lambda f, n: tone(f, n, [1, 0.7, 0.5, 0.4, 0.3, 0.2], None)  # noqa: E731
    saw = lambda f, n: tone(f, n, [1 / h for h in range(1, 12)], None, vib=0.3)  # noqa: E731
    square = lambda f, n: tone(f, n, [1, 0, 1 / 3, 0, 1 / 5, 0, 1 / 7], None)  # noqa: E731
    sine_b = lambda f, n: tone(f, n, [1, 0.3], None)  # noqa: E731
    if kind == "piano_fast":
        return melody(s, 0.25, piano, rng, 1) + 0.6 * chords(s, 2.0, lambda f, n: tone(f, n, [1, 0.3], 1.5))
    if kind == "piano_slow":
        return melody(s, 0.8, lambda f, n: tone(f, n, [1, 0.5, 0.3, 0.15], 0.6), rng)
    if kind == "organ":
        return melody(s, 0.5, organ, rng) + 0.7 * bass(s, 0.5, sine_b)
    if kind == "strings":
        return 0.5 * chords(s, 1.5, saw) + melody(s, 0.75, saw, rng, 1)
    if kind == "pluck":
        return (melody(s, 0.3, lambda f, n: pluck(f, n, rng), rng) + 0.8 * bass(s, 0.6, lambda f, n: pluck(f, n, rng))
                + 0.5 * drums(s, 0.6, rng))
    if kind == "flute":
        x = melody(s, 0.6, lambda f, n: tone(f, n, [1, 0.1], None, vib=0.2), rng, 1)
        return x + 0.05 * sosfilt(butter(2, [500, 3000], "band", fs=RATE, output="sos"), rng.normal(0, 1, len(x)))
    if kind == "singer":
        voice = lambda f, n: tone(f, n, [1, 0.8, 0.6, 0.5, 0.4, 0.5, 0.3, 0.2, 0.15, 0.1], None, vib=0.5)  # noqa: E731
        return melody(s, 0.8, voice, rng) + 0.3 * chords(s, 2.0, lambda f, n: tone(f, n, [1, 0.4, 0.2], None))
    if kind == "pad":
        return chords(s, 3.0, lambda f, n: tone(f, n, [1 / h for h in range(1, 12)], None, vib=0.2))
    if kind == "pop":
        return (melody(s, 0.25, square, rng) + 0.6 * bass(s, 0.5, sine_b) + 0.4 * chords(s, 2.0, organ)
                + 0.7 * drums(s, 0.5, rng))
    raise ValueError(kind)


KINDS = {"piano_fast": -24, "piano_slow": -18, "organ": -27, "strings": -22, "pluck": -30, "flute": -26, "pop": -20,
         "singer": -22, "pad": -26}


def telephone(x: np.ndarray) -> np.ndarray:
    """``x`` (16 kHz) through the 300-3400 Hz band, 8 kHz G.711 u-law (sox) and back to 16 kHz."""
    with tempfile.TemporaryDirectory() as d:
        src, law, back = (Path(d) / f for f in ("a.wav", "b.wav", "c.wav"))
        sf.write(src, np.clip(x, -1, 1), RATE, subtype="FLOAT")
        subprocess.run(["sox", str(src), "-r", "8000", "-e", "u-law", str(law), "sinc", "300-3400"], check=True)
        subprocess.run(["sox", str(law), "-r", "16000", "-e", "signed", "-b", "16", str(back)], check=True)
        y, _ = sf.read(back, dtype="float64")
    return np.asarray(y)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for k, (kind, db) in enumerate(KINDS.items()):
        rng = np.random.default_rng(k)
        x = level(piece(kind, 30.0, rng), db)
        tel = telephone(x)
        noisy = tel + rng.normal(0, 1, len(tel)) * np.sqrt(np.mean(tel ** 2)) * 10 ** (-25 / 20)
        for suffix, y in (("", x), ("_tel", tel), ("_noisy", noisy)):
            sf.write(out / f"{kind}{suffix}.wav", np.clip(y, -1, 1), RATE, subtype="PCM_16")
        print(kind, db)


if __name__ == "__main__":
    main()
