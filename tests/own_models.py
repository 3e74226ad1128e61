"""A user's own code, as a campaign meets it: a network builder, a LightningModule (not faultlab's
Classifier) and a LightningDataModule, importable as ``own_models:<name>`` (tests/ is on sys.path)."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def small_cnn(num_classes: int = 4, in_channels: int = 1) -> nn.Module:
    """A conv net for 8x8 inputs."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(6 * 4 * 4, num_classes),
    )


def tiny_data(n: int = 32, seed: int = 0, channels: int = 1, num_classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, 8, 8, generator=g), torch.randint(0, num_classes, (n,), generator=g)


class OwnLitModule(L.LightningModule):
    """A user's LightningModule: the network under ``backbone``, hyperparameters saved."""

    def __init__(self, num_classes: int = 4, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.backbone = small_cnn(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test_acc", (self(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class OwnDataModule(L.LightningDataModule):
    """A user's LightningDataModule of random 8x8 images."""

    def __init__(self, n: int = 32, seed: int = 0, batch_size: int = 8) -> None:
        super().__init__()
        self.n, self.seed, self.batch_size = n, seed, batch_size

    def setup(self, stage: str | None = None) -> None:
        self.train_set = TensorDataset(*tiny_data(self.n, self.seed + 1))
        self.test_set = TensorDataset(*tiny_data(self.n, self.seed))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=self.batch_size)


def mean_margin(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A user metric: the true class's score minus the best other score, per sample."""
    true = outputs.gather(1, y[:, None]).squeeze(1)
    other = outputs.scatter(1, y[:, None], float("-inf")).max(1).values
    return true - other
