"""LeNet-5-style CNN for MNIST, as AnalogAI trains it (PJLAB-CHIP/AnalogAI, ``model/lenet.py``; LeCun et al.
1998 for the layer sizes): conv5x5(6)-ReLU-maxpool2-conv5x5(16)-ReLU-maxpool2-fc120-ReLU-fc84-ReLU-fc10.

The first conv is padded by 2, so a 28x28 digit keeps its size (as LeNet-5's own 32x32 input did without
padding): 28 -> conv1 28 -> pool 14 -> conv2 10 -> pool 5, and fc1 takes 16·5·5 = 400 features. As in
AnalogAI the convs have no bias (``conv_bias=True`` adds them) and the pooling is max pooling (LeNet-5's was
a trainable subsampling with tanh). AnalogAI feeds 32x32 crops of MNIST (fc1 16·6·6 = 576); ``input_size``
follows the data: fc1 takes 16·s·s features, s = ((input_size / 2) - 4) / 2 rounded down.

    net = lenet5()                  # 28x28x1 -> 10: 61,684 parameters (61,706 with conv_bias=True)
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ._registry import register, variant_grammar

CONV_CHANNELS = (6, 16)
FC_SIZES = (120, 84)
KERNEL = 5


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 conv_bias: bool = False) -> None:
        super().__init__()
        size = ((input_size // 2) - (KERNEL - 1)) // 2
        if size < 1:
            raise ValueError(f"lenet5 needs inputs of at least 12x12 pixels, got {input_size}")
        c1, c2 = CONV_CHANNELS
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, KERNEL, padding=2, bias=conv_bias), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, KERNEL, bias=conv_bias), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        f1, f2 = FC_SIZES
        self.classifier = nn.Sequential(
            nn.Linear(c2 * size * size, f1), nn.ReLU(inplace=True),
            nn.Linear(f1, f2), nn.ReLU(inplace=True),
            nn.Linear(f2, num_classes),
        )
        self.variant = "lenet5" + ("-convbias" if conv_bias else "")

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))


@variant_grammar
def parse_variant(name: str) -> tuple[str, dict[str, Any]] | None:
    """``lenet5-convbias`` -> ("lenet5", {"conv_bias": True}); None for any other name."""
    return ("lenet5", {"conv_bias": True}) if name == "lenet5-convbias" else None


@register
def lenet5(num_classes: int = 10, in_channels: int = 1, input_size: int = 28, conv_bias: bool = False) -> LeNet5:
    """LeNet-5-style CNN of AnalogAI's MNIST protocol (module doc)."""
    return LeNet5(num_classes, in_channels, input_size, conv_bias)
