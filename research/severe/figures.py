"""The figures the severe study decides on, per tools.evaluate --json run.

    python research/severe/figures.py RUN.json [RUN.json ...]

Per run: moderate and severe files critical within 30 s of the onset (all, severe, moderate),
critical at all after it, healthy files (forbid_critical) with a critical, labored files with a
critical before the onset, warnings per hour of normal call time and of the healthy files' time.
"""

from __future__ import annotations

import json
import sys


def figures(run: dict) -> dict:
    files = [r for r in run["files"] if not r.get("error")]
    exp = [r for r in files if r["expect_critical"]]

    def d30(rs):
        return sum(r["time_to_critical_s"] is not None and r["time_to_critical_s"] <= 30.0 for r in rs)

    sev = [r for r in exp if r["condition"].get("severity") == "severe"]
    mod = [r for r in exp if r["condition"].get("severity") == "moderate"]
    forb = [r for r in files if r["forbid_critical"]]
    normal_s = sum(r["normal_s"] for r in files)
    forb_s = sum(r["duration_s"] for r in forb)
    return {"det30": f"{d30(exp)}/{len(exp)}", "severe": f"{d30(sev)}/{len(sev)}", "moderate": f"{d30(mod)}/{len(mod)}",
            "det": sum(r["time_to_critical_s"] is not None for r in exp),
            "FA": f"{sum(r['criticals'] > 0 for r in forb)}/{len(forb)}",
            "pre": sum(r["criticals_before_onset"] > 0 for r in files),
            "nwarn/h": round(3600 * sum(r["normal_warnings"] for r in files) / normal_s, 2) if normal_s else None,
            "warn/h healthy": round(3600 * sum(r["warnings"] for r in forb) / forb_s, 2) if forb_s else None}


def main() -> None:
    for path in sys.argv[1:]:
        print(path, figures(json.load(open(path))))


if __name__ == "__main__":
    main()
