"""The bundled Fraud Detection Handbook transactions and their split between partners.

Offline data: read by the model engineer's training (:mod:`models.training`) and by the replay
and QA tools, never by the FHE side (:mod:`models.fhe`, an import-linter contract). The raw files
are in ``fdh/`` (source and attribution in its README); :mod:`models.data.handbook` reads them
with the standard library only.
"""

__all__: list[str] = []
