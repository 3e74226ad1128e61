"""The answer to a paired-architecture question (a study spec's ``answer:`` block): does each variant (e.g. a
network with linear bottlenecks) tolerate faults better than its control of matched size, on every fault surface
the study ran, and does a stated reference conclusion ("no significant advantage") hold?

Recipe level only: each training run is one value per surface, its **accuracy loss** relative to its own clean
accuracy, so a difference in clean accuracy is not read as tolerance:
- rate surfaces (whole network, or one layer group such as the depthwise convs): the trapezoid mean over the
  surface's rates of (accuracy - clean accuracy);
- equal-count surfaces (K faulty weights in one layer at a time): the mean over layers and trials of
  (accuracy - clean accuracy).
Variant vs control: Welch's t on run values (architectures share no initialisation), its t interval, and a TOST
at ±margin; estimate > 0 means the variant loses less accuracy. One Holm family over the answer's tests
(difference and TOST of every testable pair, all surfaces and methods).

    effects = bottleneck_effects(trials, [("mini-4", "plain-4")], margin=0.01)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .compare import holm
from .recipe import compare_recipes, runs_needed

__all__ = ["surface_of", "run_losses", "bottleneck_effects", "reference_outcome", "surface_outcomes"]

ALL_LAYERS = "*"
GROUP_PREFIX = "group:"


def surface_of(layer: str, equal_count: int) -> str:
    """A readable fault-surface label of a trial row."""
    if equal_count:
        return f"K = {int(equal_count)} weights per layer, one layer at a time"
    if layer == ALL_LAYERS:
        return "every conv and linear layer, equal rate"
    if layer.startswith(GROUP_PREFIX):
        return f"{layer[len(GROUP_PREFIX):]} layers only"
    return f"layer {layer} only"


def _labelled(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials with ``surface`` (per fault template and surface) and ``loss`` = accuracy - clean accuracy."""
    df = trials.copy()
    counts = df["equal_count"].fillna(0).astype(int)
    per_layer = (counts > 0) | ~(df["layer"].eq(ALL_LAYERS) | df["layer"].str.startswith(GROUP_PREFIX))
    keep = (counts > 0) | ~per_layer  # per-layer rate rows (sensitivity) are not a surface of this answer
    df, counts = df[keep], counts[keep]
    labels = [surface_of(lay, k) for lay, k in zip(df["layer"], counts)]
    df = df.assign(surface=[f"{s} ({f})" for s, f in zip(labels, df["fault"])], counted=(counts > 0).to_numpy())
    return df.assign(loss=df["accuracy"].astype(float) - df["clean_accuracy"].astype(float))


def run_losses(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (surface, variant, method, run): ``value`` = the run's mean accuracy loss on that surface (see
    the module doc), ``n_trials``; rate surfaces use the rates every run of the surface has."""
    df = _labelled(trials)
    rows = []
    for surface, g in df.groupby("surface", sort=True):
        counted = bool(g["counted"].iloc[0])
        if counted:
            per_run = g.groupby(["variant", "method", "run_id", "train_seed"], dropna=False)
            agg = per_run.agg(value=("loss", "mean"), n_trials=("loss", "size")).reset_index()
            rows.append(agg.assign(surface=surface, rates=""))
            continue
        m = g.groupby(["variant", "method", "run_id", "train_seed", "rate"], dropna=False)["loss"].mean()
        mat = m.unstack("rate").dropna(axis=1, how="any")
        rates = np.array(sorted(mat.columns), dtype=float)
        if rates.size == 0:
            continue
        vals = mat[rates].to_numpy(float)
        value = vals[:, 0] if rates.size == 1 else np.trapezoid(vals, rates, axis=1) / (rates[-1] - rates[0])
        n = g.groupby(["variant", "method", "run_id", "train_seed"], dropna=False).size().reindex(mat.index)
        agg = mat.index.to_frame(index=False).assign(value=value, n_trials=n.to_numpy(), surface=surface,
                                                      rates=f"{rates[0]:g}–{rates[-1]:g}")
        rows.append(agg)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _verdict(row: pd.Series, alpha: float) -> str:
    if not row["testable"]:
        return row["status"]
    if row["pvalue_holm"] < alpha:
        return "better" if row["estimate"] > 0 else "worse"
    if row["tost_pvalue_holm"] < alpha:
        return "equivalent"
    return "inconclusive"


def bottleneck_effects(trials: pd.DataFrame, pairs: Sequence[tuple[str, str]], *, margin: float = 0.01,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Per (surface, method, pair): variant - control in run-mean accuracy loss (Welch, t interval, TOST at
    ±``margin``), Holm over all the answer's tests, and a verdict: better / worse (Holm p < α), equivalent (Holm
    TOST p < α), inconclusive, or why it was not tested (an arm absent on the surface, fewer than 2 runs)."""
    runs = run_losses(trials)
    rows = []
    if runs.empty:
        return pd.DataFrame()
    for (surface, method), g in runs.groupby(["surface", "method"], sort=True):
        for variant, control in pairs:
            a = g.loc[g["variant"] == variant].set_index("run_id")["value"]
            b = g.loc[g["variant"] == control].set_index("run_id")["value"]
            if a.empty and b.empty:
                continue
            head = {"surface": surface, "method": method, "variant": variant, "control": control,
                    "rates": g["rates"].iloc[0], "loss_variant": a.mean(), "loss_control": b.mean()}
            absent = [name for name, s in ((variant, a), (control, b)) if s.empty]
            if absent:
                rows.append({**head, "n_a": len(a), "n_b": len(b), "testable": False, "absent": absent[0],
                             "status": f"not comparable: {absent[0]} has no trials on this surface"})
                continue
            res = compare_recipes(a, b, margin=margin, level=1 - alpha, paired=False)
            status = "" if res.testable else f"inconclusive ({res.n_a}+{res.n_b} runs)"
            rows.append({**head, **res.to_row(), "testable": res.testable, "status": status})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    ok = out["testable"].to_numpy(bool)
    p = np.where(ok, out.get("pvalue", np.nan), np.nan)
    tp = np.where(ok, out.get("tost_pvalue", np.nan), np.nan)
    adj = holm(np.concatenate([p, tp]))
    out["pvalue_holm"], out["tost_pvalue_holm"] = adj[: len(out)], adj[len(out):]
    m = int(np.sum(~np.isnan(adj)))
    out["family"] = f"Holm over the answer's {m} tests (difference and TOST)"
    out["verdict"] = [_verdict(r, alpha) for _, r in out.iterrows()]
    # what would decide an open pair: runs per arm for a TOST at ±margin with 80 % power when the true effect
    # is 0, at the run-level sd seen here, and α/m (Holm's first step: a bound for the whole family)
    sd = out["sd"] if "sd" in out else pd.Series(np.nan, index=out.index)
    out["runs_for_equivalence"] = [
        runs_needed(float(v), margin, paired=False, alpha=alpha / max(m, 1), equivalence=True) if t else math.nan
        for v, t in zip(sd, ok)]
    return out


