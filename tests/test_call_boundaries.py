"""Where live calls begin and end: the softphone's streams, explicit marks, and the silence.

The live tests run `call-monitor run` on a private PulseAudio server: a softphone is `paplay
--device=softphone` (one stream per call, made when it starts, removed when it ends) or, for a
softphone whose stream plays all the time, one `pacat` fed by the test. The marks (`call start`,
`call end`) and `status` looks made beside a daemon run in the test's process
(:func:`conftest.call_monitor_here`, in the daemon's environment): what they say and their exit status,
not their process (``Daemon.status`` still asks in a process of its own).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import select
import socket
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import soundfile as sf

from conftest import (CALLS, PY, ROOT, SHORT_BASELINE, STREAM_ENDED, Daemon, call_monitor_here, portaudio_afresh,
                      socket_places, start_daemon, stop_daemon, stored_calls, until, wait_for)
from corked import CorkableStream

from monitor import daemon_status
from monitor.capture.boundaries import Action, StreamBoundaries
from monitor.capture.live import MAX_CHUNK_S, LiveSource
from monitor.capture.sources import Chunk, StreamsMark
from monitor.capture.streams import SinkStreams

def _caller_speech(name: str, path: Path, seconds: float = 10.0, start_s: float = 7.0) -> Path:
    """``seconds`` of the caller's leg of the fixture call ``name``, as a mono file, from half a
    second before the caller's first words (the default 10 s: with :data:`SHORT_BASELINE`, the
    normal and the slow caller's baselines freeze at 7 and 8 s of call time, as replay of these
    files shows)."""
    x, r = sf.read(CALLS / f"{name}_16k.wav", dtype="float32")
    sf.write(path, x[int(start_s * r):int((start_s + seconds) * r), 1], r)
    return path


def both_calls_played_out(d: Daemon, first: subprocess.Popen, second: subprocess.Popen) -> None:
    """Wait for the two calls' streams (``first``, ``second``) to play out and for the daemon ``d``
    to say the second call ended; stop it."""
    first.wait(20)
    second.wait(20)
    assert d.wait_err("call 2 ended", 30), d.err
    stop_daemon(d)


def _call(env, *args: str) -> subprocess.CompletedProcess:
    """``call-monitor call ARGS`` in environment ``env``, in this process (:func:`conftest.call_monitor_here`:
    what it says and its exit status, without a fresh interpreter's start)."""
    return call_monitor_here("call", *args, env=env)


@contextlib.contextmanager
def _stream_playing_all_the_time(pulse, rate: int) -> Iterator[subprocess.Popen]:
    """A softphone whose one stream into the sink plays from before the daemon starts and never
    ends (``pacat`` fed by the test through its stdin: nothing fed, it plays silence)."""
    softphone = subprocess.Popen(["pacat", "--playback", "--device=softphone", "--raw", "--format=float32le",
                                  f"--rate={rate}", "--channels=1"], env=pulse.full_env(), stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # its stream is there before the daemon
        yield softphone
    finally:
        softphone.kill()
        softphone.wait(5)


def _one_call_its_stream_ended(d: Daemon, db: Path) -> dict:
    """Once the daemon says call 1 ended, stop it: the only call in ``db``, ended by its stream."""
    assert d.wait_err("call 1 ended", 30), d.err
    time.sleep(1.0)
    stop_daemon(d)
    (call,) = stored_calls(db)
    assert call["summary"]["ended_by"] == STREAM_ENDED
    return call


# ------------------------------------------------------------------ the rules


def test_a_stream_appearing_between_calls_starts_one_and_its_end_ends_it_after_the_grace():
    b = StreamBoundaries(grace_s=1.0)
    assert b.on_mark(StreamsMark(0.0, frozenset()), in_call=False) is None  # what plays at the start
    assert not b.speech_may_start(), "no stream plays: what is heard is the agent's microphone"
    assert b.on_mark(StreamsMark(3.0, frozenset({7})), in_call=False) is Action.START
    b.call_started(bounded=True)
    assert not b.silence_may_end(), "the call's stream decides, not the silence"
    b.on_mark(StreamsMark(20.0, frozenset()), in_call=True)
    assert not b.stream_ended(20.9)
    assert b.stream_ended(21.0) and not b.stream_ended(21.5)


def test_a_stream_made_again_within_the_grace_is_the_same_call_and_a_second_stream_is_the_next_call():
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
    assert b.on_mark(StreamsMark(1.0, frozenset({7})), in_call=False) is Action.START
    b.on_mark(StreamsMark(5.0, frozenset()), in_call=True)  # a codec change: removed ...
    assert b.on_mark(StreamsMark(5.4, frozenset({8})), in_call=True) is None  # ... and made again
    assert not b.stream_ended(9.0) and b.bounded
    assert b.on_mark(StreamsMark(9.0, frozenset({8, 9})), in_call=True) is Action.SPLIT
    assert b.split_due(11.9) is None and b.split_due(12.0) is True and not b.split_pending


def test_a_stream_beside_the_calls_gone_within_3_s_leaves_the_call_whole():
    """A call-waiting tone (stream 9 beside the call's stream 8 for 2 s) splits nothing."""
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset({8})), in_call=False)
    b.call_started(bounded=True)
    assert b.on_mark(StreamsMark(5.0, frozenset({8, 9})), in_call=True) is Action.SPLIT
    assert b.split_due(6.0) is None and b.split_pending
    b.on_mark(StreamsMark(7.0, frozenset({8})), in_call=True)
    assert b.split_due(7.1) is False and not b.split_pending and b.split_due(9.0) is None


def test_without_stream_information_the_silence_decides():
    b = StreamBoundaries(grace_s=1.0)
    assert b.speech_may_start() and b.silence_may_end()  # a device, a file: no marks at all
    b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
    b.on_mark(StreamsMark(1.0, frozenset({7})), in_call=False)
    b.call_started(bounded=True)
    b.on_mark(StreamsMark(4.0, None, "sink softphone is gone"), in_call=True)
    assert b.silence_may_end() and b.speech_may_start()
    # known again (the server came back): what plays was not seen to begin, so the silence decides
    assert b.on_mark(StreamsMark(9.0, frozenset({12})), in_call=True) is None
    assert b.silence_may_end()


def test_a_new_stream_after_the_sink_came_back_is_the_next_call_while_the_calls_own_plays_on_elsewhere():
    """The softphone's sink unloaded mid-call: the server moves the call's stream 7 to another sink,
    where it plays on; the sink made again, the next caller's stream 12 begins in it. That is the
    next call (as a stream beside the call's own is), not the running call going on: the next
    caller was judged against the first one's baseline, in the first one's call. The call's own
    stream moved back is the same call, and so is a new stream once the call's own is gone from the
    server (the softphone made it again) or the server itself went (its streams went with it)."""
    def unloaded_and_back(b: StreamBoundaries, why: str = "sink softphone is gone") -> None:
        b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
        b.on_mark(StreamsMark(1.0, frozenset({7})), in_call=False)
        b.call_started(bounded=True)
        b.on_mark(StreamsMark(20.0, None, why, frozenset({7} if why != "the sound server does not answer" else ())),
                  in_call=True)
        assert b.on_mark(StreamsMark(30.0, frozenset(), "", frozenset({7})), in_call=True) is None

    b = StreamBoundaries(grace_s=1.0)
    unloaded_and_back(b)
    assert b.on_mark(StreamsMark(39.0, frozenset({12}), "", frozenset({7})), in_call=True) is Action.SPLIT
    assert b.split_due(41.9) is None and b.split_due(42.0) is True
    moved_back = StreamBoundaries(grace_s=1.0)
    unloaded_and_back(moved_back)
    assert moved_back.on_mark(StreamsMark(31.0, frozenset({7})), in_call=True) is None
    assert moved_back.bounded and not moved_back.split_pending
    made_again = StreamBoundaries(grace_s=1.0)
    unloaded_and_back(made_again)
    assert made_again.on_mark(StreamsMark(31.0, frozenset({12}), "", frozenset()), in_call=True) is None
    assert made_again.bounded and not made_again.split_pending
    server_back = StreamBoundaries(grace_s=1.0)
    unloaded_and_back(server_back, "the sound server does not answer")
    assert server_back.on_mark(StreamsMark(31.0, frozenset({12}), "", frozenset({7})), in_call=True) is None
    assert server_back.bounded and not server_back.split_pending


def test_the_streams_of_a_call_ended_by_a_mark_start_no_call_by_speech():
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
    b.on_mark(StreamsMark(1.0, frozenset({7})), in_call=False)
    b.call_started(bounded=True)
    b.ended_by_mark()  # call-monitor call end while the stream still plays
    assert not b.speech_may_start()
    assert b.on_mark(StreamsMark(9.0, frozenset({7, 8})), in_call=False) is Action.START
    assert b.speech_may_start()


def test_a_stream_that_was_playing_before_the_call_leaves_the_call_to_the_silence():
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset({3})), in_call=False)  # a softphone whose stream never ends
    assert b.speech_may_start() and b.silence_may_end()


def test_a_stream_that_went_between_calls_does_not_end_the_next_call_started_by_a_mark():
    """A CRM's flow: the stream starts call 1, `call end`, the stream goes, `call start`: the
    stream that went before call 2 began does not end it."""
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
    assert b.on_mark(StreamsMark(1.0, frozenset({7})), in_call=False) is Action.START
    b.call_started(bounded=True)
    b.ended_by_mark()  # call end
    b.on_mark(StreamsMark(5.0, frozenset()), in_call=False)  # the stream goes, no call running
    b.call_started(bounded=False)  # call start, nothing playing
    assert not b.stream_ended(5.5) and not b.stream_ended(60.0)
    assert b.silence_may_end()



def test_call_start_is_marked_by_the_streams_only_when_one_playing_was_seen_to_begin():
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset({3})), in_call=False)  # plays all the time, since before
    assert not b.marked_start(), "the silence ends it"
    b.on_mark(StreamsMark(5.0, frozenset({3, 4})), in_call=True)
    assert b.marked_start(), "stream 4 began: its end ends the call"
    b.ended_by_mark()  # call end while 3 and 4 play on
    assert not b.marked_start(), "the streams of a call ended by a mark mark no call"
    b.on_mark(StreamsMark(9.0, None, "the sound server does not answer"), in_call=False)
    b.on_mark(StreamsMark(12.0, frozenset({3, 4})), in_call=False)
    assert not b.marked_start(), "known again: what plays was not seen to begin"



