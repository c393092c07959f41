"""Training-side screen of sound-class settings: mixed breaths at both bands and the onsets.

    PYTHONPATH=. python research/breath8k/screen.py <the shared data folder> "KEY=VALUE ..." ["KEY=VALUE ..." ...]

Each argument after the folder is one variant (SoundClassParams overrides, space-separated; ""
is the shipped settings; a value with a comma is a tuple, with a dot a float). Prints, per variant,
tools.train_sound_class's mixed-breath hits / false at 16 kHz and over the telephone band on the
training mixtures and the breath onsets on the training recordings (the tool's own functions, its
settings replaced in its process), so that a rule can be screened in a fraction of the tool's time.
"""
import dataclasses
import sys
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
from tools import train_sound_class as T


def number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def parse(text: str) -> dict:
    """``KEY=VALUE ...`` as SoundClassParams overrides (a value with a comma is a tuple)."""
    given = {}
    for arg in text.split():
        key, value = arg.split("=")
        given[key] = tuple(number(v) for v in value.split(",")) if "," in value else number(value)
    return given


def main(shared: Path, variants: list[str]) -> None:
    rng = np.random.default_rng(T.SEED)
    breath, speech = T.breathing_clips(shared / "breathing"), T.speech_clips()
    tr_b = [c for c in breath if c.train]
    tr_s = [c for c in speech if c.train]
    mixes = T.mix(tr_s, T.breath_snippets(tr_b), rng, 150)
    base = A.WITH_SOUND_CLASS
    for text in variants:
        T.WITH_SOUND_CLASS = dataclasses.replace(base, sound=dataclasses.replace(base.sound, **parse(text)))
        out = []
        for band in T.BANDS:
            h, m, f, _ = T.detection(mixes, band)
            out.append(f"{band} {h}/{f}")
        good, n, every = T.onset_counts(tr_b)
        out.append(f"onsets {good} of {n} ({int((every <= T.ONSET_TOL_S).sum())} of {len(every)})")
        print(f"[{text}] " + ", ".join(out), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
