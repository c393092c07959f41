"""``call-monitor status``: the daemon's state as lines a person reads, and with ``--json`` an
object a script reads, also when no daemon answers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from typing import Any

import pytest

from conftest import PY, ROOT, Daemon, socket_places, wait_for
from conftest import call_monitor as cli
from monitor.commands.run import started_line
from monitor.commands.status import STATUS_CUES, render, with_url_redacted
from monitor.config import ConfigError, load_config
from monitor.release import RELEASE

STATE = {"pid": 4242, "version": RELEASE, "uptime_s": 61.0, "db": "alerts.db", "calls": 1, "alerts": 2, "overflows": 0,
         "legs": {"caller": {"label": "softphone.monitor", "state": "running", "device_rate": 48000,
                             "level_dbfs": -31.4, "overflows": 0, "dropped_blocks": 0, "reopens": 1}},
         "call": {"call_id": 7, "t": 42.0, "alerts": 2, "baseline_ready": True,
                  "active_alerts": {"slow_speech": {"severity": "warning", "t": 30.0}},
                  "cues": {"speech_rate_sps": 2.104, "pause_ratio": 0.41, "mean_phrase_s": 1.26,
                           "hnr_db": None, "loudness_dbfs": -33.2, "breaths_per_min": 14.0}}}


def test_the_call_s_cues_are_named_and_measured_as_the_cue_registry_says():
    text = render(STATE)
    assert ("cues: speech rate 2.10 syll/s, pause ratio 0.41, mean phrase length 1.3 s, HNR n/a, "
            "loudness -33.2 dBFS, audible breaths 14.0/min") in text


def test_cues_over_too_little_of_the_callers_speech_are_said_to_be_not_measured_yet():
    """12 s into a call whose cue window holds 0.1 s of the caller's speech, the daemon gives its
    speech cues as None (:func:`shown_cues`) and the line says they are not measured yet, and from
    how much speech on they are, rather than "audible breaths 642.9/min, HNR 0.0 dB"."""
    early = {"speech_s": 0.1, "response_latency_s": 0.8, **{name: None for name in STATUS_CUES}}
    text = render(dict(STATE, call=dict(STATE["call"], cues=early, cues_from_speech_s=4.0)))
    assert ("    cues: not measured yet (0.1 s of the caller's speech in the window; shown from 4 s)"
            in text.splitlines())
    measured = dict(STATE["call"]["cues"], speech_s=6.2)
    assert "cues: speech rate 2.10 syll/s" in render(dict(STATE, call=dict(STATE["call"], cues=measured,
                                                                            cues_from_speech_s=4.0)))


def test_each_leg_the_call_and_its_active_alerts_have_a_line():
    lines = render(STATE).splitlines()
    assert lines[0] == f"call-monitor daemon pid 4242, release {RELEASE}, up 61 s, database alerts.db"
    assert any("softphone.monitor [running] 48000 Hz, level -31.4 dBFS" in ln and "reopens 1" in ln for ln in lines)
    assert "  call 7: 42 s, 2 alert(s), baseline ready" in lines
    assert "    active warning slow_speech since 30 s" in lines


def test_the_recent_alerts_keep_a_critical_one_that_five_warnings_followed():
    """A deteriorating call: the critical alert at 92 s, then five warnings within 25 s. The list of
    recent alerts (the last five) lost the critical one; it keeps it, first, as it came. Each line
    starts with its severity as the terminal's alert line does (`CRITICAL`, `warning`), then its time."""
    raised = [("critical", "possible_emergency", 92.0)] + [
        ("warning", kind, t) for kind, t in (("long_pauses", 97.0), ("breathy_voice", 102.0), ("weak_voice", 109.0),
                                             ("slow_speech", 110.0), ("slow_response", 115.0))]
    recent = [{"call_id": 2, "alert_id": i + 1, "t": t, "kind": kind, "severity": sev, "at": 1.7e9 + t}
              for i, (sev, kind, t) in enumerate(raised)]
    listed = [(ln.split()[0], ln.split(" call 2 ")[1]) if re.match(r" {4}\S+ +\d\d:\d\d:\d\d call 2 ", ln) else ln
              for ln in render(dict(STATE, recent_alerts=recent)).splitlines() if " call 2 " in ln]
    assert listed == [("CRITICAL", "possible_emergency at 92 s"), ("warning", "long_pauses at 97 s"),
                      ("warning", "breathy_voice at 102 s"), ("warning", "weak_voice at 109 s"),
                      ("warning", "slow_speech at 110 s"), ("warning", "slow_response at 115 s")]
    older_warning = [dict(recent[1], alert_id=0, t=50.0, severity="warning")]
    assert len([ln for ln in render(dict(STATE, recent_alerts=older_warning + recent[1:])).splitlines()
                if " call 2 " in ln]) == 5


def test_recent_alerts_in_the_hour_a_change_of_daylight_saving_time_repeats_say_their_zone(monkeypatch):
    """Two alerts an hour apart in UTC, at 00:30 and 01:30 on 2026-10-25, both read 02:30:01 in
    Berlin: each says its zone's abbreviation, and so does an acknowledgement's time that hour; an
    hour before, times are as they were."""
    import time
    from datetime import datetime
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        at = [datetime.fromisoformat(f"2026-10-25T{h}:30:01+00:00").timestamp() for h in ("23", "00", "01")]
        at[0] -= 86400
        recent = [{"call_id": i + 2, "alert_id": i + 1, "t": 1.0, "kind": "slow_speech", "severity": "warning",
                   "at": t} for i, t in enumerate(at)]
        recent[0].update(acked_by="anna", acked_at=at[1] + 30)
        lines = [ln.strip() for ln in render(dict(STATE, recent_alerts=recent)).splitlines() if "slow_speech at" in ln]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert lines == ["warning  01:30:01 call 2 slow_speech at 1 s, acknowledged by supervisor anna at 02:30:31 CEST",
                     "warning  02:30:01 CEST call 3 slow_speech at 1 s", "warning  02:30:01 CET call 4 slow_speech at 1 s"]


