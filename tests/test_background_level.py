"""Talk the caller's leg carries while the agent speaks is the line's background, not the caller:
runs no louder than it are background wherever they lie, and the caller's own words stand above it."""

from __future__ import annotations

from functools import partial

import numpy as np

from conftest import speech_runs
from monitor.analysis.cue_windows import background_level_db, background_talk

HOP = 0.01
LEVEL = -25.0
"""The caller's level (dB) in these tracks."""


line = partial(speech_runs, n=3000)
"""The caller leg's energy (dB) and speech mask over 30 s: :func:`conftest.speech_runs`."""


def agent(*turns: tuple[int, int], n: int = 3000) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for a, b in turns:
        out[a:b] = True
    return out


# the agent speaks 0-10 s and 15-25 s; babble 15 dB under the caller runs under both turns and in the
# gap between them; the caller answers at their level at 10-14 s and once more, weakly, at 26-28 s
AGENT = agent((0, 1000), (1500, 2500))
BABBLE = ((100, 400, -40.0), (500, 900, -41.0), (1600, 2000, -40.5), (2100, 2400, -39.5), (1420, 1480, -40.0))
ANSWER = (1000, 1400, -25.0)
WEAK_ANSWER = (2600, 2800, -33.0)


def test_the_background_level_is_that_of_the_faint_talk_heard_while_the_agent_speaks():
    energy, speech = line(*BABBLE, ANSWER)
    level = background_level_db(energy, speech, AGENT, LEVEL, below_db=8.0, min_s=5.0, hop_s=HOP)
    assert level is not None and -41.0 <= level <= -39.5


def test_babble_at_that_level_is_background_in_the_gaps_too_and_the_callers_words_stay():
    energy, speech = line(*BABBLE, ANSWER, WEAK_ANSWER)
    talk = background_talk(energy, speech, AGENT, LEVEL, margin_db=3.0, below_db=8.0, min_s=5.0, hop_s=HOP)
    for a, b, _ in BABBLE:
        assert talk[a:b].all()  # under the agent's turns and in the gap between them
    assert not talk[1000:1400].any()  # the caller's answer
    assert not talk[2600:2800].any()  # a weak answer 8 dB under the caller, 7 dB above the babble


def test_the_callers_own_words_over_the_agent_do_not_set_the_background():
    # the caller talks over the agent at their own level for 6 s: no faint talk, no background
    energy, speech = line((200, 800, -24.0), ANSWER)
    assert background_level_db(energy, speech, AGENT, LEVEL, below_db=8.0, min_s=5.0, hop_s=HOP) is None
    talk = background_talk(energy, speech, AGENT, LEVEL, margin_db=3.0, below_db=8.0, min_s=5.0, hop_s=HOP)
    assert not talk.any()


def test_a_few_faint_words_over_the_agent_are_not_a_line_that_carries_talk():
    energy, speech = line((200, 400, -40.0), ANSWER, (2600, 2800, -38.0))  # 2 s under the agent
    talk = background_talk(energy, speech, AGENT, LEVEL, margin_db=3.0, below_db=8.0, min_s=5.0, hop_s=HOP)
    assert not talk.any()


def test_a_run_near_the_callers_level_is_never_background_however_loud_the_babble():
    # babble within 8 dB of the caller: nothing under the agent is faint enough to be the background
    energy, speech = line((100, 900, -30.0), (1600, 2400, -31.0), ANSWER)
    talk = background_talk(energy, speech, AGENT, LEVEL, margin_db=3.0, below_db=8.0, min_s=5.0, hop_s=HOP)
    assert not talk.any()


def test_a_margin_of_zero_turns_the_test_off():
    energy, speech = line(*BABBLE, ANSWER)
    assert not background_talk(energy, speech, AGENT, LEVEL, margin_db=0.0, below_db=8.0, min_s=5.0,
                               hop_s=HOP).any()


def test_the_callers_quiet_word_at_the_edge_of_their_clear_ones_stays_theirs():
    # a quiet word at the babble's level 0.3 s after the caller's answer, outside the agent's turns
    energy, speech = line(*BABBLE[:4], ANSWER, (1430, 1470, -40.0))
    kwargs = dict(margin_db=3.0, below_db=8.0, min_s=5.0, hop_s=HOP)
    assert background_talk(energy, speech, AGENT, LEVEL, **kwargs)[1430:1470].all()  # by level alone
    talk = background_talk(energy, speech, AGENT, LEVEL, near_s=0.5, **kwargs)
    assert not talk[1430:1470].any()
    assert talk[500:900].all()  # babble under the agent stays background
