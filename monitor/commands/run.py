"""``call-monitor run``: the live daemon beside the softphone."""

from __future__ import annotations

import argparse
import os

from ..console import error, info, log
from .common import add_config_options, add_transcription_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="monitor live calls (the daemon)",
                       description="Capture the caller's leg (and optionally the agent's), split the audio "
                                   "into calls and raise alerts live. SOURCE: a sounddevice name fragment or "
                                   "index, or a PulseAudio/PipeWire source such as softphone.monitor "
                                   "(see `call-monitor devices`).")
    p.add_argument("--caller", metavar="SOURCE", help="the caller's leg (daemon.caller)")
    p.add_argument("--agent", metavar="SOURCE", help="the agent's leg, the microphone (daemon.agent)")
    p.add_argument("--jsonl", action="store_true", help="one JSON event per line on stdout (as replay)")
    p.add_argument("--webhook", metavar="URL", help="supervisor webhook (delivery.webhook_url)")
    p.add_argument("--webhook-token-file", metavar="FILE",
                   help="token sent to the webhook as a bearer token (delivery.webhook_token_file)")
    p.add_argument("--no-notify", action="store_true", help="no desktop notifications")
    add_transcription_options(p)
    p.add_argument("--socket", metavar="PATH", help="status socket (daemon.status_socket)")
    add_config_options(p)
    p.set_defaults(run=run)


def overrides_from(args: argparse.Namespace) -> dict:
    o = {}
    if args.caller is not None:
        o["daemon.caller"] = args.caller
    if args.agent is not None:
        o["daemon.agent"] = args.agent
    if args.webhook is not None:
        o["delivery.webhook_url"] = args.webhook
    if getattr(args, "webhook_token_file", None) is not None:
        o["delivery.webhook_token_file"] = args.webhook_token_file
    if args.no_notify:
        o["delivery.notify"] = False
    if args.socket:
        o["daemon.status_socket"] = args.socket
    return o


def run(args: argparse.Namespace) -> int:
    from .common import ConfigError, ModelError, StoreError, config_from_args, open_store, open_transcription
    os.umask(0o077)  # logs, database and sockets private to the user
    overrides = overrides_from(args)
    try:
        cfg = config_from_args(args, overrides)
    except ConfigError as err:
        error(str(err))
        return 2
    from ..capture.devices import DeviceError
    from ..capture.live import LiveSource
    legs = {"caller": cfg.daemon.caller}
    if cfg.daemon.agent:
        legs["agent"] = cfg.daemon.agent
    try:
        source = LiveSource(legs, on_status=log)
    except DeviceError as err:
        error(str(err))
        return 2
    except OSError as err:  # PortAudio library missing
        error(f"cannot use the audio system: {err}")
        return 2
    try:
        token = webhook_token(cfg)
        store = open_store(cfg)
    except (StoreError, ValueError) as err:
        error(str(err))
        return 2

    from ..daemon import Daemon
    from ..delivery.status_socket import StatusServer, socket_path
    from ..delivery.sinks.terminal import HumanSink, JsonlSink
    sinks = {}
    if args.jsonl:
        sinks["terminal"] = JsonlSink()
    elif cfg.delivery.terminal:
        sinks["terminal"] = HumanSink(bell=cfg.delivery.bell)
    webhook = notify = heartbeat = None
    if cfg.delivery.webhook_url:
        webhook = start_webhook(cfg, store, token)
        sinks["webhook"] = webhook
    from ..delivery.sinks.notify import NotifySink
    notify = NotifySink(log=log)
    if cfg.delivery.notify:
        sinks["notify"] = notify

    try:
        transcription = open_transcription(args, cfg, live=True)
    except ModelError as err:
        error(str(err))
        store.close()
        return 2

    def reload():
        return config_from_args(args, overrides)

    daemon = Daemon(cfg, source, store, sinks, reload=reload, log=log, webhook=webhook, notify=notify,
                    transcription=transcription)
    source.on_status = daemon.source_status
    if webhook is not None:
        webhook.log = daemon.log  # delivery failures become the daemon's last problem
        if cfg.delivery.heartbeat_s > 0:
            from ..delivery.sinks.webhook import Heartbeat
            link = report_link(cfg.delivery.report_url_base)
            heartbeat = Heartbeat(cfg.delivery.webhook_url, webhook.identity,
                                  lambda: daemon.heartbeat_status(link), every_s=cfg.delivery.heartbeat_s,
                                  token=token, timeout_s=cfg.delivery.timeout_s, log=log)
    daemon.install_signals()
    try:
        status = StatusServer(socket_path(cfg), daemon.state)
    except (RuntimeError, OSError) as err:
        error(f"status socket: {err}")
        store.close()
        return 2
    try:
        source.start()
    except Exception as err:
        status.close()
        store.close()
        error(f"cannot open the caller's input {cfg.daemon.caller or '(default)'}: "
              f"{str(err).splitlines()[0] if str(err) else type(err).__name__}")
        return 2
    if heartbeat is not None:
        heartbeat.start()
    names = ", ".join(f"{leg} = {s['label']}" for leg, s in source.stats().items())
    info(f"listening ({names}); status socket {status.path}")
    try:
        rc = daemon.run()
    except Exception as err:  # noqa: BLE001 - one clear line, not a traceback
        error(f"the monitor stopped: {str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}")
        rc = 1
    finally:
        status.close()
        if heartbeat is not None:
            heartbeat.close(0.5)
        if webhook is not None:
            webhook.close(0.5)
        notify.close(0.3)
        store.close()
    info(f"stopped ({daemon._stop_reason or 'capture ended'})")
    return rc


def webhook_token(cfg) -> str | None:
    """The bearer token for the webhook, from delivery.webhook_token_file (None without one);
    raises TokenError (a ValueError) naming the file."""
    from ..delivery.sinks.webhook import read_token
    path = cfg.delivery.webhook_token_file
    return read_token(path) if path and cfg.delivery.webhook_url else None


def start_webhook(cfg, store, token: str | None):
    """The started WebhookSink of delivery.webhook_url, posting as this agent."""
    from ..delivery.sinks.webhook import Identity, WebhookSink
    d = cfg.delivery
    return WebhookSink(store, d.webhook_url, timeout_s=d.timeout_s, retries=d.retries,
                       backoff_s=d.backoff_s, max_backoff_s=d.max_backoff_s, log=log,
                       identity=Identity.of(store, d.agent_name), token=token).start()


def report_link(base: str):
    """How a report's path is linked for the console: ``base`` + file name, or a file:// URL."""
    import pathlib
    import urllib.parse
    if base:
        return lambda path: base.rstrip("/") + "/" + urllib.parse.quote(os.path.basename(path))
    return lambda path: pathlib.Path(path).absolute().as_uri()
