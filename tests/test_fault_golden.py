"""Golden values: fault seeds, canonical specs and draws of existing fault specs, computed on the code before
crossbar chains composed in conductance space (commit 824f7e4). Existing specs must keep their meaning, their
stored fault seeds and their draws."""

from __future__ import annotations

import pytest
import torch

from faultlab.faults import fault_seed, make_generator, parse_fault

W = torch.tensor(
    [
        -0.076644,
        0.359882,
        -0.782017,
        0.071528,
        1.046023,
        0.522187,
        -0.166809,
        0.053033,
        0.404607,
        0.6113,
        0.76039,
        -0.033643,
        0.997922,
        0.45918,
        2.436397,
        -0.146808,
        0.485114,
        0.205234,
        0.338428,
        1.352754,
    ]
).reshape(4, 5)

# (spec as typed, canonical spec, fault_seed(0, "fc1", spec, 0.1, 7), first 8 values of draw(W), first 4 of
# draw_each(W, [generator(seed + 1)])[0])
GOLDEN = [
    (
        "stuck_at(sa0=0.1, sa1=0.2)",
        "stuck_at(sa0=0.1,sa1=0.2)",
        7420302931121685667,
        [2.35975, 2.4364, -0.78202, 0.07153, 1.04602, 2.4364, -0.16681, 2.4364],
        [0.0, 0.35988, -0.78202, 2.4364],
    ),
    (
        "programming(sigma=0.05)",
        "programming(sigma=0.05)",
        8996051441167157819,
        [-0.04619, 0.45134, -0.81677, 0.1166, 1.05362, 0.4793, -0.13319, 0.12785],
        [-0.03784, 0.29504, -0.71782, 0.01805],
    ),
    (
        "programming(a=-0.000624, b=0.691)",
        "programming(sigma=0.05,a=-0.000624,b=0.691)",
        6778548240052746085,
        [-0.07, 0.35267, -0.77256, 0.07462, 1.0354, 0.52351, -0.16695, 0.05406],
        [-0.07639, 0.35283, -0.77654, 0.06841],
    ),
    (
        "read_noise(sigma=0.03)",
        "read_noise(sigma=0.03)",
        2310441509021535519,
        [-0.06662, 0.37288, -0.75729, 0.09944, 1.03777, 0.47975, -0.17409, 0.05124],
        [-0.1095, 0.33357, -0.73814, 0.08772],
    ),
    (
        "drift(t=100, nu=0.05, nu_std=0.02)",
        "drift(t=100.0,nu_std=0.02)",
        625685040493041946,
        [-0.12059, 0.2362, -0.64469, 0.13664, 0.81734, 0.24607, -0.29938, 0.04558],
        [0.0023, 0.19888, -0.73841, -0.06478],
    ),
    (
        "line_faults(p=0.1, tile=4, level='sa1')",
        "line_faults(p=0.1,tile=4,level=sa1)",
        4003970248447979947,
        [-0.07664, 0.35988, -0.78202, -2.36487, 1.04602, 0.52219, -0.16681, 0.05303],
        [-0.07664, 2.4364, -0.78202, 0.07153],
    ),
    (
        "drop(p=0.1)",
        "drop(p=0.1)",
        4345393692975402484,
        [-0.07664, 0.35988, -0.78202, 0.07153, 1.04602, 0.52219, -0.16681, 0.05303],
        [0.0, 0.35988, -0.78202, 0.07153],
    ),
    (
        "chain(quantize(16), programming(0.05))",
        "chain(quantize(levels=16),programming(sigma=0.05))",
        7143837280021420042,
        [-0.2297, 0.45074, -0.84147, 0.17469, 1.24967, 0.47433, -0.12258, 0.16031],
        [-0.13822, 0.49583, -0.86265, 0.24654],
    ),
    (
        "chain(stuck_at(sa0=0.1, sa1=0.2))",
        "chain(stuck_at(sa0=0.1,sa1=0.2))",
        4126912519347085362,
        [2.35975, 0.35988, -0.78202, 2.4364, 1.04602, -1.91421, -0.16681, 2.4364],
        [-0.07664, 0.35988, -0.78202, 0.07153],
    ),
    (
        "stuck_at(sa0=0.1, sa1=0.2, clip_percentile=90)",
        "stuck_at(sa0=0.1,sa1=0.2,clip_percentile=90.0)",
        5709548631637184566,
        [-0.07664, -0.71681, 0.0, 0.0, 0.0, 0.52219, -1.0767, 0.0],
        [0.0, 0.35988, -0.78202, -1.0767],
    ),
]


@pytest.mark.parametrize(("text", "canonical", "seed", "drawn", "drawn_each"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_existing_specs_keep_seeds_and_draws(text, canonical, seed, drawn, drawn_each):
    model = parse_fault(text)
    assert model.spec() == canonical
    assert fault_seed(0, "fc1", text, 0.1, 7) == seed
    got = model.draw(W, make_generator(seed)).weights.flatten()[:8]
    torch.testing.assert_close(got, torch.tensor(drawn), atol=2e-5, rtol=0)
    each = model.draw_each(W, [make_generator(seed + 1)]).weights[0].flatten()[:4]
    torch.testing.assert_close(each, torch.tensor(drawn_each), atol=2e-5, rtol=0)
