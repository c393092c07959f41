"""Caller speech heard against the label's caller phrase time, before the onset (60 s) and in the 30 s
after it, per line noise and degrade, for the tuning half's expect-critical files (research script).

    PYTHONPATH=. python research/noise/heard.py CORPUS CACHE OUT.json
"""
from __future__ import annotations

import bisect
import json
import sys
from collections import defaultdict

from monitor.config.loader import load_config
from tools.evaluate import cached_stream, load_jobs


def phrase_s(label: dict, a: float, b: float) -> float:
    return sum(max(0.0, min(b, p["end_s"]) - max(a, p["start_s"]))
               for t in label["turns"] if t["speaker"] == "caller" for p in t["phrases"])


def main() -> None:
    corpus, cache, out_path = sys.argv[1:4]
    cfg = load_config(None, {}, user_config=False)
    rows = []
    for job in load_jobs(corpus, "tune"):
        if not job.expect_critical:
            continue
        label = json.load(open(f"{corpus}/{job.id}.json"))
        stream, _ = cached_stream(job, cfg, cache)
        hops = [c for c in stream.cues if c.call_speech_s is not None]
        ts, total = [c.t for c in hops], [c.call_speech_s for c in hops]

        def heard(a: float, b: float) -> float:
            at = lambda t: total[i] if (i := bisect.bisect_right(ts, t) - 1) >= 0 else 0.0  # noqa: E731
            return at(b) - at(a)

        on, c = job.onset_s or 0.0, job.condition
        rows.append(dict(id=job.id, rate=job.rate, noise=c["noise"], degrade=c["degrade"], onset=c["onset"],
                         severity=c["severity"], pre_label=phrase_s(label, max(0.0, on - 60), on),
                         pre_heard=heard(max(0.0, on - 60), on), post_label=phrase_s(label, on, on + 30),
                         post_heard=heard(on, on + 30)))
    json.dump(rows, open(out_path, "w"))
    sums = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for r in rows:
        for key in ((r["noise"], "*"), (r["noise"], r["degrade"])):
            s = sums[key]
            s[0] += r["pre_heard"]; s[1] += r["pre_label"]; s[2] += r["post_heard"]; s[3] += r["post_label"]  # noqa: E702
    for (noise, deg), s in sorted(sums.items()):
        print(f"{noise:7s} {deg:15s} before onset {s[0]:5.0f} / {s[1]:5.0f} s = {100 * s[0] / max(s[1], 1):4.0f} %"
              f"   30 s after {s[2]:5.0f} / {s[3]:5.0f} s = {100 * s[2] / max(s[3], 1):4.0f} %")


if __name__ == "__main__":
    main()
