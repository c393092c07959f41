"""A recorded call replayed against the same call played live on two legs (research notes).

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python research/live_vs_replay/measure.py live OUT FILE... [--reps 2] [--first K]
    PYTHONPATH=. .venv/bin/python research/live_vs_replay/measure.py table OUT
    PYTHONPATH=. .venv/bin/python research/live_vs_replay/measure.py shifts FILE...
    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python research/live_vs_replay/measure.py band OUT

``live``: per FILE (a stereo call, agent left, caller right) ``replay --no-transcribe --jsonl`` into
OUT/NAME/replay.jsonl; then per repetition a private PulseAudio server (tests/pulse.py) with null sinks
``softphone`` and ``mic``, ``run --caller softphone.monitor --agent mic.monitor --jsonl`` with
``daemon.write_audio`` on, both legs played at once with paplay once it listens, its events until the
file has played (+3 s, and its call summary) into OUT/NAME/liveK.jsonl and the audio it analysed into
OUT/NAME/liveK.wav; that audio analysed again as the daemon feeds it (OUT/NAME/liveK_replay.jsonl): the
same events as live say the live analysis is the replay's, and a divergence lies in the captured audio.

``table``: per call and run, the alerts (kind, severity, time on the recording's clock), the offset of
each captured leg against the recording (cross-correlation), its gain and residual, the alerts of the
captured audio analysed again and of it from the recording's first sample on (the replay's hop phase:
what still differs from the replay is the captured audio's), and the cues at matching hops.

``band``: white noise played live at 44.1 kHz (the null sink's rate) and at 16 kHz, the captured
spectrum above 3 kHz against its 1-3 kHz (what the capture leaves of the top band: the sound server's
resampling to 16 kHz cut it while the daemon asked for 16 kHz; it now opens the source at its own rate).

``shifts``: the recording replayed with 0..0.9 s of exact zeros put before it (a capture that began
before the call), with its first 0.1..0.9 s cut (one that began late), and low-passed at 7.5, 7 and
6.5 kHz (what PulseAudio's resampling to 16 kHz leaves of the top band): how much the alerts move with
where the call clock starts and with the top band, without any capture.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfiltfilt

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.pulse import PulseServer  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
CUES = ("response_latency_s", "speech_s", "pause_ratio", "speech_rate_sps")


def replay(path: Path, out: Path, extra: tuple[str, ...] = ()) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([PY, "-m", "monitor.cli", "replay", str(path), "--no-transcribe", "--jsonl",
                            "--db", f"{tmp}/e.db", *extra], capture_output=True, text=True, cwd=ROOT,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    if r.returncode:
        raise RuntimeError(r.stderr)
    out.write_text(r.stdout)
    return [json.loads(x) for x in r.stdout.splitlines()]


def reanalyse(wav: Path, out: Path) -> None:
    """The audio the daemon analysed (its call file: caller column 0, agent 1, already through the
    capture's edge conditioning, which a replay would apply again) through the call pipeline in the
    daemon's 0.1 s chunks: events that differ from the live ones would be the live analysis's own."""
    from monitor.capture.sources import Chunk
    from monitor.config import load_config
    from monitor.pipeline import CallPipeline, run_source
    y, rate = sf.read(wav, dtype="float32")
    n = int(0.1 * rate)
    chunks = (Chunk(round(i / rate, 6), y[i:i + n]) for i in range(0, len(y), n))
    pipe = CallPipeline(load_config(user_config=False), rate, ("caller", "agent"))
    out.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in run_source(pipe, chunks, [])))


def _reader(stream, sink: list, stamp: bool) -> None:
    for line in stream:
        sink.append((time.monotonic(), line) if stamp else line)


def live_once(path: Path, out: Path, k: int) -> None:
    x, rate = sf.read(path, dtype="float32")
    root = Path(tempfile.mkdtemp(prefix="lvr", dir="/tmp"))
    server = PulseServer(root).start()
    try:
        legs = {}
        for name, ch in (("agent", 0), ("caller", 1)):
            legs[name] = root / f"{name}.wav"
            sf.write(legs[name], x[:, ch], rate)
        (root / "audio").mkdir()
        cfg = root / "c.toml"
        cfg.write_text(f'[daemon]\nwrite_audio = true\naudio_dir = "{root / "audio"}"\n')
        env = {**server.full_env(), "OMP_NUM_THREADS": "1"}
        d = subprocess.Popen([PY, "-m", "monitor.cli", "run", "-v", "--caller", "softphone.monitor", "--agent",
                              "mic.monitor", "--jsonl", "--db", str(root / "e.db"), "--no-notify",
                              "--no-transcribe", "--config", str(cfg)], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        events: list = []
        err: list = []
        threading.Thread(target=_reader, args=(d.stdout, events, True), daemon=True).start()
        threading.Thread(target=_reader, args=(d.stderr, err, False), daemon=True).start()
        deadline = time.monotonic() + 30
        while not any("listening" in e for e in err) and time.monotonic() < deadline:
            time.sleep(0.05)
        _wait_running(env)
        time.sleep(1.0)
        t_play = time.monotonic()
        players = [subprocess.Popen(["paplay", f"--device={sink}", str(legs[leg])], env=env)
                   for leg, sink in (("caller", "softphone"), ("agent", "mic"))]
        for p in players:
            p.wait()
        t_end = time.monotonic() + 3.0
        while time.monotonic() < t_end + 5 and not any('"call_summary"' in e for _, e in events):
            time.sleep(0.1)
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=20)
        rows = [{**json.loads(e), "_wall": round(w - t_play, 3)} for w, e in events]
        (out / f"live{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (out / f"live{k}.err").write_text("".join(err))
        wavs = sorted((root / "audio").rglob("*.wav"))
        if wavs:
            os.replace(wavs[0], out / f"live{k}.wav")
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(root)])


def _wait_running(env: dict) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = subprocess.run([PY, "-m", "monitor.cli", "status", "--json"], env=env, capture_output=True,
                           text=True, cwd=ROOT)
        if r.returncode == 0:
            st = json.loads(r.stdout)
            if not st.get("starting") and all(s["state"] == "running" for s in st["legs"].values()):
                return
        time.sleep(0.2)
    raise RuntimeError("capture did not start")


def leg_offsets(original: Path, captured: Path) -> dict[str, float]:
    """Seconds each captured leg lags the recording's (captured file: caller column 0, agent 1)."""
    x, r = sf.read(original, dtype="float32")
    y, ry = sf.read(captured, dtype="float32")
    assert r == ry, (r, ry)
    n = min(len(y), len(x) + 10 * r, 60 * r)
    out = {}
    for leg, cx, cy in (("caller", 1, 0), ("agent", 0, 1)):
        a, b = x[: 50 * r, cx], y[:n, cy]
        m = len(a) + len(b)
        f = np.fft.irfft(np.fft.rfft(b, 2 * m) * np.conj(np.fft.rfft(a, 2 * m)), 2 * m)
        lag = int(np.argmax(f[: len(b)]))
        out[leg] = lag / r
        seg = y[lag: lag + len(x), cy]
        ref = x[: len(seg), cx]
        g = float(seg @ ref / (ref @ ref))
        out[f"{leg}_gain_db"] = 20 * np.log10(abs(g))
        out[f"{leg}_residual_db"] = 10 * np.log10(np.sum((seg - g * ref) ** 2) / np.sum((g * ref) ** 2))
    return out


def run_live(args) -> None:
    out = Path(args.out)
    for f in args.files:
        f = Path(f)
        d = out / f.stem
        d.mkdir(parents=True, exist_ok=True)
        replay(f, d / "replay.jsonl")
        for k in range(args.first, args.first + args.reps):
            t0 = time.monotonic()
            live_once(f, d, k)
            if (d / f"live{k}.wav").exists():
                reanalyse(d / f"live{k}.wav", d / f"live{k}_replay.jsonl")
            print(f"{f.stem} live{k}: {time.monotonic() - t0:.0f} s", flush=True)


def head_cut(wav: Path, lag: float) -> list[dict]:
    """The captured audio from where the recording begins (the replay's hop phase), analysed."""
    y, rate = sf.read(wav, dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        cut = Path(tmp) / "cut.wav"
        sf.write(cut, y[int(round(lag * rate)):], rate, subtype="FLOAT")
        reanalyse(cut, Path(tmp) / "cut.jsonl")
        return load(Path(tmp) / "cut.jsonl")


def reanalyse_all(args) -> None:
    for wav in sorted(Path(args.out).glob("*/live?.wav")):
        reanalyse(wav, wav.with_name(wav.stem + "_replay.jsonl"))


def same_hops(a: list[dict], b: list[dict]) -> str:
    """How many of the caller's cue hops of ``a`` are those of ``b`` within 0.005."""
    ca = {e["t"]: e for e in a if e["type"] == "cues" and e["channel"] == "caller"}
    cb = {e["t"]: e for e in b if e["type"] == "cues" and e["channel"] == "caller"}
    same = sum(all(abs((ca[t].get(c) or 0) - (cb[t].get(c) or 0)) < 0.006 for c in CUES) for t in ca if t in cb)
    return f"{same}/{len(ca)}"


def load(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def alerts(ev: list[dict], shift: float) -> str:
    a = [f"{e['kind'][:14]}/{e['severity'][0]}@{e['t'] + shift:.1f}" for e in ev if e["type"] == "alert"]
    return " ".join(a) or "-"


def cue_at(ev: list[dict], t: float, shift: float) -> str:
    cues = [e for e in ev if e["type"] == "cues" and e["channel"] == "caller"]
    if not cues:
        return "-"
    e = min(cues, key=lambda c: abs(c["t"] + shift - t))
    vals = [e.get(c) for c in CUES]
    return "/".join("-" if v is None else f"{v:.2f}" for v in vals)


def table(args) -> None:
    out = Path(args.out)
    for d in sorted(p for p in out.iterdir() if p.is_dir()):
        original = _original(d.name)
        rep = load(d / "replay.jsonl")
        print(f"== {d.name}")
        print(f"  replay        {alerts(rep, 0.0)}")
        for k in range(10):
            live = load(d / f"live{k}.jsonl")
            if not live:
                continue
            off = leg_offsets(original, d / f"live{k}.wav") if (d / f"live{k}.wav").exists() else {}
            # call clock t on the live file = recording time + caller lag: recording t = t - lag
            shift = -off.get("caller", 0.0)
            skew = (off.get("agent", 0) - off.get("caller", 0)) * 1000
            print(f"  live{k} (caller lag {off.get('caller', 0):.3f} s, agent-caller {skew:+.1f} ms) "
                  f"{alerts(live, shift)}")
            print("    gain/residual dB: " + ", ".join(f"{leg} {off.get(leg + '_gain_db', 0):+.2f}/"
                                                       f"{off.get(leg + '_residual_db', 0):.1f}"
                                                       for leg in ("caller", "agent")))
            again = load(d / f"live{k}_replay.jsonl")
            print(f"  live{k} audio analysed again: {alerts(again, shift)} (hops the same: {same_hops(live, again)})")
            if (d / f"live{k}.wav").exists():
                print(f"  live{k} audio from the recording's first sample: {alerts(head_cut(d / f'live{k}.wav', -shift), 0.0)}")
            for t in args.times:
                print(f"    t={t:5.1f} {'/'.join(CUES)}: replay {cue_at(rep, t, 0.0)} live {cue_at(live, t, shift)}")


def _original(name: str) -> Path:
    for folder in ("audio_fixtures/generated/eval_slice", "audio_fixtures/calls"):
        for ext in (".flac", ".wav"):
            p = ROOT / folder / f"{name}{ext}"
            if p.exists():
                return p
    raise FileNotFoundError(name)


def shifts(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for f in args.files:
            x, r = sf.read(f, dtype="float32")
            print(f"== {Path(f).stem}")
            for label, y in [(f"zeros {z:.1f}", np.concatenate([np.zeros((int(z * r), 2), np.float32), x]))
                             for z in np.arange(0.0, 1.0, 0.1)] + \
                            [(f"cut   {c:.1f}", x[int(c * r):]) for c in np.arange(0.1, 1.0, 0.2)] + \
                            [(f"lowpass {fc} Hz", sosfiltfilt(butter(8, fc, fs=r, output="sos"), x, axis=0))
                             for fc in (7500, 7000, 6500)]:
                p = Path(tmp) / "x.wav"
                sf.write(p, y.astype(np.float32), r, subtype="FLOAT")
                shift = {"zeros": -1.0, "cut": 1.0}.get(label.split()[0], 0.0) * float(label.split()[1])
                print(f"  {label}  {alerts(replay(p, Path(tmp) / 'o.jsonl'), shift)}")


def band(args) -> None:
    """White noise played live at the sink's rate (44.1 kHz) and at 16 kHz: the captured leg's
    spectrum above 3 kHz against its 1-3 kHz, in dB (flat noise: 0 where nothing is lost)."""
    from scipy.signal import welch
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    edges = [3000, 5000, 6000, 6500, 7000, 7200, 7500, 7800, 8000]
    for rate in (44100, 16000):
        src = out / f"noise_{rate}.wav"
        sf.write(src, np.random.default_rng(0).standard_normal((rate * 8, 2)).astype(np.float32) * 0.05, rate)
        live_once(src, out, rate)
        y, r = sf.read(out / f"live{rate}.wav", dtype="float32")
        f, p = welch(y[r:6 * r, 0], r, nperseg=1024)
        ref = p[(f > 1000) & (f < 3000)].mean()
        print(f"played at {rate} Hz: " + " ".join(f"{lo}-{hi}:{10 * np.log10(p[(f >= lo) & (f < hi)].mean() / ref):+.1f}"
                                                  for lo, hi in zip(edges, edges[1:])))


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("live")
    a.add_argument("out")
    a.add_argument("files", nargs="+")
    a.add_argument("--reps", type=int, default=2)
    a.add_argument("--first", type=int, default=0, help="number the runs from here (more runs of a call)")
    b = sub.add_parser("table")
    b.add_argument("out")
    b.add_argument("--times", type=float, nargs="*", default=[20.0, 40.0])
    r = sub.add_parser("reanalyse")
    r.add_argument("out")
    c = sub.add_parser("shifts")
    c.add_argument("files", nargs="+")
    d = sub.add_parser("band")
    d.add_argument("out")
    args = ap.parse_args()
    {"live": run_live, "table": table, "shifts": shifts, "reanalyse": reanalyse_all, "band": band}[args.cmd](args)


if __name__ == "__main__":
    main()
