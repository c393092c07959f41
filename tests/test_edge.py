"""Samples at the edge: whatever a recording holds, the analysis gets finite, in-range,
offset-free samples, says once what it fixed, and never prints a library's complaint.

Property tests (Hypothesis) state the invariants over many generated signals and files; the
named cases are the ones a hostile user and a failing machine tried.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import os
import struct
import sys
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from conftest import JUNK_CHUNK, ROOT, PY, call_monitor_here, crashed_recording

from monitor.analysis.analyzer import StreamingAnalyzer
from monitor.capture.audio_files import (AnalysisStream, BlockReader, EdgeConditioner, FlatTops, Highpass,
                                         fill_nonfinite, probe)
from monitor.capture.quiet import DecoderChatter
from monitor.dsp.iir import first_order_recurrence
from monitor.dsp.sound_class import BREATH, COUGH, SILENCE
from monitor.cli import main as cli_main
from monitor.analysis.frame_features import Frames
from monitor.analysis.span_measures import SpanMeasures, span_measures
from monitor.analysis.span_stream import SpanAccumulator

SPEECH = ROOT / "audio_fixtures" / "calls" / "normal_16k.wav"


def speech(seconds: float = 20.0) -> tuple[np.ndarray, int]:
    """The caller's leg of a fixture call from their first words (the 7 s before hold no sound): real
    speech with pauses, float32 at 16 kHz."""
    x, sr = sf.read(SPEECH, start=7 * 16000, frames=int(seconds * 16000), dtype="float32")
    return (x[:, 1] if x.ndim == 2 else x).copy(), sr


def analyze(path: Path) -> tuple[dict, list[str]]:
    """``call-monitor analyze --json PATH`` in this process (:func:`call_monitor_here`): its record and
    its stderr's lines, what it says of the file, not its process, being what these tests read."""
    r = call_monitor_here("analyze", "--json", path)
    rec = json.loads(r.stdout) if r.stdout.strip() else None
    return rec, r.stderr.strip().splitlines()


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    x, sr = speech()
    path = tmp_path_factory.mktemp("edge") / "clean.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    rec, err = analyze(path)
    assert err == [] and rec["syllables"] > 20
    return x, sr, rec


# --------------------------------------------------------------------------- the conditioner


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 3000), elements=st.floats(-1, 1, width=32)),
       st.lists(st.integers(1, 700), min_size=1, max_size=12))
def test_any_split_of_a_stream_gives_exactly_the_samples_of_the_whole(x, cuts):
    whole = EdgeConditioner(16000, 1).process(x[:, None])
    edge = EdgeConditioner(16000, 1)
    parts, i = [], 0
    for n in cuts * (len(x) // max(1, sum(cuts)) + 1):
        parts.append(edge.process(x[i:i + n, None]))
        i += n
        if i >= len(x):
            break
    assert np.array_equal(np.concatenate(parts), whole)  # the recurrence itself: exact, not to rounding


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 5000), elements=st.floats(-1, 1)), st.floats(-0.999, 0.999),
       st.floats(-1, 1))
def test_the_block_matrix_recurrence_equals_the_sequential_one(u, a, y0):
    want = np.empty_like(u)
    y = y0
    for i, v in enumerate(u):  # the definition, sample by sample
        y = a * y + v
        want[i] = y
    got = first_order_recurrence(u[:, None], a, np.array([y0]))[:, 0]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 2000),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=32)))
def test_every_sample_out_of_the_edge_is_finite_and_in_range(x):
    edge = EdgeConditioner(8000, 1)
    y = edge.process(x[:, None])
    assert np.isfinite(y).all()
    # the input is clipped to [-1, 1] (and the filter starts as if the first sample had always been
    # there), so the high-pass output is bounded by the L1 norm of its impulse response
    impulse = np.zeros((8000 * 5, 1))
    impulse[1] = 1.0  # after a zero first sample: the filter's own response
    l1 = np.abs(Highpass(8000, 1).process(impulse)).sum()
    assert np.abs(y).max() <= l1 + 1e-5
    assert edge.nonfinite + edge.clipped <= len(x)


