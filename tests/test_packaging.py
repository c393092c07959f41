"""What a packager builds from a clone, as ``python -m build`` builds it: the source distribution
holds the package with its data, pyproject.toml, the licence, the README and docs/, and nothing of
the clone's tests, research, tools or audio; the wheel built from that source distribution holds
every module and data file of the package (every file it opens through ``importlib.resources``
among them), the licence, the README as its description, the release as its version and the
``call-monitor`` command.

Built offline by the setuptools this interpreter has, which must be one pyproject.toml's
build-system accepts (``make setup`` installs it, through the dev extra)."""

from __future__ import annotations

import ast
import email
import email.message
import json
import os
import importlib.metadata
import re
import shutil
import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Iterator

import pytest
from packaging.requirements import Requirement

from conftest import PY, ROOT
from monitor.release import RELEASE

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NAME = f"{PYPROJECT['project']['name']}-{RELEASE}"
DIST_INFO = f"{PYPROJECT['project']['name'].replace('-', '_')}-{RELEASE}.dist-info"
SDIST_TOP = {"monitor", "docs", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "PKG-INFO", "setup.cfg",
             f"{PYPROJECT['project']['name']}.egg-info"}
"""Every top-level entry of the source distribution: the package and docs, the project's own files,
and what setuptools adds (PKG-INFO, setup.cfg, the egg-info)."""
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist",
                                        ".pytest_cache", "generated", "artifacts", "*.wav", "*.flac")
"""What a fresh clone has not (git's own files, what ``make`` and the tests make) or need not have
for this (the recordings: their folders and texts stay, to be kept out)."""
RESOURCE_RE = re.compile(r'resources\.files\("monitor"\)\.joinpath\("([^"]+)"\)')


