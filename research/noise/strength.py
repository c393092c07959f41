"""Periodicity (correlation strength) of the caller's phrase frames the sound class takes for breath
or cough, against the labelled inhalations it takes for breath, per file (research script).

    PYTHONPATH=. python research/noise/strength.py CORPUS ID [ID ...]      # 16 kHz
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


def spread(x: np.ndarray) -> str:
    return "-" if not x.size else " / ".join(f"{v:.2f}" for v in np.percentile(x, [10, 50, 90]))


def main() -> None:
    corpus, ids = sys.argv[1], set(sys.argv[2:])
    for job in ev.load_jobs(corpus, "tune", rates=(16000,)):
        if job.id not in ids:
            continue
        label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
        m = stage_masks(caller_samples(job), job.rate, an.AnalyzerConfig())
        phrases = inside(m["t"], label_spans(label)["caller_phrases"], 0.0)
        inh = [(i["start_s"], i["end_s"]) for t in label["turns"] if t["speaker"] == "caller"
               for i in t.get("inhalations", [])]
        breaths = inside(m["t"], inh, 0.0) if inh else np.zeros_like(phrases)
        taken = phrases & m["active"] & (m["sound"] != SPEECH)
        real = breaths & (m["sound"] != SPEECH) & (m["sound"] != SILENCE)
        c = job.condition
        print(f"{job.id} {c['noise']} {c['snr_db']} {c['severity']}: phrase taken {taken.sum() / 100:4.1f} s, strength "
              f"p10/50/90 {spread(m['strength'][taken])} | inhalations as breath {real.sum() / 100:4.1f} s, "
              f"{spread(m['strength'][real])} | phrase kept {spread(m['strength'][phrases & (m['sound'] == SPEECH)])}")


if __name__ == "__main__":
    main()
