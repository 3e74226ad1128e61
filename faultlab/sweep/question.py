"""A study's question, checked before anything runs: its ``contrasts:`` (``faultlab.stats.ContrastSpec``s, named
against the study's architectures, methods and campaigns) and its ``sequential:`` block (a
``faultlab.stats.sequential.SequentialDesign``), and the training seeds a sequential sweep takes.

    contrasts:
      - {kind: method, method: dropconnect, baseline: vanilla, architectures: [mlp], campaign: drops}
    sequential: {first: 3, step: 2, max_runs: 9}

A contrast's ``campaign:`` (a campaign's ``name:``) is resolved here to the campaign's fault template and scope,
so the stored spec names the surface itself. With no ``contrasts:`` the statistics use their defaults (every
method vs ``vanilla`` on each architecture, AUC on the whole network; an ``answer:`` block's pairs if it has one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pandas as pd

from faultlab.campaign.spec import CampaignSpec
from faultlab.stats.answer import answer_contrasts
from faultlab.stats.contrasts import ContrastError, ContrastSpec, default_contrasts, resolve_contrasts
from faultlab.stats.endpoints import COUNT, GROUP, NETWORK
from faultlab.stats.sequential import SequentialDesign

from .spec import StudySpec, StudySpecError

__all__ = ["check_contrasts", "check_sequential", "trained_arms", "planned_contrasts", "sequential_seeds",
           "BASELINE"]

BASELINE = "vanilla"  # the default contrasts' baseline, as in `faultlab stats` and `faultlab report`
_ANY_FAULT = "any"  # the fault template of the arms frame (names are checked on it, not surfaces)


def trained_arms(spec: StudySpec, labels: Sequence[str]) -> list[tuple[str, str]]:
    """Every (architecture label, method) the study trains, in grid order."""
    return [(label, m.name) for m in spec.methods for a, label in zip(spec.architectures, labels)
            if m.architectures is None or a.name in m.architectures]


def _arms_frame(arms: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """One whole-network row per trained arm: what the statistics' name checks and default contrasts read."""
    return pd.DataFrame([{"variant": v, "method": m, "fault": _ANY_FAULT, "layer": "*", "equal_count": 0}
                         for v, m in arms], columns=["variant", "method", "fault", "layer", "equal_count"])


def _surface_of(c: CampaignSpec) -> str:
    """The kind of surface a campaign gives: network, group:<layer group> or count:<K>."""
    if c.equal_count:
        return ", ".join(f"{COUNT}{k}" for k in c.equal_count)
    return {None: NETWORK, "group": f"{GROUP}<layer group>", "layer": "single layers (not a contrast surface)"}[c.mode]


def _gives(c: CampaignSpec, scope: str) -> bool:
    if scope.startswith(COUNT):
        return bool(c.equal_count) and int(scope[len(COUNT):]) in c.equal_count
    if scope.startswith(GROUP):
        return c.mode == "group" and not c.equal_count
    return c.mode is None and not c.equal_count


def _with_campaign(c: ContrastSpec, key: str, campaigns: Sequence[CampaignSpec], names: Sequence[str | None]
                   ) -> ContrastSpec:
    """``campaign: NAME`` as the campaign's fault template and scope."""
    known = [n for n in names if n]
    if c.campaign not in known:
        raise StudySpecError(f"{key}.campaign: {c.campaign!r} is not a campaign name; allowed: "
                             f"{', '.join(known) or 'none (give campaigns a name:)'}")
    camp = campaigns[list(names).index(c.campaign)]
    if c.fault is not None and c.fault != camp.fault:
        raise StudySpecError(f"{key}.fault: {c.fault!r}, but campaign {c.campaign!r} has {camp.fault!r}; give one")
    scope = c.scope
    if camp.equal_count:
        if len(camp.equal_count) == 1 and not scope.startswith(COUNT):
            scope = f"{COUNT}{camp.equal_count[0]}"
        elif not _gives(camp, scope):
            raise StudySpecError(f"{key}.scope: campaign {c.campaign!r} has equal_count {list(camp.equal_count)}; "
                                 f"name one, e.g. scope: {COUNT}{camp.equal_count[0]}")
    elif camp.mode == "group":
        if not scope.startswith(GROUP):
            raise StudySpecError(f"{key}.scope: campaign {c.campaign!r} faults one layer group at a time; name the "
                                 "group, e.g. scope: group:depthwise")
    elif camp.mode == "layer":
        raise StudySpecError(f"{key}.campaign: {c.campaign!r} faults single layers, not a contrast surface; use a "
                             "whole-network, per_layer: group or equal_count campaign")
    else:
        scope = NETWORK
    return dataclasses.replace(c, fault=camp.fault, scope=scope, campaign=None)


def _check_surface(c: ContrastSpec, key: str, campaigns: Sequence[CampaignSpec]) -> None:
    """Some campaign gives the contrast's fault template, scope and rate."""
    faults = list(dict.fromkeys(camp.fault for camp in campaigns))
    if c.fault is not None and c.fault not in faults:
        raise StudySpecError(f"{key}.fault: {c.fault!r} is not a campaign's fault template; allowed: "
                             f"{', '.join(faults)}")
    mine = [camp for camp in campaigns if c.fault is None or camp.fault == c.fault]
    giving = [camp for camp in mine if _gives(camp, c.scope)]
    if not giving:
        given = ", ".join(dict.fromkeys(_surface_of(camp) for camp in mine))
        raise StudySpecError(f"{key}.scope: no campaign{f' of {c.fault}' if c.fault else ''} gives {c.scope!r}; "
                             f"the campaigns give: {given}")
    if c.endpoint == "rate" and not c.scope.startswith(COUNT):
        rates = sorted({float(r) for camp in giving for r in camp.rates})
        if not any(abs(float(c.rate) - r) < 1e-12 for r in rates):
            raise StudySpecError(f"{key}.rate: {c.rate} is not a rate of its campaigns; allowed: "
                                 f"{', '.join(f'{r:g}' for r in rates)}")


