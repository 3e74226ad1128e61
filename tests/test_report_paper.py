"""The report as a paper (issue 24): a main part of at most 8 pages before the appendix divider, page 1 with the
question, each primary contrast's verdict and the methods' facts, no impossible number in the PDF, the CSVs or the
terminal, a single campaign's answer, level (a) never shaded as the answer, and ``faultlab stats`` in 120 columns.
The stores are written through the store API with demo-like curves (tests/report_studies.py)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from pypdf import PdfReader
from report_studies import campaign_store, demo_like_store

import faultlab.report.layout as layout
from faultlab.cli import main
from faultlab.report import render_report
from faultlab.report.facts import training_words
from faultlab.report.terminal import WIDTH

VARIANTS = ["mini_mobilenet-1x(8,1,6)", "resnet20", "resnet20-lb[s2b3c2e6]"]  # 3 architectures x 2 methods
FAST = {"n_resamples": 100}
NUMBER = r"[+-]?\d+(?:\.\d+)?"
INTERVAL = re.compile(rf"\[({NUMBER})(?:, |–)({NUMBER})\]")


NOTES = "Only the ordering of the arms is comparable with the paper: its noise model differs."


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo-like study rendered once, every page's figure inspected as it is saved."""
    folder = tmp_path_factory.mktemp("paper")
    store = demo_like_store(folder / "demo.sqlite", "demo", VARIANTS, trials=8, n_samples=100, notes=NOTES)
    seen: list[tuple[str, list[tuple]]] = []
    save = layout.Doc.save

    def inspect(doc, fig: Figure) -> None:
        cells = [(c.get_text().get_text(), c.get_facecolor()) for ax in fig.axes for t in ax.tables
                 for c in t.get_celld().values()]
        limits = [(ax.get_ylabel(), ax.get_ylim(), ax.get_xlabel(), ax.get_xlim()) for ax in fig.axes]
        seen.append((doc._titles[id(fig)], cells, limits))
        save(doc, fig)

    layout.Doc.save = inspect
    try:
        summary = render_report(store, "demo", folder / "demo.pdf", spec=store.study_spec("demo"), **FAST)
    finally:
        layout.Doc.save = save
    texts = [page.extract_text() for page in PdfReader(summary.path).pages]
    return store, folder, summary, texts, seen


def _intervals(text: str) -> list[tuple[str, float, float]]:
    """Every ``[a, b]`` of numbers in ``text``: signed ones are differences (pp), unsigned ones accuracies (%)."""
    return [("pp" if m.group(1)[0] in "+-" or m.group(2)[0] in "+-" else "%", float(m.group(1)), float(m.group(2)))
            for m in INTERVAL.finditer(text)]


def _check_bounded(text: str) -> int:
    found = _intervals(text)
    for kind, lo, hi in found:
        low = -100.0 if kind == "pp" else 0.0
        assert low <= lo <= hi <= 100.0, (kind, lo, hi)
    return len(found)


def test_main_part_is_at_most_8_pages_then_the_appendix(demo):
    _, _, summary, texts, _ = demo
    divider = next(i for i, t in enumerate(texts) if _flat(t).startswith("Appendix"))
    assert divider == summary.main_pages <= 8
    assert summary.pages[:divider] == ["Fault-tolerance report: demo", "Accuracy vs fault rate", "Primary contrasts",
                                       "Critical rate and AUC: drop(p={rate})"]
    assert len(summary.pages) > divider + 5  # the tables went to the appendix, not away
    appendix = _flat(texts[divider])
    for section in ("Declared contrasts", "Conditional on the trained networks", "Variance components", "Methods",
                    "Study spec"):
        assert section in appendix


