"""Features declared in a spec: one definition, a batch path and an incremental path.

The package exports the pure parts only (the spec, the incremental path, which the partner
gateways run, and the counts shared across partners). The batch path, a partner's own
contribution to the shared counts and the parity checks use pandas: import them from
:mod:`models.features.batch`, :mod:`models.features.contribution` and
:mod:`models.features.parity`.
"""

from models.features.incremental import EntityState, FeatureRow, StreamFeatures, epoch_seconds
from models.features.shared import SharedCounts, entity_bucket
from models.features.spec import FeatureSpec, handbook_spec, load_spec, shared_handbook_spec

__all__ = [
    "EntityState",
    "FeatureRow",
    "FeatureSpec",
    "SharedCounts",
    "StreamFeatures",
    "entity_bucket",
    "epoch_seconds",
    "handbook_spec",
    "load_spec",
    "shared_handbook_spec",
]
