"""One deadline for the whole of an HTTP request: connecting, sending, and the answer however slowly it comes.

A socket's timeout bounds each wait for the next bytes, so a receiver that trickles its answer a byte
at a time would hold a post (and what waits behind it: the outbox, the next heartbeat) far past its
timeout. :func:`deadline_handlers` give urllib connections whose connect, TLS handshake, and every
send and receive wait at most the time left until the deadline, and raise :class:`TimeoutError`
("timed out") once it is past. The deadline may be brought forward while the request is under way
(``cut``: the end of the wait replay gives its outbox), and a connect, a handshake or an answer
waited for then ends there, however long the request was given.
"""

from __future__ import annotations

import errno
import http.client
import os
import select
import socket
import ssl
import time
import urllib.parse
import urllib.request
from typing import Any, Callable

CUT_SEEN_S = 0.1
"""How often an answer waited for looks whether its deadline was brought forward (``cut``)."""


class Deadline:
    """When a request must be over (:func:`time.monotonic`): ``timeout_s`` from now, or the earlier
    time ``cut()`` gives, if it gives one (None: none), which it may give while the request is under way."""

    def __init__(self, timeout_s: float, cut: Callable[[], float | None] | None = None) -> None:
        self.at = time.monotonic() + timeout_s
        self.cut = cut

    def left(self) -> float:
        """The time left, raising TimeoutError once it is past."""
        ends = self.at if self.cut is None or (cut := self.cut()) is None else min(self.at, cut)
        return _left(ends)

    def wait_s(self) -> float:
        """How long one wait for the answer's next bytes may take: the time left, or, with a ``cut``,
        at most :data:`CUT_SEEN_S`, so that a deadline brought forward is seen while the answer is awaited."""
        return self.left() if self.cut is None else min(self.left(), CUT_SEEN_S)


