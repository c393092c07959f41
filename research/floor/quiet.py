"""Quiet copies of recordings, measured as the user would: `call-monitor analyze --json` per copy
and, for a stereo call, `call-monitor replay --jsonl --no-transcribe` (its alerts and warnings).

    PYTHONPATH=. python research/floor/quiet.py OUT_DIR FILE [FILE ...] [--gains 0,-10,-20,-30]
        [--seconds S]   # only the first S seconds of each file
        [--pcm16]       # 16-bit copies, not float  [--mix]  a stereo file's channel mix, not its caller

Each copy is the file times 10^(gain/20), written as 32-bit float WAV (no clipping, no dither),
so only the level changes. For each file and gain one line: speech time, syllables, pauses,
breaths (analyze; a stereo file's caller channel, 1), then the alerts (replay) and each figure's
change against the original.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

CALLER_CHANNEL = 1


def cli(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{args}: {out.stderr.strip()}")
    return out.stdout + "\n" + out.stderr


def copy(src: Path, gain_db: float, seconds: float | None, out_dir: Path, pcm16: bool) -> tuple[Path, bool]:
    x, rate = sf.read(str(src), dtype="float64", always_2d=True)
    if seconds:
        x = x[:int(seconds * rate)]
    dst = out_dir / f"{src.stem}_{'cut' if seconds else 'all'}{int(gain_db):+d}dB{'_16' if pcm16 else ''}.wav"
    sf.write(str(dst), (x * 10 ** (gain_db / 20)).astype(np.float32), rate, subtype="PCM_16" if pcm16 else "FLOAT")
    return dst, x.shape[1] == 2


def measure(path: Path, stereo: bool, db: Path, mix: bool) -> dict:
    args = ["analyze", "--json", str(path)] + (["--channel", str(CALLER_CHANNEL)] if stereo and not mix else [])
    out = cli(*args)
    row = json.loads(next(l for l in out.splitlines() if l.startswith("{")))
    row["quiet_note"] = "too quiet to measure" in out
    if stereo:
        text = cli("replay", "--jsonl", "--no-transcribe", "--db", str(db), str(path))
        events = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
        row["alerts"] = [f"{e['kind']}@{e['t']:.0f}" for e in events if e.get("type") == "alert"]
        row["replay_quiet"] = "too quiet to measure" in text
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--gains", default="0,-10,-20,-30")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--pcm16", action="store_true", help="16-bit copies (as a quiet recording is), not float")
    ap.add_argument("--mix", action="store_true", help="analyze a stereo file's channel mix, not its caller's")
    a = ap.parse_args()
    a.out_dir.mkdir(parents=True, exist_ok=True)
    keys = ("speech_s", "syllables", "pauses", "breaths")
    for src in a.files:
        base = None
        for gain in (float(g) for g in a.gains.split(",")):
            path, stereo = copy(src, gain, a.seconds, a.out_dir, a.pcm16)
            row = measure(path, stereo, a.out_dir / f"{path.stem}.db", a.mix)
            base = base or row
            rel = " ".join(f"{k} {row[k]} ({100 * (row[k] - base[k]) / base[k]:+.1f} %)" if base[k] else f"{k} {row[k]}"
                           for k in keys)
            extra = f" loud {row['loudness_dbfs']} quiet-note {row['quiet_note']}"
            if stereo:
                same = "same" if row["alerts"] == base["alerts"] else " ".join(row["alerts"])
                extra += f" replay-quiet {row['replay_quiet']} alerts {len(row['alerts'])}: {same}"
            print(f"{src.name} {gain:+.0f} dB: {rel}{extra}", flush=True)


if __name__ == "__main__":
    main()
