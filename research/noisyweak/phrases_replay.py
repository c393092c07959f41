"""As phrases.py, through the evaluation's pipeline (``tools.evaluate.replay_file``, the frames the
cue tracker gets), tuning half.

    PYTHONPATH=. python research/noisyweak/phrases_replay.py LABEL    # repository root
"""

import json
import sys

import numpy as np

from tools import evaluate as ev

sys.path.insert(0, "research/noisyweak")
from phrases import EVAL, FILES, line  # noqa: E402


def main(label: str) -> None:
    cfg = ev.make_config(ev.Settings())
    for job in ev.load_jobs(EVAL, "tune"):
        name = f"{job.id[-4:]}_{job.rate // 1000}k"
        if name not in FILES:
            continue
        _, record, _ = ev.replay_file(job, cfg)
        leg = record.legs.index("caller")
        frames = [step[leg] for step in record.fed] + [record.flushed[leg]]
        t, sound = np.concatenate([f.t for f in frames]), np.concatenate([f.sound for f in frames])
        print(line(label, name, t, sound, json.load(open(f"{EVAL}{job.id}.json"))), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
