"""Opening a private SQLite file: the alert store and the supervisor's console store both keep call
content, so the folder is created 0700 and the file 0600 before SQLite sees it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def connect_private(p: Path, timeout_s: float) -> sqlite3.Connection:
    """A connection to the database file ``p`` (autocommit, usable from any thread), creating its
    folder (0700) and the file (0600) if missing.

    Raises ``PermissionError`` when the file cannot be created or written, another ``OSError`` when
    it cannot be opened, ``sqlite3.Error`` when SQLite cannot."""
    if not p.parent.exists():  # a file in its place is left for os.open to name (not a directory)
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(p, os.O_RDWR | os.O_CREAT, 0o600))
    if not os.access(p, os.W_OK):
        raise PermissionError(f"{p}: not writable")
    return sqlite3.connect(p, check_same_thread=False, isolation_level=None, timeout=timeout_s)
