"""A web softphone in Chromium beside other tabs that play sound: research, not a test.

Starts a private PulseAudio server (sinks headset = the default, softphone, mic; a loopback of
softphone.monitor into headset; module-stream-restore as a desktop's default.pa loads it), a page
server on 127.0.0.1 and headless Chromium on that server, and drives tabs over DevTools (tests/cdp.py).

    python research/websoftphone/measure.py streams          # what sink-inputs Chromium makes
    python research/websoftphone/measure.py moveback         # a moved stream moved back
    python research/websoftphone/measure.py pause            # the call's element only paused
    python research/websoftphone/measure.py webrtc           # the call as a remote WebRTC track
    python research/websoftphone/measure.py daemon sinkid    # the daemon, the softphone tab's setSinkId
    python research/websoftphone/measure.py daemon moved     # the daemon, Chromium's stream moved to softphone

Run from the repository root with .venv/bin/python and OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.io import wavfile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import cdp  # noqa: E402

cdp.FLAGS = cdp.FLAGS + ("--use-fake-ui-for-media-stream",)
PORT = 8765
SERVER_PA = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-stream-restore restore_device=true
load-module module-null-sink sink_name=headset sink_properties=device.description=Headset
load-module module-null-sink sink_name=softphone sink_properties=device.description=softphone
load-module module-null-sink sink_name=mic sink_properties=device.description=Microphone
load-module module-loopback source=softphone.monitor sink=headset
set-default-sink headset
set-default-source mic.monitor
"""
PAGE = (Path(__file__).parent / "page.html").read_text()
T0 = time.monotonic()


def say(*what) -> None:
    print(f"{time.monotonic() - T0:7.2f}", *what, flush=True)


def media(www: Path) -> None:
    """The caller's channel of two fixture calls (the call, a 'training video') and a chime."""
    rate, x = wavfile.read(ROOT / "audio_fixtures/calls/deteriorating_16k.wav")
    wavfile.write(www / "caller.wav", rate, x[:, 1].copy())
    rate, y = wavfile.read(ROOT / "audio_fixtures/calls/real_caller_16k.wav")
    wavfile.write(www / "video.wav", rate, y[:, 1].copy())
    t = np.arange(int(0.4 * 16000)) / 16000
    wavfile.write(www / "chime.wav", 16000, (0.3 * np.sin(2 * np.pi * 880 * t) * np.exp(-t * 8) * 32767).astype(np.int16))
    (www / "index.html").write_text(PAGE)


