"""Detection evaluation: replay a labelled corpus of calls through the real pipeline and score it.

    python -m tools.evaluate DIR [--split tune|test|all] [--rates 16000,8000] [--config FILE]
                                 [--set KEY=VALUE ...] [--json OUT.json] [--compare OLD.json]
                                 [-j N] [--limit-calls N] [--cache DIR] [--no-cache]

``DIR`` holds one label file per call (``<id>.json``: ``files`` per sample rate, ``channels``,
``duration_s``, ``trouble_onset_s``, ``split``, ``expect_critical``, ``forbid_critical``,
``condition``) and an ``index.json`` listing the ids. A folder without ``index.json`` is read
like the project's fixture calls (``audio_fixtures/calls``): every label file in it, one
``fixtures`` split, ``expect_critical`` / ``forbid_critical`` derived from ``max_severity``,
``trouble_onset_s`` and ``forbidden_alerts``, and a condition derived from the label. An
expect_critical call without a ``trouble_onset_s`` is scored from the start of the call.

Every call is replayed at each asked rate (one *file*) through the pipeline of
``call-monitor replay --no-transcribe`` (:class:`~monitor.capture.sources.FileSource` in 2 s blocks ->
:class:`~monitor.pipeline.CallPipeline` -> :func:`~monitor.pipeline.run_source`, in process, no
database), in a pool of ``-j`` worker processes. The configuration is the built-in defaults,
then ``--config``, then ``--set`` (the user's own config file is not read, so that a figure does
not depend on who ran it).

The analyzer is the expensive part, the cue windows much less, the rules hardly anything. So two
things are cached per file (``--cache``, pickles under a hash):

- the analyzers' frames as each pipeline step returned them (:class:`FrameRecord`), keyed by the
  audio, its channels and the analyzer's sources (:data:`ANALYZER_SOURCES`);
- the caller's stream of :class:`~monitor.events.CuesEvent` and the call's duration, which ends
  the alerts (:class:`CueStream`), keyed by the frames' key, ``config.analysis`` and the cue
  code (:data:`CUE_SOURCES`).

A file whose cues are cached reruns only :class:`~monitor.analysis.baseline.BaselineBuilder` and
:class:`~monitor.alerts.rules.AlertEngine` (:func:`judge_cues`, which mirrors ``CallPipeline._judge``),
so threshold changes cost little; one whose frames are cached reruns the cue tracker first
(:func:`track_cues`, which mirrors ``CallPipeline.process``), so a change of a cue window or of
``monitor/analysis/cue_windows.py`` does not rerun the analyzer. Tests compare both with full replays.

Scores (:func:`~monitor.batch.detection.row_metrics`, which `call-monitor batch --labels` reports too), per split, overall and per condition (:data:`DIMENSIONS`):

- expect_critical files: share with a critical alert within 30 s of the onset (``det@30``),
  share with any critical after the onset, median and 90th percentile time from the onset to
  the first critical (nearest rank; a miss counts as infinitely late and prints ``miss``);
- forbid_critical files: how many have any critical (``FA``), warnings and criticals per
  hour of their call time;
- labored files neither expected nor forbidden (mild ones): detected share and median time;
- a critical raised before the onset of a labored call is a false alarm on its normal part
  (``pre-FA``, files with one / labored files);
- warnings per hour of *normal* call time (``nwarn/h``): the whole of ``normal`` calls and the
  part of labored calls before their onset (hard negatives are scored by ``FA`` instead).

The JSON holds per-file results (id, rate, split, condition, first warning and critical,
alerts with times) and the tables; ``--compare OLD.json`` prints before/after per row and the
files whose first critical moved.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread per worker process; importers keep their own setting
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import pickle  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

from tools.options import output_file_problem  # noqa: E402
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

import monitor  # noqa: E402
from monitor.capture.audio_files import AudioFileError, audio_breaks_off, probe  # noqa: E402
from monitor.analysis.baseline import BaselineBuilder  # noqa: E402
from monitor.config import AnalysisConfig, Config, ConfigError, load_config, parse_override  # noqa: E402
from monitor.analysis.cue_windows import CueTracker  # noqa: E402
from monitor.events import AlertEvent, CuesEvent, Event  # noqa: E402
from monitor.analysis.frame_features import Frames  # noqa: E402
from monitor.pipeline import CallPipeline, run_source  # noqa: E402
from monitor.alerts.rules import AlertEngine  # noqa: E402
from monitor.capture.sources import FileSource  # noqa: E402
from monitor.batch.detection import DETECT_WITHIN_S, call_scores, nearest_rank, row_metrics  # noqa: E402,F401
from monitor.batch import detection  # noqa: E402

PROG = "evaluate"
SPLITS: tuple[str, ...] = ("tune", "test", "fixtures", "all")
"""The corpus's splits (``all``: every one; a fixture folder has one, ``fixtures``)."""
RATES = (16000, 8000)
MILD_SEVERITY = 0.35
"""The peak severity of the corpus's mild labored callers, for whom no critical is expected. A
gradual onset's label marks the first caller turn with any trouble (8 % of the peak); a caller
who gets there over three minutes is, 30 s later, still no worse than a mild caller. So the
tables also score from the first caller turn *past* this level (``d30>m``), which for abrupt
onsets and trouble from the first word is the onset itself."""
REPLAY_BLOCK_S = 2.0
"""Block length ``call-monitor replay`` reads files in (without ``--realtime``)."""
ANALYZER_SOURCES: tuple[str, ...] = ("analysis/analyzer.py", "analysis/frame_features.py", "analysis/level_columns.py",
                                     "capture/audio_files.py", "capture/ogg_pages.py", "capture/quiet.py",
                                     "capture/same_legs.py", "capture/sources.py", "dsp/*.py", "files.py")
