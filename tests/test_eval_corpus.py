"""The evaluation corpus generator (tools/eval_corpus.py) and what its labels promise.

The corpus measures detection on calls nobody tuned on, so its labels must tell the truth
about the audio. These tests measure the slice's audio against its labels (levels, SNR,
timing, which channel speaks, codec, packet loss, hold) by construction only, never with
the project's analyzer, and check the full corpus' design from its plans (no audio).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import EVAL_SLICE as SLICE, ROOT

from tools import eval_corpus as ec
from tools.make_fixtures import DISTRESS_WORDS

FIXTURE_KEYS = {"name", "files", "sample_rates", "channels", "duration_s", "trouble_onset_s", "expected_alerts",
                "forbidden_alerts", "max_severity", "turns", "generator"}
CONDITION_KEYS = {"group", "severity", "onset", "ramp_s", "degrade", "negative", "source", "breaths", "rate_wpm",
                  "caller_voice", "agent_voice", "caller_level_dbfs", "noise", "snr_db", "codec", "packet_loss",
                  "overlap", "hold", "domain"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.eval_corpus", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def labels(eval_slice: Path) -> list[dict]:
    """The slice's labels (the slice generated if missing or stale: conftest's ``eval_slice``)."""
    index = json.loads((SLICE / "index.json").read_text(encoding="utf-8"))
    return [json.loads((SLICE / f"{c['id']}.json").read_text(encoding="utf-8")) for c in index["calls"]]


def audio(lab: dict, rate: int = 16000) -> np.ndarray:
    x, sr = sf.read(SLICE / lab["files"][str(rate)], dtype="float64")
    assert sr == rate
    return x


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x**2) + 1e-20))


def span(x: np.ndarray, a: float, b: float, sr: int = 16000) -> np.ndarray:
    return x[int(a * sr): int(b * sr)]


def caller_phrases(lab: dict, healthy: bool | None = None) -> list[tuple[float, float]]:
    return [(p["start_s"], p["end_s"]) for t in lab["turns"] if t["speaker"] == "caller"
            and (healthy is None or (t["severity"] == 0) == healthy) for p in t["phrases"]]


def busy_mask(lab: dict, n: int, pad_s: float = 0.3) -> np.ndarray:
    """Samples near any caller phrase, inhalation or event (cough, packet loss) of the call."""
    mask = np.zeros(n, bool)
    spans = caller_phrases(lab) + [(i["start_s"], i["end_s"]) for t in lab["turns"] if t["speaker"] == "caller"
                                   for i in t["inhalations"]]
    spans += [(e["start_s"], e["end_s"]) for e in lab["events"] if e["kind"] != "hold"]
    for a, b in spans:
        mask[max(0, int((a - pad_s) * 16000)): int((b + pad_s) * 16000)] = True
    return mask


# ---------------------------------------------------------------- design (plans only, no audio)


def full_plans() -> list[ec.CallPlan]:
    return [ec.plan_call(seed, cell, "eval") for seed, cell in ec.full_calls()]


def test_the_first_replicate_keeps_the_seeds_and_cells_it_always_had():
    cells = ec.design()
    first = ec.full_calls(1)
    assert [seed for seed, _ in first] == list(range(1000, 1240))
    assert all(cell == cells[(seed - 1000) // 2] for seed, cell in first)
    assert ec.full_calls(3)[: len(first)] == first == ec.full_calls()[: len(first)]


def test_each_replicate_draws_every_cell_again_once_in_each_half_with_new_seeds():
    cells, calls = ec.design(), ec.full_calls(3)
    assert ec.REPLICATES == 2 and len(ec.full_calls()) == 2 * 2 * len(cells)
    seeds = [seed for seed, _ in calls]
    assert len(set(seeds)) == len(seeds) and max(seeds) < ec.SLICE_BASE_SEED
    for r in range(3):
        rep = [(seed, cell) for seed, cell in calls if ec.replicate_of(seed) == r]
        for parity in (0, 1):
            half = Counter(cell for seed, cell in rep if seed % 2 == parity)
            assert half == Counter(cells)
    one_half = [cell for seed, cell in ec.full_calls() if seed % 2 == 0]
    groups = Counter(c.group for c in one_half)
    critical = sum(c.group == "labored" and c.severity != "mild" for c in one_half)
    assert (critical, groups["normal"], groups["hard_negative"]) == (72, 84, 48)


def test_replicates_are_bounded_by_the_slice_seeds():
    assert ec.max_replicates() * 2 * len(ec.design()) + ec.BASE_SEED <= ec.SLICE_BASE_SEED
    for bad in (0, ec.max_replicates() + 1):
        with pytest.raises(ValueError):
            ec.full_calls(bad)


def test_keep_existing_keeps_a_call_whose_inputs_changed(tmp_path):
    (tmp_path / "eval_1000.json").write_text(json.dumps({"seed": 1000, "duration_s": 1.0,
                                                         "generator": {"params_sha256": "old"}}))
    for rate in (16000, 8000):  # whole audio (an empty file is one cut short: made again)
        sf.write(tmp_path / f"eval_1000_{rate // 1000}k.flac", np.zeros((rate, 2)), rate, subtype="PCM_16")
    todo, ids = ec.jobs_for(tmp_path, False, tmp_path, False, replicates=1)
    assert len(ids) == 240 and "eval_1000" in ids and 1000 in {j.seed for j in todo}
    todo, _ = ec.jobs_for(tmp_path, False, tmp_path, False, replicates=1, keep_existing=True)
    assert len(todo) == 239 and 1000 not in {j.seed for j in todo}


def test_full_corpus_has_the_composition_asked_for():
    plans = full_plans()
    groups = Counter(p.condition.group for p in plans)
    assert len(plans) >= 200
    assert 0.40 <= groups["labored"] / len(plans) <= 0.50
    assert 0.30 <= groups["normal"] / len(plans) <= 0.40
    assert 0.15 <= groups["hard_negative"] / len(plans) <= 0.25
    for group in ("labored", "normal"):
        real = sum(p.condition.source == "real" for p in plans if p.condition.group == group)
        assert 0.10 <= real / groups[group] <= 0.20
    labored = [p.condition for p in plans if p.condition.group == "labored"]
    assert {(c.severity, c.degrade, c.onset) for c in labored} == {
        (s, d, o) for s in ec.SEVERITY_PEAK for d in ec.DEGRADES for o in ec.ONSETS}
    assert {p.condition.negative for p in plans if p.condition.group == "hard_negative"} == set(ec.NEGATIVES)
    assert {p.condition.noise for p in plans} == set(ec.NOISES)
    assert {p.condition.codec for p in plans} == set(ec.CODECS)


def test_split_is_the_seed_parity_and_balanced_per_condition():
    plans = full_plans()
    assert all(p.split == ("tune" if p.seed % 2 == 0 else "test") for p in plans)
    for key in ("group", "severity", "onset", "degrade", "negative", "source", "noise", "codec", "domain"):
        per_split = {s: Counter(getattr(p.condition, key) for p in plans if p.split == s) for s in ("tune", "test")}
        if key == "domain":  # drawn per call: balanced in expectation only
            assert set(per_split["tune"]) == set(per_split["test"])
        else:
            assert per_split["tune"] == per_split["test"], key


def test_plans_vary_voices_rates_levels_and_texts_within_the_asked_ranges():
    plans = full_plans()
    voices = {p.condition.caller_voice for p in plans}
    accents = {v.split("+")[0] for v in voices if not v.startswith("real")}
    assert len(voices) >= 40 and len(accents) >= 7
    assert len({p.condition.agent_voice for p in plans}) >= 30
    assert all(p.caller is None or p.caller.spec != p.agent.spec for p in plans)
    rates = [p.condition.rate_wpm for p in plans]
    assert 110 <= min(rates) and max(rates) <= 200
    assert all(110 <= p.condition.rate_wpm <= 125 for p in plans if p.condition.negative == "slow")
    assert all(-35 <= p.condition.caller_level_dbfs <= -18 for p in plans)
    assert all(5 <= p.condition.snr_db <= 30 for p in plans if p.condition.snr_db is not None)
    assert {p.condition.domain for p in plans} == {"support", "billing", "booking", "insurance", "utilities"}
    assert len({p.topic for p in plans}) >= 15
    assert len({tuple(e.agent for e in p.exchanges) for p in plans}) >= 0.9 * len(plans)
    assert all(8 <= len(p.exchanges) <= 16 for p in plans if p.cell.negative != "monologue")


def test_onsets_ramps_and_severities_follow_the_cell():
    for p in full_plans():
        c = p.condition
        if c.group != "labored":
            assert p.peak == 0 and p.onset_s is None
            continue
        lo, hi = ec.SEVERITY_PEAK[c.severity]
        assert lo <= p.peak <= hi
        if c.onset == "start":
            assert p.onset_s == 0.0
        else:
            assert 40 <= p.onset_s <= 120
        assert (c.ramp_s is not None) == (c.onset == "gradual")
        if c.ramp_s is not None:
            assert 30 <= c.ramp_s <= 180


def test_degrading_one_cue_family_leaves_the_others_healthy():
    plan = ec.plan_call(ec.BASE_SEED, ec.design()[0], "eval")
    healthy = plan.natural
    for degrade in ec.DEGRADES:
        p = ec.CallPlan(**{**plan.__dict__, "condition": ec.replace(plan.condition, degrade=degrade)})
        d = ec.caller_delivery(p, 0.9)
        tempo = d.rate < healthy.rate
        pauses = d.pause_s[0] > healthy.pause_s[0] and d.inhale_p > 0 and d.gap_s[0] > healthy.gap_s[0]
        voice = d.gain_db < 0 and d.variant == plan.labored_variant
        assert (tempo, pauses, voice) == {"all": (True, True, True), "tempo": (True, False, False),
                                          "pauses_breaths": (False, True, False),
                                          "voice": (False, False, True)}[degrade]


def test_ordinary_caller_lines_hold_no_distress_words():
    g = ec.load_data("dialogues.json")
    lines = [c for dom in g["domains"].values() for t in dom["topics"] for _, c in t["exchanges"]]
    lines += [c for dom in g["domains"].values() for _, c in dom["openings"] + dom["closings"]]
    lines += [c for _, c in g["generic"]] + g["short_replies"] + g["laughs"]
    lines += g["hesitation"]["fillers"]
    assert len(lines) > 150
    assert not [c for c in lines if any(w in c.lower() for w in DISTRESS_WORDS)]


# ---------------------------------------------------------------- the slice's audio against its labels


def test_slice_covers_every_group_and_both_splits(labels):
    assert 10 <= len(labels) <= 14
    assert {lab["condition"]["group"] for lab in labels} == {"labored", "normal", "hard_negative"}
    assert {lab["split"] for lab in labels} == {"tune", "test"}
    assert {lab["condition"]["degrade"] for lab in labels} >= set(ec.DEGRADES)
    assert {lab["condition"]["source"] for lab in labels} == {"espeak", "real"}
    assert all(50 <= lab["duration_s"] <= 130 for lab in labels)


def test_labels_carry_the_fixture_keys_and_the_corpus_keys(labels):
    for lab in labels:
        assert FIXTURE_KEYS <= set(lab)
        assert {"split", "seed", "condition", "expect_critical", "forbid_critical"} <= set(lab)
        assert set(lab["condition"]) == CONDITION_KEYS
        c = lab["condition"]
        assert lab["split"] == ("tune" if lab["seed"] % 2 == 0 else "test")
        assert lab["expect_critical"] == (c["group"] == "labored" and c["severity"] in ("moderate", "severe"))
        assert lab["forbid_critical"] == (c["group"] != "labored")
        assert (lab["trouble_onset_s"] is None) == (c["group"] != "labored")
        assert lab["max_severity"] == ("critical" if lab["expect_critical"] else
                                       "warning" if c["group"] != "normal" else "none")
        if lab["forbid_critical"]:
            assert "possible_emergency" in lab["forbidden_alerts"]


def test_index_lists_every_call_with_split_and_condition(labels):
    index = json.loads((SLICE / "index.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in index["calls"]] == [lab["name"] for lab in labels]
    assert all(c["split"] == lab["split"] and c["condition"] == lab["condition"]
               for c, lab in zip(index["calls"], labels))


def test_audio_is_stereo_at_both_rates_and_as_long_as_labelled(labels):
    for lab in labels:
        for rate in (16000, 8000):
            info = sf.info(SLICE / lab["files"][str(rate)])
            assert (info.samplerate, info.channels, info.subtype, info.format) == (rate, 2, "PCM_16", "FLAC")
            assert abs(info.frames / rate - lab["duration_s"]) < 0.01


def test_turns_phrases_and_events_lie_inside_the_call_in_order(labels):
    for lab in labels:
        dur = lab["duration_s"]
        for t in lab["turns"]:
            spans = [(p["start_s"], p["end_s"]) for p in t["phrases"]]
            assert all(0 <= a < b <= dur for a, b in spans)
            assert all(b1 <= a2 + 1e-3 for (_, b1), (a2, _) in zip(spans, spans[1:]))
            assert all(0 <= i["start_s"] < i["end_s"] <= dur for i in t["inhalations"])
        assert all(0 <= e["start_s"] < e["end_s"] <= dur for e in lab["events"])
        caller = [t for t in lab["turns"] if t["speaker"] == "caller"]
        assert all(a["start_s"] < b["start_s"] for a, b in zip(caller, caller[1:]))


def test_caller_speech_is_on_the_right_channel_and_agent_speech_on_the_left(labels):
    for lab in [lab for lab in labels if lab["condition"]["noise"] == "none"]:
        x = audio(lab)
        agent_spans = [(p["start_s"], p["end_s"]) for t in lab["turns"] if t["speaker"] == "agent"
                       for p in t["phrases"]]
        alone = [(a, b) for a, b in caller_phrases(lab) if not any(a < d and c < b for c, d in agent_spans)]
        assert len(alone) >= 5
        diffs = [rms_db(span(x[:, 1], a, b)) - rms_db(span(x[:, 0], a, b)) for a, b in alone]
        assert np.median(diffs) > 30, lab["name"]
        quiet_agent = [(a, b) for a, b in agent_spans if not any(a < d and c < b for c, d in caller_phrases(lab))]
        diffs = [rms_db(span(x[:, 0], a, b)) - rms_db(span(x[:, 1], a, b)) for a, b in quiet_agent]
        assert np.median(diffs) > 20, lab["name"]


def test_caller_speech_level_is_the_labelled_level(labels):
    for lab in [lab for lab in labels if lab["condition"]["noise"] == "none"]:
        x = audio(lab)[:, 1]
        healthy = caller_phrases(lab, healthy=True) or caller_phrases(lab)
        level = rms_db(np.concatenate([span(x, a, b) for a, b in healthy]))
        assert abs(level - lab["levels"]["speech_level_dbfs"]["caller"]) < 0.5, lab["name"]


def test_noisy_calls_have_their_labelled_snr(labels):
    noisy = [lab for lab in labels if lab["condition"]["noise"] in ("white", "pink", "hum", "babble")]
    assert {lab["condition"]["noise"] for lab in noisy} >= {"white", "pink", "hum"}
    for lab in noisy:
        x = audio(lab)[:, 1]
        quiet = ~busy_mask(lab, len(x))
        p_noise = np.mean(x[quiet] ** 2)
        healthy = caller_phrases(lab, healthy=True) or caller_phrases(lab)
        p_speech = np.mean(np.concatenate([span(x, a, b) for a, b in healthy]) ** 2)
        snr = 10 * np.log10((p_speech - p_noise) / p_noise)
        assert abs(snr - lab["condition"]["snr_db"]) < 2.0, (lab["name"], snr)


def test_g711_calls_carry_at_most_256_sample_values_at_8k(labels):
    for lab in labels:
        x, _ = sf.read(SLICE / lab["files"]["8000"], dtype="int16")
        distinct = len(np.unique(x[:, 1]))
        if lab["condition"]["codec"] in ("ulaw", "alaw"):
            assert distinct <= 256, lab["name"]
        else:
            assert distinct > 1000, lab["name"]


def test_eight_khz_files_are_telephone_band(labels):
    lab = next(lab for lab in labels if lab["condition"]["codec"] == "none")
    x = audio(lab, 8000)[:, 1]
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 8000)
    assert spec[(f > 300) & (f < 3400)].sum() > 1000 * spec[(f < 150) | (f > 3700)].sum()


def test_packet_loss_gaps_are_zeroed_or_repeated_where_labelled(labels):
    lossy = [lab for lab in labels if lab["condition"]["packet_loss"]]
    assert lossy
    for lab in lossy:
        x = audio(lab)[:, 1]
        events = [e for e in lab["events"] if e["kind"] == "packet_loss"]
        assert events and all(0.019 <= e["end_s"] - e["start_s"] <= 0.061 for e in events)
        for e in events:
            i, j = int(e["start_s"] * 16000), int(e["end_s"] * 16000)
            if e["mode"] == "zero":
                assert np.all(x[i:j] == 0)
            else:
                assert np.array_equal(x[i:j], x[2 * i - j: i])


def test_hold_is_near_silence_on_both_legs(labels):
    held = [lab for lab in labels if lab["condition"]["hold"]]
    assert held
    for lab in held:
        x = audio(lab)
        hold = next(e for e in lab["events"] if e["kind"] == "hold")
        assert 10 <= hold["end_s"] - hold["start_s"] <= 40
        seg = span(x, hold["start_s"] + 0.3, hold["end_s"] - 0.3)
        assert rms_db(seg[:, 0]) < -60
        snr = lab["condition"]["snr_db"]
        line = lab["levels"]["speech_level_dbfs"]["caller"] - (snr if snr is not None else 40)
        assert rms_db(seg[:, 1]) < line + 1.5


def test_overlaps_put_the_agent_over_the_caller(labels):
    lab = next(lab for lab in labels if lab["condition"]["overlap"])
    overlaps = [e for e in lab["events"] if e["kind"] == "overlap"]
    assert overlaps
    x = audio(lab)
    for e in overlaps:
        seg = span(x, e["start_s"], e["end_s"])
        assert rms_db(seg[:, 0]) > lab["levels"]["speech_level_dbfs"]["agent"] - 15


def test_voice_degradation_lowers_the_caller_level_by_the_labelled_gain(labels):
    labored = [lab for lab in labels if lab["condition"]["degrade"] in ("all", "voice")
               and lab["condition"]["source"] == "espeak" and lab["condition"]["noise"] == "none"
               and lab["condition"]["onset"] != "start"]  # from the start: its own level is the reference
    assert labored
    for lab in labored:
        x = audio(lab)[:, 1]
        ref = lab["levels"]["speech_level_dbfs"]["caller"]
        for t in [t for t in lab["turns"] if t["speaker"] == "caller" and t["severity"] > 0]:
            level = rms_db(np.concatenate([span(x, p["start_s"], p["end_s"]) for p in t["phrases"]]))
            assert abs(level - (ref + t["gain_db"])) < 1.0, (lab["name"], t["index"])
        assert min(t["gain_db"] for t in lab["turns"] if t["speaker"] == "caller") < -3


def test_labored_turns_are_slower_and_pause_longer_than_the_healthy_ones(labels):
    lab = next(lab for lab in labels if lab["condition"]["degrade"] == "all"
               and lab["condition"]["source"] == "espeak" and lab["condition"]["onset"] == "abrupt")
    caller = [t for t in lab["turns"] if t["speaker"] == "caller"]
    healthy, sick = [t for t in caller if t["severity"] == 0], [t for t in caller if t["severity"] > 0]
    assert healthy and sick and lab["trouble_onset_s"] == sick[0]["start_s"]
    assert max(t["rate_wpm"] for t in sick) < 0.7 * min(t["rate_wpm"] for t in healthy)

    def pauses(turns: list[dict]) -> list[float]:
        return [b["start_s"] - a["end_s"] for t in turns for a, b in zip(t["phrases"], t["phrases"][1:])]

    assert np.median(pauses(sick)) > 2 * np.median(pauses(healthy))
    assert sum(len(t["inhalations"]) for t in sick) >= 3


# The caller variants whose degraded versions used to be whispers (Praat: a pitch in 0-4 % of the
# labored renderings' audible frames, 1-17 % of the breathy female ones), at the corpus's pitches.
FORMERLY_WHISPERED = (("en", None, 40), ("en-us-nyc", "f2", 68), ("en-gb-x-rp", "cmnormalf", 60),
                      ("en-gb-x-gbcwmd", "f5", 60), ("en-gb-x-gbcwmd", "f3", 72))


def praat_voicing(x: np.ndarray, sr: int = 16000) -> tuple[float, float]:
    """(% of audible 10 ms frames with a Praat pitch, median harmonics-to-noise ratio in dB) of mono X (n,)."""
    parselmouth = pytest.importorskip("parselmouth")
    snd = parselmouth.Sound(x, sr)
    f0 = snd.to_pitch(time_step=0.01).selected_array["frequency"]
    inten = snd.to_intensity(time_step=0.01).values[0]
    n = min(len(f0), len(inten))
    audible = inten[:n] > inten[:n].max() - 35.0
    hnr = snd.to_harmonicity_cc(time_step=0.01).values[0]
    return 100.0 * float((f0[:n][audible] > 0).mean()), float(np.median(hnr[hnr > -199]))


@pytest.fixture(scope="module")
def corpus_espeak(tmp_path_factory):
    """espeak-ng with the corpus's voice variants, as its generator runs it."""
    from tools.make_fixtures import Espeak

    tmp = tmp_path_factory.mktemp("espeak")
    return Espeak(ec.prepare_espeak(tmp), tmp, 1)


