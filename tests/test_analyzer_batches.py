"""The streaming analyzer's batches: frames come out on a fixed grid, and the batches delay no cue report.

Live audio arrives in 20 ms blocks; the analyzer computes and emits frames in batches that end
on multiples of ``EMIT_GRID`` frames, so that its fixed cost per batch is paid a few times a
second rather than fifty. The cue windows end on whole seconds, a multiple of the grid, so a
cue report comes out as soon as the right context of its last frame has arrived. In a call, a leg
without a recognizer is analysed in batches of one cue hop, with its cue reports just as early.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from monitor.analysis.analyzer import CONTEXT_RIGHT, EMIT_GRID, AnalyzerConfig, StreamingAnalyzer, analyze_signal
from monitor.analysis.frame_features import Frames
from monitor.capture.audio_files import AnalysisStream
from monitor.config import load_config
from monitor.pipeline import CallPipeline
from monitor.capture.sources import Chunk

ROOT = Path(__file__).resolve().parents[1]
CALL = ROOT / "audio_fixtures" / "calls" / "deteriorating_16k.wav"
BREATHING = ROOT / "audio_fixtures" / "breathing"
VOICED_BREATHS = ("s04_cough-heavy", "s05_breathing-deep", "s05_cough-heavy", "s09_breathing-deep",
                  "s10_breathing-deep")
"""Breathing and coughs with voiced blips the sound-class model leans to breath or cough for (39 s)."""
LONE_SOUNDS = ("s09_breathing-deep", "s03_breathing-deep", "s04_breathing-deep", "s05_cough-heavy")
"""Breathing and a cough (33 s) with lone voiced sounds the model leans against (three syllables at
16 kHz, two at 8 kHz) and, at 16 kHz, a breath whose first burst the voice activity takes."""


def call_legs(seconds: float) -> tuple[np.ndarray, int]:
    """The first ``seconds`` of the fixture call as the product reads it: (n, 2) caller, agent."""
    stream = AnalysisStream(CALL, [1, 0])
    x = np.concatenate(list(stream))
    return x[: int(seconds * stream.rate)], stream.rate


def test_frames_come_out_in_batches_ending_on_the_grid_and_as_soon_as_their_context_is_there():
    x, rate = call_legs(20.0)
    caller = x[:, 0]
    an = StreamingAnalyzer(rate)
    whole = analyze_signal(caller, rate)
    step = rate // 50  # 20 ms live blocks
    for i in range(0, len(caller), step):
        out = an.feed(caller[i:i + step])
        received = min(i + step, len(caller))
        if len(out):
            assert an.frames_emitted % EMIT_GRID == 0
        # every grid point whose right context (CONTEXT_RIGHT frames, each with its 50 ms reach
        # and window) has arrived is out
        complete = an.frames_reached(received)
        due = max(0, complete - CONTEXT_RIGHT) // EMIT_GRID * EMIT_GRID
        assert an.frames_emitted >= min(due, len(whole) - len(whole) % EMIT_GRID)
    an.flush()
    assert an.frames_emitted == len(whole)


def test_cue_reports_come_a_fixed_second_after_their_window_whatever_the_batches():
    """In 20 ms blocks, every cue report of a two-leg call is out 1.02 s after its window's end:
    0.95 s of right context, the cepstrum's 50 ms reach, 12.5 ms to a window's centre, rounded up
    to the block; never a batch later."""
    x, rate = call_legs(30.0)
    pipe = CallPipeline(load_config(user_config=False), rate, ("caller", "agent"))
    step = rate // 50
    delays = []
    for i in range(0, len(x), step):
        now = min(i + step, len(x)) / rate
        delays += [now - ev.t for ev in pipe.process(Chunk(i / rate, x[i:i + step])) if ev.type == "cues"]
    assert len(delays) == 28  # t = 1 .. 28 s: the last two seconds wait for the end of the call
    assert max(delays) <= 1.02 + 1e-6
    assert min(delays) >= 1.0  # the right context itself is not skipped


def emitted_per_block(pipe: CallPipeline, x: np.ndarray, rate: int) -> dict[str, set[int]]:
    """Feed ``x`` in 20 ms blocks; the frame counts each leg's analyzer had emitted after each block."""
    step = rate // 50
    seen: dict[str, set[int]] = {leg: set() for leg in pipe.analyzers}
    for i in range(0, len(x), step):
        pipe.process(Chunk(i / rate, x[i:i + step]))
        for leg, an in pipe.analyzers.items():
            seen[leg].add(an.frames_emitted)
    return seen


