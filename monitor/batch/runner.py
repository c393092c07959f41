"""The client side of a batch: a Dask cluster, bounded submission, results streamed into the store.

The client submits a few calls per thread of the workers present at a time (never the whole
archive; the threads counted again as workers join or leave), writes each result into the
:class:`~monitor.batch.ledger.BatchStore` as it completes (the only writer), and keeps one small
table row per call. Workers read the recordings themselves, from a path
they share with the client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import logging
import os
import pickle
import re
import signal
import socket
import threading
import time
import warnings
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, cast

from ..capture.audio_files import audio_breaks_off
from ..capture.holds import past_end
from ..config import Config
from ..config.toml import effective_config_toml
from ..console import first_line
from ..installing import on_each_worker
from ..stops import stops_blocked, stops_held, stops_noted
from .inputs import CallJob
from .ledger import BatchStore, flaws_of_row
from .progress import PROGRESS_EVERY_S, Progress
from .score import TRANSCRIPTION_PLUGIN, CallResult
from .table import failed_row, job_cells

log = logging.getLogger(__name__)

IN_FLIGHT_PER_THREAD = 2
"""Calls submitted ahead per worker thread: enough to keep workers busy, never the archive."""


def calls_in_flight(threads: int) -> int:
    """The calls a batch keeps sent and not yet taken for a cluster of ``threads`` worker threads:
    :data:`IN_FLIGHT_PER_THREAD` per thread, and as many as for one thread while it has none."""
    return max(1, threads) * IN_FLIGHT_PER_THREAD


class ClusterError(RuntimeError):
    """The cluster cannot be started or reached; one line."""


class SchedulerLost(ClusterError):
    """The running cluster's scheduler (``--scheduler``) went away while the batch scored: Dask
    cancelled every call it held, and the client, which cannot get them back, stops rather than
    fail them (they were never scored) or send more to a scheduler that is not there. What was
    stored before it is the batch's :class:`BatchOutcome`, said as a stop says it."""

    def __init__(self, scheduler: str, why: str = "went away (connection lost)") -> None:
        super().__init__(f"{scheduler}: the Dask scheduler {why}")
        self.scheduler = scheduler


class SchedulerSilent(SchedulerLost):
    """The running cluster's scheduler took the batch's client, then did not reply to a question
    within :data:`SCHEDULER_REPLY_S` (stopped, as by SIGSTOP or a debugger, or its machine down
    without its connections closing): the batch stops as for one gone (:class:`SchedulerLost`),
    rather than wait for ever for a reply, a call's result or a worker. (The batch asks it whether
    its workers are still there every :data:`IDLE_CHECK_S` that passes with no call finished.)"""

    def __init__(self, scheduler: str) -> None:
        super().__init__(scheduler, f"does not reply (nothing within {SCHEDULER_REPLY_S:g} s)")


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (a container's or ``taskset``'s limit)
    where the system says it, else every core of the machine."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity on this system
        return os.cpu_count() or 1


def local_workers(asked: int | None, calls: int) -> int:
    """The worker processes a local cluster starts for ``calls`` calls: ``asked`` (None: one per
    core), never more than the :func:`usable_cores` (a worker scores one call at a time on one
    core: more would only share them, each with its own memory) nor than the calls; at least one."""
    cores = usable_cores()
    return max(1, min(asked or cores, cores, calls))


@dataclass(frozen=True)
class BatchOptions:
    workers: int | None = None
    """Local worker processes (None: one per core, :func:`usable_cores`). Ignored with ``scheduler``."""
    scheduler: str | None = None
    """Address of a running ``dask scheduler`` (tcp://host:8786)."""
    transcribe: bool = False
    model: str | None = None
    model_info: Any = None
    """With ``transcribe``: the :class:`~monitor.transcription.vosk_models.ModelInfo` of :func:`transcription_model`."""
    resume: bool = False
    progress: str | None = "bar"
    """How the scoring's progress shows on stderr: :data:`PROGRESS_BAR`, :data:`PROGRESS_LINES` or
    None (not at all: ``--quiet``)."""


