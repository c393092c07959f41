"""The sound-class model's figures on speaker folds: each network trained once per fold on the other
folds' speakers, as the tool trains the shipped one, and every figure pooled over the held-out folds.

    PYTHONPATH=. .venv/bin/python research/classfolds/folds.py run OUT --shared FOLDER [--folds K] [--mixes N] \
        [--networks shared,16k]
    PYTHONPATH=. .venv/bin/python research/classfolds/folds.py table OUT NET16/NET8 ...

Folds: Coswara speaker sNN in fold (NN - 1) mod k; the real speech by its source's folder (one
speaker or a few each, kept together, the largest first into the emptiest fold), except the one
LJ Speech reader's 32 files, half the speech, dealt round the folds file by file (held out, she
would leave a fold almost no speech to train on). ``run`` trains, per fold, from the committed
subset's recordings of the other folds' speakers and their speech, the tool's recipe and draws
(``training_rows`` with ``--edge-highpass 20x2``, seed 11, the start where the data's draws
leave the generator), three networks from the same rows and start: ``shared`` on both bands'
rows (the shipped recipe), ``16k`` on the 16 kHz rows, ``8k`` on the telephone band's
(``--networks``: some of them), then scores each fold's held-out speakers (the shared folder's
full recordings, their speech, ``--mixes`` mixtures of their breaths into their speech's pauses):
the 16 kHz figures with each network, the 8 kHz ones with each network. ``table`` pools them per
variant: a network for 16 kHz audio and one for 8 kHz audio (``shared/shared`` is the shipped
recipe). Each step's file stays in OUT, and a run skips what is there (it resumes).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tools.train_sound_class as t  # noqa: E402

NETWORKS = {"shared": (0, 1), "16k": (0,), "8k": (1,)}
"""Each network's training rows, by band (the index in the tool's ``BANDS``)."""
KEYS = ("MEAN", "SCALE", "HIDDEN_W", "HIDDEN_B", "OUT_W", "OUT_B")
KINDS = ("breathing-deep", "breathing-shallow", "cough-heavy", "vowel-a")


def speech_folds(k: int) -> list[int]:
    """Each real speech file's fold (the manifest's order)."""
    paths = [r["path"] for r in csv.DictReader((t.REAL / "manifest.csv").open())]
    reader = [i for i, p in enumerate(paths) if p.startswith("coqui-tts-ljspeech/")]
    fold = {i: n % k for n, i in enumerate(reader)}
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        if i not in fold:
            groups.setdefault(str(Path(p).parent), []).append(i)
    sizes = np.bincount(list(fold.values()), minlength=k)
    for _, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        f = int(np.argmin(sizes))
        fold.update({i: f for i in members})
        sizes[f] += len(members)
    return [fold[i] for i in range(len(paths))]


def split(breath: list[t.Clip], speech: list[t.Clip], fold: int, k: int
          ) -> tuple[list[t.Clip], list[t.Clip], list[t.Clip], list[t.Clip]]:
    """(training breath, training speech, held-out breath, held-out speech) of one fold."""
    of_speech = speech_folds(k)
    held_b = [(int(c.name[1:3]) - 1) % k == fold for c in breath]
    held_s = [of_speech[i] == fold for i in range(len(speech))]
    return ([c for c, h in zip(breath, held_b) if not h], [c for c, h in zip(speech, held_s) if not h],
            [c for c, h in zip(breath, held_b) if h], [c for c, h in zip(speech, held_s) if h])


def fit_fold(out: Path, fold: int, k: int, networks: tuple[str, ...]) -> None:
    """The fold's ``networks`` (of :data:`NETWORKS`), written to ``OUT/fold{fold}_{name}.npz``."""
    args = t.parse(["--edge-highpass", "20x2"])
    rng = np.random.default_rng(t.SEED)
    tr_b, tr_s, _, _ = split(t.breathing_clips(t.BREATHING, args.edge_highpass),
                             t.speech_clips(args.edge_highpass), fold, k)
    train_mix = t.mix(tr_s, t.breath_snippets(tr_b), rng, args.mixes)
    X, y, sw, band = t.training_rows(args, tr_b, tr_s, train_mix, rng)
    start = rng.bit_generator.state
    for name in networks:
        path, bands = out / f"fold{fold}_{name}.npz", NETWORKS[name]
        if path.is_file():
            continue
        rows = np.isin(band, bands)
        r = np.random.default_rng()
        r.bit_generator.state = start
        print(f"fold {fold}: {name} on {rows.sum()} rows ({len(tr_b)} recordings, {len(tr_s)} speech files)",
              flush=True)
        np.savez(path, **t.fit(X[rows], y[rows], [r], sample_weight=sw[rows]))


def use(path: Path) -> None:
    """The model module's numbers from ``path`` (rounded as the model file stores them)."""
    import monitor.dsp.sound_class_model as m
    p = np.load(path)
    for key in KEYS:
        setattr(m, key, np.round(p[key], 5).astype(np.float32))


