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
  (``light headed`` ~ ``lightheaded``, ``아파 요`` ~ ``아파요``, ``도와 주 세요`` ~ ``도와주세요``).

The search is Sellers' approximate substring matching on word sequences: the
best stretch for each phrase anywhere in the text. No language is assumed:
Korean, English or any other list works the same way; only the default phrase
list and the per-language tables (:data:`EXPANSIONS`, :data:`NEGATION`) are English.

Tolerance is for recognition slips, never for a change of meaning: with a language's
:class:`Negation` (English only, :data:`NEGATION`), a negation word (``not``, ``no``,
``never``, ...; ``can't`` is ``can not`` once expanded) is matched only by a negation word:

* a phrase that carries a negation (``i can't breathe``) matches only a stretch where each
  of its negation words meets one (``i can breathe`` is no slip of it, however close);
* a negation word of the text is never inside a stretch of a phrase that carries none
  (``my chest does not hurt`` is no ``my chest hurts``), and such a phrase does not match a
  stretch in a negation's scope: a negation word within :attr:`Negation.reach` words before
  it (``no chest pain``, ``i don't have chest pain``, ``i'm not out of breath``), unless a
  word that starts a clause of its own (a subject, ``but``; :attr:`Negation.scope_ends`)
  comes between or begins the stretch (``no, my chest hurts``, ``i'm not sure but my chest
  hurts`` still match). This is the window-and-terminator scope of the NegEx algorithm
  (Chapman et al., 2001), on the recognizer's words, which carry no punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

from ..config.default_phrases import DEFAULT_PHRASES_EN
from ..events import Word, WordsEvent

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
        "112": "one one two", "lightheaded": "light headed",
    }),
})
"""Per-language token expansions applied to text and phrases alike."""


@dataclass(frozen=True)
class Negation:
    """How a language negates, in normalised tokens (after :data:`EXPANSIONS`).

    ``words``: the negation words; ``scope_ends``: words that start a clause of their own (subjects,
    conjunctions), where a negation before them no longer reaches; ``reach``: how many words
    before a stretch a negation word still negates it (3: ``not``, ``not have``, ``not have any``)."""

    words: frozenset[str] = field(default_factory=frozenset)
    scope_ends: frozenset[str] = field(default_factory=frozenset)
    reach: int = 3

    def negated_starts(self, tokens: Sequence[str]) -> list[bool]:
        """For each token, whether a stretch starting at it lies in a negation's scope."""
        out = []
        for j, tok in enumerate(tokens):
            negated = False
            if tok not in self.scope_ends:
                for before in reversed(tokens[max(0, j - self.reach):j]):
                    if before in self.words:
                        negated = True
                        break
                    if before in self.scope_ends:
                        break
            out.append(negated)
        return out


NO_NEGATION = Negation()
"""A language without a negation table: negation words are words like any other."""

NEGATION: Mapping[str, Negation] = MappingProxyType({
    "en": Negation(
        words=frozenset({"not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without"}),
        scope_ends=frozenset({
            "i", "me", "my", "you", "your", "he", "him", "his", "she", "her", "it", "its", "we", "us", "our",
            "they", "them", "their", "there", "this", "that", "someone", "somebody", "please",
            "but", "because", "cause", "so", "though", "although", "however", "yet", "except", "now"})),
})
"""Per-language negation (beside :data:`EXPANSIONS`, whose contractions it reads expanded)."""

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


@lru_cache(maxsize=65536)
def _chars(token: str) -> str:
    return unicodedata.normalize("NFD", token)


@lru_cache(maxsize=262144)
def _levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@lru_cache(maxsize=262144)
def word_distance(a: str, b: str) -> float:
    """0 for the same word, 1 for unrelated words (NFD characters, onset-weighted)."""
    if a == b:
        return 0.0
    ca, cb = _chars(a), _chars(b)
    if not ca or not cb:
        return 1.0
    d = _levenshtein(ca, cb) / max(len(ca), len(cb))
    if ca[0] != cb[0]:
        d += ONSET_PENALTY
    return min(1.0, d)


