"""How a real softphone (baresip 1.0.0) plays its calls into a PulseAudio sink: its streams against
its own call events, and the daemon's stored calls against its calls.

Two baresip user agents on 127.0.0.1, no SIP server: "agent" plays into the null sink
``softphone`` of a private PulseAudio server (its ringtone too: ``audio_alert``), "caller" sends a
WAV file (``aufile``). Both are driven over their ``ctrl_tcp`` sockets. Everything is logged on one
clock (seconds since the start): ``pactl subscribe``'s sink-input events, listings of the streams
every 20 ms, baresip's events and the commands sent.

    python research/softphone/measure.py streams --reps 5 --out DIR    # the stream timings
    python research/softphone/measure.py daemon --out DIR [--grace S] [--alert mic]  # call-monitor run

Run from the repository root with PYTHONPATH=. (it uses tests/pulse.py's private server).
"""

from __future__ import annotations

import argparse
import ast
import collections
import contextlib
import json
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from pulse import PulseServer  # noqa: E402

T0 = time.monotonic()
UA = """\
sip_listen 127.0.0.1:{sip}
audio_player pulse,{sink}
audio_source aufile,{voice}
audio_alert pulse,{alert}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module pulse.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl}
"""


class Log:
    def __init__(self, path: Path) -> None:
        self.f, self.lock = open(path, "w"), threading.Lock()

    def add(self, src: str, what: str) -> None:
        with self.lock:
            self.f.write(f"{time.monotonic() - T0:9.3f} {src:8s} {what}\n")
            self.f.flush()


class Agent:
    """One baresip and its ctrl_tcp socket (netstring-framed JSON); its events go to the log."""

    def __init__(self, name: str, sip: int, ctrl: int, sink: str, voice: Path, root: Path, env: dict,
                 log: Log, alert: str | None = None) -> None:
        conf = root / name
        conf.mkdir()
        (conf / "config").write_text(UA.format(sip=sip, sink=sink, voice=voice, ctrl=ctrl, alert=alert or sink))
        self.uri = f"sip:{name}@127.0.0.1:{sip}"
        (conf / "accounts").write_text(f"<{self.uri}>;regint=0\n")
        (conf / "contacts").write_text("")
        self.name, self.log = name, log
        self.proc = subprocess.Popen(["baresip", "-f", str(conf)], env=env, stdin=subprocess.DEVNULL,
                                     stdout=open(root / f"{name}.log", "w"), stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                self.sock = socket.create_connection(("127.0.0.1", ctrl))
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"baresip {name}: no ctrl_tcp socket")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):  # closed at the end
            self._events()

    def _events(self) -> None:
        buf = b""
        while (data := self.sock.recv(65536)):
            buf += data
            while b":" in buf:
                n, rest = buf.split(b":", 1)
                if len(rest) < int(n) + 1:
                    break
                msg, buf = json.loads(rest[:int(n)]), rest[int(n) + 1:]
                if msg.get("event"):
                    self.log.add(self.name, f"EVENT {msg.get('type')} {msg.get('param', '')}")

    def cmd(self, command: str, params: str = "") -> None:
        self.log.add(self.name, f"CMD {command} {params}")
        msg = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(b"%d:%s," % (len(msg), msg))

    def close(self) -> None:
        self.sock.close()
        self.proc.terminate()
        self.proc.wait(5)


def watch(env: dict, log: Log, stop: threading.Event) -> subprocess.Popen:
    """pactl subscribe's sink-input events, and a listing of the streams (id, sink) on each change."""
    sub = subprocess.Popen(["pactl", "subscribe"], stdout=subprocess.PIPE, text=True, env=env)

    def events() -> None:
        for line in sub.stdout:
            if "sink-input" in line:
                log.add("pactl", line.strip())

    def listings() -> None:
        last = None
        while not stop.is_set():
            sinks = dict(line.split("\t")[:2] for line in subprocess.run(
                ["pactl", "list", "short", "sinks"], capture_output=True, text=True, env=env).stdout.splitlines())
            rows = json.loads(subprocess.run(["pactl", "-f", "json", "list", "sink-inputs"], capture_output=True,
                                             text=True, env=env).stdout or "[]")
            now = tuple(sorted((s["index"], sinks.get(str(s["sink"]), "?"), s["properties"].get("media.role", ""))
                               for s in rows))
            if now != last:
                log.add("snap", repr(now))
                last = now
            time.sleep(0.02)

    threading.Thread(target=events, daemon=True).start()
    threading.Thread(target=listings, daemon=True).start()
    return sub


