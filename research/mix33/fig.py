"""tools.train_sound_class's figures with a decision variant of research/mix33/variants.py patched into the
analyzer (the whole-signal path the tool uses).

    PYTHONPATH=. python research/mix33/fig.py VARIANT KEY=VALUE ... -- TOOL ARGUMENTS
"""
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import monitor.analysis.analyzer as A  # noqa: E402
import variants  # noqa: E402
from tools import train_sound_class as T  # noqa: E402

cut = sys.argv.index("--")
given = {}
for arg in sys.argv[2:cut]:
    key, value = arg.split("=")
    given[key] = float(value) if "." in value else int(value)
A.sound_classes = functools.partial(getattr(variants, sys.argv[1]), **given)
print("variant", sys.argv[1], given, flush=True)
raise SystemExit(T.main(sys.argv[cut + 1:]))
