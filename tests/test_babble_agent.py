"""Babble under the agent's turns, on a call made the way the evaluation corpus makes its calls: the
talk the caller's line carries while the agent speaks is the line's background, not the caller, and
a caller who says little is no longer judged on it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import babble_call
from monitor.config import load_config
from tools import evaluate as ev
from tools.background_talk import gated_frames, label_spans, place_seconds

SEED = 7420
"""A seed the evaluation corpus never holds; a monologue call (the agent talks at length, the
caller answers in a few words), 96 s, babble 15 dB under the caller, no hold."""


@pytest.fixture(scope="module")
def monologue_over_babble(tmp_path_factory) -> tuple[ev.Job, dict]:
    return babble_call(tmp_path_factory.mktemp("babble_agent"), SEED, "monologue", 15.0, hold=False)


def test_the_talk_under_the_agents_turns_is_background_and_the_callers_words_stay(monologue_over_babble):
    job, label = monologue_over_babble
    cfg = load_config(None, user_config=False)
    record = ev.replay_file(job, cfg)[1]
    spans = label_spans(label)
    plain = place_seconds(gated_frames(record, replace(cfg.analysis, voice_background_margin_db=0.0)), spans)
    tested = place_seconds(gated_frames(record, cfg.analysis), spans)  # on by default
    assert plain["agent"] > 2 * plain["voice"]  # without the test, most of the "caller" is babble
    assert tested["agent"] < plain["agent"] / 4
    assert tested["gap"] <= plain["gap"] and tested["inner"] <= plain["inner"]
    assert tested["lost"] == plain["lost"]  # none of the caller's own words go
