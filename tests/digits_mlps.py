"""Small MLPs trained on scikit-learn's digits, as a notebook user trains them: the first 1200 images to train
(full batch), the other 597 to test."""

from __future__ import annotations

import functools

import torch
from sklearn.datasets import load_digits
from torch import nn


@functools.cache
def digits() -> tuple[torch.Tensor, ...]:
    """(x_train, y_train, x_test, y_test): 8x8 images flattened to 64 values in [0, 1], labels 0-9."""
    d = load_digits()
    x, y = torch.tensor(d.data / 16.0, dtype=torch.float32), torch.tensor(d.target)
    return x[:1200], y[:1200], x[1200:], y[1200:]


def digits_mlp(width: int, seed: int, steps: int, lr: float = 0.01) -> nn.Module:
    """A 64-width-10 MLP seeded with ``seed`` after ``steps`` full-batch Adam steps (learning rate ``lr``) on the
    training digits; its ``variant`` (mlp-<width>) names it in a campaign's frame."""
    x, y = digits()[:2]
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))
    net.variant = f"mlp-{width}"
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net