class World:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wsp", dir="/tmp"))
        run = self.root / "run"
        (run / "pulse").mkdir(parents=True)
        os.chmod(run, 0o700)
        self.env = {"XDG_RUNTIME_DIR": str(run), "PULSE_RUNTIME_PATH": str(run / "pulse"),
                    "PULSE_SERVER": f"unix:{run}/pulse/native", "PULSE_STATE_PATH": str(self.root / "state"),
                    "HOME": str(self.root)}
        os.environ.update(self.env)  # Chromium and pactl find the private server by these
        for k in ("PULSE_SINK", "PULSE_SOURCE"):
            os.environ.pop(k, None)
        (self.root / "server.pa").write_text(SERVER_PA.format(socket=run / "pulse/native"))
        self.pulse = subprocess.Popen(["pulseaudio", "-n", "-F", str(self.root / "server.pa"), "--daemonize=no",
                                       "--exit-idle-time=-1", "--log-target=stderr"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        while subprocess.run(["pactl", "info"], capture_output=True).returncode:
            time.sleep(0.05)
        www = self.root / "www"
        www.mkdir()
        media(www)
        self.http = subprocess.Popen([sys.executable, "-m", "http.server", str(PORT), "--bind", "127.0.0.1"],
                                     cwd=www, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        self.browser = cdp.Browser(self.root)

    def tab(self) -> cdp.Page:
        page = self.browser.new_page(f"http://127.0.0.1:{PORT}/index.html")
        page.wait("typeof play === 'function'")
        return page

    def close(self) -> None:
        self.browser.close()
        for p in (self.http, self.pulse):
            p.kill()
            p.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def ev(page: cdp.Page, expression: str):
    """``expression`` in ``page``, brought to the front first: Chromium defers the media of a tab never
    shown (a background tab's play() waits until it is)."""
    page.send("Page.bringToFront")
    return page.eval(expression)


def chromium_inputs(tag: str = "") -> list[dict]:
    """Chromium's sink-inputs: index, sink, corked, application.name, media.name, process id."""
    sinks = {s["index"]: s["name"] for s in json.loads(subprocess.run(["pactl", "-f", "json", "list", "sinks"],
                                                                       capture_output=True, text=True).stdout)}
    rows = []
    for s in json.loads(subprocess.run(["pactl", "-f", "json", "list", "sink-inputs"], capture_output=True,
                                       text=True).stdout):
        p = s["properties"]
        if p.get("application.name") == "Chromium":
            rows.append({"id": s["index"], "sink": sinks.get(s["sink"]), "corked": s["corked"],
                         "media.name": p.get("media.name"), "pid": p.get("application.process.id"),
                         "role": p.get("media.role")})
    if tag:
        say(tag, " ".join(f"#{r['id']}:{r['sink']}:{'corked' if r['corked'] else 'playing'}" for r in rows) or "-")
    return rows


def streams(w: World) -> None:
    crm, phone = w.tab(), w.tab()
    chromium_inputs("two tabs open, none playing:")
    ev(crm, "play('video', 'video.wav', {loop: true})")
    time.sleep(1)
    rows = chromium_inputs("CRM tab plays a video (default output):")
    say("  its properties:", rows)
    ev(phone, "play('call', 'caller.wav')")
    time.sleep(1)
    chromium_inputs("softphone tab plays the call (default output):")
    ev(crm, "play('chime', 'chime.wav')")
    time.sleep(0.3)
    chromium_inputs("CRM tab plays a chime besides its video:")
    ev(phone, "stop('call')")
    for i in range(8):
        time.sleep(0.5)
        chromium_inputs(f"call hung up +{0.5 * (i + 1):.1f} s:")
    say("setSinkId:", ev(phone, "outputs().then(o => o.map(d => d.label))"))
    ev(phone, "play('call', 'caller.wav', {sinkLabel: 'softphone'})")
    time.sleep(1)
    chromium_inputs("softphone tab: setSinkId(softphone) and the call plays:")
    ev(phone, "stop('call')")
    time.sleep(1.5)
    chromium_inputs("call 1 hung up 1.5 s ago:")
    ev(phone, "play('call', 'caller.wav', {sinkLabel: 'softphone'})")
    time.sleep(0.5)
    chromium_inputs("call 2 connected (setSinkId again):")
    ev(phone, "stop('call')")
    gone = None
    for i in range(40):
        time.sleep(0.25)
        if not [r for r in chromium_inputs() if r["sink"] == "softphone"]:
            gone = 0.25 * (i + 1)
            break
    say(f"call 2 hung up: its stream gone after {gone} s")
    crm_stream = [r for r in chromium_inputs() if r["sink"] == "headset"][0]["id"]
    subprocess.run(["pactl", "move-sink-input", str(crm_stream), "softphone"], check=True)
    chromium_inputs(f"pactl move-sink-input {crm_stream} softphone:")
    ev(phone, "play('call', 'caller.wav')")
    time.sleep(1)
    chromium_inputs("a call with the default output after that move (module-stream-restore):")
    ev(phone, "stop('call')")
    ev(crm, "stop('video')")
    ev(crm, "stop('chime')")
    for i in range(16):
        time.sleep(1)
        chromium_inputs(f"all stopped +{i + 1} s:")


def moveback(w: World) -> None:
    """A tab's stream moved to softphone and back to headset: where another tab's next stream goes."""
    crm, phone = w.tab(), w.tab()
    ev(crm, "play('video', 'video.wav', {loop: true})")
    time.sleep(1)
    i = chromium_inputs("video:")[0]["id"]
    subprocess.run(["pactl", "move-sink-input", str(i), "softphone"], check=True)
    chromium_inputs("moved to softphone:")
    subprocess.run(["pactl", "move-sink-input", str(i), "headset"], check=True)
    chromium_inputs("moved back to headset:")
    ev(phone, "play('call', 'caller.wav')")
    time.sleep(1)
    chromium_inputs("another tab plays on the default output:")


def pause(w: World) -> None:
    """The call's element only paused (its source kept), then its source removed as well."""
    phone = w.tab()
    ev(phone, "play('call', 'caller.wav')")
    time.sleep(1)
    chromium_inputs("call plays:")
    ev(phone, "players.call.pause()")
    for i in range(10):
        time.sleep(0.5)
        chromium_inputs(f"paused only +{0.5 * (i + 1)} s:")
    ev(phone, "stop('call')")
    for i in range(3):
        time.sleep(0.5)
        chromium_inputs(f"its source removed +{0.5 * (i + 1)} s:")


def webrtc(w: World) -> None:
    """The call's audio as a web softphone gets it, a remote WebRTC track on an <audio> element whose
    setSinkId chose softphone; the hang-up closes the connections and clears the element."""
    phone = w.tab()
    chromium_inputs("tab open:")
    ev(phone, "webrtc('call', 'caller.wav', {sinkLabel: 'softphone'})")
    time.sleep(1.5)
    chromium_inputs("WebRTC call, setSinkId(softphone):")
    ev(phone, "stop('call')")
    for i in range(6):
        time.sleep(0.5)
        chromium_inputs(f"hung up (pc.close, srcObject = null) +{0.5 * (i + 1)} s:")
    ev(phone, "webrtc('call', 'caller.wav', {sinkLabel: 'softphone'})")
    time.sleep(1)
    chromium_inputs("next WebRTC call 3 s after:")
    ev(phone, "stop('call')")
    for i in range(14):
        time.sleep(0.5)
        chromium_inputs(f"hung up +{0.5 * (i + 1)} s:")


def daemon(w: World, how: str) -> None:
    """The daemon on softphone.monitor (the Korean model) during two calls 2 s apart, a CRM tab's video
    and chimes playing all along. how: sinkid (the softphone tab plays into softphone), moved (Chromium's
    stream moved there, as a stream-restore desktop then sends every Chromium stream)."""
    cfg = w.root / "config.toml"
    cfg.write_text('[transcription]\nlanguage = "ko"\n')
    log = open(w.root / "daemon.jsonl", "w")
    d = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--caller", "softphone.monitor", "--model", "ko",
                          "--config", str(cfg), "--db", str(w.root / "cm.db"), "--socket", str(w.root / "cm.sock"),
                          "--no-notify", "--jsonl"], cwd=ROOT, stdout=log, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    crm, phone = w.tab(), w.tab()
    time.sleep(8)
    say("daemon started; CRM tab plays a video")
    ev(crm, "play('video', 'video.wav', {loop: true})")
    sink = "{sinkLabel: 'softphone'}" if how == "sinkid" else "{}"
    if how == "moved":
        time.sleep(1)
        crm_stream = chromium_inputs()[0]["id"]
        subprocess.run(["pactl", "move-sink-input", str(crm_stream), "softphone"], check=True)
        say(f"moved Chromium's stream #{crm_stream} to softphone")
    time.sleep(4)
    for n in (1, 2):
        say(f"call {n} connects")
        ev(phone, f"play('call', 'caller.wav', {sink})")
        for _ in range(4):
            time.sleep(5)
            ev(crm, "play('chime', 'chime.wav')")
        chromium_inputs(f"call {n}:")
        say(f"call {n} hangs up")
        ev(phone, "stop('call')")
        time.sleep(2)
    time.sleep(10)
    chromium_inputs("10 s after the last hang-up:")
    status = subprocess.run([sys.executable, "-m", "monitor.cli", "status", "--socket", str(w.root / "cm.sock")],
                            cwd=ROOT, capture_output=True, text=True).stdout
    say("status:\n" + status)
    d.terminate()
    _, err = d.communicate(timeout=20)
    log.close()
    for line in (w.root / "daemon.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e.get("type") in ("call_start", "call_end", "call_summary", "alert"):
            say(json.dumps({k: e.get(k) for k in ("type", "call_id", "kind", "t", "duration_s", "ended_by",
                                                  "started_by") if k in e}))
    say("daemon stderr:\n" + err[-3000:])


def main() -> None:
    w = World()
    try:
        if sys.argv[1] == "streams":
            streams(w)
        elif sys.argv[1] == "moveback":
            moveback(w)
        elif sys.argv[1] == "pause":
            pause(w)
        elif sys.argv[1] == "webrtc":
            webrtc(w)
        else:
            daemon(w, sys.argv[2])
    finally:
        w.close()


if __name__ == "__main__":
    main()
