"""Dump what the distress-phrase matcher finds in many texts, to check that a change to how it
computes leaves its matches identical.

    PYTHONPATH=. python research/phrase_cost/compare.py before.json
    (change the matcher)
    PYTHONPATH=. python research/phrase_cost/compare.py after.json --against before.json

The texts: every string of tools/eval_data/dialogues.json (placeholders filled), every string
literal of tests/test_phrases.py and tests/test_phrase_polarity.py, the phrases themselves, and
seeded random word sequences and near-miss spellings (letters changed, words joined or split,
negations inserted, pauses between words), in English and Korean. The matchers: the
configuration's English list at its tolerance, at 0.0 and at 0.45; the tests' Korean phrases with
Korean's tables, and without a language.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Iterator

from monitor.config import load_config
from monitor.transcription import phrases
from monitor.transcription.phrases import PhraseMatcher
from monitor.transcription.setup import matcher_for

ROOT = Path(__file__).resolve().parents[2]
KOREAN = ["숨을 못 쉬겠어요", "숨을 쉴 수가 없어요", "가슴이 아파요", "숨이 차요", "살려 주세요", "살려주세요",
          "구급차 불러 주세요", "도와주세요", "119", "여보세요"]
"""The tests' Korean phrases."""
KO_EXTRA = ["안", "못", "않아요", "없어요", "지", "아니", "[일]", "[구]", "[1]", "[9]", "요", "이", "가", "좀",
            "제발", "너무", "알려", "택시", "머리", "요금", "감사합니다", "전화", "못생긴", "쉬", "겠어요", "차", "아파"]
EN_EXTRA = ["not", "no", "never", "can't", "don't", "i'm", "the", "a", "my", "is", "out", "air", "black", "any"]
RANDOM_TEXTS = 2500


def strings(node: object) -> Iterator[str]:
    """Every string in a JSON document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def dialogue_texts() -> list[str]:
    """The evaluation dialogues' strings, placeholders filled."""
    grammar = json.loads((ROOT / "tools" / "eval_data" / "dialogues.json").read_text(encoding="utf-8"))
    return [re.sub(r"\{[^}]*\}", "Sam", s) for s in strings(grammar)]


def test_literals() -> list[str]:
    """The string literals of the phrase tests."""
    out = []
    for name in ("test_phrases.py", "test_phrase_polarity.py"):
        tree = ast.parse((ROOT / "tests" / name).read_text(encoding="utf-8"))
        out += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return out


def slip(word: str, rng: random.Random, letters: str) -> str:
    """``word`` with a letter changed, dropped or added (the first kept or not)."""
    if not word:
        return word
    k = rng.randrange(len(word))
    how = rng.randrange(3)
    if how == 0:
        return word[:k] + rng.choice(letters) + word[k + 1:]
    if how == 1:
        return word[:k] + word[k + 1:]
    return word[:k] + rng.choice(letters) + word[k:]


def scramble(words: list[str], rng: random.Random, letters: str, negations: list[str]) -> list[str]:
    """``words`` with near-miss slips, joins, splits and negations."""
    out: list[str] = []
    for w in words:
        r = rng.random()
        if r < 0.15:
            w = slip(w, rng, letters)
        elif r < 0.22 and len(w) > 2:
            k = rng.randrange(1, len(w))
            out.append(w[:k])
            w = w[k:]
        elif r < 0.3 and out:
            w = out.pop() + w
        elif r < 0.36:
            out.append(rng.choice(negations))
        out.append(w)
    return [w for w in out if w]


def random_texts(rng: random.Random, vocab: list[str], phrases: list[str], letters: str,
                 negations: list[str], n: int) -> list[tuple[str, list[int]]]:
    """``n`` seeded texts: random words around a phrase (or none), scrambled, with random breaks."""
    out = []
    for _ in range(n):
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 8))]
        if rng.random() < 0.7:
            at = rng.randint(0, len(words))
            words[at:at] = rng.choice(phrases).split()
        words += [rng.choice(vocab) for _ in range(rng.randint(0, 4))]
        words = scramble(words, rng, letters, negations)
        breaks = sorted(k for k in range(1, len(words)) if rng.random() < 0.1)
        out.append((" ".join(words), breaks))
    return out


