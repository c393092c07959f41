"""``call-monitor devices``: input devices and sound-server sources usable as SOURCE."""

from __future__ import annotations

import argparse

from ..console import error, one_line, warning
from ..events import json_line
from .common import ExitStatus


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list input devices and PulseAudio/PipeWire sources",
                       description="List what `call-monitor run --caller/--agent SOURCE` accepts: sounddevice "
                                   "input devices (name fragment or index) and PulseAudio/PipeWire sources "
                                   "(name). Monitor sources capture what a sink plays: use the monitor of the "
                                   "sink your softphone plays to for the caller's leg.")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from ..capture.devices import input_devices, no_sources_reason, pulse_sinks, pulse_sources
    with ThreadPoolExecutor(2) as pool:  # pactl answers while PortAudio scans the devices
        pending, pending_sinks = pool.submit(pulse_sources), pool.submit(pulse_sinks)
        try:
            devs = input_devices()
        except OSError as err:
            error(f"cannot use the audio system: {err}")
            return ExitStatus.BAD_SETUP
        srcs, sinks = pending.result(), pending_sinks.result()
    if args.json:
        print(json_line({"devices": [d.__dict__ for d in devs],
                          "sources": None if srcs is None else
                          [dict(s.__dict__, monitor=s.monitor) for s in srcs],
                          "sinks": None if sinks is None else [s.__dict__ for s in sinks]}))
        return ExitStatus.OK
    print("Input devices (SOURCE = index or name fragment):")
    for d in devs:
        shown(f"  {d.index:3d}  {d.name}  [{d.hostapi}, {d.channels} ch, {d.default_rate:.0f} Hz]")
    if not devs:
        print("  (none)")
    if srcs is None:
        warning(f"{no_sources_reason()}: sound-server sources not listed")
        return ExitStatus.OK
    print("Sound-server sources (SOURCE = name; 'monitor' = what a sink plays, e.g. the softphone's output):")
    for s in srcs:
        tag = "monitor" if s.monitor else "input  "
        shown(f"  {tag}  {s.name}  [{s.spec}]")
    _print_sinks(sinks or [])
    return ExitStatus.OK


def shown(line: str) -> None:
    """A line of the list, its names and descriptions as the sound server gives them (a Bluetooth
    headset names itself, a program loading a sink describes it) written as every line writes awkward
    text (:func:`~monitor.console.one_line`): an escape sequence in one (``\\x1b]0;...``, ``\\x1b[2J``)
    sets no title and clears no terminal. ``--json`` gives them as they are."""
    print(one_line(line))


def _print_sinks(sinks: list) -> None:
    """The sinks with the descriptions a program's output device list shows them by (a web
    softphone's speaker setting), and one warning line for each description two sinks share."""
    print("Sound-server sinks (a program's output devices, which it lists by their description; the caller's "
          "SOURCE is the monitor of the softphone's):")
    for s in sinks:
        shown(f"  {s.name}  \"{s.description}\"  (its monitor: {s.monitor})")
    if not sinks:
        print("  (none)")
    by_description: dict[str, list] = {}
    for s in sinks:
        by_description.setdefault(s.description, []).append(s)
    for description, alike in by_description.items():
        if len(alike) > 1:
            made = next((s for s in alike if s.module), None)
            how = "" if made is None else (
                f" (a null sink made again with one: pactl unload-module {made.module}, then pactl load-module "
                f"module-null-sink sink_name={made.name} sink_properties=device.description={made.name})")
            warning(f"sinks {', '.join(s.name for s in alike)} share the description \"{description}\": a softphone's "
                    f"or browser's output device list cannot tell them apart; give each its own{how}")
