"""Configuration: the schema (frozen dataclasses with every default's reason), the loader that
validates TOML layers against it, and the renderer that prints the merged result as TOML."""

from __future__ import annotations

from .loader import (SECTIONS, changed_keys, config_from_toml, load_config, named_as, overruled_line, parse_override,
                     read_toml, user_config_path, where_set)
from .schema import (ACOUSTIC_KINDS, DEFAULT_RULES, ActionsConfig, AnalysisConfig,
                     Config, ConfigError, DaemonConfig, DeliveryConfig, EmergencyRuleConfig,
                     PhraseRuleConfig, PhrasesConfig, RuleConfig, RulesConfig, StorageConfig,
                     SupervisorConfig, TranscriptionConfig, base_language, key_docs)
from .toml import effective_config_toml

__all__ = ["ACOUSTIC_KINDS", "DEFAULT_RULES", "SECTIONS", "ActionsConfig",
           "AnalysisConfig", "Config", "ConfigError", "DaemonConfig", "DeliveryConfig",
           "EmergencyRuleConfig", "PhraseRuleConfig", "PhrasesConfig", "RuleConfig", "RulesConfig",
           "StorageConfig", "SupervisorConfig", "TranscriptionConfig", "base_language", "changed_keys",
           "config_from_toml", "effective_config_toml", "key_docs", "load_config", "named_as", "overruled_line",
           "parse_override", "read_toml", "user_config_path", "where_set"]
