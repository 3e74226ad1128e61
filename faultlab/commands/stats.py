"""``faultlab stats``: a study's statistics tables in the terminal and as CSV; or trial planning.

    faultlab stats demo [--store results/demo.sqlite] [--csv results/demo-tables]
    faultlab stats plan --margin 0.01 --confidence 0.99 [--population N] [--pilot-std 0.02 --halfwidth 0.005]
    faultlab stats plan --from demo --train-seconds 40 --halfwidth 0.01   # runs x trials from a pilot study
    faultlab stats plan --from demo --effect 0.04     # runs per arm per contrast: fixed vs sequential seeds
"""

from __future__ import annotations

import math

from jsonargparse.typing import restricted_number_type

from faultlab.names import check_name
from faultlab.parsing import command_parser

from ._guards import add_force_option, atomic_files, check_output_folder, writes_whole_outputs
from ._types import AtLeastOne, OpenUnitInterval, PilotStd, PositiveFloat, PositiveInt, existing_store
from .report import add_study_options, shown_spec, store_of

TwoOrMore = restricted_number_type("TwoOrMore", int, (">=", 2))  # runs per arm: a t test needs 2
HELP = "print a study's statistics tables (and CSVs), or 'stats plan' for trial counts"


def build_parser():
    p = command_parser("faultlab stats", __doc__)
    add_study_options(p)
    p.add_argument("--csv", type=str | None, default=None, help="folder for the CSV tables (default "
                   "results/<study>-tables)")
    p.add_argument("--confidence", type=OpenUnitInterval, default=0.99, help="plan: confidence level in (0, 1)")
    p.add_argument("--population", type=AtLeastOne, default=math.inf,
                   help="plan: number of possible fault maps N >= 1 (default infinite)")
    p.add_argument("--pilot_std", type=PilotStd | None, default=None,
                   help="plan: std of accuracy over a pilot's trials, in (0, 0.5]")
    p.add_argument("--halfwidth", type=PositiveFloat | None, default=None,
                   help="plan: target CI half-width (default --margin)")
    p.add_argument("--from", type=str | None, default=None, metavar="STUDY",
                   help="plan: a pilot study in the store; recommend training runs and trials per run for a "
                        "recipe-level difference from its variance components and measured trial seconds")
    p.add_argument("--train_seconds", type=PositiveFloat | None, default=None,
                   help="plan --from: seconds one training run takes (not stored)")
    p.add_argument("--effect", type=OpenUnitInterval | None, default=None,
                   help="plan --from: the true difference to detect (accuracy, e.g. 0.04 = 4 pp): runs per arm of "
                        "each primary contrast, fixed and sequential, from the study's own variance")
    p.add_argument("--first", type=TwoOrMore, default=3, help="plan --effect: runs per arm at the first look")
    p.add_argument("--step", type=PositiveInt, default=2, help="plan --effect: runs per arm added per look (default 2)")
    add_force_option(p)
    return p


def plan(args) -> None:
    from faultlab.stats import leveugle_sample_size, trials_for_halfwidth

    if args["from"] is not None:
        plan_recipe(args)
        return
    n = leveugle_sample_size(args.population, margin=args.margin, confidence=args.confidence)
    print(f"Leveugle et al. (DATE 2009), p = 0.5, margin e = {args.margin}, confidence {args.confidence:g}: "
          f"n = N / (1 + e^2 (N-1) / (t^2 p (1-p))) = {n} trials per cell")
    if args.pilot_std is not None:
        h = args.halfwidth or args.margin
        try:
            m = trials_for_halfwidth(args.pilot_std, h, confidence=args.confidence)
        except ValueError as err:
            from faultlab import FaultlabError

            raise FaultlabError(f"stats plan: {err}") from None
        print(f"t-based from a pilot: s = {args.pilot_std}, half-width {h}: n = {m} trials per cell")