@dataclass
class BatchOutcome:
    """What a batch did; ``rows`` in the order of the inputs."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    scored: int = 0
    skipped: int = 0
    failed: int = 0
    without_words: int = 0
    """Scored calls whose speech recognition failed (``--transcribe``): scored acoustically, the
    row's ``error`` says so."""
    audio_s: float = 0.0
    wall_s: float = 0.0
    worker_cpu_s: float = 0.0
    workers: int = 0
    """The workers that scored a call (those that joined as it scored too; none when none was scored)."""
    peak_rss_mb: dict[int, float] = field(default_factory=dict)
    """Peak resident memory of each worker process (by pid) that scored a call."""
    to_score: int = 0
    """The calls the batch sends to its workers (those whose recording could be opened), once it scores."""
    again: int = 0
    """Calls scored and stored although the database held them scored already from the same
    content, legs and configuration (a batch run again without ``--resume``): stored twice."""
    words_deleted: int = 0
    """Calls the ledger names for the batch's files whose stored words a ``--resume`` deleted,
    ``storage.transcripts`` being false now (:meth:`BatchRun._forget_words`)."""
    cancelled: int = 0
    """Calls under way on a running cluster (``--scheduler``) whose tasks the batch cancelled as it
    stopped (:meth:`BatchRun.run`)."""

    def flagged(self, rows: Iterable[dict[str, Any]] | None = None) -> tuple[int, int]:
        """The calls among ``rows`` (scored now or before; :attr:`rows` when None) that raised an
        alert, and those of them that raised a critical one."""
        def count(row: dict[str, Any], column: str) -> int:
            return int(row.get(column) or 0) if row.get("status") in ("scored", "already_scored") else 0
        rows = self.rows if rows is None else list(rows)
        return (sum(count(r, "alerts") > 0 for r in rows), sum(count(r, "critical_alerts") > 0 for r in rows))

    @property
    def xrt(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0


def scoring_config(cfg: Config) -> Config:
    """``cfg`` without the parts that do not change a call's score (storage, daemon, delivery)."""
    return replace(cfg, daemon=type(cfg.daemon)(), delivery=type(cfg.delivery)(), storage=type(cfg.storage)(),
                   sources=())


def scoring_toml(cfg: Config) -> str:
    """:func:`scoring_config` as the TOML the workers load, whole: its secrets (a console's agent
    tokens in the same file) are not hidden, as ``call-monitor config`` hides them from a person,
    since a configuration with hidden secrets does not load."""
    return effective_config_toml(scoring_config(cfg), secrets=True, pinned=True)


def config_hash(cfg: Config, transcribe: bool = False, model: str | None = None) -> str:
    """Hash of the effective configuration that scores a call (comments and file names left out),
    with the transcription choice."""
    text = scoring_toml(cfg)
    body = "\n".join(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    body += f"\n#transcribe={bool(transcribe)} model={model or ''}"
    return hashlib.blake2b(body.encode("utf-8"), digest_size=16).hexdigest()


def transcription_model(cfg: Config, model: str | None) -> Any:
    """The Vosk model a ``--transcribe`` batch loads on every worker (a
    :class:`~monitor.transcription.vosk_models.ModelInfo`), found on the client before any worker
    starts, and loaded there once, in a child process that then exits
    (:func:`~monitor.transcription.vosk_models.check_loads`): the client holds none of its memory
    while the workers hold theirs.

    Raises :class:`~monitor.transcription.vosk_models.ModelError` (one line) when there is none,
    the folder is not a model or Vosk cannot load it: a batch asked to transcribe never falls back
    to acoustic-only, nor fails every call for a model it could have refused at the start."""
    from ..transcription.vosk_models import ModelError, check_loads, fetch_hint
    from ..transcription.setup import TranscriptionSetup

    info = TranscriptionSetup.find(cfg, model)
    if info is None:
        lang = TranscriptionSetup.asked(cfg, model)[1] or "en-us"
        raise ModelError(f"--transcribe: no Vosk model for language '{lang}'; " + fetch_hint(lang))
    check_loads(info)
    return info


def _transcription_plugin(config_toml: str, info: Any) -> Any:
    from distributed import WorkerPlugin

    from ..config import config_from_toml
    from ..transcription.setup import TranscriptionSetup
    from ..transcription.vosk_models import ModelError

    class TranscriptionPlugin(WorkerPlugin):
        """Loads the Vosk model once per worker process, for every call it scores; ``error``: why
        it could not (the worker's calls then fail with it).

        The model loads in a thread of its own, which the worker's event loop awaits: the loop goes
        on meanwhile, its heartbeats to the scheduler too, so that a load of minutes on a slow worker
        is not taken by its scheduler for a worker that stopped (Dask's
        ``distributed.scheduler.worker-ttl``, 5 minutes by default, drops one it has not heard from),
        and one that did stop is. ``loaded`` is set once the load has ended, either way: a call's
        task waits for it (:func:`~monitor.batch.score._transcription`)."""

        name = TRANSCRIPTION_PLUGIN

        def __init__(self) -> None:
            self.transcription: TranscriptionSetup | None = None
            self.error = ""

        async def setup(self, worker: Any) -> None:
            self.loaded = threading.Event()  # made here: the plugin is pickled to the workers, an Event is not
            await _in_a_thread(self._load)

        def _load(self) -> None:
            try:
                self.transcription = TranscriptionSetup.load(config_from_toml(config_toml, "batch"), info)
            except ModelError as err:
                self.error = str(err)
            finally:
                self.loaded.set()

    return TranscriptionPlugin()


async def _in_a_thread(work: Callable[[], None]) -> None:
    """``work`` run in a daemon thread of its own, and awaited: the event loop goes on meanwhile (a
    thread of the loop's executor would hold the worker process's exit until the work had ended)."""
    loop = asyncio.get_running_loop()
    ended = loop.create_future()

    def end() -> None:
        if not ended.done():
            ended.set_result(None)

    def run() -> None:
        try:
            work()
        finally:
            with suppress(RuntimeError):  # the loop closed meanwhile (the worker with it)
                loop.call_soon_threadsafe(end)

    threading.Thread(target=run, name="callmonitor-model-load", daemon=True).start()
    await ended


SCRATCH_WARNING = "Creating scratch directories is taking a surprisingly long time"
"""How Dask's warning of a scratch folder slow to make begins: a Python warning (UserWarning, which
it attributes to ``contextlib``), not a log line, given by every server it starts (the scheduler,
each nanny and worker) whose folder takes over a second, as on a loaded machine or a slow disk."""


def _worker_environ(transcribe: bool) -> dict[str, Any]:
    """The variables Dask sets in its worker processes, less ``OPENBLAS_NUM_THREADS`` when
    transcribing, and ``PYTHONWARNINGS`` with :data:`SCRATCH_WARNING` ignored.

    Dask pins OpenBLAS to one thread; the BLAS inside Vosk, so pinned and called at once by a
    call's two recognizer threads (one per leg), gives words that change from run to run. Without
    the pin a worker's BLAS is set up as ``replay``'s is, from the user's environment. A worker
    warns of its scratch folder before any code of ours runs in it, so the filter is given to its
    interpreter as it starts, after the user's own (the last one given wins)."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    if transcribe:
        environ.pop("OPENBLAS_NUM_THREADS", None)
    ours = f"ignore:{SCRATCH_WARNING}:UserWarning"
    inherited = environ.get("PYTHONWARNINGS", os.environ.get("PYTHONWARNINGS", "")).split(",")
    environ["PYTHONWARNINGS"] = ",".join([*(f for f in inherited if f.strip() and f != ours), ours])
    return environ


WORKERS_START_S = 120.0
"""How long the local workers may take to join their scheduler once spawned."""
WORKERS_FORK_S = 30.0
"""How long Ctrl-C stays ignored at most while the local worker processes are forked."""


SCHEDULER_CONNECT_S = 5.0
"""How long the batch waits for the ``--scheduler`` address to take a TCP connection: a scheduler on a
LAN takes one within milliseconds, and one on a loaded machine or across sites within a second or
two. An address where nothing listens refuses it at once, as does a host the network says is not
there, and neither is tried again (Dask's own connect retries a refused one until its timeout)."""
SCHEDULER_ANSWER_S = 15.0
"""How long Dask's client then has to be taken by the scheduler (its handshake, which a scheduler
busy with another client's tasks may answer late, and which :func:`not_a_scheduler` waits for
first: Dask's client waits for it without end)."""
SCHEDULER_REPLY_S = 15.0
"""How long the batch waits for the scheduler's reply to each question it asks it once its client is
taken (whether its workers import callmonitor, whether it has any, how many threads they have, as it
starts and every :data:`IDLE_CHECK_S` it waits for a call) and for its client to close: a scheduler
that took the client replies within milliseconds, and one busy with another client's tasks within
seconds (:func:`asked`). The workers' loads of the speech model (``--transcribe``) are waited for as
long as the scheduler replies meanwhile (:meth:`BatchRun._models_loaded`), a call's result for
:data:`RESULT_FETCH_S`."""
TCP_SCHEMES = frozenset({"tcp", "tls", "ws", "wss"})
"""The Dask address schemes that run over TCP, whose address a plain connection checks."""


def _tcp_address(address: str) -> tuple[str, str, int] | None:
    """The scheme, host and port of a Dask ``address`` of a scheme that runs over TCP
    (:data:`TCP_SCHEMES`); None for another scheme, and for an address that names no port (Dask's
    client says what is wrong with it)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location)
    except ValueError:
        return None
    return (scheme, host, int(port)) if scheme in TCP_SCHEMES else None


def scheduler_unreachable(address: str) -> str | None:
    """Why the Dask scheduler at ``address`` cannot be reached, in a phrase: a port no TCP address
    has (outside 1 to 65535, which the system would take modulo 65536 for another port), its TCP
    connection refused (nothing listens there), the host unreachable or unknown, or no answer
    within :data:`SCHEDULER_CONNECT_S`. None when it takes the connection, and for an address
    that is not TCP's or names no port (Dask's client says what is wrong with it)."""
    if (tcp := _tcp_address(address)) is None:
        return None
    _, host, port = tcp
    if not 0 < port < 65536:
        return f"port {port} is out of range: a TCP port is 1 to 65535"
    try:
        socket.create_connection((host, port), timeout=SCHEDULER_CONNECT_S).close()
    except TimeoutError:
        return f"no answer to a connection within {SCHEDULER_CONNECT_S:g} s"
    except ConnectionRefusedError:
        return "connection refused: nothing listens there"
    except OSError as err:
        return (err.strerror or str(err)).lower()
    return None


NOT_A_SCHEDULER = "what answers there is not a Dask scheduler"
"""What a batch says of an address where something other than a Dask scheduler takes connections."""
ANOTHER_PORT = "is it another service's port, such as the dashboard's, 8787?"
"""What a batch asks of such an address: the port of the scheduler's dashboard, or of another
service, given for the scheduler's by mistake."""


def not_a_scheduler(address: str) -> str | None:
    """Why what takes connections at ``address`` is no Dask scheduler this client can speak to, in
    a phrase, asked before Dask's client is made: the handshake a scheduler sends every connection
    it takes (Dask's own, with the client's credentials) does not come within
    :data:`SCHEDULER_ANSWER_S` (a web server waits for a request, a stopped process says nothing),
    or something else comes, or the connection is closed (a web server answers Dask's bytes with an
    error, which Dask's client read as the length of a message of exabytes). Dask's client waits
    for ever for a handshake that does not come. A plain connection reset by a scheduler that
    speaks TLS is said with :func:`tls_hint`, a ``tls://`` one that fails with :func:`tls_refused`
    (its certificates refused, or no TLS spoken there). None when a scheduler's handshake comes, and for an
    address that is not TCP's (Dask's client says what is wrong with it)."""
    if _tcp_address(address) is None:
        return None
    try:
        handshake = asyncio.run(asyncio.wait_for(_handshake(address), SCHEDULER_ANSWER_S))
    except TimeoutError:
        return f"nothing answered as a Dask scheduler within {SCHEDULER_ANSWER_S:g} s; {ANOTHER_PORT}"
    except Exception as err:  # whatever Dask makes of bytes that are not its own
        if address.startswith(("tls://", "wss://")):
            return tls_refused(address, err)
        if hint := tls_hint(address, err):
            return f"{err}{hint}"
        return f"{NOT_A_SCHEDULER}; {ANOTHER_PORT}"
    return None if isinstance(handshake, dict) and "python" in handshake else f"{NOT_A_SCHEDULER}; {ANOTHER_PORT}"


def said(err: BaseException) -> str:
    """What ``err`` says, or else the first of its causes that says anything (Dask's
    ``FatalCommClosedError`` says nothing of the SSL error it was raised from), or its kind's name."""
    seen: BaseException | None = err
    while seen is not None and not str(seen):
        seen = seen.__cause__ or seen.__context__
    return str(seen) if seen is not None else type(err).__name__


PLAIN_WHERE_TLS = ("WRONG_VERSION_NUMBER", "not idle; cannot convert to SSL")
"""What the SSL library, and Tornado, say of plain bytes where a TLS handshake was due: an answer
that is no TLS record, or a peer that spoke first (a Dask scheduler started without TLS sends its
handshake as it takes the connection)."""


def tls_refused(address: str, err: BaseException) -> str:
    """Why the client's connection to ``address`` (a ``tls://`` or ``wss://`` one) failed (``err``),
    in the words of Dask or of the SSL library (a certificate refused, say), and when what answers
    there speaks no TLS at all (:data:`PLAIN_WHERE_TLS`), whether it listens on ``tcp://``: a
    scheduler started without TLS."""
    words = said(err)
    if not any(plain in words for plain in PLAIN_WHERE_TLS):
        return words
    plain = re.sub(r"^(tls|wss)://", lambda m: "tcp://" if m.group(1) == "tls" else "ws://", address)
    return f"{words}: what answers there does not speak TLS; does it listen on {plain}?"


async def _handshake(address: str) -> Any:
    """What the process at ``address`` sends as its Dask handshake, read by Dask's own connect with
    the client's credentials; the connection then closed."""
    from distributed import Security
    from distributed.comm import connect

    comm = await connect(address, timeout=SCHEDULER_CONNECT_S, **Security().get_connection_args("client"))
    try:
        return comm.remote_info
    finally:
        comm.abort()


def without_tls_credentials(address: str) -> str | None:
    """Why a client cannot speak to the Dask scheduler at ``address``, a ``tls://`` one, in a phrase:
    Dask's configuration (``distributed.comm.tls``) gives it no certificate to show and none to check
    the scheduler's against. None for any other address, and for one it has both for."""
    from distributed import Security

    tls = Security().get_tls_config_for_role("client")
    if not address.startswith("tls://") or (tls["ca_file"] and tls["cert"]):
        return None
    return ("it speaks TLS, and Dask's configuration gives this client no credentials: set "
            "distributed.comm.tls.ca-file, .client.cert and .client.key, or DASK_DISTRIBUTED__COMM__TLS__CA_FILE, "
            "..._CLIENT__CERT and ..._CLIENT__KEY")


def tls_hint(address: str, err: BaseException) -> str:
    """What to add to why the client could not speak to the scheduler at ``address``: a plain
    ``tcp://`` connection reset at once (``err`` or what caused it a ConnectionResetError) is what a
    scheduler that speaks TLS does to it. Empty otherwise."""
    seen: BaseException | None = err
    while seen is not None and not isinstance(seen, ConnectionResetError):
        seen = seen.__cause__ or seen.__context__
    if not address.startswith("tcp://") or (seen is None and "Connection reset" not in str(err)):
        return ""
    return f"; does it listen on {address.replace('tcp://', 'tls://', 1)}? one that speaks TLS resets a plain connection"


def asked(client: Any, scheduler: str, question: str, *args: Any, **kwargs: Any) -> Any:
    """The reply to ``question`` (the name of a method of the Dask ``client`` that takes
    ``callback_timeout``, as ``nthreads`` and ``run`` do) asked of its ``scheduler`` (its address, or
    what names it) within :data:`SCHEDULER_REPLY_S`. :class:`SchedulerLost` once the client has lost
    its connection to it (Dask then retries a refused one until its own timeout), else
    :class:`SchedulerSilent` when no reply came by then."""
    try:
        return getattr(client, question)(*args, callback_timeout=SCHEDULER_REPLY_S, **kwargs)
    except OSError as err:  # Dask's CommClosedError, or TimeoutError (its subclass) from the wait
        if isinstance(err, TimeoutError) and client.status == "running":
            raise SchedulerSilent(scheduler) from None
        raise SchedulerLost(scheduler) from None


@contextmanager
def dask_client(opts: BatchOptions) -> Iterator[Any]:
    """A client on a LocalCluster of processes (one thread each) or on ``opts.scheduler``."""
    if opts.scheduler:
        from distributed import Client

        if (why := without_tls_credentials(opts.scheduler) or scheduler_unreachable(opts.scheduler)
                or not_a_scheduler(opts.scheduler)) is not None:
            raise ClusterError(f"{opts.scheduler}: cannot reach the Dask scheduler ({why})")
        with _dask_silenced():  # its lost connection, its reconnection: Dask's lines, not the batch's
            try:
                client = Client(opts.scheduler, timeout=SCHEDULER_ANSWER_S)
            except (OSError, TimeoutError, ValueError) as err:
                raise ClusterError(f"{opts.scheduler}: cannot reach the Dask scheduler ({said(err)}"
                                   f"{tls_hint(opts.scheduler, err)})") from None
            try:
                with client.as_current():
                    yield client
            finally:
                _closed(client)
        return
    with _local_client(opts.workers or usable_cores(), opts.transcribe) as client:
        yield client


def _closed(client: Any) -> None:
    """``client`` (on a running cluster) closed, within :data:`SCHEDULER_REPLY_S`: a scheduler that
    does not reply (:class:`SchedulerSilent`) is left as it is, its connection dropped as the batch
    exits."""
    try:
        client.close(timeout=SCHEDULER_REPLY_S)
    except (OSError, TimeoutError):
        log.debug("the client's close was not answered")


def workers_without_callmonitor(client: Any, scheduler: str) -> str | None:
    """One line naming the workers of a running cluster (``--scheduler``) that cannot import
    callmonitor (not installed where they run), or None. Such a worker dies on the first call it is
    sent (it cannot read the task), and the batch would wait for ever for the cluster's last one.
    The check is sent as :func:`importlib.util.find_spec`, which every Python has, by name."""
    import importlib.util

    found = asked(client, scheduler, "run", importlib.util.find_spec, "monitor.batch.score", on_error="return")
    bad = {addr: err for addr, err in found.items() if isinstance(err, BaseException) or err is None}
    if not bad:
        return None
    addr, err = next(iter(sorted(bad.items())))
    why = f"{type(err).__name__}: {err}" if isinstance(err, BaseException) else "no module named 'monitor'"
    return (f"{scheduler}: {len(bad)} of its {len(found)} worker(s) cannot import callmonitor ({addr}: {why}); "
            f"install it where each worker runs ({on_each_worker()}) and start them again")


WITHOUT_CALLMONITOR = "callmonitor-not-importable"
"""What a call's task answers first on a worker that cannot import callmonitor (:func:`remote_scorer`)."""
EARLIER_CALLMONITOR = "callmonitor-earlier-release"
"""What a call's task answers first on a worker whose callmonitor, of an earlier release, does not
know what the call is given (a manifest's ``hold``: :attr:`CallJob.holds`), and would score it without
it (:func:`remote_scorer`)."""
CALL_STARTED = "callmonitor-call-started"
"""The scheduler's event topic on which a call's task says, before it reads a sample, that it
started on a worker (``{"key": ..., "worker": ...}``; :func:`remote_scorer`)."""
CALL_STARTED_WAIT_S = 10.0
"""How long a call's task waits at most for the scheduler to take its word that it started
(:data:`CALL_STARTED`): a scheduler on a LAN takes it within milliseconds, a loaded one within a
second or two."""
WORKERS_CHANGED = "all"
"""The scheduler's event topic on which Dask says, among its other events, that a worker joined
(``{"action": "add-worker", ...}``) or left (``"remove-worker"``): :data:`WORKER_ACTIONS`."""
WORKER_ACTIONS = frozenset({"add-worker", "remove-worker"})


def remote_scorer() -> Callable[[bytes], Any]:
    """The function a call's task runs on a worker: it imports callmonitor there, then scores the
    call (:func:`~monitor.batch.score.score_call`, its arguments pickled in the one it is given).

    Made here rather than imported, Dask sends it whole (by value), so that a worker that cannot
    import callmonitor, one that joined the cluster after the batch's check of its workers
    (:func:`workers_without_callmonitor`), can read it: such a worker died on the task it could not
    read, unsaid (its own log told why), and a call it so reached on several workers failed as one
    whose workers died. It answers instead with :data:`WITHOUT_CALLMONITOR`, its address and why,
    in plain Python the client reads (:meth:`BatchRun._took_elsewhere`).

    Before anything else it tells the scheduler, and waits until it has, that it started there
    (:data:`CALL_STARTED`): Dask gives a worker a call to start once its current one is done, and
    charges both with that worker's death; the client tells them apart by it (:meth:`BatchRun._result`).
    It waits :data:`CALL_STARTED_WAIT_S` at most: a scheduler slower than that, or gone without its
    connection closing (its machine down, the process stopped), does not hold the worker's thread for
    ever; the call is scored all the same. The client may then not hear that it started there: should
    that worker die on it, the call is sent again rather than failed (as one Dask gave the worker to
    start next), and should it be scored, the worker is not counted among those that scored
    (:attr:`BatchOutcome.workers`) for it. A call given what a worker's earlier release does not
    know is answered with :data:`EARLIER_CALLMONITOR`, not scored without it."""
    given = tuple(f.name for f in dataclasses.fields(CallJob))

    def score_there(payload: bytes) -> Any:
        import pickle

        from distributed import get_worker
        from distributed.utils import sync
        worker = get_worker()
        try:
            sync(worker.loop, worker.scheduler.log_event, topic=CALL_STARTED, callback_timeout=CALL_STARTED_WAIT_S,
                 msg={"key": worker.get_current_task(), "worker": worker.address})
        except (OSError, TimeoutError):  # the scheduler gone or late: the client hears of it from its own connection
            pass
        try:
            from monitor.batch.score import score_call as score
        except Exception as err:  # noqa: BLE001 - not installed where it runs, or broken there
            why = (str(err).strip().splitlines() or [""])[0]
            return WITHOUT_CALLMONITOR, worker.address, f"{type(err).__name__}: {why}".rstrip(": ")
        args = pickle.loads(payload)
        known = getattr(type(args[0]), "__dataclass_fields__", {})
        if unknown := [name for name in given if name not in known and getattr(args[0], name, None)]:
            return EARLIER_CALLMONITOR, worker.address, unknown
        return score(*args)
    return score_there


@contextmanager
def _local_client(n: int, transcribe: bool) -> Iterator[Any]:
    """A client on a LocalCluster of ``n`` worker processes, once they have all joined.

    A Ctrl-C or SIGTERM while it starts is held (Dask's own waits, interrupted midway, leave its
    close failing) and raised once what started can be closed, without waiting out the start: the
    workers that have not joined yet are ended (:func:`_unjoined_ended`) before the cluster closes.
    The cluster's threads, and so its workers, never take Ctrl-C (:func:`_cluster_deaf_to_ctrl_c`).
    Its worker processes have all ended before Dask's log lines are heard again (:func:`_reaped`)."""
    import dask
    from distributed import Client

    workers: set[int] = set()
    with _dask_silenced(), ExitStack() as started, \
            dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ(transcribe)}):
        started.callback(_reaped, workers)  # the first one in: run last, once the cluster is closed
        with stops_held(second_at_once=False) as held:  # raised once what started can be closed
            cluster = _cluster_deaf_to_ctrl_c(started)
            if not held:
                workers.update(_spawned(cluster, n))
                if not held:  # by its address: a client on the cluster object waits out every worker's start
                    client = started.enter_context(Client(cluster.scheduler_address, security=cluster.security))
                    _joined(client, n, held)
                if held:
                    _unjoined_ended(cluster, workers)
        try:
            yield client
        except KeyboardInterrupt:
            _busy_ended(cluster)
            raise


