"""``call-monitor install-service``: a systemd user unit that starts the daemon with the session."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from ..console import error, info, warning
from ..config.schema import xdg_home
from ..config.urls import redact_url
from ..files import make_private_folder
from ..installing import in_docs
from ..stops import stopped_by, stops_held
from .common import UNIT_FOLDER, ExitStatus, help_path, unit_folder

if TYPE_CHECKING:
    from ..config import Config

UNIT = """\
[Unit]
Description=callmonitor: local real-time call monitor
After=pipewire-pulse.service pulseaudio.service
Wants=pipewire-pulse.service
# a daemon that keeps failing is given up after 30 starts in 15 minutes (about 5 minutes of tries)
StartLimitIntervalSec=900
StartLimitBurst=30

[Service]
Type=simple
{environment}ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
# exit 2 (a configuration, device or database it cannot use) is retried too: the softphone's
# sink may appear only after the session starts
Restart=on-failure
RestartSec=10
UMask=0077
# no network access is needed except an optional webhook
NoNewPrivileges=yes

[Install]
WantedBy=default.target
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .run import add_run_options
    p = sub.add_parser("install-service", help="write a systemd user unit that starts `run` with the session",
                       description=f"Write callmonitor.service (in {help_path(unit_folder, UNIT_FOLDER)}) running "
                                   "`call-monitor run` with the given options (every option of `run`, checked now: "
                                   "a configuration, token file, status socket path, call audio or report folder or "
                                   "model folder the daemon could not use is refused here). A --webhook URL is not "
                                   "written into the unit, whose command line `ps` shows every user: it goes to "
                                   f"{help_path(webhook_url_file, WEBHOOK_URL_FILE)} (mode 0600), which the unit's "
                                   "daemon reads (--webhook-url-file). Then `systemctl --user enable --now "
                                   "callmonitor` starts it, now and with every session (--enable does that too).")
    add_run_options(p)
    p.add_argument("--unit-dir", metavar="DIR", help="folder the unit goes to (default: "
                   f"{help_path(unit_folder, UNIT_FOLDER)}, $XDG_CONFIG_HOME/systemd/user)")
    p.add_argument("--enable", action="store_true", help="also run systemctl --user daemon-reload and enable --now "
                   "(and restart a daemon running with other options, another webhook URL or another release)")
    p.add_argument("--print", action="store_true", help="print the unit instead of writing it (and, for a "
                   "--webhook URL, the file it would be written to, the URL's secrets hidden)")
    p.add_argument("--remove", action="store_true", help="stop and disable the daemon (systemctl --user disable "
                   "--now), then remove the unit and its webhook URL file; the configuration, token files and "
                   f"database are kept ({in_docs('deployment.md', 'Removing callmonitor from a desktop')})")
    p.set_defaults(run=run)


class UnitArgumentError(ValueError):
    """An argument that cannot go into a unit file (control characters)."""


_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


WEBHOOK_URL_FILE = "$XDG_CONFIG_HOME/callmonitor/service-webhook.url"
"""Where the unit's webhook URL is kept, as the XDG variables name it."""


def webhook_url_file() -> Path:
    """The file (mode 0600) holding the ``--webhook`` URL that the unit's daemon reads: out of the
    unit and its command line, which ``systemctl status`` and ``ps`` show (a key in its query too)."""
    return xdg_home("XDG_CONFIG_HOME", os.environ) / "callmonitor" / "service-webhook.url"


def systemd_quote(arg: str, what: str = "argument", *, expands: bool = True) -> str:
    """One ExecStart argument (or, with ``expands=False``, one ``Environment=`` assignment) as
    systemd.service(5) reads it back verbatim.

    ``%`` becomes ``%%`` (specifiers) and, where the environment is expanded (ExecStart),
    ``$`` becomes ``$$``; anything but plain characters is double-quoted with ``\\`` and ``\"``
    escaped. Control characters (a newline would start a new directive) are refused.
    """
    bad = [c for c in arg if ord(c) < 0x20 or ord(c) == 0x7F]
    if bad:
        raise UnitArgumentError(f"{what} {arg!r}: contains a control character ({bad[0]!r}); "
                                "a unit file cannot carry it")
    text = arg.replace("%", "%%")
    if expands:
        text = text.replace("$", "$$")
    if _PLAIN.fullmatch(arg):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