def test_without_a_call_it_says_so():
    assert "  no call in progress" in render(dict(STATE, call=None)).splitlines()


def test_a_stream_that_is_no_call_yet_is_said_with_how_to_call_it_off():
    ring = {"kind": "start", "since_s": 1.2, "call_after_s": 3.0}
    lines = render(dict(STATE, call=None, pending=ring)).splitlines()
    assert lines[lines.index("  no call in progress") + 1] == \
        "  a stream began 1.2 s ago: a call once it has played 3 s (`call-monitor call end` calls it off)"
    waiting = {"kind": "split", "since_s": 0.4, "call_after_s": 3.0}
    assert "    a stream began beside it 0.4 s ago: the next call once it has played 3 s" in \
        render(dict(STATE, pending=waiting)).splitlines()


def test_a_lost_leg_says_why():
    lost = {"caller": dict(STATE["legs"]["caller"], state="lost", last_error="source softphone.monitor is gone")}
    assert "[lost: source softphone.monitor is gone]" in render(dict(STATE, legs=lost))


def test_a_leg_waiting_for_its_source_has_no_rate_until_it_opens():
    waiting = {"caller": dict(STATE["legs"]["caller"], state="waiting", device_rate=0, level_dbfs=None,
                              last_error="no input device or source named 'nosuch.monitor'")}
    (line,) = [ln for ln in render(dict(STATE, legs=waiting)).splitlines() if "softphone.monitor" in ln]
    assert "[waiting: no input device or source named 'nosuch.monitor'], level n/a, overflows 0" in line
    assert " Hz" not in line


def test_the_start_says_it_waits_for_a_source_not_found_rather_than_that_it_listens_to_it():
    legs = {"caller": {"label": "nosuch.monitor", "state": "starting"}, "agent": {"label": "mic", "state": "starting"}}
    assert started_line(legs) == "listening (caller = nosuch.monitor, agent = mic)"
    assert started_line(legs, {"caller"}) == "waiting for the caller's source nosuch.monitor, not found yet (agent = mic)"
    assert started_line(legs, {"caller", "agent"}) == \
        "waiting for the caller's source nosuch.monitor and the agent's source mic, not found yet"


