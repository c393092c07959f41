#!/usr/bin/env python3
"""Generate the project's audio fixtures, reproducibly.

    .venv/bin/python tools/make_fixtures.py audio_fixtures [--only NAME ...] [--force] [-j N]

Writes, under the output folder OUT (normally ``audio_fixtures``):

* ``OUT/generated/espeak-ng-data``: a copy (symlinks) of the system espeak-ng data
  folder with the project's voice variants from ``audio_fixtures/espeak/`` added, and a
  breathy and a labored version of every caller variant of ``tools/eval_data/voices.json``
  (the variant with that file's phonation lines, ``ev_<variant>_breathy`` / ``_labored``, the
  voices the evaluation corpus degrades too), because espeak-ng reads variants only from its
  data folder.
* ``OUT/generated/speech/``: mono 16 kHz utterances for the analyzer and
  transcription tests, listed with their texts in ``index.json``.
* ``OUT/calls/<name>_16k.wav`` and ``<name>_8k.wav`` (telephone band), stereo, agent
  on the left channel and caller on the right, with the label file
  ``<name>.json`` (scenario, onset of trouble, alerts expected and forbidden, turns).

The calls themselves are data, in ``tools/fixture_data/``: one file per call (voices, seed, the
alerts it must and must not raise, the line, its dialogue as [agent text, caller delivery, caller
text] turns, where the delivery is "normal", "slow", "breathy" or a severity from 0 to 1 along the
dialogue's deterioration), ``dialogue_NAME.json`` for a dialogue several calls share, and
``index.json`` for their order.

Everything is deterministic: fixed seeds, sox in repeatable mode. A file is
skipped when its label (or index entry) carries the same parameter hash, and a call's audio
only when its ``NAME.made`` stamp (beside the audio, not committed, as the audio is not) does
too, and its audio files are whole (:func:`audio_whole`: as long as the label says, the last
sample decodes): a checkout whose committed labels changed regenerates audio made before, and a
file cut short is made again. The hash
covers the scenario, the generator's source, the voice variant files, the phonation lines,
the real recordings' samples and the espeak-ng and sox versions.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from math import gcd
from pathlib import Path
from typing import Iterable, Sequence
from xml.sax.saxutils import escape

import numpy as np
import soundfile as sf

GENERATOR_VERSION = 1
SR = 16000
TEL_SR = 8000
ROOT = Path(__file__).resolve().parents[1]
FIXTURES_SRC = ROOT / "audio_fixtures"
VARIANTS_DIR = FIXTURES_SRC / "espeak"
REAL_DIR = FIXTURES_SRC / "real"
FIXTURE_DATA = Path(__file__).resolve().parent / "fixture_data"  # the calls' dialogues and labels
EVAL_DATA = Path(__file__).resolve().parent / "eval_data"  # the evaluation corpus's data, its voices among them

TURN_RMS = 0.05  # speech RMS of every synthesised turn before its gain (the mix sets channel levels)
AGENT_CHANNEL = 0  # left
CALLER_CHANNEL = 1  # right
ALERT_KINDS = (
    "slow_speech",
    "long_pauses",
    "slow_response",
    "short_phrases",
    "breathy_voice",
    "weak_voice",
    "possible_emergency",
    "distress_phrase",
)
# words that make a caller phrase a spoken distress cue (labels only)
DISTRESS_WORDS = ("breathe", "breath", "chest", "dizzy", "heavy", "pain", "hurts", "tight", "sick")


# ---------------------------------------------------------------- speech synthesis


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: base voice, optional variant, pitch (-p) and amplitude (-a)."""

    name: str
    variant: str | None = None
    pitch: int = 50
    amplitude: int = 100

    @property
    def spec(self) -> str:
        return self.name + (f"+{self.variant}" if self.variant else "")


@dataclass(frozen=True)
class SynthRequest:
    voice: Voice
    rate: int
    text: str
    word_gap: int = 0
    ssml: bool = False


def tool_version(cmd: Sequence[str]) -> str:
    out = subprocess.run(list(cmd), capture_output=True, text=True, check=True)
    return (out.stdout or out.stderr).strip().splitlines()[0]


def build_espeak_data(dest_parent: Path, variants_dir: Path) -> Path:
    """Make DEST_PARENT/espeak-ng-data: symlinks to the system data plus our variants and the
    callers' breathy and labored variants (:func:`build_variants`).

    Returns DEST_PARENT, the value for espeak-ng's --path.
    """
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Data at:\s*(\S+)", version)
    if not match:
        raise RuntimeError(f"cannot find espeak-ng's data folder in: {version!r}")
    system = Path(match.group(1))
    data = dest_parent / "espeak-ng-data"
    if data.exists():
        shutil.rmtree(data)
    (data / "voices" / "!v").mkdir(parents=True)
    for entry in system.iterdir():
        if entry.name != "voices":
            (data / entry.name).symlink_to(entry)
    for entry in (system / "voices").iterdir():
        if entry.name != "!v":
            (data / "voices" / entry.name).symlink_to(entry)
    for entry in (system / "voices" / "!v").iterdir():
        (data / "voices" / "!v" / entry.name).symlink_to(entry)
    for variant in sorted(variants_dir.iterdir()):
        if variant.is_file() and not variant.name.startswith(".") and "." not in variant.name:
            target = data / "voices" / "!v" / variant.name
            if target.is_symlink() or target.exists():
                target.unlink()
            shutil.copyfile(variant, target)
    build_variants(data, system / "voices" / "!v", variants_dir)
    return dest_parent


def read_voices() -> dict:
    """The callers' voices (``tools/eval_data/voices.json``): accents, variants, phonation lines."""
    path = EVAL_DATA / "voices.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"{path}: cannot read the voices ({exc})") from exc


