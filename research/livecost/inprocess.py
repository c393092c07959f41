"""The live bench's call in one process, as fast as it runs: the first 150 s of deteriorating_16k, its
two legs at 44.1 kHz (as the sound server delivers them) through the capture's conditioning in 0.1 s
blocks, then a CallPipeline of both legs with the caller's leg transcribed (the packaged Korean model,
``transcription.language = "ko"``, the daemon's recognizer settings; never dropping audio). Prints
process CPU of the call, the recognizer thread's CPU by Vosk call, and RSS.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python research/livecost/inprocess.py [--no-words]
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from monitor.capture.audio_files import EdgeConditioner
from monitor.capture.sources import Chunk
from monitor.config import load_config
from monitor.dsp.resample import Resampler
from monitor.pipeline import CallPipeline
from monitor.transcription import recognizer
from monitor.transcription.setup import TranscriptionSetup
from monitor.transcription.vosk_models import packaged_model_dirs

COST: dict[str, list] = {}


class Counted:
    """A Vosk recognizer whose calls count their thread CPU in COST."""

    def __init__(self, rec) -> None:
        self.rec = rec

    def __getattr__(self, name):
        method = getattr(self.rec, name)

        def counted(*args):
            c = time.thread_time()
            out = method(*args)
            n = COST.setdefault(name, [0, 0.0])
            n[0] += 1
            n[1] += time.thread_time() - c
            return out
        return counted


def rss(label: str) -> None:
    with open("/proc/self/status") as f:
        st = dict(line.split(":", 1) for line in f if ":" in line)
    print(f"{label}: RSS {int(st['VmRSS'].split()[0]) // 1024} MB, peak {int(st['VmHWM'].split()[0]) // 1024} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-words", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    os.environ["VOSK_MODEL_PATH"] = str(packaged_model_dirs(tmp / "models"))
    (tmp / "ko.toml").write_text('[transcription]\nlanguage = "ko"\n')
    cfg = load_config(str(tmp / "ko.toml"), {})
    channels = json.loads(Path("audio_fixtures/calls/deteriorating.json").read_text())["channels"]
    x, rate = sf.read("audio_fixtures/calls/deteriorating_16k.wav", dtype="float32")
    x = x[:150 * rate]
    legs = [resample_poly(x[:, channels[leg]], 441, 160).astype(np.float32) for leg in ("caller", "agent")]
    rss("before the model")
    extra = {}
    if not a.no_words:
        made = recognizer.Transcriber._recognizer
        recognizer.Transcriber._recognizer = lambda self: Counted(made(self))
        extra = TranscriptionSetup.create(cfg, live=True).for_call(16000, ("caller", "agent"))
        for tr in extra["transcribers"].values():
            tr._on_full = "block"  # faster than real time: wait rather than drop
        rss("model loaded")
    pipe = CallPipeline(cfg, 16000, ("caller", "agent"), **extra)
    chains = [(EdgeConditioner(44100, 1), Resampler(44100, 16000, 1)) for _ in legs]
    c0, t = time.process_time(), 0
    for i in range(0, len(legs[0]) - 4409, 4410):
        cols = [rs.process(edge.process(leg[i:i + 4410, None]))[:, 0] for leg, (edge, rs) in zip(legs, chains)]
        n = min(map(len, cols))
        pipe.process(Chunk(t / 16000, np.stack([c[:n] for c in cols], axis=1)))
        t += n
    pipe.finish()
    print(f"call of {t / 16000:.1f} s: {time.process_time() - c0:.2f} s process CPU")
    for tr in extra.get("transcribers", {}).values():
        st = tr.stats()
        print(f"recognizer thread: {st.cpu_s:.2f} s CPU, {st.fed_s:.1f} s of audio fed, {st.skipped_s:.1f} s skipped")
    for name, (n, cpu) in COST.items():
        print(f"  {name}: {n} calls, {cpu:.2f} s")
    rss("after the call")


if __name__ == "__main__":
    main()
