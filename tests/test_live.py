"""LiveSource against a real PulseAudio server (null sinks, no sound card), and where one is given, a
PipeWire server (the ``pipewire`` fixture: its tests are skipped elsewhere)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.ndimage import maximum_filter1d

from conftest import CALLS, ROOT, portaudio_afresh, until, wait_for

from monitor.capture.devices import DeviceError, PulseSource, InputDevice, resolve


def _sine(freq, seconds=2.0, rate=48000, amp=0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _tone(path, freq, seconds=2.0, rate=48000, amp=0.3):
    sf.write(path, _sine(freq, seconds, rate, amp), rate)


def _capture(src, seconds, on_chunk=None):
    out = []
    deadline = time.monotonic() + seconds
    for ch in src.chunks():
        out.append(ch)
        if on_chunk:
            on_chunk(ch)
        if time.monotonic() > deadline:
            src.stop()
    return out


def _chunks_while(src, driver) -> list:
    """The chunks the source yields while ``driver`` runs in a thread of its own (it stops the
    source when it is done; 30 s at most). A driver that fails stops the source, and its failure is
    the test's."""
    failed: list[BaseException] = []

    def drive() -> None:
        try:
            driver()
        except BaseException as e:  # raised again below, in the test's own thread
            failed.append(e)
            src.stop()

    th = threading.Thread(target=drive)
    th.start()
    chunks = _capture(src, 30)
    th.join()
    if failed:
        raise failed[0]
    return chunks


def _captured_while(src, driver) -> np.ndarray:
    """Every leg's samples (shape (n, legs)) the source captures while ``driver`` runs."""
    return np.concatenate([c.samples for c in _chunks_while(src, driver)])


def _unheard(chunks) -> np.ndarray:
    """Which samples of each leg the chunks mark as filled in, nothing heard (shape (n, legs), bool)."""
    out = [np.zeros(c.samples.shape, dtype=bool) for c in chunks]
    for mask, c in zip(out, chunks):
        for column, first, end in c.unheard:
            mask[first:end, column] = True
    return np.concatenate(out)


def _power_at(x, rate, f):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return spec[np.argmin(abs(freqs - f))]


def _one_line_two_legs(pulse) -> tuple[str, str]:
    """A stereo sink ``line`` whose left channel is the source ``caller_line`` and whose right is
    ``agent_line`` (remap sources of its monitor): one player's stereo file reaches both legs at
    the same instant. (Two players, one per leg, start up to tens of ms apart on a busy machine:
    legs compared to each other would measure the players.)"""
    _pactl(pulse, "load-module", "module-null-sink", "sink_name=line", "channels=2",
           "channel_map=front-left,front-right")
    for leg, channel in (("caller", "front-left"), ("agent", "front-right")):
        _pactl(pulse, "load-module", "module-remap-source", f"source_name={leg}_line", "master=line.monitor",
               "channels=1", f"master_channel_map={channel}", "channel_map=mono", "remix=no")
    return "caller_line", "agent_line"


def _stereo(path: Path, left: np.ndarray, right: np.ndarray, rate: int = 48000) -> Path:
    sf.write(path, np.stack([left, right], axis=1), rate)
    return path


def _pactl(pulse, *args: str) -> str:
    import subprocess
    return subprocess.run(["pactl", *args], env=pulse.full_env(), capture_output=True, text=True,
                          check=True).stdout


def _module_of(pulse, argument: str) -> str:
    """The index of the module loaded with ``argument`` (``sink_name=mic``)."""
    return next(line.split()[0] for line in _pactl(pulse, "list", "short", "modules").splitlines()
                if argument in line.split("\t", 2)[-1].split())


def test_resolve_names_indexes_and_pulse_sources():
    devs = [InputDevice(0, "pulse", 32, 44100.0, "ALSA"), InputDevice(1, "USB Headset Mic", 1, 48000.0, "ALSA")]
    srcs = [PulseSource(1, "softphone.monitor", "module-null-sink.c", "s16le 2ch 44100Hz", "IDLE")]
    r = resolve("softphone.monitor", devices=devs, sources=srcs)
    assert (r.device, r.pulse_source) == (0, "softphone.monitor")
    # the rate a sound-server source is opened at: its own, as its sample spec says (none: not told)
    assert srcs[0].rate == 44100 and PulseSource(2, "x", "", "float32le 1ch 48000Hz", "").rate == 48000
    assert PulseSource(3, "y", "", "", "").rate is None
    assert resolve("headset", devices=devs, sources=srcs).device == 1
    assert resolve("1", devices=devs, sources=srcs).device == 1
    with pytest.raises(DeviceError, match="no input device or source named 'nope'"):
        resolve("nope", devices=devs, sources=srcs)
    with pytest.raises(DeviceError, match="index 7"):
        resolve("7", devices=devs, sources=srcs)


def test_a_caller_source_with_no_pulse_device_to_open_it_through_is_refused_not_waited_for(pulse, tmp_path,
                                                                                          monkeypatch):
    """A sound-server source that is there, on a machine whose PortAudio has no ALSA ``pulse`` device
    and whose ALSA has no pulse plugin (libasound2-plugins, which a PipeWire desktop's packages do not
    bring; here ALSA's plugin folder is an empty one): the daemon waited for the caller's source for
    ever, which no wait brings; the start is refused, naming the package."""
    from monitor.capture.live import LiveSource
    monkeypatch.setenv("ALSA_PLUGIN_DIR", str(tmp_path))
    alsa_only = [InputDevice(0, "default", 32, 44100.0, "ALSA")]
    with pytest.raises(DeviceError, match=r"^softphone.monitor is a sound-server source but PortAudio has "
                                                 r"no 'pulse' device \(install libasound2-plugins\)$"):
        LiveSource({"caller": "softphone.monitor"}, optional=("caller",),
                   resolve_fn=lambda spec: resolve(spec, devices=alsa_only))


def test_a_device_list_read_before_the_sound_server_was_up_names_no_package_and_the_source_is_waited_for(pulse):
    """The same list without a ``pulse`` device, where ALSA's pulse plugin is installed: PortAudio
    read its list while the sound server was not reachable (a daemon started before it), which
    installing nothing mends. Said so, and a waiting leg looks for its source again (in a list read
    again) rather than the start being refused."""
    from monitor.capture.devices import NoPulseDeviceError, alsa_pulse_plugin_missing
    from monitor.capture.live import LiveSource
    if alsa_pulse_plugin_missing():
        pytest.skip("ALSA's pulse plugin (libasound2-plugins) is not installed")
    alsa_only = [InputDevice(0, "default", 32, 44100.0, "ALSA")]
    with pytest.raises(NoPulseDeviceError, match=r"^softphone.monitor is a sound-server source but PortAudio has "
                       r"no 'pulse' device \(the sound server was not reachable when PortAudio read its device "
                       r"list\)$"):
        resolve("softphone.monitor", devices=alsa_only)
    live = LiveSource({"caller": "softphone.monitor"}, optional=("caller",),
                      resolve_fn=lambda spec: resolve(spec, devices=alsa_only))
    assert live.not_found() == {"caller"}


def test_a_mistyped_source_is_refused_naming_the_source_it_is_close_to():
    """A typo in ``--caller`` (a daemon would otherwise wait for a source that never comes) is
    answered with the name it was meant to be, letter case aside (a source name is case-sensitive); a name
    close to nothing gets no guess."""
    devs = [InputDevice(0, "pulse", 32, 44100.0, "ALSA")]
    srcs = [PulseSource(1, "softphone.monitor", "module-null-sink.c", "s16le 2ch 44100Hz", "IDLE"),
            PulseSource(2, "mic.monitor", "module-null-sink.c", "s16le 2ch 44100Hz", "IDLE")]
    with pytest.raises(DeviceError, match=r"named 'softphone.montor' \(did you mean softphone.monitor\?\); "
                                          r"sound-server sources: softphone.monitor, mic.monitor"):
        resolve("softphone.montor", devices=devs, sources=srcs)
    with pytest.raises(DeviceError, match=r"named 'Softphone.Monitor' \(did you mean softphone.monitor\?\)"):
        resolve("Softphone.Monitor", devices=devs, sources=srcs)
    with pytest.raises(DeviceError) as err:
        resolve("headset", devices=devs, sources=srcs)
    assert "did you mean" not in str(err.value)


