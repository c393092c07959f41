"""`call-monitor report`: one self-contained HTML page (or PNG timeline) per call.

Reports are made for fixture calls (replayed through the pipeline, with a transcript built from
the fixture's labelled phrases standing in for the recogniser) and for a call stored in SQLite;
the HTML is parsed, its timeline image decoded, and the page is rendered in headless Chromium.
Commands run in the test's process (``cli.main``, :func:`conftest.call_monitor_here`) unless the
test's subject is their process (a user's run end to end, a stop, file permissions binding, the
environment, what the plotting library itself prints): those run in a fresh interpreter.
"""
from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("matplotlib")
import matplotlib.image as mpimg

from conftest import (CALLS, HOLD, ROOT, call_monitor, call_monitor_here, long_recording, made_in, replay_under_way,
                      replayed_under_a_lock, stopped_once_open)

from monitor import cli
from monitor.config import load_config
from monitor.events import AlertEvent, Word, WordsEvent
from monitor.report import (ReportError, from_file, from_store, maybe_write_call_report,
                            render)
from monitor.cue_registry import cue, panels as registry_panels
from monitor.alerts.evidence import fmt_duration
from monitor.alerts.meaning import kind_name
from monitor.report.figure import fmt_time, html_report_command
from monitor.analysis.hop_series import read_series
from monitor.report.data import recording_warning
from monitor.delivery.store import Store
from monitor.delivery.store_schema import SCHEMA_VERSION

PNG_SIG = b"\x89PNG\r\n\x1a\n"
CHROMIUM = "/usr/bin/chromium"
UNDRAWN = "\U00013000\U00013001\U00013002 \U00013003\U00013004"
"""Words in a script (Egyptian hieroglyphs) no font the picture draws with here has."""


def label_words(name: str) -> list[WordsEvent]:
    """Final 'recognition results' from the fixture labels: one per phrase, words spread evenly."""
    label = json.loads((CALLS / f"{name}.json").read_text())
    out = []
    for turn in label["turns"]:
        for ph in turn["phrases"]:
            toks = ph["text"].split()
            step = (ph["end_s"] - ph["start_s"]) / max(len(toks), 1)
            words = tuple(Word(w.strip(".,?!").lower(), ph["start_s"] + i * step,
                               ph["start_s"] + (i + 1) * step, 1.0) for i, w in enumerate(toks))
            out.append(WordsEvent(t=ph["end_s"], channel=turn["speaker"], final=True, words=words,
                                  text=" ".join(w.word for w in words)))
    return out


class Page(HTMLParser):
    """Collects images, alert rows (with their text), marks and all text of a report page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict] = []
        self.alerts: list[dict] = []
        self.marks: list[str] = []
        self.text: list[str] = []
        self.external: list[str] = []
        self._row: dict | None = None
        self._mark: list[str] | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            v = a.get(key)
            if v and not v.startswith(("data:", "#")):
                self.external.append(v)
        if tag in ("script", "link", "iframe"):
            self.external.append(tag)
        if tag == "img":
            self.images.append(a)
        if tag == "tr" and "alert" in (a.get("class") or "").split():
            self._row = {"t": a.get("data-t"), "kind": a.get("data-kind"), "class": a.get("class"), "text": []}
        if tag == "mark":
            self._mark = []

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self._row["text"] = " ".join(self._row["text"])
            self.alerts.append(self._row)
            self._row = None
        if tag == "mark" and self._mark is not None:
            self.marks.append(" ".join(self._mark))
            self._mark = None

    def handle_data(self, data):
        self.text.append(data)
        if self._row is not None:
            self._row["text"].append(data)
        if self._mark is not None:
            self._mark.append(data)


def parse(html_text: str) -> Page:
    p = Page()
    p.feed(html_text)
    p.close()
    return p


def decode_png(payload: bytes) -> np.ndarray:
    assert payload[:8] == PNG_SIG
    img = mpimg.imread(io.BytesIO(payload), format="png")
    assert img.ndim == 3 and img.shape[0] > 400 and img.shape[1] > 800
    return img


def image_of(page: Page) -> np.ndarray:
    srcs = [i["src"] for i in page.images if i.get("id") == "timeline"]
    assert len(srcs) == 1, page.images
    prefix = "data:image/png;base64,"
    assert srcs[0].startswith(prefix)
    return decode_png(base64.b64decode(srcs[0][len(prefix):], validate=True))


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


@pytest.fixture(scope="module")
def det(tmp_path_factory) -> dict:
    """The deteriorating call (8 kHz), replayed once into a store, with a label transcript.

    The recording is replayed from a copy that is removed afterwards, so that the stored call
    has no audio left (the store keeps none)."""
    d = tmp_path_factory.mktemp("det")
    db = d / "events.db"
    copy = d / "deteriorating_8k.wav"
    shutil.copy(CALLS / "deteriorating_8k.wav", copy)
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)
    words = label_words("deteriorating")
    store = Store.open(db)
    try:
        data = from_file(str(copy), cfg, words=words, store=store)
        for w in words:  # what a transcribing pipeline would have stored
            store.add_words(data.call_id, w)
        store.flush()
    finally:
        store.close()
    html_bytes = render(data, "html")
    out = d / "report.html"
    out.write_bytes(html_bytes)
    os.unlink(copy)
    return {"data": data, "html": html_bytes.decode("utf-8"), "path": out, "db": db, "cfg": cfg,
            "dir": d}


def test_file_report_html(det):
    data, page = det["data"], parse(det["html"])
    assert not page.external, f"external assets: {page.external}"
    img = image_of(page)
    assert float(img[..., :3].std()) > 0.05, "timeline image is blank"
    # every alert of the call is in the page, with its time
    assert data.alerts and data.critical >= 1
    rows = {(r["kind"], r["t"]): r for r in page.alerts}
    for a in data.alerts:
        row = rows.get((a.kind, f"{a.t:.1f}"))
        assert row is not None, (a.kind, a.t, list(rows))
        assert fmt_time(a.t) in row["text"] and f"{a.t:.1f} s" in row["text"]
        assert a.severity in row["text"] and a.severity in row["class"]
        for action in a.actions:
            assert action in row["text"]
        assert "now:" in row["text"] or "cues:" in row["text"]  # the evidence, in words
        # how it ended: a recovery shows its time; one still raised at the end is not an all-clear
        end = data.clear_of(a)
        if end is not None and end.reason == "call_ended":
            assert "still raised when the call ended" in row["text"] and "cleared" not in row["text"]
        elif end is not None:
            assert f"cleared {fmt_time(end.t)}" in row["text"]
    assert any(c.reason == "call_ended" for c in data.clears), "the fixture call ends mid-alert"
    text = " ".join(page.text)
    assert "Cues: baseline against the worst window" in text and "Speech rate" in text
    # the transcript is there, with the distress phrases highlighted
    assert "my phone stopped charging this morning" in text
    marked = " ".join(page.marks)
    for phrase in ("catch my breath", "chest hurts", "pressure in my chest"):
        assert phrase in marked, page.marks
    assert "charging" not in marked


def test_the_report_reads_to_a_screen_reader_as_it_shows_the_eye(det):
    """WCAG 2.1 AA as a parser checks it (:func:`a11y.audit`: language, title, landmark, headings, text
    alternatives, captioned tables with column headers, named links, 4.5:1 contrast). The timeline's
    alternative says its alerts, and its caption links the tables that say it in words; a cue worse
    than its baseline says so, not by its red alone; a transcript line reads its time, speaker and words
    apart, and a highlighted phrase says it is a distress phrase."""
    from a11y import audit
    assert audit(det["html"]) == []
    data, page = det["data"], parse(det["html"])
    first = min(a.t for a in data.alerts if a.severity == "critical")
    alt = next(i["alt"] for i in page.images if i.get("id") == "timeline")
    assert f"{len(data.alerts)} alert(s), {data.critical} critical" in alt and fmt_time(first) in alt
    assert '<a href="#cues">' in det["html"] and '<a href="#alerts">' in det["html"]
    worse = re.findall(r'<tr class="worse">.*?<td class="num chg">([^<]*)</td>', det["html"])
    assert worse and all(c.endswith(" (worse)") for c in worse)
    assert "(worse)" not in "".join(re.findall(r'<tr class="">.*?</tr>', det["html"]))
    text = "".join(page.text)  # as a screen reader joins them: no space but those the page writes
    first_line = data.utterances[0]
    assert f"{fmt_time(first_line.start)} {first_line.channel} {first_line.words[0]}" in text
    assert all(m.startswith("distress phrase: ") for m in page.marks)
    # an alert's kind reads as words ("possible emergency", not "possible underscore emergency"); its key
    # stays the row's data (data-kind)
    for row in page.alerts:
        assert f" {kind_name(row['kind'])} " in f" {row['text']} ", row
    assert not [a.kind for a in data.alerts if a.kind in text or a.kind in alt], "an alert kind's key among the words"


def test_the_cue_table_gives_a_level_in_db_a_change_in_db_and_the_others_a_percentage(det):
    """As the alerts say it ("4.8 dB below the caller's baseline"): a fraction of a dBFS value
    means nothing (-24 to -34 dBFS is not "-43 %")."""
    from monitor.report.data import cue_rows
    rows = {r.label: r for r in cue_rows(det["data"])}
    cells = dict(re.findall(r'<tr class="[^"]*"><td>([^<(]+?)(?: \([^)]*\))?</td>.*?<td class="num chg">([^<]*?)'
                            r'(?: \(worse\))?</td></tr>', det["html"]))
    for label in ("HNR", "CPPS", "Loudness"):
        r = rows[label]
        assert cells[label] == f"{r.worst - r.baseline:+.1f} dB", (label, cells[label])
    r = rows["Speech rate"]
    assert cells["Speech rate"] == f"{100 * (r.worst - r.baseline) / r.baseline:+.0f} %"


def test_a_stored_calls_cue_table_takes_its_worst_windows_from_its_snapshots_and_says_so_beside_it(det):
    """The database keeps one cue window every ``storage.snapshot_every_s`` (5 s), the report of the
    recording every window (every 1 s hop): the stored call's worst windows are the recording's taken
    at the snapshots' times alone, so their figures and times may differ a little. The stored call's
    page says so under its table; the recording's says nothing of it."""
    from monitor.report.data import cue_rows
    data = det["data"]
    with Store.open(det["db"]) as store:
        stored = from_store(store, data.call_id, det["cfg"], use_audio=False)
    kept = {c.t for c in stored.cues}
    assert len(data.cues) > 4 * len(kept) and kept <= {c.t for c in data.cues}
    snapshots_alone = dataclasses.replace(data, cues=[c for c in data.cues if c.t in kept])

    def when(report) -> list[tuple[str, float | None]]:
        """Each cue and the time of its worst window."""
        return [(r.name, r.worst_t) for r in cue_rows(report)]

    assert when(stored) == when(snapshots_alone) != when(data)
    assert [r.worst for r in cue_rows(stored)] == pytest.approx([r.worst for r in cue_rows(snapshots_alone)],
                                                                abs=1e-3)  # the database keeps 4 decimals
    said = ("Its worst windows are of the cue snapshots the database keeps, one every 5 s "
            "(storage.snapshot_every_s): a report of the call's recording, which takes every window (every 1 s), "
            "may find a window a little worse, a few seconds apart.")
    page = render(stored, "html").decode("utf-8")
    table_end = page.index("</table>", page.index('<h2 id="cues">'))
    assert page.index(f"<p class=\"muted\">{html.escape(said)}</p>") == table_end + len("</table>")
    assert "cue snapshots the database keeps" not in det["html"]


def test_a_stored_calls_report_names_the_snapshot_interval_the_call_was_stored_with_not_the_one_configured_now(tmp_path):
    """The database keeps no setting with the call, but its snapshots' times tell how far apart it kept
    them: a call stored one snapshot every 3 s, reported once the configuration says 10 s, says 3 s
    where its notes name the snapshots (its worst windows, its cue curves), never the 10 s of now."""
    x, rate = sf.read(CALLS / "deteriorating_8k.wav", dtype="float32")
    recording, db = tmp_path / "call.wav", tmp_path / "events.db"
    sf.write(recording, x[:40 * rate], rate)
    (tmp_path / "stored.toml").write_text("[storage]\nsnapshot_every_s = 3\n")
    (tmp_path / "now.toml").write_text("[storage]\nsnapshot_every_s = 10\n")
    stored = call_monitor_here("replay", recording, "--no-transcribe", "--db", db, "--config", tmp_path / "stored.toml")
    assert stored.returncode == 0, stored.stderr
    times = [t for (t,) in sqlite3.connect(db).execute("SELECT t FROM cue_snapshots WHERE channel = 'caller' ORDER BY t")]
    assert {round(b - a, 3) for a, b in zip(times, times[1:])} == {3.0}
    done = call_monitor_here("report", "1", "--db", db, "--config", tmp_path / "now.toml", "-o", tmp_path / "r.html")
    assert done.returncode == 0, done.stderr
    page = html.unescape((tmp_path / "r.html").read_text())
    assert ("Its worst windows are of the cue snapshots the database keeps, one every 3 s "
            "(storage.snapshot_every_s): a report of the call's recording") in page
    assert "Cue curves from the stored snapshots (every 3 s)" in page and "every 10 s" not in page


def test_a_stored_calls_transcript_marks_the_phrases_its_alerts_were_raised_on_whatever_the_phrase_list_is_now(
        tmp_path):
    """A call stored under a Korean phrase list (``[phrases] ko = ["여보세요"]``) has a distress_phrase
    alert for it, but its report, made without that list, marked nothing in red, and one made under
    another list marked what that list finds. Its transcript now marks what its stored alerts were
    raised on (the words their evidence spans, titled with the listed phrase), whatever the list is
    now, as its alerts table lists them; a recording replayed for its report is marked by the list
    configured."""
    from tools.bench_transcribe import RATE, say
    clips = [say(text, tmp_path, name) for text, name in (("감사합니다", "a"), ("여보세요", "b"), ("네", "c"))]
    gap = np.zeros(int(1.2 * RATE), np.float32)
    call = tmp_path / "korean.wav"
    sf.write(call, np.concatenate([gap, clips[0], gap, clips[1], gap, clips[2], gap]), RATE)
    (tmp_path / "stored.toml").write_text('[phrases]\nko = ["여보세요"]\n')
    (tmp_path / "now.toml").write_text('[phrases]\nko = ["살려 주세요"]\n')
    stored = call_monitor_here("replay", call, "--model", "ko", "--db", tmp_path / "e.db", "--config", tmp_path / "stored.toml")
    assert stored.returncode == 0, stored.stderr
    with Store.open(tmp_path / "e.db") as store:
        raised = [a.event for a in store.list_alerts(call_id=1)]
    assert [(a.kind, a.evidence["phrase"]) for a in raised] == [("distress_phrase", "여보세요")], stored.stdout
    for config in ([], ["--config", tmp_path / "now.toml"]):
        done = call_monitor_here("report", "1", "--db", tmp_path / "e.db", *config, "-o", tmp_path / "r.html")
        assert done.returncode == 0, done.stderr
        page = (tmp_path / "r.html").read_text()
        assert [" ".join(m.split()) for m in parse(page).marks] == [f"distress phrase: {raised[0].evidence['excerpt']}"]
        assert re.findall(r'<mark class="distress" title="([^"]*)"', page) == ["여보세요"]
    for config, marked in (("stored.toml", ["여보세요"]), ("now.toml", [])):
        replayed = call_monitor_here("report", call, "--model", "ko", "--config", tmp_path / config,
                                     "-o", tmp_path / "replayed.html")
        assert replayed.returncode == 0, replayed.stderr
        assert re.findall(r'<mark class="distress" title="([^"]*)"', (tmp_path / "replayed.html").read_text()) == marked


