"""JSON text another program sent (a daemon's socket, a receiver's or the console's answer, a
client's post) read into a value, its nesting too deep for Python's parser an error like any other."""

from __future__ import annotations

import json
from typing import Any


class TooDeep(ValueError):
    """JSON text nested deeper than Python's parser descends (its recursion limit, some 1000 levels):
    no request nor answer of the package's is nested more than a few levels."""


def json_value(text: str | bytes, **options: Any) -> Any:
    """The JSON value ``text`` holds (``options``: :func:`json.loads`'s). Raises ValueError (its
    message one phrase) for text that is no JSON (or, bytes, no UTF-8), and :class:`TooDeep` for
    arrays or objects nested too deeply to be read (``[`` a few thousand times over), which the
    parser would otherwise raise as a RecursionError: one that escaped would end the thread that
    read it (a daemon's heartbeat) with a traceback."""
    try:
        return json.loads(text, **options)
    except RecursionError:
        raise TooDeep("nested too deeply") from None
