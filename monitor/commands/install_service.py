"""``call-monitor install-service``: a systemd user unit that starts the daemon with the session."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ..console import error, info

UNIT = """\
[Unit]
Description=callmonitor: local real-time call monitor
After=pipewire-pulse.service pulseaudio.service
Wants=pipewire-pulse.service

[Service]
Type=simple
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
UMask=0077
# no network access is needed except an optional webhook
NoNewPrivileges=yes

[Install]
WantedBy=default.target
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("install-service", help="write a systemd user unit that starts `run` with the session",
                       description="Write ~/.config/systemd/user/callmonitor.service running `call-monitor run` "
                                   "with the given options; then `systemctl --user enable --now callmonitor`.")
    p.add_argument("--caller", metavar="SOURCE")
    p.add_argument("--agent", metavar="SOURCE")
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--db", metavar="FILE")
    p.add_argument("--webhook", metavar="URL")
    p.add_argument("--unit-dir", metavar="DIR", help="default: $XDG_CONFIG_HOME/systemd/user")
    p.add_argument("--enable", action="store_true", help="also run systemctl --user daemon-reload/enable --now")
    p.add_argument("--print", action="store_true", help="print the unit instead of writing it")
    p.set_defaults(run=run)


def exec_start(args: argparse.Namespace) -> str:
    local = os.path.join(os.path.dirname(sys.executable), "call-monitor")
    exe = local if os.access(local, os.X_OK) else shutil.which("call-monitor")
    cmd = [exe] if exe else [sys.executable, "-m", "monitor.cli"]
    cmd.append("run")
    for opt in ("caller", "agent", "config", "db", "webhook"):
        v = getattr(args, opt)
        if v:
            if opt in ("config", "db"):
                v = os.path.abspath(os.path.expanduser(v))
            cmd += [f"--{opt}", v]
    return " ".join(shlex.quote(c) for c in cmd)


def run(args: argparse.Namespace) -> int:
    unit = UNIT.format(exec_start=exec_start(args))
    if args.print:
        print(unit, end="")
        return 0
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    d = Path(args.unit_dir or os.path.join(base, "systemd", "user"))
    try:
        d.mkdir(parents=True, exist_ok=True)
        path = d / "callmonitor.service"
        path.write_text(unit)
        os.chmod(path, 0o600)
    except OSError as err:
        error(f"cannot write the unit: {err}")
        return 1
    info(f"wrote {path}")
    if args.enable:
        for cmd in (["systemctl", "--user", "daemon-reload"],
                    ["systemctl", "--user", "enable", "--now", "callmonitor.service"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                error(f"{' '.join(cmd)}: {(r.stderr.strip().splitlines() or ['failed'])[0]}")
                return 1
    else:
        info("enable it with: systemctl --user daemon-reload && systemctl --user enable --now callmonitor")
    return 0
