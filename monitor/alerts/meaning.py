"""What each alert means, in the words an agent reads at a glance mid-call, and its kind's name.

The alert's own message gives the measured evidence (speech rate in syll/s, HNR in dB, the
evidence score); these say what the agent would hear. The terminal and the desktop notification
put them above that evidence."""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

MEANINGS: Mapping[str, str] = MappingProxyType({
    "possible_emergency": "the caller may be unwell or in danger: check on them now",
    "slow_speech": "the caller is speaking very slowly",
    "long_pauses": "the caller pauses often, and long, between words",
    "slow_response": "the caller is slow to answer you",
    "short_phrases": "the caller gets out only a few words at a time (short of breath?)",
    "breathy_voice": "the caller's voice sounds breathy or hoarse",
    "weak_voice": "the caller's voice is weak and quiet",
    "audible_breathing": "the caller is breathing audibly, heavily, between words",
})
"""Each alert kind's meaning; a kind missing here is shown without one: ``distress_phrase``, whose
message is the caller's own words already, or a rule added later."""


def meaning(kind: str) -> str | None:
    """What the alert ``kind`` means for the agent, or None when it has no such words."""
    return MEANINGS.get(kind)


def kind_name(kind: str) -> str:
    """The alert ``kind`` as a person reads it (the pages, the desktop notification, a message's
    words): ``possible_emergency`` is "possible emergency", where a screen reader would say each
    underscore. The kind itself stays where it is data: the JSON, the terminal's lines, a page's
    data attributes, the batch table's columns; the console's page has the same as ``kindName``."""
    return str(kind).replace("_", " ")
