"""Row validation and encoding for the store tables (columns, JSON config, packed masks)."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .errors import StoreError

ALL_LAYERS = "*"  # the layer label of a whole-network trial (every selected layer faulted at once)
GROUP_PREFIX = "group:"  # the layer label of a group-scope trial, e.g. "group:depthwise"

RUN_COLUMNS = (
    "run_id", "study", "architecture", "variant", "method", "train_seed", "checkpoint",
    "weights_hash", "clean_accuracy", "clean_loss", "n_eval", "config", "created_at", "eval_hash", "evaluation",
)
JSON_COLUMNS = ("config", "evaluation")  # stored as JSON text, read back as dicts
CAMPAIGN_COLUMNS = (
    "campaign_id", "run_id", "fault", "sweep_param", "campaign_seed", "bn_recalibration",
    "layers", "scope", "config", "created_at",
)
TRIAL_COLUMNS = (
    "campaign_id", "run_id", "fault", "rate", "trial", "layer", "layer_group", "equal_count", "fault_seed",
    "accuracy", "loss", "seconds", "n_samples", "correct", "created_at", "metric_name", "metric", "n_correct",
)
TRIAL_REQUIRED = ("campaign_id", "run_id", "fault", "rate", "trial", "accuracy")


def now() -> str:
    """Current UTC time as an ISO-8601 string (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def norm_rate(rate: Any) -> float:
    """Canonical float for a rate, so 0.1 and 0.30000000000000004-style sweep values match on lookup."""
    try:
        return float(f"{float(rate):.12g}")
    except (TypeError, ValueError) as exc:
        raise StoreError(f"rate must be a number, got {rate!r}") from exc


def check_columns(row: dict, allowed: tuple[str, ...], required: tuple[str, ...], table: str) -> None:
    """Raise StoreError for a missing required key or an unknown column."""
    if not isinstance(row, dict):
        raise StoreError(f"{table} row must be a dict, got {type(row).__name__}")
    for key in required:
        if row.get(key) is None:
            raise StoreError(f"{table} row is missing required key {key!r}")
    unknown = sorted(set(row) - set(allowed))
    if unknown:
        raise StoreError(f"{table} row has unknown column(s) {unknown}; allowed: {list(allowed)}")


def encode_config(value: Any) -> str | None:
    """JSON text for a config column (dicts are dumped with sorted keys, strings must be valid JSON)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            raise StoreError(f"config string is not valid JSON: {exc}") from exc
        return value
    try:
        return json.dumps(value, sort_keys=True)
    except TypeError as exc:
        raise StoreError(f"config is not JSON-serialisable: {exc}") from exc


def spec_json(spec: dict) -> tuple[str, str]:
    """A study spec as canonical JSON text (sorted keys) and the first 16 hex digits of its SHA-256."""
    try:
        text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"study spec is not JSON-serialisable: {exc}") from exc
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def decode_config(row: dict) -> dict:
    """Return ``row`` with its JSON columns (``config``, ``evaluation``) parsed (in place)."""
    for key in JSON_COLUMNS:
        if row.get(key) is not None:
            row[key] = json.loads(row[key])
    return row


def pack_correct(correct: Any, n_samples: int | None) -> tuple[bytes, int]:
    """Pack a per-sample correctness vector to bytes; return (blob, n_samples).

    Accepts a 1-D bool (or 0/1) array-like; pre-packed ``bytes`` need an explicit ``n_samples``.
    """
    if isinstance(correct, (bytes, bytearray, memoryview)):
        if n_samples is None:
            raise StoreError("correct given as packed bytes needs n_samples")
        if len(correct) != (int(n_samples) + 7) // 8:
            raise StoreError(f"packed correct has {len(correct)} bytes, n_samples={n_samples} needs "
                             f"{(int(n_samples) + 7) // 8}")
        return bytes(correct), int(n_samples)
    arr = np.asarray(correct)
    if arr.ndim != 1:
        raise StoreError(f"correct must be 1-D, got shape {arr.shape}")
    if arr.dtype != np.bool_:
        if arr.size and not np.isin(arr, (0, 1)).all():
            raise StoreError("correct must be a bool vector (or 0/1 values)")
        arr = arr.astype(bool)
    if n_samples is not None and int(n_samples) != arr.size:
        raise StoreError(f"n_samples={n_samples} but correct has {arr.size} entries")
    return np.packbits(arr).tobytes(), int(arr.size)


def unpack_correct(blob: bytes, n_samples: int) -> np.ndarray:
    """Inverse of :func:`pack_correct`: a bool array of length ``n_samples``."""
    bits = np.unpackbits(np.frombuffer(blob, dtype=np.uint8), count=int(n_samples))
    return bits.astype(bool)


FRACTION_TOLERANCE = 2.0**-22  # per sample: float32 rounding of a mean of 0/1 values is below 2^-24


def count_of(accuracy: float | None, n_samples: int | None) -> int | None:
    """The integer k with accuracy = k / n_samples (float32 rounding allowed), or None when there is none."""
    if accuracy is None or not math.isfinite(accuracy) or not n_samples or n_samples <= 0:
        return None
    k = round(accuracy * n_samples)
    return int(k) if abs(accuracy * n_samples - k) <= n_samples * FRACTION_TOLERANCE else None


def _set_count(out: dict) -> None:
    """Fill ``n_correct`` (from the packed mask, else from accuracy * n_samples) and refuse one that disagrees
    with the accuracy: the count is what accuracy is a fraction of."""
    n, acc = out.get("n_samples"), out["accuracy"]
    if isinstance(out.get("correct"), bytes):
        k = int(np.unpackbits(np.frombuffer(out["correct"], dtype=np.uint8), count=n).sum())
        if out.get("n_correct") is not None and int(out["n_correct"]) != k:
            raise StoreError(f"n_correct={out['n_correct']} but the correct mask has {k} of {n} correct")
        out["n_correct"] = k
    elif out.get("n_correct") is not None:
        if n is None:
            raise StoreError("n_correct needs n_samples (or a correct mask)")
        out["n_correct"] = int(out["n_correct"])
    else:
        out["n_correct"] = count_of(acc, n)
        return
    if n and (not 0 <= out["n_correct"] <= n or not abs(acc - out["n_correct"] / n) <= FRACTION_TOLERANCE):
        raise StoreError(f"accuracy {acc} is not {out['n_correct']}/{n} correct; store accuracy = "
                         "n_correct / n_samples (the mean of the correct mask)")


def encode_trial(row: dict, created_at: str) -> tuple:
    """Validate one trial row and return its values in ``TRIAL_COLUMNS`` order."""
    check_columns(row, TRIAL_COLUMNS, TRIAL_REQUIRED, "trial")
    out = dict(row)
    if "layer" in out and out["layer"] is None:
        raise StoreError(f"trial layer must be a string ({ALL_LAYERS!r} = all selected layers), got None")
    out.setdefault("layer", ALL_LAYERS)
    if out["layer"] == ALL_LAYERS and out.get("layer_group") is None:
        out["layer_group"] = ALL_LAYERS
    if out.get("equal_count") is None:
        out["equal_count"] = 0
    out["rate"] = norm_rate(out["rate"])
    try:
        out["trial"] = int(out["trial"])
        for key in ("fault_seed", "n_samples", "equal_count", "n_correct"):
            if out.get(key) is not None:
                out[key] = int(out[key])
        for key in ("accuracy", "loss", "seconds", "metric"):
            if out.get(key) is not None:
                out[key] = float(out[key])
    except (TypeError, ValueError) as exc:
        raise StoreError(f"trial row has a non-numeric value: {exc}") from exc
    if out.get("correct") is not None:
        out["correct"], out["n_samples"] = pack_correct(out["correct"], out.get("n_samples"))
    _set_count(out)
    out.setdefault("created_at", created_at)
    return tuple(out.get(c) for c in TRIAL_COLUMNS)


def plain(value: Any) -> Any:
    """Turn numpy scalars into Python ones so sqlite3 can bind them."""
    return value.item() if isinstance(value, np.generic) else value


def encode_row(row: dict, allowed: tuple[str, ...], required: tuple[str, ...], table: str) -> dict:
    """Validate a run/campaign row; return a copy with config as JSON text and a created_at."""
    check_columns(row, allowed, required, table)
    out = {k: plain(v) for k, v in row.items()}
    for key in JSON_COLUMNS:
        if key in out:
            out[key] = encode_config(out[key])
    out.setdefault("created_at", now())
    return out
