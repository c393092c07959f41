"""Configuration: defaults, layering, validation that names the key, and the printed TOML."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT
from monitor.config import (ACOUSTIC_KINDS, DEFAULT_RULES, Config, ConfigError,
                            effective_config_toml, load_config,
                            parse_override)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An isolated home: no user config unless a test writes one."""
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_load_without_any_file(env):
    cfg = load_config(env=env)
    assert cfg.analysis.window_speech_s > 0 and cfg.analysis.hop_s == 1.0
    assert cfg.analysis.window_max_s >= 60.0
    assert cfg.analysis.baseline_min_speech_s == 35.0 and cfg.analysis.baseline_max_s == 60.0
    assert cfg.rules.kinds == ACOUSTIC_KINDS
    slow = cfg.rules.rule("slow_speech")
    assert slow.cue == "speech_rate_sps" and slow.direction == "below"
    assert slow.relative_change is not None and slow.relative_change < 0
    assert slow.absolute is not None
    assert cfg.rules.acoustic == DEFAULT_RULES  # the tuned values themselves live in config.py
    breathy = cfg.rules.rule("breathy_voice")
    assert breathy.direction == "below" and breathy.delta is not None and breathy.delta < 0
    assert cfg.rules.rule("weak_voice").delta is not None and cfg.rules.rule("weak_voice").delta < 0
    assert cfg.rules.possible_emergency.severity == "critical"
    assert cfg.rules.possible_emergency.min_families >= 2  # one family never makes it critical
    assert cfg.rules.possible_emergency.min_score > cfg.rules.possible_emergency.max_grade
    assert "i can't breathe" in cfg.phrase_list()
    assert cfg.daemon.write_audio is False and cfg.daemon.report_on_critical is False
    assert cfg.delivery.webhook_url == ""
    assert cfg.storage.db == str(Path(env["HOME"]) / ".local/share/callmonitor/events.db")
    assert cfg.sources == ()


