"""Statistics for fault-injection campaigns (numpy, scipy, pandas; no torch, no matplotlib, no store queries).

Two levels of claim: (a) conditional on trained networks, fault maps as replicates (names end in ``_maps``:
:func:`method_comparison_maps`, :func:`compare_methods_maps`, ...); (b) about a recipe (training method,
architecture), training runs as replicates (every other name: :func:`contrast_table`, :func:`method_comparison`,
:func:`compare_recipes`, ...). A study's question is its declared contrasts (:class:`ContrastSpec`), the primary
family (:mod:`.family`: one closed test, one verdict rule); :func:`study_tables` computes every table of a study
from its trial frame; :mod:`.sequential` gives group-sequential looks, :mod:`.planning` the runs a design needs.
Verdicts, reasons, designs and endpoints are typed (:mod:`.vocabulary`); sentences come last (:mod:`.wording`).
"""

from __future__ import annotations

from .compare import (
    cliffs_delta,
    cohens_d,
    compare_groups,
    compare_paired,
    hodges_lehmann,
    paired_frame,
    rank_biserial,
    tost,
    verdict,
)
from .contrast_table import contrast_table
from .contrasts import ContrastError, ContrastSpec, default_contrasts, parse_contrasts
from .curves import auc, critical_rate, curve_bootstrap
from .describe import DEFAULT_CELL_KEYS, bootstrap_mean_ci, cell_summary
from .family import closed_pairs, holm, t_interval, verdict_of
from .planning import ci_halfwidth, leveugle_sample_size, trials_for_halfwidth
from .power import runs_needed
from .recipe import RecipeComparison, compare_recipes, run_means, variance_components
from .recipe_tables import architecture_comparison, method_comparison, recipe_curves
from .reliability import per_sample_reliability, reliability_bootstrap
from .results import (
    ConfidenceInterval,
    DegenerateTrialsWarning,
    EquivalenceTest,
    GroupComparison,
    MeanCI,
    PairedComparison,
)
from .sequential import SequentialDesign, sequential_decisions
from .study import ReportError, StudyData, export_tables, study_tables
from .tables import (
    architecture_comparison_maps,
    compare_architectures_maps,
    compare_methods_maps,
    method_comparison_maps,
)
from .vocabulary import ContrastKind, Decision, Design, Endpoint, Reason, Role, Verdict

__all__ = [
    "DEFAULT_CELL_KEYS",
    "ConfidenceInterval", "DegenerateTrialsWarning", "EquivalenceTest", "GroupComparison", "MeanCI",
    "PairedComparison", "RecipeComparison",
    "Verdict", "Reason", "Design", "Endpoint", "Role", "ContrastKind", "Decision",
    "ContrastSpec", "ContrastError", "default_contrasts", "parse_contrasts", "contrast_table",
    "SequentialDesign", "sequential_decisions",
    "bootstrap_mean_ci", "cell_summary", "auc", "critical_rate", "curve_bootstrap",
    "compare_paired", "paired_frame", "compare_groups", "tost", "holm", "closed_pairs", "verdict", "verdict_of",
    "t_interval", "cohens_d", "cliffs_delta", "rank_biserial", "hodges_lehmann",
    "compare_methods_maps", "compare_architectures_maps", "method_comparison_maps", "architecture_comparison_maps",
    "method_comparison", "architecture_comparison", "recipe_curves",
    "per_sample_reliability", "reliability_bootstrap",
    "compare_recipes", "run_means", "runs_needed", "variance_components",
    "ReportError", "StudyData", "export_tables", "study_tables",
    "ci_halfwidth", "leveugle_sample_size", "trials_for_halfwidth",
]
