"""The loudest sustained voice of recordings (:func:`monitor.dsp.energy.loudest_db` at the last
frame: the highest quietest level of ``loudest_frames`` periodic frames in a row above -65 dBFS),
and the power mean of the speech frames (as analyze's loudness).

    PYTHONPATH=. python research/floor/loudest.py [--channel N] FILE [FILE ...]
"""

from __future__ import annotations

import argparse

import numpy as np
import soundfile as sf

from monitor.analysis.analyzer import WITH_SOUND_CLASS, _Layout, _whole_raw, analyze_signal
from monitor.dsp.resample import Resampler


def load(path: str, channel: int | None) -> tuple[np.ndarray, int]:
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    x = x[:, channel] if channel is not None and x.shape[1] > 1 else x.mean(axis=1)
    if rate not in (8000, 16000):
        out = 16000 if rate > 16000 else 8000
        x = Resampler(rate, out, 1).process(x[:, None], final=True)[:, 0]
        rate = out
    return x, rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--channel", type=int)
    a = ap.parse_args()
    for path in a.files:
        x, rate = load(path, a.channel)
        raw = _whole_raw(x, _Layout.make(rate, WITH_SOUND_CLASS), WITH_SOUND_CLASS)
        f = analyze_signal(x, rate, WITH_SOUND_CLASS)
        speech = f.energy_db[f.speech]
        mean = 10 * np.log10(np.mean(10 ** (speech / 10))) if len(speech) else float("nan")
        print(f"{raw['loudest_db'][-1]:7.1f} {mean:7.1f} {path}", flush=True)


if __name__ == "__main__":
    main()
