"""Praat's voiced share of each caller phrase of the corpus, by the voice kind of its turn.

For every espeak-ng caller turn of a split (16 kHz, caller channel), the share of the audible
frames inside its phrases (intensity within 35 dB of the channel's peak) where Praat's pitch
(parselmouth, 10 ms) finds a pitch, grouped by the turn's voice: healthy (the caller's own
variant), breathy (``*breathy*``) or labored (``*labored*``), and by base variant. A degraded
voice that is whispered shows as a kind near 0 % whatever the call.

    python research/whisper/turn_voicing.py CORPUS [--split tune] > out.txt
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import parselmouth
import soundfile as sf


def kind_of(voice: str) -> str:
    return "labored" if "labored" in voice else ("breathy" if "breathy" in voice else "healthy")


def base_of(voice: str) -> str:
    """'en-us+ev_f2_labored' -> 'f2'; 'en+cmlabored' -> 'none'; 'en-us+cmbreathyf' -> 'cmnormalf'."""
    v = voice.split("+", 1)[1] if "+" in voice else ""
    if v.startswith("ev_"):
        return v[3:].rsplit("_", 1)[0]
    if v.startswith("cm") and v not in ("cmnormalf",):
        return "cmnormalf" if v.endswith("f") else "none"
    return v or "none"


def frames(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(voiced (n,) bool, audible (n,) bool) per 10 ms frame of mono X."""
    snd = parselmouth.Sound(x, sr)
    f0 = snd.to_pitch(time_step=0.01).selected_array["frequency"]
    inten = snd.to_intensity(time_step=0.01).values[0]
    n = min(len(f0), len(inten))
    return f0[:n] > 0, inten[:n] > inten[:n].max() - 35.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus")
    p.add_argument("--split", default="tune")
    args = p.parse_args()
    root = Path(args.corpus)
    index = json.loads((root / "index.json").read_text())
    by_kind: dict[str, list[float]] = defaultdict(list)
    by_base: dict[tuple[str, str], list[float]] = defaultdict(list)
    for entry in index["calls"]:
        if entry["split"] != args.split or entry["condition"]["source"] != "espeak":
            continue
        lab = json.loads((root / f"{entry['id']}.json").read_text())
        x, sr = sf.read(root / f"{entry['id']}_16k.flac")
        voiced, audible = frames(x[:, 1], sr)
        for turn in lab["turns"]:
            if turn["speaker"] != "caller" or turn["source"] != "espeak-ng":
                continue
            idx = np.concatenate([np.arange(int(ph["start_s"] * 100), int(ph["end_s"] * 100))
                                  for ph in turn["phrases"]])
            idx = idx[idx < len(voiced)]
            idx = idx[audible[idx]]
            if idx.size < 20:
                continue
            share = 100 * float(voiced[idx].mean())
            by_kind[kind_of(turn["voice"])].append(share)
            by_base[(kind_of(turn["voice"]), base_of(turn["voice"]))].append(share)
    print("kind     turns  p10  median  p90   (% of audible phrase frames with a Praat pitch)")
    for kind in ("healthy", "breathy", "labored"):
        v = np.array(by_kind.get(kind, []))
        if v.size:
            print(f"{kind:8s} {v.size:5d} {np.percentile(v, 10):4.0f} {np.median(v):6.0f} {np.percentile(v, 90):5.0f}")
    print("\nby base variant: median (turns)")
    for kind in ("healthy", "breathy", "labored"):
        row = [f"{b}:{np.median(v):.0f}({len(v)})" for (k, b), v in sorted(by_base.items()) if k == kind]
        print(f"{kind:8s} " + " ".join(row))


if __name__ == "__main__":
    main()