def test_a_sink_named_for_a_source_is_answered_with_its_monitor():
    """``--caller softphone``, the softphone's sink rather than its monitor: the answer says so and
    names the monitor source to give, in one line."""
    devs = [InputDevice(0, "pulse", 32, 44100.0, "ALSA")]
    srcs = [PulseSource(1, "softphone.monitor", "module-null-sink.c", "s16le 2ch 44100Hz", "IDLE"),
            PulseSource(2, "mic.monitor", "module-null-sink.c", "s16le 2ch 44100Hz", "IDLE")]
    with pytest.raises(DeviceError) as err:
        resolve("softphone", devices=devs, sources=srcs)
    assert str(err.value) == "softphone is a sink, not a source: its monitor source is softphone.monitor (give that)"


def _band_db(x, rate, lo, hi, ref=(1000, 3000)) -> float:
    """The mean power of ``x`` between ``lo`` and ``hi`` Hz against its mean power in ``ref``, in dB
    (white noise: 0 where nothing is lost)."""
    from scipy.signal import welch
    f, p = welch(x, rate, nperseg=1024)
    return float(10 * np.log10(p[(f >= lo) & (f < hi)].mean() / p[(f >= ref[0]) & (f < ref[1])].mean()))


def test_the_source_the_environment_routes_is_read_as_it_is_outside_a_leg_s_opening(monkeypatch):
    """A leg opening its stream sets PULSE_SOURCE (process-wide) to its own source for that moment,
    under the lock streams open under; a reload's same-source check on another thread reads the
    environment's own value: it waits for the opening to end, not reading the leg's."""
    import threading

    from monitor.capture.devices import FROM_ENVIRONMENT, PULSE_SOURCE_LOCK, routed_source

    monkeypatch.setenv("PULSE_SOURCE", "own.monitor")
    read: list[tuple[str | None, str]] = []
    checking = threading.Thread(target=lambda: read.append(routed_source()))
    with PULSE_SOURCE_LOCK:  # a leg opening its stream, as LiveCapture's _start_stream does
        monkeypatch.setenv("PULSE_SOURCE", "leg.monitor")
        checking.start()
        checking.join(0.5)
        assert checking.is_alive() and not read, read  # it waits for the opening
        monkeypatch.setenv("PULSE_SOURCE", "own.monitor")  # put back
    checking.join(10)
    assert read == [("own.monitor", FROM_ENVIRONMENT)]


def test_two_pulse_legs_captured_at_their_own_rate_separated_resampled_and_aligned(pulse, tmp_path):
    """Each sound-server source is opened at its own rate (the null sink's 44.1 kHz), not the
    analyzer's 16 kHz, and resampled in the capture: the server's own resampling to 16 kHz takes
    3-6 dB off 6-7 kHz, which moves a breathy caller's cues."""
    portaudio_afresh()
    from monitor.capture.devices import pulse_sources
    from monitor.capture.live import LiveSource
    caller_line, agent_line = _one_line_two_legs(pulse)
    rates = {s.name: s.rate for s in pulse_sources()}
    # the caller: a 440 Hz tone for 2 s, then 1 s of white noise; the agent: a 1000 Hz tone for 2 s
    noise = np.random.default_rng(0).standard_normal(44100).astype(np.float32) * 0.1
    both = _stereo(tmp_path / "both.wav", np.concatenate([_sine(440, rate=44100), noise]),
                   np.concatenate([_sine(1000, rate=44100), np.zeros_like(noise)]), rate=44100)
    msgs = []
    src = LiveSource({"caller": caller_line, "agent": agent_line}, on_status=lambda lvl, m, topic: msgs.append(m))
    src.start()
    # wait for the first blocks before playing (the first callback can be ~2 s late)
    deadline = time.monotonic() + 5
    got = []
    it = src.chunks()
    while time.monotonic() < deadline:
        got.append(next(it))
        if all(s["state"] == "running" for s in src.stats().values()):
            break
    player = pulse.play(both, "line")  # the caller's tone on the left, the agent's on the right
    end = time.monotonic() + 3.8
    for ch in it:
        got.append(ch)
        if time.monotonic() > end:
            src.stop()
    player.wait(5)
    assert src.legs == ("caller", "agent")
    assert [s["device_rate"] for s in src.stats().values()] == [rates[caller_line], rates[agent_line]] != [16000] * 2
    x = np.concatenate([c.samples for c in got])
    ts = [c.t0 for c in got]
    assert ts == sorted(ts) and x.shape[1] == 2
    assert abs(len(x) / 16000 - src.emitted / 16000) < 1e-9
    # same clock: the tones, played at the same instant, start within 0.15 s of each other
    on = [int(np.argmax(np.abs(leg) > 0.1)) for leg in (x[:, 0], x[:, 1])]
    assert abs(on[0] - on[1]) / 16000 < 0.15
    caller, agent = x[on[0]:on[0] + 30400, 0], x[on[1]:on[1] + 30400, 1]  # 1.9 s of the tones
    assert np.sqrt(np.mean(caller ** 2)) > 0.05 and np.sqrt(np.mean(agent ** 2)) > 0.05
    assert _power_at(caller, 16000, 440) > 20 * _power_at(caller, 16000, 1000)
    assert _power_at(agent, 16000, 1000) > 20 * _power_at(agent, 16000, 440)
    heard = x[on[0] + 33600:on[0] + 46400, 0]  # 0.8 s of the noise
    assert np.sqrt(np.mean(heard ** 2)) > 0.05
    assert abs(_band_db(heard, 16000, 6000, 7000)) < 1.0, "the top band is kept"


def _through_a_server_restart(src, pulse, tone: Path, *, outage_s: float = 1.5, settle_s: float = 0.5,
                              on_stop=lambda: None) -> tuple[np.ndarray, float]:
    """Capture ``src`` (the caller leg) while the server stops for ``outage_s`` and comes back
    (``on_stop`` runs as it stops), then play ``tone`` ``settle_s`` after the leg is reopened.
    Returns the caller's audio and the clock time at which the tone was played."""
    played = []

    def driver():
        until(lambda: src.stats()["caller"]["state"] == "running", "the caller leg running")
        on_stop()
        pulse.stop()
        time.sleep(outage_s)
        pulse.start()
        until(lambda: src.stats()["caller"]["reopens"] >= 1, "the caller leg reopened")
        time.sleep(settle_s)
        played.append(src.now())
        pulse.play(tone).wait(10)
        time.sleep(0.5)
        src.stop()

    return _captured_while(src, driver)[:, 0], played[0]


def test_leg_survives_server_restart(pulse, tmp_path, monitor_logs):
    """... also when the stream the server leaves cannot be closed: a sound server killed under a
    stream can deadlock its client library, so that closing the stream waits forever (here its
    abort, done at once as always, then does not return until the test ends: a real abort held
    until then, of a stream whose server was killed long before, could deadlock for real and hold
    PortAudio for the tests after it). The leg, which reopened only once that stream was closed,
    stayed silent; the stream is left to the end of the process, said once, and a new one opened."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    msgs = []
    src = LiveSource({"caller": "softphone.monitor"}, on_status=lambda lvl, m, topic: msgs.append((lvl, m)),
                     backoff_s=0.3)
    _tone(tmp_path / "a.wav", 440, seconds=1.5)
    deadlocked = threading.Event()

    def closing_hangs():
        stream = src._legs["caller"].stream
        abort = stream.abort
        stream.abort = lambda: (abort(), deadlocked.wait(30))

    try:
        x, played = _through_a_server_restart(src, pulse, tmp_path / "a.wav", on_stop=closing_hangs)
    finally:
        deadlocked.set()
        for closer in [t for t in threading.enumerate() if t.name == "live-caller-close"]:
            closer.join(10)  # its close done before the next test starts PortAudio afresh
    assert src.stats()["caller"]["reopens"] >= 1
    assert [m for level, m in monitor_logs if "did not close" in m] == [
        "caller leg (softphone.monitor): its stream did not close within 1 s (the sound server's client hangs): it "
        "is left to the end of the process; opening a new one"], monitor_logs
    assert any("input lost" in m for _, m in msgs) and any("reopened" in m for _, m in msgs)
    # the clock went on through the outage, and the tone after the restart was captured
    assert len(x) / 16000 > played
    after = x[int(played * 16000):]
    assert np.max(np.abs(after)) > 0.1


def test_portaudio_s_device_list_is_not_read_again_while_a_stream_left_to_the_process_s_end_is_there(pulse):
    """Reading PortAudio's device list again (an ALSA device not found yet) closes every stream
    first: one left to the end of the process, its sound server's client hung, would hold that for
    ever, and with it the capture; the list is read again only without one."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    src = LiveSource({"caller": "softphone.monitor"})
    src._left_open.append(object())  # as _close leaves a stream that did not close
    src._refreshed_at = -1e9
    assert src._refresh("hw:9,9") is False
    src._left_open.clear()
    assert src._refresh("hw:9,9") is True


