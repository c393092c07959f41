"""``call-monitor devices``: input devices and sound-server sources usable as SOURCE."""

from __future__ import annotations

import argparse

from ..console import error, warning
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

    from ..capture.devices import input_devices, no_sources_reason, pulse_sources
    with ThreadPoolExecutor(1) as pool:  # pactl answers while PortAudio scans the devices
        pending = pool.submit(pulse_sources)
        try:
            devs = input_devices()
        except OSError as err:
            error(f"cannot use the audio system: {err}")
            return ExitStatus.BAD_SETUP
        srcs = pending.result()
    if args.json:
        print(json_line({"devices": [d.__dict__ for d in devs],
                          "sources": None if srcs is None else
                          [dict(s.__dict__, monitor=s.monitor) for s in srcs]}))
        return ExitStatus.OK
    print("Input devices (SOURCE = index or name fragment):")
    for d in devs:
        print(f"  {d.index:3d}  {d.name}  [{d.hostapi}, {d.channels} ch, {d.default_rate:.0f} Hz]")
    if not devs:
        print("  (none)")
    if srcs is None:
        warning(f"{no_sources_reason()}: sound-server sources not listed")
        return ExitStatus.OK
    print("Sound-server sources (SOURCE = name; 'monitor' = what a sink plays, e.g. the softphone's output):")
    for s in srcs:
        tag = "monitor" if s.monitor else "input  "
        print(f"  {tag}  {s.name}  [{s.spec}]")
    return ExitStatus.OK
