"""The stop blocks of monitor/stops.py under a timer signal at random moments: how often a stop
leaves a block's handler, unraisable hook or signal mask wrong. Each round arms a kernel timer
(``timer_create``, SIGEV_SIGNAL: the signal comes from outside, as ``kill`` or Ctrl-C would, at any
instruction) for a moment drawn at random over the block's length and a little after it, runs the
block around a few short Python calls, waits out the timer, and looks at the handlers, the hook and
the mask as the stop is handled (the exception still in hand), once it is let go, and after a
garbage collection. Runs on the code before the stop blocks took the call (``with`` blocks) and
after. See README.md.

    PYTHONPATH=. .venv/bin/python research/stops/stress.py --rounds 2000
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import inspect
import random
import signal
import sys
import time
from collections import Counter

from monitor import stops
from monitor.stops import Terminated

CALL_FORM = bool(inspect.signature(stops.sigterm_as_interrupt).parameters)
"""Whether the blocks take the call (after) or are context managers (before)."""

libc = ctypes.CDLL("libc.so.6", use_errno=True)


class _Sigevent(ctypes.Structure):
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int), ("notify", ctypes.c_int),
                ("pad", ctypes.c_int * 12)]


class _Timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("interval", _Timespec), ("value", _Timespec)]


def timer(sig: int) -> ctypes.c_void_p:
    """A kernel timer that sends ``sig`` to this process."""
    made = ctypes.c_void_p()
    if libc.timer_create(1, ctypes.byref(_Sigevent(None, sig, 0)), ctypes.byref(made)):  # CLOCK_MONOTONIC
        raise OSError(ctypes.get_errno(), "timer_create")
    return made


def arm(made: ctypes.c_void_p, after_s: float) -> None:
    ns = max(1, int(after_s * 1e9))
    libc.timer_settime(made, 0, ctypes.byref(_Itimerspec(_Timespec(0, 0), _Timespec(0, ns))), None)


WORK_S = 300e-6
"""How long the block's work lasts; the timer is aimed at its end, give or take :data:`AIM_S`."""
AIM_S = 20e-6


def pending(made: ctypes.c_void_p) -> bool:
    """Whether the timer has still to fire."""
    left = _Itimerspec()
    libc.timer_gettime(made, ctypes.byref(left))
    return bool(left.value.sec or left.value.nsec)


class Outside(Exception):
    """Raised by the handler found before a block (a stop that came after it, taken by that handler)."""


def outside(signum: int, frame: object) -> None:
    raise Outside(signum)


def terminated(signum: int, frame: object) -> None:
    raise Terminated("SIGTERM")


def step(n: int) -> int:
    return n + 1


WORK_UNTIL = [0.0]
"""When the block's work ends (``time.perf_counter``): the timer is aimed around that moment."""


def work() -> int:
    """Short Python calls until :data:`WORK_UNTIL`: the block's own work."""
    total = 0
    while time.perf_counter() < WORK_UNTIL[0]:
        total = step(total)
    return total


def sigterm_block() -> None:
    if CALL_FORM:
        stops.sigterm_as_interrupt(work)
    else:
        with stops.sigterm_as_interrupt():
            work()


def noted_block() -> None:
    if CALL_FORM:
        stops.stops_noted([], work)
    else:
        with stops.stops_noted():
            work()


def held_block() -> None:
    """A held block taking two Ctrl-C: the first held, the second raised at once."""
    with stops.stops_held():
        signal.raise_signal(signal.SIGINT)  # the first, held
        work()


def blocked_block() -> None:
    """The batch's cluster made with Ctrl-C blocked, SIGTERM not."""
    if CALL_FORM:
        stops.stops_blocked(lambda: work(), (signal.SIGINT,))
    else:
        with stops.stops_blocked((signal.SIGINT,)):
            work()


