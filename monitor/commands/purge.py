"""``call-monitor purge [--older-than 30d]``: delete old calls and everything they hold."""

from __future__ import annotations

import argparse
import time
from types import MappingProxyType
from typing import Callable

from ..console import error, info
from ..stops import stops_held
from .common import WHEN_FORMATS, ExitStatus, add_config_options, close_quietly, parse_duration, parse_when

PURGED_IN_WORDS = MappingProxyType({"alerts": "{n} alert(s)", "alert_words": "{n} agent's word(s) on them",
                                   "transcript": "{n} transcript line(s)",
                                   "batch_calls": "{n} scored by batch, which --resume scores again",
                                   "files": "{n} file(s) of call audio, reports and series"})
"""What the purge says it deleted with the calls, by the store's table (or ``files``): what a user
knows of a call (the agents' words on alerts: the labels of real calls); the rows only the product reads (cue snapshots, cleared alerts, webhook outbox,
acknowledgements, which go with their alerts)
go unsaid."""

LEFT_OPEN_IDLE_S = 3600.0
"""A call still open with nothing recorded for this long was left open by a crash or a kill (a
running call, live or replayed, records its cues every storage.snapshot_every_s): it is closed as
interrupted, so that it is purged like any other instead of kept for ever. A live call is left to the
daemon while one holds the database: it closed those a crash left when it started, and the one it
runs may only look idle that long (the wall clock stepped forward by more)."""


LOCK_WAIT_S = 10.0
"""How long each transaction of the purge waits for another program's lock on the database: a running
daemon holds it for a few seconds at times (a batch of cue snapshots is committed with its next
write), which a purge beside it waits out (it holds nothing meanwhile)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("purge", help="delete calls older than the retention period",
                       description="Delete calls (with their alerts, cue snapshots, transcript, webhook "
                                   "outbox rows and supervisors' acknowledgements, and the audio and reports the daemon wrote of them) that started "
                                   "more than AGE ago; default: the configuration's storage.retention_days. Calls "
                                   "still running are kept; a call left open by a crash "
                                   "or a kill (nothing recorded for an hour) is closed as interrupted first.")
    p.add_argument("--older-than", metavar="AGE",
                   help=f"{WHEN_FORMATS} (a date: the calls that started before it); "
                        "0d purges every call that has ended (default: storage.retention_days)")
    p.add_argument("--missing-ok", action="store_true",
                   help="no database there yet (nothing recorded to it) is not an error: nothing is said and "
                        "the exit status is 0, for a cron job that may run before the first call; every other "
                        "problem (a database that cannot be reached or is not one) is still said, exit 2")
    add_config_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..delivery.store_files import no_database_there, not_there_yet
    from .common import ConfigError, StoreError, config_from_args, open_store
    now = time.time()
    try:
        cfg = config_from_args(args)
        given = args.older_than is not None  # an empty one is refused, never the retention period
        age = parse_duration(args.older_than) if given else cfg.storage.retention_days * 86400.0
        cutoff = now - age if age is not None else parse_when(args.older_than, "--older-than", now)
    except (ValueError, ConfigError) as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    if not given and age is not None and age <= 0:  # (not given: the retention period, a number)
        info("storage.retention_days is 0 (keep forever): nothing purged; give --older-than to purge")
        return ExitStatus.OK
    # as every command that reads one: a --db mistyped shows; an empty file or an SQLite file with no
    # tables is left so, not made a database
    if (none := no_database_there(cfg.storage.db)) is not None:
        if args.missing_ok and not_there_yet(cfg.storage.db):
            return ExitStatus.OK
        error(f"{none}: nothing to purge")
        return ExitStatus.BAD_SETUP
    try:
        store = open_store(cfg)
    except StoreError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    # a stop while it purges comes once the purge is done and said; a second one stops it between
    # two of its transactions, and comes once that is said
    with stops_held(second_at_once=False) as stops:
        return _purge(args, cfg, store, cutoff, age, given, stop=lambda: len(stops) > 1)


def _purge(args: argparse.Namespace, cfg, store, cutoff: float, age: float | None, given: bool,
           stop: Callable[[], bool]) -> int:
    """Close the calls a crash left open, delete the calls ``store`` holds from before ``cutoff``
    with their files, close it and say what went; the exit status. ``stop`` (a second Ctrl-C or
    SIGTERM) stops it between two of the purge's transactions (:meth:`Store.purge`), said with
    what went before it."""
    from ..delivery.call_files import purge_call_files, purge_unfinished_writes, purge_unnamed_audio
    from ..delivery.dblock import held_now
    from ..delivery.store import free_inside
    from .common import StoreError
    deleted: list[int] = []  # files of the calls, deleted before their rows (Store.purge)
    others: dict = {}  # folders of another database's call files (purge_call_files)
    counts: dict[str, int] = {}
    older = _older(args, age, given)
    try:
        left_open = store.close_interrupted(source_prefix="", idle_before=time.time() - LEFT_OPEN_IDLE_S,
                                            but_live=held_now(cfg.storage.db))
        folders = store.call_folders()  # where the daemon wrote call files, whatever --config says
        store.purge(cutoff, first=lambda calls: deleted.append(purge_call_files(cfg, calls, folders, others)),
                    counts=counts, stop=stop, wait_s=LOCK_WAIT_S)
        free = free_inside(store)
    except StoreError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    finally:
        close_quietly(store)
    if stop():
        info(f"stopped: purged {counts.get('calls', 0)} call(s) {older} before the stop"
             + _rest(counts | {"files": sum(deleted)}) + "; the others are kept (purge again to delete them)")
        return ExitStatus.OK
    deleted.append(purge_unnamed_audio(cfg, cutoff, recorded=folders))
    deleted.append(purge_unfinished_writes(cfg, cutoff, recorded=folders))
    counts["files"] = sum(deleted)
    if left_open:
        info(f"closed {len(left_open)} call(s) left open by a crash or a kill, nothing recorded for "
             f"{LEFT_OPEN_IDLE_S / 3600:g} h, as interrupted (call {', '.join(map(str, left_open))})")
    info(f"purged {counts.get('calls', 0)} call(s) {older}" + _rest(counts) + free)
    return ExitStatus.OK


def _older(args: argparse.Namespace, age: float | None, given: bool) -> str:
    """Which calls the purge deletes, as its line says it."""
    if age is None:
        return f"started before {args.older_than}"
    # as the user said it (90m, not 0.0625 days), else the retention period
    return f"older than {args.older_than.strip() if given else f'{age / 86400:g} days'}"


def _rest(counts: dict[str, int]) -> str:
    """What went with the calls, as the purge's line says it (:data:`PURGED_IN_WORDS`), in brackets; "" for nothing."""
    rest = ", ".join(said.format(n=counts[table]) for table, said in PURGED_IN_WORDS.items() if counts.get(table))
    return f" ({rest})" if rest else ""