def test_a_leg_reopened_at_another_device_rate_is_captured_at_its_pitch_and_speed(pulse, tmp_path):
    """The device comes back at another rate (here: the server restarts while the rate asked for
    changes from 48 to 8 kHz): the blocks of the new stream are conditioned at the new rate from
    the first one, so a tone played at once keeps its pitch and its length on the 16 kHz clock."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    src = LiveSource({"caller": "softphone.monitor"}, device_rate=48000, backoff_s=0.3)
    _tone(tmp_path / "a.wav", 1000, seconds=1.5)

    def comes_back_at_8k():
        src.device_rate = 8000

    x, played = _through_a_server_restart(src, pulse, tmp_path / "a.wav", outage_s=1.0, settle_s=0.0,
                                          on_stop=comes_back_at_8k)
    assert src.stats()["caller"]["reopens"] >= 1 and src.stats()["caller"]["device_rate"] == 8000
    loud = np.flatnonzero(np.abs(x) > 0.1)
    assert len(loud) and loud[0] / 16000 >= played - 0.2
    # the null sink's monitor gets about 1.4 s of paplay's 1.5 s tone at any rate; a block
    # resampled at the old rate would be 2 or 6 times too long or too short
    assert abs((loud[-1] - loud[0]) / 16000 - 1.5) < 0.15, "the tone keeps its length"
    tone = x[loud[0]:loud[-1]]
    assert _power_at(tone, 16000, 1000) > 20 * max(_power_at(tone, 16000, f) for f in (167, 333, 3000, 6000))


def test_a_caller_sink_that_vanishes_is_a_lost_leg_not_the_microphone_and_is_followed_back(pulse, tmp_path):
    """The softphone's sink is unloaded mid-call: the server moves the caller leg's stream to its
    fallback source (here the microphone's), where it would go on delivering the agent's voice as
    the caller's. The leg is reported lost instead and carries silence, the agent's leg goes on,
    and once the sink is back the caller leg records it again. The chunks mark the caller leg's
    silence as not heard, from the sample its audio stopped at to the one it resumed at: nothing
    else."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    _tone(tmp_path / "a.wav", 440, seconds=12.0)
    _tone(tmp_path / "b.wav", 1000, seconds=1.5)
    msgs = []
    src = LiveSource({"caller": "softphone.monitor", "agent": "mic.monitor"}, backoff_s=0.3,
                     max_backoff_s=0.6, on_status=lambda lvl, m, topic: msgs.append(m))
    marks = {}

    def driver():
        until(lambda: all(s["state"] == "running" for s in src.stats().values()), "both legs running")
        player = pulse.play(tmp_path / "a.wav")  # the caller, still playing when the sink goes
        time.sleep(1.0)
        sink = [line.split()[0] for line in _pactl(pulse, "list", "short", "modules").splitlines()
                if "sink_name=softphone" in line][0]
        _pactl(pulse, "unload-module", sink)  # the server moves the player to the "mic" sink
        marks["gone"] = src.now()
        time.sleep(4.0)
        marks["back"] = src.now()
        _pactl(pulse, "load-module", "module-null-sink", "sink_name=softphone")
        until(lambda: src.stats()["caller"]["reopens"] >= 1, "the caller leg reopened")
        player.kill()
        time.sleep(0.5)
        marks["played"] = src.now()
        pulse.play(tmp_path / "b.wav").wait(10)
        time.sleep(0.5)
        src.stop()

    chunks = _chunks_while(src, driver)
    x, unheard = np.concatenate([c.samples for c in chunks]), _unheard(chunks)
    # from 2 s after the sink went until it came back, the 440 Hz caller audio plays into the
    # microphone's sink: the agent's leg has it, the caller's leg has silence
    gone = slice(int((marks["gone"] + 2.0) * 16000), int(marks["back"] * 16000))
    assert np.max(np.abs(x[gone, 1])) > 0.1
    assert np.max(np.abs(x[gone, 0])) < 1e-3, "the caller leg recorded the microphone's source"
    after = x[int(marks["played"] * 16000):, 0]
    assert np.max(np.abs(after)) > 0.1, "the caller leg records the sink once it is back"
    assert _power_at(after, 16000, 1000) > 20 * _power_at(after, 16000, 440)
    assert unheard[gone, 0].all() and not x[unheard[:, 0], 0].any(), "the silence filled in is marked, only it"
    first = int(np.flatnonzero(~unheard[:gone.start, 0])[-1]) + 1  # where the run of it the loss began starts
    assert marks["gone"] - 0.2 < first / 16000 < marks["gone"] + 2.0
    assert np.max(np.abs(x[first - 160:first, 0])) > 0.1, "marked from the sample the caller's audio stopped at"
    assert not unheard[-16000:, 0].any(), "its last second, the leg delivering again, is heard"
    assert any("source softphone.monitor is gone" in m for m in msgs), msgs
    assert src.stats()["caller"]["reopens"] >= 1


def _speech(path: Path, leg: int, start_s: float, end_s: float) -> Path:
    """``path``: the healthy fixture call's ``leg`` (0: the agent, 1: the caller) from ``start_s`` to ``end_s``."""
    x, rate = sf.read(CALLS / "normal_16k.wav", dtype="float32")
    sf.write(path, x[int(start_s * rate):int(end_s * rate), leg], rate)
    return path


def _call_events(chunks, agent_heard: bool = False) -> list:
    """The events of the call pipeline fed ``chunks`` (``agent_heard``: the agent's leg taken as
    heard all along, a silent microphone), its summary last."""
    from monitor.capture.sources import Chunk
    from monitor.config import load_config
    from monitor.pipeline import CallPipeline, run_source
    if agent_heard:
        chunks = [Chunk(c.t0, c.samples, c.marks, tuple(u for u in c.unheard if u[0] != 1)) for c in chunks]
    pipeline = CallPipeline(load_config(None, user_config=False), 16000, ("caller", "agent"))
    return run_source(pipeline, iter(chunks), [])


def _latencies(events) -> set:
    """The caller's response latencies among a call's ``events``."""
    return {e.response_latency_s for e in events if e.type == "cues"} - {None}


def test_an_agent_headset_unplugged_mid_question_leaves_the_caller_s_answer_unmeasured(pulse, tmp_path):
    """The agent's headset (its source, ``mic.monitor``) is unplugged while the agent speaks, and the
    caller answers 2 s later: the agent may have gone on asking unheard, so the wait from the agent's
    last heard word is no response latency (taken for one, it raised slow_response on a healthy call).
    Its leg is marked not heard until the headset is back, and the call's summary keeps that time
    (``agent_no_input``, and its seconds); taken as a silent microphone instead, the same audio gives
    the 2 s latency."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    agent, caller = _speech(tmp_path / "agent.wav", 0, 25.0, 27.0), _speech(tmp_path / "caller.wav", 1, 28.4, 31.4)
    src = LiveSource({"caller": "softphone.monitor", "agent": "mic.monitor"}, backoff_s=0.3, max_backoff_s=0.6)
    marks = {}

    def driver():
        until(lambda: all(s["state"] == "running" for s in src.stats().values()), "both legs running")
        asking = pulse.play(agent, "mic")
        time.sleep(1.8)
        asking.kill()  # the agent's words go nowhere the daemon hears (not into another sink)
        _pactl(pulse, "unload-module", _module_of(pulse, "sink_name=mic"))
        marks["unplugged"] = src.now()
        time.sleep(1.0)
        pulse.play(caller).wait(10)
        _pactl(pulse, "load-module", "module-null-sink", "sink_name=mic")
        until(lambda: src.stats()["agent"]["reopens"] >= 1, "the agent leg reopened")
        marks["replugged"] = src.now()
        time.sleep(0.5)
        src.stop()

    chunks = _chunks_while(src, driver)
    unheard = _unheard(chunks)[:, 1]
    assert unheard[int((marks["unplugged"] + 0.6) * 16000):int(marks["replugged"] * 16000)].all()
    assert _latencies(_call_events(chunks, agent_heard=True)), "the answer is measured where the agent's leg was heard"
    events = _call_events(chunks)
    assert _latencies(events) == set()
    summary = events[-1].to_dict()
    spans = summary["agent_no_input"]  # the capture's first moments, a leg not delivering yet, may be one too
    (a, b), = [(a, b) for a, b in spans if a < marks["replugged"] and b > marks["unplugged"]]
    assert marks["unplugged"] - 0.5 < a < marks["unplugged"] + 0.6 and marks["replugged"] - 1.0 < b < marks["replugged"] + 0.2
    assert summary["agent_no_input_s"] == pytest.approx(sum(b - a for a, b in spans), abs=0.11)
    assert not [b for a, b in summary.get("caller_no_input", []) if b > marks["unplugged"]], "the caller was heard"


def test_a_headset_plugged_in_again_under_another_name_is_named_in_one_line_of_the_lost_leg(pulse):
    """The agent's headset (``mic.monitor``) is unplugged and comes back under another name (another
    port, another profile): the leg, which records the source it was given, stays lost, and says in one
    more line, and in its state, the source that appeared, so that the agent can give that name."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    msgs: list[str] = []
    src = LiveSource({"caller": "softphone.monitor", "agent": "mic.monitor"}, backoff_s=0.3, max_backoff_s=0.6,
                     source_check_s=0.3, on_status=lambda lvl, m, topic: msgs.append(m))

    def driver():
        until(lambda: all(s["state"] == "running" for s in src.stats().values()), "both legs running")
        _pactl(pulse, "unload-module", _module_of(pulse, "sink_name=mic"))
        until(lambda: src.stats()["agent"]["state"] != "running", "the agent leg lost")
        _pactl(pulse, "load-module", "module-null-sink", "sink_name=headset2")
        until(lambda: "appeared" in src.stats()["agent"]["last_error"], "the source that appeared named")
        time.sleep(0.6)  # looked for again, among the same sources: no line more
        src.stop()

    _chunks_while(src, driver)
    said = [m for m in msgs if m.startswith("agent leg")]
    assert said == ["agent leg (mic.monitor): input lost (source mic.monitor is gone); reopening",
                    "agent leg (mic.monitor): cannot open (source mic.monitor is gone; headset2.monitor appeared "
                    "since: if that is it under another name, give that name and start the daemon again); retrying, "
                    "at most every 0.3 s"], msgs
    assert src.stats()["agent"]["state"] == "lost"


