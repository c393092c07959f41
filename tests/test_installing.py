"""What a message tells the user to install, and with what: the pip of the Python running
callmonitor, named in full (a wheel installed into a virtual environment runs as
``~/callmonitor/bin/call-monitor`` with that environment not on PATH, where a bare ``pip`` is the
system's), every such hint worded by :func:`monitor.installing.install_hint`."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

from conftest import CALLS, PY, ROOT
from monitor.release import RELEASE
from monitor.commands.batch import missing_packages
from monitor.installing import (EXTRAS, WHEEL, WORKERS_PYTHON, callmonitor_with, found, in_docs, install_hint,
                                installed_from, missing_of_extra, on_each_worker, recorded_source, requirement)


def test_an_install_hint_runs_the_pip_of_the_python_running_callmonitor_each_requirement_quoted():
    assert install_hint("matplotlib") == f"{sys.executable} -m pip install matplotlib"
    assert install_hint("dask[distributed]>=2024.1", "cryptography>=38") == (
        f"{sys.executable} -m pip install 'dask[distributed]>=2024.1' 'cryptography>=38'")


def test_an_install_hint_for_another_machines_python_names_that_python():
    assert install_hint("tqdm", python="python3") == "python3 -m pip install tqdm"


def _message_strings(path) -> list[tuple[int, str]]:
    """(line, text) of every string constant of the module at ``path`` (an f-string's literal parts
    among them) but its docstrings (a string standing as a statement)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_message_of_the_package_words_a_pip_install_but_through_install_hint():
    bare = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "monitor").rglob("*.py"))
            if path.name != "installing.py" for line, text in _message_strings(path) if "pip install" in text]
    assert bare == []


def test_the_report_without_matplotlib_names_the_pip_of_the_python_it_runs_under_its_folder_not_on_path(tmp_path):
    """``call-monitor report`` run by a Python of its own (a venv's, its folder not on PATH) where
    matplotlib cannot be imported: the one line names that Python's pip."""
    blocked = ("import sys; sys.modules['matplotlib'] = None; from monitor.cli import main; "
               "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([PY, "-c", blocked, "report", str(CALLS / "normal_8k.wav"), "-o", str(tmp_path / "r.html")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line == (f"call-monitor: error: reports need matplotlib (callmonitor's [report] extra): {PY} -m pip install "
                    "'matplotlib>=3.7'")
    assert not (tmp_path / "r.html").exists()


def test_the_extras_are_pyprojects_optional_dependencies_report_and_batch():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert {extra: [package for package, _ in packages] for extra, packages in EXTRAS.items()} == {
        extra: declared[extra] for extra in ("report", "batch")}


def test_what_pip_installed_callmonitor_from_is_the_wheels_file_or_the_clones_folder_it_recorded():
    wheel = '{"archive_info": {}, "url": "file:///srv/wheels/callmonitor-0.7.6-py3-none-any.whl"}'
    clone = '{"dir_info": {"editable": true}, "url": "file:///home/it/call%20monitor"}'
    assert recorded_source(wheel) == "/srv/wheels/callmonitor-0.7.6-py3-none-any.whl"
    assert recorded_source(clone) == "/home/it/call monitor"
    assert recorded_source('{"archive_info": {}, "url": "https://wheels.example/callmonitor-0.7.6-py3-none-any.whl"}'
                           ) == "callmonitor @ https://wheels.example/callmonitor-0.7.6-py3-none-any.whl"
    assert recorded_source(None) is None  # from an index: the hint names this release's wheel
    assert WHEEL == f"callmonitor-{RELEASE}-py3-none-any.whl"


def test_callmonitor_with_an_extra_is_its_source_with_the_extra_never_pypis_callmonitor_by_name():
    assert callmonitor_with("batch", "/srv/wheels/callmonitor-0.7.6-py3-none-any.whl") == (
        "/srv/wheels/callmonitor-0.7.6-py3-none-any.whl[batch]")
    assert callmonitor_with("batch", "callmonitor @ https://wheels.example/c.whl") == (
        "callmonitor[batch] @ https://wheels.example/c.whl")


def test_run_from_a_clone_the_workers_hint_installs_that_clone_with_the_batch_extra():
    assert installed_from() == str(ROOT)
    assert on_each_worker() == f"{WORKERS_PYTHON} -m pip install '{ROOT}[batch]'"


def test_what_is_missing_of_an_extra_is_every_package_whose_module_is_not_found_in_pyprojects_order():
    absent = {"distributed", "cryptography"}
    assert missing_of_extra("batch", lambda module: module not in absent) == ["dask[distributed]>=2024.1",
                                                                              "cryptography>=38"]
    assert missing_of_extra("batch", lambda module: True) == []
    assert missing_of_extra("report", lambda module: module != "matplotlib") == ["matplotlib>=3.7"]


def test_what_a_batch_lacks_of_its_extra_is_one_line_naming_the_packages_it_needs_there():
    """cryptography for a local cluster's TLS alone, pyarrow for a Parquet table alone, tqdm for a
    progress bar alone (a terminal's, without --quiet)."""
    nothing = lambda module: False  # noqa: E731
    assert missing_packages(None, "summary.parquet", True, nothing) == (
        "batch needs dask[distributed], tqdm, pyarrow, cryptography (callmonitor's [batch] extra): "
        f"{sys.executable} -m pip install 'dask[distributed]>=2024.1' 'tqdm>=4.60' 'pyarrow>=14' 'cryptography>=38'")
    assert missing_packages("tls://10.0.0.5:8786", "summary.csv", True, lambda module: module != "distributed") == (
        f"batch needs dask[distributed] (callmonitor's [batch] extra): {sys.executable} -m pip install "
        "'dask[distributed]>=2024.1'")
    assert missing_packages("tls://10.0.0.5:8786", None, True, lambda module: module in {"distributed", "tqdm"}) is None
    assert missing_packages(None, None, True, found) is None  # this interpreter has the extra
    assert missing_packages(None, None, False, lambda module: module != "tqdm") is None


def test_no_message_of_the_package_sends_the_user_to_docs_but_through_in_docs():
    """The wheel holds no document: a message names the source distribution's (:func:`in_docs`)."""
    bare = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "monitor").rglob("*.py"))
            if path.name != "installing.py" for line, text in _message_strings(path) if "docs/" in text]
    assert bare == []
    assert in_docs("deployment.md", "Upgrading a site") == (
        f"callmonitor-{RELEASE}.tar.gz's docs/deployment.md, \"Upgrading a site\"")


