"""One front door for campaigns: a ``Session`` is a trained network opened with its test data, checked
against each other once, and its run identity (study + a hash of the weights); it runs campaigns.

    session = open_checkpoint("runs/mlp/checkpoints/last.ckpt", (x, y), study="demo")   # faultlab fit / sweep
    session = open_model("torchvision:resnet18", "resnet18.pt", (x, y), model_args={"num_classes": 10})
    session = open_network(net, loader)                        # faultlab.run: any nn.Module
    session = open_lightning(lit_module, datamodule)           # the FaultCampaign callback
    result = session.campaign(spec, store)                     # a CampaignResult; the rows are in the store

Every door derives the same run id from the same weights, so they share rows: a checkpoint file, its
network's state_dict under ``--model/--weights``, ``faultlab.run`` on the network, the callback on its
LightningModule and the sweep run that trained it land on one run. Labels (the ``variant`` column) say
what the user named: ``torchvision:resnet18``, ``timm:mobilenetv2_050``, the zoo variant, the
LightningModule's class; a run keeps the labels it was first stored with.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from .identity import file_hash, module_run
from .metrics import NamedMetric, resolve_metric
from .models import ModelError, check_fits, load_model, network_of, source_label
from .progress import ProgressMode
from .scale import WeightScale
from .spec import CampaignError, CampaignSpec, RunInfo

if TYPE_CHECKING:
    import pandas as pd

    from faultlab.store import ResultsStore

    from .engine import CampaignResult

TrainData = Callable[[], Iterable] | Iterable | None  # training batches (BatchNorm recalibration)


@dataclass
class Session:
    """An opened run: the network (eval mode, on its device), the checked test tensors, the run's identity,
    and what its campaigns need besides (training batches, the evaluation weight scale, an extra metric)."""

    net: nn.Module
    x: Tensor
    y: Tensor
    run: RunInfo
    train_data: TrainData = None
    weight_scale: WeightScale | None = None
    metric: NamedMetric | None = None
    forward: Callable[[Tensor], Tensor] | None = None  # e.g. torch.compile(net); must see net's weight changes
    batch_size: int = 1000

    def campaign(self, spec: CampaignSpec, store: ResultsStore, *, progress: ProgressMode = "off",
                 on_trial: Callable[[dict], None] | None = None) -> CampaignResult:
        """Run ``spec`` on this run into ``store`` (resumes: stored trials are not rerun)."""
        from .engine import run_campaign

        return run_campaign(self.net, self.x, self.y, spec, store, self.run, train_batches=self._train_batches(spec),
                            eval_batch_size=self.batch_size, progress=progress, on_trial=on_trial,
                            forward=self.forward, metric=self.metric, weight_scale=self.weight_scale)

    def _train_batches(self, spec: CampaignSpec) -> Iterable | None:
        if not spec.bn_recalibration:
            return None
        if self.train_data is None:
            raise CampaignError("bn_recalibration needs training batches (train_data: a DataLoader, or data with a "
                                "training split)")
        loader = self.train_data() if callable(self.train_data) else self.train_data
        # every trial re-estimates its BatchNorm statistics on the same first batches (a list, not a one-shot
        # generator that later trials would find exhausted)
        return [(xb.to(self.x.device), yb) for xb, yb in itertools.islice(loader, spec.bn_recalibration)]


def campaign_frame(store: ResultsStore, result: CampaignResult, spec: CampaignSpec) -> pd.DataFrame:
    """The trials of ``result``'s campaign as ``faultlab export`` rows (a resumed store may hold more trials
    of it than ``spec`` asks for now: those are left out); ``attrs`` holds the clean accuracy and ids."""
    frame = store.to_frame(result.run.study if result.run else None)
    mine = frame["campaign_id"] == result.campaign_id
    if spec.trials != "auto":
        mine &= frame["trial"] < spec.trials
    frame = frame[mine].reset_index(drop=True)
    frame.attrs.update(clean_accuracy=result.clean.accuracy, campaign_id=result.campaign_id,
                       run_id=result.run.run_id if result.run else None)
    return frame


# ------------------------------------------------------------------------------------ the doors


def _device(net: nn.Module, device: str | torch.device | None) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device is not None:
        return torch.device(device)
    first = next(iter(net.parameters()), None)
    return first.device if first is not None else torch.device("cpu")


def open_network(
    net: nn.Module, data: Any, *, study: str = "default", method: str = "vanilla", train_seed: int | None = None,
    label: str | None = None, architecture: str | None = None, checkpoint: str | None = None,
    config: Mapping[str, Any] | None = None, evaluation: Mapping[str, Any] | None = None,
    legacy_hashes: Sequence[str] = (), metric: str | Callable | NamedMetric | None = None, train_data: TrainData = None,
    weight_scale: WeightScale | None = None, device: str | torch.device | None = None,
    input_shape: Sequence[int] | None = None, channels_last: bool = False, source: str = "the network",
    batch_size: int = 1000,
) -> Session:
    """The door every other opens through: ``data`` as test tensors (``faultlab.data.specs.as_tensors``, or a
    resolved ``DataSource`` with its training batches and description) on the network's device (``device``:
    None = the network's, or "auto"), checked against the network once (``input_shape`` it was trained on
    when known, then one probe pass: class scores above every label), then the run's identity. ``label``: the
    ``variant`` column (default: the zoo or timm name, else the class); ``evaluation``: what the data are, for
    messages; nothing is stored until :meth:`Session.campaign`."""
    from faultlab.data.specs import DataSource, as_tensors

    named_metric = resolve_metric(metric)
    if isinstance(data, DataSource):  # a --data spec resolved: its tensors, training batches and description
        train_data = data.train_batches if train_data is None else train_data
        evaluation = data.describe if evaluation is None else evaluation
        data = (data.x, data.y)
    x, y = as_tensors(data)
    dev = _device(net, device)
    net = net.to(dev)
    x, y = x.to(dev), y.to(dev)
    first = next(iter(net.parameters()), None)
    if x.is_floating_point() and first is not None and x.dtype != first.dtype and first.dtype == torch.float32:
        x = x.float()  # e.g. float64 arrays from an .npz
    got = tuple(int(s) for s in x.shape[1:])
    if input_shape is not None and tuple(int(s) for s in input_shape) != got:
        raise ModelError(f"{source} was trained on inputs of shape {tuple(int(s) for s in input_shape)}, but the "
                         f"test data have {got}; pass the data set it was trained on")
    check_fits(net, x, y)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    run = module_run(net, study, method, train_seed, checkpoint, dict(config or {}), architecture, label,
                     dict(evaluation or {}), tuple(legacy_hashes))
    return Session(net.eval(), x, y, run, train_data, weight_scale, named_metric, batch_size=batch_size)


def open_checkpoint(
    path: str | Path, data: Any, *, study: str = "default", method: str | None = None,
    train_seed: int | None = None, label: str | None = None, architecture: str | None = None,
    config: Mapping[str, Any] | None = None, legacy_hashes: Sequence[str] | None = None, device: str = "cpu",
    **options: Any,
) -> Session:
    """A ``faultlab fit`` / sweep checkpoint (a ``Classifier``): method, training seed, label, architecture and
    config default to its hyperparameters; its input shape is checked; a network trained with ``rescale:
    true`` is evaluated with its weight scale. ``data`` may be a zero-argument callable, called after the
    checkpoint loaded (a bad checkpoint fails before a long data load). ``legacy_hashes`` default to the
    file's hash (what a store before migration 0004 knows the run by). ``options``: those of
    :func:`open_network`."""
    import json

    from faultlab.training import load_classifier

    from .checkpoint import eval_weight_scale, record_weight_scale

    classifier = load_classifier(str(path), map_location=device)
    h = classifier.hparams
    stored = json.loads(json.dumps(dict(h), default=str)) if config is None else dict(config)
    return open_network(
        classifier.net, data() if callable(data) else data, study=study, method=method or classifier.method,
        train_seed=train_seed if train_seed is not None else h.get("train_seed"),
        label=label or classifier.variant, architecture=architecture or h.get("arch"), checkpoint=str(path),
        config=record_weight_scale(classifier, stored), weight_scale=eval_weight_scale(classifier),
        legacy_hashes=(file_hash(path),) if legacy_hashes is None else legacy_hashes,
        input_shape=h.get("input_shape"), channels_last=classifier.channels_last, source=str(path), **options)


def open_model(
    model: str | None, weights: str | Path | None, data: Any, *, model_args: Mapping[str, Any] | None = None,
    network: str | None = None, **options: Any,
) -> Session:
    """``faultlab campaign --model SPEC --weights FILE``: the network built and loaded by
    :func:`~faultlab.campaign.models.load_model`, labelled by what was named (``torchvision:resnet18``, the zoo
    variant, a LightningModule's class, ``package.module:callable``). ``options``: those of :func:`open_network`."""
    net = load_model(model, weights, model_args, network)
    label = source_label(model, net)
    weights = None if weights is None else str(weights)
    config = {"model": model, "model_args": dict(model_args or {}), "weights": weights, "network": network}
    options.setdefault("checkpoint", weights)
    return open_network(net, data, label=label, architecture=label, config=config, **options)


def open_lightning(module: nn.Module, data: Any, *, network: str | None = None, method: str | None = None,
                   train_seed: int | None = None, label: str | None = None, **options: Any) -> Session:
    """A LightningModule (``FaultCampaign``): its network at ``network`` (else ``net``, ``model``, ``network``,
    ``backbone``, ``module``, else the module itself), labelled by the module's class; faultlab's own
    ``Classifier`` keeps its variant, method, training seed and weight scale. ``options``: those of
    :func:`open_network`."""
    from .checkpoint import eval_weight_scale

    net = network_of(module, network)
    own = getattr(module, "variant", None) is not None and hasattr(module, "eval_weight_scale")  # a Classifier
    hparams = getattr(module, "hparams", None) or {}
    if own:
        method = method or module.method
        train_seed = train_seed if train_seed is not None else hparams.get("train_seed")
        options.setdefault("weight_scale", eval_weight_scale(module))
    return open_network(net, data, method=method or "vanilla", train_seed=train_seed,
                        label=label or (module.variant if own else type(module).__name__),
                        architecture=hparams.get("arch") if own else type(module).__name__, **options)
