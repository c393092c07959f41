"""Tokens: a token file read (the console's shared token, the daemon's webhook token: one reader,
so that one file gives both the same token or the same refusal), and the supervisor console's
per-agent tokens (``supervisor.agent_tokens``): the form the configuration takes, checked when it
is loaded, so that ``config``, ``run`` and the console refuse a malformed entry alike, in the same
words."""

from __future__ import annotations

import os

from ..files import cannot_read, is_pipe, line_ends, read_waiting
from .urls import copied_hidden, hidden, hidden_in

MIN_TOKEN_CHARS = 16
"""The shortest token the console takes (the shared one in its file, an agent's own)."""
TOKEN_READ_BYTES = 65536
"""The most of a token file read while its token's line has not ended: a file of no line end (a
device, a recording named by mistake) is judged by that much, not read for ever."""
_BOM = b"\xef\xbb\xbf"


class TokenFileError(ValueError):
    """A token file that cannot be read (or made), or that holds no token an HTTP header can carry;
    the message names the file, in one line."""


def read_token_file(path: str | os.PathLike[str], *, min_chars: int = 1) -> str:
    """The token in the file ``path`` (``~`` expanded): its first line holding more than whitespace,
    stripped, after a byte order mark (Notepad writes one, and CRLF). A pipe (``<(pass show ...)``)
    is read up to that line's end, a wait Ctrl-C ends (:func:`~monitor.files.read_waiting`); the rest
    of any file is no part of the token. Raises TokenFileError naming ``path`` as given: no such
    file (or a link to none), a folder, one it cannot read or that is no UTF-8 text, no token of
    ``min_chars`` characters, one no HTTP header can carry (:func:`token_problem`).

    ``min_chars`` is the one rule that differs between token files: the console's shared token
    guards its page and every agent's alerts, so it takes one of :data:`MIN_TOKEN_CHARS` at least; a
    webhook's token is its receiver's to choose (any receiver, not only the console), so the
    daemon's takes any that is not empty (1)."""
    token = _token_line(path).strip()
    if not token:
        raise TokenFileError(f"{path}: the token file is empty"
                             + (f"; it must hold a token of at least {min_chars} characters" if min_chars > 1 else ""))
    if len(token) < min_chars:
        raise TokenFileError(f"{path}: the token file must hold a token of at least {min_chars} characters")
    if problem := token_problem(token):
        raise TokenFileError(f"{path}: {problem}")
    return token


def _token_line(path: str | os.PathLike[str]) -> str:
    """The first line of ``path`` that holds more than whitespace (a byte order mark left out), as
    text; "" for none. Raises TokenFileError naming the file."""
    full = os.path.expanduser(path)
    try:
        data = read_waiting(full, until=_token_line_read)
    except FileNotFoundError:
        there = f" (a link to {os.readlink(full)}, which is not there)" if os.path.islink(full) else ""
        raise TokenFileError(f"{path}: no such token file{there}") from None
    except IsADirectoryError:
        raise TokenFileError(f"{path}: a folder, not a token file") from None
    except OSError as err:
        raise TokenFileError(f"{path}: cannot read the token file ({cannot_read(err, full)})") from None
    text = data.removeprefix(_BOM).lstrip()
    if len(data) >= TOKEN_READ_BYTES and not line_ends(text):
        raise TokenFileError(f"{path}: no line end in its first {TOKEN_READ_BYTES // 1024} KiB: no token file "
                             "(write the token alone, on one line)")
    line = text.splitlines()[0] if text else b""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TokenFileError(f"{path}: the token is no UTF-8 text (byte 0x{line[err.start]:02X}, at byte "
                             f"{err.start + 1} of its line): write the token alone, as ASCII text") from None


def _token_line_read(data: bytes) -> bool:
    """Whether ``data``, the start of a token file, holds the token's line whole (a line end after
    more than whitespace) or as much as is read of one (:data:`TOKEN_READ_BYTES`)."""
    return len(data) >= TOKEN_READ_BYTES or line_ends(data.removeprefix(_BOM).lstrip())