def free_port(pair: bool = False) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            for p in (port, port + 1) if pair else (port,):  # baresip: SIP over TLS on port + 1
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue


def streams_scenarios(a: Agent, c: Agent, reps: int, mark) -> None:
    for rep in range(reps):
        mark(f"inbound rep={rep}")  # rings 3 s, 5 s talk, the caller hangs up
        c.cmd("dial", a.uri); time.sleep(3); a.cmd("accept"); time.sleep(5); c.cmd("hangup"); time.sleep(3)
        mark(f"outbound rep={rep}")  # the agent dials, 3 s ringback, 5 s talk, the agent hangs up
        a.cmd("dial", c.uri); time.sleep(3); c.cmd("accept"); time.sleep(5); a.cmd("hangup"); time.sleep(3)
        mark(f"unanswered rep={rep}")
        c.cmd("dial", a.uri); time.sleep(6); c.cmd("hangup"); time.sleep(3)
        mark(f"hold rep={rep}")
        c.cmd("dial", a.uri); time.sleep(1); a.cmd("accept"); time.sleep(3)
        a.cmd("hold"); time.sleep(3); a.cmd("resume"); time.sleep(2)
        c.cmd("hold"); time.sleep(2); c.cmd("resume"); time.sleep(2)
        a.cmd("hangup"); time.sleep(3)
        for gap in (0.5, 1.0, 3.0):
            mark(f"b2b gap={gap} rep={rep}")  # hang up, dial the next call `gap` s later
            for pause in (gap, 3.0):
                c.cmd("dial", a.uri); time.sleep(0.5); a.cmd("accept"); time.sleep(4); a.cmd("hangup")
                time.sleep(pause)


def daemon_scenarios(a: Agent, c: Agent, mark) -> None:
    def call(src, dst, ring, talk, hangs, hold=False):
        src.cmd("dial", dst.uri); time.sleep(ring); dst.cmd("accept")
        if hold:
            time.sleep(talk / 2); a.cmd("hold"); time.sleep(3); a.cmd("resume"); time.sleep(talk / 2)
        else:
            time.sleep(talk)
        hangs.cmd("hangup")
    mark("1 inbound ring 4 talk 12"); call(c, a, 4, 12, c); time.sleep(4)
    mark("2 outbound ring 4 talk 12"); call(a, c, 4, 12, a); time.sleep(4)
    mark("3 unanswered ring 6"); c.cmd("dial", a.uri); time.sleep(6); c.cmd("hangup"); time.sleep(4)
    mark("4 inbound ring 1 talk 12 hold"); call(c, a, 1, 12, a, hold=True); time.sleep(4)
    for gap in (0.5, 1.5):
        mark(f"5 two inbound calls, the second dialled {gap} s after the hang-up")
        call(c, a, 0.5, 10, a); time.sleep(gap); call(c, a, 0.5, 10, a); time.sleep(4)


