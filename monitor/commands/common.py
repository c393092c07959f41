"""Options and helpers shared by commands (config, database)."""

from __future__ import annotations

import argparse
import os

from ..config import Config, ConfigError, load_config
from ..store import Store, StoreError


def add_config_options(p: argparse.ArgumentParser, db: bool = True) -> None:
    p.add_argument("--config", metavar="FILE", help="configuration file (TOML) on top of "
                   "~/.config/callmonitor/config.toml")
    if db:
        p.add_argument("--db", metavar="FILE", help="SQLite database (default from the configuration: "
                       "~/.local/share/callmonitor/events.db)")


def config_from_args(args: argparse.Namespace, overrides: dict | None = None) -> Config:
    """Load the effective configuration; raises ConfigError with a one-line message."""
    extra = dict(overrides or {})
    if getattr(args, "db", None):
        extra["storage.db"] = args.db
    if args.config and not os.path.isfile(args.config):
        raise ConfigError(f"{args.config}: no such configuration file")
    return load_config(args.config, extra or None)


def open_store(cfg: Config) -> Store:
    return Store.open(os.path.expanduser(cfg.storage.db), snapshot_every_s=cfg.storage.snapshot_every_s)


__all__ = ["add_config_options", "config_from_args", "open_store", "ConfigError", "StoreError"]
