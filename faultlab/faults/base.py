"""Fault-model base API: a :class:`FaultModel` maps (W, generator) to a :class:`FaultDraw`.

    draw = Drop(p=0.1).draw(w, make_generator(seed), k=20)   # 20 independent maps, [20, *w.shape]
    maps = Drop(p=0.1).draw_each(w, [make_generator(s) for s in trial_seeds])  # one map per keyed seed

Contract shared by every model: ``w`` is never modified in place, the global RNG is never used
(every random draw passes ``generator=``, which must live on ``w.device``), the output has w's dtype
and device, and the same (w, generator state) gives the same output bit for bit. Models that draw
through ``faults.streams`` (``uniform``/``normal``) are ``stackable``: ``draw_each`` then draws K keyed
maps with one vectorised transform.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from faultlab import FaultlabError

from .streams import GeneratorStack, RandomSource

ParamValue = float | int | str
STACK_CHUNK_ELEMENTS = 2**21  # weights per vectorised draw in draw_each (8 MB of float32 per temporary)


class FaultSpecError(FaultlabError, ValueError):
    """A fault specification or parameter is invalid; the message is one line naming the culprit."""


@dataclass(frozen=True)
class FaultDraw:
    """One draw of a fault model.

    weights: perturbed weights, ``w.shape`` (or ``[k, *w.shape]``), w's dtype and device.
    faulty: bool mask of the same shape, True where the value is fixed by the fault and not by w
        (dropped, stuck or line-fault weights); None for pure noise models.
    """

    weights: Tensor
    faulty: Tensor | None


# ----------------------------------------------------------------------------- value checks


def format_value(value: ParamValue) -> str:
    """Canonical text of a parameter value: shortest ``repr`` for floats, ints as ints."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _fmt_bound(x: float) -> str:
    return "inf" if x == math.inf else "-inf" if x == -math.inf else f"{x:g}"


def check_number(
    fault: str,
    param: str,
    value: object,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> Any:
    """Return ``value`` as float (or int when ``integer``) or raise a one-line FaultSpecError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "an integer" if integer else "a number"
        raise FaultSpecError(f"{fault}: {param}={value!r} is not {kind}")
    out: float | int
    if integer:
        if not isinstance(value, numbers.Integral) and not float(value).is_integer():
            raise FaultSpecError(f"{fault}: {param}={value!r} is not an integer")
        out = int(value)
    else:
        out = float(value)
        if not math.isfinite(out):
            raise FaultSpecError(f"{fault}: {param}={out!r} is not finite")
    if out < lo or out > hi or (lo_open and out == lo) or (hi_open and out == hi):
        left = "(" if lo_open or lo == -math.inf else "["
        right = ")" if hi_open or hi == math.inf else "]"
        interval = f"{left}{_fmt_bound(lo)}, {_fmt_bound(hi)}{right}"
        raise FaultSpecError(f"{fault}: {param}={format_value(out)} is outside {interval}")
    return out


def check_choice(fault: str, param: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a one-line FaultSpecError."""
    if not isinstance(value, str) or value not in choices:
        raise FaultSpecError(f"{fault}: {param}={value!r} is not one of {', '.join(choices)}")
    return value


# ----------------------------------------------------------------------------- tensor helpers


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Half-precision weights are perturbed in float32 and cast back; others keep their dtype."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def slice_view(values: Tensor, like: Tensor) -> Tensor:
    """Reshape per-slice values ``[B]`` so they broadcast against ``like`` ``[B, ...]``."""
    return values.reshape(values.shape[0], *([1] * (like.ndim - 1)))


def abs_max(wb: Tensor) -> Tensor:
    """max|W| of each slice of ``wb`` ``[B, ...]``, shaped to broadcast against it."""
    return slice_view(wb.reshape(wb.shape[0], -1).abs().amax(dim=1), wb)


def _check_inputs(name: str, w: object, generator: object, k: object) -> None:
    if not isinstance(w, Tensor) or not w.is_floating_point():
        got = w.dtype if isinstance(w, Tensor) else type(w).__name__
        raise TypeError(f"{name}: w must be a floating-point tensor, got {got}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{name}: generator must be a torch.Generator, got {type(generator).__name__}")
    gd, wd = generator.device, w.device
    if gd.type != wd.type or (gd.type != "cpu" and gd.index is not None and gd.index != wd.index):
        raise ValueError(f"{name}: generator is on {gd} but w is on {wd}; make_generator(seed, device=w.device)")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"{name}: k={k!r} must be a positive int or None")


def batched(name: str, w: Tensor, generator: torch.Generator, k: int | None) -> Tensor:
    """Validate the inputs and return ``[B, *w.shape]`` in the compute dtype (B = k or 1; a view)."""
    _check_inputs(name, w, generator, k)
    wb = w.unsqueeze(0)
    if k is not None:
        wb = wb.expand(k, *w.shape)
    return wb.to(compute_dtype(w.dtype))


def unbatched(t: Tensor, k: int | None) -> Tensor:
    return t[0] if k is None else t


# ----------------------------------------------------------------------------- base class


