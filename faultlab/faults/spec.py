"""Fault spec strings: ``parse_fault("stuck_at(sa0=0.01, sa1=0.01)")`` and the registry ``FAULTS``.

    model = parse_fault("chain(quantize(16), programming(sigma={rate}))", rate=0.05)
    sweep_parameter("chain(quantize(16), programming(sigma={rate}))")   # -> "programming.sigma"

Grammar (whitespace between tokens is ignored):
    fault := NAME "(" [arg ("," arg)* [","]] ")"
    arg   := NAME "=" value | value           (positional values follow the signature order;
    value := NUMBER | NAME | 'text' | "text" | "{" NAME "}" | fault       chain takes faults only)
A value may be a value call: a distribution ``normal(mu, sigma)`` / ``uniform(lo, hi)`` or a scale
``tile(R, C)``, passed to the model as its text, e.g. ``stuck_at(sa0=0.005, sa1=0.005, g_sa1=normal(573, 99))``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

from faultlab.registry import Registry

from .base import FaultModel, FaultSpecError
from .chain import Chain, member_labels
from .crossbar import Drift, LineFaults, Programming, ReadNoise, StuckAt
from .devices import Device
from .distributions import KINDS as DISTRIBUTIONS
from .weight import Drop, GaussianAdd, GaussianMult, Quantize

FAULTS: Registry[type[FaultModel]] = Registry("fault", FaultSpecError)
for _cls in (Drop, GaussianMult, GaussianAdd, Quantize, StuckAt, Programming, ReadNoise, Drift, LineFaults, Device,
             Chain):
    FAULTS.register(_cls)  # under its ``name``
del _cls
RATE_PLACEHOLDER = "rate"
VALUE_CALLS = (*DISTRIBUTIONS, "tile")  # calls that are parameter values, not fault models

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | \{\s*(?P<hole>[A-Za-z_][A-Za-z0-9_]*)\s*\}
    | '(?P<sq>[^']*)' | "(?P<dq>[^"]*)"
    | (?P<punct>[(),=])
    )""",
    re.VERBOSE,
)


def available_faults() -> list[str]:
    """Registered fault names, sorted."""
    return FAULTS.names()


