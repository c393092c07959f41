"""The sound-class model's figures on speaker folds: each network trained once per fold on the other
folds' speakers, as the tool trains the shipped one, and every figure pooled over the held-out folds.

    PYTHONPATH=. .venv/bin/python research/classfolds/folds.py run OUT --shared FOLDER [--folds K] [--mixes N] \
        [--networks shared,16k]
    PYTHONPATH=. .venv/bin/python research/classfolds/folds.py table OUT NET16/NET8 ... [--fold F]
    PYTHONPATH=. .venv/bin/python research/classfolds/folds.py carriers OUT NETWORK

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
recipe). ``run`` also writes, per network and fold, each held-out mixture's carrier speech
files (the ones that open and close it) and where its false breath events lie (in which of them,
or in the silences around the breath) and whether in a carrier's own breath-like sounds (the tool's
``own_breaths``); ``carriers`` lists them per fold, and ``table`` adds the mixed breaths' precision
net of those (strict first) where every fold has them. Each step's file stays
in OUT, and a run skips what is there (it resumes: a run over an older OUT adds the carriers).
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
    networks = tuple(n for n in networks if not (out / f"fold{fold}_{n}.npz").is_file())
    if not networks:
        return
    args = t.parse(["--edge-highpass", "20x2"])
    rng = np.random.default_rng(t.SEED)
    tr_b, tr_s, _, _ = split(t.breathing_clips(t.BREATHING, args.edge_highpass),
                             t.speech_clips(args.edge_highpass), fold, k)
    train_mix = t.mix(tr_s, t.breath_snippets(tr_b), rng, args.mixes)
    X, y, sw, band = t.training_rows(args, tr_b, tr_s, train_mix, rng)
    start = rng.bit_generator.state
    for name in networks:
        path, bands = out / f"fold{fold}_{name}.npz", NETWORKS[name]
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


def held_out(shared: Path, fold: int, k: int, mixes: int) -> tuple[list[t.Clip], list[t.Clip], list[tuple]]:
    """The fold's held-out recordings (the shared folder's), speech (its breath-like sounds named,
    the tool's ``with_inner``) and ``mixes`` mixtures of them."""
    _, _, te_b, te_s = split(t.breathing_clips(shared / "breathing"), t.speech_clips(), fold, k)
    te_s = [t.with_inner(c) for c in te_s]
    return te_b, te_s, t.mix(te_s, t.breath_snippets(te_b), np.random.default_rng([t.SEED, fold]), mixes)


def fold_figures(out: Path, shared: Path, fold: int, k: int, mixes: int, networks: tuple[str, ...]) -> None:
    """Per network of the fold, its counts on the fold's held-out side, to ``OUT/fold{fold}_{name}.json``."""
    networks = tuple(n for n in networks if not (out / f"fold{fold}_{n}.json").is_file())
    if not networks:
        return
    te_b, te_s, mixed = held_out(shared, fold, k, mixes)
    for name in networks:
        path = out / f"fold{fold}_{name}.json"
        use(out / f"fold{fold}_{name}.npz")
        rec = t.recording_figures(te_b)
        good, recordings, errors = t.onset_counts(te_b)
        counts = {"recordings": {kind: [v["speech_share"] * v["seconds"], v["syllables_per_min"] * v["seconds"] / 60,
                                        v["seconds"]] for kind, v in rec.items()},
                  "onsets": [int(good), recordings], "onset_errors": errors.tolist(),
                  "speech": t.speech_totals([c.x for c in te_s]).tolist(),
                  **{band: list(t.detection(mixed, band)[:3]) for band in t.BANDS}}
        path.write_text(json.dumps(counts, default=float))
        print(f"fold {fold}: {name} scored", flush=True)


def carriers(x: np.ndarray, speech: list[t.Clip]) -> tuple[int, int]:
    """The speech files (indices into ``speech``) that open and close mixture ``x``: its first and
    last samples are theirs (the line's noise 50 dB under)."""
    def misfit(c: t.Clip, head: bool) -> float:
        if len(c.x) > len(x):
            return np.inf
        part = x[:len(c.x)] if head else x[len(x) - len(c.x):]
        return float(np.sum(np.square(part - c.x)) / (np.sum(np.square(c.x)) + 1e-12))

    return tuple(int(np.argmin([misfit(c, head) for c in speech])) for head in (True, False))


def where(x: np.ndarray, opening: t.Clip, closing: t.Clip, event: np.ndarray) -> tuple[str, float]:
    """Where a false breath event (start, end seconds) of a mixture lies, by its middle: the
    opening speech file's name or the closing one's and the seconds into it; or ``gap`` (the
    silences around the breath) and the seconds after the opening file."""
    mid, closes = (event[0] + event[1]) / 2, (len(x) - len(closing.x)) / 16000
    if mid < len(opening.x) / 16000:
        return opening.name, round(mid, 2)
    return (closing.name, round(mid - closes, 2)) if mid >= closes else ("gap", round(mid - len(opening.x) / 16000, 2))


def carrier_figures(out: Path, shared: Path, fold: int, k: int, mixes: int, networks: tuple[str, ...]) -> None:
    """Per network of the fold, each held-out mixture's carriers and its false breath events by
    where they lie (:func:`where`) and whether in a carrier's own breath-like sounds (the tool's
    ``own_breaths``), per band, with each carrier's own breath-like sounds (the tool's
    ``with_inner``), to ``OUT/fold{fold}_{name}_carriers.json``."""
    networks = tuple(n for n in networks if not (out / f"fold{fold}_{n}_carriers.json").is_file())
    if not networks:
        return
    _, te_s, mixed = held_out(shared, fold, k, mixes)
    pairs = [carriers(x, te_s) for x, *_ in mixed]
    inner = {c.name: c.inner for c in te_s}
    for name in networks:
        path = out / f"fold{fold}_{name}_carriers.json"
        use(out / f"fold{fold}_{name}.npz")
        found: dict = {"carriers": [[te_s[a].name, te_s[b].name] for a, b in pairs], "inner": inner,
                       "seconds": {c.name: len(c.x) / 16000 for c in te_s}}
        for band in t.BANDS:
            found[band] = []
            for (x, iv, *line), (a, b) in zip(mixed, pairs):
                hit, wrong, own = t.mixture_events(x, iv, band, *line)
                found[band].append({"hits": int(hit.sum()),
                                    "false": [[*where(x, te_s[a], te_s[b], e), bool(o)] for e, o in zip(wrong, own)]})
        path.write_text(json.dumps(found))
        print(f"fold {fold}: {name} carriers", flush=True)


def pooled(out: Path, net16: str, net8: str, only: int | None = None) -> dict:
    """The counts of every fold (or fold ``only``) summed: the 16 kHz figures of ``net16``, the 8 kHz
    ones of ``net8``."""
    folds = sorted({int(p.name[4:].split("_")[0]) for p in out.glob("fold*_shared.json")})
    folds = [f for f in folds if only is None or f == only]
    tot = {"recordings": {kind: np.zeros(3) for kind in KINDS}, "onsets": np.zeros(2), "onset_errors": [],
           "speech": np.zeros((2, 2)), "16k": np.zeros(3), "tel8k": np.zeros(3), "folds": len(folds),
           "own": np.zeros(2), "net": True}
    for f in folds:
        a, b = (json.loads((out / f"fold{f}_{n}.json").read_text()) for n in (net16, net8))
        for kind, v in a["recordings"].items():
            tot["recordings"][kind] += v
        tot["onsets"] += a["onsets"]
        tot["onset_errors"] += a["onset_errors"]
        tot["speech"] += np.array(a["speech"])
        tot["16k"] += a["16k"]
        tot["tel8k"] += b["tel8k"]
        for i, (n, band) in enumerate(((net16, "16k"), (net8, "tel8k"))):
            own = own_count(out / f"fold{f}_{n}_carriers.json", band)
            tot["net"] &= own is not None
            tot["own"][i] += own or 0
    return tot


def own_count(path: Path, band: str) -> int | None:
    """How many of a fold's false mixed breaths in ``band`` lie in the carriers' own breath-like
    sounds (the carriers pass's mark); None without that pass or from a run before the mark."""
    if not path.is_file():
        return None
    false = [e for m in json.loads(path.read_text())[band] for e in m["false"]]
    return sum(e[2] for e in false) if all(len(e) > 2 for e in false) else None


def row(name: str, tot: dict) -> str:
    """One variant's pooled figures as a table row."""
    r = tot["recordings"]
    share = " / ".join(f"{100 * r[k][0] / r[k][2]:.1f}" for k in KINDS)
    syll = " / ".join(f"{60 * r[k][1] / r[k][2]:.1f}" for k in KINDS[:3])
    err = np.array(tot["onset_errors"])
    onsets = f"{tot['onsets'][0]:.0f} of {tot['onsets'][1]:.0f} ({(err <= t.ONSET_TOL_S).sum()} of {len(err)})"
    mixed = ["{:.1f} / {:.1f} % ({:.0f}, {:.0f} false{})".format(
        100 * h / max(h + m, 1), 100 * h / max(h + f, 1), h, f,
        f"; net {100 * h / max(h + f - o, 1):.1f} %, {o:.0f} in own" if tot["net"] else "")
        for (h, m, f), o in zip((tot["16k"], tot["tel8k"]), tot["own"])]
    speech = " / ".join(f"{v:+.2f}" for v in t.change_of(tot["speech"]))
    return f"| {name} | {share} % | {syll} | {onsets} | {mixed[0]} | {mixed[1]} | {speech} % |"


def table(out: Path, variants: list[str], only: int | None = None) -> None:
    print("| 16 kHz / 8 kHz network | deep / shallow / coughs / vowels as speech | syllables a minute (deep / "
          "shallow / coughs) | onsets (recordings, onsets) | mixed 16 kHz recall / precision | mixed 8 kHz | "
          "real speech on vs off (time / syllables) |")
    print("|---|---|---|---|---|---|---|")
    for v in variants:
        net16, _, net8 = v.partition("/")
        print(row(v, pooled(out, net16, net8 or net16, only)))


def spots(events: list[list]) -> str:
    """False events' places in one file (seconds, to 0.1) with their counts; ``*`` marks a place
    with an event in one of the file's own breath-like sounds (the carriers pass's mark, the
    tool's ``own_breaths``)."""
    at = [round(e[1], 1) for e in events]
    mark = {s: "" for s in at} | {round(e[1], 1): "*" for e in events if len(e) > 2 and e[2]}
    return ", ".join(f"{s:.1f}{mark[s]}" + (f" x{at.count(s)}" if at.count(s) > 1 else "")
                     for s in sorted(set(at), key=lambda s: (-at.count(s), s)))


def carrier_table(out: Path, name: str) -> None:
    """Network ``name``'s false mixed breaths per fold by where they lie: each carrier speech file
    with any (the mixtures it opens or closes, its false breaths at 16 kHz and at 8 kHz and their
    places in it), and the gaps."""
    print("| fold | carrier speech file (its length) | mixtures it carries | false breaths in it, 16 kHz / 8 kHz | "
          "where in it, 16 kHz; 8 kHz (s; * a breath-like sound of the speech) |")
    print("|---|---|---|---|---|")
    for path in sorted(out.glob(f"fold*_{name}_carriers.json")):
        fold, found = path.name[4:].split("_")[0], json.loads(path.read_text())
        carried: dict[str, int] = {}
        for pair in found["carriers"]:
            for file in set(pair):
                carried[file] = carried.get(file, 0) + 1
        false = {band: [w for m in found[band] for w in m["false"]] for band in t.BANDS}
        files = {e[0] for v in false.values() for e in v}
        counts = {w: [[e for e in v if e[0] == w] for v in false.values()] for w in files}
        for w, (f16, f8) in sorted(counts.items(), key=lambda c: (-len(c[1][0]) - len(c[1][1]), c[0])):
            long = f" ({found['seconds'][w]:.1f} s)" if w in found["seconds"] else ""
            print(f"| {fold} | {w}{long} | {carried.get(w, len(found['carriers']))} | {len(f16)} / {len(f8)} | "
                  f"{spots(f16) or '-'}; {spots(f8) or '-'} |")
        hits = [sum(m["hits"] for m in found[band]) for band in t.BANDS]
        print(f"| {fold} | all ({len(carried)} files) | {len(found['carriers'])} | "
              f"{len(false['16k'])} / {len(false['tel8k'])} (hits {hits[0]} / {hits[1]}) | |")


def without_worst(out: Path, name: str, most: int = 3) -> None:
    """Network ``name``'s mixed-breath recall / precision pooled over the folds, with all mixtures
    and without those that any of the 1..``most`` carrier files with the most false breaths (both
    bands, pooled) open or close."""
    folds = [json.loads(p.read_text()) for p in sorted(out.glob(f"fold*_{name}_carriers.json"))]
    mixtures = [(pair, {b: m[b][i] for b in t.BANDS}) for m in folds for i, pair in enumerate(m["carriers"])]
    false: dict[str, int] = {}
    for _, by in mixtures:
        for e in by["16k"]["false"] + by["tel8k"]["false"]:
            false[e[0]] = false.get(e[0], 0) + 1
    worst = sorted(false, key=lambda w: (-false[w], w))
    for n in range(most + 1):
        kept = [by for pair, by in mixtures if not set(pair) & set(worst[:n])]
        figures = []
        for band in t.BANDS:
            h, f = sum(b[band]["hits"] for b in kept), sum(len(b[band]["false"]) for b in kept)
            figures.append(f"{100 * h / len(kept):.1f} / {100 * h / max(h + f, 1):.1f} % ({f} false)")
        left = ", ".join(w.split("/")[-1] for w in worst[:n]) or "none"
        print(f"| {left} | {len(kept)} | {figures[0]} | {figures[1]} |")


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
    tab.add_argument("--fold", type=int, help="that fold's figures alone")
    car = sub.add_parser("carriers", help="a network's false mixed breaths per fold by carrier speech file")
    car.add_argument("out", type=Path)
    car.add_argument("network", choices=tuple(NETWORKS))
    a = ap.parse_args()
    if a.cmd == "table":
        table(a.out, a.variants, a.fold)
        return 0
    if a.cmd == "carriers":
        if not any(a.out.glob(f"fold*_{a.network}_carriers.json")):
            print(f"error: {a.out}: no fold*_{a.network}_carriers.json (folds.py run writes them)", file=sys.stderr)
            return 1
        carrier_table(a.out, a.network)
        print("\n| left out: mixtures carrying | mixtures | 16 kHz recall / precision | 8 kHz |\n|---|---|---|---|")
        without_worst(a.out, a.network)
        return 0
    a.out.mkdir(parents=True, exist_ok=True)
    for fold in range(a.folds):
        fit_fold(a.out, fold, a.folds, a.networks)
        fold_figures(a.out, a.shared, fold, a.folds, a.mixes, a.networks)
        carrier_figures(a.out, a.shared, fold, a.folds, a.mixes, a.networks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
