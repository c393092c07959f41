"""What a worker does with one call: hash the file, run the ``replay`` pipeline, summarise.

The worker holds one call's state and no store: it returns the call's events (cue windows,
alerts, clears, words, summary) for the client to store, as ``replay`` would have stored them,
and the call's row of the per-call table. Every failure of the recording becomes a result with
an ``error`` (one line naming the file), never an exception out of the task.
"""

from __future__ import annotations

import logging
import os
import pickle
import selectors
import signal
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping

from ..capture.audio_files import AudioFileError
from ..config import Config, config_from_toml
from ..events import Event
from ..files import recording_hash
from ..transcription.vosk_models import ModelError
from ..pipeline import RECOGNIZER_FAILURE, CallPipeline, recording_chunks, run_source
from ..capture.leg_files import LegFilesSource
from ..capture.sources import Chunk, FileSource, Recording
from .inputs import BATCH_CHOOSE_LEGS, CallJob
from .table import QUIET_JOIN, call_row

log = logging.getLogger(__name__)

TRANSCRIPTION_PLUGIN = "callmonitor-transcription"


@dataclass(frozen=True)
class CallResult:
    """One call's outcome. ``skipped``: the file's content was already scored with this
    configuration (nothing was analysed); ``error``: one line, the call has no events."""

    job: CallJob
    content_hash: str = ""
    fingerprint: str = ""
    """The recording's sampled hash (:func:`~monitor.files.recording_fingerprint`), kept with its
    stored call as ``replay`` keeps it."""
    row: dict[str, Any] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    error: str = ""
    skipped: bool = False
    channels: int = 0
    """The recording's channel count, read from its header (0: not read): which legs it was
    scored from (:meth:`CallJob.legs`), for the ledger's row of a skipped call."""
    unread_channels: str = ""
    """A recording of more than two channels: its channel count and the channels read; a mono
    recording asked for legs it does not have: that it is the caller alone (a phrase for the
    client's warning line naming the file), else empty."""
    audio_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    worker_pid: int = 0


class CallCancelled(Exception):
    """The call's task was cancelled while it ran (its batch stopped, or went away): its scoring
    ends where it is, its result wanted by no one."""


CANCEL_LOOK_S = 0.25
"""How often a worker waiting for the process that transcribes its call looks whether the call's
task was cancelled (an acoustic-only call looks at every block it reads)."""


def task_cancelled() -> Callable[[], bool]:
    """Whether the Dask task this thread runs has been cancelled, as its worker's own state of the
    task says (the scheduler freed it: its client cancelled it or went away), a check cheap enough
    for every block of a call; outside a Dask task (replay, a test), never.

    Dask cannot interrupt a task's thread: a cancelled one runs on, its worker marking it cancelled
    until it returns, so a call scored on a remote cluster would be scored to its end for no one,
    keeping the worker's thread from the calls of the next batch."""
    try:
        from distributed import get_worker
        from distributed.utils import thread_state
        worker, key = get_worker(), thread_state.key
    except (ImportError, ValueError, AttributeError):  # not in a task
        return lambda: False

    def cancelled() -> bool:
        task = worker.state.tasks.get(key)
        return task is None or task.state == "cancelled"
    return cancelled


def _until_cancelled(chunks: Iterator[Chunk], cancelled: Callable[[], bool]) -> Iterator[Chunk]:
    """``chunks`` as they come, until ``cancelled()``: then :class:`CallCancelled`."""
    for chunk in chunks:
        if cancelled():
            raise CallCancelled
        yield chunk


def _cpu_s() -> float:
    """CPU time of this process and of its finished children (the forked transcribing ones)."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def _peak_rss_mb() -> float:
    """This process's peak resident memory (MB): Linux's VmHWM, its own address space's. (Its
    ``ru_maxrss`` is carried across exec: a worker process spawned by a large parent would report
    the parent's peak.)"""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _transcription(transcribe: bool) -> Any:
    """The worker's loaded model (the transcription plugin's), once its load has ended (it loads in
    a thread of its own: :func:`~monitor.batch.runner._transcription_plugin`), or None without
    ``transcribe``. Raises ModelError when the worker could not load it."""
    if not transcribe:
        return None
    from distributed import get_worker
    plugin = get_worker().plugins.get(TRANSCRIPTION_PLUGIN)
    if (loaded := getattr(plugin, "loaded", None)) is not None:
        loaded.wait()
    setup = getattr(plugin, "transcription", None)
    if setup is None:
        raise ModelError(getattr(plugin, "error", "") or "the worker has no Vosk model loaded")
    return setup


