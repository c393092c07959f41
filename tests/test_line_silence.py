"""Digital silence within a line's noise: a softphone's silence suppression (DTX without comfort
noise) or a lost packet leaves exact zeros in a noisy line's pauses, which nothing marks. The
analyzer's level trackers hold through such a run of zeros when the line stood above
``VadParams.line_noise_db`` over the ``line_noise_frames`` frames before it
(:func:`monitor.dsp.energy.line_silence`): the line noise after it is line noise, not breaths and
not speech. A gated recording's zeros (its sounds fade into them, or its earlier zeros lie just
before) and the zeros a signal opens with are the line's own silence: the floor learns them as it
always has. Where the opening zeros end (a softphone's sink read before the call played into it,
then the line's noise), the frames that hold both, and those whose windows reach them, teach the
floor nothing (:func:`monitor.dsp.energy.opening_zeros`); a floor not yet learned is not known
(:data:`monitor.dsp.energy.UNKNOWN_FLOOR_DB`).

The noisy call is the healthy fixture ``normal`` with white line noise at -45 dBFS (about 19 dB
below the caller's speech); the zeros come right after the agent's question at 106.5 s."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS, ROOT, assert_heard_as_line_noise
from monitor.analysis.analyzer import AnalyzerConfig, StreamingAnalyzer, analyze_signal
from monitor.dsp.energy import FLOOR_DB, VadParams, line_silence

QUESTION_END_S = 106.55
ZEROS_S = 6.0
AFTER_S = 10.0
LINE_NOISE_DBFS = -45.0
BREATHING = ROOT / "audio_fixtures" / "breathing"


def _caller_with(zeros: bool) -> tuple[np.ndarray, int, float]:
    """The noisy call's caller leg with ``ZEROS_S`` seconds inserted after the agent's question:
    exact zeros (``zeros``: the softphone sent nothing) or the line's noise; its rate and the
    inserted time's end (s)."""
    x, rate = sf.read(CALLS / "normal_8k.wav", dtype="float32")
    rng = np.random.default_rng(7)
    caller = x[:, 1] + rng.normal(0.0, 10 ** (LINE_NOISE_DBFS / 20), len(x)).astype(np.float32)
    at, n = int(QUESTION_END_S * rate), int(ZEROS_S * rate)
    inserted = (np.zeros(n, np.float32) if zeros
                else np.random.default_rng(8).normal(0.0, 10 ** (LINE_NOISE_DBFS / 20), n).astype(np.float32))
    return np.concatenate([caller[:at], inserted, caller[at:]]), rate, (at + n) / rate


def _line(seconds: float, rng: np.random.Generator, db: float = -50.0) -> np.ndarray:
    """A level column (dB per 10 ms frame) of steady line noise at ``db``."""
    return (db + rng.normal(0.0, 1.0, int(seconds * 100))).astype(np.float32)


def test_after_a_run_of_zeros_in_line_noise_the_frames_are_those_after_the_same_time_of_line_noise():
    """The 10 s after the zeros: the same speech frames (within a few) as after the same seconds of
    line noise, no breath or cough, and the floor never falls to the zeros'."""
    x, rate, end_s = _caller_with(zeros=True)
    y, _, _ = _caller_with(zeros=False)
    dtx = analyze_signal(x, rate).between(end_s, end_s + AFTER_S)
    line = analyze_signal(y, rate).between(end_s, end_s + AFTER_S)
    assert_heard_as_line_noise(dtx, line, LINE_NOISE_DBFS)


def test_a_gated_recordings_zeros_are_its_silence_the_floor_learns_them():
    """Every committed breathing recording (gated: its pauses exact zeros): no frame held through,
    so its frames are what they were; and the floor of one falls to digital silence in its pauses."""
    cfg = AnalyzerConfig(voice_only=True)
    paths = sorted(BREATHING.glob("*.flac"))
    assert len(paths) > 100
    for path in paths:
        x, rate = sf.read(path, dtype="float32")
        energy = analyze_signal(x, rate, cfg).energy_db
        assert not line_silence(energy, cfg.vad).any(), path.name
    x, rate = sf.read(BREATHING / "s11_breathing-deep.flac", dtype="float32")
    assert analyze_signal(x, rate, cfg).floor_db.min() < -95.0  # smoothed digital silence: -97 dB


