"""The model and its cryptography: features, training, FHE compilation, keys (synchronous).

Never imports faust, asyncio or ``streams``.
"""

from models.data.handbook import HandbookTransaction, partner_of, read_transactions
from models.errors import DatasetError, FraudStreamError

__all__ = [
    "DatasetError",
    "FraudStreamError",
    "HandbookTransaction",
    "partner_of",
    "read_transactions",
]
