"""Typical values and absolute limits from the healthy population (tools/population_limits.py)."""
from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from conftest import fixture_folder, option_refused, tool

from monitor.config import load_config
from monitor.events import CuesEvent
from tools import evaluate as ev
from tools import population_limits as pl


def files(*series: list[float]) -> list[pl.FileValues]:
    return [pl.FileValues(f"call_{i}", 16000, np.asarray(s, dtype=float)) for i, s in enumerate(series)]


def test_the_quantile_on_the_trouble_side_is_the_low_one_for_a_cue_whose_trouble_is_below():
    values, ones = np.arange(1.0, 11.0), np.ones(10)
    assert pl.side_quantile(values, ones, 0.9, "above") == 9.0  # one value in ten above it
    assert pl.side_quantile(values, ones, 0.9, "below") == 2.0  # one value in ten below it


def test_a_quantile_with_equal_weights_is_the_nearest_rank():
    values = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    ones = np.ones(5)
    assert pl.weighted_quantile(values, ones, 0.5) == ev.nearest_rank(list(values), 0.5) == 3.0
    assert pl.weighted_quantile(values, ones, 1.0) == 5.0
    assert pl.weighted_quantile(values, ones, 0.0) == 1.0
    assert pl.weighted_quantile(np.array([]), np.array([]), 0.5) is None


def test_every_file_weighs_the_same_however_long_it_is():
    long_call = [1.0] * 99
    short_call = [10.0, 10.0, 10.0]
    # pooled per window the long call would hold the median; per file the two weigh alike
    assert pl.pooled_quantile(files(long_call, short_call), 0.75) == 10.0
    assert pl.pooled_quantile(files(long_call, short_call), 0.25) == 1.0
    assert pl.pooled_quantile(files([], []), 0.5) is None


def test_a_files_held_value_is_the_one_it_stays_beyond_for_the_hold():
    values = np.array([3.0, 1.0, 2.5, 0.5, 4.0])
    assert pl.held_value(values, 2, "below") == 1.0  # below 1.0 or at it for two hops
    assert pl.held_value(values, 2, "above") == 3.0
    assert pl.held_value(values, 1, "above") == 4.0  # one hop: the worst window
    assert pl.held_value(values, 6, "above") is None  # never judged for that long


def test_the_limit_is_one_that_the_quantiles_share_of_healthy_files_never_hold_past():
    # ten files; file k holds pause ratios around 0.1 + 0.02 k for three hops
    population = files(*([0.05, 0.1 + 0.02 * k, 0.1 + 0.02 * k, 0.1 + 0.02 * k] for k in range(10)))
    limit = pl.held_limit(population, 3, 0.9, "above")
    assert limit == pytest.approx(0.26)  # the ninth file's held value
    assert pl.share_held_past(population, limit, 3, "above") == pytest.approx(0.1)
    assert pl.share_held_past(population, 1.0, 3, "above") == 0.0
    assert pl.share_held_past(population, None, 3, "above") is None
    # a below cue takes the low side
    rates = files(*([3.0, 2.0 + 0.1 * k, 2.0 + 0.1 * k] for k in range(10)))
    assert pl.held_limit(rates, 2, 0.9, "below") == pytest.approx(2.1)


def cues(t: float, speech_s: float, rate: float | None, short_speech_s: float = 0.0,
         articulation: float = 4.5, hnr: float = 10.0) -> CuesEvent:
    return CuesEvent(t=t, speech_rate_sps=rate, articulation_rate_sps=articulation, hnr_db=hnr, speech_s=speech_s,
                     short={"speech_rate_sps": rate, "speech_s": short_speech_s,
                            "articulation_rate_sps": articulation, "hnr_db": hnr})


def test_values_count_only_where_the_rule_would_judge_them():
    cfg = load_config(None, {}, user_config=False)
    rule = cfg.rules.rule("slow_speech")
    need = cfg.analysis.short_speech_s
    stream = [cues(1.0, rule.min_speech_s - 1.0, 3.0),          # the long window holds too little speech
              cues(2.0, rule.min_speech_s, 3.1, need),           # judged on both windows
              cues(3.0, rule.min_speech_s, None, need),          # no value
              cues(4.0, rule.min_speech_s, 0.5, need, articulation=0.2, hnr=30.0),  # a steady tone
              cues(5.0, rule.min_speech_s + 4.0, 2.9, need - 1.0),  # the short window holds too little
              CuesEvent(t=6.0, speech_rate_sps=2.8, short={"speech_rate_sps": 2.8}),  # neither says how much
              ]
    assert list(pl.judged_values(stream, rule, cfg, "long")) == [3.1, 2.9, 2.8]  # as AlertEngine.update
    assert list(pl.judged_values(stream, rule, cfg, "short")) == [3.1]  # as AlertEngine.judge_short


