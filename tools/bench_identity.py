"""Are two versions of the analyzer's frames bit for bit the same? Dump them, then compare.

``python -m tools.bench_identity dump OUT.npz`` writes every column of the frames of the bench
signal (120 s of real speech at 16 kHz: whole signal, 1 s chunks, 20 ms blocks, voice-only, no
sound class; 60 s at 8 kHz) and of both legs of every fixture call (audio_fixtures/calls/*.wav,
1 s chunks). Run it in two checkouts (before and after a change, each with ``PYTHONPATH`` set to
its own folder), then ``python -m tools.bench_identity compare A.npz B.npz`` counts the frames and
names every column that differs (exit 1 if any does).
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _stream(x: np.ndarray, rate: int, chunk_s: float, cfg=None):
    from monitor.analysis.analyzer import StreamingAnalyzer
    from monitor.analysis.frame_features import Frames
    an = StreamingAnalyzer(rate, cfg)
    step = int(chunk_s * rate)
    return Frames.concat([an.feed(x[i:i + step]) for i in range(0, len(x), step)] + [an.flush()])


def _series():
    """(name, Frames) of every series compared."""
    import soundfile as sf
    from monitor.analysis.analyzer import VOICE_ONLY, WITHOUT_SOUND_CLASS, analyze_signal
    from tools.bench_audio import long_speech
    x = long_speech(120, 16000)
    yield "bench16_whole", analyze_signal(x, 16000)
    yield "bench16_1s", _stream(x, 16000, 1.0)
    yield "bench16_20ms", _stream(x[:30 * 16000], 16000, 0.02)
    yield "bench16_voice_only", _stream(x, 16000, 1.0, VOICE_ONLY)
    yield "bench16_no_sound_class", _stream(x, 16000, 1.0, WITHOUT_SOUND_CLASS)
    yield "bench8_1s", _stream(long_speech(60, 8000), 8000, 1.0)
    for path in sorted((ROOT / "audio_fixtures" / "calls").glob("*.wav")):
        y, rate = sf.read(str(path), dtype="float32", always_2d=True)
        for c in range(y.shape[1]):
            yield f"{path.name}#{c}", _stream(y[:, c], rate, 1.0)


def dump(out: str) -> int:
    from monitor.analysis.frame_features import Frames
    arrays = {f"{name}:{f.name}": getattr(fr, f.name) for name, fr in _series() for f in fields(Frames)}
    np.savez(out, **arrays)
    print(f"{out}: {len(arrays)} columns")
    return 0


def _load(path: str):
    try:
        return np.load(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"bench_identity: {path}: not a frames dump ({exc.__class__.__name__})") from None


def compare(a_path: str, b_path: str) -> int:
    a, b = _load(a_path), _load(b_path)
    if set(a.files) != set(b.files):
        print(f"the dumps hold different series: {sorted(set(a.files) ^ set(b.files))[:5]}")
        return 1
    differ = []
    for key in sorted(a.files):
        x, y = a[key], b[key]
        same = x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
        if not same:
            differ.append(key)
    names = {k.split(":")[0] for k in a.files}
    frames = sum(len(a[f"{n}:t"]) for n in names)
    print(f"{len(names)} series, {frames:,} frames, {len(a.files)} columns: {len(differ)} differ")
    for key in differ:
        print(f"  differs: {key}")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "dump":
        return dump(args[1])
    if len(args) == 3 and args[0] == "compare":
        return compare(args[1], args[2])
    print("usage: python -m tools.bench_identity dump OUT.npz | compare A.npz B.npz", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
