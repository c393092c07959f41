"""Two live daemons (alice, bob), a third (carol) with alice's token, and a replay, against one
``call-monitor supervisor`` on 127.0.0.1; prints what the console's API and page show.

    PYTHONPATH=. .venv/bin/python research/console_agents/two_agents.py OUT_FOLDER

Needs pulseaudio, pulseaudio-utils and chromium (as the tests do); about 3 minutes.
"""
import json, os, signal, subprocess, sys, time
from pathlib import Path
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests")); sys.path.insert(0, str(REPO))
import numpy as np, soundfile as sf
from pulse import PulseServer
from conftest import Daemon, ROOT, PY
from console_proc import ConsoleProcess

T = Path(sys.argv[1]).resolve(); import shutil, tempfile; shutil.rmtree(T, ignore_errors=True); T.mkdir(parents=True)
FIX = ROOT / "audio_fixtures/calls/deteriorating_16k.wav"
x, r = sf.read(FIX, dtype="float32")
cut = T / "call.wav"
sf.write(cut, np.concatenate([x[int(a * r):int(b * r), 1] for a, b in [(6.2, 48), (108, 145)]]), r)
TA, TB = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef00"
ccfg = T / "console.toml"
ccfg.write_text(f'[supervisor]\nagent_tokens = ["alice:{TA}", "bob:{TB}"]\nsilent_after_s = 8\n')
console = ConsoleProcess(T / "console", extra=("--config", str(ccfg)))
print("console", console.base)
log = []
def note(*a):
    s = " ".join(str(x) for x in a); print(s, flush=True); log.append(s)

servers, daemons = [], {}
try:
    for name, tok in (("alice", TA), ("bob", TB), ("carol", TA)):
        ps = PulseServer().start()  # a short folder of its own (socket paths are limited); servers.append(ps)
        home = T / name; home.mkdir()
        (home / "tok").write_text(tok + "\n")
        (home / "c.toml").write_text(f"[delivery]\nagent_name = \"{name}\"\nheartbeat_s = 2\nreport_url_base = \"https://reports.example/{name}/\"\n[daemon]\nreport_on_critical = true\nreport_dir = \"{home}/reports\"\n")
        env = {**ps.full_env(), "HOME": str(home), "XDG_CONFIG_HOME": str(home / "cfg"), "XDG_DATA_HOME": str(home / "data"),
               "PYTHONPATH": str(ROOT)}
        d = Daemon(["--caller", "softphone.monitor", "--jsonl", "--config", str(home / "c.toml"), "--db", str(home / "e.db"),
                    "--no-notify", "--no-transcribe", "--webhook", console.webhook, "--webhook-token-file", str(home / "tok")],
                   env, home)
        d.wait_running(env, timeout=30)
        daemons[name] = (d, ps, env)
    time.sleep(5)
    st = console.state()
    note("agents after start:", [(g["agent"], g["status"].get("in_call")) for g in st["agents"]])
    note("carol stderr:", [e for e in daemons["carol"][0].err if "403" in e or "refused" in e.lower() or "token" in e][:3])
    note("console log 403:", [e for e in console.err if "403" in e][:2])
    # an agent's token reading the state
    code, body = console.request("GET", "/api/state", token=TA); note("GET /api/state with alice's token:", code, body[:120])
    code, body = console.request("POST", "/api/alerts/1/ack", json.dumps({"by": "x"}).encode(), token=TA); note("ack with alice's token:", code, body[:120])
    pa = daemons["alice"][1].play(cut); time.sleep(6); pb = daemons["bob"][1].play(cut)
    time.sleep(8)
    st = console.state()
    note("agents in call:", [(g["agent"], g["status"].get("in_call"), g["status"].get("call")) for g in st["agents"]])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        crit = [a for a in console.state()["alerts"] if a["severity"] == "critical"]
        if {a["agent"] for a in crit} >= {"alice", "bob"}:
            break
        time.sleep(1)
    st = console.state()
    note("alerts (order as API):", [(a["id"], a["agent"], a["severity"], a["kind"], round(a["t"], 1), a["acked_by"]) for a in st["alerts"]])
    ca = next(a for a in st["alerts"] if a["agent"] == "alice" and a["severity"] == "critical")
    code, body = console.request("POST", f"/api/alerts/{ca['id']}/ack", json.dumps({"by": "Dana"}).encode()); note("ack alice's critical by Dana:", code, body[:200])
    code, body = console.request("POST", f"/api/alerts/{ca['id']}/ack", json.dumps({"by": "Eve"}).encode()); note("second ack by Eve:", code, json.loads(body)["acked_by"])
    code, body = console.request("POST", "/api/alerts/99999/ack", json.dumps({"by": "Eve"}).encode()); note("ack unknown:", code)
    # a replay through the console with the shared token
    rep = subprocess.run([PY, "-m", "monitor.cli", "replay", str(cut), "--no-transcribe", "--db", str(T / "replay.db"), "--webhook", console.webhook,
                          "--webhook-token-file", str(console.token_file)], env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(T), "XDG_CONFIG_HOME": str(T / "rcfg")},
                         capture_output=True, text=True, timeout=300)
    note("replay rc", rep.returncode, rep.stderr[-300:])
    pa.wait(200); pb.wait(200)
    time.sleep(4)
    st = console.state()
    note("agents after calls:", [(g["agent"], g["status"].get("in_call"), g["status"].get("reports")) for g in st["agents"]])
    # bob stops cleanly, alice is killed
    d, _, _ = daemons["bob"]; d.proc.send_signal(signal.SIGTERM); note("bob exit", d.proc.wait(15))
    d, _, _ = daemons["alice"]; d.proc.kill(); d.proc.wait(5)
    time.sleep(3)
    st = console.state()
    note("agents after stop:", [(g["agent"], g["status"].get("stopped"), round(time.time() - g["last_seen"], 1)) for g in st["agents"]])
    json.dump(st, open(T / "state.json", "w"), indent=1)
    # the page
    from cdp import Browser
    b = Browser(T)
    page = b.new_page(f"{console.base}/?token={console.token}")
    page.wait("document.getElementById('conn') && document.getElementById('conn').textContent === 'live'", timeout=30)
    time.sleep(10)  # alice silent by now (silent_after_s 8), re-rendered every 5 s
    rows = page.eval("[...document.querySelectorAll('#agents .agentrow')].map(r => r.innerText)")
    note("page agents:", json.dumps(rows))
    for box in ("critical", "warning", "acked"):
        note(f"page {box}:", json.dumps(page.eval(f"[...document.querySelectorAll('#{box} article')].map(a => a.querySelector('.head').innerText + ' | ' + (a.querySelector('.foot') ? a.querySelector('.foot').innerText : '') + ' ' + (a.querySelector('.foot a') ? a.querySelector('.foot a').href : ''))")))
    note("first critical evidence:", json.dumps(page.eval("document.querySelector('#critical article dl') ? document.querySelector('#critical article dl').innerText : null")))
    page.screenshot(T / "page.png") if hasattr(page, "screenshot") else None
    b.close()
finally:
    for server in servers:  # first: nothing below may leave a sound server running
        server.stop()
    for d, _, _ in daemons.values():
        d.kill()
    console.kill()
    (T / "log.txt").write_text("\n".join(log) + "\n\nCONSOLE STDERR\n" + "\n".join(console.err) + "\n\nCAROL\n" + "\n".join(daemons.get("carol", (Daemon.__new__(Daemon),))[0].err if "carol" in daemons else []))