def summarize(path: Path) -> list[str]:
    """Ranges over the repetitions of the stream timings into sink softphone."""
    rows = [(float(m.group(1)), m.group(2), m.group(3)) for line in open(path)
            if (m := re.match(r"\s*([\d.]+) (\S+)\s+(.*)", line))]
    sink_of = {s[0]: s[1] for t, src, what in rows if src == "snap" for s in ast.literal_eval(what)}
    sections: list[tuple[str, list]] = []
    for t, src, what in rows:
        m = re.match(r"Event '(new|remove)' on sink-input #(\d+)", what)
        if src == "MARK":
            sections.append((what.split(" rep=")[0], []))
        elif sections and src == "pactl" and m and sink_of.get(int(m.group(2))) == "softphone":
            sections[-1][1].append((t, m.group(1), int(m.group(2))))
        elif sections and src in ("agent", "caller") and what.startswith("CMD"):
            sections[-1][1].append((t, f"{src}:{what.split()[1]}", None))
    stats = collections.defaultdict(list)

    def after(evs, kind, t):
        return next(e[0] for e in evs if e[1] == kind and e[0] > t)
    for name, evs in sections[:-1]:  # the last: "end"
        news = [e for e in evs if e[1] == "new"]
        cmds = [e for e in evs if ":" in e[1]]
        stats[f"{name}: streams into softphone"].append(len(news))
        if name in ("inbound", "outbound", "hold"):
            dial, acc = cmds[0][0], cmds[1][0]
            hang = next(c[0] for c in cmds if c[1].endswith("hangup"))
            call_new = after(evs, "new", acc)
            tone_gone = next(e[0] for e in evs if e[1] == "remove" and e[2] == news[0][2])
            stats[f"{name}: first stream after the dial (s)"].append(news[0][0] - dial)
            stats[f"{name}: call's stream after the answer (s)"].append(call_new - acc)
            stats[f"{name}: tone's stream gone - call's stream new (s)"].append(tone_gone - call_new)
            stats[f"{name}: last stream gone after the hang-up (s)"].append(
                [e for e in evs if e[1] == "remove"][-1][0] - hang)
        if name == "hold":
            for c in cmds:
                if c[1].endswith("hold"):
                    stats[f"hold: {c[1]}, stream made again, gap (s)"].append(
                        after(evs, "new", c[0]) - after(evs, "remove", c[0]))
        if name == "unanswered":
            hang = next(c[0] for c in cmds if c[1].endswith("hangup"))
            stats["unanswered: ringtone gone after the hang-up (s)"].append(after(evs, "remove", hang) - hang)
        if name.startswith("b2b"):
            gone = after(evs, "remove", next(c[0] for c in cmds if c[1].endswith("hangup")))
            stats[f"{name}: stream gap between the calls (s)"].append(after(evs, "new", gone) - gone)
    return [f"{k}: n={len(v)} {min(v):.3f}..{max(v):.3f}" for k, v in stats.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("streams", "daemon"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--grace", type=float, help="daemon.stream_end_grace_s for the daemon run")
    ap.add_argument("--alert", help="the agent's ringtone into this sink (mic), not into softphone")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="cmsp"))
    server = PulseServer(root / "pa").start()
    env = server.full_env()
    log = Log(args.out / "events.log")
    stop = threading.Event()
    sub = watch(env, log, stop)
    x, r = sf.read(ROOT / "audio_fixtures" / "calls" / "normal_8k.wav", dtype="int16")
    sf.write(root / "caller.wav", x[4 * r:, 1], r)  # the caller's leg, from 4 s in
    sf.write(root / "agent.wav", 0 * x[:, 0], r)  # baresip hangs up at the end of its file
    a = Agent("agent", free_port(True), free_port(), "softphone", root / "agent.wav", root, env, log,
              args.alert)
    c = Agent("caller", free_port(True), free_port(), "mic", root / "caller.wav", root, env, log)
    daemon = None
    try:
        if args.what == "daemon":
            cfg = root / "c.toml"  # a baseline after 5 s of speech, as tests/test_call_boundaries.py
            cfg.write_text("[analysis]\nbaseline_min_speech_s = 5.0\nbaseline_max_s = 10.0\nbaseline_min_windows = 2\n"
                           "baseline_min_window_speech_s = 2.0\n"
                           + (f"[daemon]\nstream_end_grace_s = {args.grace}\n" if args.grace is not None else ""))
            run = ["run", "-v", "--caller", "softphone.monitor", "--config", str(cfg), "--db",
                   str(args.out / "calls.db"), "--no-notify", "--no-transcribe"]
            daemon = subprocess.Popen([sys.executable, "-m", "monitor.cli", *run], cwd=ROOT, text=True,
                                      env={**env, "HOME": str(root), "PYTHONPATH": str(ROOT)},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            threading.Thread(target=lambda: [log.add("daemon", line.rstrip()) for line in daemon.stderr],
                             daemon=True).start()
            time.sleep(5.0)
            wall0 = time.time() - (time.monotonic() - T0)
            daemon_scenarios(a, c, lambda s: log.add("MARK", s))
            daemon.send_signal(2)
            daemon.wait(10)
            con = sqlite3.connect(args.out / "calls.db")
            lines = [f"call {i}: {s - wall0:.3f}..{e - wall0:.3f} s, ended_by {json.loads(j)['ended_by']!r}"
                     for i, s, e, j in con.execute("SELECT id, started_at, ended_at, summary FROM calls")]
        else:
            streams_scenarios(a, c, args.reps, lambda s: log.add("MARK", s))
            log.add("MARK", "end")
            lines = summarize(args.out / "events.log")
        (args.out / "summary.txt").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        stop.set()
        for ua in (a, c):
            ua.close()
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
        sub.kill()
        server.stop()


if __name__ == "__main__":
    main()