def test_in_a_call_legs_without_a_recognizer_are_analysed_once_per_cue_hop():
    x, rate = call_legs(12.0)
    cfg = load_config(user_config=False)
    hop_frames = round(cfg.analysis.hop_s * 100)
    seen = emitted_per_block(CallPipeline(cfg, rate, ("caller", "agent")), x, rate)
    for leg, counts in seen.items():
        assert all(n % hop_frames == 0 for n in counts), leg
        assert max(counts) >= 10 * hop_frames  # frames did come out while the call went on


def test_a_hop_that_is_no_whole_number_of_frames_keeps_the_default_grid():
    x, rate = call_legs(6.0)
    cfg = load_config(user_config=False)
    cfg = replace(cfg, analysis=replace(cfg.analysis, hop_s=0.125))
    seen = emitted_per_block(CallPipeline(cfg, rate, ("caller", "agent")), x, rate)
    for counts in seen.values():
        assert all(n % EMIT_GRID == 0 for n in counts)
        assert any(n % 100 for n in counts)  # batches of half a second, not of a whole one


def streamed(x: np.ndarray, rate: int, chunk: int, grid: int, cfg: AnalyzerConfig | None = None) -> Frames:
    """``x`` fed in chunks of ``chunk`` samples to an analyzer emitting on a grid of ``grid`` frames."""
    an = StreamingAnalyzer(rate, cfg, emit_grid=grid)
    return Frames.concat([an.feed(x[i:i + chunk]) for i in range(0, len(x), chunk)] + [an.flush()])


