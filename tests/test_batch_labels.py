"""`call-monitor batch --labels`: an archive scored against a QA lead's labels of its calls.

The archive is cut from fixture calls (a caller in trouble from 68.4 s, a normal call over a noisy
line, a call nobody labelled), scored once on one worker into a real SQLite file; the labels are a
CSV file as a spreadsheet saves it.
"""
from __future__ import annotations

import csv
import html
import math
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
import soundfile as sf

from conftest import CALLS, call_monitor_here

from monitor.batch import detection
from monitor.batch.inputs import expand_inputs, recording
from monitor.batch.labels import LabelError, labels_of, parse_onset, read_labels, summary_lines, unlabelled
from monitor.cli import main
from monitor.config import load_config
from monitor.events import AlertEvent
from monitor.delivery.store_files import no_database_there
from monitor.report.archive import detection_lines, read_table
from tools import evaluate

TROUBLE_ONSET_S = 68.356
"""Where the caller of ``deteriorating_noisy`` starts to sound worse (its fixture label)."""


def cut(source: Path, seconds: float, out: Path) -> Path:
    """The first ``seconds`` of a fixture call, as a recording of its own."""
    info = sf.info(source)
    x, rate = sf.read(source, frames=int(info.samplerate * seconds), dtype="float32")
    sf.write(out, x, rate)
    return out



def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict:
    """Four calls scored once with their labels: ``troubled.wav`` labelled from ``1:08.356``,
    ``normal.wav`` labelled normal (an empty onset), ``late.wav`` (10 s) labelled in trouble from
    30 s, past its end, and ``unlabelled.wav`` not in the labels."""
    root = tmp_path_factory.mktemp("qa")
    calls = root / "calls"
    calls.mkdir()
    cut(CALLS / "deteriorating_noisy_8k.wav", 90.0, calls / "troubled.wav")
    cut(CALLS / "noisy_line_8k.wav", 45.0, calls / "normal.wav")
    cut(CALLS / "normal_8k.wav", 10.0, calls / "unlabelled.wav")
    cut(CALLS / "normal_8k.wav", 10.0, calls / "late.wav")
    labels = calls / "labels.csv"
    labels.write_text("file,onset,notes\ntroubled.wav,1:08.356,short of breath\nnormal.wav,,\nlate.wav,30,\n",
                      encoding="utf-8")
    db, out = root / "qa.db", root / "summary.csv"
    done = call_monitor_here("batch", calls, "-j", "1", "--db", db, "--out", out, "--labels", labels, "--quiet")
    return {"done": done, "db": db, "out": out, "labels": labels,
            "rows": {Path(r["path"]).name: r for r in read_csv(out)} if out.exists() else {}}