"""Package files (relative to the package) whose code or data decides the analyzers' frames."""
CUE_SOURCES: tuple[str, ...] = ("analysis/cue_windows.py", "analysis/span_measures.py", "analysis/leg_tally.py",
                                "cue_registry.py", "events.py", "pipeline.py")
"""Package files that decide, from the frames, the caller's cue stream (the cue tracker's modules and
the cue registry, which says which cues its windows take from the span measures)."""
CACHE_VERSION = 2
"""Version of the cached objects' meaning (2: a file whose audio breaks off is an error, never cached)."""
RATE_BUCKETS = ((130.0, "<130"), (160.0, "130-160"), (math.inf, ">160"))
SNR_BUCKETS = ((10.0, "<10"), (20.0, "10-20"), (math.inf, ">=20"))


# =========================================================================== labels


@dataclass(frozen=True)
class Job:
    """One evaluated file: one call at one sample rate."""

    id: str
    rate: int
    path: str
    split: str
    caller_channel: int
    agent_channel: int | None
    duration_s: float
    onset_s: float | None
    expect_critical: bool
    forbid_critical: bool
    condition: dict = field(default_factory=dict)
    past_mild_s: float | None = None  # the first caller turn past MILD_SEVERITY (not before the onset)


class CorpusError(Exception):
    """A corpus folder or label that cannot be used; the message names the file."""


def file_text(path: str | Path, error: type[Exception] = CorpusError) -> str:
    """The text (UTF-8) of the file ``path``; raises ``error`` with one line naming ``path`` as
    given when it is not there or cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read ({exc})") from None


def _read_json(path: Path) -> Any:
    text = file_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}: invalid JSON ({exc.msg}, line {exc.lineno})") from None


def _index_ids(index: Any, path: Path) -> list[str]:
    """Ids from ``index.json``: a list of ids, or a table with ``ids``/``calls`` (ids or labels)."""
    items = index.get("ids", index.get("calls")) if isinstance(index, dict) else index
    if not isinstance(items, list):
        raise CorpusError(f"{path}: expected a list of call ids (or {{\"ids\": [...]}})")
    ids = [it.get("id") if isinstance(it, dict) else it for it in items]
    if not all(isinstance(i, str) and i for i in ids):
        raise CorpusError(f"{path}: every entry must be a call id (a string)")
    return ids


def fixture_condition(label: Mapping[str, Any]) -> dict[str, Any]:
    """A condition for a fixture label (which has none): group, source, caller rate, line noise."""
    onset = label.get("trouble_onset_s")
    warned = label.get("max_severity") == "warning" or bool(label.get("expected_alerts"))
    group = "labored" if onset is not None else "hard_negative" if warned else "normal"
    caller = label.get("caller") or {}
    rates = [t.get("rate_wpm") for t in label.get("turns", []) if t.get("speaker") == "caller"]
    snr = (label.get("line") or {}).get("snr_db")
    return {"group": group, "source": "espeak" if caller.get("source") == "espeak-ng" else "real",
            "rate_wpm": rates[0] if rates else None, "noise": "none" if snr is None else "line",
            "snr_db": snr, "codec": "none", "packet_loss": False, "overlap": False, "hold": False}


def _jobs_of(label: Mapping[str, Any], path: Path, rates: Sequence[int], fixtures: bool) -> list[Job]:
    try:
        files = label["files"]
        channels = label.get("channels") or {"caller": 1, "agent": 0}
        onset = label.get("trouble_onset_s")
        if fixtures:
            forbidden = label.get("forbidden_alerts") or []
            split, condition = "fixtures", fixture_condition(label)
            expect = label.get("max_severity") == "critical" and onset is not None
            forbid = "possible_emergency" in forbidden or label.get("max_severity") != "critical"
        else:
            split, condition = label["split"], dict(label.get("condition") or {})
            expect, forbid = bool(label["expect_critical"]), bool(label["forbid_critical"])
        if expect and onset is None:  # trouble from the start without a marked onset: the whole call
            onset = 0.0
        past_mild = past_mild_s(label, onset)
        common = dict(id=str(label.get("id") or label.get("name") or path.stem), split=split,
                      caller_channel=int(channels["caller"]),
                      agent_channel=None if channels.get("agent") is None else int(channels["agent"]),
                      duration_s=float(label["duration_s"]), onset_s=None if onset is None else float(onset),
                      expect_critical=expect, forbid_critical=forbid, condition=condition,
                      past_mild_s=past_mild)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorpusError(f"{path}: bad label ({type(exc).__name__}: {exc})") from None
    jobs = []
    for rate in rates:
        name = files.get(str(rate))
        if name:
            jobs.append(Job(rate=rate, path=str(path.parent / name), **common))
    return jobs


def past_mild_s(label: Mapping[str, Any], onset: float | None) -> float | None:
    """Start of the label's first caller turn with a severity past :data:`MILD_SEVERITY`, not
    before ``onset``; the onset itself if the turns carry no severity or none is past it."""
    if onset is None:
        return None
    starts = [float(t["start_s"]) for t in label.get("turns") or ()
              if t.get("speaker") == "caller" and float(t.get("severity") or 0.0) > MILD_SEVERITY]
    return max(float(onset), min(starts)) if starts else float(onset)


def load_jobs(folder: str | os.PathLike, split: str = "all", rates: Sequence[int] = RATES,
              limit_calls: int | None = None) -> list[Job]:
    """Files to evaluate: the calls of ``split`` (``all`` = every split), at each of ``rates``.

    Raises CorpusError (one line naming the file) for a missing folder or a bad label."""
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(f"{root}: no such folder")
    index = root / "index.json"
    fixtures = not index.is_file()
    if fixtures:
        paths = sorted(p for p in root.glob("*.json"))
        labels = [(p, _read_json(p)) for p in paths]
        labels = [(p, d) for p, d in labels if isinstance(d, dict) and "files" in d]
    else:
        labels = [(root / f"{i}.json", _read_json(root / f"{i}.json")) for i in _index_ids(_read_json(index), index)]
    if not labels:
        raise CorpusError(f"{root}: no call labels (<id>.json with 'files') found")
    jobs: list[Job] = []
    calls = 0
    for path, label in sorted(labels, key=lambda pl: str(pl[0])):
        if not isinstance(label, dict):
            raise CorpusError(f"{path}: a label must be a JSON object")
        mine = _jobs_of(label, path, rates, fixtures)
        if split != "all" and mine and mine[0].split != split:
            continue
        if limit_calls is not None and calls >= limit_calls:
            break
        calls += 1
        jobs.extend(mine)
    return jobs


# =========================================================================== replay and cache


@dataclass(frozen=True)
class CueStream:
    """What the alert engine consumes from one replayed file: the caller's cue events as the cue
    tracker emitted them (``baseline_ready`` not yet set) and the call's duration."""

    cues: tuple[CuesEvent, ...]
    duration_s: float


