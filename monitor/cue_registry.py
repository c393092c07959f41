"""Every cue the monitor measures, declared once.

A :class:`Cue` says what the value is (label, unit), which way is trouble, which family of
evidence it belongs to (families count once each in ``possible_emergency``), a healthy caller's
typical value (which grades how far beyond an absolute limit a value lies) and how the report
draws it. Events, the baseline, the rules, the configuration, the store, the report and
``analyze`` read this table; adding a cue is one entry here plus its measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

FAMILIES: tuple[str, ...] = ("tempo", "pausing", "latency", "voice", "loudness", "breathing")
"""Independent families of evidence: speech tempo; pauses and breath groups; response latency;
voice quality; loudness; audible breathing. Distress phrases are a family of their own."""


@dataclass(frozen=True)
class Cue:
    """One cue of the caller's speech, as every part of the monitor sees it."""

    name: str
    """Key in the ``cues`` events and the baseline."""
    label: str
    unit: str
    trouble: str
    """"below": trouble is a lower value; "above": a higher one."""
    family: str
    typical: float | None = None
    """A healthy caller's usual value (None: no such thing, e.g. a level that depends on the line).
    An absolute grade is measured from it (0 here, 1 at the rule's absolute limit). The evaluation
    corpus's healthy calls put the medians near these (tools/population_limits.py: speech rate 3.8,
    pause ratio 0.11, latency 0.67 s, phrases 1.7 s, HNR 9.8 dB); grading from those moved no figure."""
    words: bool = False
    """Measured from the transcript (present only when a recogniser runs)."""
    panel: str | None = None
    """Title of the report's timeline panel that draws it (None: not drawn)."""
    colour: str = "#1f5fa8"
    """Line colour in the report (the caller's blue unless a panel draws two cues)."""
    style: str = "-"
    of_speech: bool = True
    """Measured from what the window takes for the caller's sounds (their speech, its pauses and
    the breaths between), so it says nothing about the caller when that "speech" is a steady tone
    such as mains hum (False: from the turns' timing or the transcript)."""

    @property
    def worse(self) -> str:
        """"low" or "high": the report's wording of :attr:`trouble`."""
        return "low" if self.trouble == "below" else "high"

    @property
    def in_db(self) -> bool:
        """A level in decibels (dB, dBFS): its change from the baseline is a difference in dB (a
        fraction of a dB or dBFS value means nothing: -24 to -34 dBFS is not "-43 %")."""
        return self.unit.startswith("dB")


CUES: tuple[Cue, ...] = (
    Cue("speech_rate_sps", "speech rate", "syll/s", "below", "tempo", 3.5, panel="Speech rate"),
    Cue("articulation_rate_sps", "articulation rate", "syll/s", "below", "tempo", 4.5,
        panel="Speech rate", colour="#7f3fbf", style="--"),
    Cue("pause_ratio", "pause ratio", "", "above", "pausing", 0.15, panel="Pause ratio"),
    Cue("mean_pause_s", "mean pause", "s", "above", "pausing", 0.5),
    Cue("mean_phrase_s", "mean phrase length", "s", "below", "pausing", 2.0, panel="Mean phrase length"),
    Cue("hnr_db", "HNR", "dB", "below", "voice", 10.0, panel="Voice quality", colour="#17becf"),
    Cue("cpps_db", "CPPS", "dB", "below", "voice", None, panel="Voice quality"),
    Cue("loudness_dbfs", "loudness", "dBFS", "below", "loudness", None, panel="Loudness"),
    Cue("response_latency_s", "response latency", "s", "above", "latency", 0.7, of_speech=False),
    Cue("breaths_per_min", "audible breaths", "/min", "above", "breathing", 2.0, panel="Breathing"),
    Cue("paused_breath_share", "pauses holding a breath", "", "above", "breathing", 0.05),
    Cue("mean_breath_s", "mean breath", "s", "above", "breathing", 0.35),
    Cue("coughs_per_min", "coughs", "/min", "above", "breathing", 0.0, panel="Breathing",
        colour="#8c564b", style="--"),
    Cue("words_per_min", "word rate", "words/min", "below", "tempo", 160.0, words=True, of_speech=False),
    Cue("mean_word_gap_s", "mean gap between words", "s", "above", "pausing", 0.1, words=True,
        of_speech=False),
    Cue("long_word_gaps", "long gaps between words", "", "above", "pausing", 0.0, words=True,
        of_speech=False),
)

BY_NAME: Mapping[str, Cue] = MappingProxyType({c.name: c for c in CUES})
ACOUSTIC_CUES: tuple[str, ...] = tuple(c.name for c in CUES if not c.words)
"""Acoustic cues reported once per hop for each channel."""
WORD_CUES: tuple[str, ...] = tuple(c.name for c in CUES if c.words)
"""Word-based cues, present when a transcriber runs (``None`` otherwise)."""
ALL_CUES: tuple[str, ...] = ACOUSTIC_CUES + WORD_CUES
SPEECH_CUES: frozenset[str] = frozenset(c.name for c in CUES if c.of_speech)
"""Cues measured over the window's speech frames (see :attr:`Cue.of_speech`)."""
SPAN_CUES: tuple[str, ...] = tuple(c.name for c in CUES if c.of_speech and not c.words and c.family != "breathing")
"""Cues measured over a span of the caller's speech frames alone (the breath cues count the pauses too)."""


SHOWN_MIN_SPEECH_S = 2.0
"""The least caller speech (seconds) in a cue window whose speech cues are shown, however short
``analysis.window_speech_s`` is (:func:`shown_min_speech_s`)."""


def shown_min_speech_s(window_speech_s: float) -> float:
    """The caller's speech a cue window must hold before the cues measured over that speech
    (:data:`SPEECH_CUES`) are shown as measurements (status, report): half what a window reaches for
    (``analysis.window_speech_s``), at least :data:`SHOWN_MIN_SPEECH_S`. Over less, a rate or a voice
    measure comes from a moment of sound (642 audible breaths a minute over 0.1 s of phrases, an HNR
    of 0 dB with no voiced frame). What the rules judge is theirs to decide (``min_speech_s``)."""
    return max(SHOWN_MIN_SPEECH_S, 0.5 * window_speech_s)


def shown_cues(cues: Mapping[str, object], window_speech_s: float) -> dict[str, object]:
    """A cue window's measures (``CuesEvent.to_dict()``) as shown: its speech cues None (not yet
    measured) while its ``speech_s`` is under :func:`shown_min_speech_s`; the rest as they are."""
    speech = cues.get("speech_s")
    if isinstance(speech, (int, float)) and speech >= shown_min_speech_s(window_speech_s):
        return dict(cues)
    return {k: None if k in SPEECH_CUES else v for k, v in cues.items()}


def cue(name: str) -> Cue:
    """The cue called ``name`` (KeyError if there is none)."""
    return BY_NAME[name]


def panels() -> tuple[tuple[str, tuple[Cue, ...]], ...]:
    """The report's timeline panels in order, each with the cues it draws."""
    order = tuple(dict.fromkeys(c.panel for c in CUES if c.panel is not None))
    return tuple((title, tuple(c for c in CUES if c.panel == title)) for title in order)
