"""CPU the distress-phrase matcher takes over the evaluation dialogues' sentences, or over the
Korean texts of compare.py.

    PYTHONPATH=. python research/phrase_cost/phrase_speed.py 3000
    PYTHONPATH=. python research/phrase_cost/phrase_speed.py --korean

N sentences drawn (seeded) from the quoted strings of tools/eval_data/dialogues.json, lower-cased,
matched by the configuration's English matcher one after another; with ``--korean``, compare.py's
Korean texts matched by its two Korean matchers (Korean's tables, and none).
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

from monitor.config import load_config
from monitor.transcription.setup import matcher_for

ROOT = Path(__file__).resolve().parents[2]


def english(n: int) -> None:
    """Match ``n`` sentences; print the CPU they took."""
    matcher = matcher_for(load_config(None, {}, user_config=False), "en")
    text = (ROOT / "tools" / "eval_data" / "dialogues.json").read_text(encoding="utf-8")
    sentences = [s.lower() for s in re.findall(r'"([^"]{20,})"', text)]
    rng = random.Random(2)
    t0 = time.process_time()
    for _ in range(n):
        matcher.match(rng.choice(sentences))
    cpu = time.process_time() - t0
    print(f"{n} sentences of {len(sentences)}: {cpu:.1f} s CPU, {1000 * cpu / n:.1f} ms each")


def korean() -> None:
    """Match compare.py's Korean texts with its Korean matchers; print the CPU per text."""
    sys.path.insert(0, str(Path(__file__).parent))
    import compare
    cases = compare.korean_cases()
    for name, (matcher, language) in compare.matchers().items():
        if language == "ko":
            t0 = time.process_time()
            for text, breaks in cases:
                matcher.match(text, set(breaks))
            print(f"{name}: {len(cases)} texts, {1000 * (time.process_time() - t0) / len(cases):.2f} ms each")


if __name__ == "__main__":
    if sys.argv[1:] == ["--korean"]:
        korean()
    else:
        english(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
