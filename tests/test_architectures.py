import pytest
import torch
from torch import nn

import architectures
from architectures.resnet_cifar import parse_bottleneck
from faultlab.faults import select_layers

# input shape per family (C, H, W) or (features,)
INPUTS = {
    "resnet": (3, 32, 32),
    "mobilenetv2_cifar": (3, 32, 32),
    "mini_mobilenet": (1, 28, 28),
    "plain_cnn": (1, 28, 28),
    "lenet5": (1, 28, 28),
    "mlp": (784,),
    "moons_net": (2,),
}
PARAMS = {"resnet20": 269_722, "resnet32": 464_154, "resnet56": 853_018, "mini_mobilenet": 64_226,
          "mini_mobilenet_n": 64_226, "plain_cnn": 64_082, "mobilenetv2_cifar": 2_236_682, "lenet5": 61_684,
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
    assert n_params(net) == PARAMS[name]
    assert isinstance(net.variant, str) and net.variant
    assert architectures.build(net.variant).variant == net.variant  # every label is a name that builds


@pytest.mark.parametrize("name", architectures.available())
def test_the_layer_selector_reaches_every_conv_and_linear_layer(name):
    net = architectures.build(name)
    layers = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert layers and select_layers(net) == layers


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
    assert res.variant == "plain_cnn-2x8-shortcut"
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


# ------------------------------------------------------------------ bottleneck ablation (issue 25)

# (builder, kwargs, variant label, parameters) at n = 4 on 28x28x1 digits, 10 classes: each ablation
# differs from its control in the one block option its label names.
ABLATIONS = [
    ("mini_mobilenet_n", {"n": 4}, "mini_mobilenet-4x(8,1,6)", 68_450),
    ("mini_mobilenet_n", {"n": 4, "shortcut": False}, "mini_mobilenet-4x(8,1,6)-noshortcut", 68_450),
    ("mini_mobilenet_n", {"n": 4, "projection": "relu6"}, "mini_mobilenet-4x(8,1,6)-relu6proj", 68_450),
    ("mini_mobilenet_n", {"n": 4, "depthwise": False}, "mini_mobilenet-4x(8,1,6)-dense", 149_666),
    ("mini_mobilenet_n", {"n": 4, "expansion": 1, "expand_conv": True}, "mini_mobilenet-4x(8,1,1)-expandconv",
     63_810),
    ("mini_mobilenet_n", {"n": 4, "expansion": 1}, "mini_mobilenet-4x(8,1,1)", 63_490),
    ("mini_mobilenet", {"blocks": [(8, 1, 6)] * 4, "shortcut": False, "projection": "relu6"},
     "mini_mobilenet-4x(8,1,6)-noshortcut-relu6proj", 68_450),
    ("plain_cnn", {"n": 4}, "plain_cnn-4x8", 67_874),
    ("plain_cnn", {"n": 4, "shortcut": True}, "plain_cnn-4x8-shortcut", 67_874),
    ("resnet20", {"bottlenecks": ["s2b3c2e6"]}, "resnet20-lb[s2b3c2e6]", 275_290),
    ("resnet20", {"bottlenecks": ["s2b3c2e6"], "bottleneck_shortcut": False}, "resnet20-lb[s2b3c2e6]-noshortcut",
     275_290),
    ("resnet20", {"bottlenecks": ["s2b3c2e6"], "bottleneck_projection": "relu6"},
     "resnet20-lb[s2b3c2e6]-relu6proj", 275_290),
    ("resnet20", {"bottlenecks": ["s2b3c2e6"], "bottleneck_depthwise": False}, "resnet20-lb[s2b3c2e6]-dense",
     605_338),
    ("resnet20", {"bottlenecks": ["s2b3c2e1"], "bottleneck_expand_conv": True},
     "resnet20-lb[s2b3c2e1]-expandconv", 262_970),
]


@pytest.mark.parametrize(("builder", "kwargs", "label", "params"), ABLATIONS, ids=[a[2] for a in ABLATIONS])
def test_ablation_variants_have_pinned_sizes_and_labels_that_build(builder, kwargs, label, params):
    shape = (3, 32, 32) if builder.startswith("resnet") else (1, 28, 28)
    net = architectures.build(builder, **kwargs).eval()
    assert net.variant == label
    assert n_params(net) == params
    again = architectures.build(label).eval()
    assert again.variant == label and n_params(again) == params
    again.load_state_dict(net.state_dict())
    x = torch.randn(2, *shape)
    with torch.no_grad():
        assert torch.equal(net(x), again(x))


def _block(**options):
    return architectures.build("mini_mobilenet_n", n=1, **options).eval().features[1]


def test_noshortcut_drops_only_the_identity_shortcut():
    with_, without = _block(), _block(shortcut=False)
    without.load_state_dict(with_.state_dict())
    x = torch.randn(2, 8, 28, 28)
    with torch.no_grad():
        assert torch.allclose(with_(x), x + without(x))
        assert torch.equal(without(x), without.conv(x))


def test_relu6_projection_bounds_the_block_output_and_keeps_the_weights():
    linear, relu6 = _block(shortcut=False), _block(shortcut=False, projection="relu6")
    relu6.load_state_dict(linear.state_dict())
    x = torch.randn(4, 8, 28, 28)
    with torch.no_grad():
        assert linear(x).min() < 0  # the linear bottleneck passes negative values
        assert torch.equal(relu6(x), linear(x).clamp(0, 6))
    with pytest.raises(ValueError, match="projection must be one of linear, relu6"):
        _block(projection="relu")


def test_dense_variant_has_no_depthwise_layer_and_a_dense_3x3():
    dense, depthwise = (architectures.build("mini_mobilenet_n", n=2, depthwise=d) for d in (False, True))
    assert len(select_layers(depthwise, kinds="depthwise")) == 2
    with pytest.raises(ValueError, match="no layer matches"):
        select_layers(dense, kinds="depthwise")
    convs = [m for m in dense.features[1].modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.groups, c.kernel_size) for c in convs] == [
        (8, 48, 1, (1, 1)), (48, 48, 1, (3, 3)), (48, 8, 1, (1, 1))]


