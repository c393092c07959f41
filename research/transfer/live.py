"""The built cases (build.py) through the live daemon: a private PulseAudio server (tests/pulse.py),
`call-monitor run --caller softphone.monitor --agent mic.monitor --jsonl --webhook ...` (a receiver on
127.0.0.1, as the tests' `Hook`), each case's two legs played at once with paplay into the
`softphone` and `mic` sinks (each case a stream of its own, so a call of its own), `status` asked
every 2 s. Writes, per case, what the agent's terminal printed (`<case>.out`, the JSON lines), the
status lines (`<case>.status`), the stored call and alerts (`<case>.stored`) and the criticals the
webhook got. With `--mark-holds`, `call-monitor call hold` and `call resume` are sent where each hold
case's hold begins and ends (CALLS/holds.json, written by build.py), as a softphone's hook would.

    PYTHONPATH=. python research/transfer/live.py CALLS OUT [CASE ...] [--transcribe] [--mark-holds]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
from conftest import Hook  # noqa: E402
from pulse import PulseServer  # noqa: E402

from monitor.transcription.vosk_models import packaged_model_dirs  # noqa: E402

PY = str(ROOT / ".venv/bin/python")


def status(env: dict, text: bool = False) -> str:
    r = subprocess.run([PY, "-m", "monitor.cli", "status", *([] if text else ["--json"])], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=20)
    return r.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("calls", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--transcribe", action="store_true")
    ap.add_argument("--mark-holds", action="store_true")
    a = ap.parse_args()
    holds = json.loads((a.calls / "holds.json").read_text()) if a.mark_holds else {}
    a.out.mkdir(parents=True, exist_ok=True)
    cases = a.cases or sorted(p.name[:-len("_caller.wav")] for p in a.calls.glob("*_caller.wav"))
    srv = PulseServer(a.out / "pa").start()
    hook = Hook()
    env = {**srv.full_env(), "OMP_NUM_THREADS": "1"}
    if a.transcribe:
        env["VOSK_MODEL_PATH"] = str(packaged_model_dirs(a.out / "models"))
    (a.out / "c.toml").write_text('[transcription]\nlanguage = "ko"\n' if a.transcribe else "")
    db = a.out / "e.db"
    for f in a.out.glob("e.db*"):
        f.unlink()
    cmd = [PY, "-m", "monitor.cli", "run", "-v", "--caller", "softphone.monitor", "--agent", "mic.monitor", "--jsonl",
           "--config", str(a.out / "c.toml"), "--db", str(db), "--no-notify", "--webhook", hook.url,
           *(["--model", "ko"] if a.transcribe else ["--no-transcribe"])]
    out = open(a.out / "stdout.jsonl", "w")
    d = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=open(a.out / "stderr.txt", "w"))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            st = json.loads(status(env) or "{}")
            if st.get("running") and all(s["state"] == "running" for s in st.get("legs", {}).values()) \
                    and (not a.transcribe or st.get("transcription")):
                break
            time.sleep(0.5)
        else:
            raise SystemExit("daemon did not get ready")
        for case in cases:
            start = time.time()
            lines0 = (a.out / "stdout.jsonl").read_text().count("\n")
            players = [srv.play(a.calls / f"{case}_caller.wav", "softphone"), srv.play(a.calls / f"{case}_agent.wav", "mic")]
            marks: list[str] = []
            for at, what in zip(holds.get(case, ()), ("hold", "resume")):
                timer = threading.Timer(at, lambda what=what: marks.append(
                    f"{time.time() - start:6.1f} s call {what}: " + subprocess.run(
                        [PY, "-m", "monitor.cli", "call", what], env=env, cwd=ROOT, capture_output=True, text=True,
                        timeout=20).stdout.strip()))
                timer.daemon = True  # an interrupted run does not wait for it
                timer.start()
            with open(a.out / f"{case}.status", "w") as sf:
                while any(p.poll() is None for p in players):
                    sf.write(f"--- {time.time() - start:6.1f} s\n{status(env, text=True)}")
                    sf.flush()
                    time.sleep(2.0)
            time.sleep(6.0)
            lines = (a.out / "stdout.jsonl").read_text().splitlines()[lines0:]
            (a.out / f"{case}.out").write_text("\n".join(lines + marks) + "\n")
            alerts = sum('"alert"' in x for x in lines)
            print(f"== {case}: {time.time() - start:.0f} s, {alerts} alert line(s)", flush=True)
        d.send_signal(2)
        d.wait(30)
        con = sqlite3.connect(db)
        con.row_factory = sqlite3.Row
        for i, (call,) in enumerate(con.execute("SELECT id FROM calls ORDER BY id")):
            rows = [dict(r) for r in con.execute("SELECT * FROM alerts WHERE call_id = ? ORDER BY id", (call,))]
            summ = dict(con.execute("SELECT * FROM calls WHERE id = ?", (call,)).fetchone())
            name = cases[i] if i < len(cases) else f"extra{i}"
            (a.out / f"{name}.stored").write_text(json.dumps({"call": summ, "alerts": rows}, indent=1, default=str))
        (a.out / "webhook.json").write_text(json.dumps(hook.received, indent=1, default=str))
    finally:
        if d.poll() is None:
            d.kill()
        srv.stop()


if __name__ == "__main__":
    main()
