"""Input devices and sound-server sources, and resolving a SOURCE string to one.

A SOURCE is, in this order: a sounddevice index ("3"), a PulseAudio/PipeWire
source name as ``pactl list short sources`` shows it ("softphone.monitor"),
or a fragment of a sounddevice input device name ("USB"); no SOURCE, the
default input. A pulse source is opened through the ALSA ``pulse`` device with
``PULSE_SOURCE`` set to its name while the stream opens (the ALSA pulse plugin
reads it then), so two legs can be two different pulse sources at once; the
``default`` or ``pulse`` device opened for no such source records the source the
environment's ``PULSE_SOURCE`` names, else the sound server's default source.
"""

from __future__ import annotations

import ctypes
import difflib
import functools
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, replace
from typing import Any, Callable, Literal, Mapping, Sequence


DIGITAL_ZERO_DBFS = -240.0
"""A leg's ``level_dbfs`` in the status (the RMS level of its last block, dBFS) has this floor: a
block of digital silence (every sample 0, a muted or idle source) reads -240, below any real
signal's level (24-bit audio's least step is near -144 dBFS). The JSON keeps it a number (null:
no block yet), so that a script comparing levels needs no special case; ``call-monitor status``
says "silent (digital zero)"."""


class DeviceError(Exception):
    """A SOURCE that cannot be resolved; the message is one line for the user."""


class SameSourceError(DeviceError):
    """The caller's and the agent's legs name one source (the same name, or names that resolve to the
    same device or sound-server source): one audio would be scored as two legs. ``label``: that source."""

    def __init__(self, label: str) -> None:
        super().__init__(f"caller and agent both on {label}: the agent's leg is another source "
                         "(the microphone; see `call-monitor devices`)")
        self.label = label


class NoPulseDeviceError(DeviceError):
    """A sound-server source named where PortAudio has no ALSA ``pulse`` device to open it through.
    ``plugin_missing``: ALSA's pulse plugin is not installed (``libasound2-plugins``: a PipeWire
    desktop's packages do not bring it), which no wait brings. Otherwise PortAudio read its device
    list while the sound server was not reachable (the daemon started before it), and the ``pulse``
    device is there once the list is read again with the server up."""

    def __init__(self, spec: str, plugin_missing: bool) -> None:
        why = "(install libasound2-plugins)" if plugin_missing else \
            "(the sound server was not reachable when PortAudio read its device list)"
        super().__init__(f"{spec} is a sound-server source but PortAudio has no 'pulse' device {why}")
        self.plugin_missing = plugin_missing


ALSA_PULSE_PLUGIN = "libasound_module_pcm_pulse.so"
"""The library of ALSA's pulse plugin (Debian: ``libasound2-plugins``), through which the ALSA
``pulse`` device reaches the sound server."""


def alsa_pulse_plugin_missing() -> bool:
    """Whether ALSA's pulse plugin is not installed: no :data:`ALSA_PULSE_PLUGIN` in the folder ALSA
    loads its plugins from (``ALSA_PLUGIN_DIR``, else ``alsa-lib`` beside the libasound PortAudio
    loaded). True, as before, where that folder cannot be told (no ALSA under PortAudio)."""
    folder = os.environ.get("ALSA_PLUGIN_DIR")
    if not folder:
        try:
            portaudio()  # ALSA loaded, to be found
        except OSError:
            return True
        lib = _loaded_library("libasound.so")
        if lib is None:
            return True
        folder = os.path.join(os.path.dirname(lib), "alsa-lib")
    return not os.path.exists(os.path.join(folder, ALSA_PULSE_PLUGIN))