# ----------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class _Hole:
    name: str


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[tuple[str | None, Any], ...]  # (keyword or None, value); value: number, str, _Hole, _Call
    column: int


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, pos = text, [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                col = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
                self.fail(f"unexpected character {text[col - 1]!r}", col)
            kind = m.lastgroup
            col = m.start(kind) + 1
            self.tokens.append((kind, m.group(kind), col))
            pos = m.end()
        self.i = 0

    def fail(self, what: str, column: int | None = None) -> NoReturn:
        where = f"at column {column}" if column is not None else "at the end"
        raise FaultSpecError(f"malformed fault spec {self.text!r}: {what} {where}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def expect(self, value: str, after: str) -> None:
        tok = self.peek()
        if tok is None or tok[0] != "punct" or tok[1] != value:
            self.fail(f"expected {value!r} {after}", tok[2] if tok else None)
        self.i += 1

    def parse(self) -> _Call:
        tok = self.peek()
        if tok is None:
            raise FaultSpecError("empty fault spec; expected e.g. 'drop(p=0.1)'")
        call = self.call()
        if (extra := self.peek()) is not None:
            self.fail(f"unexpected {extra[1]!r} after the closing ')'", extra[2])
        return call

    def call(self) -> _Call:
        kind, name, col = self.tokens[self.i]
        if kind != "name":
            self.fail(f"expected a fault name, got {name!r}", col)
        self.i += 1
        self.expect("(", f"after {name!r}")
        args: list[tuple[str | None, Any]] = []
        while (tok := self.peek()) is not None and tok[1] != ")":
            key = None
            nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
            if tok[0] == "name" and nxt is not None and nxt[1] == "=":
                key, self.i = tok[1], self.i + 2
            args.append((key, self.value()))
            if (tok := self.peek()) is None or tok[1] != ",":
                break
            self.i += 1
        self.expect(")", f"to close {name}(")
        return _Call(name, tuple(args), col)

    def value(self) -> Any:
        tok = self.peek()
        if tok is None:
            self.fail("expected a value")
        kind, text, col = tok
        if kind == "name" and self.i + 1 < len(self.tokens) and self.tokens[self.i + 1][1] == "(":
            return self.call()
        self.i += 1
        if kind == "number":
            return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        if kind == "hole":
            return _Hole(text)
        if kind in ("name", "sq", "dq"):
            return text
        self.fail(f"expected a value, got {text!r}", col)


# ----------------------------------------------------------------------------- building


def _members(call: _Call) -> list[_Call]:
    """The flattened member calls of a chain call."""
    out: list[_Call] = []
    for key, value in call.args:
        if key is not None or not isinstance(value, _Call):
            got = f"{key}={value!r}" if key else repr(value)
            raise FaultSpecError(f"chain: members must be fault calls such as drop(p=0.1), got {got}")
        out.extend(_members(value) if value.name == Chain.name else [value])
    return out


def _keywords(call: _Call) -> dict[str, Any]:
    """Map a (non-chain) call's arguments to parameter names; check names, order and completeness."""
    cls = FAULTS.get(call.name)
    names, kwargs, keyword_seen = cls._param_names, {}, False
    for position, (key, value) in enumerate(call.args):
        if key is None:
            if keyword_seen:
                raise FaultSpecError(f"{call.name}: positional value {value!r} after a keyword argument")
            if position >= len(names):
                raise FaultSpecError(f"{call.name}: too many values; parameters are {', '.join(names)}")
            key = names[position]
        else:
            keyword_seen = True
            if key not in names:
                raise FaultSpecError(f"{call.name}: unknown parameter {key!r}; allowed: {', '.join(names)}")
        if key in kwargs:
            raise FaultSpecError(f"{call.name}: parameter {key!r} given twice")
        if isinstance(value, _Call):
            value = _value_call_text(call.name, key, value)
        kwargs[key] = value
    missing = [n for n in names if n not in kwargs and n not in cls._defaults]
    if missing:
        raise FaultSpecError(f"{call.name}: missing required parameter {missing[0]!r}")
    return kwargs


def _value_call_text(fault: str, key: str, call: _Call) -> str:
    """The text of a value call such as ``normal(573, 99)``; its arguments must be plain numbers."""
    if call.name not in VALUE_CALLS:
        raise FaultSpecError(f"{fault}: {key} must be a value, got the fault {call.name}(...)")
    parts = []
    for k, v in call.args:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise FaultSpecError(f"{fault}: {key}={call.name}(...) takes numbers only, got {v!r}")
        parts.append(f"{k}={v!r}" if k else repr(v))
    return f"{call.name}({','.join(parts)})"


def _build(call: _Call, values: dict[str, Any], used: set[str]) -> FaultModel:
    if call.name == Chain.name:
        return Chain(*(_build(member, values, used) for member in _members(call)))
    kwargs = _keywords(call)
    for key, value in kwargs.items():
        if isinstance(value, _Hole):
            if value.name not in values:
                raise FaultSpecError(
                    f"{call.name}: placeholder {{{value.name}}} in {key} has no value; "
                    f"pass parse_fault(text, {value.name}=...)"
                )
            kwargs[key] = values[value.name]
            used.add(value.name)
    return FAULTS[call.name](**kwargs)


def parse_fault(text: str, **values: Any) -> FaultModel:
    """Build a fault model from its spec text; ``{name}`` placeholders take ``values[name]``.

    Raises FaultSpecError (one line) for malformed text, unknown faults or parameters, missing
    parameters, bad values, and placeholders without a value or values without a placeholder.
    """
    if isinstance(text, FaultModel):
        text = text.spec()
    if not isinstance(text, str):
        raise FaultSpecError(f"fault spec must be a string, got {type(text).__name__}")
    used: set[str] = set()
    model = _build(_Parser(text).parse(), values, used)
    if unused := sorted(set(values) - used):
        raise FaultSpecError(f"value for {unused[0]!r} given but {text!r} has no {{{unused[0]}}} placeholder")
    return model


def sweep_parameter(template: str, placeholder: str = RATE_PLACEHOLDER) -> str:
    """Name of the parameter holding ``{rate}``: ``p``, or ``label.param`` inside a chain."""
    call = _Parser(template).parse()
    if call.name == Chain.name:
        members = _members(call)
        labels = member_labels([m.name for m in members])
    else:
        members, labels = [call], [""]
    found = [
        f"{label}.{key}" if label else key
        for label, member in zip(labels, members)
        for key, value in _keywords(member).items()
        if value == _Hole(placeholder)
    ]
    if len(found) != 1:
        which = "no parameter holds" if not found else f"several parameters ({', '.join(found)}) hold"
        raise FaultSpecError(f"{which} {{{placeholder}}} in {template!r}; a sweep template needs exactly one")
    return found[0]
