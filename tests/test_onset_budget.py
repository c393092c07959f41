"""tools/onset_budget.py: where the time from the onset of trouble to the critical alert goes."""

from __future__ import annotations

from monitor.config import load_config
from monitor.events import CuesEvent
from tools import evaluate as ev
from tools import onset_budget as ob

from cue_streams import HEALTHY, LABORED, cue_stream, eval_job



def stream(onset: float, end: float) -> ev.CueStream:
    """Healthy until ``onset``, labored from 8 s after it (a window's length)."""
    return cue_stream(HEALTHY, LABORED, onset + 8, end)


def job(onset: float) -> ev.Job:
    return eval_job("c", onset, True, condition={"degrade": "all", "onset": "abrupt", "severity": "severe"})


def test_the_steps_to_a_critical_alert_come_in_order():
    cfg = load_config(None, None, user_config=False)
    b = ob.budget(job(100.0), stream(100.0, 200.0), cfg)
    # the baseline froze on healthy speech, well before the onset
    assert b["base"] < 0 and b["contam"] is False
    # the window is wholly labored 16 s after the onset (its speech began 8 s after it)
    assert b["post"] == 16.0
    # tempo and pausing reach grade 1 together once the cues change; the critical alert follows
    # once their evidence has accumulated: at once for grades this far past their thresholds (half
    # a grade-second each), never before
    assert b["g1 tempo"] == b["g1 pausing"] == b["two"] == 8.0
    assert b["two"] <= b["crit"] <= b["two"] + 5.0
    assert "g1 voice" not in b


def test_a_baseline_that_reaches_past_the_onset_is_marked_contaminated():
    cfg = load_config(None, None, user_config=False)
    b = ob.budget(job(10.0), stream(10.0, 200.0), cfg)
    assert b["base"] > 0 and b["contam"] is True


def test_the_table_has_a_row_per_condition_with_medians():
    cfg = load_config(None, None, user_config=False)
    rows = [(job(100.0), ob.budget(job(100.0), stream(100.0, 200.0), cfg))] * 3
    text = ob.table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["condition", "files", "contam"]
    assert any(line.startswith("degrade=all") and line.split()[1] == "3" for line in lines)
    overall = next(line for line in lines if line.startswith("all "))
    # the baseline froze 39 s before the onset (baseline_max_s, 60 s after the caller's first words),
    # the window was labored 16 s after it
    assert overall.split()[3:5] == ["-39", "16"]


def test_the_short_window_is_filled_and_graded_sooner_than_the_long_one():
    # the short window (3 s of speech) turns labored 4 s after the onset, the long one at 16 s;
    # the short windows of speech rate and pause ratio count
    cfg = load_config(overrides={"rules.slow_speech.short_window": True, "rules.long_pauses.short_window": True},
                      user_config=False)
    cues = [CuesEvent(t=float(t), speech_s=8.0, window_s=16.0, call_speech_s=0.5 * t,
                      short={**(LABORED if t >= 104 else HEALTHY), "speech_s": 3.0, "window_s": 4.0},
                      **(LABORED if t >= 108 else HEALTHY)) for t in range(1, 200)]
    b = ob.budget(job(100.0), ev.CueStream(cues=tuple(cues), duration_s=200.0), cfg)
    assert b["spost"] == 4.0 and b["post"] == 16.0
    assert b["s1"] == 4.0 and b["two"] == 8.0  # the short windows grade first
    assert b["crit"] is not None and b["crit"] < 8.0 + 5.0
