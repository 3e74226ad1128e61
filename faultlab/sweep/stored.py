"""What a store holds of a study: its runs by grid cell (architecture label, training method, training seed),
and the refusal, before anything trains, of a spec that would change the numbers of a stored run.

    check_against_store(spec, expand(spec), store)   # one-line IdentityError naming the first difference

A stored run is compared with the run this spec would make of its cell: the training config (its ``faultlab
fit`` config: any trainer or model option, the method, the data and their options; a run an earlier version
stored, by its config read in this format, ``sweep.earlier``), named by the key the study writes, e.g.
``training.trainer.max_epochs 1; this spec has 2``; the evaluation (data, ``eval_subset``); and every
campaign's settings (campaign seed, layers, BatchNorm recalibration, ``eval_subset``). Growing the grid (architectures,
methods, seeds, campaigns, rates, trials) and editing what changes no number (the question, the answer
block) are not refused. Why refuse rather than store a new run: a second run of one cell would be taken by
the statistics for one more replicate of that (architecture, method, seed), mixing two trainings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from faultlab import FaultlabError
from faultlab.campaign.identity import IdentityError, differences, shown, store_name
from faultlab.store import ResultsStore

from .earlier import comparable, earlier_training
from .fit import study_key
from .grid import RunPlan
from .spec import StudySpec, StudySpecError, load_study

FIX = "use a new study name or a new --store"


def study_record(spec: StudySpec) -> dict[str, Any]:
    """The full resolved spec as plain JSON data (what the store keeps, and the report shows)."""
    return json.loads(json.dumps(dataclasses.asdict(spec), default=_plain))


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot write itself: a mapping of options (``parsing.Options``) as a mapping, anything
    else as its text."""
    return dict(value) if isinstance(value, Mapping) else str(value)


def read_spec(path: str | Path) -> dict[str, Any]:
    """A study spec file as the store keeps specs (:func:`study_record`); a file that does not load as a spec
    of this version (an older format) as written."""
    import yaml

    if not Path(path).is_file():
        raise FaultlabError(f"--spec {path}: file not found")
    try:
        return study_record(load_study(path)[0])
    except StudySpecError:
        pass
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as err:
        raise FaultlabError(f"--spec {path}: not a readable YAML study spec ({type(err).__name__})") from None
    if not isinstance(raw, dict):
        raise FaultlabError(f"--spec {path}: not a study spec (expected a mapping)")
    return raw


def data_options(spec: StudySpec, plan: RunPlan) -> dict:
    """The data module's kwargs: the spec's options; the data seed (split, order, and for generated sets the
    data themselves) is the training seed unless ``data.options.seed`` fixes it for every run."""
    return {"seed": plan.seed, **spec.data.options}


def evaluation(spec: StudySpec, plan: RunPlan) -> dict[str, Any]:
    """What a run's test data are, as its row records them."""
    return {"data": {"name": spec.data.name, "options": data_options(spec, plan), "eval_subset": spec.data.eval_subset}}


def run_config(plan: RunPlan) -> dict[str, Any]:
    """A sweep run's config column: its training config, and the hash of it that keys the checkpoint cache."""
    return {"training": plan.config, "config_hash": plan.config_hash}


def cell_run(store: ResultsStore, plan: RunPlan) -> dict | None:
    """The run ``store`` holds for ``plan``'s grid cell (its label, method and seed, or what an earlier version
    stored for it: :func:`earlier_cell_run`), or None."""
    found = store.find_runs(plan.study, variant=plan.label, method=plan.method.name, train_seed=plan.seed)
    return found[0] if found else earlier_cell_run(store, plan)


def stored_training(config: dict) -> dict | None:
    """The ``faultlab fit`` config a sweep stored with its run, an earlier version's training config read as one
    (``sweep.earlier``); None: stored by another door (such a run is still kept apart by its weights, since a
    second network in one cell is refused by ``faultlab.campaign.identity``)."""
    training = config.get("training") if "config_hash" in config else None
    if isinstance(training, dict) and {"trainer", "model", "data"} <= set(training):
        return training
    return earlier_training(config)


