"""The live daemon's call audio (``daemon.write_audio``): every call's audio is kept, under the
name the call report looks for, whatever the folder or the database does.

The daemon runs in process on a recorded line of two calls; the failing folders and databases
are real paths made unusable (a path under a file, a database that is a directory until it is
cleared mid-run).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import soundfile as sf

from conftest import ALERTING_CALL, BERLIN_REPEATED, CALLS, SPEECH, call_monitor as cli, two_calls_line, wait_for
from monitor.analysis.hop_series import read_series
from monitor.capture.sources import FileSource
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.delivery.call_files import CallFileWrites
from monitor.delivery.store import Store
from monitor.delivery.store_guard import PendingStore, open_or_pending
from monitor.events import CallSummaryEvent
from monitor.report.data import call_audio_candidates

CALL_S = 20.0


@pytest.fixture(scope="module")
def two_calls(tmp_path_factory) -> Path:
    """A recorded line: 10 s of silence, a 20 s call, 10 s of silence, another, 10 s of silence."""
    return two_calls_line(tmp_path_factory.mktemp("line") / "two_calls.wav", CALLS / "normal_8k.wav", CALL_S, 10)


def config(tmp_path: Path, audio_dir: Path):
    return load_config(overrides={"storage.db": str(tmp_path / "events.db"), "daemon.call_end_silence_s": 6.0,
                                  "daemon.write_audio": True, "daemon.audio_dir": str(audio_dir)},
                       user_config=False)


def durations(folder: Path) -> dict[str, float]:
    return {p.name: sf.info(p).duration for p in sorted(folder.glob("*.wav"))}


def under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain").write_text("a file, not a folder\n")
    return tmp_path / "plain" / "audio"


def test_each_calls_audio_is_written_as_call_id_wav(two_calls, tmp_path):
    audio = tmp_path / "audio"
    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(config(tmp_path, audio), FileSource(two_calls), store, {})
        assert daemon.run() == 0
        ids = [c.id for c in store.list_calls()]
    found = durations(audio)
    assert sorted(found) == sorted(f"call-{i}.wav" for i in ids) and len(ids) == 2
    assert all(CALL_S <= d <= CALL_S + 10 for d in found.values()), found


def test_a_report_made_without_the_daemons_config_finds_its_audio(two_calls, tmp_path):
    audio = tmp_path / "audio"
    with Store.open(tmp_path / "events.db") as store:
        assert Daemon(config(tmp_path, audio), FileSource(two_calls), store, {}).run() == 0
        plain = load_config(overrides={"storage.db": str(tmp_path / "events.db")}, user_config=False)
        for c in store.list_calls():  # the default audio folder is the database's: not where the daemon wrote
            found = [p for p, _, _ in call_audio_candidates(plain, store, c.id, c.source) if Path(p).is_file()]
            assert found == [str(audio / f"call-{c.id}.wav")]


def test_a_folder_that_fails_costs_the_audio_not_the_calls(two_calls, tmp_path, monitor_logs):
    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(config(tmp_path, under_a_file(tmp_path)), FileSource(two_calls), store, {})
        assert daemon.run() == 0
        calls = store.list_calls()
    assert daemon.calls == 2 and all(c.ended_at is not None and c.summary.get("alerts") == 0 for c in calls)
    warned = [m for level, m in monitor_logs if level == "warning"]
    assert len(warned) == 2 and all("audio not written" in m and "Not a directory" in m for m in warned)
    assert not [m for level, m in monitor_logs if level == "error"]


def test_while_the_database_fails_no_calls_audio_overwrites_another(two_calls, tmp_path):
    db = tmp_path / "events.db"
    db.mkdir()  # a directory where the database should be, for the whole run
    store = open_or_pending(lambda: Store.open(db), db, retry_s=3600)
    audio = tmp_path / "audio"
    daemon = Daemon(config(tmp_path, audio), FileSource(two_calls), store, {})
    assert daemon.run() == 0
    store.close()
    found = durations(audio)
    assert len(found) == 2 and all(name.startswith("call-started-") for name in found), found
    assert all(CALL_S <= d <= CALL_S + 10 for d in found.values()), found


def test_audio_written_before_the_database_opens_gets_the_calls_id(two_calls, tmp_path):
    db = tmp_path / "events.db"
    db.mkdir()
    store = open_or_pending(lambda: Store.open(db), db, retry_s=0.0)
    assert isinstance(store, PendingStore)
    cfg, audio = config(tmp_path, tmp_path / "audio"), tmp_path / "audio"

    def clear_the_way(event) -> None:  # in the second call: the database can be made
        if daemon.calls == 2 and event.type == "cues" and db.is_dir():
            db.rmdir()
            deadline = time.monotonic() + 20
            while store.try_open() is None:
                assert time.monotonic() < deadline, store.error
                time.sleep(0.05)

    daemon = Daemon(cfg, FileSource(two_calls), store, {"breaker": clear_the_way})
    assert daemon.run() == 0
    calls = store.list_calls()
    assert len(calls) == 2 and daemon.guard.held == 0
    assert sorted(durations(audio)) == sorted(f"call-{c.id}.wav" for c in calls)
    for c in calls:  # where the call report looks
        assert Path(call_audio_candidates(cfg, store, c.id, c.source)[0][0]).is_file()
    store.close()


def test_run_refuses_an_audio_folder_it_cannot_write_in_one_line(tmp_path):
    conf = tmp_path / "audio.toml"
    conf.write_text(f'[daemon]\nwrite_audio = true\naudio_dir = "{under_a_file(tmp_path)}"\n', encoding="utf-8")
    done = cli("run", "--config", str(conf), "--db", str(tmp_path / "events.db"), "--no-transcribe", timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "daemon.audio_dir" in lines[0] and "Not a directory" in lines[0], done.stderr


def test_purge_deletes_the_purged_calls_audio_and_reports_and_keeps_another_databases(two_calls, tmp_path):
    """``storage.retention_days`` is a privacy setting: the calls' rows went, and their audio (and
    report) stayed for ever. A file of the same name written outside the call's time is another
    call's (another database in the folder) and stays."""
    import os

    audio = tmp_path / "audio"
    with Store.open(tmp_path / "events.db") as store:
        assert Daemon(config(tmp_path, audio), FileSource(two_calls), store, {}).run() == 0
    report = tmp_path / "call-1-report.html"  # daemon.report_on_critical's name, next to the database
    report.write_text("<html></html>")
    old = time.time() - 86400
    os.utime(audio / "call-2.wav", (old, old))  # call 2 of a database that was here before
    settings = tmp_path / "c.toml"
    settings.write_text(f'[daemon]\naudio_dir = "{audio}"\n', encoding="utf-8")
    done = cli("purge", "--older-than", "0d", "--db", tmp_path / "events.db", "--config", settings, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "purged 2 call(s) older than 0d (" in done.stderr and "4 file(s) of call audio, reports and series" in done.stderr
    assert sorted(p.name for p in audio.iterdir()) == ["call-2.wav"] and not report.exists()


def test_purge_without_the_daemons_configuration_deletes_its_calls_audio_and_reports_in_their_own_folders(
        tmp_path, own_home):
    """The daemon keeps in the database the folders it writes call files to (daemon.audio_dir,
    daemon.report_dir): a purge given only the database finds them there, rather than leaving them
    for ever once the rows that named them are gone."""
    cfg = load_config(overrides={"storage.db": str(tmp_path / "ev.db"), "daemon.write_audio": True,
                                 "daemon.audio_dir": str(tmp_path / "audio"), "daemon.report_on_critical": True,
                                 "daemon.report_dir": str(tmp_path / "reports")}, user_config=False)
    with Store.open(tmp_path / "ev.db") as store:
        assert Daemon(cfg, FileSource(ALERTING_CALL), store, {}).run() == 0
        (call,) = store.list_calls()
    written = [tmp_path / "audio" / f"call-{call.id}.wav", tmp_path / "reports" / f"call-{call.id}-report.html",
               tmp_path / "audio" / f"call-{call.id}-series.npz"]
    assert all(p.is_file() for p in written)
    done = cli("purge", "--db", tmp_path / "ev.db", "--older-than", "0s", env=own_home, timeout=120)
    assert done.returncode == 0 and "purged 1 call(s)" in done.stderr, done.stderr
    assert "3 file(s) of call audio, reports and series" in done.stderr
    assert not any(p.exists() for p in written)


def test_purge_without_the_replays_configuration_deletes_the_series_it_wrote_in_daemon_audio_dir(tmp_path, own_home):
    """A replay writes a recording's series in daemon.audio_dir and keeps that folder in the database
    as the daemon does: a purge given only the database (a desktop removed, the daemon's own
    retention with another configuration) deletes them there too, rather than leaving them for ever."""
    conf = tmp_path / "replay.toml"
    conf.write_text(f'[daemon]\naudio_dir = "{tmp_path / "audio"}"\n')
    done = cli("replay", SPEECH / "en_us_normal_a40.wav", "--db", tmp_path / "ev.db", "--config", conf, env=own_home,
               timeout=120)
    assert done.returncode == 0, done.stderr
    (series,) = (tmp_path / "audio").glob("*-series.npz")
    done = cli("purge", "--db", tmp_path / "ev.db", "--older-than", "0s", env=own_home, timeout=120)
    assert done.returncode == 0 and "purged 1 call(s) older than 0s (1 file(s) of" in done.stderr, done.stderr
    assert not series.exists()


def test_the_daemons_own_purge_deletes_the_purged_calls_audio(two_calls, tmp_path):
    audio = tmp_path / "audio"
    cfg = config(tmp_path, audio)
    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(cfg, FileSource(two_calls), store, {})
        assert daemon.run() == 0 and len(list(audio.iterdir())) == 4  # their audio and series
        daemon.recent._last_purge = None
        daemon.recent.purge_old(now=time.time() + (cfg.storage.retention_days + 1) * 86400)
        assert store.list_calls() == [] and list(audio.iterdir()) == []


def test_purge_deletes_audio_the_database_never_named_once_it_is_older_than_the_retention(tmp_path):
    """A call recorded while the database failed, whose daemon stopped before it had an id, left
    ``call-started-<time>.wav`` and no row: the retention period holds for it too. A recent one, a
    link of that name and one a running daemon still waits to name stay."""
    import os

    from monitor.delivery.call_files import audio_folder_problem

    audio = tmp_path / "audio"
    assert audio_folder_problem(config(tmp_path, audio)) is None  # the daemon's start names its database there
    old = time.time() - 40 * 86400
    for name in ("call-started-20261001-101500.wav", "call-started-20261001-111500.wav",
                 "call-started-20261130-090000.wav"):
        (audio / name).write_bytes(b"RIFF")
    for name in ("call-started-20261001-101500.wav", "call-started-20261001-111500.wav"):
        os.utime(audio / name, (old, old))
    (audio / "call-started-20261002-080000.wav").symlink_to(audio / "call-started-20261130-090000.wav")
    settings = tmp_path / "c.toml"
    settings.write_text(f'[daemon]\naudio_dir = "{audio}"\n', encoding="utf-8")
    Store.open(tmp_path / "events.db").close()
    done = cli("purge", "--db", tmp_path / "events.db", "--config", settings, timeout=120)  # 30 days
    assert done.returncode == 0, done.stderr
    assert "purged 0 call(s) older than 30 days (2 file(s) of call audio, reports and series)" in done.stderr
    assert sorted(p.name for p in audio.glob("call-*")) == ["call-started-20261002-080000.wav",
                                                            "call-started-20261130-090000.wav"]
    (audio / "call-started-20261003-120000.wav").write_bytes(b"RIFF")
    for name in ("call-started-20261130-090000.wav", "call-started-20261003-120000.wav"):
        os.utime(audio / name, (old, old))
    cfg = config(tmp_path, audio)
    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(cfg, FileSource(CALLS / "normal_8k.wav"), store, {})
        daemon._unnamed_audio.append((1, audio / "call-started-20261130-090000.wav"))  # still to be named
        daemon.recent.purge_old()  # the daemon's own retention, at its start and daily
    assert sorted(p.name for p in audio.glob("call-*")) == ["call-started-20261002-080000.wav",
                                                            "call-started-20261130-090000.wav"]


def test_purge_deletes_a_series_or_report_a_kill_left_half_written_once_it_is_older_than_the_retention(tmp_path):
    """A daemon killed (SIGKILL, a power loss) in the second it writes an ended call's series or
    report leaves the file under the name it is written under, ``.series-<random>.npz`` or
    ``.report-<random>.html``, which no row names: the retention period holds for it too. One
    written lately stays (a running daemon may be writing it), and so does one in a folder of
    another database."""
    import os

    from monitor.delivery.call_files import audio_folder_problem, report_folder_problem

    audio, reports, other = tmp_path / "audio", tmp_path / "reports", tmp_path / "other"
    cfg = load_config(overrides={"storage.db": str(tmp_path / "events.db"), "daemon.audio_dir": str(audio),
                                 "daemon.report_dir": str(reports)}, user_config=False)
    assert audio_folder_problem(cfg) is None and report_folder_problem(cfg) is None  # named this database's
    other.mkdir()
    old = time.time() - 40 * 86400
    for path in (audio / ".series-0a1b2c3d.npz", reports / ".report-4e5f6a7b.html", other / ".series-0a1b2c3d.npz"):
        path.write_bytes(b"half written")
        os.utime(path, (old, old))
    (audio / ".series-8c9d0e1f.npz").write_bytes(b"being written")
    settings = tmp_path / "c.toml"
    settings.write_text(f'[daemon]\naudio_dir = "{audio}"\nreport_dir = "{reports}"\n', encoding="utf-8")
    Store.open(tmp_path / "events.db").close()
    done = cli("purge", "--db", tmp_path / "events.db", "--config", settings, timeout=120)  # 30 days
    assert done.returncode == 0, done.stderr
    assert "purged 0 call(s) older than 30 days (2 file(s) of call audio, reports and series)" in done.stderr
    assert [p.name for p in audio.iterdir() if p.name.startswith(".series-")] == [".series-8c9d0e1f.npz"]
    assert not list(reports.glob(".report-*")) and (other / ".series-0a1b2c3d.npz").exists()


def test_purge_deletes_the_series_a_killed_replay_left_half_written_in_its_folder_that_names_no_database(tmp_path):
    """``replay --db q/q.db`` writes its calls' series beside its database, in a folder no owner file
    names (no daemon's): a replay killed as it wrote one leaves ``.series-<random>.npz`` there, and a
    purge of the database deletes it once older, whether it was written whole before its rename
    (naming its database) or broken off. Only names of exactly that pattern go (32 hexadecimal
    digits, or the 8 characters earlier releases drew), and not one written within the hour."""
    import os
    import uuid

    folder = tmp_path / "q"
    folder.mkdir()
    done = cli("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", folder / "q.db", timeout=120)
    assert done.returncode == 0, done.stderr
    series, = folder.glob("q-*-call-1-series.npz")
    whole, broken, old_style, other_name, recent = (folder / f".series-{uuid.uuid4().hex}.npz",
                                                     folder / f".series-{uuid.uuid4().hex}.npz",
                                                     folder / ".series-k1_ll3d8.npz", folder / ".series-k1ll3d.npz",
                                                     folder / f".series-{uuid.uuid4().hex}.npz")
    three_days_ago = time.time() - 3 * 86400
    for path in (whole, broken, old_style, other_name, recent):
        path.write_bytes(series.read_bytes()[:300] if path is broken else series.read_bytes())
        if path is not recent:
            os.utime(path, (three_days_ago, three_days_ago))
    done = cli("purge", "--older-than", "1d", "--db", folder / "q.db", timeout=120)
    assert done.returncode == 0 and "(3 file(s) of call audio, reports and series)" in done.stderr, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted([series.name, "q.db", other_name.name, recent.name])


def test_a_purge_leaves_a_half_written_series_it_cannot_tell_is_its_own_in_a_folder_another_database_replays_to(
        tmp_path):
    """Two databases replayed in one folder (``replay --db q.db``, ``--db r.db``), which names
    neither: a series broken off as it was written names no database, and a purge of q.db leaves it
    (it may be r.db's, whose retention is its own); one written whole before its rename names its
    database, and q.db's purge deletes q.db's, not r.db's."""
    import os
    import uuid

    for db in ("q.db", "r.db"):
        done = cli("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", tmp_path / db, timeout=120)
        assert done.returncode == 0, done.stderr
    (q_series,), (r_series,) = tmp_path.glob("q-*-call-1-series.npz"), tmp_path.glob("r-*-call-1-series.npz")
    broken, qs, rs = (tmp_path / f".series-{uuid.uuid4().hex}.npz" for _ in range(3))
    three_days_ago = time.time() - 3 * 86400
    for path, data in ((broken, q_series.read_bytes()[:300]), (qs, q_series.read_bytes()), (rs, r_series.read_bytes())):
        path.write_bytes(data)
        os.utime(path, (three_days_ago, three_days_ago))
    done = cli("purge", "--older-than", "1d", "--db", tmp_path / "q.db", timeout=120)
    assert done.returncode == 0 and "(1 file(s) of call audio, reports and series)" in done.stderr, done.stderr
    assert broken.exists() and not qs.exists() and rs.exists()


def test_a_purge_of_another_database_leaves_the_unnamed_audio_in_a_folder_that_names_no_database(tmp_path):
    """A daemon started before audio folders named their database (not restarted since the
    upgrade) writes ``call-started-*.wav`` beside its database, with no owner file yet. A QA
    database beside it, purged with a shorter --older-than, deletes none of them: no row says
    whose they are. Once the daemon's start has named its database there, its purge deletes them."""
    import os

    from monitor.delivery.call_files import audio_folder_problem

    Store.open(tmp_path / "events.db").close()
    Store.open(tmp_path / "qa.db").close()
    daemons = tmp_path / "call-started-20261120-101500.wav"
    daemons.write_bytes(b"RIFF")
    three_days_ago = time.time() - 3 * 86400
    os.utime(daemons, (three_days_ago, three_days_ago))
    done = cli("purge", "--older-than", "1d", "--db", tmp_path / "qa.db", timeout=120)
    assert done.returncode == 0 and "file(s) of call audio" not in done.stderr, done.stderr
    assert daemons.exists()
    assert audio_folder_problem(config(tmp_path, tmp_path)) is None  # the daemon started again
    done = cli("purge", "--older-than", "1d", "--db", tmp_path / "qa.db", timeout=120)
    assert done.returncode == 0 and daemons.exists(), done.stderr
    done = cli("purge", "--older-than", "1d", "--db", tmp_path / "events.db", timeout=120)
    assert done.returncode == 0 and "(1 file(s) of call audio, reports and series)" in done.stderr, done.stderr
    assert not daemons.exists()


def test_purge_deletes_only_the_files_the_daemon_wrote(two_calls, tmp_path):
    """The daemon writes its own regular files, of live calls: a link or a folder of that name is
    the user's, and so is a recording named like the call id of a replay of it (its report too)."""
    audio = tmp_path / "audio"
    with Store.open(tmp_path / "events.db") as store:
        assert Daemon(config(tmp_path, audio), FileSource(two_calls), store, {}).run() == 0
        now = time.time()
        replayed = store.start_call(str(audio / "recorded.wav"), started_at=now - 60)
        store.end_call(replayed, 60.0, ended_at=now)
    kept = tmp_path / "kept.wav"
    (audio / "call-1.wav").rename(kept)
    (audio / "call-1.wav").symlink_to(kept)  # the user moved the audio and linked it
    (tmp_path / "call-2-report.html").mkdir()
    (audio / f"call-{replayed}.wav").write_bytes(b"the user's own recording")
    (tmp_path / f"call-{replayed}-report.html").write_text("<html></html>")  # report CALL -o
    settings = tmp_path / "c.toml"
    settings.write_text(f'[daemon]\naudio_dir = "{audio}"\n', encoding="utf-8")
    done = cli("purge", "--older-than", "0d", "--db", tmp_path / "events.db", "--config", settings, timeout=120)
    assert done.returncode == 0 and "purged 3 call(s)" in done.stderr, done.stderr
    assert "not deleted" not in done.stderr and "3 file(s) of call audio" in done.stderr, done.stderr
    assert sorted(p.name for p in audio.iterdir()) == ["call-1.wav", f"call-{replayed}.wav"]
    assert (audio / "call-1.wav").is_symlink() and kept.exists()
    assert (tmp_path / "call-2-report.html").is_dir() and (tmp_path / f"call-{replayed}-report.html").exists()


def test_after_a_reload_moving_the_database_the_files_go_and_are_purged_beside_the_one_that_runs(two_calls,
                                                                                                  tmp_path):
    """A reload that moves storage.db applies at the next start: the calls are written to the
    database that runs, so their audio goes beside it, and its purge deletes it there."""
    cfg = load_config(overrides={"storage.db": str(tmp_path / "events.db"), "daemon.call_end_silence_s": 6.0,
                                 "daemon.write_audio": True}, user_config=False)
    moved = dataclasses.replace(cfg, storage=dataclasses.replace(cfg.storage, db=str(tmp_path / "new" / "x.db")))
    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(cfg, FileSource(two_calls), store, {}, reload=lambda: moved)
        daemon.sinks["sighup"] = lambda ev: ev.type == "cues" and daemon.calls == 1 and ev.t == 3.0 \
            and daemon.request_reload()
        assert daemon.run() == 0 and daemon.cfg is moved
        assert sorted(p.name for p in tmp_path.glob("**/call-*.wav")) == ["call-1.wav", "call-2.wav"]
        assert len(list(tmp_path.glob("call-*.wav"))) == 2
        daemon.recent._last_purge = None
        daemon.recent.purge_old(now=time.time() + (cfg.storage.retention_days + 1) * 86400)
        assert store.list_calls() == [] and list(tmp_path.glob("**/call-*.wav")) == []


def test_a_call_audio_folder_belongs_to_one_database(two_calls, tmp_path):
    """Two databases (two daemons) writing call audio into one folder: their call ids repeat, so
    the second daemon's call 1 would overwrite the first's call-1.wav, and its purge delete the
    first's files. The folder belongs to the database whose daemon took it first: a daemon of
    another database is refused it in one line (exit 2), and another database's purge deletes
    nothing there. A folder whose database is gone is free again."""
    from monitor.delivery.call_files import audio_folder_problem

    shared = tmp_path / "audio"
    cfg = config(tmp_path, shared)
    assert audio_folder_problem(cfg) is None  # what `run` checks as it starts
    with Store.open(tmp_path / "events.db") as store:
        assert Daemon(cfg, FileSource(two_calls), store, {}).run() == 0
    kept = durations(shared)
    assert list(kept) == ["call-1.wav", "call-2.wav"]
    other = tmp_path / "other"
    other.mkdir()
    conf = other / "c.toml"
    conf.write_text(f'[daemon]\nwrite_audio = true\naudio_dir = "{shared}"\n', encoding="utf-8")
    done = cli("run", "--config", conf, "--db", other / "b.db", "--caller", "nothing.monitor", "--no-wait-for-source",
               "--no-transcribe", timeout=60)
    assert done.returncode == 2 and done.stderr == (
        f"call-monitor: error: daemon.audio_dir: {shared} holds the call audio of another database, "
        f"{tmp_path / 'events.db'} (its calls have the same call-<id>.wav names): give each database its own "
        "folder\n"), done.stderr
    # the other database's own calls (ids 1 and 2, at the same times), purged with the shared folder configured
    with Store.open(other / "b.db") as store:
        assert Daemon(config(other, other / "audio"), FileSource(two_calls), store, {}).run() == 0
    done = cli("purge", "--older-than", "0d", "--db", other / "b.db", "--config", conf, timeout=120)
    assert done.returncode == 0, done.stderr
    assert durations(shared) == kept
    assert f"{shared} holds the call files of another database, {tmp_path / 'events.db'}: none of them deleted" \
        in done.stderr
    (tmp_path / "events.db").unlink()  # its database gone: the folder is free
    assert audio_folder_problem(dataclasses.replace(cfg, storage=dataclasses.replace(
        cfg.storage, db=str(other / "b.db")))) is None


def test_a_report_folder_belongs_to_one_database(tmp_path):
    """Two databases whose daemons write the reports of critical calls (daemon.report_on_critical)
    into one daemon.report_dir, apart from their audio: their call ids repeat, so the second
    daemon's call 1 would overwrite the first's call-1-report.html, and its purge delete it. The
    folder belongs to the database whose daemon took it first: a daemon of another database is
    refused it in one line (exit 2), and another database's purge deletes nothing there."""
    from monitor.delivery.call_files import call_files_problem

    reports = tmp_path / "reports"
    reports.mkdir()
    first = tmp_path / "a" / "events.db"
    first.parent.mkdir()
    Store.open(first).close()
    cfg = load_config(overrides={"storage.db": str(first), "daemon.report_on_critical": True,
                                 "daemon.report_dir": str(reports)}, user_config=False)
    assert call_files_problem(cfg) is None  # what `run` checks as it starts
    theirs = reports / "call-1-report.html"
    theirs.write_text("<html>the first database's call 1</html>")
    conf = tmp_path / "b.toml"
    conf.write_text(f'[daemon]\nreport_on_critical = true\nreport_dir = "{reports}"\n', encoding="utf-8")
    other = tmp_path / "b" / "events.db"
    done = cli("run", "--config", conf, "--db", other, "--caller", "nothing.monitor", "--no-wait-for-source",
               "--no-transcribe", timeout=60)
    assert done.returncode == 2 and done.stderr == (
        f"call-monitor: error: daemon.report_dir: {reports} holds the call reports of another database, {first} "
        "(its calls have the same call-<id>-report.html names): give each database its own folder\n"), done.stderr
    with Store.open(other) as store:  # the other database's own live call 1, at the same time
        call = store.start_call("live:caller=x", started_at=time.time() - 60)
        store.end_call(call, 60.0, ended_at=time.time())
    done = cli("purge", "--older-than", "0d", "--db", other, "--config", conf, timeout=120)
    assert done.returncode == 0 and "purged 1 call(s)" in done.stderr, done.stderr
    assert f"{reports} holds the call files of another database, {first}: none of them deleted" in done.stderr
    assert theirs.read_text() == "<html>the first database's call 1</html>"


def test_a_report_of_another_database_never_draws_the_audio_of_the_daemon_that_owns_the_folder(two_calls, tmp_path):
    """A QA database replayed beside the daemon's: its call 1 is not the daemon's call-1.wav (whose
    caller is someone else), whatever their lengths."""
    from monitor.delivery.call_files import audio_folder_problem

    cfg = config(tmp_path, tmp_path)
    assert audio_folder_problem(cfg) is None
    with Store.open(tmp_path / "events.db") as store:
        assert Daemon(cfg, FileSource(two_calls), store, {}).run() == 0
    with Store.open(tmp_path / "qa.db") as qa:
        call = qa.start_call(str(two_calls))
        assert [p for p, _, _ in call_audio_candidates(cfg, qa, call, str(two_calls))] == [str(two_calls)]


def test_ctrl_c_as_a_folder_is_named_its_database_leaves_no_temporary_file_there(tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM) as the daemon names its call audio folder its database, the owner file
    written whole beside the calls' files and about to be put in place: the file being written goes
    with the stop, rather than staying in the folder under a name of its own."""
    from monitor.delivery.call_files import audio_folder_problem

    audio = tmp_path / "audio"
    replace = os.replace

    def ctrl_c_then_replace(*paths: str) -> None:
        monkeypatch.setattr(os, "replace", replace)
        signal.raise_signal(signal.SIGINT)
        replace(*paths)

    monkeypatch.setattr(os, "replace", ctrl_c_then_replace)
    with pytest.raises(KeyboardInterrupt):
        audio_folder_problem(config(tmp_path, audio))
    assert list(audio.iterdir()) == []


def test_a_replayed_call_is_never_drawn_with_a_call_file_of_a_folder_written_before_folders_had_an_owner(
        two_calls, tmp_path):
    """Only the daemon's live calls have a call-<id>.wav: a QA database's replayed call 1 beside an
    audio folder the daemon wrote before folders named their database (no owner file yet: the
    daemon not started again since) is drawn from its own recording, not the daemon's call-1.wav."""
    from monitor.delivery.call_files import OWNER_FILE

    cfg = config(tmp_path, tmp_path)
    with Store.open(tmp_path / "events.db") as store:
        assert Daemon(cfg, FileSource(two_calls), store, {}).run() == 0
    (tmp_path / OWNER_FILE).unlink(missing_ok=True)  # as written by an earlier version
    assert (tmp_path / "call-1.wav").is_file()
    with Store.open(tmp_path / "qa.db") as qa:
        call = qa.start_call(str(two_calls))
        assert [p for p, _, _ in call_audio_candidates(cfg, qa, call, str(two_calls))] == [str(two_calls)]


def test_a_live_call_keeps_its_legs_so_that_a_report_without_its_audio_names_both(two_calls, tmp_path):
    """The daemon stores each call's legs (their columns in its audio of the call, written or not):
    the report of a call whose audio was not kept says the agent's leg was heard too, not the
    caller's alone; a live call stored before the daemon kept them reads as the caller's."""
    from monitor.report import render
    from monitor.report.data import from_store

    cfg = load_config(overrides={"storage.db": str(tmp_path / "events.db"), "daemon.call_end_silence_s": 6.0},
                      user_config=False)
    with Store.open(tmp_path / "events.db") as store:
        assert Daemon(cfg, FileSource(two_calls), store, {}).run() == 0
        calls = store.list_calls()
        assert [c.channels for c in calls] == [{"caller": 0, "agent": 1}] * 2
        data = from_store(store, calls[0].id, cfg)
        older = store.start_call("live:caller=softphone.monitor", channels=None)
        store.end_call(older, 10.0)
        assert from_store(store, older, cfg).legs == ("caller",)
    assert data.legs == ("caller", "agent") and not data.tracks
    assert "legs: caller, agent" in render(data, "html").decode()


def test_a_calls_series_is_written_off_the_capture_loop_which_goes_on_with_the_next_call_meanwhile(
        two_calls, tmp_path):
    """A call of hours takes most of a second to compress its series: the daemon writes them in a
    thread of their own. While that thread is held (busy until the test lets it go), the capture
    loop goes on: the next call is monitored to its end, neither call's series file there yet; the
    daemon returns only once both are written whole, mode 0600."""
    audio, gate = tmp_path / "audio", threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    pool.submit(gate.wait)  # the writing thread's one worker busy until the test lets it go
    said: list = []
    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(config(tmp_path, audio), FileSource(two_calls), store, {"kept": said.append})
        daemon.call_files = CallFileWrites(pool)
        running = threading.Thread(target=daemon.run)
        running.start()
        try:
            assert wait_for(lambda: sum(isinstance(e, CallSummaryEvent) for e in said) == 2, 60)
            assert running.is_alive() and not list(audio.glob("*-series.npz"))
        finally:
            gate.set()
            running.join(60)
    assert not running.is_alive()
    written = sorted(audio.glob("*-series.npz"))
    assert [p.name for p in written] == ["call-1-series.npz", "call-2-series.npz"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in written)
    assert [read_series(str(p)).call_id for p in written] == [1, 2]


@pytest.fixture(scope="module")
def critical_then_normal(tmp_path_factory) -> Path:
    """A recorded line: a call that raises a critical alert (the first 100 s of
    :data:`ALERTING_CALL`: its possible_emergency comes at 92 s), then a normal one of 20 s, each
    after 10 s of silence, and 10 s of silence after them."""
    import numpy as np
    critical, sr = sf.read(ALERTING_CALL, frames=8000 * 100, dtype="float32")
    normal, _ = sf.read(CALLS / "normal_8k.wav", frames=int(sr * CALL_S), dtype="float32")
    gap = np.zeros((sr * 10, critical.shape[1]), np.float32)
    path = tmp_path_factory.mktemp("line") / "critical_then_normal.wav"
    sf.write(path, np.concatenate([gap, critical, gap, normal, gap]), sr)
    return path


def reporting(tmp_path: Path, reports: Path):
    return dataclasses.replace(config(tmp_path, tmp_path / "audio"), daemon=dataclasses.replace(
        config(tmp_path, tmp_path / "audio").daemon, report_on_critical=True, report_dir=str(reports)))


def running_held(daemon: Daemon) -> tuple[threading.Thread, threading.Event]:
    """``daemon`` running in a thread of its own, its call files' one writer held until the event is set."""
    gate, pool = threading.Event(), concurrent.futures.ThreadPoolExecutor(max_workers=1)
    pool.submit(gate.wait)
    daemon.call_files = CallFileWrites(pool)
    running = threading.Thread(target=daemon.run)
    running.start()
    return running, gate


def test_a_calls_report_is_written_off_the_capture_loop_after_its_series_and_listed_once_written(
        critical_then_normal, tmp_path):
    """A long call's report takes more than a second to draw: the daemon writes it in the thread
    that writes the series, after the call's series, which it draws. While that thread is held,
    the loop monitors the next call to its end, and neither the report nor a link to it is there
    (the heartbeat links no file that does not exist yet); once it is let go, the
    report is written, drawn after its series, and the heartbeat links it; the daemon returns only
    once it is written."""
    reports, said = tmp_path / "reports", []
    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(reporting(tmp_path, reports), FileSource(critical_then_normal), store, {"kept": said.append})
        running, gate = running_held(daemon)
        try:
            assert wait_for(lambda: sum(isinstance(e, CallSummaryEvent) for e in said) == 2, 60)
            assert running.is_alive() and not list(reports.glob("*.html"))
            assert not list((tmp_path / "audio").glob("*-series.npz"))
            assert daemon.heartbeat_status()["reports"] == []
        finally:
            gate.set()
            running.join(60)
        assert not running.is_alive()
        assert daemon.heartbeat_status()["reports"] == [{"call_id": 1, "url": str(reports / "call-1-report.html")}]
    report, series = reports / "call-1-report.html", tmp_path / "audio" / "call-1-series.npz"
    assert sorted(p.name for p in reports.glob("*.html")) == ["call-1-report.html"]
    assert series.stat().st_mtime_ns <= report.stat().st_mtime_ns  # the report drew the series written before it


def test_a_report_that_cannot_be_written_is_one_line_naming_it_and_the_monitoring_goes_on(
        critical_then_normal, tmp_path, monitor_logs):
    """The report's folder is a file (where the daemon's start did not look: it was started
    without ``run``'s check): one warning naming the report's file; both calls are stored and no
    report is listed."""
    reports = tmp_path / "reports"
    reports.write_text("a file, not a folder\n")
    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(reporting(tmp_path, reports), FileSource(critical_then_normal), store, {})
        assert daemon.run() == 0
        assert len(store.list_calls()) == 2 and daemon.heartbeat_status()["reports"] == []
    lines = [m for level, m in monitor_logs if "report" in m and level in ("warning", "error")]
    assert len(lines) == 1 and lines[0].startswith(f"{reports / 'call-1-report.html'}: "), lines


def test_a_live_calls_report_draws_the_series_written_beside_its_audio(two_calls, tmp_path):
    """The daemon writes each call's series beside its audio at the call's end; its report draws
    them: the speech, breaths and coughs as the call was analysed, the regions its audio analysed
    again gives (the waveform as the call heard it, before the file's reading conditions it)."""
    from monitor.report import from_store
    audio = tmp_path / "audio"
    cfg = config(tmp_path, audio)
    with Store.open(tmp_path / "events.db") as store:
        assert Daemon(cfg, FileSource(two_calls), store, {}).run() == 0
    assert sorted(p.name for p in audio.iterdir()) == ["call-1-series.npz", "call-1.wav", "call-2-series.npz",
                                                      "call-2.wav"]
    with Store.open(tmp_path / "events.db") as store:
        drawn = from_store(store, 1, cfg)
        (audio / "call-1-series.npz").rename(tmp_path / "call-1-series.npz")
        analysed = from_store(store, 1, cfg)
    for leg in ("caller", "agent"):
        ours, again = drawn.tracks[leg], analysed.tracks[leg]
        assert (ours.speech, ours.pauses, ours.breaths, ours.coughs) == \
               (again.speech, again.pauses, again.breaths, again.coughs)
        assert len(ours.env_peak) == len(again.env_peak)


def test_a_call_audio_file_planted_in_its_folder_is_never_written_through(tmp_path):
    """``call-<id>.wav`` there before, in a folder another user may write (a shared audio folder): a
    symbolic link to a file they read, or a file of theirs, would receive the call's audio. The name
    is freed and a new private file made, written through its own descriptor: the file linked to is
    left as it was."""
    import stat
    from monitor.delivery.call_files import new_audio_file
    folder, theirs = tmp_path / "audio", tmp_path / "theirs.wav"
    folder.mkdir()
    theirs.write_bytes(b"kept")
    theirs.chmod(0o666)
    (folder / "call-7.wav").symlink_to(theirs)
    made = new_audio_file(folder, 7, time.time())
    assert theirs.read_bytes() == b"kept"
    path, fd = made
    with sf.SoundFile(fd, "w", samplerate=8000, channels=1, subtype="PCM_16", format="WAV", closefd=True) as out:
        out.write([0.0] * 800)
    assert path == folder / "call-7.wav" and theirs.read_bytes() == b"kept"
    st = path.lstat()
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert sf.info(str(path)).frames == 800



def test_audio_of_a_call_started_at_the_same_local_second_as_another_never_overwrites_it(tmp_path, in_berlin):
    """While a failing database holds calls back, their audio is named by the local start time: a
    second call started in the same second is ``-2`` while the first's file is still written, and
    ``-3`` while it waits, closed, for its call's id; once the first is renamed ``call-<id>.wav``, the
    next takes the name it left. Every file keeps what was written to it."""
    from monitor.delivery.call_files import new_audio_file
    folder, start = tmp_path / "audio", datetime.fromisoformat("2026-10-24T10:15:00+02:00").timestamp()
    first, fd = new_audio_file(folder, None, start)
    os.write(fd, b"first call")
    second, fd2 = new_audio_file(folder, None, start + 0.5)
    os.write(fd2, b"second call")
    os.close(fd)
    third, fd3 = new_audio_file(folder, None, start)
    first.rename(first.with_name("call-5.wav"))  # the id known at last (the daemon's rename)
    fourth, fd4 = new_audio_file(folder, None, start)
    for written in (fd2, fd3, fd4):
        os.close(written)
    assert [p.name for p in (first, second, third, fourth)] == [
        "call-started-20261024-101500.wav", "call-started-20261024-101500-2.wav",
        "call-started-20261024-101500-3.wav", "call-started-20261024-101500.wav"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {
        "call-5.wav": b"first call", "call-started-20261024-101500-2.wav": b"second call",
        "call-started-20261024-101500-3.wav": b"", "call-started-20261024-101500.wav": b""}


def test_audio_of_calls_started_in_the_hour_daylight_saving_time_repeats_is_named_with_its_zone(tmp_path,
                                                                                                 in_berlin):
    """Berlin's clocks read 02:30:00 twice on 2026-10-25, at +02:00 and again at +01:00: the audio of a
    call started at each says its zone (``-CEST``, ``-CET``), so the names tell which came first and
    the second is no ``-2`` of the first; an hour before and after, names are as they were. The purge
    of audio the database never named finds both kinds of name."""
    from monitor.delivery.call_files import audio_folder_problem, new_audio_file, purge_unnamed_audio
    cest, cet = in_berlin
    audio = tmp_path / "audio"
    cfg = config(tmp_path, audio)
    assert audio_folder_problem(cfg) is None  # the folder names its database, as the daemon's start does
    made = [new_audio_file(audio, None, t) for t in (cest - 3600, cest, cet, cet + 3600)]
    for _, fd in made:
        os.close(fd)
    assert [p.name for p, _ in made] == ["call-started-20261025-013000.wav", "call-started-20261025-023000-CEST.wav",
                                         "call-started-20261025-023000-CET.wav", "call-started-20261025-033000.wav"]
    assert purge_unnamed_audio(cfg, time.time() + 60) == 4 and list(audio.glob("*.wav")) == []


def test_audio_named_in_a_repeated_hour_whose_two_readings_share_one_abbreviation_says_the_offset_without_a_colon(
        monkeypatch):
    """A zone that calls both sides of its change by one name (a POSIX ``TZ`` of ``XYZ-1XYZ-2``) tells
    the two 02:30:00 apart by their UTC offsets, written without the colon some shared file systems
    refuse in a name."""
    from monitor.delivery.call_files import started_name
    monkeypatch.setenv("TZ", "XYZ-1XYZ-2,M3.5.0,M10.5.0/3")
    time.tzset()
    try:
        names = [started_name(datetime.fromisoformat(t).timestamp()) for t in BERLIN_REPEATED]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert names == ["call-started-20261025-023000-+0200", "call-started-20261025-023000-+0100"]


def test_a_write_that_fails_mid_call_is_one_warning_naming_the_call_and_its_file_which_is_closed_whole(
        two_calls, tmp_path, monitor_logs):
    """A disk that fills mid-call (here a real limit on the size of the files the process writes,
    which the calls' audio reaches 6 s in): one warning per call naming the call, its file and when
    its audio stopped; the file closed with what it holds, its header saying so (it plays); the calls
    monitored and stored to their end, and no file left open, call after call."""
    import resource
    import struct
    audio, limit = tmp_path / "audio", 200_000
    with Store.open(tmp_path / "events.db") as store:
        open_before = sorted(os.listdir("/proc/self/fd"))
        daemon = Daemon(config(tmp_path, audio), FileSource(two_calls), store, {})
        before = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, before[1]))
        try:
            assert daemon.run() == 0
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, before)
        assert sorted(os.listdir("/proc/self/fd")) == open_before
        calls = sorted(store.list_calls(), key=lambda c: c.id)
    assert len(calls) == 2 and all(c.ended_at is not None for c in calls)
    warned = [m for level, m in monitor_logs if level == "warning"]
    assert [m.split(" cut short at ")[0] for m in warned] == [f"call {c.id}: audio {audio / f'call-{c.id}.wav'}"
                                                              for c in calls], warned
    assert all(5.0 < float(m.split(" cut short at ")[1].split(" s: ")[0]) < 7.0 for m in warned), warned
    for c in calls:
        wav = (audio / f"call-{c.id}.wav").read_bytes()
        assert len(wav) == limit and wav[36:40] == b"data" and struct.unpack("<I", wav[40:44])[0] == limit - 44
    assert not [m for level, m in monitor_logs if level == "error"]
