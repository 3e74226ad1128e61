"""Small fully connected networks: the MLPs of A-Connect and Memristor-Aware-Training (784-128-10)
and the TiO2 crossbar paper's 2-8-1 half-moons net.

    net = mlp()                               # 784-128-10 (variant "mlp-784-128-10"), 101,770 parameters
    net = mlp(hidden=[300, 100])              # 784-300-100-10, AnalogAI's MNIST MLP (model/mlp.py), 266,610
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ._registry import register, variant_grammar

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
_MLP_LABEL = re.compile(r"^mlp-(?P<sizes>\d+(?:-\d+)+)(?P<act>-sigmoid|-tanh)?(?P<nobias>-nobias)?$")
_MOONS_LABEL = re.compile(r"^moons_net-(?P<inp>\d+)-(?P<hidden>\d+)-1$")


class MLP(nn.Module):
    """Flatten, then Linear-activation layers; the last layer is linear."""

    def __init__(self, sizes: Sequence[int], bias: bool = True, activation: str = "relu") -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"an MLP needs at least input and output sizes, got {list(sizes)}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b, bias=bias))
            if i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
        self.layers = nn.Sequential(*layers)
        self.variant = ("mlp-" + "-".join(map(str, sizes)) + ("" if activation == "relu" else f"-{activation}")
                        + ("" if bias else "-nobias"))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class BinaryNet(MLP):
    """One output logit z, returned as two-class logits [0, z]: softmax cross-entropy on these equals
    binary cross-entropy on sigmoid(z), so the network stays 2-8-1 while the rest of faultlab sees
    an ordinary two-class classifier."""

    def forward(self, x: Tensor) -> Tensor:
        z = self.layers(x)
        return torch.cat([torch.zeros_like(z), z], dim=1)


@variant_grammar
def parse_variant(name: str) -> tuple[str, dict[str, Any]] | None:
    """``mlp-784-128-10[-sigmoid|-tanh][-nobias]`` and ``moons_net-2-8-1`` -> (builder, kwargs); else None."""
    if match := _MOONS_LABEL.match(name):
        return "moons_net", {"in_features": int(match["inp"]), "hidden": int(match["hidden"])}
    if (match := _MLP_LABEL.match(name)) is None:
        return None
    sizes = [int(v) for v in match["sizes"].split("-")]
    kwargs: dict[str, Any] = {"in_features": sizes[0], "hidden": sizes[1:-1], "num_classes": sizes[-1]}
    if match["act"]:
        kwargs["activation"] = match["act"][1:]
    if match["nobias"]:
        kwargs["bias"] = False
    return "mlp", kwargs


@register
def mlp(
    hidden: Sequence[int] = (128,),
    num_classes: int = 10,
    in_features: int = 784,
    bias: bool = True,
    activation: str = "relu",
) -> MLP:
    return MLP([in_features, *hidden, num_classes], bias=bias, activation=activation)


@register
def moons_net(hidden: int = 8, in_features: int = 2, num_classes: int = 2) -> BinaryNet:
    """The TiO2 crossbar paper's 2-8-1 network (sigmoid hidden layer, one output logit)."""
    if num_classes != 2:
        raise ValueError(f"moons_net is a binary classifier (num_classes=2), got {num_classes}")
    net = BinaryNet([in_features, hidden, 1], activation="sigmoid")
    net.variant = f"moons_net-{in_features}-{hidden}-1"
    return net
