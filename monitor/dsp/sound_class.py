"""Per-frame sound class: silence, speech, breath, cough or other non-speech sound.

Three stages, all vectorised over frames:

1. :func:`spectral_shape` (raw, per frame): the shape of the short-time spectrum of the
   8 kHz signal between 300 and 3400 Hz (the telephone band, so that 16 kHz and 8 kHz audio
   give the same features): spectral flatness, centroid, the shares of three bands, and the
   zero-crossing rate;
2. :func:`class_features` (contextual): those columns and the periodicity (the pitch
   tracker's correlation strength) averaged over a short window around each frame, the
   strongest periodicity nearby, the level above the noise floor and the sharpest onset
   nearby (coughs are explosive, breaths swell);
3. :func:`sound_classes`: a linear (softmax) model scores speech / breath / cough for each
   frame, the scores are averaged over a short window, and every audible frame (the voice
   activity mask) takes the best class; a non-speech decision must hold for
   ``min_event_frames`` (a morphological opening), so that a consonant between vowels stays
   speech.

Every window is centred and bounded (``context_frames`` each side in all), so the classes
of a frame depend only on the frames within that reach: the streaming analyzer gives the
same classes as the whole-signal analysis.

The model's numbers live in :mod:`monitor.dsp.sound_class_model`, written by
``tools/train_sound_class.py`` (fixed seed, real recordings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fft as sfft
from .filters import maximum_filter1d, minimum_filter1d, uniform_filter1d  # scipy.ndimage's, without its import cost

SILENCE, SPEECH, BREATH, COUGH = 0, 1, 2, 3
"""Values of the per-frame ``sound`` column."""
CLASS_NAMES = ("silence", "speech", "breath", "cough")

SPEC_RATE = 8000
SPEC_LENGTH = 256       # 32 ms at 8 kHz
SPEC_COLUMNS = ("flatness_db", "centroid_khz", "low_share_db", "mid_share_db", "high_share_db", "zcr")
FEATURES = ("strength_mean", "strength_max", "flatness_db", "centroid_khz", "low_share_db", "mid_share_db",
            "high_share_db", "zcr", "above_floor_db", "onset_db")
"""Columns of :func:`class_features`, in order (the model's input)."""

_BAND_HZ = (300.0, 1000.0, 2000.0, 3400.0)


@dataclass(frozen=True)
class SoundClassParams:
    """Settings of the sound classes; frame counts at the 10 ms hop."""

    enabled: bool = False          # off by default until the alert rules are tuned on it (see
                                   # monitor.analysis.analyzer.WITH_SOUND_CLASS, which ``analyze`` uses)
    smooth_frames: int = 11        # feature averaging window (centred)
    score_frames: int = 7          # score averaging window (centred)
    min_event_frames: int = 19     # a breath or cough lasts at least 190 ms (odd: a centred window)
    min_island_frames: int = 9     # speech inside a non-speech sound lasts at least 90 ms
    onset_lag_frames: int = 3      # onset = rise of the level over 30 ms
    min_speech_strength: float = 0.3  # speech has periodicity this strong ...
    voicing_reach_frames: int = 31    # ... within this centred window (150 ms each side)
    cough_margin: float = 1.0         # a cough's score must beat the others by this much
    voiced_strength: float = 0.6      # a frame this periodic is voiced, and where at least
    voiced_share: float = 0.8         # this share of the feature window is voiced, it is speech

    @property
    def context_frames(self) -> int:
        """Frames each side that a frame's class can depend on."""
        scores = self.smooth_frames // 2 + self.onset_lag_frames + self.score_frames // 2
        return (max(scores, self.voicing_reach_frames // 2) + 2 * (self.min_event_frames // 2)
                + 2 * (self.min_island_frames // 2))


def _band_bins(n_fft: int, rate: int) -> tuple[int, ...]:
    return tuple(int(round(f * n_fft / rate)) for f in _BAND_HZ)


def spectral_shape(frames: np.ndarray) -> np.ndarray:
    """Spectral shape of 8 kHz frames in the 300-3400 Hz band.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, 256)], float32, 8 kHz samples

    Returns
    -------
    shape : np.ndarray [shape=(n, 6)], float32
        Columns :data:`SPEC_COLUMNS`: flatness (dB, <= 0: geometric over arithmetic mean of
        the power spectrum), centroid (kHz), the shares of 300-1000, 1000-2000 and
        2000-3400 Hz in the band's power (dB), and the zero-crossing rate (crossings per
        sample).
    """
    n = frames.shape[0]
    if n == 0:
        return np.zeros((0, len(SPEC_COLUMNS)), np.float32)
    x = frames - frames.mean(axis=1, keepdims=True)
    spec = sfft.rfft(x * np.hanning(frames.shape[1]).astype(np.float32), frames.shape[1])
    b0, b1, b2, b3 = _band_bins(frames.shape[1], SPEC_RATE)
    power = (spec.real[:, b0:b3] ** 2 + spec.imag[:, b0:b3] ** 2) + 1e-12
    total = power.sum(axis=1)
    log_p = np.log(power)
    flat = 10.0 / np.log(10.0) * (log_p.mean(axis=1) - np.log(total / power.shape[1]))
    freqs = np.arange(b0, b3, dtype=np.float32) * (SPEC_RATE / frames.shape[1] / 1000.0)
    centroid = power @ freqs / total
    shares = np.stack([power[:, : b1 - b0].sum(axis=1), power[:, b1 - b0: b2 - b0].sum(axis=1),
                       power[:, b2 - b0:].sum(axis=1)], axis=1) / total[:, None]
    signs = np.signbit(x)
    zcr = np.count_nonzero(signs[:, 1:] != signs[:, :-1], axis=1) / (frames.shape[1] - 1)
    out = np.column_stack([flat, centroid, 10.0 * np.log10(shares + 1e-6), zcr])
    return out.astype(np.float32)


def class_features(spec: np.ndarray, strength: np.ndarray, energy_db: np.ndarray, floor_db: np.ndarray,
                   params: SoundClassParams) -> np.ndarray:
    """Model input of each frame: its neighbourhood's periodicity, spectrum and level.

    Parameters
    ----------
    spec : np.ndarray [shape=(n, 6)]  :func:`spectral_shape` (rows of inaudible frames are 0)
    strength : np.ndarray [shape=(n,)]  correlation strength of the pitch tracker (0 = none)
    energy_db, floor_db : np.ndarray [shape=(n,)]  level and noise floor (dBFS)

    Returns
    -------
    features : np.ndarray [shape=(n, 10)], float32, columns :data:`FEATURES`
    """
    k = params.smooth_frames
    s_mean = uniform_filter1d(strength.astype(np.float32), k, mode="nearest")
    s_max = maximum_filter1d(strength.astype(np.float32), k, mode="nearest")
    shape = uniform_filter1d(spec.astype(np.float32), k, axis=0, mode="nearest")
    above = uniform_filter1d(np.clip(energy_db - floor_db, 0.0, 60.0).astype(np.float32), k, mode="nearest")
    lag = params.onset_lag_frames
    rise = np.zeros(len(energy_db), np.float32)
    rise[lag:] = energy_db[lag:] - energy_db[:-lag] if len(energy_db) > lag else 0.0
    onset = maximum_filter1d(np.clip(rise, 0.0, 40.0), k, mode="nearest")
    return np.column_stack([s_mean, s_max, shape, above, onset]).astype(np.float32)


def class_scores(features: np.ndarray, mean: np.ndarray, scale: np.ndarray, hidden_w: np.ndarray,
                 hidden_b: np.ndarray, out_w: np.ndarray, out_b: np.ndarray) -> np.ndarray:
    """Class scores (log-odds up to a constant) of speech, breath and cough: a network with
    one small tanh hidden layer on the standardised features.

    Parameters
    ----------
    features : np.ndarray [shape=(n, d)]
    mean, scale : np.ndarray [shape=(d,)]  standardisation
    hidden_w : np.ndarray [shape=(d, h)]
    hidden_b : np.ndarray [shape=(h,)]
    out_w : np.ndarray [shape=(h, 3)]
    out_b : np.ndarray [shape=(3,)]

    Returns
    -------
    scores : np.ndarray [shape=(n, 3)], float32
    """
    z = ((features - mean) / scale).astype(np.float32)
    return (np.tanh(z @ hidden_w + hidden_b) @ out_w + out_b).astype(np.float32)


def sound_classes(active: np.ndarray, scores: np.ndarray, strength: np.ndarray,
                  params: SoundClassParams) -> np.ndarray:
    """Sound class of each frame.

    Parameters
    ----------
    active : np.ndarray [shape=(n,)], bool  audible frames (voice activity of any sound)
    scores : np.ndarray [shape=(n, 3)]  :func:`class_scores`
    strength : np.ndarray [shape=(n,)]  correlation strength

    Returns
    -------
    sound : np.ndarray [shape=(n,)], uint8
        :data:`SILENCE` where not active, else :data:`SPEECH`, :data:`BREATH` or
        :data:`COUGH`. Non-speech runs shorter than ``min_event_frames`` are speech, speech
        runs shorter than ``min_island_frames`` between non-speech frames are not, a
        frame whose window is mostly voiced is speech, and nothing without some periodicity within ``voicing_reach_frames`` is speech.
    """
    n = len(active)
    if n == 0:
        return np.zeros(0, np.uint8)
    smooth = uniform_filter1d(scores, params.score_frames, axis=0, mode="nearest")
    smooth[:, 2] -= params.cough_margin
    best = np.argmax(smooth, axis=1)
    reach = params.voicing_reach_frames
    periodic_near = maximum_filter1d(strength, reach, mode="nearest") >= params.min_speech_strength
    voiced = uniform_filter1d((strength >= params.voiced_strength).astype(np.float32), params.smooth_frames,
                              mode="nearest") >= params.voiced_share
    other = ((best > 0) | ~periodic_near) & active & ~voiced
    # opening: a non-speech decision must hold for min_event_frames
    m = params.min_event_frames | 1
    other = maximum_filter1d(minimum_filter1d(other, m, mode="nearest"), m, mode="nearest")
    # closing: a speech island inside a breath or cough must hold for min_island_frames
    m = params.min_island_frames | 1
    other = minimum_filter1d(maximum_filter1d(other, m, mode="nearest"), m, mode="nearest")
    kind = np.where(smooth[:, 2] > smooth[:, 1], COUGH, BREATH).astype(np.uint8)
    return np.where(active, np.where(other & active, kind, SPEECH), SILENCE).astype(np.uint8)