class PhraseMatcher:
    """Find distress phrases in text.

    ``phrases``: a list, or lists by category (e.g. :data:`DEFAULT_PHRASES_EN`).
    ``max_distance``: largest normalised distance that still matches.
    ``language``: picks the expansions of :data:`EXPANSIONS` and the negation of :data:`NEGATION`
    (none by default); ``expansions`` and ``negation`` give them instead.
    """

    def __init__(self, phrases: Mapping[str, Sequence[str]] | Sequence[str],
                 max_distance: float = DEFAULT_MAX_DISTANCE, *, language: str | None = None,
                 expansions: Mapping[str, str] | None = None, negation: Negation | None = None) -> None:
        if isinstance(phrases, str):
            raise TypeError("phrases: give a list of phrases, not one string")
        if not 0.0 <= max_distance < 1.0:
            raise ValueError(f"max_distance must be in [0, 1), got {max_distance}")
        self.max_distance = float(max_distance)
        base = (language or "").split("-")[0]
        self.expansions: Mapping[str, str] = expansions if expansions is not None else EXPANSIONS.get(base, {})
        self.negation: Negation = negation if negation is not None else NEGATION.get(base, NO_NEGATION)
        items: Iterable[tuple[str, str]]
        if isinstance(phrases, Mapping):
            items = ((str(cat), p) for cat, ps in phrases.items() for p in ps)
        else:
            items = ((p, p) for p in phrases)
        self._phrases: list[tuple[str, str, tuple[str, ...], tuple[int, ...]]] = []
        for cat, p in items:
            toks, _ = normalize(p, self.expansions)
            if not toks:
                raise ValueError(f"phrase {p!r} has no words")
            self._phrases.append((p, cat, tuple(toks), tuple(len(_chars(t)) for t in toks)))

    @classmethod
    def default(cls, max_distance: float = DEFAULT_MAX_DISTANCE) -> "PhraseMatcher":
        """The default English list."""
        return cls(DEFAULT_PHRASES_EN, max_distance, language="en")

    @property
    def phrases(self) -> tuple[str, ...]:
        return tuple(p for p, _, _, _ in self._phrases)

    def match(self, text: str) -> list[PhraseMatch]:
        """Matches in ``text``, best first; overlapping matches of one category keep the best."""
        tokens, origin = normalize(text, self.expansions)
        if not tokens:
            return []
        words = text.split()
        text_negation = _Polarity([t in self.negation.words for t in tokens], self.negation.negated_starts(tokens))
        found: list[PhraseMatch] = []
        for phrase, cat, ptoks, weights in self._phrases:
            best = _best_span(ptoks, weights, tokens, [t in self.negation.words for t in ptoks], text_negation)
            if best is None:
                continue
            score, a, b = best
            if score <= self.max_distance + 1e-9:
                w0, w1 = origin[a], origin[b - 1] + 1
                found.append(PhraseMatch(phrase=phrase, category=cat, excerpt=" ".join(words[w0:w1]),
                                         score=round(score, 4), start_word=w0, end_word=w1))
        found.sort(key=lambda m: (m.score, m.start_word))
        kept: list[PhraseMatch] = []
        for m in found:
            if not any(k.category == m.category and m.start_word < k.end_word and k.start_word < m.end_word
                       for k in kept):
                kept.append(m)
        return kept


@dataclass(frozen=True)
class _Polarity:
    """A text's negation, token by token: ``words`` (a negation word), ``negated_starts``
    (:meth:`Negation.negated_starts`)."""

    words: Sequence[bool]
    negated_starts: Sequence[bool]


