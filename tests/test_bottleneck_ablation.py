"""The bottleneck ablation (issue 25): equal-count campaigns that skip a K larger than a layer, early stopping
from a study's training block, and the study file itself."""

from pathlib import Path

import pytest
import torch

import architectures
from faultlab.campaign import CampaignError, CampaignSpec, RunInfo, run_campaign
from faultlab.campaign.spec import validate
from faultlab.injection import layer_weights
from faultlab.selector import LayerSelector
from faultlab.store import ResultsStore

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def expansion_one():
    """A 2-block mini-MobileNet at expansion 1 with its expand conv kept: convs of 72, 64, 72 and 64 weights."""
    torch.manual_seed(0)
    net = architectures.build("mini_mobilenet_n", n=2, expansion=1, expand_conv=True).eval()
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    return net, x, y


def test_a_count_larger_than_a_layer_fails_unless_skipped(expansion_one, tmp_path):
    net, x, y = expansion_one
    sizes = {name: w.numel() for name, w in layer_weights(net, LayerSelector().select(net)).items()}
    spec = CampaignSpec("drop(p={rate})", [], trials=1, per_layer=True, equal_count=[16, 70])
    with ResultsStore(tmp_path / "a.sqlite") as store, pytest.raises(CampaignError, match="skip_larger_counts"):
        run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
    skipping = CampaignSpec("drop(p={rate})", [], trials=1, per_layer=True, equal_count=[16, 70],
                            skip_larger_counts=True)
    with ResultsStore(tmp_path / "b.sqlite") as store:
        run_campaign(net, x, y, skipping, store, RunInfo("r"), progress="off")
        df = store.to_frame()
    assert set(df.loc[df.equal_count == 16, "layer"]) == set(sizes)  # every layer holds 16 faults
    assert set(df.loc[df.equal_count == 70, "layer"]) == {n for n, k in sizes.items() if k >= 70}
    assert {n for n, k in sizes.items() if k < 70}  # the 64-weight 1x1 convs were left out at K = 70
    assert (df.rate - df.equal_count / df.layer.map(sizes)).abs().max() < 1e-12


def test_a_stored_equal_count_campaign_resumes_without_evaluating_again(expansion_one, tmp_path):
    """K / weights (16 / 62,720 for the classifier) is stored at 12 significant digits: a re-run finds its trials
    (it used to evaluate every count cell again, the store ignoring the duplicates)."""
    net, x, y = expansion_one
    spec = CampaignSpec("drop(p={rate})", [], trials=2, per_layer=True, equal_count=[16])
    with ResultsStore(tmp_path / "c.sqlite") as store:
        first = run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        again = run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        assert len(store.to_frame()) == sum(c.n_trials for c in first.cells) == 16  # 8 layers x 2 trials
    assert sum(c.new_trials for c in first.cells) == 16 and sum(c.new_trials for c in again.cells) == 0
    assert [c.mean for c in again.cells] == [c.mean for c in first.cells]


def test_skip_larger_counts_needs_equal_count():
    with pytest.raises(CampaignError, match="skip_larger_counts: needs equal_count"):
        validate(CampaignSpec("drop(p={rate})", [0.1], skip_larger_counts=True))