def test_page_one_answers_with_each_contrast_and_the_methods_facts(demo):
    store, _, summary, texts, _ = demo
    first = _flat(texts[0])
    assert "Are mini-MobileNets and ResNet20" in first
    assert "Answer (recipe level: training runs are the replicates; 3 declared contrasts, one family" in first
    contrasts = {"dropconnect vs vanilla on " + v for v in VARIANTS}
    for name in contrasts:  # each primary contrast with its verdict, effect and interval, or what would decide it
        assert re.search(re.escape(name) + r": (better|worse|equivalent within ±1.0 pp|inconclusive) — [+-]\d", first)
    assert "AUC of accuracy over 0.1–0.5, every conv and linear layer" in first
    for fact in ("mnist5k; 100 test points per trial", "2 epochs of adam (lr 0.003), batch 128; training seeds 0, 1",
                 "dropconnect (dropconnect, drop(p=0.3))", "0.1, 0.2, 0.3, 0.4, 0.5", "runs per arm: 2; 6 arms",
                 "8 fault maps per run and rate", "clean accuracy (%)"):
        assert fact in first, fact
    assert re.search(r"6 arms \(\d architectures and 2 training methods\)", first)  # arms, not a product
    runs = store.runs("demo")
    arm = [r["clean_accuracy"] for r in runs if r["variant"] == "resnet20" and r["method"] == "vanilla"]
    assert f"{sum(arm) / 2 * 100:.1f} ({min(arm) * 100:.1f}–{max(arm) * 100:.1f})" in first  # mean (range)


def test_no_impossible_number_in_the_pdf(demo):
    _, _, summary, texts, seen = demo
    assert sum(_check_bounded(t) for t in texts) > 80
    assert "[-100.0, +100.0] *" in _flat("\n".join(texts)) or "[0.0, 100.0]*" in _flat("\n".join(texts))
    for _, _, limits in seen:  # every accuracy or AUC axis stays within [0, 100] % (plus a marker's pad)
        for ylabel, ylim, xlabel, xlim in limits:
            if ylabel.startswith("accuracy (%)"):
                assert ylim[0] >= -1 and ylim[1] <= 101, ylim
            if xlabel.startswith("AUC"):
                assert xlim[0] >= -1 and xlim[1] <= 101, xlim


def test_level_a_tables_are_never_shaded_as_an_answer(demo):
    *_, seen = demo
    level_a = [(title, cells) for title, cells, _ in seen if title.startswith("Conditional on the trained networks")]
    assert level_a and any("better" in text for _, cells in level_a for text, _ in cells)
    shades = {to_hex(c) for c in layout.VERDICT_COLOURS.values()}
    for _, cells in level_a:  # white body, grey header: no verdict colour at all
        assert not {to_hex(colour) for _, colour in cells} & shades


def test_the_spec_is_compact_yaml(demo):
    _, _, summary, texts, _ = demo
    spec = _flat("\n".join(t for t, p in zip(texts, summary.pages) if p.startswith("Study spec")))
    assert "rates: [0.1, 0.2, 0.3, 0.4, 0.5]" in spec and "seeds: [0, 1]" in spec
    assert "answer:" not in spec  # null entries left out


def test_no_appendix_and_the_csvs_and_terminal_stay_in_range(demo, capsys):
    store, folder, summary, _, _ = demo
    out = folder / "main.pdf"
    assert main(["report", "demo", "--store", str(store.path), "--out", str(out), "--no-appendix",
                 "--resamples", "100"]) in (0, None)
    printed = capsys.readouterr().out
    pages = [_flat(p.extract_text()) for p in PdfReader(out).pages]
    assert len(pages) == summary.main_pages and not any(p.startswith("Appendix") for p in pages)
    assert f"({summary.main_pages} pages: main part {summary.main_pages})" in printed
    assert main(["stats", "demo", "--store", str(store.path), "--csv", str(folder / "tables"),
                 "--resamples", "100"]) in (0, None)
    text = capsys.readouterr().out
    assert _check_bounded(text) > 20
    levels = {"curves", "curve_summary", "reliability", "reliability_maps", "cells_maps"}  # accuracies, shares
    checked = 0
    for path in sorted((folder / "tables").glob("*.csv")):  # every interval column of every CSV
        t = pd.read_csv(path)
        for lo, hi in (("ci_low", "ci_high"), ("low", "high"), ("auc_low", "auc_high")):
            if lo in t:
                low = 0.0 if path.stem in levels else -1.0
                assert t[lo].dropna().ge(low).all() and t[hi].dropna().le(1.0).all(), (path.stem, lo)
                assert (t[lo] <= t[hi]).where(t[lo].notna() & t[hi].notna(), True).all(), (path.stem, lo)
                checked += 1
    assert checked >= 9
    assert pd.read_csv(folder / "tables" / "contrasts.csv")["truncated"].any()  # a 2-run t interval was cut


