"""The streaming analyzer's emission grid can be chosen: frames stay those of the whole signal.

A leg whose frames serve only the cue windows may take batches on the cue hop (100 frames for
1 s) instead of the default 0.5 s grid: the frames are the same, the batches end on the chosen
grid, and each comes out as soon as the right context of its last frame has arrived.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.analysis.analyzer import CONTEXT_RIGHT, StreamingAnalyzer, analyze_signal
from monitor.analysis.frame_features import Frames
from monitor.capture.audio_files import AnalysisStream

ROOT = Path(__file__).resolve().parents[1]
CALL = ROOT / "audio_fixtures" / "calls" / "deteriorating_16k.wav"


def caller(seconds: float) -> tuple[np.ndarray, int]:
    """The first ``seconds`` of the fixture call's caller leg, as the product reads it."""
    stream = AnalysisStream(CALL, [1])
    x = np.concatenate(list(stream))[:, 0]
    return x[: int(seconds * stream.rate)], stream.rate


def assert_frames_identical(a: Frames, b: Frames) -> None:
    assert len(a) == len(b)
    for name in Frames.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


@pytest.mark.parametrize("grid", [100, 25])
def test_frames_on_any_grid_are_the_whole_signals_and_come_out_as_soon_as_their_context_is_there(grid):
    x, rate = caller(15.0)
    an = StreamingAnalyzer(rate, emit_grid=grid)
    whole = analyze_signal(x, rate)
    parts = []
    step = rate // 50  # 20 ms live blocks
    for i in range(0, len(x), step):
        out = an.feed(x[i:i + step])
        parts.append(out)
        if len(out):
            assert an.frames_emitted % grid == 0
        received = min(i + step, len(x))
        complete = an.frames_reached(received)
        due = max(0, complete - CONTEXT_RIGHT) // grid * grid
        assert an.frames_emitted >= min(due, len(whole) - len(whole) % grid)
    parts.append(an.flush())
    assert_frames_identical(Frames.concat(parts), whole)


def test_an_emission_grid_below_one_frame_is_refused():
    with pytest.raises(ValueError, match="emit_grid"):
        StreamingAnalyzer(16000, emit_grid=0)
