"""Where a labored caller's speech in the 30 s after the onset is lost, stage by stage (research).

    PYTHONPATH=. python research/noise/lost_after_onset.py DIR --cache CACHE [--noise white,pink,none] --json OUT

research/white/stages.py's stages (voice activity's absolute, floor and peak bounds, bursts, the sound
class; the gate and hold cost nothing on these lines and are left out), counted over the frames inside
the label's caller phrases between the onset and 30 s after it, for the tuning half's expect-critical
files; plus the phrase frames' level over the noise floor (median dB).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "white"))
from stages import caller_samples, stage_masks  # noqa: E402

from monitor.analysis import analyzer as an  # noqa: E402
from monitor.analysis.frame_features import HOP_S  # noqa: E402
from monitor.dsp.sound_class import SPEECH  # noqa: E402,F401
from tools import evaluate as ev  # noqa: E402
from tools.background_talk import inside, label_spans  # noqa: E402


def row(job: ev.Job) -> dict:
    label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
    m = stage_masks(caller_samples(job), job.rate, an.AnalyzerConfig())
    on = job.onset_s or 0.0
    ph = inside(m["t"], label_spans(label)["caller_phrases"], 0.0) & (m["t"] >= on) & (m["t"] <= on + 30)
    lost = {"vad_abs": ph & ~m["ok_abs"], "vad_floor": ph & m["ok_abs"] & ~m["ok_floor"],
            "vad_peak": ph & m["ok_abs"] & m["ok_floor"] & ~m["ok_peak"], "bridge": ph & m["raw"] & ~m["active"],
            "class": ph & m["active"] & ~m["speech"]}
    c = job.condition
    out = {"id": job.id, "rate": job.rate, "noise": c.get("noise"), "snr_db": c.get("snr_db"),
           "severity": c.get("severity"), "degrade": c.get("degrade"), "phrase_s": float(ph.sum()) * HOP_S,
           "kept": float((ph & m["speech"]).sum()) * HOP_S,
           "over_floor_db": float(np.median((m["e"] - m["floor"])[ph])) if ph.any() else None}
    out.update({k: float(v.sum()) * HOP_S for k, v in lost.items()})
    return out


def main() -> None:
    args = sys.argv[1:]
    noises = args[args.index("--noise") + 1].split(",") if "--noise" in args else None
    jobs = [j for j in ev.load_jobs(args[0], "tune") if j.expect_critical
            and (noises is None or j.condition.get("noise") in noises)]
    rows = []
    for j in jobs:
        rows.append(row(j))
        print(json.dumps(rows[-1]), flush=True)
    Path(args[args.index("--json") + 1]).write_text(json.dumps(rows))
    sums: dict[tuple[str, str], np.ndarray] = {}
    for r in rows:
        s = sums.setdefault((r["noise"], r["severity"]), np.zeros(4))
        s += [r["phrase_s"], r["kept"], r["vad_floor"], r["class"]]
    for (noise, sev), s in sorted(sums.items()):
        print(f"{noise:7s} {sev:9s} phrase {s[0]:5.0f} s  kept {100 * s[1] / s[0]:3.0f} %  "
              f"lost to the floor margin {s[2]:4.0f} s, to the sound class {s[3]:4.0f} s")


if __name__ == "__main__":
    main()
