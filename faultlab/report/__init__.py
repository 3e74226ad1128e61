"""The study report: tables computed once from the results store, rendered as a multi-page PDF.

    summary = render_report(ResultsStore("runs/results.db"), "demo", "reports/demo.pdf")
"""

from __future__ import annotations

from .render import ReportSummary, render_report
from .tables import ReportError, export_tables, study_tables

__all__ = ["ReportError", "ReportSummary", "export_tables", "render_report", "study_tables"]
