"""Music on the caller's leg (hold music the daemon was not told of) is not the caller's speech.

A call put on hold without a `call hold` mark, or a recorded call replayed without `--hold`, fills
the caller's leg with music at the caller's level: its notes read as a slow caller's syllables,
its phrases' gaps as long pauses, and a critical alert would go to a supervisor on every held call.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from conftest import CALLS, call_monitor_here, db_rows
from monitor.analysis.analyzer import AnalyzerConfig, StreamingAnalyzer, analyze_signal
from monitor.analysis.frame_features import Frames
from monitor.dsp.music import MusicParams
from monitor.dsp.sound_class import SILENCE
from test_analyzer import assert_frames_equal
from test_tones import g711

BREATHING = CALLS.parent / "breathing"
RATE = 16000


def notes(seconds: float, rate: int, note_s: float, seed: int, organ: bool) -> np.ndarray:
    """A melody of ``note_s`` s notes (a major scale), peak 0.1: piano-like (three harmonics,
    decaying, from C5) over held triads, or (``organ``) organ-like (six harmonics, sustained,
    from C4) over a sustained bass line, a note a bar."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = np.zeros(len(t))
    base, harmonics = (261.6, 6) if organ else (523.3, 3)
    for start in np.arange(0.0, seconds, note_s):
        f = base * 2 ** (rng.choice([0, 2, 4, 5, 7, 9]) / 12)
        on = (t >= start) & (t < start + note_s)
        tt = t[on] - start
        envelope = np.minimum(1.0, (note_s - tt) / 0.02) if organ else np.exp(-tt / 0.25)
        x[on] += sum(0.5 / h * np.sin(2 * np.pi * f * h * tt) for h in range(1, harmonics + 1)) * envelope
    bars = ((130.8,), (110.0,), (87.3,), (98.0,)) if organ else (
        (261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7))
    for bar, start in enumerate(np.arange(0.0, seconds, 2.0)):
        on = (t >= start) & (t < start + 2.0)
        tt = t[on] - start
        for f in bars[bar % 4]:
            x[on] += 0.3 * np.sin(2 * np.pi * f * tt) * (1.0 if organ else np.exp(-tt / 1.5))
    return (0.1 * x / np.max(np.abs(x))).astype(np.float32)


def bowed(f: np.ndarray, t: np.ndarray, depth: float) -> np.ndarray:
    """A bowed string's sound (eight harmonics, 1/h) at frequencies ``f`` (Hz) bent by a 5.5 Hz
    vibrato of ``depth`` semitones either way."""
    bend = depth * np.log(2) / 12 * np.sin(2 * np.pi * 5.5 * t) / (2 * np.pi * 5.5)
    phase = 2 * np.pi * f * (t + bend)
    return sum(np.sin(h * phase) / h for h in range(1, 9))


