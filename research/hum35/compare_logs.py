import json, sys
from pathlib import Path
def load(p):
    out = {}
    for line in open(p):
        if not line.startswith("eval_"): continue
        f = line.split()
        key = (f[0], f[1])
        d = dict(zip(f[3::2], f[4::2]))
        out[key] = (f[2], d, line.rstrip())
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
root = Path(sys.argv[3] if len(sys.argv) > 3 else "audio_fixtures/generated/eval")
def cond(i):
    l = json.load(open(root / f"{i}.json"))
    return l["line"]["noise"], l["description"][:70]
def v(x):
    return None if x == "-" else float(x)
for k in sorted(a):
    if k not in b: continue
    ea, da, la = a[k]; eb, db, lb = b[k]
    if (da["crit"], da["warn"]) != (db["crit"], db["warn"]):
        ta, tb = v(da["ttc"]), v(db["ttc"])
        mark = ""
        if ea == "expect":
            ia = ta is not None and ta <= 30; ib = tb is not None and tb <= 30
            mark = "WON" if ib and not ia else "LOST" if ia and not ib else ""
        elif da["crit"] != db["crit"]:
            mark = "FA?"
        n, desc = cond(k[0])
        print(f"{k[0]} {k[1]:>5} {ea:6} {n:6} warn {da['warn']:>6}->{db['warn']:>6} crit {da['crit']:>6}->{db['crit']:>6} ttc {da['ttc']:>6}->{db['ttc']:>6} {mark:4} | {desc}")
