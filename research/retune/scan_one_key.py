"""Each value of a rule grid tried alone from the defaults, on the tuning half, per fold of tools.tune.

    PYTHONPATH=. .venv/bin/python research/retune/scan_one_key.py DIR research/retune/grid.toml CACHE

Prints per line: files within 30 s of the onset (of the expected), median, false critical files,
criticals before an onset, warnings per normal hour and per hard-negative hour; whole half, fold 0, fold 1.
"""
import sys
import tomllib
from dataclasses import replace

from tools import evaluate as ev
from tools import tune
from tools.tune import fold_of


def figures(res: list[dict]) -> str:
    """One line of the figures of ``res`` (file results), whole and per fold."""
    out = []
    for name, rs in (("all", res), ("f0", [r for r in res if fold_of(r["id"], 2) == 0]),
                     ("f1", [r for r in res if fold_of(r["id"], 2) == 1])):
        m = ev.row_metrics(rs)
        hn = ev.row_metrics([r for r in rs if r["condition"]["group"] == "hard_negative"])
        exp = [r for r in rs if r["expect_critical"]]
        n30 = sum(1 for r in exp if r["time_to_critical_s"] is not None and r["time_to_critical_s"] <= 30)
        out.append(f"{name} {n30}/{len(exp)} med {m['median_ttc_s'] or float('nan'):.1f} "
                   f"FA {m['false_alarm_files']} pre {m['pre_onset_false_alarm_files']} "
                   f"nw {m['normal_warnings_per_hour'] or 0:.2f} hn {hn['warnings_per_hour'] or 0:.1f}")
    return " | ".join(out)


def main(folder: str, grid_path: str, cache: str) -> None:
    settings = ev.Settings(cache_dir=cache)
    jobs = ev.load_jobs(folder, "tune")
    cfg = ev.make_config(settings)
    with open(grid_path, "rb") as fh:
        grid = tune._flatten(tomllib.load(fh))
    print("defaults", figures(ev.evaluate_jobs(jobs, settings, 1)), flush=True)
    for key, values in grid.items():
        for v in (v for v in values if v != tune.config_value(cfg, key)):
            res = ev.evaluate_jobs(jobs, replace(settings, overrides=((key, v),)), 1)
            print(f"{key}={v}", figures([r for r in res if not r.get("error")]), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
