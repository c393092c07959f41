"""JSON another program sends nested deeper than Python's parser descends (``[`` a hundred thousand
times over) is an answer that is no JSON, never a RecursionError: a receiver's answer to a heartbeat
or a post, its refusal, the console's to ``forget-agent``, a client's post at the console."""

from __future__ import annotations

import http.server
import logging
import threading
from typing import Iterator

import pytest

from monitor.json_text import TooDeep, json_value

DEEP = b"[" * 100_000 + b"]" * 100_000
"""JSON nested far deeper than Python's parser descends."""


class _Deep(http.server.BaseHTTPRequestHandler):
    """Answers every post with :data:`DEEP`, of the status the server's ``status`` says."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(DEEP)))
        self.end_headers()
        self.wfile.write(DEEP)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def deep_receiver() -> Iterator[http.server.HTTPServer]:
    """A receiver on a loopback port answering every post with :data:`DEEP` (``status`` 200 to begin with)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Deep)
    server.status = 200  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_json_nested_too_deeply_is_a_value_error_naming_it_from_text_and_bytes_alike():
    for text in (DEEP, DEEP.decode("ascii")):
        with pytest.raises(TooDeep, match="^nested too deeply$"):
            json_value(text)
    assert json_value(b'{"a": [1]}') == {"a": [1]}


def test_a_heartbeat_answered_with_deep_json_is_delivered_and_one_refused_so_is_one_failed_beat(deep_receiver, caplog):
    """The heartbeat's thread would have died with a traceback, beating no more."""
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    url = f"http://127.0.0.1:{deep_receiver.server_address[1]}/webhook"
    beats = Heartbeat(url, Identity("agent", "d-deep"), dict, every_s=3600.0)
    assert beats.beat() is True
    deep_receiver.status = 400  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING):
        assert beats.beat() is False
    assert beats.failures == 1 and "400" in beats.last_error, beats.last_error
    assert [r for r in caplog.records if r.exc_info] == []


def test_forget_agent_answered_with_deep_json_says_it_in_one_line(deep_receiver, tmp_path):
    from conftest import call_monitor
    token = tmp_path / "token"
    token.write_text("console-token-0123456789abcdef0123\n")
    token.chmod(0o600)
    base = f"http://127.0.0.1:{deep_receiver.server_address[1]}"
    for status in (200, 404):
        deep_receiver.status = status  # type: ignore[attr-defined]
        r = call_monitor("forget-agent", "alice", "--console", base, "--token-file", token, timeout=60)
        assert "Traceback" not in r.stderr and "RecursionError" not in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) <= 1, r.stderr