def kept_pipe_token(path: str, started_path: str | None, started_token: str | None) -> str | None:
    """At a reload, the token file ``path`` is read again (a rotated token), but not a pipe, whose
    second read would hold the reload until something writes to it again: the pipe the start read
    (``started_path``) keeps the token read then (``started_token``), returned; None for a file, to
    read again. Raises TokenFileError for another pipe."""
    if not is_pipe(path):
        return None
    if path == started_path:
        return started_token
    raise TokenFileError(f"{path}: a pipe: a reload reads a token from a file only (the start reads one from a pipe)")


def token_problem(token: str) -> str | None:
    """Why ``token``, read from a token file, cannot be sent as ``Authorization: Bearer TOKEN``: a
    character no HTTP header carries (a control character, or one beyond Latin-1, which HTTP's
    headers are sent in: a curly quote a word processor made of a pasted one), in one phrase; None
    when it can. A byte order mark before the file's text is no part of it (Notepad writes one):
    read it as ``utf-8-sig``."""
    bad = next(((i, c) for i, c in enumerate(token) if not (" " <= c <= "~" or "\xa0" <= c <= "\xff")), None)
    if bad is None:
        return None
    return (f"the token holds U+{ord(bad[1]):04X} (character {bad[0] + 1}), which an HTTP header cannot carry: "
            "write the token alone, as ASCII text")


def agent_tokens_problem(entries: tuple[str, ...]) -> str | None:
    """Why ``entries`` (``"NAME:TOKEN"`` each) cannot be the agents' tokens, in one phrase naming
    the entry's agent (a malformed entry, one token given to two agents); None when they can."""
    try:
        parse_agent_tokens(entries)
    except ValueError as err:
        return str(err).removeprefix("supervisor.agent_tokens: ")
    return None


def hidden_agent_tokens(entries: tuple[str, ...]) -> tuple[str, ...]:
    """The entries as ``call-monitor config`` prints them: each agent's name, its token hidden and
    its characters counted (``alice:***(22 characters)``: :func:`~monitor.config.urls.hidden`)."""
    return tuple(f"{name}:{hidden(token, counted=True)}" if sep else hidden(name, counted=True)
                 for name, sep, token in (entry.partition(":") for entry in entries))


def _entry_named(name: str, sep: str) -> str:
    """An entry of ``supervisor.agent_tokens`` as its error line names it: by the agent's name, or,
    with no ``:`` in it, as a secret (:func:`~monitor.config.urls.hidden`) when it is long enough to be
    a token given without its name; '?' for none."""
    name = name.strip()
    return hidden(name, counted=True) if not sep and len(name) >= MIN_TOKEN_CHARS else name or "?"


def parse_agent_tokens(entries: tuple[str, ...]) -> dict[str, str]:
    """``("alice:TOKEN", ...)`` -> {TOKEN: "alice"}; raises ValueError for a malformed entry, or one
    whose token is hidden as ``call-monitor config`` prints it (saved back, it would be a token of
    its own that no daemon sends)."""
    out: dict[str, str] = {}
    for entry in entries:
        name, sep, token = entry.partition(":")
        if sep and hidden_in(token):
            raise ValueError(f"supervisor.agent_tokens: {name.strip() or '?'}: {copied_hidden(token)}")
        if not sep or not name.strip() or len(token.strip()) < MIN_TOKEN_CHARS:
            raise ValueError(f"supervisor.agent_tokens: {_entry_named(name, sep)}: expected \"NAME:TOKEN\" with a "
                             f"token of at least {MIN_TOKEN_CHARS} characters")
        other = out.setdefault(token.strip(), name.strip())
        if other != name.strip():  # one token, two agents: it would post only as the last one named
            raise ValueError(f"supervisor.agent_tokens: {other} and {name.strip()} have the same token; "
                             f"each agent needs its own")
    return out