def phonation_lines() -> dict[str, dict[str, list[str]]]:
    """The lines that make a variant breathy or labored, by gender: {gender: {kind: lines}}."""
    return {g: lines for g, lines in read_voices()["phonation"].items() if g != "about"}


def degraded_variants(variant: str | None) -> tuple[str, str]:
    """The breathy and labored versions of a caller's variant (see build_variants)."""
    base = variant or "none"
    return f"ev_{base}_breathy", f"ev_{base}_labored"


def variant_lines(variant: str | None, system_variants: Path, own_variants: Path = VARIANTS_DIR) -> list[str]:
    """The lines of a caller's variant file without its name (the project's or espeak-ng's; none: empty)."""
    if variant is None:
        return ["language variant"]
    own = own_variants / variant
    text = (own if own.is_file() else system_variants / variant).read_text(errors="replace")
    return [ln for ln in text.splitlines() if not ln.strip().startswith("name ")]


def build_variants(data: Path, system_variants: Path, own_variants: Path = VARIANTS_DIR) -> None:
    """Add to the espeak-ng data folder DATA a breathy and a labored version of every caller variant.

    Each is the variant with the phonation lines of voices.json for its gender appended (later lines
    override earlier ones in a variant file), so that a caller keeps his or her formants and stays voiced.
    """
    target = data / "voices" / "!v"
    voices = read_voices()
    phonation = phonation_lines()
    elderly = voices["elderly_variants"]
    for gender, variants in (("male", voices["male_variants"] + [elderly["male"]]),
                             ("female", voices["female_variants"] + [elderly["female"]])):
        for variant in variants:
            base = variant_lines(variant, system_variants, own_variants)
            for kind, name in zip(("breathy", "labored"), degraded_variants(variant)):
                (target / name).write_text("\n".join(base + [f"name {name}"] + phonation[gender][kind]) + "\n")