def reference_outcome(verdicts: Sequence[str]) -> str:
    """Whether "no significant advantage" holds on one surface, from its pairs' verdicts: ``fails`` when a variant
    is better; ``holds`` when every tested pair is equivalent or worse; else ``not shown`` (inconclusive pairs:
    absence of evidence is not evidence of no advantage); ``not testable`` when no pair was tested."""
    tested = [v for v in verdicts if v in ("better", "worse", "equivalent", "inconclusive")]
    if not tested:
        return "not testable"
    if "better" in tested:
        return "fails"
    if all(v in ("equivalent", "worse") for v in tested):
        return "holds"
    return "not shown"


def _by_surface(effects: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Effects grouped by surface: the whole network first, then equal-count surfaces, then layer groups."""
    def order(surface: str) -> tuple[int, str]:
        return (0 if surface.startswith("every") else 1 if surface.startswith("K =") else 2, surface)

    groups = dict(list(effects.groupby("surface", sort=False)))
    return [(s, groups[s]) for s in sorted(groups, key=order)]


def surface_outcomes(effects: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The reference conclusion per surface (over its methods and pairs) and overall: ``holds``/``fails``/``not
    shown`` when every testable surface agrees, else ``depends on the fault surface``."""
    if effects.empty:
        return pd.DataFrame(columns=["surface", "outcome"]), "not testable"
    rows = [{"surface": s, "outcome": reference_outcome(list(g["verdict"]))} for s, g in _by_surface(effects)]
    table = pd.DataFrame(rows)
    found = set(table["outcome"]) - {"not testable"}
    overall = found.pop() if len(found) == 1 else ("depends on the fault surface" if found else "not testable")
    return table, overall


def trend_table(trials: pd.DataFrame, names: Sequence[str], xs: Sequence[float], *, fraction: float = 0.9,
                n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Critical rate (first rate with accuracy < ``fraction`` × clean; interval admitting the grid, t over runs)
    of each architecture of ``names`` at x ``xs``, per method and fault, on the whole-network surface."""
    from .recipe_tables import recipe_curves

    counts = trials["equal_count"].fillna(0).astype(int)
    af = trials[(trials["layer"] == ALL_LAYERS) & (counts == 0) & trials["variant"].isin(list(names))].copy()
    if af.empty:
        return pd.DataFrame()
    af["architecture"] = af["variant"]
    _, summary = recipe_curves(af, fraction, n_resamples=n_resamples, seed=seed)
    if summary.empty:
        return summary
    x = dict(zip(names, xs))
    return summary.assign(x=summary["variant"].map(x)).sort_values(["method", "fault", "x"]).reset_index(drop=True)


def _pp(v: float) -> str:
    return f"{v * 100:+.2f} pp"


def _named(rows: pd.DataFrame) -> str:
    return "; ".join(f"{r['variant']} vs {r['control']} ({r['method']}) {_pp(r['estimate'])} "
                     f"[{r['ci_low'] * 100:+.1f}, {r['ci_high'] * 100:+.1f}]" for _, r in rows.iterrows())


def _says(outcome: str) -> str:
    """An outcome as a predicate: ``fails``, ``holds``, ``depends on …``, ``is not shown (…)``, ``is not testable``."""
    return {"not shown": "is not shown (neither refuted nor shown equivalent)",
            "not testable": "is not testable"}.get(outcome, outcome)


def _why_untested(rows: pd.DataFrame) -> str:
    """``plain-1, plain-2 and resnet20 have no trials here`` (an arm without the surface's layers), and any other
    reason (too few runs) once."""
    absent = rows["absent"] if "absent" in rows else pd.Series(np.nan, index=rows.index)
    names = absent.dropna().unique().tolist()
    said = [f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} no trials on this surface"] if names else []
    return "; ".join(said + sorted(set(rows.loc[absent.isna(), "status"])))


def _surface_sentence(surface: str, g: pd.DataFrame, outcome: str, margin: float) -> str:
    """One sentence per surface: the decided comparisons with effect and CI, how many stay open and what would
    decide them, why a pair is not tested, and whether the reference conclusion holds there."""
    tested = g[g["testable"].astype(bool)]
    if tested.empty:
        return f"{surface}: not testable ({_why_untested(g)})."
    parts = []
    for verdict, words in (("better", "the bottleneck network loses less"), ("worse", "it loses more"),
                           ("equivalent", f"equivalent within ±{margin * 100:g} pp")):
        rows = tested[tested["verdict"] == verdict]
        if len(rows):
            parts.append(f"{words} in {len(rows)} of {len(tested)}: {_named(rows)}")
    open_ = tested[tested["verdict"] == "inconclusive"]
    if len(open_):
        need = open_["runs_for_equivalence"].replace(math.inf, np.nan).dropna()
        lo, hi = int(open_["n_a"].min()), int(open_["n_a"].max())
        runs = f"{lo}" if lo == hi else f"{lo}-{hi}"
        decide = (f"; a ±{margin * 100:g} pp equivalence verdict would need a median of {int(need.median())} runs "
                  "per arm at the spread seen" if len(need) else "")
        parts.append(f"inconclusive in {len(open_)} of {len(tested)} ({runs} runs per arm{decide})")
    skipped = g[~g["testable"].astype(bool)]
    if len(skipped):
        parts.append(f"{len(skipped)} not tested ({_why_untested(skipped)})")
    return f"{surface}: " + "; ".join(parts) + f". Here the reference's conclusion {_says(outcome)}."


def answer_paragraphs(effects: pd.DataFrame, outcomes: pd.DataFrame, overall: str, *, reference: str | None,
                      margin: float) -> list[str]:
    """The answer: first the overall outcome, then one sentence per fault surface (decided comparisons with
    effect and CI, open ones with what would decide them, and whether the reference conclusion holds there)."""
    if effects.empty:
        return ["No pair of the answer has trials: run the study first."]
    what = f'the reference\'s conclusion ("{reference}")' if reference else "\"no significant advantage\""
    out = [f"Overall, {what} {_says(overall)}. Effect = variant - control in run-mean accuracy loss, > 0: the "
           "bottleneck network loses less; 95 % CI over training runs; Holm over the answer's tests."]
    for surface, g in _by_surface(effects):
        outcome = outcomes.loc[outcomes["surface"] == surface, "outcome"].iloc[0]
        out.append(_surface_sentence(surface, g, outcome, margin))
    return out


def answer_tables(trials: pd.DataFrame, answer: dict, *, fraction: float = 0.9, alpha: float = 0.05,
                  n_resamples: int = 1000, seed: int = 0) -> dict[str, object]:
    """Everything the answer page shows, from the trials and the spec's ``answer`` mapping (pairs, margin,
    trend, trend_x, trend_label, reference): effects, outcomes, overall, trend, paragraphs."""
    margin = float(answer.get("margin", 0.01))
    pairs = [(p["variant"], p["control"]) for p in answer.get("pairs", [])]
    effects = bottleneck_effects(trials, pairs, margin=margin, alpha=alpha)
    outcomes, overall = surface_outcomes(effects)
    trend = trend_table(trials, answer.get("trend", []), answer.get("trend_x", []), fraction=fraction,
                        n_resamples=n_resamples, seed=seed)
    text = answer_paragraphs(effects, outcomes, overall, reference=answer.get("reference"), margin=margin)
    return {"effects": effects, "outcomes": outcomes, "overall": overall, "trend": trend, "paragraphs": text,
            "margin": margin, "trend_label": answer.get("trend_label", "x")}
