"""Call-progress tones (ringback, ringtones, busy and dial tones): not the caller's speech.

A softphone plays its ringtone and ringback into the leg the analyzer hears as the caller's,
and recorded calls often begin with ringback. Such a tone is one to three sinusoids of fixed
frequency: its spectrum is a few narrow lines that stay where they are. Speech, even a held
vowel, has many harmonics under its formants, and its F0 (so each harmonic) drifts and jitters.
Three vectorised stages:

1. :func:`line_spectrum` (raw, every :data:`TONE_EVERY`-th frame): over a 64 ms Hann window of
   the 8 kHz signal, the share of the 300-3400 Hz band's bins within ``line_db`` of the strongest,
   and the mean frequency of the lines they make (runs of such bins; each line at its bins' mean,
   weighted by their power above that threshold, the lines averaged plainly), where they are at
   most ``max_lines`` and fill at most ``max_line_share`` of the band;
2. :func:`steady_frames` (contextual): the frames from one measured frame to the next are steady
   where both have such lines, which moved by at most ``max_drift`` of their frequency, and
   neither's F0 is a mains frequency (hum is the cue window's tone test's);
3. :func:`tone_frames`: a frame of an audible or voice-active sound is tone where at least
   ``min_share`` of that sound's frames within ``reach_frames`` each side are steady.

Measured (research/tones/README.md): no frame of the 32 shared held vowels, of the shared real
speech or of the fixture calls is tone; national ringback, busy and dial tones and DTMF digits at
16 and 8 kHz, clean or through G.711, are all tone (under 20 dB white noise, the two-line tones
40-50 Hz apart only in part).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import fft as sfft
from .sound_class import event_means

TONE_RATE = 8000
TONE_LENGTH = 512   # 64 ms at 8 kHz: lines 40 Hz apart (US ringback) are resolved
TONE_EVERY = 4      # the lines of every 4th frame (by absolute index), compared with the next's
_BAND_HZ = (300.0, 3400.0)
BAND_FIRST_BIN = int(round(_BAND_HZ[0] * TONE_LENGTH / TONE_RATE))
"""The bin (of a spectrum of TONE_LENGTH samples) of :func:`band_spectrum`'s first column."""
BAND_BINS = int(round(_BAND_HZ[1] * TONE_LENGTH / TONE_RATE)) - BAND_FIRST_BIN
"""The band's bins in a spectrum of TONE_LENGTH samples (:func:`band_spectrum`'s columns)."""


@dataclass(frozen=True)
class ToneParams:
    """Settings of the tone test; frame counts at the 10 ms hop."""

    enabled: bool = True
    line_db: float = 20.0          # a bin this close to the frame's strongest is part of a line
    max_line_share: float = 0.1    # a tone's lines fill at most this share of the band's bins ...
    max_lines: int = 3             # ... and are at most this many (one to three sinusoids)
    max_drift: float = 0.001       # a tone's lines move by at most this share of their frequency
                                   # from one measured frame to the next (TONE_EVERY frames on)
    mains_hz: tuple[float, ...] = (50.0, 60.0, 100.0, 120.0)  # mains hum is a harmonic series of the
    mains_tolerance: float = 0.02  # mains frequency (or its octave), which the pitch tracker finds: a
                                   # frame whose F0 is one (within this share) is left to the cue
                                   # window's tone test (no ringback, busy or dial tone has one)
    reach_frames: int = 50         # a sound's frame is tone where, within this many frames each side
    min_share: float = 0.6         # of it in the same sound, at least this share is steady

    @property
    def context_frames(self) -> int:
        """Frames each side of a frame that its tone decision depends on (beyond the audible events')."""
        return self.reach_frames + 2 * TONE_EVERY


@lru_cache(maxsize=2)
def _window_and_band(length: int) -> tuple[np.ndarray, int, int, np.ndarray]:
    """The Hann window, the band's first and last bin + 1, and the band's bin frequencies (Hz)."""
    hann = np.hanning(length).astype(np.float32)
    b0, b1 = (int(round(f * length / TONE_RATE)) for f in _BAND_HZ)
    hz = np.arange(b0, b1, dtype=np.float32) * np.float32(TONE_RATE / length)
    for a in (hann, hz):
        a.flags.writeable = False
    return hann, b0, b1, hz


def band_spectrum(frames: np.ndarray) -> np.ndarray:
    """The power of 8 kHz frames' spectra in the 300-3400 Hz band, over a Hann window.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, TONE_LENGTH)], float32, 8 kHz samples (any row step)

    Returns
    -------
    power : np.ndarray [shape=(n, b)], float32  the band's bins (b = 199 for TONE_LENGTH)
    """
    hann, b0, b1, _ = _window_and_band(frames.shape[1])
    return sfft.band_power(sfft.rfft(frames * hann, frames.shape[1]), b0, b1)  # (a DC offset leaks nothing past 300 Hz)


def line_spectrum(frames: np.ndarray, line_db: float, max_share: float, max_lines: int) -> np.ndarray:
    """The lines of 8 kHz frames' spectra in the 300-3400 Hz band: :func:`spectrum_lines` of their
    :func:`band_spectrum` (``frames``: shape (n, TONE_LENGTH), float32 -> shape (n, 2), float32)."""
    return spectrum_lines(band_spectrum(frames), line_db, max_share, max_lines, frames.shape[1])