def trim_silence(x: np.ndarray, threshold: float, margin: int) -> np.ndarray:
    """Cut leading and trailing samples below THRESHOLD (absolute), keeping MARGIN samples."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    if loud.size == 0:
        return x[:0]
    return x[max(0, loud[0] - margin) : min(len(x), loud[-1] + 1 + margin)]


def to_rate(x: np.ndarray, sr_in: int, sr_out: int = SR) -> np.ndarray:
    from scipy.signal import resample_poly  # scipy is imported lazily: a no-op run stays quick

    if sr_in == sr_out:
        return x.astype(np.float64)
    g = gcd(sr_in, sr_out)
    return resample_poly(x.astype(np.float64), sr_out // g, sr_in // g)


class Espeak:
    """espeak-ng through subprocess, returning trimmed mono float64 audio at 16 kHz."""

    def __init__(self, data_path: Path, workdir: Path, jobs: int) -> None:
        self.data_path = data_path
        self.workdir = workdir
        self.jobs = jobs
        self._cache: dict[SynthRequest, np.ndarray] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def _run(self, req: SynthRequest) -> np.ndarray:
        with self._lock:
            self._counter += 1
            out = self.workdir / f"s{self._counter}.wav"
        cmd = [
            "espeak-ng", f"--path={self.data_path}", "-v", req.voice.spec,
            "-s", str(req.rate), "-p", str(req.voice.pitch), "-a", str(req.voice.amplitude),
            "-g", str(req.word_gap), "-w", str(out),
        ]
        if req.ssml:
            cmd.append("-m")
        cmd.append(req.text)
        subprocess.run(cmd, check=True, capture_output=True)
        x, sr = sf.read(out, dtype="float64")
        out.unlink()
        if x.ndim > 1:
            x = x.mean(axis=1)
        x = trim_silence(x, threshold=10 ** (-70 / 20), margin=int(0.005 * sr))
        if x.size == 0:
            raise RuntimeError(f"espeak-ng produced silence for {req}")
        return to_rate(x, sr)

    def prefetch(self, requests: Iterable[SynthRequest]) -> None:
        todo = list(dict.fromkeys(r for r in requests if r not in self._cache))
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for req, audio in zip(todo, pool.map(self._run, todo)):
                self._cache[req] = audio

    def say(self, req: SynthRequest) -> np.ndarray:
        if req not in self._cache:
            self._cache[req] = self._run(req)
        return self._cache[req]

    def check_variants(self, voices: Iterable[Voice]) -> None:
        """espeak-ng silently falls back to the base voice for an unknown variant: refuse that."""
        probe = "Checking the voice variant."
        for voice in {v for v in voices if v.variant}:
            with_variant = self.say(SynthRequest(voice, 160, probe))
            base = self.say(SynthRequest(replace(voice, variant=None), 160, probe))
            if with_variant.shape == base.shape and np.array_equal(with_variant, base):
                raise RuntimeError(f"espeak-ng ignored the variant of voice {voice.spec!r}")


# ---------------------------------------------------------------- turn rendering


@dataclass(frozen=True)
class Delivery:
    """How one turn is spoken."""

    rate: int = 165  # espeak -s, words per minute
    word_gap: int = 0  # espeak -g, extra gap between words (10 ms units)
    gain_db: float = 0.0  # level of the turn relative to the speaker's normal level
    variant: str | None = None  # replaces the speaker's voice variant (None or "" keeps it)
    max_words: int | None = None  # split sentences into phrases of at most this many words
    pause_s: tuple[float, float] = (0.25, 0.55)  # pause between phrases
    gap_s: tuple[float, float] = (0.3, 0.8)  # response gap before the turn
    inhale_p: float = 0.0  # chance of an audible inhalation in each pause
    ellipsis_ms: int = 0  # "..." inside a phrase -> SSML break of this length (0: as text)
    style: str = "normal"
    severity: float = 0.0  # 0 healthy ... 1 worst (labels)


@dataclass(frozen=True)
class Turn:
    speaker: str  # "agent" | "caller"
    text: str = ""
    delivery: Delivery = Delivery()
    backchannel: bool = False  # agent "mm-hm" inside the caller's previous turn
    clips: tuple[str, ...] = ()  # real recordings (ids) instead of synthesis


@dataclass(frozen=True)
class Rendered:
    audio: np.ndarray
    speech_offset: float  # seconds from the audio's start to the first phrase
    phrases: tuple[tuple[float, float, str], ...]
    inhalations: tuple[tuple[float, float], ...]


def split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])(?<!\.\.\.)\s+", text.strip()) if s]


def split_phrases(sentence: str, max_words: int | None) -> list[str]:
    """Sentences as they are, or cut at commas and then into chunks of <= max_words."""
    if not max_words:
        return [sentence]
    out: list[str] = []
    for clause in [c.strip() for c in re.split(r"(?<=[,;:])\s+", sentence) if c.strip()]:
        words = clause.split()
        n = -(-len(words) // max_words)
        bounds = np.linspace(0, len(words), n + 1).round().astype(int)
        out += [" ".join(words[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return out


def synth_request(voice: Voice, d: Delivery, phrase: str) -> SynthRequest:
    v = replace(voice, variant=d.variant) if d.variant else voice
    if d.ellipsis_ms and "..." in phrase:
        parts = [p.strip() for p in phrase.split("...")]
        brk = f' <break time="{d.ellipsis_ms}ms"/> '
        body = brk.join(escape(p) for p in parts if p)
        if phrase.rstrip().endswith("..."):
            body += "."
        return SynthRequest(v, d.rate, f"<speak>{body}</speak>", d.word_gap, ssml=True)
    return SynthRequest(v, d.rate, phrase.replace("...", ","), d.word_gap)


def turn_requests(voice: Voice, turn: Turn) -> list[SynthRequest]:
    d = turn.delivery
    return [synth_request(voice, d, p) for s in split_sentences(turn.text) for p in split_phrases(s, d.max_words)]


def inhalation(rng: np.random.Generator, duration: float, rms: float) -> np.ndarray:
    """An audible inhalation: band-passed noise with a slow rise and a quicker fall."""
    from scipy.signal import butter, sosfilt

    n = int(duration * SR)
    noise = rng.standard_normal(n + SR // 10)
    sos = butter(2, [350, 2600], btype="bandpass", fs=SR, output="sos")
    x = sosfilt(sos, noise)[SR // 10 :]
    peak_at = rng.uniform(0.55, 0.7)
    t = np.arange(n) / n
    env = np.where(t < peak_at, np.sin(0.5 * np.pi * t / peak_at) ** 2,
                   np.cos(0.5 * np.pi * (t - peak_at) / (1 - peak_at)) ** 2)
    x *= env
    return x * (rms / max(np.sqrt(np.mean(x**2)), 1e-12))


def render_turn(espeak: Espeak, voice: Voice, turn: Turn, rng: np.random.Generator,
                max_lead_s: float) -> Rendered:
    """Phrases joined by pauses (with inhalations in some of them), at TURN_RMS * gain.

    Every turn's speech is brought to the same RMS before its gain, so that a turn's level
    relative to the speaker's healthy turns is exactly its gain_db, whatever the voice variant
    (breath noise makes espeak-ng's breathy variants louder than its modal voice).
    """
    d = turn.delivery
    texts = [p for s in split_sentences(turn.text) for p in split_phrases(s, d.max_words)]
    audios = [espeak.say(synth_request(voice, d, p)) for p in texts]
    speech_rms = float(np.sqrt(np.mean(np.concatenate(audios) ** 2)))
    audios = [a * (TURN_RMS / speech_rms) for a in audios]
    speech_rms = TURN_RMS
    pieces: list[np.ndarray] = []
    phrases: list[tuple[float, float, str]] = []
    inhales: list[tuple[float, float]] = []
    t = 0.0

    def add_inhale(room: float) -> None:
        nonlocal t
        dur = float(rng.uniform(0.3, 0.6))
        if dur + 0.15 > room:
            return
        before = float(rng.uniform(0.05, 0.15))
        lead = room - dur - before
        pieces.append(np.zeros(int(round(lead * SR))))
        t += lead
        x = inhalation(rng, dur, speech_rms * 10 ** (float(rng.uniform(-13, -8)) / 20))
        inhales.append((t, t + len(x) / SR))
        pieces.append(x)
        t += len(x) / SR
        pieces.append(np.zeros(int(round(before * SR))))
        t += before

    speech_offset = 0.0
    if d.inhale_p > 0 and rng.random() < d.inhale_p:
        add_inhale(min(max_lead_s, 0.9))
        speech_offset = t
    for i, (text, audio) in enumerate(zip(texts, audios)):
        if i > 0:
            pause = float(rng.uniform(*d.pause_s))
            start_t = t
            if d.inhale_p > 0 and rng.random() < d.inhale_p:
                add_inhale(pause)
            rest = pause - (t - start_t)
            pieces.append(np.zeros(int(round(rest * SR))))
            t = start_t + pause
        phrases.append((t, t + len(audio) / SR, text))
        pieces.append(audio)
        t += len(audio) / SR
    gain = 10 ** (d.gain_db / 20)
    return Rendered(np.concatenate(pieces) * gain, speech_offset, tuple(phrases), tuple(inhales))


# ---------------------------------------------------------------- real recordings


def find_real_clip(clip_id: str) -> Path:
    hits = sorted(p for p in REAL_DIR.rglob(f"{clip_id}.*") if p.suffix.lower() in (".flac", ".wav"))
    if not hits:
        raise FileNotFoundError(f"real recording {clip_id} not found under {REAL_DIR}")
    return hits[0]


def real_transcripts() -> dict[str, str]:
    """clip id -> transcript, from the manifests next to the real recordings."""
    out: dict[str, str] = {}
    import csv

    for manifest in REAL_DIR.rglob("manifest.csv"):
        with manifest.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                path = row.get("path") or row.get("file") or ""
                text = row.get("transcript") or ""
                if path and text:
                    out[Path(path).stem] = text
    return out


def load_clip(clip_id: str) -> np.ndarray:
    x, sr = sf.read(find_real_clip(clip_id), dtype="float64")
    if x.ndim > 1:
        x = x.mean(axis=1)
    x = trim_silence(x, threshold=np.abs(x).max() * 10 ** (-40 / 20), margin=int(0.06 * sr))
    x = to_rate(x, sr)
    fade = int(0.01 * SR)
    ramp = np.linspace(0.0, 1.0, fade)
    x[:fade] *= ramp
    x[-fade:] *= ramp[::-1]
    return x


def clip_digest(clip_id: str) -> str:
    x, sr = sf.read(find_real_clip(clip_id), dtype="int16")
    return hashlib.sha256(np.ascontiguousarray(x).tobytes() + str(sr).encode()).hexdigest()


def render_clips(turn: Turn, rng: np.random.Generator, transcripts: dict[str, str]) -> Rendered:
    pieces: list[np.ndarray] = []
    phrases: list[tuple[float, float, str]] = []
    t = 0.0
    for i, cid in enumerate(turn.clips):
        if i:
            pause = float(rng.uniform(*turn.delivery.pause_s))
            pieces.append(np.zeros(int(round(pause * SR))))
            t += pause
        x = load_clip(cid)
        phrases.append((t, t + len(x) / SR, transcripts.get(cid, cid)))
        pieces.append(x)
        t += len(x) / SR
    return Rendered(np.concatenate(pieces), 0.0, tuple(phrases), ())


# ---------------------------------------------------------------- noise


def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power ~ 1/f**exponent (1 pink, 2 brown), above 20 Hz, unit RMS."""
    from scipy.fft import next_fast_len

    m = next_fast_len(n, real=True)
    spec = rng.standard_normal(m // 2 + 1) + 1j * rng.standard_normal(m // 2 + 1)
    f = np.fft.rfftfreq(m, 1 / SR)
    spec *= np.where(f >= 20, 1.0 / np.maximum(f, 20) ** (exponent / 2), 0.0)
    x = np.fft.irfft(spec, m)[:n]
    return x / np.sqrt(np.mean(x**2))


def hum(n: int, mains_hz: float) -> np.ndarray:
    t = np.arange(n) / SR
    x = sum(a * np.sin(2 * np.pi * k * mains_hz * t + k) for k, a in ((1, 1.0), (2, 0.5), (3, 0.35), (5, 0.2)))
    return x / np.sqrt(np.mean(x**2))


def db(x: float) -> float:
    return 20 * np.log10(max(x, 1e-12))


# ---------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Line:
    noise_floor_dbfs: float = -66.0  # faint pink noise on both channels (no digital silence)
    snr_db: float | None = None  # caller line noise (pink + brown) relative to caller speech
    hum_snr_db: float | None = None  # mains hum relative to caller speech
    mains_hz: float = 50.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    agent: Voice
    caller: Voice | None  # None: the caller's leg is real recordings
    turns: tuple[Turn, ...]
    seed: int
    expected_alerts: tuple[str, ...] = ()
    forbidden_alerts: tuple[str, ...] = ALERT_KINDS
    max_severity: str = "none"
    caller_source: str = "espeak-ng"
    caller_level_dbfs: float = -24.0  # RMS of the caller's healthy speech
    agent_level_dbfs: float = -22.0
    line: Line = Line()


AGENT = Delivery(rate=168, pause_s=(0.25, 0.5), gap_s=(0.4, 0.9))
CALLER = Delivery(rate=165, pause_s=(0.3, 0.6), gap_s=(0.3, 0.8))


MALE_BREATHY, MALE_LABORED = degraded_variants(None)  # the base voices' own (male) variant, degraded


def deteriorated(severity: float, rate_from: int = 168, rate_to: int = 96, breathy: str = MALE_BREATHY,
                 labored: str = MALE_LABORED) -> Delivery:
    """The caller's delivery at SEVERITY (0 healthy .. 1 worst): slower, pausing, breathing, weaker."""
    s = float(np.clip(severity, 0.0, 1.0))
    if s == 0:
        return replace(CALLER, rate=rate_from)
    gap_mid = 0.6 + 2.6 * s
    pause_lo = 0.3 + 0.8 * s
    return Delivery(
        rate=int(round(rate_from + (rate_to - rate_from) * s)),
        word_gap=int(round(3 * s)),
        gain_db=round(-11.0 * s, 2),
        variant="" if s < 0.3 else (breathy if s < 0.65 else labored),
        max_words=None if s < 0.2 else int(round(11 - 8 * s)),
        pause_s=(round(pause_lo, 3), round(pause_lo + 0.3 + 0.7 * s, 3)),
        gap_s=(round(gap_mid - 0.4, 3), round(gap_mid + 0.4, 3)),
        inhale_p=0.0 if s < 0.25 else round(min(1.0, 0.3 + 0.7 * s), 3),
        ellipsis_ms=int(round(400 + 700 * s)),
        style="deteriorating",
        severity=round(s, 3),
    )


def dialogue(pairs: Sequence[tuple[str, str | Delivery, str | None]]) -> tuple[Turn, ...]:
    """(agent text, caller delivery or "", caller text or None) triples -> turns."""
    turns: list[Turn] = []
    for agent_text, delivery, caller_text in pairs:
        if agent_text.startswith("~"):
            turns.append(Turn("agent", agent_text[1:], AGENT, backchannel=True))
        elif agent_text:
            turns.append(Turn("agent", agent_text, AGENT))
        if caller_text is not None:
            turns.append(Turn("caller", caller_text, delivery if isinstance(delivery, Delivery) else CALLER))
    return tuple(turns)


SLOW = replace(CALLER, rate=115, pause_s=(0.35, 0.7), gap_s=(0.5, 1.0), style="slow_well")
BREATHY = replace(CALLER, rate=165, style="breathy")
NAMED_DELIVERIES = {"normal": CALLER, "slow": SLOW, "breathy": BREATHY}
"""Caller deliveries a dialogue's turns name; a number is a severity along its deterioration."""


def caller_delivery(spec: str | float, deterioration: dict) -> Delivery:
    """A turn's caller delivery: a named one, or :func:`deteriorated` at severity ``spec`` with the
    dialogue's ``deterioration`` (its rates and voice variants, and optionally the style it is labelled)."""
    if isinstance(spec, str):
        return NAMED_DELIVERIES[spec]
    args = dict(deterioration)
    style = args.pop("style", None)
    delivery = deteriorated(spec, **args)
    return replace(delivery, style=style) if style else delivery


def read_data(name: str) -> dict:
    return json.loads((FIXTURE_DATA / f"{name}.json").read_text(encoding="utf-8"))


def load_dialogue(spec: str | dict) -> tuple[Turn, ...]:
    """Turns of a dialogue given inline or by name (``dialogue_NAME.json``, shared by calls)."""
    if isinstance(spec, str):
        spec = read_data(f"dialogue_{spec}")
    if "real" in spec:
        return real_dialogue([(agent, tuple(clips)) for agent, clips in spec["real"]])
    deterioration = spec.get("deterioration", {})
    return dialogue([(agent, caller_delivery(d, deterioration), caller) for agent, d, caller in spec["turns"]])


def load_scenario(data: dict) -> Scenario:
    """A scenario from its data file: voices, seed, labels, line and dialogue."""
    extra = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()
             if k in ("expected_alerts", "forbidden_alerts", "max_severity", "caller_source",
                      "caller_level_dbfs", "agent_level_dbfs")}
    if "line" in data:
        extra["line"] = Line(**data["line"])
    return Scenario(name=data["name"], description=data["description"], agent=Voice(**data["agent"]),
                    caller=Voice(**data["caller"]) if data["caller"] else None, seed=data["seed"],
                    turns=load_dialogue(data["dialogue"]), **extra)


def scenarios() -> list[Scenario]:
    """The fixture calls, in the order of ``fixture_data/index.json``."""
    return [load_scenario(read_data(name)) for name in read_data("index")["calls"]]


def real_dialogue(pairs: Sequence[tuple[str, tuple[str, ...]]]) -> tuple[Turn, ...]:
    real = Delivery(pause_s=(0.3, 0.6), gap_s=(0.3, 0.8), style="real")
    turns: list[Turn] = []
    for agent_text, clips in pairs:
        turns.append(Turn("agent", agent_text, AGENT))
        if clips:
            turns.append(Turn("caller", delivery=real, clips=clips))
    return tuple(turns)


# ---------------------------------------------------------------- call assembly


@dataclass(frozen=True)
class Placed:
    turn: Turn
    rendered: Rendered
    start: float  # of the rendered audio (inhalation included)
    gap: float | None  # response gap: previous turn's speech end -> this turn's first phrase

    @property
    def speech_start(self) -> float:
        return self.start + self.rendered.speech_offset

    @property
    def end(self) -> float:
        return self.start + len(self.rendered.audio) / SR


def layout(sc: Scenario, espeak: Espeak, transcripts: dict[str, str]) -> list[Placed]:
    rng = np.random.default_rng(sc.seed)
    placed: list[Placed] = []
    t = 0.8
    for turn in sc.turns:
        voice = sc.agent if turn.speaker == "agent" else sc.caller
        gap = float(rng.uniform(*turn.delivery.gap_s)) if placed else 0.0
        if turn.clips:
            r = render_clips(turn, rng, transcripts)
        else:
            assert voice is not None
            r = render_turn(espeak, voice, turn, rng, max_lead_s=gap - 0.1)
        if turn.backchannel:
            host = placed[-1]
            ends = [e for _, e, _ in host.rendered.phrases]
            k = next((i for i, e in enumerate(ends[:-1]) if e > 0.35 * ends[-1]), 0)
            start = host.start + ends[k] + 0.12
            placed.append(Placed(turn, r, start, None))
            continue
        start = t + gap - r.speech_offset
        placed.append(Placed(turn, r, start, gap if len(placed) else None))
        t = start + len(r.audio) / SR
    return placed


def mix(sc: Scenario, placed: list[Placed]) -> tuple[np.ndarray, dict]:
    """Stereo float mix, channel levels set, line noise added, peak kept below -1 dBFS."""
    total = int((max(p.end for p in placed) + 1.0) * SR)
    chans = np.zeros((2, total))
    for p in placed:
        ch = AGENT_CHANNEL if p.turn.speaker == "agent" else CALLER_CHANNEL
        i = int(round(p.start * SR))
        chans[ch, i : i + len(p.rendered.audio)] += p.rendered.audio

    def speech_rms(speaker: str, healthy_only: bool) -> float:
        segs = [
            chans[AGENT_CHANNEL if speaker == "agent" else CALLER_CHANNEL,
                  int((p.start + a) * SR) : int((p.start + b) * SR)]
            for p in placed if p.turn.speaker == speaker and not p.turn.backchannel
            and (not healthy_only or p.turn.delivery.severity == 0)
            for a, b, _ in p.rendered.phrases
        ]
        if not segs:  # labored from the start: its own level is the reference
            return speech_rms(speaker, False)
        return float(np.sqrt(np.mean(np.concatenate(segs) ** 2)))

    levels = {}
    for speaker, ch, target in (("agent", AGENT_CHANNEL, sc.agent_level_dbfs),
                                ("caller", CALLER_CHANNEL, sc.caller_level_dbfs)):
        chans[ch] *= 10 ** (target / 20) / speech_rms(speaker, True)
        levels[speaker] = target
    rng = np.random.default_rng(sc.seed + 1)
    caller_ref = 10 ** (sc.caller_level_dbfs / 20)
    line = sc.line
    if line.snr_db is not None:
        noise = 0.7 * colored_noise(rng, total, 1.0) + 0.7 * colored_noise(rng, total, 2.0)
        noise /= np.sqrt(np.mean(noise**2))
        chans[CALLER_CHANNEL] += noise * caller_ref * 10 ** (-line.snr_db / 20)
    if line.hum_snr_db is not None:
        chans[CALLER_CHANNEL] += hum(total, line.mains_hz) * caller_ref * 10 ** (-line.hum_snr_db / 20)
    for ch in (AGENT_CHANNEL, CALLER_CHANNEL):
        chans[ch] += colored_noise(rng, total, 1.0) * 10 ** (line.noise_floor_dbfs / 20)
    peak = float(np.abs(chans).max())
    scale = min(1.0, 10 ** (-1 / 20) / peak)
    chans *= scale
    info = {
        "speech_level_dbfs": {k: round(v + db(scale), 2) for k, v in levels.items()},
        "peak_dbfs": round(db(peak * scale), 2),
    }
    return chans.T.astype(np.float32), info


def r3(x: float) -> float:
    return round(float(x), 3)


def label(sc: Scenario, placed: list[Placed], duration: float, levels: dict, digest: str,
          versions: dict) -> dict:
    caller_turns = [p for p in placed if p.turn.speaker == "caller"]
    onset = next((p.speech_start for p in caller_turns if p.turn.delivery.severity > 0), None)
    turns = []
    distress = []
    for i, p in enumerate(placed):
        d = p.turn.delivery
        voice = sc.agent if p.turn.speaker == "agent" else sc.caller
        if voice is not None and d.variant and p.turn.speaker == "caller":
            voice = replace(voice, variant=d.variant)
        phrases = [{"start_s": r3(p.start + a), "end_s": r3(p.start + b), "text": t}
                   for a, b, t in p.rendered.phrases]
        entry = {
            "index": i,
            "speaker": p.turn.speaker,
            "channel": AGENT_CHANNEL if p.turn.speaker == "agent" else CALLER_CHANNEL,
            "start_s": r3(p.speech_start),
            "end_s": r3(p.end),
            "text": " ".join(ph["text"] for ph in phrases),
            "response_gap_s": None if p.gap is None else r3(p.gap),
            "backchannel": p.turn.backchannel,
            "style": "backchannel" if p.turn.backchannel else d.style,
            "severity": d.severity,
            "source": "real" if p.turn.clips else "espeak-ng",
            "voice": None if p.turn.clips else voice.spec,
            "pitch": None if p.turn.clips else voice.pitch,
            "rate_wpm": None if p.turn.clips else d.rate,
            "word_gap": None if p.turn.clips else d.word_gap,
            "gain_db": d.gain_db,
            "clips": list(p.turn.clips),
            "phrases": phrases,
            "inhalations": [{"start_s": r3(p.start + a), "end_s": r3(p.start + b)}
                            for a, b in p.rendered.inhalations],
        }
        turns.append(entry)
        if p.turn.speaker == "caller":
            distress += [dict(ph, turn=i) for ph in phrases
                         if any(w in ph["text"].lower() for w in DISTRESS_WORDS)]
    return {
        "name": sc.name,
        "scenario": sc.name,
        "description": sc.description,
        "files": {"16000": f"{sc.name}_16k.wav", "8000": f"{sc.name}_8k.wav"},
        "sample_rates": [SR, TEL_SR],
        "channels": {"agent": AGENT_CHANNEL, "caller": CALLER_CHANNEL,
                     "layout": "stereo: agent left (0), caller right (1)"},
        "duration_s": r3(duration),
        "trouble_onset_s": None if onset is None else r3(onset),
        "expected_alerts": list(sc.expected_alerts),
        "forbidden_alerts": list(sc.forbidden_alerts),
        "max_severity": sc.max_severity,
        "caller": {"source": sc.caller_source,
                   "voice": None if sc.caller is None else asdict(sc.caller)},
        "agent": {"source": "espeak-ng", "voice": asdict(sc.agent)},
        "line": asdict(sc.line),
        "levels": levels,
        "distress_phrases": distress,
        "turns": turns,
        "generator": {"script": "tools/make_fixtures.py", "version": GENERATOR_VERSION,
                      "params_sha256": digest, **versions},
    }


def audio_whole(path: Path, duration_s: float | None) -> bool:
    """Whether the written recording ``path`` is there whole: its header's length is the label's
    ``duration_s`` (to 10 ms) and its last sample decodes. A file cut short (a run killed while it
    wrote, a full disk) or damaged fails, and is made again however its inputs' hash matches."""
    try:
        with sf.SoundFile(path) as fh:
            if duration_s is None or fh.frames <= 0 or abs(fh.frames / fh.samplerate - float(duration_s)) > 0.01:
                return False
            fh.seek(fh.frames - 1)
            return len(fh.read(1)) == 1
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError, ValueError):
        return False


