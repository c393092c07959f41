"""Label, class-weight and seed variants of the sound-class model, fitted on one cached training set.

The training set is built exactly as ``tools.train_sound_class --write --edge-highpass 20x2`` builds
it (same draws; checked against the shipped model's standardisation), each row tagged with where it
comes from, so a variant is a relabelling or reweighting of those rows and a fit, not a rebuild:

    PYTHONPATH=. .venv/bin/python research/classmodel/variants.py build OUT.npz
    PYTHONPATH=. .venv/bin/python research/classmodel/variants.py fit DATA.npz VARIANT SEED OUT.npz
    PYTHONPATH=. .venv/bin/python research/classmodel/variants.py figures MODEL.npz [--shared FOLDER] [--side test]
    PYTHONPATH=. .venv/bin/python research/classmodel/frames.py DATA.npz MODEL.npz ...   # frame confusion

``VARIANT`` is ``base`` or comma-separated changes (:func:`relabel`): ``cw=S:B:C`` class weights
(shipped 2:1:1), ``voiced_nonspeech_w=W`` (breathing and cough recordings' frames with a 110 ms
periodicity of 0.45 or more weigh W), ``vowel_weak_out=T`` / ``vowel_weak_breath=T`` (sustained
vowels' frames under periodicity T left out / breath), ``l2=L``, ``hidden=H``.
``SEED`` -1 is the shipped start (the data's generator where its draws leave it). ``figures`` prints
the tool's training-side figures (``--figures-on train --mixes 150``) with that model in place
(``--side test``: the held-out ones, as the tool prints them without ``--figures-on``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import ast  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tools.train_sound_class as t  # noqa: E402
from monitor.dsp.sound_class import BREATH, FEATURES  # noqa: E402

SOURCES = ("breathing-deep", "breathing-shallow", "cough-heavy", "vowel-a", "speech", "espeak", "mix")


def build(out: Path) -> None:
    """The shipped model's training rows (X, y, weights), each with its source and band."""
    edge = t.Edge(20.0, 2)
    rng = np.random.default_rng(t.SEED)
    breath, speech = t.breathing_clips(t.BREATHING, edge), t.speech_clips(edge)
    tr_b = [c for c in breath if c.train]
    tr_s = [c for c in speech if c.train]
    te_b = [c for c in breath if not c.train]
    te_s = [c for c in speech if not c.train]
    train_mix = t.mix(tr_s, t.breath_snippets(tr_b), rng, t.DEFAULT_MIXES)
    t.mix(te_s, t.breath_snippets(te_b), rng, t.DEFAULT_MIXES)  # the draws main() makes
    synth = t.synthetic_breaths(rng, 200)
    espeak = t.espeak_clips(edge)
    train_mix += t.mix(tr_s, synth, rng, t.DEFAULT_MIXES, gap_s=(0.05, 0.4), below_db=(6.0, 25.0))
    train_mix += t.mix(espeak, synth + t.breath_snippets(tr_b), rng, t.DEFAULT_MIXES, gap_s=(0.05, 0.4),
                       below_db=(6.0, 25.0))
    train_mix += t.mix(tr_s, synth + t.breath_snippets(tr_b), rng, t.DEFAULT_MIXES, below_db=(6.0, 20.0),
                       snr_db=t.NOISY_SNR_DB, noises=t.NOISY_NOISES)
    xs, ys, ws, src, band = [], [], [], [], []
    clips = tr_b + tr_s + espeak
    for c in clips:
        label, weight = t.frame_labels(c, t.Labels())
        tag = SOURCES.index("espeak" if c in espeak else c.kind)
        for b, (sig, rate) in enumerate(((c.x, 16000), (t.telephone(c.x), 8000))):
            f, y, w = t.labelled(sig, rate, label, weight)
            pick = rng.permutation(len(y))[:t.MAX_FRAMES]
            xs.append(f[pick])
            ys.append(y[pick])
            ws.append(w[pick])
            src.append(np.full(len(pick), tag))
            band.append(np.full(len(pick), b))
    for sig, iv, *line in train_mix:
        for b, (s, rate) in enumerate(((sig, 16000), (t.telephone(sig), 8000))):
            f, y, w = t.labelled(s, rate, t.mix_labels(s, rate, iv, *line))
            xs.append(f)
            ys.append(y)
            ws.append(w)
            src.append(np.full(len(y), SOURCES.index("mix")))
            band.append(np.full(len(y), b))
    X = np.concatenate(xs)
    state = rng.bit_generator.state
    np.savez(out, X=X, y=np.concatenate(ys), w=np.concatenate(ws), src=np.concatenate(src),
             band=np.concatenate(band), state=np.array(repr(state)))
    import monitor.dsp.sound_class_model as m
    mean = X.mean(axis=0)
    print(f"{len(X)} rows; mean as shipped: {np.allclose(np.round(mean, 5), m.MEAN, atol=1e-5)}")


