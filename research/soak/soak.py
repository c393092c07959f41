"""A working day in 45 minutes: a private PulseAudio server (tests/pulse.py), the supervisor's console,
`call-monitor run` with the Korean model, calls played into the softphone sink back to back (a sound
server restart mid-call, a 23 min call with the console stopped 10 min of it, a SIGTERM mid-call);
/proc, the databases, the logs and `status --json` sampled every 30 s into OUT/samples.jsonl.

    sox audio_fixtures/calls/{deteriorating,normal,labored_start,real_caller,slow_talker,breathy_normal,noisy_line}_16k.wav OUT/long.wav
    sox audio_fixtures/calls/real_caller_16k.wav OUT/rc_head.wav trim 0 90
    sox audio_fixtures/calls/real_caller_16k.wav OUT/rc_tail.wav trim 90
    # OUT/config.toml: [transcription] language = "ko", and the [phrases] ko list of docs/transcription.md
    nice -n 5 env OMP_NUM_THREADS=1 .venv/bin/python research/soak/soak.py OUT
    python3 research/soak/summary.py OUT/samples.jsonl

One long call instead (`--one-call WAV`): no console and no webhook; the daemon started through
research/recognizer_memory/replay_rss.py (which notes each recognizer renewal and the RSS once the old
one was trimmed, into OUT/rss.jsonl, and prints each stretch's figures into OUT/daemon.out when the
daemon ends); 60 s of listening, the call played, 180 s after it, SIGTERM; sampled every 15 s.

    sox audio_fixtures/calls/{deteriorating,normal,labored_start,real_caller,slow_talker,breathy_normal,noisy_line}_16k.wav OUT/long.wav
    nice -n 5 env OMP_NUM_THREADS=1 .venv/bin/python research/soak/soak.py OUT --one-call OUT/long.wav
"""
import json, os, signal, sqlite3, subprocess, sys, threading, time
from pathlib import Path

W = str(Path(__file__).resolve().parents[2]); S = os.path.abspath(sys.argv[1]); F = W + "/audio_fixtures/calls"
ONE_CALL = sys.argv[3] if sys.argv[2:3] == ["--one-call"] else None
EVERY = 15 if ONE_CALL else 30
sys.path.insert(0, W)
from tests.pulse import PulseServer  # noqa: E402

PY = W + "/.venv/bin/python"
PORT = 18655
pulse = PulseServer(S + "/pa")
pulse.start()
env = {**pulse.full_env(), "HOME": S + "/home", "OMP_NUM_THREADS": "1", "XDG_DATA_HOME": S + "/data",
       "XDG_CONFIG_HOME": S + "/cfg"}
os.makedirs(S + "/home", exist_ok=True)
phase = ["start"]; t0 = time.monotonic()
log = open(S + "/events.log", "a")

def ev(msg):
    line = f"{time.strftime('%H:%M:%S')} +{time.monotonic()-t0:7.1f} {msg}"
    print(line, file=log, flush=True); print(line, flush=True)

def start_console():
    return subprocess.Popen(["nice", "-n", "10", PY, "-m", "monitor.cli", "supervisor", "--listen", f"127.0.0.1:{PORT}",
                             "--db", S + "/console.db", "--token-file", S + "/console.token"], cwd=W, env=env,
                            stdout=open(S + "/console.out", "ab"), stderr=open(S + "/console.err", "ab"))

def start_daemon():
    how = ([PY, W + "/research/recognizer_memory/replay_rss.py"] if ONE_CALL else
           [PY, "-m", "monitor.cli"])
    webhook = [] if ONE_CALL else ["--webhook", f"http://127.0.0.1:{PORT}/webhook",
                                   "--webhook-token-file", S + "/console.token"]
    return subprocess.Popen(["nice", "-n", "10", *how, "run", "--caller", "softphone.monitor",
                             "--agent", "mic.monitor", *webhook, "--db", S + "/events.db",
                             "--config", S + "/config.toml", "--socket", S + "/cm.sock", "--no-notify"], cwd=W,
                            env={**env, "OUT": S + "/rss.jsonl", "EVERY": "5"},
                            stdout=open(S + "/daemon.out", "ab"), stderr=open(S + "/daemon.err", "ab"))

def proc_stats(pid):
    try:
        st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status").read().splitlines() if ":" in l)
        return {"cpu_s": (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK"),
                "rss_mb": int(status["VmRSS"].split()[0]) / 1024, "anon_mb": int(status["RssAnon"].split()[0]) / 1024,
                "threads": int(status["Threads"]),
                "fds": len(os.listdir(f"/proc/{pid}/fd"))}
    except (FileNotFoundError, ProcessLookupError):
        return None

def children_cpu(pid):
    """cpu of the daemon's child processes (pactl subscribe, parec, ...)"""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1] == str(pid):
                    out.append(open(f"/proc/{p}/comm").read().strip())
            except OSError:
                pass
    return out

