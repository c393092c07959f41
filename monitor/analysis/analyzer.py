"""The acoustic analyzer: whole-signal function and its streaming shell.

Per-frame features come in two stages:

* *raw* features depend only on the samples around a frame (level, F0 and
  correlation strength, cepstral residual, spectral slope);
* *contextual* features depend on neighbouring frames (noise floor, voice
  activity, voicing, CPPS smoothing, intensity contour, syllable nuclei),
  each within a bounded number of frames to the left (``CONTEXT_LEFT``)
  and right (``CONTEXT_RIGHT``).

:func:`analyze_signal` computes both over a whole signal. The
:class:`StreamingAnalyzer` carries sample remainders and a window of raw
features so that feeding chunks of any size gives the same frames; it holds
back ``CONTEXT_RIGHT`` frames (0.95 s: the sound class's reach) until their right context arrives,
and emits them in batches ending on a grid of ``EMIT_GRID`` frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from ..dsp.resample import Resampler
from ..dsp.cepstrum import CepstrumParams, CepstrumPlan, cepstral_residuals, cpps, make_plan, sparse_plan
from ..dsp.energy import (EDGE_FRAMES, VadParams, floor_margin_db, frame_energy_db, heard_extremum, heard_floor_db,
                          heard_frames, line_silence, noise_floor_db, noise_floor_db_from, opening_zeros, peak_level,
                          slow_floor_db_from, voice_activity)
from ..dsp.filters import trailing_max_between
from ..dsp.framing import frame_signal, frames_touching, n_frames
from ..dsp.pitch import PitchParams, hnr_from_strength, pitch_frames, segment_length
from ..dsp import sound_class_model as model
from ..dsp.sound_class import (FEATURES, SILENCE, SPEC_COLUMNS, SPEC_EVERY, SPEC_LENGTH, SPEECH, SoundClassParams,
                               audible_events, class_features, folded, folded_scores, sound_classes,
                               spectral_shape, tiled)
from ..dsp.syllables import SyllableParams, intensity_db, nuclei
from ..dsp.music import CHANGE, MARKS, PARTIAL_BYTES, MusicParams, music_frames, partials, steady_and_changes
from ..dsp.tones import TONE_EVERY, TONE_LENGTH, ToneParams, band_spectrum, spectrum_lines, steady_frames, tone_frames
from .frame_features import Frames
from .level_columns import LevelColumns

RATES = (8000, 16000)
PITCH_RATE = 8000
CONTEXT_LEFT = 1100
CONTEXT_RIGHT = 95
LOCAL_LEFT = 130
"""Left context of the local decisions (gap bridging, burst dropping, dips around a nucleus, the
sound class's look back over a breath and a phrase's tail before a voiced stretch)."""
BLOCK_FRAMES = 1000
EMIT_GRID = 50
"""Frames are emitted in batches that end on multiples of 50 frames (0.5 s of call time), and
their raw features computed just before: both stages cost about the same whatever the batch, so
tiny live chunks would otherwise pay them fifty times a second. The cue windows end on whole
seconds (every ``analysis.hop_s``, 1 s by default, a multiple of the grid), so the frames a cue
report needs come out the moment their right context has arrived: the batches delay no cue and
no alert. What waits up to 0.5 s longer than frame by frame is the speech mask that gates the
recognizer's audio."""


