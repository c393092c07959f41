"""Make a fixture call whose caller falls silent at time T (the critical's wait, quiet_wait_s).

The caller's leg from T on becomes the line's noise floor (white noise at ``--caller-noise-db``),
and so does the agent's, which may carry a quiet "hello?" (the loudest 1.5 s of the agent's first 20 s,
``--agent-hello-db`` below its level) every ``--hello-every`` seconds. Usage:

    python research/babble/silent_caller.py IN.wav OUT.wav T [--agent-hello-db 20] [--hello-every 6]
        [--caller-noise-db -66] [--babble CALL.wav ... --babble-snr 10]

The babble (other calls' legs summed) covers the caller's leg for the whole call.
"""
from __future__ import annotations

import argparse

import numpy as np
import soundfile as sf


def floor(n: int, db: float, rng: np.random.Generator) -> np.ndarray:
    """White noise at ``db`` dBFS RMS, shape (n,)."""
    return (rng.standard_normal(n) * 10 ** (db / 20)).astype(np.float32)


def rms(x: np.ndarray) -> float:
    """RMS of the speech in ``x`` (its samples over a -50 dBFS gate)."""
    loud = x[np.abs(x) > 10 ** (-50 / 20)]
    return float(np.sqrt(np.mean(loud ** 2))) if len(loud) else 0.0


def babble(paths: list[str], n: int, sr: int, level: float) -> np.ndarray:
    """Both legs of ``paths`` summed, each leg from its own offset (wrapped), scaled to RMS ``level``, shape (n,)."""
    out = np.zeros(n, np.float32)
    for k, path in enumerate(paths):
        b, bsr = sf.read(path, dtype="float32", always_2d=True)
        assert bsr == sr, path
        for leg in range(b.shape[1]):
            out += np.resize(np.roll(b[:, leg], -int((17 * k + 7 * leg) * sr)), n)
    return out * (level / max(float(np.sqrt(np.mean(out ** 2))), 1e-9))


def hello(agent: np.ndarray, sr: int) -> np.ndarray:
    """The agent's first second and a half of speech (the loudest such stretch of its first 20 s)."""
    n = int(1.5 * sr)
    head = agent[: 20 * sr]
    energy = np.convolve(head ** 2, np.ones(n) / n, mode="valid")
    start = int(np.argmax(energy))
    return head[start:start + n].copy()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("src"), p.add_argument("dst"), p.add_argument("t", type=float)
    p.add_argument("--caller-noise-db", type=float, default=-66.0)
    p.add_argument("--agent-hello-db", type=float, default=None, help="dB below the agent's speech")
    p.add_argument("--hello-every", type=float, default=6.0)
    p.add_argument("--babble", nargs="*", default=(), help="calls whose legs, summed at offsets, make a babble")
    p.add_argument("--babble-snr", type=float, default=10.0, help="the caller's speech over the babble, dB")
    a = p.parse_args()
    x, sr = sf.read(a.src, dtype="float32", always_2d=True)
    rng = np.random.default_rng(0)
    i = min(int(a.t * sr), len(x))
    n = len(x) - i
    x[i:, 1] = floor(n, a.caller_noise_db, rng)
    if a.babble:
        x[:, 1] += babble(a.babble, len(x), sr, rms(x[:i, 1]) * 10 ** (-a.babble_snr / 20))
    x[i:, 0] = floor(n, a.caller_noise_db, rng)
    if a.agent_hello_db is not None:
        word = hello(x[:i, 0], sr) * 10 ** (-a.agent_hello_db / 20)
        for s in np.arange(i + int(2 * sr), len(x) - len(word), int(a.hello_every * sr)):
            x[s:s + len(word), 0] += word
    sf.write(a.dst, x, sr)


if __name__ == "__main__":
    main()
