"""Counts from tools.evaluate --json outputs: det@30 and det of the expected files, the same for
tempo-only files, false criticals (forbid files with a critical), pre-onset criticals, warnings on
healthy files and on all files; with --compare the files whose first critical moved.

    python research/turns/counts.py A.json [B.json ...] [--diff]
"""
import json
import sys


def counts(path):
    files = [f for f in json.load(open(path))["files"] if not f.get("error")]
    exp = [f for f in files if f["expect_critical"]]
    tempo = [f for f in exp if f["condition"].get("degrade") == "tempo"]
    forb = [f for f in files if f["forbid_critical"]]
    d30 = lambda fs: sum(f["time_to_critical_s"] is not None and f["time_to_critical_s"] <= 30 for f in fs)  # noqa
    det = lambda fs: sum(f["time_to_critical_s"] is not None for f in fs)  # noqa
    return dict(det30=d30(exp), det=det(exp), n=len(exp), tempo30=d30(tempo), tempo_det=det(tempo),
                FA=sum(f["criticals"] > 0 for f in forb), preFA=sum(f["criticals_before_onset"] > 0 for f in files),
                warn_healthy=sum(f["warnings"] for f in forb), warn_all=sum(f["warnings"] for f in files),
                mild_det=det([f for f in files if not f["expect_critical"] and not f["forbid_critical"]])), files


def main():
    paths = [a for a in sys.argv[1:] if not a.startswith("--")]
    ref = None
    for p in paths:
        c, files = counts(p)
        print(f"{p}: det@30 {c['det30']}/{c['n']}, det {c['det']}, tempo@30 {c['tempo30']}/24, tempo det {c['tempo_det']}, "
              f"FA {c['FA']}, pre-FA {c['preFA']}, warnings healthy {c['warn_healthy']} / all {c['warn_all']}, mild det {c['mild_det']}")
        if "--diff" in sys.argv and ref is not None:
            old = {(f["id"], f["rate"]): f for f in ref}
            for f in files:
                o = old.get((f["id"], f["rate"]))
                if o and (o["first_critical_t"] != f["first_critical_t"] or o["warnings"] != f["warnings"]):
                    print(f"   {f['id']}@{f['rate']//1000}k {f['condition'].get('negative') or f['condition'].get('group')} "
                          f"{f['condition'].get('degrade')} {f['condition'].get('noise')} onset {f['onset_s']}: crit "
                          f"{o['first_critical_t']} -> {f['first_critical_t']}, warnings {o['warnings']} -> {f['warnings']}")
        ref = files


if __name__ == "__main__":
    main()
