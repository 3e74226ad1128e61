"""Fault-aware training methods: one class per method, each with only its own fields, chosen in a config by
``class_path`` (the same vocabulary as the optimizer's) and checked once, when it is built.

    model.fault_aware: {class_path: DropConnect, init_args: {p: 0.3, bn_reestimate_batches: 20}}
    Classifier(arch="mlp", fault_aware=DropConnect(p=0.3), train_seed=0)        # the same, in Python

Every training step draws fresh maps from a generator keyed by ``(train_seed, global_step, batch_idx)`` (never
the global RNG; ``faultlab.training.perturb``); the fault models are the ones campaigns use. A checkpoint keeps
the method as plain data (``config()``: class path and init args) and ``faultlab.training.plain_data`` rebuilds
it, also from the single mapping of earlier versions (``{method: dropconnect, fault: ..., ...}``).

Adding a method: subclass :class:`FaultAwareMethod` (or :class:`StraightThrough` when its maps are not
differentiable as intended), give it a ``name`` (its label in checkpoints and stores) and a typed ``__init__``
with its own fields that sets ``self.faults`` (the maps it trains under) before calling
``super().__init__(**common)``; override :meth:`~FaultAwareMethod.training_loss` when a step is more than one
forward pass on one map (AConnect's pool, RandomLevelNoise's levels, MSNAT's clients). Its
short name then works as a ``class_path``, and jsonargparse checks its fields. A method that trains copies of
the network (``faultlab.training.msnat.MSNAT``) overrides :meth:`~FaultAwareMethod.replicas` and
:meth:`~FaultAwareMethod.end_round`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from faultlab import FaultlabError
from faultlab.faults import Drop, FaultModel, FaultSpecError, GaussianAdd, GaussianMult, make_generator, parse_fault
from faultlab.faults import StuckAt as StuckAtFault
from faultlab.faults.spec import sweep_parameter
from faultlab.selector import LayerSelector

from .perturb import choose_levels, clip_weights_, drop_p, is_natural, perturb

if TYPE_CHECKING:
    import lightning as L
    from torch import nn

    from .module import Classifier

# TiO2 paper: level-dependent tuning imprecision sigma_G(%) = a*G + b, 0.5 % devices stuck at each state
HW_TRANSFORM_FAULT = "chain(programming(a=-0.000624, b=0.691), stuck_at(sa0=0.005, sa1=0.005))"


def _fault(what: str, build: Any, *args: Any, **kwargs: Any) -> FaultModel:
    """A fault model, or one FaultlabError line naming the field (``fault_aware.p: drop: p=1.5 is outside ...``)."""
    try:
        return build(*args, **kwargs)
    except FaultSpecError as err:
        raise FaultlabError(f"fault_aware.{what}: {err}") from None


def _check(bad: bool, message: str) -> None:
    if bad:
        raise FaultlabError(f"fault_aware: {message}")


def _selector(data: Mapping[str, Any]) -> LayerSelector:
    """A LayerSelector from plain data; an unknown key is one line with the closest one."""
    import difflib
    from dataclasses import fields

    allowed = [f.name for f in fields(LayerSelector)]
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise FaultlabError(f"fault_aware: layers.{key}: unknown key{hint}; allowed: {', '.join(allowed)}")
    return LayerSelector(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _plain(value: Any) -> Any:
    if isinstance(value, LayerSelector):
        value = asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value] if isinstance(value, list | tuple) else value


class FaultAwareMethod:
    """The fields every method shares.

    Args:
        layers: the layers perturbed (``faultlab.selector.LayerSelector``: default every conv and linear layer;
            ``bias: true`` perturbs each layer's bias as one more crossbar row, null as the fault's device says).
        eval_fault: a fault spec under which validation and test run (one draw per batch); default clean.
        clean_epochs: epochs of clean training before the perturbation starts (MAT's first phase).
        clip_w: after every optimizer step W <- clamp(W, -clip_w·std(W), clip_w·std(W)) per perturbed layer.
        bn_reestimate_batches: after the final epoch, re-estimate BatchNorm statistics with the clean weights on
            this many training batches, so they are not biased by the training fault rate; 0 keeps them.
    """

    name: ClassVar[str] = ""  # the method's label in checkpoints, stores and reports
    freeze: ClassVar[bool] = False  # restore the weights on failed devices after each optimizer step
    faults: tuple[FaultModel, ...] = ()  # the maps training draws from (set by the subclass before super().__init__)

    def __init__(self, *, layers: LayerSelector | None = None, eval_fault: str | None = None, clean_epochs: int = 0,
                 clip_w: float | None = None, bn_reestimate_batches: int = 0) -> None:
        if isinstance(layers, Mapping):  # plain data (checkpoint hparams, a study)
            layers = _selector(layers)
        self.layers = layers if layers is not None else LayerSelector()
        self.eval_fault, self.clean_epochs, self.clip_w = eval_fault, clean_epochs, clip_w
        self.bn_reestimate_batches = bn_reestimate_batches
        if (problem := self.layers.problem()) is not None:
            raise FaultlabError(f"fault_aware: layers.{problem[0]}={problem[1]}")
        _check(clean_epochs < 0, f"clean_epochs={clean_epochs} must be >= 0")
        _check(clip_w is not None and not clip_w > 0, f"clip_w={clip_w} must be > 0")
        _check(bn_reestimate_batches < 0, f"bn_reestimate_batches={bn_reestimate_batches} must be >= 0")
        self.eval_model = _fault("eval_fault", parse_fault, eval_fault) if eval_fault is not None else None
        for fault in self.faults:
            p = drop_p(fault)
            _check(p is not None and p >= 1.0, f"drop p={p!r} must be in [0, 1) (p=1 drops every weight)")

    # -- what a step needs ---------------------------------------------------------------------------
    @property
    def natural(self) -> bool:
        """Gradient through the map itself (drop, gaussian_mult) instead of straight-through."""
        return is_natural(self.faults)

    @property
    def whole_gradient(self) -> bool:
        return False

    @property
    def train_scale(self) -> float:
        return 1.0

    @property
    def eval_scale(self) -> float:
        """Weight factor of validation/test under ``eval_fault``."""
        return 1.0

    @property
    def bias(self) -> bool:
        """Whether the perturbed layers' biases are faulted as a crossbar row."""
        return self.layers.maps_bias(self.faults[0] if self.faults else self.eval_model)

    def eval_weight_scale(self, p: float) -> float:
        """Factor s a campaign applies under drop(p): W' = s · (W ⊙ M); 1 unless the method trained rescaled."""
        return 1.0

    def training_loss(self, model: Classifier, x: Tensor, y: Tensor, seed: int) -> Tensor:
        """Cross-entropy on one freshly drawn map (``seed`` keys it); failed devices remembered for the restore."""
        clean = model.fault_targets()
        weights, faulty = perturb(clean, self.faults[0], make_generator(seed, x.device), natural=self.natural,
                                  scale=self.train_scale, whole=self.whole_gradient)
        if self.freeze:
            model.remember_frozen(clean, faulty)
        return F.cross_entropy(model.run_on(x, weights), y)

    def after_optimizer_step(self, weights: Sequence[Tensor]) -> None:
        """Clip the perturbed layers' weights (``clip_w``)."""
        if self.clip_w is not None:
            clip_weights_(weights, self.clip_w)

    # -- methods that train copies of the network (MSNAT) ----------------------------------------------
    def replicas(self, net: nn.Module) -> nn.ModuleList | None:
        """Networks the optimizer trains instead of ``net`` (kept in the Classifier as ``clients``); None: ``net``."""
        return None

    def check_trainer(self, trainer: L.Trainer) -> None:
        """Refuse trainer options the method cannot train with (one FaultlabError line)."""

    def end_round(self, model: Classifier) -> None:
        """After an epoch's training batches, before its validation: e.g. fuse the replicas into ``model.net``."""

    # -- plain data ----------------------------------------------------------------------------------
    @classmethod
    def parameters(cls) -> list[str]:
        """The init args of the class, its own first (``**common`` leads to the base's)."""
        names: list[str] = []
        for klass in cls.__mro__:
            if "__init__" in vars(klass) and klass is not object:
                params = inspect.signature(vars(klass)["__init__"]).parameters.values()
                names += [p.name for p in params if p.name != "self" and p.kind is not p.VAR_KEYWORD]
        return list(dict.fromkeys(names))

    def config(self) -> dict[str, Any]:
        """``{class_path, init_args}`` as plain data: what a checkpoint's hparams keep."""
        path = f"{type(self).__module__}.{type(self).__qualname__}"
        return {"class_path": path, "init_args": {n: _plain(getattr(self, n)) for n in self.parameters()}}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FaultAwareMethod) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config()["init_args"].items())
        return f"{type(self).__name__}({args})"


