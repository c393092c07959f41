"""``call-monitor supervisor``: the supervisor's console, every agent's alerts on one live page."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import socket
import sys
import threading
from types import MappingProxyType

from ..config.listen import is_loopback, parse_listen
from ..console import configure_logging, error, info, warning
from ..installing import in_docs
from ..stops import stops_held
from .common import ExitStatus, add_config_options, default_file

log = logging.getLogger("monitor.supervisor")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("supervisor", help="the supervisor's console: receives the daemons' webhook posts, "
                       "serves a live page",
                       description="Receive every daemon's alerts and heartbeats (give the daemons the webhook "
                                   "address it prints), store them in its own SQLite database and show them on a "
                                   "live page with acknowledgements. Every request needs the token. SIGHUP reloads its "
                                   "configuration and tokens.")
    p.add_argument("--listen", metavar="HOST:PORT", help="address to listen on (supervisor.listen, "
                   "default 127.0.0.1:8640; port 0 picks a free one)")
    p.add_argument("--db", metavar="FILE", help="the console's database (supervisor.db, else "
                   f"{default_file('supervisor.db')})")
    p.add_argument("--token-file", metavar="FILE", help="the shared token, made on first start "
                   f"(supervisor.token_file, else {default_file('supervisor.token_file')})")
    p.add_argument("--tls-cert", metavar="FILE", help="TLS certificate (PEM); with --tls-key")
    p.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    p.add_argument("--public-url", metavar="URL", help="the console's address as browsers open it, where a "
                   "proxy in front ends TLS: https marks the session cookie Secure (supervisor.public_url)")
    add_config_options(p, db=False)
    p.set_defaults(run=run)


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
    for opt, key in (("listen", "listen"), ("db", "db"), ("token_file", "token_file"), ("public_url", "public_url")):
        if getattr(args, opt) is not None:
            o[f"supervisor.{key}"] = getattr(args, opt)
    return o


TLS_UNUSABLE = "cannot use the TLS certificate and key"
"""What the line of every problem with --tls-cert/--tls-key says, after the file it names."""

PEM_BLOCKS = MappingProxyType({"certificate": re.compile(rb"-----BEGIN CERTIFICATE-----"),
                               "private key": re.compile(rb"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")})
"""The first line of a PEM block of each file --tls-cert and --tls-key name."""


def _pem_problem(path: str, what: str) -> str | None:
    """Why ``path`` is not a PEM file holding the TLS ``what`` (a key of :data:`PEM_BLOCKS`), or None."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(1 << 20)
    except OSError as err:
        return f"{path}: {TLS_UNUSABLE}: {(err.strerror or str(err)).lower()}"
    if not text:
        return f"{path}: {TLS_UNUSABLE}: an empty file"
    if not PEM_BLOCKS[what].search(text):
        return f"{path}: {TLS_UNUSABLE}: not a PEM {what} (no {PEM_BLOCKS[what].pattern.decode()} line)"
    return None


def _check_tls(args: argparse.Namespace) -> str | None:
    """The problem with --tls-cert/--tls-key, or None."""
    if bool(args.tls_cert) != bool(args.tls_key):
        return "--tls-cert and --tls-key go together"
    if not args.tls_cert:
        return None
    for path, what in ((args.tls_cert, "certificate"), (args.tls_key, "private key")):
        if problem := _pem_problem(path, what):
            return problem
    return _pair_problem(args.tls_cert, args.tls_key)


class _Encrypted(Exception):
    """A private key asked for its passphrase, which the console is never given."""


def _no_passphrase() -> bytes:
    raise _Encrypted