def write_wav_pair(audio: np.ndarray, path16: Path, path8: Path) -> None:
    sf.write(path16, audio, SR, subtype="PCM_16", format="WAV")
    tmp = path8.with_suffix(".tmp.wav")
    subprocess.run(["sox", "-R", str(path16), "-r", str(TEL_SR), "-b", "16", str(tmp), "sinc", "300-3400"],
                   check=True, capture_output=True)
    tmp.replace(path8)


# ---------------------------------------------------------------- speech set (mono utterances)

EN_TEXT = ("The package arrived on Tuesday morning, but the box was badly damaged, and two of the glasses "
           "inside were broken. I called the store right away, and they promised to send a replacement "
           "before the end of the week. Until then, we will use the old ones.")

KO_PASSAGE = (
    "안녕하세요. 저는 서울에 사는 김민수입니다.",
    "오늘은 날씨가 아주 맑고 따뜻합니다.",
    "아침에 공원에서 산책을 하고 커피를 한 잔 마셨습니다.",
    "오후에는 친구와 함께 도서관에 가서 책을 읽을 예정입니다.",
    "저녁에는 가족과 함께 맛있는 음식을 먹고 싶습니다.",
    "주말에는 부모님 댁에 가서 텃밭 일을 도와 드릴 겁니다.",
    "다음 달에는 제주도로 여행을 갈 계획입니다.",
    "감사합니다.",
)
KO_DISTRESS = (
    ("네, 주문 번호는 삼칠일이에요.", False),
    ("그런데 잠깐만요.", False),
    ("숨을 쉴 수가 없어요.", True),
    ("가슴이 아파요.", True),
    ("빨리 도와주세요.", False),
    ("주소는 서울시 마포구 합정동 십이번지예요.", False),
)


