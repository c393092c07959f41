"""The console's HTTP/1.1 connections: uvicorn's, with a deadline for each request to arrive whole,
at most ``supervisor.max_connections`` of them served at once (:func:`limit_concurrency`).

uvicorn waits for a request's line, headers and body as long as the client takes: a client that
connects and sends nothing, or a byte now and then (before any token is read), would hold its
connection, and the console's file descriptors, for ever, and a post whose body never ends would
hold the console's stop until it is cancelled; a client that reads nothing of the answers it asked
for (requests sent one after another, the answers left unread) held its connection for ever too.
:class:`TimelyH11Protocol` gives each request :data:`REQUEST_S` from the connection, or from the
answer before it, to arrive whole, and a client as long to read again an answer that fills the
connection's buffers; else the connection is closed. A request arrived whole is answered as long as
its client reads (a page's event stream, for hours).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("monitor.supervisor")

REQUEST_S = 30.0
"""How long a client has to send one request whole, from its connection or from the answer to its
request before (a daemon's post of at most ``max_body_bytes`` takes well under a second)."""



def limit_concurrency(max_connections: int) -> int:
    """uvicorn's ``limit_concurrency`` that serves ``max_connections`` connections at once: a request
    whose connection finds the connections open, itself among them, at that number is answered 503
    (:class:`TimelyH11Protocol`, with ``Retry-After``); read from the configuration as each
    connection opens."""
    return max_connections + 1


AT_LIMIT_RETRY_AFTER_S = 1
"""The ``Retry-After`` of a request answered 503 at ``max_connections``: a daemon posts its alert
again then, as a wait the console asked for, not a failed attempt (nor an outage's backoff)."""


async def at_the_limit(send: Callable[[dict], Awaitable[None]], max_connections: int) -> None:
    """uvicorn's answer at ``limit_concurrency`` (503, the connection closed), with ``Retry-After``
    and the reason as ``{"error": ...}``, as the console's other refusals (401, 429, a failing
    database's 503) say theirs and a daemon's outage warning says it."""
    body = json.dumps({"error": f"this console serves at most {max_connections} connections at once "
                                f"(supervisor.max_connections): try again in {AT_LIMIT_RETRY_AFTER_S} s"}).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), (b"retry-after", str(AT_LIMIT_RETRY_AFTER_S).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


AT_LIMIT_SAID_EVERY_S = 60.0
"""The connections being at ``max_connections`` is said at most once in this many seconds."""


class AtTheLimit:
    """Says in the log that a connection opened with the console's connections at ``max_connections``
    (its request is answered 503 unless one closes first): one line when it begins, then at most one
    every :data:`AT_LIMIT_SAID_EVERY_S` with how many more came. One server's; from its loop only."""

    def __init__(self) -> None:
        self.said_at: float | None = None
        self.unsaid = 0

    def met(self, peer: str, max_connections: int) -> None:
        now = time.monotonic()
        if self.said_at is not None and now - self.said_at < AT_LIMIT_SAID_EVERY_S:
            self.unsaid += 1
            return
        more = f"; {self.unsaid} more since the last line" if self.said_at is not None else ""
        log.warning("a connection from %s came with %d open, supervisor.max_connections: its request is answered 503 "
                    "unless one closes first (said again at most every %g s)%s", peer, max_connections,
                    AT_LIMIT_SAID_EVERY_S, more)
        self.said_at, self.unsaid = now, 0


_RECEIVED = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)
"""The client's states once its request has arrived whole (or it can send no more)."""


class TimelyH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request has not arrived whole within
    :attr:`request_s`: one that sent a part of its line and headers is said in one log line (one that
    sent nothing, as a browser's connection opened ahead, is closed quietly); one whose body did not
    arrive is the application's to say (its request reads a disconnection). An answer left unread
    for :attr:`request_s` once the connection's buffers are full closes it too, said in one line.

    A request on a connection past ``limit_concurrency`` is answered 503 as uvicorn does, but with
    ``Retry-After`` (:func:`at_the_limit`) and without uvicorn's warning line for each one
    (:class:`AtTheLimit` says them)."""

    request_s: float = REQUEST_S

    def __init__(self, *args: object, at_limit: AtTheLimit | None = None, **kwargs: object) -> None:
        """``at_limit``: says a connection opened at ``max_connections`` (None: nothing said)."""
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.at_limit = at_limit
        self.max_open, self.limit_concurrency = self.limit_concurrency, None  # this protocol's check, not uvicorn's
        self.app = self._limited(self.app)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limit = self.max_open
        if self.at_limit is not None and limit is not None and len(self.connections) >= limit:
            self.at_limit.met(self.client[0] if self.client else "?", limit - 1)
        self._deadline: asyncio.TimerHandle | None = None
        self._stuck: asyncio.TimerHandle | None = None  # while the client reads nothing of the answer
        self._expect_request()

    def _limited(self, app: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """``app``, answering :func:`at_the_limit` instead while the connections open, or the requests
        under way (this one among them), are at :attr:`max_open` (uvicorn's own test)."""
        async def within_limit(scope: dict, receive: object, send: Callable[[dict], Awaitable[None]]) -> None:
            limit = self.max_open
            if limit is not None and (len(self.connections) >= limit or len(self.tasks) > limit):
                return await at_the_limit(send, limit - 1)
            return await app(scope, receive, send)
        return within_limit

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state in _RECEIVED:
            self._no_deadline()

    def on_response_complete(self) -> None:
        self._expect_request()  # first: the answer may start on a request already arrived (pipelined)
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._no_deadline()
        self._not_stuck()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The answer fills the connection's buffers (its client reads nothing): it has
        :attr:`request_s` to read again."""
        super().pause_writing()
        self._not_stuck()
        self._stuck = self.loop.call_later(self.request_s, self._not_read)

    def resume_writing(self) -> None:
        self._not_stuck()
        super().resume_writing()

    def _not_stuck(self) -> None:
        if self._stuck is not None:
            self._stuck.cancel()
            self._stuck = None

    def _not_read(self) -> None:
        self._stuck = None
        peer = self.client[0] if self.client else "?"
        log.warning("a connection from %s closed: its answer was not read for %g s", peer, self.request_s)
        self.transport.abort()  # what it holds unsent goes with it: close() would wait to send it

    def _expect_request(self) -> None:
        self._no_deadline()
        self._deadline = self.loop.call_later(self.request_s, self._too_slow)

    def _no_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state in _RECEIVED:
            return
        if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:  # a part of a request's head
            peer = self.client[0] if self.client else "?"
            log.warning("a connection from %s closed: its request's line and headers did not arrive within %g s",
                        peer, self.request_s)
        self.transport.close()