CARRIED_ENVIRONMENT = ("VOSK_MODEL_PATH", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR")
"""Variables that decide which speech models, configuration, database and certificates (a
supervisor console's own, which the webhook's posts must trust) the daemon finds: set where
``install-service`` runs (and its checks used them), they are written into the unit, whose daemon
systemd starts without the shell's environment."""


def environment_lines(env: Mapping[str, str]) -> str:
    """``Environment=`` lines (each ending in a newline) for the :data:`CARRIED_ENVIRONMENT`
    variables set in ``env``, their folders made absolute; "" when none is set. Raises
    UnitArgumentError (a control character)."""
    lines = []
    for name in CARRIED_ENVIRONMENT:
        value = env.get(name, "")
        if name.startswith("XDG_") and not os.path.isabs(value):
            continue  # unset, empty or relative: ignored, as the specification says
        folders = [os.path.abspath(os.path.expanduser(part)) for part in value.split(os.pathsep) if part.strip()]
        if folders:
            lines.append(f"Environment={systemd_quote(name + '=' + os.pathsep.join(folders), name, expands=False)}\n")
    return "".join(lines)


_ENVIRONMENT_LINE = re.compile(r'Environment="?(?P<name>[A-Z_]+)=(?P<value>.*?)"?')


def dropped_environment(before: str | None, unit: str) -> str | None:
    """The warning line for the :data:`CARRIED_ENVIRONMENT` variables the unit ``before`` carried
    and ``unit`` does not (set where ``install-service`` ran then, not now): its daemon starts
    without them, with another database or without the console's certificate; None for none."""
    def carried(text: str) -> dict[str, str]:
        found = (_ENVIRONMENT_LINE.fullmatch(line) for line in text.splitlines())
        return {m["name"]: _unquoted(m["value"]) for m in found if m and m["name"] in CARRIED_ENVIRONMENT}
    now = carried(unit)
    lost = [f"{name}={value}" for name, value in carried(before or "").items() if name not in now]
    if not lost:
        return None
    them = "it" if len(lost) == 1 else "them"
    return (f"the unit before carried {', '.join(lost)}, not set here: the new unit's daemon starts without "
            f"{them} (set {them} and install again to keep {them})")


def _unquoted(value: str) -> str:
    """A value of an ``Environment=`` line :func:`systemd_quote` wrote, as it was set (``%%``,
    ``\\\\`` and ``\\"`` read back), for a line that tells it to be set again."""
    return re.sub(r'%%|\\(.)', lambda m: m.group(1) or "%", value)


RUN_VALUES = ("caller", "agent", "config", "db", "webhook", "webhook_url_file", "webhook_token_file", "model",
              "socket")
"""``run``'s options with a value, in the order the unit gives them; then :data:`RUN_FLAGS`,
``--[no-]wait-for-source`` and ``--log-level``."""
RUN_FLAGS = ("jsonl", "no_notify", "no_transcribe")
RUN_PATHS = ("config", "db", "webhook_url_file", "webhook_token_file", "socket")
"""Options naming a file, made absolute: the unit's daemon runs in the home folder."""


def run_arguments(args: argparse.Namespace) -> list[str]:
    """The arguments of the unit's ``call-monitor run``: every ``run`` option given here (files
    made absolute; a ``--model`` path too, a language code or model's name as it is; an empty value
    as it is: ``--agent ""`` is no agent's leg, ``--webhook ""`` no webhook, whatever the
    configuration says)."""
    from ..transcription.vosk_models import names_path
    out: list[str] = []
    for opt in RUN_VALUES:
        v = getattr(args, opt, None)
        if v is None:
            continue
        if v and (opt in RUN_PATHS or (opt == "model" and names_path(v))):
            v = os.path.abspath(os.path.expanduser(v))
        out += [f"--{opt.replace('_', '-')}", v]
    out += [f"--{opt.replace('_', '-')}" for opt in RUN_FLAGS if getattr(args, opt, False)]
    if getattr(args, "wait_for_source", None) is not None:
        out.append("--wait-for-source" if args.wait_for_source else "--no-wait-for-source")
    if getattr(args, "log_level", None) not in (None, "warning"):  # -v and --log-level share it
        out += ["--log-level", args.log_level]
    return out


def unit_args(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` as the unit's daemon is given them: a ``--webhook`` URL (which may hold a key)
    becomes ``--webhook-url-file`` naming :func:`webhook_url_file`; ``--webhook ""`` (no webhook,
    whatever the configuration says) stays as it is."""
    if not getattr(args, "webhook", None):
        return args
    return argparse.Namespace(**(vars(args) | {"webhook": None, "webhook_url_file": str(webhook_url_file())}))


def exec_start(args: argparse.Namespace) -> str:
    """The ExecStart line's value. Raises UnitArgumentError."""
    local = os.path.join(os.path.dirname(sys.executable), "call-monitor")
    exe = local if os.access(local, os.X_OK) else shutil.which("call-monitor")
    cmd = [exe] if exe else [sys.executable, "-m", "monitor.cli"]
    cmd += ["run", *run_arguments(args)]
    named = {i + 1: cmd[i] for i in range(len(cmd) - 1) if cmd[i].startswith("--")}
    return " ".join(systemd_quote(c, named.get(i, "argument")) for i, c in enumerate(cmd))


def run(args: argparse.Namespace) -> int:
    if args.remove and (args.enable or args.print):
        error(f"--remove takes no {'--enable' if args.enable else '--print'}: it stops the daemon and removes "
              "its unit")
        return ExitStatus.BAD_SETUP
    if args.remove:  # whatever the configuration holds now: removing needs none of it
        return remove(Path(args.unit_dir or unit_folder()) / "callmonitor.service")
    from .common import config_or_error
    from .run import exposed_webhook, overrides_from, say_unused_token
    cfg = config_or_error(args, overrides_from(args))
    if cfg is None:  # the unit would fail at every start
        return ExitStatus.BAD_SETUP
    say_unused_token(args, cfg.delivery.webhook_url)
    try:
        problem = _start_problem(cfg, args)
        problem, notes = (problem, []) if problem else _model_problem(cfg, args)
    except KeyboardInterrupt as stop:  # while the speech model loads (a few seconds)
        error(f"{stopped_by(stop)} while the speech model loaded: no unit written")
        raise
    if problem:  # the unit would fail at every start, or its daemon never store a call
        error(problem)
        return ExitStatus.BAD_SETUP
    for exposed in exposed_webhook(cfg, args.webhook_url_file):
        warning(exposed)
    relative = _relative_paths(cfg, args)
    if relative and not _in_home_folder():
        warning(f"relative paths in the configuration ({', '.join(relative)}) are found from the daemon's working "
                "folder, under systemd your home folder, not this one: give absolute paths")
    if not cfg.daemon.caller:
        warning("no caller source (--caller or daemon.caller): the unit's daemon will take the default input "
                "as the caller, usually the microphone; give --caller SOURCE, the monitor of the softphone's sink "
                "(`call-monitor devices` lists them)")
    try:
        unit = UNIT.format(environment=environment_lines(os.environ), exec_start=exec_start(unit_args(args)))
    except UnitArgumentError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    url_file = WebhookUrlFile(webhook_url_file(), args.webhook) if args.webhook else None
    if args.print:
        print(unit + (url_file.note() if url_file else ""), end="")
        for note in notes:
            warning(note)
        return ExitStatus.OK
    return _install(args, unit, url_file, notes, _other_release(cfg))


def _other_release(cfg: Config) -> str | None:
    """The release the daemon running at the configuration's socket runs, when it is another than
    this one's (call-monitor upgraded in place, the daemon not restarted since: the unit written
    is the same); None when it runs this one or none answers."""
    from ..delivery.status_socket import query_status, socket_path
    from ..release import RELEASE, release_said
    try:
        told = query_status(socket_path(cfg), timeout=1.0).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return None if told == RELEASE else release_said(told)


def _install(args: argparse.Namespace, unit: str, url_file: WebhookUrlFile | None,
             notes: Sequence[str] = (), other_release: str | None = None) -> int:
    """Write the webhook URL's file (if any), then the unit (the file put back as it was when the
    unit cannot be written); say what changed, and the warnings its daemon will say of its
    transcription (``notes``: it runs acoustic-only, its phrase list cannot match), and enable it
    or say how (:func:`_apply`)."""
    path = Path(args.unit_dir or unit_folder()) / "callmonitor.service"
    try:
        before = path.read_text() if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        before = ""  # a unit there that cannot be read: replaced, as a changed one
    with stops_held():  # a stop while the files are written comes once they are, and said
        url_before = _read_bytes(webhook_url_file())
        problem = write_private(url_file.path, url_file.data) if url_file else None
        if not problem:
            problem, written, in_place = _write_unit(path, unit)
            if problem and url_file:
                _put_back(url_file.path, url_before)
        if problem:
            error(problem)
            return ExitStatus.FAILED
        unit_changed = before is not None and before != unit
        url_changed = before is not None and url_file is not None and url_before != url_file.data
        if url_file:
            info(url_file.wrote_line())
        info(_wrote_line(path, written, in_place) + (" (it replaces a different unit)" if unit_changed else
                                                     " (the same unit as before, with another webhook URL)"
                                                     if url_changed else
                                                     " (the same unit as before)" if before is not None else ""))
        if lost := dropped_environment(before, unit):
            warning(lost)
        for note in notes:
            warning(note)
        _remove_unused_url_file(before, unit)
    return _apply(args, path, unit_changed or url_changed, other_release)


def _apply(args: argparse.Namespace, path: Path, changed: bool, other_release: str | None) -> int:
    """Enable the unit (``--enable``), restarting a daemon running on a ``changed`` one or of
    ``other_release`` than this call-monitor's, or say how."""
    if other_release is not None:
        from ..release import RELEASE
        info(f"the daemon running is release {other_release}, not {RELEASE}, installed since it started: "
             + ("restarting it" if args.enable else "restart it to run the new release"))
    if args.enable:
        return _enable(path, changed, restart=other_release is not None)
    if changed or other_release is not None:
        info(f"apply it with: {_linking(path)}systemctl --user daemon-reload && systemctl --user enable "
             "callmonitor && systemctl --user restart callmonitor (a daemon running keeps its old options until then)")
    else:
        info(f"enable it with: {_linking(path)}systemctl --user daemon-reload && "
             "systemctl --user enable --now callmonitor")
    return ExitStatus.OK


def remove(path: Path) -> int:
    """``install-service --remove``: the daemon stopped and disabled (where systemd's user manager
    runs), then the unit at ``path`` and the webhook URL file it names removed, each said in one
    line, and what is kept named. Nothing there is said too, exit 0: a removal run twice, or on a
    desktop never set up, is done. A unit that cannot be removed is one line, exit 1."""
    url_file = webhook_url_file()
    if not os.path.lexists(path) and not url_file.is_file():
        info(f"no unit at {path}: nothing to remove")
        return ExitStatus.OK
    stopped = _systemctl_quietly(["disable", "--now", "callmonitor.service"], path)
    for gone in (path, url_file):
        if not os.path.lexists(gone):
            continue
        try:
            gone.unlink()
        except OSError as err:
            error(f"{gone}: cannot remove it ({_reason(err)})")
            return ExitStatus.FAILED
        info(f"removed {gone}")
    if stopped:
        _systemctl_quietly(["daemon-reload"], path)
    info("kept: the configuration and token files, and the database with its calls (`call-monitor purge "
         "--older-than 0s` deletes them, their audio and reports too)")
    return ExitStatus.OK


def _systemctl_quietly(step: list[str], path: Path) -> bool:
    """``systemctl --user STEP``, whether it did; a failure (no systemd, no user manager) is one
    warning line."""
    cmd = ["systemctl", "--user", *step]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as err:
        warning(f"{' '.join(cmd)}: {err.strerror or err} (no systemd here: no daemon of {path.name} to stop)")
        return False
    if r.returncode != 0:
        warning(f"{' '.join(cmd)}: {(r.stderr.strip().splitlines() or ['failed'])[0]}")
    return r.returncode == 0


@dataclass(frozen=True)
class WebhookUrlFile:
    """The ``--webhook`` URL of the unit, kept in ``path`` (mode 0600) for its daemon to read."""

    path: Path
    url: str

    @property
    def data(self) -> bytes:
        return (self.url + "\n").encode("utf-8")

    def note(self) -> str:
        """What ``--print`` says of the file after the unit (comment lines: the output is still a
        unit), the URL's secrets hidden."""
        return ("# The webhook URL is kept out of this unit, whose command line every user sees: install-service\n"
                f"# writes it, mode 0600, to the file --webhook-url-file names, {self.path}:\n"
                f"# {redact_url(self.url)} (its secrets hidden here)\n")

    def wrote_line(self) -> str:
        return (f"wrote the webhook URL to {self.path} (mode 0600), which the unit's daemon reads: it stays out "
                "of the unit and of its command line")


def write_private(path: Path, data: bytes) -> str | None:
    """``data`` as the whole of ``path``, which only the user may read from its first byte on: a
    file made new beside it with mode 0600 (``O_EXCL``: no file left before with another mode is
    reused; a narrower umask widened to 0600), then renamed over it; its folder made 0700 if
    missing. The line naming the problem, else None."""
    try:
        make_private_folder(path.parent)
    except OSError as err:
        return f"{path.parent}: cannot make the folder for the webhook URL ({_reason(err)})"
    part = path.with_name(f".{path.name}.part")
    _remove(part)
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with open(fd, "wb") as fh:
            os.fchmod(fd, 0o600)
            fh.write(data)
        os.replace(part, path)
    except OSError as err:
        _remove(part)
        return f"{path}: cannot write the webhook URL ({_reason(err)})"
    return None


def _read_bytes(path: Path) -> bytes | None:
    """The bytes of ``path``; None when there is no file to read."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _put_back(path: Path, old: bytes | None) -> None:
    """``path`` as it was before (``old``; None: no file), for a unit that could not be written."""
    if old is None:
        _remove(path)
    else:
        write_private(path, old)


def _remove_unused_url_file(before: str | None, unit: str) -> None:
    """The webhook URL file removed when the unit it was written for named it and the new unit
    does not (installed again without --webhook): a key in it is kept nowhere it is not needed."""
    path = webhook_url_file()
    if before and _names(before, path) and not _names(unit, path) and path.is_file():
        _remove(path)
        info(f"removed {path}: the unit reads no webhook URL from it now")


def _names(unit: str, path: Path) -> bool:
    """Whether ``unit``'s daemon is given ``--webhook-url-file PATH``."""
    named = f" --webhook-url-file {systemd_quote(str(path))}"
    return f"{named} " in unit or f"{named}\n" in unit


def _wrote_line(path: Path, written: Path, in_place: bool) -> str:
    """"wrote UNIT": the file written, the link to it when ``path`` is one, and whether in place."""
    linked = path.is_symlink()
    return (f"wrote {written if linked else path}" + (f", which {path} links to" if linked else "")
            + (" in place (its folder takes no new file)" if in_place else ""))


def _write_unit(path: Path, unit: str) -> tuple[str | None, Path, bool]:
    """Write ``unit`` to ``path`` (0600, its folder made if missing), whole or not at all: a unit
    there before is replaced only by the new one written in full. A link there (``systemctl --user
    link`` makes one) is written through, as an editor does: the file it points to is replaced, in
    its own folder, and the link kept. A unit whose folder takes no new file (read-only to the user)
    but which may itself be written is rewritten in place (:func:`_rewrite_in_place`).

    Returns the line naming what is in the way when it cannot be written (else None), the file
    written (the link's target) and whether it was rewritten in place."""
    d = path.parent
    try:
        d.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        return f"{d}: not a folder (a file is in the way): cannot write the unit there", path, False
    except OSError as err:
        return f"{d}: cannot make the folder for the unit ({_reason(err)})", path, False
    real = Path(os.path.realpath(path))
    part = real.with_name(f".{real.name}.part")
    try:
        with open(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
            fh.write(unit)
        os.chmod(part, 0o600)  # a part file left before with other permissions
        os.replace(part, real)
    except PermissionError as err:  # the folder takes no new file: the unit itself may still be writable
        _remove(part)
        if real.is_file() and _rewrite_in_place(real, unit):
            return None, real, True
        return f"{path}: cannot write the unit ({_reason(err)})", real, False
    except OSError as err:
        _remove(part)
        return f"{path}: cannot write the unit ({_reason(err)})", real, False
    return None, real, False


def _rewrite_in_place(path: Path, unit: str) -> bool:
    """Write ``unit`` over the file at ``path`` (made 0600 where the user may), for a unit whose
    folder takes no new file. A write that fails half-way (a full disk) puts the old text back,
    which fits in the space the file had. False when the file cannot be opened to write or the new
    text could not be written whole."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        old = os.pread(fd, os.fstat(fd).st_size, 0)
        if not _put(fd, unit.encode("utf-8")):
            _put(fd, old)
            return False
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
        return True
    finally:
        os.close(fd)


def _put(fd: int, text: bytes) -> bool:
    """``text`` as the whole of the open file ``fd``, on disk; False when a write failed."""
    try:
        done = 0
        while done < len(text):
            done += os.pwrite(fd, text[done:], done)
        os.ftruncate(fd, len(text))
        os.fsync(fd)
    except OSError:
        return False
    return True


def _reason(err: OSError) -> str:
    return (err.strerror or str(err)).lower()


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


PATH_KEYS = ("storage.db", "daemon.audio_dir", "daemon.report_dir", "daemon.status_socket",
             "delivery.webhook_token_file", "transcription.model")
"""Keys naming a file or folder (``transcription.model`` when it is a path, not a language code or
a model's name)."""


def _in_home_folder() -> bool:
    """Whether this process runs in the home folder, systemd's working folder for the daemon (False
    when no home folder is known)."""
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        return False
    return os.path.realpath(os.getcwd()) == os.path.realpath(home)


def _relative_paths(cfg, args: argparse.Namespace) -> list[str]:
    """``key = 'value'`` of the :data:`PATH_KEYS` whose value in the configuration files is a
    relative path (the options naming files are made absolute in the unit)."""
    from ..transcription.vosk_models import names_path
    given = {"storage.db": args.db, "delivery.webhook_token_file": args.webhook_token_file,
             "daemon.status_socket": args.socket, "transcription.model": args.model}
    out = []
    for key in (k for k in PATH_KEYS if not given.get(k)):
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if key == "transcription.model":
            value = value if names_path(value) else ""
        if value and not os.path.isabs(os.path.expanduser(value)):
            out.append(f"{key} = {value!r}")
    return out


def _given_socket(cfg, args: argparse.Namespace) -> str | None:
    """The status socket path the unit's daemon is given (``--socket``, ``daemon.status_socket``),
    absolute; None for the default, which lies in the runtime folder systemd gives the unit
    ($XDG_RUNTIME_DIR, not the installing shell's, which a test or a su session may lack)."""
    given = args.socket or cfg.daemon.status_socket
    return os.path.abspath(os.path.expanduser(given)) if given else None


def _start_problem(cfg, args: argparse.Namespace) -> str | None:
    """What in ``cfg`` (and the options) the daemon would refuse to start on, beyond the
    configuration's own checks: a token file it cannot read, a status socket path too long for a
    Unix socket, a call audio or report folder it cannot write (or another database's); or what it
    would start on but never store a call in, monitoring and alerting all the same (a failing
    database never silences an alert), which a unit installed for good should not carry: a
    database it could never write (a folder, no SQLite file, one the daemon's store refuses, one this
    user may not write) or never make (a file in the way, a folder it may not write), checked as
    ``replay`` and ``batch`` check theirs (:func:`~monitor.delivery.store_files.never_writable`) at
    the path the unit gives its daemon (:func:`_given_db`); its speech model is checked next
    (:func:`_model_problem`)."""
    from ..delivery.call_files import call_files_problem
    from ..delivery.store_files import lasting_problem, never_writable
    from ..config.tokens import TokenFileError
    from ..delivery.status_socket import socket_path_problem
    from .run import webhook_token
    try:
        webhook_token(cfg)
    except TokenFileError as err:
        return str(err)
    if (sock := _given_socket(cfg, args)) and (problem := socket_path_problem(sock)):
        return problem
    if problem := call_files_problem(cfg):
        return problem
    db = _given_db(cfg, args)
    if not os.path.isabs(os.path.expanduser(db)):  # found from the daemon's working folder, not this one
        return lasting_problem(db)
    return never_writable(db)


def _given_db(cfg, args: argparse.Namespace) -> str:
    """The database the unit's daemon is given: ``--db`` as the absolute path it names from here (as
    :func:`run_arguments` writes it into the unit), else the configuration's ``storage.db`` as it is."""
    return os.path.abspath(os.path.expanduser(args.db)) if args.db else cfg.storage.db


def _model_problem(cfg, args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """(why the unit is refused, the warnings ``run`` says of its transcription at its start: that
    it finds no model for the configuration's choice, or a phrase list that cannot match the
    model's words): the speech model the unit's daemon would not transcribe with, said
    with where it was asked for: a folder that is no Vosk model (``--model``, transcription.model),
    or the folder a language code finds that is none (half unpacked), or one with all its files
    that Vosk cannot load (a file cut short): the model is loaded once, in a short-lived process of
    its own (:func:`~monitor.transcription.vosk_models.check_loads`, a few seconds), as the
    daemon's start loads it; or a model ``--model`` asks for that is not here. None found for the
    configuration's choice refuses nothing (the daemon runs acoustic-only): its warning is said
    of the unit written."""
    from ..transcription.setup import TranscriptionSetup
    from ..transcription.vosk_models import ModelError
    if not cfg.transcription.enabled or args.no_transcribe:
        return None, []
    try:
        found = TranscriptionSetup.loadable(cfg, args.model,  # seconds without a word otherwise
                                            on_load=lambda model: info(f"checking the model loads: {model.name}"))
    except ModelError as err:
        return str(err), []
    if found is None:
        return None, [TranscriptionSetup.missing_message(cfg)]
    return None, TranscriptionSetup.notes(cfg, found)


def systemd_user_folders() -> list[Path]:
    """The folders systemd's user manager finds units in (systemd.unit(5), "User Unit Search Path"),
    as the XDG variables here name them."""
    env = os.environ
    dirs = [xdg_home("XDG_CONFIG_HOME", env), Path("/etc/xdg"), Path("/etc"), xdg_home("XDG_DATA_HOME", env),
            *(Path(d) for d in (env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":") if d),
            Path("/usr/local/lib"), Path("/usr/lib"), Path("/lib")]
    return [d / "systemd" / "user" for d in dirs]


def _linking(path: Path) -> str:
    """The ``systemctl --user link`` step (and ``&&``) a unit written outside systemd's user unit
    folders (``--unit-dir``) needs before systemd finds it by its name; '' for one inside them."""
    folders = {os.path.realpath(f) for f in systemd_user_folders()}
    if os.path.realpath(path.parent) in folders:
        return ""
    return f"systemctl --user link {shlex.quote(str(path))} && "


def _enable(path: Path, changed: bool, restart: bool = False) -> int:
    """``systemctl --user`` link (a unit outside systemd's user unit folders, :func:`_linking`),
    daemon-reload, then (for a ``changed`` unit, or to ``restart`` a daemon of another release)
    try-restart, so that a daemon already running takes the new options or code, then enable --now.
    One line for what failed."""
    link = [["link", str(path)]] if _linking(path) else []
    steps = [*link, ["daemon-reload"], *([["try-restart", "callmonitor.service"]] if changed or restart else []),
             ["enable", "--now", "callmonitor.service"]]
    for step in steps:
        cmd = ["systemctl", "--user", *step]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as err:  # no systemctl: not a systemd system
            error(f"{cmd[0]}: {err.strerror or err}: the unit {path} is written, but not enabled "
                  "(install-service needs systemd's user manager)")
            return ExitStatus.FAILED
        if r.returncode != 0:
            error(f"{' '.join(cmd)}: {(r.stderr.strip().splitlines() or ['failed'])[0]} "
                  f"(the unit {path} is written, but not enabled)")
            return ExitStatus.FAILED
    info("callmonitor.service enabled and started" + (" (a daemon that was running restarted with the new unit)"
                                                      if changed else " (a daemon that was running restarted)"
                                                      if restart else ""))
    return ExitStatus.OK
