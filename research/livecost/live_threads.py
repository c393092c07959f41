"""The live bench's run (tools.bench live: the daemon on a private PulseAudio server, the deteriorating
call's first 150 s played into both legs' sinks) with the daemon's RSS read every second and the CPU of
each of its threads over the playback; ``--perf`` records it with ``perf record -F 199 -g`` too.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python research/livecost/live_threads.py [--perf]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import tools.bench as bench
from monitor.transcription.vosk_models import packaged_model_dirs


def thread_cpu(pid: int) -> dict[str, tuple[str, float]]:
    """{thread id: (its name in /proc, utime + stime seconds)}."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            stat = f.read()
        fields = stat.rsplit(")", 1)[1].split()
        out[tid] = (stat[stat.index("(") + 1:stat.rindex(")")],
                    (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return out


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    pulse = bench._pulse_helpers()
    call = bench._live_call(tmp, packaged_model_dirs(tmp / "models"))
    server = pulse.PulseServer().start()
    env = dict(call.env, **server.env)
    env["HOME"] = str(tmp)  # no user configuration (the server sets HOME to its own root)
    hook = bench._Webhook()
    daemon = bench._LiveDaemon(call, env, tmp / "live.db", hook.url)
    pid, rss, done = daemon.proc.pid, [], threading.Event()

    def sample() -> None:
        t0 = time.time()
        while not done.wait(1.0):
            with open(f"/proc/{pid}/status") as f:
                rss.append((round(time.time() - t0), next(int(x.split()[1]) // 1024 for x in f if x.startswith("VmRSS"))))

    threading.Thread(target=sample, daemon=True).start()
    try:
        daemon.capturing()
        before = thread_cpu(pid)
        perf = subprocess.Popen(["perf", "record", "-F", "199", "-g", "-p", str(pid), "-o", str(tmp / "perf.data")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if "--perf" in sys.argv else None
        players = [server.play(path, sink) for sink, path in call.legs.items()]
        c0, w0 = bench._proc_cpu_s(pid), time.time()
        for p in players:
            p.wait()
        wall, cpu, after = time.time() - w0, bench._proc_cpu_s(pid) - c0, thread_cpu(pid)
        if perf is not None:
            perf.send_signal(2)
            perf.wait()
            shutil.copy(tmp / "perf.data", "perf.data")
        print(f"daemon CPU {cpu:.1f} s over {wall:.1f} s ({cpu / wall:.1%}), peak {bench._proc_hwm_mb(pid):.0f} MB")
        for tid, (name, c) in sorted(after.items(), key=lambda kv: -kv[1][1]):
            print(f"  thread {tid} {name:16s} {c - before.get(tid, (name, 0.0))[1]:6.2f} s")
        print("RSS (s, MB) every 10 s:", rss[::10])
    finally:
        done.set()
        daemon.kill()
        hook.close()
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
