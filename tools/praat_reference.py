"""Praat reference measures (through parselmouth) that the analyzer is tested against.

Every function takes either a path (WAV/FLAC/OGG, read with soundfile, channels
averaged) or a ``(samples, rate)`` pair, or a ready ``parselmouth.Sound``.

- ``praat_syllables``: de Jong & Wempe's "Praat Script Syllable Nuclei", ported
  command for command: version 3 (de Jong, Wempe & Pacilly 2019/2021, parser
  "dip-peak-dip", the default) or version 2 (2010 revision by Quene, Persoon & de
  Jong, peak followed by a dip), with the published defaults: silence threshold
  -25 dB, minimum dip 2 dB, minimum pause 0.3 s.
- ``praat_hnr_mean``: ``To Harmonicity (cc)`` with Praat's defaults, mean over
  voiced frames (frames at -200 dB are unvoiced).
- ``praat_cpps``: ``To PowerCepstrogram`` 60 Hz, 0.01 s, 5 kHz, 50 Hz, then
  ``Get CPPS`` (subtract tilt before smoothing, 0.02 s, 0.0005 s, 60-330 Hz,
  0.05, parabolic, tilt line 0.001-0.05 s, exponential decay, Robust).
- ``praat_f0_median``: ``To Pitch (ac)`` with Praat's defaults, median of voiced frames.
- ``telephone_band``: sox ``sinc 300-3400`` then ``rate 8000`` (8 kHz telephone band).

The argument order of Praat commands is the one of Praat 6.1.38 (parselmouth 0.4.7).
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import parselmouth
import soundfile as sf
from parselmouth.praat import call

# de Jong & Wempe's published defaults
SILENCE_DB = -25.0
MIN_DIP_DB = 2.0
MIN_PAUSE_S = 0.3


def to_sound(audio, rate: float | None = None) -> parselmouth.Sound:
    """A parselmouth.Sound from a path, a (samples, rate) pair, samples + rate, or a Sound."""
    if isinstance(audio, parselmouth.Sound):
        return audio
    if isinstance(audio, tuple):
        audio, rate = audio
    if isinstance(audio, (str, Path)):
        data, rate = sf.read(str(audio), dtype="float64", always_2d=True)
        samples = data.mean(axis=1)
    else:
        if rate is None:
            raise ValueError("samples need a sample rate")
        samples = np.asarray(audio, dtype=np.float64)
        if samples.ndim == 2:  # (frames, channels)
            samples = samples.mean(axis=1)
    return parselmouth.Sound(samples, sampling_frequency=float(rate))


@dataclass
class SyllableNuclei:
    """Result of de Jong & Wempe's script (the numbers of its Info-window line)."""
    syllables: int                 # voicedcount: number of syllable nuclei
    duration_s: float              # dur
    speaking_s: float              # speakingtot: total of the sounding intervals
    pauses: int                    # npause = number of sounding intervals - 1
    nuclei_s: list = field(default_factory=list)    # times of the nuclei
    sounding: list = field(default_factory=list)    # (start, end) of sounding intervals

    @property
    def speech_rate(self) -> float:
        return self.syllables / self.duration_s

    @property
    def articulation_rate(self) -> float:
        return self.syllables / self.speaking_s if self.speaking_s > 0 else float("nan")


def _threshold(intensity, silence_db: float):
    db_min = call(intensity, "Get minimum", 0, 0, "Parabolic")
    db_max = call(intensity, "Get maximum", 0, 0, "Parabolic")
    db_q99 = call(intensity, "Get quantile", 0, 0, 0.99)
    threshold = db_q99 + silence_db          # peaks must be above this
    threshold3 = silence_db - (db_max - db_q99)  # relative threshold for silences
    if threshold < db_min:
        threshold = db_min
    return threshold, threshold3


def _silences(intensity, threshold3: float, min_pause: float):
    tg = call(intensity, "To TextGrid (silences)", threshold3, min_pause, 0.1,
              "silent", "sounding")
    sounding = []
    for i in range(1, call(tg, "Get number of intervals", 1) + 1):
        if call(tg, "Get label of interval", 1, i) == "sounding":
            sounding.append((call(tg, "Get start time of interval", 1, i),
                             call(tg, "Get end time of interval", 1, i)))
    return tg, sounding


