"""Accuracy of the analyzer against transcripts and Praat.

Every real utterance of audio_fixtures/real/manifest.csv goes through the
product's path once per session: ``AnalysisStream`` (conversion to 16 or 8 kHz
at the edge) -> ``StreamingAnalyzer`` in 1 s blocks -> ``span_measures``. The
8 kHz telephone-band versions are made as Praat's reference made them
(sox ``sinc 300-3400 rate 8000``, tools.praat_reference.telephone_band).

References: transcript syllable counts (manifest.csv) and Praat's measures
(praat_reference.csv, made by tools/make_reference.py):

* syllables: Pearson r and median absolute error in % of the transcript count;
* HNR: Praat ``To Harmonicity (cc)`` mean over voiced frames, against ours
  (mean of voiced frames' HNR);
* CPPS: Praat ``Get CPPS`` on a PowerCepstrogram averages the smoothed peak
  prominence over ALL frames of the file, silences included. Our figure is
  aggregated the same way for this comparison: the mean of the per-frame
  ``cpps_db`` column over every frame of the file (not the product's
  voiced-frame mean, ``SpanMeasures.cpps_db``, which is printed alongside);
* F0: Praat ``To Pitch (ac)`` median of voiced frames against our voiced median.

The figures are stored with ``record_property`` (junit XML too); the suite
prints them in a block at its end (even without ``-s``) and writes them to
.pytest_cache/d/accuracy/figures.json, so they can be quoted (tests/conftest.py).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SPEECH

from monitor.analysis.analyzer import StreamingAnalyzer
from monitor.capture.audio_files import AnalysisStream
from monitor.analysis.frame_features import Frames
from monitor.analysis.span_measures import SpanMeasures, span_measures

REAL = ROOT / "audio_fixtures" / "real"
FIGURES: dict[str, float] = {}


@dataclass
class Result:
    measures: SpanMeasures
    cpps_all_frames: float   # mean of cpps_db over every frame (Praat's Get CPPS aggregation)


def frames_of(chunks, rate: int) -> Frames:
    analyzer = StreamingAnalyzer(rate)
    return Frames.concat(list(analyzer.iter_chunks(chunks)))


def result(frames: Frames, duration_s: float) -> Result:
    return Result(span_measures(frames, duration_s), float(np.nanmean(frames.cpps_db)))


def analyze_file(path: Path) -> Result:
    stream = AnalysisStream(path, block_s=1.0)
    frames = frames_of((block[:, 0] for block in stream), stream.rate)
    return result(frames, stream.duration_s)  # the duration is known once the stream is read


def analyze_samples(x: np.ndarray, rate: int) -> Result:
    """In 1 s chunks, as a live stream would deliver them."""
    return result(frames_of((x[i:i + rate] for i in range(0, len(x), rate)), rate), len(x) / rate)


def manifest() -> list[dict]:
    with open(REAL / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def praat_reference() -> dict[tuple[str, str], dict]:
    with open(REAL / "praat_reference.csv", newline="") as fh:
        return {(r["path"], r["band"]): r for r in csv.DictReader(fh)}


def agreement(est, truth) -> tuple[float, float]:
    """(Pearson r, median absolute error in % of the reference)."""
    est, truth = np.asarray(est, float), np.asarray(truth, float)
    return float(np.corrcoef(est, truth)[0, 1]), float(np.median(np.abs(est - truth) / truth) * 100)


def note(record_property, name: str, value: float) -> None:
    FIGURES[name] = value
    record_property(name, value)


@pytest.fixture(scope="module")
def rows():
    rows = manifest()
    assert len(rows) == 61
    return rows


@pytest.fixture(scope="module")
def native(rows) -> list[Result]:
    """Each file at its own rate through AnalysisStream (22.05/44.1 -> 16 kHz, 8 -> 8 kHz)."""
    return [analyze_file(REAL / r["path"]) for r in rows]


@pytest.fixture(scope="module")
def tel8k(rows) -> list[Result]:
    tp = pytest.importorskip("tools.praat_reference")
    out = []
    for r in rows:
        x, rate = tp.telephone_band(REAL / r["path"])
        out.append(analyze_samples(np.asarray(x, np.float32), rate))
    return out


@pytest.fixture(scope="module")
def ref(rows) -> dict[str, dict[str, np.ndarray]]:
    table = praat_reference()
    return {band: {k: np.array([float(table[(r["path"], band)][k]) for r in rows])
                   for k in ("hnr_db", "cpps_db", "f0_median_hz", "syllables")}
            for band in ("native", "tel8k")}


# ---------------------------------------------------------------- syllables

def syllable_agreement(record_property, band: str, results: list[Result], rows, ref, praat: str) -> tuple[float, float]:
    """Our syllable counts in ``band`` (``results``, one per manifest row) against the transcripts'
    (Pearson r, median absolute error in %), noted with Praat's de Jong & Wempe counts' agreement
    (named ``praat``) beside them."""
    truth = [int(r["syllables"]) for r in rows]
    r, mae = agreement([res.measures.syllables for res in results], truth)
    pr, pmae = agreement(ref[band]["syllables"], truth)
    note(record_property, f"syllables {band}: Pearson r", r)
    note(record_property, f"syllables {band}: median abs error %", mae)
    note(record_property, f"  ({praat}: r)", pr)
    note(record_property, f"  ({praat}: median abs error %)", pmae)
    return r, mae


def test_syllables_native_rate(rows, native, ref, record_property):
    r, mae = syllable_agreement(record_property, "native", native, rows, ref, praat="Praat de Jong & Wempe")
    assert r >= 0.98, r
    assert mae <= 8.0, mae


def test_syllables_telephone_band(rows, tel8k, ref, record_property):
    r, mae = syllable_agreement(record_property, "tel8k", tel8k, rows, ref, praat="Praat tel8k")
    assert mae <= 12.0, mae
    assert r >= 0.95, r


# ---------------------------------------------------------------- voice quality against Praat

def test_hnr_against_praat(native, tel8k, ref, record_property):
    for band, results in (("native", native), ("tel8k", tel8k)):
        ours = np.array([res.measures.hnr_db for res in results], float)
        r = float(np.corrcoef(ours, ref[band]["hnr_db"])[0, 1])
        note(record_property, f"HNR {band}: Pearson r vs Praat cc", r)
        note(record_property, f"HNR {band}: mean difference dB (ours - Praat)",
             float(np.mean(ours - ref[band]["hnr_db"])))
    assert FIGURES["HNR native: Pearson r vs Praat cc"] >= 0.9


def test_cpps_against_praat(native, tel8k, ref, record_property):
    """Praat's Get CPPS averages over all frames, silence included: so do we here."""
    for band, results in (("native", native), ("tel8k", tel8k)):
        ours = np.array([res.cpps_all_frames for res in results], float)
        voiced = np.array([res.measures.cpps_db for res in results], float)
        r = float(np.corrcoef(ours, ref[band]["cpps_db"])[0, 1])
        note(record_property, f"CPPS {band}: Pearson r vs Praat (all frames)", r)
        note(record_property, f"CPPS {band}: r of voiced-frame mean vs Praat",
             float(np.corrcoef(voiced, ref[band]["cpps_db"])[0, 1]))
        note(record_property, f"CPPS {band}: mean difference dB (all frames)",
             float(np.mean(ours - ref[band]["cpps_db"])))
    assert FIGURES["CPPS native: Pearson r vs Praat (all frames)"] >= 0.9


