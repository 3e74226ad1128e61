"""Tests for faultlab.faults.selection: kinds, name patterns, first/last, errors."""

from __future__ import annotations

import pytest
from torch import nn

from faultlab.faults import LayerSelectionError, layer_kind, select_layers


def mobile_net() -> nn.Module:
    """stem conv3x3, inverted residual (pointwise, depthwise, pointwise), a 5x5 conv, classifier."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 0 conv3x3 (first layer)
        nn.BatchNorm2d(8),
        nn.Sequential(
            nn.Conv2d(8, 48, 1),  # 2.0 pointwise
            nn.ReLU(),
            nn.Conv2d(48, 48, 3, padding=1, groups=48),  # 2.2 depthwise
            nn.Conv2d(48, 8, 1),  # 2.3 pointwise
        ),
        nn.Conv2d(8, 8, 5, padding=2, groups=2),  # 3 grouped 5x5: plain conv
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 16),  # 5 linear
        nn.Linear(16, 10),  # 6 linear (last layer)
    )


def test_layer_kind():
    net = mobile_net()
    kinds = {name: layer_kind(m) for name, m in net.named_modules() if layer_kind(m)}
    assert kinds == {
        "0": "conv3x3",
        "2.0": "pointwise",
        "2.2": "depthwise",
        "2.3": "pointwise",
        "3": "conv",
        "5": "linear",
        "6": "linear",
    }
    assert layer_kind(nn.BatchNorm2d(3)) is None
    assert layer_kind(nn.Conv1d(4, 4, 1)) == "pointwise"
    assert layer_kind(nn.Conv2d(1, 4, 3, groups=1)) == "conv3x3"  # in_channels 1: not depthwise


@pytest.mark.parametrize(
    "kinds, expected",
    [
        (("conv", "linear"), ["0", "2.0", "2.2", "2.3", "3", "5", "6"]),
        (("conv",), ["0", "2.0", "2.2", "2.3", "3"]),
        ("depthwise", ["2.2"]),
        (("pointwise",), ["2.0", "2.3"]),
        (("conv3x3", "linear"), ["0", "5", "6"]),
        (("linear", "depthwise"), ["2.2", "5", "6"]),  # named_modules order, not kinds order
    ],
)
def test_kinds(kinds, expected):
    assert select_layers(mobile_net(), kinds=kinds) == expected


def test_first_last_and_patterns():
    net = mobile_net()
    assert select_layers(net, first=False, last=False) == ["2.0", "2.2", "2.3", "3", "5"]
    assert select_layers(net, kinds=("conv",), last=False) == ["0", "2.0", "2.2", "2.3", "3"]  # last is linear
    assert select_layers(net, kinds=("linear",), last=False) == ["5"]
    assert select_layers(net, include=["2.*"]) == ["2.0", "2.2", "2.3"]
    assert select_layers(net, include="2.*", exclude=["*.2"]) == ["2.0", "2.3"]
    assert select_layers(net, exclude=["2.*", "3"], first=False) == ["5", "6"]


def test_errors():
    net = mobile_net()
    with pytest.raises(LayerSelectionError, match=r"no layer matches.*conv/linear layers: 0 \(conv3x3\)"):
        select_layers(net, include=["nothing*"])
    with pytest.raises(LayerSelectionError, match="no layer matches"):
        select_layers(net, kinds=("conv3x3",), first=False)
    with pytest.raises(LayerSelectionError, match="unknown layer kind 'dephtwise' \\(did you mean 'depthwise'"):
        select_layers(net, kinds=("dephtwise",))
    with pytest.raises(LayerSelectionError, match="conv/linear layers: none"):
        select_layers(nn.Sequential(nn.ReLU()))
    big = nn.Sequential(*[nn.Linear(4, 4) for _ in range(10)])
    with pytest.raises(LayerSelectionError, match=r"\(\+4 more\)") as info:
        select_layers(big, kinds=("conv",))
    assert "\n" not in str(info.value)
