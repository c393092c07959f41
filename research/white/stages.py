"""Where the caller's labelled phrase time is lost, stage by stage (research script).

    PYTHONPATH=. python research/white/stages.py DIR --cache CACHE [--noise white,none] [--json OUT]

For every tuning-half file: the caller's channel through the analyzer's stages again (whole
signal, which equals the stream), each frame inside a labelled caller phrase followed through
  vad_abs    level under VadParams.absolute_min_db
  vad_floor  level under the noise floor + its margin (energy.floor_margin_db; no periodic rescue)
  vad_peak   level more than below_peak_db under the recent peak
  bridge     raw decision True but dropped as a burst (negative: gaps bridged into speech)
  class      voice-active but classed breath / cough by the sound class
  gate       own_voice (analysis.voice_gate_db under the caller's held level)
  hold       hold_talk (analysis.voice_hold_gate_db, voice_hold_quiet_s)
the gate's verdicts SETTLE_S after each frame (tools.background_talk). Plus: nuclei inside the
phrases against the syllables of the phrase text, and the hops the tone check voids.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from monitor.analysis import analyzer as an
from monitor.analysis.frame_features import HOP_S
from monitor.capture.sources import FileSource
from monitor.dsp.energy import floor_margin_db, noise_floor_db, peak_level, slow_floor_db_from
from monitor.dsp.runs import bridged_runs
from monitor.dsp.sound_class import SPEECH
from tools import evaluate as ev
from tools.background_talk import gated_frames, inside, label_spans

STAGES = ("vad_abs", "vad_floor", "vad_peak", "bridge", "class", "gate", "hold")


def caller_samples(job: ev.Job) -> np.ndarray:
    src = FileSource(job.path, caller_channel=job.caller_channel, agent_channel=job.agent_channel,
                     block_s=ev.REPLAY_BLOCK_S)
    return np.concatenate([c.samples[:, 0] for c in src.chunks()])


def syllables(text: str) -> int:
    return sum(max(1, len(re.findall(r"[aeiouy]+", w))) for w in re.findall(r"[a-z']+", text.lower()))


def stage_masks(x: np.ndarray, rate: int, cfg: an.AnalyzerConfig) -> dict[str, np.ndarray]:
    lay = an._Layout.make(rate, cfg)
    raw = an._whole_raw(x.astype(np.float32), lay, cfg)
    e, s = raw["energy_db"], raw["strength"]
    floor = noise_floor_db(e, cfg.vad)
    level = peak_level(e, cfg.vad)
    v = cfg.vad
    ok_abs = e > v.absolute_min_db
    ok_floor = e > floor + floor_margin_db(floor, slow_floor_db_from(e, 0, v), v)
    ok_peak = e > level - v.below_peak_db
    rescue = (s >= v.periodic_strength) & (e > np.maximum(level - v.periodic_below_peak_db, v.absolute_min_db))
    raw_vad = (ok_abs & ok_floor & ok_peak) | rescue
    active = bridged_runs(raw_vad, v.min_gap_frames, v.min_speech_frames)
    fr = an._contextual(raw, 0, lay, cfg, an._Network.load())[0]
    return {"e": e, "floor": floor, "level": level, "strength": s, "ok_abs": ok_abs | rescue,
            "ok_floor": ok_floor | rescue, "ok_peak": ok_peak | rescue, "raw": raw_vad, "active": active,
            "speech": fr.speech, "sound": fr.sound, "nucleus": fr.nucleus, "t": fr.t}


def file_row(job: ev.Job, cfg, cache: str) -> dict:
    label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
    spans = label_spans(label)
    m = stage_masks(caller_samples(job), job.rate, an.AnalyzerConfig())
    rec = ev.cache_load(cache, ev.frames_key(job), ev.FrameRecord)
    ph = inside(m["t"], spans["caller_phrases"], 0.0)
    row = {"id": job.id, "rate": job.rate, "noise": job.condition.get("noise"), "snr_db": job.condition.get("snr_db"),
           "group": job.condition.get("group"), "severity": job.condition.get("severity"),
           "negative": job.condition.get("negative"), "phrase_s": float(ph.sum()) * HOP_S}
    lost = {}
    lost["vad_abs"] = ph & ~m["ok_abs"]
    lost["vad_floor"] = ph & m["ok_abs"] & ~m["ok_floor"]
    lost["vad_peak"] = ph & m["ok_abs"] & m["ok_floor"] & ~m["ok_peak"]
    lost["bridge"] = ph & m["raw"] & ~m["active"]
    gained_bridge = ph & ~m["raw"] & m["active"]
    lost["class"] = ph & m["active"] & ~m["speech"]
    g_off = gated_frames(rec, replace(cfg.analysis, voice_hold_quiet_s=0.0))
    g_on = gated_frames(rec, cfg.analysis)
    n = min(len(g_on.t), len(m["t"]))
    same = bool(np.array_equal(g_on.speech[:n], m["speech"][:n]))
    pad = lambda a: np.r_[a[:n], np.zeros(len(m["t"]) - n, bool)]
    gate_kept, both_kept = pad(g_off.settled), pad(g_on.settled)
    lost["gate"] = ph & m["speech"] & ~gate_kept
    lost["hold"] = ph & gate_kept & ~both_kept
    for k, v in lost.items():
        row[k] = float(v.sum()) * HOP_S
    row["bridge_gain"] = float(gained_bridge.sum()) * HOP_S
    row["kept"] = float((ph & both_kept).sum()) * HOP_S
    row["speech_vad"] = float((ph & m["active"]).sum()) * HOP_S
    row["identical"] = same
    # margins the floor test would pass at
    above = (m["e"] - m["floor"])[ph & m["ok_abs"] & m["ok_peak"]]
    for d in (1, 2, 3, 4, 5):
        row[f"floor_at_{d}"] = float(np.sum((above > d) & (above <= 6))) * HOP_S
    caller_turns = inside(m["t"], spans["caller_turns"], 0.5) | inside(m["t"], spans["agent_turns"], 0.0)
    quiet = ~caller_turns & ~inside(m["t"], spans["holds"], 0.0)
    row["floor_vs_noise_db"] = float(np.median(m["floor"][quiet]) - np.median(m["e"][quiet])) if quiet.any() else None
    row["noise_db"] = float(np.median(m["e"][quiet])) if quiet.any() else None
    row["noise_sd_db"] = float(np.std(m["e"][quiet])) if quiet.any() else None
    row["nuclei"] = int((m["nucleus"] & ph & both_kept).sum())
    row["syllables"] = sum(syllables(p["text"]) for t in label["turns"] if t["speaker"] == "caller"
                           for p in t.get("phrases", []))
    return row


def main() -> None:
    args = sys.argv[1:]
    folder, cache = args[0], args[args.index("--cache") + 1]
    noises = args[args.index("--noise") + 1].split(",") if "--noise" in args else None
    out = args[args.index("--json") + 1] if "--json" in args else None
    a = ev.corpus_tool_parser("stages", "x").parse_args([folder, "--split", "tune", "--cache", cache])
    settings, cfg, jobs = ev.corpus_of(a)
    jobs = [j for j in jobs if noises is None or j.condition.get("noise") in noises]
    rows = []
    for j in jobs:
        r = file_row(j, cfg, cache)
        rows.append(r)
        print(json.dumps(r), flush=True)
    if out:
        Path(out).write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
