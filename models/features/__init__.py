"""The handbook's 15 features: one definition, a batch path and an incremental path."""

from models.features.batch import compute_features
from models.features.definition import FEATURE_NAMES, LABEL_DELAY_DAYS
from models.features.incremental import CardState, TerminalState, epoch_seconds, features_of
from models.features.parity import check_against_golden, replay_incremental

__all__ = [
    "FEATURE_NAMES",
    "LABEL_DELAY_DAYS",
    "CardState",
    "TerminalState",
    "check_against_golden",
    "compute_features",
    "epoch_seconds",
    "features_of",
    "replay_incremental",
]
