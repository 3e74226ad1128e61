"""Page 1 after a study with declared contrasts: each contrast's clean-accuracy cost (the arms' clean accuracy and
its difference over training runs, from ``clean_costs``), and, only after a sequential sweep, the sentence that
says where it stopped and that the intervals are fixed-design, not adjusted for the looks; the terminal says the
same within 120 columns. Also the page furniture that the demo's pages showed wrong: the seeds trained (not the
declared ones), figure pages' margins, a table below a long subtitle, the log axis's break mark."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from matplotlib.text import Text
from pypdf import PdfReader
from report_studies import demo_like_store

import faultlab.plot as fp
import faultlab.report.layout as layout
from faultlab.report import render_report
from faultlab.report.answer_text import answer_of, clean_cost_words
from faultlab.report.facts import training_words
from faultlab.report.terminal import WIDTH, stats_text
from faultlab.stats.study import spec_contrasts, study_tables
from faultlab.stats.vocabulary import Decision

MINI, RES = "mini_mobilenet-1x(8,1,6)", "resnet20"
CONTRASTS = [{"kind": "method", "method": "dropconnect", "baseline": "vanilla", "architectures": [MINI]},
             {"kind": "architecture", "variant": MINI, "control": RES, "method": "vanilla"}]
LABELS = [f"dropconnect vs vanilla on {MINI}", f"{MINI} vs {RES} (vanilla)"]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _look_rows(study: str) -> list[dict]:
    """Look 1 at 3 runs per arm of a design 3, 4, 5: both contrasts decided ``better``."""
    arms = [[(MINI, "dropconnect")], [(MINI, "vanilla")]], [[(MINI, "vanilla")], [(RES, "vanilla")]]
    return [{"study": study, "look": 1, "runs_per_arm": 3, "contrast": label, "fault": "drop(p={rate})",
             "scope": "network", "arms": a + b, "n_runs": 3, "estimate": 0.1, "se": 0.01, "df": 2.0,
             "statistic": 10.0, "efficacy_bound": 8.0, "futility_bound": 1.0, "equivalence_bound": 5.0, "margin": 0.01,
             "decision": Decision.BETTER, "reason": None, "first_look": 3, "step": 1, "max_runs": 5, "alpha": 0.05,
             "futility": True, "power": 0.8} for label, (a, b) in zip(LABELS, arms)]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The same study twice: swept at once (no looks) and sequentially (one recorded look)."""
    folder = tmp_path_factory.mktemp("page1")
    fixed = demo_like_store(folder / "fixed.sqlite", "fixed", [MINI, RES], seeds=(0, 1, 2), trials=6, n_samples=60,
                            contrasts=CONTRASTS)
    seq = demo_like_store(folder / "seq.sqlite", "seq", [MINI, RES], seeds=(0, 1, 2), trials=6, n_samples=60,
                          contrasts=CONTRASTS)
    seq.record_look(_look_rows("seq"))
    return folder, fixed, seq


def _tables(store, study: str) -> dict:
    from faultlab.report.inputs import read_study

    data = read_study(store, study)
    spec = store.study_spec(study)
    return study_tables(data.trials, data.runs, contrasts=spec_contrasts(spec, data.trials), n_resamples=50,
                        looks=data.looks)


def test_page_one_states_each_contrasts_clean_accuracy_cost_and_no_sequential_note_without_looks(stores):
    _, fixed, _ = stores
    tables = _tables(fixed, "fixed")
    costs = tables["clean_costs"].set_index("contrast")
    ans = answer_of(tables, None, 0.9)
    assert "Sequential" not in ans.note and "looks" not in " ".join(ans.sentences)
    for label in LABELS:
        (sentence,) = [s for s in ans.sentences if s.startswith(label + ":")]
        c = costs.loc[label]
        assert (f"Clean accuracy without faults {c['clean_a'] * 100:.1f} % vs {c['clean_b'] * 100:.1f} %, difference "
                f"{c['estimate'] * 100:+.1f} pp [{c['low'] * 100:+.1f}, {c['high'] * 100:+.1f}] (95 % CI over the same "
                "training runs; descriptive, not tested).") in sentence
    # the fixture's DropConnect costs 5 pp of clean accuracy (report_studies.METHODS), paired over 3 seeds
    assert costs.loc[LABELS[0], "estimate"] == pytest.approx(-0.05, abs=0.03) and costs.loc[LABELS[0], "n_pairs"] == 3


def test_clean_cost_without_an_interval_says_why():
    row = {"clean_a": 0.87, "clean_b": 0.93, "estimate": -0.06, "low": np.nan, "high": np.nan, "truncated": False,
           "level": 0.95, "reason": "too few runs"}
    words = clean_cost_words(row)
    assert words.startswith("Clean accuracy without faults 87.0 % vs 93.0 %, difference -6.0 pp (no interval: ")
    assert clean_cost_words({**row, "reason": "arm absent"}) == ""


