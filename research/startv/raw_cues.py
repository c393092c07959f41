"""Per hop, the caller's long-window cues as measured (cached cue streams only), for ``cue_table.py``.

    PYTHONPATH=. python research/startv/raw_cues.py DIR --cache CACHE [--split tune] --pkl OUT.pkl

Per file: id, rate, onset, condition, expect / forbid, and per caller hop ``t``, ``speech_s`` and the
cues of :data:`CUES` (NaN where absent).
"""

from __future__ import annotations

import argparse
import pickle

import numpy as np

from tools import evaluate as ev

CUES = ("speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_pause_s", "mean_phrase_s",
        "hnr_db", "cpps_db", "response_latency_s", "paused_breath_share", "breaths_per_min")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--cache", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--pkl", required=True)
    a = p.parse_args()
    cfg = ev.make_config(ev.Settings())
    out = []
    for job, stream in ev.cue_streams(ev.load_jobs(a.folder, a.split), cfg, a.cache):
        hops = [c for c in stream.cues if c.channel == "caller"]
        tr = {"t": np.array([c.t for c in hops]), "speech_s": np.array([c.speech_s or 0.0 for c in hops])}
        tr.update({n: np.array([np.nan if c.value(n) is None else float(c.value(n)) for c in hops])
                   for n in CUES})
        out.append({"id": job.id, "rate": job.rate, "onset": job.onset_s, "cond": job.condition,
                    "expect": job.expect_critical, "forbid": job.forbid_critical, "tr": tr})
    with open(a.pkl, "wb") as fh:
        pickle.dump(out, fh)


if __name__ == "__main__":
    main()
