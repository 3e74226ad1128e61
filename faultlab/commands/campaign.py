"""``faultlab campaign``: Monte Carlo fault campaign of one checkpoint, every trial into the store.

    faultlab campaign --checkpoint runs/mini_mobilenet/checkpoints/last.ckpt --data mnist5k \\
        --fault 'drop(p={rate})' --rates 0,0.05,0.1,0.2,0.3 --trials 30 --seed 0 --store results/faultlab.sqlite
    faultlab campaign --model torchvision:resnet18 --model-args num_classes=100 --weights resnet18.pt \\
        --data cifar100 --fault 'stuck_at(sa0=0.01,sa1={rate})' --rates 0,0.01,0.02 --trials 30
    faultlab campaign --print_config > campaign.yaml; faultlab campaign --config campaign.yaml --checkpoint ...

The campaign's options are the fields of ``faultlab.campaign.spec.CampaignSpec``, the keys of a study's
``campaigns:`` entries (``--layers.kinds [conv]``, ``--per_layer group``); options take dashes or underscores
and lists take commas. Your own network: --model SPEC (a zoo name, timm:NAME, torchvision:NAME,
package.module:callable or a LightningModule class) and/or --weights FILE (a state_dict .pt/.pth/.safetensors,
a Lightning .ckpt of any LightningModule, a pickled or TorchScript module). Your own data: --data tensors:FILE,
imagefolder:DIR, a built-in name or a LightningDataModule class package.module:Class with --data-args.
"""

from __future__ import annotations

import dataclasses

from faultlab.campaign.spec import CampaignSpec
from faultlab.names import check_name
from faultlab.parsing import add_help, command_parser

from ._guards import check_store_target
from ._types import PositiveInt, Seed, check_device, default_folder, resolve_device

HELP = "Monte Carlo fault campaign of a checkpoint (one store row per trial)"
DEFAULT_STORE = "results/faultlab.sqlite"


def build_parser():
    p = command_parser("faultlab campaign", __doc__)
    p.add_argument("--checkpoint", type=str | None, default=None,
                   help="a Classifier checkpoint (faultlab fit writes last.ckpt)")
    p.add_argument("--data", type=str, default="mnist5k",
                   help="data whose test split is evaluated: a built-in name, tensors:FILE, imagefolder:DIR or a "
                        "LightningDataModule package.module:Class")
    p.add_argument("--data_dir", type=str, default="data", help="folder of downloaded data sets (mnist, cifar10)")
    p.add_class_arguments(CampaignSpec, None, as_group=False)
    add_help(p, CampaignSpec)
    p.add_argument("--study", type=str, default="default", help="study name recorded with the run")
    p.add_argument("--method", type=str | None, default=None,
                   help="training method label (default: from the checkpoint)")
    p.add_argument("--train_seed", type=Seed | None, default=None,
                   help="training seed label (default: from the checkpoint)")
    p.add_argument("--device", type=str, default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--compile", action="store_true", help="torch.compile the model for the passes (~20 s warm-up)")
    p.add_argument("--store", type=str, default=DEFAULT_STORE, help="results store (SQLite file)")
    own = p.add_argument_group("your own model and data (instead of --checkpoint)")
    own.add_argument("--model", type=str | None, default=None,
                     help="a zoo name (resnet20, resnet20-lb[s2b3c2e6]), timm:NAME, torchvision:NAME, "
                          "package.module:callable returning an nn.Module, or a LightningModule class")
    own.add_argument("--weights", type=str | None, default=None,
                     help="state_dict (.pt/.pth/.safetensors), Lightning .ckpt of any LightningModule, or a "
                          "pickled/TorchScript module (loading runs its code: only files you trust)")
    own.add_argument("--model_args", type=str | None, default=None,
                     help="arguments of the model builder: num_classes=100 or '{\"num_classes\": 100}'")
    own.add_argument("--network", type=str | None, default=None,
                     help="attribute holding the network in a LightningModule (default: net, model, network, "
                          "backbone, module, else the module itself)")
    own.add_argument("--data_args", type=str | None, default=None,
                     help="arguments of a built-in data set or of a LightningDataModule class given to --data")
    own.add_argument("--image_size", type=PositiveInt | None, default=None, help="imagefolder: resize to N x N")
    own.add_argument("--normalize", type=str | None, default=None,
                     help="input normalisation of image data: dataset (its own mean/std; none for tensors:), none, "
                          "or [MEAN,STD]; recorded with the run")
    own.add_argument("--metric", type=str | None, default=None,
                     help="a metric beyond top-1 stored per trial: topK (e.g. top5), or a function "
                          "package.module:function (outputs[B, C], labels[B]) -> per-sample values [B]")
    return p


def campaign_spec(cfg) -> CampaignSpec:
    """The campaign of the options given, checked by the one validator (errors name the option)."""
    from faultlab.campaign.spec import validate

    spec = CampaignSpec(**{f.name: cfg[f.name] for f in dataclasses.fields(CampaignSpec)})
    validate(spec, key=lambda name: f"--{name}")  # before anything is loaded or written (and before torch)
    return spec


def run(cfg) -> None:
    spec = campaign_spec(cfg)
    check_name(cfg.study, "--study")  # a study name becomes part of paths (results/<study>.sqlite, reports/)
    check_device(cfg.device)
    device = resolve_device(cfg.device)
    if cfg.store == DEFAULT_STORE:
        default_folder(cfg.store)
    if cfg.model is not None or cfg.weights is not None:
        from .campaign_model import run_own_model

        check_store_target(cfg.store, inputs={"weights": cfg.weights} if cfg.weights else {})
        return run_own_model(cfg, spec, device)
    from faultlab.campaign import CampaignError

    if cfg.checkpoint is None:
        raise CampaignError("give --checkpoint FILE (faultlab fit), or --model SPEC and/or --weights FILE")
    check_store_target(cfg.store, inputs={"checkpoint": cfg.checkpoint})
    from .campaign_model import run_checkpoint

    run_checkpoint(cfg, spec, device)

