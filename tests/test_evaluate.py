"""The detection evaluation harness (tools/evaluate.py).

It must score exactly what ``call-monitor replay --no-transcribe`` shows: the same alerts at the
same times, whether a file is replayed in full or judged from its cached cue stream. Three fixture
calls at 16 kHz stand for the three kinds of file: a healthy call (critical forbidden), a caller
who deteriorates at a labelled onset, and a caller labored from the first word.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from conftest import PERMISSIONS_BIND, PY, ROOT, call_monitor_here, fixture_folder, one_line_error, tool

from monitor.config import load_config
from monitor.events import AlertEvent
from tools import evaluate as ev

NAMES = ("normal", "deteriorating", "labored_start")


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> list[ev.Job]:
    return ev.load_jobs(fixture_folder(tmp_path_factory.mktemp("fx"), NAMES), rates=(16000,))


@pytest.fixture(scope="module")
def replay_cli(tmp_path_factory, jobs) -> dict[str, list[dict]]:
    """The alerts `call-monitor replay --jsonl --no-transcribe` prints, per fixture file (replayed in
    this process, :func:`call_monitor_here`)."""
    tmp = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "no-user-config")}
    done = call_monitor_here("replay", "--jsonl", "--no-transcribe", "--db", tmp / "events.db",
                             *[j.path for j in jobs], env=env)
    assert done.returncode == 0, done.stderr
    out: dict[str, list[dict]] = {}
    current: list[dict] = []
    for line in done.stdout.splitlines():
        event = json.loads(line)
        if event["type"] == "alert":
            current.append(event)
        elif event["type"] == "call_summary":
            out[event["file"]] = current
            current = []
    return out


@pytest.fixture(scope="module")
def harnessed(tmp_path_factory, jobs) -> tuple[Path, dict[str, dict]]:
    """The harness's first run over the fixture calls (two workers, an empty cache): the cache it
    filled, read-only to the tests (a test that writes to it works on a copy), and its result per job."""
    cache = tmp_path_factory.mktemp("harnessed") / "cache"
    results = ev.evaluate_jobs(jobs, ev.Settings(cache_dir=str(cache)), workers=2)
    return cache, {r["id"]: r for r in results}


@pytest.fixture(scope="module")
def full(jobs) -> dict[str, tuple[list, ev.FrameRecord, ev.CueStream]]:
    cfg = load_config(None, None, user_config=False)
    return {j.id: ev.replay_file(j, cfg) for j in jobs}


def alerts_of(events) -> list[tuple]:
    return [(a.t, a.kind, a.severity, a.message, json.dumps(a.evidence, sort_keys=True, default=str))
            for a in events if isinstance(a, AlertEvent)]


def test_fixture_labels_become_expected_and_forbidden_files(jobs):
    by_id = {j.id: j for j in jobs}
    assert set(by_id) == set(NAMES) and all(j.rate == 16000 and j.split == "fixtures" for j in jobs)
    assert by_id["deteriorating"].expect_critical and not by_id["deteriorating"].forbid_critical
    assert by_id["deteriorating"].onset_s == pytest.approx(73.527)
    assert by_id["normal"].forbid_critical and not by_id["normal"].expect_critical
    assert by_id["normal"].condition["group"] == "normal"
    assert by_id["labored_start"].condition["group"] == "labored"


def test_harness_scores_what_replay_shows(jobs, replay_cli, harnessed):
    _, results = harnessed
    for job in jobs:
        shown = replay_cli[job.path]
        r = results[job.id]
        assert r["source"] == "replay" and r["error"] is None
        assert [(a["t"], a["kind"], a["severity"]) for a in r["alerts"]] == \
               [(a["t"], a["kind"], a["severity"]) for a in shown]
        crit = [a["t"] for a in shown if a["severity"] == "critical"]
        warn = [a["t"] for a in shown if a["severity"] == "warning"]
        assert r["first_critical_t"] == (crit[0] if crit else None)
        assert r["first_warning_t"] == (warn[0] if warn else None)
        if job.expect_critical:
            after = [t for t in crit if t >= job.onset_s]
            expected = after[0] - job.onset_s if after else None
            assert r["time_to_critical_s"] == pytest.approx(expected, abs=1e-3)
            assert r["criticals_before_onset"] == sum(t < job.onset_s for t in crit)
    assert results["normal"]["criticals"] == len([a for a in replay_cli[results["normal"]["file"]]
                                                  if a["severity"] == "critical"])


def test_cached_cues_give_exactly_the_alerts_of_a_full_replay(jobs, full):
    cfg = load_config(None, None, user_config=False)
    for job in jobs:
        events, _, stream = full[job.id]
        assert stream.cues and stream.duration_s == pytest.approx(job.duration_s, abs=0.01)
        assert alerts_of(ev.judge_cues(stream, cfg)) == alerts_of(events)
        clears = [(e.t, e.kind, e.reason) for e in events if e.type == "alert_cleared"]
        assert [(e.t, e.kind, e.reason) for e in ev.judge_cues(stream, cfg) if e.type == "alert_cleared"] == clears


def test_cached_cues_serve_other_thresholds_exactly(jobs, full):
    """Rule settings are not part of the cache key: a cue stream replayed with the defaults judged
    under other thresholds equals a full replay under those thresholds."""
    other = load_config(None, {"rules.slow_speech.persist_s": 1.0, "rules.long_pauses.persist_s": 1.0},
                        user_config=False)
    default = load_config(None, None, user_config=False)
    job = next(j for j in jobs if j.id == "deteriorating")
    assert ev.cue_key(job, other) == ev.cue_key(job, default)
    events, _, _ = ev.replay_file(job, other)
    assert alerts_of(ev.judge_cues(full[job.id][2], other)) == alerts_of(events)
    assert alerts_of(events) != alerts_of(full[job.id][0])


def test_cues_from_recorded_frames_equal_the_pipeline_cues(jobs, full):
    cfg = load_config(None, None, user_config=False)
    for job in jobs:
        _, record, stream = full[job.id]
        assert record.legs == ("caller", "agent") and len(record.fed) > 10
        assert repr(ev.track_cues(record, cfg.analysis)) == repr(stream)


def test_recorded_frames_serve_other_cue_windows_exactly(jobs, full):
    """The analysis settings change the cues, not the frames: frames recorded under the defaults,
    tracked with other settings, give the cues and alerts of a full replay with those settings."""
    default = load_config(None, None, user_config=False)
    name, value = next((k, v) for k, v in asdict(default.analysis).items()
                       if k.startswith("window") and isinstance(v, float))
    other = load_config(None, {f"analysis.{name}": value * 0.75}, user_config=False)
    job = next(j for j in jobs if j.id == "deteriorating")
    assert ev.frames_key(job) == ev.frames_key(job) and ev.cue_key(job, other) != ev.cue_key(job, default)
    events, _, stream = ev.replay_file(job, other)
    tracked = ev.track_cues(full[job.id][1], other.analysis)
    assert repr(tracked) == repr(stream) and repr(tracked) != repr(full[job.id][2])
    assert alerts_of(ev.judge_cues(tracked, other)) == alerts_of(events)


def test_cache_key_follows_audio_channels_and_analysis(jobs):
    cfg = load_config(None, None, user_config=False)
    a, b = jobs[0], jobs[1]
    analysis_key = next(iter(asdict(cfg.analysis)))
    changed = replace(cfg, analysis=replace(cfg.analysis, **{analysis_key: getattr(cfg.analysis, analysis_key) * 2}))
    assert ev.cue_key(a, cfg) != ev.cue_key(b, cfg)
    assert ev.cue_key(a, cfg) != ev.cue_key(replace(a, caller_channel=0, agent_channel=1), cfg)
    assert ev.cue_key(a, cfg) != ev.cue_key(a, changed)
    # the baseline's keys act after the cue tracker: a cached cue stream serves them all
    later = replace(cfg, analysis=replace(cfg.analysis, baseline_min_speech_s=15.0, baseline_max_s=20.0))
    assert ev.cue_key(a, cfg) == ev.cue_key(a, later)


def test_the_cache_digests_cover_the_modules_that_make_frames_and_cues():
    package = Path(ev.monitor.__file__).parent
    for pattern in ev.ANALYZER_SOURCES + ev.CUE_SOURCES:
        assert any(package.glob(pattern)), f"{pattern} names no file of the package"
    covered = {p.relative_to(package).as_posix() for pattern in ev.ANALYZER_SOURCES + ev.CUE_SOURCES
               for p in package.glob(pattern)}
    assert {"analysis/analyzer.py", "analysis/cue_windows.py", "analysis/span_measures.py"} <= covered


def _imported_by(*modules: str) -> set[str]:
    """The package's modules that ``modules`` import, however indirectly, and themselves; not
    through the configuration's modules, which count by their values (what they import for their
    help texts, such as the install hints, decides no frame or cue)."""
    from test_layout import import_graph

    graph, found, todo = import_graph(), set(modules), list(modules)
    while todo:
        module = todo.pop()
        if module.startswith("monitor.config"):
            continue
        for module in graph[module] - found:
            found.add(module)
            todo.append(module)
    return found


@pytest.mark.parametrize("sources, runs", [
    ("ANALYZER_SOURCES", ("monitor.analysis.analyzer", "monitor.capture.audio_files", "monitor.capture.sources")),
    ("CUE_SOURCES", ("monitor.analysis.cue_windows",)),
])
def test_the_cache_digests_cover_every_module_the_analyzer_and_the_cue_tracker_run(sources, runs):
    """A change to any module the analyzer (the noise floor's level columns, the file readers, ...) or
    the cue tracker (the cue registry, the leg tally, ...) runs makes the cached frames or cue
    streams stale; the configuration counts by its values. The cue streams' key holds the frames'."""
    from test_layout import modules

    files = modules()
    package = Path(ev.monitor.__file__).parent
    patterns = ev.ANALYZER_SOURCES + (ev.CUE_SOURCES if sources == "CUE_SOURCES" else ())
    covered = {p.relative_to(package).as_posix() for pattern in patterns for p in package.glob(pattern)}
    missing = sorted(m for m in _imported_by(*runs) if not m.startswith("monitor.config")
                     and files[m].relative_to(ROOT / "monitor").as_posix() not in covered)
    assert missing == []


def test_a_critical_alert_in_the_scores_names_its_cues_and_their_windows():
    alert = AlertEvent(t=40.0, kind="possible_emergency", severity="critical",
                       evidence={"cues": {"slow_speech": {"window": "short"}, "long_pauses": {"window": "long"}}})
    assert ev.alert_record(alert) == {"t": 40.0, "kind": "possible_emergency", "severity": "critical",
                                      "cues": ["slow_speech/short", "long_pauses/long"]}
    warning = AlertEvent(t=12.0, kind="slow_speech", severity="warning", evidence={"value": 2.0})
    assert ev.alert_record(warning) == {"t": 12.0, "kind": "slow_speech", "severity": "warning"}


def test_later_runs_read_the_cache_and_agree(tmp_path, jobs, harnessed):
    jobs = [j for j in jobs if j.id == "labored_start"]
    cache, results = harnessed
    settings = ev.Settings(cache_dir=str(shutil.copytree(cache, tmp_path / "cache")))
    first = [results[j.id] for j in jobs]
    second = ev.evaluate_jobs(jobs, settings, workers=1)
    assert {r["source"] for r in first} == {"replay"} and {r["source"] for r in second} == {"cache"}

    def strip(rs):
        return [{k: v for k, v in r.items() if k not in ("source", "cpu_s")} for r in rs]

    assert strip(first) == strip(second)
    # other cue settings: cues again from the cached frames, no analyzer; the same as a fresh replay
    name, value = next((k, v) for k, v in asdict(load_config(None, None, user_config=False).analysis).items()
                       if k.startswith("window") and isinstance(v, float))
    other = replace(settings, overrides=((f"analysis.{name}", value * 0.75),))
    third = ev.evaluate_jobs(jobs, other, workers=1)
    fresh = ev.evaluate_jobs(jobs, replace(other, cache_dir=None), workers=1)
    assert {r["source"] for r in third} == {"frames"} and {r["source"] for r in fresh} == {"replay"}
    assert strip(third) == strip(fresh)


def result(onset, ttc=None, *, expect=True, forbid=False, duration=120.0, warnings=0, criticals=0,
           before=0, **cond):
    return {"id": "x", "rate": 16000, "split": "test", "condition": cond, "duration_s": duration,
            "onset_s": onset, "expect_critical": expect, "forbid_critical": forbid, "time_to_critical_s": ttc,
            "criticals_before_onset": before, "warnings": warnings, "criticals": criticals,
            "normal_s": duration if onset is None else onset, "normal_warnings": warnings if onset is None else 0}


def test_metrics_count_misses_as_infinitely_late():
    rows = [result(60.0, 20.0), result(60.0, 40.0), result(60.0, None)]
    m = ev.row_metrics(rows)
    assert m["expected"] == 3 and m["detected_30s"] == pytest.approx(1 / 3)
    assert m["detected_any"] == pytest.approx(2 / 3)
    assert m["median_ttc_s"] == 40.0 and math.isinf(m["p90_ttc_s"])
    assert "miss" in ev.format_row({"label": "overall", **m})


def test_a_gradual_onset_is_also_scored_from_the_first_turn_past_the_mild_level():
    turns = [{"speaker": "caller", "start_s": 10.0, "severity": 0.0},
             {"speaker": "caller", "start_s": 60.0, "severity": 0.07},   # the labelled onset: any trouble
             {"speaker": "agent", "start_s": 80.0, "severity": 0.9},
             {"speaker": "caller", "start_s": 90.0, "severity": 0.35},  # no worse than a mild caller
             {"speaker": "caller", "start_s": 110.0, "severity": 0.5}]
    assert ev.past_mild_s({"turns": turns}, 60.0) == 110.0
    later = turns + [{"speaker": "caller", "start_s": 130.0, "severity": 0.8}]
    assert ev.past_mild_s({"turns": later[::-1]}, 60.0) == 110.0  # the first in time, in any order
    assert ev.past_mild_s({"turns": turns[:4]}, 60.0) == 60.0  # never past it: the onset
    assert ev.past_mild_s({"turns": turns}, 120.0) == 120.0  # never before the onset
    assert ev.past_mild_s({}, 60.0) == 60.0 and ev.past_mild_s({"turns": turns}, None) is None
    # a critical 55 s after the onset is 5 s after the caller got past the mild level
    late = {**result(60.0, 55.0), "time_past_mild_to_critical_s": 5.0}
    missed = {**result(60.0, None), "time_past_mild_to_critical_s": None}
    m = ev.row_metrics([late, missed, result(60.0, 20.0)])  # the last: a result without the field
    assert m["detected_30s"] == pytest.approx(1 / 3) and m["detected_30s_past_mild"] == pytest.approx(2 / 3)
    assert "67%" in ev.format_row({"label": "overall", **m})


def test_the_mild_level_is_the_corpus_s_mild_peak():
    from tools.eval_corpus import SEVERITY_PEAK

    assert ev.MILD_SEVERITY == max(SEVERITY_PEAK["mild"])


def test_metrics_false_alarms_and_rates():
    rows = [result(None, expect=False, forbid=True, duration=1800.0, warnings=1, criticals=1),
            result(None, expect=False, forbid=True, duration=1800.0),
            result(50.0, 10.0, before=1),
            result(50.0, 35.0, expect=False, forbid=False)]
    m = ev.row_metrics(rows)
    assert m["forbidden"] == 2 and m["false_alarm_files"] == 1
    assert m["warnings_per_hour"] == pytest.approx(1.0) and m["criticals_per_hour"] == pytest.approx(1.0)
    assert m["labored"] == 2 and m["pre_onset_false_alarm_files"] == 1
    assert m["other"] == 1 and m["other_detected"] == 1.0 and m["other_median_ttc_s"] == 35.0
    assert m["normal_warnings_per_hour"] == pytest.approx(3600 * 1 / 3700)


def test_condition_rows_and_buckets():
    rows = [result(60.0, 10.0, group="labored", rate_wpm=120, noise="pink", snr_db=15, codec="ulaw",
                   packet_loss=0.05, severity="severe"),
            result(None, expect=False, forbid=True, group="normal", rate_wpm=170, noise="none", snr_db=None,
                   codec="none", packet_loss=0, severity="none")]
    rows[0]["rate"] = 8000
    labels = {r["label"]: r for r in ev.tables(rows)["test"]}
    for label in ("overall", "group=labored", "group=normal", "rate_wpm=<130", "rate_wpm=>160", "snr_db=10-20",
                  "snr_db=none", "codec=ulaw", "codec=none", "sample_rate=8000", "packet_loss=true",
                  "severity=severe"):
        assert label in labels, label
    assert labels["packet_loss=true"]["files"] == 1 and labels["overall"]["files"] == 2


def test_command_prints_table_and_writes_json(tmp_path, capsys):
    """The command's table and JSON, and a second run with another rule setting compared with the
    first: one deteriorating call (its first critical moves) is all they need."""
    out = tmp_path / "run.json"
    args = [str(fixture_folder(tmp_path, ("deteriorating",))), "--rates", "16000", "-j", "1", "--cache",
            str(tmp_path / "cache"), "--json", str(out)]
    assert ev.main(args) == 0
    printed = capsys.readouterr().out
    for column in ("det@30", "med s", "p90 s", "FA", "warn/h", "crit/h", "pre-FA", "nwarn/h", "x real time"):
        assert column in printed
    assert "split fixtures" in printed and "overall" in printed
    data = json.loads(out.read_text())
    assert set(data) == {"version", "meta", "files", "tables"}
    assert {"wall_s", "audio_s", "x_real_time", "overrides", "rates"} <= set(data["meta"])
    f = data["files"][0]
    assert {"id", "rate", "split", "condition", "first_warning_t", "first_critical_t", "time_to_critical_s",
            "alerts"} <= set(f)
    assert all({"t", "kind", "severity"} <= set(a) <= {"t", "kind", "severity", "cues"} for a in f["alerts"])
    overall = data["tables"]["fixtures"][0]
    assert overall["label"] == "overall" and {"detected_30s", "median_ttc_s", "p90_ttc_s", "false_alarm_files",
                                              "warnings_per_hour", "criticals_per_hour",
                                              "pre_onset_false_alarm_files"} <= set(overall)
    assert ev.main(args[:-2] + ["--set", "rules.slow_speech.persist_s=1", "--compare", str(out)]) == 0
    assert "files whose first critical moved" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--set", "rules.slow_speech.nonsense=1"], "rules.slow_speech.nonsense: unknown key"),
    (["--set", "rules.slow_speech.persist_s=-1"], "must be >= 0"),
    (["--config", "/nonexistent.toml"], "no such configuration file"),
])
def test_bad_options_give_one_line_errors(tmp_path, capsys, extra, message):
    code = ev.main([str(fixture_folder(tmp_path, NAMES[:1])), "--cache", str(tmp_path / "c"), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_bad_corpus_gives_one_line_errors(tmp_path, capsys):
    assert ev.main([str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "index.json").write_text('["a"]')
    (tmp_path / "a.json").write_text("{not json")
    assert ev.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "a.json: invalid JSON" in err and len(err.splitlines()) == 1


def test_a_missing_audio_file_is_named_and_the_others_still_scored(tmp_path, capsys):
    folder = fixture_folder(tmp_path, NAMES[:2])
    label = json.loads((folder / "normal.json").read_text())
    label["files"]["16000"] = str(tmp_path / "gone_16k.wav")
    (folder / "normal.json").write_text(json.dumps(label))
    out = tmp_path / "run.json"
    code = ev.main([str(folder), "--rates", "16000", "-j", "1", "--cache", str(tmp_path / "c"), "--json", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err == f"evaluate: error: {tmp_path / 'gone_16k.wav'}: no such file"
    data = json.loads(out.read_text())
    assert [f["id"] for f in data["files"] if not f.get("error")] == ["deteriorating"]
    assert data["tables"]["fixtures"][0]["files"] == 1


def test_corpus_slice_end_to_end(eval_slice, tmp_path, capsys):
    out = tmp_path / "slice.json"
    code = ev.main([str(eval_slice), "--limit-calls", "4", "-j", "2", "--cache", str(tmp_path / "cache"),
                    "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["files"] and all(f["split"] in ("tune", "test") for f in data["files"])
    assert set(data["tables"]) <= {"tune", "test"} and data["tables"]
    for rows in data["tables"].values():
        assert rows[0]["label"] == "overall"
        assert any(r["dimension"] == "group" for r in rows)


def test_a_truncated_recording_is_an_error_not_scored_as_the_whole_call(tmp_path):
    """A recording cut short (its label's length 188 s, 0.15 s of audio) is not scored as far as it
    goes with its label's length as healthy call time: it is an error named in the replay's words,
    the run fails as for missing audio, the figures hold the whole files only, and a second run
    (its cache filled by the first) says it again."""
    folder = fixture_folder(tmp_path, NAMES[:2])
    label = json.loads((folder / "normal.json").read_text())
    cut = tmp_path / "normal_8k.wav"
    cut.write_bytes(Path(label["files"]["8000"]).read_bytes()[:5000])
    label["files"] = {"8000": str(cut)}
    (folder / "normal.json").write_text(json.dumps(label))
    out = tmp_path / "run.json"
    done = tool("evaluate", folder, "--rates", "8000", "-j", "1", "--cache", tmp_path / "c", "--json", out,
                "--limit-calls", "2")
    assert one_line_error(done, "evaluate", code=1) == (
        f"evaluate: error: {cut}: truncated or damaged, replayed the 0.15 s before its audio breaks off: "
        "not scored (an evaluation scores whole files)")
    data = json.loads(out.read_text())
    assert {f["id"]: bool(f.get("error")) for f in data["files"]} == {"normal": True, "deteriorating": False}
    assert data["tables"]["fixtures"][0]["files"] == 1
    again = tool("evaluate", folder, "--rates", "8000", "-j", "1", "--cache", tmp_path / "c", "--limit-calls", "2")
    assert again.returncode == 1 and "truncated or damaged" in again.stderr  # never served from the cache


CORPUS_TOOLS = ("warning_table", "fusion_llr", "onset_budget", "population_limits", "background_talk")
"""The tools that read one split of the corpus as the evaluation reads it (``evaluate.corpus_tool_parser``)."""


@pytest.mark.parametrize("name", CORPUS_TOOLS)
@pytest.mark.parametrize("audio", ["missing", "cut short"])
def test_a_corpus_tool_given_missing_or_cut_short_audio_says_it_in_one_line_naming_the_file(tmp_path, name, audio):
    """The tools that read the corpus say a call's audio that is not there, or cut short (``head -c
    5000``), in the evaluation's one line naming the file, exit 1, rather than a traceback (a
    FileNotFoundError from hashing it for the cache, the replay's AudioFileError); a corpus folder
    that is not there is one line too, exit 2."""
    folder = fixture_folder(tmp_path, NAMES[:2])  # a healthy call and a labored one: each tool reads one
    wav = tmp_path / "call_8k.wav"
    if audio == "cut short":
        wav.write_bytes((ROOT / "audio_fixtures" / "calls" / "normal_8k.wav").read_bytes()[:5000])
    for label_file in folder.glob("*.json"):
        label = json.loads(label_file.read_text())
        label["files"] = {"8000": str(wav)}
        label_file.write_text(json.dumps(label))
    every = ["--noise", "all"] if name == "background_talk" else []  # its own default: the babble lines alone
    done = tool(name, folder, "--split", "fixtures", "--rates", "8000", "--no-cache", *every)
    said = ("no such file" if audio == "missing" else
            "truncated or damaged, replayed the 0.15 s before its audio breaks off: not scored (an evaluation "
            "scores whole files)")
    assert one_line_error(done, name, code=1) == f"{name}: error: {wav}: {said}"
    one_line_error(tool(name, tmp_path / "gone", "--split", "fixtures"), name, f"{tmp_path / 'gone'}: no such folder")


@pytest.mark.parametrize("option, where, said", [
    ("--cache", "afile", "is not a folder"),
    ("--cache", "afile/sub", "cannot be made: {tmp}/afile is not a folder"),
    ("--json", "nodir/x.json", "no such folder {tmp}/nodir"),
    ("--json", ".", "is a folder, not a file"),
])
def test_an_output_that_cannot_be_written_is_refused_before_any_call_is_replayed(tmp_path, option, where, said):
    """``--cache`` and ``--json`` are checked as ``--compare`` is, before the run: a cache that is a
    file failed every call after replaying it, naming the audio, and a JSON in no folder was refused
    after the whole evaluation, its results thrown away."""
    (tmp_path / "afile").write_text("")
    path = tmp_path / where
    done = tool("evaluate", fixture_folder(tmp_path, NAMES[:1]), "-j", "1", option, path)
    one_line_error(done, "evaluate", f"{option} {path}: {said.format(tmp=tmp_path)}")
    assert not done.stdout


def test_a_json_output_file_that_can_be_written_is_taken_though_its_folder_cannot(tmp_path):
    """``--json /dev/stdout`` (a file this user may write, in a folder it may not) is checked as the
    file it is: taken, where it was refused before the run as "cannot be written"; a new file in
    such a folder is still refused."""
    import subprocess
    folder = tmp_path / "shut"
    folder.mkdir()
    (there := folder / "out.json").write_text("")
    there.chmod(0o666)
    folder.chmod(0o555)
    ask = "import sys; from tools.evaluate import output_file_problem as p; print(p(sys.argv[1]))"
    try:
        said = [subprocess.run([*PERMISSIONS_BIND, PY, "-c", ask, str(path)], cwd=ROOT, capture_output=True,
                               text=True, timeout=60).stdout.strip() for path in (there, folder / "new.json")]
    finally:
        folder.chmod(0o755)
    assert said == ["None", "cannot be written (permission denied)"]
