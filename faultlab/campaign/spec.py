"""What a campaign is: the fault template and its cells (rates, or equal counts), the trials per cell,
the layers and scope, and the run it belongs to; validated before anything is evaluated or stored.

    spec = CampaignSpec(fault="drop(p={rate})", rates=[0.1, 0.2], trials=30, per_layer="group")
    faults = validate(spec)        # the fault model of each cell, or a one-line CampaignError
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from faultlab import FaultlabError
from faultlab.selector import LayerSelector

PerLayer = Literal[False, True, "layer", "group"]
MAX_SEED = 2**63 - 1  # seeds are stored as SQLite INTEGERs and fed to torch.Generator.manual_seed


class CampaignError(FaultlabError):
    """A campaign cannot run as configured (bad rate, fault spec, layer selection, conflicting rows)."""


def _help(text: str) -> dict:
    """Field metadata: the help of the ``faultlab campaign`` option and of the YAML key (``parsing.add_help``)."""
    return {"help": text}


@dataclass(frozen=True)
class CampaignSpec:
    """One fault template swept over rates: THE campaign configuration. ``faultlab campaign``'s options (and its
    ``--config`` file), the study YAML's ``campaigns:`` entries and ``faultlab.run`` all build this dataclass
    (jsonargparse checks the types), and :func:`validate` is the one check of its values; a new option is one
    field here (with its help).

    ``trials``: a count, or ``"auto"`` to stop a cell once the 95 % CI half-width of its mean accuracy is
    below ``ci_halfwidth``, after at least ``min_trials`` maps and enough maps that a lower tail of mass
    ``tail_mass`` would have shown itself (149 for 2 %), at most ``max_trials``
    (:func:`faultlab.campaign.stopping.adaptive_stop`).
    ``per_layer``: sensitivity mode. ``True``/``"layer"``: each selected layer faulted alone with the same
    keyed maps it gets in a whole-network campaign, rows carry the layer name instead of ``*``;
    ``"group"``: each group of selected layers (stem, depthwise, pointwise, conv3x3, conv, linear,
    classifier) faulted at once, rows carry ``group:<name>``. ``equal_count``: instead of rates, fault
    exactly K weights per layer (or group) for each K listed (the fault at rate 1 on K uniformly placed
    weights); rows keep K in ``equal_count`` and K / (weights in scope) as rate; a K larger than a layer (or
    group) fails unless ``skip_larger_counts``, which leaves that layer out at that K."""

    fault: str = field(metadata=_help("fault template with {rate}, e.g. 'stuck_at(sa0=0.01,sa1={rate})'"))
    rates: Sequence[float] = field(default=(), metadata=_help(
        "rates in [0, 1], e.g. 0,0.1,0.2 or [0, 0.1] (required unless equal_count)"))
    trials: int | Literal["auto"] = field(default=20, metadata=_help("trials per rate, or 'auto'"))
    seed: int = field(default=0, metadata=_help("campaign seed (fault maps are keyed by it)"))
    layers: LayerSelector = field(default_factory=LayerSelector)
    ci_halfwidth: float = field(default=0.005, metadata=_help("auto trials: target 95 % CI half-width"))
    min_trials: int = field(default=30, metadata=_help("auto trials: minimum per rate"))
    max_trials: int = field(default=500, metadata=_help("auto trials: maximum per rate"))
    tail_mass: float = field(default=0.02, metadata=_help(
        "auto trials: run enough maps that a lower tail of this mass shows itself"))
    bn_recalibration: int = field(default=0, metadata=_help(
        "re-estimate BatchNorm statistics under each fault map on N training batches (0 = off)"))
    trials_per_pass: int | None = field(default=None, metadata=_help("fault maps per forward pass (default auto)"))
    per_layer: PerLayer = field(default=False, metadata=_help(
        "sensitivity: 'layer' (or true) faults each selected layer alone (rows carry the layer name), 'group' each "
        "layer group (stem, depthwise, pointwise, conv3x3, conv, linear, classifier); false: the whole network"))
    equal_count: Sequence[int] | None = field(default=None, metadata=_help(
        "with per-layer mode: fault exactly K weights per layer (or group) for each K (e.g. 8,32,128) instead of "
        "sweeping rates"))
    prefix_cache: bool = field(default=True, metadata=_help(
        "per-layer: reuse the clean activations upstream of the faulted layer (a speed option: results are "
        "identical without)"))
    eval_subset: int | None = field(default=None, metadata=_help(
        "evaluate only the first N test samples (default all)"))
    skip_without_layers: bool = field(default=False, metadata=_help(
        "a network in which the layer selection finds no layer skips this campaign instead of failing "
        "(e.g. a depthwise-only campaign on a plain CNN)"))
    skip_larger_counts: bool = field(default=False, metadata=_help(
        "with equal_count: a layer (or group) holding fewer weights than K gets no cell at that K instead of "
        "failing (e.g. K = 256 per layer past a 72-weight stem)"))

    def __post_init__(self) -> None:  # lists from YAML or the command line, tuples in Python: one value
        object.__setattr__(self, "rates", tuple(self.rates))
        if self.equal_count is not None:
            object.__setattr__(self, "equal_count", tuple(self.equal_count))

    @property
    def mode(self) -> str | None:
        """None (whole network), "layer" or "group"."""
        return None if self.per_layer is False else "layer" if self.per_layer is True else self.per_layer

    @property
    def scope_words(self) -> str:
        """The scope in words: whole network, per layer or per layer group (and ', equal count')."""
        words = {None: "whole network", "layer": "per layer", "group": "per layer group"}[self.mode]
        return words + (", equal count" if self.equal_count is not None else "")

    @property
    def scope(self) -> str:
        base = {None: "all", "layer": "per_layer", "group": "per_group"}.get(self.mode, str(self.per_layer))
        return f"{base}_count" if self.equal_count else base


@dataclass(frozen=True)
class RunInfo:
    """A trained model in the store: ``run_id`` is a keyed hash of (study, ``weights_hash``) whatever door
    opened it (``faultlab.campaign.identity``); the rest describes it. ``evaluation``: what its test data are
    (data set, options, subset), for messages; ``legacy_hashes``: what a store written before migration 0004
    may identify it by (a checkpoint file hash, a sweep's config hash)."""

    run_id: str
    study: str = "default"
    architecture: str = ""
    variant: str = ""
    method: str = "vanilla"
    train_seed: int | None = None
    checkpoint: str | None = None
    weights_hash: str | None = None
    config: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)
    legacy_hashes: tuple[str, ...] = ()


