"""``call-monitor run``: the live daemon beside the softphone."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Callable, Collection

from ..console import LEVELS, PROG, error, first_line, warning
from ..files import name_text
from ..release import RELEASE
from ..stops import stopped_by, stops_blocked, stops_held
from .common import ExitStatus, add_config_options, add_logging_options, add_transcription_options

if TYPE_CHECKING:
    from ..config import Config
    from ..delivery.sinks.webhook import WebhookSink
    from ..delivery.store import Store
    from ..delivery.store_guard import PendingStore
    from ..transcription.loading import ModelLoading

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="monitor live calls (the daemon)",
                       description="Capture the caller's leg (and optionally the agent's), split the audio "
                                   "into calls and raise alerts live. SOURCE: a sounddevice name fragment or "
                                   "index, or a PulseAudio/PipeWire source such as softphone.monitor "
                                   "(see `call-monitor devices`).")
    add_run_options(p)
    p.set_defaults(run=run)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """``run``'s options (``install-service`` takes them all, for the unit's ``run``)."""
    p.add_argument("--caller", metavar="SOURCE", help="the caller's leg (daemon.caller)")
    p.add_argument("--agent", metavar="SOURCE", help="the agent's leg, the microphone (daemon.agent; \"\": none, "
                   "whatever daemon.agent says)")
    p.add_argument("--wait-for-source", action=argparse.BooleanOptionalAction, default=None,
                   help="wait for a caller source that is not there yet (the softphone not started, the "
                        "headset not plugged in) rather than exit 2 (daemon.wait_for_source; default on)")
    p.add_argument("--jsonl", action="store_true", help="one JSON event per line on stdout (as replay)")
    url = p.add_mutually_exclusive_group()
    url.add_argument("--webhook", metavar="URL", help="supervisor webhook (delivery.webhook_url)")
    url.add_argument("--webhook-url-file", metavar="FILE",
                     help="the webhook URL read from FILE, kept off the command line, which `ps` shows every "
                          "user (a key in its query stays private); read again at each reload")
    p.add_argument("--webhook-token-file", metavar="FILE",
                   help="token sent to the webhook as a bearer token (delivery.webhook_token_file)")
    p.add_argument("--no-notify", action="store_true", help="no desktop notifications")
    add_transcription_options(p)
    p.add_argument("--socket", metavar="PATH", help="status socket, at most 107 bytes (daemon.status_socket; "
                   "default $XDG_RUNTIME_DIR/callmonitor.sock, else /run/user/UID/callmonitor.sock, else the database's "
                   "path + .sock)")
    add_config_options(p)
    add_logging_options(p)


def webhook_overrides(args: argparse.Namespace) -> dict:
    """The configuration keys that ``--webhook`` and ``--webhook-token-file`` set (the URL of
    ``--webhook-url-file`` is read where the configuration is loaded, a reload's too)."""
    o = {}
    if getattr(args, "webhook", None) is not None:
        o["delivery.webhook_url"] = args.webhook
    if getattr(args, "webhook_token_file", None) is not None:
        o["delivery.webhook_token_file"] = args.webhook_token_file
    return o


def overrides_from(args: argparse.Namespace) -> dict:
    """The configuration keys ``run``'s options set (``install-service`` has some of them: the
    others count as not given)."""
    o = webhook_overrides(args)
    if getattr(args, "caller", None) is not None:
        o["daemon.caller"] = args.caller
    if getattr(args, "agent", None) is not None:
        o["daemon.agent"] = args.agent
    if getattr(args, "wait_for_source", None) is not None:
        o["daemon.wait_for_source"] = args.wait_for_source
    if getattr(args, "no_notify", False):
        o["delivery.notify"] = False
    if getattr(args, "socket", None):
        o["daemon.status_socket"] = args.socket
    return o


class _HangupDuringStart:
    """SIGHUP before the daemon handles it (its start opens the capture, the database, the
    webhook's token file): held, and a reload once the daemon runs, rather than the default action
    ending the start."""

    def __init__(self) -> None:
        self.seen = False

    def install(self) -> "_HangupDuringStart":
        signal.signal(signal.SIGHUP, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: object) -> None:
        self.seen = True


class _Starting:
    """What the status socket answers while the daemon starts, before it listens (a source or the
    database can be slow to open): that it is starting and what it does, rather than no daemon at
    all; a call mark meanwhile gets a one-line error."""

    def __init__(self, db: str) -> None:
        self.started_at = time.time()
        self.db = db
        self.doing = "opening the capture and the database"

    def state(self) -> dict:
        return {"starting": True, "pid": os.getpid(), "version": RELEASE, "started_at": self.started_at,
                "uptime_s": round(time.time() - self.started_at, 1), "db": name_text(self.db), "doing": self.doing}

    def control(self, request: dict) -> dict:
        return {"error": f"the daemon is still starting ({self.doing}, {time.time() - self.started_at:.0f} s "
                         "so far): try again once `call-monitor status` shows it listening"}


class _HeldStatus:
    """The capture's status lines (a leg waiting for its source, lost, reopened) from when it opens,
    which is before the daemon that says them is made (the capture opens before the database):
    held, then said by the daemon in their order (:meth:`hand_to`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[tuple[str, str, str]] = []
        self._to: Callable[[str, str, str], None] | None = None

    def __call__(self, level: str, message: str, topic: str) -> None:
        with self._lock:
            to = self._to
            if to is None:
                self._held.append((level, message, topic))
                return
        to(level, message, topic)

    def hand_to(self, to: Callable[[str, str, str], None]) -> None:
        """Say the held lines through ``to``, and every later one (a line that comes meanwhile waits)."""
        with self._lock:
            for line in self._held:
                to(*line)
            self._held, self._to = [], to


class _Stop(Exception):
    """Setup failed: the one-line message is already said; exit with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _fail(message: str) -> _Stop:
    error(message)
    return _Stop(ExitStatus.BAD_SETUP)


def reloaded_config(args: argparse.Namespace, overrides: dict, started: Config) -> Config:
    """The configuration a reload applies, loaded as the start loaded ``started``, but from no pipe
    again (``<(...)``, a named pipe: read again, it would hold the monitor until something writes to
    it): a ``--config`` pipe is a ConfigError naming it, and a ``--webhook-url-file`` pipe keeps the
    start's URL."""
    from ..files import is_pipe
    from .common import ConfigError, config_from_args
    if args.config and is_pipe(args.config):
        raise ConfigError(f"{args.config}: a pipe, read once at the start; a reload reads a configuration file only")
    if getattr(args, "webhook_url_file", None) and is_pipe(args.webhook_url_file):
        kept = {"delivery.webhook_url": started.delivery.webhook_url}
        return config_from_args(argparse.Namespace(**{**vars(args), "webhook_url_file": None}), overrides | kept)
    return config_from_args(args, overrides)


def _reload(args: argparse.Namespace, overrides: dict, started: Config) -> Config:
    """The configuration a SIGHUP applies (:func:`reloaded_config`), its webhook checked as the start
    checks it (:func:`exposed_webhook`): the token file and ``--webhook-url-file``, read again, said
    in a warning line when others may read them (the URL's file while the URL holds a key), and
    posts in clear text so too."""
    cfg = reloaded_config(args, overrides, started)
    for problem in exposed_webhook(cfg, args.webhook_url_file):
        log.warning("%s", problem)
    return cfg


def run(args: argparse.Namespace) -> int:
    from .common import ConfigError, config_from_args
    os.umask(0o077)  # logs, database and sockets private to the user
    hangup = _HangupDuringStart().install()
    overrides = overrides_from(args)
    try:
        cfg = config_from_args(args, overrides)
    except ConfigError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    say_unused_token(args, cfg.delivery.webhook_url)
    from ..capture.quiet import NativeStderrDivert
    try:
        with contextlib.ExitStack() as stack:
            with stops_held():  # a stop while the lock is taken comes once its release is in place
                lock = _database_lock(cfg)  # before any device opens: one daemon per database
                # a stop leaves no lock file; a start that fails or is stopped (Ctrl-C, SIGTERM) none
                # (nor folder) it made
                stack.push(lambda kind, _err, _tb: lock.release(discard=kind is not None))
            stack.callback(NativeStderrDivert().start().close)  # PortAudio/ALSA/JACK chatter off stderr
            return _serve(args, cfg, lambda: _reload(args, overrides, cfg), lock, stack, hangup)
    except _Stop as stop:
        return stop.status
    except KeyboardInterrupt as stop:  # before the daemon took the signals (its capture opening): it never ran
        error(f"{stopped_by(stop)} while the daemon was starting: nothing was monitored or stored")
        raise


def _database_lock(cfg):
    """The database's lock, held while the daemon runs (a second daemon on it is refused). Where
    no lock file can be made the database says why when it is opened, and the lock is taken once
    it opens (:func:`_take_lock`)."""
    from ..delivery.dblock import DatabaseInUse, DatabaseLock
    from .common import StoreError
    lock = DatabaseLock(cfg.storage.db)
    try:
        lock.acquire()
    except DatabaseInUse as err:
        raise _fail(str(err)) from None
    except StoreError:  # no lock file where the database should be: the database says why below
        pass
    return lock


def _check_call_folders(cfg) -> None:
    """With ``daemon.write_audio`` or ``daemon.report_on_critical``, a folder the call audio or
    reports cannot go to (or another database's) stops the start (rather than every call warning
    that its audio is lost, or overwriting another database's files); one every user may write is
    said in a warning (:func:`~monitor.delivery.call_files.shared_call_folders`)."""
    from ..delivery.call_files import call_files_problem, shared_call_folders
    problem = call_files_problem(cfg)
    if problem:
        raise _fail(problem)
    for shared in shared_call_folders(cfg):
        log.warning("%s", shared)


def _serve(args: argparse.Namespace, cfg, reload, lock, stack: contextlib.ExitStack,
           hangup: _HangupDuringStart) -> int:
    """Open everything the daemon needs (each closed by ``stack``, in reverse), then run it; the
    capture is opened before the database is opened (made), so that a start the capture stops
    leaves no database made nor one there before touched. The speech model's load starts before
    the capture opens and goes on in the background (:func:`_open_model`): the daemon listens
    without waiting for it, and its transcription joins once it is ready."""
    from ..daemon import Daemon
    from .common import command_line_options
    _check_call_folders(cfg)
    starting = _Starting(os.path.expanduser(cfg.storage.db))

    def opened() -> tuple:
        """The status socket, the capture's held status lines and its source, made with Ctrl-C and
        SIGTERM blocked: their threads never take a stop the main thread must wake to (a token
        pipe's read)."""
        status = _open_status(cfg, starting, stack)
        held = _HeldStatus()
        return status, held, _live_source(cfg, held)
    status, held, source = stops_blocked(opened)
    try:
        token = webhook_token(cfg)
    except ValueError as err:
        raise _fail(str(err)) from None
    loading, transcription_off = _open_model(args, cfg, stack)
    starting.doing = "opening the capture"
    stack.callback(source.close)  # however the start fails after this: no capture stream, no watcher left
    _start_capture(source, cfg)  # before the database: a caller's input that will not open leaves none made
    starting.doing = "opening the database and the outputs"
    store = _open_database(cfg, lock, stack)
    sinks, webhook = _sinks(args, cfg, store, token, stack)
    notify = _notify_sink(cfg, sinks, stack)
    daemon = Daemon(cfg, source, store, sinks, reload=reload, webhook=webhook, notify=notify,
                    transcription_off=transcription_off, loading=loading, status=status,
                    started_at=starting.started_at,
                    options=command_line_options(args, cfg.overridden))
    _hand_start_to(daemon, held, hangup, status, stack)
    _start_heartbeat(cfg, webhook, token, daemon, stack)
    _say_started(args, cfg, source, loading, status)
    rc = _run_daemon(daemon)
    log.info("stopped (%s)", daemon.stop_reason or "capture ended")
    return rc


def _open_database(cfg, lock, stack: contextlib.ExitStack):
    """The database, opened (made) once the lock is taken and closed by ``stack``; one that will not
    open yet is said in one line and tried again while alerts go on (a pending store)."""
    from .common import StoreError, open_store_or_pending
    try:
        store = open_store_or_pending(cfg, check=lambda opened: _take_lock(lock))
    except StoreError as err:
        raise _fail(str(err)) from None
    stack.callback(store.close)
    from ..delivery.store_guard import NOT_KEPT, PendingStore
    if isinstance(store, PendingStore) and not store.is_open:
        error(f"{store.error}; alerts go on, marked as not stored; the database is tried again every "
              f"{store.retry_s:g} s and what was held back is written once it opens; {NOT_KEPT}")
    return store


def _notify_sink(cfg, sinks: dict, stack: contextlib.ExitStack):
    """The desktop notifications' sink, closed by ``stack``: among ``sinks`` when delivery.notify is on
    (a reload turns it on or off); a distress phrase's words in it as delivery.include_phrase_text says."""
    from ..delivery.sinks.notify import NotifySink
    notify = NotifySink(include_phrase_text=cfg.delivery.include_phrase_text, buttons=cfg.delivery.notify_buttons)
    stack.callback(notify.close, 0.3)
    if cfg.delivery.notify:
        sinks["notify"] = notify
    return notify


def _hand_start_to(daemon, held: _HeldStatus, hangup: _HangupDuringStart, status,
                   stack: contextlib.ExitStack) -> None:
    """The start handed to ``daemon``: the capture's status held so far, the signals, a SIGHUP that
    came during the start (a reload) and the status socket's answers; the socket closed by ``stack``."""
    held.hand_to(daemon.source_status)
    daemon.install_signals()
    if hangup.seen:
        daemon.request_reload()
    status.answer_with(daemon.state, daemon.control)
    if daemon.notify is not None:
        daemon.notify.take_words(daemon.button_word)  # a notification's button: the agent's word, as `outcome`
    stack.callback(status.close)  # closed before the database and the sinks (closing twice is harmless)


def _say_started(args: argparse.Namespace, cfg, source, loading: ModelLoading | None, status) -> None:
    """The start's warnings (a token or a URL's key others can read, a webhook in clear text:
    :func:`exposed_webhook`, as each reload says them, then the database others can read), then its
    line: what it listens to, the model loading, the status socket."""
    for problem in (*exposed_webhook(cfg, args.webhook_url_file), exposed_database(cfg)):
        if problem:
            log.warning("%s", problem)
    said = "; ".join([started_line(source.stats(), source.not_found()), *_loading_line(loading),
                      f"status socket {status.path}"])
    log.info("%s", said)
    _say_listening(args, said)


def _open_status(cfg, starting: _Starting, stack: contextlib.ExitStack):
    """The status socket, open from the start of the start: it answers ``starting`` until the
    daemon listens (:meth:`StatusServer.answer_with`)."""
    from ..delivery.status_socket import StatusServer, shared_folder_warning, socket_path, socket_path_problem
    sock = socket_path(cfg)
    if problem := socket_path_problem(sock):
        raise _fail(problem)
    if shared := shared_folder_warning(sock):
        log.warning("%s", shared)
    try:
        status = StatusServer(sock, starting.state, starting.control)
    except RuntimeError as err:
        raise _fail(f"status socket: {err}") from None
    except OSError as err:
        why = str(err.strerror or err)
        raise _fail(f"status socket {sock}: cannot listen there ({why[:1].lower() + why[1:]})") from None
    stack.callback(status.close)
    return status


def _transcribes(args: argparse.Namespace, cfg) -> bool:
    """Whether the start loads a speech model (transcription neither switched off nor refused)."""
    return not getattr(args, "no_transcribe", False) and cfg.transcription.enabled


def _open_model(args: argparse.Namespace, cfg,
                stack: contextlib.ExitStack) -> tuple[ModelLoading | None, str | None]:
    """(the speech model loading in the background, started, or None; why there is no
    transcription, or None). Every problem of the model asked for (``--model``,
    transcription.model, the language's) is one warning line naming where it was asked for, the
    folder or name and the problem, and the daemon runs acoustic-only: a folder that is not there
    (any more: the unit holds an absolute path) or is no model, a model not installed, said here;
    one Vosk cannot load, said once the background load finds it (the same line). A daemon that
    refused it would leave the agent unmonitored (systemd's unit restarting it, refused, at every
    start), while the acoustic alerts still watch over the caller. The model is loaded once in a
    short-lived process first (:class:`~monitor.transcription.loading.ModelLoading`): a crash in
    Vosk's load ends that process, not the daemon; ``stack`` kills that process when the start
    fails or the daemon stops meanwhile."""
    from ..transcription.loading import ModelLoading, off_message
    from ..transcription.setup import TranscriptionSetup
    from .common import ModelError, open_transcription
    if not _transcribes(args, cfg):
        open_transcription(args, cfg, live=True)  # says a --model it does not use
        return None, None
    model = getattr(args, "model", None)
    try:
        with TranscriptionSetup.named_problems(cfg, model):
            info = TranscriptionSetup.find(cfg, model)
    except ModelError as err:
        off = off_message(err)
        warning(off)
        return None, off
    if info is None:
        off = TranscriptionSetup.missing_message(cfg)
        warning(off)
        return None, off
    loading = ModelLoading(cfg, info, model)
    stack.callback(loading.cancel)  # before its child exists: however the start or the daemon ends, it is ended
    return loading.start(), None


def _loading_line(loading: ModelLoading | None) -> list[str]:
    """What the start's line says of a speech model still loading (none: nothing)."""
    return [] if loading is None else ["transcription: loading the speech model (acoustic-only until it is ready)"]


def _live_source(cfg, on_status: _HeldStatus):
    """The LiveSource of daemon.caller (and daemon.agent), its status lines to ``on_status``; bad
    devices stop the command."""
    from ..capture.devices import DeviceError, SameSourceError
    from ..capture.live import LiveSource
    from ..daemon_reload import one_source_line
    legs = {"caller": cfg.daemon.caller}
    if cfg.daemon.agent:
        legs["agent"] = cfg.daemon.agent
    # a headset plugged in later: the caller goes on; a softphone started later: its source is
    # waited for (daemon.wait_for_source; not the default input, which no later start brings)
    optional = ("agent", "caller") if cfg.daemon.wait_for_source and cfg.daemon.caller else ("agent",)
    try:
        source = LiveSource(legs, optional=optional, watch_streams="streams" in cfg.daemon.call_boundaries,
                            on_status=on_status)
    except SameSourceError as err:
        raise _fail(one_source_line(cfg, err.label)) from None
    except DeviceError as err:
        raise _fail(str(err)) from None
    except OSError as err:  # PortAudio library missing
        raise _fail(f"cannot use the audio system: {err}") from None
    if not cfg.daemon.caller:  # no default input to record: said before the database is made
        _check_default_input()
        warning("no caller source (--caller or daemon.caller): the default input is the caller, usually the "
                "microphone; give --caller SOURCE, the monitor of the softphone's sink (`call-monitor devices` "
                "lists them)")
    return source


def _check_default_input() -> None:
    """Stop the start (no --caller given) when PortAudio has no default input to open."""
    import sounddevice as sd
    try:
        sd.query_devices(kind="input")
    except Exception as err:  # noqa: BLE001 - PortAudio's "Error querying device -1"
        raise _no_default_input(err) from None


def _no_default_input(err: BaseException) -> _Stop:
    """The one line of a start without --caller whose default input cannot be opened."""
    return _fail(f"cannot open the default input ({first_line(err)}): no --caller was given; give --caller SOURCE, "
                 f"the monitor of the softphone's sink (`call-monitor devices` lists them)")


def _sinks(args: argparse.Namespace, cfg, store, token: str | None, stack: contextlib.ExitStack):
    """The terminal and webhook sinks the options ask for, and the webhook sink (or None)."""
    from ..delivery.sinks.terminal import HumanSink, JsonlSink
    from ..delivery.sinks.webhook import agent_of
    sinks: dict[str, JsonlSink | HumanSink | WebhookSink] = {}
    terminal: JsonlSink | HumanSink | None = None
    if args.jsonl:
        terminal = JsonlSink(agent=agent_of(cfg.delivery.agent_name), journal_stream=os.environ.get("JOURNAL_STREAM"))
    elif cfg.delivery.terminal:
        terminal = HumanSink(bell=cfg.delivery.bell, logged=logged_levels(args.log_level or "warning"),
                             name_calls=True, journal_stream=os.environ.get("JOURNAL_STREAM"))
    if terminal is not None:
        terminal.keep_words(cfg.storage.transcripts)
        sinks["terminal"] = terminal
    webhook = None
    if cfg.delivery.webhook_url:
        webhook = start_webhook(cfg, store, token)
        stack.callback(webhook.close, 0.5)
        sinks["webhook"] = webhook
    return sinks, webhook


def started_line(legs: dict[str, dict], not_found: Collection[str] = ()) -> str:
    """What the start says of its legs (``{leg: stats}``): ``listening (caller = X, agent = Y)``, or,
    while the sources of legs ``not_found`` are not there, that it waits for them (it listens to no
    such source yet)."""
    waiting = [f"the {leg}'s source {s['label']}" for leg, s in legs.items() if leg in not_found]
    named = [f"{leg} = {s['label']}" for leg, s in legs.items() if leg not in not_found]
    if not waiting:
        return f"listening ({', '.join(named)})"
    return f"waiting for {' and '.join(waiting)}, not found yet" + (f" ({', '.join(named)})" if named else "")


def _say_listening(args: argparse.Namespace, line: str) -> None:
    """The start's last line on the terminal's readable output, where logging does not say it (below
    ``-v``): whoever started the daemon sees that it listens, and where, before the first call."""
    if not args.jsonl and "info" not in logged_levels(args.log_level or "warning"):
        print(f"{PROG}: {line}", flush=True)


def logged_levels(least: str) -> frozenset[str]:
    """The status levels that logging from ``least`` on (``--log-level``, ``-v``) puts on stderr."""
    return frozenset(level for level in LEVELS if LEVELS.index(level) >= LEVELS.index(least))


def _start_capture(source, cfg) -> None:
    try:
        source.start()
    except Exception as err:  # noqa: BLE001 - whatever PortAudio raises, one line
        if not cfg.daemon.caller:  # a default input listed that will not open
            raise _no_default_input(err) from None
        raise _fail(f"cannot open the caller's input {cfg.daemon.caller}: {first_line(err)}") from None


def _start_heartbeat(cfg, webhook, token: str | None, daemon, stack: contextlib.ExitStack) -> None:
    """Heartbeats to the supervisor console beside the webhook (delivery.heartbeat_s)."""
    if webhook is None or cfg.delivery.heartbeat_s <= 0:
        return
    daemon.keep_start_problems()  # the first heartbeat says them (else the daemon's run keeps them)
    from ..delivery.sinks.webhook import Heartbeat
    link = report_link(cfg.delivery.report_url_base)
    heartbeat = Heartbeat(cfg.delivery.webhook_url, webhook.sender, lambda: daemon.heartbeat_status(link),
                          every_s=cfg.delivery.heartbeat_s, token=token, timeout_s=cfg.delivery.timeout_s,
                          watch=daemon.presence, acked=daemon.acked,
                          awaits_ack=daemon.awaits_ack, max_wait_s=cfg.delivery.max_backoff_s)
    heartbeat.start()
    daemon.heartbeat = heartbeat  # a reload's new URL applies to it too
    stack.callback(heartbeat.close, 0.5)


def _run_daemon(daemon) -> int:
    """What the daemon's run returns; 1 with one line for an error it raises, and 2, as for a start
    refused on its database, when it stopped because the database it opened late was another
    daemon's by then (its line said by the daemon)."""
    try:
        rc = daemon.run()
    except Exception as err:  # noqa: BLE001 - one clear line, not a traceback
        error(f"the monitor stopped: {first_line(err)}")
        return ExitStatus.FAILED
    return ExitStatus.BAD_SETUP if daemon.refused is not None else rc


def _take_lock(lock) -> None:
    """The database's daemon lock, if this daemon does not hold it yet (it could not be made at
    start); raises DatabaseInUse when another daemon took it meanwhile, else runs without it."""
    from ..delivery.dblock import DatabaseInUse
    from ..delivery.store_errors import StoreError
    if lock.held:
        return
    try:
        lock.acquire()
    except DatabaseInUse:
        raise
    except StoreError as err:
        log.warning("%s; running without the one-daemon-per-database lock", err)


def say_unused_token(args: argparse.Namespace, webhook: str, *, configured: bool = True) -> None:
    """One warning when ``--webhook-token-file`` is given and there is no webhook (``webhook`` is
    the URL in use, "" for none) to send it to, rather than ignoring it without a word.
    ``configured``: delivery.webhook_url would count (not in replay)."""
    if getattr(args, "webhook_token_file", None) and not webhook:
        where = ("--webhook URL, --webhook-url-file FILE or delivery.webhook_url" if configured
                 else "--webhook URL or --webhook-url-file FILE")
        warning(f"--webhook-token-file {args.webhook_token_file} is not used: there is no webhook ({where})")


def webhook_token(cfg: Config) -> str | None:
    """The bearer token for the webhook, from delivery.webhook_token_file (None without one);
    raises TokenFileError (a ValueError) naming the file, and the configuration file that named it
    (:func:`~monitor.config.loader.where_set`)."""
    from ..config import where_set
    from ..config.tokens import TokenFileError, read_token_file
    path = cfg.delivery.webhook_token_file
    if not (path and cfg.delivery.webhook_url):
        return None
    try:
        return read_token_file(path)
    except TokenFileError as err:
        raise TokenFileError(where_set(cfg, "delivery.webhook_token_file", str(err))) from None


def exposed_token(cfg: Config) -> str | None:
    """Why the webhook's token file (delivery.webhook_token_file) is not private: other users may
    read it (:func:`~monitor.files.others_may_read`); None when it is, or when no webhook uses one.
    Said in a warning by ``run`` once it listens and by ``install-service`` once it writes the unit."""
    from ..files import others_may_read
    path = cfg.delivery.webhook_token_file
    return others_may_read(path) if path and cfg.delivery.webhook_url else None


def exposed_url(cfg: Config, url_file: str | None = None) -> str | None:
    """Why the file that gives the webhook's URL is not private while that URL holds a key (what
    :func:`~monitor.config.urls.redact_url` hides: a Slack- or Teams-style key in its path, a query
    value, a user and password): other users may read it (:func:`~monitor.files.others_may_read`).
    The file is ``url_file`` (``--webhook-url-file``), else the configuration file that sets
    ``delivery.webhook_url``; None when it is private, names no such file, or the URL holds no key.
    Said in a warning where :func:`exposed_token` is."""
    from ..config.urls import redact_url
    from ..files import others_may_read
    url = cfg.delivery.webhook_url
    if not url or redact_url(url) == url:
        return None
    if url_file:
        return others_may_read(url_file, "the webhook URL file, whose URL holds a key,")
    return others_may_read(cfg.origin.get("delivery.webhook_url", ""),
                           "this configuration, whose delivery.webhook_url holds a key,")


def exposed_webhook(cfg: Config, url_file: str | None = None) -> list[str]:
    """What a start that posts to ``cfg``'s webhook warns of, and ``run``'s reloads, which read its
    files again: its token or URL in a file others may read (:func:`exposed_token`,
    :func:`exposed_url`), its posts in clear text (:func:`cleartext_webhook`)."""
    return [p for p in (exposed_token(cfg), exposed_url(cfg, url_file), cleartext_webhook(cfg)) if p]


def exposed_database(cfg: Config) -> str | None:
    """Why the database (storage.db: the calls' alerts, cues and words) is not private: other users
    may read it or the -wal and -shm beside it (:func:`~monitor.delivery.store_files.others_may_read_database`;
    one made by callmonitor is 0600, one copied or made by hand keeps its mode, and SQLite gives it to
    them); None when it is, and for another user's, whom the warning of opening it names instead
    (:func:`~monitor.delivery.sqlite_file.another_users`: no ``chmod`` of this user's reaches it). Said
    in a warning by ``run`` once it listens (its -wal and -shm there)."""
    from pathlib import Path

    from ..delivery.sqlite_file import another_users
    from ..delivery.store_files import others_may_read_database
    db = Path(cfg.storage.db).expanduser()
    try:
        if another_users(db, os.stat(db)) is not None:
            return None
    except OSError:
        pass
    return others_may_read_database(db, "the database, which holds the calls' alerts and words,")


def cleartext_webhook(cfg: Config) -> str | None:
    """Why the webhook's posts cross the network readable by anyone on it: an http:// URL to another
    host than this machine's loopback; None for https://, loopback or no webhook. Said in a warning
    where :func:`exposed_token` is."""
    from urllib.parse import urlsplit

    from ..config.listen import is_loopback
    from ..config.urls import redact_url
    url = cfg.delivery.webhook_url
    parts = urlsplit(url)
    if not url or parts.scheme != "http" or is_loopback(parts.hostname or ""):
        return None
    what = "the token and the alerts" if cfg.delivery.webhook_token_file else "the alerts"
    return (f"webhook {redact_url(url)}: an http:// URL to another machine: {what} cross the network in clear "
            "text (give the console --tls-cert and --tls-key, and the daemon its https:// URL)")


def start_webhook(cfg: Config, store: Store | PendingStore, token: str | None) -> WebhookSink:
    """The started WebhookSink of delivery.webhook_url, posting as this agent."""
    from ..delivery.sinks.webhook import Sender, WebhookSink
    d = cfg.delivery
    return WebhookSink(store, d.webhook_url, timeout_s=d.timeout_s, retries=d.retries,
                       backoff_s=d.backoff_s, max_backoff_s=d.max_backoff_s,
                       identity=Sender.of(store, d.agent_name), token=token,
                       include_phrase_text=d.include_phrase_text).start()


def report_link(base: str) -> Callable[[str], str]:
    """How a report's path is linked for the console: ``base`` + file name, or a file:// URL."""
    import pathlib
    import urllib.parse
    if base:
        return lambda path: base.rstrip("/") + "/" + urllib.parse.quote(os.path.basename(path))
    return lambda path: pathlib.Path(path).absolute().as_uri()
