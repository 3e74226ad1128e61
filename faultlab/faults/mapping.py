"""Differential-pair mapping between weights and RRAM conductances (the one place it is written).

    g_pos, g_neg, w_max = to_conductance(w)          # µS, each a device
    w_back = from_conductance(g_pos, g_neg, w_max)   # == clip(w, ±w_max)

With r = g_max - g_min and W clipped to [-w_max, w_max]:
    G+ = g_min + r · max(W, 0) / w_max,   G- = g_min + r · max(-W, 0) / w_max,
    W' = (G+ - G-) · w_max / r.
A device stuck at g_max on the wrong side of the pair moves a weight by w_max (w -> w - w_max for a
positive w whose negative device is SA1).

Crossbar layout: W is viewed as the matrix [out, fan_in] (fan_in = in · kh · kw; a 1-D tensor as [n, 1]);
output o drives bit line o (a column of the crossbar), input j word line j (a row). A mapped bias is one
more word line whose input is fixed at 1: the matrix [W | b] of shape [out, fan_in + 1] (``join_bias``).
The scale w_max is per ``tensor`` (max|W| over the whole matrix), per ``column`` (per bit line: one per
output, over all its inputs) or per ``tile(R,C)`` (per tile of R word lines × C bit lines).
"""

from __future__ import annotations

import math
import re

import torch
from torch import Tensor

from .base import FaultSpecError, abs_max, check_number, slice_view

G_MIN_US = 100.0  # µS, high-resistance state (10 kΩ), TiO2 crossbar paper
G_MAX_US = 500.0  # µS, low-resistance state (2 kΩ)
FULL_PERCENTILE = 100.0
_TILE = re.compile(r"\s*tile\s*\(\s*(?:R\s*=\s*)?(\d+)\s*,\s*(?:C\s*=\s*)?(\d+)\s*\)\s*$")


def check_conductance_range(fault: str, g_min: float, g_max: float, clip_percentile: float) -> dict:
    """Validated ``g_min``, ``g_max`` (µS, 0 <= g_min < g_max) and ``clip_percentile`` in (0, 100]."""
    g_min = check_number(fault, "g_min", g_min, 0.0)
    g_max = check_number(fault, "g_max", g_max, 0.0)
    if g_max <= g_min:
        raise FaultSpecError(f"{fault}: g_max={g_max!r} must be greater than g_min={g_min!r} (µS)")
    clip = check_number(fault, "clip_percentile", clip_percentile, 0.0, FULL_PERCENTILE, lo_open=True)
    return {"g_min": g_min, "g_max": g_max, "clip_percentile": clip}


def check_scale(fault: str, scale: object, clip_percentile: float) -> str:
    """Canonical scale text: ``tensor``, ``column`` or ``tile(R,C)`` (R word lines × C bit lines per tile)."""
    if scale in ("tensor", "column"):
        return str(scale)
    match = _TILE.match(scale) if isinstance(scale, str) else None
    if match is None or min(int(match.group(1)), int(match.group(2))) < 1:
        raise FaultSpecError(f"{fault}: scale={scale!r} is not one of tensor, column, tile(R,C) with R, C >= 1")
    if clip_percentile < FULL_PERCENTILE:
        raise FaultSpecError(f"{fault}: clip_percentile applies to scale=tensor or column, not {scale}")
    return f"tile({int(match.group(1))},{int(match.group(2))})"


def matrix_view(wb: Tensor) -> Tensor:
    """``[B, *shape]`` as the crossbar matrices ``[B, out, fan_in]`` (a 1-D tensor as ``[B, n, 1]``)."""
    return wb.reshape(wb.shape[0], wb.shape[1] if wb.ndim > 1 else 1, -1)