def _in_forked_child(fn: Callable[..., Any], *args: Any, cancelled: Callable[[], bool] = lambda: False) -> Any:
    """``fn(*args)`` in a child forked from this process, its result (or exception) sent back pickled.

    Each transcribed call is decoded in a fresh copy of the worker, its model loaded and never used,
    which a stopped batch ends at once (a decoding in the worker itself cannot be stopped); its words
    are those ``replay`` gives for that recording alone, whichever calls the worker scored before
    (each recognizer's dither is its own: :class:`~monitor.transcription.vosk_native.Dither`).
    (``os.fork`` itself: Dask's worker processes are daemonic and multiprocessing refuses them children.)
    Once ``cancelled()`` (looked at every :data:`CANCEL_LOOK_S` while it waits), the child is
    ended (SIGKILL) and :class:`CallCancelled` raised."""
    read_fd, write_fd = os.pipe()
    worker = os.getpid()
    pid = os.fork()
    if pid == 0:
        _ended_with(worker)
        os.close(read_fd)
        _child(write_fd, fn, args)
    os.close(write_fd)
    try:
        data = _read_until_cancelled(read_fd, cancelled)
    except CallCancelled:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"the transcribing process died (wait status {status})")
    ok, value = pickle.loads(data)
    if ok:
        return value
    if value.audio is not None:
        raise AudioFileError(*value.audio)
    raise RuntimeError(f"{value.kind}: {value.message}")


def _read_until_cancelled(fd: int, cancelled: Callable[[], bool]) -> bytes:
    """All ``fd`` gives up to its end, or :class:`CallCancelled` once ``cancelled()``. (A selector,
    not ``select.select``, which takes no descriptor from 1024 on: a worker may hold that many.)"""
    parts: list[bytes] = []
    with selectors.DefaultSelector() as waiting:
        waiting.register(fd, selectors.EVENT_READ)
        while True:
            if not waiting.select(CANCEL_LOOK_S):
                if cancelled():
                    raise CallCancelled
                continue
            part = os.read(fd, 1 << 16)
            if not part:
                return b"".join(parts)
            parts.append(part)


PR_SET_PDEATHSIG = 1
"""Linux's prctl option: the signal a process gets when the thread that forked it ends."""


def _ended_with(worker: int) -> None:
    """In a child forked by the worker process ``worker``: SIGKILL to it when its worker ends
    (Linux; elsewhere nothing), as when a stopped batch ends its busy workers. It would otherwise
    decode the rest of its call for no one, holding the worker's inherited file descriptors, whose
    end Dask waits for before the batch can exit. (It is the forking thread's end that counts: that
    thread waits for the child, so it ends only with the worker.)"""
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl here
        return
    if os.getppid() != worker:  # the worker ended before the setting took
        os._exit(1)


@dataclass(frozen=True)
class _ChildError:
    kind: str
    message: str
    audio: tuple[str, str] | None
    """An :class:`AudioFileError`'s recording and problem, raised again as one; None for any other error."""


