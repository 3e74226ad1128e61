"""``faultlab fit|validate|test|predict``: the LightningCLI subcommands (imported only when one runs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from faultlab import FaultlabError
from faultlab.data import TensorDataModule
from faultlab.training import Classifier

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
