"""CIFAR ResNets (He et al. 2016, section 4.2): 16/32/64 channels, option-A (zero-padding) shortcuts.

Any 3x3 conv can be replaced by a linear bottleneck (an inverted residual, expansion e), named
``s<stage>b<block>c<conv>[e<expansion>]`` with 1-based indices, e.g. ``resnet20(bottlenecks=["s2b3c2e6"])``,
whose variant name is ``resnet20-lb[s2b3c2e6]``. The bottleneck ablations of ``blocks.py`` apply to every
replacement of a network (``bottleneck_shortcut=False`` -> ``resnet20-lb[s2b3c2e6]-noshortcut``, and so on);
the shortcut they remove is the inverted residual's own, inside the basic block, whose shortcut stays.
This file holds the family's naming grammar: ``parse_variant`` reads every label back into arguments.

    net = resnet20(num_classes=10)          # 269,722 parameters
    net = architectures.build("resnet20-lb[s2b3c2e6]-relu6proj")
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ._registry import register, variant_grammar
from .blocks import InvertedResidual, ablation_suffix, parse_ablation

DEFAULT_EXPANSION = 6
_SPEC = re.compile(r"^s(?P<s>\d+)b(?P<b>\d+)c(?P<c>[12])(?:e(?P<e>\d+))?$")
_LABEL = re.compile(r"^(?P<base>resnet\d+)-lb\[(?P<items>[^\]]*)\](?P<flags>(?:-[a-z0-9]+)*)$")
_OPTION_ARGS = {"shortcut": "bottleneck_shortcut", "projection": "bottleneck_projection",
                "depthwise": "bottleneck_depthwise", "expand_conv": "bottleneck_expand_conv"}


def parse_bottleneck(spec: str, blocks_per_stage: int) -> tuple[int, int, int, int]:
    """``"s2b3c2e6"`` -> (stage, block, conv, expansion), validated against the depth."""
    m = _SPEC.match(spec.strip().lower())
    if not m:
        raise ValueError(f"bad bottleneck {spec!r}: expected s<stage>b<block>c<1|2>[e<expansion>], e.g. s2b3c2e6")
    stage, block, conv = int(m["s"]), int(m["b"]), int(m["c"])
    expansion = int(m["e"] or DEFAULT_EXPANSION)
    if not 1 <= stage <= 3 or not 1 <= block <= blocks_per_stage:
        raise ValueError(f"bad bottleneck {spec!r}: stage must be 1..3 and block 1..{blocks_per_stage}")
    return stage, block, conv, expansion


class ShortcutA(nn.Module):
    """Option A: subsample by ``stride`` and zero-pad the new channels (no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride, self.pad = stride, out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU. A conv given an ``expansion`` becomes an
    inverted residual with the block ``options`` (which ends in its own BN, so the block's BN after it is
    dropped)."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, lb1: int | None = None, lb2: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.conv1, self.bn1 = self._conv(in_channels, out_channels, stride, lb1, options or {})
        self.conv2, self.bn2 = self._conv(out_channels, out_channels, 1, lb2, options or {})
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = ShortcutA(in_channels, out_channels, stride)
        else:
            self.shortcut = nn.Identity()

    @staticmethod
    def _conv(in_ch: int, out_ch: int, stride: int, expansion: int | None,
              options: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
        if expansion is None:
            return nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False), nn.BatchNorm2d(out_ch)
        keep = options.get("expand_conv")
        keep = None if expansion != 1 and keep else keep  # True matters only at expansion 1
        return InvertedResidual(in_ch, out_ch, stride, expansion, **{**options, "expand_conv": keep}), nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    """CIFAR ResNet of depth 6n+2 with optional linear-bottleneck replacements and their ablations."""

    def __init__(
        self,
        depth: int = 20,
        num_classes: int = 10,
        in_channels: int = 3,
        bottlenecks: Sequence[str] = (),
        width: int = 16,
        bottleneck_shortcut: bool = True,
        bottleneck_projection: str = "linear",
        bottleneck_depthwise: bool = True,
        bottleneck_expand_conv: bool | None = None,
    ) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"ResNet depth must be 6n+2 (20, 32, 56, ...), got {depth}")
        n = (depth - 2) // 6
        chosen = {}
        for spec in bottlenecks:
            s, b, c, e = parse_bottleneck(spec, n)
            chosen[(s, b, c)] = e
        options = {"shortcut": bottleneck_shortcut, "projection": bottleneck_projection,
                   "depthwise": bottleneck_depthwise, "expand_conv": bottleneck_expand_conv}
        kept = True if bottleneck_expand_conv and 1 in chosen.values() else None
        suffix = ablation_suffix(**{**options, "expand_conv": kept})
        if (suffix or bottleneck_expand_conv) and not chosen:
            raise ValueError("bottleneck_* options apply to bottlenecks; name some, e.g. bottlenecks=['s2b3c2e6']")
        widths = [width * m for m in (1, 2, 4)]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)
        )
        stages, ch = [], widths[0]
        for s, out in enumerate(widths, start=1):
            blocks = []
            for b in range(1, n + 1):
                stride = 2 if (s > 1 and b == 1) else 1
                blocks.append(BasicBlock(ch, out, stride, chosen.get((s, b, 1)), chosen.get((s, b, 2)), options))
                ch = out
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ch, num_classes)
        items = ",".join(f"s{s}b{b}c{c}e{e}" for (s, b, c), e in sorted(chosen.items()))
        self.variant = f"resnet{depth}" + (f"-lb[{items}]{suffix}" if items else "")
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


@variant_grammar
def parse_variant(name: str) -> tuple[str, dict[str, Any]] | None:
    """``resnet20-lb[s2b3c2e6]-noshortcut`` -> ("resnet20", its kwargs); None for any other name."""
    match = _LABEL.match(name)
    if match is None:
        return None
    options = parse_ablation([f for f in match["flags"].split("-") if f])
    if options is None:
        return None
    kwargs = {_OPTION_ARGS[k]: v for k, v in options.items()}
    return match["base"], {"bottlenecks": [s for s in match["items"].split(",") if s], **kwargs}


def _create_resnet_cifar(depth: int, **kwargs) -> ResNetCifar:
    return ResNetCifar(depth=depth, **kwargs)


@register
def resnet20(
    num_classes: int = 10, in_channels: int = 3, bottlenecks: Sequence[str] = (), bottleneck_shortcut: bool = True,
    bottleneck_projection: str = "linear", bottleneck_depthwise: bool = True,
    bottleneck_expand_conv: bool | None = None,
) -> ResNetCifar:
    return _create_resnet_cifar(20, **_arguments(locals()))


@register
def resnet32(
    num_classes: int = 10, in_channels: int = 3, bottlenecks: Sequence[str] = (), bottleneck_shortcut: bool = True,
    bottleneck_projection: str = "linear", bottleneck_depthwise: bool = True,
    bottleneck_expand_conv: bool | None = None,
) -> ResNetCifar:
    return _create_resnet_cifar(32, **_arguments(locals()))


@register
def resnet56(
    num_classes: int = 10, in_channels: int = 3, bottlenecks: Sequence[str] = (), bottleneck_shortcut: bool = True,
    bottleneck_projection: str = "linear", bottleneck_depthwise: bool = True,
    bottleneck_expand_conv: bool | None = None,
) -> ResNetCifar:
    return _create_resnet_cifar(56, **_arguments(locals()))


def _arguments(local: dict[str, Any]) -> dict[str, Any]:
    """A variant builder's own arguments (its ``locals()`` at entry)."""
    return {k: v for k, v in local.items() if not k.startswith("_")}
