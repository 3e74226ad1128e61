"""Stable fault seeds: every trial's fault map is re-created from its key, never stored.

    g = make_generator(fault_seed(campaign_seed, layer_name, spec, rate, trial), device=w.device)

Common random numbers: every model and training method meets the same map for the same key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import numbers

import torch

SEED_BITS = 63
_PERSON = b"faultlab.seed.v1"  # blake2b personalisation (16 bytes): a version tag for the key scheme


def _canonical(part: object) -> object:
    """JSON-able, type-tagged form of one key part.

    Numbers are keyed by value (1 and 1.0 give the same seed; non-integral floats via
    ``repr(float(x))``), strings as themselves, fault models by their canonical spec.
    """
    if part is None:
        return ["none"]
    if isinstance(part, bool):
        return ["bool", part]
    if isinstance(part, numbers.Integral):
        return ["num", str(int(part))]
    if isinstance(part, numbers.Real):
        x = float(part)
        return ["num", str(int(x)) if x.is_integer() else repr(x)]
    if isinstance(part, str):
        return ["str", part]
    if isinstance(part, bytes):
        return ["bytes", part.hex()]
    if isinstance(part, (tuple, list)):
        return ["seq", [_canonical(p) for p in part]]
    spec = getattr(part, "spec", None)
    if callable(spec):
        return ["str", spec()]
    raise TypeError(f"fault_seed: cannot key on {type(part).__name__}; use numbers, strings or tuples")


def _encode(part: object) -> str:
    return json.dumps(_canonical(part), separators=(",", ":"), ensure_ascii=True)


@functools.lru_cache(maxsize=4096, typed=True)  # typed: 1, 1.0 and True are cached apart (same text for 1, 1.0)
def _encoded_cached(part: object) -> str:
    return _encode(part)


def _encoded(part: object) -> str:
    """The JSON text of one canonical part; memoised, as a campaign keys the same layers and templates
    thousands of times (the seed of a trial costs a few microseconds instead of tens)."""
    try:
        return _encoded_cached(part)
    except TypeError:  # unhashable (a list)
        return _encode(part)


def fault_seed(*parts: object) -> int:
    """A 63-bit seed from blake2b over the canonical parts; stable across processes and machines.

    Never uses Python's ``hash()`` (salted per process).
    """
    text = "[" + ",".join(_encoded(p) for p in parts) + "]"  # == json.dumps of the canonical list
    digest = hashlib.blake2b(text.encode("ascii"), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "big") >> (64 - SEED_BITS)


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (the device must match the weights')."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator
