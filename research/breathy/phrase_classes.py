"""What the sound classifier made of the caller's labelled phrases: per file, the share of the frames
inside the caller's phrases (first 60 s) taken for silence, speech, breath or another sound, from the
cached frames of ``tools.evaluate``.

    PYTHONPATH=. python research/breathy/phrase_classes.py DIR --cache CACHE [--split all] [--ids ID,ID]
        [--negative breathy]

Without ``--ids``, the files of the hard negative ``--negative`` (or, with ``--negative none``, the
normal calls), then the medians.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from monitor.analysis.frame_features import Frames
from tools import evaluate as ev
from tools.background_talk import inside, label_spans
from tools.evaluate import FrameRecord, cache_load, frames_key

FIRST_S = 60.0
NAMES = ("silence", "speech", "breath", "other")


def caller_frames(record: FrameRecord) -> Frames:
    i = record.legs.index("caller")
    return Frames.concat([fed[i] for fed in record.fed] + [record.flushed[i]])


def shares(job: ev.Job, cache: str) -> np.ndarray | None:
    record = cache_load(cache, frames_key(job), FrameRecord)
    if record is None:
        return None
    fr = caller_frames(record)
    label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
    sound = fr.sound[inside(fr.t, label_spans(label)["caller_phrases"], 0.0) & (fr.t < FIRST_S)]
    return np.array([np.mean(sound == k) for k in range(len(NAMES))])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--ids", default="")
    p.add_argument("--negative", default="breathy")
    a = p.parse_args()
    ids = set(a.ids.split(",")) - {""}
    neg = None if a.negative == "none" else a.negative
    got = []
    for job in ev.load_jobs(a.dir, a.split):
        c = job.condition
        if ids and job.id not in ids or not ids and (c.get("negative") != neg or c.get("group") == "labored"):
            continue
        s = shares(job, a.cache)
        if s is None:
            continue
        got.append(s)
        print(f"{job.id:<12} {job.rate:>5} {c.get('noise'):<7} snr {c.get('snr_db')} "
              + " ".join(f"{n} {v:.2f}" for n, v in zip(NAMES, s)))
    if got:
        print("median " + " ".join(f"{n} {v:.2f}" for n, v in zip(NAMES, np.median(got, axis=0))))


if __name__ == "__main__":
    main()
