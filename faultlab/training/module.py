"""The ``Classifier`` LightningModule: a zoo network by name, trained by any torch optimizer (and scheduler),
optionally fault-aware. The optimizer and scheduler are callables, as LightningCLI passes them:

    model = Classifier(arch="mini_mobilenet", num_classes=10, input_shape=(1, 28, 28),
                       optimizer=lambda p: torch.optim.Adam(p, lr=3e-3))
    model = Classifier(arch="mlp", fault_aware=DropConnect(p=0.3), train_seed=0)

and in a ``faultlab fit`` config ``model.optimizer: {class_path: torch.optim.SGD, init_args: {lr: 0.1}}``,
``model.fault_aware: {class_path: DropConnect, init_args: {p: 0.3}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor
from torch.func import functional_call
from torchmetrics.classification import MulticlassAccuracy

import architectures
from faultlab import FaultlabError
from faultlab.faults import LayerSelectionError, make_generator
from faultlab.injection import fault_targets, layer_weights, parameter_updates, recalibrate_bn

from .methods import FaultAwareMethod
from .perturb import perturb, step_seed
from .plain_data import method_from_config


class Classifier(L.LightningModule):
    """Image/feature classifier around ``architectures.build_for_input(arch, ...)``.

    Args:
        arch: registry name (``resnet20``, ``resnet20-lb[s2b3c2e6]``, ``mini_mobilenet``, ``timm:<name>``, ...).
        arch_kwargs: extra keyword arguments of the architecture (e.g. ``{"blocks": [[8, 1, 6]]}``).
        num_classes, input_shape: linked from the data module by the CLI.
        optimizer: a callable from the network's parameters to a ``torch.optim.Optimizer`` (default: Adam, lr 1e-3);
            in a config, a class path with its init args (``{class_path: torch.optim.SGD, init_args: {lr: 0.1}}``).
        lr_scheduler: a callable from the optimizer to a ``torch.optim.lr_scheduler`` stepped once per epoch
            (``{class_path: torch.optim.lr_scheduler.MultiStepLR, init_args: {milestones: [100, 150]}}``); None: none.
            Neither is kept in ``hparams``: a checkpoint rebuilds its network without them.
        channels_last: memory format for 4-D inputs and conv weights (1.4-2.2x faster on CPU here).
        fault_aware: fault-aware training method (a ``faultlab.training.methods`` class, e.g. ``DropConnect``;
            plain data ``{class_path, init_args}`` or an earlier version's mapping from a checkpoint); None:
            vanilla. Validation and test run clean unless the method's ``eval_fault`` is given.
        train_seed: keys the training fault maps (with the step); the CLI links ``seed_everything`` to it.
    """

    def __init__(
        self,
        arch: str = "mini_mobilenet",
        arch_kwargs: dict[str, Any] | None = None,
        num_classes: int = 10,
        input_shape: Sequence[int] = (1, 28, 28),
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        channels_last: bool = True,
        fault_aware: FaultAwareMethod | None = None,
        train_seed: int | None = None,
    ) -> None:
        super().__init__()
        self.make_optimizer, self.make_lr_scheduler = optimizer, lr_scheduler
        self.fault_aware = method_from_config(dict(fault_aware) if isinstance(fault_aware, Mapping) else fault_aware)
        fault_aware = self.fault_aware.config() if self.fault_aware is not None else None  # hparams: plain data
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])  # reads the __init__ locals as they are now
        try:
            self.net = architectures.build_for_input(arch, num_classes, input_shape, **(arch_kwargs or {}))
        except (ValueError, TypeError) as err:
            raise FaultlabError(str(err)) from err
        self.channels_last = channels_last and len(input_shape) == 3
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.variant = getattr(self.net, "variant", arch)
        self.val_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        try:  # layer names resolved once, not per step
            self.fault_layers = self.fault_aware.layers.select(self.net) if self.fault_aware is not None else []
        except LayerSelectionError as err:
            raise FaultlabError(f"fault_aware: {err}") from None
        # networks the optimizer trains instead of ``net`` (MSNAT's clients), fused into ``net`` by end_round
        self.clients = self.fault_aware.replicas(self.net) if self.fault_aware is not None else None
        self._round_open = False  # training batches ran since the last end_round
        self._frozen: dict[str, tuple[Tensor, Tensor]] = {}  # layer -> (faulty mask, pre-step values)
        self.last_faulty: dict[str, Tensor] = {}  # faulty masks of the last training step (frozen methods)
        self.bn_reestimated = 0  # batches used by the BatchNorm re-estimation after fit

    @property
    def method(self) -> str:
        """The fault-aware training method's name (``vanilla`` without one)."""
        return self.fault_aware.name if self.fault_aware is not None else "vanilla"

    @property
    def perturbing(self) -> bool:
        """Whether training steps of the current epoch run on perturbed weights (after ``clean_epochs``)."""
        method = self.fault_aware
        return method is not None and bool(method.faults) and self.current_epoch >= method.clean_epochs

    def eval_weight_scale(self, p: float) -> float:
        """Weight factor s a campaign must apply under drop(p): W' = s · (W ⊙ M).

        s = 1/(1 - p) for a model trained with ``DropConnect`` and ``rescale: true`` (the same
        convention as its training), else 1 (the default: no rescaling in either phase).
        """
        return self.fault_aware.eval_weight_scale(p) if self.fault_aware is not None else 1.0

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self._prep(x))

    def _prep(self, x: Tensor) -> Tensor:
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    @property
    def _bias(self) -> bool:
        return self.fault_aware is not None and self.fault_aware.bias

    def fault_targets(self) -> dict[str, Tensor]:
        """What the fault maps per selected layer: ``.weight``, or [W | b] when biases are mapped."""
        return fault_targets(self.net, self.fault_layers, self._bias)

    def run_on(self, x: Tensor, weights: dict[str, Tensor]) -> Tensor:
        """The network on replaced layer weights (and biases): ``functional_call(net, {layer.weight: W'}, x)``."""
        return functional_call(self.net, parameter_updates(self.net, weights, self._bias), (x,))

    # -- steps -----------------------------------------------------------------------------------
    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        x = self._prep(x)
        self._round_open = True
        loss = self.fault_aware_loss(x, y, batch_idx) if self.perturbing else F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def fault_aware_loss(self, x: Tensor, y: Tensor, batch_idx: int) -> Tensor:
        """The method's loss on freshly drawn fault maps, keyed by (train_seed, global_step, batch_idx)."""
        assert self.fault_aware is not None
        seed = step_seed(self.hparams.train_seed, self.global_step, batch_idx)
        return self.fault_aware.training_loss(self, x, y, seed)

    def remember_frozen(self, clean: dict[str, Tensor], faulty: dict[str, Tensor]) -> None:
        """Keep the failed-device weights' values (union over accumulated batches) for the restore."""
        for name, mask in faulty.items():
            if name in self._frozen:
                mask = mask | self._frozen[name][0]
            self._frozen[name] = (mask, clean[name].detach().masked_select(mask))
        self.last_faulty = {name: mask for name, (mask, _) in self._frozen.items()}

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        """The optimizer step, then (HWTransform, StuckAt) restore the weights on failed devices, so
        momentum, Adam moments and weight decay cannot move them either, and (``clip_w``) clip."""
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        if self.fault_aware is None or not (self._frozen or self.fault_aware.clip_w):
            return
        with torch.no_grad():
            targets = self.fault_targets()
            restored = {n: targets[n].masked_scatter(mask, values) for n, (mask, values) in self._frozen.items()}
            params = dict(self.net.named_parameters())
            for key, value in parameter_updates(self.net, restored, self._bias).items():
                params[key].copy_(value)
        self._frozen = {}
        nets = self.clients if self.clients is not None else [self.net]
        self.fault_aware.after_optimizer_step([w for n in nets for w in layer_weights(n, self.fault_layers).values()])

    def _eval_step(self, batch: tuple[Tensor, Tensor], batch_idx: int, prefix: str, metric: MulticlassAccuracy) -> None:
        x, y = batch
        method = self.fault_aware
        if method is not None and method.eval_model is not None:  # one map per batch, keyed by (split, epoch, batch)
            seed = step_seed(self.hparams.train_seed, prefix, self.current_epoch, batch_idx)
            weights, _ = perturb(self.fault_targets(), method.eval_model, make_generator(seed, x.device),
                                 natural=False, scale=method.eval_scale)
            logits = self.run_on(self._prep(x), weights)
        else:
            logits = self(x)
        metric.update(logits, y)
        self.log(f"{prefix}_loss", F.cross_entropy(logits, y), prog_bar=True)
        self.log(f"{prefix}_acc", metric, prog_bar=True)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val", self.val_acc)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test", self.test_acc)

    # -- fit hooks -------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        if self.fault_aware is not None:
            self.fault_aware.check_trainer(self.trainer)
        max_epochs = self.trainer.max_epochs
        clean_epochs = self.fault_aware.clean_epochs if self.fault_aware is not None else 0
        if max_epochs is not None and 0 <= max_epochs < clean_epochs:
            raise FaultlabError(
                f"fault_aware: clean_epochs={clean_epochs} exceeds trainer.max_epochs={max_epochs}; "
                "the model would never train under faults"
            )

    def _end_round(self) -> None:
        """The method's end of an epoch's training (MSNAT's fusion), once, before validation or the epoch end."""
        if self._round_open and self.fault_aware is not None:
            self.fault_aware.end_round(self)
        self._round_open = False

    def on_validation_epoch_start(self) -> None:
        self._end_round()

    def on_train_epoch_end(self) -> None:
        """End the round (MSNAT: fuse the clients); after the final epoch (before the last checkpoint) re-estimate
        BatchNorm statistics on the clean weights over ``bn_reestimate_batches`` training batches (DESIGN.md §3)."""
        self._end_round()
        n = self.fault_aware.bn_reestimate_batches if self.fault_aware is not None else 0
        if n > 0 and self._final_epoch():
            dm = self.trainer.datamodule
            loader = dm.train_dataloader() if dm is not None else self.trainer.train_dataloader
            batches = (self._prep(x.to(self.device)) for x, _ in loader)
            self.bn_reestimated = recalibrate_bn(self.net, batches, n)

    def _final_epoch(self) -> bool:
        t = self.trainer
        by_epochs = t.max_epochs is not None and t.max_epochs >= 0 and self.current_epoch + 1 >= t.max_epochs
        by_steps = t.max_steps is not None and t.max_steps >= 0 and t.global_step >= t.max_steps
        return bool(t.should_stop or by_epochs or by_steps)

    # -- optimisation ----------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        """``optimizer(parameters)``, and ``lr_scheduler(optimizer)`` stepped per epoch; a bad value of either
        (``lr: -1``, a missing ``T_max``) is one FaultlabError line."""
        try:
            opt = self.make_optimizer((self.clients if self.clients is not None else self.net).parameters())
            if self.make_lr_scheduler is None:
                return opt
            sched = self.make_lr_scheduler(opt)
        except (TypeError, ValueError) as err:
            raise FaultlabError(f"model.optimizer / model.lr_scheduler: {err}") from None
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


def load_classifier(path: str, map_location: str | torch.device = "cpu") -> Classifier:
    """Load a ``Classifier`` checkpoint: the module rebuilt from its hyperparameters (plain data; a fault-aware
    method in an earlier version's mapping is converted), then its weights. A missing or broken file is one line."""
    from pathlib import Path

    if Path(path).is_dir():
        raise FaultlabError(f"checkpoint {path} is a folder; pass the .ckpt file (e.g. {Path(path) / 'last.ckpt'})")
    if not Path(path).is_file():
        raise FaultlabError(f"checkpoint not found: {path} (train one with 'faultlab fit --config ...')")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=False)
        hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if not k.startswith("_")}
        model = Classifier(**hparams)
        model.load_state_dict(checkpoint["state_dict"])
    except FaultlabError:
        raise
    except Exception as err:  # torch.load: not a zip, truncated; not a Classifier's hyperparameters or weights
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise FaultlabError(f"cannot load checkpoint {path}: {type(err).__name__}: {first[:200]} (a truncated file, "
                            "or not a checkpoint written by 'faultlab fit' / 'faultlab sweep'?)") from None
    return model.to(map_location).eval()
