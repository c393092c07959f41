"""The built-in English distress phrases, by category (the categories are for reading the list)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

DEFAULT_PHRASES_EN: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "breathing": ("i can't breathe", "i can't catch my breath", "short of breath",
                  "hard to breathe", "trouble breathing", "difficulty breathing", "out of breath", "i can hardly breathe",
                  "i can barely breathe", "struggling to breathe", "i can't get enough air", "i can't get air",
                  "not able to breathe", "not breathing", "stopped breathing", "gasping for air", "gasping for breath", "i'm wheezing"),
    "chest": ("my chest hurts", "chest pain", "pain in my chest", "pressure in my chest",
              "tightness in my chest", "my chest is tight", "my chest feels tight"),
    "dizziness": ("i feel dizzy", "i'm dizzy", "dizzy", "light headed", "lightheaded",
                  "the room is spinning", "my head is spinning"),
    "fainting": ("i'm going to faint", "i feel faint", "i'm fainting", "i'm passing out", "going to pass out",
                 "about to pass out", "i'm blacking out", "i'm going to black out", "he fainted", "she fainted",
                 "unconscious"),
    "heart_or_stroke": ("heart attack", "my heart is racing", "having a stroke", "my arm is numb", "numbness in my arm",
                        "i can't feel my arm", "i can't move my arm", "my face is drooping"),
    "dying": ("i'm dying", "he's dying", "she's dying"),
    "help": ("call an ambulance", "i need an ambulance", "call nine one one", "please help me",
             "somebody help me", "call for help", "i need a doctor"),
})
"""Default English list by category. "i need help" (bare or with any short word after it)
is left out on purpose: on a support line every caller says "I need help with my bill"; so
are phrases a support call's words come within the tolerance of: "i'm going to die" (any
"i'm going to ..."), "i'm choking" ("i'm calling"), "i passed out" ("i passed it on"),
"my arm feels numb" ("my arm feels fine"), "i think i'm dying" ("i think it's dying", of a
battery), "he collapsed" ("the server collapsed", "the deal collapsed": no person need be said
for a phrase whose first word is a pronoun), "call nine nine nine" or "call one one two" ("call me on one one two ...", a phone
number as the recognizer writes it). "i'm dying" finds "i think i'm dying" and "i feel like i'm
dying" as well (not "i'm dying to know": ``monitor.transcription.phrases.KEY_WORDS`` lists the
idioms a phrase's last word starts ("please help me with my password", "i need a doctor's note"),
and asks each phrase's key word to be said, so that "i can't
move my appointment" is no "i can't move my arm")."""