@pytest.mark.parametrize("rate", [16000, 8000])
def test_a_syllable_the_model_takes_for_breath_is_decided_alike_wherever_the_batches_end(rate):
    """A nucleus the sound-class model leans to breath or cough for needs periodic frames within
    ``support_frames`` (250 ms) each side; a batch's right context (``CONTEXT_RIGHT``, 950 ms) holds
    them; the lean in running speech on a clean line reads the class scores over the same stretch
    and the noise floor at the peak. (This signal's peaks are taken by those tests; the
    lone-syllable test is exercised by the next test.) So breathing and coughs, 39 s (past the
    analyzer's 11 s of left context), give the whole signal's nuclei with a batch ending at every
    frame (10 ms blocks, a grid of one frame), every 7 frames (odd chunks), every 50 (20 ms live
    blocks: every peak lies within 25 frames of a batch end) and every 100 (4.1 s chunks)."""
    x = np.concatenate([sf.read(BREATHING / f"{name}.flac", dtype="float32")[0] for name in VOICED_BREATHS])
    if rate == 8000:
        x = resample_poly(x, 1, 2).astype(np.float32)
    cfg = AnalyzerConfig()
    whole = analyze_signal(x, rate, cfg)
    no_test = analyze_signal(x, rate, replace(cfg, syllables=replace(cfg.syllables, min_support_frames=0,
                                                                     max_vowel_lean=float("inf"))))
    assert (no_test.nucleus & ~whole.nucleus).sum() >= 2  # the vowel tests take peaks ...
    assert whole.nucleus.any()                            # ... and keeps others
    no_running = analyze_signal(x, rate, replace(cfg, syllables=replace(cfg.syllables,
                                                                        running_vowel_lean=float("inf"))))
    assert (no_running.nucleus & ~whole.nucleus).any()    # the lean in running speech takes one (a cough's)
    for grid, chunk in ((1, rate // 100), (7, 1237), (EMIT_GRID, rate // 50), (100, int(4.1 * rate))):
        assert np.array_equal(streamed(x, rate, chunk, grid, cfg).nucleus, whole.nucleus), (grid, chunk)


@pytest.mark.parametrize("rate", [16000, 8000])
def test_a_lone_syllable_and_a_breaths_own_first_burst_are_decided_alike_wherever_the_batches_end(rate):
    """The lone-syllable test counts periodic frames 950 ms each side of a peak and averages the
    class scores over its vowel; a breath's own first burst looks 100 ms back from the breath. On
    breathing where both rules decide something, every frame column of a stream equals the whole
    signal's: a batch ending at every frame (10 ms blocks, a grid of one frame), every 7 frames,
    every 50 (20 ms blocks, 1 s and 10 s chunks) and every 100 (a speech-mask leg's grid)."""
    x = np.concatenate([sf.read(BREATHING / f"{name}.flac", dtype="float32")[0] for name in LONE_SOUNDS])
    if rate == 8000:
        x = resample_poly(x, 1, 2).astype(np.float32)
    cfg = AnalyzerConfig()
    whole = analyze_signal(x, rate, cfg)
    no_lean = analyze_signal(x, rate, replace(cfg, syllables=replace(cfg.syllables, max_vowel_lean=float("inf"))))
    no_own = analyze_signal(x, rate, replace(cfg, sound=replace(cfg.sound, own_start_frames=0)))
    assert (no_lean.nucleus & ~whole.nucleus).sum() >= 2           # the lone-syllable test takes peaks
    assert (no_own.sound != whole.sound).any() == (rate == 16000)  # a first burst moves frames
    hop = rate // 100
    for grid, chunk in ((1, hop), (7, 7 * hop), (EMIT_GRID, rate // 50), (EMIT_GRID, rate), (EMIT_GRID, 10 * rate),
                        (100, int(4.1 * rate))):
        got = streamed(x, rate, chunk, grid, cfg)
        for column in fields(Frames):
            a, b = getattr(got, column.name), getattr(whole, column.name)
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (grid, chunk, column.name)


def test_a_sound_class_reaching_past_the_frames_held_back_is_refused():
    """A batch emits its frames ``CONTEXT_RIGHT`` frames before its end (``LOCAL_LEFT`` after its
    local start): a sound class whose classes depend on frames further away (a faint start
    longer than that, say) would class a frame otherwise than the whole call, so the streaming
    analyzer refuses it; with the sound class off, its settings reach nothing."""
    from monitor.analysis.analyzer import LOCAL_LEFT
    from monitor.dsp.sound_class import SoundClassParams
    for far in (SoundClassParams(lead_frames=CONTEXT_RIGHT), SoundClassParams(tail_frames=LOCAL_LEFT)):
        with pytest.raises(ValueError, match="context"):
            StreamingAnalyzer(16000, AnalyzerConfig(sound=far))
        StreamingAnalyzer(16000, AnalyzerConfig(sound=replace(far, enabled=False)))
    assert StreamingAnalyzer(8000).cfg.sound.context_right_frames <= CONTEXT_RIGHT


@pytest.mark.parametrize("rate", [16000, 8000])
def test_a_frames_class_scores_are_the_same_bits_whichever_frames_share_the_networks_product(rate):
    """A stream scores each frame with the few frames of its batch, the whole signal with all of
    them; a matrix product's last bit depends on how many rows share it and where a row sits, and
    a score a last bit apart can tip a class or a syllable's vowel test the other way. So the
    scores of a frame are the same bits in batches of any size, starting anywhere."""
    from monitor.analysis.analyzer import _Network, class_inputs
    x = np.concatenate([sf.read(BREATHING / f"{name}.flac", dtype="float32")[0] for name in VOICED_BREATHS[:3]])
    if rate == 8000:
        x = resample_poly(x, 1, 2).astype(np.float32)
    features, _ = class_inputs(x, rate)
    network = _Network.load()
    whole = network.scores(features, 0)
    for size in (1, 2, 7, 50, 145, 513, 1001):
        for start in (0, 3, 16):
            parts = [network.scores(features[a:a + size], a) for a in range(start, len(features), size)]
            assert np.array_equal(np.concatenate(parts), whole[start:]), (size, start)
    assert np.array_equal(network.scores(features[:0], 5), np.zeros((0, 3), np.float32))


def test_a_frames_spectral_shape_is_the_same_bits_in_a_batch_of_any_size():
    """The class's spectral columns of a frame (flatness, centroid, band shares, zero crossings)
    come out the same bits whether the frame is scored in a stream's small batch or with the whole
    signal: nothing in them is a matrix product over the batch's rows."""
    from monitor.dsp.sound_class import spectral_shape
    rng = np.random.default_rng(7)
    frames = (rng.standard_normal((600, 256)) * np.linspace(0.01, 0.5, 600)[:, None]).astype(np.float32)
    whole = spectral_shape(frames)
    for size in (1, 2, 7, 50, 145, 513):
        for start in (0, 3, 16):
            parts = [spectral_shape(frames[a:a + size]) for a in range(start, len(frames), size)]
            assert np.array_equal(np.concatenate(parts), whole[start:]), (size, start)
