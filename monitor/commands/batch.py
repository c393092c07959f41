"""``call-monitor batch INPUT...``: score an archive of recorded calls on all cores or a Dask cluster."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from ..console import error, info, warning
from ..files import name_text
from ..installing import extra_missing, found, import_failure, in_docs
from ..stops import stopped_by
from .common import ExitStatus, add_config_options, add_leg_options, add_logging_options, exit_status_of, not_used

if TYPE_CHECKING:  # for the annotations only: the batch's modules are imported when it runs
    from ..batch.inputs import CallJob
    from ..batch.labels import CallLabel
    from ..batch.runner import BatchOutcome
    from ..config import Config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="score an archive of recorded calls on all cores or a Dask cluster",
                       description="Run every recording through the same pipeline as `replay` (acoustic-only "
                                   "unless --transcribe), in parallel on a local Dask cluster of processes or "
                                   "on a running one (--scheduler). Every call, its alerts and summary go into "
                                   "the database; --out writes one row per call.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="recordings, folders (searched recursively for .wav/.flac/.ogg/.mp3), globs, or a CSV "
                        "manifest (a path column; optional caller_channel, agent_channel, call_id, agent_path, "
                        "and hold: the call's holds as replay --hold takes them, separated by ; or spaces, "
                        "\"1:40-2:25; 5:00-5:31.5\")")
    p.add_argument("-j", "--workers", "--jobs", type=int, metavar="N", dest="workers",
                   help="local worker processes (default and most: one per core, and never more than the calls "
                        "to score; -j and --jobs as make and the tools take them)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler, e.g. tcp://host:8786: its workers must see the recordings "
                        "at the same paths; folders, globs and manifests are read here, and a recording this "
                        "machine cannot see is checked by the worker that scores it")
    p.add_argument("--out", metavar="FILE", help="per-call table: summary.csv or summary.parquet")
    p.add_argument("--labels", metavar="LABELS.csv",
                   help="which calls had a caller in trouble and from when (columns file, onset in seconds or "
                        "m:ss, empty for a normal call; optional kind: trouble, mild, normal): the table gets "
                        "each call's first alerts after its onset, and the batch prints the detection figures")
    p.add_argument("--resume", action="store_true",
                   help="skip calls already scored with the same file content and configuration")
    p.add_argument("--transcribe", action="store_true", help="transcribe with Vosk (default: acoustic-only)")
    p.add_argument("--model", metavar="MODEL", help="Vosk model folder, language code (en-us, ko) or a model's name "
                   "as `call-monitor models` lists it (with --transcribe)")
    add_leg_options(p)
    p.add_argument("--agent", action=_AgentFromManifest, metavar="FILE", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true",
                   help="no progress: neither the bars on a terminal (of the check of the recordings, of the "
                        "scoring) nor the scoring's progress lines in a log")
    add_config_options(p)
    add_logging_options(p)
    p.set_defaults(run=run)


class _AgentFromManifest(argparse.Action):
    """``--agent FILE``, the agent's file of a call of two files as ``replay`` takes it, refused
    saying where a batch takes it (a manifest's ``agent_path``), not as an unknown option close to
    ``--agent-channel``. Not in the help."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values,
                 option_string: str | None = None) -> None:
        raise argparse.ArgumentError(self, "a batch takes the agent's file of a call of two files from a manifest's "
                                           "agent_path column, the caller's file in its path column "
                                           f"({in_docs('recordings.md', 'A call of two files')})")


def _check_args(args: argparse.Namespace) -> str | None:
    """A one-line problem with the options, or None."""
    if args.workers is not None and args.workers < 1:
        return f"--workers: must be at least 1, got {args.workers}"
    if args.workers is not None and args.scheduler:
        return "--workers and --scheduler: give one or the other (a cluster has its own workers)"
    if args.out is not None and not args.out.strip():  # "--out $TABLE" with TABLE unset: no table, unsaid
        return '--out "": an empty path; give a file (summary.csv or summary.parquet), or leave the option out'
    if args.out:
        from ..batch.table import TableError, table_format
        try:
            table_format(args.out)
        except TableError as err:
            return str(err)
        folder = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(folder):
            return f"{args.out}: cannot write the table (no such folder {folder})"
        from ..files import cannot_make_in
        if why := cannot_make_in(folder):  # the table is made beside its name, then renamed over it
            return f"{args.out}: cannot write the table ({folder}: {why})"
        if os.path.isdir(args.out):
            return f"{args.out}: cannot write the table (a folder of that name is there)"
    return None


