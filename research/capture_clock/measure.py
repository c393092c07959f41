"""Where a live leg's audio lands on the call clock after a sound-server stall, or after audio
dropped on a full queue, against where the sink played it.

    PYTHONPATH=. python research/capture_clock/measure.py stall --runs 8 --load 2 --out stall.jsonl
    PYTHONPATH=. python research/capture_clock/measure.py drop --runs 4 --legs 2 --load 2 --out drop.jsonl

Each run starts a private PulseAudio server (tests/pulse.py), records what its sink ``softphone``
plays with ``parec`` (when the sink played each sound, whenever its player started), captures the
sink's monitor with LiveSource (the caller's leg; ``--legs 2``: the agent's on ``mic.monitor``
too) and plays a click. Then ``stall`` stops the server for 1 s (SIGSTOP) and ``drop`` holds the
consumer for 3 s with a 0.5 s queue (the blocks that do not fit are dropped); a second click is
played after. A line per run: the offset, how much later the second click lands on the leg than at
the sink, relative to the first (0: the leg is where it was), and for ``stall`` the lateness of the
leg's blocks against counting its samples from its first block (the least in the second before the
stall and in the second after it): what placing the leg by when its blocks arrive is off by.
``--load N`` runs N ``yes > /dev/null`` meanwhile (killed at the end).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from pulse import PulseServer  # noqa: E402
from test_live import _SinkRecording, _onsets  # noqa: E402


def _click(path: Path) -> Path:
    x = np.zeros(48000, np.float32)
    x[24000:26400] = 0.5  # at 0.5 s: the first samples of a stream may not reach the sink's monitor
    sf.write(path, x, 48000)
    return path


def _arrivals(src) -> list[float]:
    """The arrival of every block the caller's leg takes from its queue, on the source clock."""
    leg = src._legs["caller"]
    get, out = leg.q.get_nowait, []

    def logged():
        item = get()
        out.append(item[1] - src._t_start)
        return item
    leg.q.get_nowait = logged
    return out


def _stall(pulse: PulseServer, src, click: Path, marks: dict) -> np.ndarray:
    def drive():
        deadline = time.monotonic() + 6
        while src.stats()["caller"]["state"] != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        pulse.play(click).wait(30)
        marks["stop"] = src.now()
        os.kill(pulse.proc.pid, signal.SIGSTOP)
        time.sleep(1.0)
        os.kill(pulse.proc.pid, signal.SIGCONT)
        marks["cont"] = src.now()
        time.sleep(getattr(src, "settle_s", 1.0))  # once the leg settled (the code before it had none)
        pulse.play(click).wait(30)
        time.sleep(0.5)
        src.stop()

    th = threading.Thread(target=drive)
    th.start()
    chunks = list(src.chunks())
    th.join()
    return np.concatenate([c.samples for c in chunks])[:, 0]


def _drop(pulse: PulseServer, src, click: Path, marks: dict) -> np.ndarray:
    players, got = [], []
    try:
        for ch in src.chunks():
            got.append(ch)
            now = src.now()
            if any(s["state"] != "running" for s in src.stats().values()):
                continue
            if not players:
                players.append(pulse.play(click))
            elif "played" not in marks:
                if players[0].poll() is not None:
                    marks["played"] = now
            elif "stop" not in marks:
                if now > marks["played"] + 0.5:
                    marks["stop"] = now
                    time.sleep(3.0)  # the consumer is busy: the queue fills, then blocks are dropped
            elif len(players) == 1:
                if now > marks["stop"] + 4.0:
                    players.append(pulse.play(click))
            elif players[1].poll() is not None and now > marks["stop"] + 2.0:
                src.stop()
            if now > 120:
                src.stop()
    finally:
        for player in players:
            player.kill()
    return np.concatenate([c.samples for c in got])[:, 0]


def run(kind: str, legs: int) -> dict:
    import sounddevice as sd
    from monitor.capture.live import LiveSource
    with tempfile.TemporaryDirectory(prefix="cmclk", dir="/tmp") as tmp:
        pulse = PulseServer(Path(tmp) / "pa").start()
        os.environ.update(pulse.env)
        try:
            sd._terminate(); sd._initialize()
            sink = _SinkRecording(pulse, Path(tmp) / "sink.raw")
            sink.wait_recording()
            sources = {"caller": "softphone.monitor", **({"agent": "mic.monitor"} if legs == 2 else {})}
            src = LiveSource(sources, device_rate=48000, **({"queue_s": 0.5} if kind == "drop" else {}))
            arrivals, marks = _arrivals(src), {}
            try:
                x = (_stall if kind == "stall" else _drop)(pulse, src, _click(Path(tmp) / "click.wav"), marks)
            finally:
                at_sink = _onsets(sink.stop(), thr=0.2)
        finally:
            pulse.stop()
    heard = _onsets(x, thr=0.2)
    out = {"kind": kind, "legs": legs, "heard": heard, "at_sink": at_sink,
           "stats": {leg: {k: s[k] for k in ("dropped_blocks", "gap_fill_s", "skipped_s")}
                     for leg, s in src.stats().items()}}
    if len(heard) == 2 and len(at_sink) == 2:
        out["offset_ms"] = round(((heard[1] - heard[0]) - (at_sink[1] - at_sink[0])) * 1000, 1)
    if kind == "stall":
        a = np.array(arrivals)
        late = a - a[0] - src.block_s * np.arange(len(a))  # no block lost: counting is where each belongs
        before = late[(a > marks["stop"] - 1.0) & (a < marks["stop"])]
        after = late[(a > marks["cont"] + 0.05) & (a < marks["cont"] + 1.1)]
        out["lateness_ms"] = {"before": round(before.min() * 1000, 1), "after": round(after.min() * 1000, 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=["stall", "drop"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--legs", type=int, choices=[1, 2], default=1)
    ap.add_argument("--load", type=int, default=0, help="`yes > /dev/null` processes meanwhile")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    load = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(args.load)]
    try:
        for _ in range(args.runs):
            r = run(args.kind, args.legs)
            print(json.dumps({k: r[k] for k in ("offset_ms", "lateness_ms", "stats") if k in r}), flush=True)
            if args.out:
                with args.out.open("a") as f:
                    f.write(json.dumps(r) + "\n")
    finally:
        for p in load:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