def _child(write_fd: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """The forked child: run, send the pickled outcome, exit without returning to the worker."""
    code = 0
    try:
        try:
            payload = pickle.dumps((True, fn(*args)))
        except Exception as err:  # noqa: BLE001 - sent to the parent, raised there
            audio = (err.path, err.problem) if isinstance(err, AudioFileError) else None
            payload = pickle.dumps((False, _ChildError(type(err).__name__, str(err), audio)))
        with os.fdopen(write_fd, "wb") as fh:
            fh.write(payload)
    except BaseException:  # noqa: BLE001 - the parent sees an empty pipe
        code = 1
    finally:
        os._exit(code)


def _said_by_the_client(record: logging.LogRecord) -> bool:
    """Log filter: a recognizer's failure is said once, by the client, from the call's row."""
    return not getattr(record, RECOGNIZER_FAILURE, False)


def run_call(job: CallJob, cfg: Config, transcription: Any = None,
             cancelled: Callable[[], bool] = lambda: False) -> tuple[list[Event], dict[str, Any]]:
    """Replay ``job`` exactly as ``call-monitor replay`` does (2 s blocks, no pacing; its caller on
    hold over its :attr:`~CallJob.holds`, as ``replay --hold``), without a store. Returns the events and the recording's facts (with ``recognizer_errors``: the failures
    of a leg's recognizer, after which the call went on without its words, and ``unread_channels``:
    :meth:`~monitor.capture.sources.FileSource.unread_channels`, or for a mono recording
    :attr:`~monitor.capture.sources.FileSource.legs_not_there`). Raises AudioFileError, and
    :class:`CallCancelled` once ``cancelled()`` (looked at before each block)."""
    src = job_source(job, block_s=2.0)
    extra = transcription.for_call(src.rate, src.legs) if transcription is not None else {}
    pipeline = CallPipeline(cfg, src.rate, src.legs, store=None, source=job.path, agent_file=job.agent_path or None,
                            **extra)
    pipeline_log = logging.getLogger(CallPipeline.__module__)
    pipeline_log.addFilter(_said_by_the_client)
    try:
        events = run_source(pipeline, _until_cancelled(recording_chunks(pipeline, src, job.legs_turned), cancelled),
                            [], job.holds)
    finally:
        pipeline_log.removeFilter(_said_by_the_client)
    flaws = pipeline.flaws  # as replay reads them: one wording, kept in the row and with the stored call
    facts = {"sample_rate": src.info.rate, "channels": src.info.channels, "legs": "+".join(src.legs),
             "truncated": flaws.truncated_at_s is not None, "problems": flaws.problems,
             "legs_same": flaws.legs_same, "legs_swapped": flaws.legs_swapped, "too_quiet": QUIET_JOIN.join(flaws.quiet_legs),
             "recognizer_errors": tuple(pipeline.recognizer_errors),
             "unread_channels": src.unread_channels(BATCH_CHOOSE_LEGS) or src.legs_not_there or ""}
    return events, facts


def job_source(job: CallJob, block_s: float = 0.5) -> Recording:
    """The call's recording as a source: a FileSource on its legs' channels, or for a call of two
    files (``agent_path``) the LegFilesSource of both. Raises AudioFileError."""
    if job.agent_path:
        return LegFilesSource(job.path, job.agent_path, block_s=block_s)
    return FileSource(job.path, caller_channel=job.caller_channel, agent_channel=job.agent_channel, block_s=block_s)


def score_call(job: CallJob, config_toml: str, config_hash: str,
               known: Mapping[tuple[int, int], str] = MappingProxyType({}), transcribe: bool = False) -> CallResult:
    """The Dask task: one call in, one :class:`CallResult` out (never raises for a bad file).

    ``known``: the content hash this path was already scored with under ``config_hash``, by the
    legs it was scored from (from the client's ledger, with ``--resume``); the same content again,
    on the legs this recording's call is scored from (:meth:`CallJob.legs`), is skipped."""
    t_cpu = _cpu_s()
    read = _read_file(job)
    if isinstance(read, CallResult):
        return read
    channels, digest, fingerprint = read
    if digest == known.get(job.legs(channels)):
        return CallResult(job, content_hash=digest, skipped=True, channels=channels)
    scored = _scored(job, config_toml, transcribe, digest)
    if isinstance(scored, CallResult):
        return scored
    cfg, events, facts = scored
    return _scored_result(job, cfg, events, facts, digest, fingerprint, config_hash, t_cpu)


def _read_file(job: CallJob) -> tuple[int, str, str] | CallResult:
    """The recording's channel count (from its header), content hash and sampled fingerprint, or
    the result of a file that cannot be read (its one line)."""
    # the header first, as the client checks it (a file only the workers see is checked here alone),
    # before the file is read whole: a named pipe or a device would block the worker for ever
    try:
        channels = job_source(job).info.channels
    except AudioFileError as err:
        return CallResult(job, error=str(err))
    try:
        digest = recording_hash(job.path, job.agent_path or None)
        fingerprint = recording_hash(job.path, job.agent_path or None, sampled=True)  # as its report checks it
    except OSError as err:
        name = err.filename if isinstance(err.filename, str) else job.path
        return CallResult(job, error=f"{name}: cannot read the file ({err.strerror or err})")
    return channels, digest, fingerprint


def _scored(job: CallJob, config_toml: str, transcribe: bool,
            digest: str) -> tuple[Config, list[Event], dict[str, Any]] | CallResult:
    """The call run through the pipeline under the batch's configuration (transcribed in a forked
    child): the configuration, the events and the call's facts; or the result of a call that was
    cancelled or failed (its one line; an unexpected failure logged with its traceback)."""
    try:
        cfg = config_from_toml(config_toml, "batch configuration")
        transcription = _transcription(transcribe)
        if transcription is None:
            events, facts = run_call(job, cfg, cancelled=task_cancelled())
        else:
            events, facts = _in_forked_child(run_call, job, cfg, transcription, cancelled=task_cancelled())
    except CallCancelled:  # the result goes to no one: the row says why, should anyone read it
        return CallResult(job, content_hash=digest, error=f"{job.path}: cancelled while it was scored")
    except AudioFileError as err:
        return CallResult(job, content_hash=digest, error=str(err))
    except ModelError as err:
        return CallResult(job, content_hash=digest, error=f"{job.path}: cannot transcribe ({err})")
    except Exception as err:  # noqa: BLE001 - one bad call must not stop an archive
        log.exception("%s: scoring failed", job.path)
        return CallResult(job, content_hash=digest, error=f"{job.path}: scoring failed ({type(err).__name__}: {err})")
    return cfg, events, facts


def _scored_result(job: CallJob, cfg: Config, events: list[Event], facts: dict[str, Any], digest: str,
                   fingerprint: str, config_hash: str, t_cpu: float) -> CallResult:
    """The scored call's result: its row of the per-call table (with the failure of a recognizer it
    was scored without), its events, and the worker's time and memory since ``t_cpu``."""
    unheard = facts.pop("recognizer_errors", ())
    unread = facts.pop("unread_channels", "")
    row = call_row(job, cfg, events, facts, content_hash=digest, config_hash=config_hash)
    if unheard:  # scored acoustically, as replay goes on; the row and the batch's exit say so
        row["error"] = f"{job.path}: speech recognition failed ({'; '.join(unheard)}); scored without its words"
    return CallResult(job, content_hash=digest, fingerprint=fingerprint, row=row, events=tuple(events),
                      audio_s=row["duration_s"],
                      unread_channels=unread,
                      cpu_s=_cpu_s() - t_cpu, peak_rss_mb=_peak_rss_mb(), worker_pid=os.getpid())