def _loaded_library(name: str) -> str | None:
    """The file of the library ``name`` this process loaded, as the kernel's map of its memory
    says it; None where it is not loaded or there is no such map."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.split(maxsplit=5)[-1].strip()
                if os.path.basename(path).startswith(name):
                    return path
    except OSError:
        return None
    return None


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int
    default_rate: float
    hostapi: str


@dataclass(frozen=True)
class PulseSource:
    index: int
    name: str
    driver: str
    spec: str
    state: str

    @property
    def monitor(self) -> bool:
        return self.name.endswith(".monitor")

    @property
    def rate(self) -> int | None:
        """The source's sample rate, as its sample spec says it (``s16le 2ch 44100Hz``: 44100); None
        when the spec tells none."""
        return next((int(t[:-2]) for t in self.spec.split() if t.endswith("Hz") and t[:-2].isdigit()), None)

    @property
    def channels(self) -> int | None:
        """The source's channel count, as its sample spec says it (``s16le 2ch 44100Hz``: 2); None
        when the spec tells none."""
        return next((int(t[:-2]) for t in self.spec.split() if t.endswith("ch") and t[:-2].isdigit()), None)


SERVER_DEFAULT = "the sound server's default source"
"""Why a device of :data:`SERVER_DEFAULT_DEVICES` records the source it does, with no ``PULSE_SOURCE``
in the environment (:func:`routed_source`)."""

FROM_ENVIRONMENT = "PULSE_SOURCE in the environment"
"""Why it records the source it does, with ``PULSE_SOURCE`` in the environment naming one."""

PULSE_SOURCE_LOCK = threading.RLock()
"""Held while a leg's stream opens or closes, ``PULSE_SOURCE`` (process-wide) set to the leg's source
for that moment, one stream at a time, and while :func:`routed_source` reads the environment's own
value: a reload's check on another thread never reads a leg's. Reentrant: a leg looking for its
source under it reads that value too."""

DEFAULT_INPUT = "default input"
"""The label of the leg given no SOURCE: PortAudio's default input device."""


@dataclass(frozen=True)
class ResolvedSource:
    """What to open: ``device`` for sounddevice (None: PortAudio's default input, where it has
    none to name), and ``pulse_source`` for PULSE_SOURCE. ``reads``: the sound-server source it
    records, ``pulse_source`` or, for a device of :data:`SERVER_DEFAULT_DEVICES`, the source
    :func:`routed_source` found when it was resolved, ``via`` saying why (:data:`SERVER_DEFAULT` or
    :data:`FROM_ENVIRONMENT`); None: a device of its own, or no server answered."""

    spec: str
    device: int | str | None
    pulse_source: str | None
    label: str
    reads: str | None = None
    via: str = SERVER_DEFAULT

    @property
    def audio(self) -> tuple[str, object]:
        """What it records, to tell two legs on one audio: its sound-server source, else its device."""
        return ("source", self.reads) if self.reads else ("device", self.device)


SERVER_DEFAULT_DEVICES = ("default", "pulse", "pipewire")
"""The ALSA devices that, opened with no ``PULSE_SOURCE``, record the sound server's default source
(where its ALSA plugin is installed, PortAudio then listing a ``pulse`` device): with no microphone,
or one the desktop's settings set so, that is the monitor of a sink, perhaps the softphone's. Opened
with ``PULSE_SOURCE`` exported in the environment (a leg of a named source sets its own only while it
opens), they record the source it names (:func:`routed_source`)."""


def portaudio() -> Any:
    """The ``sounddevice`` module, PortAudio started (as its import does, once; then
    :func:`drop_alsa_probe`); OSError, one line, when PortAudio is missing (sounddevice's own) or
    cannot start (ALSA's configuration unreadable: ``ALSA_CONFIG_PATH``, ``/etc/asound.conf``,
    ``~/.asoundrc``), rather than PortAudio's traceback."""
    starting = "sounddevice" not in sys.modules
    try:
        import sounddevice as sd
    except OSError:
        raise
    except Exception as err:  # noqa: BLE001 - sounddevice.PortAudioError, raised as the import starts PortAudio
        said = str(err).strip().splitlines()
        raise OSError(f"PortAudio cannot start ({said[0] if said else type(err).__name__}): check ALSA's "
                      "configuration (ALSA_CONFIG_PATH, /etc/asound.conf, ~/.asoundrc)") from None
    if starting:
        drop_alsa_probe()
    return sd


def drop_alsa_probe() -> None:
    """Free what PortAudio's start had ALSA load only to list its devices: ALSA's configuration and
    the plugins of the devices it opened to probe them (here a52's, with libavcodec and some 50
    libraries: 10 MB of the live daemon, research/live_memory), as PortAudio's own end does. A
    stream that opens has ALSA read its configuration again and load its device's plugin alone.
    Call it with no stream open (PortAudio just started). Nothing where ALSA is not loaded."""
    try:
        alsa = ctypes.CDLL("libasound.so.2", mode=os.RTLD_NOLOAD)
    except (OSError, AttributeError):  # no ALSA in this process (macOS, Windows, PortAudio without it)
        return
    alsa.snd_config_update_free_global()


