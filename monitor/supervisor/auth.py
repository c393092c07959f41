"""Tokens and sessions of the supervisor's console.

The shared token (``supervisor.token_file``, made on first start) lets a supervisor open the page
and lets any daemon post; a per-agent token (``supervisor.agent_tokens``, ``NAME:TOKEN``) lets one
daemon post as agent NAME only. Every presented token is compared with every known one by
:func:`hmac.compare_digest`, with no early exit, so the time taken says nothing about which one
matched or how much of it. A browser holds a session cookie instead of the token: an expiry and a
nonce signed with a key derived from the shared token (so changing the token ends every session).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from ..config.tokens import MIN_TOKEN_CHARS, TokenFileError, read_token_file
from ..files import folder_not_entered, make_private_folder

SESSION_COOKIE = "cm_session"
SESSION_S = 12 * 3600.0


@dataclass(frozen=True)
class Principal:
    """Who a valid token belongs to: the supervisor (shared token) or one agent."""

    name: str
    supervisor: bool


def load_or_create_token(path: str | os.PathLike[str], create: bool = True) -> tuple[str, bool]:
    """The token in ``path``, made (:func:`write_token`) when the file does not exist and ``create``
    (else that is a TokenFileError); returns (token, created)."""
    token, new = token_or_new(path, create)
    return (write_token(path, token), True) if new else (token, False)


def token_or_new(path: str | os.PathLike[str], create: bool = True) -> tuple[str, bool]:
    """(the token in ``path``, False: :func:`~monitor.config.tokens.read_token_file`, of at least
    :data:`~monitor.config.tokens.MIN_TOKEN_CHARS` characters), or where no file is there (not even
    a link to none: a file in a folder this user may not look in may be there, and is read, as one
    it may not read) and ``create``, (a new token, True), its file checked as one that can be made
    (:func:`token_file_problem`) but not written: that is :func:`write_token`'s, once nothing else
    refuses the start. Raises TokenFileError."""
    if not create or os.path.lexists(os.path.expanduser(path)) or folder_not_entered(path):
        return read_token_file(path, min_chars=MIN_TOKEN_CHARS), False
    if problem := token_file_problem(path):
        raise TokenFileError(problem)
    return new_token(), True


def new_token() -> str:
    """A new shared token: random, 256 bits."""
    return secrets.token_urlsafe(32)


def token_file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the token file ``path``, not there yet, cannot be made (the nearest existing of its folders
    is no folder, or one this user may not write in), or None: asked before a start writes anything,
    so that a start refused leaves nothing made behind."""
    p = Path(path).expanduser()
    folder = p.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{p}: cannot create the token file ({folder} is not a folder)"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{p}: cannot create the token file (Permission denied in {folder})"
    return None


def write_token(path: str | os.PathLike[str], token: str) -> str:
    """``token`` written to the new file ``path`` (mode 0600, its folders made 0700); returns it, or the
    token of a file another start made meanwhile. Raises TokenFileError when it cannot be made."""
    p = Path(path).expanduser()
    try:
        make_private_folder(p.parent)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token_file(p, min_chars=MIN_TOKEN_CHARS)
    except OSError as err:
        raise TokenFileError(f"{p}: cannot create the token file ({err.strerror or err})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token


_KNOWN_SCHEMES: Mapping[str, str] = MappingProxyType({name.lower(): name for name in (
    "Basic", "Digest", "Negotiate", "NTLM", "HOBA", "Mutual", "SCRAM-SHA-1", "SCRAM-SHA-256", "vapid", "DPoP",
    "PrivateToken", "Concealed", "AWS4-HMAC-SHA256", "OAuth", "Token")})
"""The authentication schemes a refusal names, as spelled here: IANA's registry, and the
``Token`` and ``OAuth`` some clients send."""


def split_authorization(authorization: str | None) -> tuple[str, str]:
    """(scheme, credentials) of an ``Authorization`` header value, each stripped; ("", "") for none."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    return scheme, value.strip()


def scheme_named(scheme: str) -> str:
    """``scheme`` as a refusal may name it: its name when it is a known scheme (spelled as here),
    else a phrase. Nothing a client sent is echoed: a word that is no known scheme may be a token
    sent without ``Bearer`` before it, and the refusal is logged."""
    return _KNOWN_SCHEMES.get(scheme.lower(), "an unknown scheme")


class Auth:
    def __init__(self, token: str, agent_tokens: Mapping[str, str] | None = None) -> None:
        self._tokens: list[tuple[bytes, Principal]] = [(token.encode(), Principal("supervisor", True))]
        self._tokens += [(t.encode(), Principal(name, False)) for t, name in (agent_tokens or {}).items()]
        self._key = hmac.new(token.encode(), b"callmonitor console session", hashlib.sha256).digest()

    def check(self, presented: str | None) -> Principal | None:
        """The principal of ``presented`` or None; every known token is compared."""
        if not presented:
            return None
        given = presented.encode()
        found = None
        for token, principal in self._tokens:
            if hmac.compare_digest(given, token) and found is None:
                found = principal
        return found

    def bearer(self, authorization: str | None) -> Principal | None:
        """The principal of an ``Authorization: Bearer TOKEN`` header value."""
        scheme, value = split_authorization(authorization)
        return self.check(value) if scheme.lower() == "bearer" else None

    def new_session(self, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + SESSION_S)
        body = f"{expires}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._sign(body)}"

    def check_session(self, cookie: str | None, now: float | None = None) -> bool:
        body, _, sig = (cookie or "").rpartition(".")
        if not body or not hmac.compare_digest(sig.encode(), self._sign(body).encode()):
            return False
        try:
            expires = int(body.split(".", 1)[0])
        except ValueError:
            return False
        return (time.time() if now is None else now) < expires

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
