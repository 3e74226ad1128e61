"""Running one planned run: train it unless its checkpoint exists, then its campaigns into the store.
This is the unit of work a worker process (or a Ray task) executes; it is idempotent and resumable."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from faultlab.campaign.spec import CampaignSpec
from faultlab.data import build_data
from faultlab.files import finishing, temp_path
from faultlab.store import ResultsStore

from .fit import fit_config
from .grid import RunPlan
from .spec import StudySpec
from .stored import cell_run, data_options, earlier_hashes, evaluation, run_config

CACHE = "cache"


@dataclass
class RunOutcome:
    run: str
    trained: bool
    new_trials: int
    clean_accuracy: float | None
    seconds: float


def checkpoint_path(plan: RunPlan, runs_dir: str | Path) -> Path:
    return Path(runs_dir) / CACHE / f"{plan.config_hash}.ckpt"


def selects_any(cs: CampaignSpec, net: torch.nn.Module) -> bool:
    """Whether the campaign's layer selection finds a layer in ``net`` (a plain CNN has no depthwise conv)."""
    from faultlab.faults import LayerSelectionError

    try:
        return bool(cs.layers.select(net))
    except LayerSelectionError:
        return False


def expected_trials(spec: StudySpec) -> int | None:
    """Trials per run when every campaign has a fixed count (None when one is adaptive or per-layer)."""
    if any(c.trials == "auto" or c.skip_without_layers for c in spec.campaigns):
        return None
    if any(c.per_layer for c in spec.campaigns):
        return None  # the count depends on the model's layers
    return sum(len(c.rates) * int(c.trials) for c in spec.campaigns)


def is_complete(store: ResultsStore, plan: RunPlan, spec: StudySpec) -> bool:
    n = expected_trials(spec)
    row = None if n is None else cell_run(store, plan)
    return row is not None and store.count_trials(run_id=row["run_id"]) >= n  # type: ignore[operator]


def train(plan: RunPlan, runs_dir: str | Path, ckpt: Path) -> None:
    """Train the run deterministically, through the same LightningCLI construction as ``faultlab fit`` (from
    ``fit_config``), and write its checkpoint atomically (a kill leaves no partial file)."""
    from faultlab.training.cli import build

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)  # one line per run comes from the sweep instead
    cli = build(fit_config(plan.config, str(Path(runs_dir) / CACHE)))
    trainer = cli.trainer
    try:
        trainer.fit(cli.model, cli.datamodule)
    except SystemExit as exc:  # Lightning turns Ctrl-C into sys.exit(1); keep it an interrupt (no checkpoint)
        if trainer.interrupted:
            raise (exc.__context__ if isinstance(exc.__context__, KeyboardInterrupt) else KeyboardInterrupt()) from None
        raise
    if trainer.interrupted or trainer.received_sigterm:
        raise KeyboardInterrupt
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(ckpt, "checkpoint")
    with finishing(tmp, ckpt, "checkpoint"):  # synced and renamed when whole; removed (one line) when refused
        trainer.save_checkpoint(tmp)


def execute(plan: RunPlan, spec: StudySpec, store_path: str, runs_dir: str, threads: int | None = None) -> RunOutcome:
    """Train (if needed) and run every campaign of one run; returns what was done. The run is opened through
    the one front door (``open_checkpoint``): its id is (study, weights hash), as for every door; a run an
    earlier version stored with this training (``stored.earlier_hashes``) is adopted, its trials kept."""
    from faultlab.campaign.session import open_checkpoint
    from faultlab.runtime import tune_allocator

    tune_allocator()
    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    with ResultsStore(store_path) as store:
        if is_complete(store, plan, spec):
            run = cell_run(store, plan) or {}
            return RunOutcome(plan.describe(), False, 0, run.get("clean_accuracy"), time.perf_counter() - t0)
        earlier = earlier_hashes(store, plan)
    ckpt = checkpoint_path(plan, runs_dir)
    trained = not ckpt.is_file()
    if trained:
        train(plan, runs_dir, ckpt)
    dm = build_data(spec.data.name, eval_subset=spec.data.eval_subset, **data_options(spec, plan))
    session = open_checkpoint(
        ckpt, dm.tensors("test"), study=plan.study, method=plan.method.name, train_seed=plan.seed, label=plan.label,
        architecture=plan.arch.arch, config=run_config(plan), legacy_hashes=earlier,
        device="cuda" if torch.cuda.is_available() else "cpu", evaluation=evaluation(spec, plan),
        train_data=dm.train_dataloader)
    new, clean = 0, None
    with ResultsStore(store_path) as store:
        for c in spec.campaigns:
            if c.skip_without_layers and not selects_any(c, session.net):
                continue
            result = session.campaign(c, store)
            new += sum(cell.new_trials for cell in result.cells)
            clean = result.clean.accuracy
    return RunOutcome(plan.describe(), trained, new, clean, time.perf_counter() - t0)