@dataclass(frozen=True)
class FrameRecord:
    """The analyzers' output for one replayed file, in the pipeline's steps: ``fed[i]`` holds the
    frames each leg's analyzer returned for chunk ``i`` (in ``legs`` order), ``flushed`` what
    their flush returned at the end of the call."""

    legs: tuple[str, ...]
    fed: tuple[tuple[Frames, ...], ...]
    flushed: tuple[Frames, ...]
    duration_s: float


def _digest_sources(package_dir: Path, patterns: Sequence[str]) -> str:
    h = hashlib.sha256()
    for pattern in patterns:
        for p in sorted(q for q in package_dir.glob(pattern) if q.is_file()):
            h.update(p.relative_to(package_dir).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


_PACKAGE = Path(monitor.__file__).parent
ANALYZER_DIGEST = _digest_sources(_PACKAGE, ANALYZER_SOURCES)
CUE_DIGEST = _digest_sources(_PACKAGE, CUE_SOURCES)
"""Digests of the frame- and cue-producing sources, taken when this module is imported (right
after the package), so that they describe the code the workers forked from this process run."""


def file_digest(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hash(what: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def frames_key(job: Job) -> str:
    """Cache key of a file's analyzer frames: audio, channels, block size, analyzer code, libraries."""
    return _hash({"v": CACHE_VERSION, "audio": file_digest(job.path), "caller": job.caller_channel,
                  "agent": job.agent_channel, "block_s": REPLAY_BLOCK_S, "code": ANALYZER_DIGEST,
                  "numpy": np.__version__, "scipy": scipy.__version__, "python": platform.python_version()})


CUE_ANALYSIS_KEYS: tuple[str, ...] = ("window_speech_s", "window_max_s", "short_speech_s", "short_max_s",
                                       "latency_turns", "hop_s", "min_pause_s",
                                       "max_pause_s", "voice_gate_db", "voice_hold_gate_db",
                                       "voice_hold_quiet_s", "voice_hold_long_s",
                                       "voice_background_margin_db", "voice_background_below_db",
                                       "voice_background_min_s", "voice_background_near_s",
                                       "voice_hum_floor_db", "voice_hum_min_s",
                                       "voice_hum_steady_db", "hold_rest_quiet_s", "hold_rest_above_db",
                                       "hold_rest_ref_s", "hold_rest_min_s", "hold_rest_after_s",
                                       "hold_rest_run_quantile", "hold_rest_skip",
                                       "hold_rest_skip_below_db", "hold_rest_skip_min_s")
"""The ``[analysis]`` keys the cue tracker reads (the baseline's keys act after it, in :func:`judge_cues`)."""


def cue_key(job: Job, cfg: Config, frames: str | None = None) -> str:
    """Cache key of a file's cue stream: its frames' key, the cue tracker's ``[analysis]`` keys
    (:data:`CUE_ANALYSIS_KEYS`) and the cue code."""
    analysis = {k: getattr(cfg.analysis, k) for k in CUE_ANALYSIS_KEYS}
    return _hash({"frames": frames or frames_key(job), "analysis": analysis, "code": CUE_DIGEST})


class _RecordingAnalyzer:
    """Passes a leg's analyzer through, keeping every batch of frames it returns."""

    def __init__(self, analyzer: Any) -> None:
        self.analyzer = analyzer
        self.fed: list[Frames] = []
        self.flushed: Frames | None = None

    def feed(self, x: np.ndarray, unheard: Sequence[tuple[int, int]] = ()) -> Frames:
        frames = self.analyzer.feed(x, unheard)
        self.fed.append(frames)
        return frames

    def flush(self) -> Frames:
        self.flushed = self.analyzer.flush()
        return self.flushed


def replay_file(job: Job, cfg: Config) -> tuple[list[Event], FrameRecord, CueStream]:
    """The file through the pipeline of ``call-monitor replay --no-transcribe`` (no database).

    Returns every event the pipeline emitted, the analyzers' frames and the cue stream (both to
    cache). Raises AudioFileError, also for a file whose audio breaks off before the length its
    header promises (cut short or damaged, as replay finds it: :func:`whole_replayed`)."""
    src = FileSource(job.path, caller_channel=job.caller_channel, agent_channel=job.agent_channel,
                     block_s=REPLAY_BLOCK_S)
    pipeline = CallPipeline(cfg, src.rate, src.legs, source=job.path)
    recorders = {leg: _RecordingAnalyzer(a) for leg, a in pipeline.analyzers.items()}
    pipeline.analyzers = recorders
    events = run_source(pipeline, src.chunks(), [])
    whole_replayed(src)
    record = FrameRecord(legs=src.legs, fed=tuple(zip(*(recorders[leg].fed for leg in src.legs))),
                         flushed=tuple(recorders[leg].flushed for leg in src.legs), duration_s=pipeline.duration_s)
    cues = tuple(replace(e, baseline_ready=False) for e in events if isinstance(e, CuesEvent))
    return events, record, CueStream(cues=cues, duration_s=pipeline.duration_s)


def whole_replayed(src: FileSource) -> None:
    """Raise AudioFileError for a replayed file whose audio broke off (cut short, or damaged: the
    warning ``call-monitor replay`` gives it). A corpus scores whole files only: one scored as far
    as it goes would count its label's length as call time it never had, and the figures would
    silently include a broken file; so it is an error, as missing audio is, and never cached."""
    if src.truncated:
        said = audio_breaks_off(src.path, "replayed", src.duration_s).removeprefix(f"{src.path}: ")
        raise AudioFileError(src.path, f"{said}: not scored (an evaluation scores whole files)")


def track_cues(record: FrameRecord, analysis: AnalysisConfig, tracker: CueTracker | None = None) -> CueStream:
    """The cue tracker over recorded frames, fed as ``CallPipeline.process`` and ``finish`` feed
    it without transcription (keep the two in step: a test compares them); ``tracker`` a fresh one
    to feed instead of a new :class:`CueTracker` (a research subclass that keeps its windows)."""
    tracker = tracker if tracker is not None else CueTracker(analysis, record.legs)
    cues: list[CuesEvent] = []
    for step in record.fed:
        for leg, frames in zip(record.legs, step):
            tracker.add(leg, frames)
        cues.extend(tracker.due())
    for leg, frames in zip(record.legs, record.flushed):
        tracker.add(leg, frames)
    cues.extend(tracker.due(final=True))
    return CueStream(cues=tuple(cues), duration_s=record.duration_s)


def judge_cues(stream: CueStream, cfg: Config, engine: AlertEngine | None = None) -> list[Event]:
    """Baseline and alert engine over a cached cue stream, as ``CallPipeline._judge`` and
    ``CallPipeline.finish`` run them (keep the two in step: a test compares them). ``engine``: a
    fresh engine of ``cfg`` to use (one whose fusion records what it is handed), else a new one."""
    builder = BaselineBuilder(cfg.analysis)
    engine = AlertEngine(cfg) if engine is None else engine
    out: list[Event] = []
    for cues in stream.cues:
        baseline = builder.add(cues)
        cues = replace(cues, baseline_ready=baseline is not None)
        out.append(cues)
        out.extend(engine.update(cues, baseline))
    out.extend(engine.close(round(stream.duration_s, 3)))
    return out


def cue_streams(jobs: Sequence[Job], cfg: Config, cache_dir: str | None) -> Iterator[tuple[Job, CueStream]]:
    """Each job with its cue stream: cached, else replayed (one at a time, in this process)."""
    for job in jobs:
        stream, _ = cached_stream(job, cfg, cache_dir)
        if stream is None:
            _, _, stream = replay_file(job, cfg)
        yield job, stream


def _cache_path(cache_dir: str, key: str) -> Path:
    return Path(cache_dir) / key[:2] / f"{key}.pkl"


def cache_load(cache_dir: str | None, key: str, kind: type) -> Any:
    """The cached object of ``kind`` under ``key``, or None (absent, unreadable or another kind)."""
    if cache_dir is None:
        return None
    path = _cache_path(cache_dir, key)
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError):
        return None
    return obj if isinstance(obj, kind) else None


def cache_save(cache_dir: str, key: str, obj: Any) -> None:
    path = _cache_path(cache_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


# =========================================================================== per-file results


def normal_time_s(job: Job) -> float:
    """Seconds of the file that are normal speech (:func:`monitor.batch.detection.normal_time_s`);
    a hard negative has none (its alerts are scored as false alarms instead)."""
    return detection.normal_time_s(job.duration_s, job.onset_s, job.condition.get("group", "normal") == "normal")


def file_result(job: Job, events: Iterable[Event], source: str) -> dict[str, Any]:
    """Scores of one file from its events (:func:`monitor.batch.detection.call_scores`); ``source``
    is "replay" or "cache"."""
    alerts = [e for e in events if isinstance(e, AlertEvent)]
    scores = call_scores(alerts, job.onset_s, normal_time_s(job))
    crit_after = scores["first_critical_after_onset_t"]
    return {
        "id": job.id, "rate": job.rate, "split": job.split, "file": job.path, "condition": job.condition,
        "duration_s": job.duration_s, "onset_s": job.onset_s, "expect_critical": job.expect_critical,
        "forbid_critical": job.forbid_critical, **scores,
        "past_mild_s": job.past_mild_s,
        "time_past_mild_to_critical_s": (None if crit_after is None or job.past_mild_s is None
                                         else round(crit_after - job.past_mild_s, 3)),
        "alerts": [alert_record(a) for a in alerts],
        "source": source, "error": None,
    }


def alert_record(a: AlertEvent) -> dict[str, Any]:
    """An alert in the scores: time, kind, severity and, for possible_emergency, the cues behind
    it with the window each was judged on ("slow_speech/short")."""
    out: dict[str, Any] = {"t": a.t, "kind": a.kind, "severity": a.severity}
    cues = a.evidence.get("cues") if a.kind == "possible_emergency" else None
    if cues:
        out["cues"] = [f"{kind}/{c.get('window', 'long')}" for kind, c in cues.items()]
    return out


@dataclass(frozen=True)
class Settings:
    """What every worker needs besides the job (picklable; the Config itself is not)."""

    config: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()
    cache_dir: str | None = None


@lru_cache(maxsize=8)
def _config_cached(path: str | None, overrides_json: str) -> Config:
    return load_config(path, dict(json.loads(overrides_json)), user_config=False)


def make_config(settings: Settings) -> Config:
    """The configuration of ``settings`` (defaults <- --config <- --set). Raises ConfigError."""
    return _config_cached(settings.config, json.dumps(list(settings.overrides)))


def check_audio(job: Job) -> None:
    """Raise AudioFileError (one line naming the file: no such file, a folder, not audio, no
    samples) for a job's audio that cannot be replayed, before anything reads it or hashes it for
    the cache; a file whose audio breaks off is found as it is replayed (:func:`whole_replayed`)."""
    probe(job.path)


def cached_stream(job: Job, cfg: Config, cache_dir: str | None) -> tuple[CueStream | None, str]:
    """The file's cue stream from the cache: its cues, else the cue tracker over its cached frames
    (then cached too). Returns (stream or None, "cache" | "frames"); raises AudioFileError for a file
    that cannot be replayed (:func:`check_audio`), cached or not."""
    check_audio(job)
    fkey = frames_key(job)
    ckey = cue_key(job, cfg, fkey)
    stream = cache_load(cache_dir, ckey, CueStream)
    if stream is not None:
        return stream, "cache"
    record = cache_load(cache_dir, fkey, FrameRecord)
    if record is None:
        return None, "replay"
    stream = track_cues(record, cfg.analysis)
    cache_save(cache_dir, ckey, stream)
    return stream, "frames"


def evaluate_job(job: Job, settings: Settings) -> dict[str, Any]:
    """Score one file: from its cached cues or frames when there are, else by a full replay (whose
    frames and cues are cached)."""
    start = time.perf_counter()
    cfg = make_config(settings)
    try:
        stream, source = cached_stream(job, cfg, settings.cache_dir)  # a missing or broken file: its one line
        if stream is not None:
            result = file_result(job, judge_cues(stream, cfg), source)
        else:
            events, record, stream = replay_file(job, cfg)
            if settings.cache_dir is not None:
                fkey = frames_key(job)
                cache_save(settings.cache_dir, fkey, record)
                cache_save(settings.cache_dir, cue_key(job, cfg, fkey), stream)
            result = file_result(job, events, "replay")
    except (AudioFileError, OSError) as exc:
        result = {"id": job.id, "rate": job.rate, "split": job.split, "file": job.path,
                  "error": str(exc) if isinstance(exc, AudioFileError) else f"{job.path}: {exc}"}
    result["cpu_s"] = round(time.perf_counter() - start, 3)
    return result


def _evaluate_star(args: tuple[Job, Settings]) -> dict[str, Any]:
    return evaluate_job(*args)


def evaluate_jobs(jobs: Sequence[Job], settings: Settings, workers: int = 1,
                  on_result: Callable[[dict], None] | None = None) -> list[dict[str, Any]]:
    """Results of every job, in job order; ``workers`` > 1 runs a process pool.

    The longest files go first so that the pool does not end waiting for one of them."""
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].duration_s)
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    tasks = [(jobs[i], settings) for i in order]
    if workers <= 1 or len(jobs) <= 1:
        done: Iterable[dict] = map(_evaluate_star, tasks)
        for i, res in zip(order, done):
            results[i] = res
            if on_result:
                on_result(res)
        return results  # type: ignore[return-value]
    with multiprocessing.get_context("fork").Pool(min(workers, len(jobs))) as pool:
        for i, res in zip(order, pool.imap(_evaluate_star, tasks, chunksize=1)):
            results[i] = res
            if on_result:
                on_result(res)
    return results  # type: ignore[return-value]


# =========================================================================== metrics


def _bucket(value: Any, buckets: tuple[tuple[float, str], ...]) -> str | None:
    if value is None:
        return None
    return next(name for limit, name in buckets if float(value) < limit)


def _snr_bucket(cond: Mapping[str, Any]) -> str | None:
    if cond.get("noise") in (None, "none") or cond.get("snr_db") is None:
        return "none" if "noise" in cond else None
    return _bucket(cond["snr_db"], SNR_BUCKETS)


def _plain(key: str) -> Callable[[dict], Any]:
    return lambda r: r["condition"].get(key)


def _flag(key: str) -> Callable[[dict], Any]:
    return lambda r: "true" if r["condition"].get(key) else None


def _codec(r: dict) -> Any:
    return r["condition"].get("codec") if r["rate"] == 8000 else ("none" if "codec" in r["condition"] else None)


DIMENSIONS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("group", _plain("group")),
    ("severity", _plain("severity")),
    ("degrade", _plain("degrade")),
    ("onset", _plain("onset")),
    ("source", _plain("source")),
    ("breaths", _plain("breaths")),
    ("rate_wpm", lambda r: _bucket(r["condition"].get("rate_wpm"), RATE_BUCKETS)),
    ("noise", _plain("noise")),
    ("snr_db", lambda r: _snr_bucket(r["condition"])),
    ("codec", _codec),
    ("sample_rate", lambda r: str(r["rate"])),
    ("packet_loss", _flag("packet_loss")),
    ("overlap", _flag("overlap")),
    ("hold", _flag("hold")),
    ("negative", _plain("negative")),
)
"""Condition rows: a name and how to read a file result's value (None = not in any row)."""


