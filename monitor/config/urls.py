"""Webhook URLs: which the configuration takes, and how one, or any other secret, is shown to a person.

A URL may carry a secret in its query (``/webhook?token=...``) or in its path (a Slack- or
Teams-style ``/services/T000/B000/XXXXXXXX``): every place the product shows a URL (log lines,
warnings, ``status``, listings, the configuration's own errors) shows :func:`redact_url`'s form;
posts and the outbox keep the URL as given. ``call-monitor config`` shows it so too, and the
console's agent tokens as :func:`hidden` says, each counting the characters it hides (a
configuration printed so and saved back is refused: :func:`hidden_in`). A URL may also be read
from a file (:func:`read_url_file`), which keeps it off a command line that ``ps`` shows every user.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

from ..files import read_waiting
from .schema import ConfigError

HIDDEN = "***"
"""What :func:`redact_url` shows in place of a secret."""
_COUNTED = re.compile(re.escape(HIDDEN) + r"\(\d+ characters?\)")


def hidden(secret: str, counted: bool = False) -> str:
    """``secret`` as shown to a person: :data:`HIDDEN`, and ``counted``, with how many characters
    it hides (``***(22 characters)``: enough to tell a token from an empty or cut one)."""
    if not counted:
        return HIDDEN
    return f"{HIDDEN}({len(secret)} character{'' if len(secret) == 1 else 's'})"


def hidden_in(value: str) -> str | None:
    """The first secret in ``value`` hidden as :func:`hidden` counts it (a value copied from
    ``call-monitor config``'s output, which posts nowhere and matches no token), or None."""
    found = _COUNTED.search(value)
    return found.group(0) if found else None


def copied_hidden(value: str) -> str:
    """Why a value holding :func:`hidden_in`'s secret cannot be taken, in one phrase."""
    return (f"holds a secret as call-monitor config hides it ({hidden_in(value)}), not the secret; put the "
            f"secret itself, or save call-monitor config --show-secrets")
_NOT_HTTP = "must be an http:// or https:// URL with a host"


def url_problem(value: str, *, or_empty: bool = True) -> str | None:
    """Why ``value`` cannot be a webhook URL (one phrase, saying that "" would do where
    ``or_empty``, as it does in the configuration), or None: an http(s) URL naming a host
    (and a valid port, if any), without spaces or control characters (the request could not be
    made) and without credentials before the host (they are not sent: a receiver's token goes in
    ``webhook_token_file``)."""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        url = None
    if hidden_in(value):
        return copied_hidden(value)
    if url is None or url.scheme not in ("http", "https") or not url.hostname:
        return _NOT_HTTP + (' (or "")' if or_empty else "")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "must not contain spaces or control characters (percent-encode them)"
    if "@" in url.netloc:
        return ("must not hold credentials before the host (they are not sent; give the receiver's token "
                "in webhook_token_file, sent as a bearer token)")
    return None


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_problem(value: str) -> str | None:
    """Why ``value`` cannot be a web origin (the console's public address: scheme, host and port
    alone), in one phrase, or None."""
    if "@" in value.split("//", 1)[-1].split("/", 1)[0]:  # before url_problem, whose words are a webhook's
        return "must not hold credentials: an origin is the scheme, host and port alone (https://console.example)"
    if problem := url_problem(value):
        return problem
    url = urlsplit(value)
    if url.path not in ("", "/") or url.query or url.fragment or value.endswith(("?", "#")):
        return "must be an origin alone: the scheme, host and port a browser opens, no path (https://console.example)"
    return None


def origin_of(value: str) -> str:
    """The origin of ``value``, a URL :func:`origin_problem` takes, as a browser sends it in
    ``Origin``: scheme and host in lower case, the port left out where it is the scheme's own
    (``HTTPS://Console.Example:443/`` is ``https://console.example``)."""
    url = urlsplit(value)
    scheme, host, port = url.scheme.lower(), url.hostname or "", url.port
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != DEFAULT_PORTS[scheme] else "")


def redact_url(url: str, counted: bool = False) -> str:
    """``url`` as it may be shown to a person (a log line, ``status``, a warning, an error): the
    userinfo before the host, the path after its first segment and the value of each query parameter
    read :data:`HIDDEN` (``https://***@host``, ``/services/***``, ``/webhook?token=***&agent=***``),
    ``counted`` with how many characters each hides (:func:`hidden`); the scheme, host, port, the
    path's first segment, each parameter's name and the fragment stay, enough to tell one receiver
    from another (a URL mistyped without its host, ``https:/hooks.example/services/T000/XXXX``, alike:
    ``https:/hooks.example/***``). A parameter without ``=`` is all value (``?abc123`` reads ``?***``). A URL with
    none of these is returned as it is; one that does not parse (an unclosed IPv6 bracket) is hidden
    whole, none of it being told apart from a secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return hidden(url, counted)
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = f"{hidden(userinfo, counted)}@{host}" if at else parts.netloc
    path = _hidden_path(parts.path, counted)
    query = "&".join(_hidden_value(param, counted) for param in parts.query.split("&")) if parts.query else ""
    if (netloc, path, query) == (parts.netloc, parts.path, parts.query):
        return url
    if not parts.netloc:  # as typed, up to its path: urlunsplit would make the slashes before it other ones
        after_scheme = len(parts.scheme) + 1 if parts.scheme else 0
        typed = url[:url.find(parts.path, after_scheme)] if parts.path else url[:after_scheme]
        return typed + path + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    return urlunsplit(parts._replace(netloc=netloc, path=path, query=query))


def _hidden_path(path: str, counted: bool) -> str:
    """``path`` with all after its first segment hidden (``/services/T000/B000/XXXX`` reads
    ``/services/***``); a path of one segment, with or without a slash after it, as it is."""
    cut = path.find("/", 1) + 1
    rest = path[cut:] if cut else ""
    return f"{path[:cut]}{hidden(rest, counted)}" if rest else path


def _hidden_value(param: str, counted: bool) -> str:
    """One ``name=value`` of a query with its value hidden (a part without ``=``, all of it)."""
    name, eq, value = param.partition("=")
    return f"{name}={hidden(value, counted)}" if eq else (hidden(param, counted) if param else "")


def read_url_file(path: str) -> str:
    """The webhook URL held in the file ``path`` (its text, stripped, after a byte order mark: Notepad
    writes one), checked as the configuration checks one; raises ConfigError naming the file, the URL
    in its error redacted."""
    try:
        url = read_waiting(os.path.expanduser(path)).decode("utf-8-sig").strip()  # a pipe: a wait Ctrl-C ends
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such webhook URL file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a webhook URL file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the webhook URL ({getattr(err, 'strerror', None) or err})") from None
    if not url:
        raise ConfigError(f"{path}: the webhook URL file is empty")
    if problem := url_problem(url, or_empty=False):
        raise ConfigError(f"{path}: the webhook URL in it {problem}, got {redact_url(url)!r}")
    return url