def feature_reach(params: SoundClassParams) -> int:
    """Frames each side that a frame's sound-class features depend on: its event's reach, plus
    the gap bridging and the shortest event that decide where an audible event begins and ends."""
    return (max(params.event_reach_frames, params.smooth_frames // 2 + 1, params.onset_lag_frames)
            + params.audible_gap_frames + params.audible_min_frames)


@dataclass(frozen=True)
class AnalyzerConfig:
    """All analyzer settings."""

    window_s: float = 0.025
    cepstrum_every: tuple[int, int] = (2, 3)
    """The cepstrum of every n-th frame at 8 and at 16 kHz (the frames between are interpolated).
    The 16 kHz cepstrum, a 2000-point FFT, costs twice the 8 kHz one, and its CPPS agrees with
    Praat's as well every 30 ms as every 20 ms (tests/test_accuracy.py, native recordings: r 0.983
    against 0.982); at 8 kHz a 30 ms step loses more (telephone band: r 0.968 against 0.977)."""
    pitch: PitchParams = field(default_factory=PitchParams)
    cepstrum: CepstrumParams = field(default_factory=CepstrumParams)
    vad: VadParams = field(default_factory=VadParams)
    syllables: SyllableParams = field(default_factory=SyllableParams)
    sound: SoundClassParams = field(default_factory=SoundClassParams)
    tones: ToneParams = field(default_factory=ToneParams)
    """Call-progress tones (ringback, ringtones, busy and dial tones) are silence, not speech
    (:mod:`monitor.dsp.tones`)."""
    music: MusicParams = field(default_factory=MusicParams)
    """Music (hold music on the caller's leg) is silence, not speech (:mod:`monitor.dsp.music`)."""
    voice_only: bool = False
    """Only what tells when the party speaks (level, F0 and its strength, noise floor, sound
    class, voicing, HNR, intensity): no cepstrum (``cpps_db`` and ``slope_db_khz`` are NaN) and
    no syllable nuclei. For a leg whose frames serve only as the other party's speech mask."""

    def __post_init__(self) -> None:
        every = self.cepstrum_every
        if not (isinstance(every, tuple) and len(every) == len(RATES) and all(isinstance(k, int) and k >= 1
                                                                            for k in every)):
            raise ValueError(f"cepstrum_every: one step of 1 or more frames per rate {RATES}, got {every!r}")
        for name in ("support_frames", "alone_frames"):  # stretches around a peak: a batch's frames each side
            if getattr(self.syllables, name) > min(CONTEXT_RIGHT, LOCAL_LEFT):
                raise ValueError(f"syllables.{name}: at most {min(CONTEXT_RIGHT, LOCAL_LEFT)} frames (the "
                                 f"context a batch holds), got {getattr(self.syllables, name)}")
        # the vowel's lean reads the class scores over the stretch: a score is final only where its
        # features' reach lies within the batch's right context
        lean = self.sound.enabled and (math.isfinite(self.syllables.max_vowel_lean)
                                       or math.isfinite(self.syllables.running_vowel_lean))
        if lean and self.syllables.support_frames > CONTEXT_RIGHT - feature_reach(self.sound):
            raise ValueError(f"syllables.support_frames: at most {CONTEXT_RIGHT - feature_reach(self.sound)} "
                             f"frames with the vowel's lean on (the context a batch holds, less the class "
                             f"features' reach), got {self.syllables.support_frames}")
        tone_reach = self.tones.context_frames + self.sound.audible_gap_frames + self.sound.audible_min_frames
        if self.tones.enabled and tone_reach > min(CONTEXT_RIGHT, LOCAL_LEFT):  # the tone test's sounds and stretches
            raise ValueError(f"tones.reach_frames: the tone test reaches {tone_reach} frames each side, past the "
                             f"context a batch holds ({min(CONTEXT_RIGHT, LOCAL_LEFT)})")
        audible = self.sound.audible_gap_frames + self.sound.audible_min_frames
        back, ahead = (k + audible for k in self.music.context_frames)
        if self.music.enabled and (back > LOCAL_LEFT or ahead > CONTEXT_RIGHT):  # its sounds and stretches
            raise ValueError(f"music.back_frames, music.ahead_frames: the music test reaches {back} frames back "
                             f"and {ahead} on, past the context a batch holds ({LOCAL_LEFT}, {CONTEXT_RIGHT})")
        if self.vad.spread_smooth_frames // 2 > CONTEXT_RIGHT:  # a stream's slow floor final when emitted
            raise ValueError(f"vad.spread_smooth_frames: at most {2 * CONTEXT_RIGHT + 1} frames (the context a "
                             f"batch holds on), got {self.vad.spread_smooth_frames}")
        if self.vad.line_noise_frames + EDGE_FRAMES > CONTEXT_LEFT:  # a stream reads them from its raw buffer
            raise ValueError(f"vad.line_noise_frames: at most {CONTEXT_LEFT - EDGE_FRAMES} frames (the frames a "
                             f"stream keeps before the new ones), got {self.vad.line_noise_frames}")


WITH_SOUND_CLASS = AnalyzerConfig(sound=SoundClassParams(enabled=True))
"""The analyzer with the sound class on (the default): breaths and coughs are told from speech."""
WITHOUT_SOUND_CLASS = AnalyzerConfig(sound=SoundClassParams(enabled=False))
"""The analyzer with every audible frame taken for speech (as before the sound class)."""

VOICE_ONLY = AnalyzerConfig(voice_only=True)
"""The analyzer for a leg whose frames serve only as a speech mask (see ``voice_only``)."""


def frame_times(rate: int, first: int, stop: int, window_s: float) -> np.ndarray:
    """Centres in seconds (shape (stop - first,)) of the frames ``first .. stop`` of a ``rate`` Hz
    stream analysed in ``window_s`` windows (:attr:`AnalyzerConfig.window_s`): the frames' ``t``."""
    return (np.arange(first, stop) * (rate // 100) + int(round(window_s * rate)) / 2) / rate


@dataclass(frozen=True)
class _Layout:
    """Window lengths and offsets at one sample rate (derived, not configured)."""

    rate: int
    hop: int
    win: int
    prate: int      # pitch, voicing and HNR are measured at 8 kHz (F0 <= 400 Hz needs no more)
    pdec: int       # rate // prate
    pitch_len: int  # at prate
    ppad: int       # zeros before the 8 kHz signal (the longer 8 kHz window's left half, plus one)
    preach: int     # 8 kHz samples needed right of a frame centre
    plan: CepstrumPlan
    sparse_plan: CepstrumPlan  # the same, its time smoothing seen on every ``every``-th frame
    every: int
    pad_left: int   # zeros before the signal so that every window starts at >= 0
    reach: int      # samples needed right of a frame centre

    @staticmethod
    def make(rate: int, cfg: AnalyzerConfig) -> "_Layout":
        if rate not in RATES:
            raise ValueError(f"analyzer needs 8000 or 16000 Hz audio, got {rate}")
        hop = rate // 100
        win = int(round(cfg.window_s * rate))
        prate = PITCH_RATE
        pitch_len = segment_length(prate, cfg.pitch)
        plan = make_plan(rate, cfg.cepstrum)
        left = max(win // 2, plan.frame_length // 2 + 1)
        reach = max(win - win // 2, plan.frame_length - plan.frame_length // 2)
        every = max(1, int(cfg.cepstrum_every[RATES.index(rate)]))
        # the pitch tracker's, the spectral shape's or the tone test's window, centred alike
        span = max(pitch_len, SPEC_LENGTH, TONE_LENGTH)
        return _Layout(rate, hop, win, prate, rate // prate, pitch_len, span // 2 + 1,
                       span - span // 2, plan, sparse_plan(plan, every), every, left - win // 2, reach)

    def centre(self, frame: int) -> int:
        """Centre of ``frame`` in padded-signal samples."""
        return frame * self.hop + self.win // 2 + self.pad_left

    def pcentre(self, frame: int) -> int:
        """Centre of ``frame`` in padded 8 kHz samples."""
        return frame * (self.hop // self.pdec) + (self.win // 2) // self.pdec + self.ppad


def _raw_features(padded: np.ndarray, start: int, low: np.ndarray, low_start: int, first: int, count: int,
                  lay: _Layout, cfg: AnalyzerConfig) -> dict[str, np.ndarray]:
    """Raw features of frames ``first .. first+count`` from ``padded[start:]`` and ``low[low_start:]``.

    ``padded`` is (a slice of) the zero-padded signal, beginning at padded
    sample ``start``; ``low`` the same signal at 8 kHz (padded by ``lay.ppad``),
    for pitch. Shapes: every output (count,) except ``residual`` (k, q): the cepstral
    residuals of just the frames that have one (absolute index a multiple of ``lay.every``), in order.
    """
    c0 = lay.centre(first) - start
    frames = frame_signal(padded, lay.win, lay.hop, c0 - lay.win // 2, count)
    energy = frame_energy_db(frames)
    p0 = lay.pcentre(first) - low_start
    seg = frame_signal(low, lay.pitch_len, lay.hop // lay.pdec, p0 - lay.pitch_len // 2, count)
    # frames too quiet to ever be speech (see VadParams.absolute_min_db) need no pitch
    audible = energy > cfg.vad.absolute_min_db
    f0 = np.full(count, np.nan, np.float32)
    strength = np.zeros(count, np.float32)
    n_audible = int(np.count_nonzero(audible))  # (faster than .all() and .any())
    if n_audible == count:  # the usual block of speech: the frames' view itself, no gathered copy
        f0[:], strength[:] = pitch_frames(seg, lay.prate, cfg.pitch)
    elif n_audible:
        f0[audible], strength[audible] = pitch_frames(seg[audible], lay.prate, cfg.pitch)
    lines, bits = _spectral_lines(low, p0, audible, n_audible, first, count, lay, cfg)
    spec = np.zeros((count, len(SPEC_COLUMNS)), np.float32)
    if cfg.sound.enabled and n_audible:
        # the spectral shape of every other frame (by absolute index; see hold_spectral_shape)
        own = slice((-first) % SPEC_EVERY, None, SPEC_EVERY)
        _spectral_rows(_spectral_frames(seg, low, p0, lay)[own], audible[own], spec[own])
    part, slope = _cepstra(padded, c0, first, count, lay, cfg)
    return {"energy_db": energy, "f0": f0, "strength": strength, "slope": slope, "spec": spec, "lines": lines,
            "partials": bits, "residual": part}


def _spectral_lines(low: np.ndarray, p0: int, audible: np.ndarray, n_audible: int, first: int, count: int,
                    lay: _Layout, cfg: AnalyzerConfig) -> tuple[np.ndarray, np.ndarray]:
    """The :func:`spectrum_lines` rows (shape (count, 2), float32) and the :func:`partials` rows
    (shape (count, PARTIAL_BYTES), uint8) of every ``TONE_EVERY``-th frame by absolute index that is
    audible (``audible``: shape (count,), bool, ``n_audible`` of them), from the 8 kHz signal ``low``
    (``p0``: frame 0's centre in it); zeros elsewhere, and throughout when neither tones nor music
    are looked for."""
    lines = np.zeros((count, 2), np.float32)
    bits = np.zeros((count, PARTIAL_BYTES), np.uint8)
    if (cfg.tones.enabled or cfg.music.enabled) and n_audible:  # every TONE_EVERY-th frame (by absolute index)
        own = slice((-first) % TONE_EVERY, None, TONE_EVERY)
        heard = audible[own]
        frames8 = frame_signal(low, TONE_LENGTH, lay.hop // lay.pdec, p0 - TONE_LENGTH // 2, count)[own]
        rows = slice(None) if np.count_nonzero(heard) == len(heard) else heard  # all: the view, no gathered copy
        power = band_spectrum(frames8[rows])
        if cfg.tones.enabled:
            lines[own][rows] = spectrum_lines(power, cfg.tones.line_db, cfg.tones.max_line_share, cfg.tones.max_lines)
        if cfg.music.enabled:
            bits[own][rows] = partials(power, cfg.music)
    return lines, bits


def _cepstra(padded: np.ndarray, c0: int, first: int, count: int, lay: _Layout,
             cfg: AnalyzerConfig) -> tuple[np.ndarray, np.ndarray]:
    """The cepstral residuals (shape (k, q); q = 0 with ``voice_only``) of the frames whose
    absolute index is a multiple of ``lay.every`` (the costliest part, so only those), and the
    spectral slope (shape (count,), NaN on the others), from ``padded`` (``c0``: frame 0's centre)."""
    # the cepstrum (the costliest part) of every ``every``-th frame, by absolute frame index
    keep = slice((-first) % lay.every, None, lay.every)  # a strided view, no copy
    slope = np.full(count, np.nan, np.float32)
    if cfg.voice_only:
        part = np.zeros((len(range(count)[keep]), 0), np.float32)
    else:
        cl = lay.plan.frame_length
        cframes = frame_signal(padded, cl + 1, lay.hop, c0 - cl // 2 - 1, count)
        part, slope[keep] = cepstral_residuals(cframes[keep], lay.plan)
    return part, slope


def _spectral_frames(seg: np.ndarray, low: np.ndarray, p0: int, lay: _Layout) -> np.ndarray:
    """The 8 kHz frames of the spectral shape (shape (count, SPEC_LENGTH)), centred on the
    frames' centres: the middles of the pitch tracker's frames ``seg`` (shape (count,
    pitch_len)) when they hold them (a view), else framed from ``low`` (``p0``: frame 0's centre)."""
    off = lay.pitch_len // 2 - SPEC_LENGTH // 2
    if 0 <= off <= lay.pitch_len - SPEC_LENGTH:
        return seg[:, off:off + SPEC_LENGTH]
    return frame_signal(low, SPEC_LENGTH, lay.hop // lay.pdec, p0 - SPEC_LENGTH // 2, len(seg))


def _spectral_rows(frames: np.ndarray, audible: np.ndarray, out: np.ndarray) -> None:
    """The spectral shape of the audible ``frames`` (shapes (k, SPEC_LENGTH), (k,)) into their
    rows of ``out`` (shape (k, 6)), the others left as they are."""
    if np.count_nonzero(audible) == len(audible):  # the usual block of speech: the frames' view, no gathered copy
        out[:] = spectral_shape(frames)
    else:
        out[audible] = spectral_shape(frames[audible])


@dataclass(frozen=True)
class _Scores:
    """Sound-class scores (shape (n, 3)) of the frames ``first .. first + n`` (absolute indices)
    that are final: their features reach no frame outside what was known when they were made."""

    first: int
    values: np.ndarray

    def from_frame(self, frame: int) -> np.ndarray:
        """The rows of frames ``frame ..`` (none if ``frame`` is not among them)."""
        if not self.first <= frame <= self.first + len(self.values):
            return self.values[:0]
        return self.values[frame - self.first:]


def _contextual(raw: dict[str, np.ndarray], first: int, lay: _Layout, cfg: AnalyzerConfig, network: _Network,
                a: int = 0, b: int | None = None, res_row0: int = 0,
                known: _Scores | None = None,
                levels: tuple[np.ndarray, ...] | None = None) -> tuple[Frames, _Scores | None]:
    """Frames ``a .. b`` of a run of raw features that starts at frame ``first``, and the
    sound-class scores now final (for the next call's ``known``), by the analyzer's ``network``.

    ``levels``: the intensity, the noise floor, the intensity's trailing peak and the slow floor of
    every frame (shapes (n,)), if the caller keeps them (see :class:`LevelColumns`); else computed here
    (:func:`_levels`).

    Only the noise floor and the peak levels need the long left context (they
    are trailing minima/maxima over seconds); every other decision is local,
    so it is computed over ``a - LOCAL_LEFT .. b + CONTEXT_RIGHT`` only, and the
    2-D cepstral work over two cepstra each side of ``a .. b`` (``2 * every`` frames). The
    sound class's features of the frames whose scores are ``known`` are not computed again.
    """
    energy = raw["energy_db"]
    n = len(energy)
    b = n if b is None else b
    w = slice(max(0, a - LOCAL_LEFT), min(n, b + CONTEXT_RIGHT))
    unheard = raw["unheard"]
    inten, floor, level, slow = _levels(energy, unheard, cfg) if levels is None else levels
    syl_level = level[w]  # the intensity's trailing peak: it serves the VAD too when their settings agree
    same = cfg.syllables.smooth_frames == 3 and cfg.syllables.level_window_frames == cfg.vad.level_window_frames
    vad_level = syl_level if same else peak_level(energy, cfg.vad, unheard)[w]
    strength = raw["strength"][w]
    sound, scores = _window_sound(raw, w, first, floor, slow, vad_level, lay, cfg, network, known)
    speech = sound == SPEECH
    voiced, nuc = _voiced_and_nuclei(speech, strength, inten[w], syl_level, scores, floor[w], cfg)
    local = slice(a - w.start, b - w.start)
    cp, slope = _cepstral(raw, first, lay, cfg, a, b, n, res_row0)
    sl = slice(a, b)
    v = voiced[local]
    f0 = np.where(v, raw["f0"][sl], np.nan).astype(np.float32, copy=False)
    hnr = np.where(v, hnr_from_strength(raw["strength"][sl]), np.nan).astype(np.float32, copy=False)
    t = frame_times(lay.rate, first + a, first + b, cfg.window_s)
    final = None
    if scores is not None:  # the scores whose features reach no frame past the window's end
        final = _Scores(first + w.start, scores[:max(0, len(scores) - feature_reach(cfg.sound))])
    return Frames(t=t, energy_db=energy[sl], floor_db=floor[sl], speech=speech[local], voiced=v, f0_hz=f0,
                  hnr_db=hnr, cpps_db=cp, slope_db_khz=slope, intensity_db=inten[sl],
                  nucleus=nuc[local], sound=sound[local]), final


def _window_sound(raw: dict[str, np.ndarray], w: slice, first: int, floor: np.ndarray, slow: np.ndarray,
                  vad_level: np.ndarray, lay: _Layout, cfg: AnalyzerConfig, network: _Network,
                  known: _Scores | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The sound class (shape (m,), uint8) of the frames ``w`` of a run of raw features that starts
    at frame ``first``, from their voice activity, call-progress tones silent, and their sound-class
    scores (shape (m, 3)) when computed. ``floor``, ``slow``: the noise floor and the slow floor of
    every frame (shapes (n,)); ``vad_level``: the recent peak level of the frames ``w`` (shape (m,))."""
    energy, strength = raw["energy_db"], raw["strength"][w]
    margin = floor_margin_db(floor[w], slow[w], cfg.vad) if cfg.vad.steady_margin else None
    active = voice_activity(energy[w], floor[w], strength, cfg.vad, vad_level, margin)
    sound, scores = _sound(active, raw["spec"][w], first + w.start, strength, energy[w], floor[w], vad_level,
                           cfg, lay.rate, network, known.from_frame(first + w.start) if known is not None else None)
    if cfg.tones.enabled or cfg.music.enabled:
        sound = _without_tones(sound, raw["lines"][w], raw["partials"][w], raw["f0"][w], first + w.start, active,
                               energy[w], floor[w], vad_level, cfg)
    return sound, scores


def _voiced_and_nuclei(speech: np.ndarray, strength: np.ndarray, inten: np.ndarray, level: np.ndarray,
                       scores: np.ndarray | None, floor: np.ndarray,
                       cfg: AnalyzerConfig) -> tuple[np.ndarray, np.ndarray]:
    """The voiced frames of speech (periodic enough for a pitch) and the syllable nuclei (none with
    ``voice_only``), from the speech frames, correlation strength, intensity, its trailing peak,
    the sound-class scores and the noise floor (shapes (m,), scores (m, 3)) -> two shapes (m,), bool."""
    some = speech & (strength > 0)
    voiced = some & (strength >= cfg.pitch.voicing_threshold)
    periodic = some & (strength >= cfg.syllables.min_strength)
    nuc = (np.zeros(len(speech), bool) if cfg.voice_only
           else nuclei(inten, periodic, speech, cfg.syllables, level, strength, scores, floor))
    return voiced, nuc


def _without_tones(sound: np.ndarray, lines: np.ndarray, bits: np.ndarray, f0: np.ndarray, first: int,
                   active: np.ndarray, energy: np.ndarray, floor: np.ndarray, level: np.ndarray,
                   cfg: AnalyzerConfig) -> np.ndarray:
    """``sound`` (shape (n,), uint8) with the frames of call-progress tones and of music silent;
    ``lines`` (shape (n, 2)) and ``bits`` (shape (n, PARTIAL_BYTES)) their :func:`spectrum_lines`
    and :func:`partials` rows from absolute frame ``first``, ``f0`` their F0 (shape (n,), NaN:
    none), ``active`` the voice activity, ``energy``, ``floor`` and ``level`` the level, noise
    floor and recent peak (shapes (n,)). Speech (no note changes, nearly always) is left after
    the steadiness of the window's spectra, without the music's stretches."""
    steady = steady_frames(lines, f0, first, cfg.tones) if cfg.tones.enabled else np.zeros(len(sound), np.float32)
    marks = steady_and_changes(bits, first, cfg.music, f0) if cfg.music.enabled else np.zeros((len(sound), MARKS), np.float32)
    tone = np.count_nonzero(steady) > 0
    music = np.count_nonzero(marks[:, CHANGE]) >= cfg.music.min_changes
    if not (tone or music):
        return sound
    audible = audible_events(energy, floor, level, cfg.vad.absolute_min_db, cfg.sound) | active
    quiet = np.zeros(len(sound), bool)
    if tone:
        quiet |= tone_frames(steady, audible, cfg.tones)
    if music:
        quiet |= music_frames(marks, audible, cfg.music)
    return np.where(quiet, SILENCE, sound).astype(np.uint8)


def _levels(energy: np.ndarray, unheard: np.ndarray,
            cfg: AnalyzerConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Intensity, the noise floor, the intensity's trailing peak and the slow floor of every frame
    of a whole signal (shapes (n,)), in :class:`LevelColumns`'s order; the floors and the peak over
    the frames not marked ``unheard`` (shape (n,), bool), held through the marked ones."""
    inten = intensity_db(energy, cfg.syllables)
    if np.count_nonzero(unheard):
        return _heard_levels(energy, inten, unheard, cfg)
    level = trailing_max_between(inten, cfg.syllables.level_window_frames, 0, len(inten))
    floor = noise_floor_db_from(energy, 0, cfg.vad)
    return inten, floor, level, slow_floor_db_from(energy, 0, cfg.vad) if cfg.vad.steady_margin else floor


def _heard_levels(energy: np.ndarray, inten: np.ndarray, unheard: np.ndarray,
                  cfg: AnalyzerConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_levels` of a signal with frames marked ``unheard`` (shapes (n,))."""
    syl, vad = cfg.syllables, cfg.vad
    level = heard_extremum(inten, heard_frames(unheard, syl.smooth_frames // 2), syl.level_window_frames,
                           np.maximum)
    floor = heard_floor_db(energy, unheard, vad.smooth_frames, vad.floor_window_frames)
    slow = heard_floor_db(energy, unheard, vad.spread_smooth_frames, vad.floor_window_frames)
    return inten, floor, level, slow if vad.steady_margin else floor


def _cepstral(raw: dict[str, np.ndarray], first: int, lay: _Layout, cfg: AnalyzerConfig, a: int, b: int,
              n: int, res_row0: int) -> tuple[np.ndarray, np.ndarray]:
    """CPPS and spectral slope of frames ``a .. b`` (shapes (b - a,)); NaN when ``voice_only``.

    CPPS on the frames with a cepstrum (their smoothing reaches one such frame each side),
    interpolated in between; the slope likewise.
    """
    if cfg.voice_only:
        return np.full(b - a, np.nan, np.float32), np.full(b - a, np.nan, np.float32)
    margin = 2 * lay.every
    lo, hi = max(0, a - margin), min(n, b + margin)
    at = np.arange(lo + (-(first + lo)) % lay.every, hi, lay.every)  # the frames with a cepstrum
    row0 = (first + int(at[0])) // lay.every - res_row0 if len(at) else 0
    rows = slice(row0, row0 + len(at))  # their raw["residual"] rows, consecutive
    wanted = np.arange(a, b)
    cp = np.interp(wanted, at, cpps(raw["residual"][rows], lay.sparse_plan, cfg.cepstrum)).astype(np.float32)
    slope = np.interp(wanted, at, raw["slope"][at]).astype(np.float32)
    return cp, slope


def _sound(active: np.ndarray, spec: np.ndarray, spec_first: int, strength: np.ndarray, energy: np.ndarray,
           floor: np.ndarray, level: np.ndarray, cfg: AnalyzerConfig, rate: int, network: _Network,
           known: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Sound class of each frame (shape (n,), uint8; all active frames are speech when the class
    is disabled) and the class scores (shape (n, 3), None when disabled) by ``network``, at
    ``rate`` (Hz).

    ``known``: the scores of the first ``len(known)`` frames, from an earlier call; the features
    are computed from :func:`feature_reach` frames before the first frame without a score.
    """
    params = cfg.sound
    if not params.enabled:
        return np.where(active, SPEECH, SILENCE).astype(np.uint8), None
    audible = audible_events(energy, floor, level, cfg.vad.absolute_min_db, params)
    done = 0 if known is None else len(known)
    start = max(0, done - feature_reach(params)) if done else 0
    cut = slice(start, None)
    feats = class_features(spec[cut], strength[cut], energy[cut], floor[cut], level[cut], audible[cut], params,
                           spec_first + start)
    scores = network.scores(feats[done - start:], spec_first + done)
    if done:
        scores = np.concatenate([known, scores])
    return sound_classes(audible, active, scores, strength, params, level - energy, rate,
                         (energy, floor, level)), scores


SCORE_BLOCK = 16
"""The sound-class network scores frames in blocks of this many, aligned on the frame index."""


@dataclass(frozen=True)
class _Network:
    """The sound-class model's numbers as they are when an analyzer is made, its standardisation
    folded into the hidden layer (:func:`folded`), its biases as :data:`SCORE_BLOCK` rows
    (:func:`tiled`: adding a block's rows costs less than broadcasting a vector). Each analyzer
    holds its own: a model reloaded in the process (as ``tools.train_sound_class --write`` does)
    serves every analyzer made after, in batches of any size."""

    blocked: tuple[np.ndarray, ...]

    @staticmethod
    def load() -> "_Network":
        hidden_w, hidden_b, out_w, out_b = folded(model.MEAN, model.SCALE, model.HIDDEN_W, model.HIDDEN_B,
                                                  model.OUT_W, model.OUT_B)
        return _Network((hidden_w, tiled(hidden_b, SCORE_BLOCK), out_w, tiled(out_b, SCORE_BLOCK)))

    def scores(self, features: np.ndarray, first: int) -> np.ndarray:
        """:func:`folded_scores` of ``features`` (shape (n, d)), whose first row is frame ``first``
        -> (n, 3), float32.

        A matrix product's last bit depends on how many rows share it and where a row sits among
        them (the BLAS kernels differ), and a stream scores a frame with other frames than the
        whole signal does. So the rows go in blocks of :data:`SCORE_BLOCK` frames aligned on the
        frame index (zero rows fill the ends), one product of the same shape per block: a frame's
        scores are the same bits in any batch.
        """
        n, d = features.shape
        lead = first % SCORE_BLOCK
        rows = np.zeros((-(-(lead + n) // SCORE_BLOCK) * SCORE_BLOCK, d), np.float32)
        rows[lead:lead + n] = features
        out = folded_scores(rows.reshape(-1, SCORE_BLOCK, d), *self.blocked)
        return out.reshape(-1, out.shape[-1])[lead:lead + n]


def class_inputs(x: np.ndarray, rate: int, cfg: AnalyzerConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The sound-class model's input for a whole signal, for training and evaluation.

    Returns
    -------
    features : np.ndarray [shape=(n, d)]  :func:`monitor.dsp.sound_class.class_features`
    heard : np.ndarray [shape=(n,)], bool  the frames that get a class: audible or voice-active
    """
    cfg = cfg or WITH_SOUND_CLASS
    lay = _Layout.make(rate, cfg)
    raw = _whole_raw(_check_signal(x), lay, cfg)
    if raw is None:
        return np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, bool)
    energy = raw["energy_db"]
    floor = noise_floor_db(energy, cfg.vad)
    level = peak_level(energy, cfg.vad)
    margin = floor_margin_db(floor, slow_floor_db_from(energy, 0, cfg.vad), cfg.vad) if cfg.vad.steady_margin else None
    active = voice_activity(energy, floor, raw["strength"], cfg.vad, level, margin)
    audible = audible_events(energy, floor, level, cfg.vad.absolute_min_db, cfg.sound)
    feats = class_features(raw["spec"], raw["strength"], energy, floor, level, audible, cfg.sound, 0)
    return np.ascontiguousarray(feats), audible | active  # rows contiguous, as training has always had them


def _check_signal(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"analyzer takes mono audio of shape (n,), got {x.shape}")
    return x.astype(np.float32, copy=False)


def _check_context(sound: SoundClassParams) -> None:
    """Raises ValueError if the sound class (on) reaches past the frames a batch holds around
    the ones it emits, where its classes would differ from the whole call's."""
    if sound.enabled and (sound.context_right_frames > CONTEXT_RIGHT or sound.context_left_frames > LOCAL_LEFT):
        raise ValueError(f"the sound class reaches {sound.context_left_frames} frames back and "
                         f"{sound.context_right_frames} on, past the analyzer's context "
                         f"({LOCAL_LEFT}, {CONTEXT_RIGHT})")


def analyze_signal(x: np.ndarray, rate: int, cfg: AnalyzerConfig | None = None,
                   unheard: Sequence[tuple[int, int]] = ()) -> Frames:
    """Frame features of a whole mono signal.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)], float, full scale +-1
    rate : int, 8000 or 16000
    unheard : ``(first, end)`` sample ranges of ``x`` the capture filled in, no audio having come
        (:attr:`~monitor.capture.sources.Chunk.unheard`): the level trackers (noise floor, peak
        level) learn nothing from the frames that hold a sample of them and hold through them, as
        through digital silence within a line's noise (:func:`~monitor.dsp.energy.line_silence`);
        nor are the frames where the exact zeros the signal may open with end
        (:func:`~monitor.dsp.energy.opening_zeros`)

    Returns
    -------
    Frames with ``1 + (n - 0.025 rate) // (0.01 rate)`` rows (0 if shorter than a window)
    """
    cfg = cfg or AnalyzerConfig()
    lay = _Layout.make(rate, cfg)
    x = _check_signal(x)
    raw = _whole_raw(x, lay, cfg)
    if raw is None:
        return Frames.empty()
    spans = np.concatenate([_spans(unheard), _opening_end(opening_zeros(x), len(x))])
    raw["unheard"] = (frames_touching(spans, 0, len(raw["energy_db"]), lay.win, lay.hop)
                      | line_silence(raw["energy_db"], cfg.vad))
    return _contextual(raw, 0, lay, cfg, _Network.load())[0]


def _opening_end(zeros: int, n: int) -> np.ndarray:
    """The sample where a signal of ``n`` samples that opens with ``zeros`` exact zeros (0: it
    opens with sound; ``n``: all zeros) first sounds, as a span not heard (shape (k, 2), k <= 1):
    the frames that hold it hold the zeros' end (:func:`~monitor.dsp.energy.opening_zeros`)."""
    return np.array([[zeros, zeros + 1]] if 0 < zeros < n else [], np.int64).reshape(-1, 2)


def _spans(unheard: Sequence[tuple[int, int]], offset: int = 0) -> np.ndarray:
    """``unheard`` sample ranges as an array (shape (k, 2)), moved by ``offset`` samples, empty
    ranges left out."""
    spans = np.asarray(unheard, np.int64).reshape(-1, 2) + offset
    return spans[spans[:, 1] > spans[:, 0]]


def _whole_raw(x: np.ndarray, lay: _Layout, cfg: AnalyzerConfig) -> dict[str, np.ndarray] | None:
    """Raw features of every frame of a whole signal (None if shorter than a window)."""
    count = n_frames(len(x), lay.win, lay.hop)
    if count == 0:
        return None
    padded = np.concatenate([np.zeros(lay.pad_left, np.float32), x, np.zeros(lay.reach + lay.hop, np.float32)])
    low = Resampler(lay.rate, lay.prate, 1).process(x[:, None], final=True)[:, 0]  # as the stream does
    low = np.concatenate([np.zeros(lay.ppad, np.float32), low, np.zeros(lay.preach + lay.hop, np.float32)])
    blocks = [_raw_features(padded, 0, low, 0, a, min(BLOCK_FRAMES, count - a), lay, cfg)
              for a in range(0, count, BLOCK_FRAMES)]
    return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}


class StreamingAnalyzer:
    """Stateful analyzer: feed chunks of any size, get frames as they complete.

    ``feed(chunk)`` returns the frames whose full context has arrived (they
    lag the input by ``CONTEXT_RIGHT`` frames plus a window); ``flush()``
    returns the rest at the end of the stream. The frames equal those of
    :func:`analyze_signal` on the concatenated input, with a chunk's ``unheard`` ranges as the
    whole signal's (the marks come with the samples they mark, before their frames are made).
    """

    def __init__(self, rate: int, cfg: AnalyzerConfig | None = None, emit_grid: int = EMIT_GRID) -> None:
        """``emit_grid``: frames come out in batches ending on multiples of this many frames
        (:data:`EMIT_GRID` by default). A leg whose frames serve only the cue windows can take the
        cue hop (100 frames for ``analysis.hop_s`` = 1 s): its cue reports come out no later, and
        small live chunks pay the batches' fixed cost half as often."""
        if emit_grid < 1:
            raise ValueError(f"emit_grid must be a positive number of frames, got {emit_grid}")
        self.cfg = cfg or AnalyzerConfig()
        _check_context(self.cfg.sound)
        self.rate = rate
        self._grid = int(emit_grid)
        self._lay = _Layout.make(rate, self.cfg)
        self._samples = np.zeros(self._lay.pad_left, np.float32)  # padded signal from _sample0
        self._sample0 = 0          # padded index of _samples[0]
        self._low = np.zeros(self._lay.ppad, np.float32)  # the same at 8 kHz, from _low0
        self._low0 = 0
        self._decimate = Resampler(rate, self._lay.prate, 1)  # exact across chunks
        self._n_input = 0          # real samples received
        self._unheard = np.zeros((0, 2), np.int64)  # input sample ranges marked not heard that frames to come hold
        self._silent_last = False  # the last raw frame is digital silence held through (see line_silence)
        self._sound_seen = False  # an input sample was no exact zero (see opening_zeros)
        self._n_raw = 0            # frames with raw features
        self._raw: dict[str, np.ndarray] = {}
        self._raw0 = 0             # frame index of the first buffered raw row
        self._res = np.zeros((0, 0), np.float32)  # cepstral residuals: only the rows CPPS still needs
        self._res_row0 = 0         # _res[0] is the cepstrum of frame _res_row0 * every
        self._n_emitted = 0
        self._flushed = False
        self._pending: list[np.ndarray] = []  # chunks not yet taken in (see feed)
        self._n_pending = 0
        self._scores: _Scores | None = None  # sound-class scores already final (see _contextual)
        self._network = _Network.load()  # the sound-class model as it is now, for this analyzer's life
        self._levels = LevelColumns(self.cfg.syllables, self.cfg.vad)  # intensity, floor, peak of the raw buffer
        self._nothing = Frames.empty()  # returned for every chunk that completes no frame (no rows to change)

    @property
    def frames_emitted(self) -> int:
        return self._n_emitted

    def frames_reached(self, samples: int) -> int:
        """Frames whose window and right reach (at the native rate) lie within the first
        ``samples`` input samples: a frame is emitted once ``CONTEXT_RIGHT`` more are reached
        and its batch's grid point is (see ``emit_grid``)."""
        lay = self._lay
        return max(0, (samples - lay.reach - lay.win // 2) // lay.hop + 1)

    def feed(self, chunk: np.ndarray, unheard: Sequence[tuple[int, int]] = ()) -> Frames:
        """Add samples (shape (n,), float) and return the frames now complete; ``unheard``: the
        ``(first, end)`` ranges of the chunk's samples the capture filled in (see
        :func:`analyze_signal`)."""
        if self._flushed:
            raise RuntimeError("analyzer already flushed")
        chunk = _check_signal(chunk)
        at = self._n_input + self._n_pending
        if len(unheard):
            self._unheard = np.concatenate([self._unheard, _spans(unheard, at)])
        if not self._sound_seen:  # the stream opens in zeros, or its first sample is this chunk's
            zeros = opening_zeros(chunk)
            self._sound_seen = zeros < len(chunk)
            if self._sound_seen:
                self._unheard = np.concatenate([self._unheard, _opening_end(at + zeros, at + len(chunk))])
        # nothing can be emitted before the samples of the next grid point's right context have
        # arrived: small live chunks wait here, and are taken in (joined, decimated) together; the
        # decimation is exact for any split of the stream, so the frames are the same
        self._n_pending += len(chunk)
        if self._n_input + self._n_pending < self._samples_needed:
            self._pending.append(chunk.copy())  # the caller may reuse its buffer
            return self._nothing
        self._pending.append(chunk)
        self._take_pending()
        return self._process()

    @property
    def _next_end(self) -> int:
        """The next grid point frames are emitted up to."""
        return (self._n_emitted // self._grid + 1) * self._grid

    @property
    def _samples_needed(self) -> int:
        """Input samples without which the frames up to :attr:`_next_end` cannot be emitted
        (their right context's last frame must fit at the native rate)."""
        lay = self._lay
        return (self._next_end + CONTEXT_RIGHT - 1) * lay.hop + lay.reach + lay.win // 2

    def _take_pending(self) -> None:
        """Append the pending chunks to the sample buffers (and their 8 kHz version)."""
        if not self._pending:
            return
        chunk = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending, self._n_pending = [], 0
        self._samples = np.concatenate([self._samples, chunk])
        self._low = np.concatenate([self._low, self._decimate.process(chunk[:, None])[:, 0]])
        self._n_input += len(chunk)

    def _process(self) -> Frames:
        """Raw features of the frames the buffered samples complete, and the frames now final."""
        lay = self._lay
        # frames whose right reach is available at both rates
        avail = self.frames_reached(self._sample0 + len(self._samples) - lay.pad_left)
        low_end = self._low0 + len(self._low)
        phop = lay.hop // lay.pdec
        avail = min(avail, max(0, (low_end - lay.preach - (lay.win // 2) // lay.pdec - lay.ppad) // phop + 1))
        avail = min(avail, n_frames(self._n_input, lay.win, lay.hop))
        if avail >= self._next_end + CONTEXT_RIGHT:  # raw features only when a batch can go out
            self._compute_raw(avail)
        return self._emit(final=False)

    def flush(self) -> Frames:
        """End of stream: return every remaining frame."""
        if self._flushed:
            return Frames.empty()
        self._flushed = True
        self._take_pending()
        lay = self._lay
        self._samples = np.concatenate([self._samples, np.zeros(lay.reach + lay.hop, np.float32)])
        tail = self._decimate.process(np.zeros((0, 1), np.float32), final=True)[:, 0]
        self._low = np.concatenate([self._low, tail, np.zeros(lay.preach + lay.hop, np.float32)])
        self._compute_raw(n_frames(self._n_input, lay.win, lay.hop))
        return self._emit(final=True)

    def _compute_raw(self, upto: int) -> None:
        lay = self._lay
        while self._n_raw < upto:
            count = min(BLOCK_FRAMES, upto - self._n_raw)
            new = _raw_features(self._samples, self._sample0, self._low, self._low0, self._n_raw, count, lay,
                                self.cfg)
            res = new.pop("residual")
            new["unheard"] = (frames_touching(self._unheard, self._n_raw, count, lay.win, lay.hop)
                              | self._line_silence(new["energy_db"]))
            self._res = res if not len(self._res) else np.concatenate([self._res, res])
            self._raw = new if not self._raw else {k: np.concatenate([self._raw[k], new[k]]) for k in new}
            self._n_raw += count
        # drop the marks no future frame holds, and samples no future frame needs
        self._unheard = self._unheard[self._unheard[:, 1] > self._n_raw * lay.hop]
        keep_from = lay.centre(self._n_raw) - (lay.pad_left + lay.win // 2) - self._sample0
        if keep_from > 0:
            self._samples = self._samples[keep_from:]
            self._sample0 += keep_from
        keep_low = lay.pcentre(self._n_raw) - (lay.ppad - 1) - self._low0  # the longer window's left half
        if keep_low > 0:
            self._low = self._low[keep_low:]
            self._low0 += keep_low

    def _line_silence(self, energy: np.ndarray) -> np.ndarray:
        """:func:`line_silence` of the new frames' ``energy`` (shape (count,)), read after the
        buffered frames' (the run open at their start decided by its mark). Shape -> (count,), bool."""
        before = self._raw.get("energy_db", energy[:0])[-(self.cfg.vad.line_noise_frames + EDGE_FRAMES):]
        marks = line_silence(np.concatenate([before, energy]), self.cfg.vad, len(before), self._silent_last)
        if len(marks):
            self._silent_last = bool(marks[-1])
        return marks

    def _emit(self, final: bool) -> Frames:
        end = self._n_raw if final else (self._n_raw - CONTEXT_RIGHT) // self._grid * self._grid
        if end <= self._n_emitted:
            return self._nothing
        lo = self._raw0
        levels = self._levels.update(self._raw["energy_db"], self._raw["unheard"], final)
        out, self._scores = _contextual({**self._raw, "residual": self._res}, lo, self._lay, self.cfg, self._network,
                                        self._n_emitted - lo, end - lo, res_row0=self._res_row0,
                                        known=self._scores, levels=levels)
        self._n_emitted = end
        # CPPS of the next frames reaches back this far
        drop = max(0, (end - 2 * self._lay.every - 1) // self._lay.every - self._res_row0)
        if drop:
            self._res = self._res[drop:]
            self._res_row0 += drop
        cut = max(0, end - CONTEXT_LEFT - lo)
        if cut:
            self._raw = {k: v[cut:] for k, v in self._raw.items()}
            self._levels.cut(cut)
            self._raw0 += cut
        return out

    def iter_chunks(self, chunks: Iterator[np.ndarray]) -> Iterator[Frames]:
        """Feed every chunk (samples, shape (n,)), then flush; yield non-empty frame batches."""
        for chunk in chunks:
            out = self.feed(chunk)
            if len(out):
                yield out
        out = self.flush()
        if len(out):
            yield out
