"""tools/fusion_llr.py: the grades possible_emergency fuses, recorded per hop, and a likelihood-ratio
fusion fitted on them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from monitor.config import load_config
from tools import evaluate as ev
from tools import fusion_llr as fl
from tools.tune import fold_of

from cue_streams import HEALTHY, LABORED, cue_stream, eval_job as job



def stream(onset: float, end: float, hold: tuple[float, float] = (0.0, 0.0)) -> ev.CueStream:
    """Healthy until ``onset``, labored from 8 s after it (a window's length)."""
    return cue_stream(HEALTHY, LABORED, onset + 8, end, hold)


def corpus() -> list[tuple[ev.Job, ev.CueStream]]:
    return [(job("healthy", None, False), stream(1e9, 200.0)),
            (job("labored", 100.0, True), stream(100.0, 200.0)),
            (job("held", 100.0, True), stream(100.0, 200.0, hold=(104.0, 140.0))),
            (job("mild", 100.0, False), stream(150.0, 200.0))]


def test_today_s_fusion_replayed_from_the_record_raises_where_the_engine_did():
    rec = fl.record(corpus(), load_config(None, None, user_config=False))
    assert [bool(m["criticals"]) for m in rec.files] == [False, True, True, True]
    same, differ = fl.check(rec, load_config(None, None, user_config=False).rules.possible_emergency)
    assert (same, differ) == (4, [])


def test_a_hold_adds_no_weight_and_the_families_are_those_of_possible_emergency():
    rec = fl.record(corpus()[2:3], load_config(None, None, user_config=False))
    assert rec.families == ("tempo", "pausing", "latency", "voice", "loudness")
    quiet = (rec.t > 104.0 + 10.0 + 1.0) & (rec.t < 140.0)  # stale 10 s after the caller's last word
    assert quiet.any() and (rec.weight[quiet] == 0).all()
    assert (rec.weight[rec.t > 141.0] == 1.0).all()


def test_hops_are_healthy_before_an_onset_and_labored_after_it_only_where_a_critical_is_expected():
    rec = fl.record(corpus(), load_config(None, None, user_config=False))
    labels = {m["id"]: set(rec.label[(rec.file == i) & (rec.t >= 100.0)].tolist()) for i, m in enumerate(rec.files)}
    assert labels == {"healthy": {0}, "labored": {1}, "held": {1}, "mild": {-1}}
    assert set(rec.label[rec.t < 100.0].tolist()) == {0}


def test_a_curve_is_non_decreasing_in_the_grade_and_clipped():
    rng = np.random.default_rng(1)
    grades = np.concatenate([rng.uniform(0.0, 0.6, 2000), rng.uniform(0.3, 2.0, 2000)])
    label = np.repeat([0, 1], 2000)
    grades[:40] = 2.4  # a few healthy seconds far out: a dip the monotone fit smooths away
    curve = fl.fit_curve(grades, np.ones(4000), label, prior_s=5.0, clip=2.0)
    assert curve.shape == (len(fl.KNOTS),)
    assert (np.diff(curve) >= 0).all()
    assert curve[0] < 0 and curve.max() == 2.0 and curve.min() >= -2.0


def test_grades_without_weight_or_label_do_not_shape_a_curve():
    grades = np.array([0.1, 0.1, 1.5, 1.5, 1.5, np.nan])
    flat = fl.fit_curve(grades, np.array([1.0, 1.0, 0.0, 1.0, 1.0, 1.0]), np.array([0, 1, 1, -1, -1, 1]), 1.0, 3.0)
    assert np.allclose(flat, 0.0)


def test_the_folds_are_those_of_the_tuning_search_both_rates_of_a_call_together():
    files = [(job(f"call_{i}", None, False, rate), stream(1e9, 30.0)) for i in range(6) for rate in (16000, 8000)]
    rec = fl.record(files, load_config(None, None, user_config=False))
    folds = fl.fold_files(rec)
    for k, members in enumerate(folds):
        assert all(fold_of(rec.files[i]["id"], 2) == k for i in members)
    assert sorted(np.concatenate(folds).tolist()) == list(range(12))


def pad_of(llr: np.ndarray) -> dict[str, np.ndarray]:
    n, t, _ = llr.shape
    return {"valid": np.ones((n, t), bool), "t": np.tile(np.arange(t, dtype=float), (n, 1)),
            "weight": np.ones((n, t))}


@pytest.mark.parametrize("rule", [fl.LlrRule(5.0, min_family=0.5), fl.LlrRule(1.0, drift=0.5, mode="capped")])
def test_one_family_alone_never_decides_two_families_do(rule: fl.LlrRule):
    llr = np.full((2, 60, 3), np.nan)
    llr[:, :, 0] = 2.0  # one family far past: 2 nats a second
    llr[1, :, 1] = 1.0  # a second one beside it in the second call
    holds = fl.llr_holds(pad_of(llr), llr, rule)
    assert not holds[0].any()
    assert holds[1].any() and holds[1].argmax() < 10


def test_the_joint_sum_drains_while_the_summed_evidence_is_negative():
    llr = np.zeros((1, 40, 2))
    llr[0, :, :] = [1.0, 0.5]
    llr[0, 10:, :] = [-1.0, -1.0]
    holds = fl.llr_holds(pad_of(llr), llr, fl.LlrRule(3.0, min_family=0.5))
    assert holds[0, 1:10].all() and not holds[0, 12:].any()


def test_the_scores_count_detections_within_30_s_and_false_criticals():
    files = [{"expect": True, "forbid": False, "onset_s": 100.0}, {"expect": True, "forbid": False, "onset_s": 50.0},
             {"expect": False, "forbid": True, "onset_s": None}, {"expect": True, "forbid": False, "onset_s": 80.0}]
    s = fl.scores(files, [[112.0], [20.0, 200.0], [5.0], []])
    assert (s["det30"], s["expected"], s["fa"], s["pre"], s["forbid"]) == (1, 3, 1, 1, 1)
    assert s["median"] == 150.0  # nearest rank of 12, 150, inf
    assert math.isinf(fl.scores(files[3:], [[]])["median"])


def test_a_record_round_trips_and_a_bad_one_is_a_one_line_error(tmp_path, capsys):
    rec = fl.record(corpus(), load_config(None, None, user_config=False))
    fl.save_record(rec, str(tmp_path / "rec.npz"))
    back = fl.load_record(str(tmp_path / "rec.npz"))
    assert back.files == rec.files and np.array_equal(back.grades, rec.grades, equal_nan=True)
    (tmp_path / "other.npz").write_bytes(b"not a record")
    for name, why in (("missing.npz", "cannot read"), ("other.npz", "not a record of tools.fusion_llr")):
        assert fl.main(["unread", "--from-record", str(tmp_path / name), "--check"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"fusion_llr: error: {tmp_path / name}: {why}") and err.count("\n") == 1


def test_from_the_command_line_the_record_s_check_and_files_are_written_as_json(tmp_path, capsys):
    rec = fl.record(corpus(), load_config(None, None, user_config=False))
    fl.save_record(rec, str(tmp_path / "rec.npz"))
    assert fl.main(["unread", "--from-record", str(tmp_path / "rec.npz"), "--check",
                    "--json", str(tmp_path / "out.json")]) == 2, "the four-family path is not replayed"
    assert "rules.possible_emergency.paired_grade" in capsys.readouterr().err
    assert fl.main(["unread", "--from-record", str(tmp_path / "rec.npz"), "--check", "--set",
                    "rules.possible_emergency.paired_grade=0", "--json", str(tmp_path / "out.json")]) == 0
    assert capsys.readouterr().out == "today's fusion from the record: 4 of 4 files' criticals as the engine's\n"
    data = json.loads((tmp_path / "out.json").read_text())
    assert [f["id"] for f in data["files"]] == ["healthy", "labored", "held", "mild"]
    assert data["check"][0].startswith("today's fusion from the record: 4 of 4")


def test_a_split_without_calls_or_an_unknown_split_is_refused(tmp_path, capsys):
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "a.json").write_text(json.dumps({"files": {"16000": "a.flac"}}))
    assert fl.main([str(tmp_path / "calls"), "--split", "tune"]) == 2
    assert capsys.readouterr().err.startswith("fusion_llr: error: ")
    with pytest.raises(SystemExit):
        fl.main([str(tmp_path / "calls"), "--split", "tuning"])
    assert "invalid choice: 'tuning'" in capsys.readouterr().err


def test_the_replayed_alert_keeps_the_configured_persistence_clear_and_cooldown():
    pe = load_config(overrides={"rules.possible_emergency.persist_s": 2.0, "rules.possible_emergency.clear_s": 3.0,
                                "rules.possible_emergency.cooldown_s": 10.0}, user_config=False).rules.possible_emergency
    t = np.arange(40.0)
    holds = np.isin(t, [*range(5, 9), *range(10, 12), *range(20, 30)])
    # raised after 2 s held (7 s); the 1 s gap at 9 s does not clear it, the 8 s from 12 s do;
    # held again from 20 s, raised at 22 s, past the 10 s cooldown
    assert fl.raises(t, holds, pe) == [7.0, 22.0]
    shipped = load_config(None, None, user_config=False).rules.possible_emergency  # no persistence
    assert fl.raises(t, holds, shipped) == [5.0]  # within the 120 s cooldown once


@pytest.mark.parametrize("key", ["smooth_s", "single_family", "min_turns", "paired_grade"])
def test_a_fusion_setting_the_record_does_not_replay_is_refused(tmp_path, capsys, key):
    rec = fl.record(corpus(), load_config(None, None, user_config=False))
    fl.save_record(rec, str(tmp_path / "rec.npz"))
    assert fl.main(["unread", "--from-record", str(tmp_path / "rec.npz"), "--check",
                    "--set", f"rules.possible_emergency.{key}=2"]) == 2
    assert capsys.readouterr().err.startswith(f"fusion_llr: error: rules.possible_emergency.{key}: ")
