"""``faultlab campaign``: Monte Carlo fault campaign of one checkpoint, every trial into the store.

    faultlab campaign --checkpoint runs/mini_mobilenet/checkpoints/last.ckpt --data mnist5k \\
        --fault 'drop(p={rate})' --rates 0,0.05,0.1,0.2,0.3 --trials 30 --seed 0 --store results/faultlab.sqlite
    faultlab campaign --model torchvision:resnet18 --model-args num_classes=100 --weights resnet18.pt \\
        --data cifar100 --fault 'stuck_at(sa0=0.01,sa1={rate})' --rates 0,0.01,0.02 --trials 30

Your own network: --model SPEC (a zoo name, timm:NAME, torchvision:NAME, package.module:callable or a
LightningModule class) and/or --weights FILE (a state_dict .pt/.pth/.safetensors, a Lightning .ckpt of any
LightningModule, a pickled or TorchScript module). Your own data: --data tensors:FILE, imagefolder:DIR,
a built-in name or a LightningDataModule class package.module:Class with --data-args.
"""

from __future__ import annotations

import argparse
import dataclasses

from ._guards import check_store_target, interruptible
from ._options import (
    add_store_option,
    count,
    count_list,
    device,
    float_in,
    int_in,
    non_negative,
    rate_list,
    resolve_device,
    seed,
    str_list,
    trials_arg,
)
from .campaign_model import add_own_model_options, data_source, run_own_model

