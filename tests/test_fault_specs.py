"""Tests for faultlab.faults spec strings (formatting, errors, templates, replace) and keyed seeds."""

from __future__ import annotations

import pytest
import torch

from faultlab.faults import (
    Drop,
    FaultSpecError,
    GaussianMult,
    Quantize,
    StuckAt,
    fault_seed,
    make_generator,
    parse_fault,
    sweep_parameter,
)


def test_spec_formatting_and_leniency():
    assert Drop(p=0.1).spec() == "drop(p=0.1)"
    assert Drop(p=1).spec() == "drop(p=1.0)"
    assert Quantize(levels=16.0).spec() == "quantize(levels=16)"
    assert StuckAt(1e-5, 0).spec() == "stuck_at(sa0=1e-05,sa1=0.0)"
    assert parse_fault("  gaussian_mult ( 0.1 , kind = 'lognormal' , ) ") == GaussianMult(0.1, "lognormal")
    chain = parse_fault("chain(quantize(16), programming(0.05), stuck_at(0.0175, 0.0904))")
    assert chain.spec() == "chain(quantize(levels=16),programming(sigma=0.05),stuck_at(sa0=0.0175,sa1=0.0904))"
    with pytest.raises(AttributeError, match="immutable"):
        Drop(0.1).p = 0.2


@pytest.mark.parametrize(
    "text, words",
    [
        ("drop(p=1.5)", ["drop", "p=1.5", "[0, 1]"]),
        ("gaussian_add(sigma=-0.1)", ["sigma=-0.1", "[0, inf)"]),
        ("quantize(levels=1)", ["levels=1", "[2, inf)"]),
        ("quantize(levels=2.5)", ["levels", "not an integer"]),
        ("stuck_at(sa0=0.6, sa1=0.5)", ["sa0 + sa1", "exceeds 1"]),
        ("gaussian_mult(0.1, kind=weird)", ["kind='weird'", "normal, folded, lognormal"]),
        ("dorp(p=0.1)", ["unknown fault 'dorp'", "did you mean 'drop'", "known: chain"]),
        ("drop(q=0.1)", ["unknown parameter 'q'", "allowed: p"]),
        ("stuck_at(sa0=0.1)", ["missing required parameter 'sa1'"]),
        ("drop(p=0.1", ["malformed", "expected ')'"]),
        ("drop(p=0.1))", ["malformed", "column 12"]),
        ("drop(p=0.1; q)", ["malformed", "';'", "column 11"]),
        ("drop p=0.1", ["malformed", "expected '('"]),
        ("drop(p=0.1, p=0.2)", ["'p' given twice"]),
        ("drop(p=0.1, 0.2)", ["positional", "after a keyword"]),
        ("drop(0.1, 0.2)", ["too many values"]),
        ("drop(p=abc)", ["p='abc'", "not a number"]),
        ("drift(t=0.5)", ["t=0.5", "t0"]),
        ("programming(a=-0.01, b=0.5)", ["a=-0.01", "G=100.0"]),
        ("stuck_at(0.1, 0.1, g_min=500, g_max=100)", ["g_max=100.0", "g_min=500.0"]),
        ("line_faults(0.1, clip_percentile=0)", ["clip_percentile=0.0", "(0, 100]"]),
        ("chain()", ["at least one member"]),
        ("chain(p=0.1)", ["members must be fault calls"]),
        ("drop(p={rate})", ["placeholder {rate}", "rate=..."]),
        ("", ["empty fault spec"]),
    ],
)
def test_spec_errors_are_one_helpful_line(text, words):
    with pytest.raises(FaultSpecError) as info:
        parse_fault(text)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_templates_and_sweep_parameter():
    assert parse_fault("drop(p={rate})", rate=0.2) == Drop(0.2)
    template = "chain(quantize(16), stuck_at(sa0=0.01, sa1={ rate }))"
    assert parse_fault(template, rate=0.05).spec() == "chain(quantize(levels=16),stuck_at(sa0=0.01,sa1=0.05))"
    assert sweep_parameter("drop(p={rate})") == "p"
    assert sweep_parameter("drop({rate})") == "p"
    assert sweep_parameter(template) == "stuck_at.sa1"
    assert sweep_parameter("chain(drop(0.1), drop({rate}))") == "drop[1].p"
    with pytest.raises(FaultSpecError, match="no parameter holds"):
        sweep_parameter("drop(p=0.1)")
    with pytest.raises(FaultSpecError, match=r"several parameters \(sa0, sa1\)"):
        sweep_parameter("stuck_at({rate}, {rate})")
    with pytest.raises(FaultSpecError, match="no {rate} placeholder"):
        parse_fault("drop(p=0.1)", rate=0.2)


