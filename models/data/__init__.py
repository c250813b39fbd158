"""Transaction data: the bundled Fraud Detection Handbook transactions, and a fraud team's own.

Offline data: read by the model engineer's training (:mod:`models.training`) and by the replay
and QA tools, never by the FHE side (:mod:`models.fhe`, an import-linter contract). The raw files
are in ``fdh/`` (source and attribution in its README); :mod:`models.data.handbook` reads them
with the standard library only. :mod:`models.data.sources` reads a fraud team's labelled
transactions (CSV, Parquet, JSON lines) as a feature spec describes them, checking every value.
"""

__all__ = [
    "columns",
    "handbook",
    "json_rows",
    "problem_log",
    "sources",
    "timestamps",
    "transaction_data",
    "values",
]
