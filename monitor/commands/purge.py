"""``call-monitor purge [--older-than 30d]``: delete old calls and everything they hold."""

from __future__ import annotations

import argparse
import os
import re
import time

from ..console import error, info
from .common import ExitStatus, add_config_options

_UNITS = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}

LEFT_OPEN_IDLE_S = 3600.0
"""A call still open with nothing recorded for this long was left open by a crash or a kill (a
running call, live or replayed, records its cues every storage.snapshot_every_s): it is closed as
interrupted, so that it is purged like any other instead of kept for ever."""


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``2w`` -> seconds. Raises ValueError with a one-line message."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hdw])\s*", text)
    if not m:
        raise ValueError(f"--older-than {text!r}: expected an age like 30d, 12h or 2w")
    return float(m.group(1)) * _UNITS[m.group(2)]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("purge", help="delete calls older than the retention period",
                       description="Delete calls (with their alerts, cue snapshots, transcript and webhook "
                                   "outbox rows) that started more than AGE ago; default: the configuration's "
                                   "storage.retention_days. Calls still running are kept; a call left open by a crash "
                                   "or a kill (nothing recorded for an hour) is closed as interrupted first.")
    p.add_argument("--older-than", metavar="AGE",
                   help="30d, 12h or 2w; 0d purges every call that has ended (default: storage.retention_days)")
    add_config_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .common import ConfigError, StoreError, config_from_args, open_store
    try:
        cfg = config_from_args(args)
        age = parse_age(args.older_than) if args.older_than else cfg.storage.retention_days * 86400.0
    except (ValueError, ConfigError) as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    if age <= 0 and not args.older_than:
        info("storage.retention_days is 0 (keep forever): nothing purged; give --older-than to purge")
        return ExitStatus.OK
    if not os.path.exists(cfg.storage.db):
        info(f"{cfg.storage.db}: no database there: nothing to purge")
        return ExitStatus.OK
    try:
        store = open_store(cfg)
    except StoreError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    try:
        left_open = store.close_interrupted(source_prefix="", idle_before=time.time() - LEFT_OPEN_IDLE_S)
        counts = store.purge(time.time() - age)
    except StoreError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    finally:
        try:
            store.close()
        except StoreError:
            pass
    if left_open:
        info(f"closed {len(left_open)} call(s) left open by a crash or a kill, nothing recorded for "
             f"{LEFT_OPEN_IDLE_S / 3600:g} h, as interrupted (call {', '.join(map(str, left_open))})")
    rest = ", ".join(f"{n} {table}" for table, n in counts.items() if table != "calls" and n)
    info(f"purged {counts.get('calls', 0)} call(s) older than {age / 86400:g} days"
         + (f" ({rest})" if rest else ""))
    return ExitStatus.OK
