"""``tools.evaluate`` with a baseline that leaves out its last GUARD seconds of windows when it freezes.

    GUARD=20 PYTHONPATH=. python research/gradual/guard_eval.py DIR --split tune -j 1 --cache C \
        --json OUT.json --files

An experiment (not kept): the baseline freezes when it would (the same keys), but its statistics
come only from the cue windows that ended at least GUARD seconds before the freeze (when at least
``baseline_min_windows`` of them remain; the short windows' statistics as before), so that the
start of a gradual onset that falls in the baseline's last seconds is not held in it.
Only the baseline is patched; run it with ``-j 1`` (one process) over cached cue streams.
"""

from __future__ import annotations

import os
import sys
from types import MappingProxyType

from monitor.analysis import baseline as B

GUARD = float(os.environ.get("GUARD", "0"))
_add, _current = B.BaselineBuilder.add, B.BaselineBuilder.current


def add(self: B.BaselineBuilder, cues):
    """Note the time and the values' counts of each window the baseline takes, then add it."""
    speech = cues.speech_s or 0.0
    if (cues.channel == self.channel and self._frozen is None
            and speech >= self._cfg.baseline_min_window_speech_s and speech > 0):
        self.__dict__.setdefault("_ts", []).append(cues.t)
        self.__dict__.setdefault("_counts", []).append(
            {k: len(v) + (cues.value(k) is not None) for k, v in self._values.items()})
    return _add(self, cues)


def current(self: B.BaselineBuilder) -> B.Baseline | None:
    """The statistics of the windows that ended GUARD seconds before the last one."""
    if self._frozen is not None or self._windows == 0 or GUARD <= 0:
        return _current(self)
    ts = self.__dict__.get("_ts", [])
    keep = sum(1 for t in ts if t <= ts[-1] - GUARD)
    if keep < self._cfg.baseline_min_windows:
        return _current(self)
    counts = self._counts[keep - 1]
    stats = {k: B.CueStats.of(v[:counts[k]]) for k, v in self._values.items() if counts[k]}
    short = {k: B.CueStats.of(v) for k, v in self._short.items() if v}
    return B.Baseline(cues=MappingProxyType(stats), start_t=self._first_t or 0.0, end_t=ts[keep - 1],
                      speech_s=round(self._speech_s, 3), windows=keep, short=MappingProxyType(short))


B.BaselineBuilder.add, B.BaselineBuilder.current = add, current

if __name__ == "__main__":
    from tools import evaluate as ev
    sys.exit(ev.main(sys.argv[1:]))
