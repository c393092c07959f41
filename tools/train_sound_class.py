"""Train the per-frame sound-class model and print its figures.

Data: the breathing, cough and sustained-vowel recordings in ``audio_fixtures/breathing/``
(Coswara, 32 speakers) or, with ``--shared``, all 128 recordings of the shared data folder
beside the checkout (its ``breathing/`` folder), and the real speech of ``audio_fixtures/real/``.
Each recording is analysed at 16 kHz and as an 8 kHz telephone-band version (300-3400 Hz);
espeak-ng speech (breathy and labored voices too) is speech, and synthetic noise breaths
(:func:`noise_breath`) join the real ones in the mixtures, some on a noisy line (white noise
12-30 dB under the speech; ``--line-noises`` and ``--noisy-snr`` put the evaluation corpus's
line noises there instead, by its generators: measured, not taken);
its audible frames are labelled by what the recording is (breathing: breath, cough: cough,
vowel and speech: speech). Mixtures add real breaths (cut out of the breathing recordings by
their energy) into silences between real utterances, 10-25 dB below the speech.

Speakers s01-s16 and the even-numbered speech files train; speakers s17-s32 and the
odd-numbered speech files are held out, and every figure printed is on them (and on renderings
of espeak-ng's weak voices, labored and breathy, with inhalations, which never train; and of
held-out breaths and speech over each line noise, 5-20 dB under the speech);
``--figures-on train`` prints the same figures for the training side, where decisions are tuned.
The model is a network with one tanh hidden layer of 16 units and a softmax output, fitted by L-BFGS
(class-balanced, L2), with a fixed seed for every random
choice; ``--write`` stores its numbers in ``monitor/dsp/sound_class_model.py``. ``--restarts K``
fits K networks from K starting points (``--seed S``: seeds S, S + 1, ...) and stores their mean as
one network of K * 16 hidden units (the mean of their scores; one matrix product as before).

The shipped model is what ``--write --edge-highpass 20x2`` writes: the committed subset, through
the high-pass the edge had when it was trained (two first-order sections at 20 Hz, where the
edge now has one at 10 Hz); the model file's header names the command, and ``--check`` in place
of ``--write`` retrains and fails unless the committed file is byte for byte what it writes.
``--weak-noisy-share`` adds the training weak voices over the evaluation corpus's line noises
(8-20 dB under), their features from the noisy signal and their labels from the clean one (voiced:
speech; anything else, the line alone included, trains nothing; with ``--weak-noisy-unvoiced``
every frame audible in the clean one is speech; measured, not taken).
``--shared`` takes the shared data folder beside the checkout. ``--speech-breaths-out``,
``--breath-from-energy`` and ``--onset-weight`` change the training labels (:class:`Labels`,
:func:`speech_breaths`; measured, not taken).

    .venv/bin/python -m tools.train_sound_class --write --edge-highpass 20x2
    .venv/bin/python -m tools.train_sound_class --check --edge-highpass 20x2
    .venv/bin/python -m tools.train_sound_class --shared <the shared data folder> --mixes 150   # figures
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the fit's small products: threads only cost
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _haswell_kernels() -> None:
    """Fit in OpenBLAS's Haswell kernels, the ones the model was written with (an AVX-512 machine's
    own kernels round the products otherwise, and L-BFGS ends elsewhere): only where the processor
    has AVX2 (else those kernels would not run) and numpy is not loaded yet (imported by another
    program, the tool leaves the kernels, and the environment its subprocesses inherit, alone)."""
    if "numpy" in sys.modules:
        return
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            avx2 = " avx2" in info.read()
    except OSError:
        return
    if avx2:
        os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")


_haswell_kernels()

import argparse  # noqa: E402
import csv  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.signal import firwin, resample_poly  # noqa: E402

from monitor.analysis.analyzer import (WITH_SOUND_CLASS, WITHOUT_SOUND_CLASS, AnalyzerConfig,  # noqa: E402
                                       analyze_signal, class_inputs)
from monitor.capture.audio_files import AnalysisStream, Highpass  # noqa: E402
from monitor.dsp.energy import frame_energy_db, smooth_db  # noqa: E402
from monitor.dsp.framing import frame_signal  # noqa: E402
from monitor.dsp.runs import bridged_runs, runs  # noqa: E402
from monitor.dsp.sound_class import BREATH, COUGH, FEATURES, SPEECH  # noqa: E402
from tools.make_fixtures import TURN_RMS  # noqa: E402  (the weak voices' turns speak at the fixture calls' level)
from tools.options import number_above, share, whole_number  # noqa: E402

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
BREATHING = ROOT / "audio_fixtures" / "breathing"
REAL = ROOT / "audio_fixtures" / "real"
ESPEAK = ROOT / "audio_fixtures" / "generated" / "speech"
CALLS = ROOT / "audio_fixtures" / "calls"
MODEL = ROOT / "monitor" / "dsp" / "sound_class_model.py"
SEED = 11
TRAIN_SPEAKERS = frozenset(f"s{i:02d}" for i in range(1, 17))
LABEL = {"breathing-deep": BREATH, "breathing-shallow": BREATH, "cough-heavy": COUGH, "vowel-a": SPEECH}
MAX_FRAMES = 1500  # frames per recording and band in the training set
ONSET_TOL_S = 0.1
HIDDEN = 16
DEFAULT_MIXES = 60
WEAK_SEED = 5  # the weak voices' renderings (pauses, inhalations, noise) draw from their own seed
WEAK_TEXTS = (
    "I was carrying the shopping up the stairs when it started. Now I keep stopping every few steps and "
    "my legs feel like lead. The neighbour said I should ring you, so here I am, sorry to bother you.",
    "It began this morning after breakfast. I sat down in the kitchen and waited but it is no better. "
    "My husband is at work and the car is with him, I do not know what to do.")
WEAK_VOICES = (("en-us", "cmlabored", 45), ("en", "cmlaboredf", 62), ("en-gb-scotland", "ev_m3_labored", 40),
               ("en-us-nyc", "ev_f2_labored", 66), ("en-gb-x-rp", "ev_m5_labored", 35),
               ("en-029", "ev_f4_labored", 58), ("en-us", "cmbreathy", 45), ("en-gb-x-rp", "ev_f3_breathy", 60),
               ("en", "ev_m1_breathy", 38))
"""espeak-ng's weak voices (accent, the project's labored or breathy variant or one the evaluation
corpus derives, pitch), at amplitude 40, as the fixture calls and the evaluation corpus make their
callers; their texts are none the fixture calls read."""
WEAK_TRAIN_TEXTS = (
    "We went to the seaside last summer and the weather was lovely the whole week. "
    "The children built castles in the sand and we ate fish and chips on the pier.",
    "My appointment is on Thursday at ten, but I am not sure I can get there on my own. "
    "Could somebody from the surgery call me back about the transport please.")
WEAK_TRAIN_VOICES = (("en-us", "cmlabored", 50), ("en", "cmlaboredf", 60), ("en-gb-x-gbclan", "ev_m1_labored", 45),
                     ("en-us", "ev_m2_labored", 32), ("en-gb-scotland", "ev_f1_labored", 55),
                     ("en-us-nyc", "ev_f5_labored", 70), ("en-029", "ev_m4_breathy", 42), ("en", "cmbreathyf", 64),
                     ("en-gb-x-gbcwmd", "ev_f1_breathy", 58))
"""The weak voices that train (with ``--weak-share`` above 0): other texts, and derived variants
other than the measured ones (they share the project's own cmlabored and cmlaboredf, in other
accents or pitches)."""


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str     # breathing-deep, breathing-shallow, cough-heavy, vowel-a or speech
    train: bool
    x: np.ndarray  # 16 kHz mono float32
    inner: tuple[tuple[float, float], ...] = ()  # breath-like sounds left out of training (seconds)


@dataclass(frozen=True)
class Edge:
    """The high-pass the recordings pass at the edge: ``sections`` first-order sections at
    ``hz`` in series. ``None`` in its place is the product's edge (``HIGHPASS_HZ``, one section)."""

    hz: float
    sections: int


