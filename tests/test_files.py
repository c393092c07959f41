"""Writing a file whole or not at all (tables, reports), hashing what a file holds, and reading a
file or pipe so that Ctrl-C ends the wait for it."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time

import pytest

from monitor.files import HASH_BLOCK, SAMPLED_BLOCKS, content_hash, read_waiting, replaced

from conftest import fifo_writer


def test_the_new_content_replaces_the_old_at_the_end(tmp_path):
    path = tmp_path / "summary.csv"
    path.write_text("old\n")
    with replaced(str(path), ".batch-", mode=0o600) as fh:
        (tmp,) = [p for p in tmp_path.iterdir() if p.name.startswith(".batch-")]
        assert tmp.suffix == ".csv"
        fh.write(b"new\n")
        fh.flush()
        assert path.read_text() == "old\n"  # a reader meanwhile sees the old file whole
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("old")
    with pytest.raises(OSError):
        with replaced(str(path), ".report-") as fh:
            fh.write(b"half")
            raise OSError("disk full")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_the_temporary_file_is_written_through_its_descriptor_never_reopened_by_name(tmp_path):
    """In a folder others may write to, a link put in place of the temporary file right after it is
    made receives nothing (the writer writes to the file it made), and that file is not renamed
    over the old one: an OSError, the old file as it was, the link's target untouched."""
    path, target = tmp_path / "report.html", tmp_path / "elsewhere"
    path.write_text("old")
    target.write_text("theirs")
    with pytest.raises(OSError, match="another file was put in place"):
        with replaced(str(path), ".report-") as fh:
            (tmp,) = [p for p in tmp_path.iterdir() if p.name.startswith(".report-")]
            tmp.unlink()
            tmp.symlink_to(target)
            fh.write(b"call content")
    assert path.read_text() == "old" and target.read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "report.html"]


def test_ctrl_c_as_the_temporary_file_is_made_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    """Ctrl-C at the moment the temporary file has been made, before anything is written to it: it
    goes as after any other stop, the old file stays as it was."""
    path = tmp_path / "summary.csv"
    path.write_text("old\n")
    fdopen = os.fdopen

    def opened_then_ctrl_c(fd: int, *args, **kwargs):  # the new file's descriptor, made a file object
        fh = fdopen(fd, *args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return fh

    monkeypatch.setattr(os, "fdopen", opened_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        with replaced(str(path), ".batch-"):
            pytest.fail("the block ran")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]


def test_a_sampled_hash_reads_a_few_blocks_of_a_long_file_and_tells_another_put_in_its_place(tmp_path):
    """The sampled hash of a recording longer than its blocks: a file of another size, or other
    bytes at its start or end (as any other recording has), hashes otherwise; bytes changed only
    between the blocks it reads go unseen, the price of reading 8 MiB of hours of audio. It is never
    the whole hash (the batch's ``--resume`` compares those)."""
    path = tmp_path / "long.wav"
    body = bytes(range(256)) * ((3 * SAMPLED_BLOCKS * HASH_BLOCK) // 256)
    path.write_bytes(body)
    kept = content_hash(path, sampled=True)
    assert kept != content_hash(path) and kept == content_hash(path, sampled=True)
    between = HASH_BLOCK + HASH_BLOCK // 2  # after the first block read, before the second
    for changed in (b"X" + body[1:], body[:-1] + b"X", body + b"\0"):
        path.write_bytes(changed)
        assert content_hash(path, sampled=True) != kept
    path.write_bytes(body[:between] + b"X" + body[between + 1:])
    assert content_hash(path, sampled=True) == kept


def test_a_file_or_pipe_is_read_whole_or_up_to_its_first_line_end(tmp_path):
    token = tmp_path / "token"
    for text, line in ((b"tok\nmore\n", b"tok\n"), (b"tok\r\nmore", b"tok\r\n"), (b"tok", b"tok"), (b"", b"")):
        token.write_bytes(text)
        assert read_waiting(token) == text and read_waiting(token, first_line=True) == line
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    def write() -> None:
        held = fifo_writer(pipe)
        os.write(held, b"tok\n")  # and held open: the first line is all that is waited for
        written.wait(60)
        os.close(held)
    written = threading.Event()
    writer = threading.Thread(target=write)
    writer.start()
    assert read_waiting(pipe, first_line=True) == b"tok\n"
    written.set()
    writer.join()
    with pytest.raises(IsADirectoryError):
        read_waiting(tmp_path)


def test_a_ctrl_c_that_another_thread_takes_ends_the_wait_for_a_pipe_nobody_writes_to(tmp_path):
    """The process's Ctrl-C goes to any of its threads that does not block it; its handler runs
    in the main thread, which a blocking read would hold until something is written: the wait
    ends on it while the pipe is still held open and silent."""
    pipe = tmp_path / "token"
    os.mkfifo(pipe)
    interrupted, silent = threading.Event(), []

    def writer() -> None:
        held = fifo_writer(pipe)  # the reader has the pipe open
        time.sleep(0.2)  # and waits in it (a Ctrl-C before that, as it opens, is no wait to end)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # taken by this thread, not the reader's
        silent.append(interrupted.wait(60))  # nothing written, the pipe held open, until the reader is out
        os.close(held)
    thread = threading.Thread(target=writer)
    thread.start()
    with pytest.raises(KeyboardInterrupt):
        read_waiting(pipe, first_line=True)
    interrupted.set()
    thread.join()
    assert silent == [True]
