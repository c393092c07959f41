"""Speech over background music: what the music test takes of a caller with music behind them.

    OMP_NUM_THREADS=1 PYTHONPATH=. python research/music/background.py frames CALL...
    OMP_NUM_THREADS=1 PYTHONPATH=. python research/music/background.py alerts CALL...
    OMP_NUM_THREADS=1 PYTHONPATH=. python research/music/background.py alerts-on CALL...
    OMP_NUM_THREADS=1 PYTHONPATH=. python research/music/background.py onset CALL...

``frames``: the caller's leg of each fixture call (``audio_fixtures/calls/CALL_16k.wav`` and
``_8k.wav``, right channel) with each of make.py's kinds looped under it at 10, 20 and 30 dB below
the caller's speech level (its RMS over the frames the analyzer takes for speech; ``pop`` also at
0 dB). Per case: of the clean leg's speech frames, those still speech with the music under them
and the test off, and of these those the test turns to silence (lost); the other frames of sound
the test silences (the music between the words); the syllable nuclei of the clean leg, and of the
mixed one with the test off and on (whole-signal analyzer).
``alerts``: at 16 kHz, for the kinds the test finds but ``piano_slow``, that and the pipeline's
alerts (kind, severity, s) as ``replay --no-transcribe`` raises them (the agent leg as recorded),
with the test on and off (``alerts-on``: on only).
``onset``: at 16 kHz, music of each kind the test finds, at the speech level, filling each gap
before a caller's turn and stopping at the turn's first sample: the speech frames (test off) of
each turn's first second, those the test turns to silence, and the turns that lose any.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

import monitor.pipeline as pipeline
from make import RATE, level, piece  # research/music/make.py
from monitor.analysis.analyzer import AnalyzerConfig, StreamingAnalyzer, analyze_signal
from monitor.capture.sources import Chunk
from monitor.config import load_config
from monitor.dsp.music import MusicParams
from monitor.dsp.sound_class import SILENCE

CALLS = Path("audio_fixtures/calls")
ON = AnalyzerConfig()
OFF = replace(ON, music=MusicParams(enabled=False))
KINDS = ("piano_fast", "piano_slow", "organ", "strings", "pluck", "flute", "pop")
FOUND = ("piano_fast", "piano_slow", "organ", "strings", "pluck", "flute", "pop")  # the kinds the test finds
BELOW = (10, 20, 30)
HOP_S = 0.01


def music(kind: str, n: int, rate: int, seed: int = 0) -> np.ndarray:
    """``n`` samples at ``rate`` of ``kind``, 30 s looped, unit RMS."""
    x = piece(kind, 30.0, np.random.default_rng(seed))
    x = x if rate == RATE else resample_poly(x, rate, RATE)
    x = np.tile(x, n // len(x) + 1)[:n]
    return level(x, 0.0)


def speech_rms(x: np.ndarray, rate: int, speech: np.ndarray) -> float:
    """RMS of ``x`` over the frames of ``speech`` (10 ms hops)."""
    hop = int(rate * HOP_S)
    frames = x[:len(speech) * hop].reshape(-1, hop)[: len(speech)]
    return float(np.sqrt(np.mean(frames[speech[: len(frames)]] ** 2)))


def lost(x: np.ndarray, rate: int, clean: np.ndarray) -> tuple[int, int, int, int, int]:
    """Of the clean leg's speech frames (``clean``), those speech with the music under them and the test
    off, and of them those silent with the test on; the other frames of sound the test silences (the
    music between the words); nuclei off, on."""
    off, on = analyze_signal(x, rate, OFF), analyze_signal(x, rate, ON)
    n = min(len(clean), len(off))
    heard, gone = clean[:n] & off.speech[:n], on.sound[:n] == SILENCE
    return (int(np.count_nonzero(heard)), int(np.count_nonzero(heard & gone)),
            int(np.count_nonzero(~clean[:n] & (off.sound[:n] != SILENCE) & gone)),
            int(np.count_nonzero(off.nucleus)), int(np.count_nonzero(on.nucleus)))


def alerts(caller: np.ndarray, agent: np.ndarray, rate: int, cfg: AnalyzerConfig) -> list[tuple[str, str, float]]:
    """The pipeline's alerts (kind, severity, t) for the call, the caller's analyzer on ``cfg``."""
    x = np.stack([caller, agent], axis=1)
    step = rate // 10

    def analyzer(r: int, c: AnalyzerConfig | None, grid: int) -> StreamingAnalyzer:
        return StreamingAnalyzer(r, c if c is not None else cfg, grid)

    pipeline.StreamingAnalyzer = analyzer  # type: ignore[assignment, misc]  # the caller's analyzer's settings
    try:
        events = pipeline.run_source(pipeline.CallPipeline(load_config(None, user_config=False), rate,
                                                           ("caller", "agent")),
                                     (Chunk(s / rate, x[s:s + step]) for s in range(0, len(x), step)), [])
    finally:
        pipeline.StreamingAnalyzer = StreamingAnalyzer  # type: ignore[misc]
    return [(e.kind, e.severity, round(e.t, 1)) for e in events if e.type == "alert"]


def legs(name: str, rate: int) -> tuple[np.ndarray, np.ndarray]:
    x, r = sf.read(CALLS / f"{name}_{rate // 1000}k.wav", dtype="float32")
    assert r == rate
    return x[:, 1].astype(np.float64), x[:, 0]


def frames(names: list[str], with_alerts: bool, rates: tuple[int, ...] = (16000, 8000),
           kinds: tuple[str, ...] = KINDS, without: bool = True) -> None:
    for name in names:
        for rate in rates:
            caller, agent = legs(name, rate)
            clean = analyze_signal(caller.astype(np.float32), rate, OFF)
            level_rms = speech_rms(caller, rate, clean.speech)
            if with_alerts:
                print(f"{name}@{rate // 1000}k clean: alerts on {alerts(caller, agent, rate, ON)}", flush=True)
            for kind in kinds:
                for below in (0, *BELOW) if kind == "pop" else BELOW:
                    mixed = np.clip(caller + music(kind, len(caller), rate) * level_rms * 10 ** (-below / 20),
                                    -1, 1).astype(np.float32)
                    sp, gone, between, n_off, n_on = lost(mixed, rate, clean.speech)
                    line = (f"{name}@{rate // 1000}k {kind} -{below} dB: speech {sp} lost {gone} "
                            f"({gone / max(sp, 1):.1%}) music silenced {between} nuclei clean "
                            f"{np.count_nonzero(clean.nucleus)} off {n_off} on {n_on}")
                    if with_alerts:
                        line += f" | alerts on {alerts(mixed, agent, rate, ON)}"
                        line += f" | off {alerts(mixed, agent, rate, OFF)}" if without else ""
                    print(line, flush=True)


def onset(names: list[str]) -> None:
    """Music at the speech level up to each caller turn's first sample, nothing after until the next turn."""
    for name in names:
        turns = [(u["start_s"], u["end_s"]) for u in json.loads((CALLS / f"{name}.json").read_text())["turns"]
                 if u["speaker"] == "caller"]
        for rate in (16000,):
            caller, _ = legs(name, rate)
            level_rms = speech_rms(caller, rate, analyze_signal(caller.astype(np.float32), rate, OFF).speech)
            for kind in FOUND:
                bed = music(kind, len(caller), rate) * level_rms
                mask = np.zeros(len(caller), bool)
                for (s, _), (prev_end) in zip(turns, [0.0] + [e for _, e in turns[:-1]]):
                    mask[int(prev_end * rate):int(s * rate)] = True  # the music fills the gap before each turn
                mixed = np.clip(caller + bed * mask, -1, 1).astype(np.float32)
                off, on = analyze_signal(mixed, rate, OFF), analyze_signal(mixed, rate, ON)
                first = np.zeros(len(off.speech), bool)
                for s, _ in turns:
                    first[int(s / HOP_S):int((s + 1.0) / HOP_S)] = True
                sp = off.speech & first
                gone = sp & (on.sound == SILENCE)
                print(f"{name}@{rate // 1000}k {kind}: first-second speech {np.count_nonzero(sp)} "
                      f"lost {np.count_nonzero(gone)} ({np.count_nonzero(gone) / max(np.count_nonzero(sp), 1):.1%}); "
                      f"turns hit {sum(bool(gone[int(s / HOP_S):int((s + 1) / HOP_S)].any()) for s, _ in turns)}"
                      f"/{len(turns)}", flush=True)


def main() -> None:
    what, args = sys.argv[1], sys.argv[2:]
    if what == "frames":
        frames(args, False)
    elif what in ("alerts", "alerts-on"):  # at 16 kHz, the kinds the test finds (alerts-on: with the test only)
        frames(args, True, (16000,), tuple(k for k in FOUND if k != "piano_slow"), what == "alerts")
    else:
        onset(args)


if __name__ == "__main__":
    main()