def test_f0_median_against_praat(native, tel8k, ref, record_property):
    for band, results in (("native", native), ("tel8k", tel8k)):
        ours = np.array([np.nan if res.measures.f0_median_hz is None else res.measures.f0_median_hz
                         for res in results])
        rel = np.abs(ours / ref[band]["f0_median_hz"] - 1)
        note(record_property, f"F0 {band}: % of files within 5 % of Praat",
             float(np.mean(np.nan_to_num(rel, nan=1.0) <= 0.05) * 100))
        note(record_property, f"F0 {band}: median relative error %", float(np.nanmedian(rel) * 100))
    assert FIGURES["F0 native: % of files within 5 % of Praat"] >= 90.0


# ---------------------------------------------------------------- espeak: rate and breathiness

def espeak(name: str) -> Result:
    path = SPEECH / name
    if not path.exists():
        pytest.fail(f"{path} missing: run `make fixtures` (tools/make_fixtures.py audio_fixtures)")
    return analyze_file(path)


@pytest.mark.parametrize("voice", ["en_us", "en_f"])
def test_espeak_slow_speech_has_a_lower_speech_rate(voice, record_property):
    fast, slow = espeak(f"{voice}_s175.wav").measures, espeak(f"{voice}_s90.wav").measures
    ratio = slow.speech_rate_sps / fast.speech_rate_sps
    note(record_property, f"espeak {voice}: rate -s 90 / -s 175", ratio)
    note(record_property, f"espeak {voice}: syllables -s 90 / -s 175", slow.syllables / fast.syllables)
    assert ratio <= 0.6, (slow.speech_rate_sps, fast.speech_rate_sps)
    # the same text: about the same number of syllables
    assert 0.8 <= slow.syllables / fast.syllables <= 1.25


@pytest.mark.parametrize("voice", ["en_us", "en_f"])
def test_espeak_breathy_voice_has_lower_cpps_and_hnr(voice, record_property):
    normal, breathy = (espeak(f"{voice}_{kind}_a40.wav").measures for kind in ("normal", "breathy"))
    d_cpps = normal.cpps_db - breathy.cpps_db
    d_hnr = normal.hnr_db - breathy.hnr_db
    note(record_property, f"espeak {voice}: CPPS normal - breathy dB", d_cpps)
    note(record_property, f"espeak {voice}: HNR normal - breathy dB", d_hnr)
    assert d_cpps >= 3.0, (normal.cpps_db, breathy.cpps_db)
    assert d_hnr >= 3.0, (normal.hnr_db, breathy.hnr_db)
