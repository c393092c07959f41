"""Summarise stages.py's rows: seconds of labelled caller phrase time lost per stage, per condition.

    python research/white/summary.py ROWS.json [--by noise|snr|group|severity] [--where noise=white]
"""
from __future__ import annotations

import json
import sys

STAGES = ("vad_abs", "vad_floor", "vad_peak", "bridge", "class", "gate", "hold")


def band(r: dict) -> str:
    s = r["snr_db"]
    return "clean" if s is None else "<10" if s < 10 else "10-15" if s < 15 else "15-20" if s < 20 else ">=20"


def key(r: dict, by: str) -> str:
    if by == "snr":
        return band(r)
    if by == "noise_rate":
        return f"{r['noise']}/{r['rate'] // 1000}k"
    if by == "noise_snr":
        return f"{r['noise']}/{band(r)}"
    return str(r.get(by))


def table(rows: list[dict], by: str) -> list[str]:
    out = [f"{by:<16}{'files':>6}{'phrase s':>10}" + "".join(f"{s:>10}" for s in STAGES)
           + f"{'+bridge':>9}{'kept %':>8}{'nuc/syl':>8}"]
    for v in sorted({key(r, by) for r in rows}):
        sub = [r for r in rows if key(r, by) == v]
        ph = sum(r["phrase_s"] for r in sub)
        kept = sum(r["kept"] for r in sub)
        syl = sum(r["syllables"] for r in sub)
        out.append(f"{v:<16}{len(sub):>6}{ph:>10.0f}" + "".join(f"{sum(r[s] for r in sub):>10.1f}" for s in STAGES)
                   + f"{sum(r['bridge_gain'] for r in sub):>9.1f}{100 * kept / ph:>7.1f}%"
                   + f"{sum(r['nuclei'] for r in sub) / max(syl, 1):>8.2f}")
    return out


def main() -> None:
    rows = json.load(open(sys.argv[1]))
    args = sys.argv[2:]
    for w in [args[i + 1] for i, a in enumerate(args) if a == "--where"]:
        k, v = w.split("=")
        rows = [r for r in rows if str(r.get(k)) == v or (k == "snr" and band(r) == v)]
    bys = [args[i + 1] for i, a in enumerate(args) if a == "--by"] or ["noise", "noise_rate", "snr"]
    for by in bys:
        print("\n".join(table(rows, by)) + "\n")


if __name__ == "__main__":
    main()
