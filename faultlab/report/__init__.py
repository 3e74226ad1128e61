"""The study report: renders, as a multi-page PDF, the tables :func:`faultlab.stats.study_tables` computed (a main
part of at most about 8 pages, then an appendix), and the same answer in a terminal (:mod:`.terminal`).

    summary = render_report(ResultsStore("results/demo.sqlite"), "demo", "reports/demo.pdf")

``render_report`` and ``ReportSummary`` import matplotlib when first used, so ``faultlab stats`` (the terminal)
never does.
"""

from __future__ import annotations

from faultlab._lazy import lazy_names
from faultlab.stats.study import ReportError, export_tables, study_tables

__all__ = ["ReportError", "ReportSummary", "export_tables", "render_report", "study_tables"]
__getattr__, __dir__ = lazy_names(__name__, {"ReportSummary": "render", "render_report": "render"})
