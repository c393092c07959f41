"""Would a speech-band level hear the labored caller over white and pink noise? (research script)

    PYTHONPATH=. python research/noise/band_floor.py CORPUS [--noise white,pink,none]

For the tuning half's expect-critical files (16 kHz): the caller channel's level per 10 ms (30 ms
frames), over the whole band and band-passed to 150-1000 Hz (where a voice's energy lies, and an
eighth of a white noise's), each against its own noise floor (``noise_floor_db``, VadParams'
defaults) plus the 6 dB margin: the seconds of labelled caller phrase time in the 30 s after the
onset above it, and the seconds outside any caller phrase, inhalation or 0.3 s around them (false speech).
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "white"))
from stages import caller_samples  # noqa: E402

from monitor.dsp.energy import VadParams, frame_energy_db, noise_floor_db  # noqa: E402
from tools import evaluate as ev  # noqa: E402
from tools.background_talk import inside, label_spans  # noqa: E402

HOP, FRAME, MARGIN = 0.010, 0.030, 6.0


def levels(x: np.ndarray, rate: int) -> np.ndarray:
    hop, frame = int(HOP * rate), int(FRAME * rate)
    n = max(0, (len(x) - frame) // hop + 1)
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    return frame_energy_db(x[idx].astype(np.float32))


def main() -> None:
    corpus = sys.argv[1]
    noises = sys.argv[sys.argv.index("--noise") + 1].split(",") if "--noise" in sys.argv else None
    sos = butter(4, [150, 1000], btype="bandpass", fs=16000, output="sos")
    sums = defaultdict(lambda: np.zeros(5))
    for job in ev.load_jobs(corpus, "tune", rates=(16000,)):
        if not job.expect_critical or (noises and job.condition.get("noise") not in noises):
            continue
        label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
        x = caller_samples(job)
        spans = label_spans(label)
        inh = [(i["start_s"], i["end_s"]) for t in label["turns"] if t["speaker"] == "caller"
               for i in t.get("inhalations", [])]
        row = []
        for y in (x, sosfilt(sos, x)):
            e = levels(y, job.rate)
            t = np.arange(len(e)) * HOP + FRAME / 2
            on = job.onset_s or 0.0
            ph = inside(t, spans["caller_phrases"], 0.0)
            post = ph & (t >= on) & (t <= on + 30)
            away = ~inside(t, spans["caller_phrases"], 0.3) & ~(inside(t, inh, 0.3) if inh else np.zeros_like(ph))
            above = e > noise_floor_db(e, VadParams()) + MARGIN
            row.append(((post & above).sum() * HOP, (away & above).sum() * HOP))
        key = (job.condition["noise"], job.condition["severity"])
        sums[key] += [post.sum() * HOP, row[0][0], row[1][0], row[0][1], row[1][1]]
        print(job.id, key, f"post {post.sum() * HOP:5.1f} s: full {row[0][0]:5.1f} band {row[1][0]:5.1f} | "
              f"false full {row[0][1]:5.1f} band {row[1][1]:5.1f}", flush=True)
    for k, s in sorted(sums.items()):
        print(f"{k[0]:6s} {k[1]:9s} phrase s after onset {s[0]:6.1f}: full band {s[1]:6.1f} ({100 * s[1] / s[0]:3.0f} %),"
              f" 150-1000 Hz {s[2]:6.1f} ({100 * s[2] / s[0]:3.0f} %) | outside phrases: full {s[3]:6.1f} s, band {s[4]:6.1f} s")


if __name__ == "__main__":
    main()
