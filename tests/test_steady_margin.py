"""The voice activity's margin over a steady noise floor (white, pink, hum) against a fluctuating one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from monitor.analysis.analyzer import AnalyzerConfig, StreamingAnalyzer, analyze_signal
from monitor.dsp.energy import (VadParams, floor_margin_db, frame_energy_db, noise_floor_db, slow_floor_db_from,
                                voice_activity)
from monitor.dsp.framing import frame_signal

RATE = 16000
STEADY = VadParams(steady_margin_db=3.0)


def _energy(x: np.ndarray) -> np.ndarray:
    return frame_energy_db(frame_signal(np.concatenate([np.zeros(200), x]).astype(np.float32), 400, 160, 0,
                                        (len(x) - 400) // 160 + 1))


def _white(seconds: float, seed: int = 0, level_db: float = -40.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 10 ** (level_db / 20)


def _babble(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise whose level rises and falls by 12 dB four times a second, as talk does between syllables."""
    t = np.arange(int(seconds * RATE)) / RATE
    return _white(seconds, seed) * 10 ** (6 * np.sin(2 * np.pi * 4 * t) / 20)


def _margin(x: np.ndarray, vad: VadParams) -> np.ndarray:
    e = _energy(x)
    return floor_margin_db(noise_floor_db(e, vad), slow_floor_db_from(e, 0, vad), vad)


def test_off_by_default_the_margin_is_the_same_over_every_noise():
    assert not VadParams().steady_margin
    assert np.all(_margin(_white(6.0), VadParams()) == 6.0)


def test_a_steady_noise_gets_the_steady_margin_and_talk_in_the_background_the_full_one():
    assert np.median(_margin(_white(6.0), STEADY)[400:]) == 3.0
    assert np.median(_margin(_babble(6.0), STEADY)[400:]) == 6.0


def test_a_weak_voice_a_few_db_over_white_noise_is_heard_with_the_steady_margin_and_the_noise_alone_is_not():
    noise = _white(8.0, seed=1)
    t = np.arange(len(noise)) / RATE
    voice = np.where((t % 1.0 >= 0.4) & (t % 1.0 < 0.8) & (t > 4.0), 1.0, 0.0) * np.sin(2 * np.pi * 150 * t)
    x = noise + voice * 10 ** (-40.0 / 20) * 1.73  # the line 4 dB louder while the voice speaks
    e = _energy(x)
    floor = noise_floor_db(e, STEADY)
    strength = np.zeros(len(e), np.float32)  # the periodic rescue aside
    heard = {vad.steady_margin_db: voice_activity(e, floor, strength, vad, margin_db=_margin(x, vad)
                                                  if vad.steady_margin else None) for vad in (VadParams(), STEADY)}
    frames_t = np.arange(len(e)) * 0.01 + 0.0125
    in_voice = (frames_t % 1.0 >= 0.45) & (frames_t % 1.0 < 0.75) & (frames_t > 4.0)
    assert heard[3.0][in_voice].mean() > 0.9 and heard[6.0][in_voice].mean() < 0.1
    assert not heard[3.0][(frames_t > 1.0) & (frames_t < 4.0)].any()


def test_with_the_steady_margin_the_stream_in_any_chunks_equals_the_whole_signal():
    cfg = replace(AnalyzerConfig(), vad=STEADY)
    x = (_white(7.0, seed=2, level_db=-45.0) + np.sin(2 * np.pi * 140 * np.arange(7 * RATE) / RATE)
         * 0.02 * (np.arange(7 * RATE) % RATE < RATE // 2)).astype(np.float32)
    whole = analyze_signal(x, RATE, cfg)
    sa, parts = StreamingAnalyzer(RATE, cfg), []
    for a in range(0, len(x), 3001):
        parts.append(sa.feed(x[a:a + 3001]))
    parts.append(sa.flush())
    speech = np.concatenate([p.speech for p in parts])
    assert np.array_equal(speech, whole.speech) and np.array_equal(np.concatenate([p.floor_db for p in parts]),
                                                                   whole.floor_db)
