"""``FaultCampaign``: a Lightning callback running a fault campaign on any LightningModule when a Trainer
finishes testing (or fitting), logging the mean accuracy per rate with its 95 % CI to the Trainer's loggers.

    trainer = L.Trainer(callbacks=[FaultCampaign("stuck_at(sa0=0.01,sa1={rate})", rates=[0, 0.01, 0.02])])
    trainer.test(model, datamodule=dm)       # then: a campaign on dm's test data, logged as fault/accuracy ...

The network is found as ``faultlab campaign --weights`` finds it (``network=`` attribute, else ``net``,
``model``, ``network``, ``backbone``, ``module``, else the LightningModule itself); the data are the
Trainer's test dataloader (after ``test``) or the data module's test dataloader (after ``fit``), unless
``data=`` is given. Rows go into ``store`` when given (else an in-memory store); ``callback.results`` holds the
trial frame.

Logged at the Trainer's current step (never one step per rate), keyed by rate:

- to every logger, scalars named per rate: ``fault/accuracy@0.01`` (mean of the trials), ``fault/ci_low@0.01``,
  ``fault/ci_high@0.01`` (95 % t interval, ``faultlab.stats.ci_halfwidth``, truncated to [0, 1]),
  ``fault/trials@0.01`` (an int); per-layer cells as ``fault/<layer>/accuracy@0.01``, equal counts as ``@K=100``;
- TensorBoard: the figure of accuracy vs rate (``faultlab.plot``), the table as text, and in the sub-run
  ``<log_dir>/fault`` the hyperparameters (the module's and the campaign's fault, trials and seed) with the
  accuracy per rate as their metrics (the HPARAMS tab);
- CSV: ``<log_dir>/fault_by_rate.csv``, one row per cell with its ``rate`` (appended, so a second campaign adds
  rows: step, stage, fault, layer, equal_count, rate, accuracy, ci_low, ci_high, trials);
- W&B (any logger with ``log_table``): the same table, and with wandb a line plot of accuracy vs rate.

``prefix`` (default ``fault``) names them; give two callbacks in one Trainer different prefixes.
The run is opened by ``faultlab.campaign.session.open_lightning``: run id = study + a hash of the weights (the
same rows as any other door on these weights), labelled by the LightningModule's class (``label=`` names it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import pandas as pd
import torch

from faultlab import FaultlabError

Stage = Literal["test", "fit"]


class FaultCampaign(L.Callback):
    """A campaign of ``fault`` over ``rates`` at the end of ``when`` (``"test"``, ``"fit"`` or both); ``campaign``
    takes any ``CampaignSpec`` field with its defaults (``trials``, ``seed``, ``layers``, ``per_layer``, ...)."""

    def __init__(
        self,
        fault: str,
        rates: Sequence[float] = (),
        store: str | Path | None = None,
        *,
        when: Stage | Sequence[Stage] = "test",
        network: str | None = None,
        data: Any = None,
        metric: str | Callable | None = None,
        study: str = "default",
        method: str | None = None,
        train_seed: int | None = None,
        label: str | None = None,
        batch_size: int = 1000,
        prefix: str = "fault",
        **campaign: Any,
    ) -> None:
        from faultlab.campaign import campaign_spec, validate

        self.spec = campaign_spec(fault, rates, **campaign)
        validate(self.spec)  # a bad fault or rate fails when the callback is built, not after training
        self.when = {when} if isinstance(when, str) else set(when)
        if not self.when <= {"test", "fit"}:
            raise FaultlabError(f"when={when!r}; use 'test', 'fit' or both")
        self.store, self.network, self.data, self.metric = store, network, data, metric
        self.study, self.method, self.train_seed, self.label = study, method, train_seed, label
        self.batch_size, self.prefix = batch_size, prefix
        self.results = None  # the trial frame of the last campaign
        self.result = None  # its CampaignResult

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "test" in self.when:
            self._campaign(trainer, pl_module, "test")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "fit" in self.when:
            self._campaign(trainer, pl_module, "fit")

    def _test_data(self, trainer: L.Trainer, stage: Stage) -> Any:
        if self.data is not None:
            return self.data
        if stage == "test" and trainer.test_dataloaders is not None:
            loaders = trainer.test_dataloaders
            return loaders[0] if isinstance(loaders, (list, tuple)) else loaders
        if trainer.datamodule is not None and hasattr(trainer.datamodule, "test_dataloader"):
            return trainer.datamodule
        raise FaultlabError("FaultCampaign after fit needs a datamodule with test_dataloader(), or data=(x, y)")

    def _campaign(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: Stage) -> None:
        if not trainer.is_global_zero:
            return
        from faultlab.campaign.session import campaign_frame, open_lightning
        from faultlab.store import ResultsStore

        modes = {m: m.training for m in pl_module.modules()}
        # Lightning runs the end-of-test hooks under inference mode; fault injection edits weights in place
        with torch.inference_mode(False):
            try:
                session = open_lightning(pl_module, self._test_data(trainer, stage), network=self.network,
                                         study=self.study, method=self.method, train_seed=self.train_seed,
                                         label=self.label, metric=self.metric, batch_size=self.batch_size)
                with ResultsStore(self.store or ":memory:") as store:
                    self.result = session.campaign(self.spec, store)
                    self.results = campaign_frame(store, self.result, self.spec)
            finally:
                for module, training in modes.items():
                    module.train(training)
        self._log(trainer)

    def _log(self, trainer: L.Trainer) -> None:
        step, table = trainer.global_step, self.rate_table()
        table.insert(0, "step", step)
        table.insert(1, "stage", str(getattr(trainer.state.fn, "value", trainer.state.fn)))
        scalars = rate_scalars(table, self.prefix)
        for logger in trainer.loggers:
            if _is_tensorboard(logger):
                _to_tensorboard(logger, self, trainer, table, scalars, step)  # also the scalars
            else:
                logger.log_metrics(scalars, step=step)
            if _is_csv(logger):
                _to_csv(logger, table, self.prefix)
            if hasattr(logger, "log_table"):
                _to_table_logger(logger, table, self.prefix, step)
            logger.save()

    def rate_table(self) -> pd.DataFrame:
        """One row per cell of the last campaign: fault, layer, equal_count, rate, accuracy (mean of the trials),
        ci_low, ci_high (95 % t interval truncated to [0, 1]), trials (int)."""
        return pd.DataFrame([
            {"fault": self.spec.fault, "layer": c.layer, "equal_count": int(c.count), "rate": float(c.rate),
             "accuracy": c.mean, "ci_low": max(0.0, c.mean - c.halfwidth), "ci_high": min(1.0, c.mean + c.halfwidth),
             "trials": int(c.n_trials)} for c in self.result.cells])


# ------------------------------------------------------------------------------------------ logging by rate


def rate_scalars(table: pd.DataFrame, prefix: str = "fault") -> dict[str, float | int]:
    """``{prefix}/accuracy@<rate>``, ``ci_low@``, ``ci_high@``, ``trials@`` (int) per cell of ``table``;
    ``{prefix}/<layer>/...`` for per-layer cells, ``@K=<k>`` for equal-count cells."""
    from faultlab.store import ALL_LAYERS

    out: dict[str, float | int] = {}
    for r in table.itertuples():
        base = prefix if r.layer == ALL_LAYERS else f"{prefix}/{r.layer}"
        level = f"K={r.equal_count}" if r.equal_count else f"{r.rate:g}"
        out.update({f"{base}/accuracy@{level}": float(r.accuracy), f"{base}/ci_low@{level}": float(r.ci_low),
                    f"{base}/ci_high@{level}": float(r.ci_high), f"{base}/trials@{level}": int(r.trials)})
    return out


def _is_tensorboard(logger: Any) -> bool:
    from lightning.pytorch.loggers import TensorBoardLogger

    return isinstance(logger, TensorBoardLogger)


def _is_csv(logger: Any) -> bool:
    from lightning.pytorch.loggers import CSVLogger

    return isinstance(logger, CSVLogger)


def _figure(callback: FaultCampaign):
    """Accuracy vs rate of a whole-network campaign, the per-layer drop of a per-layer one."""
    from faultlab import plot

    if callback.spec.mode is None:
        return plot.accuracy_vs_rate(callback.results)
    return plot.layer_sensitivity(callback.results)


def _markdown(table: pd.DataFrame) -> str:
    """The cells as a Markdown table (TensorBoard's text plugin renders it)."""
    cols = ["layer", "equal_count", "rate", "accuracy", "ci_low", "ci_high", "trials"]

    def cell(col: str, v: Any) -> str:
        return f"{v:g}" if col == "rate" else f"{v:.4f}" if isinstance(v, float) else str(v)

    rows = ["| " + " | ".join(cell(c, v) for c, v in zip(cols, row)) + " |"
            for row in table[cols].itertuples(index=False)]
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols), *rows])


