"""Reversible fault injection into the selected layers of any ``nn.Module``.

    layers = LayerSelector(kinds=("conv", "linear")).select(model)      # faultlab.selector
    with inject(model, parse_fault("drop(p=0.1)"), layers, trial_seeds(0, layers, "drop(p={rate})", 0.1, 3)):
        logits = model(x)           # weights restored bit for bit on exit, also after an exception

Each layer's map comes from its own (CPU) generator seeded by ``fault_seed(campaign seed, layer, fault
template, rate, trial)``, also for a model on a GPU: two models of one architecture meet identical maps
at the same (rate, trial) (common random numbers), and any trial can be re-created without storing a
mask. Read-noise-like models (``per_forward``) are redrawn before every forward pass from the trial's
generator stream.

Biases: by default a fault reaches ``.weight`` only and biases stay exact (digital, or on devices the
study does not model). With ``bias=True`` (``LayerSelector(bias=...)``, faultlab.selector; by default as the fault's
device preset says) each layer with a bias is faulted as its crossbar matrix [W | b] (``join_bias``: the
bias is one more word line, sharing the layer's scale), so biases meet the same faults.

With ``exact=ExactCount(k, seed)`` exactly k weights over the given layers are faulty (equal-count
sensitivity): their positions come from the generator of ``seed``, their values from each layer's draw
of the fault at rate 1 (see ``faultlab.faults.count``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from faultlab.faults import (
    FaultDraw,
    FaultModel,
    exact_count_masks,
    fault_seed,
    join_bias,
    make_generator,
    split_bias,
)


@dataclass(frozen=True)
class ExactCount:
    """Exactly ``k`` faulty weights over the injected layers, positions drawn from ``seed``'s generator."""

    k: int
    seed: int


def trial_seeds(campaign_seed: int, layers: Iterable[str], template: str, rate: float, trial: int) -> dict[str, int]:
    """The per-layer fault seeds of one trial: ``fault_seed(campaign_seed, layer, template, rate, trial)``."""
    return {name: fault_seed(campaign_seed, name, template, float(rate), int(trial)) for name in layers}


def layer_weights(model: nn.Module, layers: Sequence[str]) -> dict[str, nn.Parameter]:
    """The ``.weight`` parameter of each named layer (KeyError naming the missing ones)."""
    modules = dict(model.named_modules())
    missing = [n for n in layers if n not in modules or getattr(modules[n], "weight", None) is None]
    if missing:
        raise KeyError(f"no weight layer named {', '.join(missing)} in {type(model).__name__}")
    return {n: modules[n].weight for n in layers}


def fault_targets(model: nn.Module, layers: Sequence[str], bias: bool = False) -> dict[str, Tensor]:
    """The tensor a fault maps per layer: its ``.weight``, or with ``bias`` (for layers that have one) the
    crossbar matrix [W | b] of shape [out, fan_in + 1] (a new tensor, still differentiable)."""
    weights = layer_weights(model, layers)
    if not bias:
        return dict(weights)
    modules = dict(model.named_modules())
    return {n: w if modules[n].bias is None else join_bias(w, modules[n].bias) for n, w in weights.items()}


def parameter_updates(model: nn.Module, tensors: Mapping[str, Tensor], bias: bool = False) -> dict[str, Tensor]:
    """``{"<layer>.weight": W', "<layer>.bias": b'}`` from each layer's faulted target (``[K, ...]`` allowed),
    split back when it holds the bias row (see :func:`fault_targets`)."""
    modules = dict(model.named_modules())
    out = {}
    for name, t in tensors.items():
        module = modules[name]
        if bias and module.bias is not None:
            out[f"{name}.weight"], out[f"{name}.bias"] = split_bias(t, tuple(module.weight.shape))
        else:
            out[f"{name}.weight"] = t
    return out