def test_invalid_samples_take_the_previous_valid_value():
    x = np.array([[0.1], [np.nan], [np.inf], [0.3], [1e30], [-0.2]], np.float32)
    y, last, n = fill_nonfinite(x, np.zeros(1))
    assert n == 3
    np.testing.assert_allclose(y[:, 0], [0.1, 0.1, 0.1, 0.3, 0.3, -0.2])
    assert last[0] == pytest.approx(-0.2)


def test_a_dc_offset_is_gone_from_the_first_sample():
    x, sr = speech(5.0)
    y = EdgeConditioner(sr, 1).process((x + 0.4)[:, None])[:, 0]
    assert abs(float(y[: sr // 10].mean())) < 0.01  # no start-up transient of the offset
    assert abs(float(y.mean())) < 1e-3


# --------------------------------------------------------------------------- bad samples in files


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["nan", "inf", "huge", "dc", "clip"]),
       every=st.integers(50, 5000), level=st.floats(0.05, 0.5))
def test_bad_samples_give_the_clean_speech_time_and_finite_measures(tmp_path, clean, kind, every, level):
    x, sr, ref = clean
    y = x.copy()
    if kind == "nan":
        y[::every] = np.nan
    elif kind == "inf":
        y[::every] = np.inf
    elif kind == "huge":
        y[::every] = 1e30
    elif kind == "dc":
        y = y + level
    else:  # a hot recording clipped by the file format's range: 2x louder than full scale in places
        y = np.clip(y * (1.0 + level), -1.0, 1.0)
    stream = AnalysisStream(_write(tmp_path / "bad.wav", y, sr))
    frames = Frames.concat(list(StreamingAnalyzer(stream.rate).iter_chunks(b[:, 0] for b in stream)))
    m = span_measures(frames, stream.duration_s)
    assert m.speech_s == pytest.approx(ref["speech_s"], rel=0.05)
    for v in m.as_dict().values():
        assert v is None or np.isfinite(v)
    if kind in ("nan", "inf", "huge"):
        assert "invalid sample" in (stream.problems() or "")


def _write(path: Path, y: np.ndarray, sr: int) -> Path:
    sf.write(path, y, sr, subtype="FLOAT")
    return path


@pytest.mark.parametrize("kind", ["nan", "inf", "huge", "dc"])
def test_the_cases_that_went_wrong_in_silence(tmp_path, clean, kind):
    """One NaN every 1,000 samples, Inf, 1e30 values, a +0.4 offset: the clean answer (within
    5 %), one warning line naming the file and how many samples were fixed, nothing else."""
    x, sr, ref = clean
    y = x + 0.4 if kind == "dc" else x.copy()
    if kind != "dc":
        y[::1000] = {"nan": np.nan, "inf": np.inf, "huge": 1e30}[kind]
    path = _write(tmp_path / f"{kind}.wav", y, sr)
    rec, err = analyze(path)
    assert rec["syllables"] == pytest.approx(ref["syllables"], rel=0.05)
    assert rec["speech_s"] == pytest.approx(ref["speech_s"], rel=0.05)
    if kind == "dc":
        assert err == []
    else:
        assert len(err) == 1 and err[0].startswith(f"call-monitor: warning: {path}: ")
        assert f"{len(y[::1000])} invalid sample(s)" in err[0]


def test_all_nan_is_silence_said_once(tmp_path):
    """Every sample replaced (by silence): said once, and that what is left holds no sound."""
    path = _write(tmp_path / "nan.wav", np.full(16000 * 3, np.nan, np.float32), 16000)
    rec, err = analyze(path)
    assert rec["speech_s"] == 0 and len(err) == 2 and "48000 invalid sample(s)" in err[0]
    assert err[1] == f"call-monitor: warning: {path}: no sound (peak below -50 dBFS): nothing to measure"


def stereo_call(seconds: float) -> tuple[np.ndarray, int]:
    """Both legs of a fixture call (agent left, caller right), float32 (n, 2) at 16 kHz."""
    x, sr = sf.read(SPEECH, frames=int(seconds * 16000), dtype="float32")
    return x, sr


def test_a_stereo_files_bad_samples_are_counted_in_samples_of_the_file_whether_mixed_or_not(tmp_path, own_home):
    """NaN and Inf at the same instants of both legs, and one leg's Inf alone: analyze (which mixes
    the legs), analyze --channel N and replay (which reads them apart) each count the file's own
    samples in the channels they read, and say it in the same words."""
    x, sr = stereo_call(10.0)
    y = x.copy()
    at = np.arange(11) * 13000 + 1000
    y[at, :] = np.nan
    y[at[0] + 5, 0] = np.inf
    path = _write(tmp_path / "bad_both_legs.wav", y, sr)
    said = f"call-monitor: warning: {path}: 23 invalid sample(s) (NaN, Inf or beyond 8x full scale) replaced"
    assert analyze(path)[1] == [said]
    assert _replay_warnings(tmp_path, path, own_home) == [said]
    for channel, n in ((0, 12), (1, 11)):
        stream = AnalysisStream(path, [channel])
        for _ in stream:
            pass
        assert stream.problems() == f"{n} invalid sample(s) (NaN, Inf or beyond 8x full scale) replaced"


def test_a_hot_stereo_file_is_said_to_be_clipped_when_its_legs_are_mixed(tmp_path, own_home):
    """Three times full scale in a float file: each leg's samples beyond full scale are clipped
    before the legs are mixed, so a mix that would have stayed within full scale (one leg speaks
    while the other is quiet) is no reason to say nothing."""
    x, sr = stereo_call(10.0)
    y = 3.0 * x
    over = int((np.abs(y) > 1.0).sum())
    assert over > 100 and np.abs(y.mean(axis=1)).max() <= 1.0  # the mix alone would not tell
    path = _write(tmp_path / "hot_both_legs.wav", y, sr)
    said = f"call-monitor: warning: {path}: {over} sample(s) beyond full scale clipped to [-1, 1]"
    assert analyze(path)[1] == [said]
    assert _replay_warnings(tmp_path, path, own_home) == [said]


def _replay_warnings(tmp_path: Path, path: Path, env: dict[str, str]) -> list[str]:
    """The warning lines of ``call-monitor replay`` (without transcription) of one recording, run in this
    process with the environment ``env``."""
    r = call_monitor_here("replay", "--no-transcribe", "--db", tmp_path / "w.db", path, env=env)
    assert r.returncode == 0, r.stderr
    return [line for line in r.stderr.splitlines() if "warning" in line]


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 400), st.integers(2, 3)),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=32)))
def test_mixing_after_the_repair_counts_what_reading_the_channels_apart_counts(x):
    mixed, apart = EdgeConditioner(8000, x.shape[1], mix=True), EdgeConditioner(8000, x.shape[1])
    y = mixed.process(x)
    apart.process(x)
    assert y.shape == (len(x), 1) and np.isfinite(y).all()
    assert (mixed.nonfinite, mixed.clipped) == (apart.nonfinite, apart.clipped)


