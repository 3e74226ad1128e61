"""Contrasts: the study's question, stated before it runs. Each names two sets of arms, one fault surface, one
primary endpoint and optionally an equivalence margin; the primary family is the declared contrasts only.

In a study YAML (a ``contrasts:`` list; every key optional except ``kind`` and what the kind needs)::

    contrasts:
      - kind: method                   # a training method vs a baseline, paired by training seed
        method: dropconnect
        baseline: vanilla
        architectures: [resnet20]      # one or more: several give one pooled estimate (mean over them)
      - kind: architecture             # an architecture vs another, both trained with ``method`` (unpaired)
        variant: resnet20-lb1
        control: resnet20
        method: vanilla
        scope: count:16                # network | group:<layer group> | count:<K faulty weights per layer>
      - kind: factor                   # a component's effect over (variant, control) pairs: one pooled estimate
        name: linear bottleneck
        pairs: [[mini-4, plain-4], [mini-8, plain-8]]
        method: vanilla
        fault: "drop(p={rate})"        # the campaign's fault template (default: each one the data has)
        campaign: null                 # or a study campaign's ``name`` (resolved to its fault and scope)
        endpoint: auc                  # auc (over the common rate span) | rate (then ``rate: 0.2``)
        measure: accuracy              # accuracy | loss (accuracy - the run's own clean accuracy)
        margin: 0.01                   # TOST at ±1 pp; null: no equivalence test

With no ``contrasts:`` the primary contrasts are every method vs the baseline on each architecture, AUC on the
whole network (:func:`default_contrasts`). The computation is :func:`faultlab.stats.contrast_table.contrast_table`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from faultlab import FaultlabError

from .endpoints import COUNT, GROUP, NETWORK, scope_rows
from .vocabulary import ContrastKind, Endpoint, Measure

__all__ = ["ContrastSpec", "ContrastError", "Resolved", "default_contrasts", "parse_contrasts", "resolve_contrasts"]


class ContrastError(FaultlabError, ValueError):
    """A contrast is malformed or names arms the study does not have (the message says which and how to fix it)."""


@dataclass(frozen=True)
class ContrastSpec:
    """One declared contrast (see the module docstring for the YAML). Plain types only."""

    kind: str = "method"
    method: str | None = None
    baseline: str | None = None
    architectures: list[str] = field(default_factory=list)
    variant: str | None = None
    control: str | None = None
    pairs: list[list[str]] = field(default_factory=list)
    fault: str | None = None
    scope: str = NETWORK
    campaign: str | None = None
    endpoint: str = "auc"
    rate: float | None = None
    measure: str = "accuracy"
    margin: float | None = 0.01
    name: str | None = None

    def __post_init__(self) -> None:
        _check(self)


def _fail(msg: str) -> None:
    raise ContrastError(f"contrast: {msg}")


def _check(c: ContrastSpec) -> None:
    kinds = [k.value for k in ContrastKind]
    if c.kind not in kinds:
        _fail(f"kind {c.kind!r}; allowed: {', '.join(kinds)}")
    if c.kind == ContrastKind.METHOD and not (c.method and c.baseline):
        _fail("kind method needs 'method' and 'baseline' (e.g. method: dropconnect, baseline: vanilla)")
    if c.kind == ContrastKind.ARCHITECTURE and not (c.variant and c.control):
        _fail("kind architecture needs 'variant' and 'control' (two architecture names)")
    if c.kind == ContrastKind.ARCHITECTURE and c.variant == c.control:
        _fail(f"variant and control are both {c.variant!r}")
    if c.kind == ContrastKind.FACTOR and (not c.pairs or any(len(p) != 2 for p in c.pairs)):
        _fail("kind factor needs 'pairs': a list of [variant, control] architecture names")
    if not (c.scope == NETWORK or (c.scope.startswith(GROUP) and len(c.scope) > len(GROUP))
            or (c.scope.startswith(COUNT) and c.scope[len(COUNT):].isdigit())):
        _fail(f"scope {c.scope!r}; allowed: network, group:<layer group>, count:<K>")
    if c.endpoint not in ("auc", "rate"):
        _fail(f"endpoint {c.endpoint!r}; allowed: auc, rate")
    if c.endpoint == "rate" and c.rate is None:
        _fail("endpoint rate needs 'rate' (e.g. rate: 0.2)")
    if c.measure not in [m.value for m in Measure]:
        _fail(f"measure {c.measure!r}; allowed: accuracy, loss")
    if c.margin is not None and not 0 < c.margin < 1:
        _fail(f"margin {c.margin}; allowed: an accuracy difference in (0, 1), e.g. 0.01 = 1 pp, or null")


def parse_contrasts(items: Sequence[Mapping] | None) -> list[ContrastSpec]:
    """``ContrastSpec``s from a YAML list of mappings; ContrastError names an unknown key."""
    known = {f.name for f in dataclasses.fields(ContrastSpec)}
    out = []
    for i, item in enumerate(items or []):
        extra = sorted(set(item) - known)
        if extra:
            raise ContrastError(f"contrasts[{i}].{extra[0]}: unknown key; allowed: {', '.join(sorted(known))}")
        out.append(ContrastSpec(**dict(item)))
    return out


def default_contrasts(frame: pd.DataFrame, baseline: str = "vanilla", *, margin: float | None = 0.01
                      ) -> list[ContrastSpec]:
    """Every method vs ``baseline`` on each architecture that has both (AUC on the whole network)."""
    arms = frame.loc[scope_rows(frame, NETWORK), ["variant", "method"]].drop_duplicates()
    have = arms.groupby("variant")["method"].agg(set)
    return [ContrastSpec(kind="method", method=m, baseline=baseline, architectures=[v], margin=margin)
            for v, methods in have.items() if baseline in methods for m in sorted(methods - {baseline})]


@dataclass(frozen=True)
class Resolved:
    """A contrast made concrete on the data: its label, fault, scope, endpoint and arms."""

    spec: ContrastSpec
    label: str
    fault: str
    scope: str
    endpoint: Endpoint
    method: str | None
    arms_a: list[tuple[str, str]]  # (variant, method) of each "a" arm
    arms_b: list[tuple[str, str]]

    @property
    def kind(self) -> ContrastKind:
        return ContrastKind(self.spec.kind)


def _label(c: ContrastSpec, method: str | None) -> str:
    """The contrast's name, else its arms, and the rate of a ``rate`` endpoint (contrasts at two rates differ)."""
    if c.name:
        return c.name
    at = f" at rate {c.rate:g}" if c.endpoint == "rate" and c.rate is not None else ""
    if c.kind == ContrastKind.METHOD:
        where = c.architectures[0] if len(c.architectures) == 1 else f"{len(c.architectures)} architectures"
        return f"{c.method} vs {c.baseline} on {where}{at}"
    if c.kind == ContrastKind.ARCHITECTURE:
        return f"{c.variant} vs {c.control} ({method}){at}"
    return f"{', '.join(f'{v} vs {k}' for v, k in c.pairs)} ({method}){at}"


