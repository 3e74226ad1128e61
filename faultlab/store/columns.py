"""The data dictionary of the trial table (``ResultsStore.to_frame``, ``faultlab export``, ``faultlab.run``):
one definition that builds the frame's dtypes, the Parquet schema and its metadata, and the table in
docs/export.md (a test compares them).

    from faultlab.store.columns import COLUMNS, markdown_table
    print(markdown_table())        # the table of docs/export.md
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

EXPORT_FORMAT = "faultlab-trials"
EXPORT_VERSION = 1  # bump when a column changes meaning, name or type
METADATA_KEY = b"faultlab"  # the Parquet file-level key holding the dictionary (JSON)
DOC = "docs/export.md"


@dataclass(frozen=True)
class Column:
    """One column of the trial table: its Arrow type, unit, meaning and what NULL means in it."""

    name: str
    type: str  # "string", "int64", "float64", "bool" or "list<bool>"
    unit: str  # "" when the value has none
    meaning: str
    null: str  # when the value is NULL ("never" when it cannot be)


def _c(name: str, type_: str, unit: str, meaning: str, null: str) -> Column:
    return Column(name, type_, unit, meaning, null)


NO_RUN = "the trial's run is not stored (rows written with `add_trials` alone)"
CLEAN_ROW = "in a clean row"

COLUMNS: tuple[Column, ...] = (
    # -- the trained network (one run) ------------------------------------------------------------------------
    _c("study", "string", "", "Study the run belongs to: a sweep's `name`, or the `study` a campaign was "
       "given (default `default`).", NO_RUN),
    _c("run_id", "string", "", "Key of the run in the store: a keyed hash of (study, weights_hash), so the "
       "same weights in two studies are two runs; runs stored before migration 0004 keep the id they had (from "
       "a checkpoint-file or config hash).", "never"),
    _c("architecture", "string", "", "Model builder: the zoo architecture (`mlp`, `resnet20`), or the "
       "network's class name for a network of your own (`Sequential`, `ResNet`).", NO_RUN),
    _c("variant", "string", "", "The network's label in tables and figures: the zoo variant with its "
       "options (`mlp-64-8-10`, `resnet20-lb[...]`), `timm:<name>`, `torchvision:<name>` or the `label` given. "
       "Differs from `architecture` when a study compares variants of one architecture.", NO_RUN),
    _c("method", "string", "", "Training method (`vanilla`, `dropconnect`, ...), or the `method` given.",
       NO_RUN),
    _c("train_seed", "int64", "", "Seed of the training run: the replicate of a recipe (stats pair methods "
       "by it).", "not known (a network handed to `faultlab.run` or `--weights` without one), or " + NO_RUN),
    _c("weights_hash", "string", "16 hex digits", "SHA-256 of the trained weights (state_dict: names, "
       "dtypes, shapes, bytes): equal hashes, equal networks, in any study. Stores before migration 0004 held a "
       "checkpoint-file or config hash here until the run was met again.", NO_RUN),
    # -- the test data ------------------------------------------------------------------------------------------
    _c("dataset", "string", "", "Test data: a built-in data set (`mnist5k`, `cifar10`), `tensors:FILE`, "
       "`imagefolder:DIR` or a data module's import path; its options are in the store's run row.",
       "not recorded: data handed over as tensors or a loader, or " + NO_RUN),
    _c("test_subset", "int64", "samples", "Only the first N samples of the test split were evaluated "
       "(`eval_subset` of the data or the campaign, the smaller).", "the whole test split (or not recorded)"),
    _c("test_hash", "string", "16 hex digits", "SHA-256 of the evaluated test samples (inputs and labels, "
       "in order): trials of two runs can be paired sample by sample only when it is equal.",
       "stored before migration 0004, or " + NO_RUN),
    _c("clean_n_correct", "int64", "samples", "Test samples the unfaulted network classifies correctly "
       "(top-1).", "the run has no clean evaluation, or its stored accuracy is not a fraction of its samples"),
    _c("clean_accuracy", "float64", "fraction", "Top-1 accuracy of the unfaulted network on the same "
       "samples: clean_n_correct / n_samples, the float64 nearest the fraction.", "no clean evaluation stored"),
    _c("clean", "bool", "", "True in a clean row: the run's unfaulted evaluation (rate 0, no fault, no "
       "trial), one per run, first in the export; False in a fault trial. `ResultsStore.to_frame` and "
       "`faultlab.run` hold fault trials only.", "never"),
    # -- the campaign -------------------------------------------------------------------------------------------
    _c("campaign_id", "string", "", "Key of the campaign: a hash of its run, fault template, seed, "
       "layers, scope, BatchNorm recalibration and evaluation scale.", CLEAN_ROW),
    _c("campaign_seed", "int64", "", "Seed keying every fault map of the campaign (`--seed`, a "
       "study's `seed`).", CLEAN_ROW + ", or the campaign row is not stored"),
    _c("fault", "string", "", "Fault template, with `{rate}` where the swept value goes "
       "(`drop(p={rate})`): the `--fault` given, the key that groups a curve's rows.", CLEAN_ROW),
    _c("rate", "float64", "the swept parameter's", "Value put in place of `{rate}` (a probability "
       "for `drop`, a sigma for `gaussian_add`); equal-count rows: equal_count / weights in scope. 0 in a clean "
       "row.", "never"),
    _c("fault_applied", "string", "", "The fault the trial applied, as `parse_fault` reads it: the "
       "template at this rate (`drop(p=0.1)`); equal-count rows: the template at rate 1 on exactly equal_count "
       "weights; a drop rescaled for a `rescale: true` network ends in `*<scale>`.", CLEAN_ROW),
    _c("equal_count", "int64", "weights", "Exactly this many faulty weights per layer or group "
       "(equal-count sensitivity); 0 in a rate campaign.", CLEAN_ROW),
    _c("fault_scope", "string", "", "What the trial faulted: `network` (every selected layer at "
       "once), `layer` (one layer: `layer`) or `group` (one layer group: `layer_group`).", CLEAN_ROW),
    _c("layer", "string", "", "The faulted layer's module name in a `layer` row; `group:<name>` in "
       "a `group` row.", "a `network` row (every selected layer faulted) or a clean row"),
    _c("layer_group", "string", "", "Group of the faulted layer(s): stem, depthwise, pointwise, "
       "conv3x3, conv, linear or classifier.", "a `network` or clean row, or a `layer` row stored before groups "
       "were recorded (migration 0002)"),
    _c("trial", "int64", "", "Index of the fault map within its cell (0, 1, ...); the same index is the "
       "same map for every network of one architecture (pair on it).", CLEAN_ROW),
    _c("fault_seed", "int64", "", "Seed of the trial's map in its first faulted layer (each layer's "
       "seed is a keyed hash of campaign_seed, layer, fault, rate and trial); equal-count rows: the seed placing "
       "the K faults.", CLEAN_ROW + ", or not recorded"),
    # -- the outcome --------------------------------------------------------------------------------------------
    _c("n_samples", "int64", "samples", "Test samples evaluated.", "not recorded (rows written "
       "without `n_samples` or a mask)"),
    _c("n_correct", "int64", "samples", "Test samples classified correctly (top-1): the sum of the "
       "stored per-sample mask.", "n_samples not recorded, or the stored accuracy is not a fraction of it"),
    _c("accuracy", "float64", "fraction", "Top-1 accuracy: n_correct / n_samples, the float64 nearest "
       "the fraction (a CSV holds e.g. `0.895`, never float32 noise); where n_correct is NULL, the stored "
       "value.", "never"),
    _c("loss", "float64", "nats per sample", "Mean cross-entropy over the test samples.",
       "not recorded"),
    _c("metric_name", "string", "", "Name of the extra metric (`top5`, or your function's name).",
       "no extra metric was asked for"),
    _c("metric", "float64", "", "Mean of the extra metric's per-sample values (a fraction for "
       "`topK`).", "no extra metric (and always in a clean row)"),
    _c("seconds", "float64", "s", "Wall time of the trial (its share of a stacked pass).",
       CLEAN_ROW + ", or not recorded"),
    _c("correct", "list<bool>", "", "Only with `--with-masks` (Parquet): per test sample, in test "
       "order, whether it was classified correctly; its sum is n_correct. Paired per-sample tests between runs "
       "need equal test_hash.", "no mask stored (and always in a clean row)"),
)

BY_NAME = {c.name: c for c in COLUMNS}
MASK_COLUMN = "correct"
FRAME_COLUMNS = tuple(c.name for c in COLUMNS if c.name != MASK_COLUMN)  # without --with-masks
PANDAS_DTYPES = {"int64": "Int64", "float64": "float64", "bool": "bool"}  # strings and lists keep pandas' default


def pandas_dtypes(names: tuple[str, ...] = FRAME_COLUMNS) -> dict[str, str]:
    """The fixed pandas dtype of each numeric or boolean column (nullable ``Int64`` for integers)."""
    return {n: PANDAS_DTYPES[BY_NAME[n].type] for n in names if BY_NAME[n].type in PANDAS_DTYPES}


def arrow_schema(names: tuple[str, ...]):
    """The Parquet schema: each column's Arrow type, and its unit, meaning and NULL meaning as field metadata."""
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
             "list<bool>": pa.list_(pa.bool_())}
    fields = []
    for name in names:
        c = BY_NAME[name]
        meta = {"unit": c.unit, "meaning": c.meaning, "null": c.null}
        fields.append(pa.field(name, types[c.type], nullable=c.null != "never", metadata=meta))
    return pa.schema(fields)


def file_metadata(names: tuple[str, ...], study: str | None) -> dict[bytes, bytes]:
    """The file-level Parquet metadata: format, version, the study exported and the dictionary (JSON)."""
    body = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "study": study, "doc": DOC,
            "columns": [asdict(BY_NAME[n]) for n in names]}
    return {METADATA_KEY: json.dumps(body).encode()}


def markdown_table() -> str:
    """The dictionary as the Markdown table of docs/export.md."""
    lines = ["| column | type | unit | meaning | NULL when |", "|---|---|---|---|---|"]
    for c in COLUMNS:
        lines.append(f"| `{c.name}` | {c.type} | {c.unit or '–'} | {c.meaning} | {c.null} |")
    return "\n".join(lines)
