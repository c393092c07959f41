"""Impossible settings are refused at load, naming the key and the allowed range; anything
accepted runs. Random configurations (Hypothesis) are one or the other, never a hang, a crash or
an alert rule that can never fire."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, event, given, settings, strategies as st

from conftest import ROOT

from monitor.config import (AnalysisConfig, ConfigError, DaemonConfig, DeliveryConfig, EmergencyRuleConfig,
                            PhraseRuleConfig, RuleConfig, StorageConfig, config_from_toml)
from monitor.pipeline import CallPipeline, run_source
from monitor.capture.sources import Chunk



def _numeric(prefix: str, cls: type) -> list[tuple[str, dict]]:
    return [(f"{prefix}.{f.name}", dict(f.metadata) | {"type": str(f.type)}) for f in fields(cls)
            if any(t in str(f.type) for t in ("float", "int")) and "doc" in f.metadata]


KEYS = (_numeric("analysis", AnalysisConfig) + _numeric("daemon", DaemonConfig)
        + _numeric("delivery", DeliveryConfig) + _numeric("storage", StorageConfig)
        + _numeric("rules.possible_emergency", EmergencyRuleConfig)
        + _numeric("rules.distress_phrase", PhraseRuleConfig)
        + _numeric("rules.slow_speech", RuleConfig) + _numeric("rules.weak_voice", RuleConfig))


def test_every_numeric_key_has_documented_bounds():
    for key, meta in KEYS:
        assert ("min" in meta or "gt" in meta) and "max" in meta, key


@pytest.mark.parametrize("toml, key, allowed", [
    ("[analysis]\nhop_s = 1e-9\n", "analysis.hop_s", "0.1 to 5"),
    ("[analysis]\nwindow_max_s = 1e9\n", "analysis.window_max_s", "5 to 600"),
    ("[delivery]\ntimeout_s = 1e12\n", "delivery.timeout_s", "0.5 to 60"),
    ("[delivery]\ntimeout_s = 0.01\n", "delivery.timeout_s", "0.5 to 60"),
    ("[delivery]\nbackoff_s = 1e6\n", "delivery.backoff_s", "0.1 to 60"),
    ("[storage]\nretention_days = -1\n", "storage.retention_days", "0 to 36500"),
    ("[daemon]\ncall_end_silence_s = 1e9\n", "daemon.call_end_silence_s", "1 to 3600"),
    ("[daemon]\nlost_source_end_s = 1e9\n", "daemon.lost_source_end_s", "0 to 86400"),
    ("[rules.slow_speech]\npersist_s = 1e9\n", "rules.slow_speech.persist_s", "0 to 600"),
    ("[rules.slow_speech]\ncooldown_s = 1e9\n", "rules.slow_speech.cooldown_s", "0 to 3600"),
    ("[rules.possible_emergency]\nmin_families = 100\n", "rules.possible_emergency.min_families", "1 to 6"),
    ("[phrases]\ntolerance = 1\n", "phrases.tolerance", "0 to below 1"),
    ("[supervisor]\nmax_body_bytes = 10\n", "supervisor.max_body_bytes", "1024 to 1048576"),
])
def test_impossible_values_name_the_key_and_the_allowed_range(toml, key, allowed):
    with pytest.raises(ConfigError) as err:
        config_from_toml(toml, "c.toml")
    msg = str(err.value)
    assert msg.startswith(f"c.toml: {key}: must be") and f"(allowed: {allowed})" in msg and "\n" not in msg


def test_config_prints_each_bound_as_the_number_itself():
    """Not rounded to six digits: `<= 1.04858e+06` was no bound a person could type back."""
    from monitor.config import Config, effective_config_toml
    text = effective_config_toml(Config())
    assert "larger request bodies are refused (413) (allowed: >= 1024, <= 1048576)" in text
    assert "e+0" not in text


@pytest.mark.parametrize("toml, key, relation", [
    ("[analysis]\nmin_pause_s = 2.0\nmax_pause_s = 1.0\n", "analysis.min_pause_s", "< analysis.max_pause_s"),
    ("[analysis]\nwindow_speech_s = 50\nwindow_max_s = 40\n", "analysis.window_speech_s", "<= analysis.window_max_s"),
    ("[analysis]\nshort_speech_s = 10\nshort_max_s = 2\n", "analysis.short_speech_s", "<= analysis.short_max_s"),
    ("[analysis]\nbaseline_min_speech_s = 100\nbaseline_max_s = 60\n", "analysis.baseline_min_speech_s",
     "<= analysis.baseline_max_s"),
    ("[analysis]\nbaseline_min_window_speech_s = 20\n", "analysis.baseline_min_window_speech_s",
     "<= analysis.window_speech_s"),
    ("[rules.slow_speech]\nmin_speech_s = 30\n", "rules.slow_speech.min_speech_s", "<= analysis.window_speech_s"),
    ("[delivery]\nbackoff_s = 30\nmax_backoff_s = 10\n", "delivery.max_backoff_s", ">= delivery.backoff_s"),
])
def test_inconsistent_settings_name_the_key_and_the_relation(toml, key, relation):
    with pytest.raises(ConfigError, match=f"^c.toml: {key}: must be {relation}"):
        config_from_toml(toml, "c.toml")


@pytest.fixture(scope="module")
def call_audio() -> np.ndarray:
    x, sr = sf.read(ROOT / "audio_fixtures" / "calls" / "normal_8k.wav", frames=8000 * 40, dtype="float32")
    assert sr == 8000
    return x[:, 1:2].copy()


def _value(meta: dict) -> st.SearchStrategy:
    low = meta.get("min", meta.get("gt", -1e3))
    high = meta.get("max", 1e3)
    if meta["type"].startswith("int"):
        return st.one_of(st.integers(int(low), int(high)), st.integers(-10**6, 10**6))
    wild = st.one_of(st.floats(-1e12, 1e12), st.integers(-10**6, 10**6), st.sampled_from([0, -1, 1e-9, 1e9]))
    return st.one_of(st.floats(low, high), wild)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_random_configurations_are_refused_with_one_line_or_accepted_and_run(call_audio, data):
    chosen = data.draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique_by=lambda k: k[0]))
    tables: dict[str, list[str]] = {}
    for key, meta in chosen:
        value = data.draw(_value(meta))
        table, name = key.rsplit(".", 1)
        text = repr(float(value)) if isinstance(value, float) else str(value)
        tables.setdefault(table, []).append(f"{name} = {text if math.isfinite(float(value)) else 0}")
    toml = "".join(f"[{t}]\n" + "\n".join(lines) + "\n" for t, lines in tables.items())
    try:
        cfg = config_from_toml(toml, "c.toml")
    except ConfigError as err:
        event("refused")
        msg = str(err)
        assert "\n" not in msg and msg.startswith("c.toml: ")
        # the key in the wrong, or the key set that rules out another's default ("c.toml: KEY = ...")
        assert any(msg.startswith((f"c.toml: {key}:", f"c.toml: {key} = ")) for key in
                   [k for k, _ in KEYS] + [f"rules.{r}.{f}" for r in ("slow_speech", "weak_voice", "long_pauses",
                                                                    "slow_response", "short_phrases",
                                                                    "breathy_voice", "possible_emergency")
                                           for f in ("relative_change", "min_families", "min_score",
                                                     "min_speech_s", "delta")]), msg
        return
    event("accepted and run")
    pipeline = CallPipeline(cfg, 8000, ("caller",))
    chunks = (Chunk(i / 8000, call_audio[i:i + 16000]) for i in range(0, len(call_audio), 16000))
    events = run_source(pipeline, chunks, [])
    cues = [e for e in events if e.type == "cues"]
    assert len(cues) == pytest.approx(40 / cfg.analysis.hop_s, abs=2)
    assert events[-1].type == "call_summary"
