"""The rhythm of the caller's phrases at each first critical: false ones and labored detections.

    PYTHONPATH=. .venv/bin/python research/spell/phrase_rhythm.py CORPUS_DIR CACHE_DIR [SPLIT]

CACHE_DIR is a ``tools.evaluate --cache`` folder holding the split's frames (and cues). Per file
with a first critical (a healthy file's, or a labored file's after its onset): its families, and
over the long window's span at the critical (W) and over the caller's last 4 s of speech in it (L)
the phrases (speech runs split by silences of 0.25 s or more): their count, mean length, the
coefficients of variation of their lengths (``ph_cv``), of the pauses between them under 3 s
(``ps_cv``) and of the intervals between their onsets (``ioi_cv``), the share with at most one
syllable nucleus (``one``) and the nuclei per phrase (``syl``). A spelled name's letters are one
nucleus each at an even pace; the question is whether labored callers' short phrases are less even.
"""
from __future__ import annotations

import sys

import numpy as np

from monitor.analysis.frame_features import _COLUMNS, Frames
from monitor.dsp.runs import runs
from monitor.events import AlertEvent
from tools import evaluate as ev

MIN_PAUSE = 25  # frames (0.25 s)
LAST_SPEECH = 400  # frames of speech (4 s)


def caller_frames(record: ev.FrameRecord) -> Frames:
    """The caller leg's frames of a replayed file, in order."""
    i = record.legs.index("caller")
    parts = [fed[i] for fed in record.fed] + [record.flushed[i]]
    return Frames(*[np.concatenate([getattr(p, c) for p in parts]) for c in _COLUMNS])


def _cv(x: np.ndarray) -> float:
    return float(np.std(x) / np.mean(x)) if len(x) > 2 and np.mean(x) > 0 else float("nan")


def rhythm(frames: Frames) -> dict[str, float] | None:
    """Phrase statistics of a span (shape (n,) frames), or None with fewer than 3 speech runs."""
    s, e = runs(frames.speech)
    if len(s) < 3:
        return None
    split = np.r_[True, (s[1:] - e[:-1]) >= MIN_PAUSE]
    starts, ends = s[split], e[np.r_[split[1:], True]]
    gaps = (starts[1:] - ends[:-1]) * 0.01
    inner = gaps < 3.0
    total = np.r_[0, np.cumsum(frames.nucleus, dtype=np.int64)]
    nuclei = total[ends] - total[starts]
    lengths = (ends - starts) * 0.01
    return {"n": float(len(starts)), "ph": float(np.mean(lengths)), "ph_cv": _cv(lengths),
            "ps_cv": _cv(gaps[inner]), "ioi_cv": _cv(np.diff(starts)[inner] * 0.01),
            "one": float(np.mean(nuclei <= 1)), "syl": float(np.mean(nuclei))}


def spans_at(frames: Frames, t: float, window_s: float) -> tuple[Frames, Frames]:
    """The long window's span ending at ``t`` (frames held back 0.95 s) and its last 4 s of speech."""
    end = t - 0.95
    span = frames[(frames.t >= end - window_s) & (frames.t < end)]
    k = int(np.searchsorted(np.cumsum(span.speech[::-1]), LAST_SPEECH))
    return span, span[max(0, len(span) - k - 1):]


def main(corpus: str, cache: str, split: str) -> None:
    cfg = ev.make_config(ev.Settings())
    jobs = [j for j in ev.load_jobs(corpus, split) if j.expect_critical or j.forbid_critical]
    show = lambda d: "-" if d is None else " ".join(f"{k}={v:.2f}" for k, v in d.items())
    for job in jobs:
        stream, _ = ev.cached_stream(job, cfg, cache)
        record = ev.cache_load(cache, ev.frames_key(job), ev.FrameRecord)
        if stream is None or record is None:
            continue
        events = ev.judge_cues(stream, cfg)
        crit = next((a for a in events if isinstance(a, AlertEvent) and a.severity == "critical"), None)
        if crit is None or (job.expect_critical and (job.onset_s is None or crit.t < job.onset_s)):
            continue
        cue = next(c for c in reversed(stream.cues) if c.t <= crit.t and c.channel == "caller")
        span, last = spans_at(caller_frames(record), crit.t, cue.window_s or 8.0)
        print("FA " if job.forbid_critical else "det", job.id, job.rate, crit.t,
              "+".join(sorted(crit.evidence["families"])), job.condition.get("degrade"),
              "| W", show(rhythm(span)), "| L", show(rhythm(last)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "tune")
