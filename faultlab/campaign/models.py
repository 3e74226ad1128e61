"""Any network for a campaign: built from a spec, loaded from a weights file, checked against the data.

    net = build_model("torchvision:resnet18", {"num_classes": 10})
    net = load_model("torchvision:resnet18", "weights.pt", {"num_classes": 10})
    check_fits(net, x[:2], y)            # one-line ModelError if the data do not fit the network

SPEC: a zoo name (``resnet20``, ``resnet20-lb[s2b3c2e6]``), ``timm:NAME``, ``torchvision:NAME``, or
``package.module:callable`` returning an ``nn.Module`` (a LightningModule class: ``load_from_checkpoint``).
FILE: a state_dict (``.pt``/``.pth``/``.safetensors``), a Lightning ``.ckpt`` of any LightningModule (its
``state_dict``, matched to the network by key prefix, e.g. ``net.`` or ``model.backbone.``), or a whole
pickled or TorchScript module (TorchScript: with a SPEC to rebuild the network, since the layers of a
scripted module are not ``nn.Conv2d``/``nn.Linear``). A pickled module runs the file's code when loaded:
load only files you trust.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from faultlab import FaultlabError
from faultlab._imports import import_object, is_object_path

TIMM, TORCHVISION = "timm:", "torchvision:"
NETWORK_ATTRIBUTES = ("net", "model", "network", "backbone", "module")  # where a LightningModule keeps its net
_LISTED = 3  # keys named in a mismatch message
_BENIGN_MISSING = ("num_batches_tracked",)  # BatchNorm counters older files lack; unused in eval mode


class ModelError(FaultlabError):
    """A network cannot be built, loaded or fed the data; the message is one line."""


# ------------------------------------------------------------------------------------ building


def build_model(spec: str, model_args: Mapping[str, Any] | None = None) -> nn.Module:
    """The network named by ``spec`` (see the module doc), with ``model_args`` as its arguments."""
    args = dict(model_args or {})
    if spec.startswith(TORCHVISION):
        return _torchvision(spec[len(TORCHVISION):], args)
    if is_user_path(spec):
        factory = import_object(spec, "model")
        if not callable(factory):
            raise ModelError(f"model {spec!r} is a {type(factory).__name__}, not a callable returning an nn.Module")
        try:
            net = factory(**args)
        except TypeError as err:
            raise ModelError(f"model {spec!r}: {err} (check --model-args)") from err
        if not isinstance(net, nn.Module):
            raise ModelError(f"model {spec!r} returned a {type(net).__name__}, not an nn.Module")
        return net
    import architectures

    if not spec.startswith(TIMM) and not architectures.is_model(spec):
        elsewhere = _library_names(spec)
        if elsewhere:  # a bare torchvision or timm name, e.g. resnet18
            raise ModelError(f"unknown model {spec!r}: not in faultlab's zoo; did you mean {' or '.join(elsewhere)}?")
    try:
        return architectures.build(spec, **args)
    except (ValueError, TypeError) as err:  # UnknownArchitectureError (did-you-mean), bad arguments
        hint = "" if spec.startswith(TIMM) else ", 'torchvision:<name>' or 'package.module:callable'"
        raise ModelError(f"{str(err).splitlines()[0]}{hint}") from err


def _library_names(name: str) -> list[str]:
    """``torchvision:NAME`` and ``timm:NAME`` where those libraries have a model ``name``."""
    import torchvision

    found = [TORCHVISION + name] if name in torchvision.models.list_models() else []
    try:
        import timm
    except ImportError:
        return found
    return found + ([TIMM + name] if timm.is_model(name) else [])


def source_label(spec: str | None, net: nn.Module) -> str:
    """What a ``--model SPEC`` network is called in the store (the ``variant`` column): the SPEC as named
    (``torchvision:resnet18``, ``timm:mobilenetv2_050``, ``package.module:callable``), a zoo network's variant
    (``resnet20-lb[s2b3c2e6]``), a LightningModule class's name; without SPEC, the loaded module's name."""
    from .identity import architecture_name

    if spec is None:
        return architecture_name(net)[1]
    if is_user_path(spec):
        obj = import_object(spec, "model")
        return obj.__name__ if is_lightning_class(obj) else spec
    if spec.startswith((TIMM, TORCHVISION)):
        return spec
    return str(getattr(net, "variant", spec))


def _torchvision(name: str, args: dict) -> nn.Module:
    import torchvision

    known = torchvision.models.list_models()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(TORCHVISION + c for c in close)}?)" if close else ""
        raise ModelError(f"unknown torchvision model {name!r}{hint}")
    if args.get("weights") not in (None, "none", "None"):
        raise ModelError("torchvision weights are not downloaded here; save them and pass --weights FILE")
    args.pop("weights", None)
    try:
        net = torchvision.models.get_model(name, weights=None, **args)
    except TypeError as err:
        raise ModelError(f"torchvision:{name}: {err} (check --model-args)") from err
    return net  # no variant attribute: the run identity must not depend on which door built the network


def is_user_path(spec: str) -> bool:
    """Whether ``spec`` names user code (``package.module:name``) rather than ``timm:``/``torchvision:``."""
    return is_object_path(spec) and not spec.startswith((TIMM, TORCHVISION))


def is_lightning_class(obj: Any) -> bool:
    return inspect.isclass(obj) and hasattr(obj, "load_from_checkpoint") and issubclass(obj, nn.Module)


# ------------------------------------------------------------------------------------ loading


def read_weights(path: str | Path) -> Any:
    """The contents of a weights file: a state_dict, a checkpoint dict or an ``nn.Module``."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as err:
            raise ModelError("reading .safetensors needs the safetensors package (pip install safetensors)") from err
        return load_file(str(path))
    if _is_torchscript(path):
        with warnings.catch_warnings():  # torch 2.10+ calls TorchScript deprecated; the user's file is what it is
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(path), map_location="cpu")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001  a pickled module or a checkpoint with Python objects in its hyperparameters
        pass
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001  (an unreadable file is one user-facing line)
        raise ModelError(f"cannot read {path} as PyTorch weights: {type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}") from err


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.split("/", 1)[-1].startswith("code/") for n in z.namelist())


