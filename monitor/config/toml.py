"""Render a :class:`~monitor.config.Config` as commented TOML (``call-monitor config``).

The output parses back (tomllib) to the same configuration; ``false`` stands for an
unset optional threshold. A key whose default is computed from the environment (the files under the
XDG base directories) and that nothing set is printed commented out, with its value here: saved as a
configuration file that another user, or another ``$XDG_DATA_HOME``, reads, it is that reader's default
still, not this user's path; so is a path a file set from the home folder (``~/calls.db``), printed as
that file spells it. Its secrets (the console's agent tokens, a URL's query values and path
after its first segment) are hidden unless asked for (``--show-secrets``); saved back hidden, they
are refused with the key named.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from dataclasses import fields, is_dataclass
from typing import Any, Mapping

from .schema import (ActionsConfig, AnalysisConfig, Config, DaemonConfig, DeliveryConfig,
                     EmergencyRuleConfig, PhraseRuleConfig, PhrasesConfig, RuleConfig,
                     StorageConfig, SupervisorConfig, TranscriptionConfig, XDG_PATH_KEYS, key_docs)
from .tokens import hidden_agent_tokens
from .urls import redact_url


def _value(v: Any) -> str:
    if v is None:
        return "false"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (tuple, list)):
        if not v:
            return "[]"
        return "[\n" + "".join(f"    {_value(x)},\n" for x in v) + "]"
    raise TypeError(f"cannot render {v!r} as TOML")


def _comment(doc: str) -> str:
    return "".join(f"# {line}\n" for line in textwrap.wrap(doc, 92))


def _bounds(meta: Any) -> str:
    """" (allowed: 0.5 to 60)" from a key's checks, or ""."""
    low = f">= {meta['min']:.15g}" if "min" in meta else f"> {meta['gt']:.15g}" if "gt" in meta else None
    high = f"<= {meta['max']:.15g}" if "max" in meta else f"< {meta['lt']:.15g}" if "lt" in meta else None
    parts = [p for p in (low, high) if p]
    return f" (allowed: {', '.join(parts)})" if parts else ""


def _shown(value: Any, meta: Mapping[str, Any], secrets: bool) -> Any:
    """A key's value as printed: with ``secrets`` as it is, else the secrets in it hidden as
    everywhere else a person is shown them (``redact_url``; the console's agent tokens likewise),
    each counting the characters it hides."""
    if secrets or not value:
        return value
    if meta.get("kind") == "url":
        return redact_url(value, counted=True)
    if meta.get("kind") == "agent_tokens":
        return hidden_agent_tokens(value)
    return value


def _hides_secrets(cfg: Config) -> bool:
    """Whether printing ``cfg`` without its secrets hides any (a URL with a query or a path of more
    than one segment, agent tokens)."""
    return any(_shown(getattr(section, f.name), f.metadata, False) != getattr(section, f.name)
               for section in (getattr(cfg, s.name) for s in fields(cfg)) if is_dataclass(section)
               for f in fields(section))


def _unset_computed(cfg: Config) -> frozenset[str]:
    """The dotted keys whose default is computed from the environment (:data:`XDG_PATH_KEYS`) that no
    file nor the command line set: printed commented out, so that saving the output does not fix them."""
    return frozenset(key for key in XDG_PATH_KEYS if key not in cfg.origin)


def _as_written(cfg: Config) -> dict[str, str]:
    """The path keys the loader expanded (:attr:`~monitor.config.schema.Config.written`) as the file
    or command line that set them spells them (``~/calls.db``), where the value is still that one
    expanded: printed so, a file saved from the output follows its reader's home, as the one it came
    from did, not this user's."""
    return {key: text for key, text in cfg.written.items()
            if os.path.expanduser(text) == getattr(getattr(cfg, key.split(".")[0]), key.split(".")[1])}


def _table(name: str, obj: Any, cls: type, doc: str = "", skip: tuple[str, ...] = (), *, secrets: bool,
           unset: frozenset[str] = frozenset(), written: Mapping[str, str] | None = None) -> str:
    """The section ``name`` of ``obj``, each key under its meaning; a key of ``unset`` commented out
    after a line saying why (:func:`_unset_computed`); one of ``written`` as it is spelt there
    (:func:`_as_written`)."""
    docs = key_docs(cls)
    out = [f"\n{_comment(doc) if doc else ''}[{name}]\n"]
    for f in fields(cls):
        if f.name in skip:
            continue
        if f.name in docs:
            out.append(_comment(docs[f.name] + _bounds(f.metadata)))
        elif f.name == "cue":
            out.append(_comment("the cue this rule watches"))
        elif f.name == "direction":
            out.append(_comment("\"below\" or \"above\": the direction of trouble"))
        value = (written or {}).get(f"{name}.{f.name}", getattr(obj, f.name))
        line = f"{f.name} = {_value(_shown(value, f.metadata, secrets))}\n"
        if f"{name}.{f.name}" in unset:
            folder = XDG_PATH_KEYS[f"{name}.{f.name}"][0]
            line = f"# left unset, to follow the reader's $HOME and ${folder}; for this user:\n# {line}"
        out.append(line)
    return "".join(out)


