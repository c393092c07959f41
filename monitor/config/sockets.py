"""The daemon's status socket path (``daemon.status_socket``, ``--socket``): the length a Unix socket's
path may have, checked when the configuration is loaded, so that ``config``, ``run``, ``status`` and a
reload refuse one too long alike, in the same words."""

from __future__ import annotations

import os

SUN_PATH_BYTES = 108
"""The size of a Unix socket's address (Linux's sun_path), its terminating NUL included."""


def socket_length_problem(path: str) -> str | None:
    """Why ``path`` (``~`` expanded, as the daemon binds it) is too long for a Unix socket's, in one
    phrase (without the path); None when it fits."""
    n = len(os.fsencode(os.path.expanduser(path)))
    if n < SUN_PATH_BYTES:
        return None
    return f"the path is {n} bytes, longer than a Unix socket's path holds ({SUN_PATH_BYTES - 1} bytes)"
