"""Reversible injection, keyed fault maps (common random numbers), BatchNorm recalibration."""

import pytest
import torch
from torch import nn

import architectures
from faultlab.faults import parse_fault
from faultlab.injection import inject, preserved_bn_state, recalibrate_bn, trial_seeds
from faultlab.selector import LayerSelector


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_state(model, snap):
    return all(torch.equal(v, snap[k]) for k, v in model.state_dict().items())


@pytest.fixture
def resnet():
    torch.manual_seed(0)
    return architectures.build("resnet20").eval()


def test_inject_changes_then_restores_bit_for_bit(resnet):
    before = snapshot(resnet)
    layers = LayerSelector().select(resnet)
    x = torch.randn(2, 3, 32, 32)
    clean = resnet(x)
    with inject(resnet, parse_fault("stuck_at(sa0=0.05,sa1=0.05)"), layers, 7):
        faulty = resnet(x)
        assert not same_state(resnet, before)
    assert not torch.allclose(clean, faulty)
    assert same_state(resnet, before)


def test_restore_after_exception(resnet):
    before = snapshot(resnet)
    layers = LayerSelector().select(resnet)
    with pytest.raises(RuntimeError, match="boom"), inject(resnet, parse_fault("drop(p=0.5)"), layers, 1):
        raise RuntimeError("boom")
    assert same_state(resnet, before)


def maps(model, template, rate, trial, seed=0):
    fault = parse_fault(template, rate=rate)
    layers = LayerSelector().select(model)
    with inject(model, fault, layers, trial_seeds(seed, layers, template, rate, trial)) as draws:
        return {n: d.faulty.clone() for n, d in draws.items()}


def test_same_key_same_map_different_trial_different_map(resnet):
    a = maps(resnet, "drop(p={rate})", 0.2, 3)
    b = maps(resnet, "drop(p={rate})", 0.2, 3)
    c = maps(resnet, "drop(p={rate})", 0.2, 4)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)


def test_two_models_of_one_architecture_meet_identical_maps():
    torch.manual_seed(1)
    m1 = architectures.build("resnet20")
    torch.manual_seed(2)
    m2 = architectures.build("resnet20")  # different weights (as two training methods would give)
    assert not torch.equal(m1.fc.weight, m2.fc.weight)
    for template, rate in (("drop(p={rate})", 0.3), ("stuck_at(sa0=0.01,sa1={rate})", 0.1)):
        a, b = maps(m1, template, rate, 5), maps(m2, template, rate, 5)
        assert all(torch.equal(a[n], b[n]) for n in a)


def test_read_noise_is_redrawn_every_forward_and_reproducible():
    torch.manual_seed(0)
    net = architectures.build("mlp").eval()
    layers = LayerSelector().select(net)
    x = torch.randn(4, 784)
    fault = parse_fault("read_noise(sigma=0.05)")

    def two_passes():
        with inject(net, fault, layers, 11):
            return net(x), net(x)

    first, second = two_passes()
    assert not torch.equal(first, second)
    again = two_passes()
    assert torch.equal(first, again[0]) and torch.equal(second, again[1])
    assert not net.layers[1]._forward_pre_hooks  # hooks removed


def test_bn_recalibration_changes_stats_and_preserved_state_restores_them(resnet):
    before = snapshot(resnet)
    batches = [torch.randn(8, 3, 32, 32) * 3 + 1 for _ in range(3)]
    with preserved_bn_state(resnet):
        used = recalibrate_bn(resnet, batches, 2)
        assert used == 2
        assert not same_state(resnet, before)
        assert not resnet.training
    assert same_state(resnet, before)
    assert all(m.momentum == 0.1 for m in resnet.modules() if isinstance(m, nn.BatchNorm2d))


def test_restore_finishes_the_weights_before_an_interrupt_propagates():
    """A Ctrl-C that lands while the saved weights are written back: the write is completed, then the
    interrupt is raised (the campaign's weights check never sees a half-restored model)."""
    from faultlab.injection import _restore

    w = {"a": torch.zeros(3), "b": torch.zeros(3)}
    saved = {"a": torch.ones(3), "b": torch.full((3,), 2.0)}

    class InterruptOnce(dict):
        hits = 0

        def __getitem__(self, key):
            InterruptOnce.hits += 1
            if InterruptOnce.hits == 2:  # after "a" is written, before "b"
                raise KeyboardInterrupt
            return super().__getitem__(key)

    with pytest.raises(KeyboardInterrupt):
        _restore(InterruptOnce(w), saved)
    assert torch.equal(w["a"], saved["a"]) and torch.equal(w["b"], saved["b"])
