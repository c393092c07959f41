"""Each value of a rule grid tried alone from the defaults, on the tuning half, per fold of tools.tune.

    PYTHONPATH=. .venv/bin/python research/retune/scan_one_key.py DIR research/retune/grid.toml CACHE \
        [HEALTHY HEALTHY_CACHE]

Prints per line: files within 30 s of the onset (of the expected), median, false critical files,
criticals before an onset, warnings per normal hour and per hard-negative hour; whole half, fold 0, fold 1;
with HEALTHY (a folder of healthy calls, every split), its files critical and warnings per hour.
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


def healthy_figures(res: list[dict]) -> str:
    """The healthy calls' files critical and warnings per hour of ``res``."""
    m = ev.row_metrics(res)
    return f" | healthy FA {m['false_alarm_files']} warn/h {m['warnings_per_hour'] or 0:.1f}"


def main(folder: str, grid_path: str, cache: str, healthy: str | None = None,
         healthy_cache: str | None = None) -> None:
    settings = ev.Settings(cache_dir=cache)
    jobs = ev.load_jobs(folder, "tune")
    h_settings = ev.Settings(cache_dir=healthy_cache)
    h_jobs = ev.load_jobs(healthy, "all") if healthy else []
    cfg = ev.make_config(settings)
    with open(grid_path, "rb") as fh:
        grid = tune._flatten(tomllib.load(fh))
    trials = [()] + [((key, v),) for key, values in grid.items()
                     for v in values if v != tune.config_value(cfg, key)]
    for overrides in trials:
        res = ev.evaluate_jobs(jobs, replace(settings, overrides=overrides), 1)
        line = figures([r for r in res if not r.get("error")])
        if h_jobs:
            line += healthy_figures(ev.evaluate_jobs(h_jobs, replace(h_settings, overrides=overrides), 1))
        name = ",".join(f"{k}={v}" for k, v in overrides) or "defaults"
        print(name, line, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