class Vanilla(FaultAwareMethod):
    """Clean training, W' = W; only the shared fields (e.g. validation under ``eval_fault``)."""

    name = "vanilla"


class DropConnect(FaultAwareMethod):
    """W' = W ⊙ M, M ~ Bernoulli(1 - p), a fresh M per step (Wan et al., ICML 2013; the UChicago DropConnect /
    linear-bottleneck study). Dropped weights get zero gradient.

    Args:
        p: drop probability in [0, 1).
        rescale: ``false``: no rescaling in training or evaluation (the default, one convention); ``true``:
            1/(1 - p) in training AND evaluation (campaigns apply :meth:`eval_weight_scale` under drop faults);
            ``"train"``: the reference study's convention, 1/(1 - p) in training only (biases BatchNorm; kept as a
            labelled variant to show it).
    """

    name = "dropconnect"

    def __init__(self, p: float, rescale: bool | Literal["train"] = False, **common: Any) -> None:
        _check(not (isinstance(rescale, bool) or rescale == "train"),
               f"rescale={rescale!r} must be true, false or 'train' (training only)")
        self.p, self.rescale = p, rescale
        self.faults = (_fault("p", Drop, p),)
        super().__init__(**common)

    @property
    def train_scale(self) -> float:
        return 1.0 / (1.0 - self.p) if self.rescale is not False else 1.0

    @property
    def eval_scale(self) -> float:
        p = drop_p(self.eval_model)
        return 1.0 / (1.0 - p) if self.rescale is True and p is not None and p < 1.0 else 1.0

    def eval_weight_scale(self, p: float) -> float:
        return 1.0 / (1.0 - p) if self.rescale is True else 1.0


