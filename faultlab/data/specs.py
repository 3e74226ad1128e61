"""Evaluation data from anywhere: a data spec of the CLI, or a Python object, as test tensors (x, y).

Specs (``faultlab campaign --data SPEC``):

    mnist5k, cifar100, svhn, ...      a built-in data set (its test split); ``--data-args`` are its arguments
    tensors:FILE                      a .pt (dict with x and y, or an (x, y) pair) or .npz (arrays x and y)
    imagefolder:DIR                   torchvision ImageFolder (DIR/<class>/<image>), labels by sorted folder name
    package.module:Class              a LightningDataModule built with ``--data-args``; its test dataloader

Objects (``faultlab.run(model, data)``): an ``(x, y)`` pair, a DataLoader (or any iterable of (x, y)
batches), a Dataset, or a LightningDataModule.

``normalize``: ``"dataset"`` (the data's own mean and std: built-in constants, or for an image folder
the per-channel statistics of its images), ``"none"`` (pixels / 255 in [0, 1]; tensors as stored) or
``[mean, std]``. It is recorded with the run (``DataSource.describe``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from faultlab import FaultlabError
from faultlab._imports import import_object, is_object_path

from .checks import as_xy, check_test_data
from .normalize import Normalize, apply_normalize, parse_normalize

TENSORS, IMAGEFOLDER = "tensors:", "imagefolder:"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class DataSpecError(FaultlabError):
    """Data that cannot be read as (x, y) test tensors; the message names the problem and the fix."""


@dataclass
class DataSource:
    """Test tensors, an optional source of training batches (BatchNorm recalibration), and what to
    record with the run."""

    x: Tensor
    y: Tensor
    train_batches: Any = None  # a zero-argument callable returning an iterable of (x, y) batches
    describe: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ Python objects


def _batch_xy(batch: Any) -> tuple[Tensor, Tensor]:
    if isinstance(batch, dict):
        for kx, ky in (("x", "y"), ("input", "target"), ("image", "label")):
            if kx in batch and ky in batch:
                return as_xy(batch[kx], batch[ky])
        raise DataSpecError(f"a batch is a dict with keys {sorted(batch)}; expected x and y (or image and label)")
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return as_xy(batch[0], batch[1])
    raise DataSpecError(f"a batch is a {type(batch).__name__}; expected an (x, y) pair")


def _concat(batches: Iterable) -> tuple[Tensor, Tensor]:
    xs, ys = [], []
    for batch in batches:
        xb, yb = _batch_xy(batch)
        xs.append(xb.detach().cpu())
        ys.append(yb.detach().cpu())
    if not xs:
        raise DataSpecError("the data yielded no batches")
    try:
        return torch.cat(xs), torch.cat(ys)
    except RuntimeError as err:  # batches of different shapes (or labels of different kinds)
        raise DataSpecError(f"the batches cannot be joined: {str(err).splitlines()[0][:160]}") from None


def _test_loader(datamodule: Any) -> Any:
    for hook in ("prepare_data", "setup"):
        if hasattr(datamodule, hook):
            getattr(datamodule, hook)(*(("test",) if hook == "setup" else ()))
    loader = datamodule.test_dataloader()
    if isinstance(loader, (list, tuple)):  # Lightning allows several test loaders: the first is evaluated
        if not loader:
            raise DataSpecError(f"{type(datamodule).__name__}.test_dataloader() returned no loader")
        loader = loader[0]
    return loader


def as_tensors(data: Any) -> tuple[Tensor, Tensor]:
    """``(x, y)`` test tensors from an (x, y) pair, a DataLoader or iterable of batches, a Dataset, or a
    LightningDataModule (its test dataloader), or a data spec string (``"tensors:test.pt"``, ``"cifar100"``,
    see ``resolve_data``); batches are concatenated in order, on the CPU. Checked where they enter
    (``checks.check_test_data``): one label per input, finite inputs, integer class labels >= 0."""
    x, y = _as_tensors(data)
    check_test_data(x, y)
    return x, y


def _as_tensors(data: Any) -> tuple[Tensor, Tensor]:
    if isinstance(data, str):
        source = resolve_data(data)
        return source.x, source.y
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (tuple, list, dict)):
        return as_xy(data[0], data[1])
    if hasattr(data, "tensors") and hasattr(data, "test_dataloader"):  # faultlab's TensorDataModule
        return data.tensors("test")
    if hasattr(data, "test_dataloader"):
        return _concat(_test_loader(data))
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, (tuple, list)):
        from torch.utils.data import DataLoader

        return _concat(DataLoader(data, batch_size=256, shuffle=False))
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes)):
        return _concat(data)
    raise DataSpecError(f"data of type {type(data).__name__}; pass (x, y) tensors, a DataLoader, a Dataset or a "
                        "LightningDataModule")


# ------------------------------------------------------------------------------------ specs


def _tensors_file(path: Path, normalize: Normalize | None) -> DataSource:
    if not path.is_file():
        raise DataSpecError(f"tensors file not found: {path}")
    if path.suffix == ".npz":
        try:
            with np.load(path) as f:
                if not {"x", "y"} <= set(f.files):
                    raise DataSpecError(f"{path} holds arrays {f.files}; expected x and y")
                x, y = f["x"], f["y"]
        except (OSError, ValueError) as err:  # not a zip, or object arrays (which need pickles: refused)
            first = str(err).splitlines()[0][:120] if str(err) else ""
            raise DataSpecError(f"cannot read {path} as arrays x and y ({type(err).__name__}: {first}); "
                                "save it with numpy.savez(path, x=x, y=y)") from None
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001  (any unreadable file is one user-facing line)
            raise DataSpecError(f"cannot read {path} as tensors ({type(err).__name__}); save it with "
                                "torch.save({'x': x, 'y': y}, path) or numpy.savez(path, x=x, y=y)") from err
        if isinstance(obj, dict) and {"x", "y"} <= set(obj):
            x, y = obj["x"], obj["y"]
        elif isinstance(obj, (tuple, list)) and len(obj) == 2:
            x, y = obj
        else:
            keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            raise DataSpecError(f"{path} holds {keys}; expected a dict with x and y, or an (x, y) pair")
    x, y = as_xy(x, y)
    check_test_data(x, y)  # before normalising: a NaN would spread
    choice = parse_normalize(normalize, default="none")
    if choice != "none":
        dims = [0] + list(range(2, x.dim()))
        x = apply_normalize(x.float(), choice, x.float().mean(dims).tolist(), x.float().std(dims).tolist())
    return DataSource(x, y.long(), describe={"data": f"{TENSORS}{path}", "normalize": _recorded(choice)})


def _image_folder(root: Path, image_size: int | None, normalize: Normalize | None) -> DataSource:
    if not root.is_dir():
        raise DataSpecError(f"image folder not found: {root}")
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    steps = [transforms.Resize((image_size, image_size))] if image_size else []
    try:
        ds = ImageFolder(str(root), transform=transforms.Compose([*steps, transforms.ToTensor()]))
    except (FileNotFoundError, RuntimeError) as err:
        raise DataSpecError(f"{root}: {str(err).splitlines()[0]} (expected {root}/<class>/<image>)") from err
    try:
        x, y = _stack(ds)
    except RuntimeError as err:  # images of different sizes cannot be stacked
        raise DataSpecError(f"{root}: images differ in size; pass --image-size N to resize them") from err
    choice = parse_normalize(normalize)
    dims = [0, 2, 3]
    x = apply_normalize(x, choice, x.mean(dims).tolist(), x.std(dims).tolist())
    return DataSource(x, y, describe={"data": f"{IMAGEFOLDER}{root}", "normalize": _recorded(choice),
                                      "classes": ds.classes, "image_size": image_size})


def _stack(ds) -> tuple[Tensor, Tensor]:
    items = [ds[i] for i in range(len(ds))]
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items], dtype=torch.long)


def _recorded(choice) -> Any:
    """The normalisation as recorded in the run config: 'dataset', 'none' or [mean, std]."""
    return [list(choice[0]), list(choice[1])] if isinstance(choice, tuple) else choice


def _builtin(name: str, data_args: dict, data_dir: str, eval_subset: int | None,
             normalize: Normalize | None) -> DataSource:
    import inspect

    from . import DATASETS, build_data

    kwargs = {"data_dir": data_dir, "eval_subset": eval_subset, **data_args}
    if normalize is not None:
        if name in DATASETS and "normalize" not in inspect.signature(DATASETS[name]).parameters:
            raise DataSpecError(f"data set {name!r} is not an image set and takes no normalize option")
        kwargs["normalize"] = normalize
    try:
        dm = build_data(name, **kwargs)
    except TypeError as err:
        raise DataSpecError(f"data set {name!r}: {err} (check --data-args)") from err
    x, y = dm.tensors("test")
    recorded = _recorded(dm.normalize) if hasattr(dm, "normalize") else None
    return DataSource(x, y, train_batches=dm.train_dataloader,
                      describe={"data": name, "data_args": data_args, "normalize": recorded,
                                "num_classes": dm.num_classes, "input_shape": list(dm.input_shape)})


def _datamodule(path: str, data_args: dict, normalize: Normalize | None) -> DataSource:
    cls = import_object(path, "data module")
    if normalize is not None:
        raise DataSpecError(f"--normalize does not apply to {path}; pass its own option through --data-args")
    try:
        dm = cls(**data_args)
    except TypeError as err:
        raise DataSpecError(f"{path}: {err} (check --data-args)") from err
    if not hasattr(dm, "test_dataloader"):
        raise DataSpecError(f"{path} built a {type(dm).__name__}, which has no test_dataloader(); "
                            "pass a LightningDataModule class")
    x, y = as_tensors(dm)
    train = getattr(dm, "train_dataloader", None)
    return DataSource(x, y, train_batches=train, describe={"data": path, "data_args": data_args})


def resolve_data(spec: str, *, data_args: dict | None = None, data_dir: str = "data", eval_subset: int | None = None,
                 image_size: int | None = None, normalize: Normalize | None = None) -> DataSource:
    """The test tensors named by ``spec`` (see the module doc); ``eval_subset`` keeps the first N."""
    data_args = dict(data_args or {})
    if image_size is not None and not spec.startswith(IMAGEFOLDER):
        raise DataSpecError("--image-size applies to imagefolder: data only")
    if data_args and (spec.startswith(TENSORS) or spec.startswith(IMAGEFOLDER)):
        raise DataSpecError(f"--data-args does not apply to {spec.split(':')[0]}: data")
    if spec.startswith(TENSORS):
        source = _tensors_file(Path(spec[len(TENSORS):]).expanduser(), normalize)
    elif spec.startswith(IMAGEFOLDER):
        source = _image_folder(Path(spec[len(IMAGEFOLDER):]).expanduser(), image_size, normalize)
    elif is_object_path(spec):
        source = _datamodule(spec, data_args, normalize)
    else:
        source = _builtin(spec, data_args, data_dir, eval_subset, normalize)
        eval_subset = None  # the data module applied it
    if eval_subset is not None:
        source.x, source.y = source.x[:eval_subset], source.y[:eval_subset]
        source.describe["eval_subset"] = eval_subset
    check_test_data(source.x, source.y)  # the data as evaluated: before anything is written
    return source
