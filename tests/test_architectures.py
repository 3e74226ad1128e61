import pytest
import torch
from torch import nn

import architectures
from architectures.resnet_cifar import parse_bottleneck

# input shape per family (C, H, W) or (features,)
INPUTS = {
    "resnet": (3, 32, 32),
    "mobilenetv2_cifar": (3, 32, 32),
    "mini_mobilenet": (1, 28, 28),
    "plain_cnn": (1, 28, 28),
    "mlp": (784,),
    "moons_net": (2,),
}
PARAMS = {"resnet20": 269_722, "resnet32": 464_154, "resnet56": 853_018, "mini_mobilenet": 64_226,
          "mlp": 101_770, "moons_net": 33}


def _shape(name):
    return next(v for k, v in INPUTS.items() if name.startswith(k))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", architectures.available())
def test_every_model_builds_and_runs(name):
    net = architectures.build(name).eval()
    x = torch.randn(2, *_shape(name))
    with torch.no_grad():
        out = net(x)
    assert out.shape == (2, 2 if name == "moons_net" else 10)
    assert torch.isfinite(out).all()
    if name in PARAMS:
        assert n_params(net) == PARAMS[name]
    assert isinstance(net.variant, str) and net.variant


@pytest.mark.parametrize("name", architectures.available())
def test_every_model_has_faultable_layers(name):
    net = architectures.build(name)
    layers = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert layers, name


def test_unknown_architecture_lists_known_names():
    with pytest.raises(architectures.UnknownArchitectureError, match="did you mean .*resnet20"):
        architectures.build("resnet2O")


def test_unknown_kwarg_is_an_error():
    with pytest.raises(architectures.UnknownArchitectureError, match="unknown argument"):
        architectures.build("resnet20", widht=2)


def test_timm_passthrough():
    net = architectures.build("timm:resnet10t", num_classes=7, in_channels=1).eval()
    assert net(torch.randn(2, 1, 32, 32)).shape == (2, 7)
    with pytest.raises(architectures.UnknownArchitectureError):
        architectures.build("timm:not_a_model_xyz")


def test_build_for_input_fills_shape_arguments():
    net = architectures.build_for_input("mlp", 3, (1, 8, 8))
    assert net(torch.randn(4, 1, 8, 8)).shape == (4, 3)
    net = architectures.build_for_input("resnet20", 5, (1, 28, 28))
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 5)


def _lb_params(expansion, cin, cout):
    hidden = cin * expansion
    # expand conv + BN, depthwise + BN, project + BN (the replaced conv's own BN is removed)
    return cin * hidden + 2 * hidden + 9 * hidden + 2 * hidden + hidden * cout + 2 * cout


@pytest.mark.parametrize("stage", [1, 2, 3])
@pytest.mark.parametrize("block", [1, 2, 3])
@pytest.mark.parametrize("conv", [1, 2])
def test_bottleneck_replacement_everywhere(stage, block, conv):
    base = architectures.build("resnet20")
    spec = f"s{stage}b{block}c{conv}e6"
    net = architectures.build("resnet20", bottlenecks=[spec])
    assert net.variant == f"resnet20-lb[{spec}]"
    out_ch = 16 * 2 ** (stage - 1)
    in_ch = out_ch // 2 if (stage > 1 and block == 1 and conv == 1) else out_ch
    removed = 9 * in_ch * out_ch + 2 * out_ch  # the 3x3 conv and its BN
    assert n_params(net) - n_params(base) == _lb_params(6, in_ch, out_ch) - removed
    y = net(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 10) and torch.isfinite(y).all()


def test_variant_name_round_trips():
    net = architectures.build("resnet20", bottlenecks=["s2b3c2", "s1b1c1e4"])
    again = architectures.build(net.variant)
    assert again.variant == net.variant
    assert n_params(again) == n_params(net)


@pytest.mark.parametrize("bad", ["s4b1c1", "s1b4c1", "s1b1c3", "stage2"])
def test_bad_bottleneck_spec(bad):
    with pytest.raises(ValueError, match="bottleneck"):
        parse_bottleneck(bad, 3)


def test_mini_mobilenet_family():
    for n in (1, 2, 3, 12):
        net = architectures.build("mini_mobilenet_n", n=n)
        assert net.variant == f"mini_mobilenet-{n}x(8,1,6)"
        assert net(torch.randn(1, 1, 28, 28)).shape == (1, 10)
    two = architectures.build("mini_mobilenet", blocks=[(4, 1, 6), (8, 1, 6)])
    assert two.variant == "mini_mobilenet-(4,1,6)+(8,1,6)"
    assert two(torch.randn(1, 1, 28, 28)).shape == (1, 10)


def _conv_weights(module):
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("n", range(1, 13))
def test_plain_cnn_matches_the_mini_mobilenet_of_the_same_n(n):
    """Same number of blocks, conv layers and flatten head; parameters within 20 % (in fact within 3 %:
    1,216 conv weights per plain block vs 1,200 per (8, 1, 6) inverted residual); no depthwise conv, no
    shortcut; 1-channel 28x28 digits in, 10 logits out."""
    plain, mini = architectures.build("plain_cnn", n=n), architectures.build("mini_mobilenet_n", n=n)
    assert plain.variant == f"plain_cnn-{n}x8"
    assert plain(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert abs(n_params(plain) / n_params(mini) - 1) < 0.2
    assert abs(n_params(plain) / n_params(mini) - 1) < 0.03
    assert len(_conv_weights(plain)) == len(_conv_weights(mini)) == 1 + 3 * n
    assert all(c.groups == 1 for c in _conv_weights(plain))
    conv_weights = [sum(c.weight.numel() for c in _conv_weights(b)) for b in list(plain.features)[1:]]
    assert conv_weights == [1216] * n
    assert sum(c.weight.numel() for c in _conv_weights(list(mini.features)[1])) == 1200
    assert plain.classifier.in_features == mini.classifier.in_features == 8 * 28 * 28


def test_plain_cnn_blocks_have_no_shortcut_unless_asked():
    plain = architectures.build("plain_cnn", n=2).eval()
    block = plain.features[1]
    x = torch.randn(1, 8, 28, 28)
    with torch.no_grad():
        assert torch.equal(block(x), block.conv(x))
        res = architectures.build("plain_cnn", n=2, shortcut=True).eval()
        res.load_state_dict(plain.state_dict())
        assert torch.allclose(res.features[1](x), x + block.conv(x))
    assert res.variant == "plain_cnn-2x8-res"
    with pytest.raises(ValueError, match="at least one block"):
        architectures.build("plain_cnn", n=0)


def test_moons_net_is_binary_cross_entropy():
    net = architectures.build("moons_net")
    x, y = torch.randn(16, 2), torch.randint(0, 2, (16,))
    logits = net(x)
    ce = torch.nn.functional.cross_entropy(logits, y)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 1], y.float())
    assert torch.allclose(ce, bce, atol=1e-6)


def test_channels_last_forward_matches():
    net = architectures.build("resnet20").eval()
    x = torch.randn(2, 3, 32, 32)
    ref = net(x)
    cl = net.to(memory_format=torch.channels_last)
    out = cl(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(ref, out, atol=1e-4)
