"""``call-monitor``: argument parsing and dispatch only; each command lives in monitor.commands."""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import re
import sys
from typing import NoReturn

from .console import configure_logging

COMMANDS = ("analyze", "replay", "alerts", "config", "models", "devices", "run", "status", "call", "outcome",
            "install_service", "report", "supervisor", "forget_agent", "batch", "purge")


class _TopParser(argparse.ArgumentParser):
    """The top parser, and each command's (argparse makes them of the top parser's class): a long
    option is taken whole only, not by a beginning of it (``--jso`` for ``--json``), so that a
    mistyped option, or one of a later release, is refused with the option it is close to
    (:func:`_refuse_unrecognized`) and never taken for another; a mistyped command (``analyse``)
    is said with the command it is close to."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str) -> NoReturn:
        typed = re.match(r"argument COMMAND: invalid choice: '(.*)' \(choose from ", message)
        sub = next((a for a in self._actions if isinstance(a, argparse._SubParsersAction)), None)
        if typed and sub is not None:
            close = difflib.get_close_matches(typed.group(1), list(sub.choices), n=1)
            message = f"argument COMMAND: invalid choice: '{typed.group(1)}' (did you mean {close[0]}?)" \
                if close else message
        super().error(message)

    def _print_message(self, message: str, file=None) -> None:
        """What argparse prints (``--help``, a usage), but standard output's failure said as a command's
        output's is (:func:`_cannot_write`, exit 1; a reader gone away, 141), not let go with exit 0."""
        if not message or file is not sys.stdout or sys.stdout is None:
            return super()._print_message(message, file)
        try:
            sys.stdout.write(message)
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
            self.exit(141)
        except OSError as err:  # sent to a full disk
            self.exit(_cannot_write(err))


def version_line() -> str:
    """``call-monitor 0.7.7 (database schema 6, console database schema 6)``: the release of the code
    running (``RELEASE``, which the package's metadata takes too), the schema its daemon's store
    writes and the one its supervisor's console writes, each of which an earlier release refuses
    (docs/configuration.md, docs/deployment.md's upgrading)."""
    from .delivery.store_schema import SCHEMA_VERSION
    from .release import RELEASE
    from .supervisor.store import SCHEMA_VERSION as CONSOLE_SCHEMA
    return f"call-monitor {RELEASE} (database schema {SCHEMA_VERSION}, console database schema {CONSOLE_SCHEMA})"


class _Version(argparse.Action):
    """``--version``: :func:`version_line` made when asked for, so that building the parser imports
    no store (argparse's own version action takes the text made beforehand)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace, values, option_string=None) -> None:
        try:
            print(version_line(), flush=True)  # on stdout, as argparse's own version action says it
        except BrokenPipeError:
            _quiet_stdout()
            parser.exit(141)
        except OSError as err:  # sent to a full disk: as a command's output (main)
            parser.exit(_cannot_write(err))
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``only`` (a command's name, ``install-service``) of that
    one alone: the modules of the others are not imported, and that command's arguments parse
    as with every parser built."""
    parser = _TopParser(prog="call-monitor",
                        description="Local real-time call monitor: flags slow, labored or "
                                    "breathless speech and distress phrases.",
                        epilog="To start: `call-monitor devices` lists the sources; `call-monitor "
                               "run --caller SOURCE` (the monitor of the softphone's sink) monitors "
                               "live calls; `call-monitor replay FILE` runs a recorded call. "
                               "`call-monitor COMMAND --help` explains each command.")
    parser.add_argument("--version", action=_Version, help="the release installed, and the database schema it writes")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only.replace("-", "_"),):
        importlib.import_module(f"monitor.commands.{name}").add_parser(sub)
    return parser


def _command_named(argv: list[str]) -> str | None:
    """The command ``argv`` begins with (``install-service``), whose parser alone is needed; None
    when it begins with anything else (``--help``, ``--version``, a mistyped command: the top
    parser answers, with every command's name)."""
    return argv[0] if argv and argv[0] in {name.replace("_", "-") for name in COMMANDS} else None


