"""Digital silence (exact zeros) in the caller's channel against the analyzer's noise floor.

For a noisy evaluation call (labels: the caller's phrases), three kinds of test signal:

* ``gap``: ``gap_s`` seconds inserted into both legs at the middle of a caller pause (the first
  pause of at least 1 s from ``--at``): the caller's leg exact zeros (variant Z) or the caller's
  own line noise, tiled from their longest pause (variant N); the agent's leg the same line noise
  of the agent's in both. The 10 s after the gap are the same samples in both: their frames and
  the cues and alerts of the call, the gap marked as not heard in both (as the live capture marks
  a lost source: the analyzer's level trackers skip it), are compared.
* ``dtx``: every caller sample outside the labelled caller phrases set to zero, against the
  original.

Usage (repository root): ``PYTHONPATH=. .venv/bin/python research/silence/measure.py gap eval_1127 --gap-s 10``
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import soundfile as sf

from monitor.analysis.analyzer import analyze_signal
from monitor.capture.sources import Chunk
from monitor.config import load_config
from monitor.pipeline import CallPipeline, run_source

EVAL = Path("audio_fixtures/generated/eval")
AFTER_S = 10.0


def load(name: str, rate: int) -> tuple[np.ndarray, dict]:
    """The call's legs, caller first (shape (n, 2)), and its labels."""
    labels = json.loads((EVAL / f"{name}.json").read_text())
    x, r = sf.read(EVAL / labels["files"][str(rate)], dtype="float32")
    assert r == rate
    return x[:, [labels["channels"]["caller"], labels["channels"]["agent"]]].copy(), labels


def phrases(labels: dict, speaker: str = "caller") -> np.ndarray:
    """The speaker's labelled phrases (shape (k, 2), seconds)."""
    return np.array([(p["start_s"], p["end_s"]) for t in labels["turns"] if t["speaker"] == speaker
                     for p in t["phrases"]])


def pauses(ph: np.ndarray, duration: float) -> np.ndarray:
    """The stretches without a caller phrase (shape (k, 2))."""
    edges = np.concatenate([[0.0], ph.ravel(), [duration]]).reshape(-1, 2)
    return edges[edges[:, 1] > edges[:, 0]]


def line_noise(leg: np.ndarray, rate: int, quiet: np.ndarray, n: int) -> np.ndarray:
    """``n`` samples of the leg's line noise, tiled from its longest quiet stretch (less 0.2 s each end)."""
    a, b = quiet[np.argmax(quiet[:, 1] - quiet[:, 0])]
    return np.resize(leg[int((a + 0.2) * rate):int((b - 0.2) * rate)], n)


def frame_figures(x: np.ndarray, rate: int, t0: float, t1: float, ph: np.ndarray, shift: float = 0.0,
                  unheard: tuple[tuple[int, int], ...] = ()) -> dict:
    """Caller frames in [t0, t1) (``unheard``: sample ranges marked not heard, as the capture marks a
    lost source): speech frames, those outside the labelled phrases (false), nuclei, breath and
    cough frames, the noise floor's median."""
    f = analyze_signal(x, rate, unheard=unheard).between(t0, t1)
    inside = np.zeros(len(f), bool)
    for a, b in ph + shift:
        inside |= (f.t >= a - 0.05) & (f.t < b + 0.05)
    return {"speech": int(f.speech.sum()), "false_speech": int((f.speech & ~inside).sum()),
            "nuclei": int(f.nucleus.sum()), "false_nuclei": int((f.nucleus & ~inside).sum()),
            "breath": int((f.sound == 2).sum()), "cough": int((f.sound == 3).sum()),
            "floor_median": round(float(np.median(f.floor_db)), 1), "floor_min": round(float(f.floor_db.min()), 1)}


def judged(x: np.ndarray, rate: int, gap: tuple[int, int] | None) -> list:
    """The pipeline's events for the call (caller, agent), the caller's samples ``gap`` marked not heard."""
    step = rate // 2

    def chunks():
        for s in range(0, len(x), step):
            e = min(len(x), s + step)
            inside = gap is not None and gap[0] < e and gap[1] > s
            yield Chunk(s / rate, x[s:e], unheard=((0, max(gap[0], s) - s, min(gap[1], e) - s),) if inside else ())

    return run_source(CallPipeline(load_config(None, user_config=False), rate, ("caller", "agent")), chunks(), [])


