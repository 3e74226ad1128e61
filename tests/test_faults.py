"""Tests for faultlab.faults: statistics of every model, mapping, determinism, spec round trips.

Statistical bounds are z = 4.5 standard errors (two-sided false-alarm rate about 7e-6 per check) and
the seeds are fixed, so the tests are deterministic as well as statistically sound.
"""

from __future__ import annotations

import math

import pytest
import torch

from faultlab.faults import (
    FAULTS,
    G_MAX_US,
    G_MIN_US,
    HEALTHY,
    SA0,
    SA1,
    Chain,
    Drift,
    Drop,
    GaussianAdd,
    GaussianMult,
    LineFaults,
    Programming,
    Quantize,
    ReadNoise,
    StuckAt,
    available_faults,
    from_conductance,
    make_generator,
    parse_fault,
    to_conductance,
)

Z = 4.5
N = 200_000
SAMPLES = {  # one spec per registered model (checked below), drawn in the generic tests
    "drop": "drop(p=0.2)",
    "gaussian_mult": "gaussian_mult(sigma=0.1,kind=folded)",
    "gaussian_add": "gaussian_add(sigma=0.05)",
    "quantize": "quantize(levels=5)",
    "stuck_at": "stuck_at(sa0=0.05,sa1=0.05)",
    "programming": "programming(sigma=0.05)",
    "read_noise": "read_noise(sigma=0.02)",
    "drift": "drift(t=100.0,nu_std=0.01)",
    "line_faults": "line_faults(p=0.2,tile=4,level=sa1)",
    "device": "device(preset=tio2_drolet2023)",
    "chain": "chain(quantize(levels=16),programming(sigma=0.05),stuck_at(sa0=0.01,sa1=0.01))",
}
DETERMINISTIC = {"quantize"}
SHAPES = [(8, 3, 3, 3), (10, 20), (64,)]  # conv, linear, bias


def gen(seed: int = 0) -> torch.Generator:
    return make_generator(seed)


def weights(shape=(N,), seed: int = 123) -> torch.Tensor:
    return torch.randn(shape, generator=gen(seed))


def assert_fraction(count: int, n: int, p: float) -> None:
    sd = math.sqrt(p * (1 - p) / n)
    assert abs(count / n - p) <= Z * sd, (count / n, p, sd)


def assert_standard_normal(x: torch.Tensor, mean: float = 0.0, std: float = 1.0) -> None:
    """Sample mean within Z·std/√n, sample std within Z·std/√(2n) (normal-theory SEs)."""
    n = x.numel()
    x = x.double()
    assert abs(x.mean().item() - mean) <= Z * std / math.sqrt(n)
    assert abs(x.std().item() - std) <= Z * std / math.sqrt(2 * n)


# ----------------------------------------------------------------------------- weight-level models


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5, 0.9])
def test_drop_rate_and_no_rescaling(p):
    w = weights()
    draw = Drop(p).draw(w, gen())
    assert_fraction(int(draw.faulty.sum()), N, p)
    assert torch.equal(draw.weights[~draw.faulty], w[~draw.faulty])  # survivors untouched, no 1/(1-p)
    assert torch.all(draw.weights[draw.faulty] == 0)


def test_drop_extremes_and_gradient():
    w = weights((50,))
    assert torch.equal(Drop(0.0)(w, gen()), w)
    assert torch.all(Drop(1.0)(w, gen()) == 0)
    w.requires_grad_(True)
    draw = Drop(0.5).draw(w, gen())
    draw.weights.sum().backward()
    assert torch.equal(w.grad, (~draw.faulty).float())


@pytest.mark.parametrize("sigma", [0.05, 0.3])
def test_gaussian_mult_normal_and_lognormal(sigma):
    w = 1.0 + torch.rand(N, generator=gen(5))  # bounded away from 0, so W'/W is exact
    out = GaussianMult(sigma)(w, gen())
    assert_standard_normal((out / w - 1.0) / sigma)
    out = GaussianMult(sigma, kind="lognormal")(w, gen())
    assert_standard_normal(torch.log(out / w) / sigma)


