"""Measure: a hold found from the audio (no labels) and the fusion adding no evidence over it.

The hold test of ``hold_oracle.py`` with the labels replaced by a detector on the analyzer's
cached frames of both legs: a hold is a stretch of ``QUIET_S`` or more in which neither party
speaks clearly: no agent speech and no run of the caller's leg that peaks within ``GATE_DB`` of
the caller's level (their level up to then: the 0.9 quantile of their leg's speech frames, as the
analyzer's). Talk on the caller's leg fainter than that (the babble of a hold) does not end it.
With ``ABOVE_DB`` > 0, a run that peaks under the level of the talk the caller's leg carries
while the agent speaks (the background-talk gate's) plus ``ABOVE_DB`` is not clear either.
From ``QUIET_S`` into such a stretch to ``AFTER_S`` past its end, the named families' accumulation
has no weight (as while the caller's window is stale); with ``rewind``, the family's sum also
goes back to what it was when the stretch began (its evidence from the stretch's first seconds,
before it was known for one, is undone). With ``unanswered``, only a stretch whose
last clear talk was the agent's counts (a turn of theirs the caller does not answer).

    PYTHONPATH=. python research/babble/hold_detect.py FAMILIES QUIET_S GATE_DB AFTER_S any|unanswered ABOVE_DB [rewind] -- DIR --split tune -j 1 --cache CACHE --json OUT.json --files

The cache must hold the files' frames (a run of ``tools.evaluate`` with that cache made them).
"""

from __future__ import annotations

import sys

import numpy as np

from monitor.alerts import rules
from monitor.analysis.cue_windows import background_level_db, other_speech
from monitor.analysis.frame_features import HOP_S, Frames
from monitor.cue_registry import FAMILIES
from monitor.dsp.runs import runs_to_mask
from monitor.dsp.voice_gate import run_peaks
from tools import evaluate as ev

LEVEL_STEP_S = 1.0  # the caller's level is taken again every this many seconds of call time
BACKGROUND_BELOW_DB, BACKGROUND_MIN_S = 8.0, 5.0  # the analyzer's voice_background_below_db, _min_s


def leg_frames(record: ev.FrameRecord, leg: str) -> Frames:
    """Every frame one leg's analyzer returned for the call, in order."""
    i = record.legs.index(leg)
    return Frames.concat([step[i] for step in record.fed] + [record.flushed[i]])


def running_level_db(energy_db: np.ndarray, speech: np.ndarray, step: int) -> np.ndarray:
    """Per frame, the 0.9 quantile of the speech frames' energy up to the last multiple of
    ``step`` frames before it (NaN before any speech). Shapes (n,), (n,) -> (n,)."""
    n = len(energy_db)
    level = np.full(n, np.nan)
    for k in range(step, n + step, step):
        e = energy_db[:k][speech[:k]]
        if len(e):
            level[k:k + step] = np.quantile(e, 0.9)
    return level


def running_background_db(caller: Frames, theirs: np.ndarray, level: np.ndarray, step: int) -> np.ndarray:
    """Per frame, the background talk's level heard under the agent's speech up to the last
    multiple of ``step`` frames before it (:func:`background_level_db` with the analyzer's
    defaults; NaN while there is none). Shape (n,)."""
    n = len(caller)
    out = np.full(n, np.nan)
    for k in range(step, n + step, step):
        lv = level[min(k, n) - 1]
        if np.isfinite(lv):
            b = background_level_db(caller.energy_db[:k], caller.speech[:k], theirs[:k], float(lv),
                                    BACKGROUND_BELOW_DB, BACKGROUND_MIN_S, HOP_S)
            if b is not None:
                out[k:k + step] = b
    return out