def input_devices() -> list[InputDevice]:
    sd = portaudio()
    apis = sd.query_hostapis()
    out = []
    for i, d in enumerate(sd.query_devices()):
        if d["max_input_channels"] > 0:
            out.append(InputDevice(i, d["name"], int(d["max_input_channels"]),
                                   float(d["default_samplerate"]), apis[d["hostapi"]]["name"]))
    return out


def pactl_output(args: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> str | None:
    """What ``pactl ARGS`` writes on its standard output; None when it cannot be run, takes longer
    than ``timeout`` seconds or fails (no server answering)."""
    try:
        r = subprocess.run(["pactl", *args], capture_output=True, encoding="utf-8", errors="replace",
                           timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


def pactl_short(kind: str, timeout: float) -> list[list[str]] | None:
    """``pactl list short KIND`` as rows of fields; None when the server does not answer."""
    out = pactl_output(("list", "short", kind), timeout)
    if out is None:
        return None
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def pulse_sources(timeout: float = 3.0) -> list[PulseSource] | None:
    """Sources of the PulseAudio/PipeWire server, or None when there is no server (or no pactl)."""
    if shutil.which("pactl") is None:
        return None
    rows = pactl_short("sources", timeout)
    if rows is None:
        return None
    out = []
    for parts in rows:
        if len(parts) < 2:
            continue
        try:
            idx = int(parts[0])
        except ValueError:
            continue
        out.append(PulseSource(idx, parts[1], parts[2] if len(parts) > 2 else "",
                               parts[3] if len(parts) > 3 else "", parts[4] if len(parts) > 4 else ""))
    return out


@dataclass(frozen=True)
class PulseSink:
    """A sink of the sound server: what programs play to. ``description``: the name a program's
    output device list shows (a web softphone's speaker setting, the desktop's sound settings);
    ``monitor``: the source that captures what it plays (a ``--caller`` SOURCE); ``module``: the index
    of the ``module-null-sink`` that made it (a null sink's ``pactl load-module``), "" for another sink
    (a card's, whose module holds the card)."""

    name: str
    description: str
    monitor: str
    module: str = ""


_SINK_FIELD_RE = re.compile(r"^\t(Name|Description|Monitor Source|Owner Module): (.*)$", re.M)


def pulse_sinks(timeout: float = 3.0) -> list[PulseSink] | None:
    """The sound server's sinks (``pactl list sinks``, asked in the C locale), or None when there is
    no server (or no pactl)."""
    if shutil.which("pactl") is None:
        return None
    out = pactl_output(("list", "sinks"), timeout, env={**os.environ, "LC_ALL": "C"})
    if out is None:
        return None
    null_sinks = {row[0] for row in pactl_short("modules", timeout) or () if row[1:2] == ["module-null-sink"]}
    sinks = []
    for block in out.split("Sink #")[1:]:
        fields = dict(_SINK_FIELD_RE.findall(block))
        module = fields.get("Owner Module", "").strip()  # "n/a" where no module made it
        if "Name" in fields:
            sinks.append(PulseSink(fields["Name"].strip(), fields.get("Description", "").strip(),
                                   fields.get("Monitor Source", fields["Name"] + ".monitor").strip(),
                                   module if module in null_sinks else ""))
    return sinks


def default_server_source(timeout: float = 3.0) -> str | None:
    """The sound server's default source now (``pactl info``'s ``Default Source``, asked in the C
    locale: in another one pactl translates the line's name, ``Standard-Quelle``); None when no
    server answers."""
    said = (pactl_output(("info",), timeout, env={**os.environ, "LC_ALL": "C"}) or "").splitlines()
    return next((line.split(":", 1)[1].strip() for line in said if line.startswith("Default Source:")), None)


_OUTPUT_SOURCE_RE = re.compile(r"^\s*Source: (\d+)\s*$", re.M)
_OUTPUT_PID_RE = re.compile(r'^\s*application\.process\.id = "(\d+)"\s*$', re.M)


def recorded_sources(pid: int, timeout: float = 3.0) -> frozenset[int] | None:
    """The indexes of the sources the recording streams of process ``pid`` record now (``pactl list
    source-outputs``, asked in the C locale); None when the server does not answer."""
    out = pactl_output(("list", "source-outputs"), timeout, env={**os.environ, "LC_ALL": "C"})
    if out is None:
        return None
    found = set()
    for block in out.split("Source Output #")[1:]:
        source, owner = _OUTPUT_SOURCE_RE.search(block), _OUTPUT_PID_RE.search(block)
        if source and owner and int(owner.group(1)) == pid:
            found.add(int(source.group(1)))
    return frozenset(found)


def routed_source(env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The sound-server source a device of :data:`SERVER_DEFAULT_DEVICES` records, opened for no
    source of its own, and why (:data:`FROM_ENVIRONMENT` or :data:`SERVER_DEFAULT`): the one
    ``PULSE_SOURCE`` names in ``env`` (the process's environment by default, read outside any stream's
    opening: :data:`PULSE_SOURCE_LOCK`), which the sound
    server's client in the ALSA plugin reads as the device opens, else the server's default source
    (None: no server answered)."""
    if env is None:
        with PULSE_SOURCE_LOCK:  # not while a leg's stream opens with its own
            named = os.environ.get("PULSE_SOURCE", "").strip()
    else:
        named = env.get("PULSE_SOURCE", "").strip()
    if named:
        return named, FROM_ENVIRONMENT
    return default_server_source(), SERVER_DEFAULT


def default_input_index() -> int | None:
    """The index of PortAudio's default input device, which a stream opened on no device records;
    None when it has none."""
    sd = portaudio()
    try:
        return int(sd.query_devices(kind="input")["index"])
    except Exception:  # noqa: BLE001 - PortAudio's "Error querying device -1"
        return None


def no_sources_reason() -> str:
    """Why the sound server's sources cannot be listed (:func:`pulse_sources` gave None)."""
    if shutil.which("pactl") is None:
        return "pactl is not installed (Debian: apt-get install pulseaudio-utils)"
    return "no PulseAudio/PipeWire server answered (pactl)"


SERVER_SOURCE_PREFIXES = ("alsa_input.", "alsa_output.", "bluez_input.", "bluez_output.", "bluez_source.")
"""How the sound server names the sources of cards and headsets (a sink's monitor ends in ``.monitor``)."""


def server_source_name(spec: str) -> bool:
    """Whether ``spec`` reads as a sound-server source's name (``softphone.monitor``,
    ``alsa_input.usb-...``): found through ``pactl`` when it appears, with no need to read
    PortAudio's device list again (unless that list has no ``pulse`` device: :class:`NoPulseDeviceError`)."""
    return spec.endswith(".monitor") or spec.startswith(SERVER_SOURCE_PREFIXES)


def refresh_portaudio() -> None:
    """Read PortAudio's device list again: it is read once, when sounddevice is imported, so an
    ALSA device that appears later (a USB headset plugged in) is not in it. Pa_Terminate stops and
    closes every open stream: call it only with none open."""
    sd = portaudio()
    sd._terminate()
    sd._initialize()
    drop_alsa_probe()


def _pulse_device(devices: list[InputDevice]) -> int | None:
    for d in devices:
        if d.name == "pulse":
            return d.index
    for d in devices:
        if "pulse" in d.name.lower():
            return d.index
    return None


def _close_name(spec: str, names: list[str]) -> str:
    """' (did you mean NAME?)' for the one name ``spec`` is close to, letter case aside (source
    names are case-sensitive; a mistyped case is the commonest slip); '' when none is."""
    by_lower = {n.lower(): n for n in reversed(names)}
    close = difflib.get_close_matches(spec.lower(), list(by_lower), n=1, cutoff=0.8)
    return f" (did you mean {by_lower[close[0]]}?)" if close else ""


def resolve(spec: str, *, devices: list[InputDevice] | None = None,
            sources: list[PulseSource] | None | Literal[False] = False) -> ResolvedSource:
    """Turn a SOURCE string into what to open; DeviceError with a one-line reason otherwise."""
    spec = (spec or "").strip()
    devices = input_devices() if devices is None else devices
    if not spec:
        return _default_input(devices, sources)
    if spec.isdigit():
        idx = int(spec)
        for d in devices:
            if d.index == idx:
                return _on_device(spec, d, devices, sources)
        raise DeviceError(f"no input device with index {idx} (see `call-monitor devices`)")
    if sources is False:
        sources = pulse_sources()
    for s in sources or []:
        if s.name == spec:
            pd = _pulse_device(devices)
            if pd is None:
                raise NoPulseDeviceError(spec, alsa_pulse_plugin_missing())
            return ResolvedSource(spec, pd, spec, spec, reads=spec)
    matches = [d for d in devices if spec.lower() in d.name.lower()]
    exact = [d for d in matches if d.name.lower() == spec.lower()]
    if exact:
        matches = exact
    if len(matches) == 1:
        return _on_device(spec, matches[0], devices, sources)
    if len(matches) > 1:
        names = ", ".join(f"#{d.index} {d.name}" for d in matches[:5])
        raise DeviceError(f"input '{spec}' is ambiguous: {names}; give an index")
    known = [s.name for s in sources or []]
    if f"{spec}.monitor" in known:  # the softphone's sink named: what it plays is heard at its monitor
        raise DeviceError(f"{spec} is a sink, not a source: its monitor source is {spec}.monitor (give that)")
    guess = _close_name(spec, [*known, *(d.name for d in devices)])
    hint = f"; sound-server sources: {', '.join(known)}" if known else ""
    if sources is None:  # a softphone.monitor cannot be found without them: say why, not only that
        hint = f"; the sound server's sources cannot be listed: {no_sources_reason()}"
    raise DeviceError(f"no input device or source named '{spec}'{guess}{hint} (see `call-monitor devices`)")


def _on_device(spec: str, device: InputDevice, devices: list[InputDevice],
               sources: list[PulseSource] | None | Literal[False]) -> ResolvedSource:
    """``device`` opened for ``spec``, with the sound-server source it records (:func:`routed_source`),
    if it is one of :data:`SERVER_DEFAULT_DEVICES` (``sources`` None: no server answered, so none asked)."""
    routed = device.name in SERVER_DEFAULT_DEVICES and sources is not None and _pulse_device(devices) is not None
    reads, via = routed_source() if routed else (None, SERVER_DEFAULT)
    return ResolvedSource(spec, device.index, None, f"{device.name} (#{device.index})", reads=reads, via=via)


def _default_input(devices: list[InputDevice], sources: list[PulseSource] | None | Literal[False]) -> ResolvedSource:
    """The leg given no SOURCE: PortAudio's default input device, with what it records
    (:func:`_on_device`), labelled :data:`DEFAULT_INPUT`; no device when PortAudio has none."""
    index = default_input_index()
    device = next((d for d in devices if d.index == index), None)
    if device is None:
        return ResolvedSource("", None, None, DEFAULT_INPUT)
    return replace(_on_device("", device, devices, sources), label=DEFAULT_INPUT)


def one_audio(a: ResolvedSource, b: ResolvedSource) -> str | None:
    """The source both ``a`` and ``b`` record (one device, or one sound-server source, named, the
    server's default or the environment's ``PULSE_SOURCE``), as a line names it, else None: a device
    that records a source it was not given is named beside that source, with why
    (``softphone.monitor (default (#1): the sound server's default source)``)."""
    one_device = a.device == b.device and a.pulse_source is None and b.pulse_source is None
    if a.audio != b.audio and not one_device:  # one device is one audio, whatever pactl said of either
        return None
    routed = [r for r in (a, b) if r.pulse_source is None and r.reads]
    if a.label == b.label or not routed:
        return a.label
    return f"{a.reads} ({' and '.join(r.label for r in routed)}: {routed[0].via})"


def same_source(caller: str, agent: str, resolve_fn: Callable[[str], ResolvedSource] | None = None) -> str | None:
    """The source both ``caller`` and ``agent`` name (their name, or the label of the device or
    sound-server source both resolve to; no caller: the default input's), else None: no agent, or
    either not found now (looked at again when it is opened). ``resolve_fn`` defaults to
    :func:`resolve` over one listing of the devices and sources."""
    caller, agent = (caller or "").strip(), (agent or "").strip()
    if not agent:
        return None
    if caller == agent:
        return caller
    if resolve_fn is None:
        devices, sources = input_devices(), pulse_sources()
        resolve_fn = functools.partial(resolve, devices=devices, sources=sources)
    try:
        a, b = resolve_fn(caller), resolve_fn(agent)
    except DeviceError:
        return None
    return one_audio(a, b)
