"""Per-frame sound class: silence, speech, breath, cough or other non-speech sound.

Four stages, all vectorised over frames:

1. :func:`spectral_shape` (raw, per frame): the shape of the short-time spectrum of the
   8 kHz signal between 300 and 3400 Hz (the telephone band, so that 16 kHz and 8 kHz audio
   give the same features): spectral flatness, centroid and the shares of three bands, on
   every :data:`SPEC_EVERY`-th frame (held for the frames between);
2. :func:`audible_events`: every sound that stands out of the noise floor, down to
   ``below_peak_db`` under the recent peak level (quieter than the voice activity needs:
   a breath between phrases is 10-25 dB under the speech), in runs ("events");
3. :func:`class_features` (contextual): those columns, the periodicity (the pitch tracker's
   correlation strength), the level above the floor and under the peak, the envelope's
   modulation and the sharpest onset, averaged over a short window around each frame; and
   the same frame's *event* seen over a bounded window that stops at the event's ends
   (``event_reach_frames`` each side): its share of voiced frames, its mean periodicity and
   its length within that reach;
4. :func:`sound_classes`: a small network scores speech / breath / cough for each frame
   (:func:`class_scores`), the scores are averaged over a short window, and every audible
   frame takes the best class; a non-speech decision must hold for ``min_event_frames``
   (a morphological opening), so that a consonant between vowels stays speech. Each event
   takes one kind (breath or cough) from its mean scores; breath-like sounds shorter than
   ``min_breath_frames``, and short sounds just after or before a phrase (its decay, its
   onset) are silence. Speech is only ever found where the voice activity is (so speech
   time never grows); breaths and coughs anywhere audible.

Every window is centred and bounded (:attr:`SoundClassParams.context_frames` each side in
all), so the classes of a frame depend only on the frames within that reach: the streaming
analyzer gives the same classes as the whole-signal analysis.

The model's numbers live in :mod:`monitor.dsp.sound_class_model`, written by
``tools/train_sound_class.py`` (fixed seed, real recordings).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import fft as sfft
from .runs import runs, runs_to_mask

SILENCE, SPEECH, BREATH, COUGH = 0, 1, 2, 3
"""Values of the per-frame ``sound`` column."""
CLASS_NAMES = ("silence", "speech", "breath", "cough")

SPEC_RATE = 8000
SPEC_LENGTH = 256       # 32 ms at 8 kHz
SPEC_EVERY = 4          # the spectral shape of every 4th frame (by absolute index), held for the next 3
SPEC_COLUMNS = ("flatness_db", "centroid_khz", "low_share_db", "mid_share_db", "high_share_db")
FEATURES = ("strength_mean", "strength_max", "flatness_db", "centroid_khz", "low_share_db", "mid_share_db",
            "high_share_db", "above_floor_db", "onset_db", "below_peak_db", "level_sd_db", "event_voiced",
            "event_strength", "event_extent")
"""Columns of :func:`class_features`, in order (the model's input)."""

_BAND_HZ = (300.0, 1000.0, 2000.0, 3400.0)


@dataclass(frozen=True)
class SoundClassParams:
    """Settings of the sound classes; frame counts at the 10 ms hop."""

    enabled: bool = True           # off: every audible frame is speech (the analyzer before the class)
    smooth_frames: int = 11        # feature averaging window (centred)
    score_frames: int = 7          # score averaging window (centred)
    event_reach_frames: int = 20   # an event's features reach this far each side (within the event)
    min_event_frames: int = 15     # a breath or cough lasts at least 150 ms (odd: a centred window)
    min_island_frames: int = 9     # speech inside a non-speech sound lasts at least 90 ms
    onset_lag_frames: int = 3      # onset = rise of the level over 30 ms
    floor_margin_db: float = 6.0   # an audible sound stands this far above the noise floor ...
    below_peak_db: float = 50.0    # ... and no further than this under the recent peak level
    audible_gap_frames: int = 4    # gaps shorter than 40 ms inside an audible event are bridged
    audible_min_frames: int = 8    # audible events shorter than 80 ms are dropped
    min_speech_strength: float = 0.3  # speech has periodicity this strong ...
    voicing_reach_frames: int = 31    # ... within this centred window (150 ms each side)
    cough_margin: float = 0.5         # a cough's score must beat the others by this much
    tail_frames: int = 25             # non-speech shorter than this that starts within
    tail_gap_frames: int = 13         # this many frames after speech is the speech's tail: silence
    kind_reach_frames: int = 30       # an event's kind (breath or cough) is its mean over this reach
    min_breath_frames: int = 20       # a breath lasts at least 200 ms (shorter: silence)
    head_frames: int = 25             # non-speech shorter than this that ends within
    head_gap_frames: int = 4          # this many frames before speech is the phrase's onset: silence
    max_flanked_frames: int = 0       # non-speech shorter than this that touches (no silence between)
    flank_speech_frames: int = 30     # a speech run at least this long is speech (breathy phrase
                                      # ends); 0 = off (on, it costs more on real breathing than it
                                      # gains on espeak-ng's labored voices)
    voiced_strength: float = 0.6      # a frame this periodic is voiced (the events' voiced share), and
    voiced_share: float = 0.8         # where at least this share of a centred window of
    voiced_frames: int = 31           # this many frames is voiced, it is speech (a held vowel, a tone)

    @property
    def context_frames(self) -> int:
        """Frames each side that a frame's class can depend on."""
        audible = self.audible_gap_frames + self.audible_min_frames
        window = max(self.smooth_frames // 2 + self.onset_lag_frames, self.event_reach_frames + audible)
        scores = window + self.score_frames // 2
        return (max(scores, self.voicing_reach_frames // 2, self.voiced_frames // 2) + 2 * (self.min_event_frames // 2)
                + 2 * (self.min_island_frames // 2)
                + (self.max_flanked_frames + self.flank_speech_frames if self.max_flanked_frames else 0)
                + max(self.tail_frames + self.tail_gap_frames, self.head_frames + self.head_gap_frames,
                      self.kind_reach_frames, self.min_breath_frames))


def _edge_padded(x: np.ndarray, size: int) -> np.ndarray:
    """``x`` (shape (n, ...)) with its first and last rows repeated ``size // 2`` times each side
    (``scipy.ndimage``'s "nearest" mode for a centred window of odd ``size``)."""
    h = size // 2
    e = np.empty((len(x) + 2 * h,) + x.shape[1:], x.dtype)
    e[h:h + len(x)] = x
    e[:h] = x[0]
    e[h + len(x):] = x[-1]
    return e


def window_sum(x: np.ndarray, size: int) -> np.ndarray:
    """Sum over the centred window of ``size`` (odd) rows of every row, the ends extended.

    Booleans are counted exactly (a running sum of integers); floats are summed in a fixed
    order within each window (sums of 1, 2, 4, ... rows, combined by the bits of ``size``), so
    each window's sum does not depend on the rows outside it: streaming equals the whole signal.

    Parameters
    ----------
    x : np.ndarray [shape=(n,) or (n, d)], bool or float
    size : int, odd

    Returns
    -------
    sums : np.ndarray [shape=x.shape], int64 (bool input) or ``x``'s float dtype
    """
    n, size = len(x), size | 1
    e = _edge_padded(x, size)
    if x.dtype == bool:
        c = np.cumsum(e, axis=0, dtype=np.int64)
        out = c[size - 1:].copy()
        out[1:] -= c[: n - 1]
        return out
    total, offset, width = None, 0, 1  # e[i:i + width] summed, for every i
    while True:
        if size & width:
            part = e[offset: offset + n]
            total = part.copy() if total is None else total + part
            offset += width
        if 2 * width > size:
            return total
        e, width = e[:-width] + e[width:], 2 * width


def window_max(x: np.ndarray, size: int) -> np.ndarray:
    """Maximum over the centred window of ``size`` (odd) rows, the ends extended.

    Parameters
    ----------
    x : np.ndarray [shape=(n,) or (n, d)]
    size : int, odd

    Returns
    -------
    maxima : np.ndarray [shape=x.shape]
    """
    m, width = _edge_padded(x, size | 1), 1
    while 2 * width <= size:  # log2(size) steps: m[i] is the maximum of width rows from i
        m, width = np.maximum(m[:-width], m[width:]), 2 * width
    return np.maximum(m[: len(x)], m[size - width: size - width + len(x)])


def _dilate(mask: np.ndarray, size: int) -> np.ndarray:
    """Frames with a True frame within the centred window of ``size`` (shape (n,), bool)."""
    return window_sum(mask, size) > 0


def _erode(mask: np.ndarray, size: int) -> np.ndarray:
    """Frames whose centred window of ``size`` is all True (shape (n,), bool)."""
    return window_sum(mask, size) == size


@lru_cache(maxsize=4)
def _band_weights(n_fft: int, rate: int) -> tuple[slice, np.ndarray]:
    """The 300-3400 Hz bins of an ``n_fft``-point spectrum and, for each, its weight in the
    band's total power, in its centroid (kHz), and in the 300-1000, 1000-2000 and 2000-3400 Hz
    shares: one matrix product gives them all. Shapes: weights (bins, 5), float32."""
    b0, b1, b2, b3 = (int(round(f * n_fft / rate)) for f in _BAND_HZ)
    k = np.arange(b0, b3)
    weights = np.column_stack([np.ones(len(k)), k * (rate / n_fft / 1000.0), k < b1, (k >= b1) & (k < b2), k >= b2])
    return slice(b0, b3), weights.astype(np.float32)


@lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    """``np.hanning(n)`` as float32 (shape (n,))."""
    return np.hanning(n).astype(np.float32)


def spectral_shape(frames: np.ndarray) -> np.ndarray:
    """Spectral shape of 8 kHz frames in the 300-3400 Hz band.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, 256)], float32, 8 kHz samples

    Returns
    -------
    shape : np.ndarray [shape=(n, 5)], float32
        Columns :data:`SPEC_COLUMNS`: flatness (dB, <= 0: geometric over arithmetic mean of
        the power spectrum), centroid (kHz), and the shares of 300-1000, 1000-2000 and
        2000-3400 Hz in the band's power (dB).
    """
    n, length = frames.shape
    if n == 0:
        return np.zeros((0, len(SPEC_COLUMNS)), np.float32)
    band, weights = _band_weights(length, SPEC_RATE)
    spec = sfft.rfft(frames * _hann(length), length)[:, band]  # a DC offset stays below the band
    power = spec.real ** 2 + spec.imag ** 2 + np.float32(1e-12)
    sums = power @ weights  # total, centroid numerator, three band powers
    total = sums[:, :1]
    out = np.empty((n, len(SPEC_COLUMNS)), np.float32)
    mean_log = np.log(power).mean(axis=1)
    out[:, 0] = np.float32(10.0 / np.log(10.0)) * (mean_log - np.log(total[:, 0] / power.shape[1]))
    out[:, 1:] = sums[:, 1:] / total
    out[:, 2:] = 10.0 * np.log10(out[:, 2:] + np.float32(1e-6))
    return out


def hold_spectral_shape(spec: np.ndarray, first: int) -> np.ndarray:
    """Rows of frames without a spectral shape of their own (absolute index ``first + i`` not a
    multiple of :data:`SPEC_EVERY`) take the shape of the frame before (the first row, if it
    has none, the one after). The features average it over ``smooth_frames`` anyway.

    Parameters
    ----------
    spec : np.ndarray [shape=(n, 5)]  rows of frames ``first .. first + n``
    first : int  absolute index of the first row

    Returns
    -------
    spec : np.ndarray [shape=(n, 5)]
    """
    n = len(spec)
    if n == 0:
        return spec
    j0 = (-first) % SPEC_EVERY  # the first row with a shape of its own
    if j0 >= n:
        return spec[np.full(n, n - 1)]
    own = spec[j0::SPEC_EVERY]
    return np.concatenate([np.repeat(own[:1], j0, axis=0), np.repeat(own, SPEC_EVERY, axis=0)[: n - j0]])


def audible_events(energy_db: np.ndarray, floor_db: np.ndarray, level_db: np.ndarray,
                   absolute_min_db: float, params: SoundClassParams) -> np.ndarray:
    """Frames of any sound that stands out of the noise floor (breaths too, which the voice
    activity, made for speech, leaves out when they are far under the speech).

    Parameters
    ----------
    energy_db, floor_db, level_db : np.ndarray [shape=(n,)]  level, noise floor and recent
        peak level (dBFS)
    absolute_min_db : float  nothing under this level is audible

    Returns
    -------
    audible : np.ndarray [shape=(n,)], bool
    """
    raw = ((energy_db > floor_db + params.floor_margin_db) & (energy_db > level_db - params.below_peak_db)
           & (energy_db > absolute_min_db))
    # runs of sound; gaps shorter than audible_gap_frames bridged, then runs under audible_min_frames dropped
    n, step = len(raw), raw.view(np.int8)
    if n == 0:
        return raw
    edges = np.empty(n + 1, np.int8)  # +1 where a run starts, -1 after it ends
    edges[0], edges[n] = step[0], -step[-1]
    np.subtract(step[1:], step[:-1], out=edges[1:n])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    kept = starts[1:] - ends[:-1] >= params.audible_gap_frames  # gaps left open
    starts = np.concatenate([starts[:1], starts[1:][kept]])
    ends = np.concatenate([ends[:-1][kept], ends[-1:]])
    long = ends - starts >= params.audible_min_frames
    return runs_to_mask(starts[long], ends[long], n)


def event_means(mask: np.ndarray, values: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of each column of ``values`` over the frames of the same run of ``mask`` within
    ``reach`` frames each side, and the length of that stretch (frames).

    Parameters
    ----------
    mask : np.ndarray [shape=(n,)], bool
    values : np.ndarray [shape=(n, d)]
    reach : int

    Returns
    -------
    means : np.ndarray [shape=(n, d)], float32  (0 outside the runs)
    length : np.ndarray [shape=(n,)], int  (0 outside the runs)
    """
    n = len(mask)
    if not mask.any():
        return np.zeros(values.shape, np.float32), np.zeros(n, np.int64)
    step = mask.view(np.int8)
    edges = np.empty(n + 1, np.int8)  # +1 where a run starts, -1 after it ends
    edges[0], edges[n] = step[0], -step[-1]
    np.subtract(step[1:], step[:-1], out=edges[1:n])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    run = np.cumsum(edges[:n] == 1) - 1  # each frame's run (-1 before the first: masked below)
    idx = np.arange(n)
    lo = np.where(mask, np.maximum(starts[run], idx - reach), idx)
    hi = np.where(mask, np.minimum(ends[run], idx + reach + 1), idx)
    csum = np.zeros((n + 1, values.shape[1]))
    np.cumsum(values, axis=0, dtype=np.float64, out=csum[1:])
    length = hi - lo
    means = (np.take(csum, hi, axis=0) - np.take(csum, lo, axis=0)) / np.maximum(length, 1)[:, None]
    return means.astype(np.float32), length


def class_features(spec: np.ndarray, strength: np.ndarray, energy_db: np.ndarray, floor_db: np.ndarray,
                   level_db: np.ndarray, audible: np.ndarray, params: SoundClassParams) -> np.ndarray:
    """Model input of each frame: its neighbourhood's periodicity, spectrum and level, and its event's.

    Parameters
    ----------
    spec : np.ndarray [shape=(n, 5)]  :func:`spectral_shape` (rows of inaudible frames are 0)
    strength : np.ndarray [shape=(n,)]  correlation strength of the pitch tracker (0 = none)
    energy_db, floor_db, level_db : np.ndarray [shape=(n,)]  level, noise floor and recent peak
        level (dBFS)
    audible : np.ndarray [shape=(n,)], bool  :func:`audible_events`

    Returns
    -------
    features : np.ndarray [shape=(n, 14)], float32, columns :data:`FEATURES`
    """
    k = params.smooth_frames | 1
    n, lag = len(energy_db), params.onset_lag_frames
    energy = energy_db.astype(np.float32, copy=False)
    # every windowed mean in one pass: strength, spectrum, above floor, under peak, level, level²
    cols = np.empty((n, 12), np.float32)
    cols[:, 0] = strength
    cols[:, 1:6] = spec
    np.subtract(energy, floor_db, out=cols[:, 6])
    np.subtract(level_db, energy, out=cols[:, 7])
    np.clip(cols[:, 6:8], 0.0, 60.0, out=cols[:, 6:8])
    cols[:, 8] = energy
    np.square(energy, out=cols[:, 9])
    cols[:, 11] = 0.0
    if n > lag:  # the level's rise over onset_lag_frames (its window maximum, not mean, is used)
        np.subtract(energy[lag:], energy[:-lag], out=cols[lag:, 11])
        np.clip(cols[:, 11], 0.0, 40.0, out=cols[:, 11])
    sums = window_sum(cols[:, :10], k)
    out = np.empty((n, len(FEATURES)), np.float32)  # columns FEATURES
    np.divide(sums[:, 1:7], np.float32(k), out=out[:, 2:8])  # spectrum, above floor
    out[:, 0] = sums[:, 0] / np.float32(k)
    out[:, 9] = sums[:, 7] / np.float32(k)
    out[:, 1::7] = window_max(cols[:, ::11], k)  # the strongest periodicity and rise
    level = sums[:, 8:10] / np.float32(k)  # mean level and mean square level
    np.sqrt(np.maximum(level[:, 1] - level[:, 0] ** 2, 0.0), out=out[:, 10])
    cols[:, 10] = strength >= params.voiced_strength
    ev, length = event_means(audible, cols[:, 10::-10], params.event_reach_frames)  # voiced, strength
    out[:, 11:13] = ev
    np.divide(length, 2 * params.event_reach_frames + 1, out=out[:, 13], casting="unsafe")
    return out


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
    z = np.subtract(features, mean, dtype=np.float32)
    z /= scale
    hidden = z @ hidden_w
    hidden += hidden_b
    scores = np.tanh(hidden, out=hidden) @ out_w
    scores += out_b
    return scores


def sound_classes(audible: np.ndarray, active: np.ndarray, scores: np.ndarray, strength: np.ndarray,
                  params: SoundClassParams) -> np.ndarray:
    """Sound class of each frame.

    Parameters
    ----------
    audible : np.ndarray [shape=(n,)], bool  :func:`audible_events`
    active : np.ndarray [shape=(n,)], bool  the voice activity (where speech can be)
    scores : np.ndarray [shape=(n, 3)]  :func:`class_scores`
    strength : np.ndarray [shape=(n,)]  correlation strength

    Returns
    -------
    sound : np.ndarray [shape=(n,)], uint8
        :data:`SPEECH` where the voice activity is and the frame is not taken for another
        sound; :data:`BREATH` or :data:`COUGH` where audible or active and taken for that;
        :data:`SILENCE` elsewhere. Non-speech runs shorter than ``min_event_frames`` are
        speech, speech runs shorter than ``min_island_frames`` between non-speech frames
        are not, a frame in a long voiced stretch (``voiced_frames``) is speech, short
        non-speech runs that touch a long speech run are speech (the breathy
        onset or end of a phrase), and nothing without some periodicity within
        ``voicing_reach_frames`` is speech.
    """
    n = len(active)
    if n == 0:
        return np.zeros(0, np.uint8)
    heard = audible | active
    k = params.score_frames | 1
    lead = window_sum(scores[:, 1:] - scores[:, :1], k) / k  # breath's and cough's lead over speech
    breath_lead, cough_lead = lead[:, 0], lead[:, 1] - params.cough_margin
    near = np.column_stack([strength >= params.min_speech_strength, strength >= params.voiced_strength])
    if params.voicing_reach_frames | 1 == params.voiced_frames | 1:  # one pass for both counts
        count = window_sum(near, params.voiced_frames | 1)
        periodic_near, voiced_count = count[:, 0] > 0, count[:, 1]
    else:
        periodic_near = _dilate(near[:, 0], params.voicing_reach_frames | 1)
        voiced_count = window_sum(near[:, 1], params.voiced_frames | 1)
    voiced = voiced_count >= params.voiced_share * (params.voiced_frames | 1)
    other = ((np.maximum(breath_lead, cough_lead) > 0) | ~periodic_near) & heard & ~voiced
    # opening: a non-speech decision must hold for min_event_frames
    m = params.min_event_frames | 1
    core = _erode(other, m)
    if not core.any():  # nothing lasts: all speech or silence (most of the time in a call)
        return np.where(active, SPEECH, SILENCE).astype(np.uint8)
    other = _dilate(core, m)
    # closing: a speech island inside a breath or cough must hold for min_island_frames
    m = params.min_island_frames | 1
    other = _erode(_dilate(other, m), m) & heard
    if not other.any():
        return np.where(active, SPEECH, SILENCE).astype(np.uint8)
    if params.max_flanked_frames:
        other &= ~_flanked(other, active & ~other, heard, params.max_flanked_frames, params.flank_speech_frames)
    # one kind per event: the mean score difference over the event (within kind_reach_frames)
    lean, _ = event_means(other, (cough_lead - breath_lead)[:, None], params.kind_reach_frames)
    cough = lean[:, 0] > 0
    sound = np.where(active, SPEECH, SILENCE).astype(np.uint8)
    sound[other] = np.where(cough[other], COUGH, BREATH)
    # silence: a phrase's decay, a phrase's onset, and breath-like sounds too brief for a breath
    speech = active & ~other
    quiet = np.zeros(n, bool)
    if params.tail_frames:
        quiet |= _tails(other, speech, params.tail_frames, params.tail_gap_frames)
    if params.head_frames:
        quiet |= _tails(other[::-1], speech[::-1], params.head_frames, params.head_gap_frames)[::-1]
    if params.min_breath_frames > params.min_event_frames:
        s, e = runs(other)
        short = e - s < params.min_breath_frames
        quiet |= runs_to_mask(s[short], e[short], n) & ~cough
    sound[quiet] = SILENCE
    return sound


def _tails(other: np.ndarray, speech: np.ndarray, max_frames: int, gap: int) -> np.ndarray:
    """Runs of ``other`` shorter than ``max_frames`` that start at most ``gap`` frames after a
    ``speech`` frame (shapes (n,), bool): the decay of a phrase, not a breath."""
    s, e = runs(other)
    csum = np.concatenate([[0], np.cumsum(speech)])
    near = csum[s] - csum[np.maximum(s - gap, 0)] > 0
    keep = (e - s < max_frames) & near
    return runs_to_mask(s[keep], e[keep], len(other))


def _flanked(other: np.ndarray, speech: np.ndarray, heard: np.ndarray, max_frames: int, speech_frames: int
             ) -> np.ndarray:
    """Runs of ``other`` shorter than ``max_frames`` that touch a run of ``speech`` of at least
    ``speech_frames`` frames, with no silence between (all shapes (n,), bool): the breathy
    onset or end of a phrase, not a breath of its own."""
    n = len(other)
    s, e = runs(other)
    ss, se = runs(speech & heard)
    long = se - ss >= speech_frames
    keep = (e - s < max_frames) & (s > 0) & (e < n)
    keep &= np.isin(e, ss[long]) | np.isin(s, se[long])
    mask = np.zeros(n + 1, np.int32)
    np.add.at(mask, s[keep], 1)
    np.add.at(mask, e[keep], -1)
    return np.cumsum(mask[:n]) > 0