def _best_span(ptoks: Sequence[str], weights: Sequence[int], ttoks: Sequence[str], pneg: Sequence[bool],
               tneg: _Polarity) -> tuple[float, int, int] | None:
    """Lowest-cost stretch of ``ttoks`` for the phrase: (normalised cost, start, end).

    ``pneg``: which phrase words are negation words; ``tneg``: the text's. A negation word is
    matched only by one (never missing, extra, or one of joined pieces), and a phrase without one
    starts no stretch in a negation's scope (the module's docstring)."""
    m, n = len(ptoks), len(ttoks)
    total = float(sum(weights))
    inf = float("inf")
    tlen = [len(_chars(t)) for t in ttoks]
    negated = tneg.words
    # D[i][j]: cost of phrase[:i] ending at transcript[:j]; S: start index of that stretch
    if any(pneg):
        D = [[0.0] * (n + 1)] + [[0.0] * (n + 1) for _ in range(m)]
    else:  # a stretch in a negation's scope is not this phrase
        D = [[inf if j < n and tneg.negated_starts[j] else 0.0 for j in range(n + 1)]] + \
            [[0.0] * (n + 1) for _ in range(m)]
    S = [list(range(n + 1))] + [[0] * (n + 1) for _ in range(m)]
    for i in range(1, m + 1):
        wi, pi, ni = weights[i - 1], ptoks[i - 1], pneg[i - 1]
        D[i][0] = D[i - 1][0] + (inf if ni else wi)
        S[i][0] = 0
        for j in range(1, n + 1):
            nj = negated[j - 1]
            best = D[i - 1][j - 1] + (wi * word_distance(pi, ttoks[j - 1]) if ni == nj else inf)
            start = S[i - 1][j - 1]
            c = D[i - 1][j] + (inf if ni else wi)  # phrase word missing
            if c < best:
                best, start = c, S[i - 1][j]
            c = D[i][j - 1] + (inf if nj else INSERT_COST * tlen[j - 1])  # extra word inside the stretch
            if c < best:
                best, start = c, S[i][j - 1]
            for k in range(2, min(j, MAX_JOIN_PIECES) + 1):  # one phrase word heard as k pieces
                if ni or any(negated[j - k:j]):
                    break
                d = word_distance(pi, "".join(ttoks[j - k:j]))
                c = D[i - 1][j - k] + wi * d
                if d <= MAX_JOIN_DISTANCE and c < best:
                    best, start = c, S[i - 1][j - k]
            if i > 1 and not (ni or nj or pneg[i - 2]):  # two phrase words heard as one
                d = word_distance(ptoks[i - 2] + pi, ttoks[j - 1])
                c = D[i - 2][j - 1] + (weights[i - 2] + wi) * d
                if d <= MAX_JOIN_DISTANCE and c < best:
                    best, start = c, S[i - 2][j - 1]
            D[i][j], S[i][j] = best, start
    row = D[m]
    j_best = min(range(1, n + 1), key=lambda j: (row[j], j - S[m][j]), default=None)
    if j_best is None or row[j_best] == inf:
        return None
    a = S[m][j_best]
    if a >= j_best:
        return None
    return row[j_best] / total, a, j_best


class PhraseSpotter:
    """Matches phrases across consecutive final results of one channel.

    A caller short of breath pauses inside a phrase, so the recognizer may end
    an utterance in its middle: the last ``keep_words`` words (no older than
    ``keep_s`` seconds) are searched together with each new final result, and
    a match is reported once, when its last word arrives.
    """

    def __init__(self, matcher: PhraseMatcher, keep_words: int = 12, keep_s: float = 20.0) -> None:
        self.matcher = matcher
        self.keep_words = keep_words
        self.keep_s = keep_s
        self._recent: dict[str, list[Word]] = {}

    def push(self, event: WordsEvent) -> list[PhraseHit]:
        if not event.final or not event.words:
            return []
        old = self._recent.get(event.channel, [])
        new = list(event.words)
        if new:
            old = [w for w in old if w.end >= new[-1].end - self.keep_s]
        words = old + new
        text = " ".join(w.word for w in words)
        # whitespace words of the joined text map one to one onto Word objects,
        # unless a recognised "word" holds a space (then fall back to this event alone)
        if len(text.split()) != len(words):
            words, old = new, []
            text = " ".join(w.word for w in words)
            if len(text.split()) != len(words):
                return [PhraseHit(t=event.t, match=m, start_s=new[0].start, end_s=new[-1].end,
                                  channel=event.channel) for m in self.matcher.match(event.text)]
        hits = []
        for m in self.matcher.match(text):
            if m.end_word <= len(old):
                continue  # ended in words already searched
            span = words[m.start_word:m.end_word]
            hits.append(PhraseHit(t=span[-1].end, match=m, start_s=span[0].start, end_s=span[-1].end,
                                  channel=event.channel))
        self._recent[event.channel] = words[-self.keep_words:]
        return hits