def _cluster_deaf_to_ctrl_c(started: ExitStack) -> Any:
    """A LocalCluster with no worker yet, closed by ``started``, its scheduler, workers and client
    speaking TLS with credentials made for it alone (Dask's ``Security.temporary()``: a key and a
    self-signed certificate made in memory, which each side must show the other, handed to the
    workers through the pipe they are spawned with), so that no other process on the machine,
    another user's, can connect to it and have a worker run code as the batch's user; its
    scheduler's address said in a debug line. Made with Ctrl-C (SIGINT) blocked
    in this thread (:func:`~monitor.stops.stops_blocked`): its threads, which fork its worker
    processes, never take Ctrl-C, and every worker starts with it blocked, and keeps it so. Ctrl-C
    at a terminal reaches the whole process group, and the workers, rather than dying mid-call
    with Dask's tracebacks, are closed by the client, which alone stops on it; one that comes while
    the cluster is made waits, pending, until it is, then is taken as any. SIGTERM is not blocked:
    a nanny ends its worker with it.

    multiprocessing's resource tracker is started first, before the block: its start leaves Ctrl-C
    unblocked in the thread that starts it (this one, as the cluster is made), and the cluster's
    threads and workers would take it."""
    from multiprocessing import resource_tracker

    from distributed import LocalCluster, Security

    resource_tracker.ensure_running()

    def made() -> Any:
        # No dashboard; the scheduler's own HTTP server (health, metrics) still starts, so it gets
        # a free port on the loopback: its default 8787 is taken by any other batch or Dask running.
        cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, dashboard_address=None,
                               security=Security.temporary(),
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                               silence_logs=logging.CRITICAL)
        started.callback(cluster.close)  # inside: a Ctrl-C that waited is taken as the mask is put back
        return cluster
    cluster = stops_blocked(made, (signal.SIGINT,))
    log.debug("the local Dask scheduler listens on %s (TLS, with credentials made for this batch alone)",
              cluster.scheduler_address)
    return cluster