class _Deadlined:
    """A socket each of whose sends and receives waits at most the time left until ``deadline``
    (a :class:`Deadline`), raising TimeoutError once it is past."""

    deadline: Deadline = Deadline(float("inf"))

    def _wait_left(self) -> None:
        self.settimeout(self.deadline.left())  # type: ignore[attr-defined]

    def _awaited(self, receive: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``receive(...)``, waited for until the deadline, a wait at a time (:meth:`Deadline.wait_s`)."""
        while True:
            self.settimeout(self.deadline.wait_s())  # type: ignore[attr-defined]
            try:
                return receive(*args, **kwargs)
            except TimeoutError:
                if self.deadline.cut is None:
                    raise

    def recv_into(self, *args: Any, **kwargs: Any) -> int:
        return self._awaited(super().recv_into, *args, **kwargs)  # type: ignore[misc]

    def recv(self, *args: Any, **kwargs: Any) -> bytes:
        return self._awaited(super().recv, *args, **kwargs)  # type: ignore[misc]

    def send(self, *args: Any, **kwargs: Any) -> int:
        self._wait_left()
        return super().send(*args, **kwargs)  # type: ignore[misc]

    def sendall(self, *args: Any, **kwargs: Any) -> None:
        self._wait_left()
        return super().sendall(*args, **kwargs)  # type: ignore[misc]


class _DeadlinedSocket(_Deadlined, socket.socket):
    """A plain TCP connection under a deadline."""


class _DeadlinedSSLSocket(_Deadlined, ssl.SSLSocket):
    """A TLS connection under a deadline, its handshake too (:meth:`do_handshake`)."""

    def do_handshake(self, block: bool = False) -> None:
        """The handshake, waited for until the deadline, a wait at a time (a deadline brought
        forward is seen while the receiver has not answered)."""
        self._awaited(super().do_handshake, block)


def _connected(address: tuple[str, int], deadline: Deadline,
               source_address: tuple[str, int] | None = None) -> _DeadlinedSocket:
    """A TCP connection to ``address`` (host, port) under ``deadline``, each of the host's
    addresses tried in turn as :func:`socket.create_connection` tries them; the connect waits at
    most the time left, a wait at a time (:meth:`Deadline.wait_s`), so that a deadline brought
    forward ends one the receiver never completes (a listener that takes no connection, a SYN
    dropped). Raises TimeoutError once the deadline is past, else the last address's OSError."""
    host, port = address
    deadline.left()  # past already (a post begun after replay's wait ended): no connection begun at all
    failed: OSError | None = None
    for family, kind, proto, _, where in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = _DeadlinedSocket(family, kind, proto)
        sock.deadline = deadline
        try:
            if source_address:
                sock.bind(source_address)
            _connect(sock, where)
            return sock
        except TimeoutError:
            sock.close()
            raise
        except OSError as err:
            sock.close()
            failed = err
    raise failed if failed is not None else OSError(f"{host}: no address to connect to")


def _connect(sock: _DeadlinedSocket, where: Any) -> None:
    """``sock`` connected to ``where`` within its deadline, a wait at a time; then blocking again,
    its sends and receives under the deadline."""
    sock.setblocking(False)
    code = sock.connect_ex(where)
    if code in (errno.EINPROGRESS, errno.EAGAIN):
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        while not poller.poll(sock.deadline.wait_s() * 1000):
            pass
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        raise OSError(code, os.strerror(code))  # ConnectionRefusedError and its kind, as a blocking connect raises
    sock.settimeout(sock.deadline.left())


def _left(deadline: float) -> float:
    """The time left until ``deadline``, raising TimeoutError once it is past."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


class _DeadlinedConnection:
    """An http.client connection whose connect (:func:`_connected`), TLS handshake for https://, and
    socket once connected wait no longer than ``deadline``: a :class:`_DeadlinedSocket`, or the
    context's :class:`_DeadlinedSSLSocket`."""

    sock: Any  # http.client's connection's (None until connected), under the deadline once connected
    _create_connection: Callable[..., Any]  # http.client's connection's: how it connects its socket

    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.deadline = deadline
        self._create_connection = lambda address, timeout=None, source_address=None: _connected(
            address, deadline, source_address)  # the timeout http.client gives is the deadline's


Check = Callable[[socket.socket, tuple[str, int] | None], None]
"""A look at an http:// request's socket once connected, before anything is sent, which raises
OSError to end it there: given the socket, and the host and port the request is for when the socket
goes to a proxy in between (``http_proxy``), else None."""


class _Connection(_DeadlinedConnection, http.client.HTTPConnection):
    """An http:// connection under a deadline; ``check``, when given, looks at its socket once
    connected (``target``: the request's host and port, through a proxy), before anything is sent."""

    def __init__(self, *args: Any, check: Check | None = None, target: tuple[str, int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.check = check
        self.target = target

    def connect(self) -> None:
        super().connect()
        if self.check is not None:
            self.check(self.sock, self.target)


class _TLSConnection(_DeadlinedConnection, http.client.HTTPSConnection):
    """An https:// connection under a deadline, its handshake too: done here, with the deadline
    given to the TLS socket first (http.client's own does it as the socket is wrapped, before)."""

    _context: ssl.SSLContext  # http.client's
    _tunnel_host: str | None  # http.client's

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # the TCP connection (and a proxy's tunnel), under the deadline
        tls = self._context.wrap_socket(self.sock, server_hostname=self._tunnel_host or self.host,
                                        do_handshake_on_connect=False)
        tls.deadline = self.deadline  # type: ignore[attr-defined]  # the context's class: a _DeadlinedSSLSocket
        tls.do_handshake()
        self.sock = tls


class _Handler(urllib.request.HTTPHandler):
    """urllib's http:// handler, opening :class:`_Connection` under one deadline (each checked by
    ``check``, when given, once connected)."""

    def __init__(self, deadline: Deadline, check: Check | None = None) -> None:
        super().__init__()
        self.deadline = deadline
        self.check = check

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        target = None
        if req.has_proxy():  # urllib's ProxyHandler put the proxy in the URL's place: the URL's is the request's
            url = urllib.parse.urlsplit(req.full_url)
            target = (url.hostname or "", url.port or http.client.HTTP_PORT)
        # do_open hands its keywords (the deadline, the check) on to the class, which typeshed's protocol leaves out
        return self.do_open(_Connection, req, deadline=self.deadline,  # type: ignore[arg-type]
                            check=self.check, target=target)


class _TLSHandler(urllib.request.HTTPSHandler):
    """urllib's https:// handler, opening :class:`_TLSConnection` under one deadline."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline
        self.context: ssl.SSLContext | None = None  # made for the first https:// request: reading the
        # system's authorities is most of the CPU an http:// post took (each webhook post and heartbeat)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        if self.context is None:
            self.context = ssl.create_default_context()  # the system's authorities, or SSL_CERT_FILE's, as urllib's
            self.context.sslsocket_class = _DeadlinedSSLSocket
        return self.do_open(_TLSConnection, req, context=self.context,  # type: ignore[arg-type]  # as http_open's
                            deadline=self.deadline)


def deadline_handlers(timeout_s: float, cut: Callable[[], float | None] | None = None,
                      check: Check | None = None) -> tuple[urllib.request.BaseHandler, ...]:
    """urllib handlers (for :func:`urllib.request.build_opener`) whose http:// and https:// requests,
    begun from now, are all over within ``timeout_s``, or by the earlier time ``cut()`` gives (looked
    at while an answer is awaited: a deadline brought forward under way): each wait takes at most the
    time left, and the request raises TimeoutError ("timed out"; within urllib, a URLError of it)
    once none is. ``check`` (:data:`Check`): called with an http:// request's socket once connected, and
    its host and port when a proxy is in between, before anything is sent; the OSError it raises
    ends the request (within urllib, a URLError of it)."""
    deadline = Deadline(timeout_s, cut)
    return _Handler(deadline, check), _TLSHandler(deadline)
