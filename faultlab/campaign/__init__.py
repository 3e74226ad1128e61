"""Monte Carlo fault campaigns over trained models, writing one store row per trial.

Names are imported on first use, so ``faultlab.campaign.spec`` (the campaign configuration) loads
without torch, e.g. for ``faultlab campaign --help``.
"""

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


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'faultlab.campaign' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
