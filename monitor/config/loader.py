"""Loading the configuration: TOML layers validated against the schema, merged in order.

Each key is checked against its dataclass field's resolved type annotation
(:func:`typing.get_type_hints`) and its metadata (``min``, ``max``, ``gt``, ``choices``,
``kind``), so a new key needs no code here.  Layers, later ones win: built-in defaults <- the
user's config file <- ``--config FILE`` <- command-line overrides.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import tomllib
from dataclasses import fields, replace
from pathlib import Path
from types import MappingProxyType, UnionType
from typing import Any, Callable, Iterable, Mapping, NoReturn, get_args, get_origin, get_type_hints

from ..cue_registry import FAMILIES, cue
from ..files import cannot_read, others_may_change, read_waiting
from .schema import (ACOUSTIC_KINDS, ActionsConfig, AnalysisConfig, Config, ConfigError, DaemonConfig,
                     DeliveryConfig, EmergencyRuleConfig, PhraseRuleConfig, PhrasesConfig, RuleConfig,
                     StorageConfig, SupervisorConfig, TranscriptionConfig, default_paths, xdg_home)
from .language import language_problem
from .listen import listen_problem
from .sockets import socket_length_problem
from .tokens import agent_tokens_problem, hidden_agent_tokens
from .urls import hidden, origin_problem, redact_url, url_problem

SECTIONS: tuple[str, ...] = ("analysis", "rules", "actions", "phrases", "transcription", "daemon",
                             "delivery", "storage", "supervisor")
_SIMPLE = MappingProxyType({"analysis": AnalysisConfig, "actions": ActionsConfig, "transcription":
                            TranscriptionConfig, "daemon": DaemonConfig, "delivery": DeliveryConfig,
                            "storage": StorageConfig, "supervisor": SupervisorConfig})

# --------------------------------------------------------------------------- validation


def _allowed(meta: Mapping[str, Any]) -> str:
    """" (allowed: 0.5 to 60)" for a key with both bounds, else "" ("above 0", "below 1" for bounds
    that are not allowed themselves)."""
    low = meta.get("min", meta.get("gt"))
    high = meta.get("max", meta.get("lt"))
    if low is None or high is None:
        return ""
    return f" (allowed: {'above ' if 'gt' in meta else ''}{low:.15g} to {'below ' if 'lt' in meta else ''}{high:.15g})"


def _value_type(annotation: Any) -> tuple[Any, bool]:
    """(the type a key holds, whether it may be None) from its resolved annotation."""
    if isinstance(annotation, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(get_args(annotation))
    return annotation, False


def _as_toml(value: Any) -> str:
    """A value as the file spells it, for "got ...": ``true`` rather than Python's ``True``."""
    return str(value).lower() if isinstance(value, bool) else repr(value)


_HIDDEN = {"url": lambda text: redact_url(text, counted=True), "origin": lambda text: redact_url(text, counted=True),
           "agent_tokens": lambda text: hidden_agent_tokens((text,))[0]}
"""How the secrets in a value of each kind of key are shown in an error line, as `config` prints them."""


def _got(value: Any, meta: Mapping[str, Any]) -> str:
    """``value`` as the file spells it (:func:`_as_toml`), each string in it hidden as a secret of the
    key's kind is (a URL's key, an agent's token), whatever the value's type, however deep in lists
    and tables: for "got ..."."""
    kind = meta.get("kind")
    hide = _HIDDEN.get(kind) if isinstance(kind, str) else None
    return _as_toml(value if hide is None else _each_string(value, hide))


def _each_string(value: Any, hide: Callable[[str], str]) -> Any:
    """``value`` with ``hide`` applied to each string in it, in lists and tables (their keys too)."""
    if isinstance(value, str):
        return hide(value)
    if isinstance(value, list):
        return [_each_string(v, hide) for v in value]
    if isinstance(value, dict):
        return {_each_string(k, hide): _each_string(v, hide) for k, v in value.items()}
    return value