def test_a_daemon_started_on_a_source_that_is_not_there_says_it_waits_and_that_the_sink_is_not_found(
        pulse, env, tmp_path):
    """A caller source that never existed: the terminal's line says the daemon waits for it, not
    that it listens to it; status has no rate for the leg and says the sink is not found, not gone."""
    d = Daemon(["--log-level", "warning", "--caller", "nosuch.monitor", "--agent", "mic.monitor", "--db",
                str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        assert wait_for(lambda: d.lines or d.proc.poll() is not None, 20), d.err
        said = d.lines[0][1]["text"]
        assert said.startswith("call-monitor: waiting for the caller's source nosuch.monitor, not found yet "
                               "(agent = mic.monitor); status socket "), said
        text = subprocess.run([PY, "-m", "monitor.cli", "status"], env=env, capture_output=True, text=True,
                              timeout=10).stdout
        (caller,) = [ln for ln in text.splitlines() if ln.startswith("  caller ")]
        assert caller.startswith("  caller nosuch.monitor [waiting: no input device or source named") and \
            " Hz" not in caller, text
        assert "(sink nosuch not found)" in text and "gone" not in text, text
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(5) == 0
    finally:
        d.kill()


def test_a_sink_is_said_gone_only_once_it_was_there(pulse, env):
    from monitor.capture.streams import SinkStreams
    changes: list[str] = []
    watcher = SinkStreams("softphone", lambda at, ids, why: changes.append(why), poll_s=0.2).start()
    try:
        assert wait_for(lambda: changes == [""], 30), changes
        module = next(line.split()[0] for line in subprocess.run(["pactl", "list", "short", "modules"], env=env,
                      capture_output=True, text=True).stdout.splitlines() if "sink_name=softphone" in line)
        subprocess.run(["pactl", "unload-module", module], env=env, check=True)
        assert wait_for(lambda: changes[-1:] == ["sink softphone is gone"], 30), changes
    finally:
        watcher.stop()
    never = SinkStreams("nosuch", lambda at, ids, why: changes.append(why), poll_s=0.2).start()
    try:
        assert wait_for(lambda: changes[-1:] == ["sink nosuch not found"], 30), changes
    finally:
        never.stop()


def test_a_failing_database_and_what_it_holds_back_have_a_line():
    store = {"failing": True, "held": 3, "failures": 1, "dropped": 0, "error": "e.db: the disk is full"}
    assert "  database failing (e.db: the disk is full): 3 record(s) held, written once it works" in \
        render(dict(STATE, store=store)).splitlines()
    working = dict(store, failing=False, held=0)
    assert "database" not in render(dict(STATE, store=working)).split("\n", 1)[1]


def test_cue_snapshots_and_transcript_lines_a_failing_database_did_not_keep_are_said_there_and_after_it():
    """They are not held, as alerts are (``status --json``'s ``store.dropped``): the text says how many were
    lost while the database fails, and once it works again, where it said nothing any more."""
    store = {"failing": True, "held": 3, "failures": 4, "dropped": 9, "error": "e.db: the disk is full"}
    assert ("  database failing (e.db: the disk is full): 3 record(s) held, written once it works; 9 cue "
            "snapshot(s) and transcript line(s) not kept while it fails") in render(dict(STATE, store=store)).splitlines()
    working = dict(store, failing=False, held=0)
    assert "  database working again: 9 cue snapshot(s) and transcript line(s) not kept while it failed" in \
        render(dict(STATE, store=working)).splitlines()


def test_the_lines_a_failing_database_did_not_keep_are_counted_of_this_failure_not_of_the_earlier_ones(tmp_path):
    """Another program locks a real database twice: the status (the daemon's state of its guard) says
    the lines dropped in the first failure once it works again, and in the second only the second's,
    while it fails and after. It said the total since the start, the first failure's in the second's."""
    import sqlite3
    import time
    from monitor.daemon_status import store_state
    from monitor.delivery.store import Store
    from monitor.delivery.store_guard import StoreGuard
    from monitor.events import WordsEvent
    store = Store.open(tmp_path / "e.db")
    guard = StoreGuard(store, retry_s=0.0)
    holder = sqlite3.connect(tmp_path / "e.db", isolation_level=None)

    def said() -> list[str]:
        return [ln for ln in render(dict(STATE, store=store_state(guard))).splitlines() if ln.startswith("  database")]

    for lines in (4, 1):
        call = guard.start_call("live:test", time.time())
        holder.execute("BEGIN IMMEDIATE")
        for i in range(lines):
            guard.add_words(call, WordsEvent(t=float(i), final=True, text="hello"))
        assert said() == [f"  database failing ({guard.last_error}): 0 record(s) held, written once it works; "
                          f"{lines} cue snapshot(s) and transcript line(s) not kept while it fails"]
        holder.execute("COMMIT")
        guard.end_call(call, 1.0, {})
        assert said() == [f"  database working again: {lines} cue snapshot(s) and transcript line(s) not kept "
                          "while it failed"]
    assert guard.dropped_of["add_words"] == 5
    holder.close()
    store.close()


def test_transcription_off_has_a_line_saying_a_restart_is_needed_whatever_the_last_problem_is():
    off = ("transcription off: --model /models/ko: no such model folder; running acoustic-only until a start "
           "loads a model")
    said = f"  {off} (a reload loads no model: restart the daemon once the model is fixed)"
    as_last = {"level": "warning", "message": off, "at": 0.0, "source": "transcription"}
    lines = render(dict(STATE, transcription_off=off, last_problem=as_last)).splitlines()
    assert [ln for ln in lines if "transcription off" in ln] == [said]  # not said twice
    later = {"level": "warning", "message": "configuration not reloaded: c.toml: invalid TOML", "at": 0.0,
             "source": "reload"}
    lines = render(dict(STATE, transcription_off=off, last_problem=later)).splitlines()
    assert said in lines and any("configuration not reloaded" in ln for ln in lines)
    assert "transcription" not in render(dict(STATE, transcription_off=None))


def test_what_the_call_boundaries_are_based_on_and_how_the_call_ends_have_a_line():
    boundaries = {"mode": "streams+silence", "sink": "softphone", "streams": 1,
                  "based_on": "the softphone's streams into sink softphone (1 playing now), else 20 s of silence"}
    call = dict(STATE["call"], ends="when its stream into sink softphone ends")
    lines = render(dict(STATE, boundaries=boundaries, call=call)).splitlines()
    assert "  calls cut by the softphone's streams into sink softphone (1 playing now), else 20 s of silence" in lines
    assert "  call 7: 42 s, 2 alert(s), baseline ready, ends when its stream into sink softphone ends" in lines


def test_a_leg_in_digital_silence_says_so_and_its_json_level_stays_a_number():
    import numpy as np
    from monitor.capture.live import block_levels_dbfs
    from monitor.capture.devices import DIGITAL_ZERO_DBFS

    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16000)
    levels = block_levels_dbfs(np.stack([np.zeros(1600), tone], axis=1))
    assert levels[0] == DIGITAL_ZERO_DBFS and abs(levels[1] - (-9.03)) < 0.01  # a half-scale sine
    muted = {"caller": dict(STATE["legs"]["caller"], level_dbfs=float(levels[0]))}
    lines = render(dict(STATE, legs=muted)).splitlines()
    assert any("48000 Hz, level silent (digital zero), overflows 0" in ln for ln in lines), lines
    assert "-240" not in "\n".join(lines)
    before_any_audio = {"caller": dict(STATE["legs"]["caller"], level_dbfs=None)}
    assert "level n/a, overflows" in render(dict(STATE, legs=before_any_audio))


def test_status_json_without_a_daemon_is_still_json_with_the_error_line_and_exit_1(tmp_path):
    dead = tmp_path / "dead.sock"  # the socket a killed daemon left behind: nobody listens
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(dead))
    s.close()
    notes = tmp_path / "notes.txt"  # a --socket that names some other file, or a folder
    notes.write_text("not a socket\n")
    for sock, why in ((tmp_path / "none.sock", f"no daemon running (no status socket at {tmp_path / 'none.sock'})"),
                      (dead, f"no daemon answering at {dead} (Connection refused)"),
                      (notes, f"{notes}: not a status socket but a file: no daemon listens there"),
                      (tmp_path, f"{tmp_path}: not a status socket but a folder: no daemon listens there")):
        done = cli("status", "--json", "--socket", sock, timeout=30)
        assert done.returncode == 1
        assert json.loads(done.stdout) == {"running": False, "error": why}
        assert done.stderr.strip() == f"call-monitor: error: {why}"
    text = cli("status", "--socket", tmp_path / "none.sock", timeout=30)
    assert text.returncode == 1 and text.stdout == "" and len(text.stderr.strip().splitlines()) == 1


