"""The shape of the caller leg's speech runs on babble files: the caller's phrases against the
babble, by run peak against the caller's level (whole calls, ungated).

    PYTHONPATH=. python research/babble/run_shapes.py DIR --split tune --cache CACHE

A run is the caller's when more than half of it lies in a labelled phrase of theirs, babble when
less than a tenth of it lies in the caller's turns. Per run (at least ``--min-s`` long, peaking
within 10 dB of the caller's level): depth = its loudest frame less its median frame (dB), and the
standard deviation of its frames' energy (dB); percentiles 10/25/50/75/90 by the caller's severity.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from monitor.analysis.frame_features import HOP_S, Frames
from monitor.dsp.voice_gate import run_peaks, speaker_level_db
from tools import evaluate as ev
from tools.background_talk import inside, label_spans
from tools.evaluate import FrameRecord, cache_load, frames_key


def file_runs(job: ev.Job, cache_dir: str) -> list[tuple[str, str, float, float, float, float]]:
    """(kind, severity, length s, peak - level dB, depth dB, std dB) of each run of one file."""
    record = cache_load(cache_dir, frames_key(job), FrameRecord)
    i = record.legs.index("caller")
    me = Frames.concat([step[i] for step in record.fed] + [record.flushed[i]])
    spans = label_spans(json.loads(Path(job.path).with_name(f"{job.id}.json").read_text()))
    level = speaker_level_db(me.energy_db, me.speech)
    phrase, turn = inside(me.t, spans["caller_phrases"], 0.05), inside(me.t, spans["caller_turns"])
    e = me.energy_db.astype(np.float64)
    out = []
    for a, b, peak in zip(*run_peaks(me.energy_db, me.speech)):
        kind = "caller" if phrase[a:b].mean() > 0.5 else "babble" if turn[a:b].mean() < 0.1 else "other"
        out.append((kind, job.condition.get("severity"), (b - a) * HOP_S, peak - level,
                    peak - float(np.median(e[a:b])), float(e[a:b].std())))
    return out


def main() -> None:
    ap = ev.corpus_tool_parser("run_shapes", __doc__.split("\n\n")[0])
    ap.add_argument("--min-s", type=float, default=1.0)
    args = ap.parse_args()
    settings, _, jobs = ev.corpus_of(args)
    rows = [r for j in jobs if j.condition.get("noise") == "babble" for r in file_runs(j, settings.cache_dir)]
    for kind, sevs in (("caller", ("none",)), ("caller", ("mild",)), ("caller", ("moderate",)),
                       ("caller", ("severe",)), ("babble", ("none", "mild", "moderate", "severe"))):
        sel = np.array([r[2:] for r in rows if r[0] == kind and r[1] in sevs and r[2] >= args.min_s and r[3] >= -10.0])
        pct = [" ".join(f"{x:5.1f}" for x in np.percentile(sel[:, c], [10, 25, 50, 75, 90])) for c in (2, 3)]
        print(f"{kind:7} {'/'.join(sevs) if kind == 'caller' else 'all':9} runs {len(sel):5} {sel[:, 0].sum():7.1f} s"
              f"  depth {pct[0]}  std {pct[1]}")


if __name__ == "__main__":
    main()
