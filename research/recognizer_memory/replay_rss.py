"""RSS of `call-monitor replay` over call time, and its low point between recognizer renewals.

Runs replay in this process with a thread reading /proc/self/status every EVERY seconds of wall
time; with RENEW=S each call's recognizer is renewed every S s of speech instead of the configuration's
`transcription.renew_s` (which replay, as the live daemon, follows). Writes one JSON line per sample (call time,
RSS, anonymous and file-backed RSS) and one per recognizer made ("renew_at") to OUT, then prints
the low point after each renewal and their slope over call time, then each stretch between
renewals: the RSS right after the old recognizer was freed and trimmed, the stretch's low point,
mean and peak. `run` works the same way (the live daemon; research/soak/soak.py --one-call starts it
so): samples taken while no call is being processed are marked "in_call": false and left out of
the stretches. From the repository root:

    OMP_NUM_THREADS=1 RENEW=120 OUT=rss.jsonl python research/recognizer_memory/replay_rss.py replay \
        --model ko --db /tmp/e.db long.wav
    OMP_NUM_THREADS=1 OUT=rss_nt.jsonl python research/recognizer_memory/replay_rss.py replay \
        --no-transcribe --db /tmp/e.db long.wav
"""

import ctypes
import json
import os
import sys
import threading
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.getcwd())

import monitor.pipeline as pipeline  # noqa: E402
import monitor.transcription.recognizer as recognizer  # noqa: E402
from monitor.cli import main  # noqa: E402

OUT = open(os.environ.get("OUT", "rss.jsonl"), "w")
FIRST: list = []  # with TRACE=N: the Python heap at the call's first renewal (tracemalloc, N frames)
NOW = {"t": 0.0, "at": 0.0}  # call time of the chunk being processed, and when (monotonic)


def rss(key: str = "VmRSS") -> float:
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def heap() -> dict:
    """glibc's malloc, all arenas (MB): in use (heap chunks and mmapped blocks), free in the heaps; and
    the Python objects' blocks. Empty without glibc 2.33's mallinfo2."""
    try:
        f = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return {}
    f.restype = MallInfo2
    m = f()
    return {"in_use": round((m.uordblks + m.hblkhd) / 2**20, 1), "free": round(m.fordblks / 2**20, 1),
            "py_blocks": sys.getallocatedblocks()}


def grown() -> list[dict]:
    """With TRACE: the Python heap's growth since the first renewal, the five tracebacks that grew most."""
    if not tracemalloc.is_tracing():
        return []
    snap = tracemalloc.take_snapshot()
    if not FIRST:
        FIRST.append(snap)
        return []
    return [{"kb": round(d.size_diff / 1024), "blocks": d.count_diff, "where": d.traceback.format()[-12:]}
            for d in snap.compare_to(FIRST[0], "traceback")[:5]]


def write(row: dict) -> None:
    OUT.write(json.dumps(row) + "\n")
    OUT.flush()


def sample(every: float) -> None:
    while True:
        time.sleep(every)
        write({"call_s": round(NOW["t"], 1), "rss": round(rss(), 1), "anon": round(rss("RssAnon"), 1),
               "file": round(rss("RssFile"), 1), "in_call": time.monotonic() - NOW["at"] < 2.0, **heap()})


def instrument() -> None:
    process, init, made = pipeline.CallPipeline.process, recognizer.Transcriber.__init__, recognizer.Transcriber._recognizer

    def timed(self, chunk):
        NOW["t"], NOW["at"] = self.duration_s, time.monotonic()
        return process(self, chunk)

    def renewing(self, *a, **k):
        if os.environ.get("RENEW"):
            k["renew_s"] = float(os.environ["RENEW"])
        init(self, *a, **k)

    def noted(self):
        if os.environ.get("TRIM_AT_CALL"):  # a call's first recognizer: trimmed first, as the daemon at a call's end
            recognizer.give_back_freed_memory()
        write({"renew_at": round(NOW["t"], 1), "trimmed": round(rss(), 1), **heap()})  # old one freed and trimmed
        if NOW["t"] > 0:
            write({"grown": grown()})
        return made(self)

    pipeline.CallPipeline.process = timed
    recognizer.Transcriber.__init__ = renewing
    recognizer.Transcriber._recognizer = noted


def lows(path: str) -> None:
    rows = [json.loads(line) for line in open(path)]
    renews = [r["renew_at"] for r in rows if "renew_at" in r][1:]  # the first is the call's own
    samples = [(r["call_s"], r["rss"]) for r in rows if "rss" in r and r.get("in_call", True)]
    edges = renews + [float("inf")]
    found = [min(((t, m) for t, m in samples if a < t <= b), key=lambda s: s[1], default=None)
             for a, b in zip(edges, edges[1:])]
    found = [f for f in found if f is not None] or [s for s in samples if s[0] >= 60]  # no renewals: every sample
    print("low points after each renewal, or every sample (call s, MB):", [(round(t), round(m)) for t, m in found])
    if len(found) >= 3:
        t, m = np.array(found).T
        print(f"slope {np.polyfit(t, m, 1)[0] * 3600:.0f} MB per hour of call; peak {max(s[1] for s in samples):.0f} MB")
    stretches(rows, samples)


def stretches(rows: list[dict], samples: list[tuple[float, float]]) -> None:
    """Per stretch between renewals: from (call s), RSS once the old recognizer was trimmed, low, mean, peak (MB)."""
    marks = [(r["renew_at"], r.get("trimmed")) for r in rows if "renew_at" in r]
    for (a, trimmed), (b, _) in zip(marks, marks[1:] + [(float("inf"), None)]):
        m = [x for t, x in samples if a < t <= b]
        if m:
            print(f"from {a:6.0f} s: trimmed {trimmed or float('nan'):4.0f}, low {min(m):4.0f}, "
                  f"mean {sum(m) / len(m):4.0f}, peak {max(m):4.0f} MB ({len(m)} samples)")


if __name__ == "__main__":
    instrument()
    if os.environ.get("TRACE"):
        tracemalloc.start(int(os.environ["TRACE"]))
    threading.Thread(target=sample, args=(float(os.environ.get("EVERY", "0.5")),), daemon=True).start()
    code = main(sys.argv[1:])
    OUT.close()
    lows(OUT.name)
    sys.exit(code)
