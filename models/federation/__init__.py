"""Federated training and secure aggregation: the model is trained and the cross-partner terminal
signal is shared without any partner's row leaving it.

``wire`` (signed, versioned messages), ``secure_sum`` (pairwise-masked sums), ``histograms``
(binning and threshold from summed histograms), ``trees`` (XGBoost trees assembled and imported
into Concrete-ML), ``trainer`` (inside a partner), ``coordinator`` (the service). See
docs/federation.md.
"""

from models.federation.secure_sum import Ledger, MaskingKey, Roster
from models.federation.wire import Envelope, MemberKey, Members

__all__ = ["Envelope", "Ledger", "MaskingKey", "MemberKey", "Members", "Roster"]