def test_a_stored_calls_phrases_are_marked_by_its_alerts_of_earlier_releases_and_its_combined_alerts_too():
    """An earlier release's distress_phrase alert kept no start, only its time (its last word's end):
    as many words as it quotes, ending there, are marked; a possible emergency marks the phrase it
    names; a phrase across two final results is marked in each; a caller's line no alert was raised
    on, and the agent's, are not."""
    from monitor.report.data import utterances

    def line(t0: float, text: str, channel: str = "caller") -> WordsEvent:
        words = tuple(Word(w, t0 + i * 0.5, t0 + i * 0.5 + 0.4, 1.0) for i, w in enumerate(text.split()))
        return WordsEvent(t=words[-1].end, channel=channel, final=True, words=words, text=text)

    words = [line(1.0, "hello i can't breathe"), line(5.0, "my chest"), line(7.0, "hurts a lot"),
             line(10.0, "i can't breathe", "agent"), line(12.0, "i feel dizzy now")]
    raised = [AlertEvent(t=2.9, kind="distress_phrase", evidence={"phrase": "i can't breathe", "excerpt": "i can't breathe"}),
              AlertEvent(t=7.4, kind="possible_emergency", severity="critical",
                         evidence={"phrase": {"phrase": "my chest hurts", "excerpt": "my chest hurts", "since": 5.0,
                                              "until": 7.4, "t": 7.4}})]
    marked = [(u.channel, u.text, u.distress) for u in utterances(words, raised=raised) if u.distress]
    assert marked == [("caller", "hello i can't breathe", [(1, 4, "i can't breathe")]),
                      ("caller", "my chest", [(0, 2, "my chest hurts")]),
                      ("caller", "hurts a lot", [(0, 1, "my chest hurts")])]


def test_a_stored_call_whose_cue_snapshots_a_failing_database_did_not_keep_says_the_gap(tmp_path):
    """Another program locks the database from 80 s to 160 s of the call (a real SQLite lock): the
    snapshots of that time are not kept (alerts are held and written). The report's note on its cue
    curves names the stretch with none stored; it said "every 5 s" alone, the gap left unsaid."""
    from monitor.delivery.store_guard import StoreGuard
    db = tmp_path / "events.db"
    store = Store.open(db)
    try:
        replayed_under_a_lock(CALLS / "deteriorating_8k.wav", store, StoreGuard(store, retry_s=0.0),
                              source=str(CALLS / "deteriorating_8k.wav"))
    finally:
        store.close()
    times = [t for (t,) in sqlite3.connect(db).execute("SELECT t FROM cue_snapshots WHERE channel = 'caller' ORDER BY t")]
    before, after = max(t for t in times if t < 80), min(t for t in times if t > 80)
    done = call_monitor_here("report", "1", "--db", db, "-o", tmp_path / "r.html")
    assert done.returncode == 0, done.stderr
    page = " ".join(html.unescape((tmp_path / "r.html").read_text()).split())
    assert (f"Cue curves from the stored snapshots (every 5 s); the alerts are exactly as raised live. No cue "
            f"snapshots are stored from {fmt_time(before)} to {fmt_time(after)} (a database that fails keeps none "
            "while it fails): the curves have nothing there.") in page
    assert page.count("No cue snapshots are stored") == 1  # the stretches before and after the lock are whole


@pytest.fixture(scope="module")
def normal_stored(tmp_path_factory) -> Path:
    """The healthy call (8 kHz, 3:08) replayed into a database, a cue snapshot every 5 s from 0:01 to
    3:06; a test changes a copy of it."""
    db = tmp_path_factory.mktemp("normal") / "events.db"
    assert cli.main(["replay", str(CALLS / "normal_8k.wav"), "--no-transcribe", "--db", str(db)]) == 0
    return db


def snapshots_kept_only(db: Path, to: Path, keep: str) -> list[float]:
    """A copy ``to`` of the database ``db`` whose call keeps only the caller's cue snapshots SQL's
    ``keep`` holds of (as a failing database keeps none of a stretch): their times."""
    shutil.copy(db, to)
    with sqlite3.connect(to) as con:
        con.execute(f"DELETE FROM cue_snapshots WHERE channel = 'caller' AND NOT ({keep})")
        return [t for (t,) in con.execute("SELECT t FROM cue_snapshots WHERE channel = 'caller' ORDER BY t")]


def cue_lines_and_share(data) -> tuple[list[object], list[object]]:
    """The picture of ``data``: the curve of each cue (matplotlib's lines), and the outlines of the
    speaking share's fill drawn in place of a waveform (matplotlib's paths, in the call's time)."""
    import matplotlib.pyplot as plt
    from monitor.report.figure import timeline_figure
    labels = {c.label for _, series in registry_panels() for c in series}
    fig = timeline_figure(data)
    try:
        lines = [line for ax in fig.axes[1:-1] for line in ax.get_lines() if line.get_label() in labels]
        share = [path for fill in fig.axes[0].collections for path in fill.get_paths()]
        return lines, share
    finally:
        plt.close(fig)


def test_a_stored_calls_cue_curves_break_where_its_note_says_no_snapshots_are_stored_and_nowhere_else(
        normal_stored, tmp_path):
    """A database that fails keeps no cue snapshot while it fails: the report's note names the stretch
    with none stored, and the picture draws nothing there (each cue's line broken, the speaking share
    drawn in place of a waveform left empty), where it drew a straight line from the snapshot before
    the gap to the one after, a curve the call never had. A call whose snapshots are all kept has
    its curves through its snapshots alone, unbroken."""
    cfg = load_config(None, user_config=False)
    times = snapshots_kept_only(normal_stored, tmp_path / "gap.db", "t < 50 OR t > 100")
    before, after = max(t for t in times if t < 50), min(t for t in times if t > 100)
    with Store.open_readonly(tmp_path / "gap.db") as store:
        data = from_store(store, 1, cfg, use_audio=False)
    assert data.cue_gaps == [(before, after)] and data.snapshot_every_s == 5.0
    assert (f"No cue snapshots are stored from {fmt_time(before)} to {fmt_time(after)} (a database that fails "
            "keeps none while it fails): the curves have nothing there.") in data.notes[-1]
    lines, share = cue_lines_and_share(data)
    assert len(lines) == sum(len(series) for _, series in registry_panels())
    for line in lines:
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        inside = (x > before) & (x < after)
        assert inside.any() and np.isnan(y[inside]).all(), line.get_label()
        assert np.isfinite(y[(x == before) | (x == after)]).any(), line.get_label()  # a break, not the curve gone
    # each share is drawn over the 5 s up to its snapshot: the one after the gap too, and nothing before
    first = next(c for c in data.cues if c.t == after)
    height = first.speech_s / first.window_s / 2
    assert height > 0.05
    assert any(path.contains_point((after - 2.5, height)) for path in share)
    assert not any(path.contains_point((t, height)) for path in share for t in np.arange(before + 1, after - 5, 1.0))

    with Store.open_readonly(normal_stored) as store:
        whole = from_store(store, 1, cfg, use_audio=False)
    assert whole.cue_gaps == [] and "No cue snapshots are stored" not in whole.notes[-1]
    lines, _ = cue_lines_and_share(whole)
    assert [list(line.get_xdata()) for line in lines] == [[c.t for c in whole.cues]] * len(lines)


@pytest.mark.parametrize("keep, configured, every, gap", [
    ("t < 2 OR t > 185", 5, 5, "from 0:01 to 3:06"),
    ("t < 7 OR t > 185", 10, 5, "from 0:06 to 3:06"),
], ids=["two snapshots: the interval configured", "three: the interval they were stored at"])
def test_a_stored_call_a_failing_database_left_few_snapshots_of_says_the_interval_and_the_gap_between_them(
        normal_stored, tmp_path, keep, configured, every, gap):
    """A database that failed over most of a call kept a few of its cue snapshots. Two, 3:05 apart, tell
    no interval: the report said them "every 185 s" and so no gap at all; it names the interval configured
    and the gap. Three, two of them 5 s apart, tell the interval the call was stored at, whatever the
    setting says now (10 s), and the gap after them."""
    db, config = tmp_path / "few.db", tmp_path / "now.toml"
    times = snapshots_kept_only(normal_stored, db, keep)
    assert len(times) == 2 + (configured == 10)
    config.write_text(f"[storage]\nsnapshot_every_s = {configured}\n")
    done = call_monitor_here("report", "1", "--db", db, "--config", config, "-o", tmp_path / "r.html")
    assert done.returncode == 0, done.stderr
    page = " ".join(html.unescape((tmp_path / "r.html").read_text()).split())
    assert (f"Cue curves from the stored snapshots (every {every} s); the alerts are exactly as raised live. No cue "
            f"snapshots are stored {gap} (a database that fails keeps none while it fails): the curves have "
            "nothing there.") in page
    assert f"one every {every} s (storage.snapshot_every_s)" in page


def test_an_alerts_evidence_gives_a_level_its_change_in_db_as_the_cue_table_does(det):
    """A loudness alert's evidence says "change from the baseline: -10.1 dB", not a percentage of a
    dBFS value; in a combined alert's cues too, beside the percentage of a cue that is no level."""
    from dataclasses import replace
    first = det["data"].alerts[0]
    weak = replace(first, kind="weak_voice", evidence={"cue": "loudness_dbfs", "value": -34.1, "baseline": -24.0,
                                                       "relative_change": -0.42, "change": -10.1})
    combined = replace(first, kind="possible_emergency", evidence={"cues": {
        "weak_voice": {"cue": "loudness_dbfs", "value": -34.1, "baseline": -24.0, "relative_change": -0.42},
        "slow_speech": {"cue": "speech_rate_sps", "value": 2.0, "baseline": 4.0, "relative_change": -0.5}}})
    page = render(replace(det["data"], alerts=[weak, combined]), "html").decode()
    assert "<li>change from the baseline: -10.1 dB</li>" in page
    assert "-42 %" not in page and "relative_change" not in page
    assert "loudness (dBFS) -34.1, baseline -24, -10.1 dB" in page
    assert "speech rate (syll/s) 2, baseline 4, -50 %" in page


def test_a_critical_alerts_evidence_says_per_family_its_level_and_the_window_that_made_it(det):
    """A supervisor reads why the critical was raised: each agreeing family's level, from which
    window's sum and since when, and each cue's window with the call time it spans (a cue judged on
    the short window is not said to span the long one's); no JSON of the alert's evidence."""
    critical = next(a for a in det["data"].alerts if a.kind == "possible_emergency")
    row = next(r for r in parse(det["html"]).alerts if (r["kind"], r["t"]) == (critical.kind, f"{critical.t:.1f}"))
    text = re.sub(r" +:", ":", row["text"])  # the parser joins the bold family name and its line with a space
    for family, acc in critical.evidence["accumulated"].items():
        assert (f"{family}: level {acc['level']:.3g} from the {acc['window']} window's sum, accumulating since "
                f"{fmt_time(acc['since'])} ({acc['held_s']:.0f} s)") in text
    for kind, c in critical.evidence["cues"].items():
        said = f"{kind.replace('_', ' ')}: {cue(c['cue']).label} "
        assert said in text and f"{c['window']} window (the last {c['window_s']:.0f} s)" in text.split(said, 1)[1]
    assert "cue window:" not in text  # no one span for cues of two windows
    assert "{" not in text


def test_a_critical_alerts_evidence_is_said_in_words_with_its_numbers_and_no_internal_key(det):
    """The evidence's keys (``min_families``, ``short_drift``...) are not what a supervisor reads:
    the score against the score that raises it, how many families agree of how many needed, and
    no line for the rules' settings (the drifts, the seconds of evidence)."""
    critical = next(a for a in det["data"].alerts if a.kind == "possible_emergency")
    row = next(r for r in parse(det["html"]).alerts if (r["kind"], r["t"]) == (critical.kind, f"{critical.t:.1f}"))
    ev = critical.evidence
    assert f"evidence score: {ev['score']:.3g} (raised at {ev['min_score']:g})" in row["text"]
    assert f"families agreeing: {ev['count']} ({ev['min_families']} needed)" in row["text"]
    for key in ("min_score", "min_families", "evidence_s", "short_drift", "window_s"):
        assert key not in row["text"], (key, row["text"])
    for key in ("drift", "kinds", "count", "score", "families", "accumulated", "cues", "since", "until"):
        assert f"<li>{key}:" not in det["html"], key


