"""The live daemon as a real subprocess on a private PulseAudio server.

`call-monitor run --caller softphone.monitor` listens to the monitor of the null sink
`softphone`; the test plays a deteriorating call into the sink with paplay and checks
that the critical alert reaches the JSON output, SQLite and a real HTTP server on
127.0.0.1 within a few seconds of where replay of the same audio puts it. The commands asked of
a call or a daemon beside it (a stored call's report, the status text) run in the test's process
(:func:`conftest.call_monitor_here`, in the daemon's environment); the daemons, and the status JSON
the tests wait on (``Daemon.status``), in their own.
"""

from __future__ import annotations

import concurrent.futures
import html
import itertools
import json
import logging
import math
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import (Daemon, Hook, PY, ROOT, call_monitor_here, child_processes, fifo_writer, process_alive,
                      processes_with, start_daemon, stop_daemon, stored_alert, two_calls_line, until, wait_for)

from monitor.alerts.evidence import fmt_time
from monitor.config import load_config
from monitor.files import recording_fingerprint
from monitor.release import RELEASE
from monitor.capture.segmenter import Segmenter
from monitor.pipeline import CallPipeline, run_source
from monitor.capture.sources import Chunk, FileSource
from monitor.daemon import SocketMark

FIXTURE = ROOT / "audio_fixtures" / "calls" / "deteriorating_16k.wav"
FIGURES = os.environ.get("CALLMONITOR_LIVE_FIGURES")  # make bench: where to write the measured figures


def _caller_cut(path, segments):
    x, r = sf.read(FIXTURE, dtype="float32")
    y = np.concatenate([x[int(a * r):int(b * r), 1] for a, b in segments])
    sf.write(path, y, r)
    return len(y) / r


def _replay(path):
    cfg = load_config(None, user_config=False)
    src = FileSource(path)
    return [e for e in run_source(CallPipeline(cfg, src.rate, src.legs), src.chunks(), []) if e.type == "alert"]


def test_a_call_whose_audio_fails_ends_its_raised_alerts_as_call_ended(tmp_path):
    """The capture dies mid-call with alerts raised: the sinks and the store hear that the call
    ended with them still raised, never silence (which would leave them looking active) and never
    a 'recovered' all-clear."""
    from monitor.delivery.store import Store
    cfg = load_config(None, user_config=False)
    src = FileSource(FIXTURE)
    heard: list = []

    def failing():
        for chunk in src.chunks():
            if chunk.t0 >= 120.0:
                raise OSError("capture device vanished")
            yield chunk

    with Store.open(tmp_path / "events.db") as store:
        pipeline = CallPipeline(cfg, src.rate, src.legs, store=store, source=str(FIXTURE))
        with pytest.raises(OSError, match="vanished"):
            run_source(pipeline, failing(), [heard.append])
        raised = {e.kind for e in heard if e.type == "alert"}
        ended = [e for e in heard if e.type == "alert_cleared" and e.reason == "call_ended"]
        assert "possible_emergency" in raised
        assert "possible_emergency" in {e.kind for e in ended}
        last = {}  # every kind's last word is an ending: nothing is left looking active
        for e in heard:
            if e.type in ("alert", "alert_cleared"):
                last[e.kind] = e.type
        assert set(last.values()) == {"alert_cleared"}
        assert pipeline.engine.active_kinds == ()
        stored = store.list_clears(pipeline.call_id)
        assert {c.kind for c in stored if c.reason == "call_ended"} == {e.kind for e in ended}
        assert store.get_call(pipeline.call_id).summary == {"aborted": True,
                                                            "recording_fingerprint": recording_fingerprint(FIXTURE)}


def test_segmenter_finds_onsets_after_silence():
    rate = 16000
    seg = Segmenter(rate)
    noise = lambda s: np.random.default_rng(0).normal(0, 0.001, (int(s * rate), 1)).astype(np.float32)  # noqa: E731
    tone = lambda s: (0.1 * np.sin(np.arange(int(s * rate)) / rate * 2 * np.pi * 200)[:, None]).astype(np.float32)  # noqa: E731
    t = 0.0
    out = []
    for part in [noise(3), tone(1), noise(2)]:
        for i in range(0, len(part), 1600):
            ch = Chunk(t, part[i:i + 1600])
            out.append((t, seg.feed(ch)))
            t += len(ch.samples) / rate
    first = next(t for t, on in out if on)
    assert 3.0 <= first <= 3.4
    assert seg.silence_before_onset() == float("inf")
    assert abs(seg.silence_s(6.0) - 2.0) < 0.05