def earlier_cell_run(store: ResultsStore, plan: RunPlan) -> dict | None:
    """The run an earlier version's sweep stored for ``plan``'s cell under another label (earlier versions named
    some networks otherwise): the same architecture and kwargs, method and seed; or None."""
    network = {k: plan.config["model"][k] for k in ("arch", "arch_kwargs")}
    for row in store.find_runs(plan.study, method=plan.method.name, train_seed=plan.seed):
        training = earlier_training(row.get("config") or {})
        if training is not None and {k: training["model"][k] for k in network} == network:
            return row
    return None


def earlier_hashes(store: ResultsStore, plan: RunPlan) -> list[str]:
    """The hash column of the run an earlier version's sweep stored for ``plan``'s cell when its training is
    the one ``plan`` makes (the same weights): what the run is adopted by (``faultlab.campaign.identity.bind``)."""
    row = earlier_cell_run(store, plan)
    training = None if row is None else earlier_training(row.get("config") or {})
    same = training is not None and not differences(comparable(training), comparable(plan.config))
    return [row["weights_hash"]] if same and row.get("weights_hash") else []


def _campaign_settings(row: dict) -> dict[str, Any]:
    return {"campaign seed": row["campaign_seed"], "layers": row["layers"], "bn_recalibration": row["bn_recalibration"],
            "eval_subset": (row.get("config") or {}).get("eval_subset")}


def _first(diffs: list[tuple[str, Any, Any]], what: str, written=lambda key: key) -> str | None:
    if not diffs:
        return None
    key, old, new = diffs[0]
    return f"{what} {written(key)} {shown(old)}; this spec has {shown(new)}"


def _written(spec: StudySpec, plan: RunPlan):
    """A fit-config key -> the key of the study that sets it for ``plan`` (``training.trainer.max_epochs``)."""
    i = next((k for k, m in enumerate(spec.methods) if m.name == plan.method.name), "")
    j = next((k for k, a in enumerate(spec.architectures) if a == plan.arch), "")
    return lambda key: study_key(key, f"methods[{i}].fault_aware", f"architectures[{j}]") or key


def run_difference(store: ResultsStore, spec: StudySpec, plan: RunPlan, row: dict) -> str | None:
    """The first number-changing difference between the stored run ``row`` and ``plan``'s run, in words."""
    training = stored_training(row.get("config") or {})
    diffs = [] if training is None else differences(comparable(training), comparable(plan.config))
    if said := _first(diffs, "trained with", _written(spec, plan)):
        return said
    stored_eval = row.get("evaluation") or {}
    by_a_sweep = isinstance(stored_eval.get("data"), dict)  # else evaluated by another door
    if by_a_sweep and (said := _first(differences(stored_eval, evaluation(spec, plan)), "evaluated with")):
        return said
    for c in spec.campaigns:
        mine = {"campaign seed": c.seed, "layers": c.layers.describe(), "bn_recalibration": c.bn_recalibration,
                "eval_subset": c.eval_subset}
        for camp in store.campaigns(row["run_id"]):
            same = camp["fault"] == c.fault and camp["scope"] == c.scope
            if same and (said := _first(differences(_campaign_settings(camp), mine), f"ran {c.fault} with")):
                return said
    return None


def check_against_store(spec: StudySpec, plans: list[RunPlan], store: ResultsStore) -> None:
    """Refuse ``spec`` in one line when a run ``store`` holds for one of its cells differs in what changes its
    numbers (see the module doc)."""
    for plan in plans:
        row = cell_run(store, plan)
        said = None if row is None else run_difference(store, spec, plan, row)
        if said:
            raise IdentityError(f"{store_name(store)} holds study {spec.name!r} run {plan.describe()} {said}: {FIX}")
