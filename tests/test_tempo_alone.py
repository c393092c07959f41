"""The tempo alone with the pauses' support (``possible_emergency.single_support``), on real calls.

Two calls of the evaluation corpus's tuning half, rendered by its own machinery
(tools/eval_corpus.py) and replayed through the pipeline: a severe labored caller whose only change
is tempo (slower syllables, an abrupt onset, white noise), and a naturally slow, healthy caller over
mains hum, whose windows of hum in the pauses read up to 43 % slower than their baseline. With
the tempo family allowed to raise ``possible_emergency`` alone, while the pausing family has moved
3/4 of the way to its threshold too, the labored caller at 8 kHz is critical within 30 s of the
onset (without: 33 s after it) and the slow caller at neither rate.
"""

from __future__ import annotations

import json

import pytest

from conftest import corpus_calls, corpus_results as results

TEMPO_ONLY, SLOW = 1296, 1198  # seeds of the full corpus's first replicate (tuning half: even)
TEMPO_ALONE = (("rules.possible_emergency.single_family", 4.0),
               ("rules.possible_emergency.single_families", ["tempo"]),
               ("rules.possible_emergency.single_support", 0.75))


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    return corpus_calls(tmp_path_factory.mktemp("tempo_calls"), (TEMPO_ONLY, SLOW))


def test_the_calls_are_the_corpus_conditions(calls):
    labels = {seed: json.loads((calls / f"eval_{seed}.json").read_text()) for seed in (TEMPO_ONLY, SLOW)}
    assert labels[TEMPO_ONLY]["condition"]["degrade"] == "tempo"
    assert labels[TEMPO_ONLY]["condition"]["severity"] == "severe"
    assert labels[SLOW]["condition"]["negative"] == "slow" and labels[SLOW]["condition"]["noise"] == "hum"


def test_a_tempo_only_labored_caller_is_critical_within_30_s_with_the_tempo_alone(calls):
    before, after = results(calls)[(TEMPO_ONLY, 8000)], results(calls, TEMPO_ALONE)[(TEMPO_ONLY, 8000)]
    assert before["time_to_critical_s"] > 30.0
    assert after["time_to_critical_s"] <= 30.0


def test_a_naturally_slow_caller_over_hum_is_not_critical_with_the_tempo_alone(calls):
    for rate in (8000, 16000):
        assert results(calls, TEMPO_ALONE)[(SLOW, rate)]["criticals"] == 0
