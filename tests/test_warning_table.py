"""tools/warning_table.py: every warning on a healthy stretch with what raised it, and how soon
labored callers are warned."""

from __future__ import annotations

import pytest

from monitor.config import load_config
from tools import evaluate as ev
from tools import warning_table as wt

from cue_streams import HEALTHY, LABORED, cue_stream as stream, eval_job

HESITANT = dict(HEALTHY, pause_ratio=0.4)  # past the 0.32 ceiling from the first word


def job(call: str, onset: float | None, group: str) -> ev.Job:
    return eval_job(call, onset, onset is not None, condition={
        "group": group, "negative": "hesitant" if group == "hard_negative" else None})


def found() -> list[wt.FileWarnings]:
    cfg = load_config(None, None, user_config=False)
    return wt.collect([(job("hesitant", None, "hard_negative"), stream(HESITANT, HESITANT, 1e9)),
                       (job("labored", 100.0, "labored"), stream(HEALTHY, LABORED, 105.0))], cfg)


def test_a_warning_on_a_healthy_stretch_says_which_limit_raised_it_and_how_long_it_stayed_past():
    hesitant, labored = found()
    [row] = hesitant.rows
    assert row["kind"] == "long_pauses" and row["basis"] == "absolute" and row["baseline"] is None
    assert row["value"] == 0.4 and row["absolute"] == 0.32 and row["held_s"] == 6.0
    # once the caller's baseline holds their pauses (frozen at the latest baseline_max_s after their
    # first words), the absolute limit alone no longer counts
    cfg = load_config(None, None, user_config=False)
    assert row["past_s"] <= cfg.analysis.baseline_max_s and row["condition"] == "hesitant none"
    assert labored.rows == ()


def test_a_labored_caller_s_first_warning_is_timed_from_the_onset():
    _, labored = found()
    assert labored.first_warning is not None and 105.0 <= labored.first_warning <= 130.0
    lines = wt.labored_lines(found())
    assert lines[0] == "labored files expected critical: 1"
    assert "within 30 s 1/1 (100 %)" in lines[1]


def test_command_line_errors_are_one_line_naming_the_tool(tmp_path, capsys):
    assert wt.main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"warning_table: error: {tmp_path / 'nowhere'}: no such folder\n"
    assert wt.main([str(tmp_path), "--set", "rules.weak_voice.corroborate=[\"loudness\"]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("warning_table: error: command line: rules.weak_voice.corroborate: 'loudness'")
    assert err.count("\n") == 1


def test_the_help_says_the_tool_runs_in_one_process(capsys):
    with pytest.raises(SystemExit):
        wt.main(["--help"])
    assert "ignored: this tool runs in one process" in " ".join(capsys.readouterr().out.split())