def _out_problem(out: str, inputs: Sequence[str], jobs: Sequence[CallJob], db: str,
                 labels: str | None = None) -> str | None:
    """Why ``--out`` may not be written, in one line naming it: it is a manifest the batch reads, the
    ``labels`` file, a recording it scores or the database ``db`` it stores its calls in, which the
    table would replace; None otherwise."""
    from ..batch.inputs import is_manifest
    from ..files import same_file
    manifest = next((item for item in inputs if is_manifest(item) and same_file(out, item)), None)
    if labels is not None and same_file(out, labels):
        return f"--out {out}: is the labels file this batch reads, which the table would replace; give --out another file"
    recording = None if manifest else next((job.path for job in jobs if same_file(out, job.path)), None)
    if manifest is not None:
        what, path = "the manifest this batch reads", manifest
    elif recording is not None:
        what, path = "a recording this batch scores", recording
    elif same_file(out, db):
        what, path = "the database this batch stores its calls in", db
    else:
        return None
    named = "" if os.path.abspath(path) == os.path.abspath(out) else f" ({path})"
    return f"--out {out}: is {what}{named}, which the table would replace; give --out another file"


def missing_packages(scheduler: str | None, out: str | None, bar: bool = True, there: Callable[[str], bool] = found,
                     fails: Callable[[str], str | None] = import_failure) -> str | None:
    """The packages of the ``[batch]`` extra a batch needs that ``there`` does not find, all in one
    line with the command that installs them, else those whose import ``fails``, with the error
    (:func:`~monitor.installing.extra_missing`): before anything is scored, not as a traceback once
    a package is first imported; None when all import. Dask's ``distributed`` always; ``tqdm`` where
    the progress is a ``bar`` (on a terminal, without --quiet); ``cryptography`` for the TLS
    credentials of the local cluster, not with a ``scheduler`` of a running one; ``pyarrow`` for a
    Parquet table ``out``."""
    from ..batch.table import PARQUET_SUFFIXES
    unneeded = {"cryptography"} if scheduler else set()
    if not bar:
        unneeded.add("tqdm")
    if not (out or "").lower().endswith(PARQUET_SUFFIXES):
        unneeded.add("pyarrow")
    return extra_missing("batch", "batch", unneeded, there, fails)


def _progress_shown(args: argparse.Namespace) -> str | None:
    """How the scoring's progress shows on stderr (:func:`~monitor.batch.progress.progress_shown`):
    a bar on a terminal that says its size, else a line every so often; nothing with --quiet."""
    from ..batch.progress import progress_shown

    return progress_shown(args.quiet)


@dataclass(frozen=True)
class _Inputs:
    """What a batch is to score, read and checked before any worker starts."""

    cfg: Config
    jobs: list[CallJob]
    unopened: dict[int, str]
    """The calls whose recording cannot be read at all, by index: the problem, already said."""
    unsearched: bool
    """A folder among them could not be searched (said): the batch fails, its other calls scored."""
    labels: dict[object, CallLabel] | None = None
    """With ``--labels``: the labels by their recording (:func:`~monitor.batch.labels.labels_of`)."""


def run(args: argparse.Namespace) -> int:
    """The batch, a stop (Ctrl-C, SIGTERM) in any of its phases said in one line (:func:`_stop_line`)."""
    phase = _Phase()
    try:
        return _batch(args, phase)
    except KeyboardInterrupt as stop:
        error(_stop_line(stop, phase, args.out))
        return exit_status_of(stop)


def _batch(args: argparse.Namespace, phase: _Phase) -> int:
    problem = _check_args(args)
    if problem:
        error(problem)
        return ExitStatus.BAD_SETUP
    inputs = _read_inputs(args)
    if isinstance(inputs, ExitStatus):
        return inputs
    phase.now = STARTING
    status = _run(args, inputs, phase)
    return ExitStatus.FAILED if inputs.unsearched and status == ExitStatus.OK else status