def test_expansion_control_keeps_the_three_convs_at_hidden_width_8():
    """expansion 1 with the expand conv: same layers, kinds and shortcut as expansion 6, hidden width 8."""
    narrow, wide = _block(expansion=1, expand_conv=True), _block()
    shapes = [[(c.in_channels, c.out_channels, c.groups) for c in _conv_weights(b)] for b in (narrow, wide)]
    assert shapes == [[(8, 8, 1), (8, 8, 8), (8, 8, 1)], [(8, 48, 1), (48, 48, 48), (48, 8, 1)]]
    assert narrow.use_shortcut and wide.use_shortcut
    assert len(_conv_weights(_block(expansion=1))) == 2  # MobileNetV2's t = 1 block drops the expand conv
    with pytest.raises(ValueError, match="needs its expand conv"):
        _block(expand_conv=False)


def test_ablation_labels_at_every_n_and_bad_variant_names():
    for n in (1, 2, 8):
        net = architectures.build("mini_mobilenet_n", n=n, shortcut=False, depthwise=False)
        assert net.variant == f"mini_mobilenet-{n}x(8,1,6)-noshortcut-dense"
        assert architectures.build(net.variant).variant == net.variant
    assert architectures.build("mini_mobilenet_n", n=1, head="pool").variant == "mini_mobilenet-1x(8,1,6)-pool"
    for bad in ("mini_mobilenet-4x(8,1,6)-noshortcut-noshortcut", "mini_mobilenet-4x(8,1,6)-nosuch",
                "resnet20-lb[s2b3c2e6]-linear", "plain_cnn-4x8-res"):
        assert not architectures.is_model(bad)
        with pytest.raises(architectures.UnknownArchitectureError, match="unknown architecture"):
            architectures.build(bad)
    with pytest.raises(architectures.UnknownArchitectureError, match="already sets bottlenecks"):
        architectures.build("resnet20-lb[s2b3c2e6]", bottlenecks=["s1b1c1"])
    with pytest.raises(ValueError, match="apply to bottlenecks"):
        architectures.build("resnet20", bottleneck_shortcut=False)


def test_resnet_noshortcut_removes_the_inverted_residuals_own_shortcut_only():
    net = architectures.build("resnet20-lb[s2b3c2e6]-noshortcut")
    block = net.layer2[2]
    assert not block.conv2.use_shortcut and isinstance(block.shortcut, nn.Identity)
    assert architectures.build("resnet20-lb[s2b3c2e6]").layer2[2].conv2.use_shortcut


# ------------------------------------------------------------------ LeNet-5 and the MLP of issue 28

def test_lenet5_is_analogais_lenet_on_28x28_digits():
    net = architectures.build("lenet5").eval()
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    layers = [(type(m).__name__, m.weight.shape) for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert layers == [("Conv2d", (6, 1, 5, 5)), ("Conv2d", (16, 6, 5, 5)), ("Linear", (120, 400)),
                      ("Linear", (84, 120)), ("Linear", (10, 84))]
    assert n_params(net) == 61_684
    assert n_params(architectures.build("lenet5", conv_bias=True)) == 61_706
    big = architectures.build_for_input("lenet5", 10, (1, 32, 32))  # AnalogAI's 32x32 crops: fc1 takes 576
    assert big.classifier[0].in_features == 576 and big(torch.randn(1, 1, 32, 32)).shape == (1, 10)


def test_mlp_784_128_10_by_name():
    net = architectures.build("mlp")
    assert net.variant == "mlp-784-128-10" and n_params(net) == 101_770
    assert select_layers(net) == ["layers.1", "layers.3"]
    assert n_params(architectures.build("mlp", hidden=[300, 100])) == 266_610


@pytest.mark.parametrize(("name", "kwargs", "label"), [
    ("mini_mobilenet", {"stem_channels": 16, "head": "pool"}, "mini_mobilenet-1x(8,1,6)-pool-stem16"),
    ("mini_mobilenet", {"blocks": [(4, 1, 6), (8, 2, 1)], "expand_conv": True},
     "mini_mobilenet-(4,1,6)+(8,2,1)-expandconv"),
    ("plain_cnn", {"n": 2, "width": 4, "head": "pool", "shortcut": True}, "plain_cnn-2x4-shortcut-pool"),
    ("mlp", {"hidden": [32, 16], "activation": "tanh", "bias": False}, "mlp-784-32-16-10-tanh-nobias"),
    ("moons_net", {"hidden": 5}, "moons_net-2-5-1"),
    ("mobilenetv2_cifar", {"width": 0.35}, "mobilenetv2_cifar-w0.35"),
    ("lenet5", {"conv_bias": True}, "lenet5-convbias"),
    ("resnet32", {"bottlenecks": ["s3b5c1e4"], "bottleneck_depthwise": False}, "resnet32-lb[s3b5c1e4]-dense"),
])
def test_labels_say_each_non_default_option_and_build_the_same_network(name, kwargs, label):
    net = architectures.build(name, **kwargs)
    again = architectures.build(label)
    assert net.variant == again.variant == label
    assert [p.shape for p in net.parameters()] == [p.shape for p in again.parameters()]
