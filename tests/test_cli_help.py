"""Every command's --help explains each of its options and arguments."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from monitor.cli import COMMANDS, build_parser


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_option_and_argument_of_a_command_has_a_help_text(command: str) -> None:
    parser = _subparsers()[command]
    unexplained = [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions
                   if not a.help or not a.help.strip()]
    assert unexplained == [], f"{command}: no help for {unexplained}"


def test_each_command_module_is_a_listed_command() -> None:
    assert len(_subparsers()) == len(COMMANDS)


def test_install_service_help_says_what_caller_and_webhook_are() -> None:
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "install-service", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--caller SOURCE       the caller's leg" in out
    assert "--webhook URL         supervisor webhook" in out
