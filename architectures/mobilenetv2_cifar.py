"""MobileNetV2 (Sandler et al. 2018) for 32x32 inputs: stride-1 stem and stride-1 second stage,
so the final feature map is 4x4 instead of 1x1. ``width`` scales every stage (MAT used 0.4).

    net = mobilenetv2_cifar(num_classes=10, width=1.0)     # 2.24 M parameters
"""

from __future__ import annotations

import re
from typing import Any

from torch import Tensor, nn

from ._registry import register, variant_grammar
from .blocks import InvertedResidual, conv_bn_relu6

# (expansion, out channels, repeats, first stride): ImageNet config with stage 2 at stride 1.
CIFAR_CONFIG = (
    (1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
LAST_CHANNELS = 1280
_LABEL = re.compile(r"^mobilenetv2_cifar-w(?P<width>\d*\.?\d+(?:e-?\d+)?)$")


def _round(ch: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor`` without dropping more than 10 % (as in the paper's code)."""
    out = max(divisor, int(ch + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * ch else out


class MobileNetV2Cifar(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0, dropout: float = 0.0) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width}")
        ch = _round(32 * width)
        layers: list[nn.Module] = [conv_bn_relu6(in_channels, ch, 3, 1)]
        for t, c, n, s in CIFAR_CONFIG:
            out = _round(c * width)
            for i in range(n):
                layers.append(InvertedResidual(ch, out, s if i == 0 else 1, t))
                ch = out
        last = _round(LAST_CHANNELS * max(1.0, width))
        layers.append(conv_bn_relu6(ch, last, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(last, num_classes)
        self.variant = "mobilenetv2_cifar" + (f"-w{width:g}" if width != 1.0 else "")
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.dropout(self.pool(self.features(x)).flatten(1)))


@variant_grammar
def parse_variant(name: str) -> tuple[str, dict[str, Any]] | None:
    """``mobilenetv2_cifar-w0.35`` -> ("mobilenetv2_cifar", {"width": 0.35}); None for any other name."""
    match = _LABEL.match(name)
    return None if match is None else ("mobilenetv2_cifar", {"width": float(match["width"])})


@register
def mobilenetv2_cifar(
    num_classes: int = 10, in_channels: int = 3, width: float = 1.0, dropout: float = 0.0
) -> MobileNetV2Cifar:
    return MobileNetV2Cifar(num_classes=num_classes, in_channels=in_channels, width=width, dropout=dropout)
