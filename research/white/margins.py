"""The voice activity's floor margin against the floor's steadiness, offline (research script).

    PYTHONPATH=. python research/white/margins.py DIR [--noise white,babble]

Per tuning-half file (caller channel, whole signal): the seconds of labelled caller phrase time
and of time outside the caller's turns (holds, agent turns, gaps) that the voice activity takes
for speech (before the sound class and the gate), with today's 6 dB margin and with a margin of
``clip(gain * spread, low, 6)``, where ``spread`` is the trailing 4 s minimum of the 250 ms
smoothed level over that of the 90 ms smoothed level (the floor): ~0.2-0.6 dB over white, pink,
hum and the clean line's own floor, 2.5-5 dB over babble.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from monitor.analysis import analyzer as an
from monitor.dsp.energy import noise_floor_db, peak_level, smooth_db, trailing_min
from monitor.dsp.runs import bridged_runs
from research.white.stages import caller_samples
from tools import evaluate as ev
from tools.background_talk import inside, label_spans

VARIANTS = ((6.0, 0.0), (3.0, 4.0), (2.0, 4.0), (2.0, 3.0), (1.5, 4.0), (2.0, 6.0))


def main() -> None:
    args = sys.argv[1:]
    noises = args[args.index("--noise") + 1].split(",") if "--noise" in args else None
    a = ev.corpus_tool_parser("margins", "x").parse_args([args[0], "--split", "tune"])
    _, _, jobs = ev.corpus_of(a)
    cfg = an.AnalyzerConfig()
    v = cfg.vad
    for j in jobs:
        if noises and j.condition.get("noise") not in noises:
            continue
        spans = label_spans(json.loads(Path(j.path).with_name(f"{j.id}.json").read_text()))
        lay = an._Layout.make(j.rate, cfg)
        raw = an._whole_raw(caller_samples(j), lay, cfg)
        e, s = raw["energy_db"], raw["strength"]
        floor, level = noise_floor_db(e, v), peak_level(e, v)
        spread = trailing_min(smooth_db(e, 25), v.floor_window_frames) - floor
        t = (np.arange(len(e)) * lay.hop + lay.win / 2) / lay.rate
        ph = inside(t, spans["caller_phrases"], 0.0)
        turn = inside(t, spans["caller_turns"], 0.15)
        hold = inside(t, spans["holds"], 0.0) & ~turn
        agent = inside(t, spans["agent_turns"], 0.0) & ~turn & ~hold
        gap = ~turn & ~hold & ~agent
        rescue = (s >= v.periodic_strength) & (e > np.maximum(level - v.periodic_below_peak_db, v.absolute_min_db))
        out = {"id": j.id, "rate": j.rate, "noise": j.condition.get("noise"), "snr_db": j.condition.get("snr_db"),
               "packet_loss": bool(j.condition.get("packet_loss")), "phrase_s": float(ph.sum()) / 100}
        for low, gain in VARIANTS:
            margin = np.clip(gain * spread, low, v.floor_margin_db)
            r = e > np.maximum(np.maximum(floor + margin, level - v.below_peak_db), v.absolute_min_db)
            act = bridged_runs(r | rescue, v.min_gap_frames, v.min_speech_frames)
            out[f"{low:g}/{gain:g}"] = [float((act & m).sum()) / 100 for m in (ph, hold, agent, gap)]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
