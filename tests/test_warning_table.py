"""tools/warning_table.py: every warning on a healthy stretch with what raised it, and how soon
labored callers are warned."""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.events import CuesEvent
from tools import evaluate as ev
from tools import warning_table as wt

HEALTHY = dict(speech_rate_sps=3.5, articulation_rate_sps=4.4, pause_ratio=0.15, mean_pause_s=0.5,
               mean_phrase_s=2.8, hnr_db=12.0, cpps_db=12.0, loudness_dbfs=-25.0, response_latency_s=0.6)
HESITANT = dict(HEALTHY, pause_ratio=0.4)  # past the 0.32 ceiling from the first word
LABORED = dict(HEALTHY, speech_rate_sps=1.8, pause_ratio=0.45, mean_phrase_s=1.0)


def stream(before: dict, after: dict, change: float, end: float = 200.0) -> ev.CueStream:
    cues = [CuesEvent(t=float(t), speech_s=8.0, window_s=16.0, call_speech_s=0.5 * t,
                      **(after if t >= change else before)) for t in range(1, int(end))]
    return ev.CueStream(cues=tuple(cues), duration_s=end)


def job(call: str, onset: float | None, group: str) -> ev.Job:
    return ev.Job(id=call, rate=16000, path=f"{call}.flac", split="tune", caller_channel=1, agent_channel=0,
                  duration_s=200.0, onset_s=onset, expect_critical=onset is not None,
                  forbid_critical=onset is None, condition={"group": group, "negative": "hesitant"
                                                            if group == "hard_negative" else None})


def found() -> list[wt.FileWarnings]:
    cfg = load_config(None, None, user_config=False)
    return wt.collect([(job("hesitant", None, "hard_negative"), stream(HESITANT, HESITANT, 1e9)),
                       (job("labored", 100.0, "labored"), stream(HEALTHY, LABORED, 105.0))], cfg)


def test_a_warning_on_a_healthy_stretch_says_which_limit_raised_it_and_how_long_it_stayed_past():
    hesitant, labored = found()
    [row] = hesitant.rows
    assert row["kind"] == "long_pauses" and row["basis"] == "absolute" and row["baseline"] is None
    assert row["value"] == 0.4 and row["absolute"] == 0.32 and row["held_s"] == 6.0
    # once the caller's baseline holds their pauses, the absolute limit alone no longer counts
    assert row["past_s"] < 60.0 and row["condition"] == "hesitant none"
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