def _build(hook: str, source: Path, out: Path) -> Path:
    """``setuptools.build_meta.<hook>`` (build_sdist, build_wheel) run in ``source``: the file written in ``out``."""
    out.mkdir()
    script = f"import sys; from setuptools import build_meta; print(build_meta.{hook}(sys.argv[1]))"
    done = subprocess.run([PY, "-c", script, str(out)], cwd=source, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return out / done.stdout.split()[-1]


def _setuptools_accepted() -> None:
    """Fails, saying so, when this interpreter's setuptools is older than pyproject.toml's build-system asks."""
    wanted = next(r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    floor = tuple(int(p) for p in wanted.split(">=")[1].split("."))
    have = importlib.metadata.version("setuptools")
    if tuple(int(p) for p in re.findall(r"\d+", have)[:len(floor)]) < floor:
        pytest.fail(f"setuptools {have} here; pyproject.toml's build-system asks {wanted}: make setup installs it")


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> tarfile.TarFile:
    """The source distribution of a copy of this clone."""
    _setuptools_accepted()
    work = tmp_path_factory.mktemp("packaging")
    shutil.copytree(ROOT, work / "clone", ignore=NOT_IN_A_CLONE)
    with tarfile.open(_build("build_sdist", work / "clone", work / "sdist")) as tar:
        # the extraction filters came with Python 3.11.4 (Debian 12 has 3.11.2): this archive is the one just built
        tar.extractall(work / "unpacked", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        yield tar


@pytest.fixture(scope="module")
def wheel(sdist: tarfile.TarFile) -> zipfile.ZipFile:
    """The wheel built from the unpacked source distribution."""
    unpacked = Path(sdist.name).parents[1] / "unpacked" / NAME
    with zipfile.ZipFile(_build("build_wheel", unpacked, unpacked.parent.parent / "wheel")) as zf:
        yield zf


def package_files() -> set[str]:
    """The package's files in this clone (modules and data), as paths from the clone's root."""
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "monitor").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def sdist_files(sdist: tarfile.TarFile) -> set[str]:
    return {m.name.removeprefix(f"{NAME}/") for m in sdist.getmembers() if m.isfile()}


def metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    return email.message_from_bytes(wheel.read(f"{DIST_INFO}/METADATA"))


def test_the_source_distribution_holds_the_package_its_data_licence_readme_and_docs(sdist) -> None:
    expected = package_files() | {"pyproject.toml", "README.md", "LICENSE"} | {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")}
    assert expected - sdist_files(sdist) == set()


def test_the_source_distribution_leaves_the_clones_tests_research_tools_and_audio_out(sdist) -> None:
    assert {name.split("/")[0] for name in sdist_files(sdist)} <= SDIST_TOP


def test_the_wheel_holds_every_module_and_data_file_of_the_package_and_nothing_else(wheel) -> None:
    assert {n for n in wheel.namelist() if not n.startswith(f"{DIST_INFO}/")} == package_files()


def test_every_file_the_package_opens_through_importlib_resources_is_in_the_wheel(wheel) -> None:
    opened = {f"monitor/{name}" for p in (ROOT / "monitor").rglob("*.py")
              for name in RESOURCE_RE.findall(p.read_text(encoding="utf-8"))}
    assert "monitor/data/supervisor.html" in opened
    assert opened - set(wheel.namelist()) == set()


def test_the_wheel_names_the_release_python_dependencies_licence_readme_and_command(wheel) -> None:
    meta, project = metadata(wheel), PYPROJECT["project"]
    assert meta["Version"] == RELEASE
    assert meta["Requires-Python"] == project["requires-python"]
    assert set(map(Requirement, project["dependencies"])) <= set(map(Requirement, meta.get_all("Requires-Dist")))
    assert meta["License-Expression"] == project["license"]
    assert wheel.read(f"{DIST_INFO}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().strip() == (ROOT / "README.md").read_text(encoding="utf-8").strip()
    scripts = wheel.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert "call-monitor = monitor.cli:main" in scripts.splitlines()



def test_every_dependency_is_declared_with_bounds_this_interpreters_installed_release_meets() -> None:
    """What the package imports of each (h11 among them, which the console's connections read and
    uvicorn brings) is declared, and the releases the tests run on are within the bounds."""
    unmet = {str(r): importlib.metadata.version(r.name) for r in map(Requirement, PYPROJECT["project"]["dependencies"])
             if not r.specifier.contains(importlib.metadata.version(r.name), prereleases=True)}
    assert unmet == {}
    declared = {Requirement(r).name for r in PYPROJECT["project"]["dependencies"]}
    assert {"h11", "uvicorn", "starlette"} <= declared

def docstrings(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, text) of the module's, each class's and each function's docstring in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=False)
            if text is not None:
                yield (node.body[0].lineno, text)


def utf_8_holds(text: str) -> bool:
    """Whether ``text`` has no lone surrogate, which UTF-8 cannot hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_every_docstring_of_the_package_is_text_utf_8_can_hold_as_python_3_13_compiles_it() -> None:
    # Python 3.13 writes docstrings out as UTF-8 when it compiles them: a lone surrogate
    # ("\ud800" in a docstring that is not raw) fails the import of the whole package there
    held = [f"{p.relative_to(ROOT)}:{line}" for p in sorted((ROOT / "monitor").rglob("*.py"))
            for line, text in docstrings(ast.parse(p.read_text(encoding="utf-8")))
            if not utf_8_holds(text)]
    assert held == []


def test_the_install_steps_of_the_docs_name_the_files_this_release_builds() -> None:
    named = {(p.relative_to(ROOT).as_posix(), v) for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
             for v in re.findall(r"callmonitor-(\d+\.\d+\.\d+)", p.read_text(encoding="utf-8"))}
    assert {(doc, v) for doc, v in named if v != RELEASE} == set()
    assert ("docs/deployment.md", RELEASE) in named


@pytest.fixture(scope="module")
def installed(wheel: zipfile.ZipFile) -> Path:
    """A virtual environment's Python with the wheel installed by pip, as docs/deployment.md installs
    it, offline: the wheel alone (``--no-deps``), its dependencies this interpreter's (their folder
    read through a .pth file, whose own .pth files, this clone's editable install among them, are not)."""
    venv = Path(wheel.filename).parents[1] / "venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    apart = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # this clone's callmonitor is not installed
    done = subprocess.run([PY, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet",
                           wheel.filename], capture_output=True, text=True, timeout=300, cwd=venv, env=apart)
    assert done.returncode == 0, done.stderr
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    ours = subprocess.run([python, "-c", purelib], capture_output=True, text=True, check=True).stdout.strip()
    theirs = subprocess.run([PY, "-c", purelib], capture_output=True, text=True, check=True).stdout.strip()
    (Path(ours) / "dependencies.pth").write_text(theirs + "\n", encoding="utf-8")
    return python


def run_installed(python: Path, *args: str) -> subprocess.CompletedProcess:
    """``args`` run by the installed Python in an environment with neither this clone nor the venv on PATH."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(python.parents[2]), "LANG": "C.UTF-8"}
    return subprocess.run([python, *args], capture_output=True, text=True, timeout=120, cwd=python.parents[2],
                          env=env)


def test_installed_from_its_wheel_the_workers_hint_installs_that_wheel_with_the_batch_extra_as_pip_takes_it(
        wheel, installed) -> None:
    done = run_installed(installed, "-c", "import monitor.installing as i; print(i.__file__); print(i.on_each_worker())")
    assert done.returncode == 0, done.stderr
    module, hint = done.stdout.splitlines()
    assert Path(module).is_relative_to(installed.parents[1])  # the wheel's module, not this clone's
    assert hint == f"<the worker's python> -m pip install '{wheel.filename}[batch]'"
    report = Path(wheel.filename).parents[1] / "pip-report.json"
    took = subprocess.run([PY, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-index", "--no-deps",
                           "--quiet", "--report", str(report), f"{wheel.filename}[batch]"], capture_output=True,
                          text=True, timeout=120)
    assert took.returncode == 0, took.stderr
    [item] = json.loads(report.read_text(encoding="utf-8"))["install"]
    assert (item["metadata"]["name"], item["requested_extras"]) == ("callmonitor", ["batch"])


def test_the_installed_wheel_runs_as_python_m_monitor_with_no_command_on_path(installed) -> None:
    done = run_installed(installed, "-m", "monitor", "--version")
    assert (done.returncode, done.stderr) == (0, "") and done.stdout.startswith(f"call-monitor {RELEASE} (")
