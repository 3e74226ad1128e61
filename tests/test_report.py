"""The study report: tables, CSV export and the PDF, on a tiny synthetic store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from faultlab.report import ReportError, ReportSummary, export_tables, render_report
from faultlab.report.inputs import read_study
from faultlab.stats import ContrastSpec
from faultlab.stats import study_tables as tables_of
from faultlab.store import ResultsStore

FAULT = "drop(p={rate})"
VARIANTS = {"resnet20-lb[s2b3c2e6]": "resnet20", "mini_mobilenet-1x(8,1,6)": "mini_mobilenet"}
SLOPE = {"vanilla": 1.2, "dropconnect": 0.4}  # accuracy lost per unit rate: dropconnect clearly better
N_SAMPLES, N_TRIALS = 50, 10
SEEDS = (0, 1, 2, 3)  # recipe-level verdicts need training runs, not trials
LAYERS = ("features.0.conv", "features.1.conv", "classifier")
FAST = {"n_resamples": 200}


def build_store(path, study: str, rates=(0.1, 0.2, 0.3), masks: bool = True, layers: bool = True) -> ResultsStore:
    """2 variants x 2 methods x 4 seeds x rates x 10 trials (+ a few per-layer trials), common random numbers."""
    store = ResultsStore(path)
    easy = np.random.default_rng(0).uniform(-0.3, 0.3, N_SAMPLES)  # per-test-point difficulty
    for v_i, (variant, arch) in enumerate(VARIANTS.items()):
        for method, slope in SLOPE.items():
            for seed in SEEDS:
                run_id, clean = f"{variant}-{method}-{seed}", 0.9 - 0.02 * v_i + 0.005 * seed
                store.add_run({"run_id": run_id, "study": study, "architecture": arch, "variant": variant,
                               "method": method, "train_seed": seed, "clean_accuracy": clean,
                               "config": {"lr": 0.1, "num_classes": 10}})
                store.add_campaign({"campaign_id": f"c-{run_id}", "run_id": run_id, "fault": FAULT,
                                    "campaign_seed": 7, "bn_recalibration": 0})
                rows = []
                cells = [("*", r, t) for r in rates for t in range(N_TRIALS)]
                cells += [(layer, r, t) for layer in LAYERS for r in rates for t in range(3)] if layers else []
                for layer, rate, trial in cells:
                    maps = np.random.default_rng([int(rate * 1000), trial, len(layer), seed])  # shared fault map
                    level = clean - slope * rate * (0.3 if layer != "*" else 1.0) + maps.normal(0, 0.03)
                    correct = maps.random(N_SAMPLES) < np.clip(level + easy, 0, 1)
                    row = {"campaign_id": f"c-{run_id}", "run_id": run_id, "fault": FAULT, "rate": rate,
                           "trial": trial, "layer": layer, "fault_seed": trial, "accuracy": float(correct.mean()),
                           "loss": 1.0, "seconds": 0.01}
                    rows.append({**row, "correct": correct} if masks else {**row, "n_samples": N_SAMPLES})
                store.add_trials(rows)
    return store


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    return build_store(folder / "results.db", "tiny"), folder


@pytest.fixture(scope="module")
def report(tiny):
    store, folder = tiny
    spec = {"study": "tiny", "fault": FAULT, "rates": [0.1, 0.2, 0.3], "trials": N_TRIALS,
            "methods": list(SLOPE), "variants": list(VARIANTS)}
    summary = render_report(store, "tiny", folder / "tiny.pdf", spec=spec, meta={"git": "abc1234"}, **FAST)
    reader = PdfReader(summary.path)
    return summary, [page.extract_text() for page in reader.pages]


def _flat(text: str) -> str:
    return " ".join(text.split())


def study_tables(store: ResultsStore, study: str, **kw) -> dict[str, pd.DataFrame]:
    """The tables of a stored study, read the way ``faultlab stats`` and the report read them."""
    data = read_study(store, study)
    return tables_of(data.trials, data.runs, masks=data.masks, layer_order=data.layer_order, **kw)


def test_report_pages_match_summary(report):
    summary, texts = report
    assert isinstance(summary, ReportSummary) and summary.path.exists()
    assert len(texts) == len(summary.pages)
    for title, text in zip(summary.pages, texts):
        assert _flat(title) in _flat(text)
    main = ("Fault-tolerance report: tiny", "Accuracy vs fault rate", "Primary contrasts", "Critical rate and AUC",
            "Per-layer sensitivity")
    assert [p.split(":")[0] for p in summary.pages[:summary.main_pages]] == [m.split(":")[0] for m in main]
    assert summary.pages[summary.main_pages] == "Appendix"
    for expected in ("Declared contrasts", "Accuracy per rate", "Architecture pairs (exploratory)",
                     "Conditional on the trained networks (level a)", "Per-sample reliability", "Methods",
                     "Study spec", "Variance components", "Per-sample reliability: methods compared"):
        assert any(p.startswith(expected) for p in summary.pages[summary.main_pages:]), expected
    assert summary.missing == []


def test_report_headline_and_tables(report):
    summary, texts = report
    assert all(v.startswith("dropconnect vs vanilla on") and ": better — AUC of accuracy over 0.1–0.3" in v
               for v in summary.verdicts)
    first = _flat(texts[0])
    for variant in VARIANTS:  # one sentence per primary contrast, its verdict in words
        assert f"dropconnect vs vanilla on {variant}: better — +" in first
    assert "Do mini_mobilenet-1x(8,1,6) and resnet20-lb[s2b3c2e6]" in first
    table_text = _flat("\n".join(texts[i] for i, p in enumerate(summary.pages) if p.startswith("Declared")))
    assert "adj. p" in table_text and "verdict" in table_text and "better" in table_text
    everything = _flat("\n".join(texts))
    assert "abc1234" in everything and "Wilcoxon" in everything and "TOST" in everything
    assert "Conditional on the trained networks" in everything and "recipe level" in _flat(texts[0])


def test_study_tables_verdicts(tiny):
    store, _ = tiny
    tables = study_tables(store, "tiny", **FAST)
    methods = tables["method_comparison"]
    high = methods[methods["rate"] == 0.3]
    assert set(high["verdict"]) == {"better"} and (high["estimate"] > 0.1).all()
    assert set(tables["curve_summary"]["variant"]) == set(VARIANTS)
    assert len(tables["architecture_comparison"]) == 2 * 4  # one pair x 2 methods x (3 rates + AUC)
    assert (methods["design"] == "paired by seed").all() and (methods["n_pairs"] == len(SEEDS)).all()
    assert tables["family"]["family"].iloc[0].startswith("primary: closed test over 2 declared contrast")
    assert set(methods["role"]) == {"primary", "secondary"}  # every method pair is a default contrast
    assert set(tables["architecture_comparison"]["role"]) == {"exploratory"}
    rel = tables["reliability_maps"]
    assert len(rel) == 8 * 3 * 2 and rel["reliable"].between(0, 1).all()
    assert (rel["ci_low"] <= rel["reliable"]).all() and (rel["reliable"] <= rel["ci_high"]).all()
    assert set(tables["method_comparison_maps"]["claim"]) == {"conditional on the trained networks (fault maps "
                                                               "as replicates)"}
    assert set(tables["layer_sensitivity"]["layer"]) == set(LAYERS)


def test_export_tables_roundtrip(tiny, tmp_path):
    store, _ = tiny
    tables = study_tables(store, "tiny", **FAST)
    paths = export_tables(tables, tmp_path / "csv")
    assert {p.stem for p in paths} == set(tables) - {"trials"}
    for path in paths:
        assert len(pd.read_csv(path)) == len(tables[path.stem])
    back = pd.read_csv(tmp_path / "csv" / "method_comparison.csv")
    assert list(back.columns) == list(tables["method_comparison"].columns)


def test_empty_study_is_a_clear_error(tiny, tmp_path):
    store, _ = tiny
    with pytest.raises(ReportError) as err:
        render_report(store, "x", tmp_path / "x.pdf", **FAST)
    assert isinstance(err.value, ValueError)
    assert str(err.value) == (f"study 'x' has no trials in {store.path}; "
                              "run `faultlab sweep` or `faultlab campaign` first")
    assert not (tmp_path / "x.pdf").exists()


def test_single_rate_study_renders_and_says_what_is_missing(tmp_path):
    store = build_store(tmp_path / "one.db", "one", rates=(0.2,), masks=False, layers=False)
    summary = render_report(store, "one", tmp_path / "one.pdf", **FAST)
    assert len(PdfReader(summary.path).pages) == len(summary.pages)
    assert any("AUC" in m and ">= 2 rates" in m for m in summary.missing)
    assert any("per-sample" in m for m in summary.missing)
    assert not any(p.startswith("Per-layer") for p in summary.pages)
    assert not any("layer" in m for m in summary.missing)
    assert summary.verdicts
    written = {p.stem for p in export_tables(study_tables(store, "one", **FAST), tmp_path / "csv")}
    assert "curve_summary" not in written and {"missing", "curves", "method_comparison"} <= written


def test_per_layer_only_study_renders(tmp_path):
    store = ResultsStore(tmp_path / "layers.db")
    store.add_run({"run_id": "r", "study": "layers", "architecture": "mlp", "variant": "mlp-2x8", "method": "vanilla",
                   "train_seed": 0, "clean_accuracy": 0.9})
    store.add_campaign({"campaign_id": "c", "run_id": "r", "fault": FAULT})
    store.add_trials([{"campaign_id": "c", "run_id": "r", "fault": FAULT, "rate": rate, "trial": t, "layer": layer,
                       "accuracy": 0.9 - rate * (i + 1) / 4} for i, layer in enumerate(("fc1", "fc2"))
                      for rate in (0.1, 0.2) for t in range(3)])
    summary = render_report(store, "layers", tmp_path / "layers.pdf", **FAST)
    assert any(p.startswith("Per-layer sensitivity") for p in summary.pages)
    assert len(PdfReader(summary.path).pages) == len(summary.pages)
    assert any("whole-model" in m for m in summary.missing)


def test_formatting_and_question():
    from faultlab.report.text_pages import question
    from faultlab.stats import wording as fmt

    assert fmt.fmt_p(3e-5) == "<1e-4" and fmt.fmt_p(0.0012345) == "0.00123" and fmt.fmt_p(float("nan")) == "–"
    assert fmt.p_clause(3e-5, "Holm-adjusted p") == "Holm-adjusted p < 1e-4"
    assert fmt.fmt_pp(0.1234) == "+12.3 pp" and fmt.fmt_rate(float("inf")) == "> grid"
    df = pd.DataFrame({"variant": ["a", "b"], "method": ["vanilla", "mat"], "fault": [FAULT, FAULT]})
    assert question(df, None) == f"Do a and b, trained with mat or vanilla, differ in tolerance to {FAULT}?"
    assert question(df, {"question": "Why?"}) == "Why?"


def test_group_comparison_and_equal_count_heatmap(tmp_path):
    """Two architectures with group-scope rows (one clearly more tolerant in its depthwise group) and
    equal-count single-layer rows: the comparison table says so and both pages render."""
    store = ResultsStore(tmp_path / "groups.db")
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, 8)  # the same for both: the pointwise groups do not differ at all
    for variant, dw_drop in (("tolerant", 0.02), ("fragile", 0.20)):
        for seed in range(4):
            run = f"r-{variant}-{seed}"
            store.add_run({"run_id": run, "study": "groups", "architecture": variant, "variant": variant,
                           "method": "vanilla", "train_seed": seed, "clean_accuracy": 0.9})
            store.add_campaign({"campaign_id": f"c-{run}", "run_id": run, "fault": FAULT})
            shift = rng.normal(0, 0.01)  # run-to-run spread
            rows = [{"campaign_id": f"c-{run}", "run_id": run, "fault": FAULT, "rate": 0.2, "trial": t,
                     "layer": f"group:{g}", "layer_group": g,
                     "accuracy": 0.9 - d + shift + noise[t] + (g == "depthwise") * rng.normal(0, 0.01)}
                    for g, d in (("depthwise", dw_drop), ("pointwise", 0.05)) for t in range(8)]
            rows += [{"campaign_id": f"c-{run}", "run_id": run, "fault": FAULT, "rate": k / n, "trial": t,
                      "layer": name, "layer_group": g, "equal_count": k,
                      "accuracy": 0.9 - k / n + rng.normal(0, 0.01)}
                     for name, g, n in (("dw", "depthwise", 72), ("pw", "pointwise", 384)) for k in (4, 16)
                     for t in range(4)]
            store.add_trials(rows)
    declared = [ContrastSpec(kind="architecture", variant="fragile", control="tolerant", method="vanilla",
                             scope=f"group:{g}") for g in ("depthwise", "pointwise")]
    tables = study_tables(store, "groups", contrasts=declared, **FAST)
    comp = tables["group_comparison"]
    dw = comp[(comp.scope == "group") & (comp.group == "depthwise")].iloc[0]
    assert (dw.variant_a, dw.variant_b) == ("fragile", "tolerant") and dw.verdict == "not tested"  # exploratory
    assert dw.ci_low < dw.estimate < dw.ci_high and dw.estimate == pytest.approx(-0.18, abs=0.02)
    tested = tables["contrasts"].query("role == 'primary'").set_index("scope")
    assert tested.loc["group:depthwise", "verdict"] == "worse"
    assert tested.loc["group:depthwise", "estimate"] == pytest.approx(dw.estimate)
    assert tested.loc["group:pointwise", "verdict"] == "inconclusive" and dw.n_a == dw.n_b == 4  # runs, not trials
    assert set(comp[comp.scope == "layer"]["level"]) == {"K=4", "K=16"}
    sens = tables["layer_sensitivity"]
    assert set(sens[sens.counted]["level"]) == {"K=4", "K=16"}
    summary = render_report(store, "groups", tmp_path / "groups.pdf", **FAST)
    assert any(p.startswith("Per-layer sensitivity") for p in summary.pages)
    assert "Per-group comparison between architectures" in summary.pages


def test_a_pre_specified_answer_is_page_one(tmp_path):
    """With an ``answer:`` block, page 1 gives the answer (overall outcome, then one sentence per surface) in place
    of the secondary verdicts, and its facts list the rates and the equal counts K apart."""
    store = ResultsStore(tmp_path / "answer.db")
    rng = np.random.default_rng(1)
    for variant, drop in (("lb", 0.02), ("plain", 0.20)):
        for seed in range(4):
            run = f"r-{variant}-{seed}"
            store.add_run({"run_id": run, "study": "ans", "architecture": variant, "variant": variant,
                           "method": "vanilla", "train_seed": seed, "clean_accuracy": 0.9})
            store.add_campaign({"campaign_id": f"c-{run}", "run_id": run, "fault": FAULT})
            shift = rng.normal(0, 0.01)
            rows = [{"campaign_id": f"c-{run}", "run_id": run, "fault": FAULT, "rate": r, "trial": t, "layer": "*",
                     "accuracy": 0.9 - drop * r / 0.2 + shift + rng.normal(0, 0.005)}
                    for r in (0.1, 0.2) for t in range(4)]
            rows += [{"campaign_id": f"c-{run}", "run_id": run, "fault": FAULT, "rate": 8 / 100, "trial": t,
                      "layer": "fc", "layer_group": "linear", "equal_count": 8,
                      "accuracy": 0.9 - 0.01 + rng.normal(0, 0.001)} for t in range(4)]
            store.add_trials(rows)
    spec = {"answer": {"margin": 0.01, "pairs": [{"variant": "lb", "control": "plain"}], "reference": "no advantage"}}
    summary = render_report(store, "ans", tmp_path / "ans.pdf", spec=spec, **FAST)
    first = _flat(PdfReader(summary.path).pages[0].extract_text())
    assert "the pre-specified pairs, one family" in first
    assert 'Overall, the reference\'s conclusion ("no advantage") depends on the fault surface' in first
    assert "every conv and linear layer, equal rate (drop(p={rate})): the bottleneck network loses less in 1 of 1: " \
           "lb vs plain (vanilla) +" in first
    assert "K = 8 weights per layer, one layer at a time (drop(p={rate})): equivalent within ±1 pp in 1 of 1" in first
    assert "rates: 0.1, 0.2" in first and "equal counts: K = 8 faulty weights per layer" in first