def test_a_headset_back_under_another_name_before_the_leg_looked_again_is_named_too(pulse):
    """The headset's source goes and one of another name comes between two looks of the leg (a Bluetooth
    headset switching profile does it within milliseconds): the leg, lost, still names what appeared,
    the sources it is set against being those there when its own was last found."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    msgs: list[str] = []
    src = LiveSource({"caller": "softphone.monitor", "agent": "mic.monitor"}, backoff_s=0.3, max_backoff_s=0.6,
                     on_status=lambda lvl, m, topic: msgs.append(m))

    def driver():
        until(lambda: all(s["state"] == "running" for s in src.stats().values()), "both legs running")
        _pactl(pulse, "unload-module", _module_of(pulse, "sink_name=mic"))
        _pactl(pulse, "load-module", "module-null-sink", "sink_name=headset2")
        until(lambda: src.stats()["agent"]["state"] == "lost" and "appeared" in src.stats()["agent"]["last_error"],
              "the agent leg lost, naming the source that appeared")
        src.stop()

    _chunks_while(src, driver)
    assert any("headset2.monitor appeared since" in m for m in msgs if m.startswith("agent leg")), msgs
    assert src.stats()["agent"]["state"] == "lost"


def test_a_caller_leg_the_server_moves_to_its_new_default_source_is_reopened_on_its_own_source(pulse, tmp_path):
    """The server's default source is the softphone's monitor (a desktop with no microphone) and the
    desktop makes the microphone its default (a headset plugged in, a choice in its settings): the
    server moves every stream on the old default to the new one, the caller leg's too, whose source
    is still there, and the leg would record the agent's voice as the caller's. The leg is lost and
    reopened on its own source instead."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    assert pulse.default_source() == "softphone.monitor"
    msgs: list[str] = []
    src = LiveSource({"caller": "softphone.monitor", "agent": "mic.monitor"}, backoff_s=0.3, source_check_s=0.3,
                     on_status=lambda lvl, m, topic: msgs.append(m))
    recorded: list[frozenset] = []

    def driver():
        until(lambda: all(s["state"] == "running" for s in src.stats().values()), "both legs running")
        pulse.set_default_source("mic.monitor")
        until(lambda: src.stats()["caller"]["reopens"] >= 1, "the caller leg reopened")
        recorded.append(_sources_recorded_by(pulse, os.getpid()))  # the stream reopened, its first block or not
        src.stop()

    _chunks_while(src, driver)
    assert [m for m in msgs if "input lost" in m] == [
        "caller leg (softphone.monitor): input lost (the sound server moved its stream off softphone.monitor, "
        "to another source); reopening"], msgs
    assert recorded == [frozenset({"softphone.monitor", "mic.monitor"})]


def test_an_agent_leg_on_the_default_source_is_lost_while_the_default_is_the_caller_s_monitor(pulse, tmp_path):
    """``--agent default`` records the server's default source, the headset's microphone (here
    ``mic.monitor``). The headset is unplugged and the server makes the softphone's monitor its
    default, moving the agent's stream there: the agent's leg would score the caller's voice as the
    agent's, unsaid. It is lost instead, said in one line naming why, and marked not heard, until the
    default is a source of its own again, when it records that one."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    pulse.set_default_source("mic.monitor")
    _tone(tmp_path / "caller.wav", 440, seconds=3.0)
    _tone(tmp_path / "agent.wav", 1000, seconds=0.8)
    msgs: list[str] = []
    src = LiveSource({"caller": "softphone.monitor", "agent": "default"}, backoff_s=0.3, max_backoff_s=0.6,
                     source_check_s=0.3, on_status=lambda lvl, m, topic: msgs.append(m))
    marks = {}

    def driver():
        until(lambda: all(s["state"] == "running" for s in src.stats().values()), "both legs running")
        pulse.set_default_source("softphone.monitor")  # the headset's microphone gone
        caller = pulse.play(tmp_path / "caller.wav")
        marks["default"] = src.now()
        caller.wait(10)
        marks["back"] = src.now()
        pulse.set_default_source("mic.monitor")  # plugged in again
        until(lambda: src.stats()["agent"]["reopens"] >= 1, "the agent leg reopened")
        time.sleep(0.3)
        marks["agent"] = src.now()
        pulse.play(tmp_path / "agent.wav", "mic").wait(10)
        time.sleep(1.0)
        src.stop()

    chunks = _chunks_while(src, driver)
    x, unheard = np.concatenate([c.samples for c in chunks]), _unheard(chunks)
    calling = slice(int((marks["default"] + 1.0) * 16000), int(marks["back"] * 16000))
    assert np.max(np.abs(x[calling, 0])) > 0.1, "the caller is heard"
    assert np.max(np.abs(x[calling, 1])) < 1e-3, "the agent's leg recorded the caller"
    assert unheard[calling, 1].all()
    lost = [m for m in msgs if m.startswith("agent leg") and ("input lost" in m or "cannot open" in m)]
    assert len(lost) == 1 and "(it records softphone.monitor (default (#" in lost[0], msgs
    assert "the sound server's default source), the caller leg's source); reopening" in lost[0], msgs
    after = x[int(marks["agent"] * 16000):]
    assert np.max(np.abs(after[:, 1])) > 0.1, "the agent's leg records its own source again"
    assert _power_at(after[:, 1], 16000, 1000) > 20 * _power_at(after[:, 1], 16000, 440)


def test_an_agent_leg_on_the_default_source_says_the_new_headset_it_follows(pulse):
    """A headset plugged in and made the default source: the agent's leg on ``default`` follows it (the
    server moves its stream there) and says in one line what it records now; it is no loss."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    pulse.set_default_source("mic.monitor")
    msgs: list[str] = []
    src = LiveSource({"caller": "softphone.monitor", "agent": "default"}, source_check_s=0.3,
                     on_status=lambda lvl, m, topic: msgs.append(m))

    def driver():
        until(lambda: all(s["state"] == "running" for s in src.stats().values()), "both legs running")
        # a source of its own, delivering at the pace of the sink it remaps (a null sink no recorder asks
        # a short latency of delivers every 2 s: a stall)
        _pactl(pulse, "load-module", "module-remap-source", "source_name=headset", "master=mic.monitor")
        pulse.set_default_source("headset")
        until(lambda: any("now" in m for m in msgs), "a line saying what the leg records now")
        time.sleep(2.0)  # longer than a stall
        src.stop()

    _chunks_while(src, driver)
    assert [m for m in msgs if m.startswith("agent leg")] == [
        "agent leg (default): records headset now (the sound server's default source)"], msgs


