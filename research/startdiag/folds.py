"""Per fold of tools.tune (a checksum of the call id): labored files critical within 30 s of the onset,
their median time, false criticals and criticals before the onset, for tools.evaluate --json outputs."""
import json
import statistics
import sys

from tools.tune import fold_of

for path in sys.argv[1:]:
    files = json.load(open(path))["files"]
    out = []
    for k in (0, 1):
        sub = [f for f in files if fold_of(f["id"], 2) == k]
        exp = [f for f in sub if f["expect_critical"]]
        t = [f["time_to_critical_s"] for f in exp if f["time_to_critical_s"] is not None]
        d30 = sum(1 for x in t if x <= 30)
        med = statistics.median([x if x is not None else 1e9 for x in (f["time_to_critical_s"] for f in exp)])
        fa = sum(1 for f in sub if f["forbid_critical"] and f["first_critical_t"] is not None)
        pre = sum(1 for f in sub if f["criticals_before_onset"])
        out.append(f"fold {k}: {d30}/{len(exp)} within 30 s, median {med:.1f} s, false {fa}, before onset {pre}")
    print(path.split("/")[-1], " | ".join(out))
