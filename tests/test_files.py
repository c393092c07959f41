"""Writing a file whole or not at all (tables, reports)."""

from __future__ import annotations

import os
import stat

import pytest

from monitor.files import replaced


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
