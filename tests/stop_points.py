"""Stops that land at a chosen point, every time: a signal raised in this thread as a given function
is first called (:func:`signalled_as_called`) or as the first Python function begins after one returns
(:func:`signalled_after`). The tests use them in their own process, and conftest's ``stopped_at`` and
``stopped_after`` in a command's process (this module on its path)."""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import Callable, Iterator


@contextlib.contextmanager
def signalled_after(returned: Callable, sig: int) -> Iterator[None]:
    """Inside the block, ``sig`` sent to this thread as the first Python function begins after
    ``returned`` first returns: the handler runs there, as it may for one sent from outside (the
    in-process form of conftest's ``stopped_after``)."""
    seen = []

    def stop_next(frame, event, arg):
        if event == "return" and frame.f_code is returned.__code__:
            seen.append(True)
        elif event == "call" and seen:
            sys.setprofile(None)
            signal.raise_signal(sig)  # raised as the function entered begins, before its first line
    sys.setprofile(stop_next)
    try:
        yield
    finally:
        sys.setprofile(None)


@contextlib.contextmanager
def signalled_as_called(owner: object, name: str, sig: int, when: Callable[..., bool]) -> Iterator[None]:
    """Inside the block, ``sig`` sent to this thread as ``owner.name`` (looked up there when called:
    ``signal.signal``) is first called with arguments ``when`` is true of, before the call does
    anything: the handler runs there, as it does for a signal pending as such a function begins (the
    in-process form of conftest's ``stopped_at``)."""
    reached = getattr(owner, name)

    def stopped_there(*args, **kwargs):
        if when(*args, **kwargs):
            setattr(owner, name, reached)  # once: what the stop leads to may call it again
            signal.raise_signal(sig)  # its handler runs before this returns
        return reached(*args, **kwargs)
    setattr(owner, name, stopped_there)
    try:
        yield
    finally:
        setattr(owner, name, reached)

