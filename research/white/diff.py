"""Files whose first critical or warnings differ between two tools.evaluate --json outputs."""
import json
import sys

a, b = (json.load(open(p))["files"] for p in sys.argv[1:3])
kb = {(f["id"], f["rate"]): f for f in b}
for f in a:
    g = kb[(f["id"], f["rate"])]
    if (f["first_critical_t"], f["warnings"], f["criticals_before_onset"]) != (g["first_critical_t"], g["warnings"], g["criticals_before_onset"]):
        c = f["condition"]
        print(f"{f['id']}/{f['rate']//1000}k {c['group']:<13} {c.get('severity') or c.get('negative') or '':<10} {c['noise']}@{c['snr_db']} "
              f"exp={f['expect_critical']:d} forb={f['forbid_critical']:d} onset {f['onset_s']}: crit {f['first_critical_t']} -> {g['first_critical_t']}, "
              f"warn {f['warnings']} -> {g['warnings']}")