def test_a_sequential_study_says_its_intervals_are_fixed_design_on_page_1_the_forest_and_the_terminal(stores):
    folder, _, seq = stores
    tables = _tables(seq, "seq")
    note = answer_of(tables, None, 0.9).note
    assert ("Sequential seeds: the sweep stopped at look 1 (3 runs per arm), where its group-sequential boundaries "
            "had decided 2 of 2 contrasts (Sequential seeds page); the verdicts, p-values and 95 % CIs here are "
            "fixed-design analyses of the runs trained, not adjusted for the looks.") in note
    summary = render_report(seq, "seq", folder / "seq.pdf", spec=seq.study_spec("seq"), n_resamples=50,
                            appendix=False)
    texts = [_flat(p.extract_text()) for p in PdfReader(summary.path).pages]
    assert "not adjusted for the looks" in texts[0] and "Clean accuracy without faults" in texts[0]
    forest = texts[summary.pages.index("Primary contrasts")]
    assert "not adjusted for multiplicity or for the sequential looks: a fixed-design interval" in forest
    text = stats_text(tables, study="seq", question=None, store="s.sqlite")
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "Clean accuracy a - b (no faults; 95 % CI over training runs" in text
    assert "(the looks below)" in text and "\nSequential looks:\n  sequential seeds: looks at 3, 4, 5 runs" in text


def test_the_facts_name_the_seeds_trained_when_a_sequential_sweep_stopped_early():
    spec = {"training": {"seeds": [10, 11, 12, 13, 14, 15], "trainer": {"max_epochs": 2}}}
    assert training_words(spec, [10, 11, 12, 13]) == \
        "2 epochs; training seeds 10, 11, 12, 13 (of 10–15 declared)"
    assert training_words(spec, list(range(10, 16))) == "2 epochs; training seeds 10, 11, 12, 13, 14, 15"
    assert training_words({"training": {"seeds": [3, 1, 7], "epochs": 1}}, [1, 3]) == \
        "1 epoch; training seeds 1, 3 (of 3, 1, 7 declared)"


def test_figure_pages_keep_labels_off_the_page_edge_and_tables_below_their_subtitle():
    doc = layout.Doc(io.BytesIO(), "t")
    fig, body = doc.figure_page("Primary contrasts", "caption")
    long = {"contrast": ["a very long contrast label that would reach the page's left edge " * 2, "b"],
            "estimate": [0.1, 0.2], "low": [0.05, 0.1], "high": [0.15, 0.3], "verdict": ["better", "better"]}
    import pandas as pd

    fp.contrast_forest(pd.DataFrame(long), ax=body.subplots())
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    left = min(t.get_window_extent(renderer).x0 for t in fig.findobj(Text) if t.get_text() and t.get_visible())
    assert left >= 0.25 * fig.dpi  # at least a quarter inch from the edge
    subtitle = "the design of the looks, long enough to take three lines of the subtitle; " * 5
    top = layout.table_top_in(subtitle)
    lines = len(re.findall(r".{1,150}(?:\s|$)", subtitle))
    assert top >= layout.SUBTITLE_TOP_IN + lines * 9 * 1.2 / 72 and layout.table_top_in("") == layout.TABLE_TOP_IN
    doc.save(fig)  # closes the figure: no pyplot figure is left open for the next test in this process
    doc.close()


def test_the_log_rate_axis_break_is_plain_text():
    import pandas as pd

    rows = [{"variant": "m", "architecture": "m", "method": "vanilla", "train_seed": s, "run_id": f"r{s}",
             "fault": "drop(p={rate})", "rate": r, "trial": t, "layer": "*", "accuracy": 0.9 - r,
             "clean_accuracy": 0.9} for s in range(3) for r in (0.001, 0.01, 0.1) for t in range(2)]
    fig = fp.accuracy_vs_rate(pd.DataFrame(rows), n_resamples=20)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and any(t.get_text() == "//" for t in ax.texts)
    assert not any("$" in str(line.get_marker()) for line in ax.get_lines())


def test_an_answer_block_lists_the_clean_costs_and_why_a_ci_can_exclude_0_while_inconclusive():
    import pandas as pd

    from faultlab.report.answer_text import clean_costs_sentence, unadjusted_words

    costs = pd.DataFrame([{"contrast": c, "fault": "f", "scope": s, "clean_a": 0.934, "clean_b": 0.947,
                           "estimate": -0.013, "low": -0.03, "high": 0.004, "reason": ""}
                          for c in ("shortcut", "expansion") for s in ("network", "count:16")])
    sentence = clean_costs_sentence(costs)
    assert sentence.count("shortcut 93.4 % vs 94.7 %, -1.3 pp [-3.0, +0.4]") == 1  # once, whatever its surfaces
    assert "expansion 93.4 % vs 94.7 %" in sentence and clean_costs_sentence(costs.iloc[:0]) == ""
    prim = pd.DataFrame({"verdict": ["inconclusive", "better", "inconclusive"], "low": [0.015, 0.2, -0.1],
                         "high": [0.13, 0.3, 0.1]})
    assert "1 inconclusive contrast has a CI that excludes 0" in unadjusted_words(prim)
    assert unadjusted_words(prim.iloc[1:]) == ""


