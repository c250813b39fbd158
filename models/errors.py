"""The project's root error and the model side's errors.

The root lives here, in the lower layer, because ``models/`` may not import ``streams/``;
``streams.core.errors`` re-exports it and adds the runtime's own subclasses.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ArtifactVersionError",
    "CiphertextError",
    "DatasetError",
    "EventTimeError",
    "FeatureParityError",
    "FeatureVectorError",
    "FraudStreamError",
    "InferenceError",
    "KeyMaterialError",
    "KeyMismatchError",
    "ModelMismatchError",
    "SpecError",
]


class FraudStreamError(Exception):
    """Root of every error raised by this project."""


class DatasetError(FraudStreamError):
    """Transaction data is missing, unreadable or malformed."""


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


class SpecError(FraudStreamError):
    """A feature spec is unreadable or inconsistent."""
