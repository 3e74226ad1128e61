"""Studies: a YAML grid of architectures × training methods × seeds, trained and campaigned into the store."""

from .execute import RunOutcome, checkpoint_path, execute
from .grid import RunPlan, expand
from .runner import StudySummary, dry_run, run_study
from .spec import StudySpec, StudySpecError, load_study, parse_study

__all__ = [
    "RunOutcome", "RunPlan", "StudySpec", "StudySpecError", "StudySummary", "checkpoint_path", "dry_run", "execute",
    "expand", "load_study", "parse_study", "run_study",
]
