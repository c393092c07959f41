"""The static checks: ``ruff check`` with the rules pyproject.toml's ``[tool.ruff]`` selects
(pyflakes: unused imports and variables, undefined names, redefinitions; syntax errors; pylint's
errors) finds nothing in the package, the tools or the tests; mypy with ``[tool.mypy]`` (untyped
functions checked too, no cache kept) finds nothing in the package."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


def test_ruff_finds_nothing_in_the_package_the_tools_or_the_tests():
    pytest.importorskip("ruff", reason="ruff is not installed: `make setup` installs the dev extra, which has it")
    found = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "monitor", "tools", "tests"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stdout + found.stderr


def test_mypy_finds_nothing_in_the_package():
    pytest.importorskip("mypy", reason="mypy is not installed: `make setup` installs the dev extra, which has it")
    found = subprocess.run([sys.executable, "-m", "mypy", "monitor"], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert found.returncode == 0, found.stdout + found.stderr