def _in_sounding(t: float, sounding) -> bool:
    # TextGrid "Get interval at time": an interval is [start, end), the last one closed
    return any(s <= t < e for s, e in sounding) or (sounding and t == sounding[-1][1])


def praat_syllables(audio, rate: float | None = None, *, silence_db: float = SILENCE_DB,
                    min_dip: float = MIN_DIP_DB, min_pause: float = MIN_PAUSE_S,
                    version: int = 3) -> SyllableNuclei:
    """Syllable nuclei, speaking time and pauses by de Jong & Wempe's Praat script."""
    snd = to_sound(audio, rate)
    dur = snd.get_total_duration()
    intensity = call(snd, "To Intensity", 50, 0, "yes")
    threshold, threshold3 = _threshold(intensity, silence_db)
    _, sounding = _silences(intensity, threshold3, min_pause)
    speaking = float(sum(e - s for s, e in sounding))
    if version == 3:
        nuclei = _nuclei_v3(snd, intensity, threshold, min_dip, sounding)
    elif version == 2:
        nuclei = _nuclei_v2(snd, intensity, threshold, min_dip, sounding)
    else:
        raise ValueError("version is 2 or 3")
    return SyllableNuclei(len(nuclei), dur, speaking, max(len(sounding) - 1, 0),
                          nuclei, sounding)


def _voicing_pitch(snd, pitch_floor=30.0, voicing_threshold=0.25):
    # To Pitch (ac): time step, floor, max candidates, very accurate, silence thr,
    # voicing thr, octave cost, octave-jump cost, voiced/unvoiced cost, ceiling
    return call(snd, "To Pitch (ac)", 0.02, pitch_floor, 4, "no", 0.03,
                voicing_threshold, 0.01, 0.35, 0.25, 450)


def _nuclei_v3(snd, intensity, threshold, min_dip, sounding):
    """Version 3 (2019/2021), parser "dip-peak-dip": the highest voiced peak above
    the threshold that has a dip > min_dip on both sides, in a sounding interval."""
    peaks = call(intensity, "To IntensityTier (peaks)")
    pitch = _voicing_pitch(snd)
    t, db = {}, {}
    n = 0
    for k in range(1, call(peaks, "Get number of points") + 1):
        time = call(peaks, "Get time from index", k)
        value = call(peaks, "Get value at index", k)
        f0 = call(pitch, "Get value at time", time, "Hertz", "Linear")
        if value > threshold and not np.isnan(f0):
            n += 1
            t[2 * n], db[2 * n] = time, value       # peaks at even indices
    t[0] = snd.xmin
    t[2 * (n + 1)] = snd.xmax
    for valley in range(1, n + 2):                  # minima at odd indices
        a, b = t[2 * (valley - 1)], t[2 * valley]
        t[2 * valley - 1] = call(intensity, "Get time of minimum", a, b, "Parabolic")
        db[2 * valley - 1] = call(intensity, "Get minimum", a, b, "Parabolic")

    nuclei = []
    t_rise = t_fall = t_max = t[0]
    db_max = db_min = db[1]
    for point in range(1, 2 * n + 2):
        if db[point] > db_max:
            t_max, db_max = t[point], db[point]
            if db[point] - db_min > min_dip:
                t_rise, db_min = t[point], db[point]
        elif db[point] < db_min:
            db_min = db[point]
            if db_max - db[point] > min_dip:
                t_fall, db_max = t[point], db[point]
        if t_rise != t[0] and t_rise < t_fall and t_fall != t[0]:
            if _in_sounding(t_max, sounding):
                nuclei.append(t_max)
                t_max = t[point]
                db_min = db_max = db[point]
                t_rise = t_fall = t[0]
    return nuclei