def test_a_transcript_in_a_script_the_font_lacks_draws_without_a_warning_a_character(det):
    """Words in a script no font here draws (Egyptian hieroglyphs; Hangul was, before a fallback font
    drew it): matplotlib warned once per character (dozens of lines on stderr, in the daemon's journal
    too); the picture draws boxes and its transcript panel says where the words are, without a warning."""
    import warnings
    from dataclasses import replace
    from monitor.report.data import Utterance
    from monitor.report.figure import _lacks_glyphs
    undrawn = Utterance(t=12.0, start=10.0, end=12.0, channel="caller", text=UNDRAWN)
    assert _lacks_glyphs([undrawn.text]) and not _lacks_glyphs(["I can't catch my breath"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render(replace(det["data"], utterances=[undrawn]), "png")
    assert png.startswith(b"\x89PNG") and [str(w.message) for w in caught] == []


def test_a_png_alone_says_the_words_its_font_cannot_draw_are_in_the_html_report_not_on_a_page(det):
    """The PNG written alone (-o report.png) has no page and no transcript under it: its transcript
    panel sends the reader to the HTML report, while the picture in the HTML page points to the
    page's transcript, which holds the words."""
    from dataclasses import replace
    from monitor.report.data import Utterance
    from monitor.report.figure import render_png, transcript_title
    undrawn = replace(det["data"], utterances=[Utterance(t=12.0, start=10.0, end=12.0, channel="caller",
                                                         text=UNDRAWN)])
    alone, in_page = transcript_title(undrawn, in_page=False), transcript_title(undrawn, in_page=True)
    again = str(undrawn.call_id) if undrawn.call_id is not None else os.path.basename(undrawn.source)
    assert alone.endswith("boxes: characters no font here draws; the words are in the HTML report: "
                          f"call-monitor report {again} -o report.html)") and "page" not in alone
    assert in_page.endswith("boxes: characters no font here draws; the page's transcript has them)")
    assert transcript_title(det["data"], in_page=False) == "Transcript (distress phrases in red)"
    assert render(undrawn, "png") == render_png(undrawn, in_page=False) != render_png(undrawn, in_page=True)
    assert UNDRAWN in render(undrawn, "html").decode("utf-8")


def test_the_picture_says_how_many_transcript_lines_it_leaves_out_for_want_of_room_and_where_they_all_are(det):
    """A long call's transcript has more lines than its panel has room for (the deteriorating call's
    four minutes: some 30 of its 78): the lines left out keep only their bars, and the panel's title
    counts them and says where every line is, the page's transcript under the picture (which has them
    all) or, for the PNG alone, the HTML report and the command that writes it; a call whose lines all
    fit says nothing of it."""
    from dataclasses import replace
    data, page = det["data"], det["html"]
    fig, texts = timeline_of(data, in_page=True)
    tax = fig.axes[-1]
    left_out = len(data.utterances) - len(tax.texts)
    assert 0 < left_out < len(data.utterances)
    assert tax.get_title(loc="left") == (f"Transcript (distress phrases in red; {left_out} transcript line(s) not "
                                         f"drawn (no room); all are in the transcript below)")
    assert all(html.escape(word) in page for u in data.utterances for word in u.text.split())
    assert page.count('<div class="utt ') == len(data.utterances)
    title_box = next(box for text, box in texts if text == tax.get_title(loc="left"))
    assert fig.bbox.x0 <= title_box.x0 and title_box.x1 <= fig.bbox.x1
    alone, alone_texts = timeline_of(data)
    said_alone = alone.axes[-1].get_title(loc="left")
    assert said_alone.endswith(f"; {left_out} transcript line(s) not drawn (no room); all are in the HTML report: "
                               f"call-monitor report {data.call_id} -o report.html)")
    title_box = next(box for text, box in alone_texts if text == said_alone)
    assert alone.bbox.x0 <= title_box.x0 and title_box.x1 <= alone.bbox.x1
    few, _ = timeline_of(replace(data, utterances=data.utterances[:4]), in_page=True)
    assert len(few.axes[-1].texts) == 4 and few.axes[-1].get_title(loc="left") == "Transcript (distress phrases in red)"


def test_korean_words_are_drawn_in_an_installed_korean_font_without_a_note_or_a_log_line(det, caplog):
    """With a font that draws Hangul installed (the Makefile's fonts-nanum; Noto CJK and others are
    looked for too), the picture draws a Korean transcript's words in it beside its own font, and
    its transcript panel has no note of boxes; matplotlib's line for the font's missing bold face
    is no news for the user and is not logged."""
    import logging
    from dataclasses import replace
    from monitor.report.data import Utterance
    from monitor.report.figure import TEXT_FONT, picture_fonts, render_png, transcript_title
    fonts = picture_fonts()
    assert fonts[0] == TEXT_FONT and "NanumGothic" in fonts
    korean = replace(det["data"], utterances=[Utterance(t=12.0, start=10.0, end=12.0, channel="caller",
                                                        text="숨 쉬기 가 힘들 어요")], source="/calls/상담_01.wav")
    assert transcript_title(korean, in_page=False) == "Transcript (distress phrases in red)"
    with caplog.at_level(logging.INFO, logger="matplotlib"):
        assert render_png(korean).startswith(b"\x89PNG")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_file_report_png_cli(tmp_path):
    """End to end as a user runs it: a short stereo cut of a fixture, PNG output, exit 0."""
    x, rate = sf.read(CALLS / "normal_8k.wav", dtype="float32")
    wav = tmp_path / "short.wav"
    sf.write(wav, x[: 40 * rate], rate)
    out = tmp_path / "timeline.png"
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "report", str(wav), "-o", str(out),
                           "--no-transcribe", "--db", str(tmp_path / "unused.db")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    img = decode_png(out.read_bytes())
    assert float(img[..., :3].std()) > 0.05
    assert not (tmp_path / "unused.db").exists(), "a file report must not write the database"


def test_a_stop_while_a_report_is_made_writes_nothing_and_says_so_in_one_line(tmp_path):
    """Ctrl-C while the recording is replayed for its report: one line naming the report, which is
    not written (nor anything beside it), exit 130, no traceback."""
    wav, out = long_recording(tmp_path), tmp_path / "r.html"
    done = stopped_once_open(["report", wav, "-o", out, "--no-transcribe"], wav)
    assert done.returncode == 130, done.stderr
    assert done.stderr.splitlines()[-1] == f"call-monitor: error: {out}: interrupted before it was written: no " \
                                           "report written"
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav"]


def test_a_report_of_a_clipped_recording_says_so_on_stderr_and_in_its_notes(tmp_path):
    """What replay warns of a recording (a leg clipped inside full scale, a voice band a low rate
    cuts), the report says too: one warning line naming the file, and a note on the page."""
    x, _ = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    x[:, 1] = np.clip(x[:, 1] / np.abs(x[:, 1]).max() * 1.4, -0.7, 0.7)
    wav = tmp_path / "agc_6k.wav"
    sf.write(wav, x, 6000, subtype="PCM_16")
    out = tmp_path / "report.html"
    done = call_monitor_here("report", wav, "-o", out, "--no-transcribe")
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and warning[0].startswith(f"call-monitor: warning: {wav}: sample rate 6000 Hz")
    assert "channel 1 flat-topped at 0.70" in warning[0]
    page = out.read_text(encoding="utf-8")
    assert "The recording: sample rate 6000 Hz" in page and "flat-topped at 0.70 of full scale" in page


def test_a_report_of_a_recording_with_hold_music_given_its_hold_raises_nothing_and_says_the_hold(
        hold_music_call, tmp_path):
    """``report FILE --hold FROM-TO`` replays the recording as ``replay --hold`` does: the hold music
    on the caller's leg, which raises a false critical unmarked, is not judged, so the healthy call
    raises nothing; the page's note says the caller was on hold then. A hold that begins after the
    recording's end is said in one warning line, as replay says it, and not applied."""
    out = tmp_path / "held.html"
    done = call_monitor_here("report", hold_music_call, "-o", out, "--no-transcribe", "--hold", "1:40-2:25",
                             "--hold", "9:00-9:30")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"call-monitor: warning: {hold_music_call}: --hold 9:00-9:30 begins after the recording's end (2:55): "
        "not applied",
        f"call-monitor: report written to {out}"]
    page = html.unescape(out.read_text(encoding="utf-8"))
    assert "No alerts were raised in this call." in page and 'data-kind="possible_emergency"' not in page
    assert f"The caller was on hold from {fmt_time(HOLD[0])} to {fmt_time(HOLD[1])} (`call-monitor call hold`" in page


def test_a_reports_hold_is_said_in_its_help_as_what_the_report_does_with_it(capsys):
    """A recording's report stores no call: its ``--hold`` help says the report's notes say the
    hold, not, as replay's, that the hold is kept with the call."""
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"])
    helped = " ".join(capsys.readouterr().out.split())
    said = helped[helped.index("--hold FROM-TO the caller"):]
    assert said.startswith("--hold FROM-TO the caller was on hold from FROM to TO (seconds or m:ss into the call: "
                           "0:40-1:35; again for each hold; a recording's report): their leg is not judged then, as "
                           "the daemon's `call hold` and `call resume` mark it live, and the report's notes say the "
                           "hold ")


@pytest.mark.parametrize("hold, said", [
    ("2:25-1:40", "'2:25-1:40' ends before it begins"),
    ("abc", "'abc' is no FROM-TO stretch of the call (as 0:40-1:35)")])
def test_a_reports_hold_that_is_no_stretch_of_the_call_is_refused_as_replay_refuses_it(hold, said, tmp_path):
    """The same option as replay's, read by the same code: one error line naming the option and the
    value, exit 2, no report written."""
    out = tmp_path / "held.html"
    done = call_monitor_here("report", CALLS / "normal_8k.wav", "-o", out, "--hold", hold)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"call-monitor report: error: argument --hold: {said}"
    assert "Traceback" not in done.stderr and not out.exists()


def test_a_report_of_a_recording_of_more_than_two_channels_names_the_channels_it_read(four_channels, tmp_path):
    """As replay says it: one warning line naming the file, its channels and those read, and a note on the page."""
    out = tmp_path / "report.html"
    done = call_monitor_here("report", four_channels, "-o", out, "--no-transcribe", "--caller-channel", "3",
                             "--agent-channel", "2")
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "warning" in line] == [
        f"call-monitor: warning: {four_channels}: 4 channels: the caller from channel 3 and the agent from "
        f"channel 2, the other 2 not read (--caller-channel N and --agent-channel N choose others)"]
    assert "The recording has 4 channels: the caller from channel 3 and the agent from channel 2" in \
        out.read_text(encoding="utf-8")


def test_the_report_of_a_call_stored_from_more_than_two_channels_names_the_channels_it_was_read_from(
        four_channels, tmp_path):
    """The stored call keeps the channel of each leg; the recording's header gives its channel count:
    the report of the stored call notes both as the report of the file does. With the recording gone,
    the channels kept show that it had more than two, and the note says so without the count."""
    db = tmp_path / "events.db"
    replayed = call_monitor_here("replay", four_channels, "--no-transcribe", "--caller-channel", "3",
                                 "--agent-channel", "2", "--db", db)
    assert replayed.returncode == 0, replayed.stderr
    out = tmp_path / "report.html"

    def note() -> str:
        done = call_monitor_here("report", "1", "--db", db, "-o", out)
        assert done.returncode == 0, done.stderr
        return " ".join(" ".join(parse(out.read_text(encoding="utf-8")).text).split())

    assert ("The recording has 4 channels: the caller from channel 3 and the agent from channel 2, the "
            "other 2 not read (as the call was replayed).") in note()
    four_channels.unlink()
    assert ("The recording has more than two channels: the caller from channel 3 and the agent from "
            "channel 2 (as the call was replayed; the recording not read here to count them).") in note()


def test_the_report_of_a_call_stored_from_a_stereo_recording_has_no_note_of_channels(det):
    assert not any("channels" in n for n in det["data"].notes)
    with Store.open_readonly(det["db"]) as store:
        stored = from_store(store, det["data"].call_id, det["cfg"])
    assert stored.unread_channels is None and not any("channels" in n for n in stored.notes)


