"""The answer of an ablation in words: whether a reference's conclusion ("no significant advantage") holds on each
judged contrast and surface, which components carry the tolerance, and each component's effect per surface. Made
from the typed columns of ``answer.declared_effects`` (verdict, reason, scope), never read back."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .vocabulary import DECIDED, Reason, Verdict
from .wording import REASON_WORDS, fmt_ci_pp, fmt_pp, is_num, join_words, short_surface


def _effect_words(r: pd.Series) -> str:
    """``whole network: better +12.3 pp [+8.1, +16.5], relative to clean +13.0 % (better)``; the relative loss's
    verdict only where its gate opened (its contrast decided)."""
    head = f"{short_surface(r['scope'])}: "
    if r["verdict"] == Verdict.NOT_TESTED:
        return head + f"not tested ({REASON_WORDS.get(Reason(r['reason']), str(r['reason']))})"
    rel = ""
    if is_num(r.get("rel_estimate")):
        rv = Verdict(r["rel_verdict"])
        rel = f", relative to clean {r['rel_estimate'] * 100:+.1f} %" + (f" ({rv.value})" if rv in DECIDED or
                                                                          rv == Verdict.INCONCLUSIVE else "")
    return f"{head}{r['verdict']} {fmt_pp(r['estimate'])} {fmt_ci_pp(r['low'], r['high'])}{rel}"


def _runs_of(g: pd.DataFrame) -> str:
    """``5+5 runs`` when every surface used the same, else the range of each side."""
    tested = g[g["verdict"] != Verdict.NOT_TESTED]
    if tested.empty:
        return ""
    a, b = tested["n_a"].astype(int), tested["n_b"].astype(int)
    side = [f"{x.min()}" if x.min() == x.max() else f"{x.min()}-{x.max()}" for x in (a, b)]
    return f" ({side[0]}+{side[1]} runs)"


def _carried(effects: pd.DataFrame) -> str:
    """Which components make the block lose less, more, the same, or are open, by surface."""
    parts = []
    for verdict, words in ((Verdict.BETTER, "the block loses less with"), (Verdict.WORSE, "it loses more with"),
                           (Verdict.EQUIVALENT, "within the margin"), (Verdict.INCONCLUSIVE, "not decided")):
        rows = effects[effects["verdict"] == verdict]
        if len(rows):
            named = [f"{c} ({join_words([short_surface(s) for s in g['scope']])})"
                     for c, g in rows.groupby("contrast", sort=False)]
            parts.append(f"{words}: {'; '.join(named)}")
    return ("Per component and surface, " + ". ".join(p[0].upper() + p[1:] if i else p for i, p in enumerate(parts))
            + ".") if parts else ""


def _judged_sentence(name: str, g: pd.DataFrame) -> str:
    """One judged contrast: on which surfaces "no significant advantage" holds (and where it is a disadvantage,
    verdict ``worse``), fails (``better``), or is not shown (inconclusive), e.g. ``linear projection (mini-4 vs
    mini-4-relu6proj): holds on whole network and K = 256 per layer (a disadvantage there: worse); not shown on
    K = 64 per layer (inconclusive)``."""
    def where(rows: pd.DataFrame) -> str:
        return join_words([short_surface(s) for s in rows["scope"]])

    first = g.iloc[0]
    parts = []
    fails = g[g["verdict"] == Verdict.BETTER]
    if len(fails):
        parts.append(f"fails on {where(fails)} (better: the block with it loses less)")
    holds = g[g["verdict"].isin([Verdict.EQUIVALENT, Verdict.WORSE])]
    if len(holds):
        worse = holds[holds["verdict"] == Verdict.WORSE]
        more = (f" (a disadvantage, not only no advantage, on {where(worse)}: the control loses less)"
                if len(worse) else "")
        parts.append(f"holds on {where(holds)}{more}")
    open_ = g[g["verdict"] == Verdict.INCONCLUSIVE]
    if len(open_):
        parts.append(f"is not shown on {where(open_)} (inconclusive)")
    untested = g[g["verdict"] == Verdict.NOT_TESTED]
    if len(untested):
        parts.append(f"is not testable on {where(untested)}")
    return f"{name} ({first['variant']} vs {first['control']}): " + "; ".join(parts)


def _reference_paragraph(effects: pd.DataFrame, reference: str | None, judged: Sequence[str]) -> str:
    """Whether the reference's conclusion holds, per judged contrast and surface, then over them all."""
    what = f'The reference\'s conclusion ("{reference}")' if reference else 'The conclusion "no significant advantage"'
    judged = list(judged) or list(dict.fromkeys(effects["contrast"]))
    rows = effects[effects["contrast"].isin(judged)]
    each = [_judged_sentence(name, g) for name, g in rows.groupby("contrast", sort=False)]
    if not each:
        return ""
    n = {v: int((rows["verdict"] == v).sum()) for v in Verdict}
    held = n[Verdict.EQUIVALENT] + n[Verdict.WORSE]
    close = (f"It fails on {n[Verdict.BETTER]} of {len(rows)} (contrast, surface) pairs." if n[Verdict.BETTER] else
             f"No surface shows an advantage: it holds on {held} of {len(rows)} (contrast, surface) pairs"
             + (f" and is not shown on {n[Verdict.INCONCLUSIVE]}." if n[Verdict.INCONCLUSIVE] else "."))
    return (f"{what}, judged on {join_words(judged)} (each control differs from the full block in that one "
            f"component): " + "; ".join(each) + f". {close}")


def component_paragraphs(effects: pd.DataFrame, *, reference: str | None, judged: Sequence[str]) -> list[str]:
    """The answer of an ablation: whether the reference's conclusion holds on each ``judged`` contrast (per
    surface, then overall), which components carry the tolerance, then one sentence per component with its effect
    on each surface (variant - control in run-mean accuracy loss, > 0: the variant, the block with the component,
    loses less), interval, verdict, the loss relative to clean, and the runs. ``effects`` in surface order."""
    if effects.empty:
        return ["No declared contrast has trials: run the study first."]
    out = [_reference_paragraph(effects, reference, judged), _carried(effects),
           "Effect = variant - control in run-mean accuracy loss (accuracy - the run's own clean accuracy), > 0: the "
           "variant (the block with the component) loses less; 95 % CI over training runs; the declared contrasts "
           "are one family (closed test, difference and TOST counted once); relative to clean: the same effect as a "
           "share of each run's clean accuracy (secondary, tested only where its contrast was decided)."]
    for name, g in effects.groupby("contrast", sort=False):
        first = g.iloc[0]
        pair = (f"{first['variant']} vs {first['control']} ({first['method']})" if first["variant"] is not None
                else f"{first['arms_a']} vs {first['arms_b']}")
        out.append(f"{name}, {pair}{_runs_of(g)}: " + "; ".join(_effect_words(r) for _, r in g.iterrows()) + ".")
    return [p for p in out if p]