RESULT_FETCH_S = 120.0
"""How long the batch waits for the result of a call its worker has scored (the call's events and
table row, fetched from that worker through the scheduler): a call of an hour's result is about
2 MB, which a LAN brings within a fraction of a second and a link of 1 Mbit/s within 20 s. A worker
that stopped (a debugger, SIGSTOP) or whose machine went down without its connections closing
holds it for ever: the call is then failed (:meth:`BatchRun._unfetched`) and the batch goes on."""


TAKE_POLL_S = 0.05
"""How often the batch looks for a finished call or a stop while it waits."""


IDLE_CHECK_S = 2.0
"""How often the batch, waiting for a call, looks whether its cluster still has workers."""


def _finished(done: Any, stops: list[KeyboardInterrupt], waiting: Callable[[], None] = lambda: None,
              between: Callable[[], None] = lambda: None) -> Iterator[Any]:
    """The futures of ``done`` (a Dask ``as_completed``) as they finish; a stop noted meanwhile
    (:func:`~monitor.stops.stops_noted`: one a finalizer swallowed) is raised within
    :data:`TAKE_POLL_S`, not once the next call is scored (minutes, with transcription). ``between``
    (quick) is called every :data:`TAKE_POLL_S` and ``waiting`` every :data:`IDLE_CHECK_S` that
    pass with no call finished."""
    idle_since = time.monotonic()
    while not done.is_empty():
        if stops:
            raise stops[0]
        if done.has_ready():
            idle_since = time.monotonic()
            yield next(done)
        else:
            time.sleep(TAKE_POLL_S)
            between()
            if time.monotonic() - idle_since >= IDLE_CHECK_S:
                idle_since = time.monotonic()
                waiting()


