"""tools.train_sound_class's figures with analyzer settings overridden in its process.

    PYTHONPATH=. python research/onset/fig.py KEY=VALUE ... -- TOOL ARGUMENTS

KEY: a SoundClassParams field, or syl.FIELD for a SyllableParams one (a value with a dot is a float).
"""
import dataclasses
import sys

import monitor.analysis.analyzer as A
from tools import train_sound_class as T

cut = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
given = {}
for arg in sys.argv[1:cut]:
    key, value = arg.split("=")
    given[key] = float(value) if "." in value else int(value)
sound = {k: v for k, v in given.items() if not k.startswith("syl.")}
syllables = {k[4:]: v for k, v in given.items() if k.startswith("syl.")}
base = A.WITH_SOUND_CLASS
T.WITH_SOUND_CLASS = dataclasses.replace(base, sound=dataclasses.replace(base.sound, **sound),
                                         syllables=dataclasses.replace(base.syllables, **syllables))
print("variant", given, flush=True)
raise SystemExit(T.main(sys.argv[cut + 1:]))