def test_status_with_no_daemon_names_a_socket_place_too_long_for_a_unix_socket_as_passed_over(tmp_path):
    """The defaults place the socket in the runtime folder, else beside the database: with the
    database in a deep folder the second is longer than a Unix socket's path holds, where no daemon
    can listen. The line that says no daemon runs names it as not looked at, and why."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    beside_db = deep / "e.db.sock"
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_RUNTIME_DIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    done = cli("status", "--db", deep / "e.db", timeout=30, env=env)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        f"call-monitor: error: no daemon running (no status socket at {tmp_path / 'callmonitor.sock'}; {beside_db} not "
        f"looked at: the path is {len(os.fsencode(str(beside_db)))} bytes, longer than a Unix socket's path holds "
        "(107 bytes))"]


class Answering:
    """A Unix socket at ``path`` where another program listens: each connection, once its request is
    read (the client closes its side), gets ``answer`` and is closed."""

    def __init__(self, path, answer: bytes) -> None:
        import threading
        self.path, self.answer = path, answer
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            with conn:
                conn.settimeout(2.0)
                try:
                    while conn.recv(4096):
                        pass
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


NOT_A_STATUS = "another program listening there, or a daemon of a release whose status this one does not read"


@pytest.mark.parametrize("answer, problem", [
    (b"{}", f"the answer is no daemon's status: it lacks pid, uptime_s, db, legs, calls, alerts, overflows "
            f"({NOT_A_STATUS})"),
    (b'{"starting": true, "pid": 1}',
     f"the answer is no daemon's status: it lacks uptime_s, db, doing ({NOT_A_STATUS})"),
    (json.dumps({**STATE, "legs": ["caller"]}).encode(),
     f"the answer is no daemon's status: its legs are no object of objects ({NOT_A_STATUS})"),
    (b"[1, 2]", f"the answer is no JSON object, so no daemon's status ({NOT_A_STATUS})"),
    (b"HTTP/1.0 400 Bad Request\r\n\r\n", "the daemon's answer was not readable JSON"),
], ids=["{}", "starting without its fields", "legs a list", "a JSON list", "garbage"])
def test_an_answer_at_the_socket_that_is_no_daemon_s_status_is_one_error_line_naming_the_socket_exit_1(
        tmp_path, capsys, answer, problem):
    from monitor import cli as main_cli
    sock = tmp_path / "other.sock"
    other = Answering(sock, answer)
    try:
        assert main_cli.main(["status", "--socket", str(sock)]) == 1
        said = capsys.readouterr()
        assert (said.out, said.err) == ("", f"call-monitor: error: {sock}: {problem}\n")
        assert main_cli.main(["status", "--json", "--socket", str(sock)]) == 1
        assert json.loads(capsys.readouterr().out) == {"running": False, "error": f"{sock}: {problem}"}
    finally:
        other.close()


@pytest.mark.parametrize("what", ["start", "end"])
def test_a_call_mark_at_a_socket_another_program_answers_says_the_answer_is_no_daemon_s_exit_1(
        tmp_path, capsys, what):
    """``call start|end`` where another program answers ``{}``: the answer is no daemon's, said as
    ``status`` says it; only a daemon's status, the answer of a daemon older than call marks, says
    that the daemon takes none."""
    from monitor import cli as main_cli
    for answer, said in ((b"{}", f"{tmp_path / 'other.sock'}: the answer is no daemon's status: it lacks pid, "
                                 f"uptime_s, db, legs, calls, alerts, overflows ({NOT_A_STATUS})"),
                         (json.dumps(STATE).encode(), "the daemon takes no call marks (an older version: restart it)")):
        sock = tmp_path / "other.sock"
        other = Answering(sock, answer)
        try:
            assert main_cli.main(["call", what, "--socket", str(sock)]) == 1
        finally:
            other.close()
            sock.unlink()
        assert capsys.readouterr() == ("", f"call-monitor: error: {said}\n")


def test_a_status_with_a_part_of_another_release_s_shape_is_one_error_line_naming_the_daemon_json_shows_it(
        tmp_path, capsys):
    """A daemon of a later release (call-monitor rolled back, the daemon not restarted) whose legs
    say no ``label``: the text cannot be drawn, and says so naming the daemon; ``--json`` passes
    its state on as it is."""
    later = {**STATE, "version": "9.0.0", "legs": {"caller": {k: v for k, v in STATE["legs"]["caller"].items()
                                                              if k != "label"}}}
    code, said, json_code, shown = _text_and_json_of(later, tmp_path, capsys)
    assert (code, said.out, said.err) == (1, "", (
        f"call-monitor: error: the daemon pid 4242 (release 9.0.0, database alerts.db) answered a status this "
        f"call-monitor ({RELEASE}) cannot show: it lacks legs.caller.label; restart the daemon to run {RELEASE}, or give "
        f"--json\n"))
    assert json_code == 0 and shown["legs"] == later["legs"]


@pytest.mark.parametrize("later, what", [
    ({**STATE, "call": {**STATE["call"], "t": "42 s"}}, "its call.t is no number"),
    ({**STATE, "recent_alerts": [{"at": 1.0, "severity": 2, "call_id": 7, "kind": "slow_speech", "t": 3.0}]},
     "its recent_alerts.0.severity is no text"),
    ({**STATE, "webhook": {"url": "http://127.0.0.1:9/hook", "delivered": 1}}, "it lacks webhook.failures, "
                                                                               "webhook.last_error"),
    ({"starting": True, "pid": 4242, "version": "9.0.0", "uptime_s": None, "db": "alerts.db", "doing": "opening"},
     "its uptime_s is no number"),
], ids=["a number as text", "a severity as a number", "a webhook without its failures", "starting"])
def test_a_status_of_another_shape_is_said_naming_the_field_before_any_text_is_drawn(tmp_path, capsys, later, what):
    """What in a later release's status differs from the shape this one draws is named in the one
    error line, exit 1, and nothing is printed on stdout; ``--json`` shows it as it is."""
    code, said, json_code, shown = _text_and_json_of(later, tmp_path, capsys)
    assert (code, said.out, said.err) == (1, "", (
        f"call-monitor: error: the daemon pid 4242 (release {later['version']}, database alerts.db) answered a "
        f"status this call-monitor ({RELEASE}) cannot show: {what}; restart the daemon to run {RELEASE}, or "
        f"give --json\n"))
    assert json_code in (0, 3) and shown["pid"] == 4242


def _text_and_json_of(later: dict, tmp_path, capsys) -> tuple[int, Any, int, dict]:
    """``status`` and ``status --json`` asked of a daemon answering ``later``: the first's exit
    status and what it printed, the second's exit status and the state it printed."""
    from monitor import cli as main_cli
    sock = tmp_path / "later.sock"
    other = Answering(sock, json.dumps(later).encode())
    try:
        code = main_cli.main(["status", "--socket", str(sock)])
        said = capsys.readouterr()
        json_code = main_cli.main(["status", "--json", "--socket", str(sock)])
        return code, said, json_code, json.loads(capsys.readouterr().out)
    finally:
        other.close()