def english_cases(phrases: list[str]) -> list[tuple[str, list[int]]]:
    """The English texts (with their breaks)."""
    fixed = dialogue_texts() + test_literals() + phrases
    vocab = sorted({w for t in fixed for w in t.lower().split()} | set(EN_EXTRA))
    rng = random.Random(56)
    texts = random_texts(rng, vocab, phrases, "abcdefghijklmnopqrstuvwxyz'", ["not", "no", "never", "don't"],
                         RANDOM_TEXTS)
    return [(t, []) for t in fixed] + texts


def korean_cases() -> list[tuple[str, list[int]]]:
    """The Korean texts (with their breaks)."""
    fixed = [t for t in test_literals() if re.search("[\uac00-\ud7a3]", t)] + KOREAN
    vocab = sorted({w for t in fixed for w in t.split()} | set(KO_EXTRA))
    letters = "".join(sorted({c for t in fixed for c in t if "\uac00" <= c <= "\ud7a3"}))
    rng = random.Random(57)
    return [(t, []) for t in fixed] + random_texts(rng, vocab, KOREAN, letters, ["안", "못", "않아요", "없어요"],
                                                   RANDOM_TEXTS)


def matchers() -> dict[str, tuple[PhraseMatcher, str]]:
    """The matchers compared, each with the language of its texts."""
    cfg = load_config(None, {}, user_config=False)
    en = matcher_for(cfg, "en")
    assert en is not None
    return {
        "en": (en, "en"),
        "en-strict": (PhraseMatcher(en.phrases, 0.0, language="en"), "en"),
        "en-loose": (PhraseMatcher(en.phrases, 0.45, language="en"), "en"),
        "ko": (PhraseMatcher(KOREAN, language="ko"), "ko"),
        "ko-plain": (PhraseMatcher(KOREAN), "ko"),
    }


def dump() -> tuple[dict[str, list], float, int]:
    """Every matcher's matches of its texts, the CPU seconds it took, and how many texts."""
    en_phrases = list(matcher_for(load_config(None, {}, user_config=False), "en").phrases)
    cases = {"en": english_cases(en_phrases), "ko": korean_cases()}
    out: dict[str, list] = {}
    t0 = time.process_time()
    for name, (matcher, lang) in matchers().items():
        out[name] = [[text, breaks, [list(vars(m).values()) for m in matcher.match(text, set(breaks))]]
                     for text, breaks in cases[lang]]
    return out, time.process_time() - t0, sum(len(v) for v in out.values())


def table_levenshtein(a: str, b: str) -> int:
    """Levenshtein distance by the whole dynamic programme (the reference)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def levenshtein_mismatches(n: int = 20000) -> int:
    """How many of ``n`` seeded random pairs (and bounds) the matcher's ``_levenshtein`` gets
    otherwise than the whole table (with a bound ``most``: the distance if at most ``most``, else
    ``most + 1``)."""
    rng = random.Random(58)
    bad = 0
    for _ in range(n):
        a, b = ("".join(rng.choice("abcde가각") for _ in range(rng.randint(0, 14))) for _ in range(2))
        full, most = table_levenshtein(a, b), rng.randint(0, 8)
        bad += phrases._levenshtein(a, b) != full
        if "most" in getattr(phrases._levenshtein, "__wrapped__", phrases._levenshtein).__code__.co_varnames:
            bad += phrases._levenshtein(a, b, most) != min(full, most + 1)
    return bad


def differences(now: dict[str, list], before: dict[str, list]) -> list[str]:
    """Where ``now`` and ``before`` differ, one line each."""
    lines = []
    for name in sorted(set(now) | set(before)):
        a, b = now.get(name, []), before.get(name, [])
        if len(a) != len(b):
            lines.append(f"{name}: {len(a)} texts, before {len(b)}")
        lines += [f"{name}: {x[0]!r} {x[1]}: {x[2]} before {y[2]}" for x, y in zip(a, b) if x != y]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Dump the matches to a file; with ``--against``, say where they differ from an earlier dump."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--against", type=Path)
    args = ap.parse_args(argv)
    found, cpu, n = dump()
    args.out.write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")
    matched = sum(1 for v in found.values() for case in v if case[2])
    print(f"{n} texts, {matched} with a match, {cpu:.1f} s CPU ({1000 * cpu / n:.1f} ms a text); "
          f"Levenshtein: {levenshtein_mismatches()} of 20000 random pairs otherwise than the whole table")
    if args.against is None:
        return 0
    diff = differences(found, json.loads(args.against.read_text(encoding="utf-8")))
    print("\n".join(diff[:40]) if diff else f"identical to {args.against}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
