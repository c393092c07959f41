"""Compute the Praat reference measures of the 61 real utterances and write
audio_fixtures/real/praat_reference.csv (committed, so tests need not rerun Praat).

    python -m tools.make_reference [--check]

One row per file and band: ``native`` (the file at its own rate) and ``tel8k``
(sox ``sinc 300-3400``, ``rate 8000``). Columns: see FIELDS. It also prints the
syllable-count agreement with the transcripts (Pearson r, median absolute error).
With ``--check`` it recomputes and compares to the committed CSV instead of writing.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np

from tools.options import description
from tools.praat_reference import praat_all, telephone_band, to_sound

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "audio_fixtures" / "real"
MANIFEST = REAL / "manifest.csv"
REFERENCE = REAL / "praat_reference.csv"
BANDS = ("native", "tel8k")
FIELDS = ["path", "band", "samplerate", "transcript_syllables", "syllables",
          "syllables_v2", "speaking_s", "pauses", "hnr_db", "cpps_db", "f0_median_hz"]
NUMERIC = FIELDS[4:]


def manifest() -> list[dict]:
    with open(MANIFEST, newline="") as fh:
        return list(csv.DictReader(fh))


def load_reference(path: Path = REFERENCE) -> list[dict]:
    """The committed CSV with numbers parsed (nan where Praat had none)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["samplerate"] = int(r["samplerate"])
        r["transcript_syllables"] = int(r["transcript_syllables"])
        for k in NUMERIC:
            r[k] = float(r[k]) if r[k] not in ("", "nan") else math.nan
    return rows


def compute_row(entry: dict, band: str) -> dict:
    path = REAL / entry["path"]
    if band == "native":
        snd = to_sound(path)
    else:
        snd = to_sound(telephone_band(path))
    row = {"path": entry["path"], "band": band,
           "samplerate": int(snd.sampling_frequency),
           "transcript_syllables": int(entry["syllables"])}
    row.update(praat_all(snd))
    return row


def agreement(est, truth) -> tuple[float, float]:
    """(Pearson r, median absolute error in % of the transcript count)."""
    est, truth = np.asarray(est, float), np.asarray(truth, float)
    r = float(np.corrcoef(est, truth)[0, 1])
    return r, float(np.median(np.abs(est - truth) / truth) * 100)


def summary(rows: list[dict]) -> str:
    out = []
    for band in BANDS:
        sub = [r for r in rows if r["band"] == band]
        truth = [int(r["transcript_syllables"]) for r in sub]
        for col in ("syllables", "syllables_v2"):
            r, mae = agreement([float(x[col]) for x in sub], truth)
            out.append(f"{band:6s} {col:12s} n={len(sub)} r={r:.4f} median abs err={mae:.2f} %")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.make_reference", description=description(__doc__))
    ap.add_argument("--check", action="store_true", help="compare to the committed CSV")
    a = ap.parse_args(argv)
    rows = [compute_row(e, band) for e in manifest() for band in BANDS]
    print(summary(rows))
    if a.check:
        ref = {(r["path"], r["band"]): r for r in load_reference()}
        bad = 0
        for row in rows:
            old = ref.get((row["path"], row["band"]))
            for k in NUMERIC:
                if old is None or not np.isclose(float(row[k]), old[k], rtol=1e-3,
                                                 atol=1e-3, equal_nan=True):
                    print(f"differs: {row['path']} {row['band']} {k}: "
                          f"{None if old is None else old[k]} -> {row[k]}")
                    bad += 1
        print("reference CSV is current" if not bad else f"{bad} values differ")
        return 1 if bad else 0
    with open(REFERENCE, "w", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {REFERENCE.relative_to(ROOT)} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