def test_stored_call_report(det, tmp_path, capsys):
    data = det["data"]
    out = tmp_path / "stored.html"
    rc = cli.main(["report", str(data.call_id), "--db", str(det["db"]), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    page = parse(out.read_text(encoding="utf-8"))
    image_of(page)
    text = " ".join(page.text)
    gone = det["dir"] / "deteriorating_8k.wav"  # replayed, then removed: the store keeps no audio
    assert f"The call's recording {gone} is gone (moved or deleted): the waveform panel is replaced" in text
    assert f"call {data.call_id}: its recording {gone} is gone (moved or deleted)" in err
    got = sorted((r["kind"], r["t"]) for r in page.alerts)
    assert got == sorted((a.kind, f"{a.t:.1f}") for a in data.alerts)
    assert "i can't catch my breath" in text.replace("  ", " ") and "my chest hurts" in text
    assert page.marks == []  # its words were stored beside the replay, which spotted no phrase: no alert marks one


def test_a_reports_start_in_the_hour_daylight_saving_time_repeats_says_its_zone_and_the_page_its_local_time(
        det, in_berlin):
    """Berlin's clocks read 02:30 twice on 2026-10-25 (CEST, then CET): a call's report says which its
    start was, as ``alerts`` does; an hour before, the time is as it was. The time the page was made
    is the local time now, through the same function (with its zone in such an hour too)."""
    import time

    from monitor.local_time import local_text
    from monitor.report.html import render_html
    cest, cet = in_berlin
    before = time.time()
    pages = [" ".join(parse(render_html(dataclasses.replace(det["data"], started_at=at), None)).text)
             for at in (cest - 3600, cest, cet)]
    after = time.time()
    assert [re.search(r"started (.+?) · ", page).group(1) for page in pages] == [
        "2026-10-25 01:30:00", "2026-10-25 02:30:00 CEST", "2026-10-25 02:30:00 CET"]
    generated = {re.search(r"generated (.+?) by call-monitor", page).group(1) for page in pages}
    assert generated <= {local_text(t, "%Y-%m-%d %H:%M") for t in (before, after)}, generated


@pytest.mark.parametrize(("options", "said"), [
    (["--caller-channel", "3"], "--caller-channel 3 is"),
    (["--agent-channel", "-1"], "--agent-channel -1 is"),
    (["--model", "ko", "--no-transcribe"], "--no-transcribe, --model ko are"),
    (["--caller-channel", "0", "--agent-channel", "1", "--model", "ko"],
     "--caller-channel 0, --agent-channel 1, --model ko are"),
    (["--hold", "1:40-2:25", "--hold", "300-331.5"], "--hold 1:40-2:25, --hold 5:00-5:31.5 are")])
def test_the_options_of_a_recordings_report_given_with_a_stored_calls_id_are_said_not_to_be_used(
        det, tmp_path, options, said):
    """A stored call is reported with the legs and the words it was stored with: the channels and
    the transcription asked for are said in one warning line, not silently ignored, and the report
    is written all the same."""
    call_id, out = det["data"].call_id, tmp_path / "stored.html"
    done = call_monitor_here("report", str(call_id), "--db", det["db"], "-o", out, *options)
    assert done.returncode == 0, done.stderr
    gone = det["dir"] / "deteriorating_8k.wav"  # its recording, removed after the replay
    assert done.stderr.splitlines() == [
        f"call-monitor: warning: call {call_id}: its recording {gone} is gone (moved or deleted): the waveform "
        "panel is replaced by the caller's speech activity from the cue snapshots",
        f"call-monitor: warning: {said} not used: call {call_id} is reported as it was stored (its legs' "
        "channels and its words are the stored call's; to choose others, report its recording)",
        f"call-monitor: report written to {out}"]


def test_an_id_that_also_names_a_file_here_is_refused_with_the_two_ways_to_say_which(det, tmp_path):
    """`report N` with a file named N in the working folder and call N in the database: neither is
    taken silently; one line says how to name each (exit 2, no report). ./N is the file (and the
    --db given is said not to be used), --call N the stored call."""
    call_id, db, out = det["data"].call_id, det["db"], tmp_path / "r.html"
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    sf.write(tmp_path / str(call_id), x, rate, format="WAV")
    done = call_monitor_here("report", str(call_id), "--db", db, "-o", out, cwd=tmp_path)
    assert done.returncode == 2 and not out.exists()
    assert done.stderr == (f"call-monitor: error: {call_id}: both a file here and call {call_id} in {db}; give "
                           f"./{call_id} to report the file, or --call {call_id} to report the stored call\n")
    by_file = call_monitor_here("report", f"./{call_id}", "--db", db, "-o", out, "--no-transcribe", cwd=tmp_path)
    assert by_file.returncode == 0, by_file.stderr
    assert by_file.stderr.splitlines() == [
        f"call-monitor: warning: --db {db} is not used: ./{call_id} is a recording, reported by replaying it "
        "(no stored call is read); --call ID reports a stored call", f"call-monitor: report written to {out}"]
    assert parse(out.read_text(encoding="utf-8")).alerts == []  # the healthy recording's report
    by_call = call_monitor_here("report", "--call", str(call_id), "--db", db, "-o", out, cwd=tmp_path)
    assert by_call.returncode == 0, by_call.stderr
    got = sorted((r["kind"], r["t"]) for r in parse(out.read_text(encoding="utf-8")).alerts)
    assert got == sorted((a.kind, f"{a.t:.1f}") for a in det["data"].alerts) != []


def test_a_stored_calls_report_says_whether_the_webhook_took_each_alert_as_alerts_does(det, tmp_path):
    """A supervisor reading the report sees whether each alert reached the console, and whether a
    supervisor acknowledged it there (the words of `call-monitor alerts`); a call no webhook took
    says nothing of one."""
    from datetime import datetime
    assert "webhook:" not in det["html"]
    db = tmp_path / "events.db"
    shutil.copy(det["db"], db)
    store = Store.open(db)
    first, second = det["data"].alerts[:2]
    store.mark_delivered(store.enqueue_delivery(first.alert_id, "http://console.local:8640/webhook"))
    store.enqueue_delivery(second.alert_id, "http://console.local:8640/webhook")
    delivered_at = store.deliveries("delivered")[0].delivered_at
    acked_at = delivered_at + 30.0
    store.add_ack(first.alert_id, det["data"].call_id, "Dana", acked_at)
    store.close()
    out = tmp_path / "stored.html"
    assert cli.main(["report", str(det["data"].call_id), "--db", str(db), "-o", str(out)]) == 0
    rows = {(r["kind"], r["t"]): r["text"] for r in parse(out.read_text(encoding="utf-8")).alerts}
    assert f"webhook: delivered {datetime.fromtimestamp(delivered_at):%H:%M:%S}" in rows[first.kind, f"{first.t:.1f}"]
    assert f"acknowledged by supervisor Dana at {datetime.fromtimestamp(acked_at):%H:%M:%S}" in rows[
        first.kind, f"{first.t:.1f}"]
    assert sum("acknowledged" in text for text in rows.values()) == 1
    assert "webhook: queued, not tried yet" in rows[second.kind, f"{second.t:.1f}"]
    assert all("webhook: not sent" in text for (kind, t), text in rows.items()
               if (kind, t) not in ((first.kind, f"{first.t:.1f}"), (second.kind, f"{second.t:.1f}")))


def test_a_stored_call_is_reported_from_a_database_it_may_only_read(det, tmp_path):
    """A report only reads: a read-only copy of the database in a read-only folder (another
    user's, an archive's) is reported as it is, and left as it was."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    db = folder / "events.db"
    shutil.copy(det["db"], db)
    before = db.read_bytes()
    db.chmod(0o444)
    folder.chmod(0o555)
    out = tmp_path / "stored.html"
    try:
        done = call_monitor("report", str(det["data"].call_id), "--db", str(db), "-o", str(out),
                            permissions_bind=True)
    finally:
        folder.chmod(0o755)
    assert done.returncode == 0, done.stderr
    got = sorted((r["kind"], r["t"]) for r in parse(out.read_text(encoding="utf-8")).alerts)
    assert got == sorted((a.kind, f"{a.t:.1f}") for a in det["data"].alerts)
    assert db.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["events.db"]


def a_linked_database(det: dict, tmp_path: Path, *, real_writable: bool) -> tuple[Path, Path]:
    """A copy of the stored call's database in one folder, reached through a symlink in another;
    the real file's folder read-only (``real_writable`` False) or the link's. (the link, the real file)"""
    real, links = tmp_path / "real", tmp_path / "links"
    real.mkdir()
    links.mkdir()
    db = real / "events.db"
    shutil.copy(det["db"], db)
    (links / "events.db").symlink_to(db)
    (links if real_writable else real).chmod(0o555)
    return links / "events.db", db


def report_through_link(det: dict, link: Path, out: Path, *, read_only: Path) -> subprocess.CompletedProcess:
    """``call-monitor report`` of the stored call through ``link``, with file permissions binding;
    the folder ``read_only`` (made so by :func:`a_linked_database`) writable again afterwards."""
    try:
        return call_monitor("report", str(det["data"].call_id), "--db", str(link), "-o", str(out),
                            permissions_bind=True)
    finally:
        read_only.chmod(0o755)


def test_a_database_linked_from_a_writable_folder_into_a_read_only_one_is_read_as_it_is(det, tmp_path):
    """The folder that counts is the real file's, where SQLite would write: a report through a link
    in a writable folder to a database in a read-only one reads it as it is, and leaves it so."""
    link, db = a_linked_database(det, tmp_path, real_writable=False)
    before = db.read_bytes()
    out = tmp_path / "stored.html"
    done = report_through_link(det, link, out, read_only=db.parent)
    assert done.returncode == 0, done.stderr
    got = sorted((r["kind"], r["t"]) for r in parse(out.read_text(encoding="utf-8")).alerts)
    assert got == sorted((a.kind, f"{a.t:.1f}") for a in det["data"].alerts)
    assert db.read_bytes() == before and sorted(p.name for p in db.parent.iterdir()) == ["events.db"]


def test_an_older_database_linked_from_a_read_only_folder_into_a_writable_one_is_upgraded(det, tmp_path):
    """The reverse: a link in a read-only folder to a database in a writable one is opened as a
    writer opens it, so a database of an older release is upgraded in place as on any open."""
    link, db = a_linked_database(det, tmp_path, real_writable=True)
    with sqlite3.connect(db) as con:  # as a release before the calls kept their channels left it
        con.execute("ALTER TABLE calls DROP COLUMN channels")
        con.execute("ALTER TABLE deliveries DROP COLUMN posted_id")
        con.execute("DROP TABLE alert_acks")
        con.execute("DROP TABLE alert_words")
        con.execute("PRAGMA user_version = 2")
    con.close()
    done = report_through_link(det, link, tmp_path / "stored.html", read_only=link.parent)
    assert done.returncode == 0, done.stderr
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


@pytest.mark.parametrize("channels", ['{"caller": 0, "agent": 1}', None])
def test_stored_call_with_its_audio(det, tmp_path, channels):
    """A live call whose audio the daemon wrote (call-<id>.wav, columns caller, agent, as the call
    keeps them; one stored before the calls kept them: the same) gets its waveform."""
    data = det["data"]
    db = tmp_path / "events.db"
    shutil.copy(det["db"], db)
    with sqlite3.connect(db) as con:  # the same call as the daemon stores a live one
        con.execute("UPDATE calls SET source = 'live:softphone.monitor', channels = ? WHERE id = ?",
                    (channels, data.call_id))
    con.close()
    x, rate = sf.read(CALLS / "deteriorating_8k.wav", dtype="float32")
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    sf.write(audio_dir / f"call-{data.call_id}.wav", x[:, [1, 0]], rate)
    cfg = load_config(None, {"storage.db": str(db), "daemon.audio_dir": str(audio_dir)},
                      user_config=False)
    with Store.open(db) as store:
        got = from_store(store, data.call_id, cfg)
    assert set(got.tracks) == {"caller", "agent"}
    assert f"Waveform and speech regions from the call's audio: {audio_dir / f'call-{data.call_id}.wav'}" in got.notes
    caller_speech = sum(b - a for a, b in got.tracks["caller"].speech)
    ref_speech = sum(b - a for a, b in data.tracks["caller"].speech)
    assert abs(caller_speech - ref_speech) < 0.05 * ref_speech
    png = render(got, "png")
    decode_png(png)


def test_a_call_replayed_by_a_relative_path_gets_its_waveform_from_any_folder(tmp_path, monkeypatch):
    """replay stores the recording's absolute path, so `report ID` run elsewhere finds the audio."""
    db = tmp_path / "events.db"
    monkeypatch.chdir(CALLS)
    assert cli.main(["replay", "normal_8k.wav", "--no-transcribe", "--db", str(db)]) == 0
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)
    with Store.open(db) as store:
        (call,) = store.list_calls()
        got = from_store(store, call.id, cfg)
    assert call.source == str(CALLS / "normal_8k.wav")
    assert set(got.tracks) == {"caller", "agent"}

def test_a_call_replayed_with_the_caller_on_the_left_is_drawn_with_its_legs_where_they_were(tmp_path):
    """replay keeps the channel of each leg with the call, and `report ID` reads them from there;
    a call stored without them (before the calls kept them) is read with the usual layout."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    left = tmp_path / "caller_left.wav"
    sf.write(left, x[:, [1, 0]], rate)  # the fixture's caller (right) on the left
    db = tmp_path / "events.db"
    assert cli.main(["replay", str(left), "--caller-channel", "0", "--agent-channel", "1",
                     "--no-transcribe", "--db", str(db)]) == 0
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)
    as_replayed = from_file(str(left), cfg, caller_channel=0, agent_channel=1)
    with Store.open(db) as store:
        (call,) = store.list_calls()
        assert call.channels == {"caller": 0, "agent": 1}
        got = from_store(store, call.id, cfg)
    for leg in ("caller", "agent"):
        assert np.array_equal(got.tracks[leg].env_peak, as_replayed.tracks[leg].env_peak), leg
    assert got.tracks["caller"].speech == as_replayed.tracks["caller"].speech

    Store.open(db).close()
    conn = sqlite3.connect(db)  # as a call stored before the calls kept their channels
    conn.execute("UPDATE calls SET channels = NULL")
    conn.commit()
    conn.close()
    usual = from_file(str(left), cfg)  # right = caller
    with Store.open(db) as store:
        old = from_store(store, call.id, cfg)
    assert np.array_equal(old.tracks["caller"].env_peak, usual.tracks["caller"].env_peak)


def test_a_recording_put_at_a_stored_calls_path_since_is_not_drawn_under_its_alerts(tmp_path):
    """replay keeps a fingerprint of the recording with the call: its report draws the recording at
    that path while it is the one replayed; another of the same length put there since (a healthy
    caller's under a stored call's alerts) is said to have changed, and the report shows the
    snapshots instead. A call stored before the calls kept one is checked by its length alone."""
    rec, db = tmp_path / "call.wav", tmp_path / "events.db"
    first, rate = sf.read(CALLS / "deteriorating_8k.wav", frames=8000 * 30, dtype="float32")
    other, _ = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    sf.write(rec, first, rate)
    assert cli.main(["replay", str(rec), "--no-transcribe", "--db", str(db)]) == 0
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)

    def report():
        with Store.open(db) as store:
            (call,) = store.list_calls()
            return from_store(store, call.id, cfg)

    replayed = report()
    assert set(replayed.tracks) == {"caller", "agent"}
    assert f"Waveform and speech regions from the call's audio: {rec}" in replayed.notes
    sf.write(rec, other, rate)  # another call, of the same length, at the same path
    changed = report()
    assert changed.tracks == {} and changed.legs == ("caller", "agent")
    assert any(note.startswith(f"The recording at {rec} has changed since the call was stored (it is not the "
                               "recording replayed): its waveform is not drawn; the waveform panel is replaced by "
                               "the caller's speech activity") for note in changed.notes)
    assert not any("No audio is stored" in note for note in changed.notes)  # it is there, but another
    assert recording_warning(1, changed) == (
        f"call 1: its recording {rec} has changed since the call was stored (it is not the recording replayed): "
        "the waveform panel is replaced by the caller's speech activity from the cue snapshots")
    assert recording_warning(1, replayed) is None
    assert not any(note.startswith("Waveform and speech regions") for note in changed.notes)
    with sqlite3.connect(db) as con:  # as a call stored before the calls kept a fingerprint
        con.execute("UPDATE calls SET summary = json_remove(summary, '$.recording_fingerprint')")
    con.close()
    assert set(report().tracks) == {"caller", "agent"}


def test_a_stored_calls_recording_moved_or_deleted_since_is_named_on_stderr_and_in_the_pages_note(tmp_path):
    """A replayed call keeps its recording's path, not its audio. Gone from there since (moved or
    deleted), the recording is named in one warning line of its report, exit 0, and in the page's
    note where the waveform would be; put back, it is drawn again without a word. A live call whose
    audio the daemon did not write (``daemon.write_audio`` off) lost no recording: its note says
    that no audio is stored, and nothing is said on stderr."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    rec, moved, db, out = tmp_path / "call.wav", tmp_path / "elsewhere.wav", tmp_path / "events.db", tmp_path / "r.html"
    sf.write(rec, x, rate)
    replayed = call_monitor_here("replay", "--no-transcribe", "--db", db, rec)
    assert replayed.returncode == 0, replayed.stderr
    rec.rename(moved)

    def report(call_id: int, in_db: Path) -> tuple[list[str], str]:
        proc = call_monitor_here("report", str(call_id), "--db", in_db, "-o", out)
        assert proc.returncode == 0, proc.stderr
        warned = [line for line in proc.stderr.splitlines() if line.startswith("call-monitor: warning: ")]
        return warned, " ".join(parse(out.read_text(encoding="utf-8")).text)

    warned, text = report(1, db)
    assert warned == [f"call-monitor: warning: call 1: its recording {rec} is gone (moved or deleted): the waveform "
                      "panel is replaced by the caller's speech activity from the cue snapshots"]
    assert f"The call's recording {rec} is gone (moved or deleted): the waveform panel is replaced by the " \
           "caller's speech activity" in text
    assert "No audio is stored" not in text
    moved.rename(rec)
    warned, text = report(1, db)
    assert warned == [] and f"Waveform and speech regions from the call's audio: {rec}" in text
    live = _live_call(tmp_path / "live.db", 60.0, {"ended_by": "20 s of silence", "caller_speech_s": 40.0})
    warned, text = report(live, tmp_path / "live.db")
    assert warned == [] and "No audio is stored with this call" in text and "is gone" not in text