def tables(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per split: the overall row, then one row per value of each condition dimension."""
    ok = [r for r in results if not r.get("error")]
    out: dict[str, list[dict[str, Any]]] = {}
    order = {"tune": 0, "test": 1}
    for split in sorted({r["split"] for r in ok}, key=lambda s: (order.get(s, 2), s)):
        mine = [r for r in ok if r["split"] == split]
        rows = [{"dimension": "overall", "value": None, "label": "overall", **row_metrics(mine)}]
        for dim, read in DIMENSIONS:
            values = {}
            for r in mine:
                v = read(r)
                if v is not None:
                    values.setdefault(str(v), []).append(r)
            for v in sorted(values):
                rows.append({"dimension": dim, "value": v, "label": f"{dim}={v}", **row_metrics(values[v])})
        out[split] = rows
    return out


# =========================================================================== printing


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _secs(x: float | None) -> str:
    return "-" if x is None else "miss" if math.isinf(x) else f"{x:.1f}"


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


HEADER = (f"{'row':<24} {'files':>5} | {'exp':>4} {'det@30':>6} {'d30>m':>5} {'det':>5} {'med s':>6} {'p90 s':>6} | "
          f"{'forb':>4} {'FA':>3} {'warn/h':>6} {'crit/h':>6} | {'pre-FA':>7} | {'mild':>4} {'det':>5} "
          f"{'med s':>6} | {'nwarn/h':>7}")


def format_row(row: Mapping[str, Any]) -> str:
    pre = f"{row['pre_onset_false_alarm_files']}/{row['labored']}" if row["labored"] else "-"
    return (f"{row['label'][:24]:<24} {row['files']:>5} | {row['expected']:>4} {_pct(row['detected_30s']):>6} "
            f"{_pct(row.get('detected_30s_past_mild')):>5} {_pct(row['detected_any']):>5} "
            f"{_secs(row['median_ttc_s']):>6} {_secs(row['p90_ttc_s']):>6} | "
            f"{row['forbidden']:>4} {row['false_alarm_files'] if row['forbidden'] else '-':>3} "
            f"{_rate(row['warnings_per_hour']):>6} {_rate(row['criticals_per_hour']):>6} | {pre:>7} | "
            f"{row['other']:>4} {_pct(row['other_detected']):>5} {_secs(row['other_median_ttc_s']):>6} | "
            f"{_rate(row['normal_warnings_per_hour']):>7}")


LEGEND = ("exp: expect_critical files; det@30 / det: share with a critical within 30 s of the onset / "
          "at all after it; d30>m: within 30 s of the first caller turn past the mild level (a gradual "
          "onset's label marks the first turn with any trouble); med, p90: time from onset to first critical (nearest rank, miss = never). "
          "forb: forbid_critical files; FA: those with any critical; warn/h, crit/h: per hour of their "
          "call time. pre-FA: labored files with a critical before the onset. mild: labored files "
          "neither expected nor forbidden. nwarn/h: warnings per hour of normal call time.")


def format_tables(tabs: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    lines = []
    for split, rows in tabs.items():
        lines += [f"split {split}", HEADER, "-" * len(HEADER)]
        last_dim = "overall"
        for row in rows:
            if row["dimension"] != last_dim:
                lines.append("")
                last_dim = row["dimension"]
            lines.append(format_row(row))
        lines.append("")
    lines.append(LEGEND)
    return "\n".join(lines)


def _cmp(old: Any, new: Any, fmt: Callable[[Any], str]) -> str:
    a, b = fmt(old), fmt(new)
    return a if a == b else f"{a}->{b}"


def format_compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Before/after of every row both runs have, then the files whose first critical moved."""
    lines = [f"{'row':<24} {'files':>9} {'det@30':>11} {'d30>m':>11} {'det':>11} {'med s':>13} {'FA':>7} "
             f"{'warn/h':>11} {'pre-FA':>7} {'nwarn/h':>11}"]
    for split, rows in new["tables"].items():
        before = {r["label"]: r for r in old.get("tables", {}).get(split, [])}
        lines.append(f"split {split}")
        for r in rows:
            o = before.get(r["label"])
            if o is None:
                continue
            lines.append(
                f"{r['label'][:24]:<24} {_cmp(o['files'], r['files'], str):>9} "
                f"{_cmp(o['detected_30s'], r['detected_30s'], _pct):>11} "
                f"{_cmp(o.get('detected_30s_past_mild'), r.get('detected_30s_past_mild'), _pct):>11} "
                f"{_cmp(o['detected_any'], r['detected_any'], _pct):>11} "
                f"{_cmp(o['median_ttc_s'], r['median_ttc_s'], _secs):>13} "
                f"{_cmp(o['false_alarm_files'], r['false_alarm_files'], str):>7} "
                f"{_cmp(o['warnings_per_hour'], r['warnings_per_hour'], _rate):>11} "
                f"{_cmp(o['pre_onset_false_alarm_files'], r['pre_onset_false_alarm_files'], str):>7} "
                f"{_cmp(o['normal_warnings_per_hour'], r['normal_warnings_per_hour'], _rate):>11}")
    olds = {(f["id"], f["rate"]): f for f in old.get("files", []) if not f.get("error")}
    moved = []
    for f in new["files"]:
        o = olds.get((f["id"], f["rate"]))
        if o is not None and not f.get("error") and o["first_critical_t"] != f["first_critical_t"]:
            moved.append(f"  {f['id']} @{f['rate']}: first critical {_secs(o['first_critical_t'])} -> "
                         f"{_secs(f['first_critical_t'])} s (onset {_secs(f['onset_s'])})")
    lines.append(f"files whose first critical moved: {len(moved)}")
    return "\n".join(lines + moved)


def format_files(results: Sequence[Mapping[str, Any]]) -> str:
    """One line per file: first warning and critical, time to critical, alert kinds."""
    lines = []
    for r in results:
        if r.get("error"):
            lines.append(f"{r['id']:<28} {r['rate']:>5}  error: {r['error']}")
            continue
        kinds = ",".join(dict.fromkeys(a["kind"] for a in r["alerts"])) or "-"
        flag = "expect" if r["expect_critical"] else "forbid" if r["forbid_critical"] else "-"
        lines.append(f"{r['id'][:28]:<28} {r['rate']:>5} {flag:>6} onset {_secs(r['onset_s']):>6}  "
                     f"warn {_secs(r['first_warning_t']):>6}  crit {_secs(r['first_critical_t']):>6}  "
                     f"ttc {_secs(r['time_to_critical_s']):>6}  {kinds}")
    return "\n".join(lines)


# =========================================================================== command line


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "callmonitor", "eval-cues")