def test_every_section_a_message_sends_the_user_to_is_a_heading_or_a_bold_paragraph_of_that_document():
    sent = [(node.args[0].value, node.args[1].value) for path in (ROOT / "monitor").rglob("*.py")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "in_docs"]
    assert len(sent) >= 6

    def there(doc: str, section: str) -> bool:
        lines = (ROOT / "docs" / doc).read_text(encoding="utf-8").splitlines()
        return any(line.startswith("#") and line.lstrip("#").strip() == section or line.startswith(f"**{section}")
                   for line in lines)
    assert [(doc, section) for doc, section in sent if not there(doc, section)] == []


def test_a_package_of_the_extra_there_but_failing_to_import_is_named_with_its_error_and_the_upgrade_that_mends_it():
    """An installed package whose import raises (a pyarrow built for another numpy, a distributed of
    another dask) passes no check that only looks for it: its error is said, once every missing
    package is installed."""
    fails = {"pyarrow": "ImportError: numpy.core.multiarray failed to import"}.get
    assert missing_packages(None, "summary.parquet", True, found, fails) == (
        "batch cannot import pyarrow (ImportError: numpy.core.multiarray failed to import), installed for "
        f"callmonitor's [batch] extra: {sys.executable} -m pip install --upgrade 'pyarrow>=14'")
    assert missing_packages(None, "summary.csv", True, found, fails) is None  # a CSV table needs no pyarrow
    assert missing_packages(None, "summary.parquet", True, lambda module: module != "tqdm", fails) == (
        f"batch needs tqdm (callmonitor's [batch] extra): {sys.executable} -m pip install 'tqdm>=4.60'")


def test_a_vcs_install_is_named_by_the_direct_reference_pip_writes_of_it_its_commit_and_subdirectory():
    """PEP 610 records a git checkout's URL without its ``git+``, its commit apart: the hint puts
    them together as pip does (``pip freeze``), with the subdirectory the project lies in."""
    git = ('{"url": "https://git.example/it/callmonitor.git", "subdirectory": "app", '
           '"vcs_info": {"vcs": "git", "commit_id": "3e6760b0aa", "requested_revision": "main"}}')
    assert recorded_source(git) == "callmonitor @ git+https://git.example/it/callmonitor.git@3e6760b0aa#subdirectory=app"
    assert callmonitor_with("batch", recorded_source(git)) == (
        "callmonitor[batch] @ git+https://git.example/it/callmonitor.git@3e6760b0aa#subdirectory=app")
    local_git = '{"url": "file:///home/it/callmonitor", "vcs_info": {"vcs": "git", "commit_id": "3e6760b0aa"}}'
    assert recorded_source(local_git) == "callmonitor @ git+file:///home/it/callmonitor@3e6760b0aa"
    archive = '{"url": "https://wheels.example/c.whl", "archive_info": {"hash": "sha256=ab12"}}'
    assert recorded_source(archive) == "callmonitor @ https://wheels.example/c.whl#sha256=ab12"
    assert recorded_source('{"url": "file:///home/it/repo", "dir_info": {}, "subdirectory": "app"}') == (
        "/home/it/repo/app")


def test_a_malformed_direct_url_record_gives_no_source_so_the_hint_names_this_releases_wheel_not_a_traceback():
    """installed_from names this release's wheel where the record gives no source."""
    for broken in ("{", "[]", '"text"', '{"url": 3}', '{"url": ""}', '{"url": "https://g.example/c.git", '
                   '"vcs_info": {"vcs": "git"}}', '{"url": "https://g.example/c.git", "vcs_info": []}'):
        assert recorded_source(broken) is None, broken


def test_a_hint_for_one_package_of_an_extra_names_it_as_the_extra_declares_it():
    """One declaration of each package (:data:`EXTRAS`): the report's help and a Parquet table's
    reader ask for the release the extra holds to."""
    assert (requirement("matplotlib"), requirement("pyarrow"), requirement("distributed")) == (
        "matplotlib>=3.7", "pyarrow>=14", "dask[distributed]>=2024.1")