@dataclass(frozen=True)
class Utterance:
    name: str
    voice: Voice
    rate: int
    segments: tuple[tuple[str, bool], ...]  # (text, is distress phrase)
    pause_s: float  # silence between segments
    language: str
    note: str


def utterances() -> list[Utterance]:
    en = ((EN_TEXT, False),)
    us, f = Voice("en-us", None, 50), Voice("en", "cmnormalf", 60)
    out = [
        Utterance("en_us_s175", us, 175, en, 0.0, "en", "normal voice, fast-normal rate"),
        Utterance("en_us_s90", us, 90, en, 0.0, "en", "normal voice, slow rate (same text)"),
        Utterance("en_f_s175", f, 175, en, 0.0, "en", "second voice (female variant), fast-normal rate"),
        Utterance("en_f_s90", f, 90, en, 0.0, "en", "second voice, slow rate (same text)"),
    ]
    for base, tag in ((Voice("en-us", None, 50, 40), "us"), (Voice("en", None, 60, 40), "f")):
        for kind, variant in (("normal", None if tag == "us" else "cmnormalf"),
                              ("breathy", "cmbreathy" if tag == "us" else "cmbreathyf"),
                              ("labored", "cmlabored" if tag == "us" else "cmlaboredf")):
            out.append(Utterance(f"en_{tag}_{kind}_a40", replace(base, variant=variant), 160, en, 0.0, "en",
                                 f"{kind} phonation, amplitude 40 (same text and rate across the set)"))
    out.append(Utterance("ko_passage", Voice("ko", None, 50), 160, tuple((s, False) for s in KO_PASSAGE),
                         1.2, "ko", "Korean passage, 1.2 s pauses between sentences"))
    out.append(Utterance("ko_distress", Voice("ko", None, 50), 160, KO_DISTRESS, 0.8, "ko",
                         "Korean utterance with distress phrases in the middle"))
    return out