CASES = {
    # name: (block, signal the timer sends, handlers found before it: SIGINT, SIGTERM)
    "sigterm_as_interrupt, SIGTERM": (sigterm_block, signal.SIGTERM, signal.default_int_handler, outside),
    "sigterm_as_interrupt, SIGINT": (sigterm_block, signal.SIGINT, signal.default_int_handler, outside),
    "stops_noted, SIGTERM": (noted_block, signal.SIGTERM, signal.default_int_handler, terminated),
    "stops_noted, SIGINT": (noted_block, signal.SIGINT, signal.default_int_handler, terminated),
    "stops_held, a second SIGINT": (held_block, signal.SIGINT, signal.default_int_handler, terminated),
    "stops_blocked SIGINT, SIGTERM": (blocked_block, signal.SIGTERM, signal.default_int_handler, terminated),
}


def wrong(found_int, found_term, hook) -> str:
    """What is not as it was before the block: '' when all is."""
    out = []
    if signal.getsignal(signal.SIGINT) is not found_int:
        out.append("SIGINT handler")
    if signal.getsignal(signal.SIGTERM) is not found_term:
        out.append("SIGTERM handler")
    if sys.unraisablehook is not hook:
        out.append("unraisable hook")
    if signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, ()):
        out.append("SIGINT blocked")
    return "+".join(out)


def length_s(block, found_int, found_term) -> float:
    """How long the block takes, here, beside its work, with nothing stopping it (the held block's
    own stop aside)."""
    signal.signal(signal.SIGINT, lambda s, f: None)
    signal.signal(signal.SIGTERM, found_term)
    WORK_UNTIL[0] = 0.0
    t0 = time.perf_counter()
    for _ in range(200):
        try:
            block()
        except BaseException:
            pass
    signal.signal(signal.SIGINT, found_int)
    return (time.perf_counter() - t0) / 200


def run_case(name: str, rounds: int, rng: random.Random) -> dict[str, Counter]:
    block, sig, found_int, found_term = CASES[name]
    span = length_s(block, found_int, found_term)
    made = timer(sig)
    hook = sys.unraisablehook
    seen: dict[str, Counter] = {"landed": Counter(), "in hand": Counter(), "let go": Counter(), "after gc": Counter()}
    for _ in range(rounds):
        signal.signal(signal.SIGINT, found_int)
        signal.signal(signal.SIGTERM, found_term)
        sys.unraisablehook = hook
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        gc.collect()
        after_s = WORK_S + rng.uniform(-AIM_S, AIM_S + span)  # around the work's end and the block's exit
        t0 = time.perf_counter()
        WORK_UNTIL[0] = t0 + WORK_S
        landed = "nowhere"
        try:
            try:
                arm(made, after_s)
                block()
            finally:
                while pending(made):  # the timer's signal sent, then taken by its handler here
                    pass
                step(0)
            landed = "nowhere"
        except BaseException as stop:  # noqa: BLE001 - what the stop was, and where the state is meanwhile
            landed = type(stop).__name__
            seen["in hand"][wrong(found_int, found_term, hook)] += 1
        seen["landed"][landed] += 1
        seen["let go"][wrong(found_int, found_term, hook)] += 1
        gc.collect()
        seen["after gc"][wrong(found_int, found_term, hook)] += 1
    libc.timer_delete(made)
    print(f"{name}: block {span * 1e6:.1f} us beside its work, {rounds} rounds")
    for what, counts in seen.items():
        shown = ", ".join(f"{k or 'all as before'} {v}" for k, v in counts.most_common())
        print(f"  {what}: {shown}")
    sys.stdout.flush()
    return seen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--case", action="append", choices=list(CASES))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    libc.prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK: 1 ns, the timer as exact as the kernel makes it
    print(f"{'call-taking functions' if CALL_FORM else 'context managers'}; Python {sys.version.split()[0]}")
    for name in a.case or CASES:
        run_case(name, a.rounds, rng)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.unraisablehook = sys.__unraisablehook__
        signal.pthread_sigmask(signal.SIG_SETMASK, ())


if __name__ == "__main__":
    main()
