"""A recorded call with a hold in it, replayed: ``replay --hold FROM-TO`` says when the caller was on
hold, as ``call-monitor call hold`` and ``call resume`` say it of a live call. What the line played
meanwhile (hold music, a recorded "please hold") is no caller: it is not heard or judged, and the
hold is kept with the stored call (``caller_on_hold``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import CALLS, HOLD, call_monitor_here, db_rows
from monitor.capture.holds import call_seconds, held, holds_text, parse_hold, parse_holds, past_end
from monitor.capture.sources import Chunk
from monitor.events import joined_spans

def test_hold_music_marked_as_a_hold_raises_nothing_and_the_hold_is_kept_with_the_call(hold_music_call, tmp_path):
    """Unmarked, the music is no caller's speech (the analyzer's music test): no critical alert,
    though the edges of its stretches may still be heard. With ``--hold 1:40-2:25`` it raises
    nothing; the stored call keeps the hold apart (``caller_on_hold``) and within the caller's time
    of no input. A hold that begins after the recording's end is said in one warning and not applied."""
    unmarked = call_monitor_here("replay", hold_music_call, "--no-transcribe", "--jsonl", "--db", tmp_path / "u.db")
    assert unmarked.returncode == 0, unmarked.stderr
    alerts = [e for e in map(json.loads, unmarked.stdout.splitlines()) if e["type"] == "alert"]
    assert [e["kind"] for e in alerts if e["severity"] == "critical"] == []

    db = tmp_path / "m.db"
    marked = call_monitor_here("replay", hold_music_call, "--no-transcribe", "--jsonl", "--db", db,
                               "--hold", "1:40-2:25", "--hold", "9:00-9:30")
    assert marked.returncode == 0, marked.stderr
    assert [e for e in map(json.loads, marked.stdout.splitlines()) if e["type"] == "alert"] == []
    assert marked.stderr.splitlines() == [
        f"call-monitor: warning: {hold_music_call}: --hold 9:00-9:30 begins after the recording's end (2:55): "
        "not applied"]
    summary = json.loads(db_rows(db, "SELECT summary FROM calls")[0][0])
    assert summary["caller_on_hold"] == [list(HOLD)]
    assert summary["caller_no_input"] == [list(HOLD)] and summary["caller_no_input_s"] == pytest.approx(45.0)


@pytest.mark.parametrize("args, said", [
    (["--hold", "2:25-1:40"], "argument --hold: '2:25-1:40' ends before it begins"),
    (["--hold", "1:40"], "argument --hold: '1:40' is no FROM-TO stretch of the call (as 0:40-1:35)"),
    (["--hold", "1:75-2:00"], "argument --hold: '1:75-2:00': FROM and TO are seconds, m:ss or h:mm:ss into the "
                              "call (as 0:40-1:35)"),
    (["--hold", "0-1" + "0" * 400], f"argument --hold: '0-1{'0' * 400}': FROM and TO are seconds, m:ss or h:mm:ss "
                                    "into the call (as 0:40-1:35)"),
])
def test_a_hold_that_is_no_stretch_of_the_call_is_refused_in_one_line(args, said, tmp_path):
    """A hold that ends before it begins, one time alone, minutes or seconds of 60 after a colon, or
    a time too great for any number of seconds (infinite as a float): one error line naming the option and the value, exit 2, nothing replayed or made."""
    done = call_monitor_here("replay", CALLS / "normal_8k.wav", *args, "--db", tmp_path / "e.db")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"call-monitor replay: error: {said}"
    assert "Traceback" not in done.stderr and not (tmp_path / "e.db").exists()


def test_holds_given_for_several_recordings_are_refused_naming_them(tmp_path):
    """A hold is a time in one call: with two FILEs, nothing is replayed."""
    a, b = CALLS / "normal_8k.wav", CALLS / "noisy_line_8k.wav"
    done = call_monitor_here("replay", a, b, "--hold", "0:40-1:35", "--db", tmp_path / "e.db")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"call-monitor: error: {a}, {b}: --hold gives the holds of one call (2 FILEs given): replay each call "
        "with its own --hold"]
    assert not (tmp_path / "e.db").exists()


def test_call_times_are_seconds_or_minutes_and_seconds():
    """A hold's times are written as a batch's label onsets are (seconds, m:ss, h:mm:ss), each a
    number of seconds (a time too great for one is none); holds that meet or overlap are one."""
    assert [call_seconds(t) for t in ("75", "75.5", "1:15", "1:15.5", "0:01:15")] == [75.0, 75.5, 75.0, 75.5, 75.0]
    assert parse_hold("0:40-1:35") == (40.0, 95.0) and parse_hold("40-95.5") == (40.0, 95.5)
    for bad in ("1:60", "1:60:00", "-5", "a:10", "", "1" + "0" * 400, "1" + "0" * 400 + ":00",
                "1" + "0" * 400 + ":00:00"):
        with pytest.raises(ValueError):
            call_seconds(bad)
    assert joined_spans([(50.0, 60.0), (10.0, 20.0), (15.0, 30.0), (30.0, 35.0)]) == [(10.0, 35.0), (50.0, 60.0)]


