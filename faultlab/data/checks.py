"""Checks where data and data options enter: test tensors a campaign scores, and a data module's options.

    x, y = as_xy(x_array, y_list)       # tensors, or one DataCheckError line (strings, ragged lists, ...)
    check_test_data(x, y)               # finite inputs, integer class labels >= 0, as many labels as inputs
    check_int("n_samples", n, lo=4)     # a data module's option, in its __init__

Every refusal is one line naming the problem and the fix (a hint for one-hot or N x 1 labels), raised before
anything is evaluated or stored.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from faultlab import FaultlabError

GENERATOR_SEEDS = 2**64  # torch.Generator.manual_seed takes 0 .. 2^64 - 1


class DataCheckError(FaultlabError):
    """Data or a data option that would give wrong or no results; the message names the problem and the fix."""


# ------------------------------------------------------------------------------------ tensors


def as_tensor(value: Any, what: str) -> Tensor:
    """``value`` (a tensor, array or nested list of numbers) as a tensor; one line for anything else
    (strings, objects, ragged lists)."""
    if isinstance(value, Tensor):
        return value
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise DataCheckError(f"{what} cannot be read as an array ({str(err).splitlines()[0][:120]}); "
                             "pass a tensor or an array of numbers") from None
    if array.dtype.kind not in "biuf":  # strings ('U', 'S'), objects ('O'), complex, dates
        example = repr(array.flat[0].item())[:40] if array.size else ""
        what_kind = {"U": "text", "S": "bytes", "O": "Python objects"}.get(array.dtype.kind, str(array.dtype))
        hint = ("; map class names to indices 0..C-1 first (e.g. sklearn's LabelEncoder)"
                if what.startswith("label") else "")
        raise DataCheckError(f"{what} hold {what_kind} (e.g. {example}), not numbers{hint}")
    return torch.from_numpy(np.ascontiguousarray(array))


def as_xy(x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """Inputs and labels as tensors (see :func:`as_tensor`)."""
    return as_tensor(x, "inputs (x)"), as_tensor(y, "labels (y)")


def _label_hint(y: Tensor) -> str:
    """How to turn labels of the wrong shape into class indices."""
    if y.dim() == 2 and y.shape[1] == 1:
        return "; N x 1 labels: pass y[:, 0] (or y.squeeze(1))"
    if y.dim() == 2 and len(y):
        rows = y.double()
        if bool(((rows == 0) | (rows == 1)).all()) and bool((rows.sum(1) == 1).all()):
            return "; these look one-hot: pass y.argmax(1)"
        return "; class scores or probabilities? pass the class index of each sample, e.g. y.argmax(1)"
    return ""


def check_labels(y: Tensor) -> None:
    """Labels are class indices: one integer >= 0 per sample (the upper bound is the network's outputs,
    checked by ``check_fits``)."""
    if y.dim() != 1:
        raise DataCheckError(f"labels (y) have shape {list(y.shape)}; expected one class index per sample, "
                             f"shape [N]{_label_hint(y)}")
    if y.dtype == torch.bool:
        raise DataCheckError("labels (y) are booleans; pass class indices, e.g. y.long() for two classes")
    if y.is_floating_point() or y.is_complex():
        integral = bool(torch.isfinite(y).all()) and bool((y == y.round()).all()) if not y.is_complex() else False
        fix = "they are whole numbers: pass y.long()" if integral else \
            "they are not whole numbers (scores or regression targets?); pass the class index of each sample"
        raise DataCheckError(f"labels (y) are {str(y.dtype).removeprefix('torch.')}, not integer class indices; {fix}")
    if len(y) and int(y.min()) < 0:
        first = int(torch.nonzero(y < 0)[0, 0])
        raise DataCheckError(f"labels (y) hold negative values (y[{first}] = {int(y[first])}); class indices are "
                             "0..C-1 (an ignore index such as -100 has no place in a test set: drop those samples)")


def check_inputs(x: Tensor) -> None:
    """Inputs are finite numbers (a NaN or inf input makes every prediction, and the accuracy, meaningless)."""
    if x.dtype == torch.bool or x.is_complex():
        raise DataCheckError(f"inputs (x) are {str(x.dtype).removeprefix('torch.')}; pass real numbers")
    if not x.is_floating_point():
        return
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = ~finite.reshape(len(x), -1).all(1) if len(x) else finite
        n_nan, n_inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
        first = int(torch.nonzero(bad)[0, 0]) if len(x) else 0
        raise DataCheckError(f"inputs (x) hold {n_nan} NaN and {n_inf} infinite values in {int(bad.sum())} of "
                             f"{len(x)} samples (the first: sample {first}); clean or drop those samples")


def check_test_data(x: Tensor, y: Tensor) -> None:
    """Test data a campaign can score: as many labels as inputs, at least one sample, finite inputs and
    integer class labels >= 0; one ``DataCheckError`` line otherwise."""
    if x.dim() == 0 or y.dim() == 0:
        raise DataCheckError(f"inputs (x) of shape {list(x.shape)} and labels (y) of shape {list(y.shape)}; "
                             "expected x [N, ...] and y [N]")
    if len(x) != len(y):
        raise DataCheckError(f"inputs (x) hold {len(x)} samples but labels (y) {len(y)}; pass one label per input")
    if len(x) == 0:
        raise DataCheckError("the data hold no samples")
    check_labels(y)
    check_inputs(x)


# ------------------------------------------------------------------------------------ data module options


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(owner: str, name: str, value: Any, lo: int | None = None, hi: int | None = None,
              optional: bool = False) -> None:
    """A data module's integer option within [lo, hi] (None allowed when ``optional``); one line otherwise."""
    if value is None and optional:
        return
    bad = not _is_int(value) or (lo is not None and value < lo) or (hi is not None and value > hi)
    if bad:
        where = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        none = " or null" if optional else ""
        raise DataCheckError(f"{owner}: {name}={value!r}; allowed: an integer {where}{none}")


def check_number(owner: str, name: str, value: Any, lo: float | None = None, hi: float | None = None,
                 hi_open: bool = False) -> None:
    """A data module's finite numeric option within [lo, hi] (or [lo, hi)); one line otherwise."""
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    bad = not number or not math.isfinite(value) or (lo is not None and value < lo) \
        or (hi is not None and (value > hi or (hi_open and value == hi)))
    if bad:
        left = "-inf" if lo is None else f"{lo:g}"
        right = "inf)" if hi is None else f"{hi:g}{')' if hi_open else ']'}"
        raise DataCheckError(f"{owner}: {name}={value!r}; allowed: a number in [{left}, {right}")


def check_seed(owner: str, name: str, value: Any, optional: bool = False) -> None:
    """A seed of the data's generators: an integer in [0, 2^64 - 1] (None allowed when ``optional``)."""
    check_int(owner, name, value, 0, GENERATOR_SEEDS - 1, optional)
