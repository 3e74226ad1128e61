"""``FaultCampaign``: a Lightning callback running a fault campaign on any LightningModule when a Trainer
finishes testing (or fitting), logging the mean accuracy per rate with its 95 % CI to the Trainer's loggers.

    trainer = L.Trainer(callbacks=[FaultCampaign("stuck_at(sa0=0.01,sa1={rate})", rates=[0, 0.01, 0.02])])
    trainer.test(model, datamodule=dm)       # then: a campaign on dm's test data, logged as fault/accuracy ...

The network is found as ``faultlab campaign --weights`` finds it (``network=`` attribute, else ``net``,
``model``, ``network``, ``backbone``, ``module``, else the LightningModule itself); the data are the
Trainer's test dataloader (after ``test``) or the data module's test dataloader (after ``fit``), unless
``data=`` is given. One logged step per rate: ``fault/rate``, ``fault/accuracy`` (mean of the trials),
``fault/ci_low``, ``fault/ci_high`` (t-interval, ``faultlab.stats.ci_halfwidth``), ``fault/trials``.
Rows go into ``store`` when given (else an in-memory store); ``callback.results`` holds the trial frame.
The run is opened by ``faultlab.campaign.session.open_lightning``: run id = study + a hash of the weights (the
same rows as any other door on these weights), labelled by the LightningModule's class (``label=`` names it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
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
        p = self.prefix
        for step, cell in enumerate(self.result.cells):
            metrics = {f"{p}/rate": cell.rate, f"{p}/accuracy": cell.mean, f"{p}/ci_low": cell.mean - cell.halfwidth,
                       f"{p}/ci_high": cell.mean + cell.halfwidth, f"{p}/trials": float(cell.n_trials)}
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=step)
        for logger in trainer.loggers:
            logger.save()
