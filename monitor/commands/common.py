"""Options and helpers shared by commands (config, database)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import math
import os
import re
import stat
import time
from datetime import datetime, timezone
from pathlib import Path
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from ..console import LEVELS, error, warning
from ..files import name_text
from ..local_time import wall_clock_problem
from ..stops import Terminated

if TYPE_CHECKING:  # for the annotations only: see the package docstring
    from ..config import Config
    from ..delivery.store import Store
    from ..delivery.store_guard import PendingStore
    from ..transcription.setup import TranscriptionSetup

_LAZY = MappingProxyType({"ConfigError": "monitor.config", "ModelError": "monitor.transcription.vosk_models",
                         "StoreError": "monitor.delivery.store_errors"})


def __getattr__(name: str):
    """``ConfigError``, ``ModelError`` and ``StoreError``, imported from their modules when first asked for."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ExitStatus(IntEnum):
    """What a command's exit code says."""

    OK = 0
    FAILED = 1
    """the command ran and failed, wholly or for some of its inputs (a file not analysed, a call
    not scored, a daemon not answering; the monitor stopped on an error)"""
    BAD_SETUP = 2
    """bad input or setup: a configuration, file, device, model or database it cannot use"""
    NOT_READY = 3
    """``status`` of a daemon that answers but is still starting (opening its capture, say): not
    monitoring yet, as ``systemctl is-active`` is non-zero for a unit still activating"""
    INTERRUPTED = 130
    """stopped by Ctrl-C (SIGINT), as a shell reports a command its signal ended"""
    TERMINATED = 143
    """stopped by SIGTERM (``timeout``, systemd, a script), as a shell reports it"""


def exit_status_of(stop: KeyboardInterrupt) -> ExitStatus:
    """The exit status of a command that ``stop`` (Ctrl-C or :class:`~monitor.stops.Terminated`) ended."""
    return ExitStatus.TERMINATED if isinstance(stop, Terminated) else ExitStatus.INTERRUPTED


