"""Whether a stereo recording's legs look swapped, from the band each leg was carried in.

The caller reaches a call centre over a telephone line, which carries 300-3400 Hz (HD voice more);
the agent speaks into a microphone on the agent's own computer, which carries everything up to the
recording's Nyquist frequency. In a wideband recording (16 kHz and up), an agent's leg with nothing
above 4 kHz beside a caller's leg with speech up to 7 kHz is the other way round from any call
centre's: the legs are most likely swapped, and the monitor would be judging the agent.
"""

from __future__ import annotations

import numpy as np

FRAME = 512
"""Samples per spectrum frame (32 ms at 16 kHz)."""
HIGH_HZ = (4200.0, 7000.0)
"""The band a telephone line does not carry and a microphone does."""
VOICE_HZ = (300.0, 3400.0)
"""The telephone band, which both legs carry."""
LISTEN_S = 120.0
"""Seconds of each leg listened to (from the call's start)."""
NARROW_DB = -40.0
"""A leg whose high band lies this far or more under its voice band came over a telephone line."""
WIDE_DB = -30.0
"""A leg whose high band lies within this much of its voice band did not."""


def power_sum(x: np.ndarray) -> np.ndarray:
    """Sum of the Hann-windowed power spectra of the whole :data:`FRAME`-sample frames of each
    column of ``x``.

    Parameters
    ----------
    x : np.ndarray [shape=(n, legs)], float

    Returns
    -------
    power : np.ndarray [shape=(FRAME // 2 + 1, legs)], float64
    """
    n, legs = x.shape
    frames = x[: n // FRAME * FRAME].reshape(-1, FRAME, legs) * np.hanning(FRAME)[None, :, None]
    return np.square(np.abs(np.fft.rfft(frames, axis=1))).sum(axis=0)


def high_band_db(power: np.ndarray, rate: int) -> np.ndarray:
    """How far the power over :data:`HIGH_HZ` lies under the power over :data:`VOICE_HZ` (dB) in
    each column of a summed power spectrum ``power`` (shape (FRAME // 2 + 1, legs)) of audio at
    ``rate`` Hz -> shape (legs,); NaN for a leg without voice-band power (silent)."""
    hz = np.fft.rfftfreq(FRAME, 1.0 / rate)
    high = power[(hz >= HIGH_HZ[0]) & (hz <= HIGH_HZ[1])].sum(axis=0)
    voice = power[(hz >= VOICE_HZ[0]) & (hz <= VOICE_HZ[1])].sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(voice > 0, 10.0 * np.log10(np.maximum(high, 1e-30) / voice), np.nan)


class LegBands:
    """The summed power spectrum of each leg's first :data:`LISTEN_S` seconds, block by block."""

    def __init__(self, rate: int, legs: tuple[str, ...]) -> None:
        self.rate, self.legs = rate, legs
        self.power = np.zeros((FRAME // 2 + 1, len(legs)))
        self._rest = np.zeros((0, len(legs)), np.float32)  # samples short of a whole frame
        self._left = int(LISTEN_S * rate) if rate >= 2 * HIGH_HZ[1] else 0  # samples still to listen to

    def add(self, block: np.ndarray) -> None:
        """Take in the next samples (shape (n, len(legs)))."""
        if self._left <= 0:
            return
        x = np.concatenate([self._rest, block[: self._left]])
        self._left -= min(len(block), self._left)
        whole = len(x) // FRAME * FRAME
        self.power += power_sum(x[:whole])
        self._rest = x[whole:]

    def swapped(self, channels: dict[str, int]) -> str | None:
        """One phrase if the agent's leg sounds like a telephone line and the caller's does not
        (``channels``: each leg's channel in the recording), else None."""
        if self.legs != ("caller", "agent"):
            return None
        caller, agent = high_band_db(self.power, self.rate)
        if not (agent <= NARROW_DB and caller >= WIDE_DB):  # NaN (a silent leg) is neither
            return None
        return (f"the agent's leg (channel {channels['agent']}) sounds like a telephone line (nothing above "
                f"4 kHz) and the caller's (channel {channels['caller']}) does not: are the legs swapped?")
