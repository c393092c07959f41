"""Percentiles of the sound-class model's columns on the training side: voiced frames by
recording kind, and the frames of the analysis's syllable nuclei (README's tables).

    PYTHONPATH=. python research/voicing/columns.py <the shared data folder>

Run with a variant's patch applied and its model written (the nuclei are that model's); the
columns named below must be among ``FEATURES`` (those a variant lacks are skipped).
"""
import logging
import sys
from pathlib import Path

import numpy as np

from monitor.analysis.analyzer import analyze_signal, class_inputs
from monitor.dsp.sound_class import FEATURES
from tools import train_sound_class as tsc

log = logging.getLogger("columns")
COLUMNS = ("strength_mean", "upper_periodicity", "strength_sd", "f0_step", "event_upper", "high_share_db")
KINDS = {"breathing-deep": ("breathing-deep",), "breathing-shallow": ("breathing-shallow",),
         "coughs": ("cough-heavy",), "sustained vowels": ("vowel-a",), "real speech": ("speech",)}


def voiced_rows(clips: list, rate: int, cols: list[int]) -> np.ndarray:
    """The columns ``cols`` of every heard frame with strength_mean >= 0.6. Shape (m, len(cols))."""
    parts = [np.zeros((0, len(cols)), np.float32)]
    for c in clips:
        f, heard = class_inputs(c.x if rate == 16000 else tsc.telephone(c.x), rate)
        parts.append(f[heard & (f[:, 0] >= 0.6)][:, cols])
    return np.concatenate(parts)


def nucleus_rows(clips: list, cols: list[int]) -> np.ndarray:
    """The columns ``cols`` of the 16 kHz analysis's nucleus frames. Shape (m, len(cols))."""
    parts = [np.zeros((0, len(cols)), np.float32)]
    for c in clips:
        f, _ = class_inputs(c.x, 16000)
        k = np.flatnonzero(analyze_signal(c.x, 16000).nucleus)
        parts.append(f[k[k < len(f)]][:, cols])
    return np.concatenate(parts)


def line(name: str, rows: np.ndarray, names: list[str], q: tuple[int, ...]) -> str:
    cells = [f"{n} {' / '.join(f'{v:.2f}' for v in np.percentile(rows[:, i], q))}" for i, n in enumerate(names)]
    return f"{name:18s} n={len(rows):6d}  " + "  ".join(cells) if len(rows) else f"{name:18s} n=0"


def main(shared: Path) -> None:
    names = [c for c in COLUMNS if c in FEATURES]
    cols = [FEATURES.index(c) for c in names]
    breath = [c for c in tsc.breathing_clips(shared / "breathing") if c.train]
    speech = [c for c in tsc.speech_clips() if c.train]
    by_kind = {k: [c for c in breath + speech if c.kind in kinds] for k, kinds in KINDS.items()}
    for rate in (16000, 8000):
        print(f"voiced frames (strength_mean >= 0.6), {rate} Hz, 25th / 50th / 75th percentiles")
        for kind, clips in by_kind.items():
            print(line(kind, voiced_rows(clips, rate, cols), names, (25, 50, 75)))
    print("syllable nuclei, 16 kHz, 10th / 50th / 90th percentiles")
    for kind in ("breathing", "coughs", "real speech"):
        clips = by_kind["breathing-deep"] + by_kind["breathing-shallow"] if kind == "breathing" else by_kind[kind]
        print(line(kind, nucleus_rows(clips, cols), names, (10, 50, 90)))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main(Path(sys.argv[1]))