def parse_edge(text: str) -> Edge:
    """``"20x2"`` -> ``Edge(20.0, 2)``."""
    hz, _, n = text.partition("x")
    try:
        edge = Edge(float(hz), int(n or 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not HZxSECTIONS (e.g. 20x2)") from None
    if not (0 < edge.hz < 4000 and 1 <= edge.sections <= 4):
        raise argparse.ArgumentTypeError(f"{text!r}: a cut-off in 0-4000 Hz and 1-4 sections")
    return edge


def parse_noises(text: str) -> tuple[str, ...]:
    """``"white,pink"`` -> ``("white", "pink")``, each one of :data:`LINE_NOISES`."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in LINE_NOISES]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"{text!r}: not line noises (of {', '.join(LINE_NOISES)})")
    return kinds


def parse_range(text: str) -> tuple[float, float]:
    """``"5,30"`` -> ``(5.0, 30.0)`` (dB, low to high)."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not LO,HI (e.g. 5,30)") from None
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise argparse.ArgumentTypeError(f"{text!r}: not finite")
    if not lo <= hi:
        raise argparse.ArgumentTypeError(f"{text!r}: LO above HI")
    return lo, hi


def parse_share(text: str) -> float:
    """``"0.5"`` -> 0.5: a finite share, 0 or more (0: no noisy lines)."""
    try:
        share = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
    if not 0.0 <= share < np.inf:
        raise argparse.ArgumentTypeError(f"{text!r}: not a finite share, 0 or more")
    return share


def load(path: Path, edge: Edge | None = None) -> np.ndarray:
    """A recording as the product reads it, at 16 kHz (8 kHz files are upsampled); with ``edge``,
    through that high-pass in place of the product's."""
    stream = AnalysisStream(path, [0])
    if edge is not None:  # the conditioner's other steps stay; only its filter is another
        stream.edge.highpass = EdgeFilter(edge, stream.info.rate, 1)
    x = np.concatenate(list(stream))[:, 0]
    return x if stream.rate == 16000 else resample_poly(x, 2, 1).astype(np.float32)


class EdgeFilter:
    """An :class:`Edge`'s sections in series, streaming (each carries its state from block to
    block), in place of the conditioner's ``Highpass``. Shape (n, channels) -> float64."""

    def __init__(self, edge: Edge, rate: int, channels: int) -> None:
        self.sections = [Highpass(rate, channels, edge.hz) for _ in range(edge.sections)]

    def process(self, x: np.ndarray) -> np.ndarray:
        for section in self.sections:
            x = section.process(x)
        return x


def telephone(x: np.ndarray) -> np.ndarray:
    """16 kHz -> 8 kHz telephone band (300-3400 Hz). Shape (n,) -> (n // 2,)."""
    taps = firwin(255, [300.0, 3400.0], pass_zero=False, fs=16000)
    y = np.convolve(x, taps, mode="same")
    return resample_poly(y, 1, 2).astype(np.float32)


def breathing_clips(folder: Path, edge: Edge | None = None) -> list[Clip]:
    rows = list(csv.DictReader((folder / "manifest.csv").open()))
    return [Clip(r["file"], r["kind"], r["speaker"] in TRAIN_SPEAKERS, load(folder / r["file"], edge)) for r in rows]


def speech_clips(edge: Edge | None = None) -> list[Clip]:
    rows = list(csv.DictReader((REAL / "manifest.csv").open()))
    return [Clip(r["path"], "speech", i % 2 == 0, load(REAL / r["path"], edge)) for i, r in enumerate(rows)]


def espeak_clips(edge: Edge | None = None) -> list[Clip]:
    """The synthetic (espeak-ng) speech that ``make fixtures`` generates, breathy and labored
    voices included (for training only: breathy speech is speech, not breath)."""
    return [Clip(p.name, "speech", True, load(p, edge)) for p in sorted(ESPEAK.glob("*.wav"))]


@dataclass(frozen=True)
class Rendering:
    """A weak voice's turn: 16 kHz audio, its phrases and inhalations (seconds)."""

    variant: str
    x: np.ndarray
    phrases: tuple[tuple[float, float], ...]
    inhalations: tuple[tuple[float, float], ...]


def weak_turns(voices: tuple[tuple[str, str, int], ...], texts: tuple[str, ...], inhale: bool, seed: int
               ) -> list[tuple[str, object]]:
    """Every text in every voice, delivered as the fixture calls deliver a labored (severity 0.9)
    or breathy (0.5) caller: short phrases, long pauses, audible inhalations in some pauses
    (``inhale``). Returns (variant, ``make_fixtures.Rendered``) pairs, 16 kHz."""
    import tempfile
    from dataclasses import replace

    from tools.eval_corpus import prepare_espeak
    from tools.make_fixtures import Espeak, Turn, Voice, deteriorated, render_turn

    rng = np.random.default_rng(seed)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        espeak = Espeak(prepare_espeak(Path(tmp)), Path(tmp), 2)
        for accent, variant, pitch in voices:
            delivery = deteriorated(0.9 if "labored" in variant else 0.5, breathy=variant, labored=variant)
            delivery = delivery if inhale else replace(delivery, inhale_p=0.0)
            out += [(variant, render_turn(espeak, Voice(accent, None, pitch, 40), Turn("caller", text, delivery),
                                          rng, max_lead_s=1.0)) for text in texts]
    return out


def weak_voices() -> list[Rendering]:
    """The measured weak voices (:data:`WEAK_VOICES` reading :data:`WEAK_TEXTS`, with inhalations,
    seed :data:`WEAK_SEED`), each turn with half a second of silence each side and white noise
    50 dB under the speech's level."""
    rng = np.random.default_rng(WEAK_SEED)
    out = []
    for variant, r in weak_turns(WEAK_VOICES, WEAK_TEXTS, True, WEAK_SEED):
        x = np.concatenate([np.zeros(8000), r.audio, np.zeros(8000)])
        x += 10 ** (-50 / 20) * TURN_RMS * rng.standard_normal(len(x))
        out.append(Rendering(variant, x.astype(np.float32), tuple((a + 0.5, b + 0.5) for a, b, _ in r.phrases),
                             tuple((a + 0.5, b + 0.5) for a, b in r.inhalations)))
    return out


def weak_speech_clips() -> list[Clip]:
    """The phrases of :data:`WEAK_TRAIN_VOICES` reading :data:`WEAK_TRAIN_TEXTS` (no inhalations,
    seed :data:`SEED`), one clip each at the turns' speech level, for training."""
    clips = []
    for variant, r in weak_turns(WEAK_TRAIN_VOICES, WEAK_TRAIN_TEXTS, False, SEED):
        for a, b, _ in r.phrases:
            seg = r.audio[int(a * 16000): int(b * 16000)]
            clips.append(Clip(f"{variant}@{a:.2f}", "speech", True,
                              (seg / np.sqrt(np.mean(seg ** 2)) * TURN_RMS).astype(np.float32)))
    return clips


def weak_frames(clips: list[Clip], share: float, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of a random ``share`` of the weak voices' *voiced* frames (the pitch tracker's
    voicing, class off), both bands, all labelled speech: a weak voice's periodic frames are
    speech; its unvoiced, noisy ones are left out (they look like breath, and train nothing).
    Returns features, labels and each row's band (:data:`BANDS`)."""
    return voiced_rows([(c.x, c.x) for c in clips], share, rng)


WEAK_NOISES = ("white", "pink", "hum50", "hum60", "babble")  # the evaluation corpus's line noises
WEAK_NOISY_SNR_DB = (8.0, 20.0)  # dB under the weak voice's phrase


def weak_noisy_frames(clips: list[Clip], share: float, talk: list[np.ndarray], rng: np.random.Generator,
                      unvoiced: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`weak_frames` over a line: each phrase with half a second of silence each side, under
    one of :data:`WEAK_NOISES` (at random, :data:`WEAK_NOISY_SNR_DB` under the phrase; babble from
    ``talk``, 16 kHz speech). The features are the noisy signal's, the labels the *clean*
    rendering's: its voiced frames are speech, every other frame (its unvoiced ones, and its
    silences, where the line alone is heard) trains nothing, so noise alone is never taught as
    speech; with ``unvoiced``, every frame audible in the clean rendering is speech (its whispered
    and unvoiced sounds too), its silences still nothing. Returns features, labels and each row's
    band (:data:`BANDS`)."""
    pairs = []
    for c in clips:
        clean = np.concatenate([np.zeros(8000, np.float32), c.x, np.zeros(8000, np.float32)])
        kind = WEAK_NOISES[rng.integers(len(WEAK_NOISES))]
        gain = np.sqrt(np.mean(np.square(c.x))) * 10 ** (-rng.uniform(*WEAK_NOISY_SNR_DB) / 20)
        pairs.append((clean, clean + (gain * line_noise(kind, len(clean), rng, talk)).astype(np.float32)))
    return voiced_rows(pairs, share, rng, unvoiced)


def voiced_rows(pairs: list[tuple[np.ndarray, np.ndarray]], share: float, rng: np.random.Generator,
                unvoiced: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (clean, heard) pair of 16 kHz signals of one length, both bands: the heard signal's
    features of a random ``share`` of the frames that are audible in it and voiced in the clean
    one (class off; with ``unvoiced``, audible in the clean one), labelled speech. Returns
    features, labels and each row's band."""
    xs, ys, bs = [np.zeros((0, len(FEATURES)), np.float32)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for clean, heard_x in pairs:
        bands = ((clean, heard_x, 16000), (telephone(clean), telephone(heard_x), 8000))
        for band, (ref, sig, rate) in enumerate(bands):
            feats, heard = class_inputs(sig, rate)
            voiced = (_fitted(class_inputs(ref, rate)[1], len(heard)) if unvoiced
                      else _fitted(analyze_signal(ref, rate, WITHOUT_SOUND_CLASS).voiced, len(heard)))
            keep = heard & voiced & (rng.random(len(heard)) < share)
            xs.append(feats[keep])
            ys.append(np.full(int(keep.sum()), SPEECH, np.int64))
            bs.append(np.full(int(keep.sum()), band, np.int64))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(bs)


def noise_breath(rng: np.random.Generator, duration: float) -> np.ndarray:
    """A synthetic breath: noise through a random band (lower edge 150-700 Hz, upper
    1.8-6 kHz), swelling and fading over a random envelope. Shape (duration * 16000,)."""
    n = int(duration * 16000)
    lo, hi = rng.uniform(150, 700), rng.uniform(1800, 6000)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / 16000)
    tilt = (f / 1000 + 0.1) ** rng.uniform(-0.5, 0.5)
    x = np.fft.irfft(spec * ((f >= lo) & (f <= hi)) * tilt, n)
    peak, t = rng.uniform(0.3, 0.8), np.arange(n) / n
    env = np.where(t < peak, np.sin(0.5 * np.pi * t / peak), np.cos(0.5 * np.pi * (t - peak) / (1 - peak)))
    x = x * env ** rng.uniform(0.5, 2.0)
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def energy_events(x: np.ndarray, rate: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """Sound events by energy alone (the reference for breath onsets), in 10 ms frames.

    The level (25 ms windows, 50 ms power smoothing) above 35 % of the way from its 10th
    to its 95th percentile, gaps under 150 ms bridged, events under 200 ms dropped.
    """
    e = smooth_db(frame_energy_db(frame_signal(x, rate // 40, rate // 100)), 5)
    lo, hi = np.percentile(e, [10, 95])
    mask = bridged_runs(e > lo + 0.35 * (hi - lo), 15, 20)
    return runs(mask)


def labelled(x: np.ndarray, rate: int, label: int | np.ndarray, weight: float | np.ndarray = 1.0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and weights of the audible frames (labels and weights per frame, in
    frames of the 16 kHz signal, or one for all; 0 labels are left out)."""
    feats, active = class_inputs(x, rate)
    y = _fitted(label, len(active)) if np.ndim(label) else np.full(len(active), label, np.int64)
    w = _fitted(weight, len(active)) if np.ndim(weight) else np.full(len(active), weight)
    keep = active & (y > 0)
    return feats[keep], y[keep], w[keep]


LINE_NOISES = ("white", "pink", "brown", "hum50", "hum60", "babble")
"""The noises of the training's noisy lines: those the evaluation corpus puts on its calls' lines
(white, pink, mains hum at 50 or 60 Hz, babble) and brown (the fixture calls' lines carry pink
and brown)."""
HELD_OUT_NOISES = {"pink": ("pink",), "hum": ("hum50", "hum60"), "babble": ("babble",), "white": ("white",)}
"""The held-out figures' line noises, each from one or more kinds of :data:`LINE_NOISES`."""
NOISY_NOISES = ("white",)  # the training's noisy lines: their noises (the shipped model's)
NOISY_SNR_DB = (12.0, 30.0)  # and their level, dB under the speech
NOISY_SEED = 23  # the held-out noisy lines draw from their own seed (the other figures stay as they were)


def line_noise(kind: str, n: int, rng: np.random.Generator, talk: list[np.ndarray]) -> np.ndarray:
    """A line's noise, by the generators that make the fixture calls and the evaluation corpus:
    ``kind`` one of :data:`LINE_NOISES`; babble is six talkers of ``talk`` (16 kHz speech).
    Shape (n,), unit RMS (white: standard normal)."""
    from tools.eval_corpus import talker_mix
    from tools.make_fixtures import colored_noise, hum

    if kind == "white":
        return rng.standard_normal(n)
    if kind in ("pink", "brown"):
        return colored_noise(rng, n, 1.0 if kind == "pink" else 2.0)
    if kind.startswith("hum"):
        return hum(n, float(kind[3:]))
    if kind == "babble":
        return talker_mix(rng, n, talk)
    raise ValueError(f"{kind!r}: not a line noise ({', '.join(LINE_NOISES)})")


def mix(speech: list[Clip], breaths: list[np.ndarray], rng: np.random.Generator, count: int,
        gap_s: tuple[float, float] = (0.25, 0.6), below_db: tuple[float, float] = (10.0, 25.0),
        snr_db: tuple[float, float] = (50.0, 50.0), noises: tuple[str, ...] = ("white",), gaps: bool = True
        ) -> list[tuple]:
    """Utterances with a breath in the silence between them, ``below_db`` under the speech
    (10-25 dB), ``gap_s`` of silence each side, a line noise ``snr_db`` under the speech (one of
    ``noises`` at random, :func:`line_noise`; babble from the other clips of ``speech``).

    Returns (16 kHz signal, breath intervals in seconds) pairs; with ``gaps`` False, triples that
    add the silences each side of the breath (the line alone there: babble or a noise's swell is
    no speech of the caller's), which :func:`dataset` leaves unlabelled; the same when a
    speech clip names breath-like sounds of its own (``Clip.inner``), with theirs.
    """
    out = []
    for i in range(count):
        pair = rng.choice(len(speech), 2, replace=False)
        a, b = (speech[j].x for j in pair)
        br = breaths[rng.integers(len(breaths))]
        level = np.sqrt(np.mean(np.square(np.concatenate([a, b])))) + 1e-9
        br = br * (level * 10 ** (-rng.uniform(*below_db) / 20) / (np.sqrt(np.mean(br ** 2)) + 1e-12))
        gap1, gap2 = (np.zeros(int(rng.uniform(*gap_s) * 16000), np.float32) for _ in range(2))
        x = np.concatenate([a, gap1, br, gap2, b]).astype(np.float32)
        kind = noises[rng.integers(len(noises))] if len(noises) > 1 else noises[0]
        gain = level * 10 ** (-rng.uniform(*snr_db) / 20)
        talk = [c.x for j, c in enumerate(speech) if j not in pair] if kind == "babble" else []
        x += (gain * line_noise(kind, len(x), rng, talk)).astype(np.float32)
        t0, t1 = (len(a) + len(gap1)) / 16000, (len(a) + len(gap1) + len(br)) / 16000
        line = [] if gaps else [(len(a) / 16000, t0), (t1, t1 + len(gap2) / 16000)]
        tb = t1 + len(gap2) / 16000  # the speech's own breath-like sounds (with_inner) train nothing either
        line += list(speech[pair[0]].inner) + [(p + tb, q + tb) for p, q in speech[pair[1]].inner]
        out.append((x, [(t0, t1)], line) if line else (x, [(t0, t1)]))
    return out


def breath_snippets(clips: list[Clip]) -> list[np.ndarray]:
    """Single breaths (energy events with 50 ms margins) of the breathing recordings."""
    out = []
    for c in clips:
        if c.kind.startswith("breathing"):
            s, e = energy_events(c.x)
            out += [c.x[max(0, a * 160 - 800): b * 160 + 800] for a, b in zip(s, e) if 30 <= b - a <= 150]
    return out


def mix_labels(x: np.ndarray, rate: int, intervals: list[tuple[float, float]],
               unlabelled: list[tuple[float, float]] = ()) -> np.ndarray:
    """Per frame: breath within ``intervals``, none (0) within ``unlabelled``, else speech."""
    n = 1 + (len(x) - rate // 40) // (rate // 100)
    y = np.full(n, SPEECH, np.int64)
    t = (np.arange(n) * (rate // 100) + rate // 80) / rate
    for a, b in unlabelled:
        y[(t >= a) & (t < b)] = 0
    for a, b in intervals:
        y[(t >= a) & (t < b)] = BREATH
    return y


def synthetic_breaths(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """``count`` :func:`noise_breath` of 0.25-0.8 s."""
    return [noise_breath(rng, rng.uniform(0.25, 0.8)) for _ in range(count)]


@dataclass(frozen=True)
class Labels:
    """How frames are labelled beyond what their recording is (the shipped model's: as it is).

    ``breath_from_energy``: a breathing recording's frames are breath only within its
    energy events (:func:`energy_events`, ``margin_frames`` each side; the reference the onset
    figure uses), the rest of its audible frames left out. ``onset_weight``: a breathing
    recording's frames within ``onset_frames`` of an energy event's onset weigh this much.
    """

    breath_from_energy: bool = False
    margin_frames: int = 5
    onset_weight: float = 1.0
    onset_frames: int = 50


SPEECH_BREATH_STRENGTH = 0.45  # a breath-like sound inside speech: periodicity (the 110 ms mean) under this,
SPEECH_BREATH_FRAMES = 20      # for at least this many audible frames in a row,
SPEECH_BREATH_UNDER_PEAK_DB = 10.0  # on average this far under the recent peak level,
SPEECH_BREATH_MAX_CENTROID_KHZ = 1.7  # and with a mean spectral centroid under this (fricatives lie higher)


def speech_breaths(x: np.ndarray) -> np.ndarray:
    """The frames of breath-like sounds in speech (16 kHz): audible runs of at least
    :data:`SPEECH_BREATH_FRAMES` whose mean periodicity stays under
    :data:`SPEECH_BREATH_STRENGTH` and which lie on average :data:`SPEECH_BREATH_UNDER_PEAK_DB`
    under the recent peak level (a loud aperiodic word start stays speech), with a mean spectral
    centroid under :data:`SPEECH_BREATH_MAX_CENTROID_KHZ` (the training speech's "sh" of
    "selfish", final "f" of "himself" and final "ts" of "hearts" lie at 1.75-2.06 kHz; its
    sounds between phrases at 1.23-1.65). Shape (n,) -> (frames,), bool."""
    feats, heard = class_inputs(x, 16000)
    weak = heard & (feats[:, FEATURES.index("strength_mean")] < SPEECH_BREATH_STRENGTH)
    s, e = runs(weak)
    under, centroid = feats[:, FEATURES.index("below_peak_db")], feats[:, FEATURES.index("centroid_khz")]
    out = np.zeros(len(heard), bool)
    for a, b in zip(s, e):
        out[a:b] = (b - a >= SPEECH_BREATH_FRAMES and under[a:b].mean() >= SPEECH_BREATH_UNDER_PEAK_DB
                    and centroid[a:b].mean() < SPEECH_BREATH_MAX_CENTROID_KHZ)
    return out


def with_inner(c: Clip) -> Clip:
    """``c`` with its breath-like sounds (:func:`speech_breaths`) named, to be left out of
    training wherever it is heard (alone or in a mixture)."""
    s, e = runs(speech_breaths(c.x))
    return Clip(c.name, c.kind, c.train, c.x, tuple((int(a) / 100, int(b) / 100) for a, b in zip(s, e)))


def _fitted(mask: np.ndarray, n: int) -> np.ndarray:
    """``mask`` cut or padded (with its last value) to ``n`` frames. Shape (k,) -> (n,)."""
    if not len(mask):
        return np.zeros(n, mask.dtype)
    return np.concatenate([mask[:n], np.repeat(mask[-1:], max(n - len(mask), 0))])


def breath_frames(x: np.ndarray, labels: Labels) -> tuple[np.ndarray, np.ndarray]:
    """A breathing recording's (16 kHz) per-frame labels (breath, or 0 outside its energy
    events with ``labels.breath_from_energy``) and weights. Shapes (n,) -> (frames,), (frames,)."""
    n = 1 + (len(x) - 400) // 160
    y = np.full(n, BREATH if not labels.breath_from_energy else 0, np.int64)
    w = np.ones(n)
    s, e = energy_events(x)
    for a, b in zip(s, e):
        if labels.breath_from_energy:
            y[max(a - labels.margin_frames, 0): b + labels.margin_frames] = BREATH
        w[a: min(a + labels.onset_frames, b)] = labels.onset_weight
    return y, w


def frame_labels(c: Clip, labels: Labels) -> tuple[int | np.ndarray, float | np.ndarray]:
    """A clip's labels and weights, one for all its frames or per frame (16 kHz frames)."""
    if c.kind.startswith("breathing") and (labels.breath_from_energy or labels.onset_weight != 1.0):
        return breath_frames(c.x, labels)
    if c.inner:
        return mix_labels(c.x, 16000, [], c.inner), 1.0
    return LABEL.get(c.kind, SPEECH), 1.0


BANDS = ("16k", "tel8k")
"""The bands every recording is analysed in: its 16 kHz signal (0) and its 8 kHz telephone band (1)."""


def dataset(clips: list[Clip], mixes, rng: np.random.Generator, labels: Labels = Labels()
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels, weights and bands (the index in :data:`BANDS`) of the clips' audible
    frames (at most :data:`MAX_FRAMES` of each, at random) and of the mixtures', both bands.
    Shapes (k, d), (k,), (k,), (k,)."""
    xs, ys, ws, bs = [], [], [], []
    for c in clips:
        label, weight = frame_labels(c, labels)
        for band, (sig, rate) in enumerate(((c.x, 16000), (telephone(c.x), 8000))):
            f, y, w = labelled(sig, rate, label, weight)
            pick = rng.permutation(len(y))[:MAX_FRAMES]
            xs.append(f[pick])
            ys.append(y[pick])
            ws.append(w[pick])
            bs.append(np.full(len(pick), band, np.int64))
    for sig, iv, *line in mixes:
        for band, (s, rate) in enumerate(((sig, 16000), (telephone(sig), 8000))):
            f, y, w = labelled(s, rate, mix_labels(s, rate, iv, *line))
            xs.append(f)
            ys.append(y)
            ws.append(w)
            bs.append(np.full(len(y), band, np.int64))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws), np.concatenate(bs)


def fit(X: np.ndarray, y: np.ndarray, rng: np.random.Generator | list[np.random.Generator], hidden: int = HIDDEN,
        l2: float = 1e-3, sample_weight: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Class-balanced (speech weighted twice; ``sample_weight`` within a class) network with one
    tanh hidden layer on standardised features, fitted by L-BFGS from a seeded start (deterministic).

    With a list of k generators, k networks, each fitted from a starting point drawn from its
    generator, folded into one of k * ``hidden`` units whose scores are the mean of theirs
    (:func:`averaged`): the mean of k draws of a noisy fit, at the cost of a wider hidden layer."""
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
    Z = (X - mean) / scale
    k = 3
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    w = (np.array([2.0, 1.0, 1.0]) / np.bincount(y - 1, weights=sw, minlength=k))[y - 1] * sw
    starts = rng if isinstance(rng, list) else [rng]
    nets = [fit_network(Z, np.eye(k)[y - 1], w / w.sum(), r, hidden, l2) for r in starts]
    return {"MEAN": mean, "SCALE": scale, **averaged(nets)}


def fit_network(Z: np.ndarray, Y: np.ndarray, w: np.ndarray, rng: np.random.Generator, hidden: int, l2: float
                ) -> dict[str, np.ndarray]:
    """One network fitted by L-BFGS from a start drawn from ``rng``: standardised features ``Z``
    (shape (n, d)), one-hot classes ``Y`` (n, 3), weights ``w`` (n,, summing to 1)."""
    d, h, k = Z.shape[1], hidden, Y.shape[1]
    sizes = [(d, h), (h,), (h, k), (k,)]
    cuts = np.cumsum([int(np.prod(s)) for s in sizes])[:-1]

    def unpack(theta):
        return [p.reshape(s) for p, s in zip(np.split(theta, cuts), sizes)]

    def loss(theta):
        W1, b1, W2, b2 = unpack(theta)
        a = np.tanh(Z @ W1 + b1)
        s = a @ W2 + b2
        s -= s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        val = -(w * (Y * logp).sum(axis=1)).sum() + l2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
        g = (np.exp(logp) - Y) * w[:, None]
        ga = (g @ W2.T) * (1 - a ** 2)
        grads = [Z.T @ ga + 2 * l2 * W1, ga.sum(axis=0), a.T @ g + 2 * l2 * W2, g.sum(axis=0)]
        return val, np.concatenate([gr.ravel() for gr in grads])

    theta0 = np.concatenate([rng.normal(0, 0.3, int(np.prod(s))) for s in sizes])
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 800})
    W1, b1, W2, b2 = unpack(res.x)
    return {"HIDDEN_W": W1, "HIDDEN_B": b1, "OUT_W": W2, "OUT_B": b2}


def averaged(nets: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """k networks of h hidden units on the same inputs as one of k * h units whose scores are
    the mean of their scores (the pre-softmax log-odds, which is what the class compares): their
    hidden layers side by side, their output weights stacked and divided by k, the mean output
    bias. One network is itself. Shapes HIDDEN_W (d, k * h), HIDDEN_B (k * h,), OUT_W (k * h, 3)."""
    if len(nets) == 1:
        return nets[0]
    k = len(nets)
    return {"HIDDEN_W": np.concatenate([n["HIDDEN_W"] for n in nets], axis=1),
            "HIDDEN_B": np.concatenate([n["HIDDEN_B"] for n in nets]),
            "OUT_W": np.concatenate([n["OUT_W"] for n in nets], axis=0) / k,
            "OUT_B": np.mean([n["OUT_B"] for n in nets], axis=0)}


def command_line(args: argparse.Namespace) -> str:
    """The command that writes this model, as the model file's header names it (the shared
    folder as a placeholder, never its path)."""
    words = [".venv/bin/python -m tools.train_sound_class --write"]
    words += ["--shared <the shared data folder>"] if args.shared else []
    words += [f"--mixes {args.mixes}"] if args.mixes != DEFAULT_MIXES else []
    if args.edge_highpass is not None:
        words += [f"--edge-highpass {args.edge_highpass.hz:g}x{args.edge_highpass.sections}"]
    if args.line_noises != NOISY_NOISES:
        words += [f"--line-noises {','.join(args.line_noises)}"]
    if args.noisy_snr != NOISY_SNR_DB:
        words += [f"--noisy-snr {args.noisy_snr[0]:g},{args.noisy_snr[1]:g}"]
    if args.noisy_share != 1.0:
        words += [f"--noisy-share {args.noisy_share:g}"]
    words += ["--unlabelled-gaps"] if args.unlabelled_gaps else []
    words += ["--speech-breaths-out"] if args.speech_breaths_out else []
    words += ["--breath-from-energy"] if args.breath_from_energy else []
    words += [f"--onset-weight {args.onset_weight:g}"] if args.onset_weight != 1.0 else []
    words += [f"--seed {args.seed}"] if args.seed is not None else []
    words += [f"--restarts {args.restarts}"] if args.restarts != 1 else []
    if args.weak_share > 0:
        words += [f"--weak-share {args.weak_share:g}", f"--weak-weight {args.weak_weight:g}"]
    if args.weak_noisy_share > 0:
        words += [f"--weak-noisy-share {args.weak_noisy_share:g}"]
        words += [f"--weak-weight {args.weak_weight:g}"] if args.weak_share <= 0 and args.weak_weight != 1.0 else []
        words += ["--weak-noisy-unvoiced"] if args.weak_noisy_unvoiced else []
    return " ".join(words)


TRAINED_ON = ("Trained partly on recordings of the Coswara dataset (breathing, coughs and held vowels of 32",
              "participants): Project Coswara, Indian Institute of Science (IISc) Bangalore,",
              "https://github.com/iiscleap/Coswara-Data, licensed CC BY 4.0",
              "(https://creativecommons.org/licenses/by/4.0/); the speech is espeak-ng's and the even-numbered",
              "files of the clone's real-speech reference set (audio_fixtures/real/: each file's licence there).")
"""What the model learnt from, with its sources' attribution and licences: the model file's docstring says it."""


def model_text(params: dict[str, np.ndarray], command: str) -> str:
    """The model file's text: the same numbers give the same bytes (rounded to 5 decimals)."""
    def arr(v: np.ndarray) -> str:
        return f"np.array({np.round(v, 5).tolist()}, np.float32)"
    lines = ['"""Numbers of the sound-class model (written by tools/train_sound_class.py; do not edit by hand).',
             "", f"Features (in order): {', '.join(FEATURES)}; classes: speech, breath, cough.", "",
             *TRAINED_ON, "",
             f"Written by (seed {SEED}): ``{command}``; ``--check`` in place of ``--write``",
             "retrains and compares.", '"""', "", "import numpy as np", ""]
    lines += [f"{k} = {arr(v)}" for k, v in params.items()]
    return "\n".join(lines) + "\n"


def check_model(text: str, path: Path = MODEL) -> int:
    """0 if ``path`` holds exactly ``text``; else 1 with a one-line error naming the first
    line that differs."""
    current = path.read_text() if path.is_file() else ""
    if current == text:
        log.info("%s: the tool writes exactly this model", path.relative_to(ROOT))
        return 0
    old, new = current.splitlines(keepends=True), text.splitlines(keepends=True)
    at = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    name = new[at].split(" = ")[0][:40] if at < len(new) else "the end"
    print(f"error: {path.relative_to(ROOT)}: differs from the retrained model at line {at + 1} ({name})",
          file=sys.stderr)
    return 1


# ---------------------------------------------------------------- figures

def recording_figures(clips: list[Clip], cfg: AnalyzerConfig | None = None) -> dict[str, dict[str, float]]:
    """Per kind: share of the length classed as speech, syllables per minute, seconds."""
    acc: dict[str, list[float]] = {}
    for c in clips:
        f = analyze_signal(c.x, 16000, cfg or WITH_SOUND_CLASS)
        a = acc.setdefault(c.kind, [0.0, 0.0, 0.0])
        a[0] += f.speech.sum() * 0.01
        a[1] += int(f.nucleus.sum())
        a[2] += len(c.x) / 16000
    return {k: {"speech_share": s / d, "syllables_per_min": n / d * 60, "seconds": d} for k, (s, n, d) in acc.items()}


def onset_errors(x: np.ndarray) -> np.ndarray:
    """Seconds from each reference breath onset (energy events) to the nearest detected breath
    onset (inf when none is detected). Shape (k,) for k reference onsets."""
    ref, _ = energy_events(x)
    det, _ = runs(analyze_signal(x, 16000, WITH_SOUND_CLASS).sound == BREATH)
    if len(det) == 0:
        return np.full(len(ref), np.inf)
    return np.abs(ref[:, None] - det[None, :]).min(axis=1) * 0.01


def onset_counts(clips: list[Clip]) -> tuple[int, int, np.ndarray]:
    """Over the breathing recordings among ``clips``: how many have at least 80 % of their
    reference onsets within :data:`ONSET_TOL_S` of a detected one, how many there are, and every
    reference onset's error in seconds (:func:`onset_errors`, inf where none is detected)."""
    errors = [onset_errors(c.x) for c in clips if c.kind.startswith("breathing")]
    good = sum(len(e) > 0 and (e <= ONSET_TOL_S).sum() >= 0.8 * len(e) for e in errors)
    return good, len(errors), np.concatenate(errors) if errors else np.zeros(0)


def onset_agreement(x: np.ndarray) -> tuple[int, int]:
    """Reference breath onsets (energy events) matched by a detected breath onset within 100 ms."""
    err = onset_errors(x)
    return int((err <= ONSET_TOL_S).sum()), len(err)


def breath_events(f, iv: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """The analyzer's frames ``f`` against labelled breaths ``iv`` (seconds): per labelled breath,
    whether a detected breath event (a run of breath frames) overlaps it; and the (start, end)
    seconds of the events that overlap none (the false ones), shape (n, 2)."""
    s, e = runs(f.sound == BREATH)
    ts, te = f.t[s], f.t[np.maximum(e - 1, 0)]
    over = np.array([(ts <= b) & (te >= a) for a, b in iv], bool).reshape(len(iv), len(s))
    return over.any(axis=1), np.stack([ts, te], axis=1)[~over.any(axis=0)]


def own_breaths(events: np.ndarray, own: list[tuple[float, float]]) -> np.ndarray:
    """The net precision's rule: which false events (start, end seconds, shape (n, 2)) overlap one
    of ``own``, the carrier speech's own breath-like sounds (:func:`with_inner`, in the mixture's
    seconds), and count neither as hits nor as false. An overlap, as a hit's is; shape (n,), bool."""
    return np.array([(events[:, 0] <= b) & (events[:, 1] >= a) for a, b in own], bool
                    ).reshape(len(own), len(events)).any(axis=0)


def mixture_events(x: np.ndarray, iv: list[tuple[float, float]], band: str, own: list[tuple[float, float]] = ()
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`breath_events` of a 16 kHz mixture heard in ``band`` (of :data:`BANDS`), and per false
    event whether it lies in the carriers' own breath-like sounds ``own`` (:func:`own_breaths`)."""
    sig, rate = (x, 16000) if band == "16k" else (telephone(x), 8000)
    hit, wrong = breath_events(analyze_signal(sig, rate, WITH_SOUND_CLASS), iv)
    return hit, wrong, own_breaths(wrong, list(own))


def detection(mixes, band: str) -> tuple[int, int, int, int]:
    """Hits, misses and false breath events on mixtures (:func:`mixture_events`), and how many of
    the false lie in the carriers' own breath-like sounds (a held-out mixture's unlabelled
    intervals, :func:`mix`): strict precision hits / (hits + false), net hits / (hits + false - own)."""
    hits = misses = false = own = 0
    for x, iv, *line in mixes:
        hit, wrong, inside = mixture_events(x, iv, band, *line)
        hits += int(hit.sum())
        misses += int((~hit).sum())
        false += len(wrong)
        own += int(inside.sum())
    return hits, misses, false, own


def fixture_detection(rate: int, calls: Path = CALLS) -> tuple[int, int, int]:
    """Hits, misses and false breath events on the caller channel of the fixture calls, against
    their labelled synthetic inhalations (``turns[].inhalations``)."""
    import json

    import soundfile as sf

    hits = misses = false = 0
    for meta in sorted(calls.glob("*.json")):
        wav = calls / f"{meta.stem}_{rate // 1000}k.wav"
        if not wav.is_file():
            continue
        d = json.loads(meta.read_text())
        iv = [(h["start_s"], h["end_s"]) for t in d["turns"] if t["speaker"] == "caller" for h in t["inhalations"]]
        x = sf.read(wav, dtype="float32")[0]
        ch = int(next((t["channel"] for t in d["turns"] if t["speaker"] == "caller"), 0))
        hit, wrong = breath_events(analyze_signal(x[:, ch] if x.ndim == 2 else x, rate, WITH_SOUND_CLASS), iv)
        hits += int(hit.sum())
        misses += int((~hit).sum())
        false += len(wrong)
    return hits, misses, false


def weak_voice_figures(renderings: list[Rendering], rate: int) -> dict[str, dict[str, float]]:
    """Per kind (labored, breathy): the share of the phrases' speech frames (class off) that the
    class keeps as speech, breath and cough events per minute, and the inhalations (per minute,
    and the share overlapped by a breath event)."""
    acc: dict[str, np.ndarray] = {}
    for r in renderings:
        sig = r.x if rate == 16000 else telephone(r.x)
        on, off = analyze_signal(sig, rate, WITH_SOUND_CLASS), analyze_signal(sig, rate, WITHOUT_SOUND_CLASS)
        inside = np.zeros(len(on.t), bool)
        for a, b in r.phrases:
            inside |= (on.t >= a) & (on.t < b)
        s, e = runs(on.sound == BREATH)
        ts, te = on.t[s], on.t[np.maximum(e - 1, 0)]
        found = sum(bool(((ts <= b) & (te >= a)).any()) for a, b in r.inhalations)
        a = acc.setdefault("labored" if "labored" in r.variant else "breathy", np.zeros(7))
        a += ((on.sound == SPEECH)[inside].sum(), (off.sound == SPEECH)[inside].sum(), len(s),
              len(runs(on.sound == COUGH)[0]), found, len(r.inhalations), len(r.x) / 16000 / 60)
    return {k: {"speech_kept": a[0] / max(a[1], 1), "breaths_per_min": a[2] / a[6], "coughs_per_min": a[3] / a[6],
                "inhalations_per_min": a[5] / a[6], "inhalations_found": a[4] / max(a[5], 1)} for k, a in acc.items()}


def speech_change(clips: list[Clip]) -> tuple[float, float]:
    """Relative change (%) of total speech time and syllables on real speech, classifier on vs off."""
    return signal_speech_change([c.x for c in clips])


def signal_speech_change(signals: list[np.ndarray], rate: int = 16000) -> tuple[float, float]:
    """Relative change (%) of total speech time and syllables, classifier on vs off; each signal
    shape (n,) at ``rate``."""
    return change_of(speech_totals(signals, rate))


def speech_totals(signals: list[np.ndarray], rate: int = 16000) -> np.ndarray:
    """Speech frames and syllables of the signals (columns), classifier on and off (rows). Shape (2, 2)."""
    tot = np.zeros((2, 2))
    for x in signals:
        for i, cfg in enumerate((WITH_SOUND_CLASS, WITHOUT_SOUND_CLASS)):
            f = analyze_signal(x, rate, cfg)
            tot[i] += (f.speech.sum(), f.nucleus.sum())
    return tot


def change_of(totals: np.ndarray) -> tuple[float, float]:
    """:func:`speech_totals` (summed over any sets) as the relative change (%) of speech time and
    syllables, classifier on vs off."""
    return tuple(100.0 * (totals[0] / totals[1] - 1.0))


def noisy_speech(speech: list[Clip], noises: tuple[str, ...], snr_db: tuple[float, float],
                 rng: np.random.Generator) -> list[np.ndarray]:
    """Each speech clip with half a second of silence each side over a line noise (one of
    ``noises`` at random, ``snr_db`` under the clip's level; babble from the other clips).
    Shape (n,) each, 16 kHz."""
    out = []
    for i, c in enumerate(speech):
        x = np.concatenate([np.zeros(8000, np.float32), c.x, np.zeros(8000, np.float32)])
        kind = noises[rng.integers(len(noises))]
        gain = np.sqrt(np.mean(np.square(c.x))) * 10 ** (-rng.uniform(*snr_db) / 20)
        talk = [d.x for j, d in enumerate(speech) if j != i] if kind == "babble" else []
        out.append(x + (gain * line_noise(kind, len(x), rng, talk)).astype(np.float32))
    return out


def noisy_line_figures(breath: list[Clip], speech: list[Clip], count: int, snr_db: tuple[float, float] = (5.0, 20.0)
                       ) -> None:
    """Per held-out line noise (:data:`HELD_OUT_NOISES`, ``snr_db`` under the speech, seed
    :data:`NOISY_SEED`): ``count`` breaths mixed into speech pauses (recall and precision at 16
    and 8 kHz), and the speech clips over the noise (speech time and syllables, class on vs off)."""
    snippets = breath_snippets(breath)
    for k, (name, kinds) in enumerate(HELD_OUT_NOISES.items()):
        rng = np.random.default_rng([NOISY_SEED, k])
        mixes = mix(speech, snippets, rng, count, snr_db=snr_db, noises=kinds)
        bands = [detection(mixes, band)[:3] for band in BANDS]
        ds, dn = signal_speech_change(noisy_speech(speech, kinds, snr_db, rng))
        sys.stdout.write(f"  over {name} at {snr_db[0]:g}-{snr_db[1]:g} dB: mixed breaths 16k / 8k recall "
                         + " / ".join(f"{100 * h / max(h + m, 1):.1f}" for h, m, _ in bands) + " % precision "
                         + " / ".join(f"{100 * h / max(h + f, 1):.1f}" for h, _, f in bands)
                         + f" %; real speech on vs off: speech time {ds:+.2f} %, syllables {dn:+.2f} %\n")


SIDES = {"test": ("held out", "s17-s32", "odd"), "train": ("training side", "s01-s16", "even")}


def print_figures(breath: list[Clip], speech: list[Clip], mixes, side: str = "test") -> None:
    """Every figure on one side's recordings, speech files and mixtures (``side``, a key of
    :data:`SIDES`: "test", the held-out speakers s17-s32 and odd-numbered speech files, or
    "train", s01-s16 and the even-numbered ones, to tune the decisions on); the weak voices and
    fixture calls are the same for both."""
    out = sys.stdout
    who = SIDES[side]
    out.write(f"{who[0]}: {len({c.name[:3] for c in breath})} speakers ({who[1]}), "
              f"{len(speech)} speech files ({who[2]}-numbered)\n")
    for kind, v in sorted(recording_figures(breath).items()):
        out.write(f"  {kind:18s} {v['seconds']:6.0f} s  speech {100 * v['speech_share']:5.1f} %  "
                  f"syllables/min {v['syllables_per_min']:5.1f}\n")
    good, recordings, every = onset_counts(breath)
    found = every[np.isfinite(every)]
    out.write(f"  breath onsets within 100 ms of the energy reference (>= 80 % of them): "
              f"{good} of {recordings} recordings; {int((every <= ONSET_TOL_S).sum())} of {len(every)} "
              f"onsets, median error {1000 * np.median(found) if len(found) else float('nan'):.0f} ms "
              f"(recordings with no breath found left out)\n")
    for band in BANDS:
        h, m, f, o = detection(mixes, band)
        out.write(f"  breaths mixed into real speech pauses, {band}: recall {100 * h / max(h + m, 1):.1f} % "
                  f"precision {100 * h / max(h + f, 1):.1f} % ({h} hits, {m} misses, {f} false); net of the "
                  f"carriers' own breath-like sounds {100 * h / max(h + f - o, 1):.1f} % ({o} of the false in them)\n")
    for rate in (16000, 8000):
        h, m, f = fixture_detection(rate)
        out.write(f"  synthetic inhalations of the fixture calls (caller leg), {rate // 1000} kHz: recall "
                  f"{100 * h / max(h + m, 1):.1f} % precision {100 * h / max(h + f, 1):.1f} % "
                  f"({h} hits, {m} misses, {f} false)\n")
    weak = weak_voices()
    for rate in (16000, 8000):
        for kind, v in sorted(weak_voice_figures(weak, rate).items()):
            out.write(f"  espeak-ng {kind} voices, {rate // 1000} kHz: phrases' speech kept "
                      f"{100 * v['speech_kept']:5.1f} %, breaths {v['breaths_per_min']:4.1f}/min (inhalations "
                      f"{v['inhalations_per_min']:4.1f}/min, {100 * v['inhalations_found']:3.0f} % found), "
                      f"coughs {v['coughs_per_min']:4.1f}/min\n")
    ds, dn = speech_change(speech)
    out.write(f"  real speech, classifier on vs off: speech time {ds:+.2f} %, syllables {dn:+.2f} %\n")
    noisy_line_figures(breath, speech, len(mixes))


def train(args: argparse.Namespace, tr_b: list[Clip], tr_s: list[Clip], train_mix, rng: np.random.Generator
          ) -> dict[str, np.ndarray]:
    """The model's numbers: one network fitted on :func:`training_rows` (both bands)."""
    X, y, sw, _ = training_rows(args, tr_b, tr_s, train_mix, rng)
    return fit(X, y, starts(args, rng), sample_weight=sw)


def training_rows(args: argparse.Namespace, tr_b: list[Clip], tr_s: list[Clip], train_mix, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The training rows (features, labels, weights, bands as :func:`dataset`): the training
    clips, their mixtures and those :func:`main` adds (synthetic breaths, espeak-ng speech,
    noisy lines), and the weak voices if asked."""
    synth = synthetic_breaths(rng, 200)
    espeak = espeak_clips(args.edge_highpass)
    train_mix = list(train_mix)  # the caller's list stays as it was
    train_mix += mix(tr_s, synth, rng, args.mixes, gap_s=(0.05, 0.4), below_db=(6.0, 25.0))
    train_mix += mix(espeak, synth + breath_snippets(tr_b), rng, args.mixes, gap_s=(0.05, 0.4),
                     below_db=(6.0, 25.0))
    train_mix += mix(tr_s, synth + breath_snippets(tr_b), rng, round(args.mixes * args.noisy_share),
                     below_db=(6.0, 20.0), snr_db=args.noisy_snr, noises=args.line_noises,
                     gaps=not args.unlabelled_gaps)  # noisy lines
    X, y, sw, band = dataset(tr_b + tr_s + espeak, train_mix, rng, labels_of(args))
    if args.weak_share > 0:  # never in the mixtures: a weak voice in noise teaches noise to be speech
        Xw, yw, bw = weak_frames(weak_speech_clips(), args.weak_share, rng)
        log.info("weak voices: %d voiced frames as speech, weight %g each", len(yw), args.weak_weight)
        X, y, band = np.concatenate([X, Xw]), np.concatenate([y, yw]), np.concatenate([band, bw])
        sw = np.concatenate([sw, np.full(len(yw), args.weak_weight)])
    if args.weak_noisy_share > 0:  # over a line, but labelled by the clean voice: the line alone trains nothing
        Xw, yw, bw = weak_noisy_frames(weak_speech_clips(), args.weak_noisy_share, [c.x for c in tr_s], rng,
                                       args.weak_noisy_unvoiced)
        log.info("weak voices over a line: %d frames %s in the clean rendering as speech", len(yw),
                 "audible" if args.weak_noisy_unvoiced else "voiced")
        X, y, band = np.concatenate([X, Xw]), np.concatenate([y, yw]), np.concatenate([band, bw])
        sw = np.concatenate([sw, np.full(len(yw), args.weak_weight)])
    log.info("training on %d frames (speech %d, breath %d, cough %d)", len(y), *np.bincount(y)[1:4])
    return X, y, sw, band


def starts(args: argparse.Namespace, rng: np.random.Generator) -> list[np.random.Generator]:
    """The generators the fit's ``--restarts`` starting points are drawn from: with ``--seed S``,
    seeds S, S + 1, ...; without, the data's generator where the data's draws leave it (the shipped
    start), then seeds 1, 2, ... (so each network can be fitted apart, and the shipped one is the first)."""
    first = [rng] if args.seed is None else []
    seed = 1 if args.seed is None else args.seed
    return first + [np.random.default_rng(seed + i) for i in range(args.restarts - len(first))]


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, help="the shared data folder (its breathing/ folder: all 128)")
    todo = ap.add_mutually_exclusive_group()
    todo.add_argument("--write", action="store_true", help="store the model in monitor/dsp/sound_class_model.py")
    todo.add_argument("--check", action="store_true",
                      help="retrain as --write would and fail unless the committed model is exactly that")
    ap.add_argument("--mixes", type=whole_number(1), default=DEFAULT_MIXES, help=f"mixtures per half (default {DEFAULT_MIXES})")
    ap.add_argument("--weak-share", type=share, default=0.0,
                    help="with --write: share of the training weak voices' voiced frames in the fit (default 0)")
    ap.add_argument("--weak-weight", type=number_above(0.0), default=1.0,
                    help="with --weak-share or --weak-noisy-share: each weak voiced frame's weight against another "
                         "speech frame's")
    ap.add_argument("--weak-noisy-share", type=share, default=0.0,
                    help="with --write: share of the training weak voices' frames over a line noise (white, pink, "
                         "hum, babble, 8-20 dB under) in the fit as speech, where the clean voice is voiced "
                         "(default 0)")
    ap.add_argument("--weak-noisy-unvoiced", action="store_true",
                    help="with --weak-noisy-share: every frame audible in the clean voice is speech, its unvoiced "
                         "and whispered sounds too (by default only its voiced frames train)")
    ap.add_argument("--line-noises", type=parse_noises, default=NOISY_NOISES, metavar="KIND,...",
                    help=f"with --write: the noisy lines' noises, of {','.join(LINE_NOISES)} (default "
                         f"{','.join(NOISY_NOISES)})")
    ap.add_argument("--noisy-snr", type=parse_range, default=NOISY_SNR_DB, metavar="LO,HI",
                    help=f"with --write: the noisy lines' noise, dB under the speech (default "
                         f"{NOISY_SNR_DB[0]:g},{NOISY_SNR_DB[1]:g})")
    ap.add_argument("--noisy-share", type=parse_share, default=1.0,
                    help="with --write: noisy-line mixtures per clean one of --mixes (default 1)")
    ap.add_argument("--unlabelled-gaps", action="store_true",
                    help="with --write: the noisy lines' silences around the breath (the line alone) train "
                         "nothing (by default they are speech, as on the clean mixtures)")
    ap.add_argument("--edge-highpass", type=parse_edge, metavar="HZxSECTIONS",
                    help="the recordings (training and figures) through this high-pass in place of the edge's "
                         "(20x2: two first-order sections at 20 Hz, the edge the shipped model was trained with)")
    ap.add_argument("--figures-on", choices=tuple(SIDES), default="test",
                    help="the figures of the held-out side (default) or of the training side (speakers s01-s16, "
                         "even-numbered speech files, the training mixtures), where the decisions are tuned")
    ap.add_argument("--speech-breaths-out", action="store_true",
                    help="with --write: the breath-like sounds inside the training's real speech (the speakers' "
                         "own breaths, and some long fricatives) train nothing (by default they are speech)")
    ap.add_argument("--breath-from-energy", action="store_true",
                    help="with --write: a breathing recording's frames are breath within its energy events "
                         "(the onset reference), its other audible frames left out (by default all are breath)")
    ap.add_argument("--onset-weight", type=parse_share, default=1.0,
                    help="with --write: a breath's first 500 ms (from its energy onset) weigh this much (default 1)")
    ap.add_argument("--seed", type=int, metavar="S",
                    help="with --write: the fit's starting points drawn from seeds S, S + 1, ... (by default the first "
                         "from the data's generator, where the data's draws leave it, as shipped; the others 1, 2, ...)")
    ap.add_argument("--restarts", type=whole_number(1, 16), default=1, metavar="K",
                    help="with --write: the mean of K networks fitted from K starting points, as one network of "
                         "K times the hidden units (default 1)")
    return ap.parse_args(argv)


def labels_of(args: argparse.Namespace) -> Labels:
    """The :class:`Labels` the options ask for."""
    return Labels(breath_from_energy=args.breath_from_energy, onset_weight=args.onset_weight)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = args.shared / "breathing" if args.shared else BREATHING
    if args.weak_weight != 1.0 and args.weak_share <= 0 and args.weak_noisy_share <= 0:
        print("error: --weak-weight weighs the weak voices that --weak-share or --weak-noisy-share adds; give both",
              file=sys.stderr)
        return 2
    if args.weak_noisy_unvoiced and args.weak_noisy_share <= 0:
        print("error: --weak-noisy-unvoiced labels the weak voices that --weak-noisy-share adds; give both",
              file=sys.stderr)
        return 2
    if shutil.which("espeak-ng") is None:
        print("error: espeak-ng: not installed (the figures render its voices; make setup installs it)",
              file=sys.stderr)
        return 1
    if not (folder / "manifest.csv").is_file():
        print(f"error: {folder / 'manifest.csv'}: no such manifest", file=sys.stderr)
        return 1
    rng = np.random.default_rng(SEED)
    breath, speech = breathing_clips(folder, args.edge_highpass), speech_clips(args.edge_highpass)
    tr_b, te_b = [c for c in breath if c.train], [c for c in breath if not c.train]
    tr_s, te_s = [c for c in speech if c.train], [c for c in speech if not c.train]
    if args.speech_breaths_out and (args.write or args.check):
        tr_s = [with_inner(c) for c in tr_s]
    train_mix = mix(tr_s, breath_snippets(tr_b), rng, args.mixes)
    te_s = [with_inner(c) for c in te_s]  # the same draws; the mixtures name their carriers' own breath-like sounds
    test_mix = mix(te_s, breath_snippets(te_b), rng, args.mixes)
    if args.write or args.check:
        text = model_text(train(args, tr_b, tr_s, train_mix, rng), command_line(args))
        if args.check:
            return check_model(text)
        MODEL.write_text(text)
        log.info("model written to %s", MODEL.relative_to(ROOT))
        import importlib

        import monitor.dsp.sound_class_model as m
        importlib.reload(m)
    if args.figures_on == "train":
        print_figures(tr_b, tr_s, train_mix, "train")
    else:
        print_figures(te_b, te_s, test_mix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
