"""``make bench`` console row: alerts per second that ``call-monitor supervisor`` stores and pushes.

A real console process on 127.0.0.1 (fresh database and token in a temporary folder), ``pages``
open event streams (``GET /events``, read as a browser's EventSource reads them, by threads of this
process), then ``n`` distinct alerts posted to ``/webhook`` by ``posters`` keep-alive clients (one
per simulated daemon). Each POST returns after the alert is committed (WAL, synchronous=FULL), so
the POST rate is the store rate; "pushed" is until every stream has received every alert.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _start(tmp: Path) -> tuple[subprocess.Popen, int, str]:
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "supervisor", "--listen", "127.0.0.1:0",
                             "--db", str(tmp / "console.db"), "--token-file", str(tmp / "token")],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        m = re.search(r"--webhook http://127\.0\.0\.1:(\d+)/webhook", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, int(m.group(1)), (tmp / "token").read_text().strip()
    raise RuntimeError("the console did not start")


def _reader(port: int, token: str, want: int, got: list[int], ready: threading.Event, done: threading.Event,
            idx: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/events", headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"})
    resp = conn.getresponse()
    for raw in resp:
        if raw.startswith(b"event: state"):
            ready.set()
        elif raw.startswith(b"event: alert"):
            got[idx] += 1
            if got[idx] >= want:
                break
    conn.close()
    done.set()


def _connect(port: int, timeout: float) -> http.client.HTTPConnection:
    """A keep-alive connection without Nagle's delay (http.client sends a POST's headers and body in
    two writes; with Nagle on, the body waits for the peer's delayed ACK, about 40 ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _poster(port: int, token: str, ids: range, daemon: str) -> None:
    conn = _connect(port, 30)
    now = time.time()
    for i in ids:
        body = json.dumps({"type": "alert", "t": 95.0, "kind": "possible_emergency", "severity": "critical",
                           "message": "Possible emergency: slow speech and long pauses agree", "alert_id": i,
                           "evidence": {"score": 3.4, "families": {"tempo": 1.8, "pausing": 1.6}},
                           "actions": ["Keep the caller on the line"], "call_id": 1, "agent": daemon,
                           "daemon_id": daemon, "call_started_at": now - 95, "at": now})
        conn.request("POST", "/webhook", body, {"Authorization": f"Bearer {token}",
                                                "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            raise RuntimeError(f"POST answered {r.status}")
    conn.close()


def run_once(n: int = 400, pages: int = 10, posters: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as d:
        proc, port, token = _start(Path(d))
        try:
            got = [0] * pages
            readies = [threading.Event() for _ in range(pages)]
            dones = [threading.Event() for _ in range(pages)]
            for i in range(pages):
                threading.Thread(target=_reader, args=(port, token, n, got, readies[i], dones[i], i),
                                 daemon=True).start()
            if not all(e.wait(30) for e in readies):
                raise RuntimeError("the event streams did not open")
            per = n // posters
            threads = [threading.Thread(target=_poster, args=(port, token, range(1, per + 1), f"daemon-{k}"))
                       for k in range(posters)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            stored_s = time.perf_counter() - t0
            all_pushed = all(e.wait(60) for e in dones)
            pushed_s = time.perf_counter() - t0
            return {"alerts": per * posters, "pages": pages, "posters": posters, "stored_per_s": per * posters / stored_s,
                    "pushed_per_s": per * posters / pushed_s if all_pushed else None, "min_received": min(got)}
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
