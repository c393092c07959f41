"""Are two versions of the analyzer's frames bit for bit the same? Dump them, then compare.

``python -m tools.bench_identity dump OUT.npz`` writes every column of the frames of the bench
signal (120 s of real speech at 16 kHz: whole signal, 1 s chunks, 20 ms blocks, voice-only, no
sound class; 60 s at 8 kHz) and of both legs of every fixture call (audio_fixtures/calls/*.wav,
1 s chunks). Run it in two checkouts (before and after a change, each with ``PYTHONPATH`` set to
its own folder), then ``python -m tools.bench_identity compare A.npz B.npz`` counts the frames and
names every column that differs (exit 1 if any does).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from tools.options import output_file_problem

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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m tools.bench_identity",
                                 description="Dump the analyzer's frames of the bench signal and the fixture "
                                             "calls, or compare two dumps column by column (exit 1 if any "
                                             "differs).")
    todo = ap.add_subparsers(dest="todo", required=True, metavar="dump|compare")
    dump_p = todo.add_parser("dump", help="write every column of the frames to OUT.npz")
    dump_p.add_argument("out", metavar="OUT.npz", help="the dump to write (its folder must exist)")
    compare_p = todo.add_parser("compare", help="count the frames of two dumps and name every column that differs")
    compare_p.add_argument("a", metavar="A.npz", help="a dump (before the change)")
    compare_p.add_argument("b", metavar="B.npz", help="another dump (after it)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.todo == "compare":
        return compare(args.a, args.b)
    if problem := output_file_problem(args.out):  # before the frames are computed (tens of seconds)
        print(f"bench_identity: error: {args.out}: {problem}", file=sys.stderr)
        return 2
    return dump(args.out)


if __name__ == "__main__":
    sys.exit(main())
