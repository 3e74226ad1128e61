"""Shared validation and random-number helpers (private)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

RngLike = np.random.Generator | int | None

ALTERNATIVES = ("two-sided", "less", "greater")


def as_generator(rng: RngLike, name: str = "rng") -> np.random.Generator:
    """``None`` -> ``default_rng(0)`` (deterministic by default), int -> seeded, Generator -> itself."""
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"{name} must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def key_generator(seed: int, key: Any) -> np.random.Generator:
    """Generator seeded by ``seed`` and a stable hash of ``key`` (a cell's CI does not depend on other cells)."""
    parts = key if isinstance(key, tuple) else (key,)
    text = repr(tuple(p.item() if isinstance(p, np.generic) else p for p in parts))
    return np.random.default_rng([int(seed), zlib.crc32(text.encode())])


def as_1d(x: Any, name: str, *, min_size: int = 1) -> np.ndarray:
    """Float 1-D array of finite values with at least ``min_size`` entries, else ValueError naming ``name``."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} value(s), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_level(level: float, name: str = "level") -> float:
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {level!r}")
    return float(level)


def check_choice(value: str, choices: Iterable[str], name: str) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_columns(df: pd.DataFrame, columns: Iterable[str], name: str = "df") -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}")


def percentile_interval(samples: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentiles ``(α/2, 1-α/2)`` of bootstrap ``samples``; exact order statistics when any is ±inf."""
    alpha = 1.0 - level
    q = [alpha / 2.0, 1.0 - alpha / 2.0]
    method = "linear" if np.all(np.isfinite(samples)) else "inverted_cdf"
    lo, hi = np.quantile(samples, q, axis=axis, method=method)
    return lo, hi