def stored_alerts(db: Path, call_id: str) -> list[tuple[float, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT t, severity FROM alerts WHERE call_id = ? ORDER BY t", (int(call_id),)).fetchall()
    finally:
        conn.close()


def test_each_labelled_call_says_its_first_warning_and_critical_after_its_onset(archive):
    assert archive["done"].returncode == 0, archive["done"].stderr
    troubled = archive["rows"]["troubled.wav"]
    alerts = stored_alerts(archive["db"], troubled["db_call_id"])
    first = {sev: min(t for t, s in alerts if s == sev and t >= TROUBLE_ONSET_S) for sev in ("warning", "critical")}
    assert troubled["label"] == "trouble" and float(troubled["onset_s"]) == TROUBLE_ONSET_S
    assert float(troubled["warning_after_onset_s"]) == pytest.approx(first["warning"] - TROUBLE_ONSET_S)
    assert float(troubled["critical_after_onset_s"]) == pytest.approx(first["critical"] - TROUBLE_ONSET_S)
    assert troubled["criticals_before_onset"] == "0"
    normal = archive["rows"]["normal.wav"]
    assert normal["label"] == "normal" and normal["onset_s"] == normal["critical_after_onset_s"] == ""
    unlabelled = archive["rows"]["unlabelled.wav"]
    assert unlabelled["label"] == unlabelled["critical_after_onset_s"] == "" and unlabelled["status"] == "scored"


def test_the_batch_prints_the_figures_the_project_reports_for_its_own_corpus(archive):
    """A troubled call never critical after its onset (``late.wav``) is a miss: infinitely late."""
    ttc = float(archive["rows"]["troubled.wav"]["critical_after_onset_s"])
    assert ttc <= detection.DETECT_WITHIN_S
    normal_min = (TROUBLE_ONSET_S + float(archive["rows"]["normal.wav"]["duration_s"]) + 10.0) / 60
    assert archive["done"].stdout.splitlines() == [
        f"detection against {archive['labels']}: 2 troubled, 0 mild and 1 normal call(s) (1 without a label: left out)",
        "troubled calls critical within 30 s of the onset: 1 of 2 (50 %); at all after it: 1 of 2 (50 %)",
        f"time from the onset to the first critical: median {ttc:.1f} s, 90th percentile never",
        "troubled and mild calls with a critical before their onset: 0 of 2 (0 %)",
        "normal calls with a false critical: 0 of 1 (0 %)",
        "warnings per hour of normal call time: 0.0 (over "
        f"{normal_min:.1f} min: the normal calls, the troubled and mild ones before their onset)"]


def test_an_onset_past_the_end_of_its_call_is_said_in_one_warning_line(archive):
    assert (f"call-monitor: warning: {archive['labels']} line 4: onset 30 s is past the end of late.wav (10 s): "
            "scored as a call never critical after it") in archive["done"].stderr.splitlines()


def test_the_batch_and_the_projects_evaluation_score_detection_by_one_declaration():
    assert evaluate.row_metrics is detection.row_metrics and evaluate.call_scores is detection.call_scores
    assert evaluate.DETECT_WITHIN_S == detection.DETECT_WITHIN_S


@pytest.mark.parametrize("cell, seconds", [("75", 75.0), ("75.5", 75.5), ("1:15", 75.0), ("1:15.5", 75.5),
                                           ("0:01:15", 75.0), (" 8.5 ", 8.5), ("", None)])
def test_an_onset_is_seconds_m_ss_or_h_mm_ss_and_empty_for_a_normal_call(cell, seconds):
    assert parse_onset(cell) == seconds


@pytest.mark.parametrize("cell", ["1:7x", "1:75", "-3", "1.2.3", "1h15", "1" + "0" * 400, "1" + "0" * 400 + ":00"])
def test_an_onset_in_no_such_form_is_refused(cell):
    with pytest.raises(ValueError):
        parse_onset(cell)


@pytest.mark.parametrize("labels, said", [
    (None, "labels.csv: cannot read the labels (No such file or directory)"),
    ("file,onset\na.wav,1:7x\n", "labels.csv line 2: onset '1:7x' is not seconds, m:ss or h:mm:ss into the call"),
    ("file,onset\na.wav,5\ngone.wav,\n", "labels.csv line 3: gone.wav is none of the recordings this batch scores "
                                         "(looked for as {folder}/gone.wav, then as the end of a recording's path)"),
    ("file;onset\na.wav;5\n", "labels.csv: labels need a 'file' and an 'onset' column (its columns: file;onset; "
                              "a labels file's columns are separated by commas, not ';')"),
    ("file,onset,notes\na.wav,5,d\xe9j\xe0 vu\n".encode("cp1252"),
     "labels.csv line 2: not UTF-8 text (byte 0xe9): save the labels as UTF-8 (a spreadsheet's "
     "'CSV UTF-8')"),
    ("file,onset\na.wav,5\n./a.wav,7\n", "labels.csv line 3: ./a.wav is labelled again (first on line 2)"),
    ("name,onset\na.wav,5\n", "labels.csv: labels need a 'file' and an 'onset' column (its columns: name, onset)"),
    ("file,onset,kind\na.wav,5,normal\n", "labels.csv line 2: a normal call with an onset (5): leave the onset "
                                          "empty, or say its kind is trouble or mild"),
    ("file,onset,kind\na.wav,,sick\n", "labels.csv line 2: kind 'sick' is none of trouble, mild, normal"),
], ids=["missing", "onset", "not-in-batch", "separator", "not-utf8", "duplicate", "no-file-column", "normal-with-onset", "kind"])
def test_a_bad_labels_file_is_one_line_naming_it_and_its_line_and_nothing_is_made(tmp_path, capsys, labels, said):
    """Said before anything is scored (the command run in this process: it stops before any worker)."""
    recording = cut(CALLS / "normal_8k.wav", 2.0, tmp_path / "a.wav")
    path = tmp_path / "labels.csv"
    if isinstance(labels, bytes):
        path.write_bytes(labels)
    elif labels is not None:
        path.write_text(labels, encoding="utf-8")
    status = main(["batch", str(recording), "-j", "1", "--db", str(tmp_path / "qa.db"), "--out",
                   str(tmp_path / "s.csv"), "--labels", str(path)])
    assert status == 2
    assert capsys.readouterr().err == f"call-monitor: error: {tmp_path}/{said.format(folder=tmp_path)}\n"
    assert not (tmp_path / "qa.db").exists() and not (tmp_path / "s.csv").exists()


def test_no_figure_is_taken_from_a_call_missed_as_if_it_were_late():
    missed = {"duration_s": 120.0, "onset_s": 10.0, "expect_critical": True, "forbid_critical": False,
              **detection.call_scores([], 10.0, 10.0)}
    m = detection.row_metrics([missed])
    assert m["detected_any"] == 0 and math.isinf(m["median_ttc_s"])


def test_the_criticals_before_an_onset_are_counted_over_the_troubled_and_mild_calls_and_said_so():
    """The figure counts every call with an onset (as the project's pre-FA does), so its line says so:
    a mild call critical before its onset is not said as a troubled one."""
    def scored(kind: str, onset: float, alerts: list[AlertEvent]) -> dict:
        return {"duration_s": 60.0, "onset_s": onset, "expect_critical": kind == "trouble",
                "forbid_critical": False, **detection.call_scores(alerts, onset, onset)}
    early = AlertEvent(t=5.0, kind="slow_speech", severity="critical", message="", evidence={})
    lines = summary_lines("labels.csv", [scored("trouble", 10.0, []), scored("mild", 20.0, [early])], 0, 0)
    assert "troubled and mild calls with a critical before their onset: 1 of 2 (50 %)" in lines
    assert lines[0] == "detection against labels.csv: 1 troubled, 1 mild and 0 normal call(s)"


def test_a_table_named_as_the_labels_file_is_refused_and_the_labels_kept(tmp_path, capsys):
    recording = cut(CALLS / "normal_8k.wav", 2.0, tmp_path / "a.wav")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,onset\na.wav,\n", encoding="utf-8")
    status = main(["batch", str(recording), "-j", "1", "--db", str(tmp_path / "qa.db"), "--out", str(labels),
                   "--labels", str(labels)])
    assert status == 2
    assert capsys.readouterr().err == (f"call-monitor: error: --out {labels}: is the labels file this batch reads, "
                                       "which the table would replace; give --out another file\n")
    assert labels.read_text(encoding="utf-8") == "file,onset\na.wav,\n" and not (tmp_path / "qa.db").exists()


def test_a_label_names_its_recording_from_the_labels_folder_else_by_the_end_of_its_path(tmp_path):
    """A labels file kept apart from the archive: a path from the labels file's folder, a path from
    the archive's root (written for another folder) and a bare name each find their one recording."""
    archive, qa = tmp_path / "archive", tmp_path / "qa"
    for folder in (archive / "2024-05", archive / "2024-06", qa):
        folder.mkdir(parents=True)
    for name in ("2024-05/a.wav", "2024-06/b.wav", "2024-06/c.wav"):
        cut(CALLS / "normal_8k.wav", 1.0, archive / name)
    labels = qa / "labels.csv"
    labels.write_text("file,onset\n../archive/2024-05/a.wav,5\n2024-06/b.wav,\nc.wav,1:00\n", encoding="utf-8")
    jobs = expand_inputs([str(archive)])
    matched = labels_of(read_labels(str(labels)), jobs)
    assert {Path(job.path).relative_to(archive).as_posix(): matched[recording(job.path)].named for job in jobs} == {
        "2024-05/a.wav": "../archive/2024-05/a.wav", "2024-06/b.wav": "2024-06/b.wav", "2024-06/c.wav": "c.wav"}
    assert unlabelled(matched, jobs, str(labels)) is None


def test_a_label_that_reaches_a_file_the_batch_does_not_score_names_that_file_not_a_namesake(tmp_path):
    """``a.wav`` beside the labels file is that recording, not the batch's ``calls/a.wav`` of the same
    name; a label naming a folder is said to name one."""
    (tmp_path / "calls").mkdir()
    (tmp_path / "2024-05").mkdir()
    for name in ("a.wav", "calls/a.wav"):
        cut(CALLS / "normal_8k.wav", 1.0, tmp_path / name)
    jobs = expand_inputs([str(tmp_path / "calls")])
    for row, said in (("a.wav,5", f"it is {tmp_path}/a.wav, which the batch does not read"),
                      ("2024-05,", f"it is {tmp_path}/2024-05, a folder")):
        labels = tmp_path / "labels.csv"
        labels.write_text(f"file,onset\n{row}\n", encoding="utf-8")
        with pytest.raises(LabelError) as refused:
            labels_of(read_labels(str(labels)), jobs)
        assert str(refused.value) == (f"{labels} line 2: {row.split(',')[0]} is none of the recordings this batch "
                                      f"scores ({said})")
    # a recording of that name the cluster's workers alone see (another mount of the archive) may be that file
    workers_only = [replace(jobs[0], path="/mnt/workers-only/calls/a.wav")]
    labels.write_text("file,onset\na.wav,5\n", encoding="utf-8")
    assert [label.named for label in labels_of(read_labels(str(labels)), workers_only).values()] == ["a.wav"]


def test_a_bare_name_of_two_recordings_is_one_line_naming_both_and_nothing_is_made(tmp_path, capsys):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        cut(CALLS / "normal_8k.wav", 1.0, tmp_path / folder / "x.wav")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,onset\nx.wav,5\n", encoding="utf-8")
    status = main(["batch", str(tmp_path / "a"), str(tmp_path / "b"), "-j", "1", "--db", str(tmp_path / "qa.db"),
                   "--labels", str(labels)])
    assert status == 2
    assert capsys.readouterr().err == (f"call-monitor: error: {labels} line 2: x.wav names 2 recordings this batch "
                                       f"scores ({tmp_path}/a/x.wav, {tmp_path}/b/x.wav): give its path from the "
                                       "labels file's folder\n")
    assert not (tmp_path / "qa.db").exists()


def test_the_recordings_without_a_label_are_said_apart_before_they_are_scored(archive):
    calls = archive["labels"].parent
    assert (f"call-monitor: warning: {archive['labels']}: 1 of the 4 recordings this batch scores have no label "
            f"({calls}/unlabelled.wav): scored, and left out of the figures") in archive["done"].stderr.splitlines()


def test_the_archive_report_of_a_labelled_batch_shows_the_figures_the_batch_printed(archive, tmp_path, capsys):
    """Counted again from the labelled calls' alerts in the database, as the batch's --resume counts them."""
    page = tmp_path / "archive.html"
    status = main(["report", "--batch", str(archive["out"]), "--db", str(archive["db"]), "-o", str(page)])
    assert status == 0, capsys.readouterr().err
    printed = archive["done"].stdout.splitlines()
    against = f"detection against the labels in {archive['out'].name}:"
    shown = [printed[0].replace(f"detection against {archive['labels']}:", against), *printed[1:]]
    text = page.read_text(encoding="utf-8")
    assert all(f"<li>{html.escape(line)}</li>" in text for line in shown), shown


def test_the_labels_figures_without_the_batchs_database_are_said_not_shown(archive, tmp_path):
    cfg = load_config(None, user_config=False)
    cfg = replace(cfg, storage=replace(cfg.storage, db=str(tmp_path / "elsewhere.db")))
    said: list[str] = []
    assert detection_lines(str(archive["out"]), read_table(str(archive["out"])), cfg, said.append) == []
    assert said == [f"{archive['out']}: the labels' figures are counted from the calls' alerts in the database, and "
                    f"none is read: {no_database_there(str(tmp_path / 'elsewhere.db'))}"]


def test_time_on_hold_is_no_normal_call_time_in_the_warnings_per_hour(tmp_path, capsys):
    """A call's holds (its manifest's ``hold``) are time in which the caller is not heard and no alert
    of theirs can come: the warnings per hour are counted over the normal time off hold, and the line
    says how much hold time it left out; the archive report counts them again as the batch did."""
    call = cut(CALLS / "normal_8k.wav", 30.0, tmp_path / "normal.wav")
    manifest, labels = tmp_path / "calls.csv", tmp_path / "labels.csv"
    manifest.write_text(f"path,hold\n{call},0:06-0:18\n", encoding="utf-8")
    labels.write_text("file,onset\nnormal.wav,\n", encoding="utf-8")
    db, out = tmp_path / "qa.db", tmp_path / "summary.csv"
    done = call_monitor_here("batch", manifest, "-j", "1", "--db", db, "--out", out, "--labels", labels, "--quiet")
    assert done.returncode == 0, done.stderr
    said = ("warnings per hour of normal call time: 0.0 (over 0.3 min: the normal calls, the troubled and mild "
            "ones before their onset; 0.2 min on hold left out)")
    assert done.stdout.splitlines()[-1] == said
    cfg = load_config(None, user_config=False)
    cfg = replace(cfg, storage=replace(cfg.storage, db=str(db)))
    assert detection_lines(str(out), read_table(str(out)), cfg)[-1] == said


def test_a_normal_calls_warnings_and_alerts_per_hour_leave_its_holds_out():
    """Of 60 s of a normal call with two overlapping holds (10-20 s and 15-30 s) and one past its end,
    40 s are heard: one warning in them is 90 an hour; a troubled call's holds after its onset are no
    normal time either way."""
    warning = AlertEvent(t=5.0, kind="slow_speech", severity="warning", message="", evidence={})
    holds = [(10.0, 20.0), (15.0, 30.0), (70.0, 80.0)]
    normal = {"duration_s": 60.0, "onset_s": None, "expect_critical": False, "forbid_critical": True,
              "held_s": detection.held_s(holds, 60.0), **detection.call_scores([warning], None, 60.0, holds)}
    troubled = {"duration_s": 60.0, "onset_s": 12.0, "expect_critical": True, "forbid_critical": False,
                **detection.call_scores([], 12.0, 12.0, [(10.0, 40.0)])}
    m = detection.row_metrics([normal, troubled])
    assert (normal["normal_s"], normal["normal_held_s"], troubled["normal_s"]) == (40.0, 20.0, 10.0)
    assert m["warnings_per_hour"] == pytest.approx(90.0)
    assert m["normal_warnings_per_hour"] == pytest.approx(3600.0 / 50.0)
    assert m["normal_held_hours"] * 3600 == pytest.approx(22.0)
