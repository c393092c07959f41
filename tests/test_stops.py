"""Ctrl-C and SIGTERM stop a command alike: SIGTERM raises Terminated, a block holds a stop until it
is over, and a stop Python cannot raise (inside a finalizer) is noted rather than lost."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

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
    with sigterm_as_interrupt(), pytest.raises(Terminated) as stop:
        sigterm()
    assert isinstance(stop.value, KeyboardInterrupt) and stopped_by(stop.value) == "stopped by SIGTERM"
    assert stopped_by(KeyboardInterrupt()) == "interrupted"


def test_a_sigterm_inside_a_held_block_stops_the_command_once_the_block_is_over():
    done = []
    with sigterm_as_interrupt():
        handler = signal.getsignal(signal.SIGTERM)
        with pytest.raises(Terminated):
            with stops_held():
                sigterm()
                done.append("the rest of the block")
        assert signal.getsignal(signal.SIGTERM) is handler
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
    went_on = []
    with sigterm_as_interrupt(), pytest.raises(Terminated):
        with stops_held(second_at_once=False) as held:
            sigterm()
            sigterm()
            went_on.append("after the second")
    assert went_on == ["after the second"] and len(held) == 2


def test_stops_held_and_not_raised_are_left_to_the_caller():
    """The console takes the stops that came as it started as its cue to stop serving, and ends with exit 0."""
    with sigterm_as_interrupt(), stops_held(second_at_once=False, raise_at_end=False) as held:
        sigterm()
    assert [type(stop) for stop in held] == [Terminated]


def test_a_stop_while_stops_are_blocked_is_taken_as_the_block_ends_and_never_by_the_threads_it_started(ctrl_c):
    """A batch makes its Dask cluster with Ctrl-C blocked: the cluster's threads (and the workers
    they fork) never take it, and one that comes meanwhile is not lost, as an ignored one is, but
    taken once the block is over."""
    went_on, masks = [], []
    with pytest.raises(KeyboardInterrupt):
        with stops_blocked((signal.SIGINT,)):
            thread = threading.Thread(target=lambda: masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, ())))
            thread.start()
            thread.join()
            # to this thread: one sent to the process may go to a thread of the test runner's, not blocked
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
            went_on.append("the rest of the block")
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
        with stops_held() as held, stops_noted() as noted:
            seen["handler"], seen["held"], seen["noted"] = signal.getsignal(signal.SIGINT), held, noted
    thread = threading.Thread(target=block)
    thread.start()
    thread.join()
    assert seen == {"handler": signal.default_int_handler, "held": [], "noted": []}


def test_a_stop_inside_a_noting_block_is_raised_and_noted():
    with sigterm_as_interrupt(), pytest.raises(Terminated) as stop:
        with stops_noted() as noted:
            sigterm()
    assert noted == [stop.value]


def test_a_stop_held_inside_a_noting_block_is_noted_there_for_its_next_check():
    """A batch's call sent, or its result stored, whole: the stop is raised at the batch's next check."""
    went_on = []
    with sigterm_as_interrupt(), stops_noted() as noted:
        with stops_held(second_at_once=False, raise_at_end=False):
            sigterm()
            went_on.append("the rest of the block")
        went_on.append("after the block")
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

    with sigterm_as_interrupt(), stops_noted() as noted:
        Collected()
        went_on = True
    assert went_on and len(noted) == 1 and isinstance(noted[0], Terminated)
    assert capfd.readouterr().err == ""
