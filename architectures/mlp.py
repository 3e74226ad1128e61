"""Small fully connected networks: the MLPs of A-Connect and Memristor-Aware-Training (784-128-10)
and the TiO2 crossbar paper's 2-8-1 half-moons net.

    net = mlp(hidden=[128])                   # 784-128-10, 101,770 parameters
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ._registry import register

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


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
        self.variant = "mlp-" + "-".join(map(str, sizes))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class BinaryNet(MLP):
    """One output logit z, returned as two-class logits [0, z]: softmax cross-entropy on these equals
    binary cross-entropy on sigmoid(z), so the network stays 2-8-1 while the rest of faultlab sees
    an ordinary two-class classifier."""

    def forward(self, x: Tensor) -> Tensor:
        z = self.layers(x)
        return torch.cat([torch.zeros_like(z), z], dim=1)


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
