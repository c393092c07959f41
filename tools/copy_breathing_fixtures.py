"""Copy the committed subset of the Coswara breathing recordings into audio_fixtures/breathing/.

Reads the shared data folder beside the checkout, given with --shared (its breathing/ folder:
16 kHz mono FLAC and a manifest), and writes trimmed 16 kHz mono 16-bit FLAC files and a
manifest.csv with the trimmed durations. Trimming keeps the beginning of each recording:
deep breathing its first 9 s, shallow breathing its first 7 s, heavy coughs their first 6 s,
and a few whole sustained vowels (the shortest ones, both genders). Uses sox.

    .venv/bin/python -m tools.copy_breathing_fixtures --shared SHARED   # the shared data folder
"""

from __future__ import annotations

import argparse
import csv
import logging
import subprocess
import sys
from pathlib import Path

import soundfile as sf

log = logging.getLogger(__name__)

TRIM_S = {"breathing-deep": 9.0, "breathing-shallow": 7.0, "cough-heavy": 6.0}
VOWEL_SPEAKERS = ("s01", "s04", "s06", "s13", "s21", "s30", "s32")
FIELDS = ("file", "speaker", "kind", "quality", "duration_s", "original_duration_s",
          "original_rate", "gender", "age", "health", "coswara_id")


def _keep(row: dict[str, str]) -> bool:
    return row["kind"] in TRIM_S or (row["kind"] == "vowel-a" and row["speaker"] in VOWEL_SPEAKERS)


def _copy(src: Path, dst: Path, trim_s: float | None) -> float:
    cmd = ["sox", str(src), "-r", "16000", "-c", "1", "-b", "16", "-C", "8", str(dst)]
    if trim_s is not None and sf.info(str(src)).duration > trim_s:
        cmd += ["trim", "0", f"{trim_s:g}"]
    subprocess.run(cmd, check=True)
    return sf.info(str(dst)).duration


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, required=True, help="the shared data folder")
    ap.add_argument("--out", type=Path, default=Path("audio_fixtures/breathing"))
    args = ap.parse_args(argv)
    src_dir = args.shared / "breathing"
    manifest = src_dir / "manifest.csv"
    if not manifest.is_file():
        print(f"error: {manifest}: no such manifest", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [r for r in csv.DictReader(manifest.open()) if _keep(r)]
    out_rows = []
    for r in sorted(rows, key=lambda r: r["file"]):
        dur = _copy(src_dir / r["file"], args.out / r["file"], TRIM_S.get(r["kind"]))
        out_rows.append({**{k: r[k] for k in FIELDS if k in r},
                         "duration_s": f"{dur:.2f}", "original_duration_s": r["duration_s"]})
    with (args.out / "manifest.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(out_rows)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("%d files written to %s", len(out_rows), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
