"""``faultlab fit|validate|test|predict``: the LightningCLI subcommands (``faultlab.training.cli``), with the
guard that outputs never overwrite inputs (imported only when one runs). Without a progress bar (a pipe, a log
file, CI) ``faultlab fit`` writes one line per epoch to stderr, and it ends with one line on stdout:

    epoch 2/3: val_acc 96.10 % (best 96.10 %, epoch 2), val_loss 0.1412, train_loss 0.0917 (last step), 41.2 s
    fit: best validation accuracy 97.40 % (epoch 1); checkpoint (last) runs/mini_mobilenet/checkpoints/last.ckpt
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lightning.pytorch.callbacks import Callback

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
        self.best_validation = BestValidation()
        self.trainer.callbacks.append(self.best_validation)
        if self.trainer.progress_bar_callback is None:  # no bar: a line per epoch instead of minutes of silence
            self.trainer.callbacks.append(EpochLines(self.best_validation))
        inputs = {k: v for k, v in self._inputs.items() if v and v not in ("last", "best", "hpc")}
        callback = self.trainer.checkpoint_callback
        if callback is not None and callback.dirpath:
            check_output(Path(callback.dirpath) / "last.ckpt", "checkpoint", inputs=inputs, force=self._force,
                         option="checkpoint", folder_may_be_missing=True)
        if self.trainer.log_dir:
            check_output(Path(self.trainer.log_dir) / "config.yaml", "yaml", inputs=inputs, force=self._force,
                         option="saved config", folder_may_be_missing=True)


    def after_fit(self) -> None:
        print(fit_summary(self.trainer, self.best_validation), flush=True)


class BestValidation(Callback):
    """The best ``val_acc`` (accuracy in [0, 1]) a validation of the fit logged, and its epoch; the sanity
    check before training does not count."""

    def __init__(self) -> None:
        self.accuracy: float | None = None
        self.epoch: int | None = None

    def on_validation_end(self, trainer, pl_module) -> None:  # after the epoch's metrics are computed
        value = trainer.callback_metrics.get("val_acc")
        if trainer.sanity_checking or value is None:
            return
        if self.accuracy is None or float(value) > self.accuracy:
            self.accuracy, self.epoch = float(value), trainer.current_epoch


class EpochLines(Callback):
    """One line per training epoch on stderr, flushed: ``epoch 2/3: val_acc 96.10 % (best 96.10 %, epoch 2), val_loss
    0.1412, train_loss 0.0917 (last step), 41.2 s`` (the metrics the module logged, those it did not left out; the
    seconds of the epoch with its validation)."""

    def __init__(self, best: BestValidation) -> None:
        self.best, self.started, self.validated = best, time.perf_counter(), False

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.started, self.validated = time.perf_counter(), False

    def on_validation_end(self, trainer, pl_module) -> None:
        self.validated = self.validated or not trainer.sanity_checking

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # after the epoch's validation, if one ran
        line = epoch_line(trainer, self.best, time.perf_counter() - self.started, validated=self.validated)
        print(line, file=sys.stderr, flush=True)


def epoch_line(trainer, best: BestValidation, seconds: float, validated: bool = True) -> str:
    """The line :class:`EpochLines` writes after ``trainer.current_epoch`` (counted from 1 there); the validation
    metrics only when a validation ran in the epoch (``check_val_every_n_epoch`` > 1 skips some)."""
    metrics = trainer.callback_metrics if validated else {
        k: v for k, v in trainer.callback_metrics.items() if not k.startswith("val_")}
    of = f"/{trainer.max_epochs}" if trainer.max_epochs is not None and trainer.max_epochs > 0 else ""
    parts = []
    if "val_acc" in metrics:
        parts.append(f"val_acc {100 * float(metrics['val_acc']):.2f} %"
                     + (f" (best {100 * best.accuracy:.2f} %, epoch {best.epoch + 1})" if best.accuracy is not None
                        and best.epoch is not None else ""))
    if "val_loss" in metrics:
        parts.append(f"val_loss {float(metrics['val_loss']):.4f}")
    if "train_loss" in metrics:
        parts.append(f"train_loss {float(metrics['train_loss']):.4f} (last step)")
    return f"epoch {trainer.current_epoch + 1}{of}: " + ", ".join([*parts, f"{seconds:.1f} s"])


def fit_summary(trainer, best: BestValidation) -> str:
    """``fit: best validation accuracy 97.40 % (epoch 1); checkpoint (best val_acc) PATH``: the checkpoint a
    ModelCheckpoint monitoring a metric chose as best, else the last one written. Epochs count from 1 here and in
    the epoch lines (Lightning's ``metrics.csv`` and checkpoint names count from 0)."""
    callback = trainer.checkpoint_callback
    path, which = None, ""
    if callback is not None and callback.monitor and callback.best_model_path:
        path, which = callback.best_model_path, f"best {callback.monitor}"
    elif callback is not None and (callback.last_model_path or callback.best_model_path):
        path, which = callback.last_model_path or callback.best_model_path, "last"
    accuracy = ("no validation accuracy (no validation ran)" if best.accuracy is None
                else f"best validation accuracy {100 * best.accuracy:.2f} % (epoch {best.epoch + 1})")
    return f"fit: {accuracy}; " + (f"checkpoint ({which}) {path}" if path else "no checkpoint written")


def lightning_main(args: list[str] | None = None) -> FaultlabCLI:
    return main(args, FitCommand)