def _holds_secrets(cls: type) -> bool:
    """Whether a section has a key whose value is a secret (:data:`_HIDDEN`)."""
    return any(f.metadata.get("kind") in _HIDDEN for f in fields(cls))


def _check_type(value: Any, kind: Any, optional: bool, where: str, meta: Mapping[str, Any]) -> Any:
    """Coerce ``value`` to ``kind`` (bool, int, float, str or tuple of str) or fail, the value
    named with its secrets hidden (:func:`_got`)."""
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false, got {_got(value, meta)}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: must be an integer, got {_got(value, meta)}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            extra = " or false" if optional else ""
            raise ConfigError(f"{where}: must be a number{extra}, got {_got(value, meta)}")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{where}: must be a finite number, got {_got(value, meta)}")
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: must be a string, got {_got(value, meta)}")
    elif get_origin(kind) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: must be a list of strings, got {_got(value, meta)}")
        value = tuple(value)
    return value


def _check_choice(value: Any, meta: Mapping[str, Any], where: str) -> None:
    choices = meta["choices"]
    if value in choices:
        return
    if "unknown" in meta:
        raise ConfigError(f"{where}: unknown {meta['unknown']} {value!r} (known: {', '.join(choices)})")
    problem = meta.get("problem") or f"must be one of {', '.join(choices)}"
    raise ConfigError(f"{where}: {problem}, got {value!r}")


def _check_value(value: Any, annotation: Any, meta: Mapping[str, Any], where: str) -> Any:
    """Coerce and check one value against its annotation and field metadata; ``where`` is
    "source: dotted.key"."""
    kind, optional = _value_type(annotation)
    if optional and value is False:
        return None
    value = _check_type(value, kind, optional, where, meta)
    if kind is bool:
        return value
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{where}: must be >= {meta['min']}, got {value!r}{_allowed(meta)}")
    if "gt" in meta and value <= meta["gt"]:
        raise ConfigError(f"{where}: must be > {meta['gt']}, got {value!r}{_allowed(meta)}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{where}: must be <= {meta['max']}, got {value!r}{_allowed(meta)}")
    if "lt" in meta and value >= meta["lt"]:
        raise ConfigError(f"{where}: must be < {meta['lt']}, got {value!r}{_allowed(meta)}")
    if "choices" in meta:
        _check_choice(value, meta, where)
    if meta.get("kind") == "path" and not value.strip():  # Path("") is ".", the current folder
        raise ConfigError(f"{where}: an empty path; give a file, or leave the key out for its default")
    if meta.get("kind") == "language" and (problem := language_problem(value)):  # no model could have it
        raise ConfigError(f"{where}: {problem}; give one as Vosk names its models (en-us, de, ko, ...), or "
                          "leave the key out for its default")
    if meta.get("kind") == "agent_tokens" and (problem := agent_tokens_problem(value)):
        raise ConfigError(f"{where}: {problem}")
    if meta.get("kind") == "url" and value and (problem := url_problem(value)):
        raise ConfigError(f"{where}: {problem}, got {redact_url(value)!r}")
    if meta.get("kind") == "origin" and value and (problem := origin_problem(value)):
        raise ConfigError(f"{where}: {problem}, got {redact_url(value)!r}")
    if meta.get("kind") == "socket" and value and (problem := socket_length_problem(value)):
        raise ConfigError(f"{where}: {problem}; give a shorter one, or leave the key out for its default")
    if meta.get("kind") == "listen" and (problem := listen_problem(value)):
        raise ConfigError(f"{where}: {problem}, got {value!r}")
    return value


def _known_or_close(name: str, known: Iterable[str]) -> str:
    """"did you mean X?" for a misspelt ``name`` close to one of ``known``, else "known: ..."."""
    names = list(known)
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean {close[0]}?" if close else f"known: {', '.join(names)}"


