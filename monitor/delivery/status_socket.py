"""The daemon's status socket: a Unix socket (mode 0600, no network port) that answers
each connection with one JSON object describing the daemon (``call-monitor status``)."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from typing import Callable

from ..config import Config


def socket_path(cfg: Config, env: dict | None = None) -> str:
    """Where the status socket lives: the config's, else $XDG_RUNTIME_DIR, else next to the db."""
    env = os.environ if env is None else env
    if cfg.daemon.status_socket:
        return os.path.expanduser(cfg.daemon.status_socket)
    run = env.get("XDG_RUNTIME_DIR")
    if run and os.path.isdir(run):
        return os.path.join(run, "callmonitor.sock")
    return os.path.expanduser(cfg.storage.db) + ".sock"


def query_status(path: str, timeout: float = 2.0) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        data = b""
        while True:
            part = s.recv(65536)
            if not part:
                break
            data += part
    return json.loads(data.decode("utf-8"))


class StatusServer:
    """Answer each connection on a Unix socket with ``state()`` as JSON."""

    def __init__(self, path: str, state: Callable[[], dict]) -> None:
        self.path = path
        self.state = state
        if os.path.exists(path):
            try:
                query_status(path, timeout=0.5)
            except OSError:
                os.unlink(path)  # stale socket of a dead daemon
            else:
                raise RuntimeError(f"another call-monitor daemon is running (status socket {path}); give "
                                   "this one another --socket, and `call-monitor status --socket` asks it")
        Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self.sock.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.sock.listen(4)
        self.sock.settimeout(0.3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="status", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                try:
                    conn.sendall(json.dumps(self.state(), default=str).encode("utf-8") + b"\n")
                except OSError:
                    pass
                except Exception as err:  # noqa: BLE001 - a bad state must not end the status thread
                    try:
                        conn.sendall(json.dumps({"error": str(err)}).encode("utf-8") + b"\n")
                    except OSError:
                        pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
