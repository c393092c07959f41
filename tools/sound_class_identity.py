"""Check that a change to the analyzer leaves its frames bit for bit as they were.

    .venv/bin/python -m tools.sound_class_identity save /tmp/frames.npz   # before the change
    .venv/bin/python -m tools.sound_class_identity check /tmp/frames.npz  # after it

Signals: the bench's real speech (tools.bench_audio.long_speech, 300 s at 16 and 8 kHz) and both
channels of every fixture call (``make fixtures``), analysed whole; the bench speech and the
normal and labored calls also streamed in 1 s chunks. ``check`` names every column that differs
(for ``sound``, ``speech`` and ``nucleus``, how many frames) and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CALLS = ROOT / "audio_fixtures" / "calls"
STREAMED = ("bench", "normal", "labored")
COUNTED = ("sound", "speech", "nucleus")


def signals() -> Iterator[tuple[str, np.ndarray, int]]:
    """(name, mono float32 signal, rate) of every signal compared."""
    import soundfile as sf

    from tools.bench_audio import long_speech

    for rate in (16000, 8000):
        yield f"bench{rate}", long_speech(300, rate), rate
    for path in sorted(CALLS.glob("*.wav")):
        x, rate = sf.read(path, dtype="float32", always_2d=True)
        for ch in range(x.shape[1]):
            yield f"{path.name}:{ch}", np.ascontiguousarray(x[:, ch]), rate


def frames_of(name: str, x: np.ndarray, rate: int) -> dict[str, np.ndarray]:
    """Every column of the whole-signal frames, and the counted ones streamed in 1 s chunks."""
    from monitor.analysis.analyzer import StreamingAnalyzer, analyze_signal

    whole = analyze_signal(x, rate)
    out = {f"{name}|whole|{f.name}": getattr(whole, f.name) for f in fields(whole)}
    if name.startswith(STREAMED):
        an = StreamingAnalyzer(rate)
        parts = [an.feed(x[i:i + rate]) for i in range(0, len(x), rate)] + [an.flush()]
        out.update({f"{name}|1s|{c}": np.concatenate([getattr(p, c) for p in parts]) for c in COUNTED})
    return out


def differences(ref: dict[str, np.ndarray], now: dict[str, np.ndarray]) -> list[str]:
    """One line per column that is not bit for bit the same."""
    lines = []
    for key, new in now.items():
        old = ref.get(key)
        if old is None:
            lines.append(f"{key}: not in the reference")
        elif old.shape != new.shape or not np.array_equal(old, new, equal_nan=old.dtype.kind == "f"):
            n = min(len(old), len(new))
            count = f" ({int((old[:n] != new[:n]).sum())} frames)" if key.endswith(COUNTED) else ""
            lines.append(f"{key}: differs{count}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("save", "check"))
    ap.add_argument("reference", type=Path, help="the .npz file of the frames before the change")
    args = ap.parse_args(argv)
    if args.action == "check" and not args.reference.is_file():
        print(f"error: {args.reference}: no such reference (run save first)", file=sys.stderr)
        return 2
    now: dict[str, np.ndarray] = {}
    for name, x, rate in signals():
        now.update(frames_of(name, x, rate))
    if args.action == "save":
        np.savez_compressed(args.reference, **now)
        print(f"{len(now)} columns saved to {args.reference}")
        return 0
    with np.load(args.reference) as ref:
        lines = differences(dict(ref), now)
    print("\n".join(lines + [f"{len(now)} columns compared, {len(lines)} differ"]))
    return 1 if lines else 0


if __name__ == "__main__":
    raise SystemExit(main())
