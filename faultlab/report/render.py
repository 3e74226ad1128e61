"""``render_report``: the study's PDF (matplotlib PdfPages, no LaTeX) built from :func:`study_tables`.

    summary = render_report(ResultsStore("runs/results.db"), "demo", "reports/demo.pdf", spec=spec)
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from faultlab.files import finishing, refusal, temp_path  # noqa: E402
from faultlab.stats.answer import answer_tables  # noqa: E402
from faultlab.stats.study import spec_contrasts, study_tables  # noqa: E402
from faultlab.store import ResultsStore  # noqa: E402

from .answer_text import relevant_missing  # noqa: E402
from .inputs import read_study  # noqa: E402
from .layout import RC, Doc  # noqa: E402
from .parts import Study, appendix_part, main_part  # noqa: E402


@dataclass
class ReportSummary:
    """What ``render_report`` wrote: the PDF path, one title per page, how many of them are the main part (before
    the appendix divider), the verdict sentences, what was missing."""

    path: Path
    pages: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    main_pages: int = 0


def render_report(store: ResultsStore, study: str, out: str | Path, *, spec: dict | None = None,
                  baseline_method: str = "vanilla", margin: float = 0.01, fraction: float = 0.9,
                  n_resamples: int = 1000, seed: int = 0, meta: dict | None = None,
                  appendix: bool = True) -> ReportSummary:
    """Write the study's report to ``out`` (a multi-page PDF: the main part, then, unless ``appendix`` is False,
    the appendix) and summarise it.

    Raises ReportError when the study has no trials. No page stands in for a comparison the study cannot have;
    what could not be computed is listed in ``missing``.
    """
    data = read_study(store, study)
    tables = study_tables(data.trials, data.runs, masks=data.masks, layer_order=data.layer_order,
                          contrasts=spec_contrasts(spec, data.trials, margin=margin, baseline=baseline_method),
                          baseline_method=baseline_method, margin=margin, fraction=fraction,
                          n_resamples=n_resamples, seed=seed, looks=data.looks)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    st = Study(tables, spec, data.runs, store.campaigns(), data.layer_order, str(store.path), baseline_method, margin,
               fraction, n_resamples, seed, meta)
    if spec and spec.get("answer"):
        st.answer = answer_tables(tables["trials"], spec["answer"], contrasts=tables["contrasts"], fraction=fraction,
                                  n_resamples=n_resamples, seed=seed)
    verdicts = tables["verdicts"]["sentence"].tolist()
    with plt.rc_context(RC), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # layout hints from matplotlib/seaborn
        warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)  # seaborn's calls, not ours
        part = temp_path(out, "report")  # its own file: a failed render leaves ``out`` whole, nothing half-written
        fh = part.open("wb")  # closed here whatever happens (PdfPages leaves a file it failed to finish open)
        doc = Doc(fh, study)
        doc.missing += relevant_missing(tables)
        try:
            main_part(doc, st)
            if appendix:
                appendix_part(doc, st)
        except BaseException as exc:
            with contextlib.suppress(Exception):  # closing a PDF whose write failed fails too; the first error counts
                doc.close()
            with contextlib.suppress(OSError):
                fh.close()
            part.unlink(missing_ok=True)
            error = refusal(exc, out, "report")
            if error is not None:
                raise error from None
            raise
        finally:
            plt.close("all")
        with finishing(part, out, "report"), fh:  # synced, then renamed onto ``out``; a refusal is one line
            doc.close()
    return ReportSummary(out, doc.pages, verdicts, doc.missing, doc.main_pages)
