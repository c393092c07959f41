"""Fixtures shared by the test modules."""

from __future__ import annotations

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
