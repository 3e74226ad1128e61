"""A study run as a ``faultlab fit`` config: the study's ``training:`` block (a partial fit config) merged with the
run's architecture, method, seed and data, and built by the same LightningCLI construction as ``faultlab fit
--config FILE`` (``faultlab.training.cli.build``), so a sweep run has the weights ``faultlab fit`` gives on it.

    training: {seeds: [0], trainer: {max_epochs: 2}, model: {optimizer: {class_path: torch.optim.Adam}}}
    ->  {seed_everything: 0, trainer: {max_epochs: 2, deterministic: true, logger: false, ...},
         model: {optimizer: ..., arch: ..., arch_kwargs: ..., fault_aware: ..., train_seed: 0},
         data: {class_path: faultlab.data.MNIST5k, init_args: {seed: 0, ...the study's data.options}}}

:func:`check_training` builds one such config per method (parser, class paths, trainer options, optimizer and
scheduler values, the method) before anything trains; ``trainer.max_epochs`` is the one epoch count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faultlab import FaultlabError

if TYPE_CHECKING:
    from torch import nn

    from .spec import ArchitectureSpec, MethodSpec, StudySpec

# what a sweep run's trainer does unless the study's training.trainer says otherwise: the sweep writes the
# checkpoint itself and prints one line per run
BASE_TRAINER: dict[str, Any] = {"accelerator": "auto", "devices": 1, "deterministic": True, "logger": False,
                                "enable_progress_bar": False, "enable_model_summary": False, "limit_val_batches": 0}
# model options each run sets itself -> where the study sets them
SET_BY_THE_STUDY = {"arch": "architectures[].arch", "arch_kwargs": "architectures[].kwargs",
                    "fault_aware": "methods[].fault_aware", "train_seed": "training.seeds",
                    "num_classes": "data.name", "input_shape": "data.name"}


def data_class_path(name: str) -> str:
    from faultlab.data import DATASETS

    cls = DATASETS[name]
    return f"{cls.__module__}.{cls.__qualname__}"


def run_config(spec: StudySpec, arch: ArchitectureSpec, method: MethodSpec, seed: int) -> dict[str, Any]:
    """Everything that determines a run's trained weights, as a ``faultlab fit`` config (the cache key hashes it)."""
    t = spec.training
    fault_aware = dict(method.fault_aware) if method.fault_aware is not None else None
    model = {**t.model, "arch": arch.arch, "arch_kwargs": dict(arch.kwargs or {}), "fault_aware": fault_aware,
             "train_seed": seed}
    return {"seed_everything": seed, "trainer": {**BASE_TRAINER, **t.trainer}, "model": model,
            "data": {"class_path": data_class_path(spec.data.name),
                     "init_args": {"seed": seed, **spec.data.options}}}  # as execute.data_options


def fit_config(config: dict[str, Any], root_dir: str) -> dict[str, Any]:
    """The run's config ready to build: Lightning's files anchored at ``root_dir``, no checkpoint written."""
    return {**config, "trainer": {"default_root_dir": root_dir, **config["trainer"]},
            "checkpoint": {"save_last": False, "save_top_k": 0, "dirpath": root_dir}}


def study_key(key: str, method_key: str = "methods[].fault_aware", arch_key: str = "architectures[]") -> str | None:
    """A dotted key of a run's fit config as the study writes it (None: not one the study sets):
    ``trainer.max_epochs`` -> ``training.trainer.max_epochs``, ``model.optimizer.init_args.lr`` ->
    ``training.model.optimizer.init_args.lr``, ``data.init_args.n_train`` -> ``data.options.n_train``."""
    for prefix, written in (("trainer", "training.trainer"), ("model.fault_aware", method_key),
                            ("model.arch_kwargs", f"{arch_key}.kwargs"), ("model.arch", f"{arch_key}.arch"),
                            ("model.train_seed", "training.seeds"), ("model", "training.model"),
                            ("data.init_args", "data.options"), ("data.class_path", "data.name"),
                            ("data", "data.options"), ("seed_everything", "training.seeds")):
        if key == prefix or key.startswith(prefix + "."):
            return written + key[len(prefix):]
    return None


def _fail(err: BaseException, method_key: str, arch_key: str) -> FaultlabError:
    """A build error under the study's key: ``trainer.max_epoch`` -> ``training.trainer.max_epoch``."""
    from faultlab.parsing import ConfigError

    key, text = (err.key, err.text) if isinstance(err, ConfigError) else ("", str(err))
    written = study_key(key, method_key, arch_key) if key else None
    return FaultlabError(f"{written}: {text}" if written else f"training: {text}")


def check_training(spec: StudySpec, nets: list[nn.Module]) -> list[MethodSpec]:
    """Each method built from its config (an earlier version's ``{method: ...}`` mapping converted) and its layer
    selection checked on every network it trains; then a run built with the LightningCLI parser ``faultlab fit``
    uses (every class path, trainer option and data option resolved and checked), with its optimizer and
    scheduler. Returns the methods with ``fault_aware`` as the method's full config. Imports torch and Lightning."""
    import dataclasses
    import tempfile

    from faultlab.faults import LayerSelectionError
    from faultlab.training.cli import build, lightning_info_silenced
    from faultlab.training.plain_data import method_from_config

    from .spec import StudySpecError

    for k in spec.training.model:
        if k in SET_BY_THE_STUDY:
            raise StudySpecError(f"training.model.{k}: set by the study's {SET_BY_THE_STUDY[k]}")
    methods, archs = [], []
    for i, m in enumerate(spec.methods):
        archs.append([j for j, a in enumerate(spec.architectures)
                      if m.architectures is None or a.name in m.architectures])
        try:  # the method's own check (an earlier version's mapping converted first), keyed to the method
            method = method_from_config(dict(m.fault_aware) if m.fault_aware is not None else None)
            for j in archs[i] if method is not None else ():
                try:
                    method.layers.select(nets[j])
                except LayerSelectionError as err:
                    raise FaultlabError(f"on architectures[{j}] ({spec.architectures[j].arch}): {err}") from None
        except FaultlabError as err:
            raise StudySpecError(f"methods[{i}].fault_aware: {err}") from None
        methods.append(dataclasses.replace(m, fault_aware=method.config() if method is not None else None))
    # the runs differ in architecture, method and seed, each checked above: one run, fault-aware if any, stands
    # for the training block, the data and the method class path (a parser build costs about half a second)
    i = next((k for k, m in enumerate(methods) if m.fault_aware is not None), 0)
    with tempfile.TemporaryDirectory() as root:
        config = fit_config(run_config(spec, spec.architectures[archs[i][0]], methods[i], spec.training.seeds[0]),
                            root)
        try:
            with lightning_info_silenced():
                cli = build(config)
        except FaultlabError as err:
            said = _fail(err, f"methods[{i}].fault_aware", f"architectures[{archs[i][0]}]")
            raise StudySpecError(str(said)) from None
        try:
            cli.model.configure_optimizers()
        except FaultlabError as err:
            raise StudySpecError(f"training.{err}") from None
    trainer = {**BASE_TRAINER, **spec.training.trainer}
    if trainer.get("max_epochs") is None and trainer.get("max_steps", -1) in (None, -1):
        raise StudySpecError("training.trainer.max_epochs: not set; how many epochs each run trains, e.g. "
                             "training: {trainer: {max_epochs: 2}} (the one epoch count)")
    return methods
