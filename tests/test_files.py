"""Writing a file whole or not at all (tables, reports), and hashing what a file holds."""

from __future__ import annotations

import os
import stat

import pytest

from monitor.files import HASH_BLOCK, SAMPLED_BLOCKS, content_hash, replaced


def test_the_new_content_replaces_the_old_at_the_end(tmp_path):
    path = tmp_path / "summary.csv"
    path.write_text("old\n")
    with replaced(str(path), ".batch-", mode=0o600) as tmp:
        assert tmp.endswith(".csv") and os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, "w") as fh:
            fh.write("new\n")
        assert path.read_text() == "old\n"  # a reader meanwhile sees the old file whole
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("old")
    with pytest.raises(OSError):
        with replaced(str(path), ".report-") as tmp:
            with open(tmp, "w") as fh:
                fh.write("half")
            raise OSError("disk full")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


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
