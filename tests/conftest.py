"""Fixtures shared by the test modules."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVAL_SLICE = ROOT / "audio_fixtures" / "generated" / "eval_slice"


@pytest.fixture(scope="session")
def eval_slice() -> Path:
    """The evaluation corpus's small slice (``make fixtures`` writes it; generated here if it is
    missing or stale, which takes about a minute)."""
    done = subprocess.run([sys.executable, "-m", "tools.eval_corpus", str(EVAL_SLICE), "--slice"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return EVAL_SLICE


@pytest.fixture
def monitor_logs():
    """Every record the package logs during the test, as (level name in lower case, message)."""
    records: list[tuple[str, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append((record.levelname.lower(), record.getMessage()))

    logger, handler = logging.getLogger("monitor"), Keep()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)