def _pair_problem(cert: str, key: str) -> str | None:
    """Why OpenSSL cannot use ``cert`` with ``key``, or None; an encrypted key is said, not asked
    its passphrase on the terminal (OpenSSL's own prompt when no password is given)."""
    import ssl  # loaded once here, so that a bad pair is said before the console's address is
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key, password=_no_passphrase)
    except _Encrypted:
        return (f"{key}: {TLS_UNUSABLE}: an encrypted private key (the console takes no passphrase: "
                "write it decrypted, openssl pkey -in KEY -out DECRYPTED_KEY)")
    except ssl.SSLError as err:
        why = f"the key {key} is not this certificate's" if err.reason == "KEY_VALUES_MISMATCH" else str(err)
        return f"{cert}: {TLS_UNUSABLE} ({why})"
    except (OSError, ValueError) as err:
        return f"{cert}: {TLS_UNUSABLE} ({err})"
    return None


def _reachable_host(host: str) -> str:
    """The host a daemon puts in its webhook URL: a wildcard address (0.0.0.0, ::) listens on
    every interface but is no address to post to, so this machine's name stands for it."""
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def run(args: argparse.Namespace) -> int:
    """Serve the supervisor console: its configuration and TLS checked, its address bound, its token
    and database opened, then the console served until stopped."""
    from .common import ConfigError, config_from_args
    os.umask(0o077)
    try:
        cfg = config_from_args(args, _overrides(args))  # supervisor.listen checked there (parse_listen)
    except ConfigError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    problem = _check_tls(args)
    if problem:
        error(problem)
        return ExitStatus.BAD_SETUP
    from ..config.tokens import TokenFileError
    from ..supervisor.store import ConsoleStoreError
    sc = cfg.supervisor
    host, port = parse_listen(sc.listen)
    try:  # first: an address in use (another console) leaves no token or database made
        sock = bind(host, port)
    except OSError as err:
        error(f"cannot listen on {host}:{port} ({err.strerror or err})")
        return ExitStatus.BAD_SETUP
    try:
        auth, token, created, store = _open(cfg)
    except (TokenFileError, ValueError, ConsoleStoreError) as err:
        sock.close()
        error(str(err))
        return ExitStatus.BAD_SETUP
    token_file = os.path.expanduser(sc.token_file)
    _say_opened(store, token_file, token, created)
    return _serve_console(args, cfg, host, sock, auth, token, store, token_file)


def _say_opened(store, token_file: str, token: str, created: bool) -> None:
    """The token made on this start (where it is kept), the console database others may read, its -wal
    and -shm too (one copied or restored keeps its mode, which SQLite gives them; the console makes it
    0600), and the database brought to this release's schema, when either happened."""
    from ..delivery.store_files import others_may_read_database
    from ..supervisor.store import SCHEMA_VERSION
    if exposed := others_may_read_database(store.path, "the console's database, which holds every agent's alerts,"):
        log.warning("%s", exposed)
    if created:
        info(new_token_line(token_file, token, on_terminal=sys.stderr.isatty()))
    if store.migrated_from is not None:
        info(f"{store.path}: console database brought from schema {store.migrated_from} to {SCHEMA_VERSION}, its "
             f"alerts, acknowledgements and agents kept; an earlier call-monitor refuses it from now on (rolling "
             f"back: {in_docs('deployment.md', 'Upgrading a site')})")


def _serve_console(args: argparse.Namespace, cfg, host: str, sock: socket.socket, auth, token: str, store,
                   token_file: str) -> int:
    """The console's app on the bound socket, its address said, served (reloaded on SIGHUP) until
    stopped: the exit status."""
    sc = cfg.supervisor
    tls = bool(args.tls_cert)
    loopback = _say_reach(host, sock.getsockname()[1], sock.getsockname()[0], tls)
    scheme = "https" if tls else "http"
    shown = _reachable_host(host)
    base = f"{scheme}://{shown}:{sock.getsockname()[1]}"
    from ..supervisor.app import create_app
    app = create_app(store, auth, _settings(cfg.supervisor, tls), loopback=loopback,
                     listen_name=host if loopback and not is_loopback(host) else None)  # the address it prints
    configure_logging("info", "monitor.supervisor")
    with stops_held(second_at_once=False, raise_at_end=False) as stops:  # a stop from here on: _serve's
        server_config = _server_config(args, app, sc)
        reload = _Reload(args, cfg, server_config, tls, token).start()  # SIGHUP handled before the line
        info(f"console {base}/?token=TOKEN (TOKEN in {token_file}); daemons: --webhook {base}/webhook "
             f"--webhook-token-file {token_file}")
        try:
            served = _serve(args, server_config, store, sock, stops)
        finally:
            reload.close()
        if not served:
            return ExitStatus.BAD_SETUP
        info("console stopped")
        return ExitStatus.OK


