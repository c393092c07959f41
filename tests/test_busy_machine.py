"""A machine too busy for the daemon (its CPU taken by other programs, the daemon capped or niced):
the analysis falls behind the capture, the speech recognition behind the analysis. What it does then
is said (once, with how far behind it runs, and what it dropped, at its call times), the status says
by how much while it is, and the calls keep the times their audio was captured at.

The daemon runs in process on a real PulseAudio server, the analysis held up by a sink that takes
seconds over one event, as a starved loop does; or as a process, stopped and continued. The
recognizer is the real Korean model, handed a recorded call faster than it can take it.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import sounddevice as sd
import soundfile as sf

from conftest import CALLS, PY, ROOT, Daemon as DaemonProcess, Hook, call_monitor, portaudio_afresh, start_daemon, until
from monitor.capture.audio_files import AnalysisStream
from monitor.capture.sources import Chunk
from monitor.capture.live import LiveSource, _block_callback
from monitor.commands.status import render
from monitor.config import load_config
from monitor.daemon import BEHIND_SAY_S, Daemon, Lag
from monitor.delivery.sinks.deadline import deadline_handlers
from monitor.delivery.store import Store
from monitor.events import CallSummaryEvent, Event, StatusEvent, WordsEvent
from monitor.pipeline import CallPipeline
from monitor.transcription.recognizer import Transcriber

HELD_S = BEHIND_SAY_S + 0.5
"""How long the analysis is held up: long enough for its lag to be said."""


def test_an_analysis_held_up_says_how_far_behind_it_runs_and_keeps_the_capture_s_times(pulse, tmp_path,
                                                                                       monitor_logs):
    """The analysis is held up for 5.5 s right after a call starts; meanwhile `call start` begins a
    second call. While it is behind, the status says by how much; once it takes the audio again, one
    warning says how far behind it runs, and one line once it has caught up. The second call starts
    at the wall-clock time its mark came, not when the late analysis got to it (its stored start was
    as late as the analysis), and the heartbeat tells the supervisor's console when the first began."""
    portaudio_afresh()
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    src = LiveSource({"caller": "softphone.monitor"})
    seen: dict[str, object] = {}

    def mark_second_call() -> None:
        time.sleep(1.0)
        seen["marked_at"] = time.time()
        seen["answer"] = daemon.control({"call": "start"})

    def held_up(ev: Event) -> None:
        if isinstance(ev, StatusEvent) and ev.message == "call 1 started" and "status" not in seen:
            threading.Thread(target=mark_second_call).start()
            time.sleep(HELD_S)
            seen["status"], seen["heartbeat"] = daemon.state(), daemon.heartbeat_status()
        if isinstance(ev, StatusEvent) and ev.message.startswith("the analysis caught up"):
            daemon.request_stop()

    began: list[bool] = []

    def start_call() -> None:
        began.append(_started(src))
        if began[-1]:
            daemon.control({"call": "start"})

    with Store.open(tmp_path / "e.db") as store:
        daemon = Daemon(cfg, src, store, {"held up": held_up})
        threading.Thread(target=start_call).start()
        timer = threading.Timer(30.0, daemon.request_stop)  # a loop that never catches up: said below
        timer.start()
        try:
            assert daemon.run() == 0
        finally:
            timer.cancel()
        assert began == [True], "the caller's leg never captured: no call started"
        first, second = store.get_call(1), store.get_call(2)
    status = seen["status"]
    assert isinstance(status, dict) and status["behind_s"] >= HELD_S - 0.5, status
    assert re.search(r"\n  analysis \d+ s behind the capture \(the machine is too busy\): alerts come that much "
                     r"late, at their call times\n", render(status)), render(status)
    said = [(level, m) for level, m in monitor_logs if "analysis" in m]
    assert len(said) == 2, said
    assert said[0][0] == "warning" and re.fullmatch(
        r"call 1: the analysis runs \d+ s behind the capture \(the machine is too busy\): alerts come that much "
        r"late, at their call times; past 20 s behind, the audio is dropped", said[0][1]), said
    assert said[1][0] == "info" and re.fullmatch(
        r"call 2: the analysis caught up with the capture \(it ran up to \d+ s behind, for \d+ s\)", said[1][1]), said
    assert seen["answer"] == {"ok": True, "message": "call 2 started (call 1 ended)"}, seen
    beat = seen["heartbeat"]  # the console is told when the running call began, however far behind
    assert isinstance(beat, dict) and abs(beat["call"]["started_at"] - first.started_at) < 1.0, (beat, first)
    assert abs(second.started_at - float(seen["marked_at"])) < 1.0, (second.started_at, seen["marked_at"])


def test_an_analysis_that_falls_behind_again_and_again_is_said_once_until_it_has_kept_up_for_5_s():
    """A machine that starves the daemon again and again: the analysis falls 6 s behind, catches up,
    falls behind again 2 s later. Each time was a warning and a caught-up line (the log flooded as
    often as the machine held the daemon up); now it is one stretch, said caught up once the analysis
    has kept up for 5 s, with how far behind it ran and until when."""
    lag = Lag()
    said = [(t, lag.follow(behind, t)) for t, behind in
            [(0.0, 6.0), (3.0, 1.0), (5.0, 7.0), (6.0, 1.0), (10.9, 1.2), (11.0, 1.0)]]
    assert said == [(0.0, "behind"), (3.0, None), (5.0, None), (6.0, None), (10.9, None), (11.0, "caught up")]
    assert lag.most_s == 7.0 and lag.back_at == 6.0


