"""Mini-MobileNets of the linear-bottleneck study: a stem conv, n inverted-residual blocks given as
(out_channels, stride, expansion), then a classifier. The reference study used 28x28 MNIST with no
stride and no pooling, blocks of (8, 1, 6), and flatten -> Linear(C*28*28, 10) (``head="flatten"``);
``head="pool"`` uses global average pooling instead.

    net = mini_mobilenet(blocks=[(8, 1, 6)] * 3)           # variant "mini_mobilenet-3x(8,1,6)"
    net = mini_mobilenet_n(n=4, shortcut=False)            # variant "mini_mobilenet-4x(8,1,6)-noshortcut"
    net = architectures.build("mini_mobilenet-4x(8,1,6)-dense")      # every variant name builds

Bottleneck ablation (issue 25): each ablation variant differs from its control, the mini-MobileNet of the
same n, in ONE thing; parameters at n = 4 on 28x28x1 digits (10 classes; stem 88, flatten classifier
62,730 of them; conv weights per block in brackets):

    variant                                  params   what differs from mini_mobilenet-4x(8,1,6) (68,450; [1,200])
    mini_mobilenet-4x(8,1,6)-noshortcut      68,450   no identity shortcut around each block (same weights)
    mini_mobilenet-4x(8,1,6)-relu6proj       68,450   ReLU6 after the projection's BN: the bottleneck is not linear
    mini_mobilenet-4x(8,1,6)-dense           149,666  the 3x3 conv is dense, 48 -> 48 (groups 1) not depthwise
                                                      [21,504: 9·48² instead of 9·48]
    mini_mobilenet-4x(8,1,1)-expandconv      63,810   expansion 1: the hidden width is 8, not 48; the three convs
                                                      (1x1 expand, 3x3 depthwise, 1x1 project) stay [200]

The expansion control keeps the 1x1 expand conv (now 8 -> 8), so the block keeps its three convs, its
ReLU6s, its shortcut and its linear projection and only the hidden width t·C changes; its weight count
falls with it (it must: t is a width). ``mini_mobilenet-4x(8,1,1)`` (no ``-expandconv``) is MobileNetV2's
t = 1 block instead, which also drops the expand conv (two convs per block, 63,490 parameters). The matched
plain control with and without a shortcut is ``plain_cnn`` (67,874 at n = 4).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from ._registry import register, variant_grammar
from .blocks import InvertedResidual, ablation_suffix, conv_bn_relu6, parse_ablation

DEFAULT_BLOCK = (8, 1, 6)
STEM_CHANNELS = 8
HEADS = ("flatten", "pool")
_TRIPLE = r"\(\d+,\d+,\d+\)"
_LABEL = re.compile(rf"^mini_mobilenet-(?P<blocks>\d+x{_TRIPLE}|{_TRIPLE}(?:\+{_TRIPLE})*)(?P<flags>(?:-[a-z0-9]+)*)$")


class MiniMobileNet(nn.Module):
    def __init__(
        self,
        blocks: Sequence[Sequence[int]] = (DEFAULT_BLOCK,),
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 28,
        stem_channels: int = STEM_CHANNELS,
        head: str = "flatten",
        shortcut: bool = True,
        projection: str = "linear",
        depthwise: bool = True,
        expand_conv: bool | None = None,
    ) -> None:
        super().__init__()
        if not blocks:
            raise ValueError("mini_mobilenet needs at least one block")
        if head not in HEADS:
            raise ValueError(f"head must be 'flatten' or 'pool', got {head!r}")
        specs = [tuple(int(v) for v in b) for b in blocks]
        for b in specs:
            if len(b) != 3:
                raise ValueError(f"each block is (out_channels, stride, expansion), got {b}")
        options = {"shortcut": shortcut, "projection": projection, "depthwise": depthwise}
        layers: list[nn.Module] = [conv_bn_relu6(in_channels, stem_channels, 3, 1)]
        ch, size = stem_channels, input_size
        for out, stride, expansion in specs:
            keep = None if expansion != 1 and expand_conv else expand_conv  # True matters only at expansion 1
            layers.append(InvertedResidual(ch, out, stride, expansion, expand_conv=keep, **options))
            ch, size = out, (size - 1) // stride + 1
        self.features = nn.Sequential(*layers)
        self.head = head
        self.pool = nn.AdaptiveAvgPool2d(1) if head == "pool" else nn.Identity()
        self.classifier = nn.Linear(ch if head == "pool" else ch * size * size, num_classes)
        kept = True if expand_conv and any(b[2] == 1 for b in specs) else None
        self.variant = ("mini_mobilenet-" + _describe(specs) + ablation_suffix(**options, expand_conv=kept)
                        + ("-pool" if head == "pool" else "")
                        + (f"-stem{stem_channels}" if stem_channels != STEM_CHANNELS else ""))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


def _describe(specs: list[tuple[int, ...]]) -> str:
    if all(s == specs[0] for s in specs):
        return f"{len(specs)}x({','.join(map(str, specs[0]))})"
    return "+".join("(" + ",".join(map(str, s)) + ")" for s in specs)


@variant_grammar
def parse_variant(name: str) -> tuple[str, dict[str, Any]] | None:
    """``mini_mobilenet-4x(8,1,6)-noshortcut-pool-stem16`` -> ("mini_mobilenet", its kwargs); None otherwise."""
    match = _LABEL.match(name)
    if match is None:
        return None
    text = match["blocks"]
    if "x(" in text:
        count, block = text.split("x", 1)
        blocks = [tuple(int(v) for v in block.strip("()").split(","))] * int(count)
    else:
        blocks = [tuple(int(v) for v in b.strip("()").split(",")) for b in text.split("+")]
    flags = [f for f in match["flags"].split("-") if f]
    kwargs: dict[str, Any] = {"blocks": blocks}
    if "pool" in flags:
        flags.remove("pool")
        kwargs["head"] = "pool"
    if flags and (stem := re.fullmatch(r"stem(\d+)", flags[-1])):
        kwargs["stem_channels"] = int(stem[1])
        flags.pop()
    options = parse_ablation(flags)
    return None if options is None else ("mini_mobilenet", {**kwargs, **options})


@register
def mini_mobilenet(
    blocks: Sequence[Sequence[int]] = (DEFAULT_BLOCK,),
    num_classes: int = 10,
    in_channels: int = 1,
    input_size: int = 28,
    stem_channels: int = STEM_CHANNELS,
    head: str = "flatten",
    shortcut: bool = True,
    projection: str = "linear",
    depthwise: bool = True,
    expand_conv: bool | None = None,
) -> MiniMobileNet:
    """Inverted-residual blocks given as (out_channels, stride, expansion); block options as in the module doc."""
    return MiniMobileNet(blocks, num_classes, in_channels, input_size, stem_channels, head,
                         shortcut, projection, depthwise, expand_conv)


@register
def mini_mobilenet_n(
    n: int = 1,
    num_classes: int = 10,
    in_channels: int = 1,
    input_size: int = 28,
    head: str = "flatten",
    expansion: int = 6,
    shortcut: bool = True,
    projection: str = "linear",
    depthwise: bool = True,
    expand_conv: bool | None = None,
) -> MiniMobileNet:
    """n identical (8, 1, ``expansion``) blocks: the reference study's n = 1..12 family and its ablations."""
    return MiniMobileNet([(DEFAULT_BLOCK[0], DEFAULT_BLOCK[1], expansion)] * n, num_classes, in_channels,
                         input_size, head=head, shortcut=shortcut, projection=projection, depthwise=depthwise,
                         expand_conv=expand_conv)