class FaultModel:
    """Abstract fault model; parameters are fixed at construction (use :meth:`replace`).

    Subclasses set ``name``, validate in ``__init__`` (storing parameters with ``self._set``) and
    implement ``_apply(wb, generator)``: ``wb`` is ``[B, *shape]`` holding B independent slices,
    every per-tensor statistic (max|W|, percentiles) is taken per slice, and random draws have
    shape ``[..., B, *shape]`` on ``wb.device``. Drawing them with ``faults.streams.uniform``/``normal``
    (naming the B dimension) and setting ``stackable = True`` lets ``draw_each`` vectorise K trials.
    """

    name: ClassVar[str] = ""
    per_forward: ClassVar[bool] = False  # True: redraw on every forward pass, also at evaluation
    stackable: ClassVar[bool] = False  # True: ``_apply`` draws only through faults.streams (see draw_each)
    maps_bias: ClassVar[bool] = False  # True: the model's device maps biases (a device preset that says so)
    units: ClassVar[dict[str, str]] = {}  # parameter -> its unit or meaning (``faultlab faults`` lists them)
    _param_names: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.kind in kinds]
        params = [p for p in params if p.name != "self"]
        cls._param_names = tuple(p.name for p in params)
        cls._defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}

    def _set(self, **values: Any) -> None:
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace({key}=...)")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def events(self) -> tuple[FaultModel, ...]:
        """The primitive models applied in order: the model itself (a chain or a device preset: its members)."""
        return (self,)

    # --- drawing
    def _apply(self, wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def draw(self, w: Tensor, generator: torch.Generator, k: int | None = None) -> FaultDraw:
        """Perturb ``w``; with ``k`` return ``k`` independent maps stacked as ``[k, *w.shape]``.

        ``generator`` must be on ``w.device`` (a CPU generator for CPU tensors).
        """
        wb = batched(self.name, w, generator, k)
        weights, faulty = self._apply(wb, generator)
        weights = unbatched(weights.to(w.dtype), k)
        if weights.data_ptr() == w.data_ptr():  # never hand back an alias of the input
            weights = weights.clone()
        return FaultDraw(weights, None if faulty is None else unbatched(faulty, k))

    def draw_each(self, w: Tensor, generators: Sequence[torch.Generator]) -> FaultDraw:
        """One map per generator, stacked ``[K, *w.shape]``: bit for bit the maps of ``draw(w, g)`` for each
        generator in turn (K keyed trials), drawn with one vectorised transform per chunk of at most
        ``STACK_CHUNK_ELEMENTS`` weights when the model is ``stackable``, one draw per generator otherwise.

        Chunks bound the transform's temporaries. Measured on a 100 k-weight layer with 64 maps: in chunks of
        20 maps, read_noise drew 1.6x and stuck_at 1.1x faster than all 64 at once, and drop about 10 %
        slower (the final concatenation). For a 16-weight layer, all 64 at once drew 18x faster than one by
        one."""
        generators = list(generators)
        if not generators:
            raise ValueError(f"{self.name}: draw_each needs at least one generator")
        if not self.stackable:
            draws = [self.draw(w, g) for g in generators]
            faulty = None if draws[0].faulty is None else torch.stack([d.faulty for d in draws])
            return FaultDraw(torch.stack([d.weights for d in draws]), faulty)
        for generator in generators:
            _check_inputs(self.name, w, generator, None)
        size = max(1, STACK_CHUNK_ELEMENTS // max(1, w.numel()))
        chunks = [self._draw_stack(w, generators[i : i + size]) for i in range(0, len(generators), size)]
        if len(chunks) == 1:
            return chunks[0]
        faulty = None if chunks[0].faulty is None else torch.cat([c.faulty for c in chunks])
        return FaultDraw(torch.cat([c.weights for c in chunks]), faulty)

    def _draw_stack(self, w: Tensor, generators: list[torch.Generator]) -> FaultDraw:
        wb = w.unsqueeze(0).expand(len(generators), *w.shape).to(compute_dtype(w.dtype))
        weights, faulty = self._apply(wb, GeneratorStack(generators))
        weights = weights.to(w.dtype)
        if weights.untyped_storage().data_ptr() == w.untyped_storage().data_ptr():
            weights = weights.clone()
        return FaultDraw(weights.contiguous(), None if faulty is None else faulty.contiguous())

    def __call__(self, w: Tensor, generator: torch.Generator, k: int | None = None) -> Tensor:
        return self.draw(w, generator, k).weights

    # --- parameters and spec
    @property
    def params(self) -> dict[str, ParamValue]:
        """Parameters in signature order."""
        return {n: getattr(self, n) for n in self._param_names}

    def spec(self, full: bool = False) -> str:
        """Canonical text, e.g. ``drop(p=0.1)``; round-trips through ``parse_fault``.

        A parameter is written when it is required, first, or differs from its default
        (``full=True`` writes every parameter).
        """
        parts = [
            f"{key}={format_value(value)}"
            for i, (key, value) in enumerate(self.params.items())
            if full or i == 0 or key not in self._defaults or value != self._defaults[key]
        ]
        return f"{self.name}({','.join(parts)})"

    def replace(self, **changes: Any) -> FaultModel:
        """A new instance with some parameters changed (rate sweeps)."""
        for key in changes:
            if key not in self._param_names:
                allowed = ", ".join(self._param_names)
                raise FaultSpecError(f"{self.name}: unknown parameter {key!r}; allowed: {allowed}")
        return type(self)(**{**self.params, **changes})

    def __repr__(self) -> str:
        return self.spec()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FaultModel) and type(other) is type(self) and other.spec(True) == self.spec(True)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.spec(True)))