DURATION_UNITS = MappingProxyType({"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0})
"""The units of a duration on the command line (``alerts --since``, ``purge --older-than``)."""

WHEN_FORMATS = "a duration (a number and s, m, h, d or w: 90s, 30m, 12h, 7d, 2w) or an ISO date like 2026-11-22T10:00"
"""What :func:`parse_when` reads, as the help texts and its error say it."""


WHEN_OPTIONS = ("--since", "--until", "--older-than")
"""The options that take a time :func:`parse_when` reads (``alerts --since``, ``--until``, ``purge --older-than``):
a value that begins with a minus sign (``--since -1h``) is theirs, not an option of its own
(:func:`signed_values_joined`)."""


def signed_values_joined(argv: list[str]) -> list[str]:
    """``argv`` with each :data:`WHEN_OPTIONS` followed by a value that begins with a sign and a digit
    (``--since -1h``) written as one argument (``--since=-1h``): argparse takes such a value for an
    option and says only that the option expected one argument, where :func:`parse_when` says what
    to give. Everything after ``--`` is left as it is."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + argv[i:]
        if out and out[-1] in WHEN_OPTIONS and re.match(r"-\d", arg):
            out[-1] = f"{out[-1]}={arg}"
            continue
        out.append(arg)
    return out


def parse_duration(text: str) -> float | None:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` (a number, then a unit of ``DURATION_UNITS``) ->
    seconds; None for any other text."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    return float(m.group(1)) * DURATION_UNITS[m.group(2)] if m else None


def parse_when(text: str, option: str, now: float | None = None) -> float:
    """A duration ago (:func:`parse_duration`) or an ISO date/time (local time unless it says) ->
    unix seconds. Raises ValueError with a one-line message naming ``option`` (an empty ``text``
    too: ``--since "$WHEN"`` with WHEN unset is not the option left out; a local time a change of
    daylight saving time repeats or skips, :func:`~monitor.local_time.wall_clock_problem`)."""
    if not text.strip():
        raise ValueError(f"{option} \"\": an empty time; give {WHEN_FORMATS}")
    now = time.time() if now is None else now
    seconds = parse_duration(text)
    if seconds is not None:
        return now - seconds
    signed = re.fullmatch(r"\s*[-+]\s*(.*)", text)
    if signed and parse_duration(signed.group(1)) is not None:  # -1h: the last hour, as the user meant it
        unsigned = signed.group(1).strip()
        raise ValueError(f"{option} {text!r}: a duration counts back from now and takes no sign: {option} "
                         f"{unsigned} means {unsigned} ago")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected {WHEN_FORMATS}") from None
    # a date alone is the first instant of that day, whose midnight a change of daylight saving time at
    # 00:00 skips or repeats (America/Santiago): the first reading of the wall clock, 01:00 after a skip
    problem = None if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()) else wall_clock_problem(moment)
    if problem is not None:
        raise ValueError(f"{option} {text.strip()!r} {problem}")
    return unix_time(moment)


def unix_time(moment: datetime) -> float:
    """``moment`` (local time unless it says) in unix seconds. Within a day of the calendar's ends
    (0001-01-01, 9999-12-31), where a local time has no offset to convert it with (its conversion
    overflows), the calendar's end in UTC: before, or after, any call there is."""
    try:
        return moment.timestamp()
    except (OverflowError, ValueError):  # "year 0 is out of range", "date value out of range"
        end = datetime.min if moment.year == datetime.min.year else datetime.max
        return end.replace(tzinfo=timezone.utc).timestamp()


def add_logging_options(p: argparse.ArgumentParser) -> None:
    """``-v`` (progress: calls, reloads, deliveries) and ``--log-level``; warnings and errors only
    by default."""
    p.add_argument("-v", "--verbose", action="store_const", const="info", dest="log_level",
                   help="also log progress (same as --log-level info)")
    p.add_argument("--log-level", choices=LEVELS, default="warning",
                   help="least severe messages logged on stderr (default warning)")


def home_relative(path: Path | str) -> str:
    """``path`` with the home folder written ``~`` (as help texts and messages show it; as it is
    when no home folder is known)."""
    p = Path(path)
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        return str(p)
    return f"~/{p.relative_to(home)}" if p.is_relative_to(home) else str(p)


def help_path(where: Callable[[], Path | str], unknown: str) -> str:
    """``where()`` as a help text shows it (:func:`home_relative`), or ``unknown`` (the path as the
    XDG variables name it) when it lies under a home folder that is not known: a command's help
    is given all the same."""
    from ..config.schema import NoHomeFolder
    try:
        return home_relative(where())
    except NoHomeFolder:
        return unknown


def default_file(key: str) -> str:
    """Where the default of ``key`` (``storage.db``, ``supervisor.db``, ``supervisor.token_file``)
    is for this process's ``$XDG_DATA_HOME`` / ``$XDG_CONFIG_HOME``, as help texts show it."""
    from ..config.schema import default_paths
    return help_path(lambda: default_paths(os.environ)[key], f"its default under the XDG base folders ({key})")


def add_config_options(p: argparse.ArgumentParser, db: bool = True) -> None:
    from ..config import user_config_path
    p.add_argument("--config", metavar="FILE", help="configuration file (TOML) on top of "
                   f"{help_path(user_config_path, '$XDG_CONFIG_HOME/callmonitor/config.toml')}")
    if db:
        p.add_argument("--db", metavar="FILE", help="SQLite database (default from the configuration: "
                       f"storage.db, else {default_file('storage.db')})")


def add_daemon_options(p: argparse.ArgumentParser, db_help: str = "") -> None:
    """Options of commands that ask the running daemon over its status socket: where the socket is.

    ``--db`` finds a daemon started with ``run --db FILE``: its socket is ``FILE.sock`` when neither
    ``daemon.status_socket`` nor a runtime folder of the user's places it elsewhere (no other use here,
    unless ``db_help`` says the command's own)."""
    p.add_argument("--socket", metavar="PATH", help="status socket (default: where a daemon puts it, each tried in "
                   "turn: daemon.status_socket alone, else $XDG_RUNTIME_DIR/callmonitor.sock, "
                   "/run/user/UID/callmonitor.sock, the database's path + .sock)")
    add_config_options(p, db=False)
    p.add_argument("--db", metavar="FILE", help=db_help or "the database the daemon was started with (run --db FILE): "
                   "only to find its socket, FILE.sock, where neither daemon.status_socket nor a runtime "
                   "folder ($XDG_RUNTIME_DIR, /run/user/UID) places it")


def _whole_number(text: str) -> int:
    """An option's integer, refused as argparse refuses ``type=int``'s."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None


def channel_number(text: str) -> int:
    """A recording's channel as an option gives it (``--channel``, ``--caller-channel``): 0 or more
    (a negative number is refused as the option's error, not taken for a channel the file lacks)."""
    n = _whole_number(text)
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


def agent_channel_number(text: str) -> int:
    """``--agent-channel``: a channel (0 or more), or -1 for none; below -1 is refused."""
    n = _whole_number(text)
    if n < -1:
        raise argparse.ArgumentTypeError("must be 0 or more, or -1 for none")
    return n


def seconds_option(text: str) -> float:
    """An option's seconds (``replay --webhook-wait``): a finite number, 0 or more. Anything else is
    the option's error, as argparse refuses ``type=float``'s: a negative number and NaN would wait no
    time at all, an infinite one until the process is killed."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more")
    return value


def call_id(text: str) -> int:
    """A stored call's id as the user gives it (``--call``, ``report ID``): a whole number from 1 to the
    largest id a row can have (SQLite's largest integer); another is refused as an option's error, one
    line (a larger one names no call, and SQLite refuses to be asked for it)."""
    from ..delivery.store_rows import ID_MAX, whole_number
    number = whole_number(text.strip())
    if number is None:
        raise argparse.ArgumentTypeError(f"{text!r} is no call id: give the call's id `call-monitor alerts` shows "
                                         f"(a whole number from 1 to {ID_MAX})")
    return number


def add_leg_options(p: argparse.ArgumentParser) -> None:
    """Options of commands that run recorded calls: the channels of a stereo file's legs."""
    p.add_argument("--caller-channel", type=channel_number, default=1, metavar="N",
                   help="channel of the caller in stereo files (default 1 = right)")
    p.add_argument("--agent-channel", type=agent_channel_number, default=0, metavar="N",
                   help="channel of the agent in stereo files (default 0 = left; -1 = none)")


def agent_file_option(text: str) -> str | None:
    """``--agent FILE`` of the commands that read a recording (replay, report): the agent's leg's own
    recording; ``""`` (or blank) none, a value of its own as ``run --agent ""`` is: the recording is
    read as without the option, its legs from its own channels, not refused as an empty path."""
    return text if text.strip() else None


def agent_file_contradicted(agent_file: str, asked: Sequence[str]) -> str | None:
    """The error line of the channel options ``asked`` (as given: ``--agent-channel 1``) beside
    ``--agent FILE``, a call of two files whose legs are each its file's one channel; None for none."""
    from ..capture.leg_files import ONE_CHANNEL_EACH
    if not asked:
        return None
    return f"{agent_file}: {' and '.join(asked)} contradicts --agent: {ONE_CHANNEL_EACH}"


def add_call_options(p: argparse.ArgumentParser) -> None:
    """Options of commands that run recorded calls: legs of stereo files, transcription."""
    add_leg_options(p)
    add_transcription_options(p)


def add_hold_option(p: argparse.ArgumentParser, which: str, kept: str) -> None:
    """``--hold FROM-TO`` of the commands that replay a recorded call (``which``: the calls it is
    given for; ``kept``: where the hold is said then), each a stretch of the call its caller was on
    hold in, in ``args.hold`` (:func:`~monitor.capture.holds.parse_hold`; one that is none, an error
    of the command line)."""
    p.add_argument("--hold", action="append", default=[], type=_hold_span, metavar="FROM-TO",
                   help=f"the caller was on hold from FROM to TO (seconds or m:ss into the call: 0:40-1:35; "
                        f"again for each hold; {which}): their leg is not judged then, as the daemon's "
                        f"`call hold` and `call resume` mark it live, and {kept}")


def _hold_span(text: str) -> tuple[float, float]:
    """``--hold FROM-TO`` as a stretch of the call (:func:`~monitor.capture.holds.parse_hold`)."""
    from ..capture.holds import parse_hold
    try:
        return parse_hold(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_transcription_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-transcribe", action="store_true", help="acoustic analysis only")
    p.add_argument("--model", metavar="MODEL", help="Vosk model folder, language code (en-us, ko) or a model's "
                   "name as `call-monitor models` lists it")


def not_used(options: Sequence[str], why: str) -> None:
    """Say in one warning line that ``options`` (as given: ``--model ko``), asked for on the command
    line, are not used, and ``why``: said, not silently ignored."""
    if options:
        warning(f"{', '.join(options)} {'is' if len(options) == 1 else 'are'} not used: {why}")


def open_transcription(args: argparse.Namespace, cfg: Config, *, live: bool = False) -> TranscriptionSetup | None:
    """The transcription the options and configuration ask for; None means acoustic-only
    (said once on stderr, a warning with the command that fetches a model). Raises ModelError for
    a model folder that is not a model, and for a model ``--model`` asks for that is not found."""
    if getattr(args, "no_transcribe", False) or not cfg.transcription.enabled:
        if getattr(args, "model", None):  # asked for on the command line, and not used: said, not ignored
            why = "--no-transcribe" if getattr(args, "no_transcribe", False) else "transcription.enabled = false"
            not_used([f"--model {args.model}"], f"{why} (acoustic-only)")
        return None
    from ..transcription.setup import TranscriptionSetup
    setup = TranscriptionSetup.create(cfg, getattr(args, "model", None), live=live)
    if setup is None:  # the configuration's choice (a model --model asks for and is not here raised)
        warning(TranscriptionSetup.missing_message(cfg))
        return None
    for note in TranscriptionSetup.notes(cfg, setup.info):
        warning(note)
    logging.getLogger(__name__).info("transcribing with %s", setup.model_line())
    return setup


PATH_OPTIONS = ("config", "db", "token_file", "socket", "webhook_token_file", "webhook_url_file", "unit_dir")
"""Options naming a file (or a folder: ``unit_dir``) that are refused empty (``--db ""`` from an
unset shell variable would otherwise mean the default silently, ``--webhook-token-file ""`` posts
without the token the console asks for)."""

EMPTY_REFUSED = MappingProxyType({
    "tls_cert": ("path", "give the certificate's file (PEM) with --tls-key, or leave both options out for a "
                         "console without TLS"),
    "tls_key": ("path", "give the private key's file (PEM) with --tls-cert, or leave both options out for a "
                        "console without TLS"),
    "listen": ("address", "give HOST:PORT (e.g. 127.0.0.1:8640), or leave the option out for the configured one"),
    "console": ("address", "give the console's, as `call-monitor supervisor` prints it (http://HOST:PORT), or leave "
                           "the option out for supervisor.listen on this machine"),
    "scheduler": ("address", "give a running Dask scheduler's (e.g. tcp://HOST:8786), or leave the option out for "
                             "a local cluster"),
    "caller": ("source", "give SOURCE, the monitor of the softphone's sink (`call-monitor devices` lists them), or "
                         "leave the option out for the configured one (daemon.caller)"),
    "model": ("value", "give a Vosk model folder or language code, or leave the option out for the configured one"),
    "batch": ("path", "give the table `call-monitor batch --out` wrote (CSV or Parquet)"),
})
"""The other options refused empty, each with what its value is and what to give instead: ``""``
from an unset shell variable would otherwise mean what leaving the option out means, without a
word (``supervisor --tls-cert "" --tls-key ""`` a console without TLS, ``batch --scheduler ""`` a
local cluster, ``run --caller ""`` the configured caller or the default input). ``--agent ""``
(no agent's leg) and ``--webhook ""`` (no webhook), whatever the configuration says, are values
of their own, not refused."""


def empty_option(args: argparse.Namespace) -> str | None:
    """The one line refusing the first option of :data:`PATH_OPTIONS` or :data:`EMPTY_REFUSED`
    given an empty (or blank) value, or None."""
    for option in PATH_OPTIONS:
        value = getattr(args, option, None)
        if value is not None and not value.strip():
            what = "folder" if option.endswith("_dir") else "file"
            return (f"--{option.replace('_', '-')} \"\": an empty path; give a {what}, or leave the option out "
                    "for the configured one")
    for option, (kind, instead) in EMPTY_REFUSED.items():
        value = getattr(args, option, None)
        if value is not None and not value.strip():
            return f"--{option.replace('_', '-')} \"\": an empty {kind}; {instead}"
    return None


def config_from_args(args: argparse.Namespace, overrides: dict | None = None) -> Config:
    """Load the effective configuration; raises ConfigError with a one-line message (an option
    given empty too, :func:`empty_option`: every command loads its configuration before it starts,
    makes or writes anything). ``--webhook-url-file`` is read each time (a reload reads it again),
    its URL set as ``--webhook`` sets one."""
    from ..config import ConfigError, load_config
    from ..config.urls import read_url_file
    from ..files import folder_not_entered
    if (refused := empty_option(args) or _socket_option_problem(args)) is not None:
        raise ConfigError(refused)
    extra = dict(overrides or {})
    if getattr(args, "db", None):
        extra["storage.db"] = args.db
    if getattr(args, "webhook_url_file", None):
        extra["delivery.webhook_url"] = read_url_file(args.webhook_url_file)
    if args.config and os.path.isdir(args.config):
        raise ConfigError(f"{args.config}: is a directory, not a configuration file")
    # a pipe is there, and is read; so is a file in a folder this user may not look in, to say its refusal
    if args.config and not os.path.exists(args.config) and not folder_not_entered(args.config):
        raise ConfigError(f"{args.config}: no such configuration file")
    try:
        return load_config(args.config, extra or None)
    except ConfigError as err:
        raise ConfigError(_named_by_option(str(err), extra)) from None


def _socket_option_problem(args: argparse.Namespace) -> str | None:
    """Why ``--socket`` cannot be a Unix socket's path, in the words ``status --socket`` says it
    (:func:`~monitor.delivery.status_socket.socket_path_problem`), before the configuration, whose
    ``daemon.status_socket`` it sets, is loaded (the configuration's own is said naming its file)."""
    if not getattr(args, "socket", None):
        return None
    from ..delivery.status_socket import socket_path_problem
    return socket_path_problem(args.socket)


OPTION_KEYS = MappingProxyType({
    "storage.db": "--db", "delivery.webhook_url": "--webhook", "delivery.webhook_token_file": "--webhook-token-file",
    "daemon.caller": "--caller", "daemon.agent": "--agent", "daemon.status_socket": "--socket",
    "supervisor.listen": "--listen", "supervisor.db": "--db", "supervisor.token_file": "--token-file",
    "supervisor.public_url": "--public-url"})
"""The configuration keys the commands' options set, with the option a person typed."""


def command_line_options(args: argparse.Namespace, keys: Iterable[str]) -> dict[str, str]:
    """The option a person typed for each of the configuration ``keys`` the command line sets, as
    a reload names it where the command line's value wins over an edited file
    (:func:`~monitor.config.loader.overruled_line`)."""
    typed = {**OPTION_KEYS, "daemon.wait_for_source": ("--wait-for-source" if getattr(args, "wait_for_source", None)
                                                       else "--no-wait-for-source"),
             "delivery.notify": "--no-notify"}
    if getattr(args, "webhook_url_file", None):
        typed["delivery.webhook_url"] = "--webhook-url-file"
    return {key: typed.get(key, "the command line") for key in keys}


def _named_by_option(message: str, given: dict) -> str:
    """A refused command-line value said by the option that gave it (``--webhook (delivery.webhook_url):
    ...``) rather than as the configuration's ``command line: delivery.webhook_url: ...``."""
    for key, option in OPTION_KEYS.items():
        prefix = f"command line: {key}: "
        if key in given and message.startswith(prefix):
            return f"{option} ({key}): {message[len(prefix):]}"
    return message


def ask_daemon(args: argparse.Namespace, request: dict | None, timeout: float = 2.0) -> dict | int:
    """The running daemon's JSON answer to ``request`` (None: its status) over its status socket
    (:func:`answer_despite_config`: a configuration that cannot be loaded is one warning line, and
    the daemon is asked all the same), or, once the reason there is none is said in one line, the
    exit status."""
    answer, _ = answer_despite_config(args, request, timeout)
    if isinstance(answer, dict):
        return answer
    error(answer.why)
    return answer.status


def config_despite_problem(args: argparse.Namespace, keys: Sequence[str] = (), needed: Sequence[str] = ()
                           ) -> tuple[Config, str | None]:
    """:func:`config_from_args` and None, or, for a command that needs no more of a configuration
    that cannot be loaded than ``keys``, the defaults with the ``keys`` that ``--db`` and the
    configuration files give (those that read as TOML), and the configuration's problem (one
    line: file, problem), for the command to say (:func:`say_not_loaded`). Raises the
    configuration's ConfigError where the command would use what is broken: an option given
    empty, ``keys`` that are themselves what cannot be loaded, and ``needed`` keys no option gives
    while a configuration file does not read as TOML (it may be the one that sets them)."""
    from ..config import ConfigError
    try:
        return config_from_args(args), None
    except ConfigError as err:
        given = None if empty_option(args) is not None else given_config(args, keys, needed)
        if given is None:
            raise
        return given, str(err)


def say_not_loaded(problem: str, instead: str, *, refused_by: str = "a reload or a start", also: str = "") -> None:
    """The one warning line of a command that goes on without the configuration it cannot load
    (:func:`config_despite_problem`): its ``problem``, what the command does ``instead``, which
    commands would refuse that configuration (``refused_by``: by default the daemon's reload or a
    start), and what ``also`` is left undone for it, if anything."""
    warning(f"configuration not loaded: {problem}; {instead} ({refused_by} would refuse this configuration"
            + (f"; {also}" if also else "") + ")")


def daemon_socket(args: argparse.Namespace) -> tuple[list[str], str | None, bool]:
    """Where to ask the daemon, in order (``--socket``, else where a daemon started with the
    configuration may have placed its socket: :func:`~monitor.delivery.status_socket.socket_paths`),
    the configuration's problem (one line: file, problem) when it cannot be loaded, and whether the
    paths are known to be where that configuration places the socket (False when a configuration
    file does not read as TOML: nothing of it is taken, and it may name another socket). With a
    configuration that cannot be loaded the socket is placed by ``--db``, the
    :data:`~monitor.delivery.status_socket.SOCKET_KEYS` the configuration files give where they read
    as TOML, and the defaults (a daemon runs on with the configuration it loaded: ``status`` is how
    its user finds out what is wrong, and a softphone's ``call start|end`` refused would lose the
    call's boundary). Raises ConfigError for an option given empty, and for a configuration whose
    own :data:`~monitor.delivery.status_socket.SOCKET_KEYS` are what cannot be loaded (no place to
    ask)."""
    from ..delivery.status_socket import socket_paths
    cfg, broken = _socket_config(args)
    if args.socket or not broken:
        return ([args.socket] if args.socket else socket_paths(cfg)), broken, True
    return socket_paths(cfg), broken, all(raw is not None for _, raw in _config_files(args))


def _socket_config(args: argparse.Namespace) -> tuple[Config, str | None]:
    """:func:`config_despite_problem` for the daemon's socket: with ``--socket``, which places it,
    nothing of a configuration that cannot be loaded is needed (its problem is said all the same);
    else its :data:`~monitor.delivery.status_socket.SOCKET_KEYS`, of which ``storage.db`` only where it
    places the socket (neither
    ``daemon.status_socket`` nor a runtime folder of the user's does)."""
    from ..config import ConfigError
    from ..delivery.status_socket import SOCKET_KEYS, socket_beside_db
    if args.socket:
        return config_despite_problem(args)
    try:
        return config_despite_problem(args, SOCKET_KEYS)
    except ConfigError:
        cfg, broken = config_despite_problem(args, ("daemon.status_socket",))
        if socket_beside_db(cfg):
            raise
        return cfg, broken


def given_config(args: argparse.Namespace, keys: Sequence[str], needed: Sequence[str] = ()) -> Config | None:
    """The defaults with the ``keys`` that ``--db`` and the configuration files (:func:`_config_files`)
    give, the last one given winning; None when these keys themselves cannot be loaded, or when a
    file that does not read as TOML may set a ``needed`` key that ``--db`` does not give."""
    from ..config import ConfigError, load_config
    given: dict[str, object] = {}
    options = {"storage.db": args.db} if getattr(args, "db", None) else {}
    for _, raw in _config_files(args):
        if raw is None:  # not TOML (or no file where --config says): nothing of it is taken
            if any(key not in options for key in needed):
                return None
            continue
        for key in keys:
            section, name = key.split(".")
            table = raw.get(section)
            if isinstance(table, dict) and name in table:
                given[key] = table[name]
    try:
        return load_config(None, (given | options) or None, user_config=False)
    except ConfigError:
        return None


def _config_files(args: argparse.Namespace) -> list[tuple[str, dict | None]]:
    """The configuration files (the user's where there is one, ``--config``), each with its TOML
    tables, or None where it does not read as TOML or is no file (a pipe was read once already)."""
    from ..config import ConfigError
    from ..config.loader import read_toml, user_config_path
    files: list[tuple[str, dict | None]] = []
    for path in (user_config_path(), args.config):
        if not path or (path != args.config and not os.path.exists(path)):
            continue
        try:
            raw = read_toml(path) if os.path.isfile(path) else None
        except ConfigError:
            raw = None
        files.append((str(path), raw))
    return files


def answer_despite_config(args: argparse.Namespace, request: dict | None, timeout: float = 2.0
                          ) -> tuple[dict | NoAnswer, str | None]:
    """The answer of the daemon at the :func:`daemon_socket`, and the configuration's problem, if
    any: a configuration that cannot be loaded is said in one warning line and the daemon asked all
    the same. No daemon answering where such a configuration left the socket is
    :attr:`ExitStatus.BAD_SETUP`: the configuration may be what hides the daemon's socket; where
    a file of it that does not read as TOML may place the socket elsewhere and nothing listens at
    the one asked, the one error line says so (no warning besides). No daemon at the socket asked
    without ``--config`` or ``--socket`` is said with the options the user's unit gives its daemon
    (:func:`unit_hint`)."""
    from ..config import ConfigError
    try:
        paths, broken, placed = daemon_socket(args)
    except ConfigError as err:
        return NoAnswer(ExitStatus.BAD_SETUP, str(err), nobody_listens=True), None
    path, answer = _ask_where(paths, request, timeout)
    problem = answer.why if isinstance(answer, NoAnswer) and answer.status is ExitStatus.BAD_SETUP else None
    if broken is None or (problem and problem in broken):  # the socket's own path is the problem: said once
        if isinstance(answer, dict):
            return answer, None
        asked_as_given = args.socket or getattr(args, "config", None)
        hint = "" if asked_as_given or not answer.nobody_listens else unit_hint(args, *paths)
        return dataclasses.replace(answer, why=answer.why + hint), None
    if isinstance(answer, NoAnswer) and answer.nobody_listens and not placed:
        return NoAnswer(ExitStatus.BAD_SETUP, f"no daemon answers at {path}; the configuration that cannot be loaded "
                                              f"({broken}) may place its socket elsewhere: give --socket",
                        nobody_listens=True), broken
    say_not_loaded(broken, f"the daemon was asked at {path}")
    return (answer if isinstance(answer, dict) else dataclasses.replace(answer, status=ExitStatus.BAD_SETUP)), broken


@dataclass(frozen=True)
class NoAnswer:
    """Why no daemon answered at a socket (one line), the exit status that says it, and whether
    nothing listens there at all (no socket, a socket nobody listens on, a file or folder),
    rather than a daemon that would not answer in time or not this request."""

    status: ExitStatus
    why: str
    nobody_listens: bool
    no_socket: bool = False
    """Nothing at all is at the path (no socket, nor any file)."""
    held_up: dict | None = None
    """A daemon that runs but did not answer in time (stopped, frozen, starved of CPU): its ``pid``,
    ``db`` (the database whose lock it holds) and whether the system lists it ``stopped``."""


def daemon_answer(args: argparse.Namespace, request: dict | None,
                  timeout: float = 2.0) -> dict | tuple[ExitStatus, str]:
    """:func:`ask_daemon` without saying anything: the answer, or the exit status and the one line
    that says why there is none (FAILED: no daemon answered; BAD_SETUP: the configuration that
    says where its socket is cannot be loaded, or the path is too long for any socket)."""
    from ..config import ConfigError
    from ..delivery.status_socket import socket_paths
    paths = [args.socket] if args.socket else None
    if not paths:
        try:
            paths = socket_paths(config_from_args(args))
        except ConfigError as err:
            return ExitStatus.BAD_SETUP, str(err)
    _, answer = _ask_where(paths, request, timeout)
    return answer if isinstance(answer, dict) else (answer.status, answer.why)


UNIT_FOLDER = "$XDG_CONFIG_HOME/systemd/user"
"""Where the user's systemd units go, as the XDG variables name it."""


def unit_folder() -> Path:
    """Where the user's systemd units go: ``$XDG_CONFIG_HOME/systemd/user``."""
    from ..config.schema import xdg_home
    return xdg_home("XDG_CONFIG_HOME", os.environ) / "systemd" / "user"


def unit_hint(args: argparse.Namespace, *asked: str) -> str:
    """For ``status`` or ``call`` that found no daemon at the sockets ``asked``, asked without
    ``--config`` and ``--socket``: when the user's unit (``install-service``) starts its daemon with
    options that place its socket elsewhere, the words that say to give them too, else ''."""
    import shlex
    from ..delivery.status_socket import socket_path
    unit = unit_folder() / "callmonitor.service"
    try:
        start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
        words = shlex.split(start.removeprefix("ExecStart="))
    except (OSError, UnicodeDecodeError, StopIteration, ValueError):
        return ""
    given = {w: v for w, v in zip(words, words[1:]) if w in ("--config", "--socket", "--db")}
    try:
        theirs = given.get("--socket") or socket_path(config_from_args(argparse.Namespace(**{
            **vars(args), "config": given.get("--config"), "db": given.get("--db")})))
    except (ValueError, OSError):  # a configuration it cannot load: its daemon does not start either
        return ""
    if _same_path(theirs) in map(_same_path, asked):
        return ""
    options = " ".join(f"{w} {shlex.quote(v)}" for w, v in given.items())
    return f"; the daemon of {unit} is started with {options}, which puts its socket at {theirs}: give {options} here too"


def _same_path(path: str) -> str:
    """``path`` as it compares with another: ``~`` expanded, absolute."""
    return os.path.abspath(os.path.expanduser(path))


def _ask_where(paths: Sequence[str], request: dict | None, timeout: float) -> tuple[str, dict | NoAnswer]:
    """The answer to ``request`` of the first daemon listening at one of ``paths``, tried in order,
    and where it was asked; when nothing listens at any of them, why (one line naming every place
    looked at, :func:`_none_listening`) and those places (:func:`looked_at`). A path too long for a
    Unix socket is passed over (no daemon can listen there), said in that line, unless all are: then
    the first's problem is the answer."""
    from ..delivery.status_socket import socket_path_problem
    usable = [p for p in paths if socket_path_problem(p) is None]
    if not usable:
        return paths[0], NoAnswer(ExitStatus.BAD_SETUP, str(socket_path_problem(paths[0])), nobody_listens=True)
    missed = []
    for path in usable:
        answer = _ask_at(path, request, timeout)
        if isinstance(answer, dict) or not answer.nobody_listens:
            return path, answer
        missed.append(answer)
    return looked_at(paths), _none_listening(paths, missed)


def _places(paths: Sequence[str]) -> str:
    """``A``, ``A or B``, ``A, B or C``."""
    return " or ".join(filter(None, (", ".join(paths[:-1]), paths[-1])))


def looked_at(paths: Sequence[str]) -> str:
    """Where ``status`` looked for the daemon's socket among ``paths``, in its words: those a Unix
    socket's path holds (:func:`_places`), then each it passed over, too long for one, and why."""
    from ..config.sockets import socket_length_problem
    usable = [p for p in paths if socket_length_problem(p) is None]
    return _places(usable) + _passed_over(paths)


def _passed_over(paths: Sequence[str]) -> str:
    """``; P not looked at: <why>`` for each of ``paths`` too long for a Unix socket's path, else ''."""
    from ..config.sockets import socket_length_problem
    return "".join(f"; {p} not looked at: {why}" for p in paths if (why := socket_length_problem(p)) is not None)


def _none_listening(paths: Sequence[str], missed: Sequence[NoAnswer]) -> NoAnswer:
    """Why no daemon listens at any of ``paths`` (``missed``, one for each that a Unix socket's path
    holds): one line naming them, and those passed over (:func:`looked_at`)."""
    skipped = _passed_over(paths)
    if len(missed) == 1 and not skipped:
        return missed[0]
    if all(m.no_socket for m in missed):
        why = f"no daemon running (no status socket at {looked_at(paths)})"
    else:
        why = "; ".join(m.why for m in missed) + skipped
    return NoAnswer(ExitStatus.FAILED, why, nobody_listens=True, no_socket=all(m.no_socket for m in missed))


def _ask_at(path: str, request: dict | None, timeout: float) -> dict | NoAnswer:
    """The JSON answer of the daemon at the socket ``path`` to ``request``, or why there is none."""
    from ..delivery.status_socket import ForeignSocket, NotAnswering, RequestNotRead, answer_problem, ask
    try:
        answer = ask(path, request, timeout)
    except ForeignSocket as err:
        return NoAnswer(ExitStatus.FAILED, err.strerror or str(err), nobody_listens=False)
    except FileNotFoundError:
        return NoAnswer(ExitStatus.FAILED, f"no daemon running (no status socket at {path})", nobody_listens=True,
                        no_socket=True)
    except RequestNotRead:
        return NoAnswer(ExitStatus.FAILED, f"the daemon at {path} did not read the request: an older version, "
                                           "which answers only the status (restart it)", nobody_listens=False)
    except NotAnswering as err:
        return _not_answering(path, err.pid, timeout)
    except BlockingIOError:  # its backlog stayed full: it listens, busy with other clients
        return NoAnswer(ExitStatus.FAILED, f"the daemon at {path} took no connection within {timeout:g} s: other "
                                           "clients hold its socket", nobody_listens=False)
    except OSError as err:
        if kind := _not_a_socket(path):
            return NoAnswer(ExitStatus.FAILED, f"{path}: not a status socket but {kind}: no daemon listens there",
                            nobody_listens=True)
        return NoAnswer(ExitStatus.FAILED, f"no daemon answering at {path} ({err.strerror or err})",
                        nobody_listens=isinstance(err, ConnectionRefusedError))
    except ValueError as err:  # no JSON object: another program listening there, say
        return NoAnswer(ExitStatus.FAILED, f"{path}: {err}", nobody_listens=False)
    problem = answer_problem(answer, request)
    return NoAnswer(ExitStatus.FAILED, f"{path}: {problem}", nobody_listens=False) if problem else answer


def _not_answering(path: str, pid: int, timeout: float) -> NoAnswer:
    """Why the process ``pid`` listening at ``path`` sent no answer within ``timeout``: a daemon that
    runs (it holds its database's lock) but is stopped, frozen or starved of CPU is said as such, not
    as no daemon (a second daemon on its database is refused, naming it); a process holding no
    daemon's lock, as no daemon answering."""
    from ..delivery.dblock import locked_by
    db = locked_by(pid)
    if db is None:
        return NoAnswer(ExitStatus.FAILED, f"no daemon answering at {path} (timed out)", nobody_listens=False)
    state = _process_state(pid)
    why = {"T": f": it is stopped (SIGSTOP, or Ctrl-Z in its terminal; kill -CONT {pid} continues it)",
           "t": ": it is stopped in a debugger"}.get(state or "", " (stopped, frozen or starved of CPU?)")
    return NoAnswer(ExitStatus.FAILED, f"the daemon pid {pid} (database {name_text(db)}) runs but does not answer at {path} "
                                       f"within {timeout:g} s{why}", nobody_listens=False,
                    held_up={"pid": pid, "db": name_text(db), "stopped": state in ("T", "t")})


def _process_state(pid: int) -> str | None:
    """The state the system lists process ``pid`` in (``R`` running, ``S`` sleeping, ``T`` stopped by
    a signal, ``t`` by a debugger, ...: the field after its name in ``/proc/PID/stat``); None once gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def daemon_elsewhere(args: argparse.Namespace, cfg: Config) -> str:
    """For a command that found no database or nothing in it at ``cfg.storage.db``: when a daemon
    answers on the configured status socket (a session's own, whatever its database) and records to
    another database, the words that point there, else ''. Asked for 0.5 s at most: a hint, never a
    wait. The socket is the one ``cfg`` says, not the configuration read again (a --config that is
    a pipe reads empty the second time, or waits on a terminal)."""
    from ..delivery.status_socket import socket_paths
    db = cfg.storage.db
    _, answer = _ask_where([args.socket] if getattr(args, "socket", None) else socket_paths(cfg), None, timeout=0.5)
    theirs = answer.get("db") if isinstance(answer, dict) else None
    ours = os.path.realpath(os.path.expanduser(db))
    if not isinstance(theirs, str) or os.path.realpath(theirs) in (ours, name_text(ours)):  # a name not UTF-8: shown
        return ""
    return f"; the daemon running now records to {theirs} (give --db {theirs})"


def _not_a_socket(path: str) -> str | None:
    """What is at ``path`` when it is something other than a socket ("a file", "a folder"), read
    in one stat; None for a socket, or nothing there (a daemon stopping removes its socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISSOCK(mode):
        return None
    return "a folder" if stat.S_ISDIR(mode) else "a file"


def config_or_error(args: argparse.Namespace, overrides: dict | None = None) -> Config | None:
    """:func:`config_from_args`, or None once its error is said in one line."""
    from ..config import ConfigError
    try:
        return config_from_args(args, overrides)
    except ConfigError as err:
        error(str(err))
        return None


def open_store(cfg: Config) -> Store:
    from ..delivery.store import Store
    return Store.open(os.path.expanduser(cfg.storage.db), snapshot_every_s=cfg.storage.snapshot_every_s)


def close_quietly(store: Store) -> None:
    """Close ``store`` once a command is done with it and has said its outcome: a StoreError the
    close raises (its last commit failing) is not said after that."""
    from ..delivery.store_errors import StoreError
    try:
        store.close()
    except StoreError:
        pass


def open_store_or_pending(cfg: Config, check: Callable[[Store], None] | None = None) -> Store | PendingStore:
    """The database, or when it cannot be opened a PendingStore that keeps trying (alerts go on,
    marked as not stored). ``check`` runs on each store opened (raising StoreError closes it again).
    Raises SchemaTooNew (a StoreError) for a database of a newer callmonitor."""
    from ..delivery.store_errors import StoreError
    from ..delivery.store_guard import open_or_pending

    def opener() -> Store:
        store = open_store(cfg)
        if check is not None:
            try:
                check(store)
            except StoreError:
                store.close()
                raise
        return store
    return open_or_pending(opener, os.path.expanduser(cfg.storage.db), snapshot_every_s=cfg.storage.snapshot_every_s)


__all__ = ["DURATION_UNITS", "WHEN_FORMATS", "WHEN_OPTIONS", "signed_values_joined", "ExitStatus", "exit_status_of",
           "parse_duration", "parse_when", "add_logging_options",
           "call_id", "channel_number", "agent_channel_number", "add_leg_options",
           "add_config_options", "add_call_options", "add_daemon_options", "add_transcription_options",
           "answer_despite_config", "ask_daemon", "NoAnswer", "UNIT_FOLDER", "unit_folder", "unit_hint",
           "config_despite_problem", "config_from_args", "given_config", "config_or_error", "daemon_answer", "daemon_elsewhere", "daemon_socket", "empty_option", "open_store",
           "close_quietly", "open_store_or_pending", "open_transcription", "say_not_loaded", "ConfigError", "ModelError", "StoreError"]  # noqa: F822 - the errors by __getattr__