def test_a_leg_reopened_while_the_other_leg_asked_what_the_streams_record_is_not_judged_by_that_answer(
        pulse, monkeypatch):
    """The agent's leg asks the sound server which sources this process's streams record while the
    caller's leg is between two streams (the last one closed, the next not open yet), and the answer
    is kept once the next one is open: the caller's stream is not in it. Taken for the new stream's,
    that answer said the server had moved it off its source, and the leg was reopened once more for
    nothing. The answer judges only the streams that had delivered when it was asked."""
    portaudio_afresh()
    from monitor.capture import live
    src = live.LiveSource({"caller": "softphone.monitor", "agent": "mic.monitor"}, device_rate=48000)
    caller, agent = src._legs["caller"], src._legs["agent"]
    asked = live.recorded_sources

    def asked_across_a_reopen(pid: int):
        src._close(caller)
        answer = asked(pid)
        src._open(caller)
        return answer

    try:
        src._open(caller)
        src._open(agent)
        assert wait_for(lambda: caller.last_block and agent.last_block, 30)
        monkeypatch.setattr(live, "recorded_sources", asked_across_a_reopen)
        now = time.monotonic()
        assert src._source_moved(agent, now) is None
        monkeypatch.setattr(live, "recorded_sources", asked)
        assert src._source_moved(caller, now + 0.1) is None  # the same answer, kept for half a check's time
    finally:
        src.close()