def test_a_stream_of_a_call_ended_by_a_mark_that_pauses_and_plays_again_is_the_next_calls():
    """Chromium keeps a web softphone's stream between calls, corked (no stream playing), and plays the
    next call on it: a call ended by ``call end`` while it played, the same stream playing again begins
    the next call, which its end then ends (and speech may start one)."""
    b = StreamBoundaries(grace_s=0.3)
    b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
    assert b.on_mark(StreamsMark(1.0, frozenset({3})), in_call=False) is Action.START
    b.call_started(bounded=True)
    b.ended_by_mark()  # call end at the hang-up, the stream still playing
    b.call_ended()
    b.on_mark(StreamsMark(20.0, frozenset()), in_call=False)  # corked
    assert b.on_mark(StreamsMark(22.0, frozenset({3})), in_call=False) is Action.START  # the next call, uncorked
    assert b.speech_may_start()
    assert b.marked_start(), "call start now: the stream's end ends the call"


def test_a_call_handed_over_to_a_new_stream_within_3_s_is_not_split():
    """A softphone dialling out plays its ringback tone as a stream (7) from the dial; on the
    answer it makes the call's stream (8) and removes the tone's 0.1 s later (baresip 1.0.0:
    70 ms), or 2 s later on a loaded machine, far past the grace: the same call, not the next.
    A running call's stream that plays on 3 s beside a new one (the softphone took the next call
    first) is still split off, whenever it goes."""
    b = StreamBoundaries(grace_s=0.3)
    b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
    assert b.on_mark(StreamsMark(1.0, frozenset({7})), in_call=False) is Action.START
    assert b.start_due(4.0) == 1.0
    b.call_started(bounded=True)
    assert b.on_mark(StreamsMark(9.0, frozenset({7, 8})), in_call=True) is Action.SPLIT
    assert b.on_mark(StreamsMark(9.1, frozenset({8})), in_call=True) is None
    assert not b.split_pending and b.split_due(12.0) is None and not b.stream_ended(12.0)
    assert b.on_mark(StreamsMark(20.0, frozenset({8, 9})), in_call=True) is Action.SPLIT
    assert b.split_due(21.9) is None
    assert b.on_mark(StreamsMark(22.0, frozenset({9})), in_call=True) is None  # 2 s late: handed over
    assert not b.split_pending and b.split_due(23.0) is None and not b.stream_ended(23.0)
    assert b.on_mark(StreamsMark(30.0, frozenset({9, 10})), in_call=True) is Action.SPLIT
    assert b.split_due(33.0) is True
    b.on_mark(StreamsMark(33.0, frozenset({10})), in_call=True)  # went once 10 had played 3 s
    assert not b.split_pending and b.split_due(34.0) is None


def test_a_stream_that_began_between_calls_is_a_call_once_it_has_played_3_s():
    """A stream gone within 3 s (a click, a short tone) is no call; one that plays on is, from
    the moment it began."""
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
    assert b.on_mark(StreamsMark(1.0, frozenset({5})), in_call=False) is Action.START
    assert b.start_due(2.0) is None
    b.on_mark(StreamsMark(2.5, frozenset()), in_call=False)
    assert b.start_due(2.6) is None and b.start_due(9.0) is None, "gone before 3 s: no call"
    assert b.on_mark(StreamsMark(10.0, frozenset({6})), in_call=False) is Action.START
    b.on_mark(StreamsMark(10.2, frozenset()), in_call=False)  # made again at once: the same call
    assert b.on_mark(StreamsMark(10.3, frozenset({7})), in_call=False) is None
    assert b.start_due(12.9) is None
    assert b.start_due(13.0) == 10.0 and b.start_due(14.0) is None



def test_call_end_before_a_streams_call_has_started_calls_it_off():
    """`call end` in a stream's first 3 s (the agent declines the ring, a CRM knows it is no call):
    the call it would start does not, and its streams start none by speech; a later stream is a
    call again. With nothing pending, `call end` changes nothing."""
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
    assert b.cancel_pending() is None
    assert b.on_mark(StreamsMark(1.0, frozenset({5})), in_call=False) is Action.START
    assert b.cancel_pending() == 1.0
    assert b.start_due(4.0) is None and b.start_due(30.0) is None, "called off: no call"
    assert not b.speech_may_start(), "its stream plays on: what is heard is no call"
    b.on_mark(StreamsMark(31.0, frozenset()), in_call=False)
    assert b.on_mark(StreamsMark(40.0, frozenset({6})), in_call=False) is Action.START
    assert b.start_due(43.0) == 40.0


def test_a_short_stream_between_calls_beside_one_playing_all_the_time_is_no_call():
    """The softphone's stream 1 plays all the time; a 2 s tone (stream 5) is no call though 1
    plays on; a stream made again at once (5 removed, 6 made) is still the call 5 began."""
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset({1})), in_call=False)
    assert b.on_mark(StreamsMark(1.0, frozenset({1, 5})), in_call=False) is Action.START
    b.on_mark(StreamsMark(3.0, frozenset({1})), in_call=False)
    assert b.start_due(3.1) is None and b.start_due(9.0) is None, "the tone went: no call"
    assert b.on_mark(StreamsMark(10.0, frozenset({1, 7})), in_call=False) is Action.START
    b.on_mark(StreamsMark(11.0, frozenset({1})), in_call=False)
    b.on_mark(StreamsMark(11.0, frozenset({1, 8})), in_call=False)
    assert b.start_due(12.0) is None and b.start_due(13.0) == 10.0


def test_call_end_while_a_stream_beside_the_call_may_split_it_leaves_that_stream_the_next_call():
    """`call end` 1 s after stream 9 began beside the call's stream 8 (the softphone took the next
    call before it removed the last one's stream): the running call ends, its stream starts no call
    by speech, and stream 9 starts the next call once it has played 3 s, as one begun between
    calls; a stream beside it gone within 3 s (a declined call-waiting ring) starts none."""
    b = StreamBoundaries(grace_s=1.0)
    b.on_mark(StreamsMark(0.0, frozenset({8})), in_call=False)
    b.call_started(bounded=True)
    assert b.on_mark(StreamsMark(5.0, frozenset({8, 9})), in_call=True) is Action.SPLIT
    b.ended_by_mark()
    b.call_ended()
    assert not b.split_pending and b.ended == {8}
    assert b.start_due(7.9) is None and b.start_due(8.0) == 5.0
    b.call_started(bounded=True)
    assert b.on_mark(StreamsMark(20.0, frozenset({9, 10})), in_call=True) is Action.SPLIT
    b.ended_by_mark()
    b.call_ended()
    b.on_mark(StreamsMark(21.0, frozenset({9})), in_call=False)
    assert b.start_due(21.1) is None and b.start_due(30.0) is None and not b.speech_may_start()


# ------------------------------------------------------------------ the live daemon


def _silence_mode_daemon(env, tmp_path: Path) -> tuple[Daemon, dict]:
    """A second daemon on the same softphone's sink, ``daemon.call_boundaries = "silence"``, with
    :data:`SHORT_BASELINE`, its database and status socket of its own under ``tmp_path/silence``:
    it and its environment."""
    folder = tmp_path / "silence"
    (folder / "run").mkdir(parents=True, mode=0o700)
    env = {**env, "XDG_RUNTIME_DIR": str(folder / "run")}
    return start_daemon(env, folder, SHORT_BASELINE + '[daemon]\ncall_boundaries = "silence"\n'), env


def test_two_softphone_calls_5_s_apart_are_two_calls_each_with_its_own_baseline_and_one_call_by_the_silence(
        pulse, env, tmp_path):
    """An agent in a busy queue takes the next call 5 s after the last: two calls (two ids, two
    rows, two summaries), the second caller's baseline their own (a slow talker after a
    normal one), the first call ended by its stream, not merged by the 20 s end silence. Every
    JSON line of a call names it by its ``call_id`` (from its "call N started" line to its summary),
    a line outside any call none, so that a script following the shift never reads the text.

    A daemon in the silence mode (``daemon.call_boundaries = "silence"``) hearing the same two calls
    beside it ignores the streams and merges them, as before streams were watched (the 20 s end
    silence never passes): the slow second caller is judged against the first caller's baseline.
    Its status says the silence decides."""
    first = _caller_speech("normal", tmp_path / "first.wav")
    second = _caller_speech("slow_talker", tmp_path / "second.wav")
    d = start_daemon(env, tmp_path, SHORT_BASELINE)
    silence, silence_env = _silence_mode_daemon(env, tmp_path)
    try:
        status = call_monitor_here("status", env=env).stdout
        assert "calls cut by the softphone's streams into sink softphone (0 playing now), else 20 s of " \
               "silence" in status
        assert silence.status(silence_env)["boundaries"]["based_on"] == \
            '20 s of silence (daemon.call_boundaries = "silence")'
        pulse.play(first).wait(30)
        time.sleep(5.0)
        pulse.play(second).wait(30)
        assert silence.status(silence_env)["calls"] == 1 and silence.status(silence_env)["call"] is not None
        assert d.wait_err("call 2 ended", 30), d.err
        stop_daemon(d)
        stop_daemon(silence)
    finally:
        d.kill()
        silence.kill()
    calls = stored_calls(tmp_path / "e.db")
    assert [c["id"] for c in calls] == [1, 2] and all(c["ended_at"] for c in calls)
    assert [c["summary"]["ended_by"] for c in calls] == [STREAM_ENDED, STREAM_ENDED]
    assert any(f"call 1 ended ({STREAM_ENDED})" in e for e in d.err)
    rates = [c["baseline"]["cues"]["speech_rate_sps"]["median"] for c in calls]
    assert rates[0] > 3.2 and rates[1] < 2.9, f"each caller's own baseline: {rates}"
    summaries = [e for _, e in d.lines if e["type"] == "call_summary"]
    assert [s["call_id"] for s in summaries] == [1, 2]
    assert all(9.0 < s["duration_s"] < 13.0 for s in summaries), "each call is its own stream's length"
    assert all(e["call_id"] is None for _, e in d.lines if e.get("at") is not None)  # outside any call
    in_calls = [e for _, e in d.lines if e.get("at") is None]
    runs = [(call_id, list(run)) for call_id, run in itertools.groupby(in_calls, key=lambda e: e["call_id"])]
    assert [call_id for call_id, _ in runs] == [1, 2]
    for call_id, run in runs:
        assert run[0]["message"] == f"call {call_id} started" and run[-1]["type"] == "call_summary"
        assert "cues" in {e["type"] for e in run}
    (merged,) = stored_calls(tmp_path / "silence" / "e.db")
    assert merged["summary"]["ended_by"] == "SIGINT"
    assert merged["baseline"]["cues"]["speech_rate_sps"]["median"] > 3.2, "the first caller's baseline"


