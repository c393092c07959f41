"""The voice activity's margin over a steady noise floor (white, pink, hum) against a fluctuating one."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from monitor.analysis.analyzer import AnalyzerConfig, StreamingAnalyzer, analyze_signal
from monitor.analysis.frame_features import Frames
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


@pytest.mark.parametrize("key, value", [("steady_margin_db", -1.0), ("steady_margin_db", float("nan")),
                                        ("steady_margin_db", float("inf")), ("spread_gain", 0.0),
                                        ("spread_gain", -4.0), ("spread_gain", float("nan")),
                                        ("spread_smooth_frames", 0), ("spread_smooth_frames", -25),
                                        ("spread_smooth_frames", 25.0)])
def test_an_impossible_steady_margin_setting_is_refused_in_one_line_naming_its_key(key, value):
    # before: a NaN gain made every margin NaN and the voice activity heard almost nothing, a NaN
    # steady margin turned the option silently off, and no smoothing raised a filter's own error
    with pytest.raises(ValueError, match=f"^vad.{key}: [^\n]*$"):
        VadParams(**{"steady_margin_db": 3.0, key: value})


def test_a_steady_margin_at_or_above_the_floor_margin_is_off_and_an_even_smoothing_is_allowed():
    assert not VadParams(steady_margin_db=7.0).steady_margin and not VadParams(steady_margin_db=6.0).steady_margin
    assert VadParams(steady_margin_db=0.0, spread_smooth_frames=24).steady_margin


def test_a_slow_smoothing_longer_than_a_stream_batch_holds_on_is_refused_where_the_analyzer_is_configured():
    # before: accepted, and a stream stopped half way ("cannot drop ... frames") where the whole
    # signal was analysed
    with pytest.raises(ValueError, match="^vad.spread_smooth_frames: at most 191 frames"):
        AnalyzerConfig(vad=VadParams(steady_margin_db=3.0, spread_smooth_frames=1201))
    AnalyzerConfig(vad=VadParams(steady_margin_db=3.0, spread_smooth_frames=191))


@pytest.mark.parametrize("rate", [16000, 8000])
def test_with_the_steady_margin_every_column_of_a_stream_in_any_batches_equals_the_whole_signals(rate):
    cfg = replace(AnalyzerConfig(), vad=STEADY)
    n, t = 16 * rate, np.arange(16 * rate) / rate  # longer than the raw buffer: the stream cuts it
    noise = np.random.default_rng(3).standard_normal(n) * 10 ** (-45.0 / 20)
    x = (noise + np.sin(2 * np.pi * 140 * t) * 0.01 * ((t % 1.3) < 0.5) * (1 + (t > 8))).astype(np.float32)
    whole = analyze_signal(x, rate, cfg)
    for grid, chunk in ((1, rate // 50), (7, 997), (50, rate // 50), (100, rate)):
        sa = StreamingAnalyzer(rate, cfg, emit_grid=grid)
        got = Frames.concat([sa.feed(x[a:a + chunk]) for a in range(0, n, chunk)] + [sa.flush()])
        for f in fields(Frames):
            assert np.array_equal(getattr(got, f.name), getattr(whole, f.name), equal_nan=True), (grid, f.name)
