"""The console's connections: a client that sends its request slowly, or not at all, holds none for long."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Iterator

import pytest
import uvicorn

from conftest import wait_for
from monitor.supervisor.app import create_app
from monitor.supervisor.auth import Auth
from monitor.supervisor.connections import TimelyH11Protocol
from monitor.supervisor.store import ConsoleStore

TOKEN = "shared-token-0123456789"


class QuickProtocol(TimelyH11Protocol):
    request_s = 0.25


@pytest.fixture(scope="module")
def console_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real console application, served by uvicorn on 127.0.0.1 with the console's protocol (its
    deadline shortened), in a thread; its port."""
    store = ConsoleStore.open(tmp_path_factory.mktemp("console") / "console.db")
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)  # its connections' too: an unread answer fills them
    app = create_app(store, Auth(TOKEN), loopback=True)
    config = uvicorn.Config(app, http=QuickProtocol, log_config=None,
                            access_log=False, lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, 30)
    try:
        yield sock.getsockname()[1]
    finally:
        app.state.console.hub.close()  # as the console does first as it stops: its event streams end
        server.should_exit = True
        thread.join(10)
        sock.close()
        store.close()


def _sent(port: int, data: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    return s


def _closed_by_console(s: socket.socket, within_s: float = 3.0) -> bool:
    """Whether the console closes ``s`` within ``within_s`` (nothing more comes from it)."""
    s.settimeout(within_s)
    try:
        while s.recv(4096):
            pass
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


HEAD = b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n"


def test_a_request_whose_headers_never_end_is_closed_and_said_in_one_line(console_port, monitor_logs):
    assert _closed_by_console(_sent(console_port, HEAD))
    assert [m for level, m in monitor_logs if level == "warning"] == [
        "a connection from 127.0.0.1 closed: its request's line and headers did not arrive within 0.25 s"]


def test_a_connection_that_sends_nothing_is_closed_quietly(console_port, monitor_logs):
    assert _closed_by_console(_sent(console_port, b""))
    assert monitor_logs == []


def test_a_post_whose_body_never_ends_is_closed_said_as_a_refusal_without_a_traceback(console_port, monitor_logs,
                                                                                        caplog):
    s = _sent(console_port, HEAD + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    assert _closed_by_console(s)
    assert wait_for(lambda: monitor_logs, 30)
    assert monitor_logs == [("warning", "400 POST /webhook from 127.0.0.1: the body ended after 1 bytes: the client "
                                        "went before it sent it whole, or took over 30 s")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_answer_that_takes_longer_than_the_request_may_goes_on(console_port):
    s = _sent(console_port, b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
              + TOKEN.encode() + b"\r\n\r\n")
    got = b""
    while b"event: state" not in got:
        got += s.recv(65536)
    assert not _closed_by_console(s, 0.6)  # its event stream still open, well past the request's deadline


def test_a_client_that_reads_none_of_the_answers_it_asked_for_is_closed_and_said_in_one_line(console_port,
                                                                                           monitor_logs):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.connect(("127.0.0.1", console_port))
    page = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"
    s.sendall(page * 4)  # four pages asked for, none read
    assert wait_for(lambda: monitor_logs, 30)
    assert monitor_logs == [("warning", "a connection from 127.0.0.1 closed: its answer was not read for 0.25 s")]
    assert _closed_by_console(s)