@pytest.mark.parametrize("line_dbfs", [-45.0, -55.0])
def test_a_noisy_line_that_opens_in_zeros_holds_no_speech_before_the_caller_speaks(line_dbfs):
    """The caller's leg of a noisy line, opening with exact zeros that end anywhere in a frame
    (a capture started before the call played): no frame is speech before the caller's first
    words (7.8 s in). Before, a window mixing the zeros with the noise read a floor a few dB below
    the noise, and for 4 s the noise rose above it as speech: in live capture, answers the caller
    never gave, which halved the slow responses of a labored caller."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8 * 8000, dtype="float32")
    caller = x[:, 1] + np.random.default_rng(7).normal(0.0, 10 ** (line_dbfs / 20), len(x)).astype(np.float32)
    for zeros in [*range(0, 600, 23), 1234, 4321]:  # 0 to 74 ms, every step of the 10 ms hop; longer
        frames = analyze_signal(np.concatenate([np.zeros(zeros, np.float32), caller]), rate)
        assert not frames.speech[frames.t < 7.5].any(), zeros


def test_zeros_are_held_through_only_where_the_line_stood_above_its_level_before_them():
    """Line noise at -50 dB, then zeros: held through. The same zeros after a sound fading into
    them (the frames before them down to -70 dB), right after other zeros, or opening the
    signal: the line's silence."""
    rng = np.random.default_rng(0)
    zeros = np.full(100, FLOOR_DB, np.float32)
    vad = VadParams()
    held = line_silence(np.concatenate([_line(2.0, rng), zeros, _line(2.0, rng)]), vad)
    assert held[200:300].all() and not held[:200].any() and not held[300:].any()
    fading = np.concatenate([_line(2.0, rng), np.linspace(-50.0, -70.0, 10, dtype=np.float32), zeros])
    assert not line_silence(fading, vad).any()
    close = np.concatenate([_line(2.0, rng), zeros, _line(0.2, rng), zeros])
    assert line_silence(close, vad)[200:300].all() and not line_silence(close, vad)[300:].any()
    assert not line_silence(np.concatenate([zeros, _line(2.0, rng)]), vad).any()


def test_a_quiet_line_below_the_level_is_the_lines_silence():
    """Line noise at -66 dB (a quiet room's, as gated recordings keep between their sounds) is
    below ``line_noise_db`` (-60): the zeros after it are the line's silence."""
    rng = np.random.default_rng(1)
    energy = np.concatenate([_line(2.0, rng, -66.0), np.full(100, FLOOR_DB, np.float32)])
    assert not line_silence(energy, VadParams()).any()


def test_the_marks_read_in_pieces_equal_the_whole_signals():
    """Read from any frame on, with the frames before as context and the run open there decided
    by the mark before it, the marks are the whole signal's."""
    rng = np.random.default_rng(2)
    parts = [np.full(50, FLOOR_DB, np.float32)]
    for _ in range(30):
        parts += [_line(rng.uniform(0.05, 1.0), rng, rng.uniform(-75.0, -40.0)),
                  np.full(int(rng.integers(1, 300)), FLOOR_DB, np.float32)]
    energy = np.concatenate(parts)
    vad = VadParams()
    want = line_silence(energy, vad)
    assert want.any() and not want.all()
    reach = vad.line_noise_frames + 1
    for lo in rng.integers(1, len(energy), 40):
        got = line_silence(energy[max(0, lo - reach):], vad, min(lo, reach), bool(want[lo - 1]))
        assert np.array_equal(got, want[lo:]), lo


@pytest.mark.parametrize("chunk_s", [0.02, 0.5, 7.3])
def test_a_stream_with_zeros_in_line_noise_gives_the_frames_of_the_whole_signal(chunk_s):
    """Runs of zeros within the line noise (the last one 6 s, split across chunks or inside one),
    the signal opening in zeros: the frames streamed are the whole signal's, bit for bit."""
    x, rate, end_s = _caller_with(zeros=True)
    lo, hi = int((end_s - ZEROS_S - 20.0) * rate), int((end_s + 10.0) * rate)
    x = x[lo:hi].copy()
    x[:rate] = 0.0  # the stream opens in silence
    for at in (5.0, 9.2, 13.7):  # packets lost: 40 to 600 ms of zeros
        x[int(at * rate):int((at + 0.04 + at / 25) * rate)] = 0.0
    want = analyze_signal(x, rate)
    analyzer = StreamingAnalyzer(rate)
    step = int(chunk_s * rate)
    got = [analyzer.feed(x[s:s + step]) for s in range(0, len(x), step)] + [analyzer.flush()]
    for name in ("floor_db", "speech", "sound", "nucleus", "intensity_db"):
        assert np.array_equal(np.concatenate([getattr(b, name) for b in got]), getattr(want, name)), name


@pytest.mark.parametrize("key, value", [("line_noise_db", float("nan")), ("line_noise_db", float("inf")),
                                        ("line_noise_frames", 0), ("line_noise_frames", 30.0)])
def test_a_line_level_or_length_that_is_no_level_or_no_whole_number_of_frames_is_refused(key, value):
    with pytest.raises(ValueError, match=f"^vad.{key}: "):
        VadParams(**{key: value})


def test_the_frames_before_a_run_must_fit_in_what_a_stream_keeps_before_its_new_frames():
    with pytest.raises(ValueError, match="^vad.line_noise_frames: at most 1099 frames"):
        AnalyzerConfig(vad=VadParams(line_noise_frames=1100))
    AnalyzerConfig(vad=VadParams(line_noise_frames=1099))
