"""Whether each first critical (false, or a labored file's after its onset) was raised while the
caller was silent: the caller's speech in the call over the last three hops before it.

    PYTHONPATH=. .venv/bin/python research/spell/raised_in_silence.py CORPUS_DIR CACHE_DIR [SPLIT]
"""
from __future__ import annotations

import sys

from monitor.events import AlertEvent
from tools import evaluate as ev


def main(corpus: str, cache: str, split: str) -> None:
    cfg = ev.make_config(ev.Settings())
    counts: dict[tuple[str, bool], int] = {}
    for job in ev.load_jobs(corpus, split):
        if not (job.expect_critical or job.forbid_critical):
            continue
        stream, _ = ev.cached_stream(job, cfg, cache)
        if stream is None:
            continue
        crit = next((e for e in ev.judge_cues(stream, cfg) if isinstance(e, AlertEvent) and e.severity == "critical"), None)
        if crit is None or (job.expect_critical and (job.onset_s is None or crit.t < job.onset_s)):
            continue
        spoken = [c.call_speech_s or 0.0 for c in stream.cues if c.channel == "caller" and c.t <= crit.t][-4:]
        grew = [round(b - a, 2) for a, b in zip(spoken, spoken[1:])]
        kind, silent = ("FA" if job.forbid_critical else "det"), grew[-1] <= 0.05
        counts[(kind, silent)] = counts.get((kind, silent), 0) + 1
        print(kind, job.id, job.rate, crit.t, "silent" if silent else "speaking", grew)
    print({f"{k} {'silent' if s else 'speaking'}": n for (k, s), n in sorted(counts.items())})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "tune")
