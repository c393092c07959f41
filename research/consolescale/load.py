"""A call centre's shift on one supervisor's console: 200 agents' daemons and 20 supervisors' pages.

Starts the real console (``python -m monitor.cli supervisor``) with one token per agent in its
configuration, then, for a shift compressed to ``--shift-s`` seconds: each agent beats every
``delivery.heartbeat_s`` (the default, 30 s; every 5 s while one of its criticals is open) and posts
its share of ``--warnings`` and ``--criticals`` alerts, each a new connection as a daemon's
urllib post is, with the bodies the daemon's own code builds (:func:`webhook.payload`,
:meth:`webhook.Heartbeat.body`). Supervisors acknowledge every critical and most warnings over the
API after a while. ``--sse`` clients read ``/events`` and time each alert from its post's start to
its arrival; ``--pages`` headless Chromium pages (tests/cdp.py) time the page's ``render`` and count
its DOM. Prints one JSON line of figures and writes it to OUT/figures.json.

    PYTHONPATH=.:tests OMP_NUM_THREADS=1 .venv/bin/python research/consolescale/load.py /tmp/consolescale
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from monitor.config.schema import DeliveryConfig
from monitor.delivery.sinks.webhook import AWAITING_ACK_S, Heartbeat, Identity, payload
from monitor.events import AlertEvent

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"warning": ("breathing_rate", "speech_rate", "long_pause", "voice_strain"),
         "critical": ("possible_emergency",)}


def start_console(out: Path, tokens: dict[str, str]) -> tuple[subprocess.Popen, str, str]:
    cfg = out / "console.toml"
    cfg.write_text("[supervisor]\nagent_tokens = [" + ", ".join(f'"{a}:{t}"' for a, t in tokens.items()) + "]\n")
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "supervisor", "--listen", "127.0.0.1:0",
                             "--db", str(out / "console.db"), "--token-file", str(out / "console.token"),
                             "--config", str(cfg)], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env={"HOME": str(out), "XDG_CONFIG_HOME": str(out / "cfg"), "PATH": "/usr/bin:/bin",
                                 "OMP_NUM_THREADS": "1"})
    for line in proc.stderr:
        if m := re.search(r"console (http://\S+?)/\?token", line):
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, m.group(1), (out / "console.token").read_text().strip()
    raise SystemExit("the console did not start")


def cpu_rss(pid: int) -> tuple[float, int]:
    """(user+system CPU seconds, RSS in kB) of process ``pid``."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    rss = next(int(x.split()[1]) for x in open(f"/proc/{pid}/status") if x.startswith("VmRSS"))
    return (int(f[11]) + int(f[12])) / 100.0, rss


