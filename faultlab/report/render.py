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
from faultlab.stats.study import analysis_frame, spec_contrasts, study_tables  # noqa: E402
from faultlab.store import ResultsStore  # noqa: E402

from .answer_pages import answer_pages  # noqa: E402
from .comparison_pages import comparison_pages, contrast_pages, recipe_display, variance_pages  # noqa: E402
from .curve_pages import accuracy_pages, distribution_pages, forest_pages  # noqa: E402
from .inputs import read_study  # noqa: E402
from .layout import RC, Doc, curve_style  # noqa: E402
from .sample_pages import group_comparison_pages, layer_pages, reliability_pages  # noqa: E402
from .sequential_pages import sequential_pages  # noqa: E402
from .text_pages import methods_pages, methods_paragraphs, question, spec_pages, title_page  # noqa: E402


@dataclass
class ReportSummary:
    """What ``render_report`` wrote: the PDF path, one title per page, the verdict sentences, what was missing."""

    path: Path
    pages: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def render_report(store: ResultsStore, study: str, out: str | Path, *, spec: dict | None = None,
                  baseline_method: str = "vanilla", margin: float = 0.01, fraction: float = 0.9,
                  n_resamples: int = 1000, seed: int = 0, meta: dict | None = None) -> ReportSummary:
    """Write the study's report to ``out`` (a multi-page PDF) and summarise it.

    Raises ReportError when the study has no trials. Pages whose data is absent say so and are listed in
    ``missing``; the per-layer page appears only when per-layer trials exist.
    """
    data = read_study(store, study)
    tables = study_tables(data.trials, data.runs, masks=data.masks, layer_order=data.layer_order,
                          contrasts=spec_contrasts(spec, data.trials, margin=margin, baseline=baseline_method),
                          baseline_method=baseline_method, margin=margin, fraction=fraction,
                          n_resamples=n_resamples, seed=seed, looks=data.looks)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df = tables["trials"]
    af = analysis_frame(df)
    verdicts = tables["verdicts"]["sentence"].tolist()
    keys = sorted(set(zip(df["variant"], df["method"])))
    style = curve_style(keys, baseline_method)
    with plt.rc_context(RC), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # layout hints from matplotlib/seaborn
        warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)  # seaborn's calls, not ours
        part = temp_path(out, "report")  # its own file: a failed render leaves ``out`` whole, nothing half-written
        fh = part.open("wb")  # closed here whatever happens (PdfPages leaves a file it failed to finish open)
        doc = Doc(fh, study)
        doc.missing += tables["missing"]["missing"].tolist()
        try:
            answer = None
            if spec and spec.get("answer"):
                answer = answer_tables(df, spec["answer"], fraction=fraction, n_resamples=n_resamples, seed=seed)
            title_page(doc, df, spec, verdicts, str(store.path), answer=answer["paragraphs"] if answer else None)
            if answer:
                answer_pages(doc, answer, question(df, spec))
            contrast_pages(doc, tables["contrasts"])
            sequential_pages(doc, tables["sequential_looks"])
            accuracy_pages(doc, tables["curves"], style, n_resamples, tables["curve_runs"])
            if not af.empty:
                distribution_pages(doc, af, style)
            forest_pages(doc, tables["curve_summary"], tables["curves"], style, fraction, tables["missing"])
            comparison_pages(doc, tables["method_comparison"], tables["architecture_comparison"],
                             baseline_method, margin, tables["missing"],
                             (tables["method_comparison_maps"], tables["architecture_comparison_maps"]))
            if not tables["reliability_comparison"].empty:
                doc.table_pages("Per-sample reliability: methods compared (recipe level)",
                                recipe_display(tables["reliability_comparison"], "variant", "method_a"),
                                notes="Each training run's reliable share (points correct in >= 95 % of its trials) "
                                      "is one value; methods paired by training seed; exploratory (raw p, no "
                                      "verdict); both arms with <= 5 % reliable points: at the floor.")
            variance_pages(doc, tables["variance_components"])
            reliability_pages(doc, tables["reliability_maps"], tables["reliability"], style, tables["missing"])
            layer_pages(doc, tables["layer_sensitivity"])
            group_comparison_pages(doc, tables["group_comparison"])
            methods_pages(doc, methods_paragraphs(
                df, store.campaigns(), baseline=baseline_method, margin=margin, fraction=fraction,
                n_resamples=n_resamples, seed=seed, spec=spec, meta=meta))
            spec_pages(doc, spec)
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
    return ReportSummary(out, doc.pages, verdicts, doc.missing)
