"""Monte Carlo fault campaigns over trained models, writing one store row per trial.

Names are imported on first use, so ``faultlab.campaign.spec`` (the campaign configuration) loads
without torch, e.g. for ``faultlab campaign --help``.
"""

from faultlab._lazy import lazy_names

_LAZY = {
    "CampaignResult": "engine", "CellSummary": "scopes", "run_campaign": "engine",
    "EvalResult": "evaluation", "evaluate": "evaluation", "evaluate_stacked": "evaluation",
    "trial_correct": "metrics",
    "CampaignError": "spec", "CampaignSpec": "spec", "campaign_spec": "spec", "RunInfo": "spec",
    "campaign_id": "spec", "validate": "spec",
    "Session": "session", "open_checkpoint": "session", "open_lightning": "session", "open_model": "session",
    "open_network": "session", "IdentityError": "identity",
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
