"""Distress phrases found in a transcript, tolerant of recognition errors.

Text and phrases are normalised the same way (Unicode NFKC, case-folded,
punctuation removed, optional per-language expansions such as English
``can't`` -> ``can not``). A phrase matches a stretch of the transcript when
the word-level edit distance between them, as a fraction of the phrase's size,
is at most ``max_distance``:

* words are compared by their characters after NFD decomposition (so a Korean
  syllable block is compared jamo by jamo): substituting ``breed`` for
  ``breathe`` costs its normalised Levenshtein distance, plus
  :data:`ONSET_PENALTY` when the words start differently (recognition errors
  mostly keep a word's onset; ``read`` for ``breathe`` is not the same slip);
* each phrase word weighs its length in characters, so a missing ``i`` costs
  less than a wrong ``breathe``; an extra word inside the stretch costs half
  its length; a phrase word may match two or three transcript words, or two phrase
  words one transcript word, when the joined words are (nearly) the same word
  (``light headed`` ~ ``lightheaded``, ``아파 요`` ~ ``아파요``, ``도와 주 세요`` ~ ``도와주세요``); a
  phrase's negation word only as a negation word and its ending that join into one (``없어 요``).

With a language's :class:`KeyWords` (English and Korean, :data:`KEY_WORDS`), a phrase's key word (its
last word that is no function word: ``arm``, ``air``, ``breath``) is never missing nor replaced by
another word, only by a slip of it (:func:`key_slip`), nor are the words kept like it (``able``,
``room``, ``head``); a short key word, which too many words share a first letter and half the
letters with (``air``, ``black``), is slipped only into a word that sounds like it (``are``,
``heir``; ``plaque``: :func:`~monitor.transcription.pronunciation.sound_key`; not ``all``, ``at``,
``block``, ``blank``) or, last in an utterance, a function word the recognizer writes for it
(``i'm gasping for a``), never right after a word that makes it another thing (``the air``, ``cold
air``, ``on air``, ``a black out``: there only the key word itself, and not in a closing phrase), and a phrase of such a key word and everyday words is found
only where it closes what is said (``i can't get air``, not ``i can't get air in my tyres``); a
word that only says how much stands for another (``any`` for ``enough``);
a phrase followed by one of its idiom continuations is none (``i'm dying to know``, ``i'm dying here
with this issue``, ``she nearly fainted when she saw the price``, not ``i'm dying for real``, ``she
fainted when she saw the blood``, ``i'm dying with this problem with my heart``), nor is a phrase opening with ``i`` where a device takes the caller's place (``the screen is
blacking out``).

The search is Sellers' approximate substring matching on word sequences: the
best stretch for each phrase anywhere in the text. No language is assumed:
Korean, English or any other list works the same way; only the default phrase
list and the per-language tables (:data:`EXPANSIONS`, :data:`NEGATION`, :data:`KEY_WORDS`) are English,
but for Korean's negation and the Korean model's digit words.

Tolerance is for recognition slips, never for a change of meaning: with a language's
:class:`Negation` (English and Korean, :data:`NEGATION`), a negation word (``not``, ``no``,
``never``, ...; ``can't`` is ``can not`` once expanded) is matched only by a negation word:

* a phrase that carries a negation (``i can't breathe``) matches only a stretch where each
  of its negation words meets one (``i can breathe`` is no slip of it, however close), and not one
  that negates a stop of what follows (``he hasn't stopped breathing`` is no ``not breathing``);
* a negation word of the text is never inside a stretch of a phrase that carries none
  (``my chest does not hurt`` is no ``my chest hurts``), and such a phrase does not match a
  stretch in a negation's scope (:class:`Negation`): a negation word before it with only words it
  reaches over between, however many (``no chest pain``, ``i don't have any more chest pain``,
  ``no longer short of breath``, ``i'm not out of breath``). Any other word between is what the
  negation negates (``i can't breathe call an ambulance``, ``i'm not sure chest pain``), and
  ``not really`` opening an utterance is an answer (``not really, chest pain``; ``i don't really
  have chest pain`` is a denial);
  a word that starts a clause of its own (a subject, ``but``) ends the scope (``no, my chest
  hurts``, ``i'm not sure but my chest hurts``), and so do a new final result of the recognizer and
  a pause of :data:`PAUSE_S` between words (the punctuation the recognizer does not write). ``no``
  followed by a word that starts a clause is an answer, not a negation (``no, call an
  ambulance``, ``no, stopped breathing``), and a negation in a sentence about a first time negates nothing now (``i never had
  chest pain before``, ``... like this``). This is the window-and-terminator scope of the NegEx
  algorithm (Chapman et al., 2001), on the recognizer's words, which carry no punctuation; where
  the words cannot tell, the phrase is found: a false alarm costs less than a missed cry for help.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from operator import itemgetter
from types import MappingProxyType
from typing import Collection, Iterable, Mapping, Sequence

from ..config import base_language
from ..config.default_phrases import DEFAULT_PHRASES_EN
from ..events import Word, WordsEvent
from .pronunciation import sound_key

ONSET_PENALTY = 0.25
INSERT_COST = 0.5
MAX_JOIN_DISTANCE = 0.2
"""Two words stand for one only when their concatenation is (nearly) that word."""
MAX_JOIN_PIECES = 3
"""A phrase word may be heard as up to this many transcript words (the Korean model writes
``도와주세요`` as ``도와 주 세요``)."""
DEFAULT_MAX_DISTANCE = 0.3

EXPANSIONS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "en": MappingProxyType({
        "can't": "can not", "cant": "can not", "cannot": "can not", "won't": "will not",
        "don't": "do not", "dont": "do not", "doesn't": "does not", "isn't": "is not",
        "i'm": "i am", "im": "i am", "it's": "it is", "i've": "i have", "ive": "i have",
        "didn't": "did not", "didnt": "did not", "haven't": "have not", "havent": "have not",
        "hasn't": "has not", "hasnt": "has not", "hadn't": "had not", "aren't": "are not",
        "arent": "are not", "wasn't": "was not", "wasnt": "was not", "weren't": "were not",
        "couldn't": "could not", "couldnt": "could not", "wouldn't": "would not",
        "shouldn't": "should not", "ain't": "is not", "isnt": "is not", "doesnt": "does not",
        "i'll": "i will", "i'd": "i would", "there's": "there is", "that's": "that is",
        "gonna": "going to", "wanna": "want to", "911": "nine one one", "999": "nine nine nine",
        "112": "one one two", "lightheaded": "light headed", "unable": "not able",
    }),
    # the Korean model writes a digit it hears as a Sino-Korean word in brackets ("[일] [일] [구]" for
    # 119, beside "[1] [1] [9]"): a phrase "119" is found in either
    "ko": MappingProxyType({
        "[공]": "0", "[영]": "0", "[일]": "1", "[이]": "2", "[삼]": "3", "[사]": "4", "[오]": "5",
        "[육]": "6", "[칠]": "7", "[팔]": "8", "[구]": "9",
    }),
})
"""Per-language token expansions applied to text and phrases alike; a key may be a whole
whitespace word with its punctuation (the Korean model's ``[일]``), which the word's letters alone
(``일``, "work" or "day") are not."""


UNSPACED: frozenset[str] = frozenset({"ko"})
"""Languages whose recognizer writes words apart and together otherwise than a phrase is spaced
(the Korean model's ``숨이차 요``, ``가슴아파 요`` for ``숨이 차요``, ``가슴이 아파요``): a phrase of
several words without a negation is also searched for written as one word, which the recognizer's
pieces may join (:data:`MAX_JOIN_PIECES`) or slip (its first letter kept)."""


PAUSE_S = 0.3
"""A pause this long between two words ends a negation's reach: the comma (or full stop) the
recognizer does not write ("no ... chest pain" is an answer and a complaint)."""


@dataclass(frozen=True)
class Negation:
    """How a language negates, in normalised tokens (after :data:`EXPANSIONS`).

    ``words``: the negation words. A negation word negates a stretch starting after it when only
    ``carriers`` come between, however many (``have``, ``any``, ``more``, ``kind``, ``really``,
    ``longer``: words a negation reaches over to what it negates); any other word between is what
    it negates (``i can't breathe call an ambulance``), and a word that starts a clause of its own
    (``scope_ends``: subjects, conjunctions) ends its reach, as does the start of a new utterance or
    a pause (the matcher's ``breaks``).

    A negation word opens no scope at all when it is an answer (``answers``: ``no``) followed by a
    word that starts a clause after one (``after_answer``: ``no call an ambulance``), when it opens
    an utterance with the rest of an answer (``answer_openings``: ``not really chest pain``), or when its
    utterance, within ``first_time_reach`` words after it, speaks of a first time
    (``first_time``: ``i never had chest pain before``, ``... like this``, ``... this bad``,
    ``... until now``).

    ``ceasing``: words of stopping (``stopped``, ``quit``). A negation word before one denies the
    stop, not what follows it (``he hasn't stopped breathing`` is breathing): it is no phrase's
    negation word with such a word between it and the phrase's next word.

    A language that negates after the verb too (Korean: ``아프지 않아요``, "it does not hurt")
    names the words that negate what was just said (``after``), and the ``links`` that may stand
    between (``지``): a stretch followed by them is negated, and by the ``after_linked`` ones past a
    link only (``쉬 지 못 해요``; ``아파 요 못 참 겠어요`` is a new clause); ``before`` then names the negation words
    that negate what follows them (``안``, ``못``; None: every one of ``words``). A negation written onto the word it
    negates (``prefixes``: the Korean model's ``못쉬``, "cannot breathe") is split from it
    (:meth:`split`), but in words that only begin with its letters (``prefixed_words``: ``못생긴``,
    ``못지않``)."""

    words: frozenset[str] = field(default_factory=frozenset)
    scope_ends: frozenset[str] = field(default_factory=frozenset)
    carriers: frozenset[str] = field(default_factory=frozenset)
    answers: frozenset[str] = field(default_factory=frozenset)
    after_answer: frozenset[str] = field(default_factory=frozenset)
    answer_openings: tuple[tuple[str, ...], ...] = ()
    first_time: tuple[tuple[str, ...], ...] = ()
    first_time_reach: int = 8
    ceasing: frozenset[str] = field(default_factory=frozenset)
    before: frozenset[str] | None = None
    after: frozenset[str] = field(default_factory=frozenset)
    after_linked: frozenset[str] = field(default_factory=frozenset)
    links: frozenset[str] = field(default_factory=frozenset)
    prefixes: tuple[str, ...] = ()
    prefixed_words: tuple[str, ...] = ()

    def split(self, tokens: Sequence[str], origin: Sequence[int]) -> tuple[list[str], list[int]]:
        """``tokens`` (and the whitespace word each came from) with a negation prefix split from
        the word it is written onto (``못쉬`` -> ``못 쉬``)."""
        out: list[str] = []
        came: list[int] = []
        for tok, at in zip(tokens, origin):
            pre = next((p for p in self.prefixes if tok.startswith(p) and len(tok) > len(p)), None)
            pieces = [pre, tok[len(pre):]] if pre and not tok.startswith(self.prefixed_words) else [tok]
            out.extend(pieces)
            came.extend([at] * len(pieces))
        return out, came

    def negated_ends(self, tokens: Sequence[str], breaks: Sequence[bool]) -> list[bool]:
        """For each end ``j`` of a stretch (0 to ``len(tokens)``), whether what follows it within its
        utterance, past ``links``, is a word that negates it (``after``: ``아프 지 않아요``)."""
        out = []
        for j in range(len(tokens) + 1):
            k = j
            while k < len(tokens) and tokens[k] in self.links:
                k += 1
            linked = k > j or (j > 0 and tokens[j - 1] in self.links)  # a stretch may end with its link
            negates = k < len(tokens) and (tokens[k] in self.after or (linked and tokens[k] in self.after_linked))
            out.append(negates and not any(breaks[j:k + 1]))
        return out

    def negated_starts(self, tokens: Sequence[str], breaks: Sequence[bool] | None = None,
                       dropped: int = 0) -> list[bool]:
        """For each token, whether a stretch starting at it lies in a negation's scope.

        ``breaks[j]``: a new utterance or a pause begins at token ``j``. ``dropped``: how many words
        before the stretch may be phrase words it leaves out (``i'm not out of breath`` holds
        ``of breath``, short of its ``out``), passed over as carriers."""
        cut = list(breaks) if breaks is not None else [False] * len(tokens)
        opens = [self._opens_scope(tokens, cut, k) for k in range(len(tokens))]
        return [self._in_scope(tokens, cut, opens, j, dropped) for j in range(len(tokens))]

    def _opens_scope(self, tokens: Sequence[str], cut: Sequence[bool], k: int) -> bool:
        """Whether token ``k`` is a negation word that negates what follows it."""
        if tokens[k] not in (self.words if self.before is None else self.before):
            return False
        nxt = k + 1
        if tokens[k] in self.answers and nxt < len(tokens) and not cut[nxt] and tokens[nxt] in self.after_answer:
            return False
        if (k == 0 or cut[k]) and self._answer_opens(tokens, cut, k):
            return False
        return not self._first_time_follows(tokens, cut, k)

    def _answer_opens(self, tokens: Sequence[str], cut: Sequence[bool], k: int) -> bool:
        """Whether an answer (``not really``) is said from token ``k`` on, within one utterance."""
        return any(tuple(tokens[k:k + len(seq)]) == seq and not any(cut[k + 1:k + len(seq)])
                   for seq in self.answer_openings)

    def _first_time_follows(self, tokens: Sequence[str], cut: Sequence[bool], k: int) -> bool:
        end = k + 1
        while end < len(tokens) and end <= k + self.first_time_reach and not cut[end]:
            end += 1
        rest = tuple(tokens[k + 1:end])
        return any(rest[i:i + len(seq)] == seq for seq in self.first_time for i in range(len(rest)))

    def _in_scope(self, tokens: Sequence[str], cut: Sequence[bool], opens: Sequence[bool], j: int,
                  dropped: int) -> bool:
        if tokens[j] in self.scope_ends:
            return False
        for k in range(j - 1, -1, -1):
            if cut[k + 1] or tokens[k] in self.scope_ends:
                return False
            if tokens[k] in self.words:
                return opens[k]
            if tokens[k] not in self.carriers:
                if dropped == 0:
                    return False  # what an earlier negation negates, not this stretch
                dropped -= 1
        return False


NO_NEGATION = Negation()
"""A language without a negation table: negation words are words like any other."""

_CEASING_EN = frozenset({"stop", "stops", "stopped", "stopping", "quit", "quits", "ceased", "ceases"})
"""English words of ceasing: a negation before one denies the stop (``he hasn't stopped breathing``);
``no`` before one is an answer (``is he breathing? no, stopped breathing``)."""

NEGATION: Mapping[str, Negation] = MappingProxyType({
    "en": Negation(
        words=frozenset({"not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without"}),
        scope_ends=frozenset({
            "i", "me", "my", "you", "your", "he", "him", "his", "she", "her", "it", "its", "we", "us", "our",
            "they", "them", "their", "there", "this", "that", "someone", "somebody", "please",
            "but", "because", "cause", "so", "though", "although", "however", "yet", "except", "now"}),
        carriers=frozenset({
            "a", "an", "the", "any", "some", "much", "more", "even", "ever", "very",
            "am", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did",
            "have", "has", "had", "having", "get", "got", "getting", "feel", "feels", "feeling", "felt",
            "need", "needs", "needed", "going", "to", "of", "in", "with", "from", "suffering", "experiencing",
            "kind", "kinds", "sort", "type", "really", "actually", "longer", "currently", "usually"}),
        answers=frozenset({"no"}),
        answer_openings=(("not", "really"),),
        after_answer=frozenset({
            "call", "get", "send", "help", "hurry", "come", "wait", "listen", "please", "and", "oh",
            "god", "yes", "just", "now", "so", "but", "i", "my", "it", "its", "this", "that", "there"}) | _CEASING_EN,
        first_time=(("before",), ("like", "this"), ("like", "that"), ("until", "now"), ("till", "now"),
                    ("but", "now"), ("now", "i", "do"), ("now", "it", "does"),
                    *((degree, how) for degree in ("this", "that", "so", "as")
                      for how in ("bad", "badly", "much", "strong", "severe", "intense", "sharp", "heavy"))),
        ceasing=_CEASING_EN),
    # Korean negates before the verb (안 아파요, 못 쉬겠어요; the model also writes 못쉬), after it
    # (아프 지 않아요, 쉬 지 못해요) and by the verb of absence (쉴 수 가 없어요); 아니 ("no") is an
    # answer, which negates nothing said after it (아니 가슴 이 아파 요)
    "ko": Negation(
        words=frozenset({
            "안", "못", "않", "않아", "않아요", "않습니다", "않았", "않았어요", "않는", "않고", "않은",
            "없", "없어", "없어요", "없습니다", "없었", "없어서", "없고", "없는"}),
        before=frozenset({"안", "못"}),
        after=frozenset({"않", "않아", "않아요", "않습니다", "않았", "않았어요", "않는", "않고", "않은"}),
        after_linked=frozenset({"못"}),
        links=frozenset({"지", "지는", "진", "지도", "지가", "질"}),
        prefixes=("못",),
        prefixed_words=("못생", "못지", "못마땅", "못난", "못나", "못된", "못되", "못돼", "못됐", "못됨", "못자리",
                        "못자국", "못질", "못대가리", "못총", "못골", "못정", "못박", "못가진자", "못갖춘", "못친소",
                        "못캠", "못미")),
})
"""Per-language negation (beside :data:`EXPANSIONS`, whose contractions it reads expanded)."""


Continuation = tuple[str | frozenset[str] | None, ...]
"""Words that may follow a phrase, in order: each one word, any of a set of words, or (None) any word;
the last may be :data:`SAID_LAST`."""

SAID_LAST = "<said last>"
"""The end of a continuation that is the whole of what follows the phrase, to a pause or the end of the
utterance (``i'm dying here with this issue``; ``i'm dying with this problem with my heart`` goes on)."""


def _continues(following: Sequence[str], seq: Continuation) -> bool:
    """Whether the words ``following`` begin with the continuation ``seq`` (are it, when it ends in
    :data:`SAID_LAST`)."""
    if seq and seq[-1] == SAID_LAST:
        return len(following) == len(seq) - 1 and _continues(following, seq[:-1])
    return len(following) >= len(seq) and all(
        slot is None or (word == slot if isinstance(slot, str) else word in slot) for word, slot in zip(following, seq))


@dataclass(frozen=True)
class KeyWords:
    """Which word of a phrase carries its meaning, in normalised tokens (after :data:`EXPANSIONS`).

    A phrase's key word is its last word outside ``function_words`` (``arm`` of ``i can't move my
    arm``, ``air`` of ``i can't get enough air``). It is never missing from a stretch nor replaced
    by another word (``i can't move my appointment``, ``i can't get enough signal``): only the word
    itself or a slip of it (:func:`key_slip`: ``breed`` for ``breathe``) matches it. ``idioms``: a
    phrase ending in one of these words is no distress when the words said next (before a pause or
    the end of the utterance) begin with one of its idiom continuations (``i'm dying to know``,
    ``i'm passing out flyers``, ``please help me with my password``, ``i'm dying here with this
    issue``, ``she nearly fainted when she saw the price``). A continuation is a word
    sequence that cannot start a complaint, never a function word alone: ``i'm passing out the pain
    is too much``, ``i'm dying for real``, ``please help me with my husband`` are distress.

    ``sounded``: key words too short for :func:`key_slip`, which lets ``all``, ``at`` and ``ac`` stand
    for ``air`` and ``blank``, ``block`` and ``blow`` for ``black``: a word stands for one only when it
    sounds like it (the same :func:`~monitor.transcription.pronunciation.sound_key`: ``are``, ``err``,
    ``heir`` for ``air``; ``blak``, ``plaque`` for ``black``), never right after one of the
    ``modifiers``, words that make it another thing (``the air``, ``my air``, ``cold air``: the air
    conditioning's; ``on air``; ``a black out``: a power cut), where only the key word itself stands
    for it, and not in a closing phrase. ``dangling``: function words and a
    hesitation (``a``, ``and``, ``are``, ``err``) the recognizer writes for a short word it did not make
    out; one stands for a sounded key only where it ends an utterance, which it seldom does
    (``i'm gasping for a``, ``i can't get enough are``); inside one it is itself (``i can't get a
    refund``, ``i can't get are account to load``).

    A phrase of a sounded key word and otherwise function words and ``everyday`` ones (``get``,
    ``going``: ``i can't get air``, ``i'm going to black out``) says what a support caller says as
    well (``i can't get air in my tyres``, ``i'm going to black out the dates``): it is found only
    where it closes what is said, with no word between its key word and its particle (``black it
    out``) and, after it and any ``trailing`` words (``i can't get air in``), the end of the
    utterance, a pause or one of the ``closings`` (:data:`Continuation`, a word of it may be any of a
    set or any word): another clause (``i can't get air my heart is racing``, ``... he's turning
    blue``), a word of when (``i'm going to black out any second``), the body (``... into my
    lungs``).

    ``particles``: a phrase's last word that is one of these, right after its key word, is part of
    it (a phrasal verb: ``pass out``, ``blacking out``) and must be said as it is (``going to pass
    on that`` is no ``going to pass out``). ``no_slips``: words that are other words, not slips of a
    key word (``hearted`` of ``headed``: ``light hearted``).

    ``kept``: words kept like a key word wherever a phrase has them (``able`` of ``not able to
    breathe``: ``not hard to breathe`` is no slip of it).

    ``devices``: what a support caller says goes wrong (``screen``, ``phone``): a phrase that opens
    with a speaker (``speakers``: ``i``) is none where a device is said in the speaker's place: as the
    stretch's first or second word or the word right before it, followed by one of the ``linking`` words
    (``my phone keeps blacking out``, ``the screen is blacking out``) or written with its ``s``
    (``the screen's blacking out``); never when the speaker opens the stretch (``my phone i'm
    blacking out``) nor before another word (``i'm on the phone can't breathe``).

    ``quantifiers``: words that only say how much (``enough``, ``any``, ``much``): a phrase's one is
    heard as any other at no cost (``i can't get any air`` is ``i can't get enough air``)."""

    function_words: frozenset[str] = field(default_factory=frozenset)
    idioms: Mapping[str, tuple[Continuation, ...]] = field(default_factory=lambda: MappingProxyType({}))
    particles: frozenset[str] = field(default_factory=frozenset)
    no_slips: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    quantifiers: frozenset[str] = field(default_factory=frozenset)
    kept: frozenset[str] = field(default_factory=frozenset)
    devices: frozenset[str] = field(default_factory=frozenset)
    speakers: frozenset[str] = field(default_factory=frozenset)
    linking: frozenset[str] = field(default_factory=frozenset)
    sounded: frozenset[str] = field(default_factory=frozenset)
    dangling: frozenset[str] = field(default_factory=frozenset)
    modifiers: frozenset[str] = field(default_factory=frozenset)
    everyday: frozenset[str] = field(default_factory=frozenset)
    trailing: frozenset[str] = field(default_factory=frozenset)
    closings: tuple[Continuation, ...] = ()

    def heard_as(self, key: str, tokens: Sequence[str], cut: Sequence[bool], j: int, closing: bool = False,
                 known: "WordDistances | None" = None) -> bool:
        """Whether token ``j`` of ``tokens`` (``cut``: where an utterance or a pause begins) may
        stand for the key word ``key``: a slip of it (:func:`key_slip`) or, for a ``sounded`` key, a
        word that sounds like it (:func:`sound_key`) or a ``dangling`` word that ends its utterance,
        never right after one of the ``modifiers``; the key word itself is taken there too but in a
        ``closing`` phrase (:meth:`closing`: ``gasping for the air`` is ``gasping for air``, ``i
        can't get the air`` no ``i can't get air``); the sound keys from ``known`` if given."""
        heard = tokens[j]
        if key not in self.sounded:
            return key_slip(key, heard)
        if j > 0 and not cut[j] and tokens[j - 1] in self.modifiers:
            return heard == key and not closing
        if heard in self.dangling:
            return j + 1 == len(tokens) or cut[j + 1]
        key_of = known.sounds if known is not None else sound_key
        return key_of(heard) == key_of(key)

    def distance(self, word: str, heard: str, limit: float = 1.0, known: WordDistances | None = None) -> float:
        """:func:`word_distance` (with ``limit``; from ``known`` if given), but none between two quantifiers."""
        if word in self.quantifiers and heard in self.quantifiers:
            return 0.0
        return known.within(word, heard, limit) if known is not None else word_distance(word, heard, limit)

    def kept_at(self, ptoks: Sequence[str]) -> frozenset[int]:
        """Indices of the phrase's words kept like its key word (the key word among them)."""
        key = self.key(ptoks)
        return frozenset(i for i, t in enumerate(ptoks) if i == key or t in self.kept)

    def key(self, ptoks: Sequence[str]) -> int | None:
        """Index of the phrase's key word; None without a table or when all are function words."""
        if not self.function_words:
            return None
        return next((i for i in range(len(ptoks) - 1, -1, -1) if ptoks[i] not in self.function_words), None)

    def particle(self, ptoks: Sequence[str]) -> int | None:
        """Index of the phrase's particle (its last word, right after its key word), or None."""
        last = len(ptoks) - 1
        return last if last > 0 and ptoks[last] in self.particles and self.key(ptoks) == last - 1 else None

    def idiom(self, ptoks: Sequence[str], following: Sequence[str]) -> bool:
        """Whether the phrase followed by the words ``following`` (up to a pause) is an idiom rather
        than distress."""
        return any(_continues(following, seq) for seq in self.idioms.get(ptoks[-1], ()))

    def closing(self, ptoks: Sequence[str]) -> bool:
        """Whether the phrase is found only where it closes what is said: its key word is
        ``sounded`` and its other words are function words or ``everyday`` ones."""
        key = self.key(ptoks)
        return key is not None and ptoks[key] in self.sounded and all(
            t in self.function_words or t in self.everyday for i, t in enumerate(ptoks) if i != key)

    def closes(self, following: Sequence[str]) -> bool:
        """Whether the words ``following`` a closing phrase (up to a pause) leave it closed: none, or
        after any ``trailing`` words one of the ``closings``."""
        k = 0
        while k < len(following) and following[k] in self.trailing:
            k += 1
        return k == len(following) or any(_continues(following[k:], seq) for seq in self.closings)

    def device_said(self, ptoks: Sequence[str], tokens: Sequence[str], cut: Sequence[bool], a: int) -> bool:
        """Whether a device is said in the place of the phrase's opening speaker, for a stretch of
        ``tokens`` starting at ``a``."""
        if ptoks[0] not in self.speakers or a >= len(tokens) or tokens[a] in self.speakers:
            return False
        for d in (a - 1, a, a + 1)[0 if a > 0 and not cut[a] else 1:]:
            if d >= len(tokens):
                break
            if tokens[d] in self.devices:
                return d + 1 < len(tokens) and tokens[d + 1] in self.linking
            if tokens[d].endswith("s") and tokens[d][:-1] in self.devices:
                return True
        return False


NO_KEY_WORDS = KeyWords()
"""A language without a key-word table: every phrase word may be a slip of the recognizer."""

_HANDED_OUT = ("flyers", "fliers", "leaflets", "papers", "forms", "samples", "copies", "cards", "tickets", "names",
               "invitations", "brochures", "handouts", "pamphlets", "paperwork", "documents")
"""What is passed or blacked out when nobody is passing out."""

_ELATED = ("excitement", "joy", "happiness", "delight", "anticipation", "love", "success")
"""What makes one dizzy or one's heart race when nothing is wrong."""

_SUPPORT_THINGS = ("password", "account", "bill", "billing", "invoice", "router", "modem", "internet", "wifi",
                   "connection", "phone", "order", "payment", "login", "email", "app", "settings", "subscription",
                   "booking", "card", "computer", "laptop", "printer", "form", "application", "refund",
                   "contract", "plan", "package", "delivery", "tv", "remote", "setup", "problem", "issue",
                   "question", "homework", "project", "code")
"""What a support caller asks to be helped with (``please help me with my password``)."""

_WITH_SUPPORT_THING: Continuation = (
    "with", frozenset({"my", "the", "this", "our", "a", "an", "your"}), frozenset(_SUPPORT_THINGS))
"""A support caller's trouble after a phrase (``please help me with my password``, ``i'm dying here
with this issue``: said last, as ``i'm dying with this problem with my heart`` and ``he's dying with
the phone in his hand`` are not)."""

_BILLED = ("bill", "bills", "invoice", "charge", "charges", "claim", "receipt", "fee", "fees", "statement")
"""What a caller is charged on (``an ambulance bill``)."""

_PRICED = frozenset(_BILLED + ("price", "prices", "cost", "costs", "quote", "total", "estimate"))
"""What a price shock is about (``i nearly fainted when i saw the bill``); never ``amount``, said of blood
too (``she fainted when she saw the amount of blood``)."""

_PAPERWORK = ("charges", "emails", "options", "numbers", "plans", "bills", "fees", "questions", "forms", "rules",
              "passwords", "settings", "menus", "steps", "details", "prices", "offers", "codes", "updates", "terms")
"""What a support caller's head spins with (``my head is spinning with all these charges``)."""

_SPUN_BY = (("with", "all", "these"), ("with", "all", "those"), ("with", "all", "the"), ("with", "these"),
            ("with", "those"), ("from", "all", "these"), ("from", "all", "those"), ("from", "all", "the"),
            ("with", "so", "many"), ("from", "so", "many"))
"""How a head spinning with paperwork goes on before the paperwork is named; what follows must be
:data:`_PAPERWORK`: ``the room is spinning from all these pills`` is a cry for help."""

_DEVICES = ("screen", "monitor", "display", "phone", "tv", "television", "computer", "laptop", "tablet", "app",
            "router", "modem", "printer", "battery", "signal", "wifi", "internet", "connection", "picture",
            "camera", "system", "website", "page", "device", "console", "speaker", "headset", "power")
"""What a support caller says goes wrong (``the screen is blacking out``)."""

_WHOSE = frozenset({"the", "my", "a", "an", "our", "your", "his", "her", "their", "this", "that", "these",
                    "those", "both", "all", "some"})
"""The words that say whose or which thing before its name."""

_SAW = frozenset({"saw", "see", "sees", "seen", "seeing", "heard", "hear", "hears", "read", "reads", "got",
                  "get", "gets", "opened", "open", "opens", "checked", "check"})
"""How one comes upon a price (``when she saw the price``)."""

_INTO = frozenset({"in", "into", "to", "through"})
"""The words that say where air goes, before the place."""

_PRICE_SHOCK: tuple[Continuation, ...] = tuple(
    lead + whose + priced + (SAID_LAST,) for priced in ((_PRICED,), (_PRICED, _PRICED)) for whose in ((), (_WHOSE,))
    for lead in (("at",), ("over",), ("seeing",), ("when", _SAW), ("when", None, _SAW), ("when", None, None, _SAW),
                 ("when", None, "looked", "at"), ("when", None, None, "looked", "at")))
"""Fainting as a figure of speech, at a price (``she nearly fainted when she saw the price``, ``i'm
passing out at these prices``, ``... the total bill``); what follows must be :data:`_PRICED`, said
last: ``she fainted when she saw the blood`` and ``she fainted when she saw the bill and she hit her
head`` are a faint."""

_CLAUSE = frozenset({
    "i", "you", "he", "she", "we", "they", "it", "there", "hes", "shes", "its", "were", "youre", "theyre", "theres",
    "someone", "somebody", "everything", "everyone", "and", "but", "so", "because", "cause", "if", "when", "please",
    "help", "oh", "god", "hurry", "call", "send", "quick", "hold"})
"""Words that start a clause of their own, or a call for help, after a phrase."""

_THEN = frozenset({"again", "anymore", "now", "right", "soon", "already", "any", "here", "properly", "still", "too"})
"""Words that say when or how, after a phrase that takes no object (``i'm going to black out any second``)."""

_IS = frozenset({"is", "are", "was", "were", "am", "keeps", "keep", "kept", "feels", "feel", "felt", "has", "have",
                 "had", "just", "will", "can", "getting", "going", "gets", "goes", "went", "started", "starts"})
"""Verbs that follow a clause's subject (``my vision is going``, ``the room is spinning``)."""

_BODY = frozenset({"lungs", "lung", "chest", "nose", "mouth", "throat", "body", "me", "him", "her"})
"""Where a caller short of air wants it (``i can't get air into my lungs``)."""

_AT_EASE = (("easy", "until"), ("easy", "about"), ("easy", "knowing"), ("a", "word"), ("life", "into"),
            *(("down", whose, "neck") for whose in ("my", "your", "his", "her", "our", "their")))
"""Breathing as a figure of speech (``i can't breathe easy until this is fixed``, ``... a word``,
``he's not breathing down my neck``)."""

KEY_WORDS: Mapping[str, KeyWords] = MappingProxyType({
    "en": KeyWords(
        function_words=frozenset({
            "i", "me", "my", "you", "your", "we", "us", "our", "he", "him", "his", "she", "her", "it", "its",
            "they", "them", "their", "a", "an", "the", "am", "is", "are", "was", "were", "be", "been",
            "do", "does", "did", "have", "has", "had", "can", "could", "will", "would", "not", "no",
            "to", "of", "in", "on", "at", "for", "with", "by", "from", "up", "out", "off", "so", "and",
            "or", "but", "this", "that", "there", "here"}),
        idioms=MappingProxyType({
            "dying": tuple(("to", verb) for verb in (
                "know", "see", "hear", "meet", "try", "tell", "find", "go", "eat", "read", "watch", "ask",
                "talk", "speak", "switch", "buy", "use", "upgrade", "start"))
            + tuple(("to", verb, what, done) for verb in ("get", "have") for what in ("this", "it", "that")
                    for done in ("fixed", "sorted", "working", "done", "resolved"))
            + (("to", "get", "a", "refund"), ("to", "get", "an", "answer"))
            + tuple(("for", word) for word in ("a", "an", "some", "one", "coffee", "tea", "food", "lunch"))
            + (("of", "boredom"), ("of", "laughter"), ("laughing",))
            + tuple(lead + _WITH_SUPPORT_THING + (SAID_LAST,) for lead in ((), ("here",))),
            **{faint: _PRICE_SHOCK for faint in ("faint", "fainted", "fainting")},
            "out": tuple(lead + (thing,) for lead in ((), ("the",), ("these",), ("those",), ("some",), ("our",))
                         for thing in _HANDED_OUT)
            + (("of", "the", "contract"), ("of", "the", "deal"), ("of", "the", "plan"), ("of", "it"),
               ("of", "this"), ("of", "that"), ("time", "for"), ("some", "time")) + _PRICE_SHOCK,
            "me": (_WITH_SUPPORT_THING,)
            + tuple(lead + (verb,) for lead in ((), ("to",)) for verb in (
                "understand", "figure", "find", "set", "change", "fix", "reset", "cancel", "update", "install",
                "log", "sign", "pay", "order", "book", "choose", "sort"))
            + (("get", "into"), ("get", "access"), ("get", "a", "refund"), ("get", "my", "money")),
            "dizzy": tuple(("with", joy) for joy in _ELATED),
            "racing": tuple(("with", joy) for joy in _ELATED),
            "help": tuple((place,) for place in (
                "desk", "line", "center", "centre", "page", "pages", "menu", "section", "button", "team",
                "article", "articles", "file", "screen", "text", "forum", "chat")),
            "breathing": _AT_EASE,
            "doctor": (("appointment",), ("s", "appointment"), ("note",), ("s", "note"), ("letter",),
                       ("s", "letter"), ("referral",), ("to", "sign"), ("signature",), ("certificate",)),
            "air": tuple((thing,) for thing in (
                "miles", "points", "conditioner", "conditioning", "con", "fryer", "pods", "ticket", "tickets",
                "fare", "fares", "purifier", "filter", "freshener", "mattress", "time")),
            "stroke": (("of", "luck"), ("of", "genius"), ("of", "bad", "luck"), ("of", "good", "luck")),
            "ambulance": tuple((paper,) for paper in _BILLED),
            "breathe": _AT_EASE,
            "spinning": tuple(lead + (thing,) for lead in _SPUN_BY for thing in _PAPERWORK),
            "unconscious": tuple((thing,) for thing in (
                "bias", "biases", "mind", "level", "habit", "habits", "choice", "choices", "decision",
                "decisions", "mistake", "mistakes", "process", "processes", "behaviour", "behavior"))}),
        particles=frozenset({"out", "up", "off", "down", "over"}),
        no_slips=MappingProxyType({"headed": frozenset({"hearted", "lighthearted", "handed", "heated"}),
                                   "breathing": frozenset({"bringing", "billing", "bidding"}),
                                   "breathe": frozenset({"breach"}),
                                   "fainted": frozenset({"failed", "filed", "fixed", "faxed", "fined", "fitted",
                                                         "funded", "founded", "fasted", "fated", "printed",
                                                         "painted", "wanted", "faked", "faded"}),
                                   "unconscious": frozenset({"unconsciously", "subconscious",
                                                             "subconsciously", "conscious"}),
                                   "wheezing": frozenset({"wheeling", "wearing", "weaving", "weeding", "welding",
                                                          "weighing", "whizzing", "waving"})}),
        quantifiers=frozenset({"enough", "any", "much", "more", "some"}),
        kept=frozenset({"able", "room", "head"}), devices=frozenset(_DEVICES), speakers=frozenset({"i"}),
        linking=frozenset({"is", "was", "keeps", "kept", "keep", "just", "has", "started", "starts"}),
        sounded=frozenset({"air", "black"}), dangling=frozenset({"a", "an", "the", "and", "are", "err"}),
        modifiers=frozenset({"a", "an", "the", "my", "your", "his", "her", "its", "our", "their", "this", "that",
                             "these", "those", "cold", "hot", "warm", "cool", "on"}),
        everyday=frozenset({"get", "going"}), trailing=frozenset({"in", "out", "back"}),
        closings=((_CLAUSE,), (_THEN,), ("at", "all"), (None, _IS), (_WHOSE, None, _IS), (_WHOSE, None, None, _IS),
                  (_BODY,), (_WHOSE, _BODY), (_INTO, _BODY), (_INTO, _WHOSE, _BODY))),
    # a Korean phrase's key word is its last that is no particle, polite ending, auxiliary or negation:
    # 살려 of 살려 주세요 ("save me"), which 알려 of 알려 주세요 ("let me know") is no slip of
    "ko": KeyWords(function_words=frozenset({
        "이", "가", "을", "를", "은", "는", "도", "에", "에서", "의", "로", "으로", "와", "과", "요", "좀", "제발",
        "너무", "정말", "진짜", "지금", "빨리", "주", "세요", "주세요", "줘", "줘요", "주십시오", "수", "수가",
        "있어요", "없", "없어", "없어요", "없습니다", "것", "거", "같아요", "같습니다", "해", "해요", "어요",
        "아요", "겠어요", "습니다", "저", "제", "제가", "저는", "나", "내", "내가", "나는", "안", "못"})),
})
"""Per-language key words (beside :data:`NEGATION`)."""

SCRIPTS: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType({
    "ko": ("Korean (Hangul)", ("HANGUL",)), "ru": ("Cyrillic", ("CYRILLIC",)), "uk": ("Cyrillic", ("CYRILLIC",)),
    "ja": ("Japanese", ("HIRAGANA", "KATAKANA", "CJK")), "zh": ("Chinese", ("CJK",)), "cn": ("Chinese", ("CJK",)),
    "ar": ("Arabic", ("ARABIC",)), "fa": ("Arabic", ("ARABIC",)), "el": ("Greek", ("GREEK",)),
    "hi": ("Devanagari", ("DEVANAGARI",)),
})
"""The script a language's Vosk models write (its name, and how Unicode names its letters), for the
languages not written in Latin letters."""


def unwritten(phrases: Sequence[str], language: str) -> tuple[str, ...]:
    """The ``phrases`` that hold letters but none of the script ``language`` is written in
    (:data:`SCRIPTS`: ``help me`` in the Korean list), which the language's model never writes;
    none for a language not in that table. A number (``119``) holds no letters."""
    scripts = SCRIPTS.get(base_language(language))
    if scripts is None:
        return ()
    letters = [[unicodedata.name(c, "") for c in p if c.isalpha()] for p in phrases]
    return tuple(p for p, names in zip(phrases, letters) if names and not any(n.startswith(scripts[1]) for n in names))


_TOKEN = re.compile(r"[\w']+", re.UNICODE)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})


@dataclass(frozen=True)
class PhraseMatch:
    """``phrase`` found in a text; ``start_word``/``end_word`` index the text's
    whitespace-separated words (end exclusive); ``score`` is the normalised distance."""

    phrase: str
    category: str
    excerpt: str
    score: float
    start_word: int
    end_word: int


@dataclass(frozen=True)
class PhraseHit:
    """A match in a stream of recognised words, with call times."""

    t: float
    match: PhraseMatch
    start_s: float
    end_s: float
    channel: str


def normalize(text: str, expansions: Mapping[str, str] | None = None) -> tuple[list[str], list[int]]:
    """Normalised tokens of ``text`` and, for each, the index of the whitespace word it came from."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    tokens: list[str] = []
    origin: list[int] = []
    for i, raw in enumerate(text.split()):
        if expansions and raw in expansions:
            tokens.extend(expansions[raw].split())
            origin.extend([i] * len(expansions[raw].split()))
            continue
        for piece in _TOKEN.findall(raw):
            piece = piece.strip("'_")
            if not piece:
                continue
            expanded = expansions.get(piece) if expansions else None
            for tok in (expanded.split() if expanded else [piece.replace("'", "")]):
                if tok:
                    tokens.append(tok)
                    origin.append(i)
    return tokens, origin


def _chars(token: str) -> str:
    return unicodedata.normalize("NFD", token)


def _levenshtein(a: str, b: str, most: int | None = None) -> int:
    """Levenshtein distance of ``a`` and ``b``; with ``most``, that distance when at most ``most``,
    else ``most + 1`` (the search ends once the letters left cannot bring it back to ``most``).

    Myers' bit-parallel algorithm (1999, in Hyyrö's formulation): a column of the edit table
    is held as two bit masks of its vertical steps (+1, -1), one Python integer each."""
    if len(a) < len(b):
        a, b = b, a
    m = len(a)
    bound = m if most is None else most
    if m - len(b) > bound:
        return bound + 1
    if not b:
        return min(m, bound + 1)
    mask, top = (1 << m) - 1, 1 << (m - 1)
    plus, minus, score, left = mask, 0, m, len(b)
    where = _positions(a)
    for c in b:
        eq = where.get(c, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        ph = minus | (~(xh | plus) & mask)
        mh = plus & xh
        score += 1 if ph & top else -1 if mh & top else 0
        left -= 1
        if score - left > bound:
            return bound + 1
        ph = ((ph << 1) | 1) & mask
        plus, minus = (mh << 1) & mask | (~(xv | ph) & mask), ph & xv
    return min(score, bound + 1)


def _positions(word: str) -> dict[str, int]:
    """For each character of ``word``, the bit mask of where it stands."""
    out: dict[str, int] = {}
    for i, c in enumerate(word):
        out[c] = out.get(c, 0) | (1 << i)
    return out


def word_distance(a: str, b: str, limit: float = 1.0) -> float:
    """0 for the same word, 1 for unrelated words (NFD characters, onset-weighted); with ``limit``
    below 1, that distance when at most ``limit``, else infinity (then found without computing it
    where the lengths' difference or the onset already says so)."""
    if a == b:
        return 0.0
    return _distance(_chars(a), _chars(b), limit)


def _distance(ca: str, cb: str, limit: float) -> float:
    """:func:`word_distance` of two words' NFD characters."""
    if not ca or not cb:
        return 1.0 if limit >= 1.0 else _INF
    if ca == cb:
        return 0.0
    longest = max(len(ca), len(cb))
    onset = ONSET_PENALTY if ca[0] != cb[0] else 0.0
    if limit >= 1.0:
        return min(1.0, _levenshtein(ca, cb) / longest + onset)
    most = int((limit - onset) * longest) + 1  # past it, the distance is past ``limit``
    if most < 1 or abs(len(ca) - len(cb)) / longest + onset > limit:
        return _INF
    d = min(1.0, _levenshtein(ca, cb, most) / longest + onset)
    return d if d <= limit else _INF


class WordDistances:
    """:func:`word_distance` of a matcher's phrase words and the words of one text (its tokens and
    their joined pieces): each word's NFD characters, its sound key and the words near a phrase word
    (:meth:`near`) are found once for that text. :meth:`PhraseMatcher.match` makes one per text, so nothing is kept
    between texts."""

    def __init__(self, heard: Iterable[str]) -> None:
        self._heard = {w: _chars(w) for w in heard}
        self._chars: dict[str, str] = {}
        self._near: dict[str, dict[str, float]] = {}
        self._sounds: dict[str, tuple[str, ...]] = {}

    def within(self, word: str, heard: str, limit: float = 1.0) -> float:
        """:func:`word_distance` of ``word`` and ``heard`` with ``limit``."""
        return 0.0 if word == heard else _distance(self.chars(word), self.chars(heard), limit)

    def near(self, word: str) -> Mapping[str, float]:
        """The text's words and joined pieces within :data:`MAX_JOIN_DISTANCE` of ``word`` (a
        phrase word or two joined), with their distances; one of another onset is past it."""
        out = self._near.get(word)
        if out is None:
            chars = self.chars(word)
            out = self._near[word] = {h: d for h, c in self._heard.items() if c[:1] == chars[:1]
                                      and (d := _distance(chars, c, MAX_JOIN_DISTANCE)) <= MAX_JOIN_DISTANCE}
        return out

    def sounds(self, word: str) -> tuple[str, ...]:
        """``word``'s :func:`sound_key`."""
        out = self._sounds.get(word)
        if out is None:
            out = self._sounds[word] = sound_key(word)
        return out

    def chars(self, word: str) -> str:
        """``word``'s NFD characters."""
        out = self._heard.get(word) or self._chars.get(word)
        if out is None:
            out = self._chars[word] = _chars(word)
        return out


def key_slip(key: str, heard: str) -> bool:
    """Whether ``heard`` may stand for a phrase's key word: the word itself, or one that keeps its
    first letter and changes at most half its letters, rounded up (``breed`` for ``breathe``,
    ``breast`` for ``breath``, ``hurt`` for ``hurts``; not ``bus`` for ``breath``, ``signal`` for
    ``air``)."""
    if key == heard:
        return True
    a, b = _chars(key), _chars(heard)
    most = (len(a) + 1) // 2
    return bool(a and b) and a[0] == b[0] and _levenshtein(a, b, most) <= most


@dataclass(frozen=True)
class _Phrase:
    """A phrase as the matcher searches it, made once: its normalised ``tokens``, each one's
    ``weights`` (its length in characters), which are negation words (``negated``), its key
    word's and its particle's index, those of the words kept like its key word (``kept``, the key
    word's among them), the words that are no slip of its key word, and whether it is found only
    where it closes what is said (``closing``; :class:`KeyWords`)."""

    text: str
    category: str
    tokens: tuple[str, ...]
    weights: tuple[int, ...]
    negated: tuple[bool, ...]
    key: int | None
    kept: frozenset[int] = frozenset()
    particle: int | None = None
    no_slips: frozenset[str] = frozenset()
    closing: bool = False

    @property
    def affirmative(self) -> bool:
        """Carries no negation (so it matches no stretch in a negation's scope)."""
        return not any(self.negated)


@dataclass(frozen=True)
class _Text:
    """A text as the matcher searches it, made once per utterance: its normalised ``tokens``, their
    lengths, which are negation words (``negated``) and words of ceasing (``ceasing``:
    :attr:`Negation.ceasing`), where a stretch would start in a negation's
    scope (``negated_starts``, and ``negated_after_drop`` for a stretch that leaves out the phrase's
    first words: :meth:`Negation.negated_starts`), where a new utterance or a pause begins
    (``cut``), and the search's first row for a phrase without
    a negation (``affirmative_row``: no stretch starts in a negation's scope); ``pieces[j]``: the
    2 to :data:`MAX_JOIN_PIECES` tokens ending before token ``j`` joined, none a negation word, as
    (how many, the joined word); ``negation_pieces[j]``: likewise a negation word and the endings
    after it that make one negation word joined (the Korean model's ``없어 요`` for ``없어요``), what
    only a phrase's negation word may be heard as."""

    tokens: tuple[str, ...]
    cut: tuple[bool, ...]
    lengths: tuple[int, ...]
    negated: tuple[bool, ...]
    negated_starts: tuple[bool, ...]
    negated_after_drop: tuple[bool, ...]
    affirmative_row: tuple[float, ...]
    pieces: tuple[tuple[tuple[int, str], ...], ...]
    negated_ends: tuple[bool, ...] = ()
    negation_pieces: tuple[tuple[tuple[int, str], ...], ...] = ()
    ceasing: tuple[bool, ...] = ()

    @classmethod
    def of(cls, tokens: Sequence[str], cut: Sequence[bool], negation: Negation) -> "_Text":
        starts = tuple(negation.negated_starts(tokens, cut))
        negated = tuple(t in negation.words for t in tokens)
        return cls(tokens=tuple(tokens), cut=tuple(cut), lengths=tuple(len(_chars(t)) for t in tokens), negated=negated,
                   negated_starts=starts, negated_after_drop=tuple(negation.negated_starts(tokens, cut, dropped=1)),
                   affirmative_row=tuple(_INF if flag else 0.0 for flag in starts) + (0.0,),
                   pieces=tuple(_pieces_before(tokens, negated, j) for j in range(len(tokens) + 1)),
                   negated_ends=tuple(negation.negated_ends(tokens, cut)),
                   negation_pieces=tuple(_negation_pieces_before(tokens, negated, negation.words, j)
                                         for j in range(len(tokens) + 1)),
                   ceasing=tuple(t in negation.ceasing for t in tokens))

    def first_row(self, phrase: _Phrase) -> list[float]:
        return list(self.affirmative_row) if phrase.affirmative else [0.0] * (len(self.tokens) + 1)

    def heard(self) -> list[str]:
        """Its tokens and their joined pieces: what a phrase word may be heard as."""
        return [*self.tokens, *(joined for at in self.pieces + self.negation_pieces for _, joined in at)]


def _pieces_before(tokens: Sequence[str], negated: Sequence[bool], j: int) -> tuple[tuple[int, str], ...]:
    """(k, the k tokens before ``j`` joined) for k from 2 to :data:`MAX_JOIN_PIECES`, up to the first
    span holding a negation word (never one of a word's pieces)."""
    out = []
    for k in range(2, min(j, MAX_JOIN_PIECES) + 1):
        if any(negated[j - k:j]):
            break
        out.append((k, "".join(tokens[j - k:j])))
    return tuple(out)


def _negation_pieces_before(tokens: Sequence[str], negated: Sequence[bool], words: Collection[str],
                            j: int) -> tuple[tuple[int, str], ...]:
    """(k, the k tokens before ``j`` joined) for k from 2 to :data:`MAX_JOIN_PIECES` where the first of
    them is a negation word, the others are none, and they join into a negation word of ``words``
    (``없어`` ``요``: ``없어요``)."""
    out = []
    for k in range(2, min(j, MAX_JOIN_PIECES) + 1):
        if any(negated[j - k + 1:j]):
            break
        joined = "".join(tokens[j - k:j])
        if negated[j - k] and joined in words:
            out.append((k, joined))
    return tuple(out)


_INF = float("inf")
_COST = itemgetter(0)


class PhraseMatcher:
    """Find distress phrases in text.

    ``phrases``: a list, or lists by category (e.g. :data:`DEFAULT_PHRASES_EN`).
    ``max_distance``: largest normalised distance that still matches.
    ``language``: picks the expansions of :data:`EXPANSIONS`, the negation of :data:`NEGATION` and
    the key words of :data:`KEY_WORDS` (none by default); ``expansions``, ``negation`` and
    ``key_words`` give them instead.
    """

    def __init__(self, phrases: Mapping[str, Sequence[str]] | Sequence[str],
                 max_distance: float = DEFAULT_MAX_DISTANCE, *, language: str | None = None,
                 expansions: Mapping[str, str] | None = None, negation: Negation | None = None,
                 key_words: KeyWords | None = None) -> None:
        if isinstance(phrases, str):
            raise TypeError("phrases: give a list of phrases, not one string")
        if not 0.0 <= max_distance < 1.0:
            raise ValueError(f"max_distance must be in [0, 1), got {max_distance}")
        self.max_distance = float(max_distance)
        base = base_language(language)
        self.expansions: Mapping[str, str] = expansions if expansions is not None else EXPANSIONS.get(base, {})
        self.negation: Negation = negation if negation is not None else NEGATION.get(base, NO_NEGATION)
        self.key_words: KeyWords = key_words if key_words is not None else KEY_WORDS.get(base, NO_KEY_WORDS)
        items: Iterable[tuple[str, str]]
        if isinstance(phrases, Mapping):
            items = ((str(cat), p) for cat, ps in phrases.items() for p in ps)
        else:
            items = ((p, p) for p in phrases)
        self._phrases = [self._phrase(p, cat) for cat, p in items]
        self._searched = self._phrases + ([v for v in map(self._unspaced, self._phrases) if v is not None]
                                          if base in UNSPACED else [])

    def _unspaced(self, phrase: _Phrase) -> _Phrase | None:
        """``phrase`` written as one word, kept like a key word (:data:`UNSPACED`); None for a phrase
        of one word or one that carries a negation, which is never part of a word."""
        if len(phrase.tokens) < 2 or not phrase.affirmative:
            return None
        joined = "".join(phrase.tokens)
        return _Phrase(text=phrase.text, category=phrase.category, tokens=(joined,), weights=(len(_chars(joined)),),
                       negated=(False,), key=0, kept=frozenset({0}))

    def _phrase(self, text: str, category: str) -> _Phrase:
        toks, _ = self.negation.split(*normalize(text, self.expansions))
        if not toks:
            raise ValueError(f"phrase {text!r} has no words")
        return _Phrase(text=text, category=category, tokens=tuple(toks), weights=tuple(len(_chars(t)) for t in toks),
                       negated=tuple(t in self.negation.words for t in toks), key=self.key_words.key(toks),
                       kept=self.key_words.kept_at(toks),
                       particle=self.key_words.particle(toks), no_slips=self._no_slips(toks),
                       closing=self.key_words.closing(toks))

    def _no_slips(self, toks: Sequence[str]) -> frozenset[str]:
        key = self.key_words.key(toks)
        return frozenset() if key is None else frozenset(self.key_words.no_slips.get(toks[key], ()))

    @classmethod
    def default(cls, max_distance: float = DEFAULT_MAX_DISTANCE) -> "PhraseMatcher":
        """The default English list."""
        return cls(DEFAULT_PHRASES_EN, max_distance, language="en")

    @property
    def phrases(self) -> tuple[str, ...]:
        return tuple(p.text for p in self._phrases)

    def match(self, text: str, breaks: Collection[int] = ()) -> list[PhraseMatch]:
        """Matches in ``text``, best first; overlapping matches of one category keep the best.

        ``breaks``: indices of ``text``'s whitespace words that begin a new utterance or follow a
        pause (:func:`pause_breaks`): a negation does not reach past one."""
        tokens, origin = self.negation.split(*normalize(text, self.expansions))
        if not tokens:
            return []
        words = text.split()
        cut = [j > 0 and origin[j] in breaks and origin[j - 1] != origin[j] for j in range(len(tokens))]
        searched = _Text.of(tokens, cut, self.negation)
        known = WordDistances(searched.heard())
        found: list[PhraseMatch] = []
        for phrase in self._searched:
            best = _Search(phrase, searched, self.key_words, known, self.max_distance).best()
            if best is None:
                continue
            score, a, b = best
            if score <= self.max_distance + 1e-9:
                w0, w1 = origin[a], origin[b - 1] + 1
                found.append(PhraseMatch(phrase=phrase.text, category=phrase.category,
                                         excerpt=" ".join(words[w0:w1]), score=round(score, 4),
                                         start_word=w0, end_word=w1))
        return _best_per_stretch(found)


def _until_cut(tokens: Sequence[str], cut: Sequence[bool], b: int) -> tuple[str, ...]:
    """The tokens from ``b`` up to the next break (none when a break is at ``b``)."""
    end = b
    while end < len(tokens) and not cut[end]:
        end += 1
    return tuple(tokens[b:end])


def _best_per_stretch(found: list[PhraseMatch]) -> list[PhraseMatch]:
    """``found`` best first, without a match overlapping a better one of its category."""
    kept: list[PhraseMatch] = []
    for m in sorted(found, key=lambda m: (m.score, m.start_word)):
        if not any(k.category == m.category and m.start_word < k.end_word and k.start_word < m.end_word
                   for k in kept):
            kept.append(m)
    return kept


class _Search:
    """The lowest-cost stretch of a text for one phrase (Sellers' dynamic programme on words).

    ``cost[i][j]``: least cost of the phrase's first ``i`` words ending before token ``j``;
    ``start[i][j]``: where that stretch starts. A negation word is matched only by one (never
    missing, extra, or one of joined pieces), a phrase without one starts no stretch in a
    negation's scope, the key word is never missing and matched only by :func:`key_slip`, and no
    stretch ends where an idiom continues it (:class:`KeyWords`; the best of the other ends wins:
    ``i'm dying to know but really i'm dying``); a closing phrase's stretch holds no word between its
    key word and its particle nor after its last word, and ends where what is said closes."""

    def __init__(self, phrase: _Phrase, text: _Text, key_words: KeyWords = NO_KEY_WORDS,
                 known: WordDistances | None = None, max_distance: float = 1.0) -> None:
        self.phrase, self.text, self.key_words = phrase, text, key_words
        self.known = known if known is not None else WordDistances(text.heard())
        self.budget = (max_distance + 1e-6) * sum(phrase.weights)
        """No stretch costing more than this is reported: a word heard that alone costs more is
        taken as none (its distance is not computed; the best stretch within it is the same)."""
        n = len(text.tokens)
        self.cost = [text.first_row(phrase)] + [[0.0] * (n + 1) for _ in phrase.tokens]
        self.start = [list(range(n + 1))] + [[0] * (n + 1) for _ in phrase.tokens]

    def best(self) -> tuple[float, int, int] | None:
        """(normalised cost, start token, end token) of the best stretch, or None."""
        if not self._possible():
            return None
        for i in range(1, len(self.phrase.tokens) + 1):
            self._row(i)
        return self._best_end()

    def _row(self, i: int) -> None:
        self.cost[i][0], self.start[i][0] = self._missing(i, 0)
        for j in range(1, len(self.text.tokens) + 1):
            self.cost[i][j], self.start[i][j] = min(self._candidates(i, j), key=_COST)

    def _candidates(self, i: int, j: int) -> list[tuple[float, int]]:
        """(cost, start) of each way phrase word ``i`` (1-based) can end before token ``j``; the
        first of equal costs wins."""
        return [self._heard(i, j), self._missing(i, j), self._extra(i, j), *self._pieces(i, j), *self._joined(i, j)]

    def _possible(self) -> bool:
        """Whether each phrase word kept like the key word (never missing) may be heard somewhere:
        as a token, in pieces, or joined with a word beside it; where one may not, every stretch
        costs infinity (the search is skipped, its result the same)."""
        n, last = len(self.text.tokens), len(self.phrase.tokens)
        return all(any(
            self._heard_cost(i, j) < _INF or self._pieces(i, j) or self._joined_cost(i, j) < _INF
            or (i < last and self._joined_cost(i + 1, j) < _INF) for j in range(1, n + 1))
            for i in sorted(k + 1 for k in self.phrase.kept))

    def _heard(self, i: int, j: int) -> tuple[float, int]:
        """Phrase word ``i`` heard as token ``j`` (itself or a slip of it)."""
        return self.cost[i - 1][j - 1] + self._heard_cost(i, j), self.start[i - 1][j - 1]

    def _heard_cost(self, i: int, j: int) -> float:
        """What hearing phrase word ``i`` as token ``j`` adds (infinity: it may not, or it alone
        costs more than :attr:`budget`)."""
        p, t, word, heard = self.phrase, self.text, self.phrase.tokens[i - 1], self.text.tokens[j - 1]
        key_ok = i - 1 not in p.kept or (self.key_words.heard_as(word, t.tokens, t.cut, j - 1, p.closing,
                                                                  self.known)
                                          and heard not in p.no_slips)
        if not (p.negated[i - 1] == t.negated[j - 1] and key_ok and (p.particle != i - 1 or word == heard)):
            return _INF
        w = p.weights[i - 1]
        return w * self.key_words.distance(word, heard, self.budget / w, self.known)

    def _missing(self, i: int, j: int) -> tuple[float, int]:
        """Phrase word ``i`` not heard (never a negation word or the key word, nor a first word
        left out right after a negation: ``not out of breath`` is no ``of breath``)."""
        p, t = self.phrase, self.text
        dropping = j < len(t.tokens) and self.start[i - 1][j] == j and t.negated_after_drop[j] and p.affirmative
        cost = _INF if p.negated[i - 1] or i - 1 in p.kept or i - 1 == p.particle or dropping else p.weights[i - 1]
        return self.cost[i - 1][j] + cost, self.start[i - 1][j]

    def _extra(self, i: int, j: int) -> tuple[float, int]:
        """Token ``j`` an extra word inside the stretch (never a negation word, nor a word of ceasing
        after the phrase's negation word: ``not stopped breathing`` is no ``not breathing``)."""
        t, p = self.text, self.phrase
        held = p.closing and (p.particle == i or i == len(p.tokens))  # "black it out", "black out tuesday"
        denied = p.negated[i - 1] and t.ceasing[j - 1]
        return self.cost[i][j - 1] + (_INF if t.negated[j - 1] or held or denied
                                      else INSERT_COST * t.lengths[j - 1]), self.start[i][j - 1]

    def _pieces(self, i: int, j: int) -> list[tuple[float, int]]:
        """Phrase word ``i`` heard as the 2 to :data:`MAX_JOIN_PIECES` tokens ending at ``j``: a
        negation word only as a negation word and its endings (:attr:`_Text.negation_pieces`)."""
        p = self.phrase
        out = []
        near = self.known.near(p.tokens[i - 1])
        for k, joined in (self.text.negation_pieces if p.negated[i - 1] else self.text.pieces)[j]:
            d = near.get(joined)
            if d is not None:
                out.append((self.cost[i - 1][j - k] + p.weights[i - 1] * d, self.start[i - 1][j - k]))
        return out

    def _joined(self, i: int, j: int) -> list[tuple[float, int]]:
        """Phrase words ``i - 1`` and ``i`` heard as the one token ``j``."""
        added = self._joined_cost(i, j)
        return [] if added == _INF else [(self.cost[i - 2][j - 1] + added, self.start[i - 2][j - 1])]

    def _joined_cost(self, i: int, j: int) -> float:
        """What hearing phrase words ``i - 1`` and ``i`` as the one token ``j`` adds (infinity: they may not)."""
        p, t = self.phrase, self.text
        if i < 2 or p.negated[i - 1] or p.negated[i - 2] or t.negated[j - 1] or t.tokens[j - 1] in p.no_slips:
            return _INF
        d = self.known.near(p.tokens[i - 2] + p.tokens[i - 1]).get(t.tokens[j - 1])
        return _INF if d is None else (p.weights[i - 2] + p.weights[i - 1]) * d

    def _best_end(self) -> tuple[float, int, int] | None:
        row, starts = self.cost[-1], self.start[-1]
        t = self.text
        ends = [j for j in range(1, len(row)) if not self._idiom_in(starts[j], j)
                and not (self.phrase.affirmative and t.negated_ends[j])
                and not self.key_words.device_said(self.phrase.tokens, t.tokens, t.cut, starts[j])
                and (not self.phrase.closing or self.key_words.closes(_until_cut(t.tokens, t.cut, j)))]
        j_best = min(ends, key=lambda j: (row[j], j - starts[j]), default=None)
        if j_best is None or row[j_best] == _INF or starts[j_best] >= j_best:
            return None
        return row[j_best] / float(sum(self.phrase.weights)), starts[j_best], j_best


    def _idiom_in(self, a: int, b: int) -> bool:
        """Whether the stretch of tokens ``a`` to ``b`` (or the token right after it: a last word the
        stretch leaves out, ``i'm passing [out] the forms``) holds the phrase's last word followed by
        one of its idiom continuations (``i'm dying [to] know``: an extra word in the stretch)."""
        last, t = self.phrase.tokens[-1], self.text
        if last not in self.key_words.idioms:
            return False
        for k in range(a, min(b + 1, len(t.tokens))):
            if k == b and t.cut[b]:
                break
            following = _until_cut(t.tokens, t.cut, k + 1)
            slip = self.key_words.heard_as(last, t.tokens, t.cut, k, self.phrase.closing, self.known) \
                and t.tokens[k] not in self.phrase.no_slips
            if slip and self.key_words.idiom(self.phrase.tokens, following):
                return True
        return False


def pause_breaks(words: Sequence[Word], pause_s: float = PAUSE_S) -> set[int]:
    """Indices of the words that follow a pause of at least ``pause_s`` (a negation's reach ends there)."""
    return {k for k in range(1, len(words)) if words[k].start - words[k - 1].end >= pause_s - 1e-9}


class PhraseSpotter:
    """Matches phrases across consecutive final results of one channel.

    A caller short of breath pauses inside a phrase, so the recognizer may end
    an utterance in its middle: the last ``keep_words`` words (no older than
    ``keep_s`` seconds) are searched together with each new final result, and
    a match is reported once, when its last word arrives. A negation does not reach
    from one final result into the next, nor past a pause (:data:`PAUSE_S`).
    """

    def __init__(self, matcher: PhraseMatcher, keep_words: int = 12, keep_s: float = 20.0) -> None:
        self.matcher = matcher
        self.keep_words = keep_words
        self.keep_s = keep_s
        self._recent: dict[str, list[tuple[Word, bool]]] = {}
        """Per channel, the words kept and whether each began its final result."""

    def push(self, event: WordsEvent) -> list[PhraseHit]:
        if not event.final or not event.words:
            return []
        new = [(w, i == 0) for i, w in enumerate(event.words)]
        old = [kw for kw in self._recent.get(event.channel, []) if kw[0].end >= new[-1][0].end - self.keep_s]
        kept = old + new
        words = [w for w, _ in kept]
        text = " ".join(w.word for w in words)
        # whitespace words of the joined text map one to one onto Word objects,
        # unless a recognised "word" holds a space (then fall back to this event alone)
        if len(text.split()) != len(words):
            kept, old = new, []
            words = [w for w, _ in kept]
            text = " ".join(w.word for w in words)
            if len(text.split()) != len(words):
                return [PhraseHit(t=event.t, match=m, start_s=new[0][0].start, end_s=new[-1][0].end,
                                  channel=event.channel) for m in self.matcher.match(event.text)]
        breaks = pause_breaks(words) | {k for k, (_, first) in enumerate(kept) if first}
        hits = []
        for m in self.matcher.match(text, breaks):
            if m.end_word <= len(old):
                continue  # ended in words already searched
            span = words[m.start_word:m.end_word]
            hits.append(PhraseHit(t=span[-1].end, match=m, start_s=span[0].start, end_s=span[-1].end,
                                  channel=event.channel))
        self._recent[event.channel] = kept[-self.keep_words:]
        return hits
