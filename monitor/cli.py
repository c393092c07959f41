"""``call-monitor``: argument parsing and dispatch only; each command lives in monitor.commands."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .console import configure_logging

COMMANDS = ("analyze", "replay", "alerts", "config", "models", "devices", "run", "status", "call",
            "install_service", "report", "supervisor", "batch", "purge")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="call-monitor",
                                     description="Local real-time call monitor: flags slow, labored or "
                                                 "breathless speech and distress phrases.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"monitor.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    configure_logging(getattr(args, "log_level", None) or "warning")
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (call-monitor replay --jsonl | head)
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter's final flush quiet
        except OSError:
            pass
        return 141


if __name__ == "__main__":
    sys.exit(main())