def _state_dict_of(content: Any, path: Path) -> dict[str, Tensor]:
    if isinstance(content, nn.Module):
        return content.state_dict()
    if isinstance(content, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(content.get(key), Mapping):
                return dict(content[key])
        if all(isinstance(v, Tensor) for v in content.values()):
            return dict(content)
    raise ModelError(f"{path} holds a {type(content).__name__} without a state_dict; expected a state_dict, "
                     "a Lightning checkpoint or a saved nn.Module")


def _prefix(expected: list[str], found: list[str]) -> str:
    """The key prefix under which ``found`` holds the network whose keys are ``expected`` (``""``,
    ``"net."``, ``"model.backbone."``, ``"module."``): the candidate that matches the most keys."""
    expected_set = set(expected)
    candidates = {""}
    anchors = [k for k in expected if not k.endswith(_BENIGN_MISSING)][:8]
    for key in found:
        for anchor in anchors:
            if key.endswith("." + anchor):
                candidates.add(key[: -len(anchor)])
    def matches(prefix: str) -> int:
        return sum(1 for k in found if k.startswith(prefix) and k[len(prefix):] in expected_set)

    return max(sorted(candidates), key=matches)


def _listed(keys: list[str]) -> str:
    more = f" (+{len(keys) - _LISTED} more)" if len(keys) > _LISTED else ""
    return ", ".join(keys[:_LISTED]) + more


def fit_state_dict(net: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """Load ``state`` into ``net`` (after stripping the prefix it holds the network under), or raise one
    line naming the first mismatched keys and shapes."""
    expected = net.state_dict()
    prefix = _prefix(list(expected), list(state))
    state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    missing = [k for k in expected if k not in state and not k.endswith(_BENIGN_MISSING)]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {list(v.shape)} in file vs {list(expected[k].shape)} in model" for k, v in state.items()
              if k in expected and isinstance(v, Tensor) and v.shape != expected[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append(f"shape {_listed(shapes)}")
        if missing:
            parts.append(f"missing {_listed(missing)}")
        if unexpected:
            parts.append(f"unexpected {_listed(unexpected)}")
        hint = "; check --model and --model-args (e.g. num_classes)" if shapes and not missing else \
            "; the file holds another architecture, check --model"
        raise ModelError(f"weights {source} do not fit {type(net).__name__}: {'; '.join(parts)}{hint}")
    net.load_state_dict(state, strict=False)


def network_of(module: nn.Module, attribute: str | None = None) -> nn.Module:
    """The network inside a LightningModule: ``attribute`` if given, else the first of
    ``NETWORK_ATTRIBUTES`` holding an ``nn.Module``, else the module itself (its ``forward``)."""
    if attribute is not None:
        net = module
        for part in attribute.split("."):
            if not hasattr(net, part):
                raise ModelError(f"{type(module).__name__} has no attribute {attribute!r}")
            net = getattr(net, part)
        if not isinstance(net, nn.Module):
            raise ModelError(f"{type(module).__name__}.{attribute} is a {type(net).__name__}, not an nn.Module")
        return net
    for name in NETWORK_ATTRIBUTES:
        if isinstance(getattr(module, name, None), nn.Module):
            return getattr(module, name)
    return module


def load_model(spec: str | None, weights: str | Path | None, model_args: Mapping[str, Any] | None = None,
               attribute: str | None = None) -> nn.Module:
    """The network of ``spec`` and/or ``weights`` (see the module doc), on the CPU, in eval mode."""
    if spec is None and weights is None:
        raise ModelError("give --model SPEC, --weights FILE, or both")
    if spec is not None and is_user_path(spec) and is_lightning_class(import_object(spec, "model")):
        if weights is None:
            raise ModelError(f"{spec} is a LightningModule class: pass its checkpoint with --weights FILE.ckpt")
        try:
            cls = import_object(spec)
            module = cls.load_from_checkpoint(str(weights), map_location="cpu", **dict(model_args or {}))
        except (KeyError, TypeError, RuntimeError) as err:
            raise ModelError(f"{spec}.load_from_checkpoint({weights}): {str(err).splitlines()[0]}") from err
        return network_of(module, attribute).eval()
    content = None if weights is None else read_weights(weights)
    if spec is None:
        if isinstance(content, torch.jit.ScriptModule):
            raise ModelError(f"{weights} is a TorchScript module, whose layers faultlab cannot select; pass --model "
                             "SPEC to rebuild the network (its weights are then taken from the file)")
        if isinstance(content, nn.Module):
            return network_of(content, attribute).eval()
        raise ModelError(f"{weights} holds weights but no network: pass --model SPEC to build it "
                         "(a zoo name, timm:NAME, torchvision:NAME or package.module:callable)")
    net = build_model(spec, model_args)
    if attribute is not None:
        net = network_of(net, attribute)
    if content is not None:
        fit_state_dict(net, _state_dict_of(content, Path(weights)), str(weights))
    return net.eval()


# ------------------------------------------------------------------------------------ data check


@torch.no_grad()
def check_fits(net: nn.Module, x: Tensor, y: Tensor) -> None:
    """One forward pass on two samples: raise one line if the inputs do not fit the network, or its
    outputs are not class scores ``[N, C]`` with ``C`` above every label."""
    if len(x) == 0:
        raise ModelError("the data hold no samples")
    was_training = net.training
    net.eval()
    try:
        out = net(x[:2])
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"data of shape {list(x.shape[1:])} (per sample) do not fit {type(net).__name__}: "
                         f"{first[:200]}") from err
    finally:
        net.train(was_training)
    if not isinstance(out, Tensor) or out.dim() != 2:
        what = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ModelError(f"{type(net).__name__} returns {what} for a batch of 2; a campaign needs class scores [N, C]")
    if not y.is_floating_point() and len(y) and int(y.max()) >= out.shape[1]:
        raise ModelError(f"labels go up to {int(y.max())} but {type(net).__name__} outputs {out.shape[1]} classes; "
                         "check --model-args (e.g. num_classes) or the data")
