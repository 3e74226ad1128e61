"""The identity of any ``nn.Module`` in the store, derived rather than typed: its architecture from the
class (or the ``variant`` the zoo and timm builders set) and a hash of its weights.

    run = module_run(net, study="default")     # RunInfo(run_id=..., architecture="ResNet", ...)

The same weights give the same run id however they reached the process (a state_dict, a Lightning
checkpoint, a pickled module, a network built in Python), so the CLI and ``faultlab.run`` share rows.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

from faultlab.faults import fault_seed

from .spec import RunInfo

HASH_LENGTH = 16  # hex digits kept, as for checkpoint file hashes


def weights_hash(model: nn.Module, length: int = HASH_LENGTH) -> str:
    """SHA-256 over the state_dict in key order: each entry's name, dtype, shape and bytes (memory
    format and device do not matter: a channels_last or CUDA copy hashes like the CPU original)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if not isinstance(tensor, torch.Tensor):
            continue
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:length]


def architecture_name(model: nn.Module) -> tuple[str, str]:
    """(architecture, variant): the class name, and the variant name the zoo builder set (``resnet20-lb[...]``)
    or timm recorded (``timm:<name>``, from the model's ``pretrained_cfg``); else the class name again."""
    arch = type(model).__name__
    variant = getattr(model, "variant", None)
    timm_cfg = getattr(model, "pretrained_cfg", None)
    if variant is None and isinstance(timm_cfg, dict) and timm_cfg.get("architecture"):
        variant = f"timm:{timm_cfg['architecture']}"
    return arch, str(variant or arch)


def module_run(
    model: nn.Module, study: str = "default", method: str = "vanilla", train_seed: int | None = None,
    checkpoint: str | None = None, config: dict[str, Any] | None = None, architecture: str | None = None,
) -> RunInfo:
    """A ``RunInfo`` for ``model``: run id = keyed hash of (study, weights hash), as ``load_run`` keys a
    checkpoint by (study, file hash); ``architecture`` overrides the class name when given."""
    digest = weights_hash(model)
    arch, variant = architecture_name(model)
    return RunInfo(
        run_id=f"{fault_seed(study, digest):016x}", study=study, architecture=architecture or arch,
        variant=variant, method=method, train_seed=train_seed, checkpoint=checkpoint, checkpoint_hash=digest,
        config=config or {},
    )