def spectrum_lines(power: np.ndarray, line_db: float, max_share: float, max_lines: int,
                   length: int = TONE_LENGTH) -> np.ndarray:
    """The lines of the band's power spectra.

    Parameters
    ----------
    power : np.ndarray [shape=(n, b)], float32  :func:`band_spectrum` of 8 kHz frames
    length : int  the frames' length (samples)
    line_db : float  a bin within this many dB of the frame's strongest is part of a line
    max_share, max_lines : float, int  the lines' frequency is measured only where they fill at
        most this share of the band's bins and are at most this many (elsewhere it is 0: no tone)

    Returns
    -------
    lines : np.ndarray [shape=(n, 2)], float32  the share of the band's bins that are lines,
        and the plain mean of the lines' frequencies (Hz; a line, a run of such bins, is at its
        bins' mean frequency, each weighted by its power above the lines' threshold)
    """
    n = len(power)
    out = np.zeros((n, 2), np.float32)
    if n == 0:
        return out
    _, b0, b1, hz = _window_and_band(length)
    threshold = power.max(axis=1, keepdims=True) * np.float32(10.0 ** (-line_db / 10.0))
    on = power > threshold  # (the bins with power above the threshold: power - threshold > 0, exactly)
    starts = on.copy()
    np.greater(on[:, 1:], on[:, :-1], out=starts[:, 1:])  # a line's first bin (each row begins afresh)
    np.true_divide(_row_counts(on), b1 - b0, out=out[:, 0], casting="unsafe")
    few = np.flatnonzero((out[:, 0] <= max_share) & (_row_counts(starts) <= max_lines))
    if len(few):
        # each bin weighs what it has above the lines' threshold (a bin near it, which noise moves
        # in and out of the lines, moves their frequency by little)
        weight = power[few] - threshold[few]
        np.maximum(weight, np.float32(0.0), out=weight)
        out[few, 1] = _lines_hz(weight, on[few], starts[few], hz)
    return out


def _row_counts(mask: np.ndarray) -> np.ndarray:
    """The True values in each row of ``mask`` (shape (n, b), bool -> (n,), intp): the same
    counts as ``np.count_nonzero(mask, axis=1)``, in fewer passes."""
    return np.add.reduce(mask.view(np.uint8), axis=1, dtype=np.intp)


def _lines_hz(weight: np.ndarray, on: np.ndarray, starts: np.ndarray, hz: np.ndarray) -> np.ndarray:
    """The plain mean of the frequencies of each row's lines (runs of ``on`` beginning at
    ``starts``), each line at its bins' mean frequency weighted by ``weight``: noise that shifts
    power between two lines of equal level does not move it. Shapes (k, b), (k, b), (k, b), (b,)
    -> (k,); every row has a line."""
    k, b = on.shape
    bins = np.flatnonzero(on)  # the lines' bins, row by row
    begins = starts.ravel()[bins]
    line = np.add.accumulate(begins, dtype=np.intp) - 1  # the line of each (np.cumsum without its wrapper)
    first = bins[begins]  # the lines' first bins
    w = weight.ravel()[bins]
    line_w = np.bincount(line, w, len(first))
    line_hz = np.bincount(line, w * hz[bins % b], len(first)) / line_w
    row = first // b
    return np.bincount(row, line_hz, k) / np.bincount(row, minlength=k)


def steady_frames(lines: np.ndarray, f0_hz: np.ndarray, first: int, params: ToneParams) -> np.ndarray:
    """The frames from each measured frame to the next whose spectra are both a few lines
    (``max_line_share`` at most) that moved by at most ``max_drift`` of their frequency, and
    whose F0 is no mains frequency (``mains_hz``, within ``mains_tolerance``).

    Parameters
    ----------
    lines : np.ndarray [shape=(n, 2)]  :func:`line_spectrum` of the frames whose absolute index
        is a multiple of :data:`TONE_EVERY` (the other rows are not read)
    f0_hz : np.ndarray [shape=(n,)]  the pitch tracker's F0 (NaN: none)
    first : int  absolute index of the first row

    Returns
    -------
    steady : np.ndarray [shape=(n,)], float32, 0 or 1
    """
    n = len(lines)
    own = (-first) % TONE_EVERY  # the first row with lines of its own
    share, hz = lines[own::TONE_EVERY, 0], lines[own::TONE_EVERY, 1]
    pure = share <= params.max_line_share
    ok = ((np.abs(hz[1:] - hz[:-1]) <= params.max_drift * np.minimum(hz[1:], hz[:-1])) & (hz[:-1] > 0)
          & pure[1:] & pure[:-1])
    steady = np.zeros(n, np.float32)
    if not np.count_nonzero(ok):  # (speech nearly always: no pair to test for mains hum)
        return steady
    f0 = f0_hz[own::TONE_EVERY, None]
    hum = np.any(np.abs(f0 - np.asarray(params.mains_hz)) <= params.mains_tolerance * f0, axis=1)
    ok &= ~hum[1:] & ~hum[:-1]
    held = steady[own:own + TONE_EVERY * len(ok)].reshape(-1, TONE_EVERY)  # the frames from one to the next
    held[:] = ok[:, None]
    return steady


def tone_frames(steady: np.ndarray, audible: np.ndarray, params: ToneParams) -> np.ndarray:
    """Frames of a call-progress tone: audible frames where at least ``min_share`` of their sound's
    frames within ``reach_frames`` each side are steady.

    Parameters
    ----------
    steady : np.ndarray [shape=(n,)], float32  :func:`steady_frames`
    audible : np.ndarray [shape=(n,)], bool  the frames of audible sounds

    Returns
    -------
    tone : np.ndarray [shape=(n,)], bool
    """
    means, _ = event_means(audible, steady[:, None], params.reach_frames)
    return audible & (means[:, 0] >= params.min_share)
