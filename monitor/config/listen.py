"""The supervisor console's address (``supervisor.listen``, ``--listen``): the form it takes,
checked when the configuration is loaded, so that ``config`` and the console refuse a malformed one
alike, in the same words."""

from __future__ import annotations

import ipaddress


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` -> (host, port); raises ValueError saying what is wrong, in one
    phrase (without the value)."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit():
        raise ValueError("expected HOST:PORT (e.g. 127.0.0.1:8640)")
    if int(port) > 65535:
        raise ValueError(f"port {int(port)} is out of range (0 to 65535; 0 picks a free one)")
    return host, int(port)


def listen_problem(text: str) -> str | None:
    """Why ``text`` cannot be the console's address (:func:`parse_listen`), or None."""
    try:
        parse_listen(text)
    except ValueError as err:
        return str(err)
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, without a port) names this machine's loopback:
    ``localhost`` and names under it (RFC 6761), or a loopback address."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host of an HTTP ``Host`` header (``name:port``, ``[v6]:port``), without its port."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header
