"""``call-monitor config``: print the effective configuration as TOML."""

from __future__ import annotations

import argparse

from ..config import user_config_path
from ..console import error
from .common import ExitStatus, add_config_options, help_path, home_relative


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print the effective configuration (TOML, documented)",
                       description="Print the configuration in effect: defaults, then "
                                   f"{help_path(user_config_path, 'the user configuration')} "
                                   "($XDG_CONFIG_HOME/callmonitor/config.toml), "
                                   "then --config FILE. Secrets (the console's agent tokens, a URL's query "
                                   "values and path after its first segment) are hidden, each as "
                                   "***(N characters), unless "
                                   "--show-secrets.")
    p.add_argument("--show-secrets", action="store_true",
                   help="print the secrets in full, so that the output can be saved as a configuration "
                        "(keep that file private: chmod 600); a configuration saved with them hidden is refused")
    add_config_options(p, db=False)  # a --db here would only echo itself as storage.db
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..config import effective_config_toml
    from .common import ConfigError, config_from_args
    try:
        cfg = config_from_args(args)
    except ConfigError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    print(effective_config_toml(cfg, home_relative(user_config_path()), secrets=args.show_secrets), end="")
    return ExitStatus.OK

