"""What a Vosk recognizer of the packaged Korean model costs on the caller's leg of the deteriorating
call: 30 s of it to a new recognizer, the same 30 s again to the same one, then to a new one; and the
next 30 s to the first recognizer (after its FinalResult) against a new one, with their words compared.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python research/livecost/cold_warm.py
"""
import json
import tempfile
import time

import soundfile as sf
import vosk

from monitor.transcription.vosk_models import packaged_model_dirs


def rss_mb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS:"))


def feed(rec, pcm, offset_s: float = 0.0):
    """Words (word, start, end, conf) of finals and partials, MB added, thread CPU seconds."""
    c, r0, out = time.thread_time(), rss_mb(), []
    for i in range(0, len(pcm), 3200):  # 0.2 s slices, as the transcriber gives them
        done = rec.AcceptWaveform(pcm[i:i + 3200].tobytes())
        out.append(json.loads(rec.Result() if done else rec.PartialResult()))
    out.append(json.loads(rec.FinalResult()))
    words = [(w["word"], round(w["start"] - offset_s, 2), round(w["end"] - offset_s, 2), round(w["conf"], 4))
             for o in out for w in o.get("result", []) + o.get("partial_result", [])]
    return words, rss_mb() - r0, time.thread_time() - c


def main() -> None:
    vosk.SetLogLevel(-3)
    with tempfile.TemporaryDirectory() as tmp:
        model = vosk.Model(str(packaged_model_dirs(tmp) / "vosk-model-small-ko"))
    caller = json.load(open("audio_fixtures/calls/deteriorating.json"))["channels"]["caller"]
    x, rate = sf.read("audio_fixtures/calls/deteriorating_16k.wav", dtype="int16")
    first, second = x[10 * rate:40 * rate, caller].copy(), x[40 * rate:70 * rate, caller].copy()

    def new():
        rec = vosk.KaldiRecognizer(model, float(rate))
        rec.SetWords(True)
        rec.SetPartialWords(True)
        return rec

    a = new()
    for label, rec, pcm in (("new recognizer, 10-40 s", a, first), ("same recognizer, 10-40 s again", a, first),
                            ("another new recognizer, 10-40 s", new(), first)):
        _, mb, cpu = feed(rec, pcm)
        print(f"{label:38s} +{mb:4d} MB {cpu:5.2f} s cpu")
    warm, mb, cpu = feed(a, second, offset_s=60.0)
    print(f"{'first recognizer, 40-70 s':38s} +{mb:4d} MB {cpu:5.2f} s cpu")
    fresh, mb, cpu = feed(new(), second)
    print(f"{'new recognizer, 40-70 s':38s} +{mb:4d} MB {cpu:5.2f} s cpu")
    print("the same words and times:", warm == fresh, f"({len(warm)} against {len(fresh)} words of results)")


if __name__ == "__main__":
    main()