# --------------------------------------------------------------------------- headers and junk


def test_a_data_chunk_that_declares_too_little_is_read_as_far_as_samples_go(tmp_path, clean):
    x, sr, ref = clean
    path = tmp_path / "short_header.wav"
    sf.write(path, x, sr, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    i = raw.find(b"data")
    raw[i + 4:i + 8] = struct.pack("<I", 1000)
    path.write_bytes(bytes(raw))
    rec, err = analyze(path)
    assert rec["duration_s"] == pytest.approx(len(x) / sr, abs=0.01)
    assert rec["syllables"] == pytest.approx(ref["syllables"], rel=0.05)
    assert len(err) == 1 and "declares 0.03 s of audio but 20.00 s follow" in err[0]


@pytest.mark.parametrize("fmt, subtype, chunk, declared_s", [
    ("WAV", "PCM_16", b"", 2.3),
    ("WAV", "PCM_16", JUNK_CHUNK, 2.3),
    ("WAVEX", "PCM_24", b"", 2.3),
    ("WAV", "PCM_16", b"", 0.0),
], ids=["16-bit, 44-byte header", "16-bit, 54-byte header", "extensible 24-bit", "header never updated"])
def test_a_crashed_recorders_wav_gives_every_block_the_intact_file_gives(tmp_path, fmt, subtype, chunk,
                                                                         declared_s):
    """A stereo call whose header was updated once, at 2.3 s of 20 s: every block read after the
    count holds the intact file's samples, each leg on its channel (they were shifted back by the
    header's length after the first block; by an odd number of samples, the legs swapped), and one
    note says what the header declares; so too in the extensible format (sox's 24-bit output),
    which was cut at the header's count without a word, and with a header never updated (its data
    chunk empty), which was refused as holding no audio."""
    x, sr = sf.read(SPEECH, frames=16000 * 20, dtype="float32")
    intact = tmp_path / "intact.wav"
    sf.write(intact, x, sr, format=fmt, subtype=subtype)
    crashed = crashed_recording(intact, tmp_path / "crashed.wav", declared_s, chunk)
    assert probe(crashed).duration_s == 20.0
    whole, cut = BlockReader(probe(intact), sr), BlockReader(probe(crashed), sr)
    for a, b in itertools.zip_longest(whole, cut):
        np.testing.assert_array_equal(a, b)
    assert whole.frames_read == cut.frames_read == 16000 * 20 and not cut.truncated
    assert cut.notes == [f"the header declares {declared_s:.2f} s of audio but 20.00 s follow; read what is there"]


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW", "PCM_U8"])
def test_the_pad_byte_after_an_odd_count_of_8_bit_samples_is_no_sample_and_no_miscount(tmp_path, subtype):
    """RIFF pads a chunk of odd length with a byte, as libsndfile and sox write a mono telephone
    call of an odd count of samples: that byte was read as one sample more (mu-law's 0x00, a
    click near full scale) and said to be audio the header miscounted."""
    x = (0.1 * np.sin(np.arange(8001) * 0.3)).astype("float32")
    path = tmp_path / "odd.wav"
    sf.write(path, x, 8000, subtype=subtype)
    assert path.stat().st_size % 2 == 0  # the pad byte is there
    reader = BlockReader(probe(path), 8000)
    assert sum(len(b) for b in reader) == reader.frames_read == 8001
    assert reader.notes == [] and not reader.truncated


def test_a_wav_whose_header_was_never_updated_is_analysed_to_its_end_with_one_warning(tmp_path, clean):
    x, sr, ref = clean
    path = tmp_path / "never_updated.wav"
    sf.write(path, x, sr, subtype="PCM_16")
    crashed = crashed_recording(path, tmp_path / "crashed.wav", 0.0)
    assert crashed.read_bytes()[4:8] == struct.pack("<I", 36)  # RIFF and data sizes as the header was first written
    rec, err = analyze(crashed)
    assert rec["duration_s"] == pytest.approx(len(x) / sr, abs=0.01)
    assert rec["syllables"] == pytest.approx(ref["syllables"], rel=0.05)
    assert err == [f"call-monitor: warning: {crashed}: the header declares 0.00 s of audio but 20.00 s follow; "
                   f"read what is there"]


@pytest.mark.parametrize("subtype", ["IMA_ADPCM", "MS_ADPCM", "GSM610"])
def test_a_wav_coded_in_blocks_is_read_as_written_with_no_word_on_its_sample_width(tmp_path, subtype):
    """ADPCM and GSM 6.10: the fmt chunk's block_align is a block of many frames' code, not one
    frame. The call is read whole without a warning (IMA ADPCM's blocks were said to be '4-bit
    samples in 2048-bit containers'); a header that counts half its blocks is read as far as it
    counts, its code never taken for raw samples (a 40 s GSM call was read as 0.12 s of noise)."""
    x, _ = speech(20.0)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, x, 8000, subtype=subtype)  # GSM 6.10 is 8 kHz: the 20 s of samples last 40 s
    rec, err = analyze(path)
    assert err == [] and rec["duration_s"] == pytest.approx(40.0, abs=0.1)
    raw = bytearray(path.read_bytes())
    i = raw.find(b"data")
    block_align = struct.unpack("<H", raw[raw.find(b"fmt ") + 20:][:2])[0]
    struct.pack_into("<I", raw, i + 4, struct.unpack("<I", raw[i + 4:i + 8])[0] // 2 // block_align * block_align)
    path.write_bytes(bytes(raw))
    rec, err = analyze(path)
    assert err == [] and rec["duration_s"] == pytest.approx(20.0, abs=0.6)


def test_a_data_chunk_followed_by_another_chunk_is_not_a_mismatch(tmp_path):
    x, sr = speech(2.0)
    path = tmp_path / "list.wav"
    sf.write(path, x, sr, subtype="PCM_16")
    raw = path.read_bytes() + b"LIST" + struct.pack("<I", 12) + b"INFOISFT\x00\x00\x00\x00"
    riff = struct.pack("<I", len(raw) - 8)
    path.write_bytes(raw[:4] + riff + raw[8:])
    rec, err = analyze(path)
    assert err == [] and rec["duration_s"] == pytest.approx(2.0, abs=0.01)


def test_a_named_pipe_a_link_loop_and_random_bytes_are_named_truly(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.wav"
    os.symlink(loop, loop)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(np.random.default_rng(1).bytes(50_000))
    r = subprocess.run([PY, "-m", "monitor.cli", "analyze", str(fifo), str(loop), str(junk)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"call-monitor: error: {fifo}: is a named pipe (FIFO), not a recording file",
        f"call-monitor: error: {loop}: symbolic link loop",
        f"call-monitor: error: {junk}: not an audio file (format not recognised; WAV, FLAC, OGG or MP3 expected)",
    ]


def test_a_header_with_a_sample_rate_of_1_hz_is_named_not_resampled_for_days(tmp_path):
    x = np.random.default_rng(2).normal(0, 0.1, (16000 * 5, 2))
    damaged, huge = tmp_path / "rate1.wav", tmp_path / "rate2g.wav"
    sf.write(damaged, x, 16000, subtype="PCM_16")
    raw = bytearray(damaged.read_bytes())
    struct.pack_into("<I", raw, 24, 1)  # the fmt chunk's sample rate
    damaged.write_bytes(bytes(raw))
    struct.pack_into("<I", raw, 24, 2_000_000_000)  # replay's first block of it was 75 GiB
    huge.write_bytes(bytes(raw))
    r = subprocess.run([PY, "-m", "monitor.cli", "replay", "--no-transcribe", "--db", str(tmp_path / "e.db"),
                        str(huge)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert (r.returncode, r.stderr.splitlines()) == (1, [
        f"call-monitor: error: {huge}: sample rate 2000000000 Hz in its header: a damaged header, not a recording "
        f"of speech (at most 768000 Hz expected)"])
    telephone = tmp_path / "rate4k.wav"
    sf.write(telephone, x[:4000 * 5], 4000, subtype="PCM_16")
    r = subprocess.run([PY, "-m", "monitor.cli", "analyze", "--json", str(damaged), str(telephone)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"call-monitor: error: {damaged}: sample rate 1 Hz in its header: a damaged header, not a recording of "
        f"speech (at least 4000 Hz expected)",
        f"call-monitor: warning: {telephone}: sample rate 4000 Hz: the voice band above 2000 Hz is cut (telephone "
        f"speech reaches 3400 Hz, 8000 Hz expected); voice cues suffer"]
    assert json.loads(r.stdout)["sample_rate"] == 4000


def test_a_rate_below_8_khz_is_one_warning_naming_the_file_and_its_rate_and_8_khz_none(tmp_path):
    x, sr = speech(6.0)
    cut, telephone = tmp_path / "six_khz.wav", tmp_path / "eight_khz.wav"
    sf.write(cut, x[: 6000 * 5], 6000, subtype="PCM_16")  # the band above 3 kHz is gone
    sf.write(telephone, x[: 8000 * 5], 8000, subtype="PCM_16")
    rec, err = analyze(cut)
    assert rec["sample_rate"] == 6000
    assert err == [f"call-monitor: warning: {cut}: sample rate 6000 Hz: the voice band above 3000 Hz is cut "
                   f"(telephone speech reaches 3400 Hz, 8000 Hz expected); voice cues suffer"]
    assert analyze(telephone)[1] == []


# --------------------------------------------------------------------------- clipped recordings


def clipped(x: np.ndarray, gain: float, ceiling: float) -> np.ndarray:
    """``x`` after a gain stage that clips at ``ceiling`` (of full scale)."""
    return np.clip(x / np.abs(x).max() * ceiling * gain, -ceiling, ceiling).astype(np.float32)


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_a_voice_clipped_inside_full_scale_is_one_warning_line_naming_the_file(tmp_path, clean, subtype):
    """An AGC that clipped at 0.7 of full scale before the file was written: no sample beyond full
    scale, but flat tops at the file's own peak."""
    x, sr, _ = clean
    path = tmp_path / "agc.wav"
    sf.write(path, clipped(x, 2.0, 0.7), sr, subtype=subtype)
    _, err = analyze(path)
    assert len(err) == 1 and err[0].startswith(f"call-monitor: warning: {path}: flat-topped at 0.70 of full scale: ")
    assert err[0].endswith(" runs of 4 or more equal samples at its peak (clipped before or as it was written); "
                           "voice cues suffer")


def test_a_voice_clipped_at_full_scale_by_the_sample_format_is_said_too(tmp_path, clean):
    x, sr, _ = clean
    path = tmp_path / "hot.wav"
    sf.write(path, clipped(x, 2.0, 1.0), sr, subtype="PCM_16")  # 16-bit: +32767 and -32768 are the ceiling
    _, err = analyze(path)
    assert len(err) == 1 and "flat-topped at 1.00 of full scale" in err[0]


def test_the_clipped_channel_of_a_stereo_call_is_named_when_it_is_read_alone_or_mixed(tmp_path, clean):
    x, sr, _ = clean
    path = tmp_path / "caller_clipped.wav"
    sf.write(path, np.column_stack([x, clipped(x, 2.0, 0.5)]), sr, subtype="PCM_16")
    for channel in ([1], None, [1, 0]):
        stream = AnalysisStream(path, channel)
        for _ in stream:
            pass
        assert stream.problems().startswith("channel 1 flat-topped at 0.50 of full scale: ")


def test_a_clipped_channel_that_is_not_read_is_said_by_no_command_nor_kept_with_the_stored_call(
        tmp_path, own_home):
    """The agent's leg clipped (left, 30 dB of gain), the caller's clean: ``analyze --channel 1`` and a
    replay that reads no agent measure the caller alone, whose voice cues suffer nothing, so neither
    says the other channel's flat tops, nor does the stored call's report; read, it is named."""
    x, sr = stereo_call(40.0)
    y = np.column_stack([np.clip(x[:, 0] * 30, -1.0, 1.0), x[:, 1]])
    path = tmp_path / "agent_clipped.wav"
    sf.write(path, y, sr, subtype="PCM_16")
    for channel, said in (("1", False), ("0", True)):
        r = call_monitor_here("analyze", "--json", "--channel", channel, path)
        assert r.returncode == 0 and ("channel 0 flat-topped at 1.00" in r.stderr) is said, r.stderr
    assert "channel 0 flat-topped at 1.00" in analyze(path)[1][0]
    db = tmp_path / "a.db"
    r = call_monitor_here("replay", "--no-transcribe", "--agent-channel", "-1", "--db", db, path, env=own_home)
    assert r.returncode == 0 and "flat-topped" not in r.stderr, r.stderr
    r = call_monitor_here("report", "1", "--db", db, "-o", tmp_path / "a.html", env=own_home)
    assert r.returncode == 0 and "flat-topped" not in r.stderr + (tmp_path / "a.html").read_text(), r.stderr
    assert "channel 0 flat-topped at 1.00" in "".join(_replay_warnings(tmp_path, path, own_home))


def test_a_few_samples_at_the_peak_are_not_clipping(tmp_path, clean):
    """A crest held for two samples, or one knock that hit the ceiling, is said as nothing."""
    x, sr, _ = clean
    y = x / np.abs(x).max() * 0.6
    i = int(np.argmax(np.abs(y)))
    y[i + 1] = y[i]  # the peak, twice
    y[sr: sr + 40] = 0.9  # then one knock, flat at a higher ceiling
    path = tmp_path / "knock.wav"
    sf.write(path, y, sr, subtype="FLOAT")
    assert analyze(path)[1] == []


def test_a_silent_dithered_channel_is_not_clipping(tmp_path, clean):
    """A muted leg of a stereo call, digital silence with a dither of one bit: its peak, 1/32768,
    is held for runs of samples, but that is no gain stage that clipped."""
    x, sr, _ = clean
    dither = np.random.default_rng(1).integers(-1, 2, len(x)) / 32768
    path = tmp_path / "muted_leg.wav"
    sf.write(path, np.column_stack([x * 0.5, dither]), sr, subtype="PCM_16")
    stream = AnalysisStream(path, [0])
    for _ in stream:
        pass
    assert stream.problems() is None


def equal_runs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference: runs of equal consecutive samples, each run's value and length, shapes
    (n,) -> (k,), (k,)."""
    starts = np.concatenate([[0], np.flatnonzero(v[1:] != v[:-1]) + 1])
    return v[starts], np.diff(np.append(starts, len(v)))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 3000), elements=st.sampled_from([-0.5, -0.25, 0.0, 0.25, 0.5, 0.75])),
       st.lists(st.integers(1, 700), min_size=1, max_size=12))
def test_any_split_of_a_stream_counts_the_flat_tops_of_the_whole(x, cuts):
    whole = FlatTops(1, 3)
    whole.add(x[:, None])
    parts, i = FlatTops(1, 3), 0
    for n in cuts * (len(x) // max(1, sum(cuts)) + 1):
        parts.add(x[i:i + n, None])
        i += n
        if i >= len(x):
            break
    values, lengths = equal_runs(x)
    want = [int(np.sum((lengths >= 3) & (values == x.max()))) if x.max() > 0 else 0,
            int(np.sum((lengths >= 3) & (values == x.min()))) if x.min() < 0 else 0]
    assert whole.counts().tolist() == parts.counts().tolist() == [want]


# --------------------------------------------------------------------------- mutated files


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("valid")
    x, sr = speech(1.5)
    out = {}
    for fmt, subtype in (("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")):
        p = d / f"v.{fmt.lower()}"
        sf.write(p, x, sr, format=fmt, subtype=subtype)
        out[fmt] = p.read_bytes()
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_files_give_a_record_or_one_clear_line(tmp_path, capfd, valid_files, data):
    """Random bytes, truncations and header mutations of valid WAV/FLAC/OGG files: a record, or
    one error line naming the file; nothing from a library on stderr, never a traceback."""
    fmt = data.draw(st.sampled_from(sorted(valid_files)))
    blob = bytearray(valid_files[fmt])
    how = data.draw(st.sampled_from(["truncate", "header", "random", "flip"]))
    if how == "truncate":
        blob = blob[:data.draw(st.integers(0, len(blob)))]
    elif how == "header":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, min(63, len(blob) - 1)))
            blob[i] = data.draw(st.integers(0, 255))
    elif how == "random":
        blob = bytearray(data.draw(st.binary(min_size=0, max_size=4096)))
    else:
        for _ in range(data.draw(st.integers(1, 30))):
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] ^= 1 << data.draw(st.integers(0, 7))
    path = tmp_path / f"m.{fmt.lower()}"
    path.write_bytes(bytes(blob))
    capfd.readouterr()
    rc = cli_main(["analyze", "--json", str(path)])
    out, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    if rc == 0:
        rec = json.loads(out)
        assert rec["file"] == str(path)
        assert all(line.startswith(f"call-monitor: warning: {path}: ") for line in lines), lines
        assert len(lines) <= 3  # truncated, what was fixed, and no sound in what is read
    else:
        assert len(lines) == 1 and lines[0].startswith(f"call-monitor: error: {path}: "), lines


# --------------------------------------------------------------------------- flat memory in analyze


def _frames(rng: np.random.Generator, n: int) -> Frames:
    speech = rng.random(n) < rng.uniform(0.2, 0.9)
    # runs, not salt and pepper: pauses and phrases of realistic lengths
    speech = np.repeat(speech[: max(1, n // 7) + 1], 7)[:n]
    speech = speech.copy()
    voiced = speech & (rng.random(n) < 0.7)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    return Frames(t=np.arange(n) * 0.01, energy_db=f32(rng.uniform(-60, -10, n)), floor_db=f32(np.full(n, -60.0)),
                  speech=speech, voiced=voiced, f0_hz=f32(np.where(voiced, rng.uniform(80, 300, n), np.nan)),
                  hnr_db=f32(rng.uniform(0, 20, n)), cpps_db=f32(rng.uniform(5, 25, n)),
                  slope_db_khz=f32(np.zeros(n)), intensity_db=f32(np.zeros(n)),
                  nucleus=speech & (rng.random(n) < 0.05),
                  sound=np.where(speech, 1, np.repeat(rng.integers(0, 4, n // 5 + 1), 5)[:n] % 4).astype(np.uint8))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 3000), cuts=st.lists(st.integers(1, 500), min_size=1))
def test_span_measures_from_running_sums_equal_those_of_all_frames(seed, n, cuts):
    frames = _frames(np.random.default_rng(seed), n)
    acc, i, k = SpanAccumulator(), 0, 0
    while i < n:
        step = cuts[k % len(cuts)]
        acc.add(frames[i:i + step])
        i, k = i + step, k + 1
    got, want = acc.result(n * 0.01).as_dict(), span_measures(frames, n * 0.01).as_dict()
    for key, v in want.items():
        if key == "f0_median_hz" and v is not None:
            assert got[key] == pytest.approx(v, abs=0.01)
        elif v is None or isinstance(v, int):
            assert got[key] == v, key
        else:
            assert got[key] == pytest.approx(v, rel=1e-5, abs=1e-9), key


def test_a_span_without_speech_keeps_its_breaths_and_coughs_whole_or_from_running_sums():
    """A caller who only breathes and coughs: no syllable, pause or phrase, no voice, a speech rate
    of 0 over the span's time, and the breaths and coughs counted, alike from all frames at once
    and from running sums."""
    frames = _frames(np.random.default_rng(5), 600)
    silent = Frames(**{**{f.name: getattr(frames, f.name) for f in dataclasses.fields(Frames)},
                       "speech": np.zeros(600, bool), "voiced": np.zeros(600, bool), "nucleus": np.zeros(600, bool),
                       "sound": np.repeat(np.array([SILENCE, BREATH, SILENCE, COUGH, SILENCE, BREATH], np.uint8), 100)})
    acc = SpanAccumulator()
    acc.add(silent[:250])
    acc.add(silent[250:])
    want = span_measures(silent, 6.0)
    assert acc.result(6.0) == want == SpanMeasures.without_speech(6.0, breaths=2, breath_s=2.0, coughs=1)
    assert (want.speech_rate_sps, want.pause_ratio, want.hnr_db) == (0.0, None, None)


@settings(max_examples=8, deadline=None)
@given(block_s=st.floats(0.05, 3.0))
def test_any_block_size_reads_the_same_conditioned_stream(block_s):
    """44.1 kHz with an offset: edge, then resampling to 16 kHz, the same for any block size."""
    x, _ = speech(4.0)
    buf = io.BytesIO()
    y = np.interp(np.arange(int(len(x) * 44100 / 16000)) * 16000 / 44100, np.arange(len(x)), x) + 0.2
    sf.write(buf, y.astype(np.float32), 44100, format="WAV", subtype="FLOAT")
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"cm_edge_{os.getpid()}.wav"
    path.write_bytes(buf.getvalue())
    try:
        ref = np.concatenate(list(AnalysisStream(path, block_s=1.0)))
        got = np.concatenate(list(AnalysisStream(path, block_s=block_s)))
    finally:
        path.unlink()
    assert len(ref) == len(got)
    np.testing.assert_allclose(got, ref, atol=2e-6)


def test_a_decoders_lines_are_kept_off_stderr_and_a_python_line_written_meanwhile_is_not(capfd):
    """While a file's decoder reads a block, descriptor 2 is held aside: the decoder's own lines
    (libmpg123's, printed past Python) are counted and dropped, any other line written there meanwhile
    (the monitor's own, from another thread) is passed on to stderr after the read."""
    chatter = DecoderChatter()
    print("before", file=sys.stderr)

    def read() -> None:
        os.write(2, b"[src/libmpg123/layer3.c:INT123_do_layer3():1774] error: part2_3_length (832) too large\n")
        print("call-monitor: warning: another thread's line", file=sys.stderr, flush=True)
        os.write(2, b"Note: Illegal Audio-MPEG-Header 0x00000000 at offset 4096.\n")
    chatter.call(read)
    print("after", file=sys.stderr)
    chatter.close()
    assert capfd.readouterr().err.splitlines() == ["before", "call-monitor: warning: another thread's line", "after"]
    assert chatter.lines == 2


def test_a_stop_inside_a_decoders_read_gives_stderr_back_before_it_goes_on(capfd):
    """A stop (Ctrl-C) inside a decoder's read ends the call with descriptor 2 stderr again, before
    the stop goes on to the command's line; the decoder's lines written before it are dropped."""
    chatter = DecoderChatter()

    def read() -> None:
        os.write(2, b"Note: Illegal Audio-MPEG-Header 0x00000000 at offset 4096.\n")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        chatter.call(read)
    print("call-monitor: error: interrupted", file=sys.stderr)
    chatter.close()
    assert capfd.readouterr().err.splitlines() == ["call-monitor: error: interrupted"]
    assert chatter.lines == 1
