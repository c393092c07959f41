"""Background talk is not the caller: speech runs far below the caller's own level are dropped."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.dsp.voice_gate import own_voice, speaker_level_db


def level_track(*runs: tuple[int, int, float], n: int = 400, floor: float = -70.0) -> tuple[np.ndarray, np.ndarray]:
    """Energy (dB) and speech mask with speech at ``level`` dB on frames [start, end) per run."""
    energy = np.full(n, floor)
    speech = np.zeros(n, dtype=bool)
    for a, b, level in runs:
        energy[a:b] = level
        speech[a:b] = True
    return energy, speech


def test_a_run_far_below_the_callers_level_is_background_talk():
    energy, speech = level_track((0, 100, -25.0), (150, 200, -45.0), (250, 350, -26.0))
    voice = own_voice(energy, speech, gate_db=15.0)
    assert voice[:100].all() and voice[250:350].all()
    assert not voice[150:200].any()


def test_a_run_within_the_gate_is_kept_and_a_gate_of_zero_keeps_everything():
    energy, speech = level_track((0, 100, -25.0), (150, 200, -45.0))
    assert np.array_equal(own_voice(energy, speech, gate_db=25.0), speech)
    assert np.array_equal(own_voice(energy, speech, gate_db=0.0), speech)


def test_the_quiet_start_of_a_loud_word_stays_with_its_word():
    energy, speech = level_track((0, 100, -25.0), (150, 200, -25.0))
    energy[150:160] = -60.0  # a faint onset of the second run, 35 dB below the level
    voice = own_voice(energy, speech, gate_db=15.0)
    assert np.array_equal(voice, speech)


def test_a_caller_who_grows_quieter_stays_the_caller():
    # an 11 dB drop (the corpus's severe weak voice) is well inside a 15 dB gate
    energy, speech = level_track((0, 100, -25.0), (150, 250, -36.0))
    assert np.array_equal(own_voice(energy, speech, gate_db=15.0), speech)


def test_the_level_is_a_high_quantile_of_the_speech_frames():
    energy, speech = level_track((0, 80, -30.0), (100, 120, -20.0))
    assert speaker_level_db(energy, speech, 0.9) == pytest.approx(-20.0)
    assert speaker_level_db(energy, speech, 0.5) == pytest.approx(-30.0)
    assert speaker_level_db(energy, np.zeros_like(speech)) is None


def test_no_speech_no_change():
    energy, speech = level_track(n=50)
    assert not own_voice(energy, speech, gate_db=15.0).any()
