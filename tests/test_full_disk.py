"""An agent's desktop whose disk fills up or fails: the daemon's call audio, series, reports,
database and lock on real small file systems: a tmpfs of 2 MiB filled to its last byte, an ext4
image on a loop device that the kernel turns read-only as it does on a disk error
(``errors=remount-ro``), and an ext4 image on a full tmpfs, a disk that takes every write and fails
to store it (thin-provisioned past its room), one without a journal that has room again after
failing to store the writes.

Each failure is one line naming the call, the file, the system's reason and what the file keeps;
the calls are monitored and stored whatever their files do, and their alerts go and are stored once
there is room, the report of a critical call after them; what a file holds its WAV header says, to
every player; the next call has its audio once there is room again. The daemon runs in process on
recorded lines (as in ``test_call_audio.py``); mounting takes root. A call's audio is closed, put
on the disk, off the capture loop.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import threading
import wave
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import soundfile as sf

from conftest import CALLS, mounted, two_calls_line
from monitor.capture.sources import FileSource
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.delivery.call_audio import CallAudio, CallAudioError
from monitor.delivery.call_files import CallFileWrites
from monitor.delivery.dblock import DatabaseLock, held_now
from monitor.delivery.store import Store
from monitor.delivery.store_errors import StoreError
from monitor.events import AlertEvent, CallSummaryEvent, CuesEvent, Event, StatusEvent

CALL_S = 20.0
FRAME_BYTES = 4
"""A frame of the daemon's call audio: two legs of 16-bit samples."""
HEADER_BYTES = 44

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system of its own takes root")