def test_a_stored_calls_recording_there_but_unreadable_is_named_with_its_problem_on_stderr_and_in_the_pages_note(
        tmp_path):
    """A replayed call's recording still at its path but that cannot be read (cut inside its
    header, overwritten with what is not audio, a folder put in its place) is not said to be gone
    nor to have no audio stored: one warning line names the file and the problem, exit 0 as for a
    recording gone, the page's note says the same where the waveform would be, and the report is
    made from what the database holds (its alerts and cue curves); the file is left as it is."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    rec, db, out = tmp_path / "call.wav", tmp_path / "events.db", tmp_path / "r.html"
    sf.write(rec, x, rate)
    replayed = call_monitor_here("replay", "--no-transcribe", "--db", db, rec)
    assert replayed.returncode == 0, replayed.stderr
    whole = rec.read_bytes()

    def report() -> tuple[list[str], str]:
        proc = call_monitor_here("report", "1", "--db", db, "-o", out)
        assert proc.returncode == 0, proc.stderr
        warned = [line for line in proc.stderr.splitlines() if line.startswith("call-monitor: warning: ")]
        page = parse(out.read_text(encoding="utf-8"))
        image_of(page)
        return warned, " ".join(page.text)

    for damage, problem in [(lambda: rec.write_bytes(whole[:30]), "unreadable audio ("),
                            (lambda: rec.write_bytes(b"not a recording " * 64),
                             "not an audio file (format not recognised; WAV, FLAC, OGG or MP3 expected)"),
                            (lambda: (rec.unlink(), rec.mkdir()), "is a directory, not an audio file")]:
        damage()
        kept = rec.read_bytes() if rec.is_file() else None
        warned, text = report()
        assert len(warned) == 1 and warned[0].startswith(
            f"call-monitor: warning: call 1: its recording {rec} is there but cannot be read: {problem}"), warned
        assert warned[0].endswith("; the waveform panel is replaced by the caller's speech activity from the cue "
                                  "snapshots")
        assert f"The call's recording {rec} is there but cannot be read: {problem}" in text
        assert "No audio is stored" not in text and "is gone" not in text and "has changed" not in text
        assert "Cue curves from the stored snapshots" in text
        assert (rec.read_bytes() if rec.is_file() else None) == kept


def test_daemon_hook_writes_report_on_critical(det, tmp_path):
    rdir = tmp_path / "reports"
    cfg = load_config(None, {"storage.db": str(det["db"]), "daemon.report_on_critical": True,
                             "daemon.report_dir": str(rdir)}, user_config=False)
    off = load_config(None, {"storage.db": str(det["db"])}, user_config=False)
    with Store.open(det["db"]) as store:
        assert maybe_write_call_report(off, store, det["data"].call_id) is None
        path = maybe_write_call_report(cfg, store, det["data"].call_id)
        quiet = store.start_call("quiet")
        store.end_call(quiet, 10.0)
        assert maybe_write_call_report(cfg, store, quiet) is None
    assert path is not None and Path(path).is_file()
    image_of(parse(Path(path).read_text(encoding="utf-8")))


def test_html_escapes_everything(det):
    data = det["data"]
    evil = "<script>alert(1)</script>"
    from dataclasses import replace
    from monitor.report.data import utterances
    bad = replace(data, title=evil, source=evil + ".wav",
                  utterances=utterances([WordsEvent(t=5.0, channel="caller", final=True, text=evil + " i can't breathe",
                                                    words=(Word("x", 4.0, 5.0, 1.0),))], det["cfg"]),
                  alerts=[replace(a, message=evil, actions=(evil,)) for a in data.alerts[:1]], notes=[evil])
    page_text = render(bad, "html").decode()
    assert "<script>" not in page_text
    page = parse(page_text)
    assert not page.external
    assert "breathe" in " ".join(page.marks)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_a_report_page_runs_no_script_and_loads_nothing_should_any_text_go_unescaped(det, tmp_path):
    """Every text is escaped (above); the page's own policy (its Content-Security-Policy) is the
    second guard: a script or an event handler in it, as a name or words left unescaped would put
    there, does not run in a browser (an archive's page begins with the same head)."""
    from monitor.report.html import HEAD
    page = render(det["data"], "html").decode()
    assert page.startswith(HEAD)
    planted = ("<p id=\"said\">escaped</p><script>document.getElementById('said').textContent = 'ran'</script>"
               "<img src=\"none\" onerror=\"document.getElementById('said').textContent = 'ran'\">")
    opened = tmp_path / "report.html"
    opened.write_text(page.replace("<main>", "<main>" + planted, 1), encoding="utf-8")
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", opened.as_uri()],
                         capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<p id="said">escaped</p>' in dom.stdout


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_report_renders_in_headless_chromium(det, tmp_path):
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           f"--screenshot={shot}", "--window-size=1400,2000", "--hide-scrollbars",
           det["path"].resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    page_errors = [line for line in done.stderr.splitlines()
                   if "CONSOLE" in line or "Uncaught" in line or "Failed to load" in line
                   or "net::ERR" in line]
    assert not page_errors, page_errors
    img = decode_png(shot.read_bytes())
    rgb = img[..., :3]
    assert rgb.shape[0] == 2000 and rgb.shape[1] == 1400
    assert float(rgb.std()) > 0.05, "blank screenshot"
    # the timeline image rendered: the caller's waveform blue (#1f5fa8) covers many pixels
    blue = np.abs(rgb - np.array([0x1f, 0x5f, 0xa8]) / 255.0).max(axis=-1) < 0.08
    assert blue.sum() > 2000, blue.sum()


# ---------------------------------------------------------------------------- bad inputs


def _fails(capsys, *argv) -> str:
    rc = cli.main(["report", *argv])
    err = capsys.readouterr().err
    assert rc != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("call-monitor: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_a_call_whose_caller_leg_is_silent_reads_as_nothing_judged_not_as_a_clean_call(tmp_path):
    """The caller on the agent's channel: replay's summary says nothing was judged, and so do
    the report's banner (of the file and of the stored call), rather than "No alerts in this call"
    in green, and its picture's title, under the call's "0 alert(s)"."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    wrong = tmp_path / "caller_on_the_left.wav"
    sf.write(wrong, np.stack([x[:, 1], np.zeros(len(x), np.float32)], axis=1), rate)
    db = tmp_path / "events.db"
    assert cli.main(["replay", str(wrong), "--no-transcribe", "--db", str(db)]) == 0
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)
    with Store.open_readonly(db) as store:
        stored = from_store(store, 1, cfg)
    for data in (from_file(str(wrong), cfg), stored):
        assert not data.alerts and data.caller_speech_s == 0.0
        page = render(data, "html").decode("utf-8")
        assert '<div class="banner unjudged">' in page
        text = " ".join(parse(page).text)
        assert "No alerts, but no caller speech heard on the caller's leg: nothing judged" in text
        assert "No alerts in this call" not in text
        (title,) = [t for t, _ in timeline_of(data)[1] if t.startswith(("caller_on_the_left.wav: ", "call 1: "))]
        assert title.split("\n")[1:] == ["No caller speech heard on the caller's leg: nothing judged",
                                         "The recording: the call's legs read the wrong way round."]
        assert title.split("\n")[0].endswith(": 30.0 s, 0 alert(s)"), "under a minute, in seconds, not 0:30"


def test_a_call_judged_on_legs_the_wrong_way_round_has_no_green_banner(tmp_path):
    """The legs swapped, both speaking: the caller's baseline comes in (from the agent's voice) and
    no alert is raised, but the page's banner says the legs read the wrong way round, in grey, rather
    than "No alerts in this call" in green."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 80, dtype="float32")
    swapped = tmp_path / "swapped.wav"
    sf.write(swapped, x[:, ::-1], rate)
    data = from_file(str(swapped), load_config(None, {}, user_config=False))
    assert data.legs_swapped and data.baseline is not None and not data.alerts
    page = render(data, "html").decode("utf-8")
    assert ('<div class="banner unjudged">No alerts, but the call&#x27;s legs read the wrong way round: see the '
            'notes below</div>') in page
    assert "No alerts in this call" not in page


STOPPED_BROWN = np.array([0x8c, 0x6d, 0x46]) / 255.0
"""The colour of a stopped call's banner border and of its picture's title."""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def title_pixels(png: bytes, rgb: np.ndarray) -> int:
    """How many pixels of the picture's title (its top 70 rows) are of colour ``rgb``."""
    top = decode_png(png)[:70, :, :3]
    return int((np.abs(top - rgb).max(axis=-1) < 0.08).sum())


@pytest.mark.parametrize(("sig", "said"), [
    (signal.SIGTERM, "No alerts, but the monitoring stopped at {at}: the call is judged only up to there"),
    (signal.SIGKILL, "No alerts, but the call never ended (its monitor was killed, or still runs): it is "
                     "judged only up to {at}, the last it stored")])
def test_a_call_whose_monitoring_stopped_part_way_reads_as_judged_only_up_to_there_with_its_waveform(
        tmp_path, sig, said):
    """A replay stopped (SIGTERM: the call closed as aborted) or killed (SIGKILL: never closed) a few
    seconds in: its report says where the monitoring stopped in a banner that is not green, and its
    picture's title says it too; the waveform is the recording's up to there, though the recording
    goes on (it is no other call's audio), and no baseline is blamed on the caller."""
    db = tmp_path / "events.db"
    proc = replay_under_way(db, CALLS / "normal_8k.wav")
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    out = tmp_path / "stopped.html"
    done = call_monitor_here("report", "1", "--db", db, "-o", out)
    assert done.returncode == 0 and done.stderr == f"call-monitor: report written to {out}\n", done.stderr
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)
    with Store.open_readonly(db) as store:
        data = from_store(store, 1, cfg)
    at = data.duration_s
    assert 0 < at < 60, "the recording is 3 minutes long; the call is a few seconds of it"
    page = out.read_text(encoding="utf-8")
    text = " ".join(parse(page).text)
    assert '<div class="banner stopped">' in page and '<div class="banner ok">' not in page
    assert said.format(at=f"{fmt_time(at)} ({at:.1f} s)") in text
    assert "No audio is stored" not in text and "did not speak long enough" not in text
    assert f"Waveform and speech regions from the call's audio: {CALLS / 'normal_8k.wav'}" in data.notes
    assert set(data.tracks) == {"caller", "agent"}
    assert at - 0.05 < data.tracks["agent"].env_t[-1] < at + 0.05
    assert title_pixels(render(data, "png"), STOPPED_BROWN) > 200


@pytest.mark.parametrize("output", ["stopped.png", "stopped.html"])
def test_a_call_stopped_before_its_first_cue_window_is_drawn_without_a_word_from_the_plotting_library(
        tmp_path, output):
    """A replay stopped in its first second stores its call with no cue snapshot: the cue panels
    have no curve, hence no key, and nothing but the report's own line reaches stderr."""
    db = tmp_path / "events.db"
    with Store.open(db) as store:  # as replay stores a call SIGTERM stopped 1 s in
        call_id = store.start_call(str(CALLS / "normal_8k.wav"), channels={"caller": 1, "agent": 0})
        store.end_call(call_id, 1.0, {"aborted": True})
    out = tmp_path / output
    done = call_monitor("report", str(call_id), "--db", db, "-o", out, timeout=120)
    assert done.returncode == 0 and done.stderr == f"call-monitor: report written to {out}\n", done.stderr


def test_a_call_monitored_to_its_end_has_no_stop_in_its_title_or_banner(det):
    assert det["data"].cut_short is None and 'class="banner stopped"' not in det["html"]
    with Store.open_readonly(det["db"]) as store:
        stored = from_store(store, det["data"].call_id, det["cfg"])
    assert stored.stopped is None
    assert title_pixels(render(stored, "png"), STOPPED_BROWN) == 0


@pytest.mark.parametrize(("summary", "how"), [
    ('{"aborted": true}', ""),
    ('{"interrupted": true}', " (the monitor ended without closing the call)")])
def test_a_stopped_calls_alerts_keep_their_banner_with_the_stop_beneath_it(det, tmp_path, summary, how):
    """A call with alerts whose monitoring then stopped (stopped by a signal or a failure, or left
    open by a crash and closed later): the alerts' banner, and under it where the monitoring stopped."""
    db = tmp_path / "events.db"
    shutil.copy(det["db"], db)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE calls SET duration_s = 150.0, summary = ?", (summary,))
    con.close()
    with Store.open_readonly(db) as store:
        data = from_store(store, det["data"].call_id, det["cfg"])
    page = render(data, "html").decode("utf-8")
    assert (f'</div><div class="banner stopped">The monitoring stopped at 2:30 (150.0 s){_e(how)}: the call is '
            f'judged only up to there</div>') in page
    assert re.search(r'<div class="banner critical">[^<]*</div><div class="banner stopped">', page)


def test_the_time_axis_ticks_at_clock_spacings_in_h_mm_ss_past_an_hour():
    """Not matplotlib's 50 s (0:50, 1:40, 2:30) nor 2000 s (33:20, 1:06:40) ticks."""
    from monitor.report.figure import clock_ticks
    assert [fmt_time(t) for t in clock_ticks(227.0)] == ["0:00", "0:30", "1:00", "1:30", "2:00", "2:30",
                                                         "3:00", "3:30"]
    assert [fmt_time(t) for t in clock_ticks(3 * 3600 + 130.0)] == ["0:00", "30:00", "1:00:00", "1:30:00",
                                                                    "2:00:00", "2:30:00", "3:00:00"]
    assert clock_ticks(1.0) == [0.0, 1.0]


def test_a_silent_leg_is_drawn_as_the_flat_line_it_is_not_scaled_up_to_a_full_band():
    """Each leg is scaled to its own peak, but 1 LSB of hiss is not blown up to the lane's height."""
    from monitor.report.figure import QUIET_PEAK, leg_scale
    hiss = np.full(1000, 1 / 32768, np.float32)
    assert leg_scale(hiss) == QUIET_PEAK and 0.75 * hiss.max() / leg_scale(hiss) < 0.01
    speech = np.linspace(0.0, 0.3, 1000, dtype=np.float32)
    assert leg_scale(speech) == pytest.approx(0.3)


def test_bad_inputs(tmp_path, capsys, det):
    out = str(tmp_path / "r.html")
    db = str(det["db"])
    assert "no such file" in _fails(capsys, str(tmp_path / "missing.wav"), "-o", out, "--db", db)
    assert _fails(capsys, "", "-o", out, "--db", db) == \
        'call-monitor: error: "": an empty path; give a recording or a stored call id'
    junk = tmp_path / "notes.wav"
    junk.write_text("this is not audio\n")
    assert "notes.wav" in _fails(capsys, str(junk), "-o", out, "--db", db)
    assert "directory" in _fails(capsys, str(tmp_path), "-o", out, "--db", db)
    assert "no such call" in _fails(capsys, "9999", "-o", out, "--db", db)
    assert "no database" in _fails(capsys, "1", "-o", out, "--db", str(tmp_path / "none.db"))
    assert ".html or .png" in _fails(capsys, "1", "-o", str(tmp_path / "r.pdf"), "--db", db)
    assert "no such directory" in _fails(capsys, "1", "-o", str(tmp_path / "nodir" / "r.html"), "--db", db)
    assert "no such directory" in _fails(capsys, "1", "-o", "/etc/hostname/r.html", "--db", db)
    notdb = tmp_path / "other.db"
    notdb.write_text("not sqlite")
    assert "other.db" in _fails(capsys, "1", "-o", out, "--db", str(notdb))
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert _fails(capsys, "1", "-o", out, "--db", str(empty)) == (
        f"call-monitor: error: {empty}: not a callmonitor database (an empty file)")
    assert empty.read_bytes() == b"", "a report makes no database where it reads one"
    assert _fails(capsys, "1", "-o", out, "--db", str(tmp_path)) == (
        f"call-monitor: error: {tmp_path}: is a directory, not a database file")
    assert _fails(capsys, "--batch", str(tmp_path), "-o", out) == (
        f"call-monitor: error: {tmp_path}: is a directory, not a batch table")
    assert not os.path.exists(out)


def test_a_call_id_past_sqlites_integers_is_refused_in_one_line_as_no_call_id_not_looked_up(tmp_path, capsys):
    """SQLite refuses to be asked for an id past its largest integer: the report says that the number
    is no call id (exit 2, as for another bad id), the largest one names no call (exit 1), and a
    number of more digits than int() reads is refused alike."""
    db, out = tmp_path / "events.db", str(tmp_path / "r.html")
    with Store.open(db) as store:
        store.end_call(store.start_call("a.wav", 1000.0), 10.0)
    refused = ("'{id}' is no call id: give the call's id `call-monitor alerts` shows "
               "(a whole number from 1 to 9223372036854775807)")
    for number in ("9223372036854775808", "1" + "0" * 5000, "0"):
        assert _fails(capsys, number, "-o", out, "--db", str(db)) == \
            "call-monitor: error: " + refused.format(id=number)
        done = call_monitor_here("report", "--call", number, "-o", out, "--db", db)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.splitlines()[-1] == "call-monitor report: error: argument --call: " + refused.format(id=number)
    assert _fails(capsys, "9223372036854775807", "-o", out, "--db", str(db)) == \
        f"call-monitor: error: call 9223372036854775807: no such call in {db}"
    assert not os.path.exists(out)


