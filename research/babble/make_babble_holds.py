"""Healthy calls with babble over a hold, on seeds the evaluation corpus never held.

    PYTHONPATH=. python research/babble/make_babble_holds.py OUT [--base 7400] [--n 12] [--snr 12,22] [--hold-s S]
        [--short] [--hold-at K]

tools/eval_corpus.py's machinery as it is, with the line forced to babble (SNR drawn per call from
``--snr``), a hold, no codec, packet loss or overlap; the caller's manner cycles through hesitant,
elderly_quiet, monologue and normal. Writes ``OUT/bab_<seed>{.json,_16k.flac,_8k.flac}`` and
``OUT/index.json`` (readable by ``tools.evaluate OUT --split all``). ``--hold-s``: every hold that
long (else drawn as the corpus draws it, 10-40 s). ``--short``: the slice's shorter calls (fewer
exchanges, as the tests' calls are made). ``--hold-at K``: the hold before the agent's K-th turn
(0: a queue hold after the agent's first words, before the caller has said anything).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from tools import eval_corpus as ec

KINDS = ("hesitant", "elderly_quiet", "monologue", "normal")


def cell(kind: str, snr_db: float, short: bool = False) -> ec.Cell:
    """A healthy call of ``kind`` over babble at ``snr_db`` with a hold (``short``: a slice call)."""
    line = tuple(sorted(dict(noise="babble", snr_db=snr_db, codec="none", packet_loss=False, hold=True,
                             overlap=False).items()))
    if kind == "normal":
        return ec.Cell("normal", short=short, line=line)
    return ec.Cell("hard_negative", negative=kind, short=short, line=line)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--base", type=int, default=7400)
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--snr", default="12,22")
    p.add_argument("--hold-s", type=float, default=None)
    p.add_argument("--short", action="store_true")
    p.add_argument("--hold-at", type=int, default=None)
    a = p.parse_args()
    fixed = {k: v for k, v in (("hold_s", a.hold_s), ("hold_at", a.hold_at)) if v is not None}
    if fixed:
        drawn = ec.plan_call
        ec.plan_call = lambda *args, **kw: replace(drawn(*args, **kw), **fixed)
    lo, hi = (float(x) for x in a.snr.split(","))
    a.out.mkdir(parents=True, exist_ok=True)
    data_path = ec.prepare_espeak(a.out)
    inputs = ec.corpus_inputs()
    versions = tuple(sorted(inputs["versions"].items()))
    ids = []
    for i in range(a.n):
        seed = a.base + i
        snr = round(float(np.random.default_rng(seed).uniform(lo, hi)), 1)
        c = cell(KINDS[i % len(KINDS)], snr, a.short)
        ids.append(f"bab_{seed}")
        if not (a.out / f"bab_{seed}_8k.flac").exists():
            digest = ec.sha({"inputs": inputs, "seed": seed, "cell": asdict(c)})
            print(ec.generate(ec.Job(a.out, seed, c, "bab", digest, data_path, versions)), flush=True)
    ec.write_index(a.out, ids)


if __name__ == "__main__":
    main()
