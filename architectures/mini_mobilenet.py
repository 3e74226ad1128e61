"""Mini-MobileNets of the linear-bottleneck study: a stem conv, n inverted-residual blocks given as
(out_channels, stride, expansion), then a classifier. The reference study used 28x28 MNIST with no
stride and no pooling, blocks of (8, 1, 6), and flatten -> Linear(C*28*28, 10) (``head="flatten"``);
``head="pool"`` uses global average pooling instead.

    net = mini_mobilenet(blocks=[(8, 1, 6)] * 3)      # variant "mini_mobilenet-3x(8,1,6)"
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ._registry import register
from .blocks import InvertedResidual, conv_bn_relu6

DEFAULT_BLOCK = (8, 1, 6)
STEM_CHANNELS = 8


class MiniMobileNet(nn.Module):
    def __init__(
        self,
        blocks: Sequence[Sequence[int]] = (DEFAULT_BLOCK,),
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 28,
        stem_channels: int = STEM_CHANNELS,
        head: str = "flatten",
    ) -> None:
        super().__init__()
        if not blocks:
            raise ValueError("mini_mobilenet needs at least one block")
        if head not in ("flatten", "pool"):
            raise ValueError(f"head must be 'flatten' or 'pool', got {head!r}")
        specs = [tuple(int(v) for v in b) for b in blocks]
        for b in specs:
            if len(b) != 3:
                raise ValueError(f"each block is (out_channels, stride, expansion), got {b}")
        layers: list[nn.Module] = [conv_bn_relu6(in_channels, stem_channels, 3, 1)]
        ch, size = stem_channels, input_size
        for out, stride, expansion in specs:
            layers.append(InvertedResidual(ch, out, stride, expansion))
            ch, size = out, (size - 1) // stride + 1
        self.features = nn.Sequential(*layers)
        self.head = head
        self.pool = nn.AdaptiveAvgPool2d(1) if head == "pool" else nn.Identity()
        self.classifier = nn.Linear(ch if head == "pool" else ch * size * size, num_classes)
        self.variant = "mini_mobilenet-" + _describe(specs)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


def _describe(specs: list[tuple[int, ...]]) -> str:
    if all(s == specs[0] for s in specs):
        return f"{len(specs)}x({','.join(map(str, specs[0]))})"
    return "+".join("(" + ",".join(map(str, s)) + ")" for s in specs)


@register
def mini_mobilenet(
    blocks: Sequence[Sequence[int]] = (DEFAULT_BLOCK,),
    num_classes: int = 10,
    in_channels: int = 1,
    input_size: int = 28,
    stem_channels: int = STEM_CHANNELS,
    head: str = "flatten",
) -> MiniMobileNet:
    return MiniMobileNet(blocks, num_classes, in_channels, input_size, stem_channels, head)


@register
def mini_mobilenet_n(
    n: int = 1, num_classes: int = 10, in_channels: int = 1, input_size: int = 28, head: str = "flatten"
) -> MiniMobileNet:
    """n identical (8, 1, 6) blocks: the reference study's n = 1..12 family."""
    return MiniMobileNet([DEFAULT_BLOCK] * n, num_classes, in_channels, input_size, head=head)