def _say_reach(host: str, port: int, bound: str, tls: bool) -> bool:
    """Whether the console listens on loopback alone, judged by the address ``bound`` (a host name
    by the address it is here), with one warning where who reaches it is not what ``host`` says:
    a name that is a loopback address, or a console beyond loopback without TLS."""
    loopback = is_loopback(bound)
    if loopback and not is_loopback(host):
        warning(f"{host} is {bound} here, a loopback address: only this machine reaches the console (for "
                f"agents' desktops, listen on the network: 0.0.0.0:{port} with --tls-cert and --tls-key)")
    elif not loopback and not tls:
        warning(f"listening on {host} without TLS: the token and the alerts cross the network in clear "
                f"text (give --tls-cert and --tls-key)")
    return loopback


def _open(cfg):
    """(Auth, shared token, whether its file was made now, the console's store) of ``cfg``, nothing
    written before whatever refuses the start (a database of a later release, not the console's, a
    token file that cannot be made): the token made first is written once the store is open. Raises
    TokenFileError, ValueError or ConsoleStoreError with a one-line message."""
    from ..config.tokens import TokenFileError
    from ..supervisor.auth import write_token
    from ..supervisor.store import ConsoleStore
    auth, token, created = _load_auth(cfg, create=True)
    store = ConsoleStore.open(cfg.supervisor.db)
    if not created:
        return auth, token, created, store
    try:
        written = write_token(cfg.supervisor.token_file, token)
    except TokenFileError:
        store.close()
        raise
    if written == token:
        return auth, token, True, store
    # another console's first start made the file meanwhile: its token is the one
    return (*_load_auth(cfg, create=False, kept=written)[:2], False, store)


def new_token_line(token_file: str, token: str, on_terminal: bool) -> str:
    """The line that says the shared token was made: the token itself on a terminal only, never into
    the journal (a first start under systemd) or a log file, where others may read it."""
    if on_terminal:
        return f"new token written to {token_file} (mode 0600): {token}"
    return f"new token written to {token_file} (mode 0600; shown on a terminal only, not in a log: read it there)"


def _load_auth(cfg, create: bool, kept: str | None = None):
    """(Auth, shared token, whether it is new) from ``cfg``'s supervisor section: the shared token
    (``kept`` instead of reading it; where its file is not there and ``create``, a new one, its file
    checked as one that can be made but left for the caller to write, :func:`_open`) and the agents'
    own. Raises TokenFileError (naming the configuration file that named the token file, if one
    did) or ValueError with a one-line message; a token file, or a configuration holding the agents'
    tokens, that other users may read is said in a warning once they are taken."""
    from ..config import where_set
    from ..config.tokens import TokenFileError, parse_agent_tokens
    from ..files import others_may_read
    from ..supervisor.auth import Auth, token_or_new
    sc = cfg.supervisor
    agent_tokens = parse_agent_tokens(sc.agent_tokens)
    try:
        token, created = (kept, False) if kept is not None else token_or_new(sc.token_file, create)
    except TokenFileError as err:
        raise TokenFileError(where_set(cfg, "supervisor.token_file", str(err))) from None
    if token in agent_tokens:  # the agent would hold the shared token: post as anyone, see everything
        raise ValueError(f"supervisor.agent_tokens: {agent_tokens[token]}: that is the shared token of "
                         f"{sc.token_file}; an agent's token must be its own")
    for problem in (others_may_read(sc.token_file),  # the shared token reads every agent's alerts
                    agent_tokens and others_may_read(cfg.origin.get("supervisor.agent_tokens", ""),
                                                     "this configuration, which holds supervisor.agent_tokens,")):
        if problem:
            log.warning("%s", problem)
    return Auth(token, agent_tokens), token, created


