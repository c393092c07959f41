"""Background talk is not the caller: speech runs far below the caller's own level are dropped."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from conftest import speech_runs
from monitor.dsp.voice_gate import hold_talk, own_voice, run_peaks, seconds_since, speaker_level_db


level_track = partial(speech_runs, n=400)
"""A speaker's energy (dB) and speech mask over 400 frames unless ``n`` says otherwise:
:func:`conftest.speech_runs`."""


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


def test_the_silence_before_a_run_is_counted_back_to_the_last_talk():
    talk = np.array([True, True, False, False, False, False, False, False])
    assert np.allclose(seconds_since(talk, np.array([0, 2, 6]), 0.5), [0.0, 0.0, 2.0])
    # what came before the frames is not known: it counts as talk
    assert np.allclose(seconds_since(np.zeros(8, dtype=bool), np.array([0, 3]), 0.5), [0.0, 1.5])


HOLD = dict(level_db=-25.0, gate_db=10.0, quiet_s=2.0, hop_s=0.1)


def test_faint_talk_long_after_both_parties_spoke_is_held_talk():
    # the caller at -25 dB on frames 0-10, then silence; faint runs (-40 dB) at 1.5 s and 3.5 s
    energy, speech = level_track((0, 10, -25.0), (25, 30, -40.0), (45, 50, -40.0), n=60)
    held = hold_talk(energy, speech, np.zeros(60, dtype=bool), **HOLD)
    assert not held[25:30].any()  # 1.5 s after the caller's words: kept
    assert held[45:50].all()  # 3.5 s after them, and faint runs do not end the silence


def test_the_agents_speech_ends_the_silence():
    energy, speech = level_track((0, 10, -25.0), (45, 50, -40.0), n=60)
    agent = np.zeros(60, dtype=bool)
    agent[30:40] = True  # a question just before the faint answer
    assert not hold_talk(energy, speech, agent, **HOLD).any()


def test_a_run_near_the_callers_level_is_never_held_talk():
    energy, speech = level_track((0, 10, -25.0), (45, 50, -33.0), n=60)  # 8 dB down: not faint
    assert not hold_talk(energy, speech, np.zeros(60, dtype=bool), **HOLD).any()


def test_the_hold_test_is_off_without_a_level_a_gate_or_a_quiet_time():
    energy, speech = level_track((45, 50, -40.0), n=60)
    quiet = np.zeros(60, dtype=bool)
    for off in (dict(HOLD, level_db=None), dict(HOLD, gate_db=0.0), dict(HOLD, quiet_s=0.0)):
        assert not hold_talk(energy, speech, quiet, **off).any()


def test_each_runs_peak_is_its_loudest_frame_and_a_frame_without_a_level_counts_for_nothing():
    energy = np.array([-30, -20, -50, np.nan, -40, np.nan, np.nan, -10], np.float32)
    speech = np.array([True, True, False, True, True, True, True, False])
    starts, ends, peaks = run_peaks(energy, speech)
    assert starts.tolist() == [0, 3] and ends.tolist() == [2, 7]
    assert peaks.dtype == np.float64 and peaks.tolist() == [-20.0, -40.0]
    assert run_peaks(np.full(3, np.nan, np.float32), np.ones(3, bool))[2].tolist() == [-np.inf]