def _read_inputs(args: argparse.Namespace) -> _Inputs | ExitStatus:
    """The configuration and the calls the inputs name, each recording's header checked (the
    problems said); the exit status when there is nothing to score."""
    from .common import ConfigError, config_from_args
    from ..batch.inputs import CHECK_QUIET_S, InputError, expand_inputs, unopenable

    try:
        cfg = config_from_args(args)
        unsearched: list[str] = []
        named_again: list[str] = []
        jobs = expand_inputs(args.inputs, args.caller_channel, None if args.agent_channel < 0 else args.agent_channel,
                             unsearched, workers_see_more=bool(args.scheduler), notes=named_again)
    except (ConfigError, InputError) as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    db = os.path.expanduser(cfg.storage.db)
    if args.out and (problem := _out_problem(args.out, args.inputs, jobs, db, args.labels)):  # before anything is scored
        error(problem)
        return ExitStatus.BAD_SETUP
    labels = _labels(args.labels, jobs)
    if isinstance(labels, ExitStatus):
        return labels
    from ..batch.progress import PROGRESS_BAR  # a bar (tqdm) redrawn in place: on a terminal alone
    bar = _progress_shown(args) == PROGRESS_BAR
    if problem := missing_packages(args.scheduler, args.out, bar):
        error(problem)
        return ExitStatus.BAD_SETUP
    for note in named_again:
        warning(note)
    for problem in unsearched:
        error(problem)
    unopened = unopenable(jobs, CHECK_QUIET_S if bar else None,
                          unseen_to_workers=bool(args.scheduler))
    for problem in unopened.values():
        error(problem)
    if unopened and len(unopened) == len(jobs):  # nothing to score: no cluster, no database, no table, no summary
        return ExitStatus.FAILED
    return _Inputs(cfg, jobs, unopened, bool(unsearched), labels)


def _labels(path: str | None, jobs: Sequence[CallJob]) -> dict[object, CallLabel] | None | ExitStatus:
    """The labels of ``--labels`` (None without it), each matched to a recording of the batch, the
    recordings without one said in a warning line; a bad labels file said in one line (exit 2),
    before anything is scored."""
    if path is None:
        return None
    from ..batch.labels import LabelError, labels_of, read_labels, unlabelled
    try:
        labels = labels_of(read_labels(path), jobs)
    except LabelError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    if said := unlabelled(labels, jobs, path):
        warning(said)
    return labels


READING = ("while the batch read its inputs: nothing was scored or stored; the same command with --resume starts "
           "again, skipping the calls scored before")
"""What a stop while the inputs are read and checked (a large manifest or folder) says after its cause."""
LOADING = "while the speech model loaded: nothing was scored or stored"
"""What a stop while the speech model is loaded once on the client (``--transcribe``) says."""
STARTING = "while the Dask cluster started: nothing was scored or stored"
"""What a stop from the end of the inputs' check until the cluster is there says: the database
is made only then."""


@dataclass
class _Phase:
    """Where a batch is, for the one line a stop there says (:func:`_stop_line`): ``now`` one of
    :data:`READING`, :data:`LOADING`, :data:`STARTING`, or once the cluster is there and the
    database open, ``db`` (the calls scored so far are in it)."""

    now: str = READING
    db: str | None = None
    outcome: BatchOutcome | None = None
    """What the batch has done so far, once it scores (the calls it cancelled on a running cluster
    as it stopped: :attr:`~monitor.batch.runner.BatchOutcome.cancelled`)."""


def _stop_line(stop: KeyboardInterrupt, phase: _Phase, out: str | None) -> str:
    """What a batch stopped by ``stop`` in ``phase`` says: nothing done, before its database was
    opened, else where the calls scored so far are (and the calls cancelled on the cluster)."""
    if phase.db is None:
        return f"{stopped_by(stop)} {phase.now}"
    done = phase.outcome
    n = done.cancelled if done is not None else 0
    cancelled = f"; the {n} call(s) sent to the cluster and not yet scored were cancelled there" if n else ""
    return (f"{stopped_by(stop)}: {_kept(phase)}{cancelled}; the same command with --resume scores the rest"
            + (f" and writes {out}" if out else ""))


def _kept(phase: _Phase) -> str:
    """Where the calls a batch stored before it stopped are, and how many of those it had to
    score: what every line of a batch stopped while it scores says (a stop, its scheduler gone)."""
    done = phase.outcome
    count = f" ({done.scored + done.skipped} of the {done.to_score} to score)" if done and done.to_score else ""
    return f"every call scored before it{count} is in {phase.db}"


