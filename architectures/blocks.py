"""Shared building blocks: the MobileNetV2 inverted residual ("linear bottleneck") and its ablations.

The block options of the bottleneck ablation (issue 25), each switching off ONE component of the block, and
the label suffix each adds to a network's variant name (in this order, after the family's own part):

    option                 default     ablation            suffix
    shortcut               True        False               -noshortcut   (no identity shortcut)
    projection             "linear"    "relu6"             -relu6proj    (BN then ReLU6 after the 1x1 projection)
    depthwise              True        False               -dense        (the 3x3 conv dense: groups 1, not hidden)
    expand_conv            t > 1       True at t = 1       -expandconv   (the 1x1 expand conv kept at expansion 1)

``ablation_suffix`` writes the suffix and ``parse_ablation`` reads it back, so every variant name builds.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

PROJECTIONS = ("linear", "relu6")
_FLAGS = {"noshortcut": ("shortcut", False), "relu6proj": ("projection", "relu6"), "dense": ("depthwise", False),
          "expandconv": ("expand_conv", True)}


def conv_bn_relu6(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (x ``expansion``), BN, ReLU6, 3x3 depthwise (``stride``), BN,
    ReLU6, 1x1 linear projection, BN; identity shortcut when stride is 1 and channels are kept.

    Works for any (in, out, stride): where the shape changes there is simply no shortcut (the
    reference study's version crashed there). Ablations (module doc): ``shortcut=False`` drops the identity
    shortcut; ``projection="relu6"`` puts a ReLU6 after the projection's BN (a non-linear bottleneck);
    ``depthwise=False`` makes the 3x3 conv dense (hidden -> hidden, groups 1: 9·h² instead of 9·h weights);
    ``expand_conv`` (default: present iff ``expansion`` > 1, as MobileNetV2) keeps the 1x1 expand conv at
    expansion 1, so an expansion-1 block has the same three convs as an expansion-6 one, only narrower.
    Conv weights for in = out = C, hidden h = t·C: C·h (expand) + 9·h (depthwise) + h·C (project).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        expansion: int = 6,
        shortcut: bool = True,
        projection: str = "linear",
        depthwise: bool = True,
        expand_conv: bool | None = None,
    ) -> None:
        super().__init__()
        if expansion < 1:
            raise ValueError(f"expansion must be >= 1, got {expansion}")
        if projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}")
        expand_conv = expansion != 1 if expand_conv is None else expand_conv
        if expansion != 1 and not expand_conv:
            raise ValueError(f"expansion {expansion} needs its expand conv; expand_conv=False only at expansion 1")
        hidden = in_channels * expansion
        layers: list[nn.Module] = []
        if expand_conv:
            layers.append(conv_bn_relu6(in_channels, hidden, kernel=1))
        layers += [
            conv_bn_relu6(hidden, hidden, kernel=3, stride=stride, groups=hidden if depthwise else 1),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if projection == "relu6":
            layers.append(nn.ReLU6(inplace=True))
        self.conv = nn.Sequential(*layers)
        self.use_shortcut = shortcut and stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_shortcut else out


def ablation_suffix(shortcut: bool = True, projection: str = "linear", depthwise: bool = True,
                    expand_conv: bool | None = None) -> str:
    """The variant-name suffix of the block options that differ from MobileNetV2's, e.g. ``-noshortcut``."""
    chosen = {"shortcut": shortcut, "projection": projection, "depthwise": depthwise, "expand_conv": expand_conv}
    return "".join(f"-{flag}" for flag, (key, value) in _FLAGS.items() if chosen[key] == value)


def parse_ablation(flags: list[str]) -> dict[str, Any] | None:
    """Block options from suffix flags (``["noshortcut", "dense"]``); None if one is not an ablation flag."""
    if not all(f in _FLAGS for f in flags) or len(set(flags)) != len(flags):
        return None
    return dict(_FLAGS[f] for f in flags)
