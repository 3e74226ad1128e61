"""Study specs (``experiments/<study>.yaml``): the grid architectures × training methods × training seeds, then
campaigns (fault templates × rates × trials) on every trained run.

    training:                      # a partial `faultlab fit` config, merged into every run's (sweep/fit.py)
      seeds: [0, 1]
      trainer: {max_epochs: 2}
      model: {optimizer: {class_path: torch.optim.Adam, init_args: {lr: 0.003}}}
    methods:
      - name: dropconnect
        fault_aware: {class_path: DropConnect, init_args: {p: 0.3}}

A study is parsed by jsonargparse from these dataclasses (``faultlab sweep`` takes its keys as options, and
``--print_config`` prints it), then checked before anything runs: the grid, the data module (constructed), every
architecture (built), every run's training config (built by the LightningCLI parser ``faultlab fit`` uses,
``sweep.fit.check_training``) and every campaign (``faultlab.campaign.spec.validate``). A problem is one
``StudySpecError`` line naming the key. A new study option is one typed field here.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultlab import FaultlabError
from faultlab.campaign.spec import MAX_SEED, CampaignError, CampaignSpec, validate
from faultlab.names import check_name
from faultlab.parsing import ConfigError, Options, add_help, command_parser, config_error, read_yaml
from faultlab.stats.contrasts import ContrastSpec
from faultlab.stats.sequential import SequentialDesign


class StudySpecError(FaultlabError):
    """A study spec is invalid; the message names the key and the allowed values."""


@dataclass(frozen=True)
class DataSpec:
    name: str = field(default="mnist5k", metadata={"help": "data set (faultlab.data.DATASETS)"})
    options: Options = field(default_factory=Options, metadata={
        "help": "the data module's arguments, e.g. batch_size (the data seed is the training seed unless set)"})
    eval_subset: int | None = field(default=None, metadata={
        "help": "campaigns evaluate the first N test samples (default all)"})


@dataclass(frozen=True)
class TrainingSpec:
    """How every run trains: a partial ``faultlab fit`` config (``trainer`` and ``model`` as in
    experiments/train/*.yaml; ``trainer.max_epochs`` is the epoch count), one run per seed."""

    seeds: list[int] = field(default_factory=lambda: [0], metadata={"help": "training seeds (one run each)"})
    trainer: Options = field(default_factory=Options, metadata={
        "help": "lightning.Trainer options of every run (max_epochs required), as a fit config's trainer:"})
    model: Options = field(default_factory=Options, metadata={
        "help": "Classifier options of every run (optimizer, lr_scheduler, channels_last), as a fit config's model:"})


@dataclass(frozen=True)
class ArchitectureSpec:
    arch: str
    name: str | None = None  # label; default: the built model's variant name
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fault_aware: Options | None = None  # {class_path, init_args} of a faultlab.training.methods class; None: vanilla
    architectures: list[str] | None = None  # train this method only on these architectures (their names)


@dataclass(frozen=True)
class PairSpec:
    variant: str  # an architecture name: the network with linear bottlenecks
    control: str  # its control of matched size without them


@dataclass(frozen=True)
class AnswerSpec:
    """The question's answer page (``answer:``): bottleneck variants vs their controls on every fault surface
    (campaign), a TOST at ``margin``, and a trend of the critical rate over an ordered family. Without ``pairs``
    (a study with ``contrasts:``, e.g. an ablation) the page answers from the declared contrasts, and the
    ``reference`` conclusion is judged on the contrasts named in ``reference_contrasts`` (default: all)."""

    pairs: list[PairSpec] = field(default_factory=list)
    margin: float = 0.01  # equivalence margin, accuracy (0.01 = 1 pp)
    trend: list[str] = field(default_factory=list)  # architecture names in order (e.g. n = 1, 2, 4, 8)
    trend_x: list[float] = field(default_factory=list)  # their x values (e.g. the block counts n)
    trend_label: str = "blocks n"
    reference: str | None = None  # the conclusion being tested, quoted on the page
    reference_contrasts: list[str] = field(default_factory=list)  # contrast names the reference is judged on


def _entry_class(source: type, name: str, drop: tuple[str, ...] = (), extra: tuple = ()) -> type:
    """A study block made from ``source``'s fields (a new option of ``source`` is a study option too), without its
    checks: the study converts it (:func:`validate_study`) so that an error names the study's key."""
    hints = typing.get_type_hints(source)
    cls = dataclasses.make_dataclass(name, [
        (f.name, hints[f.name], field(default=f.default, default_factory=f.default_factory, metadata=f.metadata))
        for f in dataclasses.fields(source) if f.name not in drop] + list(extra), frozen=True)
    cls.__module__ = __name__
    return cls


# a study's ``campaigns:`` entry: the fields of CampaignSpec but its seed (the study's seed keys every campaign),
# and an optional name a contrast's ``campaign:`` refers to
CampaignEntry = _entry_class(CampaignSpec, "CampaignEntry", drop=("seed",), extra=(
    ("name", str | None, field(default=None, metadata={"help": "the campaign's name (a contrast's campaign:)"})),))
# a ``contrasts:`` entry: the fields of faultlab.stats.ContrastSpec (docs/statistics.md)
ContrastEntry = _entry_class(ContrastSpec, "ContrastEntry")
# the ``sequential:`` block: the fields of faultlab.stats.sequential.SequentialDesign
SequentialEntry = _entry_class(SequentialDesign, "SequentialEntry")


@dataclass(frozen=True)
class StudySpec:
    name: str = field(metadata={"help": "study name: the store results/<name>.sqlite and the report's title"})
    architectures: list[ArchitectureSpec] = field(metadata={"help": "the networks: [{arch, name, kwargs}]"})
    methods: list[MethodSpec] = field(metadata={"help": "training methods: [{name, fault_aware, architectures}]"})
    campaigns: list[CampaignEntry] = field(metadata={  # CampaignSpecs with the study's seed once validated
        "help": "fault campaigns on every run (the keys of faultlab campaign but seed: the study's keys them)"})
    question: str | None = field(default=None, metadata={"help": "the question, shown in the report"})
    notes: str | None = field(default=None, metadata={
        "help": "what the numbers can and cannot be compared with (a paper's protocol, what was cut), shown on "
                "page 1 under the question; changes no number"})
    data: DataSpec = field(default_factory=DataSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    seed: int = field(default=0, metadata={"help": "campaign seed: fault maps are keyed by it"})
    needs_download: bool = field(default=False, metadata={"help": "documented: the data must be downloaded first"})
    answer: AnswerSpec | None = field(default=None, metadata={"help": "the report's answer page"})
    contrasts: list[ContrastEntry] = field(default_factory=list, metadata={  # ContrastSpecs once validated
        "help": "the primary contrasts (the study's question): [{kind, method, baseline, architectures, variant, "
                "control, pairs, fault, scope, campaign, endpoint, rate, measure, margin, name}]; none: every method "
                "vs vanilla on each architecture (docs/statistics.md)"})
    sequential: SequentialEntry | None = field(default=None, metadata={  # a SequentialDesign once validated
        "help": "sequential seeds for 'faultlab sweep --until-decided': {first, step, max_runs, alpha, futility, "
                "power} (runs per arm at the first look, added per look, at most)"})


# ------------------------------------------------------------------------------------ parsing

OLD_TRAINING_KEYS = ("epochs", "optimizer", "lr", "options")


def add_study_arguments(parser) -> None:
    """The StudySpec fields as top-level options of a jsonargparse ``parser`` (``--training.seeds`` ...)."""
    parser.add_class_arguments(StudySpec, None, as_group=False)
    for cls, prefix in ((StudySpec, ""), (DataSpec, "data."), (TrainingSpec, "training.")):
        add_help(parser, cls, prefix)


def check_raw(data: Any, source: str = "spec") -> None:
    """What only the file shows: a mapping, no campaign seed of its own, not the old training block."""
    if not isinstance(data, dict):
        raise StudySpecError(f"{source}: expected a mapping of study keys at the top level")
    for i, c in enumerate(data.get("campaigns") or []):
        if isinstance(c, dict) and "seed" in c:
            raise StudySpecError(f"campaigns[{i}].seed: set by the study (its top-level seed keys every campaign)")
    training = data.get("training")
    old = [k for k in OLD_TRAINING_KEYS if isinstance(training, dict) and k in training]
    if old:
        raise StudySpecError(
            f"{source}: training.{old[0]} is the old study format; training is now a partial 'faultlab fit' config: "
            "write training: {seeds: [...], trainer: {max_epochs: N}, model: {optimizer: {class_path: "
            "torch.optim.Adam, init_args: {lr: ...}}, lr_scheduler: ...}} (docs/campaigns.md, 'Studies')")


def study_parser():
    """A parser of the study's keys alone (``faultlab sweep`` adds its own options to the same)."""
    parser = command_parser("faultlab sweep")
    add_study_arguments(parser)
    return parser


def from_namespace(parser, cfg) -> StudySpec:
    """The StudySpec of a parsed namespace (the study's keys of it), not yet validated."""
    init = parser.instantiate(cfg)
    return StudySpec(**{f.name: init[f.name] for f in dataclasses.fields(StudySpec)})


def parse_study(data: Any, source: str = "spec") -> StudySpec:
    """Build and validate a StudySpec from parsed YAML."""
    from argparse import ArgumentError

    parser = study_parser()
    try:
        check_raw(data, source)
        cfg = parser.parse_object(data)
    except ArgumentError as err:
        raise StudySpecError(str(config_error(err, parser))) from None
    return validate_study(from_namespace(parser, cfg))


def load_study(path: str | Path) -> tuple[StudySpec, dict]:
    """Read ``path`` (YAML); return the validated spec and the raw mapping (kept for the report)."""
    try:
        raw = read_yaml(path, "study spec")
    except ConfigError as err:
        raise StudySpecError(str(err)) from None
    return parse_study(raw, str(path)), raw


# ------------------------------------------------------------------------------------ validation


def _campaign_key(c: CampaignSpec) -> str:
    """What must be unique among a study's campaigns: the fault template within one scope (the store keeps
    one setting per (run, fault, scope))."""
    return f"{c.fault} ({c.scope_words})"


def _closest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _validate_data(data: DataSpec) -> None:
    """The data module built with the study's options (no data are loaded): an unknown or out-of-range option is
    refused here, not after training starts."""
    from faultlab.data import DATASETS

    if "eval_subset" in data.options:
        raise StudySpecError("data.options.eval_subset: set it as data.eval_subset")
    cls = DATASETS[data.name]
    params = [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "eval_subset")]
    for k in data.options:
        if k not in params:
            raise StudySpecError(f"data.options.{k}: not an option of {data.name}{_closest(k, params)}; "
                                 f"allowed: {', '.join(params)}")
    if data.eval_subset is not None and data.eval_subset < 1:
        raise StudySpecError(f"data.eval_subset: {data.eval_subset}; allowed: a positive number of test samples")
    try:
        cls(**data.options, eval_subset=data.eval_subset)
    except (TypeError, ValueError, FaultlabError) as err:
        raise StudySpecError(f"data.options: {err}") from None


def _validate_seeds(spec: StudySpec) -> None:
    for key, values in (("seed", [spec.seed]), ("training.seeds", spec.training.seeds),
                        ("data.options.seed", [spec.data.options["seed"]] if "seed" in spec.data.options else [])):
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_SEED:
                raise StudySpecError(f"{key}: {v!r}; allowed: integers in 0..2^63-1")


def _build_architecture(key: str, a: ArchitectureSpec, spec: StudySpec):
    """The network for the data's input shape (a CPU zoo model builds in milliseconds), so a bad kwarg fails here."""
    import architectures
    from faultlab.data import DATASETS

    if not architectures.is_model(a.arch):
        raise StudySpecError(f"{key}.arch: unknown architecture {a.arch!r}{_closest(a.arch, architectures.available())}"
                             f"; allowed: {', '.join(architectures.available())} or timm:<name>")
    allowed = architectures.parameters(a.arch)
    for k in a.kwargs if allowed is not None else ():
        if k not in allowed:
            raise StudySpecError(f"{key}.kwargs.{k}: not an argument of {a.arch}{_closest(k, allowed)}; "
                                 f"allowed: {', '.join(allowed)}")
    probe = DATASETS[spec.data.name](**{k: v for k, v in spec.data.options.items() if k == "input_shape"})
    try:
        return architectures.build_for_input(a.arch, probe.num_classes, tuple(probe.input_shape), **a.kwargs)
    except (TypeError, ValueError, RuntimeError, FaultlabError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise StudySpecError(f"{key}: {a.arch} with kwargs {a.kwargs} does not build: {first}") from None


def _validate_names(spec: StudySpec) -> None:
    """Names that ``methods[].architectures`` and ``answer`` refer to must be architectures' ``name``s."""
    names = [a.name for a in spec.architectures if a.name]
    allowed = ", ".join(names) or "none (give architectures a 'name:')"

    def check(key: str, value: str) -> None:
        if value not in names:
            raise StudySpecError(f"{key}: {value!r} is not an architecture name{_closest(value, names)}; "
                                 f"allowed: {allowed}")

    for i, m in enumerate(spec.methods):
        if m.architectures is not None:
            if not m.architectures:
                raise StudySpecError(f"methods[{i}].architectures: empty; omit it to train on every architecture")
            for j, v in enumerate(m.architectures):
                check(f"methods[{i}].architectures[{j}]", v)
    a = spec.answer
    if a is None:
        return
    if not a.pairs and not spec.contrasts:
        raise StudySpecError("answer.pairs: empty; name at least one {variant, control} pair (or declare contrasts: "
                             "and the answer is theirs)")
    if a.pairs and a.reference_contrasts:
        raise StudySpecError("answer.reference_contrasts: only without answer.pairs (the pairs are what the "
                             "reference is judged on); drop one")
    declared = list(dict.fromkeys(c.name for c in spec.contrasts if c.name))
    for j, name in enumerate(a.reference_contrasts):
        if name not in declared:
            allowed = ", ".join(declared) or "none (give contrasts a name:)"
            raise StudySpecError(f"answer.reference_contrasts[{j}]: {name!r} is not a contrast's name"
                                 f"{_closest(name, declared)}; allowed: {allowed}")
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


def _validate_grid(spec: StudySpec) -> None:
    from faultlab.data import DATASETS

    check_name(spec.name, "name:")  # the study's name becomes part of paths (results/<name>.sqlite, reports/)
    if spec.data.name not in DATASETS:
        raise StudySpecError(f"data.name: unknown dataset {spec.data.name!r}{_closest(spec.data.name, list(DATASETS))}"
                             f"; allowed: {', '.join(DATASETS)}")
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


def validate_study(spec: StudySpec) -> StudySpec:
    """Every check of a study, before anything runs; returns the spec with the study's seed in every campaign,
    each method's ``fault_aware`` as the full config of the method the fit parser built, the contrasts as
    ``ContrastSpec``s (a campaign's name resolved to its fault and scope) and the sequential block as a
    ``SequentialDesign``."""
    from .fit import check_training
    from .question import check_contrasts, check_sequential

    names = [getattr(c, "name", None) for c in spec.campaigns]  # a contrast's campaign: (resolved below)
    campaigns = [CampaignSpec(**{f.name: getattr(c, f.name) for f in dataclasses.fields(c)
                                 if f.name not in ("seed", "name")}, seed=spec.seed) for c in spec.campaigns]
    spec = dataclasses.replace(spec, campaigns=campaigns)
    _validate_grid(spec)
    _validate_seeds(spec)
    _validate_data(spec.data)
    _validate_names(spec)
    for i, c in enumerate(spec.campaigns):
        try:
            validate(c, key=lambda name, i=i: f"campaigns[{i}].{name}")
        except CampaignError as err:
            raise StudySpecError(str(err)) from None
    nets = [_build_architecture(f"architectures[{i}]", a, spec) for i, a in enumerate(spec.architectures)]
    labels = [a.name or getattr(net, "variant", a.arch) for a, net in zip(spec.architectures, nets)]
    spec = dataclasses.replace(spec, contrasts=check_contrasts(spec, labels, names),
                               sequential=check_sequential(spec.sequential))
    return dataclasses.replace(spec, methods=check_training(spec, nets))
