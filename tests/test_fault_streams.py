"""K keyed maps in one vectorised draw (``FaultModel.draw_each``, ``injection.draw_stacks``) are bit for
bit the maps of K separate draws, for every fault model, shape and dtype."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from faultlab.faults import FAULTS, FaultModel, make_generator, parse_fault
from faultlab.faults.streams import GeneratorStack, uniform
from faultlab.injection import draw_stacks, draw_weights, layer_weights, trial_seeds

SPECS = [
    "drop(p=0.3)",
    "gaussian_mult(sigma=0.2)",
    "gaussian_mult(sigma=0.2,kind=folded)",
    "gaussian_mult(sigma=0.2,kind=lognormal)",
    "gaussian_add(sigma=0.1)",
    "quantize(levels=7)",
    "stuck_at(sa0=0.1,sa1=0.2)",
    "stuck_at(sa0=0.1,sa1=0.2,clip_percentile=90.0)",
    "programming(sigma=0.05)",
    "programming(sigma=0.05,a=-0.000624,b=0.691)",
    "read_noise(sigma=0.1)",
    "drift(t=100.0,nu_std=0.01)",
    "drift(t=100.0)",
    "line_faults(p=0.2,tile=4)",
    "chain(quantize(levels=16),programming(sigma=0.05),stuck_at(sa0=0.01,sa1=0.01))",
    "stuck_at(sa0=0.1,sa1=0.2,g_sa0=uniform(10,100),g_sa1=normal(573,99),scale=column)",
    "programming(a=-0.000624,b=0.691,offset=normal(-0.589,0.339),scale=tile(4,2))",
    "device(tio2_drolet2023)",
    "chain(device(tio2_drolet2023),drift(t=10.0,nu_std=0.01),stuck_at(sa0=0.0,sa1=0.05))",
]
SHAPES = [(16,), (8, 2), (7, 3, 3, 3), (10, 128)]


def test_specs_cover_registry():
    assert {parse_fault(s).name for s in SPECS} == set(FAULTS)


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64])
def test_draw_each_equals_separate_draws(spec, shape, dtype):
    fault = parse_fault(spec)
    assert fault.stackable
    w = torch.randn(shape, generator=make_generator(1)).to(dtype)
    seeds = range(100, 111)
    each = fault.draw_each(w, [make_generator(s) for s in seeds])
    separate = [fault.draw(w, make_generator(s)) for s in seeds]
    assert each.weights.shape == (len(seeds), *shape) and each.weights.dtype == dtype
    assert torch.equal(each.weights, torch.stack([d.weights for d in separate]))
    if separate[0].faulty is None:
        assert each.faulty is None
    else:
        assert torch.equal(each.faulty, torch.stack([d.faulty for d in separate]))
    assert each.weights.is_contiguous()


@pytest.mark.parametrize("spec", SPECS)
def test_draw_each_in_chunks_equals_separate_draws(spec, monkeypatch):
    import faultlab.faults.base as base

    monkeypatch.setattr(base, "STACK_CHUNK_ELEMENTS", 50)  # (7, 3, 3) has 63 weights: one map per chunk
    fault = parse_fault(spec)
    for shape, per_chunk in (((7, 3, 3), 1), ((4, 3), 4)):
        w = torch.randn(shape, generator=make_generator(1))
        each = fault.draw_each(w, [make_generator(s) for s in range(100, 111)])
        separate = [fault.draw(w, make_generator(s)) for s in range(100, 111)]
        assert max(1, 50 // w.numel()) == per_chunk
        assert torch.equal(each.weights, torch.stack([d.weights for d in separate]))
        if each.faulty is not None:
            assert torch.equal(each.faulty, torch.stack([d.faulty for d in separate]))


class DirectRand(FaultModel):
    """A user-defined model drawing with torch.rand directly: not stackable, so drawn map by map."""

    name = "direct_rand"

    def __init__(self, p: float) -> None:
        self._set(p=p)

    def _apply(self, wb, generator):
        u = torch.rand(wb.shape, generator=generator, dtype=wb.dtype)
        return torch.where(u < self.p, 0.0, wb), u < self.p


def test_unstackable_models_are_drawn_map_by_map():
    w = torch.randn(5, 4, generator=make_generator(2))
    fault = DirectRand(0.5)
    assert not fault.stackable
    each = fault.draw_each(w, [make_generator(s) for s in (3, 4, 5)])
    assert torch.equal(each.weights, torch.stack([fault(w, make_generator(s)) for s in (3, 4, 5)]))
    assert each.faulty.shape == (3, 5, 4)


def test_chain_is_stackable_only_when_every_member_is():
    assert parse_fault("chain(drop(p=0.1),quantize(levels=4))").stackable
    from faultlab.faults import Chain

    assert not Chain(parse_fault("drop(p=0.1)"), DirectRand(0.1)).stackable


def test_draw_each_never_aliases_its_input():
    w = torch.randn(6, generator=make_generator(0))
    out = parse_fault("drop(p=0.0)").draw_each(w, [make_generator(1)]).weights
    out += 1
    assert not torch.equal(out[0], w)


def test_generator_stack_errors():
    with pytest.raises(ValueError, match="at least one"):
        GeneratorStack([])
    with pytest.raises(ValueError, match="3 generators"):
        uniform((2, 4), GeneratorStack([make_generator(i) for i in range(3)]), 0, torch.zeros(1))
    with pytest.raises(TypeError, match="generator"):
        parse_fault("drop(p=0.1)").draw_each(torch.zeros(3), [0])
    with pytest.raises(ValueError, match="at least one"):
        parse_fault("drop(p=0.1)").draw_each(torch.zeros(3), [])


def test_draw_stacks_equals_trial_by_trial_draws():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    layers = ["0", "2"]
    template = "stuck_at(sa0=0.05,sa1={rate})"
    fault = parse_fault(template, rate=0.1)
    seeds = [trial_seeds(7, layers, template, 0.1, t) for t in range(5)]
    weights = layer_weights(net, layers)
    stacks = draw_stacks(weights, fault, seeds)
    for name in layers:
        per_trial = torch.stack([draw_weights(weights, fault, s)[0][name].weights for s in seeds])
        assert torch.equal(stacks[name], per_trial)
