"""The weak voice's short window, with the voice quality beside it (``weak_voice.short_corroborate``).

Two calls of the evaluation corpus's tuning half, rendered by its own machinery
(tools/eval_corpus.py) and replayed through the pipeline: a moderate labored caller whose only
change is the voice (breathier and weaker, an abrupt onset, pink noise at 9.7 dB SNR), and a normal
caller over babble at 9.4 dB, whose short windows read the babble as the caller's speech 6-9 dB
quieter. The loudness's long window lags the labored caller, who says little: at 8 kHz with the
short window they are critical within 30 s of the onset (without it: 34 s after it). The short
window alone makes the healthy caller critical at 8 kHz; with the voice quality's short window
required past its threshold in the same hop (a weak voice that is not breathier too is not
counted), not at either rate.
"""

from __future__ import annotations

import json

import pytest

from conftest import corpus_calls, corpus_results as results

VOICE_ONLY, BABBLE = 1284, 1124  # seeds of the full corpus's first replicate (tuning half: even)
WITHOUT_SHORT = (("rules.weak_voice.short_window", False),)
SHORT_ALONE = (("rules.weak_voice.short_corroborate", []),)


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    return corpus_calls(tmp_path_factory.mktemp("weak_voice_calls"), (VOICE_ONLY, BABBLE))


def test_the_calls_are_the_corpus_conditions(calls):
    labels = {seed: json.loads((calls / f"eval_{seed}.json").read_text()) for seed in (VOICE_ONLY, BABBLE)}
    assert labels[VOICE_ONLY]["condition"]["degrade"] == "voice"
    assert labels[VOICE_ONLY]["condition"]["severity"] == "moderate"
    assert labels[BABBLE]["condition"]["group"] == "normal" and labels[BABBLE]["condition"]["noise"] == "babble"


def test_a_voice_only_labored_caller_is_critical_within_30_s_with_the_short_window(calls):
    before, after = results(calls, WITHOUT_SHORT)[(VOICE_ONLY, 8000)], results(calls)[(VOICE_ONLY, 8000)]
    assert before["time_to_critical_s"] > 30.0
    assert after["time_to_critical_s"] <= 30.0


def test_a_normal_caller_over_babble_is_critical_with_the_short_window_alone_and_not_with_the_voice_beside_it(calls):
    assert results(calls, SHORT_ALONE)[(BABBLE, 8000)]["criticals"] > 0
    for rate in (8000, 16000):
        assert results(calls)[(BABBLE, rate)]["criticals"] == 0
