"""The live bench's run (tools.bench live: the daemon on a private PulseAudio server, the deteriorating
call's first 150 s played into both legs' sinks, the caller's leg transcribed) with the daemon's memory
split by mapping at four points: capturing (before the speech model), the model loaded, halfway
through the playback and after it. Each split is read from /proc/PID/smaps: the main heap, the other
anonymous mappings by size (glibc's thread arenas are 64 MB reservations, thread stacks 8 MB ones),
and file-backed pages by file. The daemon runs with ``PYTHONPROFILEIMPORTTIME=1``: the modules it
imported are counted from its standard error.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python research/live_memory/measure.py [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import tools.bench as bench
from monitor.transcription.vosk_models import packaged_model_dirs

_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")


def smaps_split(pid: int) -> dict[str, float]:
    """Resident MB of the process by kind of mapping (``anon <= 1 MB``, ``anon arena`` (64 MB
    reservations), ``anon 8 MB`` (thread stacks), ``anon other``, ``[heap]``, ``file <name>``)."""
    out: dict[str, float] = {}
    key = ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = _HEADER.match(line)
            if m:
                size_mb = (int(m.group(2), 16) - int(m.group(1), 16)) / 2 ** 20
                key = _kind(m.group(3), size_mb)
            elif line.startswith("Rss:"):
                out[key] = out.get(key, 0.0) + int(line.split()[1]) / 1024
    return {k: round(v, 1) for k, v in sorted(out.items(), key=lambda kv: -kv[1]) if v >= 0.05}


def _kind(name: str, size_mb: float) -> str:
    if name.startswith("/"):
        return "file " + name.rsplit("/", 1)[-1]
    if name:
        return name
    if size_mb >= 60:
        return "anon arena (64 MB reservations)"
    if 7.9 <= size_mb <= 8.1:
        return "anon 8 MB (thread stacks)"
    return "anon other"


def status(pid: int) -> dict[str, float]:
    with open(f"/proc/{pid}/status") as f:
        st = dict(line.split(":", 1) for line in f if ":" in line)
    return {k: int(st[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")} | \
        {"threads": int(st["Threads"])}


def snapshot(pid: int, label: str) -> dict:
    snap = {"label": label, "status": status(pid), "split": smaps_split(pid)}
    print(f"{label}: RSS {snap['status']['VmRSS']:.0f} MB, peak {snap['status']['VmHWM']:.0f} MB, "
          f"anon {snap['status']['RssAnon']:.0f}, file {snap['status']['RssFile']:.0f}, "
          f"threads {snap['status']['threads']}", flush=True)
    for k, v in list(snap["split"].items())[:14]:
        print(f"    {v:7.1f}  {k}")
    return snap


def imported(err: list[str]) -> list[str]:
    """The modules ``-X importtime`` lines name, in import order."""
    names = [line.split("|")[-1].strip() for line in err if line.startswith("import time:")]
    return [n for n in names if n and n != "imported package"]


def sample_rss(pid: int, done: threading.Event, into: list) -> None:
    """(seconds since the start, RSS MB, peak MB) every 0.2 s until ``done``."""
    t0 = time.time()
    while not done.wait(0.2):
        st = status(pid)
        into.append((round(time.time() - t0, 1), round(st["VmRSS"]), round(st["VmHWM"])))


def rises(series: list) -> list:
    """The samples where the peak rose by 2 MB or more since the last one reported."""
    out, last = [], 0
    for t, rss, hwm in series:
        if hwm >= last + 2:
            out.append((t, rss, hwm))
            last = hwm
    return out


def run(out: Path | None) -> None:
    tmp = Path(tempfile.mkdtemp())
    pulse = bench._pulse_helpers()
    call = bench._live_call(tmp, packaged_model_dirs(tmp / "models"))
    server = pulse.PulseServer().start()
    env = dict(call.env, **server.env, PYTHONPROFILEIMPORTTIME="1")
    env["HOME"] = str(tmp)
    hook = bench._Webhook()
    daemon = bench._LiveDaemon(call, env, tmp / "live.db", hook.url)
    pid, snaps = daemon.proc.pid, []
    try:
        daemon.capturing()
        time.sleep(1.0)
        snaps.append(snapshot(pid, "capturing, before the model"))
        daemon.model_loaded()
        snaps.append(snapshot(pid, "model loaded"))
        series: list = []
        done = threading.Event()
        threading.Thread(target=sample_rss, args=(pid, done, series), daemon=True).start()
        players = [server.play(path, sink) for sink, path in call.legs.items()]
        time.sleep(call.duration / 2)
        snaps.append(snapshot(pid, "halfway through the playback"))
        for p in players:
            p.wait()
        time.sleep(2.0)
        snaps.append(snapshot(pid, "after the playback"))
        time.sleep(8.0)
        done.set()
        snaps.append(snapshot(pid, "10 s after the playback"))
        print("peak rises (s from the play, RSS, peak):", rises(series)[-12:])
        print("last 15 s (s, RSS, peak):", series[-75::5])
        events = [e for _, e in daemon.out]
        print(f"words events {sum(e.get('type') == 'words' for e in events)}, critical alerts "
              f"{sum(e.get('type') == 'alert' and e.get('severity') == 'critical' for e in events)}, "
              f"webhook POSTs {len(hook.received)}")
        print("daemon log:", [line for line in daemon.err if not line.startswith("import time:")][-12:])
        mods = imported(daemon.err)
        heavy = sorted({m.split(".")[0] for m in mods})
        print(f"modules imported: {len(mods)}; top-level packages: {', '.join(heavy)}")
        if out is not None:
            out.write_text(json.dumps({"snapshots": snaps, "modules": mods, "rss": series}, indent=1))
    finally:
        daemon.kill()
        hook.close()
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    run(ap.parse_args().out)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