def check_contrasts(spec: StudySpec, labels: Sequence[str], names: Sequence[str | None]) -> list[ContrastSpec]:
    """The study's ``contrasts:`` as ``ContrastSpec``s: each well formed, its campaign name resolved, its surface
    one a campaign gives, its architectures and methods the study's and at least one comparison with every arm
    trained. ``labels``: the architectures' labels; ``names``: the campaigns' names (None: unnamed)."""
    given = [n for n in names if n]
    dup = sorted({n for n in given if given.count(n) > 1})
    if dup:
        raise StudySpecError(f"campaigns[].name: duplicate entries {', '.join(dup)}")
    out = []
    for i, entry in enumerate(spec.contrasts):
        key = f"contrasts[{i}]"
        try:
            c = ContrastSpec(**dataclasses.asdict(entry))
        except ContrastError as err:
            raise StudySpecError(f"{key}: {str(err).removeprefix('contrast: ')}") from None
        if c.campaign is not None:
            c = _with_campaign(c, key, spec.campaigns, names)
        _check_surface(c, key, spec.campaigns)
        out.append(c)
    arms = trained_arms(spec, labels)
    frame = _arms_frame(arms)
    anywhere = [dataclasses.replace(c, fault=None, scope=NETWORK) for c in out]
    try:
        resolve_contrasts(frame, anywhere)  # names: one line naming the contrast and the study's names
    except ContrastError as err:
        raise StudySpecError(str(err)) from None
    seen: dict[tuple, int] = {}
    for i, c in enumerate(anywhere):
        resolved = resolve_contrasts(frame, [c])
        if not any(set(r.arms_a + r.arms_b) <= set(arms) for r in resolved):
            raise StudySpecError(f"contrasts[{i}]: no comparison of it has every arm trained (methods[].architectures "
                                 "limits where a method trains); name arms the study trains")
        for r in resolved:  # the looks and tables key a contrast by (label, surface)
            j = seen.setdefault((r.label, out[i].fault, out[i].scope), i)
            if j != i:
                raise StudySpecError(f"contrasts[{i}]: the same comparison as contrasts[{j}] ({r.label!r}) on the "
                                     "same fault surface; remove one, or give them distinct name:s")
    return out


def check_sequential(entry) -> SequentialDesign | None:
    """The ``sequential:`` block as a design; one line naming the key when a value is out of range."""
    if entry is None:
        return None
    d = dataclasses.asdict(entry)
    checks = (("first", d["first"] >= 2, "a t test needs 2 runs per arm: 2 or more"),
              ("step", d["step"] >= 1, "runs added per look: 1 or more"),
              ("max_runs", d["max_runs"] >= d["first"], f"at least first ({d['first']})"),
              ("alpha", 0 < d["alpha"] < 1, "in (0, 1), e.g. 0.05"),
              ("power", 0.5 < d["power"] < 1, "in (0.5, 1), e.g. 0.8"))
    for name, ok, allowed in checks:
        if not ok:
            raise StudySpecError(f"sequential.{name}: {d[name]}; allowed: {allowed}")
    return SequentialDesign(**d)


def planned_contrasts(spec: StudySpec, arms: Sequence[tuple[str, str]], *, baseline: str = BASELINE
                      ) -> list[tuple[str, list[tuple[str, str]]]]:
    """The primary contrasts as the plan sees them (before any data), over the trained ``arms`` (label, method):
    (label, arms) per comparison, from the ``contrasts:``, else the ``answer:`` pairs, else the defaults. The sweep
    resolves them on the data at each look (a surface an arm lacks then shows as not tested)."""
    frame = _arms_frame(arms)
    if spec.contrasts:
        specs = list(spec.contrasts)
    elif spec.answer is not None:
        specs = answer_contrasts(frame, dataclasses.asdict(spec.answer))
    else:
        specs = default_contrasts(frame, baseline)
    anywhere = [dataclasses.replace(c, fault=None, scope=NETWORK, campaign=None) for c in specs]
    return [(r.label, sorted(set(r.arms_a + r.arms_b))) for r in resolve_contrasts(frame, anywhere)]


def sequential_seeds(spec: StudySpec) -> list[int]:
    """The training seeds of a sequential sweep, in the order runs are added: ``training.seeds`` when it lists at
    least ``sequential.max_runs`` (the first max_runs), else 0, 1, 2, ... when it starts so (the default [0]);
    anything else is ambiguous and refused in one line."""
    if spec.sequential is None:
        raise StudySpecError("--until-decided needs a sequential: block in the study, e.g. sequential: {first: 3, "
                             "step: 2, max_runs: 20} (docs/campaigns.md)")
    n, seeds = spec.sequential.max_runs, list(spec.training.seeds)
    if len(seeds) >= n:
        return seeds[:n]
    if seeds == list(range(len(seeds))):
        return list(range(n))
    raise StudySpecError(f"training.seeds: {seeds} has {len(seeds)} seeds, fewer than sequential.max_runs = {n}, "
                         f"and does not start 0, 1, 2, ...: list at least {n} seeds (taken in order), or 0, 1, ... "
                         f"(continued to {n - 1})")
