"""Study specs (``experiments/<study>.yaml``): the grid architectures × training methods × training
seeds, then campaigns (fault templates × rates × trials) on every trained run.

Loaded strictly: an unknown key, a wrong type, an empty grid, a rate outside [0, 1] or a duplicate
entry is a ``StudySpecError`` naming the key, the bad value and what is allowed, before anything runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from faultlab import FaultlabError
from faultlab.campaign.spec import MAX_SEED, CampaignError, CampaignSpec, validate
from faultlab.config import ConfigError, build, unknown_keys
from faultlab.names import check_name


class StudySpecError(FaultlabError):
    """A study spec is invalid; the message names the key and the allowed values."""


@dataclass(frozen=True)
class DataSpec:
    name: str = "mnist5k"
    options: dict[str, Any] = field(default_factory=dict)  # data module kwargs, e.g. batch_size
    eval_subset: int | None = None  # campaigns evaluate the first N test samples


@dataclass(frozen=True)
class TrainingSpec:
    epochs: int = 2
    seeds: list[int] = field(default_factory=lambda: [0])
    optimizer: str = "adam"
    lr: float = 1e-3
    options: dict[str, Any] = field(default_factory=dict)  # further Classifier kwargs (weight_decay, scheduler, ...)
    trainer: dict[str, Any] = field(default_factory=dict)  # further lightning.Trainer kwargs


@dataclass(frozen=True)
class ArchitectureSpec:
    arch: str
    name: str | None = None  # label; default: the built model's variant name
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fault_aware: dict[str, Any] | None = None  # FaultAware fields; None = vanilla
    architectures: list[str] | None = None  # train this method only on these architectures (their names)


@dataclass(frozen=True)
class PairSpec:
    variant: str  # an architecture name: the network with linear bottlenecks
    control: str  # its control of matched size without them


@dataclass(frozen=True)
class AnswerSpec:
    """The question's answer page (``answer:``): bottleneck variants vs their controls on every fault surface
    (campaign), a TOST at ``margin``, and a trend of the critical rate over an ordered family."""

    pairs: list[PairSpec]
    margin: float = 0.01  # equivalence margin, accuracy (0.01 = 1 pp)
    trend: list[str] = field(default_factory=list)  # architecture names in order (e.g. n = 1, 2, 4, 8)
    trend_x: list[float] = field(default_factory=list)  # their x values (e.g. the block counts n)
    trend_label: str = "blocks n"
    reference: str | None = None  # the conclusion being tested, quoted on the page


@dataclass(frozen=True)
class StudySpec:
    name: str
    architectures: list[ArchitectureSpec]
    methods: list[MethodSpec]
    campaigns: list[CampaignSpec]  # each without a seed: the study's seed keys every campaign
    question: str | None = None
    data: DataSpec = field(default_factory=DataSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    seed: int = 0  # campaign seed: fault maps are keyed by it
    needs_download: bool = False  # documented: the data must be downloaded first
    answer: AnswerSpec | None = None  # the report's answer page


# ------------------------------------------------------------------------------------ validation


def _campaign_key(c: CampaignSpec) -> str:
    """What must be unique among a study's campaigns: the fault template within one scope (the store keeps
    one setting per (run, fault, scope))."""
    return f"{c.fault} ({c.scope_words})"


DATA_KEYS_SET_BY_THE_STUDY = {"eval_subset": "data.eval_subset"}


def _parameters(fn: Any, skip: tuple[str, ...] = ("self",)) -> list[str]:
    """The keyword parameters of ``fn`` (empty when it takes ``**kwargs``: anything goes)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return []
    return [n for n, p in params.items() if n not in skip and p.kind is not p.VAR_POSITIONAL]


def _validate_data(data: DataSpec) -> None:
    """Data options against the data module's signature, then a construction (no data is loaded)."""
    from faultlab.data import DATASETS

    for k, where in DATA_KEYS_SET_BY_THE_STUDY.items():
        if k in data.options:
            raise StudySpecError(f"data.options.{k}: set it as {where}")
    allowed = _parameters(DATASETS[data.name].__init__)
    if allowed:
        unknown_keys("data.options", data.options, [a for a in allowed if a not in DATA_KEYS_SET_BY_THE_STUDY])
    if data.eval_subset is not None and data.eval_subset < 1:
        raise StudySpecError(f"data.eval_subset: {data.eval_subset}; allowed: a positive number of test samples")
    try:
        DATASETS[data.name](**data.options, eval_subset=data.eval_subset)
    except (TypeError, ValueError, FaultlabError) as err:
        raise StudySpecError(f"data.options: {err}") from None