def plan_recipe(args) -> None:
    """Per (variant, method, fault): the runs x trials plan at the rate that needs the most compute."""
    import pandas as pd

    from faultlab import FaultlabError
    from faultlab.report.inputs import read_study
    from faultlab.stats import run_means, variance_components
    from faultlab.stats.planning import plan_runs_and_trials
    from faultlab.stats.study import analysis_frame
    from faultlab.store import ResultsStore

    if args.train_seconds is None and args.effect is None:
        raise FaultlabError("stats plan --from needs --effect D (runs per contrast, e.g. 0.04) or --train-seconds S "
                            "(runs x trials; the time one training run takes)")
    h = args.halfwidth or args.margin
    pilot = args['from']
    pilot_store = args.store or f"results/{check_name(pilot, '--from')}.sqlite"
    with ResultsStore(existing_store(pilot_store), read_only=True) as store:
        data = read_study(store, pilot)
        spec = store.study_spec(pilot)  # its declared contrasts are the ones to plan
    if args.effect is not None:
        plan_sequential(data, args, spec)
    if args.train_seconds is None:
        return
    af = analysis_frame(data.trials)
    comps = variance_components(run_means(af))
    comps = comps[comps["n_runs"] >= 2]
    if comps.empty:
        raise FaultlabError(f"study {pilot!r} has no cell with >= 2 training runs; "
                            "a pilot needs 2 runs per recipe")
    c_trial = float(af["seconds"].median())
    n_rates = int(af["rate"].nunique())
    rows = []
    for key, g in comps.groupby(["architecture", "method", "fault"], sort=True):
        plans = [plan_runs_and_trials(r.var_run, r.var_map, args.train_seconds, c_trial, h,
                                      confidence=args.confidence, n_rates=n_rates) for r in g.itertuples()]
        worst = max(plans, key=lambda p: p.seconds)
        rows.append({"variant": key[0], "method": key[1], "fault": key[2], **worst.to_row()})
    table = pd.DataFrame(rows)
    print(f"Recipe-level plan: a difference between two recipes with a {args.confidence:g} CI half-width <= {h}, "
          f"training runs as replicates; cost {args.train_seconds:g} s per training run, {c_trial:.3g} s per trial "
          f"(median stored), {n_rates} rates. T* = sqrt(c_run var_map / (c_trial n_rates var_run)); runs per arm "
          "from the t interval of 2 (var_run + var_map / T) / R.")
    with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))


def plan_sequential(data, args, spec: dict | None = None) -> None:
    """Per primary contrast (the stored spec's declared ones, else the defaults): runs per arm of the fixed and the
    sequential design, from the study's own spread."""
    import pandas as pd

    from faultlab import FaultlabError
    from faultlab.stats import contrast_table
    from faultlab.stats.planning import plan_contrasts
    from faultlab.stats.sequential_plan import plan_lines
    from faultlab.stats.study import prepare_frame, spec_contrasts

    frame = prepare_frame(data.trials)
    contrasts = spec_contrasts(spec, frame, margin=args.margin, baseline=args.baseline)
    table = contrast_table(frame, contrasts, baseline=args.baseline, margin=args.margin, plan=False)
    rows = plan_contrasts(table, args.effect, first=args.first, step=args.step)
    if not rows:
        raise FaultlabError(f"study {args['from']!r} has no tested primary contrast (>= 2 runs per arm); a pilot "
                            "needs 2 runs per arm")
    shown = pd.DataFrame(rows)[["contrast", "scope", "n_runs", "sd", "df", "alpha", "fixed", "fixed_low", "fixed_high",
                                "seq_max", "seq_expected", "seq_expected_null", "seq_power"]]
    print(f"Runs per arm for 80 % power against {args.effect * 100:g} pp, each contrast at alpha/m (m = "
          f"{len(rows)}): fixed design (t test), its 80 % range from the sd's chi-square interval (a plan from "
          f"few runs is uncertain), and the sequential design (looks at {args.first}, {args.first + args.step}, ...; "
          "O'Brien-Fleming spending, non-binding futility): maximum, expected runs at the effect and at no effect.")
    with pd.option_context("display.width", 120, "display.float_format", "{:.3g}".format):
        print(shown.to_string(index=False))
    print("\n".join(plan_lines(rows, first=args.first, step=args.step)))


@writes_whole_outputs
def run(args) -> None:
    if args.study == "plan":
        plan(args)
        return
    from faultlab.report.inputs import read_study
    from faultlab.report.terminal import stats_text
    from faultlab.stats.study import export_tables, spec_contrasts, study_tables
    from faultlab.store import ResultsStore

    store_path = store_of(args)
    check_name(args.study, "study name")  # it names the default --csv folder
    folder = check_output_folder(args.csv or f"results/{args.study}-tables", "table", inputs={"store": store_path},
                                 force=args.force)
    with ResultsStore(store_path, read_only=True) as store:
        spec = shown_spec(args, store, quiet=True)  # the question the sweep stored (or --spec FILE)
        data = read_study(store, args.study)
    tables = study_tables(data.trials, data.runs, masks=data.masks, layer_order=data.layer_order,
                          contrasts=spec_contrasts(spec, data.trials, margin=args.margin, baseline=args.baseline),
                          baseline_method=args.baseline, margin=args.margin, fraction=args.fraction,
                          n_resamples=args.resamples, seed=args.seed, looks=data.looks)
    with atomic_files(folder) as tmp:
        paths = export_tables(tables, tmp)
    print(stats_text(tables, study=args.study, question=(spec or {}).get("question"), store=store_path,
                     folder=folder, written=[folder / p.name for p in paths], fraction=args.fraction))