def campaign_spec(fault: str, rates: Sequence[float] = (), **options: object) -> CampaignSpec:
    """A ``CampaignSpec`` from keyword options (``faultlab.run``, ``FaultCampaign``): the defaults are the
    dataclass's, ``layers`` may be a list of layer kinds, and an unknown option is one CampaignError line
    with the closest field (``trails`` -> ``trials``)."""
    import difflib
    from dataclasses import fields

    names = [f.name for f in fields(CampaignSpec) if f.name not in ("fault", "rates")]
    for k in options:
        if k not in names:
            close = difflib.get_close_matches(k, names, n=1)
            raise CampaignError(f"{k}: not a campaign option{f' (did you mean {close[0]!r}?)' if close else ''}; "
                                f"allowed: {', '.join(names)}")
    layers = options.get("layers")
    if layers is not None and not isinstance(layers, LayerSelector):
        options["layers"] = LayerSelector(tuple(layers))  # type: ignore[arg-type]
    elif "layers" in options and layers is None:
        del options["layers"]
    return CampaignSpec(fault=fault, rates=list(rates), **options)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ validation


def validate(spec: CampaignSpec, key: Callable[[str], str] = str) -> dict:
    """Check ``spec``; return the fault model of each cell: per rate, or per count K with ``equal_count``.
    A bad value is a one-line ``CampaignError`` starting with ``key(field)``: the field name, the YAML key
    (``campaigns[0].rates``) or the flag (``--rates``)."""
    from faultlab.faults import FaultSpecError, full_rate_fault, parse_fault, sweep_parameter

    def fail(name: str, message: str) -> CampaignError:
        return CampaignError(f"{key(name)}: {message}")

    if isinstance(spec.fault, str) and spec.fault.strip().lower() in ("help", "list", "?"):
        raise fail("fault", "'faultlab faults' lists the fault models, their parameters and units")
    for name, bad, message in _checks(spec):
        if bad:
            raise fail(name, message)
    if (problem := spec.layers.problem()) is not None:
        raise fail(f"layers.{problem[0]}", problem[1])
    try:
        sweep_parameter(spec.fault)
    except FaultSpecError as err:
        raise fail("fault", f"{err} ('faultlab faults' lists the fault models)") from None
    if spec.equal_count is not None:
        try:
            fault = full_rate_fault(spec.fault)
        except FaultSpecError as err:
            raise fail("fault", str(err)) from None
        return {int(k): fault for k in spec.equal_count}
    out = {}
    for rate in spec.rates:
        try:
            out[float(rate)] = parse_fault(spec.fault, rate=float(rate))
        except FaultSpecError as err:
            raise fail("fault", f"{err} (at rate {rate})") from None
    return out


