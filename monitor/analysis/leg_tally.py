"""What a leg has carried over a whole call: its speech seconds, when its speech first came and
the level of that speech, counted hop by hop from the frames the cue windows read.

The pipeline reads it as the call goes (and replay at a recording's end) to say what a user's own
setup may have spoiled: the legs the wrong way round (:func:`swapped_legs`, said as
:func:`swapped_message`), a leg too quiet to measure (:func:`too_quiet`); and here too is how a
recording whose two legs carry the same audio is said (:func:`same_message`; its samples tell it:
:mod:`~monitor.capture.same_legs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .frame_features import HOP_S, Frames

OPENER_SHARE = 0.45
"""The agent's leg's share of the call's speech from which, the caller's leg having opened the call,
the legs read as swapped (:func:`swapped_legs`). The share alone does not tell: a labored caller
says less than the agent (the labored_start fixture's agent leg holds 66 % of the speech, wired
right), and a caller on the agent's leg may say less than the agent (some swapped fixtures hold
48 %). Who spoke first does: an agent answers the call; a caller's line noise heard as speech at
the very start (babble) is why the share is asked for as well."""

OPENED_S = 1.0
"""A leg has opened the call once its speech reached this in all: a click or a burst of line noise
heard as speech does not open it."""

SWAP_MIN_SPEECH_S = 10.0
"""Speech on the agent's leg that a silent caller's leg is set against (:func:`swapped_legs`)."""

QUIET_ABOVE_FLOOR_DB = 15.0
"""Speech whose level (the power mean of its frames) lies less than this above the level under
which nothing is speech (``vad.absolute_min_db``) is too quiet to measure: its quieter syllables and
word ends fall under that floor, so speech time shrinks and pauses multiply. Measured on the
deteriorating fixture's first 40 s made quieter: at -20 dB (speech at -48.7 dBFS, 16 dB above the
-65 dBFS floor) 29.6 s of speech of 30.2 and the same 13 pauses; at -24 dB (-52.3 dBFS) 27.0 s and
15; at -30 dB (-57.2 dBFS) 20.4 s and 20."""


@dataclass
class LegTally:
    """One leg's running count; :meth:`add` takes each hop's new frames once."""

    speech_s: float = 0.0
    first_s: float | None = None  # call time its speech first reached OPENED_S in all
    _power: float = 0.0  # sum of its speech frames' mean square
    _frames: int = 0

    def add(self, frames: Frames) -> None:
        """Count ``frames`` (the leg's frames new at this hop, their ``speech`` as the cues read it)."""
        n = int(frames.speech.sum())
        if n and self.first_s is None and self.speech_s + n * HOP_S >= OPENED_S - 1e-9:
            need = int(np.ceil((OPENED_S - self.speech_s) / HOP_S - 1e-9))
            self.first_s = float(frames.t[np.flatnonzero(frames.speech)[max(0, need - 1)]])
        self.speech_s += float(n) * HOP_S
        if n:
            self._power += float(np.sum(np.power(10.0, frames.energy_db[frames.speech] / 10.0, dtype=np.float64)))
            self._frames += n

    @property
    def level_db(self) -> float | None:
        """The power mean of the leg's speech frames, dBFS (None without speech)."""
        return 10.0 * math.log10(self._power / self._frames) if self._frames and self._power > 0 else None


SWAPPED_HEAD = "the call's legs read the wrong way round"
"""What is said first of a call whose legs read the wrong way round (:func:`swapped_message`), and
all that a report picture's title has room for."""

SAME_HEAD = "the call's two legs carry the same audio"
"""What is said first of a recording whose two legs carry the same audio (:func:`same_message`), and
all that a report picture's title has room for."""

TOO_QUIET = "is too quiet to measure"
"""What is said of a leg too quiet to measure, after the leg's name (:func:`quiet_phrase`, whose head
up to here a report picture's title says: :func:`quiet_head`)."""


def swapped_legs(caller: LegTally, agent: LegTally) -> str | None:
    """Why the speech of the call reads as the caller's on the agent's leg, in words (None when it
    does not): the caller's leg silent while the agent's speaks, or the caller's leg having opened
    the call (as an agent answering it does) with the agent's holding :data:`OPENER_SHARE` or more
    of the speech."""
    if caller.speech_s < 1.0:
        if agent.speech_s >= SWAP_MIN_SPEECH_S:
            return f"no speech on the caller's leg, {agent.speech_s:.0f} s on the agent's"
        return None
    total = caller.speech_s + agent.speech_s
    opened = agent.first_s is not None and caller.first_s is not None and caller.first_s < agent.first_s
    if opened and agent.speech_s >= OPENER_SHARE * total:
        return (f"the caller's leg spoke first (its first second of speech by {caller.first_s:.1f} s, as an "
                f"agent answering does) and the agent's leg holds {100 * agent.speech_s / total:.0f} % of the call's speech")
    return None


def swapped_message(why: str, caller: str, agent: str, turn: str) -> str:
    """What to do when the call's speech reads as the caller's on the agent's leg (``why``, from
    :func:`swapped_legs`): ``caller`` and ``agent`` say where each leg was taken from (a recording's
    channel, a live call's source), ``turn`` how to take them the other way round. A warning, not a
    refusal: some calls are mostly the agent's. Begins with :data:`SWAPPED_HEAD`."""
    return f"{SWAPPED_HEAD}: {why} (caller's leg: {caller}, agent's: {agent}): the caller may be on {agent}; if so, {turn}"


def same_message(why: str, caller: str, agent: str, mono: str) -> str:
    """What to do when a recording's two legs carry the same audio (``why``, from
    :meth:`~monitor.capture.same_legs.LegsAlike.same`): ``caller`` and ``agent`` say where each leg
    was taken from, ``mono`` how to score it as mono, the caller's leg alone. A warning, not a
    refusal, as :func:`swapped_message` is. Begins with :data:`SAME_HEAD`."""
    return (f"{SAME_HEAD}: {why} (caller's leg: {caller}, agent's: {agent}): a dual-mono recording, the call "
            f"mixed onto both channels, so the caller's cues hold the agent's voice and the response latency "
            f"cannot be measured; score it as mono: {mono}")


def too_quiet(level_db: float | None, floor_db: float, speech_s: float, min_speech_s: float) -> bool:
    """Whether speech at ``level_db`` lies too near ``floor_db`` to be measured (:data:`QUIET_ABOVE_FLOOR_DB`),
    judged only once the leg holds ``min_speech_s`` of speech (``speech_s``; the least speech a cue's
    measure is shown over: :func:`~monitor.cue_registry.shown_min_speech_s`): over less, what was heard
    as speech is a moment of sound (line noise at a stream's start taken for a syllable before the
    analysis learned its level, 0.2 s at -66 dBFS), no measure of the leg's speech."""
    return level_db is not None and speech_s >= min_speech_s and level_db < floor_db + QUIET_ABOVE_FLOOR_DB


RAISE_RECORDING = "the recording's gain (sox IN OUT gain -n -3)"
"""How a recording's leg too quiet to measure is raised (:func:`quiet_phrase`)."""


def raise_live(source: str | None) -> str:
    """How a live leg too quiet to measure is raised (:func:`quiet_phrase`): the volume of its
    ``source`` (None when not known) in the system's sound settings."""
    return f"the input volume of {source} in the system's sound settings" if source else \
        "its input volume in the system's sound settings"


def quiet_phrase(leg: str, level_db: float, floor_db: float, raise_it: str = RAISE_RECORDING) -> str:
    """What is said of ``leg`` too quiet to measure (its speech at ``level_db``), without the name of
    its call: the part a stored call keeps, its report putting the recording's name before it.
    ``raise_it``: how its level is raised where it comes from (:data:`RAISE_RECORDING`, a live leg's
    :func:`raise_live`). Speech at or under ``floor_db`` (whose frames the power mean can take there)
    is said to be no louder than it, never within a negative margin of it."""
    margin = round(level_db - floor_db)
    near = f"within {margin} dB of" if margin >= 1 else "no louder than"
    return (f"{leg} {TOO_QUIET}: its speech is at {level_db:.0f} dBFS, {near} the {floor_db:.0f} dBFS under "
            f"which nothing is heard as speech, so its quieter syllables are lost (less speech, more and longer "
            f"pauses, slower rates than said); raise its level: {raise_it}")


def quiet_message(name: str, leg: str, level_db: float, floor_db: float) -> str:
    """The one line that says ``leg`` of the recording ``name`` is too quiet to measure (:func:`quiet_phrase`)."""
    return f"{name}: {quiet_phrase(leg, level_db, floor_db)}"


def quiet_head(phrase: str) -> str:
    """The head of a :func:`quiet_phrase` (``the caller's leg is too quiet to measure``): what a report
    picture's title has room for; the whole ``phrase`` if it holds no such head."""
    head, said, _ = phrase.partition(TOO_QUIET)
    return head + said if said else phrase
