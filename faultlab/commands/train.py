"""``faultlab fit|validate|test|predict``: the LightningCLI subcommands (``faultlab.training.cli``), with the
guard that outputs never overwrite inputs (imported only when one runs)."""

from __future__ import annotations

from pathlib import Path

from faultlab.training.cli import FaultlabCLI, main

from ._guards import check_output


class FitCommand(FaultlabCLI):
    """``faultlab fit``: the checkpoint and the saved config are checked before training (``--force`` replaces
    an existing one that is not an input)."""

    def add_arguments_to_parser(self, parser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument("--force", action="store_true",
                            help="replace an existing last.ckpt / config.yaml that is not one (never an input)")

    def before_instantiate_classes(self) -> None:
        super().before_instantiate_classes()
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        configs = [str(c) for c in (cfg.get("config") or []) if c]
        self._inputs = {**{f"config {c}": c for c in configs}, "checkpoint (--ckpt_path)": cfg.get("ckpt_path")}
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
        inputs = {k: v for k, v in self._inputs.items() if v and v not in ("last", "best", "hpc")}
        callback = self.trainer.checkpoint_callback
        if callback is not None and callback.dirpath:
            check_output(Path(callback.dirpath) / "last.ckpt", "checkpoint", inputs=inputs, force=self._force,
                         option="checkpoint", folder_may_be_missing=True)
        if self.trainer.log_dir:
            check_output(Path(self.trainer.log_dir) / "config.yaml", "yaml", inputs=inputs, force=self._force,
                         option="saved config", folder_may_be_missing=True)


def lightning_main(args: list[str] | None = None) -> FaultlabCLI:
    return main(args, FitCommand)