def test_live_call_alerts_reach_jsonl_sqlite_and_webhook(pulse, env, tmp_path):
    cut = tmp_path / "call.wav"
    # the caller's leg: 42 s of normal speech (baseline), then the labored part
    duration = _caller_cut(cut, [(6.2, 48), (108, 145)])
    ref = _replay(cut)
    crit = [a for a in ref if a.severity == "critical"]
    assert crit, "replay raises no critical alert on the cut"
    t_ref = crit[0].t
    hook = Hook()
    db = tmp_path / "events.db"
    d = Daemon(["--caller", "softphone.monitor", "--jsonl", "--db", str(db), "--webhook", hook.url,
                "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        d.wait_running(env)
        assert (os.stat(db).st_mode & 0o777) == 0o600
        sock = Path(env["XDG_RUNTIME_DIR"]) / "callmonitor.sock"
        assert (os.stat(sock).st_mode & 0o777) == 0o600
        cpu0, _ = d.usage()
        t_play = time.monotonic()
        player = pulse.play(cut)
        deadline = t_play + t_ref + 20
        while time.monotonic() < deadline and not any(p["severity"] == "critical" for _, p in hook.received):
            time.sleep(0.1)
        got = [(t, p) for t, p in hook.received if p["severity"] == "critical"]
        assert got, f"no critical alert at the webhook; stderr: {d.err[-5:]}"
        latency = got[0][0] - t_play - t_ref
        st = d.status(env)
        assert st["call"] is not None and st["alerts"] >= 1 and st["overflows"] == 0
        cpu1, peak = d.usage()
        wall = time.monotonic() - t_play
        time.sleep(1.0)
        assert player.poll() is None, "the call should still be playing (SIGTERM mid-call)"
        t_term = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        rc = d.proc.wait(5)
        exit_s = time.monotonic() - t_term
        d.exited(5)  # its last lines read (the call's summary)
        player.kill()
    finally:
        d.kill()
        hook.close()
    if FIGURES:
        Path(FIGURES).write_text(json.dumps({"latency_s": latency, "replay_t": t_ref, "cpu_share": (cpu1 - cpu0) / wall,
                                   "peak_rss_mb": peak, "sigterm_exit_s": exit_s, "duration_s": duration}))
    print(f"\nlive: critical at webhook {latency:+.2f} s vs replay t={t_ref}; CPU {(cpu1 - cpu0) / wall:.1%} of a "
          f"core; peak RSS {peak:.0f} MB; SIGTERM exit {exit_s:.2f} s")
    assert -2.0 < latency < 4.0
    assert rc == 0 and exit_s < 2.0, d.err
    # the JSON output has the same critical alert, as early as the webhook
    jl = [(t, e) for t, e in d.lines if e["type"] == "alert" and e["severity"] == "critical"]
    assert jl and jl[0][0] <= got[0][0] + 0.5
    assert jl[0][1]["kind"] == got[0][1]["kind"] == crit[0].kind
    # same call time as replay, within a few seconds (the live call starts at the pre-roll)
    assert abs(jl[0][1]["t"] - t_ref) < 4.0
    # nothing lost: every alert printed is in SQLite; the call was closed with a summary
    con = sqlite3.connect(db)
    ids = {r[0] for r in con.execute("SELECT id FROM alerts")}
    assert {e["alert_id"] for _, e in d.lines if e["type"] == "alert"} <= ids
    assert con.execute("SELECT count(*) FROM alerts WHERE severity='critical'").fetchone()[0] >= 1
    (call_id, ended, summary, agent), = con.execute("SELECT id, ended_at, summary, agent FROM calls").fetchall()
    assert ended is not None and json.loads(summary)["critical_alerts"] >= 1
    # the call keeps the agent the webhook names, and its report names them
    assert agent == got[0][1]["agent"] and agent
    # the JSON lines name the same agent on the call's alerts, their end and its summary, not on cues
    named = [e for _, e in d.lines if e["type"] in ("alert", "alert_cleared", "call_summary")]
    assert {e["type"] for e in named} >= {"alert", "call_summary"} and {e.get("agent") for e in named} == {agent}
    assert not any("agent" in e for _, e in d.lines if e["type"] == "cues")
    report = tmp_path / "report.html"
    done = call_monitor_here("report", call_id, "--db", db, "-o", report, env=env)
    assert done.returncode == 0, done.stderr
    assert f"agent {html.escape(agent)}" in report.read_text()
    assert _summaries(d)
    # delivered once each
    assert len([p for _, p in hook.received if p["kind"] == crit[0].kind]) == 1
    assert not os.path.exists(sock)


def test_a_database_other_users_may_read_is_said_once_the_daemon_listens_with_a_fix_that_covers_its_wal_and_shm(
        pulse, env, tmp_path):
    """A database copied or made by hand with its group or everyone allowed to read it (the calls'
    alerts and words): one warning with the fix, and the daemon runs all the same. SQLite makes the
    -wal and -shm beside it with its mode, and the daemon holds them open while it runs (a chmod of
    the database alone left the words it writes readable in them): the fix names them too, and run
    as the warning gives it, while the daemon runs, it leaves none of the three readable by another
    user, the daemon writing on into them."""
    from monitor.delivery.store import Store
    db = tmp_path / "e.db"
    Store.open(db).close()
    db.chmod(0o644)
    files = [db, tmp_path / "e.db-wal", tmp_path / "e.db-shm"]
    d = start_daemon(env, tmp_path)
    try:
        assert d.wait_err("may be read", 30), d.err
        fix = f"chmod 600 {db} {db}-wal {db}-shm"
        assert (f"call-monitor: warning: {db}: the database, which holds the calls' alerts and words, may be read by "
                f"every user (mode 0644); make it private: {fix}") in d.err
        assert [f.stat().st_mode & 0o777 for f in files] == [0o644] * 3
        subprocess.run(fix.split(), check=True)
        assert [f.stat().st_mode & 0o777 for f in files] == [0o600] * 3
        for told in ("start", "end"):
            assert call_monitor_here("call", told, env=env).returncode == 0
        stop_daemon(d)
    finally:
        d.kill()
    with Store.open_readonly(db) as store:
        assert [c.source for c in store.list_calls()] == ["live:caller=softphone.monitor"]


def test_sound_server_restart_mid_call(pulse, env, tmp_path):
    """The sound server dies mid-call and comes back: the caller's leg is reopened, and the caller's
    speech after the restart goes into the same call, which ends when the stream played into the
    softphone's sink after the restart ends (its summary, one call in all)."""
    cut, after = tmp_path / "talk.wav", tmp_path / "after.wav"
    _caller_cut(cut, [(6.2, 17.5)])
    _caller_cut(after, [(6.2, 14.2)])  # 8 s, the caller speaking throughout
    d = Daemon(["--caller", "softphone.monitor", "--jsonl", "--db", str(tmp_path / "e.db"), "--no-notify",
                "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        d.wait_running(env)
        p = pulse.play(cut)
        time.sleep(4)
        pulse.stop()  # the sound server dies mid-call
        p.wait(5)
        assert d.wait_err("input lost", 30), d.err
        time.sleep(1.0)
        pulse.start()
        assert d.wait_err("reopened", 30), d.err
        assert d.proc.poll() is None
        pulse.play(after).wait(20)
        assert wait_for(lambda: _summaries(d), 30), d.err  # its stream ended: the call ends (stream_end_grace_s)
        st = d.status(env)
        assert st["legs"]["caller"]["reopens"] >= 1 and st["legs"]["caller"]["state"] == "running"
        (summary,) = _summaries(d)
        assert summary["call_id"] == 1 and summary["ended_by"] == "the softphone's stream ended (sink softphone)"
        assert [e["message"] for e in _said(d, " started") if e["message"].startswith("call ")] == ["call 1 started"]
        # speech after the restart was analysed in the same call
        lost_t = _said(d, WAITS)[0]["t"]
        before = max(e["call_speech_s"] or 0 for _, e in d.lines if e["type"] == "cues" and e["t"] <= lost_t)
        assert summary["caller_speech_s"] - before > 3, (before, summary)
        assert _said(d, "reopened")
        d.proc.send_signal(signal.SIGINT)
        assert d.proc.wait(5) == 0
    finally:
        d.kill()


def _summaries(d: Daemon) -> list[dict]:
    """The daemon's call summaries so far."""
    return [e for _, e in d.lines if e["type"] == "call_summary"]


def _said(d: Daemon, text: str) -> list[dict]:
    """The daemon's status events so far whose message holds ``text``."""
    return [e for _, e in d.lines if e["type"] == "status" and text in e["message"]]


def _cues_reach(d: Daemon, t: float) -> bool:
    """Whether the running call's cue windows have reached call time ``t``."""
    return any(e["type"] == "cues" and e["t"] >= t for _, e in d.lines)


WAITS = "the caller's source gives no input: the call waits for it"
BACK = "the caller's source gives input again"


def _waits_ends(ends: str, end_s: float, lost_s: float) -> int:
    """The seconds more without the caller's source a status's ``ends`` of a call waiting for it
    says it will end after (``daemon.call_end_silence_s`` ``end_s``, ``lost_source_end_s`` ``lost_s``)."""
    head = (f"at `call-monitor call end`, after {end_s:g} s of silence once the caller's source gives input "
            "(none now), or after ")
    assert ends.startswith(head) and ends.endswith(" s more without the caller's source"), ends
    more = int(ends[len(head):].split()[0])
    assert 0 < more <= lost_s, ends
    return more


def test_a_call_whose_callers_source_is_lost_waits_for_it_and_goes_on_with_its_baseline_once_it_is_back(
        pulse, env, tmp_path):
    """The softphone's sink is unloaded mid-call, the caller's baseline ready: the caller leg is lost
    (not the microphone's audio in its place), and the time without its input is no silence: the call
    outlasts the end silence many times over, the status says it waits for the source. The sink made
    again and the caller speaking, the same call goes on with its baseline; the stored call (one)
    keeps the span it heard nothing of the caller, and its report says so."""
    from conftest import SHORT_BASELINE, stored_calls
    from monitor.delivery.store import Store
    from monitor.report import from_store

    first, after = tmp_path / "talk.wav", tmp_path / "after.wav"
    _caller_cut(first, [(6.2, 30.0)])
    _caller_cut(after, [(6.2, 14.2)])  # 8 s, the caller speaking throughout
    cfg, db = tmp_path / "c.toml", tmp_path / "e.db"
    cfg.write_text(SHORT_BASELINE + "[daemon]\ncall_end_silence_s = 3\nlost_source_end_s = 90\n")
    d = Daemon(["--caller", "softphone.monitor", "--jsonl", "--config", str(cfg), "--db", str(db), "--no-notify",
                "--no-transcribe"], env, tmp_path)
    try:
        d.wait_running(env, timeout=20)
        player = pulse.play(first)
        assert wait_for(lambda: any(e["type"] == "cues" and e["baseline_ready"] for _, e in d.lines), 90), d.err
        _unload_sink(env, "softphone")
        player.kill()
        assert wait_for(lambda: _said(d, WAITS), 30), d.err
        lost_t = _said(d, WAITS)[0]["t"]
        assert wait_for(lambda: _cues_reach(d, lost_t + 4 * 3.0), 60), d.err  # four end silences without input
        st = d.status(env)
        assert st["legs"]["caller"]["state"] == "lost" and st["legs"]["caller"]["level_dbfs"] is None
        assert st["call"]["call_id"] == 1 and _waits_ends(st["call"]["ends"], 3, 90) < 90 - 4 * 3.0
        assert not _summaries(d), d.err
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=softphone"], env=env, check=True)
        assert wait_for(lambda: _said(d, BACK), 30), d.err
        back_t = _said(d, BACK)[0]["t"]
        pulse.play(after).wait(60)
        assert wait_for(lambda: _summaries(d), 60), d.err
        heard_again = [e for _, e in d.lines if e["type"] == "cues" and e["t"] > back_t + 2 and e["speech_s"]]
        assert heard_again and all(e["baseline_ready"] for e in heard_again)
        (summary,) = _summaries(d)
        assert summary["call_id"] == 1
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(10) == 0
    finally:
        d.kill()
    (call,) = stored_calls(db)
    assert call["baseline"] and "aborted" not in call["summary"]
    ((a, b),) = call["summary"]["caller_no_input"]
    assert abs(a - lost_t) <= 1.0 and abs(b - back_t) <= 1.0  # the capture's own edges; the lines follow its state
    assert call["summary"]["caller_no_input_s"] == pytest.approx(b - a, abs=0.11) and b - a >= 4 * 3.0
    with Store.open_readonly(db) as store:
        data = from_store(store, 1, load_config(None, {"storage.db": str(db)}, user_config=False))
    assert data.caller_no_input == ((a, b),) and data.stopped is None
    assert any(f"No audio of the caller came for {b - a:.1f} s of the call" in note for note in data.notes), data.notes


def _daemon_on_both_legs(env, tmp_path, db, daemon_config: str) -> Daemon:
    """A running daemon on the softphone's sink and the microphone, storing into ``db``, its
    ``[daemon]`` configuration ``daemon_config`` (TOML lines)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("[daemon]\n" + daemon_config)
    d = Daemon(["--caller", "softphone.monitor", "--agent", "mic.monitor", "--jsonl", "--config", str(cfg), "--db",
                str(db), "--no-notify", "--no-transcribe"], env, tmp_path)
    d.wait_running(env, timeout=20)
    return d


def _lose_the_callers_source(d: Daemon, pulse, env, tmp_path) -> float:
    """Play a call into the softphone's sink and unload the sink once the daemon judged 4 s of it;
    the call time at which the daemon says the call waits for its caller's source."""
    talk = tmp_path / "talk.wav"
    _caller_cut(talk, [(6.2, 30.0)])
    player = pulse.play(talk)
    assert wait_for(lambda: _cues_reach(d, 4.0), 30), d.err
    _unload_sink(env, "softphone")  # the player moves to "mic"
    player.kill()
    assert wait_for(lambda: _said(d, WAITS), 30), d.err
    return _said(d, WAITS)[0]["t"]


def _stored_without_input_to_its_end(db, lost_t: float) -> tuple[dict, tuple[float, float]]:
    """Stored call 1's summary and its one span without the caller's input: from the loss (``lost_t``,
    as the daemon said it, within a second) to the call's end; its report judges it up to there."""
    from conftest import stored_calls
    (call,) = stored_calls(db)
    summary = call["summary"]
    ((a, b),) = summary["caller_no_input"]
    assert abs(a - lost_t) <= 1.0 and b == pytest.approx(summary["duration_s"], abs=0.11)
    _judged_up_to_the_loss(db, a)
    return summary, (a, b)


def _judged_up_to_the_loss(db, lost_at: float) -> None:
    """Stored call 1's report says its caller's source gave no input from ``lost_at`` to its end."""
    from monitor.delivery.store import Store
    from monitor.report import from_store
    with Store.open_readonly(db) as store:
        data = from_store(store, 1, load_config(None, {"storage.db": str(db)}, user_config=False))
    assert data.stopped is not None and (data.stopped.at_s, data.stopped.how) == (lost_at, "no_input")
    assert data.cut_short == (f"the caller's source gave no input from {fmt_time(lost_at)} ({lost_at:.1f} s) to "
                              "the call's end: the call is judged only up to there")


def test_a_call_whose_callers_source_never_comes_back_ends_at_call_end_judged_up_to_its_loss(pulse, env, tmp_path):
    """The softphone's sink is unloaded mid-call and stays away: no silence ends the call; `call end`
    does, and the stored call says it heard nothing of the caller from the loss to its end: its
    report judges it only up to there."""
    db = tmp_path / "e.db"
    d = _daemon_on_both_legs(env, tmp_path, db, "call_end_silence_s = 3\n")
    try:
        lost_t = _lose_the_callers_source(d, pulse, env, tmp_path)
        assert wait_for(lambda: _cues_reach(d, lost_t + 3 * 3.0), 60), d.err
        legs = d.status(env)["legs"]
        assert legs["caller"]["state"] == "lost" and legs["agent"]["level_dbfs"] is not None
        ended = subprocess.run([PY, "-m", "monitor.cli", "call", "end"], env=env, capture_output=True, text=True,
                               timeout=30)
        assert ended.returncode == 0 and ended.stdout == "call 1 ended\n", ended.stderr
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(10) == 0
    finally:
        d.kill()
    summary, _ = _stored_without_input_to_its_end(db, lost_t)
    assert summary["ended_by"] == "call-monitor call end"


def test_a_call_whose_callers_source_never_comes_back_ends_after_the_lost_source_limit_judged_up_to_its_loss(
        pulse, env, tmp_path):
    """The softphone's sink is unloaded mid-call and stays away, ``daemon.lost_source_end_s`` 6 s:
    the status says how long the call may still wait; once the source has given no input for 6 s
    the call ends on its own, saying so, and the stored call keeps the span without input, to its
    end: its report judges it only up to the loss. The daemon goes on listening."""
    db = tmp_path / "e.db"
    d = _daemon_on_both_legs(env, tmp_path, db, "call_end_silence_s = 2\nlost_source_end_s = 6\n")
    try:
        lost_t = _lose_the_callers_source(d, pulse, env, tmp_path)
        st = d.status(env)
        assert st["call"] is None or _waits_ends(st["call"]["ends"], 2, 6) <= 6, st  # ended already: loaded
        assert wait_for(lambda: _summaries(d), 60), d.err
        (summary,) = _summaries(d)
        assert summary["ended_by"] == "the caller's source gave no input for 6 s"
        assert d.status(env)["call"] is None and d.proc.poll() is None
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(10) == 0
    finally:
        d.kill()
    stored, (a, b) = _stored_without_input_to_its_end(db, lost_t)
    assert stored["ended_by"] == "the caller's source gave no input for 6 s" and "aborted" not in stored
    assert b - a == pytest.approx(6.0, abs=0.6)


def test_a_live_call_the_daemons_stop_cuts_off_is_stored_and_reported_as_stopped_part_way(pulse, env, tmp_path):
    """Ctrl-C or SIGTERM mid-call: the call is not over for the caller. It is stored with its summary
    and ``"aborted": true`` (as a replay stopped part-way), and its report says in the brown banner
    where the monitoring stopped, not that the call was a whole one; its ``--jsonl`` summary line
    says the very summary stored. (Two daemons hear the same call, each with its database and
    status socket: one is stopped with SIGTERM, the other with SIGINT.)"""
    from conftest import stored_calls
    talk = tmp_path / "talk.wav"
    _caller_cut(talk, [(6.2, 40.0)])
    daemons = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            folder = tmp_path / sig.name
            (folder / "run").mkdir(parents=True, mode=0o700)
            own_env = {**env, "XDG_RUNTIME_DIR": str(folder / "run")}
            daemons[sig] = Daemon(["--caller", "softphone.monitor", "--jsonl", "--db", str(folder / "alice.db"),
                                   "--no-notify", "--no-transcribe"], own_env, folder)
            daemons[sig].wait_running(own_env, timeout=20)
        player = pulse.play(talk)
        for sig, d in daemons.items():
            assert wait_for(lambda: _cues_reach(d, 5.0), 30), d.err
            d.proc.send_signal(sig)
            assert d.exited(10) == 0, d.err
        player.kill()
    finally:
        for d in daemons.values():
            d.kill()
    for sig, d in daemons.items():
        (call,) = stored_calls(tmp_path / sig.name / "alice.db")
        (line,) = _summaries(d)
        assert {k: v for k, v in line.items() if k != "agent"} == call["summary"]
        _stopped_part_way(call["summary"], sig, tmp_path / sig.name, env)


def _stopped_part_way(summary: dict, sig: signal.Signals, folder, env) -> None:
    """Stored call 1 in ``folder/alice.db`` (its ``summary``) was cut off by ``sig``: so stored, and
    its report's banner says where the monitoring stopped."""
    assert summary["ended_by"] == sig.name and summary["aborted"] is True and summary["duration_s"] >= 5.0
    out = folder / "x.html"
    done = call_monitor_here("report", "1", "--db", folder / "alice.db", "-o", out, env=env)
    assert done.returncode == 0, done.stderr
    at = summary["duration_s"]
    page = out.read_text(encoding="utf-8")
    assert ('<div class="banner stopped">No alerts, but the monitoring stopped at '
            f'{fmt_time(at)} ({at:.1f} s): the call is judged only up to there</div>') in page
    assert 'class="banner unjudged"' not in page and 'class="banner ok"' not in page


def test_unknown_device_is_a_clear_error(pulse, env, tmp_path):
    r = subprocess.run([PY, "-m", "monitor.cli", "run", "--caller", "no-such-mic", "--no-wait-for-source", "--db",
                        str(tmp_path / "e.db")],
                       env=env, capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-mic" in lines[0] and lines[0].startswith("call-monitor: error:")
    assert "softphone.monitor" in lines[0]  # lists what exists


def test_a_caller_given_as_the_softphones_sink_is_waited_for_with_one_line_naming_its_monitor(pulse, env, tmp_path):
    """``--caller softphone`` (the sink, not its monitor): the daemon waits, as for any source not
    there, and its one warning says the name is a sink's and which source is its monitor."""
    d = Daemon(["--caller", "softphone", "--config", os.devnull, "--db", str(tmp_path / "e.db"), "--no-notify",
                "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("waiting for caller source softphone", 30), d.err
    finally:
        d.kill()
    (warning,) = [e for e in d.err if "waiting for caller source" in e]
    assert "softphone is a sink, not a source: its monitor source is softphone.monitor" in warning, warning


def test_a_microphone_missing_at_start_is_waited_for_while_the_caller_is_monitored(pulse, env, tmp_path):
    """The headset is not plugged in when the session starts: the daemon does not refuse to start
    (a service would give up restarting it after a few minutes, the caller unmonitored); it
    monitors the caller, says in one line that the microphone is missing, and takes it once it
    appears."""
    mic = [line.split()[0] for line in subprocess.run(["pactl", "list", "short", "modules"], env=env,
                                                      capture_output=True, text=True).stdout.splitlines()
           if "sink_name=mic" in line][0]
    subprocess.run(["pactl", "unload-module", mic], env=env, check=True)
    d = Daemon(["--caller", "softphone.monitor", "--agent", "mic.monitor", "--db", str(tmp_path / "e.db"),
                "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("waiting for agent source mic.monitor", 20), d.err
        assert d.status_comes(env, lambda st: st["legs"]["caller"]["state"] == "running", 30)
        assert d.status(env)["legs"]["agent"]["state"] == "waiting"
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=mic"], env=env, check=True)
        st = d.wait_running(env, timeout=30)
        assert st["legs"]["agent"]["reopens"] == 0
        assert len([e for e in d.err if "agent source" in e or "agent leg" in e]) == 2, d.err  # missing, found
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0
    finally:
        d.kill()


def _unload_sink(env: dict, name: str) -> None:
    """Unload the sound server's null sink ``name`` (its monitor source goes with it)."""
    modules = subprocess.run(["pactl", "list", "short", "modules"], env=env, capture_output=True, text=True).stdout
    (module,) = [line.split()[0] for line in modules.splitlines() if f"sink_name={name}" in line]
    subprocess.run(["pactl", "unload-module", module], env=env, check=True)


@pytest.mark.parametrize("there_before", [False, True], ids=["a new database", "a database there before"])
def test_a_caller_source_found_that_will_not_open_stops_the_start_leaving_no_database_made(pulse, env, tmp_path,
                                                                                          there_before):
    """The softphone quits while the daemon starts: its sink's monitor, found when the daemon looks
    for its caller's source, is gone by the time the capture opens (held here in between by a webhook
    token file that is a pipe nobody writes to yet; the speech model's load has begun by then). One
    line, exit 2, and nothing the start made is left: no database, no lock file, no folder made for
    them, no process loading the model; a database there before stays byte for byte. (The capture
    opens before the database.)"""
    from monitor.delivery.store import Store
    from monitor.transcription.vosk_models import packaged_model_dirs
    model = packaged_model_dirs(tmp_path / "models") / "vosk-model-small-ko"
    db = tmp_path / "kept" / "e.db" if there_before else tmp_path / "new" / "deeper" / "e.db"
    if there_before:
        db.parent.mkdir()
        with Store.open(db) as store:
            store.end_call(store.start_call("/earlier/call.wav", time.time() - 100), 10.0)
    before = db.read_bytes() if there_before else None
    token = tmp_path / "token"
    os.mkfifo(token)
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--no-wait-for-source",
                             "--model", str(model), "--db", str(db), "--socket", str(tmp_path / "s"), "--no-notify",
                             "--webhook", "http://127.0.0.1:9/hook", "--webhook-token-file", str(token)],
                            env=env, cwd=tmp_path, text=True, stderr=subprocess.PIPE)
    try:
        held = fifo_writer(token)  # the source is found: the start reads the token next, and waits for it
        _unload_sink(env, "softphone")
        os.write(held, b"secret\n")  # the start goes on: the model's load begins, then the capture opens
        os.close(held)
        said = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.wait() == 2, said
    assert "Traceback" not in said, said
    assert wait_for(lambda: not processes_with(str(db)), 30), "the model's load ends with the start"
    assert [line for line in said.splitlines() if "error" in line] == [
        "call-monitor: error: cannot open the caller's input softphone.monitor: source softphone.monitor is gone"], said
    assert not (tmp_path / "s").exists()  # nor its status socket
    if there_before:
        assert sorted(p.name for p in db.parent.iterdir()) == ["e.db"] and db.read_bytes() == before
    else:
        assert not (tmp_path / "new").exists()


def test_sighup_reloads_configuration(pulse, env, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[delivery]\nbell = false\n")
    d = Daemon(["--caller", "softphone.monitor", "--config", str(cfg), "--db", str(tmp_path / "e.db"),
                "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        d.wait_running(env)
        cfg.write_text("[delivery]\nbell = 3\n")
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("configuration not reloaded", 30), d.err
        assert "bell" in [e for e in d.err if "not reloaded" in e][0]
        cfg.write_text("[delivery]\nbell = true\n")
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("configuration reloaded", 30), d.err
        assert d.proc.poll() is None
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(3) == 0
    finally:
        d.kill()


def test_a_daemon_whose_configuration_every_user_may_write_warns_once_and_a_reload_after_a_chmod_says_it_again(
        pulse, env, tmp_path):
    """``--config`` of mode 0666: anyone could point the webhook at their receiver or move the database.
    The start says so in one warning line naming the file, its mode and owner, and runs; a reload of
    the file unchanged does not say it again, one after ``chmod 0646`` says the new mode."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("[delivery]\nbell = false\n")
    cfg.chmod(0o666)
    d = Daemon(["--caller", "softphone.monitor", "--config", str(cfg), "--db", str(tmp_path / "e.db"),
                "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        d.wait_running(env)
        from monitor.files import user_name
        assert [e for e in d.err if "may be changed by every user" in e] == [
            f"call-monitor: warning: {cfg}: the configuration may be changed by every user (mode 0666, owner "
            f"{user_name(os.geteuid())}): any of them could post its alerts to a receiver of their own or move its "
            f"database; make it yours alone: chmod o-w {cfg}"]
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("configuration reloaded", 30), d.err
        cfg.chmod(0o646)
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("(mode 0646", 30), d.err
        assert len([e for e in d.err if "may be changed by every user" in e]) == 2, d.err
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(3) == 0
    finally:
        d.kill()


def test_a_reload_that_moves_the_status_socket_moves_it_and_status_and_call_find_the_daemon_there(
        pulse, env, tmp_path):
    """``daemon.status_socket`` set by a reload: the daemon went on listening at its start's socket,
    while `status` and `call`, which read the configuration, looked only at the new path and said
    that no daemon was running (a softphone's ``call start`` lost). The reload moves the socket: one
    line says where (on the daemon's output, as the reload's line is, not only in its log), the old one is removed, `status` and `call` find the daemon at the new one, and
    the key left out again moves it back."""
    d = start_daemon(env, tmp_path)
    cfg, moved = tmp_path / "c.toml", tmp_path / "sockets" / "moved.sock"
    ask = ("--config", str(cfg), "--db", str(tmp_path / "e.db"))
    try:
        (started,) = [ln for ln in d.err if "; status socket " in ln]
        first = started.rsplit("; status socket ", 1)[1]
        cfg.write_text(f'[daemon]\nstatus_socket = "{moved}"\n')
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("configuration reloaded", 30), d.err
        assert [e for e in d.err if "status socket" in e or "reloaded" in e][1:] == [
            f"call-monitor: status socket moved to {moved} (from {first})", "call-monitor: configuration reloaded"]
        assert moved.is_socket() and not os.path.exists(first)
        # said as the reload is, on the daemon's output too: a daemon run without -v (systemd's unit) logs no info
        assert any(f"status socket moved to {moved} (from {first})" in json.dumps(e) for _, e in d.lines), d.lines
        status = call_monitor_here("status", *ask, "--json", cwd=tmp_path, env=env)
        assert status.returncode == 0 and json.loads(status.stdout)["pid"] == d.proc.pid, status.stderr
        marked = call_monitor_here("call", "start", *ask, cwd=tmp_path, env=env)
        assert (marked.returncode, marked.stderr) == (0, ""), marked.stderr
        cfg.write_text("")
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err(f"status socket moved to {first} (from {moved})", 30), d.err
        assert os.path.exists(first) and not moved.exists()
        assert call_monitor_here("status", *ask, cwd=tmp_path, env=env).returncode == 0
        stop_daemon(d)
        assert not os.path.exists(first)
    finally:
        d.kill()


def test_a_reload_that_moves_the_status_socket_where_it_cannot_listen_keeps_it_and_says_where(pulse, env, tmp_path):
    """A new ``daemon.status_socket`` where a file already is: one warning line naming both paths,
    the daemon's last problem, and the socket stays where the start placed it (asked there with
    --socket); once the way is clear, the next reload moves it and resolves the problem."""
    d = start_daemon(env, tmp_path)
    cfg, taken = tmp_path / "c.toml", tmp_path / "taken.sock"
    taken.write_text("not a socket\n")
    try:
        (started,) = [ln for ln in d.err if "; status socket " in ln]
        first = started.rsplit("; status socket ", 1)[1]
        cfg.write_text(f'[daemon]\nstatus_socket = "{taken}"\n')
        d.proc.send_signal(signal.SIGHUP)
        said = (f"call-monitor: warning: status socket not moved to {taken}: {taken} is there and is no socket (not "
                f"removed): give the daemon another --socket or daemon.status_socket; it stays at {first} until a "
                f"reload places it where it can listen (status and call ask it there with --socket {first})")
        assert d.wait_err(said, 30), d.err
        asked = call_monitor_here("status", "--socket", first, "--json", cwd=tmp_path, env=env)
        assert asked.returncode == 0, asked.stderr
        assert json.loads(asked.stdout)["last_problem"]["message"] == said.removeprefix("call-monitor: warning: ")
        assert taken.read_text() == "not a socket\n"
        taken.unlink()
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("configuration reloaded", 30), d.err
        assert d.err[-2:] == [f"call-monitor: status socket moved to {taken} (from {first})",
                              "call-monitor: configuration reloaded"]
        assert taken.is_socket() and not os.path.exists(first)
        stop_daemon(d)
    finally:
        d.kill()


def _status_text(env, tmp_path) -> str:
    done = call_monitor_here("status", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_refused_reload_is_shown_resolved_once_a_later_reload_applies(pulse, env, tmp_path):
    """`systemctl --user reload callmonitor` with a broken configuration.toml, then again once it is
    fixed: status went on showing the refused reload as the daemon's current problem. It shows it
    as resolved by the reload that applied, with when."""
    d = start_daemon(env, tmp_path)
    try:
        (tmp_path / "c.toml").write_text("[delivery]\nbell = 3\n")
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("configuration not reloaded", 30), d.err
        (refused,) = [ln for ln in _status_text(env, tmp_path).splitlines() if ln.startswith("  last ")]
        assert "configuration not reloaded: " in refused and "delivery.bell" in refused and "resolved" not in refused
        (tmp_path / "c.toml").write_text("[delivery]\nbell = false\n")
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("configuration reloaded", 30), d.err
        (shown,) = [ln for ln in _status_text(env, tmp_path).splitlines() if ln.startswith("  last ")]
        assert shown.startswith(refused) and shown.endswith(": configuration reloaded)"), shown
        assert " (resolved at " in shown
        stop_daemon(d)
    finally:
        d.kill()


def test_a_refused_reload_is_shown_resolved_also_by_a_daemon_started_without_v(pulse, env, tmp_path):
    """The daemon as systemd's unit runs it, without -v: its logging stopped info records before
    the status's keeper of the last problem saw them, so the reload that applied ("configuration
    reloaded", an info line) never resolved the refused one. It does, and stderr still says only the
    warnings."""
    d = start_daemon(env, tmp_path, verbose=False)
    try:
        (tmp_path / "c.toml").write_text("[delivery]\nbell = 3\n")
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err("configuration not reloaded", 30), d.err
        (tmp_path / "c.toml").write_text("[delivery]\nbell = false\n")
        d.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: any(ev.get("message") == "configuration reloaded" for _, ev in d.lines), 30), d.lines
        (shown,) = [ln for ln in _status_text(env, tmp_path).splitlines() if ln.startswith("  last ")]
        assert "configuration not reloaded: " in shown and shown.endswith(": configuration reloaded)"), shown
        stop_daemon(d)
        assert [e for e in d.err if "configuration" in e] == [e for e in d.err if "configuration not reloaded" in e]
        assert all(": warning: " in e or ": error: " in e for e in d.err), d.err
    finally:
        d.kill()


def test_the_agents_word_is_said_on_the_output_of_a_daemon_started_without_v(pulse, env, tmp_path):
    """`call-monitor outcome` (and a notification's button, which keeps the word the same way) said
    to a daemon run as systemd's unit runs it, without -v: the agent's word was an info record alone,
    which that daemon's log drops, so its journal said nothing of it. It is a status line on its
    output, as "configuration reloaded" is, without the note's text (said "with a note")."""
    from monitor.delivery.store import Store
    with Store.open(tmp_path / "e.db") as store:
        alert = stored_alert(store, kind="possible_emergency")
    (tmp_path / "c.toml").write_text("")
    d = Daemon(["--caller", "softphone.monitor", "--config", str(tmp_path / "c.toml"), "--db", str(tmp_path / "e.db"),
                "--no-notify", "--no-transcribe"], env, tmp_path, verbose=False)
    try:
        d.wait_running(env, timeout=20)
        done = call_monitor_here("outcome", str(alert.alert_id), "handled", "--note", "caller Kim", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        said = lambda: [ev["text"] for _, ev in d.lines if "the agent's word: " in ev.get("text", "")]  # noqa: E731
        assert wait_for(said, 30), d.lines
        (line,) = said()
        assert f"the agent's word: alert {alert.alert_id} (possible_emergency, " in line and "handled with a note" in line
        assert "Kim" not in line
        stop_daemon(d)
        assert not any("agent's word" in e for e in d.err), d.err  # said once: the terminal's line, not the log's
    finally:
        d.kill()


def test_each_warning_is_said_once_on_the_terminal_and_every_status_stays_in_the_json_lines(pulse, env, tmp_path):
    """A warning was logged on stderr and printed again as a status line on stdout: twice on the
    terminal and in the journal, which show both streams. The human output leaves out what logging
    says (here, with -v, the info lines too); --jsonl keeps every status for scripts."""
    cfg = tmp_path / "c.toml"
    for jsonl in (False, True):
        cfg.write_text("")
        d = Daemon(["--caller", "softphone.monitor", "--config", str(cfg), "--db", str(tmp_path / f"{jsonl}.db"),
                    "--no-notify", "--no-transcribe", *(["--jsonl"] if jsonl else [])], env, tmp_path)
        try:
            d.wait_running(env, timeout=20)
            cfg.write_text("[delivery]\nbell = 3\n")
            d.proc.send_signal(signal.SIGHUP)
            assert d.wait_err("configuration not reloaded", 30), d.err
            cfg.write_text("")
            d.proc.send_signal(signal.SIGHUP)
            assert d.wait_err("configuration reloaded", 30), d.err
            d.proc.send_signal(signal.SIGTERM)
            assert d.exited(5) == 0, d.err
            assert len([e for e in d.err if "configuration not reloaded" in e]) == 1, d.err
            if jsonl:
                statuses = [(ev["level"], ev["message"].split(":")[0]) for _, ev in d.lines if ev["type"] == "status"]
                assert statuses == [("warning", "configuration not reloaded"), ("info", "configuration reloaded")]
            else:
                assert [ev["text"] for _, ev in d.lines if "configuration" in ev["text"]] == []
        finally:
            d.kill()


def test_a_starting_daemon_says_it_is_starting_and_answers_a_call_mark_in_one_line(pulse, env, tmp_path, hook):
    """The speech model loads for seconds before the daemon listens: `status` said "no daemon
    running" meanwhile. Its status socket opens first and answers that it is starting (`status
    --json`: "starting": true; exit 3, so that `status && call start` waits: the mark would be
    refused), a call mark gets one line, and once it listens the full status (exit 0), whose start
    time is the process's, as while it started (its uptime does not go back by the start's seconds).
    A reload asked for meanwhile (SIGHUP, a service manager's) neither ends the start, as SIGHUP's
    default action would, nor is lost: the daemon reloads once it runs. (The start is held here by a
    webhook token file that is a pipe nobody writes to yet.)"""
    token = tmp_path / "token"
    os.mkfifo(token)
    d = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db"), "--no-notify", "--no-transcribe",
                "--jsonl", "--webhook", hook.url, "--webhook-token-file", str(token)], env, tmp_path)

    def cli(*args):
        return subprocess.run([PY, "-m", "monitor.cli", *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=30)
    try:
        assert wait_for(lambda: cli("status").returncode == 3, 20), d.err  # 3: answering, not listening yet
        text = cli("status")
        assert text.returncode == 3 and text.stdout.startswith(f"call-monitor daemon pid {d.proc.pid}, release {RELEASE}, "
                                                               "starting (opening the capture and "
                                      "the database, ") and text.stdout.rstrip().endswith(": not listening yet")
        starting = cli("status", "--json")
        st = json.loads(starting.stdout)
        assert (starting.returncode, st["running"], st["starting"], st["pid"]) == (3, True, True, d.proc.pid)
        mark = cli("call", "start")
        assert mark.returncode == 1 and len(mark.stderr.splitlines()) == 1
        assert mark.stderr.startswith("call-monitor: error: call start: the daemon is still starting (")
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)  # the start held a second longer
        token.write_text("secret\n")  # the start goes on
        running = d.wait_running(env, timeout=20)  # status exits 0 only now (Daemon.status asserts it)
        assert running["starting"] is False and running["pid"] == d.proc.pid and "caller" in running["legs"]
        assert st["version"] == running["version"] == RELEASE  # the release it runs, which status compares
        assert running["started_at"] == st["started_at"] and running["uptime_s"] >= st["uptime_s"] + 1.0
        assert d.wait_err("configuration reloaded", 30), d.err  # the token pipe not read again: no wait on it
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0, d.err
    finally:
        d.kill()


def _catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (its SigCgt mask)."""
    with open(f"/proc/{pid}/status") as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    return bool(mask >> (signum - 1) & 1)


def _maps(pid: int, library: str) -> bool:
    """Whether process ``pid`` has ``library`` loaded."""
    with open(f"/proc/{pid}/maps") as f:
        return library in f.read()


def _held_model_load(d: Daemon) -> int | None:
    """The pid of daemon ``d``'s crash guard for its speech model (the model's first load, in a
    child process named for it), stopped (SIGSTOP): the model loads no further until it is
    continued (SIGCONT), and the daemon runs meanwhile; None when that process was over before it
    was seen (the load goes on in the daemon then, which maps the speech library)."""
    from monitor.transcription.vosk_models import LOADER_NAME
    held: list[int] = []
    looks = itertools.count(1)

    def stop_it() -> bool:
        for pid, name in child_processes(d.proc.pid).items():
            if name == LOADER_NAME:
                os.kill(pid, signal.SIGSTOP)
                held.append(pid)
                return True
        # a miss is seen within 50 ms (its map read as dear as the look for the process, every 5 ms)
        return d.proc.poll() is not None or (next(looks) % 10 == 0 and _maps(d.proc.pid, "libvosk"))
    assert wait_for(stop_it, 60, every_s=0.005), d.err
    return held[0] if held else None


def _transcribing(d: Daemon, env) -> bool:
    """Whether daemon ``d``'s status says it transcribes within 60 s (its model loaded in the
    background). Each `status` is a process of its own: with ``-v`` its "transcription ready" line
    is waited for first, else its state over the socket (:meth:`Daemon.status_comes`), before `status`
    is asked, twice a second, not at every poll of :func:`wait_for`."""
    if "-v" in d.proc.args and not d.wait_err("transcription ready", 60):
        return False
    return d.status_comes(env, lambda st: st["transcription"], 60, every_s=0.5)


def _end_held(pid: int | None) -> None:
    """The held crash guard, if any, killed (a test that failed while it was stopped leaves none)."""
    if pid is not None and process_alive(pid):
        os.kill(pid, signal.SIGKILL)


ENGLISH_FOR_KOREAN = '[transcription]\nlanguage = "ko"\n[phrases]\nlanguage = "en"\n'
KOREAN_FOR_KOREAN = '[transcription]\nlanguage = "ko"\n[phrases]\nko = ["살려 주세요"]\n'


def test_the_daemon_listens_while_its_speech_model_loads_and_a_reload_meanwhile_applies_to_it(pulse, env, tmp_path,
                                                                                               hook):
    """The daemon loaded its speech model for 7-9 s before it listened, the caller unmonitored. It
    listens at once, acoustic-only while the model loads: its start's line, `status` (text and
    --json) and its heartbeat say so. A reload meanwhile (SIGHUP) neither ends the daemon nor
    waits for the model, nor races it: the model joins with the reloaded phrase lists (an English
    list the start would note against the Korean model, replaced by a Korean one: no note), said
    in one line, and the status says it transcribes. (The model's load is held by stopping its
    crash guard's process; a start whose guard is over before it is seen is tried again.)"""
    from monitor.commands.status import TRANSCRIPTION_LOADING
    from monitor.transcription.vosk_models import packaged_model_dirs
    models = packaged_model_dirs(tmp_path / "models")
    cfg = tmp_path / "c.toml"
    for attempt in range(3):
        cfg.write_text(ENGLISH_FOR_KOREAN + "[delivery]\nheartbeat_s = 0.5\n", encoding="utf-8")
        d = Daemon(["--caller", "softphone.monitor", "--config", str(cfg), "--db", str(tmp_path / f"e{attempt}.db"),
                    "--no-notify", "--model", "ko", "--webhook", hook.url], {**env, "VOSK_MODEL_PATH": str(models)},
                   tmp_path)
        guard = None
        try:
            guard = _held_model_load(d)
            if guard is None:
                continue  # missed: its crash guard was over
            st = d.wait_running(env, timeout=30)
            assert (st["transcription"], st["transcription_loading"], st["transcription_off"]) == (False, True, None)
            assert d.wait_err("listening (caller = softphone.monitor); transcription: loading the speech model "
                              "(acoustic-only until it is ready); status socket ", 30), d.err
            assert f"  {TRANSCRIPTION_LOADING}" in _status_text(env, tmp_path).splitlines()
            hook.heartbeats.clear()
            assert wait_for(lambda: hook.heartbeats, 30), d.err
            assert hook.heartbeats[-1][1]["status"]["transcription_loading"] is True
            cfg.write_text(KOREAN_FOR_KOREAN + "[delivery]\nheartbeat_s = 0.5\n", encoding="utf-8")
            d.proc.send_signal(signal.SIGHUP)
            assert d.wait_err("configuration reloaded", 30), d.err
            os.kill(guard, signal.SIGCONT)  # the model loads on
            assert _transcribing(d, env), d.err
            assert not d.status(env)["transcription_loading"]
            (ready,) = [e for e in d.err if "transcription ready" in e]
            assert ready.startswith(f"call-monitor: transcription ready: the Vosk model at {models / 'vosk-model-small-ko'} "
                                    "(ko; found as VOSK_MODEL_PATH), loaded in "), ready
            assert not [e for e in d.err if "warning:" in e], "the reloaded phrase lists: nothing to note"
            assert TRANSCRIPTION_LOADING not in _status_text(env, tmp_path)
            d.proc.send_signal(signal.SIGTERM)
            assert d.exited(5) == 0, d.err
            return
        finally:
            _end_held(guard)
            d.kill()
    pytest.fail("the speech model's crash guard was over before it was seen, three starts running")


@pytest.mark.parametrize("phase, stop", [("its crash guard's process", signal.SIGTERM),
                                         ("in the daemon", signal.SIGINT)], ids=["crash guard", "in-process"])
def test_a_stop_while_the_speech_model_loads_ends_the_daemon_at_once(pulse, env, tmp_path, phase, stop):
    """SIGTERM or Ctrl-C while the speech model still loads in the background, in its crash
    guard's process or then in the daemon itself (a load that cannot be stopped): the daemon stops
    as it always does, within 2 s, exit 0, no traceback, no lock file left, and nothing of the load
    goes on (the guard killed; the load in the daemon does not keep it alive)."""
    from monitor.transcription.vosk_models import packaged_model_dirs
    db = tmp_path / "e.db"
    d = Daemon(["--caller", "softphone.monitor", "--db", str(db), "--no-notify", "--model", "ko"],
               {**env, "VOSK_MODEL_PATH": str(packaged_model_dirs(tmp_path / "models"))}, tmp_path)
    guard = None
    try:
        guard = _held_model_load(d)
        d.wait_running(env, timeout=30)
        if phase == "in the daemon" and guard is not None:
            os.kill(guard, signal.SIGCONT)
            # the guard's load over (its state, read cheaply), then the daemon's own begins with the library mapped
            assert wait_for(lambda: not process_alive(guard), 60, every_s=0.005), d.err
            assert wait_for(lambda: _maps(d.proc.pid, "libvosk"), 60, every_s=0.005), d.err
        t0 = time.monotonic()
        d.proc.send_signal(stop)
        assert d.exited(5) == 0, d.err
        assert time.monotonic() - t0 < 2.0, f"{time.monotonic() - t0:.1f} s to stop"
    finally:
        _end_held(guard)
        d.kill()
    assert not any("Traceback" in e or "Exception ignored" in e for e in d.err), "\n".join(d.err)
    assert d.err[-1] == f"call-monitor: stopped ({signal.Signals(stop).name})", d.err
    assert wait_for(lambda: not processes_with(str(db)), 30), "the model's load ends with the daemon"
    assert db.exists() and not db.with_name("e.db.lock").exists()


def test_the_wait_for_the_caller_asked_once_the_call_has_ended_is_no_limit_not_an_error(tmp_path):
    """The status thread reads the running call, then asks the daemon how long that call still waits
    for its caller's source; the capture loop may end the call in between: the answer is then None
    (no limit), not an AttributeError in the status thread."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(FIXTURE), store, {})
        assert daemon.pipeline is None
        assert daemon.caller_wait_left_s(30.0) is None


def test_a_reload_applies_the_call_end_silence_and_names_the_keys_it_cannot_apply(tmp_path, monitor_logs):
    """SIGHUP mid-call with a shorter ``daemon.call_end_silence_s`` and another caller source: the
    next 10 s of silence end the call (the start's 20 s no longer hold), and the reload's one line
    says that the caller source applies at the next start instead of claiming it applied."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(FIXTURE, frames=16000 * 20, dtype="float32")
    gap = np.zeros((16000 * 10, 2), np.float32)
    call = tmp_path / "two_calls.wav"
    sf.write(call, np.concatenate([gap, x, gap, x, gap]), sr)
    overrides = {"storage.db": str(tmp_path / "e.db")}
    cfg = load_config(overrides=overrides, user_config=False)
    reloaded = load_config(overrides={**overrides, "daemon.call_end_silence_s": 6.0,
                                      "daemon.caller": "another.monitor"}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(call), store, {}, reload=lambda: reloaded)
        daemon.sinks["sighup"] = lambda ev: ev.type == "cues" and ev.t == 5.0 and daemon.calls == 1 \
            and daemon.request_reload()
        assert daemon.run() == 0
    assert daemon.calls == 2
    (line,) = [m for level, m in monitor_logs if "configuration reloaded" in m]
    assert line == "configuration reloaded, except what applies at the next start: daemon.caller"


def _reloads(tmp_path, configs, at_s=(3.0, 5.0, 7.0, 9.0)):
    """A 12 s call through the in-process daemon, reloaded at each of ``at_s`` with the next of
    ``configs`` (override dicts on the database ``tmp_path/e.db``, or a function giving what a
    reload loads: one raising ConfigError is a configuration refused): the daemon after its run."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(FIXTURE, frames=16000 * 12, dtype="float32")
    call = tmp_path / "call.wav"
    sf.write(call, x, sr)
    overrides = {"storage.db": str(tmp_path / "e.db")}
    loaded = iter([(lambda c=c: load_config(overrides={**overrides, **c}, user_config=False)) if isinstance(c, dict)
                   else c for c in configs])
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(load_config(overrides=overrides, user_config=False), FileSource(call), store, {},
                           reload=lambda: next(loaded)())
        daemon.sinks["sighup"] = lambda ev: ev.type == "cues" and ev.t in at_s and daemon.request_reload()
        assert daemon.run() == 0
    return daemon


def test_a_reload_names_the_keys_that_differ_from_what_runs_not_from_the_last_reload(tmp_path, monitor_logs):
    """The caller source changed by a reload applies at the next start; a reload that puts it
    back as it runs changes nothing there, and its line must not name it again."""
    _reloads(tmp_path, [{"daemon.caller": "another.monitor"}, {"daemon.caller": "another.monitor"}, {},
                        {"daemon.caller": "third.monitor", "rules.slow_speech.persist_s": 9.0}])
    lines = [m for level, m in monitor_logs if "reloaded" in m]
    assert lines == ["configuration reloaded, except what applies at the next start: daemon.caller"] * 2 + \
        ["configuration reloaded", "configuration reloaded, except what applies at the next start: daemon.caller"]


def test_a_reload_that_edits_a_key_the_command_line_sets_says_the_command_line_s_value_wins(tmp_path, monitor_logs):
    """`run --caller softphone.monitor --webhook-url-file url.txt` with a config.toml that names
    another caller and webhook: edited and reloaded, the file's new values do not apply, and one
    warning line names each key, the option that sets it and the file edited, rather than a reload
    that reads as if it applied them. A reload that edits nothing the command line sets says nothing of it."""
    import argparse

    from monitor.commands.common import command_line_options

    conf = tmp_path / "config.toml"
    conf.write_text('[daemon]\ncaller = "headset.monitor"\n[delivery]\nwebhook_url = "http://127.0.0.1:9/a"\n')
    overrides = {"storage.db": str(tmp_path / "e.db"), "daemon.caller": "softphone.monitor",
                 "delivery.webhook_url": "http://127.0.0.1:9/b"}
    args = argparse.Namespace(caller="softphone.monitor", webhook_url_file=str(tmp_path / "url.txt"))
    started = load_config(conf, overrides, user_config=False)
    edits = ['[daemon]\ncaller = "usb.monitor"\n[delivery]\nwebhook_url = "http://127.0.0.1:9/c"\n',
             '[daemon]\ncaller = "usb.monitor"\n[delivery]\nwebhook_url = "http://127.0.0.1:9/c"\n'
             '[rules.slow_speech]\npersist_s = 9.0\n']
    x, sr = sf.read(FIXTURE, frames=16000 * 8, dtype="float32")
    sf.write(tmp_path / "call.wav", x, sr)

    def reload():
        conf.write_text(edits.pop(0))
        return load_config(conf, overrides, user_config=False)
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(started, FileSource(tmp_path / "call.wav"), store, {}, reload=reload,
                           options=command_line_options(args, started.overridden))
        daemon.sinks["sighup"] = lambda ev: ev.type == "cues" and ev.t in (3.0, 5.0) and daemon.request_reload()
        assert daemon.run() == 0
    assert not edits
    assert [(level, m) for level, m in monitor_logs if "reloaded" in m or "command line" in m] == [
        ("info", "configuration reloaded"),
        ("warning", "the command line's value wins over the configuration's edit of daemon.caller (--caller; edited "
                    f"in {conf}), delivery.webhook_url (--webhook-url-file; edited in {conf})"),
        ("info", "configuration reloaded")]
    assert daemon.cfg.daemon.caller == "softphone.monitor" and daemon.cfg.rules.rule("slow_speech").persist_s == 9.0


def test_a_reload_names_the_snapshot_interval_as_applying_at_the_next_start(tmp_path, monitor_logs):
    """The database, with its snapshot interval, is opened at the start: a reload that changes the
    interval cannot apply it, and said "configuration reloaded" as if it had."""
    _reloads(tmp_path, [{"storage.snapshot_every_s": 1.0}], at_s=(3.0,))
    (line,) = [m for level, m in monitor_logs if "reloaded" in m]
    assert line == "configuration reloaded, except what applies at the next start: storage.snapshot_every_s"


def test_a_reloads_distress_phrases_apply_from_the_next_call(tmp_path, monitor_logs, ko_transcription):
    """The phrase lists were read once, with the model, at the start: a reload that changed them
    said "configuration reloaded" and every later call still spotted the old ones."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(FIXTURE, frames=16000 * 8, dtype="float32")
    gap = np.zeros((16000 * 8, 2), np.float32)
    line = tmp_path / "two_calls.wav"
    sf.write(line, np.concatenate([gap, x, gap, x, gap]), sr)
    overrides = {"storage.db": str(tmp_path / "e.db"), "daemon.call_end_silence_s": 5.0,
                 "transcription.language": "ko"}
    cfg = load_config(overrides={**overrides, "phrases.ko": ["도와 주세요"]}, user_config=False)
    reloaded = load_config(overrides={**overrides, "phrases.ko": ["숨을 못 쉬겠어요"]}, user_config=False)
    matchers = {}
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(line), store, {}, reload=lambda: reloaded,
                           transcription=ko_transcription(cfg))
        daemon.sinks["sighup"] = lambda ev: ev.type == "cues" and daemon.calls == 1 and ev.t == 3.0 \
            and daemon.request_reload()
        daemon.sinks["seen"] = lambda ev: ev.type == "cues" and matchers.setdefault(
            daemon.calls, daemon.pipeline.spotter.matcher.phrases)
        assert daemon.run() == 0
    assert matchers == {1: ("도와 주세요",), 2: ("숨을 못 쉬겠어요",)}
    assert [m for level, m in monitor_logs if "reloaded" in m] == ["configuration reloaded"]


def test_a_call_under_way_when_the_speech_model_is_ready_is_transcribed_from_there_and_says_so(tmp_path):
    """The speech model loads in the background while the daemon monitors: a call under way when it
    is ready gets its recognizer there, fed from where the analysis had got to. Its stored words
    begin there, the word cues of a window that began before are unknown (not a caller who said no
    words), and its stored summary and report say where the words began; the next call is
    transcribed from its start. (The capture loop is held until the model is ready, 3 s into the
    first call.)"""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store
    from monitor.report import from_store
    from monitor.transcription.loading import ModelLoading
    from monitor.transcription.setup import TranscriptionSetup
    from monitor.transcription.vosk_models import packaged_model_dirs

    line = two_calls_line(tmp_path / "two_calls.wav", FIXTURE, 10, 8)
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db"), "daemon.call_end_silence_s": 5.0,
                                 "transcription.language": "ko"}, user_config=False)
    model = str(packaged_model_dirs(tmp_path / "models") / "vosk-model-small-ko")
    loading = ModelLoading(cfg, TranscriptionSetup.find(cfg, model), model).start()
    cues: dict[int, list] = {1: [], 2: []}
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(line), store, {}, loading=loading)
        daemon.sinks["held"] = lambda ev: ev.type == "cues" and daemon.calls == 1 and ev.t == 3.0 \
            and wait_for(lambda: loading.done, 60)
        daemon.sinks["seen"] = lambda ev: ev.type == "cues" and cues[daemon.calls].append(ev)
        assert daemon.run() == 0
        second, first = store.list_calls()  # the latest first
        joined = first.summary["words_from_s"]
        assert 0.0 < joined <= 3.5 and first.summary["transcribed"] and second.summary["transcribed"]
        assert "words_from_s" not in second.summary
        words = store.transcript(first.id)
        assert words and all(w.start >= joined for event in words for w in event.words), words
        notes = from_store(store, first.id, cfg, use_audio=False).notes
    assert f"The transcript begins at {fmt_time(joined)} ({joined:.1f} s): the daemon's speech model was still " \
           "loading when the call began" in " ".join(notes)
    assert all(c.words_per_min is None for c in cues[1] if c.t - c.window_s < joined)  # unknown, not none said


def test_a_reload_with_a_phrase_tolerance_the_matcher_refuses_is_not_applied_and_the_daemon_goes_on(
        tmp_path, monitor_logs, ko_transcription):
    """``phrases.tolerance = 1.0`` passed the configuration's bounds ([0, 1]) while the phrase matcher
    takes [0, 1): a reload with it raised ValueError building the matcher and ended the daemon. Now
    the configuration refuses it when loaded, and the reload keeps the running configuration."""
    from monitor.config import ConfigError
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(FIXTURE, frames=16000 * 8, dtype="float32")
    line = tmp_path / "call.wav"
    sf.write(line, x, sr)
    bad = tmp_path / "bad.toml"
    bad.write_text('[transcription]\nlanguage = "ko"\n[phrases]\ntolerance = 1.0\nko = ["도와 주세요"]\n',
                   encoding="utf-8")
    overrides = {"storage.db": str(tmp_path / "e.db"), "transcription.language": "ko"}
    cfg = load_config(overrides={**overrides, "phrases.ko": ["도와 주세요"]}, user_config=False)
    said = f"{bad}: phrases.tolerance: must be < 1, got 1.0 (allowed: 0 to below 1)"
    with pytest.raises(ConfigError, match=f"^{said}$".replace("(", r"\(").replace(")", r"\)")):
        load_config(bad, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(line), store, {},
                           reload=lambda: load_config(bad, overrides, user_config=False),
                           transcription=ko_transcription(cfg))
        daemon.sinks["sighup"] = lambda ev: ev.type == "cues" and ev.t == 3.0 and daemon.request_reload()
        assert daemon.run() == 0
    assert [m for _, m in monitor_logs if "reloaded" in m] == [f"configuration not reloaded: {said}"]
    assert daemon.cfg.phrases.tolerance == cfg.phrases.tolerance


ENGLISH_LIST_FOR_KOREAN = (
    "the distress phrases are the 'en' list (phrases.language = 'en'), while the model transcribes 'ko': none can "
    "match its words, and no distress_phrase alert is raised; list phrases in 'ko' ([phrases] ko = [...] in the "
    "configuration file) and set phrases.language = \"\" (the model's language)")
"""The transcription setup's note for the English list with the Korean model."""


def test_a_reload_that_changes_the_phrase_settings_says_the_transcriptions_notes_again_once(pulse, env, tmp_path):
    """The setup's notes (here: an English phrase list with the Korean model, which can never match)
    were said at the start only: a user who fixed or broke the phrases by a reload heard nothing. A
    reload that changes what they read (the phrase lists and language, transcription.language) says
    them again in the start's words; one that changes nothing of it says nothing more; one that
    fixes them says in one line that they no longer apply, and status shows the note a reload said
    as resolved by it."""
    from monitor.transcription.vosk_models import packaged_model_dirs
    cfg = tmp_path / "c.toml"
    english = '[transcription]\nlanguage = "ko"\n[phrases]\nlanguage = "en"\n'
    korean = '[transcription]\nlanguage = "ko"\n[phrases]\nko = ["살려 주세요"]\n'
    cfg.write_text(english, encoding="utf-8")
    noted = f"call-monitor: warning: {ENGLISH_LIST_FOR_KOREAN}"
    over = ("call-monitor: the transcription's warnings no longer apply: the 'ko' distress phrases (1) are spotted "
            "in the words the model transcribes ('ko')")
    d = Daemon(["--caller", "softphone.monitor", "--config", str(cfg), "--db", str(tmp_path / "e.db"), "--no-notify"],
               {**env, "VOSK_MODEL_PATH": str(packaged_model_dirs(tmp_path / "models"))}, tmp_path)

    def reload(text: str, reloads: int, said: list[str]) -> None:
        """``text`` as the configuration, SIGHUP: the daemon says the lines ``said`` for it, and no
        more (waited for: the notes follow the reload's line, later on a busy machine)."""
        cfg.write_text(text, encoding="utf-8")
        before = len(d.err)
        d.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: sum("configuration reloaded" in e for e in d.err) == reloads, 30), d.err
        until(lambda: len(d.err) - before >= len(said), lambda: f"the reload's {len(said)} line(s): {d.err[before:]}")
        time.sleep(0.3)  # nothing more follows
        assert d.err[before:] == said

    try:
        assert d.wait_err("listening", 60), d.err
        assert _transcribing(d, env), d.err  # its model loaded in the background
        assert [e for e in d.err if "warning:" in e] == [noted], "the start says the note"
        reload(english, 1, ["call-monitor: configuration reloaded"])  # nothing changed: not said again
        reload(english + "[rules.slow_speech]\npersist_s = 9.0\n", 2, ["call-monitor: configuration reloaded"])
        reload(korean, 3, ["call-monitor: configuration reloaded", over])
        reload(korean, 4, ["call-monitor: configuration reloaded"])
        reload(english, 5, ["call-monitor: configuration reloaded", noted])  # said as at the start
        (last,) = [ln for ln in _status_text(env, tmp_path).splitlines() if ln.startswith("  last ")]
        assert last.startswith("  last warning at ") and last.endswith(f": {ENGLISH_LIST_FOR_KOREAN}"), last
        reload(korean, 6, ["call-monitor: configuration reloaded", over])
        (shown,) = [ln for ln in _status_text(env, tmp_path).splitlines() if ln.startswith("  last ")]
        assert shown.startswith(last + " (resolved at ") and shown.endswith(f": {over[len('call-monitor: '):]})")
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(10) == 0, d.err
    finally:
        d.kill()


def test_a_daemon_run_without_v_says_the_transcriptions_notes_at_start_as_its_last_problem_and_their_fix_on_stderr(
        pulse, env, tmp_path):
    """As systemd's unit runs it, without -v: the start's note (an English list with the Korean
    model) was said on stderr but was not the daemon's last problem (`status` showed nothing wrong),
    and the reload that fixed it said so only at -v (an info line), so the journal that showed the
    problem never showed it gone. The start's note is the last problem, and the fix is one plain
    line on stderr at every verbosity, shown resolving it in `status`."""
    from monitor.transcription.vosk_models import packaged_model_dirs
    cfg = tmp_path / "c.toml"
    cfg.write_text('[transcription]\nlanguage = "ko"\n[phrases]\nlanguage = "en"\n', encoding="utf-8")
    over = ("the transcription's warnings no longer apply: the 'ko' distress phrases (1) are spotted in the words "
            "the model transcribes ('ko')")
    d = Daemon(["--caller", "softphone.monitor", "--jsonl", "--config", str(cfg), "--db", str(tmp_path / "e.db"),
                "--no-notify"], {**env, "VOSK_MODEL_PATH": str(packaged_model_dirs(tmp_path / "models"))}, tmp_path,
               verbose=False)
    try:
        d.wait_running(env, timeout=60)
        assert _transcribing(d, env), d.err  # its model loaded in the background
        assert d.err == [f"call-monitor: warning: {ENGLISH_LIST_FOR_KOREAN}"], d.err
        (last,) = [ln for ln in _status_text(env, tmp_path).splitlines() if ln.startswith("  last ")]
        assert last.startswith("  last warning at ") and last.endswith(f": {ENGLISH_LIST_FOR_KOREAN}"), last
        cfg.write_text('[transcription]\nlanguage = "ko"\n[phrases]\nko = ["살려 주세요"]\n', encoding="utf-8")
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_err(over, 30), d.err
        assert d.err[1:] == [f"call-monitor: {over}"], "one plain line, no warning, nor the reload's info line"
        (shown,) = [ln for ln in _status_text(env, tmp_path).splitlines() if ln.startswith("  last ")]
        assert shown.startswith(last + " (resolved at ") and shown.endswith(f": {over})"), shown
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(10) == 0, d.err
    finally:
        d.kill()


def test_a_reloads_problem_is_the_last_until_a_reload_applies_all_of_it_in_status_and_heartbeat(tmp_path, monitor_logs):
    """A refused reload, then one that leaves a key for the next start (the last problem now, in its
    place), then one that applies all of it: the status socket and the supervisor's heartbeat show
    the last as resolved by that reload; a refused reload after it is the current problem again."""
    from monitor.config import ConfigError

    def refused() -> dict:
        raise ConfigError("c.toml: delivery.bell: expected true or false, got 3")
    daemon = _reloads(tmp_path, [refused, {"daemon.caller": "another.monitor"}], at_s=(3.0, 5.0))
    assert daemon.state()["last_problem"]["message"] == ("configuration reloaded, except what applies at the next "
                                                         "start: daemon.caller")
    assert "resolved" not in daemon.state()["last_problem"]
    daemon = _reloads(tmp_path, [refused, {"daemon.caller": "another.monitor"}, {}], at_s=(3.0, 5.0, 7.0))
    for shown in (daemon.state()["last_problem"], daemon.heartbeat_status()["last_error"]):
        assert shown["message"] == "configuration reloaded, except what applies at the next start: daemon.caller"
        assert shown["resolved"] == "configuration reloaded" and shown["resolved_at"] >= shown["at"]
    daemon = _reloads(tmp_path, [refused, {}, refused], at_s=(3.0, 5.0, 7.0))
    assert daemon.state()["last_problem"]["message"] == ("configuration not reloaded: c.toml: delivery.bell: "
                                                         "expected true or false, got 3")
    assert "resolved" not in daemon.state()["last_problem"]


def test_a_reload_to_a_call_audio_folder_it_cannot_write_is_refused_as_at_the_start(tmp_path, monitor_logs):
    """``daemon.write_audio`` on, into a folder that cannot be made: one warning, the running
    configuration stays (a start is refused so, rather than every call losing its audio)."""
    (tmp_path / "a file").write_text("")
    folder = tmp_path / "a file" / "audio"
    daemon = _reloads(tmp_path, [{"daemon.write_audio": True, "daemon.audio_dir": str(folder),
                                  "rules.slow_speech.persist_s": 9.0}], at_s=(3.0,))
    (line,) = [m for level, m in monitor_logs if "reloaded" in m]
    assert line.startswith(f"configuration not reloaded: daemon.audio_dir: cannot write call audio to {folder} (")
    assert daemon.state()["last_problem"]["message"] == line, "status says it too, not only the log"
    assert daemon.cfg.rules.rule("slow_speech").persist_s != 9.0 and not daemon.cfg.daemon.write_audio
    assert not [m for level, m in monitor_logs if "audio not written" in m]


def test_after_a_reload_moved_alerts_from_a_dead_url_to_one_that_answers_status_no_longer_shows_the_outage(
        tmp_path, monitor_logs, hook):
    """The daemon starts with a webhook URL nobody listens at; the call's first five alerts queue
    and the outage is said (a warning: the status's last warning). A reload moves them to a console
    that answers: once they are delivered there, the status's last warning is shown resolved by the
    line that says so, not the old URL's failure as if it went on."""
    from monitor.commands.status import render
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.sinks.webhook import WebhookSink
    from monitor.delivery.store import Store

    dead = Hook()
    dead.close()  # nothing listens there: connection refused
    overrides = {"storage.db": str(tmp_path / "e.db"), "delivery.webhook_url": dead.url}
    cfg = load_config(overrides=overrides, user_config=False)
    reloaded = load_config(overrides={**overrides, "delivery.webhook_url": hook.url}, user_config=False)
    said: dict[str, str] = {}
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, dead.url, backoff_s=0.2, max_backoff_s=0.4, timeout_s=1, poll_s=0.05).start()
        daemon = InProcess(cfg, FileSource(FIXTURE), store, {"webhook": sink}, webhook=sink,
                           reload=lambda: reloaded)

        def reload_then_look(ev) -> None:
            """At the fifth alert, once the webhook has failed five times: the reload; at the next cues,
            once all five are delivered at the new URL: the status, as `call-monitor status` shows it."""
            if ev.type == "alert" and daemon.alerts_total == 5 and "before" not in said:
                assert wait_for(lambda: sink.failures >= 5, 30), sink.failures
                said["before"] = render(daemon.state())
                daemon.request_reload()
            elif ev.type == "cues" and sink.url == hook.url and "after" not in said:  # reloaded
                assert wait_for(lambda: len(hook.received) >= 5 and not sink.pending(), 30), hook.received
                said["after"] = render(daemon.state())

        daemon.sinks["look"] = reload_then_look
        try:
            assert daemon.run() == 0
        finally:
            sink.close()
    def last_problem(status: str) -> str:
        (line,) = [line.strip() for line in status.splitlines() if line.strip().startswith("last ")]
        return line

    assert last_problem(said["before"]).startswith("last warning at ")
    assert f": webhook {dead.url}: alert 1 not delivered (" in last_problem(said["before"])
    back = (f"webhook {hook.url}: delivering the alerts held back while {dead.url} was down (alert 1 delivered "
            "here); the 4 other alert(s) waiting go here now")
    assert last_problem(said["after"]).startswith("last warning at ") and last_problem(said["after"]).endswith(
        f" (resolved at {last_problem(said['after']).split('(resolved at ')[1][:8]}: {back})"), said["after"]
    assert [m for level, m in monitor_logs if level == "warning"][-1] == back


class _CallerLost:
    """A recorded call as a live source whose caller's source gives no input from ``lost_from`` until
    ``back_at`` (source clock): its state ``state`` ("lost", or "waiting" for one missing) in
    :meth:`stats`, its channel silent and marked as not heard, as the live capture fills it in."""

    def __init__(self, path: Path, lost_from: float, back_at: float = float("inf"), state: str = "lost") -> None:
        self.inner, self.lost_from, self.back_at, self.state, self.t = (FileSource(path, block_s=0.5), lost_from,
                                                                        back_at, state, 0.0)
        self.rate, self.legs = self.inner.rate, self.inner.legs

    def _lost(self) -> bool:
        return self.lost_from < self.t <= self.back_at

    def chunks(self):
        caller = self.legs.index("caller")
        for chunk in self.inner.chunks():
            self.t = chunk.t0 + len(chunk.samples) / self.rate
            samples = chunk.samples.copy()
            lost = self._lost()
            if lost:
                samples[:, caller] = 0.0
            yield Chunk(chunk.t0, samples, unheard=((caller, 0, len(samples)),) if lost else ())

    def stop(self) -> None:
        self.inner.stop()

    def stats(self) -> dict[str, dict]:
        lost = self._lost()
        return {leg: {"source": f"{leg}.monitor", "state": self.state if lost and leg == "caller" else "running",
                      "last_error": "source caller.monitor is gone" if lost and leg == "caller" else None}
                for leg in self.legs}


def _on_a_recorded_line(tmp_path, overrides: dict, sink, *, speech_s: int = 12, silence_s: int = 0,
                        lost_from: float = math.inf, reloaded: dict | None = None) -> list[dict]:
    """The fixture call's first ``speech_s`` then ``silence_s`` of silence, its caller's source lost from
    ``lost_from`` on (:class:`_CallerLost`), through the daemon run in this process to the recording's
    end (``overrides`` on its configuration, its database in ``tmp_path``; ``reloaded``: what a reload,
    when the daemon is asked for one, changes); ``sink(daemon, event)`` sees each event as it comes:
    the stored calls."""
    from conftest import stored_calls
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(FIXTURE, frames=16000 * speech_s, dtype="float32")
    line = tmp_path / "call.wav"
    sf.write(line, np.concatenate([x, np.zeros((16000 * silence_s, 2), np.float32)]), sr)
    base = {"storage.db": str(tmp_path / "e.db"), **overrides}
    later = load_config(overrides={**base, **(reloaded or {})}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(load_config(overrides=base, user_config=False), _CallerLost(line, lost_from), store, {},
                           reload=lambda: later)
        daemon.sinks["test"] = lambda ev: sink(daemon, ev)
        assert daemon.run() == 0
    return stored_calls(tmp_path / "e.db")


def _losing_the_caller(tmp_path, overrides: dict, reloaded: dict | None = None) -> list[dict]:
    """A call of 12 s of speech then 48 s of silence, its caller's source lost from 8 s on, through
    the in-process daemon (``overrides`` on its configuration; ``reloaded``: what a reload at 4 s
    of the call changes): the stored calls."""
    def reload_at_4_s(daemon, ev) -> None:
        if reloaded is not None and ev.type == "cues" and ev.t == 4.0:
            daemon.request_reload()
    return _on_a_recorded_line(tmp_path, {"daemon.call_end_silence_s": 3.0, **overrides}, reload_at_4_s,
                               silence_s=48, lost_from=8.0, reloaded=reloaded)


def test_a_reload_applies_the_limit_of_the_wait_for_a_lost_callers_source(tmp_path, monitor_logs):
    """The caller's source lost mid-call with ``daemon.lost_source_end_s`` 600 at the start, 5 s
    after a reload: the call ends 5 s after the loss, saying so, not 48 s later at the capture's
    end; the span without input is stored to the call's end."""
    (call,) = _losing_the_caller(tmp_path, {"daemon.lost_source_end_s": 600.0}, {"daemon.lost_source_end_s": 5.0})
    summary = call["summary"]
    assert summary["ended_by"] == "the caller's source gave no input for 5 s"
    ((a, b),) = summary["caller_no_input"]
    assert b - a == pytest.approx(5.0, abs=0.6) and b == pytest.approx(summary["duration_s"], abs=0.11)
    assert [m for level, m in monitor_logs if "reloaded" in m] == ["configuration reloaded"]


def test_a_lost_source_limit_of_0_waits_for_the_callers_source_for_ever(tmp_path):
    """``daemon.lost_source_end_s = 0``: a call whose caller's source never comes back goes on
    until the capture ends (here: the recording's end; live: `call end` or the daemon's stop)."""
    (call,) = _losing_the_caller(tmp_path, {"daemon.lost_source_end_s": 0.0})
    assert call["summary"]["ended_by"] == "capture ended"
    assert call["summary"]["caller_no_input_s"] == pytest.approx(60.0 - 8.0, abs=0.6)


def test_a_call_begun_by_call_start_while_its_callers_source_is_missing_says_it_waits_before_it_says_it_is_back(
        tmp_path, monitor_logs):
    """`call start` as the capture opens, the caller's source missing for its first second: the
    daemon says the call waits for the source, then that it is back, in that order, once each."""
    import threading
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(FIXTURE, frames=16000 * 6, dtype="float32")
    line = tmp_path / "call.wav"
    sf.write(line, x, sr)
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, _CallerLost(line, -1.0, back_at=1.0, state="waiting"), store, {})
        asker = threading.Thread(target=lambda: daemon.control({"call": "start"}, 30.0))
        asker.start()
        assert wait_for(lambda: daemon._controls.qsize() == 1, 30)  # taken with the first chunk
        assert daemon.run() == 0
        asker.join(30)
    said = [m for _, m in monitor_logs if WAITS in m or BACK in m]
    assert [WAITS in m for m in said] == [True, False], said
    assert said[1].startswith("call 1: the caller's source gives input again, after "), said


def test_the_daemons_status_lines_outside_a_call_carry_the_wall_clock_and_a_calls_lines_its_time(tmp_path):
    """A line from the capture before any call (a source found) is stamped with the wall clock
    (``at``), its ``t`` being no call's time, and names no call (``call_id`` None); a call's lines
    have its time, no ``at`` and its ``call_id``."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(FIXTURE, frames=16000 * 8, dtype="float32")
    line = tmp_path / "call.wav"
    sf.write(line, np.concatenate([np.zeros((16000 * 3, 2), np.float32), x]), sr)
    said: list = []
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(line), store, {"said": lambda ev: ev.type == "status" and said.append(ev)})
        daemon.source_status("info", "caller leg: source caller.monitor found", "caller leg")
        before = time.time()
        assert daemon.run() == 0
    found, started = said[0], said[1]
    assert found.message == "caller leg: source caller.monitor found" and before - 1 <= found.at <= time.time()
    assert found.call_id is None
    assert started.message == "call 1 started" and (started.t, started.at, started.call_id) == (0.0, None, 1)


def test_the_daemons_status_gives_a_calls_speech_cues_only_once_its_window_holds_enough_speech(tmp_path):
    """The status's cues of a call whose cue window holds under half a window's speech (4 s of the
    default 8 s) are None, not a rate over a moment of speech; once it holds that, they are the
    window's measures."""
    from monitor.cue_registry import SPEECH_CUES
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(FIXTURE, frames=16000 * 20, dtype="float32")
    line = tmp_path / "call.wav"
    sf.write(line, x, sr)
    seen: list[tuple[float, dict]] = []
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)

    def status_at(ev) -> None:
        call = daemon.state()["call"]
        if ev.type == "cues" and ev.channel == "caller" and call is not None:  # not the last, as the call ends
            seen.append((ev.speech_s or 0.0, call))

    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(line), store, {"status": status_at})
        assert daemon.run() == 0
    early = [call for speech, call in seen if 0 < speech < 4.0]
    later = [call for speech, call in seen if speech >= 4.0]
    assert early and later and all(call["cues_from_speech_s"] == 4.0 for _, call in seen)
    assert all(call["cues"][name] is None for call in early for name in SPEECH_CUES)
    assert all(call["cues"]["speech_rate_sps"] is not None for call in later)


def test_the_return_of_a_callers_source_is_said_only_after_its_loss_was():
    """A span without the caller's input that began unsaid (the call did not wait for the source)
    ends unsaid; one whose loss was said ends with a "back"."""
    from monitor.daemon import NoInput

    unsaid = NoInput()
    assert [unsaid.follow(False, 0.0), unsaid.follow(True, 0.1)] == ["lost", None]
    said = NoInput()
    assert said.follow(False, 2.0) == "lost"
    said.told = True
    assert [said.follow(False, 3.0), said.follow(True, 4.0), said.told] == [None, "back", False]
    assert unsaid.spans == [(0.0, 0.1)] and said.spans == [(2.0, 4.0)]


def test_the_wait_for_a_callers_source_ends_after_the_limit_and_a_limit_of_0_never():
    """What is left of the wait: the whole limit while none of the source's input is filled in yet,
    the limit less the time not heard, 0 once that has lasted the limit; with a limit of 0, never
    anything left to end."""
    from monitor.daemon import wait_left_s

    assert wait_left_s(None, 10.0, 120.0) == 120.0
    assert [wait_left_s(10.0, t, 120.0) for t in (10.0, 100.0, 130.0, 5000.0)] == [120.0, 30.0, 0.0, 0.0]
    assert [wait_left_s(since, t, 0.0) for since, t in ((None, 10.0), (10.0, 130.0), (10.0, 10 ** 6))] == [None] * 3


def test_a_call_that_fails_is_one_log_line_and_the_daemon_goes_on(tmp_path, monitor_logs):
    """The database disappears under a running call: one error line says so, both calls are still
    monitored (alerts go on, marked as not stored), and the daemon itself keeps running."""
    import soundfile as sf
    from monitor.config import load_config
    from monitor.capture.sources import FileSource
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(ROOT / "audio_fixtures" / "calls" / "normal_8k.wav", frames=8000 * 30, dtype="float32")
    gap = np.zeros((8000 * 12, 2), np.float32)
    call = tmp_path / "two_calls.wav"
    sf.write(call, np.concatenate([gap, x, gap, x, gap]), sr)
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db"), "daemon.call_end_silence_s": 8.0},
                      user_config=False)
    store = Store.open(tmp_path / "e.db")
    def close_the_database(event) -> None:
        if event.type == "cues" and event.t >= 5.0:
            store.close()

    daemon = InProcess(cfg, FileSource(call), store, {"breaker": close_the_database})
    assert daemon.run() == 0
    errors = [msg for level, msg in monitor_logs if level == "error"]
    assert errors and all("\n" not in m and "Traceback" not in m for m in errors)
    assert "alerts go on, marked as not stored" in errors[0]
    assert daemon.calls == 2, "the second call is monitored too"
    assert len(errors) == 2  # the failure, and at the end what could not be written:
    assert "the daemon stops with 0 alert(s) and" in errors[1] and "other record(s)" in errors[1] and "are not stored" in errors[1]


