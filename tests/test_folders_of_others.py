"""Files and folders another local user could reach: every folder a command makes is 0700 whatever
the umask, from the first level it makes down to the database's, the audio's and the reports'."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from conftest import CALLS, call_monitor
from monitor.files import make_private_folder

UMASK_000 = ("sh", "-c", 'umask 000 && exec "$@"', "sh")
"""A command prefix that runs it under umask 000 (a shell's, a service manager's, a container's)."""


def _modes(top: Path) -> dict[str, int]:
    """The mode of every folder under ``top`` (``top`` not among them), by its path below it."""
    return {str(d.relative_to(top)): stat.S_IMODE(d.stat().st_mode) for d in top.rglob("*") if d.is_dir()}


def test_replay_under_umask_000_makes_every_folder_of_its_database_and_audio_0700_not_only_the_last(tmp_path):
    config = tmp_path / "n.toml"
    config.write_text(f'[daemon]\nwrite_audio = true\naudio_dir = "{tmp_path}/a/b/audio"\n'
                      f'[storage]\ndb = "{tmp_path}/d/e/f/events.db"\n[delivery]\nnotify = false\n')
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--config", config,
                     prefix=UMASK_000, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "d/e/f/events.db").is_file()
    modes = _modes(tmp_path)
    assert {"a", "a/b", "a/b/audio", "d", "d/e", "d/e/f"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o700), modes


def test_a_private_folder_is_made_0700_at_every_level_under_any_umask_and_leaves_folders_there_as_they_are(tmp_path):
    there = tmp_path / "there"
    there.mkdir(mode=0o755)
    there.chmod(0o755)
    for umask in (0o000, 0o022, 0o277):
        old = os.umask(umask)
        try:
            make_private_folder(there / f"u{umask:o}" / "x" / "y")
        finally:
            os.umask(old)
    assert stat.S_IMODE(there.stat().st_mode) == 0o755
    modes = _modes(there)
    assert len(modes) == 9 and modes == dict.fromkeys(modes, 0o700), modes
    make_private_folder(there / "u0" / "x")  # there already: nothing to do
    (tmp_path / "file").write_text("")
    try:
        make_private_folder(tmp_path / "file")
    except FileExistsError:
        pass
    else:
        raise AssertionError("a file where the folder belongs was taken for it")


NOBODY = 65534
"""The user who planted a file (root's tests give it files with os.chown)."""
AGENT = 54321
"""The user who runs a command in these tests, neither root nor :data:`NOBODY`."""


def as_user(uid: int, home: Path) -> dict:
    """``call_monitor``'s arguments that run it as the user ``uid``, whose home is ``home`` (made, theirs)."""
    home.mkdir(exist_ok=True)
    os.chown(home, uid, uid)
    return {"prefix": ("setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"),
            "env": dict(os.environ, HOME=str(home), PYTHONPATH=str(Path(__file__).resolve().parents[1]))}


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """An empty folder every user may enter (pytest's ``tmp_path`` lies in root's own), removed
    afterwards; the tests that use it act as other users, which needs root."""
    if os.geteuid() != 0:
        pytest.skip("acts as other users: needs root")
    folder = Path(tempfile.mkdtemp(prefix="callmonitor-others-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _planted_database(folder: Path, owner: int) -> Path:
    """A database of calls in ``folder``, made by this user and given to ``owner``, mode 0666."""
    db = folder / "e.db"
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300)
    assert r.returncode == 0, r.stderr
    os.chown(db, owner, owner)
    db.chmod(0o666)
    return db


def test_replay_into_a_database_another_user_planted_in_a_shared_folder_warns_naming_that_user(open_tmp):
    shared = open_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    db = _planted_database(shared, NOBODY)
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300,
                     **as_user(AGENT, open_tmp / "home"))
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if "belongs to another user" in line]
    assert said == [f"call-monitor: warning: {db}: the database belongs to another user, nobody (uid {NOBODY}), who "
                    f"may read every call written to it, and change or replace it; keep the database in a folder "
                    f"of your own (storage.db, --db)"], r.stderr
    assert "chmod" not in r.stderr  # no fix this user could make