def render_utterance(espeak: Espeak, u: Utterance) -> tuple[np.ndarray, list[dict]]:
    pieces, segs, t = [np.zeros(int(0.3 * SR))], [], 0.3
    for i, (text, distress) in enumerate(u.segments):
        if i:
            pieces.append(np.zeros(int(round(u.pause_s * SR))))
            t += u.pause_s
        x = espeak.say(SynthRequest(u.voice, u.rate, text))
        segs.append({"start_s": r3(t), "end_s": r3(t + len(x) / SR), "text": text, "distress": distress})
        pieces.append(x)
        t += len(x) / SR
    pieces.append(np.zeros(int(0.3 * SR)))
    audio = np.concatenate(pieces)
    peak = np.abs(audio).max()
    if peak > 0.89:
        audio *= 0.89 / peak
    return audio.astype(np.float32), segs


# ---------------------------------------------------------------- driver


def sha(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def common_inputs() -> dict:
    variants = {p.name: p.read_text() for p in sorted(VARIANTS_DIR.iterdir()) if p.is_file()}
    return {
        "generator_version": GENERATOR_VERSION,
        "generator_source": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "variants": variants,
        "phonation": phonation_lines(),
        "espeak_ng": tool_version(["espeak-ng", "--version"]).split("Data at")[0].strip(),
        "sox": tool_version(["sox", "--version"]),
        "numpy": np.__version__,
    }


def versions_of(common: dict) -> dict:
    return {"espeak_ng": common["espeak_ng"], "sox": common["sox"]}


def load_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, obj: dict) -> None:
    """Write OBJ as JSON, leaving the file untouched when its content would not change."""
    text = json.dumps(obj, indent=1, ensure_ascii=False) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def call_up_to_date(folder: Path, name: str, digest: str) -> bool:
    """Whether the call ``name`` in ``folder`` was made from the inputs of ``digest``: its label
    and its ``NAME.made`` stamp carry the hash, and both its audio files are whole (:func:`audio_whole`)."""
    old = load_json(folder / f"{name}.json")
    made = folder / f"{name}.made"
    return (bool(old) and old.get("generator", {}).get("params_sha256") == digest
            and all(audio_whole(folder / f"{name}_{k}k.wav", old.get("duration_s")) for k in (16, 8))
            and made.exists() and made.read_text().strip() == digest)