def _validate_training(t: TrainingSpec) -> None:
    """The optimizer name, ``training.options`` (``fit.TRAINING_OPTIONS``) and Trainer kwargs (Lightning is
    imported only if some are given)."""
    from .fit import OPTIMIZERS, SCHEDULERS, TRAINING_OPTIONS

    if t.epochs < 1:
        raise StudySpecError(f"training.epochs: {t.epochs}; allowed: a positive integer")
    if not t.lr > 0 or math.isinf(t.lr):
        raise StudySpecError(f"training.lr: {t.lr}; allowed: a positive number")
    if t.optimizer not in OPTIMIZERS:
        raise StudySpecError(f"training.optimizer: {t.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
    if "lr" in t.options or "optimizer" in t.options:
        raise StudySpecError("training.options: set lr and optimizer as training.lr / training.optimizer")
    unknown_keys("training.options", t.options, list(TRAINING_OPTIONS))
    if t.options.get("scheduler", "none") not in SCHEDULERS:
        raise StudySpecError(f"training.options.scheduler: {t.options['scheduler']!r}; "
                             f"allowed: {', '.join(SCHEDULERS)}")
    if t.trainer:
        import lightning as L

        unknown_keys("training.trainer", t.trainer, _parameters(L.Trainer.__init__))


def _validate_seeds(spec: StudySpec) -> None:
    for key, values in (("seed", [spec.seed]), ("training.seeds", spec.training.seeds),
                        ("data.options.seed", [spec.data.options["seed"]] if "seed" in spec.data.options else [])):
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_SEED:
                raise StudySpecError(f"{key}: {v!r}; allowed: integers in 0..2^63-1")


def _validate_arch_kwargs(key: str, a: ArchitectureSpec, data_cls: type, options: dict) -> None:
    """Architecture kwargs against the builder's signature, then a build for the data's input shape
    (a CPU model of the zoo builds in milliseconds), so a bad value fails here and not in training."""
    import architectures

    allowed = architectures.parameters(a.arch)
    if allowed is not None:
        unknown_keys(f"{key}.kwargs", a.kwargs, allowed)
    probe = data_cls(**{k: v for k, v in options.items() if k == "input_shape"})
    try:
        architectures.build_for_input(a.arch, probe.num_classes, tuple(probe.input_shape), **a.kwargs)
    except (TypeError, ValueError, RuntimeError, FaultlabError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise StudySpecError(f"{key}: {a.arch} with kwargs {a.kwargs} does not build: {first}") from None


def _validate_methods_and_answer(spec: StudySpec) -> None:
    """Names that ``methods[].architectures`` and ``answer`` refer to must be architectures' ``name``s."""
    names = [a.name for a in spec.architectures if a.name]
    allowed = ", ".join(names) or "none (give architectures a 'name:')"

    def check(key: str, value: str) -> None:
        if value not in names:
            close = difflib.get_close_matches(value, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise StudySpecError(f"{key}: {value!r} is not an architecture name{hint}; allowed: {allowed}")

    for i, m in enumerate(spec.methods):
        if m.architectures is not None:
            if not m.architectures:
                raise StudySpecError(f"methods[{i}].architectures: empty; omit it to train on every architecture")
            for j, v in enumerate(m.architectures):
                check(f"methods[{i}].architectures[{j}]", v)
    a = spec.answer
    if a is None:
        return
    if not a.pairs:
        raise StudySpecError("answer.pairs: empty; name at least one {variant, control} pair")
    for i, p in enumerate(a.pairs):
        check(f"answer.pairs[{i}].variant", p.variant)
        check(f"answer.pairs[{i}].control", p.control)
        if p.variant == p.control:
            raise StudySpecError(f"answer.pairs[{i}]: variant and control are both {p.variant!r}")
    for j, v in enumerate(a.trend):
        check(f"answer.trend[{j}]", v)
    if len(a.trend_x) != len(a.trend):
        raise StudySpecError(f"answer.trend_x: {len(a.trend_x)} values for {len(a.trend)} trend architectures; "
                             "give one x per name")
    if not 0 < a.margin < 1:
        raise StudySpecError(f"answer.margin: {a.margin}; allowed: an accuracy in (0, 1), e.g. 0.01 = 1 pp")


def _validate(spec: StudySpec) -> StudySpec:
    import architectures
    from faultlab.data import DATASETS

    check_name(spec.name, "name:")  # the study's name becomes part of paths (results/<name>.sqlite, reports/)
    if spec.data.name not in DATASETS:
        raise StudySpecError(f"data.name: unknown dataset {spec.data.name!r}; allowed: {', '.join(DATASETS)}")
    for key, items in (("architectures", spec.architectures), ("methods", spec.methods),
                       ("campaigns", spec.campaigns), ("training.seeds", spec.training.seeds)):
        if not items:
            raise StudySpecError(f"{key}: empty; the grid needs at least one entry")
    labels = [json.dumps([a.arch, a.kwargs], sort_keys=True) for a in spec.architectures]
    names = [a.name for a in spec.architectures if a.name]
    for what, values in (("architectures", labels), ("architectures[].name", names),
                         ("methods[].name", [m.name for m in spec.methods]), ("training.seeds", spec.training.seeds),
                         ("campaigns[] (fault, per_layer, equal_count)", [_campaign_key(c) for c in spec.campaigns])):
        dup = sorted({v for v in values if values.count(v) > 1})
        if dup:
            raise StudySpecError(f"{what}: duplicate entries {', '.join(map(str, dup))}")
    _validate_seeds(spec)
    _validate_data(spec.data)
    _validate_methods_and_answer(spec)
    _validate_training(spec.training)
    for i, a in enumerate(spec.architectures):
        if not architectures.is_model(a.arch):
            close = difflib.get_close_matches(a.arch, architectures.available(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise StudySpecError(f"architectures[{i}].arch: unknown architecture {a.arch!r}{hint}; "
                                 f"allowed: {', '.join(architectures.available())} or timm:<name>")
        _validate_arch_kwargs(f"architectures[{i}]", a, DATASETS[spec.data.name], spec.data.options)
    for i, m in enumerate(spec.methods):
        if m.fault_aware is not None:
            from faultlab.training.methods import FaultAware

            try:
                FaultAware.from_mapping(m.fault_aware).plan()
            except (TypeError, FaultlabError) as err:  # FaultSpecError is a FaultlabError
                raise StudySpecError(f"methods[{i}].fault_aware: {err}") from err
    for i, c in enumerate(spec.campaigns):
        validate(c, key=lambda name, i=i: f"campaigns[{i}].{name}")
    return spec


def parse_study(data: Any, source: str = "spec") -> StudySpec:
    """Build and validate a StudySpec from parsed YAML."""
    if not isinstance(data, dict):
        raise StudySpecError(f"{source}: expected a mapping at the top level")
    for i, c in enumerate(data.get("campaigns") or []):
        if isinstance(c, dict) and "seed" in c:
            raise StudySpecError(f"campaigns[{i}].seed: set by the study (its top-level seed keys every campaign)")
    try:
        spec = build(StudySpec, data, "")
        return _validate(dataclasses.replace(spec, campaigns=[dataclasses.replace(c, seed=spec.seed)
                                                              for c in spec.campaigns]))
    except (ConfigError, CampaignError) as err:
        raise StudySpecError(str(err)) from None


def load_study(path: str | Path) -> tuple[StudySpec, dict]:
    """Read ``path`` (YAML); return the validated spec and the raw mapping (kept for the report)."""
    p = Path(path)
    if not p.is_file():
        raise StudySpecError(f"study spec not found: {p} (see experiments/*.yaml)")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StudySpecError(f"{p}: malformed YAML{where}: {getattr(err, 'problem', err)}") from None
    return parse_study(raw, str(p)), raw