def _arms(c: ContrastSpec, method: str | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    if c.kind == ContrastKind.METHOD:
        return [(a, c.method) for a in c.architectures], [(a, c.baseline) for a in c.architectures]
    if c.kind == ContrastKind.ARCHITECTURE:
        return [(c.variant, method)], [(c.control, method)]
    return [(v, method) for v, _ in c.pairs], [(k, method) for _, k in c.pairs]


def _names(c: ContrastSpec) -> set[str]:
    return set(c.architectures) | {n for n in (c.variant, c.control) if n} | {n for p in c.pairs for n in p}


def resolve_contrasts(frame: pd.DataFrame, specs: Sequence[ContrastSpec],
                      campaigns: Mapping[str, tuple[str, str]] | None = None) -> list[Resolved]:
    """Each spec made concrete: a campaign name becomes its (fault, scope); no fault means one contrast per fault
    template the surface has; no method (architecture, factor) one per method every arm has; a method contrast
    without architectures covers every architecture that has both methods. ContrastError for unknown names."""
    variants, methods = set(frame["variant"]), set(frame["method"])
    out = []
    for i, c in enumerate(specs):
        if c.campaign is not None:
            if not campaigns or c.campaign not in campaigns:
                raise ContrastError(f"contrasts[{i}].campaign: {c.campaign!r} is not a campaign name of the study")
            fault, scope = campaigns[c.campaign]
            c = dataclasses.replace(c, fault=fault, scope=scope, campaign=None)
        if c.kind == ContrastKind.METHOD and not c.architectures:
            both = frame[frame["method"].isin([c.method, c.baseline])].groupby("variant")["method"].nunique()
            c = dataclasses.replace(c, architectures=sorted(both[both == 2].index))
        for name in sorted(_names(c) - variants):
            raise ContrastError(f"contrasts[{i}]: {name!r} is not an architecture of the study "
                                f"(architectures: {', '.join(sorted(variants))})")
        for name in (c.method, c.baseline):
            if name is not None and name not in methods:
                raise ContrastError(f"contrasts[{i}]: method {name!r} is not in the study (methods: "
                                    f"{', '.join(sorted(methods))})")
        sub = frame[scope_rows(frame, c.scope)]
        faults = [c.fault] if c.fault else sorted(set(sub["fault"]))
        endpoint = Endpoint.COUNT if c.scope.startswith(COUNT) else Endpoint(
            "AUC" if c.endpoint == "auc" else "rate")
        arm_names = _names(c)
        for fault in faults:
            part = sub[(sub["fault"] == fault) & sub["variant"].isin(arm_names)]
            use = [c.method] if c.kind == ContrastKind.METHOD or c.method else sorted(set(part["method"]))
            for method in use:
                a, b = _arms(c, method)
                label = _label(c, method if c.kind != ContrastKind.METHOD else None)
                out.append(Resolved(c, label, fault, c.scope, endpoint, method, a, b))
    return out