def _settings(sc, tls: bool):
    """The console's settings of ``sc``, its configuration's supervisor section; ``tls``: it serves
    TLS itself. The session cookie is Secure under TLS, its own or a proxy's (``public_url`` https)."""
    from ..config.urls import origin_of
    from ..supervisor.app import ConsoleSettings
    public = origin_of(sc.public_url) if sc.public_url else ""
    return ConsoleSettings(max_body_bytes=sc.max_body_bytes, silent_after_s=sc.silent_after_s,
                           secure_cookie=tls or public.startswith("https://"), retention_days=sc.retention_days,
                           public_origin=public, agent_posts_per_s=sc.agent_posts_per_s,
                           agent_post_burst=sc.agent_post_burst)


AT_NEXT_START = ("supervisor.listen", "supervisor.db")
"""Keys a reload (SIGHUP) cannot apply to a running console (its socket and database are opened
at start): changed, they are named in the reload's line."""


class _Reload:
    """SIGHUP: the configuration and token files read again, as the daemon does. The tokens
    (``supervisor.agent_tokens``, the token file), ``silent_after_s``, ``max_body_bytes``,
    ``retention_days``, ``public_url``, ``agent_posts_per_s`` and ``agent_post_burst`` apply at once; a
    configuration or token that cannot be used leaves the console as it was. Either way one line says so.

    ``max_connections`` applies to the connections opened from then on (uvicorn reads its
    configuration's ``limit_concurrency`` as each one opens).

    The reload runs in one thread of its own, beside the server's loop, one at a time (signals
    that come during one make one more); the handler only writes a byte into a pipe that wakes
    it: it takes no lock, so a signal that interrupts the server's loop while that holds one
    (starting a worker thread), or interrupts the handler itself, cannot deadlock or crash it."""

    def __init__(self, args: argparse.Namespace, cfg, server_config, tls: bool, token: str) -> None:
        """``server_config``: uvicorn's configuration of the console (:func:`_server_config`)."""
        self.args, self.cfg, self.tls, self.token = args, cfg, tls, token
        self.server_config, self.console = server_config, server_config.app.state.console
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    def start(self) -> "_Reload":
        """Start the reload thread and handle SIGHUP."""
        threading.Thread(target=self._run, name="console-reload", daemon=True).start()
        signal.signal(signal.SIGHUP, self.on_signal)
        return self

    def close(self) -> None:
        """SIGHUP ignored from now on; the reload thread ends (after the reload it is in)."""
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        os.close(self._wake_w)  # the thread reads the end of the pipe and closes its end

    def _run(self) -> None:
        try:
            while os.read(self._wake_r, 4096):  # the signals that came meanwhile: one reload
                try:
                    self()
                except Exception:  # noqa: BLE001 - the next SIGHUP must still reload
                    log.exception("configuration not reloaded")
        finally:
            os.close(self._wake_r)

    def __call__(self) -> None:
        from ..config import changed_keys, overruled_line
        from ..config.tokens import TokenFileError
        from .common import ConfigError, command_line_options
        try:
            cfg = self._config()
            auth = _load_auth(cfg, create=False, kept=self._kept_token(cfg.supervisor.token_file))[0]
        except (ConfigError, TokenFileError, ValueError) as err:
            log.warning("configuration not reloaded, the console goes on with the one it had: %s", err)
            return
        later = changed_keys(self.cfg, cfg, AT_NEXT_START)
        overruled = overruled_line(self.cfg, cfg, command_line_options(self.args, cfg.overridden))
        self.console.reconfigure(auth, _settings(cfg.supervisor, self.tls))
        from ..supervisor.connections import limit_concurrency
        self.server_config.limit_concurrency = limit_concurrency(cfg.supervisor.max_connections)
        self.cfg = cfg
        if later:
            log.warning("configuration reloaded, except what applies at the next start: %s", ", ".join(later))
        else:
            log.info("configuration reloaded (tokens: the shared one and %d agent(s))",
                     len(cfg.supervisor.agent_tokens))
        if overruled is not None:
            log.warning("%s", overruled)

    def _config(self):
        """The configuration loaded again, but from no pipe (read again, it would hold the reloads
        until something wrote to it): a ``--config`` pipe is a ConfigError naming it."""
        from ..files import is_pipe
        from .common import ConfigError, config_from_args
        if self.args.config and is_pipe(self.args.config):
            raise ConfigError(f"{self.args.config}: a pipe, read once at the start; a reload reads a configuration "
                              "file only")
        return config_from_args(self.args, _overrides(self.args))

    def _kept_token(self, token_file: str) -> str | None:
        """The shared token the start read, when ``token_file`` is the pipe it read it from (not
        read again); None for a file to read. Another pipe is a TokenFileError naming it
        (:func:`~monitor.config.tokens.kept_pipe_token`)."""
        from ..config.tokens import kept_pipe_token
        return kept_pipe_token(token_file, self.cfg.supervisor.token_file, self.token)

    def on_signal(self, signum: int, frame: object) -> None:
        """The handler of SIGHUP: wakes the reload thread."""
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:  # the pipe is full: a reload is due anyway
            pass


