"""Features declared in a spec: one definition, a batch path and an incremental path.

The package exports the pure parts only (the spec and the incremental path, which the partner
gateways run). The batch path and the parity checks use pandas: import them from
:mod:`models.features.batch` and :mod:`models.features.parity`.
"""

from models.features.incremental import EntityState, StreamFeatures, epoch_seconds
from models.features.spec import FeatureSpec, handbook_spec, load_spec

__all__ = [
    "EntityState",
    "FeatureSpec",
    "StreamFeatures",
    "epoch_seconds",
    "handbook_spec",
    "load_spec",
]