def _outside_sections(key: str) -> str:
    """The problem of a bare ``key = value`` above every section header: the sections that hold a
    key of that name, if any."""
    homes = [name for name, cls in _SIMPLE.items() if key in {f.name for f in fields(cls)}]
    if homes:
        return f"a key outside any section (it belongs under {' or '.join(f'[{h}]' for h in homes)})"
    return f"a key outside any section, and no section has it (sections: {', '.join(SECTIONS)})"


def _check_table(raw: Any, cls: type, prefix: str, source: str,
                 skip: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(raw, dict):
        shown = _each_string(raw, lambda text: hidden(text, counted=True)) if _holds_secrets(cls) else raw
        raise ConfigError(f"{source}: {prefix}: must be a table, got {shown!r}")
    known = {f.name: f for f in fields(cls) if f.name not in skip}
    hints = get_type_hints(cls)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{source}: {prefix}.{key}: unknown key ({_known_or_close(key, known)})")
        out[key] = _check_value(value, hints[key], known[key].metadata, f"{source}: {prefix}.{key}")
    return out


def _check_layer(raw: Mapping[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """Validate one layer (a parsed TOML file); returns {section: {key: value}} (rules nested)."""
    out: dict[str, dict[str, Any]] = {}
    for section, table in raw.items():
        if section not in SECTIONS and not isinstance(table, dict):
            raise ConfigError(f"{source}: {section}: {_outside_sections(section)}")
        if section not in SECTIONS:
            raise ConfigError(f"{source}: {section}: unknown section ({_known_or_close(section, SECTIONS)})")
        if section in _SIMPLE:
            out[section] = _check_table(table, _SIMPLE[section], section, source)
        elif section == "phrases":
            out[section] = _check_phrases(table, source)
        else:
            out[section] = _check_rules(table, source)
    return out


_WORD = re.compile(r"[^\W_]")
"""A letter or digit: a phrase without one has no word to match (the phrase matcher refuses it)."""


def _check_phrases(table: Any, source: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: phrases: must be a table, got {table!r}")
    plain = {k: v for k, v in table.items() if k in ("language", "tolerance")}
    out = _check_table(plain, PhrasesConfig, "phrases", source, skip=("phrases",))
    lists: dict[str, tuple[str, ...]] = {}
    for lang, value in table.items():
        if lang in plain:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{source}: phrases.{lang}: must be a list of non-empty phrases "
                              f"(a language code with its list), got {value!r}")
        if wordless := [v for v in value if not _WORD.search(v)]:
            raise ConfigError(f"{source}: phrases.{lang}: a phrase must hold a word, got {wordless[0]!r}")
        lists[lang] = tuple(value)
    out["phrases"] = lists
    return out


def _unknown_rule(kind: str) -> str:
    """The problem of a ``[rules.KIND]`` table that is none of the rules and no new one (no cue and
    direction): the rule it is close to, if any (a misspelt one would otherwise seem a new rule)."""
    known = (*ACOUSTIC_KINDS, "possible_emergency", "distress_phrase")
    close = difflib.get_close_matches(kind, known, n=1)
    if close:
        return f"unknown rule kind (did you mean {close[0]}?)"
    return f"unknown rule kind (known: {', '.join(known)}); a new rule needs 'cue' and 'direction'"


def _check_rules(table: Any, source: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: rules: must be a table, got {table!r}")
    out: dict[str, Any] = {}
    for kind, rule in table.items():
        prefix = f"rules.{kind}"
        if kind == "possible_emergency":
            checked = _check_table(rule, EmergencyRuleConfig, prefix, source)
        elif kind == "distress_phrase":
            checked = _check_table(rule, PhraseRuleConfig, prefix, source)
        else:
            checked = _check_table(rule, RuleConfig, prefix, source, skip=("kind",))
            if kind not in ACOUSTIC_KINDS and ("cue" not in checked or "direction" not in checked):
                raise ConfigError(f"{source}: {prefix}: {_unknown_rule(kind)}")
        out[kind] = checked
    return out


# --------------------------------------------------------------------------- building


COMMAND_LINE = "command line"
"""The source of the configuration's last layer, the keys the command line sets (:func:`load_config`)."""


def _build(layers: list[tuple[str, dict[str, dict[str, Any]]]], env: Mapping[str, str]) -> Config:
    paths = default_paths(env)
    cfg = Config(storage=StorageConfig(db=paths["storage.db"]),
                 supervisor=SupervisorConfig(db=paths["supervisor.db"], token_file=paths["supervisor.token_file"]))
    origin: dict[str, str] = {}
    overridden: dict[str, tuple[str | None, Any]] = {}
    for source, layer in layers:
        for section, values in layer.items():
            for key in _flat_keys(section, values):
                if source == COMMAND_LINE:
                    overridden[key] = (origin.get(key), _setting(cfg, key))
                origin[key] = source
            cfg = _apply(cfg, section, values)
    db = str(Path(cfg.storage.db).expanduser())  # used so; printed as written (Config.written)
    cfg = replace(cfg, storage=replace(cfg.storage, db=db),
                  sources=tuple(s for s, _ in layers if s != COMMAND_LINE), origin=MappingProxyType(origin),
                  overridden=MappingProxyType(overridden),
                  written=MappingProxyType({"storage.db": cfg.storage.db} if db != cfg.storage.db else {}))
    _cross_check(cfg, origin)
    return cfg


def _flat_keys(section: str, values: Mapping[str, Any]) -> list[str]:
    if section == "rules":
        return [f"rules.{kind}.{k}" for kind, table in values.items() for k in table]
    return [f"{section}.{k}" for k in values]


def _apply(cfg: Config, section: str, values: dict[str, Any]) -> Config:
    if section in _SIMPLE:
        return replace(cfg, **{section: replace(getattr(cfg, section), **values)})
    if section == "phrases":
        values = dict(values)
        lists = dict(cfg.phrases.phrases)
        lists.update(values.pop("phrases", {}))
        return replace(cfg, phrases=replace(cfg.phrases, phrases=MappingProxyType(lists),
                                            **values))
    rules = cfg.rules
    acoustic = list(rules.acoustic)
    for kind, table in values.items():
        if kind == "possible_emergency":
            rules = replace(rules, possible_emergency=replace(rules.possible_emergency, **table))
        elif kind == "distress_phrase":
            rules = replace(rules, distress_phrase=replace(rules.distress_phrase, **table))
        else:
            idx = next((i for i, r in enumerate(acoustic) if r.kind == kind), None)
            if idx is None:
                acoustic.append(RuleConfig(kind=kind, **table))
            else:
                acoustic[idx] = replace(acoustic[idx], **table)
    return replace(cfg, rules=replace(rules, acoustic=tuple(acoustic)))


Fail = Callable[..., NoReturn]
"""``fail(key, problem, involved=(), need=None)``: a cross-check failed (:func:`_clash`)."""
Relation = Callable[..., None]
"""``relation(low, high, lo, hi, strict, why="")``: ``low`` stays below ``high`` (:func:`_relation_check`)."""


def _setting(cfg: Config, key: str) -> Any:
    """The value of a dotted key ("analysis.hop_s", "rules.slow_speech.enabled") in ``cfg``."""
    section, *rest = key.split(".")
    if section != "rules":
        return getattr(getattr(cfg, section), rest[0])
    kind, name = rest
    table = (cfg.rules.possible_emergency if kind == "possible_emergency" else cfg.rules.distress_phrase
             if kind == "distress_phrase" else cfg.rules.rule(kind))
    return getattr(table, name)


def _toml_text(value: Any) -> str:
    """A value as a TOML file spells it: ``true``, ``"below"``, ``["voice"]``, ``false`` for none."""
    if value is None or isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_text(v) for v in value) + "]"
    return repr(value)


def _where_set(source: str) -> str:
    return "on the command line" if source == COMMAND_LINE else f"in {source}"


def _settings(cfg: Config, keys: list[str], origin: Mapping[str, str], lead: str) -> str:
    """``keys`` with their values, those of one value joined ("a, b = false"), each set elsewhere
    than ``lead`` with where it was set ("c = 2 in other.toml")."""
    groups: dict[tuple[str, str], list[str]] = {}
    for k in keys:
        groups.setdefault((_toml_text(_setting(cfg, k)), origin[k]), []).append(k)
    return ", ".join(f"{', '.join(ks)} = {v}" + ("" if src == lead else f" {_where_set(src)}")
                     for (v, src), ks in groups.items())


def _clash(cfg: Config, origin: Mapping[str, str], key: str, problem: str, involved: Iterable[str] = (),
           need: str | None = None) -> str:
    """The one line of a failed cross-check: ``key`` has ``problem`` given the ``involved`` keys
    (``need``: what ``key`` must be, "< 0"). It starts with the file (or the command line) that
    set ``key``, and says where the involved keys set elsewhere come from; a ``key`` left at its
    default is said as the default the keys that were set rule out, naming where they were set."""
    others = [k for k in dict.fromkeys(involved) if k in origin and k != key]
    if key in origin:
        away = [k for k in others if origin[k] != origin[key]]
        note = f" (with {_settings(cfg, away, origin, origin[key])})" if away else ""
        return f"{origin[key]}: {key}: {problem}{note}"
    if not others:  # the defaults themselves disagree
        return f"defaults: {key}: {problem}"
    lead = origin[others[-1]]
    value = _toml_text(_setting(cfg, key))
    verb = "needs" if len(others) == 1 else "need"
    if need is not None:
        return (f"{lead}: {_settings(cfg, others, origin, lead)} {verb} {key} {need} "
                f"(the default {value}; set it {_where_set(lead)})")
    return (f"{lead}: {key}: {problem} (the default {value}, with {_settings(cfg, others, origin, lead)}; "
            f"set it {_where_set(lead)})")


def _relation_check(fail: Fail, origin: Mapping[str, str]) -> Relation:
    """``relation(low, high, lo, hi, strict, why)``: ``low`` must stay below ``high``; the error
    names the key the user set (the one that is not a default)."""
    def relation(low: str, high: str, lo: float, hi: float, strict: bool, why: str = "") -> None:
        if (lo < hi) if strict else (lo <= hi):
            return
        why = f": {why}" if why else ""
        if high in origin and low not in origin:
            fail(high, f"must be {'>' if strict else '>='} {low} ({lo}){why}, got {hi}", (low,))
        fail(low, f"must be {'<' if strict else '<='} {high} ({hi}){why}, got {lo}", (high,))
    return relation


def _check_corroborate(cfg: Config, rule: RuleConfig, fail: Fail,
                       origin: Mapping[str, str]) -> None:
    """The families a rule names to ``corroborate`` are families of evidence other than its own,
    each named once, and an enabled rule watches one of them (else the rule never warns; the
    error names the key that was set: the list, or a rule switched off)."""
    key, named = f"rules.{rule.kind}.corroborate", rule.corroborate
    _check_families(rule, "corroborate", named, fail)
    watched = {cue(r.cue).family for r in cfg.rules.acoustic if r.enabled}
    if rule.enabled and named and not watched & set(named):
        switched = [f"rules.{r.kind}.enabled" for r in cfg.rules.acoustic if cue(r.cue).family in named]
        at = key if key in origin else next((k for k in switched if k in origin), key)
        fail(at, f"no enabled rule watches {' or '.join(named)}, which {key} needs: rules.{rule.kind} "
                 f"would never warn (enable one, or set {key} = [])")


def _check_families(rule: RuleConfig, name: str, named: tuple[str, ...], fail: Fail) -> None:
    """``named`` (the rule's key ``name``) lists families of evidence other than the rule's own, once each."""
    own, key = cue(rule.cue).family, f"rules.{rule.kind}.{name}"
    for family in named:
        if family not in FAMILIES or family == own:
            fail(key, f"{family!r} is not a family of evidence other than the rule's own "
                      f"({', '.join(f for f in FAMILIES if f != own)})", (f"rules.{rule.kind}.cue",))
    if len(set(named)) < len(named):
        fail(key, f"names a family more than once: {', '.join(named)}")


def _check_acoustic_rule(cfg: Config, r: RuleConfig, fail: Fail, origin: Mapping[str, str]) -> None:
    """One acoustic rule holds together: an enabled one has a threshold, the families it names
    are others than its own, and its relative_change and delta point the way of its direction."""
    if r.relative_change is None and r.delta is None and r.absolute is None and r.enabled:
        keys = [f"rules.{r.kind}.{k}" for k in ("relative_change", "delta", "absolute")]
        fail(next((k for k in keys if k in origin), keys[0]),
             "an enabled rule needs relative_change, delta or absolute",
             [f"rules.{r.kind}.{k}" for k in ("enabled", "cue", "direction")])
    _check_corroborate(cfg, r, fail, origin)
    _check_families(r, "absolute_corroborate", r.absolute_corroborate, fail)
    _check_families(r, "short_corroborate", r.short_corroborate, fail)
    for key, v in (("relative_change", r.relative_change), ("delta", r.delta)):
        if v is not None and (v >= 0) != (r.direction == "above"):
            sign = "> 0" if r.direction == "above" else "< 0"
            fail(f"rules.{r.kind}.{key}", f"must be {sign} for direction \"{r.direction}\", got {v}",
                 (f"rules.{r.kind}.direction",), sign)


def _check_emergency_names(cfg: Config, fail: Fail) -> None:
    """The possible emergency's kinds are rules' kinds, and the families it lists are families of evidence."""
    pe = cfg.rules.possible_emergency
    for kind in pe.kinds:
        if kind not in cfg.rules.kinds:
            fail("rules.possible_emergency.kinds",
                 f"unknown kind {kind!r} (known: {', '.join(cfg.rules.kinds)})")
    for key, named in (("single_families", pe.single_families), ("paired_families", pe.paired_families),
                       ("single_support_families", pe.single_support_families),
                       ("hold_families", pe.hold_families)):
        for family in named:
            if family not in FAMILIES:
                fail(f"rules.possible_emergency.{key}",
                     f"unknown family {family!r} (known: {', '.join(FAMILIES)})")


def _check_emergency_reachable(cfg: Config, fail: Fail) -> None:
    """An enabled possible emergency can be reached: its min_families and min_score ask no more
    than the families its enabled kinds watch can give."""
    pe = cfg.rules.possible_emergency
    families = {cue(r.cue).family for r in cfg.rules.acoustic if r.enabled and r.kind in pe.kinds}
    # what leaves it fewer families: its kinds, their rules switched off, their cues
    fewer = ["rules.possible_emergency.kinds", *(f"rules.{r.kind}.{k}" for r in cfg.rules.acoustic
                                                if r.kind in pe.kinds for k in ("cue", "enabled")
                                                if k == "cue" or not r.enabled)]
    if pe.enabled and pe.min_families > len(families):
        need = f"<= the families of its enabled kinds ({len(families)}: {', '.join(sorted(families)) or 'none'})"
        fail("rules.possible_emergency.min_families", f"must be {need}, got {pe.min_families}", fewer, need)
    if pe.enabled and pe.min_score > pe.max_grade * len(families):
        need = f"<= max_grade x families ({pe.max_grade * len(families):g})"
        fail("rules.possible_emergency.min_score", f"must be {need}, got {pe.min_score}",
             ["rules.possible_emergency.max_grade", *fewer], need)


def _check_speech_amounts(cfg: Config, relation: Relation) -> None:
    """The pauses, the baseline's speech and each enabled rule's min_speech_s fit the spans that hold them."""
    a = cfg.analysis
    relation("analysis.min_pause_s", "analysis.max_pause_s", a.min_pause_s, a.max_pause_s, True)
    relation("analysis.baseline_min_speech_s", "analysis.baseline_max_s", a.baseline_min_speech_s,
             a.baseline_max_s, False, "no caller speaks more seconds than the call lasts")
    relation("analysis.baseline_min_window_speech_s", "analysis.window_speech_s", a.baseline_min_window_speech_s,
             a.window_speech_s, False, "a window holds about that much speech")
    for r in cfg.rules.acoustic:
        if r.enabled:
            relation(f"rules.{r.kind}.min_speech_s", "analysis.window_speech_s", r.min_speech_s,
                     a.window_speech_s, False, "else the rule never judges a window")


def _check_backoff(cfg: Config, fail: Fail) -> None:
    """Delivery's longest wait between retries is no shorter than its first."""
    if cfg.delivery.max_backoff_s < cfg.delivery.backoff_s:
        need = f">= delivery.backoff_s ({cfg.delivery.backoff_s})"
        fail("delivery.max_backoff_s", f"must be {need}, got {cfg.delivery.max_backoff_s}",
             ("delivery.backoff_s",), need)


def _cross_check(cfg: Config, origin: Mapping[str, str]) -> None:
    """The settings agree with one another; the first disagreement raises ConfigError with its one line."""
    def fail(key: str, problem: str, involved: Iterable[str] = (), need: str | None = None) -> NoReturn:
        raise ConfigError(_clash(cfg, origin, key, problem, involved, need))

    a = cfg.analysis
    relation = _relation_check(fail, origin)
    relation("analysis.window_speech_s", "analysis.window_max_s", a.window_speech_s, a.window_max_s, False)
    relation("analysis.short_speech_s", "analysis.short_max_s", a.short_speech_s, a.short_max_s, False)
    for r in cfg.rules.acoustic:
        _check_acoustic_rule(cfg, r, fail, origin)
    _check_emergency_names(cfg, fail)
    _check_emergency_reachable(cfg, fail)
    _check_speech_amounts(cfg, relation)
    _check_backoff(cfg, fail)


# --------------------------------------------------------------------------- loading


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return xdg_home("XDG_CONFIG_HOME", env) / "callmonitor" / "config.toml"


def not_utf8_at(raw: bytes, err: UnicodeDecodeError) -> str:
    """Where the text ``raw``, decoded as UTF-8 (after a byte order mark), is none (``err``):
    ``line 3: not UTF-8 text (byte 0xe9)``."""
    start = err.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
    line = raw[:start].count(b"\n") + 1
    return f"line {line}: not UTF-8 text (byte 0x{raw[start]:02x})"


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file (a byte order mark before it is left out: Windows editors write one);
    any problem becomes a one-line ConfigError naming the file."""
    p = Path(path)
    try:
        data = read_waiting(p)  # a pipe (--config <(...)): a wait Ctrl-C ends
    except FileNotFoundError:
        if p.is_symlink():  # `ls` shows it: say where it points
            raise ConfigError(f"{p}: a link to {os.readlink(p)}, which is not there") from None
        raise ConfigError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({cannot_read(exc, p)})") from None
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p} {not_utf8_at(data, err)}: save it as UTF-8 (an editor's 'UTF-8'; not EUC-KR, "
                          "Windows-949 or UTF-16)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML ({exc})") from None


def parse_override(text: str) -> tuple[str, Any]:
    """``"rules.slow_speech.persist_s=8"`` -> ``("rules.slow_speech.persist_s", 8)``.

    The value is read as a TOML value; anything that is not one is taken as a plain string.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"command line: {text!r}: expected KEY=VALUE")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value


def _nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        if len(parts) < 2 or not all(parts):
            raise ConfigError(f"command line: {dotted}: expected section.key")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"command line: {dotted}: conflicts with another override")
        node[parts[-1]] = value
    return out


def load_config(path: str | os.PathLike[str] | None = None,
                overrides: Mapping[str, Any] | None = None, *,
                env: Mapping[str, str] | None = None, user_config: bool = True) -> Config:
    """Defaults <- user config (if present: something at its path that is no readable TOML file, a
    folder or a link to nothing, is a ConfigError as ``path`` would be) <- ``path`` <- ``overrides``
    (dotted keys)."""
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, dict[str, Any]]]] = []
    if user_config:
        up = user_config_path(env)
        if os.path.lexists(up):  # a folder or a link to nothing there is said, not passed over
            layers.append((str(up), _check_layer(read_toml(up), str(up))))
    if path is not None:
        layers.append((str(path), _check_layer(read_toml(path), str(path))))
    for source, _ in layers:
        _warn_if_anyone_may_change(source)
    if overrides:
        layers.append((COMMAND_LINE, _check_layer(_nest(overrides), COMMAND_LINE)))
    return _build(layers, env)