def test_stats_in_the_terminal_fits_120_columns(demo, capsys):
    store, folder, *_ = demo
    assert main(["stats", "demo", "--store", str(store.path), "--csv", str(folder / "t2"), "--resamples", "100"]) \
        in (0, None)
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    text = "\n".join(lines)
    assert text.index("Accuracy per rate under drop(p={rate}), %") < text.index("Answer (recipe level")
    for v in VARIANTS:  # one short line per primary contrast, with its verdict
        assert re.search(rf"^- dropconnect vs vanilla on {re.escape(v)}: (better|worse|equivalent|inconclusive), "
                         r"[+-]\d+\.\d pp \[", text, re.M)
    assert re.search(r"^  contrasts\.csv +the declared contrasts", text, re.M)
    assert re.search(r"mini_mobilenet-1x\(8,1,6\) · vanilla +2 +\d+\.\d +\d+\.\d \[", text)  # % per rate
    start = next(i for i, line in enumerate(lines) if line.startswith("arm "))
    block = lines[start + 1:lines.index("", start)]  # the first block of accuracy per rate: % and intervals in %
    assert len(block) == 6 and all(re.fullmatch(r".+ · \w+ +2 +\d+\.\d( +\d+\.\d \[\d+\.\d, \d+\.\d\]\*?)+", r)
                                   for r in block), block


def test_a_single_campaign_gets_its_answer(tmp_path, capsys):
    store = campaign_store(tmp_path / "c.sqlite", per_layer=True, short_layer="features.2.dw")
    summary = render_report(store, "default", tmp_path / "c.pdf", **FAST)
    texts = [_flat(p.extract_text()) for p in PdfReader(summary.path).pages]
    first = texts[0]
    assert "Answer (conditional on the trained network: fault maps are the replicates)" in first
    assert re.search(r"clean 94\.6 %; 6\d\.\d % \[6\d\.\d, 7\d\.\d\] at 0\.01, [45]\d\.\d % \[[45]\d\.\d, [45]\d\.\d\] "
                     r"at 0\.02 \(95 % CI over 30 fault maps per rate, conditional on this trained network\); "
                     r"critical rate \(accuracy < 0\.9 × clean\) 0\.00\d+ \[0, 0\.0100\]", first)
    assert "Most sensitive layers of mlp-64 · vanilla" in first and "classifier -" in first
    assert "INCOMPLETE: 1 of 5 cells has fewer trials" in first
    assert "Table 1. Accuracy per rate" in first
    main_pages = summary.pages[:summary.main_pages]
    assert not any(p.startswith(("Primary contrasts", "Declared contrasts")) for p in summary.pages)
    assert not any("No comparison" in t or "Not available" in t for t in texts)
    assert not any("method comparison" in m or "architecture comparison" in m for m in summary.missing)
    accuracy = texts[summary.pages.index("Accuracy vs fault rate")]
    assert "conditional on that trained network" in accuracy and "recipe level" not in accuracy
    assert main_pages[-1].startswith("Per-layer sensitivity") and "INCOMPLETE" in texts[summary.main_pages - 1]
    assert sum(_check_bounded(t) for t in texts) > 3
    assert main(["stats", "default", "--store", str(store.path), "--csv", str(tmp_path / "t"),
                 "--resamples", "100"]) in (0, None)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= WIDTH
    assert "mlp-64 · vanilla  1" in out and "Most sensitive layers of mlp-64" in out and "critical rate" in out
    assert "method comparison" not in out


