"""The study report: renders, as a multi-page PDF, the tables :func:`faultlab.stats.study_tables` computed.

    summary = render_report(ResultsStore("runs/results.db"), "demo", "reports/demo.pdf")
"""

from __future__ import annotations

from faultlab.stats.study import ReportError, export_tables, study_tables

from .render import ReportSummary, render_report

__all__ = ["ReportError", "ReportSummary", "export_tables", "render_report", "study_tables"]
