"""``faultlab`` subcommands beyond LightningCLI's: each module has ``add_parser(subparsers)`` and ``run(args)``."""
