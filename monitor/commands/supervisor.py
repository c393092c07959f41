"""``call-monitor supervisor``: the supervisor's console, every agent's alerts on one live page."""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import socket
import sys

from ..console import configure_logging, error, info, warning
from .common import ExitStatus, add_config_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("supervisor", help="the supervisor's console: receives the daemons' webhook posts, "
                       "serves a live page",
                       description="Receive every daemon's alerts and heartbeats (give the daemons the webhook "
                                   "address it prints), store them in its own SQLite database and show them on a "
                                   "live page with acknowledgements. Every request needs the token.")
    p.add_argument("--listen", metavar="HOST:PORT", help="address to listen on (supervisor.listen, "
                   "default 127.0.0.1:8640; port 0 picks a free one)")
    p.add_argument("--db", metavar="FILE", help="the console's database (supervisor.db)")
    p.add_argument("--token-file", metavar="FILE", help="the shared token, made on first start "
                   "(supervisor.token_file)")
    p.add_argument("--tls-cert", metavar="FILE", help="TLS certificate (PEM); with --tls-key")
    p.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    add_config_options(p, db=False)
    p.set_defaults(run=run)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` -> (host, port); raises ValueError."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen {text}: expected HOST:PORT, e.g. 127.0.0.1:8640")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A bound TCP socket (uvicorn listens on it); raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say IPPROTO_TCP,
    # and with Nagle on, every answer waits ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections wait in the backlog until uvicorn serves them
    except OSError:
        sock.close()
        raise
    return sock


def _overrides(args: argparse.Namespace) -> dict:
    o = {}
    for opt, key in (("listen", "listen"), ("db", "db"), ("token_file", "token_file")):
        if getattr(args, opt) is not None:
            o[f"supervisor.{key}"] = getattr(args, opt)
    return o


def _check_tls(args: argparse.Namespace) -> str | None:
    """The problem with --tls-cert/--tls-key, or None."""
    if bool(args.tls_cert) != bool(args.tls_key):
        return "--tls-cert and --tls-key go together"
    for path in (args.tls_cert, args.tls_key):
        if path and not os.access(path, os.R_OK):
            return f"{path}: cannot read the file"
    if args.tls_cert:  # loaded once here, so that a bad pair is said before the console's address is
        import ssl
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
            return f"{args.tls_cert}: cannot use the TLS certificate and key ({err})"
    return None


def _reachable_host(host: str) -> str:
    """The host a daemon puts in its webhook URL: a wildcard address (0.0.0.0, ::) listens on
    every interface but is no address to post to, so this machine's name stands for it."""
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def run(args: argparse.Namespace) -> int:
    from .common import ConfigError, config_from_args
    os.umask(0o077)
    try:
        cfg = config_from_args(args, _overrides(args))
        host, port = parse_listen(cfg.supervisor.listen)
    except (ConfigError, ValueError) as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    problem = _check_tls(args)
    if problem:
        error(problem)
        return ExitStatus.BAD_SETUP
    from ..supervisor.auth import Auth, TokenFileError, load_or_create_token, parse_agent_tokens
    from ..supervisor.store import ConsoleStore, ConsoleStoreError
    sc = cfg.supervisor
    try:
        agent_tokens = parse_agent_tokens(sc.agent_tokens)
        token, created = load_or_create_token(sc.token_file)
        if token in agent_tokens:  # the agent would hold the shared token: post as anyone, see everything
            raise ValueError(f"supervisor.agent_tokens: {agent_tokens[token]}: that is the shared token of "
                             f"{sc.token_file}; an agent's token must be its own")
        store = ConsoleStore.open(sc.db)
    except (TokenFileError, ValueError, ConsoleStoreError) as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    token_file = os.path.expanduser(sc.token_file)
    if created:
        info(f"new token written to {token_file} (mode 0600): {token}")
    try:
        sock = bind(host, port)
    except OSError as err:
        store.close()
        error(f"cannot listen on {host}:{port} ({err.strerror or err})")
        return ExitStatus.BAD_SETUP
    tls = bool(args.tls_cert)
    if not is_loopback(host) and not tls:
        warning(f"listening on {host} without TLS: the token and the alerts cross the network in clear "
                f"text (give --tls-cert and --tls-key)")
    scheme = "https" if tls else "http"
    shown = _reachable_host(host)
    base = f"{scheme}://{shown}:{sock.getsockname()[1]}"
    info(f"console {base}/?token=TOKEN (TOKEN in {token_file}); daemons: --webhook {base}/webhook "
         f"--webhook-token-file {token_file}")
    configure_logging("info", "monitor.supervisor")
    if not _serve(args, sc, store, sock, Auth(token, agent_tokens), tls):
        return ExitStatus.BAD_SETUP
    info("console stopped")
    return ExitStatus.OK


def _serve(args: argparse.Namespace, sc, store, sock: socket.socket, auth, tls: bool) -> bool:
    """Serve the console on ``sock`` until a signal stops it; False (said) if TLS cannot be used.
    Closes the socket and the store either way."""
    import uvicorn

    from ..supervisor.app import ConsoleSettings, create_app
    app = create_app(store, auth, ConsoleSettings(max_body_bytes=sc.max_body_bytes,
                                                  silent_after_s=sc.silent_after_s, secure_cookie=tls))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                            timeout_graceful_shutdown=2, server_header=False)
    try:
        config.load()
    except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
        sock.close()
        store.close()
        error(f"{args.tls_cert}: cannot use the TLS certificate and key ({err})")
        return False
    server = uvicorn.Server(config)
    for sig in (signal.SIGTERM, signal.SIGINT):  # uvicorn re-raises the signal after its graceful
        signal.signal(sig, lambda s, f: None)    # shutdown: let it land here, then close and exit 0
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        store.close()
    return True
