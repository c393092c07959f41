"""The built-in English distress phrases, by category (the categories are for reading the list)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

DEFAULT_PHRASES_EN: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "breathing": ("i can't breathe", "i can't catch my breath", "short of breath",
                  "hard to breathe", "trouble breathing", "out of breath"),
    "chest": ("my chest hurts", "chest pain", "pain in my chest", "pressure in my chest",
              "tightness in my chest", "my chest is tight"),
    "dizziness": ("i feel dizzy", "i'm dizzy", "light headed", "lightheaded",
                  "the room is spinning"),
    "fainting": ("i'm going to faint", "i feel faint", "i'm passing out", "going to pass out"),
    "heart_or_stroke": ("heart attack", "having a stroke", "my arm is numb", "i can't feel my arm",
                        "my face is drooping"),
    "help": ("call an ambulance", "i need an ambulance", "call nine one one", "please help me",
             "somebody help me", "call for help", "i need a doctor"),
})
"""Default English list by category. "i need help" (bare or with any short word after it)
is left out on purpose: on a support line every caller says "I need help with my bill"."""
