"""The supervisor console's per-agent tokens (``supervisor.agent_tokens``): the form the
configuration takes, checked when it is loaded, so that ``config``, ``run`` and the console refuse
a malformed entry alike, in the same words."""

from __future__ import annotations

from .urls import copied_hidden, hidden, hidden_in

MIN_TOKEN_CHARS = 16
"""The shortest token the console takes (the shared one in its file, an agent's own)."""


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
            raise ValueError(f"supervisor.agent_tokens: {name.strip() or '?'}: expected \"NAME:TOKEN\" with a "
                             f"token of at least {MIN_TOKEN_CHARS} characters")
        other = out.setdefault(token.strip(), name.strip())
        if other != name.strip():  # one token, two agents: it would post only as the last one named
            raise ValueError(f"supervisor.agent_tokens: {other} and {name.strip()} have the same token; "
                             f"each agent needs its own")
    return out
