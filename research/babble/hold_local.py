"""Measure: ``hold_detect.py`` with a reference of the talk heard under the agent instead of the caller's level.

A caller-leg run is clear talk (it ends a hold) only if it peaks more than ABOVE_DB over the
Q quantile of the energy of the caller leg's last REF_S seconds of speech frames heard under the
agent's speech before it (at least MIN_S of them; without them, a run is clear unless it peaks
GATE_DB under the caller's level). What ``analysis.hold_rest_*`` became (README).

    PYTHONPATH=. python research/babble/hold_local.py FAMILIES QUIET_S GATE_DB AFTER_S ABOVE_DB REF_S MIN_S Q [rewind] [unanswered] -- DIR --split tune -j 1 --cache CACHE --json OUT.json --files --set analysis.hold_rest_quiet_s=0

(the analyzer's own hold test off: this one stands in for it).
"""
import sys
import numpy as np
sys.path.insert(0, "research/babble")
import hold_detect as hd
from monitor.alerts import rules
from monitor.analysis.cue_windows import other_speech
from monitor.analysis.frame_features import HOP_S
from monitor.cue_registry import FAMILIES
from monitor.dsp.runs import runs_to_mask
from monitor.dsp.voice_gate import run_peaks
from tools import evaluate as ev

a = sys.argv[1:sys.argv.index("--")]
names = set(FAMILIES) if a[0] == "all" else set(a[0].split(","))
quiet_s, gate_db, after_s, above_db, ref_s, min_s, q = (float(x) for x in a[1:8])
rewind, unanswered = "rewind" in a, "unanswered" in a

def local_ref(caller, theirs, starts):
    under = caller.speech & theirs
    idx = np.flatnonzero(under)
    e = caller.energy_db[idx]
    n_ref, n_min = int(round(ref_s / HOP_S)), int(round(min_s / HOP_S))
    k = np.searchsorted(idx, starts)  # under-agent frames before each run
    out = np.full(len(starts), np.nan)
    for i, kk in enumerate(k):
        if kk >= n_min:
            out[i] = np.quantile(e[max(0, kk - n_ref):kk], q)
    return out

def hold_quiet(caller, agent, quiet_s, gate_db, after_s, unanswered=False, above_db=0.0):
    theirs = other_speech(caller, agent)
    starts, ends, peaks = run_peaks(caller.energy_db, caller.speech)
    level = hd.running_level_db(caller.energy_db, caller.speech, int(round(hd.LEVEL_STEP_S / HOP_S)))
    ref = local_ref(caller, theirs, starts)
    by_level = ~(peaks < level[starts] - gate_db)
    clear = np.where(np.isnan(ref), by_level, peaks > ref + above_db)
    talk = theirs | runs_to_mask(starts[clear], ends[clear], len(caller))
    idx = np.arange(len(caller))
    last = np.maximum.accumulate(np.where(talk, idx, -1))
    deep = (idx - last) * HOP_S >= quiet_s
    if unanswered:
        deep &= (last >= 0) & theirs[np.maximum(last, 0)]
    last_deep = np.maximum.accumulate(np.where(deep, idx, -10 ** 9))
    rest = (idx - last_deep) * HOP_S <= after_s
    since = caller.t[np.clip(last[np.maximum(last_deep, 0)] + 1, 0, len(caller) - 1)]
    return rest, np.where(rest, since, np.nan)

hd.hold_quiet = hold_quiet
sys.argv = ["hold_detect", a[0], str(quiet_s), str(gate_db), str(after_s),
            "unanswered" if unanswered else "any", str(above_db)] + (["rewind"] if rewind else ["-"]) + sys.argv[sys.argv.index("--"):]
sys.exit(hd.main())