def draw_maps(
    model: nn.Module, fault: FaultModel, layers: Sequence[str], seeds: Mapping[str, int],
    exact: ExactCount | None = None, bias: bool = False,
) -> tuple[dict[str, FaultDraw], dict[str, torch.Generator]]:
    """Draw one map per layer (of its weight, or [W | b] with ``bias``) from its keyed generator, without
    touching the model."""
    return draw_weights(fault_targets(model, layers, bias), fault, seeds, exact)


def draw_weights(
    weights: Mapping[str, Tensor], fault: FaultModel, seeds: Mapping[str, int], exact: ExactCount | None = None
) -> tuple[dict[str, FaultDraw], dict[str, torch.Generator]]:
    """One map per tensor of ``weights`` (name -> weight) from its keyed generator, without touching them.

    Maps are drawn on the CPU from CPU generators whatever the model's device and then moved there, so
    a GPU campaign meets bit-identical masks to a CPU one (CUDA generators give other streams)."""
    draws, gens = {}, {}
    for name, w in weights.items():
        gens[name] = make_generator(seeds[name])
        draws[name] = fault.draw(w.detach().cpu(), gens[name])
    if exact is not None:
        masks = exact_count_masks([w.numel() for w in weights.values()], exact.k, make_generator(exact.seed))
        for (name, w), mask in zip(weights.items(), masks):
            mask = mask.view(w.shape)
            draws[name] = FaultDraw(torch.where(mask, draws[name].weights, w.detach().cpu()), mask)
    for name, w in weights.items():
        if w.device.type != "cpu":
            d = draws[name]
            draws[name] = FaultDraw(d.weights.to(w.device), None if d.faulty is None else d.faulty.to(w.device))
    return draws, gens


def draw_stacks(
    weights: Mapping[str, Tensor], fault: FaultModel, seeds: Sequence[Mapping[str, int]]
) -> dict[str, Tensor]:
    """K trials' maps (``seeds[t]``: trial t's per-layer seeds) of each tensor of ``weights``, stacked
    ``[K, *w.shape]`` on the weights' device: bit for bit the maps ``draw_weights`` gives trial by
    trial, each layer's K maps drawn with one vectorised transform (``FaultModel.draw_each``)."""
    return _StackedDraws(weights, fault, seeds).next()


def forward_redraws(
    weights: Mapping[str, Tensor], fault: FaultModel, seeds: Sequence[Mapping[str, int]]
) -> Callable[[], dict[str, Tensor]]:
    """For a ``per_forward`` fault (read noise): K trials' weights pass by pass. Each call returns the
    stacked ``[K, *w.shape]`` weights of the next forward pass, bit for bit what ``inject``'s hooks apply
    to trial t (the map drawn on entry, then one redraw per pass, all from the trial's keyed generator)."""
    draws = _StackedDraws(weights, fault, seeds)
    draws.next()  # the map inject applies on entry, which the first pass's redraw replaces
    return draws.next


class _StackedDraws:
    """Each layer's K keyed generators, drawn from together: ``next()`` gives the next K maps per layer."""

    def __init__(self, weights: Mapping[str, Tensor], fault: FaultModel, seeds: Sequence[Mapping[str, int]]):
        self.fault, self.devices = fault, {name: w.device for name, w in weights.items()}
        self.clean = {name: w.detach().cpu() for name, w in weights.items()}
        self.generators = {name: [make_generator(trial[name]) for trial in seeds] for name in weights}

    def next(self) -> dict[str, Tensor]:
        return {name: self.fault.draw_each(w, self.generators[name]).weights.to(self.devices[name])
                for name, w in self.clean.items()}


