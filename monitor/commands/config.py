"""``call-monitor config``: print the effective configuration as TOML."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..console import error
from .common import ExitStatus, add_config_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print the effective configuration (TOML, documented)",
                       description="Print the configuration in effect: defaults, then "
                                   "$XDG_CONFIG_HOME/callmonitor/config.toml (~/.config by default), then "
                                   "--config FILE.")
    add_config_options(p, db=False)  # a --db here would only echo itself as storage.db
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..config import effective_config_toml, user_config_path
    from .common import ConfigError, config_from_args
    try:
        cfg = config_from_args(args)
    except ConfigError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    print(effective_config_toml(cfg, _home_relative(user_config_path())), end="")
    return ExitStatus.OK


def _home_relative(path: Path) -> str:
    """``path`` with the home folder written ``~``."""
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)
