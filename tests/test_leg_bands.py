"""A stereo recording whose legs look swapped is said so: the agent's leg carried in the telephone
band, the caller's not, is the other way round from any call centre's."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from conftest import CALLS, call_monitor
from monitor.capture.leg_bands import FRAME, LegBands, high_band_db, power_sum

SWAPPED = "are the legs swapped?"


def telephone(x: np.ndarray) -> np.ndarray:
    """``x`` (16 kHz) as a telephone line carries it: through 8 kHz and back."""
    return resample_poly(resample_poly(x, 1, 2), 2, 1).astype(np.float32)


@pytest.fixture(scope="module")
def legs() -> tuple[np.ndarray, np.ndarray]:
    """The agent's (wideband) and the caller's (telephone band) legs of a fixture call, 60 s."""
    x, rate = sf.read(CALLS / "normal_16k.wav", dtype="float32", frames=60 * 16000)
    assert rate == 16000
    return x[:, 0], telephone(x[:, 1])


def test_a_telephone_band_leg_lies_40_db_under_a_wideband_one_above_4_khz(legs):
    agent, caller = legs
    got = high_band_db(power_sum(np.stack([agent, caller], axis=1)), 16000)
    assert got[0] > -30 and got[1] < -40


def test_white_noise_has_as_much_power_above_4_khz_as_in_the_voice_band():
    noise = np.random.default_rng(0).standard_normal((16000 * 4, 1))
    assert high_band_db(power_sum(noise), 16000)[0] == pytest.approx(10 * np.log10(2800 / 3100), abs=0.3)


def test_a_silent_leg_is_neither_narrow_nor_wide():
    bands = LegBands(16000, ("caller", "agent"))
    bands.add(np.zeros((16000 * 3, 2), np.float32))
    assert np.isnan(high_band_db(bands.power, 16000)).all()
    assert bands.swapped({"caller": 1, "agent": 0}) is None


def test_blocks_of_any_length_sum_the_same_frames_as_the_whole(legs):
    x = np.stack(legs, axis=1)[: 16000 * 10]
    whole, parts = LegBands(16000, ("caller", "agent")), LegBands(16000, ("caller", "agent"))
    whole.add(x)
    for a in range(0, len(x), 7001):
        parts.add(x[a:a + 7001])
    np.testing.assert_allclose(parts.power, whole.power, rtol=1e-9)
    assert whole.power.shape == (FRAME // 2 + 1, 2)


def test_only_the_first_two_minutes_are_listened_to():
    bands = LegBands(16000, ("caller", "agent"))
    loud = np.random.default_rng(1).standard_normal((16000 * 130, 2)).astype(np.float32)
    bands.add(loud)
    heard = bands.power.copy()
    bands.add(loud)
    assert np.array_equal(bands.power, heard)


def test_a_recording_at_8_khz_has_no_band_above_4_khz_to_tell_by():
    bands = LegBands(8000, ("caller", "agent"))
    bands.add(np.random.default_rng(2).standard_normal((8000 * 5, 2)).astype(np.float32))
    assert bands.swapped({"caller": 1, "agent": 0}) is None and not bands.power.any()


def test_replaying_a_recording_with_swapped_legs_says_so_once_and_reading_them_the_other_way_does_not(
        legs, tmp_path):
    agent, caller = legs
    swapped = tmp_path / "swapped.wav"
    sf.write(swapped, np.stack([caller, agent], axis=1), 16000, subtype="PCM_16")  # caller left, agent right
    proc = call_monitor("replay", "--no-transcribe", "--db", tmp_path / "a.db", swapped, timeout=300)
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if SWAPPED in line]
    assert said == [f"call-monitor: warning: {swapped}: the agent's leg (channel 0) sounds like a telephone line "
                    f"(nothing above 4 kHz) and the caller's (channel 1) does not: {SWAPPED}"]
    other_way = call_monitor("replay", "--no-transcribe", "--db", tmp_path / "b.db", "--caller-channel", "0",
                             "--agent-channel", "1", swapped, timeout=300)
    assert other_way.returncode == 0 and SWAPPED not in other_way.stderr


def test_no_fixture_call_looks_swapped():
    for path in sorted(CALLS.glob("*_16k.wav")):
        x, rate = sf.read(path, dtype="float32", frames=120 * 16000)
        bands = LegBands(rate, ("caller", "agent"))
        bands.add(np.ascontiguousarray(x[:, [1, 0]]))
        assert bands.swapped({"caller": 1, "agent": 0}) is None, path.name
