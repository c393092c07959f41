"""The leg's voiced level L of everything the sound class is trained and measured on, in both
bands: the shared breathing recordings, the real speech files, the espeak-ng speech, the weak
voices' renderings, the fixture calls' legs and the breath mixtures (training and held-out side)
of ``tools.train_sound_class``; with ``--gains``, quiet copies of other recordings.

Two definitions of L, both a running maximum over the frames so far of a window's level, the
window counting only when all its frames are clearly periodic (strength >= 0.6) and above -65 dBFS:

- ``min20``: the quietest of 20 frames in a row (``level_relative_min.patch``, variant 3);
- ``med50``: the median of 50 frames in a row (half a second of voice).

For each recording one line per definition's ``first`` (the lowest value L takes, at the first
sustained voice: where the minimum clip(L - D, -95, -65) is lowest) and ``last`` (at the end);
``-`` when no window counts (the recording keeps -65 throughout). A recording keeps -65
throughout exactly when its ``first`` is at least -65 + D. A summary per group ends the output.
Runs on the code without the patch (the frames' level and pitch strength above -65 dBFS are the
same either way).

    PYTHONPATH=. python research/floor/class_levels.py SHARED_FOLDER [--mixes 150]
    PYTHONPATH=. python research/floor/class_levels.py --gains 0,-10,-20,-30 [--channel 1] FILE ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf
from numpy.lib.stride_tricks import sliding_window_view

from monitor.analysis.analyzer import WITH_SOUND_CLASS, _Layout, _whole_raw
from tools import train_sound_class as tsc

from loudest import load  # noqa: E402  (beside this script)


DEFINITIONS = {"min20": (20, "min"), "med50": (50, "median")}


def voiced_level(energy_db: np.ndarray, strength: np.ndarray, k: int, how: str) -> np.ndarray:
    """L per frame (NaN before the first window that counts). Shapes (n,), (n,) -> (n,)."""
    if len(energy_db) < k:
        return np.full(len(energy_db), np.nan)
    ok = sliding_window_view((strength >= 0.6) & (energy_db > -65.0), k).all(axis=1)
    w = sliding_window_view(energy_db, k)
    level = np.where(ok, w.min(axis=1) if how == "min" else np.median(w, axis=1), -np.inf)
    run = np.concatenate([np.full(k - 1, -np.inf), np.maximum.accumulate(level)])
    return np.where(np.isfinite(run), run, np.nan)


def levels(x: np.ndarray, rate: int) -> dict[str, tuple[float, float]]:
    """Per definition, (first, last) voiced level of a signal (NaN, NaN when it never voices)."""
    raw = _whole_raw(x, _Layout.make(rate, WITH_SOUND_CLASS), WITH_SOUND_CLASS)
    out = {}
    for name, (k, how) in DEFINITIONS.items():
        loud = voiced_level(raw["energy_db"], raw["strength"], k, how)
        set_ = loud[~np.isnan(loud)]
        out[name] = (float(set_[0]), float(set_[-1])) if len(set_) else (float("nan"), float("nan"))
    return out


def bands(x16: np.ndarray) -> list[tuple[str, np.ndarray, int]]:
    return [("16k", x16, 16000), ("tel8k", tsc.telephone(x16), 8000)]


def signals(shared: Path, n_mixes: int):
    """(group, name, band, signal, rate) of everything the class figures analyse."""
    breath = tsc.breathing_clips(shared / "breathing")
    speech = tsc.speech_clips()
    for c in breath:
        for band, x, rate in bands(c.x):
            yield f"breathing/{c.kind}", c.name, band, x, rate
    for group, clips in (("real speech", speech), ("espeak", tsc.espeak_clips())):
        for c in clips:
            for band, x, rate in bands(c.x):
                yield group, c.name, band, x, rate
    for r in tsc.weak_voices():
        for band, x, rate in bands(r.x):
            yield "weak voices", r.variant, band, x, rate
    for meta in sorted(tsc.CALLS.glob("*.json")):
        d = json.loads(meta.read_text())
        for rate in (16000, 8000):
            wav = tsc.CALLS / f"{meta.stem}_{rate // 1000}k.wav"
            x = sf.read(wav, dtype="float32", always_2d=True)[0]
            for ch in range(x.shape[1]):
                yield "fixture calls", f"{wav.name} ch{ch}", f"{rate // 1000}k", x[:, ch], rate
    rng = np.random.default_rng(tsc.SEED)  # the draws of tools.train_sound_class's main
    tr_b, te_b = [c for c in breath if c.train], [c for c in breath if not c.train]
    tr_s, te_s = [c for c in speech if c.train], [c for c in speech if not c.train]
    for side, s, b in (("train", tr_s, tr_b), ("test", [tsc.with_inner(c) for c in te_s], te_b)):
        for i, (x, *_) in enumerate(tsc.mix(s, tsc.breath_snippets(b), rng, n_mixes)):
            for band, y, rate in bands(x):
                yield f"mixtures ({side})", f"#{i}", band, y, rate


def quiet_copies(files: list[str], gains: list[float], channel: int | None):
    """(group, name, band, signal, rate) of each file times each gain (dB)."""
    for path in files:
        x, rate = load(path, channel)
        for g in gains:
            y = (x * 10 ** (g / 20)).astype(np.float32)
            yield f"quiet {g:+.0f} dB", Path(path).name, f"{rate // 1000}k", y, rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="+", help="the shared data folder, or with --gains the files")
    ap.add_argument("--mixes", type=int, default=150)
    ap.add_argument("--gains", help="quiet copies of the files at these gains (dB), comma-separated")
    ap.add_argument("--channel", type=int, help="with --gains: a stereo file's channel (default the mix)")
    a = ap.parse_args()
    items = (quiet_copies(a.inputs, [float(g) for g in a.gains.split(",")], a.channel) if a.gains
             else signals(Path(a.inputs[0]), a.mixes))
    lows: dict[tuple[str, str], list[float]] = {}
    for group, name, band, x, rate in items:
        row = levels(x, rate)
        cells = []
        for d, (first, last) in row.items():
            lows.setdefault((group, d), []).append(first)
            cells.append(f"{d} " + ("     -      -" if np.isnan(first) else f"{first:6.1f} {last:6.1f}"))
        print(f"{'  '.join(cells)}  {group:27s} {band:5s} {name}", flush=True)
    print("group, definition: recordings, those with a sustained voice, the three lowest first levels")
    for (group, d), v in lows.items():
        f = np.sort(np.array(v)[~np.isnan(v)])
        print(f"  {group:27s} {d}  {len(v):4d} {len(f):4d}  " + " ".join(f"{q:6.1f}" for q in f[:3]))


if __name__ == "__main__":
    main()
