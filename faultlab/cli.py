"""The ``faultlab`` command.

    faultlab fit --config experiments/train/mini_mobilenet.yaml [--trainer.max_epochs 3]
    faultlab test --config experiments/train/mini_mobilenet.yaml --ckpt_path runs/mini_mobilenet/checkpoints/last.ckpt
    faultlab campaign --checkpoint runs/mini_mobilenet/checkpoints/last.ckpt --fault 'drop(p={rate})' --rates 0,0.1,0.2
    faultlab export --store results/faultlab.sqlite --out results/trials.csv

``fit|validate|test|predict`` are LightningCLI subcommands (configs validated against the signatures,
``--print_config`` shows the resolved config). Checkpoints land in ``runs/<config name>/checkpoints/``.
Torch and Lightning are imported by the subcommand that needs them, so ``--help`` and bad input answer fast.
"""

from __future__ import annotations

import argparse
import sys

from faultlab import FaultlabError
from faultlab.commands import campaign, export, report, stats, sweep
from faultlab.commands._guards import OneLineParser, unknown_arguments_error
from faultlab.files import refusal
from faultlab.runtime import tune_allocator

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
COMMANDS = {"campaign": campaign, "sweep": sweep, "report": report, "stats": stats, "export": export}


def lightning_main(args: list[str] | None = None):
    """Run a LightningCLI subcommand (``fit|validate|test|predict``); Lightning is imported only here."""
    from faultlab.commands.train import lightning_main as run

    return run(args)


def command_parser() -> argparse.ArgumentParser:
    """The parser of the non-Lightning subcommands (one module each under faultlab/commands/)."""
    parser = OneLineParser(
        prog="faultlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Lightning subcommands: " + ", ".join(f"faultlab {c} --help" for c in LIGHTNING_COMMANDS),
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    from_shell = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    tune_allocator()
    try:
        if argv and argv[0] in LIGHTNING_COMMANDS:
            lightning_main(None if from_shell else argv)
            return
        parser = command_parser()
        if not argv or argv[0] in ("-h", "--help"):
            parser.print_help()
            return
        if argv[0] not in COMMANDS:
            known = ", ".join([*LIGHTNING_COMMANDS, *COMMANDS])
            raise FaultlabError(f"unknown command {argv[0]!r}; commands: {known}")
        args, extras = parser.parse_known_args(argv)
        if extras:
            raise unknown_arguments_error(parser._subparsers._group_actions[0].choices[args.command], extras)
        COMMANDS[args.command].run(args)
    except Exception as exc:  # every user error: its message is the whole story, one line, exit status 2
        err = exc if isinstance(exc, FaultlabError) else refusal(exc)  # the OS refusing a write is one too
        if err is None:
            raise
        message = " ".join(str(err).split())  # one line, whatever the message carried
        print(f"faultlab: error: {message}", file=sys.stderr)
        raise SystemExit(getattr(err, "exit_code", 2)) from None


if __name__ == "__main__":
    main()