def test_one_stream_with_a_long_silence_inside_stays_one_call(pulse, env, tmp_path):
    """The caller is silent for 8 s inside the call (on hold) and the end silence is 3 s: the
    softphone's stream still plays, so it is one call, ended by the stream. A notification's
    ding played into the same sink meanwhile (a stream of media role "event") is no new call."""
    x, r = sf.read(_caller_speech("normal", tmp_path / "a.wav", seconds=4.0), dtype="float32")
    held = tmp_path / "held.wav"
    sf.write(held, np.concatenate([x, np.zeros(8 * r, np.float32), x]), r)
    ding = tmp_path / "ding.wav"
    sf.write(ding, (0.3 * np.sin(2 * np.pi * 880 * np.arange(3 * r) / r)).astype(np.float32), r)
    d = start_daemon(env, tmp_path, "[daemon]\ncall_end_silence_s = 3\n")
    try:
        player = pulse.play(held)
        time.sleep(5.0)  # on hold, 1 s into the silence
        dinging = subprocess.Popen(["paplay", "--device=softphone", "--property=media.role=event", str(ding)],
                                   env=pulse.full_env())
        time.sleep(1.0)
        assert d.status(env)["boundaries"]["streams"] == 1, "the ding's role was read: not counted"
        assert dinging.wait(10) == 0
        player.wait(40)
        call = _one_call_its_stream_ended(d, tmp_path / "e.db")
    finally:
        d.kill()
    assert 15.0 < call["summary"]["duration_s"] < 18.0


def test_call_start_and_end_over_the_socket_cut_calls(pulse, env, tmp_path):
    """A CRM marks the calls: `call start` mid-call closes the running call and starts the next,
    `call end` ends it; a second `call end` finds no call. The summaries say what ended them."""
    d = start_daemon(env, tmp_path)
    player = pulse.play(_caller_speech("normal", tmp_path / "long.wav", seconds=40.0))
    try:
        assert d.wait_err("call 1 started", 30), d.err
        time.sleep(3.0)
        started = _call(env, "start")
        assert started.returncode == 0 and started.stdout.strip() == "call 2 started (call 1 ended)", started
        st = d.status(env)
        assert st["call"]["call_id"] == 2 and st["call"]["ends"] == "when its stream into sink softphone ends"
        time.sleep(3.0)
        ended = _call(env, "end")
        assert ended.returncode == 0 and ended.stdout.strip() == "call 2 ended", ended
        again = _call(env, "end")
        assert again.returncode == 0 and again.stdout.strip() == "no call in progress"
        from monitor.delivery.status_socket import ask  # the socket itself: one JSON line each way
        sock = str(Path(env["XDG_RUNTIME_DIR"]) / "callmonitor.sock")
        assert ask(sock, {"call": "end"}) == {"ok": True, "message": "no call in progress"}
        assert "unknown request" in ask(sock, {"call": "pause"})["error"]
        assert ask(sock, {"call": "end", "sent_at": "just now"}) == {"error": "call end: sent_at and wait_s go together, "
                                                                   "each a number of seconds (sent_at read on "
                                                                   "CLOCK_MONOTONIC): nothing was done"}
        assert d.status(env)["call"] is None, "the stream still plays, but the call was ended"
        player.kill()
        player.wait(5)
        time.sleep(1.5)
        stop_daemon(d)
    finally:
        player.kill()
        d.kill()
    calls = stored_calls(tmp_path / "e.db")
    assert [c["summary"]["ended_by"] for c in calls] == ["call-monitor call start (the next call)",
                                                         "call-monitor call end"]
    assert 2.0 < calls[1]["summary"]["duration_s"] < 5.0


def _pending_seen(sock: str, within_s: float) -> dict | None:
    """The daemon's ``pending`` status once it shows a stream (None if none within ``within_s``),
    asked every 50 ms: the stream watcher and the capture loop see a new stream a few hundred ms
    after it starts, later on a busy machine, and the daemon is not asked in a busy loop."""
    from monitor.delivery.status_socket import ask
    deadline = time.monotonic() + within_s
    while True:
        pending = ask(sock, None)["pending"]
        if pending is not None or time.monotonic() >= deadline:
            return pending
        time.sleep(0.05)


def test_call_end_in_a_streams_first_3_s_calls_its_call_off(pulse, env, tmp_path):
    """The agent declines a ring (or a CRM knows the stream is no call) in its first 3 s: the status
    shows the stream that is no call yet, `call end` answers that it starts no call, and none starts,
    though the stream plays on with speech."""
    from monitor.delivery.status_socket import ask
    sock = str(Path(env["XDG_RUNTIME_DIR"]) / "callmonitor.sock")
    d = start_daemon(env, tmp_path)
    player = pulse.play(_caller_speech("normal", tmp_path / "a.wav", seconds=6.0))
    try:
        pending = _pending_seen(sock, within_s=3.0)  # gone by then: the stream's call starts
        assert pending is not None and pending["kind"] == "start" and pending["since_s"] < 3.0, pending
        answers = []
        deadline = time.monotonic() + 2.5  # within the stream's first 3 s, once the daemon has seen it
        while time.monotonic() < deadline and "starts none" not in "".join(answers):
            answers.append(_call(env, "end").stdout.strip())
            time.sleep(0.1)
        assert answers[-1].startswith("no call in progress; the stream that began ") and \
            answers[-1].endswith(" s ago starts none"), answers
        assert ask(sock, None)["pending"] is None
        player.wait(30)
        time.sleep(1.5)
        stop_daemon(d)
    finally:
        player.kill()
        d.kill()
    assert stored_calls(tmp_path / "e.db") == []
    assert not any("call 1 started" in e for e in d.err), d.err


def test_call_end_while_the_next_calls_stream_plays_beside_ends_the_call_and_the_next_starts(pulse, env,
                                                                                           tmp_path):
    """The next call's stream appears 2 s into the running call (5 s into its stream), whose stream
    still plays, and `call end` comes 1.5 s later (the agent hung up the first): the first call
    ends there, the next starts from its stream once it has played 3 s and ends when it goes. The
    status shows that stream beside the call before."""
    sock = str(Path(env["XDG_RUNTIME_DIR"]) / "callmonitor.sock")
    first = _caller_speech("normal", tmp_path / "first.wav", seconds=10.0)
    second = _caller_speech("slow_talker", tmp_path / "second.wav", seconds=7.0)
    d = start_daemon(env, tmp_path)
    try:
        a = pulse.play(first)
        assert d.wait_err("call 1 started", 30), d.err
        time.sleep(2.0)
        b = pulse.play(second)
        time.sleep(1.5)
        pending = _pending_seen(sock, within_s=1.0)  # a busy sound server may show the stream late
        assert pending is not None and pending["kind"] == "split", pending
        assert _call(env, "end").stdout.strip() == "call 1 ended"
        both_calls_played_out(d, a, b)
    finally:
        d.kill()
    calls = stored_calls(tmp_path / "e.db")
    assert [c["summary"]["ended_by"] for c in calls] == ["call-monitor call end", STREAM_ENDED], d.err
    assert 3.0 < calls[1]["summary"]["duration_s"] < 8.5