def vibrato_melody(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Strings: a melody of 0.6 s notes (a major scale from C5) over 1.8 s chords, all bent by a
    +-0.25 semitone vibrato, peak 0.1. Its partials move by a bin or more in 40 ms: never at the
    same bins two spectra in a row."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = np.zeros(len(t))
    for start in np.arange(0.0, seconds, 0.6):
        on = (t >= start) & (t < start + 0.6)
        f = 523.3 * 2 ** (rng.choice([0, 2, 4, 5, 7, 9, 11]) / 12)
        x[on] += bowed(np.full(np.count_nonzero(on), f), t[on] - start, 0.25) * np.minimum(1.0, (t[on] - start) / 0.03)
    for bar, start in enumerate(np.arange(0.0, seconds, 1.8)):
        on = (t >= start) & (t < start + 1.8)
        for f in ((261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7))[bar % 4]:
            x[on] += 0.25 * bowed(np.full(np.count_nonzero(on), f), t[on] - start + bar, 0.25)
    return (0.1 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.fixture(scope="module")
def held_call(tmp_path_factory) -> Path:
    """The caller's leg of the `normal` fixture call, its first 45 s, then 35 s of hold music at
    that leg's level: 80 s, mono (the caller alone). Without the music test a critical alert
    (slow speech and long pauses) is raised 31 s into the music."""
    x, rate = sf.read(CALLS / "normal_16k.wav", dtype="float32")
    caller = x[:45 * rate, 1]
    music = notes(35.0, rate, 0.4, seed=1, organ=False)
    music *= np.sqrt(np.mean(caller ** 2) / np.mean(music ** 2))
    path = tmp_path_factory.mktemp("music") / "held.wav"
    sf.write(path, np.concatenate([caller, music]), rate)
    return path


def test_hold_music_on_the_callers_leg_raises_no_critical_alert(held_call, tmp_path):
    """Replayed without --hold, the music's notes are not a slow, halting caller."""
    db = tmp_path / "r.db"
    done = call_monitor_here("replay", held_call, "--no-transcribe", "--db", db)
    assert done.returncode == 0, done.stderr
    assert db_rows(db, "SELECT count(*) FROM calls") == [(1,)]
    assert db_rows(db, "SELECT kind, t FROM alerts WHERE severity = 'critical'") == []


@pytest.mark.parametrize("rate", (16000, 8000))
def test_the_music_test_takes_hold_music_for_no_speech(rate):
    """Organ notes over a bass line, through G.711 at 8 kHz too: hardly a frame of speech is left."""
    x = notes(12.0, rate, 0.5, seed=2, organ=True)
    x = g711(x) if rate == 8000 else x
    assert analyze_signal(x, rate).speech.mean() <= 0.15
    # without the music test most of it is speech
    assert analyze_signal(x, rate, AnalyzerConfig(music=MusicParams(enabled=False))).speech.mean() >= 0.5


@pytest.mark.parametrize("rate", (16000, 8000))
def test_hold_music_bent_by_vibrato_is_music_too(rate):
    """Strings whose every partial wavers with the vibrato, through G.711 at 8 kHz too: their
    partials stay within half a semitone from one spectrum to the next, and each new note's lie
    further than that from the last's, so at least half of it is no speech (all of it is without
    the test)."""
    x = vibrato_melody(12.0, rate, seed=1)
    x = g711(x) if rate == 8000 else x
    assert analyze_signal(x, rate).speech.mean() <= 0.5
    assert analyze_signal(x, rate, AnalyzerConfig(music=MusicParams(enabled=False))).speech.mean() >= 0.9


@pytest.mark.parametrize("rate, chunk", ((16000, 1600), (16000, 967), (8000, 800), (8000, 967)))
def test_bent_notes_are_found_alike_whatever_the_chunks(rate, chunk):
    """The caller's words, then strings bent by vibrato, at 16 kHz and through G.711 at 8 kHz: the
    streaming analyzer, fed in 0.1 s or odd-sized chunks, gives every frame as the analysis of the
    whole signal does (the bent notes' changes are looked for only where a stretch could hold them)."""
    caller, _, _ = caller_leg("normal", 8.0)
    caller = caller if rate == RATE else resample_poly(caller, rate, RATE).astype(np.float32)
    x = np.concatenate([caller, vibrato_melody(10.0, rate, seed=1)])
    x = x if rate == RATE else g711(x)
    whole = analyze_signal(x, rate)
    assert np.count_nonzero(whole.sound[800:] == SILENCE) > 500  # the music is found
    an = StreamingAnalyzer(rate)
    assert_frames_equal(Frames.concat([an.feed(x[i:i + chunk]) for i in range(0, len(x), chunk)] + [an.flush()]),
                        whole)


@pytest.mark.parametrize("rate", (16000, 8000))
def test_a_held_vowel_wavering_like_vibrato_is_no_music(rate):
    """A voice holding "a" for 10 s, its F0 (150 Hz) wavering by +-1.5 % five times a second and
    drifting down 6 % over the whole, its harmonics shaped by two formants: its harmonics
    move as a bent note's do, but never jump to a new note, so no frame of it is music."""
    t = np.arange(10 * rate) / rate
    f0 = 150.0 * (1 - 0.006 * t) * (1 + 0.015 * np.sin(2 * np.pi * 5.0 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    formants = lambda f: np.exp(-((f - 700.0) / 150) ** 2) + 0.5 * np.exp(-((f - 1200.0) / 200) ** 2)  # noqa: E731
    x = sum(formants(h * 150.0) / h ** 0.5 * np.sin(h * phase) for h in range(1, 24))
    x = (0.1 * x / np.max(np.abs(x))).astype(np.float32)
    with_it = analyze_signal(x, rate).sound
    without = analyze_signal(x, rate, AnalyzerConfig(music=MusicParams(enabled=False))).sound
    assert np.count_nonzero(without != SILENCE) > 800
    assert np.array_equal(with_it, without)


@pytest.mark.parametrize("path", sorted(BREATHING.glob("*_vowel-a.flac")), ids=lambda p: p.stem)
def test_a_held_vowel_is_no_music(path):
    """A held vowel's harmonics stay nearly still, but never jump to new ones: no frame of it is music."""
    x, rate = sf.read(path, dtype="float32")
    with_it = analyze_signal(x, rate).sound
    without = analyze_signal(x, rate, replace(AnalyzerConfig(), music=MusicParams(enabled=False))).sound
    assert np.count_nonzero(without != SILENCE) > 100
    assert np.array_equal(with_it, without)


def test_a_music_test_reaching_past_the_analyzers_context_is_refused():
    with pytest.raises(ValueError, match="music.back_frames, music.ahead_frames"):
        AnalyzerConfig(music=MusicParams(ahead_frames=90))


def caller_leg(name: str, seconds: float) -> tuple[np.ndarray, float, np.ndarray]:
    """The caller's leg of a fixture call (16 kHz), its first ``seconds``; its speech level (RMS over
    the frames the analyzer takes for speech without the music test) and those frames."""
    x, _ = sf.read(CALLS / f"{name}_16k.wav", dtype="float32", frames=int(seconds * RATE))
    caller = x[:, 1]
    clean = analyze_signal(caller, RATE, AnalyzerConfig(music=MusicParams(enabled=False))).speech
    hop = RATE // 100
    return caller, float(np.sqrt(np.mean(caller[:len(clean) * hop].reshape(-1, hop)[clean] ** 2))), clean


def test_a_caller_speaking_over_music_in_the_background_keeps_every_word():
    """A radio 20 dB under the caller: the stretch around a word is steady and changes notes, but a
    word's harmonics move for far longer than a melody takes from one note to the next, so no frame
    of the caller's speech is taken for music, while most of the music between the words is."""
    caller, level, clean = caller_leg("deteriorating", 20.0)
    music = notes(20.0, RATE, 0.4, seed=1, organ=True)
    mixed = caller + music * level / np.sqrt(np.mean(music ** 2)) * 10 ** (-20 / 20)
    off = AnalyzerConfig(music=MusicParams(enabled=False))
    with_it, without = analyze_signal(mixed, RATE).sound, analyze_signal(mixed, RATE, off).speech
    assert np.count_nonzero(clean & without) > 800
    assert np.count_nonzero(clean & without & (with_it == SILENCE)) == 0
    # the music between the words: speech without the test, mostly silence with it
    between = ~clean & without
    assert np.count_nonzero(between & (with_it == SILENCE)) >= 0.8 * np.count_nonzero(between)


def test_hold_music_stopping_as_the_caller_speaks_leaves_them_their_first_words():
    """Hold music at the caller's level fills each gap before the caller's turns and stops at the
    turn's first sample: the music's stretch reaches into the turn, but no speech frame of the first
    second of a turn is taken for music."""
    caller, level, clean = caller_leg("slow_talker", 60.0)
    turns = [(u["start_s"], u["end_s"]) for u in json.loads((CALLS / "slow_talker.json").read_text())["turns"]
             if u["speaker"] == "caller" and u["end_s"] < 60.0]
    music = notes(60.0, RATE, 0.4, seed=1, organ=True)
    music *= level / np.sqrt(np.mean(music ** 2))
    mixed = caller.copy()
    for before, (start, _) in zip([0.0] + [end for _, end in turns[:-1]], turns):
        mixed[int(before * RATE):int(start * RATE)] += music[int(before * RATE):int(start * RATE)]
    with_it = analyze_signal(mixed, RATE).sound
    without = analyze_signal(mixed, RATE, AnalyzerConfig(music=MusicParams(enabled=False))).speech
    first = np.zeros(len(clean), bool)
    for start, _ in turns:
        first[int(start * 100):int(start * 100) + 100] = True
    assert len(turns) >= 3 and np.count_nonzero(first & clean & without) > 200
    assert np.count_nonzero(first & clean & without & (with_it == SILENCE)) == 0
