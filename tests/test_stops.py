"""Ctrl-C and SIGTERM stop a command alike: SIGTERM raises Terminated, a block holds a stop until it
is over, and a stop Python cannot raise (inside a finalizer) is noted rather than lost."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from stop_points import signalled_after, signalled_as_called
from monitor.stops import Terminated, sigterm_as_interrupt, stopped_by, stops_blocked, stops_held, stops_noted


@pytest.fixture
def ctrl_c():
    """Python's own Ctrl-C handler in force (KeyboardInterrupt), whatever the suite was started with."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_raises_terminated_a_keyboard_interrupt_said_as_such():
    with pytest.raises(Terminated) as stop:
        sigterm_as_interrupt(sigterm)
    assert isinstance(stop.value, KeyboardInterrupt) and stopped_by(stop.value) == "stopped by SIGTERM"
    assert stopped_by(KeyboardInterrupt()) == "interrupted"


def test_a_sigterm_inside_a_held_block_stops_the_command_once_the_block_is_over():
    done = []

    def command() -> None:
        handler = signal.getsignal(signal.SIGTERM)
        with pytest.raises(Terminated):
            with stops_held():
                sigterm()
                done.append("the rest of the block")
        assert signal.getsignal(signal.SIGTERM) is handler
    sigterm_as_interrupt(command)
    assert done == ["the rest of the block"]


def test_a_second_stop_while_a_command_holds_one_stops_it_at_once(ctrl_c):
    """What a command does whole (a purge, the files install-service writes) holds a Ctrl-C until it
    is done; a second Ctrl-C is not held: a user who means it is not kept waiting."""
    went_on = []
    with pytest.raises(KeyboardInterrupt):
        with stops_held():
            os.kill(os.getpid(), signal.SIGINT)
            went_on.append("after the first")
            os.kill(os.getpid(), signal.SIGINT)
            went_on.append("after the second")
    assert went_on == ["after the first"]


def test_a_block_that_a_stop_midway_breaks_can_hold_every_stop_and_raise_the_first():
    """A Dask cluster starting, interrupted in its own waits, cannot be closed: its start holds them all."""
    went_on, held = [], []

    def command() -> None:
        with stops_held(second_at_once=False) as stops:
            held.append(stops)
            sigterm()
            sigterm()
            went_on.append("after the second")
    with pytest.raises(Terminated):
        sigterm_as_interrupt(command)
    assert went_on == ["after the second"] and len(held[0]) == 2


def test_stops_held_and_not_raised_are_left_to_the_caller():
    """The console takes the stops that came as it started as its cue to stop serving, and ends with exit 0."""
    def command() -> list[KeyboardInterrupt]:
        with stops_held(second_at_once=False, raise_at_end=False) as held:
            sigterm()
        return held
    assert [type(stop) for stop in sigterm_as_interrupt(command)] == [Terminated]


def test_a_stop_while_stops_are_blocked_is_taken_as_the_block_ends_and_never_by_the_threads_it_started(ctrl_c):
    """A batch makes its Dask cluster with Ctrl-C blocked: the cluster's threads (and the workers
    they fork) never take it, and one that comes meanwhile is not lost, as an ignored one is, but
    taken once the block is over."""
    went_on, masks = [], []

    def block() -> None:
        thread = threading.Thread(target=lambda: masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, ())))
        thread.start()
        thread.join()
        # to this thread: one sent to the process may go to a thread of the test runner's, not blocked
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        went_on.append("the rest of the block")
    with pytest.raises(KeyboardInterrupt):
        stops_blocked(block, (signal.SIGINT,))
    assert went_on == ["the rest of the block"] and signal.SIGINT in masks[0]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, ())