def db_rows(path):
    try:
        c = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        names = [r[0] for r in c.execute("select name from sqlite_master where type='table'")]
        rows = {n: c.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}
        c.close(); return rows
    except Exception as e:
        return str(e)

def size(p):
    return sum(os.path.getsize(x) for x in (p, p + "-wal") if os.path.exists(x))

def sampler():
    f = open(S + "/samples.jsonl", "a")
    while not stop.is_set():
        rec = {"t": round(time.monotonic() - t0, 1), "clock": time.strftime("%H:%M:%S"), "phase": phase[0],
               "daemon": proc_stats(daemon.pid), "console": console and proc_stats(console.pid),
               "children": children_cpu(daemon.pid),
               "db_bytes": size(S + "/events.db"), "console_db_bytes": size(S + "/console.db"),
               "out_bytes": os.path.getsize(S + "/daemon.out"), "err_bytes": os.path.getsize(S + "/daemon.err"),
               "rows": db_rows(S + "/events.db"), "console_rows": db_rows(S + "/console.db")}
        try:
            r = subprocess.run(["nice", "-n", "10", PY, "-m", "monitor.cli", "status", "--json", "--socket", S + "/cm.sock"],
                               cwd=W, env=env, capture_output=True, timeout=20, text=True)
            rec["status"] = json.loads(r.stdout) if r.returncode == 0 else r.stderr.strip()[:300]
        except Exception as e:
            rec["status"] = str(e)
        print(json.dumps(rec, ensure_ascii=False), file=f, flush=True)
        stop.wait(EVERY)

def play(path, secs=None):
    p = pulse.play(path)
    try:
        p.wait(timeout=secs)
    except subprocess.TimeoutExpired:
        return p
    return p

def idle(label, secs):
    phase[0] = label; ev(f"idle {secs}s {label}"); time.sleep(secs)

def call(label, path):
    phase[0] = label; ev(f"call {label} {path}"); play(path); ev(f"end {label}")

def one_call(path):
    idle("idle-before", 60)
    call("c1-long", path); idle("idle-after", 180)
    ev("daemon SIGTERM"); daemon.send_signal(signal.SIGTERM); ev(f"daemon exit {daemon.wait(60)}")
    time.sleep(1); stop.set(); pulse.stop(); ev("done")

stop = threading.Event()
console = None if ONE_CALL else start_console(); time.sleep(3)
daemon = start_daemon()
threading.Thread(target=sampler, daemon=True).start()
ev(f"daemon pid {daemon.pid} console pid {console and console.pid}")
if ONE_CALL:
    one_call(ONE_CALL); sys.exit(0)
idle("idle-before", 150)
call("c1-deteriorating", F + "/deteriorating_16k.wav"); idle("gap1", 30)
call("c2-normal", F + "/normal_16k.wav"); idle("gap2-long", 120)
phase[0] = "c3-pulse-restart"; ev("call c3 real_caller head"); p = pulse.play(S + "/rc_head.wav"); p.wait()
ev("pulse restart (kill -9 + start)"); pulse.stop(); time.sleep(2); pulse.start(); ev("pulse back")
p = pulse.play(S + "/rc_tail.wav"); p.wait(); ev("end c3"); idle("gap3", 30)
call("c4-labored", F + "/labored_start_16k.wav"); idle("gap4", 20)
phase[0] = "c5-long"; ev("call c5 long"); p = pulse.play(S + "/long.wav")
time.sleep(240); ev("console SIGTERM"); console.send_signal(signal.SIGTERM); console.wait(); phase[0] = "c5-long-console-down"
time.sleep(600); console = start_console(); ev(f"console back pid {console.pid}"); phase[0] = "c5-long-console-back"
p.wait(); ev("end c5"); idle("gap5-long", 120)
phase[0] = "c6-sigterm"; ev("call c6"); p = pulse.play(F + "/deteriorating_female_16k.wav"); time.sleep(100)
ev("daemon SIGTERM"); daemon.send_signal(signal.SIGTERM); rc = daemon.wait(60); ev(f"daemon exit {rc}")
p.kill(); time.sleep(31); stop.set()
ev("rows after stop " + json.dumps(db_rows(S + "/events.db")))
console.send_signal(signal.SIGTERM); console.wait(); pulse.stop(); ev("done")
