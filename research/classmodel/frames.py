"""Frame-level confusion of sound-class models on the cached training rows (``variants.py build``):
per group, the share of frames given another class than their label, for frames with a 110 ms
periodicity (``strength_mean``) of 0.45 or more ("voiced") and under it.

    PYTHONPATH=. .venv/bin/python research/classmodel/frames.py DATA.npz shipped MODEL.npz ...
"""

import sys

import numpy as np

import monitor.dsp.sound_class_model as shipped
from monitor.dsp.sound_class import FEATURES

KEYS = ("MEAN", "SCALE", "HIDDEN_W", "HIDDEN_B", "OUT_W", "OUT_B")


def main(data: str, models: list[str]) -> None:
    d = np.load(data)
    X, y, src = d["X"], d["y"], d["src"]
    voiced = X[:, FEATURES.index("strength_mean")] >= 0.45
    groups = {"breath recordings": (src <= 1) & (y == 2), "cough recordings": src == 2,
              "mixtures' breaths": (src == 6) & (y == 2), "speech": y == 1}
    print(f"{'model':10s} " + " | ".join(f"{g} voiced / not" for g in groups))
    for path in models:
        p = {k: getattr(shipped, k) for k in KEYS} if path == "shipped" else dict(np.load(path))
        Z = ((X - p["MEAN"]) / p["SCALE"]).astype(np.float32)
        pred = (np.tanh(Z @ p["HIDDEN_W"] + p["HIDDEN_B"]) @ p["OUT_W"] + p["OUT_B"]).argmax(1) + 1
        wrong = pred != y
        print(f"{path.split('/')[-1][:10]:10s} " + " | ".join(
            f"{100 * wrong[k & voiced].mean():5.1f} / {100 * wrong[k & ~voiced].mean():5.1f} %" for k in groups.values()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
