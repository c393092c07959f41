"""Is the 16 kHz hum line's low breath recall the hum below 300 Hz?

The training side's mixtures over each held-out line noise (as tools.train_sound_class's noisy-line
figures make them, seed NOISY_SEED), heard three ways: at 16 kHz as they are, at 16 kHz through a
300 Hz high-pass (the telephone band's lower edge, nothing else changed), and in the telephone band
at 8 kHz. The clean-line mixtures too, for what the high-pass costs there.

    PYTHONPATH=. python research/humband/band.py <the shared data folder> [count]
"""
import sys
from pathlib import Path

import numpy as np
from scipy.signal import firwin

from tools import train_sound_class as T

HIGHPASS = firwin(255, 300.0, pass_zero=False, fs=16000)
HOWS = ("16k", "16k>300", "16k>300iir", "tel8k")
"""16 kHz as it is, through the 255-tap FIR high-pass at 300 Hz, through the edge's own high-pass
(first-order sections, ``HIGHPASS_SECTIONS`` of them) at 300 Hz, and the telephone band at 8 kHz."""


def edge_highpass(x: np.ndarray, hz: float = 300.0) -> np.ndarray:
    """``x`` (16 kHz, shape (n,)) through the edge conditioner's high-pass at ``hz``."""
    from monitor.capture.audio_files import Highpass

    return Highpass(16000, 1, hz).process(x[:, None])[:, 0].astype(np.float32)


def heard(mixes, how: str) -> tuple[int, int, int]:
    """Hits, misses and false breath events of ``mixes`` heard ``how`` (16k, 16k>300, tel8k)."""
    if how == "16k>300":
        mixes = [(np.convolve(x, HIGHPASS, mode="same").astype(np.float32), iv, *rest) for x, iv, *rest in mixes]
        how = "16k"
    elif how == "16k>300iir":
        mixes = [(edge_highpass(x), iv, *rest) for x, iv, *rest in mixes]
        how = "16k"
    return T.detection(mixes, how)[:3]


def line(name: str, mixes) -> None:
    cells = []
    for how in HOWS:
        h, m, f = heard(mixes, how)
        cells.append(f"{how} {100 * h / max(h + m, 1):5.1f} / {100 * h / max(h + f, 1):5.1f} % ({h}, {m}, {f})")
    print(f"  {name:6s} " + "   ".join(cells), flush=True)


def main() -> None:
    folder, count = Path(sys.argv[1]) / "breathing", int(sys.argv[2]) if len(sys.argv) > 2 else 150
    breath, speech = T.breathing_clips(folder), T.speech_clips()
    tr_b, tr_s = [c for c in breath if c.train], [c for c in speech if c.train]
    snippets = T.breath_snippets(tr_b)
    print("recall / precision (hits, misses, false), training side")
    line("clean", T.mix(tr_s, snippets, np.random.default_rng(T.SEED), count))
    for k, (name, kinds) in enumerate(T.HELD_OUT_NOISES.items()):
        rng = np.random.default_rng([T.NOISY_SEED, k])
        line(name, T.mix(tr_s, snippets, rng, count, snr_db=(5.0, 20.0), noises=kinds))


if __name__ == "__main__":
    main()
