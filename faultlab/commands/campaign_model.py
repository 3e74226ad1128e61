"""``faultlab campaign`` on your own network and data (the options are ``commands/campaign.py``'s): the run
through the same front door as ``faultlab.run`` (``faultlab.api.campaign_on``), so both write identical rows.

    faultlab campaign --model torchvision:resnet18 --model-args num_classes=10 --weights resnet18.pt \\
        --data tensors:test.pt --fault 'stuck_at(sa0=0.01,sa1={rate})' --rates 0,0.01 --trials 30
"""

from __future__ import annotations

import argparse


def data_source(args: argparse.Namespace, spec):
    """The test data of ``--data`` (with its options) as a ``faultlab.data.specs.DataSource``."""
    from faultlab._imports import parse_kwargs
    from faultlab.data.specs import resolve_data

    source = resolve_data(args.data, data_args=parse_kwargs(args.data_args, "--data-args"), data_dir=args.data_dir,
                          eval_subset=spec.eval_subset, image_size=args.image_size, normalize=args.normalize)
    if spec.bn_recalibration and source.train_batches is None:
        from faultlab.campaign import CampaignError

        raise CampaignError(f"--bn-recalibration needs training batches, which --data {args.data} has not; "
                            "use a built-in data set or a LightningDataModule")
    return source


def run_own_model(args: argparse.Namespace, spec, device: str) -> None:
    from faultlab._imports import parse_kwargs
    from faultlab.campaign import CampaignError

    if args.checkpoint is not None:
        raise CampaignError("give either --checkpoint (a faultlab fit checkpoint) or --model/--weights, not both")
    from faultlab.api import campaign_on
    from faultlab.campaign.metrics import resolve_metric
    from faultlab.campaign.models import load_model
    from faultlab.store import ResultsStore

    metric = resolve_metric(args.metric)
    model_args = parse_kwargs(args.model_args, "--model-args")
    net = load_model(args.model, args.weights, model_args, args.network)
    source = data_source(args, spec)
    config = {"model": args.model, "model_args": model_args, "weights": args.weights, "network": args.network,
              **source.describe}
    # everything is loaded and checked before the store is opened: a bad input writes nothing
    from faultlab.campaign.models import check_fits

    check_fits(net, source.x, source.y)
    from ._guards import interruptible

    with interruptible(lambda: f"the trials done so far are stored in {args.store}"), ResultsStore(args.store) as store:
        result, run = campaign_on(
            net, (source.x, source.y), spec, store, study=args.study, method=args.method or "vanilla",
            train_seed=args.train_seed, train_data=source.train_batches, metric=metric, device=device,
            progress="auto", run_config=config, checkpoint=args.weights,
        )
    print(f"run {run.run_id} ({run.variant}, {run.method}): clean accuracy {result.clean.accuracy:.4f} "
          f"on {len(source.y)} test samples; {sum(c.new_trials for c in result.cells)} new trials in {args.store}")
