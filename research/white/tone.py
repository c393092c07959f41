"""Hops whose window the tone check voids (articulation rate under analysis.tone_max_articulation_sps
with HNR at analysis.tone_min_hnr_db or more), per line condition, from the evaluation's cue cache.

    PYTHONPATH=. python research/white/tone.py DIR CACHE [MONITOR_DIR_OF_THE_CACHE'S_CODE]
"""
import sys
from collections import defaultdict
from pathlib import Path

from tools import evaluate as ev

folder, cache = sys.argv[1:3]
if len(sys.argv) > 3:  # the frames of another checkout's analyzer
    ev.ANALYZER_DIGEST = ev._digest_sources(Path(sys.argv[3]), ev.ANALYZER_SOURCES)
settings, cfg, jobs = ev.corpus_of(ev.corpus_tool_parser("tone", "x").parse_args([folder, "--split", "tune"]))
a = cfg.analysis
count = defaultdict(lambda: [0, 0, 0])
for j in jobs:
    stream = ev.cache_load(cache, ev.cue_key(j, cfg), ev.CueStream)
    snr = j.condition.get("snr_db")
    k = f"{j.condition.get('noise')}/{j.rate // 1000}k" + ("" if snr is None or snr >= 10 else " <10 dB")
    for c in stream.cues:
        spoke = bool(c.speech_s)
        tone = (c.articulation_rate_sps is not None and c.hnr_db is not None
                and c.articulation_rate_sps < a.tone_max_articulation_sps and c.hnr_db >= a.tone_min_hnr_db)
        count[k][0] += 1
        count[k][1] += spoke
        count[k][2] += tone
for k, (n, s, t) in sorted(count.items()):
    print(f"{k:<18} hops {n:>6}  with caller speech {s:>6}  voided by the tone check {t:>4}")
