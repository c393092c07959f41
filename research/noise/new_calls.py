"""New severe labored callers over white noise (the corpus machinery, seeds it never holds), each
judged with possible_emergency.stale_s 10 and 20 (research script).

    PYTHONPATH=. python research/noise/new_calls.py OUT SNR_DB SEED [SEED ...]

One call per seed (cell: severe, abrupt onset, all cues; white noise at SNR_DB, no codec, packet
loss, hold or overlap), 16 kHz, replayed once; prints per seed the onset and, per stale_s, the time
from the onset to the first critical, the criticals and the warnings.
"""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from monitor.config import load_config
from tools import eval_corpus as ec
from tools import evaluate as ev


def main() -> None:
    out, snr, seeds = Path(sys.argv[1]), float(sys.argv[2]), [int(s) for s in sys.argv[3:]]
    out.mkdir(parents=True, exist_ok=True)
    line = tuple(sorted(dict(noise="white", snr_db=snr, codec="none", packet_loss=False, hold=False,
                             overlap=False).items()))
    cell = ec.Cell("labored", "severe", "abrupt", "all", line=line)
    inputs = ec.corpus_inputs()
    espeak = ec.prepare_espeak(out)
    for seed in seeds:
        folder = out / f"s{seed}"
        folder.mkdir(exist_ok=True)
        digest = ec.sha({"inputs": inputs, "seed": seed, "cell": asdict(cell)})
        ec.generate(ec.Job(folder, seed, cell, "wn", digest, espeak, tuple(sorted(inputs["versions"].items()))))
        ec.write_index(folder, [f"wn_{seed}"])
        job = next(iter(ev.load_jobs(folder, "all", rates=(16000,))))
        stream = ev.replay_file(job, load_config(None, user_config=False))[2]
        judged = []
        for stale in (10.0, 20.0):
            cfg = load_config(None, {"rules.possible_emergency.stale_s": stale}, user_config=False)
            r = ev.file_result(job, ev.judge_cues(stream, cfg), "cache")
            judged.append((stale, r["time_to_critical_s"], r["criticals"], r["warnings"]))
        print(seed, job.onset_s, judged, flush=True)


if __name__ == "__main__":
    main()