def parse_rates(text: str) -> tuple[int, ...]:
    try:
        rates = tuple(int(r) for r in text.split(",") if r.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rates: expected e.g. 16000,8000, got {text!r}") from None
    if not rates or any(r not in RATES for r in rates):
        raise argparse.ArgumentTypeError(f"--rates: each rate must be 16000 or 8000, got {text!r}")
    return rates


def add_common_options(p: argparse.ArgumentParser, workers: bool = True) -> None:
    """Options shared with the tuning driver (``workers``: the tool runs ``-j`` processes; else
    it takes the option and runs in one)."""
    p.add_argument("folder", metavar="DIR", help="corpus folder (index.json and <id>.json labels) or "
                   "a folder of fixture calls")
    p.add_argument("--rates", type=parse_rates, default=RATES, metavar="R,R",
                   help="sample rates to evaluate (default 16000,8000)")
    p.add_argument("--config", metavar="FILE", help="configuration file (TOML) on top of the defaults")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one configuration key, dotted as in the configuration file "
                        "(rules.slow_speech.persist_s=8); repeatable")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="worker processes (default: the machine's cores)" if workers
                   else "ignored: this tool runs in one process")
    p.add_argument("--limit-calls", type=int, metavar="N", help="only the first N calls (by label file name)")
    p.add_argument("--cache", metavar="DIR", default=default_cache_dir(),
                   help="cue cache folder (default: %(default)s)")
    p.add_argument("--no-cache", action="store_true", help="replay every file, neither read nor write the cache")
    p.add_argument("--json", metavar="OUT", help="write per-file results and tables as JSON")


