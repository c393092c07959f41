"""Who answers a TCP connection on this machine: the user of the socket listening where a
connection to a local address was made, as the kernel shows it in ``/proc/net/tcp`` and
``/proc/net/tcp6`` (the ``uid`` column: for a listening socket, the user of the process that made
it; for a connection, that of the process that accepted it, which a server that drops to another
user once it listens changes: nginx's and Apache's workers, www-data, accept for a master of root's).
A port on the loopback is anyone's to take while nothing listens on it: a token sent over http:// to
one would go to whoever listens there, which :func:`refuse_other_listener` stops before a byte is
sent, as ``status`` and ``call`` never ask another user's socket."""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys

from ..files import another_user, user_name

TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
"""The kernel's tables of TCP sockets, IPv4's and IPv6's."""
ANSWERING = ("01", "03")
"""The states in those tables of the end a connection was made to: established (accepted or
waiting to be), or still a request of its listening socket (``SYN_RECV``: the kernel may not yet
have taken the connection's last handshake packet when the connecting end goes on); looked at where
no listening socket shows."""
LISTENING = "0A"
"""A listening socket's state in those tables."""


def _hex_address(host: str, port: int) -> list[str]:
    """``host:port`` as the kernel's tables write a socket's address: the address's bytes in 32-bit
    words of the machine's byte order, in hexadecimal, and the port; an IPv4 address in both its
    forms, as itself and as IPv6 maps it (``::ffff:127.0.0.1``: a listener on ``[::]`` takes it so),
    whichever of them ``host`` is."""
    ip = ipaddress.ip_address(host)
    v4 = ip if ip.version == 4 else ip.ipv4_mapped
    forms = [ip.packed] if v4 is None else [v4.packed, ipaddress.IPv6Address(f"::ffff:{v4}").packed]
    return [f"{''.join(f'{int.from_bytes(b[i:i + 4], sys.byteorder):08X}' for i in range(0, len(b), 4))}:{port:04X}"
            for b in forms]


def _rows() -> list[list[str]]:
    """The rows of the kernel's tables of TCP sockets (:data:`TABLES`), each split into its columns;
    none where they cannot be read (no ``/proc``)."""
    rows: list[list[str]] = []
    for table in TABLES:
        try:
            with open(table, encoding="ascii") as fh:
                rows += [cols for cols in (line.split() for line in fh.read().splitlines()[1:]) if len(cols) > 7]
        except OSError:
            continue
    return rows


def listening_uid(host: str, port: int) -> int | None:
    """The user id of the socket listening on this machine at ``host`` (an address) and ``port``: the
    one on that very address, else on any address (``0.0.0.0``, ``[::]``); None when the kernel's
    tables show none (nothing listens, another machine, no ``/proc``)."""
    local = _hex_address(host, port)
    hex_port = local[0].rsplit(":", 1)[1]
    anywhere = {f"{'0' * 8}:{hex_port}", f"{'0' * 32}:{hex_port}"}
    listening = [cols for cols in _rows() if cols[3] == LISTENING and (cols[1] in local or cols[1] in anywhere)]
    listening.sort(key=lambda cols: cols[1] in anywhere)  # one on the very address first
    return int(listening[0][7]) if listening else None


def answering_uid(conn: socket.socket) -> int | None:
    """The user id of the socket listening where the TCP connection ``conn`` was made, when that end
    is on this machine (:func:`listening_uid`); else, where none shows (a listener gone since), the
    connection's end there. None otherwise (another machine, no ``/proc``). The listener's, not the
    connection's: a connection's is the user of the process that accepted it, whose workers another
    user's may be (root's nginx), and may change while it is looked at."""
    ours, theirs = conn.getsockname()[:2], conn.getpeername()[:2]
    if (uid := listening_uid(*theirs)) is not None:
        return uid
    local, remote = _hex_address(*theirs), _hex_address(*ours)
    answering = [cols for cols in _rows() if cols[1] in local and cols[2] in remote and cols[3] in ANSWERING]
    return int(answering[0][7]) if answering else None


def _loopback(host: str) -> list[str]:
    """The loopback addresses ``host`` (an address, or a name a URL gives) stands for: itself, an
    IPv4 one mapped into IPv6 too; ``127.0.0.1`` and ``::1`` for ``localhost``; none for another."""
    if host.lower().rstrip(".") == "localhost":
        return ["127.0.0.1", "::1"]
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return []
    return [host] if (getattr(ip, "ipv4_mapped", None) or ip).is_loopback else []


def refuse_other_listener(conn: socket.socket, target: tuple[str, int] | None = None) -> None:
    """Raise PermissionError, before anything is sent on the connection ``conn`` to a loopback
    address, when another user than this one or root listens there: one who took the port while its
    owner (the console) was down or restarting would receive what is sent (a token, alerts).
    ``target``: the host and port a request is for, when ``conn`` goes to a proxy in between: the
    proxy's owner is not looked at, but whoever listens at ``target``, when that is a loopback one."""
    host, port = target or conn.getpeername()[:2]
    for address in _loopback(host):
        uid = answering_uid(conn) if target is None else listening_uid(address, port)
        if uid is not None and another_user(uid):
            raise PermissionError(errno.EACCES, f"another user, {user_name(uid)}, listens on {host} port {port}, not "
                                                "this user nor root (one may take a console's port while it is down): "
                                                "the token and alerts are not sent to it; run the console as this "
                                                "user, or give it --tls-cert and --tls-key and the daemon its https:// "
                                                "URL")
