"""Stops: Ctrl-C (SIGINT) and SIGTERM, which end a command alike. SIGTERM raised as :class:`Terminated`
(a KeyboardInterrupt) while a call runs, how a command's line says a stop, and blocks that hold a
stop until they are over (:func:`stops_held`) or note the ones Python cannot raise
(:func:`stops_noted`), and a call kept from them in the threads and processes it starts
(:func:`stops_blocked`).

What these put in place (a handler, the unraisable hook, the signal mask) is put back in a
``finally`` of the function that put it there, the call it runs inside the ``try``, and not in a
context manager's exit: Python runs a signal's handler as a Python function begins, a context
manager's ``__exit__`` among them, and a stop it raises there skipped the exit's ``finally`` (the
handler left in place until the collector came, or for good). Where the stop's handler is one of
these blocks' own, it raises nothing more once its block is being put back: a stop that comes then,
the call over, is not raised, and what the call returned or raised stands."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals that stop a command as Ctrl-C does."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt: a command stops on it as it does on
    Ctrl-C (what it did so far kept, said in one line), and exits ``ExitStatus.TERMINATED``."""


def signal_name(stop: KeyboardInterrupt) -> str:
    """The signal ``stop`` came by, by name: "SIGTERM" (:class:`Terminated`), else "SIGINT" (Ctrl-C):
    the ``ended_by`` of a call it stopped, as the live daemon's stop names it."""
    return "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"


def stopped_by(stop: KeyboardInterrupt) -> str:
    """How a command's one line says ``stop`` ended it: "interrupted" (Ctrl-C), "stopped by SIGTERM"."""
    return "stopped by SIGTERM" if isinstance(stop, Terminated) else "interrupted"


def sigterm_as_interrupt(call: Callable[[], T]) -> T:
    """``call()``, SIGTERM (``timeout``, systemd, a script) stopping it as Ctrl-C does: meanwhile it
    raises :class:`Terminated`, a KeyboardInterrupt. The daemon and the console put their own
    handler in place; the one found is back once ``call`` has ended, however it ended.

    A stop that comes once ``call`` has ended, as the handler is put back, is not raised: what
    ``call`` returned (a command's status) or raised stands, its work done and said, with nothing
    left to stop. Outside the main thread, which alone takes signals, ``call`` runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        return call()
    over = False

    def stop(signum: int, frame: object) -> None:
        if not over:
            raise Terminated("SIGTERM")
    found = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, stop)
        return call()
    finally:
        over = True  # first: no call before it, where Python could run a handler
        try:
            signal.signal(signal.SIGTERM, found)
        except KeyboardInterrupt:  # a Ctrl-C taken as signal.signal (a Python function) began, or by its check
            signal.signal(signal.SIGTERM, found)


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
    ignored), and only in the main thread: elsewhere the block runs as it is.

    A ``with`` block, unlike the others here: its handlers raise nothing as its exit begins, where
    a stop would skip the exit, but hold it; the second stop of a kind they raise puts every handler
    back first."""
    held: list[KeyboardInterrupt] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    catch = _Catch(held, raise_them=False, second_at_once=second_at_once)
    try:
        catch.put_in()
        yield held
    finally:
        catch.over = True
        catch.put_back()
    if held and raise_at_end:
        raise held[0]


def stops_noted(noted: list[KeyboardInterrupt], call: Callable[[], T]) -> T:
    """``call()``, Ctrl-C and SIGTERM raised meanwhile as their handlers raise them, and noted in
    ``noted``.

    Python cannot pass on an exception raised inside ``__del__`` or a weakref callback (a Dask
    future collected while a batch takes its results): it prints "Exception ignored in ..." and goes
    on, and the stop would be lost. Noted, it is raised by the caller at its next check; such a
    swallowed stop is not printed. A stop that comes once ``call`` has ended, as the handlers and
    the unraisable hook are put back, is noted but not raised where the block's own handler takes it:
    what ``call`` returned or raised stands (one that a handler already put back takes is raised by
    it, as after the block). Outside the main thread ``call`` runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        return call()
    catch = _Catch(noted, raise_them=True, second_at_once=False)
    previous_hook = sys.unraisablehook

    def quiet(unraisable: Any) -> None:
        if not any(unraisable.exc_value is stop for stop in noted):
            previous_hook(unraisable)
    try:
        sys.unraisablehook = quiet
        catch.put_in()
        return call()
    finally:
        catch.over = True  # first: no call before it, where Python could run a handler
        sys.unraisablehook = previous_hook
        catch.put_back()


def stops_blocked(call: Callable[[], T], signals: Iterable[signal.Signals] = STOP_SIGNALS) -> T:
    """``call()``, ``signals`` (Ctrl-C and SIGTERM) blocked in this thread meanwhile; the mask found
    is back after it.

    A signal that comes meanwhile is not lost: it waits, pending, and this thread takes it (its
    handler runs) as the mask is put back, ``call`` over: what ``call`` keeps must be kept by it
    (a stop raised then loses what it returns). What ``call`` starts inherits the mask: a thread
    started in it (and those that thread starts) never takes them, and a process forked from such a
    thread starts with them blocked, across ``exec`` too (an ignored signal, by contrast, is dropped
    as it comes, and would be lost to this process as well). A signal not blocked, or one another
    thread took and left to this one's handler, may stop ``call``; the mask is back all the same."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
        return call()
    finally:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)  # then takes what came meanwhile
        except KeyboardInterrupt:  # one not blocked, taken as pthread_sigmask (a Python function) began
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
            raise


class _Catch:
    """The handler Ctrl-C and SIGTERM have in a block, where Python handlers raise them: each stop
    the handler found (``raising``) raises is collected in ``caught``; with ``raise_them`` it is
    raised as well, else only collected; with ``second_at_once`` a second of a kind puts every
    handler back and is raised, as it would be without the block. Once ``over`` (the block's
    handlers being put back) a stop is still collected, but none is raised: it is the caller's."""

    def __init__(self, caught: list[KeyboardInterrupt], raise_them: bool, second_at_once: bool) -> None:
        self.caught, self.raise_them, self.second_at_once = caught, raise_them, second_at_once
        self.raising: dict[int, Callable[[int, Any], Any]] = {
            sig: handler for sig in STOP_SIGNALS if callable(handler := signal.getsignal(sig))}
        self.kinds: set[int] = set()
        self.over = self._back = False

    def __call__(self, signum: int, frame: Any) -> None:
        try:
            self.raising[signum](signum, frame)
        except KeyboardInterrupt as stop:
            if not self.over and self.second_at_once and signum in self.kinds:
                self.over = True
                self.put_back()
                raise
            self.kinds.add(signum)
            self.caught.append(stop)
            if self.raise_them and not self.over:
                raise

    def put_in(self) -> None:
        for sig in self.raising:
            signal.signal(sig, self)

    def put_back(self) -> None:
        """The handlers found back, once, ``over`` set first: a stop pending as they are put back
        (``signal.signal`` takes one first) comes to this handler, which only collects it, or to
        one already back, whose stop is raised once all are (it came after the block). Not again
        when a block's end left to the collector comes: that would put them over later blocks'."""
        if self._back:
            return
        self._back = True
        try:
            self._found_back()
        except KeyboardInterrupt:
            self._found_back()
            raise

    def _found_back(self) -> None:
        for sig, handler in self.raising.items():
            signal.signal(sig, handler)


__all__ = ["STOP_SIGNALS", "Terminated", "signal_name", "stopped_by", "sigterm_as_interrupt", "stops_blocked", "stops_held",
           "stops_noted"]