def test_replace():
    assert Drop(0.1).replace(p=0.3) == Drop(0.3)
    with pytest.raises(FaultSpecError, match="allowed: p"):
        Drop(0.1).replace(q=0.3)
    with pytest.raises(FaultSpecError, match="outside"):
        Drop(0.1).replace(p=2.0)
    chain = parse_fault("chain(programming(0.05), stuck_at(0.01, 0.01), drop(0.1), drop(0.2))")
    assert chain.replace(sa1=0.1).models[1] == StuckAt(0.01, 0.1)
    assert chain.replace(**{"stuck_at.sa1": 0.2}).models[1] == StuckAt(0.01, 0.2)
    assert chain.replace(**{"drop[3].p": 0.5}).models[3] == Drop(0.5)
    assert "drop[2].p" in chain.params and "programming.sigma" in chain.params
    with pytest.raises(FaultSpecError, match="several members; use one of programming.g_min"):
        chain.replace(g_min=50.0)
    with pytest.raises(FaultSpecError, match="unknown parameter 'nope'"):
        chain.replace(nope=1)


# ----------------------------------------------------------------------------- seeds


def test_fault_seed_is_stable_and_discriminating():
    seed = fault_seed(2024, "layer1.0.conv1", "drop(p=0.1)", 0.1, 3)
    assert seed == 2835883858487887367  # computed once; must never change (re-creates stored trials)
    assert seed == fault_seed(2024, "layer1.0.conv1", "drop(p=0.1)", 0.1, 3)
    assert 0 <= seed < 2**63
    variants = [
        (2025, "layer1.0.conv1", "drop(p=0.1)", 0.1, 3),
        (2024, "layer1.0.conv2", "drop(p=0.1)", 0.1, 3),
        (2024, "layer1.0.conv1", "drop(p=0.2)", 0.1, 3),
        (2024, "layer1.0.conv1", "drop(p=0.1)", 0.2, 3),
        (2024, "layer1.0.conv1", "drop(p=0.1)", 0.1, 4),
        ("layer1.0.conv1", 2024, "drop(p=0.1)", 0.1, 3),
        (2024, "layer1.0.conv1", "drop(p=0.1)", "0.1", 3),
    ]
    assert len({seed, *(fault_seed(*v) for v in variants)}) == len(variants) + 1
    assert fault_seed(1, 0.5) == fault_seed(1.0, 0.5)  # numbers keyed by value
    assert fault_seed(True, 0.5) != fault_seed(1, 0.5) and fault_seed(True) == fault_seed(True)  # memo is typed
    assert fault_seed([1, "a"]) == fault_seed((1, "a"))  # unhashable parts bypass the memo
    assert fault_seed(Drop(0.1)) == fault_seed("drop(p=0.1)")
    with pytest.raises(TypeError, match="cannot key"):
        fault_seed(object())


def test_make_generator_reproduces_draws():
    a = torch.rand(5, generator=make_generator(fault_seed(1, "x")))
    b = torch.rand(5, generator=make_generator(fault_seed(1, "x")))
    assert torch.equal(a, b)