def relabel(d: dict, variant: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, w, class weights) of one variant: comma-separated changes of the shipped rows."""
    X, y, w = d["X"], d["y"].copy(), d["w"].astype(float).copy()
    src = d["src"]
    cw = np.array([2.0, 1.0, 1.0])
    col = {k: X[:, FEATURES.index(k)] for k in ("strength_mean", "event_voiced", "strength_max")}
    for part in [p for p in variant.split(",") if p and p != "base"]:
        key, _, val = part.partition("=")
        if key == "cw":  # class weights speech:breath:cough
            cw = np.array([float(v) for v in val.split(":")])
        elif key == "vowel_weak_out":  # sustained vowels' aperiodic frames (strength_mean < val) train nothing
            y[(src == SOURCES.index("vowel-a")) & (col["strength_mean"] < float(val))] = 0
        elif key == "vowel_weak_breath":  # ... or are breath
            y[(src == SOURCES.index("vowel-a")) & (col["strength_mean"] < float(val))] = BREATH
        elif key == "voiced_nonspeech_w":  # breathing/cough frames with strength_mean >= 0.45 weigh val
            m = (src <= SOURCES.index("cough-heavy")) & (col["strength_mean"] >= 0.45)
            w[m] *= float(val)
        elif key in ("l2", "hidden"):
            pass
        else:
            raise SystemExit(f"unknown change {key}")
    keep = y > 0
    return X[keep], y[keep], w[keep], cw


def fit_start(d: dict, seed: int, X: np.ndarray, y: np.ndarray, w: np.ndarray,
              cw: np.ndarray) -> tuple[np.random.Generator, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What a fit starts from: the generator (seed < 0: where the shipped training set's draws left it,
    the shipped scheme), the features' mean and scale (F,), the standardised rows Z (n, F) and each
    row's class-balanced weight (n,) from the class weights ``cw`` (3,) and the rows' weights ``w``."""
    if seed < 0:
        rng = np.random.default_rng(t.SEED)
        rng.bit_generator.state = ast.literal_eval(str(d["state"]))
    else:
        rng = np.random.default_rng(seed)
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
    cls = (cw / np.bincount(y - 1, weights=w, minlength=3))[y - 1] * w
    return rng, mean, scale, (X - mean) / scale, cls


def fit(data: Path, variant: str, seed: int, out: Path) -> None:
    d = dict(np.load(data))
    X, y, w, cw = relabel(d, variant)
    l2 = next((float(p.split("=")[1]) for p in variant.split(",") if p.startswith("l2=")), 1e-3)
    hidden = next((int(p.split("=")[1]) for p in variant.split(",") if p.startswith("hidden=")), t.HIDDEN)
    rng, mean, scale, Z, cls = fit_start(d, seed, X, y, w, cw)
    print(f"{variant} seed {seed}: {len(y)} rows, per class {np.bincount(y)[1:4]}", flush=True)
    net = t.fit_network(Z, np.eye(3)[y - 1], cls / cls.sum(), rng, hidden, l2)
    np.savez(out, MEAN=mean, SCALE=scale, **net)


def figures(model: Path, shared: Path, side: str = "train") -> None:
    import monitor.dsp.sound_class_model as m
    if str(model) != "shipped":
        p = np.load(model)
        for k in ("MEAN", "SCALE", "HIDDEN_W", "HIDDEN_B", "OUT_W", "OUT_B"):
            setattr(m, k, np.round(p[k], 5).astype(np.float32))
    print_side(shared, side)


def print_side(shared: Path, side: str) -> None:
    """The tool's figures with the model module as it stands: the training speakers' clips and 150
    mixtures (``side`` "train"), else the held-out ones', from the same seeded mixing."""
    rng = np.random.default_rng(t.SEED)
    breath, speech = t.breathing_clips(shared / "breathing"), t.speech_clips()
    tr_b = [c for c in breath if c.train]
    tr_s = [c for c in speech if c.train]
    train_mix = t.mix(tr_s, t.breath_snippets(tr_b), rng, 150)
    if side == "train":
        t.print_figures(tr_b, tr_s, train_mix, "train")
        return
    te_b = [c for c in breath if not c.train]
    te_s = [c for c in speech if not c.train]
    t.print_figures(te_b, te_s, t.mix(te_s, t.breath_snippets(te_b), rng, 150))


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build").add_argument("out", type=Path)
    f = sub.add_parser("fit")
    for name, kind in (("data", Path), ("variant", str), ("seed", int), ("out", Path)):
        f.add_argument(name, type=kind)
    g = sub.add_parser("figures")
    g.add_argument("model", type=Path)
    g.add_argument("--shared", type=Path, default=t.ROOT.parent / "shared",
                   help="the shared data folder (default: beside the checkout)")
    g.add_argument("--side", choices=("train", "test"), default="train")
    a = ap.parse_args()
    if a.cmd == "build":
        build(a.out)
    elif a.cmd == "fit":
        fit(a.data, a.variant, a.seed, a.out)
    else:
        figures(a.model, a.shared, a.side)
    return 0


if __name__ == "__main__":
    sys.exit(main())