def test_the_databases_and_the_token_file_follow_the_xdg_base_directories(tmp_path):
    """Every file callmonitor makes by default goes where the configuration file is read from: data
    under $XDG_DATA_HOME, the token beside the configuration under $XDG_CONFIG_HOME; without them
    (or with a relative path, which the specification says to ignore) under ~/.local/share and
    ~/.config."""
    home, data, conf = tmp_path / "home", tmp_path / "data", tmp_path / "conf"
    cfg = load_config(env={"HOME": str(home), "XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(conf)})
    assert (cfg.storage.db, cfg.supervisor.db, cfg.supervisor.token_file) == (
        str(data / "callmonitor/events.db"), str(data / "callmonitor/supervisor.db"),
        str(conf / "callmonitor/supervisor.token"))
    cfg = load_config(env={"HOME": str(home), "XDG_DATA_HOME": "relative", "XDG_CONFIG_HOME": ""})
    assert (cfg.storage.db, cfg.supervisor.db, cfg.supervisor.token_file) == (
        str(home / ".local/share/callmonitor/events.db"), str(home / ".local/share/callmonitor/supervisor.db"),
        str(home / ".config/callmonitor/supervisor.token"))


def test_every_default_key_is_documented():
    text = effective_config_toml(Config())
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if " = " in line and not line.startswith("#") and not line.startswith(" "):
            assert lines[i - 1].startswith("#"), f"undocumented key: {line}"


def documented_default(value, home: str) -> str:
    """A key's default as docs/configuration.md's tables give it: as `call-monitor config` prints it,
    a path in the home folder from ~, a list of long lines (actions, phrases) by how many it holds."""
    if isinstance(value, list) and any(len(str(v)) > 20 for v in value):
        return f"{len(value)} entries"
    if isinstance(value, str) and value.startswith(home + "/"):
        return "`~" + value[len(home):] + "`"
    return "`" + effective_config_toml_value(value) + "`"


def effective_config_toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(effective_config_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def documented_defaults() -> dict[str, str]:
    """section.key -> default cell, read from docs/configuration.md's tables: each table's first
    header cell names the section (`[analysis]`) or, for the rules' table, `[rules.*]` with the
    rules as the other header cells."""
    documented: dict[str, str] = {}
    sections: list[str] = []
    for line in (ROOT / "docs/configuration.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        head = re.fullmatch(r"`\[([\w.*]+)\]` key", cells[0]) if cells else None
        if head:
            sections = [head[1].replace("*", c.strip("`")) if "*" in head[1] else head[1] for c in cells[1:]]
        elif cells and sections and cells[0].startswith("`"):
            for section, cell in zip(sections, cells[1:]):
                documented[f"{section}.{cells[0].strip('`')}"] = cell
        elif not cells:
            sections = []
    return documented


def test_every_key_is_in_the_configuration_doc_with_its_default():
    home = "/home/someone"
    text = effective_config_toml(load_config(env={"HOME": home}, user_config=False))
    printed = tomllib.loads(re.sub(r"^# ((?:db|token_file) = )", r"\1", text, flags=re.M))  # printed unset
    expected = {f"{section}.{key}": documented_default(value, home)
                for name, keys in printed.items()
                for section, values in ([(f"rules.{r}", v) for r, v in keys.items()] if name == "rules"
                                        else [(name, keys)])
                for key, value in values.items()}
    assert documented_defaults() == expected


def test_every_key_the_documents_name_is_one_the_configuration_takes():
    """The other way round: a key renamed or removed leaves no `section.key` in README.md or
    docs/*.md that the configuration would refuse. A rule is data (`rules.NAME` is any rule, its keys
    a rule's), `phrases.LANG` a language's list; a file's name (`supervisor.token`, a default's) and an
    error line quoting an unknown key are no keys."""
    cfg = Config()
    known = {f"{s}.{k.name}" for s in ("analysis", "actions", "phrases", "transcription", "daemon", "delivery",
                                       "storage", "supervisor") for k in dataclasses.fields(getattr(cfg, s))}
    known |= {f"rules.{s}.{k.name}" for s in ("possible_emergency", "distress_phrase")
              for k in dataclasses.fields(getattr(cfg.rules, s))}
    files = {os.path.basename(v) for v in (cfg.supervisor.token_file, cfg.supervisor.db, cfg.storage.db)}
    rule_keys = {f.name for f in dataclasses.fields(DEFAULT_RULES[0])} - {"kind"}
    pattern = re.compile(r"(?<![\w./-])((?:analysis|rules|actions|phrases|transcription|daemon|delivery|storage|"
                         r"supervisor)\.[a-z_]+(?:\.[a-z_]+)?)(?![\w*]|\.\w)")
    unknown = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = re.sub(r"\[[^\]]*\]\([^)]*\)", "", path.read_text(encoding="utf-8"))  # [daemon.md](...): a file
        for span in (s for s in re.findall(r"`([^`]+)`", text) if "unknown" not in s):
            for key in pattern.findall(span):
                section, name, *rest = key.split(".")
                a_rule = section == "rules" and name not in ("possible_emergency", "distress_phrase")
                if not (key in known or key in files or (section in ("phrases", "rules") and not rest)
                        or (a_rule and rest[0] in rule_keys)):
                    unknown.append(f"{path.name}: {key}")
    assert unknown == []


def test_user_config_then_file_then_command_line(env, tmp_path):
    write(Path(env["XDG_CONFIG_HOME"]) / "callmonitor/config.toml",
          "[analysis]\nwindow_speech_s = 9\nhop_s = 2\n[rules.slow_speech]\npersist_s = 9\n")
    given = write(tmp_path / "given.toml", "[analysis]\nwindow_speech_s = 12\n")
    cfg = load_config(given, {"rules.slow_speech.persist_s": 4, "storage.db": "~/x.db"}, env=env)
    assert cfg.analysis.window_speech_s == 12.0  # --config beats the user config
    assert cfg.analysis.hop_s == 2.0          # the user config beats the defaults
    assert cfg.rules.rule("slow_speech").persist_s == 4.0  # the command line beats both
    default = next(r for r in DEFAULT_RULES if r.kind == "slow_speech")
    # untouched keys keep their defaults
    assert cfg.rules.rule("slow_speech") == dataclasses.replace(default, persist_s=4.0)
    assert cfg.storage.db.endswith("/x.db") and "~" not in cfg.storage.db
    assert cfg.sources == (str(Path(env["XDG_CONFIG_HOME"]) / "callmonitor/config.toml"),
                           str(given))


def test_user_config_can_be_skipped(env):
    write(Path(env["XDG_CONFIG_HOME"]) / "callmonitor/config.toml", "[analysis]\nwindow_max_s = 25\n")
    assert load_config(env=env, user_config=False).analysis.window_max_s == Config().analysis.window_max_s


@pytest.mark.parametrize("text, message", [
    ("[analysis]\nwindow = 20\n", "config.toml: analysis.window: unknown key"),
    ("[analysis]\nwindow_speach_s = 8\n",
     "config.toml: analysis.window_speach_s: unknown key (did you mean window_speech_s?)"),
    ("[analysis]\nzzz = 1\n", "config.toml: analysis.zzz: unknown key (known: window_speech_s, window_max_s, "),
    ("[analyse]\n", "config.toml: analyse: unknown section (did you mean analysis?)"),
    ("[zzz]\n", "config.toml: zzz: unknown section (known: analysis, rules, actions, "),
    ("db = \"calls.db\"\n", "config.toml: db: a key outside any section (it belongs under [storage] or [supervisor])"),
    ("webhook_url = \"http://supervisor:8640/webhook\"\n[storage]\ndb = \"calls.db\"\n",
     "config.toml: webhook_url: a key outside any section (it belongs under [delivery])"),
    ("zzz = 1\n", "config.toml: zzz: a key outside any section, and no section has it (sections: analysis, "),
    ("[rules.slow_speech]\npersist_s = -3\n",
     "config.toml: rules.slow_speech.persist_s: must be >= 0, got -3"),
    ("[rules.slow_speech]\npersist_s = \"six\"\n",
     "config.toml: rules.slow_speech.persist_s: must be a number"),
    ("[rules.slow_speech]\nenabled = 1\n",
     "config.toml: rules.slow_speech.enabled: must be true or false"),
    ("[rules.slow_speech]\ncue = \"tempo\"\n",
     "config.toml: rules.slow_speech.cue: unknown cue 'tempo'"),
    ("[rules.slow_speech]\ndirection = \"down\"\n",
     "config.toml: rules.slow_speech.direction: must be \"below\" or \"above\""),
    ("[rules.slow_speech]\nseverity = \"fatal\"\n",
     "config.toml: rules.slow_speech.severity: must be one of warning, critical"),
    ("[rules.slow_speech]\nrelative_change = 0.25\n",
     "config.toml: rules.slow_speech.relative_change: must be < 0 for direction \"below\""),
    ("[rules.slow_sppech]\npersist_s = 3\n",
     "config.toml: rules.slow_sppech: unknown rule kind (did you mean slow_speech?)"),
    ("[rules.wheezing]\npersist_s = 3\n",
     "config.toml: rules.wheezing: unknown rule kind (known: slow_speech, long_pauses, slow_response, "
     "short_phrases, breathy_voice, weak_voice, audible_breathing, possible_emergency, distress_phrase); "
     "a new rule needs 'cue' and 'direction'"),
    ("[delivery]\nheartbeat_s = true\n", "config.toml: delivery.heartbeat_s: must be a number, got true"),
    ("[rules.weak_voice]\nabsolute = true\n",
     "config.toml: rules.weak_voice.absolute: must be a number or false, got true"),
    ("[rules.possible_emergency]\nkinds = [\"slow_speech\", \"sneezing\"]\n",
     "config.toml: rules.possible_emergency.kinds: unknown kind 'sneezing'"),
    ("[rules.possible_emergency]\nsingle_families = [\"latency\", \"speed\"]\n",
     "config.toml: rules.possible_emergency.single_families: unknown family 'speed' (known: tempo, "
     "pausing, latency, voice, loudness, breathing)"),
    ("[rules.possible_emergency]\npaired_families = [\"speed\"]\n",
     "config.toml: rules.possible_emergency.paired_families: unknown family 'speed' (known: tempo, "
     "pausing, latency, voice, loudness, breathing)"),
    ("[rules.possible_emergency]\nmin_families = 0\n",
     "config.toml: rules.possible_emergency.min_families: must be >= 1, got 0"),
    ("[rules.possible_emergency]\nmin_families = 6\n[rules.weak_voice]\nenabled = false\n",
     "config.toml: rules.possible_emergency.min_families: must be <= the families of its enabled "
     "kinds (4: latency, pausing, tempo, voice), got 6"),
    ("[rules.possible_emergency]\nmin_score = 13\n",
     "config.toml: rules.possible_emergency.min_score: must be <= max_grade x families (12.5), got 13.0"),
    ("[analysis]\nhop_s = 1e-9\n", "config.toml: analysis.hop_s: must be >= 0.1, got 1e-09"),
    ("[analysis]\nhop_s = 30\n", "config.toml: analysis.hop_s: must be <= 5.0, got 30.0"),
    ("[analysis]\nwindow_speech_s = 50\nwindow_max_s = 40\n",
     "config.toml: analysis.window_speech_s: must be <= analysis.window_max_s (40.0), got 50.0"),
    ("[rules.slow_speech]\nfamily = \"voice\"\n",
     "config.toml: rules.slow_speech.family: unknown key"),  # a cue's family comes with the cue
    ("[analysis]\nbaseline_min_windows = 2.5\n",
     "config.toml: analysis.baseline_min_windows: must be an integer"),
    ("[phrases]\nen = \"help\"\n", "config.toml: phrases.en: must be a list of non-empty phrases"),
    ("[phrases]\nen = [\"...\"]\n", "config.toml: phrases.en: a phrase must hold a word, got '...'"),
    ("[phrases]\ntolerance = 1.0\n", "config.toml: phrases.tolerance: must be < 1, got 1.0 (allowed: 0 to below 1)"),
    ("[delivery]\nwebhook_url = \"ftp://x\"\n",
     "config.toml: delivery.webhook_url: must be an http:// or https:// URL"),
    ("[delivery]\nwebhook_url = \"http://\"\n",
     "config.toml: delivery.webhook_url: must be an http:// or https:// URL with a host (or \"\"), got 'http://'"),
    ("[delivery]\nwebhook_url = \"http://host:99999/webhook\"\n",
     "config.toml: delivery.webhook_url: must be an http:// or https:// URL with a host"),
    ("[delivery]\nwebhook_url = \"https://bob:pw@host/webhook\"\n",
     "config.toml: delivery.webhook_url: must not hold credentials before the host (they are not sent; give the "
     "receiver's token in webhook_token_file, sent as a bearer token), got 'https://***@host/webhook'"),
    ("[storage]\nsnapshot_every_s = 0\n", "config.toml: storage.snapshot_every_s: must be > 0"),
    ("[daemon]\nlost_source_end_s = -1\n", "config.toml: daemon.lost_source_end_s: must be >= 0, got -1"),
    ("[supervisor]\nagent_tokens = [\"alice\"]\n",
     "config.toml: supervisor.agent_tokens: alice: expected \"NAME:TOKEN\" with a token of at least 16 characters"),
    ("[supervisor]\nagent_tokens = [\"bob:short\"]\n",
     "config.toml: supervisor.agent_tokens: bob: expected \"NAME:TOKEN\" with a token of at least 16 characters"),
    ("[supervisor]\nagent_tokens = [\"alice:same-token-0123456789\", \"bob:same-token-0123456789\"]\n",
     "config.toml: supervisor.agent_tokens: alice and bob have the same token; each agent needs its own"),
    ("[supervisor]\nlisten = \"nonsense\"\n",
     "config.toml: supervisor.listen: expected HOST:PORT (e.g. 127.0.0.1:8640), got 'nonsense'"),
    ("[supervisor]\nlisten = \"[::1]\"\n",
     "config.toml: supervisor.listen: expected HOST:PORT (e.g. 127.0.0.1:8640), got '[::1]'"),
    ("[supervisor]\nlisten = \"1.2.3.4:99999\"\n",
     "config.toml: supervisor.listen: port 99999 is out of range (0 to 65535; 0 picks a free one), got '1.2.3.4:99999'"),
    ("[supervisor]\npublic_url = \"console.example\"\n",
     "config.toml: supervisor.public_url: must be an http:// or https:// URL with a host (or \"\"), got 'console.example'"),
    ("[supervisor]\npublic_url = \"https://console.example/callmonitor\"\n",
     "config.toml: supervisor.public_url: must be an origin alone: the scheme, host and port a browser opens, no "
     "path (https://console.example), got 'https://console.example/callmonitor'"),
    ("[supervisor]\npublic_url = \"https://sup:s3cret@console.example\"\n",  # the password is not repeated
     "config.toml: supervisor.public_url: must not hold credentials: an origin is the scheme, host and port alone "
     "(https://console.example), got 'https://***@console.example'"),
    ("analysis = 3\n", "config.toml: analysis: must be a table"),
])
def test_bad_configuration_names_the_file_and_the_key(env, tmp_path, text, message):
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert str(err.value).startswith(f"{tmp_path}/{message}"), str(err.value)
    assert "\n" not in str(err.value)


ALL_BUT_LATENCY_OFF = "".join(f"[rules.{k}]\nenabled = false\n" for k in (
    "slow_speech", "long_pauses", "short_phrases", "breathy_voice", "weak_voice", "audible_breathing"))


@pytest.mark.parametrize("text, message", [
    ("[rules.long_pauses]\ndirection = \"below\"\n",
     "rules.long_pauses.direction = \"below\" needs rules.long_pauses.relative_change < 0 "
     "(the default 0.6; set it in {path})"),
    (ALL_BUT_LATENCY_OFF,
     "rules.slow_speech.enabled, rules.long_pauses.enabled, rules.short_phrases.enabled, "
     "rules.breathy_voice.enabled, rules.weak_voice.enabled = false need rules.possible_emergency.min_families "
     "<= the families of its enabled kinds (1: latency) (the default 2; set it in {path})"),
])
def test_a_key_set_that_rules_out_a_default_is_named_with_the_file_and_the_default(env, tmp_path, text, message):
    """A check between keys names the file that set the key the user set, not "defaults" and the
    key they never wrote: what they set, what it needs of the other key, and that one's default."""
    path = write(tmp_path / "w.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert str(err.value) == f"{path}: {message.format(path=path)}"


def test_keys_of_a_failed_check_set_in_two_files_are_each_said_with_their_file(env, tmp_path):
    """The key in the wrong is blamed in its file; the key it was checked against, set in another
    layer, is said with that layer's file."""
    user = write(Path(env["XDG_CONFIG_HOME"]) / "callmonitor/config.toml",
                 "[rules.long_pauses]\nrelative_change = 0.7\n")
    path = write(tmp_path / "w.toml", "[rules.long_pauses]\ndirection = \"below\"\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert str(err.value) == (f"{user}: rules.long_pauses.relative_change: must be < 0 for direction \"below\", "
                              f"got 0.7 (with rules.long_pauses.direction = \"below\" in {path})")


@pytest.mark.parametrize("section, key", [("storage", "db"), ("supervisor", "db"), ("supervisor", "token_file")])
@pytest.mark.parametrize("empty", ['""', '"  "'])
def test_an_empty_path_in_the_configuration_is_refused_naming_the_key(env, tmp_path, section, key, empty):
    """``db = ""`` is no file: it was read as "." (the current folder), shown so by `config` and
    refused by every other command as a folder. It is the configuration's error, naming the key."""
    path = write(tmp_path / "config.toml", f"[{section}]\n{key} = {empty}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert str(err.value) == (f"{path}: {section}.{key}: an empty path; give a file, or leave the key out for its "
                              "default")


@pytest.mark.parametrize("empty", ['""', '"  "'])
def test_an_empty_transcription_language_is_refused_naming_the_key(env, tmp_path, empty):
    """``language = ""`` found no model, and `models` then said to fetch one with vosk.Model(lang='')."""
    path = write(tmp_path / "config.toml", f"[transcription]\nlanguage = {empty}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert str(err.value) == (f"{path}: transcription.language: an empty language code; give one as Vosk names its "
                              "models (en-us, de, ko, ...), or leave the key out for its default")
    assert load_config(write(tmp_path / "ko.toml", '[transcription]\nlanguage = "ko"\n'),
                       env=env).transcription.language == "ko"


@pytest.mark.parametrize("written", ['"klingon!!"', '"en_us"', '"english"', '"vosk-model-small-ko"'])
def test_a_transcription_language_not_written_as_a_language_code_is_refused_naming_the_key(env, tmp_path, written):
    """No model could ever have it: `replay` went on to suggest vosk.Model(lang='klingon!!'), while `--model`
    refuses the same text as no language code."""
    path = write(tmp_path / "config.toml", f"[transcription]\nlanguage = {written}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert str(err.value) == (f"{path}: transcription.language: {written.strip(chr(34))!r} is not a language code; "
                              "give one as Vosk names its models (en-us, de, ko, ...), or leave the key out for its "
                              "default")


@pytest.mark.parametrize("code", ["en-US", "KO", "ar-tn", "fil"])
def test_a_transcription_language_is_taken_in_either_case_with_or_without_a_region(env, tmp_path, code):
    path = write(tmp_path / "config.toml", f'[transcription]\nlanguage = "{code}"\n')
    assert load_config(path, env=env).transcription.language == code


def test_config_refuses_an_empty_database_path_in_one_line(env, tmp_path):
    from conftest import ROOT, call_monitor
    path = write(tmp_path / "config.toml", '[storage]\ndb = ""\n')
    for command in (["config"], ["alerts"], ["purge", "--older-than", "1d"]):
        r = call_monitor(*command, "--config", path, cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                         timeout=60)
        assert r.returncode == 2 and r.stdout == "", command
        assert r.stderr == (f"call-monitor: error: {path}: storage.db: an empty path; give a file, or leave the key "
                            "out for its default\n")


@pytest.mark.parametrize("command", [
    ["config"], ["run", "--caller", "softphone.monitor"], ["install-service", "--print"], ["replay", "call.wav"],
    ["batch", "calls", "--out", "scores.csv"], ["report", "call.wav", "-o", "report.html"],
    ["purge", "--older-than", "1d"], ["supervisor", "--listen", "127.0.0.1:0"]], ids=lambda c: c[0])
def test_a_command_that_uses_the_whole_configuration_refuses_one_it_cannot_load_in_one_line(env, tmp_path, command):
    """The commands whose work the configuration decides (the analysis and its rules, what a purge
    deletes, the console's tokens, the unit's daemon, `config` itself, which checks it) go on with
    no part of a configuration that cannot be loaded, even one broken in a key they may not read:
    one error line naming the file and its problem, exit 2, nothing made. (`status`, `call`,
    `alerts` and `models` need only a part of it and say it in one warning: their own tests.)"""
    from conftest import CALLS, ROOT, call_monitor
    user = write(Path(env["XDG_CONFIG_HOME"]) / "callmonitor" / "config.toml", "[delivery]\nbell = 3\n")
    work = tmp_path / "work"
    (work / "calls").mkdir(parents=True)
    (work / "call.wav").write_bytes((CALLS / "normal_8k.wav").read_bytes())
    r = call_monitor(*command, cwd=work, timeout=60, env={**os.environ, **env, "PYTHONPATH": str(ROOT),
                                                          "XDG_DATA_HOME": str(tmp_path / "data")})
    assert (r.returncode, r.stdout, r.stderr) == (
        2, "", f"call-monitor: error: {user}: delivery.bell: must be true or false, got 3\n"), command
    assert sorted(os.listdir(work)) == ["call.wav", "calls"] and not (tmp_path / "data").exists()


def test_a_phrase_tolerance_of_one_is_refused_by_config_and_replay_in_one_line(env, tmp_path):
    """`config` printed ``phrases.tolerance = 1.0`` as valid, and `replay` with a speech model then
    ended in the phrase matcher's traceback (it takes [0, 1)): the configuration refuses it when
    loaded, naming the file and the key (exit 2, nothing made)."""
    from conftest import CALLS, ROOT, call_monitor
    path = write(tmp_path / "config.toml", '[transcription]\nlanguage = "ko"\n[phrases]\ntolerance = 1.0\n')
    (tmp_path / "call.wav").write_bytes((CALLS / "normal_8k.wav").read_bytes())
    for command in (["config"], ["replay", "call.wav"]):
        r = call_monitor(*command, "--config", path, cwd=tmp_path, timeout=60,
                         env={**os.environ, **env, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp_path / "data")})
        assert (r.returncode, r.stdout, r.stderr) == (
            2, "", f"call-monitor: error: {path}: phrases.tolerance: must be < 1, got 1.0 (allowed: 0 to below 1)\n")
    assert sorted(os.listdir(tmp_path)) == ["call.wav", "config.toml"]


def test_analyze_reads_no_configuration_so_a_broken_one_changes_nothing(env, tmp_path):
    from conftest import CALLS, ROOT, call_monitor
    write(Path(env["XDG_CONFIG_HOME"]) / "callmonitor" / "config.toml", "[delivery\n")
    r = call_monitor("analyze", CALLS / "normal_8k.wav", "--json", timeout=60,
                     env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and r.stderr == "" and len(r.stdout.splitlines()) == 1


def test_a_malformed_agent_token_is_refused_alike_by_config_run_and_the_console(env, tmp_path):
    """The console's per-agent tokens are checked with the configuration: `config` does not print
    as valid a file the console refuses, and every command says it in the same line (exit 2)."""
    from conftest import ROOT, call_monitor
    path = write(tmp_path / "console.toml", '[supervisor]\nagent_tokens = ["alice"]\n')
    said = (f'call-monitor: error: {path}: supervisor.agent_tokens: alice: expected "NAME:TOKEN" with a token of '
            "at least 16 characters\n")
    for command in (["config"], ["run", "--db", tmp_path / "e.db"],
                    ["supervisor", "--listen", "127.0.0.1:0", "--db", tmp_path / "console.db"]):
        r = call_monitor(*command, "--config", path, cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                         timeout=60)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", said), command
    assert sorted(os.listdir(tmp_path)) == ["console.toml"]  # no database, no token file made


@pytest.mark.parametrize(("listen", "problem"), [
    ("nonsense", "expected HOST:PORT (e.g. 127.0.0.1:8640)"),
    ("1.2.3.4:99999", "port 99999 is out of range (0 to 65535; 0 picks a free one)")])
def test_a_malformed_listen_address_is_refused_alike_by_config_and_the_console(env, tmp_path, listen, problem):
    """`config` does not print as valid a `supervisor.listen` the console refuses: both say it in the
    same line (exit 2); the console makes nothing. Addresses of every form the console takes load."""
    from conftest import ROOT, call_monitor
    path = write(tmp_path / "console.toml", f'[supervisor]\nlisten = "{listen}"\n')
    said = f"call-monitor: error: {path}: supervisor.listen: {problem}, got '{listen}'\n"
    for command in (["config"], ["supervisor", "--db", tmp_path / "console.db", "--token-file", tmp_path / "t"]):
        r = call_monitor(*command, "--config", path, cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                         timeout=60)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", said), command
    assert sorted(os.listdir(tmp_path)) == ["console.toml"]
    for good in ("127.0.0.1:8640", "0.0.0.0:0", "[::1]:9000", "localhost:65535", "console.example.org:8640"):
        assert load_config(overrides={"supervisor.listen": good}, env=env).supervisor.listen == good


def test_a_status_socket_path_too_long_for_a_unix_socket_is_refused_alike_by_config_run_status_and_a_reload(
        env, tmp_path, monitor_logs):
    """A Unix socket's path holds 107 bytes (108 with its NUL): `config` printed a longer
    ``daemon.status_socket`` as valid, which `run` and `status` then refused in words naming neither
    the file nor the key. Now the configuration refuses it when loaded, in one line naming both, the
    same for `config`, `run`, `status` and `call` (exit 2, nothing made) and for a reload, which keeps
    the running configuration; a path of 107 bytes loads."""
    import soundfile as sf
    from conftest import CALLS, ROOT, call_monitor
    from monitor.capture.sources import FileSource
    from monitor.daemon import Daemon
    from monitor.delivery.store import Store
    sock = tmp_path / ("s" * 120) / "callmonitor.sock"
    path = write(tmp_path / "config.toml", f'[daemon]\nstatus_socket = "{sock}"\n')
    said = (f"{path}: daemon.status_socket: the path is {len(os.fsencode(str(sock)))} bytes, longer than a Unix "
            "socket's path holds (107 bytes); give a shorter one, or leave the key out for its default")
    for command in (["config"], ["run", "--db", tmp_path / "e.db"], ["status"], ["call", "start"]):
        r = call_monitor(*command, "--config", path, cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                         timeout=60)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", f"call-monitor: error: {said}\n"), command
    assert not (tmp_path / "e.db").exists()
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 12, dtype="float32")
    sf.write(tmp_path / "call.wav", x, rate)
    db = tmp_path / "live.db"
    cfg = load_config(overrides={"storage.db": str(db)}, env=env, user_config=False)
    with Store.open(db) as store:
        daemon = Daemon(cfg, FileSource(tmp_path / "call.wav"), store, {},
                        reload=lambda: load_config(path, {"storage.db": str(db)}, env=env, user_config=False))
        daemon.sinks["sighup"] = lambda ev: ev.type == "cues" and ev.t == 3.0 and daemon.request_reload()
        daemon.run()
    assert [m for _, m in monitor_logs if "reloaded" in m] == [f"configuration not reloaded: {said}"]
    assert daemon.cfg.daemon.status_socket == ""
    fits = tmp_path / "s" / "callmonitor.sock"
    fits = fits.with_name("c" * (107 - len(os.fsencode(str(fits.parent))) - 1))
    assert len(os.fsencode(str(fits))) == 107
    assert load_config(write(tmp_path / "fits.toml", f'[daemon]\nstatus_socket = "{fits}"\n'),
                       env=env).daemon.status_socket == str(fits)
    with pytest.raises(ConfigError, match=r"daemon.status_socket: the path is 108 bytes"):
        load_config(write(tmp_path / "over.toml", f'[daemon]\nstatus_socket = "{fits}c"\n'), env=env)


def test_a_bad_user_config_is_named_too(env):
    user = write(Path(env["XDG_CONFIG_HOME"]) / "callmonitor/config.toml", "[daemon]\nbell = 1\n")
    with pytest.raises(ConfigError, match=f"^{user}: daemon.bell: unknown key"):
        load_config(env=env)


def test_a_user_config_that_is_a_folder_or_a_link_to_nothing_is_said_not_passed_over(env, tmp_path):
    """Its keys would never apply, and nothing would say why."""
    user = Path(env["XDG_CONFIG_HOME"]) / "callmonitor/config.toml"
    user.mkdir(parents=True)
    with pytest.raises(ConfigError, match=f"^{user}: is a directory, not a TOML file$"):
        load_config(env=env)
    user.rmdir()
    user.symlink_to(tmp_path / "team.toml")
    with pytest.raises(ConfigError, match=f"^{user}: a link to {tmp_path / 'team.toml'}, which is not there$"):
        load_config(env=env)


def test_unreadable_and_malformed_files(env, tmp_path):
    with pytest.raises(ConfigError, match="missing.toml: no such file"):
        load_config(tmp_path / "missing.toml", env=env)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, env=env)
    broken = write(tmp_path / "broken.toml", "[analysis\nwindow_s = 1\n")
    with pytest.raises(ConfigError, match="broken.toml: invalid TOML"):
        load_config(broken, env=env)


def test_a_file_that_starts_with_a_byte_order_mark_is_read_as_without_it(env, tmp_path):
    """Windows editors (Notepad) write one before UTF-8 text; the user's config file too."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[analysis]\nwindow_max_s = 45\n")
    assert load_config(path, env=env).analysis.window_max_s == 45.0
    user = Path(env["XDG_CONFIG_HOME"]) / "callmonitor/config.toml"
    write(user, "")
    user.write_bytes("\ufeff[daemon]\ncaller = \"sip.monitor\"\n".encode("utf-8"))
    assert load_config(env=env).daemon.caller == "sip.monitor"


def test_a_webhook_url_file_saved_by_notepad_is_read_without_its_byte_order_mark(tmp_path):
    """`--webhook-url-file` saved with a byte order mark and CRLF: the URL in it, not an error
    quoting an invisible '\\ufeff' before it."""
    from monitor.config.urls import read_url_file
    saved = tmp_path / "hook.url"
    saved.write_bytes(b"\xef\xbb\xbfhttps://hooks.example/in?key=k\r\n")
    assert read_url_file(str(saved)) == "https://hooks.example/in?key=k"


@pytest.mark.parametrize("encoding, line, byte", [("euc-kr", 4, 0xbb), ("utf-16", 1, 0xff)])
def test_a_file_in_another_encoding_than_utf8_is_refused_naming_its_line_and_what_to_do(env, tmp_path, encoding,
                                                                                         line, byte):
    """A Korean phrase list saved as EUC-KR (Windows-949) or UTF-16, as Windows editors may: the line
    that is not UTF-8, its byte, and how to save it, in one line."""
    path = tmp_path / "설정.toml"
    path.write_bytes('[transcription]\nlanguage = "ko"\n[phrases]\nko = ["살려 주세요"]\n'.encode(encoding))
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert str(err.value) == (f"{path} line {line}: not UTF-8 text (byte 0x{byte:02x}): save it as UTF-8 (an "
                              "editor's 'UTF-8'; not EUC-KR, Windows-949 or UTF-16)")


def test_a_commands_config_option_naming_a_folder_says_so(env, tmp_path, monkeypatch):
    """`--config DIR` is a folder given for a file, not a file that is missing."""
    import argparse
    from monitor.commands.common import config_from_args
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    with pytest.raises(ConfigError, match=f"^{tmp_path}: is a directory, not a configuration file$"):
        config_from_args(argparse.Namespace(config=str(tmp_path), db=None))
    with pytest.raises(ConfigError, match="missing.toml: no such configuration file$"):
        config_from_args(argparse.Namespace(config=str(tmp_path / "missing.toml"), db=None))


def test_a_config_option_naming_a_file_in_a_folder_this_user_may_not_look_in_says_so_not_that_it_is_missing(tmp_path):
    """Another user's configuration in their folder of mode 0700: ``os.path.exists`` says False there
    as for a missing file, but the file may well be there: the one line says it cannot be read and
    which folder keeps it out of reach, in the words every command says a database there in (exit 2)."""
    from conftest import ROOT, call_monitor

    folder = tmp_path / "theirs"
    settings = write(folder / "config.toml", "[daemon]\ncall_end_silence_s = 12.5\n")
    folder.chmod(0)
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path / "home"), XDG_CONFIG_HOME="")
    done = call_monitor("config", "--config", settings, env=env, permissions_bind=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", f"call-monitor: error: {settings}: cannot read (the folder {folder} cannot be entered: permission denied)\n")


def _changed_by_anyone(tmp_path: Path, folder_mode: int, file_mode: int) -> Path:
    """A configuration file of mode ``file_mode`` in a folder of mode ``folder_mode``."""
    folder = tmp_path / "cfgs"
    settings = write(folder / "config.toml", f'[storage]\ndb = "{tmp_path / "e.db"}"\n')
    folder.chmod(folder_mode)
    settings.chmod(file_mode)
    return settings


def test_a_configuration_file_every_user_may_write_is_one_warning_line_naming_it_its_mode_and_owner(env, tmp_path):
    """Mode 0666: anyone could point delivery.webhook_url at their own receiver or move the database,
    and the file was read with no word. Every command that loads it through the loader says it in one
    line, once (``status`` loads it more than once), and goes on; a ``config`` that prints it too."""
    from conftest import ROOT, call_monitor
    from monitor.files import user_name
    settings = _changed_by_anyone(tmp_path, 0o755, 0o666)
    run_env = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    said = (f"call-monitor: warning: {settings}: the configuration may be changed by every user (mode 0666, owner "
            f"{user_name(os.geteuid())}): any of them could post its alerts to a receiver of their own or "
            f"move its database; make it yours alone: chmod o-w {settings}")
    shown = call_monitor("config", "--config", settings, env=run_env, timeout=60)
    assert (shown.returncode, shown.stderr.splitlines()) == (0, [said])
    asked = call_monitor("status", "--config", settings, env=run_env, timeout=60)
    assert asked.returncode == 1 and asked.stderr.splitlines()[0] == said, asked.stderr
    assert len(asked.stderr.splitlines()) == 2 and "no daemon running" in asked.stderr, asked.stderr
    settings.chmod(0o664)  # a group that may write it is a team's file: no word
    assert call_monitor("config", "--config", settings, env=run_env, timeout=60).stderr == ""


def test_a_configuration_file_in_a_folder_every_user_may_write_without_the_sticky_bit_is_warned_of(env, tmp_path):
    """``chmod 777`` on its folder: anyone may remove the file and put their own in its place. The
    sticky bit (``/tmp``'s 1777) keeps others from the files they do not own: no word then. The user's
    own file (``~/.config/callmonitor/config.toml``) is judged as ``--config``'s is."""
    from conftest import ROOT, call_monitor
    from monitor.files import user_name
    run_env = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    settings = _changed_by_anyone(tmp_path, 0o777, 0o644)
    folder = settings.parent
    said = (f"call-monitor: warning: {settings}: the configuration may be replaced by every user: its folder {folder} "
            f"may be written by every user, without the sticky bit (mode 0777, owner {user_name(os.geteuid())}): any of "
            "them could post its alerts to a receiver of their own or move its database; move it to a folder of your own")
    done = call_monitor("config", "--config", settings, env=run_env, timeout=60)
    assert (done.returncode, done.stderr.splitlines()) == (0, [said])
    folder.chmod(0o1777)
    assert call_monitor("config", "--config", settings, env=run_env, timeout=60).stderr == ""
    folder.chmod(0o755)
    own = write(Path(env["XDG_CONFIG_HOME"]) / "callmonitor" / "config.toml", "[storage]\n")
    own.chmod(0o666)
    done = call_monitor("config", env=run_env, timeout=60)
    assert done.returncode == 0 and done.stderr.startswith(
        f"call-monitor: warning: {own}: the configuration may be changed by every user (mode 0666"), done.stderr


@pytest.mark.parametrize("command", [["replay", "call.wav"], ["run"], ["install-service"]])
def test_a_refused_option_value_is_named_by_the_option_the_person_typed(env, tmp_path, command):
    """`--webhook localhost:8640` is said as --webhook (with the key it sets), not as the
    configuration's "command line: delivery.webhook_url"; exit 2, nothing made."""
    from conftest import ROOT, call_monitor
    r = call_monitor(*command, "--webhook", "localhost:8640/webhook", "--db", tmp_path / "e.db", cwd=tmp_path,
                     env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert r.returncode == 2
    assert r.stderr == ("call-monitor: error: --webhook (delivery.webhook_url): must be an http:// or https:// URL "
                        "with a host (or \"\"), got 'localhost:8640/***'\n")  # a path secret hidden all the same
    assert os.listdir(tmp_path) == []


def test_a_webhook_url_with_a_token_in_its_query_is_the_receivers_business(env):
    """A receiver may take its token in the query, at any path: the URL is taken as given (a URL
    that takes no posts, the console's page address say, is told at the first failed post)."""
    for url in ("https://hooks.example.com/?token=abc", "https://hooks.example.com/callmonitor?token=abc"):
        assert load_config(overrides={"delivery.webhook_url": url}, env=env).delivery.webhook_url == url


def test_command_line_overrides_are_validated(env):
    with pytest.raises(ConfigError, match="^command line: analysis.window_speech_s: must be >= 1.0"):
        load_config(overrides={"analysis.window_speech_s": 0}, env=env)
    assert parse_override("rules.slow_speech.persist_s=8") == ("rules.slow_speech.persist_s", 8)
    assert parse_override("daemon.caller=softphone.monitor") == ("daemon.caller",
                                                                 "softphone.monitor")
    assert parse_override("rules.weak_voice.absolute=false") == ("rules.weak_voice.absolute",
                                                                False)
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_override("novalue")


def test_a_rule_is_corroborated_by_other_families_of_evidence_only(env):
    cfg = load_config(overrides={"rules.weak_voice.corroborate": ["pausing", "voice"]}, env=env)
    assert cfg.rules.rule("weak_voice").corroborate == ("pausing", "voice")
    with pytest.raises(ConfigError, match="rules.weak_voice.corroborate: 'loudness' is not a family"):
        load_config(overrides={"rules.weak_voice.corroborate": ["loudness"]}, env=env)
    with pytest.raises(ConfigError, match="rules.weak_voice.corroborate: 'speed' is not a family"):
        load_config(overrides={"rules.weak_voice.corroborate": ["speed"]}, env=env)
    with pytest.raises(ConfigError, match="rules.weak_voice.corroborate: names a family more than once"):
        load_config(overrides={"rules.weak_voice.corroborate": ["voice", "voice"]}, env=env)


def test_absolute_corroborate_names_other_families_of_evidence_only(env):
    cfg = load_config(overrides={"rules.breathy_voice.absolute_corroborate": ["pausing", "tempo"]}, env=env)
    assert cfg.rules.rule("breathy_voice").absolute_corroborate == ("pausing", "tempo")
    with pytest.raises(ConfigError, match="rules.breathy_voice.absolute_corroborate: 'voice' is not a family"):
        load_config(overrides={"rules.breathy_voice.absolute_corroborate": ["voice"]}, env=env)
    with pytest.raises(ConfigError, match="rules.breathy_voice.absolute_corroborate: names a family more than"):
        load_config(overrides={"rules.breathy_voice.absolute_corroborate": ["tempo", "tempo"]}, env=env)


def test_short_corroborate_names_other_families_of_evidence_only(env):
    assert load_config(env=env).rules.rule("weak_voice").short_corroborate == ("voice",)
    with pytest.raises(ConfigError, match="rules.weak_voice.short_corroborate: 'loudness' is not a family"):
        load_config(overrides={"rules.weak_voice.short_corroborate": ["loudness"]}, env=env)


def test_a_rule_corroborated_only_by_families_no_enabled_rule_watches_is_refused(env):
    # audible breaths warn only with the pausing family past: with its rules off they never would
    off = {"rules.long_pauses.enabled": False, "rules.short_phrases.enabled": False}
    with pytest.raises(ConfigError, match=r"^command line: rules.long_pauses.enabled: no enabled rule watches "
                                          r"pausing, which rules.audible_breathing.corroborate needs"):
        load_config(overrides=off, env=env)
    load_config(overrides={**off, "rules.audible_breathing.corroborate": []}, env=env)
    load_config(overrides={**off, "rules.audible_breathing.enabled": False}, env=env)


def test_false_unsets_an_optional_threshold(env, tmp_path):
    write(Path(env["XDG_CONFIG_HOME"]) / "callmonitor/config.toml",
          "[rules.slow_speech]\nabsolute = 1.5\n")
    assert load_config(env=env).rules.rule("slow_speech").absolute == 1.5
    path = write(tmp_path / "c.toml", "[rules.slow_speech]\nabsolute = false\n")
    assert load_config(path, env=env).rules.rule("slow_speech").absolute is None


@pytest.mark.parametrize("rule", DEFAULT_RULES, ids=lambda r: r.kind)
def test_every_built_in_rule_is_tuned_by_its_kind_alone(env, tmp_path, rule):
    """The built-in rules are known by the kinds DEFAULT_RULES gives them (a table of one of them
    needs no cue or direction); a rule added there is known without a second list to update."""
    cfg = load_config(write(tmp_path / "c.toml", f"[rules.{rule.kind}]\npersist_s = 3\n"), env=env)
    assert cfg.rules.rule(rule.kind).persist_s == 3 and cfg.rules.rule(rule.kind).cue == rule.cue


def test_new_rules_and_phrase_lists_are_data(env, tmp_path):
    path = write(tmp_path / "c.toml", """
[rules.few_words]
cue = "words_per_min"
direction = "below"
relative_change = -0.4
[rules.possible_emergency]
kinds = ["slow_speech", "few_words"]
min_families = 1
min_score = 1.2
[phrases]
language = "ko"
ko = ["숨을 쉴 수가 없어요", "가슴이 아파요"]
""")
    cfg = load_config(path, env=env)
    assert cfg.rules.rule("few_words").cue == "words_per_min"
    assert cfg.rules.possible_emergency.kinds == ("slow_speech", "few_words")
    assert cfg.phrase_list() == ("숨을 쉴 수가 없어요", "가슴이 아파요")
    assert "en" in cfg.phrases.phrases   # the default English list stays available


def test_config_is_frozen():
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.analysis.hop_s = 3  # type: ignore[misc]


def test_effective_config_with_its_secrets_round_trips_through_tomllib(env, tmp_path):
    """``call-monitor config --show-secrets``, saved, is the same configuration where it is read in the
    same environment (the paths left to each reader's home folder are this reader's)."""
    path = write(tmp_path / "c.toml", """
[rules.slow_speech]
absolute = false
persist_s = 7.5
[rules.few_words]
cue = "words_per_min"
direction = "below"
relative_change = -0.4
[phrases]
ko = ["가슴이 아파요"]
[delivery]
webhook_url = "http://127.0.0.1:9/hook?key=s3cret-key-0123"
[supervisor]
agent_tokens = ["alice:alice-token-0123456789"]
""")
    cfg = load_config(path, env=env)
    text = effective_config_toml(cfg, secrets=True)
    tomllib.loads(text)  # valid TOML
    again = load_config(write(tmp_path / "saved.toml", text), env=env, user_config=False)
    assert dataclasses.replace(again, sources=()) == dataclasses.replace(cfg, sources=())
    assert "# hysteresis" in text and "[rules.few_words]" in text


def test_config_hides_its_secrets_unless_asked_and_a_configuration_saved_with_them_hidden_is_refused(
        env, tmp_path, monkeypatch, capsys):
    """The console's agent tokens and the values in a URL's query (a receiver's key) are printed as
    the product shows such secrets everywhere (``***``), each with how many characters it hides,
    so that an output pasted into a ticket or a chat gives none away; the header says how to print
    them. Saved back as they are, they would be a token no daemon sends and a key no receiver
    takes: such a configuration is refused in one line naming the file and the key."""
    from monitor import cli
    path = write(tmp_path / "c.toml", '[delivery]\nwebhook_url = "https://hooks.example/in?key=s3cret-key-0123&agent=alice"\n'
                                      '[supervisor]\nagent_tokens = ["alice:alice-token-0123456789"]\n')
    monkeypatch.setenv("HOME", env["HOME"])
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    assert cli.main(["config", "--config", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "s3cret" not in printed and "alice-token" not in printed
    assert 'webhook_url = "https://hooks.example/in?key=***(15 characters)&agent=***(5 characters)"' in printed
    assert '    "alice:***(22 characters)",' in printed
    assert "print it with call-monitor config --show-secrets" in printed and "# Save as" not in printed
    hidden = write(tmp_path / "hidden.toml", printed)
    with pytest.raises(ConfigError, match=rf"^{hidden}: delivery.webhook_url: holds a secret as call-monitor config "
                                          r"hides it \(\*\*\*\(15 characters\)\), not the secret; put the secret itself, "
                                          "or save call-monitor config --show-secrets"):
        load_config(hidden, env=env)
    write(hidden, printed.replace("webhook_url = ", "# webhook_url = "))
    with pytest.raises(ConfigError, match=rf"^{hidden}: supervisor.agent_tokens: alice: holds a secret as"):
        load_config(hidden, env=env)
    assert cli.main(["config", "--config", str(path), "--show-secrets"]) == 0
    shown = write(tmp_path / "shown.toml", capsys.readouterr().out)
    assert load_config(shown, env=env).supervisor.agent_tokens == ("alice:alice-token-0123456789",)
    assert effective_config_toml(Config()) == effective_config_toml(Config(), secrets=True)  # nothing to hide


@pytest.mark.parametrize("text, line", [
    ('[supervisor]\nagent_tokens = "alice:alice-token-0123456789"\n',
     "supervisor.agent_tokens: must be a list of strings, got 'alice:***(22 characters)'"),
    ('[supervisor]\nagent_tokens = ["alice:alice-token-0123456789", 5]\n',
     "supervisor.agent_tokens: must be a list of strings, got ['alice:***(22 characters)', 5]"),
    ('[delivery]\nwebhook_url = ["https://hooks.example/in?key=s3cret-key-0123"]\n',
     "delivery.webhook_url: must be a string, got ['https://hooks.example/in?key=***(15 characters)']"),
    ('[supervisor]\nagent_tokens = ["alice-token-0123456789"]\n',
     'supervisor.agent_tokens: ***(22 characters): expected "NAME:TOKEN" with a token of at least 16 characters'),
    ('[delivery]\nwebhook_url = { at = "https://hooks.example/in?key=s3cret-key-0123" }\n',
     "delivery.webhook_url: must be a string, got {'at': 'https://hooks.example/in?key=***(15 characters)'}"),
    ('[delivery]\nwebhook_url = [["https://hooks.example/in?key=s3cret-key-0123"]]\n',
     "delivery.webhook_url: must be a string, got [['https://hooks.example/in?key=***(15 characters)']]"),
    ('[supervisor]\nagent_tokens = [{ alice = "alice-token-0123456789" }]\n',
     "supervisor.agent_tokens: must be a list of strings, got [{'***(5 characters)': '***(22 characters)'}]"),
    ('delivery = "https://hooks.example/in?key=s3cret-key-0123"\n',
     "delivery: must be a table, got '***(44 characters)'"),
], ids=["token as a string", "token in a list of another type", "URL in a list", "token without its name",
        "URL in a table", "URL in a nested list", "token in a table in a list", "URL as its section"])
def test_a_secret_of_the_wrong_type_is_named_hidden_in_its_error_line(env, tmp_path, text, line):
    """A key that holds a secret (an agent's token, a receiver's key in a URL) given as the wrong type
    is one line naming the file and the key, with the value hidden as `config` prints it: the line
    goes to the journal and the terminal, where no token is ever shown."""
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert str(err.value) == f"{path}: {line}"


def test_a_config_option_naming_dev_null_or_a_pipe_is_read_not_called_missing(tmp_path):
    """``--config /dev/null`` (no settings of its own) and ``--config <(...)`` (a pipe) exist: they
    are read, not refused as "no such configuration file"."""
    import threading

    from conftest import ROOT, call_monitor

    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    done = call_monitor("config", "--config", "/dev/null", env=env, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    pipe = tmp_path / "settings"
    os.mkfifo(pipe)
    writer = threading.Thread(target=lambda: pipe.write_text("[daemon]\ncall_end_silence_s = 12.5\n"),
                              daemon=True)  # a pipe never opened to read: the test fails, pytest still exits
    writer.start()
    done = call_monitor("config", "--config", pipe, env=env, timeout=60)
    writer.join(10)
    assert done.returncode == 0, done.stderr
    assert "call_end_silence_s = 12.5" in done.stdout


def test_config_says_to_save_it_where_the_user_configuration_is_read(tmp_path):
    """With ``$XDG_CONFIG_HOME`` elsewhere, ~/.config/callmonitor/config.toml is never read: saved
    there, as the header said, the settings would be ignored."""
    from conftest import ROOT, call_monitor

    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    done = call_monitor("config", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"# Save as {tmp_path / 'xdg' / 'callmonitor' / 'config.toml'} and edit;" in done.stdout
    env["XDG_CONFIG_HOME"] = ""
    assert "# Save as ~/.config/callmonitor/config.toml and edit;" in call_monitor("config", env=env, timeout=60).stdout


def test_config_saved_as_a_file_leaves_the_defaults_under_the_home_folder_to_whoever_reads_it(tmp_path):
    """The header says to save the output as a configuration file, and the team's file is pushed to
    every desktop: a path whose default comes from the reader's $HOME or XDG folders (the databases,
    the console's token file) is printed commented out with its value here, so that the saved file
    leaves it to each reader's own, not this user's; a path a file set stays set."""
    from conftest import ROOT, call_monitor

    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path / "first"), XDG_CONFIG_HOME="", XDG_DATA_HOME="")
    printed = call_monitor("config", env=env, timeout=60).stdout
    assert f'\n# db = "{tmp_path}/first/.local/share/callmonitor/events.db"\n' in printed
    assert f'\n# token_file = "{tmp_path}/first/.config/callmonitor/supervisor.token"\n' in printed
    saved = write(tmp_path / "team.toml", printed)
    other = dict(env, HOME=str(tmp_path / "second"), XDG_DATA_HOME=str(tmp_path / "data"))
    cfg = load_config(saved, env=other, user_config=False)
    assert (cfg.storage.db, cfg.supervisor.db, cfg.supervisor.token_file) == (
        str(tmp_path / "data/callmonitor/events.db"), str(tmp_path / "data/callmonitor/supervisor.db"),
        str(tmp_path / "second/.config/callmonitor/supervisor.token"))
    write(saved, f'[storage]\ndb = "{tmp_path}/shared.db"\n')
    printed = call_monitor("config", "--config", saved, env=other, timeout=60).stdout
    assert f'\ndb = "{tmp_path}/shared.db"\n' in printed
    assert f'\n# db = "{tmp_path}/data/callmonitor/supervisor.db"\n' in printed


def test_a_database_a_file_sets_under_the_home_folder_is_printed_as_the_file_spells_it_not_as_this_user_s(
        tmp_path, monkeypatch):
    """A team's file sets ``storage.db = "~/calls/events.db"``: each user's commands use their own
    home's, and ``call-monitor config`` prints it as the file spells it (as it prints the other path
    keys, which the loader leaves as written), not this user's home: a file saved from the output
    gives every reader their own database, as the file it came from did."""
    from conftest import ROOT, call_monitor

    team = write(tmp_path / "team.toml", '[storage]\ndb = "~/calls/events.db"\n[supervisor]\ndb = "~/console.db"\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path / "first"), XDG_CONFIG_HOME="", XDG_DATA_HOME="")
    monkeypatch.setenv("HOME", env["HOME"])
    assert load_config(team, user_config=False).storage.db == str(tmp_path / "first/calls/events.db")
    printed = call_monitor("config", "--config", team, env=env, timeout=60).stdout
    assert '\ndb = "~/calls/events.db"\n' in printed and '\ndb = "~/console.db"\n' in printed
    assert str(tmp_path / "first/calls") not in printed
    saved = write(tmp_path / "saved.toml", printed)
    monkeypatch.setenv("HOME", str(tmp_path / "second"))
    cfg = load_config(saved, user_config=False)
    assert (cfg.storage.db, cfg.supervisor.db) == (str(tmp_path / "second/calls/events.db"), "~/console.db")


def test_a_database_set_under_the_home_folder_leaves_a_batch_s_ledger_hash_as_before(tmp_path, monkeypatch):
    """The database a batch stores into does not score a call: ``storage.db`` set as ``~/calls.db``
    (printed so by ``call-monitor config``) leaves what a batch's workers load, and its ledger's hash,
    that of the configuration without it, so that ``--resume`` finds the calls earlier releases scored."""
    from monitor.batch.runner import config_hash, scoring_toml

    env = {"HOME": "/home/someone"}
    monkeypatch.setenv("HOME", env["HOME"])
    cfg = load_config(write(tmp_path / "home.toml", '[storage]\ndb = "~/calls.db"\n'), env=env, user_config=False)
    plain = load_config(env=env, user_config=False)
    assert cfg.storage.db == "/home/someone/calls.db"
    assert scoring_toml(cfg) == scoring_toml(plain) and config_hash(cfg) == config_hash(plain)


def test_a_batch_s_workers_and_its_ledger_get_every_key_set_as_before():
    """What a batch's workers load, and what its ledger's configuration hash is of, sets the paths left
    unset too (:func:`scoring_toml`): the hash stays that of earlier releases' ledgers, whose calls
    ``--resume`` would else score and store once more."""
    from monitor.batch.runner import scoring_toml

    cfg = load_config(env={"HOME": "/home/someone"}, user_config=False)
    text = scoring_toml(cfg)
    assert '\ndb = "/home/someone/.local/share/callmonitor/supervisor.db"\n' in text
    assert "# left unset" not in text
    assert "# left unset" in effective_config_toml(cfg)