def test_gaussian_mult_folded_matches_folded_normal_moments():
    sigma, mu = 1.5, 1.0  # |1 + sigma eps| is folded normal with location 1, scale sigma
    w = 1.0 + torch.rand(N, generator=gen(5))
    ratio = (GaussianMult(sigma, kind="folded")(w, gen()) / w).double()
    phi = 0.5 * (1 + math.erf(-mu / (sigma * math.sqrt(2))))
    mean = sigma * math.sqrt(2 / math.pi) * math.exp(-(mu**2) / (2 * sigma**2)) + mu * (1 - 2 * phi)
    std = math.sqrt(mu**2 + sigma**2 - mean**2)
    assert torch.all(ratio >= 0)
    assert abs(ratio.mean().item() - mean) <= Z * std / math.sqrt(N)


def test_gaussian_add_scales_with_max_abs_weight():
    sigma, w = 0.1, weights()
    out = GaussianAdd(sigma)(w, gen())
    assert_standard_normal((out - w) / (sigma * w.abs().max()))


@pytest.mark.parametrize("levels", [2, 3, 16, 255])
def test_quantize_levels_and_error(levels):
    w = weights((20_000,))
    w_max = w.abs().max()
    out = Quantize(levels)(w, gen())
    step = 2 * w_max / (levels - 1)
    assert out.unique().numel() <= levels
    assert (out - w).abs().max() <= step / 2 * (1 + 1e-5)
    assert out.abs().max() <= w_max * (1 + 1e-6)
    assert torch.equal(Quantize(levels)(w, gen(1)), out)  # ignores the generator


# ----------------------------------------------------------------------------- mapping and crossbar


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_mapping_round_trip(dtype, atol):
    w = weights((5000,)).to(dtype)
    g_pos, g_neg, w_max = to_conductance(w)
    assert torch.all((g_pos >= G_MIN_US) & (g_pos <= G_MAX_US) & (g_neg >= G_MIN_US) & (g_neg <= G_MAX_US))
    assert torch.all((g_pos == G_MIN_US) | (g_neg == G_MIN_US))  # one device of each pair idles at g_min
    back = from_conductance(g_pos, g_neg, w_max)
    assert torch.allclose(back, w, rtol=0, atol=atol * w_max.item())  # 1e-6 relative to w_max


def test_mapping_clip_percentile_and_sa1_on_negative_device():
    w = torch.tensor([0.3, -0.2, 1.0, -4.0])
    g_pos, g_neg, w_max = to_conductance(w, clip_percentile=50.0)  # median of |W| = 0.65
    assert w_max.item() == pytest.approx(0.65)
    assert torch.allclose(from_conductance(g_pos, g_neg, w_max), w.clamp(-0.65, 0.65))
    g_pos, g_neg, w_max = to_conductance(w)
    g_neg = torch.full_like(g_neg, G_MAX_US)  # every negative device stuck at SA1
    assert from_conductance(g_pos, g_neg, w_max)[0].item() == pytest.approx(0.3 - 4.0)