log = logging.getLogger(__name__)

_CHANGED_BY_ANYONE: set[str] = set()
"""The warnings :func:`_warn_if_anyone_may_change` gave in this process: each once (a command may load
its configuration more than once; a reload of a file changed since says its new mode)."""


def _warn_if_anyone_may_change(path: str) -> None:
    """A warning line, once, when another user or every user may change the configuration file
    ``path`` (:func:`~monitor.files.others_may_change`): read with no word, they could point its
    webhook at their own receiver or move its database."""
    said = others_may_change(path, "the configuration",
                             "post its alerts to a receiver of their own or move its database")
    if said and said not in _CHANGED_BY_ANYONE:
        _CHANGED_BY_ANYONE.add(said)
        log.warning("%s", said)


def config_from_toml(text: str, source: str = "<string>") -> Config:
    """Defaults <- the given TOML text (no user config); for tests and round trips."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML ({exc})") from None
    return _build([(source, _check_layer(raw, source))], os.environ)


def changed_keys(old: Config, new: Config, keys: Iterable[str]) -> list[str]:
    """The ``section.name`` keys among ``keys`` whose value differs between ``old`` and ``new``
    (what a reload cannot apply to a running command, named in its line)."""
    def value(cfg: Config, key: str) -> Any:
        section, name = key.split(".")
        return getattr(getattr(cfg, section), name)
    return [k for k in keys if value(old, k) != value(new, k)]


def overruled_line(old: Config, new: Config, options: Mapping[str, str]) -> str | None:
    """One line naming the keys the command line sets whose value in the configuration files a
    reload changed (``old`` the configuration it replaces, ``new`` its own), each with the option
    that sets it (``options``, by key) and the file edited: edits that do not apply, as the
    command line's value wins. None when there are none."""
    edits = []
    for key, (source, value) in new.overridden.items():
        before = old.overridden.get(key)
        if before is not None and before[1] != value:
            where = source or before[0]
            edits.append(f"{key} ({options.get(key, 'the command line')}" + (f"; edited in {where})" if where else ")"))
    if not edits:
        return None
    return f"the command line's value wins over the configuration's edit of {', '.join(edits)}"


def named_as(cfg: Config, key: str, option: str) -> str:
    """How a line names the setting of the dotted ``key``: ``option`` where the command line gave it,
    else the key with the file that set it (``daemon.agent in config.toml``), or the key alone (its default)."""
    source = cfg.origin.get(key)
    if source == COMMAND_LINE:
        return option
    return f"{key} in {source}" if source else key


def where_set(cfg: Config, key: str, problem: str) -> str:
    """``problem`` with the value of the dotted ``key`` (a file it names that cannot be read),
    led by the configuration file that set it, as the loader says its own problems
    (``config.toml: delivery.webhook_token_file: ...``); as it is for a value the command line gave
    (its option named the file) or a default."""
    source = cfg.origin.get(key)
    return problem if source in (None, COMMAND_LINE) else f"{source}: {key}: {problem}"
