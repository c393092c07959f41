"""``call-monitor replay FILE...``: run recorded calls through the live pipeline."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, Iterator, Sequence, TextIO

from ..console import error, one_line, padded, warning, width
from ..files import name_text
from ..stops import stopped_by
from .common import (ExitStatus, add_call_options, add_config_options, add_hold_option, add_logging_options,
                     agent_file_option, seconds_option)

if TYPE_CHECKING:
    from ..capture.sources import Chunk, Recording
    from ..config import Config
    from ..delivery.sinks.webhook import WebhookSink
    from ..delivery.store import Store
    from ..delivery.store_guard import PendingStore
    from ..events import Event
    from ..pipeline import CallPipeline
    from ..transcription.setup import TranscriptionSetup


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay recorded calls through the monitor and print alerts",
                       description="Replay each recorded call (WAV, FLAC, OGG, MP3) through the same pipeline as "
                                   "the live daemon. Mono = caller only; stereo = caller and agent legs; a mono "
                                   "FILE with --agent FILE: the caller's and the agent's legs as two files.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="a recorded call (WAV, FLAC, OGG, MP3); each file is one call")
    p.add_argument("--agent", metavar="FILE", type=agent_file_option,
                   help="the agent's leg as a recording of its own (mono, started with the call): the one FILE "
                   "is then the caller's leg alone (mono too); \"\": none, FILE's own channels")
    p.add_argument("--jsonl", action="store_true", help="one JSON event per line on stdout")
    p.add_argument("--realtime", action="store_true", help="pace the audio like a live call")
    add_hold_option(p, "one FILE only", "the hold is kept with the call")
    url = p.add_mutually_exclusive_group()
    url.add_argument("--webhook", metavar="URL", help="also post the alerts to this webhook (a supervisor "
                     "console), from the database's outbox as the daemon does")
    url.add_argument("--webhook-url-file", metavar="FILE", help="the same, the webhook URL read from FILE: kept "
                     "off the command line, which `ps` shows every user (a key in its query stays private)")
    p.add_argument("--webhook-token-file", metavar="FILE", help="token sent to the webhook as a bearer token")
    p.add_argument("--webhook-wait", type=seconds_option, default=10.0, metavar="S",
                   help="at the end, wait up to S seconds (0 or more; default 10) for the outbox to be delivered")
    add_call_options(p)
    add_config_options(p)
    add_logging_options(p)
    p.set_defaults(run=run)


class Progress:
    """The replay of each recording (:meth:`start`) as a one-line bar on stderr, when stderr is a
    terminal and the recording is longer than 30 s: the recording's name as every
    line shows it (:func:`~monitor.files.name_text`, :func:`~monitor.console.one_line`: ``det\\nnl.wav``),
    its end kept where it is cut, the bar and the percentage, fitted to the terminal's columns as they
    are at each redraw (a Hangul name's characters two columns each). The lines written to the
    terminal meanwhile through :meth:`clearing` (the alerts on stdout, the warnings on stderr) clear
    the bar's row first, so that each one starts its own row; the bar is drawn again under them at
    the next event, or once the events of a moment are said (:meth:`end_batch`), as tqdm does."""

    def __init__(self, stream: TextIO) -> None:
        from ..delivery.sinks.terminal import on_terminal
        self.stream = stream
        self.terminal = on_terminal(stream)
        self.lock = threading.RLock()  # a webhook's warning comes from its own thread
        self.active, self.label, self.total, self.pct = False, "", 0.0, -1
        self.drawn = 0
        """The columns of the bar on the terminal now (0: none shown)."""

    def start(self, path: str, total_s: float | None) -> None:
        """A bar for the recording ``path``, ``total_s`` long (None: a length unknown, no bar)."""
        self.done()
        self.active = self.terminal and total_s is not None and total_s > 30
        self.label, self.total, self.pct = one_line(name_text(path)).replace("\t", " "), total_s or 0.0, -1

    def __call__(self, event: Event) -> None:
        if not self.active:
            return
        pct = int(100 * min(1.0, event.t / self.total)) if self.total else 100
        if pct != self.pct or not self.drawn:
            self.pct = pct
            self._draw()

    def end_batch(self) -> None:
        """The bar drawn again once the lines of a moment are said, if they cleared it."""
        if self.active and not self.drawn:
            self._draw()

    def done(self) -> None:
        """The bar cleared and drawn no more (its recording read, or stopped)."""
        with self.lock:
            self.clear()
            self.active = False

    def clear(self) -> None:
        with self.lock:
            if self.drawn:
                self.stream.write("\r" + " " * self.drawn + "\r")
                self.stream.flush()
                self.drawn = 0

    @contextlib.contextmanager
    def clearing(self) -> Iterator[None]:
        """``sys.stdout`` (when it is a terminal too) and ``sys.stderr`` meanwhile clear the bar's
        row before each write, where a bar can show; the bar cleared at the end."""
        if not self.terminal:
            yield
            return
        from ..delivery.sinks.terminal import on_terminal
        saved = sys.stdout, sys.stderr
        if on_terminal(sys.stdout):
            sys.stdout = _BarCleared(sys.stdout, self)
        sys.stderr = _BarCleared(sys.stderr, self)
        try:
            yield
        finally:
            self.done()
            sys.stdout, sys.stderr = saved

    def _draw(self) -> None:
        with self.lock:
            sys.stdout.flush()  # a line printed before it is on the terminal first
            line = self._line(_columns(self.stream))
            self.stream.write("\r" + line)
            self.stream.flush()
            self.drawn = width(line)

    def _line(self, columns: int) -> str:
        """The bar within ``columns`` less one (the last column would wrap on some terminals): as at
        80 columns and more, ``NAME (40 columns) [BAR (25)] PCT%``; narrower, the name and the bar
        share what is left; the percentage alone on a terminal too narrow for both."""
        pct = f"{self.pct:3d}%"
        room = columns - 1 - len(pct) - 4  # what the name and the bar share, beside " [", "] "
        if room < 4:
            return pct[:max(0, columns - 1)]
        bar = min(25, max(room // 2, room - 40))
        name = min(40, room - bar)
        return f"{_end_within(self.label, name)} [{'#' * (self.pct * bar // 100):{bar}s}] {pct}"


class _BarCleared:
    """A text stream whose writes clear the progress bar's row first (:meth:`Progress.clearing`);
    everything else is the stream's own."""

    def __init__(self, stream: TextIO, bar: Progress) -> None:
        self.stream, self.bar = stream, bar

    def write(self, text: str) -> int:
        with self.bar.lock:
            if text:
                self.bar.clear()
            return self.stream.write(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


def _columns(stream: TextIO) -> int:
    """The columns of the terminal ``stream`` writes to, as :func:`shutil.get_terminal_size` tells
    them of stdout: ``$COLUMNS`` when it is set, else the terminal's own, else 80 (a serial
    console's, which says no size)."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
    return columns or 80


def _end_within(text: str, columns: int) -> str:
    """``text`` padded to ``columns`` terminal columns, cut from its start if it takes more (the
    end of a path, the file's name, is kept)."""
    while width(text) > columns:
        text = text[1:]
    return padded(text, columns)


def run(args: argparse.Namespace) -> int:
    """Replay ``args.files``: the configuration (:func:`_replay_config`), the files that cannot be
    read said (:func:`_unreadable`), the speech model and the database opened (:func:`_opened`),
    then each recording replayed into the printed and posted alerts (:func:`_replay_all`)."""
    from .common import ConfigError
    if problem := _agent_file_problem(args) or _hold_problem(args):
        error(problem)
        return ExitStatus.BAD_SETUP
    try:
        cfg, token = _replay_config(args)
    except (ConfigError, ValueError) as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    unreadable = _unreadable(args)
    if len(unreadable) == len(args.files):  # nothing to replay: no database made or touched, no model loaded
        return ExitStatus.FAILED
    opened = _opened(args, cfg)
    if opened is None:
        return ExitStatus.BAD_SETUP
    return ExitStatus.FAILED if _replay_all(args, cfg, token, *opened, unreadable) else ExitStatus.OK


def _agent_file_problem(args: argparse.Namespace) -> str | None:
    """What contradicts ``--agent FILE`` on the command line, in one line naming the agent's file:
    a caller's FILE other than one, or the channel options (each leg's file has its one channel);
    None without ``--agent``, or when nothing does."""
    if args.agent is None:
        return None
    if len(args.files) != 1:
        return (f"{args.agent}: --agent gives the agent's leg of one call, beside its caller's FILE "
                f"({len(args.files)} FILEs given): replay each call of two files on its own")
    from .common import agent_file_contradicted
    return agent_file_contradicted(args.agent, [f"--{leg}-channel {n}" for leg, n, default in (
        ("caller", args.caller_channel, 1), ("agent", args.agent_channel, 0)) if n != default])


def _hold_problem(args: argparse.Namespace) -> str | None:
    """What contradicts ``--hold`` on the command line, in one line naming the FILEs: holds are the
    times of one call, and more FILEs than one are given; None when nothing does."""
    if not args.hold or len(args.files) == 1:
        return None
    return (f"{', '.join(args.files)}: --hold gives the holds of one call ({len(args.files)} FILEs given): "
            "replay each call with its own --hold")


def _posting(args: argparse.Namespace) -> bool:
    """Whether the replay posts its alerts to a webhook: only one its options name, the configured
    URL being the daemon's, not replay's."""
    return bool(args.webhook or args.webhook_url_file)


def _replay_config(args: argparse.Namespace) -> tuple[Config, str | None]:
    """The configuration with the webhook options applied, and the webhook's token (None when the
    replay posts nothing); a token given for no webhook said in one warning. Raises ConfigError or
    ValueError (a webhook option or token file it cannot use)."""
    from .common import config_from_args
    from .run import exposed_webhook, say_unused_token, webhook_overrides, webhook_token
    cfg = config_from_args(args, webhook_overrides(args))
    posting = _posting(args)
    say_unused_token(args, cfg.delivery.webhook_url if posting else "", configured=False)
    if not posting:
        return cfg, None
    token = webhook_token(cfg)
    for exposed in exposed_webhook(cfg, args.webhook_url_file):  # a token, a URL's key, posts in clear text
        warning(exposed)
    return cfg, token


def _opened(args: argparse.Namespace,
            cfg: Config) -> tuple[TranscriptionSetup | None, Store | PendingStore] | None:
    """The speech model (None: no transcription) and the store the calls go into (a pending one when
    the database cannot be opened: the alerts go on, not stored); None, said in one line, when no
    call could be stored (a folder, a recording or a database it may not write, as batch) or the
    model cannot be used. A stop (Ctrl-C, SIGTERM) meanwhile is said in one line and raised."""
    from ..delivery.store_files import never_writable
    from .common import ModelError, StoreError, open_store_or_pending, open_transcription
    doing = "the database opened"
    try:
        db = cfg.storage.db
        if problem := never_writable(db):
            error(f"{problem}: nothing was replayed")
            return None
        doing = "the speech model loaded"  # before the database: a model that cannot be used leaves it as it was
        transcription = open_transcription(args, cfg)
        doing = "the database opened"  # up to its busy timeout, on a database another program locks
        return transcription, open_store_or_pending(cfg)
    except (ModelError, StoreError) as err:
        error(str(err))
        return None
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM before the first call: nothing replayed yet
        error(f"{stopped_by(stop)} while {doing}: nothing was replayed or stored")
        raise


def _replay_all(args: argparse.Namespace, cfg: Config, token: str | None, transcription: TranscriptionSetup | None,
                store: Store | PendingStore, unreadable: list[str]) -> int:
    """The readable recordings replayed (:func:`_replay_files`) into the terminal's lines or JSON and
    the webhook, if posting, through a store guard, a progress bar beside them on a terminal; then
    what the guard held written, the outbox drained and the store closed, a stop meanwhile too. How
    many problems: the files that failed, ``unreadable`` among them, and those of closing."""
    progress = Progress(sys.stderr)
    with progress.clearing():  # each line said over the bar's row, whatever says it
        return _replay_into_sinks(args, cfg, token, transcription, store, unreadable, progress)


def _replay_into_sinks(args: argparse.Namespace, cfg: Config, token: str | None,
                       transcription: TranscriptionSetup | None, store: Store | PendingStore, unreadable: list[str],
                       progress: Progress) -> int:
    """:func:`_replay_all`'s work, its lines written to the streams the bar is cleared from."""
    from ..delivery.sinks.terminal import HumanSink, JsonlSink
    from ..delivery.store_guard import PendingStore, StoreGuard
    from .run import start_webhook
    sinks: list[JsonlSink | HumanSink | WebhookSink] = [
        JsonlSink() if args.jsonl else HumanSink(bell=cfg.delivery.bell)]
    webhook = start_webhook(cfg, store, token) if _posting(args) else None
    if webhook is not None:
        sinks.append(webhook)
    guard = StoreGuard(store, written=() if webhook is None else (webhook.written,))
    failed = 0
    with _one_line_failure(guard, [store.error] if isinstance(store, PendingStore) else []):
        try:
            failed = len(unreadable) + _replay_files([path for path in args.files if path not in unreadable],
                                                     args, cfg, guard, transcription, sinks, progress)
        finally:
            try:
                if webhook is not None:
                    guard.retry(force=True)  # what was held is written before the outbox is drained
                    _drain(webhook, args.webhook_wait, store.path)
            finally:  # a stop while the outbox is drained too
                failed += _close(store, guard)
    return failed


def _close(store, guard) -> int:
    """Write what the guard held back and close the store; the number of problems said."""
    from .common import StoreError
    problems = 0
    if not guard.retry(force=True):
        error(f"{guard.last_error}; {guard.held} record(s) (calls, alerts) could not be written: "
              "the alerts above were printed but are not in the database")
        problems += 1
    try:
        store.close()
    except StoreError as err:
        error(str(err))
        problems += 1
    return problems


def _unreadable(args: argparse.Namespace) -> list[str]:
    """The files that cannot be replayed at all (:func:`~monitor.capture.sources.open_problem`),
    each said in one line before anything is opened; a file named twice is in the list twice."""
    from ..capture.leg_files import leg_files_problem
    from ..capture.sources import open_problem
    unreadable = []
    for path in args.files:
        if problem := (leg_files_problem(path, args.agent) if args.agent is not None else
                       open_problem(path, args.caller_channel, None if args.agent_channel < 0 else args.agent_channel)):
            error(problem)
            unreadable.append(path)
    return unreadable


def _replay_files(paths: list[str], args: argparse.Namespace, cfg, store, transcription, sinks: list,
                  progress: Progress) -> int:
    """Each recording in turn (:func:`_begin_call`, :func:`_feed_call`); how many failed. Stopped
    (Ctrl-C, SIGTERM) between two of them, while the next one opens and its call is made (its
    recognizer takes some 50 ms), it says so in one line, as a stop during a call does."""
    failed = begun = 0
    for path in paths:
        try:
            call = _begin_call(path, args, cfg, store, transcription)
        except KeyboardInterrupt as stop:
            kept = f"the {begun} call(s) replayed before it are kept" if begun else "nothing was replayed or stored"
            error(f"{path}: {stopped_by(stop)} before its call began: {kept}; no further file is replayed")
            raise
        if call is None:
            failed += 1
            continue
        begun += 1
        _name_as_typed(sinks, path, args.agent)
        failed += not _feed_call(path, *call, sinks, progress, args.hold)
    return failed


def _name_as_typed(sinks: list, path: str, agent: str | None) -> None:
    """The terminal's summary line of the call of ``path`` (and ``agent``'s file) names them as
    typed for this call, by the absolute paths the call keeps: a file named twice in two ways
    (``short.wav ./short.wav``) is named each time as it was typed then."""
    from ..delivery.sinks.terminal import HumanSink
    for sink in sinks:
        if isinstance(sink, HumanSink):
            sink.typed = {os.path.abspath(p): p for p in (path, *([agent] if agent else []))}


def _begin_call(path: str, args: argparse.Namespace, cfg, store,
                transcription) -> tuple[Recording, CallPipeline] | None:
    """The recording's source (a FileSource; with ``--agent``, the LegFilesSource of the two files)
    and its call's CallPipeline (the call started in ``store``); None (said in one line) if it cannot
    be read."""
    from ..capture.audio_files import AudioFileError
    from ..capture.leg_files import LegFilesSource
    from ..capture.sources import FileSource, replay_block_s
    from ..pipeline import CallPipeline
    block_s = replay_block_s(realtime=args.realtime, transcribe=bool(transcription))
    src: Recording
    try:
        if args.agent is not None:
            src = LegFilesSource(path, args.agent, realtime=args.realtime, block_s=block_s)
        else:
            src = FileSource(path, caller_channel=args.caller_channel,
                             agent_channel=None if args.agent_channel < 0 else args.agent_channel,
                             realtime=args.realtime, block_s=block_s)
    except AudioFileError as err:
        error(str(err))
        return None
    if unread := src.unread_channels() or src.legs_not_there:  # said before the call's alerts
        warning(f"{path}: {unread}")
    extra = transcription.for_call(src.rate, src.legs) if transcription else {}
    return src, CallPipeline(cfg, src.rate, src.legs, store=store, source=os.path.abspath(path),  # as the agent's
                             named=path, channels=src.channels, agent_file=args.agent, **extra)


def _feed_call(path: str, src: Recording, pipeline: CallPipeline, sinks: list, progress: Progress,
               holds: Sequence[tuple[float, float]] = ()) -> bool:
    """The recording through its call's pipeline into ``sinks``, its caller not heard over ``holds``
    (:mod:`~monitor.capture.holds`), ``progress`` showing how far it is; False (said in one line) if
    it cannot be read to its end, or if its speech recognition failed (the call was replayed without it)."""
    from ..capture.audio_files import AudioFileError
    from ..pipeline import feed_source
    progress.start(path, src.info.duration_s)
    chunks = _chunks_then_warnings(path, src, pipeline, progress, holds)
    try:
        feed_source(pipeline, chunks, [*sinks, progress], on_hold=holds)
    except AudioFileError as err:
        progress.done()
        error(str(err))
        return False
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: the call was closed as aborted; its alerts are stored
        progress.done()
        stored = f"call {pipeline.call_id}" if pipeline.call_id is not None else "the call"
        error(f"{path}: {stopped_by(stop)} {pipeline.duration_s:.1f} s into the recording: {stored} is kept as far "
              f"as it went; no further file is replayed")
        raise
    progress.done()
    return not pipeline.recognizer_errors  # replayed without transcription: said in one warning, fails the run


def _chunks_then_warnings(path: str, src: Recording, pipeline: CallPipeline, progress: Progress,
                          holds: Sequence[tuple[float, float]] = ()) -> Iterator[Chunk]:
    """The recording's chunks, then its warnings (cut short, what was fixed in its samples or its
    header, two legs that carry the same audio, legs that read the wrong way round): said once it is
    read to its end and before its call ends, so that they come before the call's summary line,
    within its own block of a replay of several files. What they say of the recording is kept with its stored call
    (:attr:`CallPipeline.flaws`)."""
    from dataclasses import replace

    from ..capture.audio_files import audio_breaks_off
    from ..capture.holds import past_end
    from ..pipeline import recording_chunks, replay_turn_of
    yield from recording_chunks(pipeline, src, replay_turn_of(path, pipeline.agent_file))
    progress.done()
    for line in past_end(holds, pipeline.duration_s):
        warning(f"{path}: {line}")
    flaws = pipeline.flaws
    if flaws.truncated_at_s is not None:
        warning(audio_breaks_off(path, "replayed", flaws.truncated_at_s))
    for line in replace(flaws, quiet_legs=()).lines(path):  # a leg too quiet: the call's own status line
        warning(line)


class _OneLineFailure(logging.Filter):
    """The store guard's log in a replay: its failure line waits, so that a failure lasting to
    the end is one line (said with what stayed unwritten); one the database recovers from is said
    just before the line that says so (whatever the log level). Other records pass from ``shown``
    on."""

    def __init__(self, held_back: list[str], shown: int) -> None:
        super().__init__()
        self.held_back = held_back
        self.shown = shown

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            self.held_back.append(record.getMessage())
            return False
        if self.held_back:  # the database works again: the failure, then the line that says so
            error(self.held_back[0])
            self.held_back.clear()
            return True
        return record.levelno >= self.shown


@contextlib.contextmanager
def _one_line_failure(guard, held_back: list[str]) -> Iterator[None]:
    """``guard``'s records go through :class:`_OneLineFailure` meanwhile (its logger lets info
    records reach the filter, to see the database recover)."""
    logger = logging.getLogger(type(guard).__module__)
    level, keep = logger.level, _OneLineFailure(held_back, logger.getEffectiveLevel())
    logger.setLevel(min(keep.shown, logging.INFO))
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)
        logger.setLevel(level)


def _drain(webhook, wait_s: float, db) -> None:
    """Give the outbox ``wait_s`` seconds; what is left is delivered by the next run on this database,
    and said. Ctrl-C or SIGTERM ends the wait: what is left is said, then the stop is raised."""
    stop: KeyboardInterrupt | None = None
    try:
        left = webhook.drain(wait_s)  # a post to a receiver that never answers is cut at the wait's end too
    except KeyboardInterrupt as err:
        stop, left = err, webhook.pending()
    if left:
        warning(f"{webhook.shown_url}: {left} alert(s) not delivered yet; they stay in the outbox of {db} "
                f"for the next run")
    if stop is not None:
        raise stop