CUES = ("speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_pause_s", "mean_phrase_s", "hnr_db",
        "cpps_db", "loudness_dbfs", "breaths_per_min", "paused_breath_share", "coughs_per_min", "speech_s")


def cue_figures(events: list, t0: float, t1: float) -> dict:
    """The caller's cues at the hop nearest ``t1`` and the alerts (kind, time) from ``t0`` on."""
    cues = [e for e in events if e.type == "cues" and e.channel == "caller" and t0 <= e.t <= t1]
    last = cues[-1] if cues else None
    out = {k: (None if last is None or getattr(last, k) is None else round(getattr(last, k), 2)) for k in CUES}
    out["alerts_after"] = [(e.kind, round(e.t, 1)) for e in events if e.type == "alert" and e.t >= t0]
    out["alerts_all"] = [(e.kind, round(e.t, 1)) for e in events if e.type == "alert"]
    return out


def gap_case(name: str, rate: int, gap_s: float, at: float, cues: bool) -> dict:
    x, labels = load(name, rate)
    ph = phrases(labels)
    quiet = pauses(ph, labels["duration_s"])
    a, b = next(p for p in quiet if p[0] >= at and p[1] - p[0] >= 1.0)
    cut, n = int((a + b) / 2 * rate), int(gap_s * rate)
    agent = line_noise(x[:, 1], rate, pauses(phrases(labels, "agent"), labels["duration_s"]), n)
    out = {"call": name, "noise": labels["line"]["noise"], "snr_db": labels["line"]["snr_db"],
           "gap_at_s": round(cut / rate, 2), "gap_s": gap_s}
    for variant, caller in (("zeros", np.zeros(n, np.float32)), ("line_noise", line_noise(x[:, 0], rate, quiet, n))):
        y = np.concatenate([x[:cut], np.stack([caller, agent], axis=1), x[cut:]])
        t0 = (cut + n) / rate
        shifted = np.where(ph >= cut / rate, ph + gap_s, ph)
        fig = frame_figures(y[:, 0], rate, t0, t0 + AFTER_S, shifted, unheard=((cut, cut + n),))
        if cues:
            fig.update(cue_figures(judged(y, rate, (cut, cut + n)), t0, t0 + AFTER_S))
        out[variant] = fig
    return out


def dtx_case(name: str, rate: int, cues: bool) -> dict:
    x, labels = load(name, rate)
    ph = phrases(labels)
    keep = np.zeros(len(x), bool)
    for a, b in ph:
        keep[int(a * rate):int(b * rate)] = True
    out = {"call": name, "noise": labels["line"]["noise"], "snr_db": labels["line"]["snr_db"],
           "zero_share": round(float(1 - keep.mean()), 3)}
    end = len(x) / rate
    for variant, y in (("original", x), ("dtx", np.stack([np.where(keep, x[:, 0], 0.0), x[:, 1]], axis=1))):
        y = y.astype(np.float32)
        fig = frame_figures(y[:, 0], rate, 0.0, end, ph)
        if cues:
            events = judged(y, rate, None)
            fig.update(cue_figures(events, 0.0, end))
            cue = [e for e in events if e.type == "cues" and e.channel == "caller"]
            for k in ("speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_phrase_s"):
                vals = [getattr(e, k) for e in cue if getattr(e, k) is not None]
                fig[f"{k}_median"] = round(float(np.median(vals)), 2) if vals else None
        out[variant] = fig
    return out


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=("gap", "dtx"))
    p.add_argument("names", nargs="+")
    p.add_argument("--rate", type=int, default=8000)
    p.add_argument("--gap-s", type=float, default=10.0)
    p.add_argument("--at", type=float, default=30.0, help="the gap goes into the first caller pause from here")
    p.add_argument("--no-cues", action="store_true", help="frames only (no pipeline run)")
    args = p.parse_args()
    for name in args.names:
        res = (gap_case(name, args.rate, args.gap_s, args.at, not args.no_cues) if args.case == "gap"
               else dtx_case(name, args.rate, not args.no_cues))
        print(json.dumps(res))


if __name__ == "__main__":
    main()
