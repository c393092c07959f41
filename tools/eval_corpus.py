#!/usr/bin/env python3
"""Generate the labelled evaluation corpus: seeded stereo calls for measuring detection.

    .venv/bin/python -m tools.eval_corpus OUT [--slice] [--replicates N] [-j N] [--force] [--keep-existing]

Writes ``OUT/<call_id>_16k.flac`` and ``OUT/<call_id>_8k.flac`` (telephone band, G.711
on some calls), stereo, agent on the left (channel 0) and caller on the right (channel 1),
the label ``OUT/<call_id>.json`` beside them and ``OUT/index.json`` (every call's id,
split and condition). ``--slice`` writes the small set of shorter calls the tests use
instead of the full corpus.

The full corpus draws the design (:func:`design`, one cell per pair of calls) ``--replicates``
times (:data:`REPLICATES`): call ``i`` of replicate ``r`` (from 0) has seed
``BASE_SEED + r * 2 * len(design()) + i`` and the cell ``design()[i // 2]``, so the first
replicate's seeds (1000-1239) and conditions do not depend on how many replicates follow.
Everything about a call derives from its cell and seed: its line's noise type and codec from
the seed's pair ``seed // 2``, so both calls of a pair share a condition and fall into
different halves (the split is the seed's parity), and the rest (voices, dialogue, rate,
levels, SNR, line events) from the seed itself. The machinery (espeak-ng voices, turn rendering, deterioration curve, real
recordings) is tools/make_fixtures.py's; the dialogue grammar and voice lists are the
data files in ``tools/eval_data/``, described in ``tools/eval_data/README.md``.

A call is skipped when its label carries the same parameter hash (the seed, this
generator's and make_fixtures' source, the data files, the voice variants, the real
recordings and breath sounds, the espeak-ng and sox versions) and its audio exists;
with ``--keep-existing`` whenever its label (of the same seed) and audio exist, whatever
its hash (to add replicates to a corpus when the generator changed in ways that leave the
calls' content as it was; the label keeps the hash of the generator that wrote it).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import soundfile as sf

from tools.make_fixtures import (
    AGENT,
    AGENT_CHANNEL,
    ALERT_KINDS,
    CALLER,
    CALLER_CHANNEL,
    FIXTURES_SRC,
    REAL_DIR,
    SR,
    TEL_SR,
    TURN_RMS,
    VARIANTS_DIR,
    Delivery,
    Espeak,
    Line,
    Placed,
    Rendered,
    Scenario,
    Turn,
    Voice,
    EVAL_DATA,
    audio_whole,
    build_espeak_data,
    degraded_variants,
    colored_noise,
    common_inputs,
    db,
    deteriorated,
    hum,
    inhalation,
    label as fixture_label,
    load_clip,
    load_json,
    r3,
    real_transcripts,
    render_turn,
    sha,
    split_sentences,
    to_rate,
    write_json,
)

EVAL_VERSION = 1
BASE_SEED = 1000  # even: seed parity is the split, pairs (2k, 2k+1) share a condition
SLICE_BASE_SEED = 9000
REPLICATES = 2  # draws of the design in the full corpus (make eval-corpus)
DATA_DIR = EVAL_DATA
BREATHING_DIR = FIXTURES_SRC / "breathing"
NOISE_FLOOR_DBFS = -66.0
SEVERITY_PEAK = {"mild": (0.35, 0.35), "moderate": (0.6, 0.7), "severe": (0.9, 1.0)}
DEGRADES = ("all", "tempo", "pauses_breaths", "voice")
ONSETS = ("start", "abrupt", "gradual")
NEGATIVES = ("slow", "hesitant", "elderly_quiet", "breathy", "laugh_cough", "monologue")
NOISES = ("none", "white", "pink", "babble", "hum")
CODECS = ("none", "ulaw", "alaw")
# alert kinds each degraded cue family should raise once the trouble is clear
DEGRADE_ALERTS = {
    "tempo": ("slow_speech",),
    "pauses_breaths": ("long_pauses", "slow_response", "short_phrases"),
    "voice": ("breathy_voice", "weak_voice"),
    "all": ("possible_emergency",),
}
# kinds a hard negative may legitimately raise (warnings); all others are forbidden
NEGATIVE_ALLOWED = {
    "slow": ("slow_speech", "slow_response"),
    "hesitant": ("long_pauses", "slow_response", "short_phrases"),
    "elderly_quiet": ("slow_speech", "slow_response", "weak_voice", "breathy_voice"),
    "breathy": ("breathy_voice",),
    "laugh_cough": ("short_phrases",),
    "monologue": ("short_phrases", "slow_response"),
}


# ---------------------------------------------------------------- design


@dataclass(frozen=True)
class Cell:
    """The condition a pair of calls shares (one call in each split)."""

    group: str  # labored | normal | hard_negative
    severity: str = "none"
    onset: str | None = None
    degrade: str | None = None
    negative: str | None = None
    source: str = "espeak"
    short: bool = False  # slice calls: fewer exchanges, earlier onset
    line: tuple[tuple[str, object], ...] = ()  # line conditions forced (slice), else drawn


def design() -> list[Cell]:
    """The full corpus, one cell per pair: 54 labored, 42 normal, 24 hard-negative pairs."""
    cells = [Cell("labored", sev, onset, deg)
             for sev in SEVERITY_PEAK for deg in DEGRADES for onset in ONSETS]
    cells += [Cell("labored", sev, onset, "all") for sev in SEVERITY_PEAK for onset in ONSETS]
    cells += [Cell("labored", sev, onset, "all", source="real") for sev in SEVERITY_PEAK for onset in ONSETS]
    cells += [Cell("normal") for _ in range(36)] + [Cell("normal", source="real") for _ in range(6)]
    cells += [Cell("hard_negative", negative=neg) for neg in NEGATIVES for _ in range(4)]
    return cells


def max_replicates() -> int:
    """Replicates whose seeds stay below the slice's."""
    return (SLICE_BASE_SEED - BASE_SEED) // (2 * len(design()))


