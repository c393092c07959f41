"""Stops: Ctrl-C (SIGINT) and SIGTERM, which end a command alike. SIGTERM raised as :class:`Terminated`
(a KeyboardInterrupt), how a command's line says a stop, and blocks that hold a stop until they are
over (:func:`stops_held`) or note the ones Python cannot raise (:func:`stops_noted`), and a block
that keeps them from the threads and processes it starts (:func:`stops_blocked`)."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals that stop a command as Ctrl-C does."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt: a command stops on it as it does on
    Ctrl-C (what it did so far kept, said in one line), and exits ``ExitStatus.TERMINATED``."""


def stopped_by(stop: KeyboardInterrupt) -> str:
    """How a command's one line says ``stop`` ended it: "interrupted" (Ctrl-C), "stopped by SIGTERM"."""
    return "stopped by SIGTERM" if isinstance(stop, Terminated) else "interrupted"


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``timeout``, systemd, a script) stops a command as Ctrl-C does: inside the block it
    raises :class:`Terminated`, a KeyboardInterrupt. The daemon and the console put their own
    handler in place; the previous one is back afterwards. Outside the main thread, which alone
    takes signals, the block runs as it is."""
    def stop(signum: int, frame: object) -> None:
        raise Terminated("SIGTERM")
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def stops_held(*, second_at_once: bool = True, raise_at_end: bool = True) -> Iterator[list[KeyboardInterrupt]]:
    """Ctrl-C and SIGTERM that come inside the block are held, so that what the block does is done
    whole: the stop their handler raises (KeyboardInterrupt, :class:`Terminated`) is caught, kept in
    the list yielded (the block may look at it to cut short what it starts), and the first one is
    raised once the block is over.

    ``second_at_once``: a second signal of a kind is not held but raised at once, as it would be
    without the block: a user who means it is not kept waiting (a command's purge, the files it
    writes). False holds every one, for a block that a stop midway leaves broken rather than short:
    a Dask cluster starting (interrupted in its own waits, its close fails), a batch's result stored
    and counted, a console that stops on the first of them and must not be raised out of its
    graceful shutdown. ``raise_at_end`` False leaves the stops held to the caller: the console's
    server takes them as its cue to stop, and a block inside :func:`stops_noted` has them noted
    there too, raised at that block's next check.

    Only signals a Python handler raises are held (one ignored, ``cmd &`` in a script, stays
    ignored), and only in the main thread: elsewhere the block runs as it is."""
    with _stops_caught(raise_them=False, second_at_once=second_at_once) as held:
        yield held
    if held and raise_at_end:
        raise held[0]


@contextmanager
def stops_noted() -> Iterator[list[KeyboardInterrupt]]:
    """Ctrl-C and SIGTERM raised as their handlers raise them, and noted in the list yielded.

    Python cannot pass on an exception raised inside ``__del__`` or a weakref callback (a Dask
    future collected while a batch takes its results): it prints "Exception ignored in ..." and goes
    on, and the stop would be lost. Noted, it is raised by the caller at its next check; such a
    swallowed stop is not printed."""
    with _stops_caught(raise_them=True, second_at_once=False) as noted:
        previous_hook = sys.unraisablehook

        def quiet(unraisable: Any) -> None:
            if not any(unraisable.exc_value is stop for stop in noted):
                previous_hook(unraisable)
        sys.unraisablehook = quiet
        try:
            yield noted
        finally:
            sys.unraisablehook = previous_hook


@contextmanager
def stops_blocked(signals: Iterable[signal.Signals] = STOP_SIGNALS) -> Iterator[set[int | signal.Signals]]:
    """``signals`` (Ctrl-C and SIGTERM) blocked in this thread inside the block, which gets the
    mask before it; that mask is back after it.

    A signal that comes meanwhile is not lost: it waits, pending, and this thread takes it (its
    handler runs) as the block ends. What the block starts inherits the mask: a thread started in
    it (and those that thread starts) never takes them, and a process forked from such a thread
    starts with them blocked, across ``exec`` too (an ignored signal, by contrast, is dropped as
    it comes, and would be lost to this process as well)."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
        yield before
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


@contextmanager
def _stops_caught(raise_them: bool, second_at_once: bool) -> Iterator[list[KeyboardInterrupt]]:
    """Ctrl-C and SIGTERM, where Python handlers raise them, collected in the list yielded as they
    are raised; with ``raise_them`` they are raised as well, else only collected; with
    ``second_at_once`` the first of a kind puts its handler back, so that a second is raised as it
    is. Main thread only (elsewhere the list stays empty)."""
    caught: list[KeyboardInterrupt] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    raising: dict[int, Callable[[int, Any], Any]] = {
        sig: handler for sig in STOP_SIGNALS if callable(handler := signal.getsignal(sig))}

    def catch(signum: int, frame: Any) -> None:
        if second_at_once:
            signal.signal(signum, raising[signum])
        try:
            raising[signum](signum, frame)
        except KeyboardInterrupt as stop:
            caught.append(stop)
            if raise_them:
                raise

    for sig in raising:
        signal.signal(sig, catch)
    try:
        yield caught
    finally:
        for sig, handler in raising.items():
            signal.signal(sig, handler)


__all__ = ["STOP_SIGNALS", "Terminated", "stopped_by", "sigterm_as_interrupt", "stops_blocked", "stops_held",
           "stops_noted"]