def _spawned(cluster: Any, n: int) -> set[int]:
    """Scale ``cluster`` to ``n`` worker processes and wait until they are forked; their process
    ids. A stop held meanwhile waits for every fork, so that none is made after the workers are
    ended."""
    import multiprocessing

    def children() -> set[int]:
        return {int(child.pid) for child in multiprocessing.active_children() if child.pid is not None}

    before = children()
    cluster.scale(n)
    deadline = time.monotonic() + WORKERS_FORK_S
    while len(children() - before) < n and time.monotonic() < deadline:
        time.sleep(0.002)
    return children() - before


def _unjoined_ended(cluster: Any, workers: set[int]) -> None:
    """SIGKILL to each of the worker processes ``workers`` that has not joined ``cluster``'s
    scheduler yet, for a stop while they start.

    Dask's close waits out the start of every worker still starting (about a second of CPU each,
    far more on a loaded machine or a slow scratch folder) before it closes them; one ended fails
    its start at once, having scored nothing. Those that joined are closed by the cluster as usual
    (one of them ended would be started again by its nanny). The look and the kills are made on the
    cluster's event loop, where the workers join, so that none joins between the two."""
    async def end() -> None:
        joined = {state.pid for state in cluster.scheduler.workers.values()}
        for pid in workers - joined:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # gone already (the stop reached it too)
                pass

    cluster.sync(end)


WORKERS_REAPED_S = 10.0
"""How long the batch waits at most, once its local cluster is closed, for a worker process it
ended to be gone (:func:`_reaped`): one holding a speech model takes a moment to give its memory
back, far longer on a loaded machine."""


def _reaped(workers: set[int]) -> None:
    """The local cluster's worker processes ``workers``, once it is closed, ended (SIGKILL to any
    still there) and reaped, within :data:`WORKERS_REAPED_S`.

    Dask's close gives up waiting for a worker ended at a stop (:func:`_busy_ended`) after a
    quarter of a second, and a worker process still there as the batch exits (one slow to end on a
    loaded machine) is reaped by Dask's own exit handler, which logs it ("reaping stray process"):
    after the batch's last line, its log lines no longer silenced (:func:`_dask_silenced`)."""
    import multiprocessing

    def alive() -> list[Any]:  # the children still there, those ended reaped as they are looked at
        return [child for child in multiprocessing.active_children() if child.pid in workers]

    for child in alive():
        child.kill()
    deadline = time.monotonic() + WORKERS_REAPED_S
    while alive() and time.monotonic() < deadline:
        time.sleep(0.01)


BUSY_CLOSE_S = 0.25
"""How long a worker busy with a call is given to close when the batch stops, before it is ended."""


def _busy_ended(cluster: Any) -> None:
    """Close ``cluster``'s workers for a stop while they score (Ctrl-C, SIGTERM), each given
    :data:`BUSY_CLOSE_S` before its nanny ends it (SIGKILL), rather than the 4 s Dask's close gives
    a busy one to finish its call.

    A worker writes nothing: the calls it scores are stored by the client alone, as each result
    comes, so the call it is ended in is one the client would not have taken anyway (it stops
    taking results on the stop), and ``--resume`` scores it."""
    async def end() -> None:
        await asyncio.gather(*(nanny.close(timeout=BUSY_CLOSE_S, reason="the batch stopped")
                               for nanny in list(cluster.workers.values())), return_exceptions=True)

    cluster.sync(end)


def _joined(client: Any, n: int, held: list[KeyboardInterrupt]) -> None:
    """Wait until ``n`` workers have joined ``client``'s scheduler, or a stop is ``held``."""
    deadline = time.monotonic() + WORKERS_START_S
    while not held and len(client.nthreads()) < n:
        if time.monotonic() > deadline:
            raise ClusterError(f"the {n} local Dask worker(s) did not start within {WORKERS_START_S:.0f} s")
        time.sleep(0.05)


@contextmanager
def _dask_silenced() -> Iterator[None]:
    """Dask's own log lines below CRITICAL, and its Python warnings (those of its modules, and
    :data:`SCRATCH_WARNING`, which it gives as ``contextlib``'s), dropped in this process from
    before the cluster starts until its event loop has stopped (``LocalCluster.close`` joins it);
    the workers' are dropped by their own settings (``silence_logs``, :func:`_worker_environ`).

    A call that fails is the row's error and one line of ours. When the batch stops (Ctrl-C,
    SIGTERM to the group) the scheduler's sends to the dying workers still log a closed connection
    with a traceback. ``LocalCluster``'s own ``silence_logs`` is undone inside its close, before
    its loop stops, so such a line could still come between the two. Its event loop's own lines
    go too (asyncio's "Task exception was never retrieved" when SIGTERM to the group ends workers
    still starting)."""
    from distributed.utils import silence_logging_cmgr

    loop_log = logging.getLogger("asyncio")
    level = loop_log.level
    loop_log.setLevel(logging.CRITICAL)
    try:
        with silence_logging_cmgr(logging.CRITICAL), warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(distributed|dask)(\.|$)")
            warnings.filterwarnings("ignore", message=re.escape(SCRATCH_WARNING), category=UserWarning)
            yield
    finally:
        loop_log.setLevel(level)


class _Progress(Progress):
    """The scoring's progress on stderr: calls done, audio hours scored, x real time and ETA, as a
    bar on a terminal, or as a line every ``every_s`` for a log (:data:`PROGRESS_LINES`), which also
    says the calls flagged so far; silent when ``shown`` is None."""

    def __init__(self, total: int, shown: str | None, every_s: float = PROGRESS_EVERY_S) -> None:
        super().__init__(total, shown, "call", every_s=every_s)

    def update(self, outcome: BatchOutcome, rows: Iterable[dict[str, Any]] = ()) -> None:
        """One more call done (``rows``: the rows so far, for the calls flagged)."""
        wall = self.elapsed()
        xrt = outcome.audio_s / wall if wall > 0 else 0.0
        self.step(lambda wall: self.line(outcome.flagged(rows)[0], wall, xrt),
                  f"{outcome.audio_s / 3600:.2f} h audio, {xrt:.0f}x real time")

    def line(self, flagged: int, wall: float, xrt: float) -> str:
        """A progress line: calls done of all, flagged so far, rate, x real time, time so far and left."""
        rate, times = self.pace(wall, "calls")
        return f"{self.done} of {self.total} calls done, {flagged} flagged; {rate}, {xrt:.0f}x real time; {times}"


