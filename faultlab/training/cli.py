"""The LightningCLI construction ``faultlab fit|validate|test`` and every sweep run share: one parser (configs
checked against the signatures, ``num_classes``/``input_shape`` linked from the data module), one seed, one
instantiation, so a sweep run has the weights ``faultlab fit`` gives on its config.

    cli = build({"seed_everything": 0, "model": {"arch": "mlp"}, "trainer": {"max_epochs": 1},
                 "data": {"class_path": "faultlab.data.Moons"}})     # built, not run
    cli.trainer.fit(cli.model, cli.datamodule)

A bad key or value is one ``ConfigError`` line with the closest option (no usage text, no abbreviations:
``--trainer.max_epoch`` is an error, not ``max_epochs``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from argparse import ArgumentError
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from faultlab import FaultlabError
from faultlab.data import TensorDataModule
from faultlab.names import check_name
from faultlab.parsing import ConfigError, config_error, install, one_line

from .module import Classifier

RUNS_DIR = "runs"
LIGHTNING_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class _NoTips(logging.Filter):
    """Drop Lightning's advertising tips ("💡 Tip: ... try installing ...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in str(record.msg)


def quiet_lightning() -> None:
    """Keep Lightning's deprecation warnings (``LeafSpec`` ...) and tips out of the terminal and logs."""
    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=r"lightning(\.|$)")
        warnings.filterwarnings("ignore", category=category, module=r"torch\.utils\._pytree")
    for name in LIGHTNING_LOGGERS:
        log = logging.getLogger(name)
        if not any(isinstance(f, _NoTips) for f in log.filters):
            log.addFilter(_NoTips())


@contextlib.contextmanager
def lightning_info_silenced() -> Iterator[None]:
    """Lightning's info lines ("Seed set to 0", "GPU available: ...") held back while a parser is built only to
    check a config (a study's dry run), not to train."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", *LIGHTNING_LOGGERS)]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


class FaultlabCLI(LightningCLI):
    """LightningCLI with data modules in subclass mode, ``num_classes``/``input_shape`` linked from the data, a
    checkpoint callback writing ``runs/<config>/checkpoints/last.ckpt``, and one-line errors."""

    def init_parser(self, **kwargs: Any):
        """Parsers that raise instead of printing the usage, take no abbreviations, read YAML safely."""
        install()
        quiet_lightning()
        kwargs.update(exit_on_error=False, allow_abbrev=False)
        return super().init_parser(**kwargs)

    _parsers: dict[tuple, Any] = {}  # a built run's parser, per CLI class (building one takes about 0.3 s)

    def setup_parser(self, add_subcommands: bool, main_kwargs: dict[str, Any], subparser_kwargs: dict[str, Any]):
        """The parser of a run built from a mapping (no subcommands) is made once per process and reused."""
        key = (type(self), self._model_class, self._datamodule_class, self.trainer_class, sys.stderr.isatty())
        if add_subcommands or key not in self._parsers:
            super().setup_parser(add_subcommands, main_kwargs, subparser_kwargs)
            if not add_subcommands:
                self._parsers[key] = self.parser
        else:
            self.parser = self._parsers[key]

    def parse_arguments(self, parser, args) -> None:
        """A config mapping is the whole input (no sys.argv check); a parse error is one ConfigError line."""
        try:
            if isinstance(args, dict):
                self.config = parser.parse_object(args)
            else:
                super().parse_arguments(parser, args)
        except ArgumentError as err:
            argv = sys.argv[1:] if args is None else list(args) if not isinstance(args, dict) else []
            command = next((a for a in argv if a in self._subcommand_parsers), None)
            known = self._subcommand_parsers[command] if command else parser
            error = config_error(err, known, f"faultlab {command}" if command else None)
            if error.key.endswith("fault_aware.method"):  # the single mapping of earlier versions
                raise ConfigError(f"{error.key}: the fault_aware: {{method: ...}} mapping of earlier versions is a "
                                  "class now: write model.fault_aware: {class_path: DropConnect, init_args: {p: 0.3}} "
                                  "(AConnect, StuckAt, MAT, RandomLevelNoise, HWTransform; docs/campaigns.md)",
                                  error.key) from None
            raise error from None

    def instantiate_classes(self) -> None:
        """A class that refuses its arguments (``DropConnect(p=1.5)``, ``Trainer(max_epochs=-5)``, an accelerator
        whose package is missing) is one ConfigError line too; jsonargparse wraps the error of a class under a
        union type in its own text, which :func:`~faultlab.parsing.problem` reads."""
        try:
            super().instantiate_classes()
        except FaultlabError:
            raise
        except (TypeError, ValueError) as err:
            raise config_error(err, self.parser) from None
        except Exception as err:  # Lightning's MisconfigurationException, ModuleNotFoundError of an accelerator
            raise ConfigError(f"{type(err).__name__}: {one_line(err)}") from None

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


def tensorboard_available() -> bool:
    """Whether Lightning's default logger is TensorBoard (``pip install faultlab[tensorboard]``)."""
    from lightning.pytorch.trainer.connectors.logger_connector import logger_connector

    return bool(logger_connector._TENSORBOARD_AVAILABLE or logger_connector._TENSORBOARDX_AVAILABLE)


def build(config: dict[str, Any]) -> FaultlabCLI:
    """Model, data module and trainer from a ``faultlab fit`` config mapping, built as ``faultlab fit --config``
    builds them (parser, links, seed, instantiation) but not run and with no config file written."""
    return FaultlabCLI(Classifier, TensorDataModule, subclass_mode_data=True, args=config, run=False,
                       save_config_callback=None, auto_configure_optimizers=False)


def main(args: list[str] | None = None, cli: type[FaultlabCLI] = FaultlabCLI) -> FaultlabCLI:
    """``faultlab fit|validate|test|predict ARGS`` (``cli``: a subclass adding command-line guards)."""
    return cli(Classifier, TensorDataModule, subclass_mode_data=True, save_config_kwargs={"overwrite": True},
               args=args, auto_configure_optimizers=False)
