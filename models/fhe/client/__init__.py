"""Partner side only: the secret key, the seed it is made from, encryption and decryption.

Runs inside a partner (its gateway and decryptor), and in the model engineer's measurements,
which play both roles with a throw-away key. The scorer never imports this package (an
import-linter contract, and the privacy test's audit of the scorer's imports).

- :mod:`models.fhe.client.seed`: :class:`KeySeed`, the 128-bit seed a partner's keys are made
  from, the signing key derived from it and the key id.
- :mod:`models.fhe.client.keys`: :class:`PartnerKeys` (one key folder: encrypt, decrypt, export
  the evaluation keys) and :class:`KeyRing` (the current keys and those kept after a rotation).
"""

from models.fhe.client.keys import Decrypted, KeyRing, PartnerKeys, assert_private, secret_files
from models.fhe.client.seed import KeySeed, PublicationSigner

__all__ = [
    "Decrypted",
    "KeyRing",
    "KeySeed",
    "PartnerKeys",
    "PublicationSigner",
    "assert_private",
    "secret_files",
]