def killed_on(err: BaseException) -> str | None:
    """The address of the worker whose death failed a task with ``err`` (Dask's ``KilledWorker``), else None."""
    from distributed.scheduler import KilledWorker

    return str(getattr(err.last_worker, "address", err.last_worker)) if isinstance(err, KilledWorker) else None


def task_failure(path: str, err: BaseException, ran_on: Sequence[str] = ()) -> str:
    """The one line of a call whose task failed on the cluster with ``err``, naming its recording
    ``path``: a call whose workers died scoring it (Dask's ``KilledWorker``, whose own text is a
    paragraph naming the task's key) says on how many workers it ran (``ran_on``, in turn; Dask's
    deaths allowed when unknown), where it last ran, and that ``--resume`` scores it again (a failed
    call is not in the ledger)."""
    if (last := killed_on(err)) is not None:
        tried = len(ran_on) or cast(Any, err).allowed_failures + 1  # (a KilledWorker: killed_on says so)
        who = str(last) if tried == 1 else f"{tried} workers in turn, the last {last}"
        return (f"{path}: not scored: the worker scoring it died ({who}); the same command with --resume "
                "scores it again")
    return f"{path}: the worker failed on this call ({type(err).__name__}: {first_line(err)})"


def earlier_release(path: str, worker: str, unknown: Sequence[str]) -> str:
    """The line of a call not scored for its worker's callmonitor is of an earlier release, which
    does not know the call's ``unknown`` (:data:`EARLIER_CALLMONITOR`)."""
    return (f"{path}: not scored: callmonitor on {worker} is of an earlier release, which does not know a call's "
            f"{', '.join(unknown)} and would score it without them; install this release where each worker runs "
            f"({on_each_worker()}) and start them again; the same command with --resume scores it "
            "again")


SCHEDULER_LOST = "scheduler-connection-lost"
"""The reason Dask gives the calls it cancels when the client loses its scheduler."""


def _lost_with_scheduler(fut: Any) -> bool:
    """Whether the cancelled future ``fut`` was cancelled because the client lost its scheduler
    (which may be back, its client reconnected, by the time the batch takes the future)."""
    try:
        fut.result()
    except Exception as err:  # noqa: BLE001 - Dask's FutureCancelledError, whose reason says why
        return getattr(err, "reason", None) == SCHEDULER_LOST
    return False


class _Sent:
    """The calls of a batch sent to the cluster and not yet stored: each future's call and the
    hashes already known for it, the futures in flight, and ``done`` (the futures as they finish);
    ``wanted``: how many to keep in flight (:func:`calls_in_flight`)."""

    def __init__(self, run: BatchRun, scorer: Callable[[bytes], Any], done: Any, wanted: int) -> None:
        self.run, self.scorer, self.done, self.wanted = run, scorer, done, wanted
        self.by_key: dict[str, tuple[CallJob, Mapping[tuple[int, int], str]]] = {}
        self.in_flight: dict[str, Any] = {}

    def fill(self, pending: Iterator[CallJob], stops: Sequence[KeyboardInterrupt] = ()) -> None:
        """Send calls of ``pending`` until :attr:`wanted` are in flight (none when as many or more are:
        after workers left, those finishing are not replaced until fewer are), or until a stop is
        noted in ``stops`` (one held while a call was sent): none is sent after it."""
        while not stops and len(self.in_flight) < self.wanted and (job := next(pending, None)) is not None:
            self.submit(job)

    def submit(self, job: CallJob | None, known: Mapping[tuple[int, int], str] | None = None) -> None:
        """Send ``job`` to be scored (nothing when there is none), with the hashes its earlier rows
        hold (looked up with ``--resume`` unless given)."""
        run = self.run
        if job is None:
            return
        if known is None:
            known = run.store.known_hashes(job, run.chash) if run.opts.resume else {}
        payload = pickle.dumps((job, run.toml, run.chash, known, run.opts.transcribe))
        # sent and noted whole: a stop (raised by stops_noted) cancels every call sent to the cluster
        with stops_held(second_at_once=False, raise_at_end=False):
            key = f"callmonitor-score-{job.index}-{os.urandom(4).hex()}"
            run._ran_on[key] = []  # before it can start: the starts of other batches' calls are not kept
            fut = run.client.submit(self.scorer, payload, key=key, pure=False)
            self.by_key[fut.key] = job, known
            self.in_flight[fut.key] = fut
            self.done.add(fut)