def test_a_labored_caller_played_live_on_two_legs_is_critical_within_40_s(pulse, env, tmp_path, eval_slice):
    """A caller labored from the first word (the corpus slice's real-speech call), the agent on
    the microphone leg and the caller on the softphone leg, played live in real time."""
    label = json.loads((eval_slice / "slice_9001.json").read_text())
    x, r = sf.read(eval_slice / label["files"]["16000"], dtype="float32")
    legs = {}
    for name, channel in (("agent", 0), ("caller", 1)):
        legs[name] = tmp_path / f"{name}.wav"
        sf.write(legs[name], x[:, channel], r)
    hook = Hook()
    d = Daemon(["--caller", "softphone.monitor", "--agent", "mic.monitor", "--jsonl", "--db",
                str(tmp_path / "events.db"), "--webhook", hook.url, "--no-notify", "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        d.wait_running(env)
        t_play = time.monotonic()
        players = [pulse.play(legs["caller"], "softphone"), pulse.play(legs["agent"], "mic")]
        deadline = t_play + label["trouble_onset_s"] + 40.0
        while time.monotonic() < deadline and not any(p["severity"] == "critical" for _, p in hook.received):
            time.sleep(0.1)
        got = [t for t, p in hook.received if p["severity"] == "critical"]
        for p in players:
            p.kill()
    finally:
        d.kill()
        hook.close()
    assert got, f"no critical alert within 40 s of the onset; stderr: {d.err[-5:]}"
    assert got[0] - t_play <= label["trouble_onset_s"] + 40.0


def test_what_a_failing_database_held_back_is_written_even_when_the_capture_fails(tmp_path):
    """The database cannot be opened during a call; then the capture itself fails. The error
    reaches the command, and the call the store guard held is written on the way out."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store
    from monitor.delivery.store_guard import open_or_pending

    x, sr = sf.read(ROOT / "audio_fixtures" / "calls" / "normal_8k.wav", frames=8000 * 20, dtype="float32")
    gap = np.zeros((8000 * 10, 2), np.float32)
    line = tmp_path / "line.wav"
    sf.write(line, np.concatenate([gap, x, gap]), sr)
    db = tmp_path / "e.db"
    db.mkdir()  # a directory where the database should be, until the capture fails
    store = open_or_pending(lambda: Store.open(db), db, retry_s=3600)

    class FailingLine:
        def __init__(self) -> None:
            self._file = FileSource(line)
            self.rate, self.legs = self._file.rate, self._file.legs

        def chunks(self):
            yield from self._file.chunks()
            db.rmdir()
            raise OSError("capture device vanished")

        def stop(self) -> None:
            pass

    cfg = load_config(overrides={"storage.db": str(db), "daemon.call_end_silence_s": 6.0}, user_config=False)
    daemon = InProcess(cfg, FailingLine(), store, {})
    with pytest.raises(OSError, match="vanished"):
        daemon.run()
    calls = store.list_calls()
    assert len(calls) == 1 and calls[0].ended_at is not None and daemon.guard.held == 0
    store.close()



def test_a_capture_that_fails_mid_call_closes_the_call_as_stopped_part_way(tmp_path):
    """The capture fails while a call runs: the error reaches the command, and the call is stored as
    one whose monitoring stopped there (its report's brown banner), not left open nor read as whole."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store
    from monitor.report import from_store

    class FailingLine:
        def __init__(self) -> None:
            self._file = FileSource(ROOT / "audio_fixtures" / "calls" / "normal_8k.wav")
            self.rate, self.legs = self._file.rate, self._file.legs

        def chunks(self):
            for chunk in self._file.chunks():
                if chunk.t0 >= 20.0:
                    raise OSError("capture device vanished")
                yield chunk

        def stop(self) -> None:
            pass

    db = tmp_path / "e.db"
    cfg = load_config(overrides={"storage.db": str(db)}, user_config=False)
    with Store.open(db) as store:
        with pytest.raises(OSError, match="vanished"):
            InProcess(cfg, FailingLine(), store, {}).run()
        (call,) = store.list_calls()
        assert call.ended_at is not None and call.summary == {"aborted": True}
        data = from_store(store, call.id, cfg)
    assert data.stopped is not None and data.stopped.how == "aborted" and data.stopped.at_s <= 20.0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_daemon_stopped_leaves_no_lock_file_and_the_next_one_starts_on_its_database(pulse, env, tmp_path, stop):
    """`call-monitor run` stopped (systemctl stop, Ctrl-C) left its ``e.db.lock`` beside the
    database: harmless to the next start, which takes it over, but a file a user wonders about. A
    stop removes it; the database stays, and the next daemon starts on it."""
    from conftest import start_daemon
    for _ in range(2):
        d = start_daemon(env, tmp_path)
        try:
            assert (tmp_path / "e.db.lock").read_text() == f"{d.proc.pid}\n"
            d.proc.send_signal(stop)
            assert d.exited(5) == 0, d.err
        finally:
            d.kill()
        assert (tmp_path / "e.db").exists() and not (tmp_path / "e.db.lock").exists()


def test_a_storm_of_stop_signals_stops_the_daemon_once_without_a_traceback(pulse, env, tmp_path):
    """SIGINT and SIGTERM one after the other as fast as they can be sent, many arriving while the
    first one's handler still runs: the daemon stops once, says so, and ends. (Each handler
    stopped the source again from inside the one it interrupted: a RecursionError in threading's
    locks.) A signal that comes once its handlers are back to the defaults ends it as such a signal
    does, after its cleanup."""
    d = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db"), "--no-notify", "--no-transcribe"],
               env, tmp_path)
    try:
        d.wait_running(env, timeout=20)
        until, n = time.monotonic() + 2.0, 0
        while time.monotonic() < until and d.proc.poll() is None:
            try:
                os.kill(d.proc.pid, signal.SIGTERM if n % 2 else signal.SIGINT)
            except ProcessLookupError:
                break
            n += 1
        assert d.exited(15) in (0, -signal.SIGTERM, -signal.SIGINT)  # and its last lines read
        assert not any("Traceback" in e or "Error" in e for e in d.err), "\n".join(d.err[-30:])
        assert len([e for e in d.err if e.startswith("call-monitor: stopped")]) == 1, d.err
    finally:
        d.kill()


def test_the_status_lists_no_alert_or_report_of_a_call_a_purge_deleted(tmp_path):
    """Retention deletes a call with everything it holds: the daemon's own daily purge drops the
    call's alerts and report from its status (`status`, `status --json`, the heartbeat's reports)
    at once, and a `call-monitor purge` by another process within seconds, where they were listed
    as if the call were still there to read (`report ID` would find no such call)."""
    from monitor import cli
    from monitor.commands.status import render
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store
    from monitor.delivery.store_rows import LIVE_SOURCE
    from monitor.events import AlertEvent

    sf.write(tmp_path / "quiet.wav", np.zeros((16000 * 2, 2), np.float32), 16000)
    db = tmp_path / "e.db"
    now = time.time()
    cfg = load_config(overrides={"storage.db": str(db), "storage.retention_days": 30}, user_config=False)
    with Store.open(db) as store:
        raised = {}
        for name, age_s in (("last month", 40 * 86400), ("this morning", 3 * 3600), ("just now", 60)):
            call = store.start_call(LIVE_SOURCE, now - age_s)
            store.end_call(call, 50.0, {}, ended_at=now - age_s + 50)
            raised[name] = store.add_alert(call, AlertEvent(t=42.0, kind="long_pauses", message="Long pauses"))
        daemon = InProcess(cfg, FileSource(tmp_path / "quiet.wav"), store, {})
        daemon.emit(list(raised.values()))
        daemon.recent.reports.extend({"call_id": a.call_id, "path": str(tmp_path / f"call-{a.call_id}.html")}
                              for a in raised.values())

        def listed() -> list[int]:
            assert [r["call_id"] for r in daemon.heartbeat_status()["reports"]] == \
                [a["call_id"] for a in daemon.state()["recent_alerts"]]
            return [a["call_id"] for a in daemon.state()["recent_alerts"]]
        assert listed() == [a.call_id for a in raised.values()]
        daemon.recent.purge_old(now)  # retention: the call of last month goes
        assert listed() == [raised["this morning"].call_id, raised["just now"].call_id]
        assert cli.main(["purge", "--older-than", "1h", "--db", str(db)]) == 0  # another process's purge
        daemon.run()
        assert listed() == [raised["just now"].call_id]
        shown = render(daemon.state())
    assert f"call {raised['just now'].call_id} long_pauses at " in shown
    assert f"call {raised['this morning'].call_id} " not in shown


def test_a_live_calls_own_warning_reaches_stderr_named_with_its_call_and_is_over_when_the_call_ends(
        tmp_path, monitor_logs):
    """What the pipeline says of a live call (here: the agent's leg too quiet to measure) is logged
    as the daemon's own lines are, named with its call: the terminal leaves warnings to stderr, so
    an unlogged one reached the agent nowhere. It is the status's last problem while the call runs,
    and resolved by the call's end."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, sr = sf.read(FIXTURE, frames=16000 * 70, dtype="float32")
    x[:, 0] *= 1e-2  # the agent's microphone 40 dB down
    call = tmp_path / "call.wav"
    sf.write(call, np.concatenate([x, np.zeros((16000 * 25, 2), np.float32)]), sr)
    problems: list[dict] = []
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False),
                           FileSource(call), store, {})
        daemon.sinks["watch"] = lambda ev: ev.type == "status" and ev.call_id is not None and \
            problems.append(dict(daemon.state()["last_problem"] or {}))
        assert daemon.run() == 0
    said = [m for level, m in monitor_logs if level == "warning" and "too quiet to measure" in m]
    assert len(said) == 1 and said[0].startswith("call 1: the agent's leg is too quiet to measure"), said
    assert any(p.get("message", "").startswith("call 1: the agent's leg") for p in problems), problems
    assert daemon.state()["last_problem"]["resolved"].startswith("call 1 ended"), daemon.state()["last_problem"]


def test_a_capture_warning_said_while_a_call_runs_names_the_call_on_stderr_and_one_between_calls_none(
        tmp_path, monitor_logs):
    """The capture says its lines from its own threads (a leg's audio dropped, its source lost or
    found). One said while a call runs is logged named with its call, as the daemon's other lines
    of a call are (`call 1: caller leg (...): audio dropped: ...`): on stderr, where the terminal
    leaves warnings, it is the only line of it the agent reads. Between calls it names none; its
    status event carries the call's id (the terminal's and the JSON lines' stamp)."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    dropped = "caller leg (caller.monitor): audio dropped: the analysis runs more than 20 s behind the capture"
    x, sr = sf.read(FIXTURE, frames=16000 * 8, dtype="float32")
    line = tmp_path / "call.wav"
    sf.write(line, np.concatenate([np.zeros((16000 * 3, 2), np.float32), x]), sr)
    said, told = [], []
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(line), store, {})

        def drop_once_in_the_call(ev) -> None:
            if ev.type == "status" and ev.message == dropped:
                said.append(ev)
            elif ev.type == "cues" and ev.call_id is not None and not told:
                told.append(ev.t)
                daemon.source_status("warning", dropped, "caller leg drops")
        daemon.sinks["drops"] = drop_once_in_the_call
        daemon.source_status("warning", dropped, "caller leg drops")
        assert daemon.run() == 0
    assert [m for level, m in monitor_logs if level == "warning" and m.endswith(dropped)] == [
        dropped, f"call 1: {dropped}"]
    assert [ev.call_id for ev in said] == [None, 1]
    assert daemon.state()["last_problem"]["message"] == f"call 1: {dropped}"


def test_a_restarted_daemon_s_status_lists_the_alerts_of_today_s_earlier_calls_with_their_acknowledgements(
        tmp_path):
    """After a restart (an upgrade, a reboot mid-shift) `status` still lists the recent alerts the
    database holds of today's live calls, each with a supervisor's acknowledgement, also one the
    console told under the id an alert was posted under from memory; not yesterday's, nor a
    replayed recording's. An acknowledgement the console tells after the restart of such an alert
    is matched to it by either id, and a purge drops them as it drops the daemon's own."""
    from monitor import cli
    from monitor.commands.status import render
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store
    from monitor.delivery.store_rows import LIVE_SOURCE
    from monitor.events import AlertAckedEvent, AlertEvent

    sf.write(tmp_path / "quiet.wav", np.zeros((16000 * 2, 2), np.float32), 16000)
    db, now = tmp_path / "e.db", time.time()
    memory_id = (1 << 62) + 12345
    cfg = load_config(overrides={"storage.db": str(db)}, user_config=False)
    with Store.open(db) as store:
        def raised(source: str, at: float, kind: str, severity: str = "warning") -> AlertEvent:
            call = store.start_call(source, at - 30)
            alert = store.add_alert(call, AlertEvent(t=30.0, kind=kind, severity=severity, message=kind), at)
            store.end_call(call, 60.0, {}, ended_at=at + 30)
            return alert
        yesterday = raised(f"{LIVE_SOURCE}caller=x", now - 86400 - 120, "weak_voice")
        replayed = raised("calls/labored.wav", now - 90, "slow_speech")
        critical = raised(f"{LIVE_SOURCE}caller=x", now - 60, "possible_emergency", "critical")
        from_memory = raised(f"{LIVE_SOURCE}caller=x", now - 30, "long_pauses")
        later = raised(f"{LIVE_SOURCE}caller=x", now - 10, "breathy_voice")
        store.enqueue_delivery(from_memory.alert_id, "http://127.0.0.1:9/hook", posted_id=memory_id)
        store.add_ack(critical.alert_id, critical.call_id, "Dana", now - 50)
        store.add_ack(memory_id, from_memory.call_id, "Eve", now - 25)
        assert (store.posted_under(memory_id), store.posted_under(memory_id + 1)) == (from_memory.alert_id, None)
        daemon = InProcess(cfg, FileSource(tmp_path / "quiet.wav"), store, {})
        assert daemon.run() == 0
        daemon.acked(AlertAckedEvent(t=30.0, kind="breathy_voice", alert_id=later.alert_id, call_id=later.call_id,
                                     by="Lee", acked_at=now - 5))
        daemon._drain_acks()
        recent = daemon.state()["recent_alerts"]
        assert [(a["alert_id"], a["call_id"], a.get("acked_by")) for a in recent] == [
            (critical.alert_id, critical.call_id, "Dana"), (from_memory.alert_id, from_memory.call_id, "Eve"),
            (later.alert_id, later.call_id, "Lee")]
        assert recent[0]["at"] == pytest.approx(now - 60) and recent[0]["t"] == 30.0
        shown = render(daemon.state())
        assert f"call {critical.call_id} possible_emergency at 30 s, acknowledged by supervisor Dana at " \
            in shown
        assert f"call {from_memory.call_id} long_pauses at 30 s, acknowledged by supervisor Eve at " in shown
        assert f"call {yesterday.call_id} " not in shown and f"call {replayed.call_id} " not in shown
        assert cli.main(["purge", "--older-than", "45s", "--db", str(db)]) == 0  # another process's purge
        daemon.recent._purged_checked = -math.inf
        daemon.recent.forget_purged()
        assert [a["alert_id"] for a in daemon.state()["recent_alerts"]] == [later.alert_id]


def test_the_status_gives_null_acked_by_and_acked_at_of_a_recent_alert_not_acknowledged_and_names_the_daemon(
        tmp_path):
    """``status --json``'s recent alerts gave ``acked_by`` and ``acked_at`` only once acknowledged, where
    ``alerts --jsonl`` and the console give null: both are there, null, for one not acknowledged (recalled
    from the database at the start, or raised since); the status names the daemon id and the agent, as
    its posts do, with no webhook set too (the database's id, null while none was made)."""
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store
    from monitor.delivery.store_rows import LIVE_SOURCE
    from monitor.events import AlertEvent

    sf.write(tmp_path / "quiet.wav", np.zeros((16000 * 2, 2), np.float32), 16000)
    db, now = tmp_path / "e.db", time.time()
    cfg = load_config(overrides={"storage.db": str(db), "delivery.agent_name": "alice"}, user_config=False)
    with Store.open(db) as store:
        call = store.start_call(f"{LIVE_SOURCE}caller=x", now - 60)
        store.add_alert(call, AlertEvent(t=30.0, kind="weak_voice", severity="warning", message="weak"), now - 30)
        store.end_call(call, 60.0, {}, ended_at=now)
        daemon = InProcess(cfg, FileSource(tmp_path / "quiet.wav"), store, {})
        assert daemon.run() == 0
        daemon.recent.raised(AlertEvent(t=1.0, kind="slow_speech", severity="warning", message="slow"), None, now)
        assert daemon.state()["daemon_id"] is None  # none made yet: nothing posted from this database
        daemon_id = store.instance_id()  # made as a webhook's first post makes it
        state = daemon.state()
        assert [(a["kind"], a["acked_by"], a["acked_at"]) for a in state["recent_alerts"]] == [
            ("weak_voice", None, None), ("slow_speech", None, None)]
        assert (state["daemon_id"], state["agent"]) == (daemon_id, "alice")


def test_an_alert_posted_from_memory_while_the_database_failed_is_shown_acknowledged_in_status(tmp_path, hook):
    """The database fails as a critical alert is raised: the webhook posts it from memory under an
    id of its own, and the console's acknowledgement names that id. The status lists the
    acknowledgement on the alert; once the database works again the alert is listed by its
    database id, and `alerts` says the acknowledgement too. A warning held meanwhile and written
    before the daemon emitted it (within the batch that raised it) is posted under its database id,
    and its acknowledgement found by that."""
    import contextlib
    import io
    from monitor import cli
    from monitor.commands.status import render
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.sinks.webhook import MEMORY_ID_BASE, WebhookSink
    from monitor.delivery.store import Store
    from monitor.delivery.store_rows import LIVE_SOURCE
    from monitor.delivery.store_guard import open_or_pending
    from monitor.events import AlertAckedEvent, AlertEvent

    sf.write(tmp_path / "quiet.wav", np.zeros((16000 * 2, 2), np.float32), 16000)
    db = tmp_path / "e.db"
    db.mkdir()  # a directory where the database should be: it fails until the test removes it
    store = open_or_pending(lambda: Store.open(db), db, retry_s=3600)
    webhook = WebhookSink(store, hook.url, poll_s=0.05).start()
    try:
        cfg = load_config(overrides={"storage.db": str(db)}, user_config=False)
        daemon = InProcess(cfg, FileSource(tmp_path / "quiet.wav"), store, {"webhook": webhook}, webhook=webhook)
        token = daemon.guard.start_call(f"{LIVE_SOURCE}caller=x")
        alert = daemon.guard.add_alert(token, AlertEvent(t=92.0, kind="possible_emergency", severity="critical",
                                                         message="Possible emergency"))
        daemon.emit([alert], token)
        assert not alert.stored and wait_for(lambda: hook.received, 30)
        posted_as = hook.received[0][1]["alert_id"]
        assert posted_as >= MEMORY_ID_BASE
        daemon.acked(AlertAckedEvent(t=92.0, kind="possible_emergency", severity="critical", alert_id=posted_as,
                                     by="Dana", acked_at=time.time()))
        daemon._drain_acks()
        (recent,) = daemon.state()["recent_alerts"]
        assert (recent["alert_id"], recent["call_id"], recent["acked_by"]) == (None, None, "Dana")
        assert " call (not stored yet) possible_emergency at 92 s, acknowledged by supervisor Dana at " \
            in render(daemon.state())
        warning = daemon.guard.add_alert(token, AlertEvent(t=97.0, kind="long_pauses", message="Long pauses"))
        db.rmdir()
        store.try_open(force=True)
        assert daemon.guard.retry(force=True)  # the call, the alerts and the acknowledgement written
        daemon.emit([warning], token)
        stored = [s.event.alert_id for s in store.list_alerts()]
        posted = lambda: {b["kind"]: b["alert_id"] for _, b in hook.received}  # noqa: E731 - the critical's twice
        assert wait_for(lambda: "long_pauses" in posted() and len(store.deliveries()) == 2, 30)
        warning_as = posted()["long_pauses"]  # its database's id, or one of its own if a post from memory began first
        warning_call = [b["call_id"] for _, b in hook.received if b["kind"] == "long_pauses"][-1]
        daemon.acked(AlertAckedEvent(t=97.0, kind="long_pauses", alert_id=warning_as, call_id=warning_call, by="Lee",
                                     acked_at=time.time()))
        daemon._drain_acks()
        assert [(a["alert_id"], a["acked_by"]) for a in daemon.state()["recent_alerts"]] == [
            (stored[0], "Dana"), (stored[1], "Lee")]
    finally:
        webhook.close()
    listed = io.StringIO()
    with contextlib.redirect_stdout(listed):
        assert cli.main(["alerts", "--db", str(db), "--jsonl"]) == 0
    rows = [json.loads(line) for line in listed.getvalue().splitlines()]
    assert [(r["posted_id"], r["acked_by"]) for r in rows] == [(posted_as, "Dana"), (warning_as, "Lee")]
    store.close()


FREED_AND_TRIMMED = """
from monitor.daemon import give_back_freed_memory

def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024

blocks = [bytes(4000) + bytes([i % 256]) for i in range(20000)]  # 80 MB from malloc, as a call's recognizer takes it
pin = bytes(4000) + b"x"  # above them on the heap: freeing them leaves the heap's top in place
base = rss_mb()
del blocks
freed = rss_mb()
print(give_back_freed_memory(), round(base - freed), round(freed - rss_mb()))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS read from /proc")
def test_the_memory_a_call_freed_goes_back_to_the_system_when_it_ends():
    """glibc keeps the heap a call's recognizer and analysis freed: the daemon with the Korean model
    held 799 MB after a 4 min call, 603 MB once trimmed, and its idle size crept up with each long
    call. Between calls the daemon hands it back (:func:`give_back_freed_memory`)."""
    r = subprocess.run([PY, "-c", FREED_AND_TRIMMED], cwd=ROOT, capture_output=True, text=True, timeout=60)
    trimmed, kept_when_freed, given_back = r.stdout.split()
    assert trimmed == "True", r.stderr
    assert float(kept_when_freed) < 20 and float(given_back) > 60, r.stdout


def test_a_database_path_that_can_hold_no_database_leaves_the_daemon_monitoring_and_says_so(pulse, env, tmp_path):
    """`--db` naming a folder: the daemon starts all the same (a failing database never silences an
    alert), says in one error line that it cannot use the database, and monitors."""
    (tmp_path / "e.db").mkdir()
    d = start_daemon(env, tmp_path)
    try:
        assert d.wait_err("error", 30), d.err
        said = [line for line in d.err if "error" in line]
        assert said[0].startswith(f"call-monitor: error: {tmp_path / 'e.db'}"), said
        assert d.status(env)["legs"]["caller"]["state"] == "running", said
        stop_daemon(d)
    finally:
        d.kill()


def mark_now(daemon, what: str) -> "concurrent.futures.Future[dict]":
    """``call-monitor call WHAT`` (start, end, hold, resume) queued as the status socket's thread queues
    it (a recording has no clock: the capture loop takes it with its next chunk); its answer to come."""
    answer: concurrent.futures.Future[dict] = concurrent.futures.Future()
    daemon._controls.put(SocketMark(-math.inf, what, answer))
    return answer


@pytest.mark.parametrize("resumed", [False, True])
def test_a_callers_source_lost_during_a_long_hold_is_waited_for_from_the_loss_not_from_the_holds_start(
        tmp_path, resumed):
    """`call hold` 2 s into the call, the caller's source lost 8 s into the capture, ``daemon.lost_source_end_s``
    5 s: the hold's time is no time the source gave no input, so the call waits 5 s from the loss (it ended
    at once as the source was lost, the hold's 6 s counted as the wait), also where the hold is resumed after
    the loss (not 5 s from the resume)."""
    held: list[concurrent.futures.Future] = []

    def hold_at_2_s(daemon, ev) -> None:  # the mark at call time 2 s
        if ev.type == "cues" and ev.t == 2.0 and not held:
            held.append(mark_now(daemon, "hold"))
        if resumed and ev.type == "cues" and ev.t == 8.0:  # taken a second or so after the loss
            mark_now(daemon, "resume")
    (call,) = _on_a_recorded_line(tmp_path, {"daemon.call_end_silence_s": 3.0, "daemon.lost_source_end_s": 5.0},
                                  hold_at_2_s, silence_s=48, lost_from=8.0)
    assert held[0].result(0)["message"] == "call 1 on hold: the caller's leg is not judged until `call resume`"
    summary = call["summary"]
    assert summary["ended_by"] == "the caller's source gave no input for 5 s"
    ((a, b),) = summary["caller_no_input"]  # the hold, and the wait after the loss joined to it
    assert a < 4.0 and b == pytest.approx(summary["duration_s"], abs=0.11)
    assert summary["duration_s"] == pytest.approx(8.0 + 5.0, abs=0.6)  # the call begins near the capture's start


def test_a_call_on_hold_is_said_to_end_at_call_end_or_after_the_silence_once_resumed(tmp_path):
    """Where the silence cuts the calls, a call on hold (`call hold`) is not ended by the hold's silence:
    `status` says it ends at `call end`, or after the end silence once resumed, not after the end silence."""
    from monitor import daemon_status
    said: dict[float, str] = {}

    def hold_at_2_s_asking_its_end(daemon, ev) -> None:  # the mark at call time 2 s
        if ev.type == "cues" and ev.t in (1.0, 4.0):
            said[ev.t] = daemon_status.state(daemon)["call"]["ends"]
        if ev.type == "cues" and ev.t == 2.0:
            mark_now(daemon, "hold")
    _on_a_recorded_line(tmp_path, {"daemon.call_end_silence_s": 3.0}, hold_at_2_s_asking_its_end, speech_s=8)
    assert said == {1.0: "after 3 s of silence",
                    4.0: "at `call-monitor call end`, or after 3 s of silence once resumed (by itself 900 s into the "
                         "hold)"}


def test_a_hold_never_resumed_is_lifted_after_the_longest_hold_and_the_silence_ends_the_call_again(tmp_path, caplog):
    """`call hold` 2 s into the call and no `call resume` (the hook missed it, the caller hung up on hold),
    ``daemon.max_hold_s`` 10 s, where the silence cuts the calls: the hold is lifted 10 s into it with one
    warning line naming the call and the limit, `status` no longer says it is on hold, and the silence
    ends the call 3 s later (it stayed open to the capture's end, every later caller unheard)."""
    from monitor import daemon_status
    held_s: dict[float, float | None] = {}

    def hold_at_2_s(daemon, ev) -> None:  # the mark at call time 2 s
        if ev.type == "cues" and ev.t in (4.0, 13.0):
            held_s[ev.t] = daemon_status.state(daemon)["call"]["hold_s"]
        if ev.type == "cues" and ev.t == 2.0:
            mark_now(daemon, "hold")
    with caplog.at_level(logging.WARNING, logger="monitor"):
        (call,) = _on_a_recorded_line(tmp_path, {"daemon.call_end_silence_s": 3.0, "daemon.max_hold_s": 10.0},
                                      hold_at_2_s, speech_s=8, silence_s=30)
    assert held_s[4.0] is not None and held_s[13.0] is None
    lifted = [r.getMessage() for r in caplog.records if "max_hold_s" in r.getMessage()]
    assert lifted == ["call 1: on hold for 10 s (daemon.max_hold_s) and `call-monitor call resume` never said: "
                      "the hold is lifted, the caller's leg heard again"]
    summary = call["summary"]
    assert summary["ended_by"].startswith("3 s of silence"), summary["ended_by"]
    ((a, b), *_) = summary["caller_no_input"]
    assert a < 4.0 and b == pytest.approx(a + 10.0, abs=0.6)  # the mark taken with the chunk after 2 s
    assert summary["caller_on_hold"] == [[a, b]]  # the hold, its lift the end of it
    assert summary["duration_s"] == pytest.approx(b + 3.0, abs=0.6)


def test_a_call_started_while_the_last_one_is_on_hold_starts_without_the_hold(tmp_path):
    """`call hold` 2 s into a call and `call start` 2 s later (the next call, no resume said): the call
    the start ends ends its hold, stored as its time on hold (`caller_on_hold`) to its end; the new one
    is not on hold, its caller heard from its start."""
    from monitor import daemon_status
    held_s: dict[tuple[int, float], float | None] = {}

    def hold_then_start(daemon, ev) -> None:  # the marks at 2 s and 4 s
        if ev.type != "cues":
            return
        if (running := daemon_status.state(daemon)["call"]) is not None:
            held_s[(daemon.calls, ev.t)] = running["hold_s"]
        if daemon.calls == 1 and ev.t == 2.0:
            mark_now(daemon, "hold")
        if daemon.calls == 1 and ev.t == 4.0:
            mark_now(daemon, "start")
    first, second = _on_a_recorded_line(tmp_path, {}, hold_then_start)
    assert held_s[(1, 4.0)] is not None
    assert [s for (n, _), s in held_s.items() if n == 2] and all(s is None for (n, _), s in held_s.items() if n == 2)
    assert first["summary"]["ended_by"] == "call-monitor call start (the next call)"
    ((a, b),) = first["summary"]["caller_on_hold"]  # the hold to the call's end, apart from its source's input
    assert a < 4.0 and b == first["summary"]["caller_no_input"][-1][1] == pytest.approx(first["summary"]["duration_s"], abs=0.1)
    assert not second["summary"].get("caller_no_input") and not second["summary"].get("caller_on_hold")