@pytest.mark.parametrize("report_of", ["a stored call", "a recording", "an archive"])
def test_a_report_is_never_written_over_the_database(det, tmp_path, capsys, report_of):
    """-o naming the database of stored calls (here by a link to it; --db, else the configured one)
    is refused in one line naming both, exit 2, before any report is made: the database is left as
    it was, whatever is reported."""
    db = tmp_path / "events.db"
    shutil.copy(det["db"], db)
    page = tmp_path / "page.html"
    page.symlink_to(db.name)
    table = tmp_path / "summary.csv"
    table.write_text(f"path,status\n{CALLS / 'normal_8k.wav'},scored\n")
    before = db.read_bytes()
    target = {"a stored call": [str(det["data"].call_id)], "a recording": [str(CALLS / "normal_8k.wav")],
              "an archive": ["--batch", str(table)]}[report_of]
    assert cli.main(["report", *target, "--db", str(db), "-o", str(page)]) == 2
    assert capsys.readouterr().err == (
        f"call-monitor: error: -o {page}: is the database of stored calls ({db}), which the report would "
        "replace; give -o another file\n")
    assert db.read_bytes() == before and page.is_symlink()
    assert not (tmp_path / "page_calls").exists()


def test_a_report_of_a_truncated_recording_says_so_on_stderr_as_replay_does(tmp_path):
    """A recording cut short by a crash is reported as far as it goes, with one warning line
    naming the file and the seconds it holds, and a note on the page."""
    whole = tmp_path / "whole.wav"
    x, sr = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30)
    sf.write(whole, x, sr, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:44 + 8000 * 2 * 2 * 12])
    out = tmp_path / "report.html"
    done = call_monitor_here("report", cut, "-o", out, "--no-transcribe")
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "warning" in line] == [
        f"call-monitor: warning: {cut}: truncated or damaged, the report covers the 12.00 s before its audio breaks off"]
    assert ("Truncated or damaged recording: the report covers the 12.0 s before its audio breaks off."
            in out.read_text(encoding="utf-8"))


def test_a_missing_database_exits_2_as_for_every_command_that_reads_one(tmp_path, capsys):
    """The --db given is named, with no hint to give one; without it, the default is named with the hint."""
    none = tmp_path / "none.db"
    assert cli.main(["report", "1", "-o", str(tmp_path / "r.html"), "--db", str(none)]) == 2
    assert capsys.readouterr().err.strip() == f"call-monitor: error: call 1: no database at {none}"
    assert cli.main(["alerts", "--db", str(none)]) == 2


def test_a_missing_default_database_says_to_give_one(tmp_path, own_home):
    done = call_monitor("report", "1", "-o", tmp_path / "r.html", env=own_home, timeout=60)
    default = Path(own_home["XDG_DATA_HOME"]) / "callmonitor" / "events.db"
    assert done.returncode == 2
    assert done.stderr == f"call-monitor: error: call 1: no database at {default} (give --db FILE)\n"


def test_an_empty_path_option_is_refused_not_taken_for_the_default(tmp_path, capsys):
    """``--db "$DB"`` with DB unset: one line, exit 2, rather than the default database."""
    for argv in (["report", "1", "-o", str(tmp_path / "r.html"), "--db", ""], ["alerts", "--db", ""],
                 ["purge", "--db", " "], ["report", "1", "-o", str(tmp_path / "r.html"), "--config", ""]):
        assert cli.main(argv) == 2, argv
        option = argv[argv.index("") - 1] if "" in argv else "--db"
        assert capsys.readouterr().err == (f"call-monitor: error: {option} \"\": an empty path; give a file, or "
                                           "leave the option out for the configured one\n")


def test_an_empty_output_is_refused_naming_the_option(tmp_path, own_home):
    """`-o "$PAGE"` with PAGE unset: one line naming the option, as an empty path is said
    everywhere, exit 2; nothing replayed or written."""
    done = call_monitor("report", CALLS / "normal_8k.wav", "-o", "", env=own_home, timeout=120)
    assert done.returncode == 2
    assert done.stderr == ('call-monitor: error: -o/--output "": an empty path; give a file (report.html or '
                           "report.png)\n")
    assert sorted(set(os.listdir(tmp_path)) - {"mpl"}) == ["home"] and made_in(tmp_path / "home") == ["run"]


def test_an_output_in_a_folder_it_cannot_write_is_refused_naming_the_cause(tmp_path, read_only_mount, capsys):
    """Before anything is replayed: one line naming the report and why its folder takes no file, a
    read-only filesystem (which no permission shows) told from a folder it may not write; exit 2."""
    page = read_only_mount / "r.html"
    assert _fails(capsys, str(CALLS / "normal_8k.wav"), "-o", str(page)) == (
        f"call-monitor: error: {page}: cannot write the report (a read-only filesystem)")
    shut = tmp_path / "shut"
    shut.mkdir(mode=0o555)
    done = call_monitor("report", CALLS / "normal_8k.wav", "-o", shut / "r.png", permissions_bind=True, timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"call-monitor: error: {shut / 'r.png'}: cannot write the report (permission denied)\n"


def test_an_output_on_a_file_system_that_takes_no_file_is_refused_before_anything_is_replayed(capsys):
    """/proc takes no new file, whatever root's permissions say: one line and exit 2 before the call
    is analysed, not a failure at its end."""
    page = "/proc/r.html"
    assert _fails(capsys, str(CALLS / "normal_8k.wav"), "-o", page) == (
        f"call-monitor: error: {page}: cannot write the report (no such file or directory)")
    assert not os.path.exists(page)


def test_missing_matplotlib_is_one_line_installing_matplotlib_not_pypis_callmonitor(tmp_path, capsys, monkeypatch):
    """The package is not on PyPI, where `callmonitor` is another project: the hint, and the
    help's, install matplotlib (the report extra's package) by this Python's pip, never that project."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    line = _fails(capsys, str(CALLS / "normal_8k.wav"), "-o", str(tmp_path / "r.html"))
    assert f"{sys.executable} -m pip install 'matplotlib>=3.7'" in line and "[report] extra" in line
    assert "pip install callmonitor" not in line
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"])
    helped = " ".join(capsys.readouterr().out.split())
    assert f"{sys.executable} -m pip install 'matplotlib>=3.7'" in helped and "pip install callmonitor" not in helped


def test_unknown_call_from_api(det):
    with Store.open(det["db"]) as store, pytest.raises(ReportError, match="no such call"):
        from_store(store, 4242, det["cfg"])


def test_alert_labels_take_the_lowest_row_they_clear_so_close_alerts_never_share_a_row():
    """Labels of alerts close together are stacked on rows, each on the lowest row where it clears
    the label before it; one far from the others goes back to the first row. A label 105.6 points
    wide on a 227 s call drawn 932 points wide spans 26 s."""
    from monitor.report.figure import label_rows, label_spans

    def rows(t: np.ndarray) -> list[int | None]:
        return label_rows(label_spans(t / 227.0 * 932.0, np.full(len(t), 105.6), 932.0))

    assert rows(np.array([92.0, 97.0, 102.0, 110.0, 119.0, 137.0, 141.0, 200.0])) == [0, 1, 2, 3, 0, 1, 2, 0]
    assert rows(np.array([10.0, 60.0, 110.0])) == [0, 0, 0]
    assert rows(np.arange(9.0)) == [0, 1, 2, 3] + [None] * 5  # four rows at most: a label that clears none is left out


def test_an_alert_label_begins_at_its_line_unless_it_would_run_past_the_timelines_end_then_it_ends_there():
    """2 points between a label and its alert's line, on the side that keeps it on the timeline."""
    from monitor.report.figure import LABEL_GAP_PT, label_spans
    spans = label_spans(np.array([100.0, 830.0, 831.0, 932.0]), np.full(4, 100.0), 932.0)
    gap = LABEL_GAP_PT
    assert spans.tolist() == [[100.0 + gap, 200.0 + gap], [830.0 + gap, 932.0],
                              [731.0 - gap, 831.0 - gap], [832.0 - gap, 932.0 - gap]]


def test_where_alert_labels_crowd_critical_ones_are_labelled_first_and_the_rest_left_out_not_overlapped():
    """Hundreds of alerts on a long call: no two labels drawn overlap; every critical alert is
    labelled, even where warnings crowd it, unless critical ones crowd each other."""
    from monitor.report.figure import label_rows, label_spans
    t = np.arange(0.0, 3600.0, 13.0)
    spans = label_spans(t / 3600.0 * 932.0, np.full(len(t), 105.6), 932.0)
    critical = np.isin(np.arange(len(t)), [5, 6, 100, 250, len(t) - 1])
    rows = label_rows(spans, first=critical)
    assert all(rows[i] is not None for i in np.flatnonzero(critical))
    for row in set(rows) - {None}:
        on_row = sorted(tuple(spans[i]) for i, r in enumerate(rows) if r == row)
        assert all(a[1] <= b[0] for a, b in zip(on_row, on_row[1:]))
    assert rows.count(None) > 0
    # a call of hours whose critical alerts themselves crowd: those that clear no row are left out too
    t = np.arange(0.0, 3 * 3600.0, 227.0)
    spans = label_spans(t / t[-1] * 932.0, np.full(len(t), 105.6), 932.0)
    rows = label_rows(spans, first=np.ones(len(t), bool))
    for row in set(rows) - {None}:
        on_row = sorted(tuple(spans[i]) for i, r in enumerate(rows) if r == row)
        assert all(a[1] <= b[0] for a, b in zip(on_row, on_row[1:]))
    assert rows[0] == 0 and rows.count(None) > 0


@pytest.fixture(scope="module")
def ending_in_alerts(tmp_path_factory) -> dict[str, object]:
    """Real calls whose alerts come near their end, replayed into a store and read back from it:
    the deteriorating call cut at 2:20 (its last alert at 2:17), and a call of 23 minutes, six
    healthy calls and then the deteriorating one (its alerts in the last 2:15)."""
    d = tmp_path_factory.mktemp("ending")
    deteriorating, rate = sf.read(CALLS / "deteriorating_8k.wav", dtype="int16")
    healthy, _ = sf.read(CALLS / "normal_8k.wav", dtype="int16")
    cut, long = d / "cut.wav", d / "long.wav"
    sf.write(cut, deteriorating[:140 * rate], rate)
    with sf.SoundFile(long, "w", rate, 2, "PCM_16") as out:
        for _ in range(6):
            out.write(healthy)
        out.write(deteriorating)
    db = d / "events.db"
    assert cli.main(["replay", str(cut), str(long), "--no-transcribe", "--db", str(db)]) == 0
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)
    with Store.open_readonly(db) as store:
        return {"cut at 2:20": from_store(store, 1, cfg), "23 minutes": from_store(store, 2, cfg)}


def drawn_texts(fig) -> list[tuple[str, object]]:
    """Every text ``fig`` draws, with its extent once drawn (display units, as ``fig.bbox``)."""
    from matplotlib.text import Text
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text)
            if t.get_visible() and t.get_text()]


def timeline_of(data, in_page: bool = False) -> tuple[object, list[tuple[str, object]]]:
    """The picture of ``data``: its figure (closed) and :func:`drawn_texts` (a character its font lacks
    drawn as a box without matplotlib's warning, as the report draws it)."""
    import warnings
    import matplotlib.pyplot as plt
    from monitor.report.figure import MISSING_GLYPH, timeline_figure
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=MISSING_GLYPH, category=UserWarning)
        fig = timeline_figure(data, in_page=in_page)
        try:
            return fig, drawn_texts(fig)
        finally:
            plt.close(fig)


def drawn_lines(data, in_page: bool = False) -> list[tuple[str, bool]]:
    """Each line of text the picture of ``data`` hands its renderer, and whether as a mathtext formula."""
    import warnings
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import RendererAgg
    from monitor.report.figure import MISSING_GLYPH, timeline_figure

    class Recording(RendererAgg):
        def __init__(self, fig) -> None:
            super().__init__(fig.bbox.width, fig.bbox.height, fig.dpi)
            self.lines: list[tuple[str, bool]] = []

        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            self.lines.append((s, bool(ismath)))
            super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=MISSING_GLYPH, category=UserWarning)
        fig = timeline_figure(data, in_page=in_page)
        try:
            renderer = Recording(fig)
            fig.draw(renderer)
        finally:
            plt.close(fig)
    return renderer.lines


