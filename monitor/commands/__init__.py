"""One module per ``call-monitor`` subcommand: ``add_parser(subparsers)`` and ``run(args) -> int``."""