class AConnect(FaultAwareMethod):
    """W' = W ⊙ (1 + σε) (``normal``), |1 + σε| (``folded``) or exp(σε) (``lognormal``) (A-Connect, Keras).

    Args:
        sigma: relative spread σ of the weights (dimensionless).
        kind: normal, folded or lognormal.
        pool: P > 1 splits each batch in P slices, each with its own mask (per sample when P >= batch size);
            memory P × parameters for the masks.
    """

    name = "aconnect"

    def __init__(self, sigma: float, kind: Literal["normal", "folded", "lognormal"] = "normal", pool: int = 1,
                 **common: Any) -> None:
        _check(pool < 1, f"pool={pool} must be >= 1")
        self.sigma, self.kind, self.pool = sigma, kind, pool
        self.faults = (_fault("sigma", GaussianMult, sigma, kind),)
        super().__init__(**common)

    def training_loss(self, model: Classifier, x: Tensor, y: Tensor, seed: int) -> Tensor:
        if self.pool == 1:
            return super().training_loss(model, x, y, seed)
        weights, _ = perturb(model.fault_targets(), self.faults[0], make_generator(seed, x.device), k=self.pool,
                             natural=self.natural, scale=self.train_scale, whole=self.whole_gradient)
        per_mask = {n: w.unbind(0) for n, w in weights.items()}  # unbind: backward is one stack, not P scatters
        slices = [xs for xs in x.tensor_split(self.pool) if len(xs)]
        logits = torch.cat([model.run_on(xs, {n: w[i] for n, w in per_mask.items()}) for i, xs in enumerate(slices)])
        return F.cross_entropy(logits, y)


class StraightThrough(FaultAwareMethod):
    """Methods whose maps are not differentiable as intended: a straight-through gradient (``faultlab.training.
    perturb``).

    Args:
        gradient: ``masked``: weights the map reports faulty (stuck devices) get zero gradient; ``whole``: the
            gradient passes through the whole transform there too (the TiO2 paper's estimator).
    """

    def __init__(self, *, gradient: Literal["masked", "whole"] = "masked", **common: Any) -> None:
        _check(gradient not in ("masked", "whole"), f"gradient={gradient!r} must be one of masked, whole")
        self.gradient = gradient
        super().__init__(**common)
        _check(gradient == "whole" and self.natural,
               "gradient=whole applies to straight-through maps, not drop/gaussian_mult")

    @property
    def whole_gradient(self) -> bool:
        return self.gradient == "whole"