EARLY_STOPPING = {"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                  "init_args": {"monitor": "val_acc", "mode": "max", "patience": 1, "min_delta": 1.0}}


def test_a_study_trains_until_the_validation_accuracy_stops_improving(tmp_path):
    """trainer.callbacks in the training block reach every run (the parser leaves the study's mapping as written),
    with validation turned back on: a min_delta no epoch can beat stops after patience + 1 epochs of 10."""
    from pathlib import Path

    import yaml

    from faultlab.sweep import expand, parse_study
    from faultlab.sweep.execute import train

    raw = yaml.safe_load((Path(__file__).parent / "data" / "tiny_study.yaml").read_text())
    raw["data"]["options"]["val_fraction"] = 0.25
    raw["training"]["trainer"] = {"max_epochs": 10, "limit_val_batches": 1.0, "callbacks": [EARLY_STOPPING]}
    spec = parse_study(raw)
    assert spec.training.trainer["callbacks"] == [EARLY_STOPPING]  # checking the study built it, unchanged
    plan = next(p for p in expand(spec) if p.method.name == "vanilla" and p.arch.arch == "mlp")
    assert plan.config["trainer"]["callbacks"] == [EARLY_STOPPING]
    train(plan, tmp_path / "runs", tmp_path / "run.ckpt")
    assert torch.load(tmp_path / "run.ckpt", weights_only=False)["epoch"] == 2


# ----------------------------------------------------------------------- accuracy relative to clean (secondary)

RATES = (0.05, 0.1, 0.2, 0.4)


def _relative_study(rng, *, runs: int = 4, clean=(0.95, 0.80), slope: float = 0.8, effect: float = 0.0,
                    sd_run: float = 0.02, sd_clean: float = 0.01, sd_map: float = 0.01, names=("a", "b"),
                    effects=None):
    """Architectures whose runs keep a share 1 - slope·x + effect_arm + u_run (+ map noise) of their own clean
    accuracy c_run ~ N(clean_arm, sd_clean): the first gets ``effect`` (or each its ``effects``), so the true
    relative difference a - b is ``effect``; the true loss difference is not zero when the clean accuracies
    differ."""
    import numpy as np
    import pandas as pd

    rates, trials, k = np.asarray(RATES), 3, len(names)
    effects = [effect] + [0.0] * (k - 1) if effects is None else effects
    arm = np.repeat(np.arange(k), runs)  # one entry per run
    c_run = np.asarray(clean)[arm] + sd_clean * rng.standard_normal(k * runs)
    keep = (1 - slope * rates[None, :] + np.asarray(effects)[arm][:, None]
            + sd_run * rng.standard_normal(k * runs)[:, None])  # runs x rates
    acc = c_run[:, None, None] * (keep[:, None, :] + sd_map * rng.standard_normal((k * runs, trials, rates.size)))
    r, t, x = np.meshgrid(np.arange(k * runs), np.arange(trials), np.arange(rates.size), indexing="ij")
    labels = np.asarray(names)[arm[r.ravel()]]
    return pd.DataFrame({
        "architecture": labels, "variant": labels, "method": "vanilla", "fault": "drop(p={rate})", "layer": "*",
        "layer_group": None, "equal_count": 0, "run_id": [f"run{i}" for i in r.ravel()],
        "train_seed": r.ravel() % runs, "rate": rates[x.ravel()], "trial": t.ravel(), "accuracy": acc.ravel(),
        "clean_accuracy": c_run[r.ravel()], "n_samples": 1000})


def _table(frame, **kw):
    from faultlab.stats import ContrastSpec, contrast_table

    spec = ContrastSpec(kind="architecture", variant="a", control="b", method="vanilla", measure="loss",
                        secondary_measures=["relative"], margin=0.01, **kw)
    return contrast_table(frame, [spec])


def test_relative_loss_is_a_gated_secondary_row_that_removes_a_clean_accuracy_difference():
    import numpy as np

    from faultlab.stats.vocabulary import Measure, Role, Verdict

    table = _table(_relative_study(np.random.default_rng(0), runs=6, sd_run=0.01))
    primary = table[table.role == Role.PRIMARY].iloc[0]
    relative = table[table.measure == Measure.RELATIVE].iloc[0]
    assert primary.measure == Measure.LOSS and relative.role == Role.SECONDARY
    assert relative.endpoint == primary.endpoint and relative.span == primary.span
    # the better-trained arm loses more accuracy in pp (0.15 clean × 0.8 × the rates' trapezoid mean 0.225) ...
    assert primary.verdict == Verdict.WORSE and primary.estimate == pytest.approx(-0.15 * 0.8 * 0.225, abs=0.015)
    # ... but the same share of its clean accuracy: gated open by the decided primary, it is not "worse"
    assert relative.reason == "" and relative.verdict in (Verdict.EQUIVALENT, Verdict.INCONCLUSIVE)
    assert relative.low < 0 < relative.high and "relative to clean" in relative.unit


def test_relative_loss_interval_covers_the_true_difference():
    """120 simulated studies of 4 vs 4 runs, true relative difference +3 % of clean: the 95 % t interval of the
    secondary row covers it in 95 % ± 4.6 % (2.33 binomial sd)."""
    import numpy as np

    from faultlab.stats.vocabulary import Measure

    rng = np.random.default_rng(1)
    hits = []
    for _ in range(120):
        table = _table(_relative_study(rng, effect=0.03))
        row = table[table.measure == Measure.RELATIVE].iloc[0]
        hits.append(row.low <= 0.03 <= row.high)
    assert abs(np.mean(hits) - 0.95) <= 2.33 * (0.95 * 0.05 / len(hits)) ** 0.5


def test_secondary_measures_are_checked():
    from faultlab.stats import ContrastError, ContrastSpec

    with pytest.raises(ContrastError, match="secondary_measures"):
        ContrastSpec(kind="architecture", variant="a", control="b", measure="loss", secondary_measures=["loss"])
    with pytest.raises(ContrastError, match="secondary_measures"):
        ContrastSpec(kind="architecture", variant="a", control="b", secondary_measures=["relativ"])


def test_an_ablation_answers_from_its_declared_contrasts_and_judges_the_reference_on_its_component():
    """Three arms: the full block, one without component A (which carries the tolerance: +15 % of clean) and one
    without B (no effect). The answer rows are the study's contrast table's primary rows (the page-1 family) with
    their relative rows; the reference ("no advantage") is judged on B alone, so it holds or is not shown while
    A's advantage is reported as the component that carries the tolerance."""
    import numpy as np

    from faultlab.stats import ContrastSpec, contrast_table
    from faultlab.stats.answer import Outcome, answer_tables
    from faultlab.stats.vocabulary import Verdict

    frame = _relative_study(np.random.default_rng(3), runs=5, names=("full", "noA", "noB"),
                            clean=(0.95, 0.95, 0.95), effects=(0.15, 0.0, 0.15))
    specs = [ContrastSpec(kind="architecture", name=name, variant="full", control=control, method="vanilla",
                          measure="loss", secondary_measures=["relative"], margin=0.02)
             for name, control in (("component A", "noA"), ("component B", "noB"))]
    table = contrast_table(frame, specs)
    answer = {"reference": "no advantage", "reference_contrasts": ["component B"]}
    out = answer_tables(frame, answer, contrasts=table, n_resamples=50)
    effects = out["effects"]
    assert out["components"] and list(effects["contrast"]) == ["component A", "component B"]
    a, b = effects.iloc[0], effects.iloc[1]
    assert a.verdict == Verdict.BETTER and a.rel_verdict == Verdict.BETTER  # decided: its relative row is open
    assert b.verdict != Verdict.BETTER and b.rel_verdict in (Verdict.NOT_TESTED, Verdict.EQUIVALENT,
                                                             Verdict.INCONCLUSIVE)
    assert out["overall"] in (Outcome.HOLDS, Outcome.NOT_SHOWN)  # A's advantage does not count against it
    text = " ".join(out["paragraphs"])
    assert "judged on component B (each control differs" in text
    assert "the block loses less with: component A (whole network)" in text
    assert "component B (full vs noB): " in text and "No surface shows an advantage" in text  # B is never better
    assert list(out["clean"]["variant"]) == ["full", "noA", "noB"] and (out["clean"]["runs"] == 5).all()


def _ablation_store(path, frame, spec):
    from faultlab.store import ResultsStore

    store = ResultsStore(path)
    for run, g in frame.groupby("run_id"):
        first = g.iloc[0]
        store.add_run({"run_id": run, "study": "abl", "architecture": first.variant, "variant": first.variant,
                       "method": "vanilla", "train_seed": int(first.train_seed),
                       "clean_accuracy": float(first.clean_accuracy)})
        store.add_campaign({"campaign_id": f"c-{run}", "run_id": run, "fault": first.fault})
        store.add_trials([{"campaign_id": f"c-{run}", "run_id": run, "fault": r.fault, "rate": float(r.rate),
                           "trial": int(r.trial), "layer": "*", "accuracy": float(r.accuracy)}
                          for r in g.itertuples()])
    store.record_study("abl", spec)
    return store


def _ablation_spec():
    contrast = {"kind": "architecture", "variant": "full", "method": "vanilla", "measure": "loss",
                "secondary_measures": ["relative"], "margin": 0.02}
    return {"contrasts": [{**contrast, "name": "component A", "control": "noA"},
                          {**contrast, "name": "component B", "control": "noB"}],
            "answer": {"reference": "no advantage", "reference_contrasts": ["component B"]}}


def test_stats_plan_plans_the_declared_contrasts(tmp_path, capsys):
    import numpy as np

    from faultlab.cli import main

    frame = _relative_study(np.random.default_rng(3), runs=3, names=("full", "noA", "noB"),
                            clean=(0.95, 0.95, 0.95), effects=(0.15, 0.0, 0.15))
    _ablation_store(tmp_path / "abl.sqlite", frame, _ablation_spec()).close()
    main(["stats", "plan", "--from", "abl", "--store", str(tmp_path / "abl.sqlite"), "--effect", "0.05"])
    out = capsys.readouterr().out
    assert "component A" in out and "component B" in out and "(m = 2)" in out


def test_the_report_answers_an_ablation_on_page_one(tmp_path):
    """A spec with contrasts: and an answer block without pairs: page 1 is the component answer from the declared
    contrasts (the reference judged on its component), the answer pages show every component and surface with
    its relative loss, and the clean accuracy per arm."""
    import numpy as np
    from pypdf import PdfReader

    from faultlab.report import render_report

    frame = _relative_study(np.random.default_rng(3), runs=4, names=("full", "noA", "noB"),
                            clean=(0.95, 0.95, 0.95), effects=(0.15, 0.0, 0.15))
    spec = _ablation_spec()
    store = _ablation_store(tmp_path / "abl.sqlite", frame, spec)
    summary = render_report(store, "abl", tmp_path / "abl.pdf", spec=spec, n_resamples=100)
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(summary.path).pages]
    assert "the declared contrasts, one family" in pages[0] and "judged on component B" in pages[0]
    assert "component A, full vs noA (vanilla) (4+4 runs): whole network: better +" in " ".join(pages[:3])
    assert "Component effects (recipe level, the primary family)" in summary.pages
    assert "Clean accuracy per arm (test digits the campaigns use)" in summary.pages
    components = pages[summary.pages.index("Component effects (recipe level, the primary family)")]
    assert "rel. verdict" in components and "gated" in components or "equivalent" in components
    declared = pages[summary.pages.index("Declared contrasts (recipe level)")]
    assert "AUC 0.05–0.4, relative" in declared and "values in % of clean, not pp" in declared


