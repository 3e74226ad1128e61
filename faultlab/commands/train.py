"""``faultlab fit|validate|test|predict``: the LightningCLI subcommands (imported only when one runs)."""

from __future__ import annotations

import difflib
import os
import re
import sys
from argparse import ArgumentError
from pathlib import Path

from jsonargparse import Namespace
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from faultlab import FaultlabError
from faultlab.data import TensorDataModule
from faultlab.names import check_name
from faultlab.training import Classifier

RUNS_DIR = "runs"


class FaultlabCLI(LightningCLI):
    """LightningCLI with data modules in subclass mode, ``num_classes``/``input_shape`` linked from the
    data, a checkpoint callback writing ``runs/<config>/checkpoints/last.ckpt``, and clear errors."""

    def init_parser(self, **kwargs):
        """Parsers that raise instead of printing the usage, and take no abbreviations (``--trainer.max_epoch``
        is an error, not ``max_epochs``)."""
        kwargs.update(exit_on_error=False, allow_abbrev=False)
        return super().init_parser(**kwargs)

    def parse_arguments(self, parser, args) -> None:
        """A parse error is one FaultlabError line with the closest option and a pointer to --help."""
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as err:
            argv = sys.argv[1:] if args is None else list(args)
            command = next((a for a in argv if a in self._subcommand_parsers), None)
            known = self._subcommand_parsers[command] if command else parser
            raise FaultlabError(explain(str(err), known, f"faultlab {command or ''}".strip())) from None

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.input_shape", "model.input_shape", apply_on="instantiate")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_argument("--force", action="store_true",
                            help="replace an existing last.ckpt / config.yaml that is not one (never an input)")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0,
                             "checkpoint.enable_version_counter": False,
                             # progress bars on a terminal, plain logs under CI and in pipes
                             "trainer.enable_progress_bar": sys.stderr.isatty()})

    def before_instantiate_classes(self) -> None:
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        configs = [Path(str(c)) for c in (cfg.get("config") or []) if c]
        name = configs[-1].stem if configs else "default"
        if not cfg.trainer.get("default_root_dir"):
            cfg.trainer.default_root_dir = os.path.join(RUNS_DIR, check_name(
                name, "run name (the config file's name)", "rename the file or pass --trainer.default_root_dir DIR"))
        if not cfg.checkpoint.get("dirpath"):
            cfg.checkpoint.dirpath = os.path.join(cfg.trainer.default_root_dir, "checkpoints")
        if cfg.trainer.get("logger") in (None, True) and not tensorboard_available():
            # the CSV logger Lightning falls back to, named, so it does not warn on every fit
            cfg.trainer.logger = Namespace(class_path="lightning.pytorch.loggers.CSVLogger",
                                           init_args=Namespace(save_dir=cfg.trainer.default_root_dir))
        ckpt = cfg.get("ckpt_path")
        if ckpt and ckpt not in ("last", "best", "hpc") and not Path(ckpt).is_file():
            raise FaultlabError(f"checkpoint not found: {ckpt} (train one with 'faultlab fit --config ...')")
        self._inputs = {**{f"config {c}": c for c in configs}, "checkpoint (--ckpt_path)": ckpt}
        self._force = bool(cfg.get("force"))

    def _run_subcommand(self, subcommand: str) -> None:
        """A write the OS refuses (full disk, read-only folder) removes the logs and files this command
        created and ends in one line (``faultlab.files.undone_on_refusal``); checkpoints are atomic."""
        from faultlab.files import quiet_thread_refusals, undone_on_refusal

        quiet_thread_refusals()
        callback = self.trainer.checkpoint_callback
        folders = [self.trainer.default_root_dir, *(lg.save_dir for lg in self.trainer.loggers),
                   getattr(callback, "dirpath", None)]
        with undone_on_refusal([Path(f) for f in folders if f], f"faultlab {subcommand} outputs under"):
            super()._run_subcommand(subcommand)

    def before_fit(self) -> None:
        """Outputs never overwrite inputs: the checkpoint and the saved config are checked before training."""
        from faultlab.commands._guards import check_output

        inputs = {k: v for k, v in self._inputs.items() if v and v not in ("last", "best", "hpc")}
        callback = self.trainer.checkpoint_callback
        if callback is not None and callback.dirpath:
            check_output(Path(callback.dirpath) / "last.ckpt", "checkpoint", inputs=inputs, force=self._force,
                         option="checkpoint", folder_may_be_missing=True)
        if self.trainer.log_dir:
            check_output(Path(self.trainer.log_dir) / "config.yaml", "yaml", inputs=inputs, force=self._force,
                         option="saved config", folder_may_be_missing=True)


def tensorboard_available() -> bool:
    """Whether Lightning's default logger is TensorBoard (``pip install faultlab[tensorboard]``)."""
    from lightning.pytorch.trainer.connectors.logger_connector import logger_connector

    return bool(logger_connector._TENSORBOARD_AVAILABLE or logger_connector._TENSORBOARDX_AVAILABLE)


def explain(message: str, parser, prog: str) -> str:
    """``message`` on one line, with a did-you-mean for each option or key of it that ``parser`` lacks."""
    keys = sorted(k.lstrip("-") for k in parser._option_string_actions if k.startswith("--"))
    hints = []
    for name in dict.fromkeys(re.findall(r"(?:--|')([A-Za-z_][\w.]*)", message)):
        if name not in keys:
            close = difflib.get_close_matches(name, keys, n=1, cutoff=0.7)
            if close:
                hints.append(f"{name}: did you mean {close[0]}?")
    text = " ".join(message.split())
    return f"{text}{' (' + '; '.join(hints) + ')' if hints else ''}; see '{prog} --help'"


def build(config: dict) -> FaultlabCLI:
    """Model, data module and trainer from a ``faultlab fit`` config, built as ``faultlab fit --config`` builds
    them (seed, links, instantiation) but not run and with no config file written (the sweep trains with it)."""
    from unittest import mock

    with mock.patch.object(sys, "argv", sys.argv[:1]):  # the config is the whole input (no sys.argv warning)
        return FaultlabCLI(Classifier, TensorDataModule, subclass_mode_data=True, args=config, run=False,
                           save_config_callback=None, auto_configure_optimizers=False)


def lightning_main(args: list[str] | None = None) -> FaultlabCLI:
    return FaultlabCLI(
        Classifier,
        TensorDataModule,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        args=args,
        auto_configure_optimizers=False,
    )