def _started(src: LiveSource) -> bool:
    """Once the caller's leg captures (False if it does not within 30 s)."""
    deadline = time.monotonic() + 30
    while src.stats()["caller"]["state"] != "running":
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_recognizer_that_falls_behind_says_which_words_it_dropped_and_when_it_caught_up(ko_model):
    """The caller's recognizer runs more than its backlog (here 1 s) behind the analysis (a busy
    machine: the recognizer needs several times the analysis's CPU): its oldest audio is dropped rather
    than the words fall ever further behind. That was counted, never said: a call's words were
    missing with no word of it. One warning says it at the call time the drops began, and one line,
    once the recognizer has caught up (here at the call's end), the call times whose words are not
    transcribed and the seconds dropped."""
    stream = AnalysisStream(CALLS / "labored_start_16k.wav", [1])
    x = np.concatenate(list(stream))[: 14 * stream.rate]  # the caller speaks from 8 s on
    transcriber = Transcriber(ko_model, "caller", stream.rate, max_backlog_s=1.0, on_full="drop",
                              close_flush_s=60.0)  # its last flush waited for, however loaded the machine
    pipe = CallPipeline(load_config(user_config=False), stream.rate, ("caller",), transcribers={"caller": transcriber})
    events: list[Event] = []
    for i in range(0, len(x), stream.rate // 2):  # as fast as the analysis takes it
        events += pipe.process(Chunk(i / stream.rate, x[i:i + stream.rate // 2]))
    events += pipe.finish()
    said = [ev for ev in events if isinstance(ev, StatusEvent) and "transcribed" in ev.message]
    # each stretch of drops said as it begins and once it is over (here one; a busier machine may
    # let the recognizer catch up in between)
    assert said and [ev.level for ev in said] == ["warning", "info"] * (len(said) // 2), said
    lost = 0.0
    for begins, ends in zip(said[::2], said[1::2]):
        begun = re.fullmatch(r"the caller's words from (\d+\.\d) s into the call are not transcribed: the speech "
                             r"recognition runs more than 1 s behind \(the machine is too busy\); the acoustic "
                             r"cues and alerts go on", begins.message)
        assert begun and begins.t == pytest.approx(float(begun[1]), abs=0.05), begins
        over = re.fullmatch(r"the caller's speech recognition caught up: its words from (\d+\.\d) to (\d+\.\d) s "
                            r"into the call are not transcribed \((\d+\.\d) s of audio dropped\)", ends.message)
        # (from the caller's first words at 8 s on a quiet machine; on a loaded one its silence before too)
        assert over and over[1] == begun[1] and 0.0 <= float(over[1]) < float(over[2]) <= 14.0, ends
        lost += float(over[3])
    dropped = transcriber.stats().dropped_s
    assert lost == pytest.approx(dropped, abs=0.05 * len(said)) and dropped > 1.0, (said, dropped)


def test_words_dropped_only_as_the_call_ends_are_said_as_such_not_as_a_backlog_never_run(ko_model):
    """The recognizer stays within its backlog through the call but has not reached its end in the
    second a call's end waits: the rest is dropped. That was said as the recognition running more
    than its backlog (30 s) behind, of a call of 10 s, and caught up at once; it is one warning that
    says the words the call's end cut, and their seconds."""
    stream = AnalysisStream(CALLS / "labored_start_16k.wav", [1])
    x = np.concatenate(list(stream))[: 60 * stream.rate]
    transcriber = Transcriber(ko_model, "caller", stream.rate, max_backlog_s=600.0, on_full="drop")
    pipe = CallPipeline(load_config(user_config=False), stream.rate, ("caller",), transcribers={"caller": transcriber})
    events: list[Event] = []
    for i in range(0, len(x), stream.rate // 2):  # as fast as the analysis takes it: the recognizer far behind
        events += pipe.process(Chunk(i / stream.rate, x[i:i + stream.rate // 2]))
    events += pipe.finish()
    said = [ev for ev in events if isinstance(ev, StatusEvent) and "not transcribed" in ev.message]
    assert [ev.level for ev in said] == ["warning"], said
    cut = re.fullmatch(r"the caller's words from (\d+\.\d) to (\d+\.\d) s into the call are not transcribed: the "
                       r"speech recognition had not reached them as the call ended \((\d+\.\d) s of audio dropped; "
                       r"the machine is too busy\)", said[0].message)
    assert cut and 0.0 <= float(cut[1]) < float(cut[2]) == pytest.approx(60.0, abs=0.1), said
    assert float(cut[3]) == pytest.approx(transcriber.stats().dropped_s, abs=0.05) and said[0].t == pytest.approx(60.0)


def test_a_daemon_held_up_for_seconds_says_the_audio_it_did_not_hear_and_reopens_and_ends_nothing(env, tmp_path):
    """The daemon is stopped for 3 s mid-call (SIGSTOP, SIGCONT: a machine that froze it, or starved it
    of CPU): its stream's callbacks stopped too, and the sound server held the audio back. Its
    supervisors took that for streams that stalled, said `input lost (no audio for -0.0 s)` by the
    time they said it (the held-back audio had come) and reopened both legs, losing it; the silence
    the capture filled in for the time it was held up was said nowhere, and ended the call (here
    2 s of silence end one), the rest of it a new call. Now no leg is reopened, one warning says the
    audio that was not heard, its time filled with silence, and the call goes on."""
    line = tmp_path / "line.wav"
    sf.write(line, 0.3 * np.sin(2 * np.pi * 440 * np.arange(12 * 16000) / 16000), 16000)  # a caller who goes on
    d = start_daemon(env, tmp_path, '[daemon]\ncall_boundaries = "silence"\ncall_end_silence_s = 2.0\n')
    player = subprocess.Popen(["paplay", "--device=softphone", str(line)], env=env)
    try:
        assert d.wait_err("call 1 started", 30), d.err
        os.kill(d.proc.pid, signal.SIGSTOP)
        time.sleep(3.0)
        os.kill(d.proc.pid, signal.SIGCONT)
        assert d.wait_err("caller leg (softphone.monitor): audio not heard: the capture was held up (the machine "
                          "too busy, or the daemon or the sound server stopped); its time is filled with silence",
                          30), d.err
        time.sleep(1.0)  # a supervisor that took it for a stall says so within a second
        st = d.status(env)
    finally:
        player.kill()
        d.kill()
    assert not [e for e in d.err if "input lost" in e or "ended" in e], d.err
    assert st["legs"]["caller"]["reopens"] == 0 and st["legs"]["caller"]["state"] == "running", st
    assert st["calls"] == 1 and st["call"] is not None, st


def test_a_daemon_held_up_for_longer_says_the_audio_it_did_not_hear_not_an_analysis_behind(env, tmp_path):
    """The daemon is stopped for 8 s mid-call (a laptop's lid closed, a machine that froze it): the
    capture fills that time with silence, not heard, as it says. The analysis then took those 8 s as
    audio it ran behind, and said `the analysis runs 8 s behind the capture (the machine is too busy):
    alerts come that much late ...`, then `the analysis caught up with the capture (it ran up to 8 s
    behind, for 0 s)`: no busy machine, and no alert late. What the capture filled in after a hold-up
    is audio the analysis could not take before it was there: it is no lag of the analysis's, nor
    does the status say it is behind once continued."""
    line = tmp_path / "line.wav"
    sf.write(line, 0.3 * np.sin(2 * np.pi * 440 * np.arange(30 * 16000) / 16000), 16000)  # a caller who goes on
    d = start_daemon(env, tmp_path)
    player = subprocess.Popen(["paplay", "--device=softphone", str(line)], env=env)
    try:
        assert d.wait_err("call 1 started", 30), d.err
        os.kill(d.proc.pid, signal.SIGSTOP)
        time.sleep(BEHIND_SAY_S + 3.0)
        os.kill(d.proc.pid, signal.SIGCONT)
        assert d.wait_err("caller leg (softphone.monitor): audio not heard: the capture was held up", 30), d.err
        st = d.status(env)
        time.sleep(6.0)  # a lag said caught up is said once it has kept up for 5 s
        later = d.status(env)
    finally:
        player.kill()
        d.kill()
    assert not [e for e in d.err if "the analysis" in e], d.err
    assert st["behind_s"] < BEHIND_SAY_S and later["behind_s"] < 2.0, (st, later)
    assert st["call"] is not None and later["calls"] == 1, later


def test_a_daemon_stopped_is_said_to_run_without_answering_not_to_be_gone(env, tmp_path):
    """The daemon is stopped (SIGSTOP, a debugger, a machine that froze it): the kernel takes the
    connection to its socket, nothing answers. `status` said `no daemon answering at SOCKET (timed
    out)` and `--json` `"running": false`, while the process lived on, holding its database's lock
    (a second `run` is refused, naming its pid). Now it says that this daemon runs but does not answer,
    and why that may be (`--json`: running, not answering, its pid and database), exit 1 as before;
    continued, it answers."""
    d = start_daemon(env, tmp_path)
    pid, db = d.proc.pid, tmp_path / "e.db"
    try:
        os.kill(pid, signal.SIGSTOP)
        said = call_monitor("status", env=env, timeout=60)
        asked = call_monitor("status", "--json", env=env, timeout=60)
        second = call_monitor("run", "--caller", "softphone.monitor", "--db", db, "--socket", tmp_path / "2.sock",
                              "--no-notify", "--no-transcribe", env=env, timeout=60)
        os.kill(pid, signal.SIGCONT)
        st = d.status(env)
    finally:
        d.kill()
    sock = os.path.join(env["XDG_RUNTIME_DIR"], "callmonitor.sock")
    line = (f"call-monitor: error: the daemon pid {pid} (database {db}) runs but does not answer at {sock} within "
            f"2 s: it is stopped (SIGSTOP, or Ctrl-Z in its terminal; kill -CONT {pid} continues it)")
    assert said.returncode == 1 and said.stdout == "" and said.stderr.strip() == line, said
    assert asked.returncode == 1 and json.loads(asked.stdout) == {
        "running": True, "answering": False, "pid": pid, "db": str(db), "stopped": True, "error": line.split(": error: ", 1)[1]}, asked
    assert second.returncode != 0 and f"(pid {pid})" in second.stderr, second
    assert st["pid"] == pid, st


def test_a_daemons_database_in_a_folder_named_not_in_utf8_is_named_with_its_bytes_escaped_by_status_and_its_json(
        env, tmp_path):
    """A daemon whose database is in a folder named with bytes that are not UTF-8 (``d\\xff``): status
    names the database as every line names such a file (``d\\xff``), not ``d\\ufffd``, and status
    --json gives the same, valid UTF-8 text (a lone surrogate was in its "db"), also while the daemon
    is stopped and does not answer; alerts on that database does not take the daemon for one that
    records elsewhere."""
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/d\xff"))
    folder.mkdir()
    shown = f"{tmp_path}/d\\xff/e.db"
    d = start_daemon(env, folder)
    try:
        said = call_monitor("status", env=env, timeout=60)
        asked = subprocess.run([sys.executable, "-m", "monitor.cli", "status", "--json"], env=env, capture_output=True,
                               timeout=60)
        listed = call_monitor("alerts", "--db", folder / "e.db", env=env, timeout=60)
        os.kill(d.proc.pid, signal.SIGSTOP)
        stopped = subprocess.run([sys.executable, "-m", "monitor.cli", "status", "--json"], env=env,
                                 capture_output=True, timeout=60)
        os.kill(d.proc.pid, signal.SIGCONT)
    finally:
        d.kill()
    assert said.returncode == 0 and f", database {shown}" in said.stdout.splitlines()[0], said.stdout
    assert json.loads(asked.stdout.decode("utf-8"))["db"] == shown
    assert listed.stderr == f"call-monitor: no alerts in {shown}\n", listed.stderr
    assert json.loads(stopped.stdout.decode("utf-8"))["db"] == shown


def test_a_call_mark_whose_client_gave_up_on_a_stopped_daemon_is_not_applied_once_it_continues(env, tmp_path):
    """`call start` sent to a stopped daemon (SIGSTOP, a machine that froze it) waits 12 s and fails
    (exit 1), while its request waits in the socket's backlog: continued, the daemon read it and
    started the call anyway, after its client had said it failed (a hook retrying on failure splits
    the call, and a mark carried out a minute late is at the wrong moment). The client now says when
    it sent the mark and how long it waits: its failure line says the mark was not applied, the
    daemon drops it once it reads it, in one warning line, and a mark sent once it is continued is
    applied."""
    d = start_daemon(env, tmp_path)
    pid = d.proc.pid
    try:
        os.kill(pid, signal.SIGSTOP)
        failed = call_monitor("call", "start", env=env, timeout=60)
        os.kill(pid, signal.SIGCONT)
        assert d.wait_err("not applied: its client gave up waiting", 30), d.err
        started = call_monitor("call", "start", env=env, timeout=60)
        st = d.status(env)
    finally:
        d.kill()
    assert failed.returncode == 1 and failed.stdout == "", failed
    assert failed.stderr.startswith(f"call-monitor: error: call start not applied: the daemon pid {pid} ") and \
        failed.stderr.rstrip().endswith(f"kill -CONT {pid} continues it); continued, the daemon drops it"), failed
    dropped = [e for e in d.err if "not applied" in e]
    assert len(dropped) == 1 and re.fullmatch(
        r"call-monitor: warning: call start from pid \d+ sent at \d\d:\d\d:\d\d not applied: its client gave up waiting "
        r"\d+\.\d s ago \(it waits 12 s\); the daemon was held up \(stopped, frozen or starved of CPU\)", dropped[0]), d.err
    assert started.returncode == 0 and started.stdout.strip() == "call 1 started", started
    assert st["calls"] == 1 and st["call"]["call_id"] == 1, st


STOPS_AS_IT_QUEUES_A_START = """
import queue, signal, sys
from monitor.cli import main
from stop_points import signalled_as_called
with signalled_as_called(queue.Queue, "put", signal.SIGSTOP, lambda q, item, *a, **k: getattr(item, "what", "") == "start"):
    sys.exit(main(sys.argv[4:]))
"""
"""``call-monitor run ARGS`` (its arguments after the interpreter, ``-m monitor.cli``: as conftest's
``Daemon`` runs it, under this as its ``prefix``) stopped (SIGSTOP, sent to itself) as its status
socket's thread queues the first ``call start`` for the capture loop, before the loop can take it."""


def test_a_call_mark_queued_just_before_the_daemon_is_stopped_is_not_applied_once_its_client_has_given_up(
        env, tmp_path):
    """The daemon is stopped (a machine that froze it) just as its status socket's thread queues a `call
    start` for the capture loop, the mark read in time: its client waits 12 s and fails (exit 1, "not
    applied"), the hook behind it retries. Continued, the loop took the mark and started a call anyway
    (the thread's own wait had not run out before the loop got to it), and the retry started a second:
    one call split in two. The loop now drops a mark whose client has given up by the time it takes
    it, in the same warning line as the socket's: the retry starts the one call."""
    (tmp_path / "c.toml").write_text("")
    stopping = dict(env, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    d = DaemonProcess(["--caller", "softphone.monitor", "--jsonl", "--config", str(tmp_path / "c.toml"), "--db",
                       str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"], stopping, tmp_path,
                      prefix=[PY, "-c", STOPS_AS_IT_QUEUES_A_START])
    try:
        d.wait_running(env, timeout=20)
        failed = call_monitor("call", "start", env=env, timeout=60)
        stopped = _state(d.proc.pid) == "T"
        os.kill(d.proc.pid, signal.SIGCONT)
        assert d.wait_err("not applied: its client gave up waiting", 30), d.err
        started = call_monitor("call", "start", env=env, timeout=60)
        st = d.status(env)
    finally:
        d.kill()
    assert stopped and failed.returncode == 1 and "call start not applied" in failed.stderr, (stopped, failed)
    dropped = [e for e in d.err if "not applied" in e]
    assert len(dropped) == 1 and re.fullmatch(
        r"call-monitor: warning: call start from pid \d+ sent at \d\d:\d\d:\d\d not applied: its client gave up waiting "
        r"\d+\.\d s ago \(it waits 12 s\); the daemon was held up \(stopped, frozen or starved of CPU\)", dropped[0]), d.err
    assert not [e for e in d.err if "call 2" in e], d.err
    assert started.returncode == 0 and started.stdout.strip() == "call 1 started", started
    assert st["calls"] == 1 and st["call"]["call_id"] == 1, st


def _state(pid: int) -> str:
    """The state of process ``pid`` (``/proc/PID/stat``): "T" while it is stopped."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_call_mark_sent_by_hand_without_saying_how_long_it_waits_is_applied_however_late_it_is_read(
        env, tmp_path):
    """The socket's protocol by hand (an integration of its own): a request that does not say when
    it was sent and how long its client waits (`sent_at`, `wait_s`) is carried out whenever the
    daemon reads it, as before, however late; one that says so is dropped once its client has given
    up, the warning naming the process that sent it."""
    import socket
    d = start_daemon(env, tmp_path)
    sock = os.path.join(env["XDG_RUNTIME_DIR"], "callmonitor.sock")
    try:
        os.kill(d.proc.pid, signal.SIGSTOP)
        sent_at = time.clock_gettime(time.CLOCK_MONOTONIC)  # the clock every process of the machine reads
        for request in ({"call": "end", "sent_at": sent_at, "wait_s": 0.5}, {"call": "start"}):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:  # sent, and given up at once
                s.connect(sock)
                s.sendall(json.dumps(request).encode() + b"\n")
        until(lambda: time.clock_gettime(time.CLOCK_MONOTONIC) > sent_at + 0.5, "the first mark's client giving up")
        os.kill(d.proc.pid, signal.SIGCONT)
        assert d.wait_err("call 1 started", 30), d.err
        assert d.wait_err("not applied", 30), d.err
        st = d.status(env)
    finally:
        d.kill()
    dropped = [e for e in d.err if "not applied" in e]
    assert len(dropped) == 1 and f"call end from pid {os.getpid()} sent at " in dropped[0], d.err
    assert st["calls"] == 1 and st["call"]["call_id"] == 1, st


def test_a_call_whose_caller_hung_up_ends_by_the_silence_heard_while_the_daemon_is_held_up_again_and_again(
        env, tmp_path):
    """The caller hangs up (the line goes quiet) while the daemon is stopped for 2.5 s again and again
    (a machine that starves it for good): each stop leaves a stretch not heard, which is no silence
    ending the call. It made the silence heard before it go unheard too, so the call, never 2 s
    heard quiet between two stops, stayed open for as long as the machine starved the daemon (every
    later caller folded into it). The silence heard between the stops adds up: the call ends."""
    line = tmp_path / "line.wav"
    sf.write(line, 0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * 16000) / 16000), 16000)  # then the hang-up
    d = start_daemon(env, tmp_path, '[daemon]\ncall_boundaries = "silence"\ncall_end_silence_s = 2.0\n')
    try:
        subprocess.run(["paplay", "--device=softphone", str(line)], env=env, timeout=10)
        assert d.wait_err("call 1 started", 30), d.err
        for _ in range(8):  # about 1 s heard between two stops (under the 2 s ending the call)
            os.kill(d.proc.pid, signal.SIGSTOP)
            time.sleep(2.5)
            os.kill(d.proc.pid, signal.SIGCONT)
            if d.wait_err("call 1 ended", 1.0):
                break
        ended = [e for e in d.err if "call 1 ended" in e]
    finally:
        d.kill()
    assert ended and "(2 s of silence)" in ended[0], d.err


def test_a_live_recognizer_far_behind_at_the_call_s_end_drops_what_it_has_not_finished(ko_model):
    """A live recognizer with 20 s of the caller's speech still to decode as its call ends (a machine
    too busy: with the daemon capped at 10 % of a core it ran more than 30 s behind). Closing it
    finished all of it first, which held the capture loop (the next call's audio dropped, alerts
    late) and the daemon's stop (SIGTERM: not gone after 20 s) for minutes; now it finishes what it
    can within its close's allowance (a second live; none here, so that no machine is fast enough to
    finish 20 s of speech meanwhile) and drops the rest, among the audio whose words are not
    transcribed, also of the piece it is decoding as it closes (cut at its next 0.2 s slice).

    Here a flush given up on still runs as it closes (:class:`FlushesLeft` full): it runs none, and
    the utterance the recognizer holds is said not transcribed up to the end of the slice it was
    decoding, where the audio dropped begins, as the close returns. The close read where the utterance
    ended as the worker was still feeding it (that slice said nowhere), and the rest of the piece was
    counted only once the worker got to its cut: after the call had said what it did not transcribe."""
    from monitor.transcription.recognizer import FlushesLeft
    stream = AnalysisStream(CALLS / "labored_start_16k.wav", [1])
    x = np.concatenate(list(stream))[8 * stream.rate: 28 * stream.rate, 0]  # 20 s of the caller speaking
    left = FlushesLeft()
    left.add()  # an earlier call's flush given up on, still running
    transcriber = Transcriber(ko_model, "caller", stream.rate, gate=False, on_full="drop", max_backlog_s=30.0,
                              close_backlog_s=0.0, flushes_left=left)
    transcriber.feed(0.0, x)  # handed over at once: the worker is decoding it as the call ends
    while transcriber.stats().fed_s == 0.0:  # past its first slice
        time.sleep(0.005)
    transcriber.close()  # returns at once, as the worker decodes its slice
    spans = transcriber.dropped_spans()
    assert len(spans) == 1, spans  # the rest of the piece, counted by the close itself
    (start, end), = spans
    said = transcriber.unflushed_span()  # (none only if an utterance had just ended there)
    assert said is None or said[0] < said[1] == pytest.approx(start, abs=1e-6), (said, start)  # nothing between
    s = transcriber.stats()  # the worker still decoding its slice: the slices before it were fed
    assert s.fed_s + s.dropped_s <= 20.0 + 1e-6 and s.fed_s >= start - 0.21 and s.dropped_s > 10.0, s
    assert end == pytest.approx(20.0, abs=0.05) and s.dropped_s == pytest.approx(end - start, abs=1e-3), (start, end, s)


def test_a_live_recognizer_whose_last_flush_overruns_leaves_its_words_and_says_them_not_transcribed(ko_model):
    """The last utterance of a call is flushed as its recognizer closes (Vosk's final result: the
    recognizer decodes what it holds at once), which on a core starved to 1 % took tens of seconds,
    the call's end and the daemon's stop waiting for it. A live close waits for it no longer than its
    allowance (a second live; none here): its words are not taken, the call says which call times are
    not transcribed, and its stored summary keeps them (``words_not_transcribed``)."""
    stream = AnalysisStream(CALLS / "labored_start_16k.wav", [1])
    x = np.concatenate(list(stream))[: 12 * stream.rate]  # the caller speaks from 8 s on, still at 12 s
    transcriber = Transcriber(ko_model, "caller", stream.rate, gate=False, on_full="drop", close_backlog_s=60.0,
                              close_flush_s=0.0)  # all the audio decoded as it closes, however slow; no flush
    pipe = CallPipeline(load_config(user_config=False), stream.rate, ("caller",), transcribers={"caller": transcriber})
    events: list[Event] = []
    for i in range(0, len(x), stream.rate // 2):
        events += pipe.process(Chunk(i / stream.rate, x[i:i + stream.rate // 2]))
        transcriber.wait_idle()  # in step: nothing waits as the call ends but the last flush
    events += pipe.finish()
    start, end = transcriber.unflushed_span() or (0.0, 0.0)
    assert 0.0 <= start < 11.0 and end == pytest.approx(12.0, abs=0.3), (start, end)  # its words from 8 s on
    assert not [ev for ev in events if isinstance(ev, WordsEvent) and ev.final and ev.t > start + 0.5], events
    said = [ev for ev in events if isinstance(ev, StatusEvent) and "not transcribed" in ev.message]
    assert [(ev.level, ev.message) for ev in said] == [("warning", (
        f"the caller's words from {start:.1f} to {end:.1f} s into the call are not transcribed: the speech "
        "recognition could not finish them in time as the call ended (the machine is too busy)"))], said
    summary, = [ev for ev in events if isinstance(ev, CallSummaryEvent)]
    assert summary.notes["words_not_transcribed"] == {"caller": [[round(start, 1), round(end, 1)]]}, summary.notes


@pytest.mark.parametrize("stopped", [False, True])
def test_a_call_s_end_waits_longer_for_the_last_flush_than_the_daemon_s_stop(ko_model, stopped):
    """The last utterance's flush took more than a second with a small model on two cores busy with
    other work: a call's end, for which the capture holds the audio that comes meanwhile, waits for it
    up to ``close_flush_s`` (5 s live), and its words are transcribed; only the daemon's stop, which
    is to be prompt, gives it ``stop_flush_s`` (a second live; none here)."""
    from monitor.transcription.recognizer import CLOSE_FLUSH_S, STOP_FLUSH_S
    assert CLOSE_FLUSH_S > STOP_FLUSH_S
    stream = AnalysisStream(CALLS / "labored_start_16k.wav", [1])
    x = np.concatenate(list(stream))[8 * stream.rate: 11 * stream.rate]  # the caller speaking, still at its end
    transcriber = Transcriber(ko_model, "caller", stream.rate, gate=False, on_full="drop", close_backlog_s=60.0,
                              close_flush_s=60.0, stop_flush_s=0.0)
    pipe = CallPipeline(load_config(user_config=False), stream.rate, ("caller",), transcribers={"caller": transcriber})
    for i in range(0, len(x), stream.rate // 2):
        pipe.process(Chunk(i / stream.rate, x[i:i + stream.rate // 2]))
    summary, = [ev for ev in pipe.finish(stopped=stopped) if isinstance(ev, CallSummaryEvent)]
    assert (transcriber.unflushed_span() is not None) == stopped, transcriber.unflushed_span()
    assert ("words_not_transcribed" in summary.notes) == stopped, summary.notes


def test_a_stop_coming_as_a_call_ends_leaves_the_close_its_allowance(ko_model):
    """SIGTERM as a call's end closes its recognizer: the daemon's stop tells the running call's
    recognizers to give way, from the signal's handler, in the middle of that close. The close goes on
    with the allowance it had begun to give, rather than dropping at once the audio still queued."""
    stream = AnalysisStream(CALLS / "labored_start_16k.wav", [1])
    x = np.concatenate(list(stream))[8 * stream.rate: 11 * stream.rate, 0]  # 3 s of the caller speaking
    transcriber = Transcriber(ko_model, "caller", stream.rate, gate=False, on_full="drop", close_backlog_s=60.0,
                              close_flush_s=60.0)
    transcriber.give_way()  # nothing is decoded until the close begins
    for i in range(0, len(x), stream.rate):
        transcriber.feed(i / stream.rate, x[i:i + stream.rate])
    closing = threading.Thread(target=transcriber.close)
    closing.start()
    while transcriber.stats().fed_s == 0.0:  # the close has begun: the worker decodes
        time.sleep(0.005)
    transcriber.give_way()  # the stop, in the middle of the close
    closing.join()
    s = transcriber.stats()
    assert s.dropped_s == 0.0 and s.fed_s == pytest.approx(3.0, abs=0.05), s


def speaking_recognizer(model, **allowances) -> Transcriber:
    """A live recognizer that has decoded 3 s of the caller speaking, still at its end: its close
    flushes that utterance."""
    stream = AnalysisStream(CALLS / "labored_start_16k.wav", [1])
    transcriber = Transcriber(model, "caller", stream.rate, gate=False, on_full="drop", **allowances)
    transcriber.feed(0.0, np.concatenate(list(stream))[8 * stream.rate: 11 * stream.rate, 0])
    assert transcriber.wait_idle()
    return transcriber


def test_a_recognizer_given_up_on_inside_its_audio_call_keeps_its_priority_until_it_is_out(ko_model):
    """A close that gives up on a recognizer puts its thread under SCHED_IDLE. Inside the recognizer's
    audio call it holds the turn recognizers take at drawing their dither: idle there, on a machine
    busy with other programs, it would keep that turn, and the next call's recognizer waiting on it,
    for as long as the machine stays busy. It goes idle once out of the call, and ends."""
    from monitor.transcription import vosk_native

    x, rate = sf.read(CALLS / "labored_start_16k.wav", start=8 * 16000, frames=3 * 16000, dtype="float32")
    transcriber = Transcriber(ko_model, "caller", rate, gate=False, on_full="drop", close_backlog_s=0.0,
                              close_flush_s=0.05)
    with vosk_native._RANDOM:  # another recognizer's turn: this one waits inside its audio call
        transcriber.feed(0.0, x[:, 1])
        until(lambda: transcriber._accepting, "the recognizer in its audio call", timeout=10)
        transcriber.close()  # its flush given up on after 0.05 s: it is still in its audio call
        with transcriber._cond:
            assert transcriber._accepting and transcriber.unflushed_span() is not None
            assert os.sched_getscheduler(transcriber._thread.native_id) == os.SCHED_OTHER
    until(lambda: transcriber.stats().finished, "the recognizer given up on ended")


@pytest.mark.parametrize("stop_comes", ["as_its_flush_runs", "before_its_close"])
def test_a_stop_as_a_call_ends_waits_for_its_last_flush_no_longer_than_a_stop_does(ko_model, starved_core,
                                                                                   stop_comes):
    """SIGTERM while a call's end flushes a recognizer's last utterance (the call's end gives it 5 s)
    still waited the whole 5 s on a starved machine; and the call's other leg, closed after the stop
    came, gave its flush 5 s again. The stop gives a flush its own second, counted from the flush's
    start: past it, the flush is given up, its words said not transcribed."""
    from monitor.transcription.recognizer import CLOSE_FLUSH_S, STOP_FLUSH_S
    transcriber = speaking_recognizer(ko_model)
    starved_core.starve(transcriber._thread)  # its flush gets next to no CPU
    if stop_comes == "before_its_close":
        transcriber.give_way()
    began = time.monotonic()
    closing = threading.Thread(target=transcriber.close)  # as the call ends
    closing.start()
    if stop_comes == "as_its_flush_runs":
        time.sleep(0.3)
        transcriber.give_way()
    closing.join(CLOSE_FLUSH_S + 1.0)
    took = time.monotonic() - began
    assert STOP_FLUSH_S - 0.05 <= took < CLOSE_FLUSH_S - 1.0, took  # the stop's second, not the call end's five
    start, end = transcriber.unflushed_span() or (0.0, 0.0)
    assert 0.0 <= start < 3.0 and end == pytest.approx(3.0, abs=0.05), (start, end)


def test_calls_ending_one_after_another_on_a_starved_machine_leave_at_most_one_flush_running(ko_model,
                                                                                            starved_core):
    """Each flush a close gives up on goes on in its worker, holding its thread and its recognizer
    (tens to hundreds of MB) for as long as the starved machine leaves it no CPU: calls ending one
    after another piled them up. With one such flush still running, the next close does not begin
    its own: its recognizer is freed at once, the utterance's words said not transcribed."""
    from monitor.transcription.recognizer import FlushesLeft
    left = FlushesLeft()
    first = speaking_recognizer(ko_model, close_flush_s=0.2, flushes_left=left)
    second = speaking_recognizer(ko_model, flushes_left=left)  # the next call, its own core not starved
    starved_core.starve(first._thread)  # (the second made first: the starved flush has no time to end in)
    first.close()
    assert first.unflushed_span() is not None and not first.stats().finished and left.count == 1
    began = time.monotonic()
    second.close()
    assert time.monotonic() - began < 2.0 and second.unflushed_span() is not None  # not its flush's 5 s
    second._thread.join(20.0)  # nothing left to do but free its recognizer
    assert second.stats().finished and left.count == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="a thread leaves SCHED_IDLE only with CAP_SYS_NICE (root)")
def test_a_flush_given_up_on_that_ends_frees_its_place_for_the_next_call_s(ko_model, starved_core):
    """Once the flush a close gave up on has ended (the machine free again), its recognizer is freed
    and the next call's close flushes its last utterance as before."""
    from monitor.transcription.recognizer import FlushesLeft
    left = FlushesLeft()
    first = speaking_recognizer(ko_model, close_flush_s=0.2, flushes_left=left)
    starved_core.starve(first._thread)
    first.close()
    assert first.unflushed_span() is not None and left.count == 1
    starved_core.end()
    first._thread.join(20.0)
    assert first.stats().finished and left.count == 0
    second = speaking_recognizer(ko_model, flushes_left=left)
    assert second.close() and second.unflushed_span() is None  # its last words taken


def test_a_flush_given_up_on_that_ends_on_a_starved_core_holds_up_no_allocation_of_the_rest_of_the_daemon(
        ko_model, starved_core):
    """A flush given up on ends in its worker under SCHED_IDLE, on a core busy with other programs.
    Giving the process's freed memory back there (``malloc_trim``, which holds each of glibc's heaps in
    turn, the main thread's too, while it hands their free pages back) held every allocation of the
    daemon's main thread until the starved worker got the CPU to finish: 22 s with 190 MB freed in
    pieces. The worker ends without it, saying so (:meth:`FlushesLeft.ended`): the daemon gives the
    memory back itself, between calls."""
    import ctypes
    from monitor.transcription.recognizer import FlushesLeft
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
    pieces = [libc.malloc(64 * 1024) for _ in range(1500)]  # the main thread's heap, freed in pieces (48 MB)
    for piece in pieces:
        ctypes.memset(piece, 1, 64 * 1024)
    for piece in pieces[::2]:
        libc.free(piece)
    try:
        left = FlushesLeft()
        for _ in range(20):  # until a flush is given up on (a starved worker may still end within its ms)
            transcriber = Transcriber(ko_model, "caller", 16000, gate=False, on_full="drop", close_flush_s=0.001,
                                      flushes_left=left)
            starved_core.starve(transcriber._thread)
            transcriber.close()
            if left.count:
                break
        assert left.count == 1 and not left.ended()
        held, until = 0.0, time.monotonic() + 20.0
        while left.count and time.monotonic() < until:  # the main thread allocates on, as the daemon's does
            began = time.monotonic()
            libc.free(libc.malloc(100_000))
            held = max(held, time.monotonic() - began)
        assert left.count == 0 and left.ended() and not left.ended(), left.count  # said once
        assert held < 1.5, held
    finally:
        for piece in pieces[1::2]:
            libc.free(piece)


def test_the_silence_filling_a_leg_far_behind_holds_no_memory(pulse):
    """An analysis that cannot keep up at all (the daemon given less CPU than it needs: 3 % of a core)
    falls ever further behind, 74 s after 110 s; the capture fills the time of the audio it drops
    with silence, which waited in memory for the analysis, 64 KB a second a leg at 16 kHz: the daemon
    grew for as long as it was starved. Ten minutes of that silence now hold no memory, and the chunks
    taken from it are silence not heard, as before."""
    portaudio_afresh()
    src = LiveSource({"caller": "softphone.monitor"})
    leg = src._legs["caller"]
    tracemalloc.start()
    try:
        src._pad(leg, 600 * src.rate, held_up=True)
        held, _ = tracemalloc.get_traced_memory()
        chunk = src._chunk([leg], src.rate // 4)
    finally:
        tracemalloc.stop()
    assert held < 1 << 20, held
    assert chunk.samples.shape == (src.rate // 4, 1) and not chunk.samples.any(), chunk.samples
    assert chunk.unheard == ((0, 0, src.rate // 4),) and leg.buffered == 600 * src.rate - src.rate // 4


def test_a_leg_holding_many_blocks_hands_them_out_in_order_from_its_front(pulse):
    """An analysis far behind leaves a leg holding thousands of blocks; each chunk is taken from the
    front of them, a block split where the chunk ends. Taking from the front of a list moved all the
    blocks behind it each time; the leg's blocks are a queue taken from its front."""
    portaudio_afresh()
    src = LiveSource({"caller": "softphone.monitor"})
    leg = src._legs["caller"]
    blocks = np.arange(5000 * 7, dtype=np.float32).reshape(5000, 7)
    for block in blocks:
        leg.buf.append(block)
        leg.buffered += len(block)
    taken = [src._take(leg, 10) for _ in range(3000)]
    assert isinstance(leg.buf, collections.deque), type(leg.buf)
    assert np.array_equal(np.concatenate(taken), blocks.reshape(-1)[:30000])
    assert leg.buffered == 5000 * 7 - 30000 and np.array_equal(np.concatenate(list(leg.buf)), blocks.reshape(-1)[30000:])


class _Endless(queue.Queue):
    """A leg's block queue whose stream delivers a block each time one is taken: the capture loop
    starved of CPU (a daemon niced or capped to 1 % of a core), the blocks coming as fast as it
    takes them. More than ``limit`` taken: the loop never got back to its chunks."""

    def __init__(self, block: np.ndarray, limit: int = 1000) -> None:
        super().__init__()
        self.block, self.left = block, limit
        self.put((0, 0.0, block))

    def get_nowait(self):  # type: ignore[no-untyped-def]
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("the capture loop kept taking blocks")
        self.put((0, 0.0, self.block))
        return super().get_nowait()


def test_a_capture_loop_starved_of_cpu_gets_back_to_its_chunks_and_to_a_stop(pulse):
    """A capture loop given 1 % of a core conditions its legs' blocks as slowly as they come: it took
    them until none waited, so it never got back to its chunks, nor to a stop (a SIGTERM not done in
    150 s). Each round takes the blocks waiting as it began (those that come meanwhile, the next
    round), and none once the capture stops."""
    portaudio_afresh()
    src = LiveSource({"caller": "softphone.monitor"})
    leg = src._legs["caller"]
    leg.q = _Endless(np.zeros((1600, 1), np.float32))
    src._drain(leg)
    assert leg.q.left == 999, leg.q.left  # the one block waiting as it began
    src.stop()
    src._drain(leg)
    assert leg.q.left == 999, leg.q.left


def test_a_post_over_http_reads_no_tls_authorities():
    """Every webhook post and heartbeat made a TLS context, reading the system's certificate
    authorities, also for an http:// URL: on a core starved to 1 %, the stop's last heartbeat took
    seconds over it alone. An http:// post makes none; an https:// one makes it as it opens."""
    hook = Hook()
    try:
        handlers = deadline_handlers(5.0)
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(hook.url, data=b'{"kind": "test"}', headers={"Content-Type": "application/json"})
        with opener.open(request) as answer:
            assert answer.status == 204
    finally:
        hook.close()
    assert [getattr(h, "context", None) for h in handlers] == [None, None], handlers
    assert len(hook.received) == 1, hook.received


def test_a_recognizer_gives_way_to_the_rest_of_the_daemon_as_it_stops(ko_model):
    """On a core starved to 1 %, the recognizer still decoding as the daemon stopped took four fifths
    of the CPU the daemon got meanwhile, the stop's own work (the last chunk, storing the call)
    waiting for it. Once told to give way (the daemon's stop), it takes no more audio until its close
    gives it its allowance."""
    stream = AnalysisStream(CALLS / "labored_start_16k.wav", [1])
    x = np.concatenate(list(stream))[8 * stream.rate: 9 * stream.rate, 0]
    transcriber = Transcriber(ko_model, "caller", stream.rate, gate=False, on_full="drop",
                              stop_flush_s=60.0)  # its last flush waited for, however loaded the machine
    try:
        transcriber.give_way()
        transcriber.feed(0.0, x)
        assert not transcriber.wait_idle() and transcriber.stats().backlog_s == 1.0, transcriber.stats()
    finally:
        transcriber.close()
    s = transcriber.stats()
    assert s.fed_s + s.dropped_s == pytest.approx(1.0, abs=0.05) and s.backlog_s == 0.0, s


def test_a_recognizer_giving_way_holds_at_its_next_slice_and_keeps_its_priority_for_its_close(ko_model):
    """Told to give way as the daemon stops while it decodes, the recognizer holds at the next 0.2 s
    slice of the piece (nothing waits for it to finish the piece) and its thread keeps its priority:
    under SCHED_IDLE, which a daemon without CAP_SYS_NICE cannot leave, its close's allowance got next
    to no CPU on a machine busy with other programs, and the last words of every stop were lost."""
    stream = AnalysisStream(CALLS / "labored_start_16k.wav", [1])
    x = np.concatenate(list(stream))[8 * stream.rate: 14 * stream.rate, 0]  # 6 s of the caller speaking
    transcriber = Transcriber(ko_model, "caller", stream.rate, gate=False, on_full="drop", close_backlog_s=0.0,
                              stop_flush_s=60.0)  # its last flush waited for, however loaded the machine
    try:
        tid = transcriber._thread.native_id
        transcriber.feed(0.0, x)
        while transcriber.stats().backlog_s > 0:  # the worker has taken it
            time.sleep(0.01)
        transcriber.give_way()
        assert tid is not None and os.sched_getscheduler(tid) == os.SCHED_OTHER
        assert not transcriber.wait_idle()  # held: not waited for until its 6 s are decoded
    finally:
        transcriber.close()
    s = transcriber.stats()
    assert s.dropped_s > 3.0 and s.fed_s + s.dropped_s == pytest.approx(6.0, abs=0.05), s


def test_a_stopped_capture_s_streams_end_themselves(pulse):
    """A daemon starved of CPU as it stops may not close its capture streams within a second (their
    closing thread starved too): they were left open to the process's end, their callbacks taking its
    CPU meanwhile. Once the capture is stopped, a stream's callback ends its stream, queuing nothing."""
    portaudio_afresh()
    src = LiveSource({"caller": "softphone.monitor"})
    leg = src._legs["caller"]
    stopped = threading.Event()
    callback = _block_callback(leg, 0, stopped)
    status = sd.CallbackFlags()
    callback(np.zeros((160, 1), np.float32), 160, None, status)
    stopped.set()
    with pytest.raises(sd.CallbackStop):
        callback(np.zeros((160, 1), np.float32), 160, None, status)
    assert leg.q.qsize() == 1, leg.q.qsize()


def test_an_utterance_ending_as_its_close_gives_up_is_said_not_transcribed_not_lost(ko_model):
    """An utterance the recognizer ends (a final result) in the very moment the close gives up on
    the flush: its words are not taken, and they are said not transcribed (:meth:`unflushed_span`).
    The worker forgot the utterance's start before it looked whether the close had given up, so the
    close read no utterance and the words were dropped too: lost, said nowhere. Here the worker is
    held between the two, at the final result's time map (the recognizer's own, only paused)."""
    from monitor.transcription.recognizer import FlushesLeft, _TimeMap

    at_final, given_up = threading.Event(), threading.Event()

    class PausedAtFinal(_TimeMap):
        def forget_before(self, t: float) -> None:
            at_final.set()
            given_up.wait(10.0)
            super().forget_before(t)

    x, rate = sf.read(CALLS / "labored_start_16k.wav", start=8 * 16000, frames=6 * 16000, dtype="float32")
    left = FlushesLeft()
    left.add()  # an earlier call's flush given up on, still running: this close runs none
    transcriber = Transcriber(ko_model, "caller", rate, gate=False, on_full="drop", max_backlog_s=30.0,
                              close_backlog_s=0.0, flushes_left=left)
    transcriber._map = PausedAtFinal()
    transcriber.feed(0.0, x[:, 1])  # 6 s of the caller speaking, the first utterance ending at 2.6 s
    assert at_final.wait(30.0), "no final result in 6 s of speech"
    events = transcriber.close()
    given_up.set()
    assert not [e for e in events if e.final]
    said, (dropped_from, _), = transcriber.unflushed_span(), *transcriber.dropped_spans()
    assert said is not None and said[0] == 0.0 and said[1] == pytest.approx(dropped_from, abs=1e-6), \
        (said, dropped_from)  # the utterance from its start, nothing between it and the audio dropped