@pytest.mark.parametrize("sa0, sa1", [(0.01, 0.05), (0.2, 0.1)])
def test_stuck_at_device_rates_and_effect(sa0, sa1):
    w = weights((N // 2,))  # N devices
    model = StuckAt(sa0, sa1)
    pos, neg = model.device_states(w, gen())
    states = torch.cat([pos, neg])
    assert_fraction(int((states == SA0).sum()), N, sa0)
    assert_fraction(int((states == SA1).sum()), N, sa1)
    draw = model.draw(w, gen())  # same stream as device_states
    assert torch.equal(draw.faulty, (pos != HEALTHY) | (neg != HEALTHY))
    assert torch.equal(draw.weights[~draw.faulty], w[~draw.faulty])
    g_pos, g_neg, w_max = to_conductance(w)
    g_pos = torch.where(pos == SA0, G_MIN_US, torch.where(pos == SA1, G_MAX_US, g_pos))
    g_neg = torch.where(neg == SA0, G_MIN_US, torch.where(neg == SA1, G_MAX_US, g_neg))
    assert torch.allclose(draw.weights, from_conductance(g_pos, g_neg, w_max), atol=1e-6)
    flipped = (w > 0) & (pos == HEALTHY) & (neg == SA1)  # positive weight, G- stuck at g_max
    assert flipped.any()
    assert torch.allclose(draw.weights[flipped], w[flipped] - w_max, atol=1e-6)


def test_stuck_at_extremes():
    w = weights((1000,))
    for sa0, sa1 in [(1.0, 0.0), (0.0, 1.0)]:  # both devices of every pair equal -> W' = 0
        draw = StuckAt(sa0, sa1).draw(w, gen())
        assert torch.all(draw.weights == 0) and torch.all(draw.faulty)
    assert torch.equal(StuckAt(0.0, 0.0)(w, gen()), w)


def test_programming_level_dependent_sigma():
    a, b = -6.24e-4, 0.691  # TiO2 fit, sigma in % with G in µS
    n = N // 4
    w = torch.cat([torch.full((n,), 1.0), torch.full((n,), 0.5), torch.full((n,), -0.25)])
    g0_pos, g0_neg, _ = to_conductance(w)  # G+ = 500, 300, 100; G- = 100, 100, 200 µS
    g_pos, g_neg, _ = Programming(a=a, b=b).conductances(w, gen())
    for g, g0 in ((g_pos, g0_pos), (g_neg, g0_neg)):
        for level in g0.unique().tolist():
            at = g0 == level
            rel_sigma = (a * level + b) / 100
            assert_standard_normal((g[at] / level - 1) / rel_sigma)
    g_pos, _, _ = Programming(sigma=0.05).conductances(w[:n], gen())
    assert_standard_normal((g_pos / G_MAX_US - 1) / 0.05)


def test_noise_models_clamp_at_zero_and_read_noise_is_per_forward():
    w = weights((10_000,))
    g_pos, g_neg, _ = ReadNoise(sigma=2.0).conductances(w, gen())
    assert torch.all(g_pos >= 0) and torch.all(g_neg >= 0) and torch.any(g_pos == 0)
    assert ReadNoise(0.1).per_forward and not Programming(0.1).per_forward
    assert Chain(Drop(0.1), ReadNoise(0.1)).per_forward and not Chain(Drop(0.1)).per_forward


def test_drift():
    w, t, nu = weights((N // 2,)), 1000.0, 0.05
    assert torch.allclose(Drift(t=t, nu=nu)(w, gen()), w * (t / 1.0) ** -nu, rtol=1e-5, atol=1e-7)
    nu_std = 0.01
    g0_pos, g0_neg, _ = to_conductance(w)
    g_pos, g_neg, _ = Drift(t=t, nu=nu, nu_std=nu_std).conductances(w, gen())
    nus = -torch.log(torch.cat([g_pos / g0_pos, g_neg / g0_neg]).double()) / math.log(t)
    assert_standard_normal((nus - nu) / nu_std)


def test_line_faults_all_and_whole_lines():
    w = weights((256, 16, 4, 4))  # 256 x 256 matrix, 4 x 4 tiles of 64
    draw = LineFaults(p=1.0, tile=64).draw(w, gen())
    assert torch.all(draw.faulty) and torch.all(draw.weights == 0)
    p, tile = 0.05, 64
    for level, code in (("sa0", SA0), ("sa1", SA1)):
        states = LineFaults(p, tile, level).device_states(w, gen())
        failed_bit_lines = 0
        for array in states:
            stuck = (array.reshape(256, 256) == code).reshape(4, tile, 4, tile).permute(0, 2, 1, 3)
            assert set(array.unique().tolist()) <= {HEALTHY, code}
            rows, cols = stuck.all(dim=3), stuck.all(dim=2)  # [4, 4, tile] per tile
            assert torch.equal(stuck, rows[..., :, None] | cols[..., None, :])  # only whole lines
            failed_bit_lines += int(rows.sum())
        assert_fraction(failed_bit_lines, 2 * 256 * 4, p)
    bias = LineFaults(p=0.5, tile=4).draw(torch.randn(10), gen())
    assert bias.weights.shape == (10,)


# ----------------------------------------------------------------------------- chain


def test_chain_equals_members_in_sequence():
    w = weights((4000,))
    members = (Quantize(16), GaussianMult(0.1), Drop(0.3), StuckAt(0.01, 0.02))
    draw = Chain(*members).draw(w, gen(7))
    g, expected, masks = gen(7), w, []
    for m in members:
        step = m.draw(expected, g)
        expected = step.weights
        if step.faulty is not None:
            masks.append(step.faulty)
    assert torch.equal(draw.weights, expected)
    assert torch.equal(draw.faulty, masks[0] | masks[1])
    assert Chain(Quantize(4), GaussianAdd(0.1)).draw(w, gen()).faulty is None
    assert Chain(Chain(Drop(0.1)), Drop(0.2)).models == (Drop(0.1), Drop(0.2))  # flattened


# ----------------------------------------------------------------------------- generic contract


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("shape", SHAPES)
def test_contract_determinism_batch_and_purity(name, shape):
    model = parse_fault(SAMPLES[name])
    w = weights(shape)
    original = w.clone()
    a, b = model.draw(w, gen(1)), model.draw(w, gen(1))
    assert torch.equal(a.weights, b.weights) and a.weights.shape == w.shape
    assert (a.faulty is None) == (b.faulty is None)
    if a.faulty is not None:
        assert torch.equal(a.faulty, b.faulty) and a.faulty.dtype == torch.bool and a.faulty.shape == w.shape
    assert torch.equal(model.draw(w, gen(1), k=1).weights[0], a.weights)
    stack = model.draw(w, gen(1), k=3)
    assert stack.weights.shape == (3, *shape)
    if name not in DETERMINISTIC:
        assert not torch.equal(model(w, gen(2)), a.weights)
        assert not torch.equal(stack.weights[0], stack.weights[1])
        assert not torch.equal(stack.weights[1], stack.weights[2])
    assert torch.equal(w, original)
    assert a.weights.data_ptr() != w.data_ptr()


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtype_preserved(name, dtype):
    w = weights((6, 5)).to(dtype)
    out = parse_fault(SAMPLES[name]).draw(w, gen(), k=2).weights
    assert out.dtype == dtype and out.device == w.device and torch.isfinite(out).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_cuda_draws_stay_on_device(name):
    model = parse_fault(SAMPLES[name])
    w = weights((16, 8, 3, 3)).cuda()
    a = model.draw(w, make_generator(3, device=w.device), k=4)
    b = model.draw(w, make_generator(3, device="cuda"), k=4)
    assert a.weights.device == w.device and a.weights.shape == (4, *w.shape)
    assert torch.equal(a.weights, b.weights)
    if a.faulty is not None:
        assert a.faulty.device == w.device


def test_input_checks():
    w = weights((4,))
    with pytest.raises(TypeError, match="generator"):
        Drop(0.1).draw(w, 0)
    with pytest.raises(TypeError, match="floating-point"):
        Drop(0.1).draw(torch.arange(4), gen())
    with pytest.raises(ValueError, match="k=0"):
        Drop(0.1).draw(w, gen(), k=0)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="make_generator"):
            Drop(0.1).draw(w.cuda(), gen())


# ----------------------------------------------------------------------------- spec strings


def test_samples_cover_registry():
    assert sorted(SAMPLES) == available_faults() == sorted(FAULTS)


@pytest.mark.parametrize(
    "text",
    [
        *SAMPLES.values(),
        "programming(sigma=0.05,a=-0.000624,b=0.691)",
        "stuck_at(sa0=0.0175,sa1=0.0904,g_min=10.0,g_max=100.0,clip_percentile=99.5)",
        "drift(t=3600.0,nu=0.1,t0=2.0)",
        "chain(drop(p=0.1),drop(p=0.2),read_noise(sigma=0.01))",
        "stuck_at(sa0=0.005,sa1=0.005,g_sa0=uniform(lo=10.0,hi=100.0),g_sa1=normal(mu=573.0,sigma=99.0))",
        "programming(sigma=0.05,a=-0.000624,b=0.691,offset=normal(mu=-0.589,sigma=0.339),scale=column)",
        "stuck_at(sa0=0.01,sa1=0.01,g_sa1=600.0,scale=tile(64,32))",
        "chain(device(preset=tio2_drolet2023),stuck_at(sa0=0.0,sa1=0.01,g_sa1=normal(mu=573.0,sigma=99.0)))",
    ],
)
def test_spec_round_trip(text):
    model = parse_fault(text)
    assert model.spec() == text
    assert parse_fault(model.spec()) == model
    assert parse_fault(model.spec(full=True)).spec() == text
    assert model.replace().spec() == text
