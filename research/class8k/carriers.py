"""The training side's false breath events at 8 kHz per carrier speech file (the tool's figures'
150 mixtures, their draws), with the model's 8 kHz network (``16k``: as written, the patch applied)
or the shared network at 8 kHz too (``shared``: main's scoring).

    git apply research/class8k/telephone.patch
    PYTHONPATH=. .venv/bin/python research/class8k/carriers.py shared|16k <the shared data folder>
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np

import monitor.dsp.sound_class_model as model
import research.classfolds.folds as folds
import tools.train_sound_class as t
from monitor.analysis.analyzer import NETWORK_NUMBERS


def false_per_carrier(shared: Path) -> tuple[collections.Counter, collections.Counter]:
    """False 8 kHz breath events per carrier file (or "gap": the silence around the breath), and
    how many mixtures each file carries."""
    rng = np.random.default_rng(t.SEED)
    breath, speech = t.breathing_clips(shared / "breathing"), t.speech_clips()
    tr_b, tr_s = [c for c in breath if c.train], [c for c in speech if c.train]
    per, carried = collections.Counter(), collections.Counter()
    for x, iv, *_ in t.mix(tr_s, t.breath_snippets(tr_b), rng, 150):
        a, b = (tr_s[i] for i in folds.carriers(x, tr_s))
        carried.update([a.name, b.name])
        _, wrong, _ = t.mixture_events(x, iv, "tel8k")
        for mid in wrong.mean(axis=1):
            per[a.name if mid < len(a.x) / 16000 else b.name if mid > (len(x) - len(b.x)) / 16000 else "gap"] += 1
    return per, carried


def main() -> None:
    if sys.argv[1] == "shared":
        for name in NETWORK_NUMBERS:
            setattr(model, name + "_8K", getattr(model, name))
    per, carried = false_per_carrier(Path(sys.argv[2]))
    print(sys.argv[1], "false", sum(per.values()))
    for name, k in per.most_common():
        print(f"  {k:3d}  {name} (carries {carried[name]})")


if __name__ == "__main__":
    main()
