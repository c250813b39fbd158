"""The project's root error and the model side's errors.

The root lives here, in the lower layer, because ``models/`` may not import ``streams/``;
``streams.errors`` re-exports it and adds the runtime's own subclasses.
"""

from __future__ import annotations

__all__ = ["DatasetError", "FeatureParityError", "FraudStreamError"]


class FraudStreamError(Exception):
    """Root of every error raised by this project."""


class DatasetError(FraudStreamError):
    """Transaction data is missing, unreadable or malformed."""


class FeatureParityError(FraudStreamError):
    """Computed features differ from the golden reference."""
