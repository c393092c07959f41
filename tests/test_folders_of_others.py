"""What another local user could reach or put in the way: every folder a command makes is 0700
whatever the umask, from the first level it makes down to the database's, the audio's and the
reports'; a database of theirs is written to with a warning naming them; a folder of call audio or
reports they may write is warned of as the status socket's is; a link they put where SQLite keeps a
database's log is named and never followed; a loopback port they took is sent no token."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from conftest import CALLS, PY, call_monitor
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


def test_the_status_socket_s_folders_made_under_umask_000_are_0700_at_every_level(tmp_path):
    """``daemon.status_socket`` in folders not there yet: each level made 0700, as every folder a
    command makes, not only the last (Path.mkdir gives the upper ones the umask's 0777)."""
    from monitor.delivery.status_socket import StatusServer
    old = os.umask(0o000)
    try:
        server = StatusServer(str(tmp_path / "run" / "a" / "b" / "s.sock"), state=dict)
    finally:
        os.umask(old)
    try:
        modes = _modes(tmp_path)
        assert modes == {"run": 0o700, "run/a": 0o700, "run/a/b": 0o700}, modes
        assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600
    finally:
        server.close()


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
    db = _planted_database(_shared_folder(open_tmp), NOBODY)
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


def shared_audio_folder_warning(folder: Path) -> str:
    """The warning ``run`` gives of a ``daemon.audio_dir`` every user may write, at its start or a reload."""
    return (f"call-monitor: warning: call audio (daemon.audio_dir): its folder {folder} may be written by other "
            f"users, and one of them could move a call's audio (call-<id>.wav) away or put another in its place (a "
            f"purge then misses the one moved); give daemon.audio_dir a folder of your own")


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
    said = [line for line in d.err if "may be written by other users" in line]
    assert said == [shared_audio_folder_warning(audio)], d.err
    reports.chmod(0o1777)
    d = start_daemon(env, tmp_path, f'[daemon]\nreport_on_critical = true\nreport_dir = "{reports}"\n')
    try:
        stop_daemon(d)
    finally:
        d.proc.kill()
    assert [line for line in d.err if "may be written by other users" in line] == [
        f"call-monitor: warning: call reports (daemon.report_dir): its folder {reports} may be written by other users, "
        f"and one of them could move a call's report (call-<id>-report.html) away or put another in its place (a purge "
        f"then misses the one moved); give daemon.report_dir a folder of your own"], d.err


def test_a_reload_that_moves_the_call_audio_to_a_folder_every_user_may_write_warns_of_it_as_the_start_does(
        pulse, env, tmp_path):
    """As a reload that moves the status socket there says it: once, naming the folder and the
    setting; a reload that keeps it says it no more."""
    import signal

    from conftest import start_daemon, stop_daemon, wait_for
    own, audio = tmp_path / "own", tmp_path / "audio"
    own.mkdir(mode=0o700)
    audio.mkdir()
    audio.chmod(0o777)
    d = start_daemon(env, tmp_path, f'[daemon]\nwrite_audio = true\naudio_dir = "{own}"\n')
    try:
        (tmp_path / "c.toml").write_text(f'[daemon]\nwrite_audio = true\naudio_dir = "{audio}"\n')
        for reloads in (1, 2):
            d.proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda: len([e for e in d.err if "configuration reloaded" in e]) == reloads, 30), d.err
        stop_daemon(d)
    finally:
        d.proc.kill()
    said = [line for line in d.err if "may be written by other users" in line]
    assert said == [shared_audio_folder_warning(audio)], d.err


def _shared_folder(open_tmp: Path) -> Path:
    """A folder every user may write (mode 0777, no sticky bit) in ``open_tmp``."""
    shared = open_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    return shared


def _replayed_in_a_shared_folder(open_tmp: Path) -> Path:
    """A database this user made by a replay in a folder every user may write (:func:`_shared_folder`)."""
    db = _shared_folder(open_tmp) / "r.db"
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300)
    assert r.returncode == 0, r.stderr
    return db


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
    db = _replayed_in_a_shared_folder(open_tmp)
    link = _planted_link(db, ending)
    before = Path("/etc/hostname").read_bytes()
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300)
    assert (r.returncode, r.stdout, r.stderr.splitlines()) == (2, "", [
        f"call-monitor: error: {db}: cannot write the database ({link}: a symbolic link of another user, nobody "
        f"(uid {NOBODY}), where the database's {what} belongs: remove it): nothing was replayed"])
    assert Path("/etc/hostname").read_bytes() == before and link.is_symlink()