def test_a_fault_in_drawing_a_status_of_this_release_s_shape_is_not_taken_for_another_release_s(
        tmp_path, monkeypatch):
    """The text is drawn unguarded once the status is of the shape it reads: a fault in the drawing
    surfaces as the fault it is, not as "a status this call-monitor cannot show"."""
    from monitor import cli as main_cli
    from monitor.commands import status

    def faulty(v):
        raise TypeError("a fault in the drawing")
    monkeypatch.setattr(status, "_level_text", faulty)
    sock = tmp_path / "daemon.sock"
    other = Answering(sock, json.dumps(STATE).encode())
    try:
        with pytest.raises(TypeError, match="a fault in the drawing"):
            main_cli.main(["status", "--socket", str(sock)])
    finally:
        other.close()


def _asked_raw(path, request: bytes) -> bytes:
    """The line the socket at ``path`` answers ``request`` with, sent as is (its side then closed; the
    daemon reads 4096 bytes of a request at most, and closing on the rest unread resets the connection
    once it has answered)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10.0)
        s.connect(str(path))
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        return s.makefile("rb").readline()


def test_a_request_nested_too_deeply_is_answered_with_one_error_and_the_daemon_writes_no_traceback(
        pulse, env, tmp_path):
    """``[`` five thousand times over is deeper than Python's JSON parser descends: its RecursionError
    escaped the request's thread (no answer, the client waiting out its timeout, and a traceback of 25
    lines on the daemon's stderr for each such request). Each is answered with one error, and the
    daemon goes on answering its status."""
    sock = tmp_path / "own.sock"
    d = Daemon(["--caller", "softphone.monitor", "--socket", str(sock), "--db", str(tmp_path / "e.db"),
                "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        before = len(d.err)
        for deep in (b"[" * 5000, b"[" * 1500 + b"]" * 1500, b'{"":' * 1000):
            said = _asked_raw(sock, deep + b"\n")
            assert json.loads(said) == {"error": "the request is not one line of JSON (nested too deeply)"}, said
        st = json.loads(cli("status", "--json", "--socket", sock, env=env, timeout=30).stdout)
        assert (st["running"], st["pid"]) == (True, d.proc.pid)
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(5) == 0
        assert not [e for e in d.err[before:] if "Traceback" in e or "RecursionError" in e], d.err[before:]
    finally:
        d.kill()


@pytest.mark.parametrize("ask", [["status"], ["status", "--json"], ["call", "start"]], ids=" ".join)
def test_an_answer_nested_too_deeply_to_be_read_is_one_error_line_naming_the_socket_not_a_traceback(tmp_path, ask):
    """Another program at the socket answering ``[`` a hundred thousand times over: ``status`` and
    ``call`` printed the parser's RecursionError with its traceback."""
    sock = tmp_path / "other.sock"
    other = Answering(sock, b"[" * 100_000 + b"\n")
    try:
        done = cli(*ask, "--socket", sock, timeout=30)
    finally:
        other.close()
    why = f"{sock}: the daemon's answer was not readable JSON (nested too deeply)"
    assert (done.returncode, done.stderr) == (1, f"call-monitor: error: {why}\n")
    assert done.stdout == (json.dumps({"running": False, "error": why}) + "\n" if "--json" in ask else "")


def test_a_call_mark_answered_with_a_message_that_is_no_text_is_said_no_daemon_s_answer(tmp_path):
    """An answer with ``ok`` whose ``message`` (or ``warning``) is a list, nested as deep as the
    parser reads: ``call`` failed in escaping it, with a traceback."""
    deep = "[" * 900 + "]" * 900
    sock = tmp_path / "other.sock"
    other = Answering(sock, f'{{"ok": true, "message": {deep}, "warning": {deep}}}\n'.encode())
    try:
        done = cli("call", "start", "--socket", sock, timeout=30)
    finally:
        other.close()
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (f"call-monitor: error: {sock}: the answer is no daemon's: its message and warning are no "
                           "text (another program listening there)\n")


def test_status_at_a_socket_another_program_answers_says_so_in_one_line_without_a_traceback(tmp_path):
    sock = tmp_path / "other.sock"
    other = Answering(sock, b"{}")
    try:
        done = cli("status", "--socket", sock, timeout=30)
    finally:
        other.close()
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"call-monitor: error: {sock}: the answer is no daemon's status: it lacks pid, ")
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_no_daemon_at_the_default_socket_names_the_options_the_user_s_unit_starts_its_daemon_with(
        tmp_path, monkeypatch):
    """A desktop's unit runs ``run --config TEAM`` (a team's file that moves the status socket):
    ``status`` or ``call`` without that --config asks elsewhere, and its error says what to give.
    A unit whose options leave the socket where it was asked adds nothing."""
    from monitor.cli import build_parser
    from monitor.commands.common import unit_hint
    team = tmp_path / "team.toml"
    team.write_text(f'[daemon]\nstatus_socket = "{tmp_path / "team.sock"}"\n')
    units = tmp_path / "cfg" / "systemd" / "user"
    units.mkdir(parents=True)
    (units / "callmonitor.service").write_text(f"[Service]\nExecStart=/usr/bin/call-monitor run --config {team}\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_RUNTIME_DIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    done = cli("call", "end", timeout=30, env=env)
    beside_db = tmp_path / "data" / "callmonitor" / "events.db.sock"
    assert (done.returncode, done.stderr) == (1, (
        f"call-monitor: error: no daemon running (no status socket at {socket_places(tmp_path / 'callmonitor.sock', beside_db)}); "
        "the daemon of "
        f"{units / 'callmonitor.service'} is started with --config {team}, which puts its socket at "
        f"{tmp_path / 'team.sock'}: give --config {team} here too\n"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    team.write_text('[daemon]\ncaller = "softphone.monitor"\n')
    assert unit_hint(build_parser().parse_args(["status"]), str(tmp_path / "callmonitor.sock")) == ""


def test_status_with_a_configuration_it_cannot_load_and_no_daemon_says_both_and_exits_2(tmp_path):
    """No configuration file where --config says, and no daemon at the socket the defaults place:
    a warning naming the file and its problem, the error that no daemon answers there, and JSON
    with both; exit 2, since the configuration may be what hides the daemon's socket."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_RUNTIME_DIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    done = cli("status", "--json", "--config", tmp_path / "missing.toml", timeout=30, env=env)
    broken = f"{tmp_path / 'missing.toml'}: no such configuration file"
    beside_db = tmp_path / "data" / "callmonitor" / "events.db.sock"
    why = (f"no daemon answers at {socket_places(tmp_path / 'callmonitor.sock', beside_db)}; the configuration that cannot be loaded "
           f"({broken}) may place its socket elsewhere: give --socket")
    assert done.returncode == 2
    assert json.loads(done.stdout) == {"running": False, "error": why, "config_problem": broken}
    assert done.stderr.splitlines() == [f"call-monitor: error: {why}"]


def test_status_with_a_configuration_it_cannot_load_still_shows_the_daemons_state_and_says_what_is_wrong(
        pulse, env, tmp_path):
    """The configuration broken while the daemon runs (a value a reload would refuse): status was
    refused as well, though it is how the user finds out what is wrong. It shows the daemon's state,
    asked at the socket the broken file still names, after one warning line naming the file and its
    problem (--json: "config_problem"), exit 0. With the file no TOML at all, nothing of it places
    the socket: the defaults do, and no daemon answers there: one error line says that the file
    may place the socket elsewhere, not that no daemon runs (exit 2); --socket finds it."""
    sock = tmp_path / "own.sock"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[daemon]\nstatus_socket = "{sock}"\n')
    d = Daemon(["--caller", "softphone.monitor", "--config", str(cfg), "--db", str(tmp_path / "e.db"),
                "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        cfg.write_text(f'[daemon]\nstatus_socket = "{sock}"\n[delivery]\nbell = 3\n')
        with pytest.raises(ConfigError) as refused:
            load_config(cfg, user_config=False)
        warned = (f"call-monitor: warning: configuration not loaded: {refused.value}; the daemon was asked at {sock} "
                  "(a reload or a start would refuse this configuration)")
        text = cli("status", "--config", cfg, env=env, cwd=tmp_path, timeout=30)
        assert text.returncode == 0 and text.stderr.splitlines() == [warned], text.stderr
        assert text.stdout.startswith(f"call-monitor daemon pid {d.proc.pid}, release {RELEASE}, up "), text.stdout
        assert "  caller softphone.monitor [" in text.stdout, text.stdout
        shown = cli("status", "--json", "--config", cfg, env=env, cwd=tmp_path, timeout=30)
        st = json.loads(shown.stdout)
        assert shown.returncode == 0 and (st["running"], st["pid"]) == (True, d.proc.pid)
        assert st["config_problem"] == str(refused.value) and str(cfg) in st["config_problem"]
        cfg.write_text("[delivery\n")
        lost = cli("status", "--config", cfg, env=env, cwd=tmp_path, timeout=30)
        defaults = socket_places(f"{env['XDG_RUNTIME_DIR']}/callmonitor.sock",  # the runtime folder, then beside the database
                                 f"{tmp_path}/.local/share/callmonitor/events.db.sock")
        assert lost.returncode == 2 and lost.stdout == "", lost.stderr
        (error,) = lost.stderr.splitlines()  # not "no daemon running": one runs, where the file said
        assert error.startswith(f"call-monitor: error: no daemon answers at {defaults}; the configuration that "
                                f"cannot be loaded ({cfg}: invalid TOML (")
        assert error.endswith(") may place its socket elsewhere: give --socket"), error
        told = cli("status", "--config", cfg, "--socket", sock, env=env, cwd=tmp_path, timeout=30)
        assert told.returncode == 0 and told.stdout.startswith(f"call-monitor daemon pid {d.proc.pid}, release {RELEASE}, up ")
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(5) == 0
    finally:
        d.kill()


@pytest.mark.parametrize("broken, with_socket", [("[delivery]\nbell = 3\n", True), ("[storage]\ndb = 3\n", False),
                                                  ("[storage]\ndb = 3\n", True)],
                         ids=["--socket", "storage.db", "storage.db and --socket"])
def test_status_says_a_configuration_it_cannot_load_and_asks_the_daemon_wherever_the_file_is_not_needed(
        pulse, env, tmp_path, broken, with_socket):
    """``status --socket S --config FILE`` said nothing of a FILE it cannot load, and a storage.db
    the file cannot give (``db = 3``) made status exit 2, though the socket ($XDG_RUNTIME_DIR, or
    --socket) does not depend on it: status needs only the socket. Each is one warning line naming
    the file and its problem, then the daemon's state, exit 0."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    d = Daemon(["--caller", "softphone.monitor", "--config", str(cfg), "--db", str(tmp_path / "e.db"),
                "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        d.wait_running(env, timeout=20)
        sock = f"{env['XDG_RUNTIME_DIR']}/callmonitor.sock"
        cfg.write_text(broken)
        with pytest.raises(ConfigError) as refused:
            load_config(cfg, user_config=False)
        done = cli("status", *(["--socket", sock] if with_socket else []), "--config", cfg, env=env, cwd=tmp_path,
                   timeout=30)
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines() == [f"call-monitor: warning: configuration not loaded: {refused.value}; the "
                                            f"daemon was asked at {sock} (a reload or a start would refuse this "
                                            "configuration)"]
        assert done.stdout.startswith(f"call-monitor daemon pid {d.proc.pid}, release {RELEASE}, up "), done.stdout
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(5) == 0
    finally:
        d.kill()


def test_the_webhook_line_says_when_the_heartbeats_fail():
    """Heartbeats failing (the console unreachable) while no alert was due: the line read
    "failures 0", as if the supervisor could be reached."""
    webhook = {"url": "http://console:8640/webhook", "delivered": 0, "failures": 0, "last_error": "",
               "heartbeat": {"sent": 0, "failures": 4, "failing": True, "last_error": "[Errno 111] Connection refused"}}
    assert ("  webhook http://console:8640/webhook: delivered 0, failures 0; heartbeats sent 0, failing "
            "([Errno 111] Connection refused)") in render(dict(STATE, webhook=webhook)).splitlines()
    webhook["heartbeat"] = {"sent": 12, "failures": 4, "failing": False, "last_error": ""}
    assert ("  webhook http://console:8640/webhook: delivered 0, failures 0; heartbeats sent 12"
            in render(dict(STATE, webhook=webhook)).splitlines())


def test_the_webhook_line_says_a_wait_the_console_asks_of_the_heartbeats_as_it_says_the_alerts_one():
    """A heartbeat answered 429 with Retry-After (the console's limit of an agent's beats) read
    "heartbeats sent 2, failing (HTTP 429 ...)", an outage: it is said as the alerts' wait is, in the
    same words, each where its posts are; a daemon of an earlier release sends no such key."""
    reason = "HTTP 429 Too Many Requests: agent 'erin' posts heartbeats faster than this console takes them"
    webhook = {"url": "http://console:8640/webhook", "delivered": 2, "failures": 0, "last_error": "",
               "failing": False, "waiting": None,
               "heartbeat": {"sent": 2, "failures": 0, "failing": False, "last_error": "",
                             "waiting": {"for_s": 9.5, "reason": reason}}}
    assert (f"  webhook http://console:8640/webhook: delivered 2, failures 0; heartbeats sent 2, waiting 9.5 s as "
            f"the receiver asks ({reason})") in render(dict(STATE, webhook=webhook)).splitlines()
    webhook["waiting"] = {"for_s": 3.0, "reason": "HTTP 503 Service Unavailable"}
    assert ("  webhook http://console:8640/webhook: delivered 2, failures 0, waiting 3.0 s as the receiver asks "
            f"(HTTP 503 Service Unavailable); heartbeats sent 2, waiting 9.5 s as the receiver asks ({reason})"
            ) in render(dict(STATE, webhook=webhook)).splitlines()
    del webhook["heartbeat"]["waiting"]
    assert ("  webhook http://console:8640/webhook: delivered 2, failures 0, waiting 3.0 s as the receiver asks "
            "(HTTP 503 Service Unavailable); heartbeats sent 2") in render(dict(STATE, webhook=webhook)).splitlines()


def test_the_webhook_line_tells_failures_now_from_failures_earlier():
    """After an outage the webhook delivers again: its line said "failures 3 (last: ...)" as if it
    still failed. It says it fails now, with why; or that it delivers, with the failures earlier and
    the last one's time and error."""
    import time

    at = time.mktime((2026, 12, 1, 9, 30, 5, 0, 0, -1))
    webhook = {"url": "http://console:8640/webhook", "delivered": 2, "failures": 3,
               "last_error": "[Errno 111] Connection refused", "failing": True, "last_failure_at": at,
               "heartbeat": None}
    assert ("  webhook http://console:8640/webhook: delivered 2, failing now: [Errno 111] Connection refused "
            "(3 failure(s))") in render(dict(STATE, webhook=webhook)).splitlines()
    webhook.update(failing=False, delivered=7)
    assert ("  webhook http://console:8640/webhook: delivered 7, delivering; 3 failure(s) earlier, the last at "
            "09:30:05: [Errno 111] Connection refused") in render(dict(STATE, webhook=webhook)).splitlines()
    webhook.update(delivered=2, waiting={"for_s": 3.0, "reason": "HTTP 503 Service Unavailable"})
    assert ("  webhook http://console:8640/webhook: delivered 2, 3 failure(s) earlier, the last at 09:30:05: [Errno 111] "
            "Connection refused, waiting 3.0 s as the receiver asks (HTTP 503 Service Unavailable)"
            ) in render(dict(STATE, webhook=webhook)).splitlines(), "a wait: not delivering yet, no failing now"


def test_the_webhook_line_hides_a_token_in_the_url_also_from_a_daemon_that_gives_it_whole():
    """A daemon of an earlier version, still running after an upgrade, gives its URL as configured:
    ``status`` (and ``status --json``) show it with ``***`` for the token, the rest of the state as it was."""
    webhook = {"url": "http://bob:pw@console:8640/webhook?token=abc123", "delivered": 3, "failures": 0,
               "last_error": "", "heartbeat": None}
    shown = with_url_redacted(dict(STATE, webhook=webhook))
    assert shown == dict(STATE, webhook=dict(webhook, url="http://***@console:8640/webhook?token=***"))
    assert "  webhook http://***@console:8640/webhook?token=***: delivered 3, failures 0" in \
        render(shown).splitlines()
    assert with_url_redacted(STATE) == STATE and with_url_redacted(dict(STATE, webhook=None))["webhook"] is None


def test_the_last_warning_or_error_has_a_line():
    """``systemctl --user reload callmonitor`` with a broken configuration: its warning went only
    to the journal, and the status looked as after a reload that worked."""
    import time

    problem = {"level": "warning", "at": time.mktime((2026, 12, 1, 9, 30, 5, 0, 0, -1)),
               "message": "configuration not reloaded: c.toml: invalid TOML (Expected '=' (at line 2, column 4))"}
    assert render(dict(STATE, last_problem=problem)).splitlines()[-1] == (
        "  last warning at 09:30:05: configuration not reloaded: c.toml: invalid TOML (Expected '=' (at line 2, "
        "column 4))")
    assert "last " not in render(dict(STATE, last_problem=None))


def test_a_last_warning_whose_source_recovered_is_shown_as_resolved():
    """The heartbeat failed, then delivered again (an info line): the status's last warning stayed
    as if the console were still unreachable. It is shown with when and how it was resolved."""
    import time

    problem = {"level": "warning", "at": time.mktime((2026, 12, 1, 9, 30, 5, 0, 0, -1)), "source": "heartbeat",
               "message": "heartbeat http://console:8640/webhook: [Errno 111] Connection refused",
               "resolved_at": time.mktime((2026, 12, 1, 9, 31, 0, 0, 0, -1)),
               "resolved": "heartbeat http://console:8640/webhook: delivered again"}
    assert render(dict(STATE, last_problem=problem)).splitlines()[-1] == (
        "  last warning at 09:30:05: heartbeat http://console:8640/webhook: [Errno 111] Connection refused "
        "(resolved at 09:31:00: heartbeat http://console:8640/webhook: delivered again)")


def test_the_daemon_s_release_is_named_and_one_other_than_installed_here_is_said_with_how_to_restart_it():
    first, *rest = render(STATE).splitlines()
    assert f"pid 4242, release {RELEASE}, up 61 s" in first and "restart" not in "\n".join(rest)
    before_upgrade = render(dict(STATE, version=None)).splitlines()  # a daemon of a release that tells none, still running
    assert "release before 0.2.0, up 61 s" in before_upgrade[0]
    assert before_upgrade[1] == (f"  the daemon still runs release before 0.2.0, the call-monitor installed here is "
                                 f"{RELEASE}: restart the daemon to run {RELEASE} (systemctl --user restart "
                                 f"callmonitor, or stop `call-monitor run` and start it again)")
    rolled_back = render({"starting": True, "pid": 7, "version": "9.0.0", "uptime_s": 2.0, "db": "a.db",
                          "doing": "opening the capture and the database"}).splitlines()
    assert "pid 7, release 9.0.0, starting" in rolled_back[0] and "runs release 9.0.0" in rolled_back[1]