def test_a_file_name_and_words_with_dollar_signs_are_drawn_as_written_not_as_a_formula(tmp_path):
    """matplotlib reads what lies between two "$" as TeX: a recording named "cost_$5 and $\\frac{1.wav"
    was titled "cost_5and\\frac{1.wav" in italics. Its title, its transcript's words and every other
    text of the picture are drawn as written."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    name = r"cost_$5 and $\frac{1.wav"
    sf.write(tmp_path / name, x, rate)
    said = "it cost $5 and $10 to get here"
    words = [WordsEvent(t=6.0, channel="caller", final=True, text=said,
                        words=tuple(Word(w, 4.0 + 0.2 * i, 4.2 + 0.2 * i, 1.0) for i, w in enumerate(said.split())))]
    cfg = load_config(None, {"storage.db": str(tmp_path / "unused.db")}, user_config=False)
    data = from_file(str(tmp_path / name), cfg, words=words)
    lines = drawn_lines(data)
    assert (f"{name}: {fmt_duration(data.duration_s)}, 0 alert(s)", False) in lines
    assert (said, False) in lines
    assert [line for line, formula in lines if formula] == []


def test_a_file_name_in_a_script_the_font_lacks_is_titled_as_written_saying_where_the_name_is_read(tmp_path):
    """With only DejaVu here, "'x' é中.wav" was titled with a box for 中 and no word why (now drawn in
    a fallback font; a script no font here draws, Egyptian hieroglyphs, stands for it). The title is
    the name as written and says, as the transcript panel does of its words, what the boxes are and
    where the name is read: the page's heading for the picture in the HTML report, else the HTML
    report; without a warning, and inside the picture (a title wider than it drawn smaller). A name
    the font draws whole gets no note."""
    import warnings
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    cfg = load_config(None, {"storage.db": str(tmp_path / "unused.db")}, user_config=False)
    name = f"'x' é{UNDRAWN[:2]}.wav"
    sf.write(tmp_path / name, x, rate)
    data = from_file(str(tmp_path / name), cfg)
    head = f"{name}: {fmt_duration(data.duration_s)}, 0 alert(s) (boxes: characters no font here draws; "
    assert (head + "the name is in the HTML report: call-monitor report FILE -o report.html)", False) in drawn_lines(data)
    assert (head + "the page's heading has them)", False) in drawn_lines(data, in_page=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = render(data, "html").decode("utf-8")
    assert [str(w.message) for w in caught] == [] and f"<h1>Call report: {_e(name)}</h1>" in page
    long = f"customer 4711, second attempt, transferred from the front desk - {UNDRAWN[:2]} - recorded 2024-05-17.wav"
    sf.write(tmp_path / long, x, rate)
    fig, texts = timeline_of(from_file(str(tmp_path / long), cfg))  # its note makes it wider than the picture
    ((title, box),) = [(text, box) for text, box in texts if text.startswith(long)]
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, title  # drawn smaller to fit
    sf.write(tmp_path / "é.wav", x, rate)
    drawn = from_file(str(tmp_path / "é.wav"), cfg)
    assert (f"é.wav: {fmt_duration(drawn.duration_s)}, 0 alert(s)", False) in drawn_lines(drawn)


def test_a_recording_named_with_a_line_break_is_titled_on_one_line_with_the_break_written_as_every_line_writes_it(
        tmp_path):
    """A recording named ``new\\nline.wav``: the picture's title is one line, and the page's title and
    heading name it ``new\\nline.wav``, as replay's lines and the alerts listing do, rather than a raw
    line break (the title split over two lines, the browser's tab showing ``new line.wav``)."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    cfg = load_config(None, {"storage.db": str(tmp_path / "unused.db")}, user_config=False)
    sf.write(tmp_path / "new\nline.wav", x, rate)
    data = from_file(str(tmp_path / "new\nline.wav"), cfg)
    assert (f"new\\nline.wav: {fmt_duration(data.duration_s)}, 0 alert(s)", False) in drawn_lines(data)
    page = render(data, "html").decode("utf-8")
    assert "<title>Call report: new\\nline.wav</title>" in page and "<h1>Call report: new\\nline.wav</h1>" in page
    assert "timeline of new\\nline.wav: no alerts" in page


def test_the_pages_source_line_names_recordings_with_a_line_break_as_every_line_writes_them(tmp_path):
    """A call of two files named ``caller\\nleg.wav`` and ``agent\\nleg.wav``: the page's ``source:`` line
    names both with the break written ``\\n``, as its title does, rather than a raw line break in
    the page's text (which a browser shows as a space, and a copy of the line splits), and the
    picture's pointer to the HTML report (a report not stored) names it FILE: the name written so
    is not one a shell reads back (``caller\\nleg.wav`` is ``callernleg.wav`` to it)."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    cfg = load_config(None, {"storage.db": str(tmp_path / "unused.db")}, user_config=False)
    caller, agent = tmp_path / "caller\nleg.wav", tmp_path / "agent\nleg.wav"
    sf.write(caller, x[:, 1], rate)
    sf.write(agent, x[:, 0], rate)
    data = from_file(str(caller), cfg, agent_file=str(agent))
    page = render(data, "html").decode("utf-8")
    shown = f"source: <code>{tmp_path}/caller\\nleg.wav</code> + agent's leg <code>{tmp_path}/agent\\nleg.wav</code>"
    assert shown in page
    assert "caller\nleg" not in page and "agent\nleg" not in page
    assert html_report_command(data) == "call-monitor report FILE -o report.html"


def test_the_pictures_pointer_to_the_html_report_names_a_file_as_a_shell_reads_it_back(tmp_path):
    """A PNG alone sends its reader to the HTML report with a command to paste: a name with a space
    or a quote is quoted for the shell, so that the command it prints runs as printed on that file;
    a name the shell would read as an option is FILE, as one with a line break is."""
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 5, dtype="float32")
    cfg = load_config(None, {"storage.db": str(tmp_path / "unused.db")}, user_config=False)
    for name, shown in (("plain.wav", "plain.wav"), ("my call's.wav", "'my call'\"'\"'s.wav'"),
                        ("-v.wav", "FILE"), ("a\rb.wav", "FILE")):
        sf.write(tmp_path / name, x[:, 1], rate)
        data = from_file(str(tmp_path / name), cfg)
        assert html_report_command(data) == f"call-monitor report {shown} -o report.html"
        if shown != "FILE":
            said = subprocess.run(["sh", "-c", f"printf %s {shown}"], capture_output=True, text=True, cwd=tmp_path)
            assert said.stdout == name


@pytest.mark.parametrize("call", ["cut at 2:20", "23 minutes"])
def test_alert_labels_near_a_calls_end_stay_inside_the_picture_at_their_lines_clear_of_every_other_text(
        ending_in_alerts, call):
    """A label begins at its alert's line, or, where it would run off the picture, ends there; every
    label drawn (the critical alert's always, whole) and the count of those left out lie inside the
    picture and overlap no other text."""
    from matplotlib.transforms import Bbox
    data = ending_in_alerts[call]
    fig, texts = timeline_of(data)
    critical = next(a for a in data.alerts if a.severity == "critical")
    line_x = {f"{kind_name(a.kind)} {fmt_time(a.t)}": fig.axes[0].transData.transform((a.t, 0.0))[0]
              for a in data.alerts}
    shown = [i for i, (text, _) in enumerate(texts) if text in line_x or "alert labels left out" in text]
    assert f"{kind_name(critical.kind)} {fmt_time(critical.t)}" in [texts[i][0] for i in shown]
    for i in shown:
        text, box = texts[i]
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, text
        if text in line_x:
            assert min(abs(box.x0 - line_x[text]), abs(box.x1 - line_x[text])) < 5, text
        for j, (other, other_box) in enumerate(texts):
            common = Bbox.intersection(box, other_box)
            assert j == i or common is None or common.width <= 0 or common.height <= 0, (text, other)
    assert any(texts[i][1].x1 < line_x.get(texts[i][0], 0.0) for i in shown), "no label ends at its line here"


def _live_call(db: Path, duration_s: float, summary: dict) -> int:
    """A live call of ``duration_s`` stored in ``db`` with ``summary``, as the daemon stores one."""
    from monitor.delivery.store_rows import LIVE_SOURCE
    with Store.open(db) as store:
        call_id = store.start_call(f"{LIVE_SOURCE}caller=softphone.monitor", channels={"caller": 0}, agent="alice")
        store.end_call(call_id, duration_s, summary)
    return call_id


@pytest.mark.parametrize("summary", [
    {"ended_by": "SIGTERM", "duration_s": 139.0, "caller_speech_s": 40.0, "aborted": True},
    {"ended_by": "SIGTERM", "duration_s": 139.0, "caller_speech_s": 40.0},
    {"ended_by": "SIGINT", "duration_s": 139.0, "caller_speech_s": 12.0}])
def test_a_live_call_the_daemons_stop_ended_reads_as_stopped_also_when_stored_without_the_flag(tmp_path, summary):
    """The daemon's stop (Ctrl-C, SIGTERM) ends no call for its caller: the report of a live call it
    ended says where the monitoring stopped, whether the call was stored with ``"aborted": true`` or,
    by an earlier release, with the stop alone as its ``ended_by``."""
    db = tmp_path / "alice.db"
    call_id = _live_call(db, 139.0, summary)
    with Store.open_readonly(db) as store:
        data = from_store(store, call_id, load_config(None, {"storage.db": str(db)}, user_config=False))
    assert data.stopped is not None and (data.stopped.at_s, data.stopped.how) == (139.0, "aborted")
    page = render(data, "html").decode("utf-8")
    assert ('<div class="banner stopped">No alerts, but the monitoring stopped at 2:19 (139.0 s): the call is '
            'judged only up to there</div>') in page
    assert "no caller baseline" not in page


def test_a_live_call_ended_by_its_own_end_is_no_stop_whatever_its_end_is_called(tmp_path):
    db = tmp_path / "alice.db"
    ended = [_live_call(db, 139.0, {"ended_by": why, "caller_speech_s": 40.0})
             for why in ("20 s of silence", "call-monitor call end", "capture ended")]
    with Store.open(db) as store:  # a replayed call has no ended_by the daemon's stop could have given
        replayed = store.start_call(str(CALLS / "normal_8k.wav"), channels={"caller": 1, "agent": 0})
        store.end_call(replayed, 10.0, {"ended_by": "SIGTERM"})
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)
    with Store.open_readonly(db) as store:
        assert [from_store(store, i, cfg, use_audio=False).stopped for i in [*ended, replayed]] == [None] * 4


def test_a_live_calls_time_without_its_callers_input_is_said_and_a_call_that_ended_without_it_is_judged_up_to_it(
        tmp_path):
    """The caller's source gave no input for part of a live call: the report says for how long and
    when (nothing of the caller was heard then); a call that ended while it gave none is judged only
    up to where it stopped giving input, said in the brown banner."""
    db = tmp_path / "alice.db"
    back = _live_call(db, 60.0, {"ended_by": "20 s of silence", "caller_no_input": [[13.0, 30.0]],
                                 "caller_no_input_s": 17.0})
    never = _live_call(db, 95.0, {"ended_by": "call-monitor call end", "caller_no_input": [[5.0, 9.0], [41.0, 95.0]],
                                  "caller_no_input_s": 58.0})
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)
    with Store.open_readonly(db) as store:
        came_back, did_not = from_store(store, back, cfg), from_store(store, never, cfg)
    assert came_back.stopped is None and came_back.caller_no_input == ((13.0, 30.0),)
    assert ("No audio of the caller came for 17.0 s of the call (0:13 to 0:30; its source gave no input, or its "
            "audio was lost on the way): nothing of the caller was heard or judged then") in came_back.notes[0]
    assert did_not.stopped is not None and (did_not.stopped.at_s, did_not.stopped.how) == (41.0, "no_input")
    page = render(did_not, "html").decode("utf-8")
    assert ("No alerts, but the caller&#x27;s source gave no input from 0:41 (41.0 s) to the call&#x27;s end: the "
            "call is judged only up to there") in page
    assert "No audio of the caller came for 4.0 s of the call (0:05 to 0:09;" in did_not.notes[0]


def test_a_live_call_ended_on_hold_is_said_on_hold_not_without_its_callers_input_nor_stopped(tmp_path):
    """A live call on hold (`call hold`) from 0:40 to its end, and for a while before: its `caller_no_input`
    holds the holds' time (the caller's leg not heard), its `caller_on_hold` says they were holds. The
    report says the caller was on hold then, not that the source gave no input, and the call ended on hold
    was monitored to its end; a loss of the source beside a hold is still said, less the hold."""
    db = tmp_path / "alice.db"
    held = _live_call(db, 95.0, {"ended_by": "call-monitor call end", "caller_no_input": [[10.0, 20.0], [40.0, 95.0]],
                                 "caller_no_input_s": 65.0, "caller_on_hold": [[10.0, 15.0], [40.0, 95.0]]})
    cfg = load_config(None, {"storage.db": str(db)}, user_config=False)
    with Store.open_readonly(db) as store:
        data = from_store(store, held, cfg)
    assert data.stopped is None and data.caller_no_input == ((15.0, 20.0),)
    assert data.notes[0].startswith("No audio of the caller came for 5.0 s of the call (0:15 to 0:20; its source")
    assert data.notes[1] == ("The caller was on hold from 0:10 to 0:15, from 0:40 to 1:35 (`call-monitor call hold` "
                             "to its resume, or the call's end; `--hold` of a replay or a report, a batch manifest's "
                             "`hold`): what the line played then was "
                             "not heard or judged, "
                             "and that time was no silence, neither the caller's pauses nor an end of the call.")
    assert "judged only up to there" not in render(data, "html").decode("utf-8")


def test_the_pictures_title_says_what_the_report_says_of_the_calls_legs_and_stays_inside_the_picture(tmp_path):
    """A recording with its legs the wrong way round and both legs too quiet to measure: its
    picture says so on a line under its title, each by the words the report's notes begin with,
    inside the picture and clear of every other text (the timeline moved down for it); the same call
    recorded as it should be has no such line."""
    from matplotlib.transforms import Bbox
    x, rate = sf.read(CALLS / "deteriorating_8k.wav", frames=8000 * 90, dtype="float32")
    sf.write(tmp_path / "miswired.wav", x[:, ::-1] * 0.01, rate, subtype="PCM_16")
    sf.write(tmp_path / "right.wav", x, rate, subtype="PCM_16")
    cfg = load_config(None, {"storage.db": str(tmp_path / "unused.db")}, user_config=False)
    data = from_file(str(tmp_path / "miswired.wav"), cfg)
    said = ("The recording: the call's legs read the wrong way round; the caller's leg is too quiet to measure; "
            "the agent's leg is too quiet to measure.")
    notes = render(data, "html").decode("utf-8")
    assert all(_e(f"The recording: {head}") in notes for head in (
        "the call's legs read the wrong way round: ", "the caller's leg is too quiet to measure: ",
        "the agent's leg is too quiet to measure: "))
    fig, texts = timeline_of(data)
    ((title, box),) = [(text, box) for text, box in texts if text.startswith("miswired.wav: ")]
    assert title.split("\n")[1:] == [said]
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    for other, other_box in texts:
        common = Bbox.intersection(box, other_box)
        assert other == title or common is None or common.width <= 0 or common.height <= 0, other
    assert all("The recording:" not in text for text, _ in timeline_of(from_file(str(tmp_path / "right.wav"), cfg))[1])


def test_the_pictures_title_says_what_was_wrong_with_the_recordings_samples_as_its_notes_say_it(tmp_path):
    """A recording clipped inside its full scale, at a rate that cuts the voice band, whose audio
    breaks off: under its picture's title, where it broke off and then what was wrong with its
    samples, in the words of the page's notes (the phrase whole, over as many lines as it takes),
    inside the picture and clear of every other text; the report of its stored call says the same;
    the same audio whole and unclipped has neither line."""
    from matplotlib.transforms import Bbox
    x, _ = sf.read(CALLS / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    clean = tmp_path / "clean.wav"
    sf.write(clean, x, 8000, subtype="PCM_16")
    x[:, 1] = np.clip(x[:, 1] / np.abs(x[:, 1]).max() * 1.4, -0.7, 0.7)
    flawed = tmp_path / "agc_6k.wav"
    sf.write(flawed, x, 6000, subtype="PCM_16")
    with open(flawed, "r+b") as fh:
        fh.truncate(44 + 2 * 2 * 6000 * 25)  # 25 of its 40 s
    cfg = load_config(None, {"storage.db": str(tmp_path / "events.db")}, user_config=False)
    data = from_file(str(flawed), cfg)
    assert "sample rate 6000 Hz" in data.problems and "flat-topped at 0.70 of full scale" in data.problems
    said = f"The recording: {data.problems}."
    assert _e(said) in render(data, "html").decode("utf-8")  # the page's note
    fig, texts = timeline_of(data)
    ((title, box),) = [(text, box) for text, box in texts if text.startswith("agc_6k.wav: ")]
    unjudged, *under = title.split("\n")[1:]  # 25 s of a call: no caller baseline yet, said first
    assert unjudged.startswith("No caller baseline (") and unjudged.endswith("judged against the absolute limits only")
    assert under[0] == "Truncated or damaged recording: the report covers the 25.0 s before its audio breaks off."
    assert len(under) > 2 and " ".join(under[1:]) == said  # too long for one line of the title
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    for other, other_box in texts:
        common = Bbox.intersection(box, other_box)
        assert other == title or common is None or common.width <= 0 or common.height <= 0, other
    assert cli.main(["replay", str(flawed), "--no-transcribe", "--db", str(tmp_path / "events.db")]) == 0
    with Store.open_readonly(tmp_path / "events.db") as store:
        of_store = from_store(store, 1, cfg)
    ((title_of_store, _),) = [(t, b) for t, b in timeline_of(of_store)[1] if t.startswith("call 1: ")]
    assert title_of_store.split("\n")[1:] == [unjudged, *under]
    ((whole, _),) = [(t, b) for t, b in timeline_of(from_file(str(clean), cfg))[1] if t.startswith("clean.wav: ")]
    assert len(whole.split("\n")) == 2 and whole.split("\n")[1].startswith("No caller baseline (")


def words_at_aa_contrast(fig) -> None:
    """Every word of the picture ``fig`` (alert labels, notes, keys) at WCAG AA's 4.5:1 at least on
    its white: a warning's label in a darker orange than its line."""
    from a11y import contrast
    from matplotlib.colors import to_hex
    from matplotlib.text import Text
    from monitor.report.figure import LABEL_COLOURS
    assert {to_hex(ax.get_facecolor()) for ax in fig.axes} | {to_hex(fig.get_facecolor())} == {"#ffffff"}
    colours = {to_hex(t.get_color()): t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()}
    assert LABEL_COLOURS["warning"] in colours, colours  # the warnings' labels are there
    assert {c: words for c, words in colours.items() if contrast(c, "#ffffff") < 4.5} == {}


def test_cue_keys_hide_no_trace_and_transcript_lines_end_inside_the_panel_shortened_with_an_ellipsis(det):
    """The keys of the panels of two cues lie above their panels, right of their titles, not over the
    call's last seconds, overlapping no other text; every transcript line ends inside its panel, the
    utterance whole or its first words ending in "..." (the deteriorating call's last lines, which
    ran off the panel's edge cut mid-word, among them); every word is drawn at 4.5:1 on its white."""
    from matplotlib.transforms import Bbox
    from monitor.report.figure import ELLIPSIS
    fig, texts = timeline_of(det["data"])
    words_at_aa_contrast(fig)
    keys = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(keys) >= 3
    fig.canvas.draw()
    for key in keys:
        box = key.get_window_extent()
        assert box.y0 >= key.axes.bbox.y1 - 1 and fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1
        for text in key.get_texts():
            inner = text.get_window_extent()
            for other, other_box in texts:
                common = Bbox.intersection(inner, other_box)
                assert other == text.get_text() or common is None or common.width <= 0 or common.height <= 0, other
    tax = fig.axes[-1]
    said = [u.text for u in det["data"].utterances]
    lines = [t for t in tax.texts if t.get_text() not in ("caller", "agent")]
    assert len(lines) > 40
    for line in lines:
        text, box = line.get_text(), line.get_window_extent()
        assert box.x1 <= tax.bbox.x1, text
        assert text in said or (text.endswith(ELLIPSIS) and any(s.startswith(text[:-len(ELLIPSIS)]) for s in said)), text
    last = max(lines, key=lambda t: t.get_position()[0])
    assert last.get_text().endswith(ELLIPSIS), last.get_text()


# --------------------------------------------------------------------------- a stored call's series


@pytest.fixture(scope="module")
def replayed_with_series(tmp_path_factory) -> tuple[Path, Path]:
    """40 s of a fixture call replayed into a database: its folder holds the call's series beside it
    (:func:`series_of`). The database and the series file."""
    d = tmp_path_factory.mktemp("series")
    x, rate = sf.read(CALLS / "deteriorating_8k.wav", dtype="float32")
    recording = d / "call.wav"
    sf.write(recording, x[:40 * rate], rate)
    assert cli.main(["replay", str(recording), "--no-transcribe", "--db", str(d / "events.db")]) == 0
    return d / "events.db", series_of(d / "events.db")


def series_of(db: Path, call_id: int = 1) -> Path:
    """Where replay writes the series of call ``call_id`` of database ``db`` (no ``daemon.audio_dir``):
    beside it, named after it."""
    from monitor.delivery.call_files import replayed_series_name
    return db.parent / replayed_series_name(call_id, db)


def stored_report(db: Path):
    with Store.open(db) as store:
        return from_store(store, 1, load_config(None, {"storage.db": str(db)}, user_config=False))


def without_series(db: Path, series: Path, tmp_path: Path) -> Path:
    """A copy of ``db`` in ``tmp_path`` with no series beside it."""
    shutil.copy(db, tmp_path / "events.db")
    return tmp_path / "events.db"


def test_a_stored_calls_report_drawn_from_its_series_is_the_one_drawn_from_its_audio(replayed_with_series, tmp_path):
    db, series = replayed_with_series
    assert series.is_file() and series.stat().st_mode & 0o077 == 0
    stored, analysed = stored_report(db), stored_report(without_series(db, series, tmp_path))
    assert stored.tracks.keys() == analysed.tracks.keys() == {"caller", "agent"}
    for leg, track in stored.tracks.items():
        other = analysed.tracks[leg]
        assert np.array_equal(track.env_t, other.env_t) and np.array_equal(track.env_peak, other.env_peak)
        assert (track.speech, track.pauses, track.breaths, track.coughs) == \
               (other.speech, other.pauses, other.breaths, other.coughs)
    assert stored.notes == analysed.notes
    assert render(stored, "png") == render(analysed, "png")


def damaged(series: Path, how: str) -> None:
    """``series`` truncated, not a series file at all, or of another version."""
    if how == "truncated":
        series.write_bytes(series.read_bytes()[:300])
    elif how == "not a series file":
        series.write_text("hello\n")
    else:
        with np.load(series) as npz:
            arrays = dict(npz)
        meta = json.loads(arrays["meta"].tobytes())
        arrays["meta"] = np.frombuffer(json.dumps({**meta, "version": meta["version"] + 1}).encode(), np.uint8)
        np.savez(series, **arrays)


@pytest.mark.parametrize("how", ["truncated", "not a series file", "another version"])
def test_a_damaged_series_file_is_named_in_one_warning_and_the_report_drawn_from_the_audio(
        replayed_with_series, tmp_path, capsys, how):
    db, series = replayed_with_series
    copy = without_series(db, series, tmp_path)
    shutil.copy(series, series_of(copy))
    damaged(series_of(copy), how)
    out = tmp_path / "report.html"
    assert cli.main(["report", "--db", str(copy), "1", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    warned = [ln for ln in err.splitlines() if ln.startswith("call-monitor: warning: ")]
    assert len(warned) == 1 and warned[0].startswith(f"call-monitor: warning: {series_of(copy)}: "), err
    assert warned[0].endswith("; the call's audio is analysed instead") and "Traceback" not in err
    assert f"Waveform and speech regions from the call&#x27;s audio: {db.parent / 'call.wav'}" in out.read_text()


def test_a_report_that_finds_no_series_says_in_one_warning_that_it_analyses_the_audio(
        replayed_with_series, tmp_path, capsys):
    """The report of a call whose series are not there (a call stored by an earlier release, its
    series deleted) names the file it looked for in one warning line; with the series, nothing."""
    db, series = replayed_with_series
    copy = without_series(db, series, tmp_path)
    out = tmp_path / "report.html"
    assert cli.main(["report", "--db", str(copy), "1", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    warned = [ln for ln in err.splitlines() if ln.startswith("call-monitor: warning: ")]
    assert warned == [f"call-monitor: warning: call 1: no series file {series_of(copy)}; "
                      "the call's audio is analysed instead"], err
    assert cli.main(["report", "--db", str(db), "1", "-o", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_another_calls_series_is_not_drawn_as_this_ones(replayed_with_series, tmp_path, caplog):
    db, series = replayed_with_series
    copy = without_series(db, series, tmp_path)
    with sqlite3.connect(copy) as con:  # the call's id 2 in this database: series of call 1 under its name
        con.execute("UPDATE calls SET id = 2 WHERE id = 1")
        con.execute("UPDATE cue_snapshots SET call_id = 2")
        con.execute("UPDATE alerts SET call_id = 2")
    con.close()
    shutil.copy(series, series_of(copy, 2))
    with caplog.at_level(logging.WARNING), Store.open(copy) as store:
        got = from_store(store, 2, load_config(None, {"storage.db": str(copy)}, user_config=False))
    assert set(got.tracks) == {"caller", "agent"}
    assert [r.getMessage() for r in caplog.records] == [
        f"{series_of(copy, 2)}: not the series of call 2's audio {db.parent / 'call.wav'}; "
        "the audio is analysed instead"]


def test_a_purged_calls_series_goes_with_it(tmp_path):
    """Under its name, and under the name an earlier release gave it (``call-<id>-series.npz``)."""
    from monitor.delivery.call_files import purge_call_files
    cfg = load_config(None, {"storage.db": str(tmp_path / "events.db")}, user_config=False)
    series = [series_of(tmp_path / "events.db", 7), tmp_path / "call-7-series.npz"]
    kept = [series_of(tmp_path / "events.db", 8), tmp_path / "call-8-series.npz"]
    for p in series + kept:
        p.write_bytes(b"x")
    now = series[0].stat().st_mtime
    assert purge_call_files(cfg, [(7, now - 60, now, "/recordings/call.wav")]) == 2
    assert not any(p.exists() for p in series) and all(p.exists() for p in kept)


def test_a_purge_leaves_the_series_another_database_wrote_under_the_same_name(replayed_with_series, tmp_path):
    """Two databases in one folder (``replay --db a.db``, then ``--db b.db``) of an earlier release
    both have a call 1, and the series file ``call-1-series.npz`` is the one whose call ended last:
    the other database's purge leaves it; its own purge deletes it."""
    from monitor.delivery.call_files import purge_call_files
    db, series = replayed_with_series
    shared = tmp_path / "call-1-series.npz"
    shutil.copy(series, shared)
    now = shared.stat().st_mtime
    call = [(1, now - 60, now, "/recordings/call.wav")]
    other = load_config(None, {"storage.db": str(tmp_path / "b.db")}, user_config=False)
    assert purge_call_files(other, call) == 0 and shared.is_file()
    own = load_config(None, {"storage.db": str(db), "daemon.audio_dir": str(tmp_path)}, user_config=False)
    assert purge_call_files(own, call) == 1 and not shared.exists()


def test_the_series_an_earlier_release_wrote_of_a_replayed_call_are_still_drawn(replayed_with_series, tmp_path):
    db, series = replayed_with_series
    copy = without_series(db, series, tmp_path)
    with np.load(series) as npz:  # as the copy's own, named as an earlier release named them
        arrays = dict(npz)
    meta = json.loads(arrays["meta"].tobytes())
    arrays["meta"] = np.frombuffer(json.dumps({**meta, "database": os.path.realpath(copy)}).encode(), np.uint8)
    np.savez(tmp_path / "call-1-series.npz", **arrays)
    assert replayed_calls_report(copy) == []


def replayed_calls_report(db: Path) -> list[str]:
    """What the report of ``db``'s call 1 says of its series, as the package logs it whatever a
    command before set its logging to: nothing when it draws them."""
    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    logger, keep = logging.getLogger("monitor"), Keep()
    level = logger.level
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    try:
        stored_report(db)
    finally:
        logger.removeHandler(keep)
        logger.setLevel(level)
    return [message for message in said if "analysed" in message]


def test_two_databases_in_one_folder_each_keep_their_replayed_calls_series_and_purge_only_their_own(tmp_path):
    """``replay X.wav --db b.db``, then ``replay Y.wav --db a.db`` in one folder: each has a call 1,
    whose series its report draws (neither overwrote the other's); a's purge deletes a's, not b's."""
    x, rate = sf.read(CALLS / "deteriorating_8k.wav", dtype="float32")
    for name, seconds in (("b", 6), ("a", 8)):
        sf.write(tmp_path / f"{name}.wav", x[:seconds * rate], rate)
        assert cli.main(["replay", str(tmp_path / f"{name}.wav"), "--no-transcribe",
                         "--db", str(tmp_path / f"{name}.db")]) == 0
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert [read_series(str(series_of(db))).database for db in (a, b)] == [os.path.realpath(a), os.path.realpath(b)]
    assert replayed_calls_report(a) == [] and replayed_calls_report(b) == []
    assert cli.main(["purge", "--db", str(a), "--older-than", "0s"]) == 0
    assert not series_of(a).exists() and series_of(b).is_file()
    assert replayed_calls_report(b) == []


def replayed_with(tmp_path: Path, db: Path, audio_dir: Path, seconds: int = 6) -> Path:
    """``seconds`` of a fixture call replayed into ``db`` with ``daemon.audio_dir`` ``audio_dir``
    (a configuration file, written in ``tmp_path``); the configuration file."""
    x, rate = sf.read(CALLS / "deteriorating_8k.wav", dtype="float32")
    recording = tmp_path / f"{db.stem}.wav"
    sf.write(recording, x[:seconds * rate], rate)
    conf = config_with_audio_dir(tmp_path / f"{db.stem}.toml", audio_dir)
    assert cli.main(["replay", str(recording), "--no-transcribe", "--config", str(conf), "--db", str(db)]) == 0
    return conf


def config_with_audio_dir(path: Path, audio_dir: Path) -> Path:
    path.write_text(f'[daemon]\naudio_dir = "{audio_dir}"\n', encoding="utf-8")
    return path


def reported_warnings(db: Path, conf: Path, out: Path, capsys) -> list[str]:
    """The warning lines of ``report`` of ``db``'s call 1 made with configuration ``conf``."""
    capsys.readouterr()
    assert cli.main(["report", "--config", str(conf), "--db", str(db), "1", "-o", str(out)]) == 0
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("call-monitor: warning: ")]


def test_a_replay_whose_audio_dir_is_another_databases_writes_its_series_beside_its_own_database(tmp_path, capsys):
    """A configuration shared with the daemon of another database, whose ``daemon.audio_dir`` that
    daemon owns (its calls have the same names): ``replay --db qa.db`` writes its call's series beside
    qa.db, named after it, not in the daemon's folder; its report draws them, its purge deletes them."""
    from monitor.delivery.call_files import OWNER_FILE
    live, audio, qa = tmp_path / "live.db", tmp_path / "audio", tmp_path / "qa" / "qa.db"
    Store.open(live).close()
    audio.mkdir()
    (audio / OWNER_FILE).write_text(os.path.realpath(live) + "\n", encoding="utf-8")
    qa.parent.mkdir()
    conf = replayed_with(tmp_path, qa, audio)
    assert [p.name for p in audio.iterdir()] == [OWNER_FILE]
    assert series_of(qa).is_file() and series_of(qa).stat().st_mode & 0o777 == 0o600
    assert reported_warnings(qa, conf, tmp_path / "report.html", capsys) == []
    assert cli.main(["purge", "--config", str(conf), "--db", str(qa), "--older-than", "0s"]) == 0
    assert not series_of(qa).exists()


def test_a_purge_with_another_audio_dir_deletes_the_series_replay_wrote_to_the_one_it_had(tmp_path, capsys):
    """Replay writes its calls' series to ``daemon.audio_dir`` and keeps that folder in the database:
    a report or a purge made with another ``daemon.audio_dir`` finds them there."""
    db, first, later = tmp_path / "qa.db", tmp_path / "first", tmp_path / "later"
    replayed_with(tmp_path, db, first)
    written = first / series_of(db).name
    assert written.is_file()
    conf = config_with_audio_dir(tmp_path / "later.toml", later)
    assert reported_warnings(db, conf, tmp_path / "report.html", capsys) == []
    assert cli.main(["purge", "--config", str(conf), "--db", str(db), "--older-than", "0s"]) == 0
    assert not written.exists()