def test_call_names_its_argument_by_its_choices(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = _call(env)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "call-monitor call: error: the following arguments are required: {start,end,hold,resume}"
    assert "what" not in done.stderr


def test_call_marks_without_a_daemon_are_one_line_errors(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_RUNTIME_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    missing = _call(env, "start", "--socket", str(tmp_path / "none.sock"))
    assert missing.returncode == 1 and missing.stdout == ""
    none = tmp_path / "none.sock"
    assert missing.stderr.strip() == f"call-monitor: error: no daemon running (no status socket at {none})"
    dead = tmp_path / "dead.sock"  # the socket a killed daemon left behind: nobody listens
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(dead))
    s.close()
    refused = _call(env, "end", "--socket", str(dead))
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"call-monitor: error: no daemon answering at {dead} (Connection refused)"
    default = _call(env, "end")  # the daemon's default socket, in $XDG_RUNTIME_DIR
    assert default.returncode == 1 and "no daemon running" in default.stderr
    assert len(default.stderr.strip().splitlines()) == 1


def test_call_marks_reach_the_daemon_while_the_configuration_is_broken_and_say_so_in_one_warning(
        pulse, env, tmp_path):
    """The configuration broken while the daemon runs (a value a reload would refuse, then TOML that
    does not parse): a softphone's hook was refused with exit 2, and the call's boundary was lost,
    though the daemon runs on and only its socket was needed. The mark is sent at the socket status
    finds (the defaults here) and carried out, exit 0, after one warning line naming the file and
    its problem, the same line status says. With no daemon answering there, exit 2: the warning,
    then the error."""
    cfg = tmp_path / "c.toml"
    sock = Path(env["XDG_RUNTIME_DIR"]) / "callmonitor.sock"
    d = start_daemon(env, tmp_path)
    try:
        for broken, problem in (("[delivery]\nbell = 3\n", "delivery.bell: "), ("[delivery\n", "invalid TOML (")):
            cfg.write_text(broken)
            warned = [f"call-monitor: warning: configuration not loaded: {cfg}: {problem}"]
            started = _call(env, "start", "--config", str(cfg))
            ended = _call(env, "end", "--config", str(cfg))
            for done, said in ((started, "started"), (ended, "ended")):
                assert done.returncode == 0 and done.stdout.strip().startswith("call ") \
                    and done.stdout.strip().endswith(said), done
                (line,) = done.stderr.splitlines()
                assert line.startswith(warned[0]) and line.endswith(
                    f"; the daemon was asked at {sock} (a reload or a start would refuse this configuration)"), line
            status = call_monitor_here("status", "--config", cfg, env=env)
            assert status.stderr == started.stderr, "the same warning as status says"
        stop_daemon(d)
    finally:
        d.kill()
    assert [c["summary"]["ended_by"] for c in stored_calls(tmp_path / "e.db")] == ["call-monitor call end"] * 2
    lost = _call(env, "start", "--config", str(cfg))
    assert lost.returncode == 2 and lost.stdout == ""
    (error,) = lost.stderr.splitlines()
    beside_db = tmp_path / ".local" / "share" / "callmonitor" / "events.db.sock"  # where the defaults look next
    assert error.startswith(f"call-monitor: error: no daemon answers at {socket_places(sock, beside_db)}; the configuration "
                            f"that cannot be loaded ({cfg}: invalid TOML (")
    assert error.endswith(") may place its socket elsewhere: give --socket"), error


def test_a_call_mark_while_the_user_configuration_placing_the_socket_is_no_toml_says_to_give_the_socket(
        pulse, env, tmp_path):
    """The user's configuration places the daemon's socket, then is saved with a TOML syntax error
    while the daemon runs: nothing of it can say where the socket is. `call start` and `status` said
    "no daemon running" at the default socket, false, and the hook's mark was lost without a word
    of why. They say in one line, exit 2, that no daemon answers at the default socket and that
    the configuration that cannot be loaded may place it elsewhere; with --socket the mark is
    carried out."""
    sock = tmp_path / "custom.sock"
    user = Path(env["XDG_CONFIG_HOME"]) / "callmonitor" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text(f'[daemon]\nstatus_socket = "{sock}"\n')
    d = start_daemon(env, tmp_path)
    try:
        user.write_text(f'[daemon\nstatus_socket = "{sock}"\n')
        default = socket_places(Path(env['XDG_RUNTIME_DIR']) / 'callmonitor.sock',  # the runtime folder, the database's side
                                tmp_path / '.local' / 'share' / 'callmonitor' / 'events.db.sock')
        for command in (["call", "start"], ["status"]):
            done = call_monitor_here(*command, env=env)
            assert done.returncode == 2 and done.stdout == "", done
            (error,) = done.stderr.splitlines()
            assert error.startswith(f"call-monitor: error: no daemon answers at {default}; the configuration that "
                                    f"cannot be loaded ({user}: invalid TOML ("), error
            assert error.endswith(") may place its socket elsewhere: give --socket"), error
        told = _call(env, "start", "--socket", str(sock))
        assert told.returncode == 0 and told.stdout.strip().endswith("started"), told
        assert told.stderr.startswith(f"call-monitor: warning: configuration not loaded: {user}: invalid TOML (")
        stop_daemon(d)
    finally:
        d.kill()
    assert len(stored_calls(tmp_path / "e.db")) == 1, "the call the mark started"


def test_a_softphone_whose_stream_never_ends_leaves_the_calls_to_the_silence(pulse, env, tmp_path):
    """The softphone's stream plays before the daemon starts and never ends (it plays silence
    between calls): two calls 6 s apart (more than the 5 s of silence that starts a call) are cut by
    the 3 s end silence, the first said so."""
    x, r = sf.read(_caller_speech("normal", tmp_path / "a.wav", seconds=4.0), dtype="float32")
    gap = np.zeros(6 * r, np.float32)
    line = np.concatenate([x, gap, x, gap[:4 * r]]).astype("<f4").tobytes()
    with _stream_playing_all_the_time(pulse, r) as softphone:
        d = start_daemon(env, tmp_path, "[daemon]\ncall_end_silence_s = 3\n")
        try:
            st = d.status(env)["boundaries"]
            assert st["sink"] == "softphone" and st["streams"] == 1
            feeder = threading.Thread(target=lambda: (softphone.stdin.write(line), softphone.stdin.flush()))
            feeder.start()
            assert d.wait_err("call 2 ended", 40), d.err
            feeder.join(5)
            stop_daemon(d)
        finally:
            d.kill()
    calls = stored_calls(tmp_path / "e.db")
    assert [c["summary"]["ended_by"] for c in calls] == ["3 s of silence", "3 s of silence"]


def test_a_stream_made_again_at_once_is_the_same_call(pulse, env, tmp_path):
    """The softphone removes its stream and makes a new one at once (a codec change): within
    daemon.stream_end_grace_s, so one call, ended by the second stream's end."""
    part = _caller_speech("normal", tmp_path / "part.wav", seconds=5.0)
    d = start_daemon(env, tmp_path)
    try:
        pulse.play(part).wait(30)
        pulse.play(part).wait(30)
        call = _one_call_its_stream_ended(d, tmp_path / "e.db")
    finally:
        d.kill()
    assert 9.0 < call["summary"]["duration_s"] < 13.0


class _HeldCapture(LiveSource):
    """The live capture, whose next chunk the test may hold back (:attr:`go` cleared): the capture
    loop lags then, as on a loaded machine, and takes what was captured meanwhile as one chunk,
    with the stream changes that came meanwhile."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.go = threading.Event()
        self.go.set()

    def chunks(self) -> Iterator[Chunk]:
        chunks = super().chunks()
        try:
            while self.go.wait() and (chunk := next(chunks, None)) is not None:
                yield chunk
        finally:
            chunks.close()


@contextlib.contextmanager
def daemon_in_process(tmp_path: Path, source_of: Callable[[], LiveSource]) -> Iterator[Any]:
    """The daemon run in this process (its capture loop in a thread) on the source ``source_of``
    makes once PortAudio has read the test's sound server's devices, its database in ``tmp_path``;
    stopped at the end."""
    from monitor.config import load_config
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    portaudio_afresh()
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, source_of(), store, {})
        loop = threading.Thread(target=daemon.run)
        loop.start()
        try:
            yield daemon
        finally:
            daemon.request_stop()
            loop.join(10)


def test_call_start_after_the_stream_of_an_ended_call_went_is_not_ended_by_it(pulse, tmp_path):
    """Stream starts call 1, `call end`, the stream goes, `call start` 1.5 s later: call 2 runs on
    (until `call end`), not ended at once by the stream that went before it, also when the capture
    loop runs 3 s behind (a loaded machine) and takes what was captured meanwhile; call 2 begins
    where `call start` came, within one chunk's length, not seconds before it."""
    with daemon_in_process(tmp_path, lambda: _HeldCapture({"caller": "softphone.monitor"}, watch_streams=True)) as daemon:
        source = daemon.source
        player = None
        try:
            assert wait_for(lambda: daemon.streams.ids is not None, 30)  # it knows the sink has no stream
            player = pulse.play(_caller_speech("normal", tmp_path / "a.wav", seconds=5.0))
            assert wait_for(lambda: daemon.calls == 1, 30)
            assert daemon.control({"call": "end"}) == {"ok": True, "message": "call 1 ended"}
            source.go.clear()  # the capture loop waits for its next chunk from here
            player.wait(15)
            time.sleep(1.5)  # the stream has gone, longer than the grace
            started: list[dict] = []
            asked_at = source.now()
            asker = threading.Thread(target=lambda: started.append(daemon.control({"call": "start"})))
            asker.start()
            time.sleep(0.5)
            source.go.set()
            asker.join(10)
            assert started == [{"ok": True, "message": "call 2 started"}]
            # it begins where it was asked for, not with the seconds the lagging loop took at once
            assert asked_at - MAX_CHUNK_S - 0.05 <= daemon.call_origin <= asked_at + 0.1
            time.sleep(1.0)
            assert daemon.pipeline is not None and daemon.calls == 2
            assert daemon.control({"call": "end"}) == {"ok": True, "message": "call 2 ended"}
        finally:
            source.go.set()
            if player is not None:
                player.kill()
    calls = stored_calls(tmp_path / "e.db")
    assert [c["summary"]["ended_by"] for c in calls] == ["call-monitor call end", "call-monitor call end"]


def test_call_start_with_a_stream_that_plays_all_the_time_is_ended_by_the_silence(pulse, env, tmp_path):
    """The softphone's stream plays from before the daemon and never ends: a call `call start`
    began is ended by the 3 s end silence, not left running for as long as the stream plays."""
    with _stream_playing_all_the_time(pulse, 16000):
        d = start_daemon(env, tmp_path, "[daemon]\ncall_end_silence_s = 3\n")
        try:
            assert d.status(env)["boundaries"]["streams"] == 1
            assert _call(env, "start").stdout.strip() == "call 1 started"
            assert d.status(env)["call"]["ends"] != "when its stream into sink softphone ends"
            assert d.wait_err("call 1 ended", 30), d.err
            stop_daemon(d)
        finally:
            d.kill()
    assert [c["summary"]["ended_by"] for c in stored_calls(tmp_path / "e.db")] == ["3 s of silence"]


def test_a_stream_shorter_than_3_s_between_calls_is_no_call(pulse, env, tmp_path):
    """A 1.5 s stream (a tone, no speech) before the call: no call is stored or delivered for
    it; the call that follows is call 1, from its own stream's start."""
    r = 16000
    tone = tmp_path / "tone.wav"
    sf.write(tone, (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(1.5 * r)) / r)).astype(np.float32), r)
    d = start_daemon(env, tmp_path)
    try:
        pulse.play(tone).wait(10)
        time.sleep(2.0)
        assert d.wait_err("no call (shorter than 3 s)", 30), d.err
        assert d.status(env)["call"] is None
        pulse.play(_caller_speech("normal", tmp_path / "a.wav", seconds=5.0)).wait(30)
        call = _one_call_its_stream_ended(d, tmp_path / "e.db")
    finally:
        d.kill()
    assert 4.5 < call["summary"]["duration_s"] < 6.5
    assert [e["call_id"] for _, e in d.lines if e["type"] == "call_summary"] == [1]