def _local_workers(args: argparse.Namespace, calls: int) -> int | None:
    """The worker processes of the local cluster for ``calls`` calls to score
    (:func:`~monitor.batch.runner.local_workers`), a ``--workers`` cut to the cores said in one
    line; None with ``--scheduler`` (its cluster has its own)."""
    from ..batch.runner import local_workers, usable_cores

    if args.scheduler:
        return None
    asked, cores = args.workers, usable_cores()
    if asked is not None and asked > cores and calls > cores:
        warning(f"--workers {asked}: more than the {cores} core(s) this batch may use; it starts one worker "
                f"process per core ({cores}), each scoring one call at a time")
    return local_workers(asked, calls)


def _speech_model(args: argparse.Namespace, cfg, phase: _Phase):
    """The speech model ``--transcribe`` loads once here (its notes said), None for acoustic-only
    (a ``--model`` asked for without it said not to be used), or the exit status of a model that
    will not load (said)."""
    from ..batch.runner import transcription_model
    from ..transcription.vosk_models import ModelError

    if not args.transcribe:
        if args.model:  # asked for on the command line, and not used: said, not ignored
            not_used([f"--model {args.model}"], "without --transcribe (acoustic-only)")
        return None
    phase.now = LOADING
    try:
        model_info = transcription_model(cfg, args.model)
    except ModelError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    from ..transcription.setup import TranscriptionSetup
    for note in TranscriptionSetup.notes(cfg, model_info):
        warning(note)
    return model_info


def _run(args: argparse.Namespace, inputs: _Inputs, phase: _Phase) -> int:
    """Score the batch: the speech model loaded, the database checked, the cluster started, the database
    opened and the calls scored there (and against ``--labels``), then the table and the last line."""
    cfg, jobs, unopened = inputs.cfg, inputs.jobs, inputs.unopened
    from ..batch.runner import BatchRun, ClusterError, SchedulerLost, dask_client, workers_without_callmonitor
    from ..delivery.store_files import never_writable

    model_info = _speech_model(args, cfg, phase)  # before the database: one that will not load leaves nothing made
    if isinstance(model_info, ExitStatus):
        return model_info
    phase.now = STARTING
    opts = _options(args, len(jobs) - len(unopened), model_info)
    db = os.path.expanduser(cfg.storage.db)
    if problem := never_writable(db):  # before any cluster starts
        error(problem)
        return ExitStatus.BAD_SETUP
    lock = _batch_lock(db)
    if lock is None:
        return ExitStatus.BAD_SETUP
    store = None
    try:
        with dask_client(opts) as client:
            if opts.scheduler and (problem := workers_without_callmonitor(client, opts.scheduler)):
                error(problem)  # before the database is made: nothing scored
                return ExitStatus.BAD_SETUP
            # once the cluster is there: a scheduler that cannot be reached leaves no database made
            store = _open_store(db, cfg, phase)
            if store is None:
                return ExitStatus.BAD_SETUP
            batch = BatchRun(client, store, cfg, opts, on_error=error, on_warning=warning)
            phase.outcome = batch.outcome  # what it did, as it does it: a stop's line says what it cancelled
            outcome = batch.run(jobs, unopened)
            scores = _scored_against(store, outcome, inputs.labels)
    except SchedulerLost as err:  # gone or silent: the calls stored before it are kept; the table is not written
        return _scheduler_lost(args, err, phase)
    except ClusterError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    finally:
        if store is not None:
            store.close()
        lock.release(discard=phase.db is None)  # a database never made: no lock file, nor folders, left
    return _finish(args, cfg, outcome, phase, scores)


def _scheduler_lost(args: argparse.Namespace, err: Exception, phase: _Phase) -> int:
    """The line of a scheduler gone or silent mid-batch, and the exit status: before the database was
    made (as for a scheduler that cannot be reached) nothing was stored; after, the calls stored are
    kept and ``--resume`` scores the rest."""
    if phase.db is None:
        error(f"{err}: nothing was scored or stored; start it again with its workers, then the same command")
        return ExitStatus.BAD_SETUP
    error(f"{err}: {_kept(phase)}; start it again with its workers, then the same command with --resume "
          "scores the rest" + (f" and writes {args.out}" if args.out else ""))
    return ExitStatus.FAILED