class Generator:
    def __init__(self, out: Path, jobs: int, force: bool, log=print) -> None:
        self.out = out
        self.jobs = jobs
        self.force = force
        self.log = log
        self.common = common_inputs()
        self._espeak: Espeak | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.made: list[Path] = []
        self.skipped: list[Path] = []

    def espeak(self) -> Espeak:
        if self._espeak is None:
            gen = self.out / "generated"
            gen.mkdir(parents=True, exist_ok=True)
            data_path = build_espeak_data(gen, VARIANTS_DIR)
            self._tmp = tempfile.TemporaryDirectory(prefix="fixtures-")
            self._espeak = Espeak(data_path, Path(self._tmp.name), self.jobs)
        return self._espeak

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- speech set
    def speech(self) -> None:
        folder = self.out / "generated" / "speech"
        folder.mkdir(parents=True, exist_ok=True)
        index_path = folder / "index.json"
        old = (load_json(index_path) or {}).get("files", {})
        entries: dict[str, dict] = {}
        todo: list[tuple[Utterance, str]] = []
        for u in utterances():
            digest = sha({"common": self.common, "utterance": asdict(u)})
            name = f"{u.name}.wav"
            if not self.force and old.get(name, {}).get("params_sha256") == digest and (folder / name).exists():
                entries[name] = old[name]
                self.skipped.append(folder / name)
            else:
                todo.append((u, digest))
        if todo:
            es = self.espeak()
            es.check_variants(u.voice for u, _ in todo)
            es.prefetch(SynthRequest(u.voice, u.rate, t) for u, _ in todo for t, _ in u.segments)
            for u, digest in todo:
                audio, segs = render_utterance(es, u)
                path = folder / f"{u.name}.wav"
                sf.write(path, audio, SR, subtype="PCM_16", format="WAV")
                self.made.append(path)
                entries[path.name] = {
                    "text": " ".join(s["text"] for s in segs),
                    "language": u.language,
                    "voice": u.voice.spec,
                    "pitch": u.voice.pitch,
                    "amplitude": u.voice.amplitude,
                    "wpm": u.rate,
                    "note": u.note,
                    "sample_rate": SR,
                    "duration_s": r3(len(audio) / SR),
                    "segments": segs,
                    "params_sha256": digest,
                }
        write_json(index_path, {"description": "mono 16 kHz espeak-ng utterances made by tools/make_fixtures.py",
                                "files": dict(sorted(entries.items()))})

    # -- calls
    def call(self, sc: Scenario) -> None:
        folder = self.out / "calls"
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*.wav\n*.flac\n*.tmp.wav\n*.made\n")
        clips = sorted({c for t in sc.turns for c in t.clips})
        digest = sha({"common": self.common, "scenario": asdict(sc),
                      "clips": {c: clip_digest(c) for c in clips}})
        label_path = folder / f"{sc.name}.json"
        wavs = [folder / f"{sc.name}_16k.wav", folder / f"{sc.name}_8k.wav"]
        made = folder / f"{sc.name}.made"  # the hash the wavs were made with: the label is committed, they are not
        if not self.force and call_up_to_date(folder, sc.name, digest):
            self.skipped += [label_path, *wavs]
            return
        started = time.perf_counter()
        es = self.espeak()
        voices = [v for v in (sc.agent, sc.caller) if v is not None]
        voices += [replace(sc.caller, variant=t.delivery.variant) for t in sc.turns
                   if sc.caller is not None and t.speaker == "caller" and t.delivery.variant]
        es.check_variants(voices)
        es.prefetch(r for t in sc.turns if not t.clips
                    for r in turn_requests(sc.agent if t.speaker == "agent" else sc.caller, t))
        placed = layout(sc, es, real_transcripts() if clips else {})
        audio, levels = mix(sc, placed)
        write_wav_pair(audio, *wavs)
        write_json(label_path, label(sc, placed, len(audio) / SR, levels, digest, versions_of(self.common)))
        made.write_text(digest + "\n")
        self.made += [label_path, *wavs]
        self.log(f"  {sc.name}: {len(audio) / SR:.1f} s call in {time.perf_counter() - started:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder, normally audio_fixtures")
    ap.add_argument("--only", action="append", default=[],
                    help="generate only this item (a call scenario name, or 'speech'); repeatable")
    ap.add_argument("--force", action="store_true", help="regenerate even when up to date")
    ap.add_argument("-j", "--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                    help="parallel espeak-ng processes")
    ap.add_argument("--list", action="store_true", help="list the items and exit")
    args = ap.parse_args(argv)
    all_scenarios = scenarios()
    names = ["speech"] + [s.name for s in all_scenarios]
    if args.list:
        print("\n".join(names))
        return 0
    unknown = [n for n in args.only if n not in names]
    if unknown:
        print(f"make_fixtures: unknown item(s) {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"make_fixtures: {tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 1
    started = time.perf_counter()
    gen = Generator(args.out, args.jobs, args.force)
    try:
        wanted = set(args.only or names)
        if "speech" in wanted:
            gen.speech()
        for sc in all_scenarios:
            if sc.name in wanted:
                gen.call(sc)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.decode(errors="replace").strip() if getattr(exc, "stderr", None) else ""
        print(f"make_fixtures: failed: {exc} {detail}".rstrip(), file=sys.stderr)
        return 1
    finally:
        gen.close()
    print(f"make_fixtures: {len(gen.made)} file(s) written, {len(gen.skipped)} up to date, "
          f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