def test_training_budget_from_either_spec_format():
    old = {"training": {"epochs": 2, "seeds": [0, 1], "optimizer": "adam", "lr": 0.003},
           "data": {"options": {"batch_size": 128}}}
    new = {"training": {"seeds": [0, 1], "trainer": {"max_epochs": 3},
                        "model": {"optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1}}}}}
    assert training_words(old) == "2 epochs of adam (lr 0.003), batch 128; training seeds 0, 1"
    assert training_words(new) == "3 epochs of SGD (lr 0.1); training seeds 0, 1"
    assert training_words(None).startswith("not stored with the data")
    stopping = {"training": {"trainer": {"max_epochs": 30, "callbacks": [
        {"class_path": "lightning.pytorch.callbacks.EarlyStopping",
         "init_args": {"monitor": "val_acc", "mode": "max", "patience": 3}}]}}}
    assert training_words(stopping) == "until val_acc stopped improving for 3 epochs, at most 30 epochs"


def test_the_stored_spec_keeps_option_blocks_as_mappings_and_page_1_reads_them():
    """experiments/demo.yaml as the sweep stores it: trainer, model and data options are mappings (they were once
    stored as their Python text); page 1's facts read both; a fit config's data class gives the chance level."""
    from faultlab.report.facts import _methods_words
    from faultlab.stats.study import chance_level
    from faultlab.sweep.spec import load_study
    from faultlab.sweep.stored import study_record

    record = study_record(load_study("experiments/demo.yaml")[0])
    assert record["training"]["trainer"]["max_epochs"] >= 1 and isinstance(record["data"]["options"], dict)
    assert training_words(record).startswith(f"{record['training']['trainer']['max_epochs']} epoch")
    assert "of Adam (lr 0.003), batch 128" in training_words(record)
    model = "{'optimizer': {'class_path': 'torch.optim.Adam', 'init_args': {'lr': 0.003}}}"
    text = {"training": {"seeds": [0], "trainer": "{'max_epochs': 2}", "model": model},
            "data": {"options": "{'batch_size': 128}"}}
    assert training_words(text) == "2 epochs of Adam (lr 0.003), batch 128; training seeds 0"
    assert _methods_words(record, ["dropconnect", "vanilla"]).startswith("dropconnect (DropConnect, ")
    fit_run = {"config": {"training": {"data": {"class_path": "faultlab.data.datasets.MNIST5k", "init_args": {}}}}}
    assert chance_level([fit_run]) == 0.1


def test_the_terminal_text_needs_no_matplotlib():
    import subprocess
    import sys

    code = ("import sys, faultlab.report.terminal, faultlab.report.inputs; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_the_terminal_labels_a_contrast_with_its_surface_where_its_label_repeats():
    import pandas as pd

    from faultlab.report.terminal import _distinct_labels

    prim = pd.DataFrame({"contrast": ["shortcut", "shortcut", "depthwise"], "scope": ["network", "count:16", "network"],
                         "fault": ["drop(p={rate})"] * 3})
    assert list(_distinct_labels(prim)["contrast"]) == [
        "shortcut [whole network]", "shortcut [K = 16 per layer]", "depthwise [whole network]"]
    once = prim.iloc[[0, 2]]
    assert list(_distinct_labels(once)["contrast"]) == ["shortcut", "depthwise"]  # unique labels stay as declared
    two_faults = pd.DataFrame({"contrast": ["a", "a"], "scope": ["network"] * 2, "fault": ["drop(p={rate})", "sa0"]})
    assert list(_distinct_labels(two_faults)["contrast"]) == ["a [whole network] [drop(p={rate})]",
                                                              "a [whole network] [sa0]"]


def test_page_1_shows_the_study_notes_under_the_question(demo):
    """A spec's ``notes:`` (what the numbers can be compared with) is on page 1, after the question and before
    the answer; the stored spec in the appendix keeps it."""
    texts = demo[3]
    first = _flat(texts[0])
    assert NOTES in first and first.index(NOTES) < first.index("Answer")
    assert any("notes:" in t for t in texts[1:])
