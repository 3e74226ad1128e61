"""``faultlab.run``: a campaign on any network and data in one call, the trials back as a DataFrame.

    import faultlab, torch, torchvision
    net = torchvision.models.resnet18(num_classes=10)
    net.load_state_dict(torch.load("resnet18.pt"))
    df = faultlab.run(net, (x, y), fault="stuck_at(sa0=0.01,sa1={rate})", rates=[0, 0.01, 0.02], trials=30)
    df.groupby("rate").accuracy.mean()

The same front door as ``faultlab campaign`` (``faultlab.campaign.session``), the same run identity (study
plus a hash of the weights), so the rows equal the CLI's for the same network, data, fault and seed; the
frame has the columns of ``faultlab export``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

    from faultlab.store import ResultsStore


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
    label: str | None = None,
    train_data: Any = None,
    device: str | None = None,
    batch_size: int = 1000,
    progress: Literal["auto", "bar", "lines", "off"] = "auto",
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
    trial into the ``metric`` column. device: None = the model's. label: what the rows call the network
    (``variant``; default: its zoo or timm name, else its class). The run id is (study, a hash of the
    weights), as for every other door (``faultlab.campaign.session``).
    progress: ``"auto"`` shows a bar (a widget in
    a notebook, a bar on a terminal) and keeps one line per rate (mean accuracy and 95 % CI), plain lines when
    not a terminal; ``"off"`` is silent (``faultlab.campaign.progress.Progress``).
    """
    from faultlab.campaign import CampaignError, campaign_spec, validate
    from faultlab.campaign.session import campaign_frame, open_network
    from faultlab.names import check_name
    from faultlab.store import ResultsStore

    check_name(study, "study")  # a study name becomes part of paths (results/<study>.sqlite, reports/)
    spec = campaign_spec(fault, rates, **campaign)
    validate(spec)
    if spec.bn_recalibration and train_data is None:
        raise CampaignError("bn_recalibration needs train_data (a DataLoader of training batches)")
    session = open_network(model, data, study=study, method=method, train_seed=train_seed, label=label,
                           metric=metric, train_data=train_data, device=device, batch_size=batch_size)
    owned = not isinstance(store, ResultsStore)  # bad input above: nothing was written
    opened = ResultsStore(":memory:" if store is None else store) if owned else store
    try:
        result = session.campaign(spec, opened, progress=progress)
        return campaign_frame(opened, result, spec)
    finally:
        if owned:
            opened.close()
