"""``call-monitor forget-agent NAME``: the supervisor's console forgets an agent taken out of service.

What the agent's "Forget" button on the console's page does, from a terminal or a script: ``POST
/api/agents/forget`` with the console's shared token. The agent (each daemon that posted under the
name, or the one ``--daemon ID`` names: one of two agents of one name) leaves the agents list until one
of its daemons posts again, what the console kept of its heartbeats deleted; its alerts are kept.
"""

from __future__ import annotations

import argparse
import json
from urllib.parse import urlsplit

from ..console import error
from ..files import bytes_not_utf8, name_text
from ..json_text import json_value
from .common import ExitStatus, add_config_options, default_file

ANSWER_S = 10.0
"""How long the console has to answer."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forget-agent", help="the supervisor's console forgets an agent taken out of service "
                       "(its alerts kept)",
                       description="Take agent NAME off the supervisor console's agents list, as its row's "
                                   "\"Forget\" button does (a desktop taken out of service): each daemon that "
                                   "posted under the name (--daemon: that one alone), on every open page and after "
                                   "a restart, until one of them posts again; what the console kept of their heartbeats (the last "
                                   "status, the address) is deleted. Its alerts are kept. Asks the "
                                   "console with its shared token.",
                       epilog="Exit status: 0 forgotten; 1 no agent of that name (and daemon) at the console, or the "
                              "console not reachable or failing; 2 a NAME or --daemon ID that is empty or not valid "
                              "text (bytes that are not UTF-8), an ID that begins or ends more than one daemon of the "
                              "name, a token the console refuses (not its shared one), a "
                              "token file it cannot read, a console's certificate this machine does not trust "
                              "(SSL_CERT_FILE), or a configuration it cannot load.")
    p.add_argument("agent", metavar="NAME", help="the agent's name, as the console's page lists it")
    p.add_argument("--daemon", metavar="ID", help="that daemon of the name alone (its daemon_id in /api/state, "
                   "or its end as the page shows it, the last 8 characters, or its start): an agent of the same "
                   "name at another desk stays listed")
    p.add_argument("--console", metavar="URL", help="the console's address, as `call-monitor supervisor` prints "
                   "it (https://HOST:PORT for one with TLS); default: http:// and supervisor.listen, on this "
                   "machine for an address of every interface")
    p.add_argument("--token-file", metavar="FILE", help="the console's shared token (supervisor.token_file, else "
                   f"{default_file('supervisor.token_file')})")
    add_config_options(p, db=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..config.tokens import MIN_TOKEN_CHARS, TokenFileError, read_token_file
    from .common import ConfigError, config_from_args
    if not args.agent.strip():
        error("NAME \"\": an empty name; give the agent's name as the console's page lists it")
        return ExitStatus.BAD_SETUP
    if args.daemon is not None and not args.daemon.strip():
        error(f"--daemon {json.dumps(args.daemon)}: an empty id; give the daemon's id as /api/state lists it, or "
              "leave the option out")
        return ExitStatus.BAD_SETUP
    for given, what, how in (("NAME", args.agent, "the agent's name as the console's page lists it"),
                             ("--daemon", args.daemon or "", "the daemon's id as /api/state lists it")):
        if (problem := not_text(what)) is not None:
            error(f"{given} '{name_text(what)}': {problem}; give {how}")
            return ExitStatus.BAD_SETUP
    try:
        cfg = config_from_args(args, {"supervisor.token_file": args.token_file} if args.token_file else None)
        base = console_address(args.console, cfg.supervisor.listen)
        token = read_token_file(cfg.supervisor.token_file, min_chars=MIN_TOKEN_CHARS)  # the console's shared one
    except (ConfigError, TokenFileError, ValueError) as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    return _forget(base, token, args.agent, args.daemon, cfg.supervisor.token_file)


def not_text(given: str) -> str | None:
    """Why ``given``, an argument, is no text the console could know (bytes that are not UTF-8, a
    Latin-1 terminal's, which Python holds as surrogates), or None."""
    bad = bytes_not_utf8(given)
    return None if bad is None else f"not valid text (byte {bad} is not UTF-8)"


def console_address(given: str | None, listen: str) -> str:
    """``scheme://host:port`` of the console: ``given`` (``--console``, a path or query in it left
    out: the page's address pasted), else ``http://`` and ``listen``, a wildcard host (every
    interface) as this machine's loopback. Raises ValueError for an address that is no http(s) one."""
    from ..config.listen import parse_listen
    from ..config.urls import redact_url
    if given is None:
        host, port = parse_listen(listen)
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"
    parts = urlsplit(given.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--console {redact_url(given)!r}: expected the console's address, http://HOST:PORT or "
                         "https://HOST:PORT, as `call-monitor supervisor` prints it")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _forget(base: str, token: str, agent: str, daemon: str | None, token_file: str) -> int:
    """Ask the console at ``base`` to forget ``agent`` (its ``daemon`` alone, where given); its answer
    said in one line."""
    import urllib.error

    from ..delivery.sinks.webhook import post_json
    try:
        asked = {"agent": agent, **({"daemon_id": daemon} if daemon else {})}
        answer = json_value(post_json(f"{base}/api/agents/forget", json.dumps(asked).encode(), token=token,
                                      timeout_s=ANSWER_S))
    except urllib.error.HTTPError as err:
        return _refused(base, agent, daemon, token_file, err)
    except (OSError, ValueError) as err:  # no answer: refused, a timeout, a certificate, not the console's JSON
        return _unreached(base, getattr(err, "reason", None) or err)
    ids = ", ".join(answer.get("daemon_ids") or []) if isinstance(answer, dict) else ""
    print(f"agent {agent!r} forgotten at {base} (daemon {ids or '?'}): off its agents list until it posts "
          f"again; its alerts are kept")
    return ExitStatus.OK


def _unreached(base: str, reason: BaseException) -> int:
    """No answer from the console at ``base`` (``reason``: why), in one line, with the exit status it means:
    a certificate this machine does not trust is a setup to change (2), the rest a console not there (1)."""
    import ssl
    if isinstance(reason, ssl.SSLCertVerificationError):
        error(f"the console at {base} has a certificate this machine does not trust ({reason.verify_message}): "
              f"for the console's own (its --tls-cert), give SSL_CERT_FILE=that certificate's file")
        return ExitStatus.BAD_SETUP
    why = getattr(reason, "strerror", None) or str(reason)
    error(f"cannot reach the console at {base} ({why}): is `call-monitor supervisor` running there? "
          f"(--console gives its address, https:// for one with TLS)")
    return ExitStatus.FAILED


def _refused(base: str, agent: str, daemon: str | None, token_file: str, err) -> int:
    """The console's refusal (``err``, an HTTPError) in one line, with the exit status it means."""
    try:
        said = json_value(err.read(4096) or b"null")
    except (OSError, ValueError):
        said = None
    why = " ".join(str(said.get("error", "")).split())[:200] if isinstance(said, dict) else ""
    if err.code == 404 and why:
        of = f" with daemon {daemon!r}" if daemon else ""
        error(f"no agent named {agent!r}{of} at the console {base} (its page lists the agents by name"
              + (", each daemon by its id's last 8 characters, which --daemon takes as its whole id does)" if daemon
                 else ")"))
        return ExitStatus.FAILED
    if err.code == 409 and why:  # a part of a daemon's id that begins or ends more than one of the name
        error(f"--daemon {daemon!r} at the console {base}: {why}")
        return ExitStatus.BAD_SETUP
    if err.code in (401, 403):
        error(f"the console at {base} refused the token of {token_file}: {why or err.reason} (give the console's "
              "shared token: --token-file, supervisor.token_file)")
        return ExitStatus.BAD_SETUP
    error(f"the console at {base} answered HTTP {err.code} {err.reason}" + (f": {why}" if why else ""))
    return ExitStatus.FAILED