@pytest.mark.parametrize("accent,variant,pitch", FORMERLY_WHISPERED)
def test_breathy_and_labored_callers_are_voiced_and_breathier_than_their_healthy_voice(accent, variant, pitch,
                                                                                      corpus_espeak):
    from tools.make_fixtures import SynthRequest, Voice

    text = "I'm calling about a payment on my account that I don't understand."
    breathy, labored = ec.degraded_variants(variant)
    (v_mod, h_mod), (v_br, h_br), (v_lab, h_lab) = (
        praat_voicing(corpus_espeak.say(SynthRequest(Voice(accent, v, pitch, 40), rate, text, gap)))
        for v, rate, gap in ((variant, 170, 0), (breathy, 140, 1), (labored, 100, 3)))
    assert v_br >= 40 and v_lab >= 40, (v_mod, v_br, v_lab)
    assert max(h_br, h_lab) <= h_mod - 5, (h_mod, h_br, h_lab)


def test_breath_source_is_labelled(labels):
    for lab in labels:
        n = sum(len(t["inhalations"]) for t in lab["turns"])
        expected = "none" if n == 0 else ("real" if ec.breath_bank() else "synthetic")
        assert lab["condition"]["breaths"] == expected


def test_negatives_and_normal_calls_speak_no_distress(labels):
    for lab in labels:
        if lab["condition"]["group"] != "labored" or not lab["trouble"]["symptom_talk"]:
            assert lab["distress_phrases"] == [], lab["name"]


