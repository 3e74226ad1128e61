"""Evaluation of a model on preloaded test tensors: one weight set per pass, or K stacked fault maps
per pass (``torch.func.functional_call`` + ``vmap``), which pays for small models where one pass
leaves the machine idle (MLPs on CPU; anything on a GPU)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from .metrics import NamedMetric, trial_correct, trial_loss_sum


@dataclass(frozen=True)
class EvalResult:
    """One trial: accuracy in [0, 1], mean cross-entropy, per-sample correctness ``bool[N]``, and the
    mean of an extra per-sample metric (top-k, a user's) when one was asked for."""

    accuracy: float
    loss: float
    correct: Tensor
    metric: float | None = None


def _results(correct: Tensor, loss_sum: Tensor, metric_sum: Tensor | None = None) -> list[EvalResult]:
    n = correct.shape[1]
    acc, loss = correct.float().mean(1).tolist(), loss_sum.tolist()
    extra = [None] * len(acc) if metric_sum is None else [m / n for m in metric_sum.tolist()]
    return [EvalResult(a, s / n, c, m) for a, s, c, m in zip(acc, loss, correct.cpu().unbind(0), extra)]


@torch.no_grad()
def evaluate(model: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, batch_size: int = 1000,
             metric: NamedMetric | None = None) -> EvalResult:
    """Accuracy, mean loss and per-sample correctness of ``model`` (already in eval mode) on (x, y)."""
    return score_batches((model(x[i : i + batch_size]) for i in range(0, len(y), batch_size)), y, batch_size, metric)


@torch.no_grad()
def score_batches(logits: Iterable[Tensor], y: Tensor, batch_size: int,
                  metric: NamedMetric | None = None) -> EvalResult:
    """Score logits computed batch by batch (``[B, C]`` for each consecutive ``batch_size`` labels of y)."""
    correct, loss = [], torch.zeros(1, device=y.device)
    extra = None if metric is None else torch.zeros(1, device=y.device)
    for i, out in zip(range(0, len(y), batch_size), logits):
        yb = y[i : i + batch_size]
        correct.append(trial_correct(out.float(), yb))
        loss += trial_loss_sum(out.float(), yb)
        if metric is not None:
            extra += metric.sum(out.float(), yb)
    return _results(torch.cat(correct, 1), loss, extra)[0]


@torch.no_grad()
def evaluate_stacked(
    model: nn.Module, stacked: Mapping[str, Tensor] | Callable[[], Mapping[str, Tensor]], x: Tensor, y: Tensor,
    batch_size: int = 1000, metric: NamedMetric | None = None,
) -> list[EvalResult]:
    """Evaluate K weight sets at once: ``stacked`` maps parameter names (``"fc.weight"``) to ``[K, ...]``
    tensors (or is called before each batch for that batch's weights: per-pass redraws); other parameters
    and buffers are shared. Returns K results, in order."""
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())

    def one(p: dict[str, Tensor], xb: Tensor) -> Tensor:
        return functional_call(model, ({**params, **p}, buffers), (xb,))

    batched = vmap(one, in_dims=(0, None))
    correct, loss, extra = [], None, None
    for i in range(0, len(y), batch_size):
        weights = stacked() if callable(stacked) else stacked
        logits = batched(dict(weights), x[i : i + batch_size]).float()
        yb = y[i : i + batch_size]
        correct.append(trial_correct(logits, yb))
        part = trial_loss_sum(logits, yb)
        loss = part if loss is None else loss + part
        if metric is not None:
            part = metric.sum(logits, yb)
            extra = part if extra is None else extra + part
    return _results(torch.cat(correct, 1), loss, extra)


def has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())


MAX_TRIALS_PER_PASS = 64
GPU_MEMORY_SHARE = 0.5  # of the free device memory, for the stacked weights and activations


def trials_for_memory(budget_bytes: int, per_map_bytes: int, cap: int = MAX_TRIALS_PER_PASS) -> int:
    """How many fault maps of ``per_map_bytes`` each fit ``budget_bytes`` (at least 1, at most ``cap``)."""
    return int(max(1, min(cap, budget_bytes // max(1, per_map_bytes))))


@torch.no_grad()
def activation_bytes(model: nn.Module, xb: Tensor) -> int:
    """Peak CUDA memory one forward pass of the batch ``xb`` allocates beyond what is already held."""
    torch.cuda.synchronize(xb.device)
    torch.cuda.reset_peak_memory_stats(xb.device)
    held = torch.cuda.memory_allocated(xb.device)
    model(xb)
    torch.cuda.synchronize(xb.device)
    return int(torch.cuda.max_memory_allocated(xb.device) - held)


def auto_trials_per_pass(model: nn.Module, device: torch.device, n_weights: int, budget_bytes: int,
                         xb: Tensor | None = None) -> int:
    """How many fault maps to evaluate per pass.

    CPU: 1 for conv nets (stacked convs become grouped convolutions, measured 2.5x slower than plain
    passes for ResNet20 here); otherwise as many stacked weight sets as fit ``budget_bytes``. CUDA: as
    many maps as fit half the free device memory, each costing its faulted weights plus the activations
    of one pass of the batch ``xb`` (measured), since one small model leaves a GPU mostly idle.
    """
    weight_bytes = n_weights * 4
    if device.type == "cuda" and xb is not None:
        free, _ = torch.cuda.mem_get_info(device)
        return trials_for_memory(int(free * GPU_MEMORY_SHARE), weight_bytes + activation_bytes(model, xb))
    if device.type == "cpu" and has_conv(model):
        return 1
    return trials_for_memory(budget_bytes, weight_bytes)