def cache_folder_problem(path: str) -> str | None:
    """Why ``path`` cannot be the cache folder (one phrase), or None: it, or the folder it is to be
    made in, is a file or cannot be written."""
    p = Path(path).absolute()
    there = next(q for q in (p, *p.parents) if q.exists())
    if not there.is_dir():
        return "is not a folder" if there == p else f"cannot be made: {there} is not a folder"
    if not os.access(there, os.W_OK | os.X_OK):
        return "cannot be written (permission denied)" if there == p else f"cannot be made in {there} (permission denied)"
    return None


def check_outputs(args: argparse.Namespace) -> None:
    """Raise ConfigError (one line naming the option and the path) when ``--json`` or ``--cache``
    (unless ``--no-cache``) cannot be written."""
    if getattr(args, "json", None) and (problem := output_file_problem(args.json)):
        raise ConfigError(f"--json {args.json}: {problem}")
    if not getattr(args, "no_cache", True) and (problem := cache_folder_problem(args.cache)):
        raise ConfigError(f"--cache {args.cache}: {problem}")


def settings_from_args(args: argparse.Namespace, extra: Mapping[str, Any] | None = None) -> Settings:
    """Settings from the options; raises ConfigError for a bad --config, --set or value, and for a
    ``--json`` or ``--cache`` that cannot be written (:func:`check_outputs`), before any work."""
    overrides = dict(parse_override(o) for o in args.overrides)
    overrides.update(extra or {})
    if args.config and not os.path.isfile(args.config):
        raise ConfigError(f"{args.config}: no such configuration file")
    check_outputs(args)
    settings = Settings(config=args.config, overrides=tuple(overrides.items()),
                        cache_dir=None if args.no_cache else args.cache)
    make_config(settings)  # validate here: unknown keys fail before any work
    return settings


