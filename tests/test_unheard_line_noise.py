"""A live caller's source lost on a noisy line: the capture fills the time with exact zeros and
marks it as not heard (``Chunk.unheard``). The analyzer's level trackers (the noise floor, the
recent peak level, the sound class's inputs) learn nothing from the marked time: after it they go
on from where they were, so the line noise that comes back is line noise, as if it had never
stopped, not breaths and not speech.

The call is the healthy fixture ``normal`` with white line noise added at about 19 dB below the
caller's speech; the gap comes right after the agent's question at 106.5 s (as in
tests/test_unheard_caller.py)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS, assert_heard_as_line_noise
from monitor.analysis.analyzer import StreamingAnalyzer, analyze_signal
from monitor.capture.sources import Chunk
from monitor.config import load_config
from monitor.pipeline import CallPipeline, run_source

QUESTION_END_S = 106.55
GAP_S = 6.0
AFTER_S = 10.0
LINE_NOISE_DBFS = -45.0


def _noisy_call() -> tuple[np.ndarray, int]:
    """The fixture's legs, caller first (shape (n, 2)), white line noise added to both, and its rate."""
    x, rate = sf.read(CALLS / "normal_8k.wav", dtype="float32")
    noise = np.random.default_rng(7).normal(0.0, 10 ** (LINE_NOISE_DBFS / 20), x.shape).astype(np.float32)
    return x[:, [1, 0]] + noise, rate


def _with_gap(zeros: bool) -> tuple[np.ndarray, int, tuple[int, int]]:
    """The noisy call with ``GAP_S`` seconds inserted after the agent's question: the caller's leg
    exact zeros (``zeros``: the source lost) or the caller's own line noise (heard, silent), the
    agent's its line noise; its samples, rate and the gap's samples."""
    x, rate = _noisy_call()
    at, n = int(QUESTION_END_S * rate), int(GAP_S * rate)
    line = np.random.default_rng(8).normal(0.0, 10 ** (LINE_NOISE_DBFS / 20), (n, 2)).astype(np.float32)
    if zeros:
        line[:, 0] = 0.0
    return np.concatenate([x[:at], line, x[at:]]), rate, (at, at + n)


def _chunks(x: np.ndarray, rate: int, gap: tuple[int, int] | None, chunk_s: float):
    """``x`` in ``chunk_s`` chunks, the caller's samples ``gap`` marked as not heard (None: none)."""
    step = int(chunk_s * rate)
    for s in range(0, len(x), step):
        e = min(len(x), s + step)
        inside = gap is not None and gap[0] < e and gap[1] > s
        yield Chunk(s / rate, x[s:e], unheard=((0, max(gap[0], s) - s, min(gap[1], e) - s),) if inside else ())


def _streamed_caller(x: np.ndarray, rate: int, gap: tuple[int, int] | None, chunk_s: float):
    """The caller's frames, the analyzer fed as the pipeline feeds it."""
    analyzer = StreamingAnalyzer(rate)
    batches = [analyzer.feed(c.samples[:, 0], [(a, b) for col, a, b in c.unheard if col == 0])
               for c in _chunks(x, rate, gap, chunk_s)]
    batches.append(analyzer.flush())
    return batches


def _after(frames, gap_end_s: float):
    return frames.between(gap_end_s, gap_end_s + AFTER_S)


@pytest.fixture(scope="module")
def lost() -> tuple[np.ndarray, int, tuple[int, int]]:
    return _with_gap(zeros=True)


def test_after_a_marked_gap_the_line_noise_is_heard_as_after_the_same_time_of_line_noise(lost):
    """The 10 s after the gap: the same speech frames (within a few) and no breath or cough, where
    the same seconds heard as line noise give the same; the floor never falls to the zeros'."""
    x, rate, gap = lost
    end_s = gap[1] / rate
    marked = _after(analyze_signal(x[:, 0], rate, unheard=[gap]), end_s)
    y, _, _ = _with_gap(zeros=False)
    heard = _after(analyze_signal(y[:, 0], rate), end_s)
    assert_heard_as_line_noise(marked, heard, LINE_NOISE_DBFS)


def test_the_same_gap_unmarked_is_held_through_too_as_zeros_within_the_line_noise(lost):
    """Without the capture's mark the zeros still come within steady line noise (as a softphone's
    silence suppression leaves them; tests/test_line_silence.py): the floor holds through them too."""
    x, rate, gap = lost
    unmarked = _after(analyze_signal(x[:, 0], rate), gap[1] / rate)
    assert unmarked.floor_db.min() > LINE_NOISE_DBFS - 6.0


def test_a_marked_gap_on_a_noisy_line_gives_the_cues_of_the_same_time_of_line_noise(lost):
    """The call judged with the gap marked: no breaths from the line noise after it, the caller's
    cues of the 10 s after it as with line noise in the gap (heard), and nothing raised."""
    x, rate, gap = lost
    end_s = gap[1] / rate

    def cues(y, marks):
        events = run_source(CallPipeline(load_config(None, user_config=False), rate, ("caller", "agent")),
                            _chunks(y, rate, marks, 0.5), [])
        return events, [e for e in events if e.type == "cues" and e.channel == "caller"
                        and end_s <= e.t <= end_s + AFTER_S]

    events, marked = cues(x, gap)
    _, heard = cues(_with_gap(zeros=False)[0], None)
    assert [e.kind for e in events if e.type == "alert"] == []
    assert all(not e.breaths_per_min for e in marked)
    assert [e.t for e in marked] == [e.t for e in heard]
    for m, h in zip(marked, heard):
        assert m.speech_s == pytest.approx(h.speech_s, abs=0.1)
        assert m.breaths_per_min == h.breaths_per_min


@pytest.mark.parametrize("chunk_s", [0.02, 0.5, 7.3])
def test_the_frames_are_the_same_whatever_the_chunks_the_marks_come_with(lost, chunk_s):
    """The marks arrive with the chunks that hold them, the gap split across many or lying inside
    one: the frames are those of the whole signal with the same marks, bit for bit."""
    x, rate, gap = lost
    lo, hi = int((QUESTION_END_S - 20.0) * rate), int((QUESTION_END_S + GAP_S + 20.0) * rate)
    x, gap = x[lo:hi], (gap[0] - lo, gap[1] - lo)
    want = analyze_signal(x[:, 0], rate, unheard=[gap])
    got = _streamed_caller(x, rate, gap, chunk_s)
    for name in ("floor_db", "speech", "sound", "nucleus", "intensity_db"):
        assert np.array_equal(np.concatenate([getattr(b, name) for b in got]), getattr(want, name)), name