def _level_of_a_tone_played(server, sink: str, source: str, stereo: np.ndarray, tmp_path) -> tuple[float, dict]:
    """The peak level (dB re 0.3) of the 1 kHz tone ``stereo`` (n, 2) at 48 kHz played into ``sink``, as
    a leg on ``source`` captures it, and the leg's stats."""
    from monitor.capture.live import LiveSource
    sf.write(tmp_path / "tone.wav", stereo, 48000)
    src = LiveSource({"caller": source})

    def driver():
        until(lambda: src.stats()["caller"]["state"] == "running", "the caller leg running")
        server.play(tmp_path / "tone.wav", sink).wait(10)
        src.stop()

    x = _captured_while(src, driver)[:, 0]
    peaks = np.sort(np.abs(x))[-len(x) // 50:]  # the tone's crests
    return float(20 * np.log10(np.median(peaks) / 0.3)), src.stats()["caller"]


def _in_both_channels(tone: np.ndarray) -> np.ndarray:
    return np.stack([tone, tone], axis=1)


def _in_the_left_channel(tone: np.ndarray) -> np.ndarray:
    return np.stack([tone, np.zeros_like(tone)], axis=1)


def test_a_stereo_sink_s_monitor_is_captured_with_both_channels_their_mean_the_leg(pulse, tmp_path):
    """A sink's monitor is stereo: the leg opens it with its two channels and takes their mean, as
    PulseAudio mixes them down (a tone in the left channel only at half its level), rather than
    asking the server for one channel, which PipeWire mixes down 3 dB louder (below)."""
    portaudio_afresh()
    level, stats = _level_of_a_tone_played(pulse, "softphone", "softphone.monitor",
                                           _in_the_left_channel(_sine(1000, seconds=1.5)), tmp_path)
    assert abs(level - (-6.02)) < 0.5, level
    assert stats["device_channels"] == 2, stats


def test_on_pipewire_a_caller_in_both_channels_of_the_softphone_s_sink_reads_the_level_it_plays_at(
        pipewire, tmp_path):
    """PipeWire mixes a stereo source down to one channel as the sum of its channels at -3 dB, not
    their mean as PulseAudio does: a caller played into both channels of the softphone's sink read
    2.9 dB louder there (a caller in one channel 3 dB softer) than on PulseAudio. The leg takes the
    channels' mean itself: the level it was played at, on either server."""
    portaudio_afresh()
    sink = pipewire.sink("softphone")
    tone = _sine(1000, seconds=1.5)
    level, stats = _level_of_a_tone_played(pipewire, sink, f"{sink}.monitor", _in_both_channels(tone), tmp_path)
    assert abs(level) < 0.5, level
    assert stats["device_channels"] == 2, stats
    one_side, _ = _level_of_a_tone_played(pipewire, sink, f"{sink}.monitor", _in_the_left_channel(tone), tmp_path)
    assert abs(one_side - (-6.02)) < 0.5, one_side


def test_on_pipewire_a_leg_stays_on_its_own_source_when_the_desktop_changes_the_default_source(pipewire):
    """PipeWire (WirePlumber) leaves a stream opened on a source it names where it is when the default
    source changes (PulseAudio moves it, and the leg is reopened on its own source: above): the
    caller's leg, on the softphone's monitor, the default source until the microphone becomes it,
    goes on recording it, with no loss to say."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    softphone, mic = (f"{pipewire.sink(name)}.monitor" for name in ("softphone", "mic"))
    pipewire.set_default_source(softphone)
    msgs: list[str] = []
    src = LiveSource({"caller": softphone, "agent": mic}, backoff_s=0.3, source_check_s=0.3,
                     on_status=lambda lvl, m, topic: msgs.append(m))
    recorded: list[frozenset] = []

    def driver():
        until(lambda: all(s["state"] == "running" for s in src.stats().values()), "both legs running")
        pipewire.set_default_source(mic)
        time.sleep(1.0)  # three of the leg's looks at the source it records
        recorded.append(_sources_recorded_by(pipewire, os.getpid()))
        src.stop()

    _chunks_while(src, driver)
    assert [m for m in msgs if "input lost" in m] == [], msgs
    assert recorded == [frozenset({softphone, mic})] and src.stats()["caller"]["reopens"] == 0


def _sources_recorded_by(pulse, pid: int) -> frozenset:
    """The names of the sources process ``pid``'s recording streams record now."""
    import json
    names = {str(s["index"]): s["name"] for s in json.loads(_pactl(pulse, "-f", "json", "list", "sources"))}
    return frozenset(names[str(o["source"])] for o in json.loads(_pactl(pulse, "-f", "json", "list", "source-outputs"))
                     if o["properties"].get("application.process.id") == str(pid))


def test_devices_command_marks_monitor_sources(pulse):
    import subprocess
    r = subprocess.run([sys.executable, "-m", "monitor.cli", "devices"], capture_output=True, text=True,
                       timeout=30, env=pulse.full_env(), cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr
    assert "pulse" in r.stdout
    assert any(line.split()[:2] == ["monitor", "softphone.monitor"] for line in r.stdout.splitlines())


def test_devices_lists_the_sinks_by_the_descriptions_a_softphone_s_device_list_shows(pulse):
    """A web softphone's speaker setting lists the sinks by their description: ``devices`` says each
    sink's, and the monitor that captures it; two null sinks made without one are both "Null Output"
    there, which one warning line says, with the commands that give the sink its own. Those run, the
    sink of that name is listed by its own description (loading another null sink of the name beside
    it made a second sink, softphone.2, which the device list then showed as "softphone")."""
    import json
    import subprocess
    cwd = Path(__file__).resolve().parents[1]

    def devices(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "monitor.cli", "devices", *args], capture_output=True, text=True,
                              timeout=30, env=pulse.full_env(), cwd=cwd)
    listed = devices("--json")
    sinks = json.loads(listed.stdout)["sinks"]
    (module,) = [s["module"] for s in sinks if s["name"] == "softphone"]
    assert module.isdigit()
    assert [{k: v for k, v in s.items() if k != "module"} for s in sinks if s["name"] == "mic"] == [
        {"name": "mic", "description": "Null Output", "monitor": "mic.monitor"}]
    r = devices()
    assert r.returncode == 0, r.stderr
    assert '  softphone  "Null Output"  (its monitor: softphone.monitor)' in r.stdout.splitlines()
    assert r.stderr.splitlines() == [
        'call-monitor: warning: sinks softphone, mic share the description "Null Output": a softphone\'s or '
        "browser's output device list cannot tell them apart; give each its own (a null sink made again with one: "
        f"pactl unload-module {module}, then pactl load-module module-null-sink sink_name=softphone "
        "sink_properties=device.description=softphone)"]
    for command in r.stderr.split("again with one: ")[1].rstrip(")\n").split(", then "):
        subprocess.run(command.split(), env=pulse.full_env(), check=True, capture_output=True, timeout=10)
    sinks = json.loads(devices("--json").stdout)["sinks"]
    assert sorted((s["name"], s["description"]) for s in sinks) == [("mic", "Null Output"), ("softphone", "softphone")]
    assert devices().stderr == ""


def test_devices_writes_a_sink_s_description_holding_escape_sequences_escaped_json_gives_it_as_it_is(pulse):
    """A sink's description is whatever the program that made it says (a Bluetooth headset names
    itself): one holding ``ESC ] 0;T BEL`` (a terminal's title) and ``ESC [2J`` (clear the screen)
    was printed raw by ``devices``, which set the title and cleared the terminal that listed it. Its
    line writes them as every line writes awkward text (``\\x1b``), C1's 8-bit CSI and a
    right-to-left override too; ``--json`` gives the description as the server does."""
    import json
    import subprocess
    evil = "EVIL\x1b]0;T\x07\x1b[2Jx\u009b2J\u202eok"
    subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=evil",
                    f"sink_properties=device.description='{evil}'"], env=pulse.full_env(), check=True,
                   capture_output=True, timeout=10)
    cwd = Path(__file__).resolve().parents[1]
    listed = subprocess.run([sys.executable, "-m", "monitor.cli", "devices"], capture_output=True, text=True,
                            timeout=30, env=pulse.full_env(), cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    assert '  evil  "EVIL\\x1b]0;T\\x07\\x1b[2Jx\\x9b2J\\u202eok"  (its monitor: evil.monitor)' in \
        listed.stdout.splitlines(), listed.stdout
    assert not set(listed.stdout) & {"\x1b", "\x07", "\x9b", "\u202e"}
    given = subprocess.run([sys.executable, "-m", "monitor.cli", "devices", "--json"], capture_output=True, text=True,
                           timeout=30, env=pulse.full_env(), cwd=cwd)
    assert [s["description"] for s in json.loads(given.stdout)["sinks"] if s["name"] == "evil"] == [evil]


def test_install_service_writes_user_unit(tmp_path):
    import subprocess
    r = subprocess.run([sys.executable, "-m", "monitor.cli", "install-service", "--caller", "softphone.monitor",
                        "--unit-dir", str(tmp_path)], capture_output=True, text=True, timeout=30,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr
    unit = (tmp_path / "callmonitor.service").read_text()
    assert "run --caller softphone.monitor" in unit and "WantedBy=default.target" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit


def _bursts(times, seconds, rate=48000, freq=1000, amp=0.4, dur=0.06) -> np.ndarray:
    x = np.zeros(int(seconds * rate), np.float32)
    t = np.arange(int(dur * rate)) / rate
    for at in times:
        i = int(at * rate)
        x[i:i + len(t)] = amp * np.sin(2 * np.pi * freq * t)
    return x


def _onsets(x, rate=16000, thr=0.1, min_gap=0.5):
    idx = np.flatnonzero(np.abs(x) > thr)
    out = []
    for i in idx:
        if not out or i / rate - out[-1] > min_gap:
            out.append(i / rate)
    return out


def test_slow_consumer_inserts_no_silence_and_keeps_legs_aligned(pulse, tmp_path):
    """A pipeline thread that stalls (a slow chunk, CPU contention) only delays the chunks: the
    audio queued meanwhile keeps its place on the call clock, no silence is inserted in either leg."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    caller_line, agent_line = _one_line_two_legs(pulse)
    times = [0.5, 1.5, 4.0, 5.0]
    both = _stereo(tmp_path / "both.wav", _bursts(times, 5.5), _bursts([t + 0.2 for t in times], 5.5, freq=700))
    src = LiveSource({"caller": caller_line, "agent": agent_line}, device_rate=48000)
    src.start()
    it = src.chunks()
    got = []
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        got.append(next(it))
        if all(s["state"] == "running" for s in src.stats().values()):
            break
    time.sleep(0.3)
    gap0 = {leg: s["gap_fill_s"] for leg, s in src.stats().items()}
    player = pulse.play(both, "line")  # the agent's bursts 0.2 s after the caller's, in one stream
    t_play = time.monotonic()
    stalled = False
    for ch in it:
        got.append(ch)
        if not stalled and time.monotonic() - t_play > 2.2:
            time.sleep(1.2)  # the consumer is busy; the callbacks keep queueing
            stalled = True
        if time.monotonic() - t_play > 7.0:
            src.stop()
    player.wait(5)
    x = np.concatenate([c.samples for c in got])
    caller, agent = _onsets(x[:, 0]), _onsets(x[:, 1])
    assert len(caller) == len(agent) == 4, (caller, agent)
    # the bursts keep their spacing through the stall (no silence inserted)
    assert np.allclose(np.diff(caller), np.diff(times), atol=0.06), caller
    assert np.allclose(np.diff(agent), np.diff(times), atol=0.06), agent
    assert np.allclose(np.array(agent) - np.array(caller), 0.2, atol=0.06), (caller, agent)
    assert all(s["gap_fill_s"] - gap0[leg] < 0.06 for leg, s in src.stats().items()), src.stats()


def test_run_without_caller_says_it_takes_the_default_input_as_the_caller(env, tmp_path):
    """The default input is usually the microphone, the agent's own voice: a daemon started without
    --caller says so in one warning line (as install-service does), and runs on it."""
    import signal
    from conftest import Daemon
    daemon = Daemon(["--no-transcribe", "--no-notify", "--db", str(tmp_path / "e.db"), "--socket",
                     str(tmp_path / "s")], env, tmp_path)
    try:
        assert daemon.wait_err("listening", 30), daemon.err
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.exited(10) == 0
    finally:
        daemon.kill()
    warned = [line for line in daemon.err if line.startswith("call-monitor: warning: ")]
    assert warned == ["call-monitor: warning: no caller source (--caller or daemon.caller): the default input is the "
                      "caller, usually the microphone; give --caller SOURCE, the monitor of the softphone's sink "
                      "(`call-monitor devices` lists them)"], daemon.err


def test_run_without_caller_and_without_a_default_input_says_to_give_caller(tmp_path):
    """One line saying to give --caller, exit 2, said before the database is made: neither the
    database nor its folder nor its daemon lock is left behind."""
    import os
    import subprocess
    from conftest import PY, ROOT, call_monitor
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE")}  # no test sound server
    env["PYTHONPATH"] = str(ROOT)
    probe = subprocess.run([PY, "-c", "import sounddevice as sd; sd.query_devices(kind='input')"],
                           env=env, capture_output=True, timeout=60)
    if probe.returncode == 0:
        pytest.skip("this machine has a default input device: run without --caller would open it")
    done = call_monitor("run", "--no-transcribe", "--no-notify", "--db", str(tmp_path / "new" / "e.db"),
                        "--socket", str(tmp_path / "s"), timeout=60, env=env)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("call-monitor: error: cannot open the default input (")
    assert line.endswith("no --caller was given; give --caller SOURCE, the monitor of the softphone's sink "
                         "(`call-monitor devices` lists them)")
    assert not (tmp_path / "new").exists()



def _pipe_source(pulse, name: str):
    """A sound-server source ``name`` fed through a named pipe at 48 kHz (module-pipe-source): it
    delivers what is written into the pipe, as fast as it is written."""
    fifo = pulse.root / f"{name}.fifo"
    _pactl(pulse, "load-module", "module-pipe-source", f"source_name={name}", f"file={fifo}",
           "format=float32le", "rate=48000", "channels=1")
    return fifo


CLICK_PITCHES = (600.0, 1000.0, 1400.0, 1800.0, 2200.0, 2600.0)
""":func:`_write_fast`'s ``i``-th click is a 40 ms tone at ``CLICK_PITCHES[i % 6]`` Hz, so a click
heard tells which it is: its pitch is kept however much of it the capture drops (what a leg drops
at once is cut from a block's start, so a click's length is not kept, nor is a step's level)."""


def _which_click(x: np.ndarray, at_s: float, rate: int = 16000) -> int:
    """Which of the :data:`CLICK_PITCHES` the click heard at ``at_s`` in ``x`` has: the nearest to
    the peak of the spectrum of its loud part."""
    start = int(at_s * rate)
    seg = x[start:start + rate // 25]
    loud = maximum_filter1d(np.abs(seg), rate // 500) > 0.2
    seg = seg[:max(rate // 200, np.argmin(loud) if not loud.all() else len(seg))]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), rate))  # 1 Hz a bin
    return int(np.argmin(np.abs(np.asarray(CLICK_PITCHES) - np.argmax(spectrum))))


def _write_fast(fifo, speed: float, click_every_s: float, stop: threading.Event, written: list,
                now) -> threading.Thread:
    """A thread writing audio into ``fifo`` ``speed`` times as fast as real time (a device whose
    clock runs ``speed`` times the system's), a click every ``click_every_s`` of its samples; the
    time ``now()`` of each click is kept in ``written`` (the ``i``-th click a 40 ms tone at
    ``CLICK_PITCHES[i % 6]`` Hz)."""
    import os

    def write():
        fd = os.open(fifo, os.O_WRONLY)
        block, every, n, left, t0, pitch = 480, int(click_every_s * 48000), 0, 0, time.monotonic(), 0.0
        try:
            while not stop.is_set():
                x = np.zeros(block, np.float32)
                if n // every != (n + block) // every:
                    left, pitch = 4, CLICK_PITCHES[len(written) % len(CLICK_PITCHES)]
                    written.append(now())
                if left > 0:
                    x[:] = 0.5 * np.sin(2 * np.pi * pitch / 48000 * np.arange(n, n + block))
                    left -= 1
                os.write(fd, x.tobytes())
                n += block
                time.sleep(max(0.0, t0 + n / (48000 * speed) - time.monotonic()))
        finally:
            os.close(fd)

    th = threading.Thread(target=write, daemon=True)
    th.start()
    return th


def _capture_a_fast_device(pulse, speed: float, click_every_s: float, seconds: float):
    """``seconds`` of the two legs captured with the agent's on a device ``speed`` times as fast as
    it says (:func:`_write_fast`'s clicks): (the source, the samples (n, 2), the clicks' times)."""
    fifo = _pipe_source(pulse, "fast_mic")
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    stop, written = threading.Event(), []
    src = LiveSource({"caller": "softphone.monitor", "agent": "fast_mic"}, device_rate=48000)
    writer = _write_fast(fifo, speed, click_every_s, stop, written, src.now)
    try:
        x = np.concatenate([c.samples for c in _capture(src, seconds)])
    finally:
        stop.set()
        writer.join(5)
    return src, x, written


def test_a_leg_whose_device_clock_runs_fast_stays_on_the_call_clock(pulse):
    """The agent's microphone is another device than the caller's sink, and its clock runs fast
    (here 5 %; real ones by up to a few hundred ppm, seconds a day to a daemon that runs for days):
    it delivers more samples than seconds. Counted alone, its audio came ever later on the call
    clock than the caller's (a second after 20 s here), and every response latency with it. Its
    sounds stay within ``gap_s`` of the time they were made, the excess audio dropped and counted,
    a few samples a block: every click written is heard (dropped at once, half a second of audio
    at a time, a click in it was lost)."""
    src, x, written = _capture_a_fast_device(pulse, 1.05, 2.0, 24)
    heard = _onsets(x[:, 1], thr=0.2, min_gap=1.0)
    late = [[h - w for h in heard if -0.15 < h - w < src.gap_s + 0.15] for w in written]
    due = [w for w in written if w + src.gap_s + 0.15 < len(x) / 16000]  # its time on the clock was captured
    assert len(due) >= 9, (written, len(x))
    assert all(len(d) == 1 for d in late[:len(due)]), (written, heard)  # each heard once, in time
    assert len(heard) == sum(map(len, late)), (written, heard)  # and nothing else
    stats = src.stats()
    assert stats["agent"]["skipped_s"] > 0.4 and stats["caller"]["skipped_s"] == 0, stats


def test_a_leg_whose_device_runs_far_faster_than_it_says_stays_within_twice_gap_s(pulse):
    """A device 30 % faster than the rate it gives (a rate mismatch, no clock's drift) has more
    excess than the few samples a block can drop: past ``gap_s`` of it, the rest is dropped at
    once, so its sounds never come more than twice ``gap_s`` late on the call clock."""
    src, x, written = _capture_a_fast_device(pulse, 1.3, 1.0, 16)
    heard = _onsets(x[:, 1], thr=0.2, min_gap=0.5)
    late = [h - max((w for i, w in enumerate(written) if i % len(CLICK_PITCHES) == _which_click(x[:, 1], h) and w < h + 0.15),
                    default=-np.inf) for h in heard]
    assert len(heard) >= 8, (written, heard)
    assert all(-0.15 < d < 2 * src.gap_s + 0.15 for d in late), [(h, d) for h, d in zip(heard, late)
                                                                 if not -0.15 < d < 2 * src.gap_s + 0.15]
    assert src.stats()["agent"]["skipped_s"] > 0.2 * len(x) / 16000 * 0.5, src.stats()


def test_the_excess_of_a_fast_clock_is_dropped_where_the_leg_is_quietest():
    """What a leg whose device clock runs fast drops of a block: its quietest samples, one by one,
    the others kept in their order; a click in the block is kept whole."""
    from monitor.capture.live import drop_quietest
    rng = np.random.default_rng(1)
    block = (0.001 * rng.standard_normal(1600)).astype(np.float32)
    block[700:860] = 0.5
    kept = drop_quietest(block[:, None], 160)
    assert kept.shape == (1440, 1)
    assert np.count_nonzero(kept[:, 0] == 0.5) == 160
    order = np.argsort(np.abs(block), kind="stable")
    assert np.array_equal(kept[:, 0], block[np.sort(order[160:])])
    assert drop_quietest(block, 0) is block and len(drop_quietest(block, 2000)) == 0


class _SinkRecording:
    """What the sink ``sink`` plays, recorded by ``parec`` from its monitor (16 kHz mono, raw, into
    ``path``) until :meth:`stop`. The sink plays on the sound server's clock and catches up after a
    stall, so where a sound lies in this recording is when the sink played it, whenever its player
    started: ``paplay`` takes some milliseconds to start, more and by varying amounts on a busy
    machine, and a test that timed a sound from its player's start measured that too."""

    RATE = 16000

    def __init__(self, pulse, path: Path, sink: str = "softphone") -> None:
        import subprocess
        self.path = path
        self._out = open(path, "wb")
        self.proc = subprocess.Popen(["parec", f"--device={sink}.monitor", "--raw", "--format=float32le",
                                      f"--rate={self.RATE}", "--channels=1"], env=pulse.full_env(),
                                     stdout=self._out, stderr=subprocess.DEVNULL)

    def wait_recording(self, timeout: float = 30) -> None:
        """Once the sink's monitor delivers to the recording (its first samples written)."""
        assert wait_for(lambda: self.path.stat().st_size > 0 or self.proc.poll() is not None, timeout)
        assert self.proc.poll() is None, "parec ended"

    def stop(self) -> np.ndarray:
        """The samples recorded, once parec has ended."""
        self.proc.terminate()
        self.proc.wait(10)
        self._out.close()
        raw = self.path.read_bytes()
        return np.frombuffer(raw[:len(raw) // 4 * 4], np.float32)


def test_a_sound_server_that_stalls_for_a_second_leaves_the_leg_on_the_call_clock(pulse, tmp_path):
    """The sound server is held up for a second (a busy machine: here it is stopped and continued)
    and then delivers what it held back in a burst. The leg was filled with silence while nothing
    came, and the burst came after the silence: everything the leg captured from then on was
    placed a second late on the call clock, for as long as its stream lasted; later, placed again
    where one block of the burst arrived, up to 87 ms late (what the sound server and PortAudio
    held buffered), and never set right. Once the leg has settled (``settle_s``), it is where
    counting its samples puts it (no audio is lost in the stall): a click played after it lands
    within 10 ms of where a click played before it does (0.1 ms at most in 16 runs on a busy
    machine: research/capture_clock), relative to when the sink played each (what ``parec`` records
    of the sink beside the leg, not when the test started their players)."""
    import os
    import signal
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    click = np.zeros(48000, np.float32)
    click[24000:26400] = 0.5  # at 0.5 s: the first samples of a stream may not reach the sink's monitor
    sf.write(tmp_path / "click.wav", click, 48000)
    sink = _SinkRecording(pulse, tmp_path / "sink.raw")
    sink.wait_recording()
    src = LiveSource({"caller": "softphone.monitor"}, device_rate=48000)

    def driver():
        until(lambda: src.stats()["caller"]["state"] == "running", "the caller leg running")
        for stall in (False, True):
            if stall:
                os.kill(pulse.proc.pid, signal.SIGSTOP)
                time.sleep(1.0)
                os.kill(pulse.proc.pid, signal.SIGCONT)
                time.sleep(src.settle_s)  # the click comes half a second into its file: once the leg settled
            pulse.play(tmp_path / "click.wav").wait(30)
        time.sleep(0.5)
        src.stop()

    try:
        x = _captured_while(src, driver)[:, 0]
    finally:
        at_sink = _onsets(sink.stop(), thr=0.2)
    heard = _onsets(x, thr=0.2)
    assert len(heard) == 2 and len(at_sink) == 2, (heard, at_sink)
    assert abs((heard[1] - heard[0]) - (at_sink[1] - at_sink[0])) < 0.01, (heard, at_sink)
    assert src.stats()["caller"]["reopens"] == 0


@pytest.mark.parametrize("legs", [{"caller": "softphone.monitor"},
                                  {"caller": "softphone.monitor", "agent": "mic.monitor"}], ids=["one leg", "two legs"])
def test_audio_dropped_on_a_full_queue_is_said_once_and_its_time_kept(pulse, tmp_path, legs):
    """The analysis falls behind the capture by more than the queue holds (here 0.8 s; a busy
    machine): the blocks that do not fit are dropped. That is said in one warning when it begins
    and in one line once the analysis has caught up, with the seconds lost (the status had only a
    count); their time is filled with silence, so a click played after it lands where a click played
    before it does, relative to when the sink played each (:class:`_SinkRecording`). With two legs
    each is filled with silence while nothing comes, as in a stall, so that the call clock goes on;
    but its audio was lost, not held back: the leg is placed again where its blocks arrive, not where
    counting its samples puts it."""
    portaudio_afresh()
    from monitor.capture.live import DROPS_OVER_S, LiveSource
    click = np.zeros(48000, np.float32)
    click[24000:26400] = 0.5
    sf.write(tmp_path / "click.wav", click, 48000)
    said = []
    sink = _SinkRecording(pulse, tmp_path / "sink.raw")
    sink.wait_recording()
    src = LiveSource(legs, device_rate=48000, queue_s=0.5, on_status=lambda level, m, topic: said.append((level, m)))
    players, got, marks = [], [], {}
    try:
        for ch in src.chunks():
            got.append(ch)
            now = src.now()
            if any(s["state"] != "running" for s in src.stats().values()):
                continue
            if not players:
                players.append(pulse.play(tmp_path / "click.wav"))  # before the analysis falls behind
            elif "played" not in marks:
                if players[0].poll() is not None:
                    marks["played"] = now
            elif "stall" not in marks:
                if now > marks["played"] + 0.5:  # the click's last blocks are queued
                    marks["stall"] = now
                    time.sleep(3.0)  # the consumer is busy: the queue fills, then blocks are dropped
            elif len(players) == 1:
                if now > marks["stall"] + 4.0:
                    players.append(pulse.play(tmp_path / "click.wav"))  # once it has caught up
            elif players[1].poll() is not None and now > marks["stall"] + 5.0 + DROPS_OVER_S:
                src.stop()
            if now > 120:  # a player that never ends: the assertions below say what is missing
                src.stop()
    finally:
        for player in players:
            player.kill()
        at_sink = _onsets(sink.stop(), thr=0.2)
    dropped = src.stats()["caller"]["dropped_blocks"]
    assert dropped >= 15, src.stats()
    drops = [(level, m) for level, m in said if "dropped" in m and m.startswith("caller leg")]
    assert drops == [
        ("warning", "caller leg (softphone.monitor): audio dropped: the analysis runs more than 0.8 s behind the "
                    "capture (the machine is too busy); its time is filled with silence"),
        ("info", f"caller leg (softphone.monitor): the analysis caught up with the capture; {dropped / 10:.1f} s of "
                 "audio dropped")], said
    x = np.concatenate([c.samples for c in got])[:, 0]
    heard = _onsets(x, thr=0.2)
    assert len(heard) == 2 and len(at_sink) == 2, (heard, at_sink)
    assert abs((heard[1] - heard[0]) - (at_sink[1] - at_sink[0])) < 0.2, (heard, at_sink)


def test_an_error_the_capture_did_not_foresee_is_said_once_and_the_leg_captures_again(pulse, tmp_path):
    """The leg's check of its source fails four times running with an error none of its checks
    expects (the sound server's source list unreadable): the leg's supervisor ended with the first,
    and the leg stayed silent for the rest of the daemon's life, unsaid. It is said once (not once a
    try), the leg is opened again each time, less and less often, and a tone played after it is
    captured."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    msgs = []
    src = LiveSource({"caller": "softphone.monitor"}, device_rate=48000, backoff_s=0.1, max_backoff_s=0.4,
                     on_status=lambda lvl, m, topic: msgs.append((lvl, m)))
    failed, checked = [], src._source_moved

    def unreadable(leg, now):
        if len(failed) < 4:
            failed.append(now)
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return checked(leg, now)

    _tone(tmp_path / "a.wav", 440, seconds=1.0)

    def driver():
        until(lambda: src.stats()["caller"]["state"] == "running", "the caller leg running")
        src._source_moved = unreadable
        until(lambda: src.stats()["caller"]["reopens"] >= 4, "the caller leg reopened four times")
        time.sleep(0.5)
        pulse.play(tmp_path / "a.wav").wait(5)
        time.sleep(0.5)
        src.stop()

    x = _captured_while(src, driver)[:, 0]
    assert len(failed) == 4 and src.stats()["caller"]["reopens"] == 4
    warned = [m for lvl, m in msgs if lvl == "warning"]
    assert warned == ["caller leg (softphone.monitor): capture failed ('utf-8' codec can't decode byte 0xff in "
                      "position 0: invalid start byte); reopening"], msgs
    assert len([m for lvl, m in msgs if "reopened" in m]) == 1, msgs  # the repeats' reopenings are not said
    assert np.max(np.abs(x[-int(1.5 * 16000):])) > 0.1  # the tone played after it


def test_a_leg_still_being_opened_when_the_source_closes_opens_no_stream(pulse, monkeypatch):
    """The leg's source is being looked for (the sound server slow to answer) when the source is
    closed and closing gives up waiting: the supervisor then opened a stream after the close, which
    captured on, unread, for the rest of the process. It opens none."""
    portaudio_afresh()
    from monitor.capture.live import LiveSource
    src = LiveSource({"caller": "softphone.monitor"}, device_rate=48000, backoff_s=0.1)
    src.start()
    leg = src._legs["caller"]
    looking, answer = threading.Event(), threading.Event()
    found = src._pulse_source

    def slow_server(asked):
        looking.set()
        answer.wait(10)
        return found(asked)

    monkeypatch.setattr(src, "_pulse_source", slow_server)
    src._close(leg)  # the stream lost: its supervisor opens it again
    assert looking.wait(5)
    src.close()  # gives up waiting for the supervisor after a second
    answer.set()
    [supervisor] = src._threads
    supervisor.join(5)
    assert not supervisor.is_alive() and leg.stream is None


def test_portaudio_started_keeps_none_of_the_alsa_plugins_it_probed_loaded():
    """PortAudio's start opens every ALSA device to list them, loading their plugins (a52's brings
    libavcodec and some 50 libraries: 10 MB of the daemon, research/live_memory); the capture frees
    them once it has the list, as PortAudio's own end does. A stream opens its device's plugin
    again (the captures above)."""
    code = ("from monitor.capture.devices import portaudio; portaudio(); "
            "print(open('/proc/self/maps').read())")
    maps = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
    assert sorted({line.rsplit("/", 1)[-1] for line in maps.splitlines() if "libasound_module_pcm_" in line}) == []