def corpus_tool_parser(prog: str, description: str, split: str = "tune") -> argparse.ArgumentParser:
    """The options of a tool that reads one split of the corpus: :func:`add_common_options` and
    ``--split`` (one of :data:`SPLITS`)."""
    p = argparse.ArgumentParser(prog=f"python -m tools.{prog}", description=description)
    add_common_options(p, workers=False)
    p.add_argument("--split", choices=SPLITS, default=split, help=f"split to read (default {split})")
    return p


def corpus_of(args: argparse.Namespace) -> tuple[Settings, Config, list[Job]]:
    """A corpus tool's settings, configuration and files (:func:`corpus_tool_parser`'s options);
    raises ConfigError or CorpusError (one line), also for a split without calls."""
    settings = settings_from_args(args)
    jobs = load_jobs(args.folder, args.split, args.rates, args.limit_calls)
    if not jobs:
        raise CorpusError(f"{args.folder}: no calls in split {args.split!r}")
    return settings, make_config(settings), jobs


def fail(message: str, code: int = 2, prog: str = PROG) -> int:
    """Print ``prog: error: message`` on stderr; returns ``code`` (the exit status)."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return code


CORPUS_PROBLEMS: tuple[type[Exception], ...] = (ConfigError, CorpusError, AudioFileError)
"""What a tool reading the corpus says in one line (:func:`corpus_failed`) rather than a traceback: its
configuration, the corpus's folder and labels, a call's audio missing, unreadable or cut short."""


def corpus_failed(exc: Exception, prog: str = PROG) -> int:
    """``exc`` (one of :data:`CORPUS_PROBLEMS`) in one line naming its file (:func:`fail`); the exit
    status: 1 for a call's audio, as the evaluation's run fails for it, 2 for the configuration or the
    corpus."""
    return fail(str(exc), 1 if isinstance(exc, AudioFileError) else 2, prog)


def git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(monitor.__file__).parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "monitor"],
                               capture_output=True, text=True, timeout=5, cwd=Path(monitor.__file__).parents[1])
    except (OSError, subprocess.SubprocessError):
        return None
    rev = out.stdout.strip()
    return (rev + ("+dirty" if dirty.stdout.strip() else "")) if rev else None


@dataclass(frozen=True)
class RunReport:
    results: list[dict[str, Any]]
    tables: dict[str, list[dict[str, Any]]]
    wall_s: float
    audio_s: float
    replayed: int
    from_frames: int
    cached: int

    @property
    def x_real_time(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else math.inf


def run_evaluation(jobs: Sequence[Job], settings: Settings, workers: int) -> RunReport:
    start = time.perf_counter()
    results = evaluate_jobs(jobs, settings, workers)
    wall = time.perf_counter() - start
    ok = [r for r in results if not r.get("error")]
    return RunReport(results=results, tables=tables(results), wall_s=wall,
                     audio_s=sum(r["duration_s"] for r in ok),
                     replayed=sum(r["source"] == "replay" for r in ok),
                     from_frames=sum(r["source"] == "frames" for r in ok),
                     cached=sum(r["source"] == "cache" for r in ok))


def timing_line(rep: RunReport, workers: int) -> str:
    return (f"{len(rep.results)} files ({rep.replayed} replayed, {rep.from_frames} cues from cached frames, "
            f"{rep.cached} from cached cues), "
            f"{rep.audio_s / 60:.1f} min of audio in {rep.wall_s:.1f} s wall with {workers} worker(s): "
            f"{rep.x_real_time:.0f}x real time")


def to_json(rep: RunReport, meta: Mapping[str, Any]) -> dict[str, Any]:
    return {"version": 1, "meta": {**meta, "wall_s": round(rep.wall_s, 3), "audio_s": round(rep.audio_s, 3),
                                   "x_real_time": round(rep.x_real_time, 1), "replayed": rep.replayed,
                                   "from_frames": rep.from_frames, "cached": rep.cached},
            "files": rep.results, "tables": rep.tables}


def _json_safe(obj: Any) -> Any:
    """inf (a missed detection's time) as the string "inf": JSON has no infinity."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _json_load_safe(obj: Any) -> Any:
    if obj == "inf":
        return math.inf
    if isinstance(obj, dict):
        return {k: _json_load_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_load_safe(v) for v in obj]
    return obj


def write_json(path: str, data: Mapping[str, Any]) -> None:
    Path(path).write_text(json.dumps(_json_safe(data), indent=1) + "\n", encoding="utf-8")


def read_run_json(path: str) -> dict[str, Any]:
    """A JSON written by ``--json``; raises CorpusError naming the file."""
    data = _read_json(Path(path))
    if not isinstance(data, dict) or "tables" not in data or "files" not in data:
        raise CorpusError(f"{path}: not an evaluation result (no 'tables' and 'files')")
    return _json_load_safe(data)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m tools.{PROG}",
                                description="Replay a labelled corpus through the pipeline and score detection.")
    add_common_options(p)
    p.add_argument("--split", choices=SPLITS, default="all",
                   help="which split to evaluate (default all; fixture folders have one split, 'fixtures')")
    p.add_argument("--compare", metavar="OLD.json", help="print before/after against an earlier --json result")
    p.add_argument("--files", action="store_true", help="also print one line per file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.jobs < 1:
        return fail(f"-j: must be at least 1, got {args.jobs}")
    try:
        settings = settings_from_args(args)
        jobs = load_jobs(args.folder, args.split, args.rates, args.limit_calls)
        old = read_run_json(args.compare) if args.compare else None
    except (ConfigError, CorpusError) as exc:
        return fail(str(exc))
    if not jobs:
        return fail(f"{args.folder}: no calls in split {args.split!r}")
    rep = run_evaluation(jobs, settings, args.jobs)
    for r in rep.results:
        if r.get("error"):
            print(f"{PROG}: error: {r['error']}", file=sys.stderr)
    if args.files:
        print(format_files(rep.results) + "\n")
    print(format_tables(rep.tables))
    print(timing_line(rep, args.jobs))
    data = to_json(rep, {"folder": str(args.folder), "split": args.split, "rates": list(args.rates),
                         "config": args.config, "overrides": dict(settings.overrides), "git": git_revision(),
                         "analyzer_digest": ANALYZER_DIGEST[:16], "cue_digest": CUE_DIGEST[:16],
                         "jobs": args.jobs})
    if args.compare:
        print("\ncompared with " + args.compare)
        print(format_compare(old, _json_load_safe(_json_safe(data))))
    if args.json:
        try:
            write_json(args.json, data)
        except OSError as exc:
            return fail(f"{args.json}: cannot write ({exc.strerror or exc})")
    return 1 if any(r.get("error") for r in rep.results) else 0


if __name__ == "__main__":
    # run the importable module, not this __main__ copy: cached objects are pickled with their
    # class's module, and tools.tune (or a second run) must be able to read them
    from tools import evaluate as _module

    sys.exit(_module.main())
