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
    from faultlab.selector import LayerSelector
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
    rates: Sequence[float],
    trials: int | Literal["auto"] = 30,
    seed: int = 0,
    store: str | Path | ResultsStore | None = None,
    *,
    layers: LayerSelector | Sequence[str] | None = None,
    per_layer: bool | Literal["layer", "group"] = False,
    metric: str | Callable | None = None,
    study: str = "default",
    method: str = "vanilla",
    train_seed: int | None = None,
    bn_recalibration: int = 0,
    train_data: Any = None,
    device: str | None = None,
    batch_size: int = 1000,
    trials_per_pass: int | None = None,
    progress: Literal["auto", "bar", "lines", "off"] = "off",
) -> pd.DataFrame:
    """Run a fault campaign of ``model`` on ``data``; return one row per trial (``faultlab export``'s columns).

    data: ``(x, y)`` tensors, a DataLoader (any iterable of (x, y) batches), a Dataset, a
    LightningDataModule (its test dataloader) or a ``faultlab campaign --data`` spec (``"tensors:FILE"``).
    fault: a template with ``{rate}``. rates: values in [0, 1].
    trials: per rate, or ``"auto"`` (until the 95 % CI half-width of the mean is 0.005). seed: keys every
    fault map. store: a SQLite path (created, or resumed: stored trials are not rerun) or an open
    ``ResultsStore``; None keeps the rows in memory. layers: a ``LayerSelector`` or layer kinds
    (default conv and linear). metric: ``"top5"`` (any ``topK``) or ``fn(outputs[B, C], y[B]) -> [B]``
    per-sample values, averaged per trial into the ``metric`` column. device: None = the model's.
    trials_per_pass: fault maps per forward pass (None: as many as pay, see ``auto_trials_per_pass``).
    """
    from faultlab.campaign import CampaignSpec
    from faultlab.selector import LayerSelector
    from faultlab.store import ResultsStore

    if layers is None:
        layers = LayerSelector()
    elif not isinstance(layers, LayerSelector):
        layers = LayerSelector(tuple(layers))
    spec = CampaignSpec(fault=fault, rates=list(rates), trials=trials, seed=seed, layers=layers, per_layer=per_layer,
                        bn_recalibration=bn_recalibration, trials_per_pass=trials_per_pass)
    if bn_recalibration and train_data is None:
        from faultlab.campaign import CampaignError

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
    if trials != "auto":  # a resumed store may hold more trials of this campaign than asked for now
        mine &= frame["trial"] < trials
    frame = frame[mine].reset_index(drop=True)
    frame.attrs.update(clean_accuracy=result.clean.accuracy, campaign_id=result.campaign_id)
    return frame