def test_a_link_planted_before_the_database_is_made_keeps_replay_from_making_it(open_tmp):
    db = _shared_folder(open_tmp) / "new.db"
    link = _planted_link(db)
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300)
    assert (r.returncode, r.stdout, r.stderr.splitlines()) == (2, "", [
        f"call-monitor: error: {db}: cannot write the database ({link}: a symbolic link of another user, nobody "
        f"(uid {NOBODY}), where the database's write-ahead log belongs: remove it): nothing was replayed"])
    assert sorted(p.name for p in db.parent.iterdir()) == ["new.db-wal"]


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


LISTENS_AS = """
import os, socket, sys
uid, accepts_as = int(sys.argv[1]), int(sys.argv[2])
if uid != os.geteuid():
    os.setgid(uid); os.setuid(uid)  # before the socket is made: the kernel's tables show its maker
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
if accepts_as != uid:
    os.setgid(accepts_as); os.setuid(accepts_as)  # as nginx's workers accept for its master of root's
print(s.getsockname()[1], flush=True)
while True:
    conn, _ = s.accept()
    conn.settimeout(5)
    got = b""
    try:
        while b"\\r\\n\\r\\n" not in got:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += chunk
        if got:
            conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: 2\\r\\n\\r\\n{}")
    except OSError:
        pass
    print(repr(got), flush=True)
    conn.close()
"""
"""A listener on a loopback port made by the user ``argv[1]``, accepting as ``argv[2]``, answering
every post 200: the port on its first line, then what each connection sent before its headers' end (``b''``: nothing)."""