@contextmanager
def inject(
    model: nn.Module, fault: FaultModel, layers: Sequence[str], seeds: Mapping[str, int] | int,
    exact: ExactCount | None = None, bias: bool = False,
) -> Iterator[dict[str, FaultDraw]]:
    """Apply one fault map per layer in place for the duration of the block; restore exactly on exit.

    ``seeds``: per-layer seeds (see ``trial_seeds``) or one int from which each layer's seed is derived
    as ``fault_seed(seed, layer)``. ``exact``: fault exactly ``exact.k`` weights over ``layers`` (with
    ``fault`` at rate 1). ``bias``: fault each layer's [W | b] (see :func:`fault_targets`). Yields the
    draws (of the weights, or of [W | b]: faulty masks included) per layer.
    """
    if exact is not None and fault.per_forward:
        raise ValueError(f"{fault.spec()} redraws on every forward pass; an exact count needs a fixed map")
    if isinstance(seeds, int):
        seeds = {name: fault_seed(seeds, name) for name in layers}
    params = dict(model.named_parameters())
    targets = {n: t.detach().clone() for n, t in fault_targets(model, layers, bias).items()}  # clean, kept
    names = list(parameter_updates(model, targets, bias))
    saved: dict[str, Tensor] = {}
    handles = []
    try:
        with torch.no_grad():
            for name in names:
                saved[name] = params[name].detach().clone()
        draws, gens = draw_weights(targets, fault, seeds, exact)
        _write(params, parameter_updates(model, {n: d.weights for n, d in draws.items()}, bias))
        if fault.per_forward:
            modules = dict(model.named_modules())
            for name in layers:
                redraw = _redraw(model, name, fault, targets[name].cpu(), gens[name], bias, params)
                handles.append(modules[name].register_forward_pre_hook(redraw))
        yield draws
    finally:
        for handle in handles:
            handle.remove()
        _restore(params, saved)


def _restore(params: Mapping[str, Tensor], saved: Mapping[str, Tensor]) -> None:
    """Write the saved weights back whole even when a Ctrl-C or SIGTERM (raised as KeyboardInterrupt) lands
    mid-way: signals are held back while writing, one that was already pending is caught and the write
    repeated (it is idempotent), and the interrupt is re-raised once the weights are whole."""
    pending: KeyboardInterrupt | None = None
    while True:
        try:
            with signals_deferred():
                _write(params, saved)
            break
        except KeyboardInterrupt as exc:
            pending = exc
    if pending is not None:
        raise pending


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (delivered on exit) where the OS allows it; a no-op elsewhere."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    can = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs) if can else None
    try:
        yield
    finally:
        if can:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


@torch.no_grad()
def _write(params: Mapping[str, Tensor], values: Mapping[str, Tensor]) -> None:
    for name, value in values.items():
        params[name].copy_(value)


def _redraw(model: nn.Module, name: str, fault: FaultModel, clean: Tensor, generator: torch.Generator, bias: bool,
            params: Mapping[str, Tensor]):
    def hook(module: nn.Module, args: tuple) -> None:
        _write(params, parameter_updates(model, {name: fault(clean, generator)}, bias))

    return hook


# ------------------------------------------------------------------------------------------ BatchNorm

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BN) and m.track_running_stats]


@contextmanager
def preserved_bn_state(model: nn.Module) -> Iterator[None]:
    """Snapshot BatchNorm running statistics (and momentum) and restore them on exit."""
    layers = _bn_layers(model)
    saved = [(m.momentum, {k: v.clone() for k, v in m.named_buffers(recurse=False)}) for m in layers]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (momentum, buffers) in zip(layers, saved):
                m.momentum = momentum
                for k, v in buffers.items():
                    getattr(m, k).copy_(v)


def recalibrate_bn(model: nn.Module, batches: Iterable, n_batches: int) -> int:
    """Re-estimate BatchNorm running statistics on ``n_batches`` input batches under the model's
    current weights (clean, or with a fault map applied): a cumulative average (momentum=None) over
    the batches, no gradient, other layers in eval mode. Returns the number of batches used.
    Wrap in ``preserved_bn_state`` when the statistics must come back afterwards."""
    layers = _bn_layers(model)
    if not layers or n_batches <= 0:
        return 0
    was_training, momenta = model.training, [m.momentum for m in layers]
    model.eval()
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    used = 0
    with torch.no_grad():
        for batch in batches:
            if used >= n_batches:
                break
            x = batch[0] if isinstance(batch, list | tuple) else batch
            model(x)
            used += 1
    for m, momentum in zip(layers, momenta):
        m.momentum = momentum
    model.train(was_training)
    return used
