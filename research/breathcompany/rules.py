"""Candidate rules as pandas expressions over research/coughsyl/diag.py's rows: the training side's
breathing and cough nuclei each takes (counts), and the share of real speech's (clean, over each
noise) and of the evaluation tuning half's callers' nuclei (by condition and rate) it takes.

    PYTHONPATH=. python research/breathcompany/rules.py NUCLEI.csv ["r.il6<-1&r.lean<2.5&r.hgt>=20" ...]

(NUCLEI.csv: ``diag.py <shared> train --speech --csv NUCLEI.csv --eval <eval folder> KINDS``.)
Without expressions, a first grid over the neighbourhood columns.
"""
import sys

import pandas as pd

sys.path.insert(0, "research/coughsyl")
from rules import group  # noqa: E402  (diag's kinds grouped as research/coughsyl/rules.py does)


def grid() -> dict[str, str]:
    rules = {}
    for w in ("30_30", "60_60", "95_60"):
        for th in (-2, -1.5, -1, -0.5, 0):
            rules[f"nl{w}<{th}"] = f"r.nl{w}<{th}"
            rules[f"nl{w}<{th}&na>=5"] = f"(r.nl{w}<{th})&(r.na{w}>=5)"
    for th in (0.1, 0.2, 0.3):
        rules[f"nb95_60<{th}&na>=5"] = f"(r.nb95_60<{th})&(r.na95_60>=5)"
    rules["prec>0"] = "r.prec>0"
    rules["prec_max>1&rise>20"] = "(r.prec_max>1)&(r.rise>20)"
    return rules


def main(path: str, given: list[str]) -> None:
    d = pd.read_csv(path)
    d["g"] = d.kind.map(group)
    d.loc[d.kind == "speech", "g"] = "clean"
    noisy = d.kind.str.startswith("speech+")
    d.loc[noisy, "g"] = d.kind[noisy].str.replace("speech+", "n.")
    groups = ["breathing-deep", "breathing-shallow", "cough-heavy", "clean", "n.pink", "n.hum50", "n.babble",
              "n.white"] + sorted(g for g in d.g.unique() if g.startswith("e."))
    rules = {k: k for k in given} if given else grid()
    print(f"{'rule':40s}" + "".join(f"{g[-8:]:>9s}" for g in groups))
    print(f"{'(n)':40s}" + "".join(f"{(d.g == g).sum():9d}" for g in groups))
    for name, expr in rules.items():
        hit = eval("lambda r: " + "(" + expr.replace("&", ")&(") + ")")(d)
        cells = [f"{int(hit[d.g == g].sum())}" if g.startswith(("b", "c")) else f"{100 * hit[d.g == g].mean():.2f}"
                 for g in groups]
        print(f"{name:40s}" + "".join(f"{c:>9s}" for c in cells))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
