"""The handbook's 15 features: one definition, a batch path and an incremental path.

The package exports the pure parts only (the definition and the incremental path, which the
partner gateways run). The batch path and the parity checks use pandas: import them from
:mod:`models.features.batch` and :mod:`models.features.parity`.
"""

from models.features.definition import FEATURE_NAMES, LABEL_DELAY_DAYS
from models.features.incremental import CardState, TerminalState, epoch_seconds, features_of

__all__ = [
    "FEATURE_NAMES",
    "LABEL_DELAY_DAYS",
    "CardState",
    "TerminalState",
    "epoch_seconds",
    "features_of",
]
