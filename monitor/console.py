"""One-line messages on stderr, the same shape for every command, and the package's logging in
that shape (``call-monitor: warning: ...``)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import unicodedata
from types import MappingProxyType
from typing import IO, Callable, Iterator, Mapping

from .files import name_text

PROG = "call-monitor"
LEVELS = ("debug", "info", "warning", "error")


CONTROLS = frozenset((*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)))
"""The characters (code points) that act on a terminal rather than show: the control characters, C0,
DEL and C1 (``\\x9b``, an 8-bit CSI, moves a terminal's cursor as ``ESC [`` does), and the
bidirectional embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069), which show the
text after them in another order than it is. What :func:`one_line` escapes, and a note may not hold."""

_ESCAPED: Mapping[int, str] = MappingProxyType(
    {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in CONTROLS if c != 0x09} | {0x0A: "\\n", 0x0D: "\\r"})
"""How :func:`one_line` writes each of :data:`CONTROLS`, as Python does in a string (a tab is kept)."""


def one_line(message: str) -> str:
    """``message`` on one line: a line break inside it (a file's name may hold one) written as
    ``\\n`` or ``\\r``, as Python writes it in a string, so that a line still says one thing whole;
    so is every other control character (``\\x1b``, ``\\x9b``) and each bidirectional override
    (``\\u202e``): a name or kind another program sent (an agent's post at the console, a receiver's
    refusal at the daemon) moves no cursor, sets no title and turns no text around in the terminal
    that shows the line. A name's bytes that are not UTF-8 (a Latin-1 ``d\\xff``, which
    Python holds as surrogates) are written ``\\xff``, as :func:`~monitor.files.name_text` shows them."""
    return name_text(message.translate(_ESCAPED))


class OutputFailed(OSError):
    """Standard output could not be written (a full disk, an I/O error), a reader gone away
    (BrokenPipeError) aside."""


class GuardedOutput:
    """A text stream (standard output) whose failures to write are :class:`OutputFailed`, so that a
    command's printing is told from its other files' errors; everything else is the stream's own."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        with self._guarded():
            return self.stream.write(text)

    def flush(self) -> None:
        with self._guarded():
            self.stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)

    @staticmethod
    @contextlib.contextmanager
    def _guarded() -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as err:
            raise OutputFailed(err.errno, err.strerror) from None


def output_name() -> str:
    """Standard output as a line names it: the file it was sent to, else ``standard output``."""
    try:
        target = os.readlink("/proc/self/fd/1")
    except OSError:
        return "standard output"
    return target if target.startswith("/") else "standard output"


def error(message: str) -> None:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr, flush=True)


def warning(message: str) -> None:
    print(f"{PROG}: warning: {one_line(message)}", file=sys.stderr, flush=True)


def info(message: str) -> None:
    print(f"{PROG}: {one_line(message)}", file=sys.stderr, flush=True)


def padded(text: str, columns: int) -> str:
    """``text`` followed by spaces to fill ``columns`` terminal columns, a wide character (Hangul,
    CJK) taking two, so that a column of names (``상담_01.wav``) lines up."""
    return text + " " * max(0, columns - width(text))


def width(text: str) -> int:
    """The terminal columns ``text`` takes: two for a wide or full-width character, else one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def call_name(call_id: int | None) -> str:
    """A live call as messages name it: its database id, or "(not stored yet)" while a failing
    database holds its row back."""
    return "(not stored yet)" if call_id is None else str(call_id)


def severity_word(severity: str) -> str:
    """An alert's severity as its lines start with it, the terminal's, ``alerts``' and ``status``'s
    alike (``CRITICAL``, ``warning``, padded alike): a screen reader says it before the time."""
    return "CRITICAL" if severity == "critical" else f"{severity:8s}"


def first_line(err: BaseException) -> str:
    """An exception's first line, or its type's name when it says nothing: what one line says of it."""
    said = str(err).strip()
    return said.splitlines()[0] if said else type(err).__name__


TRANSCRIPTION_OFF = "transcription"
"""The source (:func:`problem_of`) of the daemon's start's speech model problem, its transcription off:
the model is loaded at start only, so no reload resolves it (a restart that loads one does); the
status shows it whatever the daemon's last problem is since."""


def problem_of(source: str) -> dict[str, str]:
    """The ``extra`` of a warning or error about ``source`` (``"webhook"``, ``"heartbeat"``) that a
    later line of the same source may say is over (:func:`recovery_of`)."""
    return {"problem_of": source}


def recovery_of(source: str) -> dict[str, str]:
    """The ``extra`` of a line saying that ``source``'s problem (:func:`problem_of`) is over: the
    daemon's status then shows that problem as resolved, not as current."""
    return {"recovers": source}


def said_recovery_of(source: str) -> dict[str, object]:
    """The ``extra`` of a :func:`recovery_of` line that stderr shows at every verbosity, as a plain
    ``call-monitor: ...`` line (``run`` without ``-v``, as systemd's unit runs it, otherwise shows
    only warnings): good news about a problem a warning said there, so that the journal that
    shows the problem shows it gone too."""
    return recovery_of(source) | {"said": True}


def _shown_from(level: int) -> Callable[[logging.LogRecord], bool]:
    """A handler's filter passing the records from ``level`` on and the ones said at every
    verbosity (:func:`said_recovery_of`)."""
    return lambda record: record.levelno >= level or getattr(record, "said", False)


class OneLineFormatter(logging.Formatter):
    """``call-monitor: MESSAGE`` below warnings, ``call-monitor: LEVEL: MESSAGE`` from them on."""

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"{PROG}: {level}{one_line(record.getMessage())}"


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record comes (tests swap it)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def configure_logging(level: str = "warning", name: str = "monitor") -> None:
    """Log records of logger ``name`` (and below) from ``level`` on, one line each on stderr."""
    handler = _Stderr()
    handler.setFormatter(OneLineFormatter())
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


@contextlib.contextmanager
def keeping_records(keeper: logging.Handler, name: str = "monitor") -> Iterator[None]:
    """``keeper`` added to logger ``name`` meanwhile, given every record from its own level on
    (``logging.INFO``: the info lines that say a problem is over) whatever the verbosity: the
    logger lets them through, and its other handlers (stderr) keep to the level it showed before,
    but for the lines said at every verbosity (:func:`said_recovery_of`)."""
    logger = logging.getLogger(name)
    level, shown = logger.level, logger.getEffectiveLevel()
    others = list(logger.handlers)
    shown_only = _shown_from(shown)
    for handler in others:
        handler.addFilter(shown_only)
    logger.setLevel(min(shown, keeper.level))
    logger.addHandler(keeper)
    try:
        yield
    finally:
        logger.removeHandler(keeper)
        logger.setLevel(level)
        for handler in others:
            handler.removeFilter(shown_only)
