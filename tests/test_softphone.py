"""A real softphone's calls, end to end: two baresip user agents on 127.0.0.1 (no SIP server), the
agent's playing into the null sink ``softphone`` of a private PulseAudio server, the daemon on
``softphone.monitor``.

baresip plays the ringtone of an incoming call (its ``audio_alert``) and the ringback tone of an
outgoing one (its ``audio_player``) into the sink as streams of their own, and makes a new stream
for the call's audio on the answer (the ringback tone's goes 70 ms after it, up to a second after
on a loaded machine). Each call is one call for the daemon all the same, from its first stream (the
ring) to the hang-up.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import soundfile as sf

from conftest import CALLS, SHORT_BASELINE, STREAM_ENDED, start_daemon, stop_daemon, stored_calls

MODULES = Path("/usr/lib/baresip/modules")
pytestmark = pytest.mark.skipif(shutil.which("baresip") is None or not (MODULES / "pulse.so").exists(),
                                reason="baresip with its PulseAudio module is not installed (apt: baresip-core "
                                       "baresip-x11)")

UA_CONFIG = """\
sip_listen 127.0.0.1:{sip}
audio_player pulse,{sink}
audio_source aufile,{voice}
audio_alert pulse,{sink}
module_path {modules}
module g711.so
module aufile.so
module pulse.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl}
"""


def _free_port(pair: bool = False) -> int:
    """A free TCP and UDP port on 127.0.0.1 (with ``pair``, the next one free too: baresip listens
    for SIP over TLS on the SIP port + 1)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            for p in (port, port + 1) if pair else (port,):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue


class UserAgent:
    """One baresip, driven over its ``ctrl_tcp`` socket (netstring-framed JSON commands)."""

    def __init__(self, name: str, root: Path, sink: str, voice: Path, env: dict) -> None:
        self.sip, self.ctrl = _free_port(pair=True), _free_port()
        self.uri = f"sip:{name}@127.0.0.1:{self.sip}"
        conf = root / name
        conf.mkdir()
        (conf / "config").write_text(UA_CONFIG.format(sip=self.sip, sink=sink, voice=voice, ctrl=self.ctrl,
                                                      modules=MODULES))
        (conf / "accounts").write_text(f"<{self.uri}>;regint=0\n")
        (conf / "contacts").write_text("")
        self.proc = subprocess.Popen(["baresip", "-f", str(conf)], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def command(self, command: str, params: str = "") -> None:
        msg = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(b"%d:%s," % (len(msg), msg))

    def close(self) -> None:
        self.sock.close()
        self.proc.terminate()
        self.proc.wait(5)


@contextlib.contextmanager
def _user_agents(pulse, tmp_path: Path) -> Iterator[tuple[UserAgent, UserAgent]]:
    """The agent's baresip (it plays into ``softphone``; its voice is silence) and the caller's
    (its voice the caller's leg of a fixture call, from 4 s in; it plays into ``mic``): each
    plays its file from the start at each call and hangs up at its end."""
    x, r = sf.read(CALLS / "normal_8k.wav", dtype="int16")
    sf.write(tmp_path / "caller.wav", x[4 * r:, 1], r)
    sf.write(tmp_path / "agent.wav", 0 * x[:60 * r, 0], r)  # baresip hangs up at the end of its file
    agents = []
    try:
        agents.append(UserAgent("agent", tmp_path, "softphone", tmp_path / "agent.wav", pulse.full_env()))
        agents.append(UserAgent("caller", tmp_path, "mic", tmp_path / "caller.wav", pulse.full_env()))
        yield agents[0], agents[1]
    finally:
        for ua in agents:
            ua.close()


def test_two_baresip_calls_are_two_calls_from_their_ring_to_their_hang_up(pulse, env, tmp_path):
    """The agent dials out (3.5 s of ringback tone before the answer), talks 4 s and hangs up;
    2 s later a call comes in (rings 1 s), 6 s talk, the caller hangs up: two stored calls, each
    ended by its stream, the first as long as its ringback and talk, the ringback tone no call of its
    own. (A ring shorter than 3 s is in the call when the answer's stream follows it within the
    grace, 1-6 ms on an idle machine; on a loaded one baresip can be later, the call then starts at
    the answer.)"""
    d = start_daemon(env, tmp_path, SHORT_BASELINE)
    try:
        with _user_agents(pulse, tmp_path) as (agent, caller):
            agent.command("dial", caller.uri)
            time.sleep(3.5)
            caller.command("accept")
            time.sleep(4.0)
            agent.command("hangup")
            time.sleep(2.0)
            caller.command("dial", agent.uri)
            time.sleep(1.0)
            agent.command("accept")
            time.sleep(6.0)
            caller.command("hangup")
            assert d.wait_err("call 2 ended", 30), d.err
        stop_daemon(d)
    finally:
        d.kill()
    calls = stored_calls(tmp_path / "e.db")
    assert [c["summary"]["ended_by"] for c in calls] == [STREAM_ENDED, STREAM_ENDED], d.err
    durations = [c["summary"]["duration_s"] for c in calls]
    assert 7.0 < durations[0] < 9.0 and 5.5 < durations[1] < 8.5, (durations, d.err)