def test_several_holds_written_together_are_read_in_time_order_and_written_back_the_same():
    """A batch manifest's ``hold`` cell: stretches separated by ``;`` or spaces, in any order, those
    that meet joined; written back (the table's ``hold``, the ledger's key) in one form whichever
    way they were written, which reads back the same; a stretch that is none in it is refused."""
    holds = parse_holds(" 5:00-5:31.5;1:40-2:25  2:20-2:30 ")
    assert holds == ((100.0, 150.0), (300.0, 331.5)) == parse_holds("100-150; 300-331.5")
    assert holds_text(holds) == "1:40-2:30; 5:00-5:31.5" and parse_holds(holds_text(holds)) == holds
    assert holds_text([(3700.25, 3720.0)]) == "1:01:40.25-1:02:00" and parse_holds("") == ()
    with pytest.raises(ValueError, match="'abc' is no FROM-TO stretch"):
        parse_holds("1:40-2:25; abc")


def test_holds_past_the_recordings_end_given_overlapping_are_said_as_the_one_hold_they_are():
    """Holds given overlapping or in any order are one hold (as they are applied and kept): those
    beginning after the recording's end are said once each, in time order, as the hold they make."""
    assert past_end([(560.0, 580.0), (300.0, 310.0), (540.0, 570.0), (170.0, 190.0)], 175.0) == [
        "--hold 5:00-5:10 begins after the recording's end (2:55): not applied",
        "--hold 9:00-9:40 begins after the recording's end (2:55): not applied"]


@pytest.mark.parametrize("cell", [";;", ";", "1:40-2:25;;5:00-5:30", "1:40-2:25; ", " ;1:40-2:25"])
def test_holds_written_together_with_a_semicolon_beside_no_stretch_are_refused(cell):
    """A ``;`` with nothing on one side of it (a stretch left out when the cell was made) is no hold
    to leave out unsaid: the cell is refused, naming it."""
    with pytest.raises(ValueError) as err:
        parse_holds(cell)
    assert str(err.value) == f"{cell.strip()!r} has a ';' with no stretch beside it"


@pytest.mark.parametrize("cell", ["0:59.9996-1:00.5", "100.1-145.7 3599.9995-3600.0015", "0.0004-0.0016"])
def test_holds_are_kept_to_the_millisecond_and_written_back_as_they_were_read(cell):
    """A hold's times are kept to the millisecond, as the table and the ledger write them: what they
    write reads back as the same holds (the table given back as a manifest is the same calls), and a
    stretch that is none at that precision is refused, as one that ends before it begins."""
    holds = parse_holds(cell)
    assert parse_holds(holds_text(holds)) == holds and all(round(t, 3) == t for span in holds for t in span)
    for none in ("0-0.0001", "59.9996-60"):
        with pytest.raises(ValueError, match="ends before it begins"):
            parse_hold(none)


def test_a_hold_over_chunks_of_any_size_marks_the_same_samples_as_over_the_whole_call():
    """Streaming is identical to the whole call: the caller's column is silence and not heard over
    the hold whatever the chunks, the agent's untouched, and a range the capture left unheard that
    the hold meets joins it."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1000, 2)).astype("float32")
    spans, rate = ((0.25, 0.4), (0.9, 20.0)), 100  # samples 25-40, and 90 on past the end
    whole = next(held([Chunk(0.0, x, unheard=((1, 38, 50),))], spans, 1, rate))
    assert whole.unheard == ((1, 25, 50), (1, 90, 1000))
    for size in (7, 64, 333):
        pieces = [Chunk(i / rate, x[i:i + size]) for i in range(0, len(x), size)]
        parts = list(held(pieces, spans, 1, rate))
        samples = np.concatenate([c.samples for c in parts])
        heard = np.ones(len(x), bool)
        for c in parts:
            for _, a, b in c.unheard:
                heard[round(c.t0 * rate) + a: round(c.t0 * rate) + b] = False
        assert np.array_equal(~heard, np.r_[np.zeros(25), np.ones(15), np.zeros(50), np.ones(910)].astype(bool))
        assert np.array_equal(samples[:, 0], x[:, 0]) and not samples[~heard, 1].any()
        assert np.array_equal(samples[heard, 1], x[heard, 1])
