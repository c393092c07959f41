"""``call-monitor outcome ALERT handled|false-alarm [--note TEXT]``: the agent's word on an alert.

What came of an alert, said by the agent who took the call: ``handled`` (acted on: escalated, emergency
services called, the caller checked on) or ``false-alarm``, with an optional short note. The running
daemon keeps it in its database and posts it to the supervisor's console with its webhook (asked over
its status socket, as ``call start|end`` are); with no daemon answering, it is kept in the database
here, and the next daemon started on it posts it (:mod:`monitor.delivery.words`).
"""

from __future__ import annotations

import argparse
import os
import time

from ..console import error, info
from ..delivery.words import LAST, NOTE_CHARS, WordRefused, alert_ref_of, note_of, word_of
from .common import ExitStatus, add_daemon_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("outcome", help="say what came of an alert: handled, or a false alarm",
                       description="The agent's word on an alert: `handled` (acted on: escalated, emergency "
                                   "services called, the caller checked on) or `false-alarm`, with an optional "
                                   "note. Kept in the database (a later word on the same alert replaces the "
                                   "earlier one, said), shown by `alerts` and in the call's report, and posted "
                                   "to the supervisor's console with the webhook, beside the alert. The running "
                                   "daemon is asked over its Unix status socket; with none answering, the word "
                                   "is kept in the database (--db, storage.db) and the next daemon started on "
                                   "it posts it.",
                       epilog="Exit status: 0 kept; 1 no such alert (or none raised yet, for `last`), or the "
                              "daemon's database failing; 2 a word other than handled or false-alarm, a note "
                              f"longer than {NOTE_CHARS} characters, an ALERT that is no id, no database (no "
                              "daemon answering either), or a configuration that cannot be loaded.")
    p.add_argument("alert", metavar="ALERT",
                   help=f"the alert's id: 12 for the alert `call-monitor alerts` lists as #12 (a shell reads an unquoted # "
                        f"as a comment), or `{LAST}`: the latest "
                        "alert raised (of the running call, or of the last call that raised one)")
    p.add_argument("word", metavar="WORD", help="handled, or false-alarm")
    p.add_argument("--note", metavar="TEXT", default="",
                   help=f"a short note, {NOTE_CHARS} characters at most (what was done, why it was no emergency)")
    add_daemon_options(p, db_help="the database the alert is in (default: storage.db): the daemon running on it is "
                                  "asked (its socket FILE.sock where neither daemon.status_socket nor a runtime folder "
                                  "places it elsewhere), or, with no daemon answering, the word is kept in it; so it is "
                                  "too where the daemon that answers records to another database")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .common import daemon_answer
    try:
        asked = {"alert": alert_ref_of(args.alert), "word": word_of(args.word), "note": note_of(args.note)}
    except WordRefused as err:
        error(f"outcome: {err}")
        return ExitStatus.BAD_SETUP
    db = {"db": os.path.realpath(os.path.expanduser(args.db))} if args.db else {}
    answer = daemon_answer(args, {"word": {**asked, **db}}, timeout=5.0)
    if isinstance(answer, dict) and answer.get("code") != "other_database":
        return _said_by_daemon(answer)
    status, why = answer if not isinstance(answer, dict) else (ExitStatus.FAILED, "")
    if status is not ExitStatus.FAILED:  # the socket cannot be placed: the configuration, a path too long
        error(why)
        return status
    return _kept_here(args, asked)


def _said_by_daemon(answer: dict) -> int:
    """The running daemon's answer to the word, said: exit 0 when it kept it."""
    if isinstance(answer.get("error"), str) and answer["error"].startswith("unknown request"):
        answer = {}  # a daemon older than the agent's words: its database is of an earlier schema too
    if answer.get("error"):
        error(f"outcome: {answer['error']}")
        return ExitStatus.FAILED
    if "ok" not in answer:  # a daemon's status, or its refusal of the request: one older than the agent's words
        error("outcome: the daemon takes no word on an alert (an older version: restart it)")
        return ExitStatus.FAILED
    print(answer.get("message", "kept"))
    return ExitStatus.OK


def _kept_here(args: argparse.Namespace, asked: dict) -> int:
    """No daemon answers: the word kept in the database the configuration names, for the next daemon
    started on it to post."""
    from ..config import ConfigError
    from ..delivery.store import Store
    from ..delivery.store_errors import StoreError
    from ..delivery.store_files import no_database_there
    from ..delivery.words import keep_word
    from .common import close_quietly, config_from_args
    try:
        db = os.path.expanduser(config_from_args(args).storage.db)
    except ConfigError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    if (none := no_database_there(db)) is not None:  # as the commands that read one say it: none made there
        error(f"outcome: {none}, and no daemon answers: nothing kept")
        return ExitStatus.BAD_SETUP
    try:
        store = Store.open(db)
    except StoreError as err:
        error(f"outcome: {err}")
        return ExitStatus.BAD_SETUP
    try:
        kept = keep_word(store, asked["alert"], asked["word"], asked["note"], time.time())
    except WordRefused as err:
        error(f"outcome: {err}")
        return ExitStatus.FAILED
    except StoreError as err:
        error(f"outcome: {err}")
        return ExitStatus.FAILED
    finally:
        close_quietly(store)
    print(kept.said)
    if kept.queued:
        info("no daemon on this database answers: the one running on it, or the next one started, posts it")
    return ExitStatus.OK