def main(argv: list[str] | None = None) -> int:
    from .commands.common import signed_values_joined
    given = signed_values_joined(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_named(given))
    args, unrecognized = parser.parse_known_args(given)
    if unrecognized:
        _refuse_unrecognized(parser, args.command, unrecognized)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    configure_logging(getattr(args, "log_level", None) or "warning")
    from .console import GuardedOutput, OutputFailed
    printed_to = sys.stdout
    if printed_to is not None:  # None: started with descriptor 1 closed, where print writes nothing
        sys.stdout = GuardedOutput(printed_to)
    try:
        status = _written_out(_status_of(args))
    except OutputFailed as err:  # stdout sent to a full disk, say: what was printed before stands
        return _cannot_write(err)
    except BrokenPipeError:  # the reader went away (call-monitor replay --jsonl | head)
        _quiet_stdout()
        return 141
    finally:
        if isinstance(sys.stdout, GuardedOutput):
            sys.stdout = printed_to
    if argv is None and args.command == "run":
        _end_process(status)
    return status


def _end_process(status: int) -> NoReturn:
    """The daemon's process ended at once with ``status``, its run over: all it opened closed (the
    calls stored, the database, the sockets, the lock), all it said written out. The interpreter's
    own end freed the speech model piece by piece, which took 30 s of a core starved to 1 % (the
    daemon niced beside busy programs, or capped), SIGTERM not done for as long; the system takes
    the process's memory back at once."""
    import logging
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def _status_of(args: argparse.Namespace) -> int:
    """The exit status of the command ``args`` names, run and what it printed written out: its own,
    or that of the stop (Ctrl-C, SIGTERM) or of the home folder not known that ended it, each said
    in its one line.

    A stop that comes once the command has returned, as its output is written out or SIGTERM's
    handler put back, leaves its status as it is, with nothing more said: its work was done and
    said, and there is nothing left to stop. What it printed is still written out."""
    from .commands.common import ExitStatus, exit_status_of
    from .config.schema import NoHomeFolder
    from .console import error
    from .stops import sigterm_as_interrupt
    returned: list[int | None] = []
    try:
        return sigterm_as_interrupt(lambda: _written_out(_returned(args, returned)))
    except NoHomeFolder as err:  # a default file under the home folder, which is not known
        error(str(err))
        return int(ExitStatus.BAD_SETUP)
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (Terminated): each command's own line said
        return int(returned[0] or 0) if returned else int(exit_status_of(stop))


def _returned(args: argparse.Namespace, returned: list[int | None]) -> int:
    """The status the command ``args`` names returns, run, kept in ``returned`` as it returns: no
    stop can come between the two (Python runs a signal's handler as a function begins, or after
    some calls: none is between them)."""
    returned.append(args.run(args))
    return int(returned[0] or 0)


def _written_out(status: int) -> int:
    """``status``, once what standard output still buffers is written, here through its guard and
    not in the interpreter's final flush, however the command ended: output that cannot be written
    (a full disk) is then one line, exit 1, or the stop's own status (130, 143) after a stop."""
    from .commands.common import ExitStatus
    from .console import OutputFailed
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OutputFailed as err:
        failed = _cannot_write(err)
        return status if status in (ExitStatus.INTERRUPTED, ExitStatus.TERMINATED) else failed
    return status


def _cannot_write(err: OSError) -> int:
    """Standard output that cannot be written (a full disk) said in one line, then quieted: the exit status."""
    from .commands.common import ExitStatus
    from .console import error, output_name
    error(f"{output_name()}: cannot write the output ({err.strerror}); what was printed before it stands")
    _quiet_stdout()
    return int(ExitStatus.FAILED)


def _quiet_stdout() -> None:
    """Standard output, which failed, replaced by nothing, to keep the interpreter's final flush quiet."""
    try:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the process's end
    except OSError:
        pass


def _refuse_unrecognized(parser: argparse.ArgumentParser, command: str | None, unrecognized: list[str]) -> NoReturn:
    """Exit 2 on arguments no parser took, said by the command's own parser (its usage, its name)
    with the option each misspelt one is close to: argparse would say it as the top parser's."""
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    own: argparse.ArgumentParser = sub.choices.get(command, parser) if sub is not None and command else parser
    options = list(own._option_string_actions)
    close = [option for arg in unrecognized if arg.startswith("-") and not arg[1:2].isdigit()  # -1h: a value
             if (option := _close_option(arg, options))]
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    own.error(f"unrecognized arguments: {' '.join(unrecognized)}{hint}")


def _close_option(typed: str, options: list[str]) -> str | None:
    """The option of ``options`` that ``typed`` (``--webhook-w``, ``--sinse=2h``) was meant for: the
    one option it is the beginning of, else the one its letters are closest to; None for none."""
    name = typed.split("=", 1)[0]
    begun = [option for option in options if option.startswith(name)]
    close = begun if len(begun) == 1 else difflib.get_close_matches(name, options, n=1)
    return close[0] if close else None


if __name__ == "__main__":
    sys.exit(main())
