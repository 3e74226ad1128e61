"""Crossbar transfers in conductance space: one mapping, events on the same devices in order, one read-back;
stuck-conductance and programming-offset distributions checked against their equations; per-column and
per-tile scales; device presets."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from faultlab.faults import (
    SA0,
    SA1,
    Chain,
    Device,
    FaultSpecError,
    Programming,
    StuckAt,
    device_scale,
    join_bias,
    make_generator,
    parse_fault,
    split_bias,
    to_conductance,
)
from faultlab.faults.chain import steps
from faultlab.faults.mapping import G_MAX_US, G_MIN_US

SE = 4.0  # standard errors allowed between a sample statistic and its expectation
KS_P = 1e-3  # a Kolmogorov-Smirnov p-value below this rejects the distribution
N = 100_000
R = G_MAX_US - G_MIN_US


def weights(shape=(40, 25), seed: int = 5) -> torch.Tensor:
    return torch.randn(shape, generator=make_generator(seed))


def check_sample(x: torch.Tensor, dist, mean: float, std: float) -> None:
    """Sample mean within SE standard errors of ``mean`` and a KS test against ``dist`` (scipy frozen)."""
    x = x.double().flatten()
    assert abs(x.mean().item() - mean) <= SE * std / math.sqrt(x.numel()), (x.mean().item(), mean)
    assert stats.kstest(x.numpy(), dist.cdf).pvalue > KS_P


# ----------------------------------------------------------------------------- one transfer


@pytest.mark.parametrize("spec", ["stuck_at(sa0=0.1,sa1=0.2)", "stuck_at(sa0=0.05,sa1=0.05,g_sa1=normal(573,99))"])
def test_chain_of_one_stuck_at_equals_stuck_at(spec):
    w = weights()
    alone, chained = parse_fault(spec), parse_fault(f"chain({spec})")
    a, b = alone.draw(w, make_generator(3)), chained.draw(w, make_generator(3))
    assert torch.equal(a.weights, b.weights) and torch.equal(a.faulty, b.faulty)
    gens = [make_generator(s) for s in range(4)]
    assert torch.equal(
        alone.draw_each(w, gens).weights, chained.draw_each(w, [make_generator(s) for s in range(4)]).weights
    )


def test_chain_maps_once_and_a_stuck_device_stays_stuck():
    """chain(programming, stuck_at) by hand: map W once, G1 = G (1 + s eps), stuck devices replaced, read back once."""
    w, sigma, sa0, sa1 = weights(), 0.2, 0.1, 0.1
    out = Chain(Programming(sigma=sigma), StuckAt(sa0, sa1)).draw(w, make_generator(9))
    g_pos, g_neg, w_max = to_conductance(w)
    gen = make_generator(9)
    g = torch.stack((g_pos, g_neg)).unsqueeze(1)
    g = (g * (1.0 + sigma * torch.randn(g.shape, generator=gen))).clamp_min(0.0)
    u = torch.rand(g.shape, generator=gen)
    g = torch.where(u < sa0, G_MIN_US, torch.where(u < sa0 + sa1, G_MAX_US, g))
    expected = ((g[0] - g[1]) * w_max / R)[0]
    torch.testing.assert_close(out.weights, expected)
    assert torch.equal(out.faulty, (u < sa0 + sa1).any(0)[0])
    # pairs with both devices stuck read the stuck levels whatever was programmed: +-w_max or 0
    both = (u < sa0 + sa1).all(0)[0]
    levels = torch.where(u < sa0, G_MIN_US, G_MAX_US)[:, 0]
    torch.testing.assert_close(out.weights[both], ((levels[0] - levels[1]) * w_max / R)[both])


def test_a_write_after_a_stuck_event_leaves_stuck_devices():
    w = weights()
    stuck = StuckAt(0.0, 1.0)  # every device stuck at g_max: every weight reads 0
    out = Chain(stuck, Programming(sigma=0.5)).draw(w, make_generator(1)).weights
    assert torch.equal(out, torch.zeros_like(w))
    # a second stuck event does not re-draw devices stuck by the first
    out = Chain(StuckAt(1.0, 0.0), StuckAt(0.0, 1.0)).draw(w, make_generator(1)).weights
    assert torch.equal(out, torch.zeros_like(w))


def test_transfer_members_share_the_mapping_and_weight_models_split_transfers():
    with pytest.raises(FaultSpecError, match="g_max"):
        parse_fault("chain(programming(sigma=0.05), stuck_at(sa0=0.1, sa1=0.1, g_max=400))")
    chain = parse_fault("chain(programming(sigma=0.05), drop(p=0.1), stuck_at(sa0=0.1, sa1=0.1), read_noise(0.01))")
    kinds = [type(s).__name__ if not isinstance(s, tuple) else len(s) for s in chain._steps]
    assert kinds == [1, "Drop", 2]


# ----------------------------------------------------------------------------- distributions vs equations


@pytest.mark.parametrize(
    ("state", "spec", "dist", "mean", "std"),
    [
        (SA1, "normal(573, 99)", stats.norm(573, 99), 573.0, 99.0),
        (SA0, "uniform(10, 100)", stats.uniform(10, 90), 55.0, 90 / math.sqrt(12)),
        (SA1, "uniform(lo=480, hi=620)", stats.uniform(480, 140), 550.0, 140 / math.sqrt(12)),
    ],
)
def test_stuck_conductance_distributions(state, spec, dist, mean, std):
    rates = {"sa0": 1.0, "sa1": 0.0} if state == SA0 else {"sa0": 0.0, "sa1": 1.0}
    model = StuckAt(**rates, **{"g_sa0" if state == SA0 else "g_sa1": spec})
    g_pos, g_neg, _ = model.conductances(weights((N // 2,)), make_generator(11))
    check_sample(torch.cat((g_pos, g_neg)), dist, mean, std)


def test_stuck_rates_and_states_with_distributions():
    """State codes keep their rates (the extra draw comes after them) and only stuck devices take the levels."""
    model = StuckAt(0.05, 0.1, g_sa0="uniform(10, 100)", g_sa1="normal(573, 99)")
    w = weights((N,))
    pos, neg = model.device_states(w, make_generator(2))
    states = torch.cat((pos, neg))
    for code, p in ((SA0, 0.05), (SA1, 0.1)):
        frac = (states == code).double().mean().item()
        assert abs(frac - p) <= SE * math.sqrt(p * (1 - p) / states.numel())
    g_pos, g_neg, _ = model.conductances(w, make_generator(2))
    g = torch.cat((g_pos, g_neg))
    assert ((g[states == SA0] >= 10) & (g[states == SA0] < 100)).all()
    assert (g[states == 0] >= G_MIN_US).all() and (g[states == 0] <= G_MAX_US).all()
    # the states equal those of the fixed-level model: the same stream up to the states
    assert torch.equal(StuckAt(0.05, 0.1).device_states(w, make_generator(2))[0], pos)


def test_programming_offset_alone_and_with_level_dependent_imprecision():
    """o ~ N(mu, s) %: 100 (G'/G - 1) ~ N(mu, s); with sigma_G(%) = a G + b at G = g_max:
    N(mu, sqrt(s^2 + (a G + b)^2))."""
    mu, s, a, b = -0.589, 0.339, -6.24e-4, 0.691
    w = torch.ones(N // 2)  # every G+ at g_max = 500 µS, every G- at g_min = 100 µS
    g_pos, g_neg, _ = Programming(sigma=0.0, offset=f"normal({mu}, {s})").conductances(w, make_generator(4))
    rel = 100 * (torch.cat((g_pos / G_MAX_US, g_neg / G_MIN_US)) - 1)
    check_sample(rel, stats.norm(mu, s), mu, s)
    g_pos, _, _ = Programming(a=a, b=b, offset=f"normal({mu}, {s})").conductances(torch.ones(N), make_generator(4))
    total = math.hypot(s, a * G_MAX_US + b)
    check_sample(100 * (g_pos / G_MAX_US - 1), stats.norm(mu, total), mu, total)
    # a fixed offset is deterministic
    g_pos, g_neg, _ = Programming(sigma=0.0, offset=-1.0).conductances(w, make_generator(4))
    torch.testing.assert_close(g_pos, torch.full_like(g_pos, G_MAX_US * 0.99))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("stuck_at(0.1, 0.1, g_sa1=normal(573, -1))", "sigma"),
        ("stuck_at(0.1, 0.1, g_sa0=uniform(100, 10))", "hi"),
        ("stuck_at(0.1, 0.1, g_sa0=gamma(1, 2))", "value"),
        ("stuck_at(0.1, 0.1, g_sa0=-5)", "g_sa0"),
        ("programming(offset=normal(1))", "offset"),
        ("stuck_at(0.1, 0.1, scale=rows)", "scale"),
        ("stuck_at(0.1, 0.1, scale=tile(0, 4))", "scale"),
        ("stuck_at(0.1, 0.1, clip_percentile=99, scale=tile(4, 4))", "clip_percentile"),
        ("device(tio2)", "preset"),
    ],
)
def test_bad_distribution_scale_and_preset_values(spec, match):
    with pytest.raises(FaultSpecError, match=match):
        parse_fault(spec)


# ----------------------------------------------------------------------------- scales and bias rows


def test_column_and_tile_scales():
    w = weights((6, 10))
    col = device_scale(w.unsqueeze(0), "column")[0]
    torch.testing.assert_close(col, w.abs().amax(1, keepdim=True).expand_as(w))
    tile = device_scale(w.unsqueeze(0), "tile(4,3)")[0]  # 4 word lines (inputs) x 3 bit lines (outputs)
    for o in range(6):
        for j in range(10):
            block = w[o // 3 * 3 : o // 3 * 3 + 3, j // 4 * 4 : j // 4 * 4 + 4]
            assert tile[o, j] == block.abs().max()
    # a healthy transfer returns W at any scale; an SA1 device on G- moves w by its column's w_max
    for scale in ("tensor", "column", "tile(4,3)"):
        torch.testing.assert_close(Programming(sigma=0.0, scale=scale)(w, make_generator(0)), w)
    pos = w.abs()
    out = StuckAt(0.0, 1.0, scale="column").draw(pos, make_generator(0)).weights
    torch.testing.assert_close(out, torch.zeros_like(pos))


def test_join_and_split_bias():
    w, b = weights((4, 3, 2, 2)), weights((4,), seed=6)
    joined = join_bias(w, b)
    assert joined.shape == (4, 13) and torch.equal(joined[:, -1], b)
    w2, b2 = split_bias(torch.stack([joined, joined + 1]), w.shape)
    assert torch.equal(w2[0], w) and torch.equal(b2[1], b + 1)


# ----------------------------------------------------------------------------- presets


def test_tio2_preset_is_one_transfer_with_the_paper_numbers():
    device = parse_fault("device(tio2_drolet2023)")
    assert isinstance(device, Device) and device.maps_bias and device.stackable
    programming, stuck = device.events
    assert (programming.a, programming.b, programming.g_min, programming.g_max) == (-6.24e-4, 0.691, 100.0, 500.0)
    assert programming.offset_distribution.mean == -0.589 and programming.offset_distribution.std == 0.339
    assert (stuck.sa0, stuck.sa1, stuck.level(SA1).text(), stuck.level(SA0).text()) == (
        0.005,
        0.005,
        "normal(mu=573.0,sigma=99.0)",
        "uniform(lo=10.0,hi=100.0)",
    )
    chain = parse_fault("chain(device(tio2_drolet2023), stuck_at(sa1={rate}, sa0=0))", rate=0.01)
    assert chain.maps_bias and len(chain._steps) == 1 and len(chain._steps[0]) == 3
    assert (
        chain.replace(**{"stuck_at.sa1": 0.02}).spec()
        == "chain(device(preset=tio2_drolet2023),stuck_at(sa0=0.0,sa1=0.02))"
    )
    w = weights()
    assert torch.equal(
        device.draw(w, make_generator(0)).weights, Chain(*device.events).draw(w, make_generator(0)).weights
    )
    assert steps(device.events) == device._steps
    # 0.5 % + 0.5 % of the devices stuck: about 2 % of the pairs faulty
    faulty = device.draw(weights((N,)), make_generator(1)).faulty
    p = 1 - 0.99**2
    assert abs(faulty.double().mean().item() - p) <= SE * math.sqrt(p * (1 - p) / N)