def test_the_grid_holds_each_rules_current_limit_and_the_proposals_for_the_tuning_driver():
    cfg = load_config(None, {}, user_config=False)
    rules = [cfg.rules.rule("slow_speech"), cfg.rules.rule("weak_voice")]
    healthy = {("slow_speech", "long"): files(*([3.0, 2.0 + 0.1 * k, 2.0 + 0.1 * k] for k in range(10))),
               ("weak_voice", "long"): files([-30.0, -31.0])}
    grid = tomllib.loads(pl.grid_text(rules, healthy, 2, [0.9, 1.0], 5.0))
    # the current limit first, then each quantile's; a rule without an absolute limit is left out
    assert grid == {"rules.slow_speech.absolute": [1.5, 2.1, 2.0]}


def test_healthy_files_are_those_without_an_onset_that_must_stay_below_critical():
    job = ev.Job(id="c", rate=16000, path="c.flac", split="tune", caller_channel=1, agent_channel=0,
                 duration_s=60.0, onset_s=None, expect_critical=False, forbid_critical=True,
                 condition={"group": "hard_negative", "negative": "slow"})
    assert pl.is_healthy(job)
    mild = ev.Job(**{**vars(job), "forbid_critical": False, "onset_s": 0.0})
    start = ev.Job(**{**vars(job), "forbid_critical": False, "expect_critical": True, "onset_s": 6.0,
                      "condition": {"onset": "start"}})
    assert not pl.is_healthy(mild) and not pl.is_healthy(start)
    assert pl.is_labored_from_start(start) and not pl.is_labored_from_start(job)


def test_the_proposal_prints_each_cue_and_the_options_that_apply_it(tmp_path, capsys):
    folder = fixture_folder(tmp_path, ("normal", "slow_talker"))
    out = tmp_path / "limits.json"
    grid = tmp_path / "grid.toml"
    assert pl.main([str(folder), "--split", "all", "--rates", "16000", "--cache", str(tmp_path / "cache"),
                    "--json", str(out), "--grid", str(grid)]) == 0
    assert '"rules.slow_response.absolute" = [2.5' in grid.read_text()
    text = capsys.readouterr().out
    assert "2 healthy files" in text
    assert "slow_speech (speech_rate_sps, trouble below)" in text
    assert "--set rules.slow_speech.absolute=" in text
    proposals = {p["kind"]: p for p in json.loads(out.read_text())["proposals"]}
    assert proposals["slow_speech"]["typical_now"] == 3.5
    assert 1.5 < proposals["slow_speech"]["typical"] < 6.0
    assert proposals["weak_voice"]["absolute_now"] is None
    assert pl.main([str(folder), "--call-quantile", "1.5"]) == 2


def test_a_file_that_cannot_be_read_is_not_reported_as_the_grid_that_cannot_be_written(tmp_path, monkeypatch,
                                                                                       capsys):
    def unreadable(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "calls/normal.flac")

    monkeypatch.setattr(ev, "load_jobs", unreadable)
    assert pl.main([str(tmp_path), "--grid", str(tmp_path / "grid.toml")]) == 2
    assert "calls/normal.flac: cannot read" in capsys.readouterr().err
    monkeypatch.setattr(ev, "load_jobs", lambda *args, **kwargs: [])
    assert pl.main([str(tmp_path), "--grid", str(tmp_path / "no_such_folder" / "grid.toml")]) == 2
    assert "grid.toml: cannot write" in capsys.readouterr().err


@pytest.mark.parametrize("argv, option", [
    (["--split", "tunes"], "--split"),
    (["--grid-quantiles", "5"], "--grid-quantiles"),
    (["--grid-quantiles", "abc"], "--grid-quantiles"),
    (["--grid-quantiles", "0.9,0"], "--grid-quantiles"),
])
def test_a_split_not_of_the_corpus_or_a_grid_quantile_not_a_share_is_refused_naming_its_option(tmp_path, argv,
                                                                                             option):
    """As the other corpus tools restrict ``--split`` to the corpus's splits: a misspelt split
    measured no file and exited 0, and a quantile of 5 wrote a grid of meaningless limits."""
    option_refused(tool("population_limits", fixture_folder(tmp_path, ("normal",)), *argv), option)
