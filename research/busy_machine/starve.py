"""The live daemon on a machine too busy for it: a private PulseAudio server (as tests/pulse.py
starts it), `call-monitor run --caller softphone.monitor --agent mic.monitor --webhook ...` (a receiver
on 127.0.0.1, as the tests' `Hook`), the labored_start fixture call played into both legs with
paplay, and the daemon starved meanwhile: a CPU cap (cgroup v1 `cpu.cfs_quota_us`, as root), busy
loops beside it (`--busy N`, at `--busy-nice`), the daemon niced (`--nice`), or stopped and continued
(`--freeze T:S,...`: SIGSTOP at T s for S s). Prints the CPU it took (% of one core over the call),
its memory, how far behind the analysis ran (`status --json`), what its legs dropped or filled, the
call and alerts stored, the criticals the webhook got and its stderr. See README.md."""
import argparse, json, os, signal, sqlite3, subprocess, sys, time
from pathlib import Path
WT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(WT / "tests"), str(WT)]
import soundfile as sf
from pulse import PulseServer
from conftest import Hook
from monitor.transcription.vosk_models import packaged_model_dirs

ap = argparse.ArgumentParser()
ap.add_argument("name"); ap.add_argument("--out", default="/tmp/busy_machine"); ap.add_argument("--transcribe", action="store_true")
ap.add_argument("--quota", type=float, default=0); ap.add_argument("--freeze", default="")
ap.add_argument("--busy", type=int, default=0); ap.add_argument("--busy-nice", type=int, default=0)
ap.add_argument("--nice", type=int, default=0); ap.add_argument("--play-s", type=float, default=120)
ap.add_argument("--poll", type=float, default=1.0)
ap.add_argument("--term-at", type=float, default=None, help="SIGTERM this many seconds into the call (still starved)")
ap.add_argument("--term-wait", type=float, default=20.0, help="how long to wait for the daemon to stop after SIGTERM")
ap.add_argument("--starve-from", type=float, default=0); ap.add_argument("--starve-until", type=float, default=1e9)
a = ap.parse_args()
root = Path(a.out) / a.name; root.mkdir(parents=True, exist_ok=True)
x, rate = sf.read(WT / "audio_fixtures/calls/labored_start_16k.wav", dtype="float32")
n = int(a.play_s * rate)
sf.write(root / "caller.wav", x[:n, 1], rate); sf.write(root / "agent.wav", x[:n, 0], rate)
srv = PulseServer(root / "pa").start()
hook = Hook()
procs, busy, cg = [], [], None
env = {**srv.full_env(), "OMP_NUM_THREADS": "1"}
if a.transcribe:
    env["VOSK_MODEL_PATH"] = str(packaged_model_dirs(root / "models"))
(root / "c.toml").write_text('[transcription]\nlanguage = "ko"\n' if a.transcribe else "")
db = root / "e.db"
for f in root.glob("e.db*"): f.unlink()
cmd = [str(WT / ".venv/bin/python"), "-m", "monitor.cli", "run", "-v", "--caller", "softphone.monitor", "--agent",
       "mic.monitor", "--jsonl", "--config", str(root / "c.toml"), "--db", str(db), "--no-notify", "--webhook", hook.url,
       *(["--model", "ko"] if a.transcribe else ["--no-transcribe"])]
if a.nice: cmd = ["nice", "-n", str(a.nice), *cmd]
err = open(root / "stderr.txt", "w"); out = open(root / "stdout.jsonl", "w")
d = subprocess.Popen(cmd, env=env, cwd=WT, stdout=out, stderr=err)
def status():
    r = subprocess.run([str(WT / ".venv/bin/python"), "-m", "monitor.cli", "status", "--json"], env=env, cwd=WT,
                       capture_output=True, text=True, timeout=20)
    try: return json.loads(r.stdout)
    except json.JSONDecodeError: return {}
def usage(pid):
    with open(f"/proc/{pid}/stat") as f: parts = f.read().rsplit(")", 1)[1].split()
    cpu = (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    rss = hwm = 0.0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): rss = int(line.split()[1]) / 1024
        if line.startswith("VmHWM:"): hwm = int(line.split()[1]) / 1024
    return cpu, rss, hwm
