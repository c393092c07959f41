"""The group-1 callers' labelled phrases (research/start): the share of their frames the sound class
takes for speech and for breath, over the whole call and in the first 30 s after the onset, with
the model in monitor/dsp/sound_class_model.py (``analyze_signal`` on the caller channel).

    PYTHONPATH=. python research/noisyweak/phrases.py LABEL    # repository root; LABEL names the model
"""

import json
import sys

import numpy as np
import soundfile as sf

from monitor.analysis.analyzer import WITH_SOUND_CLASS, analyze_signal
from monitor.dsp.sound_class import BREATH, SPEECH

EVAL = "audio_fixtures/generated/eval/"
FILES = ("1066_16k", "1066_8k", "1084_16k", "1084_8k", "1288_16k", "1288_8k", "1306_16k", "1306_8k")


def phrase_masks(meta: dict, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames (times ``t``) inside the caller's phrases, and those of them within 30 s of the onset."""
    inside, early = np.zeros(len(t), bool), np.zeros(len(t), bool)
    for turn in meta["turns"]:
        for p in turn["phrases"] if turn["speaker"] == "caller" else ():
            m = (t >= p["start_s"]) & (t < p["end_s"])
            inside |= m
            early |= m & (t < meta["trouble_onset_s"] + 30)
    return inside, early


def line(label: str, name: str, t: np.ndarray, sound: np.ndarray, meta: dict) -> str:
    inside, early = phrase_masks(meta, t)
    s, b = sound == SPEECH, sound == BREATH
    return (f"{label} {name} phrases {inside.sum() / 100:.1f}s speech {100 * s[inside].mean():.0f}% breath "
            f"{100 * b[inside].mean():.0f}% | first 30s: phrases {early.sum() / 100:.1f}s speech "
            f"{s[early].sum() / 100:.1f}s breath {b[early].sum() / 100:.1f}s")


def main(label: str) -> None:
    for name in FILES:
        meta = json.load(open(f"{EVAL}eval_{name[:4]}.json"))
        x, rate = sf.read(f"{EVAL}eval_{name}.flac", dtype="float32")
        f = analyze_signal(np.ascontiguousarray(x[:, 1]), rate, WITH_SOUND_CLASS)
        print(line(label, name, f.t, f.sound, meta), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
