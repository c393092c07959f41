"""How much of each caller's audible sound Praat finds voiced (research: whispered corpus voices).

For every 16 kHz call of the evaluation corpus whose caller uses a breathy or labored espeak-ng
voice (labored calls that degrade the voice, and the breathy hard negatives), Praat's pitch
(parselmouth, 10 ms) over the caller's channel: the share of audible frames (intensity within
35 dB of the call's peak) with a pitch, and the analyzer's own speech time (``call-monitor
analyze``'s ``speech_s`` for that channel), so that a voice Praat finds unvoiced (a whisper) can
be told from one the sound class misses.

    python research/whisper/voiced_share.py CORPUS [--split tune] > out.txt
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import parselmouth
import soundfile as sf



def voiced_share(x: np.ndarray, sr: int) -> tuple[float, float]:
    """(audible seconds, share of them Praat finds voiced) of mono X (n,)."""
    snd = parselmouth.Sound(x, sr)
    f0 = snd.to_pitch(time_step=0.01).selected_array["frequency"]
    inten = snd.to_intensity(time_step=0.01).values[0]
    n = min(len(f0), len(inten))
    audible = inten[:n] > inten[:n].max() - 35.0
    return float(audible.sum()) / 100.0, float((f0[:n][audible] > 0).mean()) if audible.any() else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus")
    p.add_argument("--split", default="tune")
    args = p.parse_args()
    index = json.loads((Path(args.corpus) / "index.json").read_text())
    for entry in index["calls"]:
        cid, cond = entry["id"], entry["condition"]
        if entry["split"] != args.split:
            continue
        if not (cond.get("negative") == "breathy" or (cond["group"] == "labored" and cond["degrade"] in ("voice", "all")
                                                      and cond["source"] == "espeak")):
            continue
        path = Path(args.corpus) / f"{cid}_16k.flac"
        x, sr = sf.read(path)
        audible, share = voiced_share(x[:, 1], sr)
        out = subprocess.run([sys.executable, "-m", "monitor.cli", "analyze", "--channel", "1", "--json", str(path)],
                             capture_output=True, text=True, check=True).stdout
        speech = json.loads(out)["speech_s"]
        print(f"{cid} {cond.get('severity')} {cond.get('degrade') or ''} {cond.get('negative') or ''} "
              f"{cond['caller_voice']} audible {audible:.1f} s voiced {100 * share:.0f} % analyzer speech {speech:.1f} s")


if __name__ == "__main__":
    main()