class Listener:
    """:data:`LISTENS_AS` run as the user ``uid`` (accepting as ``accepts_as``, by default that user):
    its ``port``, and what each connection sent (:meth:`got`)."""

    def __init__(self, uid: int, accepts_as: int | None = None) -> None:
        self.proc = subprocess.Popen([PY, "-c", LISTENS_AS, str(uid), str(uid if accepts_as is None else accepts_as)],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def got(self) -> list[str]:
        """What each connection sent, as the listener printed it, once it is stopped."""
        self.proc.kill()
        return self.proc.communicate(timeout=10)[0].splitlines()


@pytest.fixture
def listener_of_another_user() -> Iterator[Listener]:
    """A :class:`Listener` of :data:`NOBODY`'s: another user who took the console's port."""
    if os.geteuid() == 0:
        theirs = Listener(NOBODY)
    else:
        pytest.skip("listening as another user takes root")
    yield theirs
    theirs.proc.kill()
    theirs.proc.wait(10)


TOKEN = "console-token-0123456789abcdef0123"
"""A console's shared token, as daemons post with it."""


def test_a_token_is_never_sent_over_http_to_a_loopback_port_another_user_listens_on_nothing_is_sent(
        listener_of_another_user):
    """The kernel tells who made the socket at the other end of a loopback connection (``uid`` in
    ``/proc/net/tcp``): one who took the console's port while it was down gets the connection and
    not a byte, the post failing with why (and its alert kept to post again)."""
    import urllib.error

    from monitor.delivery.sinks.webhook import post_json
    url = f"http://127.0.0.1:{listener_of_another_user.port}/webhook"
    with pytest.raises(urllib.error.URLError) as refused:
        post_json(url, b"{}", token=TOKEN, timeout_s=5)
    assert str(refused.value.reason) == (
        f"[Errno 13] another user, nobody (uid {NOBODY}), listens on 127.0.0.1 port {listener_of_another_user.port}, "
        "not this user nor root (one may take a console's port while it is down): the token and alerts are not sent "
        "to it; run the console as this user, or give it --tls-cert and --tls-key and the daemon its https:// URL")
    assert post_json(url, b"{}", token=None, timeout_s=5) == b"{}"  # no token: another receiver, as before
    got = listener_of_another_user.got()
    assert got[0] == "b''" and TOKEN not in "".join(got) and len(got) == 2, got


def test_a_token_goes_over_http_to_a_loopback_port_this_user_listens_on():
    from monitor.delivery.sinks.webhook import post_json
    ours = Listener(os.geteuid())
    try:
        assert post_json(f"http://127.0.0.1:{ours.port}/webhook", b"{}", token=TOKEN, timeout_s=5) == b"{}"
    finally:
        got = ours.got()
    assert len(got) == 1 and f"Authorization: Bearer {TOKEN}" in got[0], got


def test_replay_posting_to_the_console_s_port_taken_by_another_user_warns_why_and_keeps_its_alerts(
        listener_of_another_user, tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    url = f"http://127.0.0.1:{listener_of_another_user.port}/webhook"
    r = call_monitor("replay", CALLS / "deteriorating_8k.wav", "--no-transcribe", "--db", tmp_path / "e.db",
                     "--webhook", url, "--webhook-token-file", token, "--webhook-wait", "1", timeout=300)
    assert r.returncode == 0, r.stderr
    warned = [line for line in r.stderr.splitlines() if "not delivered (" in line]
    assert warned and f"(another user, nobody (uid {NOBODY}), listens on 127.0.0.1 port " in warned[0], r.stderr
    assert "alert(s) not delivered yet; they stay in the outbox" in r.stderr
    got = listener_of_another_user.got()
    assert got and set(got) == {"b''"}, got


@pytest.mark.parametrize("ending,what", [("-wal", "write-ahead log"), ("-shm", "shared-memory index")])
def test_an_empty_file_another_user_made_where_the_database_s_log_belongs_is_named_and_never_written(
        open_tmp, ending, what):
    """``umask 000; : > r.db-wal; : > r.db-shm`` in a folder every user may write: SQLite would write
    the call's words into that user's file, which they may read; it is refused as a link there is."""
    db = _replayed_in_a_shared_folder(open_tmp)
    planted = Path(f"{db}{ending}")
    planted.touch(mode=0o666)
    planted.chmod(0o666)
    os.chown(planted, NOBODY, NOBODY)
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", db, timeout=300)
    assert (r.returncode, r.stdout, r.stderr.splitlines()) == (2, "", [
        f"call-monitor: error: {db}: cannot write the database ({planted}: a file of another user, nobody "
        f"(uid {NOBODY}), where the database's {what} belongs: remove it): nothing was replayed"])
    assert planted.stat().st_size == 0


def test_root_replaying_into_a_user_s_database_whose_log_is_theirs_in_their_own_folder_writes_it():
    """The owner's own -wal and -shm beside their database in their folder (their daemon's) are no
    other user's to root."""
    from monitor.delivery.sqlite_file import planted_beside
    if os.geteuid() != 0:
        pytest.skip("gives files to another user: needs root")
    home = Path(tempfile.mkdtemp(prefix="callmonitor-home-"))
    try:
        db = home / "e.db"
        for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            f.touch()
            os.chown(f, NOBODY, NOBODY)
        os.chown(home, NOBODY, NOBODY)
        assert planted_beside(db) is None
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_token_goes_over_http_to_a_loopback_port_root_listens_on_whose_workers_accept_as_another_user():
    """nginx or Apache on the loopback: its master, root's, listens, and its workers (www-data) accept;
    the kernel shows the accepted connection as the worker's, and the listener as root's, which is
    whom the port is judged by, however fast the worker accepts."""
    from monitor.delivery.sinks.webhook import post_json
    if os.geteuid() != 0:
        pytest.skip("drops to another user once listening: needs root")
    theirs = Listener(0, accepts_as=NOBODY)
    try:
        for _ in range(5):
            assert post_json(f"http://127.0.0.1:{theirs.port}/webhook", b"{}", token=TOKEN, timeout_s=5) == b"{}"
        got = [theirs.proc.stdout.readline() for _ in range(5)]  # each printed once its answer is sent
    finally:
        theirs.got()
    assert len(got) == 5 and all(f"Authorization: Bearer {TOKEN}" in g for g in got), got


def test_a_loopback_port_another_user_listens_on_is_refused_at_its_ipv4_mapped_ipv6_address_too(
        listener_of_another_user):
    """``http://[::ffff:127.0.0.1]:PORT/`` reaches the listener on 127.0.0.1 as well: it is looked up
    in both its forms, and no byte is sent."""
    import urllib.error

    from monitor.delivery.sinks.webhook import post_json
    url = f"http://[::ffff:127.0.0.1]:{listener_of_another_user.port}/webhook"
    with pytest.raises(urllib.error.URLError) as refused:
        post_json(url, b"{}", token=TOKEN, timeout_s=5)
    assert str(refused.value.reason).startswith(
        f"[Errno 13] another user, nobody (uid {NOBODY}), listens on ::ffff:127.0.0.1 port "
        f"{listener_of_another_user.port}, not this user nor root"), refused.value.reason
    got = listener_of_another_user.got()
    assert set(got) <= {"b''"}, got  # a connection at most (closed once the refused post is let go)


@pytest.fixture
def proxy_of_another_user(monkeypatch) -> Iterator[Listener]:
    """A :class:`Listener` of :data:`NOBODY`'s as ``http_proxy`` (squid or cntlm under their own
    accounts), which answers every post 200 itself."""
    if os.geteuid() != 0:
        pytest.skip("listening as another user takes root")
    proxy = Listener(NOBODY)
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
    yield proxy
    proxy.proc.kill()
    proxy.proc.wait(10)


def test_a_token_goes_through_a_proxy_another_user_runs_to_a_url_of_another_machine(proxy_of_another_user):
    """The proxy's owner is not whom the check is about: it sees an http:// post whole, as
    deployment.md says of ``http_proxy``; the URL's host is another machine's."""
    from monitor.delivery.sinks.webhook import post_json
    assert post_json("http://192.0.2.7:8640/webhook", b"{}", token=TOKEN, timeout_s=5) == b"{}"
    got = [proxy_of_another_user.proc.stdout.readline()]  # printed once the answer is sent
    assert len(got) == 1 and "POST http://192.0.2.7:8640/webhook" in got[0] and TOKEN in got[0], got


def test_a_token_through_a_proxy_to_a_loopback_port_another_user_listens_on_is_not_sent(
        proxy_of_another_user, listener_of_another_user):
    """Through a proxy the request's own host and port are looked at: another user's listener there
    would get the token from the proxy; the proxy gets a connection at most, and not a byte."""
    import urllib.error

    from monitor.delivery.sinks.webhook import post_json
    port = listener_of_another_user.port
    with pytest.raises(urllib.error.URLError) as refused:
        post_json(f"http://localhost:{port}/webhook", b"{}", token=TOKEN, timeout_s=5)
    assert str(refused.value.reason).startswith(
        f"[Errno 13] another user, nobody (uid {NOBODY}), listens on localhost port {port}, not this user nor root")
    got = proxy_of_another_user.got()
    assert set(got) <= {"b''"}, got
    assert listener_of_another_user.got() == []


def test_a_folder_its_owner_s_own_private_group_may_write_is_no_shared_folder_but_another_group_s_is(open_tmp):
    """Ubuntu's and Fedora's umask 002 makes ``~/calls`` 0775, of the user's own group, which no other
    user is a member of: nobody else may write there. A group with another member, or another
    user's primary group, may."""
    from monitor.files import folder_not_own
    own, others = open_tmp / "own", open_tmp / "others"
    for folder, group in ((own, NOBODY), (others, 0)):
        folder.mkdir()
        folder.chmod(0o775)
        os.chown(folder, NOBODY, group)
    assert folder_not_own(own.stat(), NOBODY) is None
    assert folder_not_own(others.stat(), NOBODY) == "may be written by the group root"


def test_root_s_socket_in_a_folder_of_a_user_s_own_tree_is_judged_as_their_database_there_is(open_tmp):
    """Root's daemon writing in a user's home is an administrator's common case: no "belongs to"
    warning, as none of their database there; the same folder in a shared place (root's /tmp) is
    warned of naming them, and one in their home that others may write still is."""
    from monitor.delivery.status_socket import shared_folder_warning
    home, theirs = open_tmp / "home", open_tmp / "theirs"
    for folder in (home, home / "run", home / "open", theirs):
        folder.mkdir()
        os.chown(folder, NOBODY, NOBODY)
    (home / "open").chmod(0o777)
    assert shared_folder_warning(str(home / "run" / "s.sock")) is None
    assert shared_folder_warning(str(theirs / "s.sock")).startswith(
        f"status socket {theirs / 's.sock'}: its folder {theirs} belongs to nobody (uid {NOBODY}), who could ")
    assert shared_folder_warning(str(home / "open" / "s.sock")).startswith(
        f"status socket {home / 'open' / 's.sock'}: its folder {home / 'open'} may be written by other users, and one "
        "of them could ")


def test_a_configuration_file_of_another_user_is_warned_of_naming_them_but_not_one_in_their_own_folder_to_root(
        open_tmp):
    """``--config /tmp/x.toml`` of mallory's, mode 0644: no one else may write it, but mallory may
    point the webhook at a receiver of theirs. Root reading a user's own file in their home is an
    administrator's common case."""
    home = open_tmp / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    for cfg in (open_tmp / "x.toml", home / "x.toml"):
        cfg.write_text("[delivery]\nbell = false\n")
        cfg.chmod(0o644)
        os.chown(cfg, NOBODY, NOBODY)
    r = call_monitor("config", "--config", open_tmp / "x.toml", timeout=60)
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stderr.splitlines() if "warning" in line] == [
        f"call-monitor: warning: {open_tmp / 'x.toml'}: the configuration belongs to another user, nobody (uid "
        f"{NOBODY}) (mode 0644), who could post its alerts to a receiver of their own or move its database; use a "
        f"file of your own"], r.stderr
    r = call_monitor("config", "--config", home / "x.toml", timeout=60)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
