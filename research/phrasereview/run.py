"""Each sentence list beside this file through the default phrase matcher of the checkout it runs in;
the results as JSON (list name -> [sentence, [[phrase, score, excerpt], ...]]) into the file named."""
import json
import sys
from pathlib import Path

from monitor.transcription.phrases import PhraseMatcher

HERE = Path(__file__).resolve().parent
m = PhraseMatcher.default()
out = {name: [[s, [[x.phrase, x.score, x.excerpt] for x in m.match(s)]]
              for s in (line.strip() for line in (HERE / f"{name}.txt").read_text().splitlines()) if s]
       for name in ("distress", "support")}
Path(sys.argv[1]).write_text(json.dumps(out, indent=0))