def _is_int(v: object, lo: int, hi: float = math.inf) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _checks(s: CampaignSpec) -> list[tuple[str, bool, str]]:
    """(field, is it bad, the message) for every value check of a campaign."""
    rates, counts = list(s.rates), None if s.equal_count is None else list(s.equal_count)
    outside = [r for r in rates if isinstance(r, bool) or not isinstance(r, int | float) or not 0.0 <= r <= 1.0]

    def allowed(name: str, text: str) -> str:
        return f"{getattr(s, name)!r}; allowed: {text}"

    return [
        ("equal_count", counts is not None and (not counts or not all(_is_int(k, 1) for k in counts)
                                                 or len(set(counts)) != len(counts)),
         allowed("equal_count", "distinct positive integers, e.g. 8,32,128")),
        ("equal_count", counts is not None and s.mode is None, "needs per-layer mode (per_layer: layer or group)"),
        ("skip_larger_counts", not isinstance(s.skip_larger_counts, bool),
         allowed("skip_larger_counts", "true or false")),
        ("skip_larger_counts", s.skip_larger_counts is True and counts is None, "needs equal_count (it skips a K "
         "larger than a layer)"),
        ("rates", counts is None and not rates, "empty; give at least one rate in [0, 1] (or equal_count)"),
        ("rates", bool(outside), f"{outside[0] if outside else ''} is outside [0, 1]"),
        ("rates", len(set(rates)) != len(rates), f"{rates}: a rate is listed twice"),
        ("rates", counts is not None and bool(rates), "give either rates or equal_count, not both"),
        ("per_layer", s.per_layer not in (False, True, "layer", "group"),
         allowed("per_layer", "false, true, 'layer' or 'group'")),
        ("trials", s.trials != "auto" and not _is_int(s.trials, 1), allowed("trials", "a positive integer or 'auto'")),
        ("seed", not _is_int(s.seed, 0, MAX_SEED), allowed("seed", "an integer in 0..2^63-1")),
        ("ci_halfwidth", not 0.0 < s.ci_halfwidth <= 1.0, allowed("ci_halfwidth", "a number in (0, 1]")),
        ("min_trials", not _is_int(s.min_trials, 2), allowed("min_trials", "an integer >= 2")),
        ("max_trials", not _is_int(s.max_trials, 1), allowed("max_trials", "a positive integer")),
        ("max_trials", s.trials == "auto" and s.max_trials < s.min_trials,
         allowed("max_trials", f"at least min_trials={s.min_trials}")),
        ("tail_mass", not 0.0 < s.tail_mass < 1.0, allowed("tail_mass", "a number in (0, 1)")),
        ("bn_recalibration", not _is_int(s.bn_recalibration, 0), allowed("bn_recalibration", "an integer >= 0")),
        ("trials_per_pass", s.trials_per_pass is not None and not _is_int(s.trials_per_pass, 1),
         allowed("trials_per_pass", "a positive integer or null (auto)")),
        ("prefix_cache", not isinstance(s.prefix_cache, bool), allowed("prefix_cache", "true or false")),
        ("eval_subset", s.eval_subset is not None and not _is_int(s.eval_subset, 1),
         allowed("eval_subset", "a positive number of test samples, or null (all)")),
    ]


def campaign_id(run: RunInfo, spec: CampaignSpec, weight_scale: str | None = None) -> str:
    """The campaign's identity: run, fault, seed, layers, BatchNorm recalibration, scope (per-layer modes) and
    the evaluation weight scale when one applies (a rescale-trained network: ``weight_scale`` describes it)."""
    from faultlab.faults import fault_seed

    key = (run.run_id, spec.fault, spec.seed, spec.layers.describe(), spec.bn_recalibration)
    key += (spec.scope,) if spec.mode else ()
    key += (weight_scale,) if weight_scale is not None else ()
    return f"{fault_seed(*key):016x}"