# ------------------------------------------------------------------------------------------- the study file

ABLATION = Path(__file__).resolve().parents[1] / "experiments" / "bottleneck_ablation.yaml"
COMPONENTS = {"shortcut": "mini_mobilenet-4x(8,1,6)-noshortcut",  # contrast name -> its control's variant
              "linear projection": "mini_mobilenet-4x(8,1,6)-relu6proj",
              "expansion": "mini_mobilenet-4x(8,1,1)-expandconv", "depthwise": "mini_mobilenet-4x(8,1,6)-dense"}


def test_the_ablation_study_declares_one_component_per_contrast_on_every_surface_it_has():
    import architectures
    from faultlab.sweep import expand, load_study
    from faultlab.sweep.question import planned_contrasts, trained_arms

    spec, _ = load_study(ABLATION)  # parses; every contrast's names, campaign and surface checked
    names = {a.name: a for a in spec.architectures}
    variants = {n: architectures.build_for_input(a.arch, 10, (1, 28, 28), **a.kwargs).variant for n, a in names.items()}
    by_name: dict[str, list] = {}
    for c in spec.contrasts:
        by_name.setdefault(c.name, []).append(c)
        assert c.variant in names and c.control in names and c.measure == "loss"
        assert c.secondary_measures == ["relative"] and c.margin in (0.01, 0.02)
    for component, control in COMPONENTS.items():  # the full block against the block without ONE component
        assert {variants[c.control] for c in by_name[component]} == {control}
        assert {variants[c.variant] for c in by_name[component]} == {"mini_mobilenet-4x(8,1,6)"}
    assert {(variants[c.variant], variants[c.control]) for c in by_name["ResNet20 bottleneck"]} == {
        ("resnet20-lb[s2b3c2e6]", "resnet20")}
    scopes = {k: sorted(c.scope for c in v) for k, v in by_name.items()}
    counts = ["count:16", "count:256", "count:64"]
    assert scopes["shortcut"] == scopes["linear projection"] == [*counts, "group:depthwise", "network"]
    assert scopes["expansion"] == ["count:16", "count:64", "group:depthwise", "network"]  # t = 1: convs < 256
    assert scopes["depthwise"] == scopes["ResNet20 bottleneck"] == [*counts, "network"]  # no depthwise control
    assert set(spec.answer.reference_contrasts) <= set(by_name) and not spec.answer.pairs
    arms = trained_arms(spec, [a.name for a in spec.architectures])
    assert {a for _, used in planned_contrasts(spec, arms) for a in used} == set(arms)  # every arm is compared
    assert spec.sequential is not None and spec.sequential.max_runs <= len(spec.training.seeds)
    assert len({p.config["trainer"]["callbacks"][0]["class_path"] for p in expand(spec)}) == 1  # one recipe


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["answer"].update(reference_contrasts=["linear projektion"]),
     "answer.reference_contrasts[0]: 'linear projektion' is not a contrast's name (did you mean 'linear projection'?)"),
    (lambda r: r["answer"].update(pairs=[{"variant": "mini-4", "control": "mini-4-dense"}]),
     "answer.reference_contrasts: only without answer.pairs"),
    (lambda r: r.pop("contrasts"), "answer.pairs: empty; name at least one {variant, control} pair (or declare"),
    (lambda r: r["contrasts"][0].update(secondary_measures=["relativ"]), "contrasts[0]: secondary_measures"),
])
def test_a_bad_ablation_answer_is_one_line(change, message):
    import yaml

    from faultlab.sweep import StudySpecError, parse_study

    raw = yaml.safe_load(ABLATION.read_text())
    change(raw)
    with pytest.raises(StudySpecError) as err:
        parse_study(raw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_make_runs_a_sequential_study_until_decided():
    import subprocess

    root = ABLATION.parents[1]
    dry = subprocess.run(["make", "-n", "study-bottleneck_ablation", "study-stuck_at"], cwd=root, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    sweeps = [line for line in dry if " sweep " in line]
    assert sweeps[0].endswith("--until-decided") and "until" not in sweeps[1]  # stuck_at has no sequential: block
