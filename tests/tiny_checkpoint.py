"""A faultlab checkpoint after a few optimizer steps, for the tests of what reads one (campaigns, dry runs)."""

from __future__ import annotations

from pathlib import Path

import lightning as L


def fit_checkpoint(path: Path, model: L.LightningModule, data: L.LightningDataModule, steps: int = 2) -> Path:
    """Fit ``model`` for ``steps`` optimizer steps on ``data`` (no logger, no validation, no progress bar) and save
    its checkpoint at ``path``; the caller seeds before it builds the model, so the weights are the same each time."""
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, data)
    trainer.save_checkpoint(path)
    return path