class StuckAt(StraightThrough):
    """Crossbar stuck-at faults, W' = stuck_at(sa0, sa1)(W), a fresh map per step (DESIGN.md §3); weights on
    failed devices get zero gradient and are restored after the optimizer step, so momentum, Adam moments and
    weight decay cannot move them either. Device details (conductances, presets): :class:`HWTransform`.

    Args:
        sa0, sa1: probability that a device is stuck at g_min (SA0) / g_max (SA1).
    """

    name = "stuck_at"
    freeze = True

    def __init__(self, sa0: float, sa1: float, **common: Any) -> None:
        self.sa0, self.sa1 = sa0, sa1
        self.faults = (_fault("sa0", StuckAtFault, sa0, sa1),)
        super().__init__(**common)


class MAT(StraightThrough):
    """Memristor-Aware-Training: W' = W + σ·max|W|·ε with a straight-through gradient, usually after
    ``clean_epochs`` of clean training and with ``clip_w`` (2.5 on MNIST).

    Args:
        sigma: noise σ relative to the layer's largest weight.
    """

    name = "mat"

    def __init__(self, sigma: float, **common: Any) -> None:
        self.sigma = sigma
        self.faults = (_fault("sigma", GaussianAdd, sigma),)
        super().__init__(**common)


class RandomLevelNoise(StraightThrough):
    """Noise at a random level per step (AnalogAI's multi-scale noise core): each step draws ``levels_per_step``
    distinct levels v from ``levels`` and averages the loss over one forward pass per level, each under ``fault``
    at {rate} = v (default gaussian_add(sigma={rate}); AnalogAI's σ_W = 0.778·v·max|W|).

    Args:
        levels: the noise levels (at least one).
        levels_per_step: how many distinct levels each step averages, in [1, len(levels)].
        fault: the fault template, with ``{rate}`` where the level goes.
    """

    name = "random_level_noise"

    def __init__(self, levels: Sequence[float], levels_per_step: int = 1, fault: str = "gaussian_add(sigma={rate})",
                 **common: Any) -> None:
        self.levels, self.levels_per_step, self.fault = list(levels), levels_per_step, fault
        _check(not self.levels, "random_level_noise needs levels, e.g. [0.1, 0.2, 0.3]")
        _check(not 1 <= levels_per_step <= len(self.levels),
               f"levels_per_step={levels_per_step} must be in [1, {len(self.levels)}] (the number of levels)")
        try:
            sweep_parameter(fault)
        except FaultSpecError as err:
            raise FaultlabError(f"fault_aware.fault: the levels are swept through the fault: {err}") from None
        self.faults = tuple(_fault(f"levels[{i}]", parse_fault, fault, rate=v) for i, v in enumerate(self.levels))
        super().__init__(**common)

    def training_loss(self, model: Classifier, x: Tensor, y: Tensor, seed: int) -> Tensor:
        if len(self.faults) == 1:
            return super().training_loss(model, x, y, seed)
        clean, generator = model.fault_targets(), make_generator(seed, x.device)
        kw = {"natural": self.natural, "scale": self.train_scale, "whole": self.whole_gradient}
        losses = [F.cross_entropy(model.run_on(x, perturb(clean, self.faults[i], generator, **kw)[0]), y)
                  for i in choose_levels(seed, len(self.faults), self.levels_per_step)]
        return torch.stack(losses).mean()


class HWTransform(StraightThrough):
    """The TiO2 passive-crossbar paper's hardware-aware training: the whole crossbar chain (mapping, programming
    noise, stuck devices) in the forward pass with a straight-through estimator, the weights on failed devices
    not updated that step. Any fault spec works: ``quantize(16)`` alone is quantization-aware training.

    Args:
        fault: the fault spec (a chain, a device preset such as ``device(tio2_drolet2023)``, ...).
    """

    name = "hw_transform"
    freeze = True

    def __init__(self, fault: str = HW_TRANSFORM_FAULT, **common: Any) -> None:
        self.fault = fault
        self.faults = (_fault("fault", parse_fault, fault),)
        super().__init__(**common)
