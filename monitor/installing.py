"""How a message tells the user to install something: :func:`install_hint` words every such hint.

The command is the pip of the Python running callmonitor (``<python> -m pip install``): a wheel
installed into a virtual environment runs as ``~/callmonitor/bin/call-monitor`` with that
environment not on PATH, where a bare ``pip`` is the system's (which refuses, or installs where
callmonitor does not look). An extra of callmonitor's (:data:`EXTRAS`) is named by the packages it
holds, which a wheel's user and a clone's install alike (the callmonitor on PyPI is another
project: never ``callmonitor[batch]`` by name); callmonitor itself, for another machine (a Dask
worker), by what this one was installed from (:func:`installed_from`): the clone's folder or the
wheel's file. A message sends the user to the documents by :func:`in_docs`: the source
distribution's, which the wheel does not hold."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import io
import json
import shlex
import sys
from pathlib import Path
from typing import Callable, Collection
from urllib.parse import unquote, urlparse

from .release import RELEASE

DISTRIBUTION = "callmonitor"

EXTRAS: dict[str, tuple[tuple[str, str], ...]] = {
    "report": (("matplotlib>=3.7", "matplotlib"),),
    "batch": (("dask[distributed]>=2024.1", "distributed"), ("tqdm>=4.60", "tqdm"), ("pyarrow>=14", "pyarrow"),
              ("cryptography>=38", "cryptography")),
}
"""Each extra's packages as pyproject.toml's optional dependencies declare them, with the module each
is imported by (``dask[distributed]``'s is ``distributed``)."""

WHEEL = f"{DISTRIBUTION}-{RELEASE}-py3-none-any.whl"
"""The name of this release's wheel (``make dist`` builds it)."""

SDIST = f"{DISTRIBUTION}-{RELEASE}.tar.gz"
"""The name of this release's source distribution (``make dist`` builds it beside the wheel), which
holds the documents (docs/)."""

WORKERS_PYTHON = "<the worker's python>"
"""A hint's Python where it runs on another machine, whose Python is not known here."""


def in_docs(document: str, section: str) -> str:
    """Where a message sends the user to read on: ``section`` of ``document`` (of docs/), as the
    source distribution holds it (the wheel holds no document)."""
    return f'{SDIST}\'s docs/{document}, "{section}"'


def python_command() -> str:
    """The Python running callmonitor, as a shell takes it (a venv's own, with its packages)."""
    return shlex.quote(sys.executable or "python3")


def install_hint(*requirements: str, python: str | None = None) -> str:
    """The command that installs ``requirements`` (as pip takes them) with the pip of ``python``
    (default: the Python running callmonitor)."""
    return f"{python or python_command()} -m pip install {' '.join(map(shlex.quote, requirements))}"


def extra_packages(extra: str) -> list[str]:
    """The packages ``extra`` holds, as pip takes them."""
    return [package for package, _ in EXTRAS[extra]]


def requirement(module: str) -> str:
    """The package of an extra (:data:`EXTRAS`) imported as ``module``, as pyproject.toml declares
    it and pip takes it (``pyarrow``: ``pyarrow>=14``)."""
    return next(package for packages in EXTRAS.values() for package, imported in packages if imported == module)


def found(module: str) -> bool:
    """Whether the top-level ``module`` is there to import (:func:`importlib.util.find_spec`, which
    imports nothing)."""
    return importlib.util.find_spec(module) is not None


def import_failure(module: str) -> str | None:
    """Why the top-level ``module``, there to import, fails to import, in one line (the exception's
    type and its message's first line: a pyarrow built for another numpy, a distributed of another
    dask); None when it imports. Whatever the import prints on stderr meanwhile (numpy's pages on
    a module built for another release) is not shown: the line says it."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            importlib.import_module(module)
    except Exception as err:  # an import runs the package's code: it may raise anything
        said = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
        return f"{type(err).__name__}: {said}" if said else type(err).__name__
    return None


def missing_of_extra(extra: str, there: Callable[[str], bool] = found) -> list[str]:
    """The packages of ``extra`` whose module ``there`` does not find, in pyproject.toml's order."""
    return [package for package, module in EXTRAS[extra] if not there(module)]


def _name(package: str) -> str:
    """A requirement's package name without its bound (``dask[distributed]>=2024.1``: ``dask[distributed]``)."""
    return package.split(">=")[0]


def extra_missing(extra: str, needs: str, unneeded: Collection[str] = (), there: Callable[[str], bool] = found,
                  fails: Callable[[str], str | None] = import_failure) -> str | None:
    """One line saying what ``needs`` (a command, say) lacks of ``extra`` but the modules
    ``unneeded``: every missing package at once and the command that installs them all; else the
    packages there whose import ``fails``, each with its error, and the command that upgrades them;
    None when every one it needs imports."""
    wanted = [(package, module) for package, module in EXTRAS[extra] if module not in unneeded]
    missing = [package for package, module in wanted if not there(module)]
    if missing:
        names = ", ".join(map(_name, missing))
        return f"{needs} needs {names} (callmonitor's [{extra}] extra): {install_hint(*missing)}"
    failing = [(package, failure) for package, module in wanted if (failure := fails(module)) is not None]
    if not failing:
        return None
    said = "; ".join(f"{_name(package)} ({failure})" for package, failure in failing)
    return (f"{needs} cannot import {said}, installed for callmonitor's [{extra}] extra: "
            f"{install_hint('--upgrade', *(package for package, _ in failing))}")


def recorded_source(direct_url: str | None) -> str | None:
    """What pip installed callmonitor from, by the ``direct_url.json`` it wrote (PEP 610): a local
    file or folder by its path, anything else as the direct reference pip would write of it
    (:func:`_direct_reference`: a VCS checkout by its commit); None without a record (an index's
    package) or with one that is not such a record."""
    try:
        record = json.loads(direct_url) if direct_url else None
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    url = record.get("url")
    if not isinstance(url, str) or not url:
        return None
    subdirectory = record.get("subdirectory")
    subdirectory = subdirectory if isinstance(subdirectory, str) and subdirectory else None
    if url.startswith("file://") and "vcs_info" not in record:
        path = unquote(urlparse(url).path)
        return str(Path(path, subdirectory)) if subdirectory else path
    reference = _direct_reference(record, url, subdirectory)
    return None if reference is None else f"{DISTRIBUTION} @ {reference}"


def _direct_reference(record: dict, url: str, subdirectory: str | None) -> str | None:
    """The PEP 440 direct reference of a ``direct_url.json`` ``record`` of ``url``, as pip writes it
    (``pip freeze``): a VCS checkout as ``VCS+URL@COMMIT`` (PEP 610 drops the ``git+`` from the
    URL), an archive with its hash; ``#subdirectory=`` where the project lies in one. None for a
    VCS record without its VCS or commit."""
    fragments = []
    vcs = record.get("vcs_info")
    archive = record.get("archive_info")
    if vcs is not None:
        kind, commit = (vcs.get("vcs"), vcs.get("commit_id")) if isinstance(vcs, dict) else (None, None)
        if not (isinstance(kind, str) and kind and isinstance(commit, str) and commit):
            return None
        url = f"{kind}+{url}@{commit}"
    elif isinstance(archive, dict) and isinstance(archive.get("hash"), str):
        fragments.append(archive["hash"])
    if subdirectory:
        fragments.append(f"subdirectory={subdirectory}")
    return url + (f"#{'&'.join(fragments)}" if fragments else "")


def installed_from() -> str:
    """Where this callmonitor comes from, for pip on another machine: the clone it runs from (a
    folder with pyproject.toml above the package), else the file pip installed it from, else this
    release's wheel by name."""
    clone = Path(__file__).resolve().parents[1]
    if (clone / "pyproject.toml").is_file():
        return str(clone)
    try:
        recorded = importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        recorded = None
    return recorded_source(recorded) or WHEEL


def callmonitor_with(extra: str, source: str) -> str:
    """callmonitor with ``extra`` from ``source`` (:func:`installed_from`), as pip takes it."""
    if " @ " in source:
        name, url = source.split(" @ ", 1)
        return f"{name}[{extra}] @ {url}"
    return f"{source}[{extra}]"


def on_each_worker(extra: str = "batch") -> str:
    """The command that installs this callmonitor with ``extra`` where a Dask worker runs."""
    return install_hint(callmonitor_with(extra, installed_from()), python=WORKERS_PYTHON)
