"""The ``faultlab`` command.

    faultlab fit --config experiments/train/mini_mobilenet.yaml [--trainer.max_epochs 3]
    faultlab test --config experiments/train/mini_mobilenet.yaml --ckpt_path runs/mini_mobilenet/checkpoints/last.ckpt
    faultlab campaign --checkpoint runs/mini_mobilenet/checkpoints/last.ckpt --fault 'drop(p={rate})' --rates 0,0.1,0.2
    faultlab export --store results/faultlab.sqlite --out results/trials.csv

``fit|validate|test|predict`` are LightningCLI subcommands (configs validated against the signatures,
``--print_config`` shows the resolved config). Checkpoints land in ``runs/<config name>/checkpoints/``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from faultlab import FaultlabError
from faultlab.commands import campaign, export, report, stats, sweep
from faultlab.data import TensorDataModule
from faultlab.faults import FaultSpecError, LayerSelectionError
from faultlab.runtime import tune_allocator
from faultlab.store import FaultlabStoreError
from faultlab.training import Classifier

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
COMMANDS = {"campaign": campaign, "sweep": sweep, "report": report, "stats": stats, "export": export}
# errors whose message is the whole story: printed as one line, exit status 2
USER_ERRORS = (FaultlabError, FaultlabStoreError, FaultSpecError, LayerSelectionError)
RUNS_DIR = "runs"


class FaultlabCLI(LightningCLI):
    """LightningCLI with data modules in subclass mode, ``num_classes``/``input_shape`` linked from the
    data, a checkpoint callback writing ``runs/<config>/checkpoints/last.ckpt``, and clear errors."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.input_shape", "model.input_shape", apply_on="instantiate")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0,
                             "checkpoint.enable_version_counter": False,
                             # progress bars on a terminal, plain logs under CI and in pipes
                             "trainer.enable_progress_bar": sys.stderr.isatty()})

    def before_instantiate_classes(self) -> None:
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        configs = [Path(str(c)) for c in (cfg.get("config") or []) if c]
        name = configs[-1].stem if configs else "default"
        if not cfg.trainer.get("default_root_dir"):
            cfg.trainer.default_root_dir = os.path.join(RUNS_DIR, name)
        if not cfg.checkpoint.get("dirpath"):
            cfg.checkpoint.dirpath = os.path.join(cfg.trainer.default_root_dir, "checkpoints")
        ckpt = cfg.get("ckpt_path")
        if ckpt and ckpt not in ("last", "best", "hpc") and not Path(ckpt).is_file():
            raise FaultlabError(f"checkpoint not found: {ckpt} (train one with 'faultlab fit --config ...')")


def lightning_main(args: list[str] | None = None) -> FaultlabCLI:
    return FaultlabCLI(
        Classifier,
        TensorDataModule,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        args=args,
        auto_configure_optimizers=False,
    )


def command_parser() -> argparse.ArgumentParser:
    """The parser of the non-Lightning subcommands (one module each under faultlab/commands/)."""
    parser = argparse.ArgumentParser(
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
        args = parser.parse_args(argv)
        COMMANDS[args.command].run(args)
    except USER_ERRORS as err:
        print(f"faultlab: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
