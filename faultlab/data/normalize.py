"""Input normalisation of image data: ``"dataset"`` (the data set's own mean and std), ``"none"`` (inputs in [0, 1],
as loaded) or ``[mean, std]``. Plain torch: campaigns on tensors use it without the data modules (and Lightning)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import torch
from torch import Tensor

from faultlab import FaultlabError


def standardize(x: Tensor, mean: float | Tensor, std: float | Tensor) -> Tensor:
    return ((x - mean) / std).float()


Normalize = str | Sequence  # "dataset", "none", or [mean, std] (scalars, or one value per channel)


def parse_normalize(value: Normalize | None, default: str = "dataset") -> str | tuple[list[float], list[float]]:
    """``"dataset"`` (the data set's own mean and std), ``"none"`` (inputs in [0, 1], as loaded) or
    ``[mean, std]``, each a number or one number per channel (JSON text accepted: ``"[0.5, 0.25]"``)."""
    if value is None:
        return default
    if isinstance(value, str):
        text = value.strip()
        if text in ("dataset", "none"):
            return text
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise FaultlabError(f"normalize={value!r}; use 'dataset', 'none' or [mean, std], "
                                "e.g. [0.5, 0.25] or [[0.49, 0.48, 0.45], [0.25, 0.24, 0.26]]") from None
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise FaultlabError(f"normalize={value!r}; use 'dataset', 'none' or a pair [mean, std]")
    pair = [[float(v) for v in part] if isinstance(part, Sequence) else [float(part)] for part in value]
    if len(pair[0]) != len(pair[1]) or any(s <= 0 for s in pair[1]):
        raise FaultlabError(f"normalize={value!r}: mean and std need the same length and std > 0")
    return pair[0], pair[1]


def apply_normalize(x: Tensor, normalize: Normalize | None, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Inputs ``x`` (``[N, C, ...]`` in [0, 1]) normalised per ``normalize``: with ``"dataset"`` by the
    given data set ``mean``/``std`` (one value, or one per channel), ``"none"`` unchanged (as float)."""
    choice = parse_normalize(normalize)
    if choice == "none":
        return x.float()
    m, s = (mean, std) if choice == "dataset" else choice
    shape = (-1,) + (1,) * (x.dim() - 2) if x.dim() > 2 else (-1,)
    m_t, s_t = torch.tensor(m, dtype=torch.float32), torch.tensor(s, dtype=torch.float32)
    if m_t.numel() > 1:
        if x.dim() < 2 or m_t.numel() != x.shape[1]:
            raise FaultlabError(f"normalize has {m_t.numel()} channel values but the inputs have shape "
                                f"{list(x.shape[1:])}; give one value per channel or a single value")
        m_t, s_t = m_t.view(shape), s_t.view(shape)
    return standardize(x, m_t, s_t)