def test_root_replaying_into_a_user_s_own_database_in_their_own_folder_says_nothing_of_its_owner(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    db = _planted_database(home, NOBODY)
    db.chmod(0o600)
    os.chown(home, NOBODY, NOBODY)
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "another user" not in r.stderr and "warning" not in r.stderr, r.stderr


def test_a_daemon_whose_audio_and_report_folders_every_user_may_write_warns_once_of_each_as_of_its_socket_s(
        pulse, env, tmp_path):
    """Another user may move ``call-1.wav`` away (a purge then misses it) or put another file in
    its place: one warning each at the start, naming the folder and the setting, as the status
    socket's shared folder's; a folder of one's own says nothing."""
    from conftest import start_daemon, stop_daemon
    audio, reports = tmp_path / "audio", tmp_path / "own"
    audio.mkdir()
    audio.chmod(0o777)
    reports.mkdir(mode=0o700)
    d = start_daemon(env, tmp_path, f'[daemon]\nwrite_audio = true\naudio_dir = "{audio}"\n'
                                    f'report_on_critical = true\nreport_dir = "{reports}"\n')
    try:
        stop_daemon(d)
    finally:
        d.proc.kill()
    said = [line for line in d.err if "other users may write" in line]
    assert said == [f"call-monitor: warning: call audio (daemon.audio_dir): other users may write its folder {audio}, "
                    f"and one of them could move a call's audio (call-<id>.wav) away or put another in its place (a "
                    f"purge then misses the one moved); give daemon.audio_dir a folder of your own"], d.err
    reports.chmod(0o1777)
    d = start_daemon(env, tmp_path, f'[daemon]\nreport_on_critical = true\nreport_dir = "{reports}"\n')
    try:
        stop_daemon(d)
    finally:
        d.proc.kill()
    assert [line for line in d.err if "other users may write" in line] == [
        f"call-monitor: warning: call reports (daemon.report_dir): other users may write its folder {reports}, and "
        f"one of them could move a call's report (call-<id>-report.html) away or put another in its place (a purge "
        f"then misses the one moved); give daemon.report_dir a folder of your own"], d.err


def _planted_link(db: Path, ending: str = "-wal") -> Path:
    """A symbolic link of :data:`NOBODY`'s at ``db`` and ``ending``, to a file of root's."""
    link = Path(f"{db}{ending}")
    link.symlink_to("/etc/hostname")
    os.lchown(link, NOBODY, NOBODY)
    return link


@pytest.mark.parametrize("ending,what", [("-wal", "write-ahead log"), ("-shm", "shared-memory index"),
                                         ("-journal", "rollback journal")])
def test_a_link_another_user_planted_where_the_database_s_log_belongs_is_named_and_replay_replays_nothing(
        open_tmp, ending, what):
    shared = open_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    db = shared / "r.db"
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300)
    assert r.returncode == 0, r.stderr
    link = _planted_link(db, ending)
    before = Path("/etc/hostname").read_bytes()
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300)
    assert (r.returncode, r.stdout, r.stderr.splitlines()) == (2, "", [
        f"call-monitor: error: {db}: cannot write the database ({link}: a symbolic link of another user, nobody "
        f"(uid {NOBODY}), where the database's {what} belongs: remove it): nothing was replayed"])
    assert Path("/etc/hostname").read_bytes() == before and link.is_symlink()


def test_a_link_planted_before_the_database_is_made_keeps_replay_from_making_it(open_tmp):
    shared = open_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    db = shared / "new.db"
    link = _planted_link(db)
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300)
    assert (r.returncode, r.stdout, r.stderr.splitlines()) == (2, "", [
        f"call-monitor: error: {db}: cannot write the database ({link}: a symbolic link of another user, nobody "
        f"(uid {NOBODY}), where the database's write-ahead log belongs: remove it): nothing was replayed"])
    assert sorted(p.name for p in shared.iterdir()) == ["new.db-wal"]


def test_the_store_refuses_to_open_a_database_whose_write_ahead_log_is_a_link_naming_it(tmp_path):
    from monitor.delivery.store import Store
    from monitor.delivery.store_errors import StoreError
    db = tmp_path / "r.db"
    Store.open(db).close()
    link = Path(f"{db}-wal")
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StoreError) as refused:
        Store.open(db)
    assert str(refused.value) == (f"{db}: cannot open the database ({link}: a symbolic link where the database's "
                                  f"write-ahead log belongs: remove it)")
    assert not (tmp_path / "elsewhere").exists()


def test_a_daemon_whose_database_has_a_planted_write_ahead_log_link_warns_naming_it_and_keeps_trying(
        pulse, env, tmp_path):
    from conftest import start_daemon, stop_daemon
    from monitor.delivery.store import Store
    db = tmp_path / "e.db"
    Store.open(db).close()
    link = _planted_link(db) if os.geteuid() == 0 else None
    if link is None:
        pytest.skip("plants another user's link: needs root")
    d = start_daemon(env, tmp_path)
    try:
        assert d.wait_err("-wal", 30), d.err
        stop_daemon(d)
    finally:
        d.proc.kill()
    assert any(f"{link}: a symbolic link of another user, nobody (uid {NOBODY}), where the database's write-ahead "
               f"log belongs: remove it" in line for line in d.err), d.err
    assert not any("chmod" in line for line in d.err), d.err  # a chmod of the link would change /etc/hostname
