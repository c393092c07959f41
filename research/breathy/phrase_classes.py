"""What the sound classifier made of the caller's labelled phrases: per file, the share of the frames
inside the caller's phrases (first 60 s) taken for silence, speech, breath or another sound, from the
cached frames of ``tools.evaluate``.

    PYTHONPATH=. python research/breathy/phrase_classes.py DIR --cache CACHE [--split all] [--ids ID,ID]
        [--negative breathy] [--levels]

Without ``--ids``, the files of the hard negative ``--negative`` (or, with ``--negative none``, the
normal calls), then the medians. ``--levels``: per class, the frames' level over the noise floor
(median, 10th and 90th percentile) and the share voiced, and the caller's pauses inside phrases
(non-speech runs of ``analysis.min_pause_s`` or more).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from monitor.analysis.frame_features import HOP_S, Frames
from tools import evaluate as ev
from tools.background_talk import inside, label_spans
from tools.evaluate import FrameRecord, cache_load, frames_key

FIRST_S = 60.0
NAMES = ("silence", "speech", "breath", "other")


def caller_frames(record: FrameRecord) -> Frames:
    i = record.legs.index("caller")
    return Frames.concat([fed[i] for fed in record.fed] + [record.flushed[i]])


def phrase_frames(job: ev.Job, cache: str) -> tuple[Frames, np.ndarray] | None:
    """The caller's frames and which of them lie inside their labelled phrases before ``FIRST_S``."""
    record = cache_load(cache, frames_key(job), FrameRecord)
    if record is None:
        return None
    fr = caller_frames(record)
    label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
    return fr, inside(fr.t, label_spans(label)["caller_phrases"], 0.0) & (fr.t < FIRST_S)


def levels(fr: Frames, ph: np.ndarray, min_pause_s: float) -> str:
    """Per class, the phrase frames' level over the noise floor and share voiced; the pauses."""
    over = fr.energy_db - fr.floor_db
    out = []
    for k, name in enumerate(NAMES):
        m = ph & (fr.sound == k)
        if m.any():
            p10, p50, p90 = np.percentile(over[m], [10, 50, 90])
            out.append(f"  {name:<7} {m.sum():5d} frames, over the floor {p50:5.1f} dB ({p10:.1f}-{p90:.1f}), "
                       f"voiced {fr.voiced[m].mean():.2f}")
    edges = np.diff(np.r_[0, (ph & (fr.sound != 1)).astype(np.int8), 0])
    runs = (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)) * HOP_S
    long = runs[runs >= min_pause_s - 1e-9]
    out.append(f"  non-speech runs inside phrases {len(runs)} ({runs.sum():.1f} s), pauses {len(long)} ({long.sum():.1f} s)")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--ids", default="")
    p.add_argument("--negative", default="breathy")
    p.add_argument("--levels", action="store_true")
    a = p.parse_args()
    min_pause_s = ev.make_config(ev.Settings()).analysis.min_pause_s
    ids = set(a.ids.split(",")) - {""}
    neg = None if a.negative == "none" else a.negative
    got = []
    for job in ev.load_jobs(a.dir, a.split):
        c = job.condition
        if ids and job.id not in ids or not ids and (c.get("negative") != neg or c.get("group") == "labored"):
            continue
        got_frames = phrase_frames(job, a.cache)
        if got_frames is None:
            continue
        fr, ph = got_frames
        s = np.array([np.mean(fr.sound[ph] == k) for k in range(len(NAMES))])
        got.append(s)
        print(f"{job.id:<12} {job.rate:>5} {c.get('noise'):<7} snr {c.get('snr_db')} "
              + " ".join(f"{n} {v:.2f}" for n, v in zip(NAMES, s)))
        if a.levels:
            print(levels(fr, ph, min_pause_s))
    if got:
        print("median " + " ".join(f"{n} {v:.2f}" for n, v in zip(NAMES, np.median(got, axis=0))))


if __name__ == "__main__":
    main()
