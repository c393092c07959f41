"""The daemon's status socket path (``daemon.status_socket``, ``--socket``): the length a Unix socket's
path may have, checked when the configuration is loaded, so that ``config``, ``run``, ``status`` and a
reload refuse one too long alike, in the same words; and the user's runtime folder the default socket
lies in, found alike by a daemon and by ``status`` whether ``$XDG_RUNTIME_DIR`` is set or not."""

from __future__ import annotations

import os
import stat
from typing import Mapping


SOCKET_NAME = "callmonitor.sock"
"""The default status socket's name in the user's runtime folder."""

LOGIN_RUNTIME_BASE = "/run/user"
"""Where systemd-logind makes each user's runtime folder, ``/run/user/UID`` (what it sets
``$XDG_RUNTIME_DIR`` to in a login's session), owned by the user, mode 0700."""

SUN_PATH_BYTES = 108
"""The size of a Unix socket's address (Linux's sun_path), its terminating NUL included."""


def socket_length_problem(path: str) -> str | None:
    """Why ``path`` (``~`` expanded, as the daemon binds it) is too long for a Unix socket's, in one
    phrase (without the path); None when it fits."""
    n = len(os.fsencode(os.path.expanduser(path)))
    if n < SUN_PATH_BYTES:
        return None
    return f"the path is {n} bytes, longer than a Unix socket's path holds ({SUN_PATH_BYTES - 1} bytes)"


def login_runtime_dir(uid: int, base: str = LOGIN_RUNTIME_BASE) -> str | None:
    """``base/UID``, the runtime folder logind makes for the user ``uid``, when it is a folder (no
    link) that ``uid`` owns and no one else may write (as logind makes it, 0700: no group either, not
    even the user's own private group, which :func:`~monitor.files.folder_not_own` lets pass in a folder the user
    made); None otherwise: a socket in a folder another user owns or may write could be theirs,
    planted there."""
    path = os.path.join(base, str(uid))
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return path


def runtime_dirs(env: Mapping[str, str], uid: int, base: str = LOGIN_RUNTIME_BASE) -> list[str]:
    """The user's runtime folders, in the order the default status socket is placed in them and
    looked for: ``$XDG_RUNTIME_DIR`` when it names a folder, then the one logind makes
    (:func:`login_runtime_dir`), which a shell without the session's variables (``sudo -u``, ``su``,
    cron) still finds; each once, none when neither is there."""
    found = (env.get("XDG_RUNTIME_DIR") or None, login_runtime_dir(uid, base))
    return list(dict.fromkeys(os.path.normpath(d) for d in found if d and os.path.isdir(d)))