def _header(cfg: Config, user_config: str, secrets: bool) -> list[str]:
    """The lines above the tables: where ``cfg`` was read from, and where to save it (the user's
    configuration file, which ``$XDG_CONFIG_HOME`` moves), or, its secrets hidden, how to print it
    so that it can be saved."""
    read = f"# read from: {', '.join(cfg.sources) if cfg.sources else 'built-in defaults only'}"
    if not secrets and _hides_secrets(cfg):
        return ["# callmonitor: effective configuration", read,
                "# Secrets (the agents' tokens, a URL's query values and path after its first segment)",
                f"# are hidden: ***(N characters). To save this as {user_config},",
                "# print it with call-monitor config --show-secrets (keep the file private).\n"]
    return ["# callmonitor: effective configuration", read,
            f"# Save as {user_config} and edit; unset keys keep their defaults.\n"]


def effective_config_toml(cfg: Config, user_config: str = "~/.config/callmonitor/config.toml",
                          secrets: bool = False, pinned: bool = False) -> str:
    """``cfg`` as documented TOML, its secrets hidden unless ``secrets`` (:func:`_shown`); its
    header says to save it as ``user_config`` (:func:`_header`). The keys whose default is computed
    from the environment are printed commented out where nothing set them (:func:`_unset_computed`),
    unless ``pinned``: then every key is set (what a batch's workers load, and its ledger's hash,
    which is that of earlier releases). A path a file set from its home folder (``~/calls.db``) is
    printed as that file spells it, not as this user's path (:func:`_as_written`), unless ``pinned``."""
    parts = _header(cfg, user_config, secrets)
    parts.append(_table("analysis", cfg.analysis, AnalysisConfig,
                        "Cue windows and the caller's baseline.", secrets=secrets))
    for rule in cfg.rules.acoustic:
        parts.append(_table(f"rules.{rule.kind}", rule, RuleConfig,
                            f"Alert rule {rule.kind}: {rule.cue} {rule.direction} its threshold.",
                            skip=("kind",), secrets=secrets))
    parts.append(_table("rules.possible_emergency", cfg.rules.possible_emergency,
                        EmergencyRuleConfig, "Critical alert when several kinds agree.", secrets=secrets))
    parts.append(_table("rules.distress_phrase", cfg.rules.distress_phrase, PhraseRuleConfig,
                        "Alert when the transcript holds a distress phrase.", secrets=secrets))
    parts.append(_table("actions", cfg.actions, ActionsConfig,
                        "Recommended actions attached to alerts.", secrets=secrets))
    ph = _table("phrases", cfg.phrases, PhrasesConfig,
                "Distress phrases: one list per language code.", skip=("phrases",), secrets=secrets)
    for lang, phrases in cfg.phrases.phrases.items():
        key = lang if re.fullmatch(r"[A-Za-z0-9_-]+", lang) else json.dumps(lang, ensure_ascii=False)
        ph += f"# distress phrases in {lang!r}\n{key} = {_value(phrases)}\n"
    parts.append(ph)
    parts.append(_table("transcription", cfg.transcription, TranscriptionConfig,
                        "Local speech recognition (Vosk).", secrets=secrets))
    parts.append(_table("daemon", cfg.daemon, DaemonConfig, "The live daemon (call-monitor run).", secrets=secrets))
    parts.append(_table("delivery", cfg.delivery, DeliveryConfig, "Where alerts are delivered.", secrets=secrets))
    unset, written = (frozenset(), {}) if pinned else (_unset_computed(cfg), _as_written(cfg))
    parts.append(_table("storage", cfg.storage, StorageConfig, "The SQLite store.", secrets=secrets, unset=unset,
                        written=written))
    parts.append(_table("supervisor", cfg.supervisor, SupervisorConfig,
                        "The supervisor's console (call-monitor supervisor).", secrets=secrets, unset=unset,
                        written=written))
    return "\n".join(parts)