def fold_figures(out: Path, shared: Path, fold: int, k: int, mixes: int, networks: tuple[str, ...]) -> None:
    """Per network of the fold, its counts on the fold's held-out side, to ``OUT/fold{fold}_{name}.json``."""
    _, _, te_b, te_s = split(t.breathing_clips(shared / "breathing"), t.speech_clips(), fold, k)
    mixed = t.mix(te_s, t.breath_snippets(te_b), np.random.default_rng([t.SEED, fold]), mixes)
    for name in networks:
        path = out / f"fold{fold}_{name}.json"
        if path.is_file():
            continue
        use(out / f"fold{fold}_{name}.npz")
        rec = t.recording_figures(te_b)
        good, recordings, errors = t.onset_counts(te_b)
        counts = {"recordings": {kind: [v["speech_share"] * v["seconds"], v["syllables_per_min"] * v["seconds"] / 60,
                                        v["seconds"]] for kind, v in rec.items()},
                  "onsets": [int(good), recordings], "onset_errors": errors.tolist(),
                  "speech": t.speech_totals([c.x for c in te_s]).tolist(),
                  **{band: list(t.detection(mixed, band)) for band in t.BANDS}}
        path.write_text(json.dumps(counts, default=float))
        print(f"fold {fold}: {name} scored", flush=True)


def pooled(out: Path, net16: str, net8: str) -> dict:
    """The counts of every fold summed: the 16 kHz figures of ``net16``, the 8 kHz ones of ``net8``."""
    folds = sorted({int(p.name[4:].split("_")[0]) for p in out.glob("fold*_shared.json")})
    tot = {"recordings": {kind: np.zeros(3) for kind in KINDS}, "onsets": np.zeros(2), "onset_errors": [],
           "speech": np.zeros((2, 2)), "16k": np.zeros(3), "tel8k": np.zeros(3), "folds": len(folds)}
    for f in folds:
        a, b = (json.loads((out / f"fold{f}_{n}.json").read_text()) for n in (net16, net8))
        for kind, v in a["recordings"].items():
            tot["recordings"][kind] += v
        tot["onsets"] += a["onsets"]
        tot["onset_errors"] += a["onset_errors"]
        tot["speech"] += np.array(a["speech"])
        tot["16k"] += a["16k"]
        tot["tel8k"] += b["tel8k"]
    return tot


def row(name: str, tot: dict) -> str:
    """One variant's pooled figures as a table row."""
    r = tot["recordings"]
    share = " / ".join(f"{100 * r[k][0] / r[k][2]:.1f}" for k in KINDS)
    syll = " / ".join(f"{60 * r[k][1] / r[k][2]:.1f}" for k in KINDS[:3])
    err = np.array(tot["onset_errors"])
    onsets = f"{tot['onsets'][0]:.0f} of {tot['onsets'][1]:.0f} ({(err <= t.ONSET_TOL_S).sum()} of {len(err)})"
    mixed = ["{:.1f} / {:.1f} % ({:.0f}, {:.0f} false)".format(100 * h / max(h + m, 1), 100 * h / max(h + f, 1), h, f)
             for h, m, f in (tot["16k"], tot["tel8k"])]
    speech = " / ".join(f"{v:+.2f}" for v in t.change_of(tot["speech"]))
    return f"| {name} | {share} % | {syll} | {onsets} | {mixed[0]} | {mixed[1]} | {speech} % |"


def table(out: Path, variants: list[str]) -> None:
    print("| 16 kHz / 8 kHz network | deep / shallow / coughs / vowels as speech | syllables a minute (deep / "
          "shallow / coughs) | onsets (recordings, onsets) | mixed 16 kHz recall / precision | mixed 8 kHz | "
          "real speech on vs off (time / syllables) |")
    print("|---|---|---|---|---|---|---|")
    for v in variants:
        net16, _, net8 = v.partition("/")
        print(row(v, pooled(out, net16, net8 or net16)))


def networks_of(text: str) -> tuple[str, ...]:
    """``"shared,16k"`` -> ``("shared", "16k")``, each a key of :data:`NETWORKS`."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names or any(n not in NETWORKS for n in names):
        raise argparse.ArgumentTypeError(f"{text!r}: not networks of {', '.join(NETWORKS)}")
    return names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="per fold: fit its networks, then score them (each step kept in OUT)")
    run.add_argument("out", type=Path)
    run.add_argument("--shared", type=Path, required=True, help="the shared data folder")
    run.add_argument("--folds", type=int, default=4)
    run.add_argument("--mixes", type=int, default=100, help="held-out mixtures per fold")
    run.add_argument("--networks", type=networks_of, default=tuple(NETWORKS),
                     help="which networks, comma-separated (default all: " + ",".join(NETWORKS) + ")")
    tab = sub.add_parser("table", help="the pooled figures of variants")
    tab.add_argument("out", type=Path)
    tab.add_argument("variants", nargs="+", help="NET16/NET8, each of " + ", ".join(NETWORKS))
    a = ap.parse_args()
    if a.cmd == "table":
        table(a.out, a.variants)
        return 0
    a.out.mkdir(parents=True, exist_ok=True)
    for fold in range(a.folds):
        fit_fold(a.out, fold, a.folds, a.networks)
        fold_figures(a.out, a.shared, fold, a.folds, a.mixes, a.networks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
