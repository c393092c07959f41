"""Where the daemon's status socket is when no configuration places it: in the user's runtime
folder, ``$XDG_RUNTIME_DIR`` or, in a shell without the session's variables (``sudo -u``, ``su``,
cron, an ssh login), the one logind makes, ``/run/user/UID``, trusted only as logind makes it (the
user's own, no one else may write); else beside the database. A daemon takes the first of these
places, and ``status`` and ``call`` look in each in turn."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import Daemon, call_monitor, with_run_user
from monitor.config import load_config
from monitor.config.sockets import login_runtime_dir, runtime_dirs
from monitor.delivery.status_socket import socket_paths

NOBODY = 65534
"""A user other than the one running the tests (root's tests give it folders with os.chown)."""


def _runtime(base: Path, mode: int = 0o700, uid: int | None = None) -> Path:
    """``base/UID`` of the effective user, made with ``mode`` (and owned by ``uid`` when given)."""
    folder = base / str(os.geteuid())
    folder.mkdir(parents=True)
    folder.chmod(mode)
    if uid is not None:
        os.chown(folder, uid, -1)
    return folder


def test_the_runtime_folder_logind_makes_is_the_user_s_own_that_no_one_else_may_write(tmp_path):
    assert login_runtime_dir(os.geteuid(), str(tmp_path)) is None  # no login: no folder
    own = _runtime(tmp_path)
    assert login_runtime_dir(os.geteuid(), str(tmp_path)) == str(own)
    for mode in (0o770, 0o703, 0o777):  # a group, or anyone, could plant a socket there
        own.chmod(mode)
        assert login_runtime_dir(os.geteuid(), str(tmp_path)) is None, oct(mode)


def test_a_runtime_folder_of_another_user_or_a_link_is_not_the_user_s(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can give a folder to another user")
    _runtime(tmp_path / "theirs", uid=NOBODY)
    assert login_runtime_dir(os.geteuid(), str(tmp_path / "theirs")) is None
    own = _runtime(tmp_path / "own")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / str(os.geteuid())).symlink_to(own)
    assert login_runtime_dir(os.geteuid(), str(tmp_path / "linked")) is None


def test_xdg_runtime_dir_comes_first_then_the_login_s_folder_each_once(tmp_path):
    uid = os.geteuid()
    session = tmp_path / "session"
    session.mkdir()
    assert runtime_dirs({}, uid, str(tmp_path)) == []
    own = str(_runtime(tmp_path))
    assert runtime_dirs({"XDG_RUNTIME_DIR": ""}, uid, str(tmp_path)) == [own]  # set empty: as unset
    assert runtime_dirs({"XDG_RUNTIME_DIR": str(session)}, uid, str(tmp_path)) == [str(session), own]
    assert runtime_dirs({"XDG_RUNTIME_DIR": own + "/"}, uid, str(tmp_path)) == [own]
    assert runtime_dirs({"XDG_RUNTIME_DIR": str(tmp_path / "gone")}, uid, str(tmp_path)) == [own]


def test_the_daemon_s_socket_is_in_the_first_runtime_folder_else_beside_the_database(tmp_path):
    """The order ``status`` looks in is the order a daemon places its socket in: the daemon takes the
    first; a configured ``daemon.status_socket`` is the one place."""
    cfg = load_config(None, {"storage.db": str(tmp_path / "e.db")}, user_config=False)
    beside = str(tmp_path / "e.db.sock")
    assert socket_paths(cfg, {}, str(tmp_path)) == [beside]
    own = _runtime(tmp_path)
    assert socket_paths(cfg, {}, str(tmp_path)) == [str(own / "callmonitor.sock"), beside]
    session = tmp_path / "session"
    session.mkdir()
    assert socket_paths(cfg, {"XDG_RUNTIME_DIR": str(session)}, str(tmp_path)) == [
        str(session / "callmonitor.sock"), str(own / "callmonitor.sock"), beside]
    placed = load_config(None, {"storage.db": str(tmp_path / "e.db"), "daemon.status_socket": str(tmp_path / "s.sock")},
                         user_config=False)
    assert socket_paths(placed, {"XDG_RUNTIME_DIR": str(session)}, str(tmp_path)) == [str(tmp_path / "s.sock")]


def _without_session(env: dict[str, str]) -> dict[str, str]:
    """``env`` as ``sudo -u``, ``su`` or cron leave it: no ``$XDG_RUNTIME_DIR``."""
    return {k: v for k, v in env.items() if k != "XDG_RUNTIME_DIR"}


def _asked(prefix: list[str], env: dict[str, str], cwd: Path, *command: str) -> subprocess.CompletedProcess:
    return call_monitor(*command, env=env, cwd=cwd, timeout=30, prefix=prefix)


@pytest.mark.parametrize("daemon_session", [True, False], ids=["the unit's daemon", "a daemon started from cron"])
def test_status_without_the_session_s_variables_finds_the_daemon_in_run_user(pulse, env, tmp_path, daemon_session):
    """The daemon of the user's unit (its ``$XDG_RUNTIME_DIR`` is ``/run/user/UID``), asked from a
    shell without that variable: ``status`` and ``call`` found no daemon (they looked beside the
    database only). A daemon started without the variable puts its socket in the same place. Once
    it has stopped, the one line says each place looked at."""
    base = tmp_path / "run-user"
    _runtime(base)
    run_user = with_run_user(base)
    sock = f"/run/user/{os.geteuid()}/callmonitor.sock"
    db = tmp_path / "e.db"
    bare = _without_session(env)
    d = Daemon(["--caller", "softphone.monitor", "--db", str(db), "--no-notify", "--no-transcribe"],
               dict(env, XDG_RUNTIME_DIR=f"/run/user/{os.geteuid()}") if daemon_session else bare, tmp_path,
               prefix=run_user)
    try:
        assert d.wait_err("listening", 20), d.err
        assert (base / str(os.geteuid()) / "callmonitor.sock").is_socket()
        shown = _asked(run_user, bare, tmp_path, "status", "--json", "--db", str(db))
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["pid"] == d.proc.pid
        marked = _asked(run_user, bare, tmp_path, "call", "start", "--db", str(db))
        assert marked.returncode == 0, marked.stderr
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(10) == 0, d.err
    finally:
        d.kill()
    gone = _asked(run_user, bare, tmp_path, "status", "--db", str(db))
    assert (gone.returncode, gone.stderr) == (
        1, f"call-monitor: error: no daemon running (no status socket at {sock} or {db}.sock)\n")


def test_a_daemon_started_without_any_runtime_folder_is_found_beside_its_database(pulse, env, tmp_path):
    """A daemon started where the user had no runtime folder yet (cron at boot, before any login)
    listens beside its database; ``status`` from the session, its ``$XDG_RUNTIME_DIR`` set, looked
    only in the runtime folder."""
    base = tmp_path / "run-user"
    base.mkdir()
    run_user = with_run_user(base)
    db = tmp_path / "e.db"
    d = Daemon(["--caller", "softphone.monitor", "--db", str(db), "--no-notify", "--no-transcribe"],
               _without_session(env), tmp_path, prefix=run_user)
    try:
        assert d.wait_err("listening", 20), d.err
        assert Path(f"{db}.sock").is_socket()
        _runtime(base)  # the user logs in
        shown = _asked(run_user, env, tmp_path, "status", "--json", "--db", str(db))
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["pid"] == d.proc.pid
    finally:
        d.kill()


def test_a_run_user_folder_others_may_write_is_not_looked_in(own_home, tmp_path):
    """``/run/user/UID`` that a group may write (not as logind makes it): a socket there could be
    anyone's; ``status`` neither asks there nor names it."""
    base = tmp_path / "run-user"
    _runtime(base, mode=0o770)
    db = tmp_path / "e.db"
    asked = _asked(with_run_user(base), _without_session(own_home), tmp_path,
                   "status", "--db", str(db))
    assert (asked.returncode, asked.stderr) == (1, f"call-monitor: error: no daemon running (no status socket at {db}.sock)\n")
