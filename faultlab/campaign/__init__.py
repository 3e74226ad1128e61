"""Monte Carlo fault campaigns over trained models, writing one store row per trial."""

from .engine import CampaignResult, CellSummary, run_campaign
from .evaluate import EvalResult, evaluate, evaluate_stacked
from .metrics import PerSampleHits, TrialAccuracy, trial_accuracy, trial_correct
from .progress import ci_halfwidth
from .spec import CampaignError, CampaignSpec, RunInfo, campaign_id, validate

__all__ = [
    "CampaignError", "CampaignResult", "CampaignSpec", "CellSummary", "EvalResult", "PerSampleHits", "RunInfo",
    "TrialAccuracy", "campaign_id", "ci_halfwidth", "evaluate", "evaluate_stacked", "run_campaign",
    "trial_accuracy", "trial_correct", "validate",
]
