"""The edge high-pass's recurrence ``y[n] = a y[n-1] + u[n]``: the definition itself, bit for bit
(that any split of a stream gives exactly the whole's samples is specified in test_edge.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from monitor.capture.audio_files import Highpass
from monitor.dsp import iir


def sequential(u: np.ndarray, a: float, y0: float) -> np.ndarray:
    """The definition, sample by sample."""
    out = np.empty_like(u)
    y = y0
    for i, v in enumerate(u):
        y = a * y + v
        out[i] = y
    return out


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 3000), elements=st.floats(-1, 1)), st.floats(-0.999, 0.999),
       st.floats(-1, 1))
def test_the_recurrence_is_its_definition_bit_for_bit(u, a, y0):
    got = iir.first_order_recurrence(u[:, None], a, np.array([y0]))[:, 0]
    assert np.array_equal(got, sequential(u, a, y0))


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 3000), elements=st.floats(-1, 1)), st.floats(-0.999, 0.999))
def test_the_numpy_fallback_equals_the_definition_to_rounding(u, a):
    got = iir.block_recurrence(u[:, None], a, np.array([0.25]))[:, 0]
    np.testing.assert_allclose(got, sequential(u, a, 0.25), rtol=1e-9, atol=1e-9)


def test_channels_are_filtered_apart():
    rng = np.random.default_rng(3)
    u = rng.uniform(-1, 1, (500, 3))
    y0 = np.array([0.5, -0.25, 0.0])
    got = iir.first_order_recurrence(u, 0.99, y0)
    for c in range(3):
        assert np.array_equal(got[:, c], sequential(u[:, c], 0.99, y0[c]))


def test_a_stereo_block_keeps_its_layout_and_values():
    rng = np.random.default_rng(5)
    x = rng.uniform(-0.5, 0.5, (1000, 2)).astype(np.float32)
    y = Highpass(8000, 2).process(x)
    assert y.shape == (1000, 2) and y.dtype == np.float64
    for c in range(2):
        assert np.array_equal(y[:, c], Highpass(8000, 1).process(x[:, c:c + 1])[:, 0])


def test_without_the_compiled_loop_the_fallback_is_used(monkeypatch):
    monkeypatch.setattr(iir, "_sigtools", lambda: None)
    u = np.linspace(-1, 1, 300)[:, None]
    np.testing.assert_allclose(iir.first_order_recurrence(u, 0.9, np.zeros(1))[:, 0], sequential(u[:, 0], 0.9, 0.0),
                               rtol=1e-12, atol=1e-12)


def test_loading_the_compiled_loop_does_not_import_scipy_signal():
    code = ("import sys; from monitor.dsp import iir; assert iir._sigtools() is not None; "
            "print(sorted(m for m in sys.modules if m.startswith('scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert "scipy.signal'" not in out and "scipy.stats" not in out


def test_a_compiled_loop_that_answers_otherwise_is_not_used(monkeypatch):
    class Changed:  # scipy's private loop with another meaning of its arguments
        @staticmethod
        def _linear_filter(b, a, x, axis, zi):
            return x * 2.0, zi

    iir._sigtools.cache_clear()
    monkeypatch.setattr(iir.scipy_core, "compiled", lambda *names: Changed)
    try:
        assert iir._sigtools() is None
    finally:
        iir._sigtools.cache_clear()
