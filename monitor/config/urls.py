"""Webhook URLs: which the configuration takes, and how one is shown to a person.

A URL may carry a secret in its query (``/webhook?token=...``): every place the product shows a
URL (log lines, warnings, ``status``, listings, the configuration's own errors) shows
:func:`redact_url`'s form; posts and the outbox keep the URL as given.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"
"""What :func:`redact_url` shows in place of a secret."""
_NOT_HTTP = "must be an http:// or https:// URL with a host (or \"\")"


def url_problem(value: str) -> str | None:
    """Why ``value`` cannot be a webhook URL (one phrase), or None: an http(s) URL naming a host
    (and a valid port, if any), without spaces or control characters (the request could not be
    made) and without credentials before the host (they are not sent: a receiver's token goes in
    ``webhook_token_file``)."""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return _NOT_HTTP
    if url.scheme not in ("http", "https") or not url.hostname:
        return _NOT_HTTP
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "must not contain spaces or control characters (percent-encode them)"
    if "@" in url.netloc:
        return ("must not hold credentials before the host (they are not sent; give the receiver's token "
                "in webhook_token_file, sent as a bearer token)")
    return None


def redact_url(url: str) -> str:
    """``url`` as it may be shown to a person (a log line, ``status``, a warning, an error): the
    userinfo before the host and the value of each query parameter read :data:`HIDDEN`
    (``https://***@host``, ``/webhook?token=***&agent=***``); each parameter's name, the scheme,
    host, port, path and fragment stay. A parameter without ``=`` is all value (``?abc123`` reads
    ``?***``). A URL with neither is returned as it is; one that does not parse (an unclosed IPv6
    bracket) is :data:`HIDDEN` whole, none of it being told apart from a secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = f"{HIDDEN}@{host}" if at else parts.netloc
    query = "&".join(_hidden_value(param) for param in parts.query.split("&")) if parts.query else ""
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _hidden_value(param: str) -> str:
    """One ``name=value`` of a query with its value hidden (a part without ``=``, all of it)."""
    name, eq, _ = param.partition("=")
    return f"{name}={HIDDEN}" if eq else (HIDDEN if param else "")