def test_a_second_stream_starting_while_the_call_plays_is_the_next_call_a_short_tone_is_not(pulse, env,
                                                                                            tmp_path):
    """A 1.5 s tone beside the call 3 s in (call waiting) leaves it whole. The next call's stream
    appears 6 s into the running call, whose stream still plays (the softphone answers the next
    call before it removes the last one's stream): once it has played 3 s the running call is
    closed where it appeared, the next starts there, with its own row, and ends when the last
    stream goes."""
    first = _caller_speech("normal", tmp_path / "first.wav", seconds=12.0)
    second = _caller_speech("slow_talker", tmp_path / "second.wav", seconds=7.0)
    tone = tmp_path / "tone.wav"
    sf.write(tone, (0.3 * np.sin(2 * np.pi * 440 * np.arange(24000) / 16000)).astype(np.float32), 16000)
    d = start_daemon(env, tmp_path)
    try:
        a = pulse.play(first)
        time.sleep(3.0)
        pulse.play(tone).wait(10)
        time.sleep(1.5)
        b = pulse.play(second)
        assert d.wait_err("call 1 ended", 30), d.err
        both_calls_played_out(d, a, b)
    finally:
        d.kill()
    calls = stored_calls(tmp_path / "e.db")
    assert [c["summary"]["ended_by"] for c in calls] == [
        "a new stream started playing into sink softphone (the next call)", STREAM_ENDED]
    assert 5.0 < calls[0]["summary"]["duration_s"] < 7.5 and 6.5 < calls[1]["summary"]["duration_s"] < 9.5


def test_a_ringback_tone_the_softphone_removes_a_second_after_the_answers_stream_is_in_the_call(pulse, env,
                                                                                                 tmp_path):
    """A softphone dials out: its ringback tone plays as a stream of its own for 3.3 s, then the
    answer's stream comes, and the tone's goes 1 s after it (baresip on a loaded machine; 70 ms on
    an idle one), far past the grace: one call from the ring to the hang-up, ended by its stream,
    never a call of the tone alone."""
    r = 16000
    tone = tmp_path / "ringback.wav"
    sf.write(tone, (0.3 * np.sin(2 * np.pi * 425 * np.arange(10 * r) / r)).astype(np.float32), r)
    talk = _caller_speech("normal", tmp_path / "talk.wav", seconds=3.5)
    d = start_daemon(env, tmp_path)
    try:
        ringback = pulse.play(tone)
        assert d.wait_err("call 1 started", 30), d.err
        time.sleep(0.3)
        answer = pulse.play(talk)
        time.sleep(1.0)
        ringback.terminate()
        ringback.wait(5)
        call = _one_call_its_stream_ended(d, tmp_path / "e.db")
        answer.wait(5)
    finally:
        d.kill()
    assert 6.0 < call["summary"]["duration_s"] < 8.5, d.err


# ------------------------------------------------------------------ the stream watcher


def _watch(sink: str = "softphone", poll_s: float = 1.0) -> tuple[SinkStreams, list]:
    """A watcher of ``sink`` and the changes it reported, once it has looked a first time."""
    changes: list = []
    w = SinkStreams(sink, lambda t, ids, why: changes.append((ids, why)), poll_s=poll_s).start()
    until(lambda: changes, f"the watcher's first look at sink {sink}")
    return w, changes