def _hparams(trainer: L.Trainer, callback: FaultCampaign) -> dict[str, int | float | str | bool]:
    """The module's hyperparameters (flattened, other values as text) and the campaign's settings."""
    def flat(d: dict, head: str = "") -> dict:
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{head}{k}/") if isinstance(v, dict) else {f"{head}{k}": v})
        return out

    spec, p = callback.spec, callback.prefix
    params = {**flat(dict(getattr(trainer.lightning_module, "hparams", {}) or {})),
              f"{p}/template": spec.fault, f"{p}/trials_per_rate": str(spec.trials), f"{p}/seed": spec.seed}
    return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in params.items()}


def _to_tensorboard(logger: Any, callback: FaultCampaign, trainer: L.Trainer, table: pd.DataFrame,
                    scalars: dict, step: int) -> None:
    """The scalars, the figure and the table in the run; the hyperparameters with the accuracy per rate as
    their metrics in the run's ``<prefix>`` sub-run (TensorBoard's HPARAMS tab; the run's own hparams entry is
    Lightning's, written at fit start)."""
    p, writer = callback.prefix, logger.experiment
    logger.log_metrics(scalars, step=step)
    writer.add_figure(f"{p}/accuracy_vs_rate", _figure(callback), global_step=step, close=False)
    writer.add_text(f"{p}/by_rate", _markdown(table), global_step=step)
    accuracy = {k: v for k, v in scalars.items() if "/accuracy@" in k}
    writer.add_hparams(_hparams(trainer, callback), accuracy, run_name=p.replace("/", "_"), global_step=step)


def _to_csv(logger: Any, table: pd.DataFrame, prefix: str) -> None:
    """Append the cells to ``<log_dir>/<prefix>_by_rate.csv`` (rows keyed by rate)."""
    path = Path(logger.log_dir) / f"{prefix.replace('/', '_')}_by_rate.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, mode="a", header=not path.exists(), index=False)


def _to_table_logger(logger: Any, table: pd.DataFrame, prefix: str, step: int) -> None:
    """W&B (Lightning's ``log_table``): the table, and a line plot of accuracy vs rate when wandb is there."""
    logger.log_table(key=f"{prefix}/by_rate", dataframe=table, step=step)
    try:
        import wandb
    except ImportError:
        return
    whole = wandb.Table(dataframe=table[["rate", "accuracy", "ci_low", "ci_high"]])
    logger.log_metrics({f"{prefix}/accuracy_vs_rate": wandb.plot.line(whole, "rate", "accuracy",
                                                                      title="accuracy vs fault rate")}, step=step)
