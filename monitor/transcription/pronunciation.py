"""A rough pronunciation key of an English word, from its spelling: how it sounds, by classes of sounds.

Two words with the same key sound alike to a speech recognizer: ``air``, ``are``, ``err``, ``heir``
and ``ere`` are all ``('ɛr',)``; ``black``, ``blak``, ``plaque`` and ``blag`` are all
``('p', 'l', 'æ', 'k')``. Words whose sounds differ do not share it: ``all`` ``('ɔ', 'l')``, ``at``,
``ac``, ``our``, ``her``, ``there``; ``block`` (another vowel), ``blank`` (a nasal more), ``blow``.

The key is written from the spelling by a short ordered list of letter patterns (:data:`_SOUNDS`,
the first matching at each position wins), after a few silent letters are dropped
(:data:`_SILENT_ONSETS`) and doubled consonant letters are read once. The classes:

* a vowel before an ``r`` is one r-coloured vowel per kind (``ɛr``: air, are, err, her's vowel;
  ``ɪr``: ear, here's vowel; ``ɑr``, ``ɔr``, ``aʊr``, ``aɪr``): a recognizer hears the ``r``
  better than the vowel before it, and English says ``are`` and ``err`` with the vowel of ``air``
  when it does not stress them;
* a voiced stop and its voiceless pair are one sound (``p`` for b and p, ``t`` for d and t, ``k``
  for g, k, hard c, ck, q): what the recognizer most often swaps in a stop;
* other vowels by how a one-syllable word spells them (``æ`` in black, ``eɪ`` in blake and bail,
  ``ɑ`` in block, ``oʊ`` in blow and boat, ...); ``h`` is a sound (``hair``, ``her`` and ``here``
  are other words than ``air``) except in the few words that do not say it (``heir``, ``hour``).

It is made for short words, which English spells most regularly; a long word's key is rougher, and
no matcher needs it to be exact: a key is only compared with another key.
"""

from __future__ import annotations

import re

_SILENT_ONSETS = (("kn", "n"), ("gn", "n"), ("wr", "r"), ("ps", "s"), ("pn", "n"), ("wh", "w"),
                  ("heir", "eir"), ("hour", "our"), ("honest", "onest"), ("honor", "onor"), ("honour", "onour"))
"""Letters a word is spelled with and said without, at its start."""

_SOUNDS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), sound) for pattern, sound in (
    # r-coloured vowels
    (r"(?:ai|ei|ay|ey)re?|are(?=s?$)|ere(?=s?$)|ear(?=[^aeiouy])|[eiuy]r(?![aeiouy])", "ɛr"),
    (r"(?:ea|ee|ie)r", "ɪr"),
    (r"our|ower", "aʊr"),
    (r"(?:oa|oo|o)r|ore(?=s?$)", "ɔr"),
    (r"ire(?=s?$)", "aɪr"),
    (r"ar(?![aeiouy])", "ɑr"),
    # vowels spelled with two letters, or with a silent e after one consonant
    (r"igh", "aɪ"), (r"ai|ay|ei|ey|a(?=[^aeiouy]e$)", "eɪ"), (r"ee|ea|ie|e(?=[^aeiouy]e$)", "i"),
    (r"oo|ew|ue|ui|u(?=[^aeiouy]e$)", "u"), (r"ou", "aʊ"), (r"ow|oa|oe|o(?=[^aeiouy]e$)|o$", "oʊ"),
    (r"au|aw|a(?=l$|lk|lt)", "ɔ"), (r"oi|oy", "ɔɪ"), (r"i(?=[^aeiouy]e$)", "aɪ"),
    # silent or final letters
    (r"(?<=[a-z][^aeiouy])e$|(?<=[aeiouy])gh", ""), (r"(?<=^[^aeiouy])y$", "aɪ"), (r"(?<=.)y$|^[eiy]$", "i"),
    (r"^a$", "ə"),
    # vowels spelled with one letter
    (r"a", "æ"), (r"e", "ɛ"), (r"[iy](?![aeiou])", "ɪ"), (r"o", "ɑ"), (r"u", "ʌ"),
    # consonants
    (r"t?ch", "tʃ"), (r"sh|ti(?=on)", "ʃ"), (r"th", "θ"), (r"ph|f", "f"), (r"v", "v"),
    (r"ng$|n(?=[kg])", "ŋ"), (r"que$|ck|c(?![eiy])|k|q|x|g(?!e$)", "k"), (r"c|s|z", "s"),
    (r"d?g|j", "dʒ"), (r"mb$|m", "m"), (r"b|p", "p"), (r"d|t", "t"),
    (r"h", "h"), (r"w", "w"), (r"y", "j"), (r"l", "l"), (r"n", "n"), (r"r", "r"),
))
"""(letters, sound) in the order tried at each position of a word."""

_VOWEL_SOUNDS = frozenset(sound for _, sound in _SOUNDS if sound and sound[0] in "ɛɪaɔɑiuoeəæʌ")
"""Sounds said twice in a row when a word spells them twice; a consonant sound is said once."""


def sound_key(word: str) -> tuple[str, ...]:
    """The classes of sounds ``word`` (a lower-case token) is said with, in order; a character no
    pattern reads (a digit, a letter of another script) is its own sound."""
    for spelled, said in _SILENT_ONSETS:
        if word.startswith(spelled):
            word = said + word[len(spelled):]
            break
    word = re.sub(r"([^aeiouy])\1", r"\1", word)
    out: list[str] = []
    k = 0
    while k < len(word):
        sound, length = _sound_at(word, k)
        if sound and not (out and out[-1] == sound and sound not in _VOWEL_SOUNDS):
            out.append(sound)
        k += length
    return tuple(out)


def _sound_at(word: str, k: int) -> tuple[str, int]:
    """(sound, letters read) at position ``k`` of ``word``."""
    for pattern, sound in _SOUNDS:
        m = pattern.match(word, k)
        if m and m.end() > k:
            return sound, m.end() - k
    return word[k], 1
