"""Statistics for fault-injection campaigns (numpy, scipy, pandas and the store; no torch, no matplotlib).

Two levels of claim: (a) about trained networks, fault maps as replicates (:mod:`.tables`, cells, per-run
reliability); (b) about a recipe (training method, architecture), training runs as replicates
(:mod:`.recipe`, :mod:`.recipe_tables`). :func:`study_tables` computes every table of a study.

Cells: :func:`bootstrap_mean_ci`, :func:`cell_summary`. Curves: :func:`auc`, :func:`critical_rate`,
:func:`curve_bootstrap`. Tests: :func:`compare_paired` (methods, over
identical fault maps), :func:`compare_groups` (architectures), :func:`tost`, :func:`holm`, :func:`verdict`.
Tables, per-sample reliability and sample-size planning.
"""

from __future__ import annotations

from .compare import (
    VERDICTS,
    cliffs_delta,
    cohens_d,
    compare_groups,
    compare_paired,
    hodges_lehmann,
    holm,
    paired_frame,
    rank_biserial,
    tost,
    verdict,
)
from .curves import auc, critical_rate, curve_bootstrap
from .describe import DEFAULT_CELL_KEYS, bootstrap_mean_ci, cell_summary
from .planning import ci_halfwidth, leveugle_sample_size, trials_for_halfwidth
from .recipe import RecipeComparison, compare_recipes, run_means, runs_needed, variance_components
from .reliability import per_sample_reliability, reliability_bootstrap
from .results import (
    ConfidenceInterval,
    CurveCI,
    DegenerateTrialsWarning,
    EquivalenceTest,
    GroupComparison,
    MeanCI,
    PairedComparison,
)
from .study import ReportError, export_tables, study_tables
from .tables import architecture_comparison_table, method_comparison_table

__all__ = [
    "DEFAULT_CELL_KEYS", "VERDICTS",
    "ConfidenceInterval", "CurveCI", "DegenerateTrialsWarning", "EquivalenceTest", "GroupComparison",
    "MeanCI", "PairedComparison",
    "bootstrap_mean_ci", "cell_summary",
    "auc", "critical_rate", "curve_bootstrap",
    "compare_paired", "paired_frame", "compare_groups", "tost", "holm", "verdict",
    "cohens_d", "cliffs_delta", "rank_biserial",
    "architecture_comparison_table", "method_comparison_table",
    "per_sample_reliability", "reliability_bootstrap", "hodges_lehmann",
    "RecipeComparison", "compare_recipes", "run_means", "runs_needed", "variance_components",
    "ReportError", "export_tables", "study_tables",
    "ci_halfwidth", "leveugle_sample_size", "trials_for_halfwidth",
]