def _nuclei_v2(snd, intensity, threshold, min_dip, sounding):
    """Version 2 (2010 revision): peaks of the intensity contour above the threshold
    followed by a dip > min_dip before the next peak, voiced and in a sounding interval."""
    matrix = call(intensity, "Down to Matrix")
    snd_int = call(matrix, "To Sound (slice)", 1)
    pp = call(snd_int, "To PointProcess (extrema)", 1, "yes", "no", "Sinc70")
    times, values = [], []
    for i in range(1, call(pp, "Get number of points") + 1):
        ti = call(pp, "Get time from index", i)
        v = call(snd_int, "Get value at time", 1, ti, "Cubic")
        if v > threshold:
            times.append(ti)
            values.append(v)
    valid = []
    if times:
        current_t, current_int = times[0], values[0]
        for p in range(len(times) - 1):
            following = times[p + 1]
            dip = call(intensity, "Get minimum", current_t, following, "None")
            if abs(current_int - dip) > min_dip:
                valid.append(times[p])
            current_t = following
            current_int = call(intensity, "Get value at time", following, "Cubic")
    pitch = _voicing_pitch(snd)
    nuclei = []
    for q in valid:
        f0 = call(pitch, "Get value at time", q, "Hertz", "Linear")
        if not np.isnan(f0) and _in_sounding(q, sounding):
            nuclei.append(q)
    return nuclei


def praat_hnr_mean(audio, rate: float | None = None) -> float:
    """Mean HNR (dB) of voiced frames of To Harmonicity (cc) with Praat's defaults
    (0.01 s, 75 Hz, 0.1, 1.0 periods per window); nan if nothing is voiced."""
    hnr = to_sound(audio, rate).to_harmonicity_cc()
    v = hnr.values[0]
    v = v[v != -200]
    return float(v.mean()) if v.size else float("nan")


def praat_cpps(audio, rate: float | None = None, fit: str = "Robust") -> float:
    """Smoothed cepstral peak prominence (dB) over the whole sound (Praat's Get CPPS)."""
    pc = call(to_sound(audio, rate), "To PowerCepstrogram", 60, 0.01, 5000, 50)
    # Get CPPS: subtract tilt before smoothing, time averaging window, quefrency
    # averaging window, peak search pitch range (2), tolerance, interpolation,
    # tilt line quefrency range (2), line type, fit method
    return float(call(pc, "Get CPPS", "yes", 0.02, 0.0005, 60, 330, 0.05, "Parabolic",
                      0.001, 0.05, "Exponential decay", fit))


def praat_f0_median(audio, rate: float | None = None) -> float:
    """Median F0 (Hz) of voiced frames of To Pitch (ac) with Praat's defaults."""
    f0 = to_sound(audio, rate).to_pitch().selected_array["frequency"]
    f0 = f0[f0 > 0]
    return float(np.median(f0)) if f0.size else float("nan")


def telephone_band(audio, rate: float | None = None) -> tuple[np.ndarray, int]:
    """8 kHz telephone-band version: sox ``sinc 300-3400 rate 8000`` (float32 samples)."""
    if isinstance(audio, tuple):
        audio, rate = audio
    if shutil.which("sox") is None:
        raise RuntimeError("sox is not installed (apt-get install sox)")
    if isinstance(audio, (str, Path)):
        src = ["sox", str(audio)]
    else:
        x = np.asarray(audio, dtype=np.float32)
        src = ["sox", "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1",
               "-r", str(int(rate)), "-"]
    cmd = src + ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-",
                 "sinc", "300-3400", "rate", "8000"]
    inp = None if isinstance(audio, (str, Path)) else x.tobytes()
    out = subprocess.run(cmd, input=inp, capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.float32).copy(), 8000


def praat_all(audio, rate: float | None = None) -> dict:
    """All reference measures of one sound, as a flat dict."""
    snd = to_sound(audio, rate)
    syl = praat_syllables(snd)
    return {
        "syllables": syl.syllables, "speaking_s": round(syl.speaking_s, 4),
        "pauses": syl.pauses, "syllables_v2": praat_syllables(snd, version=2).syllables,
        "hnr_db": round(praat_hnr_mean(snd), 4), "cpps_db": round(praat_cpps(snd), 4),
        "f0_median_hz": round(praat_f0_median(snd), 3),
    }
