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

from faultlab.campaign.spec import CampaignSpec
from faultlab.names import check_name

from ._guards import check_store_target
from ._options import add_dataclass_options, add_store_option, dataclass_from_args, device, flag, resolve_device, seed
from .campaign_model import add_own_model_options, run_checkpoint, run_own_model

HELP = "Monte Carlo fault campaign of a checkpoint (one store row per trial)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("campaign", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="a Classifier checkpoint (faultlab fit writes last.ckpt)")
    p.add_argument("--data", default="mnist5k",
                   help="data whose test split is evaluated: a built-in name (default mnist5k), tensors:FILE, "
                        "imagefolder:DIR or a LightningDataModule package.module:Class")
    p.add_argument("--data-dir", default="data", help="folder of downloaded data sets (mnist, cifar10)")
    spec = p.add_argument_group("the campaign (faultlab.campaign.spec.CampaignSpec; the same keys as a study's "
                                "campaigns: entries)")
    p.set_defaults(spec_dests=add_dataclass_options(spec, CampaignSpec))
    p.add_argument("--study", default="default", help="study name recorded with the run (default 'default')")
    p.add_argument("--method", default=None, help="training method label (default: from the checkpoint)")
    p.add_argument("--train-seed", type=seed, default=None, help="training seed label (default: from the checkpoint)")
    p.add_argument("--device", type=device, default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model for the passes (~20 s warm-up)")
    add_store_option(p)
    add_own_model_options(p)


def campaign_spec(args: argparse.Namespace) -> CampaignSpec:
    """The campaign of the flags given, checked by the one validator (errors name the flag)."""
    from faultlab.campaign.spec import validate

    spec = dataclass_from_args(CampaignSpec, args, args.spec_dests)
    validate(spec, key=flag)  # before loading anything or touching the store (and before torch is imported)
    return spec


def run(args: argparse.Namespace) -> None:
    from faultlab.campaign import CampaignError

    spec = campaign_spec(args)
    check_name(args.study, "--study")  # a study name becomes part of paths (results/<study>.sqlite, reports/)
    device = resolve_device(args.device)
    if args.model is not None or args.weights is not None:
        check_store_target(args.store, inputs={"weights": args.weights} if args.weights else {})
        return run_own_model(args, spec, device)
    if args.checkpoint is None:
        raise CampaignError("give --checkpoint FILE (faultlab fit), or --model SPEC and/or --weights FILE")
    check_store_target(args.store, inputs={"checkpoint": args.checkpoint})
    run_checkpoint(args, spec, device)
