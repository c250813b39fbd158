"""The session's tiny FHE model, as the fixtures hand it to tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.training.fitting import FittedModel

__all__ = ["TinyModel"]


@dataclass(frozen=True)
class TinyModel:
    """A fitted tiny model and the directory of its saved artifacts."""

    fitted: FittedModel
    directory: Path
