"""Measure: the loudness and pausing families raise possible_emergency together only at a higher score.

Babble read as the caller's speech moves both at once (a weaker voice, phrases cut by its gaps),
so the two agreeing without a third family is weaker evidence than two independent families.
Patches :meth:`Fusion.acoustic` for the run (research only) and runs ``tools.evaluate``:

    PYTHONPATH=. python research/babble/pair_score.py SCORE [HOLD_S] -- DIR --split tune -j 1 --cache CACHE --json OUT --files

SCORE: the score the pair alone needs (inf: the pair alone never raises it); HOLD_S: instead,
the pair alone raises it once the two have agreed (alone) this many seconds of call time.
"""

from __future__ import annotations

import sys

from monitor.alerts import rules
from tools import evaluate as ev

PAIR = frozenset({"loudness", "pausing"})


def main() -> int:
    need = float(sys.argv[1])
    hold_s = float(sys.argv[2]) if sys.argv[2] != "--" else 0.0
    argv = sys.argv[sys.argv.index("--") + 1:]
    plain = rules.Fusion.acoustic
    update = rules.Fusion.update

    def stepped(self, t, *args, **kwargs):
        self._now = t
        return update(self, t, *args, **kwargs)

    def acoustic(self) -> bool:
        agree = self.agreeing()
        now = getattr(self, "_now", 0.0)
        if set(agree) == PAIR and self.alone() is None and self.paired() is None:
            since = self.__dict__.setdefault("_pair_since", now)
            if hold_s > 0:
                return plain(self) and now - since >= hold_s - rules.EPS
            return self.score() >= need - rules.EPS
        self.__dict__.pop("_pair_since", None)
        return plain(self)

    rules.Fusion.update = stepped
    rules.Fusion.acoustic = acoustic
    return ev.main(argv)


if __name__ == "__main__":
    sys.exit(main())
