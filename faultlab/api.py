"""``faultlab.run``: a campaign on any network and data in one call, the trials back as a DataFrame.

    import faultlab, torch, torchvision
    net = torchvision.models.resnet18(num_classes=10)
    net.load_state_dict(torch.load("resnet18.pt"))
    df = faultlab.run(net, (x, y), fault="stuck_at(sa0=0.01,sa1={rate})", rates=[0, 0.01, 0.02], trials=30)
    df.groupby("rate").accuracy.mean()

The same engine as ``faultlab campaign`` (``faultlab.campaign.run_campaign``), the same run identity
(architecture from the class, run id from a hash of the weights), so the rows equal the CLI's for the
same network, data, fault and seed; the frame has the columns of ``faultlab export``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd
    from torch import Tensor, nn

    from faultlab.campaign import CampaignResult, CampaignSpec, RunInfo
    from faultlab.campaign.metrics import NamedMetric
    from faultlab.store import ResultsStore


def _device(model: nn.Module, device: str | None):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device is not None:
        return torch.device(device)
    first = next(iter(model.parameters()), None)
    return first.device if first is not None else torch.device("cpu")


def prepare(model: nn.Module, data: Any, spec: CampaignSpec, metric: str | Callable | None = None,
            device: str | None = None) -> tuple[nn.Module, Tensor, Tensor, NamedMetric | None]:
    """Everything that can fail on the user's input, before a store is opened: the spec, the metric, the
    data as tensors on the model's device, and one forward pass checking that they fit the model."""
    import torch

    from faultlab.campaign import validate
    from faultlab.campaign.metrics import resolve_metric
    from faultlab.campaign.models import check_fits
    from faultlab.data.specs import as_tensors

    validate(spec)
    named_metric = resolve_metric(metric)
    x, y = as_tensors(data)
    dev = _device(model, device)
    model = model.to(dev)
    x, y = x.to(dev), y.to(dev)
    first = next(iter(model.parameters()), None)
    if x.is_floating_point() and first is not None and x.dtype != first.dtype and first.dtype == torch.float32:
        x = x.float()  # e.g. float64 arrays from an .npz
    check_fits(model, x, y)
    return model, x, y, named_metric


def campaign_on(
    model: nn.Module, data: Any, spec: CampaignSpec, store: ResultsStore, run: RunInfo | None = None, *,
    study: str = "default", method: str = "vanilla", train_seed: int | None = None, train_data: Any = None,
    metric: str | Callable | None = None, device: str | None = None, batch_size: int = 1000,
    progress: Literal["auto", "bar", "lines", "off"] = "off", run_config: dict | None = None,
    checkpoint: str | None = None,
) -> tuple[CampaignResult, RunInfo]:
    """The shared front door of ``faultlab.run``, ``faultlab campaign --model`` and the Lightning callback:
    validate (``prepare``), derive the run identity, run the engine."""
    from faultlab.campaign import CampaignError, run_campaign
    from faultlab.campaign.identity import module_run
    from faultlab.names import check_name

    check_name(study, "study")  # a study name becomes part of paths (results/<study>.sqlite, reports/)
    model, x, y, named_metric = prepare(model, data, spec, metric, device)
    if run is None:
        run = module_run(model, study, method, train_seed, checkpoint=checkpoint, config=run_config)
    train = None
    if spec.bn_recalibration:
        if train_data is None:
            raise CampaignError("bn_recalibration needs train_data (a DataLoader of training batches)")
        loader = train_data() if callable(train_data) else train_data
        train = ((xb.to(x.device), yb) for xb, yb in loader)
    result = run_campaign(model, x, y, spec, store, run, train_batches=train, eval_batch_size=batch_size,
                          progress=progress, metric=named_metric)
    return result, run


def run(
    model: nn.Module,
    data: Any,
    fault: str,
    rates: Sequence[float] = (),
    store: str | Path | ResultsStore | None = None,
    *,
    metric: str | Callable | None = None,
    study: str = "default",
    method: str = "vanilla",
    train_seed: int | None = None,
    train_data: Any = None,
    device: str | None = None,
    batch_size: int = 1000,
    progress: Literal["auto", "bar", "lines", "off"] = "off",
    **campaign: Any,
) -> pd.DataFrame:
    """Run a fault campaign of ``model`` on ``data``; return one row per trial (``faultlab export``'s columns).

    data: ``(x, y)`` tensors, a DataLoader (any iterable of (x, y) batches), a Dataset, a
    LightningDataModule (its test dataloader) or a ``faultlab campaign --data`` spec (``"tensors:FILE"``).
    fault: a template with ``{rate}``. rates: values in [0, 1]. store: a SQLite path (created, or resumed:
    stored trials are not rerun) or an open ``ResultsStore``; None keeps the rows in memory.
    campaign: any ``CampaignSpec`` field, with its defaults: ``trials`` (per rate, or ``"auto"``), ``seed``
    (keys every fault map), ``layers`` (a ``LayerSelector`` or layer kinds), ``per_layer``, ``equal_count``,
    ``bn_recalibration`` (needs ``train_data``), ``trials_per_pass``, ``eval_subset``, ...
    metric: ``"top5"`` (any ``topK``) or ``fn(outputs[B, C], y[B]) -> [B]`` per-sample values, averaged per
    trial into the ``metric`` column. device: None = the model's.
    """
    from faultlab.campaign import CampaignError, campaign_spec
    from faultlab.store import ResultsStore

    spec = campaign_spec(fault, rates, **campaign)
    if spec.bn_recalibration and train_data is None:
        raise CampaignError("bn_recalibration needs train_data (a DataLoader of training batches)")
    model, x, y, named_metric = prepare(model, data, spec, metric, device)  # bad input: nothing is written
    owned = not isinstance(store, ResultsStore)
    opened = ResultsStore(":memory:" if store is None else store) if owned else store
    try:
        result, _ = campaign_on(model, (x, y), spec, opened, study=study, method=method, train_seed=train_seed,
                                train_data=train_data, metric=named_metric, batch_size=batch_size,
                                progress=progress)
        frame = opened.to_frame(study)
    finally:
        if owned:
            opened.close()
    mine = frame["campaign_id"] == result.campaign_id
    if spec.trials != "auto":  # a resumed store may hold more trials of this campaign than asked for now
        mine &= frame["trial"] < spec.trials
    frame = frame[mine].reset_index(drop=True)
    frame.attrs.update(clean_accuracy=result.clean.accuracy, campaign_id=result.campaign_id)
    return frame
