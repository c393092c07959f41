"""The recognizer's growth over the live bench's call, and how much of it is memory freed but kept by
glibc's malloc: one Vosk recognizer of the packaged Korean model fed the caller's leg of the first 150 s
of deteriorating_16k in 0.2 s slices from a thread of its own, with partial results and their words
(as the daemon's transcriber feeds it),
RSS and malloc's own figures (``mallinfo2``: bytes in use, bytes free inside the heaps) every 10 s of
audio; with ``--trim-every S``, ``malloc_trim(0)`` after every S seconds of audio. Prints the words'
digest too: the trims must not change them.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python research/live_memory/recognizer_heap.py [--trim-every 10]
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import tempfile
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from monitor.transcription.vosk_models import load_model, packaged_model_dirs
from monitor.transcription.vosk_native import KaldiRecognizer


class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


LIBC = ctypes.CDLL(None)
LIBC.mallinfo2.restype = MallInfo2


def figures() -> dict[str, int]:
    """RSS and malloc's figures, MB."""
    with open("/proc/self/status") as f:
        rss = next(int(x.split()[1]) // 1024 for x in f if x.startswith("VmRSS"))
    m = LIBC.mallinfo2()
    return {"rss": rss, "in_use": (m.uordblks + m.hblkhd) >> 20, "free_kept": m.fordblks >> 20,
            "mmapped": m.hblkhd >> 20}


def feed(rec, audio: np.ndarray, trim_every_s: float, rows: list, texts: list) -> None:
    """0.2 s slices; a partial result every 0.4 s (the transcriber asks every 0.5 s)."""
    step, every = 3200, 160000
    for i in range(0, len(audio), step):
        if rec.AcceptWaveform(audio[i:i + step].tobytes()):
            texts.append(json.loads(rec.Result()).get("text", ""))
        elif (i // step) % 2:
            rec.PartialResult()
        if (i + step) % every == 0:
            rows.append((round((i + step) / 16000), figures()))
        if trim_every_s and (i + step) % int(trim_every_s * 16000) == 0:
            LIBC.malloc_trim(0)
    texts.append(json.loads(rec.FinalResult()).get("text", ""))
    rows.append(("final", figures()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trim-every", type=float, default=0.0)
    a = ap.parse_args()
    root = packaged_model_dirs(Path(tempfile.mkdtemp()) / "models")
    labels = json.loads(Path("audio_fixtures/calls/deteriorating.json").read_text())
    x, rate = sf.read("audio_fixtures/calls/deteriorating_16k.wav", dtype="int16")
    audio = np.ascontiguousarray(x[:150 * rate, labels["channels"]["caller"]])
    print("before the model", figures())
    model = load_model(root / "vosk-model-small-ko")
    LIBC.malloc_trim(0)
    print("model loaded", figures())
    rec = KaldiRecognizer(model, 16000.0)
    rec.SetWords(True)
    rec.SetPartialWords(True)
    rows: list = []
    texts: list = []
    worker = threading.Thread(target=feed, args=(rec, audio, a.trim_every, rows, texts))
    worker.start()
    worker.join()
    for t, f in rows:
        print(f"  {t} s: {f}")
    words = " ".join(texts)
    print(f"{len(words.split())} words, digest {hashlib.sha256(words.encode()).hexdigest()[:16]}")
    del rec
    print("recognizer freed", figures(), "trimmed:", LIBC.malloc_trim(0), figures())


if __name__ == "__main__":
    main()
