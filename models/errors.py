"""The project's root error and the model side's errors.

The root lives here, in the lower layer, because ``models/`` may not import ``streams/``;
``streams.core.errors`` re-exports it and adds the runtime's own subclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ArtifactError",
    "ArtifactVersionError",
    "CiphertextError",
    "DataError",
    "DataProblem",
    "DatasetError",
    "EventTimeError",
    "FeatureParityError",
    "FeatureVectorError",
    "FederationError",
    "FraudStreamError",
    "InferenceError",
    "KeyMaterialError",
    "KeyMismatchError",
    "ModelMismatchError",
    "SharedCountsError",
    "SpecError",
]


class FraudStreamError(Exception):
    """Root of every error raised by this project."""


class DatasetError(FraudStreamError):
    """Transaction data is missing, unreadable or malformed."""


@dataclass(frozen=True)
class DataProblem:
    """One thing wrong with a data file, and where.

    ``row`` is the 1-based data row (CSV: the first row after the header is 1; JSON lines and
    recordings: the line number; Parquet: the row index + 1), ``None`` for the whole file;
    ``column`` is the file's column (or JSON key), ``None`` for the whole row or file.
    """

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        if self.column is not None:
            where.append(f"column {self.column}")
        place = f" {', '.join(where)}:" if where else ""
        return f"{self.file}:{place} {self.message}"


class DataError(DatasetError):
    """Transaction or label files have problems: every one found (up to a cap) is in
    :attr:`problems`, :attr:`total` counts them all."""

    #: How many problems the message lists; the rest are counted.
    SHOWN = 20

    def __init__(self, problems: Sequence[DataProblem], total: int | None = None) -> None:
        self.problems = tuple(problems)
        self.total = max(total if total is not None else 0, len(self.problems))
        lines = [str(problem) for problem in self.problems[: self.SHOWN]]
        hidden = self.total - len(lines)
        if hidden:
            lines.append(f"... and {hidden:,} more problem{'s' if hidden != 1 else ''}")
        super().__init__("\n".join(lines))


class EventTimeError(FraudStreamError):
    """An event is too far behind its card's or terminal's newest events: the state no longer
    holds the history its windows need (it would get wrong features, or none)."""


class FeatureParityError(FraudStreamError):
    """Computed features differ from the golden reference."""


class FeatureVectorError(FraudStreamError):
    """A feature vector has the wrong shape or values for the model."""


class ArtifactError(FraudStreamError):
    """A model artifact is missing, corrupt, or was made by another library version."""


class ArtifactVersionError(ArtifactError):
    """The artifact was made with other concrete-python / concrete-ml / Python versions."""


class KeyMaterialError(FraudStreamError):
    """Keys are missing, unreadable, or do not belong to this model or this partner."""


class KeyMismatchError(KeyMaterialError):
    """A ciphertext was made under another key (another partner's, or a rotated one)."""


class CiphertextError(FraudStreamError):
    """A ciphertext is truncated, tampered with, or not a ciphertext of this model."""


class ModelMismatchError(CiphertextError):
    """A ciphertext was made for another model version."""


class InferenceError(FraudStreamError):
    """The FHE evaluation itself failed."""


class SharedCountsError(FraudStreamError):
    """Counts shared across partners do not fit the spec (entity, bucket count, time bucket) or
    are not counts (negative, more frauds than transactions)."""


class SpecError(FraudStreamError):
    """A feature spec is unreadable or inconsistent."""


class FederationError(FraudStreamError):
    """A federation message is forged, malformed or out of protocol, or a round cannot go on."""
