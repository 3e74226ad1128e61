"""Statistics for fault-injection campaigns (numpy, scipy, pandas only; no other faultlab imports).

Cells: :func:`bootstrap_mean_ci`, :func:`cell_summary`. Curves: :func:`auc`, :func:`critical_rate`,
:func:`curve_bootstrap`, :func:`hierarchical_bootstrap`. Tests: :func:`compare_paired` (methods, over
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
    holm,
    paired_frame,
    rank_biserial,
    tost,
    verdict,
)
from .curves import auc, critical_rate, curve_bootstrap, hierarchical_bootstrap
from .describe import DEFAULT_CELL_KEYS, bootstrap_mean_ci, cell_summary
from .planning import ci_halfwidth, leveugle_sample_size, trials_for_halfwidth
from .reliability import per_sample_reliability
from .results import (
    ConfidenceInterval,
    CurveCI,
    DegenerateTrialsWarning,
    EquivalenceTest,
    GroupComparison,
    MeanCI,
    PairedComparison,
)
from .tables import architecture_comparison_table, curve_table, method_comparison_table

__all__ = [
    "DEFAULT_CELL_KEYS", "VERDICTS",
    "ConfidenceInterval", "CurveCI", "DegenerateTrialsWarning", "EquivalenceTest", "GroupComparison",
    "MeanCI", "PairedComparison",
    "bootstrap_mean_ci", "cell_summary",
    "auc", "critical_rate", "curve_bootstrap", "hierarchical_bootstrap",
    "compare_paired", "paired_frame", "compare_groups", "tost", "holm", "verdict",
    "cohens_d", "cliffs_delta", "rank_biserial",
    "architecture_comparison_table", "curve_table", "method_comparison_table",
    "per_sample_reliability",
    "ci_halfwidth", "leveugle_sample_size", "trials_for_halfwidth",
]
