"""A sound-class network per sample rate, fitted on the shipped model's training rows of that band.

The rows come from ``research/classmodel/variants.py build`` (the shipped training set, each row
tagged with its band: 0 the 16 kHz signal, 1 its 8 kHz telephone-band version):

    PYTHONPATH=. .venv/bin/python research/classmodel/variants.py build DATA.npz
    PYTHONPATH=. .venv/bin/python research/classrate/rate.py fit DATA.npz BANDS SEED OUT.npz [hidden=H] [cw=S:B:C]
    PYTHONPATH=. .venv/bin/python research/classrate/rate.py figures NET16 NET8 --shared FOLDER [--calls FOLDER] [--side test]

``BANDS``: which rows train the network: ``16k``, ``8k``, ``both`` (with ``SEED`` -1 the shipped
model) or ``input`` (both, the band as one more input; writes ``OUT``'s ``.16k.npz`` and ``.8k.npz``,
the band's weights folded into the hidden bias at 8 kHz). ``SEED`` -1 is the shipped start (the data's generator where its draws
leave it), else a seed of its own. ``figures`` prints the tool's figures with ``NET16`` scoring
16 kHz audio and ``NET8`` 8 kHz audio (``shipped`` for the committed model's numbers); the
analyzer scores 8 kHz audio with the model file's ``*_8K`` numbers where it has them.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tools.train_sound_class as t  # noqa: E402
from research.classmodel.variants import fit_start, print_side  # noqa: E402

KEYS = ("MEAN", "SCALE", "HIDDEN_W", "HIDDEN_B", "OUT_W", "OUT_B")
BANDS = {"16k": (0,), "8k": (1,), "both": (0, 1), "input": (0, 1)}


def fit(data: Path, bands: str, seed: int, out: Path, options: list[str]) -> None:
    d = dict(np.load(data))
    opts = dict(o.split("=", 1) for o in options)
    keep = np.isin(d["band"], BANDS[bands]) & (d["y"] > 0)
    X, y, w = d["X"][keep], d["y"][keep], d["w"][keep].astype(float)
    hidden, l2 = int(opts.get("hidden", t.HIDDEN)), float(opts.get("l2", 1e-3))
    cw = np.array([float(v) for v in opts.get("cw", "2:1:1").split(":")])
    rng, mean, scale, Z, cls = fit_start(d, seed, X, y, w, cw)
    if bands == "input":  # the band as one more input, 0 at 16 kHz and 1 at 8 kHz (not standardised)
        Z = np.column_stack([Z, d["band"][keep].astype(float)])
    print(f"{bands} seed {seed} {options}: {len(y)} rows, per class {np.bincount(y)[1:4]}", flush=True)
    net = t.fit_network(Z, np.eye(3)[y - 1], cls / cls.sum(), rng, hidden, l2)
    if bands == "input":  # two networks: the band's weights folded into the hidden bias at 8 kHz
        w, b = net["HIDDEN_W"], net["HIDDEN_B"]
        np.savez(out.with_suffix(".16k.npz"), MEAN=mean, SCALE=scale, **{**net, "HIDDEN_W": w[:-1]})
        np.savez(out.with_suffix(".8k.npz"), MEAN=mean, SCALE=scale, **{**net, "HIDDEN_W": w[:-1], "HIDDEN_B": b + w[-1]})
        return
    np.savez(out, MEAN=mean, SCALE=scale, **net)


def install(net16: str, net8: str) -> None:
    """Puts the networks in the model module: ``net16`` as its numbers, ``net8`` as its ``*_8K``."""
    import monitor.dsp.sound_class_model as m
    shipped = {k: getattr(m, k) for k in KEYS}
    for path, suffix in ((net16, ""), (net8, "_8K")):
        p = shipped if path == "shipped" else np.load(path)
        for k in KEYS:
            setattr(m, k + suffix, np.round(p[k], 5).astype(np.float32))


def figures(net16: str, net8: str, shared: Path, side: str, calls: Path | None) -> None:
    install(net16, net8)
    if calls is not None:  # the fixture calls' audio (made by ``make fixtures``) from another checkout
        from functools import partial
        t.fixture_detection = partial(t.fixture_detection, calls=calls)
    print_side(shared, side)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("data", type=Path)
    f.add_argument("bands", choices=tuple(BANDS))
    f.add_argument("seed", type=int)
    f.add_argument("out", type=Path)
    f.add_argument("options", nargs="*")
    g = sub.add_parser("figures")
    g.add_argument("net16")
    g.add_argument("net8")
    g.add_argument("--shared", type=Path, required=True, help="the shared data folder")
    g.add_argument("--side", choices=("train", "test"), default="train")
    g.add_argument("--calls", type=Path, help="the fixture calls' folder with their audio (default: this checkout's)")
    a = ap.parse_args()
    if a.cmd == "fit":
        fit(a.data, a.bands, a.seed, a.out, a.options)
    else:
        figures(a.net16, a.net8, a.shared, a.side, a.calls)


if __name__ == "__main__":
    main()
