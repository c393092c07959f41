"""Lengths of the runs the sound class takes for breath or cough: inside the caller's labelled phrases
(speech taken) against inside the labelled inhalations (real breaths), 16 kHz, tuning half's
expect-critical files (research script).

    PYTHONPATH=. python research/noise/runs.py CORPUS [--noise white,pink,none]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "white"))
from stages import caller_samples, stage_masks  # noqa: E402

from monitor.analysis import analyzer as an  # noqa: E402
from monitor.dsp.sound_class import SILENCE, SPEECH  # noqa: E402
from tools import evaluate as ev  # noqa: E402
from tools.background_talk import inside, label_spans  # noqa: E402


def runs(mask: np.ndarray) -> np.ndarray:
    """Lengths (frames) of the runs of True in ``mask`` (shape (n,))."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def main() -> None:
    corpus = sys.argv[1]
    noises = sys.argv[sys.argv.index("--noise") + 1].split(",") if "--noise" in sys.argv else None
    got: dict[str, list[np.ndarray]] = {"speech taken": [], "inhalations": []}
    for job in ev.load_jobs(corpus, "tune", rates=(16000,)):
        if not job.expect_critical or (noises and job.condition.get("noise") not in noises):
            continue
        label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
        m = stage_masks(caller_samples(job), job.rate, an.AnalyzerConfig())
        other = (m["sound"] != SPEECH) & (m["sound"] != SILENCE)
        phrases = inside(m["t"], label_spans(label)["caller_phrases"], 0.0)
        inh = [(i["start_s"], i["end_s"]) for t in label["turns"] if t["speaker"] == "caller"
               for i in t.get("inhalations", [])]
        got["speech taken"].append(runs(other & phrases))
        if inh:
            got["inhalations"].append(runs(other & inside(m["t"], inh, 0.0)))
    for what, parts in got.items():
        r = np.concatenate(parts) / 100.0 if parts else np.zeros(0)
        r = r[r >= 0.15]
        print(f"{what:13s} runs {len(r):4d}  {r.sum():6.1f} s  length p10/50/90 "
              + " / ".join(f"{v:.2f}" for v in np.percentile(r, [10, 50, 90]))
              + "  seconds in runs > 0.6 / 0.8 / 1.0 s: "
              + " / ".join(f"{r[r > x].sum():.1f}" for x in (0.6, 0.8, 1.0)))


if __name__ == "__main__":
    main()
