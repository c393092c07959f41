"""``call-monitor call start|end|hold|resume``: mark where a call begins, ends or is on hold, for the
running daemon.

For integrations (a softphone's hook, a CRM) that know where calls begin and end: ``call start``
closes the running call, if any, and starts a new one; ``call end`` ends the running one (or calls
off the call a stream began and has not started yet); ``call hold`` and ``call resume`` mark a hold,
over which what the softphone plays (hold music, a recorded message) is not judged as the caller.
The daemon carries the mark out in its capture loop and answers what it did, over its status socket;
a mark it reads once ``call`` has given up waiting (the daemon stopped or frozen meanwhile) it drops.
"""

from __future__ import annotations

import argparse

from ..console import error, warning
from .common import ExitStatus, add_daemon_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("call", help="tell the running daemon that a call starts, ends, or is on hold",
                       description="Mark a call's start or end for the running `call-monitor run` (a "
                                   "softphone hook or a CRM): `start` closes the running call, if any, and "
                                   "starts a new one; `end` ends the running call; `hold` and `resume` mark "
                                   "the running call's hold, over which the caller's leg (hold music, a recorded message) is not "
                                   "judged. Over the daemon's "
                                   "Unix status socket.",
                       epilog="Exit status: 0 the daemon did it; 1 it refused (still starting), did not act in "
                              "time (nothing done: a daemon that reads the mark after the 12 s this waits, "
                              "stopped or frozen meanwhile, drops it), or no daemon answers; 2 a socket path too long for a Unix socket, or a "
                              "configuration that cannot be loaded and no daemon answering (where a file that is no TOML may place the socket elsewhere, one error line says so: give --socket). A configuration that "
                              "cannot be loaded (the one a reload refused, say) is one warning line naming its file "
                              "and problem, and the mark is sent all the same (a hook refused would lose the "
                              "call's boundary), at the socket that --socket, --db, the daemon.status_socket and "
                              "storage.db the files give, and the defaults place.")
    p.add_argument("what", choices=("start", "end", "hold", "resume"), metavar="{start,end,hold,resume}",
                   help="start a new call, end the running one, or put it on hold and resume it")
    add_daemon_options(p)
    p.set_defaults(run=run)


WAIT_S = 12.0
"""How long ``call`` waits for the daemon's answer (a call's end flushes its analysis); the daemon
does nothing for a mark it reads after then (:data:`~monitor.daemon.ANSWER_MARGIN_S`)."""


def run(args: argparse.Namespace) -> int:
    from .common import NoAnswer, answer_despite_config
    answer, _ = answer_despite_config(args, {"call": args.what, "wait_s": WAIT_S}, timeout=WAIT_S)
    if isinstance(answer, NoAnswer):
        error(f"call {args.what} not applied: {answer.why}; continued, the daemon drops it" if answer.held_up
              else answer.why)
        return answer.status
    if answer.get("error"):
        error(f"call {args.what}: {answer['error']}")
        return ExitStatus.FAILED
    if "ok" not in answer:  # a daemon's status (no other answer gets here): one older than call marks
        error("the daemon takes no call marks (an older version: restart it)")
        return ExitStatus.FAILED
    print(answer.get("message", "done"))
    if answer.get("warning"):  # started, but a leg's source gives nothing: the call would look monitored
        warning(answer["warning"])
    return ExitStatus.OK