def _server_config(args: argparse.Namespace, app, sc):
    """uvicorn's configuration of the console: its connections (:class:`TimelyH11Protocol`, at most
    ``max_connections`` at once, said when met), the peer as who connected, no access log."""
    import functools

    import uvicorn

    from ..supervisor.connections import AtTheLimit, TimelyH11Protocol, limit_concurrency

    protocol = functools.partial(TimelyH11Protocol, at_limit=AtTheLimit())
    # uvicorn calls ``http`` as a factory, which a partial of the class is (typed a class or a name)
    return uvicorn.Config(app, http=protocol,  # type: ignore[arg-type]
                          proxy_headers=False,  # the peer is who connected
                          log_level="warning", access_log=False, lifespan="on",
                          ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                          limit_concurrency=limit_concurrency(sc.max_connections),
                          timeout_graceful_shutdown=2, server_header=False)


def _serve(args: argparse.Namespace, config, store, sock: socket.socket, stops: list[KeyboardInterrupt]) -> bool:
    """Serve the console (uvicorn's ``config``, :func:`_server_config`) on ``sock`` until a signal stops
    it (SIGHUP reloads the configuration); False (said) if TLS cannot be used. Closes the socket and the store either way.

    ``stops``: Ctrl-C and SIGTERM held, not raised (:func:`~monitor.stops.stops_held`): uvicorn takes
    them while it serves, and one that came before (as the console started, its line said) stops it as
    soon as it serves; uvicorn raises the one that stopped it again after its graceful shutdown, which
    is held too, so the console ends with its line and exit 0."""
    import uvicorn

    app = config.app
    try:
        config.load()
    except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
        sock.close()
        store.close()
        error(f"{args.tls_cert}: {TLS_UNUSABLE} ({err})")
        return False
    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # the open pages' event streams end first: uvicorn waits for every response to end
            # before the application's shutdown, and cancelled them, with a traceback, after 2 s
            app.state.console.hub.close()
            await super().shutdown(sockets)

        async def main_loop(self) -> None:
            self.should_exit = self.should_exit or bool(stops)  # a stop that came before it served
            await super().main_loop()

    server = Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        store.close()
    return True