def full_calls(replicates: int = REPLICATES) -> list[tuple[int, Cell]]:
    """(seed, cell) of every call of the full corpus, replicate after replicate: each replicate
    holds every cell of :func:`design` twice (a pair of consecutive seeds, one in each half)."""
    if not 1 <= replicates <= max_replicates():
        raise ValueError(f"replicates must be 1..{max_replicates()}, not {replicates}")
    cells = design()
    n = 2 * len(cells)
    return [(BASE_SEED + r * n + i, cells[i // 2]) for r in range(replicates) for i in range(n)]


def replicate_of(seed: int) -> int:
    """The replicate (from 0) a full-corpus seed belongs to."""
    return (seed - BASE_SEED) // (2 * len(design()))


def slice_design() -> list[Cell]:
    """Twelve short calls covering every group, each degrade, real speech and the line conditions."""
    def forced(**kw: object) -> tuple[tuple[str, object], ...]:
        return tuple(sorted(kw.items()))

    quiet = forced(noise="none", codec="none", packet_loss=False, hold=False, overlap=False)
    return [
        Cell("labored", "severe", "abrupt", "all", short=True, line=quiet),
        Cell("labored", "severe", "start", "all", source="real", short=True,
             line=forced(noise="pink", snr_db=20.0, codec="ulaw", packet_loss=False, hold=False, overlap=False)),
        Cell("labored", "moderate", "gradual", "tempo", short=True,
             line=forced(noise="white", snr_db=15.0, codec="alaw", packet_loss=False, hold=False, overlap=False)),
        Cell("labored", "moderate", "abrupt", "pauses_breaths", short=True, line=quiet),
        Cell("labored", "mild", "start", "voice", short=True, line=quiet),
        Cell("normal", short=True,
             line=forced(noise="white", snr_db=10.0, codec="none", packet_loss=True, hold=False, overlap=True)),
        Cell("normal", source="real", short=True,
             line=forced(noise="babble", snr_db=18.0, codec="ulaw", packet_loss=False, hold=False, overlap=False)),
        Cell("normal", short=True,
             line=forced(noise="hum", snr_db=25.0, codec="alaw", packet_loss=False, hold=True, overlap=False)),
        Cell("hard_negative", negative="slow", short=True, line=quiet),
        Cell("hard_negative", negative="hesitant", short=True, line=quiet),
        Cell("hard_negative", negative="breathy", short=True, line=quiet),
        Cell("hard_negative", negative="laugh_cough", short=True, line=quiet),
    ]


@dataclass(frozen=True)
class Condition:
    group: str
    severity: str
    onset: str | None
    ramp_s: float | None
    degrade: str | None
    negative: str | None
    source: str
    breaths: str
    rate_wpm: int
    caller_voice: str
    agent_voice: str
    caller_level_dbfs: float
    noise: str
    snr_db: float | None
    codec: str
    packet_loss: bool
    overlap: bool
    hold: bool
    domain: str


@dataclass(frozen=True)
class Exchange:
    agent: str
    caller: str | None  # None: the agent's turn only
    clips: tuple[str, ...] = ()  # real recordings for the caller instead of synthesis


@dataclass(frozen=True)
class CallPlan:
    call_id: str
    seed: int
    split: str
    cell: Cell
    condition: Condition
    agent: Voice
    caller: Voice | None
    agent_level_dbfs: float
    natural: Delivery  # the caller's healthy delivery
    breathy_variant: str
    labored_variant: str
    peak: float  # severity reached (0 for no trouble)
    onset_s: float | None  # when trouble starts (None: none; 0: from the first caller word)
    symptom_talk: bool  # the caller says how he or she feels once in trouble
    exchanges: tuple[Exchange, ...]
    topic: str
    hold_at: int | None  # exchange index whose agent turn follows the hold
    hold_s: float
    overlap_p: float
    cough_p: float
    laugh_p: float
    filler_p: float
    mains_hz: float
    more: tuple[Exchange, ...] = field(default=())  # exchanges to go on with until the trouble has peaked


# ---------------------------------------------------------------- data


def load_data(name: str) -> dict:
    path = DATA_DIR / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"{path}: cannot read the corpus data ({exc})") from exc


DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def spoken_digits(rng: np.random.Generator, n: int) -> str:
    return " ".join(DIGITS[int(d)] for d in rng.integers(0, 10, n))


def fill(text: str, slots: dict[str, str]) -> str:
    return text.format(**slots)


def slots_for(rng: np.random.Generator, g: dict, company: str, agent_name: str) -> dict[str, str]:
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    last = pick(g["names"]["caller_last"])
    return {
        "company": company, "agent": agent_name,
        "caller_first": pick(g["names"]["caller_first"]), "caller_last": last,
        "number": ", ".join(spoken_digits(rng, 3) for _ in range(3)),
        "digits": spoken_digits(rng, 4),
        "house": str(int(rng.integers(2, 90))),
        "street": pick(g["streets"]), "day": pick(g["days"]), "time": pick(g["times"]),
        "postcode": f"{pick('BGLMNS')} {pick('ACDKRT')} {spoken_digits(rng, 1)}, {spoken_digits(rng, 1)} "
                    f"{pick('EHJPW')} {pick('EHJPW')}",
        "spelled": ", ".join(last.upper()),
    }


# ---------------------------------------------------------------- planning


def choose_voices(rng: np.random.Generator, v: dict, negative: str | None) -> tuple[Voice, Voice, str, str]:
    """(caller, agent, breathy variant, labored variant), caller and agent differing."""
    female = bool(rng.random() < 0.5)
    accent = v["accents"][int(rng.integers(len(v["accents"])))]
    variants = v["female_variants" if female else "male_variants"]
    variant = variants[int(rng.integers(len(variants)))]
    if negative == "elderly_quiet" and rng.random() < 0.5:
        variant = v["elderly_variants"]["female" if female else "male"]
    lo, hi = v["pitch"]["female" if female else "male"]
    caller = Voice(accent, variant, int(rng.integers(lo, hi + 1)), v["caller_amplitude"])
    breathy, labored = degraded_variants(variant)
    a_female = bool(rng.random() < 0.5)
    a_variants = [x for x in v["female_variants" if a_female else "male_variants"] if x != variant]
    a_accents = [a for a in v["accents"] if a != accent]
    alo, ahi = v["pitch"]["female" if a_female else "male"]
    agent = Voice(a_accents[int(rng.integers(len(a_accents)))], a_variants[int(rng.integers(len(a_variants)))],
                  int(rng.integers(alo, ahi + 1)), v["agent_amplitude"])
    return caller, agent, breathy, labored


def rate_for(rng: np.random.Generator, cell: Cell) -> int:
    lo, hi = {"slow": (110, 125), "elderly_quiet": (115, 140)}.get(cell.negative or "", (130, 200))
    return int(rng.integers(lo, hi + 1))


def natural_delivery(rng: np.random.Generator, cell: Cell, rate: int, breathy: str) -> Delivery:
    d = replace(CALLER, rate=rate, style="normal")
    neg = cell.negative
    if neg == "slow":
        d = replace(d, pause_s=(0.35, 0.7), gap_s=(0.5, 1.0), style="slow_well")
    elif neg == "hesitant":
        ms = int(rng.integers(1200, 3001))
        d = replace(d, pause_s=(0.5, 1.4), gap_s=(0.8, 2.4), ellipsis_ms=ms, style="hesitant")
    elif neg == "elderly_quiet":
        d = replace(d, pause_s=(0.4, 0.8), gap_s=(0.6, 1.3), style="elderly_quiet")
    elif neg == "breathy":
        d = replace(d, variant=breathy, style="breathy")
    elif neg == "laugh_cough":
        d = replace(d, gap_s=(1.1, 1.8), style="laugh_cough")
    elif neg == "monologue":
        d = replace(d, style="monologue")
    return d


def line_conditions(cell: Cell, seed: int, rng: np.random.Generator) -> dict:
    """Noise, codec and line events: the noise type and codec from the pair, the rest per call."""
    pair = np.random.default_rng([seed // 2, 7])
    out = {"noise": NOISES[int(pair.integers(len(NOISES)))], "codec": CODECS[int(pair.integers(len(CODECS)))]}
    snr = float(np.round(rng.uniform(5, 30), 1))
    out.update(snr_db=None if out["noise"] == "none" else snr,
               packet_loss=bool(rng.random() < 0.3), overlap=bool(rng.random() < 0.35),
               hold=bool(rng.random() < 0.25))
    forced = dict(cell.line)
    out.update(forced)
    if out["noise"] == "none":
        out["snr_db"] = None
    return out


def dialogue(rng: np.random.Generator, g: dict, cell: Cell, slots: dict, domain: str,
             topic: dict) -> tuple[Exchange, ...]:
    dom = g["domains"][domain]
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    ex = topic["exchanges"]
    n_topic = int(rng.integers(3, 5)) if cell.short else int(rng.integers(min(6, len(ex)), len(ex) + 1))
    keep = np.sort(rng.choice(len(ex), size=n_topic, replace=False))
    body = [ex[i] for i in keep]
    if not cell.short:
        for gen in rng.choice(len(g["generic"]), size=int(rng.integers(1, 3)), replace=False):
            body.insert(int(rng.integers(1, len(body) + 1)), g["generic"][int(gen)])
    pairs = [pick(dom["openings"])] + body + [pick(dom["closings"])]
    return tuple(Exchange(fill(a, slots), fill(c, slots)) for a, c in pairs)


def real_clip_pool() -> list[str]:
    """The LJ Speech clips (one speaker, enough material for a whole caller leg)."""
    return sorted(p.stem for p in (REAL_DIR / "coqui-tts-ljspeech").rglob("*.flac"))


def with_clips(rng: np.random.Generator, exchanges: tuple[Exchange, ...], most: int) -> tuple[Exchange, ...]:
    """EXCHANGES with the caller's lines replaced by 1..MOST real clips each."""
    pool = list(rng.permutation(real_clip_pool()))
    out = []
    for e in exchanges:
        k = int(rng.integers(1, most + 1))
        clips, pool = tuple(pool[:k]), pool[k:] or list(rng.permutation(real_clip_pool()))
        out.append(replace(e, caller="", clips=clips))
    return tuple(out)


def estimate_s(exchanges: Sequence[Exchange], rate: int) -> float:
    words = sum(len(e.agent.split()) + len((e.caller or "").split()) + 12 * len(e.clips) for e in exchanges)
    return words / (rate / 60) * 1.15 + 2.0 * len(exchanges)


def plan_call(seed: int, cell: Cell, prefix: str) -> CallPlan:
    g, v = load_data("dialogues.json"), load_data("voices.json")
    rng = np.random.default_rng(seed)
    domain = sorted(g["domains"])[int(rng.integers(len(g["domains"])))]
    dom = g["domains"][domain]
    topic = dom["topics"][int(rng.integers(len(dom["topics"])))]
    caller, agent, breathy, labored = choose_voices(rng, v, cell.negative)
    a_female = agent.variant in v["female_variants"]
    names = g["names"]["agent_female" if a_female else "agent_male"]
    slots = slots_for(rng, g, dom["companies"][int(rng.integers(len(dom["companies"])))],
                      names[int(rng.integers(len(names)))])
    exchanges = dialogue(rng, g, cell, slots, domain, topic)
    rate = rate_for(rng, cell)
    natural = natural_delivery(rng, cell, rate, breathy)
    if cell.negative == "monologue":
        exchanges = monologue(rng, g, exchanges)
    if cell.source == "real":
        exchanges = with_clips(rng, exchanges, 1 if cell.short else 2)
        caller = None
    line = line_conditions(cell, seed, rng)
    peak, onset_s, ramp_s = trouble(rng, cell, estimate_s(exchanges, rate))
    caller_level = float(np.round(rng.uniform(-35, -30) if cell.negative == "elderly_quiet"
                                  else rng.uniform(-35, -18), 1))
    hold_at = int(rng.integers(2, len(exchanges) - 1)) if line["hold"] else None
    symptom_talk = bool(cell.group == "labored" and cell.source == "espeak" and rng.random() < 0.5)
    used = {e.agent for e in exchanges}
    more = [Exchange(fill(a, slots), fill(c, slots)) for a, c in (g["comfort"] if symptom_talk else g["generic"])]
    more = tuple(e for e in more if e.agent not in used)
    condition = Condition(
        group=cell.group, severity=cell.severity, onset=cell.onset, ramp_s=ramp_s, degrade=cell.degrade,
        negative=cell.negative, source=cell.source, breaths="none", rate_wpm=rate,
        caller_voice="real:LJ Speech" if caller is None else caller.spec, agent_voice=agent.spec,
        caller_level_dbfs=caller_level, noise=line["noise"], snr_db=line["snr_db"], codec=line["codec"],
        packet_loss=line["packet_loss"], overlap=line["overlap"], hold=line["hold"], domain=domain)
    return CallPlan(
        call_id=f"{prefix}_{seed}", seed=seed, split="tune" if seed % 2 == 0 else "test", cell=cell,
        condition=condition, agent=agent, caller=caller,
        agent_level_dbfs=float(np.round(rng.uniform(-26, -18), 1)), natural=natural,
        breathy_variant=breathy, labored_variant=labored, peak=peak, onset_s=onset_s,
        symptom_talk=symptom_talk,
        exchanges=exchanges, topic=topic["id"], hold_at=hold_at, hold_s=float(np.round(rng.uniform(10, 40), 1)),
        overlap_p=0.3 if line["overlap"] else 0.0,
        cough_p=0.4 if cell.negative == "laugh_cough" else 0.0,
        laugh_p=0.3 if cell.negative == "laugh_cough" else 0.0,
        filler_p=0.6 if cell.negative == "hesitant" else 0.0,
        mains_hz=50.0 if rng.random() < 0.5 else 60.0, more=more)


def trouble(rng: np.random.Generator, cell: Cell, est_s: float) -> tuple[float, float | None, float | None]:
    """(peak severity, onset time, ramp length) for the cell; onset 0 means the first caller word."""
    if cell.group != "labored":
        return 0.0, None, None
    lo, hi = SEVERITY_PEAK[cell.severity]
    peak = float(np.round(rng.uniform(lo, hi), 3))
    if cell.onset == "start":
        return peak, 0.0, None
    if cell.short:
        onset = float(np.round(rng.uniform(20, 35), 1))
    else:
        onset = float(np.round(rng.uniform(40, min(120.0, max(45.0, 0.5 * est_s))), 1))
    if cell.onset == "abrupt":
        return peak, onset, None
    room = max(30.0, 1.2 * est_s - onset - 45) if not cell.short else 30.0
    ramp = float(np.round(rng.uniform(30 if not cell.short else 20, min(180.0, room)), 1))
    return peak, onset, ramp


def monologue(rng: np.random.Generator, g: dict, exchanges: tuple[Exchange, ...]) -> tuple[Exchange, ...]:
    """Keep the first two exchanges, then long agent turns answered with 'yes', 'okay', 'mm hm'."""
    replies = g["short_replies"]
    talks = list(g["monologue_agent"]) + [" ".join(e.agent for e in exchanges[i:i + 3])
                                          for i in range(2, len(exchanges) - 1, 3)]
    order = rng.permutation(len(talks))
    body = [Exchange(talks[int(i)], replies[int(rng.integers(len(replies)))]) for i in order]
    return exchanges[:2] + tuple(body) + exchanges[-1:]


# ---------------------------------------------------------------- real breath and cough sounds


def energy_events(x: np.ndarray, min_s: float, max_s: float, floor_db: float = 12.0) -> list[np.ndarray]:
    """Loud stretches of X (mono, 16 kHz): 10 ms frame RMS more than FLOOR_DB above the
    recording's quiet level and within 30 dB of its peak, MIN_S..MAX_S long, with 30 ms margins."""
    hop = SR // 100
    n = len(x) // hop
    if n < 3:
        return []
    frames = x[: n * hop].reshape(n, hop)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
    level = np.convolve(level, np.ones(5) / 5, mode="same")
    thr = max(np.percentile(level, 10) + floor_db, level.max() - 30)
    on = np.concatenate([[False], level > thr, [False]]).astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(on) == 1), np.flatnonzero(np.diff(on) == -1)
    keep = ((ends - starts) >= min_s * 100) & ((ends - starts) <= max_s * 100)
    margin = 3 * hop
    return [x[max(0, s * hop - margin): e * hop + margin] for s, e in zip(starts[keep], ends[keep])]


@lru_cache(maxsize=4)
def sound_bank(kinds: tuple[str, ...], min_s: float, max_s: float) -> tuple[np.ndarray, ...]:
    """Single breaths or coughs cut from the recordings of audio_fixtures/breathing (empty if absent)."""
    manifest = BREATHING_DIR / "manifest.csv"
    if not manifest.exists():
        return ()
    with manifest.open(newline="", encoding="utf-8") as fh:
        files = [row["file"] for row in csv.DictReader(fh) if row.get("kind") in kinds]
    out: list[np.ndarray] = []
    for name in sorted(files):
        x, sr = sf.read(BREATHING_DIR / name, dtype="float64")
        x = to_rate(x.mean(axis=1) if x.ndim > 1 else x, sr)
        out += [e for e in energy_events(x, min_s, max_s) if np.abs(e).max() < 0.99]
    return tuple(out)


def breath_bank() -> tuple[np.ndarray, ...]:
    return sound_bank(("breathing-deep", "breathing-shallow"), 0.25, 1.2)


def cough_bank() -> tuple[np.ndarray, ...]:
    return sound_bank(("cough-heavy",), 0.12, 0.9)


def fitted(sound: np.ndarray, n: int, rms: float) -> np.ndarray:
    """SOUND cut or zero-padded (centred) to N samples, faded at both ends, at RMS over its loud part."""
    if len(sound) >= n:
        off = (len(sound) - n) // 2
        y = sound[off: off + n].copy()
    else:
        y = np.zeros(n)
        off = (n - len(sound)) // 2
        y[off: off + len(sound)] = sound
    fade = min(n // 4, int(0.02 * SR))
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
    loud = y[np.abs(y) > 1e-6]
    return y * (rms / max(float(np.sqrt(np.mean(loud**2))) if loud.size else 1.0, 1e-12))


def real_breaths(r: Rendered, rng: np.random.Generator, bank: Sequence[np.ndarray]) -> Rendered:
    """R with each synthetic inhalation replaced by a real breath of the same length and RMS."""
    if not bank or not r.inhalations:
        return r
    audio = r.audio.copy()
    for a, b in r.inhalations:
        i, j = int(round(a * SR)), int(round(b * SR))
        rms = float(np.sqrt(np.mean(audio[i:j] ** 2)))
        audio[i:j] = fitted(bank[int(rng.integers(len(bank)))], j - i, rms)
    return replace(r, audio=audio)


def synthetic_cough(rng: np.random.Generator) -> np.ndarray:
    """One to three noise bursts with a sharp attack and a fast decay (a cough), unit RMS."""
    from scipy.signal import butter, sosfilt

    bursts = []
    for _ in range(int(rng.integers(1, 4))):
        n = int(rng.uniform(0.15, 0.35) * SR)
        t = np.arange(n) / SR
        env = (1 - np.exp(-t / 0.004)) * np.exp(-t / rng.uniform(0.05, 0.1))
        bursts += [rng.standard_normal(n) * env, np.zeros(int(rng.uniform(0.08, 0.2) * SR))]
    x = sosfilt(butter(2, [250, 4000], btype="bandpass", fs=SR, output="sos"), np.concatenate(bursts))
    return x / np.sqrt(np.mean(x**2))


# ---------------------------------------------------------------- real speech made labored


def sox_tempo(x: np.ndarray, factor: float, workdir: Path) -> np.ndarray:
    """X played FACTOR times as fast with its pitch kept (sox tempo -s)."""
    src, dst = workdir / "tempo_in.wav", workdir / "tempo_out.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    subprocess.run(["sox", "-R", str(src), str(dst), "tempo", "-s", f"{factor:.4f}"], check=True, capture_output=True)
    y, _ = sf.read(dst, dtype="float64")
    return y


def speech_runs(x: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) samples of the stretches of X between its pauses (>= 150 ms 35 dB below peak)."""
    hop = SR // 100
    n = len(x) // hop
    level = 20 * np.log10(np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1)) + 1e-9)
    quiet = level < level.max() - 35
    edges = np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]]))
    qs, qe = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    cuts = [(s + e) // 2 * hop for s, e in zip(qs, qe) if e - s >= 15 and s > 0 and e < n]
    bounds = [0] + cuts + [len(x)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b - a > int(0.2 * SR)]


def aspiration(x: np.ndarray, rng: np.random.Generator, rel_db: float) -> np.ndarray:
    """Breath noise following X's envelope (2-6 kHz noise), REL_DB relative to X's RMS."""
    from scipy.signal import butter, sosfilt

    env = np.convolve(np.abs(x), np.ones(SR // 50) / (SR // 50), mode="same")
    noise = sosfilt(butter(2, [2000, 6000], btype="bandpass", fs=SR, output="sos"), rng.standard_normal(len(x)))
    y = noise * env
    return y * (np.sqrt(np.mean(x**2)) / max(np.sqrt(np.mean(y**2)), 1e-12)) * 10 ** (rel_db / 20)


def words_share(text: str, a: float, b: float) -> str:
    """The words of TEXT between fractions A and B of it (transcript split by time, approximately)."""
    words = text.split()
    return " ".join(words[int(round(a * len(words))): int(round(b * len(words)))])


def render_real(turn: Turn, degrade: str | None, rng: np.random.Generator, transcripts: dict[str, str],
                bank: Sequence[np.ndarray], workdir: Path) -> Rendered:
    """Real clips made labored at the turn's severity: slowed (tempo), split at their own
    pauses with longer pauses, cut short and breaths in between (pauses_breaths), weaker with
    aspiration noise (voice). Severity 0 gives the clips as make_fixtures.render_clips does."""
    d, s = turn.delivery, turn.delivery.severity
    deg = {"tempo", "pauses_breaths", "voice"} if degrade == "all" else {degrade}
    pieces: list[np.ndarray] = []
    phrases: list[tuple[float, float, str]] = []
    inhales: list[tuple[float, float]] = []
    t = 0.0
    for cid in turn.clips:
        x = load_clip(cid)
        text = transcripts.get(cid, cid)
        if s > 0 and "tempo" in deg:
            x = sox_tempo(x, 1 - 0.43 * s, workdir)
        runs = speech_runs(x) if s > 0 and "pauses_breaths" in deg else [(0, len(x))]
        for a, b in runs:
            if t > 0:
                pause = float(rng.uniform(*d.pause_s))
                if s > 0 and "pauses_breaths" in deg and pause > 0.5 and rng.random() < d.inhale_p:
                    dur = min(float(rng.uniform(0.3, 0.6)), pause - 0.25)
                    lead = pause - dur - float(rng.uniform(0.05, 0.15))
                    rms = TURN_RMS * 10 ** (float(rng.uniform(-13, -8)) / 20)
                    br = fitted(bank[int(rng.integers(len(bank)))], int(dur * SR), rms) if bank \
                        else inhalation(rng, dur, rms)
                    pieces += [np.zeros(int(round(lead * SR))), br]
                    inhales.append((t + lead, t + lead + len(br) / SR))
                    pause_left = pause - lead - len(br) / SR
                    pieces.append(np.zeros(int(round(pause_left * SR))))
                else:
                    pieces.append(np.zeros(int(round(pause * SR))))
                t += pause
            seg = x[a:b]
            words = (a / len(x), b / len(x))
            if len(runs) > 1 and rng.random() < 0.35 * s:
                keep = int(len(seg) * rng.uniform(0.5, 0.8))
                seg = seg[:keep] * np.r_[np.ones(keep - int(0.03 * SR)), np.linspace(1, 0, int(0.03 * SR))]
                words = (words[0], words[0] + (words[1] - words[0]) * keep / (b - a))
            seg = seg * (TURN_RMS / max(float(np.sqrt(np.mean(seg**2))), 1e-12))
            if s > 0 and "voice" in deg:
                seg = seg + aspiration(seg, rng, -22 + 12 * s)
            phrases.append((t, t + len(seg) / SR, words_share(text, *words)))
            pieces.append(seg)
            t += len(seg) / SR
    gain = 10 ** (d.gain_db / 20)
    return Rendered(np.concatenate(pieces) * gain, 0.0, tuple(phrases), tuple(inhales))


# ---------------------------------------------------------------- turns in time


def severity_at(plan: CallPlan, t: float, first_caller: bool) -> float:
    if plan.onset_s is None:
        return 0.0
    if plan.onset_s == 0.0 or plan.condition.onset == "start":
        return plan.peak
    if t < plan.onset_s:
        return 0.0
    if plan.condition.onset == "abrupt":
        return plan.peak
    frac = (t - plan.onset_s) / float(plan.condition.ramp_s or 1.0)
    return float(np.round(plan.peak * np.clip(max(frac, 0.08), 0.0, 1.0), 3))


def caller_delivery(plan: CallPlan, s: float) -> Delivery:
    """The caller's delivery at severity S, with only the cues of the plan's degrade changed."""
    healthy = plan.natural
    if s <= 0:
        return healthy
    full = deteriorated(s, healthy.rate, int(round(0.57 * healthy.rate)), plan.breathy_variant,
                        plan.labored_variant)
    full = replace(full, style="labored")
    degrade = plan.condition.degrade
    if degrade == "tempo":
        return replace(healthy, rate=full.rate, word_gap=full.word_gap, style="labored", severity=full.severity)
    if degrade == "pauses_breaths":
        return replace(full, rate=healthy.rate, word_gap=0, gain_db=0.0, variant=healthy.variant)
    if degrade == "voice":
        return replace(healthy, variant=full.variant or healthy.variant, gain_db=full.gain_db, style="labored",
                       severity=full.severity)
    return full


def caller_text(plan: CallPlan, g: dict, text: str, s: float, rng: np.random.Generator) -> str:
    """The caller's line at severity S: shortened when in trouble, with how he or she feels."""
    if s > 0:
        sentences = split_sentences(text)
        budget = max(6, int(32 * (1 - 0.6 * s)))
        kept, n = [], 0
        for sent in sentences:
            if kept and n + len(sent.split()) > budget:
                break
            kept.append(sent)
            n += len(sent.split())
        text = " ".join(kept)
        if plan.symptom_talk and rng.random() < 0.7:
            stage = "early" if s < 0.45 else ("middle" if s < 0.75 else "late")
            pool = g["symptoms"][stage]
            text = pool[int(rng.integers(len(pool)))] + " " + text
    if plan.filler_p and rng.random() < plan.filler_p:
        fillers = g["hesitation"]["fillers"]
        text = fillers[int(rng.integers(len(fillers)))] + " " + text
    if plan.laugh_p and rng.random() < plan.laugh_p:
        laughs = g["laughs"]
        text = laughs[int(rng.integers(len(laughs)))] + " " + text
    return text


@dataclass
class Timeline:
    """Turns placed so far, and sounds and events that are not turns."""

    placed: list[Placed] = field(default_factory=list)
    extras: list[tuple[float, np.ndarray]] = field(default_factory=list)  # caller-channel sounds at TURN_RMS scale
    events: list[dict] = field(default_factory=list)
    t: float = 0.8


def place(tl: Timeline, turn: Turn, r: Rendered, gap: float) -> None:
    start = tl.t + gap - r.speech_offset
    tl.placed.append(Placed(turn, r, start, gap if tl.placed else None))
    tl.t = max(tl.t, start + len(r.audio) / SR)


def agent_turn(plan: CallPlan, tl: Timeline, es: Espeak, text: str, rng: np.random.Generator,
               gap: float | None = None) -> None:
    turn = Turn("agent", text, AGENT)
    if gap is None:
        gap = float(rng.uniform(*AGENT.gap_s)) if tl.placed else 0.0
        prev = tl.placed[-1] if tl.placed else None
        if (prev and prev.turn.speaker == "caller" and len(prev.rendered.audio) > 3 * SR
                and rng.random() < plan.overlap_p):
            gap = -float(rng.uniform(0.6, 1.5))
            tl.events.append({"kind": "overlap", "start_s": r3(tl.t + gap), "end_s": r3(tl.t)})
    place(tl, turn, render_turn(es, plan.agent, turn, rng, max_lead_s=0.0), gap)


def caller_turn(plan: CallPlan, tl: Timeline, es: Espeak, g: dict, ex: Exchange, rng: np.random.Generator,
                ctx: dict) -> float:
    first = not any(p.turn.speaker == "caller" for p in tl.placed)
    s = severity_at(plan, tl.t, first)
    d = replace(caller_delivery(plan, s), severity=round(s, 3))
    gap = float(rng.uniform(*d.gap_s))
    if ex.clips:
        turn = Turn("caller", delivery=d, clips=ex.clips)
        r = render_real(turn, plan.condition.degrade, rng, ctx["transcripts"], ctx["breaths"], ctx["workdir"])
    else:
        turn = Turn("caller", caller_text(plan, g, ex.caller or "", s, rng), d)
        r = real_breaths(render_turn(es, plan.caller, turn, rng, max_lead_s=gap - 0.1), rng, ctx["breaths"])
    if plan.cough_p and gap > 0.7 and rng.random() < plan.cough_p:
        coughs = ctx["coughs"]
        x = coughs[int(rng.integers(len(coughs)))] if coughs else synthetic_cough(rng)
        x = fitted(x, min(len(x), int((gap - 0.35) * SR)), TURN_RMS * 10 ** (float(rng.uniform(0, 6)) / 20))
        at = tl.t + 0.12
        tl.extras.append((at, x))
        tl.events.append({"kind": "cough", "source": "real" if coughs else "synthetic",
                          "start_s": r3(at), "end_s": r3(at + len(x) / SR)})
    host_len = len(r.phrases)
    place(tl, turn, r, gap)
    if host_len >= 3 and rng.random() < 0.15:
        bc = g["backchannels"][int(rng.integers(len(g["backchannels"])))]
        bturn = Turn("agent", bc, AGENT, backchannel=True)
        host = tl.placed[-1]
        ends = [e for _, e, _ in host.rendered.phrases]
        k = next((i for i, e in enumerate(ends[:-1]) if e > 0.35 * ends[-1]), 0)
        tl.placed.append(Placed(bturn, render_turn(es, plan.agent, bturn, rng, 0.0), host.start + ends[k] + 0.12,
                                None))
    return s


def layout_call(plan: CallPlan, es: Espeak, ctx: dict) -> Timeline:
    """Place the call's turns one after another, each caller turn at the severity of its time."""
    g = load_data("dialogues.json")
    rng = np.random.default_rng([plan.seed, 1])
    tl = Timeline()
    s = 0.0
    exchanges = list(plan.exchanges)
    if plan.peak >= 0.6 and plan.symptom_talk:
        exchanges = exchanges[:-1]  # no cheerful goodbye from a caller in serious trouble
    for k, ex in enumerate(exchanges):
        agent_text = ex.agent
        if s > 0 and plan.symptom_talk:
            concern = g["concern"][int(rng.integers(len(g["concern"])))]
            agent_text = f"{concern} {agent_text}"
        if k == plan.hold_at:
            agent_turn(plan, tl, es, g["hold"]["before"][int(rng.integers(2))], rng)
            start = tl.t
            agent_turn(plan, tl, es, g["hold"]["after"][int(rng.integers(2))] + " " + agent_text, rng,
                       gap=plan.hold_s)
            tl.events.append({"kind": "hold", "start_s": r3(start), "end_s": r3(start + plan.hold_s)})
        else:
            agent_turn(plan, tl, es, agent_text, rng)
        if ex.caller is not None:
            s = caller_turn(plan, tl, es, g, ex, rng, ctx)
    extra = list(plan.more) if plan.cell.source == "espeak" else []
    while plan.peak > 0 and extra and (trouble_turns(tl) < 3 or s < plan.peak):
        ex = extra.pop(0)
        agent_turn(plan, tl, es, ex.agent, rng)
        s = caller_turn(plan, tl, es, g, ex, rng, ctx)
    return tl


def trouble_turns(tl: Timeline) -> int:
    return sum(1 for p in tl.placed if p.turn.speaker == "caller" and p.turn.delivery.severity > 0)


# ---------------------------------------------------------------- mix and line


@lru_cache(maxsize=1)
def babble_clips() -> tuple[tuple[str, np.ndarray], ...]:
    ids = sorted({p.stem for p in REAL_DIR.rglob("*.flac")})
    return tuple((cid, load_clip(cid)) for cid in ids)


def babble(rng: np.random.Generator, n: int, exclude: set[str], talkers: int = 6) -> np.ndarray:
    """Several real talkers at once (each a random sequence of real clips), unit RMS."""
    return talker_mix(rng, n, [x for cid, x in babble_clips() if cid not in exclude], talkers)


def talker_mix(rng: np.random.Generator, n: int, clips: list[np.ndarray], talkers: int = 6) -> np.ndarray:
    """``talkers`` streams of ``clips`` at once (each a random sequence of them, each clip at unit
    RMS, the stream from a random offset), unit RMS. Shape (n,)."""
    out = np.zeros(n)
    for _ in range(talkers):
        order = rng.permutation(len(clips))
        stream = np.concatenate([clips[int(i)] / max(np.sqrt(np.mean(clips[int(i)] ** 2)), 1e-12) for i in order])
        reps = -(-(n + len(stream)) // len(stream))
        stream = np.tile(stream, reps)
        off = int(rng.integers(len(stream) - n))
        out += stream[off: off + n]
    return out / np.sqrt(np.mean(out**2))


def line_noise(plan: CallPlan, rng: np.random.Generator, n: int) -> np.ndarray:
    kind = plan.condition.noise
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = colored_noise(rng, n, 1.0)
    elif kind == "babble":
        x = babble(rng, n, {c for e in plan.exchanges for c in e.clips})
    elif kind == "hum":
        x = hum(n, plan.mains_hz)
    else:
        return np.zeros(n)
    return x / np.sqrt(np.mean(x**2))


def packet_loss(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """X (n,) with 20-60 ms stretches zeroed or repeating the stretch before, every 3-12 s
    (whole milliseconds, so that the labelled times are exact)."""
    y = x.copy()
    ms = SR // 1000
    events, t = [], round(float(rng.uniform(3, 12)), 3)
    while t < len(x) / SR - 1:
        i, n = int(round(t * 1000)) * ms, int(rng.integers(20, 61)) * ms
        mode = "zero" if rng.random() < 0.5 else "repeat"
        y[i: i + n] = 0.0 if mode == "zero" else y[i - n: i]
        events.append({"kind": "packet_loss", "start_s": r3(t), "end_s": r3(t + n / SR), "mode": mode})
        t = round(t + float(rng.uniform(3, 12)), 3)
    return y, events


def healthy_caller_rms(chans: np.ndarray, placed: list[Placed]) -> float:
    segs = [chans[CALLER_CHANNEL, int((p.start + a) * SR): int((p.start + b) * SR)]
            for p in placed if p.turn.speaker == "caller" for a, b, _ in p.rendered.phrases
            if p.turn.delivery.severity == 0]
    if not segs:  # in trouble from the first word: the call's own level is the reference
        segs = [chans[CALLER_CHANNEL, int((p.start + a) * SR): int((p.start + b) * SR)]
                for p in placed if p.turn.speaker == "caller" for a, b, _ in p.rendered.phrases]
    return float(np.sqrt(np.mean(np.concatenate(segs) ** 2)))


def agent_rms(chans: np.ndarray, placed: list[Placed]) -> float:
    segs = [chans[AGENT_CHANNEL, int((p.start + a) * SR): int((p.start + b) * SR)]
            for p in placed if p.turn.speaker == "agent" and not p.turn.backchannel for a, b, _ in p.rendered.phrases]
    return float(np.sqrt(np.mean(np.concatenate(segs) ** 2)))


def mix_call(plan: CallPlan, tl: Timeline) -> tuple[np.ndarray, dict, list[dict]]:
    """(samples, 2) float32 at 16 kHz, levels, line events: channel levels, line noise at its
    SNR (against the caller's healthy speech), noise floor, packet loss, peak below -1 dBFS."""
    total = int((max(p.end for p in tl.placed) + 1.0) * SR)
    chans = np.zeros((2, total))
    for p in tl.placed:
        ch = AGENT_CHANNEL if p.turn.speaker == "agent" else CALLER_CHANNEL
        i = int(round(p.start * SR))
        chans[ch, i: i + len(p.rendered.audio)] += p.rendered.audio
    caller_gain = 10 ** (plan.condition.caller_level_dbfs / 20) / healthy_caller_rms(chans, tl.placed)
    for at, x in tl.extras:
        i = int(round(at * SR))
        chans[CALLER_CHANNEL, i: i + len(x)] += x
    chans[CALLER_CHANNEL] *= caller_gain
    chans[AGENT_CHANNEL] *= 10 ** (plan.agent_level_dbfs / 20) / agent_rms(chans, tl.placed)
    rng = np.random.default_rng([plan.seed, 2])
    if plan.condition.snr_db is not None:
        ref = 10 ** (plan.condition.caller_level_dbfs / 20)
        chans[CALLER_CHANNEL] += line_noise(plan, rng, total) * ref * 10 ** (-plan.condition.snr_db / 20)
    for ch in (AGENT_CHANNEL, CALLER_CHANNEL):
        chans[ch] += colored_noise(rng, total, 1.0) * 10 ** (NOISE_FLOOR_DBFS / 20)
    events: list[dict] = []
    if plan.condition.packet_loss:
        chans[CALLER_CHANNEL], events = packet_loss(chans[CALLER_CHANNEL], rng)
    peak = float(np.abs(chans).max())
    scale = min(1.0, 10 ** (-1 / 20) / peak)
    chans *= scale
    levels = {"speech_level_dbfs": {"agent": round(plan.agent_level_dbfs + db(scale), 2),
                                    "caller": round(plan.condition.caller_level_dbfs + db(scale), 2)},
              "peak_dbfs": round(db(peak * scale), 2), "noise_floor_dbfs": round(NOISE_FLOOR_DBFS + db(scale), 2)}
    return chans.T.astype(np.float32), levels, events


def write_flac_pair(audio: np.ndarray, path16: Path, path8: Path, codec: str, workdir: Path) -> None:
    """16 kHz FLAC as is; 8 kHz FLAC through the telephone band (and G.711 when CODEC says so)."""
    sf.write(path16, audio, SR, subtype="PCM_16", format="FLAC")
    src = workdir / "call16.wav"
    sf.write(src, audio, SR, subtype="PCM_16", format="WAV")
    tmp8 = path8.with_suffix(".tmp.flac")
    if codec == "none":
        subprocess.run(["sox", "-R", str(src), "-r", str(TEL_SR), "-b", "16", str(tmp8), "sinc", "300-3400"],
                       check=True, capture_output=True)
    else:
        g711 = workdir / "call8.wav"
        enc = {"ulaw": "u-law", "alaw": "a-law"}[codec]
        subprocess.run(["sox", "-R", str(src), "-r", str(TEL_SR), "-e", enc, "-b", "8", str(g711),
                        "sinc", "300-3400"], check=True, capture_output=True)
        subprocess.run(["sox", "-R", str(g711), "-e", "signed-integer", "-b", "16", str(tmp8)],
                       check=True, capture_output=True)
    tmp8.replace(path8)
    src.unlink()


# ---------------------------------------------------------------- labels


def alerts_for(plan: CallPlan) -> tuple[tuple[str, ...], tuple[str, ...], str, bool, bool]:
    """(expected, forbidden, max_severity, expect_critical, forbid_critical)."""
    c = plan.condition
    if c.group == "labored":
        critical = c.severity in ("moderate", "severe")
        expected = DEGRADE_ALERTS[c.degrade or "all"] if critical else ()
        return expected, (), "critical" if critical else "warning", critical, False
    if c.group == "normal":
        return (), ALERT_KINDS, "none", False, True
    allowed = NEGATIVE_ALLOWED[c.negative or ""]
    return (), tuple(k for k in ALERT_KINDS if k not in allowed), "warning", False, True


def describe(plan: CallPlan) -> str:
    c = plan.condition
    what = {"labored": f"{c.severity} labored caller ({c.degrade} cues, onset {c.onset})",
            "normal": "healthy caller", "hard_negative": f"hard negative: {c.negative} caller"}[c.group]
    return (f"{what}, {c.domain} call ({plan.topic}), {c.source} speech, line: noise {c.noise}"
            f"{'' if c.snr_db is None else f' at {c.snr_db} dB SNR'}, 8 kHz codec {c.codec}")


def make_label(plan: CallPlan, tl: Timeline, audio: np.ndarray, levels: dict, line_events: list[dict],
               digest: str, versions: dict) -> dict:
    expected, forbidden, max_sev, exp_crit, forbid_crit = alerts_for(plan)
    sc = Scenario(name=plan.call_id, description=describe(plan), agent=plan.agent, caller=plan.caller, turns=(),
                  seed=plan.seed, expected_alerts=expected, forbidden_alerts=forbidden, max_severity=max_sev,
                  caller_source="LJ Speech (audio_fixtures/real/coqui-tts-ljspeech)" if plan.caller is None
                  else "espeak-ng", caller_level_dbfs=plan.condition.caller_level_dbfs,
                  agent_level_dbfs=plan.agent_level_dbfs, line=Line(noise_floor_dbfs=NOISE_FLOOR_DBFS))
    out = fixture_label(sc, tl.placed, len(audio) / SR, levels, digest, versions)
    inhales = sum(len(t["inhalations"]) for t in out["turns"])
    breaths = "none" if not inhales else ("real" if breath_bank() else "synthetic")
    condition = asdict(replace(plan.condition, breaths=breaths))
    if plan.condition.onset == "start" and out["trouble_onset_s"] is None:
        condition["onset"] = None
    out.update(
        files={"16000": f"{plan.call_id}_16k.flac", "8000": f"{plan.call_id}_8k.flac"},
        line={"noise": plan.condition.noise, "snr_db": plan.condition.snr_db,
              "snr_reference": "RMS of the caller's healthy speech against the noise RMS, caller channel, 16 kHz",
              "mains_hz": plan.mains_hz if plan.condition.noise == "hum" else None,
              "codec_8k": plan.condition.codec, "noise_floor_dbfs": NOISE_FLOOR_DBFS},
        split=plan.split, seed=plan.seed, condition=condition, expect_critical=exp_crit,
        forbid_critical=forbid_crit,
        trouble={"peak_severity": plan.peak, "reached_severity": max([t["severity"] for t in out["turns"]] + [0.0]),
                 "planned_onset_s": plan.onset_s, "symptom_talk": plan.symptom_talk},
        events=sorted(tl.events + line_events, key=lambda e: e["start_s"]),
        topic=plan.topic,
        generator={"script": "tools/eval_corpus.py", "version": EVAL_VERSION, "params_sha256": digest, **versions},
    )
    return out


# ---------------------------------------------------------------- driver


def file_digest(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def corpus_inputs() -> dict:
    common = common_inputs()
    return {
        "common": common,
        "eval_source": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "data": file_digest(list(DATA_DIR.glob("*.json"))),
        "real": file_digest(list(REAL_DIR.rglob("*.flac")) + list(REAL_DIR.rglob("manifest.csv"))),
        "breathing": file_digest(list(BREATHING_DIR.glob("*.flac")) + list(BREATHING_DIR.glob("manifest.csv")))
        if BREATHING_DIR.exists() else None,
        "versions": {"espeak_ng": common["espeak_ng"], "sox": common["sox"]},
    }


@dataclass(frozen=True)
class Job:
    out: Path
    seed: int
    cell: Cell
    prefix: str
    digest: str
    data_path: Path
    versions: tuple[tuple[str, str], ...]


_WORKER: dict = {}


def worker_context(data_path: Path) -> dict:
    if not _WORKER:
        tmp = Path(tempfile.mkdtemp(prefix="work-", dir=data_path))
        _WORKER.update(workdir=tmp, espeak=Espeak(data_path, tmp, 1),
                       transcripts=real_transcripts(), breaths=breath_bank(), coughs=cough_bank())
    return _WORKER


def generate(job: Job) -> tuple[str, float, float]:
    """Render and write one call; (call id, audio seconds, wall seconds)."""
    started = time.perf_counter()
    ctx = worker_context(job.data_path)
    plan = plan_call(job.seed, job.cell, job.prefix)
    tl = layout_call(plan, ctx["espeak"], ctx)
    audio, levels, line_events = mix_call(plan, tl)
    path16, path8 = job.out / f"{plan.call_id}_16k.flac", job.out / f"{plan.call_id}_8k.flac"
    write_flac_pair(audio, path16, path8, plan.condition.codec, ctx["workdir"])
    write_json(job.out / f"{plan.call_id}.json",
               make_label(plan, tl, audio, levels, line_events, job.digest, dict(job.versions)))
    return plan.call_id, len(audio) / SR, time.perf_counter() - started


def corpus_calls(slice_only: bool, replicates: int = REPLICATES) -> tuple[list[tuple[int, Cell]], str]:
    """((seed, cell) of every call, id prefix) of the slice or the full corpus."""
    if slice_only:
        return [(SLICE_BASE_SEED + i, cell) for i, cell in enumerate(slice_design())], "slice"
    return full_calls(replicates), "eval"


def jobs_for(out: Path, slice_only: bool, data_path: Path, force: bool, replicates: int = REPLICATES,
             keep_existing: bool = False) -> tuple[list[Job], list[str]]:
    inputs = corpus_inputs()
    calls, prefix = corpus_calls(slice_only, replicates)
    todo, ids = [], []
    for seed, cell in calls:
        call_id = f"{prefix}_{seed}"
        ids.append(call_id)
        digest = sha({"inputs": inputs, "seed": seed, "cell": asdict(cell)})
        old = load_json(out / f"{call_id}.json")
        audio = bool(old) and all(audio_whole(out / f"{call_id}_{k}k.flac", old.get("duration_s")) for k in (16, 8))
        same = bool(old) and (old.get("generator", {}).get("params_sha256") == digest
                              or (keep_existing and old.get("seed") == seed))
        fresh = same and audio
        if force or not fresh:
            todo.append(Job(out, seed, cell, prefix, digest, data_path, tuple(sorted(inputs["versions"].items()))))
    return todo, ids


def write_index(out: Path, ids: list[str]) -> dict:
    calls = []
    for call_id in ids:
        lab = load_json(out / f"{call_id}.json") or {}
        seed = lab.get("seed")
        calls.append({"id": call_id, "split": lab.get("split"), "duration_s": lab.get("duration_s"),
                      "replicate": replicate_of(seed) if call_id.startswith("eval_") and seed is not None else None,
                      "expect_critical": lab.get("expect_critical"), "forbid_critical": lab.get("forbid_critical"),
                      "trouble_onset_s": lab.get("trouble_onset_s"), "condition": lab.get("condition")})
    index = {"description": "evaluation corpus made by tools/eval_corpus.py; one label per call beside its audio",
             "calls": calls}
    write_json(out / "index.json", index)
    return index


def prepare_espeak(out: Path) -> Path:
    """The espeak-ng data folder with the project's variants and the derived caller variants."""
    parent = out / ".espeak"
    parent.mkdir(parents=True, exist_ok=True)
    build_espeak_data(parent, VARIANTS_DIR)
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        es = Espeak(parent, Path(tmp), 2)
        derived = [p.name for p in (parent / "espeak-ng-data" / "voices" / "!v").glob("ev_*")]
        es.check_variants(Voice("en", name, 50, 40) for name in sorted(derived))
    return parent


@contextlib.contextmanager
def one_run_at_a_time(out: Path) -> Iterator[None]:
    """``out`` to this process until the block ends; another run on it waits. Every run rebuilds
    ``out``'s espeak-ng data, even one that finds every call up to date, and two at once remove
    and make the same files under each other (the tests' workers both ask for the slice)."""
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run(out: Path, slice_only: bool, jobs: int, force: bool, log=print, replicates: int = REPLICATES,
        keep_existing: bool = False) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    with one_run_at_a_time(out):
        return _run(out, slice_only, jobs, force, log, replicates, keep_existing)


def _run(out: Path, slice_only: bool, jobs: int, force: bool, log, replicates: int, keep_existing: bool) -> dict:
    started = time.perf_counter()
    ignore = out / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    data_path = prepare_espeak(out)
    todo, ids = jobs_for(out, slice_only, data_path, force, replicates, keep_existing)
    audio_s = 0.0
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for call_id, dur, wall in pool.map(generate, todo):
            audio_s += dur
            log(f"  {call_id}: {dur:.0f} s call in {wall:.1f} s")
    for work in data_path.glob("work-*"):
        shutil.rmtree(work, ignore_errors=True)
    index = write_index(out, ids)
    log(f"eval_corpus: {len(todo)} call(s) written ({audio_s / 60:.1f} min of audio), "
        f"{len(ids) - len(todo)} up to date, {time.perf_counter() - started:.1f} s")
    return index


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder")
    ap.add_argument("--slice", action="store_true", help="write the small slice of short calls the tests use")
    ap.add_argument("-j", "--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)),
                    help="calls generated in parallel")
    ap.add_argument("--replicates", type=int, default=None, metavar="N",
                    help=f"draws of the design in the full corpus, each with new seeds after the ones "
                         f"before ({REPLICATES}; 1: the first 240 calls only)")
    ap.add_argument("--force", action="store_true", help="regenerate even when up to date")
    ap.add_argument("--keep-existing", action="store_true",
                    help="keep every call whose label and audio exist, even if its inputs changed")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        print(f"eval_corpus: -j must be at least 1, not {args.jobs}", file=sys.stderr)
        return 2
    if args.replicates is not None and (args.slice or not 1 <= args.replicates <= max_replicates()):
        print(f"eval_corpus: --replicates must be 1..{max_replicates()} and is for the full corpus only",
              file=sys.stderr)
        return 2
    if args.out.exists() and not args.out.is_dir():
        print(f"eval_corpus: {args.out}: not a folder", file=sys.stderr)
        return 2
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"eval_corpus: {tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 1
    try:
        run(args.out, args.slice, args.jobs, args.force, replicates=args.replicates or REPLICATES,
            keep_existing=args.keep_existing)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.decode(errors="replace").strip() if getattr(exc, "stderr", None) else ""
        print(f"eval_corpus: failed: {exc} {detail}".rstrip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