@pytest.fixture(scope="module")
def two_calls(tmp_path_factory) -> Path:
    """A recorded line: 10 s of silence, a 20 s call, 10 s of silence, another, 10 s of silence."""
    return two_calls_line(tmp_path_factory.mktemp("line") / "two_calls.wav", CALLS / "normal_8k.wav", CALL_S, 10)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A real file system of 2 MiB (tmpfs)."""
    with mounted(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs"], tmp_path / "small") as folder:
        yield folder


def ext4_image(path: Path, size: int, *options: str) -> Path:
    """An ext4 file system of ``size`` bytes made in the sparse file ``path`` (``mkfs.ext4`` given ``options``)."""
    with open(path, "wb") as fh:
        fh.truncate(size)
    subprocess.run(["mkfs.ext4", "-q", "-F", *options, str(path)], check=True)
    return path


@pytest.fixture
def failing_disk(tmp_path) -> Iterator[tuple[Path, Callable[[], None]]]:
    """A real ext4 file system of 8 MiB on a loop device, mounted to turn read-only on an error as a
    system disk is, and what makes the kernel find an error in it (as a failing disk makes it)."""
    image = ext4_image(tmp_path / "disk.img", 8 << 20)
    with mounted(["-o", "loop,errors=remount-ro", str(image)], tmp_path / "ext4") as folder:
        device = next(line.split()[0] for line in Path("/proc/mounts").read_text().splitlines()
                      if line.split()[1] == str(folder))
        trigger = Path("/sys/fs/ext4") / os.path.basename(device) / "trigger_fs_error"
        if not trigger.exists():
            pytest.skip(f"this kernel cannot be made to find an error in an ext4 file system (no {trigger})")
        yield folder, lambda: trigger.write_text("a failing disk\n")


@pytest.fixture
def thin_disk(tmp_path) -> Iterator[Path]:
    """A real ext4 file system of 32 MiB on a loop device whose image lies on a tmpfs of 4 MiB,
    filled once the file system is mounted: it takes every write, and the disk under it fails to
    store them when they are put on it (at fsync, or the kernel's writeback), as a disk
    thin-provisioned past its room does."""
    with mounted(["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs"], tmp_path / "backing") as backing:
        image = ext4_image(backing / "disk.img", 32 << 20)
        with mounted(["-o", "loop", str(image)], tmp_path / "thin") as folder:
            fill(backing)
            yield folder


@pytest.fixture
def unjournaled_thin_disk(tmp_path) -> Iterator[tuple[Path, Path]]:
    """A real ext4 file system of 32 MiB without a journal on a loop device whose image lies on a
    tmpfs of 4 MiB, with room until the test fills it (:func:`fill`): what it takes is lost when the
    tmpfs is full, and stored again once there is room; the folder, and the tmpfs's."""
    with mounted(["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs"], tmp_path / "backing") as backing:
        image = ext4_image(backing / "disk.img", 32 << 20, "-O", "^has_journal")
        with mounted(["-o", "loop", str(image)], tmp_path / "thin") as folder:
            yield folder, backing


def fill(folder: Path) -> Path:
    """Fill ``folder``'s file system to its last byte; the file that fills it."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, bytes(size))
            except OSError:  # ENOSPC
                continue
    finally:
        os.close(fd)
    return filler


def config(tmp_path: Path, audio_dir: Path):
    return load_config(overrides={"storage.db": str(tmp_path / "events.db"), "daemon.call_end_silence_s": 6.0,
                                  "daemon.write_audio": True, "daemon.audio_dir": str(audio_dir)},
                       user_config=False)


def run(tmp_path: Path, line: Path, audio: Path, on_event: Callable[[Daemon, Event], None]) -> list:
    """The daemon run on ``line``, ``on_event`` given each event with the daemon; the calls stored."""
    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(config(tmp_path, audio), FileSource(line), store, {"disk": lambda ev: on_event(daemon, ev)})
        assert daemon.run() == 0
        return sorted(store.list_calls(), key=lambda c: c.id)


def held_s(path: Path) -> float:
    """The seconds of audio the file holds, counted from its size."""
    return (path.stat().st_size - HEADER_BYTES) // FRAME_BYTES / sf.info(str(path)).samplerate


def header_s(path: Path) -> float:
    """The seconds of audio the file's WAV header says it holds, as a player that believes it reads
    them (the standard library's ``wave``; libsndfile reads on past a data chunk of length 0)."""
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def said(logs: list, level: str = "warning") -> list[str]:
    return [m for lv, m in logs if lv == level]


@needs_root
def test_a_full_disk_costs_a_call_its_audio_in_one_line_and_the_next_call_has_its_own_once_there_is_room(
        two_calls, tmp_path, small_disk, monitor_logs):
    """Full before call 1: its audio is not written (one line naming the file and the system's
    reason, no empty file left behind); room again during call 1, full again 5 s into call 2: its
    file keeps those seconds, its header saying so, and one line says what is kept and what is not.
    Both calls are monitored and stored to their end. Before the disk fills, the header of call 2's
    file says the seconds written so far, as a kill or a power loss would leave it: libsndfile
    writes a WAV's lengths only at the file's close, and the file said it held no audio until then."""
    filler, before_full = fill(small_disk), []

    def disk(daemon: Daemon, ev: Event) -> None:
        if daemon.calls == 1 and isinstance(ev, CuesEvent) and filler.exists():
            filler.unlink()
        if daemon.calls == 2 and isinstance(ev, CuesEvent) and ev.t >= 5 and not filler.exists():
            wav = small_disk / "call-2.wav"
            before_full.append((header_s(wav), held_s(wav)))
            fill(small_disk)

    calls = run(tmp_path, two_calls, small_disk, disk)
    assert [c.id for c in calls] == [1, 2] and all(c.ended_at is not None for c in calls)
    first, second = said(monitor_logs)
    assert first == (f"call 1: audio not written: {small_disk / 'call-1.wav'}: No space left on device; "
                     "the call is monitored and its alerts go as usual"), first
    assert not (small_disk / "call-1.wav").exists()
    wav = small_disk / "call-2.wav"
    kept = held_s(wav)
    assert 5.0 <= kept < 7.0 and header_s(wav) == pytest.approx(kept)
    assert second == (f"call 2: audio {wav} cut short at {kept:.1f} s: No space left on device; the file keeps the "
                      "call's audio up to there, the rest is not written (the call is monitored and its alerts go "
                      "as usual)"), second
    assert not said(monitor_logs, "error")
    ((said_s, file_s),) = before_full
    assert file_s >= 4.0 and said_s == pytest.approx(file_s)


@needs_root
def test_a_disk_that_fails_mid_call_leaves_its_audio_with_a_header_that_says_what_it_holds(
        two_calls, tmp_path, failing_disk, monitor_logs):
    """The disk fails 5 s into call 1 and the kernel makes it read-only: libsndfile writes a WAV's
    lengths at the file's close, which the disk no longer takes, and said nothing; the file's header
    said it held no audio. The header is kept up to date as the audio is written: it says the
    seconds the file holds. Call 2 finds the disk read-only: one line, no audio, the call stored."""
    folder, fail = failing_disk

    def disk(daemon: Daemon, ev: Event) -> None:
        if daemon.calls == 1 and isinstance(ev, CuesEvent) and ev.t >= 5 and "ro" not in failed:
            failed.add("ro")
            fail()

    failed: set[str] = set()
    calls = run(tmp_path, two_calls, folder, disk)
    assert [c.id for c in calls] == [1, 2] and all(c.ended_at is not None for c in calls)
    wav = folder / "call-1.wav"
    kept = held_s(wav)
    assert kept >= 5.0 and header_s(wav) == pytest.approx(kept)
    first, second = said(monitor_logs)
    assert first.startswith(f"call 1: audio {wav} cut short at {kept:.1f} s: Read-only file system; "), first
    assert second.startswith(f"call 2: audio not written: {folder / 'call-2.wav'}: Read-only file system; "), second


def line_of(path: Path, *calls: tuple[Path, float]) -> Path:
    """A recorded line written to ``path``: 7 s of silence, then each call (the first seconds of a
    recording) followed by 7 s of silence."""
    parts = []
    for recording, seconds in calls:
        audio, sr = sf.read(recording, frames=int(8000 * seconds), dtype="float32")
        gap = np.zeros((sr * 7, audio.shape[1]), np.float32)
        parts += [gap, audio] if not parts else [audio]
        parts.append(gap)
    sf.write(path, np.concatenate(parts), sr)
    return path


@pytest.fixture(scope="module")
def one_call(tmp_path_factory) -> Path:
    """A recorded line of one call of 20 s."""
    return line_of(tmp_path_factory.mktemp("line") / "one_call.wav", (CALLS / "normal_8k.wav", CALL_S))


@pytest.fixture(scope="module")
def critical_then_normal(tmp_path_factory) -> Path:
    """A recorded line: a call that raises a critical alert 23 s in (the first 30 s of
    ``labored_start``, a caller short of breath from the first word), then a normal call of 10 s."""
    return line_of(tmp_path_factory.mktemp("line") / "critical_then_normal.wav",
                   (CALLS / "labored_start_8k.wav", 30.0), (CALLS / "normal_8k.wav", 10.0))


@needs_root
def test_the_report_of_a_critical_call_whose_alerts_a_full_disk_held_back_is_written_once_they_are_stored(
        critical_then_normal, tmp_path, small_disk, monitor_logs):
    """The database and the reports on a disk that fills 10 s into a call whose critical alert comes
    later and stays full to its end: the alert goes to the sinks unstored, and the report, which
    draws the call's alerts from the database, found none there and was never written, nor said. It
    waits for the database, said in one warning, and is written once the alerts are stored (room
    again in the next call, once the report's writer has done what it was given)."""
    cfg = load_config(overrides={"storage.db": str(small_disk / "events.db"), "daemon.call_end_silence_s": 6.0,
                                 "daemon.report_on_critical": True}, user_config=False)
    seen: list[AlertEvent] = []
    writer = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def disk(ev: Event) -> None:
        seen.extend([ev] if isinstance(ev, AlertEvent) else [])
        if daemon.calls == 1 and isinstance(ev, CuesEvent) and ev.t >= 10 and not seen:
            fill(small_disk)
        if daemon.calls == 2 and isinstance(ev, CuesEvent) and (small_disk / "filler").exists():
            writer.submit(lambda: None).result()  # what the writer was given at call 1's end is done
            (small_disk / "filler").unlink()

    with Store.open(small_disk / "events.db") as store:
        daemon = Daemon(cfg, FileSource(critical_then_normal), store, {"disk": disk})
        daemon.call_files = CallFileWrites(writer)
        assert daemon.run() == 0
        stored = store.list_alerts()
        summaries = [c.summary for c in sorted(store.list_calls(), key=lambda c: c.id)]
    assert [(s["call_id"], s["alerts"] > 0) for s in summaries] == [(1, True), (2, False)]  # call 2's held back
    critical = [a for a in seen if a.severity == "critical"]
    assert critical and not any(a.stored for a in seen if a.call_id == 1)
    assert [a.event.kind for a in stored if a.event.severity == "critical"] == [critical[0].kind]
    assert "call 1: its report waits for the database, which holds its alerts back: written once the database " \
           "works again" in said(monitor_logs)
    assert (small_disk / "call-1-report.html").is_file()
    assert daemon.heartbeat_status()["reports"] == [{"call_id": 1, "url": str(small_disk / "call-1-report.html")}]


@needs_root
def test_a_database_that_cannot_be_opened_on_a_full_disk_says_the_disk_is_full(small_disk):
    """SQLite opening a database on a full disk cannot give its -shm file its size and says "disk
    I/O error" alone (what ``run``, ``replay`` and ``purge`` said of it): the line says the disk is
    full, which the file system tells."""
    db = small_disk / "events.db"
    Store.open(db).close()
    fill(small_disk)
    with pytest.raises(StoreError) as err:
        Store.open(db)
    assert str(err.value) == f"{db}: cannot open the database: disk I/O error (the disk is full)"


@needs_root
def test_a_disk_that_takes_the_calls_files_and_fails_to_store_them_says_so(one_call, tmp_path, thin_disk,
                                                                          monitor_logs):
    """A disk that takes every write and fails to store them (thin-provisioned past its room): the
    audio and the series were closed and renamed into place as written, and nothing said they
    were not on the disk. Each is put on the disk (fsync) as it is closed: the audio's failure is
    one line naming the call and the file, a series that could not be stored is not put in place
    and its one line says so; the call is stored."""
    (call,) = run(tmp_path, one_call, thin_disk, lambda daemon, ev: None)
    assert call.id == 1 and call.ended_at is not None
    assert said(monitor_logs) == [
        f"call 1: audio {thin_disk / 'call-1.wav'} not kept whole: No space left on device; the file holds what "
        "the disk stored of it",
        f"{thin_disk / 'call-1-series.npz'}: call 1's series not written (No space left on device): its report "
        "will analyse its audio"]
    assert not list(thin_disk.glob("*-series.npz")) and not list(thin_disk.glob(".series-*"))


@needs_root
def test_audio_the_disk_failed_to_store_before_its_close_is_said_at_the_close(unjournaled_thin_disk):
    """The kernel puts a call's audio on the disk as it goes (its writeback), and tells a failure to
    store it once to the file: libsndfile's close, which puts the file on the disk too, was told and
    said nothing, and the disk, with room again by then, stored the header written after it: the
    close said the audio was kept whole. It is said at the close."""
    folder, backing = unjournaled_thin_disk
    audio = CallAudio.create(folder, 1, 0.0, 16000, 2)
    filler = fill(backing)
    audio.write(np.random.default_rng(0).uniform(-0.5, 0.5, (16000 * 4, 2)))  # 256 KiB the disk has no room for
    os.sync()
    filler.unlink()
    with pytest.raises(CallAudioError) as err:
        audio.close()
    assert str(err.value) == f"{folder / 'call-1.wav'}: No space left on device"


def open_here(path: Path) -> bool:
    """Whether this process holds the file ``path`` open."""
    fds = Path("/proc/self/fd")
    return any(os.path.realpath(fds / fd) == str(path) for fd in os.listdir(fds))


def test_a_calls_audio_is_closed_off_the_capture_loop_which_goes_on_with_the_next_call_meanwhile(two_calls, tmp_path, monitor_logs):
    """Closing a call's audio puts it on the disk (fsync), which a slow disk holds for seconds and
    a failing one for as long as its retries last: on the capture loop, whose queue of the next
    call's audio overflows after 20 s (the audio dropped), no call started meanwhile. It is closed
    by the writer of the call's files, before its series: with the writer busy as call 1 ends,
    call 2 starts with call 1's audio still open, which is closed, whole, once the writer is free."""
    writer, busy = concurrent.futures.ThreadPoolExecutor(max_workers=1), threading.Event()
    still_open: list[bool] = []

    def disk(daemon: Daemon, ev: Event) -> None:
        if daemon.calls == 1 and isinstance(ev, CallSummaryEvent):
            writer.submit(busy.wait)
        if daemon.calls == 2 and isinstance(ev, StatusEvent) and ev.message == "call 2 started":
            still_open.append(open_here(tmp_path / "call-1.wav"))
            busy.set()

    with Store.open(tmp_path / "events.db") as store:
        daemon = Daemon(config(tmp_path, tmp_path), FileSource(two_calls), store, {"disk": lambda ev: disk(daemon, ev)})
        daemon.call_files = CallFileWrites(writer)
        try:
            assert daemon.run() == 0
        finally:
            busy.set()
    assert still_open == [True] and not open_here(tmp_path / "call-1.wav") and not said(monitor_logs)
    kept = held_s(tmp_path / "call-1.wav")
    assert kept >= CALL_S and header_s(tmp_path / "call-1.wav") == pytest.approx(kept)


@needs_root
def test_the_database_lock_is_taken_on_a_full_disk_without_its_pid(small_disk):
    """``run`` started on a full disk (the database's folder): writing its pid into the lock file
    failed and the start ended in a traceback, where the daemon should monitor on a database it
    cannot write. The lock, the kernel's, is held all the same (a second daemon is refused), the
    file left empty rather than naming no pid or another's."""
    db = small_disk / "events.db"
    fill(small_disk)
    lock = DatabaseLock(db).acquire()
    try:
        assert held_now(db) and (small_disk / "events.db.lock").read_bytes() == b""
    finally:
        lock.release()
    assert not held_now(db) and not (small_disk / "events.db.lock").exists()
