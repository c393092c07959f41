"""``call-monitor supervisor`` as a real subprocess on 127.0.0.1, and a small HTTP client for it."""

from __future__ import annotations

import json
import sqlite3
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Collection, Mapping

from conftest import ROOT



class ConsoleProcess:
    """Starts the console, waits for its one start line and parses the addresses from it."""

    def __init__(self, tmp: Path, port: int | None = 0, extra: tuple[str, ...] = (), env: dict | None = None) -> None:
        """``port`` None: no ``--listen`` (the configuration's ``supervisor.listen``)."""
        self.tmp = Path(tmp)
        self.db = self.tmp / "console.db"
        self.token_file = self.tmp / "console.token"
        e = {**os.environ, "HOME": str(self.tmp), "XDG_CONFIG_HOME": str(self.tmp / "cfg"),
             "PYTHONPATH": str(ROOT), **(env or {})}
        listen = () if port is None else ("--listen", f"127.0.0.1:{port}")
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "supervisor", *listen,
                                      "--db", str(self.db), "--token-file", str(self.token_file), *extra], cwd=ROOT, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.err: list[str] = []
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._read_err, daemon=True)
        self._reader.start()
        if not self._started.wait(20):
            self.kill()
            raise AssertionError("the console did not start: " + "\n".join(self.err))
        line = next(e for e in self.err if "daemons: --webhook" in e)
        self.base = re.search(r"console (https?://\S+?)/\?token", line).group(1)
        self.port = int(self.base.rsplit(":", 1)[1])
        self.webhook = f"{self.base}/webhook"
        self.token = self.token_file.read_text().strip()

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))
            if "daemons: --webhook" in line:
                self._started.set()

    def request(self, method: str, path: str, body: bytes | None = None, token: str | None = "",
                headers: dict | None = None) -> tuple[int, bytes]:
        """(status, body); ``token=""`` means the console's own token, None none."""
        status, _, said = self.exchange(method, path, body, token, headers)
        return status, said

    def exchange(self, method: str, path: str, body: bytes | None = None, token: str | None = "",
                 headers: dict | None = None) -> tuple[int, Mapping[str, str], bytes]:
        """(status, the answer's headers, body), as :meth:`request` sends it."""
        h = {"Content-Type": "application/json", **(headers or {})}
        tok = self.token if token == "" else token
        if tok is not None:
            h["Authorization"] = f"Bearer {tok}"
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def session_cookie(self) -> str:
        """The page's session cookie (``name=value``), as a browser gets it opening ``/?token=``."""
        return self.set_cookie().split(";")[0]

    def set_cookie(self, headers: dict | None = None) -> str:
        """The ``Set-Cookie`` header of the answer to opening ``/?token=`` over plain HTTP (as a
        proxy in front forwards it), with ``headers``."""
        import http.client
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            con.request("GET", f"/?token={self.token}", headers=headers or {})
            answer = con.getresponse()
            answer.read()
            return answer.getheader("Set-Cookie") or ""
        finally:
            con.close()

    def post(self, obj, token: str | None = "") -> tuple[int, dict]:
        status, body = self.request("POST", "/webhook", json.dumps(obj).encode(), token=token)
        return status, json.loads(body or b"{}")

    def post_from(self, address: str, obj) -> tuple[int, dict]:
        """:meth:`post` with the console's token from ``address`` (another loopback address, as
        127.0.0.2: another machine, as the console sees it)."""
        import http.client
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(address, 0))
        try:
            con.request("POST", "/webhook", json.dumps(obj).encode(),
                        {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
            answer = con.getresponse()
            return answer.status, json.loads(answer.read() or b"{}")
        finally:
            con.close()

    def state(self) -> dict:
        status, body = self.request("GET", "/api/state")
        assert status == 200, body
        return json.loads(body)

    def limit_file_size(self, size: int | None) -> None:
        """From now on the console writes no file beyond ``size`` bytes (None: any size): its
        database fails as on a full disk, with no filesystem to mount. Python ignores SIGXFSZ, so a
        write past the limit fails (EFBIG) rather than ending the process."""
        limit = resource.RLIM_INFINITY if size is None else size
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.prlimit(self.proc.pid,
                                                                 resource.RLIMIT_FSIZE)[1]))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM; its exit status once it has ended and all it wrote is read (``err`` complete)."""
        self.proc.send_signal(signal.SIGTERM)
        return self.ended(timeout)

    def ended(self, timeout: float = 10) -> int:
        """Its exit status once it has ended and all it wrote is read (``err`` complete)."""
        status = self.proc.wait(timeout)
        self._reader.join(timeout)
        return status

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def alert_body(alert_id: int = 1, *, daemon_id: str = "d-test", agent: str = "alice", severity: str = "critical",
               kind: str = "possible_emergency", t: float = 95.0, call_id: int = 7, **extra) -> dict:
    """A webhook alert as the daemon posts it."""
    started = time.time() - t - 1
    return {"type": "alert", "source": "call-monitor", "t": t, "kind": kind, "severity": severity,
            "message": "Possible emergency: slow speech and long pauses agree (evidence 3.4, raised at 3)",
            "evidence": {"score": 3.4, "families": {"tempo": 1.8, "pausing": 1.6}, "since": t - 2, "until": t},
            "actions": ["Ask the caller how they feel right now", "Keep the caller on the line"],
            "call_id": call_id, "alert_id": alert_id, "agent": agent, "daemon_id": daemon_id,
            "call_started_at": started, "at": started + t, **extra}


def post_word(console: ConsoleProcess, alert: dict, word: str, note: str = "") -> None:
    """The agent's word on ``alert`` (an :func:`alert_body`), posted as its daemon posts it (``call-monitor outcome``)."""
    status, body = console.post({"type": "agent_word", "source": "call-monitor", "alert_id": alert["alert_id"],
                                 "call_id": alert["call_id"], "call_started_at": alert["call_started_at"],
                                 "kind": alert["kind"], "severity": alert["severity"], "t": alert["t"], "word": word,
                                 "note": note, "said_at": time.time(), "agent": alert["agent"],
                                 "daemon_id": alert["daemon_id"]})
    assert status == 200, body


def stored_alerts(console: ConsoleProcess, count: int, acked: int, critical: Collection[int] = (),
                  bob: Collection[int] = ()) -> None:
    """``count`` alerts of agent alice written into the console's database (ids 1 to ``count``, received
    a second apart in that order, the last one now): the oldest ``acked`` of them acknowledged, those whose
    ids are in ``critical`` critical, the others warnings; those whose ids are in ``bob`` agent bob's."""
    now = time.time()
    rows = [(*(("d-bob", i, "bob") if i in bob else ("d-test", i, "alice")), i, now - 600, now - 600 + i, 30.0,
             *(("possible_emergency", "critical") if i in critical else ("slow_speech", "warning")), "Slow speech",
             json.dumps({"score": 1.2}), "[]", now - count + i, *(("Dana", now - count + i) if i <= acked else (None, None)))
            for i in range(1, count + 1)]
    with sqlite3.connect(console.db) as con:
        con.executemany("INSERT INTO alerts (daemon_id, alert_id, agent, call_id, call_started_at, at, t, kind, severity, "
                        "message, evidence, actions, received_at, acked_by, acked_at) VALUES "
                        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
