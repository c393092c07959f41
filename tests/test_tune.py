"""The tuning driver (tools/tune.py): what it optimises, how it reads a grid, and a real search."""
from __future__ import annotations

import json
import math

import pytest

from conftest import CALLS

from monitor.config import load_config
from tools import evaluate as ev
from tools import tune



def metrics(det=0.5, med=20.0, fa=0, pre=0, nwarn=0.0) -> dict:
    return {"detected_30s": det, "median_ttc_s": med, "false_alarm_files": fa,
            "pre_onset_false_alarm_files": pre, "normal_warnings_per_hour": nwarn,
            "forbidden": 10, "labored": 10}


def test_objective_puts_constraints_first_then_detection_then_speed():
    assert tune.objective(metrics(det=0.1)) > tune.objective(metrics(det=1.0, fa=1))
    assert tune.objective(metrics(det=0.1)) > tune.objective(metrics(det=1.0, pre=1))
    assert tune.objective(metrics(det=0.1, nwarn=1.0)) > tune.objective(metrics(det=1.0, nwarn=1.5))
    assert tune.objective(metrics(det=0.6, med=29.0)) > tune.objective(metrics(det=0.5, med=5.0))
    assert tune.objective(metrics(det=0.5, med=12.0)) > tune.objective(metrics(det=0.5, med=math.inf))
    # among infeasible trials, a balance: a false critical costs three detections in time ...
    assert tune.objective(metrics(fa=1, det=0.5)) > tune.objective(metrics(fa=2, det=0.5))
    # ... so detecting everything with one false alarm beats detecting nothing without any warning
    assert tune.objective(metrics(fa=1, det=1.0)) > tune.objective(metrics(nwarn=5.0, det=0.0))


def test_grid_reads_flat_and_table_keys_and_names_bad_ones(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('"rules.slow_speech.persist_s" = [4.0, 6.0]\n[rules.long_pauses]\nabsolute = [0.3, 0.35]\n')
    assert tune.read_grid(str(grid), ev.Settings()) == {"rules.slow_speech.persist_s": [4.0, 6.0],
                                                        "rules.long_pauses.absolute": [0.3, 0.35]}
    grid.write_text('[rules.slow_speech]\nnonsense = [1]\n')
    with pytest.raises(tune.GridError, match=r"grid.toml: .*rules.slow_speech.nonsense: unknown key"):
        tune.read_grid(str(grid), ev.Settings())
    grid.write_text('"rules.slow_speech.persist_s" = 4.0\n')
    with pytest.raises(tune.GridError, match="expected a non-empty list"):
        tune.read_grid(str(grid), ev.Settings())


def test_config_value_reads_rules_and_sections():
    cfg = load_config(None, {"rules.slow_speech.persist_s": 7.5}, user_config=False)
    assert tune.config_value(cfg, "rules.slow_speech.persist_s") == 7.5
    assert tune.config_value(cfg, "analysis.hop_s") == cfg.analysis.hop_s
    assert tune.config_value(cfg, "rules.possible_emergency.enabled") is True


def test_search_keeps_a_value_only_when_it_scores_better(tmp_path, capsys):
    folder = tmp_path / "calls"
    folder.mkdir()
    for name in ("normal", "deteriorating"):
        label = json.loads((CALLS / f"{name}.json").read_text())
        label["files"] = {r: str(CALLS / f) for r, f in label["files"].items()}
        (folder / f"{name}.json").write_text(json.dumps(label))
    jobs = ev.load_jobs(folder, rates=(16000,))
    search = tune.Search(jobs, ev.Settings(cache_dir=str(tmp_path / "cache")), workers=1)
    start = {"rules.slow_speech.enabled": True}
    grid = {"rules.slow_speech.enabled": [True, False]}
    best = search.run(grid, start, passes=2)
    scores = {dict(t.values)["rules.slow_speech.enabled"]: tune.objective(t.metrics) for t in search.trials.values()}
    assert set(scores) == {True, False}
    assert tune.objective(best.metrics) == max(scores.values())
    assert search.replayed == len(jobs)  # the second trial read the cached cues
    assert "det@30" in capsys.readouterr().out
