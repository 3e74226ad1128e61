"""Fault-aware training methods: a typed config (``FaultAware``) and the per-step weight perturbation.

    fa = FaultAware(method="dropconnect", fault="drop(p=0.3)")   # YAML: model.fault_aware: {method: ..., fault: ...}
    model = Classifier(arch="mlp", fault_aware=fa, train_seed=0)

The perturbation is a fault model from ``faultlab.faults`` (the objects campaigns use) and the layers a
``LayerSelector``. Every training step draws a fresh map from a generator keyed by
``fault_seed(train_seed, "fault_aware", global_step, batch_idx)`` (never the global RNG) and the network
runs on the perturbed weights through ``torch.func.functional_call``: the stored parameters are never
modified, and gradients reach the clean weights.

Gradients. Differentiable maps (drop, gaussian_mult and chains of them) use the natural gradient,
dL/dW = M ⊙ dL/dW' for drop (dropped weights get zero, as in DropConnect) and (1 + σε) ⊙ dL/dW' for
gaussian_mult. Every other map uses a straight-through estimator, W' = W + stopgrad(f(W) - W), so
dL/dW = dL/dW'. Where the map reports ``faulty`` weights (stuck devices), whose value does not depend
on W, ``gradient: masked`` (the default) gives them zero gradient; ``gradient: whole`` passes the
gradient through the whole transform there too (the TiO2 paper's estimator). Either way the freezing
methods (stuck_at, hw_transform) restore the failed weights after the optimizer step.

Layers. ``layers`` is the ``LayerSelector`` campaigns use (``faultlab.selector``): ``{kinds: [conv], first:
false, bias: true}``. The flat keys of earlier configs (``kinds``, ``include``, ``exclude``, ``first``,
``last``, ``bias`` next to ``method``) are still read from mappings (checkpoint hparams, study YAML).

Biases. ``layers.bias: true`` faults each selected layer's bias as one more crossbar row sharing the layer's
scale (``faultlab.injection.fault_targets``); ``bias: false`` keeps biases exact (trained as usual, never
perturbed); the default (null) follows the fault's device preset (``device(tio2_drolet2023)`` maps them).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

import torch
from torch import Tensor

from faultlab import FaultlabError
from faultlab.faults import (
    Chain,
    Drop,
    FaultModel,
    FaultSpecError,
    GaussianAdd,
    GaussianMult,
    StuckAt,
    fault_seed,
    parse_fault,
    sweep_parameter,
)
from faultlab.selector import LayerSelector

METHODS = ("vanilla", "dropconnect", "stuck_at", "aconnect", "mat", "multi_noise", "hw_transform")
REQUIRED_MEMBER: dict[str, type[FaultModel]] = {
    "dropconnect": Drop, "stuck_at": StuckAt, "aconnect": GaussianMult, "mat": GaussianAdd,
}
DEFAULT_FAULT = {
    "multi_noise": "gaussian_add(sigma={rate})",
    # TiO2 paper: level-dependent tuning imprecision sigma_G(%) = a*G + b, 0.5 % devices stuck at each state
    "hw_transform": "chain(programming(a=-0.000624, b=0.691), stuck_at(sa0=0.005, sa1=0.005))",
}
NATURAL_GRADIENT = (Drop, GaussianMult)  # maps whose autograd derivative is the intended one
RESCALES = (False, True, "train")  # dropconnect: no rescaling, 1/(1-p) in training and evaluation, training only
GRADIENTS = ("masked", "whole")  # straight-through: faulty weights get zero gradient, or the gradient too
FREEZING = ("stuck_at", "hw_transform")  # methods whose failed-device weights are not updated
_EXAMPLES = {"dropconnect": "'drop(p=0.3)'", "stuck_at": "'stuck_at(sa0=0.01, sa1=0.01)'",
             "aconnect": "'gaussian_mult(sigma=0.3, kind=folded)'", "mat": "'gaussian_add(sigma=0.2)'"}


@dataclass
class FaultAware:
    """Fault-aware training configuration (validated by :meth:`plan`, which the Classifier calls).

    method: one of
        ``vanilla``: clean training, W' = W.
        ``dropconnect``: W' = W ⊙ M, M ~ Bernoulli(1 - p), fresh M per step (Wan et al., ICML 2013;
            the UChicago DropConnect / linear-bottleneck study). ``rescale: true`` divides by (1 - p) in
            training AND evaluation (campaigns apply ``Classifier.eval_weight_scale`` under drop faults);
            ``rescale: train`` is the reference study's convention, kept as a labelled variant to show its
            bias: 1/(1 - p) in training only, never at evaluation (which biased BatchNorm).
        ``stuck_at``: crossbar stuck-at faults, W' = stuck_at(sa0, sa1)(W), fresh map per step (DESIGN.md §3);
            weights on failed devices get zero gradient and are restored after the optimizer step, so
            momentum, Adam moments and weight decay cannot move them either.
        ``aconnect``: W' = W ⊙ (1 + σε) (normal), |1 + σε| (folded) or exp(σε) (lognormal) (A-Connect,
            Keras library). ``pool`` = P > 1: the batch is split in P slices, each with its own mask (per
            sample when P >= batch size); memory P × params for the masks.
        ``mat``: Memristor-Aware-Training: ``clean_epochs`` clean, then W' = W + σ·max|W|·ε with a
            straight-through gradient; usually with ``clip_w`` (2.5 on MNIST).
        ``multi_noise``: AnalogAI's multi-scale noise core: each step draws ``levels_per_step`` distinct
            levels v from ``levels`` and averages the loss over one forward pass per level, each with
            ``fault`` at {rate} = v (default gaussian_add(sigma={rate}); AnalogAI's σ_W = 0.778·v·max|W|).
        ``hw_transform``: the TiO2 passive-crossbar paper: the whole crossbar chain (mapping,
            programming noise, stuck devices) in the forward pass with a straight-through estimator,
            weights on failed devices not updated that step. QAT alone: ``fault: quantize(levels)``.
    fault: training fault spec (``parse_fault``); required except for vanilla, multi_noise and
        hw_transform. Any method may chain ``quantize(levels)`` in (straight-through rounding).
    eval_fault: a fault for validation/test (one draw per batch); default clean.
    rescale: dropconnect only: false, true or "train", see above and ``Classifier.eval_weight_scale``.
    clean_epochs: epochs of clean training before perturbation starts (MAT's first phase).
    clip_w: after every optimizer step W <- clamp(W, -clip_w·std(W), clip_w·std(W)) per selected layer (MAT).
    levels, levels_per_step: multi_noise's noise levels and how many are averaged per step.
    gradient: ``masked`` or ``whole`` (see the module doc): the straight-through gradient of faulty weights.
    layers: the ``LayerSelector`` (default every conv and linear layer; ``bias``: fault biases as a crossbar
        row (true), never (false), or as the fault's device preset says (null)).
    bn_reestimate_batches: after the final epoch, re-estimate BatchNorm statistics on this many
        training batches with the clean weights (``recalibrate_bn``), so they are not biased by the
        training fault rate; 0 keeps the training-time statistics.
    """

    method: str = "vanilla"
    fault: str | None = None
    eval_fault: str | None = None
    rescale: bool | str = False
    clean_epochs: int = 0
    clip_w: float | None = None
    levels: list[float] | None = None
    levels_per_step: int = 1
    pool: int = 1
    layers: LayerSelector = field(default_factory=LayerSelector)
    bn_reestimate_batches: int = 0
    gradient: str = "masked"

    def __post_init__(self) -> None:
        if isinstance(self.layers, dict):  # from a mapping: checkpoint hparams, YAML
            self.layers = LayerSelector(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.layers.items()})

    @classmethod
    def from_mapping(cls, data: dict) -> FaultAware:
        """From a mapping (checkpoint hparams, a study's ``methods[].fault_aware``); the selector keys of
        earlier configs (``kinds``, ``first``, ``bias``, ... next to ``method``) go into ``layers``."""
        data = dict(data)
        flat = {k: data.pop(k) for k in [f.name for f in fields(LayerSelector)] if k in data}
        if flat:
            data["layers"] = {**flat, **(data.get("layers") or {})}
        return cls(**data)

    def plan(self) -> Plan:
        """Validate and resolve the fault models; a bad value raises FaultlabError (one line)."""
        return _plan(self)


@dataclass(frozen=True)
class Plan:
    """A validated ``FaultAware`` with its fault models parsed (one per level for multi_noise)."""

    config: FaultAware
    faults: tuple[FaultModel, ...]
    eval_fault: FaultModel | None
    natural: bool  # gradient through the map itself (drop, gaussian_mult) instead of straight-through
    freeze: bool  # restore the weights on failed devices after the optimizer step
    train_scale: float  # dropconnect with rescale: 1 / (1 - p_train)
    eval_scale: float  # validation/test under eval_fault: eval_weight_scale(p of its drop), else 1
    selector: LayerSelector
    bias: bool = False  # selected layers' biases faulted as a crossbar row
    whole_gradient: bool = False  # straight-through gradient also for faulty weights

    def eval_weight_scale(self, p: float) -> float:
        """Factor s for evaluation under drop(p): 1/(1 - p) if trained with ``rescale``, else 1."""
        return 1.0 / (1.0 - p) if self.config.rescale is True else 1.0


# ----------------------------------------------------------------------------------------- validation


def members(fault: FaultModel) -> tuple[FaultModel, ...]:
    return fault.models if isinstance(fault, Chain) else (fault,)


def _parse(what: str, spec: str, **values: float) -> FaultModel:
    try:
        return parse_fault(spec, **values)
    except FaultSpecError as err:
        raise FaultlabError(f"fault_aware.{what}: {err}") from None


def _drop_p(fault: FaultModel | None) -> float | None:
    drops = [m.p for m in members(fault) if isinstance(m, Drop)] if fault is not None else []
    return drops[-1] if drops else None


def _plan(c: FaultAware) -> Plan:
    if c.method not in METHODS:
        raise FaultlabError(f"fault_aware.method: unknown method {c.method!r}; known: {', '.join(METHODS)}")
    m = c.method
    checks = [
        (c.clean_epochs < 0, f"clean_epochs={c.clean_epochs} must be >= 0"),
        (c.clip_w is not None and not c.clip_w > 0, f"clip_w={c.clip_w} must be > 0"),
        (c.pool < 1, f"pool={c.pool} must be >= 1"),
        (c.pool > 1 and m != "aconnect", f"pool={c.pool} applies to aconnect only, not {m}"),
        (not (isinstance(c.rescale, bool) or c.rescale in RESCALES),
         f"rescale={c.rescale!r} must be true, false or 'train' (training only)"),
        (c.rescale is not False and m != "dropconnect", f"rescale applies to dropconnect only, not {m}"),
        (c.levels is not None and m != "multi_noise", f"levels apply to multi_noise only, not {m}"),
        (m == "multi_noise" and not c.levels, "multi_noise needs levels, e.g. [0.1, 0.2, 0.3]"),
        (c.levels_per_step != 1 and m != "multi_noise", f"levels_per_step applies to multi_noise only, not {m}"),
        (c.bn_reestimate_batches < 0, f"bn_reestimate_batches={c.bn_reestimate_batches} must be >= 0"),
        (c.gradient not in GRADIENTS, f"gradient={c.gradient!r} must be one of {', '.join(GRADIENTS)}"),
        (m == "vanilla" and c.fault is not None, f"vanilla trains clean; remove fault={c.fault!r}"),
        (m in REQUIRED_MEMBER and c.fault is None, f"{m} needs a fault, e.g. {_EXAMPLES.get(m)}"),
    ]
    n_levels = len(c.levels or ())
    if m == "multi_noise":
        checks.append((not 1 <= c.levels_per_step <= n_levels,
                       f"levels_per_step={c.levels_per_step} must be in [1, {n_levels}] (the number of levels)"))
    if (problem := c.layers.problem()) is not None:
        checks.insert(0, (True, f"layers.{problem[0]}={problem[1]}"))
    for bad, message in checks:
        if bad:
            raise FaultlabError(f"fault_aware: {message}")
    spec = c.fault if c.fault is not None else DEFAULT_FAULT.get(m)
    faults: tuple[FaultModel, ...] = ()
    if m == "multi_noise":
        assert spec is not None
        try:
            sweep_parameter(spec)
        except FaultSpecError as err:
            raise FaultlabError(f"fault_aware.fault: multi_noise sweeps its levels through the fault: {err}") from None
        faults = tuple(_parse(f"levels[{i}]", spec, rate=v) for i, v in enumerate(c.levels or ()))
    elif spec is not None:
        faults = (_parse("fault", spec),)
    if m in REQUIRED_MEMBER and not any(isinstance(x, REQUIRED_MEMBER[m]) for x in members(faults[0])):
        raise FaultlabError(f"fault_aware: {m} needs a {REQUIRED_MEMBER[m].name}(...) fault, got {spec!r}")
    for fault in faults:
        if (p := _drop_p(fault)) is not None and p >= 1.0:
            raise FaultlabError(f"fault_aware.fault: drop p={p!r} must be in [0, 1) (p=1 drops every weight)")
    eval_fault = _parse("eval_fault", c.eval_fault) if c.eval_fault is not None else None
    natural = bool(faults) and all(isinstance(x, NATURAL_GRADIENT) for f in faults for x in members(f))
    p_train = _drop_p(faults[0]) if faults else None
    if c.gradient == "whole" and natural:
        raise FaultlabError("fault_aware: gradient=whole applies to straight-through maps, not drop/gaussian_mult")
    selector = c.layers
    bias = selector.maps_bias(faults[0] if faults else eval_fault)
    train_scale = 1.0 / (1.0 - p_train) if c.rescale is not False and p_train is not None else 1.0
    p_eval = _drop_p(eval_fault)
    eval_scale = 1.0 / (1.0 - p_eval) if c.rescale is True and p_eval is not None and p_eval < 1.0 else 1.0
    return Plan(c, faults, eval_fault, natural, m in FREEZING, train_scale, eval_scale, selector, bias,
                c.gradient == "whole")


# ----------------------------------------------------------------------------------------- per step


def step_seed(train_seed: int | None, *key: object) -> int:
    """Seed of one step's fault maps: ``fault_seed(train_seed or 0, "fault_aware", *key)``."""
    return fault_seed(train_seed or 0, "fault_aware", *key)


def choose_levels(seed: int, n: int, k: int) -> list[int]:
    """``k`` distinct level indices out of ``n``, from a private RNG seeded with ``seed``."""
    return random.Random(seed).sample(range(n), k)


def perturb(
    weights: dict[str, Tensor],
    fault: FaultModel,
    generator: torch.Generator,
    *,
    natural: bool,
    scale: float = 1.0,
    k: int | None = None,
    whole: bool = False,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Perturbed weights per layer (``[k, *W.shape]`` with ``k``) and the faulty masks the map reports.

    natural: W' = s·f(W) differentiated as is. Otherwise W' = s·(W + stopgrad(f(W) - W)) where the
    weight is healthy and s·stopgrad(f(W)) where it is faulty (zero gradient), or with ``whole`` the
    straight-through form everywhere. s = ``scale``.
    """
    out, faulty = {}, {}
    for name, w in weights.items():
        if natural:
            draw = fault.draw(w, generator, k)
            wp = draw.weights
        else:
            draw = fault.draw(w.detach(), generator, k)
            wp = w + (draw.weights - w).detach()
            if draw.faulty is not None and not whole:
                wp = torch.where(draw.faulty, draw.weights, wp)
        out[name] = _like(wp * scale if scale != 1.0 else wp, w, k)
        if draw.faulty is not None:
            faulty[name] = draw.faulty
    return out, faulty


def _like(wp: Tensor, w: Tensor, k: int | None) -> Tensor:
    """``wp`` in the stride order of the conv weight ``w`` (per slice with ``k``). Elementwise ops may
    return other (equally valid) strides for size-1 dims, and the CPU conv backward then takes a
    layout-converting path: measured 1.8x slower mini-MobileNet steps. A copy of the weights is cheap."""
    strides = w.stride() if k is None else (w.numel(), *w.stride())
    if w.dim() != 4 or wp.stride() == strides:
        return wp
    return torch.empty_strided(wp.shape, strides, dtype=wp.dtype, device=wp.device).copy_(wp)


@torch.no_grad()
def clip_weights_(weights: Iterable[Tensor], clip_w: float) -> None:
    """In place, per tensor: W <- clamp(W, -clip_w·std(W), clip_w·std(W)) (Memristor-Aware-Training)."""
    for w in weights:
        bound = clip_w * w.std()
        w.clamp_(-bound, bound)
