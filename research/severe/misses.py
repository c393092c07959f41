"""The severe labored files of a run with no critical within 30 s of their onset, by kind of trouble.

    python research/severe/misses.py RUN.json [--severity severe]

RUN.json: ``tools.evaluate --json``. One line per file: kind of trouble, onset, line (noise, SNR,
codec, hold), rate, time from the onset to the first critical (- never), the past-mild time.
"""

from __future__ import annotations

import argparse
import json


def misses(run: dict, severity: str) -> list[dict]:
    return [r for r in run["files"] if r.get("expect_critical") and r["condition"].get("severity") == severity
            and (r["time_to_critical_s"] is None or r["time_to_critical_s"] > 30.0)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--severity", default="severe")
    a = p.parse_args()
    run = json.load(open(a.run))
    rows = misses(run, a.severity)
    total = sum(r.get("expect_critical") and r["condition"].get("severity") == a.severity for r in run["files"])
    print(f"{a.severity}: {len(rows)} of {total} files without a critical within 30 s of the onset")
    key = lambda r: (r["condition"]["degrade"], r["condition"]["onset"], r["id"], r["rate"])
    for r in sorted(rows, key=key):
        c = r["condition"]
        snr = "-" if c.get("snr_db") is None else f"{c['snr_db']:.1f}"
        ttc = "-" if r["time_to_critical_s"] is None else f"{r['time_to_critical_s']:.1f}"
        pm = "-" if r.get("past_mild_s") is None or r["onset_s"] is None else f"{r['past_mild_s'] - r['onset_s']:.0f}"
        print(f"{c['degrade']:<15} {c['onset']:<8} {r['id']} {r['rate']:>5}  {c.get('noise'):<6} {snr:>5} dB "
              f"{c.get('codec'):<5} {'hold' if c.get('hold') else '    '} {c.get('source'):<6} "
              f"onset {r['onset_s']:6.1f}  ttc {ttc:>6}  past-mild +{pm}")


if __name__ == "__main__":
    main()
