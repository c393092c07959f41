"""Whether a stereo recording's two legs carry the same audio: a "dual-mono" recording, the call
mixed and copied onto both channels (as many call recorders export it, or ``sox mix.wav -c 2``),
read as the agent on one leg and the caller on the other.

Counted at the edge, on the samples of the legs as they are read (:class:`LegsAlike`, fed each
block of a :class:`~monitor.capture.sources.FileSource`): the correlation of the two legs' samples
over half-second stretches, at the lag within :data:`MAX_LAG_S` where it is highest (one channel of
a copy may lag the other by a sample or so), a few dot products a stretch, and the difference of
their levels. A copy stays a copy through a codec applied to each channel alike (mu-law, a gain): in
every stretch with sound the legs correlate, at one level difference. Two talkers on a line with
crosstalk or echo do not: a talker heard on the other leg too is heard there weaker than on their
own (or not at all), so the level difference swings from one talker's stretches to the other's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRETCH_S = 0.5
"""The stretch of audio whose two legs are compared at a time."""

MAX_LAG_S = 0.001
"""The lag of one leg behind the other up to which a copy is still a copy: at no lag, a copy of the
normal fixture call one sample late correlates at 0.70 (the median of its half seconds) at 8 kHz and
0.90 at 16 kHz, under :data:`ALIKE_CORRELATION`; within this lag, 96 % or more of them are alike at
1 to 8 samples' lag (8 kHz)."""

ALIKE_CORRELATION = 0.98
"""The correlation of the two legs' samples (its size: a copy of opposite polarity is a copy) from
which a stretch's legs are alike. A copy read as written is 1.0000, and so is one through a mu-law
round trip of each channel; on the fixture calls (distinct legs) every stretch with sound on both
legs is at 0.11 or under (540 such stretches, nearly all on the noisy lines); on a
fixture call given crosstalk or echo of the other leg at 0 to -6 dB, the stretches a talker speaks in
alone correlate as well: their level difference (:data:`LEVEL_SPREAD_DB`) tells them apart."""

LEVEL_SPREAD_DB = 1.0
"""The spread (standard deviation) of the level difference of the two legs over their alike
stretches under which the legs carry one audio: a copy's is 0.0 dB (mu-law: 0.0); a fixture call with
the other leg's talker mixed into each leg at -3 and -6 dB, 4.1 dB."""

ALIKE_SHARE = 0.9
"""The share of the stretches with sound on either leg that must be alike for the recording's legs
to carry the same audio (:meth:`LegsAlike.same`)."""

MIN_SOUND_S = 10.0
"""Seconds of stretches with sound on either leg under which nothing is said (too little to tell)."""

SOUND_DBFS = -60.0
"""The level (mean square) from which a leg's stretch holds sound: line noise and a silent leg's
dither are under it."""


@dataclass
class LegsAlike:
    """The count, over a recording read block by block (:meth:`add`), of its stretches with sound
    on either leg and of those whose legs are alike, with the sum and the sum of squares of the
    alike stretches' level difference (dB)."""

    rate: int
    sounding: int = 0
    alike: int = 0
    _diff: float = 0.0
    _diff2: float = 0.0

    def add(self, samples: np.ndarray) -> None:
        """Count ``samples`` (n, legs) of the recording (a recording of one leg: nothing); the
        block's tail short of a whole stretch is left out."""
        n = max(1, int(round(self.rate * STRETCH_S)))
        k = len(samples) // n
        if samples.ndim != 2 or samples.shape[1] < 2 or k == 0:
            return
        x = samples[:k * n, 0].reshape(k, n).astype(np.float64)
        y = samples[:k * n, 1].reshape(k, n).astype(np.float64)
        sxx, syy = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
        floor = n * 10.0 ** (SOUND_DBFS / 10.0)
        both = (sxx > floor) & (syy > floor)
        corr = best_lag_products(x[both], y[both], int(self.rate * MAX_LAG_S)) / np.sqrt(sxx[both] * syy[both])
        alike = corr >= ALIKE_CORRELATION
        diff = 10.0 * np.log10(sxx[both][alike] / syy[both][alike])
        self.sounding += int(np.count_nonzero((sxx > floor) | (syy > floor)))
        self.alike += len(diff)
        self._diff += float(diff.sum())
        self._diff2 += float(np.square(diff).sum())

    @property
    def level_spread_db(self) -> float | None:
        """The spread of the alike stretches' level difference (None: no alike stretch)."""
        if not self.alike:
            return None
        mean = self._diff / self.alike
        return float(np.sqrt(max(0.0, self._diff2 / self.alike - mean * mean)))

    def same(self) -> str | None:
        """Why the two legs read as the same audio, in words (None when they do not, or when too
        little of them holds sound to tell: :data:`MIN_SOUND_S`)."""
        if self.sounding * STRETCH_S < MIN_SOUND_S or self.alike < ALIKE_SHARE * self.sounding:
            return None
        spread = self.level_spread_db
        if spread is None or spread > LEVEL_SPREAD_DB:
            return None
        return (f"{100 * self.alike / self.sounding:.0f} % of its {self.sounding * STRETCH_S:.0f} s with sound hold "
                f"the same samples on both channels (correlation {ALIKE_CORRELATION} or more, at one level)")


def best_lag_products(x: np.ndarray, y: np.ndarray, max_lag: int) -> np.ndarray:
    """Each stretch's largest dot product (in size) of its two legs' samples at a lag of up to
    ``max_lag`` samples either way, the overlap alone counted.

    Parameters
    ----------
    x, y : np.ndarray [shape=(k, n)], float64  the two legs' stretches (only those with sound on
        both legs: the others need no correlation, and a call's legs take turns)
    max_lag : int >= 0

    Returns
    -------
    sxy : np.ndarray [shape=(k,)]
    """
    n = x.shape[1]
    products = [np.einsum("ij,ij->i", x[:, max(0, lag):n + min(0, lag)], y[:, max(0, -lag):n - max(0, lag)])
                for lag in range(-max_lag, max_lag + 1)]  # a few lags (1 ms), each over every stretch at once
    return np.max(np.abs(products), axis=0) if len(x) else np.zeros(0)
