"""Expanding a study into runs (architecture × method × training seed), each named by the hash of its
``faultlab fit`` config (``sweep.fit.run_config``): the checkpoint ``<runs_dir>/cache/<config hash>.ckpt`` is
reused by any study whose run has the identical config."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import architectures
from faultlab.data import DATASETS
from faultlab.faults import fault_seed

from .fit import run_config
from .spec import ArchitectureSpec, MethodSpec, StudySpec, StudySpecError


@dataclass(frozen=True)
class RunPlan:
    """One trained model of a study and the campaigns to run on it."""

    study: str
    arch: ArchitectureSpec
    method: MethodSpec
    seed: int
    label: str  # readable architecture name (the variant, or the spec's name)
    config_json: str  # the run's `faultlab fit` config (sweep.fit.run_config), canonical JSON
    config_hash: str

    @property
    def config(self) -> dict:
        return json.loads(self.config_json)

    def describe(self) -> str:
        return f"{self.label} / {self.method.name} / seed {self.seed}"


@cache
def _variant(arch: str, kwargs_json: str, num_classes: int, shape: tuple[int, ...]) -> str:
    net = architectures.build_for_input(arch, num_classes, shape, **json.loads(kwargs_json))
    return getattr(net, "variant", arch)


def expand(spec: StudySpec) -> list[RunPlan]:
    """All runs of the study, in a stable order (architecture, method, seed)."""
    dm_cls = DATASETS[spec.data.name]
    plans = []
    labels: dict[str, int] = {}
    for i, arch in enumerate(spec.architectures):
        probe = dm_cls(**{k: v for k, v in spec.data.options.items() if k in ("input_shape", "num_classes")})
        label = arch.name or _variant(arch.arch, json.dumps(arch.kwargs, sort_keys=True), probe.num_classes,
                                      tuple(probe.input_shape))
        if label in labels:  # the label names a run's cell (label, method, seed) in the store
            raise StudySpecError(f"architectures[{labels[label]}] and architectures[{i}] are both labelled {label!r}; "
                                 "give them distinct 'name:'s")
        labels[label] = i
        for method in spec.methods:
            if method.architectures is not None and arch.name not in method.architectures:
                continue
            for seed in spec.training.seeds:
                cfg = run_config(spec, arch, method, seed)
                text = json.dumps(cfg, sort_keys=True, separators=(",", ":"))
                plans.append(RunPlan(spec.name, arch, method, seed, label, text, f"{fault_seed(text):016x}"))
    return plans

