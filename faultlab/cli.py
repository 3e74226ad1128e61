"""The ``faultlab`` command.

    faultlab fit --config experiments/train/mini_mobilenet.yaml [--trainer.max_epochs 3]
    faultlab campaign --checkpoint runs/mini_mobilenet/checkpoints/last.ckpt --fault 'drop(p={rate})' --rates 0,0.1,0.2
    faultlab sweep experiments/demo.yaml --workers 2
    faultlab export --store results/faultlab.sqlite --out results/trials.csv

Every command is configured the same way (jsonargparse, as LightningCLI): options on the command line, or in a
YAML file given with --config (--print_config writes one). ``fit|validate|test|predict`` are LightningCLI
subcommands; checkpoints land in ``runs/<config name>/checkpoints/``. Torch and Lightning are imported by the
command that needs them, so --help and bad input answer fast.
"""

from __future__ import annotations

import difflib
import importlib
import sys

from faultlab import FaultlabError, __version__
from faultlab.files import refusal
from faultlab.runtime import mark_command_start, tune_allocator

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
COMMANDS = ("campaign", "sweep", "stats", "report", "export", "faults")  # modules of faultlab/commands/


def usage() -> str:
    """The top-level help: each command with the HELP line of its module."""
    helps = {c: "LightningCLI: train / evaluate a Classifier from a config" for c in LIGHTNING_COMMANDS}
    helps.update({c: importlib.import_module(f"faultlab.commands.{c}").HELP for c in COMMANDS})
    commands = "\n".join(f"  {name:10s} {text}" for name, text in helps.items())
    return (f"usage: faultlab COMMAND [--config FILE] [options] | faultlab --version\n\n{__doc__}\n"
            f"commands ('faultlab COMMAND --help' for its options):\n{commands}")


def run_command(name: str, argv: list[str]) -> None:
    """Parse ``argv`` with the command's parser (``faultlab/commands/<name>.py``) and run it."""
    from faultlab.parsing import parse

    module = importlib.import_module(f"faultlab.commands.{name}")
    parser = module.build_parser()
    if name == "sweep":
        argv = module.study_args(argv, parser)
    module.run(parser.instantiate(parse(parser, argv)))


def main(argv: list[str] | None = None) -> None:
    mark_command_start()
    from_shell = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    tune_allocator()
    try:
        if argv and argv[0] in LIGHTNING_COMMANDS:
            from faultlab.commands.train import lightning_main

            lightning_main(None if from_shell else argv)
        elif not argv or argv[0] in ("-h", "--help"):
            print(usage())
        elif argv[0] == "--version":
            print(f"faultlab {__version__}")
        elif argv[0] in COMMANDS:
            run_command(argv[0], argv[1:])
        else:
            close = difflib.get_close_matches(argv[0], [*LIGHTNING_COMMANDS, *COMMANDS], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise FaultlabError(f"unknown command {argv[0]!r}{hint}; commands: "
                                f"{', '.join([*LIGHTNING_COMMANDS, *COMMANDS])} (see 'faultlab --help')")
    except Exception as exc:  # every user error: its message is the whole story, one line, exit status 2
        err = exc if isinstance(exc, FaultlabError) else refusal(exc)  # the OS refusing a write is one too
        if err is None:
            raise
        message = " ".join(str(err).split())  # one line, whatever the message carried
        print(f"faultlab: error: {message}", file=sys.stderr)
        raise SystemExit(getattr(err, "exit_code", 2)) from None


if __name__ == "__main__":
    main()