def device_scale(wb: Tensor, scale: str = "tensor", clip_percentile: float = FULL_PERCENTILE) -> Tensor:
    """w_max of each slice of ``wb`` ``[B, *shape]`` per tensor, column or tile, broadcastable to ``wb``."""
    if scale == "tensor":
        return weight_scale(wb, clip_percentile, batched=True)
    m = matrix_view(wb)
    if scale == "column":
        per_output = weight_scale(m.reshape(-1, m.shape[2]), clip_percentile, batched=True)
        return per_output.reshape(m.shape[0], m.shape[1], 1).expand_as(m).reshape(wb.shape)
    rows, cols = (int(v) for v in _TILE.match(scale).groups())  # R word lines (inputs) × C bit lines (outputs)
    n_out, n_in = m.shape[1], m.shape[2]
    pad_out, pad_in = -n_out % cols, -n_in % rows
    padded = torch.nn.functional.pad(m.abs(), (0, pad_in, 0, pad_out))
    tiles = padded.reshape(m.shape[0], (n_out + pad_out) // cols, cols, (n_in + pad_in) // rows, rows)
    per_tile = tiles.amax(dim=(2, 4)).clamp_min(torch.finfo(wb.dtype).tiny)
    out_tile = torch.arange(n_out, device=wb.device) // cols
    in_tile = torch.arange(n_in, device=wb.device) // rows
    return per_tile[:, out_tile][:, :, in_tile].reshape(wb.shape)


def join_bias(w: Tensor, b: Tensor) -> Tensor:
    """The crossbar matrix of a layer with its bias as one more word line: ``[out, fan_in + 1]``."""
    return torch.cat((w.reshape(w.shape[0], -1), b.reshape(-1, 1)), dim=1)


def split_bias(t: Tensor, weight_shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`join_bias` for ``[..., out, fan_in + 1]`` (leading trial dims kept)."""
    lead = t.shape[:-2]
    return t[..., :-1].reshape(*lead, *weight_shape), t[..., -1]


def weight_scale(w: Tensor, clip_percentile: float = FULL_PERCENTILE, *, batched: bool = False) -> Tensor:
    """w_max: max|W| (``clip_percentile=100``) or that percentile of |W| (linear interpolation).

    Returns a 0-d tensor, or with ``batched`` one value per leading slice shaped ``[B, 1, ...]``.
    Never below the dtype's smallest normal number, so an all-zero tensor maps without dividing by 0.
    """
    wb = w if batched else w.reshape(1, -1)
    if clip_percentile >= FULL_PERCENTILE:
        scale = abs_max(wb)
    else:
        flat = wb.reshape(wb.shape[0], -1).abs().sort(dim=1).values
        pos = clip_percentile / FULL_PERCENTILE * (flat.shape[1] - 1)
        lo, frac = math.floor(pos), pos - math.floor(pos)
        hi = min(lo + 1, flat.shape[1] - 1)
        scale = slice_view(flat[:, lo] + frac * (flat[:, hi] - flat[:, lo]), wb)
    scale = scale.clamp_min(torch.finfo(w.dtype).tiny)
    return scale if batched else scale.reshape(())


def clip_weights(w: Tensor, w_max: Tensor) -> Tensor:
    """W clipped to [-w_max, w_max]."""
    return torch.maximum(torch.minimum(w, w_max), -w_max)


def to_conductance(
    w: Tensor,
    g_min: float = G_MIN_US,
    g_max: float = G_MAX_US,
    *,
    clip_percentile: float = FULL_PERCENTILE,
    w_max: Tensor | float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Map W to a differential pair ``(G+, G-)`` in µS; returns ``(g_pos, g_neg, w_max)``.

    ``w_max`` defaults to :func:`weight_scale` of the whole tensor; pass a tensor broadcastable to W
    to map slices separately.
    """
    if w_max is None:
        w_max = weight_scale(w, clip_percentile)
    w_max = torch.as_tensor(w_max, dtype=w.dtype, device=w.device)
    wc = clip_weights(w, w_max)
    r = g_max - g_min
    g_pos = g_min + r * wc.clamp_min(0) / w_max
    g_neg = g_min + r * (-wc).clamp_min(0) / w_max
    return g_pos, g_neg, w_max


def from_conductance(
    g_pos: Tensor, g_neg: Tensor, w_max: Tensor | float, g_min: float = G_MIN_US, g_max: float = G_MAX_US
) -> Tensor:
    """W' = (G+ - G-) · w_max / (g_max - g_min), conductances in µS."""
    return (g_pos - g_neg) * w_max / (g_max - g_min)
