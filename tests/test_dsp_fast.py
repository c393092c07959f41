"""The analyzer's own FFT, running filters, peak picking and FIR design give scipy's numbers exactly.

They replace ``scipy.fft``, ``scipy.ndimage`` and ``scipy.signal`` in the analyzer only
to spare their import time; every comparison here is bit for bit, so the analyzer's
frames are the ones it computed with scipy.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import scipy.ndimage as nd
import scipy.signal as ss

from monitor.dsp import fft, filters, peaks

RNG = np.random.default_rng(20260522)


def signals(count: int = 40):
    """Random signals of random length, every third rounded so that it holds plateaus."""
    for i in range(count):
        x = (RNG.standard_normal(int(RNG.integers(1, 2500))) * 10).astype(np.float32)
        yield np.round(x) if i % 3 == 0 else x


@pytest.mark.parametrize("nfft, length", [(2000, 1601), (1000, 801), (250, 200), (64, 64), (81, 100)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rfft_and_irfft_equal_scipy_fft(nfft, length, dtype):
    x = RNG.standard_normal((37, length)).astype(dtype)
    spec = fft.rfft(x, nfft)
    assert spec.dtype == scipy.fft.rfft(x, nfft, axis=1).dtype
    assert np.array_equal(spec, scipy.fft.rfft(x, nfft, axis=1))
    lnp = np.log(np.abs(spec) ** 2 + 1e-30).astype(dtype)
    assert np.array_equal(fft.irfft(lnp, nfft), scipy.fft.irfft(lnp, nfft, axis=1))
    assert np.array_equal(fft.irfft(spec, nfft), scipy.fft.irfft(spec, nfft, axis=1))


def test_rfft_of_a_strided_view_equals_scipy():
    x = RNG.standard_normal(5000).astype(np.float32)
    view = np.lib.stride_tricks.sliding_window_view(x, 300)[::80]
    assert np.array_equal(fft.rfft(view, 512), scipy.fft.rfft(view, 512, axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_power_in_place_is_the_squared_magnitude_bit_for_bit(dtype):
    x = RNG.standard_normal((7, 300)).astype(dtype)
    spec = fft.rfft(x, 320)
    expected = spec.real * spec.real + spec.imag * spec.imag
    band = spec[:, 12:140]  # a band of the spectrum, as the analyzer takes it
    expected_band = expected[:, 12:140].copy()
    assert np.array_equal(fft.band_power(spec, 12, 140), expected_band)
    assert np.array_equal(fft.power_in_place(band), expected_band)
    assert np.array_equal(fft.power_in_place(fft.rfft(x, 320)), expected)


@pytest.mark.parametrize("target", [1, 7, 97, 641, 1601, 2001, 4097])
def test_next_fast_len_equals_scipy(target):
    assert fft.next_fast_len(target, real=True) == scipy.fft.next_fast_len(target, real=True)


def test_moving_average_equals_uniform_filter1d_in_every_mode_and_origin():
    for x in signals():
        size = int(RNG.integers(1, 50))
        for mode in ("nearest", "constant"):
            for origin in {0, -(size // 2), (size - 1) // 2}:
                assert np.array_equal(filters.moving_average(x, size, mode, 0.0, origin),
                                      nd.uniform_filter1d(x, size, mode=mode, origin=origin))


def test_filters_along_either_axis_of_a_matrix_equal_ndimage():
    x = (RNG.standard_normal((300, 7)) * 5).astype(np.float32)
    for axis in (0, 1):
        for ours, theirs in ((filters.uniform_filter1d, nd.uniform_filter1d),
                             (filters.minimum_filter1d, nd.minimum_filter1d),
                             (filters.maximum_filter1d, nd.maximum_filter1d)):
            got, want = ours(x, 5, axis=axis, mode="nearest"), theirs(x, 5, axis=axis, mode="nearest")
            assert got.dtype == want.dtype and np.array_equal(got, want)


def test_trailing_extrema_equal_ndimage_with_a_shifted_origin():
    for x in signals():
        w = int(RNG.integers(1, 1200))
        o = (w - 1) // 2
        assert np.array_equal(filters.trailing_min(x, w),
                              nd.minimum_filter1d(x, w, mode="constant", cval=np.inf, origin=o))
        assert np.array_equal(filters.trailing_max(x, w),
                              nd.maximum_filter1d(x, w, mode="constant", cval=-np.inf, origin=o))


def test_trailing_min_of_nothing_is_nothing():
    assert filters.trailing_min(np.zeros(0, np.float32), 400).shape == (0,)


@pytest.mark.filterwarnings("ignore:some peaks have a prominence of 0")
@pytest.mark.parametrize("distance, wlen, prominence", [(5, 41, 2.5), (1, 7, 0.0), (12, 3, 1.0)])
def test_find_peaks_equals_scipy_including_plateaus_and_ties(distance, wlen, prominence):
    for x in signals(60):
        y = np.cumsum(x) if len(x) % 2 else x
        want, _ = ss.find_peaks(y, prominence=prominence, wlen=wlen, distance=distance)
        assert np.array_equal(peaks.find_peaks(y, prominence, wlen, distance), want)


def test_local_maxima_reports_a_plateau_at_its_middle_and_never_the_ends():
    x = np.array([3, 1, 2, 2, 2, 2, 0, 5, 5, 9])
    assert peaks.local_maxima(x).tolist() == [3]


@pytest.mark.parametrize("down", range(2, 13))
def test_kaiser_lowpass_gives_firwins_single_precision_taps(down):
    theirs = ss.firwin(20 * down + 1, 1.0 / down, window=("kaiser", 5.0))
    ours = filters.kaiser_lowpass(20 * down + 1, 1.0 / down, 5.0)
    assert np.allclose(ours, theirs, rtol=0, atol=1e-15)
    assert np.array_equal(ours.astype(np.float32), theirs.astype(np.float32))


def test_the_first_outputs_of_a_moving_average_are_those_of_the_whole_row():
    x = (RNG.standard_normal((20, 269)) ** 2).astype(np.float32)
    whole = nd.uniform_filter1d(x, 134, axis=1, mode="constant", origin=-67)
    assert np.array_equal(filters.moving_average(x, 134, "constant", 0.0, -67, count=135), whole[:, :135])
    assert np.array_equal(filters.moving_average(x, 134, "constant", 0.0, -67, count=200), whole[:, :200])


@pytest.mark.parametrize("rows", [1, 2, 3, 50])
def test_a_moving_average_of_any_number_of_rows_equals_each_row_alone(rows):
    """The pitch tracker's lag energies: every row's running sum in the same order, whether the
    batch holds one frame (summed on its own) or many (summed side by side); in double precision,
    where a different order of the additions would show."""
    x = RNG.standard_normal((rows, 269)) ** 2 * 10.0 ** RNG.uniform(-8, 1, (rows, 1))
    got = filters.moving_average(x, 134, "constant", 0.0, -67, count=135)
    for r in range(rows):
        want = nd.uniform_filter1d(x[r], 134, mode="constant", origin=-67)[:135]
        assert np.array_equal(got[r], want)


@pytest.mark.parametrize("columns", [1, 2, 13])
@pytest.mark.parametrize("mode", ["nearest", "constant"])
def test_a_moving_average_down_the_columns_equals_ndimage_in_double_precision(columns, mode):
    """The sound class's windowed means run down the columns of a frames x features matrix:
    each column's running sum in ndimage's order, for any number of columns."""
    x = RNG.standard_normal((290, columns)) * 10.0 ** RNG.uniform(-6, 2, (290, columns))
    for size in (3, 7, 11):
        assert np.array_equal(filters.uniform_filter1d(x, size, axis=0, mode=mode),
                              nd.uniform_filter1d(x, size, axis=0, mode=mode))


@pytest.mark.parametrize("columns", [1, 2, 13])
@pytest.mark.parametrize("loop", ["scipy's loop", "numpy"])
def test_the_column_means_and_maxima_are_ndimages_with_scipys_loop_or_without(columns, loop, monkeypatch):
    """columns_mean and columns_max give ndimage's numbers for any number of columns and any
    window, odd or even, longer than the column or not, whether scipy's compiled loops serve
    or the numpy code (a single column too, whose first window numpy would sum pairwise)."""
    if loop == "numpy":
        monkeypatch.setattr(filters, "compiled_mean", lambda: None)
        monkeypatch.setattr(filters, "compiled_max", lambda: None)
    for n in (1, 2, 9, 290):
        x = RNG.standard_normal((n, columns)) * 10.0 ** RNG.uniform(-6, 2, (n, columns))
        for size in (1, 2, 3, 10, 11, 12, 31):
            for y in (x, x.astype(np.float32)):
                want = nd.uniform_filter1d(y, size, axis=0, mode="nearest")
                assert np.array_equal(filters.columns_mean(y, size), want)
                want = nd.maximum_filter1d(y, size, axis=0, mode="nearest")
                assert np.array_equal(filters.columns_max(y, size, finite=True), want)


@pytest.mark.parametrize("rows", [0, 1, 30])
def test_the_column_means_and_maxima_are_new_arrays_or_the_output_given(rows):
    x = RNG.standard_normal((rows, 3)).astype(np.float32)
    x.flags.writeable = False
    for size in (1, 5):
        for out in (filters.columns_mean(x, size), filters.columns_max(x, size),
                    filters.columns_max(x, size, finite=True)):
            assert out.flags.writeable and not np.shares_memory(out, x)
        given = np.empty((rows, 3), np.float32)
        assert filters.columns_mean(x, size, out=given) is given
        assert filters.columns_max(x, size, finite=True, out=given) is given
        assert filters.columns_max(x, size, out=given) is given


class _ForeignLoop:
    """A ``_nd_image`` of another scipy version: other arguments, or other mode codes."""

    def __init__(self, fails: bool) -> None:
        self.fails = fails

    def uniform_filter1d(self, x, size, axis, out, mode, cval, origin) -> None:
        if self.fails:
            raise TypeError("uniform_filter1d() takes 8 arguments")
        out[...] = nd.uniform_filter1d(x, size, axis, mode="nearest", origin=origin)


class _RunningMeanLoop:
    """The ``_nd_image`` of scipy before 1.0: its running mean adds each step divided by the size."""

    def uniform_filter1d(self, x, size, axis, out, mode, cval, origin) -> None:
        before, after = filters._margins(size, origin)
        e = filters._extend(np.moveaxis(np.asarray(x, np.float64), axis, -1), before, after,
                            {0: "nearest", 4: "constant"}[mode], cval)
        n = x.shape[axis]
        steps = np.empty(e.shape[:-1] + (n,))
        steps[..., 0] = np.cumsum(e[..., :size], axis=-1)[..., -1] / size
        steps[..., 1:] = (e[..., size:size + n - 1] - e[..., :n - 1]) / size
        np.moveaxis(out, axis, -1)[...] = np.add.accumulate(steps, axis=-1)


@pytest.mark.parametrize("core", ["scipy's", "absent", "other arguments", "other mode codes", "a running mean"])
def test_the_pitch_trackers_window_energies_are_the_moving_average_whatever_scipys_loop(core, monkeypatch):
    from monitor.dsp import pitch, scipy_core
    x = np.random.default_rng(3).standard_normal((37, 269)).astype(np.float32)
    want = filters.moving_average(np.square(x), 134, "constant", 0.0, -67, count=135) * np.float32(134)
    if core != "scipy's":
        found = {"absent": None, "other arguments": _ForeignLoop(True), "other mode codes": _ForeignLoop(False),
                 "a running mean": _RunningMeanLoop()}
        monkeypatch.setattr(scipy_core, "compiled", lambda *args: found[core])
    filters.compiled_mean.cache_clear()
    try:
        assert (filters.compiled_mean() is None) == (core != "scipy's")
        assert np.array_equal(pitch._window_energies(x, 134, 135), want)
    finally:
        filters.compiled_mean.cache_clear()


class _ForeignMax:
    """A ``_nd_image`` of another scipy version: other arguments, or the minimum for the maximum."""

    def __init__(self, fails: bool) -> None:
        self.fails = fails

    def min_or_max_filter1d(self, x, size, axis, out, mode, cval, origin, minimum) -> None:
        if self.fails:
            raise TypeError("min_or_max_filter1d() takes 9 arguments")
        out[...] = (nd.maximum_filter1d if minimum else nd.minimum_filter1d)(x, size, axis, mode="nearest")


@pytest.mark.parametrize("core", ["scipy's", "absent", "other arguments", "other flag"])
def test_the_column_maxima_are_the_running_maxima_whatever_scipys_loop(core, monkeypatch):
    """The compiled maximum serves only if its probe gives columns_max's numbers; the probe runs
    once (its result cached until cache_clear)."""
    from monitor.dsp import scipy_core
    x = np.round(RNG.standard_normal((57, 2)) * 3).astype(np.float32)
    want = nd.maximum_filter1d(x, 11, axis=0, mode="nearest")
    if core != "scipy's":
        found = {"absent": None, "other arguments": _ForeignMax(True), "other flag": _ForeignMax(False)}
        monkeypatch.setattr(scipy_core, "compiled", lambda *args: found[core])
    filters.compiled_max.cache_clear()
    try:
        assert (filters.compiled_max() is None) == (core != "scipy's")
        assert np.array_equal(filters.columns_max(x, 11, finite=True), want)
        filters.compiled_max()
        assert filters.compiled_max.cache_info().misses == 1
    finally:
        filters.compiled_max.cache_clear()


def test_a_compiled_module_that_fails_to_load_is_not_found(tmp_path, monkeypatch):
    import importlib.machinery
    import sys
    from monitor.dsp import scipy_core
    folder = tmp_path / "scipy" / "ndimage"
    folder.mkdir(parents=True)
    (tmp_path / "scipy" / "__init__.py").write_text("")
    (folder / ("_nd_image" + importlib.machinery.EXTENSION_SUFFIXES[0])).write_bytes(b"not a shared library")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "scipy", raising=False)
    assert scipy_core.compiled.__wrapped__("ndimage", "_nd_image", "uniform_filter1d") is None


def test_the_parabola_at_each_rows_column_is_the_parabola_through_its_three_samples():
    a = RNG.standard_normal((9, 12)).astype(np.float32)
    col = RNG.integers(1, 11, 9)
    rows = np.arange(9)
    want = peaks.parabolic(a[rows, col - 1], a[rows, col], a[rows, col + 1])
    got = peaks.parabolic_at(a, col)
    assert all(np.array_equal(g, w) for g, w in zip(got, want))
    assert np.array_equal(peaks.row_values(a[:, 1:], col - 1), a[rows, col])  # a view of no contiguous rows too
    assert [v.shape for v in peaks.parabolic_at(a[:0], col[:0])] == [(0,), (0,)]
