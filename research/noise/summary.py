"""Tables of README.md from diag.py's output and an evaluation's --json (research script).

    python research/noise/summary.py DIAG.json EVAL.json
"""
from __future__ import annotations

import json
import statistics as st
import sys
from collections import Counter, defaultdict

CUES = ("speech_rate_sps", "articulation_rate_sps", "pause_ratio", "mean_phrase_s", "hnr_db", "cpps_db",
        "loudness_dbfs", "response_latency_s", "breaths_per_min", "paused_breath_share")
KINDS = ("slow_speech", "long_pauses", "slow_response", "short_phrases", "breathy_voice", "weak_voice")


def found(r: dict) -> bool:
    return r["ttc"] is not None and r["ttc"] <= 30


def med(xs) -> str:
    xs = [x for x in xs if x is not None]
    return f"{st.median(xs):6.2f}" if xs else "     -"


def cells(rows: list[dict]) -> None:
    for dims in (("start", "abrupt", "gradual"), ("all", "pauses_breaths", "tempo", "voice"), ("moderate", "severe")):
        key = "onset" if "start" in dims else "degrade" if "all" in dims else "severity"
        print(f"{'noise':8s}" + "".join(f"{d:>16s}" for d in dims))
        for n in ("none", "babble", "hum", "white", "pink"):
            got = [(sum(found(r) for r in rows if r["noise"] == n and r[key] == d),
                    sum(1 for r in rows if r["noise"] == n and r[key] == d)) for d in dims]
            print(f"{n:8s}" + "".join(f"{f'{a}/{b}' if b else '-':>16s}" for a, b in got))
        print()


def moves(rows: list[dict]) -> None:
    groups = defaultdict(list)
    for r in rows:
        if r["noise"] == "none":
            groups["clean"].append(r)
        elif r["noise"] in ("white", "pink"):
            groups[f"{r['noise']} {'found' if found(r) else 'missed'}"].append(r)
    print(f"{'cue: 30 s after the onset (its change)':42s}" + "".join(f"{g:>20s}" for g in sorted(groups)))
    for c in CUES:
        print(f"{c:42s}" + "".join(
            f"{med([r['post'][c] for r in rs])} ({med([r['post'][c] - r['pre'][c] for r in rs if r['post'][c] is not None and r['pre'][c] is not None]).strip():>6s})"
            for _, rs in sorted(groups.items())))
    for k in KINDS:
        print(f"{'max grade ' + k:42s}" + "".join(f"{med([r['grade'].get(k, 0) for r in rs]):>20s}"
                                                  for _, rs in sorted(groups.items())))
    for f in ("tempo", "pausing", "latency", "voice", "loudness"):
        print(f"{'families at level 1: ' + f:42s}" + "".join(
            f"{sum(r['level'].get(f, 0) >= 1 for r in rs):>17d}/{len(rs):<2d}" for _, rs in sorted(groups.items())))
    print()


def ulaw(files: list[dict]) -> None:
    by = {(r["id"], r["rate"]): r for r in files}
    ok = lambda r: r.get("time_to_critical_s") is not None and r["time_to_critical_s"] <= 30  # noqa: E731
    for codec in ("ulaw", "alaw", "none"):
        c = Counter((ok(by[(r["id"], 16000)]), ok(r)) for r in files
                    if r["rate"] == 8000 and r["expect_critical"] and r["condition"]["codec"] == codec)
        print(f"8 kHz {codec:5s} (16 kHz twin, 8 kHz): both {c[(True, True)]}, 16k only {c[(True, False)]}, "
              f"8k only {c[(False, True)]}, neither {c[(False, False)]}")


if __name__ == "__main__":
    rows = json.load(open(sys.argv[1]))
    cells(rows)
    moves(rows)
    ulaw(json.load(open(sys.argv[2]))["files"])