HELP = "Monte Carlo fault campaign of a checkpoint (one store row per trial)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("campaign", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="a Classifier checkpoint (faultlab fit writes last.ckpt)")
    p.add_argument("--data", default="mnist5k",
                   help="data whose test split is evaluated: a built-in name (default mnist5k), tensors:FILE, "
                        "imagefolder:DIR or a LightningDataModule package.module:Class")
    p.add_argument("--data-dir", default="data", help="folder of downloaded data sets (mnist, cifar10)")
    p.add_argument("--eval-subset", type=count, default=None, help="evaluate only the first N test samples")
    p.add_argument("--fault", required=True, help="fault template with {rate}, e.g. 'stuck_at(sa0=0.01,sa1={rate})'")
    p.add_argument("--rates", type=rate_list, default=None,
                   help="comma-separated rates in [0, 1] (required unless --equal-count)")
    p.add_argument("--trials", type=trials_arg, default=20, help="trials per rate, or 'auto' (default 20)")
    p.add_argument("--ci-halfwidth", type=float_in(0.0, 1.0, lo_open=True), default=0.005,
                   help="auto trials: target 95%% CI half-width")
    p.add_argument("--min-trials", type=int_in(2), default=30, help="auto trials: minimum per rate")
    p.add_argument("--max-trials", type=count, default=500, help="auto trials: maximum per rate")
    p.add_argument("--seed", type=seed, default=0, help="campaign seed (fault maps are keyed by it)")
    p.add_argument("--kinds", type=str_list, default=["conv", "linear"],
                   help="layer kinds: conv, depthwise, pointwise, conv3x3, linear (default conv,linear)")
    p.add_argument("--include", type=str_list, default=None, help="fnmatch patterns of layer names to include")
    p.add_argument("--exclude", type=str_list, default=None, help="fnmatch patterns of layer names to exclude")
    p.add_argument("--no-first", action="store_true", help="leave the first layer (stem) clean")
    p.add_argument("--no-last", action="store_true", help="leave the last layer (classifier) clean")
    p.add_argument("--bias", action=argparse.BooleanOptionalAction, default=None,
                   help="fault each layer's bias as one more crossbar row sharing its scale (--no-bias: biases "
                        "stay exact; default: as the fault's device preset says, exact otherwise)")
    p.add_argument("--bn-recalibration", type=non_negative, default=0,
                   help="re-estimate BatchNorm statistics under each fault map on N training batches (default off)")
    p.add_argument("--per-layer", nargs="?", const="layer", default=False, choices=["layer", "group"],
                   help="sensitivity: fault each selected layer alone (rows carry the layer name), or with "
                        "'group' each layer group (stem, depthwise, pointwise, conv3x3, conv, linear, classifier)")
    p.add_argument("--equal-count", type=count_list, default=None, metavar="K[,K...]",
                   help="with --per-layer: fault exactly K weights per layer (or group) instead of sweeping rates")
    p.add_argument("--no-prefix-cache", action="store_true",
                   help="per-layer: run full passes instead of reusing the clean activations upstream of the layer")
    p.add_argument("--trials-per-pass", type=count, default=None, help="fault maps per forward pass (default auto)")
    p.add_argument("--study", default="default", help="study name recorded with the run (default 'default')")
    p.add_argument("--method", default=None, help="training method label (default: from the checkpoint)")
    p.add_argument("--train-seed", type=seed, default=None, help="training seed label (default: from the checkpoint)")
    p.add_argument("--device", type=device, default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model for the passes (~20 s warm-up)")
    add_store_option(p)
    add_own_model_options(p)


def run(args: argparse.Namespace) -> None:
    import torch

    from faultlab.campaign import CampaignError, CampaignSpec, run_campaign, validate
    from faultlab.injection import LayerSelector
    from faultlab.store import ResultsStore

    if args.rates is None and args.equal_count is None:
        raise CampaignError("--rates is required (or --equal-count K with --per-layer)")
    spec = CampaignSpec(
        fault=args.fault, rates=args.rates or [], trials=args.trials, seed=args.seed,
        layers=LayerSelector(tuple(args.kinds), tuple(args.include) if args.include else None,
                             tuple(args.exclude) if args.exclude else None, not args.no_first, not args.no_last,
                             args.bias),
        ci_halfwidth=args.ci_halfwidth, min_trials=args.min_trials, max_trials=args.max_trials,
        bn_recalibration=args.bn_recalibration, trials_per_pass=args.trials_per_pass, per_layer=args.per_layer,
        equal_count=args.equal_count, prefix_cache=not args.no_prefix_cache,
    )
    validate(spec)  # before loading anything or touching the store (and before Lightning is imported)
    device = resolve_device(args.device)
    if args.model is not None or args.weights is not None:
        check_store_target(args.store, inputs={"weights": args.weights} if args.weights else {})
        return run_own_model(args, spec, device)
    if args.checkpoint is None:
        raise CampaignError("give --checkpoint FILE (faultlab fit), or --model SPEC and/or --weights FILE")
    check_store_target(args.store, inputs={"checkpoint": args.checkpoint})
    from faultlab.campaign.checkpoint import check_data, eval_weight_scale, load_run
    from faultlab.campaign.metrics import resolve_metric

    metric = resolve_metric(args.metric)
    classifier, info = load_run(args.checkpoint, args.study, args.method, args.train_seed, device)
    source = data_source(args)
    info = dataclasses.replace(info, config={**info.config, "evaluation_data": source.describe})  # normalize etc.
    x, y = source.x, source.y
    check_data(classifier, x, y, args.data, args.checkpoint)  # a moons net on mnist5k fails here, not in a pass
    x, y = x.to(device), y.to(device)
    if classifier.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    net = classifier.net
    forward = torch.compile(net) if args.compile else None
    train = ((xb.to(device), yb) for xb, yb in source.train_batches()) if args.bn_recalibration else None
    with interruptible(lambda: stored_trials(args.store, info.run_id)), ResultsStore(args.store) as store:
        result = run_campaign(net, x, y, spec, store, info, train_batches=train, forward=forward, metric=metric,
                              weight_scale=eval_weight_scale(classifier))
    print(f"run {info.run_id} ({info.variant}, {info.method}): clean accuracy {result.clean.accuracy:.4f} "
          f"on {len(y)} test samples; {sum(c.new_trials for c in result.cells)} new trials in {args.store}")


def stored_trials(store: str, run_id: str) -> str:
    """What an interrupted campaign leaves: the run's trials in the store."""
    from faultlab.store import ResultsStore

    with ResultsStore(store, read_only=True) as s:
        return f"{s.count_trials(run_id=run_id)} trials of run {run_id} are stored in {store}"