class BatchRun:
    """One batch: submit ``jobs`` through ``client``, store every result, collect the rows."""

    def __init__(self, client: Any, store: BatchStore, cfg: Config, opts: BatchOptions,
                 on_error: Callable[[str], None], on_warning: Callable[[str], None] = lambda line: None) -> None:
        self.client, self.store, self.opts, self.on_error, self.on_warning = client, store, opts, on_error, on_warning
        self.toml, self.storage = scoring_toml(cfg), cfg.storage
        self.chash = config_hash(cfg, opts.transcribe, opts.model)
        self.outcome = BatchOutcome()
        self._rows: dict[int, dict[str, Any]] = {}
        self._said_no_workers = False
        self._closed: set[str] = set()
        """The workers closed for they cannot import callmonitor (:meth:`_took_elsewhere`)."""
        self._ran_on: dict[str, list[str]] = {}
        """The workers each call's task sent and not yet taken (by key) started on, in turn (:data:`CALL_STARTED`)."""
        self._scored_on: set[str] = set()
        """The workers that scored a call (:attr:`BatchOutcome.workers`)."""
        self._workers_changed = threading.Event()
        """Set, from the client's event loop, when the cluster's workers may have changed since the
        calls in flight were last sized to their threads (:meth:`_refill`)."""
        self._heard_a_start = False
        """Whether the start of one of the batch's calls was heard (:meth:`_started`)."""

    def run(self, jobs: Sequence[CallJob], unopened: Mapping[int, str] = MappingProxyType({})) -> BatchOutcome:
        """Score ``jobs``; those in ``unopened`` (index: the problem, already said) are failed rows
        without being sent to a worker."""
        from distributed import as_completed

        threads, scorer = self._start(jobs, unopened), remote_scorer()
        pending = (j for j in jobs if j.index not in unopened)
        sent = _Sent(self, scorer, as_completed(), calls_in_flight(threads))
        progress = _Progress(len(jobs) - len(unopened), self.opts.progress)
        on_error, on_warning = self.on_error, self.on_warning
        self.on_error, self.on_warning = progress.lines(on_error), progress.lines(on_warning)
        t0 = time.perf_counter()
        stops: list[KeyboardInterrupt] = []  # a stop a collected future's __del__ swallowed: raised here
        try:
            stops_noted(stops, lambda: self._sent_and_collected(sent, pending, stops, progress, t0))
        except KeyboardInterrupt:
            self._cancel(list(sent.in_flight.values()))
            raise
        finally:
            progress.close()
            self.on_error, self.on_warning = on_error, on_warning
            self._deaf_to_workers()
        self.outcome.wall_s = time.perf_counter() - t0
        self.outcome.rows = [self._rows[j.index] for j in jobs if j.index in self._rows]
        return self.outcome

    def _sent_and_collected(self, sent: _Sent, pending: Iterator[CallJob], stops: list[KeyboardInterrupt],
                            progress: _Progress, t0: float) -> None:
        """The first calls sent, then each result collected (:meth:`_collect`); a stop noted
        meanwhile raised at the end."""
        sent.fill(pending, stops)
        self._collect(sent, pending, stops, progress, t0)
        if stops:
            raise stops[0]

    def _collect(self, sent: _Sent, pending: Iterator[CallJob], stops: list[KeyboardInterrupt],
                 progress: _Progress, t0: float) -> None:
        """Each call's result stored as it finishes (or the call sent again), the progress said and
        the next calls sent (:meth:`_refill`, also as workers join or leave meanwhile), until none is
        left; a stop noted meanwhile raised once the result in hand is stored."""
        for fut in _finished(sent.done, stops, self._workers_left, lambda: self._refill(sent, pending, stops)):
            job, known = sent.by_key.pop(fut.key)
            sent.in_flight.pop(fut.key, None)
            self._check_scheduler(fut)
            again = self._stored(fut, job, known)
            if again is not None:  # not scored there, or its earlier row lost: sent again
                sent.submit(job, known=again)
                continue
            self.outcome.wall_s = time.perf_counter() - t0
            progress.update(self.outcome, self._rows.values())
            if stops:  # after the result is stored: every call scored before the stop is kept
                raise stops[0]
            self._refill(sent, pending, stops)

    def _refill(self, sent: _Sent, pending: Iterator[CallJob], stops: Sequence[KeyboardInterrupt]) -> None:
        """Send calls of ``pending`` until :func:`calls_in_flight` for the threads of the cluster's
        workers are in flight: those threads counted again (one round trip to the scheduler) only once
        its workers may have changed (:meth:`_heard_workers`), so that workers joining a running
        cluster as the batch scores are kept busy too, and those left not sent more than they take."""
        if self._workers_changed.is_set() and self.client.status == "running":
            self._workers_changed.clear()
            sent.wanted = calls_in_flight(self._threads())
        sent.fill(pending, stops)

    def _start(self, jobs: Sequence[CallJob], unopened: Mapping[int, str]) -> int:
        """The unopened jobs' failed rows, the workers' speech models (with ``--transcribe``), the
        calls' starts heard (:meth:`_started`) and the outcome's count of calls to score; the
        cluster's threads (at least 1)."""
        for job in jobs:
            if job.index in unopened:
                self._rows[job.index] = failed_row(job, unopened[job.index], config_hash=self.chash)
                self.outcome.failed += 1
        self.outcome.to_score = len(jobs) - len(unopened)
        if self.opts.transcribe:
            self._models_loaded()
        if self.opts.scheduler:  # a running cluster, which workers join and leave as the batch scores
            self.client.subscribe_topic(WORKERS_CHANGED, self._heard_workers)  # before any call is sent, on the
        self.client.subscribe_topic(CALL_STARTED, self._started)  # same stream, in this order (:meth:`_started`)
        threads = self._threads()
        if self.opts.scheduler and not threads:  # said "yet": "any more" only once some have come (:meth:`_workers_left`)
            self._said_no_workers = True
            self.on_warning(f"{self.opts.scheduler}: the scheduler has no workers yet; the batch waits for them "
                            f"(start them with: dask worker {self.opts.scheduler} --nthreads 1)")
        return max(1, threads)

    def _models_loaded(self) -> None:
        """Wait until every worker of the cluster has loaded the speech model (``--transcribe``: Dask's
        registration of the plugin, which its scheduler answers once each worker's load has ended),
        for as long as the loads go on, and no longer: the scheduler is asked for its workers every
        :data:`IDLE_CHECK_S` meanwhile (:class:`SchedulerSilent` when it does not reply within
        :data:`SCHEDULER_REPLY_S`, :class:`SchedulerLost` once it is gone). A worker loads in a
        thread, its heartbeats going on (:func:`_transcription_plugin`): one that stops or goes away
        as it loads is dropped by its scheduler (at once when its connection closes, else after
        Dask's ``worker-ttl``), which ends the registration with an error; said in one warning line,
        the batch goes on with the others (a worker that joins later loads the model as it joins)."""
        client, workers = self.client, set(asked(self.client, self._scheduler, "nthreads"))
        loading = asyncio.run_coroutine_threadsafe(
            client._register_worker_plugin(_transcription_plugin(self.toml, self.opts.model_info),
                                           TRANSCRIPTION_PLUGIN, False),
            client.loop.asyncio_loop)
        try:
            while not concurrent.futures.wait([loading], timeout=IDLE_CHECK_S).done:
                self._threads()  # the scheduler still there and replying: the loads go on
            loading.result()
        except OSError as err:  # the registration's connection closed: the scheduler's, or a worker's
            if client.status != "running":
                raise SchedulerLost(self._scheduler) from None
            log.debug("the speech model's registration ended: %s", err)
            gone = sorted(workers - set(asked(client, self._scheduler, "nthreads")))
            self.on_warning(f"{self._scheduler}: a worker went away as it loaded the speech model"
                            + (f" ({', '.join(gone)})" if gone else "") + "; the batch goes on with the others")
        finally:
            loading.cancel()

    def _threads(self) -> int:
        """The threads of the cluster's workers now (one round trip to the scheduler, :func:`asked`)."""
        return sum(asked(self.client, self._scheduler, "nthreads").values())

    @property
    def _scheduler(self) -> str:
        """The scheduler, as the batch's lines name it."""
        return self.opts.scheduler or "the local Dask scheduler"

    def _heard_workers(self, event: tuple[float, Mapping[str, Any]]) -> None:
        """A worker joined the cluster or left it (:data:`WORKERS_CHANGED`), heard on the client's
        event loop: the calls in flight are sized again (:meth:`_refill`)."""
        if isinstance(event[1], Mapping) and event[1].get("action") in WORKER_ACTIONS:
            self._workers_changed.set()

    def _deaf_to_workers(self) -> None:
        """The subscription to :data:`WORKERS_CHANGED` ended, before the client closes: Dask's topic
        also says that a client left, and the scheduler would send it to this one as it goes, and
        log, loudly, that it could not."""
        if self.opts.scheduler and self.client.status in ("running", "connecting"):
            self.client.unsubscribe_topic(WORKERS_CHANGED)

    def _started(self, event: tuple[float, Mapping[str, str]]) -> None:
        """A call's task started on a worker (:data:`CALL_STARTED`), heard on the client's event loop
        before any later word of that task (its result, its worker's death); one of another batch's
        calls on the same scheduler is not ours to keep.

        The first one heard also has the calls in flight sized again (:meth:`_refill`): the
        scheduler took the batch's subscription to :data:`WORKERS_CHANGED` before it, so a worker that
        joined between the count of the threads as the batch started and that subscription is counted
        then, and every one after is heard."""
        if (ran_on := self._ran_on.get(event[1]["key"])) is not None:
            ran_on.append(event[1]["worker"])
            if not self._heard_a_start:
                self._heard_a_start = True
                self._workers_changed.set()

    def _workers_left(self) -> None:
        """For a batch waiting on a running cluster (``--scheduler``) whose workers have all left
        (stopped, their machines down, dead on a call): say so once, and what to do, rather than
        wait without a word; said again if they leave again after some came back. A batch that
        started with none (:meth:`_start` said so) says it only once some came and went: the first
        worker may take a while to start."""
        if not self.opts.scheduler or self.client.status != "running":
            return
        if self._threads():
            self._said_no_workers = False
        elif not self._said_no_workers:
            self._said_no_workers = True
            self.on_warning(f"{self.opts.scheduler}: the scheduler has no workers any more; the batch waits for them "
                            f"(start them with: dask worker {self.opts.scheduler} --nthreads 1), or stop it (Ctrl-C) "
                            "and run the same command with --resume once they are there")

    def _check_scheduler(self, fut: Any) -> None:
        """Raise :class:`SchedulerLost` for a call ``fut`` cancelled because the client lost its
        scheduler (Dask cancels every call it holds as it tries to reconnect), not scored."""
        if fut.status == "cancelled" and (self.client.status != "running" or _lost_with_scheduler(fut)):
            raise SchedulerLost(self._scheduler)

    def _cancel(self, futures: list[Any]) -> None:
        """For a stop (Ctrl-C, SIGTERM): on a running cluster (``--scheduler``), cancel ``futures``,
        the calls submitted and not yet taken, and count them (:attr:`BatchOutcome.cancelled`); a
        task already running ends at its next block (:func:`~monitor.batch.score.task_cancelled`)
        rather than scoring its call to the end for no one. (A local cluster's workers are ended
        with it: :func:`_busy_ended`.)"""
        if not self.opts.scheduler or not futures or self.client.status != "running":  # lost: nothing to cancel
            return
        self.client.cancel(futures, reason="the batch stopped")  # sent, with no reply waited for
        self.outcome.cancelled = len(futures)

    def _stored(self, fut: Any, job: CallJob, known: Mapping[tuple[int, int], str]) -> Mapping | None:
        """Take the finished future's result for ``job``, sent with the ``known`` hashes (stored, or
        its earlier row taken when the call was already scored): None; or the known hashes to send
        it again with: ``known`` when no worker scored it (:meth:`_result`), none when the ledger
        lost the row it was skipped for."""
        ran_on = self._ran_on.pop(fut.key, [])
        result = self._result(fut, job, ran_on)  # from the worker: a stop while it comes is raised at once
        fut.release()
        if result is None:
            return known
        with stops_held(second_at_once=False, raise_at_end=False):  # stored and counted whole, raised by stops_noted
            self._forget_words(job)
            if result.skipped:
                return None if self._take_earlier(result) else {}
            self._take(result)
            if ran_on and not result.error:
                self._scored_on.add(ran_on[-1])
                self.outcome.workers = len(self._scored_on)
        return None

    def _result(self, fut: Any, job: CallJob, ran_on: Sequence[str]) -> CallResult | None:
        """The call's result (its task started on the workers ``ran_on``, in turn); None for a call
        no worker scored, to be sent again: its worker could not (said and closed), or the worker
        whose death failed it had not started it, only been given it to start next (Dask charges
        such a call with the death too: with ``allowed-failures`` 0, a call never started failed)."""
        try:
            result = fut.result(timeout=RESULT_FETCH_S)
        except TimeoutError as err:  # (Dask's wait) the result did not come: the task's own error is its failure
            if fut.status == "error":
                return CallResult(job, error=task_failure(job.path, err, ran_on))
            return self._unfetched(fut, job)
        except Exception as err:  # noqa: BLE001 - a worker that died on this call (KilledWorker...)
            if (last := killed_on(err)) is not None and last not in ran_on[-1:]:
                log.debug("%s: sent again, not started on %s as it died", job.path, last)
                return None
            return CallResult(job, error=task_failure(job.path, err, ran_on))
        if isinstance(result, tuple) and result[:1] == (WITHOUT_CALLMONITOR,):
            self._took_elsewhere(*result[1:])
            return None
        if isinstance(result, tuple) and result[:1] == (EARLIER_CALLMONITOR,):
            return CallResult(job, error=earlier_release(job.path, *result[1:]))
        return result

    def _unfetched(self, fut: Any, job: CallJob) -> CallResult | None:
        """The call ``fut`` scored, whose result did not come within :data:`RESULT_FETCH_S`: the
        scheduler asked whether it is still there (:class:`SchedulerSilent`, :class:`SchedulerLost`);
        None (sent again) when Dask found the result lost with its worker and scores the call again
        meanwhile; else a failed call naming the worker that holds its result and does not give it
        (stopped, its machine down), which ``--resume`` scores again (a failed call is not in the
        ledger)."""
        holders = asked(self.client, self._scheduler, "sync", self.client.scheduler.who_has, keys=[fut.key]).get(fut.key)
        if fut.status != "finished":  # its result lost with its worker: Dask scores the call again
            log.debug("%s: its result lost with its worker, sent again", job.path)
            return None
        held = f" from {', '.join(sorted(map(str, holders or ())))}" if holders else ""
        return CallResult(job, error=f"{job.path}: not stored: its result did not come{held} within "
                                     f"{RESULT_FETCH_S:g} s (a worker that does not reply: stopped, or its "
                                     "machine down); the same command with --resume scores it again")

    def _took_elsewhere(self, worker: str, why: str) -> None:
        """A worker of the running cluster that cannot import callmonitor (joined after the batch
        checked its workers) answered a call (:func:`remote_scorer`): said once, and the worker
        closed, as Dask ended one that died on the task it could not read, so that it takes no more
        of the batch's calls (each answered at once, it would take them all); the call is sent again,
        to the others."""
        if worker in self._closed:
            return
        self._closed.add(worker)
        self.on_warning(f"{worker}: a worker that joined while the batch scored cannot import callmonitor ({why}); "
                        f"install it where each worker runs ({on_each_worker()}) and start it "
                        "again: the batch closed it, and its calls go to the others")
        try:
            asked(self.client, self._scheduler, "retire_workers", [worker], close_workers=True)
        except SchedulerLost:  # the scheduler gone or silent: the next result, or look at the workers, says so
            log.debug("%s: could not be closed", worker)

    def _take_earlier(self, result: CallResult) -> bool:
        row = self.store.scored_row(result.job, result.channels, result.content_hash, self.chash)
        if row is None or row.get("error"):  # lost, or scored without its words: score it again
            return False
        self._rows[result.job.index] = dict(row, **job_cells(result.job, result.channels), status="already_scored")
        self.outcome.skipped += 1
        return True

    def _forget_words(self, job: CallJob) -> None:
        """Under ``--resume`` with ``storage.transcripts`` false, the words of every call the ledger
        names for ``job``'s files deleted (scored while words were kept, under another configuration
        or from an earlier content), counted: the setting now keeps none of the batch's calls."""
        if self.opts.resume and not self.storage.transcripts:
            self.outcome.words_deleted += self.store.forget_words(job)

    def _take(self, result: CallResult) -> None:
        o = self.outcome
        if result.unread_channels:
            self.on_warning(f"{result.job.path}: {result.unread_channels}")
        if result.error:
            self.on_error(result.job.said(result.error))
            self._rows[result.job.index] = failed_row(result.job, result.error, result.content_hash, self.chash)
            o.failed += 1
            return
        if not self.opts.resume and self.store.scored_row(result.job, int(result.row["channels"]),
                                                          result.content_hash, self.chash) is not None:
            o.again += 1
        call_id = self.store.store_call(result.job, result.events, result.row, result.fingerprint,
                                        storage=self.storage)
        self._rows[result.job.index] = dict(result.row, db_call_id=call_id)
        o.scored += 1
        if result.row.get("truncated"):  # as replay, analyze and report say it
            self.on_warning(audio_breaks_off(result.job.path, "scored", result.row["duration_s"]))
        for line in flaws_of_row(result.row).lines(result.job.path):  # as replay and the reports say them
            self.on_warning(line)
        for line in past_end(result.job.holds, result.row["duration_s"], "hold"):  # as replay --hold says it
            self.on_warning(result.job.said(f"{result.job.path}: {line}"))
        if result.row.get("error"):
            self.on_error(result.row["error"])
            o.without_words += 1
        o.audio_s += result.audio_s
        o.worker_cpu_s += result.cpu_s
        o.peak_rss_mb[result.worker_pid] = max(o.peak_rss_mb.get(result.worker_pid, 0.0), result.peak_rss_mb)
