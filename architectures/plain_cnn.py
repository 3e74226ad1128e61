"""Plain CNN controls for the mini-MobileNets of the linear-bottleneck study: the same stem, the same number
of blocks n and the same flatten head, but each block a plain stack of conv-BN-ReLU6 layers with no expansion,
no depthwise conv, no linear (activation-free) projection and no shortcut.

A block is conv3x3 (C->C), conv3x3 (C->C), conv1x1 (C->C), each followed by BN and ReLU6: 3 conv layers like
an inverted residual (expand 1x1, depthwise 3x3, project 1x1), and 9C² + 9C² + C² = 19C² weights, 1,216 for
C = 8 against 1,200 for an (8, 1, 6) inverted residual (8·48 + 9·48 + 48·8). ReLU6 as in the mini-MobileNet,
so the bounded activation is not a confound. ``shortcut=True`` adds an identity shortcut around each block
(a residual control without the linear bottleneck): the ONE thing that differs between ``plain_cnn-4x8``
and ``plain_cnn-4x8-shortcut`` (67,874 parameters each at n = 4 on 28x28x1, against 68,450 for
``mini_mobilenet-4x(8,1,6)``).

    net = plain_cnn(n=3)                        # matched to mini_mobilenet_n(n=3): 66,610 vs 67,042 parameters
    net = architectures.build("plain_cnn-4x8-shortcut")     # variant names build
"""

from __future__ import annotations

import re
from typing import Any

from torch import Tensor, nn

from ._registry import register, variant_grammar
from .blocks import conv_bn_relu6
from .mini_mobilenet import STEM_CHANNELS

_LABEL = re.compile(r"^plain_cnn-(?P<n>\d+)x(?P<width>\d+)(?P<shortcut>-shortcut)?(?P<pool>-pool)?$")


class PlainBlock(nn.Module):
    """conv3x3-BN-ReLU6, conv3x3-BN-ReLU6, conv1x1-BN-ReLU6 at constant width; optional identity shortcut."""

    def __init__(self, channels: int, shortcut: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            conv_bn_relu6(channels, channels, 3),
            conv_bn_relu6(channels, channels, 3),
            conv_bn_relu6(channels, channels, 1),
        )
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.shortcut else out


class PlainCNN(nn.Module):
    def __init__(
        self,
        n: int = 1,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 28,
        width: int = STEM_CHANNELS,
        head: str = "flatten",
        shortcut: bool = False,
    ) -> None:
        super().__init__()
        if n < 1:
            raise ValueError(f"plain_cnn needs at least one block, got n={n}")
        if head not in ("flatten", "pool"):
            raise ValueError(f"head must be 'flatten' or 'pool', got {head!r}")
        self.features = nn.Sequential(
            conv_bn_relu6(in_channels, width, 3, 1), *(PlainBlock(width, shortcut) for _ in range(n))
        )
        self.pool = nn.AdaptiveAvgPool2d(1) if head == "pool" else nn.Identity()
        self.classifier = nn.Linear(width if head == "pool" else width * input_size * input_size, num_classes)
        self.variant = (f"plain_cnn-{n}x{width}" + ("-shortcut" if shortcut else "")
                        + ("-pool" if head == "pool" else ""))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


@variant_grammar
def parse_variant(name: str) -> tuple[str, dict[str, Any]] | None:
    """``plain_cnn-4x8-shortcut-pool`` -> ("plain_cnn", its kwargs); None for any other name."""
    match = _LABEL.match(name)
    if match is None:
        return None
    kwargs: dict[str, Any] = {"n": int(match["n"]), "width": int(match["width"])}
    if match["shortcut"]:
        kwargs["shortcut"] = True
    if match["pool"]:
        kwargs["head"] = "pool"
    return "plain_cnn", kwargs


@register
def plain_cnn(
    n: int = 1,
    num_classes: int = 10,
    in_channels: int = 1,
    input_size: int = 28,
    width: int = STEM_CHANNELS,
    head: str = "flatten",
    shortcut: bool = False,
) -> PlainCNN:
    """The plain control of ``mini_mobilenet_n(n)``: n blocks of 3 conv-BN-ReLU6 layers, matched size."""
    return PlainCNN(n, num_classes, in_channels, input_size, width, head, shortcut)