def test_a_regenerated_call_is_identical(labels, tmp_path):
    lab = next(lab for lab in labels if lab["condition"]["packet_loss"])
    cell = ec.slice_design()[lab["seed"] - ec.SLICE_BASE_SEED]
    data_path = ec.prepare_espeak(tmp_path)
    job = ec.Job(tmp_path, lab["seed"], cell, "slice", lab["generator"]["params_sha256"], data_path,
                 tuple(sorted((k, lab["generator"][k]) for k in ("espeak_ng", "sox"))))
    ec.generate(job)
    again = json.loads((tmp_path / f"{lab['name']}.json").read_text(encoding="utf-8"))
    assert again == lab
    for rate in ("16000", "8000"):
        a, _ = sf.read(tmp_path / lab["files"][rate], dtype="int16")
        b, _ = sf.read(SLICE / lab["files"][rate], dtype="int16")
        assert np.array_equal(a, b)


def test_an_up_to_date_slice_is_skipped_and_runs_on_one_folder_at_the_same_time_take_turns(labels, tmp_path):
    """An up-to-date slice is skipped: a run on it writes no call. Both workers of ``make test``
    ask for the slice, and every run rebuilds the folder's espeak-ng data, even with every call up
    to date: three runs on one folder (a copy of the slice) at once each succeed (at once, two in
    three pairs tripped over each other's files), each skipping every call."""
    folder = tmp_path / "slice"
    shutil.copytree(SLICE, folder, symlinks=True)
    procs = [subprocess.Popen([sys.executable, "-m", "tools.eval_corpus", str(folder), "--slice"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outs]  # they took turns
    assert all("0 call(s) written" in out for out, _ in outs)  # the up-to-date slice skipped, by each run


def test_replicates_outside_the_full_corpus_range_are_refused(tmp_path):
    for args in (["--replicates", "0"], ["--replicates", str(ec.max_replicates() + 1)], ["--slice", "--replicates", "2"]):
        done = run_cli(str(tmp_path / "out"), *args)
        assert done.returncode == 2 and "--replicates" in done.stderr and len(done.stderr.splitlines()) == 1
        assert not (tmp_path / "out").exists()


def test_bad_output_folder_is_one_line_error(tmp_path):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    done = run_cli(str(not_a_folder), "--slice")
    assert done.returncode == 2
    assert done.stderr.strip() == f"eval_corpus: {not_a_folder}: not a folder"
    done = run_cli(str(tmp_path / "out"), "-j", "0")
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_call_whose_audio_was_cut_short_is_made_again(tmp_path):
    """A corpus call is up to date only when its two FLAC files are whole: as long as its label says
    and their last sample decodes (a FLAC cut short keeps the header that promises its length)."""
    seed = ec.SLICE_BASE_SEED
    x = np.zeros((16000 * 2, 2), dtype="float32")
    (tmp_path / f"slice_{seed}.json").write_text(json.dumps({"seed": seed, "duration_s": 2.0}))
    sf.write(tmp_path / f"slice_{seed}_16k.flac", x, 16000, subtype="PCM_16")
    sf.write(tmp_path / f"slice_{seed}_8k.flac", np.random.default_rng(0).normal(0, 0.1, (8000 * 2, 2)), 8000,
             subtype="PCM_16")

    def made_again() -> bool:
        todo, _ = ec.jobs_for(tmp_path, True, tmp_path, False, keep_existing=True)
        return seed in {j.seed for j in todo}

    assert not made_again()
    path = tmp_path / f"slice_{seed}_8k.flac"
    path.write_bytes(path.read_bytes()[:-4000])
    assert made_again()
