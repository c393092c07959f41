"""Per-frame sound class: silence, speech, breath, cough or other non-speech sound.

Four stages, all vectorised over frames:

1. :func:`spectral_shape` (raw, per frame): the shape of the short-time spectrum of the
   8 kHz signal between 300 and 3400 Hz (the telephone band, so that 16 kHz and 8 kHz audio
   give the same features): spectral flatness, centroid, the shares of three bands, and the
   zero-crossing rate;
2. :func:`audible_events`: every sound that stands out of the noise floor, down to
   ``below_peak_db`` under the recent peak level (quieter than the voice activity needs:
   a breath between phrases is 10-25 dB under the speech), in runs ("events");
3. :func:`class_features` (contextual): those columns, the periodicity (the pitch tracker's
   correlation strength), the level above the floor and under the peak, the envelope's
   modulation, the spectral flux and the sharpest onset, averaged over a short window around
   each frame; and the same frame's *event* seen over a bounded window that stops at the
   event's ends (``event_reach_frames`` each side): its share of voiced frames, its mean
   periodicity and its length within that reach;
4. :func:`sound_classes`: a small network scores speech / breath / cough for each frame
   (:func:`class_scores`), the scores are averaged over a short window, and every audible
   frame takes the best class; a non-speech decision must hold for ``min_event_frames``
   (a morphological opening), so that a consonant between vowels stays speech. Speech is
   only ever found where the voice activity is (so speech time never grows); breaths and
   coughs anywhere audible. A short, quiet, periodic stretch glued to the end of a breath or
   cough joins it (a voiced exhalation), and a lone sound too brief for a breath is silence
   (unless it lies in the middle of a pause, near the speech's level: a short breath). A
   short sound right after speech is the phrase's tail (silence), unless that speech is only a
   run of under ``own_start_frames`` right against the sound that the model began to score as
   non-speech (the breath's own first burst, which the opening leaves to the voice activity), or a
   run of under ``voiced_start_frames`` in a pause, well under the recent peak level (a breath that
   starts voiced); such a sound is not too brief either.
   Each frame of a sound takes the sound's mean scores within ``label_reach_frames`` each
   side, not its own, so that a sound is not a train of cough and breath fragments (a sound
   longer than twice that reach can still change label along its length). At 8 kHz, a sound
   the voice activity never touches (``mute_frames``) is no speech whatever its scores: the
   telephone band leaves a breath only its quiet middle, which the model often scores as speech.
   A breath starts where its sound rises out of quiet: the faint stretch (:func:`faint_sounds`,
   quieter than the audible events need) of at most ``lead_frames`` right before a breath or a
   cough (the inhalation before it) that the opening keeps for ``min_sound_frames`` at least (a
   briefer one may be dropped, which would leave a breath made only of its start), with no
   speech, is breath. Its look-ahead is that stretch and those frames of the sound.

Every window is bounded (:attr:`SoundClassParams.context_left_frames` before a frame and
:attr:`SoundClassParams.context_right_frames` after it, in all), so the classes of a frame depend
only on the frames within that reach: the streaming analyzer gives the same classes as the
whole-signal analysis.

The model's numbers live in :mod:`monitor.dsp.sound_class_model`, written by
``tools/train_sound_class.py`` (fixed seed, real recordings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import fft as sfft
from .filters import NEAREST, columns_max, columns_mean, compiled_mean, window_counts
from .runs import apart_runs_to_mask, bridged_runs, open_then_close, runs


SILENCE, SPEECH, BREATH, COUGH = 0, 1, 2, 3
"""Values of the per-frame ``sound`` column."""
CLASS_NAMES = ("silence", "speech", "breath", "cough")

SPEC_RATE = 8000
SPEC_LENGTH = 256       # 32 ms at 8 kHz
SPEC_EVERY = 2          # the spectral shape of every 2nd frame (by absolute index), held for the next
SPEC_COLUMNS = ("flatness_db", "centroid_khz", "low_share_db", "mid_share_db", "high_share_db", "zcr")
FEATURES = ("strength_mean", "strength_max", "flatness_db", "centroid_khz", "low_share_db", "mid_share_db",
            "high_share_db", "zcr", "above_floor_db", "onset_db", "below_peak_db", "level_sd_db", "flux_db",
            "event_voiced", "event_strength", "event_extent")
"""Columns of :func:`class_features`, in order (the model's input)."""

_BAND_HZ = (300.0, 1000.0, 2000.0, 3400.0)
_HANN = np.hanning(SPEC_LENGTH).astype(np.float32)
_HANN.flags.writeable = False  # shared by every call: read only


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
    cough_margin: float = 1.0         # a cough's score must beat the others by this much
    label_reach_frames: int = 35      # a sound's frame is cough or breath by the sound's mean scores this far each side
    tail_frames: int = 25             # non-speech shorter than this that starts within
    tail_gap_frames: int = 10         # this many frames after speech is the speech's tail: silence,
    own_start_frames: int = 9         # unless that speech is only a run shorter than this right before
                                      # the sound, part of it decided non-speech before the opening
                                      # (the sound's own start); 0 = off
    voiced_start_frames: int = 30     # nor when that speech is a run shorter than this right before the
    voiced_start_pause_frames: int = 15  # sound, no other speech within these two summed before the sound, and all
    voiced_start_under_peak_db: float = 15.0  # of it this far under the recent peak level: a breath that
                                      # starts voiced in a pause, not a word (then the sound is not too
                                      # brief either); 0 frames = off
    min_sound_frames: int = 20        # non-speech shorter than this with no speech right after is silence,
    mid_pause_frames: int = 15        # unless no speech is within this many frames each side (0 = off)
    mid_pause_under_peak_db: float = 36.0  # and it comes within this much of the recent peak level
    max_flanked_frames: int = 0       # non-speech shorter than this that touches (no silence between)
    flank_speech_frames: int = 30     # a speech run at least this long is speech (breathy phrase
                                      # ends); 0 = off (on, it costs more on real breathing than it
                                      # gains on espeak-ng's labored voices)
    voiced_strength: float = 0.6      # a frame this periodic is voiced (the events' voiced share), and
    voiced_share: float = 0.9         # where at least this share of a centred window of
    voiced_frames: int = 31           # this many frames is voiced, it is speech (a held vowel, a tone)
    voiced_after_frames: int = 34     # a periodic stretch of speech of voiced_after_min_frames to
    voiced_after_min_frames: int = 10  # this many frames right after a breath or cough, with at least
    voiced_after_share: float = 0.5    # this share of its frames at least voiced_after_strength
    voiced_after_strength: float = 0.45  # periodic and every frame voiced_after_under_peak_db under
    voiced_after_under_peak_db: float = 6.0  # the recent peak level, is part of it (a voiced exhalation)
    lead_frames: int = 19             # faint sound of at most this many frames right before a breath
    lead_below_peak_db: float = 55.0  # or cough (of min_sound_frames at least), no speech and down to
    lead_min_db: float = -75.0        # this far under the peak and this level (dBFS), is where the
                                      # breath starts (0 frames = off)
    mute_frames: tuple[int, int] = (20, 0)  # at 8 and at 16 kHz: an audible sound with no voice activity
                                      # within this many frames each side (and at least min_sound_frames
                                      # of it) is not speech, whatever the model says; 0 = off

    @property
    def context_frames(self) -> int:
        """Frames each side that a frame's class can depend on (the larger of the two sides)."""
        return max(self.context_left_frames, self.context_right_frames)

    @property
    def context_left_frames(self) -> int:
        """Frames before a frame that its class can depend on: a voiced stretch after a breath
        looks back over the stretch and the breath, and whether that breath is a phrase's tail; a
        breath's faint start, over the start and the frame before it (quiet or not)."""
        tail = self.tail_frames + max(self.tail_gap_frames, self.own_start_frames)
        brief = self.min_sound_frames + max(self.tail_gap_frames, self.mid_pause_frames)
        # a voiced start is read back from a sound's start; the voiced stretches after sounds do not read it
        start = (max(self.tail_frames, self.min_sound_frames) + self.voiced_start_frames
                 + self.voiced_start_pause_frames if self.voiced_start_frames else 0)
        return self._decisions_reach() + max(tail, self.voiced_after_frames + max(tail, brief), brief, start,
                                             self.label_reach_frames, self.lead_frames + 1)

    @property
    def context_right_frames(self) -> int:
        """Frames after a frame that its class can depend on."""
        return self._decisions_reach() + max(self.tail_frames + self.tail_gap_frames, self.voiced_after_frames + 1,
                                             self.min_sound_frames + max(self.tail_gap_frames, self.mid_pause_frames),
                                             self.label_reach_frames,
                                             self.lead_frames + self.min_sound_frames - 1 if self.lead_frames else 0)

    def _decisions_reach(self) -> int:
        """Frames each side that the non-speech decisions before the final rules depend on."""
        audible = self.audible_gap_frames + self.audible_min_frames
        window = max(self.smooth_frames // 2 + self.onset_lag_frames, self.event_reach_frames + audible)
        scores = window + self.score_frames // 2
        mute = max(self.mute_frames) + audible if max(self.mute_frames) else 0
        return (max(scores, self.voicing_reach_frames // 2, self.voiced_frames // 2, mute) + 2 * (self.min_event_frames // 2)
                + 2 * (self.min_island_frames // 2)
                + (self.max_flanked_frames + self.flank_speech_frames if self.max_flanked_frames else 0))


@lru_cache(maxsize=4)
def _band_bins(n_fft: int, rate: int) -> tuple[int, ...]:
    return tuple(int(round(f * n_fft / rate)) for f in _BAND_HZ)


@lru_cache(maxsize=4)
def _centroid_khz(length: int) -> np.ndarray:
    """Frequencies (kHz, float32) of the band's bins, read only. Shape (b3 - b0,)."""
    b0, _, _, b3 = _band_bins(length, SPEC_RATE)
    khz = np.arange(b0, b3, dtype=np.float32) * (SPEC_RATE / length / 1000.0)
    khz.flags.writeable = False
    return khz


def spectral_shape(frames: np.ndarray) -> np.ndarray:
    """Spectral shape of 8 kHz frames in the 300-3400 Hz band.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, 256)], float32, 8 kHz samples (any row step: a strided view)

    Returns
    -------
    shape : np.ndarray [shape=(n, 6)], float32 (a view of its columns, each contiguous)
        Columns :data:`SPEC_COLUMNS`: flatness (dB, <= 0: geometric over arithmetic mean of
        the power spectrum), centroid (kHz), the shares of 300-1000, 1000-2000 and
        2000-3400 Hz in the band's power (dB), and the zero-crossing rate (crossings per
        sample).
    """
    n, length = frames.shape
    if n == 0:
        return np.zeros((0, len(SPEC_COLUMNS)), np.float32)
    x = np.add.reduce(frames, axis=1, keepdims=True)  # the rows' means, then the rows less them
    x /= np.float32(length)
    x = np.subtract(frames, x)
    crossings = _crossings(x)
    x *= _HANN if length == SPEC_LENGTH else np.hanning(length).astype(np.float32)
    b0, b1, b2, b3 = _band_bins(length, SPEC_RATE)
    power = sfft.band_power(sfft.rfft(x, length), b0, b3)
    power += np.float32(1e-12)
    total = np.add.reduce(power, axis=1)
    rows = np.empty((len(SPEC_COLUMNS), n), np.float32)  # the columns as contiguous rows
    flat = np.add.reduce(np.log(power), axis=1)  # mean of the log: np.mean's sum and division
    np.true_divide(flat, np.intp(b3 - b0), out=flat, casting="unsafe")
    flat -= np.log(total / (b3 - b0))
    np.multiply(flat, sfft.LN_POWER_TO_DB, out=rows[0], casting="unsafe")  # in double, as 10 / ln 10 is
    # a row-wise sum, not a matrix product: a product's last bit depends on where a row sits in
    # its batch, and a stream's batches are not the whole signal's
    np.divide(np.add.reduce(power * _centroid_khz(length), axis=1), total, out=rows[1])
    bands = rows[2:5]  # the three bands' power, then their shares in dB
    for col, (lo, hi) in enumerate(((0, b1 - b0), (b1 - b0, b2 - b0), (b2 - b0, b3 - b0))):
        np.add.reduce(power[:, lo:hi], axis=1, out=bands[col])
    bands /= total
    bands += 1e-6
    np.log10(bands, out=bands)
    bands *= 10.0
    np.true_divide(crossings, length - 1, out=rows[5], casting="unsafe")  # in double, then rounded
    return rows.T


def _crossings(x: np.ndarray) -> np.ndarray:
    """Sign changes along each row (shape (n, m) -> (n,)), counted in bytes (two when they do not fit one)."""
    signs = np.signbit(x).view(np.uint8)
    changes = np.bitwise_xor(signs[:, 1:], signs[:, :-1])
    return np.add.reduce(changes, axis=1, dtype=np.uint8 if changes.shape[1] <= 255 else np.uint16)


def hold_spectral_shape(spec: np.ndarray, first: int, out: np.ndarray | None = None) -> np.ndarray:
    """Rows of frames without a spectral shape of their own (absolute index ``first + i`` not a
    multiple of :data:`SPEC_EVERY`) take the shape of the frame before (the first row, if it
    has none, the one after). The features average it over ``smooth_frames`` anyway.

    Parameters
    ----------
    spec : np.ndarray [shape=(n, 6)]  rows of frames ``first .. first + n``
    first : int  absolute index of the first row
    out : np.ndarray [shape=(n, 6)], optional  where to write them (any strides)

    Returns
    -------
    spec : np.ndarray [shape=(n, 6)]
    """
    n = len(spec)
    out = np.empty_like(spec) if out is None else out
    own = (-first) % SPEC_EVERY  # the first row with a shape of its own
    if own >= n:  # none has: all take the last row (no rows: nothing to take)
        out[:] = spec[n - 1:]
        return out
    out[:own] = spec[own]
    shapes = spec[own::SPEC_EVERY]
    for lag in range(SPEC_EVERY):  # each shape held for SPEC_EVERY rows
        held = out[own + lag::SPEC_EVERY]
        held[:] = shapes[:len(held)]
    return out


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
    return _bridged_gate(energy_db, floor_db, level_db, params.below_peak_db, absolute_min_db, params)


def faint_sounds(energy_db: np.ndarray, floor_db: np.ndarray, level_db: np.ndarray, params: SoundClassParams
                 ) -> np.ndarray:
    """Frames of any sound down to ``lead_below_peak_db`` under the recent peak level and
    ``lead_min_db`` (the start of a breath, quieter than :func:`audible_events` needs), in runs
    as there. Shapes (n,) -> (n,), bool."""
    return _bridged_gate(energy_db, floor_db, level_db, params.lead_below_peak_db, params.lead_min_db, params)


def _bridged_gate(energy_db: np.ndarray, floor_db: np.ndarray, level_db: np.ndarray, below_peak_db: float,
                  absolute_min_db: float, params: SoundClassParams) -> np.ndarray:
    """Frames ``floor_margin_db`` above the floor, at most ``below_peak_db`` under the peak and
    above ``absolute_min_db``, short gaps bridged and short runs dropped. Shapes (n,) -> (n,), bool."""
    # above each bound is above the highest (np.maximum keeps a NaN, which no level is above)
    raw = energy_db > np.maximum(np.maximum(floor_db + params.floor_margin_db, level_db - below_peak_db),
                                 absolute_min_db)
    # gaps shorter than audible_gap_frames between two runs are bridged, short events dropped
    return bridged_runs(raw, params.audible_gap_frames, params.audible_min_frames)


def event_means(mask: np.ndarray, values: np.ndarray, reach: int, out: np.ndarray | None = None,
                ahead: int | None = None) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Mean of each column of ``values`` over the frames of the same run of ``mask`` within
    ``reach`` frames each side (``reach`` back and ``ahead`` on, if given), and the length of that
    stretch (frames).

    Parameters
    ----------
    mask : np.ndarray [shape=(n,)], bool
    values : np.ndarray [shape=(n, d)]
    reach : int
    out : np.ndarray [shape=(n, d)], float32, optional  where to write the means
    ahead : int, optional  frames on (``reach`` if not given)

    Returns
    -------
    means : np.ndarray [shape=(n, d)], float32  (0 outside the runs; a view of its columns, each
        contiguous; not returned with ``out``)
    length : np.ndarray [shape=(n,)], int  (0 outside the runs)
    """
    if out is None:
        means = np.empty((values.shape[1], len(mask)), np.float32)
        return means.T, _event_means_rows(mask, values.T, reach, means, ahead)
    return _event_means_rows(mask, values.T, reach, out.T, ahead)


def _event_means_rows(mask: np.ndarray, rows: np.ndarray, reach: int, out: np.ndarray,
                      on: int | None = None) -> np.ndarray:
    """:func:`event_means` of the rows of ``rows`` (shape (d, n)) into ``out`` (shape (d, n),
    float32, any strides), in double precision, ``on`` frames ahead (``reach`` if None); returns
    the stretches' lengths (shape (n,))."""
    n = len(mask)
    idx, next_idx, back, ahead = _reach_bounds(n, reach, reach if on is None else on)
    # outside the runs both bounds are the frame after (an empty stretch); inside, the run's
    # first frame (one after the last frame outside) and the first frame after it, within reach
    lo = np.maximum.accumulate(np.where(mask, 0, next_idx))
    np.maximum(lo, back, out=lo)
    after = np.where(mask, n, idx)
    hi = np.minimum(np.minimum.accumulate(after[::-1])[::-1], ahead)
    np.maximum(hi, lo, out=hi)
    csum = np.empty((len(rows), n + 1))
    csum[:, 0] = 0.0
    np.add.accumulate(rows, axis=1, dtype=np.float64, out=csum[:, 1:])  # np.cumsum without its wrapper
    length = hi - lo
    sums = csum.take(hi, axis=1)  # the method: np.take's wrapper costs more than the gather
    sums -= csum.take(lo, axis=1)
    np.true_divide(sums, np.maximum(length, 1), out=out, casting="unsafe")
    return length


@lru_cache(maxsize=8)
def _reach_bounds(n: int, reach: int, ahead: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frame indices ``i`` of ``n`` frames, ``i + 1``, ``i - reach`` and ``i + ahead + 1`` (shapes
    (n,), read only: shared by every call with the same ``n``)."""
    idx = np.arange(n)
    bounds = (idx, idx + 1, idx - reach, idx + (ahead + 1))
    for b in bounds:
        b.flags.writeable = False
    return bounds


def class_features(spec: np.ndarray, strength: np.ndarray, energy_db: np.ndarray, floor_db: np.ndarray,
                   level_db: np.ndarray, audible: np.ndarray, params: SoundClassParams,
                   spec_first: int | None = None) -> np.ndarray:
    """Model input of each frame: its neighbourhood's periodicity, spectrum and level, and its event's.

    Parameters
    ----------
    spec : np.ndarray [shape=(n, 6)]  :func:`spectral_shape` (rows of inaudible frames are 0);
        with ``spec_first`` (the absolute index of its first row), only the rows of frames with
        a shape of their own count (:func:`hold_spectral_shape` holds them here)
    strength : np.ndarray [shape=(n,)]  correlation strength of the pitch tracker (0 = none),
        taken as float32 (as the analyzer has it) by every feature
    energy_db, floor_db, level_db : np.ndarray [shape=(n,)]  level, noise floor and recent peak
        level (dBFS)
    audible : np.ndarray [shape=(n,)], bool  :func:`audible_events`

    Returns
    -------
    features : np.ndarray [shape=(n, 16)], float32, columns :data:`FEATURES` (a view of its
        columns, each contiguous)
    """
    n = len(energy_db)
    if n == 0:
        return np.zeros((0, len(FEATURES)), np.float32)
    out = np.empty((len(FEATURES), n), np.float32)  # the features as rows, each contiguous
    strength = np.asarray(strength, np.float32)
    # the voiced frames (0 or 1) right before the windowed columns, whose first is the strength:
    # the two rows whose event means are taken, one array (exact in float32, summed in double)
    both = np.empty((1 + _WINDOWED, n), np.float32)
    np.greater_equal(strength, params.voiced_strength, out=both[0])
    rows = _windowed_columns(spec, spec_first, strength, np.asarray(energy_db, np.float32), floor_db, level_db,
                             audible, params, out=both[1:])  # (13, n)
    columns_mean(rows.T, params.smooth_frames, out=out[:_WINDOWED].T)  # every windowed mean in one pass
    level_sd = out[11]  # the means of the level's square, of the level in row 9 (for now)
    np.sqrt(np.maximum(level_sd - out[9] ** 2, 0.0), out=level_sd)
    # strength and onset: the running means end finite only if every value of theirs is
    # (a NaN or an infinity, once summed in, stays in), as the compiled maxima need
    finite = math.isfinite(out[0, n - 1] + out[1, n - 1])
    columns_max(rows[:2].T, params.smooth_frames, finite=finite, out=out[_PEAKS].T)
    length = _event_means_rows(audible, both[:2], params.event_reach_frames, out[13:15])
    _extents(params.event_reach_frames).take(length, out=out[15])  # length / (2 reach + 1), rounded once
    return out.T


@lru_cache(maxsize=4)
def _extents(reach: int) -> np.ndarray:
    """``k / (2 reach + 1)`` in double rounded to float32 for every stretch length ``k`` an event
    can have within ``reach`` each side (shape (2 reach + 2,), read only): a gather in place of a
    division."""
    table = (np.arange(2 * reach + 2) / (2 * reach + 1)).astype(np.float32)
    table.flags.writeable = False
    return table


_WINDOWED = 13
"""Columns of :func:`_windowed_columns`, averaged into the first columns of :data:`FEATURES`."""
_PEAKS = slice(1, 10, 8)
"""Columns of :data:`FEATURES` that take the windowed maxima (strength, onset) instead: 1 and 9."""


def _windowed_columns(spec: np.ndarray, spec_first: int | None, strength: np.ndarray, energy: np.ndarray,
                      floor_db: np.ndarray, level_db: np.ndarray, audible: np.ndarray, params: SoundClassParams,
                      out: np.ndarray | None = None) -> np.ndarray:
    """The columns whose windowed means (and, the first two, maxima) :func:`class_features` takes,
    as rows (each contiguous), each where its mean goes in :data:`FEATURES`: strength, the level's
    rise over ``onset_lag_frames`` (its maximum is the onset), the spectral shape, the level above
    the floor, the level, under the peak, the level's square, the spectral flux. Shapes (n, 6),
    (n,) ... -> (13, n), float32, into ``out`` if given (``spec_first``: see :func:`class_features`)."""
    n = len(energy)
    rows = np.empty((_WINDOWED, n), np.float32) if out is None else out
    rows[0] = strength
    lag = params.onset_lag_frames
    rows[1, :lag] = 0.0
    _clip_into(np.subtract(energy[lag:], energy[:-lag], out=rows[1, lag:]), 0.0, 40.0)
    if spec_first is None:
        rows[2:8] = spec.T
    else:
        hold_spectral_shape(spec, spec_first, out=rows[2:8].T)
    np.subtract(energy, floor_db, out=rows[8])
    rows[9] = energy
    np.subtract(level_db, energy, out=rows[10])
    _clip_into(rows[8:11:2], 0.0, 60.0)  # both at once: np.clip without its wrapper
    np.multiply(energy, energy, out=rows[11])
    flux = rows[12]  # the three bands' shares' absolute changes, added in order
    flux[0] = 0.0
    steps = np.subtract(rows[4:7, 1:], rows[4:7, :-1])
    np.add.reduce(np.abs(steps, out=steps), axis=0, out=flux[1:])  # row by row: (a + b) + c
    flux *= audible  # 0 where not audible (the flux is finite and >= 0)
    return rows


def _clip_into(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """``np.clip(x, low, high, out=x)`` (the same values, NaN kept) by two ufunc calls."""
    return np.minimum(np.maximum(x, low, out=x), high, out=x)


def class_scores(features: np.ndarray, mean: np.ndarray, scale: np.ndarray, hidden_w: np.ndarray,
                 hidden_b: np.ndarray, out_w: np.ndarray, out_b: np.ndarray) -> np.ndarray:
    """Class scores (log-odds up to a constant) of speech, breath and cough: a network with
    one small tanh hidden layer on the standardised features.

    The vectors (``mean``, ``scale``, the biases) may come as :func:`tiled` rows, at least one per
    frame: the same numbers, without broadcasting a short vector over the frames (which costs more
    than the arithmetic on a batch of a few hundred frames).

    Parameters
    ----------
    features : np.ndarray [shape=(n, d)]
    mean, scale : np.ndarray [shape=(d,) or (m, d), m >= n]  standardisation
    hidden_w : np.ndarray [shape=(d, h)]
    hidden_b : np.ndarray [shape=(h,) or (m, h)]
    out_w : np.ndarray [shape=(h, 3)]
    out_b : np.ndarray [shape=(3,) or (m, 3)]

    Returns
    -------
    scores : np.ndarray [shape=(n, 3)], float32
    """
    n = len(features)
    z = np.subtract(features, _per_row(mean, n), order="C")  # rows contiguous, whatever the features' layout
    z /= _per_row(scale, n)  # rounded to float32 below anyway
    hidden = z.astype(np.float32, copy=False) @ hidden_w + _per_row(hidden_b, n)
    return (np.tanh(hidden, out=hidden) @ out_w + _per_row(out_b, n)).astype(np.float32, copy=False)


def folded(mean: np.ndarray, scale: np.ndarray, hidden_w: np.ndarray, hidden_b: np.ndarray, out_w: np.ndarray,
           out_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The network of :func:`class_scores` with its standardisation folded into the hidden layer
    (``(x - mean) / scale @ w + b = x @ (w / scale) + (b - (mean / scale) @ w)``, in double, then
    float32), for :func:`folded_scores`. Shapes (d,), (d,), (d, h), (h,), (h, 3), (3,) -> (d, h),
    (h,), (h, 3), (3,)."""
    w = np.asarray(hidden_w, np.float64) / np.asarray(scale, np.float64)[:, None]
    b = np.asarray(hidden_b, np.float64) - (np.asarray(mean, np.float64) / np.asarray(scale, np.float64)) @ hidden_w
    return (w.astype(np.float32), b.astype(np.float32), np.asarray(out_w, np.float32),
            np.asarray(out_b, np.float32))


def folded_scores(features: np.ndarray, hidden_w: np.ndarray, hidden_b: np.ndarray, out_w: np.ndarray,
                  out_b: np.ndarray) -> np.ndarray:
    """:func:`class_scores` by the :func:`folded` network: the same up to rounding, in five numpy
    calls. Shapes (n, d), (d, h), (h,) or (m >= n, h) (:func:`tiled`), (h, 3), (3,) or (m, 3) ->
    (n, 3), float32; or blocks of rows (k, n, d) -> (k, n, 3), each block's rows taking the
    vectors' (or their first ``n`` rows')."""
    n = features.shape[-2]
    hidden = features @ hidden_w
    hidden += _per_row(hidden_b, n)
    out = np.tanh(hidden, out=hidden) @ out_w
    out += _per_row(out_b, n)
    return out


def _per_row(values: np.ndarray, n: int) -> np.ndarray:
    """A vector as it is (broadcast over the rows), or the first ``n`` of its :func:`tiled` rows."""
    return values if values.ndim == 1 else values[:n]


def tiled(vector: np.ndarray, rows: int) -> np.ndarray:
    """``vector`` (shape (d,)) repeated on ``rows`` rows: shape (rows, d), contiguous, read only
    (for :func:`class_scores`)."""
    out = np.ascontiguousarray(np.broadcast_to(vector, (rows, len(vector))))
    out.flags.writeable = False
    return out


def sound_classes(audible: np.ndarray, active: np.ndarray, scores: np.ndarray, strength: np.ndarray,
                  params: SoundClassParams, under_peak_db: np.ndarray | None = None, rate: int = 16000,
                  levels: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Sound class of each frame.

    Parameters
    ----------
    audible : np.ndarray [shape=(n,)], bool  :func:`audible_events`
    active : np.ndarray [shape=(n,)], bool  the voice activity (where speech can be)
    scores : np.ndarray [shape=(n, 3)]  :func:`class_scores`
    strength : np.ndarray [shape=(n,)]  correlation strength
    under_peak_db : np.ndarray [shape=(n,)], optional  how far each frame's level is under the
        recent peak level (dB); without it, every frame counts as under it
    rate : int  the signal's sample rate (8000 or 16000; some decisions depend on the band)
    levels : tuple of np.ndarray [shape=(n,)], optional  the level, the noise floor and the recent
        peak level (dBFS) for :func:`faint_sounds`, where a breath starts (without them, no breath
        starts before its first frame the model takes for one)

    Returns
    -------
    sound : np.ndarray [shape=(n,)], uint8
        :data:`SPEECH` where the voice activity is and the frame is not taken for another
        sound; :data:`BREATH` or :data:`COUGH` where audible or active and taken for that;
        :data:`SILENCE` elsewhere. Non-speech runs shorter than ``min_event_frames`` are
        speech, speech runs shorter than ``min_island_frames`` between non-speech frames
        are not, a frame in a long voiced stretch (``voiced_frames``) is speech, short
        non-speech runs that touch a long speech run are speech (the breathy
        onset or end of a phrase), nothing without some periodicity within
        ``voicing_reach_frames`` is speech, and a short, quiet, periodic stretch right
        after a breath or cough is part of it (``voiced_after_*``).
    """
    n = len(active)
    if n == 0:
        return np.zeros(0, np.uint8)
    heard = audible | active
    smooth, other = _taken_for_other(heard, active, scores, strength, params, rate)
    sound = active.astype(np.uint8)  # SPEECH (1) where active, SILENCE (0) elsewhere
    if np.count_nonzero(other):  # else no decision to open, close or extend (the usual window of speech)
        _other_sounds_into(sound, other, smooth, heard, active, strength, under_peak_db, params, levels)
    return sound


def _taken_for_other(heard: np.ndarray, active: np.ndarray, scores: np.ndarray, strength: np.ndarray,
                     params: SoundClassParams, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The frames first taken for a sound other than speech: heard, unvoiced, and either scored
    as breath or cough or aperiodic (or a sound the voice activity never touches, where the
    band mutes it).

    Parameters
    ----------
    heard, active : np.ndarray [shape=(n,)], bool  audible or active; the voice activity
    scores : np.ndarray [shape=(n, 3)]  :func:`class_scores`
    strength : np.ndarray [shape=(n,)]  correlation strength

    Returns
    -------
    smooth : np.ndarray [shape=(n, 3)]  the scores' running means, the cough's less its margin
    other : np.ndarray [shape=(n,)], bool
    """
    smooth = columns_mean(scores, params.score_frames)
    smooth[:, 2] -= params.cough_margin
    best = smooth.argmax(axis=1)
    aperiodic, unvoiced = _periodicity(strength, params)
    other = ((best > 0) | aperiodic) & heard & unvoiced
    mute = params.mute_frames[rate != SPEC_RATE]
    if mute and np.count_nonzero(heard > active):  # a sound the voice activity never touches is no speech
        other |= _mute(heard, active, mute, params.min_sound_frames) & unvoiced
    return smooth, other


def _other_sounds_into(sound: np.ndarray, other: np.ndarray, smooth: np.ndarray, heard: np.ndarray,
                       active: np.ndarray, strength: np.ndarray, under_peak_db: np.ndarray | None,
                       params: SoundClassParams, levels: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> None:
    """Marks in ``sound`` (shape (n,), uint8) the breaths and coughs among the ``other`` frames
    (shape (n,), bool) that last (opened, then closed), the decay of a phrase as silence, and
    each breath's faint lead; ``smooth`` as :func:`_taken_for_other` gives it, the rest as
    :func:`sound_classes` takes them."""
    # opening: a non-speech decision must hold for min_event_frames; closing: a speech island
    # inside a breath or cough must hold for min_island_frames
    opened = open_then_close(other, params.min_event_frames | 1, params.min_island_frames | 1) & heard
    if not np.count_nonzero(opened):  # no sound lasts long enough (most windows with a decision to open)
        return
    other, tail = _decisions(opened, heard, active, strength, under_peak_db, params, other)
    np.copyto(sound, np.where(_cough_odds(smooth, opened, params) > 0, np.uint8(COUGH), np.uint8(BREATH)),
              where=other)
    if tail is not None:  # the decay of a phrase is silence
        sound[tail] = SILENCE
    if levels is not None and params.lead_frames:  # a breath starts where its sound starts
        _breath_leads(sound, faint_sounds(*levels, params), active | opened, opened, params)


def _breath_leads(sound: np.ndarray, faint: np.ndarray, taken: np.ndarray, opened: np.ndarray,
                  params: SoundClassParams) -> None:
    """Makes breath (in ``sound``, shape (n,), uint8) the runs of ``faint`` frames not ``taken``
    (speech or a sound of its own; shapes (n,), bool) of at most ``lead_frames`` frames that rise out
    of quiet (no faint frame before them) and end where a run of ``opened`` (a breath or cough) of at
    least ``min_sound_frames`` starts (a briefer one may be dropped as silence, which would leave a breath
    made only of its start): the sound's quiet start, which the averaging windows and the audible
    events' bounds leave out (before a cough, the inhalation before it)."""
    n, max_frames, sound_frames = len(faint), params.lead_frames, params.min_sound_frames
    s, e = runs(faint & ~taken)
    keep = (e + sound_frames <= n) & (e - s <= max_frames) & (s > 0)
    keep[keep] = ~faint[s[keep] - 1]
    held = np.concatenate([[0], np.cumsum(opened)])  # the sound's first sound_frames frames all opened
    keep[keep] = held[e[keep] + sound_frames] - held[e[keep]] == sound_frames
    if np.count_nonzero(keep):
        sound[apart_runs_to_mask(s[keep], e[keep], n)] = BREATH


def _mute(heard: np.ndarray, active: np.ndarray, reach: int, min_frames: int) -> np.ndarray:
    """Frames of a sound (a run of ``heard``) with no ``active`` frame within ``reach`` frames each
    side inside the sound, and at least ``min_frames`` of the sound there: a sound the voice
    activity never touches. Shapes (n,) -> (n,), bool."""
    means, length = event_means(heard, active[:, None].astype(np.float32), reach)
    return (length >= min_frames) & (means[:, 0] == 0)


def _cough_odds(smooth: np.ndarray, opened: np.ndarray, params: SoundClassParams) -> np.ndarray:
    """How much a frame's cough score beats its breath score (``cough_margin`` taken off): the
    frame's own, or with ``label_reach_frames``, the mean over its sound (the run of ``opened``)
    within that reach each side, so that a sound is one event, not a train of cough and breath
    fragments. Shapes (n, 3), (n,) -> (n,)."""
    odds = smooth[:, 2] - smooth[:, 1]
    cough = (odds > 0) & opened
    if not params.label_reach_frames or not np.count_nonzero(cough) or np.array_equal(cough, opened):
        return odds  # every sound all cough or all breath: so are its means
    means, length = event_means(opened, odds[:, None], params.label_reach_frames)
    return np.where(length > 0, means[:, 0], odds)


def _decisions(other: np.ndarray, heard: np.ndarray, active: np.ndarray, strength: np.ndarray,
               under_peak_db: np.ndarray | None, params: SoundClassParams, decided: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """The frames of another sound than speech from the sounds the opening and closing leave,
    and the phrases' tails among them (see :func:`sound_classes`; shapes (n,), bool; the tails
    None if none). ``decided``: the non-speech decisions before the opening (shape (n,), bool;
    None: the sounds' own starts are not looked for)."""
    if params.max_flanked_frames:
        other = other & ~_flanked(other, active & ~other, heard, params.max_flanked_frames, params.flank_speech_frames)
    # the tails and the voiced stretches after breaths are both found from the same decisions
    speech = active & ~other
    tail, started = (_tails(other, speech, params, under_peak_db, decided)
                     if params.tail_frames or params.min_sound_frames else (None, None))
    # a stretch after a phrase's own tail (which becomes silence) has no breath before it; nor,
    # for this rule, after a sound kept only by its voiced start (so that the rule reads back no further)
    before = other if tail is None else other & ~tail
    if started is not None:
        before = before & ~started
    after = _voiced_after(before, speech, strength, under_peak_db, params) if params.voiced_after_frames else None
    return (other if after is None else other | after), tail


def _periodicity(strength: np.ndarray, params: SoundClassParams) -> tuple[np.ndarray, np.ndarray]:
    """Frames with no periodicity within ``voicing_reach_frames`` (``min_speech_strength``), and
    frames outside a voiced stretch (a voiced stretch: ``voiced_share`` of the ``voiced_frames``
    around a frame ``voiced_strength`` periodic); shapes (n,) -> (n,), (n,), bool. Both from one
    moving average of the two masks when their windows are the same."""
    size = params.voiced_frames
    if params.voicing_reach_frames != size:
        aperiodic = window_counts(strength >= params.min_speech_strength, params.voicing_reach_frames) == 0
        return aperiodic, ~_voiced(window_counts(strength >= params.voiced_strength, size), size, params)
    both = np.empty((2, len(strength)), np.float32)  # the two masks as rows of 0 and 1, by one comparison
    np.greater_equal(strength, _thresholds(strength.dtype, params.min_speech_strength, params.voiced_strength),
                     out=both)
    loop = compiled_mean()
    if loop is None:
        counts = window_counts(both.T.astype(bool), size)
        return counts[:, 0] == 0, ~_voiced(counts[:, 1], size, params)
    # the shares of the windows: the running sums of 0 and 1 are exact, k / size rounded once
    shares = np.empty(both.shape, np.float32)
    loop(both, size, 1, shares, NEAREST, 0.0, 0)
    return shares[0] == 0, shares[1] < params.voiced_share


@lru_cache(maxsize=8)
def _thresholds(dtype: np.dtype, *values: float) -> np.ndarray:
    """``values`` as a column (shape (k, 1), read only) of the type a comparison of an array of
    ``dtype`` with each of them as a Python float is made in, so that one comparison of the array
    with the column gives the same masks as k comparisons."""
    column = np.array(values, np.result_type(np.zeros(0, dtype), 0.0))[:, None]
    column.flags.writeable = False
    return column


def _voiced(counts: np.ndarray, size: int, params: SoundClassParams) -> np.ndarray:
    """Frames whose window of ``size`` holds at least ``voiced_share`` voiced frames (the moving
    average's float32 values), from the counts. Shape (n,) -> (n,), bool."""
    return (counts / size).astype(np.float32) >= params.voiced_share


def _tails(other: np.ndarray, speech: np.ndarray, params: SoundClassParams, under_peak_db: np.ndarray | None = None,
           decided: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Runs of ``other`` that are silence (shapes (n,), bool; None if there is none): shorter
    than ``tail_frames`` and starting at most ``tail_gap_frames`` after a ``speech`` frame (the
    decay of a phrase, not a breath), or shorter than ``min_sound_frames``, alone (no other sound
    within ``tail_gap_frames``) and with no speech right after them (a click, a smack: too brief
    for a breath; right before speech, it is the phrase's breathy onset or an inhalation). A brief
    sound in the middle of a pause (no speech within ``mid_pause_frames`` each side) that comes
    within ``mid_pause_under_peak_db`` of the recent peak level (``under_peak_db``, dB per frame;
    None: the exception is off) is a short breath, not a click: clicks and smacks sit at a
    phrase's edges, or far under the speech. A sound is no tail when the only speech within
    ``tail_gap_frames`` before it is a run shorter than ``own_start_frames`` right before it, some
    of it ``decided`` non-speech before the opening dropped that as too brief: the sound's own
    start (a breath's first burst), not a phrase. Nor is a sound a tail or too brief when the speech
    right before it is its own voiced start in a pause (:func:`_voiced_start`); those sounds are the
    second mask returned (None if there is none)."""
    n = len(other)
    s, e = runs(other)
    keep = e - s < max(params.tail_frames, params.min_sound_frames)
    if not np.count_nonzero(keep):
        return None, None
    s, e = s[keep], e[keep]
    csum = np.zeros(n + 1, np.int32)
    np.add.accumulate(speech, out=csum[1:], dtype=np.int32)
    after = csum[s] - csum[np.maximum(s - params.tail_gap_frames, 0)] > 0
    if params.own_start_frames and decided is not None and np.count_nonzero(after):
        after &= ~_own_start(s, speech, decided, params)
    keep = (e - s < params.tail_frames) & after
    near = np.zeros(n + 1, np.int32)  # other sounds within tail_gap_frames: a train of bursts is a sound
    np.add.accumulate(other, out=near[1:], dtype=np.int32)
    gap = params.tail_gap_frames
    alone = (near[s] - near[np.maximum(s - gap, 0)] == 0) & (near[np.minimum(e + gap, n)] - near[e] == 0)
    brief = (e - s < params.min_sound_frames) & ~speech[np.minimum(e, n - 1)] & alone
    if params.mid_pause_frames and under_peak_db is not None and np.count_nonzero(brief):
        brief &= ~_mid_pause(s, e, csum, under_peak_db, params)
    keep |= brief
    started = None
    if params.voiced_start_frames and under_peak_db is not None and np.count_nonzero(keep):
        voiced = keep & _voiced_start(s, speech, under_peak_db, params)
        if np.count_nonzero(voiced):
            started = apart_runs_to_mask(s[voiced], e[voiced], n)
            keep &= ~voiced
    return (apart_runs_to_mask(s[keep], e[keep], n) if np.count_nonzero(keep) else None), started


def _run_before(s: np.ndarray, speech: np.ndarray, reach: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``reach`` frames before each sound starting at ``s`` (shape (k,)), nearest first: their
    indices (clipped to 0), which of them are ``speech`` (shape (n,), bool), the run of speech right
    before the sound and its length. Shapes (k, reach) x 3 and (k,)."""
    idx = s[:, None] - np.arange(1, reach + 1)
    inside = idx >= 0
    idx = np.maximum(idx, 0)
    sp = speech[idx] & inside
    run = np.logical_and.accumulate(sp, axis=1)
    return idx, sp, run, run.sum(axis=1)


def _own_start(s: np.ndarray, speech: np.ndarray, decided: np.ndarray, params: SoundClassParams) -> np.ndarray:
    """Which of the sounds starting at ``s`` (shape (k,)) have right before them a run of ``speech``
    shorter than ``own_start_frames``, with no other speech within ``tail_gap_frames`` before the
    sound and a frame of the run ``decided`` non-speech (shapes (n,), bool): the sound's own start,
    which the opening left as speech. Shape (k,), bool."""
    idx, sp, run, length = _run_before(s, speech, max(params.own_start_frames, params.tail_gap_frames))
    return ((length > 0) & (length < params.own_start_frames)
            & (sp[:, :params.tail_gap_frames].sum(axis=1) == np.minimum(length, params.tail_gap_frames))
            & (run & decided[idx]).any(axis=1))


def _voiced_start(s: np.ndarray, speech: np.ndarray, under_peak_db: np.ndarray, params: SoundClassParams
                  ) -> np.ndarray:
    """Which of the sounds starting at ``s`` (shape (k,)) have right before them a run of ``speech``
    (shape (n,), bool) shorter than ``voiced_start_frames``, with no other speech within
    ``voiced_start_frames + voiced_start_pause_frames`` frames before the sound (so the pause before
    a run of L frames is at least that sum minus L) and every frame of the run
    ``voiced_start_under_peak_db`` or more under the recent peak level (``under_peak_db``, dB, shape
    (n,)): the sound's own voiced start in a pause, which the voice activity takes for speech, not a
    word. Shape (k,), bool."""
    reach = params.voiced_start_frames + params.voiced_start_pause_frames
    idx, sp, run, length = _run_before(s, speech, reach)
    loudest = np.where(run, np.asarray(under_peak_db)[idx], np.inf).min(axis=1)
    return ((length > 0) & (length < params.voiced_start_frames) & (sp.sum(axis=1) == length)
            & (loudest >= params.voiced_start_under_peak_db))


def _mid_pause(s: np.ndarray, e: np.ndarray, speech_csum: np.ndarray, under_peak_db: np.ndarray,
               params: SoundClassParams) -> np.ndarray:
    """Which of the runs ``s .. e`` (shapes (k,), each shorter than ``min_sound_frames``) have no
    speech within ``mid_pause_frames`` each side (``speech_csum``: the speech mask's counts, shape
    (n + 1,)) and a frame within ``mid_pause_under_peak_db`` of the recent peak level
    (``under_peak_db``, shape (n,)). Shape (k,), bool."""
    n, reach = len(speech_csum) - 1, params.mid_pause_frames
    quiet = ((speech_csum[s] - speech_csum[np.maximum(s - reach, 0)] == 0)
             & (speech_csum[np.minimum(e + reach, n)] - speech_csum[e] == 0))
    frames = np.minimum(s[:, None] + np.arange(params.min_sound_frames), (e - 1)[:, None])
    return quiet & (np.asarray(under_peak_db)[frames].min(axis=1) <= params.mid_pause_under_peak_db)


def _voiced_after(other: np.ndarray, speech: np.ndarray, strength: np.ndarray, under_peak_db: np.ndarray | None,
                  params: SoundClassParams) -> np.ndarray | None:
    """Runs of ``speech`` that start right where ``other`` ends, last ``voiced_after_min_frames``
    to ``voiced_after_frames`` frames, have at least ``voiced_after_share`` of their frames
    ``voiced_after_strength`` periodic and all ``voiced_after_under_peak_db`` under the peak
    (shapes (n,); ``under_peak_db`` None: all are): a breath or cough that goes on voiced (a voiced
    exhalation, a moan), not a word, which is louder or has no breath glued to its start. None
    if there is none."""
    n = len(other)
    if not np.count_nonzero(other[:-1] & speech[1:]):  # no speech right after another sound (the usual case)
        return None
    s, e = runs(speech)
    keep = ((s > 0) & other[np.maximum(s - 1, 0)] & (e - s >= params.voiced_after_min_frames)
            & (e - s < params.voiced_after_frames))
    if not np.count_nonzero(keep):
        return None
    s, e = s[keep], e[keep]
    counts = np.zeros((n + 1, 2), np.int32)
    quiet = (np.ones(n, bool) if under_peak_db is None
             else np.asarray(under_peak_db) >= params.voiced_after_under_peak_db)
    np.add.accumulate(np.column_stack([strength >= params.voiced_after_strength, quiet]), axis=0,
                      out=counts[1:], dtype=np.int32)
    keep = ((counts[e, 0] - counts[s, 0] >= params.voiced_after_share * (e - s))
            & (counts[e, 1] - counts[s, 1] == e - s))
    return apart_runs_to_mask(s[keep], e[keep], n) if np.count_nonzero(keep) else None


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
    return apart_runs_to_mask(s[keep], e[keep], n)
