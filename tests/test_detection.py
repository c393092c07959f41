"""Detection on the evaluation corpus's slice: calls the thresholds were not tuned on.

The slice (tools/eval_corpus.py --slice) holds a few calls per condition: severe, moderate and
mild labored callers, normal calls over poor lines, and hard negatives (a naturally slow caller,
a hesitant one, a breathy but healthy voice, one who laughs and coughs). Each is replayed at
16 kHz and at 8 kHz through the replay pipeline, acoustic-only. ``make eval`` measures the full
corpus; these tests keep its headline properties in ``make test``.
"""

from __future__ import annotations

import pytest

from tools import evaluate as ev


@pytest.fixture(scope="module")
def results(eval_slice, tmp_path_factory) -> dict[tuple[str, int], dict]:
    jobs = ev.load_jobs(eval_slice, "all")
    settings = ev.Settings(cache_dir=str(tmp_path_factory.mktemp("cues")))
    return {(r["id"], r["rate"]): r for r in ev.evaluate_jobs(jobs, settings, workers=2)}


def by_condition(results: dict, **want: object) -> list[dict]:
    return [r for r in results.values() if all(r["condition"].get(k) == v for k, v in want.items())]


def test_severe_labored_callers_are_critical_within_30_s_of_the_onset(results):
    severe = by_condition(results, group="labored", severity="severe")
    assert len(severe) >= 4  # an espeak caller and a real one, at both rates
    for r in severe:
        assert r["time_to_critical_s"] is not None and r["time_to_critical_s"] <= 30.0, r["id"]
        assert r["criticals_before_onset"] == 0, r["id"]


def test_a_mild_labored_caller_is_not_critical(results):
    for r in by_condition(results, group="labored", severity="mild"):
        assert r["first_critical_t"] is None, r["id"]


@pytest.mark.parametrize("negative", ["slow", "breathy", "laugh_cough"])
def test_hard_negatives_raise_no_critical(results, negative):
    calls = by_condition(results, negative=negative)
    assert calls
    for r in calls:
        assert r["first_critical_t"] is None, (r["id"], r["rate"])


def test_normal_calls_over_noisy_lines_and_with_holds_raise_no_critical(results):
    calls = by_condition(results, group="normal")
    assert len(calls) >= 6
    for r in calls:
        assert r["first_critical_t"] is None, (r["id"], r["rate"])


def test_a_hesitant_caller_raises_no_critical(results):
    # long pauses while looking for a number, and slow answers: before the caller's baseline
    # exists only absolute limits judge them (response latency over 2.5 s, phrases under 0.5 s)
    for r in by_condition(results, negative="hesitant"):
        assert r["first_critical_t"] is None, (r["id"], r["rate"])


# A known weakness, measured on the full corpus too (moderate callers whose pauses and breaths
# change are critical within 30 s in a quarter to a third of the corpus's files): kept here so
# that a fix shows up as an unexpected pass.

@pytest.mark.xfail(strict=True, reason="known miss: the short moderate pauses-and-breaths call's "
                   "trouble begins 35 s in, before the caller's baseline exists; judged on absolute "
                   "limits only, its pauses and slow answers look like the hesitant caller's, which "
                   "the defaults keep quiet (their response-latency limits were raised for it)")
def test_a_moderate_caller_with_long_pauses_and_breaths_is_critical_within_40_s(results):
    moderate = by_condition(results, group="labored", severity="moderate", degrade="pauses_breaths")
    assert moderate
    for r in moderate:  # within 30 s is the target
        assert r["time_to_critical_s"] is not None and r["time_to_critical_s"] <= 40.0, (r["id"], r["rate"])