def test_page_one_wraps_a_unit_with_its_number():
    from faultlab.report.front_page import _wrap

    text = "shortcut 93.4 % vs 94.7 %, -1.3 pp [-3.0, +0.4]; linear projection 93.4 % vs 92.2 %, +1.1 pp"
    for width in range(20, 60):
        assert not any(line.startswith(("%", "pp")) for line in _wrap(text, width)), width


def test_the_looks_page_shows_each_contrasts_last_look_when_every_look_does_not_fit():
    import pandas as pd

    from faultlab.report.sequential_pages import fits_one_page, last_looks
    from faultlab.stats.looks import looks_table

    rows = []
    for look, runs in ((1, 3), (2, 5)):
        for i in range(14 if look == 1 else 12):  # two contrasts decided at look 1
            rows.append({**_look_rows("s")[0], "look": look, "runs_per_arm": runs, "contrast": f"c{i}",
                         "decision": Decision.BETTER if look == 2 or i >= 12 else Decision.CONTINUE})
    looks = looks_table(rows)
    assert not fits_one_page(looks) and fits_one_page(looks.iloc[:10])
    last = last_looks(looks)
    assert list(last["contrast"]) == [f"c{i}" for i in range(14)]  # in the order first tested
    assert list(last["look"]) == [2] * 12 + [1, 1]
    assert isinstance(last, pd.DataFrame)


def test_a_count_series_lacking_a_layer_too_small_for_k_is_not_incomplete():
    import pandas as pd

    rows = [{"variant": "m", "architecture": "m", "method": "vanilla", "run_id": "r", "train_seed": 0,
             "fault": "drop(p={rate})", "layer": layer, "layer_group": None, "equal_count": k, "rate": k / size,
             "trial": t, "accuracy": 0.8, "clean_accuracy": 0.9}
            for layer, size in (("stem", 72), ("body", 2048)) for k in (16, 64, 256) if k <= size for t in range(2)]
    fig = fp.layer_sensitivity(pd.DataFrame(rows))
    assert not any("INCOMPLETE" in ax.get_title() for ax in fig.axes)
    rows = [r for r in rows if not (r["layer"] == "body" and r["equal_count"] == 64)]  # a K the layer could take
    fig = fp.layer_sensitivity(pd.DataFrame(rows))
    assert any("INCOMPLETE: 1 layer(s) missing" in ax.get_title() for ax in fig.axes)


def test_a_forest_page_of_several_surfaces_has_one_legend_under_its_panels(stores):
    folder, fixed, _ = stores
    import pandas as pd

    from faultlab.report.figure_pages import forest_pages

    contrasts = _tables(fixed, "fixed")["contrasts"]
    prim = contrasts[contrasts["role"] == "primary"]
    two = pd.concat([prim, prim.assign(surface="another surface", scope="count:16")], ignore_index=True)
    seen = []
    save = layout.Doc.save
    layout.Doc.save = lambda doc, fig: seen.append(fig)
    try:
        doc = layout.Doc(io.BytesIO(), "t")
        forest_pages(doc, two)
    finally:
        layout.Doc.save = save
    (fig,) = seen
    panels = [ax for ax in fig.findobj(lambda a: hasattr(a, "get_legend") and hasattr(a, "get_yticks"))]
    assert len(panels) == 2 and all(ax.get_legend() is None for ax in panels)
    legends = [leg for sub in fig.subfigs for inner in sub.subfigs for leg in inner.legends]
    (legend,) = legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert len(labels) == len(set(labels)) and labels[-1].startswith("equivalence margin")
    import matplotlib.pyplot as plt

    plt.close(fig)  # the stand-in save kept it open: leave no pyplot figure to the next test in this process


def test_the_contrast_table_gives_each_measure_its_unit():
    from faultlab.report.comparison_pages import _means, _share

    assert _means(0.934, 0.947, "accuracy") == "93.4 % / 94.7 %"
    assert _means(-0.296, -0.568, "loss") == "-29.6 pp / -56.8 pp"  # accuracy - clean: a difference, in pp
    assert _means(-0.316, -0.6, "relative") == "-31.6 % / -60.0 %" and _share(0.283) == "+28.3 %"
