"""Multi-scale noise-aware training by fusion (AnalogAI's MSNAT): K client copies of the network, client k
trained under additive weight noise at its own level v_k, then an equal-weight average of the clients' full
state (parameters and BatchNorm buffers) becomes the global network; one round per Lightning epoch.

    model.fault_aware: {class_path: MSNAT, init_args: {levels: [0.1, 0.15, 0.2, 0.25, 0.3]}}
    Classifier(arch="mlp", fault_aware=MSNAT(), train_seed=0)            # the same, in Python

A round (one epoch), from the global weights G:
    every client starts at G (parameters and buffers);
    each training batch trains every client k once on W_k + c·v_k·max|W_k|·ε (``fault`` at {rate} = v_k,
        default ``gaussian_add(sigma={rate},slices=4)``: c = 0.7776, 8-bit weights on four 2-bit cells;
        ε redrawn every forward pass; straight-through gradient to W_k);
    at the end of the epoch (before validation) G <- (1/K) Σ_k state_k, integer buffers by floor mean.
Validation, early stopping (``EarlyStopping(monitor="val_acc", mode="max")`` in the trainer's callbacks),
``bn_reestimate_batches``, checkpoints and campaigns all see the global network ``Classifier.net``.

Choices (AnalogAI's code differs where noted):
- Data order: all clients see the round's batches in the loader's order for that epoch (one step trains the K
  clients on one batch); AnalogAI's clients iterate the shuffled loader one after another, each in its own order.
- Optimizer: one optimizer of the configured class over the K clients' parameters, which for per-parameter
  optimizers (SGD, Adam, AdamW, RMSprop, ...) is K independent optimizers; the learning-rate scheduler steps
  once per round. ``client_optimizer: fresh`` (default, the usual FedAvg choice) clears its state (momentum,
  Adam moments and step counts) at every fusion, so each round starts from a freshly built optimizer;
  ``kept`` keeps each client's state across rounds (AnalogAI keeps one optimizer per client for the whole run).
  Gradient clipping by norm would couple the clients and is refused.
- Seeds: client k's draws come from ``fault_seed(step_seed(train_seed, global_step, batch_idx), "msnat", k)``;
  the global step counts steps over rounds, so every (round, step, client) has its own stream.
- The training loss returned (and logged as ``train_loss``) is the SUM of the clients' losses: its gradient
  with respect to client k's parameters is client k's own.
- Cost: K forward and backward passes per batch, about K vanilla epochs per round (benchmarks/msnat_round.py).
- AnalogAI's "feedback loops" (extra passes at higher noise) and its accuracy-weighted fusion are not modelled.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from faultlab import FaultlabError
from faultlab.faults import FaultSpecError, fault_seed, make_generator, parse_fault
from faultlab.faults.spec import sweep_parameter
from faultlab.injection import fault_targets, parameter_updates

from .methods import StraightThrough, _check, _fault
from .perturb import perturb

if TYPE_CHECKING:
    import lightning as L

    from .module import Classifier

ANALOGAI_LEVELS = (0.1, 0.15, 0.2, 0.25, 0.3)
ANALOGAI_FAULT = "gaussian_add(sigma={rate},slices=4)"  # sigma_W = 0.7776 · v · max|W|


@torch.no_grad()
def federated_average(states: Sequence[Mapping[str, Tensor]]) -> dict[str, Tensor]:
    """The equal-weight average of state dicts: floating entries (1/K) Σ_k s_k; integer entries (BatchNorm's
    ``num_batches_tracked``) the floor of their mean."""
    if not states:
        raise ValueError("federated_average needs at least one state")
    out = {}
    for key in states[0]:
        stacked = torch.stack([s[key] for s in states])
        out[key] = stacked.mean(0) if stacked.is_floating_point() else stacked.sum(0) // len(states)
    return out


class MSNAT(StraightThrough):
    """Multi-scale noise-aware training by fusion (AnalogAI): one client per level, each trained one epoch per
    round under ``fault`` at its level, then averaged into the global network (module docstring).

    Args:
        levels: the clients' noise levels v_k (one client each; default AnalogAI's 0.10, 0.15, ..., 0.30).
        fault: the fault template, with ``{rate}`` where the level goes (default
            ``gaussian_add(sigma={rate},slices=4)``, σ_W = 0.7776·v·max|W| per tensor).
        client_optimizer: ``fresh``: the optimizer state is cleared at every fusion; ``kept``: each client keeps
            its state across rounds.
    """

    name = "msnat"

    def __init__(self, levels: Sequence[float] = ANALOGAI_LEVELS, fault: str = ANALOGAI_FAULT,
                 client_optimizer: Literal["fresh", "kept"] = "fresh", **common: Any) -> None:
        self.levels, self.fault, self.client_optimizer = list(levels), fault, client_optimizer
        _check(not self.levels, "msnat needs levels, one per client, e.g. [0.1, 0.2, 0.3]")
        _check(client_optimizer not in ("fresh", "kept"),
               f"client_optimizer={client_optimizer!r} must be fresh or kept")
        _check(common.get("clean_epochs", 0) != 0, "msnat trains its clients from the first round; "
                                                  "clean_epochs must be 0")
        try:
            sweep_parameter(fault)
        except FaultSpecError as err:
            raise FaultlabError(f"fault_aware.fault: the levels are set through the fault: {err}") from None
        self.faults = tuple(_fault(f"levels[{i}]", parse_fault, fault, rate=v) for i, v in enumerate(self.levels))
        super().__init__(**common)

    # -- the Classifier's hooks ------------------------------------------------------------------
    def replicas(self, net: nn.Module) -> nn.ModuleList:
        """The K clients, copies of the global network (registered in the Classifier: moved, checkpointed)."""
        return nn.ModuleList(copy.deepcopy(net) for _ in self.levels)

    def check_trainer(self, trainer: L.Trainer) -> None:
        """Refuse trainer options that break rounds: validation inside an epoch, clipping by the global norm."""
        interval = trainer.val_check_interval
        within_epoch = interval != 1.0 or not isinstance(interval, float)  # an int: every N batches
        _check(within_epoch and trainer.limit_val_batches != 0,
               f"msnat fuses its clients once per epoch; trainer.val_check_interval={interval} would validate a "
               "half-trained round: leave it at 1.0")
        _check(bool(trainer.gradient_clip_val) and trainer.gradient_clip_algorithm != "value",
               "msnat trains its clients with one optimizer, so clipping by norm would couple them: use "
               "trainer.gradient_clip_algorithm: value")

    def training_loss(self, model: Classifier, x: Tensor, y: Tensor, seed: int) -> Tensor:
        """Σ_k cross-entropy of client k on its own noise draw (level v_k, generator keyed by (seed, k))."""
        assert model.clients is not None
        kw = {"natural": self.natural, "scale": self.train_scale, "whole": self.whole_gradient}
        bias = model._bias
        losses = []
        for k, (client, fault) in enumerate(zip(model.clients, self.faults, strict=True)):
            clean = fault_targets(client, model.fault_layers, bias)
            weights, _ = perturb(clean, fault, make_generator(fault_seed(seed, "msnat", k), x.device), **kw)
            logits = functional_call(client, parameter_updates(client, weights, bias), (x,))
            losses.append(F.cross_entropy(logits, y))
        return torch.stack(losses).sum()

    @torch.no_grad()
    def end_round(self, model: Classifier) -> None:
        """Fusion: the global network <- the mean of the clients' states; every client <- the global state;
        with ``client_optimizer: fresh`` the optimizer state is cleared."""
        assert model.clients is not None
        model.net.load_state_dict(federated_average([c.state_dict() for c in model.clients]))
        fused = model.net.state_dict()
        for client in model.clients:
            client.load_state_dict(fused)
        if self.client_optimizer == "fresh" and model._trainer is not None:
            for optimizer in model.trainer.optimizers:
                optimizer.state.clear()