def tasks(pid):
    """CPU seconds of each thread of the process (by thread id; {} once it is gone)."""
    out = {}
    for t in Path(f"/proc/{pid}/task").glob("*") if Path(f"/proc/{pid}/task").exists() else []:
        try:
            parts = (t / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(t.name)] = (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return out
samples = []
try:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = status()
        if st.get("running") and not st.get("starting") and all(s["state"] == "running" for s in st.get("legs", {}).values()) \
                and (not a.transcribe or st.get("transcription")):
            break
        time.sleep(0.5)
    else:
        raise SystemExit("daemon did not get ready")
    time.sleep(2)
    cpu0, _, _ = usage(d.pid); t0 = time.monotonic(); wall0 = time.time()
    procs = [srv.play(root / "caller.wav"), srv.play(root / "agent.wav", sink="mic")]
    freezes = [tuple(map(float, f.split(":"))) for f in a.freeze.split(",") if f]
    starved = False
    end = t0 + a.play_s + 40
    while time.monotonic() < end:
        el = time.monotonic() - t0
        if not starved and el >= a.starve_from and el < a.starve_until:
            starved = True
            if a.quota:
                cg = Path(f"/sys/fs/cgroup/cpu/callmonitor_{a.name}"); cg.mkdir(exist_ok=True)
                (cg / "cpu.cfs_period_us").write_text("100000"); (cg / "cpu.cfs_quota_us").write_text(str(int(a.quota * 1000)))
                (cg / "cgroup.procs").write_text(str(d.pid))
            for _ in range(a.busy):
                busy.append(subprocess.Popen(["nice", "-n", str(a.busy_nice), sys.executable, "-c", "while True: pass"]))
        if starved and el >= a.starve_until:
            starved = False
            for b in busy: b.kill(); b.wait()
            busy = []
            if cg: (Path("/sys/fs/cgroup/cpu") / "cgroup.procs").write_text(str(d.pid)); cg.rmdir(); cg = None
        for ft, fd in list(freezes):
            if el >= ft:
                os.kill(d.pid, signal.SIGSTOP); time.sleep(fd); os.kill(d.pid, signal.SIGCONT); freezes.remove((ft, fd))
        st = status()
        cpu, rss, hwm = usage(d.pid)
        legs = st.get("legs", {})
        samples.append({"el": round(el, 1), "behind": st.get("behind_s"), "cpu": cpu, "rss": round(rss),
                        "drop": {k: v.get("dropped_blocks") for k, v in legs.items()},
                        "fill": {k: v.get("gap_fill_s") for k, v in legs.items()},
                        "skip": {k: v.get("skipped_s") for k, v in legs.items()},
                        "call": (st.get("call") or {}).get("call_id"), "ct": (st.get("call") or {}).get("t")})
        if a.term_at is not None and el >= a.term_at:
            break
        if el > a.play_s + 5 and st.get("call") is None and all(p.poll() is not None for p in procs):
            break
        time.sleep(a.poll)
    cpu1, rss, hwm = usage(d.pid); t1 = time.monotonic()
    said0 = (root / "stderr.txt").stat().st_size
    tasks0 = tasks(d.pid); tasks1 = tasks0
    d.send_signal(signal.SIGTERM); tt = time.monotonic(); stop_trace = []
    while d.poll() is None and time.monotonic() - tt < a.term_wait:  # the stderr lines after SIGTERM, timed
        tasks1 = {**tasks1, **tasks(d.pid)}
        size = (root / "stderr.txt").stat().st_size
        if size > said0:
            with open(root / "stderr.txt", "rb") as f:
                f.seek(said0); new = f.read(size - said0).decode(errors="replace")
            said0 = size
            stop_trace += [(round(time.monotonic() - tt, 1), line) for line in new.splitlines() if line.strip()]
        time.sleep(0.1)
    rc = d.poll(); stop_s = round(time.monotonic() - tt, 1)
finally:
    for b in busy: b.kill()
    for p in procs: p.kill()
    if d.poll() is None: d.kill(); d.wait()
    if cg:
        try: cg.rmdir()
        except OSError: pass
    hook.close(); srv.stop()
wall = t1 - t0
play_samples = [s for s in samples if s["el"] <= a.play_s]
cpu_play = (play_samples[-1]["cpu"] - cpu0) / play_samples[-1]["el"] if play_samples else None
stop_cpu = {"main": round(tasks1.get(d.pid, 0) - tasks0.get(d.pid, 0), 2),
            "other threads": round(sum(v - tasks0.get(k, 0) for k, v in tasks1.items() if k != d.pid), 2)}
print(json.dumps({"name": a.name, "rc": rc, "stop_s": stop_s, "stop_cpu_s": stop_cpu, "cpu_share_call": cpu_play, "cpu_share_all": (cpu1 - cpu0) / wall,
                  "rss_end": rss, "hwm": hwm, "max_behind": max((s["behind"] or 0) for s in samples),
                  "rss_max": max(s["rss"] for s in samples)}))
for s in samples[::10]: print(s)
con = sqlite3.connect(db)
print("calls", con.execute("SELECT id, started_at - ?, ended_at - ?, json_extract(summary,'$.ended_by'), json_extract(summary,'$.caller_speech_s') FROM calls", (wall0, wall0)).fetchall())
print("alerts", con.execute("SELECT a.kind, a.severity, a.t, c.started_at + a.t - ? FROM alerts a JOIN calls c ON c.id=a.call_id", (wall0,)).fetchall())
print("hook criticals", [(round(t - t0, 1), p.get("kind"), p.get("t")) for t, p in hook.received if p.get("severity") == "critical"])
print("hook all", len(hook.received))
print("after SIGTERM:"); [print(f"  +{t:5.1f} s  {line[:200]}") for t, line in stop_trace]
print("stderr:"); print("".join(l for l in open(root / "stderr.txt") if "debug" not in l.lower())[-6000:])
