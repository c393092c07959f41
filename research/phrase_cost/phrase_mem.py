"""The distress-phrase matcher's cost over many distinct utterances: CPU per utterance and the
memory the process holds afterwards.

    PYTHONPATH=. python research/phrase_cost/phrase_mem.py 1000

N utterances of 3 to 15 random words of tools/eval_data/dialogues.json (seeded), matched by the
configuration's English matcher; prints the CPU per utterance, the RSS before and after, and the
RSS once the matcher is dropped and memory handed back (glibc's malloc_trim).
"""

from __future__ import annotations

import ctypes
import gc
import random
import re
import sys
import time
from pathlib import Path

from monitor.config import load_config
from monitor.transcription.setup import matcher_for

ROOT = Path(__file__).resolve().parents[2]


def rss_mb() -> float:
    """This process's resident set size, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(n: int) -> None:
    """Match ``n`` random utterances; print the figures."""
    matcher = matcher_for(load_config(None, {}, user_config=False), "en")
    text = (ROOT / "tools" / "eval_data" / "dialogues.json").read_text(encoding="utf-8")
    words = sorted({w.lower() for w in re.findall(r"[a-zA-Z']{2,}", text)})
    rng = random.Random(1)
    utterances = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 15))) for _ in range(n)]
    matcher.match("warm up")
    gc.collect()
    before = rss_mb()
    t0 = time.process_time()
    for utt in utterances:
        matcher.match(utt)
    cpu = time.process_time() - t0
    gc.collect()
    after = rss_mb()
    del matcher
    for module in list(sys.modules.values()):  # the module-level caches of an earlier matcher, if any
        for name in ("_levenshtein", "word_distance", "_chars"):
            getattr(getattr(module, name, None), "cache_clear", lambda: None)()
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    print(f"{n} utterances ({len(words)} words): {1000 * cpu / n:.1f} ms CPU each; RSS {before:.0f} MB before, "
          f"{after:.0f} MB after (+{after - before:.0f}), {rss_mb():.0f} MB once the matcher and any caches are dropped")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
