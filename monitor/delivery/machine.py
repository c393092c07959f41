"""Which machine a daemon runs on: its system's machine id, read here alone, and the hash of it (with
the account's user id) that a daemon's heartbeats tell the supervisor's console, never the id itself.

The console takes a daemon that stopped or fell silent as replaced (a reinstall at the same desk: a new
database, a new daemon id) only by one of the same agent name posting from the same machine
(docs/deployment.md, the supervisor's console). Desks behind one NAT, a site proxy or a terminal server
share a client address, so the address cannot tell their machines apart; :func:`machine_hash` does. It
is made from the machine id (else the host name), stable across reinstalls of the package and new
databases, and the account's user id, so that two agents' sessions on one terminal server are two
desks. It is keyed with a key of its own, so the machine id is not disclosed, and it is not the hash a
daemon's database binds its id with (:func:`~monitor.delivery.store_schema.this_machine`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
from pathlib import Path
from typing import Callable, Sequence

MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
"""Where a machine's own id is (systemd's, made at a clone's first boot when its image's is emptied; D-Bus's)."""

MACHINE_CHARS = 32
"""The length of a heartbeat's machine hash, in hexadecimal digits (128 bits, as long as a machine id)."""

_KEY = b"callmonitor heartbeat machine"


def machine_id(files: Sequence[str | Path] = MACHINE_ID_FILES) -> str:
    """This machine's id: the first of ``files`` that can be read and is not empty, stripped; "" when
    none is."""
    for path in files:
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            return text
    return ""


GENERIC_HOSTS = frozenset({"", "localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6"})
"""Host names many machines share (an image's default): no machine is told by them."""


def machine_hash(files: Sequence[str | Path] = MACHINE_ID_FILES, uid: int | None = None,
                 host: Callable[[], str] = socket.gethostname) -> str | None:
    """This machine's and account's hash, as a heartbeat's ``status.machine`` tells it
    (:data:`MACHINE_CHARS` hexadecimal digits): of the machine id in ``files``, else of the host name
    (``host()``), and the user id ``uid`` (this process's where None). None for a machine with no
    machine id and a host name many share (:data:`GENERIC_HOSTS`): two such desks would be one
    machine to the console, and one's stopped daemon hidden as replaced by the other's; the
    console tells it by its address instead, as a daemon of an earlier release."""
    name = host()  # as given: the hash earlier releases made of it, so that an upgraded desk stays one machine
    ident = machine_id(files) or ("" if name.strip().lower() in GENERIC_HOSTS else "host " + name)
    if not ident:
        return None
    uid = os.getuid() if uid is None else uid
    return hmac.new(_KEY, f"{ident}\0{uid}".encode("utf-8"), hashlib.sha256).hexdigest()[:MACHINE_CHARS]