def _batch_lock(db: str):
    """The database's batch lock (:class:`~monitor.batch.ledger.BatchLock`), taken before any cluster
    starts and held until the batch's last call is stored, or None with the line that refuses it
    said (another batch stores its calls there). Where no lock file can be made (a symbolic link at
    its place) the batch goes on without it, said in a warning line."""
    from ..batch.ledger import BatchLock
    from ..delivery.dblock import DatabaseInUse
    from ..delivery.store_errors import StoreError

    lock = BatchLock(db)
    try:
        lock.acquire()
    except DatabaseInUse as err:
        error(str(err))
        return None
    except StoreError as err:
        warning(f"{err}; the batch goes on without it: another batch into {db} at the same time is not refused")
    return lock


def _scored_against(store, outcome: BatchOutcome, labels: dict[object, CallLabel] | None) -> list[dict] | None:
    """With ``--labels``: the outcome's rows given their labels' columns, and the labelled calls'
    scores (from their alerts in ``store``); None without."""
    if labels is None:
        return None
    from ..batch.labels import apply_labels
    outcome.rows, scores, notes = apply_labels(store, outcome.rows, labels)
    for note in notes:
        warning(note)
    return scores


def _options(args: argparse.Namespace, calls: int, model_info):
    """The batch's options: its workers for ``calls`` calls to score, scheduler, speech model,
    resume and progress."""
    from ..batch.runner import BatchOptions
    return BatchOptions(workers=_local_workers(args, calls), scheduler=args.scheduler,
                        transcribe=args.transcribe, model=args.model, model_info=model_info, resume=args.resume,
                        progress=_progress_shown(args))


def _open_store(db: str, cfg, phase: _Phase):
    """The batch's database opened (``phase`` told where), or None with the problem said."""
    from ..batch.ledger import BatchStore
    from ..delivery.store_errors import StoreError
    try:
        store = BatchStore.open(db, snapshot_every_s=cfg.storage.snapshot_every_s)
        phase.db = str(store.path)
    except StoreError as err:
        error(str(err))
        return None
    return store


def _say_figures(labels: str, rows: Sequence[dict], scores: list[dict]) -> None:
    """The detection figures against ``labels`` on stdout, the calls left out of them counted."""
    from ..batch.labels import figure_lines

    print("\n".join(figure_lines(labels, rows, scores)), flush=True)


def _finish(args: argparse.Namespace, cfg, outcome, phase: _Phase, scores: list[dict] | None = None) -> int:
    """The scored batch's table (``--out``), its warning of calls stored twice, its last line and,
    with ``--labels``, the detection figures against them (on stdout); the exit status."""
    from ..batch.table import write_table

    if args.out:
        try:
            write_table(args.out, cfg, outcome.rows, labelled=scores is not None)
        except OSError as err:  # a disk filled meanwhile, say: the calls are stored
            error(f"{args.out}: cannot write the table ({(err.strerror or str(err)).lower()}): every call scored is "
                  f"in {phase.db}; the same command with --resume writes it, skipping the calls scored")
            return ExitStatus.FAILED
    if outcome.again:
        warning(f"{outcome.again} of the calls scored were in {phase.db} already, scored from the same recording, "
                "legs and configuration, and are now stored twice (alerts and call reports list both); "
                "--resume skips such calls")
    if outcome.words_deleted:
        calls = "call" if outcome.words_deleted == 1 else "calls"
        info(f"the words of {outcome.words_deleted} {calls} scored before were deleted from {name_text(phase.db or '')}, "
             "as storage.transcripts = false keeps none")
    unheard = f" ({outcome.without_words} without their words)" if outcome.without_words else ""
    speed = f" ({outcome.xrt:.0f}x real time)" if outcome.audio_s > 0 else ""  # none when all was scored before
    on = f" on {outcome.workers} worker(s)" if outcome.workers else ""  # those that scored a call
    flagged, critical = outcome.flagged()
    info(f"{outcome.scored} scored{unheard}, {outcome.skipped} already scored, {outcome.failed} failed; "
         f"{flagged} flagged ({critical} with a critical alert); "
         f"{outcome.audio_s / 3600:.2f} h of audio in {outcome.wall_s:.1f} s{on}"
         f"{speed}; calls stored in {name_text(phase.db or '')}" + (f"; table: {name_text(args.out)}" if args.out else ""))
    if scores is not None:
        _say_figures(args.labels, outcome.rows, scores)
    return ExitStatus.FAILED if outcome.failed or outcome.without_words else ExitStatus.OK