def post(base: str, token: str, body: bytes) -> int:
    req = urllib.request.Request(base + "/webhook", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
        return r.status


class Agent:
    """One agent's daemon as the console sees it: an identity, a status, a call, its alerts."""

    def __init__(self, name: str, token: str, base: str) -> None:
        self.identity, self.token, self.base = Identity(name, secrets.token_hex(16)), token, base
        self.next_id, self.call_id, self.call_start = 1, 1, time.time()
        self.critical_open = False
        self.beat = Heartbeat(base + "/webhook", self.identity, self.status, every_s=DeliveryConfig().heartbeat_s,
                              token=token, awaits_ack=lambda: self.critical_open)

    def status(self) -> dict:
        t = time.time() - self.call_start
        return {"version": "0.9.0", "devices": {"caller": {"state": "running", "label": "softphone.monitor"},
                                                "agent": {"state": "running", "label": "headset"}},
                "devices_open": True, "in_call": True,
                "call": {"call_id": self.call_id, "t": round(t, 1), "started_at": round(self.call_start, 3),
                         "active_alerts": []},
                "calls": self.call_id, "alerts": self.next_id - 1, "uptime_s": 600.0, "last_error": None,
                "transcription_off": None, "transcription_loading": False, "reports": []}

    def alert(self, severity: str, rng: random.Random) -> bytes:
        if rng.random() < 0.3:
            self.call_id, self.call_start = self.call_id + 1, time.time() - rng.uniform(5, 60)
        t = time.time() - self.call_start
        ev = AlertEvent(t=round(t, 2), kind=rng.choice(KINDS[severity]), severity=severity,
                        message=f"{severity}: the caller's breathing rose to 31/min (baseline 16/min)",
                        evidence={"cue": "breathing_rate", "value": 31.2, "baseline": 16.1, "threshold": 28.0,
                                  "span_s": [round(t - 15, 1), round(t, 1)], "confidence": 0.82},
                        actions=("Ask the caller whether they need help", "Call 112 / 911 if they do"),
                        alert_id=self.next_id)
        self.next_id += 1
        if severity == "critical":
            self.critical_open = True
        return payload(ev, self.identity, call_started_at=self.call_start)


class Stream(threading.Thread):
    """One page's event stream (``GET /events``): the arrival time of each alert, by (daemon, alert id)."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.host, self.port = base.split("//")[1].split(":")
        self.token, self.arrived, self.bytes, self.state_bytes = token, {}, 0, 0

    def run(self) -> None:
        c = http.client.HTTPConnection(self.host, int(self.port), timeout=600)
        c.request("GET", "/events", headers={"Authorization": f"Bearer {self.token}"})
        r = c.getresponse()
        event = ""
        for line in r:
            self.bytes += len(line)
            if line.startswith(b"event: "):
                event = line[7:].strip().decode()
            elif line.startswith(b"data: ") and event == "alert":
                d = json.loads(line[6:])
                self.arrived.setdefault((d["daemon_id"], d["alert_id"]), time.time())
            elif line.startswith(b"data: ") and event == "state":
                self.state_bytes = len(line)


PAGE_PROBE = """(() => { window.__r = []; const timed = (f) => function () { const t = performance.now();
  const v = f.apply(this, arguments); window.__r.push(performance.now() - t); return v; };
  window.render = timed(window.render); window.renderAgents = timed(window.renderAgents); return true; })()"""
PAGE_FIGURES = """(() => ({renders: window.__r.length, render_ms: window.__r.slice(),
  dom: document.getElementsByTagName('*').length, cards: document.querySelectorAll('article').length,
  held: S.alerts.size, heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null}))()"""


def pct(xs: list[float], q: float) -> float | None:
    return round(sorted(xs)[min(len(xs) - 1, int(q * len(xs)))], 1) if xs else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--warnings", type=int, default=3000)
    ap.add_argument("--criticals", type=int, default=50)
    ap.add_argument("--shift-s", type=float, default=240.0)
    ap.add_argument("--sse", type=int, default=18)
    ap.add_argument("--pages", type=int, default=2)
    ap.add_argument("--ack-after-s", type=float, default=20.0, help="criticals acknowledged this long after")
    ap.add_argument("--warnings-acked", type=float, default=0.9)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    tokens = {f"agent{i:03d}": secrets.token_urlsafe(32) for i in range(a.agents)}
    proc, base, shared = start_console(a.out, tokens)
    browsers: list = []
    try:
        shift(a, rng, tokens, proc, base, shared, browsers)
    finally:  # the console and Chromium end with the script, whatever happened
        for b in browsers:
            b.close()
        proc.terminate()
        proc.wait(10)


def shift(a: argparse.Namespace, rng: random.Random, tokens: dict[str, str], proc: subprocess.Popen,
          base: str, shared: str, browsers: list) -> None:
    """The shift run and measured; the Chromium it starts goes to ``browsers``."""
    agents = [Agent(n, t, base) for n, t in tokens.items()]
    streams = [Stream(base, shared) for _ in range(a.sse)]
    for s in streams:
        s.start()
    pages = []
    if a.pages:
        from cdp import Browser
        browser = Browser(a.out / "chromium")
        browsers.append(browser)
        for _ in range(a.pages):
            pages.append(browser.new_page(f"{base}/?token={shared}"))
        for p in pages:
            p.wait("document.getElementById('conn').textContent === 'live' && S.loaded", timeout=60)
            p.eval(PAGE_PROBE)
    cpu0, _ = cpu_rss(proc.pid)
    t0 = time.time()
    plan = sorted([(rng.uniform(0, a.shift_s), "warning") for _ in range(a.warnings)] +
                  [(rng.uniform(0, a.shift_s), "critical") for _ in range(a.criticals)])
    posted: dict[tuple[str, int], float] = {}
    post_ms: list[float] = []
    beats_ms: list[float] = []
    acks: list[tuple[float, int]] = []  # (when, console id)
    stop = threading.Event()
    lock = threading.Lock()
    samples = []

    def beater(ag: Agent) -> None:
        stop.wait(rng.uniform(0, ag.beat.every_s))
        while not stop.is_set():
            s = time.perf_counter()
            ag.beat.beat()
            beats_ms.append((time.perf_counter() - s) * 1000)
            stop.wait(AWAITING_ACK_S if ag.critical_open else ag.beat.every_s)

    def send(ag: Agent, severity: str) -> None:
        with lock:
            body = ag.alert(severity, rng)
        key = (ag.identity.daemon_id, json.loads(body)["alert_id"])
        sent, s = time.time(), time.perf_counter()
        post(base, ag.token, body)
        post_ms.append((time.perf_counter() - s) * 1000)
        posted[key] = sent
        if severity == "critical" or rng.random() < a.warnings_acked:
            acks.append((time.time() + a.ack_after_s * (1 if severity == "critical" else 3), key))

    def acker() -> None:
        ids: dict[tuple[str, int], int] = {}
        while not stop.is_set() or acks:
            due = [x for x in list(acks) if x[0] <= time.time()]
            if not due:
                if stop.is_set():
                    break
                time.sleep(0.2)
                continue
            st = json.loads(urllib.request.urlopen(urllib.request.Request(
                base + "/api/state", headers={"Authorization": f"Bearer {shared}"}), timeout=60).read())
            ids.update({(x["daemon_id"], x["alert_id"]): x["id"] for x in st["alerts"]})
            for x in due:
                acks.remove(x)
                if (pk := ids.get(x[1])) is not None:
                    urllib.request.urlopen(urllib.request.Request(
                        f"{base}/api/alerts/{pk}/ack", data=b'{"by": "Dana"}', method="POST",
                        headers={"Authorization": f"Bearer {shared}", "Content-Type": "application/json"}), timeout=30).read()
                    ag = next(g for g in agents if g.identity.daemon_id == x[1][0])
                    ag.critical_open = False

    def sampler() -> None:
        while not stop.is_set():
            samples.append((time.time() - t0, *cpu_rss(proc.pid)))
            stop.wait(2.0)

    acking = threading.Thread(target=acker, daemon=True)
    for t in (threading.Thread(target=sampler, daemon=True), acking):
        t.start()
    beaters = [threading.Thread(target=beater, args=(g,), daemon=True) for g in agents]
    for b in beaters:
        b.start()
    with ThreadPoolExecutor(16) as pool:
        for when, severity in plan:
            time.sleep(max(0.0, t0 + when - time.time()))
            pool.submit(send, rng.choice(agents), severity)
    time.sleep(5.0)
    stop.set()
    acking.join(60)  # the acknowledgements due by now made, before the console stops
    cpu1, rss1 = cpu_rss(proc.pid)
    state_s = []
    for _ in range(5):
        s = time.perf_counter()
        body = urllib.request.urlopen(urllib.request.Request(base + "/api/state", headers={
            "Authorization": f"Bearer {shared}"}), timeout=60).read()
        state_s.append((time.perf_counter() - s) * 1000)
    state = json.loads(body)
    lat = [(s.arrived[k] - t) * 1000 for s in streams for k, t in posted.items() if k in s.arrived]
    missing = sum(1 for s in streams for k in posted if k not in s.arrived)
    page_figs = []
    for p in pages:  # a page behind on its events answers once it has drawn them: how long that took is said
        s = time.perf_counter()
        r = browser.send("Runtime.evaluate", {"expression": PAGE_FIGURES, "returnByValue": True}, p.session, 600)
        page_figs.append({**r["result"]["value"], "answer_s": time.perf_counter() - s})
    figs = {"agents": a.agents, "alerts_posted": len(posted), "shift_s": a.shift_s,
            "console_cpu_s": round(cpu1 - cpu0, 1), "console_rss_mb_end": round(rss1 / 1024, 1),
            "console_rss_mb_max": round(max(x[2] for x in samples) / 1024, 1),
            "post_ms_p50": pct(post_ms, .5), "post_ms_p99": pct(post_ms, .99),
            "beat_ms_p50": pct(beats_ms, .5), "beat_ms_p99": pct(beats_ms, .99), "beats": len(beats_ms),
            "fanout_ms_p50": pct(lat, .5), "fanout_ms_p99": pct(lat, .99), "fanout_ms_max": pct(lat, 1.0),
            "fanout_missing": missing,
            "state_bytes": len(body), "state_alerts": len(state["alerts"]),
            "state_open": sum(1 for x in state["alerts"] if not x["acked_at"]), "state_ms_median": pct(state_s, .5),
            "db_bytes": sum(f.stat().st_size for f in a.out.glob("console.db*")),
            "pages": [{"renders": f["renders"], "render_ms_p50": pct(f["render_ms"], .5),
                       "render_ms_p99": pct(f["render_ms"], .99), "render_ms_total": round(sum(f["render_ms"])),
                       "dom_elements": f["dom"], "cards": f["cards"], "alerts_held": f["held"],
                       "heap_mb": f["heap_mb"] and round(f["heap_mb"], 1), "answer_s": round(f["answer_s"], 1)}
                      for f in page_figs]}
    (a.out / "figures.json").write_text(json.dumps(figs, indent=1))
    (a.out / "samples.json").write_text(json.dumps(samples))
    print(json.dumps(figs))


if __name__ == "__main__":
    main()