def hold_quiet(caller: Frames, agent: Frames, quiet_s: float, gate_db: float, after_s: float,
               unanswered: bool = False, above_db: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Frame times (s) of the caller's leg where the families rest: from ``quiet_s`` into a
    stretch without clear talk of either party to ``after_s`` past its end, and where there, the
    time that stretch began (else NaN). Shapes (n,) bool, (n,); with ``unanswered``,
    only a stretch whose last clear talk was the agent's; with ``above_db`` > 0, a run that peaks
    under the background talk's level plus ``above_db`` is not clear either. Shape (n,), bool."""
    theirs = other_speech(caller, agent)
    starts, ends, peaks = run_peaks(caller.energy_db, caller.speech)
    level = running_level_db(caller.energy_db, caller.speech, int(round(LEVEL_STEP_S / HOP_S)))
    clear = ~(peaks < level[starts] - gate_db)  # NaN level (no speech yet): clear
    if above_db > 0:  # and a run no louder than the background talk plus above_db is not clear
        step = int(round(LEVEL_STEP_S / HOP_S))
        background = running_background_db(caller, theirs, level, step)[starts]
        clear &= ~(peaks < background + above_db)  # NaN background: clear
    talk = theirs | runs_to_mask(starts[clear], ends[clear], len(caller))
    idx = np.arange(len(caller))
    last = np.maximum.accumulate(np.where(talk, idx, -1))
    deep = (idx - last) * HOP_S >= quiet_s
    if unanswered:  # only a silence that follows the agent's speech: their turn left unanswered
        deep &= (last >= 0) & theirs[np.maximum(last, 0)]
    last_deep = np.maximum.accumulate(np.where(deep, idx, -10 ** 9))
    rest = (idx - last_deep) * HOP_S <= after_s
    since = caller.t[np.clip(last[np.maximum(last_deep, 0)] + 1, 0, len(caller) - 1)]
    return rest, np.where(rest, since, np.nan)


def main() -> int:
    names = set(FAMILIES) if sys.argv[1] == "all" else set(sys.argv[1].split(","))
    quiet_s, gate_db, after_s = (float(a) for a in sys.argv[2:5])
    unanswered = sys.argv[5] == "unanswered"
    above_db = float(sys.argv[6])
    argv = sys.argv[sys.argv.index("--") + 1:]
    rewind = len(sys.argv) > 7 and sys.argv[7] == "rewind"
    empty = (np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0))
    current: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [empty]
    past: dict = {}  # per (window, family): the sums before each hop, and the stretch last rewound
    plain_job, plain_acc = ev.evaluate_job, rules.Fusion._accumulate

    def evaluate_job(job, settings):
        record = ev.cache_load(settings.cache_dir, ev.frames_key(job), ev.FrameRecord)
        if record is not None:
            caller, agent = leg_frames(record, "caller"), leg_frames(record, "agent")
            current[0] = (caller.t, *hold_quiet(caller, agent, quiet_s, gate_db, after_s, unanswered, above_db))
        else:
            current[0] = empty
        past.clear()
        return plain_job(job, settings)

    def accumulate(self, window, family, t, weight, grade):
        times, rest, since = current[0]
        key = (window, family)
        hist = past.setdefault(key, ([], [], [None]))
        hist[0].append(t)
        hist[1].append(self._sums(window).get(family, 0.0))
        if family in names and len(times):
            i = max(min(int(np.searchsorted(times, t)), len(times) - 1) - 1, 0)
            if rest[i]:
                weight = 0.0
                if rewind and hist[2][0] != since[i]:  # the stretch's evidence so far is undone
                    hist[2][0] = since[i]
                    j = int(np.searchsorted(hist[0], since[i]))
                    sums = self._sums(window)
                    sums[family] = min(sums.get(family, 0.0), hist[1][min(j, len(hist[1]) - 1)])
        return plain_acc(self, window, family, t, weight, grade)

    ev.evaluate_job = evaluate_job
    rules.Fusion._accumulate = accumulate
    return ev.main(argv)


if __name__ == "__main__":
    sys.exit(main())