def test_a_stop_a_command_was_started_to_ignore_stays_ignored_while_it_holds_stops():
    """A command started with Ctrl-C ignored (``cmd &`` in a script) is not stopped by one."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stops_held() as held:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        assert held == [] and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_a_block_holds_nothing_and_runs_as_it_is(ctrl_c):
    """Only the main thread takes signals, and only it may change their handlers."""
    seen = {}

    def block() -> None:
        noted: list[KeyboardInterrupt] = []
        with stops_held() as held:
            stops_noted(noted, lambda: seen.update(handler=signal.getsignal(signal.SIGINT), held=held, noted=noted))
    thread = threading.Thread(target=block)
    thread.start()
    thread.join()
    assert seen == {"handler": signal.default_int_handler, "held": [], "noted": []}


def test_a_stop_inside_a_noting_block_is_raised_and_noted():
    noted: list[KeyboardInterrupt] = []
    with pytest.raises(Terminated) as stop:
        sigterm_as_interrupt(lambda: stops_noted(noted, sigterm))
    assert noted == [stop.value]


def test_a_stop_held_inside_a_noting_block_is_noted_there_for_its_next_check():
    """A batch's call sent, or its result stored, whole: the stop is raised at the batch's next check."""
    went_on, noted = [], []

    def batch() -> None:
        with stops_held(second_at_once=False, raise_at_end=False):
            sigterm()
            went_on.append("the rest of the block")
        went_on.append("after the block")
    sigterm_as_interrupt(lambda: stops_noted(noted, batch))
    assert went_on == ["the rest of the block", "after the block"] and [type(s) for s in noted] == [Terminated]


def test_a_stop_raised_inside_a_collected_objects_finalizer_is_noted_not_printed(capfd):
    """Python cannot raise out of ``__del__`` (a Dask future collected while a batch takes its
    results): it prints "Exception ignored" and goes on, and the batch would score every call after
    a SIGTERM and exit 0. Noted as it is raised, the stop is raised at the batch's next check, and
    nothing of it is printed."""
    class Collected:
        def __del__(self) -> None:
            sigterm()
            time.sleep(2)  # the handler runs here, inside the finalizer

    def results_taken() -> bool:
        Collected()
        return True
    noted: list[KeyboardInterrupt] = []
    went_on = sigterm_as_interrupt(lambda: stops_noted(noted, results_taken))
    assert went_on and len(noted) == 1 and isinstance(noted[0], Terminated)
    assert capfd.readouterr().err == ""


@pytest.fixture
def sigterm_noted():
    """SIGTERM noted in the list given, not acted on, whatever the suite was started with: a stop
    that comes after a block is the handler's found before it, and must not end the test's process."""
    taken: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: taken.append(signum))
    yield taken
    signal.signal(signal.SIGTERM, previous)


def test_a_sigterm_as_the_first_function_begins_after_the_call_returns_leaves_its_result_and_the_handler_found(
        sigterm_noted):
    """Python runs a signal's handler as a Python function begins. Put back in a context manager's
    exit, SIGTERM's handler was still the raising one when a stop came as that exit began: the stop
    skipped the exit, left the handler in place, and was raised after the call had done its work.
    Put back in the function's own ``finally``, the next function to begin is the one that puts it
    back (``signal.signal``): the stop, the call over, is not raised, and the handler found is back."""
    def command() -> int:
        return 0
    found = signal.getsignal(signal.SIGTERM)
    with signalled_after(command, signal.SIGTERM):
        status = sigterm_as_interrupt(command)
    assert status == 0 and signal.getsignal(signal.SIGTERM) is found and sigterm_noted == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_stop_as_sigterms_handler_is_put_back_leaves_the_call_s_result_and_the_handler_it_found(
        sig, ctrl_c, sigterm_noted):
    """``signal.signal`` runs the handler of a signal pending before it changes one: a stop that came
    as SIGTERM's handler was put back, the command over, was raised there, and the raising handler
    stayed for the rest of the process (a second SIGTERM then a traceback). Such a stop is not
    raised: the command's result stands, its work done and said; the handler found is back."""
    found = signal.getsignal(signal.SIGTERM)
    with signalled_as_called(signal, "signal", sig, when=lambda signum, handler: handler is found):
        result = sigterm_as_interrupt(lambda: "done")
    assert result == "done" and signal.getsignal(signal.SIGTERM) is found and sigterm_noted == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_stop_as_a_noting_call_returns_is_noted_and_its_handlers_and_hook_are_put_back(sig, ctrl_c):
    """A batch takes its results inside :func:`stops_noted`. A stop that came as the block's exit
    began skipped it: Ctrl-C and SIGTERM kept the block's handlers, and the unraisable hook its
    filter, for good (the handler held the block's list, which held the stop, which held the block).
    The stop that comes once the call has returned is noted, not raised: the call's result stands."""
    def results_taken() -> str:
        return "taken"

    def batch() -> tuple:
        found = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), sys.unraisablehook
        noted: list[KeyboardInterrupt] = []
        with signalled_after(results_taken, sig):
            taken = stops_noted(noted, results_taken)
        return found, (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), sys.unraisablehook), \
            taken, noted
    found, after, taken, noted = sigterm_as_interrupt(batch)
    assert after == found and taken == "taken" and [type(s) for s in noted] == \
        [Terminated if sig == signal.SIGTERM else KeyboardInterrupt]


def test_a_second_ctrl_c_as_a_held_block_puts_its_handlers_back_is_raised_with_every_handler_back(ctrl_c):
    """A held block's first Ctrl-C is held, the second raised at once. One that came as the block put
    Ctrl-C's handler back, and SIGTERM's not yet, was raised as ``signal.signal`` began to put
    SIGTERM's back: SIGTERM kept the block's holding handler for good, which then took every SIGTERM
    into a list no one read, and the command could no longer be stopped by it."""
    def command() -> tuple:
        found = signal.getsignal(signal.SIGTERM)

        def putting_back(signum: int, handler: object) -> bool:
            return signum == signal.SIGTERM and handler is found
        with pytest.raises(KeyboardInterrupt), signalled_as_called(signal, "signal", signal.SIGINT, putting_back):
            with stops_held():
                os.kill(os.getpid(), signal.SIGINT)  # the first: held
        return found, signal.getsignal(signal.SIGTERM)
    found, after = sigterm_as_interrupt(command)
    assert after is found and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_stop_not_blocked_as_a_blocking_call_ends_is_raised_with_the_mask_put_back(ctrl_c):
    """A batch makes its cluster with Ctrl-C blocked and SIGTERM not (a nanny ends its worker with
    it). A SIGTERM raised as ``signal.pthread_sigmask`` (a Python function) began to put the mask
    back left Ctrl-C blocked in the main thread for good, and in every thread and process it then
    started. It is raised with the mask put back."""
    def command() -> None:
        with signalled_as_called(signal, "pthread_sigmask", signal.SIGTERM,
                                 when=lambda how, mask: how == signal.SIG_SETMASK):
            stops_blocked(lambda: "cluster", (signal.SIGINT,))
    with pytest.raises(Terminated):
        sigterm_as_interrupt(command)
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, ())
