"""What ``make setup`` (the first step of ``make demo`` and ``make test``) does for a developer
without root: the system packages missing are named in the one ``sudo apt-get`` line to run, with a
non-zero exit, before anything long (the virtual environment, pip) is begun; with the packages there,
nothing is said.

The real make reads the real Makefile and asks the real dpkg; the package list is given on make's
command line (``APT_PACKAGES``): ``dpkg`` is installed wherever dpkg answers, and
:data:`NOT_A_PACKAGE` nowhere. Run as root, the tests run make as the user ``nobody``: as root the
Makefile would install the packages itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from conftest import ROOT

NOT_A_PACKAGE = "callmonitor-no-such-package"
"""A package name that no Debian archive holds: missing on every machine."""

NOBODY = 65534
"""The uid and gid of ``nobody``, whom a test run as root runs make as."""


def make_as_developer(*args: str) -> subprocess.CompletedProcess[str]:
    """``make -s ARGS`` in the checkout, as a user without root."""
    if shutil.which("make") is None or shutil.which("dpkg-query") is None:
        pytest.skip("make and dpkg-query are needed (Debian)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("run as root, and no setpriv to run make as another user")
        as_user = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        if subprocess.run([*as_user, "test", "-r", str(ROOT / "Makefile")]).returncode != 0:
            pytest.skip("the user nobody cannot read this checkout (a clone in root's home, mode 700)")
    return subprocess.run([*as_user, "make", "-s", "-C", str(ROOT), *args], capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")})


def test_a_developer_without_root_gets_the_sudo_line_of_the_missing_packages_and_a_failure():
    """Only the missing package is named, after an update of the package lists (a machine's lists
    may be older than the archive's packages, as the install that root's run makes updates them)."""
    done = make_as_developer("system-packages", f"APT_PACKAGES=dpkg {NOT_A_PACKAGE}")
    assert done.returncode != 0
    assert done.stdout == ("Missing system packages. Run:\n"
                           f"  sudo apt-get update && sudo apt-get install -y --no-install-recommends {NOT_A_PACKAGE}\n")


def test_a_developer_without_root_whose_machine_has_the_packages_is_told_nothing():
    done = make_as_developer("system-packages", "APT_PACKAGES=dpkg")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.fixture
def held_package() -> Iterator[str]:
    """An installed package held back from upgrades (``dpkg --set-selections``: its status then reads
    ``hold ok installed``), its selection put back afterwards; root only, as dpkg's selections are."""
    if os.geteuid() != 0 or shutil.which("dpkg") is None:
        pytest.skip("holding a package takes root and dpkg")
    package = "dpkg"
    (selection,) = subprocess.run(["dpkg", "--get-selections", package], capture_output=True, text=True,
                                  check=True).stdout.split()[1:]
    subprocess.run(["dpkg", "--set-selections"], input=f"{package} hold\n", text=True, check=True)
    try:
        yield package
    finally:
        subprocess.run(["dpkg", "--set-selections"], input=f"{package} {selection}\n", text=True, check=True)


def test_a_package_held_back_from_upgrades_is_installed_and_not_asked_for(held_package: str):
    """A site that holds a package at its version (``apt-mark hold``): it is installed all the same.
    It was taken for missing, and the sudo line to install it, which changes nothing, was printed at
    every ``make demo`` and ``make test``, each of which then failed."""
    done = make_as_developer("system-packages", f"APT_PACKAGES={held_package}")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.fixture
def developer_folder() -> Iterator[Path]:
    """An empty folder of the developer's (``nobody``'s, when the tests run as root: pytest's
    ``tmp_path`` is root's own), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="callmonitor-make-"))
    if os.geteuid() == 0:
        os.chown(folder, NOBODY, NOBODY)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_no_virtual_environment_is_begun_while_system_packages_are_missing(developer_folder: Path):
    """Not even by a make that goes on past a failure (``-k``) or runs recipes side by side
    (``-j``): the virtual environment and pip's install wait for the packages' check."""
    venv = developer_folder / "venv"
    done = make_as_developer("-k", "-j2", "setup", f"APT_PACKAGES={NOT_A_PACKAGE}", f"VENV={venv}",
                             "PYTHON=false")
    assert done.returncode != 0 and "sudo apt-get" in done.stdout
    assert str(venv) not in done.stdout + done.stderr, done.stderr
    assert not venv.exists()
