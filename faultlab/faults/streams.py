"""Random streams of fault models: one ``torch.Generator``, or K generators side by side.

    u = uniform((2, K, 8, 3), GeneratorStack(gens), batch_dim=1, like=g)   # slice k from gens[k]

A draw of shape ``[..., B, *shape]`` from one generator is a single call. From a :class:`GeneratorStack`
of K generators (B = K), slice k along ``batch_dim`` is what ``torch.rand``/``torch.randn`` of the same
shape with B = 1 gives from generator k, bit for bit. So K trials' maps, each from its own keyed
generator, come out of one vectorised transform with the values of K separate draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


class GeneratorStack:
    """K generators (one device) drawn side by side, one per slice of the batch dimension."""

    def __init__(self, generators: Sequence[torch.Generator]) -> None:
        self.generators = tuple(generators)
        if not self.generators:
            raise ValueError("GeneratorStack needs at least one generator")
        devices = {str(g.device) for g in self.generators}
        if len(devices) != 1:
            raise ValueError(f"GeneratorStack: generators on several devices ({', '.join(sorted(devices))})")

    @property
    def device(self) -> torch.device:
        return self.generators[0].device

    def __len__(self) -> int:
        return len(self.generators)


RandomSource = torch.Generator | GeneratorStack


def _draw(fill: Callable, shape: tuple[int, ...], source: RandomSource, batch_dim: int, like: Tensor) -> Tensor:
    opts = {"device": like.device, "dtype": like.dtype}
    if isinstance(source, torch.Generator):
        return fill(shape, generator=source, **opts)
    k = len(source)
    if shape[batch_dim] != k:
        raise ValueError(f"draw of shape {tuple(shape)} has {shape[batch_dim]} slices along dim {batch_dim}, "
                         f"but the GeneratorStack holds {k} generators")
    one = (*shape[:batch_dim], 1, *shape[batch_dim + 1 :])
    out = torch.empty((k, *one), **opts)
    for slot, generator in zip(out, source.generators):
        fill(one, generator=generator, out=slot)
    return out.squeeze(batch_dim + 1).movedim(0, batch_dim)


def uniform(shape: Sequence[int], source: RandomSource, batch_dim: int, like: Tensor) -> Tensor:
    """U[0, 1) of ``shape`` in ``like``'s dtype and device; ``batch_dim`` is the trial-slice dimension."""
    return _draw(torch.rand, tuple(shape), source, batch_dim, like)


def normal(shape: Sequence[int], source: RandomSource, batch_dim: int, like: Tensor) -> Tensor:
    """N(0, 1) of ``shape`` in ``like``'s dtype and device; ``batch_dim`` as for :func:`uniform`."""
    return _draw(torch.randn, tuple(shape), source, batch_dim, like)
