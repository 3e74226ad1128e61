"""The typed vocabulary of the statistics tables: verdicts, reasons, designs, endpoints, roles and sequential
decisions are values in their own columns (``str`` enums, so a CSV holds the plain word); sentences are made from
them last (:mod:`faultlab.stats.wording`), and no logic ever reads a sentence."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Verdict", "Reason", "Design", "Endpoint", "Role", "ContrastKind", "Decision", "Measure", "Topic", "DECIDED"]


class Verdict(StrEnum):
    """The answer of one tested row (for arm a against arm b; higher accuracy is better)."""

    BETTER = "better"
    WORSE = "worse"
    EQUIVALENT = "equivalent"
    INCONCLUSIVE = "inconclusive"
    NOT_TESTED = "not tested"  # the column ``reason`` says why


DECIDED = (Verdict.BETTER, Verdict.WORSE, Verdict.EQUIVALENT)


class Reason(StrEnum):
    """Why a row was not tested (or, for ``TESTED``, that it was)."""

    TESTED = ""
    TOO_FEW_RUNS = "too few runs"  # < 2 runs (or seed pairs) in an arm
    AT_CHANCE = "at chance"  # both arms within the chance band: uninformative, never "equivalent"
    NO_SPREAD = "no spread"  # every run gives the same value: no standard error
    ARM_ABSENT = "arm absent"  # an arm has no trials on this fault surface
    EXPLORATORY = "exploratory"  # not part of a declared contrast: an estimate with its interval only
    GATE_CLOSED = "primary not decided"  # a secondary row whose primary contrast was not decided


class Design(StrEnum):
    """How the runs of the two arms were compared."""

    PAIRED = "paired by seed"  # one-sample t on the per-seed differences
    POOLED = "unpaired, pooled t"  # Student's t with the pooled variance
    WELCH = "unpaired, Welch"  # Welch's t (sds incompatible and arms unbalanced)
    NONE = "none"  # not computed


class Endpoint(StrEnum):
    """One number per training run."""

    AUC = "AUC"  # trapezoid mean accuracy over the rate span the compared arms share
    RATE = "rate"  # mean accuracy at one rate (column ``rate``)
    COUNT = "equal count"  # mean accuracy over layers and trials at K faulty weights per layer


class Measure(StrEnum):
    ACCURACY = "accuracy"
    LOSS = "loss"  # accuracy - the run's own clean accuracy
    RELATIVE = "relative"  # accuracy / the run's own clean accuracy - 1: the fraction of its clean accuracy lost


class Role(StrEnum):
    """What a row may claim."""

    PRIMARY = "primary"  # a declared contrast: one member of the primary family; page-1 verdicts
    SECONDARY = "secondary"  # another endpoint of a primary contrast: tested only when it was decided
    EXPLORATORY = "exploratory"  # everything else: estimate and interval (level-(a) rows: own Holm over rates)


class ContrastKind(StrEnum):
    METHOD = "method"  # a training method vs a baseline method, on one or more architectures (paired by seed)
    ARCHITECTURE = "architecture"  # an architecture vs another, trained with one method (unpaired)
    FACTOR = "factor"  # a component's effect over (variant, control) pairs, one pooled estimate (unpaired)


class Decision(StrEnum):
    """A group-sequential look's decision for one contrast."""

    CONTINUE = "continue"
    BETTER = "better"  # efficacy boundary crossed upward
    WORSE = "worse"  # efficacy boundary crossed downward
    EQUIVALENT = "equivalent"  # both one-sided equivalence boundaries crossed
    FUTILITY = "futility"  # below the non-binding futility bound: stop training this contrast's arms
    INCONCLUSIVE = "inconclusive"  # the maximum runs reached without crossing a bound
    NOT_TESTED = "not tested"  # too few runs, no spread or an arm absent (column ``reason``)


class Topic(StrEnum):
    """What a ``missing`` row is about (the report picks its reasons by topic, never by text)."""

    CURVES = "curves"
    AUC = "AUC and critical rate"
    METHODS = "method comparison"
    ARCHITECTURES = "architecture comparison"
    CONTRASTS = "contrasts"
    RELIABILITY = "per-sample reliability"
    CHANCE = "chance level"
    WHOLE_MODEL = "whole-model trials"
