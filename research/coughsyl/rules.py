"""Candidate rules as predicates over diag.py's rows: how many nuclei each would take, by kind.

    PYTHONPATH=. python research/coughsyl/rules.py NUCLEI.csv

(NUCLEI.csv: ``diag.py ... --speech --csv``.) A first look only: the rules that look worth it are
then made real (``nuclei.patch``) and measured by the tool's own figures.
"""
import csv
import sys

import numpy as np

RULES = {
    "run<20": lambda r: r["run"] < 20,
    "run<30": lambda r: r["run"] < 30,
    "pre B/C": lambda r: r["pre"] in "BC",
    "post B/C": lambda r: r["post"] in "BC",
    "pre or post B/C": lambda r: r["pre"] in "BC" or r["post"] in "BC",
    "since_b<30": lambda r: r["since_b"] < 30,
    "since_b<30 & lean<2": lambda r: r["since_b"] < 30 and r["lean"] < 2,
    "since_b|c<50 & lean<1": lambda r: min(r["since_b"], r["since_c"]) < 50 and r["lean"] < 1,
    "ev_B+C>0.3": lambda r: r["ev_B"] + r["ev_C"] > 0.3,
    "ev_len<50 & lean<2": lambda r: r["ev_len"] < 50 and r["lean"] < 2,
    "ev_len<50 & lean<1": lambda r: r["ev_len"] < 50 and r["lean"] < 1,
    "ev_len<50 & p25<30": lambda r: r["ev_len"] < 50 and r["p25"] < 30,
    "p25<20 & lean<1": lambda r: r["p25"] < 20 and r["lean"] < 1,
    "p25<25 & lean<0": lambda r: r["p25"] < 25 and r["lean"] < 0,
    "lean<0": lambda r: r["lean"] < 0,
    "lean<0 & p95<80": lambda r: r["lean"] < 0 and r["p95"] < 80,
    "lean<-0.5 & p95<80": lambda r: r["lean"] < -0.5 and r["p95"] < 80,
    "lb<0.5 & p95<80": lambda r: r["lb"] < 0.5 and r["p95"] < 80,
    "lb<0 & p95<80": lambda r: r["lb"] < 0 and r["p95"] < 80,
    "wid>60": lambda r: r["wid"] > 60,
    "wid>100": lambda r: r["wid"] > 100,
    "wid>60 & lean<0": lambda r: r["wid"] > 60 and r["lean"] < 0,
    "rise>25 & fall>15": lambda r: r["rise"] > 25 and r["fall"] > 15,
    "smed<0.5 & lean<0": lambda r: r["smed"] < 0.5 and r["lean"] < 0,
    "hgt<20 & lean<-1": lambda r: r["hgt"] < 20 and r["lean"] < -1,
    "hgt<20 & lean<-0.5": lambda r: r["hgt"] < 20 and r["lean"] < -0.5,
    "hgt<20 & lean<0 & p95<90": lambda r: r["hgt"] < 20 and r["lean"] < 0 and r["p95"] < 90,
}


def load(path):
    rows = list(csv.DictReader(open(path)))
    for r in rows:
        for k, v in r.items():
            if k not in ("name", "kind", "pre", "post"):
                r[k] = float(v)
    return rows


def group(kind):
    """Breathing and coughs by kind; speech clean / noisy; the evaluation's callers by condition and rate."""
    if not kind.startswith("eval"):
        return "noisy" if kind.startswith("speech+") else kind
    _, cond, rate = kind.split(" ", 1)[0], kind.split(" ", 1)[1].rsplit(" ", 1)[0], kind.rsplit(" ", 1)[1]
    short = {"mild labored": "lab", "moderate labored": "lab", "severe labored": "lab", "healthy": "hea",
             "elderly_quiet": "eld"}.get(cond, "hn")
    return f"e.{short}{rate[:-1]}"


def main(path):
    rows = load(path)
    for r in rows:
        r["kind"] = group(r["kind"])
    kinds = sorted({r["kind"] for r in rows}, key=lambda k: (not k.startswith(("b", "c")), k))
    print(f"{'rule':28s}" + "".join(f"{k[:10]:>11s}" for k in kinds))
    print(f"{'(nuclei)':28s}" + "".join(f"{sum(r['kind'] == k for r in rows):11d}" for k in kinds))
    for name, rule in RULES.items():
        cells = []
        for k in kinds:
            hit = sum(rule(r) for r in rows if r["kind"] == k)
            n = sum(r["kind"] == k for r in rows)
            cells.append(f"{100 * hit / n:4.1f}%" if not k.startswith(("b", "c")) else f"{hit:d}")
        print(f"{name:28s}" + "".join(f"{c:>11s}" for c in cells))


if __name__ == "__main__":
    main(sys.argv[1])