def test_the_watcher_lists_the_streams_about_once_a_poll_when_nothing_changes(pulse):
    """Idle, with no stream, and with a stream playing and the capture recording the sink's
    monitor: each listing is a new client of the sound server, and its events wake nobody, so
    the streams are listed about once each ``poll_s`` (plus once for the stream's start)."""
    w, changes = _watch()
    try:
        time.sleep(0.3)
        looks = w.looks
        time.sleep(2.0)
        assert w.looks - looks <= 3, f"{w.looks - looks} listings in 2 idle seconds"
        player = subprocess.Popen(["paplay", "--device=softphone", "--raw", "/dev/zero"], env=pulse.full_env())
        capture = subprocess.Popen(["parec", "--device=softphone.monitor", "--raw"], env=pulse.full_env(),
                                   stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            looks = w.looks
            time.sleep(2.0)
            assert w.looks - looks <= 3, f"{w.looks - looks} listings in 2 s with a stream and a capture"
            assert w.ids is not None and len(w.ids) == 1
        finally:
            for p in (player, capture):
                p.kill()
                p.wait(5)
    finally:
        w.stop()
    assert changes[0] == (frozenset(), "") and len(changes[1][0]) == 1


# ------------------------------------------------------------------ the status socket across versions


OLD_STATUS = {"pid": 4242, "uptime_s": 61.0, "db": "/home/dana/.local/share/callmonitor/events.db", "legs": {},
              "calls": 3, "alerts": 0, "overflows": 0, "call": None}
"""An earlier daemon's status: what every release's holds (:data:`~monitor.delivery.status_socket.STATUS_FIELDS`),
without the fields later releases added (its version among them)."""


class _OldDaemonSocket:
    """The status socket of a daemon older than the call marks: it answers every connection
    with its status at once and closes it, without reading what the client sent."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                time.sleep(0.01)  # the client's request arrives, unread
                conn.sendall(json.dumps(OLD_STATUS).encode() + b"\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _bare_env(tmp_path: Path) -> dict:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
            "XDG_RUNTIME_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}


def test_a_new_client_asks_an_old_daemon_for_its_status_and_hears_it_takes_no_call_marks(tmp_path):
    """After an upgrade, before the daemon is restarted: `status` sends no request, so the old
    daemon's answer is read every time; `call start` says the daemon is older (restart it),
    never "no daemon answering"; a new daemon does not remove the old one's socket."""
    from monitor.delivery.status_socket import StatusServer, query_status
    old = _OldDaemonSocket(tmp_path / "old.sock")
    try:
        assert all(query_status(old.path) == OLD_STATUS for _ in range(50))
        st = call_monitor_here("status", "--json", "--socket", old.path, env=_bare_env(tmp_path))
        assert st.returncode == 0 and json.loads(st.stdout) == {"running": True, "starting": False, **OLD_STATUS}, st
        for _ in range(3):
            mark = _call(_bare_env(tmp_path), "start", "--socket", old.path)
            assert mark.returncode == 1 and mark.stdout == ""
            assert mark.stderr.strip() == (f"call-monitor: error: the daemon at {old.path} did not read the "
                                           "request: an older version, which answers only the status (restart it)")
        with pytest.raises(RuntimeError, match="another call-monitor daemon is running"):
            StatusServer(old.path, state=dict)
        assert Path(old.path).exists() and query_status(old.path) == OLD_STATUS
    finally:
        old.close()


def test_an_old_client_that_sends_nothing_gets_the_status_from_a_new_daemon(tmp_path):
    """A client that sends no request gets the status: at once when it closes its side, after
    the daemon's short wait when it just waits for the answer."""
    from monitor.delivery.status_socket import REQUEST_WAIT_S, StatusServer
    server = StatusServer(str(tmp_path / "s.sock"), state=lambda: {"state": "listening"},
                          control=lambda r: {"ok": True, "message": "done"})
    try:
        for close_side in (True, False):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(3.0)
                s.connect(server.path)
                t0 = time.monotonic()
                if close_side:
                    s.shutdown(socket.SHUT_WR)
                answer = s.makefile("rb").readline()
                took = time.monotonic() - t0
            assert json.loads(answer) == {"state": "listening"}
            assert took < 0.2 if close_side else REQUEST_WAIT_S - 0.05 < took < REQUEST_WAIT_S + 0.5
    finally:
        server.close()


class _SlowWatcher(SinkStreams):
    """The stream watcher, a second late back from each listing to the sound server's news (on a
    loaded machine each listing starts pactl twice, which may take that long)."""

    def _look(self, now: float) -> None:
        super()._look(now)
        time.sleep(1.0)


def test_a_change_of_the_streams_is_stamped_when_the_server_told_of_it_however_late_the_watcher_is(pulse):
    """The answer's stream comes beside the ringback tone's, which goes at once: the watcher, a
    second late back from its listing, stamps the tone's end when the server told of it, not when
    it got round to it (a second later, which made the tone a call of its own)."""
    changes: list = []
    w = _SlowWatcher("softphone", lambda t, ids, why: changes.append((t, ids)), poll_s=5.0).start()
    until(lambda: changes, "the watcher's first look")
    streams = []
    try:
        for n in (1, 2):
            streams.append(subprocess.Popen(["paplay", "--device=softphone", "--raw", "/dev/zero"],
                                            env=pulse.full_env()))
            until(lambda: len(changes[-1][1] or ()) == n, lambda: f"stream {n} listed: {changes}")
        streams[0].kill()
        gone = time.monotonic()
        until(lambda: len(changes[-1][1] or ()) == 1, lambda: f"the first stream's end listed: {changes}")
    finally:
        for p in streams:
            p.kill()
            p.wait(5)
        w.stop()
    (both_at, both), (one_at, one) = changes[-2:]
    assert len(both) == 2 and len(one) == 1 and one < both, changes
    assert one_at - gone < 0.4, f"stamped {one_at - gone:.2f} s after the stream went"


class _LateWatcher(SinkStreams):
    """The stream watcher, on a loaded machine: each listing runs a second after the news that woke it."""

    def _look(self, now: float) -> None:
        time.sleep(1.0)
        super()._look(now)


def test_a_hang_up_and_the_next_stream_one_listing_finds_are_two_changes_each_when_the_server_told_of_it(pulse):
    """A call's stream goes, and 0.4 s later the next call's comes, both before the watcher's listing
    runs (a second late): that was one change, the first stream swapped for the next at the hang-up,
    which went on with the running call (two calls stored as one). The subscription told of each:
    the listing's change is handed on as the two it was, each when the server told of it."""
    changes: list = []
    w = _LateWatcher("softphone", lambda t, ids, why: changes.append((t, ids)), poll_s=5.0).start()
    assert wait_for(lambda: changes, 30)
    streams = [subprocess.Popen(["paplay", "--device=softphone", "--raw", "/dev/zero"], env=pulse.full_env())]
    try:  # the first call's stream listed before it goes (a loaded machine starts paplay late)
        assert wait_for(lambda: len(changes[-1][1] or ()) == 1, 30), changes
        before = len(changes)
        streams[0].kill()
        gone = time.monotonic()
        time.sleep(0.4)
        streams.append(subprocess.Popen(["paplay", "--device=softphone", "--raw", "/dev/zero"],
                                        env=pulse.full_env()))
        came = time.monotonic()
        until(lambda: len(changes) > before and len(changes[-1][1] or ()) == 1,
              lambda: f"the next call's stream listed: {changes}")
        time.sleep(0.3)
    finally:
        for p in streams:
            p.kill()
            p.wait(5)
        w.stop()
    after = changes[before:]
    assert [len(ids) for _, ids in after] == [0, 1], changes
    assert after[0][0] - gone < 0.4 and abs(after[1][0] - came) < 0.4, (gone, came, after)


def test_a_failure_in_the_watcher_leaves_no_stream_information_and_the_watcher_goes_on(pulse):
    """Whatever fails in the watcher's thread (here the consumer of its changes, once), it says
    that there is no stream information (so the silence decides), and it watches on."""
    changes: list = []

    def on_change(t: float, ids, why: str) -> None:
        changes.append((ids, why))
        if len(changes) == 2:
            raise RuntimeError("the consumer broke\nsecond line")

    w = SinkStreams("softphone", on_change, poll_s=0.3).start()
    until(lambda: changes, "the watcher's first look")
    player = subprocess.Popen(["paplay", "--device=softphone", "--raw", "/dev/zero"], env=pulse.full_env())
    try:
        until(lambda: len(changes) >= 4,
              lambda: f"four changes, the failure's and the next look's among them: {changes}")
        assert w._thread.is_alive()
    finally:
        player.kill()
        player.wait(5)
        w.stop()
    assert changes[0] == (frozenset(), "")
    assert len(changes[1][0]) == 1, "the stream appears: the consumer fails on it"
    assert changes[2] == (None, "stream watcher failed: the consumer broke")
    assert changes[3] == changes[1], "the next look tells the streams again"


def test_a_call_mark_the_daemon_did_not_act_on_in_time_is_not_carried_out_later(tmp_path):
    """The capture loop is busy for 1 s while `call start` waits 0.3 s for it: the asker hears
    that nothing was done, and nothing is (a retry would otherwise start two calls)."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, r = sf.read(_caller_speech("normal", tmp_path / "a.wav", seconds=20.0), dtype="float32")
    call = tmp_path / "call.wav"
    sf.write(call, np.stack([x, np.zeros_like(x)], axis=1), r)
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    answers: list[dict] = []

    def busy_once(event) -> None:
        if event.type == "cues" and not answers:
            asker = threading.Thread(target=lambda: answers.append(daemon.control({"call": "start"}, 0.3)))
            asker.start()
            time.sleep(1.0)
            asker.join()

    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(call), store, {"busy": busy_once})
        assert daemon.run() == 0
    assert answers == [{"error": "the daemon did not act on it within 0.3 s (its capture loop was busy or got no "
                                 "audio), and will not: nothing was done"}]
    assert daemon.calls == 1
    assert [c["summary"]["ended_by"] for c in stored_calls(tmp_path / "e.db")] == ["capture ended"]


def test_a_call_ended_by_call_start_ends_where_the_next_call_starts(tmp_path):
    """`call start` mid-call: the call it ends is stored as ending when the next one starts (the two
    never overlap in the database)."""
    import sqlite3
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon as InProcess
    from monitor.delivery.store import Store

    x, r = sf.read(_caller_speech("normal", tmp_path / "a.wav", seconds=20.0), dtype="float32")
    call = tmp_path / "call.wav"
    sf.write(call, np.stack([x, np.zeros_like(x)], axis=1), r)
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    askers: list[threading.Thread] = []

    def start_once(event) -> None:
        if event.type == "cues" and event.t > 5.0 and not askers:
            askers.append(threading.Thread(target=lambda: daemon.control({"call": "start"}, 30.0)))
            askers[0].start()

    with Store.open(tmp_path / "e.db") as store:
        daemon = InProcess(cfg, FileSource(call), store, {"marks": start_once})
        assert daemon.run() == 0
    askers[0].join(30)
    assert not askers[0].is_alive(), "the call start never answered"
    con = sqlite3.connect(tmp_path / "e.db")
    try:
        rows = con.execute("SELECT started_at, ended_at FROM calls ORDER BY id").fetchall()
    finally:
        con.close()
    assert len(rows) == 2
    assert rows[0][1] == pytest.approx(rows[1][0], abs=1e-6)


def test_the_status_is_answered_while_a_call_mark_waits_for_the_capture_loop(tmp_path):
    """A `call` request waits for the capture loop (here 3 s): meanwhile `status` is answered at
    once, and a second daemon starting on the same socket is told that this one runs."""
    from monitor.delivery.status_socket import StatusServer, ask, query_status
    release = threading.Event()

    def slow_control(request: dict) -> dict:
        release.wait(3.0)
        return {"ok": True, "message": "call 1 started"}

    server = StatusServer(str(tmp_path / "s.sock"), state=lambda: {"state": "listening"}, control=slow_control)
    marks: list[dict] = []
    try:
        asker = threading.Thread(target=lambda: marks.append(ask(server.path, {"call": "start"}, 5.0)))
        asker.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        assert query_status(server.path) == {"state": "listening"}
        assert time.monotonic() - t0 < 0.3
        with pytest.raises(RuntimeError, match="another call-monitor daemon is running"):
            StatusServer(server.path, state=dict)
        release.set()
        asker.join(30)
        assert marks == [{"ok": True, "message": "call 1 started"}]
    finally:
        release.set()
        server.close()


def test_the_watcher_follows_a_sound_server_restart_and_stops_at_once_leaving_no_child(pulse):
    """The server goes away (no stream information, said why) and comes back (its streams again,
    the subscription started anew); stop() takes well under a second and ends ``pactl subscribe``."""
    w, changes = _watch(poll_s=0.3)
    try:
        first = until(lambda: w._proc, "the watcher's pactl subscribe")
        assert changes == [(frozenset(), "")] and first is not None and first.poll() is None
        pulse.stop()
        until(lambda: changes[-1][0] is None, lambda: f"no stream information once the server went: {changes}")
        assert changes[-1] == (None, "the sound server does not answer")
        pulse.start()
        until(lambda: changes[-1] == (frozenset(), ""), lambda: f"the streams again once the server is back: {changes}")
        player = subprocess.Popen(["paplay", "--device=softphone", "--raw", "/dev/zero"], env=pulse.full_env())
        try:
            until(lambda: changes[-1][0], lambda: f"the new subscription reports the new stream: {changes}")
            assert len(changes[-1][0]) == 1, changes
        finally:
            player.kill()
            player.wait(5)
        proc = w._proc
    finally:
        t0 = time.monotonic()
        w.stop()
        took = time.monotonic() - t0
    assert took < 0.6
    assert first.poll() is not None and proc is not None and proc.poll() is not None
    assert not w._thread.is_alive()


def test_a_watcher_held_up_past_its_stop_starts_no_subscription_after_it(pulse):
    """The watcher's thread, held up (a loaded machine) between its look at the stop and starting
    ``pactl subscribe`` again, for longer than ``stop()`` waits for it: the subscription it then
    started was left running, nobody to end it, for as long as the daemon ran. Once stopped, the
    watcher starts none (here its thread's next step taken after the stop)."""
    w, _ = _watch(poll_s=0.3)
    w.stop()
    w._subscribe()  # where the held-up thread goes on
    leaked = w._proc
    if leaked is not None:
        leaked.kill()
        leaked.wait(5)
    assert leaked is None and w._news is None and not w._thread.is_alive()


def test_without_pactl_the_watcher_says_so_and_the_silence_decides(pulse, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    w, changes = _watch(poll_s=0.3)
    try:
        time.sleep(0.8)
    finally:
        w.stop()
    assert changes == [(None, "no pactl to ask the sound server")]
    assert w.ids is None and not w._thread.is_alive()


def test_the_watcher_tells_the_streams_playing_into_other_sinks_with_the_change_it_hands_on(pulse):
    """A call's stream the server moved away from the softphone's sink (unloaded: here, one playing
    into the "mic" sink) is among the server's other streams, which the watcher keeps with each
    change of the sink's own (the marks carry them: :class:`StreamsMark`'s ``elsewhere``)."""
    from monitor.capture.streams import SinkStreams, server_streams
    e = pulse.full_env()
    moved = subprocess.Popen(["paplay", "--device=mic", "--raw", "/dev/zero"], env=e)
    changes = []
    w = SinkStreams("softphone", lambda t, ids, why: changes.append((ids, w.elsewhere)), poll_s=0.2)
    try:
        until(lambda: server_streams("softphone")[1], "the stream into sink mic listed elsewhere")
        ids, elsewhere, why, paused = server_streams("softphone")
        assert ids == paused == frozenset() and len(elsewhere) == 1 and why == ""
        w.start()
        until(lambda: changes, "the watcher's first look")
        assert changes[0] == (frozenset(), elsewhere)
        assert server_streams("nosuch")[:2] == (None, frozenset())
    finally:
        w.stop()
        moved.kill()
        moved.wait(5)


def test_an_event_sound_is_no_stream_of_a_call_read_from_json_and_from_the_long_listing(pulse):
    """A notification's ding (media role "event") playing into the sink beside the call's stream
    is not counted, whether the roles come from pactl's JSON or (before PulseAudio 16, which has
    no JSON) from the long listing."""
    from monitor.capture.streams import SinkInputs, _long_inputs, sink_streams
    e = pulse.full_env()
    call = subprocess.Popen(["paplay", "--device=softphone", "--raw", "/dev/zero"], env=e)
    ding = subprocess.Popen(["paplay", "--device=softphone", "--raw", "--property=media.role=event", "/dev/zero"],
                            env=e)
    try:
        until(lambda: len(_long_inputs(1.0) or []) == 2,
              lambda: f"the call's and the ding's streams: {_long_inputs(1.0)}")
        json_rows, long_rows = SinkInputs()(1.0), _long_inputs(1.0)
        assert sorted(json_rows) == sorted(long_rows) and sorted(r for _, _, r, *_ in long_rows) == ["", "event"]
        old_pactl = SinkInputs()
        old_pactl.json = False  # as it is once JSON failed and the long listing answered
        (call_id,) = [int(i) for i, _, role, *_ in long_rows if role == ""]
        assert sink_streams("softphone") == sink_streams("softphone", inputs=old_pactl) == (frozenset({call_id}), "")
    finally:
        for p in (call, ding):
            p.kill()
            p.wait(5)


def test_a_client_sending_its_request_a_byte_at_a_time_holds_the_socket_no_longer_than_the_wait(tmp_path):
    """A request line trickling in (a byte every 0.1 s) is cut at REQUEST_WAIT_S all told; the
    next client is answered at once after that."""
    from monitor.delivery.status_socket import REQUEST_WAIT_S, StatusServer, query_status
    server = StatusServer(str(tmp_path / "s.sock"), state=lambda: {"state": "listening"})
    stop = threading.Event()

    def trickle() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(server.path)
            for byte in b'{"status": true}':
                if stop.wait(0.1):
                    return
                try:
                    s.send(bytes([byte]))
                except OSError:
                    return

    slow = threading.Thread(target=trickle)
    try:
        slow.start()
        time.sleep(0.05)
        t0 = time.monotonic()
        assert query_status(server.path) == {"state": "listening"}
        assert time.monotonic() - t0 < REQUEST_WAIT_S + 0.25
    finally:
        stop.set()
        slow.join(3)
        server.close()


@contextlib.contextmanager
def _idle_clients(path: str, n: int) -> Iterator[list[socket.socket]]:
    """``n`` connections to the socket at ``path`` held open all the while, none sending anything
    nor closing its side: each one the daemon answers (and closes) is opened again at once. Yields
    them once all ``n`` are open (fewer when the daemon takes fewer within 30 s)."""
    held: list[socket.socket] = []
    stop, ready = threading.Event(), threading.Event()

    def hold() -> None:
        while not stop.is_set():
            while len(held) < n:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(path)
                except OSError:  # the daemon's backlog is full: again in the next round
                    s.close()
                    break
                held.append(s)
            if len(held) == n:
                ready.set()
            answered, _, _ = select.select(held, [], [], 0.02)
            for s in answered:
                held.remove(s)
                s.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        ready.wait(30.0)
        yield held
    finally:
        stop.set()
        holder.join(5)
        for s in held:
            s.close()


def test_idle_clients_at_the_status_socket_keep_neither_status_nor_call_start_from_their_answers(pulse, env, tmp_path):
    """Ten connections to the daemon's socket held open and idle (each one answered opened again at
    once) made the daemon look dead: it served one connection at a time and its backlog held four,
    so `status` said "no daemon answering" and a softphone's `call start` was lost. Each is
    answered now."""
    sock = str(Path(env["XDG_RUNTIME_DIR"]) / "callmonitor.sock")
    d = start_daemon(env, tmp_path)
    try:
        with _idle_clients(sock, 10) as held:
            assert len(held) == 10
            st = call_monitor_here("status", "--json", env=env)
            assert st.returncode == 0 and json.loads(st.stdout)["running"] is True, st
            started = _call(env, "start")
            assert started.returncode == 0 and started.stdout.strip() == "call 1 started", started
            assert len(held) == 10
        stop_daemon(d)
    finally:
        d.kill()
    assert len(stored_calls(tmp_path / "e.db")) == 1


def test_a_client_finding_the_daemons_backlog_full_waits_for_its_turn(tmp_path):
    """A daemon busy with other clients (its backlog full: the connection refused with EAGAIN) is
    there, not gone: `ask` retries until it is taken, within its timeout, and gets the answer."""
    from monitor.delivery.status_socket import ask
    path = str(tmp_path / "busy.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(0)
        waiting = []
        while True:  # fill the backlog
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(path)
            except BlockingIOError:
                s.close()
                break
            waiting.append(s)
        answers: list[dict] = []
        asker = threading.Thread(target=lambda: answers.append(ask(path, {"status": True}, timeout=10.0)))
        asker.start()
        time.sleep(0.5)  # the asker finds the backlog full meanwhile
        assert asker.is_alive() and not answers
        for _ in range(len(waiting) + 1):  # the waiting ones, then the asker's
            conn, _ = server.accept()
            with conn:
                conn.settimeout(0.5)
                with contextlib.suppress(socket.timeout):
                    conn.recv(4096)  # the asker's request (closing on it unread would reset its connection)
                conn.sendall(b'{"state": "listening"}\n')
        asker.join(30)
        for s in waiting:
            s.close()
    assert answers == [{"state": "listening"}]


def test_a_request_that_is_no_json_is_answered_with_what_is_wrong_with_it(tmp_path):
    """A request line that is no JSON (a script's typo) is answered with an error saying so, not
    with an error of the daemon's own code."""
    from monitor.delivery.status_socket import StatusServer
    server = StatusServer(str(tmp_path / "s.sock"), state=lambda: {"state": "listening"},
                          control=lambda r: {"ok": True, "message": "done"})
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5.0)
            s.connect(server.path)
            s.sendall(b"{call: start}\n")
            s.shutdown(socket.SHUT_WR)
            answer = json.loads(s.makefile("rb").readline())
    finally:
        server.close()
    assert answer["error"].startswith("the request is not one line of JSON (Expecting property name"), answer


_NOBODYS = ("{path} belongs to nobody (uid 65534), not to this user: not this user's daemon (anyone may place a socket in "
            "a shared folder); give --socket in a folder of your own")
"""What `status` and `call` say of a socket of the user nobody."""


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the socket to another user takes root")
def test_a_socket_of_another_user_is_never_asked_and_no_daemon_starts_on_it(tmp_path):
    """In a folder others may write (``/tmp``) anyone can place a socket at the daemon's path first:
    ``status`` and ``call`` would believe its answers and send it the call marks."""
    from monitor.delivery.status_socket import StatusServer
    path = str(tmp_path / "s.sock")
    theirs = StatusServer(path, state=lambda: {"state": "listening", "calls": 0})
    try:
        os.chown(path, 65534, 65534)
        said = _NOBODYS.format(path=path)
        for ask in (["status"], ["call", "start"]):
            r = subprocess.run([PY, "-m", "monitor.cli", *ask, "--socket", path], cwd=tmp_path,
                               capture_output=True, text=True, timeout=30)
            assert (r.returncode, r.stdout, r.stderr.splitlines()) == (1, "", [f"call-monitor: error: {said}"])
        with pytest.raises(RuntimeError, match="belongs to nobody"):
            StatusServer(path, state=dict)
        assert os.path.exists(path)
    finally:
        theirs.close()


LISTENS_AS_NOBODY = """
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])  # the file is root's
os.setgid(65534); os.setuid(65534)
s.listen(8)  # whoever connects is told this process's user: nobody
print("listening", flush=True)
while True:
    conn, _ = s.accept()
    conn.settimeout(5)
    got = conn.recv(4096)
    print(repr(got), flush=True)
    try:
        conn.sendall(b'{"state": "listening", "calls": 0}\\n')
    except OSError:  # the asker went
        pass
    conn.close()
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="listening as another user takes root")
def test_a_socket_another_user_listens_on_is_never_asked_whoever_owns_its_file(tmp_path):
    """The file's owner is checked before connecting; the user who listens, which the kernel tells,
    once connected: a path swapped between the two (a symbolic link in a shared folder) is refused
    before a word is sent."""
    path = str(tmp_path / "s.sock")
    theirs = subprocess.Popen([PY, "-c", LISTENS_AS_NOBODY, path], stdout=subprocess.PIPE, text=True)
    try:
        assert theirs.stdout.readline() == "listening\n"
        said = _NOBODYS.format(path=path)
        for ask in (["status"], ["call", "end"]):
            r = subprocess.run([PY, "-m", "monitor.cli", *ask, "--socket", path], cwd=ROOT,
                               capture_output=True, text=True, timeout=30)
            assert (r.returncode, r.stdout, r.stderr.splitlines()) == (1, "", [f"call-monitor: error: {said}"])
            assert theirs.stdout.readline() == "b''\n"  # connected, and closed with nothing sent
    finally:
        theirs.kill()
        theirs.wait(5)


def test_a_socket_in_a_folder_others_may_write_is_warned_of(tmp_path):
    from monitor.delivery.status_socket import shared_folder_warning
    shared, own = tmp_path / "shared", tmp_path / "own"
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)
    own.mkdir(mode=0o700)
    assert shared_folder_warning(str(shared / "s.sock")) == (
        f"status socket {shared / 's.sock'}: its folder {shared} may be written by other users, and one of them "
        "could remove the socket and place their own at its path, or take the path first (status and call would then say "
        "that no daemon runs, or ask theirs, and call marks be lost); give daemon.status_socket a folder of your own")
    assert shared_folder_warning(str(own / "s.sock")) is None
    assert shared_folder_warning(str(own / "not-yet" / "s.sock")) is None  # the daemon makes it, 0700


def test_a_socket_in_a_folder_a_group_may_write_is_warned_of_as_the_runtime_folder_is_passed_over(tmp_path):
    """A ``daemon.status_socket`` in a folder a group other than the user's own private group may
    write is warned of (``monitor.files.folder_not_own``), as a ``/run/user/UID`` a group may write is
    passed over for the default socket."""
    import grp
    from monitor.delivery.status_socket import shared_folder_warning
    team = tmp_path / "team"
    team.mkdir()
    team.chmod(0o770)
    if os.geteuid() == 0:
        os.chown(team, -1, 65534)  # root's own group root would be its private one: nogroup is none of root's
    elif os.getgid() == os.stat(team).st_gid and not grp.getgrgid(os.getgid()).gr_mem:
        pytest.skip("this user's folders get their own private group, which no other user writes through")
    group = grp.getgrgid(team.stat().st_gid).gr_name
    assert shared_folder_warning(str(team / "s.sock")) == (
        f"status socket {team / 's.sock'}: its folder {team} may be written by the group {group}, and one of them "
        "could remove the socket and place their own at its path, or take the path first (status and call would then say "
        "that no daemon runs, or ask theirs, and call marks be lost); give daemon.status_socket a folder of your own")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user takes root")
def test_a_daemon_whose_socket_is_in_a_folder_another_user_owns_warns_naming_the_folder_and_its_owner(
        pulse, env, tmp_path):
    """That user may remove the socket while the daemon runs (status and call then say that no
    daemon runs, the softphone's marks lost) and place their own: the folder was warned of only when
    anyone may write it. The daemon starts, and says so in one warning line; a reload that moves the
    socket there says it too."""
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)
    sock = theirs / "s.sock"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[daemon]\nstatus_socket = "{sock}"\n')
    warned = (f"call-monitor: warning: status socket {sock}: its folder {theirs} belongs to nobody (uid 65534), who "
              "could remove the socket and place their own at its path, or take the path first (status and call would "
              "then say that no daemon runs, or ask theirs, and call marks be lost); give daemon.status_socket a "
              "folder of your own")
    d = Daemon(["--caller", "softphone.monitor", "--config", str(cfg), "--db", str(tmp_path / "e.db"), "--no-notify",
                "--no-transcribe"], env, tmp_path)
    try:
        assert d.wait_err("listening", 20), d.err
        assert [e for e in d.err if "status socket" in e and "warning" in e] == [warned], d.err
        d.proc.send_signal(signal.SIGTERM)
        assert d.exited(5) == 0
    finally:
        d.kill()


def held_for(answer: dict) -> int:
    """The whole seconds on hold a `call resume` answer says (``call 1 resumed after N s on hold``)."""
    m = re.fullmatch(r"call 1 resumed after (\d+) s on hold", answer["message"])
    assert answer["ok"] and m, answer
    return int(m.group(1))


def test_call_hold_and_resume_keep_what_the_softphone_plays_meanwhile_from_the_caller(pulse, tmp_path):
    """`call hold` mid-call: from there the caller's leg is not heard (hold music, a recorded
    message is no caller: its time is stored as the caller's `caller_no_input`, out of the cue
    windows, and `status` says the call is on hold) until `call resume`; a hold with no call, or
    twice, says so and does nothing."""
    with daemon_in_process(tmp_path, lambda: LiveSource({"caller": "softphone.monitor"}, watch_streams=True)) as daemon:
        player = None
        try:
            assert wait_for(lambda: daemon.streams.ids is not None, 30)
            assert daemon.control({"call": "hold"}) == {"ok": True, "message": "no call in progress"}
            player = pulse.play(_caller_speech("normal", tmp_path / "a.wav", seconds=6.0))
            assert wait_for(lambda: daemon.calls == 1 and daemon.pipeline is not None, 30)
            held_at = daemon.now_s - daemon.call_origin
            assert daemon.control({"call": "hold"}) == {
                "ok": True, "message": "call 1 on hold: the caller's leg is not judged until `call resume`"}
            assert daemon.control({"call": "hold"})["message"].startswith("call 1 is on hold already, for ")
            time.sleep(1.0)
            assert daemon_status.state(daemon)["call"]["hold_s"] >= 0.7
            answer = daemon.control({"call": "resume"})
            resumed_at = daemon.now_s - daemon.call_origin
            assert 1 <= held_for(answer) <= round(resumed_at - held_at) + 1  # more than 1 s on a busy machine
            assert daemon_status.state(daemon)["call"]["hold_s"] is None
            assert daemon.control({"call": "resume"}) == {"ok": True, "message": "call 1 is not on hold"}
            assert daemon.control({"call": "end"}) == {"ok": True, "message": "call 1 ended"}
        finally:
            if player is not None:
                player.kill()
    ((a, b),) = stored_calls(tmp_path / "e.db")[0]["summary"]["caller_no_input"]
    assert held_at - MAX_CHUNK_S - 0.05 <= a <= held_at + 0.1
    assert resumed_at - MAX_CHUNK_S - 0.05 <= b <= resumed_at + MAX_CHUNK_S + 0.1


def test_a_chunk_not_heard_from_a_sample_on_joins_what_its_leg_already_missed():
    x = np.ones((100, 2), np.float32)
    held = Chunk(0.0, x).unheard_from(1, 40)
    assert held.samples[:40].all() and not held.samples[40:, 1].any() and held.samples[:, 0].all() and x.all()
    assert Chunk(0.0, x).unheard_from(1, 40).unheard == ((1, 40, 100),)
    assert Chunk(0.0, x, unheard=((1, 10, 50), (0, 20, 30))).unheard_from(1, 40).unheard == ((1, 10, 100), (0, 20, 30))
    assert Chunk(0.0, x, unheard=((1, 10, 20),)).unheard_from(1, -5).unheard == ((1, 0, 100),)
    assert Chunk(0.0, x).unheard_from(1, 100).unheard == ()


def test_a_chunk_not_heard_from_a_sample_on_keeps_every_sample_it_missed_once_and_silences_the_rest():
    """Seeded cases of what the capture marks (disjoint ranges per leg, in order) and a hold from any
    sample, before the chunk to past its end: each leg's samples not heard are those it missed and, on
    the hold's leg, those from the hold on; no two ranges of a leg overlap; the hold's samples are silence."""
    rng = np.random.default_rng(7)
    for _ in range(2000):
        n, legs = int(rng.integers(0, 24)), 2
        marked = []
        for column in range(legs):
            edges = np.sort(rng.choice(n + 1, size=2 * min(int(rng.integers(0, 3)), (n + 1) // 2), replace=False))
            marked += [(column, int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]
        marked.sort(key=lambda r: (r[1], r[0]))
        column, first = int(rng.integers(0, legs)), int(rng.integers(-3, n + 4))
        out = Chunk(0.0, np.ones((n, legs), np.float32), unheard=tuple(marked)).unheard_from(column, first)
        for leg in range(legs):
            ranges = [(a, b) for c, a, b in out.unheard if c == leg]
            assert all(a < b <= n for a, b in ranges) and all(b <= a2 for (_, b), (a2, _) in zip(ranges, ranges[1:]))
            want = {i for c, a, b in marked if c == leg for i in range(a, b)} | (
                set(range(max(0, first), n)) if leg == column else set())
            assert {i for a, b in ranges for i in range(a, b)} == want, (marked, column, first, out.unheard)
        assert not out.samples[max(0, first):, column].any()
        assert out.samples[:max(0, first), column].all() and out.samples[:, 1 - column].all()


def test_a_call_on_hold_is_kept_through_its_stream_paused_and_ended_by_its_stream_removed():
    """A softphone may cork (pause) its call's stream over a hold: while the call is marked on hold
    (`call hold`) that stream is not gone, and the grace counts from the hold's end; a stream
    removed over the hold, or paused with no hold marked, ends the call after the grace."""
    b = StreamBoundaries(grace_s=0.3)
    b.on_mark(StreamsMark(0.0, frozenset()), in_call=False)
    b.on_mark(StreamsMark(1.0, frozenset({5})), in_call=True)
    b.on_mark(StreamsMark(10.0, frozenset(), paused=frozenset({5})), in_call=True)  # corked on hold
    assert not b.stream_ended(12.0, on_hold=True)
    assert not b.stream_ended(12.2, on_hold=False)  # resumed at 12.0, the stream still paused: the grace first
    assert b.stream_ended(12.4, on_hold=False)
    b.on_mark(StreamsMark(20.0, frozenset({6})), in_call=True)
    b.on_mark(StreamsMark(30.0, frozenset(), paused=frozenset({6})), in_call=True)
    assert not b.stream_ended(31.0, on_hold=True)
    b.on_mark(StreamsMark(31.5, frozenset()), in_call=True)  # removed over the hold (the caller hung up)
    assert b.stream_ended(31.9, on_hold=True)
    b.reconfigure(1.0)  # a hold marked by a hook after the softphone paused: within the grace
    b.on_mark(StreamsMark(40.0, frozenset({7})), in_call=True)
    b.on_mark(StreamsMark(50.0, frozenset(), paused=frozenset({7})), in_call=True)
    assert not b.stream_ended(50.5, on_hold=False)
    assert not b.stream_ended(60.0, on_hold=True)


def test_a_softphones_stream_paused_over_a_marked_hold_keeps_the_call(pulse, tmp_path):
    """A softphone that corks its call's stream over a hold (a real stream, corked by its own client):
    the call marked on hold stays one call, through the pause and after the resume; its stream
    removed over the next hold, paused, ends it."""
    with daemon_in_process(tmp_path, lambda: LiveSource({"caller": "softphone.monitor"}, watch_streams=True)) as daemon:
        stream = None
        try:
            assert wait_for(lambda: daemon.streams.ids is not None, 30)
            stream = CorkableStream()
            assert wait_for(lambda: daemon.pipeline is not None, 30)
            assert daemon.control({"call": "hold"})["message"].startswith("call 1 on hold")
            held = time.monotonic()
            stream.cork()
            assert wait_for(lambda: daemon.streams.ids == frozenset(), 30)  # no stream plays a call
            time.sleep(1.0)  # the grace, 0.3 s, long past
            assert 1 <= held_for(daemon.control({"call": "resume"})) <= round(time.monotonic() - held) + 1
            stream.cork(False)
            assert wait_for(lambda: daemon.streams.ids, 30)
            time.sleep(0.5)
            assert daemon.calls == 1 and daemon.pipeline is not None
            daemon.control({"call": "hold"})
            stream.cork()
            assert wait_for(lambda: daemon.streams.ids == frozenset(), 30)
            stream.close()  # over the hold, paused: the caller hung up
            stream = None
            assert wait_for(lambda: daemon.pipeline is None, 30)
            assert daemon.calls == 1
        finally:
            if stream is not None:
                stream.close()
    assert [c["summary"]["ended_by"] for c in stored_calls(tmp_path / "e.db")] == [STREAM_ENDED]
